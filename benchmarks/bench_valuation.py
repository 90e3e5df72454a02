"""value_portfolio throughput and peak memory on synthetic portfolios.

Cases (each in a fresh spawned process, so peak RSS is that case's own):

* point values (``draws=0``), all methods, at 10k, 100k and 1M patents (targets: 1M under 60 s and 8 GiB);
* ranges with 1,000 Monte Carlo draws per patent at 100k patents (target: under 60 s);
* reference: a naive loop calling ``value_portfolio`` once per patent on a slice of ungrouped patents, in the
  same run, with a check that it gives the same numbers as the vectorised call.

Run ``python benchmarks/bench_valuation.py`` (``--quick`` for 10k only); the section is printed and written to
``benchmarks/results/valuation.md``.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import platform
import resource
import sys
import time
from pathlib import Path

AS_OF = "2026-06-30"


def _case(n: int, draws: int, seed: int = 0) -> dict:
    import numpy as np

    import ipvalue as iv
    from ipvalue.valuation._synthetic import synthetic_portfolio

    t0 = time.perf_counter()
    frame = synthetic_portfolio(n, seed=seed, as_of=AS_OF)
    t_gen = time.perf_counter() - t0
    base_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    out = iv.value_portfolio(frame, {"draws": draws}, as_of=AS_OF, rng=1)
    t = time.perf_counter() - t0
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    valued = int(np.isfinite(out["value"].to_numpy()).sum())
    return {
        "n": n,
        "draws": draws,
        "seconds": t,
        "gen_seconds": t_gen,
        "base_mib": base_kib / 1024,
        "peak_mib": peak_kib / 1024,
        "valued": valued,
    }


def _naive(n_slice: int, seed: int = 0) -> dict:
    import numpy as np
    import pandas as pd

    import ipvalue as iv
    from ipvalue.valuation._synthetic import synthetic_portfolio

    frame = synthetic_portfolio(20 * n_slice, seed=seed, as_of=AS_OF)
    # ungrouped patents with the quality columns given (empty), so that no number depends on the other rows
    # (quality scores are normalised within the portfolio): the loop and the vectorised call must then agree
    solo = frame[frame["group"].isna()].iloc[:n_slice]
    solo = solo.assign(
        quality_legal=np.nan, quality_technical=np.nan, quality_economic=np.nan, quality_score=np.nan
    )
    t0 = time.perf_counter()
    vec = iv.value_portfolio(solo, {"draws": 0}, as_of=AS_OF, rng=1)
    t_vec = time.perf_counter() - t0
    t0 = time.perf_counter()
    rows = [iv.value_portfolio(solo.iloc[[i]], {"draws": 0}, as_of=AS_OF, rng=1) for i in range(len(solo))]
    t_loop = time.perf_counter() - t0
    loop = pd.concat(rows)
    cols = ["value_income", "value_cost", "value_option", "value"]
    same = bool(np.allclose(loop[cols].to_numpy(), vec[cols].to_numpy(), rtol=1e-12, equal_nan=True))
    return {"n": len(solo), "vec_seconds": t_vec, "loop_seconds": t_loop, "same": same, "cols": cols}


def _in_child(fn, *args) -> dict:
    ctx = mp.get_context("spawn")
    with ctx.Pool(1) as pool:
        return pool.apply(fn, args)


def run(quick: bool = False) -> str:
    """Run the cases and return a Markdown section with the figures."""
    sizes = [10_000] if quick else [10_000, 100_000, 1_000_000]
    mc_n = 10_000 if quick else 100_000
    rows = [_in_child(_case, n, 0) for n in sizes]
    mc = _in_child(_case, mc_n, 1000)
    naive = _in_child(_naive, 100 if quick else 200)

    lines = [
        "## Valuation: value_portfolio",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores (shared), Python {platform.python_version()}. "
        f"Synthetic CN portfolios (`ipvalue.valuation._synthetic.synthetic_portfolio`, as_of {AS_OF}); each case in a "
        "fresh process; peak = peak RSS of that process (input frame included), base = RSS after building the input.",
        "",
        "| patents | draws | seconds | patents / s | peak RSS MiB | base RSS MiB | valued (finite value) |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in [*rows, mc]:
        lines.append(
            f"| {r['n']:,} | {r['draws']} | {r['seconds']:.2f} | {r['n'] / r['seconds']:,.0f} | {r['peak_mib']:,.0f} | "
            f"{r['base_mib']:,.0f} | {r['valued']:,} |"
        )
    per_vec = naive["vec_seconds"] / naive["n"]
    per_loop = naive["loop_seconds"] / naive["n"]
    lines += [
        "",
        f"Reference in the same run: a naive loop calling `value_portfolio` once per patent on {naive['n']} ungrouped "
        f"patents took {naive['loop_seconds']:.2f} s ({per_loop * 1e3:.1f} ms per patent) against "
        f"{naive['vec_seconds']:.3f} s vectorised ({per_vec * 1e6:.0f} µs per patent): "
        f"{per_loop / per_vec:,.0f}x. Same `value_income`, `value_cost`, `value_option`, `value` in both: {naive['same']}.",
        "",
        "Targets: 1M patents point values < 60 s and < 8 GiB; 100k patents with 1,000 draws < 60 s.",
    ]
    if not quick:
        big = rows[-1]
        lines.append(
            f"Measured: 1M point {big['seconds']:.1f} s, {big['peak_mib'] / 1024:.2f} GiB peak; "
            f"100k x 1,000 draws {mc['seconds']:.1f} s."
        )
    return "\n".join(lines) + "\n"


def compare(ref: str, n: int, draws: int) -> str:
    """Before / after in one run: the same case on the code in ``ref`` (a checkout) and on this checkout.

    Each side runs in its own Python process with ``PYTHONPATH`` set to its checkout; the lines are returned as a
    markdown table row pair.
    """
    import json
    import subprocess

    here = str(Path(__file__).resolve().parents[1])
    code = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); "
        "from benchmarks.bench_valuation import _case; "
        "print(json.dumps(_case(int(sys.argv[2]), int(sys.argv[3]))))"
    )
    rows = []
    for label, root in (("before (v1)", ref), ("after (v2)", here)):
        env = {**os.environ, "PYTHONPATH": root}
        got = subprocess.run(
            [sys.executable, "-c", code, root, str(n), str(draws)],
            env=env, cwd=root, capture_output=True, text=True, check=True,
        )  # fmt: skip
        r = json.loads(got.stdout.strip().splitlines()[-1])
        rows.append(
            f"| {label} | {n:,} | {draws} | {r['seconds']:.1f} | {n / r['seconds']:,.0f} | {r['peak_mib']:,.0f} |"
        )
    head = "| code | patents | draws | seconds | patents/s | peak MiB |\n|---|---|---|---|---|---|"
    return "\n".join([head, *rows])


if __name__ == "__main__":
    if "--compare" in sys.argv:
        # python benchmarks/bench_valuation.py --compare REF_CHECKOUT N [DRAWS]
        i = sys.argv.index("--compare")
        args = sys.argv[i + 1 :]
        print(compare(args[0], int(args[1]), int(args[2]) if len(args) > 2 else 0))
    else:
        text = run(quick="--quick" in sys.argv)
        print(text)
        out = Path(__file__).parent / "results" / "valuation.md"
        out.parent.mkdir(exist_ok=True)
        out.write_text(text, encoding="utf-8")
