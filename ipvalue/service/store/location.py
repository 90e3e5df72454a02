"""Open a store from where it is: an SQLite file path or a ``postgresql://`` URL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ipvalue.service.store.postgres import is_postgres_url, redact_url
from ipvalue.service.store.sqlbase import SqlStore

__all__ = ["open_store", "describe_location"]


def open_store(
    db: str | Path, *, migrate: bool | None = None, check: bool = True, **options: Any
) -> SqlStore:
    """The store at ``db``: PostgreSQL for a ``postgresql://`` URL, else the SQLite file (``sqlite:///`` allowed).

    Parameters
    ----------
    db : str or Path
    migrate : bool, optional
        Apply missing migrations on opening. Default: yes for SQLite (the embedded store upgrades itself), no
        for PostgreSQL (its schema belongs to ``ipvalue store migrate``, run by the owner role).
    check : bool
        With ``False`` (and no migration) the database is opened whatever its schema version.
    **options
        Passed to the backend (``synchronous``, ``busy_timeout_ms`` for SQLite; ``max_size`` for PostgreSQL).
    """
    text = str(db)
    if is_postgres_url(text):
        from ipvalue.service.store.postgres import PostgresAssessmentStore

        return PostgresAssessmentStore(text, migrate=bool(migrate), check=check, **options)
    from ipvalue.service.store.sqlite import SQLiteAssessmentStore

    path = Path(text[len("sqlite:///") :]) if text.startswith("sqlite:///") else Path(text)
    store = SQLiteAssessmentStore(path, migrate=migrate is not False, **options)
    if check and migrate is False:
        store.check_schema()
    return store


def describe_location(db: str | Path) -> str:
    """``db`` for a message: a URL without its password, or the path."""
    return redact_url(str(db))
