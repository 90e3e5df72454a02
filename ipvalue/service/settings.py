"""Service settings: one object per app (no module-global state), every limit in one place.

The limits are stated, with their reasons, in ``docs/methodology/service.md``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ipvalue.service.auth import ApiKey, load_keys_file, new_api_key, verify_api_key

__all__ = ["ServiceSettings", "ApiKey", "new_api_key", "verify_api_key", "load_keys_file"]


class ServiceSettings(BaseModel):
    """Configuration of one service instance (no module-global state: every app gets its own).

    Parameters
    ----------
    db_path : Path
        SQLite file for assessments and the audit log.
    api_keys : list of ApiKey
        Hashed keys. With none configured every authenticated endpoint answers 401.
    max_body_bytes : int
        Largest request body accepted (413 above).
    max_patents : int
        Most patents in one request (422 above).
    job_threshold : int
        Requests with more patents than this run as a background job (202 and a status URL).
    job_workers : int
        Worker threads for jobs.
    cors_origins : list of str
        Origins allowed by CORS; empty (the default) sends no CORS headers, so browsers block cross-origin calls.
    sqlite_synchronous : {"FULL", "NORMAL"}
        See :class:`ipvalue.service.store.SQLiteAssessmentStore`.
    default_policy : str
        Policy used when a request names none.
    fetch_sources : list of str, optional
        :mod:`data_sources` sources used for requests that give patent numbers (default: every service whose
        credentials are in the environment). Credentials are read from the environment by ``data_sources``.
    fetch_cache : Path, optional
        SQLite fetch cache for those requests.
    fetch_base_urls : dict, optional
        Service root per source (a proxy, or a test server on loopback).
    api_keys_file : Path, optional
        Keys file re-read when it changes (keys added or revoked without a restart).
    compute_workers : int
        Threads running assessments, valuations, replays, monitoring and reports (the bounded executor); by
        default one per core of the machine (``os.cpu_count()``), so the pipeline runs off the event loop on
        every core (numpy releases the GIL in the Monte Carlo).
    compute_processes : int
        Worker processes computing inline-portfolio assessments and valuations (0, the default: on the
        compute threads, which share one interpreter lock). ``ipvalue serve`` starts one per core (see
        :mod:`ipvalue.service.compute`).
    queue_limit : int
        Requests that may wait for a compute worker; beyond, 503 with ``Retry-After``.
    max_draws, max_draw_cells : int
        Most Monte Carlo draws per patent, and most draws times patents in one request.
    max_text_chars, max_title_chars : int
        Longest string anywhere in a request body, and longest patent title.
    max_json_depth : int
        Deepest nesting of a request body.
    report_timeout_s : float
        A report is rendered in a child process, killed after this long (503 ``report_timeout``).
    shutdown_grace_s : float
        On SIGTERM, running work gets this long to finish; then the process exits (jobs resume elsewhere).
    job_lease_s : float
        A job is claimed for this long and the claim renewed while it runs; a claim not renewed (a killed
        process) lapses and another process may take the job.
    job_max_attempts : int
        A job claimed this many times without finishing is marked failed with its reason.
    audit_key_file : Path, optional
        Secret key (not in the database) signing audit entries and checkpoints (HMAC-SHA256); by default
        ``<db>.audit-key``, created (0600) when missing.
    audit_anchor_file : Path, optional
        Append-only file of signed checkpoints of the audit head; by default ``<db>.audit-anchor.jsonl``.
    audit_checkpoint_every : int
        A checkpoint is written after this many audit entries (and at shutdown).
    sqlite_busy_timeout_ms : int
        How long a write waits for another writer's lock before the request answers 503.
    sqlite_max_pages : int, optional
        Cap on the database size in pages (SQLite ``max_page_count``); a full database answers 503.
    retry_after_s : int
        ``Retry-After`` sent with every 503.
    db_url : str, optional
        A ``postgresql://`` URL: the store is that PostgreSQL database (``db_path`` is then unused) and
        ``audit_key_file`` must be given (every instance signs with the same key).
    db_pool_size : int
        Connections to PostgreSQL each process keeps at most.
    db_migrate : bool
        Apply missing schema migrations when the service starts (PostgreSQL: needs a role that may create
        tables; by default the schema version is only checked, see ``ipvalue store migrate``).
    webhook_timeout_s : float
        How long a webhook receiver has to answer one delivery (a timeout is retried).
    webhook_max_backoff_s : float
        Longest wait between two attempts of one delivery (the backoff doubles up to it; retries never stop).
    webhook_poll_s : float
        How often each process looks for deliveries that are due.
    peer_books : dict of str to Path
        Named peer books a profile request may rank against (``POST /v1/profiles`` with ``peer_book``): files of
        the peer firms' patents (CSV or Parquet, a ``firm`` column), each read on first use; its peer book is
        computed once per valuation date (the last four kept).
    """

    model_config = ConfigDict(extra="forbid")

    db_path: Path = Path("ipvalue-service.db")
    api_keys: list[ApiKey] = Field(default_factory=list)
    max_body_bytes: int = Field(default=5_000_000, gt=0)
    max_patents: int = Field(default=5_000, gt=0)
    job_threshold: int = Field(default=200, ge=0)
    job_workers: int = Field(default=2, ge=1, le=64)
    cors_origins: list[str] = Field(default_factory=list)
    sqlite_synchronous: Literal["FULL", "NORMAL"] = "FULL"
    default_policy: str = "cn-bank-standard"
    fetch_sources: list[str] | None = None
    fetch_cache: Path | None = None
    fetch_base_urls: dict[str, str] = Field(default_factory=dict)
    api_keys_file: Path | None = None
    compute_workers: int = Field(default_factory=lambda: min(64, max(1, os.cpu_count() or 1)), ge=1, le=64)
    compute_processes: int = Field(default=0, ge=0, le=64)
    queue_limit: int = Field(default=16, ge=0, le=10_000)
    max_draws: int = Field(default=20_000, ge=0)
    max_draw_cells: int = Field(default=20_000_000, ge=0)
    max_text_chars: int = Field(default=2_000, ge=16)
    max_title_chars: int = Field(default=500, ge=16)
    max_json_depth: int = Field(default=32, ge=4, le=200)
    report_timeout_s: float = Field(default=120.0, gt=0)
    shutdown_grace_s: float = Field(default=10.0, ge=0)
    job_lease_s: float = Field(default=30.0, gt=0)
    job_max_attempts: int = Field(default=3, ge=1)
    audit_key_file: Path | None = None
    audit_anchor_file: Path | None = None
    audit_checkpoint_every: int = Field(default=1, ge=1)
    sqlite_busy_timeout_ms: int = Field(default=2_000, ge=0)
    sqlite_max_pages: int | None = Field(default=None, ge=16)
    retry_after_s: int = Field(default=2, ge=1)
    db_url: str | None = Field(default=None, pattern=r"^postgres(ql)?://")
    db_pool_size: int = Field(default=8, ge=1, le=200)
    db_migrate: bool = False
    webhook_timeout_s: float = Field(default=5.0, gt=0, le=60)
    webhook_max_backoff_s: float = Field(default=300.0, ge=1)
    webhook_poll_s: float = Field(default=1.0, gt=0, le=60)
    peer_books: dict[str, Path] = Field(default_factory=dict)

    @field_validator("cors_origins")
    @classmethod
    def _no_wildcard(cls, v: list[str]) -> list[str]:
        if "*" in v:
            raise ValueError("a wildcard CORS origin is not allowed: list the origins")
        return v

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> ServiceSettings:
        """Settings from ``IPVALUE_*`` environment variables, then ``overrides``.

        ``IPVALUE_DB`` (path, or ``postgresql://`` URL), ``IPVALUE_API_KEYS_FILE`` (keys file), ``IPVALUE_API_KEYS`` (the same JSON inline),
        ``IPVALUE_MAX_BODY_BYTES``, ``IPVALUE_MAX_PATENTS``, ``IPVALUE_JOB_THRESHOLD``, ``IPVALUE_JOB_WORKERS``,
        ``IPVALUE_CORS_ORIGINS`` (comma-separated), ``IPVALUE_SQLITE_SYNCHRONOUS``, ``IPVALUE_FETCH_SOURCES``
        (comma-separated), ``IPVALUE_FETCH_CACHE``, ``IPVALUE_FETCH_BASE_URLS`` (JSON object),
        ``IPVALUE_AUDIT_KEY_FILE``, ``IPVALUE_AUDIT_ANCHOR_FILE``, ``IPVALUE_COMPUTE_WORKERS``,
        ``IPVALUE_QUEUE_LIMIT``, ``IPVALUE_PEER_BOOKS`` (JSON object: name to file), ``IPVALUE_JOB_LEASE_S``.
        """
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        if env.get("IPVALUE_DB", "").startswith(("postgresql://", "postgres://")):
            values["db_url"] = env["IPVALUE_DB"]
        elif env.get("IPVALUE_DB"):
            values["db_path"] = Path(env["IPVALUE_DB"])
        keys: list[ApiKey] = []
        if env.get("IPVALUE_API_KEYS_FILE"):
            values["api_keys_file"] = Path(env["IPVALUE_API_KEYS_FILE"])
        if env.get("IPVALUE_API_KEYS"):
            data = json.loads(env["IPVALUE_API_KEYS"])
            keys += [
                ApiKey.model_validate(d) for d in (data.get("keys", []) if isinstance(data, dict) else data)
            ]
        if keys:
            values["api_keys"] = keys
        for name, field_name in (
            ("IPVALUE_MAX_BODY_BYTES", "max_body_bytes"),
            ("IPVALUE_MAX_PATENTS", "max_patents"),
            ("IPVALUE_JOB_THRESHOLD", "job_threshold"),
            ("IPVALUE_JOB_WORKERS", "job_workers"),
            ("IPVALUE_COMPUTE_WORKERS", "compute_workers"),
            ("IPVALUE_COMPUTE_PROCESSES", "compute_processes"),
            ("IPVALUE_QUEUE_LIMIT", "queue_limit"),
        ):
            if env.get(name):
                values[field_name] = int(env[name])
        if env.get("IPVALUE_CORS_ORIGINS"):
            values["cors_origins"] = [o.strip() for o in env["IPVALUE_CORS_ORIGINS"].split(",") if o.strip()]
        if env.get("IPVALUE_FETCH_SOURCES"):
            values["fetch_sources"] = [
                o.strip() for o in env["IPVALUE_FETCH_SOURCES"].split(",") if o.strip()
            ]
        if env.get("IPVALUE_FETCH_CACHE"):
            values["fetch_cache"] = Path(env["IPVALUE_FETCH_CACHE"])
        if env.get("IPVALUE_FETCH_BASE_URLS"):
            values["fetch_base_urls"] = json.loads(env["IPVALUE_FETCH_BASE_URLS"])
        if env.get("IPVALUE_PEER_BOOKS"):
            values["peer_books"] = json.loads(env["IPVALUE_PEER_BOOKS"])
        if env.get("IPVALUE_JOB_LEASE_S"):
            values["job_lease_s"] = float(env["IPVALUE_JOB_LEASE_S"])
        for name, field_name in (
            ("IPVALUE_AUDIT_KEY_FILE", "audit_key_file"),
            ("IPVALUE_AUDIT_ANCHOR_FILE", "audit_anchor_file"),
        ):
            if env.get(name):
                values[field_name] = Path(env[name])
        if env.get("IPVALUE_SQLITE_SYNCHRONOUS"):
            values["sqlite_synchronous"] = env["IPVALUE_SQLITE_SYNCHRONOUS"].upper()
        values.update(overrides)
        return cls.model_validate(values)

    @model_validator(mode="after")
    def _server_store_needs_a_key_file(self) -> ServiceSettings:
        if self.db_url is not None and self.audit_key_file is None:
            raise ValueError(
                "with a PostgreSQL database give audit_key_file (--audit-key-file): every instance signs the "
                "audit trail with the same key, kept outside the database"
            )
        return self

    @property
    def database(self) -> str:
        """Where the store is: the PostgreSQL URL, or the SQLite path."""
        return self.db_url or str(self.db_path)

    def audit_key_path(self) -> Path:
        """The audit key file (``audit_key_file`` or ``<db>.audit-key``)."""
        return self.audit_key_file or self.db_path.with_name(self.db_path.name + ".audit-key")

    def audit_anchor_path(self) -> Path:
        """The checkpoint file: ``audit_anchor_file``, else next to the database (or the key file)."""
        if self.audit_anchor_file is not None:
            return self.audit_anchor_file
        if self.db_url is not None:
            key = self.audit_key_path()
            return key.with_name(key.name + ".anchor.jsonl")
        return self.db_path.with_name(self.db_path.name + ".audit-anchor.jsonl")
