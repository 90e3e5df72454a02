"""The valuation range's draws compiled (numba): the same numbers as :mod:`ipvalue.valuation.montecarlo`'s numpy steps.

:func:`ipvalue.valuation.montecarlo._draw_values` computes each draw of a patent's reconciled value in about forty
numpy calls over a block of ``(rows, draws)``: the drawn royalty (triangular), discount rate and growth (normal),
life (uniform), the revenue's present value in closed form, the income after tax, the reconciliation with the
point methods. For a block of a few dozen patents and a thousand draws (a stress shock's revaluation) most of that
time is the calls themselves. :func:`income_values` does the same floating operations one by one, in the same
order, in one compiled pass per row, and leaves ``log`` and ``exp`` to numpy's own loops
(:func:`ipvalue._ufunc_loops.ufunc_loop`: numpy's SIMD functions, whose last bit can differ from the C library's).
numba does not contract a multiply and an add without ``fastmath``, and ``error_model="numpy"`` gives a
division by zero numpy's inf or NaN.

It covers the common case only: the closed-form revenue (no revenue forecast, no linear step-down, no declining
profit share), a royalty (no profit split), end-of-year cash flows without the tax amortisation benefit, no
option and no drawn market value in the block; :func:`applies` says whether a block is one. Any other block
keeps the numpy steps. The uniforms, their normal quantiles and the percentiles stay numpy's.

Compiled on first use and kept in numba's on-disk cache (``cache=True``); loaded with the collateral engine's
compiled functions (:func:`ipvalue.collateral.liquidation.load_compiled_engine`), which check it first
(:func:`self_check`).
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
from numba import njit

from ipvalue._ufunc_loops import ufunc_loop

__all__ = ["applies", "income_values", "block_values", "self_check", "warm_up"]


@njit(nogil=True, cache=True)
def _loop(fn: Any, context: int, auxdata: int, row: np.ndarray, call: np.ndarray) -> None:
    """``ufunc(row, out=row)`` through the ufunc's own loop (``call`` holds the loop's pointers and sizes)."""
    at = row.ctypes.data
    call[0], call[1], call[2], call[3], call[4] = at, at, row.shape[0], 8, 8
    fn(context, call.ctypes.data, call.ctypes.data + 16, call.ctypes.data + 24, auxdata)


@njit(nogil=True, cache=True, inline="always")
def _min(a: float, b: float) -> float:
    """``np.minimum``: a NaN on either side is the result."""
    if np.isnan(a) or np.isnan(b):
        return a + b
    return a if a <= b else b


@njit(nogil=True, cache=True, inline="always")
def _max(a: float, b: float) -> float:
    """``np.maximum``: a NaN on either side is the result."""
    if np.isnan(a) or np.isnan(b):
        return a + b
    return a if a >= b else b


@njit(nogil=True, cache=True, inline="always")
def _part(v: float, w: float) -> float:
    """One method's part of a draw (``reconcile.weighted_draws``): ``v w``, cleaned.

    NaN as 0 and an infinity as the largest finite number of its sign (``np.nan_to_num``), 0 where the weight is
    not positive.
    """
    x = v * w
    if np.isnan(x):
        x = 0.0
    elif np.isinf(x):
        x = np.finfo(np.float64).max if x > 0 else -np.finfo(np.float64).max
    return x if w > 0 else 0.0


@njit(nogil=True, cache=True, error_model="numpy")
def income_values(  # noqa: PLR0913 - one compiled call takes the block's inputs
    log_fn: Any,
    log_context: int,
    log_auxdata: int,
    exp_fn: Any,
    exp_context: int,
    exp_auxdata: int,
    u: np.ndarray,
    z_r: np.ndarray,
    z_g: np.ndarray,
    spread: np.ndarray,
    codes: np.ndarray,
    rows: np.ndarray,
    royalty_low: np.ndarray,
    royalty: np.ndarray,
    royalty_high: np.ndarray,
    discount: np.ndarray,
    growth: np.ndarray,
    period: np.ndarray,
    life_legal: np.ndarray,
    decay: np.ndarray,
    revenue: np.ndarray,
    tax: np.ndarray,
    value_cost: np.ndarray,
    value_market: np.ndarray,
    weights: np.ndarray,
    out: np.ndarray,
) -> None:
    """The reconciled value of every draw of the block's rows: ``out[i, d]``.

    Row ``i`` is draw input ``rows[i]`` of patent ``codes[i]`` (a row of ``u``, ``z_r``, ``z_g`` and ``spread``:
    the patent's uniforms ``(5 x draws)``, the discount rate's and growth's normal deviations, the life's spread
    factor). ``weights`` holds the row's effective weights (income, cost, option, and the market where there is
    a fourth column). The operations, in ``montecarlo``'s order: the royalty (``triangular`` on the first
    uniforms), ``r = max(discount + z_r, 0.005)``, ``g = max(growth + z_g, -0.9)``, the life
    ``min(period x spread, legal life or 0)``, ``x = (1 + g)(1 - decay) / (1 + r)``, ``geometric_pv(x, life)``
    times the revenue, times ``royalty x (1 - tax)``; then the methods' parts added to 0 in order.
    """
    draws = out.shape[1]
    x_row, pow_row, life_row, roy_row = np.empty(draws), np.empty(draws), np.empty(draws), np.empty(draws)
    call = np.empty(5, dtype=np.intp)
    n_w = weights.shape[1]
    for i in range(rows.shape[0]):
        p, k = codes[i], rows[i]
        # triangular(u, lo, mode, hi): the bounds about the mode, the branch of each draw, its root
        mode = royalty[k]
        lo = _min(royalty_low[k], mode)
        hi = _max(royalty_high[k], mode)
        spread_t = hi > lo
        width = hi - lo if spread_t else 1.0
        fc = (mode - lo) / width if spread_t else 0.5
        to_mode, from_mode = mode - lo, hi - mode
        dk, gk, per = discount[k], growth[k], period[k]
        legal = 0.0 if np.isnan(life_legal[k]) else life_legal[k]
        kept = 1.0 - decay[k]
        rev, after_tax = revenue[k], 1.0 - tax[k]
        u_p, zr_p, zg_p, sp_p = u[p], z_r[p], z_g[p], spread[p]
        for d in range(draws):
            uu = u_p[d]
            left = uu < fc
            a = uu * width
            a = a * to_mode
            b = 1.0 - uu
            b = b * width
            b = b * from_mode
            root = np.sqrt(a if left else b)
            roy = (lo + root) if left else (hi - root)
            roy_row[d] = roy if spread_t else mode
            r = _max(dk + zr_p[d], 0.005)
            g = _max(gk + zg_p[d], -0.9)
            life_row[d] = _min(per * sp_p[d], legal)
            x = 1.0 + g
            x = x * kept
            x = x / (1.0 + r)
            x_row[d] = x
            pow_row[d] = x
        # geometric_pv: x^(m+1) as exp((m + 1) log x), numpy's log and exp
        _loop(log_fn, log_context, log_auxdata, pow_row, call)
        for d in range(draws):
            pow_row[d] = pow_row[d] * (np.floor(life_row[d]) + 1.0)
        _loop(exp_fn, exp_context, exp_auxdata, pow_row, call)
        w0 = weights[i, 0]
        cost = _part(value_cost[k], weights[i, 1])
        market = _part(value_market[k], weights[i, 3]) if n_w > 3 else 0.0
        for d in range(draws):
            x, xm1, life = x_row[d], pow_row[d], life_row[d]
            m = np.floor(life)
            one_m_x = 1.0 - x
            if np.abs(one_m_x) < 1e-6:  # the first-order expansion near x = 1
                full = m - one_m_x * m * (m + 1.0) / 2.0
            else:
                full = x - xm1
                full = full / one_m_x
            tail = life - m
            tail = tail * xm1
            full = full + tail
            s = full * rev
            pv = roy_row[d] * after_tax
            pv = pv * s
            v = 0.0 + _part(pv, w0)
            v = v + cost  # the option has no weight in this block: its part is not added (as numpy skips it)
            if n_w > 3:
                v = v + market
            out[i, d] = v


def applies(*, linear: bool, mid_year: bool, tab_years: Any, looped: np.ndarray, split: np.ndarray,
            option: np.ndarray, market_spread: np.ndarray) -> bool:  # fmt: skip
    """Whether a block is the common case :func:`income_values` computes (else the numpy steps run)."""
    return not (
        linear or mid_year or tab_years is not None or looped.any() or split.any() or option.any()
        or market_spread.any()
    )  # fmt: skip


def block_values(
    u: np.ndarray,
    z_r: np.ndarray,
    z_g: np.ndarray,
    spread: np.ndarray,
    codes: np.ndarray,
    rows: np.ndarray,
    e: Any,
    weights: np.ndarray,
) -> np.ndarray:
    """:func:`income_values` for a block: ``e`` holds the draw inputs (``montecarlo._DrawInputs``)."""
    log, exp = ufunc_loop(np.log), ufunc_loop(np.exp)
    out = np.empty((len(rows), spread.shape[1]))

    def f(x: Any, dtype: Any) -> np.ndarray:
        # every input as a read-only C array: one compiled signature whether the caller's arrays are writeable
        # or not (the valuation's are read-only in places), where a second would be a compilation of seconds
        v = np.ascontiguousarray(x, dtype=dtype).view()
        v.flags.writeable = False
        return v

    income_values(
        log.fn, log.context, log.auxdata, exp.fn, exp.context, exp.auxdata,
        f(u, dtype=np.float64), f(z_r, dtype=np.float64), f(z_g, dtype=np.float64), f(spread, dtype=np.float64),
        f(codes, dtype=np.int64), f(rows, dtype=np.int64),
        f(e.royalty_low, dtype=np.float64), f(e.royalty, dtype=np.float64), f(e.royalty_high, dtype=np.float64),
        f(e.discount, dtype=np.float64), f(e.growth, dtype=np.float64), f(e.period, dtype=np.float64),
        f(e.life_legal, dtype=np.float64), f(e.decay, dtype=np.float64), f(e.revenue, dtype=np.float64),
        f(e.tax, dtype=np.float64), f(e.value_cost, dtype=np.float64), f(e.value_market, dtype=np.float64),
        f(weights, dtype=np.float64), out,
    )  # fmt: skip
    return out


def self_check() -> str | None:
    """Whether numpy's log and exp loops, called from compiled code, are ``np.log`` and ``np.exp``: None if so.

    The loops are reached through numpy's unstable API (:mod:`ipvalue._ufunc_loops`); checked on a fixed sample
    once per process by the engine's loader. The rest of :func:`income_values` is IEEE arithmetic, compared with
    the numpy steps by the tests.
    """
    versions = f"numba {numba.__version__}, numpy {np.__version__}"
    x = np.random.Generator(np.random.PCG64(20261205)).random(2_001) * 3.0
    x = np.concatenate([x, [0.0, -0.0, 1.0, 1e-300, np.inf, np.nan, 0.5]])
    call = np.empty(5, dtype=np.intp)
    try:
        log, exp = ufunc_loop(np.log), ufunc_loop(np.exp)
    except Exception as exc:  # noqa: BLE001 - any failure here means: not this engine
        return f"numpy's log or exp loop is not available to compiled code: {exc} ({versions})"
    got = x.copy()
    with np.errstate(all="ignore"):
        _loop(log.fn, log.context, log.auxdata, got, call)
        want = np.log(x)
        if got.tobytes() != want.tobytes():
            return f"numpy's log loop called from compiled code differs from np.log ({versions})"
        y = want * 7.5
        got = y.copy()
        _loop(exp.fn, exp.context, exp.auxdata, got, call)
        if got.tobytes() != np.exp(y).tobytes():
            return f"numpy's exp loop called from compiled code differs from np.exp ({versions})"
    return None


def warm_up() -> None:
    """Load (or compile) :func:`income_values` for the types :func:`block_values` passes."""
    n, draws = 2, 4
    e = type("E", (), {})()
    for name in ("royalty_low", "royalty", "royalty_high", "discount", "growth", "period", "life_legal", "decay",
                 "revenue", "tax", "value_cost", "value_market"):  # fmt: skip
        setattr(e, name, np.full(n, 0.1))
    u = np.full((n, 5 * draws), 0.5)
    z = np.zeros((n, draws))
    block_values(u, z, z, np.ones((n, draws)), np.arange(n), np.arange(n), e, np.full((n, 4), 0.25))
