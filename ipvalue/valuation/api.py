"""``value_portfolio``: the public entry of valuation (checks the arguments, picks one pass or the chunked run)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from ipvalue.facts.columns import as_date, check_seed, input_hash, is_dask_frame
from ipvalue.valuation.assumptions import Assumptions
from ipvalue.valuation.distributed import run_value_portfolio
from ipvalue.valuation.inputs import ValuationInputError
from ipvalue.valuation.kernel import provenance, value_chunk

__all__ = ["value_portfolio", "market_comparables"]


def value_portfolio(
    portfolio: Any,
    assumptions: Any = None,
    *,
    as_of: Any,
    rng: int = 0,
    comparables: Any = None,
    backend: Any = None,
    chunk_size: int | None = None,
    client: Any = None,
) -> Any:
    """Value every patent of a portfolio by the income, cost and real-option methods and reconcile.

    Parameters
    ----------
    portfolio : pandas.DataFrame
        Portfolio frame (see :mod:`ipvalue.facts.patent`), indexed by ``patent_id``. Economics may be per patent or per
        ``group`` (a product line): rows of a group share the group's ``revenue`` and ``commercialization_cost``,
        allocated by the weight column (``allocation_weight`` assumption, else ``quality_score``, else equal);
        other economics missing in a row are taken from the group. The income method is the row's (or group's)
        ``income_method`` (one of :data:`INCOME_METHODS`: relief from royalty, profit split on
        ``revenue x profit_margin`` with ``profit_share``, or 约当投资), else the ``income_method`` assumption.
    assumptions : dict or pydantic model, optional
        Overrides of the defaults in ``ipvalue/data/valuation_defaults.json`` (see :func:`resolve_assumptions`).
    as_of : date or str
        Valuation date (explicit).
    rng : int
        Root seed of the per-patent Monte Carlo streams.
    comparables : pandas.DataFrame, str or path, optional
        Comparable transactions for the market approach (a table :func:`ipvalue.read_comparables` reads, or its
        result; read once and broadcast to every chunk): ``value_market`` per patent, weighed in by the market
        branch of the method-choice rule (the ``market`` share of ``method_weights`` where at least three usable
        comparables come from the same IPC subclass or nearer, ``market_max_level``), its spread feeding
        ``value_p05`` / ``value_p95`` (``docs/methodology/reconciliation.md``). None: ``value_market`` is NaN and
        nothing else moves.
    backend : {"serial", "processes", "dask"} or Backend, optional
        Where the chunks run (:mod:`ipvalue.runtime`). Omitted with a pandas frame and no ``chunk_size``: one
        pass over the whole frame in this process. The numbers are the same to the last bit on every backend
        and chunking (see ``docs/methodology/scale.md``).
    chunk_size : int, optional
        Patents per chunk (a ``group`` is never split); default 50 000.
    client : distributed.Client, optional
        For ``backend="dask"``: the cluster to use (else a 2-worker ``LocalCluster`` is started and closed).

    Returns
    -------
    pandas.DataFrame or dask.dataframe.DataFrame
        The portfolio with :data:`VALUE_COLUMNS` and ``currency`` added; ``attrs["ipvalue"]`` holds ``as_of``,
        ``seed``, ``version``, ``input_hash`` and the resolved ``assumptions``. A Dask DataFrame in gives a lazy
        Dask DataFrame out (book-level tables already computed, valuation not yet run; rows of a group are moved
        to one partition, so compare by index), with the provenance in ``attrs["ipvalue"]``.

    Raises
    ------
    ValuationInputError
        On bad inputs (rates outside [0, 1], negative revenue or cost, non-positive economic life, conflicting
        group revenue, unknown legal status...), naming every patent and field at fault.

    Notes
    -----
    The one pass keeps the stages of the book that no rate moves (inputs read, facts at ``as_of``, quality,
    markets, renewal fees paid) in a small process-level cache,
    :data:`ipvalue.valuation.kernel.STAGES_CACHE` (at most 4 books and 60,000 rows, about 1 KB a row, least
    recently used out), keyed by a digest of every column, the index, the assumptions and ``as_of``: the stress
    test of ``assess_collateral`` on the result, or the same book valued again, takes them from there instead of
    preparing them again, with the same numbers to the last bit; any changed input misses. ``STAGES_CACHE.clear()``
    empties it; ``STAGES_CACHE.entries = 0`` keeps nothing.
    """
    day = as_date(as_of, "as_of", error=ValuationInputError)
    seed = check_seed(rng)
    # validated into the frozen model at the edge; the engine reads its plain (JSON) form, recorded in attrs
    a = Assumptions.of(assumptions).as_dict()
    if comparables is not None:
        # read once here, so bad rows fail before any chunk runs and every chunk gets the same small table
        from ipvalue.facts.comparables import is_read_comparables, read_comparables

        if not is_read_comparables(comparables):
            comparables = read_comparables(comparables)
    if backend is not None or chunk_size is not None or client is not None or is_dask_frame(portfolio):
        return run_value_portfolio(
            portfolio,
            a,
            day=day,
            seed=seed,
            backend=backend,
            chunk_size=chunk_size,
            client=client,
            comparables=comparables,
        )
    if not isinstance(portfolio, pd.DataFrame):
        raise TypeError(
            f"portfolio must be a DataFrame (use ipvalue.read_portfolio), got {type(portfolio).__name__}"
        )
    # the prepared stages are kept (a small cache keyed by the inputs' content) for the stress test of this book
    out = value_chunk(
        portfolio, a=a, as_of=day, seed=seed, currency=None, cohort=None, comparables=comparables, keep=True
    )
    out.attrs = {**dict(portfolio.attrs), "ipvalue": provenance(a, day, seed, input_hash(portfolio))}
    return out


def market_comparables(
    portfolio: pd.DataFrame, assumptions: Any = None, *, as_of: Any, comparables: Any
) -> Any:
    """The comparables behind ``value_market``: every (patent, comparable) pair with each adjustment factor.

    Runs the same stages as :func:`value_portfolio` up to the market approach (facts, economics: allocated
    revenue, rates, quality) on ``portfolio`` and returns the market approach's full result, for a report or an
    audit. Meant for the patents a report shows (a loan's portfolio), not a whole book: run it on the rows wanted.

    Parameters
    ----------
    portfolio : pandas.DataFrame
        The portfolio frame as given to :func:`value_portfolio` (every row of a ``group`` together).
    assumptions : dict or Assumptions, optional
        As for :func:`value_portfolio` (``market_max_level`` decides ``weighable``).
    as_of : date or str
        Valuation date.
    comparables : pandas.DataFrame, str or path
        Comparable transactions (:func:`ipvalue.read_comparables` reads a raw table).

    Returns
    -------
    MarketResult
        ``.comparables`` (one row per pair: level, weight, basis, price or royalty, every factor, the adjusted value,
        ``used``), ``.value``, ``.range``, ``.notes``. Values are before the grant factor of a pending application
        (``value_market`` in :func:`value_portfolio` is after it).
    """
    from ipvalue.facts.comparables import is_read_comparables, read_comparables
    from ipvalue.valuation.asof import read_facts
    from ipvalue.valuation.economics import economics
    from ipvalue.valuation.inputs import read_inputs
    from ipvalue.valuation.methods.market_stage import market_values
    from ipvalue.valuation.notes import Notes

    if not isinstance(portfolio, pd.DataFrame):
        raise TypeError(f"portfolio must be a DataFrame, got {type(portfolio).__name__}")
    day = as_date(as_of, "as_of", error=ValuationInputError)
    a = Assumptions.of(assumptions).as_dict()
    comps = comparables if is_read_comparables(comparables) else read_comparables(comparables)
    notes = Notes(len(portfolio))
    inputs = read_inputs(portfolio, a, day, None, notes)
    facts = read_facts(inputs, a, day, None, notes)
    econ = economics(inputs, facts, a, day, notes)
    return market_values(inputs, facts, econ, day, comps, max_level=a["market_max_level"]).result
