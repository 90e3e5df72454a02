"""Loan sizing against the collateral, and the risk-sharing split of a loss."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ipvalue.collateral._assessment import Loan, RiskSharing

__all__ = ["SHARERS", "risk_sharing_terms", "risk_sharing_split", "bank_retained_exposure", "size_loan"]

#: parties that share a loss with the bank, in the order of :class:`RiskSharing`
SHARERS: tuple[str, ...] = ("compensation_fund", "guarantor", "insurer", "appraiser")


def risk_sharing_terms(risk_sharing: RiskSharing) -> list[tuple[float, float]]:
    """Each sharer's share of the loss and cap in money, in the order of :data:`SHARERS`."""
    return [(float(getattr(risk_sharing, n)), float(getattr(risk_sharing, f"{n}_cap"))) for n in SHARERS]


def risk_sharing_split(loss: ArrayLike, risk_sharing: RiskSharing) -> dict[str, np.ndarray]:
    """Split a loss between the sharers and the bank.

    Each sharer pays ``min(share * loss, cap)``; the bank keeps the rest
    (``bank_loss = loss - sum of payments``; with no caps ``(1 - sum of shares) * loss``, reference note 3.5).

    Parameters
    ----------
    loss : float or array
        Loss after recoveries, in the loan currency (not negative).
    risk_sharing : RiskSharing

    Returns
    -------
    dict
        One entry per sharer with its payment, and ``bank`` with the bank-retained loss.
    """
    loss = np.asarray(loss, dtype=float)
    out: dict[str, np.ndarray] = {}
    paid_total = np.zeros_like(loss)
    for name, (share, cap) in zip(SHARERS, risk_sharing_terms(risk_sharing), strict=True):
        paid = np.minimum(share * loss, cap)
        out[name] = paid
        paid_total = paid_total + paid
    out["bank"] = loss - paid_total
    return out


def bank_retained_exposure(ead: float, risk_sharing: RiskSharing) -> float:
    """The bank's loss if nothing is recovered: ``EAD`` less what each sharer pays on a full loss."""
    return float(risk_sharing_split(ead, risk_sharing)["bank"])


def size_loan(
    collateral_value: float, eligible_value: float, loan: Loan, loan_to_collateral: float
) -> dict[str, float]:
    """Maximum loan, LTV, coverage ratio and shortfall.

    Parameters
    ----------
    collateral_value : float
        Sum of the patents' collateral values (loan currency).
    eligible_value : float
        Appraised value of the eligible patents (loan currency).
    loan : Loan
    loan_to_collateral : float
        The policy's limit on loan / collateral value.

    Returns
    -------
    dict
        ``max_loan = collateral_value * loan_to_collateral``, ``ltv = loan / eligible_value`` (inf when nothing
        is eligible), ``coverage_ratio = collateral_value / loan``, ``shortfall = max(0, loan - max_loan)``.
    """
    amount = float(loan.amount)
    max_loan = float(collateral_value) * float(loan_to_collateral)
    ltv = amount / eligible_value if eligible_value > 0 else float("inf")
    return {
        "max_loan": max_loan,
        "ltv": ltv,
        "coverage_ratio": float(collateral_value) / amount,
        "shortfall": max(0.0, amount - max_loan),
    }
