"""Facts of patents: numbers, the :class:`Patent` model, the portfolio frame and the readers of its columns.

Everything after this layer (terms, quality, valuation, collateral, connectors) reads facts through it. The names
below load on first use, so importing a module of this package does not import pandas or pydantic before it
needs them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from ipvalue.facts.io import HEADER_ALIASES, PortfolioError, ReadIssue, read_portfolio
    from ipvalue.facts.numbers import PatentNumberError, normalize_number
    from ipvalue.facts.patent import Patent

__all__ = [
    "HEADER_ALIASES",
    "Patent",
    "PatentNumberError",
    "PortfolioError",
    "ReadIssue",
    "normalize_number",
    "read_portfolio",
]

_HOME = {
    "HEADER_ALIASES": "ipvalue.facts.io",
    "PortfolioError": "ipvalue.facts.io",
    "ReadIssue": "ipvalue.facts.io",
    "read_portfolio": "ipvalue.facts.io",
    "PatentNumberError": "ipvalue.facts.numbers",
    "normalize_number": "ipvalue.facts.numbers",
    "Patent": "ipvalue.facts.patent",
}


def __getattr__(name: str) -> Any:
    if name in _HOME:
        value = getattr(importlib.import_module(_HOME[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'ipvalue.facts' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
