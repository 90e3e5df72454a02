"""EPO Open Patent Services (OPS 3.2): bibliographic data, INPADOC family and legal events, worldwide.

Pure parse functions (:func:`parse_biblio`, :func:`parse_family`, :func:`parse_legal`, :func:`legal_facts`,
:func:`parse_throttling`, :func:`parse_fault`) read what OPS sends; :class:`EpoOps` fetches it:

- OAuth client credentials (``EPO_OPS_KEY`` / ``EPO_OPS_SECRET``), renewed when OPS answers
  ``invalid_access_token``;
- bibliographic data by bulk POST of up to 100 numbers (each document then cached under its own
  single-number request, so later runs and other batch shapes hit the cache);
- ``family/.../legal`` per number: INPADOC family (size, offices) and legal events (grant, lapse, fees,
  transfers; for European patents the EP Register status text of ``STAA``: revocation, withdrawal, pending
  oppositions), mapped by :func:`legal_facts`;
- throttling from ``X-Throttling-Control`` (per-service colour and requests per minute), rejections from
  ``X-Rejection-Reason``, ``Retry-After``.

Facts from ``patent_data_sources.md`` section 2 and the recorded responses in ``tests/fixtures/epo_ops``.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from data_sources._base import HttpSource, Outcome, Progress, env_secret, make_patent, require
from data_sources._errors import (
    AuthError,
    DataSourceError,
    NotFound,
    ParseError,
    QuotaExceeded,
    RateLimited,
    ServiceBlocked,
)
from data_sources._http import parse_retry_after
from data_sources._inpadoc import (
    StatusText,
    add_years,
    conveyance_of,
    group_of,
    status_text_facts,
    us_fees_paid_through,
)
from data_sources.cache import canonical_request
from data_sources.kind_codes import is_grant
from ipvalue.facts.numbers import PatentNumberError, parse_number
from ipvalue.facts.patent import Patent

__all__ = [
    "EpoOps",
    "parse_biblio",
    "parse_family",
    "parse_legal",
    "legal_facts",
    "parse_throttling",
    "parse_fault",
    "service_of",
    "to_docdb",
    "docdb_serial",
    "Throttling",
    "Family",
    "FamilyMember",
    "LegalEvent",
    "ENV_KEY",
    "ENV_SECRET",
    "BULK_LIMIT",
]

ENV_KEY = "EPO_OPS_KEY"
ENV_SECRET = "EPO_OPS_SECRET"
BASE_URL = "https://ops.epo.org/3.2"
#: response headers counting the bytes used of the OPS fair-use quotas
QUOTA_HEADERS = (
    "X-IndividualQuotaPerHour-Used",
    "X-RegisteredQuotaPerWeek-Used",
    "X-RegisteredPayingQuotaPerWeek-Used",
)
#: numbers per bulk biblio POST (OPS accepts up to 100)
BULK_LIMIT = 100

NS = {"e": "http://www.epo.org/exchange", "ops": "http://ops.epo.org"}
_E = "{http://www.epo.org/exchange}"
_OPS = "{http://ops.epo.org}"

# -------------------------------------------------------------------------------------------------
# numbers and services


def to_docdb(patent_id: str) -> tuple[str, str, str]:
    """OPS reference type, format and input for a canonical number.

    Returns
    -------
    tuple
        ``("publication", "docdb", "EP.2400812.A1")`` for a number with a kind code,
        ``("publication", "epodoc", "EP2400812")`` without one, and
        ``("application", "epodoc", "CN201710601862")`` for a CN application number (the epodoc
        application form is an assumption, not checked against OPS).
    """
    p = parse_number(patent_id)
    if p.is_application:
        return "application", "epodoc", f"CN{p.number.split('.')[0]}"
    serial = docdb_serial(p.country, p.number)
    if p.kind:
        return "publication", "docdb", f"{p.country}.{serial}.{p.kind}"
    return "publication", "epodoc", f"{p.country}{serial}"


def docdb_serial(country: str, number: str) -> str:
    """The serial of a publication number as EPO docdb writes it.

    The USPTO prints a pre-grant publication number as the year and a 7-digit serial (US 2014/0102795 A1, ODP
    ``earliestPublicationNumber`` "US20210210819A1"); docdb drops the serial's leading zero: the recorded OPS
    answer for that publication is ``doc-number="2014102795"`` (``tests/fixtures/epo_ops/biblio_US.2014102795.A1.xml``).
    Every other number is its own docdb serial.

    Examples
    --------
    >>> docdb_serial("US", "20140102795")
    '2014102795'
    >>> docdb_serial("US", "2014102795")
    '2014102795'
    """
    if country == "US" and len(number) == 11 and number.isdigit() and number[:2] == "20" and number[4] == "0":
        return number[:4] + number[5:]
    return number


def service_of(path: str) -> str:
    """OPS throttling service of a request path: ``retrieval``, ``inpadoc``, ``search``, ``images``, ``other``."""
    p = "/" + path.lower().lstrip("/")
    if "/published-data/search" in p:
        return "search"
    if "/published-data/images" in p:
        return "images"
    if "/published-data/" in p:
        return "retrieval"
    if "/family/" in p or "/legal/" in p:
        return "inpadoc"
    return "other"


@dataclass(frozen=True)
class Throttling:
    """A parsed ``X-Throttling-Control`` header.

    Attributes
    ----------
    system : str
        ``idle``, ``busy`` or ``overloaded``.
    services : dict
        ``{service: (colour, requests_per_minute)}``; colour is green, yellow, red or black (blocked).
    """

    system: str
    services: dict[str, tuple[str, int]]


_THROTTLE = re.compile(r"([a-z-]+)\s*=\s*([a-z]+)\s*:\s*(\d+)", re.I)


def parse_throttling(header: str | None) -> Throttling | None:
    """Parse ``X-Throttling-Control``, e.g. ``busy (images=green:100, inpadoc=green:45, ...)``."""
    if not header:
        return None
    system = header.split("(", 1)[0].strip().lower() or "unknown"
    services = {m.group(1).lower(): (m.group(2).lower(), int(m.group(3))) for m in _THROTTLE.finditer(header)}
    return Throttling(system, services)


def parse_fault(body: bytes | str) -> tuple[str, str]:
    """Code and message of an OPS ``<fault>`` or ``<error>`` body (empty strings when absent)."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return "", ""
    code = root.findtext(f"{_OPS}code") or root.findtext("code") or ""
    msg = root.findtext(f"{_OPS}message") or root.findtext("message") or ""
    return code.strip(), msg.strip()


# -------------------------------------------------------------------------------------------------
# bibliographic data


def _date(text: str | None) -> dt.date | None:
    if not text:
        return None
    t = text.strip().replace("-", "")
    if len(t) != 8 or not t.isdigit():
        return None
    try:
        return dt.date(int(t[:4]), int(t[4:6]), int(t[6:]))
    except ValueError:
        return None


def _xml(body: bytes | str, what: str) -> ET.Element:
    try:
        return ET.fromstring(body)
    except ET.ParseError as exc:
        raise ParseError(f"{what}: malformed XML ({exc})") from exc


_IPC = re.compile(r"\s*([A-H]\d\d[A-Z])\s*(\d+)\s*/\s*(\d+)")
_COUNTRY_SUFFIX = re.compile(r"\s*\[[A-Z]{2}\]\s*$")


def _clean_name(name: str) -> str:
    name = " ".join(name.split())
    return _COUNTRY_SUFFIX.sub("", name).strip().rstrip(",").strip()


def _unique(items: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for it in items:
        if it and it not in seen:
            seen[it] = None
    return list(seen)


def _biblio_fields(doc: ET.Element) -> dict[str, Any]:
    country, number, kind = doc.get("country", ""), doc.get("doc-number", ""), doc.get("kind", "")
    bib = doc.find("e:bibliographic-data", NS)
    if bib is None:
        raise ParseError(f"{country}{number}{kind}: exchange-document without bibliographic-data")
    pub = bib.find("e:publication-reference/e:document-id[@document-id-type='docdb']", NS)
    titles = {
        t.get("lang", ""): " ".join((t.text or "").split()) for t in bib.findall("e:invention-title", NS)
    }
    title = titles.get("en") or next(iter(titles.values()), None)
    app = bib.find("e:application-reference", NS)
    filing = None
    app_number = None
    if app is not None:
        for d in app.findall("e:document-id", NS):
            filing = filing or _date(d.findtext("e:date", namespaces=NS))
            if d.get("document-id-type") == "epodoc":
                app_number = (d.findtext("e:doc-number", namespaces=NS) or "").strip() or app_number
    prio = [
        _date(d.findtext("e:date", namespaces=NS))
        for d in bib.findall("e:priority-claims/e:priority-claim/e:document-id", NS)
    ]
    prio = [p for p in prio if p]
    owners = _dedupe_names(_applicant_list(bib))
    # older US applications list the inventors as applicants: an inventor is never the owner when another
    # applicant (an assignee) is named
    inventor_keys = {
        _name_key(_clean_name(i.findtext("e:inventor-name/e:name", default="", namespaces=NS)))
        for i in bib.findall("e:parties/e:inventors/e:inventor", NS)
    }
    assignees = [o for o in owners if _name_key(o) not in inventor_keys]
    if assignees:
        owners = assignees
    inventors = [
        _clean_name(i.findtext("e:inventor-name/e:name", default="", namespaces=NS))
        for i in bib.findall("e:parties/e:inventors/e:inventor", NS)
        if i.get("data-format") == "epodoc"
    ]
    cpc = []
    for c in bib.findall("e:patent-classifications/e:patent-classification", NS):
        parts = [
            (c.findtext(f"e:{t}", default="", namespaces=NS) or "").strip()
            for t in ("section", "class", "subclass", "main-group", "subgroup")
        ]
        if all(parts[:3]) and parts[3]:
            cpc.append(f"{parts[0]}{parts[1]}{parts[2]}{parts[3]}/{parts[4] or '00'}")
    ipc = []
    for t in bib.findall("e:classifications-ipcr/e:classification-ipcr/e:text", NS):
        m = _IPC.match(t.text or "")
        if m:
            ipc.append(f"{m.group(1)}{int(m.group(2))}/{m.group(3)}")
    citations = bib.findall("e:references-cited/e:citation", NS)
    backward = sum(1 for c in citations if c.find("e:patcit", NS) is not None)
    pub_date = _date(pub.findtext("e:date", namespaces=NS)) if pub is not None else None
    fields: dict[str, Any] = {
        "title": title,
        "filing_date": filing,
        "priority_date": min(d for d in prio if d is not None) if any(prio) else None,
        "owner": _unique(owners),
        "cpc": _unique(cpc),
        "backward_citations": backward if bib.find("e:references-cited", NS) is not None else None,
        "family_id": doc.get("family-id"),
        "inventors": ";".join(_unique(inventors)) or None,
        "ipc": ";".join(_unique(ipc)) or None,
        "publication_date": pub_date,
        "application_number": app_number,
    }
    grant = is_grant(country, kind, pub_date)
    if grant:
        fields["legal_status"] = "granted"
        fields["grant_date"] = pub_date
    elif grant is False:
        fields["legal_status"] = "pending"
    # grant is None: a kind code the table does not know leaves the status unknown
    if fields["priority_date"] and fields["filing_date"] and fields["priority_date"] > fields["filing_date"]:
        fields["priority_date"] = (
            None  # a later "priority" is the application itself listed twice; keep facts sane
        )
    return fields


def _applicant_list(bib: ET.Element) -> list[str]:
    """The applicants of one document: the office's own (``original``) list, else the ``epodoc`` list.

    The two lists name the same parties twice, not different parties: ``epodoc`` is the EPO's shortened,
    standardised spelling ("SCIENT DRILLING INT" for "SCIENTIFIC DRILLING INTERNATIONAL, INC", "MICROSOFT CORP"
    for "MICROSOFT CORPORATION", "IBM" for "INTERNATIONAL BUSINESS MACHINES CORPORATION", all in the recorded
    answers in ``tests/fixtures/epo_ops``), and it can miss a party the office names (AU 2013290010 A1: epodoc
    PRIMUS GREEN ENERGY INC only, original also BLUESCAPE CLEAN FUELS, LLC). Joining the two made one owner
    look like co-owners. The original list is used whole when it names anyone; the epodoc list only when it
    does not (US 2006/0142694 A1 names its assignee in the original list only; an answer without an original
    list keeps the epodoc one).
    """
    applicants = bib.findall("e:parties/e:applicants/e:applicant", NS)
    for fmt in ("original", "epodoc", None):
        names = [
            _clean_name(a.findtext("e:applicant-name/e:name", default="", namespaces=NS))
            for a in applicants
            if a.get("data-format") == fmt
        ]
        if any(names):
            return names
    return []


def _name_key(name: str) -> str:
    return re.sub(r"[^0-9A-Z\u4e00-\u9fff]", "", name.upper())


def _dedupe_names(names: Iterable[str]) -> list[str]:
    """Names in order, one per party: case, punctuation and spacing do not make two parties."""
    out: list[str] = []
    seen: set[str] = set()
    for name in names:
        key = _name_key(name)
        if name and key not in seen:
            seen.add(key)
            out.append(name)
    return out


def _documents(root: ET.Element) -> list[ET.Element]:
    return list(root.iter(f"{_E}exchange-document"))


def parse_biblio(
    xml: bytes | str, *, source: str = "epo_ops", fetched_at: float | None = None
) -> list[Patent]:
    """Patents from an OPS ``biblio`` answer (single or bulk).

    Parameters
    ----------
    xml : bytes or str
        The body of ``published-data/.../biblio`` (``ops:world-patent-data``).
    source : str, default "epo_ops"
    fetched_at : float, optional
        Unix time of the answer; defaults to now.

    Returns
    -------
    list of ipvalue.Patent
        One per ``exchange-document`` (documents with an ``error`` status are skipped); ``patent_id`` is the
        document's docdb number (``EP2400812A1``). Extra fields: ``inventors``, ``ipc``,
        ``publication_date``, ``application_number``.

    Raises
    ------
    ParseError
        Malformed XML, or a document whose facts do not validate.
    """
    import time

    root = _xml(xml, "biblio")
    out = []
    for doc in _documents(root):
        if doc.get("status") and doc.get("status") != "ok" or doc.find("e:bibliographic-data", NS) is None:
            continue
        pid = f"{doc.get('country', '')}{doc.get('doc-number', '')}{doc.get('kind', '')}"
        out.append(
            make_patent(
                pid,
                _biblio_fields(doc),
                source=source,
                fetched_at=time.time() if fetched_at is None else fetched_at,
            )
        )
    return out


# -------------------------------------------------------------------------------------------------
# family and legal events


@dataclass(frozen=True)
class LegalEvent:
    """One INPADOC legal event.

    Attributes
    ----------
    publication : str
        Canonical number of the family member the event is attached to.
    country : str
        Office that reported it (``L001EP``).
    code : str
        Event code, spaces stripped (``PG25``, ``CF01``...).
    description : str
    influence : str
        ``+``, ``-`` or blank (the event's effect on the right).
    gazette_date, effective_date, payment_date : datetime.date or None
        ``L007EP``, ``L525EP``, ``L518EP``.
    state : str or None
        Country of a national event (``L501EP``).
    fee_year : int or None
        ``L520EP``.
    text : str or None
        Free text (``L510EP``).
    party : str or None
        The party the event names (``L509EP`` "OWNER": the new owner of a US assignment, the secured party of
        a security interest).
    ref_kind : str or None
        Kind code of the document the event refers to (``L506EP``), e.g. ``B1`` on the events of a grant.
    """

    publication: str
    country: str
    code: str
    description: str
    influence: str
    gazette_date: dt.date | None
    effective_date: dt.date | None = None
    payment_date: dt.date | None = None
    state: str | None = None
    fee_year: int | None = None
    text: str | None = None
    party: str | None = None
    ref_kind: str | None = None

    @property
    def date(self) -> dt.date | None:
        """Effective date when given, else the gazette date."""
        return self.effective_date or self.gazette_date


@dataclass(frozen=True)
class FamilyMember:
    """One member of an INPADOC family: publication and application with their dates."""

    publication: str
    country: str
    kind: str
    publication_date: dt.date | None
    application: str
    application_date: dt.date | None
    events: tuple[LegalEvent, ...] = ()


@dataclass(frozen=True)
class Family:
    """An INPADOC extended family as OPS returns it.

    Attributes
    ----------
    family_id : str or None
    size : int
        ``total-result-count`` of the family answer.
    members : list of FamilyMember
    """

    family_id: str | None
    size: int
    members: list[FamilyMember] = field(default_factory=list)

    @property
    def jurisdictions(self) -> list[str]:
        """Offices of the members, sorted."""
        return sorted({m.country for m in self.members})


def _docdb_id(el: ET.Element | None) -> tuple[str, str, str, dt.date | None]:
    if el is None:
        return "", "", "", None
    return (
        (el.findtext("e:country", default="", namespaces=NS) or "").strip(),
        (el.findtext("e:doc-number", default="", namespaces=NS) or "").strip(),
        (el.findtext("e:kind", default="", namespaces=NS) or "").strip(),
        _date(el.findtext("e:date", namespaces=NS)),
    )


def _l(ev: ET.Element, tag: str) -> str | None:
    found = ev.find(f".//{_OPS}{tag}")
    if found is None or found.text is None:
        return None
    return found.text.strip() or None


def _event(ev: ET.Element, publication: str) -> LegalEvent:
    fee = _l(ev, "L520EP")
    return LegalEvent(
        publication=publication,
        country=_l(ev, "L001EP") or publication[:2],
        code=(ev.get("code") or "").strip(),
        description=" ".join((ev.get("desc") or "").split()),
        influence=(ev.get("infl") or "").strip(),
        gazette_date=_date(_l(ev, "L007EP")),
        effective_date=_date(_l(ev, "L525EP")),
        payment_date=_date(_l(ev, "L518EP")),
        state=_l(ev, "L501EP"),
        fee_year=int(fee) if fee and fee.isdigit() else None,
        text=_l(ev, "L510EP"),
        party=_l(ev, "L509EP"),
        ref_kind=_l(ev, "L506EP"),
    )


def _members(root: ET.Element) -> tuple[ET.Element | None, list[FamilyMember]]:
    fam = root.find(f".//{_OPS}patent-family")
    members = []
    for m in root.iter(f"{_OPS}family-member"):
        cc, num, kind, pdate = _docdb_id(
            m.find("e:publication-reference/e:document-id[@document-id-type='docdb']", NS)
        )
        acc, anum, akind, adate = _docdb_id(
            m.find("e:application-reference/e:document-id[@document-id-type='docdb']", NS)
        )
        pub = f"{cc}{num}{kind}"
        events = tuple(_event(ev, pub) for ev in m.findall("ops:legal", NS))
        members.append(FamilyMember(pub, cc, kind, pdate, f"{acc}{anum}{akind}", adate, events))
    return fam, members


def parse_family(xml: bytes | str) -> Family:
    """The INPADOC family of an OPS ``family`` answer (with or without ``/legal`` or ``/biblio``).

    Raises
    ------
    ParseError
        Malformed XML or no ``ops:patent-family`` element.
    """
    root = _xml(xml, "family")
    fam, members = _members(root)
    if fam is None:
        raise ParseError("family: no ops:patent-family element")
    count = fam.get("total-result-count")
    fid = next((m.get("family-id") for m in root.iter(f"{_OPS}family-member") if m.get("family-id")), None)
    return Family(fid, int(count) if count and count.isdigit() else len(members), members)


def parse_legal(xml: bytes | str) -> list[LegalEvent]:
    """Every INPADOC legal event of an OPS ``legal`` or ``family/.../legal`` answer, in document order.

    Raises
    ------
    ParseError
        Malformed XML or no ``ops:patent-family`` element.
    """
    root = _xml(xml, "legal")
    fam, members = _members(root)
    if fam is None:
        raise ParseError("legal: no ops:patent-family element")
    return [ev for m in members for ev in m.events]


_US_ENTITY = re.compile(r"ENTITY STATUS OF PATENT OWNER:\s*(LARGE|SMALL|MICRO)\b", re.IGNORECASE)


def _register_status(
    events: Sequence[LegalEvent], table: Sequence[StatusText] | None
) -> tuple[LegalEvent, StatusText] | None:
    """The latest ``STAA`` event (by date) whose status text states a fact, with the row it matched."""
    found = None
    for e in events:  # sorted by date; a later one on the same date wins
        if e.code.strip().upper() != "STAA" or e.country != "EP":
            continue
        row = status_text_facts(e.text, tuple(table) if table is not None else None)
        if row is not None and row.decides:
            if found is None or (e.date or dt.date.min) >= (found[0].date or dt.date.min):
                found = (e, row)
    return found


def encumbrances(events: Sequence[LegalEvent], groups: Mapping[LegalEvent, str | None]) -> dict[str, Any]:
    """Pledge and preservation facts from legal events in date order.

    A US assignment recorded as a security interest pledges the patent to the party it names (``L509EP``),
    until a release by that secured party (or, when the release names no open pledgee, every open one); a
    change of name or a correction changes nothing. CN patent-pledge registrations (``PE01``) pledge it,
    changes (``PM01``) keep it pledged, cancellations (``PC01``) release it; a court preservation (``PP01``)
    puts it in litigation until released (``PD01``). A CN licence-contract recordal (``EE01``; a change
    ``EM01`` without an earlier one counts as one) or a US assignment recorded as a licence makes it
    ``licensed`` until every recorded licence is cancelled (``EC01``).

    Returns
    -------
    dict
        ``pledged``, ``pledgee`` (``;`` between several), ``pledge_date`` (of the latest open pledge),
        ``in_litigation`` and ``licensed``, each absent when no event speaks of it.
    """
    open_pledges: dict[str, dt.date | None] = {}
    pledge_seen = preservation = licence_seen = False
    licences = 0
    in_litigation: bool | None = None
    for e in events:
        g = groups.get(e)
        kind = conveyance_of(e.text) if e.code == "AS" else None
        if kind == "security" or g == "pledge" or (g == "pledge_change" and not open_pledges):
            pledge_seen = True
            open_pledges[(e.party or "").strip()] = e.date
        elif kind == "release" or g == "pledge_release":
            pledge_seen = True
            named = [p for p in open_pledges if p and p.upper() in (e.text or "").upper()]
            for p in named or list(open_pledges):
                open_pledges.pop(p, None)
        elif g == "preservation":
            preservation, in_litigation = True, True
        elif g == "preservation_release" and preservation:
            in_litigation = False
        elif g == "licence" or kind == "license" or (g == "licence_change" and not licences):
            licence_seen, licences = True, licences + 1
        elif g == "licence_release":
            licence_seen, licences = True, max(licences - 1, 0)
    out: dict[str, Any] = {}
    if licence_seen:
        out["licensed"] = licences > 0
    if pledge_seen:
        out["pledged"] = bool(open_pledges)
        out["pledgee"] = ";".join(p for p in open_pledges if p) or None
        out["pledge_date"] = max((d for d in open_pledges.values() if d), default=None)
    if in_litigation is not None:
        out["in_litigation"] = in_litigation
    return out


def legal_facts(
    family: Family,
    number: str,
    *,
    table: Mapping[str, str] | None = None,
    status_texts: Sequence[StatusText] | None = None,
) -> dict[str, Any]:
    """Facts about one publication from its INPADOC family and legal events.

    Parameters
    ----------
    family : Family
        From :func:`parse_family` on a ``family/.../legal`` answer.
    number : str
        Canonical number of the publication asked about (``EP2400812A1``).
    table : mapping, optional
        Event code to group (:data:`data_sources._inpadoc.EVENT_GROUPS` by default).
    status_texts : sequence of StatusText, optional
        EP Register status texts of ``STAA`` events (:data:`data_sources._inpadoc.EP_STATUS_TEXTS` by default).

    Returns
    -------
    dict
        ``legal_status`` (pending, granted, lapsed, expired, revoked, withdrawn), ``grant_date``, ``lapse_date``,
        ``fees_paid_through``, ``family_id``, ``family_size``, ``family_jurisdictions``, ``transfers``,
        ``last_transfer_date``, ``lapsed_states`` and ``in_force_states`` (European patents),
        ``invalidation_pending``, ``ep_register_status`` and ``ep_register_status_date`` (European patents, from
        ``STAA``), ``legal_event_codes``, and ``entity_size`` when a US fee event states it. A field the
        events do not decide is None.

    Notes
    -----
    Rules (documented in ``docs/methodology/data_sources.md``):

    - the publication's own application is found in the family; its members' events count;
    - grant: a grant-kind member of the same application (its publication date), else a grant event;
    - status: the last decisive event wins (lapse or surrender, expiry, withdrawal); a restoration (CN
      ``RR01``) after a lapse or withdrawal brings back the status before it; a European patent is lapsed only
      when it lapsed (``PG25``) in every state where a national fee was ever paid (``PGFP``), or in every state
      mentioned when no fee event is known, and a state reinstated after its lapse (``PGRI``) is in force;
      the last state lapsing on or after the 20th anniversary of filing makes it ``expired`` (EPC Art. 63(1));
    - European patents: the latest ``STAA`` event (by date) whose EP Register status text is known decides the
      EP-level status before the national lapses are looked at: revoked and withdrawn (refused included) always;
      granted over pending or withdrawn; pending (the application revived) only over withdrawn when nothing
      shows a grant. Its text also sets ``invalidation_pending`` (an opposition, or a limitation or revocation
      request, pending at the EPO); an unknown text changes nothing;
    - fees paid through: filing date + fee year for annual fees (``PGFP``, highest year over the states still
      in force); for US maintenance fees (``MAFP``, years 4, 8, 12) grant + 7.5, 11.5 years, or 20 years from
      filing after the last one;
    - no lapse event does not prove that a right is in force (offices report late).
    """
    me = _own_member(family, number)
    out: dict[str, Any] = {
        "family_id": family.family_id,
        "family_size": family.size or None,
        "family_jurisdictions": family.jurisdictions,
    }
    if me is None:
        return out
    same_app = [m for m in family.members if m.application and m.application == me.application]
    events = sorted(
        (e for m in same_app for e in m.events), key=lambda e: (e.gazette_date or dt.date.min, e.code)
    )
    groups = {e: group_of(e.code, dict(table) if table else None) for e in events}
    filing = me.application_date
    grant_date = _grant_date(same_app, events, groups)
    status, lapse_date = _status_from_events(me, events, groups, grant_date)
    register = _register_status(events, status_texts)
    status, lapse_date, opposition = _register_decides(register, status, lapse_date, grant_date)
    states = _national_states(events, groups)
    status, lapse_date = _lapsed_everywhere(me, states, status, lapse_date)
    fees_through = _fees_paid_through(filing, grant_date, states, events, groups)
    entity = _us_entity_size(events)
    if entity:
        out["entity_size"] = entity
    transfers = [
        e
        for e in events
        if groups[e] == "transfer" and (e.code != "AS" or conveyance_of(e.text) == "transfer")
    ]
    out.update(encumbrances(events, groups))
    out.update(
        {
            "legal_status": status,
            "grant_date": grant_date,
            "lapse_date": lapse_date,
            "fees_paid_through": fees_through,
            "transfers": len(transfers),
            "last_transfer_date": max((e.date for e in transfers if e.date), default=None),
            "lapsed_states": ";".join(sorted(states.lapsed)) or None,
            "in_force_states": ";".join(states.in_force) or None,
            "invalidation_pending": True if any(groups[e] == "invalidation" for e in events) else opposition,
            "ep_register_status": register[0].text if register else None,
            "ep_register_status_date": register[0].date if register else None,
            "legal_event_codes": ";".join(sorted({e.code for e in events})) or None,
        }
    )
    if filing is not None:
        out["filing_date"] = filing
    return out


def _own_member(family: Family, number: str) -> FamilyMember | None:
    """The family member that is the publication asked about.

    Parameters
    ----------
    family : Family
        The INPADOC family.
    number : str
        Canonical publication number.

    Returns
    -------
    FamilyMember or None
        The member with the same publication number and kind, else the first of the same office whose number
        starts with the serial (the kind left out or different), else None.
    """
    p = parse_number(number)
    country, serial, kind = p.country, docdb_serial(p.country, p.number), (p.kind or "")
    me = next((m for m in family.members if m.publication == f"{country}{serial}{kind}"), None)
    if me is None:
        me = next(
            (m for m in family.members if m.country == country and m.publication[2:].startswith(serial)), None
        )
    return me


def _grant_date(
    same_app: Sequence[FamilyMember], events: Sequence[LegalEvent], groups: Mapping[LegalEvent, str | None]
) -> dt.date | None:
    """The publication date of the grant.

    A grant-kind member of the same application (kind codes by office and era), else an office's gazette
    announcement of the grant (never the EP "(expected) grant" record, whose date is when the EPO recorded the
    decision); without either, the first event about the grant document itself, which is gazetted with its
    publication.

    Parameters
    ----------
    same_app : sequence of FamilyMember
        The members of the publication's application.
    events : sequence of LegalEvent
        Their events, by gazette date.
    groups : mapping
        Each event's group.

    Returns
    -------
    datetime.date or None
        The earliest such date, or None.
    """
    grant_dates = [
        m.publication_date
        for m in same_app
        if m.publication_date is not None and is_grant(m.country, m.kind, m.publication_date)
    ]
    grant_dates += [e.gazette_date for e in events if groups[e] == "grant_published" and e.gazette_date]
    if not grant_dates:
        grant_dates = [
            e.gazette_date
            for e in events
            if e.ref_kind and e.gazette_date and is_grant(e.country, e.ref_kind, e.gazette_date)
        ]
    return min(grant_dates, default=None)


def _status_from_events(
    me: FamilyMember,
    events: Sequence[LegalEvent],
    groups: Mapping[LegalEvent, str | None],
    grant_date: dt.date | None,
) -> tuple[str | None, dt.date | None]:
    """The status the kinds and the decisive events state, and the date the right was lost.

    The starting status is what the kinds state: granted with a grant, pending when the publication's kind is an
    application's; a kind the table does not know leaves it unknown (None), never a default. Then the last
    decisive event wins (revocation, lapse, expiry, withdrawal before any grant); a restoration (CN ``RR01``) of
    a right lost by a missed time limit (an unpaid fee, a missed reply) brings back the status before the loss.

    Parameters
    ----------
    me : FamilyMember
        The publication asked about.
    events : sequence of LegalEvent
        The events of its application, by gazette date.
    groups : mapping
        Each event's group.
    grant_date : datetime.date or None
        From :func:`_grant_date`.

    Returns
    -------
    tuple
        Status (None when unknown) and lapse date.
    """
    status: str | None
    if grant_date is not None:
        status = "granted"
    elif is_grant(me.country, me.kind, me.publication_date) is False:
        status = "pending"
    else:
        status = None
    lapse_date = None
    before_loss: str | None = None  # the status a restoration (CN RR01) brings back
    for e in events:
        g = groups[e]
        if g in ("grant", "grant_published") and status in (None, "pending"):
            status = "granted"
        elif g == "invalidated":
            status, lapse_date = "revoked", e.date
        elif g == "lapse":
            before_loss = status if status in ("granted", None) else before_loss
            status, lapse_date = "lapsed", e.date
        elif g == "expiry":
            status, lapse_date = "expired", e.date
        elif g == "withdrawn" and grant_date is None:
            before_loss = status if status in ("pending", None) else before_loss
            status, lapse_date = "withdrawn", e.date
        elif g == "restoration" and status in ("lapsed", "withdrawn"):
            restored = before_loss or ("granted" if status == "lapsed" or grant_date else "pending")
            status, lapse_date = restored, None
    return status, lapse_date


def _register_decides(
    register: tuple[LegalEvent, StatusText] | None,
    status: str | None,
    lapse_date: dt.date | None,
    grant_date: dt.date | None,
) -> tuple[str | None, dt.date | None, bool | None]:
    """European patents: what the EP Register status text of the latest ``STAA`` event decides.

    Revoked and withdrawn always; granted over pending or withdrawn; pending only over withdrawn when nothing
    shows a grant.

    Parameters
    ----------
    register : tuple or None
        From :func:`_register_status`: the event and the status-text row it matched.
    status : str or None
        The status from the events.
    lapse_date : datetime.date or None
        The lapse date from the events.
    grant_date : datetime.date or None
        The grant date.

    Returns
    -------
    tuple
        Status, lapse date, and the text's opposition flag (None without a register status).
    """
    if register is None:
        return status, lapse_date, None
    staa, row = register
    if row.status in ("revoked", "withdrawn"):
        status, lapse_date = row.status, staa.date
    elif row.status == "granted" and status in (None, "pending", "withdrawn"):
        status, lapse_date = "granted", None
    elif row.status == "pending" and status in (None, "withdrawn") and grant_date is None:
        status, lapse_date = "pending", None
    return status, lapse_date, row.opposition


@dataclass(frozen=True)
class _States:
    """European patents: the national fees and lapses per state.

    Attributes
    ----------
    paid : dict
        State -> (highest fee year paid, its payment date or gazette date).
    lapsed : dict
        State -> lapse date, for the states lapsed and not reinstated.
    in_force : list of str
        Sorted states still in force: a fee paid and no lapse (or a lapse before that payment), or reinstated.
    """

    paid: dict[str, tuple[int, dt.date | None]]
    lapsed: dict[str, dt.date | None]
    in_force: list[str]


def _national_states(events: Sequence[LegalEvent], groups: Mapping[LegalEvent, str | None]) -> _States:
    """European patents: national lapses (``PG25``), national fees (``PGFP``) and reinstatements (``PGRI``).

    Parameters
    ----------
    events : sequence of LegalEvent
        The events, by gazette date; those without a state are left out.
    groups : mapping
        Each event's group.

    Returns
    -------
    _States
        Fees, lapses and the states in force; a state reinstated after its lapse is in force again, whether or
        not a fee event follows.
    """
    paid: dict[str, tuple[int, dt.date | None]] = {}
    lapsed: dict[str, dt.date | None] = {}
    reinstated: set[str] = set()
    for e in events:
        if not e.state:
            continue
        if groups[e] == "fee_paid" and e.fee_year:
            prev = paid.get(e.state)
            if prev is None or e.fee_year > prev[0]:
                paid[e.state] = (e.fee_year, e.payment_date or e.gazette_date)
        elif groups[e] == "state_lapse":
            lapsed[e.state] = e.date
            reinstated.discard(e.state)
        elif groups[e] == "state_reinstated" and e.state in lapsed:
            del lapsed[e.state]
            reinstated.add(e.state)
    in_force = sorted(
        {
            s
            for s, (_, pay) in paid.items()
            if s not in lapsed or (pay is not None and (lapse := lapsed[s]) is not None and lapse < pay)
        }
        | reinstated
    )
    return _States(paid, lapsed, in_force)


def _lapsed_everywhere(
    me: FamilyMember, states: _States, status: str | None, lapse_date: dt.date | None
) -> tuple[str | None, dt.date | None]:
    """A granted European patent lapsed in every state where it was in force is lapsed, or expired.

    The last state lapsing at the end of the 20-year term (EPC Art. 63(1): 20 years from filing) is the end of
    term, not an early lapse.

    Parameters
    ----------
    me : FamilyMember
        The publication asked about.
    states : _States
        From :func:`_national_states`.
    status : str or None
        The status so far.
    lapse_date : datetime.date or None
        The lapse date so far.

    Returns
    -------
    tuple
        Status and lapse date (the last state's lapse when every state lapsed).
    """
    if states.lapsed and status == "granted" and not states.in_force:
        status = "lapsed"
        lapse_date = max((d for d in states.lapsed.values() if d), default=None)
        filing = me.application_date
        if me.country == "EP" and filing and lapse_date and lapse_date >= add_years(filing, 20):
            status = "expired"
    return status, lapse_date


def _fees_paid_through(
    filing: dt.date | None,
    grant_date: dt.date | None,
    states: _States,
    events: Sequence[LegalEvent],
    groups: Mapping[LegalEvent, str | None],
) -> dt.date | None:
    """The date the fees paid keep the right in force to.

    Annual fees (``PGFP``): filing date + the highest fee year over the states still in force (over every state
    when none is). US maintenance fees (``MAFP``, years 4, 8, 12), when a grant is known, take precedence.

    Parameters
    ----------
    filing : datetime.date or None
        The application's filing date.
    grant_date : datetime.date or None
        The grant date.
    states : _States
        From :func:`_national_states`.
    events : sequence of LegalEvent
        The events.
    groups : mapping
        Each event's group.

    Returns
    -------
    datetime.date or None
        None when no fee event decides it.
    """
    fees_through = None
    if filing is not None and states.paid:
        paid = states.paid
        years = [paid[s][0] for s in states.in_force if s in paid] or [y for y, _ in paid.values()]
        fees_through = add_years(filing, max(years))
    us_years = [
        e.fee_year
        for e in events
        if groups[e] == "fee_paid" and not e.state and e.country == "US" and e.fee_year in (4, 8, 12)
    ]
    if us_years and grant_date is not None:
        fees_through = us_fees_paid_through(grant_date, max(us_years), filing) or fees_through
    return fees_through


def _us_entity_size(events: Sequence[LegalEvent]) -> str | None:
    """US entity size as the latest USPTO fee event states it.

    The USPTO states it in its fee events' free text (``MAFP``, ``FEPP``): "ENTITY STATUS OF PATENT OWNER: SMALL
    ENTITY".

    Parameters
    ----------
    events : sequence of LegalEvent
        The events, by gazette date.

    Returns
    -------
    str or None
        ``large``, ``small`` or ``micro``; None when no US event states it.
    """
    entity = [
        m.group(1).lower() for e in events if e.country == "US" and (m := _US_ENTITY.search(e.text or ""))
    ]
    return entity[-1] if entity else None


# -------------------------------------------------------------------------------------------------
# the client


class EpoOps(HttpSource):
    """EPO OPS connector.

    Parameters
    ----------
    key, secret : str, optional
        OPS consumer key and secret; read from ``EPO_OPS_KEY`` / ``EPO_OPS_SECRET`` when omitted.
    legal : bool, default True
        Also fetch ``family/.../legal`` (status, fees, family) per number.
    black_retry_after_unit : {"ms", "s"}, default "ms"
        Unit of ``Retry-After`` sent with a black service. python-epo-ops-client reads it as milliseconds;
        this is not confirmed by EPO documentation, hence the parameter.
    **kwargs
        See :class:`data_sources._base.HttpSource` (``base_url``, ``client``, ``transport``, ``cache``...).

    Notes
    -----
    The rate limiter starts from the allowances of the example header in the OPS documentation
    (retrieval 100, inpadoc 45, search 15, images 100, other 1000 requests per minute) and follows every
    ``X-Throttling-Control`` the service sends.
    """

    name = "epo_ops"
    authority = ("legal_status", "fees_paid_through", "family_size", "family_jurisdictions", "family_id")
    default_base_url = BASE_URL
    default_concurrency = 2
    default_allowance = {"retrieval": 100, "inpadoc": 45, "search": 15, "images": 100, "other": 1000}

    def __init__(
        self,
        *,
        key: str | None = None,
        secret: str | None = None,
        legal: bool = True,
        black_retry_after_unit: str = "ms",
        **kwargs: Any,
    ):
        from data_sources._http import Secret

        self._key = Secret(key) if key else None
        self._secret = Secret(secret) if secret else None
        super().__init__(**kwargs)
        self.legal = legal
        self.black_unit = black_retry_after_unit
        self._token: str | None = None
        self._token_expires = 0.0
        self._token_lock: asyncio.Lock | None = None
        self.token_requests = 0
        self.throttling: Throttling | None = None
        self.quota_used: dict[str, int] = {}

    def _check_credentials(self, env: Mapping[str, str] | None) -> None:
        self._key = self._key or env_secret(ENV_KEY, env)
        self._secret = self._secret or env_secret(ENV_SECRET, env)
        require(self._key, ENV_KEY, self.name)
        require(self._secret, ENV_SECRET, self.name)

    def stats(self) -> dict[str, Any]:
        """Counters of the run, plus token requests, the last throttling state and quota bytes used."""
        out = super().stats()
        out["token_requests"] = self.token_requests
        if self.throttling is not None:
            out["throttling"] = self.throttling.system
        out.update(self.quota_used)
        return out

    async def __aenter__(self) -> EpoOps:
        await super().__aenter__()
        self._token_lock = asyncio.Lock()
        return self

    # -- auth ---------------------------------------------------------------------------------
    async def _auth(self) -> dict[str, str]:
        assert self._token_lock is not None
        async with self._token_lock:
            if self._token is None or self.core.clock() >= self._token_expires - 30:
                await self._renew()
        return {"Authorization": f"Bearer {self._token}"}

    async def _renew(self) -> None:
        basic = base64.b64encode(f"{self._key.reveal()}:{self._secret.reveal()}".encode()).decode()  # type: ignore[union-attr]
        self.token_requests += 1
        try:
            resp = await self.core.client.post(
                f"{self.base_url}/auth/accesstoken",
                headers={
                    "Authorization": f"Basic {basic}",
                    "Content-Type": "application/x-www-form-urlencoded",
                },
                content=b"grant_type=client_credentials",
            )
        except httpx.HTTPError as exc:
            raise AuthError(f"token request failed: {type(exc).__name__}", source=self.name) from exc
        if resp.status_code != 200:
            raise AuthError(
                "token request refused (check EPO_OPS_KEY / EPO_OPS_SECRET)",
                source=self.name,
                status=resp.status_code,
            )
        try:
            data = resp.json()
            token = data["access_token"]
            expires = float(data.get("expires_in", 1200))
        except (ValueError, KeyError, TypeError) as exc:
            raise AuthError("token answer unreadable", source=self.name, status=resp.status_code) from exc
        self._token, self._token_expires = token, self.core.clock() + expires

    async def _invalidate(self, refused: Mapping[str, str]) -> None:
        """Drop the token that was refused (not a newer one another request already obtained)."""
        assert self._token_lock is not None
        async with self._token_lock:
            if refused.get("Authorization") == f"Bearer {self._token}":
                self._token = None

    # -- server signals -----------------------------------------------------------------------
    def _on_response(self, resp: httpx.Response) -> None:
        for name in QUOTA_HEADERS:  # bytes used of the hourly / weekly quotas (OPS counts volume)
            value = resp.headers.get(name)
            if value is not None and value.strip().isdigit():
                self.quota_used[name.lower()] = int(value)
        th = parse_throttling(resp.headers.get("x-throttling-control"))
        if th is None:
            return  # answers from an intermediate cache may lack the header
        self.throttling = th
        for svc, (colour, per_minute) in th.services.items():
            if colour == "black":
                wait = parse_retry_after(resp.headers.get("retry-after"), unit=self.black_unit)  # type: ignore[arg-type]
                self.core.limiter.block(svc, wait if wait is not None else 60.0)
            else:
                self.core.limiter.set_allowance(svc, per_minute)

    def _classify(self, service: str, what: str) -> Callable[[httpx.Response], Any]:
        def classify(resp: httpx.Response) -> Any:
            s = resp.status_code
            if 200 <= s < 300:
                return "ok"
            body = resp.content
            code, message = parse_fault(body)
            if s in (400, 401) and (
                "invalid_access_token" in message or b"invalid_access_token" in body or s == 401
            ):
                return "reauth"
            if s == 404:
                return NotFound(
                    f"{what}: not found in OPS ({code or 'SERVER.EntityNotFound'})",
                    source=self.name,
                    status=404,
                )
            if s == 403:
                reason = resp.headers.get("x-rejection-reason", "")
                th = parse_throttling(resp.headers.get("x-throttling-control"))
                colour = th.services.get(service, ("", 0))[0] if th else ""
                if colour == "black":
                    wait = parse_retry_after(resp.headers.get("retry-after"), unit=self.black_unit)  # type: ignore[arg-type]
                    return ServiceBlocked(
                        f"{what}: OPS service {service} is black (blocked)",
                        source=self.name,
                        status=403,
                        retry_after=wait if wait is not None else 60.0,
                        retryable=True,
                    )
                if reason == "ThrottlingControlQuota":
                    wait = parse_retry_after(resp.headers.get("retry-after"))
                    return RateLimited(
                        f"{what}: OPS throttling rejection",
                        source=self.name,
                        status=403,
                        retry_after=wait,
                        retryable=True,
                    )
                if reason.startswith("AnonymousQuotaPer") and reason.endswith("Minute"):
                    # a per-minute quota: transient, retried after the window, not an authorisation failure
                    wait = parse_retry_after(resp.headers.get("retry-after"))
                    return RateLimited(
                        f"{what}: OPS per-minute quota ({reason})",
                        source=self.name,
                        status=403,
                        retry_after=wait if wait is not None else 60.0,
                        retryable=True,
                    )
                if reason == "IndividualQuotaPerHour":
                    wait = parse_retry_after(resp.headers.get("retry-after"))
                    return QuotaExceeded(
                        f"{what}: OPS hourly quota spent",
                        reason=reason,
                        source=self.name,
                        status=403,
                        retry_after=wait,
                        retryable=wait is not None,
                    )
                if reason in ("RegisteredQuotaPerWeek", "RegisteredPayingQuotaPerWeek"):
                    return QuotaExceeded(
                        f"{what}: OPS weekly quota spent", reason=reason, source=self.name, status=403
                    )
                if reason == "DeveloperBlocked" or "RobotDetected" in code:
                    return AuthError(
                        f"{what}: OPS refused the client ({reason or code})", source=self.name, status=403
                    )
                return AuthError(
                    f"{what}: OPS refused the request ({reason or code or message})",
                    source=self.name,
                    status=403,
                )
            if s == 429:
                wait = parse_retry_after(resp.headers.get("retry-after"))
                return RateLimited(
                    f"{what}: {message or 'fair use limit exceeded'}",
                    source=self.name,
                    status=429,
                    retry_after=wait,
                    retryable=True,
                )
            return None  # generic rules: 5xx retried, other 4xx raised

        return classify

    async def _get(self, path: str, *, kind: str, label: str, validate: Any) -> Any:
        service = service_of(path)
        return await self.core.request(
            "GET",
            f"{self.base_url}/rest-services/{path}",
            kind=kind,
            service=service,
            auth=self._auth,
            classify=self._classify(service, label),
            on_response=self._on_response,
            on_reauth=self._invalidate,
            validate=validate,
            label=label,
        )

    # -- fetching -----------------------------------------------------------------------------
    def _biblio_path(self, number: str) -> str:
        ref, fmt, inp = to_docdb(number)
        return f"published-data/{ref}/{fmt}/{inp}/biblio"

    async def fetch_biblio(self, numbers: Sequence[str]) -> dict[str, tuple[Patent, float] | DataSourceError]:
        """Bibliographic facts per number: cached single answers, then bulk POSTs of the rest.

        Returns
        -------
        dict
            ``number -> (Patent, fetched_at)`` or the error for that number.
        """
        out: dict[str, tuple[Patent, float] | DataSourceError] = {}
        todo: dict[tuple[str, str], list[str]] = {}
        for n in numbers:
            try:
                ref, fmt, _ = to_docdb(n)
            except PatentNumberError as exc:
                out[n] = NotFound(f"{n}: {exc.reason}", source=self.name)
                continue
            key = self.core.cache_key("GET", f"{self.base_url}/rest-services/{self._biblio_path(n)}")
            hit = self.core.cached(key)
            if hit is None:
                todo.setdefault((ref, fmt), []).append(n)
            elif hit.status == 404:
                out[n] = NotFound(f"{n}: not found in OPS (cached)", source=self.name, status=404)
            else:
                out[n] = self._one_biblio(n, hit.body, hit.fetched_at)
        batches = [
            (rf, group[i : i + BULK_LIMIT])
            for rf, group in todo.items()
            for i in range(0, len(group), BULK_LIMIT)
        ]
        results = await asyncio.gather(*(self._bulk(rf, batch) for rf, batch in batches))
        for res in results:
            out.update(res)
        return out

    def _one_biblio(self, n: str, body: bytes, fetched_at: float) -> tuple[Patent, float] | DataSourceError:
        try:
            pats = parse_biblio(body, fetched_at=fetched_at)
        except DataSourceError as exc:
            exc.source = self.name
            return exc
        match = _match(n, pats)
        if match is None:
            return NotFound(f"{n}: not in the OPS answer", source=self.name)
        return match, fetched_at

    async def _bulk(self, refmt: tuple[str, str], batch: list[str]) -> dict[str, Any]:
        ref, fmt = refmt
        inputs = [to_docdb(n)[2] for n in batch]
        label = f"biblio of {len(batch)} numbers ({batch[0]}...)"
        path = f"published-data/{ref}/{fmt}/biblio"
        service = service_of(path)

        def validate(body: bytes) -> None:
            root = _xml(body, "biblio")
            if root.find(f".//{_E}exchange-documents") is None:
                raise ParseError("biblio: no exchange-documents element")

        try:
            ans = await self.core.request(
                "POST",
                f"{self.base_url}/rest-services/{path}",
                kind="biblio",
                service=service,
                content="\n".join(inputs).encode(),
                headers={"Content-Type": "text/plain"},
                auth=self._auth,
                classify=self._classify(service, label),
                on_response=self._on_response,
                on_reauth=self._invalidate,
                validate=validate,
                use_cache=False,
                label=label,
            )
        except NotFound:
            for n in batch:
                self._store_single(n, 404, b"")
            return {n: NotFound(f"{n}: not found in OPS", source=self.name, status=404) for n in batch}
        except DataSourceError as exc:
            return {n: exc for n in batch}
        root = ET.fromstring(ans.body)
        docs = _documents(root)
        out: dict[str, Any] = {}
        for n in batch:
            doc = _match_doc(n, docs)
            if doc is None:
                self._store_single(n, 404, b"")
                out[n] = NotFound(f"{n}: not in the OPS bulk answer", source=self.name, status=404)
                continue
            single = _envelope(doc)
            res = self._one_biblio(n, single, ans.fetched_at)
            if not isinstance(res, DataSourceError):
                self._store_single(n, 200, single)
            out[n] = res
        return out

    def _store_single(self, n: str, status: int, body: bytes) -> None:
        url = f"{self.base_url}/rest-services/{self._biblio_path(n)}"
        key = self.core.cache_key("GET", url)
        self.core.store(
            key,
            kind="biblio",
            status=status,
            body=body,
            request=canonical_request("GET", url),
            content_type="application/xml",
        )

    async def fetch_legal(self, number: str) -> tuple[dict[str, Any], float]:
        """Legal facts and family of one number from ``family/.../legal``."""
        ref, fmt, inp = to_docdb(number)
        ans = await self._get(
            f"family/{ref}/{fmt}/{inp}/legal", kind="legal", label=f"{number} legal", validate=parse_family
        )
        return legal_facts(parse_family(ans.body), number), ans.fetched_at

    async def fetch_many(
        self, numbers: Sequence[str], *, progress: Progress | None = None
    ) -> dict[str, Outcome]:
        """Facts per number: biblio (bulk) merged with INPADOC legal facts."""
        biblio = await self.fetch_biblio(numbers)

        async def one(n: str) -> Patent:
            b = biblio.get(n)
            if isinstance(b, DataSourceError):
                raise b
            assert b is not None
            pat, fetched = b
            fields = {
                k: getattr(pat, k)
                for k in pat.model_fields_set
                if k not in ("patent_id", "source", "fetched_at")
            }
            fields.update(pat.model_extra or {})
            if self.legal:
                try:
                    legal, legal_at = await self.fetch_legal(n)
                except NotFound:
                    # OPS has the document but no INPADOC record: keep the bibliographic facts, say so
                    fields["legal_events_found"] = False
                else:
                    for k, v in legal.items():
                        if v is not None and v != []:
                            fields[k] = v
                    fields["legal_events_found"] = True
                    fetched = max(fetched, legal_at)
            return make_patent(n, fields, source=self.name, fetched_at=fetched)

        return await self._gather(numbers, one, progress)


def _match(number: str, pats: list[Patent]) -> Patent | None:
    for p in pats:
        if p.patent_id == number:
            return p
    bare = parse_number(number)
    serial = docdb_serial(bare.country, bare.number)
    for p in pats:
        q = parse_number(p.patent_id)
        if (
            q.country == bare.country
            and docdb_serial(q.country, q.number) == serial
            and (not bare.kind or bare.kind == q.kind)
        ):
            return p
    return None


def _match_doc(number: str, docs: list[ET.Element]) -> ET.Element | None:
    p = parse_number(number)
    serial = docdb_serial(p.country, p.number.split(".")[0])
    for d in docs:
        if (
            d.get("country") == p.country
            and d.get("doc-number") == serial
            and (not p.kind or d.get("kind") == p.kind)
        ):
            if d.find("e:bibliographic-data", NS) is not None:
                return d
    return None


def _envelope(doc: ET.Element) -> bytes:
    ET.register_namespace("", NS["e"])
    ET.register_namespace("ops", NS["ops"])
    root = ET.Element(f"{_OPS}world-patent-data")
    docs = ET.SubElement(root, f"{_E}exchange-documents")
    docs.append(doc)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
