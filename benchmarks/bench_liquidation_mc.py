"""Benchmark: the liquidation Monte Carlo's arithmetic (issue 17), before and after in one run, against the floor.

Run as a script: ``python benchmarks/bench_liquidation_mc.py [--quick]`` prints a Markdown table and writes it to
``benchmarks/results/liquidation_mc.md``. Two worker processes run the same cases one after the other, on this
checkout: "before" with ``ipvalue/collateral/liquidation.py`` as it was at commit ``BEFORE`` (the rest of the
tree as now, extracted with ``git archive``), "after" as it is. Each measures, once, on a synthetic book
(``ipvalue/valuation/_synthetic.py``, 20,000 patents, ``--quick`` 2,000) valued with point values and the loan
of ``benchmarks/bench_fast.py``:

* the demo book (``ipvalue.demo``): ``assess_collateral`` with the six stress shocks, best of 7, and the floor of
  its draws;
* ``assess_collateral`` without stress and with the six stress shocks: wall and CPU time of the process, and the
  CPU time spent inside ``liquidation_partial_sums_many`` (the Monte Carlo: draws and arithmetic);
* the floor (after only): numpy drawing the random numbers the Monte Carlo uses for the base case's pledged
  patents (per patent a normal and an exponential per path, per package a normal per path and a uniform per
  judicial path), once, on one thread.

The figures of both (stress collateral values, expected LGDs) are compared exactly.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _versions import extract_ipvalue, run_worker, valued_book

#: the liquidation module before the latest work on it (``--before REV`` to compare with another commit; the
#: figures of ``1599812``, the first round, are in ``benchmarks/RESULTS.md``)
BEFORE = "85ac831"
ROOT = Path(__file__).resolve().parents[1]


def _floor(valued, loan, paths: int) -> dict:
    """Draw the base case's Monte Carlo numbers once, block by block, on one thread."""
    from ipvalue.collateral import load_policy
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
    pool = prepare_chunk(check_frame(valued).sort_index(kind="stable"), ctx, checked=True).pool
    setup = liquidation_setup(ctx)
    draws = PatentDraws(
        pool.ids,
        pool.ids if pool.package is None else pool.package,
        seed=0,
        paths=paths,
        sale_success=setup.sale_success,
        judicial=slice(setup.j0, setup.j1),
    )
    block, n = max(1, 1_000_000 // paths), len(pool.ids)
    t, c = time.perf_counter(), time.process_time()
    for b0 in range(0, n, block):
        draws.block(b0, min(n, b0 + block))
    return {"pledged": n, "wall": time.perf_counter() - t, "cpu": time.process_time() - c}


def worker(quick: bool, floor: bool) -> dict:
    """Measure the cases on the ``ipvalue`` this process imports; return the figures."""
    import ipvalue as iv
    from ipvalue.collateral import kernel, stress
    from ipvalue.valuation._synthetic import synthetic_portfolio

    mc = {"cpu": 0.0, "calls": 0}

    def timed(fn):
        def inner(*args, **kw):
            c = time.process_time()
            try:
                return fn(*args, **kw)
            finally:
                mc["cpu"] += time.process_time() - c
                mc["calls"] += 1

        return inner

    kernel.liquidation_partial_sums_many = timed(kernel.liquidation_partial_sums_many)
    stress.liquidation_partial_sums_many = timed(stress.liquidation_partial_sums_many)
    from ipvalue.demo import load_demo

    portfolio, demo_loan, as_of = load_demo()
    valued = iv.value_portfolio(portfolio, as_of=as_of, rng=0)
    iv.assess_collateral(valued, loan=demo_loan, rng=0)  # warm-up
    demo = {"wall": 9e9, "cpu": 9e9, "mc_cpu": 9e9}
    for _ in range(7):  # best of 7: the demo's figures are milliseconds
        mc.update(cpu=0.0, calls=0)
        t, c = time.perf_counter(), time.process_time()
        res = iv.assess_collateral(valued, loan=demo_loan, rng=0)
        got = {"wall": time.perf_counter() - t, "cpu": time.process_time() - c, "mc_cpu": mc["cpu"]}
        demo = {k: min(demo[k], got[k]) for k in demo}
    n = 2_000 if quick else 20_000
    out_demo = {**demo, "figures": [float(x) for x in res.stress["collateral_value"]]}
    out_demo["figures"] += [float(x) for x in res.stress["expected_lgd"]] + [
        float(res.summary["expected_lgd"])
    ]
    if floor:
        out_demo["floor"] = _floor(valued, demo_loan, 20_000)
    book = synthetic_portfolio(n, seed=0)
    big = iv.value_portfolio(book, {"draws": 0}, as_of="2026-06-30", rng=1)
    loan = iv.Loan(
        amount=5e8 * n / 100_000,
        currency="CNY",
        tenor_years=3.0,
        interest_rate=0.045,
        probability_of_default=0.03,
    )
    out: dict = {"ipvalue": str(Path(iv.__file__).resolve().parent), "n": n, "demo": out_demo}
    for name, kw in (("plain", {"stress": False}), ("stress", {})):
        mc.update(cpu=0.0, calls=0)
        t, c = time.perf_counter(), time.process_time()
        res = iv.assess_collateral(big, loan=loan, rng=0, **kw)
        out[name] = {"wall": time.perf_counter() - t, "cpu": time.process_time() - c, "mc_cpu": mc["cpu"]}
        out["eligible"] = int(res.summary["n_eligible"])
    out["figures"] = [float(x) for x in res.stress["collateral_value"]]
    out["figures"] += [float(x) for x in res.stress["expected_lgd"]] + [float(res.summary["expected_lgd"])]
    if floor:
        out["floor"] = _floor(big, loan, 20_000)
    out["load"] = os.getloadavg()[0]
    return out


def arithmetic(n: int = 2_000, repeat: int = 3, before: str = BEFORE) -> dict:
    """The arithmetic alone, before and after in this process, on one thread, the draws kept (drawn once).

    The runs are those of an assessment with stress of an ``n``-patent book (the base case and the five
    shock runs that reach the Monte Carlo), captured from the engine; each version sums the base case alone and
    the five shocks together ``repeat`` times, interleaved; the least CPU time of each is reported.
    """
    import importlib.util

    import ipvalue as iv
    from ipvalue.collateral import kernel, liquidation, stress

    captured: list = []

    def capture(fn):
        def inner(runs, **kw):
            captured.extend(runs)
            return fn(runs, **kw)

        return inner

    kernel.liquidation_partial_sums_many = capture(kernel.liquidation_partial_sums_many)
    stress.liquidation_partial_sums_many = capture(stress.liquidation_partial_sums_many)
    big, loan = valued_book(n)
    iv.assess_collateral(big, loan=loan, rng=0)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "liquidation_before.py"
        old = subprocess.run(
            ["git", "show", f"{before}:ipvalue/collateral/liquidation.py"],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        src.write_bytes(old.stdout)
        spec = importlib.util.spec_from_file_location("liquidation_before", src)
        old_mod = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        sys.modules["liquidation_before"] = old_mod  # dataclasses look their module up
        spec.loader.exec_module(old_mod)  # type: ignore[union-attr]
    base_pool, base_setup = captured[0]
    block = max(1, 1_000_000 // base_setup.paths)
    kept = {}  # each version its own kept draws (the same numbers; the block layout may differ)
    for mod in (old_mod, liquidation):
        draws = kept[mod] = mod.PatentDraws(
            base_pool.ids,
            base_pool.package,
            seed=base_setup.seed,
            paths=base_setup.paths,
            sale_success=base_setup.sale_success,
            judicial=slice(base_setup.j0, base_setup.j1),
            cache=True,
        )
        for b0 in range(0, len(base_pool.ids), block):
            draws.block(b0, min(len(base_pool.ids), b0 + block))
    cases = {"base": captured[:1], "shocks": captured[1:]}
    best: dict = {}
    same = True
    for _ in range(repeat):
        for version, mod in (("before", old_mod), ("after", liquidation)):
            mod.PARALLEL_THREADS = 1
            for case, runs in cases.items():
                c = time.process_time()
                sums = mod.liquidation_partial_sums_many(runs, draws=kept[mod])
                cpu = time.process_time() - c
                key = f"{version}_{case}"
                best[key] = min(best.get(key, cpu), cpu)
                best.setdefault(f"sums_{case}", {})[version] = sums
    for case in cases:
        b, a = best.pop(f"sums_{case}").values()
        same &= all(x[k].tobytes() == y[k].tobytes() for x, y in zip(b, a, strict=True) for k in x)
    return {**best, "same": same, "pledged": len(base_pool.ids), "runs": len(captured)}


def _run_worker(path: Path, quick: bool, *, floor: bool) -> dict:
    return run_worker(__file__, path, *(["--quick"] if quick else []), *(["--floor"] if floor else []))


def run(quick: bool = False, before: str = BEFORE) -> str:
    """Both workers, then the Markdown section."""
    with tempfile.TemporaryDirectory() as tmp:
        before_dir = extract_ipvalue("HEAD", Path(tmp) / "before")
        old = subprocess.run(
            ["git", "show", f"{before}:ipvalue/collateral/liquidation.py"],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        (before_dir / "ipvalue" / "collateral" / "liquidation.py").write_bytes(old.stdout)
        load0 = os.getloadavg()[0]
        b = _run_worker(before_dir, quick, floor=False)
        a = _run_worker(ROOT, quick, floor=True)
        args = [sys.executable, str(Path(__file__).resolve()), "--arithmetic", "--before", before]
        done = subprocess.run(
            args, env=dict(os.environ, PYTHONPATH=str(ROOT)), check=True, capture_output=True
        )
        ar = json.loads(done.stdout.strip().splitlines()[-1])
        load1 = os.getloadavg()[0]
    f = a["floor"]

    def row(name: str, key: str) -> str:
        bb, aa = b[key], a[key]
        return (
            f"| {name} | {bb['wall']:.1f} ({bb['cpu']:.1f}) | {aa['wall']:.1f} ({aa['cpu']:.1f}) "
            f"| {bb['cpu'] / aa['cpu']:.1f}x | {bb['mc_cpu']:.1f} | {aa['mc_cpu']:.1f} | {bb['mc_cpu'] / aa['mc_cpu']:.1f}x "
            f"| {aa['cpu'] / f['cpu']:.1f}x |"
        )

    same = b["figures"] == a["figures"]
    bd, ad = b["demo"], a["demo"]
    fd = ad["floor"]
    demo_same = bd["figures"] == ad["figures"]
    lines = [
        f"Demo book (34 patents, {fd['pledged']} pledged), `assess_collateral` with the six stress shocks, "
        f"20,000 paths, best of 7 in each process (before: `liquidation.py` of `{before}`):",
        "",
        "| case | before ms wall (CPU) | after ms wall (CPU) | CPU ratio | Monte Carlo CPU before | after "
        "| ratio | after Monte Carlo / floor |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        f"| demo assessment with stress | {bd['wall'] * 1e3:.0f} ({bd['cpu'] * 1e3:.0f}) | "
        f"{ad['wall'] * 1e3:.0f} ({ad['cpu'] * 1e3:.0f}) | {bd['cpu'] / ad['cpu']:.2f}x | "
        f"{bd['mc_cpu'] * 1e3:.1f} | {ad['mc_cpu'] * 1e3:.1f} | {bd['mc_cpu'] / ad['mc_cpu']:.2f}x | "
        f"{ad['mc_cpu'] / fd['cpu']:.1f}x |",
        f"| floor: numpy drawing the demo's Monte Carlo numbers once | | {fd['wall'] * 1e3:.1f} "
        f"({fd['cpu'] * 1e3:.1f}) | | | | | 1.0x |",
        "",
        f"Demo stress collateral values and expected LGDs identical before and after: {'yes' if demo_same else 'NO'}.",
        "",
        f"Book of {a['n']:,} synthetic patents ({a['eligible']:,} pledge-eligible), 20,000 paths, run once each. "
        f"Before: `liquidation.py` of `{before}`, the rest of the tree as after; each in its own process, one "
        f"after the other. Load average (1 min) {load0:.1f} at the start, {load1:.1f} at the end, on "
        f"{os.cpu_count()} cores: wall includes waiting for a core; CPU (in brackets) is the process's own.",
        "",
        "| case | before s wall (CPU) | after s wall (CPU) | CPU ratio | Monte Carlo CPU before | after | ratio "
        "| after CPU / floor |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        row("`assess_collateral`, no stress", "plain"),
        row("`assess_collateral` with the six stress shocks", "stress"),
        f"| floor: numpy drawing the base case's random numbers once, one thread ({f['pledged']:,} patents) | | "
        f"{f['wall']:.1f} ({f['cpu']:.1f}) | | | | | 1.0x |",
        "",
        f"Stress collateral values and expected LGDs (base and shocks) identical before and after: "
        f"{'yes' if same else 'NO'}.",
        "",
        f"The arithmetic alone (`arithmetic()`: the runs of an assessment with stress of 2,000 patents, "
        f"{ar['pledged']:,} pledged, captured from the engine; draws kept, one thread, least CPU of 3, before and "
        f"after interleaved in one process):",
        "",
        "| runs | before s CPU | after s CPU | ratio |",
        "|---|---:|---:|---:|",
        f"| base case alone | {ar['before_base']:.2f} | {ar['after_base']:.2f} | "
        f"{ar['before_base'] / ar['after_base']:.1f}x |",
        f"| the {ar['runs'] - 1} shock runs together (shock axis) | {ar['before_shocks']:.2f} | "
        f"{ar['after_shocks']:.2f} | {ar['before_shocks'] / ar['after_shocks']:.1f}x |",
        "",
        f"Every partial sum identical before and after: {'yes' if ar['same'] else 'NO'}.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    rev = sys.argv[sys.argv.index("--before") + 1] if "--before" in sys.argv else BEFORE
    if "--arithmetic" in sys.argv:
        sys.path.insert(0, os.environ.get("PYTHONPATH", str(ROOT)))
        print(json.dumps(arithmetic(before=rev)))
        sys.exit(0)
    if "--worker" in sys.argv:
        sys.path.insert(0, os.environ.get("PYTHONPATH", str(ROOT)))
        print(json.dumps(worker("--quick" in sys.argv, "--floor" in sys.argv)))
        sys.exit(0)
    text = run(quick="--quick" in sys.argv, before=rev)
    print(text)
    out = ROOT / "benchmarks" / "results" / "liquidation_mc.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(text, encoding="utf-8")
