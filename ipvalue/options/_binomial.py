"""Cox-Ross-Rubinstein lattice, vectorised over many options at once."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ipvalue.options._black_scholes import checked_inputs
from ipvalue.options._inputs import OptionInputError, check_kind, finish

__all__ = ["binomial", "deterministic_value", "exercise_steps"]

#: Options priced together in one block: the block's lattice (nodes x options) stays in the CPU cache.
_BLOCK_BYTES = 1 << 19
_RESCALE = 128
_RESCALE_FACTOR = 2.0**-128


def exercise_steps(steps: int, american: bool, exercise_dates: int | None) -> np.ndarray:
    """Boolean mask over lattice levels 0..steps: where early exercise is allowed (maturity always is)."""
    allowed = np.zeros(steps + 1, dtype=bool)
    allowed[steps] = True
    if exercise_dates is not None:
        if (
            isinstance(exercise_dates, bool)
            or not isinstance(exercise_dates, int | np.integer)
            or exercise_dates < 1
        ):
            raise OptionInputError("exercise_dates", f"must be a positive int, got {exercise_dates!r}")
        if steps % exercise_dates:
            raise OptionInputError(
                "exercise_dates", f"steps ({steps}) must be a multiple of exercise_dates ({exercise_dates})"
            )
        allowed[:: steps // exercise_dates] = True
        allowed[0] = False  # a Bermudan option's first exercise date is one period after today
    elif american:
        allowed[:] = True
    return allowed


def deterministic_value(
    s: np.ndarray,
    k: np.ndarray,
    t: np.ndarray,
    r: np.ndarray,
    q: np.ndarray,
    is_call: bool | np.ndarray,
    fractions: np.ndarray,
) -> np.ndarray:
    """Value with zero volatility: the best of the discounted payoffs at the allowed exercise times.

    ``fractions`` are the allowed exercise times as fractions of the maturity (1.0 included).
    """
    times = t[:, None] * fractions[None, :]
    fwd = s[:, None] * np.exp((r - q)[:, None] * times)
    sign = 1.0 if is_call else -1.0
    payoff = np.maximum(sign * (fwd - k[:, None]), 0.0) * np.exp(-r[:, None] * times)
    return payoff.max(axis=1)


def _geometric_rows(first: np.ndarray, log_ratio: np.ndarray, rows: int) -> np.ndarray:
    """``first * exp(m * log_ratio)`` for m = 0..rows-1 as a (rows, options) array."""
    out = np.multiply.outer(np.arange(rows, dtype=float), log_ratio)
    np.exp(out, out=out)
    out *= first
    return out


def _payoff(price: np.ndarray, k: np.ndarray, is_call: bool | np.ndarray) -> np.ndarray:
    out = price - k if is_call else k - price
    return np.maximum(out, 0.0, out=out)


def _lattice_block(
    s: np.ndarray,
    k: np.ndarray,
    t: np.ndarray,
    r: np.ndarray,
    v: np.ndarray,
    q: np.ndarray,
    is_call: bool | np.ndarray,
    steps: int,
    allowed: Any,
) -> np.ndarray:
    """Roll one block of options back through the lattice. All inputs are 1-D arrays of one block.

    The lattice is held as a 2-D array ``nodes x options`` (nodes on the first axis) so that every
    slice taken while stepping back is a contiguous run of memory.
    """
    dt = t / steps
    sig = v * np.sqrt(dt)
    up = np.exp(sig)
    down = 1.0 / up
    growth = np.exp((r - q) * dt)
    p = (growth - down) / (up - down)
    disc = np.exp(-r * dt)
    pu = disc * p
    pd = disc * (1.0 - p)
    # Node j of level i (j up-moves) has S * u^(2j - i). Levels of the same parity share node prices,
    # so the exercise values of every level are slices of those of level N and level N-1.
    price_n = _geometric_rows(s * np.exp(-steps * sig), 2.0 * sig, steps + 1)
    pay_n = _payoff(price_n, k, is_call)
    pay_n1 = _payoff(price_n[:-1] * up, k, is_call)
    # Exercise only matters where the payoff is positive: node j of level i is in the money for some
    # option of the block when 2j - i < max(ln(K/S)/sig) (put) or 2j - i > min(ln(K/S)/sig) (call).
    # Two nodes of margin keep rounding at the boundary harmless (max with a zero payoff is a no-op).
    levels = np.arange(steps + 1)
    with np.errstate(divide="ignore"):
        moneyness = np.log(k / s) / sig
    if is_call:
        m_lo = moneyness.min()
        lo = np.clip(np.floor((levels + m_lo) / 2) - 2, 0, levels + 1) if np.isfinite(m_lo) else 0 * levels
        hi = levels + 1
    else:
        m_hi = moneyness.max()
        lo = 0 * levels
        hi = np.clip(np.ceil((levels + m_hi) / 2) + 2, 0, levels + 1) if np.isfinite(m_hi) else levels + 1
    checks: list[tuple[int, int, int] | None] = [
        (int(i), int(a), int(b)) if allowed[i] and b > a else None
        for i, a, b in zip(levels.tolist(), np.asarray(lo).tolist(), np.asarray(hi).tolist(), strict=True)
    ]
    with np.errstate(divide="ignore"):
        log_a = np.log(pu) - np.log(pd)  # +-inf when p is exactly 0 or 1: the plain rollback handles it
    if steps * np.abs(log_a).max() < 300.0:
        return _scaled_rollback(pay_n, pay_n1, pu, pd, log_a, steps, checks)
    values = pay_n.copy()
    tmp = np.empty_like(values)
    for i in range(steps - 1, -1, -1):
        head = values[: i + 1]
        np.multiply(values[1 : i + 2], pu, out=tmp[: i + 1])
        head *= pd
        head += tmp[: i + 1]
        check = checks[i]
        if check is not None:
            _, a, b = check
            src, off = (pay_n, (steps - i) // 2) if (steps - i) % 2 == 0 else (pay_n1, (steps - 1 - i) // 2)
            np.maximum(head[a:b], src[off + a : off + b], out=head[a:b])
    return values[0].copy()


def _scaled_rollback(
    pay_n: np.ndarray,
    pay_n1: np.ndarray,
    pu: np.ndarray,
    pd: np.ndarray,
    log_a: np.ndarray,
    steps: int,
    checks: Any,
) -> np.ndarray:
    """Roll back with one addition per node and level.

    With ``a = pu / pd`` the lattice is stored as ``V(i, j) = exp(c_i) a^-j W(i, j)``; then the CRR step
    ``V(i, j) = pu V(i+1, j+1) + pd V(i+1, j)`` becomes ``W(i, j) = W(i+1, j+1) + W(i+1, j)`` with
    ``c_i = c_{i+1} + ln pd``: no per-option multiplication except on the in-the-money nodes where
    exercise is checked. ``W`` at most doubles per level; it is rescaled by an exact power of two every
    ``_RESCALE`` levels. Used when ``a^steps`` stays far from overflow.
    """
    log_pd = np.log(pd)
    a_pow = _geometric_rows(np.ones_like(pu), log_a, steps + 1)
    q_n = pay_n * a_pow  # payoff times a^m, m = index in level N (or N-1)
    q_n1 = pay_n1 * a_pow[:-1]
    # c_i = (N - i) ln pd - (number of rescalings done by level i) ln(rescale factor)
    ex_levels = np.array([c[0] for c in checks if c is not None], dtype=int)
    if ex_levels.size:
        rescales = (steps - ex_levels) // _RESCALE
        offs = np.where((steps - ex_levels) % 2 == 0, (steps - ex_levels) // 2, (steps - 1 - ex_levels) // 2)
        log_c = (steps - ex_levels)[:, None] * log_pd - (rescales * np.log(_RESCALE_FACTOR))[:, None]
        factors = dict(zip(ex_levels.tolist(), np.exp(-offs[:, None] * log_a - log_c), strict=True))
    cur = q_n.copy()  # level N: c_N = 0, so W = V a^j
    nxt = np.empty_like(cur)
    for i in range(steps - 1, -1, -1):
        np.add(cur[: i + 1], cur[1 : i + 2], out=nxt[: i + 1])
        cur, nxt = nxt, cur
        if (steps - i) % _RESCALE == 0:
            cur[: i + 1] *= _RESCALE_FACTOR
        check = checks[i]
        if check is not None:
            _, a, b = check
            src, off = (q_n, (steps - i) // 2) if (steps - i) % 2 == 0 else (q_n1, (steps - 1 - i) // 2)
            # payoff(i, j) in W units: q[off + j] a^-off exp(-c_i)
            # the previous level's buffer is free until the next step: use it as scratch
            np.multiply(src[off + a : off + b], factors[i], out=nxt[a:b])
            np.maximum(cur[a:b], nxt[a:b], out=cur[a:b])
    final_log_c = steps * log_pd - (steps // _RESCALE) * np.log(_RESCALE_FACTOR)
    return cur[0] * np.exp(final_log_c)


def _tilted_lattice(
    s: np.ndarray,
    k: np.ndarray,
    t: np.ndarray,
    r: np.ndarray,
    v: np.ndarray,
    q: np.ndarray,
    is_call: bool | np.ndarray,
    steps: int,
    allowed: Any,
) -> np.ndarray:
    """A binomial lattice centred on the forward, for options where the CRR probability leaves [0, 1].

    Nodes ``S d^i (u/d)^j`` with ``u, d = exp((r - q - v^2/2) dt +- v sqrt(dt))`` and the probability set so
    that the mean of the next price is the forward, ``p = (e^{v^2 dt/2} - e^{-v sqrt(dt)}) / (e^{v sqrt(dt)} -
    e^{-v sqrt(dt)})``, which lies in (0, 1) whatever the drift. Rolled back with the plain update.
    """
    dt = t / steps
    sig = v * np.sqrt(dt)
    log_d = (r - q - 0.5 * v * v) * dt - sig
    p = (np.exp(0.5 * sig * sig) - np.exp(-sig)) / (np.exp(sig) - np.exp(-sig))
    disc = np.exp(-r * dt)
    pu, pd = disc * p, disc * (1.0 - p)
    ratio_pow = np.exp(np.multiply.outer(np.arange(steps + 1, dtype=float), 2.0 * sig))
    values = _payoff(s * np.exp(steps * log_d) * ratio_pow, k, is_call)
    tmp = np.empty_like(values)
    for i in range(steps - 1, -1, -1):
        head = values[: i + 1]
        np.multiply(values[1 : i + 2], pu, out=tmp[: i + 1])
        head *= pd
        head += tmp[: i + 1]
        if allowed[i]:
            np.maximum(head, _payoff(s * np.exp(i * log_d) * ratio_pow[: i + 1], k, is_call), out=head)
    return values[0].copy()


def binomial(
    spot: ArrayLike,
    strike: ArrayLike,
    maturity: ArrayLike,
    rate: ArrayLike,
    volatility: ArrayLike,
    *,
    steps: int = 500,
    dividend: ArrayLike = 0.0,
    kind: str = "call",
    american: bool = True,
    exercise_dates: int | None = None,
) -> float | np.ndarray:
    """Price options on a Cox-Ross-Rubinstein binomial lattice, many options at once.

    ``u = exp(sigma sqrt(dt))``, ``d = 1/u``, ``p = (exp((r - q) dt) - d) / (u - d)``; the option value is
    rolled back from maturity with ``V = e^{-r dt} (p V_up + (1 - p) V_down)``, and for early exercise
    ``V = max(V, payoff)`` at every allowed level. All options of a call are stepped back together as
    one 2-D array (lattice nodes x options), so the cost of Python is per step, not per option.

    Parameters
    ----------
    spot, strike, maturity, rate, volatility : array_like
        As in :func:`black_scholes`; they broadcast against each other.
    steps : int, keyword-only
        Number of time steps (the same for every option of the call).
    dividend : array_like, keyword-only
        Continuous yield on the underlying.
    kind : {"call", "put"}, keyword-only
        Option type.
    american : bool, keyword-only
        Allow exercise at every level (including today). ``False`` prices the European option.
    exercise_dates : int, optional, keyword-only
        Bermudan exercise instead: this many equally spaced dates, the last at maturity, the first one
        period after today (``steps`` must be a multiple). Overrides ``american``.

    Returns
    -------
    float or numpy.ndarray
        A float when every input is a scalar, otherwise an array of the broadcast shape.

    Raises
    ------
    OptionInputError
        Bad inputs as in :func:`black_scholes`; ``steps`` not a positive int; ``volatility * sqrt(dt) >= 1``
        (far too few steps).

    Notes
    -----
    ``maturity == 0`` gives the intrinsic value and ``volatility == 0`` (or a zero spot or strike) the best
    discounted deterministic payoff over the allowed exercise times, without building a lattice. Where the
    CRR probability would leave [0, 1] (volatility very low for ``|rate - dividend|`` and the step) that
    option is priced on a lattice centred on the forward instead (same limit as ``steps`` grows). The lattice error is O(1/steps)
    and oscillates between odd and even ``steps``.

    Examples
    --------
    Hull's American put (S=K=50, r=10%, sigma=40%, T=5/12):

    >>> round(binomial(50, 50, 5 / 12, 0.10, 0.40, steps=5, kind="put"), 2)
    4.49
    """
    is_call = check_kind(kind)
    if isinstance(steps, bool) or not isinstance(steps, int | np.integer) or steps < 1:
        raise OptionInputError("steps", f"must be a positive int, got {steps!r}")
    steps = int(steps)
    allowed = exercise_steps(steps, american, exercise_dates)
    shape, (s, k, t, r, v, q) = checked_inputs(spot, strike, maturity, rate, volatility, dividend)
    out = np.empty_like(s)
    sign = 1.0 if is_call else -1.0
    expired = t == 0
    out[expired] = np.maximum(sign * (s[expired] - k[expired]), 0.0)
    # zero volatility, spot or strike: the path (or the payoff) is deterministic, priced exactly
    flat = ((v == 0) | (s == 0) | (k == 0)) & ~expired
    if flat.any():
        fractions = np.flatnonzero(allowed) / steps
        out[flat] = deterministic_value(s[flat], k[flat], t[flat], r[flat], q[flat], is_call, fractions)
    tree = np.flatnonzero(~expired & ~flat)
    # Where the CRR probability would leave [0, 1] (volatility very low for |r - q| and the step), the
    # option goes to a lattice centred on the forward instead.
    dt_t = t[tree] / steps
    sig_t = v[tree] * np.sqrt(dt_t)
    with np.errstate(over="ignore", invalid="ignore"):
        p_crr = (np.exp((r[tree] - q[tree]) * dt_t) - np.exp(-sig_t)) / (np.exp(sig_t) - np.exp(-sig_t))
    tilted = tree[~((p_crr >= 0.0) & (p_crr <= 1.0))]
    tree = tree[(p_crr >= 0.0) & (p_crr <= 1.0)]
    if tilted.size:
        too_wide = v[tilted] * np.sqrt(t[tilted] / steps) >= 1.0
        if too_wide.any():
            i = int(tilted[too_wide][0])
            raise OptionInputError(
                "volatility", f"{v[i]:g} over {t[i]:g} years is too wide for {steps} steps; use more steps"
            )
        out[tilted] = _tilted_lattice(
            s[tilted], k[tilted], t[tilted], r[tilted], v[tilted], q[tilted], is_call, steps, allowed
        )
    # Options of similar moneyness (in lattice steps) share a block, so the exercise check of a block
    # covers few nodes that are out of the money for all of its options.
    with np.errstate(divide="ignore"):
        order = np.log(k[tree] / s[tree]) / (v[tree] * np.sqrt(t[tree] / steps))
    tree = tree[np.argsort(order, kind="stable")]
    # Early exercise never pays for a call when q <= 0 <= r, nor for a put when r <= 0 <= q: on a lattice that
    # matches the forward, the continuation value is at least e^{-r dt} K - S e^{-q dt} (put) or
    # S e^{-q dt} - K e^{-r dt} (call), which is at least the payoff. Those options skip the exercise check.
    if allowed[:-1].any():
        never = (q[tree] <= 0) & (r[tree] >= 0) if is_call else (r[tree] <= 0) & (q[tree] >= 0)
        groups = [(tree[~never], allowed), (tree[never], exercise_steps(steps, False, None))]
    else:
        groups = [(tree, allowed)]
    block = max(1, _BLOCK_BYTES // (8 * (steps + 1)))
    for members, mask in groups:
        for start in range(0, members.size, block):
            idx = members[start : start + block]
            out[idx] = _lattice_block(s[idx], k[idx], t[idx], r[idx], v[idx], q[idx], is_call, steps, mask)
    return finish(out, shape)
