"""Remaining life: statutory expiry cut short by a lapse (legal status, unpaid renewal fees)."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from ipvalue.terms._dates import add_months, years_between
from ipvalue.terms._expiry import TermRules
from ipvalue.terms._inputs import (
    DEAD_STATUSES,
    KNOWN_STATUSES,
    TermError,
    TermInputs,
    as_frame,
    as_of_day,
    office_lookup,
    term_inputs,
)

LIFE_COLUMNS = (
    "statutory_expiry",
    "expiry_date",
    "expiry_basis",
    "last_day_in_force",
    "in_force",
    "lapse_reason",
    "remaining_life_years",
    "term_note",
    "term_problem",
)

DEFAULT_GRACE_MONTHS = 6


def life_frame(
    frame: pd.DataFrame, as_of: object, errors: Literal["raise", "coerce"], rules: TermRules
) -> pd.DataFrame:
    """The life table of a frame under ``rules``: expiry, basis, remaining life and problems per patent."""
    return _as_table(life_columns(frame, as_of, errors=errors, rules=rules), frame.index)


def _as_table(cols: dict[str, np.ndarray], index: pd.Index) -> pd.DataFrame:
    """The life table (:data:`LIFE_COLUMNS`, with their dtypes) of :func:`life_columns`' arrays."""
    return pd.DataFrame(
        {
            "statutory_expiry": cols["statutory_expiry"].astype("datetime64[s]"),
            "expiry_date": cols["expiry_date"].astype("datetime64[s]"),
            "expiry_basis": cols["expiry_basis"].astype(object),
            "last_day_in_force": cols["last_day_in_force"].astype("datetime64[s]"),
            "in_force": cols["in_force"],
            "lapse_reason": cols["lapse_reason"].astype(object),
            "remaining_life_years": cols["remaining_life_years"].astype(float),
            "term_note": cols["term_note"].astype(object),
            "term_problem": cols["term_problem"].astype(object),
        },
        index=index,
    )


def life_columns(
    frame: pd.DataFrame,
    as_of: object,
    *,
    errors: Literal["raise", "coerce"] = "raise",
    rules: TermRules | None = None,
    inputs: TermInputs | None = None,
) -> dict[str, np.ndarray]:
    """:func:`life_table`'s columns as numpy arrays, for a caller that reads them (no frame built).

    Parameters
    ----------
    frame : DataFrame
        Portfolio frame.
    as_of : date or str
        Valuation date.
    errors : {"raise", "coerce"}
        As in :func:`life_table`.
    rules : TermRules, optional
        Other term rules than the packaged ones.
    inputs : TermInputs, optional
        ``term_inputs(frame)`` when the caller read them already (they are not read again).

    Returns
    -------
    dict of numpy.ndarray
        The keys of :data:`LIFE_COLUMNS`: the dates as ``datetime64[D]``, the texts as object arrays of str,
        ``in_force`` bool, ``remaining_life_years`` float; the same values as the table's columns.
    """
    rules = rules or TermRules.default()
    day = as_of_day(as_of)
    inp = term_inputs(frame) if inputs is None else inputs
    n = len(inp)
    statutory, basis, problem = rules.compute(inp)
    has_override = ~np.isnat(inp.override)
    expiry = np.where(has_override, inp.override, statutory)
    basis = np.where(has_override, "expiry_date given in the portfolio", basis)
    problem = np.where(has_override, "", problem)

    bad_status = ~np.isin(inp.status, KNOWN_STATUSES)
    for i in np.flatnonzero(bad_status):
        problem[i] = (
            f"patent {inp.ids[i]}: field legal_status {inp.status[i]!r} is not one of {', '.join(KNOWN_STATUSES)}"
        )
    dead = np.isin(inp.status, DEAD_STATUSES)
    grace = office_lookup(inp.jurisdiction, rules.grace_months, DEFAULT_GRACE_MONTHS).astype(np.int64)
    has_fpt = ~np.isnat(inp.fees_paid_through)
    grace_end = add_months(inp.fees_paid_through, grace)
    fee_lapse = has_fpt & (grace_end < day) & ~dead
    in_grace = has_fpt & (inp.fees_paid_through < day) & ~fee_lapse & ~dead
    # the expiry date is the last day in force (US, EP) or the first day without the right (CN)
    last_day = rules.last_day_in_force(inp.jurisdiction, expiry)
    term_over = ~np.isnat(last_day) & (last_day < day)

    # remaining life counts the days in force from as_of inclusive: (last day + 1 - as_of) / 365.25
    life = np.clip(years_between(day, last_day + np.timedelta64(1, "D")), 0.0, None)
    life = np.where(dead | fee_lapse, 0.0, life)
    # a dead patent needs no term facts: its life is 0 whatever they are
    fatal = (problem != "") & ~dead
    if errors == "raise" and fatal.any():
        raise TermError([(inp.ids[i], "", problem[i]) for i in np.flatnonzero(fatal)])
    life = np.where(fatal, np.nan, life)

    reason = np.full(n, "", dtype=object)
    m = term_over & ~fee_lapse & ~dead
    reason[m] = "term ended " + expiry[m].astype(str).astype(object)
    m = fee_lapse
    # the day the right ended: the due date itself (CN Rule 98 (2010) / 115 (2023): 专利权自应当缴纳年费期满之日起
    # 终止; JP, KR alike) or the end of the grace period (US, 35 USC 41(b)); not stated for other offices
    ends = office_lookup(inp.jurisdiction, rules.terminates_from, "")
    since = np.full(n, "", dtype=object)
    due = m & (ends == "due_date")
    since[due] = "; the right terminated as of the due date " + inp.fees_paid_through[due].astype(str).astype(
        object
    )
    end = m & (ends == "grace_end")
    since[end] = "; the right expired at the end of the grace period " + grace_end[end].astype(str).astype(
        object
    )
    reason[m] = (
        "renewal fees unpaid: paid through "
        + inp.fees_paid_through[m].astype(str).astype(object)
        + ", grace ended "
        + grace_end[m].astype(str).astype(object)
        + since[m]
    )
    reason[dead] = "legal_status " + inp.status[dead]

    note = np.full(n, "", dtype=object)
    note[(inp.status == "pending") & ~term_over] = (
        "pending application: life counted to the statutory expiry, grant assumed"
    )
    note[in_grace] = (
        "renewal fee overdue, in grace period until "
        + grace_end[in_grace].astype(str).astype(object)
        + " (surcharge due)"
    )
    note[~inp.status_given & ~dead] = "legal_status missing: in force assumed"

    return {
        "statutory_expiry": statutory,
        "expiry_date": expiry,
        "expiry_basis": basis.astype(object),
        "last_day_in_force": last_day,
        "in_force": (~dead & ~fee_lapse & ~term_over & ~fatal & (inp.status == "granted")),
        "lapse_reason": reason.astype(object),
        "remaining_life_years": life.astype(float),
        "term_note": note.astype(object),
        "term_problem": problem.astype(object),
    }


def life_table(
    portfolio: pd.DataFrame,
    as_of: object,
    *,
    errors: Literal["raise", "coerce"] = "raise",
    rules: TermRules | None = None,
) -> pd.DataFrame:
    """Expiry, lapse and remaining life of every patent, with the reasons, vectorised.

    Parameters
    ----------
    portfolio : DataFrame or Patent
        Portfolio frame indexed by ``patent_id``.
    as_of : date or str
        Valuation date.
    errors : {"raise", "coerce"}
        ``"raise"`` (default): a :class:`TermError` naming every patent whose term cannot be computed.
        ``"coerce"``: those rows get NaT / NaN and their message in ``term_problem`` (no row is lost).
    rules : TermRules, optional
        Other term rules than the packaged ones.

    Returns
    -------
    DataFrame
        Indexed like ``portfolio``; columns ``statutory_expiry``, ``expiry_date`` (the ``expiry_date`` column
        where given, else statutory), ``expiry_basis``, ``last_day_in_force`` (the expiry date where the office
        counts it in the term, US and EP; the day before it for CN, whose expiry date is the 期满终止日),
        ``in_force`` (granted, not lapsed, not expired),
        ``lapse_reason``, ``remaining_life_years``, ``term_note``, ``term_problem``.

    Notes
    -----
    Remaining life is ``(last_day_in_force + 1 day - as_of) / 365.25`` years (the days in force from ``as_of``
    inclusive; for CN ``(expiry - as_of) / 365.25``), floored at 0, and 0 when ``legal_status`` is lapsed,
    expired, revoked or withdrawn, or when ``fees_paid_through`` plus the office's grace period (6 months at
    every office modelled) is before ``as_of``. A pending application's life runs to its statutory expiry.
    """
    frame, _ = as_frame(portfolio)
    return life_frame(frame, as_of, errors, rules or TermRules.default())


def remaining_life(portfolio_or_patent: object, as_of: object) -> float | pd.Series:
    """Remaining legal life in years; 0 when expired or lapsed.

    Parameters
    ----------
    portfolio_or_patent : DataFrame or Patent
        A portfolio frame (vectorised, no per-row loop) or one :class:`~ipvalue.Patent`.
    as_of : date or str
        Valuation date (explicit).

    Returns
    -------
    float or Series
        A float for one patent; for a frame a Series named ``remaining_life_years`` indexed like it.

    Raises
    ------
    TermError
        When a live patent's term cannot be computed; the message names every such patent and field.
        Use :func:`life_table` with ``errors="coerce"`` to get NaN rows instead.

    Examples
    --------
    >>> from ipvalue import Patent
    >>> p = Patent(patent_id="CN2015201234567", patent_type="utility_model", filing_date="2015-06-01")
    >>> round(remaining_life(p, "2020-06-01"), 2)
    5.0
    """
    frame, single = as_frame(portfolio_or_patent)
    out = life_frame(frame, as_of, "raise", TermRules.default())["remaining_life_years"]
    if single:
        return float(out.iloc[0])
    return out.rename("remaining_life_years")


__all__ = ["life_table", "life_frame", "life_columns", "remaining_life", "LIFE_COLUMNS"]
