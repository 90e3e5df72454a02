"""What only the PostgreSQL store does: the service's role is refused changes to history by privileges too."""

from __future__ import annotations

import psycopg
import pytest
from _pg import free_port
from _records import audit, record

from ipvalue.service.store.postgres import PostgresAssessmentStore, is_postgres_url, redact_url


def test_urls():
    assert is_postgres_url("postgresql://u:p@h/db") and is_postgres_url("postgres://h/db")
    assert not is_postgres_url("ipvalue.db") and not is_postgres_url(None)
    assert redact_url("postgresql://svc:s3cret@127.0.0.1:5432/x") == "postgresql://svc:***@127.0.0.1:5432/x"
    with pytest.raises(ValueError, match="not a PostgreSQL URL"):
        PostgresAssessmentStore("sqlite:///x.db")


def test_the_service_role_may_only_insert_and_read_the_audit_log(pg_cluster, pg_url):
    owner = PostgresAssessmentStore(pg_url, migrate=True)
    role = "svc_" + pg_url.rsplit("_", 1)[1]
    pg_cluster.create_role(role, "role-pw")
    owner.grant_service_role(role)
    dbname = pg_url.rsplit("/", 1)[1]
    svc_url = pg_cluster.url(dbname, user=role, password="role-pw")
    svc = PostgresAssessmentStore(svc_url)
    try:
        rec = record(status="queued")
        svc.create(rec, audit(rec, "job.submit"))  # the service works under its role
        claim = svc.claim_job("w", 30)
        svc.finish(claim.id, output={"v": 1}, error=None, audit=audit(rec, "assessment.complete"), owner="w")
        assert svc.verify_audit_chain() == 2
        with psycopg.connect(svc_url, autocommit=True) as c:
            for sql in (
                "UPDATE audit_log SET who = 'x'",
                "DELETE FROM audit_log",
                "TRUNCATE audit_log",
                "DELETE FROM assessments",
                "DROP TABLE audit_log",
                "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update",
            ):
                with pytest.raises((psycopg.errors.InsufficientPrivilege,)):
                    c.execute(sql)
        with psycopg.connect(pg_url, autocommit=True) as c:  # the owner is stopped by the triggers
            with pytest.raises(
                psycopg.errors.IntegrityConstraintViolation, match="never truncated|append-only"
            ):
                c.execute("TRUNCATE audit_log CASCADE")
        assert svc.verify_audit_chain() == 2
    finally:
        svc.close()
        owner.close()


def test_health_reports_an_unreachable_server():
    s = PostgresAssessmentStore(f"postgresql://nobody:x@127.0.0.1:{free_port()}/none", check=False)
    try:
        h = s.health()
        assert h["reachable"] is False and h["schema_version"] is None and h["backend"] == "postgresql"
    finally:
        s.close()
