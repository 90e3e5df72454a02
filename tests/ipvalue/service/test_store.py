"""The assessment store: atomic writes, append-only audit log, immutable finished records, idempotency."""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
import time

import pytest

from ipvalue.service.store import (
    AssessmentRecord,
    AssessmentRepository,
    AuditEntry,
    AuditLogError,
    IdempotencyConflict,
    SQLiteAssessmentStore,
    new_record_id,
    sha256_json,
)


def record(status="done", idem=None, body=None, key="k1") -> AssessmentRecord:
    body = body or {"x": 1}
    now = dt.datetime.now(dt.UTC).isoformat()
    out = {"summary": {"v": 2}} if status == "done" else None
    return AssessmentRecord(
        id=new_record_id(),
        kind="assessment",
        status=status,
        progress=1.0 if out else 0.0,
        created_at=now,
        updated_at=now,
        key_id=key,
        input=body,
        output=out,
        error=None,
        input_hash=sha256_json(body),
        output_hash=sha256_json(out) if out else None,
        version="t",
        policy="p",
        seed=1,
        idempotency_key=idem,
        request_hash=sha256_json(body),
    )


def audit(rec, action="assessment.create") -> AuditEntry:
    return AuditEntry(
        action=action,
        who=rec.key_id,
        record_id=rec.id,
        input_hash=rec.input_hash,
        output_hash=rec.output_hash,
        version="t",
        policy="p",
        seed=1,
    )


@pytest.fixture
def store(tmp_path):
    s = SQLiteAssessmentStore(tmp_path / "a.db")
    yield s
    s.close()


def test_is_a_repository(store):
    assert isinstance(store, AssessmentRepository)


def test_round_trip(store):
    rec = record()
    store.create(rec, audit(rec))
    got = store.get(rec.id)
    assert got.input == rec.input and got.output == rec.output and got.output_hash == rec.output_hash
    assert store.audit_entries(rec.id)[0]["action"] == "assessment.create"


def test_audit_log_rejects_update_and_delete(store, tmp_path):
    rec = record()
    store.create(rec, audit(rec))
    with sqlite3.connect(tmp_path / "a.db") as c:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            c.execute("UPDATE audit_log SET who = 'mallory'")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            c.execute("DELETE FROM audit_log")
        with pytest.raises(sqlite3.IntegrityError, match="immutable"):
            c.execute("UPDATE assessments SET output_json = '{}'")
        with pytest.raises(sqlite3.IntegrityError, match="never deleted"):
            c.execute("DELETE FROM assessments")


def test_hash_chain_detects_tampering(store, tmp_path):
    for _ in range(3):
        rec = record()
        store.create(rec, audit(rec))
    assert store.verify_audit_chain() == 3
    with sqlite3.connect(tmp_path / "a.db") as c:  # someone with file access drops the trigger and edits
        c.execute("DROP TRIGGER audit_log_no_update")
        c.execute("UPDATE audit_log SET who = 'mallory' WHERE seq = 2")
    with pytest.raises(AuditLogError, match="entry 2"):
        store.verify_audit_chain()


def test_a_failed_write_leaves_nothing(store, monkeypatch):
    rec = record()

    def boom(conn, entry):
        raise RuntimeError("disk full")

    monkeypatch.setattr(store, "_append_audit", boom)
    with pytest.raises(RuntimeError):
        store.create(rec, audit(rec))
    assert store.get(rec.id) is None and store.count() == 0


def test_idempotency(store):
    a = record(idem="k", body={"a": 1})
    assert store.create(a, audit(a)).id == a.id
    b = record(idem="k", body={"a": 1})
    assert store.create(b, audit(b)).id == a.id  # same body: the first record
    c = record(idem="k", body={"a": 2})
    with pytest.raises(IdempotencyConflict):
        store.create(c, audit(c))
    d = record(idem="k", body={"a": 2}, key="k2")  # another API key has its own key space
    assert store.create(d, audit(d)).id == d.id
    assert store.count() == 2 and len(store.audit_entries()) == 2


def test_job_lifecycle_and_resume(store):
    rec = record(status="queued")
    store.create(rec, audit(rec, "job.submit"))
    assert store.unfinished() == [rec.id]
    held = store.claim_job("runner-a", 60.0)
    assert held.id == rec.id and held.attempts == 1 and held.lease_owner == "runner-a"
    assert store.claim_job("runner-b", 60.0) is None  # held: nobody else takes it
    assert store.renew_lease(rec.id, "runner-a", 60.0, progress=0.5)
    assert not store.renew_lease(rec.id, "runner-b", 60.0)
    assert store.get(rec.id).progress == 0.5
    out = {"summary": {"v": 3}}
    with pytest.raises(KeyError):  # only the holder finishes
        store.finish(
            rec.id, output=out, error=None, audit=audit(rec, "assessment.complete"), owner="runner-b"
        )
    done = store.finish(
        rec.id, output=out, error=None, audit=audit(rec, "assessment.complete"), owner="runner-a"
    )
    assert done.status == "done" and done.output_hash == sha256_json(out)
    assert store.unfinished() == []
    with pytest.raises(KeyError):  # finished is final
        store.finish(rec.id, output=out, error=None, audit=audit(rec, "assessment.complete"))
    assert [e["action"] for e in store.audit_entries(rec.id)] == ["job.submit", "assessment.complete"]


def test_threads_share_the_file_not_connections(store):
    errors = []

    def work(i):
        try:
            for _ in range(20):
                r = record()
                store.create(r, audit(r))
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    ts = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors
    assert store.count() == 160 and store.verify_audit_chain() == 160


def test_reopen_keeps_everything(tmp_path):
    s = SQLiteAssessmentStore(tmp_path / "b.db")
    rec = record()
    s.create(rec, audit(rec))
    s.close()
    s2 = SQLiteAssessmentStore(tmp_path / "b.db")
    try:
        assert s2.get(rec.id).output == rec.output and s2.verify_audit_chain() == 1
    finally:
        s2.close()


def test_memory_path_refused():
    with pytest.raises(ValueError):
        SQLiteAssessmentStore(":memory:")


def test_artifacts_first_wins(store):
    rec = record()
    store.create(rec, audit(rec))
    assert store.get_artifact(rec.id, "report.zh.html") is None
    store.put_artifact(rec.id, "report.zh.html", b"one")
    store.put_artifact(rec.id, "report.zh.html", b"two")
    assert store.get_artifact(rec.id, "report.zh.html") == b"one"


def test_new_database_is_private(tmp_path):
    s = SQLiteAssessmentStore(tmp_path / "p.db")
    try:
        rec = record()
        s.create(rec, audit(rec))
        for f in tmp_path.glob("p.db*"):
            assert f.stat().st_mode & 0o077 == 0, f
    finally:
        s.close()


def test_a_lapsed_lease_is_taken_over_and_attempts_counted(store):
    rec = record(status="queued")
    store.create(rec, audit(rec, "job.submit"))
    assert store.claim_job("dead-process", 0.01).attempts == 1
    time.sleep(0.05)  # the lease lapses: the holder stopped renewing it
    again = store.claim_job("runner-b", 60.0)
    assert again.id == rec.id and again.attempts == 2 and again.lease_owner == "runner-b"
    assert not store.renew_lease(rec.id, "dead-process", 60.0)
