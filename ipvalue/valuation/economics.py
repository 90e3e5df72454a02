"""Stage 3 of the valuation: the economics of every patent (product lines, markets, allocation, defaults).

A product line's (``group``'s) revenue belongs to one market and is shared out only among the live patents that
protect that market; every rate missing from the frame takes its default, recorded in ``value_notes``; the income
method, the commercial situation and the income period are fixed here. The methods stage reads the result,
:class:`Economics`, and nothing else of the frame's economics.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ipvalue.facts.columns import numbers, texts
from ipvalue.valuation import reconcile as _rc
from ipvalue.valuation._data import decay_table, royalty_aliases, royalty_ranges
from ipvalue.valuation.asof import Facts, GrantAdjustment, GrantRates, grant_adjustment, grant_lookup
from ipvalue.valuation.assumptions import INCOME_METHODS
from ipvalue.valuation.inputs import Inputs, ValuationInputError, check_range
from ipvalue.valuation.methods.cost import trend_factor
from ipvalue.valuation.methods.income import equivalent_investment_share, income_period
from ipvalue.valuation.notes import Notes, fmt, fmt_pct

__all__ = [
    "Economics",
    "Markets",
    "RowTables",
    "economics",
    "markets_stage",
    "market_of",
    "protects_market",
    "legal_life_after_grant",
]


@dataclass(frozen=True)
class Economics:
    """Per-patent economics of one chunk, defaults filled in (arrays in row order).

    Attributes
    ----------
    jurisdiction, market : numpy.ndarray of str
        The patent's office and the market whose revenue it shares.
    allocation : numpy.ndarray
        Share of the group's totals (1 outside groups).
    revenue, launch_cost : numpy.ndarray
        Year-1 revenue attributable to the patent (NaN where none) and its share of the launch cost.
    forecast, horizon, last_forecast : numpy.ndarray
        Revenue forecast matrix ``(patents, years)``, its length per row, and its last year's revenue.
    growth, tax, discount, decay, volatility : numpy.ndarray
        Rates (defaults taken where missing).
    volatility_given : numpy.ndarray of bool
        The frame (or the row's group) gave the volatility.
    field : numpy.ndarray of str
        Technology field of the first CPC code (for the decay and volatility defaults).
    grant : GrantAdjustment
        Probability of grant and the factor applied to an application's values.
    method_code : numpy.ndarray of int
        Income method per row, as a code into :data:`INCOME_METHODS`.
    split, split_ok : numpy.ndarray of bool
        Valued on a share of profit; and with what that needs (share and a margin >= 0).
    royalty, royalty_low, royalty_high, royalty_given : numpy.ndarray
        Royalty rate, its Monte Carlo range, and whether the frame gave it.
    share, share_low, share_high, margin : numpy.ndarray
        Profit share (分成率), its range, and the profit margin.
    decline : bool
        The profit share declines linearly over the income period (动态分成率).
    situation : numpy.ndarray of str
        ``commercialised``, ``pre_commercial`` or ``no_economics`` (:func:`ipvalue.valuation.reconcile.classify_situation`).
    economic_life : numpy.ndarray
        Economic life given (or the assumption); NaN where neither.
    period : numpy.ndarray
        Income period: the shorter of the remaining legal and economic lives (NaN where the term is unknown).
    """

    jurisdiction: np.ndarray
    market: np.ndarray
    allocation: np.ndarray
    revenue: np.ndarray
    launch_cost: np.ndarray
    forecast: np.ndarray
    horizon: np.ndarray
    last_forecast: np.ndarray
    growth: np.ndarray
    tax: np.ndarray
    discount: np.ndarray
    decay: np.ndarray
    volatility: np.ndarray
    volatility_given: np.ndarray
    field: np.ndarray
    grant: GrantAdjustment
    method_code: np.ndarray
    split: np.ndarray
    split_ok: np.ndarray
    royalty: np.ndarray
    royalty_low: np.ndarray
    royalty_high: np.ndarray
    royalty_given: np.ndarray
    share: np.ndarray
    share_low: np.ndarray
    share_high: np.ndarray
    margin: np.ndarray
    decline: bool
    situation: np.ndarray
    economic_life: np.ndarray
    period: np.ndarray


@dataclass(frozen=True)
class Markets:
    """The first part of the economics: each patent's market and its share of its product line's revenue.

    A function of the facts, the revenue columns and the ``allocation_weight`` assumption only, not of any rate
    or economic life (:data:`ipvalue.valuation.inputs.RATE_COLUMNS`): a revaluation that moves only those reuses it.
    """

    jurisdiction: np.ndarray
    market: np.ndarray
    protects: np.ndarray
    allocation: np.ndarray
    revenue: _Revenue
    tables: RowTables
    #: each row's position inside its royalty range, from the quality score (:func:`_royalty_position`)
    royalty_position: np.ndarray


@dataclass(frozen=True)
class RowTables:
    """Each row's entries of the tables the economics reads (by office and type, CPC field, industry).

    Attributes
    ----------
    grant : GrantRates
        Published grant rate and pendency by office and patent type.
    field, field_decay, field_volatility : numpy.ndarray
        Technology field of the first CPC code and its decay rate and volatility.
    ranges : dict
        The royalty table with the ``royalty_ranges`` assumption's rows.
    industry : numpy.ndarray of str
        The ``industry`` column as given.
    industry_key, from_ipc, ipc_note : numpy.ndarray
        The royalty industry of each row, whether it came from the IPC concordance, and that note (key, text).
    range_low, range_high : numpy.ndarray
        The industry's royalty range.
    patent_type : numpy.ndarray of str
        The ``patent_type`` column in lower case (the grant adjustment reads it).
    """

    grant: GrantRates
    field: np.ndarray
    field_decay: np.ndarray
    field_volatility: np.ndarray
    ranges: dict[str, Any]
    industry_key: np.ndarray
    from_ipc: np.ndarray
    ipc_note: tuple[np.ndarray, np.ndarray]
    range_low: np.ndarray
    range_high: np.ndarray
    patent_type: np.ndarray


def markets_stage(inputs: Inputs, facts: Facts, a: dict[str, Any], notes: Notes) -> Markets:
    """Markets -> allocation -> revenue, and the rows' table entries: the part of :func:`economics` no rate moves."""
    dead = facts.dead
    juris, market, protects = _territories(inputs, dead, notes)
    alloc = _allocation(inputs, a, dead | ~protects, facts, notes)
    rev = _revenue(inputs, alloc, protects, notes)
    pos = _royalty_position(facts.quality_score, facts.quality_coverage)
    return Markets(juris, market, protects, alloc, rev, _row_tables(inputs, juris, a), pos)


def _row_tables(inputs: Inputs, juris: np.ndarray, a: dict[str, Any]) -> RowTables:
    """Look every row up in the grant-rate, decay and royalty tables (no notes: the economics writes them)."""
    frame, n = inputs.frame, inputs.n
    dt_table = decay_table()
    fld = _cpc_field(texts(frame, "cpc"), dt_table)
    # each distinct field looked up once (NaN for a field not in the table, as a reindex gives)
    f_codes, f_names = pd.factorize(fld)
    by_field = dict(
        zip(dt_table["field"], zip(dt_table["decay_rate"], dt_table["volatility"], strict=True), strict=True)
    )
    looked = np.array([by_field.get(f, (np.nan, np.nan)) for f in f_names], dtype=float).reshape(-1, 2)
    fld_decay = looked[f_codes, 0]
    fld_vol = looked[f_codes, 1]
    ranges = royalty_ranges()
    for ind, (lo_a, hi_a) in a["royalty_ranges"].items():
        ranges[ind] = (lo_a, hi_a, "assumption")
    industry = texts(frame, "industry")
    # each distinct industry text looked up once ("unknown" where no alias names it, as map and fillna give)
    i_codes, i_names = pd.factorize(industry)
    aliases = _industry_aliases(ranges)
    ind_key = np.array([aliases.get(t, "unknown") for t in i_names] + ["unknown"], dtype=object)[i_codes]
    from_ipc, ipc_note = _industry_from_ipc(frame, industry, ranges)
    ind_key = np.where(from_ipc, ipc_note[0], ind_key).astype(object)
    lo = (
        np.array([ranges[k][0] for k in ind_key])
        if n < 64
        else pd.Series(ind_key, dtype=object).map({k: v[0] for k, v in ranges.items()}).to_numpy(dtype=float)
    )
    hi = (
        np.array([ranges[k][1] for k in ind_key])
        if n < 64
        else pd.Series(ind_key, dtype=object).map({k: v[1] for k, v in ranges.items()}).to_numpy(dtype=float)
    )
    ptype = texts(frame, "patent_type", lower=True)
    grant = grant_lookup(juris, ptype)
    return RowTables(grant, fld, fld_decay, fld_vol, ranges, ind_key, from_ipc, ipc_note, lo, hi, ptype)


def economics(
    inputs: Inputs,
    facts: Facts,
    a: dict[str, Any],
    day: dt.date,
    notes: Notes,
    markets: Markets | None = None,
) -> Economics:
    """The economics stage: markets -> allocation -> revenue -> rate defaults -> method -> royalty / share -> period.

    Parameters
    ----------
    inputs : Inputs
        The checked chunk.
    facts : Facts
        The facts at ``as_of``.
    a : dict
        The resolved assumptions.
    day : datetime.date
        The valuation date.
    notes : Notes
        Receives every default taken, and why a patent shares no revenue.
    markets : Markets, optional
        :func:`markets_stage`'s result when already computed for the chunk (its notes already in ``notes``);
        None: computed here.
    """
    dead = facts.dead
    if markets is None:
        markets = markets_stage(inputs, facts, a, notes)
    juris, market, alloc, rev = markets.jurisdiction, markets.market, markets.allocation, markets.revenue
    revenue = rev.revenue
    live_rev = np.isfinite(revenue) & ~dead
    growth, tax, disc = _rate_defaults(inputs, revenue, live_rev, a, notes)
    tables = markets.tables
    grant = grant_adjustment(
        juris,
        tables.patent_type,  # the chunk's patent types, read once with its markets
        facts.status,
        facts.filing,
        disc,
        day,
        notes,
        lookup=tables.grant,
    )
    method_code = _income_method(inputs, a, live_rev, notes)
    split = method_code > 0  # profit_split or equivalent_investment: a share of the profit stream
    decay, vol, fld = _decay_and_volatility(inputs, revenue, live_rev, a, notes, tables)
    pos = markets.royalty_position  # the quality's, read with the markets (no rate moves it)
    roy, lo, hi, roy_given = _royalty(inputs, facts, revenue, live_rev, split, pos, a, notes, tables)
    sh = _profit_share(inputs, facts, rev.launch_cost, live_rev, method_code, pos, a, day, notes)
    situation = _rc.classify_situation(inputs.commercialized, revenue, rev.launch_cost)
    econ_life, period = _income_period(inputs, facts, revenue, a, notes, grant.wait_years)
    return Economics(
        jurisdiction=juris,
        market=market,
        allocation=alloc,
        revenue=revenue,
        launch_cost=rev.launch_cost,
        forecast=rev.forecast,
        horizon=rev.horizon,
        last_forecast=rev.last_forecast,
        growth=growth,
        tax=tax,
        discount=disc,
        decay=decay,
        volatility=vol,
        volatility_given=~np.isnan(inputs.x["volatility"]),
        field=fld,
        grant=grant,
        method_code=method_code,
        split=split,
        split_ok=sh.ok,
        royalty=roy,
        royalty_low=lo,
        royalty_high=hi,
        royalty_given=roy_given,
        share=sh.share,
        share_low=sh.low,
        share_high=sh.high,
        margin=inputs.x["profit_margin"],
        decline=sh.decline,
        situation=situation,
        economic_life=econ_life,
        period=period,
    )


# ------------------------------------------------------------------------------------------ markets


def _territories(inputs: Inputs, dead: np.ndarray, notes: Notes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Jurisdiction, market and whether the patent protects the market (a product line sells in one market)."""
    frame, g = inputs.frame, inputs.groups
    juris = texts(frame, "jurisdiction", upper=True)
    market, market_given = market_of(frame, juris)
    market = _group_market(market, market_given, juris, g.codes, g.names, inputs.ids)
    protects = protects_market(juris, market)
    notes.add(
        ~protects & ~dead & (np.isfinite(inputs.x["revenue"]) | np.isfinite(inputs.group_revenue)),
        "market " + market + " not protected by a " + juris + " patent: no share of its revenue",
    )
    return juris, market, protects


def market_of(frame: pd.DataFrame, jurisdiction: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's market (the ``market`` column, upper case) and whether it was given; default: the jurisdiction."""
    if "market" in frame.columns:
        given = frame["market"].astype("string").str.strip().str.upper().fillna("").to_numpy(dtype=object)
    else:
        given = np.full(len(frame), "", dtype=object)
    has = given != ""
    return np.where(has, given, jurisdiction), has


def protects_market(jurisdiction: np.ndarray, market: np.ndarray) -> np.ndarray:
    """Whether a patent of ``jurisdiction`` protects ``market``: the same office code.

    A European patent (``EP``) protects the market ``EP`` only; a bank that books revenue by European country
    should give ``market`` as ``EP`` for the product lines covered by EP patents (a choice, documented).
    """
    return np.asarray(jurisdiction, dtype=object) == np.asarray(market, dtype=object)


def _group_market(
    market: np.ndarray, given: np.ndarray, juris: np.ndarray, codes: np.ndarray, names: Any, ids: np.ndarray
) -> np.ndarray:
    """The market of each row: its group's (the one ``market`` given, else the group's most common jurisdiction).

    Rows outside a group keep their own market (the ``market`` column, else their jurisdiction). The most common
    jurisdiction of a group is counted on arrays (ties: the first in text order).
    """
    in_group = codes >= 0
    if not in_group.any():
        return market
    gi = codes[in_group]
    j_names, j_codes = np.unique(np.asarray(juris[in_group], dtype=object).astype(str), return_inverse=True)
    # rows per (group, jurisdiction); per group the most rows, ties to the jurisdiction first in text order
    pair, count = np.unique(gi * len(j_names) + j_codes, return_counts=True)
    g_of, j_of = pair // len(j_names), pair % len(j_names)
    order = np.lexsort((j_of, -count, g_of))
    first = order[np.r_[True, g_of[order][1:] != g_of[order][:-1]]]
    by_group = np.full(int(gi.max()) + 1, None, dtype=object)
    by_group[g_of[first]] = np.asarray(j_names, dtype=object)[j_of[first]]
    gv = given[in_group]
    if gv.any():
        g_given, m_given = gi[gv], np.asarray(market[in_group][gv], dtype=object)
        pairs = pd.DataFrame({"g": g_given, "m": m_given}).drop_duplicates()
        clash = pairs["g"][pairs["g"].duplicated()].unique()
        if len(clash):
            raise ValuationInputError(
                [
                    (ids[np.flatnonzero(codes == c)[0]], "market",
                     f"group {names[c]!r}: field market differs between its patents; a product line sells in one market")
                    for c in clash
                ]
            )  # fmt: skip
        by_group[pairs["g"].to_numpy()] = pairs["m"].to_numpy(dtype=object)
    out = market.copy()
    out[in_group] = by_group[gi]
    return out


# ------------------------------------------------------------------------------------------ allocation


def _allocation(
    inputs: Inputs, a: dict[str, Any], dead: np.ndarray, facts: Facts, notes: Notes
) -> np.ndarray:
    """Each patent's share of its group's totals (1 outside groups, 0 for dead patents in a group).

    ``dead`` marks the rows that take no share (no right, or not protecting the group's market). Weights: the
    ``allocation_weight`` assumption's column, else ``quality_score``, else equal; a live patent
    without a weight gets its group's mean weight.
    """
    frame, ids, codes, group_names = inputs.frame, inputs.ids, inputs.groups.codes, inputs.groups.names
    life_legal, qscore, qsource = facts.life_legal, facts.quality_score, facts.quality_source
    group_rev, group_k = inputs.group_revenue, inputs.group_launch_cost
    n = len(frame)
    in_group = codes >= 0
    if not in_group.any():
        return np.ones(n)
    wcol = a["allocation_weight"]
    if wcol is not None:
        if wcol not in frame.columns:
            raise ValuationInputError(
                [("", wcol, f"allocation weight column {wcol!r} is not in the portfolio")]
            )
        w = numbers(frame, wcol, ids=ids, error=ValuationInputError)
        problems: list[tuple[str, str, str]] = []
        check_range(problems, ids, wcol, w, w >= 0, "must be a weight >= 0")
        if problems:
            raise ValuationInputError(problems)
        wname = wcol
    elif qsource != "absent" and np.isfinite(qscore).any():
        w, wname = qscore.copy(), "quality_score"
    else:
        w, wname = np.ones(n), "equal weights"
    live = in_group & ~dead & ~np.isnan(life_legal)
    # group sums over each group's members in patent_id order, one group at a time (np.add.reduceat), so that a
    # group's totals do not depend on the row order nor on the other rows of the frame (pandas' grouped sums do)
    order = np.lexsort((ids, codes))
    sc = codes[order]
    starts = np.flatnonzero(np.r_[True, sc[1:] != sc[:-1]])

    def by_group(values: np.ndarray, how: str) -> np.ndarray:
        v = values[order]
        known = ~np.isnan(v)
        total = np.add.reduceat(np.where(known, v, 0.0), starts)
        if how == "mean":
            count = np.add.reduceat(known.astype(float), starts)
            with np.errstate(invalid="ignore", divide="ignore"):
                total = np.where(count > 0, total / np.where(count > 0, count, 1.0), np.nan)
        out = np.empty(n)
        out[order] = np.repeat(total, np.diff(np.r_[starts, n]))
        return out

    gmean = by_group(np.where(live, w, np.nan), "mean")
    filled = np.where(live & np.isnan(w), gmean, w)
    filled = np.where(live, np.nan_to_num(filled, nan=1.0), 0.0)
    gsum = by_group(filled, "sum")
    gcount = by_group(live.astype(float), "sum")
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(
            gsum > 0,
            filled / np.where(gsum > 0, gsum, 1.0),
            np.where(gcount > 0, live / np.maximum(gcount, 1.0), 0.0),
        )
    alloc = np.where(in_group, share, 1.0)
    has_total = in_group & (np.isfinite(group_rev) | np.isfinite(group_k)) & live
    gname = np.asarray(group_names, dtype=object)[np.where(in_group, codes, 0)]
    notes.add(has_total, "group " + gname + ": " + fmt_pct(alloc, 1) + " of the group's revenue by " + wname)
    return alloc


# ------------------------------------------------------------------------------------------ revenue


@dataclass(frozen=True)
class _Revenue:
    revenue: np.ndarray
    launch_cost: np.ndarray
    forecast: np.ndarray
    horizon: np.ndarray
    last_forecast: np.ndarray


def _revenue(inputs: Inputs, alloc: np.ndarray, protects: np.ndarray, notes: Notes) -> _Revenue:
    """Year-1 revenue and launch cost attributable to each patent, and its share of the revenue forecast."""
    n, g = inputs.n, inputs.groups
    in_group = g.in_group
    own = np.where(protects, inputs.x["revenue"], np.nan)
    revenue = np.where(in_group, inputs.group_revenue * alloc, own)
    revenue = np.where(protects, revenue, np.nan)
    launch_cost = np.where(in_group, inputs.group_launch_cost * alloc, inputs.x["commercialization_cost"])
    fc = inputs.forecast
    if fc is None or fc[0].shape[1] == 0:
        return _Revenue(
            revenue, launch_cost, np.full((n, 0), np.nan), np.zeros(n, dtype=int), np.full(n, np.nan)
        )
    fmat, horizon = fc[0], fc[1]
    if in_group.any():
        # rows of a group without a forecast take the group's (from its member with the smallest patent_id)
        id_order = g.id_order
        pos = pd.Series(np.where(horizon > 0, np.arange(n), -1)[id_order])
        src_sorted = pos.where(pos >= 0).groupby(g.codes[id_order]).transform("first").to_numpy(dtype=float)
        src = np.empty(n)
        src[id_order] = src_sorted
        take = in_group & (horizon == 0) & np.isfinite(src)
        fmat = fmat.copy()
        fmat[take] = fmat[src[take].astype(int)]
        horizon = np.where(take, horizon[np.where(take, src, 0).astype(int)], horizon)
        fmat = np.where(in_group[:, None], fmat * alloc[:, None], fmat)
    fmat = np.where(np.arange(fmat.shape[1])[None, :] < horizon[:, None], fmat, np.nan)
    last_fc = np.where(horizon > 0, fmat[np.arange(n), np.maximum(horizon - 1, 0)], np.nan)
    revenue = np.where(horizon > 0, fmat[:, 0], revenue)
    notes.add(horizon > 0, "revenue forecast of " + fmt(horizon, "{:.0f}") + " years, then growth")
    return _Revenue(revenue, launch_cost, fmat, horizon, last_fc)


# ------------------------------------------------------------------------------------------ rate defaults


def _rate_defaults(
    inputs: Inputs, revenue: np.ndarray, live_rev: np.ndarray, a: dict[str, Any], notes: Notes
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Growth, tax and discount rates: the row's, else the assumption (discount: the build-up), noted where used."""
    x = inputs.x
    growth = x["revenue_growth"].copy()
    m = np.isnan(growth) & np.isfinite(revenue)
    growth[m] = a["revenue_growth"]
    notes.add(m & live_rev, f"revenue_growth default {a['revenue_growth']:.1%}")
    tax = x["tax_rate"].copy()
    m = np.isnan(tax) & np.isfinite(revenue)
    tax[m] = a["tax_rate"]
    notes.add(m & live_rev, f"tax_rate default {a['tax_rate']:.1%}")
    disc = x["discount_rate"].copy()
    m = np.isnan(disc)
    if a["discount_rate"] is not None:
        disc[m] = a["discount_rate"]
        notes.add(m & live_rev, f"discount_rate {a['discount_rate']:.1%} (assumption)")
    else:
        bu = a["discount_rate_build_up"]
        r_bu = float(sum(bu.values()))
        disc[m] = r_bu
        notes.add(
            m & live_rev,
            f"discount_rate default {r_bu:.1%} (build-up: "
            + " + ".join(f"{k} {v:.1%}" for k, v in bu.items())
            + ")",
        )
    return growth, tax, disc


def _income_method(inputs: Inputs, a: dict[str, Any], live_rev: np.ndarray, notes: Notes) -> np.ndarray:
    """Income method per patent: the row's (or its group's), else the assumption; as codes into INCOME_METHODS."""
    given = inputs.method_given
    code = np.where(np.isnan(given), float(INCOME_METHODS.index(a["income_method"])), given).astype(np.int64)
    name = np.asarray(INCOME_METHODS, dtype=object)[code]
    notes.add(
        live_rev,
        "income method: "
        + name
        + np.where(np.isnan(given), " (assumption default)", " (given)").astype(object),
    )
    return code


def _decay_and_volatility(
    inputs: Inputs,
    revenue: np.ndarray,
    live_rev: np.ndarray,
    a: dict[str, Any],
    notes: Notes,
    tables: RowTables,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decay and volatility: the row's, else the assumption, else the technology field's (by the first CPC code)."""
    x = inputs.x
    fld, fld_decay, fld_vol = tables.field, tables.field_decay, tables.field_volatility
    decay = x["decay_rate"].copy()
    m = np.isnan(decay) & np.isfinite(revenue)
    if a["decay_rate"] is not None:
        decay[m] = a["decay_rate"]
        notes.add(m & live_rev, f"decay {a['decay_rate']:.1%}/yr (assumption)")
    else:
        decay[m] = fld_decay[m]
        if notes.wanted:  # (a text for every row: not written when the notes are not kept)
            notes.add(m & live_rev, "decay " + fmt_pct(fld_decay, 2) + "/yr (field " + fld + ")")
    if a["decay_curve"] == "none":
        decay[:] = 0.0
    vol = x["volatility"].copy()
    m = np.isnan(vol)
    vol[m] = a["volatility"] if a["volatility"] is not None else fld_vol[m]
    return decay, vol, fld


# ------------------------------------------------------------------------------------------ royalty


def _royalty(
    inputs: Inputs,
    facts: Facts,
    revenue: np.ndarray,
    live_rev: np.ndarray,
    split: np.ndarray,
    pos: np.ndarray,
    a: dict[str, Any],
    notes: Notes,
    tables: RowTables,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Royalty rate and its range: given, else the assumption, else the industry range positioned by quality.

    Without an industry the default is conservative: the low quantile of the table's midpoints (not the midpoint
    of its widest range). Returns the rate, the range's low and high ends, and whether the frame gave the rate.
    """
    ranges, ind_key = tables.ranges, tables.industry_key
    from_ipc, ipc_note = tables.from_ipc, tables.ipc_note
    lo, hi = tables.range_low, tables.range_high
    roy = inputs.x["royalty_rate"].copy()
    roy_given = ~np.isnan(roy)
    qscore = facts.quality_score
    need = ~roy_given & np.isfinite(revenue)
    if a["royalty_rate"] is not None:
        roy[need] = a["royalty_rate"]
        notes.add(need & live_rev & ~split, f"royalty_rate {a['royalty_rate']:.2%} (assumption)")
        lo = np.where(need, a["royalty_rate"] * (1 - a["royalty_spread_relative"]), lo)
        hi = np.where(need, a["royalty_rate"] * (1 + a["royalty_spread_relative"]), hi)
    else:
        # no industry: a conservative default, the low quantile of the table's midpoints (not its widest range)
        unknown_ind = need & (ind_key == "unknown") & ("unknown" not in a["royalty_ranges"])
        if unknown_ind.any():
            q_rate, q_lo = _conservative_royalty(ranges, a["royalty_default_quantile"])
            lo = np.where(unknown_ind, q_lo, lo)
            hi = np.where(unknown_ind, q_rate, hi)
            notes.add(
                unknown_ind & live_rev & ~split,
                f"royalty_rate default {q_rate:.2%}: industry not given, the "
                f"{a['royalty_default_quantile']:.0%} quantile of the table's midpoints (conservative)",
            )
        known_need = need & ~unknown_ind
        notes.add(known_need & from_ipc & live_rev & ~split, ipc_note[1])
        roy[known_need] = (lo + (hi - lo) * pos)[known_need]
        roy[unknown_ind] = hi[unknown_ind]
        need = known_need
        how = np.where(np.isfinite(qscore), "positioned by quality_score", "midpoint")
        # (the text of the notes below is written for every row: not when the notes are not kept)
        if notes.wanted:
            notes.add(
                need & live_rev & ~split,
                "royalty_rate default "
                + fmt_pct(roy, 2)
                + " ("
                + ind_key
                + " range "
                + fmt_pct(lo, 1)
                + "-"
                + fmt_pct(hi, 1)
                + ", "
                + how
                + ")",
            )
    # 25% rule (Goldscheider et al. 2002): a sanity check on the royalty, never an input (Uniloc v. Microsoft, 2011)
    margin = inputs.x["profit_margin"]
    chk25 = live_rev & np.isfinite(margin) & (margin > 0) & ~split
    if notes.wanted:
        notes.add(
            chk25,
            "25% rule cross-check: 0.25 x profit_margin = "
            + fmt_pct(0.25 * margin, 2)
            + " (royalty used "
            + fmt_pct(roy, 2)
            + ")",
        )
    spread = a["royalty_spread_relative"]
    lo = np.where(roy_given, roy * (1 - spread), lo)
    hi = np.where(roy_given, np.minimum(roy * (1 + spread), 1.0), hi)
    return roy, lo, hi, roy_given


# ------------------------------------------------------------------------------------------ profit share


@dataclass(frozen=True)
class _Share:
    share: np.ndarray
    low: np.ndarray
    high: np.ndarray
    ok: np.ndarray
    decline: bool


def _profit_share(
    inputs: Inputs,
    facts: Facts,
    launch_cost: np.ndarray,
    live_rev: np.ndarray,
    method_code: np.ndarray,
    pos: np.ndarray,
    a: dict[str, Any],
    day: dt.date,
    notes: Notes,
) -> _Share:
    """Profit share (分成率) of the profit-split and 约当投资 patents, its Monte Carlo range, and where it applies."""
    n, x = inputs.n, inputs.x
    split = method_code > 0
    eqi = method_code == INCOME_METHODS.index("equivalent_investment")
    method_name = np.asarray(INCOME_METHODS, dtype=object)[method_code]
    margin = x["profit_margin"]
    share, s_lo, s_hi = (np.full(n, np.nan) for _ in range(3))
    decline = a["profit_share_decline"] == "linear"
    if split.any():
        sp_rel = a["profit_share_spread_relative"]
        psplit = split & ~eqi
        given_s = psplit & ~np.isnan(x["profit_share"])
        share[given_s] = x["profit_share"][given_s]
        need_s = psplit & ~given_s
        if a["profit_share"] is not None:
            share[need_s] = a["profit_share"]
            s_lo[need_s] = a["profit_share"] * (1 - sp_rel)
            s_hi[need_s] = min(a["profit_share"] * (1 + sp_rel), 1.0)
            notes.add(need_s & live_rev, f"profit_share {a['profit_share']:.2%} (assumption)")
        else:
            lo_s, hi_s = a["profit_share_range"]
            share[need_s] = (lo_s + (hi_s - lo_s) * pos)[need_s]
            s_lo[need_s], s_hi[need_s] = lo_s, hi_s
            how = np.where(np.isfinite(facts.quality_score), "positioned by quality_score", "midpoint")
            if notes.wanted:  # (a text for every row: not written when the notes are not kept)
                notes.add(
                    need_s & live_rev,
                    "profit_share default "
                    + fmt_pct(share, 2)
                    + f" (range {lo_s:.0%}-{hi_s:.0%} of profit, 四分法/三分法 rule of thumb, "
                    + how
                    + ")",
                )
        ok_e = np.zeros(n, bool)
        if eqi.any():
            ok_e = _equivalent_investment(inputs, share, launch_cost, eqi, live_rev, a, day, notes)
        fixed = given_s | ok_e
        s_lo = np.where(fixed, share * (1 - sp_rel), s_lo)
        s_hi = np.where(fixed, np.minimum(share * (1 + sp_rel), 1.0), s_hi)
        notes.add(
            split & live_rev & ~np.isfinite(margin),
            "income: " + method_name + " needs profit_margin, method not applied",
        )
        notes.add(split & live_rev & (margin < 0), "income: profit_margin negative, profit split not applied")
    split_ok = split & np.isfinite(share) & np.isfinite(margin) & (margin >= 0)
    if notes.wanted:  # (a text for every row: not written when the notes are not kept)
        notes.add(
            split_ok & live_rev,
            "income: "
            + fmt_pct(share, 2)
            + " of profit (revenue x profit_margin "
            + fmt_pct(margin, 1)
            + "), after tax"
            + (", share declining linearly (动态分成率)" if decline else ""),
        )
    return _Share(share, s_lo, s_hi, split_ok, decline)


def _equivalent_investment(
    inputs: Inputs,
    share: np.ndarray,
    launch_cost: np.ndarray,
    eqi: np.ndarray,
    live_rev: np.ndarray,
    a: dict[str, Any],
    day: dt.date,
    notes: Notes,
) -> np.ndarray:
    """约当投资分成率 into ``share`` (in place): the patent's replacement cost against the licensee's assets.

    Returns where it applies (``rd_cost`` and ``commercialization_cost`` known, a positive total).
    """
    x = inputs.x
    trend, _, _ = trend_factor(x["rd_year"], day)
    cp = x["rd_cost"] * trend
    pp, pl = a["patent_profit_rate"], a["licensee_profit_rate"]
    ok_e = eqi & np.isfinite(cp) & np.isfinite(launch_cost)
    ok_e &= np.where(ok_e, cp * (1.0 + pp) + np.where(ok_e, launch_cost, 0.0) * (1.0 + pl), 0.0) > 0
    if ok_e.any():
        share[ok_e] = equivalent_investment_share(cp[ok_e], pp, launch_cost[ok_e], pl)
    if notes.wanted:  # (a text for every row: not written when the notes are not kept)
        notes.add(
            ok_e & live_rev,
            "profit_share "
            + fmt_pct(share, 2)
            + " by 约当投资: patent rd_cost x CPI "
            + fmt(np.round(cp, 0), "{:,.0f}")
            + f" at {pp:.1%}, licensee commercialization_cost "
            + fmt(np.round(launch_cost, 0), "{:,.0f}")
            + f" at {pl:.1%}",
        )
    notes.add(
        eqi & ~ok_e & live_rev,
        "income: equivalent_investment needs rd_cost and commercialization_cost, method not applied",
    )
    notes.add(
        eqi & live_rev & ~np.isnan(x["profit_share"]),
        "profit_share given but not used: equivalent_investment computes the share",
    )
    return ok_e


# ------------------------------------------------------------------------------------------ income period


def legal_life_after_grant(life_legal: np.ndarray, wait: np.ndarray) -> np.ndarray:
    """The legal life left once an application is granted: ``max(life_legal - wait, 0)`` (NaN stays NaN).

    The term runs from filing whatever the grant date (CN Patent Law art. 42; 35 USC 154(a)(2); EPC art. 63(1)),
    and an application's income is deferred ``wait`` years to its expected grant (its value factor
    ``p x (1 + r) ** -wait``), so its income period is bounded by this, not by the life left on ``as_of``: the
    income stream never runs past the expiry (收益期限 at most the remaining legal term, 中评协《专利资产评估指导
    意见》). ``wait`` is 0 for a granted patent, whose legal life is unchanged.
    """
    life = np.asarray(life_legal, dtype=float)
    return np.where(np.isnan(life), np.nan, np.maximum(life - np.asarray(wait, dtype=float), 0.0))


def _income_period(
    inputs: Inputs,
    facts: Facts,
    revenue: np.ndarray,
    a: dict[str, Any],
    notes: Notes,
    wait: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Economic life (the row's, else the assumption) and the income period: the shorter of it and the legal life.

    For a pending application the legal life is the one left at its expected grant,
    :func:`legal_life_after_grant` (``wait``: :class:`ipvalue.valuation.asof.GrantAdjustment`'s years to grant).
    """
    dead = facts.dead
    life_legal = legal_life_after_grant(facts.life_legal, wait)
    econ_life = inputs.x["economic_life_years"].copy()
    m = np.isnan(econ_life)
    if a["economic_life_years"] is not None:
        econ_life[m] = a["economic_life_years"]
    period = np.asarray(income_period(np.where(dead, 0.0, life_legal), econ_life), dtype=float)
    period = np.where(np.isnan(life_legal), np.nan, period)
    notes.add(
        np.isnan(econ_life) & np.isfinite(revenue) & ~dead,
        "economic life not given: remaining legal life used",
    )
    if notes.wanted:  # (a text for every row: not written when the notes are not kept)
        notes.add(
            (wait > 0) & np.isfinite(life_legal) & np.isfinite(revenue) & ~dead,
            "income period from the expected grant to expiry: "
            + fmt(np.where(np.isnan(life_legal), 0.0, life_legal), "{:.2f}")
            + " years of legal life left after the wait",
        )
    return econ_life, period


# ------------------------------------------------------------------------------------------ tables


def _cpc_field(cpc: np.ndarray, table: pd.DataFrame) -> np.ndarray:
    """Technology field of the first CPC code by the longest matching prefix (matched once per distinct code)."""
    codes, raw = pd.factorize(pd.Series(cpc, dtype=object))
    uniques = [str(v).split(";")[0].replace(" ", "").upper() for v in raw]
    uniq = np.asarray(uniques, dtype=object)
    field_u = np.full(len(uniq), "default", dtype=object)
    best = np.zeros(len(uniq), dtype=int)
    for fld, prefixes in zip(table["field"], table["cpc_prefixes"], strict=True):
        for p in str(prefixes).split():
            hit = np.fromiter((u.startswith(p.upper()) for u in uniq), dtype=bool, count=len(uniq)) & (
                len(p) > best
            )
            field_u[hit] = fld
            best[hit] = len(p)
    return np.where(codes < 0, "default", field_u[np.maximum(codes, 0)]).astype(object)


def _industry_from_ipc(
    frame: pd.DataFrame, industry: np.ndarray, ranges: Mapping[str, Any]
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """Where ``industry`` is blank: the royalty industry the IPC -> industry concordance gives the first code.

    Returns the rows it applies to, and per row the royalty industry key and the note that says where it came from
    (the matched IPC prefix and the GB/T 4754 division). Rows without a ``cpc`` / ``ipc`` code, or whose code the
    (partial) concordance does not cover, are left out: the conservative default applies to them.
    """
    n = len(industry)
    none = np.zeros(n, dtype=bool)
    empty = np.full(n, "", dtype=object)
    col = "cpc" if "cpc" in frame.columns else "ipc" if "ipc" in frame.columns else None
    blank = industry == ""
    if col is None or not blank.any():
        return none, (empty, empty)
    from ipvalue.facts.industry import industry_for_ipc

    found = industry_for_ipc(frame[col].iloc[np.flatnonzero(blank)].reset_index(drop=True))
    key = found["royalty_industry"].to_numpy(dtype=object)
    ok = np.array([k is not None and k in ranges for k in key], dtype=bool) if len(key) else none[:0]
    rows = np.flatnonzero(blank)[ok]
    hit = none.copy()
    hit[rows] = True
    keys = empty.copy()
    keys[rows] = key[ok]
    note = empty.copy()
    f = found.loc[ok]
    note[rows] = (
        "industry not given: "
        + f["royalty_industry"].astype(str)
        + " royalty range from the IPC concordance ("
        + f["ipc_prefix"].astype(str)
        + " -> GB/T 4754 "
        + f["industry_code"].astype(str)
        + " "
        + f["industry_label"].astype(str)
        + "; partial ipvalue table, docs/methodology/market.md)"
    ).to_numpy(dtype=object)
    return hit, (keys, note)


def _conservative_royalty(ranges: Mapping[str, tuple[float, float, str]], q: float) -> tuple[float, float]:
    """The ``q`` quantile of the industries' range midpoints, and of their lows (the ``unknown`` row left out)."""
    known = [(lo, hi) for k, (lo, hi, _) in ranges.items() if k != "unknown"]
    mids = np.array([(lo + hi) / 2.0 for lo, hi in known])
    lows = np.array([lo for lo, _ in known])
    rate = float(np.quantile(mids, q))
    return rate, min(float(np.quantile(lows, q)), rate)


def _industry_aliases(ranges: dict) -> dict[str, str]:
    al = royalty_aliases()
    for k in ranges:
        al.setdefault(k, k)
        al.setdefault(k.lower(), k)
    return al


def _royalty_position(score: np.ndarray, coverage: np.ndarray | None) -> np.ndarray:
    """Position inside the royalty range from the quality score (0.5 where there is none)."""
    from ipvalue.quality import royalty_position

    return np.asarray(royalty_position(score, coverage), dtype=float)
