"""Longstaff-Schwartz least-squares Monte Carlo for American (Bermudan) options."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ipvalue.options._binomial import deterministic_value
from ipvalue.options._black_scholes import checked_inputs
from ipvalue.options._inputs import OptionInputError, check_kind, finish, to_seed_and_rng

__all__ = ["LSMResult", "lsm", "batched_regression"]

#: Working memory per block of options (paths x basis floats per option).
_BLOCK_FLOATS = 4_000_000


@dataclass(frozen=True)
class LSMResult:
    """Price of an American option by least-squares Monte Carlo, with its standard error.

    Attributes
    ----------
    price : float or numpy.ndarray
        Estimated option value (a float for scalar inputs, else an array of the broadcast shape).
    stderr : float or numpy.ndarray
        Monte Carlo standard error of ``price`` (pathwise; antithetic pairs averaged first). It does not
        include the small bias of the regression-estimated exercise policy.
    paths : int
        Simulated paths per option.
    steps : int
        Exercise dates (equally spaced, the last at maturity).
    antithetic : bool
        Whether half the paths mirror the other half.
    seed : int or None
        The seed used (None when a ``numpy.random.Generator`` was passed in).

    Notes
    -----
    ``float(result)`` gives the price of a single option, and ``numpy.asarray(result)`` the array of prices.
    """

    price: float | np.ndarray
    stderr: float | np.ndarray
    paths: int
    steps: int
    antithetic: bool
    seed: int | None

    def __float__(self) -> float:
        return float(self.price)

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        return np.asarray(self.price, dtype=dtype)


def batched_regression(x: np.ndarray, y: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Weighted least squares for a stack of problems; returns fitted values.

    Parameters
    ----------
    x : numpy.ndarray
        Basis, shape ``(blocks, paths, n_basis)``.
    y : numpy.ndarray
        Targets, shape ``(blocks, paths)``.
    weight : numpy.ndarray
        0/1 weights, shape ``(blocks, paths)`` (1 = path used in the regression).

    Returns
    -------
    numpy.ndarray
        ``x @ beta`` for every path, shape ``(blocks, paths)``. A block with fewer used paths than twice the
        number of basis functions gets NaN (no reliable regression).
    """
    xw = x * weight[..., None]
    xtx = np.matmul(xw.transpose(0, 2, 1), x)
    xty = np.matmul(xw.transpose(0, 2, 1), y[..., None])
    nb = x.shape[-1]
    # A tiny ridge keeps the normal equations solvable when a basis column is nearly flat.
    scale = np.trace(xtx, axis1=1, axis2=2)[:, None, None] / nb
    xtx = xtx + 1e-12 * np.maximum(scale, 1e-300) * np.eye(nb)
    beta = np.linalg.solve(xtx, xty)
    fitted = np.matmul(x, beta)[..., 0]
    enough = weight.sum(axis=1) >= 2 * nb
    fitted[~enough] = np.nan
    return fitted


def _basis(ratio: np.ndarray, degree: int) -> np.ndarray:
    return ratio[..., None] ** np.arange(degree + 1)


def lsm(
    spot: ArrayLike,
    strike: ArrayLike,
    maturity: ArrayLike,
    rate: ArrayLike,
    volatility: ArrayLike,
    *,
    kind: str = "put",
    paths: int = 100_000,
    steps: int = 50,
    dividend: ArrayLike = 0.0,
    rng: int | np.random.Generator | None = None,
    antithetic: bool = True,
    degree: int = 3,
) -> LSMResult:
    """Price American options by Longstaff-Schwartz least-squares Monte Carlo.

    Geometric Brownian motion paths are simulated under the risk-neutral measure; going back from maturity,
    at each exercise date the discounted realised cash flow of the in-the-money paths is regressed on
    ``1, x, ..., x**degree`` with ``x = S / K``, and a path is exercised where the payoff beats the fitted
    continuation value (Longstaff and Schwartz 2001, RFS 14(1):113-147). The price is the mean discounted
    cash flow (or the immediate payoff if that is higher).

    Parameters
    ----------
    spot, strike, maturity, rate, volatility : array_like
        As in :func:`black_scholes`; they broadcast against each other.
    kind : {"call", "put"}, keyword-only
        Option type (default ``"put"``).
    paths : int, keyword-only
        Paths per option (even when ``antithetic``).
    steps : int, keyword-only
        Exercise dates over the maturity, equally spaced (Longstaff and Schwartz use 50 per year).
    dividend : array_like, keyword-only
        Continuous yield on the underlying.
    rng : int, numpy.random.Generator or None, keyword-only
        Seed or generator. ``None`` draws fresh entropy and records it in the result.
    antithetic : bool, keyword-only
        Use antithetic pairs of paths (default True).
    degree : int, keyword-only
        Degree of the regression polynomial (default 3).

    Returns
    -------
    LSMResult
        ``.price`` and ``.stderr`` (floats for scalar inputs, arrays otherwise), plus the run settings.

    Raises
    ------
    OptionInputError
        Bad inputs as in :func:`black_scholes`; ``paths``, ``steps`` or ``degree`` invalid; a bad ``rng``.

    Notes
    -----
    Every option of one call is priced on the same standard normal draws (common random numbers), so an
    option's price does not depend on which other options are in the batch or in what order. Maturity 0
    and zero volatility are priced exactly (stderr 0).
    """
    is_call = check_kind(kind)
    for name, val, low in (("paths", paths, 2), ("steps", steps, 1), ("degree", degree, 1)):
        if isinstance(val, bool) or not isinstance(val, int | np.integer) or val < low:
            raise OptionInputError(name, f"must be an int >= {low}, got {val!r}")
    if antithetic and paths % 2:
        raise OptionInputError("paths", f"must be even with antithetic paths, got {paths}")
    paths, steps, degree = int(paths), int(steps), int(degree)
    seed, gen = to_seed_and_rng(rng)
    shape, (s, k, t, r, v, q) = checked_inputs(spot, strike, maturity, rate, volatility, dividend)
    price = np.empty_like(s)
    stderr = np.zeros_like(s)
    sign = 1.0 if is_call else -1.0

    expired = t == 0
    price[expired] = np.maximum(sign * (s[expired] - k[expired]), 0.0)
    # zero volatility, spot or strike: the path (or the payoff) is deterministic, priced exactly
    flat = ((v == 0) | (s == 0) | (k == 0)) & ~expired
    if flat.any():
        fractions = np.arange(steps + 1) / steps
        price[flat] = deterministic_value(s[flat], k[flat], t[flat], r[flat], q[flat], is_call, fractions)
    sim = np.flatnonzero(~expired & ~flat)
    if sim.size:
        half = paths // 2 if antithetic else paths
        z = gen.standard_normal((steps, half))
        if antithetic:
            z = np.concatenate([z, -z], axis=1)
        walk = np.cumsum(z, axis=0)  # W_j / sqrt(dt) for j = 1..steps, shared by every option
        block = max(1, _BLOCK_FLOATS // (paths * (degree + 2)))
        for start in range(0, sim.size, block):
            idx = sim[start : start + block]
            p, e = _lsm_block(s[idx], k[idx], t[idx], r[idx], v[idx], q[idx], sign, walk, degree, antithetic)
            price[idx], stderr[idx] = p, e
    return LSMResult(
        price=finish(price, shape),
        stderr=finish(stderr, shape),
        paths=paths,
        steps=steps,
        antithetic=bool(antithetic),
        seed=seed,
    )


def _lsm_block(
    s: np.ndarray,
    k: np.ndarray,
    t: np.ndarray,
    r: np.ndarray,
    v: np.ndarray,
    q: np.ndarray,
    sign: float,
    walk: np.ndarray,
    degree: int,
    antithetic: bool,
) -> tuple[np.ndarray, np.ndarray]:
    steps, n_paths = walk.shape
    dt = (t / steps)[:, None]
    drift = (r - q - 0.5 * v * v)[:, None] * dt
    vol = v[:, None] * np.sqrt(dt)
    disc = np.exp(-r[:, None] * dt)
    s_col, k_col = s[:, None], k[:, None]

    def spot_at(j: int) -> np.ndarray:  # prices at exercise date j (1..steps), shape (options, paths)
        return s_col * np.exp(drift * j + vol * walk[j - 1][None, :])

    cash = np.maximum(sign * (spot_at(steps) - k_col), 0.0)
    for j in range(steps - 1, 0, -1):
        cash *= disc
        spot_j = spot_at(j)
        payoff = np.maximum(sign * (spot_j - k_col), 0.0)
        itm = payoff > 0
        fitted = batched_regression(_basis(spot_j / k_col, degree), cash, itm.astype(float))
        with np.errstate(invalid="ignore"):
            exercise = itm & (payoff > fitted)  # NaN fit (too few paths in the money): keep holding
        cash = np.where(exercise, payoff, cash)
    cash *= disc
    if antithetic:
        half = n_paths // 2
        pairs = 0.5 * (cash[:, :half] + cash[:, half:])
    else:
        pairs = cash
    hold = pairs.mean(axis=1)
    err = pairs.std(axis=1, ddof=1) / np.sqrt(pairs.shape[1])
    now = np.maximum(sign * (s - k), 0.0)
    exercise_now = now > hold
    return np.where(exercise_now, now, hold), np.where(exercise_now, 0.0, err)
