"""``ipvalue report``: every requested format and language, from a portfolio or a saved assessment."""

from __future__ import annotations

import importlib
import json

import pytest
import typer
from typer.testing import CliRunner

from ipvalue.cli import report_command


@pytest.fixture
def app():
    app = typer.Typer()
    app.command("report")(report_command)
    app.command("noop")(lambda: None)  # two commands, so "report" is a subcommand as in ipvalue's CLI
    return app


@pytest.mark.slow
def test_report_from_demo_portfolio(app, tmp_path):
    from ipvalue.demo import DEMO_AS_OF, demo_portfolio_path

    out = tmp_path / "out"
    res = CliRunner().invoke(
        app,
        [
            "report",
            str(demo_portfolio_path()),
            "--loan",
            "12000000",
            "--as-of",
            DEMO_AS_OF.isoformat(),
            "--out",
            str(out),
            "--lang",
            "both",
            "--format",
            "html,xlsx",
        ],
    )
    assert res.exit_code == 0, res.output
    assert f"as_of: {DEMO_AS_OF.isoformat()}" in res.output
    written = sorted(p.name for p in out.iterdir())
    assert written == [
        "collateral_report_en.html",
        "collateral_report_en.xlsx",
        "collateral_report_zh.html",
        "collateral_report_zh.xlsx",
    ]


def test_report_from_saved_assessment(app, fx, tmp_path):
    serialize = importlib.import_module("ipvalue.report.assessment_json")
    a = fx.make_assessment()
    src = tmp_path / "assessment.json"
    src.write_text(json.dumps(serialize.assessment_to_json(a), ensure_ascii=False), encoding="utf-8")
    res = CliRunner().invoke(
        app, ["report", str(src), "--out", str(tmp_path / "o"), "--format", "xlsx", "--lang", "en"]
    )
    assert res.exit_code == 0, res.output
    import openpyxl

    wb = openpyxl.load_workbook(tmp_path / "o" / "collateral_report_en.xlsx")
    summary = {r[2]: r[1] for r in wb["Summary"].iter_rows(min_row=2, values_only=True) if r[2]}
    assert summary["collateral_value"] == pytest.approx(a.summary["collateral_value"])


@pytest.mark.parametrize(
    "args, message",
    [
        (["--format", "docx"], "--format"),
        (["--lang", "fr"], "--lang"),
        ([], "--loan is required"),
    ],
)
def test_report_bad_options(app, tmp_path, args, message):
    from ipvalue.demo import demo_portfolio_path

    res = CliRunner().invoke(app, ["report", str(demo_portfolio_path()), "--out", str(tmp_path), *args])
    assert res.exit_code != 0
    assert message in res.output
