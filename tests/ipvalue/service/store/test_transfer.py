"""Export and import: SQLite to PostgreSQL gives the same records and the same audit chain; damage is refused."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass

import pytest
from _records import audit, record

from ipvalue.cli import main
from ipvalue.service.store import AuditEntry, SQLiteAssessmentStore
from ipvalue.service.store.audit import AuditSigner
from ipvalue.service.store.migrations import latest_version
from ipvalue.service.store.postgres import PostgresAssessmentStore
from ipvalue.service.store.transfer import TransferError, export_store, import_store


def fill(store) -> None:
    """Every kind of row: finished and queued records, artifacts, a chain, webhooks, alerts, deliveries."""
    for i in range(5):
        rec = record(idem=f"i{i}", body={"n": i, "title": "专利 ✓"})
        store.create(rec, audit(rec, note="x" * i))
        store.put_artifact(rec.id, "report.zh.html", f"<p>{i}</p>".encode())
    job = record(status="queued", kind="valuation")
    store.create(job, audit(job, "job.submit"))
    hook = store.add_webhook("k1", "http://127.0.0.1:9/hook")
    _, deliveries = store.record_alert(
        "k1", rec.id, {"level": "critical"}, AuditEntry(action="monitor.run", who="k1")
    )
    store.claim_deliveries("w", 30)
    store.record_delivery_attempt(
        deliveries[0],
        "w",
        outcome="timeout",
        status_code=None,
        error="timed out",
        duration_ms=5000.5,
        retry_in_s=60,
    )
    store.remove_webhook("k1", hook["id"])


def tables(store) -> dict:
    return {t: list(store.dump_table(t)) for t in store.data_tables()}


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def run_cli(capsys):
    """``ipvalue ...`` in this process (the real entry point, its exit code and its two streams)."""

    def run(*args: str) -> Ran:
        capsys.readouterr()
        with pytest.raises(SystemExit) as exit_:
            main(list(args))
        out, err = capsys.readouterr()
        return Ran(int(exit_.value.code or 0), out, err)

    return run


def test_sqlite_export_imported_into_postgres_gives_the_same_records_and_chain(tmp_path, pg_url, run_cli):
    key, anchor = tmp_path / "audit.key", tmp_path / "anchor.jsonl"
    signer = AuditSigner.from_key_file(key, anchor, every=2)
    src = SQLiteAssessmentStore(tmp_path / "src.db", signer=signer)
    try:
        fill(src)
        before = tables(src)
        head = src.audit_entries()[-1]["entry_hash"]
    finally:
        src.close()
    out = tmp_path / "export.jsonl"
    r = run_cli("store", "export", "--db", str(tmp_path / "src.db"), "--out", str(out))
    assert r.returncode == 0, r.stderr
    r = run_cli("store", "import", str(out), "--db", pg_url)  # an empty database: migrated, loaded, verified
    assert r.returncode == 0, r.stderr
    assert "audit chain verifies (7 entries)" in r.stdout
    # the same trail: chain, signatures and the checkpoints written while SQLite held it
    r = run_cli(
        "audit", "verify", "--db", pg_url, "--audit-key-file", str(key), "--audit-anchor", str(anchor)
    )
    assert r.returncode == 0 and "7 audit entries, 3 checkpoints, 5 finished records" in r.stdout, r.stderr
    dst = PostgresAssessmentStore(pg_url, signer=signer)
    try:
        assert tables(dst) == before  # every column of every row, byte for byte
        assert all(row["signature"].startswith("hmac-sha256:") for row in before["audit_log"])
        assert dst.verify_audit_chain() == 7 and dst.audit_entries()[-1]["entry_hash"] == head
        assert dst.get(dst.list_ids(kind="valuation")[0]).status == "queued"
        rec = record()
        dst.create(rec, audit(rec))  # the chain and the sequences continue after the imported rows
        assert dst.verify_audit_chain() == 8 and dst.audit_entries()[-1]["seq"] == 8
        log = dst.deliveries("k1")
        assert log[0]["attempts_log"][0]["outcome"] == "timeout"
    finally:
        dst.close()
    r = run_cli(
        "audit", "verify", "--db", pg_url, "--audit-key-file", str(key), "--audit-anchor", str(anchor)
    )
    assert r.returncode == 0 and "8 audit entries, 4 checkpoints" in r.stdout, r.stderr


def test_postgres_round_trips_back_to_sqlite(tmp_path, pg_url):
    src = PostgresAssessmentStore(pg_url, migrate=True)
    try:
        fill(src)
        buf = io.BytesIO()
        export_store(src, buf)
        before = tables(src)
    finally:
        src.close()
    (tmp_path / "e.jsonl").write_bytes(buf.getvalue())
    dst = SQLiteAssessmentStore(tmp_path / "dst.db")
    try:
        result = import_store(dst, tmp_path / "e.jsonl")
        assert result["audit_entries"] == 7 and tables(dst) == before
        with pytest.raises(TransferError, match="already holds data"):
            import_store(dst, tmp_path / "e.jsonl")
    finally:
        dst.close()


def test_a_damaged_or_truncated_export_is_refused_before_anything_is_written(tmp_path, run_cli):
    src = SQLiteAssessmentStore(tmp_path / "src.db")
    try:
        fill(src)
        buf = io.BytesIO()
        export_store(src, buf)
    finally:
        src.close()
    lines = buf.getvalue().splitlines(keepends=True)
    edited = [lines[0], lines[1].replace(b'"k1"', b'"k9"'), *lines[2:]]
    cases = {
        "checksum mismatch": b"".join(edited),
        "truncated": b"".join(lines[:-3]),
        "not an ipvalue store export": b'{"hello": 1}\n',
    }
    for message, data in cases.items():
        (tmp_path / "bad.jsonl").write_bytes(data)
        dst = SQLiteAssessmentStore(tmp_path / f"dst-{len(data)}.db")
        try:
            with pytest.raises(TransferError, match=message):
                import_store(dst, tmp_path / "bad.jsonl")
            assert dst.is_empty()
        finally:
            dst.close()
    header = json.loads(lines[0])
    assert header["format"] == "ipvalue-store" and header["backend"] == "sqlite"
    r = run_cli("store", "import", str(tmp_path / "bad.jsonl"), "--db", str(tmp_path / "new.db"))
    assert r.returncode == 2 and r.stderr.startswith("error:") and "Traceback" not in r.stderr


def test_store_commands(tmp_path, run_cli):
    db = tmp_path / "s.db"
    r = run_cli("store", "version", "--db", str(db))
    assert r.returncode == 2 and "no database" in r.stderr
    r = run_cli("store", "migrate", "--db", str(db), "--to", "1")
    assert r.returncode == 2  # the file does not exist yet: migrate never creates one by accident
    SQLiteAssessmentStore(db).close()
    r = run_cli("store", "version", "--db", str(db))
    assert r.returncode == 0 and r.stdout.startswith(f"schema version {latest_version('sqlite')}")
    r = run_cli("store", "migrate", "--db", str(db))
    assert r.returncode == 0 and "applied: none" in r.stdout
