"""Benchmark: scoring synthetic portfolios with ipvalue.quality.score_quality (throughput and peak memory).

Run as a script: ``python benchmarks/bench_quality.py [--quick]`` prints the Markdown section and writes it to
``benchmarks/results/quality.md``. The reference measured in the same run is a plain numpy weighted sum over the
same number of patents and leaves (the floor any scorer must pay), so the ratio is comparable across machines.
"""

from __future__ import annotations

import datetime as dt
import gc
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

AS_OF = dt.date(2025, 6, 30)


def synthetic_portfolio(n: int, seed: int = 0) -> pd.DataFrame:
    """A portfolio frame with the read_portfolio dtypes and realistic variety (built vectorised)."""
    rng = np.random.default_rng(seed)
    letters = np.array(list("ABCDEFGH"))
    subclasses = np.array(
        [f"{letters[i % 8]}{10 + (i * 7) % 90:02d}{chr(65 + (i * 11) % 26)}" for i in range(600)],
        dtype=object,
    )
    sub = subclasses[rng.zipf(1.6, n) % 600]
    sub2 = subclasses[rng.integers(0, 600, n)]
    two = rng.random(n) < 0.4
    cpc = pd.Series(sub + "1/00", dtype=object)
    cpc[two] = cpc[two] + ";" + pd.Series(sub2[two] + "5/02", index=cpc.index[two])
    fam_pool = np.array(["CN", "CN;US", "CN;US;EP", "CN;WO", "CN;US;EP;JP;KR", "CN;JP", "CN;EP;DE", "CN;TW"])
    fam_idx = rng.choice(len(fam_pool), n, p=[0.45, 0.15, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05])
    family = pd.Series(fam_pool[fam_idx], dtype=object)
    family[rng.random(n) < 0.1] = None
    filing = np.datetime64("2000-01-01") + rng.integers(0, 365 * 25, n).astype("timedelta64[D]")
    ptype = np.array(["invention", "utility_model", "design"], dtype=object)[
        rng.choice(3, n, p=[0.6, 0.3, 0.1])
    ]
    status = np.array(["granted", "pending", "lapsed", "expired"], dtype=object)[
        rng.choice(4, n, p=[0.7, 0.1, 0.15, 0.05])
    ]
    claims = rng.integers(1, 40, n)
    ids = pd.Index(
        np.char.add("CN", np.arange(10**8, 10**8 + n).astype(str)).astype(object), name="patent_id"
    )

    def counts(x: np.ndarray, p_missing: float) -> pd.arrays.IntegerArray:
        return pd.array(np.where(rng.random(n) < p_missing, None, x), dtype="Int64")

    df = pd.DataFrame(
        {
            "patent_id": ids,
            "jurisdiction": "CN",
            "patent_type": ptype,
            "legal_status": status,
            "filing_date": filing.astype("datetime64[ns]"),
            "fees_paid_through": (filing + rng.integers(365, 365 * 22, n).astype("timedelta64[D]")).astype(
                "datetime64[ns]"
            ),
            "claims": counts(claims, 0.05),
            "independent_claims": counts(np.minimum(claims, rng.integers(1, 5, n)), 0.05),
            "forward_citations": counts(rng.negative_binomial(1, 0.2, n), 0.05),
            "backward_citations": counts(rng.poisson(10, n), 0.05),
            "family_size": counts(rng.integers(1, 12, n), 0.2),
            "family_jurisdictions": family,
            "cpc": cpc,
            "invalidation_pending": rng.random(n) < 0.02,
            "in_litigation": rng.random(n) < 0.03,
            "licensed": rng.random(n) < 0.1,
            "remaining_life_years": np.where(
                np.isin(status, ["lapsed", "expired"]), 0.0, rng.uniform(0, 20, n)
            ),
        },
        index=ids,
    )
    expert = rng.random(n) < 0.2
    df["expert_advancement"] = np.where(expert, rng.uniform(0, 10, n), np.nan)
    df["expert_market_size"] = np.where(expert, rng.uniform(0, 10, n), np.nan)
    return df


def _reference(n: int, leaves: int, seed: int = 1) -> float:
    rng = np.random.default_rng(seed)
    v = rng.random((n, leaves))
    w = rng.random(leaves)
    w /= w.sum()
    t = time.perf_counter()
    (v @ w).sum()
    return time.perf_counter() - t


def _one(n: int) -> dict[str, float]:
    """Build and score ``n`` patents in this process; peak memory from the resident-set high-water mark."""
    import resource

    from ipvalue.quality import score_quality

    t = time.perf_counter()
    df = synthetic_portfolio(n)
    build = time.perf_counter() - t
    score_quality(df.iloc[:1000], as_of=AS_OF)  # import and first-call costs out of the timing
    gc.collect()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t = time.perf_counter()
    out = score_quality(df, as_of=AS_OF)
    elapsed = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    assert len(out) == n and out.index.equals(df.index)
    return {"n": n, "build": build, "score": elapsed, "rss_before": before, "rss_peak": after}


def run(quick: bool = False) -> str:
    """Score synthetic portfolios and return a Markdown section with the figures."""
    import json
    import subprocess

    from ipvalue.quality import load_tree

    sizes = [10_000, 100_000] if quick else [10_000, 100_000, 1_000_000]
    n_leaves = len(load_tree().leaf_names)
    lines = [
        "## Quality scoring (`ipvalue.quality.score_quality`)",
        "",
        f"Synthetic CN portfolios (600 CPC subclasses, filing years 2000-2024, 10% unknown families, "
        f"5% missing counts, 20% with two expert scores), pledge scenario, {n_leaves} leaves, as_of {AS_OF}. "
        "Each size runs in a fresh process; peak memory is the growth of the resident-set high-water mark "
        "during scoring (input frame already built). Reference: a numpy matrix-vector weighted sum over "
        "patents x leaves of random numbers, in this process.",
        "",
        "| patents | build input (s) | score (s) | patents / s | peak memory added (MiB) | input RSS (MiB) "
        "| reference (s) | score / reference |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n in sizes:
        proc = subprocess.run(
            [sys.executable, __file__, "--one", str(n)], capture_output=True, text=True, check=True
        )
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        ref = _reference(n, n_leaves)
        lines.append(
            f"| {n:,} | {r['build']:.2f} | {r['score']:.2f} | {n / r['score']:,.0f} | "
            f"{r['rss_peak'] - r['rss_before']:,.0f} | {r['rss_before']:,.0f} | {ref:.4f} | "
            f"{r['score'] / ref:,.0f}x |"
        )
    lines += [
        "",
        f"Machine: {sys.platform}, {os.cpu_count()} cores shared with other jobs (load average "
        f"{os.getloadavg()[0]:.1f} at the end), Python {sys.version.split()[0]}, numpy {np.__version__}, "
        f"pandas {pd.__version__}. Figures vary by tens of percent with the load.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    if "--one" in sys.argv:
        import json

        print(json.dumps(_one(int(sys.argv[sys.argv.index("--one") + 1]))))
        sys.exit(0)
    text = run(quick="--quick" in sys.argv)
    print(text)
    out_dir = Path(__file__).resolve().parent / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "quality.md").write_text(text, encoding="utf-8")
