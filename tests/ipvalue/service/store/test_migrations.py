"""Versioned migrations: the previous release's database upgraded in place with every record kept."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from _records import audit, record

from ipvalue.service.store import SQLiteAssessmentStore
from ipvalue.service.store.audit import AuditSigner, verify_audit
from ipvalue.service.store.migrations import BACKENDS, latest_version, migrations, split_sqlite_script
from ipvalue.service.store.postgres import PostgresAssessmentStore
from ipvalue.service.store.protocol import SchemaVersionError

FIXTURES = Path(__file__).parent / "fixtures"
FIXTURE = FIXTURES / "release_schema1.sql"
#: the audit key the schema-2 fixture was signed with (a test key, nothing else uses it)
FIXTURE_KEY = bytes.fromhex("5e" * 32)


def test_both_backends_have_the_same_numbered_migrations():
    versions = {b: [m.version for m in migrations(b)] for b in BACKENDS}
    assert versions["sqlite"] == versions["postgres"] == list(range(1, latest_version() + 1))
    assert [m.name for m in migrations("sqlite")] == [m.name for m in migrations("postgres")]


def test_sqlite_scripts_split_into_whole_statements():
    parts = split_sqlite_script(migrations("sqlite")[0].sql)
    assert all(sqlite3.complete_statement(p + ";" if not p.endswith(";") else p) for p in parts)
    assert any(p.startswith("CREATE TRIGGER") and p.rstrip().endswith("END;") for p in parts)
    with pytest.raises(ValueError, match="incomplete"):
        split_sqlite_script("CREATE TABLE x (a INTEGER")


def test_the_previous_release_database_is_upgraded_keeping_every_record(tmp_path):
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as c:  # the file as the previous release left it
        c.executescript(FIXTURE.read_text(encoding="utf-8"))
        before = {
            t: c.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall()
            for t in ("assessments", "audit_log", "artifacts")
        }
    old = SQLiteAssessmentStore(path, migrate=False)
    try:
        assert old.schema_version() == 1
        with pytest.raises(SchemaVersionError, match="ipvalue store migrate"):
            old.check_schema()
        # version 1 is adopted (recorded: the file has its tables), then 2... are applied
        assert old.migrate() == list(range(2, latest_version() + 1))
        assert old.migrate() == []  # applied once
    finally:
        old.close()
    s = SQLiteAssessmentStore(path)
    try:
        assert s.check_schema() == latest_version()
        with sqlite3.connect(path) as c:
            for table, rows in before.items():
                width = len(rows[0])
                after = [r[:width] for r in c.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()]
                assert after == rows, table
        assert s.count() == 4 and s.verify_audit_chain() == 5
        done = s.get("asm_" + f"{1:032x}")
        assert done.output == {"summary": {"collateral_value": 1000.0}} and done.artifacts == bytes(
            [1, 0, 255]
        )
        assert s.get_artifact(done.id, "report.zh.html") == "<html>报告</html>".encode()
        # the old queued and running jobs are jobs under the new scheme: claimed once each
        claimed = {s.claim_job("w", 30).id, s.claim_job("w", 30).id}
        assert claimed == {"asm_" + f"{3:032x}", "asm_" + f"{4:032x}"} and s.claim_job("w", 30) is None
        rec = record()
        s.create(rec, audit(rec))
        assert s.verify_audit_chain() == 6  # the chain continues from the old head
    finally:
        s.close()


def test_postgres_upgrades_version_by_version_keeping_every_record(pg_url):
    s = PostgresAssessmentStore(pg_url, check=False)
    try:
        assert s.schema_version() == 0
        assert s.migrate(target=1) == [1]
        with pytest.raises(SchemaVersionError):
            s.check_schema()
        recs = [record(), record(status="queued"), record(idem="i")]
        for r in recs:
            s.create(r, audit(r))  # the first schema's columns only
        assert s.migrate() == list(range(2, latest_version() + 1)) and s.migrate() == []
    finally:
        s.close()
    with pytest.raises(SchemaVersionError):
        PostgresAssessmentStore(pg_url.rsplit("/", 1)[0] + "/postgres")  # an empty database is refused
    s = PostgresAssessmentStore(pg_url)
    try:
        assert sorted(s.list_ids()) == sorted(r.id for r in recs) and s.verify_audit_chain() == 3
        assert s.get(recs[0].id).output == recs[0].output
        assert s.claim_job("w", 30).id == recs[1].id
    finally:
        s.close()


def test_the_signed_lease_schema_of_the_release_before_is_adopted_as_version_2(tmp_path):
    path = tmp_path / "old2.db"
    with sqlite3.connect(path) as c:
        c.executescript((FIXTURES / "release_schema2.sql").read_text(encoding="utf-8"))
    anchor = tmp_path / "anchor.jsonl"
    anchor.write_bytes((FIXTURES / "release_schema2.anchor.jsonl").read_bytes())
    signer = AuditSigner(FIXTURE_KEY, anchor, every=2)
    old = SQLiteAssessmentStore(path, migrate=False)
    try:
        assert old.schema_version() == 2
        assert old.migrate() == list(range(3, latest_version() + 1))  # 1 and 2 adopted, not re-run
    finally:
        old.close()
    s = SQLiteAssessmentStore(path, signer=signer)
    try:
        verdict = verify_audit(s.raw_audit_rows(), s.finished_records(), signer)
        assert verdict.ok and (verdict.entries, verdict.checkpoints, verdict.records) == (5, 2, 3), (
            verdict.problems
        )
        assert s.count() == 4
        lapsed = s.claim_job("new-runner", 30)  # the old runner's lapsed lease is taken over
        assert lapsed.id == "asm_" + f"{5:032x}" and lapsed.attempts == 2 and s.claim_job("x", 30) is None
    finally:
        s.close()
