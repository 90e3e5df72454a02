"""Webhooks over HTTP against a real ``ipvalue serve`` on loopback, on SQLite and on PostgreSQL.

The routes (register, list, remove, the delivery log) with their scopes and their per-key isolation; then the
whole path of an alert: a pledged patent lapses, a monitoring run through ``POST /v1/assessments/{id}/monitor``
(the real pipeline) raises a critical alert, the service writes it to the outbox with the run's audit entry, and
its sender delivers it, signed, to a receiver on loopback that fails the first attempt.
"""

from __future__ import annotations

import json
import time

import httpx
import pytest
from _load import Instance
from _pg import free_port
from _receiver import Receiver

from ipvalue.service import new_api_key

KEYS = {"loan-system": ["read", "write"], "branch": ["read", "write"], "auditor": ["read"]}


def auth(secret: str) -> dict:
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def served(request, tmp_path_factory):
    """A real ``ipvalue serve`` (one worker) on each backend, with three keys; ``(url, secrets, db)``."""
    from ipvalue.service.store.postgres import PostgresAssessmentStore

    folder = tmp_path_factory.mktemp(f"webhooks-{request.param}")
    secrets, records = {}, []
    for name, scopes in KEYS.items():
        secrets[name], rec = new_api_key(name, scopes)
        records.append(rec.model_dump(mode="json"))
    keys_file = folder / "keys.json"
    keys_file.write_text(json.dumps({"keys": records}), encoding="utf-8")
    if request.param == "sqlite":
        db = str(folder / "service.db")
    else:
        cluster = request.getfixturevalue("pg_cluster")
        db = cluster.url(cluster.create_database())
        PostgresAssessmentStore(db, migrate=True).close()
    inst = Instance(db, keys_file, folder / "audit.key", 1, folder / "serve.log").start()
    yield inst.url, secrets, db
    inst.stop()


@pytest.mark.slow
def test_webhook_routes_register_list_remove_and_scopes(served):
    url, secrets, _ = served
    with httpx.Client(base_url=url, timeout=30) as c:
        made = c.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/a"}, headers=auth(secrets["branch"]))
        assert made.status_code == 201, made.text
        hook = made.json()
        assert hook["id"].startswith("whk_") and hook["secret"].startswith("whsec_")
        assert hook["url"] == "http://127.0.0.1:9/a"
        second = c.post(
            "/v1/webhooks", json={"url": "https://loans.example/hook"}, headers=auth(secrets["branch"])
        ).json()
        assert second["secret"] != hook["secret"]  # one secret per subscription

        listed = c.get("/v1/webhooks", headers=auth(secrets["branch"]))
        assert listed.status_code == 200
        assert [(w["id"], w["url"]) for w in listed.json()["webhooks"]] == [
            (hook["id"], hook["url"]),
            (second["id"], second["url"]),
        ]
        assert all(w["secret"] is None for w in listed.json()["webhooks"])  # the secret is shown once

        # another key neither sees nor removes them; a read-only key may list, not register or remove
        assert c.get("/v1/webhooks", headers=auth(secrets["loan-system"])).json()["webhooks"] == []
        assert c.delete(f"/v1/webhooks/{hook['id']}", headers=auth(secrets["loan-system"])).status_code == 404
        assert c.get("/v1/webhooks", headers=auth(secrets["auditor"])).json()["webhooks"] == []
        ro = c.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/b"}, headers=auth(secrets["auditor"]))
        assert ro.status_code == 403
        assert c.delete(f"/v1/webhooks/{hook['id']}", headers=auth(secrets["auditor"])).status_code == 403
        assert c.get("/v1/webhooks").status_code == 401

        # a URL that is not http(s), and an unknown field, are refused by name
        bad = c.post("/v1/webhooks", json={"url": "ftp://x/y"}, headers=auth(secrets["branch"]))
        assert bad.status_code == 422 and bad.json()["error"]["details"][0]["path"] == "body.url"
        extra = c.post(
            "/v1/webhooks", json={"url": "http://x/y", "events": ["all"]}, headers=auth(secrets["branch"])
        )
        assert extra.status_code == 422

        gone = c.delete(f"/v1/webhooks/{hook['id']}", headers=auth(secrets["branch"]))
        assert gone.status_code == 204
        assert c.delete(f"/v1/webhooks/{hook['id']}", headers=auth(secrets["branch"])).status_code == 404
        left = c.get("/v1/webhooks", headers=auth(secrets["branch"])).json()["webhooks"]
        assert [w["id"] for w in left] == [second["id"]]

        log = c.get("/v1/webhooks/deliveries", headers=auth(secrets["branch"]))
        assert log.status_code == 200 and log.json()["deliveries"] == []  # no alert yet


def pledged_body() -> dict:
    """Two granted Chinese invention patents of one product line (numbers of the demo portfolio), pledged for a
    loan they cover about 2.6 times: both eligible, so both monitored."""
    common = {
        "title": "一种分拣机械臂控制方法",
        "patent_type": "invention",
        "jurisdiction": "CN",
        "filing_date": "2018-06-15",
        "grant_date": "2019-12-27",
        "owner": ["示例智能装备科技有限公司"],
        "legal_status": "granted",
        "fees_paid_through": "2027-06-14",
        "claims": 6,
        "group": "分拣机器人",
        "revenue": 68_000_000,
        "royalty_rate": 0.045,
        "rd_cost": 550_000,
        "rd_year": 2017,
    }
    loan = {"amount": 200_000, "currency": "CNY", "tenor_years": 1.0, "borrower": "示例智能装备科技有限公司"}
    patents = [{**common, "patent_id": n} for n in ("CN201810136750.X", "CN201810162852.9")]
    return {"patents": patents, "loan": loan, "as_of": "2026-06-30", "seed": 0}


def _wait_delivered(c: httpx.Client, secret: str, timeout: float = 60.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        log = c.get("/v1/webhooks/deliveries", headers=auth(secret)).json()["deliveries"]
        if log and all(d["status"] == "delivered" for d in log) or time.monotonic() > deadline:
            return log
        time.sleep(0.2)


@pytest.mark.slow
def test_a_lapsed_pledged_patent_alerts_the_loan_system_signed(served):
    url, secrets, db = served
    key = auth(secrets["loan-system"])
    receiver = Receiver(free_port(), "", fail=1, stall=0, stall_s=0.0)
    stopped = Receiver(free_port(), "", fail=0, stall=0, stall_s=0.0).start()  # a webhook removed before
    with httpx.Client(base_url=url, timeout=120) as c:
        hook = c.post(
            "/v1/webhooks", json={"url": f"http://127.0.0.1:{receiver.port}/ipvalue"}, headers=key
        ).json()
        receiver.secret = hook["secret"]
        old = c.post(
            "/v1/webhooks", json={"url": f"http://127.0.0.1:{stopped.port}/ipvalue"}, headers=key
        ).json()
        assert c.delete(f"/v1/webhooks/{old['id']}", headers=key).status_code == 204

        body = pledged_body()
        made = c.post("/v1/assessments", json=body, headers=key)
        assert made.status_code == 201, made.text
        aid = made.json()["id"]
        assert all(p["eligible"] for p in made.json()["patents"])  # pledged and monitored

        # unchanged facts: no alert, nothing in the outbox
        calm = c.post(
            f"/v1/assessments/{aid}/monitor",
            json={"as_of": "2026-07-01", "facts": body["patents"], "within_days": 30},
            headers=key,
        )
        assert calm.status_code == 200, calm.text
        assert calm.json()["level"] == "ok" and calm.json().get("alert_id") is None

        # the first pledged patent lapses (fees unpaid): a critical alert, sent to the active webhook only
        facts = [dict(p) for p in body["patents"]]
        facts[0]["legal_status"] = "lapsed"
        receiver.start()
        try:
            run = c.post(
                f"/v1/assessments/{aid}/monitor",
                json={"as_of": "2026-07-01", "facts": facts, "within_days": 30},
                headers=key,
            )
            assert run.status_code == 200, run.text
            out = run.json()
            assert out["level"] == "critical"
            assert ("LAPSED", facts[0]["patent_id"]) in {(e["code"], e["patent_id"]) for e in out["events"]}
            log = _wait_delivered(c, secrets["loan-system"])
        finally:
            receiver.stop()
            stopped.stop()
        other = c.get("/v1/webhooks/deliveries", headers=auth(secrets["branch"])).json()["deliveries"]

    # the delivery log: one delivery of this alert to the active webhook, a 500 then delivered
    assert [(d["webhook_id"], d["alert_id"], d["status"]) for d in log] == [
        (hook["id"], out["alert_id"], "delivered")
    ]
    attempts = log[0]["attempts_log"]
    assert [a["outcome"] for a in attempts] == ["http_error", "delivered"]
    assert attempts[0]["status_code"] == 500 and attempts[1]["status_code"] == 200
    assert log[0]["attempts"] == 2 and log[0]["delivered_at"] is not None
    assert all(d["alert_id"] != out["alert_id"] for d in other)  # another key's log does not show it

    # what the receiver got: twice the same delivery, signed with the subscription's secret, the alert inside
    assert len(receiver.seen) == 2 and stopped.seen == []
    assert all(s["valid"] for s in receiver.seen)
    assert {s["delivery"] for s in receiver.seen} == {log[0]["id"]}
    sent = receiver.seen[-1]["body"]
    assert sent["delivery_id"] == log[0]["id"] and sent["alert_id"] == out["alert_id"]
    alert = sent["alert"]
    assert alert["type"] == "monitor.alert" and alert["assessment_id"] == aid
    assert alert["level"] == "critical" and alert["as_of"] == "2026-07-01"
    assert alert["events"] == out["events"]

    # the runs are in the assessment's audit trail (the alert's with the outbox row, one transaction)
    from ipvalue.service.store.location import open_store

    store = open_store(db)
    try:
        runs = [e["details"] for e in store.audit_entries(aid) if e["action"] == "monitor.run"]
    finally:
        store.close()
    assert [r["level"] for r in runs] == ["ok", "critical"]
