"""Sign-in, sign-out and the language switch."""

from __future__ import annotations

import asyncio
import datetime as dt
import re

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from ipvalue.service.store.workbench import User, WebSession
from ipvalue.web import PREFIX
from ipvalue.web.i18n import pick_lang, text
from ipvalue.web.passwords import verify_password
from ipvalue.web.security import (
    LANG_COOKIE,
    PRE_COOKIE,
    SESSION_COOKIE,
    iso,
    new_token,
    parse_iso,
    pre_csrf,
    same_token,
    token_hash,
    utcnow,
)
from ipvalue.web.workbench import WB, Page, WebError

__all__ = ["USERNAME", "router"]

router = APIRouter()

#: a user name or an API key id
USERNAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


@router.get("/")
async def home(request: Request, wb: WB) -> Response:
    """The analyst's upload page, or everyone else's assessments."""
    ctx = wb.require(request)
    assert ctx.user is not None
    return RedirectResponse(f"{PREFIX}/{'upload' if ctx.user.role == 'analyst' else 'assessments'}", 303)


def login_page(page: Page, status: int = 200, error: str = "", username: str = "") -> Response:
    """The sign-in page, with a pre-session CSRF token bound to its cookie.

    Parameters
    ----------
    page : Page
        The request (its ``next`` is carried through the form).
    status : int
        HTTP status.
    error : str
        A message to show.
    username : str
        The name to fill in again.

    Returns
    -------
    Response
        The page, with the pre-session cookie set.
    """
    wb, request = page.wb, page.request
    pre = request.cookies.get(PRE_COOKIE)
    if not pre or len(pre) > 100:
        pre = new_token()
    resp = page.render(
        "login.html.j2",
        status=status,
        csrf=pre_csrf(wb.pre_key, pre),
        error=error,
        username=username,
        next=request.query_params.get("next", ""),
    )
    wb.cookie(resp, request, PRE_COOKIE, pre, None)
    return resp


@router.get("/login")
async def login_get(request: Request, wb: WB) -> Response:
    """The sign-in page."""
    return login_page(Page(wb, request, wb.context(request)))


@router.post("/login")
async def login_post(request: Request, wb: WB) -> Response:
    """Sign in: a locked account waits, a wrong password counts towards the lock, the right one opens a session."""
    ctx = wb.context(request)
    page = Page(wb, request, ctx)
    form = await request.form(max_files=0, max_fields=10)
    pre = request.cookies.get(PRE_COOKIE) or ""
    if not pre or not same_token(form.get("csrf_token"), pre_csrf(wb.pre_key, pre)):
        wb.audit(ctx, "web.csrf_refused", path=request.url.path)
        raise WebError(403, "csrf_refused")
    username = str(form.get("username") or "")[:64]
    password = str(form.get("password") or "")[:1024]
    user = wb.people.get_user(username) if USERNAME.match(username) else None
    now = utcnow()
    locked = parse_iso(user.locked_until) if user else None
    if user is not None and locked is not None and locked > now:
        await asyncio.sleep(wb.settings.failed_login_delay)
        wb.audit(ctx, "web.login.locked", username=username)
        until = locked.strftime("%Y-%m-%d %H:%M")
        return login_page(page, 429, text("login_locked", ctx.lang, until=until), username)
    ok = await run_in_threadpool(
        verify_password, password, user.password_hash if user is not None and user.active else None
    )
    if not ok:
        return await _login_failed(page, user, username, now)
    assert user is not None
    return _open_session(page, user, username, form, now)


async def _login_failed(page: Page, user: User | None, username: str, now: dt.datetime) -> Response:
    """Count a wrong password (after a delay that grows with the failures) and lock the account at the limit.

    Parameters
    ----------
    page : Page
        The sign-in request.
    user : User or None
        The user of that name, if any.
    username : str
        The name given.
    now : datetime.datetime
        When the sign-in was asked.

    Returns
    -------
    Response
        The sign-in page: 429 when the account is now locked, else 401.
    """
    wb, ctx, settings = page.wb, page.ctx, page.wb.settings
    failures = 1
    lock_at = iso(now + dt.timedelta(seconds=settings.lockout_seconds))
    if user is not None:
        failures = wb.people.record_failed_login(username, settings.max_failed_logins, lock_at)
    await asyncio.sleep(min(settings.failed_login_delay * failures, 5.0))
    wb.audit(ctx, "web.login.fail", username=username, failures=failures, known=user is not None)
    if user is not None and failures >= settings.max_failed_logins:
        wb.audit(ctx, "web.account.locked", username=username, until=lock_at)
        until = (now + dt.timedelta(seconds=settings.lockout_seconds)).strftime("%Y-%m-%d %H:%M")
        return login_page(page, 429, text("login_locked", ctx.lang, until=until), username)
    return login_page(page, 401, text("login_failed", ctx.lang), username)


def _open_session(page: Page, user: User, username: str, form: FormData, now: dt.datetime) -> Response:
    """Reset the failures, open a session and send the browser where it was going (inside the workbench).

    Parameters
    ----------
    page : Page
        The sign-in request; its ``ctx`` becomes the signed-in user's.
    user : User
        The user whose password was right.
    username : str
        The name given.
    form : FormData
        The sign-in form (its ``next``).
    now : datetime.datetime
        When the sign-in was asked.

    Returns
    -------
    Response
        A 303 with the session cookie.
    """
    wb, ctx = page.wb, page.ctx
    wb.people.update_user(username, failed_logins=0, locked_until=None)
    token = new_token()
    session = WebSession(
        token_hash=token_hash(token),
        username=username,
        csrf=new_token(),
        created_at=iso(now),
        expires_at=iso(now + dt.timedelta(hours=wb.settings.session_hours)),
    )
    wb.people.create_session(session)
    ctx.user, ctx.session = user, session
    wb.audit(ctx, "web.login", role=user.role)
    nxt = str(form.get("next") or "")
    target = nxt if re.fullmatch(rf"{PREFIX}/[A-Za-z0-9_/.-]*", nxt) and "//" not in nxt else f"{PREFIX}/"
    resp = RedirectResponse(target, status_code=303)
    wb.cookie(resp, page.request, SESSION_COOKIE, token, int(wb.settings.session_hours * 3600))
    return resp


@router.post("/logout")
async def logout(request: Request, wb: WB) -> Response:
    """Close the session."""
    ctx = wb.require(request)
    await wb.form(request, ctx, max_files=0, max_fields=5)
    assert ctx.session is not None
    wb.people.delete_session(ctx.session.token_hash)
    wb.audit(ctx, "web.logout")
    resp = RedirectResponse(f"{PREFIX}/login", status_code=303)
    resp.delete_cookie(SESSION_COOKIE, path=PREFIX)
    return resp


@router.get("/lang/{to}")
async def switch_lang(request: Request, to: str, wb: WB) -> Response:
    """Set the language cookie and go back (only to a workbench page)."""
    nxt = request.query_params.get("next", "")
    target = nxt if nxt.startswith(f"{PREFIX}/") and "//" not in nxt and "\\" not in nxt else f"{PREFIX}/"
    resp = RedirectResponse(target, status_code=303)
    wb.cookie(resp, request, LANG_COOKIE, pick_lang(to), 365 * 86400)
    return resp
