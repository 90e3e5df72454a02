import datetime as dt

import pandas as pd
import pytest
from typer.testing import CliRunner

import ipvalue as iv
from ipvalue.cli import app, register_commands
from ipvalue.demo import DEMO_AS_OF, demo_portfolio_path, load_demo

register_commands()
runner = CliRunner()


@pytest.mark.parametrize("command", ["demo", "fetch", "value", "assess", "report", "monitor", "serve"])
def test_every_command_has_help(command):
    res = runner.invoke(app, [command, "--help"])
    assert res.exit_code == 0, res.output
    assert "Usage" in res.output


@pytest.mark.slow
def test_demo_prints_facts_values_and_collateral():
    res = runner.invoke(app, ["demo", "--no-report"], terminal_width=240)
    assert res.exit_code == 0, res.output
    assert f"as_of: {DEMO_AS_OF.isoformat()} (the demo data's date)" in res.output
    frame, loan, as_of = load_demo()
    for pid in frame.index[:3]:
        assert pid in res.output
    a = iv.assess_collateral(iv.value_portfolio(frame, as_of=as_of, rng=0), loan=loan, rng=0)
    assert f"{a.summary['collateral_value']:,.0f}" in res.output


@pytest.mark.slow
def test_demo_prints_in_order_writes_the_reports_and_restores_the_collector(tmp_path):
    """The tables are printed while the PDF is laid out, in the order they are computed, before the paths
    written; the garbage collector paused for the run is on again after it."""
    import gc

    assert gc.isenabled()
    res = runner.invoke(app, ["demo", "--out", str(tmp_path), "--lang", "en"], terminal_width=240)
    assert res.exit_code == 0, res.output
    assert gc.isenabled()
    marks = [
        "as_of:",
        "Demo portfolio (fictional company",
        "Facts and terms",
        "Values (",
        "Collateral per patent",
        "Collateral summary",
        "technology profile (against 300 invented peer firms)",
        "wrote ",
    ]
    at = [res.output.find(m) for m in marks]
    assert min(at) >= 0 and at == sorted(at), list(zip(marks, at, strict=True))
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [f"collateral_report_en{s}" for s in (".html", ".pdf", ".xlsx")]
    assert (tmp_path / "collateral_report_en.pdf").read_bytes()[:5] == b"%PDF-"


def test_value_defaults_as_of_to_today_and_prints_it(tmp_path):
    out = tmp_path / "v.csv"
    res = runner.invoke(app, ["value", str(demo_portfolio_path()), "-o", str(out)], terminal_width=200)
    assert res.exit_code == 0, res.output
    assert f"as_of: {dt.date.today().isoformat()} (default)" in res.output
    valued = pd.read_csv(out, encoding="utf-8-sig")
    assert len(valued) == len(load_demo()[0])


def test_bad_as_of_is_refused():
    res = runner.invoke(app, ["value", str(demo_portfolio_path()), "--as-of", "30/06/2026"])
    assert res.exit_code != 0
    assert "YYYY-MM-DD" in res.output


@pytest.mark.slow
def test_comparables_option_on_value_assess_and_demo(tmp_path):
    from importlib import resources

    comps = str(resources.files("ipvalue") / "data" / "demo_comparables_FICTIONAL.csv")
    portfolio = str(demo_portfolio_path())
    out = tmp_path / "v.csv"
    res = runner.invoke(
        app,
        ["value", portfolio, "--as-of", "2026-06-30", "--comparables", comps, "-o", str(out)],
        terminal_width=240,
    )
    assert res.exit_code == 0, res.output
    valued = pd.read_csv(out, encoding="utf-8-sig")
    assert valued["value_market"].notna().any() and valued["methods_used"].str.contains("market").any()
    report = tmp_path / "r.html"
    res = runner.invoke(
        app,
        ["assess", portfolio, "--loan", "5000000", "--as-of", "2026-06-30", "--comparables", comps,
         "--report", str(report), "--lang", "en"],
        terminal_width=240,
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert 'id="market"' in report.read_text(encoding="utf-8")
    res = runner.invoke(app, ["demo", "--no-report", "--comparables", comps], terminal_width=240)
    assert res.exit_code == 0, res.output
    assert "value_market" in res.output
    res = runner.invoke(app, ["demo", "--no-report", "--comparables", str(tmp_path / "missing.csv")])
    assert res.exit_code == 2 and "--comparables" in res.output
