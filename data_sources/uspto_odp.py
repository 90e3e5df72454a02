"""USPTO Open Data Portal (api.uspto.gov): US filing, grant, term adjustment, status, entity size, continuity.

:func:`parse_application`, :func:`parse_adjustment`, :func:`parse_continuity` and
:func:`earliest_filing_date` read ODP answers; :class:`UsptoOdp` finds the application behind a US
publication number (``/applications/search``), then reads its record, its continuity and its term
adjustment (sub-resources are asked only when the record lacks them). Key from ``USPTO_ODP_API_KEY``,
sent as ``X-API-KEY``. Facts from ``patent_data_sources.md`` section 4 and ``tests/fixtures/uspto_odp``.

The US term of a utility patent runs 20 years from the earliest US non-provisional (or PCT) application
whose benefit it claims (35 U.S.C. 154(a)(2)); provisional applications do not count. The earliest such
date is recorded as the extra field ``earliest_filing_date`` for :mod:`ipvalue.terms`.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from data_sources._base import HttpSource, Outcome, Progress, env_secret, make_patent, require
from data_sources._errors import AuthError, NotFound, ParseError
from data_sources._http import Secret
from data_sources._inpadoc import conveyance_of, us_fees_paid_through, us_maintenance_year
from ipvalue.facts.numbers import parse_number

__all__ = [
    "UsptoOdp",
    "parse_application",
    "parse_adjustment",
    "parse_continuity",
    "earliest_filing_date",
    "status_to_legal",
    "parse_assignments",
    "owner_facts",
    "Assignment",
    "Parent",
    "ENV_KEY",
    "NON_BENEFIT_LINKS",
]

ENV_KEY = "USPTO_ODP_API_KEY"
BASE_URL = "https://api.uspto.gov"
APPS = "/api/v1/patent/applications"

#: continuity links that do not move the start of the term: provisional applications
NON_BENEFIT_LINKS = frozenset({"PRO"})


@dataclass(frozen=True)
class Parent:
    """One parent link of a continuity chain.

    Attributes
    ----------
    child, parent : str
        Application numbers.
    link : str
        ``CON``, ``DIV``, ``CIP``, ``PRO``, ``NST``...
    filing_date : datetime.date or None
        The parent's filing date.
    status_code : int or None
        The parent's application status (250: expired for unpaid maintenance fees).
    status_text : str or None
    patent_number : str or None
    """

    child: str
    parent: str
    link: str
    filing_date: dt.date | None
    status_code: int | None
    status_text: str | None
    patent_number: str | None


def _d(text: Any) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(str(text)[:10])
    except ValueError:
        return None


def _bag(body: bytes | str | Mapping[str, Any], what: str) -> Mapping[str, Any]:
    if isinstance(body, Mapping):
        data = body
    else:
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError(f"{what}: not JSON ({exc})", source="uspto_odp") from exc
    bag = None
    if isinstance(data, Mapping):
        # "patentBag" is the shape of the ODP beta API (beta-api.uspto.gov, 2024): the same fields, flat
        bag = data.get("patentFileWrapperDataBag", data.get("patentBag"))
    if not isinstance(bag, list):
        raise ParseError(f"{what}: no patentFileWrapperDataBag", source="uspto_odp")
    if not bag:
        raise NotFound(f"{what}: no matching record", source="uspto_odp", status=404)
    return bag[0]


def status_to_legal(
    code: int | None, text: str | None, granted: bool, *, application_type: str | None = None
) -> str | None:
    """Portfolio status from an ODP application status.

    150 Patented Case: granted; 250 Patent Expired Due to NonPayment of Maintenance Fees: lapsed; other
    expiry texts: expired after a grant, withdrawn without one (159 Provisional Application Expired); abandonment
    texts: withdrawn; otherwise pending before grant, granted after.
    Unknown (None), never a guess: no status at all; a status that ends proceedings without saying how
    ("Proceedings Terminated", "Missassigned Application Number"); an international (PCT) application, which
    the USPTO never grants itself (its national-stage child is the patent).
    """
    t = (text or "").lower()
    if code == 250 or "nonpayment of maintenance" in t:
        return "lapsed"
    if code == 150 or t == "patented case":
        return "granted"
    if "expired" in t and granted:
        return "expired"
    if "expired" in t:
        return "withdrawn"  # expired without a grant (159 Provisional Application Expired): no right, not pending
    if "abandon" in t:
        return "withdrawn"
    if code is None and not t:
        return None
    if granted:
        return "granted"
    if (
        (application_type or "").upper() == "PCT"
        or code in (1, 3)
        or "terminated" in t
        or "missassigned" in t
    ):
        return None
    return "pending"


def _entity(meta: Mapping[str, Any]) -> str | None:
    cat = (meta.get("entityStatusData") or {}).get("businessEntityStatusCategory")
    cat = str(cat or meta.get("businessEntityStatusCategory") or "").lower()
    if "micro" in cat:
        return "micro"
    if "small" in cat:
        return "small"
    if "undiscounted" in cat or "large" in cat or "regular" in cat:
        return "large"
    return None


def parse_continuity(body: bytes | str | Mapping[str, Any]) -> list[Parent]:
    """Parent links of an ODP ``/continuity`` (or full application) answer, in the order given."""
    rec = _bag(body, "continuity")
    out = []
    for p in _parent_bag(rec) or []:
        code = p.get("parentApplicationStatusCode")
        out.append(
            Parent(
                child=str(p.get("childApplicationNumberText") or ""),
                parent=str(p.get("parentApplicationNumberText") or ""),
                link=str(p.get("claimParentageTypeCode") or "").upper(),
                filing_date=_d(p.get("parentApplicationFilingDate")),
                status_code=int(code) if code is not None else None,
                status_text=p.get("parentApplicationStatusDescriptionText"),
                patent_number=p.get("parentPatentNumber"),
            )
        )
    return out


def _parent_bag(rec: Mapping[str, Any]) -> list[Mapping[str, Any]] | None:
    """Parent links of a record, None when it carries no continuity at all.

    ``parentContinuityBag`` (ODP) or ``continuityBag.parentContinuityBag`` (the beta API).
    """
    if "parentContinuityBag" in rec:
        return list(rec.get("parentContinuityBag") or [])
    if "continuityBag" in rec:
        return list((rec.get("continuityBag") or {}).get("parentContinuityBag") or [])
    return None


@dataclass(frozen=True)
class Assignment:
    """One recorded assignment of a US application or patent (ODP ``assignmentBag``).

    Attributes
    ----------
    recorded : datetime.date or None
        ``assignmentRecordedDate``.
    executed : datetime.date or None
        Latest ``executionDate`` of its assignors.
    conveyance : str
        ``conveyanceText`` as sent.
    kind : str or None
        What it conveys (:func:`data_sources._inpadoc.conveyance_of`): ``transfer``, ``security``,
        ``release``, ``name_change``, ``correction``, ``license``, or None.
    assignees, assignors : tuple of str
    reel_frame : str or None
    """

    recorded: dt.date | None
    executed: dt.date | None
    conveyance: str
    kind: str | None
    assignees: tuple[str, ...]
    assignors: tuple[str, ...]
    reel_frame: str | None


def _assignment_records(rec: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    bag = rec.get("assignmentBag")
    if isinstance(bag, Mapping):  # one assignment sent as an object, not a list (seen in swagger examples)
        return [bag]
    return [a for a in bag or [] if isinstance(a, Mapping)]


def parse_assignments(body: bytes | str | Mapping[str, Any]) -> list[Assignment]:
    """Assignments of an ODP ``/assignment`` answer (or a full record), oldest recorded first."""
    rec = _bag(body, "assignment")
    out = []
    for a in _assignment_records(rec):
        text = " ".join(str(a.get("conveyanceText") or "").split())
        executed = [d for d in (_d(x.get("executionDate")) for x in a.get("assignorBag") or []) if d]
        out.append(
            Assignment(
                recorded=_d(a.get("assignmentRecordedDate") or a.get("assignmentReceivedDate")),
                executed=max(executed, default=None),
                conveyance=text,
                kind=conveyance_of(text),
                assignees=tuple(
                    n
                    for x in a.get("assigneeBag") or []
                    if (n := " ".join(str(x.get("assigneeNameText") or "").split()))
                ),
                assignors=tuple(
                    n
                    for x in a.get("assignorBag") or []
                    if (n := " ".join(str(x.get("assignorName") or "").split()))
                ),
                reel_frame=a.get("reelAndFrameNumber") or a.get("reelNumber/frameNumber"),
            )
        )
    return sorted(out, key=lambda x: x.recorded or x.executed or dt.date.min)


def _person_key(name: str) -> frozenset[str]:
    """A name as a set of words: "BEST, SCOTT C." and "Scott C. Best" are one person."""
    return frozenset(
        w for w in re.findall(r"[A-Z0-9]+", name.upper()) if len(w) > 1 or w.isdigit()
    ) or frozenset(re.findall(r"[A-Z0-9]+", name.upper()))


def owner_facts(
    applicants: Sequence[str], inventors: Sequence[str], assignments: Sequence[Assignment] | None
) -> dict[str, Any]:
    """Owner, transfers and security interests of a US application from its applicants and assignments.

    Rules: the owner is the assignee of the latest recorded transfer of ownership (an assignment, a merger,
    a nunc pro tunc assignment) or change of name; without one, the applicants, where an inventor listed as an
    applicant (older US applications name the inventors as applicants) is never the owner when another
    applicant (an assignee) is named. Security interests, releases, licences and corrections never move the
    owner: a security interest pledges the patent to its assignee (the secured party) until a release by that
    party.

    Parameters
    ----------
    applicants, inventors : sequence of str
    assignments : sequence of Assignment or None
        None when the assignment data was not read.

    Returns
    -------
    dict
        ``owner`` (list), ``owner_basis`` (``assignment``, ``applicant`` or None), and when assignments were
        read ``transfers``, ``last_transfer_date``; ``pledged``, ``pledgee``, ``pledge_date`` when a security
        interest or release was recorded.
    """
    inventor_keys = {_person_key(i) for i in inventors if i}
    named = [a for a in applicants if a]
    assignees = [a for a in named if _person_key(a) not in inventor_keys]
    owners = assignees or named
    out: dict[str, Any] = {"owner": owners, "owner_basis": "applicant" if owners else None}
    if assignments is None:
        return out
    moves = [a for a in assignments if a.kind in ("transfer", "name_change") and a.assignees]
    if moves:
        last = moves[-1]
        out["owner"] = list(dict.fromkeys(last.assignees))
        out["owner_basis"] = "assignment"
    transfers = [a for a in assignments if a.kind == "transfer"]
    out["transfers"] = len(transfers)
    out["last_transfer_date"] = max((a.recorded for a in transfers if a.recorded), default=None)
    open_pledges: dict[str, dt.date | None] = {}
    seen = False
    for a in assignments:
        if a.kind == "security":
            seen = True
            for party in a.assignees or ("",):
                open_pledges[party] = a.executed or a.recorded
        elif a.kind == "release":
            seen = True
            parties = {_person_key(p) for p in a.assignors}
            named_open = [p for p in open_pledges if _person_key(p) in parties]
            for p in named_open or list(open_pledges):
                open_pledges.pop(p, None)
    if seen:
        out["pledged"] = bool(open_pledges)
        out["pledgee"] = ";".join(p for p in open_pledges if p) or None
        out["pledge_date"] = max((d for d in open_pledges.values() if d), default=None)
    return out


def earliest_filing_date(
    filing_date: dt.date | None, parents: Sequence[Parent], *, application: str | None = None
) -> dt.date | None:
    """Earliest filing date the term runs from: the application and its non-provisional ancestors.

    Parameters
    ----------
    filing_date : datetime.date or None
        The application's own filing date.
    parents : sequence of Parent
    application : str, optional
        The application number; when given, only ancestors reachable from it through benefit links count.
    """
    benefit = [p for p in parents if p.link not in NON_BENEFIT_LINKS and p.filing_date]
    if application:
        children: dict[str, list[Parent]] = {}
        for p in benefit:
            children.setdefault(p.child, []).append(p)
        seen, stack, reach = {application}, [application], []
        while stack:
            for p in children.get(stack.pop(), []):
                reach.append(p)
                if p.parent not in seen:
                    seen.add(p.parent)
                    stack.append(p.parent)
        benefit = reach
    dates = [p.filing_date for p in benefit if p.filing_date] + ([filing_date] if filing_date else [])
    return min(dates) if dates else None


def parse_adjustment(body: bytes | str | Mapping[str, Any]) -> int | None:
    """Total patent term adjustment in days (``adjustmentTotalQuantity``), None when absent."""
    rec = _bag(body, "adjustment")
    pta = rec.get("patentTermAdjustmentData") or {}
    total = pta.get("adjustmentTotalQuantity")
    return int(total) if total is not None else None


def parse_application(body: bytes | str | Mapping[str, Any]) -> dict[str, Any]:
    """Portfolio fields of an ODP application record (``/applications/{n}`` or one search hit).

    Returns
    -------
    dict
        ``patent_id`` (``US11646472`` without kind, when granted), ``title``, ``owner``, ``filing_date``,
        ``grant_date``, ``legal_status``, ``entity_size``, ``cpc``, ``patent_type``, ``application_number``,
        ``status_code``, ``status_text``, and, when the record carries them, ``term_adjustment_days``,
        ``parents`` (list of :class:`Parent`), ``earliest_filing_date``, ``priority_date`` (earliest parent
        including provisionals), and ``fees_paid_through`` when the record's events show a maintenance-fee
        payment (the next fee's due date: grant + 7.5 / 11.5 years, or the end of the term after the third).
    """
    rec = _bag(body, "application")
    meta = rec.get("applicationMetaData") or rec  # the beta API sent the metadata fields flat
    app_no = str(rec.get("applicationNumberText") or "")
    grant = _d(meta.get("grantDate"))
    code = meta.get("applicationStatusCode")
    text = meta.get("applicationStatusDescriptionText")
    applicants = [
        a.get("applicantNameText") for a in meta.get("applicantBag") or [] if a.get("applicantNameText")
    ]
    if not applicants and meta.get("firstApplicantName"):
        applicants = [meta["firstApplicantName"]]
    inventors = [
        i.get("inventorNameText") or " ".join(filter(None, (i.get("firstName"), i.get("lastName"))))
        for i in meta.get("inventorBag") or []
    ]
    has_assignments = "assignmentBag" in rec
    owned = owner_facts(
        applicants,
        inventors,
        parse_assignments({"patentFileWrapperDataBag": [rec]}) if has_assignments else None,
    )
    kind = str(meta.get("applicationTypeLabelName") or meta.get("applicationTypeCode") or "").lower()
    # plant patents (35 USC 161: the utility provisions, so the 154 term, apply) and reissues are 'invention';
    # their number series (PP, RE) keeps them apart where the rules differ: no maintenance fees for a plant patent
    # (35 USC 41(b)), the original patent's term and fee schedule for a reissue (35 USC 251(a), 37 CFR 1.362(h))
    ptype = "design" if kind.startswith("des") else "invention" if kind else None
    number = str(meta.get("patentNumber") or "").strip()
    series = "PP" if kind.startswith("pl") else "RE" if kind.startswith("rei") else ""
    if number and series and not number.upper().startswith(series):
        number = series + number
    filing = _d(meta.get("filingDate"))
    out: dict[str, Any] = {
        "patent_id": f"US{number}" if number else None,
        "title": " ".join(str(meta.get("inventionTitle") or "").split()) or None,
        "owner": owned.pop("owner"),
        "filing_date": filing,
        "grant_date": grant,
        "legal_status": status_to_legal(
            int(code) if code is not None else None,
            text,
            grant is not None,
            application_type=meta.get("applicationTypeLabelName") or meta.get("applicationTypeCategory"),
        ),
        "entity_size": _entity(meta),
        "cpc": list(dict.fromkeys("".join(c.split()) for c in meta.get("cpcClassificationBag") or [])),
        "patent_type": ptype,
        "application_number": app_no or None,
        "status_code": int(code) if code is not None else None,
        "status_text": text,
        "publication_number": meta.get("earliestPublicationNumber"),
        "applicants": applicants,
        "inventor_names": inventors,
        **owned,
    }
    if "patentTermAdjustmentData" in rec:
        total = (rec.get("patentTermAdjustmentData") or {}).get("adjustmentTotalQuantity")
        out["term_adjustment_days"] = int(total) if total is not None else None
    if _parent_bag(rec) is not None:
        parents = parse_continuity({"patentFileWrapperDataBag": [rec]})
        out.update(_continuity_fields(filing, parents, app_no))
    paid_years = [
        y
        for e in rec.get("eventDataBag") or []
        if (y := us_maintenance_year(e.get("eventDescriptionText"), e.get("eventCode"))) is not None
    ]
    if paid_years:
        out["fees_paid_through"] = us_fees_paid_through(
            grant, max(paid_years), out.get("earliest_filing_date") or filing
        )
    return out


def _continuity_fields(filing: dt.date | None, parents: list[Parent], app_no: str) -> dict[str, Any]:
    all_dates = [p.filing_date for p in parents if p.filing_date]
    earliest = earliest_filing_date(filing, parents, application=app_no or None)
    prio = min(all_dates) if all_dates else None
    return {
        "parents": parents,
        "earliest_filing_date": earliest,
        "priority_date": prio if prio and filing and prio < filing else None,
        "parent_applications": ";".join(f"{p.link}:{p.parent}:{p.status_code}" for p in parents) or None,
    }


class UsptoOdp(HttpSource):
    """USPTO ODP connector (US numbers only).

    Parameters
    ----------
    api_key : str, optional
        Read from ``USPTO_ODP_API_KEY`` when omitted.
    **kwargs
        See :class:`data_sources._base.HttpSource`. The default allowance (60 requests per minute) is a
        cautious guess: USPTO publishes no per-key figure; 429 with ``Retry-After`` is honoured.
    """

    name = "uspto_odp"
    authority = ("filing_date", "grant_date", "term_adjustment_days", "entity_size", "earliest_filing_date")
    default_base_url = BASE_URL
    default_concurrency = 2
    default_allowance = {"default": 60}

    def __init__(self, *, api_key: str | None = None, **kwargs: Any):
        self._key = Secret(api_key) if api_key else None
        super().__init__(**kwargs)

    def _check_credentials(self, env: Mapping[str, str] | None) -> None:
        self._key = self._key or env_secret(ENV_KEY, env)
        require(self._key, ENV_KEY, self.name)

    async def _auth(self) -> dict[str, str]:
        return {"X-API-KEY": self._key.reveal()}  # type: ignore[union-attr]

    def _classify(self, what: str) -> Callable[[httpx.Response], Any]:
        def classify(resp: httpx.Response) -> Any:
            if resp.status_code in (401, 403):
                return AuthError(
                    f"{what}: ODP refused the key (HTTP {resp.status_code}; a new key takes minutes "
                    "to become active)",
                    source=self.name,
                    status=resp.status_code,
                )
            return None

        return classify

    async def _get(self, path: str, *, kind: str, label: str, params: Mapping[str, Any] | None = None) -> Any:
        def validate(body: bytes) -> None:
            try:
                _bag(body, label)
            except NotFound:
                pass

        return await self.core.request(
            "GET",
            f"{self.base_url}{path}",
            kind=kind,
            params=params,
            auth=self._auth,
            classify=self._classify(label),
            validate=validate,
            label=label,
        )

    async def fetch_one(self, number: str) -> Any:
        """Facts of one US publication number."""
        p = parse_number(number)
        if p.country != "US":
            raise NotFound(f"{number}: USPTO ODP covers US numbers only", source=self.name)
        if p.kind and p.kind.startswith("A"):
            q = f"applicationMetaData.earliestPublicationNumber:{p.country}{p.number}{p.kind}"
        else:
            q = f"applicationMetaData.patentNumber:{p.number}"
        ans = await self._get(f"{APPS}/search", kind="status", label=f"{number} search", params={"q": q})
        fields = parse_application(ans.body)
        fetched = ans.fetched_at
        app_no = fields["application_number"]
        if not app_no:
            raise ParseError(f"{number}: search hit without applicationNumberText", source=self.name)
        if "parents" not in fields:
            cont = await self._get(f"{APPS}/{app_no}/continuity", kind="biblio", label=f"{number} continuity")
            fields.update(_continuity_fields(fields["filing_date"], parse_continuity(cont.body), app_no))
            fetched = max(fetched, cont.fetched_at)
        if "term_adjustment_days" not in fields:
            adj = await self._get(f"{APPS}/{app_no}/adjustment", kind="biblio", label=f"{number} adjustment")
            fields["term_adjustment_days"] = parse_adjustment(adj.body)
            fetched = max(fetched, adj.fetched_at)
        if "transfers" not in fields:  # the hit carried no assignment data: the owner comes from it
            try:
                asg = await self._get(
                    f"{APPS}/{app_no}/assignment", kind="legal", label=f"{number} assignment"
                )
            except NotFound:  # ODP answers 404 "no matching records" when no assignment was recorded
                assignments: list[Assignment] = []
            else:
                assignments = parse_assignments(asg.body)
                fetched = max(fetched, asg.fetched_at)
            fields.update(owner_facts(fields["applicants"], fields["inventor_names"], assignments))
        fields.pop("parents", None)
        for internal in ("applicants", "inventor_names"):
            fields[internal] = ";".join(fields[internal]) or None
        fields.pop("patent_id", None)
        if p.kind and not p.kind.startswith("A") and fields.get("legal_status") == "pending":
            fields["legal_status"] = None
        return make_patent(number, fields, source=self.name, fetched_at=fetched)

    async def fetch_many(
        self, numbers: Sequence[str], *, progress: Progress | None = None
    ) -> dict[str, Outcome]:
        """Facts per US number (one search, plus continuity and adjustment when the hit lacks them)."""
        return await self._gather(numbers, self.fetch_one, progress)
