"""Reading the columns of a portfolio frame, once, for every stage.

Each stage (terms, quality, valuation, collateral, monitoring) reads the same kinds of columns: patent ids,
numbers, yes/no flags, text and dates. The readers here turn a column into a numpy array (or a Series) and, when a
value cannot be read, raise the caller's error class (a subclass of :class:`ipvalue.errors.InputError`) naming
every patent and the field, so that no value is ever silently coerced. A column that is absent reads as missing.

Also here: the duplicate-id check, the currency check of a run, the seed check and the input hash, each written
once for all stages.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import numbers as _numbers
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ipvalue.errors import InputError, Problem

__all__ = [
    "TRUE_WORDS",
    "FALSE_WORDS",
    "patent_ids",
    "numbers",
    "flags",
    "texts",
    "text_series",
    "text_values",
    "dates",
    "check_unique_ids",
    "run_currency",
    "check_seed",
    "as_date",
    "input_hash",
    "input_hash_reference",
    "is_dask_frame",
    "column_arrays",
    "column_arrays_reference",
    "ARROW_TEXT_ROWS",
    "same_values",
]

#: spellings read as yes / no in a flag column (compared after strip and lower case)
TRUE_WORDS = frozenset({"true", "1", "1.0", "yes", "y", "是", "有"})
FALSE_WORDS = frozenset({"false", "0", "0.0", "no", "n", "否", "无"})


def patent_ids(frame: pd.DataFrame) -> np.ndarray:
    """The patent id of every row as ``str`` in an object array.

    The ``patent_id`` column when the frame has one (a missing id falls back to the row's index label), the
    index otherwise.
    """
    index = _as_str(frame.index.to_numpy(dtype=object))
    if "patent_id" not in frame.columns:
        return index
    raw = frame["patent_id"].to_numpy(dtype=object)
    missing = pd.isna(raw)
    out = _as_str(raw)
    out[missing] = index[missing]
    return out


def _as_str(values: np.ndarray) -> np.ndarray:
    """``str(v)`` of every element of an object array, in a new object array (text as it is, without a call each)."""
    items = values.tolist()
    if set(map(type, items)) <= {str}:
        return np.array(items, dtype=object) if len(items) else np.array([], dtype=object)
    return np.array([str(v) for v in items], dtype=object)


def _bad_rows(
    error: type[InputError], ids: np.ndarray, col: str, rows: np.ndarray, values: pd.Series, what: str
) -> InputError:
    return error.from_problems(
        [Problem(str(ids[j]), col, f"patent {ids[j]}: field {col} {what}: {values.iloc[j]!r}") for j in rows]
    )


def numbers(
    frame: pd.DataFrame,
    col: str,
    *,
    ids: np.ndarray | None = None,
    default: float = np.nan,
    error: type[InputError] = InputError,
) -> np.ndarray:
    """A column as float64 (NaN where missing; ``default`` everywhere when the column is absent).

    Raises
    ------
    InputError (the class given as ``error``)
        Naming every patent whose value is not a number; blank text counts as missing.
    """
    if col not in frame.columns:
        return np.full(len(frame), default, dtype=float)
    s = frame[col]
    if pd.api.types.is_bool_dtype(s.dtype):
        return s.astype("float64").to_numpy(dtype=float, na_value=np.nan)
    if pd.api.types.is_numeric_dtype(s.dtype):
        return s.to_numpy(dtype=float, na_value=np.nan)
    coerced = pd.to_numeric(s, errors="coerce")
    given = s.notna().to_numpy() & (s.astype("object").astype(str).str.strip() != "").to_numpy()
    bad = coerced.isna().to_numpy() & given
    if bad.any():
        raise _bad_rows(
            error, patent_ids(frame) if ids is None else ids, col, np.flatnonzero(bad), s, "is not a number"
        )
    return coerced.to_numpy(dtype=float, na_value=np.nan)


def flags(
    frame: pd.DataFrame,
    col: str,
    *,
    ids: np.ndarray | None = None,
    error: type[InputError] = InputError,
) -> np.ndarray:
    """A yes/no column as float64: 1.0, 0.0, or NaN where missing (all NaN when the column is absent).

    Reads booleans, 1 / 0 and the words in :data:`TRUE_WORDS` / :data:`FALSE_WORDS` (true/false, yes/no, 是/否).
    Callers that read a missing flag as "no" compare with ``== 1.0``.

    Raises
    ------
    InputError (the class given as ``error``)
        Naming every patent whose value is neither yes nor no.
    """
    if col not in frame.columns:
        return np.full(len(frame), np.nan)
    s = frame[col]
    if pd.api.types.is_bool_dtype(s.dtype) or pd.api.types.is_numeric_dtype(s.dtype):
        out = s.to_numpy(dtype=float, na_value=np.nan)
        bad = ~np.isnan(out) & (out != 0.0) & (out != 1.0)
    else:
        codes, uniques = pd.factorize(s, use_na_sentinel=True)
        words = [str(v).strip().lower() for v in uniques]
        lut = np.array(
            [1.0 if w in TRUE_WORDS else 0.0 if w in FALSE_WORDS else -1.0 for w in words] + [np.nan],
            dtype=float,
        )
        out = lut[np.where(codes < 0, len(uniques), codes)]
        bad = out == -1.0
    if bad.any():
        raise _bad_rows(
            error,
            patent_ids(frame) if ids is None else ids,
            col,
            np.flatnonzero(bad),
            s,
            "must be true or false",
        )
    return out


def texts(frame: pd.DataFrame, col: str, *, lower: bool = False, upper: bool = False) -> np.ndarray:
    """A text column as stripped ``str`` in an object array, ``""`` where missing or when the column is absent.

    Each distinct value is processed once, so a million rows of a few categories cost little.
    """
    if col not in frame.columns:
        return np.full(len(frame), "", dtype=object)
    codes, uniques = pd.factorize(frame[col], use_na_sentinel=True)
    u = [str(v).strip() for v in uniques]
    if lower:
        u = [v.lower() for v in u]
    if upper:
        u = [v.upper() for v in u]
    lut = np.array([*u, ""], dtype=object)
    return lut[np.where(codes < 0, len(u), codes)]


def text_series(frame: pd.DataFrame, col: str) -> pd.Series:
    """A text column as a pandas ``string`` Series on the frame's index, ``<NA>`` where missing or blank."""
    if col not in frame.columns:
        return pd.Series(pd.NA, index=frame.index, dtype="string")
    st = frame[col].astype("string")
    arrow = getattr(st.array, "__arrow_array__", None)
    if st.dtype.storage != "pyarrow" or arrow is None:
        return st.str.strip().replace("", pd.NA)
    # what .str.strip().replace("", pd.NA) does on arrow-backed text, in two arrow kernels
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = pc.utf8_trim_whitespace(arrow())
    arr = pc.if_else(pc.equal(arr, pa.scalar("", arr.type)), pa.scalar(None, arr.type), arr)
    return pd.Series(type(st.array)(arr), index=st.index, name=st.name, copy=False)


def text_values(frame: pd.DataFrame, col: str) -> np.ndarray:
    """:func:`text_series` as an object array: the stripped ``str``, None where missing or blank.

    A column of Python text (object dtype, or pandas' ``str``/``string`` dtypes) is read value by value in Python:
    ``str.strip`` strips what arrow's ``utf8_trim_whitespace`` strips (every code point compared; tests hold
    the two equal), and None, NaN and ``pd.NA`` are missing, as ``astype("string")`` reads them. A column holding
    anything else (numbers, dates, a ``str`` subclass) takes :func:`text_series`, which writes them as pandas
    does. Below :data:`ARROW_TEXT_ROWS` rows only: reading a few dozen rows this way costs a few microseconds where
    the arrow route costs about 0.2 ms, but from about 2,000 rows on arrow is the faster (50,000 rows: 7.1 ms in
    Python, 3.8 ms through arrow).
    """
    if col not in frame.columns:
        return np.full(len(frame), None, dtype=object)
    s = frame[col]
    values = None
    if len(s) >= ARROW_TEXT_ROWS:
        pass  # a long column: arrow's kernels (text_series)
    elif s.dtype == object:
        values = s.to_numpy().tolist()
    elif isinstance(s.dtype, pd.StringDtype):
        values = s.to_numpy(dtype=object, na_value=None).tolist()
    if values is not None:
        out: list[str | None] = []
        for v in values:
            if type(v) is str:
                t = v.strip()
                out.append(t if t else None)
            elif v is None or v is pd.NA or (type(v) is float and v != v):
                out.append(None)
            else:  # another type: pandas writes it as text its own way
                break
        else:
            arr = np.empty(len(out), dtype=object)
            arr[:] = out
            return arr
    return text_series(frame, col).to_numpy(dtype=object, na_value=None)


def dates(
    frame: pd.DataFrame,
    col: str,
    *,
    ids: np.ndarray | None = None,
    error: type[InputError] = InputError,
) -> np.ndarray:
    """A date column as ``datetime64[D]`` (NaT where missing or when the column is absent).

    Raises
    ------
    InputError (the class given as ``error``)
        Naming every patent whose value is not a date.
    """
    if col not in frame.columns:
        return np.full(len(frame), np.datetime64("NaT"), dtype="datetime64[D]")
    s = frame[col]
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        return s.to_numpy(dtype="datetime64[D]")
    parsed = pd.to_datetime(s, errors="coerce", format="mixed")
    given = s.notna().to_numpy() & (s.astype("object").astype(str).str.strip() != "").to_numpy()
    bad = parsed.isna().to_numpy() & given
    if bad.any():
        raise _bad_rows(
            error, patent_ids(frame) if ids is None else ids, col, np.flatnonzero(bad), s, "is not a date"
        )
    return parsed.to_numpy(dtype="datetime64[D]")


def check_unique_ids(ids: np.ndarray, *, error: type[InputError] = InputError) -> None:
    """Raise naming every patent listed more than once (each repeat after the first)."""
    items = ids.tolist()
    if len(set(items)) == len(items) and set(map(type, items)) <= {str}:
        return  # all distinct (text compares as pandas compares it)
    dup = pd.Series(ids, dtype=object).duplicated().to_numpy()
    if dup.any():
        raise error.from_problems(
            [
                Problem(str(ids[j]), "patent_id", f"patent {ids[j]}: listed more than once")
                for j in np.flatnonzero(dup)
            ]
        )


def run_currency(first_seen: Mapping[str, str], default: str, *, error: type[InputError] = InputError) -> str:
    """The one currency of a run from ``{currency: first patent using it}``; ``default`` when none is given.

    Raises
    ------
    InputError (the class given as ``error``)
        When patents are given in more than one currency (naming the first patent of each other currency).
    """
    given = sorted(c for c in first_seen if c)
    if not given:
        return default
    if len(given) == 1:
        return given[0]
    first = given[0]
    raise error.from_problems(
        [
            Problem(
                first_seen[c],
                "currency",
                f"patent {first_seen[c]}: field currency {c!r} differs from the others in this run {given}; "
                "convert to one valuation currency first",
            )
            for c in given
            if c != first
        ]
    )


def check_seed(rng: Any) -> int:
    """The root seed as an ``int``; a result records it, so only an integer is accepted.

    Raises
    ------
    TypeError
        For anything but an integer (a bool, a float, a Generator...).
    """
    if isinstance(rng, bool | np.bool_) or not isinstance(rng, _numbers.Integral):
        raise TypeError(
            f"rng must be an integer seed (it is recorded in the result), got {type(rng).__name__}; "
            "per-patent streams are derived from it"
        )
    return int(rng)


def as_date(value: Any, name: str, *, error: type[InputError] = InputError) -> dt.date:
    """A ``datetime.date`` from a date, datetime, Timestamp or ISO text; ``name`` is the argument's name.

    Raises
    ------
    InputError (the class given as ``error``)
        For ``None`` or anything that is not a date.
    """
    if value is None:
        raise error.from_problems([Problem(None, name, f"{name} is required (a date)")])
    if isinstance(value, pd.Timestamp | dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip()[:10])
        except ValueError:
            pass
    raise error.from_problems([Problem(None, name, f"{name}: expected a date, got {value!r}")])


def _column_bytes(s: pd.Series) -> bytes:
    """One column in the canonical serialisation used by :func:`input_hash` (the reference, one pandas pass)."""
    dtype = s.dtype
    if pd.api.types.is_datetime64_any_dtype(dtype):
        v = s.to_numpy(dtype="datetime64[D]").astype("<i8")
        return b"date:" + v.tobytes()
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
        v = s.astype("float64").to_numpy(dtype=float, na_value=np.nan)
        return b"num:" + np.where(np.isnan(v), np.nan, v).astype("<f8").tobytes()
    o = s.astype("object")
    txt = o.where(o.notna(), "\x00").astype(str).to_numpy(dtype=object)
    return b"text:" + "\x1f".join(txt).encode("utf-8")


def _column_bytes_fast(values: Any, order: np.ndarray) -> bytes:
    """:func:`_column_bytes` of a column (its array, :func:`column_arrays`) in ``order``: the same bytes, on arrays.

    Plain numpy numbers, booleans and dates, pandas' nullable ``Int64`` / ``Float64`` / ``boolean``, and text
    (object or string columns of ``str``, dicts, lists... each written as ``str(value)``) are serialised here;
    anything else (time zones, categories, other extension dtypes, bytes) goes through :func:`_column_bytes`.
    A missing text is written as an empty string: that is what the reference writes (pandas' ``where`` turns
    the NUL it is given into ``""``, numpy dropping trailing NULs), and the recorded hashes must not move.
    """
    dtype = values.dtype
    if isinstance(values, np.ndarray) and dtype.kind in "biuf":
        v = values[order].astype(np.float64)
        return b"num:" + np.where(np.isnan(v), np.nan, v).astype("<f8").tobytes()
    if isinstance(values, np.ndarray) and dtype.kind == "M":
        return b"date:" + values.astype("datetime64[D]")[order].astype("<i8").tobytes()
    if isinstance(dtype, pd.Int64Dtype | pd.Float64Dtype | pd.BooleanDtype):
        v = values.to_numpy(dtype=float, na_value=np.nan)[order]
        return b"num:" + np.where(np.isnan(v), np.nan, v).astype("<f8").tobytes()
    if (isinstance(values, np.ndarray) and dtype.kind == "O") or isinstance(dtype, pd.StringDtype):
        joined = _text_bytes(values, order)
        if joined is not None:
            return b"text:" + joined
    return _column_bytes(pd.Series(values, dtype=dtype, copy=False).iloc[order])


#: from this many rows on, text is read and joined by pyarrow (below, its fixed cost per column is more than
#: Python's per value: :func:`text_values`, :func:`_text_bytes`)
ARROW_TEXT_ROWS = 2_000


def _text_bytes(values: Any, order: np.ndarray) -> bytes | None:
    """The joined text of :func:`_column_bytes_fast`, or None when a value is bytes (pandas decodes those).

    Arrow-backed text of :data:`ARROW_TEXT_ROWS` rows and more is joined by pyarrow (no Python string per
    cell); everything else in Python: an object column's cells are Python objects already, and ``str.join``
    writes their text in one pass (pyarrow would first copy every string into its own buffers).
    """
    dtype = values.dtype
    if len(order) >= ARROW_TEXT_ROWS and isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow":
        joined = _text_bytes_arrow(values, order)
        if joined is not None:
            return joined
    o = (values if isinstance(values, np.ndarray) else values.to_numpy(dtype=object))[order]
    items = o.tolist()
    types = set(map(type, items))
    if types <= {str}:  # nothing missing, nothing to convert
        return "\x1f".join(items).encode("utf-8")
    missing = pd.isna(o)
    if types <= _TEXT_TYPES:  # text and missing values only (a float only as NaN): missing written as ""
        filled = np.where(missing, "", o).tolist()
        if set(map(type, filled)) <= {str}:
            return "\x1f".join(filled).encode("utf-8")
    out = []
    for x, gone in zip(items, missing.tolist(), strict=True):
        if gone:
            out.append("")
        elif type(x) is str:
            out.append(x)
        elif isinstance(x, bytes | bytearray | memoryview):
            return None
        else:
            out.append(str(x))
    return "\x1f".join(out).encode("utf-8")


#: Python types of the elements of an object column of text with missing values (a float only as a missing
#: value, NaN; pandas' NA has its own type)
_TEXT_TYPES = frozenset({str, type(None), float, type(pd.NA)})


def _text_bytes_arrow(values: Any, order: np.ndarray) -> bytes | None:
    """:func:`_text_bytes` of arrow-backed text joined by pyarrow, or None to do it in Python.

    Missing values are written as ``""`` and the values joined by the unit separator in UTF-8 (arrow's
    ``binary_join``): the bytes the Python loop writes.
    """
    try:
        import pyarrow as pa
        import pyarrow.compute as pc
    except ImportError:  # pragma: no cover - pyarrow comes with pandas' string columns
        return None
    try:
        arr = values.__arrow_array__().take(pa.array(order))
        if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
            return None
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
        arr = pc.fill_null(arr, pa.scalar("", arr.type))
        large = pa.types.is_large_string(arr.type)
        bounds = pa.array([0, len(arr)], pa.int64() if large else pa.int32())
        one = (pa.LargeListArray if large else pa.ListArray).from_arrays(bounds, arr)
        joined = pc.binary_join(one, pa.scalar("\x1f", arr.type))[0]
    except (pa.ArrowException, TypeError, ValueError):  # not all text after all: the Python loop decides
        return None
    buf = joined.as_buffer()
    return b"" if buf is None else buf.to_pybytes()


def _known_text_bytes(values: Any, order: np.ndarray, cells: Any, texts: Any) -> bytes | None:
    """:func:`_column_bytes_fast` of an object column whose cells' ``str()`` is known, or None when it is not.

    ``cells`` and ``texts`` are objects and their texts: the column's bytes are written from ``texts`` when
    every cell of the column is one of those very objects (the same object, not an equal one), else None.
    """
    if not (isinstance(values, np.ndarray) and values.dtype.kind == "O") or len(cells) != len(texts):
        return None
    where = {id(c): k for k, c in enumerate(cells)}  # the cells are alive (held here): an id is one object
    idx = [where.get(id(x), -1) for x in values[order].tolist()]
    if -1 in idx:
        return None
    return b"text:" + "\x1f".join([texts[k] for k in idx]).encode("utf-8")


def _frame_hash(
    frame: pd.DataFrame, column_bytes: Any, *, arrays: bool, texts: Mapping[Any, Any] | None = None
) -> str:
    """The hash of :func:`input_hash`: ``column_bytes(column, order)`` for every column.

    Each column as its array (:func:`column_arrays`) when ``arrays``, else as a Series; ``texts`` as in
    :func:`input_hash` (arrays only).
    """
    if frame.attrs:  # pandas deep-copies attrs into every column it hands out: hash a view without them
        frame = frame.copy(deep=False)
        frame.attrs = {}
    idx = np.asarray(frame.index.astype(str), dtype=object)
    order = np.argsort(idx, kind="stable")
    h = hashlib.sha256()
    h.update(b"ipvalue-input-v1\x1e__index__\x1e" + "\x1f".join(idx[order]).encode("utf-8"))
    if arrays:
        names = list(frame.columns)
        values = column_arrays(frame)
        # sorted is stable: the columns in the order of sorted(frame.columns, key=str)
        for i in sorted(range(len(names)), key=lambda i: str(names[i])):
            h.update(b"\x1e" + str(names[i]).encode("utf-8") + b"\x1e")
            known = texts.get(names[i]) if texts else None
            written = None if known is None else _known_text_bytes(values[i], order, *known)
            h.update(column_bytes(values[i], order) if written is None else written)
        return h.hexdigest()
    for name in sorted(frame.columns, key=str):
        h.update(b"\x1e" + str(name).encode("utf-8") + b"\x1e")
        h.update(column_bytes(frame[name], order))
    return h.hexdigest()


def input_hash(frame: pd.DataFrame, *, texts: Mapping[Any, tuple[Any, Any]] | None = None) -> str:
    """SHA-256 of a canonical serialisation of the frame: the one hash of "the same input" in ipvalue.

    Rows are sorted by index (as text) and columns by name; then the index and every column are written in turn:
    the name, then numbers as little-endian float64 (one NaN pattern for every missing value), dates as int64 days,
    text as UTF-8 joined by the unit separator (missing as an empty string). Row and column order do not change the
    hash; any value does. Binary rather than CSV text so that a million-row portfolio hashes in about a second.

    ``texts``: by column name, ``(cells, their str() texts)`` already written by the caller (the assessment's
    ``haircut_basis``, written from the columns its dicts were made of); used for a column whose cells are
    those very objects, in any order, and ignored otherwise. The hash is the same with or without it.
    """
    return _frame_hash(frame, _column_bytes_fast, arrays=True, texts=texts)


def input_hash_reference(frame: pd.DataFrame) -> str:
    """:func:`input_hash` the straightforward way (a pandas pass per column); the tests hold the two equal."""
    return _frame_hash(frame, lambda s, order: _column_bytes(s.iloc[order]), arrays=False)


def is_dask_frame(obj: Any) -> bool:
    """Whether ``obj`` is a Dask DataFrame, without importing Dask."""
    mod = type(obj).__module__ or ""
    return mod.startswith(("dask.", "dask_expr")) and hasattr(obj, "to_delayed")


def column_arrays(frame: pd.DataFrame) -> list[Any]:
    """The frame's columns in order, each as its array (numpy for numpy dtypes, else pandas' extension array).

    Do not write to them.

    Read block by block (pandas' column iterator) rather than a Series per column (about 20 us each), which is
    what comparing two frames of a few dozen columns costs otherwise; the Series route is the fallback.
    """
    arrays = getattr(frame, "_iter_column_arrays", None)
    if arrays is not None:
        # numpy dtypes as numpy arrays (pandas hands out dates as its DatetimeArray over the same memory)
        out = [
            np.asarray(a) if isinstance(a.dtype, np.dtype) and not isinstance(a, np.ndarray) else a
            for a in arrays()
        ]
        if len(out) == frame.shape[1]:
            return out
    return column_arrays_reference(frame)


def column_arrays_reference(frame: pd.DataFrame) -> list[Any]:
    """:func:`column_arrays` one Series at a time (the reference the tests hold it to)."""
    out = []
    for i in range(frame.shape[1]):
        s = frame.iloc[:, i]
        out.append(s.to_numpy(copy=False) if isinstance(s.dtype, np.dtype) else s.array)
    return out


#: arrow types whose equality is exact (bytes): text and binary
_ARROW_BYTES = frozenset({"string", "large_string", "string_view", "binary", "large_binary", "binary_view"})


def same_values(x: Any, y: Any) -> bool:
    """Whether two column arrays have the same dtype and the same values to the last bit (in doubt: False).

    Numbers, booleans and dates compare bit for bit (so ``0.0`` and ``-0.0`` differ, two NaNs of one pattern do
    not); arrow-backed text compares as arrow arrays (bytes and missing positions); pandas' nullable numbers by
    their mask and their bits; anything else element by element as Python objects, as
    ``list(x) == list(y)`` (where a comparison cannot be decided, e.g. ``pd.NA`` against a value: False).
    """
    if x is y:
        return True
    if x.dtype != y.dtype or len(x) != len(y):
        return False
    if isinstance(x, np.ndarray) and isinstance(y, np.ndarray):
        if x.dtype.kind in "biufcmM":
            a, b = np.ascontiguousarray(x), np.ascontiguousarray(y)
            return bool(np.array_equal(a.view(np.uint8), b.view(np.uint8)))
        return _same_objects(x.tolist(), y.tolist())
    arrow = getattr(x, "__arrow_array__", None)
    if arrow is not None and hasattr(y, "__arrow_array__"):
        ax, ay = arrow(), y.__arrow_array__()
        if str(ax.type) in _ARROW_BYTES and ax.type == ay.type:
            return bool(ax.equals(ay))
    if isinstance(x.dtype, pd.Int64Dtype | pd.Float64Dtype | pd.BooleanDtype):
        fill = x.dtype.numpy_dtype.type(0)
        return bool(np.array_equal(np.asarray(x.isna()), np.asarray(y.isna()))) and same_values(
            x.to_numpy(dtype=x.dtype.numpy_dtype, na_value=fill),
            y.to_numpy(dtype=y.dtype.numpy_dtype, na_value=fill),
        )
    return _same_objects(list(x), list(y))


def _same_objects(x: list[Any], y: list[Any]) -> bool:
    try:
        return bool(x == y)
    except TypeError:  # pandas' NA against a value
        return False
