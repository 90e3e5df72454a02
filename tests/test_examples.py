"""Every script in examples/ runs, and says what the library says."""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest

import ipvalue as iv
from ipvalue.demo import load_demo

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
PY = sys.executable


def run(*args, env=None, timeout=300):
    res = subprocess.run(
        [PY, *map(str, args)], capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT
    )
    assert res.returncode == 0, res.stdout + res.stderr
    return res.stdout


def test_make_demo_portfolio_reproduces_the_bundled_file(tmp_path):
    before = (EXAMPLES / "demo_portfolio.csv").read_bytes()
    run(EXAMPLES / "make_demo_portfolio.py")
    assert (EXAMPLES / "demo_portfolio.csv").read_bytes() == before


@pytest.mark.slow
def test_value_in_a_script(tmp_path):
    out = tmp_path / "valued.csv"
    text = run(EXAMPLES / "value_in_a_script.py", "--out", out)
    frame, _, as_of = load_demo()
    expected = iv.value_portfolio(frame, as_of=as_of, rng=0)
    got = pd.read_csv(out, encoding="utf-8-sig").set_index("patent_id")
    assert list(got.index) == list(expected.index)
    pd.testing.assert_series_equal(got["value"], expected["value"], check_names=False, rtol=1e-12)
    assert f"total value {expected['value'].sum():,.0f}" in text


@pytest.mark.slow
def test_collateral_report(tmp_path):
    text = run(EXAMPLES / "collateral_report.py", "--out", tmp_path, "--formats", "html,xlsx")
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [
        "collateral_report_en.html",
        "collateral_report_en.xlsx",
        "collateral_report_zh.html",
        "collateral_report_zh.xlsx",
    ]
    frame, loan, as_of = load_demo()
    a = iv.assess_collateral(iv.value_portfolio(frame, as_of=as_of, rng=0), loan=loan, rng=0)
    assert f"collateral {a.summary['collateral_value']:,.0f}" in text
    summary = pd.read_excel(tmp_path / "collateral_report_en.xlsx", sheet_name="Summary", header=None)
    assert summary.astype(str).apply(lambda c: c.str.contains("Collateral value", case=False)).any().any()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_loan_system_client_against_a_real_service(tmp_path):
    keys = tmp_path / "keys.json"
    add = subprocess.run(
        [
            PY,
            "-m",
            "ipvalue.cli",
            "serve",
            "--keys-file",
            str(keys),
            "--add-key",
            "loan-system",
            "--scopes",
            "read,write",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert add.returncode == 0, add.stderr
    secret = add.stdout.strip().splitlines()[-1].strip()
    port = _free_port()
    server = subprocess.Popen(
        [
            PY,
            "-m",
            "ipvalue.cli",
            "serve",
            "--keys-file",
            str(keys),
            "--db",
            str(tmp_path / "s.db"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                pytest.fail(
                    "service did not start: "
                    + (server.stdout.read().decode() if server.poll() is not None else "")
                )
            time.sleep(0.3)
        out = tmp_path / "report.html"
        env = {**os.environ, "IPVALUE_API_KEY": secret}
        text = run(EXAMPLES / "loan_system_client.py", "--url", url, "--out", out, env=env)
        shown = json.loads(text[text.index("{") : text.index("}") + 1])
        frame, loan, as_of = load_demo()
        a = iv.assess_collateral(iv.value_portfolio(frame, as_of=as_of, rng=0), loan=loan, rng=0)
        assert shown["collateral_value"] == pytest.approx(a.summary["collateral_value"], rel=1e-9)
        assert shown["max_loan"] == pytest.approx(a.summary["max_loan"], rel=1e-9)
        assert out.read_bytes().startswith(b"<!DOCTYPE html") or b"<html" in out.read_bytes()[:500]
    finally:
        server.terminate()
        server.wait(timeout=30)
