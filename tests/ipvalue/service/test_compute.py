"""The compute hand-off (``ipvalue.service.compute``): worker processes give the numbers the calling thread gives,
bad input comes back as the reader's error, a dead worker is a 500 and the next request is computed, and what
cannot go to a process (closures, fetched portfolios) is computed on the calling thread."""

from __future__ import annotations

import os
import threading

import pandas as pd
import pytest
from _helpers import assessment_body

from ipvalue.facts.io import PortfolioError
from ipvalue.service.compute import ComputePool, compute
from ipvalue.service.errors import ApiError
from ipvalue.service.pipeline import Pipeline


def _payload(seed: int = 3, **kw) -> dict:
    body = assessment_body(3, seed=seed, **kw)
    body["policy"] = "cn-bank-standard"
    return body


def _value_or_die(portfolio, assumptions, *, as_of, rng):
    """The real valuation, except that seed 13 kills the process running it."""
    if rng == 13:
        os._exit(3)
    from ipvalue import value_portfolio

    return value_portfolio(portfolio, assumptions, as_of=as_of, rng=rng)


@pytest.fixture(scope="module")
def pool():
    p = ComputePool(Pipeline(value=_value_or_die), 1)
    assert p.processes == 1
    pids = [f.result(timeout=120) for f in p.start()]
    assert pids and os.getpid() not in pids  # the work runs in another process
    yield p
    p.close()


def _without_clock(output: dict) -> dict:
    audit = {k: v for k, v in output["audit"].items() if k != "created_at"}
    return {**output, "audit": audit}


@pytest.mark.slow
def test_a_worker_process_gives_what_the_calling_thread_gives(pool):
    payload = _payload()
    out_p, draws_p, hash_p = pool.run("assessment", payload)
    out_t, draws_t, hash_t = compute(Pipeline(), "assessment", payload)
    assert hash_p == hash_t
    assert _without_clock(out_p) == _without_clock(out_t)
    assert draws_p == draws_t and draws_p  # the Monte Carlo draws (kept for the report) come back too
    val_p, _, val_hash = pool.run("valuation", payload)
    assert val_hash == compute(Pipeline(), "valuation", payload)[2]
    assert [p["patent_id"] for p in val_p["patents"]] == [p["patent_id"] for p in payload["patents"]]


@pytest.mark.slow
def test_bad_input_in_a_worker_is_the_readers_error(pool):
    payload = _payload()
    payload["patents"][1]["filing_date"] = "2018-13-45"
    with pytest.raises(PortfolioError) as err:
        pool.run("assessment", payload)
    assert [(i.row, i.field) for i in err.value.issues] == [(2, "filing_date")]


@pytest.mark.slow
def test_a_dead_worker_is_a_500_and_the_next_request_is_computed(pool):
    with pytest.raises(ApiError) as err:
        pool.run("assessment", _payload(seed=13))
    assert (err.value.status, err.value.code) == (500, "internal_error")
    out, _, h = pool.run("assessment", _payload(seed=4))
    assert h == compute(Pipeline(), "assessment", _payload(seed=4))[2]
    assert len(out["patents"]) == 3


def test_stages_that_cannot_be_pickled_run_on_the_calling_thread():
    seen: list[int] = []
    real = Pipeline()

    def value(portfolio, assumptions, *, as_of, rng):  # a closure: cannot be sent to a process
        seen.append(threading.get_ident())
        return real.value(portfolio, assumptions, as_of=as_of, rng=rng)

    p = ComputePool(Pipeline(value=value), 2)
    assert p.processes == 0
    assert p.start() == []
    _, _, h = p.run("valuation", _payload())
    assert seen == [threading.get_ident()]
    assert h == compute(real, "valuation", _payload())[2]
    p.close()


def test_fetched_portfolios_are_computed_on_the_calling_thread():
    seen: list[int] = []
    real = Pipeline()
    rows = _payload()["patents"]

    def fetch(numbers: list[str]) -> pd.DataFrame:
        seen.append(threading.get_ident())
        return real.read([{**r, "owner": ";".join(r["owner"])} for r in rows if r["patent_id"] in numbers])

    p = ComputePool(Pipeline(fetch=fetch), 2)
    assert p.processes == 2  # read, value and assess could go to a process; the fetch stays here
    payload = {k: v for k, v in _payload().items() if k != "patents"}
    payload["numbers"] = [r["patent_id"] for r in rows]
    out, _, _ = p.run("valuation", payload)
    assert seen == [threading.get_ident()]
    assert len(out["patents"]) == 3
    p.close()
