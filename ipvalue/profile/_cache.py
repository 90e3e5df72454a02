"""Peers read once from a file and their peer book computed once per date, for a long-running process.

The service (a named peer book) and the workbench (its peers file) profile many borrowers against one book; a
:class:`PeerBookCache` reads the file on first use and keeps the :class:`~ipvalue.profile.PeerBook` of the last
few valuation dates, so each profile costs only the borrower's own indicators.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import threading
from collections import OrderedDict
from pathlib import Path

import pandas as pd

from ipvalue.facts import columns as C
from ipvalue.profile._api import PeerBook, peer_book
from ipvalue.profile._indicators import ProfileInputError

__all__ = ["PeerBookCache", "read_peers"]


def read_peers(path: str | Path) -> tuple[pd.DataFrame, str]:
    """A peers file (Parquet when it ends in ``.parquet``, else CSV; one row per patent with a firm column).

    Returns
    -------
    frame : DataFrame
    digest : str
        ``sha256:`` of the file's bytes (what an audit entry records of the book used).
    """
    p = Path(path)
    if not p.is_file():
        raise ProfileInputError([(None, "peers", f"no peers file at {p}")])
    data = p.read_bytes()
    buf = io.BytesIO(data)
    frame = pd.read_parquet(buf) if p.suffix.lower() == ".parquet" else pd.read_csv(buf)
    return frame, "sha256:" + hashlib.sha256(data).hexdigest()


class PeerBookCache:
    """A peers file read once, and its peer book computed once per ``as_of`` (the last ``keep`` kept).

    Parameters
    ----------
    source : path or DataFrame
        The peers (see :func:`read_peers`).
    firm_column : str
    keep : int
        Peer books kept (one per valuation date), least recently used dropped first.

    Safe to share between threads: one computation at a time, the others wait for it.
    """

    def __init__(self, source: str | Path | pd.DataFrame, *, firm_column: str = "firm", keep: int = 4):
        self.source = source
        self.firm_column = firm_column
        self.keep = max(1, int(keep))
        self._frame: pd.DataFrame | None = source if isinstance(source, pd.DataFrame) else None
        #: ``sha256:`` of the file read (None until read, or for a frame given directly)
        self.digest: str | None = None
        self._books: OrderedDict[dt.date, PeerBook] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, as_of: dt.date | str) -> PeerBook:
        """The peer book at ``as_of`` (computed on first use of that date)."""
        day = C.as_date(as_of, "as_of", error=ProfileInputError)
        with self._lock:
            if day in self._books:
                self._books.move_to_end(day)
                return self._books[day]
            if self._frame is None:
                self._frame, self.digest = read_peers(self.source)
            book = peer_book(self._frame, as_of=day, firm_column=self.firm_column)
            self._books[day] = book
            while len(self._books) > self.keep:
                self._books.popitem(last=False)
            return book
