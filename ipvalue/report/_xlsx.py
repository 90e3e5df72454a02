"""The Excel workbook: Summary, Patents, Haircuts, Liquidation, Stress, Assumptions and Audit sheets.

Sheet names are the same in both languages (so a loan system can find them); headers and labels follow ``lang``.
Each sheet has a frozen header, number formats (money ``#,##0``, rates ``0.0%``, years ``0.0``, dates
``yyyy-mm-dd``) and keeps its numbers as numbers. Text from the input (titles, owners) is written as text, never as
a formula, and missing values are empty cells.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pandas as pd

from ipvalue.report import _data as D
from ipvalue.report import _labels as L
from ipvalue.report.explain import with_texts

__all__ = ["write_xlsx", "SHEETS", "MONEY_FORMAT", "PCT_FORMAT", "YEARS_FORMAT", "DATE_FORMAT"]

SHEETS: tuple[str, ...] = ("Summary", "Patents", "Haircuts", "Liquidation", "Stress", "Assumptions", "Audit")
MONEY_FORMAT = "#,##0"
PCT_FORMAT = "0.0%"
YEARS_FORMAT = "0.0"
SCORE_FORMAT = "0.0"
INT_FORMAT = "0"
DATE_FORMAT = "yyyy-mm-dd"

_SUMMARY_KIND = {
    "appraised_value": "money",
    "appraised_value_p05": "money",
    "appraised_value_p95": "money",
    "eligible_value": "money",
    "collateral_value": "money",
    "max_loan": "money",
    "loan_amount": "money",
    "shortfall": "money",
    "bank_retained_exposure": "money",
    "expected_loss": "money",
    "ltv": "pct",
    "coverage_ratio": "pct",
    "expected_lgd": "pct",
    "lgd_95": "pct",
    "lgd_99": "pct",
    "probability_of_default": "pct",
    "prob_full_recovery": "pct",
    "expected_time_to_cash_years": "years",
    "n_patents": "int",
    "n_eligible": "int",
    "seed": "int",
}
_FORMATS = {
    "money": MONEY_FORMAT,
    "pct": PCT_FORMAT,
    "years": YEARS_FORMAT,
    "int": INT_FORMAT,
    "score": SCORE_FORMAT,
    "date": DATE_FORMAT,
}

_MONEY_COLS = {
    "value",
    "value_income",
    "value_cost",
    "value_option",
    "value_p05",
    "value_p50",
    "value_p95",
    "collateral_value",
    "haircut_amount",
    "revenue",
    "rd_cost",
    "commercialization_cost",
    "gross_proceeds",
    "costs",
    "recovery",
    "appraised_value",
    "max_loan",
    "change_collateral_value",
}
_PCT_COLS = {
    "haircut_total",
    "probability",
    "recovery_rate",
    "lgd",
    "coverage_ratio",
    "expected_lgd",
    "change_pct",
    "royalty_rate",
    "revenue_growth",
    "profit_margin",
    "tax_rate",
    "discount_rate",
    "volatility",
}
_YEARS_COLS = {"remaining_life_years", "time_to_cash_years", "economic_life_years"}
_SCORE_COLS = set(D.QUALITY_COLUMNS)


def _kind_of(col: str, series: pd.Series) -> str:
    if col in _MONEY_COLS:
        return "money"
    if col in _PCT_COLS or col.startswith("haircut_"):
        return "pct"
    if col in _YEARS_COLS:
        return "years"
    if col in _SCORE_COLS:
        return "score"
    if pd.api.types.is_datetime64_any_dtype(series):
        return "date"
    if pd.api.types.is_integer_dtype(series) and not pd.api.types.is_bool_dtype(series):
        return "int"
    return "text"


def _plain(v: Any) -> Any:
    """A value openpyxl writes faithfully: None for missing, Python scalars, naive dates, text for the rest."""
    if isinstance(v, list | tuple | set):
        return "; ".join(str(x) for x in v)
    if isinstance(v, dict):
        return json.dumps(v, ensure_ascii=False, default=str)
    if D.is_missing(v):
        return None
    if isinstance(v, bool | np.bool_):
        return bool(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, float | np.floating):
        f = float(v)
        return None if not math.isfinite(f) else f
    if isinstance(v, pd.Timestamp):
        v = v.to_pydatetime()
    if isinstance(v, dt.datetime):
        v = v.replace(tzinfo=None)
        return v.date() if v.time() == dt.time(0) else v
    if isinstance(v, dt.date | int):
        return v
    return str(v)


def _set(ws: Any, row: int, col: int, value: Any, number_format: str | None = None) -> Any:
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    v = _plain(value)
    cell = ws.cell(row=row, column=col)
    if isinstance(v, str):
        cell.value = ILLEGAL_CHARACTERS_RE.sub("", v)
        cell.data_type = "s"  # text such as "=HYPERLINK(...)" stays text, never a formula
    else:
        cell.value = v
        if number_format and v is not None and not isinstance(v, bool):
            cell.number_format = number_format
        elif isinstance(v, dt.date) and not isinstance(v, dt.datetime):
            cell.number_format = DATE_FORMAT
    return cell


def _header(ws: Any, labels: list[str], row: int = 1) -> None:
    from openpyxl.styles import Alignment, Font, PatternFill

    fill = PatternFill("solid", fgColor="1F4E79")
    for j, text in enumerate(labels, start=1):
        c = _set(ws, row, j, text)
        c.font = Font(bold=True, color="FFFFFF")
        c.fill = fill
        c.alignment = Alignment(wrap_text=True, vertical="center")


def _widths(ws: Any, widths: list[float]) -> None:
    from openpyxl.utils import get_column_letter

    for j, w in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(j)].width = max(8.0, min(60.0, w))


def _table(
    ws: Any,
    frame: pd.DataFrame,
    columns: list[str],
    lang: str,
    *,
    freeze: str = "A2",
    codes: dict[str, dict[str, dict[str, str]]] | None = None,
) -> None:
    """Write ``frame[columns]`` with translated headers, number formats and a frozen header row."""
    codes = codes or {}
    _header(ws, [L.label(c, lang, L.COLUMNS) for c in columns])
    kinds = {c: _kind_of(c, frame[c]) for c in columns}
    widths = [len(L.label(c, lang, L.COLUMNS)) * (2.0 if lang == "zh" else 1.1) + 2 for c in columns]
    for i, rec in enumerate(frame[columns].itertuples(index=False), start=2):
        for j, (c, v) in enumerate(zip(columns, rec, strict=True), start=1):
            if c in codes and not D.is_missing(v):
                v = "; ".join(L.translate_codes(v, codes[c], lang))
            _set(ws, i, j, v, _FORMATS.get(kinds[c]))
            if kinds[c] == "text" and isinstance(v, str):
                widths[j - 1] = max(widths[j - 1], min(60.0, len(v) * (1.8 if lang == "zh" else 1.1)))
            elif kinds[c] in ("money", "date"):
                widths[j - 1] = max(widths[j - 1], 14.0)
    _widths(ws, widths)
    ws.freeze_panes = freeze
    if len(frame):
        ws.auto_filter.ref = ws.dimensions


def _patents_frame(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    if "patent_id" not in out.columns:
        out.insert(0, "patent_id", out.index.astype(str))
    first = ["patent_id", *[c for c in L.COLUMNS if c in out.columns and c != "patent_id"]]
    rest = [c for c in out.columns if c not in first]  # extra columns are kept, after the known ones
    return out[first + rest]


def write_xlsx(
    assessment: Any, path: Path | BinaryIO, *, lang: str, profile: Any = None, comparables: Any = None
) -> Path | BinaryIO:
    """Write the Excel workbook to ``path`` or a binary file object.

    A "Profile" sheet when ``profile`` is given; a "Comparables" sheet (every comparable the market approach used,
    with each factor) when ``comparables`` is given.
    """
    from openpyxl import Workbook

    L.check_lang(lang)
    a = with_texts(assessment, (lang,), keep_basis=False)  # the engine's codes and numbers, worded in lang
    wb = Workbook()
    _summary_sheet(wb, a, lang)
    patents = _patents_sheet(wb, a, lang)
    _haircuts_sheet(wb, patents, lang)
    _coded_sheets(wb, a, lang)
    _assumptions_sheet(wb, a, lang)
    _audit_sheet(wb, a, lang)
    if profile is not None:
        _profile_sheet(wb, profile, lang)

    from ipvalue.report._market import write_market_sheet

    write_market_sheet(wb, assessment, comparables, lang=lang, header=_header, put=_set)
    wb.save(path if hasattr(path, "write") else str(path))
    return path


def _summary_sheet(wb: Any, a: Any, lang: str) -> None:
    """Fill the workbook's first sheet, "Summary": label, value, key (the stable key for systems reading it).

    The flags are written twice (worded, then their codes as ``flag_codes``); the loan's borrower and tenor
    follow the summary, then the disclaimer after one blank row.

    Parameters
    ----------
    wb : openpyxl.Workbook
        The new workbook; its active sheet becomes "Summary".
    a : Assessment
        The assessment with its texts worded in ``lang``.
    lang : str
        ``zh`` or ``en``.
    """
    from openpyxl.styles import Font

    s = a.summary
    ws = wb.active
    ws.title = "Summary"
    _header(ws, [L.label("key", lang), L.label("value", lang), "key"])
    r = 2
    for key in s:
        v = s[key]
        if key == "flags":
            items = v if isinstance(v, list | tuple) else [x for x in str(v or "").split(";") if x]
            v = "; ".join(L.translate_code(f, L.FLAGS, lang) for f in items)
            _set(ws, r, 1, L.label(key, lang, L.SUMMARY_LABELS))
            _set(ws, r, 2, v)
            _set(ws, r, 3, key)
            r += 1
            _set(ws, r, 1, L.label(key, lang, L.SUMMARY_LABELS) + " (codes)")
            _set(ws, r, 2, ";".join(str(x) for x in items))
            _set(ws, r, 3, "flag_codes")
        else:
            _set(ws, r, 1, L.label(key, lang, L.SUMMARY_LABELS))
            _set(ws, r, 2, v, _FORMATS.get(_SUMMARY_KIND.get(key, "")))
            _set(ws, r, 3, key)
        r += 1
    loan = a.loan
    for key, v, kind in (("borrower", loan.borrower, None), ("tenor", loan.tenor_years, "years")):
        _set(ws, r, 1, L.label(key, lang))
        _set(ws, r, 2, v, _FORMATS.get(kind or ""))
        _set(ws, r, 3, f"loan_{key}")
        r += 1
    ws.cell(row=r + 1, column=1, value=L.label("disclaimer", lang)).font = Font(italic=True, color="6B6B6B")
    _widths(ws, [34 if lang == "zh" else 44, 22, 30])
    ws.freeze_panes = "A2"


def _patents_sheet(wb: Any, a: Any, lang: str) -> pd.DataFrame:
    """Add the "Patents" sheet: one row per patent, every column.

    A text with a Chinese twin (``haircut_explanation_zh``) is written once, in the workbook's language.

    Parameters
    ----------
    wb : openpyxl.Workbook
        The workbook.
    a : Assessment
        The assessment with its texts worded in ``lang``.
    lang : str
        ``zh`` or ``en``.

    Returns
    -------
    pandas.DataFrame
        The patents table as written, for the "Haircuts" sheet.
    """
    patents = _patents_frame(D.localize_frame(a.patents, lang))
    _table(
        wb.create_sheet("Patents"),
        patents,
        list(patents.columns),
        lang,
        freeze="B2",
        codes={"ineligible_reasons": L.REASONS},
    )
    return patents


def _haircuts_sheet(wb: Any, patents: pd.DataFrame, lang: str) -> None:
    """Add the "Haircuts" sheet: each patent's haircut components, total, amount and collateral value.

    The amount (value - collateral value) is inserted before the collateral value when both are present; each
    component's header is its translated name.

    Parameters
    ----------
    wb : openpyxl.Workbook
        The workbook.
    patents : pandas.DataFrame
        The patents table as written on the "Patents" sheet.
    lang : str
        ``zh`` or ``en``.
    """
    comps = D.haircut_components(patents)
    hc = patents[
        ["patent_id"]
        + [c for c in ("title", "value", "eligible", "ineligible_reasons") if c in patents]
        + [f"haircut_{c}" for c in comps]
        + [c for c in ("haircut_total", "collateral_value", "haircut_explanation") if c in patents]
    ].copy()
    if "value" in hc and "collateral_value" in hc:
        hc.insert(
            hc.columns.get_loc("collateral_value"),
            "haircut_amount",
            pd.to_numeric(hc["value"], errors="coerce")
            - pd.to_numeric(hc["collateral_value"], errors="coerce"),
        )
    ws = wb.create_sheet("Haircuts")
    _table(ws, hc, list(hc.columns), lang, freeze="B2", codes={"ineligible_reasons": L.REASONS})
    for c in comps:
        j = list(hc.columns).index(f"haircut_{c}") + 1
        _set(ws, 1, j, L.translate_code(c, L.COMPONENTS, lang))


def _coded_sheets(wb: Any, a: Any, lang: str) -> None:
    """Add the "Liquidation" and "Stress" sheets, each with the translated name next to its stable code.

    Parameters
    ----------
    wb : openpyxl.Workbook
        The workbook.
    a : Assessment
        The assessment with its texts worded in ``lang``; a missing table gives an empty sheet.
    lang : str
        ``zh`` or ``en``.
    """
    for name, raw, code_col, table in (
        ("Liquidation", a.liquidation, "scenario", L.SCENARIOS),
        ("Stress", a.stress, "shock", L.SHOCKS),
    ):
        localized = D.localize_frame(raw, lang) if raw is not None else None
        frame = localized if localized is not None else pd.DataFrame()
        ws = wb.create_sheet(name)
        cols = list(frame.columns)
        _table(ws, frame, cols, lang)
        if code_col in cols:  # translated name next to the stable code
            j = len(cols) + 1
            _set(ws, 1, j, L.label(code_col, lang, L.COLUMNS) + (" (中文)" if lang == "zh" else " (label)"))
            for i, v in enumerate(frame[code_col], start=2):
                _set(ws, i, j, L.translate_code(v, table, lang))


def _assumptions_sheet(wb: Any, a: Any, lang: str) -> None:
    """Add the "Assumptions" sheet: the assumptions table, then the policy parameters with their sources.

    Parameters
    ----------
    wb : openpyxl.Workbook
        The workbook.
    a : Assessment
        The assessment with its texts worded in ``lang``.
    lang : str
        ``zh`` or ``en``.
    """
    from openpyxl.styles import Font

    assumptions = (
        a.assumptions if a.assumptions is not None else pd.DataFrame(columns=["name", "value", "source"])
    )
    ws = wb.create_sheet("Assumptions")
    _table(ws, assumptions, list(assumptions.columns), lang)
    row = len(assumptions) + 3
    _set(ws, row, 1, L.label("policy_parameters", lang)).font = Font(bold=True)
    for k, v in (a.policy or {}).items():
        row += 1
        _set(ws, row, 1, k)
        if isinstance(v, dict) and "value" in v:
            _set(ws, row, 2, v.get("value"))
            _set(ws, row, 3, v.get("source"))
        else:
            _set(ws, row, 2, v)


def _audit_sheet(wb: Any, a: Any, lang: str) -> None:
    """Add the "Audit" sheet: one name and value a line.

    Parameters
    ----------
    wb : openpyxl.Workbook
        The workbook.
    a : Assessment
        The assessment.
    lang : str
        ``zh`` or ``en``.
    """
    ws = wb.create_sheet("Audit")
    _header(ws, [L.label("name", lang), L.label("value", lang)])
    for i, (k, v) in enumerate((a.audit or {}).items(), start=2):
        _set(ws, i, 1, k)
        _set(ws, i, 2, v)
    _widths(ws, [22, 80])
    ws.freeze_panes = "A2"


def _profile_sheet(wb: Any, profile: Any, lang: str) -> None:
    """Add the "Profile" sheet: each indicator with its dimension, label, value, percentile, score and weight.

    The grade and score follow after one blank row.

    Parameters
    ----------
    wb : openpyxl.Workbook
        The workbook.
    profile : BorrowerProfile
        The borrower's technology profile.
    lang : str
        ``zh`` or ``en`` (the label column in that language).
    """
    ws = wb.create_sheet("Profile")
    label = "label_zh" if lang == "zh" else "label_en"
    head = ["indicator", "dimension", label, "value", "percentile", "score", "weight"]
    _header(ws, head)
    for i, (name, row) in enumerate(profile.indicators.iterrows(), start=2):
        for j, v in enumerate([name, row["dimension"], row[label], *row[head[3:]].tolist()], start=1):
            _set(ws, i, j, v)
    end = len(profile.indicators) + 3
    _set(ws, end, 1, "grade")
    _set(ws, end, 2, profile.grade)
    _set(ws, end + 1, 1, "score")
    _set(ws, end + 1, 2, profile.score)
    _widths(ws, [26, 12, 36, 12, 12, 12, 10])
    ws.freeze_panes = "A2"
