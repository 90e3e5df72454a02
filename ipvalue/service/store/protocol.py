"""The store protocol: what the service needs from a database of assessments and audit entries.

The HTTP service and the monitoring job keep every assessment, its input and its output (JSON), and one audit
entry per action (who, when, input hash, output hash, package version, policy, seed). :class:`AssessmentRepository`
is the seam: the service calls only its methods, so another database (PostgreSQL) is one more class. A backend
must give these guarantees (the SQLite backend's tests show each one):

* every write is one transaction: a process killed mid-request leaves the whole record with its audit entry, or
  nothing;
* the audit log is append-only, each entry linked to the previous one by hash and signed with the
  :class:`~ipvalue.service.store.audit.AuditSigner` the backend was given (HMAC with a key kept out of the
  database), and checkpoints of its head are written outside the database;
* a finished record (``done`` / ``failed``) never changes;
* a job is run by whoever holds its lease: :meth:`AssessmentRepository.claim_job` takes a job whose lease has
  lapsed and counts the attempt, :meth:`~AssessmentRepository.renew_lease` keeps it, and
  :meth:`~AssessmentRepository.finish` only succeeds for the holder;
* a busy or full database raises :class:`StoreUnavailable` (the service answers 503 with ``Retry-After``),
  promptly: :meth:`~AssessmentRepository.check_writable` lets a request find out before it does its work.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from ipvalue.errors import IpvalueError

__all__ = [
    "AssessmentRecord",
    "AuditEntry",
    "AssessmentRepository",
    "IdempotencyConflict",
    "AuditLogError",
    "StoreUnavailable",
    "LeaseLost",
    "canonical_json",
    "sha256_json",
    "sha256_text",
    "result_hash",
    "hashed_json",
    "new_record_id",
    "utc_now",
    "record_from_row",
    "record_params",
    "SchemaVersionError",
    "AlertOutbox",
]

Status = Literal["queued", "running", "done", "failed"]
Kind = Literal["assessment", "valuation"]
FINAL_STATUSES = ("done", "failed")


def canonical_json(obj: Any) -> str:
    """JSON text with sorted keys and no whitespace (the form every hash is taken over)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def sha256_text(text: str) -> str:
    """``sha256:<hex>`` of ``text`` (UTF-8): :func:`sha256_json` of an object whose canonical JSON is ``text``."""
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def sha256_json(obj: Any) -> str:
    """``sha256:<hex>`` of :func:`canonical_json` of ``obj``."""
    return sha256_text(canonical_json(obj))


#: wall-clock fields left out of the output hash, so that the same request gives the same hash
VOLATILE_OUTPUT_FIELDS: tuple[tuple[str, str], ...] = (("audit", "created_at"),)


def result_hash(output: dict[str, Any]) -> str:
    """``sha256:`` of an output without its wall-clock fields (:data:`VOLATILE_OUTPUT_FIELDS`).

    Two runs of the same request (same inputs, seed, policy and package version) have the same result hash.
    """
    trimmed = dict(output)
    for outer, inner in VOLATILE_OUTPUT_FIELDS:
        if isinstance(trimmed.get(outer), dict) and inner in trimmed[outer]:
            trimmed[outer] = {k: v for k, v in trimmed[outer].items() if k != inner}
    return sha256_json(trimmed)


def hashed_json(output: dict[str, Any]) -> tuple[str, str]:
    """``(result_hash(output), canonical_json(output))``, rendering ``output`` once.

    The canonical text of an object is its members' texts in key order, so the whole and the hashed form (without
    :data:`VOLATILE_OUTPUT_FIELDS`) share every member but the volatile ones' parents.
    """
    if not all(type(k) is str for k in output):  # json orders other keys before turning them into text
        return result_hash(output), canonical_json(output)
    parts = {k: canonical_json(v) for k, v in output.items()}
    hashed = dict(parts)
    for outer, inner in VOLATILE_OUTPUT_FIELDS:
        if isinstance(output.get(outer), dict) and inner in output[outer]:
            hashed[outer] = canonical_json({k: v for k, v in output[outer].items() if k != inner})

    def join(members: dict[str, str]) -> str:
        return "{" + ",".join(f"{canonical_json(k)}:{members[k]}" for k in sorted(members)) + "}"

    return "sha256:" + hashlib.sha256(join(hashed).encode("utf-8")).hexdigest(), join(parts)


def new_record_id(kind: str = "assessment") -> str:
    """A fresh random identifier (``asm_``, ``val_`` or ``prf_`` for a profile, + 32 hex digits)."""
    prefix = {"valuation": "val", "profile": "prf"}.get(kind, "asm")
    return f"{prefix}_{uuid.uuid4().hex}"


def utc_now() -> str:
    """The current UTC time, ISO 8601 with microseconds (every stored timestamp has this form)."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


class SchemaVersionError(IpvalueError):
    """The database's schema is older (or newer) than this release expects: run ``ipvalue store migrate``."""


class IdempotencyConflict(Exception):
    """An ``Idempotency-Key`` was reused with a different request body.

    Attributes
    ----------
    existing : AssessmentRecord
        The record first created under that key.
    """

    def __init__(self, existing: AssessmentRecord):
        self.existing = existing
        super().__init__("idempotency key already used with a different request body")


class AuditLogError(RuntimeError):
    """The audit log does not verify (an entry was altered, re-signed without the key, or removed)."""


class StoreUnavailable(IpvalueError):
    """The database cannot take the request now (busy with another writer, or full); try again later.

    Attributes
    ----------
    reason : {"busy", "full", "closed"}
    """

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


class LeaseLost(KeyError):
    """The job is not (or no longer) held by this runner: another process took it, or it is finished."""


@dataclass
class AssessmentRecord:
    """One stored assessment (or valuation), as the repository returns it.

    Attributes
    ----------
    id : str
    kind : {"assessment", "valuation"}
    status : {"queued", "running", "done", "failed"}
        ``queued`` / ``running`` for a job not finished yet.
    progress : float
        0 to 1.
    created_at, updated_at : str
        ISO 8601 UTC.
    key_id : str
        The API key (its id, never the secret) that created the record.
    input : dict
        The request as received (after validation), JSON.
    output : dict or None
        The result, JSON (``None`` until done).
    error : dict or None
        ``{"code", "message"}`` when failed.
    input_hash, output_hash : str
        ``sha256:`` of the canonical JSON of the input, and :func:`result_hash` of the output.
    version, policy : str
    seed : int
    idempotency_key, request_hash : str or None
        The client's ``Idempotency-Key`` and the hash of the body it was first used with.
    artifacts : bytes or None
        Binary side data kept with the record (e.g. the Monte Carlo recovery draws).
    attempts : int
        How many times a job was claimed (each claim by a runner counts one).
    lease_owner : str or None
        The runner holding the job now.
    input_json, output_json : str or None
        :func:`canonical_json` of ``input`` / ``output`` when the caller already rendered it (stored as given,
        so it is not rendered twice); not part of the record's value (left out of comparisons).
    """

    id: str
    kind: str
    status: str
    progress: float
    created_at: str
    updated_at: str
    key_id: str
    input: dict[str, Any]
    output: dict[str, Any] | None
    error: dict[str, Any] | None
    input_hash: str
    output_hash: str | None
    version: str
    policy: str | None
    seed: int | None
    idempotency_key: str | None = None
    request_hash: str | None = None
    artifacts: bytes | None = field(default=None, repr=False)
    attempts: int = 0
    lease_owner: str | None = None
    input_json: str | None = field(default=None, repr=False, compare=False)
    output_json: str | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class AuditEntry:
    """One line of the audit log.

    Attributes
    ----------
    action : str
        ``assessment.create``, ``assessment.complete``, ``assessment.fail``, ``valuation.create``,
        ``job.submit``, ``monitor.run``...
    who : str
        API key id (or ``cli:<user>`` for the command line).
    record_id : str or None
    input_hash, output_hash : str or None
    version, policy : str or None
    seed : int or None
    details : dict
        Small JSON extras (never secrets).
    """

    action: str
    who: str
    record_id: str | None = None
    input_hash: str | None = None
    output_hash: str | None = None
    version: str | None = None
    policy: str | None = None
    seed: int | None = None
    details: dict[str, Any] = field(default_factory=dict)


def record_from_row(r: Mapping[str, Any]) -> AssessmentRecord:
    """An :class:`AssessmentRecord` from a stored ``assessments`` row (JSON columns decoded)."""
    artifacts = r["artifacts"]
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
        artifacts=bytes(artifacts) if artifacts is not None else None,
        attempts=int(r.get("attempts") or 0),
        lease_owner=r.get("lease_owner"),
        output_json=r["output_json"] if isinstance(r["output_json"], str) else None,
    )


def record_params(record: AssessmentRecord) -> dict[str, Any]:
    """The ``assessments`` columns of a new record (JSON encoded canonically), for an ``INSERT``."""
    return {
        "id": record.id,
        "kind": record.kind,
        "status": record.status,
        "progress": record.progress,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
        "key_id": record.key_id,
        "input_json": record.input_json or canonical_json(record.input),
        "output_json": record.output_json
        or (canonical_json(record.output) if record.output is not None else None),
        "error_json": canonical_json(record.error) if record.error is not None else None,
        "input_hash": record.input_hash,
        "output_hash": record.output_hash,
        "version": record.version,
        "policy": record.policy,
        "seed": record.seed,
        "idempotency_key": record.idempotency_key,
        "request_hash": record.request_hash,
        "artifacts": record.artifacts,
    }


@runtime_checkable
class AssessmentRepository(Protocol):
    """What the service needs from a store of assessments and audit entries (the seam for another database).

    Every method may raise :class:`StoreUnavailable` when the database is busy or full.
    """

    def create(self, record: AssessmentRecord, audit: AuditEntry) -> AssessmentRecord:
        """Insert a record and its audit entry atomically.

        With ``record.idempotency_key`` set and a record already stored under (``key_id``, that key): return the
        stored one when ``request_hash`` matches, else raise :class:`IdempotencyConflict`.
        """
        ...

    def get(self, record_id: str) -> AssessmentRecord | None:
        """The record, or ``None``."""
        ...

    def find_idempotent(self, key_id: str, idempotency_key: str) -> AssessmentRecord | None:
        """The record created by ``key_id`` under ``idempotency_key``, or ``None``."""
        ...

    def check_writable(self) -> None:
        """Raise :class:`StoreUnavailable` now if a write would have to wait or could not be stored."""
        ...

    def claim_job(self, owner: str, lease_s: float, record_id: str | None = None) -> AssessmentRecord | None:
        """Take an unfinished job nobody holds (its lease absent or lapsed), oldest first, or ``record_id``.

        The claim sets ``lease_owner = owner``, a lease of ``lease_s`` seconds, status ``running``, and adds one
        to ``attempts``; it is atomic, so two runners never hold one job. ``None`` when there is nothing to take.
        """
        ...

    def renew_lease(self, record_id: str, owner: str, lease_s: float, progress: float | None = None) -> bool:
        """Extend ``owner``'s lease (and set the progress); ``False`` when ``owner`` no longer holds the job."""
        ...

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
        """Store a job's result (or failure) and its audit entry atomically; a finished record is final.

        With ``owner`` given, only the holder of the lease may finish (:class:`LeaseLost` otherwise).
        """
        ...

    def unfinished(self) -> list[str]:
        """Ids of jobs still ``queued`` or ``running``, oldest first."""
        ...

    def append_audit(self, entry: AuditEntry) -> int:
        """Append one audit entry; returns its sequence number."""
        ...

    def audit_entries(self, record_id: str | None = None) -> list[dict[str, Any]]:
        """Audit entries in order (all, or those of one record), ``details`` decoded."""
        ...

    def finished_records(self) -> Iterator[AssessmentRecord]:
        """Every finished record (for verification), oldest first."""
        ...

    def checkpoint(self) -> None:
        """Write a signed checkpoint of the audit head outside the database now."""
        ...

    def get_artifact(self, record_id: str, name: str) -> bytes | None:
        """A derived file kept with a finished record (e.g. a rendered report), or ``None``."""
        ...

    def put_artifact(self, record_id: str, name: str, data: bytes) -> None:
        """Keep a derived file; the first one stored under a name wins (they are deterministic)."""
        ...

    def verify_audit_chain(self) -> int:
        """Recompute the audit log's hash chain; the number of entries (:class:`AuditLogError` names a bad one)."""
        ...

    def schema_version(self) -> int:
        """The highest schema migration applied to the database."""
        ...

    def health(self) -> dict[str, Any]:
        """``{"backend", "reachable", "schema_version", "expected_schema_version"}``; never raises."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


@runtime_checkable
class AlertOutbox(Protocol):
    """Webhook subscriptions per API key, alerts and their outbox, the delivery log (both backends)."""

    def add_webhook(self, key_id: str, url: str) -> dict[str, Any]:
        """Register ``url`` for ``key_id``; the dict holds the subscription's ``secret`` (returned this once)."""
        ...

    def webhooks(self, key_id: str) -> list[dict[str, Any]]:
        """The key's active subscriptions (never their secrets)."""
        ...

    def remove_webhook(self, key_id: str, webhook_id: str) -> bool:
        """Stop a subscription (its deliveries and log are kept)."""
        ...

    def record_alert(
        self, key_id: str, record_id: str | None, payload: dict[str, Any], audit: AuditEntry
    ) -> tuple[str, list[str]]:
        """Store an alert, one outbox row per active subscription of ``key_id`` and ``audit``, atomically."""
        ...

    def claim_deliveries(self, owner: str, lease_s: float, limit: int = 10) -> list[dict[str, Any]]:
        """Lease due deliveries no live worker holds."""
        ...

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
        """Log an attempt; delivered is final, anything else is retried ``retry_in_s`` from now."""
        ...

    def deliveries(self, key_id: str, webhook_id: str | None = None) -> list[dict[str, Any]]:
        """The delivery log: each delivery with its attempts."""
        ...
