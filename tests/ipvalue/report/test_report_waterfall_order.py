"""The haircut waterfall does not depend on the order of the patent table's columns.

A stored assessment read back from JSON may have its keys sorted; the waterfall splits each patent's drop over the
components in the engine's order (``ipvalue.collateral.haircut.COMPONENTS``), so the steps must be the same.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from ipvalue.collateral.haircut import COMPONENTS
from ipvalue.report import _data as D


@pytest.fixture(scope="module")
def engine_assessment():
    """The demo book's assessment by the engine itself (its own haircut components)."""
    import ipvalue as iv
    from ipvalue.demo import load_demo

    portfolio, loan, as_of = load_demo()
    return iv.assess_collateral(
        iv.value_portfolio(portfolio, as_of=as_of, rng=0), loan=loan, rng=0, stress=False
    )


def _with_columns(assessment, columns):
    return dataclasses.replace(assessment, patents=assessment.patents.loc[:, columns])


def test_components_come_in_the_engines_order(engine_assessment):
    cols = list(engine_assessment.patents.columns)
    for order in (sorted(cols), sorted(cols, reverse=True)):
        got = D.haircut_components(engine_assessment.patents.loc[:, order])
        assert got == [c for c in COMPONENTS if f"haircut_{c}" in cols]


def test_waterfall_steps_are_the_same_for_any_column_order(engine_assessment):
    want = D.waterfall_steps(engine_assessment, "en")
    cols = list(engine_assessment.patents.columns)
    rng = np.random.default_rng(5)
    for order in (sorted(cols), sorted(cols, reverse=True), list(rng.permutation(cols))):
        got = D.waterfall_steps(_with_columns(engine_assessment, order), "en")
        pd.testing.assert_frame_equal(got, want)
    # and the split is not trivially order-free: two non-zero components on the same patents
    steps = want.loc[want["kind"] == "step", "amount"].to_numpy()
    assert (np.abs(steps) > 0).sum() >= 2


def test_an_unknown_haircut_column_follows_the_engines(engine_assessment):
    p = engine_assessment.patents.copy()
    p.insert(0, "haircut_zz_bank_overlay", 0.0)
    got = D.haircut_components(p)
    assert got[-1] == "zz_bank_overlay" and got[:-1] == [c for c in COMPONENTS if f"haircut_{c}" in p.columns]
