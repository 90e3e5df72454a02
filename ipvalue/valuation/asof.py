"""Stage 2 of the valuation: the facts as they stood on ``as_of`` (status, remaining life, quality, chance of grant).

Pure, vectorised functions over the columns of one chunk. The rules and their sources are in
``docs/methodology/reconciliation.md`` ("Facts at as_of", "Applications").
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from ipvalue.errors import InputError, Problem
from ipvalue.terms._inputs import TermInputs, term_inputs
from ipvalue.valuation._data import grant_rates
from ipvalue.valuation.inputs import DEAD_STATUSES, UNKNOWN_STATUS, Inputs, ValuationInputError
from ipvalue.valuation.notes import Notes, fmt, fmt_pct

__all__ = [
    "Facts",
    "read_facts",
    "FactsAt",
    "facts_at_as_of",
    "GrantAdjustment",
    "GrantRates",
    "grant_adjustment",
    "grant_lookup",
    "QUALITY_COLUMNS",
]

_DAYS_PER_YEAR = 365.25
QUALITY_COLUMNS = ("quality_legal", "quality_technical", "quality_economic", "quality_score")


@dataclass(frozen=True)
class Facts:
    """The facts of a chunk at ``as_of``, as the later stages read them.

    Attributes
    ----------
    status : numpy.ndarray of str
        Status on the day (see :class:`FactsAt`).
    life_legal : numpy.ndarray
        Remaining legal life in years (0 without a right, NaN where the term cannot be computed).
    dead : numpy.ndarray of bool
        No right at ``as_of`` (lapsed, expired, revoked, withdrawn, not filed, or no remaining life).
    unknown : numpy.ndarray of bool
        Status unknown and no fact showing the right ended: the row is not valued (NaN, failure note).
    filing : numpy.ndarray of datetime64[D]
    quality : pandas.DataFrame
        :data:`QUALITY_COLUMNS` (and ``quality_coverage`` when computed).
    quality_source : str
        ``given`` (the frame had the columns) or ``computed``.
    expiry_date : numpy.ndarray of datetime64[D]
        The term's expiry date (:func:`ipvalue.terms.life_table`'s ``expiry_date``: the ``expiry_date`` column
        where given, else statutory), which the renewal fees paid are laid out against.
    terms : TermInputs
        The term columns of the rows as :mod:`ipvalue.terms` read them (for the renewal fees paid).
    """

    status: np.ndarray
    life_legal: np.ndarray
    dead: np.ndarray
    unknown: np.ndarray
    filing: np.ndarray
    quality: pd.DataFrame
    quality_source: str
    expiry_date: np.ndarray
    terms: TermInputs

    @property
    def quality_score(self) -> np.ndarray:
        """``quality_score`` per row (NaN where none)."""
        q = self.quality
        if not len(q):
            return np.full(len(self.status), np.nan)
        return q["quality_score"].to_numpy(dtype=float, na_value=np.nan)

    @property
    def quality_coverage(self) -> np.ndarray | None:
        """``quality_coverage`` per row, or None when the quality columns were given without it."""
        q = self.quality
        return (
            q["quality_coverage"].to_numpy(dtype=float, na_value=np.nan) if "quality_coverage" in q else None
        )


def read_facts(inputs: Inputs, a: dict[str, Any], day: dt.date, cohort: dict | None, notes: Notes) -> Facts:
    """Status, remaining life and quality of every row on ``as_of``.

    Parameters
    ----------
    inputs : Inputs
        The checked chunk.
    a : dict
        The resolved assumptions (``term_errors``, ``strict_dates``).
    day : datetime.date
        The valuation date.
    cohort : dict or None
        The book's quality cohort caps (None: from the chunk).
    notes : Notes
        Receives a note per row whose facts were read differently from the status given.
    """
    frame, ids = inputs.frame, inputs.ids
    terms = term_inputs(frame)
    life_legal, expiry, expiry_date = _remaining_life(
        frame, day, a, notes, inputs.status == UNKNOWN_STATUS, terms
    )
    # the frame's dates as ipvalue.facts.columns.dates reads them (term_inputs raised on a bad one)
    filing = terms.filing
    at = facts_at_as_of(
        inputs.status,
        filing,
        terms.grant,
        expiry,
        day,
        ids,
        strict=bool(a["strict_dates"]),
        error=ValuationInputError,
        notes=notes,
    )
    status = at.status
    life_legal = np.where(at.not_filed | at.expired, 0.0, life_legal)
    dead = np.isin(status, (*DEAD_STATUSES, "not_filed")) | (life_legal <= 0)
    unknown = (status == UNKNOWN_STATUS) & ~dead
    qframe = frame
    if "legal_status" in frame.columns and (at.not_filed | at.granted_later | at.expired | unknown).any():
        q_status = np.where(status == "not_filed", "withdrawn", status).astype(object)
        qframe = frame.assign(
            legal_status=np.where(status == UNKNOWN_STATUS, np.array(None, dtype=object), q_status)
        )
    qual, qsource = _quality(qframe, day, life_legal, cohort)
    notes.mute(unknown)
    return Facts(status, life_legal, dead, unknown, filing, qual, qsource, expiry_date, terms)


def _remaining_life(
    frame: pd.DataFrame, as_of: dt.date, a: dict, notes: Notes, unknown: np.ndarray, terms: TermInputs
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Remaining legal life (years), last day of the term and expiry date (datetime64[D]) of every row.

    From :func:`ipvalue.terms.life_columns` (the arrays of ``life_table``'s columns).

    The last day is the expiry date for US and EP (the term ends on the anniversary) and the day before it for
    CN (the expiry date is the 期满终止日); ``ipvalue.terms.last_day_in_force``.
    """
    from ipvalue.terms import life_columns

    tbl = life_columns(frame, as_of, errors=a["term_errors"], inputs=terms)
    life = tbl["remaining_life_years"]
    expiry = tbl["last_day_in_force"]
    expiry_date = tbl["expiry_date"]
    reason, tnote, prob = tbl["lapse_reason"], tbl["term_note"], tbl["term_problem"]
    notes.add((life <= 0) & (reason != ""), "no remaining life (" + reason + "): value 0")
    notes.add((life <= 0) & (reason == ""), "no remaining life: value 0")
    notes.add((tnote != "") & ~unknown, tnote)  # an unknown status has its own note: no "in force assumed"
    notes.add(np.isnan(life), "remaining life unknown (" + prob + "): not valued")
    return life, expiry, expiry_date


def _quality(
    frame: pd.DataFrame, as_of: dt.date, life: np.ndarray, cohort: dict | None = None
) -> tuple[pd.DataFrame, str]:
    """Quality columns (and ``quality_coverage``): kept when the frame has them, else from :mod:`ipvalue.quality`."""
    if all(c in frame.columns for c in QUALITY_COLUMNS):
        cols = [*QUALITY_COLUMNS, *(["quality_coverage"] if "quality_coverage" in frame.columns else [])]
        return frame.loc[:, cols], "given"
    from ipvalue.quality import score_quality

    if cohort is None:
        scored = score_quality(frame, as_of=as_of, remaining_life_years=life)
    else:
        scored = score_quality(frame, as_of=as_of, remaining_life_years=life, cohort_quantiles=cohort)
    cols = [*QUALITY_COLUMNS, *(["quality_coverage"] if "quality_coverage" in scored.columns else [])]
    # a new frame of the columns' arrays: the scoring's record (attrs) is not read here, and pandas would
    # deep-copy it on a selection and every column read
    scored.attrs = {}
    out = pd.DataFrame({c: scored[c].to_numpy() for c in cols}, index=scored.index)
    return out, "computed"


@dataclass(frozen=True)
class FactsAt:
    """The facts of every patent as they stood on ``as_of``.

    Attributes
    ----------
    status : numpy.ndarray of str
        ``legal_status`` on the day: ``pending`` while the grant is still to come, ``expired`` past the term,
        ``not_filed`` before the filing date; otherwise the status given.
    not_filed, granted_later, expired : numpy.ndarray of bool
        Which rows were changed, and why.
    """

    status: np.ndarray
    not_filed: np.ndarray
    granted_later: np.ndarray
    expired: np.ndarray


def facts_at_as_of(
    status: np.ndarray,
    filing: np.ndarray,
    grant: np.ndarray,
    expiry: np.ndarray,
    day: dt.date,
    ids: np.ndarray,
    *,
    strict: bool,
    error: type[InputError],
    notes: Notes,
) -> FactsAt:
    """Read the status at ``as_of``: no right before filing, pending before grant, expired after the term.

    Parameters
    ----------
    status : array of str
        ``legal_status`` as given (lower case).
    filing, grant, expiry : array of datetime64[D]
        Filing date, grant date and the last day of the term (``life_table``'s ``last_day_in_force``, from the
        statutory expiry or the ``expiry_date`` override); NaT where unknown.
    day : datetime.date
        The valuation date.
    ids : array of str
        Patent ids (for the errors).
    strict : bool
        Raise ``error`` naming every patent filed after ``as_of`` instead of valuing it at 0.
    error : type
        The error class to raise.
    notes : Notes
        Receives one note per changed row.

    Returns
    -------
    FactsAt
    """
    d = np.datetime64(day, "D")
    not_filed = ~np.isnat(filing) & (filing > d)
    if strict and not_filed.any():
        raise error.from_problems(
            [
                Problem(
                    str(ids[j]),
                    "filing_date",
                    f"patent {ids[j]}: filing_date {filing[j]} is after as_of {day}",
                )
                for j in np.flatnonzero(not_filed)
            ]
        )
    # an unknown status past the term is expired all the same
    live_status = np.isin(status, ("granted", "pending", UNKNOWN_STATUS))
    granted_later = ~not_filed & (status == "granted") & ~np.isnat(grant) & (grant > d)
    expired = ~not_filed & live_status & ~np.isnat(expiry) & (expiry < d)
    out = status.copy()
    out[granted_later] = "pending"
    out[expired] = "expired"
    out[not_filed] = "not_filed"
    # each note's texts formatted only when it has rows
    if not_filed.any():
        notes.add(
            not_filed, f"not filed at as_of {day} (filing_date " + fmt_dates(filing) + "): no right, value 0"
        )
    if (granted_later & ~expired).any():
        notes.add(
            granted_later & ~expired,
            f"granted after as_of {day} (grant_date "
            + fmt_dates(grant)
            + "): valued as a pending application",
        )
    if expired.any():
        notes.add(
            expired,
            "term ended: last day in force " + fmt_dates(expiry) + f", before as_of {day}: expired, value 0",
        )
    return FactsAt(out, not_filed, granted_later, expired)


def fmt_dates(x: np.ndarray) -> np.ndarray:
    """Dates as ISO text (object array), each distinct date formatted once."""
    codes, uniques = pd.factorize(pd.Series(np.asarray(x, dtype="datetime64[D]")))
    labels = np.array([str(pd.Timestamp(u).date()) for u in uniques] + ["unknown"], dtype=object)
    return labels[np.where(codes < 0, len(uniques), codes)]


@dataclass(frozen=True)
class GrantAdjustment:
    """Probability of grant, the years still to wait for it, and the factor applied to an application's value."""

    probability: np.ndarray
    wait_years: np.ndarray
    factor: np.ndarray


@dataclass(frozen=True)
class GrantRates:
    """Each row's published grant rate and pendency (:func:`grant_lookup`).

    ``known``: the row's office and type are in the table (else it has the ``*`` row's).
    """

    known: np.ndarray
    probability: np.ndarray
    pendency_years: np.ndarray


def grant_lookup(office: np.ndarray, patent_type: np.ndarray) -> GrantRates:
    """The grant-rate table (``ipvalue/data/valuation_grant_rates.csv``) looked up for every row's office and type.

    Each distinct (office, type) pair is looked up once; a pair not in the table (or with no figure in it) takes
    the ``*`` row's figures, and ``known`` says which pairs are in the table.
    """
    p_map, w_map, p_fallback, w_fallback = _grant_maps()
    office_codes, offices = pd.factorize(np.asarray(office).astype(str))
    type_codes, types = pd.factorize(np.asarray(patent_type).astype(str))
    pair = office_codes * max(len(types), 1) + type_codes
    uniq, inverse = np.unique(pair, return_inverse=True)
    keys = [f"{offices[c // max(len(types), 1)]}|{types[c % max(len(types), 1)]}" for c in uniq.tolist()]
    known = np.array([k in p_map for k in keys], dtype=bool)
    prob = np.array([p_map.get(k, np.nan) for k in keys], dtype=float)
    wait = np.array([w_map.get(k, np.nan) for k in keys], dtype=float)
    prob = np.where(np.isnan(prob), p_fallback, prob)
    wait = np.where(np.isnan(wait), w_fallback, wait)
    return GrantRates(known[inverse], prob[inverse], wait[inverse])


@lru_cache(maxsize=1)
def _grant_maps() -> tuple[dict[str, float], dict[str, float], float, float]:
    """The grant-rate table as ``office|type`` -> probability and -> pendency, and the ``*`` row's (once a process)."""
    tbl = grant_rates()
    keys = tbl["office"].astype(str) + "|" + tbl["patent_type"].astype(str)
    fallback = tbl[(tbl["office"] == "*") & (tbl["patent_type"] == "*")].iloc[0]
    return (
        dict(zip(keys, tbl["grant_probability"].astype(float), strict=True)),
        dict(zip(keys, tbl["pendency_years"].astype(float), strict=True)),
        float(fallback["grant_probability"]),
        float(fallback["pendency_years"]),
    )


def grant_adjustment(
    office: np.ndarray,
    patent_type: np.ndarray,
    status: np.ndarray,
    filing: np.ndarray,
    discount_rate: np.ndarray,
    day: dt.date,
    notes: Notes,
    lookup: GrantRates | None = None,
) -> GrantAdjustment:
    """The chance that a pending application is granted, and its value factor ``p x (1 + r) ** -wait``.

    ``p`` is the office's published grant rate for the patent type (``ipvalue/data/valuation_grant_rates.csv``, each
    row with its source; an office or type not in the table takes the ``*`` row, the lowest rate); ``wait`` is the
    office's average pendency less the time since filing (at least 0). A granted patent has ``p = 1`` and factor 1;
    a patent without a right (dead, not filed) has ``p`` NaN and factor 1 (its value is 0 anyway). ``lookup``:
    :func:`grant_lookup` of ``office`` and ``patent_type`` when already done (None: done here).
    """
    rates = grant_lookup(office, patent_type) if lookup is None else lookup
    known, p_tab, pend = rates.known, rates.probability, rates.pendency_years
    d = np.datetime64(day, "D")
    age = (d - filing).astype("timedelta64[D]").astype(float) / _DAYS_PER_YEAR
    age = np.where(np.isnat(filing), 0.0, age)
    pending = status == "pending"
    wait = np.where(pending, np.maximum(pend - age, 0.0), 0.0)
    prob = np.where(pending, p_tab, np.where(status == "granted", 1.0, np.nan))
    r = np.where(np.isfinite(discount_rate), discount_rate, 0.0)
    factor = np.where(pending, prob * (1.0 + r) ** (-wait), 1.0)
    if not notes.wanted:  # the notes below write text for every row
        return GrantAdjustment(prob, wait, factor)
    notes.add(
        pending & known,
        "application: value x grant probability "
        + fmt_pct(prob, 1)
        + " ("
        + office.astype(object)
        + " "
        + patent_type.astype(object)
        + ", published grant rate) x discount for "
        + fmt(wait, "{:.2f}")
        + " years to grant",
    )
    notes.add(
        pending & ~known,
        "application: office/type not in the grant-rate table, lowest rate "
        + fmt_pct(prob, 1)
        + " and "
        + fmt(wait, "{:.2f}")
        + " years to grant assumed (conservative)",
    )
    return GrantAdjustment(prob, wait, factor)
