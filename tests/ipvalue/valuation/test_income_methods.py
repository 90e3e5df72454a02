"""The income method chosen per patent in ``value_portfolio``: relief from royalty, profit split, 约当投资."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ipvalue as iv
from ipvalue.valuation import (
    INCOME_METHODS,
    ValuationInputError,
    equivalent_investment_share,
    linear_step_down,
    profit_split,
    relief_from_royalty,
)
from ipvalue.valuation._data import load_defaults, price_index
from ipvalue.valuation._synthetic import synthetic_portfolio

AS_OF = dt.date(2026, 6, 30)
POINT = {"draws": 0}
NUMBERS = ["value_income", "value_cost", "value_option", "value", "value_p05", "value_p50", "value_p95"]


def _one(**econ):
    """A single granted CN invention filed 2016 (expires 2036, 10 years left), with the given economics."""
    row = {
        "patent_id": "CN201610000001",
        "jurisdiction": "CN",
        "patent_type": "invention",
        "filing_date": pd.Timestamp("2016-06-30"),
        "grant_date": pd.Timestamp("2018-06-30"),
        "legal_status": "granted",
        "cpc": "B25J9/16",
        "industry": "machinery",
        "currency": "CNY",
    } | econ
    return pd.DataFrame([row]).set_index("patent_id", drop=False)


# ----------------------------------------------------------------------------- published worked examples


def test_profit_split_exam_example_through_value_portfolio():
    # 自考《资产评估》(00158) exam question, answer published at jikaoti.com/ti/dAafFFFM and gaojiufeng.cn/?id=997594
    # (the example test_income.py checks with the RfR kernel): the licensee's sales profit is 4,600k a year at a
    # 10% sales margin (sales 46,000k); the licensor's share of that profit is 2% / 10% = 20%; 25% tax; 8 years at
    # 15%. The published answer is a profit split: 460 x 20% x (1 - 25%) = 69 a year, value 310 (万元).
    f = _one(
        revenue=4600.0,
        profit_margin=0.10,
        profit_share=0.20,
        tax_rate=0.25,
        discount_rate=0.15,
        economic_life_years=8.0,
        decay_rate=0.0,
        income_method="profit_split",
    )
    v = iv.value_portfolio(f, POINT, as_of=AS_OF).iloc[0]
    assert round(v["value_income"]) == 310
    assert v["value_income"] == pytest.approx(
        profit_split(np.full(8, 460 * 0.75), 0.20, 0.15).value, rel=1e-12
    )
    assert v["methods_used"] == "income (profit split) 100%"  # no rd_cost: the cost approach does not apply
    assert "income method: profit_split (given)" in v["value_notes"]
    assert "20.00% of profit" in v["value_notes"]
    assert "25% rule" not in v["value_notes"] and "royalty_rate" not in v["value_notes"]


def test_equivalent_investment_exam_example_through_value_portfolio():
    # 自考《资产评估》 question, answer at tihaiku.com/caiwukuaiji/2135517.html (checked on the kernels in
    # test_income.py): replacement cost of the patent 100 at a 400% cost-profit rate, licensee's assets 5,000 at 15%
    # -> 约当投资分成率 8%; net profit (after tax) 1,500/1,500/1,400/1,400/1,300; 10% -> 433.48 (万元, with
    # 4-digit table factors; the exact sum is 433.485). The profit is given after tax, so margin 1 and no tax here.
    f = _one(
        revenue_forecast="1500;1500;1400;1400;1300",
        profit_margin=1.0,
        tax_rate=0.0,
        discount_rate=0.10,
        economic_life_years=5.0,
        decay_rate=0.0,
        rd_cost=100.0,
        commercialization_cost=5000.0,
        income_method="约当投资分成法",
    )
    a = {"draws": 0, "patent_profit_rate": 4.0, "licensee_profit_rate": 0.15}
    v = iv.value_portfolio(f, a, as_of=AS_OF).iloc[0]
    assert v["value_income"] == pytest.approx(433.48, abs=0.01)
    assert v["methods_used"].startswith("income (equivalent-investment profit split) ")
    assert "profit_share 8.00% by 约当投资" in v["value_notes"]


# ----------------------------------------------------------------------------- through value_portfolio = kernels


def test_equivalent_investment_equals_the_kernel_applied_by_hand():
    f = _one(
        revenue=2.0e7,
        revenue_growth=0.04,
        profit_margin=0.18,
        tax_rate=0.15,
        discount_rate=0.12,
        economic_life_years=6.5,
        decay_rate=0.10,
        rd_cost=3.0e6,
        rd_year=2019,
        commercialization_cost=4.0e7,
        income_method="equivalent_investment",
    )
    v = iv.value_portfolio(f, POINT, as_of=AS_OF).iloc[0]
    years, level = price_index()
    trend = np.interp(2026, years, level, right=level[-1]) / np.interp(2019, years, level)
    d = load_defaults()["equivalent_investment"]
    share = equivalent_investment_share(
        3.0e6 * trend, d["patent_profit_rate"]["value"], 4.0e7, d["licensee_profit_rate"]["value"]
    )
    t = np.arange(1, 8)
    w = np.clip(6.5 - (t - 1), 0, 1)
    profit = 2.0e7 * (1.04 * 0.90) ** t * w * 0.18
    expected = profit_split(profit * (1 - 0.15), share, 0.12).value
    assert v["value_income"] == pytest.approx(expected, rel=1e-12)
    assert v["value"] == pytest.approx(0.8 * v["value_income"] + 0.2 * v["value_cost"])


def test_default_share_range_positioned_and_noted():
    f = _one(revenue=1e7, profit_margin=0.2, discount_rate=0.12, economic_life_years=5.0, decay_rate=0.0)
    a = {"draws": 0, "income_method": "profit_split"}
    # quality columns given: a score of 50 sits in the middle of the range, 100 at its top
    mid = iv.value_portfolio(
        f.assign(quality_legal=50.0, quality_technical=50.0, quality_economic=50.0, quality_score=50.0),
        a,
        as_of=AS_OF,
    ).iloc[0]
    lo, hi = load_defaults()["profit_share"]["low"], load_defaults()["profit_share"]["high"]
    assert (lo, hi) == (0.25, 0.33)
    v_lo = profit_split(np.full(5, 1e7 * 0.2 * 0.75), lo, 0.12).value
    v_hi = profit_split(np.full(5, 1e7 * 0.2 * 0.75), hi, 0.12).value
    assert v_lo < mid["value_income"] < v_hi
    assert "profit_share default" in mid["value_notes"] and "range 25%-33%" in mid["value_notes"]
    assert "income method: profit_split (assumption default)" in mid["value_notes"]
    # the assumption default recorded in attrs
    out = iv.value_portfolio(f, a, as_of=AS_OF)
    assert out.attrs["ipvalue"]["assumptions"]["income_method"] == "profit_split"
    assert iv.value_portfolio(f, POINT, as_of=AS_OF).attrs["ipvalue"]["assumptions"]["income_method"] == (
        "relief_from_royalty"
    )


def test_declining_share_equals_the_kernel_with_the_step_down():
    f = _one(
        revenue=1e7,
        profit_margin=0.2,
        profit_share=0.3,
        tax_rate=0.25,
        discount_rate=0.1,
        economic_life_years=5.0,
        decay_rate=0.0,
        income_method="profit_split",
    )
    flat = iv.value_portfolio(f, POINT, as_of=AS_OF).iloc[0]
    dec = iv.value_portfolio(f, {"draws": 0, "profit_share_decline": "linear"}, as_of=AS_OF).iloc[0]
    steps = linear_step_down(5, 5)[0]
    expected = profit_split(np.full(5, 1e7 * 0.2 * 0.75), 0.3 * steps, 0.1).value
    assert dec["value_income"] == pytest.approx(expected, rel=1e-12)
    assert dec["value_income"] < flat["value_income"]
    assert "动态分成率" in dec["value_notes"]


# ----------------------------------------------------------------------------- relief from royalty unchanged


@pytest.fixture(scope="module")
def synthetic():
    return synthetic_portfolio(300, seed=5)


def test_rfr_column_gives_the_same_numbers_as_no_column(synthetic):
    a = {"draws": 100}
    without = iv.value_portfolio(synthetic, a, as_of=AS_OF, rng=3)
    with_col = iv.value_portfolio(
        synthetic.assign(income_method="relief_from_royalty"), a, as_of=AS_OF, rng=3
    )
    pd.testing.assert_frame_equal(with_col[NUMBERS], without[NUMBERS], check_exact=True)
    assert (with_col["methods_used"] == without["methods_used"]).all()


def test_rfr_patents_unchanged_when_others_use_profit_split(synthetic):
    # half the book switches to profit split: the other half's numbers (point and draws) do not move
    a = {"draws": 100, "decay_curve": "linear", "mid_year": True, "tab_years": 12}
    base = iv.value_portfolio(synthetic, a, as_of=AS_OF, rng=3)
    mixed_in = synthetic.copy()
    # a product line's patents share its method: switch whole groups (and every other ungrouped patent)
    key = mixed_in["group"].where(mixed_in["group"].notna(), mixed_in["patent_id"]).astype(str)
    half = pd.factorize(key, sort=True)[0] % 2 == 1
    mixed_in["income_method"] = np.where(half, "profit_split", None)
    mixed_in["profit_margin"] = 0.2
    mixed = iv.value_portfolio(mixed_in, {**a, "profit_share_decline": "linear"}, as_of=AS_OF, rng=3)
    stayed = ~half
    assert stayed.sum() > 50 and half.sum() > 50
    pd.testing.assert_frame_equal(mixed.loc[stayed, NUMBERS], base.loc[stayed, NUMBERS], check_exact=True)
    moved = mixed["methods_used"].str.contains("profit split")
    assert (mixed.loc[moved, "value_income"] != base.loc[moved, "value_income"]).all()


@pytest.mark.slow
def test_mixed_methods_same_to_the_last_bit_on_every_backend(synthetic):
    frame = synthetic.copy()
    k = np.arange(len(frame)) % 3
    frame["income_method"] = np.asarray(INCOME_METHODS, dtype=object)[k]
    frame["profit_margin"] = 0.15
    frame["profit_share"] = np.where(k == 1, 0.3, np.nan)
    # 约当投资 needs the licensee's assets: give ungrouped patents without a launch cost one
    alone = frame["group"].isna() & frame["commercialization_cost"].isna()
    frame.loc[alone, "commercialization_cost"] = 2.0e7
    a = {"draws": 50, "profit_share_decline": "linear"}
    ref = iv.value_portfolio(frame, a, as_of=AS_OF, rng=7)
    assert ref["methods_used"].str.contains("equivalent-investment").any()
    for kw in ({"backend": "serial", "chunk_size": 37}, {"backend": "processes", "chunk_size": 120}):
        got = iv.value_portfolio(frame, a, as_of=AS_OF, rng=7, **kw)
        pd.testing.assert_frame_equal(got, ref, check_exact=True)
    shuffled = iv.value_portfolio(frame.sample(frac=1.0, random_state=2), a, as_of=AS_OF, rng=7)
    pd.testing.assert_frame_equal(shuffled.loc[ref.index], ref, check_exact=True)


# ----------------------------------------------------------------------------- range, groups, missing inputs


def test_share_is_drawn_within_its_range():
    f = _one(
        revenue=1e7,
        profit_margin=0.2,
        profit_share=0.3,
        discount_rate=0.12,
        economic_life_years=8.0,
        income_method="profit_split",
    )
    v = iv.value_portfolio(f, {"draws": 2000}, as_of=AS_OF, rng=1).iloc[0]
    assert v["value_p05"] < v["value"] < v["value_p95"]
    assert v["value_p50"] == pytest.approx(v["value"], rel=0.1)
    # wider share spread -> wider range (same streams)
    w = iv.value_portfolio(f, {"draws": 2000, "profit_share_spread_relative": 0.6}, as_of=AS_OF, rng=1).iloc[
        0
    ]
    assert w["value_p95"] - w["value_p05"] > v["value_p95"] - v["value_p05"]


def test_group_income_method_is_shared_and_missing_margin_is_noted():
    f = pd.concat(
        [
            _one(
                group="line",
                revenue=1e7,
                profit_margin=0.2,
                income_method="profit_split",
                rd_cost=1e5,
                rd_year=2016,
            ),
            _one(group="line", rd_cost=1e5, rd_year=2016)
            .assign(patent_id="CN201610000002")
            .set_index("patent_id", drop=False),
            _one(revenue=1e7, rd_cost=1e5, rd_year=2016, income_method="profit_split")
            .assign(patent_id="CN201610000003")
            .set_index("patent_id", drop=False),
        ]
    )
    v = iv.value_portfolio(f, POINT, as_of=AS_OF)
    assert v["methods_used"].iloc[:2].str.startswith("income (profit split)").all()
    assert v["value_income"].iloc[0] == pytest.approx(
        v["value_income"].iloc[1]
    )  # same economics, equal halves
    # no profit_margin: never a made-up number, the cost approach carries the value
    third = v.iloc[2]
    assert np.isnan(third["value_income"]) and third["methods_used"] == "cost 100%"
    assert "profit_split needs profit_margin" in third["value_notes"]


def test_equivalent_investment_without_costs_is_not_applied():
    f = _one(revenue=1e7, profit_margin=0.2, income_method="equivalent_investment", rd_cost=1e5, rd_year=2016)
    v = iv.value_portfolio(f, POINT, as_of=AS_OF).iloc[0]
    assert np.isnan(v["value_income"])
    assert "equivalent_investment needs rd_cost and commercialization_cost" in v["value_notes"]


# ----------------------------------------------------------------------------- bad input


def test_unknown_method_names_patent_and_field():
    f = _one(revenue=1e7, profit_margin=0.2, income_method="market_approach")
    with pytest.raises(ValuationInputError, match="CN201610000001.*income_method.*market_approach") as ei:
        iv.value_portfolio(f, POINT, as_of=AS_OF)
    assert ei.value.problems[0][:2] == ("CN201610000001", "income_method")
    with pytest.raises(ValueError, match="income_method must be one of"):
        iv.value_portfolio(_one(revenue=1e7), {"income_method": "excess_earnings"}, as_of=AS_OF)


@pytest.mark.parametrize(
    ("assumptions", "match"),
    [
        ({"profit_share_decline": "steep"}, "profit_share_decline"),
        ({"profit_share_range": [0.4, 0.3]}, "profit_share_range"),
        ({"profit_share_range": 0.3}, "profit_share_range"),
        ({"profit_share": 1.5}, "profit_share"),
        ({"patent_profit_rate": -1.0}, "patent_profit_rate"),
    ],
)
def test_bad_income_method_assumptions(assumptions, match):
    with pytest.raises(ValueError, match=match):
        iv.value_portfolio(_one(revenue=1e7), assumptions, as_of=AS_OF)


def test_profit_share_out_of_range_names_patent_and_field():
    f = _one(revenue=1e7, profit_margin=0.2, profit_share=1.4, income_method="profit_split")
    with pytest.raises(ValuationInputError, match="CN201610000001: field profit_share must be a rate"):
        iv.value_portfolio(f, POINT, as_of=AS_OF)


def test_methods_and_aliases():
    assert INCOME_METHODS == ("relief_from_royalty", "profit_split", "equivalent_investment")
    base = {"revenue": 1e7, "profit_margin": 0.2, "profit_share": 0.3, "discount_rate": 0.1}
    ref = iv.value_portfolio(_one(**base, income_method="profit_split"), POINT, as_of=AS_OF).iloc[0]
    for alias in ("分成法", "利润分成法", " Profit-Split "):
        got = iv.value_portfolio(_one(**base, income_method=alias), POINT, as_of=AS_OF).iloc[0]
        assert got["value_income"] == ref["value_income"]
    rfr = iv.value_portfolio(_one(**base, income_method="节省许可费法"), POINT, as_of=AS_OF).iloc[0]
    assert rfr["methods_used"].startswith("income (relief from royalty)")


# ----------------------------------------------------------------------------- properties


@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    s1=st.floats(0.0, 1.0),
    s2=st.floats(0.0, 1.0),
    m1=st.floats(0.0, 1.0),
    m2=st.floats(0.0, 1.0),
    decline=st.sampled_from(["none", "linear"]),
)
def test_value_rises_with_profit_share_and_margin(s1, s2, m1, m2, decline):
    (s_lo, s_hi), (m_lo, m_hi) = sorted((s1, s2)), sorted((m1, m2))
    rows = [(s_lo, m_lo), (s_hi, m_lo), (s_lo, m_hi), (s_hi, m_hi)]
    f = pd.concat(
        [
            _one(
                revenue=1e7, profit_margin=m, profit_share=s, discount_rate=0.12, income_method="profit_split"
            )
            .assign(patent_id=f"CN20161000000{i}")
            .set_index("patent_id", drop=False)
            for i, (s, m) in enumerate(rows)
        ]
    )
    v = iv.value_portfolio(f, {"draws": 0, "profit_share_decline": decline}, as_of=AS_OF)["value_income"]
    v = v.to_numpy()
    tol = 1e-9 * max(1.0, float(np.max(v)))
    assert v[0] <= v[1] + tol and v[0] <= v[2] + tol and v[1] <= v[3] + tol and v[2] <= v[3] + tol
    assert (v >= 0).all()


def test_profit_split_with_share_times_margin_equals_rfr_at_that_royalty():
    # s_rev = s_profit x margin (reference notes 2.3): profit split at share s on margin m equals relief from
    # royalty at royalty s x m, point and draws alike when the share is given and the royalty is given
    econ = {
        "revenue": 1e7,
        "discount_rate": 0.12,
        "economic_life_years": 7.3,
        "revenue_growth": 0.03,
        "decay_rate": 0.15,
    }
    ps = iv.value_portfolio(
        _one(**econ, profit_margin=0.25, profit_share=0.2, income_method="profit_split"), POINT, as_of=AS_OF
    ).iloc[0]
    rfr = iv.value_portfolio(_one(**econ, royalty_rate=0.05), POINT, as_of=AS_OF).iloc[0]
    assert ps["value_income"] == pytest.approx(rfr["value_income"], rel=1e-12)
    t = np.arange(1, 9)
    rev = 1e7 * (1.03 * 0.85) ** t * np.clip(7.3 - (t - 1), 0, 1)
    assert rfr["value_income"] == pytest.approx(relief_from_royalty(rev, 0.05, 0.25, 0.12).value, rel=1e-12)


def test_pre_commercial_profit_split_is_the_options_underlying():
    from ipvalue.valuation.methods.real_option import deferral_option

    econ = {
        "revenue": 2e7,
        "profit_margin": 0.2,
        "profit_share": 0.3,
        "discount_rate": 0.12,
        "commercialization_cost": 3e5,
        "income_method": "profit_split",
    }
    v = iv.value_portfolio(_one(**econ, commercialized=False), POINT, as_of=AS_OF).iloc[0]
    s = iv.value_portfolio(_one(**econ, commercialized=True), POINT, as_of=AS_OF).iloc[0]["value_income"]
    # issue #13: the deferral right can be exercised today, so it is priced with early exercise on the lattice
    expected = deferral_option(s, 3e5, v["remaining_life_years"], 0.018, 0.35, american=True, steps=100)
    assert v["value_option"] >= s - 3e5
    assert np.isnan(v["value_income"]) and v["methods_used"] == "option 100%"
    assert v["value_option"] == pytest.approx(float(getattr(expected, "value", expected)), rel=1e-9)
