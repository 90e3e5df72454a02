"""Upload a portfolio, check it, enter the loan terms and run the assessment (inline, or as a job)."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import UploadFile

from ipvalue._version import __version__
from ipvalue.errors import InputError
from ipvalue.service.errors import input_error_details
from ipvalue.service.pipeline import run_assessment
from ipvalue.service.store import AssessmentRecord, AuditEntry, new_record_id, result_hash, sha256_json
from ipvalue.service.store.workbench import Upload
from ipvalue.web import PREFIX
from ipvalue.web.i18n import text
from ipvalue.web.pagedata import SHARERS, TERM_NAMES, terms_request
from ipvalue.web.security import iso, utcnow
from ipvalue.web.upload import UploadRefused
from ipvalue.web.workbench import WB, Page, WebError, Workbench

__all__ = ["router"]

router = APIRouter()


def upload_page(page: Page, status: int = 200, error: str = "") -> Response:
    """The upload form with the size and patent limits.

    Parameters
    ----------
    page : Page
        The request.
    status : int
        HTTP status.
    error : str
        Why the last upload was refused.

    Returns
    -------
    Response
    """
    return page.render(
        "upload.html.j2",
        status=status,
        error=error,
        mb=f"{page.wb.settings.max_upload_bytes / 1e6:g}",
        max_patents=page.wb.services.settings.max_patents,
    )


@router.get("/upload")
async def upload_get(request: Request, wb: WB) -> Response:
    """The upload form."""
    return upload_page(wb.page(request, "analyst"))


@router.post("/upload")
async def upload_post(request: Request, wb: WB) -> Response:
    """Check an uploaded file and keep it with its check; a refused file is said on the form."""
    page, form = await wb.posted(request, "analyst", max_files=1, max_fields=5)
    ctx = page.ctx
    file = form.get("file")
    if not isinstance(file, UploadFile):
        return upload_page(page, 422, text("refused_not_spreadsheet", ctx.lang, msg="no file"))
    data = await file.read(wb.settings.max_upload_bytes + 1)
    name = (file.filename or "portfolio")[:200]
    try:
        check = await wb.check_upload(data, name)
    except UploadRefused as exc:
        wb.audit(ctx, "web.upload.refused", filename=name, code=exc.code)
        status = {"too_big": 413, "not_spreadsheet": 415}.get(exc.code, 422)
        return upload_page(page, status, text(f"refused_{exc.code}", ctx.lang, msg=str(exc)))
    upload = Upload(
        id="upl_" + uuid.uuid4().hex,
        username=ctx.user.username if ctx.user else "",
        created_at=iso(utcnow()),
        filename=name,
        n_rows=check.n_rows,
        check=check.as_json(),
        rows=check.rows,
    )
    wb.people.put_upload(upload)
    wb.audit(
        ctx,
        "web.upload",
        upload=upload.id,
        filename=name,
        n_rows=check.n_rows,
        n_problems=len(check.issues),
        file_hash="sha256:" + hashlib.sha256(data).hexdigest(),
    )
    return RedirectResponse(f"{PREFIX}/uploads/{upload.id}", status_code=303)


def get_upload(wb: Workbench, upload_id: str) -> Upload:
    """A kept upload (404 otherwise).

    Parameters
    ----------
    wb : Workbench
        The workbench.
    upload_id : str
        Its id.

    Returns
    -------
    Upload
    """
    up = wb.people.get_upload(upload_id) if len(upload_id) <= 100 else None
    if up is None:
        raise WebError(404, "not_found")
    return up


def check_page(
    page: Page,
    up: Upload,
    status: int = 200,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    """The check of an upload and the loan-terms form (defaults from the file: currency, first owner).

    Parameters
    ----------
    page : Page
        The request.
    up : Upload
        The upload and its check.
    status : int
        HTTP status.
    values : dict, optional
        The form's values as posted (over the defaults).
    errors : dict, optional
        Problems per form field.

    Returns
    -------
    Response
    """
    services = page.wb.services
    check = up.check
    ccy = (check.get("currencies") or ["CNY"])[0]
    today = dt.date.today().isoformat()
    defaults = {
        "currency": ccy,
        "tenor_years": "3",
        "policy": services.settings.default_policy,
        "as_of": today,
        "start_date": today,
        "borrower": (check.get("owners") or [""])[0],
        "interest_rate": "0.05",
        "seed": "0",
    }
    return page.render(
        "check.html.j2",
        status=status,
        up=up,
        check=check,
        portfolio_ccy=ccy,
        values={**defaults, **(values or {})},
        errors=errors or {},
        policies=services.policy_names(),
        sharers=SHARERS,
    )


@router.get("/uploads/{upload_id}")
async def upload_check(request: Request, upload_id: str, wb: WB) -> Response:
    """The check of an upload and the loan-terms form."""
    return check_page(wb.page(request, "analyst"), get_upload(wb, upload_id))


@router.post("/uploads/{upload_id}/run")
async def upload_run(request: Request, upload_id: str, wb: WB) -> Response:
    """Run the assessment of a checked upload on the posted loan terms (the form again with their problems)."""
    services = wb.services
    page, form = await wb.posted(request, "analyst", max_files=0, max_fields=40)
    up = get_upload(wb, upload_id)
    if up.check.get("issues") or not up.rows:
        return check_page(page, up, 422)
    values = {k: str(form.get(k) or "") for k in TERM_NAMES}
    ccy = (up.check.get("currencies") or ["CNY"])[0]
    payload, errors, note = terms_request(values, up.rows, ccy)
    if payload is not None:
        names = services.policy_names()
        if payload["policy"] not in names:
            errors["policy"] = f"unknown policy {payload['policy']!r}; known: {', '.join(sorted(names))}"
        n = len(up.rows)
        if n > services.settings.max_patents:
            errors["file"] = f"{n} patents given; at most {services.settings.max_patents} per request"
    if payload is None or errors:
        return check_page(page, up, 422, values, errors)
    return await submit(page, up, payload, note, values)


async def submit(
    page: Page, up: Upload, payload: dict[str, Any], note: dict[str, Any], values: dict
) -> Response:
    """Store the assessment: run inline when small (its input errors back on the form), else queue a job.

    Parameters
    ----------
    page : Page
        The request to run.
    up : Upload
        The upload.
    payload : dict
        The API request.
    note : dict
        The loan's own currency and FX rate, for the audit entry.
    values : dict
        The form's values (shown again on an error).

    Returns
    -------
    Response
        A 303 to the result, or to the job's progress page.
    """
    wb, ctx = page.wb, page.ctx
    services = wb.services
    store = services.store
    store.check_writable()
    now = iso(utcnow())
    input_hash = sha256_json(payload)
    n = len(up.rows)
    rec = AssessmentRecord(
        id=new_record_id("assessment"),
        kind="assessment",
        status="queued",
        progress=0.0,
        created_at=now,
        updated_at=now,
        key_id=ctx.who,
        input=payload,
        output=None,
        error=None,
        input_hash=input_hash,
        output_hash=None,
        version=__version__,
        policy=str(payload["policy"]),
        seed=int(payload.get("seed", 0)),
        request_hash=input_hash,
    )
    is_job = n > services.settings.job_threshold
    if not is_job:
        try:
            output, artifacts = await wb.heavy(run_assessment, services.pipeline, payload)
        except InputError as exc:
            details = input_error_details(exc, payload)
            errors = {"file": "; ".join(f"{d.get('patent') or d['path']}: {d['msg']}" for d in details)}
            return check_page(page, up, 422, values, errors or {"file": str(exc)})
        rec.status, rec.progress, rec.output, rec.artifacts = "done", 1.0, output, artifacts
        rec.output_hash = result_hash(output)
    audit = AuditEntry(
        action="job.submit" if is_job else "assessment.create",
        who=ctx.who,
        record_id=rec.id,
        input_hash=input_hash,
        output_hash=rec.output_hash,
        version=__version__,
        policy=rec.policy,
        seed=rec.seed,
        details={"kind": "assessment", "n_patents": n, "via": "web", "upload": up.id, **note},
    )
    store.create(rec, audit)
    if is_job:
        services.jobs.wake()
        return RedirectResponse(f"{PREFIX}/jobs/{rec.id}", status_code=303)
    return RedirectResponse(f"{PREFIX}/assessments/{rec.id}", status_code=303)


@router.get("/jobs/{record_id}")
async def job_page(request: Request, record_id: str, wb: WB) -> Response:
    """A job's progress page (the result once it is done)."""
    ctx = wb.require(request)
    rec = wb.record(record_id)
    if rec.status == "done":
        return RedirectResponse(f"{PREFIX}/assessments/{rec.id}", status_code=303)
    return wb.render(request, ctx, "job.html.j2", rec=rec)


@router.get("/jobs/{record_id}/progress")
async def job_progress(request: Request, record_id: str, wb: WB) -> Response:
    """The progress bar (htmx polls it; it redirects to the result when done)."""
    ctx = wb.require(request)
    rec = wb.record(record_id)
    resp = wb.render(request, ctx, "_progress.html.j2", rec=rec)
    if rec.status == "done":
        resp.headers["HX-Redirect"] = f"{PREFIX}/assessments/{rec.id}"
    return resp
