"""The workbench pages: a FastAPI sub-application the service mounts at :data:`PREFIX`.

It runs in the service's process on the service's store, pipeline and job runner; it keeps its own rows (users,
sessions, uploads, sign-offs, monitoring runs) behind :class:`~ipvalue.service.store.workbench.WorkbenchRepository`
and writes every sign-in and every action to the service's audit log.

The app is put together here: its state (:class:`~ipvalue.web.workbench.Workbench`), the error pages, the routers
of :mod:`ipvalue.web.routes` (one per concern) and the security headers. What the pages show is computed in
:mod:`ipvalue.web.pagedata`.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from ipvalue.service.errors import ApiError
from ipvalue.service.store.workbench import WorkbenchRepository
from ipvalue.web import PREFIX
from ipvalue.web.i18n import text
from ipvalue.web.pagedata import haircut_rows, patent_table, terms_request
from ipvalue.web.routes import admin, intake, monitoring, results, sign_in
from ipvalue.web.security import LANG_COOKIE, SecurityHeaders
from ipvalue.web.settings import WorkbenchSettings
from ipvalue.web.workbench import Ctx, Redirect, ServiceParts, WebError, Workbench

__all__ = [
    "PREFIX",
    "build_workbench",
    "ServiceParts",
    "Workbench",
    "Ctx",
    "haircut_rows",
    "patent_table",
    "terms_request",
]

#: the routers, in the order their routes are matched
ROUTERS = (sign_in.router, intake.router, results.router, monitoring.router, admin.router)


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

    Returns
    -------
    FastAPI
        The app; its ``state.workbench`` is the :class:`Workbench` every route gets.
    """
    settings = settings or WorkbenchSettings.from_env()
    wb = Workbench(services, settings, people)
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.state.workbench = wb
    app.mount("/static", StaticFiles(packages=[("ipvalue.web", "static")]), name="static")
    add_error_pages(app, wb)
    for router in ROUTERS:
        app.include_router(router)
    app.add_middleware(
        SecurityHeaders,
        max_body=settings.max_upload_bytes + 64_000,
        too_large=lambda scope: too_large(wb, scope),
    )
    return app


def add_error_pages(app: FastAPI, wb: Workbench) -> None:
    """Answer the workbench's redirects and errors, the API's errors and HTTP errors with pages.

    Parameters
    ----------
    app : FastAPI
        The workbench app.
    wb : Workbench
        Its state (the page renderer and who asks).
    """

    @app.exception_handler(Redirect)
    async def _redirect(request: Request, exc: Redirect) -> Response:
        if request.headers.get("hx-request"):
            return Response(status_code=200, headers={"HX-Redirect": exc.url})
        return RedirectResponse(exc.url, status_code=303)

    @app.exception_handler(WebError)
    async def _error(request: Request, exc: WebError) -> Response:
        ctx = wb.context(request)
        return wb.render(request, ctx, "error.html.j2", status=exc.status, key=exc.key, detail=exc.detail)

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


def too_large(wb: Workbench, scope: dict) -> bytes:
    """The bare page for a request body over the upload limit, in the language of the cookie (Chinese by default).

    Parameters
    ----------
    wb : Workbench
        The workbench (its templates and limit).
    scope : dict
        The ASGI scope of the refused request.

    Returns
    -------
    bytes
        The page, UTF-8.
    """
    lang = "zh"
    for k, v in scope.get("headers", []):
        if k == b"cookie" and f"{LANG_COOKIE}=en".encode() in v:
            lang = "en"
    msg = text("refused_too_big", lang, msg=f"> {wb.settings.max_upload_bytes:,} bytes")
    page = wb.env.get_template("bare.html.j2").render(
        lang=lang, title=text("error_title", lang), msg=msg, base=PREFIX
    )
    return page.encode("utf-8")
