"""The shock axis of a revaluation: the stages' results of several shocks of one chunk stacked row-wise.

:func:`ipvalue.valuation.kernel.value_prepared_many` runs each shock's economics on its own, then the later
stages (methods, reconciliation, Monte Carlo range) once over the shocks' rows stacked, shock after shock. Every
per-row array of a stage's result is stacked; what is not per row (a flag, a table, a text) must be the same
for every shock.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ipvalue.valuation.notes import Notes, stack_notes

__all__ = ["stack_rows"]


def stack_rows(objs: Sequence[Any], n: int) -> Any:
    """The per-row parts of ``objs`` (one per shock, ``n`` rows each) stacked, shock after shock.

    numpy arrays whose first axis has ``n`` rows and pandas objects of ``n`` rows are concatenated; notes are
    stacked (:func:`ipvalue.valuation.notes.stack_notes`); dataclasses, dicts, lists and tuples part by part;
    anything else (a flag, a text, a table not by row) must be the same in every object and is kept once.

    Raises
    ------
    ValueError
        When a part that is not by row differs between the objects (it cannot be stacked).
    """
    first = objs[0]
    if isinstance(first, np.ndarray):
        if first.ndim >= 1 and first.shape[0] == n:
            return np.concatenate(objs)
        if all(o is first or np.array_equal(o, first, equal_nan=first.dtype.kind in "fc") for o in objs):
            return first
        raise ValueError(f"an array of shape {first.shape} that is not by row differs between the shocks")
    if isinstance(first, pd.DataFrame | pd.Series):
        if len(first) == n:
            return pd.concat(list(objs))
        if all(o is first or o.equals(first) for o in objs):
            return first
        raise ValueError("a table that is not by row differs between the shocks")
    if isinstance(first, Notes):
        return stack_notes(list(objs))
    if dataclasses.is_dataclass(first) and not isinstance(first, type):
        parts = {
            f.name: stack_rows([getattr(o, f.name) for o in objs], n)
            for f in dataclasses.fields(first)
            if f.init
        }
        return dataclasses.replace(first, **parts)
    if isinstance(first, dict):
        return {key: stack_rows([o[key] for o in objs], n) for key in first}
    if isinstance(first, list | tuple):
        return type(first)(stack_rows([o[i] for o in objs], n) for i in range(len(first)))
    if all(o is first or o == first for o in objs):
        return first
    raise ValueError(f"a {type(first).__name__} differs between the shocks")
