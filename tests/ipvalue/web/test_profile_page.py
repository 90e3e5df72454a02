"""The workbench's technology-profile page (issue #21) over real HTTP on loopback, without a browser.

A stored assessment of the demo portfolio is profiled against the workbench's peers file (an invented book:
``synthetic_book``, no real firms); the page shows the grade and score that ``profile_borrower`` gives in this
process, with the report's radar chart as SVG. Without a peers file the page says it shows raw indicators only.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ipvalue.service.store import AssessmentRecord, AuditEntry, new_record_id, result_hash, sha256_json
from tests.ipvalue.web.helpers import PASSWORDS, Server, serve

pytestmark = pytest.mark.slow  # values the demo portfolio (several seconds)


@pytest.fixture(scope="module")
def demo() -> dict:
    import ipvalue as iv
    from ipvalue.demo import load_demo
    from ipvalue.report.assessment_json import assessment_to_json

    frame, loan, as_of = load_demo()
    valued = iv.value_portfolio(frame, as_of=as_of, rng=0)
    output = assessment_to_json(iv.assess_collateral(valued, loan=loan, rng=0))
    return {"valued": valued, "loan": loan, "as_of": as_of, "output": output}


def store_record(server: Server, demo: dict) -> str:
    """The demo assessment as a finished record of the server's store (as the API would keep it)."""
    now = dt.datetime.now(dt.UTC).isoformat()
    payload = {"as_of": demo["as_of"].isoformat(), "seed": 0}
    rec = AssessmentRecord(
        id=new_record_id("assessment"),
        kind="assessment",
        status="done",
        progress=1.0,
        created_at=now,
        updated_at=now,
        key_id="test",
        input=payload,
        output=demo["output"],
        error=None,
        input_hash=sha256_json(payload),
        output_hash=result_hash(demo["output"]),
        version="test",
        policy="cn-bank-standard",
        seed=0,
    )
    store = server.app.state.services.store  # type: ignore[attr-defined]
    store.create(rec, AuditEntry(action="assessment.create", who="test", record_id=rec.id))
    return rec.id


@contextlib.contextmanager
def signed_in(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=120, follow_redirects=True) as c:
        page = c.get("/web/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        r = c.post(
            "/web/login", data={"username": "rita", "password": PASSWORDS["rita"][1], "csrf_token": token}
        )
        assert r.status_code == 200, r.text
        yield c


@pytest.fixture(scope="module")
def peers_file(tmp_path_factory, demo) -> Path:
    from ipvalue.profile import synthetic_book

    path = tmp_path_factory.mktemp("peers") / "peers.csv"
    synthetic_book(300, as_of=demo["as_of"], mean_patents=30, seed=3).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def with_peers(tmp_path_factory, peers_file) -> Iterator[Server]:
    with serve(tmp_path_factory.mktemp("webprof") / "service.db", peers_file=str(peers_file)) as s:
        yield s


@pytest.fixture(scope="module")
def no_peers(tmp_path_factory) -> Iterator[Server]:
    # its own server: the session one may have been shut down by a test that ran its lifespan
    with serve(tmp_path_factory.mktemp("webraw") / "service.db") as s:
        yield s


@pytest.mark.slow
def test_profile_page_against_the_peers_file(with_peers, demo, peers_file):
    import pandas as pd

    from ipvalue.profile import profile_borrower

    rid = store_record(with_peers, demo)
    want = profile_borrower(
        demo["valued"], as_of=demo["as_of"], peers=pd.read_csv(peers_file), firm=demo["loan"].borrower
    )
    assert want.grade is not None
    with signed_in(with_peers) as c:
        result = c.get(f"/web/assessments/{rid}")
        assert f'href="/web/assessments/{rid}/profile"' in result.text
        c.get("/web/lang/en")
        page = c.get(f"/web/assessments/{rid}/profile")
        assert page.status_code == 200, page.text
        html = page.text
        assert re.search(rf'id="profile-grade"><dt>grade</dt><dd>{want.grade}</dd>', html), html
        assert f"<dd>{want.score:.1f}</dd>" in html
        for line in want.reasons["en"]["strongest"] + want.reasons["en"]["weakest"]:
            assert line.replace("'", "&#39;") in html
        assert "profile-no-peers" not in html
        radar = c.get(f"/web/assessments/{rid}/profile/radar.svg")
        assert radar.headers["content-type"].startswith("image/svg+xml")
        assert radar.content.startswith(b"<?xml") and b"<svg" in radar.content
        assert f"Technology profile {want.grade}".encode() in radar.content
    actions = [e["action"] for e in with_peers.app.state.services.store.audit_entries(rid)]  # type: ignore[attr-defined]
    assert "web.profile" in actions


def test_profile_page_without_peers_says_raw_only(no_peers, demo):
    rid = store_record(no_peers, demo)
    with signed_in(no_peers) as c:
        page = c.get(f"/web/assessments/{rid}/profile")
    assert page.status_code == 200, page.text
    assert 'id="profile-no-peers"' in page.text
    assert re.search(r'id="profile-grade"><dt>[^<]+</dt><dd>–</dd>', page.text)


def test_profile_page_needs_a_session(no_peers, demo):
    rid = store_record(no_peers, demo)
    with httpx.Client(base_url=no_peers.url, timeout=30) as c:
        r = c.get(f"/web/assessments/{rid}/profile")
    assert r.status_code == 303 and "/web/login" in r.headers["location"]


def _svg_texts(data: bytes) -> set[str]:
    import xml.etree.ElementTree as ET

    root = ET.fromstring(data)  # a well-formed standalone SVG document
    assert root.tag.endswith("svg")
    return {"".join(el.itertext()).strip() for el in root.iter() if el.tag.endswith("text")}


def test_result_charts_are_the_reports_svg_charts(no_peers, demo):
    # the result page's charts carry the report's figures: each waterfall step and amount, each stress change
    from ipvalue.report import _data as D
    from ipvalue.report.assessment_json import assessment_from_json

    a = assessment_from_json(demo["output"], {})
    rid = store_record(no_peers, demo)
    with signed_in(no_peers) as c:
        for lang in ("en", "zh"):
            c.get(f"/web/lang/{lang}")
            got = {}
            for name in ("waterfall", "liquidation_scenarios", "stress"):
                r = c.get(f"/web/assessments/{rid}/charts/{name}.svg")
                assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
                assert r.content.startswith(b"<?xml")
                got[name] = _svg_texts(r.content)
            steps = D.waterfall_steps(a, lang)
            scale, _ = D.money_unit(a, lang)
            for label, amount in zip(steps["label"], steps["amount"], strict=True):
                assert str(label) in got["waterfall"] and D.money_label(amount, scale) in got["waterfall"]
            assert {D.fmt_pct(v) for v in a.stress["change_pct"]} <= got["stress"]
            assert {D.fmt_pct(v) for v in a.liquidation["recovery_rate"]} <= {
                t.split("  ")[0] for t in got["liquidation_scenarios"]
            }
