"""The loan and the collateral assessment result objects.

These two classes are the contract between the collateral engine, the report writers, the HTTP service and
the monitoring job; their fields are the public surface.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["Loan", "RiskSharing", "CollateralAssessment", "SUMMARY_KEYS"]


@dataclass(frozen=True)
class RiskSharing:
    """Who else bears a loss on the loan, each as a share of the loss with a cap in money.

    Parameters
    ----------
    compensation_fund, guarantor, insurer, appraiser : float
        Shares of the loss (decimals, their sum at most 1) borne by a government risk-compensation fund
        (风险补偿资金池), a guarantee company, an insurer (专利质押融资保证保险) and the appraiser.
    compensation_fund_cap, guarantor_cap, insurer_cap, appraiser_cap : float
        The most each party pays, in the loan currency (``inf`` when uncapped).
    """

    compensation_fund: float = 0.0
    guarantor: float = 0.0
    insurer: float = 0.0
    appraiser: float = 0.0
    compensation_fund_cap: float = float("inf")
    guarantor_cap: float = float("inf")
    insurer_cap: float = float("inf")
    appraiser_cap: float = float("inf")

    def __post_init__(self) -> None:
        shares = {k: getattr(self, k) for k in ("compensation_fund", "guarantor", "insurer", "appraiser")}
        for k, v in shares.items():
            if not (0.0 <= v <= 1.0) or np.isnan(v):
                raise ValueError(f"RiskSharing.{k} must be a share in [0, 1], got {v!r}")
            cap = getattr(self, f"{k}_cap")
            if not cap >= 0:
                raise ValueError(f"RiskSharing.{k}_cap must be >= 0, got {cap!r}")
        if sum(shares.values()) > 1.0 + 1e-12:
            raise ValueError(f"RiskSharing shares add up to {sum(shares.values()):.4f}, more than 1")

    def to_dict(self) -> dict[str, float]:
        """Plain dictionary (for JSON and the audit record)."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class Loan:
    """The loan the patents secure.

    Parameters
    ----------
    amount : float
        Principal (exposure at default when fully drawn), in ``currency``.
    currency : str
        ISO 4217 code; the valuation currency must match or be converted through an FX table.
    tenor_years : float
        Term of the loan in years.
    probability_of_default : float, optional
        Probability of default over the tenor (decimal). Needed for the expected loss.
    borrower : str, optional
        The borrower's name as registered; patents whose owner differs fail eligibility with ``OWNER_MISMATCH``.
    start_date : datetime.date, optional
        Drawdown date; defaults to the assessment's ``as_of``.
    coverage_trigger : float
        Monitoring trigger: collateral value / loan below this raises a coverage event (default 1.0).
    interest_rate : float
        Contract rate, used to discount recoveries when no other rate is given.
    risk_sharing : RiskSharing
        Loss-sharing arrangements.
    """

    amount: float
    currency: str
    tenor_years: float
    probability_of_default: float | None = None
    borrower: str | None = None
    start_date: dt.date | None = None
    coverage_trigger: float = 1.0
    interest_rate: float = 0.05
    risk_sharing: RiskSharing = field(default_factory=RiskSharing)

    def __post_init__(self) -> None:
        if not (self.amount > 0) or not np.isfinite(self.amount):
            raise ValueError(f"Loan.amount must be positive and finite, got {self.amount!r}")
        if not (isinstance(self.currency, str) and len(self.currency) == 3 and self.currency.isalpha()):
            raise ValueError(f"Loan.currency must be a 3-letter ISO code, got {self.currency!r}")
        object.__setattr__(self, "currency", self.currency.upper())
        if not (self.tenor_years > 0) or not np.isfinite(self.tenor_years):
            raise ValueError(f"Loan.tenor_years must be positive, got {self.tenor_years!r}")
        pd_ = self.probability_of_default
        if pd_ is not None and not (0.0 <= pd_ <= 1.0):
            raise ValueError(f"Loan.probability_of_default must be in [0, 1], got {pd_!r}")
        if not (self.coverage_trigger > 0):
            raise ValueError(f"Loan.coverage_trigger must be positive, got {self.coverage_trigger!r}")
        if isinstance(self.risk_sharing, dict):
            object.__setattr__(self, "risk_sharing", RiskSharing(**self.risk_sharing))

    def to_dict(self) -> dict[str, Any]:
        """Plain dictionary (for JSON and the audit record)."""
        d = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "risk_sharing"}
        d["start_date"] = self.start_date.isoformat() if self.start_date else None
        d["risk_sharing"] = self.risk_sharing.to_dict()
        return d


#: keys every ``CollateralAssessment.summary`` holds (money in ``currency``; rates as decimals)
SUMMARY_KEYS: tuple[str, ...] = (
    "currency",
    "as_of",
    "policy",
    "seed",
    "n_patents",
    "n_eligible",
    "appraised_value",  # sum of `value` over all patents
    "appraised_value_p05",  # portfolio 5th percentile of value
    "appraised_value_p95",
    "eligible_value",  # sum of `value` over eligible patents
    "collateral_value",  # sum of `collateral_value`
    "max_loan",  # collateral value x the policy's loan-to-collateral limit
    "loan_amount",
    "ltv",  # loan / appraised value of eligible patents
    "coverage_ratio",  # collateral value / loan
    "shortfall",  # max(0, loan - max_loan)
    "bank_retained_exposure",  # exposure after risk sharing caps
    "expected_lgd",
    "lgd_95",
    "lgd_99",
    "probability_of_default",
    "expected_loss",  # PD x expected LGD x EAD (NaN when PD unknown)
    "prob_full_recovery",
    "expected_time_to_cash_years",
    "flags",  # list of short stable strings that matter to a credit committee
)


@dataclass
class CollateralAssessment:
    """The result of :func:`ipvalue.assess_collateral`.

    Attributes
    ----------
    patents : pandas.DataFrame
        One row per input patent, indexed by ``patent_id``: the facts, the valuation columns, ``eligible``,
        ``ineligible_reasons`` (stable codes joined with ``;``, empty when eligible), one ``haircut_<component>``
        column per component, ``haircut_total``, ``collateral_value`` and ``haircut_basis`` (codes and numbers
        per component; :mod:`ipvalue.report.explain` words them).
    summary : dict
        The keys of :data:`SUMMARY_KEYS`.
    liquidation : pandas.DataFrame
        One row per scenario (deterministic ones and the Monte Carlo): ``scenario``, ``probability``,
        ``gross_proceeds``, ``costs``, ``recovery``, ``recovery_rate``, ``lgd``, ``time_to_cash_years``.
    stress : pandas.DataFrame
        One row per named shock: ``shock``, ``description``, ``appraised_value``, ``collateral_value``,
        ``max_loan``, ``coverage_ratio``, ``expected_lgd``, ``change_collateral_value``, ``change_pct``.
    recovery_draws : numpy.ndarray
        The Monte Carlo's recovery rate per path (bank-retained basis), for the distribution chart.
    loan : Loan
    policy : dict
        The policy as applied (name, parameters and their sources).
    assumptions : pandas.DataFrame
        Every assumption used: ``name``, ``value``, ``source``.
    audit : dict
        ``package_version``, ``input_hash``, ``output_hash``, ``policy``, ``seed``, ``as_of``, ``created_at``.
    """

    patents: pd.DataFrame
    summary: dict[str, Any]
    liquidation: pd.DataFrame
    stress: pd.DataFrame
    recovery_draws: np.ndarray
    loan: Loan
    policy: dict[str, Any]
    assumptions: pd.DataFrame
    audit: dict[str, Any]

    def __repr__(self) -> str:
        s = self.summary
        return (
            f"CollateralAssessment(n_patents={s.get('n_patents')}, appraised_value={s.get('appraised_value'):,.0f}, "
            f"collateral_value={s.get('collateral_value'):,.0f}, max_loan={s.get('max_loan'):,.0f} {s.get('currency')}, "
            f"policy={s.get('policy')!r}, seed={s.get('seed')})"
        )
