"""ipvalue: value patent portfolios and turn them into pledge-eligible collateral for bank loans.

The public names are loaded lazily so that ``import ipvalue`` does no work beyond reading this file and the
error tree: numpy, pandas and pydantic are imported when a name that needs them is first used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ipvalue._version import __version__
from ipvalue.errors import InputError, IpvalueError, Problem

if TYPE_CHECKING:  # pragma: no cover
    from ipvalue import collateral, options, profile, quality, report, terms, valuation
    from ipvalue.collateral import CollateralAssessment, Loan, assess_collateral
    from ipvalue.facts.comparables import read_comparables
    from ipvalue.facts.io import PortfolioError, read_portfolio
    from ipvalue.facts.numbers import PatentNumberError, normalize_number
    from ipvalue.facts.patent import Patent
    from ipvalue.profile import BorrowerProfile, profile_borrower
    from ipvalue.valuation import value_portfolio

__all__ = [
    "__version__",
    "Patent",
    "PatentNumberError",
    "IpvalueError",
    "InputError",
    "Problem",
    "PortfolioError",
    "normalize_number",
    "read_portfolio",
    "read_comparables",
    "value_portfolio",
    "assess_collateral",
    "Loan",
    "CollateralAssessment",
    "profile_borrower",
    "BorrowerProfile",
    "terms",
    "options",
    "quality",
    "valuation",
    "collateral",
    "report",
    "profile",
]

_LAZY = {
    "Patent": ("ipvalue.facts.patent", "Patent"),
    "PatentNumberError": ("ipvalue.facts.numbers", "PatentNumberError"),
    "normalize_number": ("ipvalue.facts.numbers", "normalize_number"),
    "read_portfolio": ("ipvalue.facts.io", "read_portfolio"),
    "PortfolioError": ("ipvalue.facts.io", "PortfolioError"),
    "read_comparables": ("ipvalue.facts.comparables", "read_comparables"),
    "value_portfolio": ("ipvalue.valuation", "value_portfolio"),
    "assess_collateral": ("ipvalue.collateral", "assess_collateral"),
    "Loan": ("ipvalue.collateral", "Loan"),
    "CollateralAssessment": ("ipvalue.collateral", "CollateralAssessment"),
    "profile_borrower": ("ipvalue.profile", "profile_borrower"),
    "BorrowerProfile": ("ipvalue.profile", "BorrowerProfile"),
}
_SUBMODULES = {"terms", "options", "quality", "valuation", "collateral", "report", "profile"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        value = importlib.import_module(f"ipvalue.{name}")
        globals()[name] = value
        return value
    raise AttributeError(f"module 'ipvalue' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
