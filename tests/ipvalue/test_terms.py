"""Tests of ipvalue.terms: statutory expiry, remaining life, lapse, renewal-fee schedules.

Every date below comes from a public record named next to it; expected values are worked out by hand from
the statute or fee table cited, never taken from the code under test.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from xml.etree import ElementTree as ET

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ipvalue as iv
from ipvalue import Patent
from ipvalue.facts.patent import patents_to_frame
from ipvalue.terms import (
    TermError,
    expiry_date,
    expiry_dates,
    fees_paid_to_date,
    last_day_in_force,
    life_table,
    remaining_life,
    renewal_fees_due,
    renewal_schedule,
    us_earliest_filing_date,
)
from ipvalue.terms._inputs import us_series

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
D = dt.date


def _odp(name: str) -> dict:
    data = json.loads((FIXTURES / "uspto_odp" / name).read_text(encoding="utf-8"))
    return data["patentFileWrapperDataBag"][0]


# --------------------------------------------------------------------------------------------------------
# US utility: 20 years from the earliest non-provisional filing (35 USC 154(a)(2)), plus PTA
# --------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def facts():
    app = _odp("application_17248024.json")["applicationMetaData"]
    cont = _odp("continuity_17248024.json")["parentContinuityBag"]
    pta = _odp("adjustment_17248024.json")["patentTermAdjustmentData"]["adjustmentTotalQuantity"]
    return app, cont, pta


class TestUS11646472:
    """US 11,646,472 B2 (application 17/248,024, PolyPlus Battery), recorded USPTO ODP responses."""

    def test_fixture_facts(self, facts):
        app, cont, pta = facts
        assert app["filingDate"] == "2021-01-05" and app["grantDate"] == "2023-05-09"
        assert pta == 304
        direct = [c for c in cont if c["childApplicationNumberText"] == "17248024"]
        assert direct[0]["parentApplicationNumberText"] == "16695054"
        assert direct[0]["parentApplicationFilingDate"] == "2019-11-25"

    def test_term_runs_from_the_parent_not_the_own_filing_date(self, facts):
        app, _, pta = facts
        own = expiry_date(
            "US", "invention", app["filingDate"], grant_date=app["grantDate"], term_adjustment_days=pta
        )
        # 2021-01-05 + 20 years = 2041-01-05, + 304 days = 2041-11-05
        assert own == D(2041, 11, 5)
        parent = expiry_date(
            "US",
            "invention",
            app["filingDate"],
            grant_date=app["grantDate"],
            term_adjustment_days=pta,
            earliest_filing_date="2019-11-25",
        )
        # 2019-11-25 + 20 years = 2039-11-25, + 304 days = 2040-09-24
        assert parent == D(2040, 9, 24)
        assert parent < own

    def test_whole_chain_back_to_2004_and_provisionals_ignored(self, facts):
        app, cont, pta = facts
        earliest = us_earliest_filing_date(cont)
        # the chain CON/CON/.../CIP/.../DIV ends at 10/824,944 filed 2004-04-14; the 2004-02-06 and
        # 2004-02-27 provisionals (PRO) do not count (35 USC 154(a)(3))
        assert earliest == D(2004, 4, 14)
        assert min(c["parentApplicationFilingDate"] for c in cont) == "2004-02-06"
        exp = expiry_date(
            "US",
            "invention",
            app["filingDate"],
            grant_date=app["grantDate"],
            term_adjustment_days=pta,
            earliest_filing_date=earliest,
        )
        # 2004-04-14 + 20 years = 2024-04-14, + 304 days = 2025-02-12 (no terminal disclaimer applied)
        assert exp == D(2025, 2, 12)

    def test_frame_column_and_no_maintenance_fee_before_expiry(self, facts):
        app, cont, pta = facts
        p = Patent(
            patent_id="US 11,646,472 B2",
            filing_date=app["filingDate"],
            grant_date=app["grantDate"],
            term_adjustment_days=pta,
            earliest_filing_date=us_earliest_filing_date(cont),
            entity_size="large",
        )
        frame = patents_to_frame([p])
        assert expiry_dates(frame).iloc[0] == pd.Timestamp("2025-02-12")
        assert remaining_life(p, "2026-11-27") == 0.0
        # the term ends ON 2025-02-12 (35 USC 154(a)(2), MPEP 2701): 366 days to it, plus that last day itself
        assert remaining_life(p, "2024-02-12") == pytest.approx(367 / 365.25)
        assert remaining_life(p, "2025-02-12") == pytest.approx(1 / 365.25)
        assert remaining_life(p, "2025-02-13") == 0.0
        # the first maintenance fee would fall due 3.5 years after grant, 2026-11-09: after the term ends
        assert renewal_schedule(p, "2023-06-01").empty


def test_us_pta_worked_example_9483551():
    # patentcut.com/9483551: filed 2004-10-12, issued 2016-11-01, extension 1930 days, expiry 2030-01-24
    # (that page shows a terminal disclaimer too, which it does not apply either)
    assert expiry_date(
        "US", "invention", "2004-10-12", grant_date="2016-11-01", term_adjustment_days=1930
    ) == D(2030, 1, 24)


def test_us_pre_1995_worked_example():
    # bohanmathers.com annotated patent (pages 664nt09 / 664nt10): application filed 1993-06-07, a division of
    # an application filed 1991-09-05, patent date 1996-09-24. Term = greater of 20 years from the earlier
    # filing (2011-09-05) and 17 years from grant (2013-09-24): 2013-09-24.
    assert expiry_date(
        "US", "invention", "1993-06-07", grant_date="1996-09-24", earliest_filing_date="1991-09-05"
    ) == D(2013, 9, 24)
    # the same page: had it issued from an original application, 20 years from 1993-06-07 = 2013-06-07 and
    # 17 from grant = 2013-09-24 -> 2013-09-24 again
    assert expiry_date("US", "invention", "1993-06-07", grant_date="1996-09-24") == D(2013, 9, 24)
    # where 20 years from filing is later, it wins (35 USC 154(c)(1)); quick grant, hypothetical dates
    assert expiry_date("US", "invention", "1994-01-10", grant_date="1995-03-01") == D(2014, 1, 10)
    with pytest.raises(TermError, match="grant_date"):
        expiry_date("US", "invention", "1994-01-10")


def test_us_design_terms():
    # 35 USC 173: 15 years from grant for applications filed on/after 2015-05-13, else 14 (notaromichalos.com,
    # apexipgroup.com). Statutory boundary, hypothetical grant dates.
    assert expiry_date("US", "design", "2015-05-13", grant_date="2017-01-03") == D(2032, 1, 3)
    assert expiry_date("US", "design", "2015-05-12", grant_date="2017-01-03") == D(2031, 1, 3)


# --------------------------------------------------------------------------------------------------------
# EP
# --------------------------------------------------------------------------------------------------------
def _ep_dates():
    ns = {"x": "http://www.epo.org/exchange"}
    root = ET.parse(FIXTURES / "epo_ops" / "biblio_EP.2400812.A1.xml").getroot()
    app = root.find(".//x:application-reference/x:document-id[@document-id-type='epodoc']/x:date", ns)
    return dt.datetime.strptime(app.text, "%Y%m%d").date()


def test_ep_2400812_term_and_fees():
    filing = _ep_dates()
    assert filing == D(2010, 6, 24)  # EP10167109, biblio_EP.2400812.A1.xml
    # EPC Art. 63(1): 20 years from filing
    assert expiry_date("EP", "invention", filing) == D(2030, 6, 24)
    # grant (B1) mentioned 2019-11-27 (legal_EP.2400812.A1.xml, AK ... Kind Code B1) falls in fee year 10
    # (2019-06-24 .. 2020-06-24): EPO fees for years 3..10 were paid to the EPO, due 2012-06-30 .. 2019-06-30.
    p = Patent(patent_id="EP2400812B1", filing_date=filing, grant_date="2019-11-27")
    paid = fees_paid_to_date(patents_to_frame([p]), "2026-01-01")
    # all eight due dates precede the earliest EPO schedule in the table (2022-04-01), whose amounts are used:
    # 505 + 630 + 880 + 1125 + 1245 + 1370 + 1495 + 1690 = 8940 EUR
    assert paid["fees_paid"].iloc[0] == 8940
    assert paid["fee_currency"].iloc[0] == "EUR"
    assert "earliest schedule" in paid["fees_paid_note"].iloc[0]
    # granted: no further EPO renewal fees (national fees, not modelled, say so)
    sched = renewal_schedule(p, "2026-01-01")
    assert sched.empty and "national" in sched.attrs["note"]
    due = renewal_fees_due(patents_to_frame([p]), "2026-01-01", years=3)
    assert np.isnan(due["renewal_fees"].iloc[0])


def test_ep_pending_renewal_schedule():
    # The same application as if still pending on 2026-01-01: fee years 17..20 fall due at the end of June
    # (Rule 51(1): last day of the month of the filing anniversary) at the 2024-04-01 amount for the
    # 10th and later years.
    p = Patent(patent_id="EP2400812A1", filing_date="2010-06-24", legal_status="pending")
    s = renewal_schedule(p, "2026-01-01")
    assert list(s["due_date"]) == [pd.Timestamp(f"{y}-06-30") for y in (2026, 2027, 2028, 2029)]
    assert list(s["fee_year"]) == [17, 18, 19, 20]
    assert (s["currency"] == "EUR").all() and (s["office"] == "EP").all()
    # EUR 1 775: WIPO PCT Applicant's Guide, National Chapter EP, Annex EP.I (applicable from 2024-04-12), and
    # williamspowell.com 'European Patent Office Fees increase from 1 April 2024' (10th-20th year 1775 -> 1775)
    assert (s["amount"] == 1775).all()
    # year 3 of an application filed 2023-02-15 falls due 2025-02-28 -> schedule of 2024-04-01: EUR 690
    q = Patent(patent_id="EP4000000A1", filing_date="2023-02-15", legal_status="pending")
    s = renewal_schedule(q, "2025-01-01", until="2026-12-31")
    assert list(s["due_date"]) == [pd.Timestamp("2025-02-28"), pd.Timestamp("2026-02-28")]
    assert list(s["amount"]) == [690, 845]
    # the 2023-04-01 schedule (due dates 2023-04-01 .. 2024-03-31): the fees for years 7, 8, 9 and 10 of
    # applications filed in June 2017, 2016, 2015 and 2014 fall due on 2023-06-30 (6th..9th anniversary,
    # Rule 51(1)) -> EUR 1 305 / 1 440 / 1 570 / 1 775
    # (hgf.com 'EPO Fees - changes applying from 1 April 2023'; williamspowell.com 2024 note, 'current amount')
    amounts = []
    for year, filed in ((7, "2017-06-10"), (8, "2016-06-10"), (9, "2015-06-10"), (10, "2014-06-10")):
        r = Patent(patent_id=f"EP{year}000000A1", filing_date=filed, legal_status="pending")
        s = renewal_schedule(r, "2023-06-01", until="2023-06-30")
        assert list(s["fee_year"]) == [year] and list(s["due_date"]) == [pd.Timestamp("2023-06-30")]
        amounts.append(s["amount"].iloc[0])
    assert amounts == [1305, 1440, 1570, 1775]


# --------------------------------------------------------------------------------------------------------
# CN
# --------------------------------------------------------------------------------------------------------
# CN220906904U 电梯门锁开关短接检测系统 (杭州优迈科技有限公司): utility model, application 2023227968646,
# filed 2023-10-18, grant announced 2024-05-07, 专利权有效 (CNIPA record as captured in a public repository).
CN_UM = dict(patent_id="CN220906904U", filing_date="2023-10-18", grant_date="2024-05-07")
# CN111736987B: invention, application CN202010310978.3, filed 2020-04-20, granted 2022-05-06
# (Google Patents capture in a public repository, 2026-02-13).
CN_INV = dict(patent_id="CN111736987B", filing_date="2020-04-20", grant_date="2022-05-06")


def test_cn_utility_model_term_and_annual_fees():
    p = Patent(**CN_UM)
    assert p.patent_type == "utility_model"
    assert expiry_date("CN", "utility_model", "2023-10-18") == D(2033, 10, 18)  # Art. 42: 10 years
    assert remaining_life(p, "2026-10-18") == pytest.approx(
        (dt.date(2033, 10, 18) - D(2026, 10, 18)).days / 365.25
    )
    s = renewal_schedule(p, "2026-11-27")
    # fee years 5..10 due on the anniversaries 2027-10-18 .. 2032-10-18; utility model table:
    # year 5: 900, 6-8: 1200, 9-10: 2000
    assert list(s["fee_year"]) == [5, 6, 7, 8, 9, 10]
    assert list(s["due_date"]) == [pd.Timestamp(f"{y}-10-18") for y in range(2027, 2033)]
    assert list(s["amount"]) == [900, 1200, 1200, 1200, 2000, 2000]
    assert (s["currency"] == "CNY").all()
    # paid so far: grant-year fee (year 1) 600 at registration, year 2 (2024-10-18) 600, year 3 (2025-10-18)
    # 600, year 4 (2026-10-18) 900
    assert fees_paid_to_date(p, "2026-11-27") == 600 + 600 + 600 + 900


def test_cn_invention_fees_and_term():
    p = Patent(**CN_INV)
    assert expiry_date("CN", "invention", "2020-04-20") == D(2040, 4, 20)
    # grant 2022-05-06 lies in fee year 3 (2022-04-20 .. 2023-04-20): 900 at registration; years 4, 5, 6
    # (1200 each) due 2023/2024/2025-04-20; year 7 (2000) due 2026-04-20
    assert fees_paid_to_date(p, "2026-11-27") == 900 + 3 * 1200 + 2000
    s = renewal_schedule(p, "2026-11-27", until="2030-12-31")
    assert list(s["fee_year"]) == [8, 9, 10, 11]
    assert list(s["amount"]) == [2000, 2000, 4000, 4000]
    # the last fee year of a 20-year invention is year 20 (8000), due 2039-04-20
    full = renewal_schedule(p, "2026-11-27")
    assert full["fee_year"].iloc[-1] == 20 and full["amount"].iloc[-1] == 8000
    assert full["due_date"].iloc[-1] == pd.Timestamp("2039-04-20")


def test_cn_design_term_change_2021():
    # Patent Law 4th amendment, in force 2021-06-01: 15 years for designs filed from that day, 10 before.
    # Boundary filings (hypothetical numbers, the statutory dates):
    assert expiry_date("CN", "design", "2021-05-31") == D(2031, 5, 31)
    assert expiry_date("CN", "design", "2021-06-01") == D(2036, 6, 1)
    old = Patent(patent_id="CN306000001S", filing_date="2021-05-31", grant_date="2021-10-22")
    new = Patent(patent_id="CN306000002S", filing_date="2021-06-01", grant_date="2021-10-22")
    # the design table has years 11-15 (3000 CNY) only for the 15-year designs
    assert renewal_schedule(old, "2030-01-01")["fee_year"].max() == 10
    s = renewal_schedule(new, "2030-01-01")
    assert s["fee_year"].max() == 15 and list(s.loc[s["fee_year"] >= 11, "amount"]) == [3000] * 5


def test_cn_term_compensation_days():
    # Art. 42(2): compensation days when given are added, e.g. 100 days on a 2021-07-01 invention
    assert expiry_date("CN", "invention", "2021-07-01", term_adjustment_days=100) == D(2041, 10, 9)


# --------------------------------------------------------------------------------------------------------
# JP and KR (statutory boundaries; dates hypothetical)
# --------------------------------------------------------------------------------------------------------
def test_term_adjustment_only_where_the_office_grants_one():
    # Patent Law of the PRC Art. 42(2)-(3): term compensation for invention patents (发明专利) only; US design
    # terms run 15 (14) years from grant under 35 USC 173, without the 154(b) adjustment
    assert expiry_date("CN", "invention", "2015-06-01", term_adjustment_days=100) == D(2035, 9, 9)
    for office, ptype, filed, grant in (
        ("CN", "utility_model", "2015-06-01", None),
        ("CN", "design", "2021-06-01", None),
        ("US", "design", "2016-01-04", "2017-01-03"),
    ):
        with pytest.raises(TermError, match="term_adjustment_days"):
            expiry_date(office, ptype, filed, grant_date=grant, term_adjustment_days=30)
        assert expiry_date(office, ptype, filed, grant_date=grant, term_adjustment_days=0)  # none is fine
    frame = patents_to_frame(
        [Patent(**CN_UM, term_adjustment_days=30), Patent(**CN_INV, term_adjustment_days=30)]
    )
    lt = life_table(frame, "2026-01-01", errors="coerce")
    assert (
        np.isnan(lt["remaining_life_years"].iloc[0]) and "term_adjustment_days" in lt["term_problem"].iloc[0]
    )
    assert lt["remaining_life_years"].iloc[1] > 0  # every row kept, the good one valued


def test_jp_terms():
    assert expiry_date("JP", "invention", "2015-03-02") == D(2035, 3, 2)
    assert expiry_date("JP", "utility_model", "2015-03-02") == D(2025, 3, 2)
    # Design Act Art. 21 (revised 2020-04-01): 25 years from filing; before: 20 years from registration
    assert expiry_date("JP", "design", "2020-04-01", grant_date="2020-11-02") == D(2045, 4, 1)
    assert expiry_date("JP", "design", "2020-03-31", grant_date="2020-11-02") == D(2040, 11, 2)
    with pytest.raises(TermError, match="grant_date"):
        expiry_date("JP", "design", "2019-05-01")


def test_kr_terms():
    assert expiry_date("KR", "invention", "2016-08-01") == D(2036, 8, 1)
    assert expiry_date("KR", "utility_model", "2016-08-01") == D(2026, 8, 1)
    assert expiry_date("KR", "design", "2016-08-01", grant_date="2017-02-01") == D(2036, 8, 1)


def test_rules_file_is_a_parameter(tmp_path):
    # a different reading of a rule is a data change: KR designs 20 years from registration
    data = json.loads((Path(iv.__file__).parent / "data" / "terms_rules.json").read_text(encoding="utf-8"))
    for r in data["rules"]:
        if r["jurisdiction"] == "KR" and r["patent_type"] == "design" and r["filed_from"]:
            r["base"] = "grant"
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    rules = iv.terms.TermRules.from_file(path)
    assert rules.expiry_date("KR", "design", "2016-08-01", grant_date="2017-02-01") == D(2037, 2, 1)
    assert expiry_date("KR", "design", "2016-08-01", grant_date="2017-02-01") == D(2036, 8, 1)


# --------------------------------------------------------------------------------------------------------
# Lapse, status, overrides, pending
# --------------------------------------------------------------------------------------------------------
def test_lapse_by_status_us_10916753():
    # US 10,916,753 (application 16/695,054, filed 2019-11-25): ODP status 250 "Patent Expired Due to
    # NonPayment of Maintenance Fees" (continuity_17248024.json)
    p = Patent(patent_id="US10916753B2", filing_date="2019-11-25", legal_status="lapsed")
    assert remaining_life(p, "2026-06-30") == 0.0
    lt = life_table(patents_to_frame([p]), "2026-06-30")
    assert lt["lapse_reason"].iloc[0] == "legal_status lapsed" and not lt["in_force"].iloc[0]
    assert renewal_schedule(p, "2026-06-30").empty


def test_lapse_by_unpaid_fees_after_grace():
    # CN220906904U with annual fees paid only through 2025-10-18 (end of fee year 2): on 2026-03-01 it is in
    # the 6-month grace period (life runs on, the year-3 fee is overdue); after 2026-04-18 it has lapsed.
    p = Patent(**CN_UM, fees_paid_through="2025-10-18")
    assert remaining_life(p, "2026-03-01") > 7
    s = renewal_schedule(p, "2026-03-01", until="2026-12-31")
    assert list(s["fee_year"]) == [3, 4] and "overdue" in s["note"].iloc[0]
    lt = life_table(patents_to_frame([p]), "2026-03-01")
    assert "grace" in lt["term_note"].iloc[0]
    assert remaining_life(p, "2026-04-18") > 0  # grace ends on 2026-04-18
    assert remaining_life(p, "2026-04-19") == 0.0
    assert "unpaid" in life_table(patents_to_frame([p]), "2026-04-19")["lapse_reason"].iloc[0]


def test_the_day_an_unpaid_fee_ends_the_right_by_office():
    # CN Implementing Regulations Rule 98 (2010) / 115 (2023): unpaid at the end of the 6-month grace period,
    # 专利权自应当缴纳年费期满之日起终止 - the right ends as of the due date, not as of the end of the grace.
    p = Patent(**CN_UM, fees_paid_through="2025-10-18")
    reason = life_table(patents_to_frame([p]), "2026-04-19")["lapse_reason"].iloc[0]
    assert reason.endswith("the right terminated as of the due date 2025-10-18")
    # 35 USC 41(b): unpaid, a US patent 'shall expire as of the end of such grace period'
    us = _one("US", "invention", "2010-03-01", "2012-05-01", fees_paid_through="2015-11-01")
    assert life_table(us, "2016-05-01")["remaining_life_years"].iloc[0] > 0  # last day of the grace period
    reason = life_table(us, "2016-05-02")["lapse_reason"].iloc[0]
    assert reason.endswith("the right expired at the end of the grace period 2016-05-01")


def test_late_payment_surcharges_in_the_grace_period():
    # CNIPA: 每超过规定的缴费时间1个月，加收当年全额年费的5% (Implementing Regulations 2010, Rule 98), nothing when
    # less than one month late. CN220906904U (utility model, filed 2023-10-18): the year-3 fee (600 CNY, table
    # 1-3 years) falls due on 2025-10-18; paid on 2025-11-10 it is 23 days late, on 2026-01-20 three whole
    # months (3 x 5% x 600 = 90), on 2026-04-18 six months less a day: five whole months, 25% = 150.
    p = Patent(**CN_UM, fees_paid_through="2025-10-18")
    for day, surcharge in (
        ("2025-11-10", 0.0),
        ("2025-11-18", 30.0),
        ("2026-01-20", 90.0),
        ("2026-04-18", 150.0),
    ):
        s = renewal_schedule(p, day, until="2026-10-18")
        assert s["fee_year"].iloc[0] == 3 and s["amount"].iloc[0] == 600.0
        assert s["surcharge"].iloc[0] == pytest.approx(surcharge), day
        assert (s["surcharge"].iloc[1:] == 0.0).all()  # fees not yet due carry none
    # USPTO: flat surcharge for payment in the 6-month grace period, 37 CFR 1.20(h), schedule effective
    # 2025-01-19 (89 FR 91898): small entity 216 USD. US 9,648,662 B2 granted 2017-05-09: the 7.5-year fee fell
    # due 2024-11-09; paid on 2025-02-01 (in grace until 2025-05-09)
    us = Patent(
        patent_id="US9648662B2", jurisdiction="US", patent_type="invention", filing_date="2011-06-23",
        grant_date="2017-05-09", legal_status="granted", fees_paid_through="2024-11-09", entity_size="small",
    )  # fmt: skip
    s = renewal_schedule(us, "2025-02-01")
    assert s["fee_year"].iloc[0] == 7.5 and s["surcharge"].iloc[0] == 216.0
    # EPO: additional fee of 50% of the belated renewal fee (EPC Rule 51(2)); EP 2400812 pending, 7th-year fee
    # due 2016-06-30 (end of the month of the filing anniversary 2016-06-24)
    ep = Patent(
        patent_id="EP2400812A1", jurisdiction="EP", patent_type="invention", filing_date="2010-06-24",
        legal_status="pending", fees_paid_through="2016-06-30",
    )  # fmt: skip
    s = renewal_schedule(ep, "2016-08-15")
    assert s["fee_year"].iloc[0] == 7 and s["surcharge"].iloc[0] == pytest.approx(0.5 * s["amount"].iloc[0])


def test_expiry_override_and_pending():
    frame = patents_to_frame(
        [
            Patent(**CN_INV, expiry_date="2030-01-01"),
            Patent(
                patent_id="CN2023100000000",
                patent_type="invention",
                filing_date="2023-01-05",
                legal_status="pending",
            ),
        ]
    )
    exp = expiry_dates(frame)
    assert exp.iloc[0] == pd.Timestamp("2030-01-01")
    assert exp.iloc[1] == pd.Timestamp("2043-01-05")
    lt = life_table(frame, "2026-01-05")
    assert lt["remaining_life_years"].iloc[1] == pytest.approx((D(2043, 1, 5) - D(2026, 1, 5)).days / 365.25)
    assert "pending" in lt["term_note"].iloc[1]
    assert not lt["in_force"].iloc[1]


# --------------------------------------------------------------------------------------------------------
# US maintenance fees: windows, entity sizes, schedule in force on the due date
# --------------------------------------------------------------------------------------------------------
def test_us_maintenance_schedule_by_entity_and_date():
    # US 9,805,429: filed 2016-05-19, issued 2017-10-31 (trea.com). Fees due 3.5 / 7.5 / 11.5 years after
    # grant: 2021-04-30 (Oct 31 + 42 months, clamped), 2025-04-30, 2029-04-30.
    expected = {
        # 2021-04-30: FY2020 schedule (from 2020-10-02), small 50% / micro 75% off
        # 2025-04-30: FY2025 schedule (from 2025-01-19), small 60% / micro 80% off (UAIA)
        "large": [2000, 4040, 8280],
        "small": [1000, 1616, 3312],
        "micro": [500, 808, 1656],
    }
    for size, amounts in expected.items():
        p = Patent(
            patent_id="US9805429B2", filing_date="2016-05-19", grant_date="2017-10-31", entity_size=size
        )
        s = renewal_schedule(p, "2017-11-01")
        assert list(s["due_date"]) == [pd.Timestamp(d) for d in ("2021-04-30", "2025-04-30", "2029-04-30")]
        assert list(s["fee_year"]) == [3.5, 7.5, 11.5]
        assert list(s["amount"]) == amounts, size
        assert (s["currency"] == "USD").all()
    unknown = renewal_schedule(
        Patent(patent_id="US9805429B2", filing_date="2016-05-19", grant_date="2017-10-31"), "2017-11-01"
    )
    assert list(unknown["amount"]) == expected["large"]
    assert unknown["note"].str.contains("large assumed").all()


def test_us_design_has_no_maintenance_fees():
    p = Patent(
        patent_id="USD900000S", patent_type="design", filing_date="2018-03-01", grant_date="2020-10-27"
    )
    assert renewal_schedule(p, "2021-01-01").empty


# --------------------------------------------------------------------------------------------------------
# Portfolio functions: vectorised, indexed like the frame, every row kept
# --------------------------------------------------------------------------------------------------------
@pytest.fixture
def portfolio():
    return patents_to_frame(
        [
            Patent(**CN_UM),
            Patent(**CN_INV),
            Patent(
                patent_id="US9805429B2",
                filing_date="2016-05-19",
                grant_date="2017-10-31",
                entity_size="small",
            ),
            Patent(patent_id="EP2400812A1", filing_date="2010-06-24", legal_status="pending"),
            Patent(patent_id="US10916753B2", filing_date="2019-11-25", legal_status="lapsed"),
            Patent(patent_id="JP2015123456A", filing_date="2015-03-02", grant_date="2018-01-10"),
        ]
    )


def test_portfolio_remaining_life_and_fees_due(portfolio):
    life = remaining_life(portfolio, "2026-11-27")
    assert isinstance(life, pd.Series) and life.index.equals(portfolio.index)
    assert life["US10916753B2"] == 0.0
    assert life["CN220906904U"] == pytest.approx((D(2033, 10, 18) - D(2026, 11, 27)).days / 365.25)
    due = renewal_fees_due(portfolio, "2026-11-27", years=3)
    assert due.index.equals(portfolio.index)
    # CN utility model: years 5, 6, 7 due 2027/2028/2029-10-18 = 900 + 1200 + 1200
    assert due.loc["CN220906904U", "renewal_fees"] == 3300
    # CN invention: years 8, 9, 10 due 2027/2028/2029-04-20 = 2000 + 2000 + 4000
    assert due.loc["CN111736987B", "renewal_fees"] == 8000
    # US 9,805,429 small entity: only the 11.5-year fee (2029-04-30) falls in 2026-11-27 .. 2029-11-27
    assert due.loc["US9805429B2", "renewal_fees"] == 3312
    assert due.loc["EP2400812A1", "renewal_fees"] == 3 * 1775  # EPO 10th-and-later-year fee from 2024-04-01
    assert due.loc["US10916753B2", "renewal_fees"] == 0
    assert np.isnan(due.loc["JP2015123456A", "renewal_fees"])
    assert "not modelled" in due.loc["JP2015123456A", "fees_note"]
    assert due.loc["CN220906904U", "next_fee_due"] == pd.Timestamp("2027-10-18")


def test_scalar_and_frame_agree(portfolio):
    frame_life = remaining_life(portfolio, "2027-03-01")
    for pid in portfolio.index:
        one = remaining_life(portfolio.loc[[pid]], "2027-03-01")
        assert one.iloc[0] == frame_life[pid]
    paid = fees_paid_to_date(portfolio, "2026-11-27")
    assert paid.loc["CN220906904U", "fees_paid"] == fees_paid_to_date(Patent(**CN_UM), "2026-11-27")


def test_row_order_does_not_matter(portfolio):
    a = renewal_fees_due(portfolio, "2026-11-27", years=10)
    b = renewal_fees_due(portfolio.iloc[::-1], "2026-11-27", years=10)
    pd.testing.assert_frame_equal(a, b.loc[a.index])


# --------------------------------------------------------------------------------------------------------
# Bad input: clear errors naming the patent and the field; coerce keeps every row
# --------------------------------------------------------------------------------------------------------
def test_bad_input_errors():
    with pytest.raises(TermError, match="jurisdiction 'XX'"):
        expiry_date("XX", "invention", "2020-01-01")
    with pytest.raises(TermError, match="patent_type 'utility_model' does not exist at EP"):
        expiry_date("EP", "utility_model", "2020-01-01")
    with pytest.raises(TermError, match="filing_date is missing"):
        expiry_date("CN", "invention", None)
    frame = patents_to_frame(
        [
            Patent(**CN_UM),
            Patent(patent_id="CN111736987B"),  # no filing date
            Patent(patent_id="WO2020123456A1", filing_date="2020-01-01"),
        ]
    )
    with pytest.raises(TermError) as err:
        remaining_life(frame, "2026-01-01")
    msg = str(err.value)
    assert "CN111736987B" in msg and "filing_date" in msg
    assert "WO2020123456A1" in msg and "jurisdiction" in msg
    assert len(err.value.problems) == 2
    lt = life_table(frame, "2026-01-01", errors="coerce")
    assert len(lt) == 3 and np.isnan(lt.loc["CN111736987B", "remaining_life_years"])
    assert lt.loc["CN220906904U", "remaining_life_years"] > 0
    with pytest.raises(TermError, match="earliest_filing_date"):
        expiry_date("US", "invention", "2020-01-01", earliest_filing_date="2021-01-01")
    with pytest.raises(ValueError, match="as_of"):
        remaining_life(frame, None)


def test_bad_status_and_entity_size():
    frame = patents_to_frame([Patent(**CN_UM)])
    frame["legal_status"] = ["maybe"]
    with pytest.raises(TermError, match="legal_status 'maybe'"):
        remaining_life(frame, "2026-01-01")
    us = patents_to_frame(
        [Patent(patent_id="US9805429B2", filing_date="2016-05-19", grant_date="2017-10-31")]
    )
    us["entity_size"] = ["tiny"]
    with pytest.raises(TermError, match="entity_size 'tiny'"):
        renewal_fees_due(us, "2020-01-01")


def test_dead_patent_needs_no_dates():
    frame = patents_to_frame([Patent(patent_id="CN111736987B", legal_status="revoked")])
    assert remaining_life(frame, "2026-01-01").iloc[0] == 0.0


# --------------------------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------------------------
_days = st.dates(min_value=D(1996, 1, 1), max_value=D(2030, 12, 31))


@settings(max_examples=60, deadline=None)
@given(
    filing=_days,
    grant_lag=st.integers(0, 3000),
    jur_type=st.sampled_from(
        [
            ("CN", "invention"),
            ("CN", "utility_model"),
            ("CN", "design"),
            ("US", "invention"),
            ("US", "design"),
            ("EP", "invention"),
            ("JP", "invention"),
            ("JP", "design"),
            ("KR", "design"),
        ]
    ),
    status=st.sampled_from(["granted", "pending", "lapsed"]),
    a=_days,
    b=_days,
    tad=st.integers(0, 2000),
)
def test_remaining_life_bounds_and_monotone(filing, grant_lag, jur_type, status, a, b, tad):
    jur, ptype = jur_type
    if jur_type in (("CN", "utility_model"), ("CN", "design"), ("US", "design")):
        tad = (
            0  # these terms get no adjustment (a non-zero one is refused, test_term_adjustment_only_where...)
        )
    grant = filing + dt.timedelta(days=grant_lag)
    frame = pd.DataFrame(
        {
            "patent_id": ["P1"],
            "jurisdiction": [jur],
            "patent_type": [ptype],
            "filing_date": [pd.Timestamp(filing)],
            "grant_date": [pd.Timestamp(grant)],
            "term_adjustment_days": [tad],
            "legal_status": [status],
        }
    ).set_index("patent_id", drop=False)
    early, late = sorted([a, b])
    l1 = remaining_life(frame, early).iloc[0]
    l2 = remaining_life(frame, late).iloc[0]
    assert l1 >= 0 and l2 >= 0
    assert l2 <= l1
    exp = expiry_dates(frame).iloc[0]
    assert exp > pd.Timestamp(filing)
    if status != "lapsed":
        # the days in force from `early` inclusive: the expiry date is the last day for US/EP, not for CN/JP/KR
        last = exp.date() - dt.timedelta(days=0 if jur in ("US", "EP") else 1)
        assert l1 == pytest.approx(max(0.0, ((last - early).days + 1) / 365.25))


@pytest.mark.slow
@settings(max_examples=40, deadline=None)
@given(filing=_days, grant_lag=st.integers(0, 2500), a=_days, b=_days)
def test_fees_paid_grow_and_fees_due_shrink(filing, grant_lag, a, b):
    grant = filing + dt.timedelta(days=grant_lag)
    frame = patents_to_frame(
        [
            Patent(patent_id="CN111736987B", filing_date=filing, grant_date=grant),
            Patent(patent_id="US9805429B2", filing_date=filing, grant_date=grant),
        ]
    )
    early, late = sorted([a, b])
    p1 = fees_paid_to_date(frame, early)["fees_paid"]
    p2 = fees_paid_to_date(frame, late)["fees_paid"]
    assert (p2 >= p1).all() and (p1 >= 0).all()
    d1 = renewal_fees_due(frame, early, years=100)["renewal_fees"]
    d2 = renewal_fees_due(frame, late, years=100)["renewal_fees"]
    assert (d2 <= d1).all()


def test_month_arithmetic_follows_cnipa_time_limit_rule():
    # 专利审查指南 (time limits): 期限以年或者月计算的，以其最后1月的相应日为期限届满日；该月无相应日的，以该月
    # 最后1日为期限届满日. Its examples: a notice deemed received 1999-12-31 with a 2-month limit ends 2000-02-29;
    # an application filed 1998-06-01 has its 3-year examination-request limit end on 2001-06-01
    from ipvalue.terms._dates import add_months

    days = np.array(["1999-12-31", "1998-06-01"], dtype="datetime64[D]")
    out = add_months(days, np.array([2, 36]))
    assert list(out.astype(str)) == ["2000-02-29", "2001-06-01"]


def _one(jur, ptype, filing, grant, **kw):
    return pd.DataFrame(
        [
            {
                "patent_id": f"{jur}-BOUNDARY",
                "jurisdiction": jur,
                "patent_type": ptype,
                "filing_date": pd.Timestamp(filing),
                "grant_date": pd.Timestamp(grant),
                "legal_status": "granted",
                **kw,
            }
        ]
    ).set_index("patent_id", drop=False)


def test_cn_last_day_in_force_is_the_day_before_the_termination_day():
    # 专利审查指南 Part V Ch. 9 (专利权期满终止), worked example: a utility model filed 1999-09-06 has the term
    # 1999-09-06 to 2009-09-05; its 期满终止日 is 2009-09-06 (Patent Law Art. 42: counted from the filing date).
    frame = _one("CN", "utility_model", "1999-09-06", "2000-06-01")
    on_last = life_table(frame, "2009-09-05").iloc[0]
    assert on_last["expiry_date"] == pd.Timestamp("2009-09-06")  # the 期满终止日, as CNIPA records it
    assert on_last["last_day_in_force"] == pd.Timestamp("2009-09-05")
    assert on_last["in_force"] and on_last["remaining_life_years"] == pytest.approx(1 / 365.25)
    on_end = life_table(frame, "2009-09-06").iloc[0]
    assert not on_end["in_force"] and on_end["remaining_life_years"] == 0.0
    assert on_end["lapse_reason"] == "term ended 2009-09-06"
    valued = iv.value_portfolio(
        frame.assign(revenue=1e6, royalty_rate=0.03), {"draws": 0}, as_of="2009-09-05"
    )
    assert valued.iloc[0]["status_as_of"] == "granted"
    valued = iv.value_portfolio(
        frame.assign(revenue=1e6, royalty_rate=0.03), {"draws": 0}, as_of="2009-09-06"
    )
    assert valued.iloc[0]["status_as_of"] == "expired" and valued.iloc[0]["value"] == 0.0


@pytest.mark.parametrize("jur", ["US", "EP"])
def test_us_and_ep_terms_end_on_the_anniversary(jur):
    # 35 USC 154(a)(2) / MPEP 2701: the term "ends on the date that is twenty years from" the filing date;
    # EPC Art. 63(1) "20 years from the date of filing", counted as EPC Rule 131(4) counts years.
    frame = _one(jur, "invention", "2000-01-05", "2003-01-07")
    on_last = life_table(frame, "2020-01-05").iloc[0]
    assert on_last["expiry_date"] == pd.Timestamp("2020-01-05") == on_last["last_day_in_force"]
    assert on_last["in_force"] and on_last["remaining_life_years"] == pytest.approx(1 / 365.25)
    after = life_table(frame, "2020-01-06").iloc[0]
    assert not after["in_force"] and after["remaining_life_years"] == 0.0
    a_year_before = life_table(frame, "2019-01-05").iloc[0]  # 365 days to the last day, plus that day
    assert a_year_before["remaining_life_years"] == pytest.approx(366 / 365.25)
    valued = iv.value_portfolio(
        frame.assign(revenue=1e6, royalty_rate=0.03), {"draws": 0}, as_of="2020-01-05"
    )
    assert valued.iloc[0]["status_as_of"] == "granted"
    valued = iv.value_portfolio(
        frame.assign(revenue=1e6, royalty_rate=0.03), {"draws": 0}, as_of="2020-01-06"
    )
    assert valued.iloc[0]["status_as_of"] == "expired" and valued.iloc[0]["value"] == 0.0


def test_last_day_in_force_of_a_given_expiry_date():
    got = last_day_in_force(
        ["CN", "US", "EP", "JP", "cn"], ["2009-09-06", "2020-01-05", "2020-01-05", None, "2009-09-06"]
    )
    want = ["2009-09-05", "2020-01-05", "2020-01-05", "NaT", "2009-09-05"]
    assert [str(d) for d in got] == want


def test_us_plant_patent_pays_no_maintenance_fee_and_keeps_the_utility_term():
    # 35 USC 41(b): 'No fee may be established for maintaining a design or plant patent in force';
    # 37 CFR 1.362(b). The term is the utility one (35 USC 161 applies 35 USC 154).
    plant = _one("US", "invention", "2019-03-01", "2022-05-03", entity_size="large")
    plant.index = pd.Index(["USPP34567"], name="patent_id")
    plant["patent_id"] = "USPP34567"
    utility = _one("US", "invention", "2019-03-01", "2022-05-03", entity_size="large")
    assert renewal_fees_due(utility, "2025-01-01", years=10)["renewal_fees"].iloc[0] > 0
    due = renewal_fees_due(plant, "2025-01-01", years=10).iloc[0]
    assert due["renewal_fees"] == 0.0 and "plant" in due["fees_note"]
    assert fees_paid_to_date(plant, "2026-12-01")["fees_paid"].iloc[0] == 0.0
    assert renewal_schedule(plant.iloc[0], "2025-01-01").empty
    assert life_table(plant, "2026-12-01")["expiry_date"].iloc[0] == pd.Timestamp("2039-03-01")


def test_us_reissue_keeps_the_original_term_and_fee_schedule():
    # 35 USC 251(a): the reissue runs 'for the unexpired part of the term of the original patent'; 37 CFR
    # 1.362(h): its maintenance-fee periods run from the original grant, which is not an input here.
    re = _one(
        "US", "invention", "2021-02-01", "2023-01-10", entity_size="large", earliest_filing_date="2012-06-05"
    )
    re.index = pd.Index(["USRE49876"], name="patent_id")
    re["patent_id"] = "USRE49876"
    assert life_table(re, "2026-12-01")["expiry_date"].iloc[0] == pd.Timestamp("2032-06-05")
    due = renewal_fees_due(re, "2025-01-01", years=10).iloc[0]
    assert np.isnan(due["renewal_fees"]) and "reissue" in due["fees_note"]
    assert np.isnan(fees_paid_to_date(re, "2026-12-01")["fees_paid"].iloc[0])
    with pytest.raises(TermError, match="USRE49876: field earliest_filing_date.*251"):
        life_table(re.drop(columns="earliest_filing_date"), "2026-12-01")
    # an original filed before 1995-06-08 gets the 154(c)(1) rule even if the reissue was filed later
    old = re.assign(earliest_filing_date=pd.Timestamp("1994-01-03"), grant_date=pd.Timestamp("1996-02-06"))
    assert "later of 17 years from grant" in life_table(old, "2005-01-01")["expiry_basis"].iloc[0]


def _mixed_book(n: int, seed: int) -> pd.DataFrame:
    """A random book over the offices and types the fee tables model (and one they do not), old and new dates."""
    rng = np.random.default_rng(seed)
    office = rng.choice(["CN", "US", "EP", "JP"], n)
    ptype = rng.choice(["invention", "utility_model", "design"], n, p=[0.7, 0.2, 0.1])
    filing = np.datetime64("1978-01-01") + rng.integers(0, 47 * 365, n).astype("timedelta64[D]")
    grant = filing + rng.integers(300, 2500, n).astype("timedelta64[D]")
    grant = np.where(rng.random(n) < 0.2, np.datetime64("NaT"), grant)
    paid = filing + rng.integers(365, 20 * 365, n).astype("timedelta64[D]")
    paid = np.where(rng.random(n) < 0.6, np.datetime64("NaT"), paid)
    ids = [f"{o}{'PP' if o == 'US' and i % 17 == 0 else ''}{1000000 + i}" for i, o in enumerate(office)]
    return pd.DataFrame(
        {
            "jurisdiction": office,
            "patent_type": np.where(office == "EP", "invention", ptype),
            "filing_date": filing,
            "grant_date": grant,
            "legal_status": rng.choice(
                ["granted", "pending", "lapsed", "expired"], n, p=[0.6, 0.2, 0.1, 0.1]
            ),
            "fees_paid_through": paid,
            "entity_size": rng.choice(["", "large", "small", "micro"], n),
        },
        index=pd.Index(ids, name="patent_id"),
    )


@pytest.mark.parametrize("as_of", ["2026-06-30", "2001-03-15"])
def test_fees_paid_to_date_with_the_life_tables_expiry_is_the_same_as_without(as_of):
    # the fast path (the caller's life table given) against the reference (fees_paid_to_date computing its own)
    frame = _mixed_book(1500, seed=11)
    expiry = life_table(frame, as_of, errors="coerce")["expiry_date"].to_numpy()
    ref = fees_paid_to_date(frame, as_of)
    fast = fees_paid_to_date(frame, as_of, expiry_date=expiry)
    pd.testing.assert_frame_equal(fast, ref)
    assert ref["fees_paid"].gt(0).sum() > 100
    with pytest.raises(ValueError, match="expiry_date has 3 dates for 1500 patents"):
        fees_paid_to_date(frame, as_of, expiry_date=expiry[:3])


def test_the_fee_events_flags_are_what_their_notes_say():
    # fees_paid_to_date reads the blocks' flags instead of searching the notes' texts: the same rows
    from ipvalue.terms import _fees, _inputs

    frame = _mixed_book(1500, seed=12)
    inp = _inputs.term_inputs(frame)
    expiry = (
        life_table(frame, "2026-06-30", errors="coerce")["expiry_date"].to_numpy().astype("datetime64[D]")
    )
    blocks = _fees._event_blocks(inp, expiry)
    arrays = _fees._event_arrays(blocks)
    events = _fees._event_frame(blocks)
    projected = events["note"].str.startswith("projected").to_numpy(dtype=bool)
    early = events["note"].str.contains("earliest schedule").to_numpy(dtype=bool)
    np.testing.assert_array_equal(arrays["projected"], projected)
    np.testing.assert_array_equal(arrays["early"], early)
    assert projected.any() and early.any()
    for key in ("pos", "amount", "payable"):
        np.testing.assert_array_equal(arrays[key], events[key].to_numpy())
    np.testing.assert_array_equal(arrays["due_date"], events["due_date"].to_numpy().astype("datetime64[D]"))


def test_us_series_reads_only_the_us_rows():
    ids = np.array(["USPP12,345", "US RE45,678 E", "US9483551", "CNPP123", "EPRE1"], dtype=object)
    office = np.array(["US", "US", "US", "CN", "EP"], dtype=object)
    assert us_series(ids, office).tolist() == ["PP", "RE", "", "", ""]
    assert us_series(ids[3:], office[3:]).tolist() == ["", ""]


def _us_series_reference(ids: np.ndarray, jurisdiction: np.ndarray) -> np.ndarray:
    """us_series as first written: every row's number through pandas' text methods."""
    compact = pd.Series(ids, dtype=object).astype(str).str.upper().str.replace(r"[\s,./-]", "", regex=True)
    series = compact.str.extract(r"^(?:US)?(PP|RE)\d", expand=False).fillna("").to_numpy(dtype=object)
    return np.where(np.asarray(jurisdiction, dtype=object) == "US", series, "").astype(object)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["US", "CN", "EP", ""]), st.text(alphabet="USPRrepxy 019,./-\t", max_size=10)
        ),
        max_size=25,
    )
)
def test_us_series_as_the_reference(rows):
    # the fast path reads only US numbers with the letters of PP or RE; the reference reads every row
    ids = np.array([i for _, i in rows], dtype=object)
    office = np.array([o for o, _ in rows], dtype=object)
    np.testing.assert_array_equal(us_series(ids, office), _us_series_reference(ids, office))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(["CN", "US", "EP", "JP", "KR", "", "WO"]), max_size=30))
def test_office_lookup_as_series_map(offices):
    # each distinct office looked up once (the fast path) against pandas' map and fillna (the reference)
    from ipvalue.terms._inputs import office_lookup

    arr = np.array(offices, dtype=object)
    for mapping, default in (({"CN": "CNY", "US": "USD", "EP": "EUR"}, ""), ({"US": 6, "CN": 6, "JP": 6}, 6)):
        ref = pd.Series(arr, dtype=object).map(mapping).fillna(default).to_numpy(dtype=object)
        np.testing.assert_array_equal(office_lookup(arr, mapping, default), ref)
    on = office_lookup(arr, {"US": True, "EP": True}, False).astype(bool)
    np.testing.assert_array_equal(on, np.isin(arr, ["US", "EP"]))


@pytest.mark.parametrize(
    "column",
    [
        pd.array([1, None, 3], dtype="Int64"),
        np.array([1.0, np.nan, -2.0]),
        np.array([True, False, True]),
        pd.array([1.5, None, 2.0], dtype="Float64"),
        np.array(["3", "x", None], dtype=object),
        np.array([4, 0, 7]),
    ],
)
def test_term_adjustment_days_read_as_the_reference(column):
    # numbers read without parsing (the fast path) against pd.to_numeric and notna (the reference)
    from ipvalue.terms._inputs import term_inputs

    frame = pd.DataFrame({"term_adjustment_days": column}, index=pd.Index(["a", "b", "c"], name="patent_id"))
    col = frame["term_adjustment_days"]
    ref = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    ref = np.where(col.notna().to_numpy(), ref, 0.0)
    ref = np.where(ref < 0, np.nan, ref)
    np.testing.assert_array_equal(term_inputs(frame).adjustment_days, ref)


def test_fees_paid_to_date_with_the_callers_term_inputs_of_some_rows():
    # the caller's term inputs and expiry dates of a subset (the valuation's fast path) against the reference
    from ipvalue.terms import life_columns
    from ipvalue.terms._inputs import term_inputs

    frame = _mixed_book(800, seed=13)
    rows = np.sort(np.random.default_rng(1).choice(len(frame), 300, replace=False))
    inputs = term_inputs(frame)
    _ = inputs.us_series  # read before the take: taken along
    expiry = life_columns(frame, "2026-06-30", errors="coerce")["expiry_date"]
    ref = fees_paid_to_date(frame.iloc[rows], "2026-06-30")
    fast = fees_paid_to_date(
        frame.iloc[rows], "2026-06-30", expiry_date=expiry[rows], inputs=inputs.take(rows)
    )
    pd.testing.assert_frame_equal(fast, ref)
    np.testing.assert_array_equal(inputs.take(rows).us_series, term_inputs(frame.iloc[rows]).us_series)
    with pytest.raises(ValueError, match="inputs has 800 rows for 300 patents"):
        fees_paid_to_date(frame.iloc[rows], "2026-06-30", inputs=inputs)
