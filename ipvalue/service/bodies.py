"""Request bodies checked before any model sees them, and validation messages in the project's own words.

:func:`check_json_body` reads a body as a JSON loan system would send it and refuses, before parsing it into
models: bytes that are not UTF-8, text that is not JSON (``NaN`` and ``Infinity`` are not JSON), nesting deeper
than the limit (answered ``400 malformed_json``); and, naming the field path (``422``): a string longer than the
limit, a C0 control character (other than tab, line feed, carriage return) in any string or key, and a number
too large to be finite (``1e400``). :func:`friendly_errors` rewrites pydantic's errors into short messages that
never echo the input or a Python type.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from ipvalue.service.errors import ApiError, detail

__all__ = ["check_json_body", "friendly_errors", "json_depth"]

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
#: a JSON escape that may stand for such a character (``\u0000``..``\u001f``, ``\b``, ``\f``)
_ESCAPED_CONTROL = re.compile(rb"\\(?:u00[01][0-9a-fA-F]|[bf])")
_OPEN = np.frombuffer(b"[{", dtype=np.uint8)
_CLOSE = np.frombuffer(b"]}", dtype=np.uint8)


def json_depth(raw: bytes) -> int:
    """The deepest nesting of ``[`` / ``{`` in JSON text, strings left out (no parsing, no recursion)."""
    bare = np.frombuffer(_STRING.sub(b'""', raw), dtype=np.uint8)
    step = np.isin(bare, _OPEN).astype(np.int64) - np.isin(bare, _CLOSE).astype(np.int64)
    return int(np.cumsum(step).max(initial=0))


def _malformed(message: str) -> ApiError:
    return ApiError(400, "malformed_json", message, details=[detail(["body"], message, "malformed_json")])


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def _may_have_problems(value: Any, max_text: int, *, escaped: bool, max_depth: int | None = None) -> bool:
    """Whether :func:`check_json_body` has anything to report: one pass over the values, no paths built.

    A control character can only be in a parsed string when the text escaped it (JSON text holds none raw), so
    the strings are searched for one only when ``escaped``. With ``max_depth``, nesting deeper than that
    (arrays and objects, as :func:`json_depth` counts them) is something to report too.
    """
    deepest = max_depth if max_depth is not None else -1
    stack = [(value, 1)]
    while stack:
        v, depth = stack.pop()
        t = type(v)
        if t is str:
            if len(v) > max_text or (escaped and _CONTROL.search(v)):
                return True
        elif t is float:
            if not math.isfinite(v):
                return True
        elif t is dict:
            if depth == deepest + 1:
                return True
            for k, item in v.items():
                if len(k) > max_text or (escaped and _CONTROL.search(k)):
                    return True
                stack.append((item, depth + 1))
        elif t is list:
            if depth == deepest + 1:
                return True
            stack.extend((item, depth + 1) for item in v)
    return False


def check_json_body(raw: bytes, *, max_depth: int, max_text: int) -> Any:
    """Parse and check a request body; the parsed value, or :class:`ApiError` (400 or 422).

    Parameters
    ----------
    raw : bytes
        The body as received.
    max_depth : int
        Deepest nesting allowed.
    max_text : int
        Longest string (value or key) allowed, in characters.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _malformed("the request body is not UTF-8 text") from None
    escaped = _ESCAPED_CONTROL.search(raw) is not None
    try:  # the usual body first: it parses, is shallow enough and has nothing to report
        value = json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        pass  # the checks below, in their order, say what is wrong
    else:
        if not _may_have_problems(value, max_text, escaped=escaped, max_depth=max_depth):
            return value
    if json_depth(raw) > max_depth:
        raise _malformed(f"the request body is nested deeper than {max_depth} levels")
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        raise _malformed("the request body is not valid JSON") from None
    if not _may_have_problems(value, max_text, escaped=escaped):
        return value
    problems: list[dict[str, Any]] = []
    stack: list[tuple[Sequence[str | int], Any]] = [(["body"], value)]
    while stack and len(problems) < 20:
        loc, v = stack.pop()
        if isinstance(v, str):
            if len(v) > max_text:
                problems.append(detail(loc, f"longer than {max_text} characters", "string_too_long"))
            elif _CONTROL.search(v):
                problems.append(detail(loc, "holds a control character", "control_character"))
        elif isinstance(v, float):
            if not np.isfinite(v):
                problems.append(detail(loc, "must be a finite number", "finite_number"))
        elif isinstance(v, dict):
            for k, item in v.items():
                if len(k) > max_text or _CONTROL.search(k):
                    problems.append(detail(loc, "a key is too long or holds a control character", "bad_key"))
                    continue
                stack.append(([*loc, k], item))
        elif isinstance(v, list):
            stack.extend(([*loc, i], item) for i, item in enumerate(v))
    if problems:
        problems.sort(key=lambda d: d["path"])
        raise ApiError(422, "validation_error", "the request is not valid", details=problems)
    return value


def _bound(ctx: dict[str, Any], *names: str) -> Any:
    for n in names:
        if n in ctx:
            return ctx[n]
    return None


def _message(e: dict[str, Any]) -> str:
    t = str(e.get("type", ""))
    ctx = e.get("ctx") or {}
    if t == "missing":
        return "is required"
    if t == "extra_forbidden":
        return "is not a known field"
    if t in ("int_type", "int_parsing", "int_from_float", "int_parsing_size"):
        return "must be a whole number"
    if t in ("float_type", "float_parsing", "decimal_type"):
        return "must be a number"
    if t == "finite_number":
        return "must be a finite number"
    if t in ("bool_type", "bool_parsing"):
        return "must be true or false"
    if t == "string_type":
        return "must be text"
    if t == "string_too_long":
        return f"must be at most {_bound(ctx, 'max_length')} characters"
    if t == "string_too_short":
        return f"must be at least {_bound(ctx, 'min_length')} character(s)"
    if t == "too_long":
        return f"must hold at most {_bound(ctx, 'max_length')} items"
    if t == "too_short":
        return f"must hold at least {_bound(ctx, 'min_length')} item(s)"
    if t == "greater_than":
        return f"must be greater than {ctx.get('gt')}"
    if t == "greater_than_equal":
        return f"must be at least {ctx.get('ge')}"
    if t == "less_than":
        return f"must be less than {ctx.get('lt')}"
    if t == "less_than_equal":
        return f"must be at most {ctx.get('le')}"
    if t.startswith("date") or t.startswith("datetime"):
        return "must be a date, YYYY-MM-DD"
    if t == "literal_error":
        return f"must be one of {ctx.get('expected')}"
    if t == "enum":
        return f"must be one of {ctx.get('expected')}"
    if t == "string_pattern_mismatch":
        return "does not have the expected form"
    if t in ("list_type", "tuple_type", "set_type"):
        return "must be a list"
    if t in ("dict_type", "model_type", "model_attributes_type"):
        return "must be an object"
    if t == "value_error":
        msg = str(e.get("msg", ""))
        return msg.removeprefix("Value error, ") or "is not valid"
    if t == "json_invalid":
        return "invalid JSON"
    return "is not valid"


_TAGS = frozenset(
    {"str", "int", "float", "bool", "list", "dict", "tuple", "date", "PolicyIn", "constrained-str"}
)


def _field_loc(loc: Sequence[Any]) -> list[str | int]:
    """The request path of an error: union-member and validator tags that pydantic adds are left out."""
    out: list[str | int] = []
    for p in loc:
        if isinstance(p, int):
            out.append(p)
        elif p not in _TAGS and not any(c in p for c in "[]()"):
            out.append(str(p))
    return out


def friendly_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """Pydantic / FastAPI validation errors as ``details``: one per field path, in the project's words."""
    out: dict[str, dict[str, Any]] = {}
    for e in errors:
        loc = _field_loc(e.get("loc", ()))
        d = detail(loc, _message(e), str(e.get("type", "invalid")))
        out.setdefault(d["path"], d)
    return list(out.values())
