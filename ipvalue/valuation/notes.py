"""Per-patent notes built column-wise, and the number formats they use."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["Notes", "stack_notes", "fmt", "fmt_pct"]


class Notes:
    """Per-patent notes built column-wise: ``add(mask, message)`` with a str or an array of str.

    Pieces are kept as columns and joined once at the end (one pass over the rows). ``wanted`` False: the
    notes are not kept (a valuation whose caller reads the numbers only); a stage may then skip writing the
    text of a note that costs a pass over the rows (``if notes.wanted: notes.add(...)``).
    """

    def __init__(self, n: int, *, wanted: bool = True):
        self.n = n
        self.pieces: list[tuple[np.ndarray, Any]] = []
        self.muted = np.zeros(n, dtype=bool)
        self.wanted = wanted

    def add(self, mask: np.ndarray, message: Any) -> None:
        """Add ``message`` (one text, or an array of texts by row) to the rows selected by ``mask``."""
        if not self.wanted:
            return
        mask = np.asarray(mask, dtype=bool)
        if self.muted.any():
            mask = mask & ~self.muted
        if mask.any():
            self.pieces.append((mask, message))

    def copy(self) -> Notes:
        """An independent copy: later notes added to it do not reach this one (the masks are shared, read only)."""
        out = Notes(self.n, wanted=self.wanted)
        out.pieces = list(self.pieces)
        out.muted = self.muted.copy()
        return out

    def scratch(self) -> Notes:
        """An empty set of notes with this one's muted rows: records what a stage adds, to replay it later."""
        out = Notes(self.n, wanted=self.wanted)
        out.muted = self.muted.copy()
        return out

    def extend(self, recorded: Notes) -> None:
        """Add the notes ``recorded`` (a :meth:`scratch` of this one, muted alike) took, in their order."""
        self.pieces.extend(recorded.pieces)

    def mute(self, mask: np.ndarray) -> None:
        """Take no more notes for the rows of ``mask`` (rows not valued: later stages' notes would not apply)."""
        self.muted = self.muted | np.asarray(mask, dtype=bool)

    def series(self, index: pd.Index) -> pd.Series:
        """The notes of every row joined with ``; `` (empty where a row has none)."""
        return pd.Series(self.texts(), index=index, dtype=object)

    def texts(self) -> np.ndarray:
        """The notes of every row joined with ``; `` (empty where a row has none), as an object array."""
        cols = []
        for mask, msg in self.pieces:
            col = np.full(self.n, None, dtype=object)
            col[mask] = msg if isinstance(msg, str) else np.asarray(msg, dtype=object)[mask]
            cols.append(col)
        out = np.empty(self.n, dtype=object)
        if not cols:
            out[:] = ""
            return out
        out[:] = ["; ".join([p for p in row if p]) for row in zip(*cols, strict=True)]
        return out


def stack_notes(parts: list[Notes]) -> Notes:
    """Notes of several runs over the same rows stacked row-wise, run after run (a shock axis).

    Each run's pieces keep their order on its own rows, so every row's text is the one its run would give;
    the muted rows are stacked alike.
    """
    n = parts[0].n
    out = Notes(n * len(parts), wanted=any(p.wanted for p in parts))
    out.muted = np.concatenate([p.muted for p in parts])
    if not out.wanted:
        return out
    for j, part in enumerate(parts):
        for mask, msg in part.pieces:
            full = np.zeros(out.n, dtype=bool)
            full[j * n : (j + 1) * n] = mask
            if not isinstance(msg, str):
                text = np.full(out.n, None, dtype=object)
                text[j * n : (j + 1) * n] = np.asarray(msg, dtype=object)
                msg = text
            out.pieces.append((full, msg))
    return out


def fmt(x: Any, spec: str) -> np.ndarray:
    """Format numbers with ``spec`` (e.g. ``"{:.1%}"``), formatting each distinct value once; object array."""
    v = np.asarray(x, dtype=float)
    codes, uniques = pd.factorize(v)
    labels = np.array([spec.format(u) for u in uniques] + ["n/a"], dtype=object)
    return labels[np.where(codes < 0, len(uniques), codes)]


def fmt_pct(x: np.ndarray, digits: int = 2) -> np.ndarray:
    """Rates as percentages with ``digits`` decimals (object array)."""
    return fmt(np.round(np.asarray(x, dtype=float), digits + 2), f"{{:.{digits}%}}")
