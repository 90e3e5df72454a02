"""The fetch cache of the connectors (SQLite).

:class:`FetchCache` keeps the raw answers of the patent services, keyed by the canonical request
(method, URL with sorted query, body), with a time to live per kind of data: long for bibliographic
data, short for legal status, which loan monitoring needs fresh. Only answers worth keeping are stored:
200, and 404 (a number the service does not know stays unknown for a while); 403, 429 and 5xx never are.
Every entry is committed on its own, so a run that is killed loses nothing it already fetched.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import cast
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = ["FetchCache", "CachedResponse", "DEFAULT_TTL", "CACHEABLE_STATUSES", "canonical_request"]

DAY = 86_400.0

#: default time to live in seconds per kind of data
DEFAULT_TTL: dict[str, float] = {
    "biblio": 30 * DAY,  # titles, dates, parties, classes hardly change
    "family": 7 * DAY,  # new family members appear over months
    "legal": 1 * DAY,  # lapse, fee and transfer events: monitoring needs them fresh
    "status": 1 * DAY,  # USPTO status, Lens legal status
    "not_found": 1 * DAY,  # a 404 is kept, but not for long
}

#: statuses that may be cached; 403, 429 and 5xx never are
CACHEABLE_STATUSES = frozenset({200, 404})

_SCHEMA = """
CREATE TABLE IF NOT EXISTS fetch_cache (
    key TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    kind TEXT NOT NULL,
    request TEXT NOT NULL,
    status INTEGER NOT NULL,
    headers TEXT NOT NULL,
    body BLOB NOT NULL,
    fetched_at REAL NOT NULL,
    expires_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS fetch_cache_source ON fetch_cache (source, kind);
CREATE TABLE IF NOT EXISTS rate_state (
    source TEXT NOT NULL,
    key TEXT NOT NULL,
    allowance INTEGER,
    blocked_until REAL NOT NULL,
    recent TEXT NOT NULL,
    saved_at REAL NOT NULL,
    PRIMARY KEY (source, key)
);
"""


def canonical_request(
    method: str, url: str, params: Mapping[str, object] | None = None, body: bytes | str | None = None
) -> str:
    """Canonical text of a request: method, URL with sorted query parameters, body digest.

    Parameters
    ----------
    method : str
    url : str
        Absolute or relative URL; a query string in it is merged with ``params``.
    params : mapping, optional
    body : bytes or str, optional

    Returns
    -------
    str
        ``"GET https://host/path?a=1&b=2"`` plus ``" body=<sha256>"`` when there is a body. Credentials
        are never part of a request URL in this package, so the text is safe to store.
    """
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    if params:
        query += [(str(k), str(v)) for k, v in params.items()]
    canon_url = urlunsplit(
        (parts.scheme.lower(), parts.netloc.lower(), parts.path, urlencode(sorted(query)), "")
    )
    text = f"{method.upper()} {canon_url}"
    if body:
        raw = body.encode() if isinstance(body, str) else body
        text += f" body={hashlib.sha256(raw).hexdigest()}"
    return text


@dataclass(frozen=True)
class CachedResponse:
    """One cached answer.

    Attributes
    ----------
    key : str
    source, kind : str
    request : str
        The canonical request text.
    status : int
        200 or 404.
    headers : dict
        The few response headers kept (content type).
    body : bytes
    fetched_at, expires_at : float
        Unix times.
    """

    key: str
    source: str
    kind: str
    request: str
    status: int
    headers: dict[str, str]
    body: bytes
    fetched_at: float
    expires_at: float


class FetchCache:
    """SQLite cache of service answers keyed by the canonical request.

    Parameters
    ----------
    path : str or Path, default ":memory:"
        Database file; created with its parent folders.
    ttl : mapping, optional
        Time to live in seconds per kind, merged over :data:`DEFAULT_TTL`.
    clock : callable, default time.time
        Wall clock, injectable for tests.

    Examples
    --------
    >>> cache = FetchCache()
    >>> key = cache.key("GET", "https://ops.epo.org/3.2/rest-services/legal/publication/docdb/EP.1000000.A1")
    >>> cache.put(key, source="epo_ops", kind="legal", status=200, body=b"<xml/>")
    >>> cache.get(key).body
    b'<xml/>'
    """

    def __init__(
        self,
        path: str | Path = ":memory:",
        *,
        ttl: Mapping[str, float] | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.ttl = {**DEFAULT_TTL, **(ttl or {})}
        self._clock = clock
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        if self.path != ":memory:":
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(_SCHEMA)
        self.hits = 0
        self.misses = 0

    # -- keys ---------------------------------------------------------------------------------
    @staticmethod
    def key(
        method: str, url: str, params: Mapping[str, object] | None = None, body: bytes | str | None = None
    ) -> str:
        """Cache key: SHA-256 of :func:`canonical_request`."""
        return hashlib.sha256(canonical_request(method, url, params, body).encode()).hexdigest()

    # -- read / write -------------------------------------------------------------------------
    def get(self, key: str, *, include_expired: bool = False) -> CachedResponse | None:
        """The cached answer, or None when absent or expired."""
        with self._lock:
            row = self._conn.execute(
                "SELECT key, source, kind, request, status, headers, body, fetched_at, expires_at "
                "FROM fetch_cache WHERE key = ?",
                (key,),
            ).fetchone()
        if row is None or (not include_expired and row[8] <= self._clock()):
            self.misses += 1
            return None
        self.hits += 1
        return CachedResponse(
            row[0], row[1], row[2], row[3], row[4], json.loads(row[5]), bytes(row[6]), row[7], row[8]
        )

    def put(
        self,
        key: str,
        *,
        source: str,
        kind: str,
        status: int,
        body: bytes,
        headers: Mapping[str, str] | None = None,
        request: str = "",
        ttl: float | None = None,
    ) -> None:
        """Store one answer (committed at once).

        Raises
        ------
        ValueError
            For a status other than 200 and 404, or an unknown kind without an explicit ``ttl``.
        """
        if status not in CACHEABLE_STATUSES:
            raise ValueError(f"status {status} is never cached (only {sorted(CACHEABLE_STATUSES)})")
        if ttl is None:
            ttl_kind = "not_found" if status == 404 else kind
            if ttl_kind not in self.ttl:
                raise ValueError(f"no time to live for kind {kind!r}; pass ttl=")
            ttl = self.ttl[ttl_kind]
        now = self._clock()
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO fetch_cache VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    key,
                    source,
                    kind,
                    request,
                    int(status),
                    json.dumps(dict(headers or {})),
                    bytes(body),
                    now,
                    now + float(ttl),
                ),
            )

    def delete(self, keys: str | Iterable[str]) -> None:
        """Remove entries."""
        keys = [keys] if isinstance(keys, str) else list(keys)
        with self._lock:
            self._conn.executemany("DELETE FROM fetch_cache WHERE key = ?", [(k,) for k in keys])

    def clear(self, source: str | None = None, kind: str | None = None) -> int:
        """Remove every entry, or those of one source / kind; returns the number removed."""
        sql, args = "DELETE FROM fetch_cache WHERE 1=1", list[str]()
        if source:
            sql, args = sql + " AND source = ?", [*args, source]
        if kind:
            sql, args = sql + " AND kind = ?", [*args, kind]
        with self._lock:
            return self._conn.execute(sql, args).rowcount

    def purge_expired(self) -> int:
        """Remove expired entries; returns the number removed."""
        with self._lock:
            return self._conn.execute(
                "DELETE FROM fetch_cache WHERE expires_at <= ?", (self._clock(),)
            ).rowcount

    # -- rate-limit state shared between processes ----------------------------------------------
    def save_rate_state(self, source: str, state: Mapping[str, Mapping[str, object]]) -> None:
        """Store a source's rate-limit state: per key ``allowance``, ``blocked_until`` and ``recent`` (Unix times).

        A later process reading it (:meth:`load_rate_state`) keeps within the same per-minute allowance and
        honours a block (an OPS service turned black) that an earlier process was told about.
        """
        now = self._clock()
        rows = [
            (
                source,
                key,
                v.get("allowance"),
                float(cast(float, v.get("blocked_until") or 0.0)),
                json.dumps([float(t) for t in cast(Iterable[float], v.get("recent") or [])]),
                now,
            )
            for key, v in state.items()
        ]
        with self._lock:
            self._conn.executemany("INSERT OR REPLACE INTO rate_state VALUES (?, ?, ?, ?, ?, ?)", rows)

    def load_rate_state(self, source: str) -> dict[str, dict[str, object]]:
        """The rate-limit state saved for ``source`` (see :meth:`save_rate_state`)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT key, allowance, blocked_until, recent FROM rate_state WHERE source = ?", (source,)
            ).fetchall()
        return {k: {"allowance": a, "blocked_until": b, "recent": json.loads(r)} for k, a, b, r in rows}

    def __len__(self) -> int:
        with self._lock:
            return self._conn.execute("SELECT COUNT(*) FROM fetch_cache").fetchone()[0]

    def counts(self) -> dict[tuple[str, str], int]:
        """Number of entries per (source, kind)."""
        with self._lock:
            rows = self._conn.execute("SELECT source, kind, COUNT(*) FROM fetch_cache GROUP BY source, kind")
            return {(s, k): n for s, k, n in rows}

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> FetchCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"FetchCache(path={self.path!r})"
