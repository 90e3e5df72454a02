"""Benchmark: the kept valuation stages and the rate shocks' shock axis (issue 17), before and after in one run.

Run as a script: ``python benchmarks/bench_stages_cache.py [--quick] [--no-book]`` prints the Markdown section and
writes it to ``benchmarks/results/stages_cache.md``. Two worker processes run the same cases one after the other:
one on this checkout with the change's commits (``CHANGES``) reverted, so that the other helpers' work is in both
trees, one on this checkout. CPU
time of the process (``time.process_time``), best of several runs for the small books.

* "cold": the process-level cache of prepared stages is emptied before each run (what a first request costs);
  "warm": the natural order, ``value_portfolio`` then ``assess_collateral`` of its result (the stress run finds
  the stages ``value_portfolio`` kept), or the same book valued again. Before the change there is no cache: cold
  and warm are the same code.
* demo (34 patents) and a synthetic book of 50 patents (the service benchmark's size): ``value_portfolio``,
  ``assess_collateral`` with and without the six stress shocks, the three rate shocks' revaluations of one stress
  run (``ipvalue.collateral.stress._revalue`` as the stress run calls it);
* a synthetic book of 20,000 patents (point values): ``value_portfolio``, then ``assess_collateral`` with stress,
  once each;
* identical figures: the exact frame hash of ``value_portfolio`` on synthetic books (200 and 2,000 patents, with
  and without draws), of the rate shocks' revaluations, and the stress tables, before against after.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

from _versions import book_loan, run_worker, stress_revaluations
from bench_collateral_side import extract_without

#: the commits of the kept stages, the shock axis and the table look-ups (newest first)
CHANGES = ("b0f8ad6", "de6fcf6", "78fac7f", "0bcbd7a")
ROOT = Path(__file__).resolve().parents[1]


def _clear() -> None:
    """Empty the cache of prepared stages (if this version has one)."""
    from ipvalue.valuation import kernel

    cache = getattr(kernel, "STAGES_CACHE", None)
    if cache is not None:
        cache.clear()


def _best(fn, repeat: int, *, cold: bool = False) -> float:
    """Best CPU time (s) of ``repeat`` runs after a warm-up run; ``cold``: the cache emptied before each."""
    fn()
    cpus = []
    for _ in range(repeat):
        if cold:
            _clear()
        c = time.process_time()
        fn()
        cpus.append(time.process_time() - c)
    return min(cpus)


def _hash(frame) -> str:
    from ipvalue.facts.columns import input_hash

    return input_hash(frame)[:16]


def _per_shock(fn):
    """``fn`` with the rate shocks revalued one by one (``value_prepared`` each), if this version has the axis."""
    from ipvalue.collateral import stress

    if not hasattr(stress, "value_prepared_many"):
        return None
    from ipvalue.valuation.kernel import value_prepared

    def one_by_one(state, seed, shocks, **kw):
        return [value_prepared(state, seed, a=a, columns=c, **kw) for a, c in shocks]

    kept = stress.value_prepared_many
    stress.value_prepared_many = one_by_one
    try:
        return fn()
    finally:
        stress.value_prepared_many = kept


def _small_book(out: dict, tag: str, portfolio, a, as_of, loan, rep: int) -> None:
    import ipvalue as iv

    def value():
        return iv.value_portfolio(portfolio, a, as_of=as_of, rng=0)

    _clear()
    valued = value()
    out[f"{tag}_value_cold"] = _best(value, rep, cold=True)
    out[f"{tag}_value_warm"] = _best(value, rep)
    run, digest = stress_revaluations(valued)
    out[f"{tag}_revalue_cold"] = _best(run, rep, cold=True)
    valued = value()  # the stages of this book kept again
    out[f"{tag}_revalue_warm"] = _best(run, rep)
    out[f"{tag}_revalue_digest"] = digest(run())
    out[f"{tag}_revalue_per_shock"] = _per_shock(lambda: _best(run, rep))
    out[f"{tag}_assess_nostress"] = _best(
        lambda: iv.assess_collateral(valued, loan=loan, rng=0, stress=False), rep
    )
    out[f"{tag}_assess_cold"] = _best(lambda: iv.assess_collateral(valued, loan=loan, rng=0), rep, cold=True)
    valued = value()
    out[f"{tag}_assess_warm"] = _best(lambda: iv.assess_collateral(valued, loan=loan, rng=0), rep)
    out[f"{tag}_value_then_assess"] = _best(
        lambda: iv.assess_collateral(value(), loan=loan, rng=0), rep, cold=True
    )
    out[f"{tag}_stress_hash"] = _hash(iv.assess_collateral(valued, loan=loan, rng=0).stress)
    out[f"{tag}_valued_hash"] = _hash(valued)


def worker(quick: bool, book: bool) -> dict:
    """Measure the cases on the ``ipvalue`` this process imports; return the figures."""
    import ipvalue as iv
    from ipvalue.demo import load_demo
    from ipvalue.valuation._synthetic import synthetic_portfolio

    out: dict = {"ipvalue": str(Path(iv.__file__).resolve().parent)}
    rep = 3 if quick else 7
    portfolio, loan, as_of = load_demo()
    _small_book(out, "demo", portfolio, None, as_of, loan, rep)
    _small_book(out, "b50", synthetic_portfolio(50, seed=0), None, "2026-06-30", book_loan(50), rep)
    hashes = {}
    for n in (200, 2_000):
        syn = synthetic_portfolio(n, seed=0)
        for draws in (None, 0):
            a = None if draws is None else {"draws": draws}
            hashes[f"{n}/{draws}"] = _hash(iv.value_portfolio(syn, a, as_of="2026-06-30", rng=1))
    out["synthetic_hashes"] = hashes
    if book:
        n = 2_000 if quick else 20_000
        syn = synthetic_portfolio(n, seed=0)
        _clear()
        c = time.process_time()
        big = iv.value_portfolio(syn, {"draws": 0}, as_of="2026-06-30", rng=1)
        out["book_value"] = time.process_time() - c
        c = time.process_time()
        res = iv.assess_collateral(big, loan=book_loan(n), rng=0)
        out["book_assess"] = time.process_time() - c
        out["book_stress_hash"] = _hash(res.stress)
        out["n"] = n
    return out


def run(quick: bool = False, book: bool = True) -> str:
    """Both workers, then the Markdown section."""
    args = [*(["--quick"] if quick else []), *([] if book else ["--no-book"])]
    with tempfile.TemporaryDirectory() as tmp:
        before_dir = extract_without(CHANGES, Path(tmp) / "before")
        load0 = os.getloadavg()[0]
        b = run_worker(__file__, before_dir, *args)
        a = run_worker(__file__, ROOT, *args)
        load1 = os.getloadavg()[0]

    def same(key: str) -> str:
        return "yes" if b.get(key) == a.get(key) else "NO"

    def row(name: str, key: str, unit: str = "ms") -> str:
        k, fmt = (1e3, "{:.1f}") if unit == "ms" else (1.0, "{:.2f}")
        return f"| {name} | {fmt.format(b[key] * k)} | {fmt.format(a[key] * k)} | {b[key] / a[key]:.1f}x |"

    lines = [
        "## Fast path, kept valuation stages and the rate shocks' shock axis (issue 17, this session)",
        "",
        f"Before: this checkout with commits {', '.join(f'`{c}`' for c in CHANGES)} reverted (the other helpers' "
        "work in both trees), after: this checkout; each in its own worker "
        f"process, one after the other, CPU time of the process (load average {load0:.1f} before, {load1:.1f} "
        f"after, on {os.cpu_count()} cores). `python benchmarks/bench_stages_cache.py`. Cold: the cache of "
        "prepared stages emptied before each run; warm: `value_portfolio` of the book ran before (the cache holds "
        "its stages). Before the change there is no cache (cold = warm).",
        "",
    ]
    for tag, title in (("demo", "demo book, 34 patents"), ("b50", "synthetic book, 50 patents")):
        lines += [
            f"| {title} (best of several) | before ms CPU | after ms CPU | ratio |",
            "|---|---:|---:|---:|",
            row("`value_portfolio`, cold", f"{tag}_value_cold"),
            row("`value_portfolio`, warm (the same book again)", f"{tag}_value_warm"),
            row("the three rate shocks' revaluations of one stress run, cold", f"{tag}_revalue_cold"),
            row("the same, warm", f"{tag}_revalue_warm"),
            f"| the same, warm, each rate shock on its own (`value_prepared` per shock, this checkout) | | "
            f"{a[f'{tag}_revalue_per_shock'] * 1e3:.1f} | "
            f"{a[f'{tag}_revalue_per_shock'] / a[f'{tag}_revalue_warm']:.1f}x |",
            row("`assess_collateral` without stress", f"{tag}_assess_nostress"),
            row("`assess_collateral` with the six stress shocks, cold", f"{tag}_assess_cold"),
            row("the same, warm", f"{tag}_assess_warm"),
            row(
                "`value_portfolio` then `assess_collateral` with stress (cache empty)",
                f"{tag}_value_then_assess",
            ),
            "",
        ]
    if book:
        lines += [
            f"| book of {a['n']:,} synthetic patents, point values, once | before s CPU | after s CPU | ratio |",
            "|---|---:|---:|---:|",
            row("`value_portfolio`", "book_value", "s"),
            row("then `assess_collateral` with the six stress shocks (warm)", "book_assess", "s"),
            "",
        ]
    tail = f"; {a['n']:,}-patent stress table {same('book_stress_hash')}" if book else ""
    lines += [
        f"Identical before and after: demo valued frame {same('demo_valued_hash')}, demo revaluations "
        f"{same('demo_revalue_digest')}, demo stress table {same('demo_stress_hash')}; 50-patent book: "
        f"revaluations {same('b50_revalue_digest')}, stress table {same('b50_stress_hash')}; synthetic books "
        f"(200 and 2,000 patents, with and without draws) {same('synthetic_hashes')}{tail}.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    if "--worker" in sys.argv:
        sys.path.insert(0, os.environ.get("PYTHONPATH", str(ROOT)))
        print(json.dumps(worker("--quick" in sys.argv, "--no-book" not in sys.argv)))
        sys.exit(0)
    text = run(quick="--quick" in sys.argv, book="--no-book" not in sys.argv)
    print(text)
    out = ROOT / "benchmarks" / "results" / "stages_cache.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(text, encoding="utf-8")
