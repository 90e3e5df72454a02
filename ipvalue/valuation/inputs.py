"""Stage 1 of the valuation: read and check the columns of one chunk (numbers, status, groups, forecast).

Every bad value is collected as a problem naming the patent and the field, and all of them are raised together as
one :class:`ValuationInputError`; nothing is coerced silently. Economics missing in a row of a ``group`` (a product
line) are taken from the group's member with the smallest ``patent_id``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from ipvalue.errors import InputError, Problem, summarise
from ipvalue.facts.columns import check_unique_ids, flags, numbers, patent_ids, run_currency, texts
from ipvalue.valuation.assumptions import INCOME_METHODS, method_key
from ipvalue.valuation.notes import Notes

__all__ = [
    "ValuationInputError",
    "Inputs",
    "Groups",
    "read_inputs",
    "reread_rates",
    "RATE_COLUMNS",
    "check_range",
    "DEAD_STATUSES",
    "LEGAL_STATUSES",
    "UNKNOWN_STATUS",
]

DEAD_STATUSES = ("lapsed", "expired", "revoked", "withdrawn")
#: the status of a row whose ``legal_status`` is empty: valued NaN with a failure note
UNKNOWN_STATUS = "unknown"
LEGAL_STATUSES = ("pending", "granted", *DEAD_STATUSES)
#: the numeric economics read from the frame (NaN where not given)
NUMBER_COLUMNS: tuple[str, ...] = (
    "revenue",
    "revenue_growth",
    "royalty_rate",
    "profit_share",
    "profit_margin",
    "tax_rate",
    "discount_rate",
    "economic_life_years",
    "rd_cost",
    "rd_year",
    "commercialization_cost",
    "volatility",
    "decay_rate",
)
# economics a row of a group takes from the group when it lacks them (revenue and launch cost are the group's
# totals, shared out by the allocation instead; R&D cost and year are the patent's own)
_GROUP_FILLED: tuple[str, ...] = tuple(
    c for c in NUMBER_COLUMNS if c not in ("revenue", "commercialization_cost", "rd_cost", "rd_year")
)
#: the rates and lives no stage before the economics' rate defaults reads (not the facts at as_of, the quality,
#: the markets, the allocation, the revenue nor the fees paid): a revaluation that moves only these reuses the rest
RATE_COLUMNS: tuple[str, ...] = _GROUP_FILLED


class ValuationInputError(InputError):
    """Bad valuation input; names the patent(s) and the field.

    Attributes
    ----------
    problems : list of Problem (patent, field, message)
    """

    def __init__(self, problems: list[tuple[str, str, str]]):
        super().__init__(problems, message=summarise([Problem(*p) for p in problems], limit=10))


@dataclass(frozen=True)
class Groups:
    """The product lines of a chunk: each row's group code (-1: none), the names, and ``patent_id`` order."""

    codes: np.ndarray
    names: Any
    in_group: np.ndarray
    id_order: np.ndarray


@dataclass(frozen=True)
class Inputs:
    """The checked columns of one chunk, as arrays in row order.

    Attributes
    ----------
    frame : pandas.DataFrame
        A shallow copy of the chunk (the caller's frame is never modified).
    ids : numpy.ndarray of str
    currency : str
        The run's valuation currency.
    status : numpy.ndarray of str
        ``legal_status`` as given (lower case; ``granted`` when the column is absent, ``unknown`` where empty).
    x : dict of str to numpy.ndarray
        :data:`NUMBER_COLUMNS`; rows of a group missing a rate take the group's.
    commercialized : numpy.ndarray
        The ``commercialized`` flag (1, 0, NaN when not given), group-filled.
    method_given : numpy.ndarray
        Code into :data:`INCOME_METHODS` of the row's (or group's) ``income_method``; NaN where not given.
    forecast : tuple or None
        ``(matrix, horizon, text)`` of ``revenue_forecast`` (see :func:`read_forecast`).
    groups : Groups
    group_revenue, group_launch_cost : numpy.ndarray
        The group's total ``revenue`` and ``commercialization_cost`` on every row of the group (the row's own outside).
    """

    frame: pd.DataFrame
    ids: np.ndarray
    currency: str
    status: np.ndarray
    x: dict[str, np.ndarray]
    commercialized: np.ndarray
    method_given: np.ndarray
    forecast: tuple[np.ndarray, np.ndarray, np.ndarray] | None
    groups: Groups
    group_revenue: np.ndarray
    group_launch_cost: np.ndarray

    @property
    def n(self) -> int:
        """Number of rows."""
        return len(self.ids)


def read_inputs(
    portfolio: pd.DataFrame, a: dict[str, Any], day: dt.date, book_currency: str | None, notes: Notes
) -> Inputs:
    """Read and check the chunk's columns; raise one :class:`ValuationInputError` naming every problem.

    Parameters
    ----------
    portfolio : pandas.DataFrame
        The chunk, indexed by ``patent_id``.
    a : dict
        The resolved assumptions.
    day : datetime.date
        The valuation date (the latest acceptable ``rd_year``).
    book_currency : str or None
        The book's currency when the chunk is part of a larger book; None: from the chunk.
    notes : Notes
        Receives the notes of defaults taken for missing columns.
    """
    frame = portfolio.copy(deep=False)  # copy-on-write: the caller's frame is never modified
    # pandas deep-copies attrs on most operations: the working frame carries none (the result gets the caller's
    # attrs and the provenance once, at the end)
    frame.attrs = {}
    ids = patent_ids(frame)
    check_unique_ids(ids, error=ValuationInputError)
    problems: list[tuple[str, str, str]] = []
    currency = _currency(frame, ids, a) if book_currency is None else book_currency
    status = _status(frame, ids, problems, notes)
    x = {c: numbers(frame, c, ids=ids, error=ValuationInputError) for c in NUMBER_COLUMNS}
    for col, ok, rule in _input_rules(day.year):
        check_range(problems, ids, col, x[col], ok(x[col]), rule)
    commercialized = flags(frame, "commercialized", ids=ids, error=ValuationInputError)
    method_given = _income_methods(frame, ids, problems)
    fc = read_forecast(frame, ids, problems)
    groups = _groups(frame, ids)
    _check_group_totals(x, groups, ids, problems)
    if problems:
        raise ValuationInputError(problems)
    codes, order = groups.codes, groups.id_order
    for col in _GROUP_FILLED:
        x[col] = _group_fill(x[col], codes, order)
    return Inputs(
        frame=frame,
        ids=ids,
        currency=currency,
        status=status,
        x=x,
        commercialized=_group_fill(commercialized, codes, order),
        method_given=_group_fill(method_given, codes, order),
        forecast=fc,
        groups=groups,
        group_revenue=_group_fill(x["revenue"], codes, order),
        group_launch_cost=_group_fill(x["commercialization_cost"], codes, order),
    )


def reread_rates(inputs: Inputs, frame: pd.DataFrame, columns: Any, day: dt.date) -> Inputs:
    """``inputs`` with the :data:`RATE_COLUMNS` named in ``columns`` read again from ``frame``, checked and group-filled.

    ``frame`` is the chunk ``inputs`` was read from with those columns changed (it becomes the result's frame);
    ``day`` the valuation date.
    Raises the :class:`ValuationInputError` that :func:`read_inputs` would raise on ``frame`` when a changed
    column breaks its rule (the rest of the chunk passed when ``inputs`` was read).
    """
    changed = [c for c in NUMBER_COLUMNS if c in set(columns)]
    if set(columns) - set(RATE_COLUMNS):
        raise ValueError(f"only {', '.join(RATE_COLUMNS)} may be read again, not {sorted(set(columns))}")
    ids = inputs.ids
    x = dict(inputs.x)
    fresh = {c: numbers(frame, c, ids=ids, error=ValuationInputError) for c in changed}
    problems: list[tuple[str, str, str]] = []
    for col, ok, rule in _input_rules(day.year):
        if col in fresh:
            check_range(problems, ids, col, fresh[col], ok(fresh[col]), rule)
    if problems:
        raise ValuationInputError(problems)
    codes, order = inputs.groups.codes, inputs.groups.id_order
    for c in changed:
        x[c] = _group_fill(fresh[c], codes, order)
    return replace(inputs, frame=frame, x=x)


def _currency(frame: pd.DataFrame, ids: np.ndarray, a: dict[str, Any]) -> str:
    """The run's currency: the one the chunk's ``currency`` column gives, else the assumption."""
    cur = texts(frame, "currency")
    first_seen = {c: ids[np.flatnonzero(cur == c)[0]] for c in sorted(set(cur[cur != ""]))}
    return run_currency(first_seen, a["currency"], error=ValuationInputError)


def _status(frame: pd.DataFrame, ids: np.ndarray, problems: list, notes: Notes) -> np.ndarray:
    """``legal_status`` (lower case): ``granted`` with a note when the column is absent; bad values reported.

    A row whose status is empty (no source stated it) is ``unknown``: kept, not valued, with a failure note, so
    one such patent does not stop a batch (collateral eligibility fails it with ``STATUS_UNKNOWN``).
    """
    n = len(frame)
    status = texts(frame, "legal_status", lower=True)
    if "legal_status" not in frame.columns:
        status[:] = "granted"
        notes.add(np.ones(n, bool), "legal_status not given: granted assumed")
    missing_status = status == ""
    status[missing_status] = UNKNOWN_STATUS
    notes.add(missing_status, "not valued: legal_status unknown (no source states it); check the register")
    for j in np.flatnonzero(~missing_status & ~np.isin(status, LEGAL_STATUSES))[:50]:
        problems.append(
            (
                ids[j],
                "legal_status",
                f"patent {ids[j]}: field legal_status {status[j]!r} is not one of {', '.join(LEGAL_STATUSES)}",
            )
        )
    return status


def _groups(frame: pd.DataFrame, ids: np.ndarray) -> Groups:
    """The ``group`` column as codes (-1 where none) and the rows in ``patent_id`` order."""
    n = len(frame)
    grp = texts(frame, "group")
    codes, names = pd.factorize(np.where(grp == "", np.array(None), grp))
    codes = np.asarray(codes)
    in_group = codes >= 0
    id_order = np.argsort(ids, kind="stable") if in_group.any() else np.arange(n)
    return Groups(codes, names, in_group, id_order)


def _check_group_totals(x: dict[str, np.ndarray], groups: Groups, ids: np.ndarray, problems: list) -> None:
    """A group's ``revenue`` and ``commercialization_cost`` are its totals: given once, or equal on every row."""
    codes, in_group = groups.codes, groups.in_group
    if not in_group.any():
        return
    for col in ("revenue", "commercialization_cost"):
        v = x[col]
        # distinct known values per group: sort by (group, value), count the changes
        known = in_group & ~np.isnan(v)
        c, w = codes[known], v[known]
        o = np.lexsort((w, c))
        c, w = c[o], w[o]
        new = np.r_[True, (c[1:] != c[:-1]) | (w[1:] != w[:-1])] if len(c) else np.zeros(0, bool)
        distinct = np.bincount(c[new], minlength=int(codes.max()) + 1)
        for gcode in np.flatnonzero(distinct > 1)[:10]:
            members = np.flatnonzero(codes == gcode)
            vals = ", ".join(f"{ids[j]}: {v[j]:g}" for j in members if not np.isnan(v[j]))
            problems.append(
                (
                    ids[members[0]],
                    col,
                    f"group {groups.names[gcode]!r}: field {col} differs between its patents ({vals}); give the group's total once or the same on every row",
                )
            )


def _income_methods(frame: pd.DataFrame, ids: np.ndarray, problems: list) -> np.ndarray:
    """The optional ``income_method`` column as codes into :data:`INCOME_METHODS` (NaN where not given).

    Each distinct spelling is looked up once; unknown ones are reported in ``problems`` naming the patent.
    """
    n = len(frame)
    if "income_method" not in frame.columns:
        return np.full(n, np.nan)
    codes, uniques = pd.factorize(frame["income_method"], use_na_sentinel=True)
    texts = [str(v).strip() for v in uniques]
    keys = [method_key(t) if t else None for t in texts]
    lut = np.array(
        [
            np.nan if not t else (INCOME_METHODS.index(k) if k else -1.0)
            for t, k in zip(texts, keys, strict=True)
        ]
        + [np.nan],
        dtype=float,
    )
    out = lut[np.where(codes < 0, len(texts), codes)]
    for j in np.flatnonzero(out == -1.0)[:50]:
        problems.append(
            (
                ids[j],
                "income_method",
                f"patent {ids[j]}: field income_method {frame['income_method'].iloc[j]!r} is not one of "
                + ", ".join(INCOME_METHODS),
            )
        )
    return out


def check_range(problems: list, ids: np.ndarray, col: str, x: np.ndarray, ok: np.ndarray, rule: str) -> None:
    """Report in ``problems`` every known value of ``x`` (not NaN) where ``ok`` is False, naming the patent."""
    bad = ~np.isnan(x) & ~ok
    for j in np.flatnonzero(bad)[:50]:
        problems.append((ids[j], col, f"patent {ids[j]}: field {col} {rule}, got {x[j]!r}"))


def _group_fill(values: np.ndarray, codes: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Fill NaN from the group's member with the smallest ``patent_id`` that has a value (codes < 0: no group).

    Taking the member by ``patent_id`` (not by row position) keeps the result independent of row order.
    """
    if (codes < 0).all():
        return values
    values = np.asarray(values, dtype=float)
    fill = np.isnan(values) & (codes >= 0)
    if not fill.any():
        return values
    # the first value in patent_id order of each group: np.unique's first index among the rows with a value
    v, c = values[order], codes[order]
    has = ~np.isnan(v) & (c >= 0)
    first_by_code = np.full(int(codes.max()) + 1, np.nan)
    found, at = np.unique(c[has], return_index=True)
    first_by_code[found] = v[has][at]
    return np.where(fill, first_by_code[np.where(codes >= 0, codes, 0)], values)


def read_forecast(
    frame: pd.DataFrame, ids: np.ndarray, problems: list
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Parse the optional ``revenue_forecast`` column: yearly revenues from year 1, ``;``-separated or a list.

    Returns the matrix ``(patents, years)`` (NaN past each row's horizon), the horizon per row and the
    normalised text (for the group consistency check); ``None`` when the column is absent. Gaps (an empty or
    NaN year followed by a number), non-numbers and negative values are reported in ``problems``.
    """
    if "revenue_forecast" not in frame.columns:
        return None
    raw = frame["revenue_forecast"].astype("object")
    listy = raw.map(lambda v: isinstance(v, (list, tuple, np.ndarray)))
    if listy.any():
        raw = raw.where(~listy, raw[listy].map(lambda v: ";".join("" if x is None else str(x) for x in v)))
    txt = (
        raw.where(raw.notna(), "").astype(str).str.strip().str.replace("；", ";", regex=False).str.rstrip(";")
    )
    n = len(frame)
    if (txt == "").all():
        return np.full((n, 0), np.nan), np.zeros(n, dtype=int), txt.to_numpy(dtype=object)
    parts = txt.str.split(";", expand=True)
    cells = parts.apply(lambda c: c.str.strip()).fillna("")
    nums = cells.apply(
        lambda c: pd.to_numeric(c.where(~c.str.lower().isin(["", "nan", "none"]), None), errors="coerce")
    )
    mat = nums.to_numpy(dtype=float, na_value=np.nan)
    present = ~cells.isin(["", "nan", "NaN", "none", "None"]).to_numpy()
    bad_num = present & np.isnan(mat)
    for i, j in np.argwhere(bad_num)[:20]:
        problems.append(
            (
                ids[i],
                "revenue_forecast",
                f"patent {ids[i]}: field revenue_forecast year {j + 1} is not a number: {cells.iat[i, j]!r}",
            )
        )
    has = ~np.isnan(mat)
    horizon = np.where(has.any(axis=1), mat.shape[1] - np.argmax(has[:, ::-1], axis=1), 0)
    gap = ~has & (np.arange(mat.shape[1])[None, :] < horizon[:, None]) & ~bad_num
    for i, j in np.argwhere(gap)[:20]:
        problems.append(
            (
                ids[i],
                "revenue_forecast",
                f"patent {ids[i]}: field revenue_forecast has a gap at year {j + 1}: give every year a number (0 for none)",
            )
        )
    neg = has & (mat < 0) | np.isinf(mat)
    for i, j in np.argwhere(neg)[:20]:
        problems.append(
            (
                ids[i],
                "revenue_forecast",
                f"patent {ids[i]}: field revenue_forecast year {j + 1} must be a finite number >= 0, got {mat[i, j]!r}",
            )
        )
    return mat, horizon.astype(int), txt.to_numpy(dtype=object)


def _input_rules(year: int) -> tuple[tuple[str, Any, str], ...]:
    """(column, test on the non-NaN values, rule in words) for the numeric economics."""
    fin = np.isfinite
    return (
        ("revenue", lambda v: fin(v) & (v >= 0), "must be a finite number >= 0"),
        ("revenue_growth", lambda v: (v > -1) & (v <= 1), "must be a rate in (-1, 1]"),
        ("royalty_rate", lambda v: (v >= 0) & (v <= 1), "must be a rate in [0, 1]"),
        ("profit_share", lambda v: (v >= 0) & (v <= 1), "must be a rate in [0, 1]"),
        ("profit_margin", lambda v: (v >= -1) & (v <= 1), "must be a rate in [-1, 1]"),
        ("tax_rate", lambda v: (v >= 0) & (v < 1), "must be a rate in [0, 1)"),
        ("discount_rate", lambda v: (v >= 0) & (v <= 1), "must be a rate in [0, 1]"),
        ("economic_life_years", lambda v: fin(v) & (v > 0), "must be a positive number of years"),
        ("rd_cost", lambda v: fin(v) & (v >= 0), "must be a finite number >= 0"),
        ("rd_year", lambda v: (v >= 1900) & (v <= year), f"must be a year between 1900 and {year}"),
        ("commercialization_cost", lambda v: fin(v) & (v >= 0), "must be a finite number >= 0"),
        ("volatility", lambda v: (v > 0) & (v <= 5), "must be a positive number (at most 5)"),
        ("decay_rate", lambda v: (v >= 0) & (v < 1), "must be a rate in [0, 1)"),
    )
