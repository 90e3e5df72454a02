"""The per-chunk valuation: the one pure function every backend runs, as a short list of named stages.

::

    read the inputs -> facts at as_of -> economics -> methods (income, option, cost, market) -> reconcile
    -> range (Monte Carlo) -> attach

Each stage is a function over typed inputs in its own module (:mod:`.inputs`, :mod:`.asof`, :mod:`.economics`,
:mod:`.methods`, :mod:`.reconcile`, :mod:`.montecarlo`); every stage adds its notes to one :class:`Notes`, in this
order, which becomes ``value_notes``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np
import pandas as pd

from ipvalue._version import __version__
from ipvalue.facts.columns import column_arrays, same_values
from ipvalue.valuation._axis import stack_rows
from ipvalue.valuation._stages_cache import StagesCache, stages_keys
from ipvalue.valuation.asof import QUALITY_COLUMNS, Facts, read_facts
from ipvalue.valuation.assumptions import INCOME_METHODS, METHOD_LABELS
from ipvalue.valuation.economics import Economics, Markets, economics, markets_stage
from ipvalue.valuation.inputs import RATE_COLUMNS, Inputs, read_inputs, reread_rates
from ipvalue.valuation.methods.cost import FeesPaid, cost_values, fees_paid_stage
from ipvalue.valuation.methods.income import income_values
from ipvalue.valuation.methods.market_stage import market_values
from ipvalue.valuation.methods.real_option import option_values
from ipvalue.valuation.montecarlo import UniformRows, ValueRange, value_range
from ipvalue.valuation.notes import Notes, stack_notes
from ipvalue.valuation.reconcile import Reconciled, reconcile_values

__all__ = [
    "value_chunk",
    "value_frame",
    "Prepared",
    "prepare_stages",
    "cached_stages",
    "STAGES_CACHE",
    "can_revalue",
    "value_prepared",
    "value_prepared_many",
    "value_prepared_onto",
    "added_columns",
    "attach",
    "RATE_ASSUMPTIONS",
    "provenance",
    "VALUE_COLUMNS",
    "VALUATION_COLUMNS",
]

#: columns value_portfolio adds (``currency`` is added or kept)
VALUE_COLUMNS: tuple[str, ...] = (
    "remaining_life_years",
    *QUALITY_COLUMNS,
    "grant_probability",
    "status_as_of",
    "value_income",
    "value_cost",
    "value_market",
    "value_option",
    "method_weights",
    "value",
    "value_p05",
    "value_p50",
    "value_p95",
    "methods_used",
    "value_notes",
)
#: the one list of the columns valuation adds (collateral's stress test imports it)
VALUATION_COLUMNS: tuple[str, ...] = VALUE_COLUMNS


#: assumptions a revaluation from prepared stages may change: read by no stage before the economics' rate defaults
RATE_ASSUMPTIONS: tuple[str, ...] = (
    "revenue_growth",
    "tax_rate",
    "discount_rate",
    "discount_rate_build_up",
    "royalty_rate",
    "profit_share",
    "decay_rate",
    "volatility",
    "economic_life_years",
)


@dataclass(frozen=True)
class Prepared:
    """The stages of one chunk that no rate, economic life or rate assumption moves, run once.

    The inputs read and checked, the facts at ``as_of`` (status, remaining life, quality scores), the markets,
    allocation and revenue, and the renewal fees paid (for the cost method), with the notes they took. A
    revaluation that moves only :data:`ipvalue.valuation.inputs.RATE_COLUMNS` and :data:`RATE_ASSUMPTIONS` (the
    stress test's royalty, discount-rate and economic-life shocks) starts from it (:func:`value_prepared`).
    """

    a: dict[str, Any]
    day: dt.date
    inputs: Inputs
    facts: Facts
    markets: Markets
    fees: FeesPaid
    notes: Notes
    #: the Monte Carlo's uniform draws, kept from one revaluation to the next (same seed: same draws)
    uniforms: UniformRows = field(default_factory=UniformRows, compare=False)


def prepare_stages(
    portfolio: pd.DataFrame,
    a: dict[str, Any],
    day: dt.date,
    *,
    currency: str | None = None,
    cohort: dict | None = None,
) -> Prepared:
    """Run the stages of one chunk that no rate moves: read the inputs -> facts at as_of -> markets, fees paid.

    Arguments as for :func:`value_frame`; raises what those stages raise on bad input.
    """
    notes = Notes(len(portfolio))
    inputs = read_inputs(portfolio, a, day, currency, notes)
    facts = read_facts(inputs, a, day, cohort, notes)
    markets = markets_stage(inputs, facts, a, notes)
    fees = fees_paid_stage(inputs, facts, day, notes)
    return Prepared(dict(a), day, inputs, facts, markets, fees, notes)


#: the prepared stages of the books valued lately in this process (:mod:`ipvalue.valuation._stages_cache`)
STAGES_CACHE = StagesCache()


def cached_stages(
    portfolio: pd.DataFrame, a: dict[str, Any], day: dt.date, *, same_rows: bool = True, drop: Any = ()
) -> Prepared:
    """:func:`prepare_stages` of a whole book (its own currency and quality cohort), kept for the next caller.

    The stages are looked up in :data:`STAGES_CACHE` by digests of the frame's every column and index, the
    assumptions and ``day`` (:func:`ipvalue.valuation._stages_cache.stages_keys`); any changed input misses.
    ``same_rows``: only the stages of this very frame (row order, dtypes) hit, the same to the last bit as
    preparing them again. False: also those of the same book in another row order, or with its ``currency``
    text in another dtype (a valued frame, sorted by the collateral checks): their rows are in that book's
    order, so the caller takes its rows back by index (each row's stages are the same in any order). The stages
    returned are read only (their arrays are not writeable) and carry their own, empty Monte Carlo uniforms store.
    ``drop``: columns of ``portfolio`` left out, as if it were ``portfolio.drop(columns=...)`` (without
    ``attrs``), which is prepared on a miss.
    """
    keys = stages_keys(portfolio, a, day, drop=drop)

    def make() -> Prepared:
        book = portfolio
        dropped = set(drop)
        left_out = [c for c in portfolio.columns.tolist() if c in dropped]
        if left_out:
            book = portfolio.drop(columns=left_out)
            book.attrs = {}
        return prepare_stages(book, a, day)

    state = STAGES_CACHE.get_or_make(keys, len(portfolio), make, same_rows=same_rows)
    return replace(state, uniforms=UniformRows())


def can_revalue(state: Prepared, a: Mapping[str, Any], columns: Mapping[str, Any] | None = None) -> bool:
    """Whether :func:`value_prepared` may start from ``state`` for assumptions ``a`` and changed ``columns``.

    True when ``a`` differs from the state's assumptions only in :data:`RATE_ASSUMPTIONS` and ``columns`` names
    only :data:`ipvalue.valuation.inputs.RATE_COLUMNS` (and not the ``allocation_weight`` column).
    """
    cols = set(columns or ())
    if not cols <= set(RATE_COLUMNS) or state.a.get("allocation_weight") in cols:
        return False
    keys = set(a) | set(state.a)
    return all(a.get(k) == state.a.get(k) for k in keys - set(RATE_ASSUMPTIONS))


def value_prepared(
    state: Prepared,
    seed: int,
    *,
    a: Mapping[str, Any] | None = None,
    columns: Mapping[str, Any] | None = None,
    comparables: Any = None,
    texts: bool = True,
) -> pd.DataFrame:
    """Value the chunk of ``state`` from its prepared stages: economics -> methods -> reconcile -> range -> attach.

    Parameters
    ----------
    state : Prepared
        :func:`prepare_stages`'s result (not modified: it serves any number of revaluations).
    seed : int
        Root seed of the per-patent streams.
    a : mapping, optional
        The resolved assumptions of this valuation (None: the state's); may differ from the state's only in
        :data:`RATE_ASSUMPTIONS` (see :func:`can_revalue`).
    columns : mapping of str to array, optional
        Columns of the chunk replaced for this valuation, only :data:`ipvalue.valuation.inputs.RATE_COLUMNS`
        (a column not in the chunk is added at its end).
    comparables : pandas.DataFrame, optional
        Comparable transactions for the market approach.
    texts : bool
        Write the text columns; False leaves ``method_weights``, ``methods_used`` and ``value_notes`` None in
        every row, no note being kept (every other column the same).

    Returns
    -------
    pandas.DataFrame
        The same to the last bit as :func:`value_frame` on the chunk with ``columns`` replaced and assumptions
        ``a``: the chunk with :data:`VALUE_COLUMNS` and ``currency``.

    Raises
    ------
    ValueError
        When ``a`` or ``columns`` change what the prepared stages read.
    ValuationInputError
        When a replaced column breaks its rule.
    """
    a, inputs = _shock_inputs(state, a, columns)
    notes = state.notes.copy()
    notes.wanted = texts  # without texts no note is kept (nor its text written, where that costs)
    return _value_rest(inputs, state, a, seed, notes, comparables, state.uniforms, texts=texts)


def _shock_inputs(
    state: Prepared, a: Mapping[str, Any] | None, columns: Mapping[str, Any] | None
) -> tuple[dict[str, Any], Inputs]:
    """The assumptions and inputs of one revaluation from ``state`` (its changed rate columns read again)."""
    a = state.a if a is None else dict(a)
    if not can_revalue(state, a, columns):
        raise ValueError("the prepared stages cannot serve this valuation (it changes more than rates)")
    frame = state.inputs.frame.copy(deep=False)  # its own shallow copy: the state's frame serves other shocks
    if columns:
        for c, v in columns.items():
            frame[c] = v
        return a, reread_rates(state.inputs, frame, columns, state.day)
    return a, replace(state.inputs, frame=frame)


def value_prepared_many(
    state: Prepared,
    seed: int,
    shocks: Sequence[tuple[Mapping[str, Any] | None, Mapping[str, Any] | None]],
    *,
    comparables: Any = None,
    texts: bool = True,
) -> list[pd.DataFrame]:
    """:func:`value_prepared` for several shocks at once: the stages after the economics run once on a shock axis.

    Each shock's economics (the only stage that reads the rate assumptions) runs on its own; then the shocks'
    rows are stacked, shock after shock, and the methods, the reconciliation and the Monte Carlo range run once
    over the stack (every one of them works row by row, so a row's numbers do not depend on the rows beside it;
    the Monte Carlo draws each patent's own stream, the same for every shock), and the stack is split into one
    frame per shock. With comparables, or fewer than two shocks or rows, each shock runs on its own.

    Parameters
    ----------
    state : Prepared
        :func:`prepare_stages`'s result (not modified).
    seed : int
        Root seed of the per-patent streams.
    shocks : sequence of (assumptions, columns)
        Per shock, the ``a`` and ``columns`` :func:`value_prepared` takes (None: the state's assumptions, no
        column changed).
    comparables : pandas.DataFrame, optional
        Comparable transactions for the market approach.
    texts : bool
        Write the text columns; False leaves ``method_weights``, ``methods_used`` and ``value_notes`` None in
        every row (every other column the same: for a caller that reads the numbers only, the stress test).

    Returns
    -------
    list of pandas.DataFrame
        One frame per shock, each the same to the last bit as :func:`value_prepared` gives for it.

    Raises
    ------
    ValueError, ValuationInputError
        As :func:`value_prepared`, for the first shock at fault.
    """
    n = state.inputs.n
    if comparables is not None or len(shocks) < 2 or n < 2:
        return [
            value_prepared(state, seed, a=a, columns=c, comparables=comparables, texts=texts)
            for a, c in shocks
        ]
    inputs, added = _revalue_stacked(state, seed, shocks, texts)
    return [attach(inp.frame, _shock_part(added, j, n)) for j, inp in enumerate(inputs)]


def _revalue_stacked(
    state: Prepared,
    seed: int,
    shocks: Sequence[tuple[Mapping[str, Any] | None, Mapping[str, Any] | None]],
    texts: bool,
    range_kernels: Any = None,
) -> tuple[list[Inputs], dict[str, Any]]:
    """Each shock's inputs and the columns the later stages add, stacked shock after shock (``n`` rows each)."""
    n = state.inputs.n
    runs = []
    for a_k, columns in shocks:
        a, inputs = _shock_inputs(state, a_k, columns)
        notes = state.notes.copy()
        notes.wanted = texts  # without texts no note is kept (nor its text written, where that costs)
        econ = economics(inputs, state.facts, a, state.day, notes, markets=state.markets)
        runs.append((a, inputs, notes, econ))
    k = len(runs)
    stacked = replace(
        state,
        # later stages read no rate assumption: they get none (a KeyError, not a wrong number, if one ever did)
        a={key: v for key, v in runs[0][0].items() if key not in RATE_ASSUMPTIONS},
        inputs=_stack_inputs([r[1] for r in runs]),
        facts=stack_rows([state.facts] * k, n),
        fees=stack_rows([state.fees] * k, n),
    )
    notes = stack_notes([r[2] for r in runs])
    econ = stack_rows([r[3] for r in runs], n)
    # no uniforms store: the range draws each patent's uniforms once for all its shock rows, and a store would
    # only hold them (and the arrays they are views of) for the rest of the run
    added = _later_stages(
        stacked.inputs,
        stacked,
        stacked.a,
        econ,
        seed,
        notes,
        None,
        None,
        texts=texts,
        range_kernels=range_kernels,
    )
    return [r[1] for r in runs], added


def _shock_part(added: Mapping[str, Any], j: int, n: int) -> dict[str, Any]:
    """The rows of shock ``j`` (``n`` rows a shock) of the stacked added columns."""
    rows = slice(j * n, (j + 1) * n)
    return {c: (v[rows] if isinstance(v, np.ndarray) else v) for c, v in added.items()}


def value_prepared_onto(
    state: Prepared,
    seed: int,
    shocks: Sequence[tuple[Mapping[str, Any] | None, Mapping[str, Any] | None]],
    frame: pd.DataFrame,
    *,
    texts: bool = True,
    range_kernels: Any = None,
) -> list[pd.DataFrame]:
    """:func:`value_prepared_many`'s frames laid onto ``frame``, a valued frame of the state's book.

    ``frame`` holds rows of the state's chunk (by index, in any order) with the chunk's columns and the
    valuation's (what :func:`ipvalue.value_portfolio` returned for the book, e.g. checked and sorted by the
    collateral engine). Each result is the same to the last bit as ``value_prepared_many(state, seed, shocks,
    texts=texts)[k].reindex(frame.index)`` with empty ``attrs`` (the same columns in the same order, dtypes,
    values and index), built as a shallow copy of ``frame`` in which only the columns whose values (or dtype)
    the revaluation changes are replaced, the rows taken from the stack by one positional take: every other
    column is ``frame``'s own array, so a reader comparing the columns with ``frame``'s (the collateral engine's
    :class:`~ipvalue.collateral._columns.EngineColumns`) finds them unchanged at once. When ``frame`` is not laid
    out so (a row the chunk lacks, repeated labels, another index name, its columns not the revaluation's in its
    order) the frames are built as :func:`value_prepared_many` builds them, then reindexed.

    Parameters
    ----------
    state, seed, shocks, texts
        As for :func:`value_prepared_many` (the shocks' columns in the chunk's row order).
    frame : pandas.DataFrame
        The valued frame of the chunk.
    range_kernels : module, optional
        The range's compiled draws (:mod:`ipvalue.valuation._range_fused`, the same numbers), or None (numpy).

    Returns
    -------
    list of pandas.DataFrame
        One frame per shock, rows as ``frame``'s.
    """
    n = state.inputs.n
    if len(shocks) < 2 or n < 2:
        return [_plain(f.reindex(frame.index)) for f in value_prepared_many(state, seed, shocks, texts=texts)]
    inputs, added = _revalue_stacked(state, seed, shocks, texts, range_kernels)
    pos = _positions(state.inputs.frame.index, frame.index)
    names = frame.columns.tolist()
    fits = pos is not None and len(set(names)) == len(names)
    have = dict(zip(names, column_arrays(frame), strict=True)) if fits else {}
    replaced = (
        _replaced_columns(frame, have, pos, inputs, shocks, added, n) if fits and pos is not None else None
    )
    out = []
    for j, inp in enumerate(inputs):
        got = None if replaced is None else _onto(frame, have, inp.frame, added, replaced[j])
        out.append(
            _plain(attach(inp.frame, _shock_part(added, j, n)).reindex(frame.index)) if got is None else got
        )
    return out


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    frame.attrs = {}
    return frame


def _positions(chunk: pd.Index, index: pd.Index) -> np.ndarray | None:
    """Where each label of ``index`` sits in ``chunk`` (both without repeats, the same name), else None."""
    if not (chunk.is_unique and index.is_unique) or chunk.names != index.names:
        return None
    pos = chunk.get_indexer(index)
    return None if (pos < 0).any() else pos


def _replaced_columns(
    frame: pd.DataFrame,
    have: Mapping[str, Any],
    pos: np.ndarray,
    inputs: list[Inputs],
    shocks: Sequence[tuple[Mapping[str, Any] | None, Mapping[str, Any] | None]],
    added: Mapping[str, Any],
    n: int,
) -> list[dict[str, Any]] | None:
    """Per shock, the columns of its frame that differ from ``frame``'s own or that it lacks.

    Made as :func:`attach` makes them, rows as ``frame``'s (``have``: its columns by name as arrays); None when
    one cannot be made so. The shocks' rows of each added column are taken to ``frame``'s rows at once (``pos``) and compared with
    ``frame``'s column at once (numbers by their bits, objects one by one: the same object or equal texts).
    """
    k = len(inputs)
    out: list[dict[str, Any]] = [{} for _ in range(k)]
    index = frame.index
    for c, v in added.items():
        if isinstance(v, np.ndarray) and v.ndim == 1 and len(v) == k * n:
            rows = v.reshape(k, n)[:, pos]  # shock by shock, in frame's row order
            if c in _TEXT_COLUMNS:  # attach frames a text column as object, whatever pandas would infer
                rows = rows.astype(object, copy=False)
                same = [c in have and _same_column(have[c], rows[j]) for j in range(k)]
                empty = all(x is None for x in rows.ravel().tolist())
                shared = pd.Series(rows[0], index=index, dtype=object) if empty else None
                for j in range(k):
                    if not same[j]:
                        out[j][c] = (
                            shared if shared is not None else pd.Series(rows[j], index=index, dtype=object)
                        )
                continue
            if rows.dtype != np.float64:
                return None
            x = have.get(c)
            if isinstance(x, np.ndarray) and x.dtype == np.float64:
                same_bits = (rows.view(np.int64) == x.view(np.int64)[None, :]).all(axis=1).tolist()
            else:
                same_bits = [False] * k
            for j in range(k):
                if not same_bits[j]:
                    out[j][c] = rows[j]
        elif pd.api.types.is_scalar(v):
            # a scalar (the run's currency): broadcast as pandas does for a column set to it, or framed with others
            # (both build the column as pd.Series(v, index=...) does)
            col = pd.Series(v, index=index)
            if not (c in have and _same_column(have[c], col)):
                for j in range(k):
                    out[j][c] = col
        else:
            return None
    for j, (_, columns) in enumerate(shocks):
        for c, v in (columns or {}).items():
            # _shock_inputs sets the shocked column as the array given
            if not (isinstance(v, np.ndarray) and v.ndim == 1 and v.dtype == np.float64 and len(v) == n):
                return None
            col = v[pos]
            if not (c in have and _same_column(have[c], col)):
                out[j][c] = col
    return out


def _onto(
    frame: pd.DataFrame,
    have: Mapping[str, Any],
    chunk: pd.DataFrame,
    added: Mapping[str, Any],
    replaced: Mapping[str, Any],
) -> pd.DataFrame | None:
    """One revaluation laid onto ``frame`` (see :func:`value_prepared_onto`); None when ``frame`` does not fit.

    ``chunk`` is the revaluation's frame of inputs (the shocked columns set on it), ``added`` the columns
    :func:`added_columns` gave, ``replaced`` the columns to set (:func:`_replaced_columns`); ``have`` is
    ``frame``'s columns by name as arrays. The columns are those :func:`attach` gives, in its order: the
    chunk's, then the added ones it lacks.
    """
    layout = chunk.columns.tolist()  # names as a list (iterating pandas' text index goes name by name)
    known = set(layout)
    layout += [c for c in added if c not in known]
    known = set(layout)
    if len(known) != len(layout) or not known.issuperset(have):
        return None
    if [c for c in layout if c in have] != list(have):  # have: frame's columns in order
        return None
    out = frame.copy(deep=False)  # copy-on-write: frame keeps its columns
    for i, c in enumerate(layout):  # out's first columns are layout's up to i (the missing ones inserted)
        if c in have:
            if c in replaced:
                out.isetitem(i, replaced[c])  # by position: the set pandas does by name, without the look-up
        elif c in replaced:
            out.insert(i, c, replaced[c])
        else:
            return None  # a column the chunk has and frame lacks (not one the revaluation sets)
    out.attrs = {}
    return out


def _same_column(x: Any, y: Any) -> bool:
    """Whether column array ``x`` has the dtype and values of ``y`` (an array or a Series) to the last bit.

    Numbers by their bytes (:func:`~ipvalue.facts.columns.same_values`); objects element by element, the same
    object or equal texts (in doubt: no); pandas' own arrays as :func:`~ipvalue.facts.columns.same_values`.
    """
    ya = y.to_numpy() if isinstance(y, pd.Series) and isinstance(y.dtype, np.dtype) else y
    ya = ya.array if isinstance(ya, pd.Series) else ya
    if x.dtype != ya.dtype or len(x) != len(ya):
        return False
    if isinstance(x, np.ndarray) and x.dtype == object:
        return all(
            p is q or (type(p) is str and type(q) is str and p == q)
            for p, q in zip(x.tolist(), ya.tolist(), strict=True)
        )
    return same_values(x, ya)


def _stack_inputs(inputs: list[Inputs]) -> Inputs:
    """The inputs of several shocks of one chunk stacked row-wise (groups kept apart, shock by shock)."""
    first, n = inputs[0], inputs[0].n
    g = first.groups
    groups = replace(
        g,
        codes=np.concatenate([g.codes] * len(inputs)),
        in_group=np.concatenate([g.in_group] * len(inputs)),
        id_order=np.concatenate([g.id_order + j * n for j in range(len(inputs))]),
    )
    parts = {
        f.name: stack_rows([getattr(i, f.name) for i in inputs], n)
        for f in fields(first)
        if f.name not in ("frame", "groups")
    }
    # the later stages read no column of the frame (the cost method reads the years used with the fees paid,
    # stacked with the state): the index only, the first shock's once per shock
    k, src = len(inputs), first.frame.index
    frame = pd.DataFrame(index=src.append([src] * (k - 1)) if k > 1 else src)
    return replace(first, frame=frame, groups=groups, **parts)


def value_frame(
    portfolio: pd.DataFrame,
    a: dict[str, Any],
    day: dt.date,
    seed: int,
    *,
    currency: str | None = None,
    cohort: dict | None = None,
    comparables: Any = None,
    keep: bool = False,
) -> pd.DataFrame:
    """Value one chunk: the stages in order. Returns the frame with :data:`VALUE_COLUMNS` and ``currency``.

    ``currency`` and ``cohort`` (the quality cohort caps) are the book-level results of the first pass when the
    frame is one chunk of a larger book; omitted, they come from the frame itself. Rows of a ``group`` must all be
    in the same chunk. ``comparables`` feeds the market approach (None: ``value_market`` is NaN). ``keep``
    (a whole book: no ``currency`` or ``cohort`` given): the prepared stages come from, or go into,
    :data:`STAGES_CACHE` for a later revaluation of the same book (the stress test of its assessment).
    """
    if keep and currency is None and cohort is None:
        state = cached_stages(portfolio, a, day)
        return _value_rest(state.inputs, state, state.a, seed, state.notes.copy(), comparables)
    state = prepare_stages(portfolio, a, day, currency=currency, cohort=cohort)
    # the one valuation of this state: it may take its notes as they are
    return _value_rest(state.inputs, state, state.a, seed, state.notes, comparables)


def _value_rest(
    inputs: Inputs,
    state: Prepared,
    a: dict[str, Any],
    seed: int,
    notes: Notes,
    comparables: Any,
    uniforms: UniformRows | None = None,
    *,
    texts: bool = True,
) -> pd.DataFrame:
    """The stages after the prepared ones: economics -> methods -> reconcile -> range -> attach."""
    econ = economics(inputs, state.facts, a, state.day, notes, markets=state.markets)
    added = _later_stages(inputs, state, a, econ, seed, notes, comparables, uniforms, texts=texts)
    return attach(inputs.frame, added)


def _later_stages(
    inputs: Inputs,
    state: Prepared,
    a: dict[str, Any],
    econ: Economics,
    seed: int,
    notes: Notes,
    comparables: Any,
    uniforms: UniformRows | None,
    *,
    texts: bool = True,
    range_kernels: Any = None,
) -> dict[str, Any]:
    """The stages after the economics: methods -> reconcile -> range; the columns they add (by row).

    ``texts`` False: the text columns but ``status_as_of`` are left None (see :func:`value_prepared_many`).
    ``range_kernels``: the range's compiled draws (:mod:`ipvalue.valuation._range_fused`), or None (numpy).
    """
    facts, day = state.facts, state.day
    income = income_values(econ, facts, a, notes)
    market = market_values(inputs, facts, econ, day, comparables, max_level=a["market_max_level"])
    values = {
        "income": income.value,
        "option": option_values(econ, facts, income, a, notes),
        "cost": cost_values(inputs, facts, econ, a, day, notes, fees=state.fees),
        "market": market.value,
    }
    values = {k: np.where(facts.unknown, np.nan, v) for k, v in values.items()}
    labels = np.asarray([METHOD_LABELS[m] for m in INCOME_METHODS], dtype=object)[econ.method_code]
    rec = reconcile_values(
        values,
        econ.situation,
        facts.dead,
        facts.life_legal,
        labels,
        a["method_weights"],
        market.reason,
        notes,
        unknown=facts.unknown,
        market_ok=market.weighable,
        texts=texts,
    )
    bounds = (np.where(facts.unknown, np.nan, market.low), np.where(facts.unknown, np.nan, market.high))
    spread = value_range(
        inputs.ids,
        facts,
        econ,
        values,
        rec,
        a,
        seed,
        notes,
        market_bounds=bounds,
        uniforms=uniforms,
        kernels=range_kernels,
    )
    return added_columns(inputs, facts, econ, values, rec, spread, notes, texts=texts)


def added_columns(
    inputs: Inputs,
    facts: Facts,
    econ: Economics,
    values: Mapping[str, np.ndarray],
    rec: Reconciled,
    spread: ValueRange,
    notes: Notes,
    *,
    texts: bool = True,
) -> dict[str, Any]:
    """The columns a valuation adds to the chunk, as arrays by row (text as object arrays), and ``currency``.

    A pending application's every value (by method, reconciled and its range) is multiplied by its grant factor
    (probability of grant x discount for the wait), see :func:`ipvalue.valuation.asof.grant_adjustment`.
    :func:`attach` puts them on the chunk's frame. ``texts`` False: ``value_notes`` is None in every row (and
    ``method_weights`` and ``methods_used`` are, when the reconciliation wrote none).
    """
    gf = econ.grant.factor
    n = inputs.n
    quality = {
        c: facts.quality[c].to_numpy(dtype=float, na_value=np.nan)
        if c in facts.quality
        else np.full(n, np.nan)
        for c in QUALITY_COLUMNS
    }
    return {
        "remaining_life_years": facts.life_legal,
        **quality,
        "value_income": values["income"] * gf,
        "value_cost": values["cost"] * gf,
        "value_market": values["market"] * gf,
        "value_option": values["option"] * gf,
        "grant_probability": econ.grant.probability,
        "status_as_of": np.asarray(facts.status, dtype=object),
        "method_weights": np.asarray(rec.explained, dtype=object),
        "value": rec.value * gf,
        "value_p05": spread.p05 * gf,
        "value_p50": spread.p50 * gf,
        "value_p95": spread.p95 * gf,
        "methods_used": np.asarray(rec.methods_used, dtype=object),
        "value_notes": notes.texts() if texts else np.full(n, None, dtype=object),
        "currency": inputs.currency,
    }


#: the added columns that hold text (object columns)
_TEXT_COLUMNS = ("status_as_of", "method_weights", "methods_used", "value_notes")


def attach(frame: pd.DataFrame, added: Mapping[str, Any]) -> pd.DataFrame:
    """``frame`` with the columns of :func:`added_columns` (rows in the frame's order) and no ``attrs``.

    A column the frame has already (``currency``, or a frame valued before) is replaced where it is, on a
    shallow copy (the caller's frame, or the prepared stages', is never modified); the others are added after it.
    """
    index = frame.index
    cols = {c: pd.Series(v, index=index, dtype=object) if c in _TEXT_COLUMNS else v for c, v in added.items()}
    existing = [c for c in cols if c in frame.columns]
    if existing:
        frame = frame.copy(deep=False)
        for c in existing:
            frame[c] = cols.pop(c)
    # one concatenation instead of a column insertion each (the same columns, in the same order)
    out = pd.concat([frame, pd.DataFrame(cols, index=index)], axis=1) if cols else frame
    out.attrs = {}
    return out


def value_chunk(
    chunk: pd.DataFrame,
    *,
    a: Mapping[str, Any],
    as_of: dt.date,
    seed: int,
    currency: str | None,
    cohort: Mapping[str, pd.DataFrame] | None,
    comparables: Any = None,
    attrs: Mapping[str, Any] | None = None,
    keep: bool = False,
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
    comparables : pandas.DataFrame, optional
        Comparable transactions for the market approach (the same table for every chunk).
    attrs : mapping, optional
        Set as the result's ``attrs``.
    keep : bool
        Keep the prepared stages of a whole book for its later revaluation (see :func:`value_frame`).

    Returns
    -------
    pandas.DataFrame
        The chunk with the valuation columns and ``currency``.
    """
    out = value_frame(
        chunk,
        dict(a),
        as_of,
        seed,
        currency=currency,
        cohort=None if cohort is None else dict(cohort),
        comparables=comparables,
        keep=keep,
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
