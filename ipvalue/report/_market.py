"""The report's market approach section: the comparables behind ``value_market``, with every adjustment factor.

The table comes from :func:`ipvalue.valuation.market_comparables` (or ``market_approach(...).comparables``); the
report shows the pairs used for the patents whose value the market approach weighed (``methods_used`` names it),
in the HTML / PDF section and the Excel sheet "Comparables".
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from ipvalue.report import _data as D
from ipvalue.report import _labels as L

__all__ = ["MARKET_COLUMNS", "comparables_table", "market_context", "write_market_sheet"]

#: the columns shown, in order, and how each is formatted
MARKET_COLUMNS: tuple[tuple[str, str], ...] = (
    ("patent_id", "text"),
    ("comparable_id", "text"),
    ("level", "code"),
    ("weight", "pct"),
    ("transaction_kind", "code"),
    ("price", "money"),
    ("royalty_rate", "pct2"),
    ("factor_technology", "factor"),
    ("factor_time", "factor"),
    ("factor_life", "factor"),
    ("factor_conditions", "factor"),
    ("factor_kind", "factor"),
    ("factor_territory", "factor"),
    ("adjusted_rate", "pct2"),
    ("adjusted_value", "money"),
)


def comparables_table(assessment: Any, comparables: Any) -> pd.DataFrame | None:
    """The pairs to show: used comparables of the assessment's patents whose value the market approach weighed.

    ``comparables`` is a ``MarketResult`` or its ``.comparables`` frame; None gives None (no section). A patent
    whose ``methods_used`` does not name the market (shown, not weighed, or no market value) is left out.
    """
    if comparables is None:
        return None
    table = getattr(comparables, "comparables", comparables)
    if not isinstance(table, pd.DataFrame):
        raise TypeError(
            f"comparables must be a MarketResult or its .comparables frame, got {type(table).__name__}"
        )
    missing = {c for c, _ in MARKET_COLUMNS} - set(table.columns)
    if missing:
        raise ValueError(f"the comparables table lacks columns {sorted(missing)}")
    pats = assessment.patents
    ids = pats["patent_id"] if "patent_id" in pats.columns else pd.Series(pats.index, index=pats.index)
    used = pats.get("methods_used", pd.Series("", index=pats.index)).astype(str).str.contains("market")
    weighed = set(ids[used].astype(str))
    keep = table["patent_id"].astype(str).isin(weighed)
    if "used" in table.columns:
        keep &= table["used"].astype(bool)
    order = {pid: i for i, pid in enumerate(ids.astype(str))}
    out = table.loc[keep, [c for c, _ in MARKET_COLUMNS]].copy()
    out["_pos"] = out["patent_id"].astype(str).map(order)
    return out.sort_values(["_pos", "comparable_id"], kind="stable").drop(columns="_pos")


def _text(kind: str, col: str, v: Any, lang: str) -> str:
    if kind == "text":
        return "" if D.is_missing(v) else str(v)
    if kind == "code":
        key = f"{v}_basis" if col == "basis" else str(v)
        return L.label(key, lang, L.MARKET_LABELS)
    if kind == "pct":
        return D.fmt_pct(v, 1)
    if kind == "pct2":
        return D.fmt_pct(v, 2)
    if kind == "money":
        return D.fmt_money(v)
    return D.fmt_num(v, 3)


def market_context(assessment: Any, comparables: Any, *, lang: str) -> dict[str, Any] | None:
    """The HTML section: title, introduction, header and formatted rows (None without comparables)."""
    table = comparables_table(assessment, comparables)
    if table is None:
        return None
    head = [
        {"text": L.label(c, lang, L.MARKET_LABELS), "cls": "" if kind in ("text", "code") else "num"}
        for c, kind in MARKET_COLUMNS
    ]
    rows = [
        [
            {"text": _text(kind, c, v, lang), "cls": "" if kind in ("text", "code") else "num"}
            for (c, kind), v in zip(MARKET_COLUMNS, r, strict=True)
        ]
        for r in table.itertuples(index=False, name=None)
    ]
    return {
        "title": L.label("market_title", lang, L.MARKET_LABELS),
        "intro": L.label("market_intro", lang, L.MARKET_LABELS),
        "empty": "" if rows else L.label("market_not_used", lang, L.MARKET_LABELS),
        "head": head,
        "rows": rows,
    }


def write_market_sheet(
    wb: Any, assessment: Any, comparables: Any, *, lang: str, header: Any, put: Any
) -> None:
    """Add the sheet "Comparables" (numbers as numbers, codes translated) when comparables are given.

    ``header(ws, labels)`` and ``put(ws, row, col, value, number_format)`` are the workbook writer's own helpers.
    """
    table = comparables_table(assessment, comparables)
    if table is None:
        return
    ws = wb.create_sheet("Comparables")
    header(ws, [L.label(c, lang, L.MARKET_LABELS) for c, _ in MARKET_COLUMNS])
    formats = {"pct": "0.0%", "pct2": "0.00%", "money": "#,##0", "factor": "0.000"}
    for i, r in enumerate(table.itertuples(index=False, name=None), start=2):
        for j, ((c, kind), v) in enumerate(zip(MARKET_COLUMNS, r, strict=True), start=1):
            value = _text(kind, c, v, lang) if kind == "code" else (None if D.is_missing(v) else v)
            put(ws, i, j, value, formats.get(kind))
    if not len(table):
        put(ws, 2, 1, L.label("market_not_used", lang, L.MARKET_LABELS), None)
    ws.freeze_panes = "C2"
