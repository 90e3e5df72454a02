"""Two instances of two workers each on one PostgreSQL: a mixed load, then a kill -9 of one instance mid-burst.

A modest size for CI; ``benchmarks/bench_store.py`` runs the full 1,000 requests and records the figures.
"""

from __future__ import annotations

import pytest
from _load import Instance, check_records, run_load, wait_jobs_finished, write_keys

from ipvalue.service.cli import verify_database
from ipvalue.service.store.postgres import PostgresAssessmentStore


@pytest.mark.slow
def test_two_instances_lose_nothing_duplicate_nothing_and_survive_a_kill(pg_url, tmp_path):
    PostgresAssessmentStore(pg_url, migrate=True).close()
    secret, keys = write_keys(tmp_path)
    audit_key = tmp_path / "audit.key"
    a = Instance(pg_url, keys, audit_key, 2, tmp_path / "a.log").start()
    b = Instance(pg_url, keys, audit_key, 2, tmp_path / "b.log").start()
    store = PostgresAssessmentStore(pg_url)
    try:
        calm = run_load([a.url, b.url], secret, n=80, concurrency=16)
        assert calm.errors == [], calm.errors[:5]
        assert calm.pairs and all(x == y for x, y in calm.pairs)  # one key to both instances: one record
        burst = run_load([a.url, b.url], secret, n=60, concurrency=16, kill_at=20, kill=a.kill)
        assert burst.errors == [], burst.errors[:5]
        assert wait_jobs_finished(store, timeout=90) == []  # a's jobs finished by b once their leases ran out
        for res in (calm, burst):
            counts = check_records(store, res)
            assert counts["missing"] == 0 and counts["pairs_split"] == 0, counts
        total = check_records(store, type(calm)(acknowledged={**calm.acknowledged, **burst.acknowledged}))
        assert total["duplicated"] == 0, total
        statuses = {store.get(i).status for i in calm.jobs | burst.jobs}
        assert statuses == {"done"}
    finally:
        store.close()
        a.stop()
        b.stop()
    code, lines = verify_database(pg_url, audit_key, audit_key.with_name(audit_key.name + ".anchor.jsonl"))
    assert code == 0, lines
