"""Parsers against the recorded EPO OPS answers (tests/fixtures/epo_ops, recorded by patent-dev/epo-ops)."""

from __future__ import annotations

import datetime as dt

import pytest

from data_sources import epo_ops
from data_sources._errors import ParseError
from data_sources.epo_ops import legal_facts, parse_biblio, parse_family, parse_legal


def test_biblio_single(fixtures):
    (p,) = parse_biblio((fixtures / "epo_ops" / "biblio_EP.2400812.A1.xml").read_bytes())
    assert p.patent_id == "EP2400812A1"
    assert p.title == "BLUETOOTH NETWORKING"  # the English one of three titles
    assert p.filing_date == dt.date(2010, 6, 24)
    assert p.priority_date == dt.date(2010, 6, 24)
    assert p.owner == ["9SOLUTIONS OY"]  # epodoc applicant, country suffix "[FI]" removed
    assert p.cpc == ["H04W84/20", "H04W88/04"]  # four CPC entries, two distinct
    assert p.model_extra["ipc"] == "H04W84/20"
    assert p.backward_citations == 6
    assert p.family_id == "43088294"
    assert p.model_extra["publication_date"] == dt.date(2011, 12, 28)
    assert p.model_extra["inventors"] == "HERRALA SAMI;KYLMAENEN JARI;NIEMI JAAKKO"
    assert p.legal_status == "pending"  # an A1 alone says only "published application"
    assert p.grant_date is None
    assert p.source == "epo_ops"


def test_biblio_bulk(fixtures):
    pats = parse_biblio((fixtures / "epo_ops" / "biblio_multiple.xml").read_bytes())
    assert [p.patent_id for p in pats] == ["EP2400812A1", "EP2533477A1", "EP2533477B1"]
    b1 = pats[2]
    assert b1.title == "Bluetooth network configuration"
    assert b1.legal_status == "granted" and b1.grant_date == dt.date(2014, 3, 5)  # B1 publication date
    assert b1.filing_date == dt.date(2011, 6, 9)
    assert b1.cpc == ["H04L45/04", "H04W40/32", "H04W84/18"]
    assert pats[1].legal_status == "pending"


def test_family_biblio(fixtures):
    fam = parse_family((fixtures / "epo_ops" / "family_biblio_multiple.xml").read_bytes())
    assert fam.family_id == "43088294"
    assert fam.size == 5
    assert [m.publication for m in fam.members] == [
        "EP2400812A1",
        "EP2400812B1",
        "CA2744162A1",
        "US2012057518A1",
        "US9648662B2",
    ]
    assert fam.jurisdictions == ["CA", "EP", "US"]
    assert fam.members[1].publication_date == dt.date(2019, 11, 27)
    assert fam.members[4].application_date == dt.date(2011, 6, 23)


@pytest.mark.parametrize("name", ["legal_EP.2400812.A1.xml", "family_legal_EP.2400812.A1.xml"])
def test_legal_events(fixtures, name):
    events = parse_legal((fixtures / "epo_ops" / name).read_bytes())
    codes = [e.code for e in events]
    assert codes.count("PG25") == 32  # grep -c "code=\"PG25\"" on the file
    pg25 = [e for e in events if e.code == "PG25"]
    bg = next(e for e in pg25 if e.state == "BG")
    assert (
        bg.influence == "-"
        and bg.gazette_date == dt.date(2020, 5, 1)
        and bg.effective_date == dt.date(2020, 2, 27)
    )
    de_fee = next(e for e in events if e.code == "PGFP" and e.state == "DE")
    assert de_fee.fee_year == 16 and de_fee.payment_date == dt.date(2025, 5, 14)
    graa = next(e for e in events if e.code == "GRAA")
    assert graa.gazette_date == dt.date(2019, 10, 25)
    assert "RAP1" in codes and "26N" in codes  # transfer of rights, no opposition


def test_family_legal_members_and_us_events(fixtures):
    events = parse_legal((fixtures / "epo_ops" / "family_legal_EP.2400812.A1.xml").read_bytes())
    mafp = [e for e in events if e.code == "MAFP"]
    assert [e.fee_year for e in mafp] == [4, 8]
    assert "M2552" in mafp[1].text and mafp[1].publication == "US2012057518A1"
    fzde = next(e for e in events if e.code == "FZDE")
    assert fzde.country == "CA" and fzde.effective_date == dt.date(2017, 6, 23)


def test_legal_facts_ep(fixtures):
    fam = parse_family((fixtures / "epo_ops" / "family_legal_EP.2400812.A1.xml").read_bytes())
    f = legal_facts(fam, "EP2400812A1")
    assert f["legal_status"] == "granted"  # fees paid in DE, FI, GB, SE in 2025 despite 29 national lapses
    assert f["grant_date"] == dt.date(2019, 11, 27)  # the B1 of the same application
    assert f["in_force_states"] == "DE;FI;GB;SE"
    assert "BG" in f["lapsed_states"] and "FR" in f["lapsed_states"] and "DE" not in f["lapsed_states"]
    # fee year 16 paid: the 16th year from filing 2010-06-24 ends 2026-06-24
    assert f["fees_paid_through"] == dt.date(2026, 6, 24)
    assert f["family_size"] == 5 and f["family_jurisdictions"] == ["CA", "EP", "US"]
    assert f["transfers"] == 1 and f["last_transfer_date"] == dt.date(2019, 11, 20)  # RAP1


def test_legal_facts_other_members(fixtures):
    fam = parse_family((fixtures / "epo_ops" / "family_legal_EP.2400812.A1.xml").read_bytes())
    us = legal_facts(fam, "US9648662B2")
    assert us["legal_status"] == "granted" and us["grant_date"] == dt.date(2017, 5, 9)
    # 8th-year maintenance fee paid: in force to grant + 11.5 years (next fee due)
    assert us["fees_paid_through"] == dt.date(2028, 11, 9)
    ca = legal_facts(fam, "CA2744162A1")
    assert ca["legal_status"] == "withdrawn"  # FZDE discontinued, never granted


def test_legal_facts_lapse_rules():
    from tests.fakes import legal_document

    # CN: granted, then terminated for an unpaid annual fee (CF01)
    doc = legal_document(
        "CN105123456B",
        filing_date="2015-03-02",
        events=[
            {"code": "GR01", "date": "2017-08-01"},
            {"code": "CF01", "date": "2021-04-16", "effective": "2020-03-02"},
        ],
    )
    f = legal_facts(parse_family(doc), "CN105123456B")
    assert f["legal_status"] == "lapsed" and f["lapse_date"] == dt.date(2020, 3, 2)
    # CN transfer then expiry
    doc = legal_document(
        "CN105123456B",
        events=[{"code": "TR01", "date": "2019-01-04"}, {"code": "CX01", "date": "2035-03-02"}],
    )
    f = legal_facts(parse_family(doc), "CN105123456B")
    assert f["legal_status"] == "expired" and f["transfers"] == 1
    # EP lapsed in every state where a fee was ever paid
    doc = legal_document(
        "EP3000000B1",
        events=[
            {"code": "PGFP", "state": "DE", "fee_year": 5, "date": "2019-07-01"},
            {"code": "PG25", "state": "DE", "date": "2021-03-01", "effective": "2020-03-31"},
        ],
    )
    f = legal_facts(parse_family(doc), "EP3000000B1")
    assert f["legal_status"] == "lapsed" and f["lapse_date"] == dt.date(2020, 3, 31)


def test_cn_docdb_numbers():
    assert epo_ops.to_docdb("CN 105123456 B") == ("publication", "docdb", "CN.105123456.B")
    assert epo_ops.to_docdb("CN203610000U") == ("publication", "docdb", "CN.203610000.U")
    assert epo_ops.to_docdb("EP2400812") == ("publication", "epodoc", "EP2400812")


def test_faults(fixtures):
    assert epo_ops.parse_fault((fixtures / "epo_ops" / "fault_404.xml").read_bytes()) == (
        "404",
        "Document not found",
    )
    assert epo_ops.parse_fault((fixtures / "epo_ops" / "fault_429.xml").read_bytes()) == (
        "429",
        "Fair use limit exceeded",
    )


def test_throttling_header():
    # example header of the OPS documentation (patent_data_sources.md section 2)
    th = epo_ops.parse_throttling(
        "busy (images=green:100, inpadoc=green:45, other=green:1000, retrieval=green:100, search=green:15)"
    )
    assert th.system == "busy"
    assert th.services["inpadoc"] == ("green", 45) and th.services["search"] == ("green", 15)
    assert epo_ops.parse_throttling("overloaded (retrieval=black:0)").services["retrieval"] == ("black", 0)
    assert epo_ops.parse_throttling(None) is None


def test_service_of():
    assert epo_ops.service_of("/rest-services/published-data/publication/docdb/biblio") == "retrieval"
    assert epo_ops.service_of("/rest-services/family/publication/docdb/EP.1.A1/legal") == "inpadoc"
    assert epo_ops.service_of("/rest-services/published-data/search") == "search"
    assert epo_ops.service_of("/rest-services/number-service/x") == "other"


@pytest.mark.parametrize("body", [b"<ops:world-patent-data><unclosed>", b"", b"\x00garbage"])
def test_malformed_raises(body):
    with pytest.raises(ParseError):
        parse_biblio(body)
    with pytest.raises(ParseError):
        parse_family(body)


def test_legal_status_follows_the_last_decisive_event():
    """Property over random CN event histories: the status is the one of the last decisive event, a grant
    kind is granted without one, and the fees and transfers counted are those in the history."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from tests.fakes import legal_document

    kinds = {
        "GR01": "grant",
        "CF01": "lapsed",
        "CX01": "expired",
        "TR01": "transfer",
        "PB01": None,
        "SE01": None,
    }
    event = st.tuples(st.sampled_from(sorted(kinds)), st.dates(dt.date(2016, 1, 1), dt.date(2035, 12, 31)))

    @settings(max_examples=60, deadline=None)
    @given(st.lists(event, max_size=8, unique_by=lambda e: e[1]), st.sampled_from(["B", "A"]))
    def check(events, kind):
        number = f"CN105123456{kind}"
        doc = legal_document(number, events=[{"code": c, "date": d.isoformat()} for c, d in events])
        f = legal_facts(parse_family(doc), number)
        ordered = sorted(events, key=lambda e: e[1])
        decisive = [kinds[c] for c, _ in ordered if kinds[c] in ("lapsed", "expired")]
        granted = kind == "B" or any(c == "GR01" for c, _ in events)
        if decisive:
            assert f["legal_status"] == decisive[-1]
        else:
            assert f["legal_status"] == ("granted" if granted else "pending")
        assert f["transfers"] == sum(1 for c, _ in events if c == "TR01")
        assert f["legal_status"] in ("pending", "granted", "lapsed", "expired", "withdrawn")

    check()
