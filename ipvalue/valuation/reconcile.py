"""Reconciliation: one value per patent from the income, cost and real-option values.

Each patent gets the method weights of its situation (``commercialised``: income-led; ``pre_commercial``:
option-led; ``no_economics``: cost only). Methods that cannot apply (NaN) drop out and the remaining weights are
rescaled to sum to one; a patent with no applicable method keeps a NaN value. The same weights combine the
Monte Carlo draws of each method into draws of the reconciled value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "METHODS",
    "SITUATIONS",
    "classify_situation",
    "method_weights",
    "reconcile",
    "reconcile_draws",
    "describe_weights",
    "explain_weights",
    "WEIGHT_REASONS",
]

METHODS: tuple[str, ...] = ("income", "cost", "option")
SITUATIONS: tuple[str, ...] = ("commercialised", "pre_commercial", "no_economics")


def classify_situation(commercialized: Any, revenue: Any, commercialization_cost: Any) -> np.ndarray:
    """The situation of each patent.

    Parameters
    ----------
    commercialized : array of {True, False, NaN}
        The bank's flag; NaN when not given.
    revenue : array of float
        Revenue of the covered products (a forecast for pre-commercial patents); NaN when unknown.
    commercialization_cost : array of float
        Investment still needed to launch; NaN when unknown.

    Returns
    -------
    numpy.ndarray of str
        ``commercialised`` when flagged so, or not flagged and with revenue above zero; ``pre_commercial``
        when flagged not commercialised and with a revenue forecast or a launch cost; else ``no_economics``.
    """
    flag = np.asarray(commercialized, dtype=float)
    rev = np.asarray(revenue, dtype=float)
    k = np.asarray(commercialization_cost, dtype=float)
    has_rev = np.isfinite(rev) & (rev > 0)
    comm = (flag == 1.0) | (np.isnan(flag) & has_rev)
    pre = ~comm & (flag == 0.0) & (has_rev | np.isfinite(k))
    out = np.full(rev.shape, "no_economics", dtype=object)
    out[pre] = "pre_commercial"
    out[comm] = "commercialised"
    return out


def method_weights(situation: Any, weights: Mapping[str, Mapping[str, float]]) -> np.ndarray:
    """Weights ``(patents, 3)`` in the order of :data:`METHODS` for each patent's situation.

    Raises
    ------
    ValueError
        When a situation has no weights, a weight is negative, or a situation's weights do not sum to a positive number.
    """
    sit = np.asarray(situation, dtype=object)
    out = np.zeros((sit.shape[0], len(METHODS)))
    for s in SITUATIONS:
        if s not in weights:
            raise ValueError(f"method weights: no weights for situation {s!r}")
        w = np.array([float(weights[s].get(m, 0.0)) for m in METHODS])
        unknown = set(weights[s]) - set(METHODS)
        if unknown:
            raise ValueError(
                f"method weights for {s!r}: unknown method(s) {sorted(unknown)}; use {list(METHODS)}"
            )
        if (w < 0).any() or not np.isfinite(w).all() or w.sum() <= 0:
            raise ValueError(
                f"method weights for {s!r} must be non-negative and not all zero, got {dict(weights[s])}"
            )
        out[sit == s] = w / w.sum()
    return out


def _effective(values: np.ndarray, w: np.ndarray) -> np.ndarray:
    avail = np.isfinite(values) & (w > 0)
    w_eff = np.where(avail, w, 0.0)
    tot = w_eff.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(tot > 0, w_eff / np.where(tot > 0, tot, 1.0), 0.0)


def reconcile(
    value_income: Any, value_cost: Any, value_option: Any, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted value over the methods that apply.

    Parameters
    ----------
    value_income, value_cost, value_option : array of float
        Values by method (NaN when a method cannot apply).
    weights : numpy.ndarray
        ``(patents, 3)`` from :func:`method_weights`.

    Returns
    -------
    value : numpy.ndarray
        Reconciled value (NaN when no method with a positive weight applies).
    effective_weights : numpy.ndarray
        ``(patents, 3)`` weights actually used (rows sum to 1, or 0 when none applies).
    """
    vals = np.column_stack([np.asarray(v, dtype=float) for v in (value_income, value_cost, value_option)])
    w_eff = _effective(vals, weights)
    value = np.where(w_eff.sum(axis=1) > 0, np.nansum(np.where(w_eff > 0, vals, 0.0) * w_eff, axis=1), np.nan)
    return value, w_eff


def reconcile_draws(
    income: np.ndarray, cost: np.ndarray, option: np.ndarray, effective_weights: np.ndarray
) -> np.ndarray:
    """Combine draws ``(patents, draws)`` of each method with the point's effective weights."""
    out = np.zeros(np.broadcast_shapes(income.shape, option.shape))
    for j, v in enumerate((income, cost, option)):
        wj = effective_weights[:, j : j + 1]
        if (wj > 0).any():
            out += np.where(wj > 0, np.nan_to_num(v * wj, nan=0.0), 0.0)
    return out


def describe_weights(effective_weights: np.ndarray) -> pd.Series:
    """``"income 80%; cost 20%"`` per patent (empty when no method applies)."""
    out = np.full(effective_weights.shape[0], "", dtype=object)
    for j, m in enumerate(METHODS):
        w = effective_weights[:, j]
        labels = np.array([""] + [f"{m} {k}%" for k in range(101)], dtype=object)
        part = labels[np.where(w > 0, np.clip(np.round(w * 100).astype(int), 0, 100) + 1, 0)]
        sep = np.where((out != "") & (part != ""), "; ", "")
        out = out + sep.astype(object) + part
    return pd.Series(out, dtype=object)


#: why each situation weighs the approaches as it does (shown per patent in ``method_weights``)
WEIGHT_REASONS: dict[str, str] = {
    "commercialised": "commercialised: revenue observed, so the income approach leads; cost as a check",
    "pre_commercial": "pre-commercial: the launch is a decision still to take, so the real option leads; cost as a check",
    "no_economics": "no revenue or launch data: only the cost approach applies",
}


def explain_weights(effective_weights: np.ndarray, situation: Any, dead: Any) -> np.ndarray:
    """Per patent: the weights used, the rule that chose them, and the market approach's place.

    ``"income 80%; cost 20% | commercialised: revenue observed, ... | market: no comparables"``; methods that could
    not apply have dropped out of the weights already (:func:`reconcile`). The market approach takes a weight only
    when comparable transactions are given (its own issue); until then it is shown as not applied.
    """
    w = describe_weights(effective_weights).to_numpy(dtype=object)
    sit = np.asarray(situation, dtype=object)
    reason = pd.Series(sit, dtype=object).map(WEIGHT_REASONS).fillna("").to_numpy(dtype=object)
    none = w == ""
    out = np.where(none, "none", w) + " | " + reason + " | market: no comparables given"
    return np.where(np.asarray(dead, dtype=bool), "none | no right at as_of", out).astype(object)
