"""Benchmark: the valuation side of the stress run (issue 17, fifth session), before and after in one run.

Run as a script: ``python benchmarks/bench_stress_valuation_side.py [--before REV] [--quick] [--repeat N]``
prints the Markdown section and writes it to ``benchmarks/results/stress_valuation_side.md``. Worker processes
run the same cases one after the other: one on this checkout's ``ipvalue`` with the change's commits
(``CHANGES``) reverted, so that the other work landed since is in both trees (or, with ``--before``, the package
as it is at git revision ``REV``, extracted with ``git archive``), one on this checkout. CPU time of the process
(``time.process_time``), best of ``--repeat`` runs (default 20).

* the demo book (34 patents): ``iv.assess_collateral(valued, loan=loan, rng=0)`` with the six stress shocks, the
  book valued before with ``iv.value_portfolio(portfolio, as_of=as_of, rng=0)`` (so the stress run finds the
  stages value_portfolio kept); per run, the CPU time spent in ``ipvalue.collateral.stress._rate_revaluations``
  (the three rate shocks' revaluations, timed around that function only) and the whole assessment's;
* the same with glibc's allocator tuned (``ipvalue.runtime.tune_allocator``, as the ``ipvalue`` command and the
  service's workers run), where this version has it: its own worker process;
* identical figures: the exact frame hash of ``value_portfolio`` with draws on synthetic books
  (``synthetic_portfolio(n, seed=0)``) of several sizes, of every shock's revaluation in one stress run, and of
  the stress and patent tables of the assessment, before against after.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

from _versions import book_loan, extract_ipvalue, run_worker
from bench_collateral_side import extract_without

#: the commits of the fifth session's valuation side of the stress run (newest first), after the review's mends
#: on top of them (reverted first: the session's commits no longer revert cleanly without them)
CHANGES = (
    "f57f9c5",
    "0273fec",
    "bd25981",
    "67fb283",
    "6068180",
    "01df8a9",
    "9cbbd33",
    "121f42f",
    "3ce168b",
    "076e0f9",
    "418a2ae",
    "7cdea8b",
)
ROOT = Path(__file__).resolve().parents[1]


def _hash(frame) -> str:
    from ipvalue.facts.columns import input_hash

    return input_hash(frame)[:16]


def _demo(repeat: int) -> dict:
    """Best CPU (ms) of the demo assessment with stress and of its rate revaluations, over ``repeat`` runs."""
    import ipvalue as iv
    from ipvalue.collateral import stress
    from ipvalue.demo import load_demo

    portfolio, loan, as_of = load_demo()
    valued = iv.value_portfolio(portfolio, as_of=as_of, rng=0)
    inner = stress._rate_revaluations
    spent = [0.0]

    def timed(*args, **kwargs):
        c = time.process_time()
        try:
            return inner(*args, **kwargs)
        finally:
            spent[0] += time.process_time() - c

    stress._rate_revaluations = timed
    try:
        iv.assess_collateral(valued, loan=loan, rng=0)  # warm-up
        whole, revalue = [], []
        for _ in range(repeat):
            spent[0] = 0.0
            c = time.process_time()
            iv.assess_collateral(valued, loan=loan, rng=0)
            whole.append(time.process_time() - c)
            revalue.append(spent[0])
    finally:
        stress._rate_revaluations = inner
    return {"assess_ms": min(whole) * 1e3, "revalue_ms": min(revalue) * 1e3}


def _digests(sizes: tuple[int, ...]) -> dict:
    """Frame hashes of the valued books, every shock's revaluation and the assessment's tables."""
    import datetime as dt

    import ipvalue as iv
    from ipvalue.collateral import stress
    from ipvalue.collateral._inputs import check_frame
    from ipvalue.demo import load_demo
    from ipvalue.valuation._synthetic import synthetic_portfolio

    out = {}
    portfolio, loan, as_of = load_demo()
    books = [("demo", portfolio, {}, as_of, loan, 20_000)]
    for n in sizes:
        book = synthetic_portfolio(n, seed=0)
        books.append((f"synthetic {n}", book, {"draws": 400}, dt.date(2026, 6, 30), book_loan(n * 40), 2_000))
    for name, book, a, day, lo, paths in books:
        valued = iv.value_portfolio(book, a, as_of=day, rng=0)
        frame = check_frame(valued).sort_index(kind="stable")
        info = dict(valued.attrs["ipvalue"])
        revalued = []
        for shock in stress.STRESS_SHOCKS:
            if shock.revalue is None:
                continue
            try:
                revalued.append(_hash(stress._revalue(frame, shock, as_of=day, info=info)))
            except stress._CannotRevalue as exc:
                revalued.append(f"cannot: {exc}")
        res = iv.assess_collateral(valued, loan=lo, rng=0, paths=paths)
        out[name] = {
            "valued": _hash(valued),
            "revalued": revalued,
            "stress": _hash(res.stress),
            "patents": _hash(res.patents),
        }
    return out


def worker(args: list[str]) -> None:
    repeat = int(args[0])
    sizes = tuple(int(x) for x in args[1].split(","))
    tune = args[2] == "tune"
    out: dict = {"load": os.getloadavg()[0]}
    if tune:
        try:
            from ipvalue.runtime import tune_allocator
        except ImportError:
            print(json.dumps({"skipped": True}))
            return
        tune_allocator()
        out.update(_demo(repeat))
    else:
        out.update(_demo(repeat))
        out["digests"] = _digests(sizes)
    print(json.dumps(out))


def main(argv: list[str]) -> None:
    before = argv[argv.index("--before") + 1] if "--before" in argv else None
    repeat = int(argv[argv.index("--repeat") + 1]) if "--repeat" in argv else 20
    sizes = "40,300" if "--quick" in argv else "40,300,1500"
    script = Path(__file__)
    with tempfile.TemporaryDirectory() as tmp:
        dest = Path(tmp) / "before"
        old = extract_without(CHANGES, dest) if before is None else extract_ipvalue(before, dest)
        b = run_worker(script, old, str(repeat), sizes, "plain")
        a = run_worker(script, ROOT, str(repeat), sizes, "plain")
        bt = run_worker(script, old, str(repeat), sizes, "tune")
        at = run_worker(script, ROOT, str(repeat), sizes, "tune")
    same = {name: b["digests"][name] == a["digests"][name] for name in a["digests"]}
    lines = [
        (
            f"Before: this checkout with commits {', '.join(f'`{c}`' for c in CHANGES)} reverted (the other work "
            "landed since in both trees)"
            if before is None
            else f"Before: `ipvalue` at `{before}` (extracted with `git archive`)"
        )
        + ", after: this checkout; each in its own "
        f"worker process, one after the other, CPU time of the process, best of {repeat} (load average 1 min "
        f"{b['load']:.1f} before, {a['load']:.1f} after, on {os.cpu_count()} cores). "
        "`python benchmarks/bench_stress_valuation_side.py`.",
        "",
        "| demo book, 34 patents, 20,000 paths | before ms CPU | after ms CPU | ratio |",
        "|---|---:|---:|---:|",
        f"| the three rate shocks' revaluations (`_rate_revaluations`), per assessment | {b['revalue_ms']:.1f} | "
        f"{a['revalue_ms']:.1f} | {b['revalue_ms'] / a['revalue_ms']:.2f}x |",
        f"| `assess_collateral` with the six stress shocks (book valued before) | {b['assess_ms']:.1f} | "
        f"{a['assess_ms']:.1f} | {b['assess_ms'] / a['assess_ms']:.2f}x |",
    ]
    if not bt.get("skipped") and not at.get("skipped"):
        lines += [
            f"| the revaluations, allocator tuned (`runtime.tune_allocator`) | {bt['revalue_ms']:.1f} | "
            f"{at['revalue_ms']:.1f} | {bt['revalue_ms'] / at['revalue_ms']:.2f}x |",
            f"| the assessment, allocator tuned | {bt['assess_ms']:.1f} | {at['assess_ms']:.1f} | "
            f"{bt['assess_ms'] / at['assess_ms']:.2f}x |",
        ]
    lines += [
        "",
        "Identical before and after (exact frame hash of the valued book with draws, of every shock's revaluation "
        "in one stress run, of the stress and patent tables): "
        + ", ".join(f"{name} {'yes' if ok else 'NO'}" for name, ok in same.items())
        + ".",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    out = ROOT / "benchmarks" / "results" / "stress_valuation_side.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(sys.argv[2:])
    else:
        main(sys.argv[1:])
