"""value_portfolio over chunks on a backend (serial, process pool, Dask): the book-level reductions.

One pure per-chunk function, :func:`ipvalue.valuation.kernel.value_chunk`, runs on every backend
(:mod:`ipvalue.runtime`). The steps that need the whole book run first, as reductions whose results are small
tables broadcast to every chunk:

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
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

from ipvalue.facts.columns import (
    check_unique_ids,
    input_hash,
    is_dask_frame,
    patent_ids,
    run_currency,
    texts,
)
from ipvalue.quality import citation_cohorts, cohort_quantiles
from ipvalue.runtime import DEFAULT_CHUNK_SIZE, DaskBackend, aligned_chunks, get_backend, require_dask
from ipvalue.valuation.inputs import ValuationInputError
from ipvalue.valuation.kernel import provenance, value_chunk

__all__ = ["run_value_portfolio", "group_aligned_chunks"]


def group_aligned_chunks(frame: pd.DataFrame, chunk_size: int) -> list[np.ndarray]:
    """Row positions of each chunk: about ``chunk_size`` rows, every ``group`` whole in one chunk."""
    return aligned_chunks(texts(frame, "group"), chunk_size)


def _first_pass(chunk: pd.DataFrame, *, as_of: dt.date, buckets: int) -> dict[str, Any]:
    """Map step: the chunk's currencies (with their first patent) and its citation rows split by cohort bucket."""
    ids = patent_ids(chunk)
    cur = texts(chunk, "currency")
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


def _bucket_quantiles(pieces: list[pd.DataFrame], *, key: str) -> pd.DataFrame:
    """Reduce step: exact cohort caps of every cohort in one hash bucket (all its rows, from every chunk)."""
    rows = pd.concat(pieces, ignore_index=True) if pieces else pd.DataFrame({key: [], "rate": []})
    rows = pd.DataFrame(
        {
            "key1": rows[key].to_numpy(np.int64),
            "key2": rows[key].to_numpy(np.int64),
            "rate": rows["rate"].to_numpy(float),
        }
    )
    return cohort_quantiles(rows, level=1 if key == "key1" else 2)


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
    comparables: Any = None,
) -> Any:
    """:func:`ipvalue.value_portfolio` over chunks on a backend (called by it; arguments already checked)."""
    if chunk_size is not None and (not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1):
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    if is_dask_frame(portfolio):
        return _value_dask_frame(
            portfolio, a, day=day, seed=seed, backend=backend, client=client, comparables=comparables
        )
    if not isinstance(portfolio, pd.DataFrame):
        raise TypeError(
            f"portfolio must be a DataFrame (use ipvalue.read_portfolio), got {type(portfolio).__name__}"
        )
    check_unique_ids(patent_ids(portfolio), error=ValuationInputError)
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
        currency = run_currency(currencies, a["currency"], error=ValuationInputError)
        # reduce: one task per bucket gathers that bucket from every chunk and takes exact quantiles per cohort
        tables = {}
        for name, key in (("class_year", "key1"), ("year", "key2")):
            parts_q = be.map(_bucket_quantiles, be.regroup(first, name, n_buckets), key=key)
            tables[name] = pd.concat(parts_q).sort_index()
        del first
        results = be.map(
            value_chunk,
            handles,
            a=a,
            as_of=day,
            seed=seed,
            currency=currency,
            cohort=tables,
            comparables=comparables,
        )
    finally:
        if owned:
            be.close()
    out = (
        pd.concat(results)
        if results
        else value_chunk(
            portfolio, a=a, as_of=day, seed=seed, currency=None, cohort=None, comparables=comparables
        )
    )
    if results:
        pos = np.concatenate(parts)
        out = out.iloc[np.argsort(pos, kind="stable")]
    out.attrs = {**dict(portfolio.attrs), "ipvalue": provenance(a, day, seed, input_hash(portfolio))}
    return out


def _dask_first_pass(part: pd.DataFrame, *, as_of: dt.date) -> pd.DataFrame:
    return citation_cohorts(part, as_of=as_of)


def _dask_currencies(part: pd.DataFrame) -> pd.DataFrame:
    ids = patent_ids(part)
    cur = texts(part, "currency")
    rows = [(c, ids[np.flatnonzero(cur == c)[0]]) for c in sorted(set(cur[cur != ""]))]
    return pd.DataFrame(
        {
            "currency": pd.Series([r[0] for r in rows], dtype=object),
            "patent_id": pd.Series([r[1] for r in rows], dtype=object),
        }
    )


def _dask_groups(part: pd.DataFrame) -> pd.DataFrame:
    g = texts(part, "group") if "group" in part.columns else np.empty(0, dtype=object)
    return pd.DataFrame({"group": pd.Series(pd.unique(g[g != ""]), dtype=object)})


def _dask_quantiles(part: pd.DataFrame, *, key: str) -> pd.DataFrame:
    return _bucket_quantiles([part], key=key)


def _group_key(part: pd.DataFrame) -> pd.DataFrame:
    g = texts(part, "group")
    return part.assign(_ipvalue_group_key=np.where(g == "", patent_ids(part), "g:" + g).astype(object))


def _value_dask_frame(
    ddf: Any,
    a: dict[str, Any],
    *,
    day: dt.date,
    seed: int,
    backend: Any,
    client: Any,
    comparables: Any = None,
) -> Any:
    """A Dask DataFrame in, a lazy Dask DataFrame out; the book-level tables are computed here.

    Runs on ``client`` if given, else on Dask's current scheduler (a ``distributed.Client`` made current with
    ``as_default=True``, or the local threaded scheduler). A Backend object or another backend name is refused:
    a Dask DataFrame only runs on Dask.
    """
    dask, _ = require_dask()
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
        check_unique_ids(
            np.repeat(np.array([str(d) for d in dup_ids.index], dtype=object), 2), error=ValuationInputError
        )
    first: dict[str, str] = {}
    for c, pid in zip(cur_rows["currency"], cur_rows["patent_id"], strict=True):
        first.setdefault(str(c), str(pid))
    currency = run_currency(first, a["currency"], error=ValuationInputError)
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
        "comparables": comparables,
        "attrs": {"ipvalue": prov},
    }
    meta = value_chunk(ddf._meta, **kw)
    # every partition carries the provenance in attrs, so the computed frame has it (pandas keeps equal attrs)
    return ddf.map_partitions(value_chunk, meta=meta, align_dataframes=False, **kw)
