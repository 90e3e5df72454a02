"""The embedded store: :class:`SQLiteAssessmentStore`, one SQLite file in WAL mode.

Guarantees (those of :class:`~ipvalue.service.store.protocol.AssessmentRepository`, and how SQLite gives them):

* every write is one transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``);
* the audit log is append-only (triggers ``RAISE(ABORT)`` on ``UPDATE`` and ``DELETE``), hash-chained and signed;
  a checkpoint of its head goes to the anchor file after the commit that made it due;
* a finished record cannot be changed or deleted (triggers again);
* jobs carry ``lease_owner``, ``lease_until`` and ``attempts``; a claim is one ``BEGIN IMMEDIATE`` transaction;
* ``SQLITE_BUSY`` / ``SQLITE_LOCKED`` (after ``busy_timeout_ms``) and ``SQLITE_FULL`` are raised as
  :class:`~ipvalue.service.store.protocol.StoreUnavailable`;
* one SQLite connection per thread, created lazily and closed by :meth:`SQLiteAssessmentStore.close`.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from ipvalue.service.store.audit import GENESIS, AuditSigner, entry_hash
from ipvalue.service.store.protocol import (
    AssessmentRecord,
    AuditEntry,
    AuditLogError,
    IdempotencyConflict,
    LeaseLost,
    StoreUnavailable,
    canonical_json,
    result_hash,
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

#: columns added by schema 2 (job leases, audit signatures): (table, column, declaration)
_SCHEMA_2 = (
    ("assessments", "lease_owner", "TEXT"),
    ("assessments", "lease_until", "REAL"),
    ("assessments", "attempts", "INTEGER NOT NULL DEFAULT 0"),
    ("audit_log", "signature", "TEXT"),
)


def _unavailable(exc: sqlite3.Error) -> StoreUnavailable | None:
    """The :class:`StoreUnavailable` an SQLite error means, or ``None`` when it means something else."""
    text = str(exc).lower()
    if "locked" in text or "busy" in text:
        return StoreUnavailable("busy", "the database is busy; try again shortly")
    if "full" in text or "disk i/o" in text:
        return StoreUnavailable("full", "the database cannot take more data now")
    return None


class SQLiteAssessmentStore:
    """:class:`~ipvalue.service.store.protocol.AssessmentRepository` on one SQLite file.

    Parameters
    ----------
    path : str or Path
        The database file (created with its directory when missing, mode 0600). ``":memory:"`` is refused
        because each thread has its own connection.
    synchronous : {"FULL", "NORMAL"}
        SQLite ``synchronous`` pragma. ``FULL`` (default) makes each commit durable even across a power cut;
        ``NORMAL`` in WAL mode survives a killed process but may lose the last commits on an OS crash.
    busy_timeout_ms : int
        How long a write waits for another writer's lock before :class:`StoreUnavailable`.
    signer : AuditSigner, optional
        Signs audit entries and writes checkpoints; without one, entries are hash-chained but unsigned (and
        :func:`~ipvalue.service.store.audit.verify_audit` reports every entry as unsigned).
    max_pages : int, optional
        SQLite ``max_page_count``: the database stops growing there (writes raise :class:`StoreUnavailable`).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        synchronous: Literal["FULL", "NORMAL"] = "FULL",
        busy_timeout_ms: int = 30_000,
        signer: AuditSigner | None = None,
        max_pages: int | None = None,
    ):
        if str(path) == ":memory:":
            raise ValueError("SQLiteAssessmentStore needs a file path (one connection per thread)")
        if synchronous not in ("FULL", "NORMAL"):
            raise ValueError(f"synchronous must be 'FULL' or 'NORMAL', got {synchronous!r}")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.signer = signer
        self._synchronous = synchronous
        self._busy_timeout_ms = int(busy_timeout_ms)
        self._max_pages = max_pages
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        self._closed = False
        try:  # loan data: a new file is readable by the service's user only (SQLite gives -wal/-shm its mode)
            os.close(os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        except FileExistsError:
            pass
        try:
            self._conn().executescript("BEGIN IMMEDIATE;" + _SCHEMA + "COMMIT;")
        except sqlite3.Error as exc:
            raise (_unavailable(exc) or exc) from exc
        with self._transaction() as conn:
            for table, column, decl in _SCHEMA_2:
                have = {r["name"] for r in conn.execute(f"PRAGMA table_info({table})")}
                if column not in have:
                    conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {decl}")
            conn.execute(
                "INSERT OR REPLACE INTO schema_info (name, value) VALUES ('assessments_schema', '2')"
            )

    # -- connections ------------------------------------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            if self._closed:
                raise StoreUnavailable("closed", "the service is shutting down")
            conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=self._busy_timeout_ms / 1000
            )
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {self._busy_timeout_ms}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute(f"PRAGMA synchronous = {self._synchronous}")
            conn.execute("PRAGMA foreign_keys = ON")
            if self._max_pages is not None:
                conn.execute(f"PRAGMA max_page_count = {int(self._max_pages)}")
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        try:
            yield self._conn()
        except sqlite3.Error as exc:
            raise (_unavailable(exc) or exc) from exc

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise (_unavailable(exc) or exc) from exc
        try:
            yield conn
        except BaseException as exc:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:  # the transaction may already be gone (SQLITE_FULL rolls back)
                pass
            mapped = _unavailable(exc) if isinstance(exc, sqlite3.Error) else None
            if mapped is not None:
                raise mapped from exc
            raise
        else:
            try:
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
                raise (_unavailable(exc) or exc) from exc
        self._after_commit(conn)

    def check_writable(self) -> None:
        """Raise :class:`StoreUnavailable` when a write could not be stored now; nothing is written.

        That is: the write lock cannot be had within the busy timeout, or the database is at its page cap.
        """
        conn = self._conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")
        except sqlite3.Error as exc:
            raise (_unavailable(exc) or exc) from exc
        if self._max_pages is not None:
            used = conn.execute("PRAGMA page_count").fetchone()[0]
            if used >= self._max_pages - 2:
                raise StoreUnavailable("full", "the database cannot take more data now")

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
        last = conn.execute("SELECT seq, entry_hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
        row: dict[str, Any] = {
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
            "prev_hash": last["entry_hash"] if last else GENESIS,
        }
        row["entry_hash"] = entry_hash(row)
        row["signature"] = self.signer.sign(row["entry_hash"]) if self.signer is not None else None
        cols = ", ".join(row)
        marks = ", ".join(f":{k}" for k in row)
        cur = conn.execute(f"INSERT INTO audit_log ({cols}) VALUES ({marks})", row)
        assert cur.lastrowid is not None
        if self.signer is not None and self.signer.checkpoint_due(cur.lastrowid):
            self._local.pending_checkpoint = (cur.lastrowid, row["entry_hash"])
        return cur.lastrowid

    def _after_commit(self, conn: sqlite3.Connection) -> None:
        due = getattr(self._local, "pending_checkpoint", None)
        if due is not None and self.signer is not None:
            self._local.pending_checkpoint = None
            self.signer.write_checkpoint(*due)

    def checkpoint(self) -> None:
        """Write a signed checkpoint of the current audit head to the anchor file."""
        if self.signer is None:
            return
        with self._reading() as conn:
            last = conn.execute("SELECT seq, entry_hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
        if last is not None:
            self.signer.write_checkpoint(int(last["seq"]), str(last["entry_hash"]))

    def append_audit(self, entry: AuditEntry) -> int:
        """Append one audit entry in its own transaction; returns its sequence number."""
        with self._transaction() as conn:
            return self._append_audit(conn, entry)

    def audit_entries(self, record_id: str | None = None) -> list[dict[str, Any]]:
        """Audit entries in sequence order (all, or those of ``record_id``), ``details`` decoded."""
        with self._reading() as conn:
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
        """Recompute the hash chain of the whole audit log (links and hashes; signatures: see ``verify_audit``).

        Returns
        -------
        int
            The number of entries checked.

        Raises
        ------
        AuditLogError
            Naming the first entry whose hash or link does not match.
        """
        prev = GENESIS
        n = 0
        with self._reading() as conn:
            for r in conn.execute("SELECT * FROM audit_log ORDER BY seq"):
                d = dict(r)
                if d["prev_hash"] != prev:
                    raise AuditLogError(f"audit entry {d['seq']}: link to the previous entry is broken")
                if entry_hash(d) != d["entry_hash"]:
                    raise AuditLogError(f"audit entry {d['seq']}: content does not match its hash")
                prev = d["entry_hash"]
                n += 1
        return n

    def raw_audit_rows(self) -> Iterator[dict[str, Any]]:
        """Audit rows exactly as stored (``details_json``, ``signature``), in sequence order."""
        with self._reading() as conn:
            rows = conn.execute("SELECT * FROM audit_log ORDER BY seq").fetchall()
        for r in rows:
            yield dict(r)

    def finished_records(self) -> Iterator[AssessmentRecord]:
        """Every finished record, oldest first."""
        with self._reading() as conn:
            ids = [
                r["id"]
                for r in conn.execute(
                    "SELECT id FROM assessments WHERE status IN ('done', 'failed') ORDER BY created_at, id"
                )
            ]
        for i in ids:
            rec = self.get(i)
            if rec is not None:
                yield rec

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
            attempts=int(r["attempts"] or 0),
            lease_owner=r["lease_owner"],
        )

    def get(self, record_id: str) -> AssessmentRecord | None:
        """The record with this id, or ``None``."""
        with self._reading() as conn:
            r = conn.execute("SELECT * FROM assessments WHERE id = ?", (record_id,)).fetchone()
        return self._from_row(r) if r else None

    def find_idempotent(self, key_id: str, idempotency_key: str) -> AssessmentRecord | None:
        """The record ``key_id`` created under ``idempotency_key``, or ``None``."""
        with self._reading() as conn:
            r = conn.execute(
                "SELECT * FROM assessments WHERE key_id = ? AND idempotency_key = ?",
                (key_id, idempotency_key),
            ).fetchone()
        return self._from_row(r) if r else None

    def create(self, record: AssessmentRecord, audit: AuditEntry) -> AssessmentRecord:
        """Insert ``record`` and ``audit`` in one transaction (see ``AssessmentRepository.create``)."""
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
                " request_hash, artifacts, attempts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)",
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

    # -- jobs -------------------------------------------------------------------------------------------------
    def claim_job(self, owner: str, lease_s: float, record_id: str | None = None) -> AssessmentRecord | None:
        """Take the oldest unfinished job whose lease is absent or lapsed (or ``record_id``); see the protocol."""
        now = time.time()
        with self._transaction() as conn:
            r = conn.execute(
                "SELECT id FROM assessments WHERE status IN ('queued', 'running')"
                " AND (lease_until IS NULL OR lease_until < ?) AND (? IS NULL OR id = ?)"
                " ORDER BY created_at, id LIMIT 1",
                (now, record_id, record_id),
            ).fetchone()
            if r is None:
                return None
            conn.execute(
                "UPDATE assessments SET status = 'running', lease_owner = ?, lease_until = ?,"
                " attempts = attempts + 1, updated_at = ? WHERE id = ?",
                (owner, now + lease_s, _now(), r["id"]),
            )
            row = conn.execute("SELECT * FROM assessments WHERE id = ?", (r["id"],)).fetchone()
        return self._from_row(row)

    def renew_lease(self, record_id: str, owner: str, lease_s: float, progress: float | None = None) -> bool:
        """Extend ``owner``'s lease on ``record_id`` (and set its progress); ``False`` when not held."""
        with self._transaction() as conn:
            cur = conn.execute(
                "UPDATE assessments SET lease_until = ?, progress = COALESCE(?, progress), updated_at = ?"
                " WHERE id = ? AND lease_owner = ? AND status = 'running'",
                (time.time() + lease_s, progress, _now(), record_id, owner),
            )
            return cur.rowcount == 1

    def finish(
        self,
        record_id: str,
        *,
        output: dict[str, Any] | None,
        error: dict[str, Any] | None,
        audit: AuditEntry,
        artifacts: bytes | None = None,
        owner: str | None = None,
    ) -> AssessmentRecord:
        """Complete a job: store its output (status ``done``) or error (``failed``) with its audit entry."""
        status = "failed" if error is not None else "done"
        out_hash = result_hash(output) if output is not None else None
        with self._transaction() as conn:
            cur = conn.execute(
                "UPDATE assessments SET status = ?, progress = 1.0, updated_at = ?, output_json = ?, error_json = ?,"
                " output_hash = ?, artifacts = ?, lease_until = NULL WHERE id = ? AND status IN ('queued', 'running')"
                " AND (? IS NULL OR lease_owner = ?)",
                (
                    status,
                    _now(),
                    canonical_json(output) if output is not None else None,
                    canonical_json(error) if error is not None else None,
                    out_hash,
                    artifacts,
                    record_id,
                    owner,
                    owner,
                ),
            )
            if cur.rowcount != 1:
                raise LeaseLost(f"no unfinished record {record_id!r} held by {owner or 'anyone'}")
            self._append_audit(conn, audit)
        rec = self.get(record_id)
        assert rec is not None
        return rec

    def unfinished(self) -> list[str]:
        """Ids of records still ``queued`` or ``running``, oldest first."""
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT id FROM assessments WHERE status IN ('queued', 'running') ORDER BY created_at, id"
            ).fetchall()
        return [r["id"] for r in rows]

    # -- artifacts and listings -------------------------------------------------------------------------------
    def get_artifact(self, record_id: str, name: str) -> bytes | None:
        """A derived file kept with a record (e.g. a rendered report), or ``None``."""
        with self._reading() as conn:
            r = conn.execute(
                "SELECT data FROM artifacts WHERE record_id = ? AND name = ?", (record_id, name)
            ).fetchone()
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
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT id FROM assessments WHERE (? IS NULL OR kind = ?) AND (? IS NULL OR status = ?)"
                " ORDER BY created_at, id",
                (kind, kind, status, status),
            ).fetchall()
        return [r["id"] for r in rows]

    def count(self, kind: str | None = None) -> int:
        """Number of stored records (of one kind)."""
        with self._reading() as conn:
            row = conn.execute(
                "SELECT COUNT(*) FROM assessments WHERE (? IS NULL OR kind = ?)", (kind, kind)
            ).fetchone()
        return int(row[0])
