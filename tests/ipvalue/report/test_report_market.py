"""The report's market approach section (issue #14): the comparables behind value_market, with every factor."""

from __future__ import annotations

from importlib import resources

import numpy as np
import pytest

import ipvalue as iv
from ipvalue.demo import load_demo
from ipvalue.report._labels import LANGS, MARKET_LABELS
from ipvalue.report._market import MARKET_COLUMNS, comparables_table

COMPS = str(resources.files("ipvalue") / "data" / "demo_comparables_FICTIONAL.csv")
FACTORS = [c for c, _ in MARKET_COLUMNS if c.startswith("factor_")]


@pytest.fixture(scope="module")
def case():
    frame, loan, as_of = load_demo()
    valued = iv.value_portfolio(frame, {"draws": 64}, as_of=as_of, comparables=COMPS)
    assessment = iv.assess_collateral(valued, loan=loan, rng=0)
    result = iv.valuation.market_comparables(frame, as_of=as_of, comparables=COMPS)
    return frame, valued, assessment, result


def test_the_table_gives_value_market(case):
    # the rows shown are those behind value_market: weight x adjusted value sums to it per patent (granted ones;
    # a pending application's value_market is after its grant factor)
    _, valued, assessment, result = case
    table = comparables_table(assessment, result)
    assert len(table) > 0
    granted = valued.index[
        valued["grant_probability"].eq(1.0) & valued["methods_used"].str.contains("market")
    ]
    got = (table["weight"] * table["adjusted_value"]).groupby(table["patent_id"]).sum()
    np.testing.assert_allclose(got.reindex(granted), valued.loc[granted, "value_market"], rtol=1e-12)
    # every factor is shown and multiplies out to the adjusted value of a price comparable
    price = table[table["price"].notna()]
    prod = price["price"] * np.prod(price[FACTORS].to_numpy(), axis=1)
    np.testing.assert_allclose(prod, price["adjusted_value"], rtol=1e-12)
    # patents the market approach did not weigh (no right at as_of) are not in the table
    assert set(table["patent_id"]) == set(valued.index[valued["methods_used"].str.contains("market")])


@pytest.mark.slow
@pytest.mark.parametrize("lang", LANGS)
def test_html_shows_every_factor(case, lang):
    _, _, assessment, result = case
    from ipvalue.report._html import render_html

    html = render_html(assessment, lang=lang, comparables=result)
    assert 'id="market"' in html
    for col in FACTORS:
        assert f">{MARKET_LABELS[col][lang]}</th>" in html
    assert "DEMO-C01" in html
    plain = render_html(assessment, lang=lang)
    assert 'id="market"' not in plain  # no comparables given, no section


def test_xlsx_sheet_has_every_factor_as_numbers(case, tmp_path):
    import openpyxl

    _, _, assessment, result = case
    path = iv.report.write(assessment, tmp_path / "r.xlsx", lang="en", comparables=result)
    ws = openpyxl.load_workbook(path)["Comparables"]
    head = [c.value for c in ws[1]]
    assert head == [MARKET_LABELS[c]["en"] for c, _ in MARKET_COLUMNS]
    table = comparables_table(assessment, result)
    assert ws.max_row == len(table) + 1
    j = head.index(MARKET_LABELS["factor_technology"]["en"]) + 1
    assert ws.cell(row=2, column=j).value == pytest.approx(table["factor_technology"].iloc[0])
    plain = iv.report.write(assessment, tmp_path / "p.xlsx", lang="en")
    assert "Comparables" not in openpyxl.load_workbook(plain).sheetnames


def test_given_but_never_weighed_says_so(case):
    frame, _, _, result = case
    _, loan, as_of = load_demo()
    valued = iv.value_portfolio(
        frame, {"draws": 0, "market_max_level": "group"}, as_of=as_of, comparables=COMPS
    )
    assessment = iv.assess_collateral(valued, loan=loan, rng=0)
    from ipvalue.report._market import market_context

    ctx = market_context(assessment, result, lang="zh")
    assert ctx is not None and ctx["rows"] == [] and ctx["empty"] == MARKET_LABELS["market_not_used"]["zh"]


def test_every_market_label_has_both_languages():
    for key, entry in MARKET_LABELS.items():
        assert set(entry) == set(LANGS) and all(entry.values()), key
