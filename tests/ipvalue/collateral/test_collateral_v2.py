"""Collateral v2 (issue 15): a pledge value that the engine's own liquidation model backs.

Each test names the finding it checks; sources in the comments.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ipvalue.collateral import CollateralInputError, Loan, assess_collateral, load_policy
from ipvalue.collateral.liquidation import (
    LiquidationPool,
    default_time_quantile,
    judicial_auction_prices,
    judicial_delays,
    judicial_round_probabilities,
    simulate_liquidation,
)
from ipvalue.demo import load_demo
from ipvalue.valuation import value_portfolio

AS_OF = dt.date(2026, 6, 30)


def _frame(make_frame, n=12, seed=1):
    return make_frame(n, seed)


def test_lending_max_loan_meets_the_full_recovery_level_on_fresh_paths(make_frame):
    # calibrated on seed 0, checked on an independent seed: P(full recovery | default) >= level - 3 SE
    v = _frame(make_frame, 30, 3)
    base = Loan(amount=1_000_000, currency="CNY", tenor_years=1.0, probability_of_default=0.05)
    a = assess_collateral(v, loan=base, rng=0, paths=20_000, stress=False)
    level = a.summary["recovery_confidence"]
    assert a.summary["max_loan"] == pytest.approx(a.summary["full_recovery_loan"], rel=1e-6) or (
        a.summary["liquidity_haircut"] == 0.0
    )
    at_max = dataclasses.replace(base, amount=a.summary["max_loan"])
    b = assess_collateral(v, loan=at_max, rng=12345, paths=20_000, stress=False)
    se = np.sqrt(level * (1 - level) / 20_000)  # 0.0035 at level 0.5
    assert b.summary["prob_full_recovery"] >= level - 3 * se
    same = assess_collateral(v, loan=at_max, rng=0, paths=20_000, stress=False)
    assert same.summary["prob_full_recovery"] >= level  # on the calibration paths: exactly met


def _one_package(n: int, total: float) -> tuple[LiquidationPool, Loan]:
    pol = load_policy("cn-bank-standard")
    ids = [f"CN{100 + i}" for i in range(n)]
    pool = LiquidationPool.build(
        ids=ids,
        value=np.full(n, total / n),
        volatility=np.full(n, 0.4),
        remaining_life=np.full(n, 12.0),
        quality_legal=np.full(n, 70.0),
        quality_score=np.full(n, 70.0),
        in_litigation=np.zeros(n, dtype=bool),
        policy=pol,
        package=["family:F1"] * n,
    )
    return pool, Loan(amount=2_000_000, currency="CNY", tenor_years=1.0, probability_of_default=0.05)


@settings(max_examples=6, deadline=None)
@given(n=st.integers(2, 40), total=st.floats(1e6, 2e7), seed=st.integers(0, 1000))
def test_splitting_a_package_moves_expected_lgd_by_less_than_005(n, total, seed):
    # issue 15: one family is sold as one package (one bid, one sale or no sale for all its lots), so the same
    # value as 1 patent or as n patents gives about the same expected LGD; before package sale 30 patents
    # lowered it from about 0.6 to about 0.4 (each lot drew its own buyer). 4,000 paths, common random numbers.
    pol = load_policy("cn-bank-standard")
    one, loan = _one_package(1, total)
    split, _ = _one_package(n, total)
    lgd = [
        simulate_liquidation(p, loan=loan, policy=pol, seed=seed, paths=4_000).summary()["expected_lgd"]
        for p in (one, split)
    ]
    assert abs(lgd[0] - lgd[1]) < 0.05, (n, lgd)


@settings(max_examples=8)
@given(pd_=st.floats(0.9990, 0.999999))
def test_lgd_is_continuous_as_pd_tends_to_one(pd_):
    # PD = 1: a borrower already in default, the workout starts at as_of (the limit of the conditional hazard)
    u = np.linspace(0.01, 0.99, 50)
    near = default_time_quantile(u, 2.0, pd_)
    at = default_time_quantile(u, 2.0, 1.0)
    assert np.all(at == 0.0)
    # the conditional default time has mean about 1/lambda = tenor / -ln(1 - PD) -> 0: no jump to a uniform draw
    assert np.mean(near) < 2.0 / -np.log1p(-pd_) + 1e-9
    pol = load_policy("cn-bank-standard")
    pool, loan = _one_package(3, 3_000_000.0)
    lg = {
        p: simulate_liquidation(
            pool, loan=dataclasses.replace(loan, probability_of_default=p), policy=pol, seed=1, paths=4_000
        ).summary()["expected_lgd"]
        for p in (pd_, 1.0)
    }
    assert abs(lg[pd_] - lg[1.0]) < 0.02


def test_judicial_notice_for_a_property_right_is_30_days_then_15():
    # 法释〔2016〕18号 Art. 12 (30 days for immovables and other property rights) and Art. 26 (15 days, within 30)
    d1, d2, end = judicial_delays(load_policy("cn-bank-standard"))
    assert d1 == pytest.approx(30 / 365) and d2 == pytest.approx(60 / 365)
    assert end == pytest.approx(
        120 / 365
    )  # 60-day 变卖 (法释〔2004〕16号 Art. 25, via 法释〔2016〕18号 Art. 37)


def test_judicial_rounds_online_two_offline_three_each_reserve_at_most_20pct_lower():
    # online (法释〔2016〕18号 Arts. 10, 26): 70% of the appraisal, then at most 20% lower, then 变卖 at that price;
    # offline for other property rights (法释〔2004〕16号 Arts. 5, 25): a third auction, 变卖 at its reserve
    two = judicial_auction_prices(1.0)
    three = judicial_auction_prices(1.0, rounds=3)
    assert [two[k] for k in ("first_auction", "second_auction", "sale_period")] == pytest.approx(
        [0.7, 0.56, 0.56]
    )
    assert three["third_auction"] == pytest.approx(0.448) and three["sale_period"] == pytest.approx(0.448)
    with pytest.raises(ValueError, match="rounds"):
        judicial_auction_prices(1.0, rounds=4)
    pol = load_policy("cn-bank-standard")
    assert pol["judicial_auction_rounds"] == 2
    p2 = judicial_round_probabilities(pol)
    p3 = judicial_round_probabilities(pol.replace("[C] test", judicial_auction_rounds=3))
    for p in (p2, p3):
        assert sum(p.values()) == pytest.approx(1.0)
    # no sale at all = failing every round and the 变卖: a third, lower reserve can only lower it
    m, s, succ = pol["bid_median"]["judicial"], pol["bid_dispersion"], pol["judicial_sale_success"]
    from scipy.stats import norm

    assert p2["unsold"] == pytest.approx(norm.cdf(np.log(0.56 / m) / s) * (1 - succ))
    assert p3["unsold"] == pytest.approx(norm.cdf(np.log(0.448 / m) / s) * (1 - succ))
    assert p3["unsold"] < p2["unsold"]
    assert p3["first_auction"] == pytest.approx(p2["first_auction"])
    assert len(judicial_delays(pol.replace("[C] test", judicial_auction_rounds=3))) == 4


def test_monte_carlo_sells_a_judicial_package_in_the_round_its_bid_reaches():
    # one package, judicial disposal only, no value risk: the share of paths with each price is the round's
    # probability (price = that round's reserve x value); 变卖 buyers are drawn per package
    pol = load_policy("cn-bank-standard").replace(
        "[C] test",
        mode_probabilities={"orderly": 0.0, "judicial": 1.0, "distressed": 0.0},
        invalidation_hazard=0.0,
        crash_probability=0.0,
        obsolescence_rate=0.0,
        life_discount_rate=0.0,
        judicial_auction_rounds=3,
    )
    n = 4
    pool = LiquidationPool.build(
        ids=[f"CN{300 + i}" for i in range(n)],
        value=np.full(n, 1e6),
        volatility=np.zeros(n),
        remaining_life=np.full(n, 1e9),
        quality_legal=np.full(n, 70.0),
        quality_score=np.full(n, 70.0),
        in_litigation=np.zeros(n, dtype=bool),
        policy=pol,
        package=["family:F"] * n,
    )
    paths = 20_000
    mc = simulate_liquidation(
        pool, loan=Loan(amount=1e9, currency="CNY", tenor_years=1.0), policy=pol, seed=5, paths=paths
    )
    share = mc.gross_proceeds / 4e6
    p = judicial_round_probabilities(pol)
    se = lambda q: np.sqrt(q * (1 - q) / paths)  # noqa: E731
    for price, prob in ((0.70, p["first_auction"]), (0.56, p["second_auction"])):
        assert abs(np.mean(np.isclose(share, price)) - prob) < 4 * se(prob)
    # the third auction and the 变卖 both sell at 0.448
    q = p["third_auction"] + p["sale_period"]
    assert abs(np.mean(np.isclose(share, 0.448)) - q) < 4 * se(q)
    assert abs(np.mean(share == 0.0) - p["unsold"]) < 4 * se(p["unsold"])
    # the whole package sells or not: no path sells part of it
    assert np.all(np.isin(np.round(share, 6), [0.0, 0.448, 0.56, 0.7]))


def test_expired_stale_and_future_valuations(make_frame, loan):
    v = make_frame(6, 2)
    v.loc[v.index[0], "remaining_life_years"] = 0.5
    later = AS_OF + dt.timedelta(days=400)
    a = assess_collateral(v, loan=loan, as_of=later, paths=500, stress=False)
    # the remaining life at the assessment's date: 0.5 - 400/365.25 < 0, so EXPIRED, not only a short term
    assert "EXPIRED" in a.patents.loc[v.index[0], "ineligible_reasons"]
    # 商业银行押品管理指引 (银监发〔2017〕16号): revalued at least once a year
    assert "STALE_VALUATION" in a.summary["flags"]
    fresh = assess_collateral(v, loan=loan, paths=500, stress=False)
    assert "STALE_VALUATION" not in fresh.summary["flags"]
    assert (a.patents["remaining_life_years"] < fresh.patents["remaining_life_years"]).all()
    with pytest.raises(CollateralInputError, match="after the assessment"):
        assess_collateral(v, loan=loan, as_of=AS_OF - dt.timedelta(days=1), paths=500, stress=False)


def test_lending_max_loan_meets_the_full_recovery_level_on_the_demo_book():
    # issue 15 found P(full recovery) about 0.3 lending max_loan on the demo; the liquidity haircut (变现能力) must
    # make it reach the policy's recovery_confidence. Calibrated on seed 0 (20,000 paths), re-checked on an
    # independent seed: the Monte Carlo error of a proportion at level c is sqrt(c (1 - c) / 20,000), 0.0035 at
    # c = 0.5, and the check allows 3 of them.
    portfolio, loan, as_of = load_demo()
    valued = value_portfolio(portfolio, as_of=as_of, rng=0)
    for policy in ("cn-bank-standard", "conservative"):
        a = assess_collateral(valued, loan=loan, policy=policy, rng=0, paths=20_000, stress=False)
        level = a.summary["recovery_confidence"]
        assert 0.5 <= level <= 0.6
        at_max = dataclasses.replace(loan, amount=a.summary["max_loan"])
        same = assess_collateral(valued, loan=at_max, policy=policy, rng=0, paths=20_000, stress=False)
        assert same.summary["prob_full_recovery"] >= level  # on the calibration paths: met exactly
        fresh = assess_collateral(valued, loan=at_max, policy=policy, rng=98765, paths=20_000, stress=False)
        se = np.sqrt(level * (1 - level) / 20_000)
        assert fresh.summary["prob_full_recovery"] >= level - 3 * se, (
            policy,
            fresh.summary["prob_full_recovery"],
        )


def test_audit_hashes_see_the_13th_digit(make_frame, loan):
    # the frames are hashed with ipvalue.facts.columns.input_hash (binary float64), not a %.12g CSV text
    v = make_frame(6, 4)
    w = v.copy()
    w.loc[w.index[0], "value"] = w["value"].iloc[0] * (1 + 3e-14)
    assert f"{w['value'].iloc[0]:.12g}" == f"{v['value'].iloc[0]:.12g}"
    a = assess_collateral(v, loan=loan, paths=200, stress=False)
    b = assess_collateral(w, loan=loan, paths=200, stress=False)
    assert a.audit["input_hash"] != b.audit["input_hash"]
    assert a.audit["output_hash"] != b.audit["output_hash"]


@settings(max_examples=10, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000), pledged=st.lists(st.booleans(), min_size=8, max_size=8))
def test_collateral_never_above_value_and_ineligible_contribute_nothing(make_frame, seed, pledged):
    v = make_frame(8, seed % 50 + 1)
    v["pledged"] = pledged
    loan = Loan(amount=1_000_000, currency="CNY", tenor_years=1.0, probability_of_default=0.1)
    a = assess_collateral(v, loan=loan, rng=seed, paths=300, stress=False)
    p = a.patents
    assert (p["collateral_value"] <= p["value"] + 1e-9).all()
    assert (p.loc[~p["eligible"], "collateral_value"] == 0).all()
    assert set(p["binding_component"]) <= {
        "ineligible",
        "pledge_rate_cap",
        "valuation",
        "market",
        "legal",
        "life",
        "concentration",
        "currency",
        "liquidity",
    }
