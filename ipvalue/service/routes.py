"""The routes under ``/v1``: what each endpoint checks, where its work runs, what it stores.

Computation (assessments, valuations, replays, monitoring, reports) runs on the app's
:class:`~ipvalue.service.jobs.WorkPool` and is awaited; health and readiness are ``async`` routes that answer
from the event loop and never wait behind it. Reads of stored records run in the framework's thread pool.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import Depends, FastAPI, Header, Query, Request, Security
from fastapi.responses import JSONResponse, Response
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from ipvalue._version import __version__
from ipvalue.errors import InputError
from ipvalue.service.auth import ApiKey
from ipvalue.service.compute import ANSWER_MEMBERS
from ipvalue.service.errors import ApiError, detail, invalid_input
from ipvalue.service.jobs import render_report
from ipvalue.service.models import (
    AssessmentOut,
    AssessmentRequest,
    AuditTrail,
    DeliveryLog,
    ErrorOut,
    Health,
    JobOut,
    MonitorOut,
    MonitorRequest,
    PolicyList,
    ProfileOut,
    ProfileRequest,
    Readiness,
    ReplayOut,
    ValuationOut,
    ValuationRequest,
    WebhookIn,
    WebhookList,
    WebhookOut,
)
from ipvalue.service.pipeline import (
    as_input_error,
    monitor_record,
    patents_payload_to_rows,
    peers_frame,
    run_profile,
)
from ipvalue.service.store import (
    AssessmentRecord,
    AssessmentRepository,
    AuditEntry,
    IdempotencyConflict,
    canonical_json,
    new_record_id,
    result_hash,
    sha256_json,
    sha256_text,
)
from ipvalue.service.store.protocol import AlertOutbox
from ipvalue.service.webhooks import ALERT_LEVELS, alert_payload

if TYPE_CHECKING:  # pragma: no cover
    from ipvalue.service.app import Services

__all__ = ["register_routes", "PUBLIC_PATHS"]

#: paths answered without a key
PUBLIC_PATHS = frozenset({"/v1/health", "/v1/ready", "/v1/openapi.json"})

_MEDIA = {
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "malformed JSON (not UTF-8, not JSON, or nested too deep)"},
    401: {"model": ErrorOut, "description": "missing or invalid API key"},
    403: {"model": ErrorOut, "description": "the key lacks the scope"},
    413: {"model": ErrorOut, "description": "request body too large"},
    422: {"model": ErrorOut, "description": "invalid input; `details` name the field paths"},
    500: {"model": ErrorOut, "description": "internal error (no detail is given)"},
    503: {"model": ErrorOut, "description": "busy (work queue full, database busy or full): see Retry-After"},
}


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


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


#: the longest record id looked up (the service's own are 36 characters); a longer one is not found
_MAX_ID = 100

_NOT_FOUND: dict[int | str, dict[str, Any]] = {**_ERRORS, 404: {"model": ErrorOut}}
_CREATED: dict[int | str, dict[str, Any]] = {
    **_ERRORS,
    202: {"model": JobOut, "description": "large portfolio: queued as a job"},
    409: {"model": ErrorOut, "description": "Idempotency-Key reused with another body"},
}


# --- shared helpers: refusals, records, audit entries -------------------------------------------------------


def _invalid(message: str, *details: dict[str, Any]) -> ApiError:
    """The 422 ``validation_error`` naming the field paths in ``details``."""
    return ApiError(422, "validation_error", message, details=list(details))


def _not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", f"no {what} with that id")


def _idempotency_conflict() -> ApiError:
    return ApiError(
        409, "idempotency_conflict", "this Idempotency-Key was already used with a different request"
    )


def _find(store: AssessmentRepository, record_id: str) -> AssessmentRecord | None:
    """The stored record ``record_id``, or ``None`` (an over-long id is not looked up)."""
    return store.get(record_id) if len(record_id) <= _MAX_ID else None


def _audit(
    action: str,
    key_id: str,
    record_id: str,
    *,
    input_hash: str | None,
    output_hash: str | None,
    seed: int | None,
    details: dict[str, Any],
    policy: str | None = None,
) -> AuditEntry:
    """An audit entry of this release (``version``) for ``record_id``."""
    return AuditEntry(
        action=action,
        who=key_id,
        record_id=record_id,
        input_hash=input_hash,
        output_hash=output_hash,
        version=__version__,
        policy=policy,
        seed=seed,
        details=details,
    )


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


def _result_response(
    rec: AssessmentRecord, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """A finished record as JSON: its id, status, links, hashes, version and seed, then its output's members.

    The output is answered from its canonical text when the record holds it (as computed, or as stored), so a
    large result is not encoded again; a record computed in a worker process holds only the text (its output is
    ``None``: :attr:`~ipvalue.service.compute.Computed.output`).
    """
    head = {
        "id": rec.id,
        "status": rec.status,
        "created_at": rec.created_at,
        "links": _links(rec),
        "input_hash": rec.input_hash,
        "output_hash": rec.output_hash,
        "version": rec.version,
        "seed": rec.seed,
    }
    output = rec.output
    if rec.output_json is None or (
        output is not None and (not output or not ANSWER_MEMBERS.isdisjoint(output))
    ):
        return JSONResponse({**head, **(output or {})}, status_code=status_code, headers=headers)
    text = json.dumps(head, ensure_ascii=False, allow_nan=False, separators=(",", ":"))  # as JSONResponse
    body = f"{text[:-1]},{rec.output_json[1:]}".encode()
    return Response(body, status_code=status_code, headers=headers, media_type="application/json")


def _record_response(rec: AssessmentRecord, *, created: bool, replayed: bool = False) -> Response:
    headers = {"Idempotent-Replayed": "true"} if replayed else {}
    if rec.status in ("queued", "running") or (rec.status == "failed"):
        headers["Location"] = f"/v1/jobs/{rec.id}"
        headers["Retry-After"] = "1"
        return JSONResponse(_job_body(rec), status_code=202, headers=headers)
    headers["Location"] = _links(rec)["self"]
    return _result_response(rec, 201 if created else 200, headers)


def _get_done(store: AssessmentRepository, record_id: str, kind: str) -> AssessmentRecord:
    rec = _find(store, record_id)
    if rec is None or rec.kind != kind:
        raise _not_found(kind)
    if rec.status != "done":
        raise ApiError(
            409,
            "not_ready" if rec.status != "failed" else "failed",
            f"{kind} {record_id} is {rec.status}; see /v1/jobs/{record_id}",
            headers={"Location": f"/v1/jobs/{record_id}"},
        )
    return rec


def _stored_result(request: Request, record_id: str, kind: str) -> Response:
    """``GET`` of a finished assessment or valuation."""
    return _result_response(_get_done(_services(request).store, record_id, kind))


# --- request checks against the server's limits and presets -------------------------------------------------


def _check_count(svc: Services, n: int, field: str) -> None:
    limit = svc.settings.max_patents
    if n > limit:
        raise ApiError(
            422,
            "too_many_patents",
            f"at most {limit} patents per request",
            details=[detail(["body", field], f"{n} patents given; at most {limit} per request", "too_long")],
        )


def _check_limits(svc: Services, body: AssessmentRequest | ValuationRequest | ProfileRequest) -> None:
    """The request's size against the server's limits (patents, Monte Carlo draws)."""
    n = body.n_patents()
    _check_count(svc, n, "patents" if body.patents is not None else "numbers")
    s = svc.settings
    draws = body.assumptions.draws if body.assumptions is not None else None
    loc = ["body", "assumptions", "draws"]
    if draws is not None and draws > s.max_draws:
        raise _invalid("the request is not valid", detail(loc, f"must be at most {s.max_draws}", "too_large"))
    if draws is not None and draws * n > s.max_draw_cells:
        msg = f"draws times patents ({draws} x {n}) must be at most {s.max_draw_cells}"
        raise _invalid("the request is not valid", detail(loc, msg, "too_large"))


def _check_policy(svc: Services, policy: str | dict[str, Any] | None) -> str | dict[str, Any]:
    """The request's policy: the server default, a known preset name, or an inline policy that loads."""
    if policy is None:
        return svc.settings.default_policy
    if isinstance(policy, dict):
        _check_inline_policy(policy)
        return policy
    # only a known preset name passes: a string is never read as a path on the server
    names = svc.policy_names()
    if policy not in names:
        msg = f"unknown policy {policy!r}; known: {', '.join(sorted(names))}"
        raise _invalid(f"unknown policy {policy!r}", detail(["body", "policy"], msg, "unknown_policy"))
    return policy


def _check_inline_policy(policy: dict[str, Any]) -> None:
    """An inline policy checked parameter by parameter (field paths), then as a whole by the policy loader."""
    from ipvalue.collateral.policy import POLICY_PARAMETERS, PolicyError, load_policy

    details = []
    for name, param in (policy.get("parameters") or {}).items():
        check = POLICY_PARAMETERS.get(name)
        msg = check(param.get("value")) if check is not None and isinstance(param, dict) else None
        if msg:
            details.append(detail(["body", "policy", "parameters", name], msg, "invalid_policy"))
    if not details:
        try:
            load_policy({k: v for k, v in policy.items() if v is not None})
        except PolicyError as exc:
            details = [
                detail(
                    ["body", "policy", *(["parameters", p.field] if p.field else [])],
                    p.message,
                    "invalid_policy",
                )
                for p in exc.problems
            ]
    if details:
        raise _invalid("the policy is not valid", *details)


def _policy_label(policy: str | dict[str, Any]) -> str:
    if isinstance(policy, str):
        return policy
    return str(policy.get("name") or "inline:" + sha256_json(policy)[7:19])


def _check_profile(svc: Services, body: ProfileRequest) -> None:
    """A profile request's peers (inline or a known peer book, not both) and its PD overlay's loan."""
    _check_limits(svc, body)
    if body.peers is not None:
        _check_count(svc, len(body.peers), "peers")
    if body.peer_book is not None:
        known = sorted(svc.settings.peer_books)
        if body.peers is not None or body.peer_book not in known:
            msg = (
                "give either inline `peers` or a `peer_book`, not both"
                if body.peers is not None
                else f"unknown peer book {body.peer_book!r}; known: {', '.join(known) or 'none'}"
            )
            raise _invalid(
                "the request is not valid", detail(["body", "peer_book"], msg, "unknown_peer_book")
            )
    if body.overlay is not None and (body.loan is None or body.loan.probability_of_default is None):
        loc = ["body", "loan", "probability_of_default"]
        msg = "the PD overlay needs the loan's probability_of_default"
        raise _invalid("the request is not valid", detail(loc, msg, "missing"))


# --- the work each route hands to the work pool ---------------------------------------------------------------


def _submit(
    svc: Services,
    key: ApiKey,
    kind: Literal["assessment", "valuation"],
    payload: dict[str, Any],
    idem: str | None,
    policy_name: str | None,
    n_patents: int,
) -> Response:
    """Run (or queue) a request and store it with its audit entry; idempotent on ``idem``."""
    store = svc.store
    store.check_writable()  # a busy or full database answers 503 before any work is done
    input_json = canonical_json(payload)  # rendered once: hashed here, stored as it is
    request_hash = sha256_text(input_json)
    if idem is not None:
        existing = store.find_idempotent(key.id, idem)
        if existing is not None:
            if existing.request_hash != request_hash or existing.kind != kind:
                raise _idempotency_conflict()
            return _record_response(existing, created=True, replayed=True)
    now = dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")
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
        input_hash=request_hash,
        output_hash=None,
        version=__version__,
        policy=policy_name,
        seed=int(payload.get("seed", 0)),
        idempotency_key=idem,
        request_hash=request_hash,
        input_json=input_json,
    )
    is_job = n_patents > svc.settings.job_threshold
    if not is_job:
        try:
            done = svc.compute.run(kind, payload)
        except InputError as exc:
            raise invalid_input(exc, payload) from exc
        rec.status, rec.progress, rec.output, rec.artifacts = "done", 1.0, done.output, done.artifacts
        rec.output_hash, rec.output_json = done.output_hash, done.output_json
    audit = _audit(
        "job.submit" if is_job else f"{kind}.create",
        key.id,
        rec.id,
        input_hash=request_hash,
        output_hash=rec.output_hash,
        policy=policy_name,
        seed=rec.seed,
        details={"kind": kind, "n_patents": n_patents},
    )
    try:
        stored = store.create(rec, audit)
    except IdempotencyConflict as exc:
        raise _idempotency_conflict() from exc
    if stored.id != rec.id:  # a concurrent retry with the same key won the race
        return _record_response(stored, created=True, replayed=True)
    if is_job:
        svc.jobs.wake()
    return _record_response(stored, created=True)


async def _create(
    request: Request, body: AssessmentRequest | ValuationRequest, key: ApiKey, idem: str | None
) -> Response:
    """``POST`` of an assessment or a valuation: limits, an assessment's policy, :func:`_submit` on the pool."""
    svc = _services(request)
    _check_limits(svc, body)
    payload = body.model_dump(mode="json")
    kind: Literal["assessment", "valuation"] = "valuation"
    label = None
    if isinstance(body, AssessmentRequest):
        kind = "assessment"
        policy = payload["policy"] = _check_policy(svc, payload.get("policy"))
        label = _policy_label(policy)
    return await svc.pool.run(_submit, svc, key, kind, payload, idem, label, body.n_patents())


def _report_bytes(svc: Services, rec: AssessmentRecord, fmt: str, lang: str) -> bytes:
    name = f"report.{lang}.{fmt}"
    content = svc.store.get_artifact(rec.id, name)
    if content is None:  # rendered once from the stored (immutable) record, then kept with it
        with tempfile.TemporaryDirectory(prefix="ipvalue-report-") as tmp:
            path = Path(tmp) / f"{rec.id}.{fmt}"
            content = render_report(
                svc.pipeline.report,
                rec.output or {},
                rec.artifacts,
                path,
                lang,
                svc.settings.report_timeout_s,
            )
        svc.store.put_artifact(rec.id, name, content)
    return content


def _monitor(svc: Services, rec: AssessmentRecord, body: MonitorRequest, key: ApiKey) -> dict[str, Any]:
    svc.store.check_writable()
    report = _run_monitor(svc, rec, body)
    out = {"assessment_id": rec.id, **report}
    out["output_hash"] = sha256_json(report)
    entry = _audit(
        "monitor.run",
        key.id,
        rec.id,
        input_hash=sha256_json(body.model_dump(mode="json")),
        output_hash=out["output_hash"],
        policy=rec.policy,
        seed=rec.seed,
        details={"level": report["level"], "n_events": len(report["events"])},
    )
    outbox = svc.outbox
    if outbox is not None and report["level"] in ALERT_LEVELS and report["events"]:
        # the alert, its deliveries to the pledging key's webhooks and the audit entry: one transaction
        out["alert_id"], _ = outbox.record_alert(
            rec.key_id, rec.id, alert_payload(rec.id, rec.key_id, report), entry
        )
        svc.wake_webhooks()
    else:
        svc.store.append_audit(entry)
    return out


def _run_monitor(svc: Services, rec: AssessmentRecord, body: MonitorRequest) -> dict[str, Any]:
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


def _replay(svc: Services, rec: AssessmentRecord, key: ApiKey) -> dict[str, Any]:
    svc.store.check_writable()
    try:
        now_hash = svc.compute.run("assessment", rec.input).output_hash
    except InputError as exc:
        raise invalid_input(exc, rec.input) from exc
    out = {
        "assessment_id": rec.id,
        "reproduced": now_hash == rec.output_hash,
        "stored_output_hash": rec.output_hash,
        "replayed_output_hash": now_hash,
        "stored_version": rec.version,
        "current_version": __version__,
    }
    svc.store.append_audit(
        _audit(
            "assessment.replay",
            key.id,
            rec.id,
            input_hash=rec.input_hash,
            output_hash=now_hash,
            policy=rec.policy,
            seed=rec.seed,
            details={"reproduced": out["reproduced"]},
        )
    )
    return out


def _profile(svc: Services, key: ApiKey, payload: dict[str, Any], n_patents: int) -> dict[str, Any]:
    """Profile a borrower (on the work pool); the result is returned, its audit entry appended (not stored)."""
    from ipvalue.profile import OverlayTableError

    svc.store.check_writable()
    peers: Any = None
    digest = None
    if payload.get("peers") is not None:
        try:
            peers = peers_frame(svc.pipeline, payload["peers"])
        except InputError as exc:
            raise invalid_input(exc, payload, "peers") from exc
    elif payload.get("peer_book") is not None:
        try:
            peers, digest = svc.peer_book(payload["peer_book"], payload["as_of"])
        except InputError as exc:
            raise invalid_input(exc, payload, "peer_book") from exc
    try:
        output = run_profile(svc.pipeline, payload, peers)
    except OverlayTableError as exc:
        raise invalid_input(exc, payload, "overlay") from exc
    except InputError as exc:
        raise invalid_input(exc, payload) from exc
    request_hash = sha256_json(payload)
    output_hash = result_hash(output)
    record_id = new_record_id("profile")
    seed = int(payload.get("seed", 0))
    svc.store.append_audit(
        _audit(
            "profile.create",
            key.id,
            record_id,
            input_hash=request_hash,
            output_hash=output_hash,
            seed=seed,
            details={
                "n_patents": n_patents,
                "n_peer_patents": len(payload["peers"]) if payload.get("peers") is not None else None,
                "peer_book": payload.get("peer_book"),
                "peer_book_sha256": digest,
                "grade": output.get("grade"),
                "stored": False,
            },
        )
    )
    return {
        "id": record_id,
        "stored": False,
        "input_hash": request_hash,
        "output_hash": output_hash,
        "version": __version__,
        "seed": seed,
        **output,
    }


# --- the route groups -----------------------------------------------------------------------------------------


def register_routes(app: FastAPI) -> None:
    """Add the ``/v1`` routes to ``app`` (whose ``state.services`` holds a :class:`~ipvalue.service.app.Services`)."""
    for group in (
        _register_webhook_routes,
        _register_service_routes,
        _register_assessment_routes,
        _register_valuation_routes,
        _register_profile_routes,
        _register_job_routes,
    ):
        group(app)


def _register_service_routes(app: FastAPI) -> None:
    """Health and readiness (no key, answered on the event loop) and the policy presets."""

    @app.get(
        "/v1/health",
        response_model=Health,
        tags=["service"],
        summary="Liveness, version, and the store's reachability and schema version (no key)",
    )
    async def health(request: Request) -> dict[str, Any]:
        return {"status": "ok", "version": __version__, "store": await _services(request).store_health()}

    @app.get(
        "/v1/ready",
        response_model=Readiness,
        tags=["service"],
        responses={
            503: {"model": Readiness, "description": "not ready: shutting down, saturated or no store"}
        },
        summary="Readiness: can this instance take work now? (no key)",
    )
    async def ready(request: Request) -> JSONResponse:
        svc = _services(request)
        pool = svc.pool
        reasons = []
        if svc.shutting_down:
            reasons.append("shutting down")
        if pool.in_flight >= pool.capacity:
            reasons.append("work queue full")
        store = await svc.store_health()
        if not store["reachable"]:
            reasons.append("store not available")
        elif store["schema_version"] != store["expected_schema_version"]:
            reasons.append("store schema version differs from this release's")
        body = {
            "status": "ready" if not reasons else "not_ready",
            "reasons": reasons,
            "in_flight": pool.in_flight,
            "capacity": pool.capacity,
            "store": store,
        }
        headers = {} if not reasons else {"Retry-After": str(svc.settings.retry_after_s)}
        return JSONResponse(body, status_code=200 if not reasons else 503, headers=headers)

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


def _register_assessment_routes(app: FastAPI) -> None:
    """``/v1/assessments``: create, read, report, post-loan monitoring, audit trail, replay."""

    @app.post(
        "/v1/assessments",
        response_model=AssessmentOut,
        status_code=201,
        tags=["assessments"],
        responses=_CREATED,
        summary="Value a portfolio and assess it as collateral for a loan",
    )
    async def create_assessment(
        request: Request, body: AssessmentRequest, key: WriteKey, idempotency_key: IdemKey = None
    ) -> Response:
        return await _create(request, body, key, idempotency_key)

    @app.get(
        "/v1/assessments/{assessment_id}",
        response_model=AssessmentOut,
        tags=["assessments"],
        responses={**_NOT_FOUND, 409: {"model": ErrorOut, "description": "job not done"}},
        summary="A stored assessment",
    )
    def get_assessment(request: Request, assessment_id: str, key: ReadKey) -> Response:
        return _stored_result(request, assessment_id, "assessment")

    @app.get(
        "/v1/assessments/{assessment_id}/report",
        tags=["assessments"],
        responses={
            **_NOT_FOUND,
            200: {
                "description": "the report file",
                "content": {m.split(";")[0]: {} for m in _MEDIA.values()},
            },
        },
        response_class=Response,
        summary="The collateral report (HTML, PDF or Excel; Chinese or English)",
    )
    async def get_report(
        request: Request,
        assessment_id: str,
        key: ReadKey,
        format: Annotated[Literal["html", "pdf", "xlsx"], Query()] = "html",  # noqa: A002
        lang: Annotated[Literal["zh", "en"], Query()] = "zh",
    ) -> Response:
        svc = _services(request)
        rec = _get_done(svc.store, assessment_id, "assessment")
        content = await svc.pool.run(_report_bytes, svc, rec, format, lang)
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
        responses=_NOT_FOUND,
        summary="Post-loan checks (贷后管理): refresh the facts and compare with the pledge snapshot",
    )
    async def monitor(
        request: Request, assessment_id: str, body: MonitorRequest, key: WriteKey
    ) -> dict[str, Any]:
        svc = _services(request)
        if body.facts is not None:
            _check_count(svc, len(body.facts), "facts")
        rec = _get_done(svc.store, assessment_id, "assessment")
        return await svc.pool.run(_monitor, svc, rec, body, key)

    @app.get(
        "/v1/assessments/{assessment_id}/audit",
        response_model=AuditTrail,
        tags=["assessments"],
        responses=_NOT_FOUND,
        summary="The audit entries of an assessment (append-only, hash-chained, signed)",
    )
    def get_audit(request: Request, assessment_id: str, key: ReadKey) -> dict[str, Any]:
        store = _services(request).store
        rec = _find(store, assessment_id)
        if rec is None:
            raise _not_found("record")
        return {"record_id": rec.id, "entries": store.audit_entries(rec.id)}

    @app.post(
        "/v1/assessments/{assessment_id}/replay",
        response_model=ReplayOut,
        tags=["assessments"],
        responses=_NOT_FOUND,
        summary="Re-run a stored assessment from its stored input and compare the result hash",
    )
    async def replay(request: Request, assessment_id: str, key: WriteKey) -> dict[str, Any]:
        svc = _services(request)
        rec = _get_done(svc.store, assessment_id, "assessment")
        return await svc.pool.run(_replay, svc, rec, key)


def _register_valuation_routes(app: FastAPI) -> None:
    """``/v1/valuations``: create (on the work pool, stored) and read."""

    @app.post(
        "/v1/valuations",
        response_model=ValuationOut,
        status_code=201,
        tags=["valuations"],
        responses=_CREATED,
        summary="Value a portfolio (no collateral assessment)",
    )
    async def create_valuation(
        request: Request, body: ValuationRequest, key: WriteKey, idempotency_key: IdemKey = None
    ) -> Response:
        return await _create(request, body, key, idempotency_key)

    @app.get(
        "/v1/valuations/{valuation_id}",
        response_model=ValuationOut,
        tags=["valuations"],
        responses={**_NOT_FOUND, 409: {"model": ErrorOut}},
        summary="A stored valuation",
    )
    def get_valuation(request: Request, valuation_id: str, key: ReadKey) -> Response:
        return _stored_result(request, valuation_id, "valuation")


def _register_profile_routes(app: FastAPI) -> None:
    """``/v1/profiles``: a borrower's profile (returned, not stored) and its audit entries."""

    @app.post(
        "/v1/profiles",
        response_model=ProfileOut,
        tags=["profiles"],
        responses=_ERRORS,
        summary="Profile a borrower's technology strength (技术实力画像) against peer firms",
        description="Values the portfolio (unless `value` is false), computes the profile's indicators, ranks "
        "them among the inline peers' cohort, and gives a score, a grade (T1..T10) and reasons in Chinese and "
        "English; an optional bank overlay table moves the loan's PD. The profile is returned, not stored: "
        "its audit entry (`profile.create`, request and result hashes) is.",
    )
    async def create_profile(request: Request, body: ProfileRequest, key: WriteKey) -> dict[str, Any]:
        svc = _services(request)
        _check_profile(svc, body)
        payload = body.model_dump(mode="json")
        return await svc.pool.run(_profile, svc, key, payload, body.n_patents())

    @app.get(
        "/v1/profiles/{profile_id}/audit",
        response_model=AuditTrail,
        tags=["profiles"],
        responses=_NOT_FOUND,
        summary="The audit entries of a profile (profiles are not stored; their audit entries are)",
    )
    def get_profile_audit(request: Request, profile_id: str, key: ReadKey) -> dict[str, Any]:
        store = _services(request).store
        ok = len(profile_id) <= _MAX_ID and profile_id.startswith("prf_")
        entries = store.audit_entries(profile_id) if ok else []
        if not entries:
            raise _not_found("profile")
        return {"record_id": profile_id, "entries": entries}


def _register_job_routes(app: FastAPI) -> None:
    """``/v1/jobs``: status and progress of a queued large portfolio."""

    @app.get(
        "/v1/jobs/{job_id}",
        response_model=JobOut,
        tags=["jobs"],
        responses=_NOT_FOUND,
        summary="Status and progress of a job",
    )
    def get_job(request: Request, job_id: str, key: ReadKey) -> JSONResponse:
        rec = _find(_services(request).store, job_id)
        if rec is None:
            raise _not_found("job")
        return JSONResponse(_job_body(rec))


def _outbox(request: Request) -> AlertOutbox:
    outbox = _services(request).outbox
    if outbox is None:
        raise ApiError(501, "not_available", "this server's store keeps no webhooks")
    return outbox


def _register_webhook_routes(app: FastAPI) -> None:
    """``/v1/webhooks``: subscriptions of the calling key and their delivery log."""

    @app.post(
        "/v1/webhooks",
        response_model=WebhookOut,
        status_code=201,
        tags=["webhooks"],
        responses=_ERRORS,
        summary="Receive this key's monitoring alerts at a URL (signed; the secret is shown once)",
    )
    def add_webhook(request: Request, body: WebhookIn, key: WriteKey) -> dict[str, Any]:
        hook = _outbox(request).add_webhook(key.id, body.url)
        return {k: hook[k] for k in ("id", "url", "created_at", "secret")}

    @app.get(
        "/v1/webhooks",
        response_model=WebhookList,
        tags=["webhooks"],
        responses=_ERRORS,
        summary="This key's webhooks",
    )
    def list_webhooks(request: Request, key: ReadKey) -> dict[str, Any]:
        return {"webhooks": _outbox(request).webhooks(key.id)}

    @app.delete(
        "/v1/webhooks/{webhook_id}",
        status_code=204,
        tags=["webhooks"],
        responses={**_ERRORS, 404: {"model": ErrorOut}},
        summary="Stop a webhook (its delivery log is kept)",
    )
    def remove_webhook(request: Request, webhook_id: str, key: WriteKey) -> Response:
        if not _outbox(request).remove_webhook(key.id, webhook_id[:100]):
            raise ApiError(404, "not_found", "no active webhook with that id for this key")
        return Response(status_code=204)

    @app.get(
        "/v1/webhooks/deliveries",
        response_model=DeliveryLog,
        tags=["webhooks"],
        responses=_ERRORS,
        summary="The delivery log: every alert sent to this key's webhooks, with each attempt",
    )
    def deliveries(
        request: Request, key: ReadKey, webhook_id: Annotated[str | None, Query(max_length=100)] = None
    ) -> dict[str, Any]:
        return {"deliveries": _outbox(request).deliveries(key.id, webhook_id)}
