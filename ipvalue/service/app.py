"""The FastAPI application: routes under ``/v1``, authentication, limits, errors, jobs."""

from __future__ import annotations

import datetime as dt
import logging
import tempfile
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Header, Query, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException

from ipvalue._version import __version__
from ipvalue.errors import InputError
from ipvalue.service.errors import ApiError, error_body, input_error_details, invalid_input, loc_path
from ipvalue.service.models import (
    AssessmentOut,
    AssessmentRequest,
    AuditTrail,
    ErrorOut,
    Health,
    JobOut,
    MonitorOut,
    MonitorRequest,
    PolicyList,
    ReplayOut,
    ValuationOut,
    ValuationRequest,
)
from ipvalue.service.pipeline import (
    Pipeline,
    as_input_error,
    make_fetch,
    monitor_record,
    patents_payload_to_rows,
    run_assessment,
    run_valuation,
)
from ipvalue.service.settings import ApiKey, ServiceSettings, verify_api_key
from ipvalue.service.store import (
    AssessmentRecord,
    AssessmentRepository,
    AuditEntry,
    IdempotencyConflict,
    SQLiteAssessmentStore,
    new_record_id,
    result_hash,
    sha256_json,
)

__all__ = ["build_app"]

log = logging.getLogger("ipvalue.service")

ASGIApp = Callable[[dict, Callable[[], Awaitable[dict]], Callable[[dict], Awaitable[None]]], Awaitable[None]]

_PUBLIC_PATHS = frozenset({"/v1/health", "/v1/openapi.json"})
_SECURITY_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
_MEDIA = {
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "malformed JSON"},
    401: {"model": ErrorOut, "description": "missing or invalid API key"},
    403: {"model": ErrorOut, "description": "the key lacks the scope"},
    413: {"model": ErrorOut, "description": "request body too large"},
    422: {"model": ErrorOut, "description": "invalid input; `details` name the field paths"},
    500: {"model": ErrorOut, "description": "internal error (no detail is given)"},
}


# ---------------------------------------------------------------------------------------------------------------
# raw ASGI middleware: body size limit, authentication, response headers
# ---------------------------------------------------------------------------------------------------------------
async def _send_json(
    send: Callable[[dict], Awaitable[None]],
    status: int,
    body: dict[str, Any],
    headers: dict[str, str] | None = None,
) -> None:
    resp = JSONResponse(body, status_code=status, headers={**_SECURITY_HEADERS, **(headers or {})})
    await send({"type": "http.response.start", "status": status, "headers": resp.raw_headers})
    await send({"type": "http.response.body", "body": resp.body})


class _Guard:
    """Checks every HTTP request before the app sees it.

    1. the body is read up to ``max_body_bytes`` (413 beyond, also when ``Content-Length`` says so up front) and
       replayed to the app;
    2. outside the public paths, an API key (``Authorization: Bearer`` or ``X-API-Key``) must match a configured
       key (401 otherwise, before the body is parsed); the key goes to ``scope["state"]["api_key"]``;
    3. an exception no handler took becomes a bare 500 ``internal_error`` (logged, never echoed);
    4. responses carry ``Cache-Control: no-store`` and ``X-Content-Type-Options: nosniff``.
    """

    def __init__(self, app: ASGIApp, settings: ServiceSettings):
        self.app = app
        self.settings = settings

    async def __call__(
        self, scope: dict, receive: Callable[[], Awaitable[dict]], send: Callable[[dict], Awaitable[None]]
    ) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        limit = self.settings.max_body_bytes
        too_large = error_body("payload_too_large", f"request body larger than {limit} bytes")
        try:
            declared = int(headers.get("content-length", "0") or 0)
        except ValueError:
            await _send_json(send, 400, error_body("bad_request", "invalid Content-Length"))
            return
        if declared > limit:
            await _send_json(send, 413, too_large, {"Connection": "close"})
            return

        path = scope.get("path", "")
        if path not in _PUBLIC_PATHS:
            secret = headers.get("x-api-key")
            auth = headers.get("authorization", "")
            if not secret and auth[:7].lower() == "bearer ":
                secret = auth[7:].strip()
            key = verify_api_key(secret, self.settings.api_keys)
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
        replayed = False

        async def replay() -> dict:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        started = False

        async def send_with_headers(message: dict) -> None:
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


# ---------------------------------------------------------------------------------------------------------------
# jobs
# ---------------------------------------------------------------------------------------------------------------
class _Jobs:
    """Background execution of large requests in worker threads; resumes unfinished jobs after a restart."""

    def __init__(self, store: AssessmentRepository, pipeline: Pipeline, workers: int):
        self.store = store
        self.pipeline = pipeline
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ipvalue-job")

    def submit(self, record_id: str) -> None:
        self.pool.submit(self._run, record_id)

    def resume(self) -> int:
        ids = self.store.unfinished()
        for i in ids:
            self.submit(i)
        return len(ids)

    def shutdown(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)

    def _run(self, record_id: str) -> None:
        try:
            self._execute(record_id)
        except Exception:  # noqa: BLE001 - e.g. the database stayed locked; the job resumes after a restart
            log.exception("job %s could not be run", record_id)

    def _execute(self, record_id: str) -> None:
        rec = self.store.get(record_id)
        if rec is None or rec.status not in ("queued", "running"):
            return
        self.store.update_progress(record_id, "running", 0.05)
        fn = run_assessment if rec.kind == "assessment" else run_valuation

        def progress(f: float) -> None:
            self.store.update_progress(record_id, "running", f)

        output: dict[str, Any] | None = None
        artifacts: bytes | None = None
        error: dict[str, Any] | None = None
        try:
            output, artifacts = fn(self.pipeline, rec.input, progress)
        except InputError as exc:
            error = {
                "code": "invalid_input",
                "message": str(exc),
                "details": input_error_details(exc, rec.input) or None,
            }
        except ApiError as exc:
            error = {"code": exc.code, "message": exc.message}
        except Exception:  # noqa: BLE001 - a job's failure is stored, never leaked
            log.exception("job %s failed", record_id)
            error = {"code": "internal_error", "message": "internal error"}
        action = f"{rec.kind}.{'fail' if error else 'complete'}"
        audit = AuditEntry(
            action=action,
            who=rec.key_id,
            record_id=record_id,
            input_hash=rec.input_hash,
            output_hash=result_hash(output) if output is not None else None,
            version=__version__,
            policy=rec.policy,
            seed=rec.seed,
        )
        try:
            self.store.finish(record_id, output=output, error=error, audit=audit, artifacts=artifacts)
        except KeyError:  # finished meanwhile by another worker process sharing the database
            pass


class _Services:
    """Per-app state: settings, pipeline, store (opened lazily) and job runner."""

    def __init__(self, settings: ServiceSettings, pipeline: Pipeline, store: AssessmentRepository | None):
        self.settings = settings
        self.pipeline = pipeline
        self._store = store
        self._own_store = store is None
        self._jobs: _Jobs | None = None
        self._policy_names: list[str] | None = None  # read on first use
        self._lock = threading.Lock()

    @property
    def store(self) -> AssessmentRepository:
        with self._lock:
            if self._store is None:
                self._store = SQLiteAssessmentStore(
                    self.settings.db_path, synchronous=self.settings.sqlite_synchronous
                )
            return self._store

    @property
    def jobs(self) -> _Jobs:
        store = self.store
        with self._lock:
            if self._jobs is None:
                self._jobs = _Jobs(store, self.pipeline, self.settings.job_workers)
            return self._jobs

    def policy_names(self) -> list[str]:
        """Known policy names (read once: the presets ship with the package)."""
        if self._policy_names is None:
            self._policy_names = self.pipeline.policy_names()
        return self._policy_names

    def close(self) -> None:
        if self._jobs is not None:
            self._jobs.shutdown()
        if self._own_store and self._store is not None:
            self._store.close()


# ---------------------------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------------------------
def _services(request: Request) -> _Services:
    return request.app.state.services


_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, scheme_name="ApiKeyHeader")
_bearer = HTTPBearer(auto_error=False, scheme_name="Bearer")


def _require(scope: Literal["read", "write"]) -> Callable[..., ApiKey]:
    def dependency(
        request: Request,
        _h: Annotated[str | None, Security(_api_key_header)] = None,
        _b: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)] = None,
    ) -> ApiKey:
        key = request.scope.get("state", {}).get("api_key")
        if key is None:  # the guard middleware already answered 401; this is a second line of defence
            raise ApiError(
                401, "unauthorized", "missing or invalid API key", headers={"WWW-Authenticate": "Bearer"}
            )
        if scope not in key.scopes:
            raise ApiError(403, "forbidden", "this key is not allowed to do that")
        return key

    return dependency


ReadKey = Annotated[ApiKey, Depends(_require("read"))]
WriteKey = Annotated[ApiKey, Depends(_require("write"))]
IdemKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=200,
        pattern=r"^[\x21-\x7e]+$",
        description="retry-safe key: the same key and body return the same record; another body gives 409",
    ),
]


def _links(rec: AssessmentRecord) -> dict[str, Any]:
    base = "/v1/assessments" if rec.kind == "assessment" else "/v1/valuations"
    links: dict[str, Any] = {"self": f"{base}/{rec.id}"}
    if rec.kind == "assessment":
        links["report"] = f"{base}/{rec.id}/report"
        links["monitor"] = f"{base}/{rec.id}/monitor"
    return links


def _job_body(rec: AssessmentRecord) -> dict[str, Any]:
    links = {"self": f"/v1/jobs/{rec.id}"}
    if rec.status == "done":
        links["result"] = _links(rec)["self"]
    body: dict[str, Any] = {
        "id": rec.id,
        "kind": rec.kind,
        "status": rec.status,
        "progress": rec.progress,
        "created_at": rec.created_at,
        "updated_at": rec.updated_at,
        "links": links,
    }
    if rec.error:
        body["error"] = rec.error
    return body


def _result_body(rec: AssessmentRecord) -> dict[str, Any]:
    return {
        "id": rec.id,
        "status": rec.status,
        "created_at": rec.created_at,
        "links": _links(rec),
        "input_hash": rec.input_hash,
        "output_hash": rec.output_hash,
        "version": rec.version,
        "seed": rec.seed,
        **(rec.output or {}),
    }


def _record_response(rec: AssessmentRecord, *, created: bool, replayed: bool = False) -> JSONResponse:
    headers = {"Idempotent-Replayed": "true"} if replayed else {}
    if rec.status in ("queued", "running") or (rec.status == "failed"):
        headers["Location"] = f"/v1/jobs/{rec.id}"
        headers["Retry-After"] = "1"
        return JSONResponse(_job_body(rec), status_code=202, headers=headers)
    headers["Location"] = _links(rec)["self"]
    return JSONResponse(_result_body(rec), status_code=201 if created else 200, headers=headers)


def _get_done(store: AssessmentRepository, record_id: str, kind: str) -> AssessmentRecord:
    rec = store.get(record_id) if len(record_id) <= 100 else None
    if rec is None or rec.kind != kind:
        raise ApiError(404, "not_found", f"no {kind} {record_id!r}")
    if rec.status != "done":
        raise ApiError(
            409,
            "not_ready" if rec.status != "failed" else "failed",
            f"{kind} {record_id} is {rec.status}; see /v1/jobs/{record_id}",
            headers={"Location": f"/v1/jobs/{record_id}"},
        )
    return rec


def _check_policy(svc: _Services, policy: str | dict[str, Any] | None) -> str | dict[str, Any]:
    if policy is None:
        return svc.settings.default_policy
    if isinstance(policy, str):
        # only a known preset name passes: a string is never read as a path on the server
        names = svc.policy_names()
        if policy not in names:
            raise ApiError(
                422,
                "validation_error",
                f"unknown policy {policy!r}",
                details=[
                    {
                        "loc": ["body", "policy"],
                        "path": "body.policy",
                        "type": "unknown_policy",
                        "msg": f"unknown policy {policy!r}; known: {', '.join(sorted(names))}",
                    }
                ],
            )
    return policy


def _check_count(svc: _Services, n: int, field: str) -> None:
    if n > svc.settings.max_patents:
        raise ApiError(
            422,
            "too_many_patents",
            f"at most {svc.settings.max_patents} patents per request",
            details=[
                {
                    "loc": ["body", field],
                    "path": f"body.{field}",
                    "type": "too_long",
                    "msg": f"{n} patents given; at most {svc.settings.max_patents} per request",
                }
            ],
        )


def _submit(
    svc: _Services,
    key: ApiKey,
    kind: Literal["assessment", "valuation"],
    payload: dict[str, Any],
    idem: str | None,
    policy_name: str | None,
    n_patents: int,
) -> JSONResponse:
    """Run (or queue) a request and store it with its audit entry; idempotent on ``idem``."""
    store = svc.store
    request_hash = sha256_json(payload)
    if idem is not None:
        existing = store.find_idempotent(key.id, idem)
        if existing is not None:
            if existing.request_hash != request_hash or existing.kind != kind:
                raise ApiError(
                    409,
                    "idempotency_conflict",
                    "this Idempotency-Key was already used with a different request",
                )
            return _record_response(existing, created=True, replayed=True)
    now = dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")
    input_hash = sha256_json(payload)
    rec = AssessmentRecord(
        id=new_record_id(kind),
        kind=kind,
        status="queued",
        progress=0.0,
        created_at=now,
        updated_at=now,
        key_id=key.id,
        input=payload,
        output=None,
        error=None,
        input_hash=input_hash,
        output_hash=None,
        version=__version__,
        policy=policy_name,
        seed=int(payload.get("seed", 0)),
        idempotency_key=idem,
        request_hash=request_hash,
    )
    is_job = n_patents > svc.settings.job_threshold
    if not is_job:
        fn = run_assessment if kind == "assessment" else run_valuation
        try:
            output, artifacts = fn(svc.pipeline, payload)
        except InputError as exc:
            raise invalid_input(exc, payload) from exc
        rec.status, rec.progress, rec.output, rec.artifacts = "done", 1.0, output, artifacts
        rec.output_hash = result_hash(output)
        action = f"{kind}.create"
    else:
        action = "job.submit"
    audit = AuditEntry(
        action=action,
        who=key.id,
        record_id=rec.id,
        input_hash=input_hash,
        output_hash=rec.output_hash,
        version=__version__,
        policy=policy_name,
        seed=rec.seed,
        details={"kind": kind, "n_patents": n_patents},
    )
    try:
        stored = store.create(rec, audit)
    except IdempotencyConflict as exc:
        raise ApiError(
            409, "idempotency_conflict", "this Idempotency-Key was already used with a different request"
        ) from exc
    if stored.id != rec.id:  # a concurrent retry with the same key won the race
        return _record_response(stored, created=True, replayed=True)
    if is_job:
        svc.jobs.submit(rec.id)
    return _record_response(stored, created=True)


def _policy_label(policy: str | dict[str, Any]) -> str:
    if isinstance(policy, str):
        return policy
    return str(policy.get("name") or "inline:" + sha256_json(policy)[7:19])


# ---------------------------------------------------------------------------------------------------------------
# the factory
# ---------------------------------------------------------------------------------------------------------------
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
    services = _Services(settings, pipeline, store)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        n = services.jobs.resume()
        if n:
            log.info("resumed %d unfinished job(s)", n)
        try:
            yield
        finally:
            services.close()

    app = FastAPI(
        title="ipvalue",
        version=__version__,
        summary="Patent portfolio valuation and pledge collateral assessment for loan systems",
        description=(
            "Authenticate with `Authorization: Bearer <key>` or `X-API-Key: <key>`. GET endpoints need the "
            '`read` scope, POST endpoints `write`. Errors are `{"error": {"code", "message", "details"}}`; '
            "`details[].path` names the field (`body.patents.0.filing_date`). POST requests accept an "
            "`Idempotency-Key`. Portfolios larger than the server's job threshold answer 202 with a `Location` "
            "to poll (`/v1/jobs/{id}`)."
        ),
        openapi_url="/v1/openapi.json",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.services = services

    # -- errors -------------------------------------------------------------------------------------------------
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(
            error_body(exc.code, exc.message, exc.details), status_code=exc.status, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = []
        for e in exc.errors():
            loc = [p if isinstance(p, int) else str(p) for p in e.get("loc", ())]
            details.append(
                {
                    "loc": loc,
                    "path": loc_path(loc),
                    "msg": str(e.get("msg", "")),
                    "type": str(e.get("type", "")),
                }
            )
        if any(d["type"] == "json_invalid" for d in details):
            return JSONResponse(
                error_body(
                    "malformed_json",
                    "the request body is not valid JSON",
                    [{**d, "msg": "invalid JSON"} for d in details],
                ),
                status_code=400,
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

    # -- routes -------------------------------------------------------------------------------------------------
    @app.get("/v1/health", response_model=Health, tags=["service"], summary="Liveness and version (no key)")
    def health() -> dict[str, Any]:
        return {"status": "ok", "version": __version__}

    @app.get(
        "/v1/policies",
        response_model=PolicyList,
        tags=["service"],
        responses=_ERRORS,
        summary="Collateral policies the server knows",
    )
    def policies(request: Request, key: ReadKey) -> dict[str, Any]:
        svc = _services(request)
        return {"default": svc.settings.default_policy, "policies": svc.pipeline.policies()}

    @app.post(
        "/v1/assessments",
        response_model=AssessmentOut,
        status_code=201,
        tags=["assessments"],
        responses={
            **_ERRORS,
            202: {"model": JobOut, "description": "large portfolio: queued as a job"},
            409: {"model": ErrorOut, "description": "Idempotency-Key reused with another body"},
        },
        summary="Value a portfolio and assess it as collateral for a loan",
    )
    def create_assessment(
        request: Request, body: AssessmentRequest, key: WriteKey, idempotency_key: IdemKey = None
    ) -> JSONResponse:
        svc = _services(request)
        _check_count(svc, body.n_patents(), "patents" if body.patents is not None else "numbers")
        policy = _check_policy(svc, body.policy)
        payload = body.model_dump(mode="json", exclude_none=False)
        payload["policy"] = policy
        return _submit(
            svc, key, "assessment", payload, idempotency_key, _policy_label(policy), body.n_patents()
        )

    @app.get(
        "/v1/assessments/{assessment_id}",
        response_model=AssessmentOut,
        tags=["assessments"],
        responses={
            **_ERRORS,
            404: {"model": ErrorOut},
            409: {"model": ErrorOut, "description": "job not done"},
        },
        summary="A stored assessment",
    )
    def get_assessment(request: Request, assessment_id: str, key: ReadKey) -> JSONResponse:
        rec = _get_done(_services(request).store, assessment_id, "assessment")
        return JSONResponse(_result_body(rec))

    @app.get(
        "/v1/assessments/{assessment_id}/report",
        tags=["assessments"],
        responses={
            **_ERRORS,
            404: {"model": ErrorOut},
            200: {
                "description": "the report file",
                "content": {m.split(";")[0]: {} for m in _MEDIA.values()},
            },
        },
        response_class=Response,
        summary="The collateral report (HTML, PDF or Excel; Chinese or English)",
    )
    def get_report(
        request: Request,
        assessment_id: str,
        key: ReadKey,
        format: Annotated[Literal["html", "pdf", "xlsx"], Query()] = "html",  # noqa: A002
        lang: Annotated[Literal["zh", "en"], Query()] = "zh",
    ) -> Response:
        from ipvalue.report.assessment_json import assessment_from_json

        svc = _services(request)
        rec = _get_done(svc.store, assessment_id, "assessment")
        name = f"report.{lang}.{format}"
        content = svc.store.get_artifact(rec.id, name)
        if content is None:  # rendered once from the stored (immutable) record, then kept with it
            assessment = assessment_from_json(rec.output or {}, rec.artifacts)
            with tempfile.TemporaryDirectory(prefix="ipvalue-report-") as tmp:
                path = Path(tmp) / f"{assessment_id}.{format}"
                try:
                    svc.pipeline.report(assessment, path, lang)
                except ImportError as exc:
                    raise ApiError(
                        503, "not_available", f"{format} reports are not available on this server"
                    ) from exc
                content = path.read_bytes()
            svc.store.put_artifact(rec.id, name, content)
        return Response(
            content,
            media_type=_MEDIA[format],
            headers={
                "Content-Disposition": f'attachment; filename="ipvalue-{assessment_id}-{lang}.{format}"'
            },
        )

    @app.post(
        "/v1/assessments/{assessment_id}/monitor",
        response_model=MonitorOut,
        tags=["monitoring"],
        responses={**_ERRORS, 404: {"model": ErrorOut}},
        summary="Post-loan checks (贷后管理): refresh the facts and compare with the pledge snapshot",
    )
    def monitor(request: Request, assessment_id: str, body: MonitorRequest, key: WriteKey) -> dict[str, Any]:
        svc = _services(request)
        rec = _get_done(svc.store, assessment_id, "assessment")
        report = _run_monitor(svc, rec, body)
        out = {"assessment_id": rec.id, **report}
        out["output_hash"] = sha256_json(report)
        svc.store.append_audit(
            AuditEntry(
                action="monitor.run",
                who=key.id,
                record_id=rec.id,
                input_hash=sha256_json(body.model_dump(mode="json")),
                output_hash=out["output_hash"],
                version=__version__,
                policy=rec.policy,
                seed=rec.seed,
                details={"level": report["level"], "n_events": len(report["events"])},
            )
        )
        return out

    @app.get(
        "/v1/assessments/{assessment_id}/audit",
        response_model=AuditTrail,
        tags=["assessments"],
        responses={**_ERRORS, 404: {"model": ErrorOut}},
        summary="The audit entries of an assessment (append-only, hash-chained)",
    )
    def get_audit(request: Request, assessment_id: str, key: ReadKey) -> dict[str, Any]:
        store = _services(request).store
        rec = store.get(assessment_id) if len(assessment_id) <= 100 else None
        if rec is None:
            raise ApiError(404, "not_found", f"no record {assessment_id!r}")
        return {"record_id": rec.id, "entries": store.audit_entries(rec.id)}

    @app.post(
        "/v1/assessments/{assessment_id}/replay",
        response_model=ReplayOut,
        tags=["assessments"],
        responses={**_ERRORS, 404: {"model": ErrorOut}},
        summary="Re-run a stored assessment from its stored input and compare the result hash",
    )
    def replay(request: Request, assessment_id: str, key: WriteKey) -> dict[str, Any]:
        svc = _services(request)
        rec = _get_done(svc.store, assessment_id, "assessment")
        try:
            output, _ = run_assessment(svc.pipeline, rec.input)
        except InputError as exc:
            raise invalid_input(exc, rec.input) from exc
        now_hash = result_hash(output)
        out = {
            "assessment_id": rec.id,
            "reproduced": now_hash == rec.output_hash,
            "stored_output_hash": rec.output_hash,
            "replayed_output_hash": now_hash,
            "stored_version": rec.version,
            "current_version": __version__,
        }
        svc.store.append_audit(
            AuditEntry(
                action="assessment.replay",
                who=key.id,
                record_id=rec.id,
                input_hash=rec.input_hash,
                output_hash=now_hash,
                version=__version__,
                policy=rec.policy,
                seed=rec.seed,
                details={"reproduced": out["reproduced"]},
            )
        )
        return out

    @app.post(
        "/v1/valuations",
        response_model=ValuationOut,
        status_code=201,
        tags=["valuations"],
        responses={
            **_ERRORS,
            202: {"model": JobOut, "description": "large portfolio: queued as a job"},
            409: {"model": ErrorOut, "description": "Idempotency-Key reused with another body"},
        },
        summary="Value a portfolio (no collateral assessment)",
    )
    def create_valuation(
        request: Request, body: ValuationRequest, key: WriteKey, idempotency_key: IdemKey = None
    ) -> JSONResponse:
        svc = _services(request)
        _check_count(svc, body.n_patents(), "patents" if body.patents is not None else "numbers")
        payload = body.model_dump(mode="json")
        return _submit(svc, key, "valuation", payload, idempotency_key, None, body.n_patents())

    @app.get(
        "/v1/valuations/{valuation_id}",
        response_model=ValuationOut,
        tags=["valuations"],
        responses={**_ERRORS, 404: {"model": ErrorOut}, 409: {"model": ErrorOut}},
        summary="A stored valuation",
    )
    def get_valuation(request: Request, valuation_id: str, key: ReadKey) -> JSONResponse:
        rec = _get_done(_services(request).store, valuation_id, "valuation")
        return JSONResponse(_result_body(rec))

    @app.get(
        "/v1/jobs/{job_id}",
        response_model=JobOut,
        tags=["jobs"],
        responses={**_ERRORS, 404: {"model": ErrorOut}},
        summary="Status and progress of a job",
    )
    def get_job(request: Request, job_id: str, key: ReadKey) -> JSONResponse:
        rec = _services(request).store.get(job_id) if len(job_id) <= 100 else None
        if rec is None:
            raise ApiError(404, "not_found", f"no job {job_id!r}")
        return JSONResponse(_job_body(rec))

    app.add_middleware(_Guard, settings=settings)
    if settings.cors_origins:  # outside the guard: preflights carry no key and must still be answered
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "X-API-Key", "Content-Type", "Idempotency-Key"],
            expose_headers=["Location"],
            allow_credentials=False,
        )
    return app


def _run_monitor(svc: _Services, rec: AssessmentRecord, body: MonitorRequest) -> dict[str, Any]:
    fetch: Callable[[list[str]], Any] = svc.pipeline.fetch
    if body.facts is not None:
        rows = patents_payload_to_rows([p.model_dump(mode="json") for p in body.facts])
        try:
            given = svc.pipeline.read(rows)
        except ValueError as exc:
            raise invalid_input(as_input_error(exc), {"facts": rows}, "facts") from exc

        def fetch(ids: list[str]) -> Any:
            return given

    try:
        return monitor_record(
            svc.pipeline,
            rec.output or {},
            rec.input,
            as_of=body.as_of,
            within_days=body.within_days,
            fetch=fetch,
            revalue=body.revalue,
        )
    except InputError as exc:
        raise invalid_input(exc, rec.input) from exc
