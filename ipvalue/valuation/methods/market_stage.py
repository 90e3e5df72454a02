"""The market approach as a valuation stage: ``value_market`` for every patent of a chunk (NaN without comparables).

The stage hands the patents, with the facts and economics the earlier stages fixed (quality score, remaining life,
revenue, rates), to :func:`ipvalue.valuation.methods.market.market_approach`; the reconcile stage weighs the result
by the method-choice rule (:func:`ipvalue.valuation.reconcile.reconcile_values`).

The market branch of the rule is decided here, per patent: the market approach *may* carry weight (``weighable``)
only when its comparables were selected at a level no farther than the ``market_max_level`` assumption (default
the same IPC subclass); a value from comparables of the same class only is shown, not weighed. That royalty
comparables need the subject's revenue is the market approach's own rule (without it they are unused, and fewer
than ``min_comparables`` usable give no value).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ipvalue.facts.industry import LEVELS

if TYPE_CHECKING:
    from ipvalue.valuation.asof import Facts
    from ipvalue.valuation.economics import Economics
    from ipvalue.valuation.inputs import Inputs
    from ipvalue.valuation.methods.market import MarketResult

__all__ = ["MarketValues", "market_values", "market_subjects", "NO_COMPARABLES"]

#: the reason shown in ``method_weights`` when no comparable transactions were given
NO_COMPARABLES = "no comparables given"


@dataclass(frozen=True)
class MarketValues:
    """The market stage's result per patent.

    Attributes
    ----------
    value : numpy.ndarray
        ``value_market`` (NaN where none).
    low, high : numpy.ndarray
        The lowest and highest adjusted comparable (the market range; NaN where no value).
    weighable : numpy.ndarray of bool
        The market branch of the method-choice rule applies: a value from comparables near enough.
    reason : numpy.ndarray of str
        Why the market approach has the place it has, shown in ``method_weights``.
    result : MarketResult or None
        The full result (every comparable and factor per patent); None without comparables.
    """

    value: np.ndarray
    low: np.ndarray
    high: np.ndarray
    weighable: np.ndarray
    reason: np.ndarray
    result: MarketResult | None = None


def market_subjects(inputs: Inputs, facts: Facts, econ: Economics) -> pd.DataFrame:
    """The subjects as the market approach reads them: the chunk's rows with the earlier stages' facts and economics."""
    return inputs.frame.assign(
        quality_score=facts.quality_score,
        remaining_life_years=np.where(facts.dead, 0.0, facts.life_legal),
        revenue=econ.revenue,
        revenue_growth=econ.growth,
        tax_rate=econ.tax,
        discount_rate=econ.discount,
    )


def market_values(
    inputs: Inputs,
    facts: Facts,
    econ: Economics,
    day: dt.date,
    comparables: Any,
    *,
    max_level: str = "subclass",
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
    max_level : str
        The farthest IPC level (one of ``group``, ``subclass``, ``class``, ``section``) at which the selected
        comparables let the market approach carry weight (the ``market_max_level`` assumption).
    """
    n = inputs.n
    if comparables is None:
        nan = np.full(n, np.nan)
        return MarketValues(
            nan, nan.copy(), nan.copy(), np.zeros(n, bool), np.full(n, NO_COMPARABLES, dtype=object)
        )
    from ipvalue.valuation.methods.market import market_approach

    res = market_approach(
        market_subjects(inputs, facts, econ), comparables, as_of=day, currency=inputs.currency
    )
    idx = inputs.frame.index

    def col(s: pd.Series) -> np.ndarray:
        return np.where(facts.dead, np.nan, s.reindex(idx).to_numpy(dtype=float, na_value=np.nan))

    value, low, high = col(res.value), col(res.range["low"]), col(res.range["high"])
    level = res.range["level"].reindex(idx).fillna("").astype(str).to_numpy(dtype=object)
    rank = pd.Series(level, dtype=object).map({lv: i for i, lv in enumerate(LEVELS)}).fillna(len(LEVELS))
    near = rank.to_numpy(dtype=float) <= LEVELS.index(max_level)
    has = np.isfinite(value)
    note = res.notes.reindex(idx).fillna("").astype(str).to_numpy(dtype=object)
    reason = np.where(has, "comparable transactions (" + note + ")", "no usable comparables (" + note + ")")
    far = has & ~near
    reason = np.where(
        far,
        reason + f"; farther than the same IPC {max_level} (market_max_level): shown, not weighed",
        reason,
    )
    return MarketValues(value, low, high, has & near, reason.astype(object), res)
