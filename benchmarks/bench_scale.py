"""Scale: value_portfolio on the serial, process-pool and Dask backends, from 10k to 10M synthetic patents.

Cases (point values, ``draws=0``, so that the largest books fit the time of one run; the Monte Carlo range scales
the same way, per patent, see ``bench_valuation.py``):

* reference: a naive loop calling ``value_portfolio`` once per patent, against the vectorised pipeline, same run;
* throughput and peak memory of the serial pipeline at 10k, 100k and 1M patents (each in a fresh spawned process,
  so peak RSS is the case's own), and the exponent of cost against size (least squares on log-log);
* serial against a 2-worker ``LocalCluster`` (worker processes, one thread each) at 100k and 1M;
* ``assess_collateral`` (no stress) in one pass against a 2-worker ``LocalCluster`` (100k patents, 10k paths);
* 10M patents through the Dask backend: the partitions are generated inside the workers (``dask.dataframe.from_map``),
  valued there, and only per-partition sums come back, so the 10M rows never sit in one process.

Run ``python benchmarks/bench_scale.py`` (``--quick``: 10k and 100k, no 10M); prints the section and writes
``benchmarks/results/scale.md``.
"""

from __future__ import annotations

import multiprocessing as mp
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # spawned children import this module by name

AS_OF = "2026-06-30"
PART = 250_000  # patents per generated partition in the 10M case


def _book(n: int, seed: int = 0, part: int | None = None):
    """Synthetic book with forward citations; ``part`` makes ids and groups unique to one partition."""
    import pandas as pd

    from ipvalue.valuation._synthetic import synthetic_portfolio

    f = synthetic_portfolio(n, seed=seed, as_of=AS_OF)
    g = np.random.default_rng(seed + 10_000)
    f["forward_citations"] = pd.array(g.poisson(3.0, n), dtype="Int64")
    if part is not None:
        f["patent_id"] = f["patent_id"] + f"-{part:03d}"
        f["group"] = f["group"].where(f["group"].isna(), "p" + str(part) + "-" + f["group"].astype(object))
        f = f.set_index("patent_id", drop=False).rename_axis(index="patent_id")
    return f


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _serial_case(n: int) -> dict:
    import ipvalue as iv

    f = _book(n)
    base = _rss_mib()
    t0 = time.perf_counter()
    out = iv.value_portfolio(f, {"draws": 0}, as_of=AS_OF, rng=1)
    t = time.perf_counter() - t0
    return {
        "n": n,
        "seconds": t,
        "peak_mib": _rss_mib(),
        "input_mib": base,
        "total": float(out["value"].sum()),
    }


def _naive_case(n_loop: int, n_vec: int) -> dict:
    import ipvalue as iv

    f = _book(n_vec)
    f = f[f["group"].isna()]  # a per-patent loop cannot share a group's revenue
    sub = f.iloc[:n_loop]
    t0 = time.perf_counter()
    rows = [iv.value_portfolio(sub.iloc[[i]], {"draws": 0}, as_of=AS_OF, rng=1) for i in range(len(sub))]
    t_loop = time.perf_counter() - t0
    t0 = time.perf_counter()
    vec = iv.value_portfolio(f, {"draws": 0}, as_of=AS_OF, rng=1)
    t_vec = time.perf_counter() - t0
    import pandas as pd

    loop = pd.concat(rows)
    # a one-patent book has one-patent cohorts: citations fall back to the fixed cap, so compare the methods
    # that do not use the quality score (cost) and the count of values
    same = bool(
        np.allclose(loop["value_cost"], vec.loc[loop.index, "value_cost"], rtol=1e-12, equal_nan=True)
    )
    return {"n_loop": len(sub), "t_loop": t_loop, "n_vec": len(f), "t_vec": t_vec, "same_cost": same}


def _cluster_case(sizes: list[int]) -> list[dict]:
    from distributed import Client, LocalCluster

    import ipvalue as iv

    out = []
    t0 = time.perf_counter()
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        t_start = time.perf_counter() - t0
        for n in sizes:
            f = _book(n)
            t0 = time.perf_counter()
            res = iv.value_portfolio(f, {"draws": 0}, as_of=AS_OF, rng=1, client=client, chunk_size=50_000)
            t = time.perf_counter() - t0
            peaks = client.run(_rss_mib)
            out.append(
                {
                    "n": n,
                    "seconds": t,
                    "startup": t_start,
                    "worker_peak_mib": max(peaks.values()),
                    "driver_peak_mib": _rss_mib(),
                    "total": float(res["value"].sum()),
                }
            )
    return out


def _process_case(n: int) -> dict:
    import ipvalue as iv

    f = _book(n)
    t0 = time.perf_counter()
    res = iv.value_portfolio(f, {"draws": 0}, as_of=AS_OF, rng=1, backend="processes", chunk_size=50_000)
    return {"n": n, "seconds": time.perf_counter() - t0, "total": float(res["value"].sum())}


def _collateral_case(n: int, paths: int) -> dict:
    """assess_collateral on an n-patent book: one pass in this process against a 2-worker LocalCluster."""
    from distributed import Client, LocalCluster

    import ipvalue as iv

    f = _book(n)
    valued = iv.value_portfolio(f, {"draws": 0}, as_of=AS_OF, rng=1)
    loan = iv.Loan(
        amount=5e8, currency="CNY", tenor_years=3.0, interest_rate=0.045, probability_of_default=0.03
    )
    t0 = time.perf_counter()
    ref = iv.assess_collateral(valued, loan=loan, paths=paths, stress=False)
    t_serial = time.perf_counter() - t0
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        t0 = time.perf_counter()
        got = iv.assess_collateral(
            valued, loan=loan, paths=paths, stress=False, client=client, chunk_size=25_000
        )
        t_cluster = time.perf_counter() - t0
    keys = [k for k, v in ref.summary.items() if isinstance(v, float) and np.isfinite(v) and v != 0]
    rel = max(abs(got.summary[k] - ref.summary[k]) / abs(ref.summary[k]) for k in keys)
    same = bool(
        (got.patents["collateral_value"].to_numpy() == ref.patents["collateral_value"].to_numpy()).all()
    )
    return {
        "n": n,
        "eligible": int(ref.summary["n_eligible"]),
        "paths": paths,
        "serial": t_serial,
        "cluster": t_cluster,
        "max_rel": rel,
        "same_collateral": same,
    }


def _part_summary(frame):
    import pandas as pd

    v = frame["value"].to_numpy(dtype=float)
    return pd.DataFrame(
        {"n": [len(frame)], "valued": [int(np.isfinite(v).sum())], "value": [float(np.nansum(v))]}
    )


def _ten_million(n: int, part: int = PART) -> dict:
    import cloudpickle
    import dask.dataframe as dd
    import pandas as pd
    from distributed import Client, LocalCluster

    import ipvalue as iv

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers need not import this file
    parts = list(range(n // part))
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        t0 = time.perf_counter()
        ddf = dd.from_map(lambda i: _book(part, seed=i, part=i), parts)
        valued = iv.value_portfolio(ddf, {"draws": 0}, as_of=AS_OF, rng=1, client=client)
        t_tables = time.perf_counter() - t0
        meta = pd.DataFrame({"n": [0], "valued": [0], "value": [0.0]}).iloc[:0]
        summary = valued.map_partitions(_part_summary, meta=meta).compute(scheduler=client)
        t = time.perf_counter() - t0
        peaks = client.run(_rss_mib)
    return {
        "n": int(summary["n"].sum()),
        "valued": int(summary["valued"].sum()),
        "total": float(summary["value"].sum()),
        "seconds": t,
        "tables_seconds": t_tables,
        "partitions": len(parts),
        "part": part,
        "worker_peaks": sorted(peaks.values()),
        "driver_peak_mib": _rss_mib(),
    }


def _child(queue, fn, args):
    queue.put(fn(*args))


def _spawned(fn, *args):
    """``fn(*args)`` in a fresh spawned, non-daemonic process (it may start a LocalCluster's workers)."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(queue, fn, args))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def run(quick: bool = False) -> str:
    sizes = [10_000, 100_000] if quick else [10_000, 100_000, 1_000_000]
    naive = _spawned(_naive_case, 100 if quick else 300, 10_000)
    serial = [_spawned(_serial_case, n) for n in sizes]
    cluster = _spawned(_cluster_case, sizes[1:])
    procs = {r["n"]: r for r in (_spawned(_process_case, n) for n in sizes[1:])}
    big = None if quick else _spawned(_ten_million, 10_000_000)
    coll = _spawned(_collateral_case, 10_000 if quick else 100_000, 2_000 if quick else 10_000)

    ln = np.log([r["n"] for r in serial])
    lt = np.log([r["seconds"] for r in serial])
    slope = float(np.polyfit(ln, lt, 1)[0])
    per_loop = naive["t_loop"] / naive["n_loop"]
    per_vec = naive["t_vec"] / naive["n_vec"]
    lines = [
        "## Scale: backends and portfolio size (`bench_scale.py`)",
        "",
        "Point values (`draws=0`), synthetic CN books with forward citations (`ipvalue/valuation/_synthetic.py`);",
        "every book-level step (cohort caps, group allocation, currency, duplicate check) included.",
        "",
        "### Pipeline against a naive per-patent loop (same run)",
        "",
        "| approach | patents | seconds | patents/s |",
        "|---|---:|---:|---:|",
        f"| naive loop, `value_portfolio` per patent | {naive['n_loop']:,} | {naive['t_loop']:.2f} | "
        f"{1 / per_loop:,.0f} |",
        f"| vectorised pipeline | {naive['n_vec']:,} | {naive['t_vec']:.2f} | {1 / per_vec:,.0f} |",
        "",
        f"Speed-up per patent: **{per_loop / per_vec:,.0f}x**; cost values identical to 1e-12: "
        f"{naive['same_cost']}.",
        "",
        "### Serial pipeline: throughput and peak memory",
        "",
        "| patents | seconds | patents/s | peak RSS (MiB) |",
        "|---:|---:|---:|---:|",
    ]
    for r in serial:
        lines.append(
            f"| {r['n']:,} | {r['seconds']:.2f} | {r['n'] / r['seconds']:,.0f} | {r['peak_mib']:,.0f} |"
        )
    lines += [
        "",
        f"Cost against size: time ~ n^{slope:.2f} (least squares on log time against log n over "
        f"{len(serial)} sizes; 1 is linear).",
        "",
        "### Serial against a 2-worker LocalCluster and a process pool (pandas book in, 50k-patent chunks)",
        "",
        "| patents | serial s | LocalCluster s | speed-up | worker peak RSS (MiB) | process pool s | "
        "same total value (bit for bit) |",
        "|---:|---:|---:|---:|---:|---:|---|",
    ]
    by_n = {r["n"]: r for r in serial}
    for c in cluster:
        s = by_n[c["n"]]
        p = procs[c["n"]]
        lines.append(
            f"| {c['n']:,} | {s['seconds']:.2f} | {c['seconds']:.2f} | {s['seconds'] / c['seconds']:.2f}x | "
            f"{c['worker_peak_mib']:,.0f} | {p['seconds']:.2f} | {c['total'] == s['total'] == p['total']} |"
        )
    if cluster:
        lines.append(f"\nCluster start-up (not in the times above): {cluster[0]['startup']:.1f} s.")
        lines.append(
            "With a pandas book the driver cuts the chunks, ships them, gathers every valued row (with its text "
            "notes), puts them back in order and hashes the input, all in one process; on a shared 2-core machine "
            "that eats most of what the second worker gains. A Dask DataFrame input avoids those steps (next "
            "section)."
        )
    if big is not None:
        lines += [
            "",
            "### 10M patents through the Dask backend",
            "",
            f"{big['partitions']} partitions of {big['part']:,} patents generated inside the workers (`dask.dataframe.from_map`),",
            "valued there; only one summary row per partition comes back. Patents without a value are those no",
            "method applies to (no economics and no R&D cost: noted per patent, as in a single run).",
            "",
            "| patents | with a value | wall s | of which book-level tables s | patents/s | worker peak RSS (MiB) | "
            "driver peak RSS (MiB) |",
            "|---:|---:|---:|---:|---:|---:|---:|",
            f"| {big['n']:,} | {big['valued']:,} | {big['seconds']:.0f} | {big['tables_seconds']:.0f} | "
            f"{big['n'] / big['seconds']:,.0f} | {' / '.join(f'{p:,.0f}' for p in big['worker_peaks'])} | "
            f"{big['driver_peak_mib']:,.0f} |",
            "",
            f"Throughput against the serial run at {serial[-1]['n']:,} patents: "
            f"{(big['n'] / big['seconds']) / (serial[-1]['n'] / serial[-1]['seconds']):.2f}x "
            "(2 workers, book-level tables included).",
        ]
    lines += [
        "",
        "### assess_collateral at scale",
        "",
        f"{coll['n']:,} patents ({coll['eligible']:,} pledge-eligible), {coll['paths']:,} Monte Carlo paths, no stress: "
        f"one pass {coll['serial']:.1f} s, 2-worker LocalCluster (25k-patent chunks) {coll['cluster']:.1f} s "
        f"({coll['serial'] / coll['cluster']:.2f}x); per-patent collateral values identical: {coll['same_collateral']}; "
        f"largest relative difference of a summary figure: {coll['max_rel']:.1e} (sums added chunk by chunk).",
        "The audit hashes (the input and output patent tables rendered as CSV) and gathering the patent table "
        "run in the driver and take about a third of the one-pass time at this size; the Monte Carlo is what "
        "the workers share.",
    ]
    lines += ["", "Machine: shared 2-core VM (other jobs running); wall times are indicative.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    text = run(quick="--quick" in sys.argv)
    print(text)
    out = Path(__file__).resolve().parent / "results" / "scale.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(text, encoding="utf-8")
