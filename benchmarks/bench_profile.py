"""Benchmark: borrower technology profiles (ipvalue.profile) for a book of firms with peers.

Run as a script: ``python benchmarks/bench_profile.py [--quick]`` prints the Markdown section and writes it to
``benchmarks/results/profile.md``.

* 10,000 firms (about 1M patents): every firm profiled against its cohort of the book (``profile_book``), serially;
  the reference in the same run is one pandas ``groupby`` over the same rows taking a count and a median per firm
  (the floor of any per-firm reduction);
* one borrower against those peers (``profile_borrower``): from the raw peers frame (every peer patent's facts
  recomputed), and against the peer book computed once (``peer_book``), the same profile;
* 100,000 firms (about 1M patents, 10 each) on the Dask backend (a local cluster of 2 worker processes), checked
  to give exactly the serial percentiles.
"""

from __future__ import annotations

import datetime as dt
import gc
import os
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

AS_OF = dt.date(2026, 6, 30)


def timed(fn: Callable[[], Any], *, trace: bool = True) -> tuple[Any, float, float, float]:
    """Result, wall seconds, CPU seconds, peak traced MiB (0 when not traced)."""
    gc.collect()
    if trace:
        tracemalloc.start()
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    peak = 0.0
    if trace:
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    return out, wall, cpu, peak


def run(quick: bool = False) -> str:
    from ipvalue.profile import peer_book, profile_book, profile_borrower, synthetic_book
    from ipvalue.runtime import DaskBackend

    n_firms = 1_000 if quick else 10_000
    n_wide = 10_000 if quick else 100_000
    book = synthetic_book(n_firms, as_of=AS_OF, mean_patents=100, seed=1)
    n_pat = len(book)
    load = os.getloadavg()[0]
    res, wall, cpu, peak = timed(lambda: profile_book(book, as_of=AS_OF, chunk_size=250_000))
    _, r_wall, r_cpu, _ = timed(
        lambda: book.groupby("firm").agg(n=("patent_id", "size"), q=("quality_score", "median")), trace=False
    )
    levels = res.firms["cohort_level"].value_counts()
    borrower = synthetic_book(1, as_of=AS_OF, mean_patents=150, seed=99, prefix="B")
    prof, b_wall, b_cpu, _ = timed(lambda: profile_borrower(borrower, as_of=AS_OF, peers=book), trace=False)
    pb, pb_wall, pb_cpu, pb_peak = timed(lambda: peer_book(book, as_of=AS_OF, chunk_size=250_000))
    fast, f_wall, f_cpu, f_peak = timed(lambda: profile_borrower(borrower, as_of=AS_OF, peers=pb))
    many = [synthetic_book(1, as_of=AS_OF, mean_patents=100, seed=1000 + i, prefix="B") for i in range(20)]
    _, m_wall, m_cpu, _ = timed(
        lambda: [profile_borrower(b, as_of=AS_OF, peers=pb) for b in many], trace=False
    )
    same_fast = fast.to_dict() == prof.to_dict()
    grades = res.firms["grade"].value_counts().reindex([f"T{i}" for i in range(1, 11)]).fillna(0).astype(int)
    wide = synthetic_book(n_wide, as_of=AS_OF, mean_patents=10, seed=2)
    serial, s_wall, s_cpu, _ = timed(lambda: profile_book(wide, as_of=AS_OF, chunk_size=200_000), trace=False)
    with DaskBackend(n_workers=2, threads_per_worker=1, processes=True) as be:
        _ = be.client  # start the cluster outside the timing
        dask_res, d_wall, d_cpu, _ = timed(
            lambda: profile_book(wide, as_of=AS_OF, backend=be, chunk_size=200_000), trace=False
        )
    same = all(
        getattr(serial, k).equals(getattr(dask_res, k))
        for k in ("firms", "indicators", "percentiles", "scores", "dimensions")
    )
    load_after = os.getloadavg()[0]
    lines = [
        "## Borrower technology profile (issue #21)",
        "",
        f"Synthetic book (`ipvalue.profile.synthetic_book`): {n_firms:,} firms, {n_pat:,} patents; every firm "
        "profiled against its own cohort of the book (27 indicators; cohorts by industry via the IPC concordance, core CPC class, and size). "
        f"Machine load average (1 min) {load:.1f} before, {load_after:.1f} after, on {os.cpu_count()} cores.",
        "",
        "| run | wall (s) | CPU (s) | firms / s | peak traced memory (MiB) |",
        "|---|---:|---:|---:|---:|",
        f"| `profile_book`, {n_firms:,} firms / {n_pat:,} patents, serial | {wall:.2f} | {cpu:.2f} | "
        f"{n_firms / wall:,.0f} | {peak:,.0f} |",
        f"| reference: one pandas groupby (count + median per firm) | {r_wall:.2f} | {r_cpu:.2f} | "
        f"{n_firms / r_wall:,.0f} | |",
        f"| `profile_borrower`, one firm ({len(borrower)} patents) against the raw peers frame (untraced) | "
        f"{b_wall:.2f} | {b_cpu:.2f} | | |",
        f"| `peer_book`: the same peers computed once | {pb_wall:.2f} | {pb_cpu:.2f} | "
        f"{n_firms / pb_wall:,.0f} | {pb_peak:,.0f} |",
        f"| `profile_borrower`, the same firm against that peer book | {f_wall:.3f} | {f_cpu:.3f} | | "
        f"{f_peak:,.1f} |",
        f"| `profile_borrower`, 20 more firms against that peer book (untraced) | {m_wall:.2f} | {m_cpu:.2f} | "
        f"{20 / m_wall:,.1f} | |",
        f"| `profile_book`, {n_wide:,} firms / {len(wide):,} patents, serial | {s_wall:.2f} | {s_cpu:.2f} | "
        f"{n_wide / s_wall:,.0f} | |",
        f"| `profile_book`, {n_wide:,} firms, Dask backend (2 worker processes; CPU = this process only) | "
        f"{d_wall:.2f} | {d_cpu:.2f} | {n_wide / d_wall:,.0f} | |",
        "",
        f"Dask percentiles, scores and grades identical to the serial run: **{'yes' if same else 'NO'}**. "
        f"Grades of the {n_firms:,}-firm book (T1..T10): {', '.join(str(v) for v in grades.tolist())}. "
        f"The borrower's grade: {prof.grade} (score {prof.score:.1f}); against the peer book: "
        f"**{'the same profile' if same_fast else 'A DIFFERENT PROFILE'}**. Cohort levels of the book's firms: "
        + ", ".join(f"{k} {v:,}" for k, v in levels.items())
        + ".",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    text = run(quick="--quick" in sys.argv)
    print(text)
    out = Path(__file__).resolve().parent / "results" / "profile.md"
    out.write_text(text, encoding="utf-8")
    pd.set_option("display.width", 200)
