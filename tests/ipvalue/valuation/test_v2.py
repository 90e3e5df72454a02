"""Valuation v2 (issue #13): facts judged at as_of, applications, types, territories, defaults, option, weights."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ipvalue as iv
from ipvalue.valuation import VALUATION_COLUMNS, Assumptions, ValuationInputError
from ipvalue.valuation.assumptions import resolve_assumptions
from ipvalue.valuation.methods.real_option import continuous_rate, deferral_lattice, deferral_option

AS_OF = "2026-06-30"
POINT = {"draws": 0}


def _one(pid: str = "CN201610000001", **kw: object) -> pd.DataFrame:
    row = {
        "patent_id": pid,
        "jurisdiction": "CN",
        "patent_type": "invention",
        "filing_date": pd.Timestamp("2016-06-30"),
        "grant_date": pd.Timestamp("2018-06-30"),
        "legal_status": "granted",
        "cpc": "B25J9/16",
        "industry": "machinery",
        "currency": "CNY",
        "revenue": 1e7,
        "royalty_rate": 0.04,
        "discount_rate": 0.12,
        "commercialized": True,
    } | kw
    return pd.DataFrame([row]).set_index("patent_id", drop=False)


def _value(frame: pd.DataFrame, **a: object) -> pd.Series:
    return iv.value_portfolio(frame, {**POINT, **a}, as_of=AS_OF).iloc[0]


# ------------------------------------------------------------------------------------------ facts at as_of


def test_not_filed_at_as_of_is_worth_zero_with_a_note():
    # no right exists before the application is filed (CN Patent Law art. 28: the filing date is the date the
    # application is received), so on as_of a patent filed later is worth 0
    v = _value(_one(filing_date=pd.Timestamp("2027-01-05"), grant_date=pd.NaT, legal_status="pending"))
    assert v["value"] == 0.0 and v["status_as_of"] == "not_filed"
    assert v["remaining_life_years"] == 0.0
    assert "not filed at as_of" in v["value_notes"]


def test_not_filed_is_an_error_in_strict_mode():
    with pytest.raises(ValuationInputError, match="CN201610000001: filing_date 2027-01-05 is after as_of"):
        _value(_one(filing_date=pd.Timestamp("2027-01-05"), grant_date=pd.NaT), strict_dates=True)


def test_granted_after_as_of_is_valued_as_pending():
    # the right is conferred on publication of the grant (CN Patent Law art. 39): before it, an application
    granted = _value(_one())
    later = _value(_one(grant_date=pd.Timestamp("2026-12-01")))
    assert later["status_as_of"] == "pending"
    assert later["grant_probability"] == pytest.approx(0.55)  # CN invention, CNIPA Annual Report 2021
    assert later["value"] < granted["value"]


def test_past_the_term_is_expired_not_granted():
    # CN invention: 20 years from filing (Patent Law art. 42); filed 2005-01-10 -> ended 2025-01-10
    v = _value(_one(filing_date=pd.Timestamp("2005-01-10"), grant_date=pd.Timestamp("2008-01-10")))
    assert v["status_as_of"] == "expired" and v["value"] == 0.0
    assert "expired" in v["value_notes"]


# ------------------------------------------------------------------------------------------ applications


def test_grant_probability_worked_example():
    # CN invention application filed 2026-01-01, valued 2026-06-30: p = 0.55 (CNIPA 2021 granted rate), average
    # pendency 18.5 months = 1.54 years (same source); waited 180 days = 0.4928 years, so 1.0472 years remain;
    # factor = 0.55 x 1.12 ** -1.0472 = 0.55 x 0.8881 = 0.4885 (hand computation)
    filing = pd.Timestamp("2026-01-01")
    app = _value(_one(filing_date=filing, grant_date=pd.NaT, legal_status="pending"))
    wait = 1.54 - (pd.Timestamp(AS_OF) - filing).days / 365.25
    factor = 0.55 * 1.12 ** (-wait)
    assert factor == pytest.approx(0.4885, abs=1e-4)
    assert app["grant_probability"] == pytest.approx(0.55)
    # its granted twin: the same facts, granted on as_of, with the legal life the application will have left at
    # its expected grant (the term runs from filing, CN Patent Law art. 42): deferred by the wait, the application's
    # income stops at the expiry, never after it (收益期限 <= the remaining legal term)
    twin = _value(
        _one(
            filing_date=filing,
            grant_date=pd.Timestamp(AS_OF),
            legal_status="granted",
            economic_life_years=app["remaining_life_years"] - wait,
        )
    )
    assert app["value"] == pytest.approx(twin["value"] * factor, rel=1e-9)


def test_an_applications_income_stops_at_expiry_not_wait_years_after():
    # Before: an application was worth its twin (income over the whole legal life left on as_of) x
    # p x (1 + r) ** -wait, i.e. its income, deferred by the wait to the grant, ran `wait` years past the expiry.
    # Now: income from the expected grant to the expiry, so strictly less than that deferred full-life twin.
    filing = pd.Timestamp("2026-01-01")
    wait = 1.54 - (pd.Timestamp(AS_OF) - filing).days / 365.25
    app = _value(_one(filing_date=filing, grant_date=pd.NaT, legal_status="pending"))
    twin = _value(_one(filing_date=filing, grant_date=pd.Timestamp(AS_OF), legal_status="granted"))
    factor = 0.55 * 1.12 ** (-wait)
    assert app["value_income"] < twin["value_income"] * factor * (1 - 1e-6)
    assert "income period from the expected grant to expiry: 18.46 years" in app["value_notes"]


def test_legal_life_after_grant_boundaries():
    from ipvalue.valuation.economics import legal_life_after_grant

    got = legal_life_after_grant(np.array([5.0, 1.0, np.nan, 3.0, 0.0]), np.array([0.0, 2.0, 1.0, 3.0, 0.0]))
    # granted (wait 0) unchanged; a wait beyond the life leaves nothing; unknown life stays unknown; exact end 0
    np.testing.assert_array_equal(got, [5.0, 0.0, np.nan, 0.0, 0.0])


@pytest.mark.slow
@settings(max_examples=15, deadline=None)
@given(
    royalty=st.floats(0.005, 0.2),
    revenue=st.floats(1e5, 1e9),
    filed_days_ago=st.integers(1, 3000),
    office=st.sampled_from(["CN", "US", "EP", "KR"]),
)
def test_application_worth_at_most_its_granted_twin(royalty, revenue, filed_days_ago, office):
    filing = pd.Timestamp(AS_OF) - pd.Timedelta(days=filed_days_ago)
    kw = {"royalty_rate": royalty, "revenue": revenue, "filing_date": filing, "jurisdiction": office}
    app = _value(_one(grant_date=pd.NaT, legal_status="pending", **kw))
    twin = _value(_one(grant_date=pd.Timestamp(AS_OF), legal_status="granted", **kw))
    assert app["value"] <= twin["value"] + 1e-9
    assert 0.0 < app["grant_probability"] <= 1.0


@settings(max_examples=15, deadline=None)
@given(days_after=st.integers(1, 4000), revenue=st.floats(1e4, 1e9))
def test_not_filed_is_worth_zero_property(days_after, revenue):
    filing = pd.Timestamp(AS_OF) + pd.Timedelta(days=days_after)
    v = _value(
        _one(filing_date=filing, grant_date=pd.NaT, legal_status="pending", revenue=revenue, rd_cost=1e6)
    )
    assert v["value"] == 0.0


# ------------------------------------------------------------------------------------------ patent types


@pytest.mark.slow
@settings(max_examples=15, deadline=None)
@given(
    life_years=st.floats(0.5, 9.5),
    claims=st.integers(1, 30),
    citations=st.integers(0, 50),
    grouped=st.booleans(),
)
def test_invention_worth_at_least_utility_model_at_equal_facts(life_years, claims, citations, grouped):
    # an examined invention (Patent Law art. 35) is not worth less than an unexamined utility model (art. 40)
    # with the same facts: the quality score reads remaining life on one 20-year scale for every type
    filing = pd.Timestamp("2020-06-30")
    kw = {
        "filing_date": filing,
        "grant_date": pd.Timestamp("2021-06-30"),
        "remaining_life_years": life_years,
        "claims": claims,
        "forward_citations": citations,
        "rd_cost": 2e6,
        "rd_year": 2020,
    }
    if grouped:
        both = pd.concat(
            [
                _one("CN1", patent_type="invention", group="line", **kw),
                _one("CN2", patent_type="utility_model", group="line", **kw),
            ]
        )
        out = iv.value_portfolio(both, POINT, as_of=AS_OF)
        assert out.loc["CN1", "value"] >= out.loc["CN2", "value"] - 1e-6
    else:
        inv = _value(_one("CN1", patent_type="invention", **kw))
        um = _value(_one("CN2", patent_type="utility_model", **kw))
        assert inv["value"] >= um["value"] - 1e-6


# ------------------------------------------------------------------------------------------ territories


def test_revenue_is_shared_only_by_patents_protecting_the_market():
    # a Chinese product line: its US and EP family members protect no sales in China and take no share
    rows = [
        _one("CN1", group="line", market="CN", jurisdiction="CN", revenue=1e8),
        _one("US1", group="line", market="CN", jurisdiction="US", revenue=1e8),
        _one("EP1", group="line", market="CN", jurisdiction="EP", revenue=1e8),
    ]
    out = iv.value_portfolio(pd.concat(rows), POINT, as_of=AS_OF)
    alone = _value(_one("CN1", revenue=1e8))
    assert out.loc["CN1", "value_income"] == pytest.approx(alone["value_income"], rel=1e-9)
    assert np.isnan(out.loc["US1", "value_income"]) and np.isnan(out.loc["EP1", "value_income"])
    assert "not protected by a US patent" in out.loc["US1", "value_notes"]


def test_market_defaults_to_the_groups_most_common_jurisdiction():
    rows = [
        _one("CN1", group="line"),
        _one("CN2", group="line"),
        _one("US1", group="line", jurisdiction="US"),
    ]
    out = iv.value_portfolio(pd.concat(rows), POINT, as_of=AS_OF)
    assert np.isnan(out.loc["US1", "value_income"]) and out.loc["CN1", "value_income"] > 0


def test_conflicting_market_in_a_group_is_refused():
    rows = [_one("CN1", group="line", market="CN"), _one("CN2", group="line", market="US")]
    with pytest.raises(ValuationInputError, match="market differs"):
        iv.value_portfolio(pd.concat(rows), POINT, as_of=AS_OF)


# ------------------------------------------------------------------------------------------ defaults


def test_missing_industry_takes_a_conservative_royalty_with_a_note():
    # the UNIDO table's ranges (ipvalue/data/valuation_royalty_ranges.csv): without an industry the default is the
    # 25% quantile of the industries' midpoints, not the midpoint of the widest (0.5%-10%) range
    v = _value(_one(industry=None, royalty_rate=None))
    ranges = pd.read_csv("ipvalue/data/valuation_royalty_ranges.csv")
    known = ranges[ranges["industry"] != "unknown"]
    q25 = float(np.quantile((known["low"] + known["high"]) / 2, 0.25))
    assert q25 < (0.005 + 0.10) / 2
    assert f"royalty_rate default {q25:.2%}" in v["value_notes"] and "conservative" in v["value_notes"]


@pytest.mark.slow
@settings(max_examples=10, deadline=None)
@given(revenue=st.floats(1e5, 1e9), claims=st.integers(1, 40))
def test_default_for_missing_industry_never_above_the_median(revenue, claims):
    ranges = pd.read_csv("ipvalue/data/valuation_royalty_ranges.csv")
    known = ranges[ranges["industry"] != "unknown"]
    median = float(np.median((known["low"] + known["high"]) / 2))
    missing = _value(_one(industry=None, royalty_rate=None, revenue=revenue, claims=claims))
    at_median = _value(_one(industry=None, royalty_rate=median, revenue=revenue, claims=claims))
    assert missing["value"] <= at_median["value"] + 1e-9


# ------------------------------------------------------------------------------------------ option


@settings(max_examples=30, deadline=None)
@given(
    s=st.floats(1.0, 1e4),
    k=st.floats(0.0, 1e4),
    t=st.floats(0.1, 20.0),
    r=st.floats(0.0, 0.1),
    vol=st.floats(0.05, 1.0),
)
def test_deferral_option_with_early_exercise_at_least_exercise_value(s, k, t, r, vol):
    # a right that can be exercised today is worth at least max(S - K, 0) (Hull, Options, Futures and Other
    # Derivatives, ch. 11: lower bound of an American call); the European form with 1/T leakage can fall below it
    v = deferral_option(s, k, t, r, vol, american=True, steps=100).value
    assert v >= max(s - k, 0.0) - 1e-9 * max(s, 1.0)


def test_portfolio_option_is_at_least_launch_now():
    f = _one(commercialized=False, commercialization_cost=3e5, revenue=2e7, royalty_rate=0.05)
    v = _value(f)
    s = _value(_one(commercialization_cost=3e5, revenue=2e7, royalty_rate=0.05))["value_income"]
    assert v["value_option"] >= s - 3e5


def test_option_stage_takes_the_annual_risk_free_as_its_continuous_equivalent():
    # risk_free is an annual rate (compounded yearly by the income and cost approaches); the lattice discounts with
    # exp(-r dt), so it must take ln(1 + r) (Hull, Options, Futures and Other Derivatives, ch. 4: R_c = ln(1 + R)).
    # Before: the lattice took 10% itself as the continuous rate (10.52% a year). Hand check of the conversion:
    assert continuous_rate(0.10) == pytest.approx(0.0953102, abs=1e-7)
    assert continuous_rate(0.0) == 0.0
    a = {"risk_free": 0.10, "volatility": 0.5}
    f = _one(commercialized=False, commercialization_cost=4e6, revenue=2e7, royalty_rate=0.05)
    v = _value(f, **a)
    s = _value(_one(commercialization_cost=4e6, revenue=2e7, royalty_rate=0.05), **a)["value_income"]
    steps = int(resolve_assumptions()["option_steps"])
    args = (np.array([s]), np.array([4e6]), np.array([v["remaining_life_years"]]))
    want = deferral_lattice(*args, np.log1p(0.10), np.array([0.5]), steps=steps)[0]
    wrong = deferral_lattice(*args, 0.10, np.array([0.5]), steps=steps)[0]
    assert abs(want - wrong) > 1e-6 * want  # the test can tell the two apart
    assert v["value_option"] == pytest.approx(want, rel=1e-12)
    assert "(9.5310% continuous)" in v["value_notes"]


def test_published_european_form_kept_as_a_named_method():
    # Damodaran, The Dark Side of Valuation: Avonex, S = 3.422, K = 2.875 ($bn), T = 17, r = 6.7%, var 0.224
    assert deferral_option(3.422, 2.875, 17, 0.067, 0.224**0.5).value == pytest.approx(0.907, abs=1e-3)


# ------------------------------------------------------------------------------------------ weights, columns


def test_method_weights_shown_with_the_reason():
    v = _value(_one(rd_cost=4e5, rd_year=2016))
    assert v["method_weights"].startswith(v["methods_used"].replace(" (relief from royalty)", ""))
    assert "commercialised: revenue observed" in v["method_weights"]
    assert "market: no comparables given" in v["method_weights"]
    assert np.isnan(v["value_market"])


def test_columns_defined_once_and_assumptions_recorded():
    out = iv.value_portfolio(_one(), POINT, as_of=AS_OF, comparables=None)
    for c in (*VALUATION_COLUMNS, "grant_probability", "value_market", "method_weights"):
        assert c in out.columns
    rec = out.attrs["ipvalue"]["assumptions"]
    assert Assumptions.model_validate(rec) == Assumptions.of(POINT)
    with pytest.raises(Exception, match="frozen"):
        Assumptions.of(POINT).draws = 5  # type: ignore[misc]
