"""Sessions, CSRF tokens, sign-in throttling and the response headers of the workbench.

* The session cookie holds a random token; the store keeps only its SHA-256. The cookie is ``HttpOnly``,
  ``SameSite=Strict``, limited to the workbench's path, and ``Secure`` when the request came over TLS (or when
  :attr:`WorkbenchSettings.secure_cookie` says so).
* Every form carries a CSRF token: the session's own random token once signed in; before sign-in, an HMAC of a
  random pre-session cookie under a per-process key (a double-submit token the attacker cannot forge).
* A wrong password waits ``failed_login_delay`` times the failures so far; ``max_failed_logins`` in a row lock
  the account for ``lockout_seconds``.
* Every answer carries a strict Content-Security-Policy (scripts, styles and images from the server only, no
  inline script or style, no framing), ``X-Frame-Options: DENY``, ``Referrer-Policy: same-origin`` and
  ``X-Content-Type-Options: nosniff``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = [
    "SESSION_COOKIE",
    "PRE_COOKIE",
    "LANG_COOKIE",
    "CSP",
    "token_hash",
    "new_token",
    "pre_csrf",
    "same_token",
    "utcnow",
    "iso",
    "parse_iso",
    "SecurityHeaders",
]

SESSION_COOKIE = "ivw_session"
PRE_COOKIE = "ivw_pre"
LANG_COOKIE = "ivw_lang"

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)

ASGIApp = Callable[[dict, Callable[[], Awaitable[dict]], Callable[[dict], Awaitable[None]]], Awaitable[None]]


def token_hash(token: str) -> str:
    """Hex SHA-256 of a session token (what the store keeps)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    """A fresh random token (256 bits)."""
    return secrets.token_urlsafe(32)


def pre_csrf(key: bytes, pre: str) -> str:
    """The sign-in form's CSRF token for the pre-session cookie ``pre``."""
    return hmac.new(key, pre.encode("utf-8"), hashlib.sha256).hexdigest()


def same_token(given: object, expected: str | None) -> bool:
    """Constant-time check of a submitted token."""
    if not isinstance(given, str) or not given or not expected:
        return False
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


def utcnow() -> dt.datetime:
    """Now, in UTC."""
    return dt.datetime.now(dt.UTC)


def iso(t: dt.datetime) -> str:
    """ISO 8601 with microseconds."""
    return t.isoformat(timespec="microseconds")


def parse_iso(s: str | None) -> dt.datetime | None:
    """The time of an ISO 8601 string (``None`` stays ``None``)."""
    return dt.datetime.fromisoformat(s) if s else None


class _BodyTooLarge(Exception):
    pass


class SecurityHeaders:
    """ASGI middleware: the headers above, and a cap on request bodies (413 beyond ``max_body``).

    Static files may be cached for an hour; every other answer is ``no-store``.
    """

    def __init__(self, app: ASGIApp, *, max_body: int, too_large: Callable[[dict], bytes]):
        self.app = app
        self.max_body = max_body
        self.too_large = too_large

    async def __call__(
        self, scope: dict, receive: Callable[[], Awaitable[dict]], send: Callable[[dict], Awaitable[None]]
    ) -> None:
        """Answer one ASGI call with the headers added (or 413)."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = "/static/" in scope.get("path", "")
        extra = [
            (b"content-security-policy", CSP.encode()),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"same-origin"),
            (b"x-content-type-options", b"nosniff"),
            (b"cross-origin-opener-policy", b"same-origin"),
            (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
            (b"cache-control", b"public, max-age=3600" if static else b"no-store"),
        ]

        async def send_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                message = dict(message)
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"cache-control"]
                message["headers"] = [*kept, *extra]
            await send(message)

        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        try:
            declared = int(headers.get("content-length", "0") or 0)
        except ValueError:
            declared = self.max_body + 1
        if declared > self.max_body:
            await self._refuse(scope, send_headers)
            return
        seen = 0

        async def counted() -> dict[str, Any]:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    raise _BodyTooLarge
            return message

        try:
            await self.app(scope, counted, send_headers)
        except _BodyTooLarge:
            await self._refuse(scope, send_headers)

    async def _refuse(self, scope: dict, send: Callable[[dict], Awaitable[None]]) -> None:
        body = self.too_large(scope)
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"text/html; charset=utf-8"), (b"connection", b"close")],
            }
        )
        await send({"type": "http.response.body", "body": body})
