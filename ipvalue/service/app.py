"""The application factory: the guard in front of every request, the per-app services, error handlers."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ipvalue._version import __version__
from ipvalue.service.auth import KeyRing, verify_api_key
from ipvalue.service.bodies import check_json_body, friendly_errors
from ipvalue.service.compute import ComputePool
from ipvalue.service.errors import ApiError, error_body
from ipvalue.service.jobs import JobRunner, WorkPool, kill_report_children
from ipvalue.service.pipeline import Pipeline, make_fetch
from ipvalue.service.routes import PUBLIC_PATHS, register_routes
from ipvalue.service.settings import ServiceSettings
from ipvalue.service.store import AssessmentRepository, SQLiteAssessmentStore, StoreUnavailable, open_store
from ipvalue.service.store.audit import AuditSigner
from ipvalue.service.store.protocol import AlertOutbox
from ipvalue.service.webhooks import WebhookDispatcher
from ipvalue.web import PREFIX as WEB_PREFIX
from ipvalue.web import build_workbench

__all__ = ["build_app", "app_from_env", "SETTINGS_ENV", "Services"]

log = logging.getLogger("ipvalue.service")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_SECURITY_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


async def _send_json(
    send: Send, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> None:
    resp = JSONResponse(body, status_code=status, headers={**_SECURITY_HEADERS, **(headers or {})})
    await send({"type": "http.response.start", "status": status, "headers": resp.raw_headers})
    await send({"type": "http.response.body", "body": resp.body})


class Guard:
    """Checks every HTTP request before the app sees it.

    1. the body is read up to ``max_body_bytes`` (413 beyond, also when ``Content-Length`` says so up front);
    2. outside the public paths, an API key (``Authorization: Bearer`` or ``X-API-Key``) must match a key of the
       key ring (401 otherwise, before the body is parsed); the key goes to ``scope["state"]["api_key"]``;
    3. a JSON body is checked (:func:`~ipvalue.service.bodies.check_json_body`: UTF-8, JSON, depth, string
       lengths, control characters, finite numbers) and replayed to the app;
    4. an exception no handler took becomes a bare 500 ``internal_error`` (logged, never echoed);
    5. responses carry ``Cache-Control: no-store`` and ``X-Content-Type-Options: nosniff``.
    """

    def __init__(self, app: ASGIApp, services: Services):
        self.app = app
        self.services = services

    def _check(self, body: bytes) -> None:
        s = self.services.settings
        check_json_body(body, max_depth=s.max_json_depth, max_text=s.max_text_chars)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        if path == "/" or path == WEB_PREFIX or path.startswith(WEB_PREFIX + "/"):
            await self.app(scope, receive, send)  # the workbench: its own sign-in, limits and headers
            return
        settings = self.services.settings
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        limit = settings.max_body_bytes
        too_large = error_body("payload_too_large", f"request body larger than {limit} bytes")
        try:
            declared = int(headers.get("content-length", "0") or 0)
        except ValueError:
            await _send_json(send, 400, error_body("bad_request", "invalid Content-Length"))
            return
        if declared > limit:
            await _send_json(send, 413, too_large, {"Connection": "close"})
            return

        if path not in PUBLIC_PATHS:
            secret = headers.get("x-api-key")
            auth = headers.get("authorization", "")
            if not secret and auth[:7].lower() == "bearer ":
                secret = auth[7:].strip()
            key = verify_api_key(secret, self.services.keys.keys())
            if key is None:
                await _send_json(
                    send,
                    401,
                    error_body("unauthorized", "missing or invalid API key"),
                    {"WWW-Authenticate": "Bearer"},
                )
                return
            scope.setdefault("state", {})["api_key"] = key

        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            chunks.append(chunk)
            size += len(chunk)
            more = message.get("more_body", False)
            if size > limit:
                await _send_json(send, 413, too_large, {"Connection": "close"})
                return
        body = b"".join(chunks)
        if body and scope.get("method") in ("POST", "PUT", "PATCH"):
            try:
                if len(body) > 32_768:  # a large body is checked off the event loop (health stays prompt)
                    await anyio.to_thread.run_sync(self._check, body)
                else:
                    self._check(body)
            except ApiError as exc:
                await _send_json(send, exc.status, error_body(exc.code, exc.message, exc.details))
                return
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        started = False

        async def send_with_headers(message: dict[str, Any]) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message = dict(message)
                message["headers"] = [
                    *message.get("headers", []),
                    (b"cache-control", b"no-store"),
                    (b"x-content-type-options", b"nosniff"),
                ]
            await send(message)

        try:
            await self.app(scope, replay, send_with_headers)
        except Exception:
            # answered here, not re-raised: the client gets a bare 500 and the connection stays usable
            log.exception("unhandled error on %s %s", scope.get("method"), path)
            if started:
                raise
            await _send_json(send, 500, error_body("internal_error", "internal error"))


class Services:
    """Per-app state: settings, keys, pipeline, store (opened lazily), work pool, compute processes, jobs."""

    def __init__(self, settings: ServiceSettings, pipeline: Pipeline, store: AssessmentRepository | None):
        self.settings = settings
        self.pipeline = pipeline
        self.keys = KeyRing(settings.api_keys, settings.api_keys_file)
        self.pool = WorkPool(settings.compute_workers, settings.queue_limit, settings.retry_after_s)
        self.compute = ComputePool(pipeline, settings.compute_processes)
        self.shutting_down = False
        self._store = store
        self._own_store = store is None
        self._jobs: JobRunner | None = None
        self._webhooks: WebhookDispatcher | None = None
        self._policy_names: list[str] | None = None
        self._peer_books: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._probe = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ipvalue-store-probe")
        self._probed: tuple[float, dict[str, Any]] | None = None

    @property
    def store(self) -> AssessmentRepository:
        """The store (PostgreSQL at ``settings.db_url`` or SQLite at ``db_path``, with the audit signer)."""
        with self._lock:
            if self._store is None:
                s = self.settings
                signer = AuditSigner.from_key_file(
                    s.audit_key_path(), s.audit_anchor_path(), s.audit_checkpoint_every
                )
                if s.db_url is not None:
                    self._store = open_store(
                        s.db_url, migrate=s.db_migrate, signer=signer, max_size=s.db_pool_size
                    )
                else:
                    self._store = SQLiteAssessmentStore(
                        s.db_path,
                        synchronous=s.sqlite_synchronous,
                        busy_timeout_ms=s.sqlite_busy_timeout_ms,
                        signer=signer,
                        max_pages=s.sqlite_max_pages,
                    )
            return self._store

    @property
    def jobs(self) -> JobRunner:
        """The background job runner."""
        store = self.store
        with self._lock:
            if self._jobs is None:
                s = self.settings
                self._jobs = JobRunner(
                    store,
                    self.pipeline,
                    s.job_workers,
                    lease_s=s.job_lease_s,
                    max_attempts=s.job_max_attempts,
                    poll_s=min(1.0, s.job_lease_s / 4),
                )
            return self._jobs

    @property
    def outbox(self) -> AlertOutbox | None:
        """The store as an alert outbox (``None`` for a store that keeps no webhooks)."""
        store = self.store
        return store if isinstance(store, AlertOutbox) else None

    def start_webhooks(self) -> None:
        """Start this process's webhook dispatcher (when the store keeps webhooks)."""
        outbox = self.outbox
        if outbox is None:
            return
        s = self.settings
        owner = self.jobs.owner  # outside the lock: the jobs property takes it
        with self._lock:
            if self._webhooks is None:
                self._webhooks = WebhookDispatcher(
                    outbox,
                    owner,
                    timeout_s=s.webhook_timeout_s,
                    max_backoff_s=s.webhook_max_backoff_s,
                    poll_s=s.webhook_poll_s,
                )
                self._webhooks.start()

    def wake_webhooks(self) -> None:
        """Send new deliveries now rather than at the next poll."""
        if self._webhooks is not None:
            self._webhooks.wake()

    async def store_health(self) -> dict[str, Any]:
        """The store's reachability and schema version (for the health and readiness routes).

        Probed on a thread of its own, at most once a second and never for longer than 2 s, so a health check
        waits neither behind requests nor on a dead database.
        """
        now = time.monotonic()
        if self._probed is not None and now - self._probed[0] < 1.0:
            return self._probed[1]
        from ipvalue.service.store.migrations import latest_version

        try:
            fut = self._probe.submit(lambda: self.store.health())
            result: dict[str, Any] = await asyncio.wait_for(asyncio.wrap_future(fut), timeout=2.0)
        except Exception as exc:  # noqa: BLE001 - the store could not even be opened, or the probe hung
            result = {
                "backend": "postgresql" if self.settings.db_url else "sqlite",
                "reachable": False,
                "schema_version": None,
                "expected_schema_version": latest_version(),
                "error": type(exc).__name__,
            }
        self._probed = (now, result)
        return result

    def peer_book(self, name: str, as_of: str) -> tuple[Any, str | None]:
        """The named peer book of ``settings.peer_books`` at ``as_of`` and its file's ``sha256:``.

        The file is read once, the book computed once per date.
        """
        from ipvalue.profile import PeerBookCache

        with self._lock:
            if name not in self._peer_books:
                self._peer_books[name] = PeerBookCache(self.settings.peer_books[name])
            cache = self._peer_books[name]
        book = cache.get(as_of)
        return book, cache.digest

    def policy_names(self) -> list[str]:
        """Known policy names (read once: the presets ship with the package)."""
        if self._policy_names is None:
            self._policy_names = self.pipeline.policy_names()
        return self._policy_names

    def close(self) -> bool:
        """Stop taking work, give running work the grace period; ``True`` when everything finished."""
        self.shutting_down = True
        if self._jobs is not None:
            self._jobs.stop()
        if self._webhooks is not None:
            self._webhooks.stop()
        self._probe.shutdown(wait=False, cancel_futures=True)
        drained = self.pool.close(self.settings.shutdown_grace_s)
        self.compute.close(drained)
        kill_report_children()
        if self._store is not None:
            try:
                self._store.checkpoint()
            except Exception:  # noqa: BLE001 - shutting down: log, carry on
                log.warning("no audit checkpoint at shutdown", exc_info=True)
            if self._own_store and drained:
                self._store.close()
        return drained


def build_app(
    settings: ServiceSettings | None = None,
    *,
    pipeline: Pipeline | None = None,
    store: AssessmentRepository | None = None,
) -> FastAPI:
    """Build the HTTP service.

    Parameters
    ----------
    settings : ServiceSettings, optional
        Defaults to :meth:`ServiceSettings.from_env`.
    pipeline : Pipeline, optional
        The computing stages (defaults: the ipvalue functions, imported when first used).
    store : AssessmentRepository, optional
        Another store (defaults to SQLite at ``settings.db_path``, opened on first use and closed at shutdown).

    Returns
    -------
    fastapi.FastAPI
        Everything the app needs lives in ``app.state.services``: no module-global state.
    """
    settings = settings or ServiceSettings.from_env()
    if pipeline is None:
        pipeline = Pipeline(
            fetch=make_fetch(settings.fetch_sources, settings.fetch_base_urls, settings.fetch_cache)
        )
    services = Services(settings, pipeline, store)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services.compute.start()
        services.jobs.start()
        services.start_webhooks()
        try:
            yield
        finally:
            app.state.drained = services.close()

    app = FastAPI(
        title="ipvalue",
        version=__version__,
        summary="Patent portfolio valuation and pledge collateral assessment for loan systems",
        description=(
            "Authenticate with `Authorization: Bearer <key>` or `X-API-Key: <key>`. GET endpoints need the "
            '`read` scope, POST endpoints `write`. Errors are `{"error": {"code", "message", "details"}}`; '
            "`details[].path` names the field (`body.patents.0.filing_date`). POST requests accept an "
            "`Idempotency-Key`. Portfolios larger than the server's job threshold answer 202 with a `Location` "
            "to poll (`/v1/jobs/{id}`). A busy server or database answers 503 with `Retry-After`."
        ),
        openapi_url="/v1/openapi.json",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.services = services
    app.state.drained = True

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(
            error_body(exc.code, exc.message, exc.details), status_code=exc.status, headers=exc.headers
        )

    @app.exception_handler(StoreUnavailable)
    async def _store_unavailable(request: Request, exc: StoreUnavailable) -> JSONResponse:
        return JSONResponse(
            error_body("store_unavailable", str(exc)),
            status_code=503,
            headers={"Retry-After": str(settings.retry_after_s)},
        )

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = friendly_errors(exc.errors())
        if any(d["type"] == "json_invalid" for d in details):
            return JSONResponse(
                error_body("malformed_json", "the request body is not valid JSON", details), status_code=400
            )
        return JSONResponse(
            error_body("validation_error", "the request is not valid", details), status_code=422
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        msg = {404: "not found", 405: "method not allowed"}.get(exc.status_code, "request failed")
        return JSONResponse(
            error_body(code, msg), status_code=exc.status_code, headers=getattr(exc, "headers", None)
        )

    register_routes(app)
    app.mount(WEB_PREFIX, build_workbench(services))

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse(f"{WEB_PREFIX}/", status_code=307)

    app.add_middleware(Guard, services=services)
    if settings.cors_origins:  # outside the guard: preflights carry no key and must still be answered
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "X-API-Key", "Content-Type", "Idempotency-Key"],
            expose_headers=["Location", "Retry-After"],
            allow_credentials=False,
        )
    return app


#: the environment variable carrying a worker process's settings (JSON) under ``ipvalue serve --workers N``
SETTINGS_ENV = "IPVALUE_SERVICE_SETTINGS"


def app_from_env() -> FastAPI:
    """The app one worker process of ``ipvalue serve --workers N`` builds (uvicorn's factory).

    Settings come from :data:`SETTINGS_ENV` (JSON written by the parent), else from ``IPVALUE_*`` variables.
    """
    import os

    raw = os.environ.get(SETTINGS_ENV)
    settings = ServiceSettings.model_validate_json(raw) if raw else ServiceSettings.from_env()
    return build_app(settings)
