"""The connectors' rules checked against real recorded answers and the practitioners' codes (review of
2026-12-04). Every expected value was read by hand from the raw file; the text it comes from is quoted next to
it. tests/fixtures/README.md gives each file's origin, recording date and licence."""

from __future__ import annotations

import datetime as dt

import pytest

from data_sources.epo_ops import Family, FamilyMember, LegalEvent, legal_facts, parse_biblio, parse_family
from tests.fakes import FIXTURES

OPS = FIXTURES / "epo_ops"


def biblio(name: str):
    (pat,) = parse_biblio((OPS / name).read_bytes(), fetched_at=0.0)
    return pat


# -- owners: the epodoc and the original applicant lists name the same parties ---------------------------------
@pytest.mark.parametrize(
    ("name", "owners"),
    [
        # <applicant data-format="epodoc"> SCIENT DRILLING INT [US]; <applicant data-format="original">
        # SCIENTIFIC DRILLING INTERNATIONAL, INC: one party, two spellings
        ("biblio_EP.2906782.A2.xml", ["SCIENTIFIC DRILLING INTERNATIONAL, INC"]),
        ("biblio_US.9291047.B2.xml", ["SCIENTIFIC DRILLING INTERNATIONAL, INC"]),
        ("biblio_US.2014102795.A1.xml", ["SCIENTIFIC DRILLING INTERNATIONAL, INC"]),
        ("biblio_WO.2014059282.A2.xml", ["SCIENTIFIC DRILLING INTERNATIONAL, INC"]),
        # epodoc SCIENT DRILLING INT [US]; original SCIENTIFIC DRILLING INTERNATIONAL
        ("biblio_CA.2300029.C.xml", ["SCIENTIFIC DRILLING INTERNATIONAL"]),
        # epodoc SCIENT DRILLING INTERNATIONAL INC [US]; original Scientific Drilling International, Inc
        ("biblio_US.10047600.B2.xml", ["Scientific Drilling International, Inc"]),
        # epodoc TOASTER LABS INC [US]; original TOASTER LABS, INC
        ("biblio_EP.3082535.A1.xml", ["TOASTER LABS, INC"]),
        # epodoc "... THE MINI OF NATURAL RESOURCES CANADA" (truncated); original "... THE MINISTER OF ..."
        (
            "biblio_WO.2018148832.A1.xml",
            [
                "HER MAJESTY THE QUEEN IN RIGHT OF CANADA AS REPRESENTED BY THE MINISTER OF NATURAL RESOURCES CANADA"
            ],
        ),
        # epodoc BOER BEHEER NIJMEGEN BV DE [NL]; original BEHEERMAATSCHAPPIJ DE BOER NIJMEGEN B.V
        ("fullcycle_EP.1000000.A1.xml", None),
        # epodoc PRIMUS GREEN ENERGY INC only; original PRIMUS GREEN ENERGY INC, and BLUESCAPE CLEAN FUELS, LLC:
        # the epodoc list missed a real co-applicant
        ("biblio_AU.2013290010.A1.xml", ["PRIMUS GREEN ENERGY INC", "BLUESCAPE CLEAN FUELS, LLC"]),
        # original only: 9SOLUTIONS OY, and 9Solutions Oy (one party listed twice); epodoc 9SOLUTIONS OY [FI]
        ("biblio_EP.2400812.A1.xml", ["9SOLUTIONS OY"]),
        # RU: no epodoc applicant, original САЙЕНТИФИК ДРИЛЛИНГ ИНТЕРНЭШНЛ, ИНК.
        ("biblio_RU.2015117646.A.xml", ["САЙЕНТИФИК ДРИЛЛИНГ ИНТЕРНЭШНЛ, ИНК."]),
    ],
)
def test_one_party_is_one_owner_whatever_its_spellings(name, owners):
    pats = parse_biblio((OPS / name).read_bytes(), fetched_at=0.0)
    if owners is None:  # the full-cycle answer: A1 and B1, both with the Dutch company once
        assert [p.owner for p in pats] == [["BEHEERMAATSCHAPPIJ DE BOER NIJMEGEN B.V"]] * 2
    else:
        assert pats[0].owner == owners


def test_inventors_named_as_applicants_are_still_left_out_of_the_original_list():
    # biblio_US.9231827.B2.xml, original list: BIGFIX, INC, / HINDAWI DAVID SALIM, / ... eight inventors ... /
    # INTERNATIONAL BUSINESS MACHINES CORPORATION; epodoc list: the eight inventors and IBM [US]. The
    # bibliographic applicants are not the owner of record (the USPTO assignment data is, see uspto_odp)
    assert biblio("biblio_US.9231827.B2.xml").owner == [
        "BIGFIX, INC",
        "INTERNATIONAL BUSINESS MACHINES CORPORATION",
    ]


# -- untested recordings: legal status, grant date, fees, family --------------------------------------------
def test_ep_1000000_lapsed_in_every_state_from_the_legal_answer_alone():
    # legal_EP.1000000.A1.xml: PGFP "Year of Fee Payment 11" for NL, GB, BE (Payment DATE 20091130); then
    # PG25 BE "Effective DATE 20101130", NL "Effective DATE 20110601", GB "Effective DATE 20101108"; the other
    # states PG25 in 2003 (translation not filed); STAA "STATUS: NO OPPOSITION FILED WITHIN TIME LIMIT"
    family = parse_family((OPS / "legal_EP.1000000.A1.xml").read_bytes())
    f = legal_facts(family, "EP1000000A1")
    assert f["legal_status"] == "lapsed"
    assert f["lapse_date"] == dt.date(2011, 6, 1)  # the last state to lapse, NL
    assert f["in_force_states"] is None
    assert set(f["lapsed_states"].split(";")) >= {"BE", "NL", "GB", "DE", "FR"}
    # application date 1999-11-08 + fee year 11 paid
    assert f["fees_paid_through"] == dt.date(2010, 11, 8)
    assert f["family_size"] == 6  # <ops:patent-family total-result-count="6">


def test_ep_2906782_family_grants_of_members_and_an_a1_whose_application_issued():
    # family_EP.2906782.A2.xml: US9291047B2 <date>20160322</date> and US2014102795A1 share the application
    # US201314052000A (<date>20131011</date>); US10047600B2 <date>20180814</date> from US201615044813A
    # (<date>20160216</date>); EP2906782A2 / A4, CN104968889A, RU2015117646A, CA2887530A1 unexamined
    family = parse_family((OPS / "family_EP.2906782.A2.xml").read_bytes())
    assert family.size == 11
    assert family.jurisdictions == ["CA", "CN", "EP", "RU", "US", "WO"]
    pre = legal_facts(family, "US2014102795A1")
    assert pre["legal_status"] == "granted" and pre["grant_date"] == dt.date(2016, 3, 22)
    cont = legal_facts(family, "US10047600B2")
    assert cont["grant_date"] == dt.date(2018, 8, 14) and cont["filing_date"] == dt.date(2016, 2, 16)
    for number in ("EP2906782A2", "CN104968889A", "RU2015117646A", "CA2887530A1"):
        assert legal_facts(family, number)["legal_status"] == "pending", number


def test_ca_2300029_an_examination_request_decides_nothing_and_the_c_is_the_grant():
    # legal_CA.2300029.C.xml: one event, EEER "EXAMINATION REQUEST" (2005-02-03); the member is CA2300029C
    family = parse_family((OPS / "legal_CA.2300029.C.xml").read_bytes())
    f = legal_facts(family, "CA2300029C")
    assert f["legal_event_codes"] == "EEER"
    assert f["legal_status"] == "granted" and f["grant_date"] == dt.date(2005, 11, 1)
    assert f["filing_date"] == dt.date(2000, 3, 6)


# -- CN gazette codes (CNIPA-gazette parsing schema, table `constant`) ---------------------------------------
def _cn(*codes: str, kind: str = "B") -> dict:
    evs = tuple(
        LegalEvent("CN105123456B", "CN", c, c, "", dt.date(2020, 1, 1 + i)) for i, c in enumerate(codes)
    )
    pub = "CN105123456" + kind
    member = FamilyMember(pub, "CN", kind, dt.date(2017, 8, 1), "CN201510123456A", dt.date(2015, 3, 2), evs)
    return legal_facts(Family("1", 1, [member]), pub)


def test_cn_restoration_after_an_unpaid_fee_brings_the_right_back():
    # CF01 未缴年费专利权终止, then RR01 权利的恢复
    assert _cn("CF01")["legal_status"] == "lapsed"
    restored = _cn("CF01", "RR01")
    assert restored["legal_status"] == "granted" and restored["lapse_date"] is None
    # a lapse after the restoration stands
    assert _cn("CF01", "RR01", "CF01")["legal_status"] == "lapsed"
    # a restoration never revives an expired or invalidated right
    assert _cn("CX01", "RR01")["legal_status"] == "expired"
    assert _cn("IW01", "RR01")["legal_status"] == "revoked"


def test_cn_surrender_ends_the_right_and_partial_invalidation_does_not():
    # AV01 专利权的主动放弃 (Patent Law Art. 44: the right ends when the patentee surrenders it in writing)
    f = _cn("AV01")
    assert f["legal_status"] == "lapsed" and f["lapse_date"] == dt.date(2020, 1, 1)
    # IP01 无效公告, the schema's table of partial invalidations: the right stays in force
    assert _cn("IP01")["legal_status"] == "granted"


def test_cn_licence_recordals_set_and_clear_licensed():
    # EE01 / EM01 / EC01 专利实施许可合同备案的生效 / 变更 / 注销
    assert _cn("EE01")["licensed"] is True
    assert _cn("EE01", "EM01")["licensed"] is True
    assert _cn("EE01", "EC01")["licensed"] is False
    assert _cn("EE01", "EE01", "EC01")["licensed"] is True  # two licences recorded, one cancelled
    assert "licensed" not in _cn("GR01")  # no licence event: the events do not decide it


def test_ep_state_reinstated_after_its_lapse_is_in_force():
    # PGRI "Patent reinstated in a contracting state" (epo.org, "INPADOC unlocked"). The recorded EP2400812
    # answer, with DE's fees as recorded, plus a lapse in DE and then its reinstatement
    family = parse_family((OPS / "legal_EP.2400812.A1.xml").read_bytes())
    member = family.members[0]

    def with_events(*extra: LegalEvent) -> dict:
        fam = Family(
            family.family_id,
            family.size,
            [FamilyMember(**{**vars(member), "events": (*member.events, *extra)})],
        )
        return legal_facts(fam, "EP2400812A1")

    base = with_events()
    assert "DE" in base["in_force_states"].split(";")
    lapse = LegalEvent(member.publication, "EP", "PG25", "LAPSED", "-", dt.date(2030, 1, 1), state="DE")
    back = LegalEvent(member.publication, "EP", "PGRI", "REINSTATED", "+", dt.date(2030, 3, 1), state="DE")
    assert "DE" not in with_events(lapse)["in_force_states"].split(";")
    after = with_events(lapse, back)
    assert "DE" in after["in_force_states"].split(";") and "DE" not in after["lapsed_states"].split(";")
    assert after["fees_paid_through"] == base["fees_paid_through"]


# -- numbers: letter prefixes and the US pre-grant publication serial ----------------------------------------
@pytest.mark.parametrize(
    ("typed", "canonical", "docdb"),
    [
        # the USPTO's number formats: reissue RE35,312, plant PP8,901, SIR H1,523, design D339,456
        ("US RE45,678 E", "USRE45678E", "US.RE45678.E"),
        ("USPP12345P2", "USPP12345P2", "US.PP12345.P2"),
        ("US H1,523 H", "USH1523H", "US.H1523.H"),
        ("US D339,456 S", "USD339456S", "US.D339456.S"),
        # printed as US 2014/0102795 A1; OPS answers doc-number="2014102795" (biblio_US.2014102795.A1.xml)
        ("US 2014/0102795 A1", "US20140102795A1", "US.2014102795.A1"),
        ("US2014102795A1", "US2014102795A1", "US.2014102795.A1"),
    ],
)
def test_us_numbers_with_letter_prefixes_and_publication_serials(typed, canonical, docdb):
    from data_sources.epo_ops import to_docdb
    from ipvalue import normalize_number

    assert normalize_number(typed) == canonical
    assert to_docdb(canonical) == ("publication", "docdb", docdb)


def test_a_publication_typed_as_the_uspto_prints_it_is_found_in_ops(any_server):
    import data_sources as ds
    from tests.fakes import FakePatentServer

    kw = {} if isinstance(any_server, FakePatentServer) else {"transport": any_server.transport()}
    res = ds.fetch(
        ["US 2014/0102795 A1"], sources=["epo_ops"], base_urls=any_server.base_urls, env=any_server.env, **kw
    )
    assert res.failures.empty, res.failures.to_dict("records")
    row = res.facts.loc["US20140102795A1"]
    # biblio_US.2014102795.A1.xml: application <date>20131011</date>, original applicant
    # SCIENTIFIC DRILLING INTERNATIONAL, INC
    assert str(row["filing_date"])[:10] == "2013-10-11"
    assert row["owner"] == "SCIENTIFIC DRILLING INTERNATIONAL, INC"


# -- US maintenance fees: paid-through dates from the USPTO's own events ------------------------------------
def test_odp_maintenance_fee_events_give_fees_paid_through():
    import datetime as dt

    from data_sources.uspto_odp import parse_application

    # application_14230558.json (US 9,111,608, "grantDate":"2015-08-18"): eventDataBag
    #   {"eventCode":"M1551","eventDescriptionText":"Payment of Maintenance Fee, 4th Year, Large Entity",
    #    "eventDate":"2019-02-18"}, {"eventCode":"M1552", "... 8th Year, Large Entity","eventDate":"2023-02-20"}
    # the 8th-year fee paid, the next (11.5 years, 37 CFR 1.362(d)) falls due 2027-02-18
    facts = parse_application((FIXTURES / "uspto_odp" / "application_14230558.json").read_bytes())
    assert facts["fees_paid_through"] == dt.date(2027, 2, 18)
    # US 11,646,472 (granted 2023-05-09): no maintenance fee due yet, none paid: the events do not decide it
    facts = parse_application((FIXTURES / "uspto_odp" / "application_17248024.json").read_bytes())
    assert "fees_paid_through" not in facts


def test_us_maintenance_events_and_paid_through_dates():
    from data_sources._inpadoc import us_fees_paid_through, us_maintenance_year

    # texts as recorded: ODP "Payment of Maintenance Fee, 4th Year, Large Entity"; INPADOC MAFP free text
    # "PAYMENT OF MAINTENANCE FEE, 8TH YR, SMALL ENTITY (ORIGINAL EVENT CODE: M2552)"
    assert us_maintenance_year("Payment of Maintenance Fee, 4th Year, Large Entity") == 4
    assert (
        us_maintenance_year("PAYMENT OF MAINTENANCE FEE, 8TH YR, SMALL ENTITY (ORIGINAL EVENT CODE: M2552)")
        == 8
    )
    assert us_maintenance_year(None, "M1551") == 4 and us_maintenance_year("", "M2552") == 8
    assert us_maintenance_year("Miscellaneous Communication to Applicant - No Action Count", "M327") is None
    # 6 months after a 31st is the last day of a 30-day month, not the 28th
    assert us_fees_paid_through(dt.date(2015, 3, 31), 4, None) == dt.date(2022, 9, 30)
    assert us_fees_paid_through(dt.date(2016, 2, 29), 8, None) == dt.date(2027, 8, 29)
    # after the 12th-year fee none is due again: paid to the end of the 20-year term from the earliest filing
    assert us_fees_paid_through(dt.date(2005, 1, 4), 12, dt.date(2001, 6, 1)) == dt.date(2021, 6, 1)


def test_ep_national_lapses_at_the_end_of_the_term_are_an_expiry():
    # EPC Art. 63(1): 20 years from the date of filing. EP 2400812 (filed 2010-06-24) in force in DE, FI, GB and
    # SE as recorded; every one of them lapsing on 2030-06-24 is the end of term, one lapsing in 2027 is a lapse
    family = parse_family((OPS / "legal_EP.2400812.A1.xml").read_bytes())
    member = family.members[0]

    def lapse_all(day: dt.date) -> dict:
        extra = tuple(
            LegalEvent(member.publication, "EP", "PG25", "LAPSED", "-", day, state=s)
            for s in ("DE", "FI", "GB", "SE")
        )
        fam = Family(
            family.family_id,
            family.size,
            [FamilyMember(**{**vars(member), "events": (*member.events, *extra)})],
        )
        return legal_facts(fam, "EP2400812A1")

    end = lapse_all(dt.date(2030, 6, 24))
    assert end["legal_status"] == "expired" and end["lapse_date"] == dt.date(2030, 6, 24)
    early = lapse_all(dt.date(2027, 6, 24))
    assert early["legal_status"] == "lapsed" and early["lapse_date"] == dt.date(2027, 6, 24)


# -- Lens: the owners of the latest recorded assignment -----------------------------------------------------
def test_lens_owners_over_time_give_the_current_owner_only():
    import copy
    import json

    from data_sources.lens import parse_lens

    raw = json.loads((FIXTURES / "lens" / "search_lens_id_031-156-664-516-153.json").read_bytes())
    # as recorded: "owners_all":[{"recorded_date":"2013-12-11","execution_date":"2013-12-11",
    # "extracted_name":{"value":"PROGENIKA BIOPHARMA, S.A."}}]
    (pat,) = parse_lens(raw, fetched_at=0.0)
    assert pat.owner == ["PROGENIKA BIOPHARMA, S.A."]
    # the same record after an assignment recorded in 2020 to a new owner: the 2013 owner is no co-owner
    moved = copy.deepcopy(raw)
    moved["data"][0]["biblio"]["parties"]["owners_all"].append(
        {
            "recorded_date": "2020-05-04",
            "execution_date": "2020-04-30",
            "extracted_name": {"value": "NEW OWNER SL"},
        }
    )
    (pat,) = parse_lens(moved, fetched_at=0.0)
    assert pat.owner == ["NEW OWNER SL"]


def test_us_entity_size_from_the_latest_fee_event():
    # family_legal_EP.2400812.A1.xml, US2012057518A1 / US9648662B2: MAFP 2020-10-20 and 2024-10-29 "... SMALL ENTITY
    # ... ENTITY STATUS OF PATENT OWNER: SMALL ENTITY", then FEPP 2025-07-21 "ENTITY STATUS SET TO UNDISCOUNTED
    # (ORIGINAL EVENT CODE: BIG.); ENTITY STATUS OF PATENT OWNER: LARGE ENTITY"
    family = parse_family((OPS / "family_legal_EP.2400812.A1.xml").read_bytes())
    assert legal_facts(family, "US9648662B2")["entity_size"] == "large"
    assert "entity_size" not in legal_facts(family, "EP2400812B1")  # no US fee event for the EP patent
    # family_legal_US.10465445.B2.xml: FEPP 2018-04-09 "... OWNER: SMALL ENTITY", FEPP 2020-08-24 "PETITION
    # RELATED TO MAINTENANCE FEES GRANTED ...; ENTITY STATUS OF PATENT OWNER: LARGE ENTITY" (the latest)
    family = parse_family((OPS / "family_legal_US.10465445.B2.xml").read_bytes())
    assert legal_facts(family, "US10465445B2")["entity_size"] == "large"
    # cut the recording after 2019: the latest statement is then the small-entity one
    member = family.members[0]
    early = [e for e in member.events if e.gazette_date and e.gazette_date.year < 2020]
    fam = Family(family.family_id, family.size, [FamilyMember(**{**vars(member), "events": tuple(early)})])
    assert legal_facts(fam, "US10465445B2")["entity_size"] == "small"


def test_odp_expired_without_grant_is_no_pending_application():
    from data_sources.uspto_odp import parse_continuity, status_to_legal

    # continuity_17248024.json: parent 60548231, "parentApplicationStatusCode":159,
    # "parentApplicationStatusDescriptionText":"Provisional Application Expired"
    parents = parse_continuity((FIXTURES / "uspto_odp" / "continuity_17248024.json").read_bytes())
    pro = next(p for p in parents if p.parent == "60548231")
    assert (pro.status_code, pro.status_text) == (159, "Provisional Application Expired")
    assert status_to_legal(pro.status_code, pro.status_text, False) == "withdrawn"
    # the same parent chain's 250 "Patent Expired Due to NonPayment of Maintenance Fees Under 37 CFR 1.362"
    lapsed = next(p for p in parents if p.status_code == 250)
    assert status_to_legal(lapsed.status_code, lapsed.status_text, True) == "lapsed"


@pytest.mark.parametrize(
    ("label", "number", "want"),
    [
        ("Plant", "34567", "USPP34567"),  # the USPTO numbers plant patents in the PP series
        ("Plant", "PP34567", "USPP34567"),
        ("Reissue", "49876", "USRE49876"),
        ("Utility", "11646472", "US11646472"),
    ],
)
def test_odp_plant_and_reissue_keep_their_number_series(label, number, want):
    # 35 USC 41(b): no maintenance fee for a plant patent; 35 USC 251(a): a reissue keeps the original term.
    # The terms engine tells them apart by the number series, so the id must carry it.
    from data_sources.uspto_odp import parse_application

    record = {
        "applicationNumberText": "16000001",
        "applicationMetaData": {
            "applicationTypeLabelName": label,
            "patentNumber": number,
            "filingDate": "2019-03-01",
            "grantDate": "2022-05-03",
            "applicationStatusCode": 150,
            "applicationStatusDescriptionText": "Patented Case",
        },
    }
    facts = parse_application({"patentFileWrapperDataBag": [record]})
    assert facts["patent_id"] == want and facts["patent_type"] == "invention"
