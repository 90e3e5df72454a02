"""The valuation range's compiled draws give the numpy steps' numbers, to the last bit.

:mod:`ipvalue.valuation._range_fused` computes a block's reconciled draws in one compiled pass per row (numpy's
own log and exp loops called from it) where :func:`ipvalue.valuation.montecarlo._draw_values` makes about forty
numpy calls; it covers the common case and leaves the others to the numpy steps. Compared here bit for bit: the
raw draws of blocks built to reach every branch (the triangular law's degenerate and NaN bounds, the rate and
growth floors, a missing legal life, ``x`` within 1e-6 of 1 and exactly 1, weights zero, negative and NaN, three
and four weight columns, infinite products), whole valuations of the demo and synthetic books (with books the
kernel does not cover, so that covered and uncovered parts meet), the stress test's shock axis, and a demo
assessment with stress on the compiled engine against the numpy engine.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import ipvalue as iv
from ipvalue.collateral import liquidation
from ipvalue.demo import load_demo
from ipvalue.valuation import montecarlo
from tests.ipvalue.valuation.test_draw_values_fast import _books

pytestmark = [
    pytest.mark.skipif(not liquidation._numba_available(), reason="numba is not installed (the fast extra)"),
    pytest.mark.usefixtures("empty_stages_cache"),
]


@pytest.fixture(scope="module")
def kernels():
    from ipvalue.valuation import _range_fused

    assert _range_fused.self_check() is None
    return _range_fused


def _bits(x) -> bytes:
    return np.ascontiguousarray(x, dtype=np.float64).tobytes()


def _edge_inputs(n: int, seed: int, *, market: bool) -> tuple[montecarlo._DrawInputs, np.ndarray]:
    """Draw inputs and effective weights for ``n`` rows reaching every branch of the compiled pass."""
    g = np.random.default_rng(seed)
    mode = g.uniform(0.01, 0.1, n)
    low, high = mode * g.uniform(0.3, 1.0, n), mode * g.uniform(1.0, 2.5, n)
    low[::7] = mode[::7] * 1.5  # a low bound above the mode, a high bound below it, a point, NaN bounds
    high[1::7] = mode[1::7] * 0.5
    low[2::7] = high[2::7] = mode[2::7]
    low[3::11] = np.nan
    high[4::13] = np.nan
    discount = g.uniform(-0.2, 0.3, n)  # below the 0.5% floor on some draws
    growth = g.uniform(-1.2, 0.2, n)  # below the -90% floor on some draws
    decay = g.uniform(0.0, 0.3, n)
    growth[5::9], decay[5::9], discount[5::9] = 0.07, 0.0, 0.07  # x == 1 exactly with no spread of the rates
    life_legal = g.uniform(0.0, 20.0, n)
    life_legal[6::8] = np.nan  # an application: no legal life yet
    revenue = g.uniform(1e5, 1e8, n)
    revenue[::17] = 1e308  # an infinite present value: the reconciliation's nan_to_num
    value_cost = g.uniform(1e4, 1e6, n)
    value_cost[3::10] = np.nan
    value_market = g.uniform(1e4, 1e6, n)
    value_market[4::10] = np.inf
    w = g.uniform(0.0, 1.0, (n, 4 if market else 3))
    w[::5, 0] = 0.0
    w[1::6, 1] = -0.5
    w[2::9, 1] = np.nan
    w[:, 2] = 0.0  # no option weight: a block the compiled pass covers
    if market:
        w[::4, 3] = 0.0
    zeros = np.zeros(n)
    e = montecarlo._DrawInputs(
        ids=np.array([f"CN{1000 + i % max(1, n // 2)}" for i in range(n)], dtype=object),  # repeated patents
        life_legal=life_legal,
        period=g.uniform(0.5, 25.0, n),
        revenue=revenue,
        growth=growth,
        royalty=mode,
        royalty_low=low,
        royalty_high=high,
        tax=g.uniform(0.0, 0.3, n),
        discount=discount,
        decay=decay,
        volatility=g.uniform(0.2, 0.6, n),
        launch_cost=zeros,
        value_cost=value_cost,
        value_market=value_market,
        market_low=np.full(n, np.nan),
        market_high=np.full(n, np.nan),
        extra={
            "fmat": np.zeros((n, 0)),
            "horizon": np.zeros(n, dtype=np.int64),
            "last": zeros,
            "split": np.zeros(n, dtype=bool),
            "margin": np.full(n, np.nan),
            "decline": np.zeros(n, dtype=bool),
        },
    )
    return e, w


A = {
    "discount_rate_sd": 0.02,
    "growth_sd": 0.03,
    "life_spread_relative": 0.3,
    "mid_year": False,
    "tab_years": None,
    "volatility_log_sd": 0.2,
    "risk_free": 0.02,
}


def _draws_both(monkeypatch, kernels, e, w, draws, a):
    """The reconciled draws of every part, and the percentiles, on the numpy steps and on the compiled pass."""
    seen: list[np.ndarray] = []
    real = montecarlo.percentiles

    def keep(vals, q):
        seen.append(vals.copy())
        return real(vals, q)

    monkeypatch.setattr(montecarlo, "percentiles", keep)
    sl = np.arange(len(e.ids))
    spread = np.zeros(len(sl), dtype=bool)
    want = montecarlo._draw_values(e, sl, draws, 9, a, w, False, spread)
    want_vals, seen[:] = list(seen), []
    got = montecarlo._draw_values(e, sl, draws, 9, a, w, False, spread, kernels=kernels)
    return got, want, list(seen), want_vals


#: the rates not spread: rows with growth = discount and no decay have x = 1 exactly (the expansion near 1)
FIXED_RATES = {**A, "discount_rate_sd": 0.0, "growth_sd": 0.0}


@pytest.mark.parametrize("a", [A, FIXED_RATES], ids=["drawn rates", "fixed rates"])
@pytest.mark.parametrize("market", [False, True])
@pytest.mark.parametrize(("n", "draws", "seed"), [(1, 1, 0), (7, 13, 1), (40, 200, 2), (90, 1000, 3)])
def test_the_compiled_draws_are_the_numpy_steps_bits(monkeypatch, kernels, a, market, n, draws, seed):
    e, w = _edge_inputs(n, seed, market=market)
    got, want, got_vals, want_vals = _draws_both(monkeypatch, kernels, e, w, draws, a)
    assert len(got_vals) == len(want_vals) >= 1
    for x, y in zip(got_vals, want_vals, strict=True):
        assert x.shape == y.shape
        assert _bits(x) == _bits(y)  # every draw, NaN and infinities included
    for x, y in zip(got, want, strict=True):
        assert _bits(x) == _bits(y)


def test_the_edge_inputs_reach_the_branches(monkeypatch, kernels):
    # the comparison above is only as good as the branches its inputs take: x exactly 1 (the expansion), floors
    # hit, infinite parts cleaned, degenerate triangles
    e, w = _edge_inputs(90, 3, market=True)
    got, _, vals, _ = _draws_both(monkeypatch, kernels, e, w, 1000, A)
    allv = np.concatenate([v.ravel() for v in vals])
    assert not np.isnan(allv).any()  # nan_to_num: a NaN part counts 0
    assert (
        np.abs(allv) > 1e300
    ).any()  # an infinite part cleaned to the largest number (its sum may overflow)
    assert np.isnan(e.life_legal).any() and np.isnan(e.royalty_low).any()
    x = (1.0 + e.growth) * (1.0 - e.decay) / (1.0 + e.discount)
    assert (x == 1.0).any()  # with the rates fixed, the expansion near 1
    r = e.discount[:, None] + A["discount_rate_sd"] * np.linspace(-3, 3, 7)
    assert (r < 0.005).any()  # the discount rate's floor is reached on some draws


def test_a_block_it_does_not_cover_keeps_the_numpy_steps(monkeypatch, kernels):
    calls = []
    real = kernels.block_values
    monkeypatch.setattr(kernels, "block_values", lambda *a, **k: calls.append(1) or real(*a, **k))
    e, w = _edge_inputs(20, 5, market=False)
    w[3, 2] = 0.4  # one row weighs the option: the numpy steps for its part
    sl = np.arange(20)
    got = montecarlo._draw_values(e, sl, 50, 9, A, w, False, np.zeros(20, dtype=bool), kernels=kernels)
    want = montecarlo._draw_values(e, sl, 50, 9, A, w, False, np.zeros(20, dtype=bool))
    assert calls == []
    for x, y in zip(got, want, strict=True):
        assert _bits(x) == _bits(y)
    for flag in ("linear", "mid_year", "tab_years"):
        kw = {
            "linear": False,
            "mid_year": False,
            "tab_years": None,
            **{flag: 15 if flag == "tab_years" else True},
        }
        none = np.zeros(3, dtype=bool)
        assert not kernels.applies(**kw, looped=none, split=none, option=none, market_spread=none)
    none = np.zeros(3, dtype=bool)
    assert kernels.applies(
        linear=False, mid_year=False, tab_years=None, looped=none, split=none, option=none, market_spread=none
    )


#: the books of the range's reference tests (``test_draw_values_fast``): the demo's parts are the compiled pass's;
#: the synthetic books' parts weigh the option, draw the market value, step down linearly or split the profit,
#: and keep the numpy steps (a book of both kinds of parts is the one above of edge inputs with an option row)
@pytest.mark.parametrize("name", list(_books()))
def test_a_valuation_with_the_compiled_draws_is_the_numpy_one(monkeypatch, kernels, name):
    book, a, day, comps = _books()[name]
    want = iv.value_portfolio(book, a, as_of=day, rng=3, comparables=comps)
    real, calls = montecarlo._draw_values, []

    def compiled(*args, **kw):
        kw["kernels"] = kernels
        return real(*args, **kw)

    monkeypatch.setattr(montecarlo, "_draw_values", compiled)
    monkeypatch.setattr(
        kernels, "block_values", lambda *a, _f=kernels.block_values, **k: calls.append(1) or _f(*a, **k)
    )
    got = iv.value_portfolio(book, a, as_of=day, rng=3, comparables=comps)
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    if name == "demo":
        assert (
            calls
        )  # the compiled pass ran (the synthetic books weigh the option in every part: numpy steps)


@pytest.mark.parametrize("engine", ["numpy", "compiled"])
def test_a_demo_assessment_with_stress_is_the_same_on_either_engine(monkeypatch, engine):
    portfolio, loan, as_of = load_demo()
    valued = iv.value_portfolio(portfolio, as_of=as_of, rng=0)
    monkeypatch.setattr(liquidation, "_ENGINE", ["numpy"])
    want = iv.assess_collateral(valued, loan=loan, rng=0, paths=500)
    monkeypatch.setattr(liquidation, "_ENGINE", [engine])
    assert (liquidation.compiled_range_kernels() is not None) == (engine == "compiled")
    got = iv.assess_collateral(valued, loan=loan, rng=0, paths=500)
    pd.testing.assert_frame_equal(got.stress, want.stress, check_exact=True)
    pd.testing.assert_frame_equal(got.patents, want.patents, check_exact=True)
