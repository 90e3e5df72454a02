"""The stress shocks on a shock axis give the same numbers, to the last bit, as the shocks run one by one.

The sequential reference is :func:`run_stress` with ``core=assess_frame``: every shock re-runs the whole
collateral engine on its own frame with its own Monte Carlo draws, as before the shock axis. The shock axis
draws once for the base case and every shock, reuses the base case for the loan-only shock, and adds the
patents one after the other, so a subset of the patents (a shock's pool) sums as it would on its own.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

import ipvalue as iv
from ipvalue.collateral import CollateralContext, LiquidationPool, Loan, liquidation, load_policy
from ipvalue.collateral import kernel as collateral_kernel
from ipvalue.collateral import stress as stress_module
from ipvalue.collateral._inputs import check_frame
from ipvalue.collateral.kernel import assess_frame
from ipvalue.collateral.liquidation import (
    PARTIAL_SUMS,
    PatentDraws,
    liquidation_partial_sums,
    liquidation_partial_sums_many,
    liquidation_paths,
)
from ipvalue.collateral.stress import (
    STRESS_SHOCKS,
    VALUE_COLUMNS,
    StressShock,
    assess_with_stress,
    run_stress,
)
from ipvalue.demo import load_demo


def _both_ways(valued: pd.DataFrame, loan: Loan, *, paths: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The stress table on the shock axis and shock by shock (the reference), in this run."""
    info = dict(valued.attrs.get("ipvalue", {}))
    as_of = dt.date.fromisoformat(info["as_of"])
    frame = check_frame(valued).sort_index(kind="stable")
    ctx = CollateralContext(
        loan=loan, policy=load_policy("cn-bank-standard"), as_of=as_of, seed=0, paths=paths
    )
    base = assess_frame(frame, ctx, checked=True)
    kw = {"base": base.numbers, "base_patents": base.patents, "valuation": info}
    axis = run_stress(frame, ctx, base_core=base, **kw)
    reference = run_stress(frame, ctx, core=assess_frame, **kw)
    return axis, reference


@pytest.fixture(scope="module")
def demo_valued():
    portfolio, loan, as_of = load_demo()
    return iv.value_portfolio(portfolio, as_of=as_of, rng=0), loan


@pytest.mark.slow  # the sequential reference runs the whole engine six more times (about 2-4 s)
@pytest.mark.parametrize("keep_draws", [True, False])
def test_demo_shock_axis_equals_the_shocks_one_by_one(demo_valued, monkeypatch, keep_draws):
    valued, loan = demo_valued
    if not keep_draws:  # a large book: the shocks draw once more, together, instead of reusing the base draws
        monkeypatch.setattr(collateral_kernel, "DRAW_CACHE_ELEMENTS", 0)
    axis, reference = _both_ways(valued, loan, paths=1_000)
    # the demo revalues three shocks and applies three directly: every path of the engine is covered
    assert axis["revalued"].tolist() == [True, True, True, False, False, False]
    assert axis["shock"].tolist() == reference["shock"].tolist()
    pd.testing.assert_frame_equal(axis, reference, check_exact=True)
    # the shocks move the figures (the comparison is not between two copies of the base case)
    assert axis["collateral_value"].nunique() == len(axis)


@pytest.mark.slow  # as above
def test_book_of_several_blocks_shock_axis_equals_the_shocks_one_by_one(make_frame, loan):
    # 52 patents x 20,000 paths: two blocks of 50 patents; the largest family's invalidation takes patents out
    valued = make_frame(52, seed=4)
    valued.attrs["ipvalue"]["assumptions"] = None  # no valuation record: the valuation shocks act directly
    axis, reference = _both_ways(valued, loan, paths=20_000)
    pd.testing.assert_frame_equal(axis, reference, check_exact=True)
    assert not axis["revalued"].any()


def _pool(n: int, seed: int, *, package_size: int = 1) -> tuple[LiquidationPool, dict]:
    pol = load_policy("cn-bank-standard")
    g = np.random.default_rng(seed)
    ids = np.array([f"CN{300000 + 17 * i}B" for i in range(n)])
    cols = {
        "ids": ids,
        "value": g.lognormal(13.0, 0.7, n),
        "volatility": g.uniform(0.2, 0.6, n),
        "remaining_life": g.uniform(0.5, 15.0, n),
        "quality_legal": g.uniform(30.0, 90.0, n),
        "quality_score": g.uniform(30.0, 90.0, n),
        "in_litigation": g.random(n) < 0.2,
        "package": np.array([f"family:F{i // package_size}" for i in range(n)]) if package_size > 1 else None,
    }
    return LiquidationPool.build(**cols, policy=pol), pol


@pytest.mark.parametrize("package_size", [1, 3])
def test_partial_sums_do_not_depend_on_the_block_size(loan, package_size):
    pool, pol = _pool(41, 7, package_size=package_size)
    setup = liquidation_paths(loan=loan, policy=pol, seed=3, paths=1_500)
    whole = liquidation_partial_sums(pool, setup)  # one block
    for block in (1_500, 7 * 1_500, 40 * 1_500):  # one patent, 7 patents, 40 patents per block
        cut = liquidation_partial_sums(pool, setup, block_elements=block)
        for k in PARTIAL_SUMS:
            np.testing.assert_array_equal(cut[k], whole[k])


@pytest.mark.parametrize("threads", [1, 2])
def test_a_subset_on_shared_draws_sums_as_on_its_own(loan, monkeypatch, threads):
    pool, pol = _pool(37, 9, package_size=2)
    setup = liquidation_paths(loan=loan, policy=pol, seed=5, paths=1_200)
    crashed = liquidation_paths(loan=loan, policy=pol, seed=5, paths=1_200, crash_probability=1.0)
    keep = np.ones(len(pool.ids), dtype=bool)
    keep[[2, 3, 17, 30]] = False
    sub = LiquidationPool(**{f: getattr(pool, f)[keep] for f in pool.__dataclass_fields__})
    runs = [(pool, setup), (sub, setup), (sub, crashed)]
    monkeypatch.setattr(liquidation, "PARALLEL_THREADS", 1)
    alone = [liquidation_partial_sums(p, s) for p, s in runs]  # each run on its own, one thread
    # shared draws; with threads=2 a large job: the draws and the runs on two threads, the same numbers
    monkeypatch.setattr(liquidation, "PARALLEL_THREADS", threads)
    monkeypatch.setattr(liquidation, "PARALLEL_MIN_ELEMENTS", 0)
    draws = PatentDraws(
        pool.ids,
        pool.package,
        seed=5,
        paths=1_200,
        sale_success=setup.sale_success,
        judicial=slice(setup.j0, setup.j1),
        cache=True,
    )
    shared = liquidation_partial_sums_many(runs, draws=draws, block_elements=10 * 1_200)
    again = liquidation_partial_sums_many(runs[1:], draws=draws)  # the kept draws, used a second time
    fresh = liquidation_partial_sums_many(runs, block_elements=7 * 1_200)  # drawn here, not kept
    for got, ref in zip([*shared, *again, *fresh], [*alone, *alone[1:], *alone], strict=True):
        for k in PARTIAL_SUMS:
            np.testing.assert_array_equal(got[k], ref[k])
    # the subset is not the whole pool, and the crash moves the bids
    assert not np.array_equal(alone[0]["sum_v"], alone[1]["sum_v"])
    assert not np.array_equal(alone[1]["s0"], alone[2]["s0"])


def test_draws_must_hold_the_pool(loan):
    pool, pol = _pool(5, 1)
    setup = liquidation_paths(loan=loan, policy=pol, seed=0, paths=100)
    small = PatentDraws(
        pool.ids[:3], pool.ids[:3], seed=0, paths=100, sale_success=0.5, judicial=slice(setup.j0, setup.j1)
    )
    small.sale_success = setup.sale_success
    with pytest.raises(ValueError, match="do not hold every patent"):
        liquidation_partial_sums_many([(pool, setup)], draws=small)


def test_the_engine_frame_carries_no_attrs(make_frame):
    valued = make_frame(4)
    assert valued.attrs  # the input has its valuation record
    assert check_frame(valued).attrs == {}
    assert valued.attrs["ipvalue"]["seed"] == 0  # and keeps it


def _two_passes_and_one(
    valued: pd.DataFrame, loan: Loan, monkeypatch, engine_context, *, paths: int, shocks=STRESS_SHOCKS
) -> tuple[tuple, tuple, list[int]]:
    """The base case and the stress table two ways in this run, and the runs of each one-pass Monte Carlo call.

    Two passes (as before): :func:`assess_frame` with a keep-draws threshold of 0 (a book above it: the base
    case does not keep its draws) then :func:`run_stress` on the shock axis, which draws the book again. One
    pass: :func:`assess_with_stress`, the base case as run 0 of the shock axis.
    """
    info, ctx = engine_context(valued, loan, paths=paths)
    frame = check_frame(valued).sort_index(kind="stable")
    base = assess_frame(frame, ctx, checked=True, keep_draws_elements=0)
    assert base.draws is None  # above the threshold: the two-pass path draws the book twice
    two = run_stress(
        frame,
        ctx,
        base=base.numbers,
        base_patents=base.patents,
        valuation=info,
        base_core=base,
        shocks=shocks,
    )
    calls: list[int] = []
    many = stress_module.liquidation_partial_sums_many

    def counted(runs, **kw):
        calls.append(len(runs))
        return many(runs, **kw)

    monkeypatch.setattr(stress_module, "liquidation_partial_sums_many", counted)
    core, one = assess_with_stress(frame, ctx, valuation=info, shocks=shocks)
    return (base, two), (core, one), calls


def _assert_same_base(a, b) -> None:
    """Two base cases the same to the last bit: patent rows, liquidation table, numbers and every path."""
    pd.testing.assert_frame_equal(a.patents, b.patents, check_exact=True)
    pd.testing.assert_frame_equal(a.liquidation, b.liquidation, check_exact=True)
    assert a.numbers.keys() == b.numbers.keys()
    for k in a.numbers:
        x, y = a.numbers[k], b.numbers[k]
        assert np.asarray(x).tobytes() == np.asarray(y).tobytes(), k
    for field in (
        "gross_proceeds",
        "costs",
        "recovery",
        "lgd_gross",
        "lgd",
        "time_to_cash",
        "loan_recovered",
    ):
        assert getattr(a.mc, field).tobytes() == getattr(b.mc, field).tobytes(), field
    assert a.mc.recovery_draws().tobytes() == b.mc.recovery_draws().tobytes()


def test_one_draw_pass_equals_the_two_passes_above_the_keep_draws_threshold(
    demo_valued, monkeypatch, engine_context
):
    valued, loan = demo_valued
    (base, two), (core, one), calls = _two_passes_and_one(
        valued, loan, monkeypatch, engine_context, paths=2_000
    )
    # one Monte Carlo call: the base case and the five shocks that move the patents (the loan-only shock
    # reuses the base case's sums)
    assert calls == [6]
    _assert_same_base(core, base)
    pd.testing.assert_frame_equal(one, two, check_exact=True)
    assert one["collateral_value"].nunique() == len(one)
    # the base case is not a trivial one: the liquidity haircut binds (the bisection ran on the paths)
    assert core.numbers["liquidity_haircut"] > 0


def _liquidity_scaled(frame: pd.DataFrame, ctx: dict) -> tuple[pd.DataFrame, str]:
    h = float(ctx["base_patents"]["haircut_liquidity"].max())
    out = frame.copy()
    for c in VALUE_COLUMNS:
        if c in out.columns:
            out[c] = out[c].to_numpy(dtype=float) * (1.0 - 0.5 * h)
    return out, f"values x (1 - h / 2), h = {h!r}"


def test_a_shock_reading_the_finished_base_case_is_run_again(demo_valued, monkeypatch, engine_context):
    # a direct shock that reads the base case's liquidity haircut: applied first with the rows before the
    # haircut (h = 0), it moves once the base case is finished and is run again on its own, the same bits
    reads_h = StressShock(
        "liquidity_read", "values scaled by the base case's liquidity haircut", None, _liquidity_scaled, {}
    )
    valued, loan = demo_valued
    (base, two), (core, one), calls = _two_passes_and_one(
        valued, loan, monkeypatch, engine_context, paths=1_000, shocks=(reads_h, *STRESS_SHOCKS)
    )
    assert calls == [7, 1]
    _assert_same_base(core, base)
    pd.testing.assert_frame_equal(one, two, check_exact=True)
    assert f"h = {core.numbers['liquidity_haircut']!r}" in one["description"].iloc[0]


def _setup_fields(setup) -> dict:
    import dataclasses

    return {f.name: getattr(setup, f.name) for f in dataclasses.fields(setup)}


@pytest.mark.parametrize(
    "change",
    [
        {},
        {"obsolescence_shift": 0.2},
        {"obsolescence_shift": -0.05},
        {"crash_probability": 1.0},
        {"crash_probability": 0.0},
        {"crash_probability": 0.37},
        {"obsolescence_shift": 0.2, "crash_probability": 1.0},
        {"seed": 3},
        {"paths": 2_000},
    ],
)
def test_a_shock_setup_equals_the_one_drawn_anew(loan, change):
    # shock_setup derives a shock's path-level setup from the base case's where only the drift or the chance of a
    # crashed market moves (the paths regrouped by mode and regime, each path's arrays taken from its place in the
    # base case's): every field must be what liquidation_setup draws and computes for the shock's context, to the
    # last bit
    import dataclasses

    base_ctx = CollateralContext(
        loan=loan, policy=load_policy("cn-bank-standard"), as_of=dt.date(2026, 1, 1), seed=0, paths=3_000
    )
    ctx = dataclasses.replace(base_ctx, **change)
    base_setup = collateral_kernel.liquidation_setup(base_ctx)
    got = collateral_kernel.shock_setup(ctx, base_ctx, base_setup)
    want = collateral_kernel.liquidation_setup(ctx)
    if not change:
        assert got is base_setup
    g, w = _setup_fields(got), _setup_fields(want)
    assert g.keys() == w.keys()
    for name in w:
        if isinstance(w[name], np.ndarray):
            # the same layout too: the compiled engine compiles a function per layout of its arguments
            assert (g[name].dtype, g[name].shape, g[name].strides) == (
                w[name].dtype,
                w[name].shape,
                w[name].strides,
            ), name
            assert g[name].tobytes() == w[name].tobytes(), name  # the same bits (NaN included)
        else:
            assert g[name] == w[name], name
    if "obsolescence_shift" in change:  # the drift moved: the comparison is not between two base setups
        assert got.mu != base_setup.mu
    if (
        "crash_probability" in change
    ):  # the regimes moved: the paths are grouped otherwise than the base case's
        assert got.crash.tobytes() != base_setup.crash.tobytes()


@pytest.mark.parametrize(
    "sharing",
    [
        {"compensation_fund": 0.0},
        {"compensation_fund": 0.9, "insurer": 0.0, "appraiser": 0.0},
        {"insurer_cap": 10_000.0, "guarantor": 0.05},
    ],
)
def test_the_base_liquidation_with_another_risk_sharing_is_that_loan_finished(loan, sharing):
    # the loan-only stress shock takes the base case's finished liquidation with its own risk sharing
    # (liquidation.with_risk_sharing): every field must be what finishing the same sums with that loan gives
    import dataclasses

    from ipvalue.collateral.liquidation import finish_liquidation, with_risk_sharing

    paths = 3_000
    ctx = CollateralContext(
        loan=loan, policy=load_policy("cn-bank-standard"), as_of=dt.date(2026, 1, 1), seed=2, paths=paths
    )
    setup = collateral_kernel.liquidation_setup(ctx)
    rng = np.random.default_rng(3)
    v = rng.gamma(2.0, 2e6, size=paths) * (rng.random(paths) < 0.85)
    part = dict(zip(PARTIAL_SUMS, (v * 1.3, v, v * 0.7, v * 0.4, v * 0.2, v * 0.1), strict=True))
    other = dataclasses.replace(loan, risk_sharing=dataclasses.replace(loan.risk_sharing, **sharing))
    got = with_risk_sharing(finish_liquidation(setup, [part]), other.risk_sharing)
    want = finish_liquidation(dataclasses.replace(setup, loan=other), [part])
    for f in dataclasses.fields(want):
        x, y = getattr(got, f.name), getattr(want, f.name)
        if isinstance(y, np.ndarray):
            assert x.dtype == y.dtype and x.tobytes() == y.tobytes(), f.name
        else:
            assert x == y, f.name
    # the sharing moved the bank's LGD (the comparison is not between two copies of the base case)
    assert got.lgd.tobytes() != finish_liquidation(setup, [part]).lgd.tobytes()
