"""assess_collateral over chunks on a backend (serial, process pool, Dask): the book-level reductions.

The per-patent part runs as one pure per-chunk function, :func:`ipvalue.collateral.kernel.assess_chunk`, on
every backend (the single pass is the same function on the whole frame). What needs the whole book is reduced
from small per-chunk results:

1. concentration: each chunk's pooled value by family, technology class and product line
   (:func:`ipvalue.collateral.haircut.concentration_totals`), added up
   (:func:`ipvalue.collateral.haircut.add_concentration_totals`) and handed to every chunk as ``totals=``;
2. loan sizing: sums of the chunks' appraised, eligible and collateral values;
3. liquidation Monte Carlo: the path-level draws (:func:`ipvalue.collateral.liquidation.liquidation_paths`,
   from ``root_rng(seed, "liquidation")``) are made once and handed to every chunk; each chunk returns per-path
   partial sums over its pledged patents (each patent with its own stream); the finish adds them and computes
   recovery, LGD and time to cash (:func:`ipvalue.collateral.liquidation.finish_liquidation`); the
   deterministic scenarios add the chunks' values at the sale.

See ``docs/methodology/scale.md`` for what is exact.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from ipvalue.collateral._inputs import CollateralInputError
from ipvalue.collateral.haircut import add_concentration_totals
from ipvalue.collateral.kernel import (
    CollateralContext,
    CoreResult,
    assess_chunk,
    chunk_totals,
    finish_chunks,
    liquidation_setup,
    with_liquidation_values,
)

__all__ = ["chunked_core", "core_on_handles", "dask_partitions"]


def core_on_handles(handles: list[Any], be: Any, ctx: CollateralContext) -> CoreResult:
    """The engine over chunks already placed by the backend (``handles``): totals, per-chunk step, finish."""
    totals = add_concentration_totals(be.map(chunk_totals, handles, ctx=ctx))
    setup = liquidation_setup(ctx)
    parts = be.map(assess_chunk, handles, ctx=ctx, setup=setup, totals=totals)
    return finish_chunks(parts, ctx, setup=setup)


def chunked_core(
    frame: pd.DataFrame,
    ctx: CollateralContext,
    *,
    be: Any,
    chunk_size: int | None,
    liquidation_frame: pd.DataFrame | None = None,
) -> CoreResult:
    """:func:`ipvalue.collateral.kernel.assess_frame` on a pandas frame cut into chunks of ``chunk_size`` rows."""
    from ipvalue.runtime import DEFAULT_CHUNK_SIZE

    frame = with_liquidation_values(frame, liquidation_frame)
    size = int(chunk_size or DEFAULT_CHUNK_SIZE)
    chunks = [frame.iloc[i : i + size] for i in range(0, len(frame), size)] or [frame]
    return core_on_handles(be.put(chunks), be, ctx)


def _partition_ids(part: pd.DataFrame) -> pd.DataFrame:
    ids = part["patent_id"] if "patent_id" in part.columns else pd.Series(part.index)
    return pd.DataFrame({"patent_id": pd.Series(ids.astype(str).to_numpy(), dtype=object)})


def dask_partitions(ddf: Any, *, backend: Any, client: Any) -> tuple[list[Any], Any, bool]:
    """The partitions of a Dask DataFrame as chunk handles, the backend to run them on, and whether it is ours.

    On a cluster (``client``, a ``DaskBackend``, ``backend="dask"``, or a current ``distributed`` client) each
    partition is computed where Dask puts it and stays there (a future); only small results come back. Without
    one, the partitions are computed on Dask's current scheduler into this process and run on ``backend``
    (serial by default). Duplicate patents across partitions are found first by a ``value_counts`` reduction.
    """
    from ipvalue.runtime import DaskBackend, get_backend, require_dask

    dask, distributed = require_dask()
    if client is None and isinstance(backend, DaskBackend):
        client = backend.client
    if client is None and backend in (None, "dask"):
        try:
            client = distributed.get_client()
        except ValueError:
            client = None
    if backend == "dask" or client is not None:
        be, owned = (backend, False) if isinstance(backend, DaskBackend) else get_backend("dask", client)
        assert isinstance(be, DaskBackend)
        client = be.client
    else:
        be, owned = get_backend(backend, None)
    ids = ddf.map_partitions(_partition_ids, meta=pd.DataFrame({"patent_id": pd.Series([], dtype=object)}))
    counts = ids["patent_id"].value_counts(split_out=max(1, ddf.npartitions // 4))
    kw = {} if client is None else {"scheduler": client}
    (dups,) = dask.compute(counts[counts > 1], **kw)
    if len(dups):
        raise CollateralInputError(
            "patent listed more than once", patent_id=str(sorted(dups.index)[0]), field="patent_id"
        )
    if client is not None:
        handles = list(client.compute(list(ddf.to_delayed())))
    else:
        handles = list(dask.compute(*ddf.to_delayed()))
    return handles, be, owned
