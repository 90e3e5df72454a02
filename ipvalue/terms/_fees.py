"""Renewal-fee schedules (CNIPA annual fees, USPTO maintenance fees, EPO renewal fees), vectorised.

One engine lays out every fee event of every patent over its whole life as a long table (one numpy block per
office, no per-patent loop); the public functions filter that table by date window and status.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ipvalue.terms._data import CNIPA_FILE, EPO_FILE, USPTO_FILE, load_table
from ipvalue.terms._dates import NAT, add_months, month_end, to_day
from ipvalue.terms._expiry import TermRules
from ipvalue.terms._inputs import (
    DEAD_STATUSES,
    TermError,
    TermInputs,
    as_frame,
    as_of_day,
    office_lookup,
    term_inputs,
)
from ipvalue.terms._life import life_frame

SCHEDULE_COLUMNS = ("due_date", "fee_year", "amount", "currency", "office", "note", "surcharge")
CURRENCY = {"CN": "CNY", "US": "USD", "EP": "EUR"}
#: 35 USC 41(b): no fee may be established for maintaining a design or plant patent in force; 37 CFR 1.362(b)
US_PLANT_NOTE = "US plant patent: no maintenance fees (35 USC 41(b); 37 CFR 1.362(b))"
#: 37 CFR 1.362(h): a reissue's maintenance-fee periods are counted from the grant of the original patent, whose
#: date is not an input; 35 USC 251(a): the reissue runs for the unexpired part of the original term
US_REISSUE_NOTE = (
    "US reissue: maintenance fees fall due on the original patent's schedule (37 CFR 1.362(h)), "
    "not modelled without its grant date"
)
FEE_OFFICES = tuple(CURRENCY)
ENTITY_SIZES = ("large", "small", "micro")
_US_FEE_FLOOR = np.datetime64("1980-12-12", "D")  # 35 USC 41(b): applications filed on or after


@dataclass(frozen=True)
class _Tables:
    cn_amounts: dict[str, np.ndarray]  # type -> amount by fee year (index 0 unused, NaN beyond the table)
    cn_source: str
    us_effective: np.ndarray  # datetime64[D], sorted
    us_amounts: np.ndarray  # (schedule, entity, stage)
    us_surcharge: np.ndarray  # (schedule, entity): 37 CFR 1.20(h) surcharge for payment in the grace period
    us_stages: np.ndarray  # months after grant
    us_source: list[str]
    ep_effective: np.ndarray
    ep_amounts: np.ndarray  # (schedule, fee year 0..20)
    ep_source: list[str]


@functools.cache
def _tables() -> _Tables:
    cn = load_table(CNIPA_FILE)
    cn_amounts = {}
    for ptype, bands in cn["tables"].items():
        arr = np.full(21, np.nan)
        for b in bands:
            arr[b["from_year"] : b["to_year"] + 1] = float(b["amount"])
        cn_amounts[ptype] = arr
    us = load_table(USPTO_FILE)
    us_sched = sorted(us["schedules"], key=lambda s: s["effective_from"])
    us_eff = np.array([to_day(s["effective_from"]) for s in us_sched])
    us_amounts = np.array([[s[e] for e in ENTITY_SIZES] for s in us_sched], dtype=float)
    us_surcharge = np.array([[s["surcharge"][e] for e in ENTITY_SIZES] for s in us_sched], dtype=float)
    us_stages = np.array([round(y * 12) for y in us["stages"]], dtype=np.int64)
    ep = load_table(EPO_FILE)
    ep_sched = sorted(ep["schedules"], key=lambda s: s["effective_from"])
    ep_eff = np.array([to_day(s["effective_from"]) for s in ep_sched])
    ep_amounts = np.full((len(ep_sched), 21), np.nan)
    for i, s in enumerate(ep_sched):
        for key, amount in s["amounts"].items():
            if key.endswith("+"):
                ep_amounts[i, int(key[:-1]) :] = float(amount)
            else:
                ep_amounts[i, int(key)] = float(amount)
    return _Tables(
        cn_amounts=cn_amounts,
        cn_source=cn["source"],
        us_effective=us_eff,
        us_amounts=us_amounts,
        us_surcharge=us_surcharge,
        us_stages=us_stages,
        us_source=[s["source"] for s in us_sched],
        ep_effective=ep_eff,
        ep_amounts=ep_amounts,
        ep_source=[s["source"] for s in ep_sched],
    )


def _schedule_index(effective: np.ndarray, due: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of the schedule in force on each due date, and whether the date precedes every schedule."""
    idx = np.searchsorted(effective, due, side="right") - 1
    early = idx < 0
    return np.where(early, 0, idx), early


def _fee_years_containing(filing: np.ndarray, day: np.ndarray, max_year: int) -> np.ndarray:
    """Fee year (1-based, counted from filing) containing ``day``; NaN where either date is NaT."""
    k = np.arange(1, max_year + 2)
    starts = add_months(filing[:, None], 12 * (k[None, :] - 1))
    count = (starts <= day[:, None]).sum(axis=1).astype(float)
    return np.where(np.isnat(filing) | np.isnat(day), np.nan, count)


def _events(inp: TermInputs, expiry: np.ndarray) -> pd.DataFrame:
    """Lay out every fee event of every patent over its life.

    Parameters
    ----------
    inp : TermInputs
        The parsed inputs, one entry per patent.
    expiry : numpy.ndarray
        Expiry date of each patent (``datetime64[D]``); events due on or after it are left out.

    Returns
    -------
    pandas.DataFrame
        Columns: pos, due_date, fee_year, amount, office, note, payable (False: before grant at CNIPA, after
        grant at the EPO), currency; CNIPA rows first (by patent type), then USPTO, then EPO.

    Raises
    ------
    TermError
        A US patent whose entity size is not one of :data:`ENTITY_SIZES`.
    """
    return _event_frame(_event_blocks(inp, expiry))


#: the columns of the event table (:func:`_events`); a block (:func:`_event_block`) has also ``projected`` and
#: ``early``, the flags its notes say in words
_EVENT_COLUMNS = ("pos", "due_date", "fee_year", "amount", "office", "note", "payable")


def _event_blocks(inp: TermInputs, expiry: np.ndarray) -> list[dict[str, Any]]:
    """Every office's fee events as blocks of :func:`_event_block` (CNIPA by patent type, USPTO, EPO)."""
    t = _tables()
    return [*_cn_blocks(inp, expiry, t), *_us_blocks(inp, expiry, t), *_ep_blocks(inp, expiry, t)]


def _event_frame(blocks: list[dict[str, Any]]) -> pd.DataFrame:
    """The event table of :func:`_events` from its blocks, with the ``currency`` of each office."""
    frames = [pd.DataFrame({k: b[k] for k in _EVENT_COLUMNS}) for b in blocks]
    out = pd.concat(frames, ignore_index=True) if frames else _no_events()
    out["currency"] = out["office"].map(CURRENCY)
    return out


def _event_arrays(blocks: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    """The blocks' ``pos``, ``due_date``, ``amount``, ``payable``, ``projected`` and ``early`` as whole arrays.

    In the event table's row order; what :func:`fees_paid_to_date` reads, without building the table.
    """
    out: dict[str, np.ndarray] = {}
    for key, dtype in (
        ("pos", np.int64),
        ("due_date", "datetime64[D]"),
        ("amount", float),
        ("payable", bool),
        ("projected", bool),
        ("early", bool),
    ):
        parts = [np.broadcast_to(np.asarray(b[key], dtype=dtype), (len(b["pos"]),)) for b in blocks]
        out[key] = np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)
    return out


def _event_block(
    office: str,
    rows: np.ndarray,
    valid: np.ndarray,
    due: np.ndarray,
    fee_year: np.ndarray,
    amount: np.ndarray,
    note: np.ndarray | tuple[np.ndarray, np.ndarray],
    payable: np.ndarray | bool,
    *,
    projected: np.ndarray | bool = False,
    early: np.ndarray | bool = False,
) -> dict[str, Any]:
    """One office's fee events, one per valid (patent, fee) cell, as columns.

    Parameters
    ----------
    office : str
        Office code written in every row (``CN``, ``US``, ``EP``).
    rows : numpy.ndarray
        Position of each patent of the block in the inputs.
    valid : numpy.ndarray
        (patent, fee) cells that become rows.
    due, amount : numpy.ndarray
        Due date and amount of each (patent, fee) cell.
    note : numpy.ndarray or (numpy.ndarray, numpy.ndarray)
        The note of each cell, or ``(texts, number of each cell's text)``.
    fee_year : numpy.ndarray
        Fee year of each fee column.
    payable : numpy.ndarray or bool
        Whether each cell is payable, or one flag for all.
    projected, early : numpy.ndarray or bool
        Whether each cell's fee is only projected (its note starts "projected"), and whether it fell due before
        the earliest schedule in the table (its note says so); or one flag for all.

    Returns
    -------
    dict
        Columns pos, due_date, fee_year, amount, office (one text), note, payable (an array or one flag),
        projected, early (an array or one flag).
    """
    r, c = np.nonzero(valid)
    notes = note[0][note[1][r, c]] if isinstance(note, tuple) else note[r, c]

    def cells(x: np.ndarray | bool) -> np.ndarray | bool:
        return x[r, c] if isinstance(x, np.ndarray) else x

    return {
        "pos": rows[r],
        "due_date": due[r, c],
        "fee_year": fee_year[c],
        "amount": amount[r, c],
        "office": office,
        "note": notes,
        "payable": cells(payable),
        "projected": cells(projected),
        "early": cells(early),
    }


#: the notes of CNIPA fee events, by the number :func:`_cn_blocks` gives each cell
_CN_NOTES = np.array(
    [
        "projected: payable only once granted",
        "annual fee; grant date unknown, assumed payable",
        "grant-year fee, paid at grant registration",
        "annual fee",
    ],
    dtype=object,
)


def _cn_blocks(inp: TermInputs, expiry: np.ndarray, t: _Tables) -> list[dict[str, Any]]:
    """CNIPA annual fees: fee years from filing, due on the anniversary; grant-year fee at registration.

    Parameters
    ----------
    inp : TermInputs
        The parsed inputs.
    expiry : numpy.ndarray
        Expiry date of each patent.
    t : _Tables
        The fee tables.

    Returns
    -------
    list of dict
        One block (:func:`_event_block`) per patent type with CN patents of known filing date, in the table's
        type order.
    """
    blocks = []
    for ptype, amounts in t.cn_amounts.items():
        rows = np.flatnonzero((inp.jurisdiction == "CN") & (inp.patent_type == ptype) & ~np.isnat(inp.filing))
        if rows.size == 0:
            continue
        k = np.arange(1, 21)
        starts = add_months(inp.filing[rows][:, None], 12 * (k[None, :] - 1))
        amt = np.broadcast_to(amounts[k], starts.shape)
        valid = (starts < expiry[rows][:, None]) & ~np.isnan(amt)
        grant = inp.grant[rows]
        k_grant = _fee_years_containing(inp.filing[rows], grant, 20)[:, None]
        pending = np.isnat(grant)[:, None]
        is_grant_year = k[None, :] == k_grant
        due = np.where(is_grant_year, np.broadcast_to(grant[:, None], starts.shape), starts)
        payable = pending | (k[None, :] >= k_grant)
        is_pending = (inp.status[rows] == "pending")[:, None]
        # the note as a number per cell (the texts of _CN_NOTES), looked up only for the cells kept
        code = np.where(pending & is_pending, 0, np.where(pending, 1, np.where(is_grant_year, 2, 3))).astype(
            np.int8
        )
        blocks.append(
            _event_block(
                "CN", rows, valid, due, k.astype(float), amt, (_CN_NOTES, code), payable, projected=code == 0
            )
        )
    return blocks


def _us_blocks(inp: TermInputs, expiry: np.ndarray, t: _Tables) -> list[dict[str, Any]]:
    """USPTO maintenance fees: 3.5 / 7.5 / 11.5 years after grant, by entity size.

    Parameters
    ----------
    inp : TermInputs
        The parsed inputs.
    expiry : numpy.ndarray
        Expiry date of each patent.
    t : _Tables
        The fee tables.

    Returns
    -------
    list of dict
        One block (:func:`_event_block`), or none when no granted US utility patent (filed on or after 12 December 1980) is given.
        Plant patents pay none; reissues: see :data:`US_REISSUE_NOTE`.

    Raises
    ------
    TermError
        An entity size that is not one of :data:`ENTITY_SIZES` (blank means unknown, large assumed).
    """
    rows = np.flatnonzero(
        (inp.jurisdiction == "US")
        & (inp.patent_type == "invention")
        & (inp.us_series == "")
        & ~np.isnat(inp.grant)
        & ~(inp.filing < _US_FEE_FLOOR)
    )
    if not rows.size:
        return []
    due = add_months(inp.grant[rows][:, None], t.us_stages[None, :])
    valid = due < expiry[rows][:, None]
    entity = inp.entity_size[rows]
    bad = ~np.isin(entity, ("", *ENTITY_SIZES))
    if bad.any():
        raise TermError(
            [
                (
                    inp.ids[i],
                    "entity_size",
                    f"patent {inp.ids[i]}: field entity_size {inp.entity_size[i]!r} is not one of large, small, micro",
                )
                for i in rows[bad]
            ]
        )
    e_idx = np.select([entity == "small", entity == "micro"], [1, 2], 0)
    s_idx, early = _schedule_index(t.us_effective, due)
    stage = np.broadcast_to(np.arange(3)[None, :], due.shape)
    amt = t.us_amounts[s_idx, e_idx[:, None], stage]
    unknown = (entity == "")[:, None]
    note = np.where(
        unknown,
        "maintenance fee; entity size unknown, large assumed",
        np.char.add("maintenance fee; ", np.broadcast_to(entity[:, None].astype(str), due.shape)) + " entity",
    ).astype(object)
    note = np.where(early, note + "; due before the earliest schedule in the table, its amounts used", note)
    return [_event_block("US", rows, valid, due, t.us_stages / 12.0, amt, note, True, early=early)]


def _ep_blocks(inp: TermInputs, expiry: np.ndarray, t: _Tables) -> list[dict[str, Any]]:
    """EPO renewal fees: years 3.., due at the end of the anniversary month, to the EPO until grant.

    Parameters
    ----------
    inp : TermInputs
        The parsed inputs.
    expiry : numpy.ndarray
        Expiry date of each patent.
    t : _Tables
        The fee tables.

    Returns
    -------
    list of dict
        One block (:func:`_event_block`), or none when no EP patent of known filing date is given.
    """
    rows = np.flatnonzero(
        (inp.jurisdiction == "EP") & (inp.patent_type == "invention") & ~np.isnat(inp.filing)
    )
    if not rows.size:
        return []
    k = np.arange(3, 21)
    due = month_end(add_months(inp.filing[rows][:, None], 12 * (k[None, :] - 1)))
    valid = due < expiry[rows][:, None]
    k_grant = _fee_years_containing(inp.filing[rows], inp.grant[rows], 20)[:, None]
    pending = np.isnat(inp.grant[rows])[:, None]
    payable = pending | (k[None, :] <= k_grant)
    s_idx, early = _schedule_index(t.ep_effective, due)
    amt = t.ep_amounts[s_idx, np.broadcast_to(k[None, :], due.shape)]
    note = np.where(
        early,
        "renewal fee; due before the earliest schedule in the table, its amounts used",
        "renewal fee",
    )
    return [_event_block("EP", rows, valid, due, k.astype(float), amt, note, payable, early=early)]


def _no_events() -> pd.DataFrame:
    """The empty event table, with the columns' types.

    Returns
    -------
    pandas.DataFrame
        No rows; columns pos, due_date, fee_year, amount, office, note, payable.
    """
    return pd.DataFrame(
        {
            "pos": np.array([], dtype=np.int64),
            "due_date": np.array([], dtype="datetime64[D]"),
            "fee_year": np.array([], dtype=float),
            "amount": np.array([], dtype=float),
            "office": np.array([], dtype=object),
            "note": np.array([], dtype=object),
            "payable": np.array([], dtype=bool),
        }
    )


def _prepare(
    portfolio: object, as_of: object
) -> tuple[pd.DataFrame, bool, np.datetime64, pd.DataFrame, TermInputs, np.ndarray, pd.DataFrame]:
    """The frame, the day, the life table, the term inputs, the expiry dates and the fee event table."""
    frame, single, day, life, inp, expiry, blocks = _laid_out(portfolio, as_of)
    return frame, single, day, life, inp, expiry, _event_frame(blocks)


def _laid_out(
    portfolio: object,
    as_of: object,
    expiry_date: np.ndarray | None = None,
    inputs: TermInputs | None = None,
) -> tuple[pd.DataFrame, bool, np.datetime64, pd.DataFrame, TermInputs, np.ndarray, list[dict[str, Any]]]:
    """The frame, the day, the life table, the term inputs, the expiry dates and the fee event blocks.

    ``expiry_date``: the life table's ``expiry_date`` of every row, computed already by the caller; the life
    table is then not computed (an empty frame is returned in its place). ``inputs``: the frame's term inputs,
    read already by the caller.
    """
    frame, single = as_frame(portfolio)
    day = as_of_day(as_of)
    if expiry_date is None:
        life = life_frame(frame, day, "coerce", TermRules.default())
        expiry = life["expiry_date"].to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
    else:
        life = pd.DataFrame(index=frame.index)
        expiry = np.asarray(expiry_date).astype("datetime64[D]")
        if expiry.shape != (len(frame),):
            raise ValueError(f"expiry_date has {expiry.size} dates for {len(frame)} patents")
    if inputs is not None and len(inputs) != len(frame):
        raise ValueError(f"inputs has {len(inputs)} rows for {len(frame)} patents")
    inp = term_inputs(frame) if inputs is None else inputs
    return frame, single, day, life, inp, expiry, _event_blocks(inp, expiry)


def _modelled(inp: TermInputs) -> tuple[np.ndarray, np.ndarray]:
    """Whether the fees of each patent are modelled here, and a note when not."""
    n = len(inp)
    note = np.full(n, "", dtype=object)
    modelled = np.isin(inp.jurisdiction, FEE_OFFICES)
    note = np.where(~modelled, "renewal fees of this office are not modelled", note)
    ep_granted = (inp.jurisdiction == "EP") & (~np.isnat(inp.grant) | (inp.status != "pending"))
    note = np.where(
        ep_granted, "EP granted: national renewal fees in each validation state not modelled", note
    )
    us_design = (inp.jurisdiction == "US") & (inp.patent_type == "design")
    note = np.where(us_design, "US design: no maintenance fees", note)
    series = inp.us_series
    note = np.where(series == "PP", US_PLANT_NOTE, note)
    reissue = series == "RE"
    note = np.where(reissue, US_REISSUE_NOTE, note)
    us_pending = (inp.jurisdiction == "US") & (inp.patent_type == "invention") & np.isnat(inp.grant)
    note = np.where(us_pending, "US pending: maintenance fees depend on the grant date", note)
    return modelled & ~ep_granted & ~reissue, note


def _due_mask(
    events: pd.DataFrame,
    inp: TermInputs,
    life: pd.DataFrame,
    day: np.datetime64,
    until: np.datetime64 | np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Events falling due in [as_of, until] while the patent lives, and overdue ones still in grace."""
    pos = events["pos"].to_numpy()
    due = events["due_date"].to_numpy(dtype="datetime64[D]")
    alive = life["remaining_life_years"].to_numpy(dtype=float)[pos] > 0
    expiry = life["expiry_date"].to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")[pos]
    fpt = inp.fees_paid_through[pos]
    payable = events["payable"].to_numpy(dtype=bool)
    base = alive & payable & (due < expiry)
    if until is not None:
        base &= due <= until
    not_yet_paid = np.isnat(fpt) | (due >= fpt)
    upcoming = base & (due >= day) & not_yet_paid
    overdue = base & ~np.isnat(fpt) & (due >= fpt) & (due < day)
    return upcoming, overdue


def renewal_schedule(patent: object, as_of: object, *, until: object = None) -> pd.DataFrame:
    """Renewal fees falling due for one patent from ``as_of`` until expiry (or ``until``).

    Parameters
    ----------
    patent : Patent, row Series or one-row DataFrame
    as_of : date or str
        Valuation date; fees due on or after it are listed, plus fees already overdue but still in grace.
    until : date or str, optional
        Last due date to list (inclusive); default the patent's expiry.

    Returns
    -------
    DataFrame
        Columns ``due_date``, ``fee_year``, ``amount``, ``currency``, ``office``, ``note``, ``surcharge``,
        sorted by due date. ``fee_year`` is the fee year counted from filing (CNIPA, EPO) or the years after
        grant (USPTO: 3.5, 7.5, 11.5). ``surcharge`` is the late-payment surcharge on an overdue fee paid on
        ``as_of`` (CNIPA 5% of the fee per whole month late, USPTO the flat grace-period surcharge, EPO 50%),
        0 for a fee not yet due. ``attrs["note"]`` explains an empty schedule (lapsed, expired, office not
        modelled).

    Notes
    -----
    CNIPA annual fees use the invention or the utility-model/design table (``ipvalue/data/fees_cnipa_annual.json``);
    USPTO maintenance fees the schedule in force on the due date and the patent's ``entity_size`` (large when
    unknown, said in ``note``); EPO renewal fees only while the application is pending (after grant the fees are
    national). Amounts of future due dates are today's amounts.
    """
    frame, _, day, life, inp, _, events = _prepare(patent, as_of)
    if len(frame) != 1:
        raise ValueError(
            f"renewal_schedule takes one patent, got {len(frame)} rows; use renewal_fees_due for a portfolio"
        )
    until_day = None if until is None else as_of_day(until)
    upcoming, overdue = _due_mask(events, inp, life, day, until_day)
    sel = events[upcoming | overdue].copy()
    late = overdue[upcoming | overdue]
    sel.loc[late, "note"] = sel["note"] + "; overdue, in grace period (surcharge due)"
    sel["surcharge"] = np.where(late, _late_surcharge(sel, inp, day), 0.0)
    out = sel.sort_values(["due_date", "office"]).reset_index(drop=True)
    out["due_date"] = out["due_date"].astype("datetime64[s]")
    out = out.loc[:, list(SCHEDULE_COLUMNS)]
    modelled, why = _modelled(inp)
    notes = [s for s in (life["lapse_reason"].iloc[0], life["term_problem"].iloc[0], why[0]) if s]
    out.attrs["note"] = "; ".join(notes)
    out.attrs["patent_id"] = str(inp.ids[0])
    return out


def first_fees_due(portfolio: pd.DataFrame, as_of: object, *, until: object = None) -> pd.DataFrame:
    """Each patent's first renewal fee of :func:`renewal_schedule`, for a whole portfolio at once.

    The first row of ``renewal_schedule(patent, as_of, until=until)`` for every patent (the fees falling due in
    ``[as_of, until]`` while the patent lives, and those overdue but in grace), with the schedule's order (due
    date, then office; a stable sort, as the schedule's sort is on its few rows).

    Parameters
    ----------
    portfolio : DataFrame
        Portfolio frame indexed by ``patent_id``.
    as_of : date or str
    until : date or str, optional
        Last due date considered (inclusive); default each patent's expiry.

    Returns
    -------
    DataFrame
        Indexed like ``portfolio``: ``due_date`` (datetime64, NaT when the schedule is empty), ``amount``
        (float, NaN when none) and ``currency`` ("" when none).

    Raises
    ------
    TermError
        As :func:`renewal_schedule` on the patent that raises (e.g. a US entity size not in ``ENTITY_SIZES``).
    """
    frame, _, day, life, inp, _, events = _prepare(portfolio, as_of)
    until_day = None if until is None else as_of_day(until)
    upcoming, overdue = _due_mask(events, inp, life, day, until_day)
    sel = events[upcoming | overdue]
    order = np.lexsort(
        (
            sel["office"].to_numpy(dtype=str),
            sel["due_date"].to_numpy(dtype="datetime64[D]"),
            sel["pos"].to_numpy(),
        )
    )
    pos = sel["pos"].to_numpy()[order]
    first = order[np.r_[True, pos[1:] != pos[:-1]]] if len(pos) else order
    n = len(frame)
    due = np.full(n, NAT)
    amount = np.full(n, np.nan)
    currency = np.full(n, "", dtype=object)
    at = sel["pos"].to_numpy()[first]
    due[at] = sel["due_date"].to_numpy(dtype="datetime64[D]")[first]
    amount[at] = sel["amount"].to_numpy(dtype=float)[first]
    currency[at] = sel["currency"].to_numpy(dtype=object)[first]
    return pd.DataFrame(
        {"due_date": due.astype("datetime64[s]"), "amount": amount, "currency": currency}, index=frame.index
    )


def _whole_months_late(due: np.ndarray, day: np.datetime64) -> np.ndarray:
    """Whole calendar months from each due date to ``day`` (0 when less than one month late)."""
    months = (np.asarray(day, dtype="datetime64[M]") - due.astype("datetime64[M]")).astype(np.int64)
    months = np.where(add_months(due, months) > day, months - 1, months)
    return np.maximum(months, 0)


def _late_surcharge(events: pd.DataFrame, inp: TermInputs, day: np.datetime64) -> np.ndarray:
    """The surcharge on each fee if it were paid on ``day``, late but within the grace period.

    CNIPA: 5% of that year's full fee for each whole month past the due date, nothing when less than a month
    late (Implementing Regulations of the Patent Law, 2010 text, Rule 98: "每超过规定的缴费时间1个月，加收当年全额
    年费的5%"; the less-than-a-month rule per CNIPA practice, see ``fees_cnipa_annual.json``), so 5% to 25% over the
    six months. USPTO: the flat surcharge of the schedule in force on ``day`` (37 CFR 1.20(h), per entity size,
    ``fees_uspto_maintenance.json``). EPO: 50% of the renewal fee (EPC Rule 51(2), ``fees_epo_renewal.json``).
    """
    t = _tables()
    due = events["due_date"].to_numpy(dtype="datetime64[D]")
    amount = events["amount"].to_numpy(dtype=float)
    office = events["office"].to_numpy(dtype=object)
    cn = amount * 0.05 * np.minimum(_whole_months_late(due, day), 5)
    s_idx, _ = _schedule_index(t.us_effective, np.full(len(due), day))  # the surcharge in force when paid
    entity = inp.entity_size[events["pos"].to_numpy()]
    e_idx = np.select([entity == "small", entity == "micro"], [1, 2], 0)
    us = t.us_surcharge[s_idx, e_idx] if len(due) else np.zeros(0)
    return np.select([office == "CN", office == "US", office == "EP"], [cn, us, 0.5 * amount], np.nan)


def renewal_fees_due(portfolio: pd.DataFrame, as_of: object, *, years: float = 5.0) -> pd.DataFrame:
    """Total renewal fees each patent owes over the next ``years`` years (vectorised over the portfolio).

    Parameters
    ----------
    portfolio : DataFrame
        Portfolio frame indexed by ``patent_id``.
    as_of : date or str
        Start of the window (fees overdue but in grace are included).
    years : float, default 5.0
        Length of the window; a fee is counted when due in ``[as_of, as_of + years]`` and before expiry.

    Returns
    -------
    DataFrame
        Indexed like ``portfolio``: ``renewal_fees`` (float; NaN when the office's fees are not modelled),
        ``fee_currency``, ``fee_count``, ``next_fee_due`` (datetime64, NaT when none) and ``fees_note``.
        Dead or expired patents owe 0.
    """
    frame, _, day, life, inp, _, events = _prepare(portfolio, as_of)
    until = day + np.timedelta64(int(round(years * 365.25)), "D")
    upcoming, overdue = _due_mask(events, inp, life, day, until)
    take = events[upcoming | overdue]
    n = len(frame)
    total = np.bincount(take["pos"].to_numpy(), weights=take["amount"].to_numpy(), minlength=n)
    count = np.bincount(take["pos"].to_numpy(), minlength=n)
    nxt = np.full(n, NAT)
    if len(take):
        first = take.sort_values("due_date").drop_duplicates("pos")
        nxt[first["pos"].to_numpy()] = first["due_date"].to_numpy(dtype="datetime64[D]")
    modelled, why = _modelled(inp)
    dead = life["remaining_life_years"].to_numpy(dtype=float) == 0
    total = np.where(modelled | dead | (count > 0), total, np.nan)
    currency = office_lookup(inp.jurisdiction, CURRENCY, "")
    note = np.where(dead, "", why)
    note = np.where(
        life["term_problem"].to_numpy(dtype=object) != "", life["term_problem"].to_numpy(dtype=object), note
    )
    total = np.where(np.isnan(life["remaining_life_years"].to_numpy(dtype=float)), np.nan, total)
    return pd.DataFrame(
        {
            "renewal_fees": total,
            "fee_currency": currency,
            "fee_count": count.astype(np.int64),
            "next_fee_due": nxt.astype("datetime64[s]"),
            "fees_note": note,
        },
        index=frame.index,
    )


def fees_paid_to_date(
    patent_or_frame: object,
    as_of: object,
    *,
    expiry_date: np.ndarray | None = None,
    inputs: TermInputs | None = None,
) -> float | pd.DataFrame:
    """Renewal fees paid so far (the historical maintenance cost, for the cost method).

    A fee counts as paid when it fell due on or before ``as_of``, while the patent lived (before expiry), was
    payable (CNIPA: from the grant year; EPO: up to the year of grant) and, when ``fees_paid_through`` is given,
    fell due before that date. Each fee at the amount in force on its due date (the earliest schedule in the
    table for older dates, said in the note).

    Parameters
    ----------
    patent_or_frame : Patent or DataFrame
    as_of : date or str
    expiry_date : numpy.ndarray, optional
        The ``expiry_date`` column of :func:`ipvalue.terms.life_table` for these rows at ``as_of`` (one date per
        row, ``datetime64``), when the caller computed that table already; the fees are then laid out against
        it instead of computing the table a second time (the same result).
    inputs : TermInputs, optional
        The term inputs of these rows (``ipvalue.terms._inputs.term_inputs``), when the caller read them
        already; they are not read from the frame again.

    Returns
    -------
    float or DataFrame
        For one patent, the amount in the office's currency. For a frame, indexed like it: ``fees_paid``,
        ``fee_currency``, ``fees_paid_note`` (NaN amount when the office's fees are not modelled).
    """
    frame, single, day, _, inp, expiry, blocks = _laid_out(patent_or_frame, as_of, expiry_date, inputs)
    events = _event_arrays(blocks)  # the columns read, not the event table (its texts are not read)
    pos, due = events["pos"], events["due_date"]
    fpt = inp.fees_paid_through[pos]
    paid = (
        events["payable"]
        & ~events["projected"]
        & (due <= day)
        & (due < expiry[pos])
        & (np.isnat(fpt) | (due < fpt))
    )
    n = len(frame)
    total = np.bincount(pos[paid], weights=events["amount"][paid], minlength=n)
    modelled = np.isin(inp.jurisdiction, FEE_OFFICES)
    note = np.where(modelled, "", "renewal fees of this office are not modelled").astype(object)
    series = inp.us_series
    note = np.where(series == "PP", US_PLANT_NOTE, np.where(series == "RE", US_REISSUE_NOTE, note))
    modelled &= series != "RE"
    total = np.where(modelled, total, np.nan)
    unknown_lapse = np.isin(inp.status, DEAD_STATUSES) & np.isnat(inp.fees_paid_through)
    note = np.where(unknown_lapse & modelled, "lapse date unknown: fees counted up to as_of or expiry", note)
    early = np.zeros(n, dtype=bool)
    early[pos[paid & events["early"]]] = True
    note = np.where(
        early,
        np.where(note == "", "", note + "; ") + "some fees before the earliest schedule in the table",
        note,
    )
    unknown_grant = modelled & (inp.status != "pending") & np.isnat(inp.grant)
    note = np.where(
        unknown_grant,
        np.where(note == "", "", note + "; ")
        + "grant date unknown: CN/EP fees counted from the first fee year, US none",
        note,
    )
    ep_granted = (inp.jurisdiction == "EP") & (~np.isnat(inp.grant) | (inp.status != "pending"))
    note = np.where(
        ep_granted,
        np.where(note == "", "", note + "; ") + "EPO fees only; national fees after grant not included",
        note,
    )
    if single:
        return float(total[0])
    currency = office_lookup(inp.jurisdiction, CURRENCY, "")
    return pd.DataFrame(
        {"fees_paid": total, "fee_currency": currency, "fees_paid_note": note}, index=frame.index
    )


def fee_tables_sources() -> dict[str, object]:
    """The sources and dates of the fee tables in use (for reports and audit records)."""
    return {
        "CN": {
            "file": CNIPA_FILE,
            "source": load_table(CNIPA_FILE)["source"],
            "retrieved": load_table(CNIPA_FILE)["retrieved"],
        },
        "US": {
            "file": USPTO_FILE,
            "schedules": [s["effective_from"] for s in load_table(USPTO_FILE)["schedules"]],
            "retrieved": load_table(USPTO_FILE)["retrieved"],
        },
        "EP": {
            "file": EPO_FILE,
            "schedules": [s["effective_from"] for s in load_table(EPO_FILE)["schedules"]],
            "retrieved": load_table(EPO_FILE)["retrieved"],
        },
    }


__all__ = [
    "renewal_schedule",
    "renewal_fees_due",
    "fees_paid_to_date",
    "fee_tables_sources",
    "SCHEDULE_COLUMNS",
]
