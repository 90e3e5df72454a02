"""What an assessment shows: history, result, patent table, charts, reports, patent page, profile, sign-off."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from ipvalue.errors import InputError
from ipvalue.service.store import AssessmentRecord, sha256_json
from ipvalue.service.store.workbench import SignOff
from ipvalue.web import PREFIX
from ipvalue.web.i18n import pick_lang
from ipvalue.web.pagedata import haircut_rows, ineligible_reasons, patent_table
from ipvalue.web.workbench import WB, WebError, Workbench

__all__ = ["CHARTS", "MEDIA", "TILES", "router"]

router = APIRouter()

#: the report charts the result page shows
CHARTS = ("waterfall", "liquidation_scenarios", "stress")
#: report format -> media type
MEDIA = {
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
#: the summary figures shown as tiles
TILES = ("collateral_value", "max_loan", "coverage_ratio", "expected_lgd", "expected_loss")


def _assessment(rec: AssessmentRecord) -> Any:
    """The assessment object of a stored record (for the report charts)."""
    from ipvalue.report.assessment_json import assessment_from_json

    return assessment_from_json(rec.output or {}, rec.artifacts)


def _svg(text: str) -> bytes:
    """An SVG chart of the report as a standalone SVG file (XML declaration, UTF-8)."""
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + text).encode("utf-8")


def _font() -> str:
    """The charts' font stack: the CJK families the report prefers, then the browser's sans-serif."""
    from ipvalue.report._fonts import PREFERRED_CJK_FAMILIES

    return ", ".join(f'"{name}"' for name in PREFERRED_CJK_FAMILIES) + ", sans-serif"


def _chart_svg(rec: AssessmentRecord, name: str, lang: str) -> bytes:
    """One report chart of a record, as SVG: the report's own drawing (no matplotlib)."""
    from ipvalue.report._svgcharts import SVG_CHARTS

    return _svg(SVG_CHARTS[name](_assessment(rec), lang=lang, font=_font()))


def _radar_svg(profile: Any, lang: str) -> bytes:
    """The profile's radar chart, as SVG: the report's own drawing (no matplotlib)."""
    from ipvalue.report._svgcharts import profile_radar

    return _svg(profile_radar(profile, lang=lang, font=_font()))


def _report_bytes(wb: Workbench, rec: AssessmentRecord, fmt: str, lang: str) -> bytes:
    """The report file, rendered as the API renders it (a child process with the service's time limit)."""
    from ipvalue.service.jobs import render_report

    svc = wb.services
    with tempfile.TemporaryDirectory(prefix="ipvalue-report-") as tmp:
        path = Path(tmp) / f"{rec.id}.{fmt}"
        return render_report(
            svc.pipeline.report, rec.output or {}, rec.artifacts, path, lang, svc.settings.report_timeout_s
        )


@router.get("/assessments")
async def history(request: Request, wb: WB) -> Response:
    """Every assessment made on the workbench."""
    ctx = wb.require(request)
    records = await run_in_threadpool(wb.people.web_records)
    return wb.render(request, ctx, "history.html.j2", records=records)


def table_args(wb: Workbench, request: Request, rec: AssessmentRecord) -> dict[str, Any]:
    """The patent table of a record as the query asks it (filter, sort, page).

    Parameters
    ----------
    wb : Workbench
        The workbench (its page size).
    request : Request
        Its query: ``eligible``, ``reason``, ``sort``, ``dir``, ``page``.
    rec : AssessmentRecord
        A finished assessment.

    Returns
    -------
    dict
        See :func:`ipvalue.web.pagedata.patent_table`.
    """
    q = request.query_params
    try:
        page = int(q.get("page", "1"))
    except ValueError:
        page = 1
    return patent_table(
        (rec.output or {}).get("patents") or [],
        eligible=q.get("eligible", ""),
        reason=q.get("reason", "")[:64],
        sort=q.get("sort", "patent_id"),
        desc=q.get("dir") == "desc",
        page=page,
        size=wb.settings.table_page_size,
    )


@router.get("/assessments/{record_id}")
async def result(request: Request, record_id: str, wb: WB) -> Response:
    """The result page: tiles, charts, liquidation, stress, the patent table, audit and sign-offs."""
    ctx = wb.require(request)
    rec = wb.done(record_id)
    out = rec.output or {}
    return wb.render(
        request,
        ctx,
        "result.html.j2",
        rec=rec,
        s=out.get("summary") or {},
        loan=out.get("loan") or {},
        liquidation=out.get("liquidation") or [],
        stress=out.get("stress") or [],
        table=table_args(wb, request, rec),
        tiles=TILES,
        audit=wb.services.store.audit_entries(rec.id),
        signoffs=wb.people.signoffs(rec.id),
        signoff_error="",
    )


@router.get("/assessments/{record_id}/table")
async def result_table(request: Request, record_id: str, wb: WB) -> Response:
    """The patent table alone (htmx swaps it in)."""
    ctx = wb.require(request)
    rec = wb.done(record_id)
    return wb.render(request, ctx, "_patent_table.html.j2", rec=rec, table=table_args(wb, request, rec))


@router.get("/assessments/{record_id}/charts/{name}.svg")
async def chart(request: Request, record_id: str, name: str, wb: WB) -> Response:
    """A report chart as SVG, drawn once per language and kept with the record."""
    ctx = wb.require(request)
    if name not in CHARTS or len(record_id) > 100:
        raise WebError(404, "not_found")
    store = wb.services.store
    kept = await run_in_threadpool(store.get_artifact, record_id, f"chart.{name}.{ctx.lang}.svg")
    if kept is not None:  # drawn before: no need to load the (large) record
        return Response(kept, media_type="image/svg+xml")
    rec = wb.done(record_id)
    data = await run_in_threadpool(
        wb.artifact, rec, f"chart.{name}.{ctx.lang}.svg", lambda: _chart_svg(rec, name, ctx.lang)
    )
    return Response(data, media_type="image/svg+xml")


@router.get("/assessments/{record_id}/report.{fmt}")
async def report(request: Request, record_id: str, fmt: str, wb: WB) -> Response:
    """A report download (HTML, PDF or XLSX), made once per language and format."""
    ctx = wb.require(request)
    rec = wb.done(record_id)
    if fmt not in MEDIA:
        raise WebError(404, "not_found")
    lang = pick_lang(request.query_params.get("lang", ctx.lang))
    data = await wb.heavy(wb.artifact, rec, f"report.{lang}.{fmt}", lambda: _report_bytes(wb, rec, fmt, lang))
    wb.audit(ctx, "web.report.download", rec.id, format=fmt, lang=lang)
    return Response(
        data,
        media_type=MEDIA[fmt],
        headers={"Content-Disposition": f'attachment; filename="ipvalue-{rec.id}-{lang}.{fmt}"'},
    )


@router.get("/assessments/{record_id}/patents/{patent_id}")
async def patent_page(request: Request, record_id: str, patent_id: str, wb: WB) -> Response:
    """One patent: its facts, value, haircut components and eligibility."""
    ctx = wb.require(request)
    rec = wb.done(record_id)
    p = next((q for q in (rec.output or {}).get("patents") or [] if q.get("patent_id") == patent_id), None)
    if p is None:
        raise WebError(404, "not_found")
    rows, rest = haircut_rows(p, ctx.lang)
    return wb.render(
        request,
        ctx,
        "patent.html.j2",
        rec=rec,
        p=p,
        haircuts=rows,
        rest=rest,
        reasons=ineligible_reasons(p),
        currency=((rec.output or {}).get("summary") or {}).get("currency", ""),
    )


async def borrower_profile(wb: Workbench, record_id: str) -> tuple[AssessmentRecord, Any]:
    """A finished record and its borrower's technology profile (a bad input is a 422 page).

    Parameters
    ----------
    wb : Workbench
        The workbench.
    record_id : str
        The record.

    Returns
    -------
    tuple
        The record and the :class:`~ipvalue.profile.BorrowerProfile`.
    """
    rec = wb.done(record_id)
    try:
        return rec, await wb.heavy(wb.profile, rec)
    except InputError as exc:
        raise WebError(422, "error_title", str(exc)) from exc


@router.get("/assessments/{record_id}/profile")
async def profile_page(request: Request, record_id: str, wb: WB) -> Response:
    """The borrower's technology profile."""
    from ipvalue.report._html import profile_text

    ctx = wb.require(request)
    rec, prof = await borrower_profile(wb, record_id)
    wb.audit(ctx, "web.profile", rec.id, grade=prof.grade, peers=prof.peers_given)
    return wb.render(
        request,
        ctx,
        "profile.html.j2",
        rec=rec,
        prof=prof,
        sec=profile_text(prof, lang=ctx.lang),
        peers_file=wb.settings.peers_file is not None,
    )


@router.get("/assessments/{record_id}/profile/radar.svg")
async def profile_radar(request: Request, record_id: str, wb: WB) -> Response:
    """The profile's radar chart as SVG."""
    ctx = wb.require(request)
    _, prof = await borrower_profile(wb, record_id)
    data = await run_in_threadpool(_radar_svg, prof, ctx.lang)
    return Response(data, media_type="image/svg+xml")


@router.post("/assessments/{record_id}/signoff")
async def signoff(request: Request, record_id: str, wb: WB) -> Response:
    """A reviewer's decision with a comment (the comment's hash goes to the audit log)."""
    ctx = wb.require(request, "reviewer")
    form = await wb.form(request, ctx, max_files=0, max_fields=5)
    rec = wb.done(record_id)
    decision = str(form.get("decision") or "")
    comment = str(form.get("comment") or "").strip()[:2000]
    if decision not in ("approve", "reject") or not comment:
        raise WebError(422, "signoff_need_comment")
    assert ctx.user is not None
    seq = wb.people.add_signoff(SignOff(rec.id, ctx.user.username, decision, comment))  # type: ignore[arg-type]
    wb.audit(ctx, "web.signoff", rec.id, decision=decision, signoff=seq, comment_hash=sha256_json(comment))
    return RedirectResponse(f"{PREFIX}/assessments/{rec.id}#signoff", status_code=303)
