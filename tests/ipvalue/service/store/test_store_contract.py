"""The store contract: one suite, run against SQLite and against a real PostgreSQL server (nothing mocked)."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest
from _records import audit, record

from ipvalue.service.store import (
    AssessmentRepository,
    AuditEntry,
    AuditLogError,
    IdempotencyConflict,
    sha256_json,
)
from ipvalue.service.store.migrations import latest_version
from ipvalue.service.store.protocol import AlertOutbox, LeaseLost


def raw_sql(store, sql: str) -> None:
    """Run one statement on the store's database through a connection of its own (as an operator would)."""
    if store.backend == "sqlite":
        with sqlite3.connect(store.path) as c:
            c.execute(sql)
    else:
        import psycopg

        with psycopg.connect(store.url, autocommit=True) as c:
            c.execute(sql)


def refused(store):
    import psycopg

    return (sqlite3.IntegrityError, psycopg.errors.IntegrityConstraintViolation)


def test_is_a_repository_at_the_current_schema(make_store):
    s = make_store()
    assert isinstance(s, AssessmentRepository) and isinstance(s, AlertOutbox)
    assert s.schema_version() == latest_version() == latest_version("postgres")
    h = s.health()
    assert h["reachable"] is True and h["schema_version"] == latest_version() and h["backend"] == s.backend


def test_round_trip(make_store):
    s = make_store()
    rec = record()
    s.create(rec, audit(rec))
    got = s.get(rec.id)
    assert got.input == rec.input and got.output == rec.output and got.output_hash == rec.output_hash
    assert got.artifacts == rec.artifacts and got.seed == 1 and got.status == "done"
    assert s.get("asm_missing") is None
    assert s.audit_entries(rec.id)[0]["action"] == "assessment.create"
    assert s.count() == 1 and s.count("valuation") == 0 and s.list_ids(kind="assessment") == [rec.id]


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("UPDATE audit_log SET who = 'mallory'", "append-only"),
        ("DELETE FROM audit_log", "append-only"),
        ("UPDATE assessments SET output_json = '{}'", "immutable"),
        ("DELETE FROM assessments", "never deleted"),
    ],
)
def test_the_database_refuses_changes_to_history(make_store, sql, message):
    s = make_store()
    rec = record()
    s.create(rec, audit(rec))
    with pytest.raises(refused(s), match=message):
        raw_sql(s, sql)
    assert s.verify_audit_chain() == 1 and s.get(rec.id).output == rec.output


def test_hash_chain_detects_tampering(make_store):
    s = make_store()
    for _ in range(3):
        rec = record()
        s.create(rec, audit(rec))
    assert s.verify_audit_chain() == 3
    # an operator with owner rights switches the trigger off and edits an entry
    if s.backend == "sqlite":
        raw_sql(s, "DROP TRIGGER audit_log_no_update")
    else:
        raw_sql(s, "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update")
    raw_sql(s, "UPDATE audit_log SET who = 'mallory' WHERE seq = 2")
    with pytest.raises(AuditLogError, match="entry 2"):
        s.verify_audit_chain()


def test_a_failed_write_leaves_nothing(make_store, monkeypatch):
    s = make_store()
    rec = record()

    def boom(conn, entry):
        raise RuntimeError("disk full")

    monkeypatch.setattr(s, "_append_audit", boom)
    with pytest.raises(RuntimeError):
        s.create(rec, audit(rec))
    monkeypatch.undo()
    assert s.get(rec.id) is None and s.count() == 0 and s.audit_entries() == []


def test_idempotency(make_store):
    s = make_store()
    a = record(idem="k", body={"a": 1})
    assert s.create(a, audit(a)).id == a.id
    b = record(idem="k", body={"a": 1})
    assert s.create(b, audit(b)).id == a.id  # same body: the first record
    c = record(idem="k", body={"a": 2})
    with pytest.raises(IdempotencyConflict):
        s.create(c, audit(c))
    d = record(idem="k", body={"a": 2}, key="k2")  # another API key has its own key space
    assert s.create(d, audit(d)).id == d.id
    assert s.count() == 2 and len(s.audit_entries()) == 2


def test_one_idempotency_key_from_two_stores_at_once_gives_one_record(make_store):
    stores = [make_store(), make_store()]  # two pools / connections, as two instances have
    barrier = threading.Barrier(8)
    ids, errors = [], []

    def go(i):
        try:
            barrier.wait()
            r = record(idem="same", body={"a": 1})
            ids.append(stores[i % 2].create(r, audit(r)).id)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(set(ids)) == 1
    assert stores[0].count() == 1 and len(stores[1].audit_entries()) == 1


def test_concurrent_writers_form_one_chain(make_store):
    stores = [make_store(), make_store()]
    errors = []

    def work(i):
        try:
            for _ in range(15):
                r = record()
                stores[i % 2].create(r, audit(r))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert stores[0].count() == 90 and stores[1].verify_audit_chain() == 90


def test_job_lifecycle(make_store):
    s = make_store()
    rec = record(status="queued")
    s.create(rec, audit(rec, "job.submit"))
    assert s.unfinished() == [rec.id]
    claim = s.claim_job("w1", lease_s=30)
    assert (
        claim.id == rec.id and claim.attempts == 1 and claim.status == "running" and claim.lease_owner == "w1"
    )
    assert s.claim_job("w2", lease_s=30) is None  # held by w1
    assert s.renew_lease(rec.id, "w1", 30, progress=0.5) and not s.renew_lease(rec.id, "w2", 30)
    assert s.get(rec.id).progress == 0.5
    out = {"summary": {"v": 3}}
    with pytest.raises(LeaseLost):  # only the holder finishes
        s.finish(rec.id, output=out, error=None, audit=audit(rec, "assessment.complete"), owner="w2")
    done = s.finish(rec.id, output=out, error=None, audit=audit(rec, "assessment.complete"), owner="w1")
    assert done.status == "done" and done.output_hash == sha256_json(out)
    assert s.unfinished() == [] and s.claim_job("w2", 30) is None
    with pytest.raises(KeyError):  # finished is final
        s.finish(rec.id, output=out, error=None, audit=audit(rec, "assessment.complete"))
    assert [e["action"] for e in s.audit_entries(rec.id)] == ["job.submit", "assessment.complete"]


def test_a_job_whose_lease_ran_out_is_taken_over_and_then_given_up(make_store):
    s = make_store()
    rec = record(status="queued")
    s.create(rec, audit(rec, "job.submit"))
    assert s.claim_job("dead-1", lease_s=0.2, max_attempts=2).attempts == 1
    assert s.claim_job("w2", lease_s=0.2, max_attempts=2) is None  # the lease still holds
    time.sleep(0.3)
    second = s.claim_job("dead-2", lease_s=0.2, record_id=rec.id, max_attempts=2)
    assert second.id == rec.id and second.attempts == 2 and second.lease_owner == "dead-2"
    assert not s.renew_lease(rec.id, "dead-1", 30)  # the first worker lost it
    time.sleep(0.3)
    assert s.claim_job("w3", lease_s=5, max_attempts=2) is None  # two attempts died: failed, not retried
    failed = s.get(rec.id)
    assert failed.status == "failed" and failed.error["code"] == "job_abandoned"
    assert [e["action"] for e in s.audit_entries(rec.id)] == ["job.submit", "assessment.fail"]
    assert s.verify_audit_chain() == 2


def test_each_job_is_claimed_once_by_many_workers(make_store):
    stores = [make_store(), make_store()]
    jobs = []
    for _ in range(30):
        r = record(status="queued")
        stores[0].create(r, audit(r, "job.submit"))
        jobs.append(r.id)
    claimed, errors = [], []
    lock = threading.Lock()

    def worker(i):
        try:
            while (c := stores[i % 2].claim_job(f"w{i}", lease_s=60)) is not None:
                with lock:
                    claimed.append(c.id)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and sorted(claimed) == sorted(jobs)


def test_artifacts_first_wins(make_store):
    s = make_store()
    rec = record()
    s.create(rec, audit(rec))
    assert s.get_artifact(rec.id, "report.zh.html") is None
    s.put_artifact(rec.id, "report.zh.html", b"one")
    s.put_artifact(rec.id, "report.zh.html", b"two")
    assert s.get_artifact(rec.id, "report.zh.html") == b"one"


def test_alert_outbox_and_delivery_log(make_store):
    s = make_store()
    hook = s.add_webhook("k1", "http://127.0.0.1:9/hook")
    assert hook["secret"].startswith("whsec_") and [h["id"] for h in s.webhooks("k1")] == [hook["id"]]
    assert "secret" not in s.webhooks("k1")[0] and s.webhooks("k2") == []
    rec = record()
    s.create(rec, audit(rec))
    entry = AuditEntry(action="monitor.run", who="k1", record_id=rec.id)
    alert_id, deliveries = s.record_alert("k1", rec.id, {"level": "critical"}, entry)
    assert len(deliveries) == 1 and s.audit_entries(rec.id)[-1]["action"] == "monitor.run"
    claimed = s.claim_deliveries("w1", lease_s=30)
    assert [d["id"] for d in claimed] == deliveries and claimed[0]["secret"] == hook["secret"]
    assert s.claim_deliveries("w2", lease_s=30) == []  # leased by w1
    s.record_delivery_attempt(
        deliveries[0],
        "w1",
        outcome="http_error",
        status_code=503,
        error="HTTP 503",
        duration_ms=3,
        retry_in_s=0.1,
    )
    assert s.claim_deliveries("w2", lease_s=30) == []  # not due yet
    time.sleep(0.2)
    again = s.claim_deliveries("w2", lease_s=30)
    assert [d["id"] for d in again] == deliveries and again[0]["attempts"] == 1
    s.record_delivery_attempt(
        deliveries[0], "w2", outcome="delivered", status_code=200, error=None, duration_ms=2, retry_in_s=0
    )
    log = s.deliveries("k1")
    assert log[0]["status"] == "delivered" and log[0]["attempts"] == 2
    assert [a["outcome"] for a in log[0]["attempts_log"]] == ["http_error", "delivered"]
    assert s.claim_deliveries("w3", lease_s=30) == [] and s.deliveries("k2") == []
    assert s.remove_webhook("k1", hook["id"]) and not s.remove_webhook("k1", hook["id"])
    _, none = s.record_alert("k1", rec.id, {"level": "warning"}, entry)
    assert none == []  # no active subscription: the alert is kept, nothing to deliver
    with pytest.raises(refused(s), match="append-only"):
        raw_sql(s, "UPDATE webhook_attempts SET outcome = 'delivered'")


def test_an_alert_and_its_outbox_are_one_transaction(make_store, monkeypatch):
    s = make_store()
    s.add_webhook("k1", "http://127.0.0.1:9/hook")

    def boom(conn, entry):
        raise RuntimeError("crash before commit")

    monkeypatch.setattr(s, "_append_audit", boom)
    with pytest.raises(RuntimeError):
        s.record_alert("k1", None, {"level": "critical"}, AuditEntry(action="monitor.run", who="k1"))
    monkeypatch.undo()
    assert s.claim_deliveries("w", 30) == [] and s.deliveries("k1") == []
