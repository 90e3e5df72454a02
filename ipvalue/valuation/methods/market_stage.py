"""The market approach as a valuation stage: ``value_market`` for every patent of a chunk (NaN without comparables).

The stage hands the patents, with the facts and economics the earlier stages fixed (quality score, remaining life,
revenue, rates), to :func:`ipvalue.valuation.methods.market.market_approach`; the reconcile stage weighs the result
by the method-choice rule (:func:`ipvalue.valuation.reconcile.reconcile_values`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from ipvalue.valuation.asof import Facts
    from ipvalue.valuation.economics import Economics
    from ipvalue.valuation.inputs import Inputs

__all__ = ["MarketValues", "market_values", "NO_COMPARABLES"]

#: the reason shown in ``method_weights`` when no comparable transactions were given
NO_COMPARABLES = "no comparables given"


@dataclass(frozen=True)
class MarketValues:
    """``value_market`` per patent (NaN where none) and the reason shown in ``method_weights``."""

    value: np.ndarray
    reason: np.ndarray


def market_values(
    inputs: Inputs, facts: Facts, econ: Economics, day: dt.date, comparables: Any
) -> MarketValues:
    """Market values from comparable transactions; NaN (and :data:`NO_COMPARABLES`) when none are given.

    Parameters
    ----------
    inputs, facts, econ
        The earlier stages' results for the chunk.
    day : datetime.date
        The valuation date.
    comparables : pandas.DataFrame or None
        Transactions as read by :func:`ipvalue.read_comparables` (or a raw table it reads).
    """
    n = inputs.n
    if comparables is None:
        return MarketValues(np.full(n, np.nan), np.full(n, NO_COMPARABLES, dtype=object))
    from ipvalue.valuation.methods.market import market_approach

    subjects = inputs.frame.assign(
        quality_score=facts.quality_score,
        remaining_life_years=np.where(facts.dead, 0.0, facts.life_legal),
        revenue=econ.revenue,
        revenue_growth=econ.growth,
        tax_rate=econ.tax,
        discount_rate=econ.discount,
    )
    res = market_approach(subjects, comparables, as_of=day, currency=inputs.currency)
    value = res.value.reindex(inputs.frame.index).to_numpy(dtype=float, na_value=np.nan)
    value = np.where(facts.dead, np.nan, value)
    note = res.notes.reindex(inputs.frame.index).fillna("").astype(str).to_numpy(dtype=object)
    reason = np.where(
        np.isfinite(value), "comparable transactions (" + note + ")", "no usable comparables (" + note + ")"
    )
    return MarketValues(value, reason.astype(object))
