"""Settings and CORS through the ASGI app in-process (the HTTP behaviour proper is tested on a real server)."""

from __future__ import annotations

import json

import pytest
from _fakes import fake_pipeline
from fastapi.testclient import TestClient

from ipvalue.service import ApiKey, ServiceSettings, create_app, new_api_key, verify_api_key
from ipvalue.service.auth import KeyRing


def test_cors_allows_only_listed_origins(tmp_path):
    secret, rec = new_api_key("web", ["read"])
    app = create_app(
        ServiceSettings(db_path=tmp_path / "c.db", api_keys=[rec], cors_origins=["https://loans.example.cn"]),
        pipeline=fake_pipeline(),
    )
    with TestClient(app) as c:
        pre = c.options(
            "/v1/policies",
            headers={
                "Origin": "https://loans.example.cn",
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "authorization",
            },
        )
        assert pre.status_code == 200
        assert pre.headers["access-control-allow-origin"] == "https://loans.example.cn"
        bad = c.options(
            "/v1/policies", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
        )
        assert "access-control-allow-origin" not in bad.headers
        r = c.get("/v1/policies", headers={"Origin": "https://loans.example.cn", "X-API-Key": secret})
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "https://loans.example.cn"


def test_wildcard_cors_refused(tmp_path):
    with pytest.raises(ValueError, match="wildcard"):
        ServiceSettings(db_path=tmp_path / "x.db", cors_origins=["*"])


def test_settings_from_env(tmp_path):
    _, rec = new_api_key("los")
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps({"keys": [rec.model_dump(mode="json")]}), encoding="utf-8")
    s = ServiceSettings.from_env(
        {
            "IPVALUE_DB": str(tmp_path / "e.db"),
            "IPVALUE_API_KEYS_FILE": str(keys),
            "IPVALUE_MAX_PATENTS": "10",
            "IPVALUE_CORS_ORIGINS": "https://a.example, https://b.example",
            "IPVALUE_FETCH_BASE_URLS": '{"lens": "http://127.0.0.1:1"}',
        }
    )
    assert s.db_path == tmp_path / "e.db" and s.max_patents == 10 and s.api_keys_file == keys
    assert [k.id for k in KeyRing(s.api_keys, s.api_keys_file).keys()] == ["los"]
    assert s.cors_origins == ["https://a.example", "https://b.example"]
    assert s.fetch_base_urls == {"lens": "http://127.0.0.1:1"}
    assert ServiceSettings.from_env({}).cors_origins == []  # closed by default


def test_keys_are_hashed_with_their_own_salt():
    s1, r1 = new_api_key("a")
    s2, r2 = new_api_key("b")
    assert r1.salt != r2.salt and s1 not in r1.model_dump_json()
    assert verify_api_key(s1, [r1, r2]).id == "a" and verify_api_key(s2, [r1, r2]).id == "b"
    assert verify_api_key(s1 + "x", [r1, r2]) is None and verify_api_key("", [r1]) is None
    with pytest.raises(ValueError):
        ApiKey(id="bad id with spaces", salt=r1.salt, sha256=r1.sha256)


def test_no_keys_configured_means_401(tmp_path):
    app = create_app(ServiceSettings(db_path=tmp_path / "n.db"), pipeline=fake_pipeline())
    with TestClient(app) as c:
        assert c.get("/v1/policies", headers={"X-API-Key": "anything"}).status_code == 401
        assert c.get("/v1/health").status_code == 200


def test_two_apps_share_nothing(tmp_path):
    s1, r1 = new_api_key("one")
    s2, r2 = new_api_key("two")
    a1 = create_app(ServiceSettings(db_path=tmp_path / "1.db", api_keys=[r1]), pipeline=fake_pipeline())
    a2 = create_app(ServiceSettings(db_path=tmp_path / "2.db", api_keys=[r2]), pipeline=fake_pipeline())
    with TestClient(a1) as c1, TestClient(a2) as c2:
        assert c1.get("/v1/policies", headers={"X-API-Key": s2}).status_code == 401
        assert c2.get("/v1/policies", headers={"X-API-Key": s2}).status_code == 200


def test_unfetchable_numbers_are_refused_by_name(tmp_path, monkeypatch):
    from ipvalue.service.pipeline import make_fetch

    monkeypatch.delenv("EPO_OPS_KEY", raising=False)
    monkeypatch.delenv("EPO_OPS_SECRET", raising=False)
    secret, rec = new_api_key("los")
    fetch = make_fetch(["epo_ops"], {"epo_ops": "http://127.0.0.1:9/epo/3.2"})  # loopback, never reached
    app = create_app(
        ServiceSettings(db_path=tmp_path / "f.db", api_keys=[rec]), pipeline=fake_pipeline(fetch=fetch)
    )
    body = {
        "numbers": ["EP2400812A1"],
        "loan": {"amount": 1e6, "currency": "CNY", "tenor_years": 1},
        "as_of": "2026-01-01",
    }
    with TestClient(app) as c:
        r = c.post("/v1/assessments", json=body, headers={"X-API-Key": secret})
    assert r.status_code == 422
    d = r.json()["error"]["details"][0]
    assert d["path"] == "body.numbers.0" and "EP2400812A1" in d["msg"] and "EPO_OPS_KEY" in d["msg"]
