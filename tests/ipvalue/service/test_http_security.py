"""Authentication, scopes, limits and error bodies, against a real uvicorn process on loopback."""

from __future__ import annotations

import httpx
import pytest
from _helpers import assessment_body, directive


@pytest.fixture(scope="module")
def client(server):
    with httpx.Client(base_url=server.url, timeout=30) as c:
        yield c


def auth(secret: str) -> dict:
    return {"Authorization": f"Bearer {secret}"}


def test_health_needs_no_key(client):
    r = client.get("/v1/health")
    assert r.status_code == 200
    assert r.json()["status"] == "ok"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer ipv_wrong"},
        {"X-API-Key": "ipv_wrong"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer"},
    ],
)
def test_missing_or_wrong_key_is_401_without_detail(client, headers):
    for method, path in (
        ("GET", "/v1/policies"),
        ("POST", "/v1/assessments"),
        ("GET", "/v1/assessments/x"),
        ("GET", "/v1/no-such-route"),
    ):
        r = client.request(
            method, path, headers=headers, json=assessment_body() if method == "POST" else None
        )
        assert r.status_code == 401, (method, path)
        assert r.json() == {"error": {"code": "unauthorized", "message": "missing or invalid API key"}}
        assert r.headers["www-authenticate"] == "Bearer"
        assert r.headers["cache-control"] == "no-store"


def test_a_prefix_of_a_real_key_is_rejected(client, keys):
    r = client.get("/v1/policies", headers=auth(keys.rw[:-1]))
    assert r.status_code == 401


def test_both_header_forms_accepted(client, keys):
    assert client.get("/v1/policies", headers=auth(keys.ro)).status_code == 200
    assert client.get("/v1/policies", headers={"X-API-Key": keys.ro}).status_code == 200


def test_read_only_key_cannot_write_and_write_only_cannot_read(client, keys):
    r = client.post("/v1/assessments", headers=auth(keys.ro), json=assessment_body())
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "forbidden"
    assert "detail" not in r.text.lower() or "details" not in r.json()["error"]
    assert client.post("/v1/valuations", headers=auth(keys.ro), json=assessment_body()).status_code == 403
    assert client.get("/v1/policies", headers=auth(keys.wo)).status_code == 403


def test_malformed_json_is_400(client, keys):
    r = client.post(
        "/v1/assessments",
        headers={**auth(keys.rw), "Content-Type": "application/json"},
        content=b'{"patents": [',
    )
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "malformed_json"


def test_body_not_an_object_is_422(client, keys):
    r = client.post("/v1/assessments", headers=auth(keys.rw), json=[1, 2, 3])
    assert r.status_code == 422


def test_oversized_body_is_413_by_content_length(client, keys):
    body = assessment_body(2)
    body["patents"][0]["title"] = "x" * 250_000
    r = client.post("/v1/assessments", headers=auth(keys.rw), json=body)
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "payload_too_large"


def test_oversized_chunked_body_is_413(client, keys):
    chunk = b" " * 50_000

    def gen():
        yield b'{"patents": [], "pad": "'
        for _ in range(10):
            yield chunk
        yield b'"}'

    r = client.post(
        "/v1/assessments", headers={**auth(keys.rw), "Content-Type": "application/json"}, content=gen()
    )
    assert r.status_code == 413


def test_too_many_patents_is_422_naming_the_field(client, keys):
    r = client.post("/v1/assessments", headers=auth(keys.rw), json=assessment_body(61))
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] == "too_many_patents"
    assert err["details"][0]["path"] == "body.patents"


def test_unknown_policy_is_422_naming_the_field(client, keys):
    r = client.post("/v1/assessments", headers=auth(keys.rw), json=assessment_body(policy="no-such-policy"))
    assert r.status_code == 422
    d = r.json()["error"]["details"][0]
    assert d["path"] == "body.policy" and "no-such-policy" in d["msg"] and "cn-bank-standard" in d["msg"]


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda b: b["patents"][1].update(filing_date="2019-02-30"), "body.patents.1.filing_date"),
        (lambda b: b["patents"][2].update(claims=-3), "body.patents.2.claims"),
        (lambda b: b["patents"][0].update(royalty_rate=1.5), "body.patents.0.royalty_rate"),
        (lambda b: b["patents"][0].update(unknown_column=1), "body.patents.0.unknown_column"),
        (lambda b: b["loan"].update(amount=-5), "body.loan.amount"),
        (lambda b: b["loan"].pop("currency"), "body.loan.currency"),
        (lambda b: b.pop("as_of"), "body.as_of"),
    ],
)
def test_validation_errors_name_the_field_path(client, keys, mutate, path):
    body = assessment_body(3)
    mutate(body)
    r = client.post("/v1/assessments", headers=auth(keys.rw), json=body)
    assert r.status_code == 422
    paths = [d["path"] for d in r.json()["error"]["details"]]
    assert path in paths


def test_bad_patent_number_names_the_patent(client, keys):
    body = assessment_body(2)
    body["patents"][1]["patent_id"] = "CN201510123456.0"  # wrong check digit
    r = client.post("/v1/assessments", headers=auth(keys.rw), json=body)
    assert r.status_code == 422
    d = r.json()["error"]["details"][0]
    assert d["path"].startswith("body.patents.1.patent_id")
    assert "CN201510123456.0" in d["msg"]


def test_patents_and_numbers_are_exclusive(client, keys):
    body = assessment_body(1, numbers=["US11000000B2"])
    r = client.post("/v1/assessments", headers=auth(keys.rw), json=body)
    assert r.status_code == 422


def test_internal_error_leaks_nothing(client, keys):
    r = client.post("/v1/assessments", headers=auth(keys.rw), json=directive(assessment_body(), "explode"))
    assert r.status_code == 500
    assert r.json() == {"error": {"code": "internal_error", "message": "internal error"}}
    assert "secret" not in r.text and "Traceback" not in r.text


def test_not_found_and_wrong_kind(client, keys):
    r = client.get("/v1/assessments/asm_doesnotexist", headers=auth(keys.rw))
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    v = client.post(
        "/v1/valuations",
        headers=auth(keys.rw),
        json={k: v for k, v in assessment_body().items() if k != "loan"},
    )
    assert v.status_code == 201
    assert client.get(f"/v1/assessments/{v.json()['id']}", headers=auth(keys.rw)).status_code == 404
    assert client.get(f"/v1/valuations/{v.json()['id']}", headers=auth(keys.rw)).status_code == 200


def test_cors_closed_by_default(client, keys):
    r = client.options(
        "/v1/policies", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
    )
    assert "access-control-allow-origin" not in r.headers
    r = client.get("/v1/policies", headers={**auth(keys.ro), "Origin": "https://evil.example"})
    assert r.status_code == 200 and "access-control-allow-origin" not in r.headers


def test_security_headers(client, keys):
    r = client.get("/v1/policies", headers=auth(keys.ro))
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["x-content-type-options"] == "nosniff"


def test_round_trip_and_report(client, keys):
    body = assessment_body(4)
    body["patents"][3]["legal_status"] = "lapsed"
    r = client.post("/v1/assessments", headers=auth(keys.rw), json=body)
    assert r.status_code == 201
    created = r.json()
    assert r.headers["location"] == f"/v1/assessments/{created['id']}"
    # every input patent is in the output, ineligible ones too
    assert [p["patent_id"] for p in created["patents"]] == [p["patent_id"] for p in body["patents"]]
    got = client.get(r.headers["location"], headers=auth(keys.ro)).json()
    assert got == created
    rep = client.get(
        f"/v1/assessments/{created['id']}/report",
        params={"format": "html", "lang": "en"},
        headers=auth(keys.ro),
    )
    assert rep.status_code == 200 and rep.headers["content-type"].startswith("text/html")
    # the report is rebuilt from the stored record: same collateral value, same patents, the draws kept
    assert f"collateral {created['summary']['collateral_value']:.2f}" in rep.text
    assert "n=4 draws=200" in rep.text
    bad = client.get(
        f"/v1/assessments/{created['id']}/report", params={"format": "doc"}, headers=auth(keys.ro)
    )
    assert bad.status_code == 422 and bad.json()["error"]["details"][0]["path"] == "query.format"


def test_same_request_same_numbers(client, keys):
    body = assessment_body(3, seed=42)
    a = client.post("/v1/assessments", headers=auth(keys.rw), json=body).json()
    b = client.post("/v1/assessments", headers=auth(keys.rw), json=body).json()
    assert a["id"] != b["id"]
    assert a["input_hash"] == b["input_hash"] and a["output_hash"] == b["output_hash"]


def test_large_portfolio_runs_as_job(client, keys):
    r = client.post("/v1/assessments", headers=auth(keys.rw), json=assessment_body(25))
    assert r.status_code == 202
    loc = r.headers["location"]
    assert r.headers["retry-after"] == "1"
    assert loc == f"/v1/jobs/{r.json()['id']}"
    import time

    for _ in range(600):
        j = client.get(loc, headers=auth(keys.ro)).json()
        assert 0.0 <= j["progress"] <= 1.0
        if j["status"] == "done":
            break
        time.sleep(0.05)
    assert j["status"] == "done" and j["progress"] == 1.0
    res = client.get(j["links"]["result"], headers=auth(keys.ro))
    assert res.status_code == 200 and len(res.json()["patents"]) == 25


def test_failed_job_reports_the_error(client, keys):
    body = assessment_body(25)
    body["patents"][7]["patent_id"] = body["patents"][3]["patent_id"]  # duplicate number
    r = client.post("/v1/assessments", headers=auth(keys.rw), json=body)
    assert r.status_code == 202
    import time

    for _ in range(600):
        j = client.get(r.headers["location"], headers=auth(keys.ro)).json()
        if j["status"] in ("done", "failed"):
            break
        time.sleep(0.05)
    assert j["status"] == "failed"
    assert j["error"]["code"] == "invalid_input" and body["patents"][3]["patent_id"] in j["error"]["message"]
    assert client.get(f"/v1/assessments/{j['id']}", headers=auth(keys.ro)).status_code == 409


def test_audit_trail_scopes(client, keys):
    a = client.post("/v1/assessments", headers=auth(keys.rw), json=assessment_body(2)).json()
    trail = client.get(f"/v1/assessments/{a['id']}/audit", headers=auth(keys.ro))
    assert trail.status_code == 200
    (entry,) = trail.json()["entries"]
    assert entry["who"] == "key-rw" and entry["action"] == "assessment.create"
    assert entry["input_hash"] == a["input_hash"] and entry["output_hash"] == a["output_hash"]
    assert keys.rw not in trail.text  # the key id is recorded, never the secret
    assert client.get(f"/v1/assessments/{a['id']}/audit", headers=auth(keys.wo)).status_code == 403
    assert client.get("/v1/assessments/asm_nope/audit", headers=auth(keys.ro)).status_code == 404
    assert client.post(f"/v1/assessments/{a['id']}/replay", headers=auth(keys.ro)).status_code == 403
    rep = client.post(f"/v1/assessments/{a['id']}/replay", headers=auth(keys.rw)).json()
    assert rep["reproduced"] is True
