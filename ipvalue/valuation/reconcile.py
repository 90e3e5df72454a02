"""Stage 5 of the valuation, reconciliation: one value per patent from the income, cost, option and market values.

The method-choice rule: each patent gets the method weights of its situation (``commercialised``: income-led;
``pre_commercial``: option-led; ``no_economics``: cost only). Methods that cannot apply (NaN) drop out and the
remaining weights are rescaled to sum to one; a patent with no applicable method keeps a NaN value. The market
approach, where comparables give a value, takes the share ``method_weights[situation]["market"]`` of the value and
the other approaches share the rest in their own proportions (all of it when no other approach applies). The same
weights combine the Monte Carlo draws of each method into draws of the reconciled value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "METHODS",
    "MARKET",
    "Reconciled",
    "reconcile_values",
    "market_shares",
    "SITUATIONS",
    "classify_situation",
    "method_weights",
    "reconcile",
    "reconcile_draws",
    "weighted_draws",
    "describe_weights",
    "explain_weights",
    "WEIGHT_REASONS",
]

METHODS: tuple[str, ...] = ("income", "cost", "option")
#: the market approach: weighed apart, as a share of the value (see the module's docstring)
MARKET = "market"
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
        unknown = set(weights[s]) - set(METHODS) - {MARKET}
        if unknown:
            raise ValueError(
                f"method weights for {s!r}: unknown method(s) {sorted(unknown)}; use {[*METHODS, MARKET]}"
            )
        share = float(weights[s].get(MARKET, 0.0))
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"method weights for {s!r}: the market share must lie in [0, 1], got {share!r}")
        if (w < 0).any() or not np.isfinite(w).all() or w.sum() <= 0:
            raise ValueError(
                f"method weights for {s!r} must be non-negative and not all zero, got {dict(weights[s])}"
            )
        out[sit == s] = w / w.sum()
    return out


def market_shares(situation: Any, weights: Mapping[str, Mapping[str, float]]) -> np.ndarray:
    """The share of the value the market approach takes where it applies, per patent (0 when not set)."""
    sit = np.asarray(situation, dtype=object)
    out = np.zeros(sit.shape[0])
    for s in SITUATIONS:
        out[sit == s] = float(weights.get(s, {}).get(MARKET, 0.0))
    return out


def _effective(values: np.ndarray, w: np.ndarray) -> np.ndarray:
    avail = np.isfinite(values) & (w > 0)
    w_eff = np.where(avail, w, 0.0)
    tot = w_eff.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(tot > 0, w_eff / np.where(tot > 0, tot, 1.0), 0.0)


def reconcile(
    value_income: Any,
    value_cost: Any,
    value_option: Any,
    weights: np.ndarray,
    value_market: Any = None,
    market_share: Any = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted value over the methods that apply.

    Parameters
    ----------
    value_income, value_cost, value_option : array of float
        Values by method (NaN when a method cannot apply).
    weights : numpy.ndarray
        ``(patents, 3)`` from :func:`method_weights`.
    value_market : array of float, optional
        Market approach values (NaN where no comparables gave one).
    market_share : array of float, optional
        Share of the value the market approach takes where it applies (:func:`market_shares`).

    Returns
    -------
    value : numpy.ndarray
        Reconciled value (NaN when no method with a positive weight applies).
    effective_weights : numpy.ndarray
        ``(patents, 4)`` weights actually used, in the order of :data:`METHODS` then the market (rows sum to 1,
        or 0 when none applies).
    """
    vals = np.column_stack([np.asarray(v, dtype=float) for v in (value_income, value_cost, value_option)])
    w3 = _effective(vals, weights)
    has3 = w3.sum(axis=1) > 0
    value = np.where(has3, np.nansum(np.where(w3 > 0, vals, 0.0) * w3, axis=1), np.nan)
    n = vals.shape[0]
    vm = np.full(n, np.nan) if value_market is None else np.asarray(value_market, dtype=float)
    share = np.zeros(n) if market_share is None else np.broadcast_to(np.asarray(market_share, float), (n,))
    m = np.where(np.isfinite(vm) & (share > 0), np.where(has3, share, 1.0), 0.0)
    if not (m > 0).any():
        return value, np.column_stack([w3, m])
    # the market's share of the value; the other approaches keep their proportions in the rest
    mixed = np.where(has3, np.nan_to_num(value) * (1.0 - m), 0.0) + m * np.nan_to_num(vm)
    return np.where(m > 0, mixed, value), np.column_stack([w3 * (1.0 - m)[:, None], m])


def reconcile_draws(
    income: np.ndarray,
    cost: np.ndarray,
    option: np.ndarray,
    effective_weights: np.ndarray,
    market: np.ndarray | None = None,
) -> np.ndarray:
    """Combine draws ``(patents, draws)`` of each method with the point's effective weights.

    ``effective_weights`` has a column per method of :data:`METHODS` and, optionally, a fourth for the market;
    ``market`` is needed only where that column is positive. A method given as one column ``(patents, 1)`` (a
    point, such as the cost value) is weighed at that shape and broadcast in the sum.
    """
    out = np.zeros(np.broadcast_shapes(income.shape, option.shape))
    methods = [income, cost, option]
    if effective_weights.shape[1] > len(METHODS) and market is not None:
        methods.append(np.asarray(market))
    for j, v in enumerate(methods):
        wj = effective_weights[:, j : j + 1]
        if (wj > 0).any():
            out += weighted_draws(v, wj)
    return out


def weighted_draws(values: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """One method's part of the reconciled draws: ``values x weight`` where the weight is positive, else 0 (NaN -> 0)."""
    part = np.multiply(values, weight)
    if not np.isfinite(part).all():  # else nothing to replace (one pass instead of nan_to_num's six)
        np.nan_to_num(part, copy=False, nan=0.0)
    off = ~(weight > 0)
    if off.any():
        np.copyto(part, 0.0, where=off)
    return part


def describe_weights(effective_weights: np.ndarray) -> pd.Series:
    """``"income 80%; cost 20%"`` per patent (empty when no method applies); a fourth column is the market."""
    out = np.full(effective_weights.shape[0], "", dtype=object)
    for j, m in enumerate((*METHODS, MARKET)[: effective_weights.shape[1]]):
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


def explain_weights(
    effective_weights: np.ndarray, situation: Any, dead: Any, market_reason: Any = "no comparables given"
) -> np.ndarray:
    """Per patent: the weights used, the rule that chose them, and the market approach's place.

    ``"income 80%; cost 20% | commercialised: revenue observed, ... | market: no comparables given"``; methods that
    could not apply have dropped out of the weights already (:func:`reconcile`). ``market_reason`` (one text, or
    one per patent) says why the market approach has the weight it has.
    """
    w = describe_weights(effective_weights).to_numpy(dtype=object)
    sit = np.asarray(situation, dtype=object)
    reason = pd.Series(sit, dtype=object).map(WEIGHT_REASONS).fillna("").to_numpy(dtype=object)
    none = w == ""
    out = np.where(none, "none", w) + " | " + reason + " | market: " + np.asarray(market_reason, dtype=object)
    return np.where(np.asarray(dead, dtype=bool), "none | no right at as_of", out).astype(object)


@dataclass(frozen=True)
class Reconciled:
    """The reconcile stage's result.

    Attributes
    ----------
    value : numpy.ndarray
        The point value (0 without a right; NaN where no method applies).
    weights : numpy.ndarray
        ``(patents, 4)`` effective weights (:data:`METHODS`, then the market).
    methods_used : numpy.ndarray of str
        ``"income (relief from royalty) 80%; cost 20%"`` per patent.
    explained : numpy.ndarray of str
        The ``method_weights`` column: the weights, the rule that chose them, the market's place.
    """

    value: np.ndarray
    weights: np.ndarray
    methods_used: np.ndarray
    explained: np.ndarray


def reconcile_values(
    values: Mapping[str, np.ndarray],
    situation: np.ndarray,
    dead: np.ndarray,
    life_legal: np.ndarray,
    income_label: np.ndarray,
    weights: Mapping[str, Mapping[str, float]],
    market_reason: Sequence[str] | np.ndarray | str,
    notes: Any,
    *,
    unknown: np.ndarray | None = None,
    market_ok: np.ndarray | None = None,
    texts: bool = True,
) -> Reconciled:
    """The reconcile stage: the method-choice rule per patent, the weighted value, and its explanation.

    Parameters
    ----------
    values : mapping
        ``income``, ``cost``, ``option`` and ``market`` values per patent (NaN where a method does not apply).
    situation : array of str
        :func:`classify_situation`.
    dead : array of bool
        No right at ``as_of`` (value 0).
    life_legal : array of float
        Remaining legal life (NaN: term unknown, the row is not valued and already carries a note).
    income_label : array of str
        The income method's label per patent (shown in ``methods_used``).
    weights : mapping
        The ``method_weights`` assumption.
    market_reason : str or array of str
        Why the market approach weighs what it does, per patent.
    notes : Notes
        Receives "no method applies" where nothing could value a live patent.
    unknown : array of bool, optional
        Rows not valued because their legal status is unknown (their values are NaN already).
    market_ok : array of bool, optional
        Where the market branch of the rule applies (comparables near enough, see
        :func:`ipvalue.valuation.methods.market_stage.market_values`); elsewhere a market value is shown, not
        weighed. Default: wherever there is a market value.
    texts : bool
        Write ``methods_used`` and ``explained``; False leaves them None (the numbers are the same: a caller
        that reads only the numbers, the stress test's revaluations, skips the text).
    """
    W = method_weights(situation, weights)
    shares = market_shares(situation, weights)
    vm = np.asarray(values["market"], dtype=float)
    ok = np.isfinite(vm) if market_ok is None else np.asarray(market_ok, dtype=bool) & np.isfinite(vm)
    unweighed = ok & (shares == 0)
    shares = np.where(ok, shares, 0.0)
    value, w_eff = reconcile(values["income"], values["cost"], values["option"], W, vm, shares)
    value = np.where(dead, 0.0, value)
    notes.add(~dead & np.isnan(value) & ~np.isnan(life_legal), "no method applies: value not computed")
    if not texts:
        empty = np.full(len(value), None, dtype=object)
        return Reconciled(value, w_eff, empty, empty.copy())
    if unweighed.any():
        market_reason = np.where(
            unweighed,
            np.asarray(market_reason, dtype=object)
            + "; shown, not weighed: method_weights gives it no share here",
            market_reason,
        )
    used = describe_weights(w_eff).to_numpy(dtype=object, copy=True)
    with_income = w_eff[:, 0] > 0
    labels = np.asarray(income_label, dtype=object)
    for label in pd.unique(labels[with_income]):
        mm = with_income & (labels == label)
        used[mm] = (
            pd.Series(used[mm], dtype=object)
            .str.replace("income ", f"income ({label}) ", n=1, regex=False)
            .to_numpy(dtype=object)
        )
    used = np.where(dead, "none (no remaining life)", used)
    explained = explain_weights(w_eff, situation, dead, market_reason)
    if unknown is not None and unknown.any():
        used = np.where(unknown, "none (legal status unknown)", used)
        explained = np.where(unknown, "none | legal status unknown at as_of", explained)
    return Reconciled(value, w_eff, used, explained)
