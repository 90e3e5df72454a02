"""Pulling the term-relevant columns out of a portfolio frame, a Patent or a row, as numpy arrays."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from ipvalue.errors import InputError, Problem
from ipvalue.facts.columns import dates, patent_ids, texts
from ipvalue.facts.patent import Patent, patents_to_frame

DEAD_STATUSES = ("lapsed", "expired", "revoked", "withdrawn")


def us_series(ids: np.ndarray, jurisdiction: np.ndarray) -> np.ndarray:
    """The US number series of each row: ``"PP"`` (plant patent), ``"RE"`` (reissue) or ``""``.

    Read from the patent number (``USPP12,345``, ``US RE45,678 E``...), the USPTO's own numbering of those
    series (plant patents PP, reissues RE).
    """
    us = np.asarray(jurisdiction, dtype=object) == "US"
    out = np.full(len(us), "", dtype=object)
    if us.any():  # only the US rows' numbers are read, and only those with the letters of PP or RE
        text = np.asarray(ids)[us].astype(str)
        letters = (np.char.find(np.char.upper(text), "P") >= 0) | (
            np.char.find(np.char.upper(text), "R") >= 0
        )
        us[us] = letters
    if us.any():
        compact = (
            pd.Series(np.asarray(ids)[us], dtype=object)
            .astype(str)
            .str.upper()
            .str.replace(r"[\s,./-]", "", regex=True)
        )
        out[us] = compact.str.extract(r"^(?:US)?(PP|RE)\d", expand=False).fillna("").to_numpy(dtype=object)
    return out


KNOWN_STATUSES = ("pending", "granted", *DEAD_STATUSES)


class TermError(InputError):
    """Bad or missing term input; ``problems`` lists ``(patent_id, field, message)`` for every bad row."""

    def __init__(self, problems: list[tuple[str, str, str]]):
        checked = [Problem(*p) for p in problems]
        lines = [p.message for p in checked[:20]]
        if len(checked) > 20:
            lines.append(f"... and {len(checked) - 20} more")
        super().__init__(
            checked, message="; ".join(lines) if len(lines) <= 1 else "\n  " + "\n  ".join(lines)
        )


@dataclass(frozen=True)
class TermInputs:
    """Columns needed by the term, life and fee computations, aligned with the frame's rows."""

    index: pd.Index
    ids: np.ndarray  # object (str)
    jurisdiction: np.ndarray  # object (upper-case str, "" when missing)
    patent_type: np.ndarray  # object (str, "" when missing)
    status: np.ndarray  # object (lower-case str)
    status_given: np.ndarray  # bool: legal_status present in the row
    filing: np.ndarray  # datetime64[D]
    earliest: np.ndarray  # datetime64[D]
    grant: np.ndarray  # datetime64[D]
    override: np.ndarray  # datetime64[D] (expiry_date column)
    fees_paid_through: np.ndarray  # datetime64[D]
    adjustment_days: np.ndarray  # float (NaN when given as negative or unreadable)
    entity_size: np.ndarray  # object (str, "" when missing)

    def __len__(self) -> int:
        return len(self.ids)

    def take(self, rows: np.ndarray) -> TermInputs:
        """The inputs of the rows ``rows`` (positions), in that order."""
        out = TermInputs(
            index=self.index[rows],
            **{f.name: getattr(self, f.name)[rows] for f in dataclasses.fields(self) if f.name != "index"},
        )
        if "us_series" in self.__dict__:  # read already: taken along
            out.__dict__["us_series"] = self.__dict__["us_series"][rows]
        return out

    @cached_property
    def us_series(self) -> np.ndarray:
        """:func:`us_series` of the rows (read once, on first use)."""
        return us_series(self.ids, self.jurisdiction)


def office_lookup(jurisdiction: np.ndarray, mapping: Mapping[str, object], default: object) -> np.ndarray:
    """``mapping[office]`` for every row's office (``default`` where the office is not a key).

    Each distinct office is looked up once (what ``Series.map(mapping).fillna(default)`` gives, without pandas).
    """
    offices, inverse = np.unique(np.asarray(jurisdiction, dtype=object).astype(str), return_inverse=True)
    values = np.array([mapping.get(o, default) for o in offices.tolist()], dtype=object)
    return values[inverse.reshape(-1)]


def as_frame(obj: object) -> tuple[pd.DataFrame, bool]:
    """Turn a frame, a :class:`Patent`, a row (Series) or a mapping into a frame; also say if it was one patent."""
    if isinstance(obj, pd.DataFrame):
        return obj, False
    if isinstance(obj, Patent):
        return patents_to_frame([obj]), True
    if isinstance(obj, pd.Series):
        row = obj.to_frame().T
        pid = obj.get("patent_id", obj.name)
        row.index = pd.Index([pid], name="patent_id")
        return row.infer_objects(), True
    if isinstance(obj, Mapping):
        return patents_to_frame([Patent(**obj)]), True
    raise TypeError(
        f"expected a portfolio DataFrame, a Patent, a row Series or a mapping, got {type(obj).__name__}"
    )


def term_inputs(frame: pd.DataFrame) -> TermInputs:
    """Read the term columns of a portfolio frame (missing columns read as missing values)."""
    n = len(frame)
    if "term_adjustment_days" in frame.columns:
        col = frame["term_adjustment_days"]
        if pd.api.types.is_numeric_dtype(col.dtype):  # numbers already: nothing to parse
            tad = col.to_numpy(dtype=float, na_value=np.nan)
            # a numpy column is missing exactly where NaN; an extension column says where itself
            given = ~np.isnan(tad) if isinstance(col.dtype, np.dtype) else col.notna().to_numpy()
        else:
            tad = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            given = col.notna().to_numpy()
        tad = np.where(given, tad, 0.0)  # missing means none; unreadable stays NaN and is reported
        tad = np.where(tad < 0, np.nan, tad)
    else:
        tad = np.zeros(n)
    status = texts(frame, "legal_status", lower=True)
    return TermInputs(
        index=frame.index,
        ids=patent_ids(frame),
        jurisdiction=texts(frame, "jurisdiction", upper=True),
        patent_type=texts(frame, "patent_type", lower=True),
        status=np.where(status == "", "granted", status).astype(object),
        status_given=status != "",
        filing=dates(frame, "filing_date", error=TermError),
        earliest=dates(frame, "earliest_filing_date", error=TermError),
        grant=dates(frame, "grant_date", error=TermError),
        override=dates(frame, "expiry_date", error=TermError),
        fees_paid_through=dates(frame, "fees_paid_through", error=TermError),
        adjustment_days=tad,
        entity_size=texts(frame, "entity_size", lower=True),
    )


def as_of_day(as_of: object) -> np.datetime64:
    """The valuation date as ``datetime64[D]``; it must be given explicitly."""
    if as_of is None:
        raise ValueError("as_of is required (an explicit valuation date, e.g. '2026-06-30')")
    if isinstance(as_of, dt.datetime):
        as_of = as_of.date()
    try:
        ts = pd.Timestamp(as_of)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"as_of is not a date: {as_of!r}") from exc
    if ts is pd.NaT:
        raise ValueError("as_of is missing (NaT)")
    return np.datetime64(ts.date(), "D")
