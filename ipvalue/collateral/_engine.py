"""assess_collateral: eligibility, haircuts, loan sizing, liquidation and stress in one reproducible run."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ipvalue._version import __version__
from ipvalue.collateral._assessment import SUMMARY_KEYS, CollateralAssessment, Loan
from ipvalue.collateral._inputs import CollateralInputError, check_frame, flag, fx_rates, num, to_date
from ipvalue.collateral.eligibility import check_eligibility, loan_horizon_years
from ipvalue.collateral.haircut import compute_haircuts
from ipvalue.collateral.liquidation import (
    LIQUIDATION_COLUMNS,
    LiquidationPaths,
    LiquidationPool,
    MonteCarloResult,
    deterministic_scenarios,
    finish_liquidation,
    liquidation_partial_sums,
    liquidation_paths,
    monte_carlo_row,
    scenario_values,
)
from ipvalue.collateral.policy import Policy, load_policy
from ipvalue.collateral.sizing import bank_retained_exposure, size_loan

__all__ = ["assess_collateral", "STRESS_COLUMNS"]

STRESS_COLUMNS: tuple[str, ...] = (
    "shock",
    "description",
    "revalued",
    "appraised_value",
    "collateral_value",
    "max_loan",
    "coverage_ratio",
    "expected_lgd",
    "lgd_99",
    "change_collateral_value",
    "change_pct",
    "change_expected_lgd",
)


@dataclass
class _Core:
    """One pass of the engine (the base case or one stress shock)."""

    patents: pd.DataFrame
    numbers: dict[str, Any]
    mc: MonteCarloResult
    liquidation: pd.DataFrame
    stats: dict[str, Any]


def _seed(rng: Any) -> int:
    if isinstance(rng, bool) or not isinstance(rng, numbers.Integral):
        raise TypeError(
            f"rng must be an integer seed (it is recorded in the result), got {type(rng).__name__}; "
            "per-patent streams are derived from it"
        )
    return int(rng)


class _AttrsOnly:
    """Stands for the valued frame where only its ``attrs`` are read."""

    def __init__(self, attrs: dict) -> None:
        self.attrs = attrs


def _resolve_as_of(valued: pd.DataFrame, as_of: Any) -> dt.date:
    if as_of is None:
        as_of = (getattr(valued, "attrs", {}) or {}).get("ipvalue", {}).get("as_of")
        if as_of is None:
            raise CollateralInputError(
                "no as_of given and valued.attrs['ipvalue']['as_of'] is not set; pass as_of=", field="as_of"
            )
    return to_date(as_of, "as_of")


#: helper column carrying the values the liquidation starts from (stress: the market crash)
_LIQ_VALUE = "_ipvalue_liquidation_value"


@dataclass
class _ChunkResult:
    """What one chunk contributes: its patent rows, partial sums, and the liquidation's per-path partial sums."""

    patents: pd.DataFrame
    sums: dict[str, float]
    stats: dict[str, Any]
    mc_partial: dict[str, np.ndarray]
    scenario_values: dict[str, float]


def _horizon(loan: Loan, as_of: dt.date) -> tuple[float, float]:
    start = to_date(loan.start_date, "loan.start_date") if loan.start_date else as_of
    return (start - as_of).days / 365.25, loan_horizon_years(loan, as_of)


def _pool_value(frame: pd.DataFrame, *, loan: Loan, policy: Policy, as_of: dt.date, fx: Any) -> np.ndarray:
    elig = check_eligibility(frame, loan, policy, as_of=as_of)
    fx_rate, _ = fx_rates(frame, loan.currency, fx)
    eligible = elig["eligible"].to_numpy(dtype=bool)
    return np.where(eligible, np.nan_to_num(num(frame, "value")) * fx_rate, 0.0)


def _chunk_totals(
    chunk: pd.DataFrame, *, loan: Loan, policy: Policy, as_of: dt.date, fx: Any
) -> dict[str, Any]:
    """Map step of the concentration totals: the chunk's pooled value by family, technology class, product line."""
    from ipvalue.collateral.haircut import concentration_buckets, concentration_totals

    frame = check_frame(chunk)
    pool = _pool_value(frame, loan=loan, policy=policy, as_of=as_of, fx=fx)
    return concentration_totals(pool, concentration_buckets(frame))


def _assess_chunk(
    chunk: pd.DataFrame,
    *,
    loan: Loan,
    policy: Policy,
    as_of: dt.date,
    fx: Mapping[str, float] | None,
    setup: LiquidationPaths,
    totals: dict | None = None,
    obsolescence_shift: float = 0.0,
) -> _ChunkResult:
    """The per-patent part on one chunk (the whole frame in a single pass).

    Eligibility, haircuts, collateral value, partial sums and the liquidation's per-path partial sums over the
    chunk's pledged patents.

    ``totals`` are the whole book's concentration bucket totals (None: the chunk is the whole book). A column
    ``_LIQ_VALUE`` supplies the values the liquidation starts from (the stress crash).
    """
    frame = check_frame(chunk)
    liq_value = num(frame, _LIQ_VALUE) if _LIQ_VALUE in frame.columns else None
    if liq_value is not None:
        frame = frame.drop(columns=[_LIQ_VALUE])
    elig = check_eligibility(frame, loan, policy, as_of=as_of)
    fx_rate, mismatch = fx_rates(frame, loan.currency, fx)
    offset, horizon = _horizon(loan, as_of)
    work = frame.copy()
    work["ineligible_reasons"] = elig["ineligible_reasons"]
    eligible = elig["eligible"].to_numpy(dtype=bool)
    hc, stats = compute_haircuts(
        work,
        eligible=eligible,
        policy=policy,
        horizon_years=horizon,
        fx_rate=fx_rate,
        currency_mismatch=mismatch,
        obsolescence_shift=obsolescence_shift,
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
    )
    return _ChunkResult(
        patents=patents,
        sums=sums,
        stats={
            **stats,
            "currency_mismatch": bool(mismatch[eligible].any()),
            "cap_binding": bool(hc["cap_binding"].any()),
        },
        mc_partial=liquidation_partial_sums(pool, setup),
        scenario_values=scenario_values(
            pool,
            loan=loan,
            policy=policy,
            start_offset_years=offset,
            obsolescence_shift=obsolescence_shift,
        ),
    )


def _add(values: list[float]) -> float:
    out = values[0]
    for v in values[1:]:
        out = out + v
    return float(out)


def _finish(
    parts: list[_ChunkResult], *, loan: Loan, policy: Policy, as_of: dt.date, setup: LiquidationPaths
) -> _Core:
    """Reduce the chunks' results: loan sizing from the sums, the liquidation from the per-path partial sums."""
    nums = {k: _add([p.sums[k] for p in parts]) for k in parts[0].sums}
    sizing = size_loan(
        nums["collateral_value"], nums["eligible_value"], loan, float(policy["loan_to_collateral"])
    )
    mc = finish_liquidation(setup, [p.mc_partial for p in parts])
    offset, _ = _horizon(loan, as_of)
    values = {m: _add([p.scenario_values[m] for p in parts]) for m in parts[0].scenario_values}
    det = deterministic_scenarios(
        None,  # type: ignore[arg-type]  # the pool's values at the sale are given
        loan=loan,
        policy=policy,
        start_offset_years=offset,
        values=values,
    )
    liquidation = pd.concat([det, pd.DataFrame([monte_carlo_row(mc)])], ignore_index=True)[
        list(LIQUIDATION_COLUMNS)
    ]
    stats = dict(parts[0].stats)
    stats["currency_mismatch"] = any(p.stats["currency_mismatch"] for p in parts)
    stats["cap_binding"] = any(p.stats["cap_binding"] for p in parts)
    patents = pd.concat([p.patents for p in parts]) if len(parts) > 1 else parts[0].patents
    return _Core(
        patents=patents,
        numbers={**nums, **sizing, **mc.summary()},
        mc=mc,
        liquidation=liquidation,
        stats=stats,
    )


def _setup(
    *,
    loan: Loan,
    policy: Policy,
    seed: int,
    as_of: dt.date,
    paths: int,
    obsolescence_shift: float,
    crash_probability: float | None,
) -> LiquidationPaths:
    offset, _ = _horizon(loan, as_of)
    return liquidation_paths(
        loan=loan,
        policy=policy,
        seed=seed,
        paths=paths,
        start_offset_years=offset,
        obsolescence_shift=obsolescence_shift,
        crash_probability=crash_probability,
    )


def _with_liquidation_values(frame: pd.DataFrame, liquidation_frame: pd.DataFrame | None) -> pd.DataFrame:
    if liquidation_frame is None:
        return frame
    return frame.assign(**{_LIQ_VALUE: num(liquidation_frame.reindex(frame.index), "value")})


def _assess_core(
    frame: pd.DataFrame,
    *,
    loan: Loan,
    policy: Policy,
    seed: int,
    as_of: dt.date,
    paths: int,
    fx: Mapping[str, float] | None,
    obsolescence_shift: float = 0.0,
    crash_probability: float | None = None,
    liquidation_frame: pd.DataFrame | None = None,
) -> _Core:
    """Eligibility, haircuts, sizing and liquidation for a checked frame, in one pass in this process.

    ``liquidation_frame`` (same index) supplies the values the liquidation starts from when a shock must not
    reach them twice (the market crash acts on the bids inside the Monte Carlo).
    """
    setup = _setup(
        loan=loan,
        policy=policy,
        seed=seed,
        as_of=as_of,
        paths=paths,
        obsolescence_shift=obsolescence_shift,
        crash_probability=crash_probability,
    )
    part = _assess_chunk(
        _with_liquidation_values(frame, liquidation_frame),
        loan=loan,
        policy=policy,
        as_of=as_of,
        fx=fx,
        setup=setup,
        obsolescence_shift=obsolescence_shift,
    )
    return _finish([part], loan=loan, policy=policy, as_of=as_of, setup=setup)


def _canonical_frame(df: pd.DataFrame) -> str:
    d = df.copy()
    d = d.reindex(sorted(d.columns, key=str), axis=1)
    if d.index.name == "patent_id" or "scenario" not in d.columns:
        d = d.sort_index(kind="stable")
    for c in d.columns:
        if isinstance(d[c].dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(d[c]):
            d[c] = d[c].dt.strftime("%Y-%m-%d")
    return d.to_csv(float_format="%.12g", lineterminator="\n")


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, dt.date):
        return o.isoformat()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def _hash(*parts: str) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode("utf-8"))
        h.update(b"\x00")
    return h.hexdigest()


def _assumptions(policy: Policy, extra: list[tuple[str, Any, str]]) -> pd.DataFrame:
    rows = [
        {
            "name": k,
            "value": json.dumps(v, ensure_ascii=False, default=_json_default),
            "source": policy.sources[k],
        }
        for k, v in policy.values.items()
    ]
    rows += [
        {"name": n, "value": json.dumps(v, ensure_ascii=False, default=_json_default), "source": s}
        for n, v, s in extra
    ]
    return pd.DataFrame(rows, columns=["name", "value", "source"])


def assess_collateral(
    valued: pd.DataFrame,
    *,
    loan: Loan,
    policy: str | Policy | Mapping[str, Any] = "cn-bank-standard",
    rng: int = 0,
    as_of: dt.date | str | None = None,
    paths: int = 20_000,
    stress: bool = True,
    fx: Mapping[str, float] | None = None,
    backend: Any = None,
    chunk_size: int | None = None,
    client: Any = None,
) -> CollateralAssessment:
    """Turn a valued portfolio into pledge collateral.

    Eligibility, explained haircuts, loan sizing, liquidation scenarios with a Monte Carlo of recoveries, and
    stress tests.

    Parameters
    ----------
    valued : pandas.DataFrame or dask.dataframe.DataFrame
        Output of :func:`ipvalue.value_portfolio`: facts plus ``value``, ``value_p05/p50/p95``,
        ``remaining_life_years``, ``quality_legal`` and ``currency`` (missing optional columns are named in the
        assumptions and flags). A Dask DataFrame (e.g. ``value_portfolio`` run on a Dask frame) is assessed
        partition by partition (on the cluster of ``client``, or of the current ``distributed`` client, where the
        partitions stay; else computed on Dask's current scheduler); the result's ``.patents`` is computed at
        the end (see ``docs/methodology/scale.md``).
    loan : Loan
        The loan the patents secure.
    policy : str, Policy or mapping
        A preset (``cn-bank-standard``, ``basel-internal``, ``conservative``), a JSON policy file or a mapping.
    rng : int
        Root seed; each patent draws from its own stream, so row order does not change the numbers.
    as_of : date or ISO string, optional
        Defaults to ``valued.attrs["ipvalue"]["as_of"]``; an error when neither is given.
    paths : int
        Monte Carlo paths.
    stress : bool
        Run the named stress shocks (:mod:`ipvalue.collateral.stress`).
    fx : mapping, optional
        Loan-currency units per unit of any other valuation currency in the frame.
    backend : {"serial", "processes", "dask"} or Backend, optional
        Where the chunks run (:mod:`ipvalue._backend`). With none of ``backend``, ``chunk_size``, ``client`` and
        a pandas frame: one pass in this process, as before. The per-patent columns are the same to the last
        bit on every backend except those that depend on the concentration totals, and the portfolio figures
        agree within 1e-12 relative (sums taken chunk by chunk; see ``docs/methodology/scale.md``). Stress
        revaluations run on the same backend.
    chunk_size : int, optional
        Patents per chunk (default 50 000).
    client : distributed.Client, optional
        The cluster for the Dask backend (implies it).

    Returns
    -------
    CollateralAssessment
        Every input patent appears in ``.patents``, in input order.

    Raises
    ------
    CollateralInputError
        Bad input, naming the patent and the field.
    PolicyError
        Unknown or invalid policy.
    """
    if not isinstance(loan, Loan):
        raise TypeError(f"loan must be an ipvalue.Loan, got {type(loan).__name__}")
    seed = _seed(rng)
    if not isinstance(paths, numbers.Integral) or paths < 2:
        raise ValueError(f"paths must be an integer of at least 2, got {paths!r}")
    if chunk_size is not None and (
        isinstance(chunk_size, bool) or not isinstance(chunk_size, numbers.Integral) or chunk_size < 1
    ):
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    pol = load_policy(policy)
    from ipvalue.collateral._distributed import is_dask_frame

    dask_input = is_dask_frame(valued)
    if not (dask_input or backend is not None or chunk_size is not None or client is not None):
        return _assess(
            valued, loan=loan, pol=pol, seed=seed, as_of=as_of, paths=int(paths), stress=stress, fx=fx
        )
    from ipvalue._backend import get_backend

    if dask_input:
        from ipvalue.collateral._distributed import dask_partitions

        handles, be, owned = dask_partitions(valued, backend=backend, client=client)
    else:
        handles = None
        be, owned = get_backend(backend, client)
    try:
        return _assess(
            valued,
            loan=loan,
            pol=pol,
            seed=seed,
            as_of=as_of,
            paths=int(paths),
            stress=stress,
            fx=fx,
            be=be,
            chunk_size=chunk_size,
            handles=handles,
        )
    finally:
        if owned:
            be.close()


def _valued_attrs(valued: Any) -> dict:
    attrs = getattr(valued, "attrs", None)
    if not attrs and hasattr(valued, "_meta"):
        attrs = getattr(valued._meta, "attrs", None)
    return dict(attrs or {})


def _assess(
    valued: Any,
    *,
    loan: Loan,
    pol: Policy,
    seed: int,
    as_of: Any,
    paths: int,
    stress: bool,
    fx: Mapping[str, float] | None,
    be: Any = None,
    chunk_size: int | None = None,
    handles: list[Any] | None = None,
) -> CollateralAssessment:
    """assess_collateral once its arguments are checked: one pass (``be`` None) or over chunks on ``be``."""
    import functools

    attrs = _valued_attrs(valued)
    as_of_d = _resolve_as_of(_AttrsOnly(attrs), as_of)
    core_fn: Any = _assess_core
    if be is not None:
        from ipvalue.collateral._distributed import chunked_core, core_on_handles

        core_fn = functools.partial(chunked_core, be=be, chunk_size=chunk_size)
    if handles is not None:
        # a Dask DataFrame: the partitions are assessed where they are; the input frame (for the stress runs
        # and the input hash) is the patent table without the collateral columns, computed at the end
        core = core_on_handles(
            handles, be, loan=loan, policy=pol, seed=seed, as_of=as_of_d, paths=paths, fx=fx
        )
        added = [c for c in core.patents.columns if c not in set(valued.columns)]
        frame = core.patents.drop(columns=added)
        frame.attrs = attrs
        input_order = frame.index
        frame = frame.sort_index(kind="stable")
    else:
        frame = check_frame(valued)
        input_order = frame.index
        # work in patent_id order so that sums (and so every number) do not depend on the row order
        frame = frame.sort_index(kind="stable")
        core = core_fn(frame, loan=loan, policy=pol, seed=seed, as_of=as_of_d, paths=paths, fx=fx)
    input_hash = _hash(
        _canonical_frame(frame),
        json.dumps(attrs.get("ipvalue", {}), sort_keys=True, default=_json_default),
        json.dumps(loan.to_dict(), sort_keys=True, default=_json_default),
        json.dumps(pol.to_dict(), sort_keys=True, ensure_ascii=False),
        json.dumps(
            {
                "seed": seed,
                "as_of": as_of_d.isoformat(),
                "paths": int(paths),
                "stress": bool(stress),
                "fx": dict(fx or {}),
            },
            sort_keys=True,
        ),
    )
    nums = core.numbers
    ead = float(loan.amount)
    retained = bank_retained_exposure(ead, loan.risk_sharing)
    pd_ = loan.probability_of_default
    n = len(frame)
    n_elig = int(core.patents["eligible"].sum())

    if stress:
        from ipvalue.collateral.stress import run_stress

        stress_df = run_stress(
            frame,
            loan=loan,
            policy=pol,
            seed=seed,
            as_of=as_of_d,
            paths=int(paths),
            fx=fx,
            base=nums,
            base_patents=core.patents,
            core=core_fn,
            backend=be,
        )
    else:
        stress_df = pd.DataFrame(columns=list(STRESS_COLUMNS))

    flags = []
    if n_elig == 0:
        flags.append("NO_ELIGIBLE_PATENTS")
    elif n_elig < n:
        flags.append("INELIGIBLE_PATENTS")
    if nums["shortfall"] > 0:
        flags.append("SHORTFALL")
    if nums["coverage_ratio"] < loan.coverage_trigger:
        flags.append("COVERAGE_BELOW_TRIGGER")
    if core.stats["cap_binding"]:
        flags.append("CAP_BINDING")
    if "currency" not in frame.columns:
        flags.append("CURRENCY_ASSUMED")
    if core.stats["currency_mismatch"]:
        flags.append("CURRENCY_MISMATCH")
    eligible = core.patents["eligible"].to_numpy(dtype=bool)
    if (~core.patents["fees_verified"].to_numpy(dtype=bool) & eligible).any():
        flags.append("FEES_UNVERIFIED")
    if loan.borrower is None:
        flags.append("OWNER_NOT_CHECKED")
    if pd_ is None:
        flags.append("PD_UNKNOWN")
    hhi = core.stats["hhi"]
    if hhi.get("family", 0) > 0.5:
        flags.append("CONCENTRATED_FAMILY")
    if hhi.get("product_line", 0) > 0.5:
        flags.append("CONCENTRATED_PRODUCT_LINE")
    if nums["lgd_99"] >= retained / ead - 1e-9 and retained > 0:
        flags.append("TAIL_FULL_LOSS")
    if (
        n_elig
        and not stress_df.empty
        and (stress_df["coverage_ratio"] < 1.0).any()
        and nums["coverage_ratio"] >= 1.0
    ):
        flags.append("STRESS_COVERAGE_BREACH")

    summary: dict[str, Any] = {
        "currency": loan.currency,
        "as_of": as_of_d.isoformat(),
        "policy": pol.name,
        "seed": seed,
        "n_patents": n,
        "n_eligible": n_elig,
        "appraised_value": nums["appraised_value"],
        "appraised_value_p05": nums["appraised_value_p05"],
        "appraised_value_p95": nums["appraised_value_p95"],
        "eligible_value": nums["eligible_value"],
        "collateral_value": nums["collateral_value"],
        "max_loan": nums["max_loan"],
        "loan_amount": ead,
        "ltv": nums["ltv"],
        "coverage_ratio": nums["coverage_ratio"],
        "shortfall": nums["shortfall"],
        "bank_retained_exposure": retained,
        "expected_lgd": nums["expected_lgd"],
        "lgd_95": nums["lgd_95"],
        "lgd_99": nums["lgd_99"],
        "probability_of_default": pd_,
        "expected_loss": float(pd_ * nums["expected_lgd"] * ead) if pd_ is not None else float("nan"),
        "prob_full_recovery": nums["prob_full_recovery"],
        "expected_time_to_cash_years": nums["expected_time_to_cash_years"],
        "flags": flags,
        # extras
        "expected_lgd_gross": nums["expected_lgd_gross"],
        "expected_lgd_stderr": nums["expected_lgd_stderr"],
        "paths": int(paths),
        **{f"hhi_{k}": float(v) for k, v in hhi.items()},
    }
    missing = [k for k in SUMMARY_KEYS if k not in summary]
    if missing:  # pragma: no cover - the contract; a failure here is a bug in this module
        raise RuntimeError(f"summary lacks {missing}")

    extra = [
        (
            "exposure_at_default",
            ead,
            "[C] the loan amount, fully drawn; accrued interest and amortisation ignored",
        ),
        (
            "appraised_value_p05_p95",
            "sum of patent quantiles",
            "[C] comonotonic sum of the patents' 5% and 95% values: an outer bound of the portfolio range",
        ),
        (
            "court_appraisal",
            "current market value",
            "[C] the judicial reserve is a share of the court's appraisal, taken as the patent's value at the sale",
        ),
        ("deterministic_default_time", "loan maturity", "[C] deterministic scenarios default at maturity"),
        (
            "technology_class",
            "CPC subclass of the first class",
            "[C] concentration bucket; 'unknown' when no CPC",
        ),
        ("family", "family_id, else the patent itself", "[C] concentration bucket"),
        ("product_line", "group, else 'unknown' (one bucket)", "[C] concentration bucket"),
    ]
    if "currency" not in frame.columns:
        extra.append(
            (
                "currency",
                loan.currency,
                "[C] the frame has no currency column: values read in the loan currency",
            )
        )
    if fx:
        extra.append(("fx", dict(fx), "caller-supplied FX table (loan currency per unit)"))

    patents = core.patents.reindex(input_order)
    output_hash = _hash(
        _canonical_frame(patents),
        json.dumps(summary, sort_keys=True, default=_json_default),
        _canonical_frame(core.liquidation),
        _canonical_frame(stress_df),
        hashlib.sha256(np.ascontiguousarray(core.mc.recovery_draws()).tobytes()).hexdigest(),
    )
    audit = {
        "package_version": __version__,
        "input_hash": input_hash,
        "output_hash": output_hash,
        "policy": {"name": pol.name, "version": pol.version, "origin": pol.origin},
        "seed": seed,
        "as_of": as_of_d.isoformat(),
        "paths": int(paths),
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    policy_doc = pol.to_dict()
    policy_doc["origin"] = pol.origin
    return CollateralAssessment(
        patents=patents,
        summary=summary,
        liquidation=core.liquidation,
        stress=stress_df,
        recovery_draws=core.mc.recovery_draws(),
        loan=loan,
        policy=policy_doc,
        assumptions=_assumptions(pol, extra),
        audit=audit,
    )
