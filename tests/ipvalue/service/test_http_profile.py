"""``POST /v1/profiles`` over real HTTP on loopback: the borrower's technology profile against inline peers.

The server runs the stand-in valuation of ``_fakes.py`` and the real :func:`ipvalue.profile_borrower`; the test
computes the same profile in this process from the same rows and expects the same numbers.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from _fakes import read, value
from _helpers import Server

from ipvalue.profile import profile_borrower, synthetic_book
from ipvalue.service.pipeline import patents_payload_to_rows

AS_OF = "2026-06-30"
TABLE = {
    "master_scale": [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1],
    "notches": {f"T{i}": n for i, n in zip(range(1, 11), (-2, -2, -1, -1, 0, 0, 1, 1, 2, 3), strict=True)},
    "source": "test table, no calibration",
}


def auth(secret: str) -> dict:
    return {"Authorization": f"Bearer {secret}"}


def as_patents(book: pd.DataFrame, start: int, *, with_firm: bool) -> list[dict]:
    """Synthetic patents as request JSON (fictional US numbers; the facts the API's patent model takes)."""
    out = []
    for i, (_, r) in enumerate(book.iterrows()):
        p = {
            "patent_id": f"US{start + i}B2",
            "jurisdiction": "CN",
            "patent_type": r["patent_type"],
            "legal_status": r["legal_status"],
            "filing_date": str(pd.Timestamp(r["filing_date"]).date()),
            "claims": int(r["claims"]),
            "cpc": [r["cpc"]],
            "family_jurisdictions": r["family_jurisdictions"].split(";"),
            "licensed": bool(r["licensed"]),
            "pledged": bool(r["pledged"]),
            "in_litigation": bool(r["in_litigation"]),
            "invalidation_pending": bool(r["invalidation_pending"]),
            "owner": [r["firm"]],
        }
        if not pd.isna(r["fees_paid_through"]):
            p["fees_paid_through"] = str(pd.Timestamp(r["fees_paid_through"]).date())
        if with_firm:
            p["firm"] = r["firm"]
        out.append(p)
    return out


@pytest.fixture(scope="module")
def bodies() -> dict:
    day = dt.date.fromisoformat(AS_OF)
    peers = synthetic_book(40, as_of=day, mean_patents=5, seed=41, prefix="P")
    borrower = synthetic_book(1, as_of=day, mean_patents=12, seed=42, prefix="B")
    return {
        "patents": as_patents(borrower, 11_000_000, with_firm=False),
        "peers": as_patents(peers, 12_000_000, with_firm=True),
        "as_of": AS_OF,
        "seed": 3,
    }


@pytest.fixture(scope="module")
def bank_book(tmp_path_factory) -> Path:
    """A named peer book the server holds: an invented book (no real firms) as CSV."""
    path = tmp_path_factory.mktemp("books") / "bank.csv"
    synthetic_book(200, as_of=dt.date.fromisoformat(AS_OF), mean_patents=10, seed=43, prefix="K").to_csv(
        path, index=False
    )
    return path


@pytest.fixture(scope="module")
def srv(tmp_path_factory, keys, bank_book):
    d = tmp_path_factory.mktemp("profiles")
    s = Server(
        db=d / "service.db",
        keys_file=keys.file,
        args=[
            "--max-patents",
            "400",
            "--max-body-bytes",
            "2000000",
            "--set",
            "peer_books=" + json.dumps({"bank": str(bank_book)}),
        ],
    )
    s.start(timeout=60)
    yield s
    s.stop()


def expected(body: dict, peers: pd.DataFrame | None = None, **kw) -> dict:
    """The profile computed in this process from the same rows (fake valuation, real profile)."""
    frame = value(
        read(patents_payload_to_rows(body["patents"])), None, as_of=dt.date.fromisoformat(AS_OF), rng=3
    )
    if body.get("peers"):
        rows = patents_payload_to_rows(body["peers"])
        firms = [r.pop("firm") for r in rows]
        peers = read(rows).assign(firm=firms)
    return profile_borrower(frame, as_of=AS_OF, peers=peers, **kw).to_dict()


@pytest.mark.slow
def test_profile_against_inline_peers_matches_the_library(srv, keys, bodies):
    with httpx.Client(base_url=srv.url, timeout=120) as c:
        r = c.post("/v1/profiles", json=bodies, headers=auth(keys.rw))
        assert r.status_code == 200, r.text
        got = r.json()
        want = expected(bodies)
        assert want["grade"] is not None
        for k, v in want.items():
            assert got[k] == v, k
        assert got["stored"] is False and got["id"].startswith("prf_")
        # every input patent is in the output
        assert [p["patent_id"] for p in got["patents"]] == [p["patent_id"] for p in bodies["patents"]]
        # its audit entry: who, the request and result hashes, the grade
        trail = c.get(f"/v1/profiles/{got['id']}/audit", headers=auth(keys.ro)).json()["entries"]
        assert [e["action"] for e in trail] == ["profile.create"]
        assert trail[0]["input_hash"] == got["input_hash"] and trail[0]["output_hash"] == got["output_hash"]
        assert trail[0]["details"]["grade"] == got["grade"]
        assert trail[0]["details"]["n_peer_patents"] == len(bodies["peers"])
        # the same request gives the same result hash (a new id, a second audit entry)
        again = c.post("/v1/profiles", json=bodies, headers=auth(keys.rw)).json()
        assert again["output_hash"] == got["output_hash"] and again["id"] != got["id"]
        assert c.get("/v1/profiles/prf_unknown/audit", headers=auth(keys.ro)).status_code == 404


def test_without_peers_raw_indicators_only(srv, keys, bodies):
    body = {k: v for k, v in bodies.items() if k != "peers"}
    with httpx.Client(base_url=srv.url, timeout=60) as c:
        got = c.post("/v1/profiles", json=body, headers=auth(keys.rw)).json()
    assert got["peers_given"] is False and got["grade"] is None and got["score"] is None
    assert got["notes"]["en"][0].startswith("No peer cohort was given")
    assert all(i["percentile"] is None for i in got["indicators"])
    assert got["indicators"] == expected(body)["indicators"]


def test_the_bank_overlay_moves_the_loan_pd(srv, keys, bodies):
    body = {
        **bodies,
        "loan": {"amount": 1e6, "currency": "CNY", "tenor_years": 1, "probability_of_default": 0.02},
    }
    body["overlay"] = TABLE
    with httpx.Client(base_url=srv.url, timeout=120) as c:
        got = c.post("/v1/profiles", json=body, headers=auth(keys.rw)).json()
    ov = got["overlay"]
    assert ov["applied"] is True and ov["pd_before"] == 0.02
    rung = TABLE["master_scale"].index(0.02)
    after = int(np.clip(rung + TABLE["notches"][got["grade"]], 0, len(TABLE["master_scale"]) - 1))
    assert ov["pd_after"] == TABLE["master_scale"][after]


def test_bad_requests_name_the_field(srv, keys, bodies):
    loan = {"amount": 1e6, "currency": "CNY", "tenor_years": 1}
    peer0 = {k: v for k, v in bodies["peers"][0].items() if k != "firm"}
    cases = [
        ({**bodies, "overlay": TABLE, "loan": loan}, "body.loan.probability_of_default"),
        ({**bodies, "peers": [peer0]}, "body.peers.0.firm"),
        ({**bodies, "peers": bodies["peers"] * 3}, "body.peers"),
        (
            {
                **bodies,
                "loan": {**loan, "probability_of_default": 0.02},
                "overlay": {**TABLE, "notches": {"T1": 0}},
            },
            "body.overlay.notches",
        ),
        ({**bodies, "overlay": {**TABLE, "master_scale": [0.1, 2.0]}}, "body.overlay.master_scale.1"),
        ({**bodies, "as_of": "2026-13-01"}, "body.as_of"),
    ]
    with httpx.Client(base_url=srv.url, timeout=60) as c:
        for body, path in cases:
            r = c.post("/v1/profiles", json=body, headers=auth(keys.rw))
            assert r.status_code == 422, (path, r.text)
            assert path in [d["path"] for d in r.json()["error"]["details"]], (path, r.text)
        assert c.post("/v1/profiles", json=bodies, headers=auth(keys.ro)).status_code == 403
        assert c.post("/v1/profiles", json=bodies).status_code == 401


def test_a_named_peer_book_the_server_holds(srv, keys, bodies, bank_book):
    body = {k: v for k, v in bodies.items() if k != "peers"} | {"peer_book": "bank"}
    with httpx.Client(base_url=srv.url, timeout=120) as c:
        got = c.post("/v1/profiles", json=body, headers=auth(keys.rw)).json()
        again = c.post("/v1/profiles", json=body, headers=auth(keys.rw)).json()  # the book computed once
        trail = c.get(f"/v1/profiles/{got['id']}/audit", headers=auth(keys.ro)).json()["entries"]
        unknown = c.post("/v1/profiles", json=body | {"peer_book": "other"}, headers=auth(keys.rw))
        both = c.post("/v1/profiles", json=body | {"peers": bodies["peers"]}, headers=auth(keys.rw))
    want = expected(body, peers=pd.read_csv(bank_book))
    assert want["grade"] is not None and want["cohort"]["n_peers"] > 0
    for k, v in want.items():
        assert got[k] == v, k
    assert again["output_hash"] == got["output_hash"]
    d = trail[0]["details"]
    assert d["peer_book"] == "bank"
    assert d["peer_book_sha256"] == "sha256:" + hashlib.sha256(bank_book.read_bytes()).hexdigest()
    for r, msg in ((unknown, "unknown peer book 'other'; known: bank"), (both, "not both")):
        assert r.status_code == 422
        (det,) = r.json()["error"]["details"]
        assert det["path"] == "body.peer_book" and msg in det["msg"]
