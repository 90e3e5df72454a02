"""The workbench's queries, written once for SQLite and PostgreSQL: :class:`SqlWorkbenchStore`.

Both backends (:class:`~ipvalue.service.store.SQLiteAssessmentStore`, ``PostgresAssessmentStore``) derive from
it, so each implements :class:`~ipvalue.service.store.workbench.WorkbenchRepository` on the tables of the
numbered migration ``0004_workbench.sql``. Every write is one transaction of the backend.
"""

from __future__ import annotations

import json
from typing import Any

from ipvalue.service.store.protocol import canonical_json, utc_now
from ipvalue.service.store.sqlbase import SqlStore
from ipvalue.service.store.workbench import MonitorRun, SignOff, Upload, User, UserExists, WebSession

__all__ = ["SqlWorkbenchStore"]

_USER_FIELDS = ("role", "password_hash", "active", "failed_logins", "locked_until")
_RECORD_FIELDS = (
    ("collateral_value", "output_json", ("summary", "collateral_value"), True),
    ("max_loan", "output_json", ("summary", "max_loan"), True),
    ("currency", "output_json", ("summary", "currency"), False),
    ("n_patents", "output_json", ("summary", "n_patents"), True),
    ("n_eligible", "output_json", ("summary", "n_eligible"), True),
    ("borrower", "input_json", ("loan", "borrower"), False),
    ("loan_amount", "input_json", ("loan", "amount"), True),
    ("loan_currency", "input_json", ("loan", "currency"), False),
    ("tenor_years", "input_json", ("loan", "tenor_years"), True),
    ("start_date", "input_json", ("loan", "start_date"), False),
    ("as_of", "input_json", ("as_of",), False),
)


def _user(r: dict[str, Any]) -> User:
    return User(
        username=r["username"],
        role=r["role"],
        password_hash=r["password_hash"],
        active=bool(r["active"]),
        failed_logins=int(r["failed_logins"]),
        locked_until=r["locked_until"],
        created_at=r["created_at"],
    )


class SqlWorkbenchStore(SqlStore):
    """:class:`~ipvalue.service.store.workbench.WorkbenchRepository` on :class:`SqlStore`'s connections."""

    def _json_field(self, column: str, path: tuple[str, ...], numeric: bool) -> str:
        if self.backend == "postgresql":
            expr = f"(CAST({column} AS jsonb) #>> '{{{','.join(path)}}}')"
            return f"CAST({expr} AS DOUBLE PRECISION)" if numeric else expr
        return f"json_extract({column}, '$.{'.'.join(path)}')"

    # -- users ------------------------------------------------------------------------------------------------
    def add_user(self, user: User) -> None:
        """Insert a user; :class:`UserExists` when the name is taken."""
        with self._write() as conn:
            if self._rows(conn, "SELECT username FROM web_users WHERE username = :u", {"u": user.username}):
                raise UserExists(f"user {user.username!r} already exists")
            self._rows(
                conn,
                "INSERT INTO web_users (username, role, password_hash, active, failed_logins, locked_until,"
                " created_at) VALUES (:u, :r, :h, :a, :f, :l, :c)",
                {
                    "u": user.username,
                    "r": user.role,
                    "h": user.password_hash,
                    "a": int(user.active),
                    "f": user.failed_logins,
                    "l": user.locked_until,
                    "c": user.created_at or utc_now(),
                },
            )

    def get_user(self, username: str) -> User | None:
        """The user, or ``None``."""
        with self._read() as conn:
            rows = self._rows(conn, "SELECT * FROM web_users WHERE username = :u", {"u": username})
        return _user(rows[0]) if rows else None

    def list_users(self) -> list[User]:
        """Every user, by name."""
        with self._read() as conn:
            return [_user(r) for r in self._rows(conn, "SELECT * FROM web_users ORDER BY username")]

    def update_user(self, username: str, **changes: Any) -> None:
        """Change some of ``role``, ``password_hash``, ``active``, ``failed_logins``, ``locked_until``."""
        bad = set(changes) - set(_USER_FIELDS)
        if bad:
            raise ValueError(f"cannot change {sorted(bad)}")
        if not changes:
            return
        params = {k: int(v) if isinstance(v, bool) else v for k, v in changes.items()}
        sets = ", ".join(f"{k} = :{k}" for k in params)
        with self._write() as conn:
            done = self._rows(
                conn,
                f"UPDATE web_users SET {sets} WHERE username = :who RETURNING username",
                {**params, "who": username},
            )
        if not done:
            raise KeyError(f"no user {username!r}")

    def record_failed_login(self, username: str, max_failures: int, locked_until: str) -> int:
        """Count one wrong password; at ``max_failures`` the account is locked until ``locked_until``."""
        with self._write() as conn:
            rows = self._rows(
                conn,
                "UPDATE web_users SET failed_logins = failed_logins + 1 WHERE username = :u RETURNING failed_logins",
                {"u": username},
            )
            n = int(rows[0]["failed_logins"]) if rows else 0
            if rows and n >= max_failures:
                self._rows(
                    conn,
                    "UPDATE web_users SET locked_until = :l, failed_logins = 0 WHERE username = :u",
                    {"l": locked_until, "u": username},
                )
        return n

    # -- sessions ---------------------------------------------------------------------------------------------
    def create_session(self, session: WebSession) -> None:
        """Store a new session."""
        with self._write() as conn:
            self._rows(
                conn,
                "INSERT INTO web_sessions (token_hash, username, csrf, created_at, expires_at)"
                " VALUES (:t, :u, :c, :a, :e)",
                {
                    "t": session.token_hash,
                    "u": session.username,
                    "c": session.csrf,
                    "a": session.created_at,
                    "e": session.expires_at,
                },
            )

    def get_session(self, token_hash: str) -> WebSession | None:
        """The session with this token hash, or ``None``."""
        with self._read() as conn:
            rows = self._rows(conn, "SELECT * FROM web_sessions WHERE token_hash = :t", {"t": token_hash})
        return WebSession(**rows[0]) if rows else None

    def delete_session(self, token_hash: str) -> None:
        """End a session."""
        with self._write() as conn:
            self._rows(conn, "DELETE FROM web_sessions WHERE token_hash = :t", {"t": token_hash})

    def delete_sessions_of(self, username: str) -> None:
        """End every session of a user."""
        with self._write() as conn:
            self._rows(conn, "DELETE FROM web_sessions WHERE username = :u", {"u": username})

    # -- uploads ----------------------------------------------------------------------------------------------
    def put_upload(self, upload: Upload) -> None:
        """Keep a checked upload."""
        with self._write() as conn:
            self._rows(
                conn,
                "INSERT INTO web_uploads (id, username, created_at, filename, n_rows, check_json, rows_json)"
                " VALUES (:i, :u, :c, :f, :n, :k, :r)",
                {
                    "i": upload.id,
                    "u": upload.username,
                    "c": upload.created_at or utc_now(),
                    "f": upload.filename,
                    "n": upload.n_rows,
                    "k": canonical_json(upload.check),
                    "r": canonical_json(upload.rows),
                },
            )

    def get_upload(self, upload_id: str) -> Upload | None:
        """A checked upload, or ``None``."""
        with self._read() as conn:
            rows = self._rows(conn, "SELECT * FROM web_uploads WHERE id = :i", {"i": upload_id})
        if not rows:
            return None
        r = rows[0]
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
        with self._write() as conn:
            rows = self._rows(
                conn,
                "INSERT INTO web_signoffs (record_id, username, decision, comment, at)"
                " VALUES (:r, :u, :d, :c, :a) RETURNING seq",
                {
                    "r": signoff.record_id,
                    "u": signoff.username,
                    "d": signoff.decision,
                    "c": signoff.comment,
                    "a": signoff.at or utc_now(),
                },
            )
        return int(rows[0]["seq"])

    def signoffs(self, record_id: str) -> list[SignOff]:
        """Sign-offs of an assessment, oldest first."""
        with self._read() as conn:
            rows = self._rows(
                conn, "SELECT * FROM web_signoffs WHERE record_id = :r ORDER BY seq", {"r": record_id}
            )
        return [SignOff(**r) for r in rows]

    def add_monitor_run(self, run: MonitorRun) -> int:
        """Append a monitoring run; returns its sequence number."""
        with self._write() as conn:
            rows = self._rows(
                conn,
                "INSERT INTO web_monitor_runs (record_id, username, as_of, level, report_json, at)"
                " VALUES (:r, :u, :d, :l, :j, :a) RETURNING seq",
                {
                    "r": run.record_id,
                    "u": run.username,
                    "d": run.as_of,
                    "l": run.level,
                    "j": canonical_json(run.report),
                    "a": run.at or utc_now(),
                },
            )
        return int(rows[0]["seq"])

    def monitor_runs(self, record_id: str) -> list[MonitorRun]:
        """Monitoring runs of an assessment, oldest first."""
        with self._read() as conn:
            rows = self._rows(
                conn, "SELECT * FROM web_monitor_runs WHERE record_id = :r ORDER BY seq", {"r": record_id}
            )
        out = []
        for r in rows:
            d = dict(r)
            d["report"] = json.loads(d.pop("report_json"))
            out.append(MonitorRun(**d))
        return out

    def web_records(self, limit: int = 500) -> list[dict[str, Any]]:
        """Assessments newest first, with a few figures read inside the database (no full JSON decode)."""
        fields = ", ".join(
            f"{self._json_field(col, path, num)} AS {name}" for name, col, path, num in _RECORD_FIELDS
        )
        with self._read() as conn:
            return self._rows(
                conn,
                f"SELECT id, status, progress, created_at, key_id, {fields} FROM assessments"
                " WHERE kind = 'assessment' ORDER BY created_at DESC LIMIT :n",
                {"n": int(limit)},
            )
