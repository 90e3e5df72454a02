"""The workbench's rows in the service's SQLite file: :class:`SQLiteWorkbenchStore`.

The tables come from the numbered migration ``0004_workbench.sql`` (beside ``assessments`` and ``audit_log``);
WAL mode, one connection per thread, every write one ``BEGIN IMMEDIATE`` transaction. Sign-offs and monitoring
runs are append-only (triggers). The PostgreSQL backend has the same tables (``postgres/0004_workbench.sql``).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ipvalue.service.store.protocol import canonical_json
from ipvalue.service.store.workbench import MonitorRun, SignOff, Upload, User, UserExists, WebSession

__all__ = ["SQLiteWorkbenchStore"]

_USER_FIELDS = ("role", "password_hash", "active", "failed_logins", "locked_until")


def _now() -> str:
    import datetime as dt

    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


class SQLiteWorkbenchStore:
    """:class:`~ipvalue.service.store.workbench.WorkbenchRepository` in the service's SQLite file.

    Parameters
    ----------
    path : str or Path
        The service database (the same file as :class:`~ipvalue.service.store.SQLiteAssessmentStore`).
    busy_timeout_ms : int
        How long a writer waits for another writer's lock.
    """

    def __init__(self, path: str | Path, *, busy_timeout_ms: int = 30_000):
        if str(path) == ":memory:":
            raise ValueError("SQLiteWorkbenchStore needs a file path (one connection per thread)")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._busy_timeout_ms = int(busy_timeout_ms)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        self._closed = False
        from ipvalue.service.store.sqlite import SQLiteAssessmentStore

        SQLiteAssessmentStore(
            self.path
        ).close()  # applies the numbered migrations (0004_workbench: the tables)

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
            conn.execute("PRAGMA synchronous = FULL")
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

    # -- users ------------------------------------------------------------------------------------------------
    @staticmethod
    def _user(r: sqlite3.Row) -> User:
        return User(
            username=r["username"],
            role=r["role"],
            password_hash=r["password_hash"],
            active=bool(r["active"]),
            failed_logins=int(r["failed_logins"]),
            locked_until=r["locked_until"],
            created_at=r["created_at"],
        )

    def add_user(self, user: User) -> None:
        """Insert a user; :class:`UserExists` when the name is taken."""
        try:
            with self._transaction() as conn:
                conn.execute(
                    "INSERT INTO web_users (username, role, password_hash, active, failed_logins, locked_until,"
                    " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        user.username,
                        user.role,
                        user.password_hash,
                        int(user.active),
                        user.failed_logins,
                        user.locked_until,
                        user.created_at or _now(),
                    ),
                )
        except sqlite3.IntegrityError as exc:
            if "UNIQUE" in str(exc) or "PRIMARY" in str(exc):
                raise UserExists(f"user {user.username!r} already exists") from exc
            raise

    def get_user(self, username: str) -> User | None:
        """The user, or ``None``."""
        r = self._conn().execute("SELECT * FROM web_users WHERE username = ?", (username,)).fetchone()
        return self._user(r) if r else None

    def list_users(self) -> list[User]:
        """Every user, by name."""
        return [self._user(r) for r in self._conn().execute("SELECT * FROM web_users ORDER BY username")]

    def update_user(self, username: str, **changes: Any) -> None:
        """Change some of ``role``, ``password_hash``, ``active``, ``failed_logins``, ``locked_until``."""
        bad = set(changes) - set(_USER_FIELDS)
        if bad:
            raise ValueError(f"cannot change {sorted(bad)}")
        if not changes:
            return
        sets = ", ".join(f"{k} = ?" for k in changes)
        values = [int(v) if isinstance(v, bool) else v for v in changes.values()]
        with self._transaction() as conn:
            cur = conn.execute(f"UPDATE web_users SET {sets} WHERE username = ?", (*values, username))
            if cur.rowcount != 1:
                raise KeyError(f"no user {username!r}")

    def record_failed_login(self, username: str, max_failures: int, locked_until: str) -> int:
        """Count one wrong password; at ``max_failures`` the account is locked until ``locked_until``."""
        with self._transaction() as conn:
            conn.execute(
                "UPDATE web_users SET failed_logins = failed_logins + 1 WHERE username = ?", (username,)
            )
            r = conn.execute("SELECT failed_logins FROM web_users WHERE username = ?", (username,)).fetchone()
            n = int(r["failed_logins"]) if r else 0
            if r and n >= max_failures:
                conn.execute(
                    "UPDATE web_users SET locked_until = ?, failed_logins = 0 WHERE username = ?",
                    (locked_until, username),
                )
        return n

    # -- sessions ---------------------------------------------------------------------------------------------
    def create_session(self, session: WebSession) -> None:
        """Store a new session."""
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO web_sessions (token_hash, username, csrf, created_at, expires_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (session.token_hash, session.username, session.csrf, session.created_at, session.expires_at),
            )

    def get_session(self, token_hash: str) -> WebSession | None:
        """The session with this token hash, or ``None``."""
        r = self._conn().execute("SELECT * FROM web_sessions WHERE token_hash = ?", (token_hash,)).fetchone()
        return WebSession(**dict(r)) if r else None

    def delete_session(self, token_hash: str) -> None:
        """End a session."""
        with self._transaction() as conn:
            conn.execute("DELETE FROM web_sessions WHERE token_hash = ?", (token_hash,))

    def delete_sessions_of(self, username: str) -> None:
        """End every session of a user."""
        with self._transaction() as conn:
            conn.execute("DELETE FROM web_sessions WHERE username = ?", (username,))

    # -- uploads ----------------------------------------------------------------------------------------------
    def put_upload(self, upload: Upload) -> None:
        """Keep a checked upload."""
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO web_uploads (id, username, created_at, filename, n_rows, check_json, rows_json)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    upload.id,
                    upload.username,
                    upload.created_at or _now(),
                    upload.filename,
                    upload.n_rows,
                    canonical_json(upload.check),
                    canonical_json(upload.rows),
                ),
            )

    def get_upload(self, upload_id: str) -> Upload | None:
        """A checked upload, or ``None``."""
        r = self._conn().execute("SELECT * FROM web_uploads WHERE id = ?", (upload_id,)).fetchone()
        if r is None:
            return None
        return Upload(
            id=r["id"],
            username=r["username"],
            created_at=r["created_at"],
            filename=r["filename"],
            n_rows=int(r["n_rows"]),
            check=json.loads(r["check_json"]),
            rows=json.loads(r["rows_json"]),
        )

    # -- sign-offs and monitoring -----------------------------------------------------------------------------
    def add_signoff(self, signoff: SignOff) -> int:
        """Append a sign-off; returns its sequence number."""
        with self._transaction() as conn:
            cur = conn.execute(
                "INSERT INTO web_signoffs (record_id, username, decision, comment, at) VALUES (?, ?, ?, ?, ?)",
                (
                    signoff.record_id,
                    signoff.username,
                    signoff.decision,
                    signoff.comment,
                    signoff.at or _now(),
                ),
            )
            assert cur.lastrowid is not None
            return cur.lastrowid

    def signoffs(self, record_id: str) -> list[SignOff]:
        """Sign-offs of an assessment, oldest first."""
        rows = self._conn().execute(
            "SELECT * FROM web_signoffs WHERE record_id = ? ORDER BY seq", (record_id,)
        )
        return [SignOff(**dict(r)) for r in rows]

    def add_monitor_run(self, run: MonitorRun) -> int:
        """Append a monitoring run; returns its sequence number."""
        with self._transaction() as conn:
            cur = conn.execute(
                "INSERT INTO web_monitor_runs (record_id, username, as_of, level, report_json, at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    run.record_id,
                    run.username,
                    run.as_of,
                    run.level,
                    canonical_json(run.report),
                    run.at or _now(),
                ),
            )
            assert cur.lastrowid is not None
            return cur.lastrowid

    def monitor_runs(self, record_id: str) -> list[MonitorRun]:
        """Monitoring runs of an assessment, oldest first."""
        rows = self._conn().execute(
            "SELECT * FROM web_monitor_runs WHERE record_id = ? ORDER BY seq", (record_id,)
        )
        out = []
        for r in rows:
            d = dict(r)
            d["report"] = json.loads(d.pop("report_json"))
            out.append(MonitorRun(**d))
        return out

    def web_records(self, limit: int = 500) -> list[dict[str, Any]]:
        """Assessments newest first, with a few summary figures read inside SQLite (no full JSON decode)."""
        rows = self._conn().execute(
            "SELECT id, status, progress, created_at, key_id,"
            " json_extract(output_json, '$.summary.collateral_value') AS collateral_value,"
            " json_extract(output_json, '$.summary.max_loan') AS max_loan,"
            " json_extract(output_json, '$.summary.currency') AS currency,"
            " json_extract(output_json, '$.summary.n_patents') AS n_patents,"
            " json_extract(input_json, '$.loan.borrower') AS borrower,"
            " json_extract(input_json, '$.loan.amount') AS loan_amount,"
            " json_extract(input_json, '$.loan.currency') AS loan_currency,"
            " json_extract(input_json, '$.loan.tenor_years') AS tenor_years,"
            " json_extract(input_json, '$.loan.start_date') AS start_date,"
            " json_extract(input_json, '$.as_of') AS as_of"
            " FROM assessments WHERE kind = 'assessment' ORDER BY created_at DESC LIMIT ?",
            (int(limit),),
        )
        return [dict(r) for r in rows]
