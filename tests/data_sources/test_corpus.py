"""Connectors v2 (issue 16) on the corpus of real recorded answers (tests/fixtures/README.md lists each file's
origin, recording date and licence). Every expected value was read by hand from the raw file; the line or text
it comes from is quoted next to it."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

import data_sources as ds
from data_sources.epo_ops import legal_facts, parse_biblio, parse_family
from data_sources.kind_codes import KIND_CODES, is_grant
from ipvalue import normalize_number
from tests.fakes import FIXTURES, FakePatentServer

OPS = FIXTURES / "epo_ops"


def biblio(name: str):
    (pat,) = parse_biblio((OPS / name).read_bytes(), fetched_at=0.0)
    return pat


# -- kinds by office and era ------------------------------------------------------------------------------
def test_every_biblio_of_the_corpus_parses_with_its_kind_read_by_office():
    # (file, docdb number in the file's exchange-document, legal_status the kind code implies)
    cases = [
        ("biblio_CN.104968889.A.xml", "CN104968889A", "pending"),
        ("biblio_US.9231827.B2.xml", "US9231827B2", "granted"),
        ("biblio_US.10047600.B2.xml", "US10047600B2", "granted"),
        ("biblio_US.2014102795.A1.xml", "US2014102795A1", "pending"),
        ("biblio_WO.2014059282.A2.xml", "WO2014059282A2", "pending"),
        ("biblio_EP.2906782.A2.xml", "EP2906782A2", "pending"),
        ("biblio_CA.2300029.C.xml", "CA2300029C", "granted"),
        ("biblio_JP.2005533465.A.xml", "JP2005533465A", "pending"),
        ("biblio_RU.2015117646.A.xml", "RU2015117646A", "pending"),
    ]
    for name, number, status in cases:
        pat = biblio(name)
        assert pat.patent_id == number, name
        assert pat.legal_status == status, name


def test_kind_codes_by_office_and_era():
    assert is_grant("US", "A", dt.date(2000, 7, 25)) is True  # US before 2001-01-02: A is the patent
    assert is_grant("US", "A", dt.date(2005, 1, 1)) is None  # no US "A" after 2001: unknown, not a guess
    assert is_grant("US", "A1") is False and is_grant("US", "B2") is True
    assert is_grant("AT", "T") is True and is_grant("DE", "D1") is True and is_grant("DE", "T2") is True
    assert is_grant("DE", "T1") is False  # translation of an application
    assert is_grant("WO", "A1") is False and is_grant("EP", "A2") is False
    assert (
        is_grant("CN", "C", dt.date(2005, 1, 1)) is True and is_grant("CN", "U", dt.date(2015, 1, 1)) is True
    )
    assert is_grant("TW", "B") is True and is_grant("KR", "Y1") is True and is_grant("JP", "U") is True
    assert is_grant("XX", "B1") is None
    assert all(row.source in ("ST16", "USPTO", "EPO", "CNIPA", "JPO", "KIPO", "TIPO") for row in KIND_CODES)


def test_family_grants_of_other_eras_and_offices_read_as_grants():
    # family_EP.1000000.A1.xml members: EP1000000B1 <date>20030212</date>, AT232441T <date>20030215</date>,
    # DE69905327D1 <date>20030320</date>, NL1010536C2 <date>20000515</date>, US6093011A
    family = parse_family((OPS / "family_EP.1000000.A1.xml").read_bytes())
    members = {m.publication: m for m in family.members}
    assert set(members) >= {"EP1000000B1", "AT232441T", "DE69905327D1", "NL1010536C2", "US6093011A"}
    for pub in ("AT232441T", "DE69905327D1", "NL1010536C2", "US6093011A"):
        assert is_grant(members[pub].country, members[pub].kind, members[pub].publication_date), pub
    # the EP application's grant date is its B1's publication, 2003-02-12
    assert legal_facts(family, "EP1000000A1")["grant_date"] == dt.date(2003, 2, 12)
    # a validation named in docdb form is requestable and its facts read without a crash
    assert normalize_number("AT.232441.T") == "AT232441T"
    at = legal_facts(family, "AT232441T")
    assert at["grant_date"] == dt.date(2003, 2, 15) and at["legal_status"] == "granted"


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [("TWI452476B", "TWI452476B"), ("TW.I452476.B", "TWI452476B"), ("ATE232441T1", "ATE232441T1")],
)
def test_docdb_numbers_with_letter_prefixes_are_requestable(raw, canonical):
    from data_sources.epo_ops import to_docdb

    n = normalize_number(raw)
    assert n == canonical
    assert (
        to_docdb(n)[2]
        == f"{n[:2]}.{n[2:-2] if n[-1].isdigit() else n[2:-1]}.{n[-2:] if n[-1].isdigit() else n[-1]}"
    )


# -- owners -------------------------------------------------------------------------------------------------
def test_owner_is_the_assignee_never_the_inventors():
    # biblio_US.2006142694.A1.xml: <applicant sequence="1" data-format="original"> ST. JUDE MEDICAL, ATRIAL
    # FIBRILLATION DIVISION, INC; inventors BEDNAREK MICHAEL C, WILKOWSKE ERIC J, STEHR RICHARD E, BUTLER WILLIAM E
    pat = biblio("biblio_US.2006142694.A1.xml")
    assert pat.owner == ["ST. JUDE MEDICAL, ATRIAL FIBRILLATION DIVISION, INC"]


# -- security interests, releases, name changes, AIA trials ------------------------------------------------
def test_us_security_interest_sets_pledged_and_a_name_change_is_no_transfer():
    # family_legal_US.10465445.B2.xml, events of US201815919370A:
    #   AS 2018-03-14 "ASSIGNMENT OF ASSIGNORS INTEREST;ASSIGNORS:GETZLAF, DONALD;..."   -> a transfer
    #   AS 2018-03-14 "CHANGE OF NAME;ASSIGNOR:NCS OILFIELD SERVICES CANADA, INC.;..."   -> not a transfer
    #   AS 2020-08-17 OWNER "WELLS FARGO BANK NATIONAL ASSOCIATION, TEXAS", "SECURITY INTEREST;...",
    #      Effective DATE 20200806                                                       -> pledged
    #   PGR 2020-09-15 (PGR2020-00077, -00078), IPR 2020-10-27 (IPR2020-01615)           -> invalidation pending
    family = parse_family((OPS / "family_legal_US.10465445.B2.xml").read_bytes())
    f = legal_facts(family, "US10465445B2")
    assert f["pledged"] is True
    assert f["pledgee"] == "WELLS FARGO BANK NATIONAL ASSOCIATION, TEXAS"
    assert f["pledge_date"] == dt.date(2020, 8, 6)
    assert f["transfers"] == 1 and f["last_transfer_date"] == dt.date(2018, 3, 14)
    assert f["invalidation_pending"] is True
    assert f["legal_status"] == "granted"


def test_a_release_clears_the_pledge():
    family = parse_family((OPS / "family_legal_US.10465445.B2.xml").read_bytes())
    member = family.members[0]
    from data_sources.epo_ops import Family, FamilyMember, LegalEvent

    release = LegalEvent(
        member.publication, "US", "AS", "ASSIGNMENT", "", dt.date(2022, 5, 2),
        text="RELEASE BY SECURED PARTY;ASSIGNOR:WELLS FARGO BANK NATIONAL ASSOCIATION, TEXAS;REEL/FRAME:1/1",
        party="NCS MULTISTAGE INC.",
    )  # fmt: skip
    released = Family(
        family.family_id,
        family.size,
        [FamilyMember(**{**vars(member), "events": (*member.events, release)})],
    )
    f = legal_facts(released, "US10465445B2")
    assert f["pledged"] is False and f["pledgee"] is None


def test_cn_pledge_registration_events_set_and_clear_pledged():
    from data_sources.epo_ops import Family, FamilyMember, LegalEvent

    def fam(*codes):
        evs = tuple(
            LegalEvent("CN105123456B", "CN", c, c, "", dt.date(2020, 1, 1 + i)) for i, c in enumerate(codes)
        )
        member = FamilyMember(
            "CN105123456B", "CN", "B", dt.date(2017, 8, 1), "CN201510123456A", dt.date(2015, 3, 2), evs
        )
        return legal_facts(Family("1", 1, [member]), "CN105123456B")

    assert fam("PE01")["pledged"] is True and fam("PE01")["pledge_date"] == dt.date(2020, 1, 1)
    assert fam("PE01", "PM01")["pledged"] is True
    assert fam("PE01", "PC01")["pledged"] is False
    assert fam("PP01")["in_litigation"] is True and fam("PP01", "PD01")["in_litigation"] is False
    assert fam("IW01")["legal_status"] == "revoked"
    assert "pledged" not in fam("GR01")  # no pledge event: the events do not decide it


# -- ODP and Lens ----------------------------------------------------------------------------------------------
def test_odp_pending_application_of_2024():
    from data_sources.uspto_odp import parse_application

    raw = (FIXTURES / "uspto_odp" / "application_18597857.json").read_bytes()
    # "applicationNumberText": "18597857", "filingDate": "2024-03-06", "applicationStatusCode": 30, no grantDate
    facts = parse_application(raw)
    assert facts.get("filing_date") == dt.date(2024, 3, 6)
    assert facts.get("legal_status") != "granted"


# -- quota kinds ------------------------------------------------------------------------------------------------
def test_anonymous_per_minute_quota_is_retried_not_an_auth_failure(any_server, vclock):
    server = any_server  # in process (MockTransport) and over loopback sockets
    server.inject("anonymous_minute", "/legal", times=1, retry_after="2")
    kw = {} if isinstance(server, FakePatentServer) else {"transport": server.transport()}
    res = ds.fetch(
        ["EP2400812A1"],
        sources=["epo_ops"],
        base_urls=server.base_urls,
        env=server.env,
        source_options={"epo_ops": {"monotonic": vclock.now, "sleep": vclock.sleep}},
        **kw,
    )
    assert list(res.facts.index) == ["EP2400812A1"] and res.failures.empty
    assert any(r["status"] == 403 for r in server.requests("/epo"))  # the rejection really happened


# -- end to end: ipvalue fetch on the fake server, then the assessment -----------------------------------------
def test_fetch_end_to_end_pledge_from_a_recorded_event_gives_already_pledged(tmp_path):
    from typer.testing import CliRunner

    import ipvalue as iv
    from data_sources.cli import BASE_URL_ENV
    from ipvalue.cli import app, register_commands
    from ipvalue.demo import load_demo

    register_commands()
    with FakePatentServer() as srv:  # serves family_legal_US.10465445.B2.xml as recorded
        srv.add_ep(  # the biblio is synthetic; its dates as in the recording: filed 20180313, published 20191105
            "US10465445B2",
            legal=False,
            applicants=["NCS MULTISTAGE INC"],
            filing_date="2018-03-13",
            publication_date="2019-11-05",
        )
        env = {**srv.env, **{BASE_URL_ENV[k]: v for k, v in srv.base_urls.items()}}
        out = tmp_path / "facts.csv"
        r = CliRunner(env=env).invoke(
            app,
            ["fetch", "US10465445B2", "--source", "epo_ops", "-o", str(out), "--failures",
             str(tmp_path / "f.csv"), "--no-cache"],
        )  # fmt: skip
    assert r.exit_code == 0, r.output
    facts = pd.read_csv(out).set_index("patent_id")
    assert bool(facts.loc["US10465445B2", "pledged"]) is True
    assert facts.loc["US10465445B2", "pledgee"] == "WELLS FARGO BANK NATIONAL ASSOCIATION, TEXAS"

    frame, loan, as_of = load_demo()
    row = frame.iloc[[0]].copy()
    row["pledged"] = True  # the fetched fact, as a bank would merge it into its portfolio
    valued = iv.value_portfolio(row, as_of=as_of, rng=0)
    assessment = iv.assess_collateral(valued, loan=loan)
    assert "ALREADY_PLEDGED" in str(assessment.patents["ineligible_reasons"].iloc[0])


def test_recorded_security_interest_sets_pledged_over_both_transports(any_server):
    # family_legal_US.10465445.B2.xml as recorded: AS "SECURITY INTEREST", OWNER "WELLS FARGO BANK NATIONAL
    # ASSOCIATION, TEXAS", Effective DATE 20200806; the biblio is synthetic (filed 20180313, published 20191105)
    any_server.add_ep(
        "US10465445B2", legal=False, applicants=["NCS MULTISTAGE INC"], filing_date="2018-03-13",
        publication_date="2019-11-05",
    )  # fmt: skip
    kw = {} if isinstance(any_server, FakePatentServer) else {"transport": any_server.transport()}
    res = ds.fetch(
        ["US10465445B2"], sources=["epo_ops"], base_urls=any_server.base_urls, env=any_server.env, **kw
    )
    row = res.facts.loc["US10465445B2"]
    assert bool(row["pledged"]) is True and row["pledgee"] == "WELLS FARGO BANK NATIONAL ASSOCIATION, TEXAS"
    assert str(pd.Timestamp(row["pledge_date"]).date()) == "2020-08-06"
