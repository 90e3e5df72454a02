"""Benchmark: the collateral pass on arrays (issue 17), before and after in one run, with where the time goes.

Run as a script: ``python benchmarks/bench_collateral_pass.py [--quick]`` prints the Markdown section and
writes it to ``benchmarks/results/collateral_pass.md``. Two worker processes run the same cases one after the
other: one on the code before the collateral pass moved to arrays (commit ``BEFORE``, extracted with
``git archive``), one on this checkout. Each measures, on the demo book (34 patents, 20,000 paths, the six
stress shocks, default policy):

* ``assess_collateral`` without and with stress: best of several runs, CPU time of the process (and wall);
* the number of ``copy.deepcopy`` calls in one assessment with stress;
* the audit's ``input_hash`` and ``output_hash`` and the stress table's collateral values (must be equal);
* where the time of the best run with stress goes, by timing the engine's parts with wrappers: the stress
  revaluations (``stress._revalue``, the valuation engine), the liquidation Monte Carlo (partial sums, the
  reduction, the path-level draws, the scenario values: ``collateral/liquidation.py``), and the rest, which is
  the collateral pass (reading, eligibility, haircuts, sizing, stress shocks' numbers), the audit hashes and
  the assembly of the result.
"""

from __future__ import annotations

import collections
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _versions import extract_ipvalue, run_worker

#: main just before the collateral pass moved to arrays (issue 17)
BEFORE = "0867be5"
ROOT = Path(__file__).resolve().parents[1]

#: (module, function, part) wrapped to time the parts; a name a version lacks is skipped
PARTS = (
    ("ipvalue.collateral.stress", "_revalue", "revaluations"),
    ("ipvalue.collateral.stress", "liquidation_partial_sums_many", "Monte Carlo"),
    ("ipvalue.collateral.kernel", "liquidation_partial_sums_many", "Monte Carlo"),
    ("ipvalue.collateral.kernel", "finish_liquidation", "Monte Carlo"),
    ("ipvalue.collateral.kernel", "liquidation_setup", "Monte Carlo"),
    ("ipvalue.collateral.stress", "liquidation_setup", "Monte Carlo"),
    ("ipvalue.collateral.kernel", "scenario_values", "Monte Carlo"),
    ("ipvalue.collateral.api", "input_hash", "audit hashes"),
)


def _best(fn: Any, repeat: int) -> tuple[float, float]:
    """Best wall and CPU time of ``repeat`` runs (a first run is a warm-up, not counted)."""
    fn()
    walls, cpus = [], []
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    return min(walls), min(cpus)


def _deepcopies(fn: Any) -> int:
    import cProfile
    import pstats

    prof = cProfile.Profile()
    prof.runcall(fn)
    stats = pstats.Stats(prof).stats  # type: ignore[attr-defined]
    return sum(v[1] for k, v in stats.items() if k[2] == "deepcopy" and k[0].endswith("copy.py"))


def _parts(fn: Any, repeat: int) -> dict[str, float]:
    """CPU seconds by part in the best of ``repeat`` runs (each part timed by wrapping its functions)."""
    import importlib

    acc: collections.Counter = collections.Counter()
    depth = [0]

    def wrap(mod: Any, name: str, part: str) -> None:
        f = getattr(mod, name)

        def timed(*a: Any, **k: Any) -> Any:
            if depth[0]:  # a part inside another part counts once, in the outer one
                return f(*a, **k)
            depth[0] += 1
            c = time.process_time()
            try:
                return f(*a, **k)
            finally:
                acc[part] += time.process_time() - c
                depth[0] -= 1

        setattr(mod, name, timed)

    for module, name, part in PARTS:
        mod = importlib.import_module(module)
        if hasattr(mod, name):
            wrap(mod, name, part)
    best: tuple[float, dict] | None = None
    for _ in range(repeat):
        acc.clear()
        c = time.process_time()
        fn()
        total = time.process_time() - c
        if best is None or total < best[0]:
            best = (total, dict(acc))
    assert best is not None
    total, parts = best
    parts["collateral pass and the rest"] = total - sum(parts.values())
    parts["total"] = total
    return parts


def worker(quick: bool) -> dict:
    """Measure the cases on the ``ipvalue`` this process imports; return the figures."""
    import ipvalue as iv
    from ipvalue.demo import load_demo

    out: dict = {"ipvalue": str(Path(iv.__file__).resolve().parent)}
    portfolio, loan, as_of = load_demo()
    valued = iv.value_portfolio(portfolio, as_of=as_of, rng=0)
    rep = 3 if quick else 9
    out["plain"] = _best(lambda: iv.assess_collateral(valued, loan=loan, rng=0, stress=False), rep)
    out["stress"] = _best(lambda: iv.assess_collateral(valued, loan=loan, rng=0), rep)
    out["deepcopy"] = _deepcopies(lambda: iv.assess_collateral(valued, loan=loan, rng=0))
    a = iv.assess_collateral(valued, loan=loan, rng=0)
    p = iv.assess_collateral(valued, loan=loan, rng=0, stress=False)
    out["audit"] = [
        a.audit["input_hash"],
        a.audit["output_hash"],
        p.audit["input_hash"],
        p.audit["output_hash"],
    ]
    out["figures"] = [float(x) for x in a.stress["collateral_value"]] + [float(a.summary["collateral_value"])]
    out["parts"] = _parts(lambda: iv.assess_collateral(valued, loan=loan, rng=0), rep)
    return out


def _run_worker(path: Path, quick: bool) -> dict:
    return run_worker(__file__, path, *(["--quick"] if quick else []))


def run(quick: bool = False) -> str:
    """Both workers, then the Markdown section."""
    with tempfile.TemporaryDirectory() as tmp:
        before_dir = extract_ipvalue(BEFORE, Path(tmp) / "before")
        load0 = os.getloadavg()[0]
        before = _run_worker(before_dir, quick)
        after = _run_worker(ROOT, quick)
        load1 = os.getloadavg()[0]
    b, a = before, after

    def ms(x: float) -> str:
        return f"{x * 1e3:.0f}"

    rows = [
        f"| `assess_collateral`, no stress | {ms(b['plain'][0])} ({ms(b['plain'][1])}) | "
        f"{ms(a['plain'][0])} ({ms(a['plain'][1])}) | {b['plain'][1] / a['plain'][1]:.1f}x |",
        f"| `assess_collateral` with the six stress shocks | {ms(b['stress'][0])} ({ms(b['stress'][1])}) | "
        f"{ms(a['stress'][0])} ({ms(a['stress'][1])}) | {b['stress'][1] / a['stress'][1]:.1f}x |",
        f"| `copy.deepcopy` calls, one assessment with stress | {b['deepcopy']:,} | {a['deepcopy']:,} | |",
    ]
    parts = [k for k in a["parts"] if k != "total"]
    part_rows = [
        f"| {k} | {ms(b['parts'].get(k, 0.0))} | {ms(a['parts'][k])} |"
        f" {b['parts'].get(k, 0.0) / a['parts'][k]:.1f}x |"
        for k in parts
    ]
    part_rows.append(
        f"| total (best run of the breakdown) | {ms(b['parts']['total'])} | {ms(a['parts']['total'])} |"
        f" {b['parts']['total'] / a['parts']['total']:.1f}x |"
    )
    same = b["audit"] == a["audit"] and b["figures"] == a["figures"]
    lines = [
        "## Fast path, collateral pass on arrays (issue 17, this session)",
        "",
        f"Before: commit `{BEFORE}` (extracted with `git archive`), after: this checkout; each in its own worker "
        f"process, one after the other, demo book (34 patents, 20,000 paths), best of {3 if quick else 9} runs. "
        f"Load average (1 min) {load0:.1f} before, {load1:.1f} after, on {os.cpu_count()} cores: CPU time (wall "
        "in brackets would include waiting for the CPU, so CPU is the figure).",
        "",
        "| demo book | before ms wall (CPU) | after ms wall (CPU) | CPU ratio |",
        "|---|---:|---:|---:|",
        *rows,
        "",
        "Where the CPU time of one assessment with stress goes (the best run; parts timed by wrapping their "
        "functions; the rest is the collateral pass: reading the columns, eligibility, haircuts and their basis, "
        "sizing, the shocks' numbers, and the result's assembly):",
        "",
        "| part | before ms CPU | after ms CPU | ratio |",
        "|---|---:|---:|---:|",
        *part_rows,
        "",
        "Audit hashes (input and output, with and without stress) and the stress table's collateral values "
        f"identical before and after: {'yes' if same else 'NO'}.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    if "--worker" in sys.argv:
        sys.path.insert(0, os.environ.get("PYTHONPATH", str(ROOT)))
        print(json.dumps(worker("--quick" in sys.argv)))
        sys.exit(0)
    text = run(quick="--quick" in sys.argv)
    print(text)
    out = ROOT / "benchmarks" / "results" / "collateral_pass.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(text, encoding="utf-8")
