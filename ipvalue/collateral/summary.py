"""The assessment's summary, flags, assumptions table and hashes, from the engine's book-level numbers."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ipvalue.collateral._assessment import SUMMARY_KEYS, Loan
from ipvalue.collateral.kernel import CollateralContext, CoreResult
from ipvalue.collateral.policy import Policy
from ipvalue.collateral.sizing import bank_retained_exposure

__all__ = ["json_default", "digest", "summarise", "assumptions_table", "book_flags"]


def json_default(o: Any) -> Any:
    """``json.dumps`` fallback for numpy scalars and arrays and dates."""
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, dt.date):
        return o.isoformat()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def digest(*parts: str) -> str:
    """SHA-256 of the parts, each followed by a NUL byte."""
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode("utf-8"))
        h.update(b"\x00")
    return h.hexdigest()


def book_flags(
    core: CoreResult, *, frame: pd.DataFrame, loan: Loan, stress_df: pd.DataFrame, n_eligible: int
) -> list[str]:
    """The short stable strings that matter to a credit committee (see ``CollateralAssessment.summary``)."""
    nums = core.numbers
    ead = float(loan.amount)
    retained = bank_retained_exposure(ead, loan.risk_sharing)
    n = len(frame)
    flags = []
    if n_eligible == 0:
        flags.append("NO_ELIGIBLE_PATENTS")
    elif n_eligible < n:
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
    if loan.probability_of_default is None:
        flags.append("PD_UNKNOWN")
    hhi = core.stats["hhi"]
    if hhi.get("family", 0) > 0.5:
        flags.append("CONCENTRATED_FAMILY")
    if hhi.get("product_line", 0) > 0.5:
        flags.append("CONCENTRATED_PRODUCT_LINE")
    if nums["lgd_99"] >= retained / ead - 1e-9 and retained > 0:
        flags.append("TAIL_FULL_LOSS")
    if (
        n_eligible
        and not stress_df.empty
        and (stress_df["coverage_ratio"] < 1.0).any()
        and nums["coverage_ratio"] >= 1.0
    ):
        flags.append("STRESS_COVERAGE_BREACH")
    return flags


def summarise(
    core: CoreResult, ctx: CollateralContext, *, frame: pd.DataFrame, stress_df: pd.DataFrame
) -> dict:
    """``CollateralAssessment.summary``: the keys of :data:`SUMMARY_KEYS` and a few extras."""
    loan = ctx.loan
    nums = core.numbers
    ead = float(loan.amount)
    pd_ = loan.probability_of_default
    n_elig = int(core.patents["eligible"].sum())
    hhi = core.stats["hhi"]
    summary: dict[str, Any] = {
        "currency": loan.currency,
        "as_of": ctx.as_of.isoformat(),
        "policy": ctx.policy.name,
        "seed": ctx.seed,
        "n_patents": len(frame),
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
        "bank_retained_exposure": bank_retained_exposure(ead, loan.risk_sharing),
        "expected_lgd": nums["expected_lgd"],
        "lgd_95": nums["lgd_95"],
        "lgd_99": nums["lgd_99"],
        "probability_of_default": pd_,
        "expected_loss": float(pd_ * nums["expected_lgd"] * ead) if pd_ is not None else float("nan"),
        "prob_full_recovery": nums["prob_full_recovery"],
        "expected_time_to_cash_years": nums["expected_time_to_cash_years"],
        "flags": book_flags(core, frame=frame, loan=loan, stress_df=stress_df, n_eligible=n_elig),
        # extras
        "expected_lgd_gross": nums["expected_lgd_gross"],
        "expected_lgd_stderr": nums["expected_lgd_stderr"],
        "paths": int(ctx.paths),
        "recovery_confidence": nums["recovery_confidence"],
        "full_recovery_loan": nums["full_recovery_loan"],
        "liquidity_haircut": nums["liquidity_haircut"],
        **{f"hhi_{k}": float(v) for k, v in hhi.items()},
    }
    missing = [k for k in SUMMARY_KEYS if k not in summary]
    if missing:  # pragma: no cover - the contract; a failure here is a bug in this module
        raise RuntimeError(f"summary lacks {missing}")
    return summary


def assumptions_table(
    policy: Policy, *, loan: Loan, frame: pd.DataFrame, fx: Mapping[str, float] | None
) -> pd.DataFrame:
    """Every assumption used: the policy's parameters with their sources, then the engine's own choices."""
    extra: list[tuple[str, Any, str]] = [
        (
            "exposure_at_default",
            float(loan.amount),
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
    rows = [
        {
            "name": k,
            "value": json.dumps(v, ensure_ascii=False, default=json_default),
            "source": policy.sources[k],
        }
        for k, v in policy.values.items()
    ]
    rows += [
        {"name": n, "value": json.dumps(v, ensure_ascii=False, default=json_default), "source": s}
        for n, v, s in extra
    ]
    return pd.DataFrame(rows, columns=["name", "value", "source"])
