"""Market approach (市场法): value patents from comparable transactions, adjusted factor by factor.

For each subject patent the comparables are chosen by technology distance on the IPC / CPC hierarchy: the nearest
level (same main group, then subclass, then class, then section, no farther than ``max_level``) at which at least
``min_comparables`` usable transactions exist. All comparables nearer than that level are kept, and of those at
that level the ``max_comparables`` most recent. Matching is by grouping keys (one join per level), never a dense
patents x comparables matrix.

Each comparable's price is adjusted by the factors of Chinese practice (each one shown per pair)::

    V_ij = P_j x K_technology x K_time x K_life x K_conditions x K_kind x K_territory

* technology / quality: ``Q_i / Q_j`` (quality scores, bounded), the form of DB1304/T 432-2023 6.1.2 formula (4);
* time: ``I(as_of) / I(transaction)`` with a price index (the bundled China CPI by default);
* remaining economic life: ``a(n_i, r) / a(n_j, r)``, annuity factors at the subject's discount rate;
* transaction conditions: a valuer-given ``conditions_factor`` on the comparable (related party, distress...);
* licence kind: ``k(assignment) / k(kind_j)`` (an exclusive licence conveys less than an assignment...);
* scale / territory: ``t(territory_i) / t(territory_j)`` times the comparable's ``scale_factor``.

A royalty comparable gives an adjusted rate ``rho_j x K_technology x K_conditions x K_kind' x K_territory`` (kind
relative to an exclusive licence, the right the owner of the subject enjoys) and becomes a value through relief
from royalty on the subject's own revenue, tax, discount rate and remaining life (the income machinery). Time and
life do not adjust a rate: a rate is already relative to the sales and the subject's own life sets the period.

The value is the weighted mean of the adjusted comparables (weight by technology level and industry match); the
lowest and highest adjusted comparables are the range. Fewer than ``min_comparables`` usable comparables give NaN
and a note.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

from ipvalue.errors import InputError
from ipvalue.facts.columns import as_date, numbers, texts
from ipvalue.facts.comparables import ComparablesError, ReadIssue, is_read_comparables, read_comparables
from ipvalue.facts.industry import LEVELS, industry_for_ipc, ipc_levels
from ipvalue.valuation._data import load_defaults, price_index, royalty_aliases
from ipvalue.valuation.methods.income import annuity_factor, period_weights, relief_from_royalty

__all__ = ["market_approach", "MarketResult", "MarketInputError", "market_defaults", "FACTOR_COLUMNS"]

#: the adjustment factor columns of :attr:`MarketResult.comparables`, in the order they multiply
FACTOR_COLUMNS: tuple[str, ...] = (
    "factor_technology",
    "factor_time",
    "factor_life",
    "factor_conditions",
    "factor_kind",
    "factor_territory",
)


class MarketInputError(InputError):
    """Bad input to the market approach (subjects or arguments); names the patent and the field."""


@lru_cache(maxsize=1)
def _defaults_text() -> str:
    return (resources.files("ipvalue") / "data" / "market_defaults.json").read_text(encoding="utf-8")


def market_defaults() -> dict[str, Any]:
    """The market approach defaults (a fresh copy), each with its source tag."""
    return json.loads(_defaults_text())


@dataclass(frozen=True)
class MarketResult:
    """Result of :func:`market_approach`.

    Attributes
    ----------
    value : Series
        Market value per subject patent (NaN with a note where fewer than ``min_comparables`` were usable).
    comparables : DataFrame
        One row per (patent, comparable) used: technology ``level``, ``weight`` (sums to 1 per patent), ``basis``
        (price or royalty), the comparable's ``price`` / ``royalty_rate``, every factor (:data:`FACTOR_COLUMNS`),
        the ``adjusted_rate`` of a royalty comparable and the ``adjusted_value``.
    range : DataFrame
        ``low`` and ``high`` (the lowest and highest adjusted comparable), ``n_comparables`` and ``level`` per patent.
    notes : Series
        Per patent: which comparables, at which level, and why a value is missing.
    as_of : date
    parameters : dict
        The settings used (defaults or given), for the audit trail.
    """

    value: pd.Series
    comparables: pd.DataFrame
    range: pd.DataFrame
    notes: pd.Series
    as_of: dt.date
    parameters: dict[str, Any] = field(default_factory=dict)

    def frame(self) -> pd.DataFrame:
        """The columns the portfolio valuation adds: ``value_market``, its ``_low`` / ``_high``, count and notes."""
        return pd.DataFrame(
            {
                "value_market": self.value,
                "value_market_low": self.range["low"],
                "value_market_high": self.range["high"],
                "market_comparables": self.range["n_comparables"],
                "market_level": self.range["level"],
                "market_notes": self.notes,
            }
        )


def _lookup(values: np.ndarray, table: Mapping[str, Any], default: Any) -> np.ndarray:
    """``table[v]`` for every value, each distinct value looked up once (``default`` when absent)."""
    codes, uniques = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=False)
    lut = np.array([table.get(u, default) for u in uniques] + [default], dtype=object)
    return lut[codes]


def _industry_keys(frame: pd.DataFrame, codes: pd.Series) -> np.ndarray:
    """Royalty-industry key per row: the given ``industry`` (by name or alias), else the concordance's."""
    aliases = royalty_aliases()
    given = texts(frame, "industry")
    table = {g: aliases.get(g, aliases.get(g.lower(), g.lower())) if g else "" for g in set(given)}
    known = _lookup(given, table, "")
    missing = known == ""
    if missing.any():
        derived = industry_for_ipc(codes[missing]).get("royalty_industry")
        known[missing] = derived.fillna("").to_numpy(dtype=object)
    return known


def _key_codes(
    subject_keys: pd.DataFrame, comp_keys: pd.DataFrame
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    s_out, c_out = [], []
    for lvl in LEVELS:
        both = np.concatenate(
            [subject_keys[lvl].to_numpy(dtype=object), comp_keys[lvl].to_numpy(dtype=object)]
        )
        codes, uniques = pd.factorize(both)
        blank = np.isin(codes, np.flatnonzero(np.asarray(uniques, dtype=object) == ""))
        codes = np.where(blank, -1, codes)
        s_out.append(codes[: len(subject_keys)])
        c_out.append(codes[len(subject_keys) :])
    return s_out, c_out


def _join(s_idx: np.ndarray, s_key: np.ndarray, c_idx: np.ndarray, c_key: np.ndarray) -> pd.DataFrame:
    left = pd.DataFrame({"s": s_idx, "key": s_key})
    right = pd.DataFrame({"c": c_idx, "key": c_key})
    return left.merge(right, on="key", how="inner")[["s", "c"]]


def _time_factor(
    tx_years: np.ndarray, as_of: dt.date, index: tuple[np.ndarray, np.ndarray] | None
) -> np.ndarray:
    years, level = (
        price_index() if index is None else (np.asarray(index[0], float), np.asarray(index[1], float))
    )
    lo, hi = years.min(), years.max()
    at = np.interp(np.clip(float(as_of.year), lo, hi), years, level)
    then = np.interp(np.clip(tx_years, lo, hi), years, level)
    return at / then


def _unit_royalty_value(
    revenue: np.ndarray,
    growth: np.ndarray,
    tax: np.ndarray,
    rate: np.ndarray,
    life: np.ndarray,
    max_years: int,
) -> np.ndarray:
    """Relief-from-royalty value of a royalty of 1 (100%) on each subject's revenue over its remaining life.

    Always ``max_years`` columns (years past a life weigh 0): a sum's rounding then does not depend on which
    other subjects share the call, so a patent's value is the same to the last bit in any chunk.
    """
    out = np.full(len(revenue), np.nan)
    ok = np.isfinite(revenue) & np.isfinite(life) & (revenue >= 0) & (life >= 0)
    if not ok.any():
        return out
    n_years = max(1, int(max_years))
    t = np.arange(n_years, dtype=float)
    base = revenue[ok, None] * (1.0 + growth[ok, None]) ** t[None, :] * period_weights(life[ok], n_years)
    out[ok] = relief_from_royalty(base, 1.0, tax[ok], rate[ok]).value
    return out


def market_approach(
    subjects: pd.DataFrame,
    comparables: pd.DataFrame,
    *,
    as_of: Any,
    min_comparables: int | None = None,
    max_comparables: int | None = None,
    max_level: str | None = None,
    level_weights: Mapping[str, float] | None = None,
    industry_mismatch_weight: float | None = None,
    kind_factors: Mapping[str, float] | None = None,
    territory_factors: Mapping[str, float] | None = None,
    technology_factor_bounds: tuple[float, float] | None = None,
    life_method: str | None = None,
    price_index_table: tuple[np.ndarray, np.ndarray] | None = None,
    currency: str | None = None,
    fx: Mapping[str, float] | None = None,
) -> MarketResult:
    """Value patents by the market approach (市场法) from comparable transactions.

    Parameters
    ----------
    subjects : DataFrame
        One row per patent, indexed by ``patent_id``: ``cpc`` (or ``ipc``) codes; optional ``industry``,
        ``quality_score`` (0-100), ``remaining_life_years`` (else from the legal term at ``as_of``), ``territory``
        (default national), and for royalty comparables ``revenue``, ``revenue_growth``, ``tax_rate``,
        ``discount_rate`` (defaults as in the income method) and ``profit_margin`` (for a royalty on profit).
    comparables : DataFrame
        Transactions as read by :func:`ipvalue.read_comparables` (a raw table is read with it first).
    as_of : date
        Valuation date: later transactions are not used; the time factor trends prices to this year.
    min_comparables, max_comparables, max_level, level_weights, industry_mismatch_weight, kind_factors, \
territory_factors, technology_factor_bounds, life_method
        Override the defaults of ``ipvalue/data/market_defaults.json`` (see :func:`market_defaults`).
    price_index_table : (years, levels), optional
        A price index for the time factor; the bundled China CPI by default.
    currency : str, optional
        Valuation currency (the subjects' ``currency`` or CNY by default).
    fx : mapping, optional
        Units of valuation currency per unit of each other currency a comparable is in.

    Returns
    -------
    MarketResult

    Raises
    ------
    ComparablesError
        A comparable in another currency without an ``fx`` rate, or a raw table with bad rows.
    MarketInputError
        Bad arguments or subject columns (naming the patent and the field).
    """
    as_of_d = as_date(as_of, "as_of", error=MarketInputError)
    d = market_defaults()
    min_n = int(d["min_comparables"]["value"] if min_comparables is None else min_comparables)
    cap = int(d["max_comparables"]["value"] if max_comparables is None else max_comparables)
    top = str(d["max_level"]["value"] if max_level is None else max_level)
    lw = {k: float(v) for k, v in (level_weights or d["level_weights"]).items() if k in LEVELS}
    miss_w = float(
        d["industry_mismatch_weight"]["value"]
        if industry_mismatch_weight is None
        else industry_mismatch_weight
    )
    kf = {k: float(v) for k, v in (kind_factors or d["kind_factors"]).items() if k != "source"}
    tf = {k: float(v) for k, v in (territory_factors or d["territory_factors"]).items() if k != "source"}
    bounds = technology_factor_bounds or (
        d["technology_factor_bounds"]["low"],
        d["technology_factor_bounds"]["high"],
    )
    life_m = str(d["life_method"]["value"] if life_method is None else life_method)
    problems = []
    if min_n < 1 or cap < 1:
        problems.append((None, "min_comparables", "min_comparables and max_comparables must be at least 1"))
    if top not in LEVELS:
        problems.append((None, "max_level", f"max_level must be one of {LEVELS}, got {top!r}"))
    if set(lw) != set(LEVELS) or any(lw[a] < lw[b] for a, b in zip(LEVELS, LEVELS[1:], strict=False)):
        problems.append(
            (None, "level_weights", "level_weights need every level, never increasing with distance")
        )
    if life_m not in ("annuity", "linear"):
        problems.append((None, "life_method", f"life_method must be 'annuity' or 'linear', got {life_m!r}"))
    if problems:
        raise MarketInputError(problems)
    max_lvl = LEVELS.index(top)

    comps = comparables if is_read_comparables(comparables) else read_comparables(comparables)
    ids = subjects.index.astype(str).to_numpy(dtype=object)
    run_ccy = currency or next(iter(sorted(set(texts(subjects, "currency", upper=True)) - {""})), "CNY")

    # ---- comparables: usable rows and their comparable-only factors
    c_ccy = texts(comps, "currency", upper=True)
    c_ccy = np.where(c_ccy == "", run_ccy, c_ccy)
    fx_all = {run_ccy: 1.0, **{k.upper(): float(v) for k, v in (fx or {}).items()}}
    no_fx = [i for i, c in enumerate(c_ccy) if c not in fx_all]
    if no_fx:
        cids = comps.index.astype(str)
        raise ComparablesError(
            [
                ReadIssue(
                    i + 1, cids[i], "currency", f"{c_ccy[i]} is not {run_ccy} and fx gives no rate for it"
                )
                for i in no_fx
            ]
        )
    c_fx = _lookup(c_ccy, fx_all, np.nan).astype(float)
    c_date = comps["transaction_date"].to_numpy(dtype="datetime64[D]")
    bad_rows = texts(comps, "input_errors") != ""
    usable = ~bad_rows & ~np.isnat(c_date) & (c_date <= np.datetime64(as_of_d, "D"))
    comps_u = comps.loc[usable]
    c_ids = comps_u.index.astype(str).to_numpy(dtype=object)
    c_keys = ipc_levels(comps_u["ipc"].reset_index(drop=True))
    c_ind = _industry_keys(comps_u, comps_u["ipc"])
    c_price = comps_u["price"].to_numpy(dtype=float) * c_fx[usable]
    c_rate = comps_u["royalty_rate"].to_numpy(dtype=float)
    c_is_royalty = np.isnan(c_price)
    c_year = c_date[usable].astype("datetime64[Y]").astype(int) + 1970
    c_time = _time_factor(c_year.astype(float), as_of_d, price_index_table)
    c_life = comps_u["remaining_life_years"].to_numpy(dtype=float)
    c_q = comps_u["quality_score"].to_numpy(dtype=float)
    c_kind = comps_u["transaction_kind"].to_numpy(dtype=object)
    c_kind_f = _lookup(c_kind, kf, np.nan).astype(float)
    c_terr_f = _lookup(comps_u["territory"].to_numpy(dtype=object), tf, np.nan).astype(float)
    c_scale = comps_u["scale_factor"].to_numpy(dtype=float)
    c_cond = comps_u["conditions_factor"].to_numpy(dtype=float)
    c_base = comps_u["royalty_base"].to_numpy(dtype=object)
    # deterministic order: most recent first, then id; and the rank of each id for sorting pairs
    c_order = np.lexsort((c_ids.astype(str), -c_date[usable].astype(np.int64)))
    c_id_rank = np.empty(len(c_ids), dtype=np.int64)
    c_id_rank[np.argsort(c_ids.astype(str), kind="stable")] = np.arange(len(c_ids))

    # ---- subjects
    codes = (
        subjects["cpc"]
        if "cpc" in subjects.columns
        else subjects.get("ipc", pd.Series("", index=subjects.index))
    )
    s_keys = ipc_levels(codes.reset_index(drop=True))
    s_ind = _industry_keys(subjects, codes)
    s_q = numbers(subjects, "quality_score", ids=ids, error=MarketInputError)
    if "remaining_life_years" in subjects.columns:
        s_life = numbers(subjects, "remaining_life_years", ids=ids, error=MarketInputError)
    elif "filing_date" in subjects.columns:
        from ipvalue.terms import remaining_life

        s_life = np.asarray(remaining_life(subjects, as_of_d), dtype=float)
    else:
        s_life = np.full(len(subjects), np.nan)
    s_terr = texts(subjects, "territory", lower=True)
    s_terr_f = _lookup(np.where(s_terr == "", "national", s_terr), tf, np.nan).astype(float)
    dflt = load_defaults()
    build_up = dflt["discount_rate_build_up"]
    r_default = sum(float(v["value"]) for k, v in build_up.items() if k != "source")
    s_rate = numbers(subjects, "discount_rate", ids=ids, default=r_default, error=MarketInputError)
    s_rate = np.where(np.isnan(s_rate), r_default, s_rate)
    s_tax = numbers(subjects, "tax_rate", ids=ids, default=dflt["tax_rate"]["value"], error=MarketInputError)
    s_tax = np.where(np.isnan(s_tax), dflt["tax_rate"]["value"], s_tax)
    s_growth = numbers(subjects, "revenue_growth", ids=ids, default=0.0, error=MarketInputError)
    s_growth = np.where(np.isnan(s_growth), 0.0, s_growth)
    s_rev = numbers(subjects, "revenue", ids=ids, error=MarketInputError)
    s_margin = numbers(subjects, "profit_margin", ids=ids, error=MarketInputError)
    bad = [
        (ids[i], col, f"patent {ids[i]}: field {col} {v[i]} out of range")
        for col, v, ok in (
            ("quality_score", s_q, np.isnan(s_q) | ((s_q > 0) & (s_q <= 100))),
            ("remaining_life_years", s_life, np.isnan(s_life) | (s_life >= 0)),
            ("discount_rate", s_rate, (s_rate > 0) & (s_rate <= 1)),
            ("revenue", s_rev, np.isnan(s_rev) | (s_rev >= 0)),
            ("territory", s_terr_f, ~np.isnan(s_terr_f)),
        )
        for i in np.flatnonzero(~ok)
    ]
    if bad:
        raise MarketInputError(bad)
    unit_rfr = _unit_royalty_value(s_rev, s_growth, s_tax, s_rate, s_life, int(dflt["max_years"]))

    # ---- selection by technology level: one join per level, never a dense matrix
    sk, ck = _key_codes(s_keys, c_keys)
    n_s = len(ids)
    counts = []
    for lvl in range(len(LEVELS)):
        k = ck[lvl]
        per_key = np.bincount(
            k[k >= 0], minlength=max(int(max(sk[lvl].max(initial=-1), k.max(initial=-1))) + 1, 1)
        )
        counts.append(np.where(sk[lvl] >= 0, per_key[np.maximum(sk[lvl], 0)], 0))
    chosen = np.full(n_s, -1)
    for lvl in range(max_lvl, -1, -1):
        chosen = np.where(counts[lvl] >= min_n, lvl, chosen)
    parts = []
    s_all = np.arange(n_s)
    for lvl in range(max_lvl + 1):
        at = s_all[chosen == lvl]
        if not len(at):
            continue
        ordered = c_order[ck[lvl][c_order] >= 0]
        key_sorted = ck[lvl][ordered]
        rank = pd.Series(key_sorted).groupby(key_sorted).cumcount().to_numpy()
        pool = ordered[rank < cap]
        parts.append(_join(at, sk[lvl][at], pool, ck[lvl][pool]))
        if lvl > 0:  # every nearer comparable (fewer than min_n of them by construction)
            near = np.flatnonzero(ck[lvl - 1] >= 0)
            parts.append(
                _join(
                    at[sk[lvl - 1][at] >= 0], sk[lvl - 1][at][sk[lvl - 1][at] >= 0], near, ck[lvl - 1][near]
                )
            )
    pairs = (
        pd.concat(parts, ignore_index=True).drop_duplicates()
        if parts
        else pd.DataFrame({"s": np.array([], dtype=np.int64), "c": np.array([], dtype=np.int64)})
    )
    s = pairs["s"].to_numpy(dtype=np.int64)
    c = pairs["c"].to_numpy(dtype=np.int64)
    order = np.lexsort((c_id_rank[c], s))
    s, c = s[order], c[order]

    # ---- factors per pair
    level = np.full(len(s), len(LEVELS) - 1)
    for lvl in range(len(LEVELS) - 1, -1, -1):
        same = (sk[lvl][s] == ck[lvl][c]) & (sk[lvl][s] >= 0)
        level = np.where(same, lvl, level)
    w_level = np.array([lw[x] for x in LEVELS])[level]
    differ = (s_ind[s] != "") & (c_ind[c] != "") & (s_ind[s] != c_ind[c])
    weight = w_level * np.where(differ, miss_w, 1.0)

    q_ratio = s_q[s] / c_q[c]
    f_tech = np.where(np.isnan(q_ratio), 1.0, np.clip(q_ratio, bounds[0], bounds[1]))
    royalty = c_is_royalty[c]
    f_time = np.where(royalty, 1.0, c_time[c])
    n_sub, n_cmp = s_life[s], c_life[c]
    if life_m == "annuity":
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.asarray(annuity_factor(s_rate[s], n_sub)) / np.asarray(
                annuity_factor(s_rate[s], n_cmp)
            )
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = n_sub / n_cmp
    life_known = ~np.isnan(n_sub) & ~np.isnan(n_cmp) & (n_cmp > 0)
    f_life = np.where(royalty, 1.0, np.where(life_known, ratio, 1.0))
    f_cond = c_cond[c]
    target_kind = np.where(royalty, kf.get("exclusive_licence", 1.0), kf.get("assignment", 1.0))
    f_kind = target_kind / c_kind_f[c]
    f_terr = s_terr_f[s] / c_terr_f[c] * c_scale[c]
    adj_rate = np.where(royalty, c_rate[c] * f_tech * f_cond * f_kind * f_terr, np.nan)
    unit = unit_rfr[s] * np.where(c_base[c] == "profit", s_margin[s], 1.0)
    value_pair = np.where(
        royalty, adj_rate * unit, c_price[c] * f_tech * f_time * f_life * f_cond * f_kind * f_terr
    )
    ok = np.isfinite(value_pair) & np.isfinite(weight) & (weight > 0)

    # ---- per subject: weighted mean, range, notes
    n_ok = np.bincount(s[ok], minlength=n_s)
    wsum = np.bincount(s[ok], weights=weight[ok], minlength=n_s)
    vsum = np.bincount(s[ok], weights=(weight * np.where(ok, value_pair, 0.0))[ok], minlength=n_s)
    enough = n_ok >= min_n
    with np.errstate(invalid="ignore", divide="ignore"):
        value = np.where(enough, vsum / wsum, np.nan)
    low = np.full(n_s, np.nan)
    high = np.full(n_s, np.nan)
    if ok.any():
        vv = pd.Series(value_pair[ok]).groupby(s[ok])
        mins, maxs = vv.min(), vv.max()
        low[mins.index.to_numpy()] = mins.to_numpy()
        high[maxs.index.to_numpy()] = maxs.to_numpy()
    low = np.where(enough, low, np.nan)
    high = np.where(enough, high, np.nan)
    level_name = np.array([*LEVELS, ""], dtype=object)[np.where(chosen >= 0, chosen, len(LEVELS))]
    n_royalty_missing = np.bincount(s[royalty & ~np.isfinite(value_pair)], minlength=n_s)
    has_code = s_keys["section"].to_numpy(dtype=object) != ""
    n_text = pd.Series(n_ok).astype(str)
    notes_s = "market: " + n_text + " comparables from the same IPC " + pd.Series(level_name).astype(str)
    unused = n_royalty_missing > 0
    notes_s[unused] += (
        "; "
        + pd.Series(n_royalty_missing).astype(str)[unused]
        + (" royalty comparables unused (no revenue or profit margin)")
    )
    notes_s[~enough] += f"; fewer than {min_n} usable, no market value"
    notes_s[np.isnan(s_life)] += "; remaining life unknown, life factor 1"
    notes_s[chosen < 0] = f"market: fewer than {min_n} comparables within the same IPC {top}; no market value"
    notes_s[~has_code] = "market: no IPC / CPC code to match comparables; no market value"
    notes = notes_s.to_numpy(dtype=object)

    index = subjects.index
    pid = ids[s]
    table = pd.DataFrame(
        {
            "patent_id": pid,
            "comparable_id": c_ids[c],
            "level": np.array(LEVELS, dtype=object)[level],
            "weight": np.where(ok, weight / np.where(wsum[s] > 0, wsum[s], np.nan), 0.0),
            "basis": np.where(royalty, "royalty", "price"),
            "transaction_kind": c_kind[c],
            "price": c_price[c],
            "royalty_rate": c_rate[c],
            "factor_technology": f_tech,
            "factor_time": f_time,
            "factor_life": f_life,
            "factor_conditions": f_cond,
            "factor_kind": f_kind,
            "factor_territory": f_terr,
            "adjusted_rate": adj_rate,
            "adjusted_value": value_pair,
            "used": ok & enough[s],
        }
    )
    params = {
        "min_comparables": min_n,
        "max_comparables": cap,
        "max_level": top,
        "level_weights": lw,
        "industry_mismatch_weight": miss_w,
        "kind_factors": kf,
        "territory_factors": tf,
        "technology_factor_bounds": tuple(bounds),
        "life_method": life_m,
        "currency": run_ccy,
        "comparables_used_of_given": (int(usable.sum()), len(comps)),
    }
    return MarketResult(
        value=pd.Series(value, index=index, name="value_market"),
        comparables=table,
        range=pd.DataFrame(
            {"low": low, "high": high, "n_comparables": np.where(enough, n_ok, 0), "level": level_name},
            index=index,
        ),
        notes=pd.Series(notes, index=index, name="market_notes", dtype=object),
        as_of=as_of_d,
        parameters=params,
    )
