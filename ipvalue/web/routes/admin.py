"""Administration: users, the API keys of the loan systems, and the audit log."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from ipvalue.errors import InputError
from ipvalue.service.store.workbench import ROLES, User, UserExists
from ipvalue.web import PREFIX
from ipvalue.web.i18n import text
from ipvalue.web.passwords import check_password_strength, hash_password
from ipvalue.web.routes.sign_in import USERNAME
from ipvalue.web.security import iso, utcnow
from ipvalue.web.workbench import WB, Page, WebError

__all__ = ["router"]

router = APIRouter()


def users_page(
    page: Page,
    status: int = 200,
    message: str = "",
    error: str = "",
    secret: str = "",
) -> Response:
    """The users and the API keys (ids and scopes only) with the forms to change them.

    Parameters
    ----------
    page : Page
        The request.
    status : int
        HTTP status.
    message, error : str
        What the last change did, or why it was refused.
    secret : str
        A new key's secret, shown this once.

    Returns
    -------
    Response
    """
    services = page.wb.services
    path = services.settings.api_keys_file
    if path is not None and Path(path).exists():  # the file as it is now (the key ring re-reads it lazily)
        from ipvalue.service.auth import load_keys_file

        keys = [*services.settings.api_keys, *load_keys_file(path)]
    else:
        keys = list(services.keys.keys())
    return page.render(
        "users.html.j2",
        status=status,
        users=page.wb.people.list_users(),
        roles=ROLES,
        message=message,
        error=error,
        keys=[{"id": k.id, "scopes": ", ".join(k.scopes)} for k in keys],
        keys_file=services.settings.api_keys_file,
        secret=secret,
        now=iso(utcnow()),
    )


@router.get("/admin/users")
async def users(request: Request, wb: WB) -> Response:
    """The users and API keys."""
    return users_page(wb.page(request, "admin"))


@router.post("/admin/users")
async def users_add(request: Request, wb: WB) -> Response:
    """Add a user (a good name, a known role and a strong password)."""
    page, form = await wb.posted(request, "admin", max_files=0, max_fields=6)
    ctx = page.ctx
    name = str(form.get("username") or "")
    role = str(form.get("role") or "")
    password = str(form.get("password") or "")
    if not USERNAME.match(name) or role not in ROLES:
        return users_page(page, 422, error=text("username_bad", ctx.lang))
    weak = check_password_strength(password)
    if weak:
        return users_page(page, 422, error=text("password_weak", ctx.lang, msg=weak))
    try:
        wb.people.add_user(User(name, role, await run_in_threadpool(hash_password, password)))
    except UserExists:
        return users_page(page, 409, error=text("user_exists", ctx.lang))
    wb.audit(ctx, "web.user.create", username=name, role=role)
    return users_page(page, 201, message=text("user_created", ctx.lang, name=name))


@router.post("/admin/users/{username}/{action}")
async def users_change(request: Request, username: str, action: str, wb: WB) -> Response:
    """Unlock, deactivate (closing the user's sessions) or activate a user."""
    ctx = wb.require(request, "admin")
    await wb.form(request, ctx, max_files=0, max_fields=3)
    if wb.people.get_user(username) is None or action not in ("unlock", "deactivate", "activate"):
        raise WebError(404, "not_found")
    if action == "unlock":
        wb.people.update_user(username, failed_logins=0, locked_until=None)
    else:
        wb.people.update_user(username, active=action == "activate")
        if action == "deactivate":
            wb.people.delete_sessions_of(username)
    wb.audit(ctx, f"web.user.{action}", username=username)
    return RedirectResponse(f"{PREFIX}/admin/users", status_code=303)


@router.post("/admin/keys")
async def keys_add(request: Request, wb: WB) -> Response:
    """Add an API key to the keys file; its secret is shown once."""
    page, form = await wb.posted(request, "admin", max_files=0, max_fields=5)
    ctx = page.ctx
    path = wb.services.settings.api_keys_file
    key_id = str(form.get("key_id") or "")
    scopes = [sc for sc in ("read", "write") if form.get(f"scope_{sc}")]
    if path is None:
        raise WebError(409, "keys_file_needed")
    if not USERNAME.match(key_id) or not scopes:
        return users_page(page, 422, error=text("key_bad", ctx.lang))
    from ipvalue.service.auth import add_key

    try:
        secret = add_key(path, key_id, scopes)
    except InputError as exc:
        return users_page(page, 409, error=str(exc))
    wb.audit(ctx, "web.key.add", key_id=key_id, scopes=scopes)
    return users_page(page, 201, message=text("key_added", ctx.lang, kid=key_id), secret=secret)


@router.post("/admin/keys/{key_id}/revoke")
async def keys_revoke(request: Request, key_id: str, wb: WB) -> Response:
    """Revoke an API key in the keys file."""
    page, _ = await wb.posted(request, "admin", max_files=0, max_fields=3)
    ctx = page.ctx
    path = wb.services.settings.api_keys_file
    if path is None:
        raise WebError(409, "keys_file_needed")
    from ipvalue.service.auth import revoke_key

    try:
        revoke_key(path, key_id)
    except InputError as exc:
        return users_page(page, 404, error=str(exc))
    wb.audit(ctx, "web.key.revoke", key_id=key_id)
    return RedirectResponse(f"{PREFIX}/admin/users#keys", status_code=303)


@router.get("/admin/audit")
async def audit_log(request: Request, wb: WB) -> Response:
    """The latest 200 audit entries, newest first."""
    ctx = wb.require(request, "admin")
    entries = await run_in_threadpool(wb.services.store.audit_entries)
    return wb.render(request, ctx, "audit.html.j2", entries=list(reversed(entries[-200:])))
