"""A small process-level cache of prepared valuation stages, keyed by a content hash of what they read.

:func:`ipvalue.value_portfolio` prepares the stages of a book that no rate moves (inputs read and checked, facts
at ``as_of`` with the quality scores, markets, renewal fees paid: :func:`ipvalue.valuation.kernel.prepare_stages`)
and the stress test of an assessment of the frame it returned needs the same stages again (its royalty,
discount-rate and economic-life shocks revalue from them). Rather than carrying them in ``DataFrame.attrs``
(pandas deep-copies ``attrs`` on every operation) or keeping them by object identity (a frame modified in
place would find stale stages), they are kept here under a digest of exactly the inputs they depend on: every
column of the frame (names, order, dtypes, values to the last bit), the index, the resolved assumptions and the
valuation date. A changed value anywhere misses; a hit returns stages that are the same to the last bit as the
ones a fresh preparation gives.

The cache is bounded (:data:`MAX_ENTRIES` books, :data:`MAX_ROWS` rows in all; a larger book is not kept), least
recently used first out, guarded by a lock (the service computes in threads), and its stages are read only: the
numpy arrays are flagged not writeable and every user gets its own Monte Carlo uniforms store and notes copy.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from ipvalue.facts.columns import column_arrays

__all__ = ["StagesCache", "stages_keys", "freeze", "MAX_ENTRIES", "MAX_ROWS"]

#: books kept at most
MAX_ENTRIES = 4
#: rows kept at most over all books (prepared stages take about 1 KB a row: 19 MB for 20,000 synthetic patents)
MAX_ROWS = 60_000

#: element types whose ``repr`` is their whole value (and differs between types: ``1``, ``1.0``, ``'1'``)
_PLAIN = frozenset({str, int, float, bool, type(None), dt.date, dt.datetime, pd.Timestamp, type(pd.NA)})


def _token(x: Any) -> str:
    """A text that differs for any two values a stage could tell apart (type included)."""
    t = type(x)
    if t in _PLAIN:
        return repr(x)
    if isinstance(x, np.ndarray):
        return f"ndarray({x.dtype.str},{x.shape},{np.ascontiguousarray(x).tobytes().hex()})"
    if isinstance(x, list | tuple):
        return f"{t.__name__}(" + ",".join(_token(v) for v in x) + ")"
    if isinstance(x, dict):
        return "dict(" + ",".join(f"{_token(k)}:{_token(v)}" for k, v in x.items()) + ")"
    # numpy scalars, NaT, anything else: the type and its repr (an object without a value repr never hits)
    return f"{t.__module__}.{t.__qualname__}:{x!r}"


def _values_bytes(values: Any, dtype: Any) -> bytes:
    """The bytes of one column's (or the index's) values: raw numbers, else a token per element."""
    if isinstance(dtype, np.dtype) and dtype.kind in "biufcmM":
        return np.ascontiguousarray(np.asarray(values, dtype=dtype)).tobytes()
    if isinstance(dtype, pd.StringDtype):
        # pandas' text: every value a str or missing; the missing rows, the lengths and the texts joined (the same
        # bytes for the same values only, without a repr per value)
        missing = pd.isna(values)
        texts = np.asarray(values, dtype=object)[~missing].tolist()
        lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
        return b"T" + missing.tobytes() + lengths.tobytes() + "".join(texts).encode("utf-8", "surrogatepass")
    items = np.asarray(values, dtype=object).tolist()
    if set(map(type, items)) <= _PLAIN:
        text = "\x1f".join(map(repr, items))
    else:
        text = "\x1f".join(map(_token, items))
    return text.encode("utf-8", "surrogatepass")


#: the one column whose dtype a valued frame changes (``value_portfolio`` writes the run's currency as text)
_TEXT_BY_VALUE = "currency"


def stages_keys(frame: pd.DataFrame, a: Any, day: dt.date, *, drop: Any = ()) -> tuple[str, str]:
    """Digests of a frame, the resolved assumptions and the valuation date: what the prepared stages read.

    Returns ``(book, exact)``. ``book`` takes the rows in index order and every column's name, position, dtype
    and values (numbers by their bytes, text and objects by a typed ``repr``), the index (values, dtype, names),
    the assumptions and ``day``; the ``currency`` column by its values only (the stages read it as text, and a
    valued frame carries it as ``str`` whatever its dtype was). ``exact`` adds the row order and that dtype:
    equal ``exact`` digests are the same input, equal ``book`` digests the same book in another row order
    (the stages are the same row by row: no stage depends on the row order, see
    :func:`ipvalue.valuation.economics.markets_stage`). ``frame.attrs`` goes in neither (no stage reads it).
    ``drop``: columns left out, the same digests as ``frame.drop(columns=...)``'s (the columns present).
    """
    if frame.attrs:  # pandas deep-copies attrs into every column it hands out: read a view without them
        frame = frame.copy(deep=False)
        frame.attrs = {}
    h = hashlib.blake2b(digest_size=32)

    def put(tag: str, data: bytes) -> None:
        h.update(tag.encode("utf-8") + b"\x1e" + len(data).to_bytes(8, "little") + data)

    names = frame.columns.tolist()  # a list (iterating pandas' text index goes name by name)
    left_out = set(drop) & set(names)
    kept = [(c, v) for c, v in zip(names, column_arrays(frame), strict=True) if c not in left_out]
    idx = frame.index
    try:
        order = np.asarray(idx.argsort(kind="stable"))
    except TypeError:  # an index pandas cannot sort: the rows as they are
        order = np.arange(len(idx))
    put("day", day.isoformat().encode())
    put("assumptions", _token(a).encode("utf-8", "surrogatepass"))
    put("shape", repr((frame.shape[0], len(kept))).encode())
    put(
        "index",
        f"{idx.dtype!r}|{_token(list(idx.names))}".encode() + _values_bytes(idx.to_numpy()[order], idx.dtype),
    )
    put("columns", _token([c for c, _ in kept]).encode("utf-8", "surrogatepass"))
    dtype_by_value = ""
    for name, arr in kept:
        dtype = arr.dtype
        # the column's values as Series.to_numpy gives them (numpy dtypes), or as objects (pandas' own arrays)
        values = (arr if isinstance(arr, np.ndarray) else arr.to_numpy(dtype=object))[order]
        if name == _TEXT_BY_VALUE and (dtype == np.dtype(object) or isinstance(dtype, pd.StringDtype)):
            dtype_by_value = repr(dtype)
            put("text", _values_bytes(values, np.dtype(object)))
        else:
            put(repr(dtype), _values_bytes(values, dtype))
    book = h.hexdigest()
    exact = hashlib.blake2b(
        book.encode() + order.astype("<i8").tobytes() + dtype_by_value.encode(), digest_size=32
    ).hexdigest()
    return book, exact


def freeze(obj: Any) -> None:
    """Flag every numpy array reachable from ``obj`` not writeable (dataclasses, dicts, lists, notes' pieces).

    pandas objects are left as they are (copy-on-write: nobody's change reaches another's frame).
    """
    seen: set[int] = set()
    stack = [obj]
    while stack:
        x = stack.pop()
        if id(x) in seen:
            continue
        seen.add(id(x))
        if isinstance(x, np.ndarray):
            x.setflags(write=False)  # an object array's elements (texts) are not walked: too many, immutable
        elif dataclasses.is_dataclass(x) and not isinstance(x, type):
            stack.extend(getattr(x, f.name) for f in dataclasses.fields(x))
        elif isinstance(x, dict):
            stack.extend(x.values())
        elif isinstance(x, list | tuple):
            stack.extend(x)
        elif hasattr(x, "pieces") and hasattr(x, "muted"):  # valuation Notes
            stack.append(x.muted)
            stack.extend(x.pieces)


class StagesCache:
    """Least recently used prepared stages by book digest (:func:`stages_keys`), within bounds.

    At most ``entries`` books and ``rows`` rows; each kept with the exact digest of the frame it was prepared
    from.

    Thread safe; the stages are frozen (:func:`freeze`) when kept.
    """

    def __init__(self, entries: int = MAX_ENTRIES, rows: int = MAX_ROWS) -> None:
        self.entries = entries
        self.rows = rows
        self._kept: OrderedDict[str, tuple[str, int, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, book: str, exact: str | None = None) -> Any | None:
        """The stages kept for ``book`` (now the most recently used), or None.

        With ``exact``: only those prepared from that very frame.
        """
        with self._lock:
            got = self._kept.get(book)
            if got is None or (exact is not None and got[0] != exact):
                self.misses += 1
                return None
            self._kept.move_to_end(book)
            self.hits += 1
            return got[2]

    def put(self, book: str, exact: str, n_rows: int, stages: Any) -> None:
        """Keep ``stages`` (of ``n_rows`` rows; frozen here) unless the book alone is larger than the bound."""
        if n_rows > self.rows or self.entries <= 0:
            return
        freeze(stages)
        with self._lock:
            self._kept[book] = (exact, n_rows, stages)
            self._kept.move_to_end(book)
            while len(self._kept) > self.entries or sum(n for _, n, _ in self._kept.values()) > self.rows:
                self._kept.popitem(last=False)

    def get_or_make(
        self, keys: tuple[str, str], n_rows: int, make: Callable[[], Any], *, same_rows: bool = True
    ) -> Any:
        """The stages for ``keys``, else ``make()``'s result, kept.

        ``same_rows``: only those of the very frame; else those of the book in any row order.
        """
        book, exact = keys
        got = self.get(book, exact if same_rows else None)
        if got is None:
            got = make()
            self.put(book, exact, n_rows, got)
        return got

    def clear(self) -> None:
        """Forget every book (and the hit and miss counts)."""
        with self._lock:
            self._kept.clear()
            self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._kept)
