"""Benchmark: the cold path of ``value_portfolio`` (issue 17, helper hq), before and after in one run.

Run as a script: ``python benchmarks/bench_cold_value.py [--quick] [--before REV]`` prints the Markdown section and
writes it to ``benchmarks/results/cold_value.md``. Two worker processes run the same cases one after the other:
one on the ``ipvalue`` package as it was at git revision ``REV`` (default ``BEFORE``, the commit before this
work), one on this checkout. CPU time of the process (``time.process_time``), best of several runs.

* cold: the cache of prepared stages (:data:`ipvalue.valuation.kernel.STAGES_CACHE`) emptied before each run,
  what a service request or the first assessment of a new book pays; demo (34 patents) and a synthetic book of
  50 patents; the stages' parts timed by wrapping (facts at as_of, of which remaining life and quality; renewal
  fees paid) and the Monte Carlo's ``_draw_values``;
* the three rate shocks' revaluations of one stress run (warm: the stages kept), the Monte Carlo's share;
* identical figures: the frame hash of ``value_portfolio`` on the demo and on synthetic books (200 and 2,000
  patents, with and without draws) and on the demo and a 300-patent book under other assumptions (linear decay,
  mid-year, tax amortisation, profit split, equivalent investment), before against after.
"""

from __future__ import annotations

import functools
import importlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from _versions import extract_ipvalue, run_worker, stress_revaluations

#: the last commit before the cold-path work (issue 17, helper hq)
BEFORE = "d8e206b"
ROOT = Path(__file__).resolve().parents[1]
PARTS = (
    ("ipvalue.valuation.kernel", "prepare_stages"),
    ("ipvalue.valuation.kernel", "read_facts"),
    ("ipvalue.valuation.asof", "_remaining_life"),
    ("ipvalue.valuation.asof", "_quality"),
    ("ipvalue.valuation.kernel", "fees_paid_stage"),
    ("ipvalue.valuation.montecarlo", "_draw_values"),
)


def _clear() -> None:
    from ipvalue.valuation import kernel

    kernel.STAGES_CACHE.clear()


def _wrap(acc: dict) -> None:
    """Time the functions of :data:`PARTS` (CPU) into ``acc`` wherever their modules call them."""
    for mod, name in PARTS:
        m = importlib.import_module(mod)
        fn = getattr(m, name)

        @functools.wraps(fn)
        def timed(*args, _fn=fn, _key=name, **kw):
            c = time.process_time()
            try:
                return _fn(*args, **kw)
            finally:
                acc[_key] = acc.get(_key, 0.0) + time.process_time() - c

        setattr(m, name, timed)


def _best(fn, repeat: int, acc: dict, *, cold: bool) -> tuple[float, dict]:
    """Best CPU time (s) of ``repeat`` runs after a warm-up, and the parts of that run."""
    fn()
    best, parts = float("inf"), {}
    for _ in range(repeat):
        if cold:
            _clear()
        acc.clear()
        c = time.process_time()
        fn()
        t = time.process_time() - c
        if t < best:
            best, parts = t, dict(acc)
    return best, parts


def _hash(frame) -> str:
    from ipvalue.facts.columns import input_hash

    return input_hash(frame)[:16]


def worker(quick: bool) -> dict:
    """Measure the cases on the ``ipvalue`` this process imports; return the figures."""
    import ipvalue as iv
    from ipvalue.demo import load_demo
    from ipvalue.valuation._synthetic import synthetic_portfolio

    acc: dict = {}
    _wrap(acc)
    rep = 5 if quick else 15
    out: dict = {"ipvalue": str(Path(iv.__file__).resolve().parent)}
    portfolio, _, as_of = load_demo()
    books = {"demo": (portfolio, as_of), "b50": (synthetic_portfolio(50, seed=0), "2026-06-30")}
    for tag, (book, day) in books.items():
        out[f"{tag}_cold"] = _best(
            lambda book=book, day=day: iv.value_portfolio(book, as_of=day, rng=0), rep, acc, cold=True
        )
        valued = iv.value_portfolio(book, as_of=day, rng=0)
        run, digest = stress_revaluations(valued)
        out[f"{tag}_revalue"] = _best(run, rep, acc, cold=False)
        out[f"{tag}_revalue_digest"] = digest(run())
    hashes = {"demo": _hash(iv.value_portfolio(portfolio, as_of=as_of, rng=0))}
    for n in (200, 2_000):
        syn = synthetic_portfolio(n, seed=0)
        for draws in (None, 0):
            a = None if draws is None else {"draws": draws}
            _clear()
            hashes[f"{n}/{draws}"] = _hash(iv.value_portfolio(syn, a, as_of="2026-06-30", rng=1))
    syn = synthetic_portfolio(300, seed=4)
    variants = {
        "linear": {"decay_curve": "linear"},
        "mid_year": {"mid_year": True},
        "tab": {"tab_years": 15.0},
        "profit_split": {"income_method": "profit_split"},
        "equivalent_investment": {"income_method": "equivalent_investment"},
        "all": {"decay_curve": "linear", "mid_year": True, "tab_years": 10.0},
    }
    for key, a in variants.items():
        for tag, book, day in (("demo", portfolio, as_of), ("b300", syn, "2026-06-30")):
            _clear()
            hashes[f"{tag}/{key}"] = _hash(iv.value_portfolio(book, dict(a), as_of=day, rng=3))
    out["hashes"] = hashes
    return out


def run(quick: bool = False, before: str = BEFORE) -> str:
    """Both workers, then the Markdown section."""
    args = ["--quick"] if quick else []
    with tempfile.TemporaryDirectory() as tmp:
        before_dir = extract_ipvalue(before, Path(tmp) / "before")
        load0 = os.getloadavg()[0]
        b = run_worker(__file__, before_dir, *args)
        a = run_worker(__file__, ROOT, *args)
        load1 = os.getloadavg()[0]

    def row(name: str, x: float, y: float) -> str:
        return f"| {name} | {x * 1e3:.1f} | {y * 1e3:.1f} | {x / y:.1f}x |" if y else f"| {name} | | | |"

    lines = [
        "### Cold `value_portfolio`: facts at as_of, fees paid, quality, the Monte Carlo's steps (helper hq)",
        "",
        f"Before: the `ipvalue` package at `{before}`, after: this checkout; each in its own worker process, one "
        f"after the other, CPU time of the process, best of several runs (load average {load0:.1f} before, "
        f"{load1:.1f} after, on {os.cpu_count()} cores). `python benchmarks/bench_cold_value.py`. Cold: the cache "
        "of prepared stages emptied before each run. The parts are timed inside the best run by wrapping the "
        "functions (their sum is not the total: the rest of the pipeline is not listed).",
        "",
    ]
    for tag, title in (("demo", "demo book, 34 patents"), ("b50", "synthetic book, 50 patents")):
        (bt, bp), (at, ap) = b[f"{tag}_cold"], a[f"{tag}_cold"]
        (brt, brp), (art, arp) = b[f"{tag}_revalue"], a[f"{tag}_revalue"]
        lines += [
            f"| {title} | before ms CPU | after ms CPU | ratio |",
            "|---|---:|---:|---:|",
            row("`value_portfolio`, cold", bt, at),
            row("of which preparing the stages", bp.get("prepare_stages", 0), ap.get("prepare_stages", 0)),
            row("of which facts at as_of (`read_facts`)", bp.get("read_facts", 0), ap.get("read_facts", 0)),
            row("of which remaining life", bp.get("_remaining_life", 0), ap.get("_remaining_life", 0)),
            row("of which quality scores", bp.get("_quality", 0), ap.get("_quality", 0)),
            row("of which renewal fees paid", bp.get("fees_paid_stage", 0), ap.get("fees_paid_stage", 0)),
            row(
                "of which the Monte Carlo (`_draw_values`)",
                bp.get("_draw_values", 0),
                ap.get("_draw_values", 0),
            ),
            row("the three rate shocks' revaluations of one stress run (stages kept)", brt, art),
            row(
                "of which the Monte Carlo (`_draw_values`)",
                brp.get("_draw_values", 0),
                arp.get("_draw_values", 0),
            ),
            "",
        ]
    same = [k for k in b["hashes"] if b["hashes"][k] == a["hashes"].get(k)]
    differ = [k for k in b["hashes"] if k not in same]
    revalue_same = all(b[f"{t}_revalue_digest"] == a[f"{t}_revalue_digest"] for t in ("demo", "b50"))
    lines += [
        f"Identical before and after (frame hashes): {len(same)} of {len(b['hashes'])} valued frames "
        "(demo; synthetic 200 and 2,000 patents with and without draws; demo and 300 patents under linear decay, "
        "mid-year, tax amortisation, profit split, equivalent investment, all three)"
        + (f"; DIFFERENT: {', '.join(differ)}" if differ else "")
        + f"; the rate shocks' revaluations (demo, 50 patents): {'yes' if revalue_same else 'NO'}.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    if "--worker" in sys.argv:
        sys.path.insert(0, os.environ.get("PYTHONPATH", str(ROOT)))
        print(json.dumps(worker("--quick" in sys.argv)))
        sys.exit(0)
    rev = sys.argv[sys.argv.index("--before") + 1] if "--before" in sys.argv else BEFORE
    text = run(quick="--quick" in sys.argv, before=rev)
    print(text)
    out = ROOT / "benchmarks" / "results" / "cold_value.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(text, encoding="utf-8")
