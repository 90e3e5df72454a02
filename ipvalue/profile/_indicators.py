"""Per-patent facts and per-firm raw indicators of the technology profile, vectorised over firms.

:func:`patent_facts` reads the portfolio frame once (through :mod:`ipvalue.facts.columns`) into one row of 0/1
flags and numbers per patent; :func:`firm_indicators` reduces them to one row per firm with ``np.bincount`` and
grouped medians. Both are pure and see whole firms only, so a book split into chunks of whole firms gives the same
rows, in any row order (sums are taken over integer flags or over values sorted within each firm).

The indicators and their denominators (``G`` = patents in force, i.e. ``legal_status == "granted"``):

=============================  ================================================================================
``patents_total``              every patent listed, any status
``patents_in_force``           ``G``
``filings_last_3y`` / ``_5y``  filing date in ``(as_of - 3 or 5 years, as_of]``
``filings_prior_5y``           filing date in ``(as_of - 10 years, as_of - 5 years]``
``filing_momentum_5y``         ``(last_5y + 0.5) / (prior_5y + 0.5)``
``filing_momentum_3y``         ``((last_3y + 0.5) / 3) / ((prior_5y + 0.5) / 5)`` (yearly rates)
``quality_median``             median ``quality_score`` of the patents in force
``quality_top_decile_share``   share of the patents in force at or above the cohort's top-decile quality (peers)
``invention_share``            inventions in force / ``G``
``remaining_life_median``      median remaining life (years) of the patents in force
``family_abroad_share``        patents in force with a family member outside their own jurisdiction / ``G``
``claims_median``              median claims of the patents in force
``class_entropy``              ``-sum p ln p`` over the CPC subclasses (first code) of the patents in force
``core_class_share``           the largest of those ``p``
``product_overlap``            patents in force tied to a product line (``group``) / ``G``
``licensed_share``             licensed patents in force / ``G``
``transfers_in`` / ``_out``    patents with a recorded change of owner to the firm / flagged ``transferred_out``
``transfer_share``             ``(transfers_in + transfers_out) / patents_total``
``product_lines_with_revenue`` distinct ``group`` values with ``revenue > 0``
``value_per_patent``           mean ``value`` of the patents in force
``lapse_rate``                 lapsed / (``G`` + lapsed)
``fees_overdue_share``         patents in force with ``fees_paid_through`` before ``as_of`` / ``G``
``invalidation_rate``          (revoked + in force with an invalidation pending) / (``G`` + revoked)
``litigation_share``           patents in force in litigation / ``G``
``pledged_share``              patents in force already pledged / ``G``
=============================  ================================================================================

The legal-health denominators never count lapsed patents (except ``lapse_rate``), so adding a lapsed patent
raises the lapse rate and leaves the other legal indicators as they were. An indicator whose input column is
absent is missing (NaN), never read as zero.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from ipvalue.errors import InputError
from ipvalue.facts import columns as C
from ipvalue.facts.industry import industry_for_ipc
from ipvalue.facts.patent import LEGAL_STATUSES
from ipvalue.profile._weights import INDICATORS

__all__ = ["ProfileInputError", "patent_facts", "firm_indicators", "FACT_COLUMNS", "EXTRA_FIRM_COLUMNS"]

_TYPES = ("invention", "utility_model", "design")

#: the per-patent columns of :func:`patent_facts`
FACT_COLUMNS: tuple[str, ...] = (
    "firm",
    "in_force",
    "lapsed",
    "revoked",
    "invention",
    "filed_last_3y",
    "filed_last_5y",
    "filed_prior_5y",
    "quality_score",
    "remaining_life_years",
    "family_abroad",
    "claims",
    "cpc_subclass",
    "cpc_class",
    "industry",
    "in_product_line",
    "licensed",
    "transferred_in",
    "transferred_out",
    "value",
    "fees_overdue",
    "invalidation_pending",
    "in_litigation",
    "pledged",
)

#: firm columns besides the indicators: size (patents in force), core industry, core CPC class and its section
EXTRA_FIRM_COLUMNS: tuple[str, ...] = ("size", "core_industry", "core_class", "core_section")


class ProfileInputError(InputError):
    """Bad input to the technology profile; ``problems`` name each patent and field."""


def _years_before(day: dt.date, years: int) -> np.datetime64:
    try:
        back = day.replace(year=day.year - years)
    except ValueError:  # 29 February
        back = day.replace(year=day.year - years, day=28)
    return np.datetime64(back, "D")


def _first_codes(cpc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The subclass (4 characters, e.g. ``B25J``) and class (3, ``B25``) of each row's first CPC / IPC code."""
    codes, uniques = pd.factorize(pd.Series(cpc, dtype=object))
    first = [str(u).split(";")[0].replace(" ", "").upper() for u in uniques]
    sub = np.array([f[:4] if len(f) >= 4 else "" for f in first] + [""], dtype=object)
    cls = np.array([f[:3] if len(f) >= 4 else "" for f in first] + [""], dtype=object)
    at = np.where(codes < 0, len(first), codes)
    return sub[at], cls[at]


def _abroad(family: np.ndarray, own: np.ndarray) -> np.ndarray:
    """Whether the family lists a jurisdiction other than the patent's own (each distinct pair computed once)."""
    pairs = pd.Series(family, dtype=object) + "|" + pd.Series(own, dtype=object)
    codes, uniques = pd.factorize(pairs)
    lut = []
    for u in uniques:
        fam, _, mine = str(u).rpartition("|")
        members = {j.strip().upper() for j in fam.replace(",", ";").split(";") if j.strip()}
        lut.append(1.0 if members - {mine.strip().upper()} else 0.0)
    return np.asarray(lut, dtype=float)[codes] if len(lut) else np.zeros(len(family))


def patent_facts(
    frame: pd.DataFrame,
    *,
    as_of: dt.date,
    firm_column: str | None = None,
    firm: str = "borrower",
    remaining_life_years: np.ndarray | None = None,
) -> tuple[pd.DataFrame, frozenset[str]]:
    """One row per patent: the flags and numbers the indicators are counted from.

    Parameters
    ----------
    frame : DataFrame
        A portfolio frame (canonical columns, see :mod:`ipvalue.facts.patent`), optionally with valuation columns
        (``quality_score``, ``value``, ``remaining_life_years``) and the use columns ``transfers`` (number of
        recorded changes of owner, as the EPO OPS connector gives), ``transferred_in``, ``transferred_out``.
    as_of : datetime.date
        The date the profile is taken on.
    firm_column : str, optional
        Column naming each patent's firm (a book of many firms); without it every row belongs to ``firm``.
    firm : str
        The firm's name when there is no ``firm_column``.
    remaining_life_years : array, optional
        Remaining life per row (else the ``remaining_life_years`` column; NaN when neither is given).

    Returns
    -------
    facts : DataFrame
        :data:`FACT_COLUMNS`, on the frame's index.
    available : frozenset of str
        The optional inputs the frame has (``quality_score``, ``family_jurisdictions``, ``claims``, ``group``,
        ``revenue``, ``licensed``, ``transfers``, ``value``, ``fees_paid_through``, ``in_litigation``, ``pledged``,
        ``remaining_life_years``); an indicator built on an absent input is missing.

    Raises
    ------
    ProfileInputError
        Naming every patent with a blank firm, an unknown legal status or patent type, or an unreadable value.
    """
    ids = C.patent_ids(frame)
    C.check_unique_ids(ids, error=ProfileInputError)
    firms = _firms(frame, ids, firm_column, firm)
    status, ptype = _status_and_type(frame, ids)
    in_force = (status == "granted").astype(float)
    group = C.texts(frame, "group")
    # the columns are read in this order (the first unreadable one raises)
    columns = {
        "firm": firms,
        "in_force": in_force,
        "lapsed": (status == "lapsed").astype(float),
        "revoked": (status == "revoked").astype(float),
        "invention": (ptype == "invention").astype(float),
        **_dated_facts(frame, ids, as_of, in_force),
        **_class_facts(C.texts(frame, "cpc")),
        "in_product_line": (group != "").astype(float),
        "family_abroad": _abroad(C.texts(frame, "family_jurisdictions"), C.texts(frame, "jurisdiction")),
        "transferred_in": _transferred_in(frame, ids),
        "remaining_life_years": np.asarray(
            C.numbers(frame, "remaining_life_years", ids=ids, error=ProfileInputError)
            if remaining_life_years is None
            else remaining_life_years,
            dtype=float,
        ),
        **{col: _plain_fact(frame, col, kind, ids) for col, kind in _PLAIN_FACTS},
    }
    facts = pd.DataFrame({c: columns[c] for c in FACT_COLUMNS}, index=frame.index)
    revenue = C.numbers(frame, "revenue", ids=ids, error=ProfileInputError)
    facts["_line_with_revenue"] = np.where((group != "") & (np.nan_to_num(revenue) > 0), group, "")
    return facts, _available(set(frame.columns))


def _firms(frame: pd.DataFrame, ids: np.ndarray, firm_column: str | None, firm: str) -> np.ndarray:
    """Each patent's firm: the ``firm_column`` (none blank), else ``firm`` for every row.

    Parameters
    ----------
    frame : DataFrame
        The portfolio frame.
    ids : numpy.ndarray
        Its patent numbers.
    firm_column : str or None
        Column naming each patent's firm.
    firm : str
        The firm's name when there is no ``firm_column``.

    Returns
    -------
    numpy.ndarray
        The firm names (object).

    Raises
    ------
    ProfileInputError
        When the frame has no ``firm_column``, or naming every patent whose firm is blank.
    """
    if firm_column is None:
        return np.full(len(frame), str(firm), dtype=object)
    if firm_column not in frame.columns:
        raise ProfileInputError([(None, firm_column, f"the peers frame has no firm column {firm_column!r}")])
    firms = C.texts(frame, firm_column)
    blank = np.flatnonzero(firms == "")
    if len(blank):
        raise ProfileInputError(
            [(ids[j], firm_column, f"patent {ids[j]}: field {firm_column} is blank") for j in blank]
        )
    return firms


def _status_and_type(frame: pd.DataFrame, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The legal status and patent type of each patent (lower case, ``""`` where blank), both checked.

    Parameters
    ----------
    frame : DataFrame
        The portfolio frame.
    ids : numpy.ndarray
        Its patent numbers.

    Returns
    -------
    status, ptype : numpy.ndarray
        Object arrays.

    Raises
    ------
    ProfileInputError
        Naming every unknown status, then every unknown type.
    """
    status = C.texts(frame, "legal_status", lower=True)
    ptype = C.texts(frame, "patent_type", lower=True)
    problems = [
        (
            ids[j],
            "legal_status",
            f"patent {ids[j]}: field legal_status {status[j]!r} is not one of {LEGAL_STATUSES}",
        )
        for j in np.flatnonzero((status != "") & ~np.isin(status, LEGAL_STATUSES))
    ] + [
        (ids[j], "patent_type", f"patent {ids[j]}: field patent_type {ptype[j]!r} is not one of {_TYPES}")
        for j in np.flatnonzero((ptype != "") & ~np.isin(ptype, _TYPES))
    ]
    if problems:
        raise ProfileInputError(problems)
    return status, ptype


def _dated_facts(
    frame: pd.DataFrame, ids: np.ndarray, as_of: dt.date, in_force: np.ndarray
) -> dict[str, np.ndarray]:
    """The filing windows and overdue fees (0/1), from ``filing_date`` and ``fees_paid_through``.

    Parameters
    ----------
    frame : DataFrame
        The portfolio frame.
    ids : numpy.ndarray
        Its patent numbers.
    as_of : datetime.date
        The profile's date.
    in_force : numpy.ndarray
        1.0 for the patents in force.

    Returns
    -------
    dict
        ``filed_last_3y``, ``filed_last_5y`` (filing date in ``(as_of - 3 or 5 years, as_of]``),
        ``filed_prior_5y`` (in ``(as_of - 10 years, as_of - 5 years]``) and ``fees_overdue`` (in force, fees
        paid through a date before ``as_of``).

    Raises
    ------
    ProfileInputError
        Naming the patents whose filing date, then whose fees-paid-through date, is not a date.
    """
    filed = C.dates(frame, "filing_date", ids=ids, error=ProfileInputError)
    day = np.datetime64(as_of, "D")
    b3, b5, b10 = (_years_before(as_of, y) for y in (3, 5, 10))
    paid = C.dates(frame, "fees_paid_through", ids=ids, error=ProfileInputError)
    return {
        "filed_last_3y": ((filed > b3) & (filed <= day)).astype(float),
        "filed_last_5y": ((filed > b5) & (filed <= day)).astype(float),
        "filed_prior_5y": ((filed > b10) & (filed <= b5)).astype(float),
        "fees_overdue": (paid < day).astype(float) * in_force,
    }


def _class_facts(cpc_text: np.ndarray) -> dict[str, np.ndarray]:
    """The CPC subclass and class of the first code, and the industry the IPC concordance gives.

    Parameters
    ----------
    cpc_text : numpy.ndarray
        The ``cpc`` column as text (``""`` where blank).

    Returns
    -------
    dict
        ``cpc_subclass``, ``cpc_class`` and ``industry`` (``""`` where unknown).
    """
    sub, cls = _first_codes(cpc_text)
    industry = industry_for_ipc(pd.Series(cpc_text, dtype=object))["industry_code"].to_numpy(dtype=object)
    return {
        "cpc_subclass": sub,
        "cpc_class": cls,
        "industry": np.where(pd.isna(industry), "", industry).astype(object),
    }


def _transferred_in(frame: pd.DataFrame, ids: np.ndarray) -> np.ndarray:
    """1.0 for a patent with a recorded change of owner (``transfers`` > 0) or flagged ``transferred_in``.

    Parameters
    ----------
    frame : DataFrame
        The portfolio frame.
    ids : numpy.ndarray
        Its patent numbers.

    Returns
    -------
    numpy.ndarray
        0/1 per patent.

    Raises
    ------
    ProfileInputError
        Naming the patents whose ``transfers``, then whose ``transferred_in``, cannot be read.
    """
    transfers = C.numbers(frame, "transfers", ids=ids, default=0.0, error=ProfileInputError)
    flagged = C.flags(frame, "transferred_in", ids=ids, error=ProfileInputError) == 1.0
    return ((np.nan_to_num(transfers) > 0) | flagged).astype(float)


#: the facts read straight from their own column, in reading order: a number, or a yes/no flag as 1.0 / 0.0
_PLAIN_FACTS = (
    ("quality_score", "number"),
    ("claims", "number"),
    ("licensed", "flag"),
    ("transferred_out", "flag"),
    ("value", "number"),
    ("invalidation_pending", "flag"),
    ("in_litigation", "flag"),
    ("pledged", "flag"),
)


def _plain_fact(frame: pd.DataFrame, col: str, kind: str, ids: np.ndarray) -> np.ndarray:
    """A column of :data:`_PLAIN_FACTS` as floats.

    Parameters
    ----------
    frame : DataFrame
        The portfolio frame.
    col : str
        The column.
    kind : {"number", "flag"}
        A number (NaN where blank or absent) or a yes/no flag (1.0 / 0.0, no where blank or absent).
    ids : numpy.ndarray
        The frame's patent numbers, for the error.

    Returns
    -------
    numpy.ndarray
        Floats.

    Raises
    ------
    ProfileInputError
        Naming the patents whose value cannot be read.
    """
    if kind == "number":
        return C.numbers(frame, col, ids=ids, error=ProfileInputError)
    return (C.flags(frame, col, ids=ids, error=ProfileInputError) == 1.0).astype(float)


def _available(cols: set[str]) -> frozenset[str]:
    """The optional inputs a frame with these columns has.

    Parameters
    ----------
    cols : set of str
        The frame's columns.

    Returns
    -------
    frozenset of str
        The inputs present, ``transfers`` for any of the three transfer columns, and always
        ``remaining_life_years`` (given, a column, or NaN: as before the split, the test
        ``"remaining_life_years" in cols or remaining_life_years is not None`` was made after the array was
        filled, so it always held).
    """
    available: set[str] = {
        c
        for c in (
            "quality_score",
            "family_jurisdictions",
            "claims",
            "group",
            "revenue",
            "licensed",
            "value",
            "fees_paid_through",
            "in_litigation",
            "pledged",
            "cpc",
            "filing_date",
        )
        if c in cols
    }
    if "transfers" in cols or "transferred_in" in cols or "transferred_out" in cols:
        available.add("transfers")
    available.add("remaining_life_years")
    return frozenset(available)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def _median(values: np.ndarray, codes: np.ndarray, mask: np.ndarray, n_firms: int) -> np.ndarray:
    m = mask & ~np.isnan(values)
    med = pd.Series(values[m]).groupby(codes[m]).median()
    out = np.full(n_firms, np.nan)
    out[med.index.to_numpy(dtype=np.int64)] = med.to_numpy(dtype=float)
    return out


def _class_spread(
    sub: np.ndarray, codes: np.ndarray, mask: np.ndarray, n_firms: int
) -> tuple[np.ndarray, np.ndarray]:
    """Entropy (nats) and the largest share of the CPC subclasses of each firm's rows in ``mask``."""
    m = mask & (sub != "")
    counts = pd.DataFrame({"f": codes[m], "s": sub[m]}).groupby(["f", "s"], sort=True).size()
    f = counts.index.get_level_values(0).to_numpy(dtype=np.int64)
    k = counts.to_numpy(dtype=float)
    total = np.bincount(f, weights=k, minlength=n_firms)
    p = k / total[f]
    entropy = np.bincount(f, weights=-p * np.log(p), minlength=n_firms)
    top = np.zeros(n_firms)
    np.maximum.at(top, f, p)
    has = total > 0
    return np.where(has, np.abs(entropy), np.nan), np.where(has, top, np.nan)


def _core_class(cls: np.ndarray, codes: np.ndarray, mask: np.ndarray, n_firms: int) -> np.ndarray:
    """The most frequent non-blank label (CPC class, industry) of each firm's rows in ``mask``.

    Ties go to the first alphabetically; a firm without any label gets ``""``.
    """
    m = mask & (cls != "")
    counts = pd.DataFrame({"f": codes[m], "c": cls[m]}).groupby(["f", "c"], sort=True).size().reset_index()
    counts.columns = ["f", "c", "k"]
    best = counts.sort_values(["f", "k", "c"], ascending=[True, False, True], kind="stable").drop_duplicates(
        "f"
    )
    out = np.full(n_firms, "", dtype=object)
    out[best["f"].to_numpy(dtype=np.int64)] = best["c"].to_numpy(dtype=object)
    return out


def firm_indicators(
    facts: pd.DataFrame, available: frozenset[str], *, size_edges: tuple[int, ...]
) -> pd.DataFrame:
    """One row per firm (indexed by firm name, sorted): every raw indicator, its size bucket and core class.

    ``quality_top_decile_share`` needs the peer cohort and is filled in by the scoring step (NaN here).

    Parameters
    ----------
    facts, available : DataFrame, frozenset
        From :func:`patent_facts`.
    size_edges : tuple of int
        Lower edges of the size buckets (patents in force); ``size`` is 0 for none, 1 from the first edge, ...
    """
    codes, names = pd.factorize(facts["firm"].to_numpy(dtype=object), sort=True)
    k = len(names)
    col = {c: facts[c].to_numpy() for c in facts.columns}

    def count(name: str, mask: np.ndarray | None = None) -> np.ndarray:
        w = col[name] if mask is None else col[name] * mask
        return np.bincount(codes, weights=w, minlength=k)

    force = col["in_force"]
    g = count("in_force")
    n = np.bincount(codes, minlength=k).astype(float)
    lapsed, revoked = count("lapsed"), count("revoked")
    l3, l5, p5 = count("filed_last_3y"), count("filed_last_5y"), count("filed_prior_5y")
    has = available.__contains__
    nan = np.full(k, np.nan)
    in_force_mask = force == 1.0
    # value: summed within each firm in value order, so the mean does not depend on the rows' order
    value = col["value"].astype(float)
    ok = in_force_mask & ~np.isnan(value)
    order = np.lexsort((value[ok], codes[ok]))
    v_sum = np.bincount(codes[ok][order], weights=value[ok][order], minlength=k)
    v_n = np.bincount(codes[ok], minlength=k).astype(float)
    entropy, core_share = _class_spread(col["cpc_subclass"], codes, in_force_mask, k)
    lines = pd.DataFrame({"f": codes, "g": col["_line_with_revenue"]})
    lines = lines[lines["g"] != ""].drop_duplicates()
    n_lines = np.bincount(lines["f"].to_numpy(dtype=np.int64), minlength=k).astype(float)
    t_in, t_out = count("transferred_in"), count("transferred_out")
    raw = {
        "patents_total": n,
        "patents_in_force": g,
        "filings_last_3y": l3 if has("filing_date") else nan,
        "filings_last_5y": l5 if has("filing_date") else nan,
        "filings_prior_5y": p5 if has("filing_date") else nan,
        "filing_momentum_3y": ((l3 + 0.5) / 3.0) / ((p5 + 0.5) / 5.0) if has("filing_date") else nan,
        "filing_momentum_5y": (l5 + 0.5) / (p5 + 0.5) if has("filing_date") else nan,
        "quality_median": _median(col["quality_score"].astype(float), codes, in_force_mask, k),
        "quality_top_decile_share": nan,
        "invention_share": _ratio(count("invention", force), g),
        "remaining_life_median": _median(col["remaining_life_years"].astype(float), codes, in_force_mask, k),
        "family_abroad_share": _ratio(count("family_abroad", force), g)
        if has("family_jurisdictions")
        else nan,
        "claims_median": _median(col["claims"].astype(float), codes, in_force_mask, k),
        "class_entropy": entropy,
        "core_class_share": core_share,
        "product_overlap": _ratio(count("in_product_line", force), g) if has("group") else nan,
        "licensed_share": _ratio(count("licensed", force), g) if has("licensed") else nan,
        "transfers_in": t_in if has("transfers") else nan,
        "transfers_out": t_out if has("transfers") else nan,
        "transfer_share": _ratio(t_in + t_out, n) if has("transfers") else nan,
        "product_lines_with_revenue": n_lines if has("group") and has("revenue") else nan,
        "value_per_patent": _ratio(v_sum, v_n) if has("value") else nan,
        "lapse_rate": _ratio(lapsed, g + lapsed),
        "fees_overdue_share": _ratio(count("fees_overdue"), g) if has("fees_paid_through") else nan,
        "invalidation_rate": _ratio(revoked + count("invalidation_pending", force), g + revoked),
        "litigation_share": _ratio(count("in_litigation", force), g) if has("in_litigation") else nan,
        "pledged_share": _ratio(count("pledged", force), g) if has("pledged") else nan,
    }
    order_names = [name for names_ in INDICATORS.values() for name in names_]
    out = pd.DataFrame({name: np.asarray(raw[name], dtype=float) for name in order_names}, index=names)
    out.index.name = "firm"
    out["size"] = np.searchsorted(np.asarray(size_edges), g, side="right").astype(np.int64)
    out["core_industry"] = _core_class(col["industry"], codes, in_force_mask, k)
    core = _core_class(col["cpc_class"], codes, in_force_mask, k)
    out["core_class"] = core
    out["core_section"] = np.array([c[:1] for c in core], dtype=object)
    return out
