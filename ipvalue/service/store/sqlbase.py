"""What the SQLite and PostgreSQL stores share: every query, written once in the SQL both databases speak.

A backend supplies connections (:meth:`SqlStore._write` for a transaction, :meth:`SqlStore._read` for reads),
runs a statement (:meth:`SqlStore._rows`), and says three things about itself: how a transaction serialises the
audit chain (:meth:`SqlStore._lock_audit`), what clock leases use (:attr:`SqlStore._now`) and how a claim skips
rows another worker holds (:attr:`SqlStore._skip_locked`). Statements use ``:name`` parameters.
"""

from __future__ import annotations

import json
import secrets
import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from typing import Any

from ipvalue.service.store.audit import GENESIS, AuditSigner, entry_hash
from ipvalue.service.store.migrations import latest_version
from ipvalue.service.store.protocol import (
    AssessmentRecord,
    AuditEntry,
    AuditLogError,
    IdempotencyConflict,
    LeaseLost,
    SchemaVersionError,
    canonical_json,
    record_from_row,
    record_params,
    result_hash,
    utc_now,
)

__all__ = ["SqlStore", "TABLE_ORDER", "APPEND_ONLY_TABLES"]

#: tables in an order that satisfies their foreign keys (export and import follow it; other tables come after)
TABLE_ORDER = (
    "assessments",
    "artifacts",
    "audit_log",
    "webhooks",
    "alerts",
    "webhook_outbox",
    "webhook_attempts",
)
#: tables whose rows are never changed or deleted once written
APPEND_ONLY_TABLES = ("audit_log", "alerts", "webhook_attempts")
#: bookkeeping tables that are not data (not exported)
SCHEMA_TABLES = ("schema_migrations", "schema_info")

_RECORD_COLUMNS = tuple(
    record_params(
        AssessmentRecord("", "", "", 0.0, "", "", "", {}, None, None, "", None, "", None, None)
    ).keys()
)


def _in_clause(prefix: str, values: list[str]) -> tuple[str, dict[str, str]]:
    names = {f"{prefix}{i}": v for i, v in enumerate(values)}
    return ", ".join(f":{n}" for n in names), names


class SqlStore:
    """The queries of :class:`~ipvalue.service.store.protocol.AssessmentRepository`, for a SQL backend."""

    #: ``"sqlite"`` or ``"postgresql"``
    backend: str = ""
    #: SQL expression of the current time in seconds since the epoch (leases, delivery schedule)
    _now: str = ""
    #: appended to a claim's ``SELECT`` (``FOR UPDATE SKIP LOCKED`` where rows can be locked)
    _skip_locked: str = ""
    #: signs each audit entry's hash into its ``signature`` column and writes checkpoints of the head outside
    #: the database (``None``: entries are chained, unsigned)
    signer: AuditSigner | None = None
    _pending: threading.local

    def _init_audit(self, signer: AuditSigner | None) -> None:
        self.signer = signer
        self._pending = threading.local()  # a checkpoint due once this thread's transaction commits

    # -- what a backend provides ------------------------------------------------------------------------------
    def _write(self) -> AbstractContextManager[Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _read(self) -> AbstractContextManager[Any]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _rows(self, conn: Any, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Run one statement; its result rows as dicts (empty when it returns none)."""
        raise NotImplementedError  # pragma: no cover - abstract

    def _probe(self) -> AbstractContextManager[Any]:
        """A connection for the health check (a backend may wait less for it than for others)."""
        return self._read()

    def _lock_audit(self, conn: Any) -> None:
        """Make the rest of the transaction the only appender to the audit chain."""

    def _after_commit(self) -> None:
        """Write the checkpoint a committed transaction made due (outside the database, after the commit)."""
        due = getattr(self._pending, "checkpoint", None)
        if due is not None:
            self._pending.checkpoint = None
            if self.signer is not None:
                self.signer.write_checkpoint(*due)

    def _after_rollback(self) -> None:
        self._pending.checkpoint = None

    def check_writable(self) -> None:  # pragma: no cover - abstract
        """Raise :class:`StoreUnavailable` when a write could not be stored now; nothing is written."""
        raise NotImplementedError

    def _columns(self, conn: Any, table: str) -> list[str]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _tables(self, conn: Any) -> list[str]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _primary_key(self, conn: Any, table: str) -> list[str]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _after_import(self, conn: Any, tables: list[str]) -> None:
        """Backend bookkeeping after rows were loaded with explicit keys (sequences)."""

    def close(self) -> None:  # pragma: no cover - abstract
        """Release the backend's connections."""
        raise NotImplementedError

    # -- schema -----------------------------------------------------------------------------------------------
    def schema_version(self) -> int:
        """The highest migration applied to this database (0 for an empty database)."""
        with self._read() as conn:
            return self._schema_version(conn)

    def _schema_version(self, conn: Any) -> int:
        tables = set(self._tables(conn))
        if "schema_migrations" in tables:
            rows = self._rows(conn, "SELECT MAX(version) AS v FROM schema_migrations")
            return int(rows[0]["v"] or 0)
        return 1 if "assessments" in tables else 0  # a database of the release before versioned migrations

    def check_schema(self) -> int:
        """The schema version, after checking it is the one this release expects.

        Raises
        ------
        SchemaVersionError
            Naming both versions and the command that upgrades the database.
        """
        have, want = self.schema_version(), latest_version()
        if have != want:
            hint = "run `ipvalue store migrate`" if have < want else "upgrade ipvalue"
            raise SchemaVersionError(
                f"the {self.backend} database has schema version {have}, this release needs {want}: {hint}"
            )
        return have

    def health(self) -> dict[str, Any]:
        """Whether the store answers, and its schema version (for the health endpoint; never raises)."""
        try:
            with self._probe() as conn:
                version: int | None = self._schema_version(conn)
            reachable = True
            error = None
        except Exception as exc:  # noqa: BLE001 - health reports, it does not fail
            version, reachable, error = None, False, type(exc).__name__
        out: dict[str, Any] = {
            "backend": self.backend,
            "reachable": reachable,
            "schema_version": version,
            "expected_schema_version": latest_version(),
        }
        if error:
            out["error"] = error
        return out

    # -- audit ------------------------------------------------------------------------------------------------
    def _append_audit(self, conn: Any, entry: AuditEntry) -> int:
        self._lock_audit(conn)
        last = self._rows(conn, "SELECT entry_hash FROM audit_log ORDER BY seq DESC LIMIT 1")
        row: dict[str, Any] = {
            "at": utc_now(),
            "action": entry.action,
            "who": entry.who,
            "record_id": entry.record_id,
            "input_hash": entry.input_hash,
            "output_hash": entry.output_hash,
            "version": entry.version,
            "policy": entry.policy,
            "seed": entry.seed,
            "details_json": canonical_json(entry.details),
            "prev_hash": last[0]["entry_hash"] if last else GENESIS,
        }
        row["entry_hash"] = entry_hash(row)
        if self.signer is not None:
            row["signature"] = self.signer.sign(row["entry_hash"])
        cols = ", ".join(row)
        marks = ", ".join(f":{k}" for k in row)
        seq = int(
            self._rows(conn, f"INSERT INTO audit_log ({cols}) VALUES ({marks}) RETURNING seq", row)[0]["seq"]
        )
        if self.signer is not None and self.signer.checkpoint_due(seq):
            self._pending.checkpoint = (seq, row["entry_hash"])
        return seq

    def checkpoint(self) -> None:
        """Write a signed checkpoint of the current audit head to the anchor file (no signer: nothing)."""
        if self.signer is None:
            return
        with self._read() as conn:
            last = self._rows(conn, "SELECT seq, entry_hash FROM audit_log ORDER BY seq DESC LIMIT 1")
        if last:
            self.signer.write_checkpoint(int(last[0]["seq"]), str(last[0]["entry_hash"]))

    def append_audit(self, entry: AuditEntry) -> int:
        """Append one audit entry in its own transaction; returns its sequence number."""
        with self._write() as conn:
            return self._append_audit(conn, entry)

    def audit_entries(self, record_id: str | None = None) -> list[dict[str, Any]]:
        """Audit entries in sequence order (all, or those of ``record_id``), ``details`` decoded."""
        with self._read() as conn:
            if record_id is None:
                rows = self._rows(conn, "SELECT * FROM audit_log ORDER BY seq")
            else:
                rows = self._rows(
                    conn, "SELECT * FROM audit_log WHERE record_id = :r ORDER BY seq", {"r": record_id}
                )
        for d in rows:
            d["details"] = json.loads(d.pop("details_json"))
        return rows

    def verify_audit_chain(self) -> int:
        """Recompute the hash chain of the whole audit log; the number of entries checked.

        Raises
        ------
        AuditLogError
            Naming the first entry whose hash or link does not match.
        """
        prev = GENESIS
        n = 0
        for d in self.raw_audit_rows():
            if d["prev_hash"] != prev:
                raise AuditLogError(f"audit entry {d['seq']}: link to the previous entry is broken")
            if entry_hash(d) != d["entry_hash"]:
                raise AuditLogError(f"audit entry {d['seq']}: content does not match its hash")
            prev = d["entry_hash"]
            n += 1
        return n

    def raw_audit_rows(self) -> Iterator[dict[str, Any]]:
        """Audit rows exactly as stored (``details_json``, ``signature``), in sequence order."""
        with self._read() as conn:
            rows = self._rows(conn, "SELECT * FROM audit_log ORDER BY seq")
        yield from rows

    def finished_records(self) -> Iterator[AssessmentRecord]:
        """Every finished record, oldest first."""
        with self._read() as conn:
            ids = self._rows(
                conn, "SELECT id FROM assessments WHERE status IN ('done', 'failed') ORDER BY created_at, id"
            )
        for r in ids:
            rec = self.get(r["id"])
            if rec is not None:
                yield rec

    # -- records ----------------------------------------------------------------------------------------------
    def get(self, record_id: str) -> AssessmentRecord | None:
        """The record with this id, or ``None``."""
        with self._read() as conn:
            rows = self._rows(conn, "SELECT * FROM assessments WHERE id = :id", {"id": record_id})
        return record_from_row(rows[0]) if rows else None

    def find_idempotent(self, key_id: str, idempotency_key: str) -> AssessmentRecord | None:
        """The record ``key_id`` created under ``idempotency_key``, or ``None``."""
        with self._read() as conn:
            return self._find_idempotent(conn, key_id, idempotency_key)

    def _find_idempotent(self, conn: Any, key_id: str, idempotency_key: str) -> AssessmentRecord | None:
        rows = self._rows(
            conn,
            "SELECT * FROM assessments WHERE key_id = :k AND idempotency_key = :i",
            {"k": key_id, "i": idempotency_key},
        )
        return record_from_row(rows[0]) if rows else None

    def create(self, record: AssessmentRecord, audit: AuditEntry) -> AssessmentRecord:
        """Insert ``record`` and ``audit`` in one transaction (see ``AssessmentRepository.create``).

        The insert and the idempotency check are one statement (``ON CONFLICT DO NOTHING`` on the unique
        ``(key_id, idempotency_key)``), so two processes racing with one key store one record.
        """
        params = record_params(record)
        cols = ", ".join(params)
        marks = ", ".join(f":{k}" for k in params)
        with self._write() as conn:
            inserted = self._rows(
                conn,
                f"INSERT INTO assessments ({cols}) VALUES ({marks})"
                " ON CONFLICT (key_id, idempotency_key) DO NOTHING RETURNING id",
                params,
            )
            if not inserted:
                assert record.idempotency_key is not None  # NULL keys never conflict
                existing = self._find_idempotent(conn, record.key_id, record.idempotency_key)
                assert existing is not None
                if existing.request_hash != record.request_hash:
                    raise IdempotencyConflict(existing)
                return existing
            self._append_audit(conn, audit)
        return record

    def _finish(
        self,
        conn: Any,
        record_id: str,
        output: dict[str, Any] | None,
        error: dict[str, Any] | None,
        artifacts: bytes | None,
        owner: str | None = None,
    ) -> bool:
        rows = self._rows(
            conn,
            "UPDATE assessments SET status = :s, progress = 1.0, updated_at = :u, output_json = :o,"
            " error_json = :e, output_hash = :h, artifacts = :a, lease_until = NULL"
            " WHERE id = :id AND status IN ('queued', 'running')"
            " AND (CAST(:own AS TEXT) IS NULL OR lease_owner = :own) RETURNING id",
            {
                "own": owner,
                "s": "failed" if error is not None else "done",
                "u": utc_now(),
                "o": canonical_json(output) if output is not None else None,
                "e": canonical_json(error) if error is not None else None,
                "h": result_hash(output) if output is not None else None,
                "a": artifacts,
                "id": record_id,
            },
        )
        return bool(rows)

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
        """Complete a job: its output (status ``done``) or error (``failed``) with its audit entry, atomically.

        Raises
        ------
        LeaseLost
            No unfinished record with this id (held by ``owner`` when given): another worker took it over or
            finished it first.
        """
        with self._write() as conn:
            if not self._finish(conn, record_id, output, error, artifacts, owner):
                raise LeaseLost(f"no unfinished record {record_id!r} held by {owner or 'anyone'}")
            self._append_audit(conn, audit)
        rec = self.get(record_id)
        assert rec is not None
        return rec

    def unfinished(self) -> list[str]:
        """Ids of records still ``queued`` or ``running``, oldest first."""
        with self._read() as conn:
            rows = self._rows(
                conn,
                "SELECT id FROM assessments WHERE status IN ('queued', 'running') ORDER BY created_at, id",
            )
        return [r["id"] for r in rows]

    def list_ids(self, *, kind: str | None = None, status: str | None = None) -> list[str]:
        """Ids of the records of one kind and status (oldest first)."""
        with self._read() as conn:
            rows = self._rows(
                conn,
                "SELECT id FROM assessments WHERE (CAST(:k AS TEXT) IS NULL OR kind = :k)"
                " AND (CAST(:s AS TEXT) IS NULL OR status = :s)"
                " ORDER BY created_at, id",
                {"k": kind, "s": status},
            )
        return [r["id"] for r in rows]

    def count(self, kind: str | None = None) -> int:
        """Number of stored records (of one kind)."""
        with self._read() as conn:
            rows = self._rows(
                conn,
                "SELECT COUNT(*) AS n FROM assessments WHERE (CAST(:k AS TEXT) IS NULL OR kind = :k)",
                {"k": kind},
            )
        return int(rows[0]["n"])

    # -- artifacts --------------------------------------------------------------------------------------------
    def get_artifact(self, record_id: str, name: str) -> bytes | None:
        """A derived file kept with a record (e.g. a rendered report), or ``None``."""
        with self._read() as conn:
            rows = self._rows(
                conn,
                "SELECT data FROM artifacts WHERE record_id = :r AND name = :n",
                {"r": record_id, "n": name},
            )
        return bytes(rows[0]["data"]) if rows else None

    def put_artifact(self, record_id: str, name: str, data: bytes) -> None:
        """Keep a derived file with a record; an existing one under the same name is kept (first wins)."""
        with self._write() as conn:
            self._rows(
                conn,
                "INSERT INTO artifacts (record_id, name, created_at, data) VALUES (:r, :n, :c, :d)"
                " ON CONFLICT (record_id, name) DO NOTHING",
                {"r": record_id, "n": name, "c": utc_now(), "d": data},
            )

    # -- jobs -------------------------------------------------------------------------------------------------
    def claim_job(
        self, owner: str, lease_s: float, record_id: str | None = None, *, max_attempts: int | None = None
    ) -> AssessmentRecord | None:
        """Claim the oldest job no live worker holds (or ``record_id``): queued, or with a lapsed lease.

        The claim sets ``running``, ``lease_owner = owner`` and ``lease_until = now + lease_s`` (on the
        database's clock) and adds one to ``attempts``, in one transaction; on PostgreSQL the candidate row is
        taken with ``FOR UPDATE SKIP LOCKED``, so concurrent claimers never wait for or take the same job. With
        ``max_attempts``, a job already claimed that often (its worker died each time) is marked failed with its
        reason and an audit entry instead, and the next one is tried.

        Returns
        -------
        AssessmentRecord or None
            The claimed job (``attempts`` counts this claim); ``None`` when no job is waiting.
        """
        while True:
            with self._write() as conn:
                found = self._rows(
                    conn,
                    "SELECT id, attempts FROM assessments WHERE status IN ('queued', 'running')"
                    f" AND (lease_until IS NULL OR lease_until < {self._now})"
                    " AND (CAST(:r AS TEXT) IS NULL OR id = :r)"
                    f" ORDER BY created_at, id LIMIT 1{self._skip_locked}",
                    {"r": record_id},
                )
                if not found:
                    return None
                job_id, attempts = found[0]["id"], int(found[0]["attempts"])
                if max_attempts is not None and attempts >= max_attempts:
                    self._give_up(conn, job_id, attempts)
                    continue
                rows = self._rows(
                    conn,
                    f"UPDATE assessments SET status = 'running', lease_owner = :o, lease_until = {self._now} + :l,"
                    " attempts = attempts + 1, updated_at = :u WHERE id = :id RETURNING *",
                    {"o": owner, "l": float(lease_s), "u": utc_now(), "id": job_id},
                )
            return record_from_row(rows[0])

    def _give_up(self, conn: Any, job_id: str, attempts: int) -> None:
        rows = self._rows(conn, "SELECT * FROM assessments WHERE id = :id", {"id": job_id})
        rec = record_from_row(rows[0])
        error = {
            "code": "job_abandoned",
            "message": f"the job was started {attempts} times and its worker stopped each time; not retried",
        }
        self._finish(conn, job_id, None, error, None)
        self._append_audit(
            conn,
            AuditEntry(
                action=f"{rec.kind}.fail",
                who=rec.key_id,
                record_id=job_id,
                input_hash=rec.input_hash,
                version=rec.version,
                policy=rec.policy,
                seed=rec.seed,
                details={"reason": "job_abandoned", "attempts": attempts},
            ),
        )

    def renew_lease(self, record_id: str, owner: str, lease_s: float, progress: float | None = None) -> bool:
        """Extend ``owner``'s lease (and set the progress); ``False`` when it no longer holds the job."""
        with self._write() as conn:
            rows = self._rows(
                conn,
                f"UPDATE assessments SET lease_until = {self._now} + :l, progress = COALESCE(:p, progress),"
                " updated_at = :u WHERE id = :id AND lease_owner = :o AND status = 'running' RETURNING id",
                {"l": float(lease_s), "p": progress, "u": utc_now(), "id": record_id, "o": owner},
            )
        return bool(rows)

    # -- webhooks ---------------------------------------------------------------------------------------------
    def add_webhook(self, key_id: str, url: str) -> dict[str, Any]:
        """Register a webhook for an API key; the returned dict holds its ``secret`` (shown this once)."""
        hook = {
            "id": "whk_" + uuid.uuid4().hex,
            "key_id": key_id,
            "url": url,
            "secret": "whsec_" + secrets.token_urlsafe(32),
            "created_at": utc_now(),
            "active": 1,
        }
        with self._write() as conn:
            self._rows(
                conn,
                "INSERT INTO webhooks (id, key_id, url, secret, created_at, active)"
                " VALUES (:id, :key_id, :url, :secret, :created_at, :active)",
                hook,
            )
        return hook

    def webhooks(self, key_id: str) -> list[dict[str, Any]]:
        """The active webhooks of an API key (without their secrets)."""
        with self._read() as conn:
            return self._rows(
                conn,
                "SELECT id, key_id, url, created_at FROM webhooks WHERE key_id = :k AND active = 1"
                " ORDER BY created_at, id",
                {"k": key_id},
            )

    def remove_webhook(self, key_id: str, webhook_id: str) -> bool:
        """Stop a webhook of this key (its deliveries and log are kept); ``False`` when there is none."""
        with self._write() as conn:
            rows = self._rows(
                conn,
                "UPDATE webhooks SET active = 0 WHERE id = :id AND key_id = :k AND active = 1 RETURNING id",
                {"id": webhook_id, "k": key_id},
            )
        return bool(rows)

    def record_alert(
        self, key_id: str, record_id: str | None, payload: dict[str, Any], audit: AuditEntry
    ) -> tuple[str, list[str]]:
        """Store an alert, one outbox delivery per active webhook of ``key_id``, and ``audit``: one transaction.

        Returns
        -------
        alert_id : str
        delivery_ids : list of str
        """
        alert_id = "alr_" + uuid.uuid4().hex
        now = utc_now()
        with self._write() as conn:
            self._rows(
                conn,
                "INSERT INTO alerts (id, key_id, record_id, created_at, payload_json) VALUES (:i, :k, :r, :c, :p)",
                {"i": alert_id, "k": key_id, "r": record_id, "c": now, "p": canonical_json(payload)},
            )
            hooks = self._rows(
                conn, "SELECT id FROM webhooks WHERE key_id = :k AND active = 1", {"k": key_id}
            )
            deliveries = []
            for h in hooks:
                did = "dlv_" + uuid.uuid4().hex
                self._rows(
                    conn,
                    "INSERT INTO webhook_outbox (id, webhook_id, alert_id, created_at, status, attempts,"
                    f" next_attempt_at) VALUES (:i, :w, :a, :c, 'pending', 0, {self._now})",
                    {"i": did, "w": h["id"], "a": alert_id, "c": now},
                )
                deliveries.append(did)
            self._append_audit(conn, audit)
        return alert_id, deliveries

    def claim_deliveries(self, owner: str, lease_s: float, limit: int = 10) -> list[dict[str, Any]]:
        """Claim pending deliveries that are due and not held by a live worker (for ``lease_s`` seconds).

        Each dict holds ``id`` (the delivery id, the same on every attempt), ``attempts`` (made so far),
        ``alert_id``, ``webhook_id``, ``url``, ``secret``, ``payload_json`` and ``created_at``.
        """
        with self._write() as conn:
            due = self._rows(
                conn,
                f"SELECT id FROM webhook_outbox WHERE status = 'pending' AND next_attempt_at <= {self._now}"
                f" AND (lease_until IS NULL OR lease_until < {self._now})"
                f" ORDER BY next_attempt_at, id LIMIT :n{self._skip_locked}",
                {"n": int(limit)},
            )
            if not due:
                return []
            marks, ids = _in_clause("d", [r["id"] for r in due])
            self._rows(
                conn,
                f"UPDATE webhook_outbox SET lease_owner = :o, lease_until = {self._now} + :l WHERE id IN ({marks})",
                {"o": owner, "l": float(lease_s), **ids},
            )
            return self._rows(
                conn,
                "SELECT o.id, o.attempts, o.alert_id, o.webhook_id, o.created_at, w.url, w.secret, a.payload_json"
                " FROM webhook_outbox o JOIN webhooks w ON w.id = o.webhook_id JOIN alerts a ON a.id = o.alert_id"
                f" WHERE o.id IN ({marks}) ORDER BY o.next_attempt_at, o.id",
                ids,
            )

    def record_delivery_attempt(
        self,
        delivery_id: str,
        owner: str,
        *,
        outcome: str,
        status_code: int | None,
        error: str | None,
        duration_ms: float,
        retry_in_s: float,
    ) -> None:
        """Log one attempt; a delivered one is final, another is retried ``retry_in_s`` seconds from now."""
        with self._write() as conn:
            rows = self._rows(conn, "SELECT attempts FROM webhook_outbox WHERE id = :i", {"i": delivery_id})
            if not rows:
                raise KeyError(f"no delivery {delivery_id!r}")
            now = utc_now()
            self._rows(
                conn,
                "INSERT INTO webhook_attempts (delivery_id, attempt, at, worker, outcome, status_code, error,"
                " duration_ms) VALUES (:i, :n, :at, :w, :oc, :sc, :e, :d)",
                {
                    "i": delivery_id,
                    "n": int(rows[0]["attempts"]) + 1,
                    "at": now,
                    "w": owner,
                    "oc": outcome,
                    "sc": status_code,
                    "e": error,
                    "d": float(duration_ms),
                },
            )
            if outcome == "delivered":
                self._rows(
                    conn,
                    "UPDATE webhook_outbox SET status = 'delivered', delivered_at = :at, attempts = attempts + 1,"
                    " lease_owner = NULL, lease_until = NULL, last_error = NULL"
                    " WHERE id = :i AND status = 'pending'",
                    {"at": now, "i": delivery_id},
                )
            else:
                self._rows(
                    conn,
                    f"UPDATE webhook_outbox SET attempts = attempts + 1, next_attempt_at = {self._now} + :r,"
                    " lease_owner = NULL, lease_until = NULL, last_error = :e"
                    " WHERE id = :i AND status = 'pending'",
                    {"r": float(retry_in_s), "e": error or outcome, "i": delivery_id},
                )

    def deliveries(self, key_id: str, webhook_id: str | None = None) -> list[dict[str, Any]]:
        """The delivery log of an API key's webhooks: each delivery with its ``attempts_log`` (oldest first)."""
        with self._read() as conn:
            rows = self._rows(
                conn,
                "SELECT o.id, o.webhook_id, o.alert_id, o.created_at, o.status, o.attempts, o.delivered_at,"
                " o.last_error FROM webhook_outbox o JOIN webhooks w ON w.id = o.webhook_id"
                " WHERE w.key_id = :k AND (CAST(:w AS TEXT) IS NULL OR o.webhook_id = :w)"
                " ORDER BY o.created_at, o.id",
                {"k": key_id, "w": webhook_id},
            )
            if rows:
                marks, ids = _in_clause("d", [r["id"] for r in rows])
                log = self._rows(
                    conn,
                    "SELECT delivery_id, attempt, at, worker, outcome, status_code, error, duration_ms"
                    f" FROM webhook_attempts WHERE delivery_id IN ({marks}) ORDER BY seq",
                    ids,
                )
            else:
                log = []
        by_id: dict[str, list[dict[str, Any]]] = {}
        for entry in log:
            by_id.setdefault(entry.pop("delivery_id"), []).append(entry)
        for r in rows:
            r["attempts_log"] = by_id.get(r["id"], [])
        return rows

    # -- transfer ---------------------------------------------------------------------------------------------
    def data_tables(self) -> list[str]:
        """The tables holding data, foreign-key order first (:data:`TABLE_ORDER`), then the others by name."""
        with self._read() as conn:
            present = set(self._tables(conn)) - set(SCHEMA_TABLES)
        known = [t for t in TABLE_ORDER if t in present]
        return known + sorted(present - set(known))

    def dump_table(self, table: str) -> Iterator[dict[str, Any]]:
        """Every row of ``table`` (a name from :meth:`data_tables`) in primary-key order."""
        if table not in self.data_tables():
            raise ValueError(f"no data table {table!r}")
        with self._read() as conn:
            order = ", ".join(self._primary_key(conn, table)) or "1"
            rows = self._rows(conn, f"SELECT * FROM {table} ORDER BY {order}")
        yield from rows

    def is_empty(self) -> bool:
        """Whether no data table holds a row (an import goes only into an empty database)."""
        with self._read() as conn:
            for t in self.data_tables():
                if self._rows(conn, f"SELECT 1 AS x FROM {t} LIMIT 1"):
                    return False
        return True

    def load_tables(self, tables: Iterable[tuple[str, list[dict[str, Any]]]]) -> dict[str, int]:
        """Insert rows verbatim (keys, timestamps, hashes as stored) in one transaction; counts per table.

        Raises
        ------
        ValueError
            A table this database does not have, or a column it does not have.
        """
        counts: dict[str, int] = {}
        known = set(self.data_tables())
        with self._write() as conn:
            for table, rows in tables:
                if table not in known:
                    raise ValueError(f"this database has no table {table!r} (migrate it first)")
                columns = set(self._columns(conn, table))
                for row in rows:
                    extra = set(row) - columns
                    if extra:
                        raise ValueError(f"table {table!r} has no column(s) {sorted(extra)}")
                    cols = ", ".join(row)
                    marks = ", ".join(f":{c}" for c in row)
                    self._rows(conn, f"INSERT INTO {table} ({cols}) VALUES ({marks})", row)
                counts[table] = counts.get(table, 0) + len(rows)
            self._after_import(conn, list(counts))
        return counts
