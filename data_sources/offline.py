"""Sources that need no network: the bank's own files and a frame of facts given by the caller.

:class:`FileSource` reads a portfolio file through :func:`ipvalue.facts.io.read_portfolio`; :class:`OfflineSource`
serves the facts of a frame injected by its caller (the command line passes the demo portfolio).
:func:`data_sources.fetch` uses :class:`OfflineSource` when no service credentials are set; the frame comes
through ``source_options={"offline": {"frame": ...}}``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from data_sources._base import Outcome, Progress, Source, make_patent
from data_sources._errors import ConfigurationError, DataSourceError, NotFound
from ipvalue.facts.io import read_portfolio
from ipvalue.facts.patent import FACT_COLUMNS

__all__ = ["FileSource", "OfflineSource", "frame_facts"]

_SKIP = {"patent_id", "source", "fetched_at"}


def frame_facts(frame: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Known facts per patent of a portfolio frame: fact columns only, missing values left out."""
    out: dict[str, dict[str, Any]] = {}
    cols = [c for c in frame.columns if c in FACT_COLUMNS and c not in _SKIP]
    ids = frame["patent_id"] if "patent_id" in frame.columns else pd.Series(frame.index, index=frame.index)
    for pid, rec in zip(ids, frame[cols].to_dict("records"), strict=True):
        clean: dict[str, Any] = {}
        for k, v in rec.items():
            if v is None or (not isinstance(v, list | tuple) and pd.isna(v)):
                continue
            if isinstance(v, pd.Timestamp):
                v = v.date()
            elif hasattr(v, "item") and not isinstance(v, str):
                v = v.item()
            clean[k] = v
        out[str(pid)] = clean
    return out


class _FrameSource(Source):
    def __init__(self) -> None:
        self._facts: dict[str, dict[str, Any]] | None = None
        self._loaded_at = time.time()
        self.lookups = 0

    def _frame(self) -> pd.DataFrame:  # pragma: no cover - overridden
        raise NotImplementedError

    async def fetch_many(
        self, numbers: Sequence[str], *, progress: Progress | None = None
    ) -> dict[str, Outcome]:
        """Facts per number from the frame; a number it lacks is :class:`NotFound`."""
        if self._facts is None:
            self._facts = frame_facts(self._frame())
            self._loaded_at = time.time()
        out: dict[str, Outcome] = {}
        for n in numbers:
            self.lookups += 1
            rec = self._facts.get(n)
            if rec is None:
                out[n] = NotFound(f"{n}: not in the {self.name} data", source=self.name)
            else:
                try:
                    out[n] = make_patent(n, rec, source=self.name, fetched_at=self._loaded_at)
                except DataSourceError as exc:
                    out[n] = exc
            if progress:
                progress(n, 1)
        return out

    def stats(self) -> dict[str, Any]:
        return {"requests": 0, "cache_hits": 0, "retries": 0, "lookups": self.lookups}


class FileSource(_FrameSource):
    """Facts from a portfolio file (CSV, XLSX, JSON, Parquet) or frame, read by :func:`ipvalue.read_portfolio`.

    Parameters
    ----------
    path : str, Path or DataFrame
    """

    name = "file"

    def __init__(self, path: str | Path | pd.DataFrame):
        super().__init__()
        self.path = path

    def _frame(self) -> pd.DataFrame:
        return read_portfolio(self.path)


class OfflineSource(_FrameSource):
    """Facts of a portfolio frame given by the caller, served as a source.

    Parameters
    ----------
    frame : DataFrame or callable returning one
        The portfolio frame, or a loader called on first use (so that building the source costs nothing).

    Raises
    ------
    ConfigurationError
        When no frame is given: this package has no facts of its own to serve.
    """

    name = "offline"

    def __init__(self, frame: pd.DataFrame | Callable[[], pd.DataFrame] | None):
        super().__init__()
        if frame is None:
            raise ConfigurationError(
                "the offline source needs a frame of facts (source_options={'offline': {'frame': ...}})",
                source=self.name,
            )
        self.frame = frame

    def _frame(self) -> pd.DataFrame:
        return self.frame if isinstance(self.frame, pd.DataFrame) else self.frame()
