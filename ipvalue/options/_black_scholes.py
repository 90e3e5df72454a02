"""Black-Scholes-Merton price of a European option on an asset paying a continuous yield."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import ndtr

from ipvalue.options._inputs import as_array, broadcast_inputs, check_kind, finish

__all__ = ["black_scholes", "checked_inputs"]


def checked_inputs(
    spot: object, strike: object, maturity: object, rate: object, volatility: object, dividend: object
) -> tuple[tuple[int, ...], list[np.ndarray]]:
    """Check the six market inputs and broadcast them; return the shape and six flat arrays."""
    named = [
        ("spot", as_array("spot", spot, minimum=0.0)),
        ("strike", as_array("strike", strike, minimum=0.0)),
        ("maturity", as_array("maturity", maturity, minimum=0.0)),
        ("rate", as_array("rate", rate)),
        ("volatility", as_array("volatility", volatility, minimum=0.0)),
        ("dividend", as_array("dividend", dividend)),
    ]
    return broadcast_inputs(named)


def _bs_flat(
    s: np.ndarray,
    k: np.ndarray,
    t: np.ndarray,
    r: np.ndarray,
    v: np.ndarray,
    q: np.ndarray,
    is_call: bool | np.ndarray,
) -> np.ndarray:
    """Black-Scholes on flat arrays with every edge case resolved (no NaN for valid inputs)."""
    df_r = np.exp(-r * t)
    df_q = np.exp(-q * t)
    fwd_s = s * df_q  # spot less the yield paid before maturity
    pv_k = k * df_r
    vol_t = v * np.sqrt(t)
    live = (vol_t > 0) & (s > 0) & (k > 0)
    out = np.empty_like(s)
    # Degenerate cases: zero variance, zero spot or zero strike. The payoff is then known in
    # present-value terms: max(+-(S e^-qT - K e^-rT), 0).
    sign = 1.0 if is_call else -1.0
    dead = ~live
    out[dead] = np.maximum(sign * (fwd_s[dead] - pv_k[dead]), 0.0)
    if live.any():
        sl, kl, fl, pl, vl = s[live], k[live], fwd_s[live], pv_k[live], vol_t[live]
        d1 = (np.log(sl / kl) + (r[live] - q[live]) * t[live]) / vl + 0.5 * vl
        d2 = d1 - vl
        if is_call:
            out[live] = fl * ndtr(d1) - pl * ndtr(d2)
        else:
            out[live] = pl * ndtr(-d2) - fl * ndtr(-d1)
    return np.maximum(out, 0.0)


def black_scholes(
    spot: ArrayLike,
    strike: ArrayLike,
    maturity: ArrayLike,
    rate: ArrayLike,
    volatility: ArrayLike,
    *,
    dividend: ArrayLike = 0.0,
    kind: str = "call",
) -> float | np.ndarray:
    r"""Price European options with the Black-Scholes-Merton formula.

    .. math::

        C = S e^{-qT} N(d_1) - K e^{-rT} N(d_2),\qquad P = K e^{-rT} N(-d_2) - S e^{-qT} N(-d_1),

        d_1 = \frac{\ln(S/K) + (r - q + \sigma^2/2) T}{\sigma\sqrt{T}},\qquad d_2 = d_1 - \sigma\sqrt{T}.

    All numeric arguments broadcast against each other.

    Parameters
    ----------
    spot : array_like
        Value of the underlying today (>= 0). For a patent: present value of the cash flows from using it.
    strike : array_like
        Exercise price (>= 0). For a patent: present value of the investment needed to use it.
    maturity : array_like
        Time to expiry in years (>= 0).
    rate : array_like
        Continuously compounded risk-free rate (decimal; negative rates are allowed).
    volatility : array_like
        Annual volatility of the underlying (>= 0).
    dividend : array_like, keyword-only
        Continuous yield paid by the underlying (for a patent: the value leakage per year of delay).
    kind : {"call", "put"}, keyword-only
        Option type.

    Returns
    -------
    float or numpy.ndarray
        A float when every input is a scalar, otherwise an array of the broadcast shape.

    Raises
    ------
    OptionInputError
        For a negative spot, strike, maturity or volatility, a non-finite input, shapes that do not
        broadcast, or an unknown ``kind``. The message names the argument and the first bad entry.

    Notes
    -----
    Edge cases are priced exactly instead of returning NaN: ``maturity == 0`` gives the intrinsic value,
    ``volatility == 0`` gives the discounted deterministic payoff ``max(+-(S e^{-qT} - K e^{-rT}), 0)``,
    ``strike == 0`` gives ``S e^{-qT}`` for a call and 0 for a put, ``spot == 0`` gives 0 for a call and
    ``K e^{-rT}`` for a put.

    Examples
    --------
    Hull's example (S=42, K=40, r=10%, sigma=20%, T=0.5):

    >>> round(black_scholes(42, 40, 0.5, 0.10, 0.20), 2)
    4.76
    >>> round(black_scholes(42, 40, 0.5, 0.10, 0.20, kind="put"), 2)
    0.81
    """
    is_call = check_kind(kind)
    shape, (s, k, t, r, v, q) = checked_inputs(spot, strike, maturity, rate, volatility, dividend)
    values = _bs_flat(s, k, t, r, v, q, is_call)
    return finish(values, shape)
