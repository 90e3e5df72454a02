"""Facts of patents: numbers, the :class:`Patent` model, the portfolio frame and the readers of its columns.

Everything after this layer (terms, quality, valuation, collateral, connectors) reads facts through it.
"""

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
