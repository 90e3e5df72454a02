"""Server store (issue 20): the same mixed load on SQLite (one process) and on PostgreSQL (two instances x two
workers), in one run, then a kill -9 of one PostgreSQL instance in the middle of a burst.

Load: small assessments and valuations with an Idempotency-Key, portfolios over the job threshold (202, leased
jobs), reads, and one key sent to two instances at once; 16 concurrent clients. Checked after each run: 0
errors, every acknowledged write present, none duplicated, pairs answered with one record, every job finished
(the killed instance's by the other), the audit trail verifies.

Usage: ``python benchmarks/bench_store.py [--quick]`` (prints the Markdown section); ``run(quick)`` for run.py.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "ipvalue" / "service" / "store"))

from _load import Instance, check_records, run_load, wait_jobs_finished, write_keys  # noqa: E402
from _pg import PgCluster, find_pg_bin  # noqa: E402


def _load_avg() -> float:
    return os.getloadavg()[0]


def run(quick: bool = False) -> str:
    from ipvalue.service.cli import verify_database
    from ipvalue.service.store import SQLiteAssessmentStore
    from ipvalue.service.store.postgres import PostgresAssessmentStore

    n = 200 if quick else 1000
    rows = []
    checks = []
    load_before = _load_avg()
    with tempfile.TemporaryDirectory(prefix="ipvalue-bench-store-") as tmp:
        folder = Path(tmp)
        secret, keys = write_keys(folder)

        # SQLite, one process
        sqlite_db = folder / "sqlite" / "service.db"
        sqlite_db.parent.mkdir()
        one = Instance(
            str(sqlite_db), keys, folder / "sqlite" / "audit.key", 1, folder / "sqlite.log"
        ).start()
        try:
            res = run_load([one.url], secret, n=n, concurrency=16)
            store = SQLiteAssessmentStore(sqlite_db)
            left = wait_jobs_finished(store, 300)
            counts = check_records(store, res)
            store.close()
        finally:
            one.stop()
        code, _ = verify_database(sqlite_db, folder / "sqlite" / "audit.key")
        rows.append(("SQLite, 1 process", res, counts, left, code))

        # PostgreSQL, two instances x two workers
        cluster = PgCluster(find_pg_bin()).start()
        try:
            url = cluster.url(cluster.create_database())
            PostgresAssessmentStore(url, migrate=True).close()
            audit_key = folder / "pg-audit.key"
            a = Instance(url, keys, audit_key, 2, folder / "a.log").start()
            b = Instance(url, keys, audit_key, 2, folder / "b.log").start()
            store = PostgresAssessmentStore(url)
            try:
                res = run_load([a.url, b.url], secret, n=n, concurrency=16)
                left = wait_jobs_finished(store, 300)
                rows.append(
                    ("PostgreSQL, 2 instances x 2 workers", res, check_records(store, res), left, None)
                )
                t_kill = time.perf_counter()
                burst = run_load(
                    [a.url, b.url], secret, n=n // 2, concurrency=16, kill_at=n // 5, kill=a.kill
                )
                left = wait_jobs_finished(store, 300)
                takeover = time.perf_counter() - t_kill
                killed = check_records(store, burst)
                total = check_records(
                    store, type(res)(acknowledged={**res.acknowledged, **burst.acknowledged})
                )
            finally:
                store.close()
                a.stop()
                b.stop()
            code, lines = verify_database(
                url, audit_key, audit_key.with_name(audit_key.name + ".anchor.jsonl")
            )
            rows[-1] = (*rows[-1][:4], code)
            checks.append((burst, killed, left, takeover, total, code, lines))
        finally:
            cluster.stop()
    load_after = _load_avg()

    out = [
        "## Server store: SQLite (1 process) and PostgreSQL (2 instances x 2 workers), same mixed load",
        "",
        f"{n} requests per run at 16 concurrent clients over loopback: 40% small assessments (2 patents), 20% "
        "valuations, 20% reads of stored records, 10% assessments over the job threshold (202, leased jobs), 10% "
        "one Idempotency-Key sent to two instances at once (on SQLite both go to the one process). Real "
        "`ipvalue serve` processes and the real pipeline; PostgreSQL 15 from the Debian package, a throwaway "
        "cluster with default durability (fsync on, synchronous_commit on); SQLite synchronous=FULL.",
        "",
        f"Machine load average (1 min) {load_before:.1f} before, {load_after:.1f} after, on 2 cores: every "
        "process of both set-ups shares the same 2 cores with the load generator and PostgreSQL, so the "
        "figure compares the set-ups on this machine, not what four processes do on four hosts.",
        "",
        "| run | requests | wall (s) | requests / s | errors | acknowledged | missing | duplicated | pairs "
        "(one record) | jobs unfinished | audit verify |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name, res, counts, left, code in rows:
        out.append(
            f"| {name} | {res.requests} | {res.seconds:.1f} | {res.rate:.1f} | {len(res.errors)} | "
            f"{counts['acknowledged']} | {counts['missing']} | {counts['duplicated']} | "
            f"{counts['pairs'] - counts['pairs_split']}/{counts['pairs']} | {len(left)} | "
            f"{'ok' if code == 0 else 'FAILED'} |"
        )
    for burst, killed, left, takeover, total, code, _lines in checks:
        out += [
            "",
            f"kill -9 of instance A (its supervisor and both workers) after {n // 5} of {n // 2} requests: "
            f"{burst.requests} requests, {len(burst.errors)} errors, {burst.retried_after_kill} requests A did "
            f"not answer sent again with their Idempotency-Key to B, {killed['acknowledged']} acknowledged writes, "
            f"{killed['missing']} missing; jobs unfinished afterwards: {len(left)} (A's jobs taken over by B when "
            f"their 3 s leases ran out; all finished {takeover:.1f} s after the burst began); records duplicated "
            f"over both runs: {total['duplicated']}; audit trail (chain, signatures, checkpoints, records) "
            f"{'verifies' if code == 0 else 'does NOT verify'}.",
        ]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv))
