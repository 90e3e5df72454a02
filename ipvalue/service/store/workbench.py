"""The workbench's part of the store: people, sessions, uploads, sign-offs and monitoring runs.

The workbench (:mod:`ipvalue.web`) keeps its own rows beside the assessments and the audit log, behind
:class:`WorkbenchRepository`, so that every backend can implement them. Assessments, report files and audit
entries stay in :class:`~ipvalue.service.store.AssessmentRepository`: the workbench writes those through it.

Passwords and session tokens are never stored: a user row holds the scrypt hash (``scrypt$n$r$p$salt$hash``), a
session row the SHA-256 of the cookie's token.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

__all__ = [
    "ROLES",
    "Role",
    "User",
    "WebSession",
    "Upload",
    "SignOff",
    "MonitorRun",
    "WorkbenchRepository",
    "UserExists",
]

Role = Literal["analyst", "reviewer", "admin"]
#: analyst: upload, run and read; reviewer: read and sign off; admin: users and API keys (and read)
ROLES: tuple[str, ...] = ("analyst", "reviewer", "admin")


class UserExists(ValueError):
    """A user with that name already exists."""


@dataclass
class User:
    """One person who signs in to the workbench.

    Attributes
    ----------
    username : str
    role : {"analyst", "reviewer", "admin"}
    password_hash : str
        ``scrypt$n$r$p$salt_hex$hash_hex``.
    active : bool
        A deactivated user cannot sign in.
    failed_logins : int
        Wrong passwords since the last successful sign-in.
    locked_until : str or None
        ISO 8601 UTC; sign-in is refused before it.
    created_at : str
    """

    username: str
    role: str
    password_hash: str
    active: bool = True
    failed_logins: int = 0
    locked_until: str | None = None
    created_at: str = ""


@dataclass
class WebSession:
    """A signed-in browser: the SHA-256 of its cookie token, its user and its CSRF token."""

    token_hash: str
    username: str
    csrf: str
    created_at: str
    expires_at: str


@dataclass
class Upload:
    """A checked portfolio file waiting for its loan terms (the rows as the API takes them)."""

    id: str
    username: str
    created_at: str
    filename: str
    n_rows: int
    check: dict[str, Any] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class SignOff:
    """A reviewer's decision on an assessment."""

    record_id: str
    username: str
    decision: Literal["approve", "reject"]
    comment: str
    at: str = ""
    seq: int = 0


@dataclass
class MonitorRun:
    """One post-loan check of an assessment (its report as :meth:`ipvalue.monitor.MonitorReport.to_dict`)."""

    record_id: str
    username: str
    as_of: str
    level: str
    report: dict[str, Any]
    at: str = ""
    seq: int = 0


@runtime_checkable
class WorkbenchRepository(Protocol):
    """What the workbench needs from a database (both SQL backends: :class:`~ipvalue.service.store.sqlworkbench.SqlWorkbenchStore`)."""

    def add_user(self, user: User) -> None:
        """Insert a user; :class:`UserExists` when the name is taken."""
        ...

    def get_user(self, username: str) -> User | None:
        """The user, or ``None``."""
        ...

    def list_users(self) -> list[User]:
        """Every user, by name."""
        ...

    def update_user(self, username: str, **changes: Any) -> None:
        """Change ``role``, ``password_hash``, ``active``, ``failed_logins`` or ``locked_until``."""
        ...

    def record_failed_login(self, username: str, max_failures: int, locked_until: str) -> int:
        """Count one wrong password atomically; lock until ``locked_until`` at ``max_failures``. Returns the count."""
        ...

    def create_session(self, session: WebSession) -> None:
        """Store a new session."""
        ...

    def get_session(self, token_hash: str) -> WebSession | None:
        """The session with this token hash, or ``None``."""
        ...

    def delete_session(self, token_hash: str) -> None:
        """End a session (sign-out)."""
        ...

    def delete_sessions_of(self, username: str) -> None:
        """End every session of a user (password change, deactivation)."""
        ...

    def put_upload(self, upload: Upload) -> None:
        """Keep a checked upload."""
        ...

    def get_upload(self, upload_id: str) -> Upload | None:
        """A checked upload, or ``None``."""
        ...

    def add_signoff(self, signoff: SignOff) -> int:
        """Append a sign-off; returns its sequence number."""
        ...

    def signoffs(self, record_id: str) -> list[SignOff]:
        """Sign-offs of an assessment, oldest first."""
        ...

    def add_monitor_run(self, run: MonitorRun) -> int:
        """Append a monitoring run; returns its sequence number."""
        ...

    def monitor_runs(self, record_id: str) -> list[MonitorRun]:
        """Monitoring runs of an assessment, oldest first."""
        ...

    def web_records(self, limit: int = 500) -> list[dict[str, Any]]:
        """Assessments newest first: ``id``, ``status``, ``created_at``, ``key_id``, ``summary`` (or ``None``)."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...
