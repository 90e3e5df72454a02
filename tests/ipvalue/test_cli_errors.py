"""The command line as a thin layer over the error tree: one line and exit code 2 for a user error."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ipvalue.cli import error_line, parse_fx
from ipvalue.demo import demo_portfolio_path
from ipvalue.errors import InputError, Problem

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-c", "from ipvalue.cli import main; main()", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
    )


def assert_one_line_user_error(res: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert res.returncode == 2, res.stderr
    lines = [x for x in res.stderr.splitlines() if x.strip()]
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in res.stderr + res.stdout
    for needle in needles:
        assert needle in lines[0]


def test_missing_file_is_one_line(tmp_path: Path) -> None:
    res = run_cli("value", str(tmp_path / "nope.csv"), "--as-of", "2026-06-30")
    assert_one_line_user_error(res, "nope.csv")


def test_unknown_office_code_names_patent_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("patent_id,jurisdiction\nXX123,XX\n", encoding="utf-8")
    res = run_cli("assess", str(bad), "--loan", "1000000", "--as-of", "2026-06-30")
    assert_one_line_user_error(res, "XX123", "patent_id")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("assess", "PORTFOLIO"), "--loan"),
        (("assess", "PORTFOLIO", "--loan", "1e6", "--fx", "USD=abc"), "--fx"),
        (("value", "PORTFOLIO", "--as-of", "2026-13-01"), "--as-of"),
        (("nosuchcommand",), "nosuchcommand"),
    ],
)
def test_bad_option_is_one_line(args: tuple[str, ...], needle: str) -> None:
    args = tuple(str(demo_portfolio_path()) if a == "PORTFOLIO" else a for a in args)
    assert_one_line_user_error(run_cli(*args), needle)


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    res = run_cli("--debug", "value", str(tmp_path / "nope.csv"), "--as-of", "2026-06-30")
    assert res.returncode != 0
    assert "Traceback" in res.stderr and "FileNotFoundError" in res.stderr


def test_help_lists_every_command() -> None:
    res = run_cli("--help")
    assert res.returncode == 0
    for name in ("demo", "fetch", "value", "assess", "report", "serve", "monitor"):
        assert name in res.stdout


def test_a_broken_command_module_fails_loudly(tmp_path: Path) -> None:
    # a command module that cannot be imported must not silently drop its command
    code = (
        "import sys; sys.modules['data_sources.cli'] = None\nfrom ipvalue.cli import main; main(['--help'])\n"
    )
    res = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=120,
    )
    assert res.returncode != 0
    assert "data_sources.cli" in res.stderr


def test_error_line_reads_the_structured_problems() -> None:
    err = InputError([Problem("CN1", "claims", "must be a whole number"), Problem("CN2", "claims", "x")])
    line = error_line(err)
    assert line == "error: patent CN1, field claims: must be a whole number (and 1 more problem(s))"


def test_parse_fx() -> None:
    assert parse_fx(["usd=7.1", "EUR=7.8"]) == {"USD": 7.1, "EUR": 7.8}
    assert parse_fx(None) is None
