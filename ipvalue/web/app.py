"""The workbench pages: a FastAPI sub-application the service mounts at :data:`PREFIX`.

It runs in the service's process on the service's store, pipeline and job runner; it keeps its own rows (users,
sessions, uploads, sign-offs, monitoring runs) behind :class:`~ipvalue.service.store.workbench.WorkbenchRepository`
and writes every sign-in and every action to the service's audit log.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import math
import re
import tempfile
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader, select_autoescape
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from ipvalue._version import __version__
from ipvalue.errors import InputError
from ipvalue.report import _labels as L
from ipvalue.report._data import fmt_money, fmt_num, fmt_pct
from ipvalue.service.errors import ApiError, input_error_details
from ipvalue.service.models import AssessmentRequest
from ipvalue.service.pipeline import monitor_record, run_assessment
from ipvalue.service.store import AssessmentRecord, AuditEntry, new_record_id, result_hash, sha256_json
from ipvalue.service.store.workbench import (
    ROLES,
    MonitorRun,
    SignOff,
    Upload,
    User,
    UserExists,
    WebSession,
    WorkbenchRepository,
)
from ipvalue.web import PREFIX
from ipvalue.web.i18n import pick_lang, text
from ipvalue.web.passwords import check_password_strength, hash_password, verify_password
from ipvalue.web.security import (
    LANG_COOKIE,
    PRE_COOKIE,
    SESSION_COOKIE,
    SecurityHeaders,
    iso,
    new_token,
    parse_iso,
    pre_csrf,
    same_token,
    token_hash,
    utcnow,
)
from ipvalue.web.settings import WorkbenchSettings
from ipvalue.web.upload import UploadRefused, check_upload

__all__ = ["PREFIX", "build_workbench", "ServiceParts", "Workbench"]

log = logging.getLogger("ipvalue.web")

_USERNAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_CHARTS = ("waterfall", "liquidation_scenarios", "stress")
_MEDIA = {
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
_TABLE_COLUMNS = (
    "patent_id",
    "title",
    "patent_type",
    "legal_status",
    "value",
    "haircut_total",
    "collateral_value",
    "eligible",
    "ineligible_reasons",
)
_TILES = ("collateral_value", "max_loan", "coverage_ratio", "expected_lgd", "expected_loss")


class ServiceParts(Protocol):
    """What the workbench uses of the service (its ``app.state.services``)."""

    settings: Any
    pipeline: Any

    @property
    def store(self) -> Any:
        """The assessment store."""
        ...

    @property
    def jobs(self) -> Any:
        """The job runner (``wake()`` after a job is stored)."""
        ...

    @property
    def keys(self) -> Any:
        """The API key ring (``keys()``)."""
        ...

    def policy_names(self) -> list[str]:
        """Known policy names."""
        ...


@dataclass
class Ctx:
    """Who asks, in which language."""

    lang: str
    user: User | None = None
    session: WebSession | None = None

    @property
    def who(self) -> str:
        """The audit log's name for the user."""
        return f"web:{self.user.username}" if self.user else "web:anonymous"


class _Redirect(Exception):
    def __init__(self, url: str):
        self.url = url


class _WebError(Exception):
    def __init__(self, status: int, key: str, detail: str = ""):
        self.status, self.key, self.detail = status, key, detail


class Workbench:
    """Per-app state of the workbench (no module-global state)."""

    def __init__(
        self, services: ServiceParts, settings: WorkbenchSettings, people: WorkbenchRepository | None = None
    ):
        self.services = services
        self.settings = settings
        self._people = people
        self.pre_key = new_token().encode()
        self.env = Environment(
            loader=PackageLoader("ipvalue.web", "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters.update(money=fmt_money, pct=fmt_pct, num=fmt_num)
        self._peers_lock = threading.Lock()
        self._peers: Any = None
        self._profiles: dict[str, Any] = {}

    @property
    def people(self) -> WorkbenchRepository:
        """The workbench's rows: the service's own store (both SQL backends implement the protocol)."""
        if self._people is None:
            store = self.services.store
            if not isinstance(store, WorkbenchRepository):
                raise TypeError(f"{type(store).__name__} does not implement WorkbenchRepository")
            self._people = store
        return self._people

    def audit(self, ctx: Ctx, action: str, record_id: str | None = None, **details: Any) -> None:
        """Append one entry to the service's audit log."""
        self.services.store.append_audit(
            AuditEntry(action=action, who=ctx.who, record_id=record_id, version=__version__, details=details)
        )

    def render(self, request: Request, ctx: Ctx, name: str, status: int = 200, **values: Any) -> HTMLResponse:
        """A page: the template with the user, the language, the CSRF token and the label helpers."""
        lang = ctx.lang

        def t(key: str, **fmt: object) -> str:
            return text(key, lang, **fmt)

        def lbl(key: str, table: str = "SUMMARY_LABELS") -> str:
            return L.translate_code(key, getattr(L, table), lang) if table != "LABELS" else L.label(key, lang)

        csrf = values.pop("csrf", None) or (ctx.session.csrf if ctx.session else "")
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        html = self.env.get_template(name).render(
            t=t,
            lbl=lbl,
            lang=lang,
            user=ctx.user,
            csrf=csrf,
            base=PREFIX,
            here=here,
            version=__version__,
            **values,
        )
        return HTMLResponse(html, status_code=status)

    # -- who is asking ----------------------------------------------------------------------------------------
    def context(self, request: Request) -> Ctx:
        """The language and, when the session cookie is valid, the user."""
        ctx = Ctx(lang=pick_lang(request.cookies.get(LANG_COOKIE)))
        token = request.cookies.get(SESSION_COOKIE)
        if not token or len(token) > 200:
            return ctx
        session = self.people.get_session(token_hash(token))
        if session is None:
            return ctx
        expires = parse_iso(session.expires_at)
        if expires is None or expires < utcnow():
            self.people.delete_session(session.token_hash)
            return ctx
        user = self.people.get_user(session.username)
        if user is None or not user.active:
            return ctx
        ctx.user, ctx.session = user, session
        return ctx

    def require(self, request: Request, *roles: str) -> Ctx:
        """The signed-in user's context; the sign-in page when nobody is, 403 for another role."""
        ctx = self.context(request)
        if ctx.user is None:
            raise _Redirect(f"{PREFIX}/login?" + urlencode({"next": request.url.path}))
        if roles and ctx.user.role not in roles:
            self.audit(ctx, "web.forbidden", path=request.url.path, role=ctx.user.role)
            raise _WebError(403, "forbidden")
        return ctx

    async def form(self, request: Request, ctx: Ctx, **limits: int) -> FormData:
        """The posted form, after its CSRF token is checked (403 and an audit entry when it is wrong)."""
        form = await request.form(**limits)
        if not same_token(form.get("csrf_token"), ctx.session.csrf if ctx.session else None):
            self.audit(ctx, "web.csrf_refused", path=request.url.path)
            raise _WebError(403, "csrf_refused")
        return form

    # -- records ----------------------------------------------------------------------------------------------
    def record(self, record_id: str) -> AssessmentRecord:
        """A stored assessment (404 otherwise)."""
        rec = self.services.store.get(record_id) if len(record_id) <= 100 else None
        if rec is None or rec.kind != "assessment":
            raise _WebError(404, "not_found")
        return rec

    def done(self, record_id: str) -> AssessmentRecord:
        """A finished assessment; an unfinished one sends the browser to its progress page."""
        rec = self.record(record_id)
        if rec.status in ("queued", "running"):
            raise _Redirect(f"{PREFIX}/jobs/{rec.id}")
        if rec.status != "done":
            raise _Redirect(f"{PREFIX}/jobs/{rec.id}")
        return rec

    async def heavy(self, fn: Any, *args: Any) -> Any:
        """Run computing work on the service's bounded pool (503 when it is full), like the API does."""
        pool = getattr(self.services, "pool", None)
        if pool is None:
            return await run_in_threadpool(fn, *args)
        return await pool.run(fn, *args)

    def peer_book(self, as_of: str) -> Any:
        """The configured peers (``peers_file``) as a peer book at ``as_of`` (None when no file is configured).

        The file is read once; a peer book is computed once per date (the last four are kept).
        """
        if self.settings.peers_file is None:
            return None
        if self._peers is None:
            from ipvalue.profile import PeerBookCache

            with self._peers_lock:
                if self._peers is None:
                    self._peers = PeerBookCache(self.settings.peers_file)
        return self._peers.get(as_of)

    def profile(self, rec: AssessmentRecord) -> Any:
        """The technology profile of an assessment's borrower from its valued patents (kept for 32 records)."""
        if rec.id in self._profiles:
            return self._profiles[rec.id]
        from ipvalue.profile import profile_borrower
        from ipvalue.report.assessment_json import records_to_frame

        out = rec.output or {}
        as_of = str(rec.input.get("as_of") or (out.get("summary") or {}).get("as_of"))
        frame = records_to_frame(out.get("patents") or [], index="patent_id")
        borrower = (out.get("loan") or {}).get("borrower") or None
        prof = profile_borrower(frame, as_of=as_of, peers=self.peer_book(as_of), firm=borrower)
        with self._peers_lock:
            while len(self._profiles) >= 32:
                self._profiles.pop(next(iter(self._profiles)))
            self._profiles[rec.id] = prof
        return prof

    def artifact(self, rec: AssessmentRecord, name: str, make: Any) -> bytes:
        """A derived file kept with the record, made once by ``make()``."""
        store = self.services.store
        data = store.get_artifact(rec.id, name)
        if data is None:
            data = make()
            store.put_artifact(rec.id, name, data)
        return data


def _assessment(rec: AssessmentRecord) -> Any:
    from ipvalue.report.assessment_json import assessment_from_json

    return assessment_from_json(rec.output or {}, rec.artifacts)


def _chart_svg(rec: AssessmentRecord, name: str, lang: str) -> bytes:
    import io

    from ipvalue.report import charts

    fig = getattr(charts, name)(_assessment(rec), lang=lang)
    buf = io.BytesIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    return buf.getvalue()


def _radar_svg(profile: Any, lang: str) -> bytes:
    import io

    from ipvalue.report import charts

    buf = io.BytesIO()
    charts.profile_radar(profile, lang=lang).savefig(buf, format="svg", bbox_inches="tight")
    return buf.getvalue()


def _report_bytes(wb: Workbench, rec: AssessmentRecord, fmt: str, lang: str) -> bytes:
    """The report file, rendered as the API renders it (a child process with the service's time limit)."""
    from ipvalue.service.jobs import render_report

    svc = wb.services
    with tempfile.TemporaryDirectory(prefix="ipvalue-report-") as tmp:
        path = Path(tmp) / f"{rec.id}.{fmt}"
        return render_report(
            svc.pipeline.report, rec.output or {}, rec.artifacts, path, lang, svc.settings.report_timeout_s
        )


def _float(v: Any) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return math.nan
    return f


def _reasons(p: dict[str, Any]) -> list[str]:
    raw = p.get("ineligible_reasons") or ""
    items = raw if isinstance(raw, list) else re.split(r"[;,]\s*", str(raw))
    return [str(c).strip() for c in items if str(c).strip()]


def patent_table(
    patents: list[dict[str, Any]], *, eligible: str, reason: str, sort: str, desc: bool, page: int, size: int
) -> dict[str, Any]:
    """Filter, sort and page the per-patent rows (the table's data and its paging)."""
    rows = patents
    if eligible in ("yes", "no"):
        want = eligible == "yes"
        rows = [p for p in rows if bool(p.get("eligible")) == want]
    if reason:
        rows = [p for p in rows if reason in _reasons(p)]
    if sort not in _TABLE_COLUMNS:
        sort = "patent_id"
    numeric = sort in ("value", "haircut_total", "collateral_value")

    def key(p: dict[str, Any]) -> tuple[int, Any]:
        v = p.get(sort)
        if numeric:
            f = _float(v)
            return (1, 0.0) if math.isnan(f) else (0, -f if desc else f)
        return (0, str(v if v is not None else ""))

    rows = sorted(rows, key=key, reverse=desc and not numeric)
    n = len(rows)
    pages = max(1, math.ceil(n / size))
    page = min(max(page, 1), pages)
    return {
        "rows": rows[(page - 1) * size : page * size],
        "n": n,
        "page": page,
        "pages": pages,
        "sort": sort,
        "desc": desc,
        "eligible": eligible,
        "reason": reason,
        "codes": sorted({c for p in patents for c in _reasons(p)}),
    }


def haircut_rows(p: dict[str, Any], lang: str) -> tuple[list[dict[str, Any]], list[str]]:
    """Each haircut component with its rate and its explanation, and the explanation's closing parts."""
    parts_en = [s.strip() for s in str(p.get("haircut_explanation") or "").split(";") if s.strip()]
    parts_zh = [s.strip() for s in re.split("；", str(p.get("haircut_explanation_zh") or "")) if s.strip()]
    parts = parts_zh if lang == "zh" and len(parts_zh) == len(parts_en) else parts_en
    used: set[int] = set()
    rows = []
    for col in p:
        if not col.startswith("haircut_") or col in (
            "haircut_total",
            "haircut_basis",
            "haircut_explanation",
            "haircut_explanation_zh",
        ):
            continue
        comp = col[len("haircut_") :]
        idx = next((i for i, s in enumerate(parts_en) if s.split(" ", 1)[0] == comp), None)
        if idx is not None:
            used.add(idx)
        rows.append(
            {
                "component": comp,
                "label": L.translate_code(comp, L.COMPONENTS, lang),
                "rate": p.get(col),
                "explanation": parts[idx] if idx is not None and idx < len(parts) else "",
            }
        )
    rest = [s for i, s in enumerate(parts) if i not in used]
    return rows, rest


def _loan_end(r: dict[str, Any]) -> dt.date | None:
    start = r.get("start_date") or r.get("as_of")
    if not start or r.get("tenor_years") is None:
        return None
    d = dt.date.fromisoformat(str(start))
    return d + dt.timedelta(days=round(float(r["tenor_years"]) * 365.25))


_FORM_FIELDS = {
    ("loan", "amount"): "amount",
    ("loan", "currency"): "currency",
    ("loan", "tenor_years"): "tenor_years",
    ("loan", "probability_of_default"): "probability_of_default",
    ("loan", "borrower"): "borrower",
    ("loan", "start_date"): "start_date",
    ("loan", "interest_rate"): "interest_rate",
    ("as_of",): "as_of",
    ("seed",): "seed",
    ("policy",): "policy",
}
_SHARERS = ("compensation_fund", "guarantor", "insurer", "appraiser")
_TERM_NAMES = (
    "amount",
    "currency",
    "fx_rate",
    "tenor_years",
    "probability_of_default",
    "policy",
    "as_of",
    "start_date",
    "borrower",
    "interest_rate",
    "seed",
    *_SHARERS,
    *(f"{s}_cap" for s in _SHARERS),
)


def _blank_none(v: Any) -> Any:
    return (
        None
        if v is None or (isinstance(v, str) and not v.strip())
        else (v.strip() if isinstance(v, str) else v)
    )


def terms_request(
    values: dict[str, str], rows: list[dict[str, Any]], portfolio_ccy: str
) -> tuple[dict[str, Any] | None, dict[str, str], dict[str, Any]]:
    """The API request for the loan terms of the form, or the problems per form field (the API's messages).

    A loan in another currency than the portfolio's is converted at the form's FX rate (amount and caps) and
    assessed in the portfolio's currency; the original currency and rate are returned for the audit log.
    """
    errors: dict[str, str] = {}
    g = {k: _blank_none(values.get(k)) for k in _TERM_NAMES}
    currency = (g["currency"] or "").upper()
    fx = 1.0
    note: dict[str, Any] = {}
    if currency and portfolio_ccy and currency != portfolio_ccy:
        try:
            fx = float(g["fx_rate"] or "nan")
        except ValueError:
            fx = math.nan
        if not (fx > 0 and math.isfinite(fx)):
            errors["fx_rate"] = (
                f"an FX rate > 0 is needed for a {currency} loan on a {portfolio_ccy} portfolio"
            )
        note = {"loan_currency": currency, "fx_rate": fx}

    def conv(v: Any) -> Any:
        if v is None or not note or errors.get("fx_rate"):
            return v
        try:
            return float(v) * fx
        except ValueError:
            return v

    risk = {s: g[s] if g[s] is not None else 0.0 for s in _SHARERS}
    risk.update({f"{s}_cap": conv(g[f"{s}_cap"]) for s in _SHARERS})
    loan = {
        "amount": conv(g["amount"]),
        "currency": portfolio_ccy if note else currency,
        "tenor_years": g["tenor_years"],
        "probability_of_default": g["probability_of_default"],
        "borrower": g["borrower"],
        "start_date": g["start_date"],
        "interest_rate": g["interest_rate"] if g["interest_rate"] is not None else 0.05,
        "risk_sharing": risk,
    }
    body = {
        "patents": rows,
        "loan": loan,
        "as_of": g["as_of"],
        "seed": g["seed"] if g["seed"] is not None else 0,
        "policy": g["policy"],
    }
    try:
        req = AssessmentRequest.model_validate(body)
    except ValidationError as exc:
        for e in exc.errors():
            loc = tuple(str(p) for p in e.get("loc", ()))
            name = _FORM_FIELDS.get(loc[:2]) or _FORM_FIELDS.get(loc[:1])
            if loc[:2] == ("loan", "risk_sharing"):
                name = loc[2] if len(loc) > 2 else "compensation_fund"
            errors.setdefault(name or ".".join(loc), str(e.get("msg", "")))
        return None, errors, note
    if errors:
        return None, errors, note
    return req.model_dump(mode="json", exclude_none=False), errors, note


def build_workbench(
    services: ServiceParts,
    settings: WorkbenchSettings | None = None,
    *,
    people: WorkbenchRepository | None = None,
) -> FastAPI:
    """The workbench as an ASGI app, to mount at :data:`PREFIX` in the service.

    Parameters
    ----------
    services : ServiceParts
        The service's state (store, pipeline, settings, jobs).
    settings : WorkbenchSettings, optional
        Defaults to :meth:`WorkbenchSettings.from_env`.
    people : WorkbenchRepository, optional
        Defaults to the service's store when it implements the protocol, else SQLite in the service's file.
    """
    settings = settings or WorkbenchSettings.from_env()
    wb = Workbench(services, settings, people)
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.state.workbench = wb
    app.mount("/static", StaticFiles(packages=[("ipvalue.web", "static")]), name="static")

    @app.exception_handler(_Redirect)
    async def _redirect(request: Request, exc: _Redirect) -> Response:
        if request.headers.get("hx-request"):
            return Response(status_code=200, headers={"HX-Redirect": exc.url})
        return RedirectResponse(exc.url, status_code=303)

    @app.exception_handler(_WebError)
    async def _error(request: Request, exc: _WebError) -> Response:
        ctx = wb.context(request)
        return wb.render(request, ctx, "error.html.j2", status=exc.status, key=exc.key, detail=exc.detail)

    from starlette.exceptions import HTTPException as StarletteHTTPException

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> Response:
        ctx = wb.context(request)
        resp = wb.render(
            request, ctx, "error.html.j2", status=exc.status, key="error_title", detail=exc.message
        )
        for k, v in (exc.headers or {}).items():
            resp.headers[k] = v
        return resp

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        ctx = wb.context(request)
        key = "not_found" if exc.status_code == 404 else "error_title"
        return wb.render(request, ctx, "error.html.j2", status=exc.status_code, key=key, detail="")

    def cookie(resp: Response, request: Request, name: str, value: str, max_age: int | None) -> None:
        secure = (
            settings.secure_cookie if settings.secure_cookie is not None else request.url.scheme == "https"
        )
        resp.set_cookie(
            name, value, max_age=max_age, path=PREFIX, httponly=True, samesite="strict", secure=secure
        )

    # -- sign-in ----------------------------------------------------------------------------------------------
    @app.get("/")
    async def home(request: Request) -> Response:
        ctx = wb.require(request)
        assert ctx.user is not None
        return RedirectResponse(f"{PREFIX}/{'upload' if ctx.user.role == 'analyst' else 'assessments'}", 303)

    def login_page(
        request: Request, ctx: Ctx, status: int = 200, error: str = "", username: str = ""
    ) -> Response:
        pre = request.cookies.get(PRE_COOKIE)
        if not pre or len(pre) > 100:
            pre = new_token()
        resp = wb.render(
            request,
            ctx,
            "login.html.j2",
            status=status,
            csrf=pre_csrf(wb.pre_key, pre),
            error=error,
            username=username,
            next=request.query_params.get("next", ""),
        )
        cookie(resp, request, PRE_COOKIE, pre, None)
        return resp

    @app.get("/login")
    async def login_get(request: Request) -> Response:
        return login_page(request, wb.context(request))

    @app.post("/login")
    async def login_post(request: Request) -> Response:
        ctx = wb.context(request)
        form = await request.form(max_files=0, max_fields=10)
        pre = request.cookies.get(PRE_COOKIE) or ""
        if not pre or not same_token(form.get("csrf_token"), pre_csrf(wb.pre_key, pre)):
            wb.audit(ctx, "web.csrf_refused", path=request.url.path)
            raise _WebError(403, "csrf_refused")
        username = str(form.get("username") or "")[:64]
        password = str(form.get("password") or "")[:1024]
        user = wb.people.get_user(username) if _USERNAME.match(username) else None
        now = utcnow()
        locked = parse_iso(user.locked_until) if user else None
        if user is not None and locked is not None and locked > now:
            await asyncio.sleep(settings.failed_login_delay)
            wb.audit(ctx, "web.login.locked", username=username)
            until = locked.strftime("%Y-%m-%d %H:%M")
            return login_page(request, ctx, 429, text("login_locked", ctx.lang, until=until), username)
        ok = await run_in_threadpool(
            verify_password, password, user.password_hash if user is not None and user.active else None
        )
        if not ok:
            failures = 1
            lock_at = iso(now + dt.timedelta(seconds=settings.lockout_seconds))
            if user is not None:
                failures = wb.people.record_failed_login(username, settings.max_failed_logins, lock_at)
            await asyncio.sleep(min(settings.failed_login_delay * failures, 5.0))
            wb.audit(ctx, "web.login.fail", username=username, failures=failures, known=user is not None)
            if user is not None and failures >= settings.max_failed_logins:
                wb.audit(ctx, "web.account.locked", username=username, until=lock_at)
                until = (now + dt.timedelta(seconds=settings.lockout_seconds)).strftime("%Y-%m-%d %H:%M")
                return login_page(request, ctx, 429, text("login_locked", ctx.lang, until=until), username)
            return login_page(request, ctx, 401, text("login_failed", ctx.lang), username)
        assert user is not None
        wb.people.update_user(username, failed_logins=0, locked_until=None)
        token = new_token()
        session = WebSession(
            token_hash=token_hash(token),
            username=username,
            csrf=new_token(),
            created_at=iso(now),
            expires_at=iso(now + dt.timedelta(hours=settings.session_hours)),
        )
        wb.people.create_session(session)
        ctx.user, ctx.session = user, session
        wb.audit(ctx, "web.login", role=user.role)
        nxt = str(form.get("next") or "")
        target = nxt if re.fullmatch(rf"{PREFIX}/[A-Za-z0-9_/.-]*", nxt) and "//" not in nxt else f"{PREFIX}/"
        resp = RedirectResponse(target, status_code=303)
        cookie(resp, request, SESSION_COOKIE, token, int(settings.session_hours * 3600))
        return resp

    @app.post("/logout")
    async def logout(request: Request) -> Response:
        ctx = wb.require(request)
        await wb.form(request, ctx, max_files=0, max_fields=5)
        assert ctx.session is not None
        wb.people.delete_session(ctx.session.token_hash)
        wb.audit(ctx, "web.logout")
        resp = RedirectResponse(f"{PREFIX}/login", status_code=303)
        resp.delete_cookie(SESSION_COOKIE, path=PREFIX)
        return resp

    @app.get("/lang/{to}")
    async def switch_lang(request: Request, to: str) -> Response:
        nxt = request.query_params.get("next", "")
        target = nxt if nxt.startswith(f"{PREFIX}/") and "//" not in nxt and "\\" not in nxt else f"{PREFIX}/"
        resp = RedirectResponse(target, status_code=303)
        cookie(resp, request, LANG_COOKIE, pick_lang(to), 365 * 86400)
        return resp

    # -- upload and check -------------------------------------------------------------------------------------
    def upload_page(request: Request, ctx: Ctx, status: int = 200, error: str = "") -> Response:
        return wb.render(
            request,
            ctx,
            "upload.html.j2",
            status=status,
            error=error,
            mb=f"{settings.max_upload_bytes / 1e6:g}",
            max_patents=services.settings.max_patents,
        )

    @app.get("/upload")
    async def upload_get(request: Request) -> Response:
        return upload_page(request, wb.require(request, "analyst"))

    @app.post("/upload")
    async def upload_post(request: Request) -> Response:
        ctx = wb.require(request, "analyst")
        form = await wb.form(request, ctx, max_files=1, max_fields=5)
        file = form.get("file")
        if not isinstance(file, UploadFile):
            return upload_page(request, ctx, 422, text("refused_not_spreadsheet", ctx.lang, msg="no file"))
        data = await file.read(settings.max_upload_bytes + 1)
        name = (file.filename or "portfolio")[:200]
        try:
            check = await run_in_threadpool(
                check_upload,
                data,
                name,
                max_bytes=settings.max_upload_bytes,
                max_unpacked=settings.max_unpacked_bytes,
                max_ratio=settings.max_compression_ratio,
                max_patents=services.settings.max_patents,
            )
        except UploadRefused as exc:
            wb.audit(ctx, "web.upload.refused", filename=name, code=exc.code)
            status = {"too_big": 413, "not_spreadsheet": 415}.get(exc.code, 422)
            return upload_page(request, ctx, status, text(f"refused_{exc.code}", ctx.lang, msg=str(exc)))
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

    def get_upload(upload_id: str) -> Upload:
        up = wb.people.get_upload(upload_id) if len(upload_id) <= 100 else None
        if up is None:
            raise _WebError(404, "not_found")
        return up

    def check_page(
        request: Request,
        ctx: Ctx,
        up: Upload,
        status: int = 200,
        values: dict[str, Any] | None = None,
        errors: dict[str, str] | None = None,
    ) -> Response:
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
        return wb.render(
            request,
            ctx,
            "check.html.j2",
            status=status,
            up=up,
            check=check,
            portfolio_ccy=ccy,
            values={**defaults, **(values or {})},
            errors=errors or {},
            policies=services.policy_names(),
            sharers=_SHARERS,
        )

    @app.get("/uploads/{upload_id}")
    async def upload_check(request: Request, upload_id: str) -> Response:
        ctx = wb.require(request, "analyst")
        return check_page(request, ctx, get_upload(upload_id))

    @app.post("/uploads/{upload_id}/run")
    async def upload_run(request: Request, upload_id: str) -> Response:
        ctx = wb.require(request, "analyst")
        form = await wb.form(request, ctx, max_files=0, max_fields=40)
        up = get_upload(upload_id)
        if up.check.get("issues") or not up.rows:
            return check_page(request, ctx, up, 422)
        values = {k: str(form.get(k) or "") for k in _TERM_NAMES}
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
            return check_page(request, ctx, up, 422, values, errors)
        return await submit(request, ctx, up, payload, note, values)

    async def submit(
        request: Request, ctx: Ctx, up: Upload, payload: dict[str, Any], note: dict[str, Any], values: dict
    ) -> Response:
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
                return check_page(request, ctx, up, 422, values, errors or {"file": str(exc)})
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

    # -- jobs -------------------------------------------------------------------------------------------------
    @app.get("/jobs/{record_id}")
    async def job_page(request: Request, record_id: str) -> Response:
        ctx = wb.require(request)
        rec = wb.record(record_id)
        if rec.status == "done":
            return RedirectResponse(f"{PREFIX}/assessments/{rec.id}", status_code=303)
        return wb.render(request, ctx, "job.html.j2", rec=rec)

    @app.get("/jobs/{record_id}/progress")
    async def job_progress(request: Request, record_id: str) -> Response:
        ctx = wb.require(request)
        rec = wb.record(record_id)
        resp = wb.render(request, ctx, "_progress.html.j2", rec=rec)
        if rec.status == "done":
            resp.headers["HX-Redirect"] = f"{PREFIX}/assessments/{rec.id}"
        return resp

    # -- read -------------------------------------------------------------------------------------------------
    @app.get("/assessments")
    async def history(request: Request) -> Response:
        ctx = wb.require(request)
        records = await run_in_threadpool(wb.people.web_records)
        return wb.render(request, ctx, "history.html.j2", records=records)

    def table_args(request: Request, rec: AssessmentRecord) -> dict[str, Any]:
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
            size=settings.table_page_size,
        )

    @app.get("/assessments/{record_id}")
    async def result(request: Request, record_id: str) -> Response:
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
            table=table_args(request, rec),
            tiles=_TILES,
            audit=services.store.audit_entries(rec.id),
            signoffs=wb.people.signoffs(rec.id),
            signoff_error="",
        )

    @app.get("/assessments/{record_id}/table")
    async def result_table(request: Request, record_id: str) -> Response:
        ctx = wb.require(request)
        rec = wb.done(record_id)
        return wb.render(request, ctx, "_patent_table.html.j2", rec=rec, table=table_args(request, rec))

    @app.get("/assessments/{record_id}/charts/{name}.svg")
    async def chart(request: Request, record_id: str, name: str) -> Response:
        ctx = wb.require(request)
        if name not in _CHARTS or len(record_id) > 100:
            raise _WebError(404, "not_found")
        kept = await run_in_threadpool(services.store.get_artifact, record_id, f"chart.{name}.{ctx.lang}.svg")
        if kept is not None:  # drawn before: no need to load the (large) record
            return Response(kept, media_type="image/svg+xml")
        rec = wb.done(record_id)
        data = await run_in_threadpool(
            wb.artifact, rec, f"chart.{name}.{ctx.lang}.svg", lambda: _chart_svg(rec, name, ctx.lang)
        )
        return Response(data, media_type="image/svg+xml")

    @app.get("/assessments/{record_id}/report.{fmt}")
    async def report(request: Request, record_id: str, fmt: str) -> Response:
        ctx = wb.require(request)
        rec = wb.done(record_id)
        if fmt not in _MEDIA:
            raise _WebError(404, "not_found")
        lang = pick_lang(request.query_params.get("lang", ctx.lang))
        data = await wb.heavy(
            wb.artifact, rec, f"report.{lang}.{fmt}", lambda: _report_bytes(wb, rec, fmt, lang)
        )
        wb.audit(ctx, "web.report.download", rec.id, format=fmt, lang=lang)
        return Response(
            data,
            media_type=_MEDIA[fmt],
            headers={"Content-Disposition": f'attachment; filename="ipvalue-{rec.id}-{lang}.{fmt}"'},
        )

    @app.get("/assessments/{record_id}/patents/{patent_id}")
    async def patent_page(request: Request, record_id: str, patent_id: str) -> Response:
        ctx = wb.require(request)
        rec = wb.done(record_id)
        p = next(
            (q for q in (rec.output or {}).get("patents") or [] if q.get("patent_id") == patent_id), None
        )
        if p is None:
            raise _WebError(404, "not_found")
        rows, rest = haircut_rows(p, ctx.lang)
        return wb.render(
            request,
            ctx,
            "patent.html.j2",
            rec=rec,
            p=p,
            haircuts=rows,
            rest=rest,
            reasons=_reasons(p),
            currency=((rec.output or {}).get("summary") or {}).get("currency", ""),
        )

    async def borrower_profile(record_id: str) -> tuple[AssessmentRecord, Any]:
        rec = wb.done(record_id)
        try:
            return rec, await wb.heavy(wb.profile, rec)
        except InputError as exc:
            raise _WebError(422, "error_title", str(exc)) from exc

    @app.get("/assessments/{record_id}/profile")
    async def profile_page(request: Request, record_id: str) -> Response:
        from ipvalue.report._html import profile_text

        ctx = wb.require(request)
        rec, prof = await borrower_profile(record_id)
        wb.audit(ctx, "web.profile", rec.id, grade=prof.grade, peers=prof.peers_given)
        return wb.render(
            request,
            ctx,
            "profile.html.j2",
            rec=rec,
            prof=prof,
            sec=profile_text(prof, lang=ctx.lang),
            peers_file=settings.peers_file is not None,
        )

    @app.get("/assessments/{record_id}/profile/radar.svg")
    async def profile_radar(request: Request, record_id: str) -> Response:
        ctx = wb.require(request)
        _, prof = await borrower_profile(record_id)
        data = await run_in_threadpool(_radar_svg, prof, ctx.lang)
        return Response(data, media_type="image/svg+xml")

    @app.post("/assessments/{record_id}/signoff")
    async def signoff(request: Request, record_id: str) -> Response:
        ctx = wb.require(request, "reviewer")
        form = await wb.form(request, ctx, max_files=0, max_fields=5)
        rec = wb.done(record_id)
        decision = str(form.get("decision") or "")
        comment = str(form.get("comment") or "").strip()[:2000]
        if decision not in ("approve", "reject") or not comment:
            raise _WebError(422, "signoff_need_comment")
        assert ctx.user is not None
        seq = wb.people.add_signoff(SignOff(rec.id, ctx.user.username, decision, comment))  # type: ignore[arg-type]
        wb.audit(
            ctx, "web.signoff", rec.id, decision=decision, signoff=seq, comment_hash=sha256_json(comment)
        )
        return RedirectResponse(f"{PREFIX}/assessments/{rec.id}#signoff", status_code=303)

    # -- monitoring -------------------------------------------------------------------------------------------
    @app.get("/monitoring")
    async def monitoring(request: Request) -> Response:
        ctx = wb.require(request)
        today = dt.date.today()
        live = []
        for r in await run_in_threadpool(wb.people.web_records):
            end = _loan_end(r)
            if r["status"] != "done" or end is None or end <= today:
                continue
            runs = wb.people.monitor_runs(r["id"])
            live.append({**r, "loan_end": end.isoformat(), "last": runs[-1] if runs else None})
        return wb.render(request, ctx, "monitoring.html.j2", live=live)

    def monitor_page(
        request: Request, ctx: Ctx, rec: AssessmentRecord, status: int = 200, error: str = ""
    ) -> Response:
        runs = wb.people.monitor_runs(rec.id)
        last = runs[-1] if runs else None
        by_patent: dict[str, list[dict[str, Any]]] = {}
        general = []
        for e in (last.report.get("events") if last else []) or []:
            if e.get("patent_id"):
                by_patent.setdefault(str(e["patent_id"]), []).append(e)
            else:
                general.append(e)
        pledged = [p for p in (rec.output or {}).get("patents") or [] if p.get("eligible")]
        return wb.render(
            request,
            ctx,
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

    @app.get("/monitoring/{record_id}")
    async def monitor_loan(request: Request, record_id: str) -> Response:
        ctx = wb.require(request)
        return monitor_page(request, ctx, wb.done(record_id))

    @app.post("/monitoring/{record_id}/run")
    async def monitor_run(request: Request, record_id: str) -> Response:
        ctx = wb.require(request, "analyst", "reviewer")
        form = await wb.form(request, ctx, max_files=1, max_fields=10)
        rec = wb.done(record_id)
        try:
            as_of = dt.date.fromisoformat(str(form.get("as_of") or ""))
            within = int(str(form.get("within_days") or "90"))
            if not 0 <= within <= 3660:
                raise ValueError("within_days must lie in 0..3660")
        except ValueError as exc:
            return monitor_page(request, ctx, rec, 422, text("check_failed", ctx.lang, msg=str(exc)))
        file = form.get("facts")
        fetch = services.pipeline.fetch
        if isinstance(file, UploadFile) and file.filename:
            data = await file.read(settings.max_upload_bytes + 1)
            try:
                check = await run_in_threadpool(
                    check_upload,
                    data,
                    file.filename,
                    max_bytes=settings.max_upload_bytes,
                    max_unpacked=settings.max_unpacked_bytes,
                    max_ratio=settings.max_compression_ratio,
                    max_patents=services.settings.max_patents,
                )
            except UploadRefused as exc:
                return monitor_page(
                    request, ctx, rec, 422, text(f"refused_{exc.code}", ctx.lang, msg=str(exc))
                )
            if check.issues:
                msg = "; ".join(
                    f"row {i['row']}, {i['patent']}, {i['field']}: {i['message']}" for i in check.issues
                )
                return monitor_page(request, ctx, rec, 422, text("check_failed", ctx.lang, msg=msg))
            current = services.pipeline.read(check.rows)

            def fetch(ids: list[str]) -> Any:
                return current

        try:
            report = await wb.heavy(
                lambda: monitor_record(
                    services.pipeline,
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
            return monitor_page(request, ctx, rec, 422, text("check_failed", ctx.lang, msg=str(exc)))
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

    # -- administration ---------------------------------------------------------------------------------------
    def users_page(
        request: Request, ctx: Ctx, status: int = 200, message: str = "", error: str = "", secret: str = ""
    ) -> Response:
        path = services.settings.api_keys_file
        if (
            path is not None and Path(path).exists()
        ):  # the file as it is now (the key ring re-reads it lazily)
            from ipvalue.service.auth import load_keys_file

            keys = [*services.settings.api_keys, *load_keys_file(path)]
        else:
            keys = list(services.keys.keys())
        return wb.render(
            request,
            ctx,
            "users.html.j2",
            status=status,
            users=wb.people.list_users(),
            roles=ROLES,
            message=message,
            error=error,
            keys=[{"id": k.id, "scopes": ", ".join(k.scopes)} for k in keys],
            keys_file=services.settings.api_keys_file,
            secret=secret,
            now=iso(utcnow()),
        )

    @app.get("/admin/users")
    async def users(request: Request) -> Response:
        return users_page(request, wb.require(request, "admin"))

    @app.post("/admin/users")
    async def users_add(request: Request) -> Response:
        ctx = wb.require(request, "admin")
        form = await wb.form(request, ctx, max_files=0, max_fields=6)
        name = str(form.get("username") or "")
        role = str(form.get("role") or "")
        password = str(form.get("password") or "")
        if not _USERNAME.match(name) or role not in ROLES:
            return users_page(request, ctx, 422, error=text("username_bad", ctx.lang))
        weak = check_password_strength(password)
        if weak:
            return users_page(request, ctx, 422, error=text("password_weak", ctx.lang, msg=weak))
        try:
            wb.people.add_user(User(name, role, await run_in_threadpool(hash_password, password)))
        except UserExists:
            return users_page(request, ctx, 409, error=text("user_exists", ctx.lang))
        wb.audit(ctx, "web.user.create", username=name, role=role)
        return users_page(request, ctx, 201, message=text("user_created", ctx.lang, name=name))

    @app.post("/admin/users/{username}/{action}")
    async def users_change(request: Request, username: str, action: str) -> Response:
        ctx = wb.require(request, "admin")
        await wb.form(request, ctx, max_files=0, max_fields=3)
        if wb.people.get_user(username) is None or action not in ("unlock", "deactivate", "activate"):
            raise _WebError(404, "not_found")
        if action == "unlock":
            wb.people.update_user(username, failed_logins=0, locked_until=None)
        else:
            wb.people.update_user(username, active=action == "activate")
            if action == "deactivate":
                wb.people.delete_sessions_of(username)
        wb.audit(ctx, f"web.user.{action}", username=username)
        return RedirectResponse(f"{PREFIX}/admin/users", status_code=303)

    @app.post("/admin/keys")
    async def keys_add(request: Request) -> Response:
        ctx = wb.require(request, "admin")
        form = await wb.form(request, ctx, max_files=0, max_fields=5)
        path = services.settings.api_keys_file
        key_id = str(form.get("key_id") or "")
        scopes = [sc for sc in ("read", "write") if form.get(f"scope_{sc}")]
        if path is None:
            raise _WebError(409, "keys_file_needed")
        if not _USERNAME.match(key_id) or not scopes:
            return users_page(request, ctx, 422, error=text("key_bad", ctx.lang))
        from ipvalue.service.auth import add_key

        try:
            secret = add_key(path, key_id, scopes)
        except InputError as exc:
            return users_page(request, ctx, 409, error=str(exc))
        wb.audit(ctx, "web.key.add", key_id=key_id, scopes=scopes)
        return users_page(request, ctx, 201, message=text("key_added", ctx.lang, kid=key_id), secret=secret)

    @app.post("/admin/keys/{key_id}/revoke")
    async def keys_revoke(request: Request, key_id: str) -> Response:
        ctx = wb.require(request, "admin")
        await wb.form(request, ctx, max_files=0, max_fields=3)
        path = services.settings.api_keys_file
        if path is None:
            raise _WebError(409, "keys_file_needed")
        from ipvalue.service.auth import revoke_key

        try:
            revoke_key(path, key_id)
        except InputError as exc:
            return users_page(request, ctx, 404, error=str(exc))
        wb.audit(ctx, "web.key.revoke", key_id=key_id)
        return RedirectResponse(f"{PREFIX}/admin/users#keys", status_code=303)

    @app.get("/admin/audit")
    async def audit_log(request: Request) -> Response:
        ctx = wb.require(request, "admin")
        entries = await run_in_threadpool(services.store.audit_entries)
        return wb.render(request, ctx, "audit.html.j2", entries=list(reversed(entries[-200:])))

    def too_large(scope: dict) -> bytes:
        lang = "zh"
        for k, v in scope.get("headers", []):
            if k == b"cookie" and f"{LANG_COOKIE}=en".encode() in v:
                lang = "en"
        msg = text("refused_too_big", lang, msg=f"> {settings.max_upload_bytes:,} bytes")
        page = wb.env.get_template("bare.html.j2").render(
            lang=lang, title=text("error_title", lang), msg=msg, base=PREFIX
        )
        return page.encode("utf-8")

    app.add_middleware(SecurityHeaders, max_body=settings.max_upload_bytes + 64_000, too_large=too_large)
    return app
