"""``ipvalue monitor`` and ``ipvalue serve --add-key`` as the lead registers them (typer functions)."""

from __future__ import annotations

import json

import typer
from _fakes import fake_pipeline
from _helpers import assessment_body
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from ipvalue.service import (
    ServiceSettings,
    create_app,
    load_keys_file,
    monitor_command,
    new_api_key,
    serve_command,
    verify_api_key,
)


def cli(fn) -> typer.Typer:
    app = typer.Typer()
    app.command()(fn)
    app.command("noop")(lambda: None)  # two commands, so the function is invoked by name as in `ipvalue`
    return app


def stored_assessment(tmp_path) -> tuple[str, dict]:
    secret, rec = new_api_key("los")
    body = assessment_body(3)
    app = create_app(ServiceSettings(db_path=tmp_path / "s.db", api_keys=[rec]), pipeline=fake_pipeline())
    with TestClient(app) as c:
        out = c.post("/v1/assessments", json=body, headers={"X-API-Key": secret}).json()
    return out["id"], body


def write_facts(path, patents):
    # a bank's file: several owners in one cell, separated by ";"
    rows = [{k: ";".join(v) if isinstance(v, list) else v for k, v in p.items()} for p in patents]
    path.write_text(json.dumps(rows), encoding="utf-8")
    return path


def test_monitor_exit_codes(tmp_path):
    aid, body = stored_assessment(tmp_path)
    runner = CliRunner()
    app = cli(monitor_command)
    same = write_facts(tmp_path / "same.json", body["patents"])
    args = [
        "monitor-command",
        "--id",
        aid,
        "--db",
        str(tmp_path / "s.db"),
        "--as-of",
        "2026-02-01",
        "--no-revalue",
    ]
    r = runner.invoke(app, [*args, "--facts", str(same)])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["events"] == []

    changed = [dict(p) for p in body["patents"]]
    changed[0]["in_litigation"] = True
    r = runner.invoke(app, [*args, "--facts", str(write_facts(tmp_path / "w.json", changed))])
    assert r.exit_code == 1 and json.loads(r.stdout)["level"] == "warning"

    changed[1]["legal_status"] = "revoked"
    out = tmp_path / "report.json"
    r = runner.invoke(
        app, [*args, "--facts", str(write_facts(tmp_path / "c.json", changed)), "--output", str(out)]
    )
    assert r.exit_code == 2
    rep = json.loads(out.read_text(encoding="utf-8"))
    assert {e["code"] for e in rep["events"]} == {"REVOKED", "LITIGATION_STARTED"} and rep[
        "assessment_id"
    ] == aid

    r = runner.invoke(
        app,
        [
            "monitor-command",
            "--id",
            "asm_nope",
            "--db",
            str(tmp_path / "s.db"),
            "--no-revalue",
            "--facts",
            str(same),
        ],
    )
    assert r.exit_code == 3
    r = runner.invoke(app, ["monitor-command", "--id", aid, "--db", str(tmp_path / "missing.db")])
    assert r.exit_code == 3

    from ipvalue.service.store import SQLiteAssessmentStore

    store = SQLiteAssessmentStore(tmp_path / "s.db")
    try:
        runs = [e for e in store.audit_entries(aid) if e["action"] == "monitor.run"]
    finally:
        store.close()
    assert [e["details"]["level"] for e in runs] == ["ok", "warning", "critical"]
    assert all(e["who"].startswith("cli:") for e in runs)


def test_serve_add_key(tmp_path):
    keys = tmp_path / "keys.json"
    runner = CliRunner()
    app = cli(serve_command)
    r = runner.invoke(
        app, ["serve-command", "--keys-file", str(keys), "--add-key", "loan-system", "--scopes", "read"]
    )
    assert r.exit_code == 0, r.output
    secret = r.stdout.strip().splitlines()[0]
    records = load_keys_file(keys)
    assert [k.id for k in records] == ["loan-system"] and records[0].scopes == ("read",)
    assert secret not in keys.read_text()  # only the salted hash is stored
    assert verify_api_key(secret, records).id == "loan-system"
    again = runner.invoke(app, ["serve-command", "--keys-file", str(keys), "--add-key", "loan-system"])
    assert again.exit_code != 0


def test_monitor_from_a_snapshot_file(tmp_path):
    secret, rec = new_api_key("los")
    body = assessment_body(2)
    app = create_app(ServiceSettings(db_path=tmp_path / "s.db", api_keys=[rec]), pipeline=fake_pipeline())
    with TestClient(app) as c:
        out = c.post("/v1/assessments", json=body, headers={"X-API-Key": secret}).json()
    snap = tmp_path / "assessment.json"
    snap.write_text(json.dumps(out), encoding="utf-8")
    changed = [dict(p) for p in body["patents"]]
    changed[1]["owner"] = ["Another Owner Co"]
    r = CliRunner().invoke(
        cli(monitor_command),
        [
            "monitor-command",
            "--snapshot",
            str(snap),
            "--as-of",
            "2026-02-01",
            "--facts",
            str(write_facts(tmp_path / "f.json", changed)),
        ],
    )
    assert r.exit_code == 2, r.output
    rep = json.loads(r.stdout)
    assert rep["assessment_id"] == out["id"]
    assert [(e["code"], e["details"]["after"]) for e in rep["events"]] == [
        ("OWNER_CHANGED", "Another Owner Co")
    ]
    assert rep["coverage_ratio"] is None  # no stored request in a snapshot file: coverage is not recomputed


def test_monitor_all_assessments_for_a_scheduler(tmp_path):
    from _helpers import patent

    secret, rec = new_api_key("los")
    first = assessment_body(3)
    second = {**assessment_body(0), "patents": [patent(10), patent(11)]}
    app = create_app(ServiceSettings(db_path=tmp_path / "s.db", api_keys=[rec]), pipeline=fake_pipeline())
    with TestClient(app) as c:
        ids = [
            c.post("/v1/assessments", json=b, headers={"X-API-Key": secret}).json()["id"]
            for b in (first, second)
        ]
    facts = [dict(p) for p in first["patents"] + second["patents"]]
    facts[4]["legal_status"] = "lapsed"  # the second loan's second patent
    args = [
        "monitor-command",
        "--all",
        "--db",
        str(tmp_path / "s.db"),
        "--as-of",
        "2026-02-01",
        "--no-revalue",
    ]
    r = CliRunner().invoke(
        cli(monitor_command), [*args, "--facts", str(write_facts(tmp_path / "f.json", facts))]
    )
    assert r.exit_code == 2, r.output
    rep = json.loads(r.stdout)
    assert rep["n_assessments"] == 2 and [a["assessment_id"] for a in rep["assessments"]] == ids
    assert [a["level"] for a in rep["assessments"]] == ["ok", "critical"]
    assert rep["assessments"][1]["events"][0]["patent_id"] == second["patents"][1]["patent_id"]
    ok = CliRunner().invoke(
        cli(monitor_command), [*args, "--facts", str(write_facts(tmp_path / "g.json", first["patents"]))]
    )
    assert ok.exit_code == 1  # the second portfolio's facts are missing: a warning, not silence
    assert {e["code"] for e in json.loads(ok.stdout)["assessments"][1]["events"]} == {"FACTS_UNAVAILABLE"}


def test_compute_workers_default_to_the_cores():
    import os

    from ipvalue.service.settings import ServiceSettings

    assert ServiceSettings().compute_workers == min(64, max(1, os.cpu_count() or 1))
