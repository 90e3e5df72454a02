import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ipvalue as iv
from ipvalue.valuation import (
    annuity_factor,
    contributory_asset_charge,
    equivalent_investment_share,
    excess_earnings,
    exponential_decay,
    income_period,
    linear_step_down,
    period_weights,
    profit_split,
    relief_from_royalty,
    tab_factor,
    with_and_without,
)

# ----------------------------------------------------------------------------- published worked examples


def test_relief_from_royalty_exam_example_exclusive_licence():
    # 自考《资产评估》(00158) exam question, answer published at jikaoti.com/ti/dAafFFFM and gaojiufeng.cn/?id=997594:
    # 8-year exclusive licence, licensee pays 2% of sales; its sales margin is 10% on a sales profit of 4,600k
    # (so sales = 46,000k); tax 25%; discount 15%. Published answer: 460 x 20% x (1-25%) = 69 a year, value 310 (万元).
    sales = 460 / 0.10
    res = relief_from_royalty(np.full(8, sales), 0.02, 0.25, 0.15)
    assert res.cash_flows["royalty"].iloc[0] * (1 - 0.25) == pytest.approx(69.0)
    assert round(res.value) == 310


def test_tab_factor_published_example():
    # opag.io FAQ "Tax Amortisation Benefit": 25% tax, 15-year amortisation, 12% discount rate -> factor about 1.13.
    assert tab_factor(0.25, 15, 0.12) == pytest.approx(1.13, abs=0.005)


def test_tab_factor_matches_formula_and_grosses_up_rfr():
    # Wikipedia "Tax amortization benefit": TABF = 1 / (1 - t/n * (1/k - 1/(k (1+k)^n)))
    t, n, k = 0.25, 15, 0.12
    expected = 1 / (1 - t / n * (1 / k - 1 / (k * (1 + k) ** n)))
    assert tab_factor(t, n, k) == pytest.approx(expected, rel=1e-12)
    plain = relief_from_royalty(np.full(10, 1000.0), 0.05, t, k)
    grossed = relief_from_royalty(np.full(10, 1000.0), 0.05, t, k, tab_years=n)
    assert grossed.value == pytest.approx(plain.value * expected)
    assert grossed.value_before_tab == pytest.approx(plain.value)


@pytest.mark.parametrize(
    ("cp", "pp", "cl", "pl", "published"),
    [
        # 资产评估师 exam question (ti.zuoweng.com/ti/7RZKKKKQ, tikuer.com/zcpgswe/123429.html): cost 80 trended +5% = 84,
        # profit rate 400%; licensee 4,000 at 12.5%; answer D, 8.54%.
        (80 * 1.05, 4.0, 4000, 0.125, 0.0854),
        # same bank (222.198.130.40 ... id=1b7004534948456bbf31839a128c99ef): 120 at 400%, licensee 6,000 at 8%: 8.47%.
        (120, 4.0, 6000, 0.08, 0.0847),
        # tiku818.com/tiku/2593303.html: 200 at 500%, 4,000 at 25%: 19.35%.
        (200, 5.0, 4000, 0.25, 0.1935),
    ],
)
def test_equivalent_investment_share_exam_examples(cp, pp, cl, pl, published):
    assert equivalent_investment_share(cp, pp, cl, pl) == pytest.approx(published, abs=5e-5)


def test_profit_split_exam_example_equivalent_investment():
    # 自考《资产评估》 question, answer at tihaiku.com/caiwukuaiji/2135517.html: patent bought for 80 two years ago,
    # prices +25% -> replacement cost 100; profit rate 400%; licensee assets 5,000 at 15% -> share 8%;
    # 100 yuan net profit per unit on 15, 15, 14, 14, 13 (10k units); 10% discount. Published value 433.48 (万元),
    # computed with 4-digit table factors; the exact sum is 433.485.
    share = equivalent_investment_share(iv.valuation.trend_cost(80, 100, 125), 4.0, 5000, 0.15)
    assert share == pytest.approx(0.08)
    profit = np.array([15, 15, 14, 14, 13]) * 100.0
    res = profit_split(profit, share, 0.10)
    assert res.value == pytest.approx(433.48, abs=0.01)
    assert list(res.cash_flows["patent_income"].round(6)) == [120.0, 120.0, 112.0, 112.0, 104.0]


def test_with_and_without_exam_example():
    # 资产评估师 exam (jikaoti.com/ti/fK5UFFFM): a design patent lifts sales from 50k to 80k units, margin 50 yuan,
    # 3 years, 10% discount, 25% tax; published answer 112.5 x (P/A,10%,3) = 279.78 (万元, table factor 2.4869).
    with_ = np.full(3, 8 * 50 * 0.75)
    without = np.full(3, 5 * 50 * 0.75)
    res = with_and_without(with_, without, 0.10)
    assert res.value == pytest.approx(279.78, abs=0.01)


# ----------------------------------------------------------------------------- shapes, tables and identities


def test_cash_flow_table_columns_and_sum():
    res = relief_from_royalty([100.0, 110.0, 121.0], 0.05, 0.25, 0.1, mid_year=True)
    cf = res.cash_flows
    assert list(cf.columns) == [
        "year",
        "revenue",
        "royalty_rate",
        "royalty",
        "tax",
        "discount_factor",
        "present_value",
    ]
    assert list(cf["year"]) == [1, 2, 3]
    assert cf["discount_factor"].iloc[0] == pytest.approx(1.1**-0.5)
    assert cf["present_value"].sum() == pytest.approx(res.value)
    assert isinstance(res.value, float)
    ps = profit_split([10.0, 10.0], 0.3, 0.1).cash_flows
    assert {"year", "profit", "share", "tax", "discount_factor", "present_value"} <= set(ps.columns)


def test_matrix_equals_row_by_row():
    rng = np.random.default_rng(1)
    rev = rng.uniform(0, 1000, size=(7, 12))
    roy = rng.uniform(0, 0.1, size=7)
    r = rng.uniform(0.05, 0.2, size=7)
    mat = relief_from_royalty(rev, roy, 0.25, r, tab_years=10)
    rows = [relief_from_royalty(rev[i], roy[i], 0.25, r[i], tab_years=10).value for i in range(7)]
    np.testing.assert_allclose(mat.value, rows, rtol=1e-12)
    cf = mat.cash_flows
    assert len(cf) == 7 * 12 and set(cf["row"]) == set(range(7))


def test_constant_stream_equals_annuity():
    v = relief_from_royalty(np.full(9, 500.0), 0.04, 0.15, 0.11).value
    assert v == pytest.approx(500 * 0.04 * 0.85 * annuity_factor(0.11, 9))
    assert annuity_factor(0.0, 4) == pytest.approx(4.0)


def test_declining_share_profit_split():
    n = 5
    steps = linear_step_down(n, n)[0]
    np.testing.assert_allclose(steps, [1.0, 0.8, 0.6, 0.4, 0.2])
    res = profit_split(np.full(n, 100.0), 0.3 * steps, 0.1)
    expected = sum(100 * 0.3 * steps[t] / 1.1 ** (t + 1) for t in range(n))
    assert res.value == pytest.approx(expected)
    # a declining share is worth less than the constant one
    assert res.value < profit_split(np.full(n, 100.0), 0.3, 0.1).value


def test_decay_and_period_helpers():
    np.testing.assert_allclose(exponential_decay(0.15, 3)[0], [0.85, 0.85**2, 0.85**3])
    np.testing.assert_allclose(period_weights([2.5, 0.0], 4), [[1, 1, 0.5, 0], [0, 0, 0, 0]])
    np.testing.assert_allclose(income_period([10.0, 3.0, 7.0], [5.0, 8.0, np.nan]), [5.0, 3.0, 7.0])


def test_excess_earnings_with_contributory_charges():
    rev = np.full(4, 1000.0)
    wc = contributory_asset_charge(0.10, 0.05)  # working capital, no return of
    fa = contributory_asset_charge(0.30, 0.08, 0.10)
    assert fa == pytest.approx(0.054)
    res = excess_earnings(
        rev, 0.25, 0.25, 0.15, contributory_charges={"working_capital": wc, "fixed_assets": fa}
    )
    per_year = 1000 * 0.25 * 0.75 - 1000 * (wc + fa)
    assert res.value == pytest.approx(per_year * annuity_factor(0.15, 4))
    no_cac = excess_earnings(rev, 0.25, 0.25, 0.15)
    assert no_cac.value > res.value


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"revenue": [100.0, np.nan, 120.0]}, "gap .* year 2"),
        ({"revenue": [100.0, -1.0]}, "revenue must not be negative"),
        ({"royalty_rate": -0.01}, "royalty_rate"),
        ({"royalty_rate": 1.5}, "royalty_rate"),
        ({"tax_rate": 1.0}, "tax_rate"),
        ({"discount_rate": np.nan}, "discount_rate"),
        ({"discount_rate": -0.1}, "discount_rate"),
    ],
)
def test_rfr_bad_inputs(kwargs, match):
    args = {"revenue": [100.0, 110.0], "royalty_rate": 0.05, "tax_rate": 0.25, "discount_rate": 0.1} | kwargs
    with pytest.raises(ValueError, match=match):
        relief_from_royalty(**args)


def test_gap_in_matrix_names_row_and_year():
    rev = np.ones((3, 4))
    rev[2, 1] = np.nan
    with pytest.raises(ValueError, match="year 2 of row 2"):
        relief_from_royalty(rev, 0.05, 0.25, 0.1)


def test_other_bad_inputs():
    with pytest.raises(ValueError, match="tax_life_years"):
        tab_factor(0.25, 0, 0.1)
    with pytest.raises(ValueError, match="share"):
        profit_split([1.0, 2.0], 1.2, 0.1)
    with pytest.raises(ValueError, match="patent_cost"):
        equivalent_investment_share(-1, 1, 1, 1)
    with pytest.raises(ValueError, match="same years"):
        with_and_without([1.0, 2.0], [1.0], 0.1)


# ----------------------------------------------------------------------------- properties

rates = st.floats(0.0, 0.5)
disc = st.floats(0.0, 0.5)


@settings(max_examples=60, deadline=None)
@given(
    rev=st.lists(st.floats(1.0, 1e6), min_size=1, max_size=15),
    r1=rates,
    r2=rates,
    tax=st.floats(0.0, 0.5),
    k=disc,
)
def test_rfr_monotone_in_royalty(rev, r1, r2, tax, k):
    lo, hi = sorted((r1, r2))
    assert relief_from_royalty(rev, lo, tax, k).value <= relief_from_royalty(rev, hi, tax, k).value + 1e-9


@settings(max_examples=60, deadline=None)
@given(
    rev=st.lists(st.floats(1.0, 1e6), min_size=1, max_size=15),
    roy=st.floats(0.001, 0.3),
    k1=disc,
    k2=disc,
    scale=st.floats(1.0, 3.0),
)
def test_rfr_monotone_in_discount_and_revenue(rev, roy, k1, k2, scale):
    lo, hi = sorted((k1, k2))
    base = relief_from_royalty(rev, roy, 0.25, lo).value
    assert relief_from_royalty(rev, roy, 0.25, hi).value <= base + 1e-9
    assert relief_from_royalty(np.asarray(rev) * scale, roy, 0.25, lo).value >= base - 1e-9


@settings(max_examples=60, deadline=None)
@given(life1=st.floats(0.0, 25.0), life2=st.floats(0.0, 25.0), roy=st.floats(0.001, 0.3), k=disc)
def test_rfr_monotone_in_life_and_zero_at_zero_life(life1, life2, roy, k):
    lo, hi = sorted((life1, life2))
    rev = np.full((2, 26), 1000.0) * period_weights([lo, hi], 26)
    v = relief_from_royalty(rev, roy, 0.25, k).value
    assert v[0] <= v[1] + 1e-9
    zero = relief_from_royalty(np.full(26, 1000.0) * period_weights(0.0, 26)[0], roy, 0.25, k)
    assert zero.value == 0.0
