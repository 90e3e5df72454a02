"""Collateral: pledge eligibility, explained haircuts, loan sizing, liquidation Monte Carlo and stress tests.

:func:`assess_collateral` turns a valued portfolio (``ipvalue.value_portfolio``) and a :class:`Loan` into a
:class:`CollateralAssessment`. The building blocks are public for validators and custom pipelines:
policies (:func:`load_policy`), eligibility (:func:`check_eligibility`), haircut components
(:mod:`ipvalue.collateral.haircut`), liquidation (:func:`simulate_liquidation`, :func:`judicial_auction_prices`)
and stress shocks (:data:`STRESS_SHOCKS`).
"""

from ipvalue.collateral._assessment import SUMMARY_KEYS, CollateralAssessment, Loan, RiskSharing
from ipvalue.collateral._inputs import CollateralInputError
from ipvalue.collateral.api import assess_collateral
from ipvalue.collateral.eligibility import REASON_CODES, check_eligibility, normalize_owner
from ipvalue.collateral.haircut import (
    COMPONENTS,
    basel_scaling_factor,
    compute_haircuts,
    market_haircut,
)
from ipvalue.collateral.kernel import CollateralContext
from ipvalue.collateral.liquidation import (
    LIQUIDATION_COLUMNS,
    LiquidationPool,
    MonteCarloResult,
    deterministic_scenarios,
    judicial_auction_prices,
    simulate_liquidation,
)
from ipvalue.collateral.policy import Policy, PolicyError, list_policies, load_policy
from ipvalue.collateral.sizing import bank_retained_exposure, risk_sharing_split, size_loan
from ipvalue.collateral.stress import STRESS_COLUMNS, STRESS_SHOCKS, run_stress

__all__ = [
    "assess_collateral",
    "Loan",
    "RiskSharing",
    "CollateralAssessment",
    "SUMMARY_KEYS",
    "CollateralInputError",
    "Policy",
    "PolicyError",
    "load_policy",
    "list_policies",
    "REASON_CODES",
    "check_eligibility",
    "normalize_owner",
    "COMPONENTS",
    "basel_scaling_factor",
    "market_haircut",
    "compute_haircuts",
    "LiquidationPool",
    "MonteCarloResult",
    "LIQUIDATION_COLUMNS",
    "judicial_auction_prices",
    "simulate_liquidation",
    "deterministic_scenarios",
    "size_loan",
    "risk_sharing_split",
    "bank_retained_exposure",
    "STRESS_SHOCKS",
    "STRESS_COLUMNS",
    "CollateralContext",
    "run_stress",
]
