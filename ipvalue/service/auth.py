"""API keys: hashed records, constant-time checks, a keys file reloaded when it changes.

API keys are configured as hashed records, never as secrets: each record holds the key id, a random salt,
``sha256(salt || secret)`` and the scopes. :func:`new_api_key` makes a secret and its record;
:func:`verify_api_key` checks a presented secret against every record in constant time. A keys file is written
whole (a temporary file renamed over it) with mode 0600, and :class:`KeyRing` re-reads it when its modification
time or size changes, so adding or revoking a key needs no restart.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ipvalue.errors import InputError

__all__ = [
    "ApiKey",
    "KeyRing",
    "SCOPES",
    "hash_api_key",
    "load_keys_file",
    "new_api_key",
    "revoke_key",
    "add_key",
    "verify_api_key",
    "write_keys_file",
]

log = logging.getLogger("ipvalue.service")

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


def new_api_key(key_id: str, scopes: Sequence[str] = ("read", "write")) -> tuple[str, ApiKey]:
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
    return secret, ApiKey.model_validate(
        {"id": key_id, "salt": salt.hex(), "sha256": hash_api_key(secret, salt), "scopes": tuple(scopes)}
    )


def verify_api_key(secret: str | None, keys: Sequence[ApiKey]) -> ApiKey | None:
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


def write_keys_file(path: str | Path, keys: Sequence[ApiKey]) -> None:
    """Write the keys file whole, mode 0600: a temporary file in the same folder renamed over the old one.

    A reader (the running service) sees the old file or the new one, never half of one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"keys": [k.model_dump(mode="json") for k in keys]}, fh, indent=2)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def add_key(path: str | Path, key_id: str, scopes: Sequence[str]) -> str:
    """Add a new key to the keys file (created 0600 when missing); returns its secret."""
    path = Path(path)
    records = load_keys_file(path) if path.exists() else []
    if any(r.id == key_id for r in records):
        raise InputError([(None, "--add-key", f"a key with id {key_id!r} already exists in {path}")])
    secret, record = new_api_key(key_id, scopes)
    write_keys_file(path, [*records, record])
    return secret


def revoke_key(path: str | Path, key_id: str) -> None:
    """Remove the key ``key_id`` from the keys file (a running service stops accepting it at its next request)."""
    path = Path(path)
    records = load_keys_file(path) if path.exists() else []
    kept = [r for r in records if r.id != key_id]
    if len(kept) == len(records):
        raise InputError([(None, "--revoke-key", f"no key with id {key_id!r} in {path}")])
    write_keys_file(path, kept)


class KeyRing:
    """The keys a service accepts: fixed ones plus those of a keys file, re-read when the file changes.

    Parameters
    ----------
    fixed : sequence of ApiKey
        Keys given directly (settings); always accepted.
    path : Path, optional
        Keys file. Its modification time and size are looked at most every ``check_interval`` seconds; when
        they changed, the file is read again. A file that cannot be read keeps the keys read before (logged).
    check_interval : float
        Seconds between two looks at the file.
    """

    def __init__(self, fixed: Sequence[ApiKey] = (), path: Path | None = None, check_interval: float = 0.5):
        self._fixed = tuple(fixed)
        self._path = path
        self._interval = check_interval
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._from_file: tuple[ApiKey, ...] = ()
        self._checked = 0.0
        if path is not None:
            self._reload(force=True)

    def _reload(self, force: bool = False) -> None:
        assert self._path is not None
        try:
            st = self._path.stat()
        except FileNotFoundError:
            self._stamp, self._from_file = None, ()
            return
        stamp = (st.st_mtime_ns, st.st_size)
        if not force and stamp == self._stamp:
            return
        try:
            keys = tuple(load_keys_file(self._path))
        except (OSError, ValueError) as exc:
            if force:
                raise
            log.error("keys file %s could not be read (%s); keeping the keys read before", self._path, exc)
            return
        self._stamp, self._from_file = stamp, keys
        log.info("keys file %s read: %d key(s)", self._path, len(keys))

    def keys(self) -> tuple[ApiKey, ...]:
        """The keys accepted now."""
        if self._path is not None:
            now = time.monotonic()
            if now - self._checked >= self._interval:
                with self._lock:
                    if now - self._checked >= self._interval:
                        self._reload()
                        self._checked = now
        return self._fixed + self._from_file
