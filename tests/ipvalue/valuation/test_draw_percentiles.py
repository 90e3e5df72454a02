"""The Monte Carlo's percentiles from sorted rows equal ``np.percentile`` of the draws (issue 17: same bits)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from ipvalue.valuation.montecarlo import percentiles

_VALUES = st.sampled_from([0.0, -0.0, 1.0, -1.0, 2.5, 1e-300, -1e300, np.nan, np.inf])


@settings(max_examples=300, deadline=None)
@given(
    st.integers(1, 6),
    st.integers(1, 40),
    st.lists(st.one_of(_VALUES, st.floats(-1e6, 1e6)), min_size=1, max_size=240),
)
def test_percentiles_are_np_percentile_to_the_bit(rows, cols, pool):
    # ties, signed zeros, NaN and infinities: the sorted rows (the fast path) against np.percentile (reference)
    vals = np.resize(np.array(pool, dtype=float), rows * cols).reshape(rows, cols)
    with np.errstate(invalid="ignore"):  # inf - inf between two order statistics: NaN on both paths
        got = percentiles(vals, (5, 50, 95))
        want = np.percentile(vals, [5, 50, 95], axis=1)
    assert got.shape == want.shape
    assert got.tobytes() == want.tobytes()


def test_percentiles_of_a_thousand_draws_per_patent():
    rng = np.random.default_rng(4)
    vals = rng.lognormal(12.0, 0.6, size=(50, 1000))
    vals[3, ::7] = -0.0  # a row with negative zeros goes the reference way
    vals[4, ::5] = 0.0
    vals[5, 10] = np.nan
    got = percentiles(vals, (5, 50, 95))
    assert got.tobytes() == np.percentile(vals, [5, 50, 95], axis=1).tobytes()
