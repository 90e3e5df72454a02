"""The embedded store: :class:`SQLiteAssessmentStore`, one SQLite file in WAL mode.

Guarantees (those of :class:`~ipvalue.service.store.protocol.AssessmentRepository`, and how SQLite gives them):

* every write is one transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``);
* the audit log is append-only (triggers ``RAISE(ABORT)`` on ``UPDATE`` and ``DELETE``), hash-chained and signed;
  a checkpoint of its head goes to the anchor file after the commit that made it due;
* a finished record cannot be changed or deleted (triggers again);
* jobs carry ``lease_owner``, ``lease_until`` and ``attempts``; a claim is one ``BEGIN IMMEDIATE`` transaction;
* ``SQLITE_BUSY`` / ``SQLITE_LOCKED`` (after ``busy_timeout_ms``) and ``SQLITE_FULL`` are raised as
  :class:`~ipvalue.service.store.protocol.StoreUnavailable`;
* one SQLite connection per thread, created lazily and closed by :meth:`SQLiteAssessmentStore.close`;
* the schema is versioned (``migrations/sqlite/``): opening the file applies what it lacks.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from ipvalue.service.store.audit import AuditSigner
from ipvalue.service.store.migrations import migrations, split_sqlite_script
from ipvalue.service.store.protocol import StoreUnavailable, utc_now
from ipvalue.service.store.sqlworkbench import SqlWorkbenchStore

__all__ = ["SQLiteAssessmentStore"]

#: the ``schema_info`` value written by releases before versioned migrations -> the migrations it stands for
_LEGACY_SCHEMA = {"1": (1,), "2": (1, 2)}


def _unavailable(exc: sqlite3.Error) -> StoreUnavailable | None:
    """The :class:`StoreUnavailable` an SQLite error means, or ``None`` when it means something else."""
    text = str(exc).lower()
    if "locked" in text or "busy" in text:
        return StoreUnavailable("busy", "the database is busy; try again shortly")
    if "full" in text or "disk i/o" in text:
        return StoreUnavailable("full", "the database cannot take more data now")
    return None


class SQLiteAssessmentStore(SqlWorkbenchStore):
    """:class:`AssessmentRepository` on one SQLite file.

    Opening the store applies the schema migrations it lacks (``migrations/sqlite/``), so a file written by an
    earlier release is upgraded in place and keeps every record.

    Parameters
    ----------
    path : str or Path
        The database file (created with its directory when missing). ``":memory:"`` is refused because each
        thread has its own connection.
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
    migrate : bool
        Apply missing migrations when opening (default). With ``False`` the file is opened as it is (to read
        its schema version, e.g. before ``ipvalue store migrate``).
    """

    backend = "sqlite"
    _now = "((julianday('now') - 2440587.5) * 86400.0)"
    _skip_locked = ""  # a write transaction (BEGIN IMMEDIATE) already excludes every other writer

    def __init__(
        self,
        path: str | Path,
        *,
        synchronous: Literal["FULL", "NORMAL"] = "FULL",
        busy_timeout_ms: int = 30_000,
        signer: AuditSigner | None = None,
        max_pages: int | None = None,
        migrate: bool = True,
    ):
        if str(path) == ":memory:":
            raise ValueError("SQLiteAssessmentStore needs a file path (one connection per thread)")
        if synchronous not in ("FULL", "NORMAL"):
            raise ValueError(f"synchronous must be 'FULL' or 'NORMAL', got {synchronous!r}")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._synchronous = synchronous
        self._busy_timeout_ms = int(busy_timeout_ms)
        self._max_pages = max_pages
        self._init_audit(signer)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        self._closed = False
        try:  # loan data: a new file is readable by the service's user only (SQLite gives -wal/-shm its mode)
            os.close(os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        except FileExistsError:
            pass
        if migrate:
            self.migrate()

    def __repr__(self) -> str:
        return f"SQLiteAssessmentStore({str(self.path)!r})"

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
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise (_unavailable(exc) or exc) from exc
        try:
            yield conn
        except BaseException as exc:
            self._after_rollback()
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
                self._after_rollback()
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
                raise (_unavailable(exc) or exc) from exc
        self._after_commit()

    def _write(self) -> Any:
        return self._transaction()

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        try:
            yield self._conn()
        except sqlite3.Error as exc:
            raise (_unavailable(exc) or exc) from exc

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

    def _rows(self, conn: Any, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        cur = conn.execute(sql, dict(params) if params is not None else {})
        return [dict(r) for r in cur.fetchall()] if cur.description else []

    def _tables(self, conn: Any) -> list[str]:
        rows = conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        ).fetchall()
        return [r[0] for r in rows]

    def _columns(self, conn: Any, table: str) -> list[str]:
        return [r["name"] for r in conn.execute(f"PRAGMA table_info({table})").fetchall()]

    def _primary_key(self, conn: Any, table: str) -> list[str]:
        info = [r for r in conn.execute(f"PRAGMA table_info({table})").fetchall() if r["pk"]]
        return [r["name"] for r in sorted(info, key=lambda r: r["pk"])]

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

    # -- schema -----------------------------------------------------------------------------------------------
    def _legacy_schema(self, conn: Any) -> str | None:
        """``schema_info.assessments_schema`` of a file written before versioned migrations, or ``None``."""
        if "schema_info" not in self._tables(conn):
            return None
        row = conn.execute("SELECT value FROM schema_info WHERE name = 'assessments_schema'").fetchone()
        return str(row[0]) if row else None

    def _schema_version(self, conn: Any) -> int:
        tables = set(self._tables(conn))
        if "schema_migrations" not in tables and "assessments" in tables:
            adopted = _LEGACY_SCHEMA.get(self._legacy_schema(conn) or "1", (1,))
            return max(adopted)
        return super()._schema_version(conn)

    def migrate(self, target: int | None = None) -> list[int]:
        """Apply the migrations this file lacks (up to ``target``), all in one transaction.

        Returns
        -------
        list of int
            The versions applied (empty when the schema was current).
        """
        with self._transaction() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations"
                " (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
            )
            applied = {r[0] for r in conn.execute("SELECT version FROM schema_migrations").fetchall()}
            done = []
            if not applied:  # a file of a release before versioned migrations: adopt what it already has
                legacy = self._legacy_schema(conn)
                for m in migrations("sqlite"):
                    if m.version in _LEGACY_SCHEMA.get(legacy or "", ()):
                        conn.execute(
                            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                            (m.version, m.name, utc_now()),
                        )
                        applied.add(m.version)
            for m in migrations("sqlite"):
                if m.version in applied or (target is not None and m.version > target):
                    continue
                for statement in split_sqlite_script(m.sql):
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (m.version, m.name, utc_now()),
                )
                done.append(m.version)
        return done
