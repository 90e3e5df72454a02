"""Cost methods (成本法): reproduction and replacement cost less obsolescence.

``value = replacement cost x (1 - 贬值率) x (1 - functional obsolescence) x (1 - economic obsolescence)``.
The replacement cost is built up from the historical development cost trended to the valuation date by a price
index, plus the developer's profit, the opportunity cost of the money tied up during development and the
official fees actually paid (from :mod:`ipvalue.terms`), or from the 倍加系数法 (creative-labour multiplier).
All functions broadcast over numpy arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "CostResult",
    "trend_cost",
    "multiplier_cost",
    "reproduction_cost",
    "depreciation_rate",
    "cost_value",
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
