"""Comparables on a valuation or assessment request: typed and bounded, read with read_comparables, and the
market approach weighed in by the real pipeline (in-process and over loopback HTTP)."""

from __future__ import annotations

from importlib import resources

import httpx
import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError
from test_http_real_pipeline import auth, demo_body, real  # noqa: F401  (real: the server fixture)

import ipvalue as iv
from ipvalue.errors import InputError
from ipvalue.service.models import MAX_COMPARABLES, AssessmentRequest, ValuationRequest
from ipvalue.service.pipeline import Pipeline, comparables_kw, patents_payload_to_rows, run_valuation


def demo_comparables() -> list[dict]:
    """The bundled FICTIONAL demo comparables as request entries."""
    path = resources.files("ipvalue") / "data" / "demo_comparables_FICTIONAL.csv"
    table = iv.read_comparables(str(path))
    out = []
    for cid, r in table.iterrows():
        entry = {
            "comparable_id": cid,
            "transaction_date": r["transaction_date"].date().isoformat(),
            "ipc": r["ipc"],
            "industry": r["industry"],
            "remaining_life_years": float(r["remaining_life_years"]),
            "transaction_kind": r["transaction_kind"],
            "territory": r["territory"],
            "currency": r["currency"],
            "quality_score": float(r["quality_score"]),
            "description": r["description"],
        }
        if np.isfinite(r["price"]):
            entry["price"] = float(r["price"])
        else:
            entry["royalty_rate"] = float(r["royalty_rate"])
        out.append(entry)
    return out


def valuation_body(n: int = 12) -> dict:
    body = demo_body(n)
    return {k: body[k] for k in ("patents", "as_of", "seed")}


def one(**kw) -> dict:
    return {"comparable_id": "C1", "transaction_date": "2023-01-01", "ipc": "G06F 17/30", "price": 1.0, **kw}


def test_a_comparable_has_a_price_or_a_rate_not_both():
    body = valuation_body(1)
    ValuationRequest.model_validate({**body, "comparables": [one()]})
    for bad in (one(royalty_rate=0.05), {k: v for k, v in one().items() if k != "price"}):
        with pytest.raises(ValidationError, match="exactly one of"):
            ValuationRequest.model_validate({**body, "comparables": [bad]})


@pytest.mark.parametrize(
    "field, value",
    [
        ("price", -1.0),
        ("royalty_rate", 1.5),
        ("jurisdiction", "china"),
        ("transaction_kind", "handshake"),
        ("quality_score", 0.0),
        ("transaction_date", "1700-01-01"),
        ("conditions_factor", float("inf")),
    ],
)
def test_each_field_is_bounded(field, value):
    entry = one(**{field: value})
    if field == "royalty_rate":
        entry.pop("price")
    with pytest.raises(ValidationError) as err:
        AssessmentRequest.model_validate(
            {
                **valuation_body(1),
                "loan": {"amount": 1, "currency": "CNY", "tenor_years": 1},
                "comparables": [entry],
            }
        )
    assert any(e["loc"][:3] == ("comparables", 0, field) for e in err.value.errors())


def test_the_list_is_bounded_and_ids_unique():
    body = valuation_body(1)
    with pytest.raises(ValidationError, match="given twice"):
        ValuationRequest.model_validate({**body, "comparables": [one(), one()]})
    many = [one(comparable_id=f"C{i}") for i in range(MAX_COMPARABLES + 1)]
    with pytest.raises(ValidationError, match="at most"):
        ValuationRequest.model_validate({**body, "comparables": many})


def test_without_comparables_the_value_stage_is_called_as_before():
    seen = {}

    def value(portfolio, assumptions, *, as_of, rng):  # a replaced stage that knows no comparables
        seen["called"] = True
        return iv.value_portfolio(portfolio, assumptions, as_of=as_of, rng=rng)

    request = ValuationRequest.model_validate(valuation_body(3)).model_dump(mode="json")
    assert comparables_kw(request) == {}
    out, _ = run_valuation(Pipeline(value=value), request)
    assert seen["called"] and all(p["value_market"] is None for p in out["patents"])


def test_a_bad_table_is_the_readers_error_naming_the_row():
    request = {"comparables": [one(), one(comparable_id="C2", ipc=None)]}
    with pytest.raises(InputError, match="row 2, comparable C2, field ipc"):
        comparables_kw(request)


def test_run_valuation_weighs_the_market_approach_in():
    body = valuation_body(12)
    plain = ValuationRequest.model_validate(body).model_dump(mode="json")
    with_c = ValuationRequest.model_validate({**body, "comparables": demo_comparables()}).model_dump(
        mode="json"
    )
    base, _ = run_valuation(Pipeline(), plain)
    out, _ = run_valuation(Pipeline(), with_c)
    market = pd.DataFrame(out["patents"]).set_index("patent_id")
    assert market["value_market"].notna().any()
    assert market["methods_used"].str.contains("market").any()
    # the same as value_portfolio given the same table directly
    frame = Pipeline().read(patents_payload_to_rows(with_c["patents"]))
    table = comparables_kw(with_c)["comparables"]
    direct = iv.value_portfolio(frame, None, as_of=body["as_of"], rng=body["seed"], comparables=table)
    np.testing.assert_allclose(
        market["value_market"].to_numpy(float), direct["value_market"].to_numpy(float), equal_nan=True
    )
    assert all(p["value_market"] is None for p in base["patents"])


@pytest.mark.slow
def test_http_valuation_with_comparables(real, keys):  # noqa: F811  (the imported fixture)
    body = {**valuation_body(12), "comparables": demo_comparables()}
    with httpx.Client(base_url=real.url, timeout=120) as c:
        r = c.post("/v1/valuations", json=body, headers=auth(keys.rw))
        assert r.status_code == 201, r.text
        rows = pd.DataFrame(r.json()["patents"])
        assert rows["value_market"].notna().any()
        bad = c.post(
            "/v1/valuations",
            json={**body, "comparables": [one(jurisdiction="china")]},
            headers=auth(keys.rw),
        )
        assert bad.status_code == 422
        assert "jurisdiction" in bad.text
