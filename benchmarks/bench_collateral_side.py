"""Benchmark: the per-patent collateral pass of an assessment with stress (issue 17), before and after in one run.

Run as a script: ``python benchmarks/bench_collateral_side.py [--quick]`` prints the Markdown section and writes it
to ``benchmarks/results/collateral_side.md``. "Before" is this checkout with the commits of :data:`CHANGES`
reverted (the package extracted with ``git archive`` and the commits' diffs applied in reverse), so that the other
helpers' work landed in between is in both trees and the ratio is this change's alone. Each tree runs in its own
worker process, one after the other; figures are CPU time of the process (``time.process_time``).

Cases:

* the demo book (34 patents): ``assess_collateral`` with the six stress shocks (20,000 paths), best of several
  runs; and the parts of it the collateral pass consists of (outside the revaluations and the Monte Carlo),
  timed by wrapping the functions of ``ipvalue.collateral.stress`` and ``ipvalue.collateral.api``: the shocks'
  per-patent part (``_shock_runs``), their numbers (``_shock_results``), the base case's rows before and after
  the Monte Carlo (``prepare_chunk``, ``finish_base``), the direct shocks (``_direct``), the frame comparison
  (``_same_frame``) and what ``assess_collateral`` does around ``assess_with_stress`` (checks, input and
  output hashes, summary, assembly);
* a synthetic book of 20,000 patents (``synthetic_portfolio(20000, seed=0)`` valued with ``{"draws": 0}`` as of
  2026-06-30, rng=1), a loan of 1e8 CNY: ``assess_collateral`` with stress once (20,000 paths), its parts, and its
  stress figures and expected LGD (which must be identical in both trees);
* the renewal-fee event table of that book (``ipvalue.terms._fees._events``, the fees the cost method reads).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _versions import run_worker

ROOT = Path(__file__).resolve().parents[1]
#: the commits of this change (issue 17, collateral side), newest first
CHANGES = ("1077c37", "0fa0776", "1350403", "5551a18", "7d09487", "5772594")
#: the parts of the collateral pass in ipvalue.collateral.stress
PASS_PARTS = ("_shock_runs", "_shock_results", "prepare_chunk", "finish_base", "_direct", "_same_frame")
#: the functions timed in ipvalue.collateral.stress and ipvalue.collateral.api
STRESS_PARTS = (
    "_shock_runs",
    "_shock_results",
    "prepare_chunk",
    "finish_base",
    "_direct",
    "_same_frame",
    "_apply",
    "liquidation_partial_sums_many",
    "liquidation_setup",
)
API_PARTS = ("assess_with_stress",)
#: the liquidation module's functions the kernel calls (another helper's code, counted apart)
LIQUIDATION_CALLS = (
    "liquidation_paths",
    "finish_liquidation",
    "deterministic_scenarios",
    "monte_carlo_row",
    "scenario_values",
)


def extract_without(changes: tuple[str, ...], dest: Path) -> Path:
    """This checkout's ``ipvalue`` under ``dest`` with the commits ``changes`` (newest first) reverted."""
    dest.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(
        ["git", "archive", "HEAD", "ipvalue"], cwd=ROOT, check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    for c in changes:
        diff = subprocess.run(
            ["git", "diff", f"{c}~1", c, "--", "ipvalue"], cwd=ROOT, check=True, capture_output=True
        ).stdout
        subprocess.run(["patch", "-R", "-p1", "-s"], input=diff, cwd=dest, check=True)
    return dest


def _timers(acc: dict[str, float]) -> None:
    """Wrap the parts so that each call adds its CPU time to ``acc``."""
    import ipvalue.collateral.api as api
    import ipvalue.collateral.kernel as kernel
    import ipvalue.collateral.liquidation as liquidation
    import ipvalue.collateral.stress as stress

    inside = [0]  # how deep in the collateral pass's parts the current call is

    def wrap(mod, name: str, label: str, *, part: bool = False, only_inside: bool = False) -> None:
        f = getattr(mod, name)

        @functools.wraps(f)
        def timed(*a, **k):
            if only_inside and not inside[0]:
                return f(*a, **k)
            inside[0] += part
            c = time.process_time()
            try:
                return f(*a, **k)
            finally:
                acc[label] = acc.get(label, 0.0) + time.process_time() - c
                inside[0] -= part

        setattr(mod, name, timed)

    for name in STRESS_PARTS:
        wrap(stress, name, name, part=name in PASS_PARTS)
    # the liquidation module's finishing inside the parts (path-level draws, per-path sums to the loss
    # distribution, its summary, the scenario table): another helper's code, counted apart
    for name in LIQUIDATION_CALLS:
        wrap(kernel, name, "liquidation_calls", only_inside=True)
    summary = liquidation.MonteCarloResult.summary

    @functools.wraps(summary)
    def timed_summary(self):
        if not inside[0]:
            return summary(self)
        c = time.process_time()
        try:
            return summary(self)
        finally:
            acc["liquidation_calls"] = acc.get("liquidation_calls", 0.0) + time.process_time() - c

    liquidation.MonteCarloResult.summary = timed_summary
    for name in API_PARTS:
        wrap(api, name, name)
    wrap(api, "assess_collateral", "total")


def worker(quick: bool) -> dict:
    """Measure the cases on the ``ipvalue`` this process imports; return the figures."""
    import ipvalue as iv
    import ipvalue.collateral.api as api
    from ipvalue.demo import load_demo
    from ipvalue.terms import _fees
    from ipvalue.terms._expiry import TermRules
    from ipvalue.terms._inputs import as_frame, as_of_day, term_inputs
    from ipvalue.terms._life import life_frame
    from ipvalue.valuation._synthetic import synthetic_portfolio

    acc: dict[str, float] = {}
    _timers(acc)
    out: dict = {"ipvalue": str(Path(iv.__file__).resolve().parent)}
    portfolio, loan, as_of = load_demo()
    valued = iv.value_portfolio(portfolio, as_of=as_of, rng=0)
    runs = []
    for _ in range(3 if quick else 9):
        acc.clear()
        a = api.assess_collateral(valued, loan=loan, rng=0)
        runs.append(dict(acc))
    out["demo"] = {k: min(r.get(k, 0.0) for r in runs[1:]) for k in runs[0]}
    out["demo_figures"] = [float(x) for x in a.stress["collateral_value"]] + [
        float(a.summary["collateral_value"])
    ]
    out["demo_output_hash"] = a.audit["output_hash"]

    n = 2_000 if quick else 20_000
    book = synthetic_portfolio(n, seed=0)
    big = iv.value_portfolio(book, {"draws": 0}, as_of="2026-06-30", rng=1)
    big_loan = iv.Loan(
        amount=1e8, currency="CNY", tenor_years=3.0, interest_rate=0.045, probability_of_default=0.03
    )
    acc.clear()
    res = api.assess_collateral(big, loan=big_loan, rng=1)
    out["book"] = dict(acc)
    out["book_n"] = n
    out["book_figures"] = [float(x) for x in res.stress["collateral_value"]] + [
        float(res.stress["expected_lgd"].iloc[i]) for i in range(len(res.stress))
    ]
    out["book_expected_lgd"] = float(res.summary["expected_lgd"])
    out["book_stress_sha"] = hashlib.sha256(res.stress.to_csv().encode()).hexdigest()
    out["book_output_hash"] = res.audit["output_hash"]

    frame, _ = as_frame(book)
    day = as_of_day("2026-06-30")
    life = life_frame(frame, day, "coerce", TermRules.default())
    inp = term_inputs(frame)
    expiry = life["expiry_date"].to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
    _fees._events(inp, expiry)
    cpus = []
    for _ in range(3):
        c = time.process_time()
        events = _fees._events(inp, expiry)
        cpus.append(time.process_time() - c)
    out["events"] = {"cpu": min(cpus), "rows": len(events)}
    out["events_sha"] = hashlib.sha256(events.to_csv().encode()).hexdigest()
    return out


def _pass(parts: dict) -> float:
    """The collateral pass: the shocks' and the base case's per-patent parts, the direct shocks, the frame
    comparison, and what assess_collateral does around assess_with_stress."""
    return sum(parts.get(k, 0.0) for k in PASS_PARTS) + parts["total"] - parts["assess_with_stress"]


def run(quick: bool = False) -> str:
    """Both workers, then the Markdown section."""
    with tempfile.TemporaryDirectory() as tmp:
        before_dir = extract_without(CHANGES, Path(tmp) / "before")
        load0 = os.getloadavg()[0]
        args = ["--quick"] if quick else []
        before = run_worker(__file__, before_dir, *args)
        after = run_worker(__file__, ROOT, *args)
        load1 = os.getloadavg()[0]
    b, a = before, after
    rows = [
        ("`_shock_runs` (each shock's per-patent part)", "_shock_runs"),
        ("`_shock_results` (each shock's numbers)", "_shock_results"),
        ("`prepare_chunk` (base case rows)", "prepare_chunk"),
        ("`finish_base` (base case after the Monte Carlo)", "finish_base"),
        ("`_direct` (direct shocks)", "_direct"),
        ("`_same_frame`", "_same_frame"),
    ]

    def table(key: str, unit: float, fmt: str) -> list[str]:
        pb, pa = b[key], a[key]
        out = []
        for name, k in rows:
            x, y = pb.get(k, 0.0) * unit, pa.get(k, 0.0) * unit
            out.append(f"| {name} | {x:{fmt}} | {y:{fmt}} | {x / y if y else float('inf'):.1f}x |")
        x = (pb["total"] - pb["assess_with_stress"]) * unit
        y = (pa["total"] - pa["assess_with_stress"]) * unit
        out.append(
            f"| around `assess_with_stress` (checks, hashes, summary) | {x:{fmt}} | {y:{fmt}} | {x / y:.1f}x |"
        )
        x, y = _pass(pb) * unit, _pass(pa) * unit
        out.append(
            f"| **the collateral pass (the rows above)** | **{x:{fmt}}** | **{y:{fmt}}** | **{x / y:.1f}x** |"
        )
        x, y = pb.get("liquidation_calls", 0.0) * unit, pa.get("liquidation_calls", 0.0) * unit
        out.append(
            "| of which the liquidation module's calls in them (path draws, loss distribution, summary, "
            "scenarios) "
            f"| {x:{fmt}} | {y:{fmt}} | {x / y if y else float('inf'):.1f}x |"
        )
        x = (_pass(pb) - pb.get("liquidation_calls", 0.0)) * unit
        y = (_pass(pa) - pa.get("liquidation_calls", 0.0)) * unit
        out.append(f"| the collateral pass without them | {x:{fmt}} | {y:{fmt}} | {x / y:.1f}x |")
        for name, k in (
            ("revaluations (`_apply`, incl. direct shocks)", "_apply"),
            ("Monte Carlo (`liquidation_partial_sums_many`)", "liquidation_partial_sums_many"),
            ("path-level draws (`liquidation_setup`)", "liquidation_setup"),
        ):
            x, y = pb.get(k, 0.0) * unit, pa.get(k, 0.0) * unit
            out.append(f"| {name} | {x:{fmt}} | {y:{fmt}} | {x / y if y else float('inf'):.1f}x |")
        x, y = pb["total"] * unit, pa["total"] * unit
        out.append(f"| `assess_collateral` with stress, in all | {x:{fmt}} | {y:{fmt}} | {x / y:.1f}x |")
        return out

    same_demo = b["demo_figures"] == a["demo_figures"] and b["demo_output_hash"] == a["demo_output_hash"]
    same_book = (
        b["book_figures"] == a["book_figures"]
        and b["book_expected_lgd"] == a["book_expected_lgd"]
        and b["book_stress_sha"] == a["book_stress_sha"]
        and b["book_output_hash"] == a["book_output_hash"]
    )
    same_events = b["events_sha"] == a["events_sha"]
    lines = [
        "## Fast path, the collateral pass of an assessment with stress (issue 17), before and after in one run",
        "",
        f"Before: this checkout with commits {', '.join(f'`{c}`' for c in CHANGES)} reverted; after: this "
        f"checkout; each in its own worker process, one after the other. Load average (1 min) {load0:.1f} "
        f"before, {load1:.1f} after, on {os.cpu_count()} cores. CPU time of the process "
        "(the Monte Carlo's threads included). `python benchmarks/bench_collateral_side.py`.",
        "",
        "| demo book, 34 patents, 20,000 paths (best of several), ms CPU | before | after | ratio |",
        "|---|---:|---:|---:|",
        *table("demo", 1e3, ".1f"),
        "",
        f"Demo: stress collateral values, base case and the assessment's output hash identical before and "
        f"after: {'yes' if same_demo else 'NO'}.",
        "",
        f"| book of {a['book_n']:,} synthetic patents, 20,000 paths, once, s CPU | before | after | ratio |",
        "|---|---:|---:|---:|",
        *table("book", 1.0, ".3f"),
        f"| renewal-fee events of the book (`terms._fees._events`, {a['events']['rows']:,} rows) | "
        f"{b['events']['cpu']:.3f} | {a['events']['cpu']:.3f} | {b['events']['cpu'] / a['events']['cpu']:.1f}x |",
        "",
        f"Book: every stress figure (collateral value and expected LGD per shock), the expected LGD, the stress "
        f"table and the assessment's output hash identical before and after: {'yes' if same_book else 'NO'}; "
        f"the fee event table identical: {'yes' if same_events else 'NO'}.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    if "--worker" in sys.argv:
        print(json.dumps(worker("--quick" in sys.argv)))
    else:
        text = run(quick="--quick" in sys.argv)
        print(text)
        if "--quick" not in sys.argv:
            (ROOT / "benchmarks" / "results" / "collateral_side.md").write_text(text, encoding="utf-8")
