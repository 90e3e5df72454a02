"""The compiled engine's finish of the liquidation and its liquidity-haircut bisection against numpy, bit for bit.

With the compiled engine in use (``ipvalue[fast]``), :func:`~ipvalue.collateral.liquidation.finish_liquidation`
and :func:`~ipvalue.collateral.kernel.liquidity_haircut` run one compiled pass instead of a numpy call per
operation. Every number must be the one numpy gives: each test computes both and compares the bytes, on books
whose recoveries are nil on some paths and capped at the exposure on others, with two and three judicial rounds,
with risk sharing capped and not.
"""

from __future__ import annotations

import numpy as np
import pytest

from ipvalue.collateral import LiquidationPool, Loan, liquidation, load_policy
from ipvalue.collateral._assessment import RiskSharing
from ipvalue.collateral.kernel import liquidity_haircut
from ipvalue.collateral.liquidation import (
    MonteCarloResult,
    finish_liquidation,
    liquidation_partial_sums,
    liquidation_paths,
)

pytestmark = pytest.mark.skipif(
    not liquidation._numba_available(), reason="numba is not installed (the fast extra)"
)

PATHS = 3_000
FIELDS = ("gross_proceeds", "costs", "recovery", "lgd_gross", "lgd", "time_to_cash", "loan_recovered")


def _on(monkeypatch, name: str) -> None:
    monkeypatch.setattr(liquidation, "_ENGINE", [name])


def _pool(n: int, seed: int, policy, scale: float) -> LiquidationPool:
    g = np.random.default_rng(seed)
    ids = np.array([f"CN{700000 + 11 * i}A" for i in range(n)])
    package = np.array([pid if i % 4 else f"family:F{i // 8}" for i, pid in enumerate(ids)])
    return LiquidationPool.build(
        ids=ids,
        value=scale * g.lognormal(13.0, 0.9, n),
        volatility=g.uniform(0.1, 0.7, n),
        remaining_life=g.uniform(0.5, 14.0, n),
        quality_legal=g.uniform(20.0, 95.0, n),
        quality_score=g.uniform(20.0, 95.0, n),
        in_litigation=g.random(n) < 0.2,
        package=package,
        policy=policy,
    )


def _same(a: MonteCarloResult, b: MonteCarloResult) -> None:
    for f in FIELDS:
        x, y = getattr(a, f), getattr(b, f)
        assert x.dtype == y.dtype == np.float64
        assert x.tobytes() == y.tobytes(), f


SHARING = [
    RiskSharing(),
    RiskSharing(compensation_fund=0.54, insurer=0.16, appraiser=0.04),
    # caps that bind on the larger losses
    RiskSharing(compensation_fund=0.4, guarantor=0.3, compensation_fund_cap=4e5, guarantor_cap=1.5e5),
]


@pytest.mark.parametrize("rounds", [2, 3])
@pytest.mark.parametrize("sharing", SHARING)
def test_the_compiled_finish_is_numpys_to_the_last_bit(monkeypatch, rounds, sharing):
    pol = load_policy("cn-bank-standard").replace("[C] test", judicial_auction_rounds=rounds)
    loan = Loan(amount=2_000_000, currency="CNY", tenor_years=2.0, interest_rate=0.05, risk_sharing=sharing)
    setup = liquidation_paths(loan=loan, policy=pol, seed=3, paths=PATHS)
    seen_nil = seen_full = False
    # books worth little (nothing recovered on many paths), about the loan, and far more (recovery capped)
    for scale in (0.002, 0.05, 1.0):
        partial = liquidation_partial_sums(_pool(12, 5, pol, scale), setup)
        _on(monkeypatch, "numpy")
        ref = finish_liquidation(setup, [partial])
        _on(monkeypatch, "compiled")
        got = finish_liquidation(setup, [partial])
        _same(got, ref)
        seen_nil |= bool((ref.recovery == 0.0).any())
        seen_full |= bool((ref.recovery == loan.amount).any())
    assert seen_nil and seen_full
    assert np.isnan(ref.time_to_cash).any()  # paths with nothing sold: no time to cash


def test_the_finish_of_paths_not_grouped_by_mode_stays_on_numpy(monkeypatch):
    # the compiled pass takes the judicial paths as one slice; a setup whose paths are not grouped (no such
    # setup comes out of liquidation_paths, but finish_liquidation accepts one) is finished by numpy's code
    import dataclasses

    pol = load_policy("cn-bank-standard")
    loan = Loan(amount=2_000_000, currency="CNY", tenor_years=2.0, interest_rate=0.05)
    setup = liquidation_paths(loan=loan, policy=pol, seed=3, paths=PATHS)
    partial = liquidation_partial_sums(_pool(12, 5, pol, 0.05), setup)
    order = np.random.default_rng(0).permutation(PATHS)
    fields = {f.name: getattr(setup, f.name) for f in dataclasses.fields(setup)}
    for name, v in fields.items():
        if isinstance(v, np.ndarray) and v.shape[-1:] == (PATHS,):
            fields[name] = v[..., order]
    shuffled = dataclasses.replace(setup, **fields)
    part = {k: v[order] for k, v in partial.items()}
    _on(monkeypatch, "compiled")
    got = finish_liquidation(shuffled, [part])
    _on(monkeypatch, "numpy")
    _same(got, finish_liquidation(shuffled, [part]))


@pytest.mark.parametrize("n", [1, 3, 7, 8, 9, 34, 128, 129, 300, 5_000, 10_295])
def test_the_compiled_bisection_gives_numpys_haircut_to_the_last_bit(monkeypatch, n):
    # the maximum loan at each halving is a pairwise sum of n numbers: numpy's order of additions (blocks of 8,
    # halves above 128) matters for the last bit, and so for which way a halving goes
    pol = load_policy("cn-bank-standard")
    loan = Loan(amount=2_000_000, currency="CNY", tenor_years=2.0, interest_rate=0.05)
    setup = liquidation_paths(loan=loan, policy=pol, seed=3, paths=PATHS)
    mc = finish_liquidation(setup, [liquidation_partial_sums(_pool(12, 5, pol, 0.05), setup)])
    g = np.random.default_rng(n)
    supported = mc.full_recovery_loan(float(pol["recovery_confidence"]))
    moved = 0
    for trial in range(6):
        eligible = g.random(n) < 0.8
        eligible[0] = True
        value = g.lognormal(12.0, 1.5, n)
        value[g.random(n) < 0.05] = 0.0  # missing values are 0
        retain = g.uniform(0.3, 1.0, n)
        cap = np.where(g.random(n) < 0.3, g.uniform(0.2, 0.6, n), np.inf)
        # the book scaled around what the paths support: some trials need no haircut, others a large one
        value *= supported * (0.5 + trial * 2.0) / max(1.0, float(value[eligible].sum()))
        _on(monkeypatch, "numpy")
        h_ref, nums_ref = liquidity_haircut(eligible, value, retain, cap, mc, pol)
        _on(monkeypatch, "compiled")
        h, nums = liquidity_haircut(eligible, value, retain, cap, mc, pol)
        assert np.float64(h).tobytes() == np.float64(h_ref).tobytes()
        assert nums == nums_ref
        moved += h_ref > 0
    assert moved >= 2  # the bisection ran


def test_numpy_sum_adds_as_numpy_does():
    from ipvalue.collateral import _mc_fused

    g = np.random.default_rng(1)
    for n in [*range(0, 270), 1_000, 8_192, 8_193, 20_000, 100_001]:
        # numbers of mixed signs and sizes: a different order of additions would show in the last bits
        a = g.normal(size=n) * g.lognormal(0.0, 3.0, n)
        assert np.float64(_mc_fused.numpy_sum(a)).tobytes() == np.float64(a.sum()).tobytes(), n
    assert np.float64(_mc_fused.numpy_sum(np.array([-0.0]))).tobytes() == np.float64(0.0).tobytes()


@pytest.mark.parametrize("n", [2, 3, 7, 8, 127, 128, 129, 1_000, 8_191, 8_193, 20_000, 100_001])
def test_the_compiled_summary_is_numpys(monkeypatch, n):
    # the summary's sums in one compiled pass (numpy's pairwise sums, the deviations from the mean as std takes
    # them, the finite times to cash in path order): the same numbers as the numpy calls, on sizes around numpy's
    # blocks of 8 and 128 and its buffer of 8,192, with NaN times to cash, exact zeros and ties
    from dataclasses import replace

    g = np.random.default_rng(n)
    lgd = g.uniform(0.0, 1.0, n)
    lgd[g.random(n) < 0.3] = 0.0
    lgd[g.random(n) < 0.05] = 1e-13
    ttc = g.uniform(0.5, 4.0, n)
    ttc[g.random(n) < 0.2] = np.nan
    zeros = np.zeros(n, dtype=np.intp)
    mc = liquidation.MonteCarloResult(
        gross_proceeds=lgd, costs=lgd, recovery=lgd, lgd_gross=lgd * 1.1, lgd=lgd, time_to_cash=ttc,
        default_time=lgd, mode=zeros, crash=zeros.astype(bool), ead=1.0, seed=0, paths=n,
    )  # fmt: skip
    _on(monkeypatch, "numpy")
    want = mc.summary()
    _on(monkeypatch, "compiled")
    got = mc.summary()
    assert got.keys() == want.keys()
    for k in want:
        assert np.float64(got[k]).tobytes() == np.float64(want[k]).tobytes(), k
    none = replace(mc, time_to_cash=np.full(n, np.nan))  # no path recovers anything: no time to cash
    assert np.isnan(none.summary()["expected_time_to_cash_years"])
