"""The valuation methods, one module each: income, cost, real option, market.

Each module holds the published kernels of its approach and the valuation stage that applies them to a chunk
(``income_values``, ``cost_values``, ``option_values``; the market's in :mod:`.market_stage`). The market approach's
public names are loaded on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["market_approach", "MarketResult", "MarketInputError"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        value = getattr(importlib.import_module("ipvalue.valuation.methods.market"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'ipvalue.valuation.methods' has no attribute {name!r}")
