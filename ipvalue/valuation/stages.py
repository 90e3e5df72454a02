"""Stages of the valuation that judge the facts at ``as_of``: the status on the day, the chance of grant, the market.

Each stage is a pure, vectorised function over the columns of one chunk; :func:`ipvalue.valuation.portfolio.value_frame`
calls them in order (facts at as_of -> economics -> methods -> reconcile -> range -> assemble). The rules and their
sources are in ``docs/methodology/reconciliation.md`` ("Facts at as_of", "Applications", "Territories").
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ipvalue.errors import InputError, Problem
from ipvalue.valuation._data import grant_rates
from ipvalue.valuation.notes import Notes, fmt, fmt_pct

__all__ = ["FactsAt", "facts_at_as_of", "GrantAdjustment", "grant_adjustment", "market_of", "protects_market"]

_DAYS_PER_YEAR = 365.25


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
        Filing date, grant date and expiry (statutory, or the ``expiry_date`` override); NaT where unknown.
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
    live_status = np.isin(status, ("granted", "pending"))
    granted_later = ~not_filed & (status == "granted") & ~np.isnat(grant) & (grant > d)
    expired = ~not_filed & live_status & ~np.isnat(expiry) & (expiry <= d)
    out = status.copy()
    out[granted_later] = "pending"
    out[expired] = "expired"
    out[not_filed] = "not_filed"
    notes.add(
        not_filed, f"not filed at as_of {day} (filing_date " + fmt_dates(filing) + "): no right, value 0"
    )
    notes.add(
        granted_later & ~expired,
        f"granted after as_of {day} (grant_date " + fmt_dates(grant) + "): valued as a pending application",
    )
    notes.add(expired, "term ended " + fmt_dates(expiry) + f", on or before as_of {day}: expired, value 0")
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


def grant_adjustment(
    office: np.ndarray,
    patent_type: np.ndarray,
    status: np.ndarray,
    filing: np.ndarray,
    discount_rate: np.ndarray,
    day: dt.date,
    notes: Notes,
) -> GrantAdjustment:
    """The chance that a pending application is granted, and its value factor ``p x (1 + r) ** -wait``.

    ``p`` is the office's published grant rate for the patent type (``ipvalue/data/valuation_grant_rates.csv``, each
    row with its source; an office or type not in the table takes the ``*`` row, the lowest rate); ``wait`` is the
    office's average pendency less the time since filing (at least 0). A granted patent has ``p = 1`` and factor 1;
    a patent without a right (dead, not filed) has ``p`` NaN and factor 1 (its value is 0 anyway).
    """
    tbl = grant_rates()
    key = pd.Series(office.astype(str), dtype=object) + "|" + pd.Series(patent_type.astype(str), dtype=object)
    keys = tbl["office"].astype(str) + "|" + tbl["patent_type"].astype(str)
    fallback = tbl[(tbl["office"] == "*") & (tbl["patent_type"] == "*")].iloc[0]
    p_map = dict(zip(keys, tbl["grant_probability"].astype(float), strict=True))
    w_map = dict(zip(keys, tbl["pendency_years"].astype(float), strict=True))
    known = key.isin(p_map).to_numpy()
    p_tab = key.map(p_map).to_numpy(dtype=float, na_value=float(fallback["grant_probability"]))
    pend = key.map(w_map).to_numpy(dtype=float, na_value=float(fallback["pendency_years"]))
    d = np.datetime64(day, "D")
    age = (d - filing).astype("timedelta64[D]").astype(float) / _DAYS_PER_YEAR
    age = np.where(np.isnat(filing), 0.0, age)
    pending = status == "pending"
    wait = np.where(pending, np.maximum(pend - age, 0.0), 0.0)
    prob = np.where(pending, p_tab, np.where(status == "granted", 1.0, np.nan))
    r = np.where(np.isfinite(discount_rate), discount_rate, 0.0)
    factor = np.where(pending, prob * (1.0 + r) ** (-wait), 1.0)
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


def market_of(frame: pd.DataFrame, jurisdiction: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's market (the ``market`` column, upper case) and whether it was given; default: the jurisdiction."""
    if "market" in frame.columns:
        given = frame["market"].astype("string").str.strip().str.upper().fillna("").to_numpy(dtype=object)
    else:
        given = np.full(len(frame), "", dtype=object)
    has = given != ""
    return np.where(has, given, jurisdiction), has


def protects_market(jurisdiction: np.ndarray, market: np.ndarray) -> np.ndarray:
    """Whether a patent of ``jurisdiction`` protects ``market``: the same office code.

    A European patent (``EP``) protects the market ``EP`` only; a bank that books revenue by European country
    should give ``market`` as ``EP`` for the product lines covered by EP patents (a choice, documented).
    """
    return np.asarray(jurisdiction, dtype=object) == np.asarray(market, dtype=object)
