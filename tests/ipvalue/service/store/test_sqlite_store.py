"""What only the embedded SQLite store does (the rest of the store is the contract suite, both backends):
a file that keeps everything when reopened, no in-memory database, a database file only its owner can read."""

from __future__ import annotations

import pytest
from _records import audit, record

from ipvalue.service.store import SQLiteAssessmentStore


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


def test_new_database_is_private(tmp_path):
    s = SQLiteAssessmentStore(tmp_path / "p.db")
    try:
        rec = record()
        s.create(rec, audit(rec))
        files = list(tmp_path.glob("p.db*"))
        assert files
        for f in files:
            assert f.stat().st_mode & 0o077 == 0, f
    finally:
        s.close()
