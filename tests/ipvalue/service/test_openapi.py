"""The OpenAPI contract: the committed docs/openapi.json must match the app (regenerate deliberately with
``python -m ipvalue.service.openapi docs/openapi.json``)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from ipvalue.service.openapi import openapi_document, render

SNAPSHOT = Path(__file__).resolve().parents[3] / "docs" / "openapi.json"


def test_committed_snapshot_matches_the_app():
    committed = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    current = json.loads(render(openapi_document()))
    assert current == committed, "the API contract changed: review it, then regenerate docs/openapi.json"


def test_running_server_serves_the_same_document(server):
    served = httpx.get(server.url + "/v1/openapi.json", timeout=10).json()
    assert served == json.loads(SNAPSHOT.read_text(encoding="utf-8"))


def test_contract_essentials():
    doc = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    paths = doc["paths"]
    for p in (
        "/v1/assessments",
        "/v1/assessments/{assessment_id}",
        "/v1/assessments/{assessment_id}/report",
        "/v1/assessments/{assessment_id}/monitor",
        "/v1/valuations",
        "/v1/policies",
        "/v1/health",
        "/v1/jobs/{job_id}",
    ):
        assert p in paths, p
    post = paths["/v1/assessments"]["post"]
    assert {"201", "202", "401", "403", "409", "413", "422"} <= set(post["responses"])
    assert any(prm["name"] == "Idempotency-Key" for prm in post["parameters"])
    assert set(doc["components"]["securitySchemes"]) == {"ApiKeyHeader", "Bearer"}
    assert "security" not in paths["/v1/health"]["get"]
    report = paths["/v1/assessments/{assessment_id}/report"]["get"]
    fmt = next(p for p in report["parameters"] if p["name"] == "format")
    assert set(fmt["schema"]["enum"]) == {"html", "pdf", "xlsx"}


def test_a_changed_contract_is_detected(monkeypatch):
    doc = openapi_document()
    doc["paths"]["/v1/assessments"]["post"]["summary"] = "changed"
    assert json.loads(render(doc)) != json.loads(SNAPSHOT.read_text(encoding="utf-8"))
