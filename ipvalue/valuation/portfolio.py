"""``value_portfolio``: income, cost and real-option values for every patent, reconciled into a range.

The whole computation is vectorised over the portfolio: economics are resolved column-wise, the income kernels run
on ``(patents, years)`` matrices in chunks, and the Monte Carlo range uses closed-form sums over ``(patents, draws)``
blocks. Each patent's draws come from its own random stream (:mod:`ipvalue._random`), so no patent's numbers depend
on row order or chunking.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtri

from ipvalue._random import patent_uniforms
from ipvalue.errors import InputError, Problem, summarise
from ipvalue.facts.columns import check_unique_ids, dates, flags, numbers, patent_ids, run_currency, texts
from ipvalue.valuation import reconcile as _rc
from ipvalue.valuation._data import decay_table, load_defaults, price_index, royalty_ranges
from ipvalue.valuation.cost import cost_value, reproduction_cost
from ipvalue.valuation.income import (
    equivalent_investment_share,
    income_period,
    profit_split,
    relief_from_royalty,
    tab_factor,
)
from ipvalue.valuation.notes import Notes, fmt, fmt_pct
from ipvalue.valuation.stages import facts_at_as_of, grant_adjustment, market_of, protects_market

__all__ = [
    "ValuationInputError",
    "VALUE_COLUMNS",
    "VALUATION_COLUMNS",
    "INCOME_METHODS",
    "resolve_assumptions",
    "value_frame",
]

#: columns value_portfolio adds (``currency`` is added or kept)
VALUE_COLUMNS: tuple[str, ...] = (
    "remaining_life_years",
    "quality_legal",
    "quality_technical",
    "quality_economic",
    "quality_score",
    "grant_probability",
    "status_as_of",
    "value_income",
    "value_cost",
    "value_market",
    "value_option",
    "method_weights",
    "value",
    "value_p05",
    "value_p50",
    "value_p95",
    "methods_used",
    "value_notes",
)
#: the one list of the columns valuation adds (collateral's stress test imports it)
VALUATION_COLUMNS: tuple[str, ...] = VALUE_COLUMNS
QUALITY_COLUMNS = ("quality_legal", "quality_technical", "quality_economic", "quality_score")
DEAD_STATUSES = ("lapsed", "expired", "revoked", "withdrawn")
#: income methods ``value_portfolio`` can apply per patent (the ``income_method`` column or assumption)
INCOME_METHODS: tuple[str, ...] = ("relief_from_royalty", "profit_split", "equivalent_investment")
_METHOD_LABELS = {
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


def _method_key(text: str) -> str | None:
    """The method a spelling names (None when unknown)."""
    return _METHOD_ALIASES.get(text.strip().lower().replace("-", "_").replace(" ", "_"))


LEGAL_STATUSES = ("pending", "granted", *DEAD_STATUSES)


class ValuationInputError(InputError):
    """Bad valuation input; names the patent(s) and the field.

    Attributes
    ----------
    problems : list of Problem (patent, field, message)
    """

    def __init__(self, problems: list[tuple[str, str, str]]):
        super().__init__(problems, message=summarise([Problem(*p) for p in problems], limit=10))


# ------------------------------------------------------------------------------------------ assumptions

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
    d = load_defaults()
    mc = d["monte_carlo"]
    bu = {k: v["value"] for k, v in d["discount_rate_build_up"].items() if isinstance(v, dict)}
    out: dict[str, Any] = {
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
        "method_weights": {s: dict(w) for s, w in d["reconciliation_weights"].items() if isinstance(w, dict)},
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
    }
    for k, v in given.items():
        if k in _MAPPING_KEYS:
            if not isinstance(v, Mapping):
                raise ValueError(f"assumption {k!r} must be a mapping, got {type(v).__name__}")
            if k == "method_weights":
                merged = {s: dict(w) for s, w in out[k].items()}
                for s, w in v.items():
                    if s not in _rc.SITUATIONS:
                        raise ValueError(
                            f"method_weights: unknown situation {s!r}; use {list(_rc.SITUATIONS)}"
                        )
                    merged[s] = {m: float(x) for m, x in dict(w).items()}
                out[k] = merged
            elif k == "royalty_ranges":
                rr = {}
                for ind, lh in v.items():
                    lo, hi = (float(x) for x in lh)
                    if not (0.0 <= lo <= hi <= 1.0):
                        raise ValueError(
                            f"royalty_ranges[{ind!r}] must satisfy 0 <= low <= high <= 1, got {lh!r}"
                        )
                    rr[str(ind)] = [lo, hi]
                out[k] = rr
            else:
                merged_bu = dict(out[k])
                for comp, x in v.items():
                    merged_bu[str(comp)] = float(x)
                out[k] = merged_bu
        elif v is None:
            out[k] = None
        else:
            out[k] = _SCALAR_KEYS[k](v)  # type: ignore[operator]
    if out["risk_free"] is None:
        out["risk_free"] = out["discount_rate_build_up"].get("risk_free", 0.0)
    if out["decay_curve"] not in ("exponential", "linear", "none"):
        raise ValueError(f"decay_curve must be 'exponential', 'linear' or 'none', got {out['decay_curve']!r}")
    if out["term_errors"] not in ("raise", "coerce"):
        raise ValueError(f"term_errors must be 'raise' or 'coerce', got {out['term_errors']!r}")
    method = _method_key(str(out["income_method"]))
    if method is None:
        raise ValueError(
            f"income_method must be one of {', '.join(INCOME_METHODS)}, got {out['income_method']!r}"
        )
    out["income_method"] = method
    if out["profit_share_decline"] not in ("none", "linear"):
        raise ValueError(
            f"profit_share_decline must be 'none' or 'linear', got {out['profit_share_decline']!r}"
        )
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
    if out["draws"] < 0:
        raise ValueError(f"draws must be >= 0, got {out['draws']}")
    for k in (
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
    ):
        v = out[k]
        if v is not None and not (0.0 <= v <= 1.0):
            raise ValueError(f"assumption {k} must be a rate in [0, 1], got {v!r}")
    if out["economic_life_years"] is not None and not out["economic_life_years"] > 0:
        raise ValueError(
            f"assumption economic_life_years must be positive, got {out['economic_life_years']!r}"
        )
    if out["tab_years"] is not None and not out["tab_years"] > 0:
        raise ValueError(f"assumption tab_years must be positive, got {out['tab_years']!r}")
    _rc.method_weights(np.array(list(_rc.SITUATIONS), dtype=object), out["method_weights"])  # validates
    return out


# ------------------------------------------------------------------------------------------ notes


# ------------------------------------------------------------------------------------------ inputs


def _income_methods(frame: pd.DataFrame, ids: np.ndarray, problems: list) -> np.ndarray:
    """The optional ``income_method`` column as codes into :data:`INCOME_METHODS` (NaN where not given).

    Each distinct spelling is looked up once; unknown ones are reported in ``problems`` naming the patent.
    """
    n = len(frame)
    if "income_method" not in frame.columns:
        return np.full(n, np.nan)
    codes, uniques = pd.factorize(frame["income_method"], use_na_sentinel=True)
    texts = [str(v).strip() for v in uniques]
    keys = [_method_key(t) if t else None for t in texts]
    lut = np.array(
        [
            np.nan if not t else (INCOME_METHODS.index(k) if k else -1.0)
            for t, k in zip(texts, keys, strict=True)
        ]
        + [np.nan],
        dtype=float,
    )
    out = lut[np.where(codes < 0, len(texts), codes)]
    for j in np.flatnonzero(out == -1.0)[:50]:
        problems.append(
            (
                ids[j],
                "income_method",
                f"patent {ids[j]}: field income_method {frame['income_method'].iloc[j]!r} is not one of "
                + ", ".join(INCOME_METHODS),
            )
        )
    return out


def _check_range(problems: list, ids: np.ndarray, col: str, x: np.ndarray, ok: np.ndarray, rule: str) -> None:
    bad = ~np.isnan(x) & ~ok
    for j in np.flatnonzero(bad)[:50]:
        problems.append((ids[j], col, f"patent {ids[j]}: field {col} {rule}, got {x[j]!r}"))


def _group_fill(values: np.ndarray, codes: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Fill NaN from the group's member with the smallest ``patent_id`` that has a value (codes < 0: no group).

    Taking the member by ``patent_id`` (not by row position) keeps the result independent of row order.
    """
    if (codes < 0).all():
        return values
    s = pd.Series(values[order])
    first_sorted = s.groupby(codes[order]).transform("first").to_numpy(dtype=float)
    first = np.empty_like(first_sorted)
    first[order] = first_sorted
    return np.where(np.isnan(values) & (codes >= 0), first, values)


def _forecast(
    frame: pd.DataFrame, ids: np.ndarray, problems: list
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Parse the optional ``revenue_forecast`` column: yearly revenues from year 1, ``;``-separated or a list.

    Returns the matrix ``(patents, years)`` (NaN past each row's horizon), the horizon per row and the
    normalised text (for the group consistency check); ``None`` when the column is absent. Gaps (an empty or
    NaN year followed by a number), non-numbers and negative values are reported in ``problems``.
    """
    if "revenue_forecast" not in frame.columns:
        return None
    raw = frame["revenue_forecast"].astype("object")
    listy = raw.map(lambda v: isinstance(v, (list, tuple, np.ndarray)))
    if listy.any():
        raw = raw.where(~listy, raw[listy].map(lambda v: ";".join("" if x is None else str(x) for x in v)))
    txt = (
        raw.where(raw.notna(), "").astype(str).str.strip().str.replace("；", ";", regex=False).str.rstrip(";")
    )
    n = len(frame)
    if (txt == "").all():
        return np.full((n, 0), np.nan), np.zeros(n, dtype=int), txt.to_numpy(dtype=object)
    parts = txt.str.split(";", expand=True)
    cells = parts.apply(lambda c: c.str.strip()).fillna("")
    nums = cells.apply(
        lambda c: pd.to_numeric(c.where(~c.str.lower().isin(["", "nan", "none"]), None), errors="coerce")
    )
    mat = nums.to_numpy(dtype=float, na_value=np.nan)
    present = ~cells.isin(["", "nan", "NaN", "none", "None"]).to_numpy()
    bad_num = present & np.isnan(mat)
    for i, j in np.argwhere(bad_num)[:20]:
        problems.append(
            (
                ids[i],
                "revenue_forecast",
                f"patent {ids[i]}: field revenue_forecast year {j + 1} is not a number: {cells.iat[i, j]!r}",
            )
        )
    has = ~np.isnan(mat)
    horizon = np.where(has.any(axis=1), mat.shape[1] - np.argmax(has[:, ::-1], axis=1), 0)
    gap = ~has & (np.arange(mat.shape[1])[None, :] < horizon[:, None]) & ~bad_num
    for i, j in np.argwhere(gap)[:20]:
        problems.append(
            (
                ids[i],
                "revenue_forecast",
                f"patent {ids[i]}: field revenue_forecast has a gap at year {j + 1}: give every year a number (0 for none)",
            )
        )
    neg = has & (mat < 0) | np.isinf(mat)
    for i, j in np.argwhere(neg)[:20]:
        problems.append(
            (
                ids[i],
                "revenue_forecast",
                f"patent {ids[i]}: field revenue_forecast year {j + 1} must be a finite number >= 0, got {mat[i, j]!r}",
            )
        )
    return mat, horizon.astype(int), txt.to_numpy(dtype=object)


# ------------------------------------------------------------------------------------------ the parts


def _remaining_life(
    frame: pd.DataFrame, as_of: dt.date, a: dict, notes: Notes
) -> tuple[np.ndarray, np.ndarray]:
    """Remaining legal life (years) and expiry date (datetime64[D]) of every row, from :mod:`ipvalue.terms`."""
    from ipvalue.terms import life_table

    tbl = life_table(frame, as_of, errors=a["term_errors"])
    life = tbl["remaining_life_years"].to_numpy(dtype=float)
    expiry = pd.to_datetime(tbl["expiry_date"]).to_numpy(dtype="datetime64[D]")
    reason = tbl["lapse_reason"].astype("object").fillna("").to_numpy(dtype=object)
    tnote = tbl["term_note"].astype("object").fillna("").to_numpy(dtype=object)
    prob = tbl["term_problem"].astype("object").fillna("").to_numpy(dtype=object)
    notes.add((life <= 0) & (reason != ""), "no remaining life (" + reason + "): value 0")
    notes.add((life <= 0) & (reason == ""), "no remaining life: value 0")
    notes.add(tnote != "", tnote)
    notes.add(np.isnan(life), "remaining life unknown (" + prob + "): not valued")
    return life, expiry


def _quality(
    frame: pd.DataFrame, as_of: dt.date, life: np.ndarray, cohort: dict | None = None
) -> tuple[pd.DataFrame, str]:
    """Quality columns (and ``quality_coverage``): kept when the frame has them, else from :mod:`ipvalue.quality`."""
    if all(c in frame.columns for c in QUALITY_COLUMNS):
        cols = [*QUALITY_COLUMNS, *(["quality_coverage"] if "quality_coverage" in frame.columns else [])]
        return frame.loc[:, cols], "given"
    from ipvalue.quality import score_quality

    if cohort is None:
        scored = score_quality(frame, as_of=as_of, remaining_life_years=life)
    else:
        scored = score_quality(frame, as_of=as_of, remaining_life_years=life, cohort_quantiles=cohort)
    cols = [*QUALITY_COLUMNS, *(["quality_coverage"] if "quality_coverage" in scored.columns else [])]
    return scored.loc[:, cols], "computed"


def _royalty_position(score: np.ndarray, coverage: np.ndarray | None) -> np.ndarray:
    """Position inside the royalty range from the quality score (0.5 where there is none)."""
    from ipvalue.quality import royalty_position

    return np.asarray(royalty_position(score, coverage), dtype=float)


def _fees_paid(
    frame: pd.DataFrame, as_of: dt.date, currency: str, notes: Notes, rows: np.ndarray
) -> np.ndarray | None:
    """Renewal fees actually paid (from :func:`ipvalue.terms.fees_paid_to_date`) in the valuation currency.

    Fees in another currency or of offices the terms module does not model are left out, with a note.
    """
    from ipvalue.terms import fees_paid_to_date

    out = np.zeros(len(frame))
    if not rows.any():
        return out
    # in blocks of rows, which bounds the memory of the per-fee event table the terms module builds
    where = np.flatnonzero(rows)
    amt = np.empty(len(where))
    fcur = np.empty(len(where), dtype=object)
    step = 50_000
    for start in range(0, len(where), step):
        tbl: Any = fees_paid_to_date(frame.iloc[where[start : start + step]], as_of)
        amt[start : start + step] = tbl["fees_paid"].to_numpy(dtype=float, na_value=np.nan)
        fcur[start : start + step] = texts(tbl, "fee_currency")
    usable = np.isfinite(amt) & (fcur == currency)
    sub = np.where(usable, amt, 0.0)
    out[rows] = sub
    mask = np.zeros(len(frame), bool)
    mask[rows] = usable & (amt > 0)
    notes.add(
        mask,
        "cost includes renewal fees paid " + fmt(np.round(out, 0), "{:,.0f}"),
    )
    mask_other = np.zeros(len(frame), bool)
    mask_other[rows] = np.isfinite(amt) & (fcur != currency)
    notes.add(mask_other, "renewal fees paid in another currency: not in the cost")
    mask_nm = np.zeros(len(frame), bool)
    mask_nm[rows] = ~np.isfinite(amt)
    notes.add(mask_nm, "renewal fees of this office not modelled: not in the cost")
    return out


def _cpc_field(cpc: np.ndarray, table: pd.DataFrame) -> np.ndarray:
    """Technology field of the first CPC code by the longest matching prefix (matched once per distinct code)."""
    codes, raw = pd.factorize(pd.Series(cpc, dtype=object))
    uniques = [str(v).split(";")[0].replace(" ", "").upper() for v in raw]
    uniq = np.asarray(uniques, dtype=object)
    field_u = np.full(len(uniq), "default", dtype=object)
    best = np.zeros(len(uniq), dtype=int)
    for fld, prefixes in zip(table["field"], table["cpc_prefixes"], strict=True):
        for p in str(prefixes).split():
            hit = np.fromiter((u.startswith(p.upper()) for u in uniq), dtype=bool, count=len(uniq)) & (
                len(p) > best
            )
            field_u[hit] = fld
            best[hit] = len(p)
    return np.where(codes < 0, "default", field_u[np.maximum(codes, 0)]).astype(object)


@dataclass
class _Econ:
    ids: np.ndarray
    status: np.ndarray
    life_legal: np.ndarray
    period: np.ndarray
    revenue: np.ndarray
    growth: np.ndarray
    royalty: np.ndarray
    royalty_low: np.ndarray
    royalty_high: np.ndarray
    royalty_given: np.ndarray
    tax: np.ndarray
    discount: np.ndarray
    decay: np.ndarray
    volatility: np.ndarray
    launch_cost: np.ndarray
    situation: np.ndarray
    econ_life_given: np.ndarray
    extra: dict = field(default_factory=dict)


# ------------------------------------------------------------------------------------------ closed forms for draws


def _geometric_pv(x: np.ndarray, life: np.ndarray) -> np.ndarray:
    """``sum_{t=1}^{m} x^t + f x^{m+1}`` with ``m = floor(life)``, ``f = life - m`` (x > 0).

    ``(x - x^{m+1}) / (1 - x) + f x^{m+1}``; within 1e-6 of ``x = 1`` the first-order expansion
    ``m + (x - 1) m (m + 1) / 2`` (error of order ``m^3 (x - 1)^2``) avoids the cancellation.
    """
    m = np.floor(life)
    xm1 = np.exp((m + 1.0) * np.log(x))
    one_m_x = 1.0 - x
    near = np.abs(one_m_x) < 1e-6
    with np.errstate(divide="ignore", invalid="ignore"):
        full = np.where(near, m - one_m_x * m * (m + 1.0) / 2.0, (x - xm1) / np.where(near, 1.0, one_m_x))
    return full + (life - m) * xm1


def _loop_income(
    revenue: np.ndarray,
    g: np.ndarray,
    decay: np.ndarray,
    r: np.ndarray,
    life: np.ndarray,
    fmat: np.ndarray,
    horizon: np.ndarray,
    last: np.ndarray,
    n_years: int,
    linear: bool,
    *,
    extra_step: bool = False,
) -> np.ndarray:
    """Year-by-year PV of the revenue path (forecast, then growth) per draw: ``(patents, draws)``.

    Used for draws of patents with a revenue forecast or under the linear step-down; the others use the closed
    form :func:`_geometric_pv`. ``extra_step`` applies the step-down (once more) for a declining profit share.
    """
    acc = np.zeros(np.broadcast_shapes(g.shape, r.shape, life.shape))
    disc = np.ones_like(acc)
    dec = np.ones((len(revenue), 1))
    h = horizon[:, None].astype(float)
    start = np.where(horizon > 0, last, revenue)[:, None]
    for t in range(1, n_years + 1):
        disc = disc / (1.0 + r)
        dec = dec * (1.0 - decay)
        base = start * (1.0 + g) ** (t - h)
        if t <= fmat.shape[1]:
            base = np.where(t <= h, fmat[:, t - 1 : t], base)
        w = np.clip(life - (t - 1.0), 0.0, 1.0)
        if linear or extra_step:
            with np.errstate(divide="ignore", invalid="ignore"):
                step = np.where(
                    life > 0, np.clip((life - t + 1.0) / np.where(life > 0, life, 1.0), 0.0, 1.0), 0.0
                )
            if linear:
                w = w * step
            if extra_step:
                w = w * step
        acc += base * dec * disc * w
    return acc


# ------------------------------------------------------------------------------------------ main


def _revenue_path(
    revenue: np.ndarray,
    growth: np.ndarray,
    fmat: np.ndarray,
    horizon: np.ndarray,
    last: np.ndarray,
    n_years: int,
) -> np.ndarray:
    """Revenue in years ``1..n_years``, shaped ``(patents, n_years)``.

    The forecast where given, then growth from its last year; else ``revenue * (1 + g) ** t``.
    """
    t = np.arange(1, n_years + 1, dtype=float)[None, :]
    h = horizon[:, None].astype(float)
    start = np.where(horizon > 0, last, revenue)[:, None]
    grown = start * (1.0 + growth) ** (t - h)
    if fmat.shape[1] == 0 or not (horizon > 0).any():
        return grown
    fm = np.full((len(revenue), n_years), np.nan)
    k = min(n_years, fmat.shape[1])
    fm[:, :k] = fmat[:, :k]
    return np.where(t <= h, fm, grown)


def _year_weights(life: np.ndarray, n_years: int, linear: bool) -> np.ndarray:
    """Share of year ``t`` inside the income period, times the linear step-down factor when asked."""
    t = np.arange(1, n_years + 1, dtype=float)[None, :]
    w = np.clip(life - (t - 1.0), 0.0, 1.0)
    if linear:
        with np.errstate(divide="ignore", invalid="ignore"):
            w = w * np.where(
                life > 0, np.clip((life - t + 1.0) / np.where(life > 0, life, 1.0), 0.0, 1.0), 0.0
            )
    return w


def _step_down(life: np.ndarray, n_years: int) -> np.ndarray:
    """Linear step-down ``(N - t + 1) / N`` of year ``t`` in an income period ``N`` (动态分成率), 0 when N = 0."""
    t = np.arange(1, n_years + 1, dtype=float)[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(life > 0, np.clip((life - t + 1.0) / np.where(life > 0, life, 1.0), 0.0, 1.0), 0.0)


def _allocation(
    frame: pd.DataFrame,
    a: dict[str, Any],
    ids: np.ndarray,
    codes: np.ndarray,
    group_names: Any,
    dead: np.ndarray,
    life_legal: np.ndarray,
    qscore: np.ndarray,
    qsource: str,
    group_rev: np.ndarray,
    group_k: np.ndarray,
    notes: Notes,
) -> np.ndarray:
    """Each patent's share of its group's totals (1 outside groups, 0 for dead patents in a group).

    Weights: the ``allocation_weight`` assumption's column, else ``quality_score``, else equal; a live patent
    without a weight gets its group's mean weight.
    """
    n = len(frame)
    in_group = codes >= 0
    if not in_group.any():
        return np.ones(n)
    wcol = a["allocation_weight"]
    if wcol is not None:
        if wcol not in frame.columns:
            raise ValuationInputError(
                [("", wcol, f"allocation weight column {wcol!r} is not in the portfolio")]
            )
        w = numbers(frame, wcol, ids=ids, error=ValuationInputError)
        problems: list[tuple[str, str, str]] = []
        _check_range(problems, ids, wcol, w, w >= 0, "must be a weight >= 0")
        if problems:
            raise ValuationInputError(problems)
        wname = wcol
    elif qsource != "absent" and np.isfinite(qscore).any():
        w, wname = qscore.copy(), "quality_score"
    else:
        w, wname = np.ones(n), "equal weights"
    live = in_group & ~dead & ~np.isnan(life_legal)
    # group sums over each group's members in patent_id order, one group at a time (np.add.reduceat), so that a
    # group's totals do not depend on the row order nor on the other rows of the frame (pandas' grouped sums do)
    order = np.lexsort((ids, codes))
    sc = codes[order]
    starts = np.flatnonzero(np.r_[True, sc[1:] != sc[:-1]])

    def by_group(values: np.ndarray, how: str) -> np.ndarray:
        v = values[order]
        known = ~np.isnan(v)
        total = np.add.reduceat(np.where(known, v, 0.0), starts)
        if how == "mean":
            count = np.add.reduceat(known.astype(float), starts)
            with np.errstate(invalid="ignore", divide="ignore"):
                total = np.where(count > 0, total / np.where(count > 0, count, 1.0), np.nan)
        out = np.empty(n)
        out[order] = np.repeat(total, np.diff(np.r_[starts, n]))
        return out

    gmean = by_group(np.where(live, w, np.nan), "mean")
    filled = np.where(live & np.isnan(w), gmean, w)
    filled = np.where(live, np.nan_to_num(filled, nan=1.0), 0.0)
    gsum = by_group(filled, "sum")
    gcount = by_group(live.astype(float), "sum")
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(
            gsum > 0,
            filled / np.where(gsum > 0, gsum, 1.0),
            np.where(gcount > 0, live / np.maximum(gcount, 1.0), 0.0),
        )
    alloc = np.where(in_group, share, 1.0)
    has_total = in_group & (np.isfinite(group_rev) | np.isfinite(group_k)) & live
    gname = np.asarray(group_names, dtype=object)[np.where(in_group, codes, 0)]
    notes.add(has_total, "group " + gname + ": " + fmt_pct(alloc, 1) + " of the group's revenue by " + wname)
    return alloc


def _trend_factor(rd_year: np.ndarray, day: dt.date) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CPI factor from ``rd_year`` to the valuation year (1 where the year is missing or before the table).

    Returns the factor, the price level of ``rd_year`` (NaN where unknown) and the table's years.
    """
    years_idx, cpi = price_index()
    factor = np.ones(len(rd_year))
    lvl_then = np.full(len(rd_year), np.nan)
    has_year = np.isfinite(rd_year)
    if has_year.any():
        lvl_then = np.interp(rd_year, years_idx, cpi, left=np.nan, right=cpi[-1])
        lvl_now = float(np.interp(day.year, years_idx, cpi, right=cpi[-1]))
        factor = np.where(
            has_year & np.isfinite(lvl_then), lvl_now / np.where(np.isfinite(lvl_then), lvl_then, 1.0), 1.0
        )
    return factor, lvl_then, years_idx


def _cost_values(
    frame: pd.DataFrame,
    x: dict[str, np.ndarray],
    day: dt.date,
    a: dict[str, Any],
    notes: Notes,
    dead: np.ndarray,
    life_legal: np.ndarray,
    period: np.ndarray,
    currency: str,
) -> np.ndarray:
    """Cost approach for every patent (NaN with a note where it cannot apply, 0 for dead patents).

    Trended ``rd_cost`` plus developer's profit, opportunity cost and fees paid, less 贬值率 and obsolescence.
    """
    rd = x["rd_cost"]
    rd_year = x["rd_year"]
    factor, lvl_then, years_idx = _trend_factor(rd_year, day)
    has_year = np.isfinite(rd_year)
    if has_year.any():
        notes.add(
            np.isfinite(rd) & ~dead & has_year & np.isfinite(lvl_then),
            "cost trended by CPI x" + fmt(np.round(factor, 3), "{:.3f}"),
        )
        notes.add(
            np.isfinite(rd) & ~dead & (day.year > years_idx[-1]),
            f"CPI table ends {int(years_idx[-1])}: later years held flat",
        )
        notes.add(
            np.isfinite(rd) & ~dead & has_year & ~np.isfinite(lvl_then),
            f"rd_year before the CPI table ({int(years_idx[0])}): cost not trended",
        )
    notes.add(np.isfinite(rd) & ~dead & ~has_year, "rd_year missing: cost not trended")
    fees = _fees_paid(frame, day, currency, notes, np.isfinite(rd) & ~dead & ~np.isnan(life_legal))
    fees_arr = np.zeros(len(frame)) if fees is None else fees
    opp = a["opportunity_rate"] if a["opportunity_rate"] is not None else a["risk_free"]
    filing = (
        pd.to_datetime(frame["filing_date"])
        if "filing_date" in frame.columns
        else pd.Series(pd.NaT, index=frame.index)
    )
    used = ((pd.Timestamp(day) - filing).dt.days / 365.25).to_numpy(dtype=float, na_value=np.nan)
    used = np.clip(used, 0.0, None)
    cost_ok = np.isfinite(rd) & ~dead & np.isfinite(period) & np.isfinite(used)
    value_cost = np.where(dead, 0.0, np.nan)
    if cost_ok.any():
        rc = reproduction_cost(
            rd[cost_ok] * factor[cost_ok],
            developer_profit_rate=a["developer_profit_rate"],
            opportunity_rate=opp,
            development_years=a["development_years"],
            fees_paid=fees_arr[cost_ok],
        )
        cv = cost_value(
            rc,
            used[cost_ok],
            period[cost_ok],
            functional_obsolescence=a["functional_obsolescence"],
            economic_obsolescence=a["economic_obsolescence"],
        )
        value_cost[cost_ok] = cv.value
        notes.add(cost_ok, "cost: 贬值率 " + fmt_pct(np.asarray(_dep(used, period)), 1))
    notes.add(~dead & ~np.isfinite(rd), "cost: no rd_cost, method not applied")
    notes.add(~dead & np.isfinite(rd) & ~np.isfinite(used), "cost: filing_date missing, method not applied")
    return value_cost


def _input_rules(year: int) -> tuple[tuple[str, Any, str], ...]:
    """(column, test on the non-NaN values, rule in words) for the numeric economics."""
    fin = np.isfinite
    return (
        ("revenue", lambda v: fin(v) & (v >= 0), "must be a finite number >= 0"),
        ("revenue_growth", lambda v: (v > -1) & (v <= 1), "must be a rate in (-1, 1]"),
        ("royalty_rate", lambda v: (v >= 0) & (v <= 1), "must be a rate in [0, 1]"),
        ("profit_share", lambda v: (v >= 0) & (v <= 1), "must be a rate in [0, 1]"),
        ("profit_margin", lambda v: (v >= -1) & (v <= 1), "must be a rate in [-1, 1]"),
        ("tax_rate", lambda v: (v >= 0) & (v < 1), "must be a rate in [0, 1)"),
        ("discount_rate", lambda v: (v >= 0) & (v <= 1), "must be a rate in [0, 1]"),
        ("economic_life_years", lambda v: fin(v) & (v > 0), "must be a positive number of years"),
        ("rd_cost", lambda v: fin(v) & (v >= 0), "must be a finite number >= 0"),
        ("rd_year", lambda v: (v >= 1900) & (v <= year), f"must be a year between 1900 and {year}"),
        ("commercialization_cost", lambda v: fin(v) & (v >= 0), "must be a finite number >= 0"),
        ("volatility", lambda v: (v > 0) & (v <= 5), "must be a positive number (at most 5)"),
        ("decay_rate", lambda v: (v >= 0) & (v < 1), "must be a rate in [0, 1)"),
    )


def value_frame(
    portfolio: pd.DataFrame,
    a: dict[str, Any],
    day: dt.date,
    seed: int,
    *,
    currency: str | None = None,
    cohort: dict | None = None,
) -> pd.DataFrame:
    """The pure per-chunk valuation: every backend runs this on each chunk (the serial run on the whole frame).

    ``currency`` and ``cohort`` (the quality cohort caps) are the book-level results of the first pass when the
    frame is one chunk of a larger book; omitted, they come from the frame itself. Rows of a ``group`` must all be
    in the same chunk. Returns the frame with :data:`VALUE_COLUMNS` and ``currency`` (no ``attrs``).
    """
    book_currency = currency
    frame = portfolio.copy(deep=False)  # copy-on-write: the caller's frame is never modified
    ids = patent_ids(frame)
    n = len(frame)
    problems: list[tuple[str, str, str]] = []
    check_unique_ids(ids, error=ValuationInputError)
    notes = Notes(n)

    # ---- currency
    cur = texts(frame, "currency")
    first_seen = {c: ids[np.flatnonzero(cur == c)[0]] for c in sorted(set(cur[cur != ""]))}
    currency = run_currency(first_seen, a["currency"], error=ValuationInputError)
    if book_currency is not None:
        currency = book_currency

    # ---- status
    status = texts(frame, "legal_status", lower=True)
    if "legal_status" not in frame.columns:
        status[:] = "granted"
        notes.add(np.ones(n, bool), "legal_status not given: granted assumed")
    missing_status = status == ""
    for j in np.flatnonzero(missing_status)[:50]:
        problems.append((ids[j], "legal_status", f"patent {ids[j]}: field legal_status is missing"))
    for j in np.flatnonzero(~missing_status & ~np.isin(status, LEGAL_STATUSES))[:50]:
        problems.append(
            (
                ids[j],
                "legal_status",
                f"patent {ids[j]}: field legal_status {status[j]!r} is not one of {', '.join(LEGAL_STATUSES)}",
            )
        )

    # ---- numbers
    cols = (
        "revenue",
        "revenue_growth",
        "royalty_rate",
        "profit_share",
        "profit_margin",
        "tax_rate",
        "discount_rate",
        "economic_life_years",
        "rd_cost",
        "rd_year",
        "commercialization_cost",
        "volatility",
        "decay_rate",
    )
    x = {c: numbers(frame, c, ids=ids, error=ValuationInputError) for c in cols}
    chk = _check_range
    for col, ok, rule in _input_rules(day.year):
        chk(problems, ids, col, x[col], ok(x[col]), rule)
    commercialized = flags(frame, "commercialized", ids=ids, error=ValuationInputError)
    method_given = _income_methods(frame, ids, problems)
    fc = _forecast(frame, ids, problems)

    # ---- groups
    grp = texts(frame, "group")
    codes, group_names = pd.factorize(np.where(grp == "", np.array(None), grp))
    codes = np.asarray(codes)
    in_group = codes >= 0
    id_order = np.argsort(ids, kind="stable") if in_group.any() else np.arange(n)
    for col in ("revenue", "commercialization_cost"):
        v = x[col]
        if in_group.any():
            s = pd.Series(v[in_group])
            nun = s.groupby(codes[in_group]).nunique()
            for gcode in nun.index[nun.to_numpy() > 1][:10]:
                members = np.flatnonzero(codes == gcode)
                vals = ", ".join(f"{ids[j]}: {v[j]:g}" for j in members if not np.isnan(v[j]))
                problems.append(
                    (
                        ids[members[0]],
                        col,
                        f"group {group_names[gcode]!r}: field {col} differs between its patents ({vals}); give the group's total once or the same on every row",
                    )
                )
    if problems:
        raise ValuationInputError(problems)
    for col in (
        "revenue_growth",
        "royalty_rate",
        "profit_share",
        "profit_margin",
        "tax_rate",
        "discount_rate",
        "economic_life_years",
        "volatility",
        "decay_rate",
    ):
        x[col] = _group_fill(x[col], codes, id_order)
    commercialized = _group_fill(commercialized, codes, id_order)
    method_given = _group_fill(method_given, codes, id_order)
    group_rev = _group_fill(x["revenue"], codes, id_order)
    group_k = _group_fill(x["commercialization_cost"], codes, id_order)

    # ---- facts at as_of: status on the day, remaining life, quality
    life_legal, expiry = _remaining_life(frame, day, a, notes)
    at = facts_at_as_of(
        status,
        dates(frame, "filing_date", ids=ids, error=ValuationInputError),
        dates(frame, "grant_date", ids=ids, error=ValuationInputError),
        expiry,
        day,
        ids,
        strict=bool(a["strict_dates"]),
        error=ValuationInputError,
        notes=notes,
    )
    status = at.status
    life_legal = np.where(at.not_filed | at.expired, 0.0, life_legal)
    dead = np.isin(status, (*DEAD_STATUSES, "not_filed")) | (life_legal <= 0)
    qframe = frame
    if "legal_status" in frame.columns and (at.not_filed | at.granted_later | at.expired).any():
        qframe = frame.assign(legal_status=np.where(status == "not_filed", "withdrawn", status))
    qual, qsource = _quality(qframe, day, life_legal, cohort)
    qscore = qual["quality_score"].to_numpy(dtype=float, na_value=np.nan) if len(qual) else np.full(n, np.nan)

    # ---- territories: a product line's revenue belongs to one market, shared only by the patents protecting it
    juris = texts(frame, "jurisdiction", upper=True)
    market, market_given = market_of(frame, juris)
    market = _group_market(market, market_given, juris, codes, group_names, ids)
    protects = protects_market(juris, market)
    notes.add(
        ~protects & ~dead & (np.isfinite(x["revenue"]) | np.isfinite(group_rev)),
        "market " + market + " not protected by a " + juris + " patent: no share of its revenue",
    )

    # ---- allocation of group totals
    alloc = _allocation(
        frame,
        a,
        ids,
        codes,
        group_names,
        dead | ~protects,
        life_legal,
        qscore,
        qsource,
        group_rev,
        group_k,
        notes,
    )
    x["revenue"] = np.where(protects, x["revenue"], np.nan)
    revenue = np.where(in_group, group_rev * alloc, x["revenue"])
    revenue = np.where(protects, revenue, np.nan)
    launch_cost = np.where(in_group, group_k * alloc, x["commercialization_cost"])
    # revenue forecast: the matrix, each row's horizon and the last forecast year (growth applies after it)
    if fc is not None and fc[0].shape[1] > 0:
        fmat, horizon = fc[0], fc[1]
        if in_group.any():
            # rows of a group without a forecast take the group's (from its member with the smallest patent_id)
            pos = pd.Series(np.where(horizon > 0, np.arange(n), -1)[id_order])
            src_sorted = pos.where(pos >= 0).groupby(codes[id_order]).transform("first").to_numpy(dtype=float)
            src = np.empty(n)
            src[id_order] = src_sorted
            take = in_group & (horizon == 0) & np.isfinite(src)
            fmat = fmat.copy()
            fmat[take] = fmat[src[take].astype(int)]
            horizon = np.where(take, horizon[np.where(take, src, 0).astype(int)], horizon)
            fmat = np.where(in_group[:, None], fmat * alloc[:, None], fmat)
        fmat = np.where(np.arange(fmat.shape[1])[None, :] < horizon[:, None], fmat, np.nan)
        last_fc = np.where(horizon > 0, fmat[np.arange(n), np.maximum(horizon - 1, 0)], np.nan)
        revenue = np.where(horizon > 0, fmat[:, 0], revenue)
        notes.add(
            horizon > 0,
            "revenue forecast of " + fmt(horizon, "{:.0f}") + " years, then growth",
        )
    else:
        fmat, horizon, last_fc = np.full((n, 0), np.nan), np.zeros(n, dtype=int), np.full(n, np.nan)

    # ---- defaults (noted only for live patents with revenue, where they matter)
    live_rev = np.isfinite(revenue) & ~dead
    growth = x["revenue_growth"].copy()
    m = np.isnan(growth) & np.isfinite(revenue)
    growth[m] = a["revenue_growth"]
    notes.add(m & live_rev, f"revenue_growth default {a['revenue_growth']:.1%}")
    tax = x["tax_rate"].copy()
    m = np.isnan(tax) & np.isfinite(revenue)
    tax[m] = a["tax_rate"]
    notes.add(m & live_rev, f"tax_rate default {a['tax_rate']:.1%}")
    disc = x["discount_rate"].copy()
    m = np.isnan(disc)
    if a["discount_rate"] is not None:
        disc[m] = a["discount_rate"]
        notes.add(m & live_rev, f"discount_rate {a['discount_rate']:.1%} (assumption)")
    else:
        bu = a["discount_rate_build_up"]
        r_bu = float(sum(bu.values()))
        disc[m] = r_bu
        notes.add(
            m & live_rev,
            f"discount_rate default {r_bu:.1%} (build-up: "
            + " + ".join(f"{k} {v:.1%}" for k, v in bu.items())
            + ")",
        )

    # ---- applications: probability of grant and time to grant
    ga = grant_adjustment(
        juris, texts(frame, "patent_type", lower=True), status,
        dates(frame, "filing_date", ids=ids, error=ValuationInputError), disc, day, notes,
    )  # fmt: skip

    # ---- income method per patent: the row's (or its group's), else the assumption
    method_code = np.where(
        np.isnan(method_given), float(INCOME_METHODS.index(a["income_method"])), method_given
    )
    method_code = method_code.astype(np.int64)
    split = method_code > 0  # profit_split or equivalent_investment: a share of the profit stream
    eqi = method_code == INCOME_METHODS.index("equivalent_investment")
    method_name = np.asarray(INCOME_METHODS, dtype=object)[method_code]
    notes.add(
        live_rev,
        "income method: "
        + method_name
        + np.where(np.isnan(method_given), " (assumption default)", " (given)").astype(object),
    )

    dt_table = decay_table()
    fld = _cpc_field(texts(frame, "cpc"), dt_table)
    fld_decay = dt_table.set_index("field")["decay_rate"].reindex(fld).to_numpy(dtype=float)
    fld_vol = dt_table.set_index("field")["volatility"].reindex(fld).to_numpy(dtype=float)
    decay = x["decay_rate"].copy()
    m = np.isnan(decay) & np.isfinite(revenue)
    if a["decay_rate"] is not None:
        decay[m] = a["decay_rate"]
        notes.add(m & live_rev, f"decay {a['decay_rate']:.1%}/yr (assumption)")
    else:
        decay[m] = fld_decay[m]
        notes.add(m & live_rev, "decay " + fmt_pct(fld_decay, 2) + "/yr (field " + fld + ")")
    if a["decay_curve"] == "none":
        decay[:] = 0.0
    vol = x["volatility"].copy()
    m = np.isnan(vol)
    if a["volatility"] is not None:
        vol[m] = a["volatility"]
    else:
        vol[m] = fld_vol[m]

    # royalty: given, else the industry range positioned by the quality score (midpoint without one)
    ranges = royalty_ranges()
    for ind, (lo, hi) in a["royalty_ranges"].items():
        ranges[ind] = (lo, hi, "assumption")
    industry = texts(frame, "industry")
    ind_key = (
        pd.Series(industry, dtype=object)
        .map(_industry_aliases(ranges))
        .fillna("unknown")
        .to_numpy(dtype=object)
    )
    lo = (
        np.array([ranges[k][0] for k in ind_key])
        if n < 64
        else pd.Series(ind_key, dtype=object).map({k: v[0] for k, v in ranges.items()}).to_numpy(dtype=float)
    )
    hi = (
        np.array([ranges[k][1] for k in ind_key])
        if n < 64
        else pd.Series(ind_key, dtype=object).map({k: v[1] for k, v in ranges.items()}).to_numpy(dtype=float)
    )
    roy = x["royalty_rate"].copy()
    roy_given = ~np.isnan(roy)
    qcov = (
        qual["quality_coverage"].to_numpy(dtype=float, na_value=np.nan)
        if "quality_coverage" in qual
        else None
    )
    pos = _royalty_position(qscore, qcov)
    need = ~roy_given & np.isfinite(revenue)
    if a["royalty_rate"] is not None:
        roy[need] = a["royalty_rate"]
        notes.add(need & live_rev & ~split, f"royalty_rate {a['royalty_rate']:.2%} (assumption)")
        lo = np.where(need, a["royalty_rate"] * (1 - a["royalty_spread_relative"]), lo)
        hi = np.where(need, a["royalty_rate"] * (1 + a["royalty_spread_relative"]), hi)
    else:
        # no industry: a conservative default, the low quantile of the table's midpoints (not its widest range)
        unknown_ind = need & (ind_key == "unknown") & ("unknown" not in a["royalty_ranges"])
        if unknown_ind.any():
            q_rate, q_lo = _conservative_royalty(ranges, a["royalty_default_quantile"])
            lo = np.where(unknown_ind, q_lo, lo)
            hi = np.where(unknown_ind, q_rate, hi)
            notes.add(
                unknown_ind & live_rev & ~split,
                f"royalty_rate default {q_rate:.2%}: industry not given, the "
                f"{a['royalty_default_quantile']:.0%} quantile of the table's midpoints (conservative)",
            )
        known_need = need & ~unknown_ind
        roy[known_need] = (lo + (hi - lo) * pos)[known_need]
        roy[unknown_ind] = hi[unknown_ind]
        need = known_need
        how = np.where(np.isfinite(qscore), "positioned by quality_score", "midpoint")
        notes.add(
            need & live_rev & ~split,
            "royalty_rate default "
            + fmt_pct(roy, 2)
            + " ("
            + ind_key
            + " range "
            + fmt_pct(lo, 1)
            + "-"
            + fmt_pct(hi, 1)
            + ", "
            + how
            + ")",
        )
    # 25% rule (Goldscheider et al. 2002): a sanity check on the royalty, never an input (Uniloc v. Microsoft, 2011)
    margin = x["profit_margin"]
    chk25 = live_rev & np.isfinite(margin) & (margin > 0) & ~split
    notes.add(
        chk25,
        "25% rule cross-check: 0.25 x profit_margin = "
        + fmt_pct(0.25 * margin, 2)
        + " (royalty used "
        + fmt_pct(roy, 2)
        + ")",
    )
    spread = a["royalty_spread_relative"]
    lo = np.where(roy_given, roy * (1 - spread), lo)
    hi = np.where(roy_given, np.minimum(roy * (1 + spread), 1.0), hi)

    # ---- profit share (分成率) of profit_split and equivalent_investment patents, and its Monte Carlo range
    share, s_lo, s_hi = (np.full(n, np.nan) for _ in range(3))
    decline = a["profit_share_decline"] == "linear"
    if split.any():
        sp_rel = a["profit_share_spread_relative"]
        psplit = split & ~eqi
        given_s = psplit & ~np.isnan(x["profit_share"])
        share[given_s] = x["profit_share"][given_s]
        need_s = psplit & ~given_s
        if a["profit_share"] is not None:
            share[need_s] = a["profit_share"]
            s_lo[need_s] = a["profit_share"] * (1 - sp_rel)
            s_hi[need_s] = min(a["profit_share"] * (1 + sp_rel), 1.0)
            notes.add(need_s & live_rev, f"profit_share {a['profit_share']:.2%} (assumption)")
        else:
            lo_s, hi_s = a["profit_share_range"]
            share[need_s] = (lo_s + (hi_s - lo_s) * pos)[need_s]
            s_lo[need_s], s_hi[need_s] = lo_s, hi_s
            how = np.where(np.isfinite(qscore), "positioned by quality_score", "midpoint")
            notes.add(
                need_s & live_rev,
                "profit_share default "
                + fmt_pct(share, 2)
                + f" (range {lo_s:.0%}-{hi_s:.0%} of profit, 四分法/三分法 rule of thumb, "
                + how
                + ")",
            )
        ok_e = np.zeros(n, bool)
        if eqi.any():
            # 约当投资分成率: the patent's replacement cost (rd_cost trended by CPI) against the licensee's assets
            trend, _, _ = _trend_factor(x["rd_year"], day)
            cp = x["rd_cost"] * trend
            pp, pl = a["patent_profit_rate"], a["licensee_profit_rate"]
            ok_e = eqi & np.isfinite(cp) & np.isfinite(launch_cost)
            ok_e &= np.where(ok_e, cp * (1.0 + pp) + np.where(ok_e, launch_cost, 0.0) * (1.0 + pl), 0.0) > 0
            if ok_e.any():
                share[ok_e] = equivalent_investment_share(cp[ok_e], pp, launch_cost[ok_e], pl)
            notes.add(
                ok_e & live_rev,
                "profit_share "
                + fmt_pct(share, 2)
                + " by 约当投资: patent rd_cost x CPI "
                + fmt(np.round(cp, 0), "{:,.0f}")
                + f" at {pp:.1%}, licensee commercialization_cost "
                + fmt(np.round(launch_cost, 0), "{:,.0f}")
                + f" at {pl:.1%}",
            )
            notes.add(
                eqi & ~ok_e & live_rev,
                "income: equivalent_investment needs rd_cost and commercialization_cost, method not applied",
            )
            notes.add(
                eqi & live_rev & ~np.isnan(x["profit_share"]),
                "profit_share given but not used: equivalent_investment computes the share",
            )
        fixed = given_s | ok_e
        s_lo = np.where(fixed, share * (1 - sp_rel), s_lo)
        s_hi = np.where(fixed, np.minimum(share * (1 + sp_rel), 1.0), s_hi)
        notes.add(
            split & live_rev & ~np.isfinite(margin),
            "income: " + method_name + " needs profit_margin, method not applied",
        )
        notes.add(split & live_rev & (margin < 0), "income: profit_margin negative, profit split not applied")
    split_ok = split & np.isfinite(share) & np.isfinite(margin) & (margin >= 0)
    notes.add(
        split_ok & live_rev,
        "income: "
        + fmt_pct(share, 2)
        + " of profit (revenue x profit_margin "
        + fmt_pct(margin, 1)
        + "), after tax"
        + (", share declining linearly (动态分成率)" if decline else ""),
    )

    # ---- situation and income period
    situation = _rc.classify_situation(commercialized, revenue, launch_cost)
    econ_life = x["economic_life_years"].copy()
    m = np.isnan(econ_life)
    if a["economic_life_years"] is not None:
        econ_life[m] = a["economic_life_years"]
    period = np.asarray(income_period(np.where(dead, 0.0, life_legal), econ_life), dtype=float)
    period = np.where(np.isnan(life_legal), np.nan, period)
    notes.add(
        np.isnan(econ_life) & np.isfinite(revenue) & ~dead,
        "economic life not given: remaining legal life used",
    )

    # ---- income (RfR on the revenue stream) for patents with revenue
    tab = a["tab_years"]
    has_rev = np.isfinite(revenue) & np.isfinite(period) & ~dead
    pv = np.full(n, np.nan)
    idx = np.flatnonzero(has_rev)
    chunk = max(1, a["chunk_patents"] * 8)
    linear = a["decay_curve"] == "linear"
    # blocks of patents with the same number of years: a patent's year sum then never depends on which other
    # patents share its block (numpy's pairwise summation groups terms by the row length), so the value is the
    # same to the last bit whatever the chunking of the book
    idx_years = np.maximum(1, np.ceil(period[idx])).astype(np.int64) if len(idx) else np.empty(0, np.int64)
    blocks = [
        (int(ny), same[start : start + chunk])
        for ny in np.unique(idx_years)
        for same in (idx[idx_years == ny],)
        for start in range(0, len(same), chunk)
    ]
    for n_years, sl in blocks:
        base = _revenue_path(revenue[sl], growth[sl, None], fmat[sl], horizon[sl], last_fc[sl], n_years)
        t = np.arange(1, n_years + 1, dtype=float)
        base = base * (1.0 - decay[sl, None]) ** t[None, :]
        w = _year_weights(period[sl, None], n_years, linear)
        sp = split[sl]
        if not sp.any():
            res = relief_from_royalty(
                base * w, roy[sl], tax[sl], disc[sl], mid_year=a["mid_year"], tab_years=tab
            )
            pv[sl] = res.value
            continue
        # row-wise kernels: valuing the RfR rows apart from the split rows leaves every row's numbers unchanged
        rr = ~sp
        if rr.any():
            k = sl[rr]
            res = relief_from_royalty(
                base[rr] * w[rr], roy[k], tax[k], disc[k], mid_year=a["mid_year"], tab_years=tab
            )
            pv[k] = res.value
        ok = split_ok[sl]
        if ok.any():
            k = sl[ok]
            ws = w[ok] * _step_down(period[k, None], n_years) if decline else w[ok]
            profit = base[ok] * ws * margin[k, None]
            res = profit_split(profit * (1.0 - tax[k, None]), share[k], disc[k], mid_year=a["mid_year"])
            v = np.asarray(res.value, dtype=float)
            if tab is not None:
                v = v * tab_factor(tax[k], tab, disc[k], mid_year=a["mid_year"])
            pv[k] = v
    comm = situation == "commercialised"
    pre = situation == "pre_commercial"
    value_income = np.where(comm & has_rev, pv, np.nan)
    value_income = np.where(dead, 0.0, value_income)
    notes.add(pre & has_rev, "income: pre-commercial, the revenue forecast is the option's underlying")
    notes.add(
        ~dead & ~np.isfinite(revenue) & ~np.isnan(life_legal),
        "income and option: no revenue, methods not applied",
    )
    notes.add(comm & has_rev, "option: already commercialised, no deferral option")
    if tab is not None:
        notes.add(has_rev, f"tax amortisation benefit over {tab:g} years")

    # ---- real option (deferral) for pre-commercial patents
    value_option = np.where(dead, 0.0, np.nan)
    opt_ok = pre & has_rev & np.isfinite(launch_cost) & (period > 0) & np.isfinite(pv)
    from ipvalue.valuation.real_option import deferral_lattice
    from ipvalue.valuation.real_option import deferral_option as deferral

    if opt_ok.any():
        value_option[opt_ok] = deferral_lattice(
            pv[opt_ok], launch_cost[opt_ok], period[opt_ok], a["risk_free"], vol[opt_ok],
            steps=int(a["option_steps"]),
        )  # fmt: skip
        notes.add(
            opt_ok,
            f"option: deferral call with early exercise (binomial lattice, {int(a['option_steps'])} steps) on the "
            f"income value attributable to the patent, strike = its share of the launch cost, T = income period, "
            f"risk-free {a['risk_free']:.1%}, leakage 1/T",
        )
        notes.add(
            opt_ok & np.isnan(x["volatility"]),
            "volatility default " + fmt_pct(vol, 0) + " (field " + fld + ")",
        )
    notes.add(
        pre & ~dead & has_rev & ~np.isfinite(launch_cost),
        "option: no commercialization_cost, method not applied",
    )

    # ---- cost
    value_cost = _cost_values(frame, x, day, a, notes, dead, life_legal, period, currency)

    # ---- reconcile
    W = _rc.method_weights(situation, a["method_weights"])
    value, w_eff = _rc.reconcile(value_income, value_cost, value_option, W)
    value = np.where(dead, 0.0, value)
    notes.add(~dead & np.isnan(value) & ~np.isnan(life_legal), "no method applies: value not computed")
    methods_used = _rc.describe_weights(w_eff).to_numpy(dtype=object, copy=True)
    with_income = w_eff[:, 0] > 0
    for j, m in enumerate(INCOME_METHODS):
        mm = with_income & (method_code == j)
        if mm.any():
            methods_used[mm] = (
                pd.Series(methods_used[mm], dtype=object)
                .str.replace("income ", f"income ({_METHOD_LABELS[m]}) ", n=1, regex=False)
                .to_numpy(dtype=object)
            )
    methods_used = np.where(dead, "none (no remaining life)", methods_used)

    # ---- Monte Carlo range
    p05 = np.where(dead, 0.0, np.nan)
    p50 = p05.copy()
    p95 = p05.copy()
    draws = a["draws"]
    if draws > 0:
        uncertain = ~dead & np.isfinite(value) & ((w_eff[:, 0] > 0) | (w_eff[:, 2] > 0))
        cost_only = ~dead & np.isfinite(value) & ~uncertain
        p05[cost_only] = p50[cost_only] = p95[cost_only] = value[cost_only]
        notes.add(cost_only, "range: cost inputs not drawn (range = point)")
        e = _Econ(
            ids,
            status,
            life_legal,
            period,
            revenue,
            growth,
            np.where(split, share, roy),
            np.where(split, s_lo, lo),
            np.where(split, s_hi, hi),
            roy_given,
            tax,
            disc,
            decay,
            vol,
            launch_cost,
            situation,
            ~np.isnan(econ_life),
            {
                "fmat": fmat,
                "horizon": horizon,
                "last": last_fc,
                "split": split_ok,
                "margin": np.where(split_ok, margin, np.nan),
                "decline": split_ok & decline,
            },
        )
        u_idx = np.flatnonzero(uncertain)
        block = max(1, a["chunk_patents"])
        for start in range(0, len(u_idx), block):
            sl = u_idx[start : start + block]
            q = _draw_values(e, sl, draws, seed, a, value_cost, w_eff, deferral, linear)
            p05[sl], p50[sl], p95[sl] = q
    else:
        notes.add(~dead & np.isfinite(value), "range: draws=0, no range computed")

    # ---- applications: every value of a pending application times its grant factor
    gf = ga.factor
    value_income, value_cost, value_option = value_income * gf, value_cost * gf, value_option * gf
    value, p05, p50, p95 = value * gf, p05 * gf, p50 * gf, p95 * gf
    weights_text = _rc.explain_weights(w_eff, situation, dead)

    # ---- assemble
    out = frame
    out["remaining_life_years"] = life_legal
    for c in QUALITY_COLUMNS:
        out[c] = qual[c].to_numpy(dtype=float, na_value=np.nan) if c in qual else np.nan
    out["value_income"] = value_income
    out["value_cost"] = value_cost
    out["value_market"] = np.full(n, np.nan)
    out["value_option"] = value_option
    out["grant_probability"] = ga.probability
    out["status_as_of"] = pd.Series(status, index=out.index, dtype=object)
    out["method_weights"] = pd.Series(weights_text, index=out.index, dtype=object)
    out["value"] = value
    out["value_p05"] = p05
    out["value_p50"] = p50
    out["value_p95"] = p95
    out["methods_used"] = pd.Series(methods_used, index=out.index, dtype=object)
    out["value_notes"] = notes.series(out.index)
    out["currency"] = currency
    out.attrs = {}
    return out


def _group_market(
    market: np.ndarray, given: np.ndarray, juris: np.ndarray, codes: np.ndarray, names: Any, ids: np.ndarray
) -> np.ndarray:
    """The market of each row: its group's (the one ``market`` given, else the group's most common jurisdiction).

    Rows outside a group keep their own market (the ``market`` column, else their jurisdiction).
    """
    in_group = codes >= 0
    if not in_group.any():
        return market
    g = pd.DataFrame(
        {"g": codes[in_group], "m": market[in_group], "given": given[in_group], "j": juris[in_group]}
    )
    gm = g[g["given"]].drop_duplicates(["g", "m"])
    clash = gm["g"][gm["g"].duplicated()].unique()
    if len(clash):
        raise ValuationInputError(
            [
                (ids[np.flatnonzero(codes == c)[0]], "market",
                 f"group {names[c]!r}: field market differs between its patents; a product line sells in one market")
                for c in clash
            ]
        )  # fmt: skip
    counts = g.groupby(["g", "j"]).size().rename("k").reset_index()
    counts = counts.sort_values(["g", "k", "j"], ascending=[True, False, True]).drop_duplicates("g")
    by_group = dict(zip(counts["g"], counts["j"], strict=True))
    by_group.update(dict(zip(gm["g"], gm["m"], strict=True)))
    out = market.copy()
    out[in_group] = pd.Series(codes[in_group]).map(by_group).to_numpy(dtype=object)
    return out


def _conservative_royalty(ranges: Mapping[str, tuple[float, float, str]], q: float) -> tuple[float, float]:
    """The ``q`` quantile of the industries' range midpoints, and of their lows (the ``unknown`` row left out)."""
    known = [(lo, hi) for k, (lo, hi, _) in ranges.items() if k != "unknown"]
    mids = np.array([(lo + hi) / 2.0 for lo, hi in known])
    lows = np.array([lo for lo, _ in known])
    rate = float(np.quantile(mids, q))
    return rate, min(float(np.quantile(lows, q)), rate)


def _dep(used: np.ndarray, period: np.ndarray) -> np.ndarray:
    from ipvalue.valuation.cost import depreciation_rate

    u = np.nan_to_num(used, nan=0.0)
    p = np.nan_to_num(period, nan=0.0)
    return np.asarray(depreciation_rate(u, p))


def _industry_aliases(ranges: dict) -> dict[str, str]:
    from ipvalue.valuation._data import royalty_aliases

    al = royalty_aliases()
    for k in ranges:
        al.setdefault(k, k)
        al.setdefault(k.lower(), k)
    return al


def _draw_values(
    e: _Econ,
    sl: np.ndarray,
    draws: int,
    seed: int,
    a: dict,
    value_cost: np.ndarray,
    w_eff: np.ndarray,
    deferral: Any,
    linear: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """p05, p50, p95 of the reconciled value for the patents ``sl`` from their own streams."""
    D = draws
    # uniforms in [0, 1): an exact 0 maps to -inf below, which the floors and the option handle
    u = patent_uniforms(seed, e.ids[sl], 5 * D, "valuation")
    u_roy, u_r, u_life, u_g, u_vol = (u[:, k * D : (k + 1) * D] for k in range(5))

    def col(v: np.ndarray) -> np.ndarray:
        return v[sl, None]

    # royalty: triangular on [lo, hi] with mode at the point value
    lo, hi, mode = col(e.royalty_low), col(e.royalty_high), col(e.royalty)
    lo = np.minimum(lo, mode)
    hi = np.maximum(hi, mode)
    width = np.where(hi > lo, hi - lo, 1.0)
    fc = np.where(hi > lo, (mode - lo) / width, 0.5)
    left = u_roy < fc
    root = np.sqrt(np.where(left, u_roy * width * (mode - lo), (1.0 - u_roy) * width * (hi - mode)))
    roy = np.where(left, lo + root, hi - root)
    roy = np.where(hi > lo, roy, mode)
    r = np.maximum(col(e.discount) + a["discount_rate_sd"] * ndtri(u_r), 0.005)
    g = np.maximum(col(e.growth) + a["growth_sd"] * ndtri(u_g), -0.9)
    s = a["life_spread_relative"]
    legal = col(np.where(np.isnan(e.life_legal), 0.0, e.life_legal))
    life = np.minimum(col(e.period) * (1 - s + 2 * s * u_life), legal)
    rev = col(e.revenue)
    tau = col(e.tax)
    fmat, horizon, last = e.extra["fmat"][sl], e.extra["horizon"][sl], e.extra["last"][sl]
    sp = e.extra["split"][sl]
    dec = e.extra["decline"][
        sl
    ]  # declining profit share: year by year with the step-down, valued apart below
    looped = ((horizon > 0) | linear) & ~dec
    if not looped.any():
        S = rev * _geometric_pv((1.0 + g) * (1.0 - col(e.decay)) / (1.0 + r), life)
    else:
        S = np.empty_like(r)
        cf = ~looped
        if cf.any():
            x = (1.0 + g[cf]) * (1.0 - col(e.decay)[cf]) / (1.0 + r[cf])
            S[cf] = rev[cf] * _geometric_pv(x, life[cf])
    if looped.any():
        # years up to the longest drawn life (which may exceed the point period by the life spread): a shorter
        # loop would cut some draws short depending on which other patents share the block
        n_years = max(1, math.ceil(float(np.nanmax(life[looped]))))
        S[looped] = _loop_income(
            rev[looped, 0],
            g[looped],
            col(e.decay)[looped],
            r[looped],
            life[looped],
            fmat[looped],
            horizon[looped],
            last[looped],
            n_years,
            linear,
        )
    if dec.any():
        n_dec = max(1, math.ceil(float(np.nanmax(life[dec]))))
        S[dec] = _loop_income(
            rev[dec, 0],
            g[dec],
            col(e.decay)[dec],
            r[dec],
            life[dec],
            fmat[dec],
            horizon[dec],
            last[dec],
            n_dec,
            linear,
            extra_step=True,
        )
    if a["mid_year"]:
        S = S * np.sqrt(1.0 + r)
    pv = roy * (1.0 - tau) * S
    if sp.any():
        # profit split: the drawn share of the profit (revenue x margin), after tax
        pv = np.where(sp[:, None], roy * col(e.extra["margin"]) * (1.0 - tau) * S, pv)
    if a["tab_years"] is not None:
        pv = pv * tab_factor(tau, a["tab_years"], r, mid_year=a["mid_year"])
    income = pv
    option = np.full_like(pv, np.nan)
    we = w_eff[sl]
    opt = we[:, 2] > 0
    if opt.any() and deferral is not None:
        # only the patents whose value uses the option: the volatility draws and the pricing are theirs alone
        vol = col(e.volatility)[opt] * np.exp(a["volatility_log_sd"] * ndtri(u_vol[opt]))
        k = col(e.launch_cost)[opt]
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            ov = deferral(
                np.nan_to_num(pv[opt]), np.nan_to_num(k), np.maximum(life[opt], 1e-6), a["risk_free"], vol
            )
        # the European formula per draw, floored at the exercise value (a right exercisable today is worth at
        # least max(S - K, 0)); the lattice per draw would cost steps^2 per patent and draw
        euro = np.asarray(getattr(ov, "value", ov), dtype=float)
        option[opt] = np.where(
            life[opt] > 0, np.maximum(euro, np.nan_to_num(pv[opt]) - np.nan_to_num(k)), 0.0
        )
    cost = value_cost[sl, None]
    vals = _rc.reconcile_draws(income, np.broadcast_to(cost, income.shape), option, we)
    q = np.percentile(vals, [5, 50, 95], axis=1)
    return q[0], q[1], q[2]
