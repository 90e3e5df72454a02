"""The stress test's revaluations on their fast path give the numbers of the reference, to the last bit.

* :func:`~ipvalue.valuation.methods.real_option.deferral_lattice` walks its nodes level by level with the
  patents of a block side by side in memory (level x patent); the reference below is the lattice as it was
  written first (patent x level), the same operations in the same order per element.
* :func:`~ipvalue.valuation.kernel.value_prepared_many` with ``texts=False`` (the stress test's revaluations)
  leaves the text columns empty and every other column as with the texts.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ipvalue.demo import load_demo
from ipvalue.valuation import Assumptions
from ipvalue.valuation._synthetic import synthetic_portfolio
from ipvalue.valuation.kernel import prepare_stages, value_prepared_many
from ipvalue.valuation.methods.real_option import deferral_lattice


def lattice_reference(pv_cash_flows, investment_cost, years, rate, volatility, *, steps=100, block=512):
    """The deferral lattice as first written: each block's arrays patent x level."""
    s = np.asarray(pv_cash_flows, dtype=float)
    k = np.asarray(investment_cost, dtype=float)
    t = np.asarray(years, dtype=float)
    v = np.asarray(volatility, dtype=float)
    out = np.empty(s.shape)
    e = np.arange(-steps, steps + 1, dtype=float)
    for start in range(0, s.size, block):
        sl = slice(start, start + block)
        dt_ = t[sl, None] / steps
        q = 1.0 / t[sl, None]
        up = np.exp(v[sl, None] * np.sqrt(dt_))
        pu = (np.exp((rate - q) * dt_) - 1.0 / up) / (up - 1.0 / up)
        pu = np.clip(pu, 0.0, 1.0)
        pd_ = 1.0 - pu
        disc = np.exp(-rate * dt_)
        log_u = np.log(up)
        spot = s[sl, None] * np.exp(e[None, :] * log_u)
        kk = k[sl, None]
        val = np.maximum(spot[:, ::2] - kk, 0.0)
        up_part = np.empty_like(val)
        exercise = np.empty_like(val)
        for i in range(steps - 1, -1, -1):
            a_, b_, x_ = up_part[:, : i + 1], val[:, : i + 1], exercise[:, : i + 1]
            np.multiply(pu, val[:, 1 : i + 2], out=a_)
            np.multiply(pd_, b_, out=b_)
            np.add(a_, b_, out=b_)
            np.multiply(disc, b_, out=b_)
            np.subtract(spot[:, steps - i : steps + i + 1 : 2], kk, out=x_)
            np.maximum(b_, x_, out=b_)
        out[sl] = val[:, 0]
    return out


def _bits(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.float64).view(np.int64)


@pytest.mark.parametrize(
    ("n", "steps", "block"), [(1, 100, 512), (700, 100, 512), (1300, 40, 256), (5, 3, 2)]
)
def test_the_lattice_gives_the_reference_bits(n, steps, block):
    g = np.random.default_rng(n)
    s = g.lognormal(14, 1.5, n)
    k = g.lognormal(14, 1.5, n)
    k[: n // 10] = 0.0  # no launch cost left: exercise now
    t = g.uniform(0.05, 20.0, n)
    v = g.uniform(0.01, 0.9, n)  # low volatility: the up probability clipped at 1
    for rate in (0.0, 0.0177, 0.08):
        got = deferral_lattice(s, k, t, rate, v, steps=steps, block=block)
        want = lattice_reference(s, k, t, rate, v, steps=steps, block=block)
        assert np.array_equal(_bits(got), _bits(want))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(0.0, 1e9),
            st.floats(0.0, 1e9),
            st.floats(0.01, 40.0),
            st.floats(0.001, 2.0),
        ),
        min_size=1,
        max_size=9,
    ),
    st.floats(0.0, 0.2),
    st.integers(1, 30),
)
def test_the_lattice_gives_the_reference_bits_on_any_inputs(rows, rate, steps):
    s, k, t, v = (np.array(c, dtype=float) for c in zip(*rows, strict=True))
    got = deferral_lattice(s, k, t, rate, v, steps=steps, block=4)
    want = lattice_reference(s, k, t, rate, v, steps=steps, block=4)
    assert np.array_equal(_bits(got), _bits(want))


def _state(name: str):
    if name == "demo":
        portfolio, _, as_of = load_demo()
        a = Assumptions.of({}).as_dict()
    else:
        portfolio, as_of = synthetic_portfolio(300, seed=2), dt.date(2026, 6, 30)
        a = Assumptions.of({"draws": 200}).as_dict()
    return prepare_stages(portfolio, a, as_of), a


@pytest.mark.parametrize("name", ["demo", "synthetic"])
def test_revaluations_without_texts_keep_every_number(name):
    state, a = _state(name)
    frame = state.inputs.frame
    shocks = [
        (
            {**a, "discount_rate_build_up": {**(a.get("discount_rate_build_up") or {}), "market_risk": 0.06}},
            None,
        ),
        (a, {"royalty_rate": frame["royalty_rate"].to_numpy() * 0.6} if "royalty_rate" in frame else None),
    ]
    with_texts = value_prepared_many(state, 3, shocks)
    without = value_prepared_many(state, 3, shocks, texts=False)
    empty = ["method_weights", "methods_used", "value_notes"]
    for full, lean in zip(with_texts, without, strict=True):
        assert list(full.columns) == list(lean.columns)
        for c in empty:
            assert lean[c].isna().all() and full[c].notna().all(), c
        pd.testing.assert_frame_equal(full.drop(columns=empty), lean.drop(columns=empty), check_exact=True)
    # one shock: value_prepared's frames, the text columns emptied the same way
    (one,) = value_prepared_many(state, 3, shocks[:1], texts=False)
    pd.testing.assert_frame_equal(one, without[0], check_exact=True)


def test_a_revaluation_with_comparables_without_texts_keeps_every_number():
    """The path value_prepared_many takes with comparables: value_prepared's own texts flag, not a blanking after."""
    from ipvalue.valuation._synthetic import synthetic_comparables
    from ipvalue.valuation.kernel import value_prepared

    state, a = _state("synthetic")
    comps = synthetic_comparables(200, seed=1)
    shocks = [(a, None), ({**a, "discount_rate_build_up": {**(a.get("discount_rate_build_up") or {})}}, None)]
    with_texts = value_prepared_many(state, 3, shocks, comparables=comps)
    without = value_prepared_many(state, 3, shocks, comparables=comps, texts=False)
    empty = ["method_weights", "methods_used", "value_notes"]
    assert with_texts[0]["value_market"].notna().any()  # the market approach values some rows here
    for full, lean in zip(with_texts, without, strict=True):
        assert list(full.columns) == list(lean.columns)
        for c in empty:
            assert lean[c].isna().all() and full[c].notna().all(), c
            assert lean[c].dtype == object
        pd.testing.assert_frame_equal(full.drop(columns=empty), lean.drop(columns=empty), check_exact=True)
    one = value_prepared(state, 3, comparables=comps, texts=False)
    pd.testing.assert_frame_equal(one, without[0], check_exact=True)
