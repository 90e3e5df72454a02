"""The server store: :class:`PostgresAssessmentStore`, the store protocol on PostgreSQL (psycopg 3).

Several processes on several hosts share one database:

* every write is one transaction; the audit chain is extended under a transaction-scoped advisory lock, so
  appends from all processes form one chain (and ``prev_hash`` is unique: the chain cannot fork);
* jobs are rows: a worker claims the oldest waiting job with ``SELECT ... FOR UPDATE SKIP LOCKED`` and a lease
  on the database server's clock; a job whose worker died is taken over when its lease runs out;
* an ``Idempotency-Key`` is unique per API key across every instance (a unique constraint, ``ON CONFLICT``);
* the audit log, the alerts and the delivery log are append-only in the database itself (triggers refuse
  ``UPDATE``, ``DELETE`` and ``TRUNCATE``), and :meth:`PostgresAssessmentStore.grant_service_role` gives the
  service's role ``SELECT`` and ``INSERT`` only on them.

The schema is created and upgraded by :meth:`PostgresAssessmentStore.migrate` (``ipvalue store migrate``),
run by a role that owns the tables; the service checks the version when it opens the store.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from ipvalue.service.store.audit import AuditSigner
from ipvalue.service.store.migrations import migrations
from ipvalue.service.store.protocol import StoreUnavailable, utc_now
from ipvalue.service.store.sqlbase import APPEND_ONLY_TABLES, SCHEMA_TABLES
from ipvalue.service.store.sqlworkbench import SqlWorkbenchStore

__all__ = ["PostgresAssessmentStore", "is_postgres_url", "redact_url"]

#: advisory-lock keys (arbitrary constants, one per purpose)
_AUDIT_LOCK = 7_270_720_001
_MIGRATE_LOCK = 7_270_720_002
#: tables the service may update (never delete from): records, subscriptions, the outbox's state
_UPDATABLE = ("assessments", "artifacts", "webhooks", "webhook_outbox")
_PARAM = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


def is_postgres_url(db: object) -> bool:
    """Whether ``db`` names a PostgreSQL database (``postgresql://`` or ``postgres://``)."""
    return isinstance(db, str) and db.startswith(("postgresql://", "postgres://"))


def redact_url(url: str) -> str:
    """The URL with its password replaced by ``***`` (for messages and logs)."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


@lru_cache(maxsize=512)
def _pg_sql(sql: str) -> str:
    """``:name`` parameters as psycopg's ``%(name)s`` (a literal ``%`` doubled)."""
    return _PARAM.sub(r"%(\1)s", sql.replace("%", "%%"))


class PostgresAssessmentStore(SqlWorkbenchStore):
    """:class:`AssessmentRepository` on a PostgreSQL database, shared by any number of processes.

    Parameters
    ----------
    url : str
        ``postgresql://user:password@host:port/dbname`` (libpq URL; ``?sslmode=...`` and the other libpq
        parameters pass through).
    min_size, max_size : int
        Connections kept and at most opened by this process (a pool).
    connect_timeout : float
        Seconds to wait for a connection (from the pool, or for the server) before failing.
    migrate : bool
        Apply missing migrations when opening (needs a role that may create tables). By default the schema
        version is only checked: :class:`SchemaVersionError` when it is not this release's.
    check : bool
        With ``False`` (and ``migrate=False``) the database is opened as it is, whatever its schema version
        (``ipvalue store version`` / ``migrate`` open it so).
    signer : AuditSigner, optional
        Signs audit entries (HMAC, key outside the database) and writes checkpoints of the head.

    A server that cannot be reached (or no pooled connection within ``connect_timeout``) raises
    :class:`StoreUnavailable` (``"unreachable"``), which the service answers with 503 and ``Retry-After``.
    """

    backend = "postgresql"
    _now = "CAST(EXTRACT(EPOCH FROM clock_timestamp()) AS DOUBLE PRECISION)"
    _skip_locked = " FOR UPDATE SKIP LOCKED"

    def __init__(
        self,
        url: str,
        *,
        min_size: int = 1,
        max_size: int = 8,
        connect_timeout: float = 10.0,
        migrate: bool = False,
        check: bool = True,
        signer: AuditSigner | None = None,
    ):
        from psycopg.rows import dict_row
        from psycopg_pool import ConnectionPool

        if not is_postgres_url(url):
            raise ValueError(f"not a PostgreSQL URL: {redact_url(str(url))!r}")
        self.url = url
        self._timeout = float(connect_timeout)
        self._init_audit(signer)
        self._pool = ConnectionPool(
            url,
            min_size=min_size,
            max_size=max_size,
            timeout=self._timeout,
            kwargs={
                "autocommit": True,
                "row_factory": dict_row,
                "connect_timeout": max(1, int(connect_timeout)),
            },
            name="ipvalue-store",
            open=False,
        )
        self._pool.open(wait=False)
        try:
            if migrate:
                self.migrate()
            elif check:
                self.check_schema()
        except BaseException:
            self._pool.close()
            raise

    def __repr__(self) -> str:
        return f"PostgresAssessmentStore({redact_url(self.url)!r})"

    # -- connections ------------------------------------------------------------------------------------------
    @contextmanager
    def _connection(self, timeout: float | None = None) -> Iterator[Any]:
        from psycopg import OperationalError

        try:
            with self._pool.connection(timeout=timeout) as conn:
                yield conn
        except OperationalError as exc:  # the server went away, or no connection in time (PoolTimeout)
            raise StoreUnavailable("unreachable", "the database server cannot be reached; try again") from exc

    @contextmanager
    def _write(self) -> Iterator[Any]:
        try:
            with self._connection() as conn, conn.transaction():
                yield conn
        except BaseException:
            self._after_rollback()
            raise
        self._after_commit()

    def _read(self) -> Any:
        return self._connection()

    def _probe(self) -> Any:
        return self._connection(timeout=2.0)

    def check_writable(self) -> None:
        """Raise :class:`StoreUnavailable` when the server cannot be reached within 2 s (nothing is written)."""
        with self._probe() as conn:
            if conn.execute("SELECT pg_is_in_recovery() AS r").fetchone()["r"]:
                raise StoreUnavailable("read_only", "the database is a read-only replica")

    def _rows(self, conn: Any, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        cur = conn.execute(_pg_sql(sql), dict(params) if params is not None else None)
        return list(cur.fetchall()) if cur.description else []

    def _lock_audit(self, conn: Any) -> None:
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_AUDIT_LOCK,))

    def _tables(self, conn: Any) -> list[str]:
        rows = conn.execute(
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
        ).fetchall()
        return [r["table_name"] for r in rows]

    def _columns(self, conn: Any, table: str) -> list[str]:
        rows = conn.execute(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name = %s ORDER BY ordinal_position",
            (table,),
        ).fetchall()
        return [r["column_name"] for r in rows]

    def _primary_key(self, conn: Any, table: str) -> list[str]:
        rows = conn.execute(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a"
            " ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)"
            " WHERE i.indrelid = to_regclass(%s) AND i.indisprimary ORDER BY array_position(i.indkey, a.attnum)",
            (table,),
        ).fetchall()
        return [r["attname"] for r in rows]

    def _after_import(self, conn: Any, tables: list[str]) -> None:
        for table in tables:  # identity columns continue after the imported keys
            for col in self._columns(conn, table):
                seq = conn.execute("SELECT pg_get_serial_sequence(%s, %s) AS s", (table, col)).fetchone()["s"]
                if seq:
                    conn.execute(
                        f"SELECT setval(%s, COALESCE((SELECT MAX({col}) FROM {table}), 0) + 1, false)", (seq,)
                    )

    def close(self) -> None:
        """Close the connection pool."""
        self._pool.close()

    # -- schema -----------------------------------------------------------------------------------------------
    def migrate(self, target: int | None = None) -> list[int]:
        """Apply the missing migrations (up to ``target``) in one transaction; the versions applied.

        Concurrent callers (two instances starting) are serialised by an advisory lock: one migrates, the
        other then finds nothing left to do.
        """
        with self._write() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATE_LOCK,))
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations"
                " (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
            )
            applied = {r["version"] for r in conn.execute("SELECT version FROM schema_migrations").fetchall()}
            done = []
            for m in migrations("postgres"):
                if m.version in applied or (target is not None and m.version > target):
                    continue
                conn.execute(m.sql)
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (%s, %s, %s)",
                    (m.version, m.name, utc_now()),
                )
                done.append(m.version)
        return done

    def grant_service_role(self, role: str) -> None:
        """Give the service's database role what it needs and no more.

        ``SELECT`` and ``INSERT`` on the append-only tables (the audit log, alerts, the delivery log);
        ``SELECT``, ``INSERT`` and ``UPDATE`` on records, artifacts, webhooks and the outbox; ``SELECT`` on the
        schema tables; ``SELECT, INSERT, UPDATE, DELETE`` on tables other features added (their own rules).
        Nothing else: no ``DELETE`` or ``TRUNCATE`` on ipvalue's tables, no DDL.
        """
        from psycopg import sql

        ident = sql.Identifier(role)
        with self._write() as conn:
            conn.execute(
                sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(self._schema(conn)), ident)
            )
            for table in self._tables(conn):
                if table in APPEND_ONLY_TABLES:
                    privileges = "SELECT, INSERT"
                elif table in SCHEMA_TABLES:
                    privileges = "SELECT"
                elif table in _UPDATABLE:
                    privileges = "SELECT, INSERT, UPDATE"
                else:
                    privileges = "SELECT, INSERT, UPDATE, DELETE"
                t = sql.Identifier(table)
                conn.execute(sql.SQL("REVOKE ALL ON {} FROM {}").format(t, ident))
                conn.execute(sql.SQL("GRANT " + privileges + " ON {} TO {}").format(t, ident))
            for r in conn.execute(
                "SELECT sequence_name FROM information_schema.sequences WHERE sequence_schema = current_schema()"
            ).fetchall():
                conn.execute(
                    sql.SQL("GRANT USAGE, SELECT ON SEQUENCE {} TO {}").format(
                        sql.Identifier(r["sequence_name"]), ident
                    )
                )

    @staticmethod
    def _schema(conn: Any) -> str:
        return str(conn.execute("SELECT current_schema() AS s").fetchone()["s"])
