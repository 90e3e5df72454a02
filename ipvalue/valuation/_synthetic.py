"""Synthetic portfolios for tests and benchmarks (fictional patents, generated without a loop per patent)."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["synthetic_portfolio", "synthetic_comparables"]

_CPC = np.array(
    ["A61K31/00", "H01L21/02", "G06F9/44", "G06F3/01", "B25J9/16", "F16H1/28", "H04L5/00", "C07D401/12"]
)
_INDUSTRY = np.array(
    [
        "pharmaceutical",
        "optics_electronics",
        "high_tech",
        "machinery",
        "machinery",
        "automotive",
        "electrical",
        "chemical",
    ]
)


def synthetic_portfolio(
    n: int, seed: int = 0, *, as_of: str = "2026-06-30", group_size: int = 8
) -> pd.DataFrame:
    """A fictional CN portfolio of ``n`` patents with a mix of statuses, types, groups and economics.

    About 10 % lapsed or expired, 8 % pending, 30 % without any economics (cost or nothing), 15 % pre-commercial
    with a revenue forecast and a launch cost, the rest commercialised; grouped patents share their product line's
    revenue. Columns follow :data:`ipvalue.facts.patent.FACT_COLUMNS` and :data:`ipvalue.facts.patent.ECONOMIC_COLUMNS`.
    """
    g = np.random.default_rng(seed)
    day = np.datetime64(as_of, "D")
    ptype_u = g.random(n)
    ptype = np.where(ptype_u < 0.6, "invention", np.where(ptype_u < 0.95, "utility_model", "design"))
    digit = np.where(ptype == "invention", "1", np.where(ptype == "utility_model", "2", "3"))
    max_age = np.where(ptype == "invention", 19.0, np.where(ptype == "utility_model", 9.5, 14.0))
    age_days = (g.random(n) * max_age * 365.25).astype(np.int64) + 30
    filing = day - age_days
    year = filing.astype("datetime64[Y]").astype(int) + 1970
    seq = np.arange(n)
    ids = pd.Series(
        np.char.add(
            np.char.add(np.char.add("CN", year.astype(str)), digit), np.char.zfill(seq.astype(str), 7)
        )
    )
    grant_lag = np.where(ptype == "invention", 700, 250) + (g.random(n) * 300).astype(np.int64)
    grant = filing + grant_lag
    su = g.random(n)
    status = np.where(su < 0.08, "lapsed", np.where(su < 0.10, "expired", "granted"))
    status = np.where((grant > day) & (status == "granted"), "pending", status)
    grant_col = np.where(status == "pending", np.datetime64("NaT"), grant)
    k = g.integers(0, len(_CPC), n)
    # economics
    econ_u = g.random(n)
    has_econ = econ_u >= 0.30
    pre = (econ_u >= 0.30) & (econ_u < 0.45)
    grouped = has_econ & (g.random(n) < 0.6)
    gid = np.where(grouped, seq // group_size, -1)
    group = np.where(grouped, np.char.add("line-", gid.astype(str)), np.array(None))
    group_rev = np.exp(g.normal(np.log(2e7), 1.0, n // group_size + 1))
    rev = np.where(grouped, group_rev[np.maximum(gid, 0)], np.exp(g.normal(np.log(3e6), 1.0, n)))
    rev = np.where(has_econ, rev, np.nan)
    roy = np.where(g.random(n) < 0.5, g.uniform(0.01, 0.08, n), np.nan)
    disc = np.where(g.random(n) < 0.3, g.uniform(0.10, 0.20, n), np.nan)
    growth = np.where(g.random(n) < 0.5, g.uniform(-0.05, 0.15, n), np.nan)
    econ_life = np.where(g.random(n) < 0.3, g.uniform(3, 15, n), np.nan)
    rd = np.where(g.random(n) < 0.8, np.exp(g.normal(np.log(8e5), 0.8, n)), np.nan)
    rd_year = np.minimum(year - g.integers(0, 2, n), 2026).astype(float)
    launch = np.where(pre, rev * g.uniform(0.5, 2.0, n) * 0.1, np.nan)
    if grouped.any():
        # a group's launch cost is one number on every row of the group
        launch = np.where(grouped & pre, rev * 0.1, launch)
    commercialized = np.where(has_econ, ~pre, np.array(None))
    frame = pd.DataFrame(
        {
            "patent_id": ids,
            "jurisdiction": "CN",
            "patent_type": ptype,
            "filing_date": pd.to_datetime(filing),
            "grant_date": pd.to_datetime(grant_col),
            "legal_status": status,
            "cpc": _CPC[k],
            "industry": np.where(has_econ, _INDUSTRY[k], np.array(None)),
            "group": group,
            "revenue": rev,
            "revenue_growth": np.where(has_econ, growth, np.nan),
            "royalty_rate": np.where(has_econ, roy, np.nan),
            "discount_rate": np.where(has_econ, disc, np.nan),
            "economic_life_years": np.where(has_econ, econ_life, np.nan),
            "rd_cost": rd,
            "rd_year": np.where(np.isfinite(rd), rd_year, np.nan),
            "commercialization_cost": launch,
            "commercialized": pd.array(commercialized, dtype="boolean"),
            "currency": "CNY",
        }
    )
    # grouped pre-commercial and commercial rows must agree on the group's economics: make the group's flag and
    # launch cost those of its first row
    if grouped.any():
        gk = pd.Series(np.where(grouped, gid, -1))
        first_pre = pd.Series(pre).groupby(gk).transform("first").to_numpy(dtype=bool)
        frame["commercialized"] = pd.array(
            np.where(grouped, ~first_pre, frame["commercialized"].to_numpy(dtype=object)), dtype="boolean"
        )
        frame["commercialization_cost"] = np.where(
            grouped, np.where(first_pre, rev * 0.1, np.nan), frame["commercialization_cost"]
        )
    return frame.set_index("patent_id", drop=False).rename_axis(index="patent_id")


def synthetic_comparables(n: int, seed: int = 0, *, as_of: str = "2026-06-30") -> pd.DataFrame:
    """``n`` fictional transactions in the technologies of :func:`synthetic_portfolio` (read, ready to use).

    Codes share the portfolio's subclasses with other main groups (so most subjects find comparables at the
    subclass level, some at the group level); about 30 % are royalty comparables (non-exclusive licences), the rest
    prices of assignments, licences and auctions over the ten years before ``as_of``. FICTIONAL: for tests and
    benchmarks only.
    """
    from ipvalue.facts.comparables import read_comparables

    g = np.random.default_rng(seed)
    k = g.integers(0, len(_CPC), n)
    sub = np.array([c[:4] for c in _CPC], dtype=object)[k]
    same = g.random(n) < 0.2
    groups = np.where(
        same, np.array([c[4:] for c in _CPC], dtype=object)[k], g.integers(1, 60, n).astype(str)
    )
    code = np.char.add(np.char.add(sub.astype(str), groups.astype(str)), np.where(same, "", "/00")).astype(
        object
    )
    royalty = g.random(n) < 0.3
    kinds = np.array(["assignment", "exclusive_licence", "sole_licence", "judicial_auction"], dtype=object)
    day = np.datetime64(as_of, "D")
    raw = pd.DataFrame(
        {
            "comparable_id": np.char.add("SYN-T", np.char.zfill(np.arange(n).astype(str), 7)),
            "price": np.where(royalty, np.nan, np.exp(g.normal(np.log(1.5e6), 0.8, n))),
            "royalty_rate": np.where(royalty, g.uniform(0.01, 0.08, n), np.nan),
            "transaction_date": (day - g.integers(30, 3650, n).astype("timedelta64[D]")).astype(str),
            "ipc": code,
            "industry": _INDUSTRY[k],
            "remaining_life_years": g.uniform(2, 18, n),
            "transaction_kind": np.where(royalty, "non_exclusive_licence", kinds[g.integers(0, 4, n)]),
            "quality_score": g.uniform(20, 90, n),
            "currency": "CNY",
        }
    )
    return read_comparables(raw)
