"""The workbench's rows on both SQL backends (a real PostgreSQL server and an SQLite file)."""

from __future__ import annotations

import pytest
from _records import audit, record

from ipvalue.service.store.workbench import (
    MonitorRun,
    SignOff,
    Upload,
    User,
    UserExists,
    WebSession,
    WorkbenchRepository,
)


def test_workbench_rows_round_trip(make_store):
    store = make_store()
    assert isinstance(store, WorkbenchRepository)
    store.add_user(User("ann", "analyst", "scrypt$1$1$1$00$00"))
    with pytest.raises(UserExists):
        store.add_user(User("ann", "admin", "x"))
    assert [u.username for u in store.list_users()] == ["ann"]
    assert [store.record_failed_login("ann", 2, "2999-01-01T00:00:00+00:00") for _ in range(2)] == [1, 2]
    ann = store.get_user("ann")
    assert ann.locked_until == "2999-01-01T00:00:00+00:00" and ann.failed_logins == 0 and ann.active
    store.update_user("ann", locked_until=None, active=False)
    assert store.get_user("ann").active is False and store.get_user("ann").locked_until is None
    with pytest.raises(KeyError):
        store.update_user("nobody", active=True)

    store.create_session(
        WebSession("h1", "ann", "c1", "2026-01-01T00:00:00+00:00", "2026-01-02T00:00:00+00:00")
    )
    assert store.get_session("h1").csrf == "c1"
    store.delete_sessions_of("ann")
    assert store.get_session("h1") is None

    store.put_upload(Upload("upl_1", "ann", "", "p.csv", 2, {"issues": []}, [{"patent_id": "CN1"}]))
    assert store.get_upload("upl_1").rows == [{"patent_id": "CN1"}]

    s1 = store.add_signoff(SignOff("asm_1", "rita", "approve", "好"))
    s2 = store.add_signoff(SignOff("asm_1", "rita", "reject", "again"))
    assert s2 > s1 and [s.comment for s in store.signoffs("asm_1")] == ["好", "again"]
    store.add_monitor_run(
        MonitorRun("asm_1", "ann", "2026-12-01", "warning", {"events": [{"code": "FEE_DUE"}]})
    )
    assert store.monitor_runs("asm_1")[0].report["events"][0]["code"] == "FEE_DUE"
    assert store.web_records() == []
    rec = record(
        body={"loan": {"borrower": "示例公司", "amount": 2.5e6, "tenor_years": 3}, "as_of": "2026-06-30"}
    )
    rec.output = {
        "summary": {"collateral_value": 1234.5, "max_loan": 1000.0, "currency": "CNY", "n_patents": 3}
    }
    store.create(rec, audit(rec))
    (row,) = store.web_records()
    assert row["id"] == rec.id and row["borrower"] == "示例公司" and row["currency"] == "CNY"
    assert float(row["collateral_value"]) == 1234.5 and float(row["loan_amount"]) == 2.5e6
    assert float(row["tenor_years"]) == 3 and row["as_of"] == "2026-06-30"
