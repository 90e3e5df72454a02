"""Monitoring over HTTP: a pledged portfolio whose facts change between two fetches, served by the connectors'
fake patent server (tests.fakes.FakePatentServer) on loopback, fetched by the service process."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.fakes import FakePatentServer

NUMBERS = ["EP3000001B1", "EP3000002B1", "EP3000003B1"]
GRANTED = [
    {"code": "GRAA", "date": "2016-09-07"},
    {"code": "PGFP", "state": "DE", "fee_year": 12, "date": "2026-02-01"},
]


def auth(secret: str) -> dict:
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def patents_server():
    with FakePatentServer(fixtures=False) as srv:
        for n in NUMBERS:
            srv.add_ep(n, events=list(GRANTED), applicants=["ACME CO LTD [CN]"])
        yield srv


def test_facts_change_between_two_fetches(make_server, keys, patents_server):
    srv = make_server(
        "--fetch-base-urls",
        json.dumps(patents_server.base_urls),
        "--fetch-sources",
        "epo_ops",
        env=patents_server.env,
    ).start()
    with httpx.Client(base_url=srv.url, timeout=60) as c:
        body = {
            "numbers": NUMBERS,
            "loan": {"amount": 15_000, "currency": "CNY", "tenor_years": 1.0},
            "as_of": "2026-03-01",
        }
        r = c.post("/v1/assessments", json=body, headers=auth(keys.rw))
        assert r.status_code == 201, r.text
        aid = r.json()["id"]
        assert [p["owner"] for p in r.json()["patents"]] == ["ACME CO LTD"] * 3
        assert r.json()["summary"]["coverage_ratio"] == pytest.approx(1.2)  # 3 x 10,000 x (1 - 0.4) / 15,000

        first = c.post(
            f"/v1/assessments/{aid}/monitor",
            json={"as_of": "2026-06-01", "within_days": 90},
            headers=auth(keys.rw),
        )
        assert first.status_code == 200, first.text
        assert (
            first.json()["events"] == [] and first.json()["exit_code"] == 0 and first.json()["level"] == "ok"
        )

        # the world moves on: one patent lapses for unpaid fees, another is transferred to a new owner
        patents_server.add_event("EP3000001B1", code="CF01", date="2026-05-10")
        patents_server.add_ep(
            "EP3000002B1",
            events=[*GRANTED, {"code": "RAP1", "date": "2026-05-01"}],
            applicants=["NEW OWNER GMBH [DE]"],
        )

        second = c.post(
            f"/v1/assessments/{aid}/monitor",
            json={"as_of": "2026-06-01", "within_days": 90},
            headers=auth(keys.rw),
        )
        out = second.json()
        assert second.status_code == 200, second.text
        got = {(e["code"], e["patent_id"]) for e in out["events"]}
        assert got == {
            ("LAPSED", "EP3000001B1"),
            ("OWNER_CHANGED", "EP3000002B1"),
            ("COVERAGE_BELOW_TRIGGER", None),
        }
        assert out["exit_code"] == 2 and out["level"] == "critical"
        assert out["coverage_ratio"] == pytest.approx(0.8)  # the lapsed patent is worth nothing now
        owner = next(e for e in out["events"] if e["code"] == "OWNER_CHANGED")
        assert owner["details"] == {"before": "ACME CO LTD", "after": "NEW OWNER GMBH"}

        # a renewal fee coming due inside a wider window is a warning on the unchanged patent
        wide = c.post(
            f"/v1/assessments/{aid}/monitor",
            json={"as_of": "2026-06-01", "within_days": 300, "revalue": False},
            headers=auth(keys.rw),
        )
        fee = [e for e in wide.json()["events"] if e["code"] == "RENEWAL_FEE_DUE"]
        assert {e["patent_id"] for e in fee} >= {"EP3000003B1"}

        # a number no source knows is refused by name, not dropped
        bad = c.post(
            "/v1/assessments", json={**body, "numbers": [*NUMBERS, "EP3999999B1"]}, headers=auth(keys.rw)
        )
        assert bad.status_code == 422
        assert bad.json()["error"]["details"][0]["path"] == "body.numbers.3"
        assert "EP3999999B1" in bad.json()["error"]["details"][0]["msg"]

        # every monitoring run is in the audit trail of the assessment (read-only key cannot run one)
        assert (
            c.post(
                f"/v1/assessments/{aid}/monitor", json={"as_of": "2026-06-01"}, headers=auth(keys.ro)
            ).status_code
            == 403
        )
    srv.stop()
    from ipvalue.service.store import SQLiteAssessmentStore

    store = SQLiteAssessmentStore(srv.db)
    try:
        actions = [(e["action"], e["details"].get("level")) for e in store.audit_entries(aid)]
    finally:
        store.close()
    assert actions == [
        ("assessment.create", None),
        ("monitor.run", "ok"),
        ("monitor.run", "critical"),
        ("monitor.run", wide.json()["level"]),
    ]


def test_inline_facts(server, keys):
    from _helpers import assessment_body

    with httpx.Client(base_url=server.url, timeout=30) as c:
        body = assessment_body(3)
        a = c.post("/v1/assessments", json=body, headers=auth(keys.rw)).json()
        facts = [dict(p) for p in body["patents"]]
        facts[1]["invalidation_pending"] = True
        r = c.post(
            f"/v1/assessments/{a['id']}/monitor",
            json={"as_of": "2026-02-01", "facts": facts, "revalue": False},
            headers=auth(keys.rw),
        )
        assert r.status_code == 200
        assert {(e["code"], e["patent_id"]) for e in r.json()["events"]} == {
            ("INVALIDATION_REQUESTED", body["patents"][1]["patent_id"])
        }
        facts[0]["filing_date"] = "not a date"
        bad = c.post(
            f"/v1/assessments/{a['id']}/monitor",
            json={"as_of": "2026-02-01", "facts": facts, "revalue": False},
            headers=auth(keys.rw),
        )
        assert (
            bad.status_code == 422 and bad.json()["error"]["details"][0]["path"] == "body.facts.0.filing_date"
        )
