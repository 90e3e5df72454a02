"""The valuation assumptions as one frozen, validated model (recorded in every result)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict

from ipvalue.valuation.portfolio import resolve_assumptions

__all__ = ["Assumptions"]


class Assumptions(BaseModel):
    """Every assumption of a valuation run, defaults from ``ipvalue/data/valuation_defaults.json`` filled in.

    Build it with :meth:`of` from ``None``, a dict of overrides or another model; the checks of
    :func:`ipvalue.valuation.resolve_assumptions` run first (ranges, known keys), then the types here.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    currency: str
    tax_rate: float
    revenue_growth: float
    discount_rate: float | None
    risk_free: float
    royalty_rate: float | None
    decay_rate: float | None
    volatility: float | None
    economic_life_years: float | None
    tab_years: float | None
    mid_year: bool
    decay_curve: str
    draws: int
    developer_profit_rate: float
    opportunity_rate: float | None
    development_years: float
    functional_obsolescence: float
    economic_obsolescence: float
    royalty_spread_relative: float
    discount_rate_sd: float
    life_spread_relative: float
    growth_sd: float
    volatility_log_sd: float
    chunk_patents: int
    term_errors: str
    allocation_weight: str | None
    method_weights: dict[str, dict[str, float]]
    royalty_ranges: dict[str, tuple[float, float]]
    discount_rate_build_up: dict[str, float]
    income_method: str
    profit_share: float | None
    profit_share_range: tuple[float, float]
    profit_share_decline: str
    profit_share_spread_relative: float
    patent_profit_rate: float
    licensee_profit_rate: float
    strict_dates: bool
    option_steps: int
    royalty_default_quantile: float

    @classmethod
    def of(cls, given: Any = None) -> Assumptions:
        """The model for ``given`` (None, a mapping of overrides, or an ``Assumptions``)."""
        if isinstance(given, Assumptions):
            return given
        return cls.model_validate(resolve_assumptions(given))

    def as_dict(self) -> dict[str, Any]:
        """The assumptions as the plain dict the engine reads (JSON types)."""
        return self.model_dump(mode="json")

    @classmethod
    def keys(cls) -> Mapping[str, Any]:
        """The assumption names and their types."""
        return {k: f.annotation for k, f in cls.model_fields.items()}
