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
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ipvalue.collateral._assessment import Loan
from ipvalue.collateral._inputs import CollateralInputError, check_frame, flag, fx_rates, num
from ipvalue.collateral.eligibility import eligibility_checks, loan_horizon_years
from ipvalue.collateral.fx import patent_fx_volatility
from ipvalue.collateral.haircut import (
    COMPONENTS,
    PATENT_COMPONENTS,
    compute_haircuts,
    concentration_buckets,
    concentration_totals,
    finish_haircut_basis,
    technology_class,
)
from ipvalue.collateral.liquidation import (
    LIQUIDATION_COLUMNS,
    LiquidationPaths,
    LiquidationPool,
    MonteCarloResult,
    PatentDraws,
    deterministic_scenarios,
    finish_liquidation,
    liquidation_partial_sums,
    liquidation_partial_sums_many,
    liquidation_paths,
    monte_carlo_row,
    scenario_values,
)
from ipvalue.collateral.policy import Policy
from ipvalue.collateral.sizing import size_loan
from ipvalue.facts.columns import as_date, text_series

__all__ = [
    "CollateralContext",
    "ChunkResult",
    "CoreResult",
    "LIQUIDATION_VALUE",
    "DRAW_CACHE_ELEMENTS",
    "loan_offset_years",
    "liquidation_setup",
    "chunk_totals",
    "assess_chunk",
    "PreparedChunk",
    "prepare_chunk",
    "finish_chunks",
    "assess_frame",
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


def age_to_as_of(frame: pd.DataFrame, ctx: CollateralContext) -> pd.DataFrame:
    """The frame with ``remaining_life_years`` shortened by the years from the valuation's date to ``as_of``.

    The valuation gives the remaining life at its own date; term checks and the remaining-life haircut use the
    assessment's date (a life that runs out on the way becomes 0, and the patent fails with ``EXPIRED``).
    """
    if ctx.valuation_as_of is None or ctx.valuation_as_of >= ctx.as_of:
        return frame
    elapsed = (ctx.as_of - ctx.valuation_as_of).days / 365.25
    out = frame.copy()
    out["remaining_life_years"] = np.maximum(num(frame, "remaining_life_years") - elapsed, 0.0)
    return out


def disposal_packages(frame: pd.DataFrame, policy: Policy) -> np.ndarray:
    """The disposal package of each patent: its label in the first of the policy's ``package_by`` dimensions.

    Product line (``group``), family (``family_id``) or technology class (CPC subclass), each only where the
    patent has one; a patent with none is a package of its own. Labels carry their dimension, so a family and a
    product line of the same name are different packages.
    """
    ids = frame.index.to_numpy(dtype=object).astype(str)
    out = np.array(["patent:" + i for i in ids], dtype=object)
    given = {
        "product_line": text_series(frame, "group"),
        "family": text_series(frame, "family_id"),
        "technology_class": technology_class(frame).mask(lambda s: s == "unknown"),
    }
    todo = np.ones(len(frame), dtype=bool)
    for dim in policy["package_by"]:
        label = given[dim]
        hit = todo & label.notna().to_numpy(dtype=bool)
        out[hit] = (dim + ":" + label[hit].astype(str)).to_numpy(dtype=object)
        todo &= ~hit
    return out


def _pool_value(frame: pd.DataFrame, ctx: CollateralContext) -> np.ndarray:
    elig = eligibility_checks(frame, ctx.loan, ctx.policy, as_of=ctx.as_of)
    fx_rate, _ = fx_rates(frame, ctx.loan.currency, ctx.fx)
    eligible = elig["eligible"].to_numpy(dtype=bool)
    return np.where(eligible, np.nan_to_num(num(frame, "value")) * fx_rate, 0.0)


def chunk_totals(chunk: pd.DataFrame, ctx: CollateralContext) -> dict[str, Any]:
    """Map step of the concentration totals: the chunk's pooled value by family, technology class, product line."""
    frame = age_to_as_of(check_frame(chunk), ctx)
    return concentration_totals(_pool_value(frame, ctx), concentration_buckets(frame))


@dataclass
class PreparedChunk:
    """The per-patent part of one chunk before the Monte Carlo: patent rows, sums, stats and the pledged pool."""

    patents: pd.DataFrame
    sums: dict[str, float]
    stats: dict[str, Any]
    pool: LiquidationPool
    scenario_values: dict[str, float]

    def with_partials(self, mc_partial: dict[str, np.ndarray]) -> ChunkResult:
        """The chunk's result once the Monte Carlo's per-path partial sums over its pool are known."""
        return ChunkResult(
            patents=self.patents,
            sums=self.sums,
            stats=self.stats,
            mc_partial=mc_partial,
            scenario_values=self.scenario_values,
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
    from a checked one (a stress shock's frame); the input is checked once, at the edge.
    """
    loan, policy, as_of = ctx.loan, ctx.policy, ctx.as_of
    frame = age_to_as_of(chunk if checked else check_frame(chunk), ctx)
    liq_value = num(frame, LIQUIDATION_VALUE) if LIQUIDATION_VALUE in frame.columns else None
    if liq_value is not None:
        frame = frame.drop(columns=[LIQUIDATION_VALUE])
    elig = eligibility_checks(frame, loan, policy, as_of=as_of)
    fx_rate, mismatch = fx_rates(frame, loan.currency, ctx.fx)
    currencies = text_series(frame, "currency").str.upper().fillna(loan.currency).to_numpy(dtype=object)
    fx_sigma = patent_fx_volatility(currencies, loan.currency, frame.index.to_numpy(dtype=object))
    work = frame.copy()
    work["ineligible_reasons"] = elig["ineligible_reasons"]
    eligible = elig["eligible"].to_numpy(dtype=bool)
    hc, stats = compute_haircuts(
        work,
        eligible=eligible,
        policy=policy,
        horizon_years=loan_horizon_years(loan, as_of),
        fx_rate=fx_rate,
        currency_mismatch=mismatch,
        fx_volatility=fx_sigma,
        obsolescence_shift=ctx.obsolescence_shift,
        totals=totals,
    )
    collateral_cols = list(elig.columns) + list(hc.columns)
    patents = pd.concat(
        [frame.drop(columns=[c for c in collateral_cols if c in frame.columns]), elig, hc], axis=1
    )

    value_ccy = num(frame, "value") * fx_rate
    sums = {
        "appraised_value": float(np.nansum(value_ccy)),
        "appraised_value_p05": float(np.nansum(num(frame, "value_p05") * fx_rate))
        if "value_p05" in frame.columns
        else float("nan"),
        "appraised_value_p95": float(np.nansum(num(frame, "value_p95") * fx_rate))
        if "value_p95" in frame.columns
        else float("nan"),
        "eligible_value": float(np.nansum(np.where(eligible, value_ccy, 0.0))),
        "collateral_value": float(hc["collateral_value"].sum()),
    }
    v0 = num(frame, "value") if liq_value is None else liq_value
    pool = LiquidationPool.build(
        ids=frame.index.to_numpy(dtype=str)[eligible],
        value=np.nan_to_num(v0 * fx_rate)[eligible],
        volatility=num(frame, "volatility")[eligible],
        remaining_life=num(frame, "remaining_life_years")[eligible],
        quality_legal=num(frame, "quality_legal")[eligible],
        quality_score=num(frame, "quality_score")[eligible],
        in_litigation=flag(frame, "in_litigation")[eligible],
        policy=policy,
        package=disposal_packages(frame, policy)[eligible],
    )
    return PreparedChunk(
        patents=patents,
        sums=sums,
        stats={
            **stats,
            "currency_mismatch": bool(mismatch[eligible].any()),
            "cap_binding": bool(hc["cap_binding"].any()),
        },
        pool=pool,
        scenario_values=scenario_values(
            pool,
            loan=loan,
            policy=policy,
            start_offset_years=loan_offset_years(loan, as_of),
            obsolescence_shift=ctx.obsolescence_shift,
        ),
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
    patents, liquidity = apply_liquidity_haircut(patents, mc, policy)
    nums["collateral_value"] = float(patents["collateral_value"].sum())
    sizing = size_loan(
        nums["collateral_value"], nums["eligible_value"], loan, float(policy["loan_to_collateral"])
    )
    values = {m: _add([p.scenario_values[m] for p in parts]) for m in parts[0].scenario_values}
    det = deterministic_scenarios(
        None,
        loan=loan,
        policy=policy,
        start_offset_years=loan_offset_years(loan, ctx.as_of),
        values=values,
    )
    liquidation = pd.concat([det, pd.DataFrame([monte_carlo_row(mc)])], ignore_index=True)[
        list(LIQUIDATION_COLUMNS)
    ]
    stats = dict(parts[0].stats)
    stats["currency_mismatch"] = any(p.stats["currency_mismatch"] for p in parts)
    stats["cap_binding"] = bool(patents["cap_binding"].any())
    return CoreResult(
        patents=patents,
        numbers={**nums, **sizing, **mc.summary(), **liquidity},
        mc=mc,
        liquidation=liquidation,
        stats=stats,
        parts=parts,
        setup=setup,
    )


def apply_liquidity_haircut(
    patents: pd.DataFrame, mc: MonteCarloResult, policy: Policy
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Set the book-level liquidity haircut so that the maximum loan is backed by the liquidation model.

    Lending the maximum loan, the probability of full recovery given default on the Monte Carlo's paths must
    reach the policy's ``recovery_confidence``: the largest such loan is ``L* =``
    :meth:`MonteCarloResult.full_recovery_loan`. When ``loan_to_collateral x sum(value x min(retain, cap))``
    exceeds it, one haircut ``h`` for every pledged patent, ``rate = min(retain x (1 - h), cap)``, is found by
    bisection so that the maximum loan is at most ``L*`` (60 halvings: ``h`` to about 1e-18).

    Returns
    -------
    (patents, numbers)
        The patents with ``haircut_liquidity``, ``haircut_total``, ``cap_binding``, ``collateral_value``,
        ``binding_component`` and the completed ``haircut_basis``; ``numbers`` holds ``recovery_confidence``,
        ``full_recovery_loan`` (``L*``) and ``liquidity_haircut`` (``h``).
    """
    level = float(policy["recovery_confidence"])
    ltc = float(policy["loan_to_collateral"])
    eligible = patents["eligible"].to_numpy(dtype=bool)
    value = np.nan_to_num(num(patents, "value")) * patents["fx_rate"].to_numpy(dtype=float)
    retain = np.ones(len(patents))
    for c in PATENT_COMPONENTS:
        retain *= 1.0 - patents[f"haircut_{c}"].to_numpy(dtype=float)
    cap = patents["pledge_rate_cap"].to_numpy(dtype=float)
    supported = mc.full_recovery_loan(level) if level > 0 else float("inf")

    def max_loan(h: float) -> float:
        return ltc * float(np.sum(np.where(eligible, value * np.minimum(retain * (1.0 - h), cap), 0.0)))

    h = 0.0
    if max_loan(0.0) > supported:
        lo, hi = 0.0, 1.0
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            lo, hi = (lo, mid) if max_loan(mid) <= supported else (mid, hi)
        h = hi
    kept = retain * (1.0 - h)
    rate = np.where(eligible, np.minimum(kept, cap), 0.0)
    out = patents.copy()
    out["haircut_liquidity"] = h
    out["haircut_total"] = 1.0 - rate
    out["cap_binding"] = eligible & (cap < kept)
    out["collateral_value"] = value * rate
    comps = np.column_stack([out[f"haircut_{c}"].to_numpy(dtype=float) for c in COMPONENTS])
    largest = np.asarray(COMPONENTS, dtype=object)[np.argmax(comps, axis=1)]
    out["binding_component"] = np.where(
        ~eligible, "ineligible", np.where(out["cap_binding"].to_numpy(dtype=bool), "pledge_rate_cap", largest)
    )
    out = finish_haircut_basis(out, confidence=level)
    return out, {"recovery_confidence": level, "full_recovery_loan": supported, "liquidity_haircut": h}


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
) -> CoreResult:
    """Eligibility, haircuts, sizing and liquidation for a checked frame, in one pass in this process.

    ``liquidation_frame`` (same index) supplies the values the liquidation starts from when a shock must not
    reach them twice (the market crash acts on the bids inside the Monte Carlo). ``checked=True``: the frame
    comes from :func:`~ipvalue.collateral._inputs.check_frame` already. The result keeps its per-patent part,
    setup and (for a book of at most :data:`DRAW_CACHE_ELEMENTS` patent-paths) its Monte Carlo draws, which the
    stress shocks reuse.
    """
    setup = liquidation_setup(ctx)
    prepared = prepare_chunk(with_liquidation_values(frame, liquidation_frame), ctx, checked=checked)
    pool = prepared.pool
    draws = PatentDraws(
        pool.ids,
        pool.ids if pool.package is None else pool.package,
        seed=ctx.seed,
        paths=ctx.paths,
        sale_success=setup.sale_success,
        judicial=slice(setup.j0, setup.j1),
        cache=len(pool.ids) * ctx.paths <= DRAW_CACHE_ELEMENTS,
    )
    (partial,) = liquidation_partial_sums_many([(pool, setup)], draws=draws)
    core = finish_chunks([prepared.with_partials(partial)], ctx, setup=setup)
    core.draws = draws if draws.cache else None
    return core
