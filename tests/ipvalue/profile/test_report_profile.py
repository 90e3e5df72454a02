"""The profile in the collateral report: radar chart and indicator table (HTML), a sheet (Excel)."""

import pytest
from openpyxl import load_workbook

import ipvalue as iv
from ipvalue.demo import load_demo
from ipvalue.profile import synthetic_book
from ipvalue.report import charts, render_html, write


@pytest.fixture(scope="module")
def demo():
    portfolio, loan, as_of = load_demo()
    valued = iv.value_portfolio(portfolio, as_of=as_of, rng=0)
    assessment = iv.assess_collateral(valued, loan=loan, rng=0)
    peers = synthetic_book(300, as_of=as_of, mean_patents=30, seed=3)
    return assessment, iv.profile_borrower(valued, as_of=as_of, peers=peers)


@pytest.mark.slow
def test_html_and_xlsx_carry_the_profile(demo, tmp_path):
    assessment, prof = demo
    html = render_html(assessment, lang="en")
    assert 'id="profile"' not in html  # only when a profile is given
    from ipvalue.report._html import render_html as render

    html = render(assessment, lang="en", profile=prof)
    assert 'id="profile"' in html and f"<b>grade</b> {prof.grade}" in html
    assert prof.reasons["en"]["strongest"][0].split(":")[0] in html
    assert html.count("<tr><td>") >= len(prof.indicators)
    path = write(assessment, tmp_path / "r.xlsx", lang="zh", profile=prof)
    ws = load_workbook(path)["Profile"]
    names = [ws.cell(row=i, column=1).value for i in range(2, len(prof.indicators) + 2)]
    assert names == list(prof.indicators.index)


def test_radar_has_one_spoke_per_dimension(demo):
    _, prof = demo
    fig = charts.profile_radar(prof, lang="en")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == list(prof.dimensions["label_en"])
    assert prof.grade in ax.get_title()
