"""Builders of synthetic service answers in the shape of the recorded ones, and a virtual clock.

The builders write OPS ``exchange-document`` and ``family/legal`` answers, Lens records and ODP application
records for a canonical patent number, in the shape of the real recordings under ``tests/fixtures`` (see its
README). :class:`VirtualClock` lets rate-limit tests run minutes of service time instantly.
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from ipvalue.facts.numbers import parse_number

__all__ = ["FIXTURES", "VirtualClock", "biblio_document", "legal_document", "lens_record", "odp_record"]

#: the recorded responses of the real services (tests/fixtures)
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

OPS_NAMESPACES = 'xmlns="http://www.epo.org/exchange" xmlns:ops="http://ops.epo.org" xmlns:xlink="http://www.w3.org/1999/xlink"'


class VirtualClock:
    """A clock and an async sleep that advance virtual time instantly (for rate-limit tests).

    ``now()`` is the clock; ``await sleep(s)`` moves the clock to at least the caller's wake time.
    """

    def __init__(self, start: float = 0.0):
        self.t = start
        self.slept = 0.0

    def now(self) -> float:
        """Current virtual time in seconds."""
        return self.t

    __call__ = now

    async def sleep(self, seconds: float) -> None:
        """Let other tasks run, then move the clock to this caller's wake time."""
        import asyncio

        wake = self.t + max(0.0, seconds)
        self.slept += max(0.0, seconds)
        await asyncio.sleep(0)
        self.t = max(self.t, wake)


def _d8(d: dt.date | str | None) -> str:
    if d is None:
        return ""
    if isinstance(d, str):
        d = dt.date.fromisoformat(d)
    return d.strftime("%Y%m%d")


def biblio_document(
    number: str,
    *,
    title: str = "SYNTHETIC INVENTION",
    filing_date: str = "2015-03-02",
    applicants: Iterable[str] = ("ACME CO LTD [CN]",),
    cpc: Iterable[str] = ("H04W84/20",),
    family_id: str = "90000001",
    publication_date: str = "2016-09-07",
) -> str:
    """An OPS ``exchange-document`` for a canonical number (shape of the recorded biblio answers)."""
    p = parse_number(number)
    parts = []
    for sym in cpc:
        head, sub = sym.split("/")
        parts.append(
            '<patent-classification><classification-scheme office="EP" scheme="CPCI"/>'
            f"<section>{head[0]}</section><class>{head[1:3]}</class><subclass>{head[3]}</subclass>"
            f"<main-group>{head[4:]}</main-group><subgroup>{sub}</subgroup></patent-classification>"
        )
    apps = "".join(
        f'<applicant sequence="{i + 1}" data-format="epodoc"><applicant-name><name>{escape(a)}</name>'
        "</applicant-name></applicant>"
        for i, a in enumerate(applicants)
    )
    return (
        f'<exchange-document system="ops.epo.org" family-id="{family_id}" country="{p.country}" '
        f'doc-number="{p.number}" kind="{p.kind or ""}"><bibliographic-data>'
        f'<publication-reference><document-id document-id-type="docdb"><country>{p.country}</country>'
        f"<doc-number>{p.number}</doc-number><kind>{p.kind or ''}</kind><date>{_d8(publication_date)}</date>"
        "</document-id></publication-reference>"
        f"<patent-classifications>{''.join(parts)}</patent-classifications>"
        '<application-reference><document-id document-id-type="epodoc">'
        f"<doc-number>{p.country}{p.number}</doc-number><date>{_d8(filing_date)}</date></document-id>"
        "</application-reference>"
        '<priority-claims><priority-claim sequence="1"><document-id document-id-type="epodoc">'
        f"<doc-number>{p.country}{p.number}</doc-number><date>{_d8(filing_date)}</date></document-id>"
        "</priority-claim></priority-claims>"
        f"<parties><applicants>{apps}</applicants></parties>"
        f'<invention-title lang="en">{escape(title)}</invention-title>'
        "</bibliographic-data></exchange-document>"
    )


def legal_document(
    number: str,
    *,
    filing_date: str = "2015-03-02",
    events: Iterable[Mapping[str, Any]] = (),
    family: Iterable[str] = (),
    family_id: str = "90000001",
) -> bytes:
    """An OPS ``family/.../legal`` answer: the number with its events, plus other family members.

    Each event is a mapping with ``code`` and optionally ``date`` (gazette), ``effective``, ``state``,
    ``fee_year``, ``text``, ``infl``, ``desc``.
    """

    def member(num: str, evs: Iterable[Mapping[str, Any]]) -> str:
        p = parse_number(num)
        legal = []
        for e in evs:
            inner = [
                f'<ops:L001EP desc="Country Code">{p.country}</ops:L001EP>',
                f'<ops:L007EP desc="Gazette DATE">{e.get("date", "2020-01-01")}</ops:L007EP>',
            ]
            sub = []
            if e.get("state"):
                sub.append(f'<ops:L501EP desc="Ref Country Code">{e["state"]}</ops:L501EP>')
            if e.get("fee_year"):
                sub.append(f'<ops:L520EP desc="Year of Fee Payment">{e["fee_year"]}</ops:L520EP>')
            if e.get("effective"):
                sub.append(f'<ops:L525EP desc="Effective DATE">{_d8(e["effective"])}</ops:L525EP>')
            if e.get("text"):
                inner.append(f'<ops:L510EP desc="Free Format Text">{escape(e["text"])}</ops:L510EP>')
            if sub:
                inner.append(f"<ops:L500EP>{''.join(sub)}</ops:L500EP>")
            legal.append(
                f'<ops:legal code="{e["code"]:<4}" desc="{escape(e.get("desc", e["code"]))}" '
                f'infl="{e.get("infl", " ")}">{"".join(inner)}</ops:legal>'
            )
        return (
            f'<ops:family-member family-id="{family_id}"><publication-reference>'
            f'<document-id document-id-type="docdb"><country>{p.country}</country><doc-number>{p.number}</doc-number>'
            f"<kind>{p.kind or ''}</kind><date>20160907</date></document-id></publication-reference>"
            '<application-reference><document-id document-id-type="docdb">'
            f"<country>{p.country}</country><doc-number>A{p.number}</doc-number><kind>A</kind>"
            f"<date>{_d8(filing_date)}</date></document-id></application-reference>{''.join(legal)}"
            "</ops:family-member>"
        )

    fam = [number, *family]
    body = "".join(member(n, events if n == number else ()) for n in fam)
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><ops:world-patent-data {OPS_NAMESPACES}>'
        f'<ops:patent-family legal="true" total-result-count="{len(fam)}">{body}</ops:patent-family>'
        "</ops:world-patent-data>"
    ).encode()


def lens_record(
    number: str,
    *,
    cited_by: int = 3,
    status: str = "ACTIVE",
    granted: bool = True,
    title: str = "SYNTHETIC INVENTION",
    filing_date: str = "2015-03-02",
) -> dict[str, Any]:
    """A Lens patent record for a canonical number (shape of the documented sample)."""
    p = parse_number(number)
    return {
        "lens_id": f"000-000-{zlib.crc32(number.encode()) % 1000:03d}-000-000",
        "jurisdiction": p.country,
        "doc_number": p.number,
        "kind": p.kind or "",
        "date_published": "2016-09-07",
        "biblio": {
            "application_reference": {"jurisdiction": p.country, "doc_number": p.number, "date": filing_date},
            "invention_title": [{"text": title, "lang": "en"}],
            "parties": {"applicants": [{"extracted_name": {"value": "ACME CO LTD"}}]},
            "cited_by": {"patent_count": cited_by},
            "references_cited": {"patent_count": 4},
        },
        "families": {
            "simple_family": {
                "family_id": 1,
                "size": 2,
                "members": [{"document_id": {"jurisdiction": p.country}}],
            }
        },
        "legal_status": {"granted": granted, "patent_status": status},
    }


def odp_record(
    patent_number: str,
    application: str,
    *,
    filing_date: str = "2018-02-01",
    grant_date: str | None = "2020-06-02",
    status_code: int = 150,
    status_text: str = "Patented Case",
    pta: int = 0,
    parents: Iterable[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """A USPTO ODP application record (shape of the recorded answer)."""
    return {
        "applicationNumberText": application,
        "applicationMetaData": {
            "patentNumber": patent_number,
            "inventionTitle": "SYNTHETIC INVENTION",
            "filingDate": filing_date,
            "grantDate": grant_date,
            "applicationStatusCode": status_code,
            "applicationStatusDescriptionText": status_text,
            "applicationTypeLabelName": "Utility",
            "entityStatusData": {"businessEntityStatusCategory": "Small"},
            "applicantBag": [{"applicantNameText": "ACME INC"}],
            "cpcClassificationBag": ["H01M  50/46"],
        },
        "patentTermAdjustmentData": {"adjustmentTotalQuantity": pta},
        "parentContinuityBag": list(parents),
    }
