"""The embedded store: :class:`SQLiteAssessmentStore`, one SQLite file in WAL mode."""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from ipvalue.service.store.protocol import (
    FINAL_STATUSES,
    AssessmentRecord,
    AuditEntry,
    AuditLogError,
    IdempotencyConflict,
    Status,
    canonical_json,
    result_hash,
    sha256_json,
)

__all__ = ["SQLiteAssessmentStore"]


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


_SCHEMA = """
CREATE TABLE IF NOT EXISTS assessments (
    id              TEXT PRIMARY KEY,
    kind            TEXT NOT NULL CHECK (kind IN ('assessment', 'valuation')),
    status          TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
    progress        REAL NOT NULL DEFAULT 0,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    key_id          TEXT NOT NULL,
    input_json      TEXT NOT NULL,
    output_json     TEXT,
    error_json      TEXT,
    input_hash      TEXT NOT NULL,
    output_hash     TEXT,
    version         TEXT NOT NULL,
    policy          TEXT,
    seed            INTEGER,
    idempotency_key TEXT,
    request_hash    TEXT,
    artifacts       BLOB,
    UNIQUE (key_id, idempotency_key)
);
CREATE INDEX IF NOT EXISTS assessments_status ON assessments (status);

CREATE TABLE IF NOT EXISTS audit_log (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    at           TEXT NOT NULL,
    action       TEXT NOT NULL,
    who          TEXT NOT NULL,
    record_id    TEXT,
    input_hash   TEXT,
    output_hash  TEXT,
    version      TEXT,
    policy       TEXT,
    seed         INTEGER,
    details_json TEXT NOT NULL DEFAULT '{}',
    prev_hash    TEXT NOT NULL,
    entry_hash   TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_log_record ON audit_log (record_id);

CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;

CREATE TRIGGER IF NOT EXISTS assessments_final_no_update BEFORE UPDATE ON assessments
WHEN OLD.status IN ('done', 'failed')
BEGIN SELECT RAISE(ABORT, 'a finished assessment is immutable'); END;
CREATE TRIGGER IF NOT EXISTS assessments_no_delete BEFORE DELETE ON assessments
BEGIN SELECT RAISE(ABORT, 'assessments are never deleted'); END;

CREATE TABLE IF NOT EXISTS artifacts (
    record_id  TEXT NOT NULL REFERENCES assessments (id),
    name       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    data       BLOB NOT NULL,
    PRIMARY KEY (record_id, name)
);

CREATE TABLE IF NOT EXISTS schema_info (name TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT OR IGNORE INTO schema_info (name, value) VALUES ('assessments_schema', '1');
"""

_GENESIS = "sha256:" + "0" * 64
_AUDIT_FIELDS = (
    "at",
    "action",
    "who",
    "record_id",
    "input_hash",
    "output_hash",
    "version",
    "policy",
    "seed",
    "details_json",
    "prev_hash",
)


def _entry_hash(row: dict[str, Any]) -> str:
    return sha256_json({k: row[k] for k in _AUDIT_FIELDS})


class SQLiteAssessmentStore:
    """:class:`AssessmentRepository` on one SQLite file.

    Parameters
    ----------
    path : str or Path
        The database file (created with its directory when missing). ``":memory:"`` is refused because each
        thread has its own connection.
    synchronous : {"FULL", "NORMAL"}
        SQLite ``synchronous`` pragma. ``FULL`` (default) makes each commit durable even across a power cut;
        ``NORMAL`` in WAL mode survives a killed process but may lose the last commits on an OS crash.
    busy_timeout_ms : int
        How long a writer waits for another writer's lock before failing.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        synchronous: Literal["FULL", "NORMAL"] = "FULL",
        busy_timeout_ms: int = 30_000,
    ):
        if str(path) == ":memory:":
            raise ValueError("SQLiteAssessmentStore needs a file path (one connection per thread)")
        if synchronous not in ("FULL", "NORMAL"):
            raise ValueError(f"synchronous must be 'FULL' or 'NORMAL', got {synchronous!r}")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._synchronous = synchronous
        self._busy_timeout_ms = int(busy_timeout_ms)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        self._closed = False
        try:  # loan data: a new file is readable by the service's user only (SQLite gives -wal/-shm its mode)
            os.close(os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        except FileExistsError:
            pass
        self._conn().executescript("BEGIN IMMEDIATE;" + _SCHEMA + "COMMIT;")

    # -- connections ------------------------------------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            if self._closed:
                raise RuntimeError("the store is closed")
            conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=self._busy_timeout_ms / 1000
            )
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {self._busy_timeout_ms}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute(f"PRAGMA synchronous = {self._synchronous}")
            conn.execute("PRAGMA foreign_keys = ON")
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")

    def close(self) -> None:
        """Close every connection opened by any thread."""
        with self._lock:
            self._closed = True
            conns, self._connections = self._connections, []
        for c in conns:
            try:
                c.close()
            except sqlite3.Error:  # pragma: no cover - closing is best effort
                pass

    # -- audit ------------------------------------------------------------------------------------------------
    def _append_audit(self, conn: sqlite3.Connection, entry: AuditEntry) -> int:
        last = conn.execute("SELECT entry_hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
        row = {
            "at": _now(),
            "action": entry.action,
            "who": entry.who,
            "record_id": entry.record_id,
            "input_hash": entry.input_hash,
            "output_hash": entry.output_hash,
            "version": entry.version,
            "policy": entry.policy,
            "seed": entry.seed,
            "details_json": canonical_json(entry.details),
            "prev_hash": last["entry_hash"] if last else _GENESIS,
        }
        row["entry_hash"] = _entry_hash(row)
        cols = ", ".join(row)
        marks = ", ".join(f":{k}" for k in row)
        cur = conn.execute(f"INSERT INTO audit_log ({cols}) VALUES ({marks})", row)
        assert cur.lastrowid is not None
        return cur.lastrowid

    def append_audit(self, entry: AuditEntry) -> int:
        """Append one audit entry in its own transaction; returns its sequence number."""
        with self._transaction() as conn:
            return self._append_audit(conn, entry)

    def audit_entries(self, record_id: str | None = None) -> list[dict[str, Any]]:
        """Audit entries in sequence order (all, or those of ``record_id``), ``details`` decoded."""
        conn = self._conn()
        if record_id is None:
            rows = conn.execute("SELECT * FROM audit_log ORDER BY seq").fetchall()
        else:
            rows = conn.execute(
                "SELECT * FROM audit_log WHERE record_id = ? ORDER BY seq", (record_id,)
            ).fetchall()
        out = []
        for r in rows:
            d = dict(r)
            d["details"] = json.loads(d.pop("details_json"))
            out.append(d)
        return out

    def verify_audit_chain(self) -> int:
        """Recompute the hash chain of the whole audit log.

        Returns
        -------
        int
            The number of entries checked.

        Raises
        ------
        AuditLogError
            Naming the first entry whose hash or link does not match.
        """
        prev = _GENESIS
        n = 0
        for r in self._conn().execute("SELECT * FROM audit_log ORDER BY seq"):
            d = dict(r)
            if d["prev_hash"] != prev:
                raise AuditLogError(f"audit entry {d['seq']}: link to the previous entry is broken")
            if _entry_hash(d) != d["entry_hash"]:
                raise AuditLogError(f"audit entry {d['seq']}: content does not match its hash")
            prev = d["entry_hash"]
            n += 1
        return n

    # -- records ----------------------------------------------------------------------------------------------
    @staticmethod
    def _from_row(r: sqlite3.Row) -> AssessmentRecord:
        return AssessmentRecord(
            id=r["id"],
            kind=r["kind"],
            status=r["status"],
            progress=float(r["progress"]),
            created_at=r["created_at"],
            updated_at=r["updated_at"],
            key_id=r["key_id"],
            input=json.loads(r["input_json"]),
            output=json.loads(r["output_json"]) if r["output_json"] is not None else None,
            error=json.loads(r["error_json"]) if r["error_json"] is not None else None,
            input_hash=r["input_hash"],
            output_hash=r["output_hash"],
            version=r["version"],
            policy=r["policy"],
            seed=r["seed"],
            idempotency_key=r["idempotency_key"],
            request_hash=r["request_hash"],
            artifacts=r["artifacts"],
        )

    def get(self, record_id: str) -> AssessmentRecord | None:
        """The record with this id, or ``None``."""
        r = self._conn().execute("SELECT * FROM assessments WHERE id = ?", (record_id,)).fetchone()
        return self._from_row(r) if r else None

    def find_idempotent(self, key_id: str, idempotency_key: str) -> AssessmentRecord | None:
        """The record ``key_id`` created under ``idempotency_key``, or ``None``."""
        r = (
            self._conn()
            .execute(
                "SELECT * FROM assessments WHERE key_id = ? AND idempotency_key = ?",
                (key_id, idempotency_key),
            )
            .fetchone()
        )
        return self._from_row(r) if r else None

    def create(self, record: AssessmentRecord, audit: AuditEntry) -> AssessmentRecord:
        """Insert ``record`` and ``audit`` in one transaction (see :meth:`AssessmentRepository.create`)."""
        with self._transaction() as conn:
            if record.idempotency_key is not None:
                r = conn.execute(
                    "SELECT * FROM assessments WHERE key_id = ? AND idempotency_key = ?",
                    (record.key_id, record.idempotency_key),
                ).fetchone()
                if r is not None:
                    existing = self._from_row(r)
                    if existing.request_hash != record.request_hash:
                        raise IdempotencyConflict(existing)
                    return existing
            conn.execute(
                "INSERT INTO assessments (id, kind, status, progress, created_at, updated_at, key_id, input_json,"
                " output_json, error_json, input_hash, output_hash, version, policy, seed, idempotency_key,"
                " request_hash, artifacts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    record.id,
                    record.kind,
                    record.status,
                    record.progress,
                    record.created_at,
                    record.updated_at,
                    record.key_id,
                    canonical_json(record.input),
                    canonical_json(record.output) if record.output is not None else None,
                    canonical_json(record.error) if record.error is not None else None,
                    record.input_hash,
                    record.output_hash,
                    record.version,
                    record.policy,
                    record.seed,
                    record.idempotency_key,
                    record.request_hash,
                    record.artifacts,
                ),
            )
            self._append_audit(conn, audit)
        return record

    def update_progress(self, record_id: str, status: Status, progress: float) -> None:
        """Set an unfinished record's status (``queued`` / ``running``) and progress."""
        if status in FINAL_STATUSES:
            raise ValueError("use finish() to complete a record")
        with self._transaction() as conn:
            conn.execute(
                "UPDATE assessments SET status = ?, progress = ?, updated_at = ? WHERE id = ?",
                (status, float(progress), _now(), record_id),
            )

    def finish(
        self,
        record_id: str,
        *,
        output: dict[str, Any] | None,
        error: dict[str, Any] | None,
        audit: AuditEntry,
        artifacts: bytes | None = None,
    ) -> AssessmentRecord:
        """Complete a job: store its output (status ``done``) or error (``failed``) with its audit entry."""
        status = "failed" if error is not None else "done"
        out_hash = result_hash(output) if output is not None else None
        with self._transaction() as conn:
            cur = conn.execute(
                "UPDATE assessments SET status = ?, progress = 1.0, updated_at = ?, output_json = ?, error_json = ?,"
                " output_hash = ?, artifacts = ? WHERE id = ? AND status IN ('queued', 'running')",
                (
                    status,
                    _now(),
                    canonical_json(output) if output is not None else None,
                    canonical_json(error) if error is not None else None,
                    out_hash,
                    artifacts,
                    record_id,
                ),
            )
            if cur.rowcount != 1:
                raise KeyError(f"no unfinished record {record_id!r}")
            self._append_audit(conn, audit)
        rec = self.get(record_id)
        assert rec is not None
        return rec

    def unfinished(self) -> list[str]:
        """Ids of records still ``queued`` or ``running``, oldest first."""
        rows = (
            self._conn()
            .execute("SELECT id FROM assessments WHERE status IN ('queued', 'running') ORDER BY created_at")
            .fetchall()
        )
        return [r["id"] for r in rows]

    def get_artifact(self, record_id: str, name: str) -> bytes | None:
        """A derived file kept with a record (e.g. a rendered report), or ``None``."""
        r = (
            self._conn()
            .execute("SELECT data FROM artifacts WHERE record_id = ? AND name = ?", (record_id, name))
            .fetchone()
        )
        return bytes(r["data"]) if r else None

    def put_artifact(self, record_id: str, name: str, data: bytes) -> None:
        """Keep a derived file with a record; an existing one under the same name is kept (first wins)."""
        with self._transaction() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO artifacts (record_id, name, created_at, data) VALUES (?, ?, ?, ?)",
                (record_id, name, _now(), data),
            )

    def list_ids(self, *, kind: str | None = None, status: str | None = None) -> list[str]:
        """Ids of the records of one kind and status (oldest first)."""
        rows = (
            self._conn()
            .execute(
                "SELECT id FROM assessments WHERE (? IS NULL OR kind = ?) AND (? IS NULL OR status = ?)"
                " ORDER BY created_at, id",
                (kind, kind, status, status),
            )
            .fetchall()
        )
        return [r["id"] for r in rows]

    def count(self, kind: str | None = None) -> int:
        """Number of stored records (of one kind)."""
        if kind is None:
            return int(self._conn().execute("SELECT COUNT(*) FROM assessments").fetchone()[0])
        return int(
            self._conn().execute("SELECT COUNT(*) FROM assessments WHERE kind = ?", (kind,)).fetchone()[0]
        )
