"""The HTTP core shared by the connectors: rate limits, retries, the cache, concurrency, secrets.

One :class:`HttpCore` per source wraps an ``httpx.AsyncClient`` (injected, or built from an injected
transport, or built here with TLS verification on). A request goes: cache lookup (unless ``refresh``),
per-source concurrency slot, per-service rate-limit slot, send, then the source's reading of the answer
(throttle headers, token renewal, rejection reasons). 5xx, 429, timeouts, dropped connections and
unreadable bodies are retried with exponential backoff and full jitter, a bounded number of times,
honouring ``Retry-After``. Clock and sleep are injectable so tests run in virtual time.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from data_sources._errors import (
    AuthError,
    DataSourceError,
    NotFound,
    ParseError,
    RateLimited,
    ResponseError,
    SourceUnavailable,
)
from data_sources.cache import canonical_request

__all__ = ["Secret", "RetryPolicy", "RateLimiter", "HttpCore", "Answer", "parse_retry_after", "USER_AGENT"]

logger = logging.getLogger("data_sources")

USER_AGENT = "ipvalue-data-sources (+https://github.com/ipvalue)"


class Secret:
    """A credential that never shows itself in ``repr``, ``str`` or logs.

    Parameters
    ----------
    value : str
    """

    __slots__ = ("_value",)

    def __init__(self, value: str):
        if not value:
            raise ValueError("empty secret")
        self._value = value

    def reveal(self) -> str:
        """The value, for building an ``Authorization`` header and nothing else."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))


def parse_retry_after(
    value: str | None, *, unit: Literal["s", "ms"] = "s", now: float | None = None
) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta or HTTP date).

    Parameters
    ----------
    value : str or None
    unit : {"s", "ms"}
        Unit of a numeric value. RFC 9110 says seconds; python-epo-ops-client reads OPS's value for a
        black service as milliseconds (unconfirmed), hence the switch.
    now : float, optional
        Unix time used for an HTTP-date value.

    Returns
    -------
    float or None
        None when absent or unreadable; never negative.
    """
    if value is None or not str(value).strip():
        return None
    v = str(value).strip()
    try:
        num = float(v)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(v).timestamp()
        except (TypeError, ValueError, IndexError):
            return None
        return max(0.0, when - (time.time() if now is None else now))
    return max(0.0, num / 1000.0 if unit == "ms" else num)


@dataclass
class RetryPolicy:
    """How often and how long to retry.

    Parameters
    ----------
    max_attempts : int, default 4
        Attempts per request, the first included.
    backoff : float, default 0.5
        Base delay in seconds; attempt ``n`` waits a uniform draw in ``[0, min(max_backoff, backoff * 2**n)]``
        (full jitter).
    max_backoff : float, default 30
    max_retry_after : float, default 300
        A ``Retry-After`` longer than this is not waited for: the request fails with :class:`RateLimited`.
    max_reauth : int, default 1
        Token renewals per request.
    seed : int, optional
        Seed of the jitter draws (reproducible tests).
    """

    max_attempts: int = 4
    backoff: float = 0.5
    max_backoff: float = 30.0
    max_retry_after: float = 300.0
    max_reauth: int = 1
    seed: int | None = None
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._rng = random.Random(self.seed)

    def delay(self, attempt: int) -> float:
        """Jittered backoff before attempt ``attempt + 1`` (``attempt`` counts from 0)."""
        cap = min(self.max_backoff, self.backoff * (2.0**attempt))
        return self._rng.uniform(0.0, cap)


class RateLimiter:
    """Requests per minute per key on a rolling one-minute window, plus blocks until a given time.

    Parameters
    ----------
    allowance : mapping, optional
        Initial requests per minute per key; a key without one is not limited until told.
    clock : callable, default time.monotonic
    sleep : callable, default asyncio.sleep
    window : float, default 60

    Notes
    -----
    Servers tell the allowance as they go (OPS ``X-Throttling-Control``); :meth:`set_allowance` and
    :meth:`block` update it. Every grant is recorded, so :attr:`granted` is the send log a test can check.
    """

    def __init__(
        self,
        allowance: Mapping[str, int | None] | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        window: float = 60.0,
    ):
        self._allowance: dict[str, int | None] = dict(allowance or {})
        self._windows: dict[str, deque[float]] = {}
        self._blocked: dict[str, float] = {}
        self.clock = clock
        self.sleep = sleep
        self.window = window
        self.granted: list[tuple[str, float]] = []
        self.waited = 0.0

    def allowance(self, key: str) -> int | None:
        """Current requests per minute for ``key`` (None = unknown, not limited)."""
        return self._allowance.get(key)

    def set_allowance(self, key: str, per_minute: int | None) -> None:
        """Set the requests per minute for ``key``."""
        self._allowance[key] = per_minute

    def block(self, key: str, seconds: float) -> None:
        """Hold every request for ``key`` for ``seconds`` from now."""
        until = self.clock() + max(0.0, seconds)
        self._blocked[key] = max(self._blocked.get(key, 0.0), until)

    def blocked_for(self, key: str) -> float:
        """Seconds left of a block on ``key`` (0 when none)."""
        return max(0.0, self._blocked.get(key, 0.0) - self.clock())

    def export(self, wall: float) -> dict[str, dict[str, Any]]:
        """State per key in wall-clock time (``wall`` = the wall clock now), for another process to load."""
        now = self.clock()
        keys = set(self._allowance) | set(self._blocked) | set(self._windows)
        return {
            k: {
                "allowance": self._allowance.get(k),
                "blocked_until": wall + self.blocked_for(k),
                "recent": [wall - (now - t) for t in self._windows.get(k, ()) if t > now - self.window],
            }
            for k in keys
        }

    def restore(self, state: Mapping[str, Mapping[str, Any]], wall: float) -> None:
        """Load :meth:`export` output: allowances, blocks still running, requests of the last window."""
        now = self.clock()
        for k, v in state.items():
            if v.get("allowance") is not None:
                self._allowance[k] = int(v["allowance"])
            left = float(v.get("blocked_until") or 0.0) - wall
            if left > 0:
                self.block(k, left)
            recent = sorted(
                now - (wall - float(t)) for t in v.get("recent") or [] if wall - float(t) < self.window
            )
            if recent:
                win = self._windows.setdefault(k, deque())
                merged = sorted([*win, *recent])
                win.clear()
                win.extend(merged)

    async def acquire(self, key: str) -> None:
        """Wait until a request for ``key`` may go, then record it."""
        while True:
            now = self.clock()
            blocked = self._blocked.get(key, 0.0)
            if now < blocked:
                await self._wait(blocked - now)
                continue
            win = self._windows.setdefault(key, deque())
            while win and win[0] <= now - self.window:
                win.popleft()
            limit = self._allowance.get(key)
            if limit is None or len(win) < limit:
                win.append(now)
                self.granted.append((key, now))
                return
            if limit <= 0:
                await self._wait(self.window)
                continue
            await self._wait(win[0] + self.window - now)

    async def _wait(self, seconds: float) -> None:
        seconds = max(seconds, 1e-3)
        self.waited += seconds
        await self.sleep(seconds)


@dataclass
class Answer:
    """A service answer, fresh or from the cache.

    Attributes
    ----------
    status : int
    body : bytes
    headers : dict
        Lower-case names.
    from_cache : bool
    fetched_at : float
        Unix time the service sent it.
    """

    status: int
    body: bytes
    headers: dict[str, str]
    from_cache: bool
    fetched_at: float

    def text(self) -> str:
        """The body decoded as UTF-8."""
        return self.body.decode("utf-8", errors="replace")


@dataclass
class _Tries:
    """What one request has used so far.

    Attributes
    ----------
    attempt : int
        Attempts used (a token renewal does not use one).
    reauths : int
        Token renewals.
    last_error : DataSourceError or None
        The error of the last failed attempt, raised when none is left.
    """

    attempt: int = 0
    reauths: int = 0
    last_error: DataSourceError | None = None


#: what a source's ``classify`` hook may ask the core to do with an error answer
Verdict = Literal["ok", "retry", "reauth"] | DataSourceError

_RETRYABLE_EXC = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError, httpx.ProxyError)


class HttpCore:
    """Requests of one source: cache, concurrency, rate limits, retries, token renewal.

    Parameters
    ----------
    source : str
        Source name, used in errors, cache entries and logs.
    client : httpx.AsyncClient, optional
        Injected client; the core never closes it.
    transport : httpx.AsyncBaseTransport, optional
        Injected transport for a client built here.
    timeout : float, default 30
    concurrency : int, default 2
        Requests in flight at once for this source.
    retry : RetryPolicy, optional
    limiter : RateLimiter, optional
    cache : data_sources.cache.FetchCache, optional
    refresh : bool, default False
        Skip cache lookups (answers are still stored).
    clock : callable, default time.time
        Wall clock for ``fetched_at`` and cache times.
    sleep : callable, default asyncio.sleep
    """

    def __init__(
        self,
        source: str,
        *,
        client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 30.0,
        concurrency: int = 2,
        retry: RetryPolicy | None = None,
        limiter: RateLimiter | None = None,
        cache: Any = None,
        refresh: bool = False,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ):
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.source = source
        self._client = client
        self._owns_client = client is None
        self._transport = transport
        self.timeout = timeout
        self.concurrency = concurrency
        self.retry = retry or RetryPolicy()
        self.limiter = limiter or RateLimiter(sleep=sleep)
        self.cache = cache
        self.refresh = refresh
        self.clock = clock
        self.sleep = sleep
        self._sem: asyncio.Semaphore | None = None
        self.requests = 0
        self.cache_hits = 0
        self.retries = 0
        self.log: list[tuple[str, str, int | str]] = []

    async def open(self) -> None:
        """Create the client (when none was injected) and the concurrency slots."""
        if self._client is None:
            self._client = httpx.AsyncClient(
                transport=self._transport,
                timeout=self.timeout,
                verify=True,
                headers={"User-Agent": USER_AGENT},
                follow_redirects=False,
            )
            self._owns_client = True
        self._sem = asyncio.Semaphore(self.concurrency)

    async def aclose(self) -> None:
        """Close the client if this core built it."""
        if self._client is not None and self._owns_client:
            await self._client.aclose()
            self._client = None

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            raise RuntimeError(
                f"{self.source}: HTTP core not opened (use the source as an async context manager)"
            )
        return self._client

    # -- cache helpers ------------------------------------------------------------------------
    def cache_key(
        self, method: str, url: str, params: Mapping[str, Any] | None = None, body: bytes | str | None = None
    ) -> str | None:
        if self.cache is None:
            return None
        return self.cache.key(method, url, params, body)

    def cached(self, key: str | None) -> Answer | None:
        """A cached answer for ``key`` unless refreshing."""
        if key is None or self.cache is None or self.refresh:
            return None
        hit = self.cache.get(key)
        if hit is None:
            return None
        self.cache_hits += 1
        return Answer(hit.status, hit.body, dict(hit.headers), True, hit.fetched_at)

    def store(
        self,
        key: str | None,
        *,
        kind: str,
        status: int,
        body: bytes,
        request: str = "",
        content_type: str | None = None,
    ) -> None:
        """Put an answer in the cache (no-op without a cache)."""
        if key is None or self.cache is None:
            return
        headers = {"content-type": content_type} if content_type else {}
        self.cache.put(
            key, source=self.source, kind=kind, status=status, body=body, headers=headers, request=request
        )

    # -- the request loop ---------------------------------------------------------------------
    async def request(
        self,
        method: str,
        url: str,
        *,
        kind: str,
        service: str = "default",
        params: Mapping[str, Any] | None = None,
        content: bytes | str | None = None,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
        auth: Callable[[], Awaitable[Mapping[str, str]]] | None = None,
        classify: Callable[[httpx.Response], Verdict] | None = None,
        on_response: Callable[[httpx.Response], None] | None = None,
        on_reauth: Callable[[Mapping[str, str]], Awaitable[None]] | None = None,
        validate: Callable[[bytes], Any] | None = None,
        use_cache: bool = True,
        label: str = "",
    ) -> Answer:
        """Send one request with everything around it; see the class docstring.

        Parameters
        ----------
        kind : str
            Cache kind (``biblio``, ``family``, ``legal``, ``status``) choosing the time to live.
        service : str
            Rate-limit key within the source (OPS throttles per service).
        auth : async callable, optional
            Returns the authentication headers (called for every attempt, so a renewed token is used).
        classify : callable, optional
            Reads an error answer: ``"retry"``, ``"reauth"``, ``"ok"`` or an error to raise. Without it,
            or when it returns None, the generic rules apply.
        on_response : callable, optional
            Sees every answer (throttle and quota headers).
        validate : callable, optional
            Parses the body; a :class:`ParseError` from it is retried and then raised. Only a body that
            validates is cached.
        label : str
            What is being fetched, for error messages.

        Raises
        ------
        DataSourceError
            One of its subclasses when the request cannot succeed.
        """
        if json_body is not None:
            content = json.dumps(json_body, sort_keys=True, ensure_ascii=False).encode()
        key = self.cache_key(method, url, params, content) if use_cache else None
        hit = self.cached(key)
        if hit is not None:
            if hit.status == 404:
                raise NotFound(f"{label or url}: not found (cached)", source=self.source, status=404)
            return hit
        assert self._sem is not None, "open() first"
        tries = _Tries()
        what = label or url
        async with self._sem:
            while tries.attempt < self.retry.max_attempts:
                sent = await self._send_once(
                    method, url, what, tries.attempt, service, params, content, json_body, headers, auth
                )
                if isinstance(sent, DataSourceError):
                    tries.last_error = sent
                    await self._spend_attempt(tries, service, None)
                    continue
                resp, body, req_headers = sent
                verdict = self._verdict(resp, method, what, classify, on_response)
                if verdict == "reauth":
                    await self._renew(tries, on_reauth, req_headers, resp, what)
                    continue  # a renewal does not use up an attempt
                if isinstance(verdict, NotFound):
                    self.store(key, kind=kind, status=404, body=body, request=_req_text(method, url, params))
                    raise verdict
                if isinstance(verdict, DataSourceError) or verdict == "retry":
                    tries.last_error, wait = self._retry_or_raise(verdict, resp, what)
                    await self._spend_attempt(tries, service, wait)
                    continue
                invalid = self._invalid(validate, body, resp, what)
                if invalid is not None:
                    tries.last_error = invalid
                    await self._spend_attempt(tries, service, None)
                    continue
                return self._fresh_answer(key, kind, method, url, params, resp, body)
        assert tries.last_error is not None
        raise tries.last_error

    async def _send_once(
        self,
        method: str,
        url: str,
        what: str,
        attempt: int,
        service: str,
        params: Mapping[str, Any] | None,
        content: bytes | str | None,
        json_body: Any,
        headers: Mapping[str, str] | None,
        auth: Callable[[], Awaitable[Mapping[str, str]]] | None,
    ) -> tuple[httpx.Response, bytes, dict[str, str]] | DataSourceError:
        """Send the request once: rate-limit slot, headers, send, read the whole body.

        Parameters
        ----------
        method, url, service, params, content, json_body, headers, auth
            As given to :meth:`request` (``content`` already holds the encoded ``json_body``).
        what : str
            What is being fetched, for error messages.
        attempt : int
            Attempts used so far (0 for the first).

        Returns
        -------
        tuple or DataSourceError
            The answer, its body and the headers sent; or, when the body cannot be decoded or the transport
            failed in a way worth retrying, the error (a :class:`ParseError` or :class:`SourceUnavailable`).

        Raises
        ------
        ResponseError
            On any other transport error (bad URL, unsupported protocol): retrying will not help.
        """
        await self.limiter.acquire(service)
        req_headers = dict(headers or {})
        if json_body is not None:
            req_headers.setdefault("Content-Type", "application/json")
        if auth is not None:
            req_headers.update(await auth())
        self.requests += 1
        try:
            resp = await self.client.request(method, url, params=params, content=content, headers=req_headers)
            body = resp.content  # reads the whole body; a dropped connection raises here
        except httpx.DecodingError as exc:
            return ParseError(f"{what}: body cannot be decoded ({exc})", source=self.source)
        except _RETRYABLE_EXC as exc:
            self.log.append((method, what, type(exc).__name__))
            return SourceUnavailable(
                f"{what}: {type(exc).__name__} after {attempt + 1} attempt(s)", source=self.source
            )
        except httpx.HTTPError as exc:  # bad URL, unsupported protocol...: retrying will not help
            raise ResponseError(f"{what}: {type(exc).__name__}", source=self.source) from exc
        return resp, body, req_headers

    def _verdict(
        self,
        resp: httpx.Response,
        method: str,
        what: str,
        classify: Callable[[httpx.Response], Verdict] | None,
        on_response: Callable[[httpx.Response], None] | None,
    ) -> Verdict:
        """Log an answer, show it to ``on_response`` and read it (the source's ``classify``, else the generic rules).

        Parameters
        ----------
        resp : httpx.Response
            The answer.
        method, classify, on_response
            As given to :meth:`request`.
        what : str
            What is being fetched, for the log and error messages.

        Returns
        -------
        Verdict
            ``"ok"``, ``"retry"``, ``"reauth"`` or an error.
        """
        self.log.append((method, what, resp.status_code))
        logger.debug("%s %s %s -> %s", self.source, method, what, resp.status_code)
        if on_response is not None:
            on_response(resp)
        verdict: Verdict | None = classify(resp) if classify is not None else None
        if verdict is None:
            verdict = self._generic(resp, what)
        return verdict

    async def _renew(
        self,
        tries: _Tries,
        on_reauth: Callable[[Mapping[str, str]], Awaitable[None]] | None,
        refused: dict[str, str],
        resp: httpx.Response,
        what: str,
    ) -> None:
        """Renew the access token after a refusal, at most ``retry.max_reauth`` times a request.

        Parameters
        ----------
        tries : _Tries
            The request's counts (``reauths`` goes up by one).
        on_reauth : async callable or None
            As given to :meth:`request`; it gets the headers that were refused.
        refused : dict
            The headers sent.
        resp : httpx.Response
            The refusal.
        what : str
            What is being fetched, for the error message.

        Raises
        ------
        AuthError
            When the token was renewed as often as allowed already, or there is no way to renew it.
        """
        if tries.reauths >= self.retry.max_reauth or on_reauth is None:
            raise AuthError(
                f"{what}: access token refused after renewal", source=self.source, status=resp.status_code
            )
        tries.reauths += 1
        await on_reauth(refused)

    def _retry_or_raise(
        self, verdict: Verdict, resp: httpx.Response, what: str
    ) -> tuple[DataSourceError, float | None]:
        """The error to remember and the wait before the next attempt, for an error or ``"retry"`` verdict.

        Parameters
        ----------
        verdict : Verdict
            An error (other than :class:`NotFound`) or ``"retry"``.
        resp : httpx.Response
            The answer (for the generic error of a ``"retry"``).
        what : str
            What is being fetched, for the error message.

        Returns
        -------
        error : DataSourceError
            The error raised if no attempt is left.
        wait : float or None
            The service's ``Retry-After``, if it said one.

        Raises
        ------
        DataSourceError
            The error itself when it is not retryable, or when the service asks to wait longer than
            ``retry.max_retry_after``.
        """
        if isinstance(verdict, DataSourceError):
            if not verdict.retryable:
                raise verdict
            if verdict.retry_after is not None and verdict.retry_after > self.retry.max_retry_after:
                raise verdict
            return verdict, verdict.retry_after
        last_error = _retry_error(resp, what, self.source)
        wait = _retry_after_of(resp)
        if wait is not None and wait > self.retry.max_retry_after:
            raise last_error
        return last_error, wait

    def _invalid(
        self, validate: Callable[[bytes], Any] | None, body: bytes, resp: httpx.Response, what: str
    ) -> ParseError | None:
        """Check a good answer's body with ``validate``.

        Parameters
        ----------
        validate : callable or None
            As given to :meth:`request`.
        body : bytes
            The answer's body.
        resp : httpx.Response
            The answer (for its status).
        what : str
            What is being fetched, for the error message.

        Returns
        -------
        ParseError or None
            The error to retry on, None when the body validates (or there is nothing to validate it with).
        """
        if validate is None:
            return None
        try:
            validate(body)
        except ParseError as exc:
            return ParseError(f"{what}: {exc.message}", source=self.source, status=resp.status_code)
        return None

    async def _spend_attempt(self, tries: _Tries, service: str, wait: float | None) -> None:
        """Count an attempt used and, if another one is left, wait before it.

        Parameters
        ----------
        tries : _Tries
            The request's counts (``attempt`` goes up by one).
        service : str
            Rate-limit key within the source.
        wait : float or None
            Seconds the service asked to wait: every request of ``service`` is held that long. None: this
            request backs off (exponential, with jitter).
        """
        tries.attempt += 1
        if tries.attempt < self.retry.max_attempts:
            self.retries += 1
            if wait is not None:
                # the service said when: hold every request of this service, not only this one
                self.limiter.block(service, wait)
            else:
                await self.sleep(self.retry.delay(tries.attempt - 1))

    def _fresh_answer(
        self,
        key: str | None,
        kind: str,
        method: str,
        url: str,
        params: Mapping[str, Any] | None,
        resp: httpx.Response,
        body: bytes,
    ) -> Answer:
        """Cache a good answer and return it.

        Parameters
        ----------
        key : str or None
            Cache key (None: not cached).
        kind, method, url, params
            As given to :meth:`request`.
        resp : httpx.Response
            The answer.
        body : bytes
            Its body.

        Returns
        -------
        Answer
            Fresh (not from the cache), with lower-case header names, fetched now.
        """
        self.store(
            key,
            kind=kind,
            status=200,
            body=body,
            request=_req_text(method, url, params),
            content_type=resp.headers.get("content-type"),
        )
        return Answer(
            resp.status_code, body, {k.lower(): v for k, v in resp.headers.items()}, False, self.clock()
        )

    def _generic(self, resp: httpx.Response, what: str) -> Verdict:
        s = resp.status_code
        if 200 <= s < 300:
            return "ok"
        if s == 404:
            return NotFound(f"{what}: not found", source=self.source, status=404)
        if s == 429 or s >= 500:
            return "retry"
        if s in (401, 403):
            return AuthError(f"{what}: refused ({_short(resp)})", source=self.source, status=s)
        return ResponseError(f"{what}: {_short(resp)}", source=self.source, status=s)


def _retry_after_of(resp: httpx.Response) -> float | None:
    return parse_retry_after(resp.headers.get("retry-after"))


def _retry_error(resp: httpx.Response, what: str, source: str) -> DataSourceError:
    if resp.status_code == 429:
        return RateLimited(
            f"{what}: too many requests",
            source=source,
            status=429,
            retry_after=_retry_after_of(resp),
            retryable=True,
        )
    return SourceUnavailable(f"{what}: server error {_short(resp)}", source=source, status=resp.status_code)


def _short(resp: httpx.Response) -> str:
    try:
        text = resp.text
    except Exception:  # pragma: no cover - undecodable body
        text = ""
    text = " ".join(text.split())
    return f"HTTP {resp.status_code} {text[:160]}".strip()


def _req_text(method: str, url: str, params: Mapping[str, Any] | None) -> str:
    return canonical_request(method, url, params)
