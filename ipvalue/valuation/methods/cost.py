"""Cost methods (成本法): reproduction and replacement cost less obsolescence.

``value = replacement cost x (1 - 贬值率) x (1 - functional obsolescence) x (1 - economic obsolescence)``.
The replacement cost is built up from the historical development cost trended to the valuation date by a price
index, plus the developer's profit, the opportunity cost of the money tied up during development and the
official fees actually paid (from :mod:`ipvalue.terms`), or from the 倍加系数法 (creative-labour multiplier).
All functions broadcast over numpy arrays. :func:`cost_values` is the valuation stage that applies them to every
patent of a chunk.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ipvalue.facts.columns import texts
from ipvalue.valuation._data import price_index
from ipvalue.valuation.notes import fmt, fmt_pct

if TYPE_CHECKING:  # the stage reads the earlier stages' results (economics imports trend_factor from here)
    from ipvalue.terms._inputs import TermInputs
    from ipvalue.valuation.asof import Facts
    from ipvalue.valuation.economics import Economics
    from ipvalue.valuation.inputs import Inputs
    from ipvalue.valuation.notes import Notes

__all__ = [
    "CostResult",
    "trend_cost",
    "multiplier_cost",
    "reproduction_cost",
    "depreciation_rate",
    "cost_value",
    "trend_factor",
    "fees_paid",
    "FeesPaid",
    "fees_paid_stage",
    "cost_values",
    "years_used",
]


def _arr(x: Any, name: str, *, low: float = 0.0, high: float = np.inf, high_open: bool = False) -> np.ndarray:
    a = np.asarray(x, dtype=float)
    bad = np.isnan(a) | (a < low) | ((a >= high) if high_open else (a > high))
    if bad.any():
        got = a[tuple(np.argwhere(bad)[0])] if a.ndim else a
        hi = f"{high})" if high_open else f"{high}]"
        raise ValueError(f"{name} must be a number in [{low}, {hi}, got {float(got)!r}")
    return a


def _out(a: np.ndarray) -> float | np.ndarray:
    return float(a) if np.ndim(a) == 0 else a


def trend_cost(historical_cost: Any, index_then: Any, index_now: Any) -> float | np.ndarray:
    """物价指数法: ``cost_now = cost_then x index_now / index_then``."""
    c = _arr(historical_cost, "historical_cost")
    i0 = _arr(index_then, "index_then")
    i1 = _arr(index_now, "index_now")
    if (i0 <= 0).any():
        raise ValueError("index_then must be positive")
    return _out(c * i1 / i0)


def multiplier_cost(
    material_cost: Any, labour_cost: Any, creative_multiplier: Any, failure_rate: Any, required_return: Any
) -> float | np.ndarray:
    """倍加系数法: ``(C + beta1 x V) / (1 - beta2) x (1 + L)``.

    Parameters
    ----------
    material_cost : float or array
        ``C``, materialised cost of development (materials, equipment, other costs).
    labour_cost : float or array
        ``V``, labour cost of the researchers.
    creative_multiplier : float or array
        ``beta1``, creative-labour multiplier (>= 1 in practice).
    failure_rate : float or array
        ``beta2``, average research failure (risk) rate in [0, 1).
    required_return : float or array
        ``L``, required return on the investment.
    """
    c = _arr(material_cost, "material_cost")
    v = _arr(labour_cost, "labour_cost")
    b1 = _arr(creative_multiplier, "creative_multiplier")
    b2 = _arr(failure_rate, "failure_rate", high=1.0, high_open=True)
    lr = _arr(required_return, "required_return", high=10.0)
    return _out((c + b1 * v) / (1.0 - b2) * (1.0 + lr))


def reproduction_cost(
    direct_cost: Any,
    *,
    developer_profit_rate: Any = 0.0,
    opportunity_rate: Any = 0.0,
    development_years: Any = 0.0,
    fees_paid: Any = 0.0,
) -> float | np.ndarray:
    """Cost build-up: direct cost plus developer's profit, opportunity cost and fees paid.

    ``RC = D x (1 + p) + D x ((1 + o) ** (T / 2) - 1) + fees``: the developer's profit ``p`` is a margin on cost; the
    opportunity cost is the return ``o`` forgone on money spent evenly over ``T`` development years (so tied up for
    ``T / 2`` years on average); ``fees`` are the official filing, grant and renewal fees actually paid.
    Feed it a reproduction cost (exact replica) or a replacement cost (equal utility) as ``direct_cost``.
    """
    d = _arr(direct_cost, "direct_cost")
    p = _arr(developer_profit_rate, "developer_profit_rate", high=10.0)
    o = _arr(opportunity_rate, "opportunity_rate", high=1.0)
    t = _arr(development_years, "development_years", high=100.0)
    f = _arr(fees_paid, "fees_paid")
    return _out(d * (1.0 + p) + d * ((1.0 + o) ** (t / 2.0) - 1.0) + f)


def depreciation_rate(used_years: Any, remaining_years: Any) -> float | np.ndarray:
    """贬值率 = used / (used + remaining); a patent with no remaining life is fully depreciated (1.0).

    Raises
    ------
    ValueError
        On NaN or negative years.
    """
    u = _arr(used_years, "used_years")
    r = _arr(remaining_years, "remaining_years")
    total = u + r
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(total > 0, u / np.where(total > 0, total, 1.0), 1.0)
    out = np.where(r <= 0, 1.0, out)
    return _out(out)


@dataclass(frozen=True)
class CostResult:
    """Value by the cost approach with its components (floats or arrays)."""

    value: float | np.ndarray
    replacement_cost: float | np.ndarray
    depreciation_rate: float | np.ndarray
    functional_obsolescence: float | np.ndarray
    economic_obsolescence: float | np.ndarray


def cost_value(
    replacement_cost: Any,
    used_years: Any,
    remaining_years: Any,
    *,
    functional_obsolescence: Any = 0.0,
    economic_obsolescence: Any = 0.0,
) -> CostResult:
    """Value = replacement cost x (1 - 贬值率) x (1 - functional) x (1 - economic obsolescence).

    Parameters
    ----------
    replacement_cost : float or array
        From :func:`reproduction_cost`, :func:`multiplier_cost` or :func:`trend_cost`.
    used_years, remaining_years : float or array
        Years used so far and remaining economic years (the income period).
    functional_obsolescence, economic_obsolescence : float or array
        Further losses of value as fractions in [0, 1].
    """
    rc = _arr(replacement_cost, "replacement_cost")
    dep = np.asarray(depreciation_rate(used_years, remaining_years))
    fo = _arr(functional_obsolescence, "functional_obsolescence", high=1.0)
    eo = _arr(economic_obsolescence, "economic_obsolescence", high=1.0)
    v = rc * (1.0 - dep) * (1.0 - fo) * (1.0 - eo)
    return CostResult(_out(v), _out(rc), _out(dep), _out(fo), _out(eo))


# --------------------------------------------------------------------------------------------- the stage


@dataclass(frozen=True)
class FeesPaid:
    """The renewal fees paid to ``as_of`` of one chunk (:func:`fees_paid`) and the notes their reading took.

    A function of the facts only (status, dates, office, ``rd_cost``), not of any rate, economic life or
    assumption: read once per chunk and reused by every revaluation of it (the stress shocks).
    """

    amounts: np.ndarray | None
    notes: Notes
    #: years from filing to ``as_of`` per row (:func:`years_used`), read with the fees (no rate moves them)
    used: np.ndarray


def years_used(frame: pd.DataFrame, day: dt.date) -> np.ndarray:
    """Years from ``filing_date`` to ``day`` per row (whole days / 365.25, at least 0; NaN without a date)."""
    filing = (
        pd.to_datetime(frame["filing_date"])
        if "filing_date" in frame.columns
        else pd.Series(pd.NaT, index=frame.index)
    )
    used = ((pd.Timestamp(day) - filing).dt.days / 365.25).to_numpy(dtype=float, na_value=np.nan)
    return np.clip(used, 0.0, None)


def fees_paid_stage(inputs: Inputs, facts: Facts, day: dt.date, notes: Notes) -> FeesPaid:
    """:func:`fees_paid` for the rows the cost method may value, its notes recorded (not added to ``notes``).

    ``notes`` gives the rows already muted; the result's notes go into the valuation's notes where the cost
    method reads the fees (:func:`cost_values`).
    """
    rows = np.isfinite(inputs.x["rd_cost"]) & ~facts.dead & ~np.isnan(facts.life_legal)
    recorded = notes.scratch()
    return FeesPaid(
        fees_paid(
            inputs.frame,
            day,
            inputs.currency,
            recorded,
            rows,
            expiry_date=facts.expiry_date,
            terms=facts.terms,
        ),
        recorded,
        years_used(inputs.frame, day),
    )


def cost_values(
    inputs: Inputs,
    facts: Facts,
    econ: Economics,
    a: dict[str, Any],
    day: dt.date,
    notes: Notes,
    fees: FeesPaid | None = None,
) -> np.ndarray:
    """``value_cost`` for every patent (NaN with a note where it cannot apply, 0 for dead patents).

    Trended ``rd_cost`` plus developer's profit, opportunity cost and fees paid, less 贬值率 and obsolescence.
    ``fees`` is :func:`fees_paid_stage`'s result when already read for the chunk (None: read here); with it,
    no column of ``inputs.frame`` is read (a shock axis stacks only the frame's index,
    :func:`ipvalue.valuation.kernel.value_prepared_many`).
    """
    frame, x = inputs.frame, inputs.x
    dead, period = facts.dead, econ.period
    rd = x["rd_cost"]
    rd_year = x["rd_year"]
    factor, lvl_then, years_idx = trend_factor(rd_year, day)
    has_year = np.isfinite(rd_year)
    if has_year.any():
        if notes.wanted:  # (a text for every row: not written when the notes are not kept)
            notes.add(
                np.isfinite(rd) & ~dead & has_year & np.isfinite(lvl_then),
                "cost trended by CPI x" + fmt(np.round(factor, 3), "{:.3f}"),
            )
        notes.add(
            np.isfinite(rd) & ~dead & (day.year > years_idx[-1]),
            f"CPI table ends {int(years_idx[-1])}: later years held flat",
        )
        notes.add(
            np.isfinite(rd) & ~dead & has_year & ~np.isfinite(lvl_then),
            f"rd_year before the CPI table ({int(years_idx[0])}): cost not trended",
        )
    notes.add(np.isfinite(rd) & ~dead & ~has_year, "rd_year missing: cost not trended")
    if fees is None:
        fees = fees_paid_stage(inputs, facts, day, notes)
    notes.extend(fees.notes)
    fees_arr = np.zeros(len(frame)) if fees.amounts is None else fees.amounts
    opp = a["opportunity_rate"] if a["opportunity_rate"] is not None else a["risk_free"]
    used = fees.used  # the years used, read with the fees paid (the same dates: no rate moves them)
    cost_ok = np.isfinite(rd) & ~dead & np.isfinite(period) & np.isfinite(used)
    value_cost = np.where(dead, 0.0, np.nan)
    if cost_ok.any():
        rc = reproduction_cost(
            rd[cost_ok] * factor[cost_ok],
            developer_profit_rate=a["developer_profit_rate"],
            opportunity_rate=opp,
            development_years=a["development_years"],
            fees_paid=fees_arr[cost_ok],
        )
        cv = cost_value(
            rc,
            used[cost_ok],
            period[cost_ok],
            functional_obsolescence=a["functional_obsolescence"],
            economic_obsolescence=a["economic_obsolescence"],
        )
        value_cost[cost_ok] = cv.value
        if notes.wanted:  # (a text for every row: not written when the notes are not kept)
            notes.add(cost_ok, "cost: 贬值率 " + fmt_pct(np.asarray(_dep(used, period)), 1))
    notes.add(~dead & ~np.isfinite(rd), "cost: no rd_cost, method not applied")
    notes.add(~dead & np.isfinite(rd) & ~np.isfinite(used), "cost: filing_date missing, method not applied")
    return value_cost


def trend_factor(rd_year: np.ndarray, day: dt.date) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CPI factor from ``rd_year`` to the valuation year (1 where the year is missing or before the table).

    Returns the factor, the price level of ``rd_year`` (NaN where unknown) and the table's years.
    """
    years_idx, cpi = price_index()
    factor = np.ones(len(rd_year))
    lvl_then = np.full(len(rd_year), np.nan)
    has_year = np.isfinite(rd_year)
    if has_year.any():
        lvl_then = np.interp(rd_year, years_idx, cpi, left=np.nan, right=cpi[-1])
        lvl_now = float(np.interp(day.year, years_idx, cpi, right=cpi[-1]))
        factor = np.where(
            has_year & np.isfinite(lvl_then), lvl_now / np.where(np.isfinite(lvl_then), lvl_then, 1.0), 1.0
        )
    return factor, lvl_then, years_idx


def fees_paid(
    frame: pd.DataFrame,
    as_of: dt.date,
    currency: str,
    notes: Notes,
    rows: np.ndarray,
    *,
    expiry_date: np.ndarray | None = None,
    terms: TermInputs | None = None,
) -> np.ndarray | None:
    """Renewal fees actually paid (from :func:`ipvalue.terms.fees_paid_to_date`) in the valuation currency.

    Fees in another currency or of offices the terms module does not model are left out, with a note.
    ``expiry_date``: the term's expiry date of every row of ``frame`` when already read (``Facts.expiry_date``;
    None: the terms module computes it again); ``terms``: the term inputs of every row (``Facts.terms``; None:
    read from the frame again).
    """
    from ipvalue.terms import fees_paid_to_date

    out = np.zeros(len(frame))
    if not rows.any():
        return out
    # in blocks of rows, which bounds the memory of the per-fee event table the terms module builds
    where = np.flatnonzero(rows)
    amt = np.empty(len(where))
    fcur = np.empty(len(where), dtype=object)
    step = 50_000
    for start in range(0, len(where), step):
        block = where[start : start + step]
        expiry = None if expiry_date is None else expiry_date[block]
        every = len(block) == len(frame)  # every row, in order: nothing taken
        if terms is None:
            rows_frame, rows_terms = (frame if every else frame.iloc[block]), None
        else:  # the term inputs carry the columns read: of the frame only the rows' index is needed
            rows_frame = frame if every else pd.DataFrame(index=frame.index[block])
            rows_terms = terms if every else terms.take(block)
        tbl: Any = fees_paid_to_date(rows_frame, as_of, expiry_date=expiry, inputs=rows_terms)
        amt[start : start + step] = tbl["fees_paid"].to_numpy(dtype=float, na_value=np.nan)
        fcur[start : start + step] = texts(tbl, "fee_currency")
    usable = np.isfinite(amt) & (fcur == currency)
    sub = np.where(usable, amt, 0.0)
    out[rows] = sub
    mask = np.zeros(len(frame), bool)
    mask[rows] = usable & (amt > 0)
    notes.add(
        mask,
        "cost includes renewal fees paid " + fmt(np.round(out, 0), "{:,.0f}"),
    )
    mask_other = np.zeros(len(frame), bool)
    mask_other[rows] = np.isfinite(amt) & (fcur != currency)
    notes.add(mask_other, "renewal fees paid in another currency: not in the cost")
    mask_nm = np.zeros(len(frame), bool)
    mask_nm[rows] = ~np.isfinite(amt)
    notes.add(mask_nm, "renewal fees of this office not modelled: not in the cost")
    return out


def _dep(used: np.ndarray, period: np.ndarray) -> np.ndarray:
    """贬值率 with unknown years read as 0 (for the note only)."""
    u = np.nan_to_num(used, nan=0.0)
    p = np.nan_to_num(period, nan=0.0)
    return np.asarray(depreciation_rate(u, p))
