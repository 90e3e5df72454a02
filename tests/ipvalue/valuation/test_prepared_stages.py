"""Revaluation from prepared stages is the whole valuation re-run, to the last bit (issue 17, the valuation side).

The stress test's royalty, discount-rate and economic-life shocks move only rates and lives: the facts at as_of,
the quality scores, the markets and allocation and the renewal fees paid are prepared once
(:func:`ipvalue.valuation.kernel.prepare_stages`) and every shock is valued from them
(:func:`ipvalue.valuation.kernel.value_prepared`). The reference in each test is the whole valuation run on the
shocked frame in the same run (``value_chunk``, as the stress test did before), compared with the project's exact
frame hash and ``assert_frame_equal(check_exact=True)``.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

import ipvalue as iv
from ipvalue.collateral import CollateralContext, load_policy, stress
from ipvalue.collateral._inputs import check_frame
from ipvalue.collateral.kernel import assess_frame
from ipvalue.collateral.stress import STRESS_SHOCKS, run_stress
from ipvalue.demo import load_demo
from ipvalue.facts.columns import input_hash
from ipvalue.valuation import VALUE_COLUMNS, Assumptions, ValuationInputError
from ipvalue.valuation._synthetic import synthetic_portfolio
from ipvalue.valuation.kernel import can_revalue, prepare_stages, value_chunk, value_prepared

#: the rate shocks of the stress test and the column each moves
RATE_SHOCKS = {
    "obsolescence": "economic_life_years",
    "royalty_cut": "royalty_rate",
    "discount_rate_up": "discount_rate",
}


def _assert_same(fast: pd.DataFrame, reference: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(fast, reference, check_exact=True)
    # exact to the last bit, dtypes and column order included
    assert input_hash(fast) == input_hash(reference)


def _strip(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.drop(columns=[c for c in VALUE_COLUMNS if c in frame.columns])
    out.attrs = {}
    return out


def _book(name: str) -> tuple[pd.DataFrame, dict]:
    if name == "demo":
        portfolio, _, as_of = load_demo()
        return iv.value_portfolio(portfolio, as_of=as_of, rng=0), {}
    draws = {"synthetic_draws": 200, "synthetic_point": 0}[name]
    book = synthetic_portfolio(150, seed=11)
    # a royalty assumption for the rows without one, so the royalty cut can revalue (it scales the assumption)
    a = {"draws": draws, "royalty_rate": 0.04}
    return iv.value_portfolio(book, a, as_of="2026-06-30", rng=3), a


@pytest.mark.parametrize("name", ["demo", "synthetic_draws", "synthetic_point"])
def test_each_rate_shock_from_prepared_stages_equals_the_whole_valuation(name):
    valued, _ = _book(name)
    info = valued.attrs["ipvalue"]
    day, seed = dt.date.fromisoformat(info["as_of"]), int(info["seed"])
    a0 = Assumptions.of(info["assumptions"]).as_dict()
    state = prepare_stages(_strip(valued), a0, day)
    seen = []
    for shock in STRESS_SHOCKS:
        if shock.name not in RATE_SHOCKS:
            continue
        shocked, assumptions = shock.revalue(valued, dict(info["assumptions"]))
        shocked = _strip(shocked)
        a = Assumptions.of(assumptions).as_dict()
        col = RATE_SHOCKS[shock.name]
        columns = {col: shocked[col]} if col in shocked.columns else {}
        assert can_revalue(state, a, columns)
        reference = value_chunk(shocked, a=a, as_of=day, seed=seed, currency=None, cohort=None)
        fast = value_prepared(state, seed, a=a, columns=columns)
        _assert_same(fast, reference)
        seen.append(fast["value"].to_numpy())
    # the shocks move the values (not three copies of the base case), and the state serves them all unchanged
    base = value_prepared(state, seed)
    _assert_same(base, value_chunk(_strip(valued), a=a0, as_of=day, seed=seed, currency=None, cohort=None))
    for v in seen:
        assert not np.array_equal(np.nan_to_num(v), np.nan_to_num(base["value"].to_numpy()))


def test_prepared_stages_refuse_what_they_did_not_prepare_for():
    valued, _ = _book("demo")
    info = valued.attrs["ipvalue"]
    a0 = Assumptions.of(info["assumptions"]).as_dict()
    state = prepare_stages(_strip(valued), a0, dt.date.fromisoformat(info["as_of"]))
    assert can_revalue(state, {**a0, "discount_rate": 0.2}, {"royalty_rate": valued["royalty_rate"]})
    # the facts at as_of and the quality read these: a revaluation that moves them runs the whole valuation
    assert not can_revalue(state, {**a0, "strict_dates": not a0["strict_dates"]})
    assert not can_revalue(state, a0, {"legal_status": valued["legal_status"]})
    assert not can_revalue(state, a0, {"revenue": valued["revenue"]})
    with pytest.raises(ValueError, match="more than rates"):
        value_prepared(state, 0, columns={"filing_date": valued["filing_date"]})


def test_a_shocked_rate_out_of_range_raises_what_the_whole_valuation_raises():
    valued, _ = _book("demo")
    info = valued.attrs["ipvalue"]
    day = dt.date.fromisoformat(info["as_of"])
    a0 = Assumptions.of(info["assumptions"]).as_dict()
    frame = _strip(valued)
    state = prepare_stages(frame, a0, day)
    bad = frame.assign(discount_rate=np.where(np.arange(len(frame)) % 5 == 0, 1.04, frame["discount_rate"]))
    with pytest.raises(ValuationInputError) as whole:
        value_chunk(bad, a=a0, as_of=day, seed=0, currency=None, cohort=None)
    with pytest.raises(ValuationInputError) as fast:
        value_prepared(state, 0, columns={"discount_rate": bad["discount_rate"]})
    assert str(fast.value) == str(whole.value)
    assert fast.value.problems == whole.value.problems


def _stress_both_ways(
    valued: pd.DataFrame, monkeypatch, *, backend=None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The stress table with the rate shocks from prepared stages, and with the whole valuation per shock."""
    _, loan, _ = load_demo()
    info = dict(valued.attrs["ipvalue"])
    frame = check_frame(valued).sort_index(kind="stable")
    ctx = CollateralContext(
        loan=loan,
        policy=load_policy("cn-bank-standard"),
        as_of=dt.date.fromisoformat(info["as_of"]),
        seed=0,
        paths=500,
    )
    base = assess_frame(frame, ctx, checked=True)
    kw = {"base": base.numbers, "base_patents": base.patents, "valuation": info, "base_core": base}
    fast = run_stress(frame, ctx, **kw)
    with monkeypatch.context() as m:
        m.setattr(stress, "_BY_RATES", {})  # no shock is known to move only rates: the whole valuation each
        whole = run_stress(frame, ctx, backend=backend, **kw)
    return fast, whole


@pytest.mark.parametrize("name", ["demo", "synthetic_draws", "synthetic_point"])
def test_stress_table_from_prepared_stages_equals_the_whole_revaluation(name, monkeypatch):
    valued, _ = _book(name)
    fast, whole = _stress_both_ways(valued, monkeypatch)
    assert fast["revalued"].tolist()[:3] == [True, True, True]
    pd.testing.assert_frame_equal(fast, whole, check_exact=True)


@pytest.mark.slow  # starts worker processes
@pytest.mark.parametrize("backend", ["serial", "processes"])
def test_stress_table_from_prepared_stages_equals_the_revaluation_on_a_backend(backend, monkeypatch):
    valued, _ = _book("synthetic_draws")
    fast, whole = _stress_both_ways(valued, monkeypatch, backend=backend)
    pd.testing.assert_frame_equal(fast, whole, check_exact=True)


@pytest.mark.parametrize("limit", [0, 2_500, 4_000_000])
def test_kept_uniform_rows_are_the_patents_own_streams(limit):
    from ipvalue._random import patent_uniforms
    from ipvalue.valuation.montecarlo import UniformRows

    ids = np.array([f"CN2020{i:07d}" for i in range(7)], dtype=object)
    kept = UniformRows(limit=limit)
    first = kept.uniforms(5, ids[:4], 1_000, "valuation")
    again = kept.uniforms(5, ids, 1_000, "valuation")  # rows 0-3 read back where kept, 4-6 drawn
    np.testing.assert_array_equal(first, patent_uniforms(5, ids[:4], 1_000, "valuation"))
    np.testing.assert_array_equal(again, patent_uniforms(5, ids, 1_000, "valuation"))
    assert kept.size <= limit and kept.size == 1_000 * len(kept.rows)
    assert not np.array_equal(kept.uniforms(6, ids[:1], 1_000, "valuation"), first[:1])  # the seed counts
