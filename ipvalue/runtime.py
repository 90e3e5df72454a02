"""Runtime: where the chunks of a book are computed (this process, a process pool, a Dask cluster).

Generic: a backend maps a pure function over chunks, ships chunks once (:meth:`Backend.put`) and regroups map
results by bucket (the shuffle of a reduction). It knows nothing of patents: each domain owns its per-chunk kernel
and its book-level reductions (:mod:`ipvalue.valuation.distributed`, :mod:`ipvalue.collateral._distributed`).
This module imports nothing from ipvalue's domain modules.

Dask is an optional dependency (``pip install 'ipvalue[dask]'``), imported only when the Dask backend is used.
"""

from __future__ import annotations

import concurrent.futures as cf
import functools
import importlib
import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ipvalue._allocator import ALLOCATOR_MMAP_THRESHOLD, ALLOCATOR_TRIM_THRESHOLD, tune_allocator

__all__ = [
    "Backend",
    "SerialBackend",
    "ProcessBackend",
    "DaskBackend",
    "get_backend",
    "require_dask",
    "aligned_chunks",
    "DEFAULT_CHUNK_SIZE",
    "tune_allocator",
    "ALLOCATOR_MMAP_THRESHOLD",
    "ALLOCATOR_TRIM_THRESHOLD",
]

#: patents per chunk when ``chunk_size`` is not given
DEFAULT_CHUNK_SIZE = 50_000

_DASK_MESSAGE = (
    "the Dask backend needs the optional dependencies dask[dataframe] and distributed: "
    "pip install 'ipvalue[dask]'"
)


def require_dask() -> tuple[Any, Any]:
    """Import ``dask`` and ``distributed`` or raise an ImportError naming the ``ipvalue[dask]`` extra."""
    try:
        dask = importlib.import_module("dask")
        distributed = importlib.import_module("distributed")
        importlib.import_module("dask.dataframe")
    except ImportError as exc:
        raise ImportError(_DASK_MESSAGE) from exc
    return dask, distributed


class Backend:
    """Runs a pure function over chunks. Subclasses implement :meth:`map`; :meth:`put` may ship chunks once.

    A backend is a context manager; :meth:`close` frees what it started (worker processes, a local cluster).
    """

    name = "backend"

    def put(self, items: Sequence[Any]) -> list[Any]:
        """Handles for ``items`` to pass to :meth:`map` several times (the items themselves by default)."""
        return list(items)

    def map(
        self, fn: Callable[..., Any], items: Sequence[Any], *, keep: bool = False, **kwargs: Any
    ) -> list[Any]:
        """``[fn(item, **kwargs) for item in items]``, in order; an exception in any call is raised here.

        ``keep=True`` may return handles that stay where they were computed (a cluster's futures) instead of the
        results; handles can be passed back as items, or inside a list item, to a later :meth:`map`.
        """
        raise NotImplementedError

    def regroup(self, handles: Sequence[Any], field: str, buckets: int) -> list[list[Any]]:
        """The shuffle: ``[[h[field][b] for h in handles] for b in range(buckets)]`` (map results split by bucket).

        A cluster backend does it where the results are, returning handles.
        """
        return [[h[field][b] for h in handles] for b in range(buckets)]

    def close(self) -> None:
        """Release the resources this backend started."""

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SerialBackend(Backend):
    """Every chunk in this process, one after the other."""

    name = "serial"

    def map(
        self, fn: Callable[..., Any], items: Sequence[Any], *, keep: bool = False, **kwargs: Any
    ) -> list[Any]:
        """``[fn(item, **kwargs) for item in items]``, in order (see :meth:`Backend.map`)."""
        return [fn(item, **kwargs) for item in items]


class ProcessBackend(Backend):
    """A :class:`concurrent.futures.ProcessPoolExecutor` on this machine (started on first use).

    Parameters
    ----------
    max_workers : int, optional
        Worker processes (default: the number of CPUs).
    """

    name = "processes"

    def __init__(self, max_workers: int | None = None):
        self.max_workers = max_workers or os.cpu_count() or 1
        self._pool: cf.ProcessPoolExecutor | None = None

    def map(
        self, fn: Callable[..., Any], items: Sequence[Any], *, keep: bool = False, **kwargs: Any
    ) -> list[Any]:
        """``[fn(item, **kwargs) for item in items]``, in order (see :meth:`Backend.map`)."""
        if self._pool is None:
            self._pool = cf.ProcessPoolExecutor(max_workers=self.max_workers)
        return list(self._pool.map(functools.partial(fn, **kwargs), items))

    def close(self) -> None:
        """Release what this backend started."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class DaskBackend(Backend):
    """A Dask cluster: an existing ``distributed.Client``, or a ``LocalCluster`` started here and closed after.

    Parameters
    ----------
    client : distributed.Client, optional
        Used as is and never closed by the backend.
    n_workers : int
        Workers of the local cluster (when no client is given).
    threads_per_worker : int
        Threads per worker of the local cluster.
    processes : bool
        Worker processes (True) or threads in this process (False) for the local cluster.
    """

    name = "dask"

    def __init__(
        self, client: Any = None, *, n_workers: int = 2, threads_per_worker: int = 1, processes: bool = True
    ):
        require_dask()
        self._client = client
        self._owned: tuple[Any, Any] | None = None
        self.n_workers = n_workers
        self.threads_per_worker = threads_per_worker
        self.processes = processes

    @property
    def client(self) -> Any:
        """The client (the local cluster is started on first use)."""
        if self._client is None:
            _, distributed = require_dask()
            cluster = distributed.LocalCluster(
                n_workers=self.n_workers,
                threads_per_worker=self.threads_per_worker,
                processes=self.processes,
                # a cluster of worker processes this process starts listens on loopback only
                **({"host": "127.0.0.1"} if self.processes else {}),
                dashboard_address=None,
            )
            self._client = distributed.Client(cluster)
            self._owned = (self._client, cluster)
        return self._client

    def put(self, items: Sequence[Any]) -> list[Any]:
        """Scatter ``items`` to the cluster once; the futures are handles for :meth:`map`."""
        return list(self.client.scatter(list(items)))

    def map(
        self, fn: Callable[..., Any], items: Sequence[Any], *, keep: bool = False, **kwargs: Any
    ) -> list[Any]:
        """``[fn(item, **kwargs) for item in items]``, in order (see :meth:`Backend.map`)."""
        # kwargs through a partial: client.map reserves some keyword names (key=, workers=...); futures inside
        # the items (or inside a list item) are resolved on the workers, without passing through this process
        futures = self.client.map(functools.partial(fn, **kwargs), list(items), pure=False)
        return futures if keep else list(self.client.gather(futures))

    def regroup(self, handles: Sequence[Any], field: str, buckets: int) -> list[list[Any]]:
        """The shuffle on the cluster: one picking task per (bucket, handle), results left there."""
        pairs = [(h, field, b) for b in range(buckets) for h in handles]
        picked = self.client.map(_pick, pairs, pure=False)
        n = len(handles)
        return [picked[b * n : (b + 1) * n] for b in range(buckets)]

    def close(self) -> None:
        """Release what this backend started."""
        if self._owned is not None:
            client, cluster = self._owned
            client.close()
            cluster.close()
            self._owned = None
            self._client = None


def get_backend(backend: Any = None, client: Any = None) -> tuple[Backend, bool]:
    """The backend for ``backend`` (name or object) and whether the caller must close it.

    ``None`` is ``"serial"``, or ``"dask"`` when a ``client`` is given.
    """
    if isinstance(backend, Backend):
        if client is not None:
            raise ValueError("give either a Backend object or client=, not both")
        return backend, False
    if backend is None:
        backend = "dask" if client is not None else "serial"
    if backend == "dask":
        return DaskBackend(client), True
    if client is not None:
        raise ValueError(f"client= is only used by the Dask backend, not by backend={backend!r}")
    if backend == "serial":
        return SerialBackend(), True
    if backend == "processes":
        return ProcessBackend(), True
    raise ValueError(f"backend must be 'serial', 'processes', 'dask' or a Backend object, got {backend!r}")


# ------------------------------------------------------------------------------------------ chunking


def aligned_chunks(keys: np.ndarray, chunk_size: int) -> list[np.ndarray]:
    """Row positions of each chunk: about ``chunk_size`` rows, rows sharing a key whole in one chunk.

    ``keys`` is an object array with one key per row (``""`` or None: the row has no key). A row goes to the chunk
    of its key's first row (rows without a key: their own position), so chunks keep the input order apart from
    the rows of a key pulled forward to their first member.
    """
    n = len(keys)
    anchor = np.arange(n)
    if n:
        k = np.asarray(keys, dtype=object)
        codes, uniques = pd.factorize(pd.Series(k, dtype=object), use_na_sentinel=True)
        is_blank = np.array([v == "" for v in uniques] + [True], dtype=bool)
        grouped = ~is_blank[np.where(codes < 0, len(uniques), codes)]
        if grouped.any():
            first = pd.Series(anchor[grouped]).groupby(codes[grouped]).transform("min").to_numpy()
            anchor[grouped] = first
    cid = anchor // max(1, int(chunk_size))
    order = np.argsort(cid, kind="stable")
    cuts = np.flatnonzero(np.diff(cid[order])) + 1
    return [p for p in np.split(order, cuts) if len(p)]


def _pick(job: tuple[dict[str, Any], str, int]) -> Any:
    """One bucket of one map result (the regroup step of a cluster backend)."""
    first, field, b = job
    return first[field][b]
