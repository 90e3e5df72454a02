"""Post-loan monitoring: the live loans, one loan's alerts, and a monitoring run."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from ipvalue.service.pipeline import monitor_record
from ipvalue.service.store import AssessmentRecord
from ipvalue.service.store.workbench import MonitorRun
from ipvalue.web import PREFIX
from ipvalue.web.i18n import text
from ipvalue.web.pagedata import loan_end
from ipvalue.web.upload import UploadRefused
from ipvalue.web.workbench import WB, Page, Workbench

__all__ = ["router"]

log = logging.getLogger("ipvalue.web")

router = APIRouter()


@router.get("/monitoring")
async def monitoring(request: Request, wb: WB) -> Response:
    """The finished assessments whose loan still runs, each with its last check."""
    ctx = wb.require(request)
    today = dt.date.today()
    live = []
    for r in await run_in_threadpool(wb.people.web_records):
        end = loan_end(r)
        if r["status"] != "done" or end is None or end <= today:
            continue
        runs = wb.people.monitor_runs(r["id"])
        live.append({**r, "loan_end": end.isoformat(), "last": runs[-1] if runs else None})
    return wb.render(request, ctx, "monitoring.html.j2", live=live)


def monitor_page(page: Page, rec: AssessmentRecord, status: int = 200, error: str = "") -> Response:
    """One loan's pledged patents with the alerts of its last check, per patent and in general.

    Parameters
    ----------
    page : Page
        The request.
    rec : AssessmentRecord
        The loan's assessment.
    status : int
        HTTP status.
    error : str
        Why the last run failed.

    Returns
    -------
    Response
    """
    runs = page.wb.people.monitor_runs(rec.id)
    last = runs[-1] if runs else None
    by_patent: dict[str, list[dict[str, Any]]] = {}
    general = []
    for e in (last.report.get("events") if last else []) or []:
        if e.get("patent_id"):
            by_patent.setdefault(str(e["patent_id"]), []).append(e)
        else:
            general.append(e)
    pledged = [p for p in (rec.output or {}).get("patents") or [] if p.get("eligible")]
    return page.render(
        "monitor_loan.html.j2",
        status=status,
        rec=rec,
        loan=(rec.output or {}).get("loan") or {},
        pledged=pledged,
        by_patent=by_patent,
        general=general,
        last=last,
        error=error,
        today=dt.date.today().isoformat(),
    )


@router.get("/monitoring/{record_id}")
async def monitor_loan(request: Request, record_id: str, wb: WB) -> Response:
    """One loan's alerts and the form to run the checks."""
    return monitor_page(wb.page(request), wb.done(record_id))


def _run_settings(form: FormData) -> tuple[dt.date, int]:
    """The date and the fee-warning window of a monitoring run.

    Parameters
    ----------
    form : FormData
        ``as_of`` (ISO date) and ``within_days`` (default 90).

    Returns
    -------
    tuple
        The date and the days.

    Raises
    ------
    ValueError
        A date that does not read, or days outside 0..3660.
    """
    as_of = dt.date.fromisoformat(str(form.get("as_of") or ""))
    within = int(str(form.get("within_days") or "90"))
    if not 0 <= within <= 3660:
        raise ValueError("within_days must lie in 0..3660")
    return as_of, within


async def _facts_source(wb: Workbench, file: Any, lang: str) -> Callable[[list[str]], Any] | str:
    """Where the current facts come from: the uploaded facts file, else the service's configured sources.

    Parameters
    ----------
    wb : Workbench
        The workbench.
    file : Any
        The form's ``facts`` field.
    lang : str
        Language of an error message.

    Returns
    -------
    callable or str
        ``fetch(ids)``, or the message saying why the file cannot be used.
    """
    services = wb.services
    if not (isinstance(file, UploadFile) and file.filename):
        fetch: Callable[[list[str]], Any] = services.pipeline.fetch
        return fetch
    data = await file.read(wb.settings.max_upload_bytes + 1)
    try:
        check = await wb.check_upload(data, file.filename)
    except UploadRefused as exc:
        return text(f"refused_{exc.code}", lang, msg=str(exc))
    if check.issues:
        msg = "; ".join(f"row {i['row']}, {i['patent']}, {i['field']}: {i['message']}" for i in check.issues)
        return text("check_failed", lang, msg=msg)
    current = services.pipeline.read(check.rows)

    def from_file(ids: list[str]) -> Any:
        return current

    return from_file


@router.post("/monitoring/{record_id}/run")
async def monitor_run(request: Request, record_id: str, wb: WB) -> Response:
    """Run the monitoring checks of one loan (revaluing its pledged patents) and keep the report."""
    page, form = await wb.posted(request, "analyst", "reviewer", max_files=1, max_fields=10)
    ctx = page.ctx
    rec = wb.done(record_id)
    try:
        as_of, within = _run_settings(form)
    except ValueError as exc:
        return monitor_page(page, rec, 422, text("check_failed", ctx.lang, msg=str(exc)))
    fetch = await _facts_source(wb, form.get("facts"), ctx.lang)
    if isinstance(fetch, str):
        return monitor_page(page, rec, 422, fetch)
    pipeline = wb.services.pipeline
    try:
        report = await wb.heavy(
            lambda: monitor_record(
                pipeline,
                rec.output or {},
                rec.input,
                as_of=as_of,
                within_days=within,
                fetch=fetch,
                revalue=True,
            )
        )
    except Exception as exc:  # noqa: BLE001 - shown to the user; the details go to the log
        log.warning("monitoring %s failed: %s", rec.id, exc)
        return monitor_page(page, rec, 422, text("check_failed", ctx.lang, msg=str(exc)))
    assert ctx.user is not None
    wb.people.add_monitor_run(
        MonitorRun(rec.id, ctx.user.username, as_of.isoformat(), report["level"], report)
    )
    wb.audit(
        ctx,
        "monitor.run",
        rec.id,
        level=report["level"],
        n_events=len(report.get("events", [])),
        as_of=as_of.isoformat(),
    )
    return RedirectResponse(f"{PREFIX}/monitoring/{rec.id}", status_code=303)
