"""Backends: where the chunks of a portfolio are valued (this process, a process pool, a Dask cluster).

One pure per-chunk function, :func:`ipvalue.valuation.portfolio._value_frame`, runs on every backend. The steps
that need the whole book run first, as reductions whose results are small tables broadcast to every chunk:

* duplicate ``patent_id`` check and the run's currency (union of the currencies given);
* the quality cohort caps: each chunk emits ``(class x year key, year key, citation rate)`` rows
  (:func:`ipvalue.quality.citation_cohorts`); the rows are regrouped by cohort key (a hash partition of the key
  here; a Dask shuffle on a Dask DataFrame) and exact quantiles are taken per cohort
  (:func:`ipvalue.quality.cohort_quantiles`);
* groups (product lines sharing a revenue) are never split: a chunk holds whole groups (rows are assigned to the
  chunk of their group's first row; a Dask DataFrame whose groups span partitions is shuffled on the group key),
  so the allocation weights sum to one within the chunk, exactly as in a single run.

Per-patent random streams (:mod:`ipvalue._random`) make every draw independent of the chunking, and the
per-chunk function sums in patent_id order and in blocks of equal length, so the results are the same to the last
bit on every backend (tested in ``tests/ipvalue/test_backend.py``).

Dask is an optional dependency (``pip install 'ipvalue[dask]'``), imported only when the Dask backend is used.

:func:`ipvalue.assess_collateral` uses the same backends (``backend=``, ``chunk_size=``, ``client=``); its chunked
engine is in :mod:`ipvalue.collateral.distributed` (concentration totals, sums and the liquidation Monte Carlo's
per-path partial sums are the reductions there).
"""

from __future__ import annotations

import concurrent.futures as cf
import datetime as dt
import functools
import importlib
import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "Backend",
    "SerialBackend",
    "ProcessBackend",
    "DaskBackend",
    "get_backend",
    "require_dask",
    "run_value_portfolio",
    "DEFAULT_CHUNK_SIZE",
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
        if self._pool is None:
            self._pool = cf.ProcessPoolExecutor(max_workers=self.max_workers)
        return list(self._pool.map(functools.partial(fn, **kwargs), items))

    def close(self) -> None:
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
        return list(self.client.scatter(list(items)))

    def map(
        self, fn: Callable[..., Any], items: Sequence[Any], *, keep: bool = False, **kwargs: Any
    ) -> list[Any]:
        # kwargs through a partial: client.map reserves some keyword names (key=, workers=...); futures inside
        # the items (or inside a list item) are resolved on the workers, without passing through this process
        futures = self.client.map(functools.partial(fn, **kwargs), list(items), pure=False)
        return futures if keep else list(self.client.gather(futures))

    def regroup(self, handles: Sequence[Any], field: str, buckets: int) -> list[list[Any]]:
        pairs = [(h, field, b) for b in range(buckets) for h in handles]
        picked = self.client.map(_pick, pairs, pure=False)
        n = len(handles)
        return [picked[b * n : (b + 1) * n] for b in range(buckets)]

    def close(self) -> None:
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


def group_aligned_chunks(frame: pd.DataFrame, chunk_size: int) -> list[np.ndarray]:
    """Row positions of each chunk: about ``chunk_size`` rows, every ``group`` whole in one chunk.

    A row goes to the chunk of its group's first row (rows without a group: their own position), so chunks keep
    the input order apart from the rows of a group pulled forward to their first member.
    """
    from ipvalue.valuation.portfolio import _text

    n = len(frame)
    anchor = np.arange(n)
    if "group" in frame.columns and n:
        g = _text(frame, "group")
        codes, _ = pd.factorize(pd.Series(np.where(g == "", None, g), dtype=object))
        grouped = codes >= 0
        if grouped.any():
            first = pd.Series(anchor[grouped]).groupby(codes[grouped]).transform("min").to_numpy()
            anchor[grouped] = first
    cid = anchor // max(1, int(chunk_size))
    order = np.argsort(cid, kind="stable")
    cuts = np.flatnonzero(np.diff(cid[order])) + 1
    return [p for p in np.split(order, cuts) if len(p)]


# ------------------------------------------------------------------------------------------ per-chunk functions


def _first_pass(chunk: pd.DataFrame, *, as_of: dt.date, buckets: int) -> dict[str, Any]:
    """Map step: the chunk's currencies (with their first patent) and its citation rows split by cohort bucket."""
    from ipvalue.quality import citation_cohorts
    from ipvalue.valuation.portfolio import _ids, _text

    ids = _ids(chunk)
    cur = _text(chunk, "currency")
    first: dict[str, str] = {}
    for c in sorted(set(cur[cur != ""])):
        first[c] = ids[np.flatnonzero(cur == c)[0]]
    rates = citation_cohorts(chunk, as_of=as_of)
    by1 = rates["key1"].to_numpy() % buckets
    by2 = rates["key2"].to_numpy() % buckets
    return {
        "currencies": first,
        "class_year": [rates.loc[by1 == b, ["key1", "rate"]] for b in range(buckets)],
        "year": [rates.loc[by2 == b, ["key2", "rate"]] for b in range(buckets)],
    }


def _chunk_currencies(first: dict[str, Any]) -> dict[str, str]:
    return first["currencies"]


def _pick(job: tuple[dict[str, Any], str, int]) -> pd.DataFrame:
    first, field, b = job
    return first[field][b]


def _bucket_quantiles(pieces: list[pd.DataFrame], *, key: str) -> pd.DataFrame:
    """Reduce step: exact cohort caps of every cohort in one hash bucket (all its rows, from every chunk)."""
    from ipvalue.quality import cohort_quantiles

    rows = pd.concat(pieces, ignore_index=True) if pieces else pd.DataFrame({key: [], "rate": []})
    rows = pd.DataFrame(
        {
            "key1": rows[key].to_numpy(np.int64),
            "key2": rows[key].to_numpy(np.int64),
            "rate": rows["rate"].to_numpy(float),
        }
    )
    return cohort_quantiles(rows, level=1 if key == "key1" else 2)


def _value_chunk(
    chunk: pd.DataFrame,
    *,
    a: dict,
    as_of: dt.date,
    seed: int,
    currency: str | None,
    cohort: dict | None,
    attrs: dict | None = None,
) -> pd.DataFrame:
    """The per-chunk valuation (the same function on every backend); ``attrs`` are set on the chunk's result."""
    from ipvalue.valuation.portfolio import _value_frame

    out = _value_frame(chunk, a, as_of, seed, currency=currency, cohort=cohort)
    if attrs is not None:
        out.attrs = dict(attrs)
    return out


def _currency(first: dict[str, str], default: str) -> str:
    from ipvalue.valuation.portfolio import ValuationInputError

    given = sorted(first)
    if len(given) > 1:
        raise ValuationInputError(
            [
                (
                    pid,
                    "currency",
                    f"patent {pid}: field currency {c!r} differs from the others in this run {given}; "
                    "convert through an FX table first",
                )
                for c, pid in first.items()
            ]
        )
    return given[0] if given else default


def _check_unique(ids: np.ndarray) -> None:
    from ipvalue.valuation.portfolio import ValuationInputError

    dup_mask = pd.Series(ids, dtype=object).duplicated().to_numpy()
    if dup_mask.any():
        dup = pd.unique(ids[dup_mask])[:10]
        raise ValuationInputError([(d, "patent_id", f"patent {d}: appears more than once") for d in dup])


# ------------------------------------------------------------------------------------------ value_portfolio


def run_value_portfolio(
    portfolio: Any,
    a: dict[str, Any],
    *,
    day: dt.date,
    seed: int,
    backend: Any = None,
    chunk_size: int | None = None,
    client: Any = None,
) -> Any:
    """:func:`ipvalue.value_portfolio` over chunks on a backend (called by it; arguments already checked)."""
    from ipvalue.valuation.portfolio import _ids, _is_dask_frame, input_hash, provenance

    if chunk_size is not None and (not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1):
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    if _is_dask_frame(portfolio):
        return _value_dask_frame(portfolio, a, day=day, seed=seed, backend=backend, client=client)
    if not isinstance(portfolio, pd.DataFrame):
        raise TypeError(
            f"portfolio must be a DataFrame (use ipvalue.read_portfolio), got {type(portfolio).__name__}"
        )
    _check_unique(_ids(portfolio))
    parts = group_aligned_chunks(portfolio, chunk_size or DEFAULT_CHUNK_SIZE)
    chunks = [portfolio.iloc[p] for p in parts]
    be, owned = get_backend(backend, client)
    try:
        handles = be.put(chunks)
        n_buckets = max(1, min(len(chunks), 16))
        # map: per chunk, its currencies and its citation rows split into hash buckets of the cohort key (kept on
        # the workers by a cluster backend)
        first = be.map(_first_pass, handles, keep=True, as_of=day, buckets=n_buckets)
        currencies: dict[str, str] = {}
        for found in be.map(_chunk_currencies, first):
            for c, pid in found.items():
                currencies.setdefault(c, pid)
        currency = _currency(currencies, a["currency"])
        # reduce: one task per bucket gathers that bucket from every chunk and takes exact quantiles per cohort
        tables = {}
        for name, key in (("class_year", "key1"), ("year", "key2")):
            parts_q = be.map(_bucket_quantiles, be.regroup(first, name, n_buckets), key=key)
            tables[name] = pd.concat(parts_q).sort_index()
        del first
        results = be.map(_value_chunk, handles, a=a, as_of=day, seed=seed, currency=currency, cohort=tables)
    finally:
        if owned:
            be.close()
    out = (
        pd.concat(results)
        if results
        else _value_chunk(portfolio, a=a, as_of=day, seed=seed, currency=None, cohort=None)
    )
    if results:
        pos = np.concatenate(parts)
        out = out.iloc[np.argsort(pos, kind="stable")]
    out.attrs = {**dict(portfolio.attrs), "ipvalue": provenance(a, day, seed, input_hash(portfolio))}
    return out


def _dask_first_pass(part: pd.DataFrame, *, as_of: dt.date) -> pd.DataFrame:
    from ipvalue.quality import citation_cohorts

    return citation_cohorts(part, as_of=as_of)


def _dask_currencies(part: pd.DataFrame) -> pd.DataFrame:
    from ipvalue.valuation.portfolio import _ids, _text

    ids = _ids(part)
    cur = _text(part, "currency")
    rows = [(c, ids[np.flatnonzero(cur == c)[0]]) for c in sorted(set(cur[cur != ""]))]
    return pd.DataFrame(
        {
            "currency": pd.Series([r[0] for r in rows], dtype=object),
            "patent_id": pd.Series([r[1] for r in rows], dtype=object),
        }
    )


def _dask_groups(part: pd.DataFrame) -> pd.DataFrame:
    from ipvalue.valuation.portfolio import _text

    g = _text(part, "group") if "group" in part.columns else np.empty(0, dtype=object)
    return pd.DataFrame({"group": pd.Series(pd.unique(g[g != ""]), dtype=object)})


def _dask_quantiles(part: pd.DataFrame, *, key: str) -> pd.DataFrame:
    return _bucket_quantiles([part], key=key)


def _group_key(part: pd.DataFrame) -> pd.DataFrame:
    from ipvalue.valuation.portfolio import _ids, _text

    g = _text(part, "group")
    return part.assign(_ipvalue_group_key=np.where(g == "", _ids(part), "g:" + g).astype(object))


def _value_dask_frame(
    ddf: Any, a: dict[str, Any], *, day: dt.date, seed: int, backend: Any, client: Any
) -> Any:
    """A Dask DataFrame in, a lazy Dask DataFrame out; the book-level tables are computed here.

    Runs on ``client`` if given, else on Dask's current scheduler (a ``distributed.Client`` made current with
    ``as_default=True``, or the local threaded scheduler). A Backend object or another backend name is refused:
    a Dask DataFrame only runs on Dask.
    """
    dask, _ = require_dask()
    from ipvalue.valuation.portfolio import provenance

    if backend not in (None, "dask") and not isinstance(backend, DaskBackend):
        raise ValueError(f"a Dask DataFrame runs on the Dask backend only, got backend={backend!r}")
    if isinstance(backend, DaskBackend) and client is None:
        client = backend.client
    if "patent_id" not in ddf.columns:
        ddf = ddf.assign(patent_id=ddf.index)
    empty_rates = pd.DataFrame(
        {"key1": np.empty(0, np.int64), "key2": np.empty(0, np.int64), "rate": np.empty(0)}
    )
    rates = ddf.map_partitions(_dask_first_pass, as_of=day, meta=empty_rates)
    q_meta = pd.DataFrame(
        {"size": np.empty(0, np.int64), "lo": np.empty(0), "hi": np.empty(0)},
        index=pd.Index([], dtype=np.int64),
    )
    q1 = rates[["key1", "rate"]].shuffle(on="key1").map_partitions(_dask_quantiles, key="key1", meta=q_meta)
    q2 = rates[["key2", "rate"]].shuffle(on="key2").map_partitions(_dask_quantiles, key="key2", meta=q_meta)
    cur_meta = pd.DataFrame(
        {"currency": pd.Series([], dtype=object), "patent_id": pd.Series([], dtype=object)}
    )
    curs = ddf.map_partitions(_dask_currencies, meta=cur_meta)
    counts = ddf["patent_id"].astype(object).value_counts(split_out=max(1, ddf.npartitions // 4))
    dups = counts[counts > 1]
    todo = [q1, q2, curs, dups]
    has_group = "group" in ddf.columns
    if has_group:
        spread = ddf.map_partitions(_dask_groups, meta=pd.DataFrame({"group": pd.Series([], dtype=object)}))
        g_counts = spread["group"].value_counts(split_out=max(1, ddf.npartitions // 4))
        todo.append(g_counts[g_counts > 1])
    kw = {} if client is None else {"scheduler": client}
    got = dask.compute(*todo, **kw)
    t1, t2, cur_rows, dup_ids = got[:4]
    if len(dup_ids):
        from ipvalue.valuation.portfolio import ValuationInputError

        raise ValuationInputError(
            [(str(d), "patent_id", f"patent {d}: appears more than once") for d in list(dup_ids.index)[:10]]
        )
    first: dict[str, str] = {}
    for c, pid in zip(cur_rows["currency"], cur_rows["patent_id"], strict=True):
        first.setdefault(str(c), str(pid))
    currency = _currency(first, a["currency"])
    tables = {"class_year": t1.sort_index(), "year": t2.sort_index()}
    if has_group and len(got[4]):
        # some group spans partitions: move each group's rows to one partition (rows without a group stay spread)
        keyed = ddf.map_partitions(_group_key, meta=_group_key(ddf._meta))
        ddf = keyed.shuffle(on="_ipvalue_group_key").drop(columns=["_ipvalue_group_key"])
    prov = provenance(a, day, seed, None)
    prov["input_hash_note"] = (
        "not computed for a Dask DataFrame: hash the input with ipvalue.valuation.input_hash"
    )
    kw = {
        "a": a,
        "as_of": day,
        "seed": seed,
        "currency": currency,
        "cohort": tables,
        "attrs": {"ipvalue": prov},
    }
    meta = _value_chunk(ddf._meta, **kw)
    # every partition carries the provenance in attrs, so the computed frame has it (pandas keeps equal attrs)
    return ddf.map_partitions(_value_chunk, meta=meta, align_dataframes=False, **kw)
