"""Vectorised calendar arithmetic on ``datetime64[D]`` arrays (NaT preserved)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

NAT = np.datetime64("NaT", "D")
_FILL = np.datetime64("2000-01-01", "D")


def to_day(value: object) -> np.datetime64:
    """One date-like value (date, Timestamp, ISO string) as ``datetime64[D]``; ``None``/NaN give NaT."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return NAT
    ts = pd.Timestamp(value)
    if ts is pd.NaT:
        return NAT
    return np.datetime64(ts.date(), "D")


def to_days(values: object) -> np.ndarray:
    """A column of date-like values as a ``datetime64[D]`` numpy array (NaT where missing)."""
    s = values if isinstance(values, pd.Series) else pd.Series(values)
    if not pd.api.types.is_datetime64_any_dtype(s.dtype):
        s = pd.to_datetime(s, errors="raise")
    return s.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")


def add_months(days: np.ndarray, months: int | np.ndarray) -> np.ndarray:
    """Add whole calendar months; a day past the end of the target month is clamped to its last day.

    So 2000-02-29 + 12 months is 2001-02-28, the usual reading of "N years from" a leap day. It is CNIPA's rule
    for time limits counted in years or months (专利审查指南: 期限以年或者月计算的，以其最后1月的相应日为期限届满日；
    该月无相应日的，以该月最后1日为期限届满日 - e.g. 2 months from 1999-12-31 end on 2000-02-29; quoted with the
    2008 amendment notice on 63z.top/html/nkipfqtbzy/1310.html, read 2026-12-04). CNIPA moves a time limit that
    ends on a public holiday to the next working day; that is not modelled.
    """
    d = np.asarray(days, dtype="datetime64[D]")
    nat = np.isnat(d)
    safe = np.where(nat, _FILL, d)
    month = safe.astype("datetime64[M]")
    day0 = (safe - month.astype("datetime64[D]")).astype(np.int64)
    target = month + np.asarray(months, dtype=np.int64)
    days_in_month = ((target + 1).astype("datetime64[D]") - target.astype("datetime64[D]")).astype(np.int64)
    out = target.astype("datetime64[D]") + np.minimum(day0, days_in_month - 1)
    return np.where(nat, NAT, out)


def add_years(days: np.ndarray, years: int | np.ndarray) -> np.ndarray:
    """Add whole calendar years (see :func:`add_months`)."""
    return add_months(days, np.asarray(years, dtype=np.int64) * 12)


def month_end(days: np.ndarray) -> np.ndarray:
    """The last day of the month of each date."""
    d = np.asarray(days, dtype="datetime64[D]")
    nat = np.isnat(d)
    safe = np.where(nat, _FILL, d)
    out = (safe.astype("datetime64[M]") + 1).astype("datetime64[D]") - 1
    return np.where(nat, NAT, out)


def years_between(start: np.ndarray | np.datetime64, end: np.ndarray) -> np.ndarray:
    """``(end - start)`` in years of 365.25 days, as float (NaN where either is NaT)."""
    delta = (np.asarray(end, dtype="datetime64[D]") - np.asarray(start, dtype="datetime64[D]")).astype(
        "float64"
    )
    bad = np.isnat(np.asarray(end, dtype="datetime64[D]")) | np.isnat(
        np.asarray(start, dtype="datetime64[D]")
    )
    return np.where(bad, np.nan, delta / 365.25)


def as_date(value: np.datetime64) -> dt.date | None:
    """A ``datetime64[D]`` scalar as :class:`datetime.date` (``None`` for NaT)."""
    if np.isnat(value):
        return None
    return value.astype("datetime64[D]").astype(dt.date)
