"""Benchmark: the serial part of ``assess_collateral`` with stress (all but the liquidation Monte Carlo), before and after.

Run as a script: ``python benchmarks/bench_serial.py [BEFORE] [--n 20000] [--demo-runs 15]`` prints a Markdown
table. Two worker processes, one after the other: one on the package as it is at git revision ``BEFORE``
(default ``main``, extracted with ``git archive``), one on this checkout. Each worker

* values the demo book and assesses it with the six stress shocks ``--demo-runs`` times (the first run a
  warm-up), and keeps the best CPU time of the process; and
* values a synthetic book of ``--n`` patents (``{"draws": 0}``, as ``bench_fast``) and assesses it with stress
  once.

Around each assessment the liquidation Monte Carlo (``liquidation_partial_sums_many``, as the stress run calls
it) is timed on its own, so the serial part is the assessment's CPU time less the Monte Carlo's (the process's
CPU time during the Monte Carlo includes its worker threads). The figures that must not move are compared:
the demo's output hash, and the book's stress collateral values, expected LGD and output hash.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from _versions import extract_ipvalue, run_worker, valued_book

ROOT = Path(__file__).resolve().parents[1]


def _timed_mc():
    """Wrap the stress run's Monte Carlo; returns the accumulator ``[wall, cpu]`` it adds to."""
    from ipvalue.collateral import stress

    acc = [0.0, 0.0]
    inner = stress.liquidation_partial_sums_many

    def timed(*args, **kwargs):
        t, c = time.perf_counter(), time.process_time()
        try:
            return inner(*args, **kwargs)
        finally:
            acc[0] += time.perf_counter() - t
            acc[1] += time.process_time() - c

    stress.liquidation_partial_sums_many = timed
    return acc


def _assess(valued, loan, acc) -> tuple[object, dict]:
    import ipvalue as iv

    acc[:] = [0.0, 0.0]
    t, c = time.perf_counter(), time.process_time()
    res = iv.assess_collateral(valued, loan=loan, rng=0)
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    return res, {"wall": wall, "cpu": cpu, "mc_wall": acc[0], "mc_cpu": acc[1], "serial_cpu": cpu - acc[1]}


def worker(n: int, demo_runs: int) -> dict:
    """Measure on the ``ipvalue`` this process imports."""
    import ipvalue as iv
    from ipvalue.demo import load_demo

    acc = _timed_mc()
    portfolio, loan, as_of = load_demo()
    valued = iv.value_portfolio(portfolio, as_of=as_of, rng=0)
    runs = [_assess(valued, loan, acc) for _ in range(demo_runs + 1)][1:]
    best = min((r[1] for r in runs), key=lambda x: x["cpu"])
    best_serial = min(r[1]["serial_cpu"] for r in runs)
    out: dict = {
        "demo": {**best, "best_serial_cpu": best_serial, "hash": runs[0][0].audit["output_hash"]},
    }
    if n == 0:
        return out
    big, big_loan = valued_book(n)
    res, times = _assess(big, big_loan, acc)
    out["book"] = {
        "n": n,
        **times,
        "hash": res.audit["output_hash"],
        "figures": [float(x) for x in res.stress["collateral_value"]] + [float(res.summary["expected_lgd"])],
    }
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("before", nargs="?", default="main")
    ap.add_argument("--n", type=int, default=20_000)
    ap.add_argument("--demo-runs", type=int, default=15)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tree = extract_ipvalue(args.before, Path(tmp) / "before")
        load0 = os.getloadavg()[0]
        extra = ["--n", str(args.n), "--demo-runs", str(args.demo_runs)]
        before = run_worker(__file__, tree, *extra)
        after = run_worker(__file__, ROOT, *extra)
        load1 = os.getloadavg()[0]
    b, a = before, after
    lines = [
        f"Before: `{args.before}` (git archive), after: this checkout; one worker process each, one after the "
        f"other; load average (1 min) {load0:.1f} before, {load1:.1f} after, {os.cpu_count()} cores.",
        "",
        "| | before | after | ratio |",
        "|---|---:|---:|---:|",
    ]

    def row(label: str, x: float, y: float, unit: str, scale: float) -> None:
        lines.append(
            f"| {label} | {x * scale:.{0 if scale > 1 else 2}f} {unit} | {y * scale:.{0 if scale > 1 else 2}f} {unit} | {x / y:.2f}x |"
        )

    row(
        f"demo, best of {args.demo_runs}: assessment with stress, CPU",
        b["demo"]["cpu"],
        a["demo"]["cpu"],
        "ms",
        1e3,
    )
    row("demo: of which the Monte Carlo, CPU", b["demo"]["mc_cpu"], a["demo"]["mc_cpu"], "ms", 1e3)
    row("demo: the serial part (the rest), CPU", b["demo"]["serial_cpu"], a["demo"]["serial_cpu"], "ms", 1e3)
    row(
        "demo: the serial part, best run",
        b["demo"]["best_serial_cpu"],
        a["demo"]["best_serial_cpu"],
        "ms",
        1e3,
    )
    bb, ab = b["book"], a["book"]
    row(f"book of {ab['n']:,}, once: assessment with stress, wall", bb["wall"], ab["wall"], "s", 1)
    row("book: assessment with stress, CPU", bb["cpu"], ab["cpu"], "s", 1)
    row("book: the Monte Carlo, wall", bb["mc_wall"], ab["mc_wall"], "s", 1)
    row("book: the serial part (CPU less the Monte Carlo's)", bb["serial_cpu"], ab["serial_cpu"], "s", 1)
    row(
        "book: the serial part's wall (wall less the Monte Carlo's)",
        bb["wall"] - bb["mc_wall"],
        ab["wall"] - ab["mc_wall"],
        "s",
        1,
    )
    lines += [
        "",
        f"Demo output hash the same: {'yes' if b['demo']['hash'] == a['demo']['hash'] else 'NO'} "
        f"(`{a['demo']['hash'][:16]}...`); book: stress collateral values and expected LGD identical: "
        f"{'yes' if bb['figures'] == ab['figures'] else 'NO'}, output hash the same: "
        f"{'yes' if bb['hash'] == ab['hash'] else 'NO'}.",
    ]
    print("\n".join(lines))


if __name__ == "__main__":
    if "--worker" in sys.argv:
        sys.path.insert(0, os.environ.get("PYTHONPATH", str(ROOT)))
        argv = sys.argv[sys.argv.index("--worker") + 1 :]
        ap = argparse.ArgumentParser()
        ap.add_argument("--n", type=int)
        ap.add_argument("--demo-runs", type=int)
        w = ap.parse_args(argv)
        print(json.dumps(worker(w.n, w.demo_runs)))
        sys.exit(0)
    main()
