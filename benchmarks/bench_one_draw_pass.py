"""Benchmark: the base case and the stress shocks in one pass of Monte Carlo draws (issue 17), before and after.

Run as a script: ``python benchmarks/bench_one_draw_pass.py [--quick]`` prints a Markdown table and writes it to
``benchmarks/results/one_draw_pass.md``. Two worker processes run the same case one after the other: "before" on
the ``ipvalue`` tree of commit ``BEFORE`` (extracted with ``git archive``), where ``assess_collateral`` with
stress runs the base case, then the shocks on a shock axis that draws the book again above the keep-draws
threshold; "after" on this checkout, where the base case is run 0 of the shock axis (one draw pass). The case:
a synthetic book (``ipvalue/valuation/_synthetic.py``, 20,000 patents, ``--quick`` 2,000) valued with point
values and the loan of ``benchmarks/bench_fast.py``, ``assess_collateral`` with the six stress shocks, once:
wall and CPU time of the process, the CPU time inside ``liquidation_partial_sums_many`` and its calls (runs per
call). The output hashes (patents, summary, liquidation table, stress table, recovery paths) are compared.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

from _versions import extract_ipvalue, run_worker, valued_book

#: main before this work
BEFORE = "37525d4"
ROOT = Path(__file__).resolve().parents[1]


def worker(quick: bool) -> dict:
    """Measure the case on the ``ipvalue`` this process imports."""
    import ipvalue as iv
    from ipvalue.collateral import kernel, stress

    n = 2_000 if quick else 20_000
    big, loan = valued_book(n)
    calls: list[int] = []
    mc_cpu = [0.0]
    for mod in (kernel, stress):
        inner = mod.liquidation_partial_sums_many

        def timed(runs, _inner=inner, **kw):
            c = time.process_time()
            try:
                return _inner(runs, **kw)
            finally:
                mc_cpu[0] += time.process_time() - c
                calls.append(len(runs))

        mod.liquidation_partial_sums_many = timed
    t, c = time.perf_counter(), time.process_time()
    res = iv.assess_collateral(big, loan=loan, rng=0)
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    return {
        "n": n,
        "pledged": int(res.summary["n_eligible"]),
        "wall": wall,
        "cpu": cpu,
        "mc_cpu": mc_cpu[0],
        "calls": calls,
        "output_hash": res.audit["output_hash"],
    }


def _run_worker(path: Path, quick: bool) -> dict:
    return run_worker(__file__, path, *(["--quick"] if quick else []))


def run(quick: bool = False) -> str:
    """Both workers, then the Markdown table."""
    with tempfile.TemporaryDirectory() as tmp:
        before_dir = extract_ipvalue(BEFORE, Path(tmp) / "before")
        load0 = os.getloadavg()[0]
        b = _run_worker(before_dir, quick)
        a = _run_worker(ROOT, quick)
        load1 = os.getloadavg()[0]
    lines = [
        f"Book of {a['n']:,} synthetic patents ({a['pledged']:,} pledged), 20,000 paths, `assess_collateral` with "
        f"the six stress shocks, once each; before: `{BEFORE}`, after: this checkout, one worker process after "
        f"the other (load average {load0:.1f} / {load1:.1f} on {os.cpu_count()} cores).",
        "",
        "| | before | after | CPU ratio |",
        "|---|---:|---:|---:|",
        f"| wall s (CPU s) | {b['wall']:.2f} ({b['cpu']:.2f}) | {a['wall']:.2f} ({a['cpu']:.2f}) | "
        f"{b['cpu'] / a['cpu']:.2f}x |",
        f"| CPU s in `liquidation_partial_sums_many` | {b['mc_cpu']:.2f} | {a['mc_cpu']:.2f} | "
        f"{b['mc_cpu'] / a['mc_cpu']:.2f}x |",
        f"| calls (runs per call) | {b['calls']} | {a['calls']} | |",
        f"| output hash | `{b['output_hash'][:16]}` | `{a['output_hash'][:16]}` | "
        f"{'identical' if a['output_hash'] == b['output_hash'] else 'DIFFERENT'} |",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    quick = "--quick" in sys.argv
    if "--worker" in sys.argv:
        print(json.dumps(worker(quick)))
    else:
        text = run(quick)
        out = ROOT / "benchmarks" / "results"
        out.mkdir(exist_ok=True)
        (out / "one_draw_pass.md").write_text(text, encoding="utf-8")
        print(text)
