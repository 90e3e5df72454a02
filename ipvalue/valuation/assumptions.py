"""The valuation assumptions: defaults from ``ipvalue/data/valuation_defaults.json``, overrides checked, one frozen model.

:func:`resolve_assumptions` merges the overrides into the defaults and checks every range; :class:`Assumptions`
is the validated, frozen, serialisable result recorded in every valuation (``attrs["ipvalue"]["assumptions"]``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict

from ipvalue.valuation import reconcile as _rc
from ipvalue.valuation._data import load_defaults

__all__ = ["Assumptions", "resolve_assumptions", "INCOME_METHODS", "METHOD_LABELS", "method_key"]

#: income methods ``value_portfolio`` can apply per patent (the ``income_method`` column or assumption)
INCOME_METHODS: tuple[str, ...] = ("relief_from_royalty", "profit_split", "equivalent_investment")
METHOD_LABELS = {
    "relief_from_royalty": "relief from royalty",
    "profit_split": "profit split",
    "equivalent_investment": "equivalent-investment profit split",
}
# spellings accepted for each method (compared after lower-casing and turning spaces and hyphens into "_")
_METHOD_ALIASES: dict[str, str] = {
    **{m: m for m in INCOME_METHODS},
    "rfr": "relief_from_royalty",
    "节省许可费法": "relief_from_royalty",
    "许可费节省法": "relief_from_royalty",
    "分成法": "profit_split",
    "利润分成法": "profit_split",
    "约当投资": "equivalent_investment",
    "约当投资分成法": "equivalent_investment",
    "equivalent_investment_share": "equivalent_investment",
}


def method_key(text: str) -> str | None:
    """The method a spelling names (None when unknown)."""
    return _METHOD_ALIASES.get(text.strip().lower().replace("-", "_").replace(" ", "_"))


_SCALAR_KEYS = {
    "currency": str,
    "tax_rate": float,
    "revenue_growth": float,
    "discount_rate": float,
    "risk_free": float,
    "royalty_rate": float,
    "decay_rate": float,
    "volatility": float,
    "economic_life_years": float,
    "tab_years": float,
    "mid_year": bool,
    "decay_curve": str,
    "draws": int,
    "developer_profit_rate": float,
    "opportunity_rate": float,
    "development_years": float,
    "functional_obsolescence": float,
    "economic_obsolescence": float,
    "royalty_spread_relative": float,
    "discount_rate_sd": float,
    "life_spread_relative": float,
    "growth_sd": float,
    "volatility_log_sd": float,
    "chunk_patents": int,
    "term_errors": str,
    "allocation_weight": str,
    "income_method": str,
    "profit_share": float,
    "profit_share_range": lambda v: _rate_pair(v, "profit_share_range"),
    "profit_share_decline": str,
    "profit_share_spread_relative": float,
    "patent_profit_rate": float,
    "licensee_profit_rate": float,
    "strict_dates": bool,
    "option_steps": int,
    "royalty_default_quantile": float,
    "market_max_level": str,
}


def _rate_pair(v: Any, name: str) -> list[float]:
    """``(low, high)`` as two floats (checked for order and range by :func:`resolve_assumptions`)."""
    try:
        out = [float(x) for x in v]
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be (low, high), got {v!r}") from None
    if len(out) != 2:
        raise ValueError(f"{name} must be (low, high), got {v!r}")
    return out


#: IPC levels, nearest first (ipvalue.facts.industry.LEVELS)
_MARKET_LEVELS = ("group", "subclass", "class", "section")
_MAPPING_KEYS = ("method_weights", "royalty_ranges", "discount_rate_build_up")


def resolve_assumptions(assumptions: Any = None) -> dict[str, Any]:
    """Defaults from ``ipvalue/data/valuation_defaults.json`` overridden by ``assumptions``.

    Parameters
    ----------
    assumptions : dict or pydantic model, optional
        Keys: ``discount_rate``, ``tax_rate``, ``revenue_growth``, ``royalty_rate``, ``decay_rate``, ``volatility``,
        ``economic_life_years`` (defaults for patents whose row lacks them; the portfolio's own values win),
        ``risk_free``, ``tab_years`` (None: no tax amortisation benefit), ``mid_year``, ``decay_curve``
        (``"exponential"``, ``"linear"`` or ``"none"``), ``draws`` (0: point values only), ``method_weights``
        (situation -> method -> weight), ``royalty_ranges`` (industry -> (low, high)), ``discount_rate_build_up``
        (component -> rate), cost settings (``developer_profit_rate``, ``opportunity_rate``,
        ``development_years``, ``functional_obsolescence``, ``economic_obsolescence``), Monte Carlo spreads,
        ``term_errors`` (``"raise"`` or ``"coerce"``), ``allocation_weight`` (column name), ``currency``;
        income method: ``income_method`` (one of :data:`INCOME_METHODS`, for rows without an ``income_method``),
        ``profit_share`` (default share of profit, else ``profit_share_range`` positioned by the quality score),
        ``profit_share_decline`` (``"none"`` or ``"linear"``: 动态分成率), ``profit_share_spread_relative``,
        ``patent_profit_rate`` and ``licensee_profit_rate`` (约当投资 cost-profit rates).

    Returns
    -------
    dict
        The resolved assumptions (JSON-serialisable), as recorded in ``attrs["ipvalue"]["assumptions"]``.
    """
    given = _given(assumptions)
    out = _defaults()
    for k, v in given.items():
        if k in _MAPPING_KEYS:
            out[k] = _merged_mapping(k, v, out[k])
        elif v is None:
            out[k] = None
        else:
            out[k] = _SCALAR_KEYS[k](v)  # type: ignore[operator]
    if out["risk_free"] is None:
        out["risk_free"] = out["discount_rate_build_up"].get("risk_free", 0.0)
    _check_choices(out)
    _check_profit_share(out)
    _check_ranges(out)
    _rc.method_weights(np.array(list(_rc.SITUATIONS), dtype=object), out["method_weights"])  # validates
    return out


def _given(assumptions: Any) -> dict[str, Any]:
    """The overrides as a plain dict, every key known.

    Parameters
    ----------
    assumptions : dict or pydantic model or None
        As given to :func:`resolve_assumptions`; a model contributes its fields that are not None.

    Returns
    -------
    dict
        The overrides (empty for None).

    Raises
    ------
    TypeError
        Neither a mapping nor a pydantic model.
    ValueError
        An unknown key (all of them listed, with the known ones).
    """
    if assumptions is None:
        given: dict[str, Any] = {}
    elif hasattr(assumptions, "model_dump"):
        given = dict(assumptions.model_dump(exclude_none=True))
    elif isinstance(assumptions, Mapping):
        given = dict(assumptions)
    else:
        raise TypeError(f"assumptions must be a dict or a pydantic model, got {type(assumptions).__name__}")
    unknown = set(given) - set(_SCALAR_KEYS) - set(_MAPPING_KEYS)
    if unknown:
        raise ValueError(
            f"unknown assumption(s) {sorted(unknown)}; known: {sorted([*_SCALAR_KEYS, *_MAPPING_KEYS])}"
        )
    return given


def _defaults() -> dict[str, Any]:
    """Every assumption at its default, from ``ipvalue/data/valuation_defaults.json`` (fresh copies).

    Returns
    -------
    dict
        The defaults, in the order the resolved assumptions are recorded.
    """
    d = load_defaults()
    mc = d["monte_carlo"]
    bu = {k: v["value"] for k, v in d["discount_rate_build_up"].items() if isinstance(v, dict)}
    return {
        "currency": d["currency"],
        "tax_rate": d["tax_rate"]["value"],
        "revenue_growth": d["revenue_growth"]["value"],
        "discount_rate": None,
        "risk_free": None,
        "royalty_rate": None,
        "decay_rate": None,
        "volatility": None,
        "economic_life_years": None,
        "tab_years": None,
        "mid_year": False,
        "decay_curve": "exponential",
        "draws": int(mc["draws"]),
        "developer_profit_rate": d["cost"]["developer_profit_rate"]["value"],
        "opportunity_rate": d["cost"]["opportunity_rate"]["value"],
        "development_years": d["cost"]["development_years"]["value"],
        "functional_obsolescence": d["cost"]["functional_obsolescence"]["value"],
        "economic_obsolescence": d["cost"]["economic_obsolescence"]["value"],
        "royalty_spread_relative": mc["royalty_spread_relative"]["value"],
        "discount_rate_sd": mc["discount_rate_sd"]["value"],
        "life_spread_relative": mc["life_spread_relative"]["value"],
        "growth_sd": mc["growth_sd"]["value"],
        "volatility_log_sd": mc["volatility_log_sd"]["value"],
        "chunk_patents": int(mc["chunk_patents"]),
        "term_errors": "raise",
        "allocation_weight": None,
        "method_weights": {s: dict(d["reconciliation_weights"][s]) for s in _rc.SITUATIONS},
        "royalty_ranges": {},
        "discount_rate_build_up": bu,
        "income_method": d["income_method"]["value"],
        "profit_share": None,
        "profit_share_range": [float(d["profit_share"]["low"]), float(d["profit_share"]["high"])],
        "profit_share_decline": d["profit_share"]["decline"],
        "profit_share_spread_relative": mc["profit_share_spread_relative"]["value"],
        "patent_profit_rate": d["equivalent_investment"]["patent_profit_rate"]["value"],
        "licensee_profit_rate": d["equivalent_investment"]["licensee_profit_rate"]["value"],
        "strict_dates": False,
        "option_steps": 100,
        "royalty_default_quantile": 0.25,
        "market_max_level": d["reconciliation_weights"]["market_max_level"]["value"],
    }


def _merged_mapping(key: str, given: Any, default: dict[str, Any]) -> dict[str, Any]:
    """One of the mapping assumptions (:data:`_MAPPING_KEYS`) with the override applied.

    Parameters
    ----------
    key : str
        ``"method_weights"``, ``"royalty_ranges"`` or ``"discount_rate_build_up"``.
    given : Any
        The override.
    default : dict
        The current value: situations and build-up components merge into it; royalty ranges replace it.

    Returns
    -------
    dict
        The new value.

    Raises
    ------
    ValueError
        Not a mapping; an unknown situation; a royalty range outside ``0 <= low <= high <= 1``; a value that is
        not a number.
    """
    if not isinstance(given, Mapping):
        raise ValueError(f"assumption {key!r} must be a mapping, got {type(given).__name__}")
    if key == "method_weights":
        merged = {s: dict(w) for s, w in default.items()}
        for s, w in given.items():
            if s not in _rc.SITUATIONS:
                raise ValueError(f"method_weights: unknown situation {s!r}; use {list(_rc.SITUATIONS)}")
            merged[s] = {m: float(x) for m, x in dict(w).items()}
        return merged
    if key == "royalty_ranges":
        rr = {}
        for ind, lh in given.items():
            lo, hi = (float(x) for x in lh)
            if not (0.0 <= lo <= hi <= 1.0):
                raise ValueError(f"royalty_ranges[{ind!r}] must satisfy 0 <= low <= high <= 1, got {lh!r}")
            rr[str(ind)] = [lo, hi]
        return rr
    merged_bu = dict(default)
    for comp, x in given.items():
        merged_bu[str(comp)] = float(x)
    return merged_bu


def _check_choices(out: dict[str, Any]) -> None:
    """Check the worded settings; the income method is replaced by the method its spelling names.

    Parameters
    ----------
    out : dict
        The merged assumptions (changed in place: ``income_method``).

    Raises
    ------
    ValueError
        In this order: an unknown ``decay_curve``, ``term_errors``, ``income_method`` or
        ``profit_share_decline``.
    """
    if out["decay_curve"] not in ("exponential", "linear", "none"):
        raise ValueError(f"decay_curve must be 'exponential', 'linear' or 'none', got {out['decay_curve']!r}")
    if out["term_errors"] not in ("raise", "coerce"):
        raise ValueError(f"term_errors must be 'raise' or 'coerce', got {out['term_errors']!r}")
    method = method_key(str(out["income_method"]))
    if method is None:
        raise ValueError(
            f"income_method must be one of {', '.join(INCOME_METHODS)}, got {out['income_method']!r}"
        )
    out["income_method"] = method
    if out["profit_share_decline"] not in ("none", "linear"):
        raise ValueError(
            f"profit_share_decline must be 'none' or 'linear', got {out['profit_share_decline']!r}"
        )


def _check_profit_share(out: dict[str, Any]) -> None:
    """Check the profit-split settings: the share range, the two cost-profit rates, the share spread.

    Parameters
    ----------
    out : dict
        The merged assumptions.

    Raises
    ------
    ValueError
        In this order: ``profit_share_range`` outside ``0 <= low <= high <= 1``; a cost-profit rate not above
        -1; a negative (or NaN) ``profit_share_spread_relative``.
    """
    lo_s, hi_s = out["profit_share_range"]
    if not (0.0 <= lo_s <= hi_s <= 1.0):
        raise ValueError(
            f"profit_share_range must be (low, high) with 0 <= low <= high <= 1, got {out['profit_share_range']!r}"
        )
    for k in ("patent_profit_rate", "licensee_profit_rate"):
        if not out[k] > -1.0:
            raise ValueError(f"assumption {k} must be a cost-profit rate above -1, got {out[k]!r}")
    if not out["profit_share_spread_relative"] >= 0.0:
        raise ValueError("assumption profit_share_spread_relative must be >= 0")


#: the assumptions that are rates in [0, 1] when given, checked in this order
_UNIT_RATES = (
    "tax_rate",
    "discount_rate",
    "risk_free",
    "royalty_rate",
    "decay_rate",
    "developer_profit_rate",
    "functional_obsolescence",
    "economic_obsolescence",
    "opportunity_rate",
    "profit_share",
)


def _check_ranges(out: dict[str, Any]) -> None:
    """Check the market level and the numeric ranges.

    Parameters
    ----------
    out : dict
        The merged assumptions.

    Raises
    ------
    ValueError
        In this order: a ``market_max_level`` not in :data:`_MARKET_LEVELS`; negative ``draws``; a rate of
        :data:`_UNIT_RATES` outside [0, 1]; an ``economic_life_years`` or ``tab_years`` that is not positive.
    """
    if out["market_max_level"] not in _MARKET_LEVELS:
        raise ValueError(f"market_max_level must be one of {_MARKET_LEVELS}, got {out['market_max_level']!r}")
    if out["draws"] < 0:
        raise ValueError(f"draws must be >= 0, got {out['draws']}")
    for k in _UNIT_RATES:
        v = out[k]
        if v is not None and not (0.0 <= v <= 1.0):
            raise ValueError(f"assumption {k} must be a rate in [0, 1], got {v!r}")
    if out["economic_life_years"] is not None and not out["economic_life_years"] > 0:
        raise ValueError(
            f"assumption economic_life_years must be positive, got {out['economic_life_years']!r}"
        )
    if out["tab_years"] is not None and not out["tab_years"] > 0:
        raise ValueError(f"assumption tab_years must be positive, got {out['tab_years']!r}")


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
    market_max_level: str

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
