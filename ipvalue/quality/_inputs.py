"""Reading and checking the portfolio columns the quality indicators use."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ipvalue.errors import InputError, Problem
from ipvalue.facts.columns import patent_ids
from ipvalue.facts.patent import LEGAL_STATUSES, PATENT_TYPES

__all__ = ["QualityInputError", "Inputs"]

COUNT_COLUMNS: tuple[str, ...] = (
    "claims",
    "independent_claims",
    "forward_citations",
    "backward_citations",
    "family_size",
)
BOOL_COLUMNS: tuple[str, ...] = (
    "invalidation_pending",
    "invalidation_survived",
    "in_litigation",
    "licensed",
    "commercialized",
)
DATE_COLUMNS: tuple[str, ...] = ("filing_date", "priority_date", "fees_paid_through", "expiry_date")
SHARE_COLUMNS: tuple[str, ...] = ("generality", "originality")


class QualityInputError(InputError):
    """Bad input for the quality score; ``field`` and ``patent_ids`` say where."""

    def __init__(self, field_name: str, patent_ids: list[str], problem: str) -> None:
        shown = ", ".join(patent_ids[:5]) + (
            f" and {len(patent_ids) - 5} more" if len(patent_ids) > 5 else ""
        )
        message = f"patent {shown}: field {field_name!r}: {problem}"
        problems = [
            Problem(str(p), field_name, f"patent {p}: field {field_name!r}: {problem}") for p in patent_ids
        ]
        super().__init__(problems or [Problem(None, field_name, message)], message=message)
        self.field = field_name
        self.problem = problem


@dataclass
class Inputs:
    """Checked input columns as numpy arrays (NaN / NaT / None for missing).

    ``invalid`` maps a field name to a boolean mask of rows whose value was refused (only filled when the caller
    asked for bad values to be treated as missing instead of raising).
    """

    frame: pd.DataFrame
    n: int
    num: dict[str, np.ndarray] = field(default_factory=dict)
    flags: dict[str, np.ndarray] = field(default_factory=dict)  # float arrays: 1.0, 0.0 or NaN
    dates: dict[str, np.ndarray] = field(default_factory=dict)  # datetime64[ns]
    text: dict[str, pd.Series] = field(default_factory=dict)
    invalid: dict[str, np.ndarray] = field(default_factory=dict)

    def ids_at(self, mask: np.ndarray) -> list[str]:
        """Patent ids of the rows selected by ``mask`` (built only when an error is reported)."""
        sub = self.frame.loc[mask] if len(mask) == len(self.frame) else self.frame.iloc[:0]
        return [str(i) for i in patent_ids(sub)]


class _Checker:
    def __init__(self, frame: pd.DataFrame, errors: str) -> None:
        self.frame = frame
        self.errors = errors
        self.out = Inputs(frame=frame, n=len(frame))

    def bad(self, name: str, mask: np.ndarray, problem: str) -> None:
        if not mask.any():
            return
        if self.errors == "raise":
            raise QualityInputError(name, self.out.ids_at(mask), problem)
        prev = self.out.invalid.get(name)
        self.out.invalid[name] = mask if prev is None else (prev | mask)

    def numeric(self, name: str, *, low: float | None, high: float | None, what: str) -> np.ndarray | None:
        if name not in self.frame.columns:
            return None
        col = self.frame[name]
        if pd.api.types.is_bool_dtype(col.dtype):
            self.bad(name, np.ones(len(col), dtype=bool), f"expected {what}, got booleans")
            return np.full(len(col), np.nan)
        if pd.api.types.is_numeric_dtype(col.dtype):
            return self.numbers(
                name, col.to_numpy(dtype=float, na_value=np.nan), low=low, high=high, what=what
            )
        parsed = pd.to_numeric(col.astype(object).where(col.notna(), None), errors="coerce")
        arr = parsed.to_numpy(dtype=float, na_value=np.nan)
        bad_type = np.isnan(arr) & col.notna().to_numpy(dtype=bool)
        self.bad(name, bad_type, f"expected {what}, got text that is not a number")
        return self.numbers(name, arr, low=low, high=high, what=what, bad_type=bad_type)

    def numbers(
        self,
        name: str,
        arr: np.ndarray,
        *,
        low: float | None,
        high: float | None,
        what: str,
        bad_type: np.ndarray | None = None,
    ) -> np.ndarray:
        """Check the float values ``arr`` of field ``name`` (finite, within bounds); NaN where refused."""
        if bad_type is None:
            bad_type = np.zeros(len(arr), dtype=bool)
        finite = np.isfinite(arr) | np.isnan(arr)
        self.bad(name, ~finite, f"expected {what}, got an infinite value")
        invalid = ~finite | bad_type
        with np.errstate(invalid="ignore"):
            if low is not None:
                m = arr < low
                self.bad(name, m, f"{what} must be >= {low:g}, got {_show(arr[m])}")
                invalid |= m
            if high is not None:
                m = arr > high
                self.bad(name, m, f"{what} must be <= {high:g}, got {_show(arr[m])}")
                invalid |= m
        arr = np.where(invalid, np.nan, arr)
        return arr

    def flag(self, name: str) -> np.ndarray | None:
        if name not in self.frame.columns:
            return None
        col = self.frame[name]
        if pd.api.types.is_bool_dtype(col.dtype):
            return col.to_numpy(dtype=float, na_value=np.nan)
        vals = col.astype(object).to_numpy()
        out = np.full(len(vals), np.nan)
        is_true = np.array([v is True or (isinstance(v, np.bool_) and bool(v)) for v in vals], dtype=bool)
        is_false = np.array(
            [v is False or (isinstance(v, np.bool_) and not bool(v)) for v in vals], dtype=bool
        )
        out[is_true] = 1.0
        out[is_false] = 0.0
        unknown = ~(is_true | is_false) & ~pd.isna(vals)
        self.bad(name, unknown, f"expected True/False, got {_show(vals[unknown])}")
        return out

    def date(self, name: str) -> np.ndarray | None:
        if name not in self.frame.columns:
            return None
        col = self.frame[name]
        if pd.api.types.is_datetime64_any_dtype(col.dtype):
            # a numpy datetime64 column has no zone (no .dt accessor built for it)
            if not isinstance(col.dtype, np.dtype) and getattr(col.dt, "tz", None) is not None:
                col = col.dt.tz_localize(None)
            return col.to_numpy(dtype="datetime64[ns]")
        parsed = pd.to_datetime(
            col.astype(object).where(col.notna(), None), errors="coerce", format="ISO8601"
        )
        bad = parsed.isna().to_numpy(dtype=bool) & col.notna().to_numpy(dtype=bool)
        self.bad(name, bad, f"expected a date, got {_show(col.to_numpy(dtype=object)[bad])}")
        return parsed.to_numpy(dtype="datetime64[ns]")

    def category(self, name: str, allowed: tuple[str, ...]) -> pd.Series | None:
        if name not in self.frame.columns:
            return None
        col = self.frame[name]
        codes, uniques = pd.factorize(col, use_na_sentinel=True)  # checks run once per distinct value
        uniq = np.asarray(uniques, dtype=object)
        ok_u = np.array([isinstance(u, str) and u in allowed for u in uniq], dtype=bool)
        bad = (codes >= 0) & ~np.append(ok_u, True)[codes]
        self.bad(name, bad, f"expected one of {list(allowed)}, got {_show(uniq[codes[bad]])}")
        values = np.append(np.where(ok_u, uniq, np.array(None)), np.array([None])).astype(object)
        return pd.Series(values[codes], dtype=object)


def _show(values: np.ndarray, k: int = 3) -> str:
    vals = list(values[:k])
    return ", ".join(repr(v.item() if isinstance(v, np.generic) else v) for v in vals) + (
        " ..." if len(values) > k else ""
    )


def read_inputs(
    frame: pd.DataFrame,
    *,
    expert_columns: dict[str, str],
    remaining_life_years: object = None,
    errors: str = "raise",
) -> Inputs:
    """Check and extract every column the indicators use.

    Parameters
    ----------
    frame : DataFrame
        Portfolio frame (see :mod:`ipvalue.facts.patent`).
    expert_columns : dict
        ``{leaf: column}`` of expert scores (0-10).
    remaining_life_years : array-like, optional
        Remaining life in years, aligned with ``frame`` (overrides any column of that name).
    errors : {"raise", "missing"}
        ``"raise"``: the first bad field raises :class:`QualityInputError` naming the patents and the field.
        ``"missing"``: bad values are dropped (treated as missing) and recorded in ``Inputs.invalid``.
    """
    if errors not in ("raise", "missing"):
        raise ValueError(f"errors must be 'raise' or 'missing', got {errors!r}")
    ck = _Checker(frame, errors)
    out = ck.out
    for name in COUNT_COLUMNS:
        arr = ck.numeric(name, low=1.0 if name == "family_size" else 0.0, high=None, what="a count")
        if arr is not None:
            frac = np.isfinite(arr) & (arr != np.round(arr))
            ck.bad(name, frac, f"a count must be a whole number, got {_show(arr[frac])}")
            out.num[name] = np.where(frac, np.nan, arr)
    c, ic = out.num.get("claims"), out.num.get("independent_claims")
    if c is not None and ic is not None:
        with np.errstate(invalid="ignore"):
            m = ic > c
        ck.bad("independent_claims", m, "more independent claims than claims")
        out.num["independent_claims"] = np.where(m, np.nan, ic)
    for name in SHARE_COLUMNS:
        arr = ck.numeric(name, low=0.0, high=1.0, what="a share in [0, 1]")
        if arr is not None:
            out.num[name] = arr
    for leaf, name in expert_columns.items():
        arr = ck.numeric(name, low=0.0, high=10.0, what="an expert score on the 0-10 scale")
        if arr is not None:
            out.num[leaf] = arr
    if remaining_life_years is not None:
        rl = np.asarray(remaining_life_years, dtype=float)
        if rl.shape != (len(frame),):
            raise ValueError(
                f"remaining_life_years has shape {rl.shape}, expected ({len(frame)},) to match the portfolio"
            )
        sub = _Checker(frame, errors)  # the frame's own column of that name is not read
        arr = sub.numbers("remaining_life_years", rl, low=0.0, high=None, what="a number of years")
        out.invalid.update(sub.out.invalid)
        out.num["remaining_life_years"] = arr
    else:
        arr = ck.numeric("remaining_life_years", low=0.0, high=None, what="a number of years")
        if arr is not None:
            out.num["remaining_life_years"] = arr
    tad = ck.numeric("term_adjustment_days", low=0.0, high=None, what="a number of days")
    if tad is not None:
        out.num["term_adjustment_days"] = tad
    for name in BOOL_COLUMNS:
        arr = ck.flag(name)
        if arr is not None:
            out.flags[name] = arr
    for name in DATE_COLUMNS:
        arr = ck.date(name)
        if arr is not None:
            out.dates[name] = arr
    status = ck.category("legal_status", LEGAL_STATUSES)
    if status is not None:
        out.text["legal_status"] = status
    ptype = ck.category("patent_type", PATENT_TYPES)
    if ptype is not None:
        out.text["patent_type"] = ptype
    for name in (
        "jurisdiction",
        "cpc",
        "family_jurisdictions",
        "forward_citation_classes",
        "backward_citation_classes",
    ):
        if name in frame.columns:
            col = frame[name]
            if not (pd.api.types.is_string_dtype(col.dtype) or col.dtype == object):
                ck.bad(name, col.notna().to_numpy(dtype=bool), f"expected text, got dtype {col.dtype}")
                continue
            vals = col.to_numpy(dtype=object)
            if col.dtype != object or pd.api.types.infer_dtype(vals, skipna=True) in ("string", "empty"):
                # only text or missing (a pandas string dtype, or an object column found so in one C pass)
                out.text[name] = pd.Series(np.where(pd.isna(vals), None, vals), dtype=object)
                continue
            s = pd.Series(vals, dtype=object)
            nonstr = ~s.map(lambda v: isinstance(v, str) or v is None, na_action="ignore").fillna(
                True
            ).astype(bool)
            ck.bad(name, nonstr.to_numpy(dtype=bool), f"expected text, got {_show(s[nonstr].to_numpy())}")
            out.text[name] = s.where(~nonstr & s.notna(), None)
    return out
