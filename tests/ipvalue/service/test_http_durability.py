"""Concurrency, kill -9 and restart, idempotent retries: against real uvicorn processes on loopback."""

from __future__ import annotations

import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from _helpers import assessment_body, directive

from ipvalue.service.store import SQLiteAssessmentStore


def auth(secret: str) -> dict:
    return {"Authorization": f"Bearer {secret}"}


def db_counts(db) -> dict:
    with sqlite3.connect(db) as c:
        return {
            "assessments": c.execute("SELECT COUNT(*) FROM assessments").fetchone()[0],
            "distinct_ids": c.execute("SELECT COUNT(DISTINCT id) FROM assessments").fetchone()[0],
            "creates": c.execute(
                "SELECT COUNT(*) FROM audit_log WHERE action IN "
                "('assessment.create', 'valuation.create', 'job.submit')"
            ).fetchone()[0],
            "integrity": c.execute("PRAGMA integrity_check").fetchone()[0],
            "journal": c.execute("PRAGMA journal_mode").fetchone()[0],
        }


@pytest.mark.slow
def test_concurrent_mixed_load(make_server, keys):
    srv = make_server("--job-threshold", "1000").start()
    n_requests, concurrency = 520, 16
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    with httpx.Client(base_url=srv.url, timeout=60, limits=limits) as client:
        seeded = [
            client.post("/v1/assessments", json=assessment_body(3, seed=s), headers=auth(keys.rw)).json()
            for s in range(4)
        ]
        idem_pool = {f"retry-{k}": assessment_body(2, seed=10_000 + k) for k in range(10)}

        def op(i: int) -> tuple[str, int, str | None, str | None]:
            kind = i % 6
            if kind in (0, 1):  # a new assessment
                r = client.post(
                    "/v1/assessments", json=assessment_body(1 + i % 5, seed=i), headers=auth(keys.rw)
                )
                return "create", r.status_code, r.json().get("id"), None
            if kind == 2:  # a client retrying with an Idempotency-Key
                k = f"retry-{i % 10}"
                r = client.post(
                    "/v1/assessments", json=idem_pool[k], headers={**auth(keys.rw), "Idempotency-Key": k}
                )
                return "idem", r.status_code, r.json().get("id"), k
            if kind == 3:
                target = seeded[i % len(seeded)]
                r = client.get(f"/v1/assessments/{target['id']}", headers=auth(keys.ro))
                ok = r.status_code == 200 and r.json()["output_hash"] == target["output_hash"]
                return "read", r.status_code if ok else 599, None, None
            if kind == 4:
                body = {k: v for k, v in assessment_body(2, seed=i).items() if k != "loan"}
                r = client.post("/v1/valuations", json=body, headers=auth(keys.rw))
                return "create", r.status_code, r.json().get("id"), None
            r = client.get("/v1/policies", headers=auth(keys.ro))
            return "read", r.status_code, None, None

        with ThreadPoolExecutor(concurrency) as pool:
            results = list(pool.map(op, range(n_requests)))

    assert len(results) == n_requests
    bad = [r for r in results if r[1] not in (200, 201)]
    assert not bad, bad[:5]
    created = [r[2] for r in results if r[0] == "create"]
    assert len(set(created)) == len(created)
    idem_ids: dict[str, set] = {}
    for _, _, rid, k in (r for r in results if r[0] == "idem"):
        idem_ids.setdefault(k, set()).add(rid)
    assert all(len(v) == 1 for v in idem_ids.values())  # every retry of a key got the same record
    srv.stop()

    expected = len(seeded) + len(created) + len(idem_ids)
    counts = db_counts(srv.db)
    assert counts["assessments"] == counts["distinct_ids"] == expected
    assert counts["creates"] == expected  # one audit entry per record, none lost, none doubled
    assert counts["integrity"] == "ok" and counts["journal"] == "wal"
    store = SQLiteAssessmentStore(srv.db)
    try:
        for rid in created[:50]:
            assert store.get(rid) is not None
        assert store.verify_audit_chain() == len(store.audit_entries())
    finally:
        store.close()


@pytest.mark.slow
def test_kill_mid_load_and_restart(make_server, keys):
    # a short lease: the job caught mid-run by the kill is taken up again 2 s after the restart
    srv = make_server("--job-threshold", "20", "--set", "job_lease_s=2").start()
    acknowledged: dict[str, str] = {}
    lock = threading.Lock()
    stop = threading.Event()

    with httpx.Client(base_url=srv.url, timeout=30) as client:
        job = client.post(
            "/v1/assessments",
            json=directive(assessment_body(25), f"wait_for={srv.db.parent / 'release-job'}"),
            headers=auth(keys.rw),
        )
        assert job.status_code == 202
        job_id = job.json()["id"]

        def writer(w: int) -> None:
            i = 0
            while not stop.is_set():
                try:
                    r = client.post(
                        "/v1/assessments",
                        json=assessment_body(1 + i % 4, seed=w * 1000 + i),
                        headers=auth(keys.rw),
                    )
                except httpx.TransportError:
                    return
                if r.status_code == 201:
                    with lock:
                        acknowledged[r.json()["id"]] = r.json()["output_hash"]
                i += 1

        threads = [threading.Thread(target=writer, args=(w,)) for w in range(8)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 20
        while len(acknowledged) < 40 and time.monotonic() < deadline:
            time.sleep(0.02)
        srv.kill()  # SIGKILL while writers are mid-request and the job is mid-run
        stop.set()
        for t in threads:
            t.join(10)
    assert len(acknowledged) >= 40

    counts = db_counts(srv.db)
    assert counts["integrity"] == "ok"
    assert counts["assessments"] == counts["creates"]  # no record without its audit entry, nor the reverse
    with sqlite3.connect(srv.db) as c:
        status = c.execute("SELECT status FROM assessments WHERE id = ?", (job_id,)).fetchone()[0]
    assert status in ("queued", "running")  # the job was interrupted by the kill

    (srv.db.parent / "release-job").touch()  # the job may finish once it runs again
    srv.start()  # same database
    with httpx.Client(base_url=srv.url, timeout=30) as client:
        for rid, out_hash in acknowledged.items():
            r = client.get(f"/v1/assessments/{rid}", headers=auth(keys.ro))
            assert r.status_code == 200, rid
            assert r.json()["output_hash"] == out_hash
        for _ in range(600):  # the interrupted job resumes after the restart
            j = client.get(f"/v1/jobs/{job_id}", headers=auth(keys.ro)).json()
            if j["status"] in ("done", "failed"):
                break
            time.sleep(0.05)
        assert j["status"] == "done"
        assert len(client.get(f"/v1/assessments/{job_id}", headers=auth(keys.ro)).json()["patents"]) == 25
    srv.stop()
    store = SQLiteAssessmentStore(srv.db)
    try:
        store.verify_audit_chain()
        actions = [e["action"] for e in store.audit_entries(job_id)]
        assert actions == ["job.submit", "assessment.complete"]
    finally:
        store.close()


@pytest.fixture(scope="module")
def client(server):
    with httpx.Client(base_url=server.url, timeout=30) as c:
        yield c


def test_idempotent_retry_returns_the_same_assessment(client, keys):
    body = assessment_body(3, seed=7)
    h = {**auth(keys.rw), "Idempotency-Key": "loan-123-attempt"}
    first = client.post("/v1/assessments", json=body, headers=h)
    again = client.post("/v1/assessments", json=body, headers=h)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers


def test_idempotency_key_with_another_body_is_409(client, keys):
    h = {**auth(keys.rw), "Idempotency-Key": "loan-456"}
    assert client.post("/v1/assessments", json=assessment_body(3, seed=1), headers=h).status_code == 201
    r = client.post("/v1/assessments", json=assessment_body(3, seed=2), headers=h)
    assert r.status_code == 409 and r.json()["error"]["code"] == "idempotency_conflict"


def test_idempotency_keys_are_per_api_key(client, keys):
    body = assessment_body(2, seed=3)
    a = client.post(
        "/v1/assessments", json=body, headers={**auth(keys.rw), "Idempotency-Key": "shared"}
    ).json()
    b = client.post(
        "/v1/assessments", json=body, headers={**auth(keys.other), "Idempotency-Key": "shared"}
    ).json()
    assert a["id"] != b["id"] and a["output_hash"] == b["output_hash"]


def test_concurrent_retries_make_one_record(client, keys, server):
    body = assessment_body(4, seed=99)
    h = {**auth(keys.rw), "Idempotency-Key": "burst-1"}
    with ThreadPoolExecutor(8) as pool:
        rs = list(pool.map(lambda _: client.post("/v1/assessments", json=body, headers=h), range(8)))
    assert {r.status_code for r in rs} == {201}
    assert len({r.json()["id"] for r in rs}) == 1
    with sqlite3.connect(server.db) as c:
        n = c.execute("SELECT COUNT(*) FROM assessments WHERE idempotency_key = 'burst-1'").fetchone()[0]
    assert n == 1


def test_idempotent_job_submission(client, keys):
    h = {**auth(keys.rw), "Idempotency-Key": "big-1"}
    a = client.post("/v1/assessments", json=assessment_body(30), headers=h)
    b = client.post("/v1/assessments", json=assessment_body(30), headers=h)
    assert a.status_code == 202 and b.status_code in (201, 202)
    assert a.json()["id"] == b.json()["id"]
