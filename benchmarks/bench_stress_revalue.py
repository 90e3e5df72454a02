"""Benchmark: the stress test's revaluations by stages (issue 17, the valuation side), before and after in one run.

Run as a script: ``python benchmarks/bench_stress_revalue.py [--quick] [--no-book-assess]`` prints the Markdown
section and writes it to ``benchmarks/results/stress_revalue.md``. Two worker processes run the same cases one
after the other: one on the code before the change (commit ``BEFORE``, extracted with ``git archive``), one on this
checkout. CPU time of the process (``time.process_time``) is what counts on the shared machine.

* the demo book (34 patents): ``value_portfolio``; the three rate shocks' revaluations of the stress test
  (obsolescence, royalty cut, discount rate up: ``ipvalue.collateral.stress`` as ``run_stress`` calls it, a fresh
  stress run each time, so the prepared stages are counted); ``assess_collateral`` with the six shocks; best of
  several runs;
* a synthetic book of 20,000 patents (``ipvalue/valuation/_synthetic.py``, point values ``{"draws": 0}``):
  ``value_portfolio``, the three revaluations and ``assess_collateral`` with stress, once each.

The figures of every case (values of each revaluation, stress collateral values) must be identical before and
after; the section says whether they are.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

from _versions import book_loan, extract_ipvalue, run_worker
from _versions import stress_revaluations as _revaluations

#: the last commit before the stress revaluation by stages
BEFORE = "f32f544"
ROOT = Path(__file__).resolve().parents[1]


def _best(fn, repeat: int) -> float:
    """Best CPU time (s) of ``repeat`` runs after a warm-up run."""
    fn()
    cpus = []
    for _ in range(repeat):
        c = time.process_time()
        fn()
        cpus.append(time.process_time() - c)
    return min(cpus)


def _once(fn) -> tuple[object, float]:
    c = time.process_time()
    out = fn()
    return out, time.process_time() - c


def _whole(fn):
    """``fn`` with every shock revalued by the whole valuation (no shock known to move only rates), if it can be."""
    from ipvalue.collateral import stress

    if not hasattr(stress, "_BY_RATES"):
        return None
    kept = stress._BY_RATES
    stress._BY_RATES = {}
    try:
        return fn()
    finally:
        stress._BY_RATES = kept


def worker(quick: bool, book_assess: bool) -> dict:
    """Measure the cases on the ``ipvalue`` this process imports; return the figures."""
    import ipvalue as iv
    from ipvalue.demo import load_demo
    from ipvalue.valuation._synthetic import synthetic_portfolio

    out: dict = {"ipvalue": str(Path(iv.__file__).resolve().parent)}
    portfolio, loan, as_of = load_demo()
    valued = iv.value_portfolio(portfolio, as_of=as_of, rng=0)
    rep = 3 if quick else 7
    out["demo_value"] = _best(lambda: iv.value_portfolio(portfolio, as_of=as_of, rng=0), rep)
    run, digest = _revaluations(valued)
    out["demo_revalue"] = _best(run, rep)
    out["demo_revalue_digest"] = digest(run())
    out["demo_revalue_whole"] = _whole(lambda: _best(run, rep))
    out["demo_stress"] = _best(lambda: iv.assess_collateral(valued, loan=loan, rng=0), rep)
    out["demo_figures"] = [
        float(x) for x in iv.assess_collateral(valued, loan=loan, rng=0).stress["collateral_value"]
    ]

    n = 2_000 if quick else 20_000
    book = synthetic_portfolio(n, seed=0)
    big, out["book_value"] = _once(lambda: iv.value_portfolio(book, {"draws": 0}, as_of="2026-06-30", rng=1))
    run, digest = _revaluations(big)
    frames, out["book_revalue"] = _once(run)
    out["book_revalue_digest"] = digest(frames)
    whole = _whole(lambda: _once(run))
    if whole is not None:
        out["book_revalue_whole"] = whole[1]
        out["book_revalue_whole_same"] = digest(whole[0]) == out["book_revalue_digest"]
    out["book_revalued"] = [f is not None for f in frames]
    out["n"] = n
    if book_assess:
        big_loan = book_loan(n)
        res, out["book_stress"] = _once(lambda: iv.assess_collateral(big, loan=big_loan, rng=0))
        out["book_figures"] = [float(x) for x in res.stress["collateral_value"]]  # type: ignore[attr-defined]
    return out


def _run_worker(path: Path, quick: bool, book_assess: bool) -> dict:
    return run_worker(
        __file__, path, *(["--quick"] if quick else []), *([] if book_assess else ["--no-book-assess"])
    )


def run(quick: bool = False, book_assess: bool = True) -> str:
    """Both workers, then the Markdown section."""
    with tempfile.TemporaryDirectory() as tmp:
        before_dir = extract_ipvalue(BEFORE, Path(tmp) / "before")
        load0 = os.getloadavg()[0]
        b = _run_worker(before_dir, quick, book_assess)
        a = _run_worker(ROOT, quick, book_assess)
        load1 = os.getloadavg()[0]

    def same(key: str) -> str:
        return "yes" if b.get(key) == a.get(key) else "NO"

    def row(name: str, key: str, unit: str = "ms") -> str:
        k = 1e3 if unit == "ms" else 1.0
        fmt = "{:.0f}" if unit == "ms" else "{:.2f}"
        return f"| {name} | {fmt.format(b[key] * k)} | {fmt.format(a[key] * k)} | {b[key] / a[key]:.1f}x |"

    lines = [
        "## Fast path, stress revaluation by stages (issue 17, this session)",
        "",
        f"Before: commit `{BEFORE}` (extracted with `git archive`), after: this checkout; each in its own worker "
        f"process, one after the other, CPU time of the process (load average {load0:.1f} before, {load1:.1f} after, "
        f"on {os.cpu_count()} cores). `python benchmarks/bench_stress_revalue.py`.",
        "",
        "| demo book, 34 patents (best of several) | before ms CPU | after ms CPU | ratio |",
        "|---|---:|---:|---:|",
        row("`value_portfolio`", "demo_value"),
        row("the three rate shocks' revaluations (one stress run)", "demo_revalue"),
        f"| the same, this checkout, each shock by the whole valuation (the reference) | | "
        f"{a['demo_revalue_whole'] * 1e3:.0f} | {a['demo_revalue_whole'] / a['demo_revalue']:.1f}x |",
        row("`assess_collateral` with the six stress shocks", "demo_stress"),
        "",
        f"| book of {a['n']:,} synthetic patents, point values, once | before s CPU | after s CPU | ratio |",
        "|---|---:|---:|---:|",
        row("`value_portfolio`", "book_value", "s"),
        row(
            f"the rate shocks' revaluations (one stress run; {sum(a['book_revalued'])} of 3 revalue)",
            "book_revalue",
            "s",
        ),
        f"| the same, this checkout, each shock by the whole valuation (the reference) | | "
        f"{a['book_revalue_whole']:.2f} | {a['book_revalue_whole'] / a['book_revalue']:.1f}x |",
    ]
    if book_assess:
        lines.append(row("`assess_collateral` with the six stress shocks", "book_stress", "s"))
    lines += [
        "",
        f"Identical before and after (exact frame hash of every revalued frame; stress collateral values): demo "
        f"revaluations {same('demo_revalue_digest')}, demo stress {same('demo_figures')}, book revaluations "
        f"{same('book_revalue_digest')}"
        + (f", book stress {same('book_figures')}" if book_assess else "")
        + "; the book's revaluations by stages and by the whole valuation in the after run: "
        + ("identical." if a.get("book_revalue_whole_same") else "DIFFERENT."),
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    if "--worker" in sys.argv:
        sys.path.insert(0, os.environ.get("PYTHONPATH", str(ROOT)))
        print(json.dumps(worker("--quick" in sys.argv, "--no-book-assess" not in sys.argv)))
        sys.exit(0)
    text = run(quick="--quick" in sys.argv, book_assess="--no-book-assess" not in sys.argv)
    print(text)
    out = ROOT / "benchmarks" / "results" / "stress_revalue.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(text, encoding="utf-8")
