"""Service settings and API keys.

API keys are configured as hashed records, never as secrets: each record holds the key id, a random salt,
``sha256(salt || secret)`` and the scopes. :func:`new_api_key` makes a secret and its record;
:func:`verify_api_key` checks a presented secret against every record in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "ApiKey",
    "ServiceSettings",
    "new_api_key",
    "hash_api_key",
    "verify_api_key",
    "load_keys_file",
    "SCOPES",
]

SCOPES: tuple[str, ...] = ("read", "write")
Scope = Literal["read", "write"]


def hash_api_key(secret: str, salt: bytes) -> str:
    """Hex SHA-256 of ``salt || secret`` (UTF-8)."""
    return hashlib.sha256(salt + secret.encode("utf-8")).hexdigest()


class ApiKey(BaseModel):
    """One configured API key, stored hashed.

    Parameters
    ----------
    id : str
        Public name of the key (recorded as ``who`` in the audit log).
    salt : str
        Hex of at least 16 random bytes.
    sha256 : str
        Hex SHA-256 of ``salt || secret``.
    scopes : list of {"read", "write"}
        ``read`` for GET endpoints, ``write`` for POST endpoints.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    salt: str = Field(pattern=r"^[0-9a-f]{32,}$")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    scopes: tuple[Scope, ...] = ("read",)


def new_api_key(key_id: str, scopes: tuple[str, ...] | list[str] = ("read", "write")) -> tuple[str, ApiKey]:
    """Make a random secret and its hashed record.

    Returns
    -------
    secret : str
        Give it to the client once; it is not stored.
    record : ApiKey
        Put it in the keys file (``{"keys": [record, ...]}``).
    """
    secret = "ipv_" + secrets.token_urlsafe(32)
    salt = secrets.token_bytes(16)
    return secret, ApiKey(id=key_id, salt=salt.hex(), sha256=hash_api_key(secret, salt), scopes=tuple(scopes))


def verify_api_key(secret: str | None, keys: tuple[ApiKey, ...] | list[ApiKey]) -> ApiKey | None:
    """The key whose hash matches ``secret``, or ``None``.

    Every configured key is hashed and compared with :func:`hmac.compare_digest`, whether or not an earlier one
    matched, so the time taken does not tell which key (or how much of it) was right.
    """
    if not secret:
        return None
    found = None
    for k in keys:
        digest = hash_api_key(secret, bytes.fromhex(k.salt))
        if hmac.compare_digest(digest, k.sha256) and found is None:
            found = k
    return found


def load_keys_file(path: str | Path) -> list[ApiKey]:
    """Read a keys file: JSON ``{"keys": [{"id", "salt", "sha256", "scopes"}, ...]}`` (or the bare list)."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if isinstance(data, dict):
        data = data.get("keys", [])
    return [ApiKey.model_validate(d) for d in data]


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

    @field_validator("cors_origins")
    @classmethod
    def _no_wildcard(cls, v: list[str]) -> list[str]:
        if "*" in v:
            raise ValueError("a wildcard CORS origin is not allowed: list the origins")
        return v

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> ServiceSettings:
        """Settings from ``IPVALUE_*`` environment variables, then ``overrides``.

        ``IPVALUE_DB`` (path), ``IPVALUE_API_KEYS_FILE`` (keys file), ``IPVALUE_API_KEYS`` (the same JSON inline),
        ``IPVALUE_MAX_BODY_BYTES``, ``IPVALUE_MAX_PATENTS``, ``IPVALUE_JOB_THRESHOLD``, ``IPVALUE_JOB_WORKERS``,
        ``IPVALUE_CORS_ORIGINS`` (comma-separated), ``IPVALUE_SQLITE_SYNCHRONOUS``, ``IPVALUE_FETCH_SOURCES``
        (comma-separated), ``IPVALUE_FETCH_CACHE``, ``IPVALUE_FETCH_BASE_URLS`` (JSON object).
        """
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        if env.get("IPVALUE_DB"):
            values["db_path"] = Path(env["IPVALUE_DB"])
        keys: list[ApiKey] = []
        if env.get("IPVALUE_API_KEYS_FILE"):
            keys += load_keys_file(env["IPVALUE_API_KEYS_FILE"])
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
        if env.get("IPVALUE_SQLITE_SYNCHRONOUS"):
            values["sqlite_synchronous"] = env["IPVALUE_SQLITE_SYNCHRONOUS"].upper()
        values.update(overrides)
        return cls.model_validate(values)
