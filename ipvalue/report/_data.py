"""Tables derived from a :class:`~ipvalue.CollateralAssessment` for the charts and the writers.

Everything here is read-only on the assessment, tolerates extra columns and NaN values, and never drops a patent.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np
import pandas as pd

from ipvalue.errors import InputError
from ipvalue.report import _labels as L

__all__ = [
    "METHOD_COLUMNS",
    "QUALITY_COLUMNS",
    "haircut_components",
    "waterfall_steps",
    "method_totals",
    "exceptions",
    "fee_timeline",
    "as_float",
    "is_missing",
    "fmt_money",
    "fmt_pct",
    "fmt_num",
    "fmt_int",
    "fmt_date",
    "fmt_text",
    "eligible_mask",
    "ZH_SUFFIX",
    "localized_text",
    "localize_frame",
    "money_unit",
    "money_label",
    "waterfall_bars",
    "life_bars",
    "quality_series",
]

METHOD_COLUMNS: dict[str, str] = {"income": "value_income", "cost": "value_cost", "option": "value_option"}
QUALITY_COLUMNS: tuple[str, ...] = ("quality_legal", "quality_technical", "quality_economic", "quality_score")
_NOT_COMPONENTS = {
    "haircut_total",
    "haircut_explanation",
    "haircut_explanation_zh",
    "haircut_amount",
    "haircut_notes",
}
#: suffix of the Chinese twin of an English text column (``haircut_explanation_zh``, ``description_zh``)
ZH_SUFFIX = "_zh"
DASH = "—"


# ---------------------------------------------------------------------------------------------- scalars and format
def is_missing(x: Any) -> bool:
    """True for None, NaN, NaT and pandas NA."""
    if x is None:
        return True
    try:
        return bool(pd.isna(x))
    except (TypeError, ValueError):  # list-like values
        return False


def as_float(x: Any) -> float:
    """Float of a number-like value; NaN when missing or not a number."""
    if is_missing(x) or isinstance(x, bool | str):
        return math.nan
    try:
        return float(x)
    except (TypeError, ValueError):
        return math.nan


def fmt_money(x: Any) -> str:
    """``12,345,678`` (no decimals); a dash when missing."""
    v = as_float(x)
    return DASH if math.isnan(v) else f"{v:,.0f}"


def fmt_pct(x: Any, digits: int = 1) -> str:
    """``12.3%`` from the decimal 0.123; a dash when missing."""
    v = as_float(x)
    return DASH if math.isnan(v) else f"{v * 100:.{digits}f}%"


def fmt_num(x: Any, digits: int = 1) -> str:
    """Fixed-point number; a dash when missing."""
    v = as_float(x)
    return DASH if math.isnan(v) else f"{v:,.{digits}f}"


def fmt_int(x: Any) -> str:
    """Integer with thousands separators; a dash when missing."""
    v = as_float(x)
    return DASH if math.isnan(v) else f"{v:,.0f}"


def fmt_date(x: Any) -> str:
    """ISO date; a dash when missing."""
    if is_missing(x):
        return DASH
    if isinstance(x, pd.Timestamp | dt.datetime):
        return x.date().isoformat()
    if isinstance(x, dt.date):
        return x.isoformat()
    return str(x)


def fmt_text(x: Any) -> str:
    """Plain text of any value (lists joined with ``;``); a dash when missing."""
    if isinstance(x, list | tuple | set):
        return "; ".join(str(v) for v in x)
    if is_missing(x):
        return DASH
    return str(x)


# ---------------------------------------------------------------------------------------------- frame helpers
def _col(df: pd.DataFrame, name: str) -> np.ndarray:
    if name not in df.columns:
        return np.full(len(df), np.nan)
    return pd.to_numeric(df[name], errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def eligible_mask(df: pd.DataFrame) -> np.ndarray:
    """Boolean array of eligible patents (missing ``eligible`` counts as not eligible)."""
    if "eligible" not in df.columns:
        return np.zeros(len(df), dtype=bool)
    s = df["eligible"]
    return s.fillna(False).astype(bool).to_numpy() if s.dtype != bool else s.to_numpy()


def _blank(s: pd.Series) -> pd.Series:
    """True where a text cell is missing or only whitespace."""
    return s.isna() | s.astype("string").str.strip().fillna("").eq("")


def localized_text(frame: pd.DataFrame | None, column: str, lang: str) -> pd.Series | None:
    """The text column ``column`` in ``lang``.

    For ``lang="zh"`` the Chinese twin ``<column>_zh`` is used where it has text, the English ``column``
    elsewhere (an assessment from older JSON has no ``_zh`` columns); for ``"en"`` the English column.
    ``None`` when the frame has neither column.
    """
    if frame is None:
        return None
    zh_col = column + ZH_SUFFIX
    en = frame[column] if column in frame.columns else None
    zh = frame[zh_col] if (lang == "zh" and zh_col in frame.columns) else None
    if zh is None:
        return en
    if en is None:
        return zh
    return zh.astype(object).where(~_blank(zh).to_numpy(), en.astype(object))


def localize_frame(frame: pd.DataFrame | None, lang: str) -> pd.DataFrame | None:
    """A copy with each text column that has a ``_zh`` twin shown in ``lang`` and the twins dropped.

    The column keeps its English name (so its header and position do not change with the language); see
    :func:`localized_text` for the fallback.
    """
    if frame is None:
        return None
    twins = [
        c for c in frame.columns if isinstance(c, str) and c.endswith(ZH_SUFFIX) and len(c) > len(ZH_SUFFIX)
    ]
    if not twins:
        return frame
    out = frame.copy()
    for twin in twins:
        base = twin.removesuffix(ZH_SUFFIX)
        text = localized_text(frame, base, lang)
        if base in out.columns:
            out[base] = text
        elif lang == "zh":  # only the Chinese text exists: it takes the English column's name
            out.insert(out.columns.get_loc(twin), base, text)
    return out.drop(columns=twins)


def haircut_components(df: pd.DataFrame) -> list[str]:
    """Names of the haircut components (``haircut_<component>`` columns), in the engine's order.

    The engine's components come in the order they compose (:data:`ipvalue.collateral.haircut.COMPONENTS`),
    whatever the order of the columns (a stored assessment read back from JSON may have its keys sorted); any
    other numeric ``haircut_`` column follows, in column order. The waterfall splits each patent's drop over the
    components in this order, so the order fixes the split.
    """
    from ipvalue.collateral.haircut import in_component_order

    return in_component_order(
        c.removeprefix("haircut_")
        for c in df.columns
        if isinstance(c, str)
        and c.startswith("haircut_")
        and c not in _NOT_COMPONENTS
        and pd.api.types.is_numeric_dtype(df[c])
    )


def waterfall_steps(assessment: Any, lang: str = "en") -> pd.DataFrame:
    """The haircut waterfall from appraised value to collateral value and the maximum loan.

    Each eligible patent's drop from ``value`` to ``collateral_value`` is split over the components in column
    order, sequentially (component *i* takes ``h_i`` of what the components before it left, which is exact when
    they compose as ``1 - prod(1 - h)``), scaled down if they would explain more than the actual drop. What the
    components leave unexplained on a patent (the policy's pledge-rate cap, when ``pledge_rate_cap`` is a
    column) is its own step, and whatever the patents do not explain at portfolio level shows as "other
    haircut", so the steps always reconcile to the summary's collateral value.

    Returns
    -------
    pandas.DataFrame
        ``key``, ``label``, ``amount`` (signed: negative for a reduction) and ``kind``
        (``"total"`` for the appraised value, collateral value and maximum loan bars, ``"step"`` otherwise).
    """
    df = assessment.patents
    s = assessment.summary
    value = np.nan_to_num(_col(df, "value"))
    coll = np.nan_to_num(_col(df, "collateral_value"))
    elig = eligible_mask(df)
    appraised = as_float(s.get("appraised_value"))
    if math.isnan(appraised):
        appraised = float(value.sum())
    collateral = as_float(s.get("collateral_value"))
    if math.isnan(collateral):
        collateral = float(coll.sum())
    ineligible = float(value[~elig].sum())

    comps = haircut_components(df)
    rows: list[dict[str, Any]] = [
        {
            "key": "appraised_value",
            "label": L.label("appraised_start", lang),
            "amount": appraised,
            "kind": "total",
        }
    ]
    if ineligible:
        rows.append(
            {
                "key": "ineligible",
                "label": L.label("ineligible_removed", lang),
                "amount": -ineligible,
                "kind": "step",
            }
        )
    explained = 0.0
    drop = np.where(elig, value - coll, 0.0)
    if comps:
        h = np.column_stack([np.clip(np.nan_to_num(_col(df, f"haircut_{c}")), 0.0, 1.0) for c in comps])
        remaining = np.cumprod(np.hstack([np.ones((len(df), 1)), 1.0 - h[:, :-1]]), axis=1)
        seq = h * remaining * value[:, None]
        seq[~elig] = 0.0
        tot = seq.sum(axis=1)
        # components explain at most the actual drop (scaled down when they compose differently)
        scale = np.minimum(1.0, np.divide(drop, tot, out=np.zeros_like(drop), where=tot > 0))
        amounts = (seq * scale[:, None]).sum(axis=0)
        for c, a in zip(comps, amounts, strict=True):
            rows.append(
                {
                    "key": f"haircut_{c}",
                    "label": L.translate_code(c, L.COMPONENTS, lang),
                    "amount": -float(a),
                    "kind": "step",
                }
            )
            explained += float(a)
        capped = float(np.clip(drop - tot * scale, 0.0, None).sum())
        if capped > 1e-9 * max(
            1.0, abs(appraised)
        ):  # what the pledge-rate cap (or another rule) took beyond them
            key = "pledge_cap" if "pledge_rate_cap" in df.columns else "other"
            label_key = "pledge_cap" if key == "pledge_cap" else "other_haircut"
            rows.append({"key": key, "label": L.label(label_key, lang), "amount": -capped, "kind": "step"})
            explained += capped
    other = appraised - ineligible - explained - collateral
    if abs(other) > 1e-9 * max(1.0, abs(appraised)):
        rows.append(
            {"key": "other", "label": L.label("other_haircut", lang), "amount": -other, "kind": "step"}
        )
    rows.append(
        {
            "key": "collateral_value",
            "label": L.label("collateral_end", lang),
            "amount": collateral,
            "kind": "total",
        }
    )
    max_loan = as_float(s.get("max_loan"))
    if not math.isnan(max_loan) and abs(max_loan - collateral) > 1e-9 * max(1.0, abs(appraised)):
        rows.append(
            {
                "key": "advance_rate",
                "label": L.label("advance_step", lang),
                "amount": max_loan - collateral,
                "kind": "step",
            }
        )
    if not math.isnan(max_loan):
        rows.append(
            {"key": "max_loan", "label": L.label("max_loan_end", lang), "amount": max_loan, "kind": "total"}
        )
    out = pd.DataFrame(rows)
    out["share"] = out["amount"] / appraised if appraised else np.nan
    return out


def method_totals(assessment: Any) -> pd.DataFrame:
    """Portfolio value by method: ``method``, ``total``, ``n_valued``, ``low``, ``high`` (range where known)."""
    df = assessment.patents
    s = assessment.summary
    rows = []
    for method, col in METHOD_COLUMNS.items():
        if col in df.columns:
            v = _col(df, col)
            rows.append(
                {
                    "method": method,
                    "total": float(np.nansum(v)),
                    "n_valued": int(np.isfinite(v).sum()),
                    "low": np.nan,
                    "high": np.nan,
                }
            )
    v = _col(df, "value")
    low = as_float(s.get("appraised_value_p05"))
    high = as_float(s.get("appraised_value_p95"))
    if math.isnan(low) and "value_p05" in df.columns:
        low = float(np.nansum(_col(df, "value_p05")))
    if math.isnan(high) and "value_p95" in df.columns:
        high = float(np.nansum(_col(df, "value_p95")))
    total = as_float(s.get("appraised_value"))
    rows.append(
        {
            "method": "reconciled",
            "total": float(np.nansum(v)) if math.isnan(total) else total,
            "n_valued": int(np.isfinite(v).sum()),
            "low": low,
            "high": high,
        }
    )
    return pd.DataFrame(rows)


def exceptions(assessment: Any, lang: str) -> pd.DataFrame:
    """Ineligible patents with their reasons translated: ``patent_id``, ``title``, ``value``, ``codes``, ``reasons``."""
    df = assessment.patents
    elig = eligible_mask(df)
    sub = df.loc[~elig]
    ids = sub["patent_id"] if "patent_id" in sub.columns else pd.Series(sub.index, index=sub.index)
    reasons_col = (
        sub["ineligible_reasons"] if "ineligible_reasons" in sub.columns else pd.Series(None, index=sub.index)
    )
    return pd.DataFrame(
        {
            "patent_id": [str(x) for x in ids],
            "title": [fmt_text(x) for x in (sub["title"] if "title" in sub.columns else [None] * len(sub))],
            "value": _col(sub, "value"),
            "codes": [fmt_text(x) if not is_missing(x) else "" for x in reasons_col],
            "reasons": [
                "；".join(L.translate_codes(x, L.REASONS, lang))
                if lang == "zh"
                else "; ".join(L.translate_codes(x, L.REASONS, lang))
                for x in reasons_col
            ],
        }
    )


def _as_date(x: Any) -> dt.date | None:
    if is_missing(x):
        return None
    if isinstance(x, pd.Timestamp | dt.datetime):
        return x.date()
    if isinstance(x, dt.date):
        return x
    try:
        return pd.Timestamp(str(x)).date()
    except (ValueError, TypeError):
        return None


def fee_timeline(assessment: Any) -> dict[str, pd.DataFrame] | None:
    """Renewal fees falling due during the loan, from :func:`ipvalue.terms.renewal_fees_due` (vectorised).

    Returns
    -------
    dict or None
        ``by_year``: one row per loan year (``loan_year`` 0 holds fees already overdue but still in their grace
        period), with ``start``, ``end``, ``amount`` and ``count``; ``by_patent``: the patents owing fees during the
        loan with ``next_fee_due``, ``fee_count``, ``renewal_fees`` and ``fee_currency``. ``None`` when the terms
        module cannot schedule the portfolio (missing dates, office not modelled).
    """
    from ipvalue.terms import renewal_fees_due

    as_of = _as_date(assessment.summary.get("as_of")) or _as_date((assessment.audit or {}).get("as_of"))
    tenor = as_float(getattr(assessment.loan, "tenor_years", np.nan))
    if as_of is None or not np.isfinite(tenor) or tenor <= 0:
        return None
    n_years = int(math.ceil(tenor - 1e-9))
    horizons = [0.0] + [float(min(k, tenor)) for k in range(1, n_years + 1)]
    try:
        cum = [renewal_fees_due(assessment.patents, as_of, years=h) for h in horizons]
    except InputError:  # missing dates or an office not modelled: the report says the fees are not scheduled
        return None
    amounts = [float(np.nansum(c["renewal_fees"].to_numpy(dtype=float, na_value=np.nan))) for c in cum]
    counts = [int(np.nansum(c["fee_count"].to_numpy(dtype=float, na_value=np.nan))) for c in cum]
    rows = []
    for k, h in enumerate(horizons):
        prev_h = horizons[k - 1] if k else 0.0
        rows.append(
            {
                "loan_year": k,
                "start": as_of + dt.timedelta(days=round(365.25 * prev_h)),
                "end": as_of + dt.timedelta(days=round(365.25 * h)),
                "amount": amounts[k] - (amounts[k - 1] if k else 0.0),
                "count": counts[k] - (counts[k - 1] if k else 0),
            }
        )
    last = cum[-1]
    ids = (
        assessment.patents["patent_id"]
        if "patent_id" in assessment.patents.columns
        else assessment.patents.index
    )
    by_patent = pd.DataFrame(
        {
            "patent_id": [str(x) for x in ids],
            "next_fee_due": pd.to_datetime(last["next_fee_due"]).to_numpy(),
            "fee_count": last["fee_count"].to_numpy(dtype=float, na_value=np.nan),
            "renewal_fees": last["renewal_fees"].to_numpy(dtype=float, na_value=np.nan),
            "fee_currency": last["fee_currency"].astype(object).to_numpy() if "fee_currency" in last else "",
        }
    )
    by_patent = by_patent[by_patent["fee_count"] > 0].sort_values(
        ["next_fee_due", "patent_id"], kind="stable"
    )
    return {"by_year": pd.DataFrame(rows), "by_patent": by_patent.reset_index(drop=True)}


def money_unit(assessment: Any, lang: str) -> tuple[float, str]:
    """Scale and unit for money on chart axes: 万 (10⁴) in Chinese, millions in English, for large amounts."""
    ccy = str(assessment.summary.get("currency") or getattr(assessment.loan, "currency", "") or "")
    big = as_float(assessment.summary.get("appraised_value"))
    if lang == "zh":
        if not math.isnan(big) and abs(big) >= 1e5:
            return 1e4, "万元" if ccy == "CNY" else f"万 {ccy}"
        return 1.0, "元" if ccy == "CNY" else ccy
    if not math.isnan(big) and abs(big) >= 1e6:
        return 1e6, f"{ccy} million".strip()
    return 1.0, ccy


def money_label(v: float, scale: float) -> str:
    """Bar label in the axis unit: whole 万 / units, one decimal for millions; no ``-0``."""
    digits = 1 if scale >= 1e6 else 0
    x = v / scale
    if abs(x) < 0.5 * 10.0**-digits:
        x = 0.0
    return f"{x:,.{digits}f}"


def waterfall_bars(steps: pd.DataFrame) -> tuple[list[float], list[float], list[str]]:
    """Floating bars of the waterfall: bottoms, heights and each bar's kind (``total``, ``down``, ``up``).

    A total stands on zero and sets the running level; a step hangs from the level it moves (a missing amount
    is drawn as zero).
    """
    level = 0.0
    bottoms, heights, kinds = [], [], []
    for kind, amount in zip(steps["kind"], steps["amount"], strict=True):
        a = 0.0 if math.isnan(amount) else float(amount)
        if kind == "total":
            bottoms.append(0.0)
            heights.append(a)
            kinds.append("total")
            level = a
        else:
            bottoms.append(level + a if a < 0 else level)
            heights.append(abs(a))
            kinds.append("down" if a < 0 else "up")
            level += a
    return bottoms, heights, kinds


def life_bars(df: pd.DataFrame, max_bars: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """The remaining-life chart's bars: the ``max_bars`` most valuable patents, longest life first.

    Returns the row positions shown, their remaining lives, the eligible mask of every row and every row's id.
    """
    n = min(len(df), max_bars)
    life = pd.to_numeric(df["remaining_life_years"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    value = (
        pd.to_numeric(df["value"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        if "value" in df
        else np.zeros(len(df))
    )
    order = np.argsort(-np.nan_to_num(value, nan=-np.inf), kind="stable")[:n]
    order = order[np.argsort(-np.nan_to_num(life[order], nan=-1.0), kind="stable")]
    ids = [str(x) for x in (df["patent_id"] if "patent_id" in df.columns else df.index)]
    return order, life[order], eligible_mask(df), ids


def quality_series(df: pd.DataFrame, lang: str) -> tuple[list[np.ndarray], list[str]]:
    """The finite values of each quality score present, with the score's label."""
    data, names = [], []
    for c in QUALITY_COLUMNS:
        if c in df.columns:
            v = pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            v = v[np.isfinite(v)]
            if v.size:
                data.append(v)
                names.append(L.label(c, lang, L.COLUMNS))
    return data, names
