"""Benchmark: the market approach, 100k patents against 10k comparables (throughput and peak memory).

Run as a script: ``python benchmarks/bench_market.py [--quick]`` prints the Markdown section and writes it to
``benchmarks/results/market.md``; ``--portfolio`` runs only the ``value_portfolio`` rows (100k patents x 1,000
draws without and with the 10k comparables), to compare two checkouts in one session. Selection is by grouping keys (one join per IPC level), so memory follows the
number of (patent, comparable) pairs kept (at most ``max_comparables`` plus the nearer ones per patent), never
patents x comparables. The reference in the same run is the dense matrix a naive matcher would need (its size,
computed, not allocated) and a run at a tenth of the patents (throughput should not fall with scale).
"""

from __future__ import annotations

import datetime as dt
import gc
import os
import platform
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import ipvalue as iv  # noqa: E402
from ipvalue.valuation.methods.market import market_approach  # noqa: E402

AS_OF = dt.date(2025, 6, 30)
LETTERS = np.array(list("ABCDEFGH"))
SUBCLASSES = np.array(
    [f"{LETTERS[i % 8]}{10 + (i * 7) % 90:02d}{chr(65 + (i * 11) % 26)}" for i in range(600)], dtype=object
)


def codes(n: int, rng: np.random.Generator) -> np.ndarray:
    sub = SUBCLASSES[rng.zipf(1.6, n) % 600]
    grp = rng.integers(1, 60, n).astype(str)
    return np.char.add(np.char.add(sub.astype(str), grp), "/00").astype(object)


def subjects(n: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "cpc": codes(n, rng),
            "quality_score": rng.uniform(20, 90, n),
            "remaining_life_years": rng.uniform(0, 18, n),
            "revenue": np.where(rng.random(n) < 0.6, rng.lognormal(16, 1, n), np.nan),
            "discount_rate": rng.uniform(0.1, 0.2, n),
        },
        index=pd.Index(
            np.char.add("CN", np.arange(10**8, 10**8 + n).astype(str)).astype(object), name="patent_id"
        ),
    )


def comparables(n: int, seed: int = 2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    royalty = rng.random(n) < 0.3
    kinds = np.array(
        ["assignment", "exclusive_licence", "non_exclusive_licence", "judicial_auction"], dtype=object
    )
    raw = pd.DataFrame(
        {
            "comparable_id": [f"T{i:06d}" for i in range(n)],
            "price": np.where(royalty, np.nan, rng.lognormal(14, 1, n)),
            "royalty_rate": np.where(royalty, rng.uniform(0.01, 0.08, n), np.nan),
            "transaction_date": (
                np.datetime64("2015-01-01") + rng.integers(0, 365 * 10, n).astype("timedelta64[D]")
            ).astype(str),
            "ipc": codes(n, rng),
            "remaining_life_years": rng.uniform(1, 18, n),
            "transaction_kind": np.where(royalty, "non_exclusive_licence", kinds[rng.integers(0, 4, n)]),
            "quality_score": rng.uniform(20, 90, n),
        }
    )
    return iv.read_comparables(raw)


def measure(n_subjects: int, comps: pd.DataFrame) -> dict[str, float]:
    subj = subjects(n_subjects)
    gc.collect()
    t0 = time.perf_counter()
    r = market_approach(subj, comps, as_of=AS_OF)
    secs = time.perf_counter() - t0
    pairs = len(r.comparables)
    valued = int(np.isfinite(r.value).sum())
    del r
    gc.collect()
    tracemalloc.start()
    market_approach(subj, comps, as_of=AS_OF)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"n": n_subjects, "secs": secs, "pairs": pairs, "valued": valued, "peak_mib": peak / 2**20}


def measure_portfolio(n_patents: int, comps: pd.DataFrame, draws: int) -> dict[str, float]:
    """value_portfolio on a synthetic book with and without the comparables, one after the other, same process."""
    from ipvalue.valuation._synthetic import synthetic_portfolio

    book = synthetic_portfolio(n_patents, seed=7, as_of=str(AS_OF))
    book["cpc"] = codes(n_patents, np.random.default_rng(8))
    a = {"draws": draws}
    out: dict[str, float] = {"n": n_patents, "draws": draws}
    for name, kw in (("without", {}), ("with", {"comparables": comps})):
        gc.collect()
        t0 = time.perf_counter()
        c0 = time.process_time()
        res = iv.value_portfolio(book, a, as_of=AS_OF, rng=0, **kw)
        out[f"{name}_secs"] = time.perf_counter() - t0
        out[f"{name}_cpu"] = time.process_time() - c0
        if name == "with":
            out["weighed"] = float(res["methods_used"].str.contains("market").sum())
            out["market_values"] = float(res["value_market"].notna().sum())
        del res
        gc.collect()
        tracemalloc.start()
        iv.value_portfolio(book, a, as_of=AS_OF, rng=0, **kw)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        out[f"{name}_peak_mib"] = peak / 2**20
    return out


def main(quick: bool = False) -> str:
    n_comp = 1_000 if quick else 10_000
    sizes = [1_000, 10_000] if quick else [10_000, 100_000]
    comps = comparables(n_comp)
    rows = [measure(n, comps) for n in sizes]
    lines = [
        "## Market approach: market_approach",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores (shared), Python {platform.python_version()}. "
        f"{n_comp:,} synthetic comparables (30% royalty), patents and comparables over 600 IPC subclasses (Zipf) "
        f"x 59 main groups, as_of {AS_OF}. Peak = tracemalloc peak of a second identical call (Python and numpy "
        "allocations, inputs excluded).",
        "",
        "| patents | comparables | seconds | patents / s | pairs kept | valued | peak MiB | dense matrix MiB (8 B/cell) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        dense = r["n"] * n_comp * 8 / 2**20
        lines.append(
            f"| {r['n']:,} | {n_comp:,} | {r['secs']:.2f} | {r['n'] / r['secs']:,.0f} | {r['pairs']:,} | "
            f"{r['valued']:,} | {r['peak_mib']:.0f} | {dense:,.0f} |"
        )
    a, b = rows
    lines += [
        "",
        f"Reference in the same run: {a['n']:,} patents at {a['n'] / a['secs']:,.0f} patents/s against "
        f"{b['n']:,} at {b['n'] / b['secs']:,.0f} patents/s (ratio {(b['n'] / b['secs']) / (a['n'] / a['secs']):.2f}; "
        "near 1 means time grows with patents, not with patents x comparables). A dense patents x comparables "
        f"float matrix of the large case would take {b['n'] * n_comp * 8 / 2**20:,.0f} MiB for a single factor.",
        "",
    ]
    n_book = 10_000 if quick else 100_000
    draws = 100 if quick else 1_000
    pf = measure_portfolio(n_book, comps, draws)
    lines += [
        "## Market approach inside value_portfolio (issue #14, phase B)",
        "",
        f"`value_portfolio` on the synthetic book (`ipvalue.valuation._synthetic.synthetic_portfolio`, {n_book:,} "
        f"patents, codes redrawn over the same 600 subclasses) with {draws:,} Monte Carlo draws, without and with "
        f"the {n_comp:,} comparables above, one pass, one after the other in the same process. Seconds = wall "
        "clock of an untraced call (CPU seconds in brackets); peak = tracemalloc peak of a second identical call.",
        "",
        "| run | patents | draws | wall s (CPU s) | patents / CPU s | peak MiB | market values | market weighed |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        f"| without comparables | {n_book:,} | {draws:,} | {pf['without_secs']:.1f} ({pf['without_cpu']:.1f}) | "
        f"{n_book / pf['without_cpu']:,.0f} | {pf['without_peak_mib']:.0f} | 0 | 0 |",
        f"| with {n_comp:,} comparables | {n_book:,} | {draws:,} | {pf['with_secs']:.1f} ({pf['with_cpu']:.1f}) | "
        f"{n_book / pf['with_cpu']:,.0f} | {pf['with_peak_mib']:.0f} | {pf['market_values']:,.0f} | "
        f"{pf['weighed']:,.0f} |",
        "",
        f"The market approach adds {pf['with_cpu'] - pf['without_cpu']:.1f} CPU s "
        f"({(pf['with_cpu'] / pf['without_cpu'] - 1) * 100:.0f}%) and "
        f"{pf['with_peak_mib'] - pf['without_peak_mib']:.0f} MiB of peak to the valuation of the book (selection, "
        "factors, the market draws of the weighed patents). CPU seconds are the measure on the shared machine: the "
        "wall clock follows the other sessions' load.",
        "",
    ]
    text = "\n".join(lines)
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    (out / "market.md").write_text(text, encoding="utf-8")
    return text


def portfolio_only(draws: int = 1_000, n_book: int = 100_000) -> str:
    """Only the ``value_portfolio`` rows (without / with comparables), for a before/after run on two checkouts."""
    pf = measure_portfolio(n_book, comparables(10_000), draws)
    return "\n".join(
        f"{name} comparables: {n_book:,} patents x {draws:,} draws, wall {pf[f'{name}_secs']:.1f} s, "
        f"CPU {pf[f'{name}_cpu']:.1f} s, peak {pf[f'{name}_peak_mib']:.0f} MiB"
        for name in ("without", "with")
    )


if __name__ == "__main__":
    if "--portfolio" in sys.argv:
        print(portfolio_only())
    else:
        print(main(quick="--quick" in sys.argv))
