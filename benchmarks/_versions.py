"""Two versions of ipvalue side by side, for the benchmarks that measure a change before and after in one run.

A benchmark script runs its measuring code as a worker process (``script --worker ...``) once on an older tree of
the package, extracted from git, and once on this checkout; each worker prints its figures as JSON on its last
line. Used by ``bench_fast``, ``bench_demo``, ``bench_collateral_pass``, ``bench_stress_revalue``,
``bench_one_draw_pass`` and ``bench_liquidation_mc``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def extract_ipvalue(rev: str, dest: Path) -> Path:
    """Write the ``ipvalue`` package as it is at git revision ``rev`` under ``dest`` (created); return ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(
        ["git", "archive", rev, "ipvalue"], cwd=ROOT, check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest


def run_worker(script: str | Path, tree: Path, *args: str) -> dict:
    """Run ``script --worker *args`` on the package in ``tree``; the JSON its last line of output holds."""
    env = dict(os.environ, PYTHONPATH=str(tree))
    cmd = [sys.executable, str(Path(script).resolve()), "--worker", *args]
    done = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True, cwd=str(tree))
    return json.loads(done.stdout.strip().splitlines()[-1])


def book_loan(n: int):
    """The loan the benchmarks pledge a synthetic book of ``n`` patents against (500 M CNY per 100,000 patents)."""
    import ipvalue as iv

    return iv.Loan(
        amount=5e8 * n / 100_000,
        currency="CNY",
        tenor_years=3.0,
        interest_rate=0.045,
        probability_of_default=0.03,
    )


def valued_book(n: int):
    """The synthetic book of ``n`` patents valued as the benchmarks value it (point values), and its loan."""
    import ipvalue as iv
    from ipvalue.valuation._synthetic import synthetic_portfolio

    valued = iv.value_portfolio(synthetic_portfolio(n, seed=0), {"draws": 0}, as_of="2026-06-30", rng=1)
    return valued, book_loan(n)


def stress_revaluations(valued):
    """A callable running the stress test's revaluations of ``valued`` as one stress run does; and their digest.

    The frame as the collateral checks leave it (sorted by ``patent_id``), every shock with an input function,
    a fresh run record each call (what a stress run keeps lives as long as it); a shock that cannot be revalued
    gives None (the stress run then applies it to the values directly).
    """
    import datetime as dt
    import hashlib

    from ipvalue.collateral import stress
    from ipvalue.collateral._inputs import check_frame
    from ipvalue.facts.columns import input_hash

    frame = check_frame(valued).sort_index(kind="stable")
    record = dict(valued.attrs["ipvalue"])
    day = dt.date.fromisoformat(record["as_of"])
    shocks = [s for s in stress.STRESS_SHOCKS if s.revalue is not None]

    def one(shock, info):
        try:
            return stress._revalue(frame, shock, as_of=day, info=info)
        except stress._CannotRevalue:
            return None

    def run():
        info = dict(record)
        return [one(s, info) for s in shocks]

    def digest(frames) -> str:
        return hashlib.sha256(
            "".join("-" if f is None else input_hash(f) for f in frames).encode()
        ).hexdigest()

    return run, digest
