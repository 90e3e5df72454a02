import numpy as np
import pytest
from scipy.stats import norm

from ipvalue.collateral import (
    LiquidationPool,
    Loan,
    RiskSharing,
    judicial_auction_prices,
    load_policy,
    risk_sharing_split,
    simulate_liquidation,
)
from ipvalue.collateral.liquidation import (
    default_time_quantile,
    deterministic_scenarios,
    judicial_round_probabilities,
)
from ipvalue.collateral.sizing import bank_retained_exposure, size_loan


def test_judicial_auction_arithmetic():
    # 法释〔2016〕18号 Arts. 10 and 26 (reference 3.7): first reserve >= 70% of the appraisal, a second auction
    # at most 20% below it (>= 56% of the appraisal), then a 60-day 变卖 at the second-auction price.
    p = judicial_auction_prices(3_000_000.0)
    assert p["first_auction"] == pytest.approx(2_100_000.0)
    assert p["second_auction"] == pytest.approx(1_680_000.0)
    assert p["sale_period"] == pytest.approx(1_680_000.0)
    assert p["second_auction"] / 3_000_000.0 == pytest.approx(0.56)
    q = judicial_auction_prices(np.array([100.0, 200.0]), first_reserve=0.8, second_round_cut=0.1)
    assert q["second_auction"] == pytest.approx([72.0, 144.0])
    with pytest.raises(ValueError, match="0.70"):
        judicial_auction_prices(100.0, first_reserve=0.65)
    with pytest.raises(ValueError, match="0.20"):
        judicial_auction_prices(100.0, second_round_cut=0.25)


def test_judicial_round_probabilities_sum_to_one_and_follow_the_lognormal_bid():
    pol = load_policy("cn-bank-standard")
    p = judicial_round_probabilities(pol)
    assert sum(p.values()) == pytest.approx(1.0)
    m, s = pol["bid_median"]["judicial"], pol["bid_dispersion"]
    assert p["first_auction"] == pytest.approx(1 - norm.cdf(np.log(0.70 / m) / s))
    assert p["first_auction"] + p["second_auction"] == pytest.approx(1 - norm.cdf(np.log(0.56 / m) / s))
    crashed = judicial_round_probabilities(pol, crash_drop=0.5)
    assert crashed["unsold"] > p["unsold"]


def test_risk_sharing_split_zhongshan_and_caps():
    # Zhongshan: fund 54 : bank 26 : insurer 16 : appraiser 4 (reference 3.5)
    rs = RiskSharing(compensation_fund=0.54, insurer=0.16, appraiser=0.04)
    split = risk_sharing_split(1_000_000.0, rs)
    assert split["bank"] == pytest.approx(260_000.0)
    assert split["compensation_fund"] == pytest.approx(540_000.0)
    capped = RiskSharing(
        compensation_fund=0.54, insurer=0.16, appraiser=0.04, compensation_fund_cap=100_000.0
    )
    split = risk_sharing_split(np.array([0.0, 1_000_000.0]), capped)
    assert split["compensation_fund"] == pytest.approx([0.0, 100_000.0])
    assert split["bank"] == pytest.approx([0.0, 1_000_000 - 100_000 - 160_000 - 40_000])
    assert bank_retained_exposure(1_000_000.0, rs) == pytest.approx(260_000.0)
    assert bank_retained_exposure(1_000_000.0, RiskSharing()) == 1_000_000.0


def test_size_loan():
    loan = Loan(amount=1_000_000, currency="CNY", tenor_years=1)
    s = size_loan(800_000.0, 3_000_000.0, loan, 0.9)
    assert s == pytest.approx(
        {"max_loan": 720_000.0, "ltv": 1 / 3, "coverage_ratio": 0.8, "shortfall": 280_000.0}
    )
    assert size_loan(0.0, 0.0, loan, 1.0)["ltv"] == float("inf")


def test_default_time_given_default_within_the_tenor():
    u = np.linspace(0.0005, 0.9995, 1000)
    assert default_time_quantile(u, 2.0, None).mean() == pytest.approx(1.0, abs=1e-3)  # uniform
    pd_, tenor = 0.6, 2.0
    lam = -np.log(1 - pd_) / tenor
    t = default_time_quantile(u, tenor, pd_)
    assert t.min() >= 0 and t.max() <= tenor
    # mean of an exponential truncated at T: 1/lam - T e^{-lam T} / (1 - e^{-lam T})
    expected = 1 / lam - tenor * np.exp(-lam * tenor) / (1 - np.exp(-lam * tenor))
    assert t.mean() == pytest.approx(expected, rel=1e-3)
    assert np.all(default_time_quantile(u, 0.0, 0.3) == 0.0)  # a loan at maturity defaults now


def _pool(n=5, policy=None, **over):
    pol = policy or load_policy("cn-bank-standard")
    ids = [f"CN{200000000 + i}A" for i in range(n)]
    kw = dict(
        value=np.linspace(1e6, 3e6, n),
        volatility=np.full(n, 0.4),
        remaining_life=np.full(n, 10.0),
        quality_legal=np.full(n, 70.0),
        quality_score=np.full(n, 60.0),
        in_litigation=np.zeros(n, bool),
    )
    kw.update(over)
    return LiquidationPool.build(ids, policy=pol, **kw)


def _judicial_only_policy():
    # one disposal mode, no market risk, no invalidation, no crash, no legal cost, fixed time to sale
    return load_policy("cn-bank-standard").replace(
        "[C] test",
        mode_probabilities={"orderly": 0.0, "judicial": 1.0, "distressed": 0.0},
        obsolescence_rate=0.0,
        invalidation_hazard=0.0,
        crash_probability=0.0,
        time_to_sale_dispersion=0.0,
        life_discount_rate=0.0,
        legal_cost={"orderly": 0.0, "judicial": 0.0, "distressed": 0.0},
    )


def test_monte_carlo_matches_the_analytic_judicial_recovery():
    # engine against an analytic value: with no diffusion and a fixed sale date the expected recovery is
    # sum(V) * (1 - c) * [0.70 p1 DF1 + 0.56 p2 DF2 + 0.56 p3 DF3]
    pol = _judicial_only_policy()
    n = 20
    pol = pol.replace("[C] test", appraisal_fee=0.0)  # no cost without a sale: the floor at 0 never binds
    pool = _pool(n, pol, volatility=np.zeros(n), remaining_life=np.full(n, 1e9))
    loan = Loan(amount=1e12, currency="CNY", tenor_years=1.0, interest_rate=0.05)  # never capped
    mc = simulate_liquidation(pool, loan=loan, policy=pol, seed=11, paths=40_000)
    p = judicial_round_probabilities(pol)
    t_sell = pol["time_to_sale_median_years"]["judicial"]
    # 30 days' notice, re-auction 30 days later, 60 days of 变卖 (法释〔2016〕18号 Arts. 12, 26; 法释〔2004〕16号 Art. 25)
    d1, d2, d3 = 30 / 365, 60 / 365, 120 / 365
    df = lambda d: 1.05 ** -(t_sell + d)  # noqa: E731
    v = pool.value.sum()
    keep = 1 - pol["variable_cost"]["judicial"]
    expected = (
        keep
        * v
        * (
            0.70 * p["first_auction"] * df(d1)
            + 0.56 * p["second_auction"] * df(d2)
            + 0.56 * p["sale_period"] * df(d3)
        )
        - pol["appraisal_fee"] * v
    )
    stderr = mc.recovery.std(ddof=1) / np.sqrt(len(mc.recovery))
    assert abs(mc.recovery.mean() - expected) < 4 * stderr
    assert stderr < 0.01 * expected


def test_convergence_standard_error_shrinks_as_one_over_sqrt_paths():
    pol = load_policy("cn-bank-standard")
    pool = _pool(4)
    loan = Loan(amount=4e6, currency="CNY", tenor_years=1.0, probability_of_default=0.05)
    means = {}
    for paths in (250, 4000):
        means[paths] = np.array(
            [
                simulate_liquidation(pool, loan=loan, policy=pol, seed=s, paths=paths).lgd.mean()
                for s in range(40)
            ]
        )
    ratio = means[250].std(ddof=1) / means[4000].std(ddof=1)
    assert 2.7 < ratio < 6.0  # sqrt(16) = 4; 40 seeds give the spread estimate about +-12%
    assert abs(means[4000].mean() - means[250].mean()) < 4 * means[250].std(ddof=1) / np.sqrt(40)
    mc = simulate_liquidation(pool, loan=loan, policy=pol, seed=0, paths=4000)
    assert mc.summary()["expected_lgd_stderr"] == pytest.approx(means[4000].std(ddof=1), rel=0.35)


def test_reproducible_and_independent_of_row_order():
    pol = load_policy("cn-bank-standard")
    loan = Loan(amount=4e6, currency="CNY", tenor_years=1.0, probability_of_default=0.05)
    pool = _pool(6)
    a = simulate_liquidation(pool, loan=loan, policy=pol, seed=3, paths=3000)
    b = simulate_liquidation(pool, loan=loan, policy=pol, seed=3, paths=3000)
    np.testing.assert_array_equal(a.lgd, b.lgd)
    rev = LiquidationPool.build(
        pool.ids[::-1],
        pool.value[::-1],
        pool.volatility[::-1],
        pool.remaining_life[::-1],
        np.full(6, 70.0),
        np.full(6, 60.0),
        np.zeros(6, bool),
        pol,
    )
    c = simulate_liquidation(rev, loan=loan, policy=pol, seed=3, paths=3000)
    np.testing.assert_array_equal(a.lgd, c.lgd)
    d = simulate_liquidation(pool, loan=loan, policy=pol, seed=4, paths=3000)
    assert not np.array_equal(a.lgd, d.lgd)
    # chunking over patents does not change a number
    e = simulate_liquidation(pool, loan=loan, policy=pol, seed=3, paths=3000, block_elements=3000)
    np.testing.assert_allclose(a.lgd, e.lgd, rtol=0, atol=1e-12)


def test_monte_carlo_outputs_are_bounded_and_respond_to_the_crash():
    pol = load_policy("cn-bank-standard")
    loan = Loan(
        amount=4e6,
        currency="CNY",
        tenor_years=1.0,
        probability_of_default=0.05,
        risk_sharing=RiskSharing(compensation_fund=0.5),
    )
    pool = _pool(6)
    mc = simulate_liquidation(pool, loan=loan, policy=pol, seed=1, paths=5000)
    assert np.all((mc.lgd >= 0) & (mc.lgd <= 0.5 + 1e-12))  # the fund takes half of every loss
    assert np.all((mc.lgd_gross >= 0) & (mc.lgd_gross <= 1))
    assert np.all(mc.recovery <= loan.amount)
    assert np.all(mc.default_time <= 1.0)
    s = mc.summary()
    assert s["lgd_95"] <= s["lgd_99"] <= 0.5 + 1e-12
    crashed = simulate_liquidation(pool, loan=loan, policy=pol, seed=1, paths=5000, crash_probability=1.0)
    assert crashed.lgd.mean() > mc.lgd.mean()
    obsolete = simulate_liquidation(pool, loan=loan, policy=pol, seed=1, paths=5000, obsolescence_shift=0.3)
    assert obsolete.lgd.mean() > mc.lgd.mean()


@pytest.mark.parametrize("amount", [2e5, 4e6, 5e7])  # nearly always, sometimes and never fully recovered
def test_summary_quantiles_are_numpys(amount):
    # the summary reads the 95% and 99% LGD from the sorted paths: the same numbers as np.quantile, on LGDs with
    # many ties (every path recovered in full has LGD 0, every path with nothing sold the bank's whole share)
    pol = load_policy("cn-bank-standard")
    loan = Loan(amount=amount, currency="CNY", tenor_years=1.0, risk_sharing=RiskSharing(insurer=0.3))
    mc = simulate_liquidation(_pool(6), loan=loan, policy=pol, seed=2, paths=5001)
    s = mc.summary()
    want = np.quantile(mc.lgd, [0.95, 0.99])
    assert np.float64(s["lgd_95"]).tobytes() == want[0].tobytes()
    assert np.float64(s["lgd_99"]).tobytes() == want[1].tobytes()
    assert len(np.unique(mc.lgd)) < len(mc.lgd)  # ties present


def test_empty_pool_loses_everything():
    pol = load_policy("cn-bank-standard")
    loan = Loan(amount=1e6, currency="CNY", tenor_years=1.0)
    mc = simulate_liquidation(_pool(0), loan=loan, policy=pol, seed=0, paths=100)
    assert np.all(mc.lgd == 1.0) and np.isnan(mc.summary()["expected_time_to_cash_years"])


def test_deterministic_scenarios_by_hand():
    pol = _judicial_only_policy()
    pool = _pool(2, pol, value=np.array([1e6, 2e6]), remaining_life=np.full(2, 1e9))
    loan = Loan(amount=5e6, currency="CNY", tenor_years=1.0, interest_rate=0.0)
    det = deterministic_scenarios(pool, loan=loan, policy=pol).set_index("scenario")
    first = det.loc["judicial_first_auction"]
    assert first["gross_proceeds"] == pytest.approx(0.70 * 3e6)
    assert first["costs"] == pytest.approx(0.05 * 2.1e6 + 0.03 * 3e6)  # auction costs + appraisal fee
    assert first["recovery"] == pytest.approx(0.95 * 2.1e6 - 0.03 * 3e6)  # interest rate 0: no discounting
    assert det.loc["judicial_second_auction", "gross_proceeds"] == pytest.approx(0.56 * 3e6)
    assert det.loc["judicial_sale_period", "gross_proceeds"] == pytest.approx(0.56 * 3e6)
    assert det.loc["judicial_unsold", "recovery"] == 0.0
    judicial = det.loc[[i for i in det.index if i.startswith("judicial")], "probability"]
    assert judicial.sum() == pytest.approx(1.0)
    assert (
        det.loc["judicial_first_auction", "time_to_cash_years"]
        < det.loc["judicial_sale_period", "time_to_cash_years"]
    )
