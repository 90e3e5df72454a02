"""The compute hand-off (``ipvalue.service.compute``): worker processes give the numbers the calling thread gives
(and the result hash and canonical text, rendered once, that rendering twice gives),
bad input comes back as the reader's error, a dead worker is a 500 and the next request is computed, and what
cannot go to a process (closures, fetched portfolios) is computed on the calling thread."""

from __future__ import annotations

import json
import os
import threading

import pandas as pd
import pytest
from _helpers import assessment_body
from hypothesis import given, settings
from hypothesis import strategies as st

from ipvalue.facts.io import PortfolioError
from ipvalue.service.compute import ComputePool, compute
from ipvalue.service.errors import ApiError
from ipvalue.service.pipeline import Pipeline
from ipvalue.service.store.protocol import canonical_json, hashed_json, result_hash


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
    none, draws_p, hash_p, text_p = pool.run("assessment", payload)
    assert none is None  # only the text crosses back: it is what the service stores and answers
    out_p = json.loads(text_p)
    out_t, draws_t, hash_t, _ = compute(Pipeline(), "assessment", payload)
    assert hash_p == hash_t == result_hash(out_p)
    assert text_p == canonical_json(out_p)
    assert _without_clock(out_p) == _without_clock(out_t)
    assert draws_p == draws_t and draws_p  # the Monte Carlo draws (kept for the report) come back too
    _, _, val_hash, val_text = pool.run("valuation", payload)
    assert val_hash == compute(Pipeline(), "valuation", payload).output_hash
    val_p = json.loads(val_text)
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
    _, _, h, text = pool.run("assessment", _payload(seed=4))
    assert h == compute(Pipeline(), "assessment", _payload(seed=4)).output_hash
    assert len(json.loads(text)["patents"]) == 3


def test_stages_that_cannot_be_pickled_run_on_the_calling_thread():
    seen: list[int] = []
    real = Pipeline()

    def value(portfolio, assumptions, *, as_of, rng):  # a closure: cannot be sent to a process
        seen.append(threading.get_ident())
        return real.value(portfolio, assumptions, as_of=as_of, rng=rng)

    p = ComputePool(Pipeline(value=value), 2)
    assert p.processes == 0
    assert p.start() == []
    h = p.run("valuation", _payload()).output_hash
    assert seen == [threading.get_ident()]
    assert h == compute(real, "valuation", _payload()).output_hash
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
    out = p.run("valuation", payload).output
    assert seen == [threading.get_ident()]
    assert len(out["patents"]) == 3
    p.close()


keys = st.text(max_size=4)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=4),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
    max_leaves=12,
)


@settings(max_examples=80, deadline=None)
@given(
    st.dictionaries(keys, json_values, max_size=5),
    st.one_of(st.none(), st.dictionaries(keys, json_values, max_size=3)),
    st.one_of(st.none(), st.text(max_size=8)),
)
def test_the_hash_and_the_text_rendered_once_are_those_rendered_twice(output, audit, created_at):
    if audit is not None:
        output["audit"] = audit if created_at is None else {**audit, "created_at": created_at}
    assert hashed_json(output) == (result_hash(output), canonical_json(output))


def test_keys_that_are_not_text_are_ordered_as_json_orders_them():
    output = {2: "b", 10: "a", 1: {"created_at": 1}}
    assert hashed_json(output) == (result_hash(output), canonical_json(output))


def test_a_worker_process_runs_the_monte_carlo_on_one_thread(monkeypatch):
    # the workers are one per core: threads of their own would only compete for the cores the sibling processes
    # already use (and cost hand-off CPU); the numbers do not depend on it (tests/ipvalue/collateral)
    import pickle

    from ipvalue.collateral import liquidation
    from ipvalue.service import compute as compute_module

    monkeypatch.setattr(liquidation, "PARALLEL_THREADS", 4)
    monkeypatch.setattr(compute_module, "_worker_pipeline", None)
    # the test process keeps glibc's defaults
    monkeypatch.setattr(compute_module, "tune_allocator", lambda: True)
    compute_module._worker_init(pickle.dumps((None, None, None)))
    assert liquidation.PARALLEL_THREADS == 1
    assert compute_module._worker_pipeline is not None


def test_a_worker_process_loads_the_compiled_engine(monkeypatch):
    # a worker serves many requests: it loads the compiled Monte Carlo engine once, at its start, so that even a
    # small assessment runs compiled (numba installed), or says it could not (the numpy engine then runs)
    import pickle
    import sys

    from ipvalue.collateral import liquidation
    from ipvalue.service import compute as compute_module

    monkeypatch.setattr(liquidation, "_ENGINE", ["auto"])
    monkeypatch.setattr(liquidation, "PARALLEL_THREADS", liquidation.PARALLEL_THREADS)
    monkeypatch.setattr(compute_module, "_worker_pipeline", None)
    monkeypatch.delitem(sys.modules, "ipvalue.collateral._mc_fused", raising=False)
    # the test process keeps glibc's defaults
    monkeypatch.setattr(compute_module, "tune_allocator", lambda: True)
    compute_module._worker_init(pickle.dumps((None, None, None)))
    expected = "compiled" if liquidation._numba_available() else "numpy"
    assert liquidation.engine(1) == expected


def test_a_worker_process_and_the_command_tune_the_allocator(monkeypatch):
    # glibc's malloc keeps freed memory for the next request's arrays (ipvalue.runtime.tune_allocator): each
    # compute worker sets it at its start, as the ipvalue command does at its own
    import pickle

    from ipvalue import cli
    from ipvalue.collateral import liquidation
    from ipvalue.service import compute as compute_module

    calls: list[str] = []
    monkeypatch.setattr(compute_module, "tune_allocator", lambda: calls.append("worker") or True)
    monkeypatch.setattr(cli, "tune_allocator", lambda: calls.append("command") or True)
    monkeypatch.setattr(liquidation, "PARALLEL_THREADS", liquidation.PARALLEL_THREADS)
    monkeypatch.setattr(compute_module, "_worker_pipeline", None)
    compute_module._worker_init(pickle.dumps((None, None, None)))
    assert calls == ["worker"]
    with pytest.raises(SystemExit):
        cli.main(["no-such-command"])  # an unknown command: exit 2, after the set-up
    assert calls == ["worker", "command"]


def test_without_workers_the_service_process_is_readied_as_a_worker_is(monkeypatch):
    # --compute-processes 0: the assessments run in the service's own process, which start() readies the way a
    # worker readies itself (the compiled engine loaded, the allocator tuned); no worker process is started
    from ipvalue.collateral import liquidation
    from ipvalue.service import compute as compute_module

    calls: list[str] = []
    monkeypatch.setattr(liquidation, "load_compiled_engine", lambda: calls.append("engine"))
    monkeypatch.setattr(compute_module, "tune_allocator", lambda: calls.append("allocator") or True)
    pool = ComputePool(Pipeline(), 0)
    assert pool.start() == []
    assert calls == ["engine", "allocator"]
    assert pool._executor is None


@pytest.mark.parametrize("bad", [0, -1, 1.5])
def test_monte_carlo_threads_are_a_whole_number_of_at_least_one(bad, monkeypatch):
    from ipvalue.collateral import liquidation

    monkeypatch.setattr(liquidation, "PARALLEL_THREADS", 2)
    with pytest.raises(ValueError, match="threads"):
        liquidation.set_parallel_threads(bad)
    assert liquidation.PARALLEL_THREADS == 2
