"""Patent valuation: income, cost, real-option and market methods, reconciled over a portfolio.

Kernels broadcast over numpy arrays (one patent: ``(years,)``; many: ``(patents, years)``).
:func:`value_portfolio` runs them over a portfolio frame as a list of stages (:mod:`ipvalue.valuation.kernel`).
``deferral_option`` comes from :mod:`ipvalue.valuation.methods.real_option` and is loaded on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from ipvalue.facts.columns import input_hash
from ipvalue.valuation.api import market_comparables, value_portfolio
from ipvalue.valuation.assumptions import INCOME_METHODS, Assumptions, resolve_assumptions
from ipvalue.valuation.inputs import ValuationInputError
from ipvalue.valuation.kernel import VALUATION_COLUMNS, VALUE_COLUMNS
from ipvalue.valuation.methods.cost import (
    CostResult,
    cost_value,
    depreciation_rate,
    multiplier_cost,
    reproduction_cost,
    trend_cost,
)
from ipvalue.valuation.methods.income import (
    IncomeResult,
    annuity_factor,
    contributory_asset_charge,
    equivalent_investment_share,
    excess_earnings,
    exponential_decay,
    income_period,
    linear_step_down,
    period_weights,
    profit_split,
    relief_from_royalty,
    tab_factor,
    with_and_without,
)
from ipvalue.valuation.reconcile import classify_situation, method_weights

__all__ = [
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
    "IncomeResult",
    "trend_cost",
    "multiplier_cost",
    "reproduction_cost",
    "depreciation_rate",
    "cost_value",
    "CostResult",
    "classify_situation",
    "method_weights",
    "deferral_option",
    "market_approach",
    "MarketResult",
    "value_portfolio",
    "market_comparables",
    "resolve_assumptions",
    "input_hash",
    "ValuationInputError",
    "VALUE_COLUMNS",
    "VALUATION_COLUMNS",
    "Assumptions",
    "INCOME_METHODS",
]


_METHODS = {"market_approach", "MarketResult"}


def __getattr__(name: str) -> Any:
    if name in _METHODS:
        value = getattr(importlib.import_module("ipvalue.valuation.methods.market"), name)
        globals()[name] = value
        return value
    if name == "deferral_option":
        value = importlib.import_module("ipvalue.valuation.methods.real_option").deferral_option
        globals()[name] = value
        return value
    raise AttributeError(f"module 'ipvalue.valuation' has no attribute {name!r}")
