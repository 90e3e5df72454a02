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
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.special import ndtri

from ipvalue.collateral._inputs import num
from ipvalue.collateral.fx import fx_haircut
from ipvalue.collateral.policy import Policy
from ipvalue.facts.columns import text_series as text

__all__ = [
    "COMPONENTS",
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
    "finish_explanations",
    "PATENT_COMPONENTS",
    "COMPONENT_LABELS_ZH",
    "PATENT_TYPE_LABELS_ZH",
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
BUSINESS_DAYS_PER_YEAR = 250
#: the components' names in the Chinese explanation (``haircut_explanation_zh``)
COMPONENT_LABELS_ZH: dict[str, str] = {
    "valuation": "估值不确定性",
    "market": "持有期价格波动",
    "legal": "法律风险",
    "life": "剩余保护期",
    "concentration": "集中度",
    "currency": "币种错配",
    "liquidity": "变现能力",
}
#: patent types as the Chinese explanation names them (the policy caps the pledge rate by type)
PATENT_TYPE_LABELS_ZH: dict[str, str] = {
    "invention": "发明专利",
    "utility_model": "实用新型",
    "design": "外观设计",
}
#: the components set per patent (the liquidity haircut is set for the whole book, after the liquidation)
PATENT_COMPONENTS: tuple[str, ...] = COMPONENTS[:-1]
#: what else can bind a patent's pledge rate, as the Chinese explanation names it
BINDING_LABELS_ZH: dict[str, str] = {"pledge_rate_cap": "质押率上限", "ineligible": "不符合质押条件"}
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
        lab = pd.Series(np.asarray(labels, dtype=object))
        if totals is None:
            by = pd.Series(v).groupby(lab.to_numpy()).transform("sum").to_numpy()
            bucket_vals = pd.Series(v).groupby(lab.to_numpy()).sum().to_numpy()
        else:
            table = totals[dim]
            by = lab.map(table).fillna(0.0).to_numpy(dtype=float)
            bucket_vals = table.sort_index().to_numpy(dtype=float)
        s = by / total if total > 0 else np.zeros(len(v))
        hhi[dim] = float(((bucket_vals / total) ** 2).sum()) if total > 0 else float("nan")
        excess = np.maximum(s - free_share, 0.0) / (1.0 - free_share)
        retain *= 1.0 - float(weights[dim]) * excess
        shares[dim] = s
    return 1.0 - retain, shares, hhi


def concentration_buckets(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """Bucket label per patent: ``family`` (family_id, else the patent), ``technology_class``, ``product_line``."""
    family = text(frame, "family_id").fillna(pd.Series(frame.index, index=frame.index, dtype="string"))
    return {
        "family": family.to_numpy(dtype=object),
        "technology_class": technology_class(frame).to_numpy(dtype=object),
        "product_line": text(frame, "group").fillna("unknown").to_numpy(dtype=object),
    }


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


def _pct(x: np.ndarray, digits: int = 1) -> np.ndarray:
    return np.char.add(np.char.mod(f"%.{digits}f", np.asarray(x, dtype=float) * 100.0), "%")


def _fmt(x: np.ndarray, spec: str) -> np.ndarray:
    return np.char.mod(spec, np.asarray(x, dtype=float))


def technology_class(frame: pd.DataFrame) -> pd.Series:
    """The CPC subclass (first four characters) of each patent's first class, ``"unknown"`` when missing."""
    first = text(frame, "cpc").str.replace("；", ";", regex=False).str.split(";").str[0]
    return first.str.replace(" ", "", regex=False).str[:4].str.upper().fillna("unknown")


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
        ``cap_binding``, ``collateral_value`` (loan currency), ``haircut_explanation`` (English) and
        ``haircut_explanation_zh`` (the same figures in Chinese, see :func:`_explanation_zh`); ``stats`` holds
        the pool's Herfindahl indices and the market horizon.
    """
    pol = policy
    n = len(frame)
    value = num(frame, "value")
    value_ccy = np.nan_to_num(value) * fx_rate
    sigma = num(frame, "volatility")
    sigma = np.where(np.isfinite(sigma), sigma, float(pol["default_volatility"]))
    mu = -(float(pol["obsolescence_rate"]) + obsolescence_shift)
    n_r = int(pol["revaluation_interval_days"])
    t_m = int(pol["liquidation_period_days"])
    t_n = int(pol["estimation_period_days"])
    q = float(pol["quantile"])
    t_mkt = (n_r + t_m - 1) / BUSINESS_DAYS_PER_YEAR

    p05 = num(frame, "value_p05")
    p50 = num(frame, "value_p50") if "value_p50" in frame.columns else value
    p95 = num(frame, "value_p95")
    h_val, s_val = valuation_haircut(
        p05, p50, p95, pol["valuation_k"], pol["valuation_missing_range_haircut"]
    )
    if pol["market_method"] == "basel_scaling":
        h_mkt = basel_market_haircut(sigma, q, mu, n_r, t_m, t_n)
        mkt_note = np.char.add(
            np.char.add("sigma ", _pct(sigma, 0)),
            f", drift {mu:+.0%}/y, q{q:.0%}, {t_n}-day haircut x {basel_scaling_factor(n_r, t_m, t_n):.2f} "
            f"(N_R={n_r}, T_M={t_m})",
        )
    else:
        h_mkt = market_haircut(sigma, t_mkt, q, mu)
        mkt_note = np.char.add(
            np.char.add("sigma ", _pct(sigma, 0)), f", drift {mu:+.0%}/y, T={t_mkt:.2f}y, q{q:.0%}"
        )
    q_legal = num(frame, "quality_legal")
    h_leg = legal_haircut(q_legal, pol["legal_max_haircut"])
    life = num(frame, "remaining_life_years")
    life_h = horizon_years + float(pol["disposal_buffer_years"])
    h_life = life_haircut(life, life_h, float(pol["life_discount_rate"]))

    pool = np.where(eligible, value_ccy, 0.0)
    tech = technology_class(frame)
    line = text(frame, "group").fillna("unknown")
    buckets = concentration_buckets(frame)
    h_conc, shares, hhi = concentration_haircut(
        pool,
        buckets,
        pol["concentration_weights"],
        float(pol["concentration_free_share"]),
        totals=totals,
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
    caps_map = pol["pledge_rate_cap"]
    ptype = text(frame, "patent_type")
    cap = ptype.map(caps_map).astype(float).fillna(0.0).to_numpy()
    rate = np.minimum(retain, cap)
    cap_binding = cap < retain
    rate = np.where(eligible, rate, 0.0)
    total = 1.0 - rate
    collateral = value_ccy * rate

    # explanation, built column-wise; the figures are formatted once and shared by the English and Chinese texts
    fig = {c: _pct(comps[c]) for c in COMPONENTS}
    fig.update(
        composed=_pct(1.0 - retain),
        cap=_pct(cap, 0),
        rate=_pct(rate),
        sigma=_pct(sigma, 0),
        s=_fmt(np.nan_to_num(s_val, posinf=99.0), "%.2f"),
        q_legal=_fmt(np.nan_to_num(q_legal), "%.0f"),
        life_years=_fmt(np.nan_to_num(life), "%.1f"),
        **{f"share_{d}": _pct(shares[d], 0) for d in ("family", "technology_class", "product_line")},
    )
    expl = pd.Series("", index=frame.index, dtype="string")
    reasons = frame["ineligible_reasons"].astype("string") if "ineligible_reasons" in frame.columns else None
    if reasons is not None:
        expl = expl.mask(
            ~eligible, "INELIGIBLE (" + reasons.str.replace(";", ", ", regex=False) + "): collateral 0; "
        )
    val_note = np.where(
        np.isnan(s_val),
        "no p05-p95 range, default haircut",
        np.char.add(
            np.char.add("range log-sd ", fig["s"]),
            f" x k {float(pol['valuation_k']):.2f}",
        ),
    )
    legal_note = np.where(
        np.isnan(q_legal),
        "no legal score, full legal haircut",
        np.char.add("legal score ", fig["q_legal"]),
    )
    life_note = np.where(
        np.isnan(life),
        "remaining life unknown",
        np.char.add(
            np.char.add(fig["life_years"], "y left vs "),
            f"{life_h:.1f}y to maturity plus disposal",
        ),
    )
    conc_note = np.char.add(
        np.char.add(
            np.char.add("family ", fig["share_family"]),
            np.char.add(
                np.char.add(", class ", tech.to_numpy(dtype=str)),
                np.char.add(" ", fig["share_technology_class"]),
            ),
        ),
        np.char.add(
            np.char.add(np.char.add(", line ", line.to_numpy(dtype=str)), " "),
            np.char.add(fig["share_product_line"], " of pledged value"),
        ),
    )
    fx_note = np.where(
        currency_mismatch,
        np.char.add(
            np.char.add("valued in another currency, FX sigma ", _pct(sig_fx, 1)), f", T={t_mkt:.2f}y"
        ),
        "same currency",
    )
    notes = {
        "valuation": val_note,
        "market": mkt_note,
        "legal": legal_note,
        "life": life_note,
        "concentration": conc_note,
        "currency": fx_note,
    }
    for c in PATENT_COMPONENTS:
        expl = expl + f"{c} " + fig[c] + " (" + notes[c] + "); "

    out = pd.DataFrame({f"haircut_{c}": comps[c] for c in COMPONENTS}, index=frame.index)
    out["haircut_total"] = total
    out["pledge_rate_cap"] = cap
    out["cap_binding"] = cap_binding & eligible
    out["fx_rate"] = fx_rate
    out["collateral_value"] = collateral
    out["haircut_explanation"] = expl
    out["haircut_explanation_zh"] = _explanation_zh(
        frame,
        eligible=eligible,
        fig=fig,
        cap_binding=cap_binding,
        ptype=ptype,
        valuation=(p05, p50, p95, s_val, float(pol["valuation_k"])),
        market=(mu, q, t_mkt, n_r, t_m, t_n, pol["market_method"]),
        q_legal=q_legal,
        life=(life, life_h),
        buckets=(tech, line),
        currency_mismatch=currency_mismatch,
    )
    stats = {"hhi": hhi, "market_horizon_years": t_mkt, "life_horizon_years": life_h}
    return out, stats


def _join_rows(parts: list) -> list[str]:
    """Concatenate per row: each part is one string for every row, or a sequence with one string per row."""
    cols = [
        itertools.repeat(p) if isinstance(p, str) else (p.tolist() if isinstance(p, np.ndarray) else p)
        for p in parts
    ]
    return ["".join(row) for row in zip(*cols, strict=False)]  # the repeated parts are endless


def _explanation_zh(
    frame: pd.DataFrame,
    *,
    eligible: np.ndarray,
    fig: dict[str, np.ndarray],
    cap_binding: np.ndarray,
    ptype: pd.Series,
    valuation: tuple,
    market: tuple,
    q_legal: np.ndarray,
    life: tuple,
    buckets: tuple,
    currency_mismatch: np.ndarray,
) -> pd.Series:
    """The Chinese ``haircut_explanation_zh``: the same component values and drivers as the English text.

    ``[不符合质押条件（原因）：押品价值为 0；]`` then, per component, ``<name> <haircut>（<what drove it>）；``, then
    the composed haircut, the cap by patent type and whether it binds, and the pledge rate. The pieces are
    arrays over the portfolio; only the final concatenation is a per-row string join.
    """
    from ipvalue.collateral.eligibility import describe_reasons

    p05, p50, p95, s_val, k = valuation
    mu, q, t_mkt, n_r, t_m, t_n, method = market
    life_years, life_h = life
    tech, line = buckets
    n = len(frame)

    # valuation: which range the log-sd came from, or why there was none
    missing = np.isnan(s_val)
    show_s = ~missing & (np.nan_to_num(p95) > 0) & ((p05 > 0) | (p50 > 0)) & np.isfinite(s_val)
    val_head = np.select(
        [missing, np.nan_to_num(p95) <= 0, p05 > 0, p50 > 0],
        [
            "无 P05–P95 估值区间，采用默认折扣",
            "评估价值为 0，无估值区间",
            "P05–P95 区间对数标准差 ",
            "P05 为 0，按 P50–P95 上半区间对数标准差 ",
        ],
        "P05 与 P50 均为 0，全额折扣",
    )
    val_tail = np.where(show_s, np.char.add(fig["s"], f" × k {k:.2f}"), "")
    if method == "basel_scaling":
        mkt_tail = (
            f"，漂移 {mu:+.0%}/年，{q:.0%} 置信度，{t_n} 日折扣 × {basel_scaling_factor(n_r, t_m, t_n):.2f}"
            f"（N_R={n_r}，T_M={t_m}）"
        )
    else:
        mkt_tail = f"，漂移 {mu:+.0%}/年，重估间隔加处置期 {t_mkt:.2f} 年，{q:.0%} 置信度"
    no_q = np.isnan(q_legal)
    no_life = np.isnan(life_years)
    tech_txt = np.where(tech.to_numpy(dtype=str) == "unknown", "未知", tech.to_numpy(dtype=str))
    line_txt = np.where(line.to_numpy(dtype=str) == "unknown", "未知", line.to_numpy(dtype=str))
    notes: dict[str, Any] = {
        "valuation": [val_head, val_tail],
        "market": ["年波动率 ", fig["sigma"], mkt_tail],
        "legal": [
            np.where(no_q, "无法律评分，按最高法律折扣", "法律评分 "),
            np.where(no_q, "", fig["q_legal"]),
        ],
        "life": [
            np.where(no_life, "剩余保护期不明", "剩余 "),
            np.where(no_life, "", fig["life_years"]),
            np.where(no_life, "", f" 年，贷款到期加处置期共 {life_h:.1f} 年"),
        ],
        "concentration": [
            "占质押价值：同族 ",
            fig["share_family"],
            "，技术分类 ",
            tech_txt,
            " ",
            fig["share_technology_class"],
            "，产品线 ",
            line_txt,
            " ",
            fig["share_product_line"],
        ],
        "currency": [np.where(currency_mismatch, "以其他币种估值", "与贷款币种相同")],
    }

    head: Any = [""] * n
    if "ineligible_reasons" in frame.columns:
        labels = describe_reasons(frame["ineligible_reasons"], "zh", sep="、").fillna("")
        refused = ("不符合质押条件（" + labels + "）：押品价值为 0；").to_numpy(dtype=object)
        head = np.where(eligible, "", refused)
    parts: list = [head]
    for c in PATENT_COMPONENTS:
        parts += [f"{COMPONENT_LABELS_ZH[c]} ", fig[c], "（", *notes[c], "）；"]
    return pd.Series(_join_rows(parts), index=frame.index, dtype="string")


def finish_explanations(patents: pd.DataFrame, *, confidence: float) -> pd.DataFrame:
    """Complete the explanations once the book-level liquidity haircut is known.

    Appends, in English and Chinese, the liquidity haircut (and the full-recovery confidence it was calibrated
    to), the composed haircut, the pledge-rate cap by patent type and whether it binds, the component that binds
    and the pledge rate. Reads only the patents' columns.
    """
    n = len(patents)
    comps = {c: patents[f"haircut_{c}"].to_numpy(dtype=float) for c in COMPONENTS}
    retain = np.ones(n)
    for c in COMPONENTS:
        retain *= 1.0 - comps[c]
    rate = 1.0 - patents["haircut_total"].to_numpy(dtype=float)
    cap = patents["pledge_rate_cap"].to_numpy(dtype=float)
    binding = patents["cap_binding"].to_numpy(dtype=bool)
    ptype = text(patents, "patent_type")
    liq, composed, cap_f, rate_f = _pct(comps["liquidity"]), _pct(1.0 - retain), _pct(cap, 0), _pct(rate)
    which = patents["binding_component"].to_numpy(dtype=str)
    en = _join_rows(
        [
            patents["haircut_explanation"].fillna("").to_numpy(dtype=object),
            "liquidity ",
            liq,
            f" (full recovery on {confidence:.0%} of the liquidation paths at the maximum loan); composed ",
            composed,
            "; cap ",
            cap_f,
            np.where(binding, " binding", " not binding"),
            " (",
            ptype.fillna("unknown type").to_numpy(dtype=object),
            "); binding: ",
            which,
            "; collateral ",
            rate_f,
            " of value",
        ]
    )
    type_txt = ptype.map(PATENT_TYPE_LABELS_ZH).fillna(ptype).fillna("类型不明").to_numpy(dtype=object)
    which_zh = np.array(
        [COMPONENT_LABELS_ZH.get(w, BINDING_LABELS_ZH.get(w, w)) for w in which.tolist()], dtype=object
    )
    zh = _join_rows(
        [
            patents["haircut_explanation_zh"].fillna("").to_numpy(dtype=object),
            f"{COMPONENT_LABELS_ZH['liquidity']} ",
            liq,
            f"（按最高贷款额放款时，{confidence:.0%} 的清算路径可全额回收）；综合折扣 ",
            composed,
            "；质押率上限 ",
            cap_f,
            "（",
            type_txt,
            "）",
            np.where(binding, "已生效", "未生效"),
            "；起决定作用：",
            which_zh,
            "；押品价值为评估价值的 ",
            rate_f,
        ]
    )
    out = patents.copy()
    out["haircut_explanation"] = pd.Series(en, index=patents.index, dtype="string")
    out["haircut_explanation_zh"] = pd.Series(zh, index=patents.index, dtype="string")
    return out
