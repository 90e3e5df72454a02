"""The leaf indicators, each on a 0-1 scale (NaN when it cannot be observed), computed over the whole frame."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from io import StringIO
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ipvalue.quality._inputs import Inputs, read_inputs
from ipvalue.quality._tree import QualityTree, load_tree
from ipvalue.terms import life_table

__all__ = [
    "quality_indicators",
    "gdp_table",
    "market_coverage_share",
    "cpc_subclass",
    "class_diversity",
    "log_cap",
    "citation_cohorts",
    "cohort_quantiles",
]

_DAYS_PER_YEAR = 365.25
_DEAD = ("lapsed", "expired", "revoked", "withdrawn")


# --------------------------------------------------------------------------- small pure helpers
def log_cap(x: np.ndarray, cap: float) -> np.ndarray:
    """``min(1, log(1 + x) / log(1 + cap))``: a concave 0-1 scale for counts (NaN stays NaN)."""
    x = np.asarray(x, dtype=float)
    with np.errstate(invalid="ignore"):
        return np.minimum(1.0, np.log1p(x) / np.log1p(float(cap)))


def cpc_subclass(code: object) -> str | None:
    """The 4-character CPC/IPC subclass of one class symbol (``"H04L 9/32"`` -> ``"H04L"``), None if unusable."""
    if not isinstance(code, str):
        return None
    s = "".join(code.split()).upper()
    if len(s) < 4 or not (s[0].isalpha() and s[1:3].isdigit() and s[3].isalpha()):
        return None
    return s[:4]


def class_diversity(classes: object) -> float:
    """``1 - sum(s_j**2)`` over the class shares of a ``;``-joined list (one entry per citation); NaN if empty.

    This is the OECD generality (citing classes) / originality (cited classes) index, Squicciarini, Dernis &
    Criscuolo (2013), section on generality and originality.
    """
    if not isinstance(classes, str):
        return float("nan")
    items = [
        c for c in (cpc_subclass(p) or p.strip().upper() for p in classes.replace("；", ";").split(";")) if c
    ]
    if not items:
        return float("nan")
    _, counts = np.unique(np.array(items), return_counts=True)
    shares = counts / counts.sum()
    return float(1.0 - np.sum(shares**2))


@lru_cache(maxsize=4)
def _read_gdp(path: str | None) -> tuple[dict[str, float], dict[str, tuple[str, ...]], str]:
    if path is None:
        text = resources.files("ipvalue").joinpath("data", "quality_gdp.csv").read_text(encoding="utf-8")
    else:
        text = Path(path).read_text(encoding="utf-8")
    df = pd.read_csv(StringIO(text), comment="#", dtype={"code": str, "covers": str}, keep_default_na=False)
    gdp: dict[str, float] = {}
    covers: dict[str, tuple[str, ...]] = {}
    for code, value, cov in zip(df["code"], df["gdp_usd_m"], df["covers"], strict=True):
        code = str(code).strip().upper()
        if cov:
            covers[code] = tuple(c.strip().upper() for c in str(cov).split(";") if c.strip())
        elif str(value).strip() != "":
            gdp[code] = float(value)
        else:
            covers[code] = ()
    year = ",".join(sorted({str(y) for y in df["year"]}))
    return gdp, covers, year


def gdp_table(path: str | Path | None = None) -> pd.DataFrame:
    """The economic-size table used for market coverage (``code``, ``gdp_usd_m``, ``year``, ``covers``).

    The packaged table is World Bank WDI GDP (current US$) for 2020, see ``ipvalue/data/quality_gdp.csv``.
    """
    gdp, covers, year = _read_gdp(None if path is None else str(path))
    rows = [{"code": k, "gdp_usd_m": v, "year": year, "covers": ""} for k, v in gdp.items()]
    rows += [{"code": k, "gdp_usd_m": np.nan, "year": year, "covers": ";".join(v)} for k, v in covers.items()]
    return pd.DataFrame(rows)


def market_coverage_share(jurisdictions: object, *, table: str | Path | None = None) -> float:
    """Share of the table's total GDP covered by a set of offices (``;``-joined text or a list).

    Regional codes (EP, EA) expand to the states listed in the table's ``covers`` column; the union is taken so
    that a state is never counted twice; codes not in the table count zero.
    """
    gdp, covers, _ = _read_gdp(None if table is None else str(table))
    if isinstance(jurisdictions, str):
        codes = jurisdictions.replace("；", ";").split(";")
    elif jurisdictions is None:
        return float("nan")
    else:
        codes = list(jurisdictions)  # type: ignore[call-overload]
    states: set[str] = set()
    for c in codes:
        c = str(c).strip().upper()
        if not c:
            continue
        states.update(covers.get(c, (c,)))
    total = sum(gdp.values())
    return sum(gdp.get(s, 0.0) for s in states) / total


# --------------------------------------------------------------------------- per-unique evaluation
def _per_unique(values: pd.Series, fn: Callable[[object], float]) -> np.ndarray:
    """Apply ``fn`` once per distinct value (not once per patent) and broadcast back."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    res = np.array([fn(u) for u in uniques], dtype=float)
    out = np.full(len(values), np.nan)
    ok = codes >= 0
    out[ok] = res[codes[ok]]
    return out


def _first_subclass(cpc: object) -> str | None:
    if not isinstance(cpc, str):
        return None
    for part in cpc.replace("；", ";").split(";"):
        sc = cpc_subclass(part)
        if sc:
            return sc
    return None


def _n_subclasses(cpc: object) -> float:
    if not isinstance(cpc, str):
        return float("nan")
    subs = {s for s in (cpc_subclass(p) for p in cpc.replace("；", ";").split(";")) if s}
    return float(len(subs)) if subs else float("nan")


def _offices(text: object) -> float:
    if not isinstance(text, str):
        return float("nan")
    offices = {c.strip().upper() for c in text.replace("；", ";").split(";") if c.strip()} - {"WO"}
    return float(len(offices)) if offices else float("nan")


# --------------------------------------------------------------------------- remaining life
def _terms_remaining_life(frame: pd.DataFrame, as_of: dt.date) -> np.ndarray:
    """Remaining life in years from :func:`ipvalue.terms.life_table` (NaN where the term cannot be computed)."""
    # rows whose term cannot be computed come back NaN: for the score that is a missing indicator
    res = life_table(frame, as_of, errors="coerce")["remaining_life_years"]
    return np.asarray(res, dtype=float).reshape(-1)


# --------------------------------------------------------------------------- forward citations
def _subclass_code(sub: object) -> int:
    """A CPC subclass (``"H04L"``) as an integer that is the same in every process (-1 when missing)."""
    if not isinstance(sub, str) or len(sub) != 4:
        return -1
    return (ord(sub[0]) * 100 + int(sub[1:3])) * 0x110000 + ord(sub[3])


def _cohort_keys(subs: np.ndarray, year: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cohort keys: class x year (``subclass_code * 10_000 + year``) and year (-1 where unknown).

    The keys are computed from the values themselves, not from the order rows appear in, so that a key means the
    same cohort in every chunk of a partitioned book.
    """
    codes, uniques = pd.factorize(pd.Series(subs, dtype=object), use_na_sentinel=True)
    lut = np.array([_subclass_code(u) for u in uniques] + [-1], dtype=np.int64)
    sub_code = lut[np.where(codes >= 0, codes, len(uniques))]
    key1 = np.where((sub_code >= 0) & (year >= 0), sub_code * 10_000 + year, -1).astype(np.int64)
    return key1, np.asarray(year, dtype=np.int64)


def _quantile_table(
    key: np.ndarray, rate: np.ndarray, *, min_size: int, lo_q: float, hi_q: float
) -> pd.DataFrame:
    """Exact (linear-interpolation) quantiles of ``rate`` per cohort ``key``, for cohorts of ``min_size`` or more.

    ``key < 0`` and NaN rates are left out. The result depends only on the multiset of (key, rate) pairs, not on
    their order, so a cohort's rows gathered from any number of chunks give the same caps to the last bit.
    Columns ``size``, ``lo``, ``hi``, indexed by ``key``.
    """
    ok = (key >= 0) & ~np.isnan(rate)
    order = np.lexsort((rate[ok], key[ok]))  # by cohort, then rate: each cohort's rates sorted in one run
    k, r = key[ok][order], rate[ok][order]
    cohorts, start, size = np.unique(k, return_index=True, return_counts=True)
    big = size >= min_size
    cohorts, start, size = cohorts[big], start[big], size[big]

    def quantile(q: float) -> np.ndarray:
        # pandas' groupby quantile, linear: the order statistic at int(q (n - 1)), plus the fraction of the
        # step to the next one (the same operations, so the same bits)
        at = q * (size - 1).astype(np.float64)
        idx = at.astype(np.int64)
        frac = at % 1
        val = r[start + idx]
        nxt = r[start + np.minimum(idx + 1, size - 1)]
        return np.where(frac == 0.0, val, val + (nxt - val) * frac)

    return pd.DataFrame(
        {"size": size.astype(np.int64), "lo": quantile(lo_q), "hi": quantile(hi_q)},
        index=pd.Index(cohorts.astype(np.int64), dtype=np.int64),
    )


def _cohort_normalise(
    rate: np.ndarray,
    key1: np.ndarray,
    key2: np.ndarray,
    *,
    min_size: int,
    lo_q: float,
    hi_q: float,
    cap: float,
    ref_lo: np.ndarray | None = None,
    ref_hi: np.ndarray | None = None,
    tables: tuple[pd.DataFrame, pd.DataFrame] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Winsorise and scale ``rate`` within cohorts, falling back to coarser cohorts and then a fixed cap.

    Returns the 0-1 values and the level used per row: 4 = external reference table, 1 = class x year,
    2 = year, 3 = fixed cap, 0 = missing. Reference caps, where given, come first. ``tables`` (class x year,
    year), as made by :func:`_quantile_table` over the whole book, replace the quantiles of the rows at hand
    (how a chunk of a partitioned book gets the caps of the book).
    """
    n = len(rate)
    out = np.full(n, np.nan)
    level = np.zeros(n, dtype=np.int8)
    valid = ~np.isnan(rate)
    todo = valid.copy()
    if ref_hi is not None and ref_lo is not None:
        rows = todo & ~np.isnan(ref_hi)
        if rows.any():
            out[rows] = np.clip(rate[rows], ref_lo[rows], ref_hi[rows]) / ref_hi[rows]
            level[rows] = 4
            todo &= ~rows
    for i, (lvl, key) in enumerate(((1, key1), (2, key2))):
        use = todo & (key >= 0)
        if not use.any():
            continue
        if tables is None:
            tbl = _quantile_table(key, rate, min_size=min_size, lo_q=lo_q, hi_q=hi_q)
        else:
            tbl = tables[i]
        if tbl.empty:
            continue
        cohorts = tbl.index.to_numpy(dtype=np.int64)
        rows = use & np.isin(key, cohorts)
        # each row's cohort found by binary search when the table's keys are sorted and distinct (as
        # _quantile_table makes them); else by pandas' reindex
        if len(cohorts) < 2 or bool(np.all(cohorts[1:] > cohorts[:-1])):
            at = np.searchsorted(cohorts, key[rows])
            lo = tbl["lo"].to_numpy(dtype=float)[at]
            hi = tbl["hi"].to_numpy(dtype=float)[at]
        else:
            lo = tbl["lo"].reindex(key[rows]).to_numpy(dtype=float)
            hi = tbl["hi"].reindex(key[rows]).to_numpy(dtype=float)
        x = np.clip(rate[rows], lo, hi)
        with np.errstate(invalid="ignore", divide="ignore"):
            val = np.where(hi > 0, x / hi, (rate[rows] > 0).astype(float))
        out[rows] = val
        level[rows] = lvl
        todo &= ~rows
    if todo.any():
        out[todo] = np.minimum(1.0, rate[todo] / cap)
        level[todo] = 3
    return out, level


def _citation_rates(inp: Inputs, cpc: pd.Series | None, asof64: np.datetime64, p: dict) -> tuple:
    """Forward citations per year of age, the first CPC subclass and the filing year of every row."""
    n = inp.n
    fwd = inp.num.get("forward_citations")
    fdate = inp.dates.get("filing_date", np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]"))
    pdate = inp.dates.get("priority_date")
    if pdate is not None:
        fdate = np.where(np.isnat(fdate), pdate, fdate)
    age = (asof64 - fdate).astype("timedelta64[ns]") / np.timedelta64(1, "D") / _DAYS_PER_YEAR
    rate = fwd / np.maximum(age, float(p["min_age_years"]))  # NaN when the date is unknown
    year = np.where(np.isnat(fdate), -1, fdate.astype("datetime64[Y]").astype(np.int64) + 1970)
    subs = _per_unique_text(cpc, _first_subclass) if cpc is not None else np.full(n, None, dtype=object)
    return rate, subs, year


_CITATION_INPUTS = ("forward_citations", "filing_date", "priority_date", "cpc")


def citation_cohorts(frame: pd.DataFrame, *, as_of: dt.date, tree: QualityTree | None = None) -> pd.DataFrame:
    """The map step of the cohort normalisation: one small row per patent with citations.

    Columns ``key1`` (class x filing year cohort), ``key2`` (filing year cohort) and ``rate`` (forward citations
    per year of age), int64/int64/float64; rows without a rate are dropped. Concatenated over the chunks of a book
    and grouped by key (e.g. after a shuffle on the key), :func:`cohort_quantiles` turns them into the caps every
    chunk then uses through ``score_quality(..., cohort_quantiles=)``.
    """
    tree = tree or load_tree()
    cols = [c for c in _CITATION_INPUTS if c in frame.columns]
    empty = pd.DataFrame({"key1": np.empty(0, np.int64), "key2": np.empty(0, np.int64), "rate": np.empty(0)})
    if "forward_citations" not in cols or "forward_citations" not in tree.leaf_names:
        return empty
    inp = read_inputs(frame.loc[:, cols], expert_columns={}, remaining_life_years=None, errors="raise")
    asof64 = np.datetime64(pd.Timestamp(as_of).normalize().to_datetime64(), "ns")
    rate, subs, year = _citation_rates(inp, inp.text.get("cpc"), asof64, tree.params("forward_citations"))
    key1, key2 = _cohort_keys(subs, year)
    ok = ~np.isnan(rate)
    return pd.DataFrame({"key1": key1[ok], "key2": key2[ok], "rate": rate[ok]})


def cohort_quantiles(
    rates: pd.DataFrame, *, level: int | None = None, tree: QualityTree | None = None
) -> dict[str, pd.DataFrame] | pd.DataFrame:
    """The reduce step: exact winsorisation caps per cohort from :func:`citation_cohorts` rows.

    Parameters
    ----------
    rates : DataFrame
        Rows of :func:`citation_cohorts` holding *every* row of each cohort present (the whole book, or one
        partition of a shuffle on the cohort key).
    level : {1, 2}, optional
        Only the class x year (1) or year (2) table, as one DataFrame; both in a dict when omitted.
    tree : QualityTree, optional
        Supplies ``min_cohort_size`` and ``trim`` (the packaged tree by default).

    Returns
    -------
    dict or DataFrame
        ``{"class_year": table, "year": table}``; a table has ``size``, ``lo``, ``hi`` indexed by the cohort key
        (cohorts smaller than ``min_cohort_size`` are left out: their patents fall back as in a single run).
    """
    tree = tree or load_tree()
    p = tree.params("forward_citations")
    lo_q, hi_q = (float(q) for q in p["trim"])
    rate = rates["rate"].to_numpy(dtype=float)

    def one(col: str) -> pd.DataFrame:
        return _quantile_table(
            rates[col].to_numpy(dtype=np.int64),
            rate,
            min_size=int(p["min_cohort_size"]),
            lo_q=lo_q,
            hi_q=hi_q,
        )

    if level == 1:
        return one("key1")
    if level == 2:
        return one("key2")
    return {"class_year": one("key1"), "year": one("key2")}


_REFERENCE_COLUMNS = ("cpc_subclass", "filing_year", "rate_p99")


def _check_reference(ref: pd.DataFrame) -> pd.DataFrame:
    """Validate a cohort reference table and index it by (cpc_subclass, filing_year)."""
    if not isinstance(ref, pd.DataFrame):
        raise TypeError(f"cohort_reference must be a DataFrame, got {type(ref).__name__}")
    missing = [c for c in _REFERENCE_COLUMNS if c not in ref.columns]
    if missing:
        raise ValueError(
            f"cohort_reference: missing columns {missing} (needs {list(_REFERENCE_COLUMNS)}, rate_p01 optional)"
        )
    sub = ref["cpc_subclass"].astype(object).map(cpc_subclass, na_action="ignore")
    year = pd.to_numeric(ref["filing_year"], errors="coerce")
    hi = pd.to_numeric(ref["rate_p99"], errors="coerce").astype(float)
    lo = (
        pd.to_numeric(ref["rate_p01"], errors="coerce").astype(float)
        if "rate_p01" in ref.columns
        else pd.Series(0.0, index=ref.index)
    )
    bad = sub.isna() | year.isna() | (year != year.round()) | ~(hi > 0) | ~(lo >= 0) | ~(lo <= hi)
    if bad.any():
        row = ref.loc[bad].iloc[0]
        raise ValueError(
            "cohort_reference: row "
            f"{row.get('cpc_subclass')!r} / {row.get('filing_year')!r} needs a CPC subclass, a whole filing year, "
            "rate_p99 > 0 and 0 <= rate_p01 <= rate_p99"
        )
    out = pd.DataFrame(
        {"rate_p01": lo.to_numpy(), "rate_p99": hi.to_numpy()},
        index=pd.MultiIndex.from_arrays([sub.to_numpy(dtype=object), year.astype(np.int64).to_numpy()]),
    )
    if out.index.has_duplicates:
        dup = out.index[out.index.duplicated()][0]
        raise ValueError(f"cohort_reference: cohort {dup[0]} / {dup[1]} appears more than once")
    return out


# --------------------------------------------------------------------------- the indicators
def _level(flag: np.ndarray | None, n: int, yes: float, no: float) -> np.ndarray:
    if flag is None:
        return np.broadcast_to(np.float64(np.nan), (n,))
    return np.where(np.isnan(flag), np.nan, np.where(flag == 1.0, yes, no))


@dataclass(frozen=True)
class _Rows:
    """What the leaf computations read: the parsed inputs, a few columns every leaf shares, and the options."""

    frame: pd.DataFrame
    as_of: dt.date
    inp: Inputs
    asof64: np.datetime64
    status: np.ndarray
    ptype: np.ndarray
    dead: np.ndarray
    juris: pd.Series
    gdp_path: str | Path | None
    cohort_reference: pd.DataFrame | None
    cohort_quantiles: dict[str, pd.DataFrame] | None

    @property
    def n(self) -> int:
        """Number of rows."""
        return self.inp.n

    def blank(self) -> np.ndarray:
        """A new all-NaN column to fill in."""
        return np.full(self.n, np.nan)

    def absent(self) -> np.ndarray:
        """The values of a leaf with no input column: all NaN, read-only, no memory."""
        return np.broadcast_to(np.float64(np.nan), (self.n,))


def _read_rows(
    frame: pd.DataFrame,
    tree: QualityTree,
    *,
    as_of: dt.date,
    remaining_life_years: object,
    gdp_path: str | Path | None,
    errors: str,
    cohort_reference: pd.DataFrame | None,
    cohort_quantiles: dict[str, pd.DataFrame] | None,
) -> _Rows:
    """Read and check the inputs of :func:`compute_indicators` once, for every leaf.

    Parameters
    ----------
    frame : DataFrame
        Portfolio frame.
    tree : QualityTree
        Supplies the expert columns to read.
    as_of : datetime.date
        Valuation date.
    remaining_life_years : object
        Remaining life per patent, or None.
    gdp_path : str, Path or None
        GDP table for the market coverage.
    errors : {"raise", "missing"}
        What to do with bad input values.
    cohort_reference : DataFrame or None
        External forward-citation caps.
    cohort_quantiles : dict or None
        In-book cohort caps of a whole partitioned book.

    Returns
    -------
    _Rows
        The inputs with the legal status, patent type, dead flag and jurisdiction columns.
    """
    inp = read_inputs(
        frame, expert_columns=tree.expert_columns(), remaining_life_years=remaining_life_years, errors=errors
    )
    none = pd.Series([None] * inp.n, dtype=object)
    status = inp.text.get("legal_status", none).to_numpy(dtype=object)
    return _Rows(
        frame=frame,
        as_of=as_of,
        inp=inp,
        asof64=np.datetime64(pd.Timestamp(as_of).normalize().to_datetime64(), "ns"),
        status=status,
        ptype=inp.text.get("patent_type", none).to_numpy(dtype=object),
        dead=pd.Series(status, dtype=object).isin(_DEAD).to_numpy(dtype=bool),
        juris=inp.text.get("jurisdiction", none),
        gdp_path=gdp_path,
        cohort_reference=cohort_reference,
        cohort_quantiles=cohort_quantiles,
    )


#: A leaf computation ``fn(rows, leaf, tree, notes) -> values``: ``rows`` the read inputs (:class:`_Rows`),
#: ``leaf`` the leaf's name, ``tree`` supplies its parameters (``tree.params(leaf)``), ``notes`` a dict it may
#: add to; the values are on a 0-1 scale, one per row, NaN where the leaf cannot be observed.
_LeafFn = Callable[[_Rows, str, QualityTree, dict[str, Any]], np.ndarray]


def _grant_status(rows: _Rows, leaf: str, tree: QualityTree, notes: dict[str, Any]) -> np.ndarray:
    """Grant status: the level of a granted patent by type, or of a pending or dead one.

    Reads ``legal_status`` and ``patent_type``; NaN for a status the tree does not score. Arguments and
    return as :data:`_LeafFn`.
    """
    p = tree.params(leaf)
    v = rows.blank()
    for t, x in p["granted"].items():
        v[(rows.status == "granted") & (rows.ptype == t)] = float(x)
    for s in ("pending", *_DEAD):
        if s in p:
            v[rows.status == s] = float(p[s])
    return v


def _invalidation_history(rows: _Rows, leaf: str, tree: QualityTree, notes: dict[str, Any]) -> np.ndarray:
    """Invalidation history: unchallenged, survived a challenge, or a challenge pending (which wins).

    Reads the flags ``invalidation_pending`` and ``invalidation_survived``; NaN where neither is known.
    Arguments and return as :data:`_LeafFn`.
    """
    p = tree.params(leaf)
    pend = rows.inp.flags.get("invalidation_pending")
    surv = rows.inp.flags.get("invalidation_survived")
    v = rows.blank()
    if pend is not None:
        v[pend == 0.0] = float(p["unchallenged"])
    if surv is not None:
        not_pending = ~(pend == 1.0 if pend is not None else np.zeros(rows.n, bool))
        v[(surv == 1.0) & not_pending] = float(p["survived"])
    if pend is not None:
        v[pend == 1.0] = float(p["pending"])
    return v


def _remaining_life(rows: _Rows, leaf: str, tree: QualityTree, notes: dict[str, Any]) -> np.ndarray:
    """Remaining life as a share of the maximum term of the patent's type (0 for a dead patent).

    Reads ``remaining_life_years``, else asks :mod:`ipvalue.terms`; writes ``remaining_life_source`` and
    ``remaining_life_years`` into ``notes``. Arguments and return as :data:`_LeafFn`.
    """
    rl = rows.inp.num.get("remaining_life_years")
    source = "input"
    if rl is None:
        rl = _terms_remaining_life(rows.frame, rows.as_of)
        source = "ipvalue.terms"
    rl = np.where(rows.dead, 0.0, rl)
    notes["remaining_life_source"] = source
    notes["remaining_life_years"] = rl
    max_term = rows.blank()
    for t, x in tree.params(leaf)["max_term_years"].items():
        max_term[rows.ptype == t] = float(x)
    with np.errstate(invalid="ignore"):
        return np.clip(rl / max_term, 0.0, 1.0)


def _fee_continuity(rows: _Rows, leaf: str, tree: QualityTree, notes: dict[str, Any]) -> np.ndarray:
    """Fee continuity: fees paid, in the grace period, or overdue (a dead patent counts as overdue).

    Reads ``fees_paid_through``; NaN where it is unknown and the patent alive. Arguments and return as
    :data:`_LeafFn`.
    """
    p = tree.params(leaf)
    fpt = rows.inp.dates.get("fees_paid_through")
    v = rows.blank()
    if fpt is not None:
        gap = (fpt - rows.asof64) / np.timedelta64(1, "D") / _DAYS_PER_YEAR
        known = ~np.isnan(gap)
        v[known & (gap >= 0)] = float(p["paid"])
        v[known & (gap < 0) & (gap >= -float(p["grace_years"]))] = float(p["grace"])
        v[known & (gap < -float(p["grace_years"]))] = float(p["overdue"])
    v[rows.dead] = float(p["overdue"])
    return v


def _count_leaf(rows: _Rows, leaf: str, tree: QualityTree, notes: dict[str, Any]) -> np.ndarray:
    """A count on a log scale capped at the tree's ``cap`` (claims, independent claims, backward citations).

    Reads the numeric column named like the leaf; all NaN without it. Arguments and return as
    :data:`_LeafFn`.
    """
    x = rows.inp.num.get(leaf)
    return rows.absent() if x is None else log_cap(x, tree.params(leaf)["cap"])


#: leaf -> (input flag, tree level when set, tree level when not set).
_FLAG_LEVELS = {
    "litigation": ("in_litigation", "in_litigation", "free"),
    "licensing": ("licensed", "licensed", "not_licensed"),
    "commercialisation": ("commercialized", "yes", "no"),
}


def _flag_leaf(rows: _Rows, leaf: str, tree: QualityTree, notes: dict[str, Any]) -> np.ndarray:
    """A yes/no input flag mapped to the tree's two levels (litigation, licensing, commercialisation).

    Reads the flag ``_FLAG_LEVELS`` names; NaN where it is unknown. Arguments and return as :data:`_LeafFn`.
    """
    flag, yes, no = _FLAG_LEVELS[leaf]
    p = tree.params(leaf)
    return _level(rows.inp.flags.get(flag), rows.n, p[yes], p[no])


def _forward_citations(rows: _Rows, leaf: str, tree: QualityTree, notes: dict[str, Any]) -> np.ndarray:
    """Forward citations per year of age, winsorised and scaled within cohorts (:func:`_cohort_normalise`).

    Uses the cohort reference and the in-book quantiles when given; writes the cohort level used per row
    into ``notes['forward_citation_levels']``. Arguments and return as :data:`_LeafFn`.
    """
    p = tree.params(leaf)
    if rows.inp.num.get("forward_citations") is None:
        notes["forward_citation_levels"] = np.zeros(rows.n, dtype=np.int8)
        return rows.absent()
    rate, subs, year = _citation_rates(rows.inp, rows.inp.text.get("cpc"), rows.asof64, p)
    ref_lo = ref_hi = None
    if rows.cohort_reference is not None:
        ref = _check_reference(rows.cohort_reference)
        look = ref.reindex(pd.MultiIndex.from_arrays([subs, year]))
        ref_lo = look["rate_p01"].to_numpy(dtype=float)
        ref_hi = look["rate_p99"].to_numpy(dtype=float)
    key1, key2 = _cohort_keys(subs, year)
    lo_q, hi_q = (float(q) for q in p["trim"])
    tables = None
    if rows.cohort_quantiles is not None:
        tables = (rows.cohort_quantiles["class_year"], rows.cohort_quantiles["year"])
    v, lvl = _cohort_normalise(
        rate,
        key1,
        key2,
        min_size=int(p["min_cohort_size"]),
        lo_q=lo_q,
        hi_q=hi_q,
        cap=float(p["absolute_rate_cap"]),
        ref_lo=ref_lo,
        ref_hi=ref_hi,
        tables=tables,
    )
    notes["forward_citation_levels"] = lvl
    return v


#: leaf -> the ``;``-joined class column its diversity index is computed from.
_CLASS_COLUMNS = {"generality": "forward_citation_classes", "originality": "backward_citation_classes"}


def _diversity_leaf(rows: _Rows, leaf: str, tree: QualityTree, notes: dict[str, Any]) -> np.ndarray:
    """Generality or originality: the given value, else the diversity of the citing or cited classes.

    Reads the numeric column named like the leaf and the class column ``_CLASS_COLUMNS`` names; NaN where
    neither is known. Arguments and return as :data:`_LeafFn`.
    """
    col = _CLASS_COLUMNS[leaf]
    given = rows.inp.num.get(leaf)
    if col in rows.inp.text:
        computed = _per_unique(rows.inp.text[col], class_diversity)
        given = computed if given is None else np.where(np.isnan(given), computed, given)
    return rows.absent() if given is None else given


def _cpc_scope(rows: _Rows, leaf: str, tree: QualityTree, notes: dict[str, Any]) -> np.ndarray:
    """CPC scope: the number of distinct CPC subclasses on a log scale capped at ``cap``.

    Reads ``cpc``; all NaN without it. Arguments and return as :data:`_LeafFn`.
    """
    cpc = rows.inp.text.get("cpc")
    return (
        rows.absent() if cpc is None else log_cap(_per_unique(cpc, _n_subclasses), tree.params(leaf)["cap"])
    )


def _family_size(rows: _Rows, leaf: str, tree: QualityTree, notes: dict[str, Any]) -> np.ndarray:
    """Family size on a log scale: the given size, else the count of the family's offices.

    Reads ``family_size``, ``family_jurisdictions`` and ``jurisdiction``; NaN where neither is known.
    Arguments and return as :data:`_LeafFn`.
    """
    fsize = rows.inp.num.get("family_size")
    fam = rows.inp.text.get("family_jurisdictions")
    x = rows.blank() if fsize is None else fsize.copy()
    if fam is not None:
        derived = _per_unique(_offices_text(rows.juris, fam), _offices)
        x = np.where(np.isnan(x), derived, x)
    return log_cap(x, tree.params(leaf)["cap"])


def _market_coverage(rows: _Rows, leaf: str, tree: QualityTree, notes: dict[str, Any]) -> np.ndarray:
    """Market coverage: the GDP share of the offices the family covers (:func:`market_coverage_share`).

    Reads ``family_jurisdictions``, ``jurisdiction`` and ``family_size`` (a single-member family counts
    its own office); NaN where the offices are unknown. Arguments and return as :data:`_LeafFn`.
    """
    table = tree.params(leaf).get("table")
    path = rows.gdp_path
    if path is None and table not in (None, "quality_gdp.csv"):
        path = table

    def share(text: object) -> float:
        return market_coverage_share(text, table=path) if isinstance(text, str) else float("nan")

    fam = rows.inp.text.get("family_jurisdictions")
    fsize = rows.inp.num.get("family_size")
    v = rows.blank()
    if fam is not None:
        v = _per_unique(_offices_text(rows.juris, fam), share)
    if fsize is not None:
        single = np.isnan(v) & (fsize == 1.0)
        if single.any():
            v[single] = _per_unique(rows.juris.where(pd.Series(single), None), share)[single]
    return v


#: The computed leaves, in the order they are computed (the order notes are written and errors raised).
_LEAVES: tuple[tuple[str, _LeafFn], ...] = (
    ("grant_status", _grant_status),
    ("invalidation_history", _invalidation_history),
    ("remaining_life", _remaining_life),
    ("fee_continuity", _fee_continuity),
    ("claims", _count_leaf),
    ("independent_claims", _count_leaf),
    ("backward_citations", _count_leaf),
    ("litigation", _flag_leaf),
    ("licensing", _flag_leaf),
    ("commercialisation", _flag_leaf),
    ("forward_citations", _forward_citations),
    ("generality", _diversity_leaf),
    ("originality", _diversity_leaf),
    ("cpc_scope", _cpc_scope),
    ("family_size", _family_size),
    ("market_coverage", _market_coverage),
)


def compute_indicators(
    frame: pd.DataFrame,
    tree: QualityTree,
    *,
    as_of: dt.date,
    remaining_life_years: object = None,
    gdp_path: str | Path | None = None,
    errors: str = "raise",
    cohort_reference: pd.DataFrame | None = None,
    cohort_quantiles: dict[str, pd.DataFrame] | None = None,
) -> tuple[dict[str, np.ndarray], Inputs, dict[str, Any]]:
    """Compute every leaf of ``tree``; returns ``({leaf: values}, inputs, notes)``.

    Values are on a 0-1 scale, NaN where the indicator cannot be observed for that patent. Each computed leaf
    has its own function (``_LEAVES``); an expert leaf is its input column (0-10) divided by 10.
    """
    rows = _read_rows(
        frame,
        tree,
        as_of=as_of,
        remaining_life_years=remaining_life_years,
        gdp_path=gdp_path,
        errors=errors,
        cohort_reference=cohort_reference,
        cohort_quantiles=cohort_quantiles,
    )
    notes: dict[str, Any] = {}
    want = set(tree.leaf_names)
    vals = {leaf: fn(rows, leaf, tree, notes) for leaf, fn in _LEAVES if leaf in want}
    for leaf in tree.expert_columns():
        x = rows.inp.num.get(leaf)
        vals[leaf] = rows.absent() if x is None else x / 10.0

    missing_leaves = want - set(vals)
    if missing_leaves:  # pragma: no cover - guarded by tree validation
        raise RuntimeError(f"no computation for leaves {sorted(missing_leaves)}")
    return {leaf: vals[leaf] for leaf in tree.leaf_names}, rows.inp, notes


def _offices_text(juris: pd.Series, fam: pd.Series) -> pd.Series:
    """Own office and family offices joined with ``;`` (None where the family offices are unknown)."""
    j = juris.to_numpy(dtype=object)
    f = fam.to_numpy(dtype=object)
    known = ~pd.isna(f)
    text = np.where(pd.isna(j), "", j).astype(object) + ";" + np.where(known, f, "").astype(object)
    return pd.Series(np.where(known, text, None), dtype=object)


def _per_unique_text(values: pd.Series, fn: Callable[[object], str | None]) -> np.ndarray:
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    res = np.array([fn(u) for u in uniques] + [None], dtype=object)
    return res[np.where(codes >= 0, codes, len(uniques))]


def quality_indicators(
    frame: pd.DataFrame,
    *,
    as_of: dt.date,
    scenario: str = "pledge",
    tree: QualityTree | None = None,
    remaining_life_years: object = None,
    errors: str = "raise",
    cohort_reference: pd.DataFrame | None = None,
    cohort_quantiles: dict[str, pd.DataFrame] | None = None,
) -> pd.DataFrame:
    """The leaf indicators on their 0-1 scales, one column per leaf, indexed like ``frame``.

    Parameters
    ----------
    frame : DataFrame
        Portfolio frame.
    as_of : datetime.date
        Valuation date (ages, remaining life, fee status are measured at this date).
    scenario : str
        Only used to load the packaged tree when ``tree`` is not given (the leaves do not depend on it).
    tree : QualityTree, optional
        Indicator tree; the packaged one when omitted.
    remaining_life_years : array-like, optional
        Remaining life per patent in years (else a ``remaining_life_years`` column, else :mod:`ipvalue.terms`,
        else a coarse statutory fallback).
    errors : {"raise", "missing"}
        What to do with bad input values, see :func:`ipvalue.quality.score_quality`.
    cohort_reference : DataFrame, optional
        Forward-citation caps of a larger population, see :func:`ipvalue.quality.score_quality`.
    cohort_quantiles : dict, optional
        In-book cohort caps computed over a whole partitioned book, see :func:`ipvalue.quality.score_quality`.

    Returns
    -------
    DataFrame
        NaN marks an indicator that could not be observed. ``attrs["ipvalue_quality"]`` says where remaining life
        came from and at which cohort level forward citations were normalised (``forward_citation_level``:
        1 = CPC subclass x filing year, 2 = filing year, 3 = fixed citations-per-year cap, 4 = the
        ``cohort_reference`` table, 0 = missing).
    """
    tree = tree or load_tree(scenario=scenario)
    vals, _, notes = compute_indicators(
        frame,
        tree,
        as_of=as_of,
        remaining_life_years=remaining_life_years,
        errors=errors,
        cohort_reference=cohort_reference,
        cohort_quantiles=cohort_quantiles,
    )
    out = pd.DataFrame(vals, index=frame.index)
    if "forward_citation_levels" in notes:
        out["forward_citation_level"] = notes["forward_citation_levels"]
    out.attrs["ipvalue_quality"] = {"remaining_life_source": notes.get("remaining_life_source")}
    return out
