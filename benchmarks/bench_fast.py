"""Benchmark: the fast path of issue 17, before and after in one run, against the random-number floor.

Run as a script: ``python benchmarks/bench_fast.py [--quick]`` prints the Markdown section and writes it to
``benchmarks/results/fast.md``. Two worker processes run the same cases one after the other: one on the code as
it was before the fast path (commit ``BEFORE``, extracted with ``git archive`` into a temporary directory), one on
this checkout. Each case:

* the demo book (34 patents): ``value_portfolio``, then ``assess_collateral`` without and with the six stress
  shocks (20,000 paths, the default), best of several runs (wall and CPU time of the process), and the number of
  ``copy.deepcopy`` calls in one assessment with stress (pandas deep-copies ``DataFrame.attrs``);
* a synthetic book of 20,000 patents (``ipvalue/valuation/_synthetic.py``, point values): ``assess_collateral``
  without and with stress, once each;
* the demo assessment with stress again once glibc's malloc is tuned as the ``ipvalue`` command and the service's
  computing processes run it (:func:`ipvalue.runtime.tune_allocator`), last in each worker (the setting cannot be
  undone), on the numpy engine and, after, on the compiled one;
* the floor (this checkout only): the time numpy takes to draw the random numbers the liquidation Monte Carlo
  uses for the book (per pledged patent a normal and an exponential per path, per package a normal per path
  and a uniform per judicial path), drawn once.

The assessment's time is reported as a multiple of the floor.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

from _versions import extract_ipvalue, run_worker, valued_book

#: the last commit before the fast path (issue 17)
BEFORE = "22208c6"
#: the last commit that moved the synthetic book's figures on purpose (rules review: the option stage takes the
#: annual risk-free rate as its continuous equivalent ln(1 + r)); speed work since must give its figures exactly
FIGURES_SINCE = "dafec9a"
ROOT = Path(__file__).resolve().parents[1]


def _best(fn, repeat: int) -> tuple[float, float]:
    """Best wall and CPU time of ``repeat`` runs (the first run is a warm-up, not counted)."""
    fn()
    walls, cpus = [], []
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    return min(walls), min(cpus)


def _once(fn) -> tuple[object, float, float]:
    t, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t, time.process_time() - c


def _deepcopies(fn) -> int:
    import cProfile
    import pstats

    prof = cProfile.Profile()
    prof.runcall(fn)
    stats = pstats.Stats(prof).stats  # type: ignore[attr-defined]
    return sum(v[1] for k, v in stats.items() if k[2] == "deepcopy" and k[0].endswith("copy.py"))


def _floor(valued, loan, paths: int) -> dict:
    """Draw the liquidation Monte Carlo's random numbers for the base case's pledged patents, once."""
    from ipvalue.collateral import liquidation, load_policy
    from ipvalue.collateral._inputs import check_frame
    from ipvalue.collateral.kernel import CollateralContext, liquidation_setup, prepare_chunk
    from ipvalue.collateral.liquidation import PatentDraws
    from ipvalue.facts.columns import as_date

    ctx = CollateralContext(
        loan=loan,
        policy=load_policy("cn-bank-standard"),
        as_of=as_date(valued.attrs["ipvalue"]["as_of"], "as_of"),
        seed=0,
        paths=paths,
    )
    frame = check_frame(valued).sort_index(kind="stable")
    pool = prepare_chunk(frame, ctx, checked=True).pool
    setup = liquidation_setup(ctx)
    draws = PatentDraws(
        pool.ids,
        pool.ids if pool.package is None else pool.package,
        seed=0,
        paths=paths,
        sale_success=setup.sale_success,
        judicial=slice(setup.j0, setup.j1),
    )
    # the engine's blocks (two million patent-paths since the sixth session; one million before)
    block = max(1, getattr(liquidation, "BLOCK_ELEMENTS", 1_000_000) // paths)
    n = len(pool.ids)

    def draw() -> None:
        for b0 in range(0, n, block):
            draws.block(b0, min(n, b0 + block))

    _, wall, cpu = _once(draw)
    out = {"pledged": n, "wall": wall, "cpu": cpu}
    if "ipvalue.collateral._mc_fused" in sys.modules:
        # the same numbers drawn by the compiled engine (numba through each numpy Generator), when it is loaded

        def draw_compiled() -> None:
            for b0 in range(0, n, block):
                draws.block(b0, min(n, b0 + block), compiled=True)

        _, wall_c, cpu_c = _once(draw_compiled)
        out["compiled"] = [wall_c, cpu_c]
    return out


def book_figures(n: int) -> list[float]:
    """The synthetic book's stress collateral values and expected LGD (what the speed work must not move)."""
    import ipvalue as iv

    big, loan = valued_book(n)
    res = iv.assess_collateral(big, loan=loan, rng=0)
    return [float(x) for x in res.stress["collateral_value"]] + [float(res.summary["expected_lgd"])]


def worker(quick: bool) -> dict:
    """Measure the cases on the ``ipvalue`` this process imports; return the figures."""
    import numpy as np

    import ipvalue as iv
    from ipvalue.demo import load_demo

    out: dict = {"ipvalue": str(Path(iv.__file__).resolve().parent)}
    from ipvalue.collateral import liquidation

    if hasattr(liquidation, "set_engine"):
        # the numpy engine for the rows before the compiled ones: auto would move to the compiled engine part way
        # through them, once the process has spent LOAD_AFTER_SECONDS on numpy (the code before had no choice)
        liquidation.set_engine("numpy")
    portfolio, loan, as_of = load_demo()
    valued = iv.value_portfolio(portfolio, as_of=as_of, rng=0)
    rep = 3 if quick else 7
    from ipvalue.valuation import kernel

    cache = getattr(kernel, "STAGES_CACHE", None)  # value_portfolio's kept stages (none before the fast path)

    def cold(fn):
        def run():
            if cache is not None:
                cache.clear()
            return fn()

        return run

    # cold: the kept stages forgotten first (a new book, as every service request); warm: this book valued before
    out["demo_value"] = _best(cold(lambda: iv.value_portfolio(portfolio, as_of=as_of, rng=0)), rep)
    out["demo_flow"] = _best(
        cold(
            lambda: iv.assess_collateral(iv.value_portfolio(portfolio, as_of=as_of, rng=0), loan=loan, rng=0)
        ),
        rep,
    )
    out["demo_stress_cold"] = _best(cold(lambda: iv.assess_collateral(valued, loan=loan, rng=0)), rep)
    iv.value_portfolio(portfolio, as_of=as_of, rng=0)
    out["demo_assess"] = _best(lambda: iv.assess_collateral(valued, loan=loan, rng=0, stress=False), rep)
    out["demo_stress"] = _best(lambda: iv.assess_collateral(valued, loan=loan, rng=0), rep)
    out["demo_deepcopy"] = _deepcopies(lambda: iv.assess_collateral(valued, loan=loan, rng=0))
    a = iv.assess_collateral(valued, loan=loan, rng=0)
    out["demo_figures"] = [float(x) for x in a.stress["collateral_value"]] + [
        float(a.summary["collateral_value"])
    ]
    if "--floor" in sys.argv:
        out["demo_floor"] = _floor(valued, loan, 20_000)
    out["demo_engine"] = liquidation.engine(1) if hasattr(liquidation, "engine") else "numpy"
    if hasattr(liquidation, "set_engine"):
        liquidation.set_engine("auto")
    if hasattr(liquidation, "load_compiled_engine") and liquidation.load_compiled_engine():
        # a long-lived process (a service worker, a notebook) loads the compiled engine once: every run uses it
        out["demo_stress_compiled"] = _best(lambda: iv.assess_collateral(valued, loan=loan, rng=0), rep)
        out["demo_flow_compiled"] = _best(
            cold(
                lambda: iv.assess_collateral(
                    iv.value_portfolio(portfolio, as_of=as_of, rng=0), loan=loan, rng=0
                )
            ),
            rep,
        )
        c = iv.assess_collateral(valued, loan=loan, rng=0)
        out["demo_compiled_same"] = [float(x) for x in c.stress["collateral_value"]] + [
            float(c.summary["collateral_value"])
        ] == out["demo_figures"]

    n = 2_000 if quick else 20_000
    big, big_loan = valued_book(n)
    res, *t_plain = _once(lambda: iv.assess_collateral(big, loan=big_loan, rng=0, stress=False))
    res_s, *t_stress = _once(lambda: iv.assess_collateral(big, loan=big_loan, rng=0))
    out["book"] = {
        "engine": liquidation.engine(n * 20_000 * 6) if hasattr(liquidation, "engine") else "numpy",
        "n": n,
        "eligible": int(res.summary["n_eligible"]),
        "plain": t_plain,
        "stress": t_stress,
        "figures": [float(x) for x in res_s.stress["collateral_value"]]
        + [float(res_s.summary["expected_lgd"])],
    }
    if "--floor" in sys.argv:
        out["book"]["floor"] = _floor(big, big_loan, 20_000)
    out["numpy"] = np.__version__
    # last (a process setting that cannot be undone): glibc's malloc tuned as the ipvalue command and the service's
    # computing processes run it (ipvalue.runtime.tune_allocator), its thresholds set directly so that the code
    # before the fast path is measured the same way
    if _tune_allocator():
        if hasattr(liquidation, "set_engine"):
            liquidation.set_engine("numpy")
        out["demo_stress_tuned"] = _best(lambda: iv.assess_collateral(valued, loan=loan, rng=0), rep)
        if "demo_stress_compiled" in out:
            liquidation.set_engine("auto")
            out["demo_stress_tuned_compiled"] = _best(
                lambda: iv.assess_collateral(valued, loan=loan, rng=0), rep
            )
    return out


def _tune_allocator() -> bool:
    """glibc malloc's thresholds as :func:`ipvalue.runtime.tune_allocator` sets them (False: not glibc)."""
    import ctypes

    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018
    except (AttributeError, OSError):
        return False
    # M_MMAP_THRESHOLD 32 MiB, M_TRIM_THRESHOLD 64 MiB (ipvalue._allocator)
    return libc.mallopt(-3, 32 * 2**20) == 1 and libc.mallopt(-1, 64 * 2**20) == 1


def _run_worker(path: Path, quick: bool, *, floor: bool) -> dict:
    return run_worker(__file__, path, *(["--quick"] if quick else []), *(["--floor"] if floor else []))


def run(quick: bool = False) -> str:
    """Both workers, then the Markdown section."""
    with tempfile.TemporaryDirectory() as tmp:
        before_dir = extract_ipvalue(BEFORE, Path(tmp) / "before")
        load0 = os.getloadavg()[0]
        before = _run_worker(before_dir, quick, floor=False)
        after = _run_worker(ROOT, quick, floor=True)
        load1 = os.getloadavg()[0]
        n_book = after["book"]["n"]
        since = run_worker(
            __file__, extract_ipvalue(FIGURES_SINCE, Path(tmp) / "since"), "--figures", str(n_book)
        )
    same_demo = before["demo_figures"] == after["demo_figures"]
    b, a = before["book"], after["book"]
    same_book = b["figures"] == a["figures"]
    close_book = all(
        abs(x - y) <= 1e-12 * max(abs(x), abs(y), 1.0)
        for x, y in zip(b["figures"], a["figures"], strict=True)
    )
    floor_d, floor_b = after["demo_floor"], a["floor"]
    same_since = since["figures"] == a["figures"]
    moved = max(abs(y - x) / max(abs(x), 1e-300) for x, y in zip(b["figures"], a["figures"], strict=True))

    def row(name: str, key: str, target: str) -> str:
        (bw, bc), (aw, ac) = before[key], after[key]
        return f"| {name} | {bw * 1e3:.0f} ({bc * 1e3:.0f}) | {aw * 1e3:.0f} ({ac * 1e3:.0f}) | {bc / ac:.1f}x | {target} |"

    n = a["n"]
    lines = [
        "## Fast path (issue 17): assessment with stress, before and after in one run",
        "",
        f"Before: commit `{BEFORE}` (extracted with `git archive`), after: this checkout; each in its own worker "
        f"process, one after the other. Machine load average (1 min) {load0:.1f} before, {load1:.1f} after, on "
        f"{os.cpu_count()} cores: wall times include waiting for the CPU; CPU time (in brackets) is the process's own.",
        "",
        "| demo book, 34 patents, 20,000 paths (best of several) | before ms wall (CPU) | after ms wall (CPU) | CPU ratio | target |",
        "|---|---:|---:|---:|---|",
        row("`value_portfolio` (a new book: kept stages forgotten first)", "demo_value", ""),
        row("`assess_collateral`, no stress", "demo_assess", ""),
        row(
            "`assess_collateral` with the six stress shocks (the book valued before in the process)",
            "demo_stress",
            "< 60 ms (was 690 ms)",
        ),
        row("the same, the kept stages forgotten first", "demo_stress_cold", ""),
        row("`value_portfolio` then `assess_collateral` with stress, a new book", "demo_flow", ""),
        *(
            [
                f"| the same (book valued before), the compiled engine loaded (a long-lived process) | | "
                f"{after['demo_stress_compiled'][0] * 1e3:.0f} ({after['demo_stress_compiled'][1] * 1e3:.0f}) | "
                f"{before['demo_stress'][1] / after['demo_stress_compiled'][1]:.1f}x | < 60 ms |",
                f"| `value_portfolio` then the assessment, a new book, the compiled engine loaded | | "
                f"{after['demo_flow_compiled'][0] * 1e3:.0f} ({after['demo_flow_compiled'][1] * 1e3:.0f}) | "
                f"{before['demo_flow'][1] / after['demo_flow_compiled'][1]:.1f}x | |",
            ]
            if "demo_stress_compiled" in after
            else []
        ),
        *(
            [
                f"| the same, glibc's malloc tuned as the `ipvalue` command and the service run it "
                f"(`ipvalue.runtime.tune_allocator`), numpy engine | {before['demo_stress_tuned'][0] * 1e3:.0f} "
                f"({before['demo_stress_tuned'][1] * 1e3:.0f}) | {after['demo_stress_tuned'][0] * 1e3:.0f} "
                f"({after['demo_stress_tuned'][1] * 1e3:.0f}) | "
                f"{before['demo_stress_tuned'][1] / after['demo_stress_tuned'][1]:.1f}x | < 60 ms |"
            ]
            if "demo_stress_tuned" in before and "demo_stress_tuned" in after
            else []
        ),
        *(
            [
                f"| the same, malloc tuned and the compiled engine loaded (a service worker) | | "
                f"{after['demo_stress_tuned_compiled'][0] * 1e3:.0f} "
                f"({after['demo_stress_tuned_compiled'][1] * 1e3:.0f}) | "
                # against the code before with the same allocator (tuned too, when it could be)
                f"{before.get('demo_stress_tuned', before['demo_stress'])[1] / after['demo_stress_tuned_compiled'][1]:.1f}x"
                " | < 60 ms |"
            ]
            if "demo_stress_tuned_compiled" in after
            else []
        ),
        f"| `copy.deepcopy` calls in one assessment with stress | {before['demo_deepcopy']:,} | {after['demo_deepcopy']:,} | | |",
        f"| floor: numpy drawing the Monte Carlo's random numbers ({floor_d['pledged']} pledged patents) | | "
        f"{floor_d['wall'] * 1e3:.0f} ({floor_d['cpu'] * 1e3:.0f}) | | |",
        "",
        f"Demo assessment with stress / floor (CPU): before {before['demo_stress'][1] / floor_d['cpu']:.0f}x, "
        f"after {after['demo_stress'][1] / floor_d['cpu']:.0f}x. Stress collateral values and the base case "
        f"identical before and after: {'yes' if same_demo else 'NO'}"
        + (
            f"; on the compiled engine: {'yes' if after['demo_compiled_same'] else 'NO'}"
            if "demo_compiled_same" in after
            else ""
        )
        + f". Engine of the rows above the compiled ones: {after['demo_engine']} (set for them; auto runs a small "
        "job there in a process that has not loaded the compiled engine and has spent less than "
        "`liquidation.LOAD_AFTER_SECONDS` in the numpy engine's Monte Carlo, e.g. the `ipvalue demo` command).",
        "",
        f"| book of {n:,} synthetic patents ({a['eligible']:,} pledge-eligible), 20,000 paths, run once, "
        f"engine: {a.get('engine', 'numpy')} "
        "| before s wall (CPU) | after s wall (CPU) | CPU ratio | target |",
        "|---|---:|---:|---:|---|",
        f"| `assess_collateral`, no stress | {b['plain'][0]:.1f} ({b['plain'][1]:.1f}) | {a['plain'][0]:.1f} "
        f"({a['plain'][1]:.1f}) | {b['plain'][1] / a['plain'][1]:.1f}x | |",
        f"| `assess_collateral` with the six stress shocks | {b['stress'][0]:.1f} ({b['stress'][1]:.1f}) | "
        f"{a['stress'][0]:.1f} ({a['stress'][1]:.1f}) | {b['stress'][1] / a['stress'][1]:.1f}x | < 6 s |",
        f"| floor: numpy drawing the Monte Carlo's random numbers once | | {floor_b['wall']:.1f} "
        f"({floor_b['cpu']:.1f}) | | |",
        *(
            [
                f"| the same numbers drawn by the compiled engine (one thread, as the floor) | | "
                f"{floor_b['compiled'][0]:.1f} ({floor_b['compiled'][1]:.1f}) | | |"
            ]
            if "compiled" in floor_b
            else []
        ),
        "",
        f"With stress / floor (CPU): before {b['stress'][1] / floor_b['cpu']:.1f}x, after "
        f"{a['stress'][1] / floor_b['cpu']:.1f}x; without stress, after: {a['plain'][1] / floor_b['cpu']:.1f}x. "
        f"Stress collateral values and expected LGD identical before and after: "
        f"{'yes' if same_book else ('within 1e-12 relative (sums added patent by patent now)' if close_book else 'no')}"
        f"{'' if same_book or close_book else f' (at most {moved:.1e} relative)'}; identical to the last bit to those "
        f"of `{FIGURES_SINCE}`, the last commit that moved them on purpose (the option stage's continuous risk-free "
        f"rate, ln(1 + r)): {'yes' if same_since else 'NO'}.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    if "--worker" in sys.argv:
        sys.path.insert(0, os.environ.get("PYTHONPATH", str(ROOT)))
        if "--figures" in sys.argv:
            print(json.dumps({"figures": book_figures(int(sys.argv[sys.argv.index("--figures") + 1]))}))
        else:
            print(json.dumps(worker("--quick" in sys.argv)))
        sys.exit(0)
    quick = "--quick" in sys.argv
    text = run(quick=quick)
    print(text)
    out = ROOT / "benchmarks" / "results" / "fast.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(text, encoding="utf-8")
