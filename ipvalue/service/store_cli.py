"""``ipvalue store`` (migrate, version, export, import): typer commands (``ipvalue audit`` is in ``service.cli``).

Only typer is imported here; the store (and psycopg for a ``postgresql://`` database) when a command runs.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["store_app"]

store_app = typer.Typer(
    help="The service's database: versioned schema migrations, export and import (JSON lines).",
    no_args_is_help=True,
)

Db = Annotated[
    str,
    typer.Option(
        "--db", help="SQLite file or postgresql://user:password@host:port/dbname URL.", envvar="IPVALUE_DB"
    ),
]
DEFAULT_DB = "ipvalue-service.db"


class StoreCommandError(ValueError):
    """A store command that cannot do its work (one line, exit code 2)."""


@contextmanager
def _opened(db: str, **kwargs: Any) -> Iterator[Any]:
    """The store at ``db``; a database that cannot be reached is a one-line error naming it (no password)."""
    from ipvalue.service.store import open_store
    from ipvalue.service.store.location import describe_location

    if not str(db).startswith(("postgresql://", "postgres://")) and not Path(db).exists():
        raise StoreCommandError(f"no database at {db}")
    try:
        store = open_store(db, **kwargs)
    except (OSError, ValueError, RuntimeError) as exc:
        if type(exc).__module__.startswith(("psycopg", "psycopg_pool")):
            raise StoreCommandError(f"cannot open the database {describe_location(db)}: {exc}") from exc
        raise
    try:
        yield store
    except Exception as exc:
        if type(exc).__module__.startswith(("psycopg", "psycopg_pool")):
            raise StoreCommandError(
                f"database {describe_location(db)}: {' '.join(str(exc).split())}"
            ) from exc
        raise
    finally:
        store.close()


@store_app.command("migrate")
def migrate_command(
    db: Db = DEFAULT_DB,
    to: Annotated[int | None, typer.Option("--to", help="Stop at this schema version.")] = None,
    grant_to: Annotated[
        str | None,
        typer.Option(
            "--grant-to",
            help="PostgreSQL: the service's role, granted what it needs and no more (INSERT and SELECT only "
            "on the audit log).",
        ),
    ] = None,
) -> None:
    """Upgrade the database's schema to this release's version (one transaction; safe to run again)."""
    with _opened(db, migrate=False, check=False) as store:
        before = store.schema_version()
        applied = store.migrate(to)
        after = store.schema_version()
        if grant_to is not None:
            if store.backend != "postgresql":
                raise StoreCommandError("--grant-to applies to PostgreSQL only")
            store.grant_service_role(grant_to)
    done = ", ".join(str(v) for v in applied) or "none"
    typer.echo(f"schema version {before} -> {after} (applied: {done})")
    if grant_to is not None:
        typer.echo(f"role {grant_to!r} granted the service's privileges")


@store_app.command("version")
def version_command(db: Db = DEFAULT_DB) -> None:
    """Print the database's schema version and this release's (exit 1 when they differ)."""
    from ipvalue.service.store.migrations import latest_version

    with _opened(db, migrate=False, check=False) as store:
        have = store.schema_version()
    want = latest_version()
    typer.echo(f"schema version {have} (this release: {want})")
    if have != want:
        raise typer.Exit(1)


@store_app.command("export")
def export_command(
    out: Annotated[Path, typer.Option("--out", help="The export file (JSON lines; '-' for stdout).")],
    db: Db = DEFAULT_DB,
) -> None:
    """Write every record, audit entry, artifact, webhook and delivery to a checksummed JSON-lines file."""
    from ipvalue.service.store.transfer import export_store

    with _opened(db, migrate=False) as store:
        if str(out) == "-":
            counts = export_store(store, sys.stdout.buffer)
        else:
            tmp = out.with_name(out.name + ".partial")
            with open(tmp, "wb") as fh:
                counts = export_store(store, fh)
            tmp.replace(out)
    summary = ", ".join(f"{t} {n}" for t, n in counts.items())
    typer.echo(f"exported {summary}", err=True)


@store_app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(help="A file written by `ipvalue store export`.")],
    db: Db = DEFAULT_DB,
) -> None:
    """Load an export into an empty database (migrated to the export's schema version first), then verify it."""
    from ipvalue.service.store.transfer import import_store, read_export

    header, _ = read_export(file)  # checked before the database is touched
    if not str(db).startswith(("postgresql://", "postgres://")):
        Path(db).parent.mkdir(parents=True, exist_ok=True)
        Path(db).touch(mode=0o600, exist_ok=True)
    with _opened(db, migrate=False, check=False) as store:
        if store.schema_version() < header["schema_version"]:
            store.migrate(header["schema_version"])
        result = import_store(store, file)
    summary = ", ".join(f"{t} {n}" for t, n in result["rows"].items())
    typer.echo(f"imported {summary}; audit chain verifies ({result['audit_entries']} entries)")
