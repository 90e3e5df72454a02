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


@dataclass(frozen=True)
class _Settings:
    """The market approach's settings: the defaults of ``market_defaults.json`` or the caller's, checked."""

    min_n: int
    cap: int
    top: str
    level_weights: dict[str, float]
    mismatch_weight: float
    kind_factors: dict[str, float]
    territory_factors: dict[str, float]
    bounds: tuple[float, float]
    life_method: str
    jurisdiction_match: str
    jurisdiction_factors: dict[str, float]

    @property
    def max_level(self) -> int:
        return LEVELS.index(self.top)


def _settings(**given: Any) -> _Settings:
    """Resolve every setting (``None``: the default) and check them; :class:`MarketInputError` lists the bad ones."""
    d = market_defaults()

    def pick(name: str, key: str = "value") -> Any:
        return d[name][key] if given.get(name) is None else given[name]

    lw = {k: float(v) for k, v in (given.get("level_weights") or d["level_weights"]).items() if k in LEVELS}
    kf = {k: float(v) for k, v in (given.get("kind_factors") or d["kind_factors"]).items() if k != "source"}
    tf = {
        k: float(v)
        for k, v in (given.get("territory_factors") or d["territory_factors"]).items()
        if k != "source"
    }
    jf = {
        str(k).upper(): float(v)
        for k, v in (given.get("jurisdiction_factors") or d["jurisdiction_factors"]).items()
        if k != "source"
    }
    bounds = given.get("technology_factor_bounds") or (
        d["technology_factor_bounds"]["low"],
        d["technology_factor_bounds"]["high"],
    )
    st = _Settings(
        min_n=int(pick("min_comparables")),
        cap=int(pick("max_comparables")),
        top=str(pick("max_level")),
        level_weights=lw,
        mismatch_weight=float(pick("industry_mismatch_weight")),
        kind_factors=kf,
        territory_factors=tf,
        bounds=(float(bounds[0]), float(bounds[1])),
        life_method=str(pick("life_method")),
        jurisdiction_match=str(pick("jurisdiction_match")),
        jurisdiction_factors=jf,
    )
    problems = []
    if st.min_n < 1 or st.cap < 1:
        problems.append((None, "min_comparables", "min_comparables and max_comparables must be at least 1"))
    if st.top not in LEVELS:
        problems.append((None, "max_level", f"max_level must be one of {LEVELS}, got {st.top!r}"))
    if set(lw) != set(LEVELS) or any(lw[a] < lw[b] for a, b in zip(LEVELS, LEVELS[1:], strict=False)):
        problems.append(
            (None, "level_weights", "level_weights need every level, never increasing with distance")
        )
    if st.life_method not in ("annuity", "linear"):
        problems.append(
            (None, "life_method", f"life_method must be 'annuity' or 'linear', got {st.life_method!r}")
        )
    if st.jurisdiction_match not in ("same", "any"):
        problems.append(
            (
                None,
                "jurisdiction_match",
                f"jurisdiction_match must be 'same' or 'any', got {st.jurisdiction_match!r}",
            )
        )
    if any(not (np.isfinite(v) and v > 0) for v in jf.values()):
        problems.append((None, "jurisdiction_factors", "jurisdiction_factors must be finite and above zero"))
    if problems:
        raise MarketInputError(problems)
    return st


@dataclass(frozen=True)
class _Comparables:
    """The usable transactions (no row error, dated on or before ``as_of``) and their comparable-only terms."""

    usable: np.ndarray
    n_given: int
    ids: np.ndarray
    keys: pd.DataFrame
    industry: np.ndarray
    jurisdiction: np.ndarray
    price: np.ndarray
    rate: np.ndarray
    is_royalty: np.ndarray
    time: np.ndarray
    life: np.ndarray
    quality: np.ndarray
    kind: np.ndarray
    kind_f: np.ndarray
    territory_f: np.ndarray
    scale: np.ndarray
    conditions: np.ndarray
    base: np.ndarray
    order: np.ndarray
    id_rank: np.ndarray


def _comparable_terms(
    comps: pd.DataFrame,
    as_of: dt.date,
    st: _Settings,
    run_ccy: str,
    fx: Mapping[str, float] | None,
    index: tuple[np.ndarray, np.ndarray] | None,
) -> _Comparables:
    """Usable comparables and the factors that depend on the comparable alone (currency, time, kind, territory)."""
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
    usable = ~bad_rows & ~np.isnat(c_date) & (c_date <= np.datetime64(as_of, "D"))
    cu = comps.loc[usable]
    ids = cu.index.astype(str).to_numpy(dtype=object)
    price = cu["price"].to_numpy(dtype=float) * c_fx[usable]
    year = c_date[usable].astype("datetime64[Y]").astype(int) + 1970
    kind = cu["transaction_kind"].to_numpy(dtype=object)
    # deterministic order: most recent first, then id; and the rank of each id for sorting pairs
    order = np.lexsort((ids.astype(str), -c_date[usable].astype(np.int64)))
    id_rank = np.empty(len(ids), dtype=np.int64)
    id_rank[np.argsort(ids.astype(str), kind="stable")] = np.arange(len(ids))
    return _Comparables(
        usable=usable,
        n_given=len(comps),
        ids=ids,
        keys=ipc_levels(cu["ipc"].reset_index(drop=True)),
        industry=_industry_keys(cu, cu["ipc"]),
        jurisdiction=texts(cu, "jurisdiction", upper=True),
        price=price,
        rate=cu["royalty_rate"].to_numpy(dtype=float),
        is_royalty=np.isnan(price),
        time=_time_factor(year.astype(float), as_of, index),
        life=cu["remaining_life_years"].to_numpy(dtype=float),
        quality=cu["quality_score"].to_numpy(dtype=float),
        kind=kind,
        kind_f=_lookup(kind, st.kind_factors, np.nan).astype(float),
        territory_f=_lookup(cu["territory"].to_numpy(dtype=object), st.territory_factors, np.nan).astype(
            float
        ),
        scale=cu["scale_factor"].to_numpy(dtype=float),
        conditions=cu["conditions_factor"].to_numpy(dtype=float),
        base=cu["royalty_base"].to_numpy(dtype=object),
        order=order,
        id_rank=id_rank,
    )


@dataclass(frozen=True)
class _Subjects:
    """The subject patents' terms: technology keys, industry, jurisdiction, quality, life and income inputs."""

    ids: np.ndarray
    keys: pd.DataFrame
    industry: np.ndarray
    jurisdiction: np.ndarray
    quality: np.ndarray
    life: np.ndarray
    territory_f: np.ndarray
    rate: np.ndarray
    margin: np.ndarray
    unit_rfr: np.ndarray


def _subject_terms(subjects: pd.DataFrame, as_of: dt.date, st: _Settings) -> _Subjects:
    """Read and check the subjects' columns (:class:`MarketInputError` names the patent and the field)."""
    ids = subjects.index.astype(str).to_numpy(dtype=object)
    codes = (
        subjects["cpc"]
        if "cpc" in subjects.columns
        else subjects.get("ipc", pd.Series("", index=subjects.index))
    )
    s_q = numbers(subjects, "quality_score", ids=ids, error=MarketInputError)
    if "remaining_life_years" in subjects.columns:
        s_life = numbers(subjects, "remaining_life_years", ids=ids, error=MarketInputError)
    elif "filing_date" in subjects.columns:
        from ipvalue.terms import remaining_life

        s_life = np.asarray(remaining_life(subjects, as_of), dtype=float)
    else:
        s_life = np.full(len(subjects), np.nan)
    s_terr = texts(subjects, "territory", lower=True)
    s_terr_f = _lookup(np.where(s_terr == "", "national", s_terr), st.territory_factors, np.nan).astype(float)
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
    return _Subjects(
        ids=ids,
        keys=ipc_levels(codes.reset_index(drop=True)),
        industry=_industry_keys(subjects, codes),
        jurisdiction=texts(subjects, "jurisdiction", upper=True),
        quality=s_q,
        life=s_life,
        territory_f=s_terr_f,
        rate=s_rate,
        margin=s_margin,
        unit_rfr=_unit_royalty_value(s_rev, s_growth, s_tax, s_rate, s_life, int(dflt["max_years"])),
    )


@dataclass(frozen=True)
class _Selection:
    """The (subject, comparable) pairs kept, sorted by subject then comparable id, and each subject's level."""

    s: np.ndarray
    c: np.ndarray
    level: np.ndarray
    chosen: np.ndarray


def _select_level(
    at: np.ndarray,
    pool_mask: np.ndarray,
    sk: list[np.ndarray],
    ck: list[np.ndarray],
    order: np.ndarray,
    st: _Settings,
    chosen: np.ndarray,
) -> list[pd.DataFrame]:
    """Choose the level of the subjects ``at`` against the comparables of ``pool_mask`` and join them."""
    counts = []
    for lvl in range(len(LEVELS)):
        k = np.where(pool_mask, ck[lvl], -1)
        per_key = np.bincount(
            k[k >= 0], minlength=max(int(max(sk[lvl].max(initial=-1), k.max(initial=-1))) + 1, 1)
        )
        counts.append(np.where(sk[lvl][at] >= 0, per_key[np.maximum(sk[lvl][at], 0)], 0))
    pick = np.full(len(at), -1)
    for lvl in range(st.max_level, -1, -1):
        pick = np.where(counts[lvl] >= st.min_n, lvl, pick)
    chosen[at] = pick
    parts = []
    for lvl in range(st.max_level + 1):
        here = at[pick == lvl]
        if not len(here):
            continue
        ordered = order[(ck[lvl][order] >= 0) & pool_mask[order]]
        key_sorted = ck[lvl][ordered]
        rank = pd.Series(key_sorted).groupby(key_sorted).cumcount().to_numpy()
        pool = ordered[rank < st.cap]
        parts.append(_join(here, sk[lvl][here], pool, ck[lvl][pool]))
        if lvl > 0:  # every nearer comparable (fewer than min_n of them by construction)
            near = np.flatnonzero((ck[lvl - 1] >= 0) & pool_mask)
            known = here[sk[lvl - 1][here] >= 0]
            parts.append(_join(known, sk[lvl - 1][known], near, ck[lvl - 1][near]))
    return parts


def _select(sub: _Subjects, cmp: _Comparables, st: _Settings) -> _Selection:
    """Select comparables per subject by technology level (one join per level, never a dense matrix).

    With ``jurisdiction_match="same"`` a subject meets only the comparables of its own jurisdiction and those
    whose jurisdiction is not given (a subject without one meets all): one selection per jurisdiction present.
    """
    sk, ck = _key_codes(sub.keys, cmp.keys)
    n_s = len(sub.ids)
    chosen = np.full(n_s, -1)
    everyone = np.ones(len(cmp.ids), dtype=bool)
    if st.jurisdiction_match == "any" or not (cmp.jurisdiction != "").any():
        groups = [(np.arange(n_s), everyone)]
    else:
        groups = []
        for j in np.unique(sub.jurisdiction):
            at = np.flatnonzero(sub.jurisdiction == j)
            pool = everyone if j == "" else (cmp.jurisdiction == j) | (cmp.jurisdiction == "")
            groups.append((at, pool))
    parts = [p for at, pool in groups for p in _select_level(at, pool, sk, ck, cmp.order, st, chosen)]
    pairs = (
        pd.concat(parts, ignore_index=True).drop_duplicates()
        if parts
        else pd.DataFrame({"s": np.array([], dtype=np.int64), "c": np.array([], dtype=np.int64)})
    )
    s = pairs["s"].to_numpy(dtype=np.int64)
    c = pairs["c"].to_numpy(dtype=np.int64)
    order = np.lexsort((cmp.id_rank[c], s))
    s, c = s[order], c[order]
    level = np.full(len(s), len(LEVELS) - 1)
    for lvl in range(len(LEVELS) - 1, -1, -1):
        same = (sk[lvl][s] == ck[lvl][c]) & (sk[lvl][s] >= 0)
        level = np.where(same, lvl, level)
    return _Selection(s=s, c=c, level=level, chosen=chosen)


@dataclass(frozen=True)
class _Adjusted:
    """Every factor, the weight and the adjusted value of each selected pair."""

    weight: np.ndarray
    royalty: np.ndarray
    factors: dict[str, np.ndarray]
    adjusted_rate: np.ndarray
    value: np.ndarray
    ok: np.ndarray


def _adjust(sub: _Subjects, cmp: _Comparables, sel: _Selection, st: _Settings) -> _Adjusted:
    """The adjustment factors of each pair (:data:`FACTOR_COLUMNS`), its weight and its adjusted value."""
    s, c = sel.s, sel.c
    w_level = np.array([st.level_weights[x] for x in LEVELS])[sel.level]
    differ = (sub.industry[s] != "") & (cmp.industry[c] != "") & (sub.industry[s] != cmp.industry[c])
    weight = w_level * np.where(differ, st.mismatch_weight, 1.0)

    q_ratio = sub.quality[s] / cmp.quality[c]
    f_tech = np.where(np.isnan(q_ratio), 1.0, np.clip(q_ratio, st.bounds[0], st.bounds[1]))
    royalty = cmp.is_royalty[c]
    f_time = np.where(royalty, 1.0, cmp.time[c])
    n_sub, n_cmp = sub.life[s], cmp.life[c]
    with np.errstate(divide="ignore", invalid="ignore"):
        if st.life_method == "annuity":
            ratio = np.asarray(annuity_factor(sub.rate[s], n_sub)) / np.asarray(
                annuity_factor(sub.rate[s], n_cmp)
            )
        else:
            ratio = n_sub / n_cmp
    life_known = ~np.isnan(n_sub) & ~np.isnan(n_cmp) & (n_cmp > 0)
    f_life = np.where(royalty, 1.0, np.where(life_known, ratio, 1.0))
    f_cond = cmp.conditions[c]
    kf = st.kind_factors
    target_kind = np.where(royalty, kf.get("exclusive_licence", 1.0), kf.get("assignment", 1.0))
    f_kind = target_kind / cmp.kind_f[c]
    f_terr = sub.territory_f[s] / cmp.territory_f[c] * cmp.scale[c]
    if st.jurisdiction_factors:
        js = _lookup(sub.jurisdiction[s], st.jurisdiction_factors, np.nan).astype(float)
        jc = _lookup(cmp.jurisdiction[c], st.jurisdiction_factors, np.nan).astype(float)
        both = np.isfinite(js) & np.isfinite(jc)
        f_terr = f_terr * np.where(both, js / np.where(both, jc, 1.0), 1.0)
    adj_rate = np.where(royalty, cmp.rate[c] * f_tech * f_cond * f_kind * f_terr, np.nan)
    unit = sub.unit_rfr[s] * np.where(cmp.base[c] == "profit", sub.margin[s], 1.0)
    value_pair = np.where(
        royalty, adj_rate * unit, cmp.price[c] * f_tech * f_time * f_life * f_cond * f_kind * f_terr
    )
    ok = np.isfinite(value_pair) & np.isfinite(weight) & (weight > 0)
    factors = dict(zip(FACTOR_COLUMNS, (f_tech, f_time, f_life, f_cond, f_kind, f_terr), strict=True))
    return _Adjusted(weight, royalty, factors, adj_rate, value_pair, ok)


@dataclass(frozen=True)
class _Reduced:
    """Per subject: the weighted value, the range, the count, the level and the notes; and the pair weights."""

    value: np.ndarray
    low: np.ndarray
    high: np.ndarray
    n_ok: np.ndarray
    enough: np.ndarray
    wsum: np.ndarray
    level_name: np.ndarray
    notes: np.ndarray


def _reduce(sub: _Subjects, sel: _Selection, adj: _Adjusted, st: _Settings) -> _Reduced:
    """Per subject: the weighted mean of its adjusted comparables, their lowest and highest, and the notes."""
    s, ok, n_s, min_n = sel.s, adj.ok, len(sub.ids), st.min_n
    n_ok = np.bincount(s[ok], minlength=n_s)
    wsum = np.bincount(s[ok], weights=adj.weight[ok], minlength=n_s)
    vsum = np.bincount(s[ok], weights=(adj.weight * np.where(ok, adj.value, 0.0))[ok], minlength=n_s)
    enough = n_ok >= min_n
    with np.errstate(invalid="ignore", divide="ignore"):
        value = np.where(enough, vsum / wsum, np.nan)
    low = np.full(n_s, np.nan)
    high = np.full(n_s, np.nan)
    if ok.any():
        vv = pd.Series(adj.value[ok]).groupby(s[ok])
        mins, maxs = vv.min(), vv.max()
        low[mins.index.to_numpy()] = mins.to_numpy()
        high[maxs.index.to_numpy()] = maxs.to_numpy()
    low = np.where(enough, low, np.nan)
    high = np.where(enough, high, np.nan)
    chosen = sel.chosen
    level_name = np.array([*LEVELS, ""], dtype=object)[np.where(chosen >= 0, chosen, len(LEVELS))]
    n_royalty_missing = np.bincount(s[adj.royalty & ~np.isfinite(adj.value)], minlength=n_s)
    has_code = sub.keys["section"].to_numpy(dtype=object) != ""
    n_text = pd.Series(n_ok).astype(str)
    notes_s = "market: " + n_text + " comparables from the same IPC " + pd.Series(level_name).astype(str)
    unused = n_royalty_missing > 0
    notes_s[unused] += (
        "; "
        + pd.Series(n_royalty_missing).astype(str)[unused]
        + (" royalty comparables unused (no revenue or profit margin)")
    )
    notes_s[~enough] += f"; fewer than {min_n} usable, no market value"
    notes_s[np.isnan(sub.life)] += "; remaining life unknown, life factor 1"
    notes_s[chosen < 0] = (
        f"market: fewer than {min_n} comparables within the same IPC {st.top}; no market value"
    )
    notes_s[~has_code] = "market: no IPC / CPC code to match comparables; no market value"
    return _Reduced(value, low, high, n_ok, enough, wsum, level_name, notes_s.to_numpy(dtype=object))


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
    jurisdiction_match: str | None = None,
    jurisdiction_factors: Mapping[str, float] | None = None,
    price_index_table: tuple[np.ndarray, np.ndarray] | None = None,
    currency: str | None = None,
    fx: Mapping[str, float] | None = None,
) -> MarketResult:
    """Value patents by the market approach (市场法) from comparable transactions.

    The steps, in order: the settings; the usable comparables and their own terms; the subjects' terms; the
    selection by technology level (and jurisdiction); the adjustment factors of every pair; the reduction to one
    value and a range per patent.

    Parameters
    ----------
    subjects : DataFrame
        One row per patent, indexed by ``patent_id``: ``cpc`` (or ``ipc``) codes; optional ``industry``,
        ``jurisdiction`` (CN, US, EP ...), ``quality_score`` (0-100), ``remaining_life_years`` (else from the
        legal term at ``as_of``), ``territory`` (default national), and for royalty comparables ``revenue``,
        ``revenue_growth``, ``tax_rate``, ``discount_rate`` (defaults as in the income method) and
        ``profit_margin`` (for a royalty on profit).
    comparables : DataFrame
        Transactions as read by :func:`ipvalue.read_comparables` (a raw table is read with it first).
    as_of : date
        Valuation date: later transactions are not used; the time factor trends prices to this year.
    min_comparables, max_comparables, max_level, level_weights, industry_mismatch_weight, kind_factors, \
territory_factors, technology_factor_bounds, life_method
        Override the defaults of ``ipvalue/data/market_defaults.json`` (see :func:`market_defaults`).
    jurisdiction_match : {"same", "any"}, optional
        ``"same"`` (default): a comparable whose ``jurisdiction`` is given and differs from the subject's is not
        used for it (a comparable or subject without one matches any). ``"any"``: jurisdiction does not select.
    jurisdiction_factors : mapping, optional
        Relative market scale per jurisdiction (e.g. ``{"CN": 1.0, "US": 1.4}``), the valuer's: the territory
        factor is multiplied by ``m(subject) / m(comparable)`` where both are given. None by default.
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
    st = _settings(
        min_comparables=min_comparables,
        max_comparables=max_comparables,
        max_level=max_level,
        level_weights=level_weights,
        industry_mismatch_weight=industry_mismatch_weight,
        kind_factors=kind_factors,
        territory_factors=territory_factors,
        technology_factor_bounds=technology_factor_bounds,
        life_method=life_method,
        jurisdiction_match=jurisdiction_match,
        jurisdiction_factors=jurisdiction_factors,
    )
    comps = comparables if is_read_comparables(comparables) else read_comparables(comparables)
    run_ccy = currency or next(iter(sorted(set(texts(subjects, "currency", upper=True)) - {""})), "CNY")
    cmp = _comparable_terms(comps, as_of_d, st, run_ccy, fx, price_index_table)
    sub = _subject_terms(subjects, as_of_d, st)
    sel = _select(sub, cmp, st)
    adj = _adjust(sub, cmp, sel, st)
    red = _reduce(sub, sel, adj, st)

    s, c = sel.s, sel.c
    table = pd.DataFrame(
        {
            "patent_id": sub.ids[s],
            "comparable_id": cmp.ids[c],
            "level": np.array(LEVELS, dtype=object)[sel.level],
            "weight": np.where(adj.ok, adj.weight / np.where(red.wsum[s] > 0, red.wsum[s], np.nan), 0.0),
            "basis": np.where(adj.royalty, "royalty", "price"),
            "transaction_kind": cmp.kind[c],
            "jurisdiction": np.where(cmp.jurisdiction[c] == "", None, cmp.jurisdiction[c]),
            "price": cmp.price[c],
            "royalty_rate": cmp.rate[c],
            **adj.factors,
            "adjusted_rate": adj.adjusted_rate,
            "adjusted_value": adj.value,
            "used": adj.ok & red.enough[s],
        }
    )
    params = {
        "min_comparables": st.min_n,
        "max_comparables": st.cap,
        "max_level": st.top,
        "level_weights": st.level_weights,
        "industry_mismatch_weight": st.mismatch_weight,
        "kind_factors": st.kind_factors,
        "territory_factors": st.territory_factors,
        "technology_factor_bounds": st.bounds,
        "life_method": st.life_method,
        "jurisdiction_match": st.jurisdiction_match,
        "jurisdiction_factors": st.jurisdiction_factors,
        "currency": run_ccy,
        "comparables_used_of_given": (int(cmp.usable.sum()), cmp.n_given),
    }
    index = subjects.index
    return MarketResult(
        value=pd.Series(red.value, index=index, name="value_market"),
        comparables=table,
        range=pd.DataFrame(
            {
                "low": red.low,
                "high": red.high,
                "n_comparables": np.where(red.enough, red.n_ok, 0),
                "level": red.level_name,
            },
            index=index,
        ),
        notes=pd.Series(red.notes, index=index, name="market_notes", dtype=object),
        as_of=as_of_d,
        parameters=params,
    )
