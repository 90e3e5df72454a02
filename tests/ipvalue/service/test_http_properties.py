"""Generated request bodies thrown at a real server: never a 5xx, and what is stored is what was sent.

Hypothesis builds bodies that are partly valid and partly not (wrong types, out-of-range and non-finite numbers,
control characters, long texts, odd dates, unknown fields). Every answer must be a 2xx or a 4xx with the error
shape; every stored assessment's input must equal the request on every field the client sent.
"""

from __future__ import annotations

import json
import math
import sqlite3

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


def auth(secret: str) -> dict:
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture(scope="module")
def client(server):
    with httpx.Client(base_url=server.url, timeout=60) as c:
        yield c


numbers = st.one_of(
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(0, 1),
    st.text(max_size=5),
    st.none(),
    st.lists(st.integers(0, 3), max_size=3),
)
texts = st.one_of(
    st.text(max_size=40), st.text(min_size=480, max_size=620), st.sampled_from(["a\x00b", "x\x1b[0m"])
)
dates = st.one_of(
    st.dates().map(lambda d: d.isoformat()),
    st.dates(
        min_value=__import__("datetime").date(1990, 1, 1), max_value=__import__("datetime").date(2030, 1, 1)
    ).map(lambda d: d.isoformat()),
    st.text(max_size=12),
)


@st.composite
def patents(draw: st.DrawFn) -> list[dict]:
    n = draw(st.integers(1, 4))
    out = []
    for i in range(n):
        p: dict = {"patent_id": f"US{11_000_000 + i}B2"}
        if draw(st.booleans()):
            p["claims"] = draw(st.one_of(st.integers(0, 50), numbers))
        if draw(st.booleans()):
            p["title"] = draw(texts)
        if draw(st.booleans()):
            p["owner"] = draw(
                st.lists(st.text(min_size=1, max_size=20).filter(lambda s: ";" not in s), max_size=3)
            )
        p["filing_date"] = draw(st.one_of(st.just("2018-03-01"), dates))
        if draw(st.booleans()):
            p["grant_date"] = "2020-06-02"
        if draw(st.booleans()):
            p[
                draw(st.sampled_from(["royalty_rate", "revenue", "volatility", "discount_rate", "nonsense"]))
            ] = draw(numbers)
        out.append(p)
    return out


assumption_keys = st.sampled_from(
    [
        "draws",
        "growth_sd",
        "discount_rate",
        "royalty_ranges",
        "method_weights",
        "tax_rate",
        "decay_curve",
        "bogus",
    ]
)
nested = st.recursive(
    numbers, lambda inner: st.dictionaries(st.text(max_size=4), inner, max_size=3), max_leaves=6
)


@st.composite
def bodies(draw: st.DrawFn) -> dict:
    body: dict = {
        "patents": draw(patents()),
        "loan": {
            "amount": draw(st.one_of(st.just(50_000), numbers)),
            "currency": draw(st.sampled_from(["CNY", "USD", "cny", "C1Y", ""])),
            "tenor_years": draw(st.one_of(st.just(1.0), numbers)),
        },
        "as_of": draw(st.one_of(st.just("2026-01-01"), dates)),
        "seed": draw(st.one_of(st.integers(0, 2**62), st.integers(-5, -1), numbers)),
    }
    if draw(st.booleans()):
        body["assumptions"] = draw(st.dictionaries(assumption_keys, nested, max_size=3))
    if draw(st.booleans()):
        body["policy"] = draw(st.one_of(st.sampled_from(["cn-bank-standard", "nope"]), nested))
    return body


def _sent_equals_stored(sent, stored) -> bool:
    """Every field the client sent is stored with the same value (the server may add defaults)."""
    if isinstance(sent, dict):
        return isinstance(stored, dict) and all(
            k in stored and _sent_equals_stored(v, stored[k]) for k, v in sent.items()
        )
    if isinstance(sent, list):
        return (
            isinstance(stored, list)
            and len(sent) == len(stored)
            and all(map(_sent_equals_stored, sent, stored))
        )
    if isinstance(sent, float) and isinstance(stored, int | float):
        return math.isfinite(sent) and sent == stored
    return sent == stored


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(body=bodies())
@pytest.mark.slow
def test_generated_bodies_never_5xx_and_stored_equals_sent(client, keys, server, body):
    raw = json.dumps(body, allow_nan=True).encode("utf-8")
    r = client.post(
        "/v1/assessments", headers={**auth(keys.rw), "Content-Type": "application/json"}, content=raw
    )
    assert r.status_code < 500, (r.status_code, r.text, body)
    if r.status_code >= 400:
        err = r.json()["error"]
        assert set(err) <= {"code", "message", "details"} and err["code"]
        assert "Traceback" not in r.text and "np.float64" not in r.text
        return
    rid = r.json()["id"]
    with sqlite3.connect(server.db) as c:
        stored = json.loads(
            c.execute("SELECT input_json FROM assessments WHERE id = ?", (rid,)).fetchone()[0]
        )
    assert _sent_equals_stored(body, stored), (body, stored)
