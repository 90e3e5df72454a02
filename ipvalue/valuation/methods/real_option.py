"""Real-option values of patents: the deferral option, the renewal option and staged development.

Three models, each vectorised over a portfolio (arrays in, arrays out) and each returning a result object
with ``.value`` and the inputs it was given:

- :func:`deferral_option`: a patent as a call on commercialisation (Damodaran's mapping): the underlying is
  the present value of the cash flows from using the patent now, the strike the cost of doing so, the
  maturity the remaining life, and a value leakage per year of waiting (default ``1 / years``).
- :func:`renewal_option_value`: the holder's option to keep paying renewal fees (Pakes 1986): a lattice on
  the patent's income in which every statutory renewal fee is a keep-or-abandon decision.
- :func:`staged_development_value`: a pending or pre-commercial patent whose development may be abandoned
  and may fail (Schwartz 2004), valued by least-squares Monte Carlo.

:func:`option_values` is the valuation stage that prices the deferral option of every pre-commercial patent of a
chunk. The formulas, defaults and limits are in ``docs/methodology/real_options.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from ipvalue._random import patent_rng
from ipvalue.errors import Problem
from ipvalue.options import binomial, black_scholes
from ipvalue.options._inputs import OptionInputError, as_array, broadcast_inputs, finish, to_seed_and_rng
from ipvalue.options._lsm import batched_regression
from ipvalue.valuation.notes import fmt_pct

if TYPE_CHECKING:  # the stage reads the economics stage's result (economics imports the income kernels)
    from ipvalue.valuation.asof import Facts
    from ipvalue.valuation.economics import Economics
    from ipvalue.valuation.methods.income import IncomeValues
    from ipvalue.valuation.notes import Notes

__all__ = [
    "RealOptionInputError",
    "DeferralOptionResult",
    "deferral_option",
    "RenewalOptionResult",
    "renewal_option_value",
    "RenewalFees",
    "renewal_fee_matrix",
    "StagedDevelopmentResult",
    "staged_development_value",
    "deferral_lattice",
    "continuous_rate",
    "option_values",
]


class RealOptionInputError(OptionInputError):
    """A real-option input that cannot be valued; names the field and, when known, the patent.

    Parameters
    ----------
    field : str
        The argument at fault.
    reason : str
        What is wrong with it.
    patent_id : str, optional
        The patent concerned, when the caller passed ``patent_ids``.
    index : tuple of int, optional
        Position of the first offending entry.
    """

    def __init__(
        self, field: str, reason: str, patent_id: str | None = None, index: tuple[int, ...] | None = None
    ):
        super().__init__(field, reason, index)
        self.patent_id = patent_id
        if patent_id is not None:
            self.problems = [Problem(patent_id, field, f"patent {patent_id}: {field}: {reason}")]
            self.args = (self.problems[0].message,)


def _checked(named: Sequence[tuple[str, Any, dict[str, Any]]], patent_ids: Any = None) -> Any:
    """Check and broadcast ``(name, value, kwargs)`` triples; re-raise with the patent named."""
    arrays = []
    for name, value, kw in named:
        try:
            arrays.append((name, as_array(name, value, **kw)))
        except OptionInputError as exc:
            raise _with_patent(exc, value, patent_ids) from None
    return broadcast_inputs(arrays)


def _with_patent(exc: OptionInputError, value: Any, patent_ids: Any) -> RealOptionInputError:
    """The same error, with the patent named when the bad entry of a 1-D input maps onto ``patent_ids``."""
    pid = None
    if (
        patent_ids is not None
        and exc.index is not None
        and len(exc.index) == 1
        and exc.index[0] < len(patent_ids)
    ):
        pid = str(patent_ids[exc.index[0]])
    return RealOptionInputError(exc.field, exc.reason, pid, exc.index)


def _ids(patent_ids: Sequence[str] | None, n: int) -> list[str] | None:
    if patent_ids is None:
        return None
    ids = [str(p) for p in patent_ids]
    if len(ids) != n:
        raise RealOptionInputError("patent_ids", f"has {len(ids)} entries for {n} patents")
    return ids


# -------------------------------------------------------------------------------------------------------------
# Deferral option (Damodaran's patent-as-option mapping)
# -------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeferralOptionResult:
    """Value of the option to defer commercialising a patent.

    Attributes
    ----------
    value : float or numpy.ndarray
        Option value (same currency as the inputs).
    npv : float or numpy.ndarray
        Value of commercialising now, ``pv_cash_flows - investment_cost`` (may be negative).
    time_premium : float or numpy.ndarray
        ``value - max(npv, 0)``: what the right to wait adds.
    leakage : float or numpy.ndarray
        The yield used for the value lost per year of delay.
    inputs : dict
        The arguments as given (``leakage`` None when the default was used).
    """

    value: float | np.ndarray
    npv: float | np.ndarray
    time_premium: float | np.ndarray
    leakage: float | np.ndarray
    inputs: dict[str, Any] = field(repr=False)


def deferral_option(
    pv_cash_flows: ArrayLike,
    investment_cost: ArrayLike,
    years: ArrayLike,
    rate: ArrayLike,
    volatility: ArrayLike,
    *,
    leakage: ArrayLike | None = None,
    american: bool = False,
    steps: int = 200,
) -> DeferralOptionResult:
    r"""Value a patent as the option to defer its commercialisation.

    The patent gives the right, not the obligation, to pay ``investment_cost`` and receive a project worth
    ``pv_cash_flows``, any time before the patent expires. It is priced as a call with a dividend yield
    (Damodaran, *Damodaran on Valuation*, 2nd ed., ch. 12; the Avonex illustration):

    .. math::

        C = S e^{-qT} N(d_1) - K e^{-rT} N(d_2),\qquad q = 1 / T \text{ by default}

    where ``q`` is the value lost per year of waiting: every year of delay is one year less of protected
    cash flows.

    Parameters
    ----------
    pv_cash_flows : array_like
        S: present value of the cash flows from commercialising now (>= 0).
    investment_cost : array_like
        K: present value of the investment needed to commercialise (>= 0).
    years : array_like
        T: remaining patent life or decision window, in years (>= 0; 0 gives ``max(S - K, 0)``).
    rate : array_like
        Risk-free rate for the horizon (decimal).
    volatility : array_like
        Annual volatility of the project value (>= 0; Damodaran uses that of listed firms in the sector).
    leakage : array_like, optional, keyword-only
        Value leakage per year of delay, as a continuous yield. Default ``1 / years``.
    american : bool, keyword-only
        Price exercise at any time on a CRR lattice (``steps`` steps) instead of the Black-Scholes formula.
        With a leakage the early-exercise right is worth something; Damodaran's mapping uses the formula.
    steps : int, keyword-only
        Lattice steps when ``american``.

    Returns
    -------
    DeferralOptionResult
        ``.value`` (float for scalar inputs, array of the broadcast shape otherwise), ``.npv``,
        ``.time_premium``, ``.leakage`` and ``.inputs``.

    Raises
    ------
    RealOptionInputError
        A negative or non-finite value, cost, life or volatility, or a negative leakage.

    Examples
    --------
    Damodaran's Avonex patent (S = 3.422, K = 2.875 $bn, T = 17, r = 6.7%, variance 0.224):

    >>> res = deferral_option(3.422, 2.875, 17, 0.067, 0.224**0.5)
    >>> round(res.value, 3)
    0.907
    """
    inputs = {
        "pv_cash_flows": pv_cash_flows,
        "investment_cost": investment_cost,
        "years": years,
        "rate": rate,
        "volatility": volatility,
        "leakage": leakage,
        "american": american,
        "steps": steps,
    }
    named = [
        ("pv_cash_flows", pv_cash_flows, {"minimum": 0.0}),
        ("investment_cost", investment_cost, {"minimum": 0.0}),
        ("years", years, {"minimum": 0.0}),
        ("rate", rate, {}),
        ("volatility", volatility, {"minimum": 0.0}),
    ]
    if leakage is not None:
        named.append(("leakage", leakage, {"minimum": 0.0}))
    shape, arrays = _checked(named)
    s, k, t, r, v = arrays[:5]
    if leakage is None:
        with np.errstate(divide="ignore"):
            q = np.where(t > 0, 1.0 / np.where(t > 0, t, 1.0), 0.0)
    else:
        q = arrays[5]
    if american:
        value = np.asarray(binomial(s, k, t, r, v, dividend=q, steps=steps, kind="call"), dtype=float)
    else:
        value = np.asarray(black_scholes(s, k, t, r, v, dividend=q, kind="call"), dtype=float)
    npv = s - k
    return DeferralOptionResult(
        value=finish(value, shape),
        npv=finish(npv, shape),
        time_premium=finish(value - np.maximum(npv, 0.0), shape),
        leakage=finish(q, shape),
        inputs=inputs,
    )


# -------------------------------------------------------------------------------------------------------------
# Renewal option (Pakes 1986)
# -------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RenewalOptionResult:
    """Value of a patent whose holder decides at every renewal date whether to pay the fee.

    Attributes
    ----------
    value : float or numpy.ndarray
        Value today of the income under the optimal keep-or-abandon policy, net of the fees paid (>= 0).
        Shape ``(patents,)``; a float for one patent given as scalars and a 1-D fee row.
    value_always_renew : float or numpy.ndarray
        Expected present value if every fee is paid until expiry (the static income value; may be < 0).
    option_premium : float or numpy.ndarray
        ``value - max(value_always_renew, 0)``: what the right to stop paying adds.
    renewal_probability : numpy.ndarray
        ``(patents, years)``: probability that the fee of each year is paid (NaN after expiry); the
        sudden-death hazard is included.
    renewal_threshold : numpy.ndarray
        ``(patents, years)``: lowest income level (per year) at which the fee of that year is paid on the
        lattice (NaN after expiry or where the fee is never paid); Pakes' cut-offs.
    expected_life_years : float or numpy.ndarray
        Expected number of years the patent is kept in force (sum of the renewal probabilities).
    inputs : dict
        The arguments as given.
    """

    value: float | np.ndarray
    value_always_renew: float | np.ndarray
    option_premium: float | np.ndarray
    renewal_probability: np.ndarray
    renewal_threshold: np.ndarray
    expected_life_years: float | np.ndarray
    inputs: dict[str, Any] = field(repr=False)


def renewal_option_value(
    income: ArrayLike,
    growth: ArrayLike,
    volatility: ArrayLike,
    rate: ArrayLike,
    fees_by_year: ArrayLike,
    *,
    steps_per_year: int = 4,
    decay_hazard: ArrayLike = 0.0,
    life_years: ArrayLike | None = None,
    patent_ids: Sequence[str] | None = None,
) -> RenewalOptionResult:
    r"""Value the renewal option of many patents on one lattice of their income.

    The patent's income ``x`` (per year) follows a geometric random walk with drift ``growth`` and volatility
    ``volatility``, on a recombining binomial lattice with ``steps_per_year`` steps a year (nodes
    ``x0 exp(mu i dt + (2j - i) sigma sqrt(dt))`` with ``mu = growth - sigma^2/2``, and the up-probability
    set so that ``E[x_next] = x exp(growth dt)`` exactly). At the start of every fee year the
    holder pays the fee and keeps the patent, or lets it lapse for good (Pakes 1986, *Econometrica*
    54(4):755-784):

    .. math::

        V_a(x) = \max\{0,\; -c_a + \textstyle\sum_{\text{steps of year } a} e^{-(r+\lambda)\Delta t}
        (x \Delta t + E[V_{next}])\}

    Income accrues at the start-of-step level and is received at the end of the step; ``lambda``
    (``decay_hazard``) is a Poisson rate of sudden obsolescence after which income and fees stop.

    Parameters
    ----------
    income : array_like
        Current annual income attributable to each patent (>= 0). Shape ``(patents,)`` or scalar.
    growth : array_like
        Expected growth rate of that income per year (negative for decline); broadcasts to ``(patents,)``.
    volatility : array_like
        Annual volatility of the income (>= 0).
    rate : array_like
        Discount rate per year, continuously compounded (> -1); use a risk-adjusted rate with real-world
        ``growth``, or the risk-free rate with a risk-neutral drift.
    fees_by_year : array_like
        ``(patents, years)``: the renewal fee due at the start of each year from today (column 0 = due
        now; 0 where nothing is due or the year is already paid). NaN after the patent's last year: the
        first NaN ends the patent's life, and no number may follow it. A 1-D array is one patent.
    steps_per_year : int, keyword-only
        Lattice steps per year (default 4).
    decay_hazard : array_like, keyword-only
        Yearly rate of sudden death of the income (Pakes' "obsolescence"), >= 0. Default 0.
    life_years : array_like, optional, keyword-only
        Remaining life in years (>= 0), rounded to whole lattice steps: income stops there even if the fee
        row goes on, and fees of years starting at or after it are ignored. Default: the fee rows alone set
        the life (whole years).
    patent_ids : sequence of str, optional, keyword-only
        Named in error messages.

    Returns
    -------
    RenewalOptionResult
        Values per patent, renewal probabilities and thresholds per patent and year, and the inputs.

    Raises
    ------
    RealOptionInputError
        Negative income, fee, volatility or hazard; non-finite values; a number after a NaN in a fee row;
        shapes that do not match; a volatility so high for the step that the lattice probability leaves
        (0, 1) (above about 2 x sqrt(steps_per_year); the message names the patent).

    Notes
    -----
    The lattice holds all patents at once as a 2-D array (patents x nodes), stepping back through time:
    the cost is O(patents x (years x steps_per_year)^2), with no Python loop per patent.
    """
    inputs = {
        "income": income,
        "growth": growth,
        "volatility": volatility,
        "rate": rate,
        "fees_by_year": fees_by_year,
        "steps_per_year": steps_per_year,
        "decay_hazard": decay_hazard,
        "life_years": life_years,
        "patent_ids": patent_ids,
    }
    m = _steps_per_year(steps_per_year)
    fees, one_patent = _fee_rows(fees_by_year)
    n, years = fees.shape
    ids = _ids(patent_ids, n)
    scalars, (x0, g, v, r, lam) = _income_inputs(income, growth, volatility, rate, decay_hazard, n, ids)
    alive_year, last_step = _years_in_force(fees, m, life_years, ids)
    fees0 = np.where(alive_year, fees, 0.0)
    p, log_u, log_d = _income_lattice(g, v, m, ids)
    val, static, renew_prob, threshold = _renewal_blocks(
        x0, g, r, lam, p, log_u, log_d, fees0, alive_year, last_step, m
    )
    expected_life = np.nansum(renew_prob, axis=1)

    def out(a: np.ndarray) -> Any:
        return float(a[0]) if (one_patent and scalars) else a

    return RenewalOptionResult(
        value=out(val),
        value_always_renew=out(static),
        option_premium=out(val - np.maximum(static, 0.0)),
        renewal_probability=renew_prob[0] if one_patent else renew_prob,
        renewal_threshold=threshold[0] if one_patent else threshold,
        expected_life_years=out(expected_life),
        inputs=inputs,
    )


def _steps_per_year(steps_per_year: Any) -> int:
    """Lattice steps a year, checked.

    Parameters
    ----------
    steps_per_year : Any
        The caller's ``steps_per_year``.

    Returns
    -------
    int
        The steps a year as a Python int.

    Raises
    ------
    RealOptionInputError
        Not a positive int (a bool is refused).
    """
    if (
        isinstance(steps_per_year, bool)
        or not isinstance(steps_per_year, int | np.integer)
        or steps_per_year < 1
    ):
        raise RealOptionInputError("steps_per_year", f"must be a positive int, got {steps_per_year!r}")
    return int(steps_per_year)


def _fee_rows(fees_by_year: ArrayLike) -> tuple[np.ndarray, bool]:
    """The fee table as a 2-D float array (patents x years), NaN allowed.

    Parameters
    ----------
    fees_by_year : array_like
        The caller's ``fees_by_year``; a 1-D array is one patent.

    Returns
    -------
    fees : numpy.ndarray
        ``(patents, years)``.
    one_patent : bool
        True when a 1-D row was given.

    Raises
    ------
    RealOptionInputError
        A negative or infinite fee, or not 1-D or 2-D.
    """
    try:
        fees = as_array("fees_by_year", fees_by_year, minimum=0.0, allow_nan=True)
    except OptionInputError as exc:
        raise RealOptionInputError(exc.field, exc.reason) from None
    one_patent = fees.ndim == 1
    if one_patent:
        fees = fees[None, :]
    if fees.ndim != 2:
        raise RealOptionInputError("fees_by_year", f"must be 2-D (patents x years), got shape {fees.shape}")
    return fees, one_patent


def _income_inputs(
    income: ArrayLike,
    growth: ArrayLike,
    volatility: ArrayLike,
    rate: ArrayLike,
    decay_hazard: ArrayLike,
    n: int,
    ids: list[str] | None,
) -> tuple[bool, tuple[np.ndarray, ...]]:
    """Income, growth, volatility, rate and hazard checked and broadcast to one entry per patent.

    Parameters
    ----------
    income, growth, volatility, rate, decay_hazard : array_like
        As given to :func:`renewal_option_value`.
    n : int
        Patents (rows of the fee table).
    ids : list of str or None
        Patent ids, named in errors.

    Returns
    -------
    scalars : bool
        True when all five were scalars.
    arrays : tuple of numpy.ndarray
        ``(x0, g, v, r, lam)``, each float of shape ``(n,)``.

    Raises
    ------
    RealOptionInputError
        A value out of range or non-finite, or a shape other than scalar or ``(n,)``.
    """
    named = [
        ("income", income, {"minimum": 0.0}),
        ("growth", growth, {}),
        ("volatility", volatility, {"minimum": 0.0}),
        ("rate", rate, {"minimum": -1.0, "strict": True}),
        ("decay_hazard", decay_hazard, {"minimum": 0.0}),
    ]
    scalars = all(np.ndim(v) == 0 for _, v, _ in named)
    shape, arrays = _checked(named, ids)
    if shape not in ((), (n,)):
        raise RealOptionInputError(
            "income", f"per-patent inputs have shape {shape}, fees_by_year has {n} patent rows"
        )
    return scalars, tuple(np.broadcast_to(a, (n,)).astype(float) for a in arrays)


def _years_in_force(
    fees: np.ndarray, m: int, life_years: ArrayLike | None, ids: list[str] | None
) -> tuple[np.ndarray, np.ndarray]:
    """The fee years each patent is in force and the lattice step at which its income stops.

    Parameters
    ----------
    fees : numpy.ndarray
        ``(patents, years)`` fee table; the first NaN ends a patent's life.
    m : int
        Lattice steps a year.
    life_years : array_like or None
        Remaining life in years, or None for the fee rows alone.
    ids : list of str or None
        Patent ids, named in errors.

    Returns
    -------
    alive_year : numpy.ndarray
        ``(patents, years)`` bool: the year starts before the patent's last step.
    last_step : numpy.ndarray
        Lattice step at which income stops, per patent.

    Raises
    ------
    RealOptionInputError
        A fee after a NaN; a negative or non-finite life, or one of the wrong size.
    """
    n, years = fees.shape
    alive_year = ~np.isnan(fees)
    horizon = alive_year.sum(axis=1)  # years in force from today
    gap = alive_year & (np.arange(years)[None, :] >= horizon[:, None])
    if gap.any():
        row = int(np.argwhere(gap)[0][0])
        raise RealOptionInputError(
            "fees_by_year",
            f"row {row} has a fee after a NaN (the first NaN ends the patent's life)",
            ids[row] if ids else None,
        )
    last_step = horizon * m  # income stops at this lattice step
    if life_years is not None:
        _, (life,) = _checked([("life_years", life_years, {"minimum": 0.0})], ids)
        if life.size not in (1, n):
            raise RealOptionInputError("life_years", f"must be a scalar or have {n} entries, got {life.size}")
        last_step = np.minimum(last_step, np.rint(np.broadcast_to(life, (n,)) * m).astype(int))
    alive_year &= np.arange(years)[None, :] * m < last_step[:, None]
    return alive_year, last_step


def _income_lattice(
    g: np.ndarray, v: np.ndarray, m: int, ids: list[str] | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The up-probability and log step sizes of each patent's income lattice.

    A CRR lattice whose grid drifts with the income (nodes ``x0 e^{mu i dt +- sig}``), ``mu = g - v^2/2``, and
    whose probability matches the mean exactly, ``E[x_next] = x e^{g dt}``: p stays in (0, 1) for any growth.

    Parameters
    ----------
    g, v : numpy.ndarray
        Growth and volatility per patent.
    m : int
        Lattice steps a year.
    ids : list of str or None
        Patent ids, named in errors.

    Returns
    -------
    p, log_u, log_d : numpy.ndarray
        Up-probability and the logs of the up and down factors, per patent.

    Raises
    ------
    RealOptionInputError
        A volatility so high for the step that p leaves (0, 1); the first such patent is named.
    """
    dt = 1.0 / m
    sig = v * np.sqrt(dt)
    mu = g - 0.5 * v * v
    up = np.exp(mu * dt + sig)
    down = np.exp(mu * dt - sig)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(sig > 0, (np.exp(0.5 * v * v * dt) - np.exp(-sig)) / (np.exp(sig) - np.exp(-sig)), 0.5)
    bad = ~((p > 0) & (p < 1))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise RealOptionInputError(
            "volatility",
            f"{v[i]:g} is too high for {m} steps a year (lattice probability {p[i]:.3f}); raise steps_per_year",
            ids[i] if ids else None,
        )
    return p, np.log(up), np.log(down)


def _renewal_blocks(
    x0: np.ndarray,
    g: np.ndarray,
    r: np.ndarray,
    lam: np.ndarray,
    p: np.ndarray,
    log_u: np.ndarray,
    log_d: np.ndarray,
    fees0: np.ndarray,
    alive_year: np.ndarray,
    last_step: np.ndarray,
    m: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Run :func:`_renewal_block` over blocks of patents small enough to bound the lattice's memory.

    Parameters
    ----------
    x0, g, r, lam, p, log_u, log_d : numpy.ndarray
        Per-patent income, growth, rate, hazard, up-probability and log step sizes.
    fees0 : numpy.ndarray
        ``(patents, years)`` fees, 0 where none is due or the patent is no longer in force.
    alive_year : numpy.ndarray
        ``(patents, years)`` bool, the years in force.
    last_step : numpy.ndarray
        Lattice step at which income stops, per patent.
    m : int
        Lattice steps a year.

    Returns
    -------
    value, always_renew, renewal_probability, threshold : numpy.ndarray
        Option values and always-renew values per patent; renewal probabilities and thresholds per patent and
        year (NaN where no decision is taken).
    """
    n, years = fees0.shape
    steps = years * m
    val, static = np.empty(n), np.empty(n)
    renew_prob = np.full((n, years), np.nan)
    threshold = np.full((n, years), np.nan)
    block = max(1, _RENEWAL_BLOCK_FLOATS // ((steps + 1) * (years + 4)))
    for start in range(0, n, block):
        sl = slice(start, start + block)
        val[sl], static[sl], renew_prob[sl], threshold[sl] = _renewal_block(
            x0[sl],
            g[sl],
            r[sl],
            lam[sl],
            p[sl],
            log_u[sl],
            log_d[sl],
            fees0[sl],
            alive_year[sl],
            last_step[sl],
            m,
        )
    return val, static, renew_prob, threshold


@dataclass(frozen=True)
class RenewalFees:
    """Renewal fees of a portfolio laid out by year from the valuation date, for :func:`renewal_option_value`.

    Attributes
    ----------
    fees_by_year : numpy.ndarray
        ``(patents, years)``: column ``y`` holds the fees falling due about ``y`` years after ``as_of`` (from
        ``y - 1/2`` to ``y + 1/2`` years; overdue fees still in grace are in column 0); NaN after the last
        column that can hold a fee before expiry, on expired patents, and on rows that cannot be used (see
        ``usable``).
    currency : numpy.ndarray
        Fee currency per patent (``""`` when the office is not modelled).
    usable : numpy.ndarray
        False where the office's fees are not modelled or the remaining life is unknown; such a row is all NaN
        and must not be valued by the renewal option (it would read as "expired").
    remaining_life_years : numpy.ndarray
        From :func:`ipvalue.terms.remaining_life`.
    patent_ids : list of str
        Row labels, in the portfolio's order.
    as_of : str
        The valuation date used.
    """

    fees_by_year: np.ndarray
    currency: np.ndarray
    usable: np.ndarray
    remaining_life_years: np.ndarray
    patent_ids: list[str]
    as_of: str


def renewal_fee_matrix(portfolio: Any, as_of: Any, *, max_years: int = 25) -> RenewalFees:
    """Lay out the renewal fees of a portfolio frame by year from ``as_of`` (vectorised over patents).

    Built from :func:`ipvalue.terms.renewal_fees_due` over growing windows (one vectorised call per year of
    the longest remaining life), so the fee tables, grace periods, ``fees_paid_through`` and expiry rules are
    those of :mod:`ipvalue.terms`. A fee due ``t`` years after ``as_of`` goes to column ``round(t)`` (overdue
    fees in grace to column 0): the renewal lattice decides on it at the nearest year boundary, at most half a
    year from its due date. Pass ``remaining_life_years`` on as ``life_years`` to
    :func:`renewal_option_value` so that income stops at expiry.

    Parameters
    ----------
    portfolio : pandas.DataFrame
        Portfolio frame (as from :func:`ipvalue.read_portfolio`).
    as_of : date or str
        Valuation date.
    max_years : int, keyword-only
        Cap on the number of fee years laid out (default 25).

    Returns
    -------
    RenewalFees
        ``fees_by_year`` ready for :func:`renewal_option_value`, with ``usable``, ``currency`` and the remaining
        life per patent.
    """
    from ipvalue import terms  # the facts layer; imported on use

    life = np.asarray(
        pd.Series(terms.remaining_life(portfolio, as_of)).to_numpy(dtype=float, na_value=np.nan)
    )
    n = life.size
    finite = life[np.isfinite(life)]
    years = int(min(max_years, (np.ceil(finite.max()) if finite.size else 0) + 1))
    cumulative = np.zeros((n, years + 1))
    currency = np.full(n, "", dtype=object)
    for y in range(years):
        # fees due up to (y + 1/2) years after as_of, less one day: consecutive windows do not overlap
        due = terms.renewal_fees_due(portfolio, as_of, years=((y + 0.5) * 365.25 - 1.0) / 365.25)
        cumulative[:, y + 1] = due["renewal_fees"].to_numpy(dtype=float, na_value=np.nan)
        if y == 0:
            currency = due["fee_currency"].to_numpy(dtype=object)
    fees = np.diff(cumulative, axis=1)
    usable = np.isfinite(life) & np.isfinite(cumulative[:, 1:]).all(axis=1)
    last = np.ceil(np.where(usable, life, -1.0))  # columns up to ceil(life) can hold a fee before expiry
    in_force = np.arange(years)[None, :] <= last[:, None]
    fees = np.where(in_force & usable[:, None] & (life[:, None] > 0), fees, np.nan)
    ids = [str(i) for i in portfolio.index]
    as_of_text = as_of.isoformat() if hasattr(as_of, "isoformat") else str(as_of)
    return RenewalFees(fees, currency, usable, life, ids, as_of_text)


#: Working memory of one block of patents on the renewal lattice, in floats.
_RENEWAL_BLOCK_FLOATS = 4_000_000


def _renewal_block(
    x0: np.ndarray, g: np.ndarray, r: np.ndarray, lam: np.ndarray, p: np.ndarray, log_u: np.ndarray,
    log_d: np.ndarray, fees0: np.ndarray, alive_year: np.ndarray, last_step: np.ndarray, m: int,
) -> tuple[np.ndarray, ...]:  # fmt: skip
    """Backward pass (values and decisions) and forward pass (renewal probabilities) for a block of patents."""
    n, years = fees0.shape
    dt = 1.0 / m
    steps = years * m
    disc = np.exp(-(r + lam) * dt)[:, None]
    p_col = p[:, None]
    log_u, log_d = log_u[:, None], log_d[:, None]
    last_step = last_step[:, None]

    # node j of step i (j up-moves): x0 d^i (u/d)^j
    ratio_pow = np.exp(np.arange(steps + 1)[None, :] * (log_u - log_d))

    def income_at(i: int) -> np.ndarray:  # (n, i+1)
        return (x0[:, None] * np.exp(i * log_d)) * ratio_pow[:, : i + 1]

    value = np.zeros((n, steps + 1))
    keep = {}
    for i in range(steps - 1, -1, -1):
        cont = income_at(i)
        cont *= dt
        cont += p_col * value[:, 1 : i + 2]
        cont += (1 - p_col) * value[:, : i + 1]
        cont *= disc
        cont *= i < last_step
        if i % m == 0:
            y = i // m
            net = cont - fees0[:, y : y + 1]
            keep[y] = (net > 0) & alive_year[:, y : y + 1]
            cont = np.where(keep[y], net, 0.0)
        value[:, : i + 1] = cont
    val = value[:, 0]

    # Forward pass: probability of reaching each node alive, to get the renewal probabilities.
    renew_prob = np.full((n, years), np.nan)
    threshold = np.full((n, years), np.nan)
    prob = np.zeros((n, steps + 1))
    prob[:, 0] = 1.0
    survive = np.exp(-lam * dt)[:, None]
    for i in range(steps):
        if i % m == 0:
            y = i // m
            k = keep[y]
            prob[:, : i + 1] *= k
            renew_prob[:, y] = np.where(alive_year[:, y], prob[:, : i + 1].sum(axis=1), np.nan)
            levels = np.where(k, income_at(i), np.inf).min(axis=1)
            threshold[:, y] = np.where(np.isfinite(levels), levels, np.nan)
        nxt = np.zeros((n, i + 2))
        nxt[:, : i + 1] += (1 - p_col) * prob[:, : i + 1]
        nxt[:, 1 : i + 2] += p_col * prob[:, : i + 1]
        prob[:, : i + 2] = nxt * survive

    # Always renew: E[x_i] = x0 e^{g i dt} on this lattice, so the static value is a closed sum.
    i_steps = np.arange(steps)[None, :]
    in_force = i_steps < last_step
    flows = x0[:, None] * np.exp(g[:, None] * i_steps * dt) * dt * disc ** (i_steps + 1)
    fee_disc = np.exp(-(r + lam)[:, None] * np.arange(years)[None, :])
    static = (flows * in_force).sum(axis=1) - (fees0 * fee_disc).sum(axis=1)
    return val, static, renew_prob, threshold


# -------------------------------------------------------------------------------------------------------------
# Staged development with abandonment and failure (Schwartz 2004)
# -------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StagedDevelopmentResult:
    """Value of a patent still to be developed, with the option to abandon (least-squares Monte Carlo).

    Attributes
    ----------
    value : float or numpy.ndarray
        Value today with the option to abandon development at every step (>= 0).
    stderr : float or numpy.ndarray
        Monte Carlo standard error of ``value`` (pathwise, antithetic pairs averaged).
    value_committed : float or numpy.ndarray
        Value if development must be completed whatever happens (may be negative).
    abandonment_value : float or numpy.ndarray
        ``value - value_committed``.
    expected_completion_years : float or numpy.ndarray
        Mean completion time of the simulated paths that complete before expiry (NaN if none does).
    completion_probability : float or numpy.ndarray
        Share of paths completing before expiry when development is never abandoned; failure (the Poisson
        rate) is not in this share: multiply by ``exp(-failure_rate * expected_completion_years)`` roughly.
    paths : int
        Paths per patent.
    dt : float
        Time step in years.
    seed : int or None
        The seed (None when a Generator was passed).
    inputs : dict
        The arguments as given.
    """

    value: float | np.ndarray
    stderr: float | np.ndarray
    value_committed: float | np.ndarray
    abandonment_value: float | np.ndarray
    expected_completion_years: float | np.ndarray
    completion_probability: float | np.ndarray
    paths: int
    dt: float
    seed: int | None
    inputs: dict[str, Any] = field(repr=False)


#: Working memory for the simulated paths of one block of patents, in floats.
_STAGED_BLOCK_FLOATS = 6_000_000


def staged_development_value(
    cost_to_complete: ArrayLike,
    cash_flow: ArrayLike,
    years: ArrayLike,
    rate: ArrayLike,
    *,
    max_investment_rate: ArrayLike,
    cash_flow_volatility: ArrayLike,
    cost_volatility: ArrayLike = 0.0,
    cash_flow_drift: ArrayLike = 0.0,
    correlation: ArrayLike = 0.0,
    failure_rate: ArrayLike = 0.0,
    terminal_multiple: ArrayLike = 0.0,
    dt: float = 0.25,
    paths: int = 10_000,
    rng: int | np.random.Generator | None = 0,
    patent_ids: Sequence[str] | None = None,
    degree: int = 3,
) -> StagedDevelopmentResult:
    """Value pending or pre-commercial patents as staged R&D with abandonment (Schwartz 2004).

    Schwartz (2004), "Patents and R&D as Real Options", *Economic Notes* 33(1):23-54: the firm invests at the
    rate ``I = max_investment_rate`` until the expected cost to completion ``K`` reaches zero; the cost is
    uncertain, ``dK = -I dt + sigma_K sqrt(I K) dz``. The cash flow the product will earn, ``C`` per year,
    follows ``dC = mu C dt + phi C dw`` with ``corr(dz, dw) = rho`` (``mu`` risk-neutral). Once complete, the
    patent earns ``C`` until it expires at ``T`` and is then worth ``M C_T`` (``terminal_multiple``). While
    investing, a catastrophic failure may strike at the Poisson rate ``lambda``; it is priced by discounting
    the investment phase at ``r + lambda``. At every step the firm may abandon: it does so when the
    regression estimate of the continuation value is below the next investment ``I dt`` (Longstaff-Schwartz).

    Parameters
    ----------
    cost_to_complete : array_like
        K0: expected remaining development cost (>= 0; 0 means already complete).
    cash_flow : array_like
        C0: current estimate of the yearly cash flow once complete (>= 0).
    years : array_like
        T: years to patent expiry (> 0). Rounded to whole steps of ``dt``.
    rate : array_like
        Risk-free rate (decimal).
    max_investment_rate : array_like, keyword-only
        I: development spending per year (> 0).
    cash_flow_volatility : array_like, keyword-only
        phi: volatility of the cash-flow estimate (>= 0).
    cost_volatility : array_like, keyword-only
        sigma_K: cost uncertainty (>= 0). Default 0.
    cash_flow_drift : array_like, keyword-only
        mu: risk-neutral drift of the cash flow (Schwartz's ``alpha - eta``). Default 0.
    correlation : array_like, keyword-only
        rho, in [-1, 1]. Default 0.
    failure_rate : array_like, keyword-only
        lambda: yearly Poisson rate of catastrophic failure during development (>= 0). Default 0.
    terminal_multiple : array_like, keyword-only
        M: value at expiry as a multiple of the last cash flow (>= 0). Default 0.
    dt : float, keyword-only
        Time step in years (default 0.25, as in Schwartz).
    paths : int, keyword-only
        Paths per patent (even; half are antithetic).
    rng : int, numpy.random.Generator or None, keyword-only
        Seed. With ``patent_ids`` it must be an int: each patent then draws from its own stream
        (``ipvalue._random.patent_rng(seed, patent_id, "staged_development")``), so its value does not
        depend on the rest of the portfolio. Without ``patent_ids`` every patent uses the same draws.
    patent_ids : sequence of str, optional, keyword-only
        One id per patent (after broadcasting); named in error messages.
    degree : int, keyword-only
        Total degree of the regression polynomial in (K/K0, C/C0) (default 3: ten terms).

    Returns
    -------
    StagedDevelopmentResult
        ``.value`` with the abandonment option, ``.value_committed`` without it, ``.stderr`` and more.

    Raises
    ------
    RealOptionInputError
        Negative costs, flows, volatilities or rates of failure; ``years`` <= 0; a correlation outside
        [-1, 1]; an int seed missing when ``patent_ids`` are given; odd ``paths``.

    Notes
    -----
    Cost: O(patents x paths x steps). With 10,000 paths and 40-80 steps, about 0.1-0.3 s per patent on one
    core (``benchmarks/results/kernels.md``); value the pending patents only, or use fewer paths.
    """
    inputs: dict[str, Any] = {
        "cost_to_complete": cost_to_complete,
        "cash_flow": cash_flow,
        "years": years,
        "rate": rate,
        "max_investment_rate": max_investment_rate,
        "cash_flow_volatility": cash_flow_volatility,
        "cost_volatility": cost_volatility,
        "cash_flow_drift": cash_flow_drift,
        "correlation": correlation,
        "failure_rate": failure_rate,
        "terminal_multiple": terminal_multiple,
        "dt": dt,
        "paths": paths,
        "rng": rng if not isinstance(rng, np.random.Generator) else "Generator",
        "patent_ids": patent_ids,
        "degree": degree,
    }
    _check_staged_settings(paths, dt, degree)
    named = [(name, inputs[name], bounds) for name, bounds in _STAGED_BOUNDS]
    scalars = all(np.ndim(v) == 0 for _, v, _ in named)
    shape, ids, arrays = _staged_arrays(named, patent_ids)
    seed, gen = _staged_seed(rng, ids)
    value, err, committed, t_done, p_done = _staged_simulate(
        arrays, ids, seed, gen, dt=float(dt), paths=int(paths), degree=int(degree)
    )

    def out(a: np.ndarray) -> Any:
        return float(a.reshape(())) if scalars else a.reshape(shape)

    return StagedDevelopmentResult(
        value=out(value),
        stderr=out(err),
        value_committed=out(committed),
        abandonment_value=out(value - committed),
        expected_completion_years=out(t_done),
        completion_probability=out(p_done),
        paths=int(paths),
        dt=float(dt),
        seed=seed,
        inputs=inputs,
    )


#: The array inputs of :func:`staged_development_value` in the order they are checked, with their bounds.
_STAGED_BOUNDS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("cost_to_complete", {"minimum": 0.0}),
    ("cash_flow", {"minimum": 0.0}),
    ("years", {"minimum": 0.0, "strict": True}),
    ("rate", {}),
    ("max_investment_rate", {"minimum": 0.0, "strict": True}),
    ("cash_flow_volatility", {"minimum": 0.0}),
    ("cost_volatility", {"minimum": 0.0}),
    ("cash_flow_drift", {}),
    ("correlation", {"minimum": -1.0}),
    ("failure_rate", {"minimum": 0.0}),
    ("terminal_multiple", {"minimum": 0.0}),
)


def _check_staged_settings(paths: Any, dt: Any, degree: Any) -> None:
    """Check the simulation settings of :func:`staged_development_value`.

    Parameters
    ----------
    paths : Any
        Paths per patent: an even int >= 4.
    dt : Any
        Time step in years: a number in (0, 1].
    degree : Any
        Degree of the regression polynomial: an int from 1 to 5.

    Raises
    ------
    RealOptionInputError
        The first setting out of its range, named.
    """
    if isinstance(paths, bool) or not isinstance(paths, int | np.integer) or paths < 4 or paths % 2:
        raise RealOptionInputError("paths", f"must be an even int >= 4, got {paths!r}")
    if not isinstance(dt, int | float) or isinstance(dt, bool) or not (0 < dt <= 1):
        raise RealOptionInputError("dt", f"must be a number in (0, 1], got {dt!r}")
    if isinstance(degree, bool) or not isinstance(degree, int | np.integer) or not (1 <= degree <= 5):
        raise RealOptionInputError("degree", f"must be an int from 1 to 5, got {degree!r}")


def _staged_arrays(
    named: Sequence[tuple[str, Any, dict[str, Any]]], patent_ids: Sequence[str] | None
) -> tuple[tuple[int, ...], list[str] | None, list[np.ndarray]]:
    """Check and broadcast the array inputs of :func:`staged_development_value`.

    Parameters
    ----------
    named : sequence of (str, Any, dict)
        ``(name, value, bounds)`` for every array input, in the order of ``_STAGED_BOUNDS``.
    patent_ids : sequence of str or None
        One id per patent, named in errors.

    Returns
    -------
    shape : tuple of int
        The broadcast shape.
    ids : list of str or None
        The patent ids as strings.
    arrays : list of numpy.ndarray
        The inputs, flat, in the order of ``named``.

    Raises
    ------
    RealOptionInputError
        A value out of its bounds or a correlation above 1, naming the patent when ids are given.
    """
    probe_ids = list(patent_ids) if patent_ids is not None else None
    shape, arrays = _checked(named, probe_ids)
    n = int(np.prod(shape)) if shape else 1
    ids = _ids(patent_ids, n)
    rho = arrays[8]
    if (rho > 1).any():
        i = int(np.flatnonzero(rho > 1)[0])
        raise RealOptionInputError(
            "correlation", f"must be <= 1; entry {i} is {rho[i]!r}", ids[i] if ids else None
        )
    return shape, ids, arrays


def _staged_seed(
    rng: int | np.random.Generator | None, ids: list[str] | None
) -> tuple[int | None, np.random.Generator | None]:
    """The seed and the shared Generator of a staged-development run.

    Parameters
    ----------
    rng : int, numpy.random.Generator or None
        As given to :func:`staged_development_value`.
    ids : list of str or None
        Patent ids; with ids every patent draws from its own stream and no shared Generator is made.

    Returns
    -------
    seed : int or None
        The seed (None when a Generator was passed).
    gen : numpy.random.Generator or None
        The Generator whose draws every patent shares, or None with patent ids.

    Raises
    ------
    RealOptionInputError
        Patent ids given without an int seed.
    """
    if ids is None:
        return to_seed_and_rng(rng)
    if isinstance(rng, np.random.Generator) or rng is None:
        raise RealOptionInputError(
            "rng", "must be an int seed when patent_ids are given (one stream per patent)"
        )
    seed, _ = to_seed_and_rng(rng)
    return seed, None


def _staged_simulate(
    arrays: list[np.ndarray],
    ids: list[str] | None,
    seed: int | None,
    gen: np.random.Generator | None,
    *,
    dt: float,
    paths: int,
    degree: int,
) -> tuple[np.ndarray, ...]:
    """Simulate and roll back every patent, a block of patents at a time.

    Parameters
    ----------
    arrays : list of numpy.ndarray
        The checked flat inputs, in the order of ``_STAGED_BOUNDS``.
    ids : list of str or None
        Patent ids; with ids each patent draws from its own stream seeded by ``seed``.
    seed : int or None
        The seed of the per-patent streams.
    gen : numpy.random.Generator or None
        Without ids, one block of draws from it is shared by every patent.
    dt : float
        Time step in years.
    paths : int
        Paths per patent (even).
    degree : int
        Degree of the regression polynomial.

    Returns
    -------
    tuple of numpy.ndarray
        Value, standard error, committed value, mean completion years and completion probability per patent.
    """
    k0, c0, t, r, i_rate, phi, sig_k, mu, rho, lam, mult = arrays
    n = k0.size
    half = paths // 2
    n_steps = np.maximum(1, np.rint(t / dt).astype(int))
    s_max = int(n_steps.max()) if n else 1
    # Common draws when no patent ids: one (steps, half, 2) block shared by every patent.
    shared = gen.standard_normal((s_max, half, 2)) if gen is not None and n else None
    pid: list[str] = ids if ids is not None else []

    def draws(idx: np.ndarray) -> np.ndarray:
        if shared is not None:
            return np.broadcast_to(shared, (idx.size, *shared.shape))
        return np.stack(
            [
                patent_rng(int(seed or 0), pid[i], "staged_development").standard_normal((s_max, half, 2))
                for i in idx
            ]
        )

    value, err, committed, t_done, p_done = (np.empty(n) for _ in range(5))
    block = max(1, _STAGED_BLOCK_FLOATS // (2 * paths * (s_max + 1)))
    for start in range(0, n, block):
        idx = np.arange(start, min(n, start + block))
        z = draws(idx)
        res = _staged_block(
            z, k0[idx], c0[idx], n_steps[idx], r[idx], i_rate[idx], phi[idx], sig_k[idx], mu[idx], rho[idx],
            lam[idx], mult[idx], dt, degree,
        )  # fmt: skip
        value[idx], err[idx], committed[idx], t_done[idx], p_done[idx] = res
    return value, err, committed, t_done, p_done


def _poly_basis(k: np.ndarray, c: np.ndarray, degree: int) -> np.ndarray:
    """All monomials k^a c^b with a + b <= degree, stacked on a last axis."""
    k_pow, c_pow = [np.ones_like(k)], [np.ones_like(c)]
    for _ in range(degree):
        k_pow.append(k_pow[-1] * k)
        c_pow.append(c_pow[-1] * c)
    pairs = [(d - e, e) for d in range(degree + 1) for e in range(d + 1)]
    out = np.empty((*k.shape, len(pairs)))
    for col, (a, b) in enumerate(pairs):
        np.multiply(k_pow[a], c_pow[b], out=out[..., col])
    return out


def _staged_block(
    z: np.ndarray, k0: np.ndarray, c0: np.ndarray, n_steps: np.ndarray, r: np.ndarray, i_rate: np.ndarray,
    phi: np.ndarray, sig_k: np.ndarray, mu: np.ndarray, rho: np.ndarray, lam: np.ndarray, mult: np.ndarray,
    dt: float, degree: int,
) -> tuple[np.ndarray, ...]:  # fmt: skip
    """Simulate and roll back one block of patents. ``z``: (patents, steps, half, 2) standard normals."""
    b, s_max, half, _ = z.shape
    z = np.concatenate([z, -z], axis=2)  # antithetic: (b, steps, paths, 2)
    z_k = z[..., 0]
    z_c = rho[:, None, None] * z[..., 0] + np.sqrt(1 - rho**2)[:, None, None] * z[..., 1]
    # cost to completion: dK = -I dt + sigma_K sqrt(I K dt) z, absorbed at 0
    k_path = np.empty((b, s_max + 1, 2 * half))
    k_path[:, 0] = k0[:, None]
    ii = i_rate[:, None]
    for j in range(s_max):
        kj = k_path[:, j]
        step = -ii * dt + sig_k[:, None] * np.sqrt(ii * np.maximum(kj, 0.0) * dt) * z_k[:, j]
        k_path[:, j + 1] = np.where(kj > 0, np.maximum(kj + step, 0.0), 0.0)
    # cash-flow estimate: geometric Brownian motion
    log_c = np.cumsum(
        ((mu - 0.5 * phi**2) * dt)[:, None, None] + (phi * np.sqrt(dt))[:, None, None] * z_c, axis=1
    )
    c_path = np.empty_like(k_path)
    c_path[:, 0] = c0[:, None]
    c_path[:, 1:] = c0[:, None, None] * np.exp(log_c)

    last = n_steps[:, None]  # expiry step per patent
    c_at_t = np.take_along_axis(c_path, n_steps[:, None, None], axis=1)[:, 0]
    k_at_t = np.take_along_axis(k_path, n_steps[:, None, None], axis=1)[:, 0]
    y_opt = np.where(k_at_t <= 0, mult[:, None] * c_at_t, 0.0)  # pathwise value at expiry
    y_com = y_opt.copy()
    disc_r = np.exp(-r * dt)[:, None]
    disc_rl = np.exp(-(r + lam) * dt)[:, None]
    k_scale = np.where(k0 > 0, k0, 1.0)[:, None]
    c_scale = np.where(c0 > 0, c0, 1.0)[:, None]
    for j in range(s_max - 1, -1, -1):
        live = j < last  # (b, 1): step j is before this patent's expiry
        kj, cj = k_path[:, j], c_path[:, j]
        done = kj <= 0
        producing = cj * dt + disc_r * y_opt
        producing_c = cj * dt + disc_r * y_com
        hold_opt = disc_rl * y_opt - ii * dt
        hold_com = disc_rl * y_com - ii * dt
        if j > 0:
            investing = (~done).astype(float)
            fitted = batched_regression(
                _poly_basis(kj / k_scale, cj / c_scale, degree), disc_rl * y_opt, investing
            )
            with np.errstate(invalid="ignore"):
                # too few investing paths for a regression: decide on the realised value instead
                estimate = np.where(np.isnan(fitted), disc_rl * y_opt, fitted)
            abandon = estimate - ii * dt < 0
            invest_opt = np.where(abandon, 0.0, hold_opt)
        else:
            invest_opt = hold_opt  # at time 0 the decision is taken on the mean, below
        new_opt = np.where(done, producing, invest_opt)
        new_com = np.where(done, producing_c, hold_com)
        y_opt = np.where(live, new_opt, y_opt)
        y_com = np.where(live, new_com, y_com)
    pairs_opt = 0.5 * (y_opt[:, :half] + y_opt[:, half:])
    pairs_com = 0.5 * (y_com[:, :half] + y_com[:, half:])
    mean_opt = pairs_opt.mean(axis=1)
    started = k0 > 0
    val = np.where(started, np.maximum(mean_opt, 0.0), mean_opt)
    err = np.where(val > 0, pairs_opt.std(axis=1, ddof=1) / np.sqrt(half), 0.0)
    committed = pairs_com.mean(axis=1)
    # completion statistics (never abandoning): K is absorbed at 0, so the count of positive K is the
    # completion step
    done_steps = (k_path > 0).sum(axis=1)
    completes = done_steps <= last
    count = completes.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_t = np.where(count > 0, (completes * done_steps).sum(axis=1) * dt / count, np.nan)
    return val, err, committed, mean_t, completes.mean(axis=1)


def deferral_lattice(
    pv_cash_flows: np.ndarray,
    investment_cost: np.ndarray,
    years: np.ndarray,
    rate: float,
    volatility: np.ndarray,
    *,
    steps: int = 100,
    block: int = 512,
) -> np.ndarray:
    """The deferral option with early exercise on a Cox-Ross-Rubinstein lattice, leakage ``1 / years``.

    Every operation is elementwise per patent (no shortcut chosen from the batch), so a patent's value is the same
    to the last bit whatever other patents share its call: the portfolio's chunking never moves a number. The
    value is at least ``max(S - K, 0)``: exercise is checked at every node, the root included.

    Parameters
    ----------
    pv_cash_flows, investment_cost, years, volatility : numpy.ndarray
        ``S``, ``K``, ``T`` and ``sigma`` per patent (``T > 0``).
    rate : float
        Risk-free rate (continuous).
    steps : int
        Lattice steps.
    block : int
        Patents per block (memory bound only).

    Returns
    -------
    numpy.ndarray
        The option value per patent.
    """
    s = np.asarray(pv_cash_flows, dtype=float)
    k = np.asarray(investment_cost, dtype=float)
    t = np.asarray(years, dtype=float)
    v = np.asarray(volatility, dtype=float)
    out = np.empty(s.shape)
    # node j of level i has spot S u^(2j - i): the powers u^e, e = -steps..steps, are taken once per patent and
    # level i reads every other one of e = -i..i (the same exp of the same product as computing them per level)
    e = np.arange(-steps, steps + 1, dtype=float)
    # the nodes of a level are rows and the patents of a block columns (level x patent): each level's slice is
    # one contiguous run of memory, which numpy walks about three times faster than a column slice of every
    # patent's row; the operations and their order per element are those of one patent's lattice, unchanged
    for start in range(0, s.size, block):
        sl = slice(start, start + block)
        dt = t[None, sl] / steps
        q = 1.0 / t[None, sl]
        up = np.exp(v[None, sl] * np.sqrt(dt))
        pu = (np.exp((rate - q) * dt) - 1.0 / up) / (up - 1.0 / up)
        pu = np.clip(pu, 0.0, 1.0)
        pd_ = 1.0 - pu
        disc = np.exp(-rate * dt)
        log_u = np.log(up)
        spot = s[None, sl] * np.exp(e[:, None] * log_u)  # (2 steps + 1, block): S u^e
        kk = k[None, sl]
        val = np.maximum(spot[::2] - kk, 0.0)  # level `steps`: e = -steps, -steps + 2, ..., steps
        up_part = np.empty_like(val)
        exercise = np.empty_like(val)
        for i in range(steps - 1, -1, -1):
            # in place, in the order of disc * (pu * V_up + (1 - pu) * V_down), then max(continue, S - K)
            a_, b_, x_ = up_part[: i + 1], val[: i + 1], exercise[: i + 1]
            np.multiply(pu, val[1 : i + 2], out=a_)
            np.multiply(pd_, b_, out=b_)
            np.add(a_, b_, out=b_)
            np.multiply(disc, b_, out=b_)
            np.subtract(spot[steps - i : steps + i + 1 : 2], kk, out=x_)
            np.maximum(b_, x_, out=b_)
        out[sl] = val[0]
    return out


def continuous_rate(annual_rate: float) -> float:
    """The continuously compounded rate ``ln(1 + r)`` of an annual (effective) rate ``r``.

    The valuation's ``risk_free`` is an annual rate (the build-up's risk-free component, compounded yearly by the
    income and cost approaches, ``(1 + r) ** -t``); the option formulas discount with ``exp(-r t)``, so they take
    its continuous equivalent (Hull, *Options, Futures, and Other Derivatives*, ch. 4, conversion
    ``R_c = m ln(1 + R_m / m)``, ``m = 1``; the Black-Scholes-Merton ``r`` is continuously compounded, ch. 15).
    """
    return float(np.log1p(float(annual_rate)))


def option_values(
    econ: Economics, facts: Facts, income: IncomeValues, a: dict[str, Any], notes: Notes
) -> np.ndarray:
    """``value_option``: the deferral option of each pre-commercial patent with revenue and a launch cost.

    ``S`` is the income value attributable to the patent (its share of the product line), ``K`` its share of the
    launch cost, ``T`` the income period, leakage ``1 / T``; priced with early exercise on the lattice
    (:func:`deferral_lattice`), so never below ``max(S - K, 0)``. 0 without a right; NaN where it does not apply.
    """
    dead, pre = facts.dead, econ.situation == "pre_commercial"
    pv, k, period, vol = income.present_value, econ.launch_cost, econ.period, econ.volatility
    value = np.where(dead, 0.0, np.nan)
    ok = pre & income.has_revenue & np.isfinite(k) & (period > 0) & np.isfinite(pv)
    steps = int(a["option_steps"])
    if ok.any():
        r_c = continuous_rate(a["risk_free"])
        value[ok] = deferral_lattice(pv[ok], k[ok], period[ok], r_c, vol[ok], steps=steps)
        notes.add(
            ok,
            f"option: deferral call with early exercise (binomial lattice, {steps} steps) on the "
            f"income value attributable to the patent, strike = its share of the launch cost, T = income period, "
            f"risk-free {a['risk_free']:.2%} a year ({r_c:.4%} continuous), leakage 1/T",
        )
        if notes.wanted:  # (a text for every row: not written when the notes are not kept)
            notes.add(
                ok & ~econ.volatility_given,
                "volatility default " + fmt_pct(vol, 0) + " (field " + econ.field + ")",
            )
    notes.add(
        pre & ~dead & income.has_revenue & ~np.isfinite(k),
        "option: no commercialization_cost, method not applied",
    )
    return value
