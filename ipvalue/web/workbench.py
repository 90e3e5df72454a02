"""The workbench's state and what every page shares: who asks, the errors that become pages, the dependency.

:class:`Workbench` holds the per-app state (no module-global state); the routers of :mod:`ipvalue.web.routes`
get it through :data:`WB` (``Depends(get_workbench)``), from the app it was built into.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Annotated, Any, Protocol
from urllib.parse import urlencode

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from ipvalue._version import __version__
from ipvalue.report import _labels as L
from ipvalue.report._data import fmt_money, fmt_num, fmt_pct
from ipvalue.service.store import AssessmentRecord, AuditEntry
from ipvalue.service.store.workbench import User, WebSession, WorkbenchRepository
from ipvalue.web import PREFIX
from ipvalue.web.i18n import pick_lang, text
from ipvalue.web.security import (
    LANG_COOKIE,
    SESSION_COOKIE,
    new_token,
    parse_iso,
    same_token,
    token_hash,
    utcnow,
)
from ipvalue.web.settings import WorkbenchSettings
from ipvalue.web.upload import UploadCheck, check_upload

__all__ = ["Ctx", "Page", "Redirect", "ServiceParts", "WB", "WebError", "Workbench", "get_workbench"]


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


class Redirect(Exception):
    """Send the browser to ``url`` (a 303, or ``HX-Redirect`` for an htmx request).

    Parameters
    ----------
    url : str
        Where to.
    """

    def __init__(self, url: str):
        self.url = url


class WebError(Exception):
    """Answer with the error page.

    Parameters
    ----------
    status : int
        HTTP status.
    key : str
        The message's key in :mod:`ipvalue.web.i18n`.
    detail : str
        More words, shown as they are.
    """

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
            raise Redirect(f"{PREFIX}/login?" + urlencode({"next": request.url.path}))
        if roles and ctx.user.role not in roles:
            self.audit(ctx, "web.forbidden", path=request.url.path, role=ctx.user.role)
            raise WebError(403, "forbidden")
        return ctx

    def page(self, request: Request, *roles: str) -> Page:
        """The signed-in user's request, for a page builder (see :meth:`require`).

        Parameters
        ----------
        request : Request
            The request.
        *roles : str
            The roles allowed (any when none is given).

        Returns
        -------
        Page
        """
        return Page(self, request, self.require(request, *roles))

    async def posted(self, request: Request, *roles: str, **limits: int) -> tuple[Page, FormData]:
        """The signed-in user's request and the form it posted, its CSRF token checked.

        Parameters
        ----------
        request : Request
            The request.
        *roles : str
            The roles allowed (any when none is given).
        **limits : int
            ``max_files`` and ``max_fields`` of the form.

        Returns
        -------
        tuple
            The :class:`Page` and the form.
        """
        page = self.page(request, *roles)
        return page, await self.form(request, page.ctx, **limits)

    async def form(self, request: Request, ctx: Ctx, **limits: int) -> FormData:
        """The posted form, after its CSRF token is checked (403 and an audit entry when it is wrong)."""
        form = await request.form(**limits)
        if not same_token(form.get("csrf_token"), ctx.session.csrf if ctx.session else None):
            self.audit(ctx, "web.csrf_refused", path=request.url.path)
            raise WebError(403, "csrf_refused")
        return form

    # -- records ----------------------------------------------------------------------------------------------
    def record(self, record_id: str) -> AssessmentRecord:
        """A stored assessment (404 otherwise)."""
        rec = self.services.store.get(record_id) if len(record_id) <= 100 else None
        if rec is None or rec.kind != "assessment":
            raise WebError(404, "not_found")
        return rec

    def done(self, record_id: str) -> AssessmentRecord:
        """A finished assessment; an unfinished one sends the browser to its progress page."""
        rec = self.record(record_id)
        if rec.status in ("queued", "running"):
            raise Redirect(f"{PREFIX}/jobs/{rec.id}")
        if rec.status != "done":
            raise Redirect(f"{PREFIX}/jobs/{rec.id}")
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

    def cookie(self, resp: Response, request: Request, name: str, value: str, max_age: int | None) -> None:
        """Set one of the workbench's cookies: HTTP-only, same-site strict, on :data:`PREFIX`.

        Parameters
        ----------
        resp : Response
            The response to set it on.
        request : Request
            The request (its scheme decides ``Secure`` unless the settings do).
        name, value : str
            The cookie.
        max_age : int or None
            Seconds; None for a session cookie.
        """
        secure = self.settings.secure_cookie
        if secure is None:
            secure = request.url.scheme == "https"
        resp.set_cookie(
            name, value, max_age=max_age, path=PREFIX, httponly=True, samesite="strict", secure=secure
        )

    async def check_upload(self, data: bytes, filename: str) -> UploadCheck:
        """Check an uploaded spreadsheet against the workbench's and the service's limits, off the event loop.

        Parameters
        ----------
        data : bytes
            The file as uploaded (at most ``max_upload_bytes + 1`` read).
        filename : str
            Its name.

        Returns
        -------
        UploadCheck
            The rows read, the header mapping and the row problems.

        Raises
        ------
        UploadRefused
            Too big, not a spreadsheet, a zip bomb or too many patents.
        """
        settings = self.settings
        return await run_in_threadpool(
            check_upload,
            data,
            filename,
            max_bytes=settings.max_upload_bytes,
            max_unpacked=settings.max_unpacked_bytes,
            max_ratio=settings.max_compression_ratio,
            max_patents=self.services.settings.max_patents,
        )

    def artifact(self, rec: AssessmentRecord, name: str, make: Any) -> bytes:
        """A derived file kept with the record, made once by ``make()``."""
        store = self.services.store
        data = store.get_artifact(rec.id, name)
        if data is None:
            data = make()
            store.put_artifact(rec.id, name, data)
        return data


@dataclass(frozen=True)
class Page:
    """One request being answered: the workbench, the request and who asks (what every page builder needs)."""

    wb: Workbench
    request: Request
    ctx: Ctx

    def render(self, name: str, status: int = 200, **values: Any) -> HTMLResponse:
        """The template ``name`` for this request, see :meth:`Workbench.render`.

        Parameters
        ----------
        name : str
            The template.
        status : int
            HTTP status.
        **values
            The template's values.

        Returns
        -------
        HTMLResponse
        """
        return self.wb.render(self.request, self.ctx, name, status, **values)


def get_workbench(request: Request) -> Workbench:
    """The workbench of the app that answers ``request`` (a FastAPI dependency).

    Parameters
    ----------
    request : Request
        The request.

    Returns
    -------
    Workbench
        ``request.app.state.workbench``, set by :func:`ipvalue.web.app.build_workbench`.
    """
    wb: Workbench = request.app.state.workbench
    return wb


#: A route's parameter ``wb: WB`` receives the workbench.
WB = Annotated[Workbench, Depends(get_workbench)]
