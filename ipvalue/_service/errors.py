"""Error responses: one JSON shape, no stack traces, no detail that helps an attacker."""

from __future__ import annotations

from typing import Any

__all__ = ["ApiError", "InputError", "error_body", "loc_path"]


class ApiError(Exception):
    """An error answered as ``{"error": {"code", "message", "details"?}}`` with ``status``.

    Parameters
    ----------
    status : int
        HTTP status.
    code : str
        Stable machine-readable code.
    message : str
        Human-readable, safe to show (no internals).
    details : list of dict, optional
        Field-level problems: ``{"loc": [...], "path": "body.patents.0.filing_date", "msg": ..., "type": ...}``.
    headers : dict, optional
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers


class InputError(ValueError):
    """Bad input found while running an assessment; ``details`` name the field paths."""

    def __init__(self, message: str, details: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.message = message
        self.details = details or []


def loc_path(loc: list[Any] | tuple[Any, ...]) -> str:
    """``["body", "patents", 0, "filing_date"]`` -> ``"body.patents.0.filing_date"``."""
    return ".".join(str(p) for p in loc)


def error_body(code: str, message: str, details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The JSON body of every error response."""
    err: dict[str, Any] = {"code": code, "message": message}
    if details:
        err["details"] = details
    return {"error": err}
