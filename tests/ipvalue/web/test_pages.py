"""Pure parts of the pages (loan terms, the patent table, haircut rows) and the security headers and cookies."""

from __future__ import annotations

import re

import httpx
from hypothesis import given
from hypothesis import strategies as st

from ipvalue.web.app import haircut_rows, patent_table, terms_request
from ipvalue.web.security import CSP
from tests.ipvalue.web.helpers import PASSWORDS

ROW = {"patent_id": "CN201810136750.X", "patent_type": "invention"}
TERMS = {"amount": "1000000", "currency": "CNY", "tenor_years": "3", "as_of": "2026-06-30", "policy": "p"}


def test_terms_give_the_apis_request_and_its_messages():
    payload, errors, note = terms_request(TERMS, [ROW], "CNY")
    assert errors == {} and note == {}
    assert payload["loan"]["amount"] == 1_000_000 and payload["loan"]["currency"] == "CNY"
    _, errors, _ = terms_request({**TERMS, "amount": "-1", "tenor_years": "x"}, [ROW], "CNY")
    assert errors["amount"] == "Input should be greater than 0"  # pydantic's message, as the API answers
    assert "valid number" in errors["tenor_years"]
    _, errors, _ = terms_request({**TERMS, "insurer": "0.7", "guarantor": "0.6"}, [ROW], "CNY")
    assert "more than 1" in next(iter(errors.values()))


def test_a_loan_in_another_currency_is_converted_at_the_given_rate():
    values = {**TERMS, "currency": "usd", "fx_rate": "7.1", "insurer": "0.2", "insurer_cap": "10000"}
    payload, errors, note = terms_request(values, [ROW], "CNY")
    assert errors == {}
    assert payload["loan"]["currency"] == "CNY" and payload["loan"]["amount"] == 7_100_000
    assert payload["loan"]["risk_sharing"]["insurer_cap"] == 71_000
    assert note == {"loan_currency": "USD", "fx_rate": 7.1}
    _, errors, _ = terms_request({**values, "fx_rate": ""}, [ROW], "CNY")
    assert "FX rate" in errors["fx_rate"]


PATENTS = st.lists(
    st.fixed_dictionaries(
        {
            "patent_id": st.text("ABC123", min_size=1, max_size=6),
            "value": st.floats(0, 1e7) | st.none(),
            "eligible": st.booleans(),
            "ineligible_reasons": st.sampled_from(["", "LAPSED", "LAPSED;FEES_UNPAID", "ALREADY_PLEDGED"]),
        }
    ),
    max_size=40,
)


@given(
    PATENTS, st.sampled_from(["", "yes", "no"]), st.sampled_from(["", "LAPSED", "FEES_UNPAID"]), st.booleans()
)
def test_patent_table_filters_sorts_and_loses_no_row(patents, eligible, reason, desc):
    t = patent_table(patents, eligible=eligible, reason=reason, sort="value", desc=desc, page=1, size=5000)
    rows = t["rows"]
    want = [
        p
        for p in patents
        if (eligible == "" or p["eligible"] == (eligible == "yes"))
        and (reason == "" or reason in p["ineligible_reasons"].split(";"))
    ]
    assert len(rows) == t["n"] == len(want)
    values = [p["value"] for p in rows if p["value"] is not None]
    assert values == sorted(values, reverse=desc)
    assert all(p["value"] is None for p in rows[len(values) :])  # missing values last


def test_paging_covers_every_row_once():
    patents = [{"patent_id": f"P{i:03d}", "value": float(i)} for i in range(23)]
    seen = []
    for page in (1, 2, 3):
        seen += [
            p["patent_id"]
            for p in patent_table(
                patents, eligible="", reason="", sort="patent_id", desc=False, page=page, size=10
            )["rows"]
        ]
    assert seen == [p["patent_id"] for p in patents]


def test_haircut_rows_pair_each_component_with_its_explanation():
    p = {
        "haircut_valuation": 0.075,
        "haircut_life": 0.218,
        "haircut_total": 0.3,
        "haircut_explanation": "valuation 7.5% (range); life 21.8% (12.0y left); composed 30.0%",
        "haircut_explanation_zh": "估值不确定性 7.5%（区间）；剩余保护期 21.8%（剩余 12.0 年）；综合折扣 30.0%",
    }
    rows, rest = haircut_rows(p, "zh")
    assert [(r["component"], r["rate"]) for r in rows] == [("valuation", 0.075), ("life", 0.218)]
    assert rows[1]["explanation"].startswith("剩余保护期 21.8%") and rest == ["综合折扣 30.0%"]
    rows, rest = haircut_rows(p, "en")
    assert rows[0]["explanation"] == "valuation 7.5% (range)" and rest == ["composed 30.0%"]


def test_headers_and_session_cookie(server):
    with httpx.Client(base_url=server.url) as c:
        r = c.get("/web/login")
        assert r.headers["content-security-policy"] == CSP and "'unsafe-inline'" not in CSP
        assert r.headers["x-frame-options"] == "DENY" and r.headers["cache-control"] == "no-store"
        token = re.search(r'name="csrf_token" value="([^"]+)"', r.text).group(1)
        r = c.post(
            "/web/login", data={"username": "adam", "password": PASSWORDS["adam"][1], "csrf_token": token}
        )
        assert r.status_code == 303
        cookie = r.headers["set-cookie"]
        assert (
            "ivw_session=" in cookie
            and "HttpOnly" in cookie
            and "SameSite=strict" in cookie.replace("Strict", "strict")
        )
        assert "Path=/web" in cookie and "Secure" not in cookie  # plain HTTP on loopback: no Secure flag
        assert c.get("/web/static/htmx.min.js").headers["cache-control"].startswith("public")
        # the API keeps its own guard: the workbench's session does not open /v1
        assert c.get("/v1/policies").status_code == 401


def test_session_cookie_is_secure_over_tls(server):
    from fastapi.testclient import TestClient

    with TestClient(server.app, base_url="https://127.0.0.1") as c:  # the scheme the app sees behind TLS
        r = c.get("/web/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', r.text).group(1)
        r = c.post(
            "/web/login",
            data={"username": "adam", "password": PASSWORDS["adam"][1], "csrf_token": token},
            follow_redirects=False,
        )
        assert r.status_code == 303 and "Secure" in r.headers["set-cookie"]
