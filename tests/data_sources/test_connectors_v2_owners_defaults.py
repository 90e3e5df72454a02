"""Connectors v2 (issue 16), second part: owners from the USPTO assignment data, no status defaults in the parse
layer, and the recordings added to the corpus (tests/fixtures/README.md gives each file's origin, recording date
and licence). Every expected value was read by hand from the raw file; the text it comes from is quoted."""

from __future__ import annotations

import copy
import datetime as dt
import json

import pandas as pd
import pytest

import data_sources as ds
from data_sources import lens, uspto_odp
from data_sources.epo_ops import legal_facts, parse_biblio, parse_family
from data_sources.uspto_odp import owner_facts, parse_application, parse_assignments
from tests.fakes import FIXTURES, FakePatentServer

OPS = FIXTURES / "epo_ops"
ODP = FIXTURES / "uspto_odp"


def odp_raw(name: str) -> dict:
    return json.loads((ODP / name).read_bytes())


def odp_record(raw: dict) -> dict:
    return (raw.get("patentFileWrapperDataBag") or raw["patentBag"])[0]


def fetch(server, numbers, sources):
    kw = {} if isinstance(server, FakePatentServer) else {"transport": server.transport()}
    return ds.fetch(numbers, sources=list(sources), base_urls=server.base_urls, env=server.env, **kw)


# -- 1. USPTO ODP owners ----------------------------------------------------------------------------------------
def test_odp_record_without_applicant_takes_the_assignee_named_in_the_same_response():
    # application_14230558.json (beta API, recorded 2024-05-22): no "applicantBag", no "firstApplicantName";
    # "inventorBag":[{"inventorNameText":"Scott C. Best"...}]; "assignmentBag":
    #   "assignmentRecordedDate":"2014-03-31", assignor "BEST, SCOTT C.", "assigneeNameText":"RAMBUS INC."
    #   "assignmentRecordedDate":"2023-10-13", assignor "RAMBUS INC.", "assigneeNameText":"K.MIZRA LLC"
    raw = odp_raw("application_14230558.json")
    assert "applicantBag" not in odp_record(raw) and "firstApplicantName" not in odp_record(raw)
    facts = parse_application(raw)
    assert facts["owner"] == ["K.MIZRA LLC"] and facts["owner_basis"] == "assignment"
    assert facts["transfers"] == 2 and facts["last_transfer_date"] == dt.date(2023, 10, 13)
    # "patentNumber":"9111608", "grantDate":"2015-08-18", "applicationStatusCode":150
    assert facts["patent_id"] == "US9111608" and facts["grant_date"] == dt.date(2015, 8, 18)
    assert facts["legal_status"] == "granted"
    # continuation chain: 14230558 <- 13656238 <- 13276708 <- 12694251 <- 11621491 <- 10923421, the last
    # "parentApplicationFilingDate":"2004-08-20" (all "claimParentageTypeCode":"CON"): a term of the 2000s
    assert facts["earliest_filing_date"] == dt.date(2004, 8, 20)


def test_odp_assignments_in_recorded_order_and_their_kinds():
    asg = parse_assignments(odp_raw("application_14230558.json"))
    assert [(a.recorded, a.assignees, a.kind) for a in asg] == [
        (dt.date(2014, 3, 31), ("RAMBUS INC.",), "transfer"),
        (dt.date(2023, 10, 13), ("K.MIZRA LLC",), "transfer"),
    ]
    # assignment_15000001.json (current ODP shape): "assigneeNameText": "SAMSUNG ELECTRONICS CO., LTD",
    # "conveyanceText": "ASSIGNMENT OF ASSIGNORS INTEREST (SEE DOCUMENT FOR DETAILS).", recorded 2016-04-19
    (one,) = parse_assignments(odp_raw("assignment_15000001.json"))
    assert one.assignees == ("SAMSUNG ELECTRONICS CO., LTD",) and one.recorded == dt.date(2016, 4, 19)
    assert len(one.assignors) == 9 and one.assignors[0] == "HEO, JIN-PIL"


def test_odp_applicant_and_assignment_in_one_record():
    # application_16123456.json: "applicantBag":[{"applicantNameText":"FUJIFILM Corporation"}], assignment of
    # 2018-09-07 from "KANADA, SHOJI" to "FUJIFILM CORPORATION"; "adjustmentTotalQuantity":127.0
    facts = parse_application(odp_raw("application_16123456.json"))
    assert facts["owner"] == ["FUJIFILM CORPORATION"]
    assert facts["term_adjustment_days"] == 127 and facts["grant_date"] == dt.date(2021, 1, 26)
    # application_18597857.json (current shape): applicant "Shanghai ArtificialIntelligence Innovation Center",
    # assignment recorded 2024-03-18 to "SHANGHAI ARTIFICIALINTELLIGENCE INNOVATION CENTER"
    facts = parse_application(odp_raw("application_18597857.json"))
    assert facts["owner"] == ["SHANGHAI ARTIFICIALINTELLIGENCE INNOVATION CENTER"]
    assert facts["legal_status"] == "pending"  # "applicationStatusCode": 30, no grantDate


def test_odp_inventors_listed_as_applicants_are_not_owners_when_an_assignee_exists():
    # older US applications (filed before 2012-09-16) name the inventors as applicants. The recorded record of
    # 14230558 with its inventor added as an applicant, its assignment data removed:
    rec = copy.deepcopy(odp_raw("application_14230558.json"))
    meta = odp_record(rec)
    meta["applicantBag"] = [{"applicantNameText": "BEST, SCOTT C."}, {"applicantNameText": "RAMBUS INC."}]
    del meta["assignmentBag"]
    facts = parse_application(rec)
    assert facts["owner"] == ["RAMBUS INC."] and facts["owner_basis"] == "applicant"
    # inventors alone stay the owners: nobody else holds the right
    assert owner_facts(["BEST, SCOTT C."], ["Scott C. Best"], [])["owner"] == ["BEST, SCOTT C."]
    # the same rule on a real OPS recording: biblio_US.2012116137.A1.xml (filed 20101109) lists as applicants
    # FANG HOWARD L, BEN-REUVEN MOSHE, BOYLE RICHARD E, KOROS ROBERT M (its four inventors) and
    # PRIMUS GREEN ENERGY INC
    (pat,) = parse_biblio((OPS / "biblio_US.2012116137.A1.xml").read_bytes(), fetched_at=0.0)
    assert pat.owner == ["PRIMUS GREEN ENERGY INC"]


def test_odp_security_interest_does_not_move_the_owner_and_pledges_until_released():
    # the recorded 15000001 assignment, followed by a security interest and its release (built on it)
    base = parse_assignments(odp_raw("assignment_15000001.json"))
    sec = uspto_odp.Assignment(
        dt.date(2019, 5, 1), dt.date(2019, 4, 30), "SECURITY INTEREST", "security", ("BANK OF EXAMPLE",),
        ("SAMSUNG ELECTRONICS CO., LTD",), None,
    )  # fmt: skip
    rel = uspto_odp.Assignment(
        dt.date(2021, 6, 1), dt.date(2021, 5, 30), "RELEASE BY SECURED PARTY", "release",
        ("SAMSUNG ELECTRONICS CO., LTD",), ("BANK OF EXAMPLE",), None,
    )  # fmt: skip
    pledged = owner_facts([], [], [*base, sec])
    assert pledged["owner"] == ["SAMSUNG ELECTRONICS CO., LTD"] and pledged["transfers"] == 1
    assert pledged["pledged"] is True and pledged["pledgee"] == "BANK OF EXAMPLE"
    assert pledged["pledge_date"] == dt.date(2019, 4, 30)
    released = owner_facts([], [], [*base, sec, rel])
    assert released["pledged"] is False and released["owner"] == ["SAMSUNG ELECTRONICS CO., LTD"]
    assert "pledged" not in owner_facts([], [], base)  # nothing said about pledges: the field is not stated


def test_odp_fetch_reads_the_assignment_sub_resource_over_both_transports(any_server):
    # the search hit carries no assignment data (as the real search answer): the connector asks /assignment
    res = fetch(any_server, ["US9111608B2"], ["uspto_odp"])
    row = res.facts.loc["US9111608B2"]
    assert row["owner"] == "K.MIZRA LLC"
    assert str(row["earliest_filing_date"].date()) == "2004-08-20"
    assert row["legal_status"] == "granted"
    assert any(r["path"].endswith("/14230558/assignment") for r in any_server.log)


def test_odp_fetch_with_no_recorded_assignment_keeps_the_applicant(any_server):
    # application_17248024.json carries no "assignmentBag": the fake answers /assignment with ODP's 404
    # "No matching records found"; the owner stays "firstApplicantName": "PolyPlus Battery Company"
    res = fetch(any_server, ["US11646472B2"], ["uspto_odp"])
    assert res.facts.loc["US11646472B2", "owner"] == "PolyPlus Battery Company"
    assert res.failures.empty


# -- 2. no status defaults in the parse layer --------------------------------------------------------------------
def test_ops_biblio_without_a_known_kind_leaves_the_status_unknown():
    # biblio_US.2006142694.A1.xml with its kind changed to "A": a US "A" after 2001-01-02 is no known kind
    text = (OPS / "biblio_US.2006142694.A1.xml").read_text(encoding="utf-8")
    text = text.replace('kind="A1"', 'kind="A"').replace("<kind>A1</kind>", "<kind>A</kind>")
    (pat,) = parse_biblio(text, fetched_at=0.0)
    assert pat.legal_status is None and pat.grant_date is None


def test_ops_legal_facts_without_events_or_known_kind_leave_the_status_unknown():
    from data_sources.epo_ops import Family, FamilyMember

    # an office whose kind codes the table does not hold (BR), no legal event: unknown, not granted
    member = FamilyMember(
        "BR1234567B1", "BR", "B1", dt.date(2016, 9, 7), "BR2015123456A", dt.date(2015, 3, 2)
    )
    assert legal_facts(Family("1", 1, [member]), "BR1234567B1")["legal_status"] is None
    # a family answer without legal events (family_WO.2009085664.A2.xml): an application without a grant in its
    # family stays pending because its kind says so (EP 2225660 A2 and A4 only), never granted by default
    fam = parse_family((OPS / "family_WO.2009085664.A2.xml").read_bytes())
    assert legal_facts(fam, "EP2225660A2")["legal_status"] == "pending"


def test_lens_record_without_legal_status_is_unknown():
    raw = json.loads((FIXTURES / "lens" / "search_lens_id_031-156-664-516-153.json").read_bytes())
    del raw["data"][0]["legal_status"]
    (pat,) = lens.parse_lens(raw, fetched_at=0.0)
    assert pat.legal_status is None
    raw["data"][0]["legal_status"] = {"patent_status": "UNKNOWN"}
    assert lens.parse_lens(raw, fetched_at=0.0)[0].legal_status is None


def test_odp_record_without_status_or_pct_is_unknown():
    # application_PCTUS0719317.json: "applicationTypeLabelName":"PCT", "applicationStatusCode":218,
    # "applicationStatusDescriptionText":"RO PROCESSING COMPLETED-PLACED IN STORAGE ", "filingDate":"2007-09-05",
    # provisional parent "parentApplicationFilingDate":"2006-09-05", applicant "E. I. DU PONT DE NEMOURS AND COMPANY"
    facts = parse_application(odp_raw("application_PCTUS0719317.json"))
    assert facts["legal_status"] is None
    assert facts["filing_date"] == dt.date(2007, 9, 5) and facts["priority_date"] == dt.date(2006, 9, 5)
    assert facts["earliest_filing_date"] == dt.date(2007, 9, 5)  # a provisional does not start the term
    assert facts["owner"] == ["E. I. DU PONT DE NEMOURS AND COMPANY"]
    rec = copy.deepcopy(odp_raw("application_18597857.json"))
    meta = odp_record(rec)["applicationMetaData"]
    del meta["applicationStatusCode"], meta["applicationStatusDescriptionText"]
    assert parse_application(rec)["legal_status"] is None


def test_unknown_status_stays_unknown_through_fetch_and_fails_eligibility(any_server):
    import ipvalue as iv
    from ipvalue.demo import load_demo

    any_server.add_lens("EP3200000B1", status="UNKNOWN", granted=False)
    res = fetch(any_server, ["EP3200000B1"], ["lens"])
    assert pd.isna(res.facts.loc["EP3200000B1", "legal_status"])
    assert "legal_status" in res.facts.loc["EP3200000B1", "unstated_fields"].split(";")
    frame, loan, as_of = load_demo()
    row = frame.iloc[[0]].copy()
    unknown = res.facts.loc["EP3200000B1", "legal_status"]  # the fetched (unknown) status
    # valuation keeps the row (no row lost) with its status unknown, no value and a note naming the field
    # (never a silent "granted"); eligibility then fails it with STATUS_UNKNOWN
    valued = iv.value_portfolio(row.assign(legal_status=unknown), as_of=as_of, rng=0)
    assert list(valued.index) == list(row.index)
    assert valued["status_as_of"].iloc[0] == "unknown"
    assert pd.isna(valued["value"].iloc[0])
    assert "legal_status" in str(valued["value_notes"].iloc[0])
    assessment = iv.assess_collateral(valued, loan=loan)
    assert "STATUS_UNKNOWN" in str(assessment.patents["ineligible_reasons"].iloc[0])


# -- 3. the recordings added to the corpus ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("member", "status", "grant_date"),
    [
        # family_WO.2009085664.A2.xml (recorded 2024-05-22), members with their publication dates:
        ("TWI452476B", "granted", dt.date(2014, 9, 11)),  # TW I452476 B 20140911 (application TW97145995A)
        # TW 200928818 A 20090701: the same application TW97145995A was granted as TWI452476B
        ("TW200928818A", "granted", dt.date(2014, 9, 11)),
        ("CN101911042B", "granted", dt.date(2016, 9, 14)),  # CN 101911042 B 20160914
        ("CN101911042A", "granted", dt.date(2016, 9, 14)),  # the A of the same application CN200880123968A
        ("JP4961043B2", "granted", dt.date(2012, 6, 27)),  # JP 4961043 B2 20120627
        ("US8131731B2", "granted", dt.date(2012, 3, 6)),  # US 8131731 B2 20120306 (application US96495207A)
        ("EP2225660A2", "pending", None),  # EP 2225660 A2 / A4 only
    ],
)
def test_family_with_tw_cn_jp_us_members(member, status, grant_date):
    fam = parse_family((OPS / "family_WO.2009085664.A2.xml").read_bytes())
    assert fam.family_id == "40799763" and fam.size == 20  # family-id="40799763", total-result-count="20"
    f = legal_facts(fam, member)
    assert f["legal_status"] == status and f["grant_date"] == grant_date


@pytest.mark.parametrize(
    ("name", "number", "status", "filing", "owner"),
    [
        # (file, docdb number, status its kind implies, application <date>, the one applicant of the office's
        # own list, data-format="original"; the epodoc list spells the same party "MICROSOFT CORP",
        # "UWM RES FOUNDATION INC", "KANG PIL-SIK")
        ("biblio_WO.2009085664.A2.xml", "WO2009085664A2", "pending", dt.date(2008, 12, 12), "MICROSOFT CORPORATION"),
        ("biblio_WO.2020081771.A1.xml", "WO2020081771A1", "pending", dt.date(2019, 10, 17), "UWM RESEARCH FOUNDATION, INC"),
        ("biblio_WO.2010050748.A2.xml", "WO2010050748A2", "pending", dt.date(2009, 10, 28), "KANG, PIL-SIK"),
        ("biblio_CA.3237996.A1.xml", "CA3237996A1", "pending", dt.date(2014, 6, 23), "GOOGLE LLC"),
        ("biblio_US.2012116137.A1.xml", "US2012116137A1", "pending", dt.date(2010, 11, 9), "PRIMUS GREEN ENERGY INC"),
    ],
)  # fmt: skip
def test_added_biblio_recordings(name, number, status, filing, owner):
    (pat,) = parse_biblio((OPS / name).read_bytes(), fetched_at=0.0)
    assert (pat.patent_id, pat.legal_status, pat.filing_date) == (number, status, filing)
    assert pat.owner == [owner]  # one party, not its two spellings


def test_full_cycle_answer_gives_the_application_and_its_grant():
    # fullcycle_EP.1000000.A1.xml: EP 1000000 A1 <date>20000517</date> and B1 <date>20030212</date>,
    # application <date>19991108</date>
    pats = {
        p.patent_id: p
        for p in parse_biblio((OPS / "fullcycle_EP.1000000.A1.xml").read_bytes(), fetched_at=0.0)
    }
    assert pats["EP1000000A1"].legal_status == "pending"
    assert pats["EP1000000B1"].legal_status == "granted"
    assert pats["EP1000000B1"].grant_date == dt.date(2003, 2, 12)
    assert pats["EP1000000B1"].filing_date == dt.date(1999, 11, 8)


# -- 6. the fetch command is light to import ----------------------------------------------------------------
def test_fetch_command_module_imports_no_heavy_library():
    # ``ipvalue --help`` imports every command module; data_sources.cli must not pull in pandas, numpy,
    # pydantic or httpx at import (the time itself is measured in benchmarks, never asserted)
    import subprocess
    import sys

    code = (
        "import sys, data_sources.cli\n"
        "print(','.join(m for m in ('pandas', 'numpy', 'pydantic', 'httpx') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
