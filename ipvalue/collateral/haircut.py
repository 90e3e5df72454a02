"""Haircuts from appraised value to collateral value, component by component.

Each component is a fraction in [0, 1] and a column ``haircut_<component>`` of the assessment:

``valuation``
    Uncertainty of the appraisal itself: ``1 - exp(-k * s)`` with ``s = ln(p95 / p05) / (2 * 1.645)`` the
    log-standard deviation implied by the valuation's 5-95% range.
``market``
    Price risk until the bank could sell after a default: ``1 - exp(mu*T - z*sigma*sqrt(T))`` with
    ``mu = -obsolescence_rate`` and ``T = (N_R + T_M - 1) / 250`` years (revaluation interval plus liquidation
    period, as in the Basel scaling). The ``basel_scaling`` method takes the same quantile over the estimation
    period ``T_N`` and scales it linearly, ``H = H_N * sqrt(T_M / T_N) * sqrt((N_R + T_M - 1) / T_M)``.
``legal``
    Legal robustness: ``legal_max_haircut * (1 - quality_legal / 100)``.
``life``
    Remaining life against the loan: the share of the patent's remaining-life annuity that runs off before
    maturity plus the disposal buffer.
``concentration``
    ``1 - prod_d (1 - w_d * excess(s_d))``, ``s_d`` the share of the pledged value in the patent's family,
    technology class (CPC subclass) or product line (``group``), ``excess(s) = max(0, s - f) / (1 - f)``. With
    ``f = 0`` the value-weighted mean of ``w_d * s_d`` is ``w_d * HHI_d``.
``currency``
    Currency mismatch: 8% over 10 days scaled by the Basel formula to the policy's revaluation interval and
    liquidation period.

The components compose multiplicatively, ``1 - prod(1 - h)``, and the policy's pledge-rate cap by patent type
then bounds the collateral value: ``collateral = value * min(1 - composed, cap)``.

The engine gives codes and numbers only: ``haircut_basis`` holds, per patent, each component's code, value and
the figures that produced it; the report (:mod:`ipvalue.report.explain`) words it in Chinese or English.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.special import ndtri

from ipvalue.collateral._columns import EngineColumns, technology_classes
from ipvalue.collateral.fx import fx_haircut
from ipvalue.collateral.policy import Policy
from ipvalue.facts._reprs import Column, spec_texts
from ipvalue.facts.columns import text_series as text

__all__ = [
    "COMPONENTS",
    "in_component_order",
    "BUSINESS_DAYS_PER_YEAR",
    "basel_scaling_factor",
    "market_haircut",
    "basel_market_haircut",
    "valuation_haircut",
    "legal_haircut",
    "life_factor",
    "life_haircut",
    "concentration_haircut",
    "concentration_buckets",
    "concentration_totals",
    "add_concentration_totals",
    "currency_haircut",
    "compute_haircuts",
    "haircut_arrays",
    "bucket_sums_many",
    "pooled_value",
    "haircut_frame",
    "HAIRCUT_COLUMNS",
    "finish_columns",
    "finish_haircut_basis",
    "finished_bases",
    "haircut_basis_texts",
    "BASIS_KEYS",
    "PATENT_COMPONENTS",
]

#: haircut components, in the order they compose
COMPONENTS: tuple[str, ...] = (
    "valuation",
    "market",
    "legal",
    "life",
    "concentration",
    "currency",
    "liquidity",
)


def in_component_order(names: Iterable[str]) -> list[str]:
    """``names`` with the engine's components first, in :data:`COMPONENTS` order, then the others as they came.

    A stored assessment read back from JSON may have its keys sorted; whoever splits or lists the haircuts puts
    them in the order they compose (the waterfall's split depends on it).
    """
    rank = {c: k for k, c in enumerate(COMPONENTS)}
    given = dict.fromkeys(names)  # each once, in the order given
    return [c for _, _, c in sorted((rank.get(c, len(rank)), k, c) for k, c in enumerate(given))]


BUSINESS_DAYS_PER_YEAR = 250
#: the components set per patent (the liquidity haircut is set for the whole book, after the liquidation)
PATENT_COMPONENTS: tuple[str, ...] = COMPONENTS[:-1]
#: keys of a completed ``haircut_basis`` (per patent; each component's entry holds ``code`` and ``value``)
BASIS_KEYS: tuple[str, ...] = (
    "ineligible",
    *COMPONENTS,
    "composed",
    "patent_type",
    "cap",
    "cap_binding",
    "binding",
    "pledge_rate",
)
_Z90 = float(ndtri(0.95))  # 1.6449: half-width of a 5-95% range in standard deviations


def basel_scaling_factor(
    revaluation_days: ArrayLike, holding_days: ArrayLike, estimation_days: ArrayLike | None = None
) -> Any:
    """Scale factor of a haircut for the holding period and revaluation interval.

    ``sqrt((N_R + T_M - 1) / T_M)`` (DFSA PIB A4.3.25), times ``sqrt(T_M / T_N)`` when the haircut was
    estimated over ``T_N = estimation_days`` (PIB A4.3.26).

    Parameters
    ----------
    revaluation_days : float or array
        ``N_R``, business days between revaluations (1 = daily).
    holding_days : float or array
        ``T_M``, the minimum holding period (5 repo-style, 10 capital market, 20 secured lending).
    estimation_days : float or array, optional
        ``T_N``, the holding period the haircut was estimated for (10 for the supervisory table).
    """
    n_r = np.asarray(revaluation_days, dtype=float)
    t_m = np.asarray(holding_days, dtype=float)
    f = np.sqrt((n_r + t_m - 1.0) / t_m)
    if estimation_days is not None:
        f = f * np.sqrt(t_m / np.asarray(estimation_days, dtype=float))
    return f[()] if f.ndim == 0 else f


def market_haircut(
    volatility: ArrayLike, horizon_years: ArrayLike, quantile: float, drift: ArrayLike = 0.0
) -> Any:
    """Lognormal quantile haircut ``1 - exp(mu*T - z_q*sigma*sqrt(T))``, clipped to [0, 1].

    Parameters
    ----------
    volatility : float or array
        Annual volatility of the value.
    horizon_years : float or array
        ``T``.
    quantile : float
        One-sided confidence, e.g. 0.99 (``z_q = 2.326``).
    drift : float or array
        ``mu`` per year; negative for obsolescence.
    """
    sig = np.asarray(volatility, dtype=float)
    t = np.asarray(horizon_years, dtype=float)
    z = float(ndtri(quantile))
    h = 1.0 - np.exp(np.asarray(drift, dtype=float) * t - z * sig * np.sqrt(t))
    h = np.clip(h, 0.0, 1.0)
    return h[()] if h.ndim == 0 else h


def basel_market_haircut(
    volatility: ArrayLike,
    quantile: float,
    drift: ArrayLike,
    revaluation_days: ArrayLike,
    holding_days: ArrayLike,
    estimation_days: ArrayLike,
) -> Any:
    """The lognormal haircut over ``estimation_days``, scaled linearly by :func:`basel_scaling_factor`."""
    h_n = market_haircut(
        volatility, np.asarray(estimation_days, dtype=float) / BUSINESS_DAYS_PER_YEAR, quantile, drift
    )
    h = np.clip(h_n * basel_scaling_factor(revaluation_days, holding_days, estimation_days), 0.0, 1.0)
    return h[()] if np.ndim(h) == 0 else h


def valuation_haircut(
    p05: ArrayLike, p50: ArrayLike, p95: ArrayLike, k: float, missing_haircut: float
) -> tuple[np.ndarray, np.ndarray]:
    """Appraisal-uncertainty haircut ``1 - exp(-k * s)`` from the valuation's range.

    ``s = ln(p95 / p05) / (2 * 1.645)``; when ``p05`` is 0 the upper half ``ln(p95 / p50) / 1.645`` is used;
    when the range is missing, ``missing_haircut``; when ``p50`` is also 0 the haircut is 1.

    Returns
    -------
    (haircut, s) : tuple of arrays
    """
    p05, p50, p95 = (np.asarray(x, dtype=float) for x in (p05, p50, p95))
    with np.errstate(divide="ignore", invalid="ignore"):
        s_full = np.log(p95 / p05) / (2.0 * _Z90)
        s_upper = np.log(p95 / p50) / _Z90
    s = np.where(p05 > 0, s_full, np.where(p50 > 0, s_upper, np.inf))
    s = np.where(p95 <= 0, 0.0, s)  # nothing above zero: no range to speak of (value is 0 anyway)
    s = np.maximum(s, 0.0)
    h = 1.0 - np.exp(-float(k) * s)
    missing = np.isnan(p05) | np.isnan(p95)
    h = np.where(missing, float(missing_haircut), h)
    s = np.where(missing, np.nan, s)
    return np.clip(h, 0.0, 1.0), s


def legal_haircut(quality_legal: ArrayLike, max_haircut: float) -> Any:
    """``max_haircut * (1 - q / 100)``; a missing score takes the full ``max_haircut``."""
    q = np.asarray(quality_legal, dtype=float)
    h = float(max_haircut) * (1.0 - np.clip(q, 0.0, 100.0) / 100.0)
    h = np.where(np.isnan(q), float(max_haircut), h)
    return h[()] if h.ndim == 0 else h


def life_factor(remaining_years: ArrayLike, elapsed_years: ArrayLike, rate: float) -> Any:
    """Share of a level annuity over ``remaining_years`` still to come after ``elapsed_years``.

    ``a(L - t) / a(L)`` with ``a(n) = (1 - (1 + r)^-n) / r`` (``(L - t) / L`` when ``r = 0``); 0 once ``t >= L``.
    Broadcasts; used for the remaining-life haircut and the liquidation value path.
    """
    big_l = np.asarray(remaining_years, dtype=float)
    t = np.asarray(elapsed_years, dtype=float)
    left = np.maximum(big_l - t, 0.0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if rate > 0:
            kappa = np.log1p(rate)
            num_, den = -np.expm1(-kappa * left), -np.expm1(-kappa * big_l)
        else:
            num_, den = left, big_l
        f = np.where(den > 0, num_ / den, (left > 0).astype(float))  # den underflows for a tiny L
    f = np.clip(np.where(big_l > 0, f, 0.0), 0.0, 1.0)
    f = np.where(np.isnan(big_l), np.nan, f)
    return f[()] if np.ndim(f) == 0 else f


def life_haircut(remaining_years: ArrayLike, horizon_years: ArrayLike, rate: float) -> Any:
    """``1 - life_factor(remaining, horizon, rate)``; 1 when the patent does not outlive the horizon."""
    h = 1.0 - life_factor(remaining_years, horizon_years, rate)
    h = np.where(np.isnan(np.asarray(remaining_years, dtype=float)), 1.0, h)
    return h[()] if np.ndim(h) == 0 else h


def concentration_haircut(
    values: ArrayLike,
    buckets: Mapping[str, ArrayLike],
    weights: Mapping[str, float],
    free_share: float = 0.0,
    *,
    totals: Mapping[str, Any] | None = None,
    codes_of: Mapping[str, np.ndarray] | None = None,
    bucket_sums: Mapping[str, np.ndarray] | None = None,
) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, float]]:
    """Concentration haircut per patent from the value shares of its buckets.

    Parameters
    ----------
    values : array
        Value of each patent in the pledged pool (0 for patents outside it).
    buckets : dict of str -> array-like
        Dimension name -> bucket label per patent.
    weights : dict of str -> float
        Haircut at a 100% share, per dimension.
    free_share : float
        Share a bucket may hold before it attracts a haircut.
    totals : dict, optional
        The whole book's bucket totals when ``values`` is one chunk of it: ``{"total": float, <dimension>:
        pandas.Series of the pooled value by bucket label}`` (:func:`concentration_totals` per chunk, added up
        with :func:`add_concentration_totals`). Without it the totals are those of ``values``.
    codes_of : dict of str -> array, optional
        Per dimension, each patent's bucket number in sorted label order (``pandas.factorize(labels,
        sort=True)``), when the caller has it already.
    bucket_sums : dict of str -> array, optional
        Per dimension, the pooled value of each bucket in that order (:func:`bucket_sums_many`), when the
        caller has it already (with ``codes_of``).

    Returns
    -------
    (haircut, shares, hhi) : array, dict of arrays, dict of float
        ``shares[d]`` is the patent's bucket share; ``hhi[d]`` the Herfindahl index of the pool in ``d``.
    """
    v = np.asarray(values, dtype=float)
    total = v.sum() if totals is None else float(totals["total"])
    retain = np.ones(len(v))
    shares, hhi = {}, {}
    for dim, labels in buckets.items():
        if totals is None:
            codes = None if codes_of is None else codes_of.get(dim)
            if codes is None:
                codes = pd.factorize(np.asarray(labels, dtype=object), sort=True)[0]
            # one grouped sum (pandas' compensated sum, rows in order) per dimension, by bucket number in
            # sorted label order: the sums of groupby(labels).sum() and its transform
            if bucket_sums is not None:
                bucket_vals = bucket_sums[dim]
            else:
                bucket_vals = pd.Series(v).groupby(codes).sum().to_numpy()
            by = bucket_vals[codes]
        else:
            table = totals[dim]
            by = pd.Series(np.asarray(labels, dtype=object)).map(table).fillna(0.0).to_numpy(dtype=float)
            bucket_vals = table.sort_index().to_numpy(dtype=float)
        s = by / total if total > 0 else np.zeros(len(v))
        hhi[dim] = float(((bucket_vals / total) ** 2).sum()) if total > 0 else float("nan")
        excess = np.maximum(s - free_share, 0.0) / (1.0 - free_share)
        retain *= 1.0 - float(weights[dim]) * excess
        shares[dim] = s
    return 1.0 - retain, shares, hhi


def bucket_sums_many(
    pools: list[np.ndarray], codes_of: Mapping[str, np.ndarray]
) -> list[dict[str, np.ndarray]]:
    """Per pool, the pooled value of each bucket by dimension: one grouped sum per dimension for all pools.

    The pools (the base case and the stress shocks on the same patents) are the columns of one frame; pandas'
    grouped sum keeps one compensated sum per bucket and column, rows in order, so each pool's sums are the
    same to the last bit as its own ``Series.groupby(codes).sum()`` (:func:`concentration_haircut`).
    """
    if not pools:
        return []
    table = pd.DataFrame(np.column_stack(pools))
    out: list[dict[str, np.ndarray]] = [{} for _ in pools]
    for dim, codes in codes_of.items():
        sums = table.groupby(codes).sum().to_numpy()
        for j, d in enumerate(out):
            d[dim] = np.ascontiguousarray(sums[:, j])
    return out


def pooled_value(value: np.ndarray, fx_rate: np.ndarray, eligible: np.ndarray) -> np.ndarray:
    """The pledged pool's value per patent in the loan currency (0 outside it, and where the value is missing)."""
    return np.where(eligible, np.nan_to_num(value) * fx_rate, 0.0)


def concentration_buckets(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """Bucket label per patent: ``family`` (family_id, else the patent), ``technology_class``, ``product_line``."""
    return EngineColumns(frame).buckets()


def concentration_totals(values: ArrayLike, buckets: Mapping[str, ArrayLike]) -> dict[str, Any]:
    """Map step of the bucket totals: pooled value by bucket label in one chunk (buckets with value 0 left out).

    Returns
    -------
    dict
        ``{"total": float, <dimension>: pandas.Series label -> value}``, a few rows per dimension.
    """
    v = np.asarray(values, dtype=float)
    out: dict = {"total": float(v.sum())}
    for dim, labels in buckets.items():
        by = pd.Series(v).groupby(np.asarray(labels, dtype=object)).sum()
        out[dim] = by[by != 0.0].astype(float)
    return out


def add_concentration_totals(parts: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Reduce step of the bucket totals: add the chunks' tables (:func:`concentration_totals`), in order."""
    parts = list(parts)
    total = 0.0
    for p in parts:
        total += p["total"]
    out: dict = {"total": total}
    dims = [k for k in (parts[0] if parts else {}) if k != "total"]
    for dim in dims:
        pieces = [p[dim] for p in parts if len(p[dim])]
        if pieces:
            by = pd.concat(pieces).groupby(level=0).sum().astype(float)
        else:
            by = pd.Series([], dtype=float)
        by.index = by.index.astype(object)
        out[dim] = by.sort_index()
    return out


def currency_haircut(
    mismatch: ArrayLike,
    fx_haircut_10d: float,
    revaluation_days: ArrayLike,
    holding_days: ArrayLike,
    estimation_days: ArrayLike = 10,
) -> np.ndarray:
    """Currency-mismatch haircut: ``Hfx`` (10-day) scaled by :func:`basel_scaling_factor`, where mismatched."""
    h = min(
        1.0, float(fx_haircut_10d) * basel_scaling_factor(revaluation_days, holding_days, estimation_days)
    )
    return np.where(np.asarray(mismatch, dtype=bool), h, 0.0)


def technology_class(frame: pd.DataFrame) -> pd.Series:
    """The CPC subclass (first four characters) of each patent's first class, ``"unknown"`` when missing."""
    return technology_classes(frame)


def compute_haircuts(
    frame: pd.DataFrame,
    *,
    eligible: np.ndarray,
    policy: Policy,
    horizon_years: float,
    fx_rate: np.ndarray,
    currency_mismatch: np.ndarray,
    fx_volatility: np.ndarray | None = None,
    obsolescence_shift: float = 0.0,
    totals: dict | None = None,
) -> tuple[pd.DataFrame, dict]:
    """All haircut components, the composed total, the cap and the collateral value per patent.

    Parameters
    ----------
    frame : pandas.DataFrame
        The checked valued frame.
    eligible : array of bool
    policy : Policy
    horizon_years : float
        Years from ``as_of`` to loan maturity (before the disposal buffer).
    fx_rate : array
        Loan-currency units per unit of each patent's valuation currency.
    currency_mismatch : array of bool
    obsolescence_shift : float
        Added to the policy's obsolescence rate (stress tests).
    totals : dict, optional
        The whole book's concentration bucket totals when ``frame`` is one chunk of it (see
        :func:`concentration_haircut`); the frame's own totals when omitted.

    Returns
    -------
    (columns, stats) : pandas.DataFrame, dict
        ``haircut_<component>`` for each of :data:`COMPONENTS`, ``haircut_total``, ``pledge_rate_cap``,
        ``cap_binding``, ``fx_rate``, ``collateral_value`` (loan currency) and ``haircut_basis`` (per patent, a
        JSON-ready dict: each component's code, value and the figures behind it; no words, see
        :func:`finish_haircut_basis` and :mod:`ipvalue.report.explain`); ``stats`` holds
        the pool's Herfindahl indices and the market horizon.
    """
    cols = EngineColumns(frame)
    out, stats = haircut_arrays(
        cols,
        eligible=eligible,
        policy=policy,
        horizon_years=horizon_years,
        fx_rate=fx_rate,
        currency_mismatch=currency_mismatch,
        fx_volatility=fx_volatility,
        obsolescence_shift=obsolescence_shift,
        totals=totals,
        reasons=text(frame, "ineligible_reasons").fillna("").to_numpy(dtype=object),
    )
    return haircut_frame(out, frame.index), stats


#: per-patent columns of :func:`compute_haircuts`, in order (``haircut_basis`` last)
HAIRCUT_COLUMNS: tuple[str, ...] = (
    *(f"haircut_{c}" for c in COMPONENTS),
    "haircut_total",
    "pledge_rate_cap",
    "cap_binding",
    "fx_rate",
    "collateral_value",
    "haircut_basis",
)


def haircut_frame(out: Mapping[str, Any], index: pd.Index) -> pd.DataFrame:
    """The table :func:`compute_haircuts` returns, from :func:`haircut_arrays`' result."""
    frame = pd.DataFrame({c: out[c] for c in HAIRCUT_COLUMNS[:-1]}, index=index)
    frame["haircut_basis"] = out["haircut_basis"]
    return frame


def haircut_arrays(
    cols: EngineColumns,
    *,
    eligible: np.ndarray,
    policy: Policy,
    horizon_years: float,
    fx_rate: np.ndarray,
    currency_mismatch: np.ndarray,
    fx_volatility: np.ndarray | None = None,
    obsolescence_shift: float = 0.0,
    totals: dict | None = None,
    reasons: np.ndarray | None = None,
    bucket_sums: Mapping[str, np.ndarray] | None = None,
) -> tuple[dict[str, Any], dict]:
    """:func:`compute_haircuts` on the engine's columns: the per-patent arrays by column name.

    ``reasons`` are the patents' ``ineligible_reasons`` (``;``-joined codes) for ``haircut_basis``; without
    them the basis is not assembled (``haircut_basis`` is None: a stress shock needs the numbers only).
    ``bucket_sums``: the pool's concentration bucket sums when the caller has them (:func:`bucket_sums_many`).
    """
    pol = policy
    n = cols.n
    value = cols.num("value")
    value_ccy = np.nan_to_num(value) * fx_rate
    sigma = cols.num("volatility")
    sigma = np.where(np.isfinite(sigma), sigma, float(pol["default_volatility"]))
    mu = -(float(pol["obsolescence_rate"]) + obsolescence_shift)
    n_r = int(pol["revaluation_interval_days"])
    t_m = int(pol["liquidation_period_days"])
    t_n = int(pol["estimation_period_days"])
    q = float(pol["quantile"])
    t_mkt = (n_r + t_m - 1) / BUSINESS_DAYS_PER_YEAR

    p05 = cols.num("value_p05")
    p50 = cols.num("value_p50") if cols.has("value_p50") else value
    p95 = cols.num("value_p95")
    h_val, s_val = valuation_haircut(
        p05, p50, p95, pol["valuation_k"], pol["valuation_missing_range_haircut"]
    )
    if pol["market_method"] == "basel_scaling":
        h_mkt = basel_market_haircut(sigma, q, mu, n_r, t_m, t_n)
    else:
        h_mkt = market_haircut(sigma, t_mkt, q, mu)
    q_legal = cols.num("quality_legal")
    h_leg = legal_haircut(q_legal, pol["legal_max_haircut"])
    life = cols.num("remaining_life_years")
    life_h = horizon_years + float(pol["disposal_buffer_years"])
    h_life = life_haircut(life, life_h, float(pol["life_discount_rate"]))

    pool = pooled_value(value, fx_rate, eligible)
    buckets = cols.buckets()
    codes = None if totals is not None else {d: c for d, (c, _) in cols.bucket_codes().items()}
    h_conc, shares, hhi = concentration_haircut(
        pool,
        buckets,
        pol["concentration_weights"],
        float(pol["concentration_free_share"]),
        totals=totals,
        codes_of=codes,
        bucket_sums=bucket_sums,
    )
    sig_fx = np.zeros(n) if fx_volatility is None else np.asarray(fx_volatility, dtype=float)
    h_fx = np.where(currency_mismatch, fx_haircut(sig_fx, t_mkt, q), 0.0)

    comps = {
        "valuation": h_val,
        "market": h_mkt,
        "legal": h_leg,
        "life": h_life,
        "concentration": h_conc,
        "currency": h_fx,
        "liquidity": np.zeros(n),  # set for the whole book once the liquidation is known (kernel)
    }
    retain = np.ones(n)
    for c in COMPONENTS:
        comps[c] = np.clip(np.asarray(comps[c], dtype=float), 0.0, 1.0)
        retain *= 1.0 - comps[c]
    cap = cols.pledge_rate_cap(tuple(sorted(dict(pol["pledge_rate_cap"]).items())))
    rate = np.minimum(retain, cap)
    cap_binding = cap < retain
    rate = np.where(eligible, rate, 0.0)
    total = 1.0 - rate
    collateral = value_ccy * rate

    out: dict[str, Any] = {f"haircut_{c}": comps[c] for c in COMPONENTS}
    out["haircut_total"] = total
    out["pledge_rate_cap"] = cap
    out["cap_binding"] = cap_binding & eligible
    out["fx_rate"] = fx_rate
    out["collateral_value"] = collateral
    out["haircut_basis"] = None
    out["haircut_basis_spec"] = None
    if reasons is not None:
        valuation_code = np.select(
            [np.isnan(s_val), np.nan_to_num(p95) <= 0, p05 > 0, p50 > 0],
            ["no_range", "zero_value", "range", "upper_half"],
            "no_p05_p50",
        )
        market = {"code": str(pol["market_method"]), "drift": mu, "quantile": q, "horizon_years": t_mkt}
        if pol["market_method"] == "basel_scaling":
            market.update(
                revaluation_days=n_r,
                holding_days=t_m,
                estimation_days=t_n,
                scaling=float(basel_scaling_factor(n_r, t_m, t_n)),
            )
        out["haircut_basis"], out["haircut_basis_spec"] = _basis_rows(
            reasons=np.asarray(reasons, dtype=object),
            eligible=eligible,
            comps=comps,
            valuation=(valuation_code, s_val, float(pol["valuation_k"])),
            market=(sigma, market),
            legal=(q_legal, float(pol["legal_max_haircut"])),
            life=(life, life_h),
            concentration=(shares, buckets["technology_class"], buckets["product_line"]),
            currency=(currency_mismatch, sig_fx, t_mkt),
        )
    stats = {"hhi": hhi, "market_horizon_years": t_mkt, "life_horizon_years": life_h}
    return out, stats


def _basis_rows(
    *,
    reasons: np.ndarray,
    eligible: np.ndarray,
    comps: Mapping[str, np.ndarray],
    valuation: tuple,
    market: tuple,
    legal: tuple,
    life: tuple,
    concentration: tuple,
    currency: tuple,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Per patent, each per-patent component's code, value and the figures that produced it (no words).

    The pieces are arrays over the portfolio (book-level parameters are scalars shared by every row); only
    the final assembly is a per-row loop, one dict per patent. :func:`finish_haircut_basis` adds the
    book-level liquidity haircut and the pledge rate; :mod:`ipvalue.report.explain` words the result. Also
    returns the rows' spec (:func:`ipvalue.facts._reprs.spec_texts`: the same dict, a column where the rows
    differ), from which :func:`haircut_basis_texts` writes the rows' text for the output hash.
    """
    v_code, s_val, k = valuation
    sigma, mkt = market
    q_legal, legal_max = legal
    life_years, life_h = life
    shares, tech, line = concentration
    mismatch, sig_fx, t_mkt = currency
    s_val = np.asarray(s_val, dtype=float)
    q_legal = np.asarray(q_legal, dtype=float)
    life_years = np.asarray(life_years, dtype=float)
    ok = np.asarray(eligible, dtype=bool)
    # a few distinct combinations of reason codes: each split once, every row its own list
    split: dict[str, list[str]] = {}
    ineligible: list[list[str]] = []
    for r, good in zip(reasons.tolist(), ok.tolist(), strict=True):
        if good:
            ineligible.append([])
            continue
        codes = split.get(r)
        if codes is None:
            codes = split[r] = [c for c in str(r).split(";") if c]
        ineligible.append(list(codes))
    cols = [
        ineligible,
        *(np.asarray(comps[c], dtype=float).tolist() for c in PATENT_COMPONENTS),
        v_code.tolist(),
        _finite_or_none(s_val),
        np.asarray(sigma, dtype=float).tolist(),
        np.where(np.isnan(q_legal), "no_score", "score").tolist(),
        _finite_or_none(q_legal),
        np.where(np.isnan(life_years), "unknown", "run_off").tolist(),
        _finite_or_none(life_years),
        *(
            np.asarray(shares[d], dtype=float).tolist()
            for d in ("family", "technology_class", "product_line")
        ),
        [str(t) for t in tech.tolist()],
        [str(x) for x in line.tolist()],
        np.where(np.asarray(mismatch, dtype=bool), "mismatch", "same_currency").tolist(),
        np.asarray(sig_fx, dtype=float).tolist(),
    ]

    def entry(
        inel: Any, h_v: Any, h_m: Any, h_l: Any, h_t: Any, h_c: Any, h_x: Any, vc: Any, s: Any, sg: Any,
        qc: Any, ql: Any, lc: Any, ly: Any, sf: Any, st: Any, sp: Any, tc: Any, pl: Any, mc: Any, sx: Any,
    ) -> dict[str, Any]:  # fmt: skip
        # one patent's dict; called with Column objects it is the rows' spec (the same keys, in the same order)
        return {
            "ineligible": inel,
            "valuation": {"code": vc, "value": h_v, "log_sd": s, "k": k},
            "market": {**mkt, "value": h_m, "volatility": sg},
            "legal": {"code": qc, "value": h_l, "score": ql, "max_haircut": legal_max},
            "life": {"code": lc, "value": h_t, "remaining_years": ly, "horizon_years": life_h},
            "concentration": {
                "code": "shares",
                "value": h_c,
                "family_share": sf,
                "technology_class": tc,
                "technology_class_share": st,
                "product_line": pl,
                "product_line_share": sp,
            },
            "currency": {"code": mc, "value": h_x, "fx_volatility": sx, "horizon_years": t_mkt},
        }

    return [entry(*row) for row in zip(*cols, strict=True)], entry(*(Column(c) for c in cols))


def _finite_or_none(values: np.ndarray) -> list[float | None]:
    """Every element as a float, or None where it is NaN or infinite (JSON has neither)."""
    out = values.astype(object)
    out[~np.isfinite(values)] = None
    return out.tolist()


def _finish_columns(patents: pd.DataFrame) -> tuple[list[Any], list[list[Any]]]:
    """The columns :func:`finish_haircut_basis` adds to each patent's basis: the rows' bases and the new values.

    Returns the bases (a list, or ``{}`` per row) and, in the order of :func:`_finished`'s arguments after the
    level, the liquidity haircut, the composed haircut, the patent type, the cap, whether it binds, the binding
    component and the pledge rate (Python values, one per row): :func:`finish_columns` of the frame's columns.
    """
    n = len(patents)
    return finish_columns(
        patents["haircut_basis"].tolist() if "haircut_basis" in patents.columns else [{}] * n,
        {c: patents[f"haircut_{c}"].to_numpy(dtype=float) for c in COMPONENTS},
        [None if t is pd.NA else t for t in text(patents, "patent_type").tolist()],
        patents["pledge_rate_cap"].to_numpy(dtype=float),
        patents["cap_binding"].to_numpy(dtype=bool),
        patents["binding_component"].to_numpy(dtype=str),
        patents["haircut_total"].to_numpy(dtype=float),
    )


def finish_columns(
    bases: list[Any],
    comps: Mapping[str, np.ndarray],
    patent_type: list[Any],
    cap: np.ndarray,
    cap_binding: np.ndarray,
    binding: np.ndarray,
    total: np.ndarray,
) -> tuple[list[Any], list[list[Any]]]:
    """:func:`_finish_columns` from the columns' values.

    Each component's haircut by name (:data:`COMPONENTS`), the patent type (None where missing), the pledge-rate
    cap, whether it binds, the binding component and the composed haircut ``haircut_total``, one per row.
    """
    retain = np.ones(len(bases))
    for c in COMPONENTS:
        retain *= 1.0 - np.asarray(comps[c], dtype=float)
    return bases, [
        np.asarray(comps["liquidity"], dtype=float).tolist(),
        (1.0 - retain).tolist(),
        list(patent_type),
        np.asarray(cap, dtype=float).tolist(),
        np.asarray(cap_binding, dtype=bool).tolist(),
        np.asarray(binding, dtype=str).tolist(),
        (1.0 - np.asarray(total, dtype=float)).tolist(),
    ]


def _finished(
    b: Any, level: float, h: Any, composed: Any, ptype: Any, cap: Any, binding: Any, which: Any, rate: Any
) -> dict[str, Any]:
    """One patent's completed basis; with a spec for ``b`` and Column objects, the completed rows' spec."""
    return {
        **b,
        "liquidity": {"code": "recovery_confidence", "value": h, "confidence": level},
        "composed": composed,
        "patent_type": ptype,
        "cap": cap,
        "cap_binding": binding,
        "binding": which,
        "pledge_rate": rate,
    }


def finished_bases(
    bases: list[Any], cols: list[list[Any]], *, confidence: float, index: pd.Index
) -> pd.Series:
    """The completed ``haircut_basis`` column from :func:`finish_columns`' result."""
    level = float(confidence)
    basis = [_finished(b, level, *row) for b, *row in zip(bases, *cols, strict=True)]
    return pd.Series(basis, index=index, dtype=object)


def finish_haircut_basis(patents: pd.DataFrame, *, confidence: float) -> pd.DataFrame:
    """Complete each patent's ``haircut_basis`` once the book-level liquidity haircut is known.

    Adds the liquidity haircut with the full-recovery confidence it was calibrated to, the composed haircut,
    the patent type, the pledge-rate cap and whether it binds, the component that binds and the pledge rate.
    Reads only the patents' columns; the numbers are those of the columns, unchanged.
    """
    bases, cols = _finish_columns(patents)
    out = patents.copy(deep=False)  # copy-on-write: the caller's frame keeps its column
    out["haircut_basis"] = finished_bases(bases, cols, confidence=confidence, index=patents.index)
    return out


#: from this many patents on, :func:`haircut_basis_texts` writes the texts from columns (below, ``str()`` of each
#: dict is cheaper: about 15 us a row against about 1 ms of set-up; 20,000 rows: 0.15 s against 0.33 s)
BASIS_TEXT_ROWS = 200


def haircut_basis_texts(
    before: pd.DataFrame, after: pd.DataFrame, hc: Mapping[str, Any], *, confidence: float
) -> tuple[list[Any], list[str]] | None:
    """``str()`` of every completed ``haircut_basis`` of ``after``, written from columns; None when it cannot be.

    ``before`` is the frame :func:`finish_haircut_basis` completed (its bases must be the very dicts of
    ``hc["haircut_basis"]``, in that order, whose spec is ``hc["haircut_basis_spec"]``), ``after`` its result;
    fewer than :data:`BASIS_TEXT_ROWS` rows: None. Returns the completed dicts and their texts (:func:`ipvalue.facts._reprs.spec_texts`), for
    :func:`ipvalue.facts.columns.input_hash`; the first and last rows are checked against ``str()``.
    """
    rows, spec = hc.get("haircut_basis"), hc.get("haircut_basis_spec")
    if rows is None or spec is None or "haircut_basis" not in before.columns or len(before) != len(rows):
        return None
    if len(rows) < BASIS_TEXT_ROWS:  # a few rows: str() of each costs less than the columns' set-up
        return None
    if not all(map(operator.is_, before["haircut_basis"].tolist(), rows)):
        return None
    n = len(after)
    _, cols = _finish_columns(after)
    texts = spec_texts(_finished(spec, float(confidence), *(Column(c) for c in cols)), n)
    done = after["haircut_basis"].tolist()
    if texts is None or (n and (texts[0] != str(done[0]) or texts[-1] != str(done[-1]))):
        return None
    return done, texts
