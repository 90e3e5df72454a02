"""The per-chunk valuation: the one pure function every backend runs, and the provenance a result records."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

import pandas as pd

from ipvalue._version import __version__
from ipvalue.valuation.portfolio import value_frame

__all__ = ["value_chunk", "provenance"]


def value_chunk(
    chunk: pd.DataFrame,
    *,
    a: Mapping[str, Any],
    as_of: dt.date,
    seed: int,
    currency: str | None,
    cohort: Mapping[str, pd.DataFrame] | None,
    attrs: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Value one chunk of a book (the same function on every backend).

    Parameters
    ----------
    chunk : pandas.DataFrame
        Rows of the portfolio; every row of a ``group`` is in the chunk.
    a : mapping
        The resolved assumptions.
    as_of : datetime.date
        Valuation date.
    seed : int
        Root seed of the per-patent streams.
    currency : str or None
        The book's currency (None: from the chunk itself).
    cohort : mapping of str to DataFrame, or None
        The book's quality cohort caps (None: from the chunk itself).
    attrs : mapping, optional
        Set as the result's ``attrs``.

    Returns
    -------
    pandas.DataFrame
        The chunk with the valuation columns and ``currency``.
    """
    out = value_frame(
        chunk, dict(a), as_of, seed, currency=currency, cohort=None if cohort is None else dict(cohort)
    )
    if attrs is not None:
        out.attrs = dict(attrs)
    return out


def provenance(a: Mapping[str, Any], day: dt.date, seed: int, in_hash: str | None) -> dict[str, Any]:
    """What ``attrs["ipvalue"]`` records: ``as_of``, ``seed``, ``version``, ``input_hash``, ``assumptions``."""
    return {
        "as_of": day.isoformat(),
        "seed": seed,
        "version": __version__,
        "input_hash": in_hash,
        "assumptions": json.loads(json.dumps(dict(a), default=str)),
    }
