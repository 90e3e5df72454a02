"""What the workbench's pages show, as pure functions of the stored rows and the posted form.

The patent table (filter, sort, page), the haircut rows of one patent, the end of a loan, and the API request
built from the loan-terms form. No web framework here: the routers of :mod:`ipvalue.web.routes` call these.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any

from pydantic import ValidationError

from ipvalue.report import _labels as L
from ipvalue.service.models import AssessmentRequest

__all__ = [
    "SHARERS",
    "TABLE_COLUMNS",
    "TERM_NAMES",
    "haircut_rows",
    "ineligible_reasons",
    "loan_end",
    "patent_table",
    "terms_request",
]

#: the columns the patent table shows and sorts on
TABLE_COLUMNS = (
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


def _float(v: Any) -> float:
    """``float(v)``, NaN when it is not a number."""
    try:
        f = float(v)
    except (TypeError, ValueError):
        return math.nan
    return f


def ineligible_reasons(p: dict[str, Any]) -> list[str]:
    """The ineligibility reason codes of one patent row.

    Parameters
    ----------
    p : dict
        A patent row of an assessment; ``ineligible_reasons`` a list or a ``;``/``,``-separated text.

    Returns
    -------
    list of str
        The codes, stripped, blanks left out.
    """
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
        rows = [p for p in rows if reason in ineligible_reasons(p)]
    if sort not in TABLE_COLUMNS:
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
        "codes": sorted({c for p in patents for c in ineligible_reasons(p)}),
    }


def haircut_rows(p: dict[str, Any], lang: str) -> tuple[list[dict[str, Any]], list[str]]:
    """Each haircut component with its rate and its explanation, and the explanation's closing parts.

    The components come in the engine's order (:data:`ipvalue.collateral.haircut.COMPONENTS`), whatever the order
    of the record's keys; any other ``haircut_`` entry follows.
    """
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
    # the engine's order (a stored record's keys may come back sorted), other components after, as they came
    from ipvalue.collateral.haircut import in_component_order

    by_name = {str(r["component"]): r for r in rows}
    return [by_name[c] for c in in_component_order(by_name)], rest


def loan_end(r: dict[str, Any]) -> dt.date | None:
    """The day a loan ends: its start (else the valuation date) plus the tenor in years of 365.25 days.

    Parameters
    ----------
    r : dict
        A record summary with ``start_date`` or ``as_of`` (ISO dates) and ``tenor_years``.

    Returns
    -------
    datetime.date or None
        None without a start or a tenor.
    """
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
SHARERS = ("compensation_fund", "guarantor", "insurer", "appraiser")
TERM_NAMES = (
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
    *SHARERS,
    *(f"{s}_cap" for s in SHARERS),
)


def _blank_none(v: Any) -> Any:
    """None for a missing or blank value; a text stripped."""
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
    g = {k: _blank_none(values.get(k)) for k in TERM_NAMES}
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

    risk = {s: g[s] if g[s] is not None else 0.0 for s in SHARERS}
    risk.update({f"{s}_cap": conv(g[f"{s}_cap"]) for s in SHARERS})
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
