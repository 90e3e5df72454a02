"""``str()`` of a column of dicts written from the columns they were made of: the same text, several times faster.

The input hash (:func:`ipvalue.facts.columns.input_hash`) writes an object column as ``str(value)`` per cell,
and an assessment's ``haircut_basis`` is a dict per patent (nested dicts of codes and figures): about 40
reprs per row, most of them the same in every row (codes, policy parameters). The code that makes those dicts
from per-row columns can also describe them once, as a *spec*: the same dict with a :class:`Column` where a
row's own value goes. :func:`spec_texts` writes the text of every row from the spec: each column's distinct
values are written once, the parts that are the same in every row are folded into one row template, and each
row is that template filled with its own texts. The text is exactly what ``str()`` writes (``repr`` of each
key and value, ``", "`` and ``": "`` between them): only plain ``str``, ``float``, ``int``, ``bool`` and
``None`` values, lists of them and nested dicts with ``str`` keys are written here; anything else gives None
(the caller then writes ``str()`` of each dict).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["Column", "spec_texts"]

#: values written by their own ``repr`` (exact types: subclasses such as numpy's float64 are not written here)
_SCALARS = frozenset({str, float, int, bool, type(None)})
#: the numeric types that compare equal across types (``1 == 1.0 == True``): never looked up together
_NUMERIC = frozenset({int, float, bool})


class Column:
    """In a spec of :func:`spec_texts`: one value per row (the values the dicts hold, in row order)."""

    __slots__ = ("values",)

    def __init__(self, values: Sequence[Any]) -> None:
        self.values = values

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Column) and list(self.values) == list(other.values)

    __hash__ = None  # type: ignore[assignment]  # mutable values: not hashable

    def __repr__(self) -> str:
        return f"Column({list(self.values)!r})"


def spec_texts(spec: dict[str, Any], n: int) -> list[str] | None:
    """``str(d)`` of the ``n`` dicts that ``spec`` describes, row by row; None when a value is not plain.

    Parameters
    ----------
    spec : dict
        The rows' dict with a :class:`Column` (``n`` values) wherever the rows differ; a nested ``dict`` is a
        nested spec; any other value is the same in every row.
    n : int
        Rows.

    Returns
    -------
    list of str or None
        Each row's text, character for character as ``str()`` writes the row's dict; None when a key is not
        ``str``, a column has not ``n`` values, or a value is not a plain scalar (or a list of them).
    """
    if n == 0:
        return []
    made = _template(spec, n)
    if made is None:
        return None
    template, cols = made
    if not cols:
        return [template % ()] * n
    return list(map(template.__mod__, zip(*cols, strict=True)))


def _escape(text: str) -> str:
    return text.replace("%", "%%")


def _template(spec: dict[str, Any], n: int) -> tuple[str, list[list[str]]] | None:
    """A row template (``%`` syntax) of a spec and the texts of its columns, in template order."""
    pieces: list[str] = []
    cols: list[list[str]] = []
    for key, value in spec.items():
        if type(key) is not str:
            return None
        head = _escape(repr(key)) + ": "
        if type(value) is dict:
            sub = _template(value, n)
            if sub is None:
                return None
            pieces.append(head + sub[0])
            cols.extend(sub[1])
            continue
        if isinstance(value, Column):
            if len(value.values) != n:
                return None
            texts = _column_texts(list(value.values))
        else:
            texts = _column_texts([value])
            texts = texts if texts is None or isinstance(texts, str) else texts[0]
        if texts is None:
            return None
        if isinstance(texts, str):  # the same text in every row
            pieces.append(head + _escape(texts))
        else:
            pieces.append(head + "%s")
            cols.append(texts)
    return "{" + ", ".join(pieces) + "}", cols


def _column_texts(col: list[Any]) -> str | list[str] | None:
    """``repr`` of every value of a column (one ``str`` when it is the same in every row), or None."""
    if not col:
        return []
    types = set(map(type, col))
    if types == {list}:
        return _list_texts(col)
    if not types <= _SCALARS:
        return None
    if len(types & _NUMERIC) > 1:  # 1, 1.0 and True are equal and written differently: one by one
        return list(map(repr, col))
    first = col[0]
    if col.count(first) == len(col) and not (type(first) is float and first == 0.0):
        return repr(first)  # every value equal to the first, of its type (a float's zero has two texts)
    distinct = set(col)
    if 2 * len(distinct) > len(col):  # mostly distinct values: each written on its own
        return list(map(repr, col))
    lut = {v: repr(v) for v in distinct}
    if float in types and 0.0 in distinct:
        # 0.0 and -0.0 are one key: the column's zero as it is written, or every value on its own when it has both
        values = np.array(col, dtype=float)  # None as NaN
        signs = set(np.signbit(values[values == 0.0]).tolist())
        if len(signs) > 1:
            return list(map(repr, col))
        lut[0.0] = "-0.0" if signs == {True} else "0.0"
    if len(lut) == 1:
        return next(iter(lut.values()))
    return list(map(lut.__getitem__, col))


def _list_texts(col: list[list[Any]]) -> str | list[str] | None:
    """``repr`` of every value of a column of lists of plain scalars (lists of text written once each)."""
    inner = {type(x) for cell in col for x in cell}
    if not inner <= _SCALARS:
        return None
    if not inner <= {str}:
        return list(map(repr, col))
    keyed = list(map(tuple, col))
    lut = {k: repr(list(k)) for k in set(keyed)}
    if len(lut) == 1:
        return next(iter(lut.values()))
    return list(map(lut.__getitem__, keyed))
