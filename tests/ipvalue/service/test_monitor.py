"""Post-loan monitoring: events from changed facts, renewal fees, coverage, exit codes."""

from __future__ import annotations

import datetime as dt
import importlib

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ipvalue.facts.patent import Patent, patents_to_frame
from ipvalue.monitor import (
    EVENT_CODES,
    EXIT_CRITICAL,
    EXIT_OK,
    EXIT_WARNING,
    check_portfolio,
    compare_facts,
    coverage_events,
    monitor_portfolio,
    refresh_facts,
    renewal_events,
)

AS_OF = dt.date(2026, 3, 1)


def frame(**overrides) -> pd.DataFrame:
    base = [
        dict(
            patent_id="US11000001B2", owner="Acme Ltd", legal_status="granted", fees_paid_through="2027-01-01"
        ),
        dict(
            patent_id="US11000002B2", owner="Acme Ltd", legal_status="granted", fees_paid_through="2027-01-01"
        ),
        dict(
            patent_id="US11000003B2", owner="Acme Ltd", legal_status="granted", fees_paid_through="2027-01-01"
        ),
    ]
    for pid, changes in overrides.items():
        for row in base:
            if row["patent_id"] == pid:
                row.update(changes)
    df = patents_to_frame([Patent(**r) for r in base])
    df["revenue"] = 1000.0
    return df


def codes(events) -> set[tuple[str, str | None]]:
    return {(e.code, e.patent_id) for e in events}


def test_nothing_changed_is_exit_0():
    rep = check_portfolio(frame(), frame(), as_of=AS_OF, schedule=None)
    assert rep.events == [] and rep.exit_code == EXIT_OK and rep.level == "ok"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"legal_status": "lapsed"}, "LAPSED"),
        ({"legal_status": "expired"}, "EXPIRED"),
        ({"legal_status": "revoked"}, "REVOKED"),
        ({"legal_status": "withdrawn"}, "WITHDRAWN"),
        ({"invalidation_pending": True}, "INVALIDATION_REQUESTED"),
        ({"owner": "Someone Else Co"}, "OWNER_CHANGED"),
    ],
)
def test_critical_changes(change, code):
    rep = check_portfolio(frame(), frame(US11000002B2=change), as_of=AS_OF, schedule=None)
    assert codes(rep.events) == {(code, "US11000002B2")}
    assert EVENT_CODES[code][0] == "critical" and rep.exit_code == EXIT_CRITICAL


def test_owner_order_and_case_are_not_a_change():
    snap = frame(US11000001B2={"owner": "Acme Ltd;Beta GmbH"})
    cur = frame(US11000001B2={"owner": "beta gmbh; ACME LTD"})
    assert compare_facts(snap, cur) == []


def test_litigation_is_a_warning():
    rep = check_portfolio(frame(), frame(US11000003B2={"in_litigation": True}), as_of=AS_OF, schedule=None)
    assert codes(rep.events) == {("LITIGATION_STARTED", "US11000003B2")} and rep.exit_code == EXIT_WARNING


def test_pledge_detection():
    snap, cur = frame(), frame(US11000001B2={"pledged": True})
    assert compare_facts(snap, cur) == []  # the lender's own pledge appearing is expected
    assert codes(compare_facts(snap, cur, own_pledge=False)) == {("NEW_PLEDGE", "US11000001B2")}
    cur = cur.assign(pledgee=["Bank A", "", ""])
    assert compare_facts(snap, cur) == []  # one new pledgee: ours
    cur.loc["US11000001B2", "pledgee"] = "Bank A;Other Lender"
    assert codes(compare_facts(snap, cur)) == {("NEW_PLEDGE", "US11000001B2")}


def test_missing_facts_are_reported_not_dropped():
    cur = frame().drop(index="US11000003B2")
    rep = check_portfolio(frame(), cur, as_of=AS_OF, schedule=None)
    assert codes(rep.events) == {("FACTS_UNAVAILABLE", "US11000003B2")} and rep.exit_code == EXIT_WARNING


def test_only_eligible_patents_are_monitored():
    snap = frame().assign(eligible=[True, False, True])
    rep = check_portfolio(snap, frame(US11000002B2={"legal_status": "lapsed"}), as_of=AS_OF, schedule=None)
    assert rep.events == [] and rep.n_patents == 3 and rep.n_monitored == 2


def test_renewal_window_boundaries():
    due = AS_OF + dt.timedelta(days=30)
    cur = frame(
        US11000001B2={"fees_paid_through": due.isoformat()},
        US11000002B2={"fees_paid_through": (due + dt.timedelta(days=1)).isoformat()},
        US11000003B2={"fees_paid_through": (AS_OF - dt.timedelta(days=10)).isoformat()},
    )
    ev = renewal_events(cur, as_of=AS_OF, within_days=30, schedule=None)
    assert codes(ev) == {("RENEWAL_FEE_DUE", "US11000001B2"), ("RENEWAL_FEE_OVERDUE", "US11000003B2")}
    over = next(e for e in ev if e.code == "RENEWAL_FEE_OVERDUE")
    assert over.details["days_overdue"] == 10 and over.details["grace_period_ends"] == "2026-08-19"
    assert codes(renewal_events(cur, as_of=AS_OF, within_days=31, schedule=None)) >= {
        ("RENEWAL_FEE_DUE", "US11000002B2")
    }


def test_renewal_uses_a_schedule_when_paid_through_is_unknown():
    cur = frame(US11000001B2={"fees_paid_through": None})

    def schedule(patent, as_of, *, until):
        return pd.DataFrame(
            {
                "due_date": [pd.Timestamp("2026-03-20")],
                "fee_year": [7],
                "amount": [2000.0],
                "currency": ["CNY"],
            }
        )

    ev = renewal_events(cur, as_of=AS_OF, within_days=30, schedule=schedule)
    e = next(e for e in ev if e.patent_id == "US11000001B2")
    assert e.code == "RENEWAL_FEE_DUE" and e.details["amount"] == 2000.0 and e.details["days_left"] == 19


@given(st.integers(0, 400), st.integers(0, 400))
@settings(max_examples=30, deadline=None)
def test_a_wider_window_never_loses_an_event(a, b):
    lo, hi = sorted((a, b))
    cur = frame(
        US11000001B2={"fees_paid_through": "2026-04-15"}, US11000002B2={"fees_paid_through": "2026-12-01"}
    )
    narrow = codes(renewal_events(cur, as_of=AS_OF, within_days=lo, schedule=None))
    wide = codes(renewal_events(cur, as_of=AS_OF, within_days=hi, schedule=None))
    assert narrow <= wide


def test_coverage_events():
    assert coverage_events(0.95, 1.0)[0].code == "COVERAGE_BELOW_TRIGGER"
    assert coverage_events(1.05, 1.0)[0].code == "COVERAGE_NEAR_TRIGGER"
    assert coverage_events(1.5, 1.0) == []
    assert coverage_events(None, 1.0) == []


def test_monitor_portfolio_fetches_and_reassesses():
    calls = []

    def fetch(ids):
        calls.append(list(ids))
        return frame(US11000001B2={"legal_status": "lapsed"})

    def reassess(current):
        # collateral value of the refreshed portfolio: the lapsed patent drops out
        alive = (current["legal_status"] == "granted").sum()
        return alive * 0.4

    rep = monitor_portfolio(
        frame(), as_of=AS_OF, fetch=fetch, coverage_trigger=1.0, reassess=reassess, schedule=None
    )
    assert calls == [["US11000001B2", "US11000002B2", "US11000003B2"]]
    assert rep.coverage_ratio == pytest.approx(0.8)
    assert {e.code for e in rep.events} == {"LAPSED", "COVERAGE_BELOW_TRIGGER"}
    d = rep.to_dict()
    assert d["exit_code"] == 2 and d["events"][0]["severity"] == "critical"


def test_refresh_facts_keeps_economics_and_unrefreshed_rows():
    snap = frame()
    cur = frame(US11000002B2={"legal_status": "lapsed", "owner": "New Owner"}).drop(index="US11000003B2")
    cur = cur.drop(columns=["revenue"])
    out = refresh_facts(snap, cur)
    assert list(out.index) == list(snap.index)
    assert (
        out.loc["US11000002B2", "legal_status"] == "lapsed"
        and out.loc["US11000002B2", "owner"] == "New Owner"
    )
    assert (out["revenue"] == 1000.0).all()
    assert out.loc["US11000003B2", "legal_status"] == "granted"
    assert pd.api.types.is_datetime64_any_dtype(out["fees_paid_through"])


def test_renewal_amount_from_the_terms_module():
    importlib.import_module("ipvalue.terms")
    # CNIPA annual fee for an invention patent, fee years 10-12: CNY 4,000 (CNIPA 专利收费标准, https://www.cnipa.gov.cn/;
    # the table and its sources are in ipvalue/data/fees_cnipa_annual.json). Filed 2015-08-01: the 12th year
    # starts 2026-08-01.
    cur = patents_to_frame(
        [
            Patent(
                patent_id="CN201510410881.9",
                legal_status="granted",
                filing_date=dt.date(2015, 8, 1),
                grant_date=dt.date(2018, 3, 2),
                fees_paid_through=dt.date(2026, 7, 31),
                owner=["Acme"],
            )
        ]
    )
    ev = renewal_events(cur, as_of=dt.date(2026, 6, 30), within_days=60)
    assert [(e.code, e.details["amount"], e.details["currency"]) for e in ev] == [
        ("RENEWAL_FEE_DUE", 4000.0, "CNY")
    ]
    assert renewal_events(cur, as_of=dt.date(2026, 6, 30), within_days=20) == []


def test_failure_rows_carry_the_reason():
    cur = frame()
    cur["fetch_error"] = None
    cur.loc["US11000002B2", ["legal_status", "fetch_error"]] = [None, "epo_ops: 503 service unavailable"]
    ev = compare_facts(frame(), cur)
    assert [(e.code, e.patent_id, e.details["reason"]) for e in ev] == [
        ("FACTS_UNAVAILABLE", "US11000002B2", "epo_ops: 503 service unavailable")
    ]


def _schedule_one_by_one(row, as_of, until=None):
    """The terms module's schedule behind a wrapper, so renewal_events asks it patent by patent (the reference)."""
    from ipvalue.terms import renewal_schedule

    return renewal_schedule(row, as_of, until=until)


def _fee_book(n: int) -> pd.DataFrame:
    from ipvalue.valuation._synthetic import synthetic_portfolio

    book = synthetic_portfolio(n, seed=3).reset_index(drop=True)
    # the synthetic book is CNIPA's: every 4th patent made a USPTO one (entity sizes in turn), every 7th an EPO one
    k = pd.Series(range(len(book)))
    us, ep = (k % 4 == 1).to_numpy(), (k % 7 == 2).to_numpy() & ~(k % 4 == 1).to_numpy()
    book.loc[us, "jurisdiction"] = "US"
    book.loc[us, "patent_id"] = [f"US{10_000_000 + i}B2" for i in k[us]]
    book.loc[us, "entity_size"] = [("small", "micro", None)[i % 3] for i in k[us]]
    book.loc[ep, "jurisdiction"] = "EP"
    book.loc[ep, "patent_id"] = [f"EP{3_000_000 + i}B1" for i in k[ep]]
    book = book.set_index("patent_id", drop=False)
    # a third paid through a date near each as_of below (the 31-day "same fee" test), a third unknown
    rng = pd.Series(range(len(book)), index=book.index)
    book["fees_paid_through"] = pd.NaT
    paid = (rng % 3 == 0).to_numpy()
    book.loc[paid, "fees_paid_through"] = pd.Timestamp("2026-05-15") + pd.to_timedelta(
        (rng[paid] * 37) % 900, unit="D"
    )
    return book


@pytest.mark.parametrize("as_of", [dt.date(2026, 6, 30), dt.date(2028, 2, 29), dt.date(2029, 1, 31)])
@pytest.mark.parametrize("within_days", [30, 400])
def test_renewal_events_for_the_book_equal_the_per_patent_schedules(as_of, within_days):
    # the book-wide reading of the fee schedules (terms' first_fees_due) against renewal_schedule per patent
    book = _fee_book(80)
    fast = renewal_events(book, as_of=as_of, within_days=within_days)
    slow = renewal_events(book, as_of=as_of, within_days=within_days, schedule=_schedule_one_by_one)
    assert fast == slow
    assert {e.code for e in fast} <= {"RENEWAL_FEE_DUE", "RENEWAL_FEE_OVERDUE"}
    assert any("amount" in e.details for e in fast) or within_days < 90


def test_one_patent_the_terms_module_refuses_does_not_lose_the_others():
    # an entity size the USPTO schedule does not know: renewal_schedule raises for that patent only
    book = _fee_book(60)
    us = book.index[book["jurisdiction"].eq("US").to_numpy()]
    assert len(us) > 1
    book.loc[us[0], "entity_size"] = "giant"
    fast = renewal_events(book, as_of=dt.date(2026, 6, 30), within_days=400)
    slow = renewal_events(book, as_of=dt.date(2026, 6, 30), within_days=400, schedule=_schedule_one_by_one)
    assert fast == slow
    assert any(e.patent_id != str(us[0]) and "amount" in e.details for e in fast)
