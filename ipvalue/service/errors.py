"""Error responses: one JSON shape, no stack traces, no detail that helps an attacker.

Bad input found by the computing core arrives as :class:`ipvalue.errors.InputError` (its ``problems`` name the
patent and the field); :func:`input_error_details` turns those problems into field paths of the request
(``body.patents.3.filing_date``). Everything the service refuses on its own is an :class:`ApiError`, which is
part of the same tree (an :class:`ipvalue.errors.IpvalueError`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from ipvalue.errors import InputError, IpvalueError, Problem
from ipvalue.facts.io import PortfolioError
from ipvalue.facts.numbers import normalize_number

__all__ = [
    "ApiError",
    "error_body",
    "loc_path",
    "detail",
    "input_error_details",
    "invalid_input",
    "request_problem",
]


class ApiError(IpvalueError):
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


def loc_path(loc: Sequence[Any]) -> str:
    """``["body", "patents", 0, "filing_date"]`` -> ``"body.patents.0.filing_date"``."""
    return ".".join(str(p) for p in loc)


def detail(loc: Sequence[str | int], msg: str, type_: str, patent: str | None = None) -> dict[str, Any]:
    """One entry of ``details``."""
    out: dict[str, Any] = {"loc": list(loc), "path": loc_path(loc), "msg": msg, "type": type_}
    if patent is not None:
        out["patent"] = patent
    return out


def error_body(code: str, message: str, details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The JSON body of every error response."""
    err: dict[str, Any] = {"code": code, "message": message}
    if details:
        err["details"] = details
    return {"error": err}


def request_problem(path: Sequence[str | int], message: str, patent: str | None = None) -> Problem:
    """A problem the service found in the request itself: ``field`` is the dotted path from ``body``."""
    return Problem(patent, loc_path(["body", *path]), message)


def _canonical(number: Any) -> str:
    try:
        return normalize_number(str(number))
    except ValueError:
        return str(number)


def input_error_details(
    exc: InputError, request: dict[str, Any] | None = None, where: str = "patents"
) -> list[dict[str, Any]]:
    """Field paths for the problems of ``exc``.

    A problem whose field already is a request path (``body....``) keeps it; a problem naming a patent and a
    column is placed at that patent's position in ``request[where]`` (``body.patents.3.filing_date``); the rest
    at ``body.<where>.<field>``.
    """
    positions: dict[str, int] = {}
    items: Iterable[Any] = (request or {}).get(where) or []
    for i, item in enumerate(items):
        pid = item.get("patent_id") if isinstance(item, dict) else item
        if pid is not None:
            positions.setdefault(str(pid), i)
            positions.setdefault(_canonical(pid), i)
    if isinstance(exc, PortfolioError) and exc.issues:  # the reader knows each problem's row
        return [
            detail(
                ["body", where, *([i.row - 1] if i.row >= 1 else []), i.field],
                i.message,
                "invalid_value",
                i.patent or None,
            )
            for i in exc.issues
        ]
    out = []
    for p in exc.problems:
        if p.field is not None and p.field.startswith("body"):
            loc: list[str | int] = [int(x) if x.isdigit() else x for x in p.field.split(".")]
        else:
            loc = ["body", where]
            if p.patent is not None and (p.patent in positions or _canonical(p.patent) in positions):
                loc.append(positions.get(p.patent, positions.get(_canonical(p.patent), 0)))
            if p.field:
                loc.append(p.field)
        out.append(detail(loc, p.message, "invalid_value", p.patent))
    return out


def invalid_input(exc: InputError, request: dict[str, Any] | None = None, where: str = "patents") -> ApiError:
    """The 422 answer to bad input found while computing."""
    return ApiError(422, "invalid_input", str(exc), details=input_error_details(exc, request, where) or None)
