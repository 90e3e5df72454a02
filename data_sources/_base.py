"""The common interface of every source: fetch many numbers, get a Patent or an error per number."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import httpx

from data_sources._errors import ConfigurationError, DataSourceError, InternalError, ParseError
from data_sources._http import HttpCore, RateLimiter, RetryPolicy, Secret
from ipvalue.facts.patent import Patent

logger = logging.getLogger("data_sources")

__all__ = ["Source", "HttpSource", "Outcome", "iso_time", "env_secret", "make_patent"]

#: what a source returns per requested (canonical) number
Outcome = Patent | DataSourceError

Progress = Callable[[str, int], None]


def iso_time(ts: float) -> str:
    """ISO 8601 UTC text of a Unix time (seconds precision)."""
    return dt.datetime.fromtimestamp(ts, tz=dt.UTC).replace(microsecond=0).isoformat()


def env_secret(name: str, env: Mapping[str, str] | None = None) -> Secret | None:
    """A credential from the environment (``env`` defaults to ``os.environ``), None when unset or blank."""
    value = (os.environ if env is None else env).get(name, "").strip()
    return Secret(value) if value else None


def make_patent(patent_id: str, fields: Mapping[str, Any], *, source: str, fetched_at: float) -> Patent:
    """Build a :class:`Patent` from parsed fields, turning a validation error into :class:`ParseError`.

    Fields that are None are left unset, so ``Patent.model_fields_set`` tells what the source really said;
    the one exception is ``legal_status``: a record whose status the source did not state gets None (unknown),
    never the model's hand-entry default ``"granted"``.
    """
    clean = {k: v for k, v in fields.items() if v is not None and v != [] and k != "patent_id"}
    clean.setdefault("legal_status", None)
    try:
        return Patent(patent_id=patent_id, **clean, source=source, fetched_at=iso_time(fetched_at))
    except ValueError as exc:  # pydantic ValidationError is a ValueError
        msg = " ".join(str(exc).split())[:300]
        raise ParseError(f"{patent_id}: the service's facts do not validate: {msg}", source=source) from exc


class Source:
    """A source of patent facts.

    Subclasses implement :meth:`fetch_many`; use a source as an async context manager.
    """

    name: str = "source"
    #: fields this source is the authority for when sources disagree (see :mod:`data_sources._merge`)
    authority: tuple[str, ...] = ()

    async def __aenter__(self) -> Source:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def fetch_many(
        self, numbers: Sequence[str], *, progress: Progress | None = None
    ) -> dict[str, Outcome]:
        """Facts of each number.

        Parameters
        ----------
        numbers : sequence of str
            Canonical patent numbers (``ipvalue.normalize_number``), without duplicates.
        progress : callable, optional
            Called ``progress(number, 1)`` as each number finishes.

        Returns
        -------
        dict
            One entry per input number: a :class:`ipvalue.Patent` (``source`` and ``fetched_at`` set) or the
            :class:`DataSourceError` that stopped it.
        """
        raise NotImplementedError

    def stats(self) -> dict[str, Any]:
        """Counters of the last run (requests, cache hits, retries)."""
        return {}


class HttpSource(Source):
    """A source over HTTP: owns an :class:`~data_sources._http.HttpCore`.

    Parameters
    ----------
    base_url : str, optional
        Service root; defaults to the public service.
    client : httpx.AsyncClient, optional
        Injected client (never closed here).
    transport : httpx.AsyncBaseTransport, optional
        Injected transport for the client built here.
    cache : data_sources.cache.FetchCache, optional
    refresh : bool, default False
        Ignore cached answers (and replace them).
    concurrency : int, optional
        Requests in flight for this source (default per source).
    retry : RetryPolicy, optional
    timeout : float, default 30
    allowance : mapping, optional
        Initial requests per minute per service (the server's signals update it).
    clock, monotonic : callable, optional
        Wall clock (``fetched_at``, cache) and the clock of the rate limiter; both injectable.
    sleep : async callable, optional
    env : mapping, optional
        Where to read credentials (``os.environ`` by default).
    """

    default_base_url = ""
    default_concurrency = 2
    default_allowance: Mapping[str, int | None] = {}

    def __init__(
        self,
        *,
        base_url: str | None = None,
        client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        cache: Any = None,
        refresh: bool = False,
        concurrency: int | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = 30.0,
        allowance: Mapping[str, int | None] | None = None,
        clock: Callable[[], float] | None = None,
        monotonic: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[Any]] | None = None,
        env: Mapping[str, str] | None = None,
    ):
        self.base_url = (base_url or self.default_base_url).rstrip("/")
        sleep = sleep or asyncio.sleep
        # a 61 s window: one second of margin so that network latency cannot make the server's
        # rolling minute see more requests than the client's
        limiter = RateLimiter(
            {**self.default_allowance, **(allowance or {})},
            clock=monotonic or time.monotonic,
            sleep=sleep,
            window=61.0,
        )
        self.core = HttpCore(
            self.name,
            client=client,
            transport=transport,
            timeout=timeout,
            concurrency=concurrency or self.default_concurrency,
            retry=retry,
            limiter=limiter,
            cache=cache,
            refresh=refresh,
            clock=clock or time.time,
            sleep=sleep,
        )
        self._check_credentials(env)  # credentials are read now; the mapping itself is not kept

    def _check_credentials(self, env: Mapping[str, str] | None) -> None:  # pragma: no cover - overridden
        return None

    async def __aenter__(self) -> HttpSource:
        await self.core.open()
        cache = self.core.cache
        if cache is not None and hasattr(cache, "load_rate_state"):
            # another process may have spent part of this minute's allowance, or been told to hold off
            self.core.limiter.restore(cache.load_rate_state(self.name), self.core.clock())
        return self

    async def __aexit__(self, *exc: object) -> None:
        cache = self.core.cache
        try:
            if cache is not None and hasattr(cache, "save_rate_state"):
                cache.save_rate_state(self.name, self.core.limiter.export(self.core.clock()))
        finally:
            await self.core.aclose()

    def stats(self) -> dict[str, Any]:
        return {
            "requests": self.core.requests,
            "cache_hits": self.core.cache_hits,
            "retries": self.core.retries,
            "rate_limit_wait_s": round(self.core.limiter.waited, 3),
        }

    async def _gather(
        self, numbers: Sequence[str], one: Callable[[str], Awaitable[Patent]], progress: Progress | None
    ) -> dict[str, Outcome]:
        async def run(n: str) -> tuple[str, Outcome]:
            try:
                out: Outcome = await one(n)
            except DataSourceError as exc:
                out = exc
            except Exception as exc:  # a bug or an unforeseen record shape: one number fails, not the batch
                logger.exception("%s: unexpected error on %s", self.name, n)
                out = InternalError(f"{n}: unexpected {type(exc).__name__}: {exc}", source=self.name)
            if progress is not None:
                progress(n, 1)
            return n, out

        pairs = await asyncio.gather(*(run(n) for n in numbers))
        return dict(pairs)


def require(value: Secret | None, name: str, source: str) -> Secret:
    """The credential or a :class:`ConfigurationError` naming the variable (never the value)."""
    if value is None:
        raise ConfigurationError(f"credential {name} is not set", source=source)
    return value
