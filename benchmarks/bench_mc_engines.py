"""Benchmark: the liquidation Monte Carlo's two engines, and the package draws kept across blocks (issue 17).

Run as a script: ``python benchmarks/bench_mc_engines.py [--quick]`` prints the Markdown section and writes it to
``benchmarks/results/mc_engines.md``.

* **Engines.** The runs of a real assessment with stress (the base case and the shocks that need a Monte Carlo,
  captured from ``assess_collateral``) on a synthetic book of 2,000 patents (1,000 with ``--quick``), 20,000
  paths. Their per-path sums are computed from the same kept draws (drawn once beforehand, so that only the
  arithmetic is timed) by the numpy engine and by the compiled one, on one thread, best of three (CPU time), and
  compared to the last bit.
* **Package draws.** The draws of the pledged patents of the 20,000-patent book (2,000 with ``--quick``) in the
  engine's blocks, on one thread: every package drawn again in each block its members lie in
  (``PACKAGE_KEEP_BYTES = 0``, as before), against a package drawn once and kept for later blocks. The numbers
  are compared to the last bit.
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
from pathlib import Path

import numpy as np
from _versions import valued_book

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _captured_runs(n: int) -> list:
    """The Monte Carlo runs of ``assess_collateral`` with stress on the synthetic book of ``n`` patents."""
    import ipvalue as iv
    from ipvalue.collateral import stress

    valued, loan = valued_book(n)
    runs: list = []
    engine = stress.liquidation_partial_sums_many

    def capture(r, **kw):
        runs.extend(r)
        return engine(r, **kw)

    stress.liquidation_partial_sums_many = capture
    try:
        iv.assess_collateral(valued, loan=loan, rng=0)
    finally:
        stress.liquidation_partial_sums_many = engine
    return runs


def _draws_for(runs: list, *, cache: bool):
    from ipvalue.collateral.liquidation import PatentDraws

    ps0 = runs[0][1]
    ids = np.concatenate([p.ids for p, _ in runs])
    pkgs = np.concatenate([p.ids if p.package is None else p.package for p, _ in runs])
    ids, first = np.unique(ids, return_index=True)
    return PatentDraws(
        ids,
        pkgs[first],
        seed=ps0.seed,
        paths=ps0.paths,
        sale_success=ps0.sale_success,
        judicial=slice(ps0.j0, ps0.j1),
        cache=cache,
    )


def engines(n: int) -> dict:
    """CPU seconds of the arithmetic of the captured runs on each engine (one thread, draws kept beforehand)."""
    from ipvalue.collateral import liquidation

    runs = _captured_runs(n)
    liquidation.set_parallel_threads(1)
    draws = _draws_for(runs, cache=True)
    liquidation.set_engine("numpy")
    liquidation.liquidation_partial_sums_many(runs, draws=draws)  # draws every block once, kept
    out: dict = {"runs": len(runs), "pledged": len(draws.ids), "paths": runs[0][1].paths}
    sums = {}
    for name in ("numpy", "compiled"):
        liquidation.set_engine(name)
        liquidation.liquidation_partial_sums_many(runs, draws=draws)  # warm (the compiled engine loads)
        best = float("inf")
        for _ in range(3):
            c = time.process_time()
            got = liquidation.liquidation_partial_sums_many(runs, draws=draws)
            best = min(best, time.process_time() - c)
        out[name] = best
        sums[name] = got
    out["same"] = all(
        a[k].tobytes() == b[k].tobytes()
        for a, b in zip(sums["numpy"], sums["compiled"], strict=True)
        for k in a
    )
    liquidation.set_engine("auto")
    return out


def package_draws(n: int) -> dict:
    """CPU seconds of the book's draws in the engine's blocks, packages drawn per block against kept."""
    from ipvalue import _random
    from ipvalue.collateral import liquidation

    runs = _captured_runs(n)
    base = runs[:1]
    block = max(1, 1_000_000 // base[0][1].paths)
    out: dict = {"pledged": len(base[0][0].ids)}
    real = _random.patent_rng
    kept = {}
    for name, keep in (("per block", 0), ("kept", liquidation.PACKAGE_KEEP_BYTES)):
        saved, liquidation.PACKAGE_KEEP_BYTES = liquidation.PACKAGE_KEEP_BYTES, keep
        streams: list[str] = []

        def counting(seed, pid, stream, streams=streams):
            streams.append(stream)
            return real(seed, pid, stream)

        liquidation.patent_rng = counting
        try:
            draws = _draws_for(base, cache=False)
            n_ids = len(draws.ids)
            digest = []
            spent = 0.0
            for b0 in range(0, n_ids, block):
                c = time.process_time()
                z, e, zp, buyer, member = draws.block(b0, min(n_ids, b0 + block))
                spent += time.process_time() - c  # the draws only, not the hash below
                rows = zp if member is None else zp[member]
                h = hashlib.sha256()
                for a in (z, e, rows, buyer if member is None else buyer[member]):
                    h.update(np.ascontiguousarray(a).tobytes())
                digest.append(h.hexdigest())
            out[name] = spent
            out[f"{name} package draws"] = streams.count("liquidation-package")
            kept[name] = digest
        finally:
            liquidation.patent_rng = real
            liquidation.PACKAGE_KEEP_BYTES = saved
    out["packages"] = len(np.unique(base[0][0].package))
    out["same"] = kept["per block"] == kept["kept"]
    return out


def run(quick: bool = False) -> str:
    """Both measurements, then the Markdown section."""
    n_eng = 1_000 if quick else 2_000
    n_draw = 2_000 if quick else 20_000
    load0 = os.getloadavg()[0]
    e = engines(n_eng)
    d = package_draws(n_draw)
    load1 = os.getloadavg()[0]
    elements = e["pledged"] * e["paths"] * e["runs"]
    lines = [
        "## Fast path, the compiled Monte Carlo engine and packages kept across blocks (issue 17, fourth session)",
        "",
        f"`python benchmarks/bench_mc_engines.py`; one thread, CPU time (load average {load0:.1f} before, "
        f"{load1:.1f} after, {os.cpu_count()} cores).",
        "",
        f"| the arithmetic of an assessment with stress: {e['runs']} runs over {e['pledged']:,} pledged patents "
        f"of a {n_eng:,}-patent book, {e['paths']:,} paths (draws made beforehand), best of 3 "
        "| CPU s | ns per patent-path-run |",
        "|---|---:|---:|",
        f"| numpy engine | {e['numpy']:.3f} | {e['numpy'] / elements * 1e9:.1f} |",
        f"| compiled engine (numba) | {e['compiled']:.3f} | {e['compiled'] / elements * 1e9:.1f} |",
        "",
        f"Compiled / numpy: {e['numpy'] / e['compiled']:.1f}x less CPU; the sums identical to the last bit: "
        f"{'yes' if e['same'] else 'NO'}.",
        "",
        f"| the draws of the {d['pledged']:,} pledged patents of a {n_draw:,}-patent book ({d['packages']:,} "
        "disposal packages), in the engine's blocks, one thread | CPU s | package streams drawn |",
        "|---|---:|---:|",
        f"| each package drawn again in every block its members lie in (before) | {d['per block']:.2f} | "
        f"{d['per block package draws']:,} |",
        f"| a package drawn once, kept for later blocks | {d['kept']:.2f} | {d['kept package draws']:,} |",
        "",
        f"The draws identical (per block: a SHA-256 of Z, E, each row's package bid normals and buyers): "
        f"{'yes' if d['same'] else 'NO'}.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    text = run(quick="--quick" in sys.argv)
    print(text)
    out = ROOT / "benchmarks" / "results" / "mc_engines.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(text, encoding="utf-8")
