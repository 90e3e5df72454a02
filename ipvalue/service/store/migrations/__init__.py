"""Versioned schema migrations, one numbered SQL file per change and per backend.

``sqlite/NNNN_name.sql`` and ``postgres/NNNN_name.sql`` hold the same change for each database; a database
records the versions applied in its ``schema_migrations`` table, and ``ipvalue store migrate`` (or opening an
embedded SQLite store) applies the missing ones in order, each migration and its record in one transaction.

Adding a change (anyone: the service, the workbench): take the next free number, write both files, and keep
the statements plain SQL (SQLite statements are split with :func:`sqlite3.complete_statement`; PostgreSQL runs
a file as one script). Never edit a migration that has been released: add another one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from typing import Literal

__all__ = ["Migration", "migrations", "latest_version", "split_sqlite_script", "BACKENDS"]

Backend = Literal["sqlite", "postgres"]
BACKENDS: tuple[Backend, ...] = ("sqlite", "postgres")
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    """One schema change for one backend.

    Attributes
    ----------
    version : int
        Its number (the file's four-digit prefix).
    name : str
        The rest of the file name (``job_leases``).
    sql : str
        The statements.
    """

    version: int
    name: str
    sql: str


def migrations(backend: Backend) -> list[Migration]:
    """The migrations of one backend, in version order.

    Raises
    ------
    ValueError
        A file name that is not ``NNNN_name.sql``, or two files with one number.
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; expected one of {BACKENDS}")
    out: dict[int, Migration] = {}
    for entry in resources.files(__name__).joinpath(backend).iterdir():
        if not entry.name.endswith(".sql"):
            continue
        m = _NAME.match(entry.name)
        if m is None:
            raise ValueError(f"migration file {backend}/{entry.name}: expected NNNN_name.sql")
        version = int(m.group(1))
        if version in out:
            raise ValueError(f"two {backend} migrations numbered {version:04d}")
        out[version] = Migration(version, m.group(2), entry.read_text(encoding="utf-8"))
    return [out[v] for v in sorted(out)]


def latest_version(backend: Backend = "sqlite") -> int:
    """The schema version this release expects (the highest migration number)."""
    found = migrations(backend)
    return found[-1].version if found else 0


def split_sqlite_script(sql: str) -> list[str]:
    """The statements of a SQLite script (trigger bodies kept whole), comments and blank lines dropped."""
    import sqlite3

    statements: list[str] = []
    buf = ""
    for line in sql.splitlines(keepends=True):
        if not buf and (not line.strip() or line.lstrip().startswith("--")):
            continue
        buf += line
        if sqlite3.complete_statement(buf):
            statements.append(buf.strip())
            buf = ""
    if buf.strip():
        raise ValueError(f"incomplete SQL statement at the end of a migration: {buf.strip()[:80]!r}")
    return statements
