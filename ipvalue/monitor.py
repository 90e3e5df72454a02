"""Monitoring of pledged patents during the loan (贷后管理).

The facts of a pledged portfolio are refreshed (through :mod:`data_sources`, or any injected ``fetch``) and
compared with the snapshot taken when the loan was assessed. Each change that matters to the lender becomes a
:class:`MonitorEvent` with a stable code and a severity; :class:`MonitorReport` gathers them with an exit code a
scheduler can act on.

Exit codes (:attr:`MonitorReport.exit_code`; ``ipvalue monitor`` exits with it):

* ``0`` no event (or only ``info`` events);
* ``1`` at least one ``warning`` (a renewal fee due soon, a new lawsuit, coverage close to the trigger, facts
  that could not be refreshed);
* ``2`` at least one ``critical`` event (a lapse, an expiry, a revocation, an invalidation request, an owner
  change, a new pledge, a fee past its due date, coverage below the loan's trigger);
* ``3`` the check itself could not run (bad input, store or source unavailable) — from the command line only.

Only the patents that were eligible collateral at pledge (``eligible`` true in the snapshot, or every patent
when the snapshot has no ``eligible`` column) are monitored; the others are counted but raise no event.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from ipvalue.errors import InputError
from ipvalue.facts.columns import dates, flags, texts
from ipvalue.facts.patent import COLUMN_KINDS, FACT_COLUMNS
from ipvalue.terms import renewal_schedule
from ipvalue.terms._dates import add_months
from ipvalue.terms._fees import first_fees_due

__all__ = [
    "MonitorEvent",
    "MonitorReport",
    "EVENT_CODES",
    "EXIT_OK",
    "EXIT_WARNING",
    "EXIT_CRITICAL",
    "EXIT_ERROR",
    "compare_facts",
    "renewal_events",
    "coverage_events",
    "check_portfolio",
    "monitor_portfolio",
    "refresh_facts",
]

Severity = Literal["info", "warning", "critical"]
EXIT_OK, EXIT_WARNING, EXIT_CRITICAL, EXIT_ERROR = 0, 1, 2, 3
_RANK = {"info": 0, "warning": 1, "critical": 2}

#: every event code, its severity and what it means
EVENT_CODES: dict[str, tuple[Severity, str]] = {
    "RENEWAL_FEE_DUE": ("warning", "a renewal (annual) fee falls due within the monitoring window"),
    "RENEWAL_FEE_OVERDUE": (
        "critical",
        "the fees are paid through a date already past: the patent is in its grace "
        "period and lapses if the fee and surcharge are not paid",
    ),
    "LAPSED": ("critical", "the patent lapsed (e.g. fees unpaid) since the pledge"),
    "EXPIRED": ("critical", "the patent reached the end of its term since the pledge"),
    "REVOKED": ("critical", "the patent was revoked / declared invalid since the pledge"),
    "WITHDRAWN": ("critical", "the patent was withdrawn or surrendered since the pledge"),
    "INVALIDATION_REQUESTED": (
        "critical",
        "an invalidation (无效宣告) or opposition is pending, none was at pledge",
    ),
    "OWNER_CHANGED": ("critical", "the registered owner differs from the owner at pledge"),
    "NEW_PLEDGE": ("critical", "a pledge other than the lender's own was registered"),
    "LITIGATION_STARTED": ("warning", "the patent is in litigation, it was not at pledge"),
    "FACTS_UNAVAILABLE": ("warning", "the patent's facts could not be refreshed"),
    "COVERAGE_NEAR_TRIGGER": ("warning", "collateral coverage is within the margin above the loan's trigger"),
    "COVERAGE_BELOW_TRIGGER": ("critical", "collateral value / loan fell below the loan's coverage trigger"),
}

_STATUS_EVENTS = {"lapsed": "LAPSED", "expired": "EXPIRED", "revoked": "REVOKED", "withdrawn": "WITHDRAWN"}


class MonitorInputError(InputError):
    """Facts that monitoring cannot read (a flag that is not yes/no, a date that is not a date)."""


@dataclass(frozen=True)
class MonitorEvent:
    """One thing the lender must know.

    Attributes
    ----------
    code : str
        One of :data:`EVENT_CODES`.
    severity : {"info", "warning", "critical"}
    patent_id : str or None
        ``None`` for portfolio-level events (coverage).
    message : str
    details : dict
        Before / after values, dates, amounts (JSON-ready).
    """

    code: str
    severity: Severity
    patent_id: str | None
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain dictionary."""
        return {
            "code": self.code,
            "severity": self.severity,
            "patent_id": self.patent_id,
            "message": self.message,
            "details": self.details,
        }


def _event(code: str, patent_id: str | None, message: str, **details: Any) -> MonitorEvent:
    return MonitorEvent(code, EVENT_CODES[code][0], patent_id, message, details)


@dataclass
class MonitorReport:
    """The result of one monitoring run.

    Attributes
    ----------
    as_of : datetime.date
    n_patents : int
        Patents in the snapshot.
    n_monitored : int
        Patents that were eligible collateral at pledge.
    events : list of MonitorEvent
        Most severe first.
    coverage_ratio, coverage_trigger : float or None
    """

    as_of: dt.date
    n_patents: int
    n_monitored: int
    events: list[MonitorEvent]
    coverage_ratio: float | None = None
    coverage_trigger: float | None = None

    @property
    def level(self) -> Literal["ok", "warning", "critical"]:
        """``critical`` / ``warning`` when any event has that severity, else ``ok``."""
        worst = max((_RANK[e.severity] for e in self.events), default=0)
        return ("ok", "warning", "critical")[worst]

    @property
    def exit_code(self) -> int:
        """0 ok, 1 warnings, 2 critical (see the module docstring)."""
        return {"ok": EXIT_OK, "warning": EXIT_WARNING, "critical": EXIT_CRITICAL}[self.level]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary."""
        cov = self.coverage_ratio
        return {
            "as_of": self.as_of.isoformat(),
            "level": self.level,
            "exit_code": self.exit_code,
            "n_patents": self.n_patents,
            "n_monitored": self.n_monitored,
            "coverage_ratio": None if cov is None or not np.isfinite(cov) else float(cov),
            "coverage_trigger": self.coverage_trigger,
            "events": [e.to_dict() for e in self.events],
        }


def _owners(s: pd.Series) -> pd.Series:
    return (
        s.fillna("")
        .astype(str)
        .str.replace("；", ";")
        .map(lambda v: tuple(sorted({p.strip().casefold() for p in v.split(";") if p.strip()})))
    )


def _flag(df: pd.DataFrame, col: str) -> pd.Series:
    """A yes/no column as bool on the frame's index (missing read as no)."""
    return pd.Series(flags(df, col, error=MonitorInputError) == 1.0, index=df.index)


def _date(df: pd.DataFrame, col: str) -> pd.Series:
    return pd.Series(dates(df, col, error=MonitorInputError), index=df.index).astype("datetime64[ns]")


def _text(df: pd.DataFrame, col: str) -> pd.Series:
    return pd.Series(texts(df, col), index=df.index, dtype=object)


def _indexed(frame: pd.DataFrame) -> pd.DataFrame:
    if "patent_id" in frame.columns and frame.index.name != "patent_id":
        frame = frame.set_index("patent_id", drop=False)
    return frame[~frame.index.duplicated(keep="first")]


def _monitored(snapshot: pd.DataFrame) -> pd.Index:
    if "eligible" in snapshot.columns:
        return snapshot.index[_flag(snapshot, "eligible").to_numpy()]
    return snapshot.index


def compare_facts(
    snapshot: pd.DataFrame, current: pd.DataFrame, *, own_pledge: bool = True
) -> list[MonitorEvent]:
    """Events from the changes between the facts at pledge and the current facts.

    Parameters
    ----------
    snapshot, current : pandas.DataFrame
        Portfolio frames indexed by (or holding) ``patent_id``. A monitored patent missing from ``current``
        or with no ``legal_status`` there raises ``FACTS_UNAVAILABLE``.
    own_pledge : bool
        The lender's own pledge is expected to appear after the snapshot (default), so ``pledged`` turning
        true is not an event by itself. A ``pledgee`` column (``;``-separated) or a ``pledge_count`` column in
        the current facts, when a source provides one, detects another lender's pledge precisely.

    Returns
    -------
    list of MonitorEvent
    """
    snapshot, current = _indexed(snapshot), _indexed(current)
    ids = _monitored(snapshot)
    snap = snapshot.loc[ids]
    cur = current.reindex(ids)
    events, have = _unavailable_events(cur, ids)
    snap, cur = snap[have], cur[have]
    if snap.empty:
        return events
    events += _status_events(snap, cur)
    for col, code, what in _FLAG_EVENTS:
        events += _flag_events(snap, cur, col, code, what)
    if "owner" in cur.columns:
        events += _owner_events(snap, cur)
    if "pledgee" in cur.columns:
        pledges = _pledgee_news(snap, cur, own_pledge)
    elif "pledge_count" in cur.columns:
        pledges = _pledge_count_news(snap, cur, own_pledge)
    else:
        pledges = _pledged_flag_news(snap, cur, own_pledge)
    for pid, det in pledges.items():
        events.append(_event("NEW_PLEDGE", str(pid), f"{pid}: a new pledge was registered", **det))
    return events


#: flags turning on since the pledge: column, event code, what the message says
_FLAG_EVENTS = (
    ("invalidation_pending", "INVALIDATION_REQUESTED", "an invalidation request is pending"),
    ("in_litigation", "LITIGATION_STARTED", "the patent is now in litigation"),
)


def _unavailable_events(cur: pd.DataFrame, ids: pd.Index) -> tuple[list[MonitorEvent], np.ndarray]:
    """``FACTS_UNAVAILABLE`` for each monitored patent without a current legal status.

    Parameters
    ----------
    cur : pandas.DataFrame
        The current facts of the monitored patents, in ``ids`` order.
    ids : pandas.Index
        The monitored patents.

    Returns
    -------
    events : list of MonitorEvent
        One per patent without facts, in ``ids`` order, with the fetch error as ``reason`` when there is one.
    have : numpy.ndarray
        True where the patent has a current legal status.
    """
    have = cur["legal_status"].notna() if "legal_status" in cur.columns else pd.Series(False, index=ids)
    events = [
        _event(
            "FACTS_UNAVAILABLE",
            str(pid),
            f"{pid}: facts could not be refreshed",
            reason=str(cur.at[pid, "fetch_error"])
            if "fetch_error" in cur.columns and pd.notna(cur.at[pid, "fetch_error"])
            else None,
        )
        for pid in ids[~have.to_numpy()]
    ]
    return events, have.to_numpy()


def _status_events(snap: pd.DataFrame, cur: pd.DataFrame) -> list[MonitorEvent]:
    """An event for each patent whose legal status changed to lapsed, expired, revoked or withdrawn.

    Parameters
    ----------
    snap, cur : pandas.DataFrame
        Facts at pledge and now, same index.

    Returns
    -------
    list of MonitorEvent
        In the frames' order (codes from :data:`_STATUS_EVENTS`), with the status before and after.
    """
    st_then, st_now = _text(snap, "legal_status"), _text(cur, "legal_status")
    changed = (st_now != st_then) & st_now.isin(list(_STATUS_EVENTS))
    return [
        _change_event(_STATUS_EVENTS[st_now[pid]], pid, "legal status", st_then[pid], st_now[pid])
        for pid in snap.index[changed.to_numpy()]
    ]


def _flag_events(snap: pd.DataFrame, cur: pd.DataFrame, col: str, code: str, what: str) -> list[MonitorEvent]:
    """An event for each patent whose yes/no ``col`` is yes now and was not at pledge.

    Parameters
    ----------
    snap, cur : pandas.DataFrame
        Facts at pledge and now, same index.
    col : str
        The flag (read now first, then at pledge).
    code : str
        The event code.
    what : str
        The message after the patent number.

    Returns
    -------
    list of MonitorEvent
        In the frames' order.
    """
    turned_on = _flag(cur, col) & ~_flag(snap, col)
    return [_event(code, str(pid), f"{pid}: {what}") for pid in snap.index[turned_on.to_numpy()]]


def _owner_events(snap: pd.DataFrame, cur: pd.DataFrame) -> list[MonitorEvent]:
    """``OWNER_CHANGED`` for each patent whose set of owners now differs (and is not empty).

    Parameters
    ----------
    snap, cur : pandas.DataFrame
        Facts at pledge and now, same index; ``cur`` has an ``owner`` column.

    Returns
    -------
    list of MonitorEvent
        In the frames' order, with the owners as written before and after.

    Notes
    -----
    Owners are compared as sets of ``;``-separated names, case-folded.
    """
    t_then, t_now = _text(snap, "owner"), _text(cur, "owner")
    o_then, o_now = _owners(t_then), _owners(t_now)
    moved = (o_then != o_now) & (o_now.map(len) > 0)
    return [
        _change_event("OWNER_CHANGED", pid, "owner", t_then[pid], t_now[pid])
        for pid in snap.index[moved.to_numpy()]
    ]


def _change_event(code: str, pid: Any, what: str, before: str | None, after: str) -> MonitorEvent:
    """An event for a value that changed: ``<pid>: <what> <before or ?> -> <after>``.

    Parameters
    ----------
    code : str
        The event code.
    pid : object
        The patent.
    what : str
        The field's name in the message.
    before, after : str
        The values at pledge (blank or None: unknown) and now.

    Returns
    -------
    MonitorEvent
        With ``before`` (None when blank) and ``after`` as details.
    """
    return _event(
        code, str(pid), f"{pid}: {what} {before or '?'} -> {after}", before=before or None, after=after
    )


def _pledgee_news(snap: pd.DataFrame, cur: pd.DataFrame, own_pledge: bool) -> dict[Any, dict[str, Any]]:
    """Patents with a new pledgee: more new names than the lender's own pledge allows.

    Parameters
    ----------
    snap, cur : pandas.DataFrame
        Facts at pledge and now, same index; ``cur`` has a ``pledgee`` column (``;``-separated).
    own_pledge : bool
        One new pledgee (the lender) is expected.

    Returns
    -------
    dict
        Patent -> the pledgees before and after (``;``-joined, case-folded, sorted), in the frames' order.
    """
    p_then = (
        _owners(_text(snap, "pledgee"))
        if "pledgee" in snap.columns
        else pd.Series([()] * len(snap), index=snap.index)
    )
    p_now = _owners(_text(cur, "pledgee"))
    extra_allowed = 1 if own_pledge else 0
    new = pd.Series(
        [len(set(b) - set(a)) > extra_allowed for a, b in zip(p_then, p_now, strict=True)],
        index=snap.index,
    )
    return {
        pid: {"before": ";".join(p_then[pid]), "after": ";".join(p_now[pid])}
        for pid in snap.index[new.to_numpy()]
    }


def _pledge_count_news(snap: pd.DataFrame, cur: pd.DataFrame, own_pledge: bool) -> dict[Any, dict[str, Any]]:
    """Patents whose pledge count grew by more than the lender's own pledge.

    Parameters
    ----------
    snap, cur : pandas.DataFrame
        Facts at pledge and now, same index; ``cur`` has a ``pledge_count`` column.
    own_pledge : bool
        One more pledge (the lender's) is expected.

    Returns
    -------
    dict
        Patent -> the counts before and after, in the frames' order. A count missing at pledge is the
        ``pledged`` flag (1 or 0); one missing now is 0.
    """
    c_then = pd.to_numeric(snap.get("pledge_count", pd.Series(np.nan, index=snap.index)), errors="coerce")
    c_then = c_then.fillna(_flag(snap, "pledged").astype(float))
    c_now = pd.to_numeric(cur["pledge_count"], errors="coerce").fillna(0)
    new = c_now > c_then + (1 if own_pledge else 0)
    return {
        pid: {"before": float(c_then[pid]), "after": float(c_now[pid])} for pid in snap.index[new.to_numpy()]
    }


def _pledged_flag_news(snap: pd.DataFrame, cur: pd.DataFrame, own_pledge: bool) -> dict[Any, dict[str, Any]]:
    """Patents pledged now and not at pledge, when the lender's own pledge is not expected.

    Parameters
    ----------
    snap, cur : pandas.DataFrame
        Facts at pledge and now, same index.
    own_pledge : bool
        The lender's own pledge is expected: the flag alone cannot tell another pledge, so none is found.

    Returns
    -------
    dict
        Patent -> no details, in the frames' order.
    """
    new = (
        _flag(cur, "pledged") & ~_flag(snap, "pledged")
        if not own_pledge
        else pd.Series(False, index=snap.index)
    )
    return {pid: {} for pid in snap.index[new.to_numpy()]}


def _first_fees(
    cur: pd.DataFrame, as_of: dt.date, until: dt.date, schedule: Callable[..., pd.DataFrame]
) -> pd.DataFrame:
    """Each patent's first fee of ``schedule`` up to ``until``: ``due_date``, ``amount``, ``currency``.

    The terms module's own schedule is read for the whole book at once (:func:`ipvalue.terms._fees.first_fees_due`,
    the first row of :func:`~ipvalue.terms.renewal_schedule` per patent). Another schedule, or a book the terms
    module refuses as a whole (one patent's bad field), is asked patent by patent; a patent whose schedule cannot
    be built, or is empty, has no first fee (its paid-through date is left alone).
    """
    if schedule is renewal_schedule:
        try:
            return first_fees_due(cur, as_of, until=until)
        except Exception:  # noqa: BLE001 - patent by patent below, so one bad patent leaves the others
            pass
    due = pd.Series(pd.NaT, index=cur.index, dtype="datetime64[s]")
    amount = pd.Series(np.nan, index=cur.index, dtype=float)
    currency = pd.Series("", index=cur.index, dtype=object)
    for pid in cur.index:
        try:
            sched = schedule(cur.loc[pid], as_of, until=until)
        except Exception:  # noqa: BLE001 - a schedule that cannot be built leaves the paid-through date alone
            continue
        if sched is None or len(sched) == 0:
            continue
        row = sched.sort_values("due_date", kind="stable").iloc[0]
        due[pid] = pd.Timestamp(row["due_date"])
        amount[pid] = float(row.get("amount", np.nan))
        currency[pid] = str(row.get("currency", ""))
    return pd.DataFrame({"due_date": due, "amount": amount, "currency": currency})


def renewal_events(
    current: pd.DataFrame,
    *,
    as_of: dt.date,
    within_days: int = 90,
    monitored: pd.Index | None = None,
    grace_months: int = 6,
    schedule: Callable[..., pd.DataFrame] | None | Literal["auto"] = "auto",
) -> list[MonitorEvent]:
    """Renewal fees due within ``within_days`` of ``as_of``, or already past due.

    The next fee falls due when the period paid for ends (``fees_paid_through``). Past that date the patent is
    in the grace period (``grace_months``; six months with a surcharge in CN, EP and US practice — a parameter,
    check the office) and lapses unless paid: ``RENEWAL_FEE_OVERDUE`` (critical). A due date within the window
    gives ``RENEWAL_FEE_DUE`` (warning). When ``fees_paid_through`` is unknown, the next due date comes from
    ``ipvalue.terms.renewal_schedule`` (when that module is present); its amount is added when available.

    Parameters
    ----------
    current : pandas.DataFrame
        Current facts. Only ``granted`` patents are checked.
    as_of : datetime.date
    within_days : int
    monitored : pandas.Index, optional
        Restrict to these patents.
    grace_months : int
    schedule : callable, None or "auto"
        ``renewal_schedule(patent, as_of, *, until)``; ``"auto"`` uses :func:`ipvalue.terms.renewal_schedule`.
    """
    cur = _indexed(current)
    if monitored is not None:
        cur = cur.reindex(monitored.intersection(cur.index))
    cur = cur[_text(cur, "legal_status").eq("granted").to_numpy()]
    if cur.empty:
        return []
    if schedule == "auto":
        schedule = renewal_schedule
    as_of_ts = pd.Timestamp(as_of)
    until = as_of + dt.timedelta(days=int(within_days))
    due = _date(cur, "fees_paid_through")
    amounts: dict[str, tuple[float, str]] = {}
    if schedule is not None:
        # ask the schedule for amounts, and for due dates where fees_paid_through is unknown
        first = _first_fees(cur, as_of, until, schedule)
        known = first["due_date"].notna().to_numpy()
        first_due = first["due_date"]
        due = due.where(due.notna() | ~known, first_due)
        same = known & ((first_due - due).dt.days.abs() <= 31).to_numpy()  # the same fee: keep its amount
        for pid, amount, currency in zip(
            cur.index[same], first["amount"].to_numpy()[same], first["currency"].to_numpy()[same], strict=True
        ):
            amounts[str(pid)] = (float(amount), str(currency))
    days = (due - as_of_ts).dt.days
    events: list[MonitorEvent] = []
    overdue = days < 0
    soon = (days >= 0) & (days <= within_days)
    for pid in cur.index[overdue.fillna(False).to_numpy(dtype=bool)]:
        d = due[pid].date()
        grace_end = add_months(np.array([d], dtype="datetime64[D]"), grace_months)[0].astype(dt.date)
        events.append(
            _event(
                "RENEWAL_FEE_OVERDUE",
                str(pid),
                f"{pid}: fees paid only through {d}; unless paid with the surcharge by {grace_end}, the patent lapses",
                due_date=d.isoformat(),
                grace_period_ends=grace_end.isoformat(),
                days_overdue=int(-days[pid]),
            )
        )
    for pid in cur.index[soon.fillna(False).to_numpy(dtype=bool)]:
        d = due[pid].date()
        det: dict[str, Any] = {"due_date": d.isoformat(), "days_left": int(days[pid])}
        if str(pid) in amounts and np.isfinite(amounts[str(pid)][0]):
            det["amount"], det["currency"] = amounts[str(pid)]
        events.append(_event("RENEWAL_FEE_DUE", str(pid), f"{pid}: renewal fee due on {d}", **det))
    return events


def coverage_events(
    coverage_ratio: float | None, trigger: float | None, *, near_margin: float = 0.10
) -> list[MonitorEvent]:
    """``COVERAGE_BELOW_TRIGGER`` when ``coverage_ratio < trigger``; ``COVERAGE_NEAR_TRIGGER`` within the margin."""
    if coverage_ratio is None or trigger is None or not np.isfinite(coverage_ratio):
        return []
    if coverage_ratio < trigger:
        return [
            _event(
                "COVERAGE_BELOW_TRIGGER",
                None,
                f"collateral coverage {coverage_ratio:.2f} is below the trigger {trigger:.2f}",
                coverage_ratio=float(coverage_ratio),
                trigger=float(trigger),
            )
        ]
    if coverage_ratio < trigger * (1.0 + near_margin):
        return [
            _event(
                "COVERAGE_NEAR_TRIGGER",
                None,
                f"collateral coverage {coverage_ratio:.2f} is within {near_margin:.0%} of the trigger "
                f"{trigger:.2f}",
                coverage_ratio=float(coverage_ratio),
                trigger=float(trigger),
            )
        ]
    return []


def _sorted(events: list[MonitorEvent]) -> list[MonitorEvent]:
    return sorted(events, key=lambda e: (-_RANK[e.severity], e.patent_id or "", e.code))


def check_portfolio(
    snapshot: pd.DataFrame,
    current: pd.DataFrame,
    *,
    as_of: dt.date,
    within_days: int = 90,
    coverage_ratio: float | None = None,
    coverage_trigger: float | None = None,
    own_pledge: bool = True,
    schedule: Any = "auto",
) -> MonitorReport:
    """All checks on already-fetched facts (no I/O): changes, renewal fees, coverage."""
    snapshot = _indexed(snapshot)
    monitored = _monitored(snapshot)
    events = compare_facts(snapshot, current, own_pledge=own_pledge)
    events += renewal_events(
        current, as_of=as_of, within_days=within_days, monitored=monitored, schedule=schedule
    )
    events += coverage_events(coverage_ratio, coverage_trigger)
    return MonitorReport(
        as_of=as_of,
        n_patents=len(snapshot),
        n_monitored=len(monitored),
        events=_sorted(events),
        coverage_ratio=coverage_ratio,
        coverage_trigger=coverage_trigger,
    )


def refresh_facts(snapshot: pd.DataFrame, current: pd.DataFrame, *, own_pledge: bool = True) -> pd.DataFrame:
    """The portfolio as at pledge with its fact columns overwritten by the current facts where known.

    Economics (revenue, rates...) and every patent not refreshed keep their pledge-time values; the result holds
    only the portfolio columns (facts and economics), ready to be valued again.

    With ``own_pledge`` (default) the ``pledged`` flag keeps its pledge-time value: once the lender's own pledge
    is registered the refreshed facts show every collateral patent as pledged, and re-assessing them as
    ``ALREADY_PLEDGED`` would wipe out the collateral and raise a false coverage alarm. Another lender's pledge
    is reported by :func:`compare_facts` instead.
    """
    base = _indexed(snapshot)
    base = base[[c for c in COLUMN_KINDS if c in base.columns]].copy()
    cur = _indexed(current)
    ids = cur.index.intersection(base.index)
    for col in FACT_COLUMNS:
        if col == "patent_id" or col not in cur.columns or (own_pledge and col == "pledged"):
            continue
        new = cur.loc[ids, col]
        known = new.notna().to_numpy()
        if not known.any():
            continue
        if col not in base.columns:
            base[col] = pd.Series(pd.NA, index=base.index, dtype=new.dtype)
        if FACT_COLUMNS[col] == "date":
            base[col] = pd.to_datetime(base[col])
            new = pd.to_datetime(new)
        base[col] = base[col].astype(object)
        base.loc[ids[known], col] = new[known].astype(object).to_numpy()
        if FACT_COLUMNS[col] == "date":
            base[col] = pd.to_datetime(base[col])
        elif FACT_COLUMNS[col] == "bool":
            base[col] = base[col].astype("boolean").fillna(False).astype(bool)
        elif FACT_COLUMNS[col] == "int":
            base[col] = pd.array(pd.to_numeric(base[col]).tolist(), dtype="Int64")
        else:
            base[col] = base[col].astype(object).where(base[col].notna(), None)
    return base


def monitor_portfolio(
    snapshot: pd.DataFrame,
    *,
    as_of: dt.date,
    fetch: Callable[[list[str]], pd.DataFrame],
    coverage_trigger: float | None = None,
    reassess: Callable[[pd.DataFrame], float] | None = None,
    within_days: int = 90,
    own_pledge: bool = True,
    schedule: Any = "auto",
) -> MonitorReport:
    """Refresh the facts of a pledged portfolio and check them against the snapshot.

    Parameters
    ----------
    snapshot : pandas.DataFrame
        The assessed patents at pledge (``CollateralAssessment.patents``).
    as_of : datetime.date
    fetch : callable
        ``fetch(patent_ids) -> current facts frame`` (e.g. through :mod:`data_sources`; tests inject their own).
    coverage_trigger : float, optional
        The loan's trigger (``Loan.coverage_trigger``).
    reassess : callable, optional
        ``reassess(current facts) -> coverage ratio`` (collateral value / loan on the current facts); without it
        coverage is not checked.
    within_days, own_pledge, schedule
        See :func:`renewal_events` and :func:`compare_facts`.
    """
    snapshot = _indexed(snapshot)
    ids = [str(i) for i in _monitored(snapshot)]
    current = _indexed(fetch(ids)) if ids else snapshot.iloc[0:0]
    coverage = None
    if reassess is not None and ids:
        coverage = float(reassess(current))
    return check_portfolio(
        snapshot,
        current,
        as_of=as_of,
        within_days=within_days,
        coverage_ratio=coverage,
        coverage_trigger=coverage_trigger,
        own_pledge=own_pledge,
        schedule=schedule,
    )
