"""JSON forms of frames and assessment results, and back."""

from __future__ import annotations

import datetime as dt
import io
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ipvalue.report.explain import with_texts

__all__ = [
    "to_jsonable",
    "frame_records",
    "assessment_to_json",
    "assessment_from_json",
    "valued_to_json",
    "draws_to_bytes",
    "draws_from_bytes",
    "records_to_frame",
]


def to_jsonable(obj: Any) -> Any:
    """Plain JSON values: NaN, inf, NaT and NA become ``None``; dates ISO text; numpy scalars Python ones."""
    t = type(obj)  # the plain JSON types first, by exact type (their subclasses take the checks below)
    if t is str or t is int or t is bool or obj is None:
        return obj
    if t is float:
        return obj if math.isfinite(obj) else None
    if t is dict:
        return {k if type(k) is str else str(k): to_jsonable(v) for k, v in obj.items()}
    if t is list:
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, (int, np.integer)) and not isinstance(obj, np.bool_):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, (float, np.floating)):
        f = float(obj)
        return f if math.isfinite(f) else None
    if obj is pd.NaT or obj is pd.NA:
        return None
    if isinstance(obj, pd.Timestamp):
        if obj.tzinfo is None and obj == obj.normalize():
            return obj.date().isoformat()
        return obj.isoformat()
    if isinstance(obj, (dt.date, dt.datetime)):
        return obj.isoformat()
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [to_jsonable(v) for v in obj.tolist()]
    if isinstance(obj, pd.DataFrame):
        return frame_records(obj)
    if isinstance(obj, pd.Series):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "to_dict"):
        return to_jsonable(obj.to_dict())
    try:
        if pd.isna(obj):
            return None
    except (TypeError, ValueError):
        pass
    return str(obj)


def frame_records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of ``df`` as JSON objects (the index is dropped when it is also a column, else kept as one)."""
    if df.index.name is not None and df.index.name not in df.columns:
        df = df.reset_index()
    else:
        df = df.reset_index(drop=True)
    keys = [str(k) for k in df.columns]
    columns = _columns_json(df)
    return (
        [dict(zip(keys, row, strict=True)) for row in zip(*columns, strict=True)]
        if keys
        else [{} for _ in range(len(df))]
    )


def _columns_json(df: pd.DataFrame) -> list[list[Any]]:
    """Every column of ``df`` as :func:`to_jsonable` values, in order, a column at a time.

    The columns' arrays are taken from the frame as pandas holds them (``DataFrame._get_column_array``, what a
    column's Series wraps: no Series made per column, a wide result has 75 of them); a pandas without it gives
    the Series (``DataFrame.items``).
    """
    get = getattr(df, "_get_column_array", None)
    if get is None:  # pragma: no cover - pandas 1.3 to 3.x have it
        return [_values_json(col.array) for _, col in df.items()]
    return [_values_json(get(i)) for i in range(df.shape[1])]


def _at_midnight(stamps: np.ndarray) -> bool:
    """Whether every timezone-naive stamp (NaT aside) is a day."""
    return bool(((stamps == stamps.astype("datetime64[D]")) | np.isnat(stamps)).all())


def _values_json(values: Any) -> list[Any]:
    """A column's array (numpy or pandas) as :func:`to_jsonable` values: what ``Series.tolist()`` holds, written."""
    if isinstance(values, pd.arrays.NumpyExtensionArray):
        values = values.to_numpy()
    dtype = values.dtype
    if isinstance(dtype, np.dtype):
        if dtype.kind in ("i", "u", "b", "f", "O"):
            return _array_json(values)
        if dtype.kind == "M":  # timezone-naive stamps (numpy's or pandas' DatetimeArray)
            stamps = np.asarray(values)
            if _at_midnight(stamps):
                return _array_json(stamps)
        if isinstance(values, np.ndarray):  # other numpy kinds: the scalars a Series gives (Timedelta...)
            values = pd.array(values)
    # pandas' own dtypes, stamps with a time of day: their tolist() (Timestamps, NA...) as to_jsonable writes them
    return [v if type(v) is str or v is None else to_jsonable(v) for v in values.tolist()]


def _array_json(values: np.ndarray) -> list[Any]:
    """A column's numpy array as :func:`to_jsonable` values (datetimes: days, as :func:`_at_midnight` says)."""
    kind = values.dtype.kind
    if kind in ("i", "u", "b"):  # numpy integers and booleans: tolist() gives Python ints and bools already
        return values.tolist()
    if kind == "f":
        out = values.tolist()
        finite = np.isfinite(values)
        return out if finite.all() else [v if ok else None for v, ok in zip(out, finite, strict=True)]
    if kind == "M":  # timezone-naive days: ISO text
        missing = np.isnat(values)
        text = np.datetime_as_string(values.astype("datetime64[D]"), unit="D").tolist()
        return [None if m else d for d, m in zip(text, missing, strict=True)] if missing.any() else text
    # texts and blanks (most values of an object column) as they are, without a call each; the rest as
    # to_jsonable writes them
    return [v if type(v) is str or v is None else to_jsonable(v) for v in values.tolist()]


def records_to_frame(records: list[dict[str, Any]], *, index: str | None = None) -> pd.DataFrame:
    """Inverse of :func:`frame_records` for the portfolio columns: dates back to ``datetime64``, counts ``Int64``."""
    from ipvalue.facts.patent import COLUMN_KINDS

    df = pd.DataFrame.from_records(records)
    for col, kind in COLUMN_KINDS.items():
        if col not in df.columns:
            continue
        if kind == "date":
            df[col] = pd.to_datetime(df[col], errors="raise")
        elif kind == "int":
            df[col] = pd.array(df[col].tolist(), dtype="Int64")
        elif kind == "float":
            df[col] = pd.to_numeric(df[col], errors="raise").astype(float)
        elif kind == "bool":
            df[col] = df[col].astype("boolean").fillna(False).astype(bool)
    if index and index in df.columns:
        df = df.set_index(index, drop=False).rename_axis(index=index)
    return df


def draws_to_bytes(draws: np.ndarray | None) -> bytes | None:
    """The Monte Carlo draws as ``.npy`` bytes (no pickle)."""
    if draws is None:
        return None
    buf = io.BytesIO()
    np.save(buf, np.asarray(draws, dtype=float), allow_pickle=False)
    return buf.getvalue()


def draws_from_bytes(data: bytes | None) -> np.ndarray:
    """Inverse of :func:`draws_to_bytes` (an empty array when nothing was stored)."""
    if not data:
        return np.empty(0)
    return np.load(io.BytesIO(data), allow_pickle=False)


def valued_to_json(valued: pd.DataFrame) -> dict[str, Any]:
    """A valued portfolio frame (``value_portfolio``'s result) as JSON: ``patents`` rows and ``attrs``."""
    attrs = valued.attrs.get("ipvalue", {}) if hasattr(valued, "attrs") else {}
    return {"patents": frame_records(valued), "valuation": to_jsonable(attrs)}


def assessment_to_json(a: Any) -> dict[str, Any]:
    """A :class:`~ipvalue.CollateralAssessment` as JSON (the draws go to :func:`draws_to_bytes` instead).

    The patents and the liquidation scenarios carry both the engine's ``haircut_basis`` / ``basis`` (codes and
    numbers) and their wording in English and Chinese (``haircut_explanation`` / ``haircut_explanation_zh``,
    ``description`` / ``description_zh``), as the service returned them before the basis existed.
    """
    a = with_texts(a)
    return {
        "summary": to_jsonable(dict(a.summary)),
        "patents": frame_records(a.patents),
        "liquidation": frame_records(a.liquidation),
        "stress": frame_records(a.stress),
        "loan": to_jsonable(a.loan.to_dict()),
        "policy": to_jsonable(a.policy),
        "assumptions": frame_records(a.assumptions)
        if isinstance(a.assumptions, pd.DataFrame)
        else to_jsonable(a.assumptions),
        "audit": to_jsonable(a.audit),
    }


def loan_from_json(d: dict[str, Any]) -> Any:
    """Rebuild a :class:`~ipvalue.Loan` from its JSON form (``None`` caps read as uncapped)."""
    from ipvalue.collateral._assessment import Loan, RiskSharing

    d = dict(d)
    rs = dict(d.pop("risk_sharing", None) or {})
    for k in list(rs):
        if k.endswith("_cap") and rs[k] is None:
            rs[k] = float("inf")
    if d.get("start_date"):
        d["start_date"] = dt.date.fromisoformat(d["start_date"])
    known = set(Loan.__dataclass_fields__)
    return Loan(**{k: v for k, v in d.items() if k in known}, risk_sharing=RiskSharing(**rs))


_TEXT_SUMMARY_KEYS = ("currency", "as_of", "policy", "flags", "seed")


def assessment_from_json(d: dict[str, Any], draws: bytes | None = None) -> Any:
    """Rebuild a :class:`~ipvalue.CollateralAssessment` from :func:`assessment_to_json` (for the report writers)."""
    from ipvalue.collateral._assessment import CollateralAssessment

    assumptions = d.get("assumptions")
    summary = {
        k: (float("nan") if v is None and k not in _TEXT_SUMMARY_KEYS else v)
        for k, v in (d.get("summary") or {}).items()
    }
    return CollateralAssessment(
        patents=records_to_frame(d.get("patents") or [], index="patent_id"),
        summary=summary,
        liquidation=pd.DataFrame.from_records(d.get("liquidation") or []),
        stress=pd.DataFrame.from_records(d.get("stress") or []),
        recovery_draws=draws_from_bytes(draws),
        loan=loan_from_json(d["loan"]),
        policy=dict(d.get("policy") or {}),
        assumptions=pd.DataFrame.from_records(assumptions)
        if isinstance(assumptions, list)
        else pd.DataFrame(columns=["name", "value", "source"]),
        audit=dict(d.get("audit") or {}),
    )
