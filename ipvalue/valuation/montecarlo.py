"""Stage 6 of the valuation: the range (p05, p50, p95) of each patent's value by Monte Carlo.

The income inputs (royalty or profit share, discount rate, growth, income period) and the option's volatility are
drawn from each patent's own random stream (:mod:`ipvalue._random`), so no patent's range depends on row order or
chunking. The income sum of a draw has a closed form (:func:`geometric_pv`) unless the revenue follows a forecast or
a linear step-down (:func:`yearly_pv`). The cost value is a point: it enters the draws as a constant. The market
value, where it carries weight, is drawn on the spread of its adjusted comparables (:func:`market_draws`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtri

from ipvalue._random import patent_rng, patent_uniforms
from ipvalue.valuation.asof import Facts
from ipvalue.valuation.economics import Economics, legal_life_after_grant
from ipvalue.valuation.methods.income import tab_factor
from ipvalue.valuation.methods.real_option import continuous_rate, deferral_option
from ipvalue.valuation.notes import Notes
from ipvalue.valuation.reconcile import Reconciled, reconcile_draws, weighted_draws

__all__ = [
    "ValueRange",
    "UniformRows",
    "value_range",
    "geometric_pv",
    "yearly_pv",
    "triangular",
    "market_draws",
    "percentiles",
    "sorted_percentiles",
]


@dataclass(frozen=True)
class ValueRange:
    """p05, p50 and p95 of each patent's value (0 without a right; NaN where not computed)."""

    p05: np.ndarray
    p50: np.ndarray
    p95: np.ndarray


class UniformRows:
    """The uniform draws of patents' own streams, kept for the next valuation of the same chunk.

    A chunk revalued again with the same seed (:func:`ipvalue.valuation.kernel.value_prepared`, shock after
    shock) reads each patent's stream again: it gives the same draws each time
    (:func:`ipvalue._random.patent_uniforms`), so they are drawn once and read back. A shock axis
    (:func:`ipvalue.valuation.kernel.value_prepared_many`, the stress test's rate shocks) uses no store: the range
    draws each patent's uniforms once for all its rows (:func:`_draw_values`). At most ``limit`` numbers are kept (the rest are drawn
    each time, as without the store). A kept row is a view of the result it was drawn into (no copy), so that
    whole result stays in memory while the row is kept, with its rows read back or not kept, beyond ``limit``.
    """

    def __init__(self, limit: int = 4_000_000) -> None:
        self.rows: dict[tuple[int, str, int, str], np.ndarray] = {}
        self.size = 0
        self.limit = limit

    def uniforms(self, seed: int, patent_ids: np.ndarray, n: int, stream: str) -> np.ndarray:
        """As :func:`ipvalue._random.patent_uniforms`, the same numbers, rows kept read back (read only)."""
        out = np.empty((len(patent_ids), n))
        for i, pid in enumerate(patent_ids):
            key = (int(seed), stream, n, str(pid))
            row = self.rows.get(key)
            if row is None:
                # drawn into its row of the result (the same numbers), which is kept: the result is read only
                patent_rng(seed, pid, stream).random(n, out=out[i])
                if self.size + n <= self.limit:
                    self.rows[key] = out[i]
                    self.size += n
            else:
                out[i] = row
        out.setflags(write=False)
        return out


def value_range(
    ids: np.ndarray,
    facts: Facts,
    econ: Economics,
    values: dict[str, np.ndarray],
    rec: Reconciled,
    a: dict[str, Any],
    seed: int,
    notes: Notes,
    *,
    market_bounds: tuple[np.ndarray, np.ndarray] | None = None,
    uniforms: UniformRows | None = None,
    kernels: Any = None,
) -> ValueRange:
    """The Monte Carlo range of the reconciled value, ``draws`` per patent (``draws = 0``: no range).

    Patents valued by cost alone have no drawn input: their range is the point. Where the market approach carries
    weight and its comparables disagree (``market_bounds``: the lowest and highest adjusted comparable per
    patent), the market value is drawn too, from a triangular law on that range with its mode at
    ``value_market`` (:func:`market_draws`), from the patent's own ``valuation-market`` stream. ``uniforms``
    keeps the income draws for the next valuation of the chunk (None: drawn here). ``kernels``: the compiled
    draws (:mod:`ipvalue.valuation._range_fused`: the same numbers, for the blocks it covers), or None.
    """
    dead, value, w_eff = facts.dead, rec.value, rec.weights
    p05 = np.where(dead, 0.0, np.nan)
    p50 = p05.copy()
    p95 = p05.copy()
    draws = a["draws"]
    if draws <= 0:
        notes.add(~dead & np.isfinite(value), "range: draws=0, no range computed")
        return ValueRange(p05, p50, p95)
    n = len(value)
    lo_m, hi_m = market_bounds if market_bounds is not None else (np.full(n, np.nan), np.full(n, np.nan))
    w_m = w_eff[:, 3] if w_eff.shape[1] > 3 else np.zeros(n)
    live = ~dead & np.isfinite(value)
    spread_m = live & (w_m > 0) & np.isfinite(lo_m) & np.isfinite(hi_m) & (hi_m > lo_m)
    uncertain = live & ((w_eff[:, 0] > 0) | (w_eff[:, 2] > 0))
    market_only = spread_m & ~uncertain
    point = live & ~uncertain & ~market_only
    p05[point] = p50[point] = p95[point] = value[point]
    notes.add(point, "range: cost inputs not drawn (range = point)")
    notes.add(
        spread_m,
        "range: the market value drawn on [lowest, highest adjusted comparable] (triangular, mode value_market)",
    )
    e = _draw_inputs(ids, facts, econ, values, lo_m, hi_m)
    linear = a["decay_curve"] == "linear"
    block = max(1, a["chunk_patents"])
    u_idx = np.flatnonzero(uncertain)
    for start in range(0, len(u_idx), block):
        sl = u_idx[start : start + block]
        p05[sl], p50[sl], p95[sl] = _draw_values(
            e, sl, draws, seed, a, w_eff, linear, spread_m[sl], uniforms, kernels=kernels
        )
    m_idx = np.flatnonzero(market_only)
    for start in range(0, len(m_idx), block):
        sl = m_idx[start : start + block]
        mv = market_draws(seed, ids[sl], e.market_low[sl], e.value_market[sl], e.market_high[sl], draws)
        wc = w_eff[sl, 1:2]
        vals = np.where(wc > 0, wc * e.value_cost[sl, None], 0.0) + w_eff[sl, 3:4] * mv
        q = percentiles(vals, (5, 50, 95))
        p05[sl], p50[sl], p95[sl] = q[0], q[1], q[2]
    return ValueRange(p05, p50, p95)


def triangular(u: np.ndarray, lo: np.ndarray, mode: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Inverse CDF of the triangular law on ``[lo, hi]`` with its mode at ``mode`` (the mode where ``hi <= lo``).

    Computed in two buffers of the draws' shape (the per-patent terms stay at their own shape): the same
    operations, in the same order, as the textbook form, so the same numbers to the last bit.
    """
    lo = np.minimum(lo, mode)
    hi = np.maximum(hi, mode)
    spread = hi > lo
    width = np.where(spread, hi - lo, 1.0)
    fc = np.where(spread, (mode - lo) / width, 0.5)
    shape = np.broadcast_shapes(np.shape(u), np.shape(lo), np.shape(mode), np.shape(hi))
    left = u < fc
    a = np.multiply(u, width, out=np.empty(shape))
    a *= mode - lo  # u * width * (mode - lo), the left branch under the root
    b = np.subtract(1.0, u, out=np.empty(shape))
    b *= width
    b *= hi - mode  # (1 - u) * width * (hi - mode), the right branch
    np.copyto(b, a, where=left)
    np.sqrt(b, out=b)
    np.add(lo, b, out=a)  # lo + root
    np.subtract(hi, b, out=b)  # hi - root
    np.copyto(b, a, where=left)
    if not spread.all():
        np.copyto(b, mode, where=~spread)
    return b


def market_draws(
    seed: int, ids: np.ndarray, low: np.ndarray, mode: np.ndarray, high: np.ndarray, draws: int
) -> np.ndarray:
    """Draws ``(patents, draws)`` of the market value: triangular on ``[low, high]``, mode at the market value.

    Each patent draws from its own ``valuation-market`` stream (:mod:`ipvalue._random`), apart from the income
    draws, so giving comparables moves no other draw.
    """
    u = patent_uniforms(seed, ids, draws, "valuation-market")
    return triangular(u, low[:, None], mode[:, None], high[:, None])


@dataclass(frozen=True)
class _DrawInputs:
    ids: np.ndarray
    life_legal: np.ndarray
    period: np.ndarray
    revenue: np.ndarray
    growth: np.ndarray
    royalty: np.ndarray
    royalty_low: np.ndarray
    royalty_high: np.ndarray
    tax: np.ndarray
    discount: np.ndarray
    decay: np.ndarray
    volatility: np.ndarray
    launch_cost: np.ndarray
    value_cost: np.ndarray
    value_market: np.ndarray
    market_low: np.ndarray
    market_high: np.ndarray
    extra: dict = field(default_factory=dict)


def _draw_inputs(
    ids: np.ndarray,
    facts: Facts,
    econ: Economics,
    values: dict[str, np.ndarray],
    market_low: np.ndarray,
    market_high: np.ndarray,
) -> _DrawInputs:
    """The point inputs the draws spread around: a profit-split patent draws its share where others draw a royalty."""
    split, ok = econ.split, econ.split_ok
    return _DrawInputs(
        ids=ids,
        life_legal=legal_life_after_grant(
            facts.life_legal, econ.grant.wait_years
        ),  # an application: at its grant
        period=econ.period,
        revenue=econ.revenue,
        growth=econ.growth,
        royalty=np.where(split, econ.share, econ.royalty),
        royalty_low=np.where(split, econ.share_low, econ.royalty_low),
        royalty_high=np.where(split, econ.share_high, econ.royalty_high),
        tax=econ.tax,
        discount=econ.discount,
        decay=econ.decay,
        volatility=econ.volatility,
        launch_cost=econ.launch_cost,
        value_cost=values["cost"],
        value_market=values["market"],
        market_low=market_low,
        market_high=market_high,
        extra={
            "fmat": econ.forecast,
            "horizon": econ.horizon,
            "last": econ.last_forecast,
            "split": ok,
            "margin": np.where(ok, econ.margin, np.nan),
            "decline": ok & econ.decline,
        },
    )


def geometric_pv(x: np.ndarray, life: np.ndarray) -> np.ndarray:
    """``sum_{t=1}^{m} x^t + f x^{m+1}`` with ``m = floor(life)``, ``f = life - m`` (x > 0).

    ``(x - x^{m+1}) / (1 - x) + f x^{m+1}``; within 1e-6 of ``x = 1`` the first-order expansion
    ``m + (x - 1) m (m + 1) / 2`` (error of order ``m^3 (x - 1)^2``) avoids the cancellation.
    """
    m = np.floor(life)
    xm1 = np.log(x)
    xm1 *= m + 1.0  # (m + 1) log x: the product is commutative, bit for bit
    np.exp(xm1, out=xm1)
    one_m_x = np.subtract(1.0, x)
    near = np.abs(one_m_x) < 1e-6
    full = np.subtract(x, xm1)
    with np.errstate(divide="ignore", invalid="ignore"):
        full /= one_m_x  # the rows near 1 are written below (the expansion, computed there only)
    if near.any():
        mn, dn = m[near], one_m_x[near]
        full[near] = mn - dn * mn * (mn + 1.0) / 2.0
    tail = np.subtract(life, m)
    tail *= xm1
    full += tail
    return full


def yearly_pv(
    revenue: np.ndarray,
    g: np.ndarray,
    decay: np.ndarray,
    r: np.ndarray,
    life: np.ndarray,
    fmat: np.ndarray,
    horizon: np.ndarray,
    last: np.ndarray,
    n_years: int,
    linear: bool,
    *,
    extra_step: bool = False,
) -> np.ndarray:
    """Year-by-year PV of the revenue path (forecast, then growth) per draw: ``(patents, draws)``.

    Used for draws of patents with a revenue forecast or under the linear step-down; the others use the closed
    form :func:`geometric_pv`. ``extra_step`` applies the step-down (once more) for a declining profit share.
    """
    acc = np.zeros(np.broadcast_shapes(g.shape, r.shape, life.shape))
    disc = np.ones_like(acc)
    dec = np.ones((len(revenue), 1))
    h = horizon[:, None].astype(float)
    start = np.where(horizon > 0, last, revenue)[:, None]
    for t in range(1, n_years + 1):
        disc = disc / (1.0 + r)
        dec = dec * (1.0 - decay)
        base = start * (1.0 + g) ** (t - h)
        if t <= fmat.shape[1]:
            base = np.where(t <= h, fmat[:, t - 1 : t], base)
        w = np.clip(life - (t - 1.0), 0.0, 1.0)
        if linear or extra_step:
            with np.errstate(divide="ignore", invalid="ignore"):
                step = np.where(
                    life > 0, np.clip((life - t + 1.0) / np.where(life > 0, life, 1.0), 0.0, 1.0), 0.0
                )
            if linear:
                w = w * step
            if extra_step:
                w = w * step
        acc += base * dec * disc * w
    return acc


#: elements of a ``(rows, draws)`` array the income draws work on at once: a block of patents is drawn in parts of
#: about this size, so that the arrays of each step stay in the core's cache (each row's numbers do not depend on
#: the rows beside it: the same numbers in parts of any size)
CACHE_ELEMENTS = 1 << 15


def _distinct_rows(codes: np.ndarray, cols: tuple[np.ndarray, ...]) -> tuple[np.ndarray, np.ndarray] | None:
    """Rows that differ in their patent or in one of ``cols`` (to the last bit): one row of each, and each row's.

    None when every row differs (nothing to share).
    """
    bits = [np.ascontiguousarray(c, dtype=np.float64).view(np.int64).tolist() for c in cols]
    seen: dict[tuple, int] = {}
    first: list[int] = []
    inverse = np.empty(len(codes), dtype=np.intp)
    for i, key in enumerate(zip(codes.tolist(), *bits, strict=True)):
        j = seen.get(key)
        if j is None:
            j = seen[key] = len(first)
            first.append(i)
        inverse[i] = j
    if len(first) == len(codes):
        return None
    return np.asarray(first, dtype=np.intp), inverse


@dataclass(frozen=True)
class _Block:
    """Rows ``sl`` of the draw inputs drawn together, and their patents.

    ``col(v)`` is ``v`` at the block's rows as a column, broadcast against the ``(rows, draws)`` draws;
    ``codes`` is each row's patent (the rows of one patent, on a shock axis one per shock, hold the same draws),
    ``u`` the uniforms of the patents' ``valuation`` streams, ``(patents, 5 x draws)``: royalty, discount
    rate, life, growth and volatility, ``draws`` each.
    """

    e: _DrawInputs
    sl: np.ndarray
    draws: int
    codes: np.ndarray
    u: np.ndarray

    @property
    def repeats(self) -> bool:
        """Whether a patent has several rows (else row i is patent i)."""
        return len(self.u) < len(self.sl)

    def col(self, v: np.ndarray) -> np.ndarray:
        """``v`` at the block's rows, as a column."""
        return v[self.sl, None]

    def uniforms(self, k: int) -> np.ndarray:
        """The ``k``-th uniforms of each patent (0 royalty, 1 discount rate, 2 life, 3 growth, 4 volatility)."""
        d = self.draws
        return self.u[:, k * d : (k + 1) * d]

    def by_row(self, per_patent: np.ndarray, rows: np.ndarray | None) -> np.ndarray:
        """A per-patent array's rows for the block's ``rows`` (None: every row, in order)."""
        if rows is None:
            return per_patent[self.codes] if self.repeats else per_patent
        return per_patent[self.codes[rows]]

    def per_row(self, fn: Any, *cols: np.ndarray) -> np.ndarray:
        """``fn(rows)`` for every row (``rows`` None: all), once per distinct row, copied to the others.

        ``fn``'s numbers for a row may depend only on the row's patent and on ``cols`` (values per row of the
        block): rows alike in both get a copy of the first one's, the same bits as computing them again.
        """
        distinct = _distinct_rows(self.codes, cols) if self.repeats else None
        if distinct is None:
            return fn(None)
        first, inverse = distinct
        return fn(first)[inverse]

    def rows(self, rows: np.ndarray | None) -> np.ndarray:
        """The positions in the draw inputs of the block's ``rows`` (None: all)."""
        return self.sl if rows is None else self.sl[rows]


def _block(
    e: _DrawInputs,
    sl: np.ndarray,
    codes: np.ndarray,
    first: np.ndarray,
    draws: int,
    seed: int,
    uniforms: UniformRows | None,
) -> _Block:
    """The rows ``sl`` (patent ``codes``, each patent's ``first`` row) and the patents' uniforms, once each."""
    # uniforms in [0, 1): an exact 0 maps to -inf below, which the floors and the option handle
    ids = e.ids[sl[first]]
    if uniforms is None:
        u = patent_uniforms(seed, ids, 5 * draws, "valuation")
    else:
        u = uniforms.uniforms(seed, ids, 5 * draws, "valuation")
    return _Block(e, sl, draws, codes, u)


def _drawn_royalty(b: _Block) -> np.ndarray:
    """The royalty (or profit split share) per draw: triangular on [low, high] with its mode at the point."""
    e = b.e
    u = b.uniforms(0)

    def fn(rows: np.ndarray | None) -> np.ndarray:
        at = b.rows(rows)[:, None]
        return triangular(b.by_row(u, rows), e.royalty_low[at], e.royalty[at], e.royalty_high[at])

    return b.per_row(fn, e.royalty_low[b.sl], e.royalty[b.sl], e.royalty_high[b.sl])


def _drawn_rates(b: _Block, a: dict) -> tuple[np.ndarray, np.ndarray]:
    """Discount rate (floored at 0.5%) and growth (floored at -90%) per draw, normal around the point."""
    # a patent's rows (one per shock on a shock axis) hold the same draws: each normal quantile, times its
    # standard deviation, once per patent; the rates once per distinct row
    e = b.e
    z_r = a["discount_rate_sd"] * ndtri(b.uniforms(1))
    z_g = a["growth_sd"] * ndtri(b.uniforms(3))
    r = b.per_row(
        lambda rows: np.maximum(e.discount[b.rows(rows), None] + b.by_row(z_r, rows), 0.005), e.discount[b.sl]
    )
    g = b.per_row(
        lambda rows: np.maximum(e.growth[b.rows(rows), None] + b.by_row(z_g, rows), -0.9), e.growth[b.sl]
    )
    return r, g


def _drawn_life(b: _Block, a: dict) -> np.ndarray:
    """Economic life per draw: uniform on the point period +- the relative spread, at most the legal life."""
    s = a["life_spread_relative"]
    e = b.e
    spread = 1 - s + 2 * s * b.uniforms(2)  # per patent
    legal = np.where(np.isnan(e.life_legal[b.sl]), 0.0, e.life_legal[b.sl])

    def fn(rows: np.ndarray | None) -> np.ndarray:
        at = slice(None) if rows is None else rows
        return np.minimum(e.period[b.rows(rows), None] * b.by_row(spread, rows), legal[at, None])

    return b.per_row(fn, e.period[b.sl], legal)


def _revenue_pv(
    b: _Block, r: np.ndarray, g: np.ndarray, life: np.ndarray, linear: bool, one_r: np.ndarray
) -> np.ndarray:
    """PV per draw of the revenue path over the drawn life, before the royalty and tax (``S``).

    The closed form :func:`geometric_pv` where it applies; year by year (:func:`yearly_pv`) for a revenue
    forecast or the linear step-down, and with the step-down once more for a declining profit share.
    ``one_r`` is ``1 + r``.
    """
    e, sl, col = b.e, b.sl, b.col
    rev = col(e.revenue)
    fmat, horizon, last = e.extra["fmat"][sl], e.extra["horizon"][sl], e.extra["last"][sl]
    dec = e.extra["decline"][
        sl
    ]  # declining profit share: year by year with the step-down, valued apart below
    looped = ((horizon > 0) | linear) & ~dec
    if not looped.any():
        x = np.add(1.0, g)
        x *= 1.0 - col(e.decay)
        x /= one_r
        S = geometric_pv(x, life)
        S *= rev  # rev * pv (the product is commutative, bit for bit)
    else:
        S = np.empty_like(r)
        cf = ~looped
        if cf.any():
            x = (1.0 + g[cf]) * (1.0 - col(e.decay)[cf]) / one_r[cf]
            S[cf] = rev[cf] * geometric_pv(x, life[cf])
    for rows, extra_step in ((looped, False), (dec, True)):
        if not rows.any():
            continue
        # years up to the longest drawn life (which may exceed the point period by the life spread): a shorter
        # loop would cut some draws short depending on which other patents share the block
        n_years = max(1, math.ceil(float(np.nanmax(life[rows]))))
        S[rows] = yearly_pv(
            rev[rows, 0],
            g[rows],
            col(e.decay)[rows],
            r[rows],
            life[rows],
            fmat[rows],
            horizon[rows],
            last[rows],
            n_years,
            linear,
            extra_step=extra_step,
        )
    return S


def _income_draws(
    b: _Block, a: dict, roy: np.ndarray, S: np.ndarray, r: np.ndarray, one_r: np.ndarray
) -> np.ndarray:
    """The income value per draw: the drawn royalty (or profit split share) after tax on ``S`` (``S`` reused)."""
    e, col = b.e, b.col
    if a["mid_year"]:
        S *= np.sqrt(one_r)
    tau = col(e.tax)
    sp = e.extra["split"][b.sl]
    pv = roy * (1.0 - tau)
    if sp.any():
        # profit split: the drawn share of the profit (revenue x margin), after tax
        pv[sp] = roy[sp] * col(e.extra["margin"])[sp] * (1.0 - tau[sp])
    pv *= S
    if a["tab_years"] is not None:
        pv *= tab_factor(tau, a["tab_years"], r, mid_year=a["mid_year"])
    return pv


def _option_draws(b: _Block, a: dict, pv: np.ndarray, life: np.ndarray, opt: np.ndarray) -> np.ndarray:
    """The real option's value per draw for the patents ``opt`` of the block whose value uses it (NaN elsewhere)."""
    option = np.full_like(pv, np.nan)
    if not opt.any():
        return option
    # only the patents whose value uses the option: the volatility draws and the pricing are theirs alone; the
    # normal quantile and its spread once per patent
    used, at = np.unique(b.codes[opt], return_inverse=True)
    spread = np.exp(a["volatility_log_sd"] * ndtri(b.uniforms(4)[used]))
    vol = b.col(b.e.volatility)[opt] * spread[at.reshape(-1)]
    k = b.col(b.e.launch_cost)[opt]
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        ov = deferral_option(
            np.nan_to_num(pv[opt]),
            np.nan_to_num(k),
            np.maximum(life[opt], 1e-6),
            continuous_rate(a["risk_free"]),
            vol,
        )
    # the European formula per draw, floored at the exercise value (a right exercisable today is worth at
    # least max(S - K, 0)); the lattice per draw would cost steps^2 per patent and draw
    euro = np.asarray(getattr(ov, "value", ov), dtype=float)
    option[opt] = np.where(life[opt] > 0, np.maximum(euro, np.nan_to_num(pv[opt]) - np.nan_to_num(k)), 0.0)
    return option


def _reconciled(
    b: _Block, seed: int, income: np.ndarray, option: np.ndarray, we: np.ndarray, market_spread: np.ndarray
) -> np.ndarray:
    """The reconciled value per draw: the methods' draws (and points) with the effective weights ``we``."""
    e, sl = b.e, b.sl
    # cost and a point market value enter at one column per patent (broadcast in the sum, never copied per draw);
    # the patents whose market value is drawn take their market part from their draws, added last as before
    cost = e.value_cost[sl, None]
    market = e.value_market[sl, None]
    drawn_rows = np.flatnonzero(market_spread)
    we_point = we
    if len(drawn_rows):
        we_point = we.copy()
        we_point[drawn_rows, 3] = 0.0
    vals = reconcile_draws(income, cost, option, we_point, market)
    if len(drawn_rows):
        at = sl[drawn_rows]
        drawn = market_draws(
            seed, e.ids[at], e.market_low[at], e.value_market[at], e.market_high[at], b.draws
        )
        vals[drawn_rows] += weighted_draws(drawn, we[drawn_rows, 3:4])
    return vals


def _parts(ids: np.ndarray, size: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``ids`` in parts of about ``size`` rows, a patent's rows together (in one part, side by side).

    Per part: the positions of its rows, each row's patent (0, 1, ... within the part) and each patent's first row.
    """
    codes, _ = pd.factorize(np.asarray(ids, dtype=object))
    order = np.argsort(codes, kind="stable")
    by_patent = codes[order]
    new = np.ones(len(order), dtype=bool)
    new[1:] = by_patent[1:] != by_patent[:-1]  # each patent's first row
    bounds, begin = [0], 0
    if len(order) > size:
        for s0 in np.flatnonzero(new)[1:].tolist():
            if s0 - begin >= size:
                bounds.append(s0)
                begin = s0
    bounds.append(len(order))
    out = []
    for b0, b1 in zip(bounds[:-1], bounds[1:], strict=True):
        starts = new[b0:b1]
        out.append((order[b0:b1], np.cumsum(starts) - 1, np.flatnonzero(starts)))
    return out


def _draw_values(
    e: _DrawInputs,
    sl: np.ndarray,
    draws: int,
    seed: int,
    a: dict,
    w_eff: np.ndarray,
    linear: bool,
    market_spread: np.ndarray,
    uniforms: UniformRows | None = None,
    *,
    kernels: Any = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """p05, p50, p95 of the reconciled value for the patents ``sl`` from their own streams.

    ``market_spread`` (per patent of ``sl``): the market value is drawn (:func:`market_draws`), else a point.
    Drawn in parts of about :data:`CACHE_ELEMENTS` numbers, a patent's rows (on a shock axis, one per shock)
    together: what depends on the patent alone (its uniforms, their normal quantiles) is computed once per
    patent, what depends on the patent and a row's inputs once per distinct row (a shock that leaves a
    patent's royalty alone shares its royalty draws), the same numbers as computed row by row.
    The steps, part by part: the uniforms, the drawn royalty, rates and life, the revenue's PV, the income and
    option values per draw, their reconciliation, its percentiles. With ``kernels`` (the compiled draws) a part
    they cover (:func:`ipvalue.valuation._range_fused.applies`) goes from the uniforms' normal quantiles and
    spread factor to its reconciled values in one compiled call per part, the same operations.
    """
    p05, p50, p95 = np.empty(len(sl)), np.empty(len(sl)), np.empty(len(sl))
    for part, codes, first in _parts(e.ids[sl], max(1, CACHE_ELEMENTS // max(1, draws))):
        b = _block(e, sl[part], codes, first, draws, seed, uniforms)
        we = w_eff[b.sl]
        if kernels is not None and kernels.applies(
            linear=linear,
            mid_year=a["mid_year"],
            tab_years=a["tab_years"],
            looped=(e.extra["horizon"][b.sl] > 0) | e.extra["decline"][b.sl],
            split=e.extra["split"][b.sl],
            option=we[:, 2] > 0,
            market_spread=market_spread[part],
        ):
            vals = kernels.block_values(b.u, *_deviations(b, a), b.codes, b.sl, e, we)
        else:
            roy = _drawn_royalty(b)
            r, g = _drawn_rates(b, a)
            life = _drawn_life(b, a)
            one_r = 1.0 + r
            income = _income_draws(b, a, roy, _revenue_pv(b, r, g, life, linear, one_r), r, one_r)
            option = _option_draws(b, a, income, life, we[:, 2] > 0)
            vals = _reconciled(b, seed, income, option, we, market_spread[part])
        p05[part], p50[part], p95[part] = percentiles(vals, (5, 50, 95))
    return p05, p50, p95


def _deviations(b: _Block, a: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per patent of the block: the discount rate's and growth's normal deviations and the life's spread factor.

    As :func:`_drawn_rates` and :func:`_drawn_life` compute them (the same numpy calls, the same bits).
    """
    s = a["life_spread_relative"]
    z_r = a["discount_rate_sd"] * ndtri(b.uniforms(1))
    z_g = a["growth_sd"] * ndtri(b.uniforms(3))
    return z_r, z_g, 1 - s + 2 * s * b.uniforms(2)


def percentiles(vals: np.ndarray, q: tuple[float, ...]) -> np.ndarray:
    """``np.percentile(vals, q, axis=1)``, the same numbers, from the rows sorted once.

    numpy selects the order statistics of several percentiles by a partition per statistic, several times the
    cost of sorting a row of draws; on sorted rows the order statistics are read at their places and
    interpolated as numpy's ``linear`` method does (:func:`sorted_percentiles`). Equal draws are the same bits
    except 0.0 and -0.0, whose order a sort and a partition may break differently, and NaNs: rows holding a
    negative zero or a NaN take ``np.percentile`` of their draws as they came.
    """
    s = np.sort(vals, axis=1)
    out = sorted_percentiles(s, q)
    if s.dtype == np.float64:  # -0.0 is the one float64 whose bits are the smallest int64's: one comparison
        neg_zero = s.view(np.int64) == np.iinfo(np.int64).min
    else:
        neg_zero = (s == 0.0) & np.signbit(s)
    odd = np.flatnonzero(neg_zero.any(axis=1) | np.isnan(s[:, -1]))
    if len(odd):
        out[:, odd] = np.percentile(vals[odd], q, axis=1)
    return out


def sorted_percentiles(s: np.ndarray, q: tuple[float, ...]) -> np.ndarray:
    """``np.percentile(s, q, axis=1)`` of rows ``s`` already sorted and without NaN: the same operations.

    numpy's ``linear`` method (Hyndman and Fan's method 7): the virtual index ``(n - 1) q / 100``, its floor and
    the next index (both the last for a virtual index at or past it, the first below 0), the fraction ``g``
    between them, and the interpolation ``a + (b - a) g``, or ``b - (b - a)(1 - g)`` where ``g >= 0.5``.
    """
    n = s.shape[1]
    virtual = (n - 1) * np.true_divide(q, 100)
    prev = np.floor(virtual)
    nxt = np.add(prev, 1)
    above = virtual >= n - 1
    prev[above] = nxt[above] = -1
    below = virtual < 0
    prev[below] = nxt[below] = 0
    gamma = np.asarray(virtual - prev, dtype=virtual.dtype).reshape(-1, 1)
    a = s[:, prev.astype(np.intp)].T
    b = s[:, nxt.astype(np.intp)].T
    diff = b - a
    out = np.add(a, diff * gamma)
    np.subtract(b, diff * (1 - gamma), out=out, where=gamma >= 0.5)
    return out
