"""The Excel workbook read back: same numbers as the assessment, formats, frozen headers, text kept as text."""

from __future__ import annotations

import math

import numpy as np
import openpyxl
import pandas as pd
import pytest

import ipvalue.report as R
from ipvalue.report import _labels as L
from ipvalue.report._xlsx import DATE_FORMAT, MONEY_FORMAT, PCT_FORMAT, SHEETS


@pytest.fixture(scope="module")
def wb_zh(reports):
    return openpyxl.load_workbook(reports["zh", "xlsx"])


def _sheet_frame(ws) -> pd.DataFrame:
    rows = list(ws.iter_rows(values_only=True))
    return pd.DataFrame(rows[1:], columns=rows[0])


def test_sheets_and_frozen_headers(wb_zh):
    assert wb_zh.sheetnames == list(SHEETS)
    for name in SHEETS:
        assert wb_zh[name].freeze_panes in ("A2", "B2"), name
    assert wb_zh["Patents"].freeze_panes == "B2"


def test_summary_values_equal_the_assessment(fx, wb_zh):
    a = fx.make_assessment()
    ws = wb_zh["Summary"]
    by_key = {row[2]: (row[0], row[1]) for row in ws.iter_rows(min_row=2, values_only=True) if row[2]}
    for key, v in a.summary.items():
        if key == "flags":
            assert by_key["flag_codes"][1] == ";".join(v)
            assert L.translate_code("SHORTFALL", L.FLAGS, "zh") in by_key["flags"][1]
        elif isinstance(v, float) and math.isnan(v):
            assert by_key[key][1] is None
        elif isinstance(v, int | float):
            assert by_key[key][1] == pytest.approx(v, rel=1e-12), key
        else:
            assert by_key[key][1] == v, key
        assert by_key[key][0] == L.label(key, "zh", L.SUMMARY_LABELS)
    fmt = {row[2].value: row[1].number_format for row in ws.iter_rows(min_row=2) if row[2].value}
    assert fmt["appraised_value"] == MONEY_FORMAT
    assert fmt["ltv"] == PCT_FORMAT and fmt["lgd_99"] == PCT_FORMAT


def test_patents_sheet_round_trip(fx, reports):
    a = fx.make_assessment()
    df = pd.read_excel(reports["zh", "xlsx"], sheet_name="Patents")
    back = {L.label(c, "zh", L.COLUMNS): c for c in a.patents.columns}
    assert len(back) == len(a.patents.columns)  # headers are unique
    df = df.rename(columns=lambda c: back.get(c, c)).set_index("patent_id")
    assert list(df.index) == list(a.patents.index)  # every patent, in order
    for col in (
        "value",
        "value_income",
        "value_option",
        "collateral_value",
        "haircut_total",
        "remaining_life_years",
        "quality_score",
    ):
        np.testing.assert_allclose(
            df[col].to_numpy(dtype=float),
            a.patents[col].to_numpy(dtype=float),
            rtol=1e-12,
            equal_nan=True,
            err_msg=col,
        )
    assert "bank_internal_ref" in df.columns  # unknown columns are kept
    assert df.loc[a.patents.index[1], "title"] == fx.SCRIPT_TITLE
    assert df.loc[a.patents.index[5], "ineligible_reasons"] == "; ".join(
        L.translate_codes("LAPSED;FEES_UNPAID", L.REASONS, "zh")
    )


def test_patents_formats_and_text_not_formula(fx, wb_zh):
    a = fx.make_assessment()
    ws = wb_zh["Patents"]
    head = {c.value: c.column for c in ws[1]}
    col_value = head[L.label("value", "zh", L.COLUMNS)]
    col_cut = head[L.label("haircut_total", "zh", L.COLUMNS)]
    col_title = head[L.label("title", "zh", L.COLUMNS)]
    col_date = head[L.label("filing_date", "zh", L.COLUMNS)]
    assert ws.cell(2, col_value).number_format == MONEY_FORMAT
    assert ws.cell(2, col_cut).number_format == PCT_FORMAT
    assert ws.cell(2, col_date).number_format == DATE_FORMAT
    row_formula = list(a.patents["title"]).index(fx.FORMULA_TITLE) + 2
    cell = ws.cell(row_formula, col_title)
    assert cell.data_type == "s" and cell.value == fx.FORMULA_TITLE  # stored as text, not a formula


def test_haircuts_liquidation_stress(fx, wb_zh):
    a = fx.make_assessment()
    hc = _sheet_frame(wb_zh["Haircuts"])
    assert len(hc) == len(a.patents)
    amount = hc[L.label("haircut_amount", "zh", L.COLUMNS)].to_numpy(dtype=float)
    expect = (a.patents["value"] - a.patents["collateral_value"]).to_numpy(dtype=float)
    np.testing.assert_allclose(amount, expect, rtol=1e-12)
    assert L.translate_code("market", L.COMPONENTS, "zh") in hc.columns
    liq = _sheet_frame(wb_zh["Liquidation"])
    np.testing.assert_allclose(
        liq[L.label("recovery_rate", "zh", L.COLUMNS)].to_numpy(dtype=float),
        a.liquidation["recovery_rate"].to_numpy(dtype=float),
        rtol=1e-12,
    )
    assert list(liq[L.label("scenario", "zh", L.COLUMNS)]) == list(a.liquidation["scenario"])  # stable codes
    st = _sheet_frame(wb_zh["Stress"])
    np.testing.assert_allclose(
        st[L.label("change_pct", "zh", L.COLUMNS)].to_numpy(dtype=float),
        a.stress["change_pct"].to_numpy(dtype=float),
        rtol=1e-12,
    )
    asm = _sheet_frame(wb_zh["Assumptions"])
    assert list(asm[L.label("name", "zh", L.COLUMNS)][: len(a.assumptions)]) == list(a.assumptions["name"])
    audit = {r[0]: r[1] for r in wb_zh["Audit"].iter_rows(min_row=2, values_only=True)}
    assert audit["input_hash"] == a.audit["input_hash"] and audit["seed"] == a.audit["seed"]


def test_english_headers(reports):
    wb = openpyxl.load_workbook(reports["en", "xlsx"])
    heads = [c.value for c in wb["Patents"][1]]
    assert "Appraised value" in heads and "Collateral value" in heads
    assert wb.sheetnames == list(SHEETS)  # sheet names are the same in both languages


def test_nan_cells_are_empty(nan_assessment, tmp_path):
    path = R.write(nan_assessment, tmp_path / "nan.xlsx", lang="en")
    wb = openpyxl.load_workbook(path)
    ws = wb["Patents"]
    head = {c.value: c.column for c in ws[1]}
    assert ws.cell(2, head["Appraised value"]).value is None
    assert ws.cell(2, head["tags"]).value == "a; b"
    summary = {r[2]: r[1] for r in wb["Summary"].iter_rows(min_row=2, values_only=True)}
    assert summary["expected_loss"] is None and summary["ltv"] is None
    assert len(list(wb["Stress"].iter_rows(min_row=2))) == 0
