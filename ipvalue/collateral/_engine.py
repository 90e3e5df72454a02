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
    LiquidationPool,
    MonteCarloResult,
    deterministic_scenarios,
    monte_carlo_row,
    simulate_liquidation,
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


def _computed(valued: Any) -> Any:
    """A Dask DataFrame computed into pandas (its partitions carry the valuation's ``attrs``); else as given."""
    mod = type(valued).__module__ or ""
    if mod.startswith(("dask.", "dask_expr")) and hasattr(valued, "compute"):
        return valued.compute()
    return valued


def _resolve_as_of(valued: pd.DataFrame, as_of: Any) -> dt.date:
    if as_of is None:
        as_of = (getattr(valued, "attrs", {}) or {}).get("ipvalue", {}).get("as_of")
        if as_of is None:
            raise CollateralInputError(
                "no as_of given and valued.attrs['ipvalue']['as_of'] is not set; pass as_of=", field="as_of"
            )
    return to_date(as_of, "as_of")


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
    """Eligibility, haircuts, sizing and liquidation for a checked frame.

    ``liquidation_frame`` (same index) supplies the values the liquidation starts from when a shock must not
    reach them twice (the market crash acts on the bids inside the Monte Carlo).
    """
    elig = check_eligibility(frame, loan, policy, as_of=as_of)
    fx_rate, mismatch = fx_rates(frame, loan.currency, fx)
    start = to_date(loan.start_date, "loan.start_date") if loan.start_date else as_of
    offset = (start - as_of).days / 365.25
    horizon = loan_horizon_years(loan, as_of)
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
    )
    collateral_cols = list(elig.columns) + list(hc.columns)
    patents = pd.concat(
        [frame.drop(columns=[c for c in collateral_cols if c in frame.columns]), elig, hc], axis=1
    )

    value_ccy = num(frame, "value") * fx_rate
    appraised = float(np.nansum(value_ccy))
    p05 = (
        float(np.nansum(num(frame, "value_p05") * fx_rate)) if "value_p05" in frame.columns else float("nan")
    )
    p95 = (
        float(np.nansum(num(frame, "value_p95") * fx_rate)) if "value_p95" in frame.columns else float("nan")
    )
    eligible_value = float(np.nansum(np.where(eligible, value_ccy, 0.0)))
    collateral_value = float(hc["collateral_value"].sum())
    sizing = size_loan(collateral_value, eligible_value, loan, float(policy["loan_to_collateral"]))

    lf = frame if liquidation_frame is None else liquidation_frame.reindex(frame.index)
    pool = LiquidationPool.build(
        ids=frame.index.to_numpy(dtype=str)[eligible],
        value=np.nan_to_num(num(lf, "value") * fx_rate)[eligible],
        volatility=num(frame, "volatility")[eligible],
        remaining_life=num(frame, "remaining_life_years")[eligible],
        quality_legal=num(frame, "quality_legal")[eligible],
        quality_score=num(frame, "quality_score")[eligible],
        in_litigation=flag(frame, "in_litigation")[eligible],
        policy=policy,
    )
    mc = simulate_liquidation(
        pool,
        loan=loan,
        policy=policy,
        seed=seed,
        paths=paths,
        start_offset_years=offset,
        obsolescence_shift=obsolescence_shift,
        crash_probability=crash_probability,
    )
    det = deterministic_scenarios(
        pool, loan=loan, policy=policy, start_offset_years=offset, obsolescence_shift=obsolescence_shift
    )
    liquidation = pd.concat([det, pd.DataFrame([monte_carlo_row(mc)])], ignore_index=True)[
        list(LIQUIDATION_COLUMNS)
    ]
    numbers_ = {
        "appraised_value": appraised,
        "appraised_value_p05": p05,
        "appraised_value_p95": p95,
        "eligible_value": eligible_value,
        "collateral_value": collateral_value,
        **sizing,
        **mc.summary(),
    }
    stats = {
        **stats,
        "currency_mismatch": bool(mismatch[eligible].any()),
        "cap_binding": bool(hc["cap_binding"].any()),
    }
    return _Core(patents=patents, numbers=numbers_, mc=mc, liquidation=liquidation, stats=stats)


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
) -> CollateralAssessment:
    """Turn a valued portfolio into pledge collateral.

    Eligibility, explained haircuts, loan sizing, liquidation scenarios with a Monte Carlo of recoveries, and
    stress tests.

    Parameters
    ----------
    valued : pandas.DataFrame or dask.dataframe.DataFrame
        Output of :func:`ipvalue.value_portfolio`: facts plus ``value``, ``value_p05/p50/p95``,
        ``remaining_life_years``, ``quality_legal`` and ``currency`` (missing optional columns are named in the
        assumptions and flags). A Dask DataFrame (e.g. ``value_portfolio`` run on a Dask frame) is computed
        here, on Dask's current scheduler, into one pandas frame: the pledged pool of one loan is assessed in one
        process (see ``docs/methodology/scale.md``).
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
    valued = _computed(valued)
    if not isinstance(paths, numbers.Integral) or paths < 2:
        raise ValueError(f"paths must be an integer of at least 2, got {paths!r}")
    pol = load_policy(policy)
    as_of_d = _resolve_as_of(valued, as_of)
    frame = check_frame(valued)
    input_order = frame.index
    # work in patent_id order so that sums (and so every number) do not depend on the row order
    frame = frame.sort_index(kind="stable")
    input_hash = _hash(
        _canonical_frame(frame),
        json.dumps((valued.attrs or {}).get("ipvalue", {}), sort_keys=True, default=_json_default),
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
    core = _assess_core(frame, loan=loan, policy=pol, seed=seed, as_of=as_of_d, paths=int(paths), fx=fx)
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
