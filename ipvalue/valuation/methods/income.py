"""Income methods: relief-from-royalty, profit split (分成法), excess earnings, with-and-without.

The kernels below, and :func:`income_values`, the valuation stage that applies them to every patent of a chunk.

Every kernel takes a cash-flow base (revenue or profit) shaped ``(years,)`` for one patent or ``(patents, years)``
for many, and rates that broadcast against it:

* a scalar applies to every patent and year;
* an array with one dimension fewer than the base applies per patent (a trailing year axis is added);
* an array with the same number of dimensions as the base applies per patent and year (a declining share, say).

Year ``t`` (1-based) is discounted at ``(1 + r) ** -t``, or ``(1 + r) ** -(t - 0.5)`` with ``mid_year=True``.
A zero in the base is a year without income (after the income period ends, for instance); NaN is a gap and an error.
The result's ``.value`` is a float for one patent and an array for many; ``.cash_flows`` is built on demand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # the stage reads the economics stage's result; economics imports the kernels above
    from ipvalue.valuation.asof import Facts
    from ipvalue.valuation.economics import Economics
    from ipvalue.valuation.notes import Notes

__all__ = [
    "IncomeResult",
    "relief_from_royalty",
    "profit_split",
    "equivalent_investment_share",
    "tab_factor",
    "excess_earnings",
    "contributory_asset_charge",
    "with_and_without",
    "income_period",
    "period_weights",
    "exponential_decay",
    "linear_step_down",
    "annuity_factor",
    "IncomeValues",
    "income_values",
]


# --------------------------------------------------------------------------------------------- helpers


def _base(x: Any, name: str, *, allow_negative: bool) -> np.ndarray:
    arr = np.asarray(x, dtype=float)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim > 2:
        raise ValueError(f"{name} must be shaped (years,) or (patents, years), got shape {arr.shape}")
    bad = np.isnan(arr)
    if bad.any():
        idx = np.argwhere(bad)[0]
        where = f"year {idx[-1] + 1}" + (f" of row {idx[0]}" if arr.ndim == 2 else "")
        raise ValueError(f"{name} has a gap (NaN) at {where}: give every year a number (0 for no income)")
    if np.isinf(arr).any():
        raise ValueError(f"{name} must be finite")
    if not allow_negative and (arr < 0).any():
        idx = np.argwhere(arr < 0)[0]
        where = f"year {idx[-1] + 1}" + (f" of row {idx[0]}" if arr.ndim == 2 else "")
        raise ValueError(f"{name} must not be negative (at {where})")
    return arr


def _rate(
    x: Any, base_ndim: int | None, name: str, *, low: float, high: float, high_open: bool = False
) -> np.ndarray:
    """Check a rate lies in [low, high] (or [low, high)) and align it with a base of ``base_ndim`` dimensions."""
    arr = np.asarray(x, dtype=float)
    bad = np.isnan(arr) | (arr < low) | ((arr >= high) if high_open else (arr > high))
    if bad.any():
        pos = np.argwhere(bad)[0] if arr.ndim else None
        got = arr[tuple(pos)] if pos is not None else arr
        where = f" at index {pos.tolist()}" if pos is not None else ""
        bracket = ")" if high_open else "]"
        raise ValueError(f"{name} must be a number in [{low}, {high}{bracket}{where}, got {float(got)!r}")
    if base_ndim is None or arr.ndim == 0:
        return arr
    if arr.ndim == base_ndim - 1:
        return arr[..., None]
    if arr.ndim == base_ndim:
        return arr
    raise ValueError(f"{name} has shape {arr.shape}, which does not broadcast against the cash-flow base")


def _years(n_years: int, mid_year: bool) -> np.ndarray:
    t = np.arange(1, n_years + 1, dtype=float)
    return t - 0.5 if mid_year else t


def _discount_factors(rate: np.ndarray, n_years: int, mid_year: bool) -> np.ndarray:
    return (1.0 + rate) ** -_years(n_years, mid_year)


def _scalar_or_array(v: np.ndarray, one_patent: bool) -> float | np.ndarray:
    return float(v.reshape(-1)[0]) if one_patent else v


def annuity_factor(rate: Any, years: Any, *, mid_year: bool = False) -> float | np.ndarray:
    """Present value of 1 a year for ``years`` years: sum of ``(1 + rate) ** -t`` (mid-year: ``t - 0.5``).

    Non-integer ``years`` use the closed form ``(1 - (1 + r) ** -n) / r``; ``rate = 0`` gives ``n``.
    """
    r = np.asarray(rate, dtype=float)
    n = np.asarray(years, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        af = np.where(np.abs(r) < 1e-12, n, -np.expm1(-n * np.log1p(r)) / np.where(r == 0, 1.0, r))
    if mid_year:
        af = af * np.sqrt(1.0 + r)
    return float(af) if np.ndim(af) == 0 else af


# --------------------------------------------------------------------------------------------- result


@dataclass(frozen=True)
class IncomeResult:
    """Value of one or many patents by an income method.

    Attributes
    ----------
    value : float or numpy.ndarray
        Present value (after the tax amortisation benefit when one was asked for).
    method : str
        ``"relief_from_royalty"``, ``"profit_split"``, ``"excess_earnings"`` or ``"with_and_without"``.
    value_before_tab : float or numpy.ndarray
        Sum of the discounted cash flows.
    tab_factor : float or numpy.ndarray
        Tax amortisation benefit factor applied (1.0 when none).
    cash_flows : pandas.DataFrame
        One row per year (and per patent, with a ``row`` column, for a matrix): ``year``, the base
        (``revenue`` or ``profit``), the patent's income, ``tax``, ``discount_factor``, ``present_value``.
    """

    value: float | np.ndarray
    method: str
    value_before_tab: float | np.ndarray
    tab_factor: float | np.ndarray
    _columns: dict[str, np.ndarray] = field(repr=False)
    _one_patent: bool = field(repr=False)

    @cached_property
    def cash_flows(self) -> pd.DataFrame:
        """Per-year table (built on first access)."""
        cols = {k: np.broadcast_to(v, self._columns["present_value"].shape) for k, v in self._columns.items()}
        shape = cols["present_value"].shape
        n_rows, n_years = shape
        data: dict[str, np.ndarray] = {}
        if not self._one_patent:
            data["row"] = np.repeat(np.arange(n_rows), n_years)
        data["year"] = np.tile(np.arange(1, n_years + 1), n_rows)
        for k, v in cols.items():
            data[k] = np.asarray(v, dtype=float).reshape(-1)
        return pd.DataFrame(data)


def _result(
    method: str, pv: np.ndarray, columns: dict[str, np.ndarray], one: bool, tabf: np.ndarray | float
) -> IncomeResult:
    before = pv.sum(axis=-1)
    tabf_arr = np.asarray(tabf, dtype=float)
    if tabf_arr.ndim and tabf_arr.shape[-1] == 1:
        tabf_arr = tabf_arr[..., 0]
    value = before * tabf_arr
    return IncomeResult(
        value=_scalar_or_array(np.asarray(value), one),
        method=method,
        value_before_tab=_scalar_or_array(np.asarray(before), one),
        tab_factor=float(tabf_arr.reshape(-1)[0]) if one or tabf_arr.ndim == 0 else tabf_arr,
        _columns=columns,
        _one_patent=one,
    )


# --------------------------------------------------------------------------------------------- kernels


def tab_factor(
    tax_rate: Any, tax_life_years: Any, discount_rate: Any, *, mid_year: bool = False
) -> float | np.ndarray:
    """Tax amortisation benefit factor: ``1 / (1 - (tax / n) * AF(k, n))``.

    Parameters
    ----------
    tax_rate : float or array
        Rate at which the buyer deducts the amortisation (decimal).
    tax_life_years : float or array
        Tax amortisation period ``n`` (US section 197: 15 years). Must be positive.
    discount_rate : float or array
        Rate ``k`` used for the asset's cash flows.
    mid_year : bool
        Use the mid-year annuity factor, matching mid-year cash flows.

    Notes
    -----
    Source of the formula: the two-step gross-up of the tax amortisation benefit (Wikipedia, "Tax amortization
    benefit"; IVS 210). The factor multiplies the value before the benefit.
    """
    tau = _rate(tax_rate, None, "tax_rate", low=0.0, high=1.0, high_open=True)
    n = np.asarray(tax_life_years, dtype=float)
    if np.isnan(n).any() or (n <= 0).any():
        raise ValueError(f"tax_life_years must be positive, got {tax_life_years!r}")
    k = _rate(discount_rate, None, "discount_rate", low=0.0, high=1.0)
    af = np.asarray(annuity_factor(k, n, mid_year=mid_year))
    out = 1.0 / (1.0 - tau / n * af)
    return float(out) if np.ndim(out) == 0 else out


def relief_from_royalty(
    revenue: Any,
    royalty_rate: Any,
    tax_rate: Any,
    discount_rate: Any,
    *,
    mid_year: bool = False,
    tab_years: Any = None,
) -> IncomeResult:
    """Relief from royalty (节省许可费法): PV of the after-tax royalty the owner does not pay.

    ``V = sum_t revenue_t * royalty_t * (1 - tax) * (1 + r) ** -t``, times the TAB factor when ``tab_years`` is given.

    Parameters
    ----------
    revenue : array_like
        Revenue of the products the claims cover, ``(years,)`` or ``(patents, years)``; no NaN, not negative.
    royalty_rate : float or array
        Royalty on revenue in [0, 1] (per patent, or per patent and year).
    tax_rate : float or array
        Income tax rate in [0, 1).
    discount_rate : float or array
        Discount rate in [0, 1].
    mid_year : bool
        Mid-year discounting.
    tab_years : float or array, optional
        Tax amortisation life; when given, the value is grossed up by :func:`tab_factor`.

    Returns
    -------
    IncomeResult
        ``.cash_flows`` columns: year, revenue, royalty_rate, royalty, tax, discount_factor, present_value.
    """
    rev = _base(revenue, "revenue", allow_negative=False)
    one = rev.ndim == 1
    rev2 = rev[None, :] if one else rev
    rho = _rate(royalty_rate, rev.ndim, "royalty_rate", low=0.0, high=1.0)
    tau = _rate(tax_rate, rev.ndim, "tax_rate", low=0.0, high=1.0, high_open=True)
    r = _rate(discount_rate, rev.ndim, "discount_rate", low=0.0, high=1.0)
    if one:
        rho, tau, r = (a if a.ndim == 0 else a[None, ...] for a in (rho, tau, r))
    df = _discount_factors(r, rev2.shape[-1], mid_year)
    royalty = rev2 * rho
    tax = royalty * tau
    pv = (royalty - tax) * df
    tabf: np.ndarray | float = 1.0
    if tab_years is not None:
        if r.ndim == 2 and r.shape[-1] > 1:
            raise ValueError(
                "a tax amortisation benefit needs one discount rate per patent, not one per year"
            )
        if tau.ndim == 2 and tau.shape[-1] > 1:
            raise ValueError("a tax amortisation benefit needs one tax rate per patent, not one per year")
        ty = np.asarray(tab_years, dtype=float)
        ty = ty[..., None] if ty.ndim == 1 and not one else ty
        tabf = np.asarray(tab_factor(tau, ty, r, mid_year=mid_year))
    cols = {
        "revenue": rev2,
        "royalty_rate": rho,
        "royalty": royalty,
        "tax": tax,
        "discount_factor": df,
        "present_value": pv,
    }
    return _result("relief_from_royalty", pv, cols, one, tabf)


def profit_split(profit: Any, share: Any, discount_rate: Any, *, mid_year: bool = False) -> IncomeResult:
    """Profit split (分成法): PV of the patent's share of a profit (or revenue) stream.

    ``V = sum_t profit_t * share_t * (1 + r) ** -t``. The stream is taken as it is (after tax when the share
    applies to after-tax profit, as in the 约当投资分成法 exam examples); a revenue share links to a profit
    share by ``s_rev = s_profit * margin``.

    Parameters
    ----------
    profit : array_like
        Profit (or revenue) per year, ``(years,)`` or ``(patents, years)``; negative years are allowed, NaN is not.
    share : float or array
        Share in [0, 1]: constant, per patent, or per patent and year (see :func:`linear_step_down`).
    discount_rate : float or array
        Discount rate in [0, 1].
    mid_year : bool
        Mid-year discounting.

    Returns
    -------
    IncomeResult
        ``.cash_flows`` columns: year, profit, share, patent_income, tax (0), discount_factor, present_value.
    """
    prof = _base(profit, "profit", allow_negative=True)
    one = prof.ndim == 1
    prof2 = prof[None, :] if one else prof
    s = _rate(share, prof.ndim, "share", low=0.0, high=1.0)
    r = _rate(discount_rate, prof.ndim, "discount_rate", low=0.0, high=1.0)
    if one:
        s, r = (a if a.ndim == 0 else a[None, ...] for a in (s, r))
    df = _discount_factors(r, prof2.shape[-1], mid_year)
    income = prof2 * s
    pv = income * df
    cols = {
        "profit": prof2,
        "share": s,
        "patent_income": income,
        "tax": np.zeros(1),
        "discount_factor": df,
        "present_value": pv,
    }
    return _result("profit_split", pv, cols, one, 1.0)


def equivalent_investment_share(
    patent_cost: Any, patent_profit_rate: Any, licensee_cost: Any, licensee_profit_rate: Any
) -> float | np.ndarray:
    """约当投资分成率: the patent's share of profit from equivalent investments.

    ``s = C_p (1 + p_p) / (C_p (1 + p_p) + C_l (1 + p_l))``, where ``C_p`` is the patent's replacement cost,
    ``p_p`` its cost-profit rate (成本利润率), ``C_l`` the licensee's asset replacement cost and ``p_l`` its rate.

    Raises
    ------
    ValueError
        On negative costs, profit rates below -100 % or a zero denominator.
    """
    cp, pp, cl, pl = (
        np.asarray(x, dtype=float)
        for x in (patent_cost, patent_profit_rate, licensee_cost, licensee_profit_rate)
    )
    for name, a in (("patent_cost", cp), ("licensee_cost", cl)):
        if np.isnan(a).any() or (a < 0).any():
            raise ValueError(f"{name} must be a non-negative number, got {a!r}")
    for name, a in (("patent_profit_rate", pp), ("licensee_profit_rate", pl)):
        if np.isnan(a).any() or (a <= -1).any():
            raise ValueError(f"{name} must be a number above -1, got {a!r}")
    patent_eq = cp * (1.0 + pp)
    total = patent_eq + cl * (1.0 + pl)
    if (total <= 0).any():
        raise ValueError("the equivalent investments add up to zero: no share can be formed")
    out = patent_eq / total
    return float(out) if np.ndim(out) == 0 else out


def contributory_asset_charge(
    asset_to_revenue: Any, return_on: Any, return_of: Any = 0.0
) -> float | np.ndarray:
    """Contributory asset charge as a fraction of revenue: ``(asset / revenue) * (return on + return of)``.

    Parameters
    ----------
    asset_to_revenue : float or array
        Fair value of the contributory asset employed per unit of revenue.
    return_on : float or array
        Required return on the asset (decimal).
    return_of : float or array
        Annual recovery of a wasting asset (e.g. 1 / useful life); 0 for working capital and land.
    """
    a, on, of = (np.asarray(x, dtype=float) for x in (asset_to_revenue, return_on, return_of))
    for name, v in (("asset_to_revenue", a), ("return_on", on), ("return_of", of)):
        if np.isnan(v).any() or (v < 0).any():
            raise ValueError(f"{name} must be a non-negative number, got {v!r}")
    out = a * (on + of)
    return float(out) if np.ndim(out) == 0 else out


def excess_earnings(
    revenue: Any,
    ebita_margin: Any,
    tax_rate: Any,
    discount_rate: Any,
    *,
    contributory_charges: dict[str, Any] | None = None,
    mid_year: bool = False,
    tab_years: Any = None,
) -> IncomeResult:
    """Multi-period excess earnings (MPEEM) for one primary patent.

    ``V = sum_t [revenue_t * margin_t * (1 - tax) - revenue_t * sum_j CAC_j] * (1 + r) ** -t``.

    Parameters
    ----------
    revenue : array_like
        Revenue of the business the patent drives.
    ebita_margin : float or array
        EBITA over revenue, in [-1, 1].
    tax_rate, discount_rate : float or array
        As in :func:`relief_from_royalty`.
    contributory_charges : dict of str to float or array
        Charges for the other assets as fractions of revenue (see :func:`contributory_asset_charge`):
        working capital, fixed assets, assembled workforce, other intangibles.
    mid_year : bool
        Mid-year discounting.
    tab_years : float, optional
        Tax amortisation life for the TAB gross-up.

    Notes
    -----
    Use it for the single primary asset: applying it to several patents of one business counts the same excess
    earnings more than once (IVS 210).
    """
    rev = _base(revenue, "revenue", allow_negative=False)
    one = rev.ndim == 1
    rev2 = rev[None, :] if one else rev
    m = _rate(ebita_margin, rev.ndim, "ebita_margin", low=-1.0, high=1.0)
    tau = _rate(tax_rate, rev.ndim, "tax_rate", low=0.0, high=1.0, high_open=True)
    r = _rate(discount_rate, rev.ndim, "discount_rate", low=0.0, high=1.0)
    cac_total: np.ndarray = np.zeros(1)
    for name, c in (contributory_charges or {}).items():
        cac_total = cac_total + _rate(c, rev.ndim, f"contributory charge {name!r}", low=0.0, high=1.0)
    if one:
        m, tau, r, cac_total = (a if a.ndim == 0 else a[None, ...] for a in (m, tau, r, cac_total))
    df = _discount_factors(r, rev2.shape[-1], mid_year)
    ebita = rev2 * m
    tax = ebita * tau
    cac = rev2 * cac_total
    pv = (ebita - tax - cac) * df
    tabf: np.ndarray | float = 1.0
    if tab_years is not None:
        tabf = np.asarray(tab_factor(tau, tab_years, r, mid_year=mid_year))
    cols = {
        "revenue": rev2,
        "ebita": ebita,
        "tax": tax,
        "contributory_charges": cac,
        "discount_factor": df,
        "present_value": pv,
    }
    return _result("excess_earnings", pv, cols, one, tabf)


def with_and_without(
    cash_flow_with: Any, cash_flow_without: Any, discount_rate: Any, *, mid_year: bool = False
) -> IncomeResult:
    """With-and-without (增量收益法): PV of the difference the patent makes to the owner's cash flows.

    Both streams are after tax (or both before) and cover the same years; include in the "without" case the
    time and cost it would take to rebuild the advantage.
    """
    w = _base(cash_flow_with, "cash_flow_with", allow_negative=True)
    wo = _base(cash_flow_without, "cash_flow_without", allow_negative=True)
    if w.shape != wo.shape:
        raise ValueError(
            f"cash_flow_with {w.shape} and cash_flow_without {wo.shape} must cover the same years"
        )
    one = w.ndim == 1
    w2, wo2 = (w[None, :], wo[None, :]) if one else (w, wo)
    r = _rate(discount_rate, w.ndim, "discount_rate", low=0.0, high=1.0)
    if one and r.ndim:
        r = r[None, ...]
    df = _discount_factors(r, w2.shape[-1], mid_year)
    diff = w2 - wo2
    pv = diff * df
    cols = {
        "cash_flow_with": w2,
        "cash_flow_without": wo2,
        "incremental": diff,
        "tax": np.zeros(1),
        "discount_factor": df,
        "present_value": pv,
    }
    return _result("with_and_without", pv, cols, one, 1.0)


# --------------------------------------------------------------------------------------------- income period and decay


def income_period(remaining_legal_life: Any, economic_life: Any = None) -> float | np.ndarray:
    """收益期限: the shorter of the remaining legal life and the economic life (NaN economic life = not binding)."""
    legal = np.asarray(remaining_legal_life, dtype=float)
    if economic_life is None:
        out = legal
    else:
        econ = np.asarray(economic_life, dtype=float)
        out = np.where(np.isnan(econ), legal, np.fmin(legal, econ))
    out = np.maximum(out, 0.0)
    return float(out) if np.ndim(out) == 0 else out


def period_weights(life: Any, n_years: int) -> np.ndarray:
    """Share of each year ``t = 1..n_years`` inside a life of ``life`` years: ``clip(life - (t - 1), 0, 1)``.

    A 7.4-year life gives seven full years and 0.4 of the eighth; the result is ``(patents, n_years)``.
    """
    lf = np.atleast_1d(np.asarray(life, dtype=float))
    t0 = np.arange(n_years, dtype=float)
    return np.clip(lf[:, None] - t0[None, :], 0.0, 1.0)


def exponential_decay(rate: Any, n_years: int) -> np.ndarray:
    """Decay factors ``(1 - rate) ** t`` for ``t = 1..n_years``, shaped ``(patents, n_years)``.

    ``rate`` is the yearly obsolescence (R&D depreciation) rate, e.g. from ``valuation_decay_rates.csv``.
    """
    d = np.atleast_1d(np.asarray(rate, dtype=float))
    if np.isnan(d).any() or (d < 0).any() or (d >= 1).any():
        raise ValueError(f"decay rate must lie in [0, 1), got {rate!r}")
    t = np.arange(1, n_years + 1, dtype=float)
    return (1.0 - d[:, None]) ** t[None, :]


def linear_step_down(life: Any, n_years: int) -> np.ndarray:
    """Linear step-down factors ``(N - t + 1) / N`` (zero after ``N``), shaped ``(patents, n_years)``.

    The 动态分成率 of Chinese practice: the share in year ``t`` of an ``N``-year income period. Multiply an
    initial share by it to get a declining share for :func:`profit_split`.
    """
    n = np.atleast_1d(np.asarray(life, dtype=float))
    if np.isnan(n).any() or (n < 0).any():
        raise ValueError(f"life must be a non-negative number, got {life!r}")
    t = np.arange(1, n_years + 1, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        f = np.clip((n[:, None] - t[None, :] + 1.0) / n[:, None], 0.0, 1.0)
    return np.where(n[:, None] > 0, f, 0.0)


# --------------------------------------------------------------------------------------------- the stage


@dataclass(frozen=True)
class IncomeValues:
    """The income approach over a chunk.

    Attributes
    ----------
    present_value : numpy.ndarray
        PV of the income attributable to each patent with revenue (NaN elsewhere); the option's underlying for a
        pre-commercial patent.
    value : numpy.ndarray
        ``value_income``: the PV of a commercialised patent, 0 without a right, NaN where the method does not apply.
    has_revenue : numpy.ndarray of bool
        Live rows with revenue and an income period.
    """

    present_value: np.ndarray
    value: np.ndarray
    has_revenue: np.ndarray


def income_values(econ: Economics, facts: Facts, a: dict[str, Any], notes: Notes) -> IncomeValues:
    """Relief from royalty, or a share of profit, on each patent's revenue path over its income period.

    Patents are valued in blocks of equal year counts: a patent's year sum then never depends on which other
    patents share its block (numpy's pairwise summation groups terms by the row length), so the value is the same
    to the last bit whatever the chunking of the book.
    """
    dead, life_legal = facts.dead, facts.life_legal
    revenue, period = econ.revenue, econ.period
    n = len(revenue)
    has_rev = np.isfinite(revenue) & np.isfinite(period) & ~dead
    pv = np.full(n, np.nan)
    idx = np.flatnonzero(has_rev)
    chunk = max(1, a["chunk_patents"] * 8)
    idx_years = np.maximum(1, np.ceil(period[idx])).astype(np.int64) if len(idx) else np.empty(0, np.int64)
    for ny in np.unique(idx_years):
        same = idx[idx_years == ny]
        for start in range(0, len(same), chunk):
            sl = same[start : start + chunk]
            pv[sl] = _block_pv(econ, sl, int(ny), a)
    comm = econ.situation == "commercialised"
    pre = econ.situation == "pre_commercial"
    value = np.where(comm & has_rev, pv, np.nan)
    value = np.where(dead, 0.0, value)
    notes.add(pre & has_rev, "income: pre-commercial, the revenue forecast is the option's underlying")
    notes.add(
        ~dead & ~np.isfinite(revenue) & ~np.isnan(life_legal),
        "income and option: no revenue, methods not applied",
    )
    notes.add(comm & has_rev, "option: already commercialised, no deferral option")
    if a["tab_years"] is not None:
        notes.add(has_rev, f"tax amortisation benefit over {a['tab_years']:g} years")
    return IncomeValues(pv, value, has_rev)


def _block_pv(econ: Economics, sl: np.ndarray, n_years: int, a: dict[str, Any]) -> np.ndarray:
    """PV of the patents ``sl`` (all with ``n_years`` years): relief from royalty, or the profit share (row-wise)."""
    tab, mid = a["tab_years"], a["mid_year"]
    roy, tax, disc = econ.royalty, econ.tax, econ.discount
    base = _revenue_path(
        econ.revenue[sl],
        econ.growth[sl, None],
        econ.forecast[sl],
        econ.horizon[sl],
        econ.last_forecast[sl],
        n_years,
    )
    t = np.arange(1, n_years + 1, dtype=float)
    base = base * (1.0 - econ.decay[sl, None]) ** t[None, :]
    w = _year_weights(econ.period[sl, None], n_years, a["decay_curve"] == "linear")
    sp = econ.split[sl]
    if not sp.any():
        return np.asarray(
            relief_from_royalty(base * w, roy[sl], tax[sl], disc[sl], mid_year=mid, tab_years=tab).value
        )
    # row-wise kernels: valuing the RfR rows apart from the split rows leaves every row's numbers unchanged
    out = np.full(len(sl), np.nan)
    rr = ~sp
    if rr.any():
        k = sl[rr]
        out[rr] = relief_from_royalty(
            base[rr] * w[rr], roy[k], tax[k], disc[k], mid_year=mid, tab_years=tab
        ).value
    ok = econ.split_ok[sl]
    if ok.any():
        k = sl[ok]
        ws = w[ok] * _step_down(econ.period[k, None], n_years) if econ.decline else w[ok]
        profit = base[ok] * ws * econ.margin[k, None]
        res = profit_split(profit * (1.0 - tax[k, None]), econ.share[k], disc[k], mid_year=mid)
        v = np.asarray(res.value, dtype=float)
        if tab is not None:
            v = v * tab_factor(tax[k], tab, disc[k], mid_year=mid)
        out[ok] = v
    return out


def _revenue_path(
    revenue: np.ndarray,
    growth: np.ndarray,
    fmat: np.ndarray,
    horizon: np.ndarray,
    last: np.ndarray,
    n_years: int,
) -> np.ndarray:
    """Revenue in years ``1..n_years``, shaped ``(patents, n_years)``.

    The forecast where given, then growth from its last year; else ``revenue * (1 + g) ** t``.
    """
    t = np.arange(1, n_years + 1, dtype=float)[None, :]
    h = horizon[:, None].astype(float)
    start = np.where(horizon > 0, last, revenue)[:, None]
    grown = start * (1.0 + growth) ** (t - h)
    if fmat.shape[1] == 0 or not (horizon > 0).any():
        return grown
    fm = np.full((len(revenue), n_years), np.nan)
    k = min(n_years, fmat.shape[1])
    fm[:, :k] = fmat[:, :k]
    return np.where(t <= h, fm, grown)


def _year_weights(life: np.ndarray, n_years: int, linear: bool) -> np.ndarray:
    """Share of year ``t`` inside the income period, times the linear step-down factor when asked."""
    t = np.arange(1, n_years + 1, dtype=float)[None, :]
    w = np.clip(life - (t - 1.0), 0.0, 1.0)
    if linear:
        with np.errstate(divide="ignore", invalid="ignore"):
            w = w * np.where(
                life > 0, np.clip((life - t + 1.0) / np.where(life > 0, life, 1.0), 0.0, 1.0), 0.0
            )
    return w


def _step_down(life: np.ndarray, n_years: int) -> np.ndarray:
    """Linear step-down ``(N - t + 1) / N`` of year ``t`` in an income period ``N`` (动态分成率), 0 when N = 0."""
    t = np.arange(1, n_years + 1, dtype=float)[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(life > 0, np.clip((life - t + 1.0) / np.where(life > 0, life, 1.0), 0.0, 1.0), 0.0)
