"""The collateral engine on one chunk of patents, and the reduction of the chunks' results.

Everything a run needs besides the patents is one :class:`CollateralContext` (loan, policy, dates, seed, paths,
FX table and the stress overrides). The per-patent part is :func:`assess_chunk`: eligibility, haircuts,
collateral value, partial sums and the liquidation Monte Carlo's per-path partial sums over the chunk's pledged
patents. :func:`finish_chunks` reduces the chunks' results (loan sizing, the liquidation), and
:func:`assess_frame` is the whole engine in one pass in this process (one chunk). The distributed run
(:mod:`ipvalue.collateral.distributed`) and the stress tests (:mod:`ipvalue.collateral.stress`) call these
functions; nothing here imports them back.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from ipvalue.collateral._assessment import Loan
from ipvalue.collateral._columns import EngineColumns
from ipvalue.collateral._inputs import CollateralInputError, check_frame, fx_rates_of, num
from ipvalue.collateral.eligibility import eligibility_arrays, eligibility_frame, loan_horizon_years
from ipvalue.collateral.fx import patent_fx_volatility
from ipvalue.collateral.haircut import (
    COMPONENTS,
    PATENT_COMPONENTS,
    concentration_totals,
    finish_columns,
    finish_haircut_basis,
    finished_bases,
    haircut_arrays,
    haircut_basis_texts,
    haircut_frame,
)
from ipvalue.collateral.liquidation import (
    LIQUIDATION_COLUMNS,
    LiquidationPaths,
    LiquidationPool,
    MonteCarloResult,
    PatentDraws,
    compiled_kernels,
    deterministic_rows,
    finish_liquidation,
    liquidation_partial_sums,
    liquidation_partial_sums_many,
    liquidation_paths,
    monte_carlo_row,
    scenario_values,
    with_crash_probability,
    with_obsolescence_shift,
)
from ipvalue.collateral.policy import Policy
from ipvalue.collateral.sizing import size_loan
from ipvalue.facts.columns import as_date

__all__ = [
    "CollateralContext",
    "ChunkResult",
    "CoreResult",
    "LIQUIDATION_VALUE",
    "DRAW_CACHE_ELEMENTS",
    "loan_offset_years",
    "liquidation_setup",
    "shock_setup",
    "chunk_totals",
    "assess_chunk",
    "PreparedChunk",
    "prepare_chunk",
    "ChunkArrays",
    "chunk_arrays",
    "life_elapsed_years",
    "liquidity_haircut",
    "shock_numbers",
    "fx_columns",
    "finish_chunks",
    "assess_frame",
    "finish_base",
    "with_liquidation_values",
]

#: books of at most this many pledged patents x paths keep their Monte Carlo draws for the stress shocks
#: (about 25 bytes each: 50 MB)
DRAW_CACHE_ELEMENTS = 2_000_000

#: helper column carrying the values the liquidation starts from (stress: the market crash)
LIQUIDATION_VALUE = "_ipvalue_liquidation_value"


@dataclass(frozen=True)
class CollateralContext:
    """Everything one run of the engine needs besides the patents.

    Attributes
    ----------
    loan : Loan
    policy : Policy
    as_of : datetime.date
        The assessment date.
    seed : int
        Root seed of the per-patent and path-level streams.
    paths : int
        Monte Carlo paths.
    fx : mapping, optional
        Loan-currency units per unit of any other valuation currency in the frame.
    obsolescence_shift : float
        Added to the policy's obsolescence rate (stress tests).
    crash_probability : float, optional
        Overrides the policy's probability of a crashed IP market (stress tests; 1.0 = crashed).
    valuation_as_of : datetime.date, optional
        The valuation's date; the remaining life it gives is shortened by the time to ``as_of``.
    """

    loan: Loan
    policy: Policy
    as_of: dt.date
    seed: int
    paths: int
    fx: Mapping[str, float] | None = None
    obsolescence_shift: float = 0.0
    crash_probability: float | None = None
    valuation_as_of: dt.date | None = None


@dataclass
class ChunkResult:
    """What one chunk contributes: its patent rows, partial sums, and the liquidation's per-path partial sums."""

    patents: pd.DataFrame
    sums: dict[str, float]
    stats: dict[str, Any]
    mc_partial: dict[str, np.ndarray]
    scenario_values: dict[str, float]
    arrays: ChunkArrays | None = None


@dataclass
class CoreResult:
    """One pass of the engine over the whole book (the base case or one stress shock)."""

    patents: pd.DataFrame
    numbers: dict[str, Any]
    mc: MonteCarloResult
    liquidation: pd.DataFrame
    stats: dict[str, Any]
    parts: list[ChunkResult] | None = None
    setup: LiquidationPaths | None = None
    draws: PatentDraws | None = None
    arrays: ChunkArrays | None = None
    #: the patents' ``haircut_basis`` dicts and their ``str()`` texts for the output hash, written from columns
    #: on request (:func:`~ipvalue.collateral.haircut.haircut_basis_texts`; None: none known)
    basis_texts: Callable[[], tuple[list[Any], list[str]] | None] | None = None


def loan_offset_years(loan: Loan, as_of: dt.date) -> float:
    """Years from ``as_of`` to the loan's start (0 when it starts at ``as_of``)."""
    start = (
        as_date(loan.start_date, "loan.start_date", error=CollateralInputError) if loan.start_date else as_of
    )
    return (start - as_of).days / 365.25


def liquidation_setup(ctx: CollateralContext) -> LiquidationPaths:
    """The Monte Carlo's path-level draws for this run (the same for every chunk)."""
    return liquidation_paths(
        loan=ctx.loan,
        policy=ctx.policy,
        seed=ctx.seed,
        paths=ctx.paths,
        start_offset_years=loan_offset_years(ctx.loan, ctx.as_of),
        obsolescence_shift=ctx.obsolescence_shift,
        crash_probability=ctx.crash_probability,
    )


def shock_setup(
    ctx: CollateralContext, base_ctx: CollateralContext, base_setup: LiquidationPaths
) -> LiquidationPaths:
    """:func:`liquidation_setup` of a shock's context, from the base case's where they differ in little.

    The base case's setup when the contexts are equal, the base case's with its drift moved when they differ in
    the obsolescence shift (:func:`~ipvalue.collateral.liquidation.with_obsolescence_shift`) and its paths
    regrouped when they differ in the probability of a crashed market
    (:func:`~ipvalue.collateral.liquidation.with_crash_probability`), else drawn anew. The same to the last bit
    as ``liquidation_setup(ctx)`` in every case.
    """
    if ctx == base_ctx:
        return base_setup
    if (
        replace(
            ctx, obsolescence_shift=base_ctx.obsolescence_shift, crash_probability=base_ctx.crash_probability
        )
        != base_ctx
    ):
        return liquidation_setup(ctx)
    setup: LiquidationPaths | None = base_setup
    if ctx.crash_probability != base_ctx.crash_probability:
        setup = with_crash_probability(base_setup, ctx.policy, ctx.crash_probability)
    if setup is None:
        return liquidation_setup(ctx)
    if ctx.obsolescence_shift != base_ctx.obsolescence_shift:
        setup = with_obsolescence_shift(setup, ctx.policy, ctx.obsolescence_shift)
    return setup


def life_elapsed_years(ctx: CollateralContext) -> float:
    """Years from the valuation's date to ``as_of`` (0 when the valuation is not older than the assessment)."""
    if ctx.valuation_as_of is None or ctx.valuation_as_of >= ctx.as_of:
        return 0.0
    return (ctx.as_of - ctx.valuation_as_of).days / 365.25


def age_to_as_of(frame: pd.DataFrame, ctx: CollateralContext) -> pd.DataFrame:
    """The frame with ``remaining_life_years`` shortened by the years from the valuation's date to ``as_of``.

    The valuation gives the remaining life at its own date; term checks and the remaining-life haircut use the
    assessment's date (a life that runs out on the way becomes 0, and the patent fails with ``EXPIRED``).
    """
    elapsed = life_elapsed_years(ctx)
    if elapsed == 0.0:
        return frame
    out = frame.copy()
    out["remaining_life_years"] = np.maximum(num(frame, "remaining_life_years") - elapsed, 0.0)
    return out


def disposal_packages(frame: pd.DataFrame, policy: Policy) -> np.ndarray:
    """The disposal package of each patent: its label in the first of the policy's ``package_by`` dimensions.

    Product line (``group``), family (``family_id``) or technology class (CPC subclass), each only where the
    patent has one; a patent with none is a package of its own. Labels carry their dimension, so a family and a
    product line of the same name are different packages.
    """
    return EngineColumns(frame).packages(tuple(policy["package_by"]))


def fx_columns(cols: EngineColumns, ctx: CollateralContext) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rate into the loan currency, mismatch mask and FX volatility per patent (memoised on ``cols``)."""
    ccy = ctx.loan.currency
    cur = cols.currency(ccy)
    key = ("fx", ccy, repr(sorted(dict(ctx.fx or {}).items())))

    def read(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        rate, mismatch = fx_rates_of(cur, cols.ids, ccy, ctx.fx)
        return rate, mismatch, patent_fx_volatility(cur, ccy, cols.ids)

    return cols.derived(key, ("currency",), read)


def _pool_value(cols: EngineColumns, ctx: CollateralContext) -> np.ndarray:
    elig = eligibility_arrays(cols, ctx.loan, ctx.policy, as_of=ctx.as_of, reasons=False)
    fx_rate, _, _ = fx_columns(cols, ctx)
    return np.where(elig["eligible"], np.nan_to_num(cols.num("value")) * fx_rate, 0.0)


def chunk_totals(chunk: pd.DataFrame, ctx: CollateralContext) -> dict[str, Any]:
    """Map step of the concentration totals: the chunk's pooled value by family, technology class, product line."""
    cols = EngineColumns(check_frame(chunk), life_elapsed_years=life_elapsed_years(ctx))
    return concentration_totals(_pool_value(cols, ctx), cols.buckets())


@dataclass
class ChunkArrays:
    """The per-patent part of one chunk as arrays: what the patent rows, the sums and the stress numbers need.

    Attributes
    ----------
    cols : EngineColumns
        The columns read.
    elig : dict
        :func:`~ipvalue.collateral.eligibility.eligibility_arrays`.
    hc : dict
        :func:`~ipvalue.collateral.haircut.haircut_arrays` (``haircut_basis`` None unless asked for).
    stats : dict
        The haircut stats, ``currency_mismatch`` and ``cap_binding``.
    sums : dict
        The chunk's partial sums (appraised, eligible and collateral value).
    pool : LiquidationPool
        The pledged patents for the liquidation Monte Carlo.
    """

    cols: EngineColumns
    elig: dict[str, Any]
    hc: dict[str, Any]
    stats: dict[str, Any]
    sums: dict[str, float]
    pool: LiquidationPool


def chunk_arrays(
    cols: EngineColumns,
    ctx: CollateralContext,
    *,
    totals: dict[str, Any] | None = None,
    liquidation_value: np.ndarray | None = None,
    rows: bool = True,
    elig: dict[str, Any] | None = None,
    bucket_sums: dict[str, np.ndarray] | None = None,
) -> ChunkArrays:
    """Eligibility, haircuts, collateral value, partial sums and the pledged pool of one chunk, on arrays.

    ``liquidation_value``: the values the liquidation starts from (the stress crash), else ``value``.
    ``rows=False`` leaves out what only the patent rows need (reason texts, ``haircut_basis``): a stress shock.
    ``elig`` (:func:`~ipvalue.collateral.eligibility.eligibility_arrays` of these columns and context) and
    ``bucket_sums`` (:func:`~ipvalue.collateral.haircut.bucket_sums_many`) when the caller has them.
    """
    loan, policy, as_of = ctx.loan, ctx.policy, ctx.as_of
    if elig is None:
        elig = eligibility_arrays(cols, loan, policy, as_of=as_of, reasons=rows)
    fx_rate, mismatch, fx_sigma = fx_columns(cols, ctx)
    eligible = elig["eligible"]
    hc, stats = haircut_arrays(
        cols,
        eligible=eligible,
        policy=policy,
        horizon_years=loan_horizon_years(loan, as_of),
        fx_rate=fx_rate,
        currency_mismatch=mismatch,
        fx_volatility=fx_sigma,
        obsolescence_shift=ctx.obsolescence_shift,
        totals=totals,
        reasons=elig["reasons"] if rows else None,
        bucket_sums=bucket_sums,
    )
    value = cols.num("value")
    value_ccy = value * fx_rate
    sums = {
        "appraised_value": float(np.nansum(value_ccy)),
        "appraised_value_p05": float(np.nansum(cols.num("value_p05") * fx_rate))
        if cols.has("value_p05")
        else float("nan"),
        "appraised_value_p95": float(np.nansum(cols.num("value_p95") * fx_rate))
        if cols.has("value_p95")
        else float("nan"),
        "eligible_value": float(np.nansum(np.where(eligible, value_ccy, 0.0))),
        "collateral_value": float(np.nansum(hc["collateral_value"])),
    }
    v0 = value if liquidation_value is None else liquidation_value
    pool = LiquidationPool.build(
        ids=cols.ids.astype(str)[eligible],
        value=np.nan_to_num(v0 * fx_rate)[eligible],
        volatility=cols.num("volatility")[eligible],
        remaining_life=cols.num("remaining_life_years")[eligible],
        quality_legal=cols.num("quality_legal")[eligible],
        quality_score=cols.num("quality_score")[eligible],
        in_litigation=cols.flag("in_litigation")[eligible],
        policy=policy,
        package=cols.packages(tuple(policy["package_by"]))[eligible],
    )
    stats = {
        **stats,
        "currency_mismatch": bool(mismatch[eligible].any()),
        "cap_binding": bool(hc["cap_binding"].any()),
    }
    return ChunkArrays(cols=cols, elig=elig, hc=hc, stats=stats, sums=sums, pool=pool)


@dataclass
class PreparedChunk:
    """The per-patent part of one chunk before the Monte Carlo: patent rows, sums, stats and the pledged pool."""

    patents: pd.DataFrame
    sums: dict[str, float]
    stats: dict[str, Any]
    pool: LiquidationPool
    scenario_values: dict[str, float]
    arrays: ChunkArrays | None = None

    def with_partials(self, mc_partial: dict[str, np.ndarray]) -> ChunkResult:
        """The chunk's result once the Monte Carlo's per-path partial sums over its pool are known."""
        return ChunkResult(
            patents=self.patents,
            sums=self.sums,
            stats=self.stats,
            mc_partial=mc_partial,
            scenario_values=self.scenario_values,
            arrays=self.arrays,
        )


def prepare_chunk(
    chunk: pd.DataFrame,
    ctx: CollateralContext,
    *,
    totals: dict[str, Any] | None = None,
    checked: bool = False,
) -> PreparedChunk:
    """Eligibility, haircuts, collateral value, partial sums and the pledged pool of one chunk (no Monte Carlo).

    ``checked=True`` skips :func:`~ipvalue.collateral._inputs.check_frame` for a frame the engine made itself
    from a checked one (a stress shock's frame); the input is checked once, at the edge. The columns are read
    once (:class:`~ipvalue.collateral._columns.EngineColumns`), the work done on arrays
    (:func:`chunk_arrays`) and the patent rows assembled at the end.
    """
    loan, policy, as_of = ctx.loan, ctx.policy, ctx.as_of
    frame = age_to_as_of(chunk if checked else check_frame(chunk), ctx)
    liq_value = num(frame, LIQUIDATION_VALUE) if LIQUIDATION_VALUE in frame.columns else None
    if liq_value is not None:
        frame = frame.drop(columns=[LIQUIDATION_VALUE])
    arrays = chunk_arrays(EngineColumns(frame), ctx, totals=totals, liquidation_value=liq_value)
    elig = eligibility_frame(arrays.elig, frame.index)
    hc = haircut_frame(arrays.hc, frame.index)
    collateral_cols = set(elig.columns) | set(hc.columns)
    patents = pd.concat(
        [frame.drop(columns=[c for c in frame.columns if c in collateral_cols]), elig, hc], axis=1
    )
    return PreparedChunk(
        patents=patents,
        sums=arrays.sums,
        stats=arrays.stats,
        pool=arrays.pool,
        scenario_values=scenario_values(
            arrays.pool,
            loan=loan,
            policy=policy,
            start_offset_years=loan_offset_years(loan, as_of),
            obsolescence_shift=ctx.obsolescence_shift,
        ),
        arrays=arrays,
    )


def assess_chunk(
    chunk: pd.DataFrame,
    ctx: CollateralContext,
    *,
    setup: LiquidationPaths,
    totals: dict[str, Any] | None = None,
) -> ChunkResult:
    """The per-patent part on one chunk (the whole frame in a single pass).

    Eligibility, haircuts, collateral value, partial sums and the liquidation's per-path partial sums over the
    chunk's pledged patents.

    Parameters
    ----------
    chunk : pandas.DataFrame
        Valued patents. A column :data:`LIQUIDATION_VALUE` supplies the values the liquidation starts from
        (the stress crash).
    ctx : CollateralContext
    setup : LiquidationPaths
        The path-level draws (:func:`liquidation_setup`).
    totals : dict, optional
        The whole book's concentration bucket totals (None: the chunk is the whole book).
    """
    prepared = prepare_chunk(chunk, ctx, totals=totals)
    return prepared.with_partials(liquidation_partial_sums(prepared.pool, setup))


def _add(values: list[float]) -> float:
    out = values[0]
    for v in values[1:]:
        out = out + v
    return float(out)


def finish_chunks(parts: list[ChunkResult], ctx: CollateralContext, *, setup: LiquidationPaths) -> CoreResult:
    """Reduce the chunks' results: loan sizing from the sums, the liquidation from the per-path partial sums."""
    loan, policy = ctx.loan, ctx.policy
    nums = {k: _add([p.sums[k] for p in parts]) for k in parts[0].sums}
    mc = finish_liquidation(setup, [p.mc_partial for p in parts])
    patents = pd.concat([p.patents for p in parts]) if len(parts) > 1 else parts[0].patents
    before = patents
    one = parts[0].arrays if len(parts) == 1 else None
    patents, liquidity = apply_liquidity_haircut(patents, mc, policy, arrays=one)
    basis_texts = None
    if len(parts) == 1 and parts[0].arrays is not None:
        hc, after, level = parts[0].arrays.hc, patents, liquidity["recovery_confidence"]

        def basis_texts() -> tuple[list[Any], list[str]] | None:
            return haircut_basis_texts(before, after, hc, confidence=level)

    nums["collateral_value"] = float(patents["collateral_value"].sum())
    sizing = size_loan(
        nums["collateral_value"], nums["eligible_value"], loan, float(policy["loan_to_collateral"])
    )
    values = {m: _add([p.scenario_values[m] for p in parts]) for m in parts[0].scenario_values}
    summary = mc.summary()
    det = deterministic_rows(
        None,
        loan=loan,
        policy=policy,
        start_offset_years=loan_offset_years(loan, ctx.as_of),
        values=values,
    )
    # the deterministic scenarios and the Monte Carlo's row, one frame built from the rows
    liquidation = pd.DataFrame(
        [*det, monte_carlo_row(mc, summary=summary)], columns=list(LIQUIDATION_COLUMNS)
    )
    stats = dict(parts[0].stats)
    stats["currency_mismatch"] = any(p.stats["currency_mismatch"] for p in parts)
    stats["cap_binding"] = bool(patents["cap_binding"].any())
    return CoreResult(
        patents=patents,
        numbers={**nums, **sizing, **summary, **liquidity},
        mc=mc,
        liquidation=liquidation,
        stats=stats,
        parts=parts,
        setup=setup,
        basis_texts=basis_texts,
    )


def apply_liquidity_haircut(
    patents: pd.DataFrame, mc: MonteCarloResult, policy: Policy, *, arrays: ChunkArrays | None = None
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Set the book-level liquidity haircut so that the maximum loan is backed by the liquidation model.

    Lending the maximum loan, the probability of full recovery given default on the Monte Carlo's paths must
    reach the policy's ``recovery_confidence``: the largest such loan is ``L* =``
    :meth:`MonteCarloResult.full_recovery_loan`. When ``loan_to_collateral x sum(value x min(retain, cap))``
    exceeds it, one haircut ``h`` for every pledged patent, ``rate = min(retain x (1 - h), cap)``, is found by
    bisection so that the maximum loan is at most ``L*`` (60 halvings: ``h`` to about 1e-18).

    ``arrays``: the per-patent pass's arrays these rows were assembled from (:func:`prepare_chunk`, one chunk,
    the same rows in the same order), read instead of the frame's columns (the same values: the frame was made
    of them), else None.

    Returns
    -------
    (patents, numbers)
        The patents with ``haircut_liquidity``, ``haircut_total``, ``cap_binding``, ``collateral_value``,
        ``binding_component`` and the completed ``haircut_basis``; ``numbers`` holds ``recovery_confidence``,
        ``full_recovery_loan`` (``L*``) and ``liquidity_haircut`` (``h``).
    """
    n = len(patents)
    if arrays is not None and arrays.cols.n == n and arrays.hc.get("haircut_basis") is not None:
        hc = arrays.hc
        eligible = arrays.elig["eligible"]
        value = np.nan_to_num(arrays.cols.num("value")) * hc["fx_rate"]
        comps = {c: hc[f"haircut_{c}"] for c in COMPONENTS}
        cap = hc["pledge_rate_cap"]
        bases, patent_type = list(hc["haircut_basis"]), arrays.cols.text("patent_type").tolist()
    else:
        eligible = patents["eligible"].to_numpy(dtype=bool)
        value = np.nan_to_num(num(patents, "value")) * patents["fx_rate"].to_numpy(dtype=float)
        comps = {c: patents[f"haircut_{c}"].to_numpy(dtype=float) for c in COMPONENTS}
        cap = patents["pledge_rate_cap"].to_numpy(dtype=float)
        bases, patent_type = None, None
    retain = np.ones(n)
    for c in PATENT_COMPONENTS:
        retain *= 1.0 - comps[c]
    h, numbers = liquidity_haircut(eligible, value, retain, cap, mc, policy)
    level = numbers["recovery_confidence"]
    kept = retain * (1.0 - h)
    rate = np.where(eligible, np.minimum(kept, cap), 0.0)
    cap_binding = eligible & (cap < kept)
    comps["liquidity"] = np.full(n, h)  # the column set to h below
    largest = np.asarray(COMPONENTS, dtype=object)[
        np.argmax(np.column_stack([comps[c] for c in COMPONENTS]), axis=1)
    ]
    binding = np.where(~eligible, "ineligible", np.where(cap_binding, "pledge_rate_cap", largest))
    out = patents.copy(deep=False)  # copy-on-write: the columns set below leave the caller's frame as it was
    out["haircut_liquidity"] = h
    out["haircut_total"] = 1.0 - rate
    out["cap_binding"] = cap_binding
    out["collateral_value"] = value * rate
    out["binding_component"] = binding
    if bases is None or patent_type is None:
        out = finish_haircut_basis(out, confidence=level)
    else:
        # what finish_haircut_basis reads of these columns, from the arrays they were set from
        finished = finish_columns(bases, comps, patent_type, cap, cap_binding, binding, 1.0 - rate)
        out["haircut_basis"] = finished_bases(*finished, confidence=level, index=out.index)
    return out, numbers


def liquidity_haircut(
    eligible: np.ndarray,
    value: np.ndarray,
    retain: np.ndarray,
    cap: np.ndarray,
    mc: MonteCarloResult,
    policy: Policy,
) -> tuple[float, dict[str, float]]:
    """The book-level liquidity haircut ``h`` of :func:`apply_liquidity_haircut`, on arrays.

    ``value`` in the loan currency (0 where missing), ``retain`` the product of ``1 - h`` over the per-patent
    components, ``cap`` the pledge-rate cap. Returns ``h`` and the numbers ``recovery_confidence``,
    ``full_recovery_loan`` and ``liquidity_haircut``.
    """
    level = float(policy["recovery_confidence"])
    ltc = float(policy["loan_to_collateral"])
    supported = mc.full_recovery_loan(level) if level > 0 else float("inf")

    out = ~np.asarray(eligible, dtype=bool)
    buf = np.empty(len(value))
    kernels = compiled_kernels()
    if kernels is not None:  # the compiled engine: the same maximum loans, the same halvings
        h = kernels.liquidity_bisection(
            kernels.read_only(retain),
            kernels.read_only(cap),
            kernels.read_only(value),
            out,
            ltc,
            float(supported),
            buf,
        )
    else:

        def max_loan(h: float) -> float:
            # ltc x sum(where(eligible, value x min(retain x (1 - h), cap), 0)), into one buffer (same bits)
            np.multiply(retain, 1.0 - h, out=buf)
            np.minimum(buf, cap, out=buf)
            np.multiply(value, buf, out=buf)
            buf[out] = 0.0
            return ltc * float(buf.sum())

        h = 0.0
        if max_loan(0.0) > supported:
            lo, hi = 0.0, 1.0
            for _ in range(60):
                mid = 0.5 * (lo + hi)
                lo, hi = (lo, mid) if max_loan(mid) <= supported else (mid, hi)
            h = hi
    return h, {"recovery_confidence": level, "full_recovery_loan": supported, "liquidity_haircut": h}


def shock_numbers(
    arrays: ChunkArrays,
    mc_partial: dict[str, np.ndarray],
    ctx: CollateralContext,
    *,
    setup: LiquidationPaths,
    mc: MonteCarloResult | None = None,
) -> dict[str, Any]:
    """The book's numbers of a one-chunk run, without its tables: what a stress shock reports.

    The same numbers, to the last bit, as ``finish_chunks([chunk], ctx, setup=setup).numbers`` for the chunk
    whose arrays these are (sizing, the liquidation summary, the liquidity haircut), without assembling the
    patent rows, the haircut basis or the liquidation table. ``mc``: the run's liquidation when the caller has
    it (``finish_liquidation(setup, [mc_partial])``, e.g. the base case's with another risk sharing), else
    finished here.
    """
    loan, policy = ctx.loan, ctx.policy
    nums = {k: float(v) for k, v in arrays.sums.items()}
    if mc is None:
        mc = finish_liquidation(setup, [mc_partial])
    hc = arrays.hc
    eligible = arrays.elig["eligible"]
    value = np.nan_to_num(arrays.cols.num("value")) * hc["fx_rate"]
    retain = np.ones(arrays.cols.n)
    for c in PATENT_COMPONENTS:
        retain *= 1.0 - hc[f"haircut_{c}"]
    cap = hc["pledge_rate_cap"]
    h, liquidity = liquidity_haircut(eligible, value, retain, cap, mc, policy)
    rate = np.where(eligible, np.minimum(retain * (1.0 - h), cap), 0.0)
    nums["collateral_value"] = float(np.nansum(value * rate))
    sizing = size_loan(
        nums["collateral_value"], nums["eligible_value"], loan, float(policy["loan_to_collateral"])
    )
    return {**nums, **sizing, **mc.summary(), **liquidity}


def with_liquidation_values(frame: pd.DataFrame, liquidation_frame: pd.DataFrame | None) -> pd.DataFrame:
    """``frame`` with the column :data:`LIQUIDATION_VALUE` taken from ``liquidation_frame``'s ``value``."""
    if liquidation_frame is None:
        return frame
    return frame.assign(**{LIQUIDATION_VALUE: num(liquidation_frame.reindex(frame.index), "value")})


def assess_frame(
    frame: pd.DataFrame,
    ctx: CollateralContext,
    *,
    liquidation_frame: pd.DataFrame | None = None,
    checked: bool = False,
    keep_draws_elements: int | None = None,
) -> CoreResult:
    """Eligibility, haircuts, sizing and liquidation for a checked frame, in one pass in this process.

    ``liquidation_frame`` (same index) supplies the values the liquidation starts from when a shock must not
    reach them twice (the market crash acts on the bids inside the Monte Carlo). ``checked=True``: the frame
    comes from :func:`~ipvalue.collateral._inputs.check_frame` already. The result keeps its per-patent part,
    setup and (for a book of at most ``keep_draws_elements``, default :data:`DRAW_CACHE_ELEMENTS`, pledged
    patent-paths) its Monte Carlo draws, which the stress shocks reuse.
    """
    setup = liquidation_setup(ctx)
    prepared = prepare_chunk(with_liquidation_values(frame, liquidation_frame), ctx, checked=checked)
    pool = prepared.pool
    limit = DRAW_CACHE_ELEMENTS if keep_draws_elements is None else int(keep_draws_elements)
    draws = PatentDraws(
        pool.ids,
        pool.ids if pool.package is None else pool.package,
        seed=ctx.seed,
        paths=ctx.paths,
        sale_success=setup.sale_success,
        judicial=slice(setup.j0, setup.j1),
        cache=len(pool.ids) * ctx.paths <= limit,
    )
    (partial,) = liquidation_partial_sums_many([(pool, setup)], draws=draws)
    core = finish_base(prepared, partial, ctx, setup=setup)
    core.draws = draws if draws.cache else None
    return core


def finish_base(
    prepared: PreparedChunk,
    partial: dict[str, np.ndarray],
    ctx: CollateralContext,
    *,
    setup: LiquidationPaths,
) -> CoreResult:
    """The one-pass result of :func:`assess_frame` once the Monte Carlo's partial sums over its pool are known.

    What the base case needs beyond the partial sums (the liquidation table, the liquidity-haircut bisection on
    the recovery paths, the patent rows) comes from ``prepared`` and ``setup``; ``draws`` is left None.
    """
    core = finish_chunks([prepared.with_partials(partial)], ctx, setup=setup)
    core.arrays = prepared.arrays
    return core
