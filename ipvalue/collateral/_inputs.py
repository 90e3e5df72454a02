"""Reading and checking the valued frame the collateral engine works on."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from ipvalue.errors import InputError, Problem
from ipvalue.facts import columns
from ipvalue.facts.patent import LEGAL_STATUSES, PATENT_TYPES

__all__ = [
    "CollateralInputError",
    "REQUIRED_COLUMNS",
    "check_frame",
    "fx_rates",
    "fx_rates_of",
    "num",
    "flag",
]

#: columns the collateral engine cannot work without
REQUIRED_COLUMNS: tuple[str, ...] = ("patent_type", "legal_status", "value", "remaining_life_years")


class CollateralInputError(InputError):
    """Bad input to the collateral engine, naming the patent (when one is to blame) and the field."""

    def __init__(self, message: str, *, patent_id: str | None = None, field: str | None = None) -> None:
        prefix = (
            f"patent {patent_id}, field {field!r}: " if patent_id else (f"field {field!r}: " if field else "")
        )
        super().__init__([Problem(patent_id, field, prefix + message)])

    @property
    def patent_id(self) -> str | None:
        """The patent of the first problem (None for a whole-input problem)."""
        first = self.first
        return None if first is None else first.patent

    @property
    def field(self) -> str | None:
        """The field of the first problem."""
        first = self.first
        return None if first is None else first.field


def num(frame: pd.DataFrame, col: str, default: float = np.nan) -> np.ndarray:
    """A column as float64 (:func:`ipvalue.facts.columns.numbers` raising :class:`CollateralInputError`)."""
    return columns.numbers(frame, col, default=default, error=CollateralInputError)


def flag(frame: pd.DataFrame, col: str) -> np.ndarray:
    """A yes/no column as bool, a missing value (or column) read as False (:func:`ipvalue.facts.columns.flags`)."""
    return columns.flags(frame, col, error=CollateralInputError) == 1.0


def check_frame(valued: pd.DataFrame) -> pd.DataFrame:
    """Check the valued frame and return a copy indexed by ``patent_id`` (input order kept), without ``attrs``.

    Raises
    ------
    CollateralInputError
        Missing required columns, duplicate patents, negative or inconsistent values, unknown types or
        statuses, quality scores outside [0, 100]. The message names the patent and the field.
    """
    if not isinstance(valued, pd.DataFrame):
        raise CollateralInputError(f"expected a pandas DataFrame, got {type(valued).__name__}")
    frame = valued.copy(deep=False)  # copy-on-write: the caller's frame is never written to
    # the engine works without attrs: pandas deep-copies them on nearly every operation; assess_collateral
    # reads the valuation's record from the input once
    frame.attrs = {}
    if frame.index.name != "patent_id":
        if "patent_id" in frame.columns:
            frame = frame.set_index("patent_id", drop=False).rename_axis(index="patent_id")
        else:
            raise CollateralInputError("the frame has no patent_id index or column", field="patent_id")
    frame.index = frame.index.astype(str)
    if frame.index.hasnans or (frame.index == "").any():
        raise CollateralInputError("a row has no patent number", field="patent_id")
    columns.check_unique_ids(frame.index.to_numpy(dtype=object), error=CollateralInputError)
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise CollateralInputError(
            f"the valued frame lacks {', '.join(missing)}; run ipvalue.value_portfolio first",
            field=missing[0],
        )

    def first_bad(mask: np.ndarray, col: str, msg: str) -> None:
        if mask.any():
            i = int(np.flatnonzero(mask)[0])
            raise CollateralInputError(
                f"{msg}, got {frame[col].iloc[i]!r}", patent_id=str(frame.index[i]), field=col
            )

    for col in ("value", "value_p05", "value_p50", "value_p95", "remaining_life_years"):
        if col in frame.columns:
            v = num(frame, col)
            first_bad(v < 0, col, "must not be negative")
            first_bad(np.isinf(v), col, "must be finite")
    if {"value_p05", "value_p95"} <= set(frame.columns):
        p05, p95 = num(frame, "value_p05"), num(frame, "value_p95")
        first_bad(p05 > p95 * (1 + 1e-9) + 1e-9, "value_p05", "is above value_p95")
    for col in ("quality_legal", "quality_score"):
        if col in frame.columns:
            q = num(frame, col)
            first_bad((q < 0) | (q > 100), col, "must lie in [0, 100]")
    if "volatility" in frame.columns:
        first_bad(num(frame, "volatility") < 0, "volatility", "must not be negative")
    for col, allowed in (("patent_type", PATENT_TYPES), ("legal_status", LEGAL_STATUSES)):
        known = set(allowed)  # the column's text as text_series reads it (stripped, blank as missing)
        given = columns.text_values(frame, col).tolist()
        first_bad(
            np.array([v is not None and v not in known for v in given], dtype=bool),
            col,
            f"must be one of {', '.join(allowed)}",
        )
    return frame


def fx_rates(
    frame: pd.DataFrame, loan_currency: str, fx: Mapping[str, float] | None
) -> tuple[np.ndarray, np.ndarray]:
    """Rate into the loan currency per patent and the currency-mismatch mask.

    A patent valued in another currency needs ``fx[currency]`` = units of the loan currency per unit.
    A frame without a ``currency`` column is taken to be in the loan currency.
    """
    cur = columns.text_series(frame, "currency").str.upper().fillna(loan_currency)
    return fx_rates_of(cur.to_numpy(dtype=object), frame.index.to_numpy(dtype=object), loan_currency, fx)


def fx_rates_of(
    currencies: np.ndarray, ids: np.ndarray, loan_currency: str, fx: Mapping[str, float] | None
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`fx_rates` from the patents' currency codes (upper case, the loan's where missing) and ids."""
    cur = np.asarray(currencies, dtype=object)
    rates = np.ones(len(cur))
    mismatch = np.asarray(cur != loan_currency, dtype=bool)
    fx = {str(k).upper(): v for k, v in (fx or {}).items()}
    for code in dict.fromkeys(cur[mismatch].tolist()):
        rate = fx.get(code)
        if rate is None or not np.isfinite(rate) or rate <= 0:
            i = int(np.flatnonzero(cur == code)[0])
            raise CollateralInputError(
                f"valued in {code} but the loan is in {loan_currency}; pass fx={{'{code}': rate}} "
                f"({loan_currency} per {code})",
                patent_id=str(ids[i]),
                field="currency",
            )
        rates[cur == code] = float(rate)
    return rates, mismatch
