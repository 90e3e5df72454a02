"""The stress test's rate shocks revalued on one shock axis equal each shock on its own, to the last bit.

:func:`ipvalue.valuation.kernel.value_prepared_many` runs each shock's economics, then the methods, the
reconciliation and the Monte Carlo range once over the shocks' rows stacked. The reference is
:func:`ipvalue.valuation.kernel.value_prepared` per shock in the same run (itself held equal to the whole
valuation in ``test_prepared_stages.py``), compared with ``assert_frame_equal(check_exact=True)`` and the exact
frame hash.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

import ipvalue as iv
from ipvalue.collateral import stress
from ipvalue.demo import load_demo
from ipvalue.facts.columns import input_hash
from ipvalue.valuation import VALUE_COLUMNS, Assumptions, ValuationInputError
from ipvalue.valuation._axis import stack_rows
from ipvalue.valuation._synthetic import synthetic_portfolio
from ipvalue.valuation.kernel import prepare_stages, value_prepared, value_prepared_many
from ipvalue.valuation.notes import Notes, stack_notes


def _valued(name: str) -> pd.DataFrame:
    if name == "demo":
        portfolio, _, as_of = load_demo()
        return iv.value_portfolio(portfolio, as_of=as_of, rng=0)
    draws = {"synthetic_draws": 300, "synthetic_point": 0}[name]
    book = synthetic_portfolio(160, seed=0)
    return iv.value_portfolio(book, {"draws": draws, "royalty_rate": 0.05}, as_of="2026-06-30", rng=2)


def _shocks(valued: pd.DataFrame) -> list[tuple[dict, dict]]:
    """The (assumptions, columns) of the stress test's rate shocks, as its revaluation passes them."""
    info = valued.attrs["ipvalue"]
    out = []
    for fn, col in stress._BY_RATES.items():
        shocked, assumptions = fn(valued, dict(info["assumptions"]))
        out.append((Assumptions.of(assumptions).as_dict(), {col: shocked[col]} if col in shocked else {}))
    return out


@pytest.mark.parametrize("name", ["demo", "synthetic_draws", "synthetic_point"])
def test_the_shock_axis_equals_each_shock_on_its_own(name):
    valued = _valued(name)
    info = valued.attrs["ipvalue"]
    base = valued.drop(columns=list(VALUE_COLUMNS))
    base.attrs = {}
    state = prepare_stages(
        base, Assumptions.of(info["assumptions"]).as_dict(), dt.date.fromisoformat(info["as_of"])
    )
    shocks = [*_shocks(valued), (None, None)]  # the three rate shocks and the base case itself
    many = value_prepared_many(state, int(info["seed"]), shocks)
    assert len(many) == len(shocks)
    for (a, columns), got in zip(shocks, many, strict=True):
        one = value_prepared(state, int(info["seed"]), a=a, columns=columns)
        pd.testing.assert_frame_equal(got, one, check_exact=True)
        assert input_hash(got) == input_hash(one)
    # the shocks move the values, and the base case on the axis is the valuation itself
    assert not np.array_equal(np.nan_to_num(many[1]["value"]), np.nan_to_num(many[3]["value"]))
    pd.testing.assert_frame_equal(many[3][list(VALUE_COLUMNS)], valued[list(VALUE_COLUMNS)], check_exact=True)


def test_a_shocked_rate_out_of_range_raises_on_the_axis_as_on_its_own():
    valued = _valued("demo")
    info = valued.attrs["ipvalue"]
    base = valued.drop(columns=list(VALUE_COLUMNS))
    base.attrs = {}
    state = prepare_stages(
        base, Assumptions.of(info["assumptions"]).as_dict(), dt.date.fromisoformat(info["as_of"])
    )
    rate = np.where(np.arange(len(valued)) % 5 == 0, 1.04, valued["discount_rate"])
    bad = {"discount_rate": pd.Series(rate, index=valued.index)}
    with pytest.raises(ValuationInputError) as alone:
        value_prepared(state, 0, columns=bad)
    with pytest.raises(type(alone.value)) as axis:
        value_prepared_many(state, 0, [(None, None), (None, bad)])
    assert str(axis.value) == str(alone.value)


def test_stacked_notes_give_each_run_its_own_text():
    one, two = Notes(3), Notes(3)
    one.add(np.array([True, False, True]), "a")
    two.add(np.array([False, True, True]), np.array(["x", "y", "z"], dtype=object))
    one.add(np.array([True, True, False]), "b")
    two.mute(np.array([True, False, False]))
    stacked = stack_notes([one, two])
    assert stacked.texts().tolist() == [*one.texts().tolist(), *two.texts().tolist()]
    assert stacked.texts().tolist() == ["a; b", "b", "a", "", "y", "z"]
    assert stacked.muted.tolist() == [False, False, False, True, False, False]


def test_stack_rows_refuses_what_is_not_by_row_and_differs():
    rows = stack_rows([{"v": np.arange(3.0), "flag": True}, {"v": np.arange(3.0) + 1, "flag": True}], 3)
    assert rows["v"].tolist() == [0.0, 1.0, 2.0, 1.0, 2.0, 3.0] and rows["flag"] is True
    with pytest.raises(ValueError, match="differs"):
        stack_rows([{"flag": True}, {"flag": False}], 3)
    with pytest.raises(ValueError, match="not by row"):
        stack_rows([np.zeros(2), np.ones(2)], 3)
