"""Parsers against the recorded Lens sample (cambialens/lens-api-doc) and USPTO ODP answers (patent-dev/uspto-odp)."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from data_sources import lens, uspto_odp
from data_sources._errors import NotFound, ParseError


def test_lens_record(fixtures):
    (p,) = lens.parse_lens((fixtures / "lens" / "search_lens_id_031-156-664-516-153.json").read_bytes())
    assert p.patent_id == "EP2471949A1"
    assert p.title.startswith("Method for the identification by molecular techniques of genetic variants")
    assert p.filing_date == dt.date(2010, 12, 31) and p.priority_date == dt.date(2010, 12, 31)
    assert p.owner == ["PROGENIKA BIOPHARMA, S.A."]  # owners_all wins over applicants
    assert p.forward_citations == 5  # cited_by.patent_count
    assert p.backward_citations == 15
    assert p.family_size == 5 and p.family_id == "212482337"
    assert p.legal_status == "granted" and p.grant_date == dt.date(2013, 12, 25)
    assert p.claims == 15
    assert p.cpc[0] == "C12Q1/6881"
    assert p.model_extra["anticipated_term_date"] == dt.date(2030, 12, 31)
    assert p.model_extra["lens_id"] == "031-156-664-516-153"


@pytest.mark.parametrize(
    ("status", "granted", "expected"),
    [
        ("ACTIVE", True, "granted"),
        ("PENDING", False, "pending"),
        ("DISCONTINUED", False, "withdrawn"),
        ("DISCONTINUED", True, "lapsed"),
        ("INACTIVE", True, "lapsed"),
        ("EXPIRED", True, "expired"),
        ("UNKNOWN", False, None),
    ],
)
def test_lens_status_map(status, granted, expected):
    rec = {
        "jurisdiction": "EP",
        "doc_number": "1000000",
        "kind": "B1",
        "legal_status": {"patent_status": status, "granted": granted},
    }
    assert lens.lens_record_fields(rec)["legal_status"] == expected


def test_lens_malformed():
    with pytest.raises(ParseError):
        lens.parse_lens(b'{"data": [')


def test_odp_application(fixtures):
    f = uspto_odp.parse_application((fixtures / "uspto_odp" / "application_17248024.json").read_bytes())
    assert f["patent_id"] == "US11646472"
    assert f["title"] == "MAKING LITHIUM METAL - SEAWATER BATTERY CELLS HAVING PROTECTED LITHIUM ELECTRODES"
    assert f["filing_date"] == dt.date(2021, 1, 5) and f["grant_date"] == dt.date(2023, 5, 9)
    assert f["legal_status"] == "granted" and f["status_code"] == 150
    assert f["entity_size"] == "large"  # "Regular Undiscounted"
    assert f["owner"] == ["PolyPlus Battery Company"]
    assert f["cpc"][:2] == ["H01M50/46", "H01G11/06"] and len(f["cpc"]) == 20
    assert f["term_adjustment_days"] == 304
    # chain CON...CON, CIP, CON, CON, DIV back to 10/824,944 filed 2004-04-14; provisionals do not count
    assert f["earliest_filing_date"] == dt.date(2004, 4, 14)
    assert f["priority_date"] == dt.date(2004, 2, 6)  # earliest provisional


def test_odp_adjustment(fixtures):
    assert (
        uspto_odp.parse_adjustment((fixtures / "uspto_odp" / "adjustment_17248024.json").read_bytes()) == 304
    )


def test_odp_continuity(fixtures):
    parents = uspto_odp.parse_continuity((fixtures / "uspto_odp" / "continuity_17248024.json").read_bytes())
    assert len(parents) == 12
    first = parents[0]
    assert (first.child, first.parent, first.link) == ("17248024", "16695054", "CON")
    assert first.status_code == 250 and "NonPayment of Maintenance Fees" in first.status_text
    assert first.filing_date == dt.date(2019, 11, 25) and first.patent_number == "10916753"
    assert {p.link for p in parents} == {"CON", "CIP", "DIV", "PRO"}
    assert uspto_odp.earliest_filing_date(dt.date(2021, 1, 5), parents, application="17248024") == dt.date(
        2004, 4, 14
    )
    # an application outside the chain reaches no parent
    assert uspto_odp.earliest_filing_date(dt.date(2021, 1, 5), parents, application="99999999") == dt.date(
        2021, 1, 5
    )


def test_odp_status_codes(fixtures):
    data = json.loads((fixtures / "uspto_odp" / "status_codes.json").read_bytes())
    codes = {c["applicationStatusCode"]: c["applicationStatusDescriptionText"] for c in data["statusCodeBag"]}
    assert data["count"] == 241 and codes[30] == "Docketed New Case - Ready for Examination"
    # a docketed application is pending; 250 is lapsed; 150 granted
    assert uspto_odp.status_to_legal(30, codes[30], granted=False) == "pending"
    assert (
        uspto_odp.status_to_legal(
            250, "Patent Expired Due to NonPayment of Maintenance Fees Under 37 CFR 1.362", granted=True
        )
        == "lapsed"
    )
    assert uspto_odp.status_to_legal(150, "Patented Case", granted=True) == "granted"
    assert (
        uspto_odp.status_to_legal(161, "Abandoned -- Failure to Respond to an Office Action", granted=False)
        == "withdrawn"
    )


def test_odp_empty_and_malformed():
    with pytest.raises(NotFound):
        uspto_odp.parse_application(b'{"count":0,"patentFileWrapperDataBag":[]}')
    with pytest.raises(ParseError):
        uspto_odp.parse_application(b'{"count":1')
