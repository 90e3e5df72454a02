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
