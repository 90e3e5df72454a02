"""End to end with the real stages (read_portfolio, value_portfolio, assess_collateral, report.write) behind
``ipvalue serve`` (serve_command) in a uvicorn process: the bundled demo portfolio and loan."""

from __future__ import annotations

import importlib
import math

import httpx
import pytest

from ipvalue.facts.patent import COLUMN_KINDS
from ipvalue.report.assessment_json import frame_records
from ipvalue.service.compute import ANSWER_MEMBERS

demo = importlib.import_module("ipvalue.demo")


def auth(secret: str) -> dict:
    return {"Authorization": f"Bearer {secret}"}


def demo_body(n: int | None = None, *, seed: int = 7) -> dict:
    frame, loan, as_of = demo.load_demo()
    if n is not None:
        frame = frame.iloc[:n]
    cols = [c for c in COLUMN_KINDS if c in frame.columns and c not in ("source", "fetched_at")]
    patents = []
    for p in frame_records(frame[cols]):
        p = {k: v for k, v in p.items() if v is not None}
        for k in ("owner", "cpc", "family_jurisdictions"):
            if k in p:
                p[k] = p[k].split(";")
        patents.append(p)
    lj = loan.to_dict()
    lj["risk_sharing"] = {
        k: (None if isinstance(v, float) and math.isinf(v) else v) for k, v in lj["risk_sharing"].items()
    }
    return {
        "patents": patents,
        "loan": {k: v for k, v in lj.items() if v is not None},
        "as_of": str(as_of),
        "seed": seed,
    }


@pytest.fixture(scope="module")
def real(tmp_path_factory, keys):
    from _helpers import Server

    d = tmp_path_factory.mktemp("real")
    s = Server(
        db=d / "service.db", keys_file=keys.file, args=["--pipeline", "real", "--job-threshold", "100"]
    )
    s.start(timeout=60)
    yield s
    s.stop()


@pytest.mark.slow
def test_demo_assessment_end_to_end(real, keys):
    body = demo_body()
    with httpx.Client(base_url=real.url, timeout=120) as c:
        names = [p["name"] for p in c.get("/v1/policies", headers=auth(keys.ro)).json()["policies"]]
        assert "cn-bank-standard" in names
        r = c.post("/v1/assessments", json=body, headers=auth(keys.rw))
        assert r.status_code == 201, r.text
        a = r.json()
        assert [p["patent_id"] for p in a["patents"]] == [p["patent_id"] for p in body["patents"]]
        # computed in a worker process, answered from the text it sent back: byte for byte what the store answers,
        # the answer's own members first
        assert c.get(f"/v1/assessments/{a['id']}", headers=auth(keys.ro)).content == r.content
        result = {"summary", "patents", "liquidation", "stress", "loan", "policy", "assumptions", "audit"}
        assert set(list(a)[: len(ANSWER_MEMBERS)]) == ANSWER_MEMBERS and set(a) == ANSWER_MEMBERS | result
        s = a["summary"]
        assert s["n_patents"] == len(body["patents"]) and s["seed"] == 7 and s["policy"] == "cn-bank-standard"
        assert 0 <= s["collateral_value"] <= s["eligible_value"] <= s["appraised_value"]
        assert s["coverage_ratio"] == pytest.approx(s["collateral_value"] / body["loan"]["amount"])
        # reproducible: the same request gives the same numbers (a new record, the same output hash)
        again = c.post("/v1/assessments", json=body, headers=auth(keys.rw)).json()
        assert again["output_hash"] == a["output_hash"] and again["id"] != a["id"]
        # a validator re-runs it from the stored input: the same result hash, recorded in the audit trail
        rep = c.post(f"/v1/assessments/{a['id']}/replay", headers=auth(keys.rw))
        assert rep.status_code == 200 and rep.json()["reproduced"] is True
        trail = c.get(f"/v1/assessments/{a['id']}/audit", headers=auth(keys.ro)).json()["entries"]
        assert [e["action"] for e in trail] == ["assessment.create", "assessment.replay"]
        assert trail[0]["output_hash"] == a["output_hash"] == trail[1]["output_hash"]
        assert trail[1]["prev_hash"] != trail[0]["prev_hash"]
        # reports in both languages, rebuilt from the stored record
        html = c.get(
            f"/v1/assessments/{a['id']}/report",
            params={"format": "html", "lang": "en"},
            headers=auth(keys.ro),
        )
        assert html.status_code == 200 and b"<html" in html.content[:2000].lower()
        xlsx = c.get(
            f"/v1/assessments/{a['id']}/report",
            params={"format": "xlsx", "lang": "zh"},
            headers=auth(keys.ro),
        )
        assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
        again_html = c.get(
            f"/v1/assessments/{a['id']}/report",
            params={"format": "html", "lang": "en"},
            headers=auth(keys.ro),
        )
        assert again_html.content == html.content
        # a real policy list: an unknown name is refused, a file path is never read
        for bad in ("no-such-policy", "/etc/passwd", "../ipvalue/data/policy_conservative.json"):
            e = c.post("/v1/assessments", json={**body, "policy": bad}, headers=auth(keys.rw))
            assert e.status_code == 422 and e.json()["error"]["details"][0]["path"] == "body.policy"
        # the real reader's checks come back with the field path and the patent
        dup = {**body, "patents": [dict(p) for p in body["patents"]]}
        dup["patents"][5]["patent_id"] = dup["patents"][2]["patent_id"]
        e = c.post("/v1/assessments", json=dup, headers=auth(keys.rw))
        assert e.status_code == 422
        d = e.json()["error"]["details"][0]
        assert d["path"] == "body.patents.5.patent_id" and d["patent"] == body["patents"][2]["patent_id"]
        other = c.post(
            "/v1/assessments", json={**body, "policy": "conservative"}, headers=auth(keys.rw)
        ).json()
        assert other["summary"]["policy"] == "conservative"


def test_demo_valuation_and_monitoring(real, keys):
    body = demo_body(12)
    with httpx.Client(base_url=real.url, timeout=120) as c:
        v = c.post(
            "/v1/valuations", json={k: body[k] for k in ("patents", "as_of", "seed")}, headers=auth(keys.rw)
        )
        assert v.status_code == 201, v.text
        assert len(v.json()["patents"]) == 12 and v.json()["valuation"]["seed"] == 7
        a = c.post("/v1/assessments", json=body, headers=auth(keys.rw)).json()
        eligible = [p["patent_id"] for p in a["patents"] if p["eligible"]]
        assert eligible, "the demo should have eligible patents"
        facts = [dict(p) for p in body["patents"]]
        for f in facts:
            if f["patent_id"] == eligible[0]:
                f["legal_status"] = "lapsed"
        m = c.post(
            f"/v1/assessments/{a['id']}/monitor",
            json={"as_of": body["as_of"], "facts": facts},
            headers=auth(keys.rw),
        )
        assert m.status_code == 200, m.text
        out = m.json()
        assert ("LAPSED", eligible[0]) in {(e["code"], e["patent_id"]) for e in out["events"]}
        assert out["exit_code"] == 2
        assert out["coverage_ratio"] is not None
        assert (
            out["coverage_ratio"] <= a["summary"]["coverage_ratio"] + 1e-12
        )  # losing a patent cannot raise it
