"""The valuation's Monte Carlo range on its fast path gives the numbers of the reference, to the last bit.

:func:`ipvalue.valuation.montecarlo.value_range` draws each block of patents in parts that fit the core's cache,
a patent's rows together (on a shock axis, one row per shock), with what depends on the patent alone (its
uniforms and their normal quantiles) computed once per patent and what depends on the patent and a row's inputs
(the drawn royalty, rates and life) once per distinct row; :func:`~ipvalue.valuation.montecarlo.geometric_pv`
computes its expansion near ``x = 1`` only where it applies; the triangular law skips a step that changes
nothing; a method's weighted draws skip the replacement of NaN and infinities where there is none; the
percentiles read the sorted draws at numpy's places. The reference below is the range as it was written
before (every row on its own, one array per block, the expansion everywhere), compared bit for bit through the
whole valuation: demo and synthetic books, value_portfolio and the stress test's shock axis, revenue forecasts,
the linear step-down, mid-year and tax amortisation, drawn market values, parts of one row up to one block.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import ndtri

import ipvalue as iv
from ipvalue._random import patent_uniforms
from ipvalue.collateral import stress
from ipvalue.demo import load_demo
from ipvalue.facts.columns import input_hash
from ipvalue.valuation import VALUE_COLUMNS, Assumptions, montecarlo
from ipvalue.valuation._synthetic import synthetic_comparables, synthetic_portfolio
from ipvalue.valuation.kernel import prepare_stages, value_prepared_many
from ipvalue.valuation.methods.income import tab_factor
from ipvalue.valuation.methods.real_option import continuous_rate, deferral_option
from ipvalue.valuation.montecarlo import geometric_pv, percentiles, yearly_pv
from ipvalue.valuation.reconcile import weighted_draws

pytestmark = pytest.mark.usefixtures("empty_stages_cache")


def geometric_pv_reference(x, life):
    """The closed form as first written: the expansion near x = 1 computed everywhere, then chosen."""
    m = np.floor(life)
    xm1 = np.exp((m + 1.0) * np.log(x))
    one_m_x = 1.0 - x
    near = np.abs(one_m_x) < 1e-6
    with np.errstate(divide="ignore", invalid="ignore"):
        full = np.where(near, m - one_m_x * m * (m + 1.0) / 2.0, (x - xm1) / np.where(near, 1.0, one_m_x))
    return full + (life - m) * xm1


def triangular_reference(u, lo, mode, hi):
    """The triangular inverse CDF as written before (two buffers, every step on every draw)."""
    lo = np.minimum(lo, mode)
    hi = np.maximum(hi, mode)
    spread = hi > lo
    width = np.where(spread, hi - lo, 1.0)
    fc = np.where(spread, (mode - lo) / width, 0.5)
    shape = np.broadcast_shapes(np.shape(u), np.shape(lo), np.shape(mode), np.shape(hi))
    left = u < fc
    a = np.multiply(u, width, out=np.empty(shape))
    a *= mode - lo
    b = np.subtract(1.0, u, out=np.empty(shape))
    b *= width
    b *= hi - mode
    np.copyto(b, a, where=left)
    np.sqrt(b, out=b)
    np.add(lo, b, out=a)
    np.subtract(hi, b, out=b)
    np.copyto(b, a, where=left)
    np.copyto(b, mode, where=~spread)
    return b


def weighted_draws_reference(values, weight):
    part = np.multiply(values, weight)
    np.nan_to_num(part, copy=False, nan=0.0)
    np.copyto(part, 0.0, where=~(weight > 0))
    return part


def reconcile_draws_reference(income, cost, option, effective_weights, market=None):
    out = np.zeros(np.broadcast_shapes(income.shape, option.shape))
    methods = [income, cost, option]
    if effective_weights.shape[1] > 3 and market is not None:
        methods.append(np.asarray(market))
    for j, v in enumerate(methods):
        wj = effective_weights[:, j : j + 1]
        if (wj > 0).any():
            out += weighted_draws_reference(v, wj)
    return out


def market_draws_reference(seed, ids, low, mode, high, draws):
    u = patent_uniforms(seed, ids, draws, "valuation-market")
    return triangular_reference(u, low[:, None], mode[:, None], high[:, None])


def _per_patent(fn, u, ids):
    codes, uniques = pd.factorize(np.asarray(ids, dtype=object))
    if len(uniques) == len(ids):
        return fn(u)
    first = np.empty(len(uniques), dtype=np.intp)
    first[codes] = np.arange(len(ids))
    return fn(u[first])[codes]


def draw_values_reference(
    e, sl, draws, seed, a, w_eff, linear, market_spread, uniforms=None, *, kernels=None
):
    """p05, p50, p95 of the reconciled value of the rows ``sl``: the block at once, every row on its own.

    ``kernels`` (the compiled draws a stress run may pass) is not used: the reference is numpy's, step by step.
    """
    D = draws
    ids = e.ids[sl]

    def col(v):
        return v[sl, None]

    u = patent_uniforms(seed, ids, 5 * D, "valuation")
    u_roy, u_r, u_life, u_g, u_vol = (u[:, k * D : (k + 1) * D] for k in range(5))
    roy = triangular_reference(u_roy, col(e.royalty_low), col(e.royalty), col(e.royalty_high))
    r = np.maximum(col(e.discount) + a["discount_rate_sd"] * _per_patent(ndtri, u_r, ids), 0.005)
    g = np.maximum(col(e.growth) + a["growth_sd"] * _per_patent(ndtri, u_g, ids), -0.9)
    s = a["life_spread_relative"]
    legal = col(np.where(np.isnan(e.life_legal), 0.0, e.life_legal))
    life = np.minimum(col(e.period) * (1 - s + 2 * s * u_life), legal)
    # revenue PV
    rev = col(e.revenue)
    fmat, horizon, last = e.extra["fmat"][sl], e.extra["horizon"][sl], e.extra["last"][sl]
    dec = e.extra["decline"][sl]
    looped = ((horizon > 0) | linear) & ~dec
    if not looped.any():
        S = rev * geometric_pv_reference((1.0 + g) * (1.0 - col(e.decay)) / (1.0 + r), life)
    else:
        S = np.empty_like(r)
        cf = ~looped
        if cf.any():
            x = (1.0 + g[cf]) * (1.0 - col(e.decay)[cf]) / (1.0 + r[cf])
            S[cf] = rev[cf] * geometric_pv_reference(x, life[cf])
    for rows, extra_step in ((looped, False), (dec, True)):
        if rows.any():
            n_years = max(1, math.ceil(float(np.nanmax(life[rows]))))
            S[rows] = yearly_pv(
                rev[rows, 0], g[rows], col(e.decay)[rows], r[rows], life[rows], fmat[rows], horizon[rows],
                last[rows], n_years, linear, extra_step=extra_step,
            )  # fmt: skip
    # income
    if a["mid_year"]:
        S = S * np.sqrt(1.0 + r)
    tau = col(e.tax)
    pv = roy * (1.0 - tau) * S
    sp = e.extra["split"][sl]
    if sp.any():
        pv = np.where(sp[:, None], roy * col(e.extra["margin"]) * (1.0 - tau) * S, pv)
    if a["tab_years"] is not None:
        pv = pv * tab_factor(tau, a["tab_years"], r, mid_year=a["mid_year"])
    # option
    we = w_eff[sl]
    opt = we[:, 2] > 0
    option = np.full_like(pv, np.nan)
    if opt.any():
        z_vol = _per_patent(ndtri, u_vol[opt], ids[opt])
        vol = col(e.volatility)[opt] * np.exp(a["volatility_log_sd"] * z_vol)
        k = col(e.launch_cost)[opt]
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            ov = deferral_option(
                np.nan_to_num(pv[opt]), np.nan_to_num(k), np.maximum(life[opt], 1e-6),
                continuous_rate(a["risk_free"]), vol,
            )  # fmt: skip
        euro = np.asarray(getattr(ov, "value", ov), dtype=float)
        option[opt] = np.where(
            life[opt] > 0, np.maximum(euro, np.nan_to_num(pv[opt]) - np.nan_to_num(k)), 0.0
        )
    # reconciled
    cost, market = e.value_cost[sl, None], e.value_market[sl, None]
    drawn_rows = np.flatnonzero(market_spread)
    we_point = we
    if len(drawn_rows):
        we_point = we.copy()
        we_point[drawn_rows, 3] = 0.0
    vals = reconcile_draws_reference(pv, cost, option, we_point, market)
    if len(drawn_rows):
        at = sl[drawn_rows]
        drawn = market_draws_reference(
            seed, e.ids[at], e.market_low[at], e.value_market[at], e.market_high[at], D
        )
        vals[drawn_rows] += weighted_draws_reference(drawn, we[drawn_rows, 3:4])
    q = np.percentile(vals, (5, 50, 95), axis=1)
    return q[0], q[1], q[2]


def _bits(x) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.float64).view(np.int64)


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.floats(1e-3, 3.0), min_size=1, max_size=40),
    st.lists(st.floats(0.0, 60.0), min_size=1, max_size=40),
    st.integers(0, 3),
)
def test_geometric_pv_gives_the_reference_bits(xs, lives, near):
    n = min(len(xs), len(lives))
    x = np.array(xs[:n])
    k = min(near, n)
    x[:k] = 1.0 + np.array([0.0, 1e-7, -5e-7][:k])  # within 1e-6 of 1: the expansion
    life = np.array(lives[:n])
    assert np.array_equal(_bits(geometric_pv(x, life)), _bits(geometric_pv_reference(x, life)))


def test_geometric_pv_on_blocks_of_draws_gives_the_reference_bits():
    g = np.random.default_rng(0)
    for shape in ((1, 1), (3, 7), (28, 1000), (45, 1000), (7, 3001)):
        x = g.uniform(0.5, 1.5, shape)
        x.flat[:: max(1, x.size // 5)] = 1.0 - 1e-7
        life = g.uniform(0.0, 30.0, shape)
        assert np.array_equal(_bits(geometric_pv(x, life)), _bits(geometric_pv_reference(x, life)))


def _books() -> dict[str, tuple[pd.DataFrame, dict, dt.date, object]]:
    portfolio, _, as_of = load_demo()
    book = synthetic_portfolio(160, seed=4)
    day = dt.date(2026, 6, 30)
    return {
        "demo": (portfolio, {}, as_of, None),
        "synthetic": (book, {"draws": 300}, day, None),
        "linear, mid-year, tax amortisation": (
            book,
            {"draws": 200, "decay_curve": "linear", "mid_year": True, "tab_years": 15},
            day,
            None,
        ),
        "comparables": (book, {"draws": 250}, day, synthetic_comparables(400, seed=1)),
        # a profit split per row (a declining share among them: the step-down once more) and equivalent investment
        "profit split": (
            book.assign(
                income_method=np.where(
                    np.arange(len(book)) % 3 == 0, "profit_split", "equivalent_investment"
                ),
                profit_margin=0.25,
            ),
            {"draws": 200, "profit_share_decline": "linear"},
            day,
            None,
        ),
    }


BOOKS = list(_books())


def _valued_both(name: str, monkeypatch, cache_elements: int | None = None):
    book, a, day, comps = _books()[name]
    if cache_elements is not None:
        monkeypatch.setattr(montecarlo, "CACHE_ELEMENTS", cache_elements)
    got = iv.value_portfolio(book, a, as_of=day, rng=3, comparables=comps)
    with monkeypatch.context() as m:
        m.setattr(montecarlo, "_draw_values", draw_values_reference)
        want = iv.value_portfolio(book, a, as_of=day, rng=3, comparables=comps)
    return got, want


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert input_hash(a) == input_hash(b)


@pytest.mark.parametrize("name", BOOKS)
def test_value_portfolio_gives_the_reference_range(name, monkeypatch):
    got, want = _valued_both(name, monkeypatch)
    _same(got, want)
    assert np.isfinite(got["value_p95"]).any() and (got["value_p95"] > got["value_p05"]).any()


@pytest.mark.parametrize("cache_elements", [1, 700, 5_000, 10**9])
def test_parts_of_any_size_give_the_reference_range(cache_elements, monkeypatch):
    got, want = _valued_both("synthetic", monkeypatch, cache_elements)
    _same(got, want)


@pytest.mark.parametrize("name", BOOKS)
@pytest.mark.parametrize("cache_elements", [700, None])
def test_the_shock_axis_gives_the_reference_range(name, cache_elements, monkeypatch):
    """The stress test's three rate shocks on one axis: a patent's rows side by side, draws shared."""
    book, a, day, comps = _books()[name]
    if cache_elements is not None:
        monkeypatch.setattr(montecarlo, "CACHE_ELEMENTS", cache_elements)
    valued = iv.value_portfolio(book, a, as_of=day, rng=3)
    info = valued.attrs["ipvalue"]
    base = valued.drop(columns=list(VALUE_COLUMNS))
    base.attrs = {}
    a0 = Assumptions.of(info["assumptions"]).as_dict()
    state = prepare_stages(base, a0, day)
    shocks = []
    for fn, col in stress._BY_RATES.items():
        try:
            shocked, assumptions = fn(valued, dict(info["assumptions"]))
        except Exception:  # noqa: BLE001 - a shock the book cannot take
            continue
        shocks.append((Assumptions.of(assumptions).as_dict(), {col: shocked[col]} if col in shocked else {}))
    shocks.append(
        (None, None)
    )  # the base case on the axis too: every patent's rows differ in some shocks only
    assert len(shocks) >= 3
    got = value_prepared_many(state, 3, shocks)
    with monkeypatch.context() as m:
        m.setattr(montecarlo, "_draw_values", draw_values_reference)
        want = value_prepared_many(state, 3, shocks)
    for g, w in zip(got, want, strict=True):
        _same(g, w)


def test_a_demo_assessment_with_stress_gives_the_reference_numbers(monkeypatch):
    portfolio, loan, as_of = load_demo()
    valued = iv.value_portfolio(portfolio, as_of=as_of, rng=0)
    got = iv.assess_collateral(valued, loan=loan, rng=0, paths=500)
    with monkeypatch.context() as m:
        m.setattr(montecarlo, "_draw_values", draw_values_reference)
        want = iv.assess_collateral(valued, loan=loan, rng=0, paths=500)
    pd.testing.assert_frame_equal(got.stress, want.stress, check_exact=True)
    pd.testing.assert_frame_equal(got.patents, want.patents, check_exact=True)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.lists(
            st.one_of(
                st.floats(allow_nan=True, allow_infinity=True),
                st.sampled_from([0.0, -0.0, 1.0, 1e300, -1e-300]),
            ),
            min_size=5,
            max_size=5,
        ),
        min_size=1,
        max_size=6,
    ),
    st.sampled_from([(5, 50, 95), (0, 100), (12.5, 33.3, 99.99), (50,)]),
)
def test_percentiles_of_sorted_rows_are_numpys(rows, q):
    vals = np.array(rows, dtype=float)
    got = percentiles(vals, q)
    want = np.percentile(vals, q, axis=1)
    assert got.shape == want.shape
    assert np.array_equal(_bits(got), _bits(want))


@pytest.mark.parametrize("draws", [1, 2, 7, 1000, 1001])
def test_percentiles_of_many_draws_are_numpys(draws):
    g = np.random.default_rng(draws)
    vals = g.lognormal(10, 2, (30, draws))
    vals[3] = 5.0  # a row of equal draws
    vals[4, : draws // 2] = 0.0
    assert np.array_equal(
        _bits(percentiles(vals, (5, 50, 95))), _bits(np.percentile(vals, (5, 50, 95), axis=1))
    )


def test_triangular_and_weighted_draws_give_the_reference_bits():
    g = np.random.default_rng(5)
    u = g.random((9, 300))
    lo, mode, hi = g.random((9, 1)), g.random((9, 1)), g.random((9, 1))
    mode[2] = lo[2] = hi[2]  # no spread: the mode
    for spread_rows in (slice(None), slice(3, None)):  # with a row without spread, and without any
        args = (u[spread_rows], lo[spread_rows], mode[spread_rows], hi[spread_rows])
        assert np.array_equal(_bits(montecarlo.triangular(*args)), _bits(triangular_reference(*args)))
    v = g.normal(size=(6, 50))
    v[1, 3], v[2, 4], v[3, 5] = np.nan, np.inf, -np.inf
    for w in (np.array([[0.5], [1.0], [0.2], [0.3], [0.0], [np.nan]]), np.full((6, 1), 0.25)):
        for vals in (v, np.abs(v[4:]), v[[0, 5]]):
            ww = w[: len(vals)]
            assert np.array_equal(_bits(weighted_draws(vals, ww)), _bits(weighted_draws_reference(vals, ww)))
