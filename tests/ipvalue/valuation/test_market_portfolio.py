"""The market approach inside value_portfolio (issue #14, phase B): the market branch of the method-choice rule,
the market spread in the range, and nothing moving without comparables."""

from __future__ import annotations

from importlib import resources

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ipvalue as iv
from ipvalue.demo import load_demo
from ipvalue.valuation.assumptions import resolve_assumptions
from ipvalue.valuation.montecarlo import triangular
from ipvalue.valuation.reconcile import WEIGHT_REASONS

DEFAULT_SHARES = {s: w["market"] for s, w in resolve_assumptions()["method_weights"].items()}


@pytest.fixture(scope="module")
def demo():
    portfolio, _, as_of = load_demo()
    path = resources.files("ipvalue") / "data" / "demo_comparables_FICTIONAL.csv"
    return portfolio, as_of, iv.read_comparables(str(path))


@pytest.fixture(scope="module")
def base(demo):
    portfolio, as_of, _ = demo
    return iv.value_portfolio(portfolio, as_of=as_of, rng=0)


def test_default_market_shares_are_the_documented_ones():
    # docs/methodology/reconciliation.md, "The market branch of the rule"
    assert DEFAULT_SHARES == {"commercialised": 0.3, "pre_commercial": 0.3, "no_economics": 0.5}
    assert resolve_assumptions()["market_max_level"] == "subclass"


def test_market_branch_weighs_by_situation(demo, base):
    portfolio, as_of, comps = demo
    zero = iv.value_portfolio(portfolio, {"draws": 0}, as_of=as_of)
    out = iv.value_portfolio(portfolio, {"draws": 0}, as_of=as_of, comparables=comps)
    weighed = out["methods_used"].str.contains("market")
    assert weighed.sum() >= 20
    seen = set()
    for situation, m in DEFAULT_SHARES.items():
        rows = weighed & out["method_weights"].str.contains(WEIGHT_REASONS[situation], regex=False)
        if not rows.any():
            continue
        seen.add(situation)
        assert out.loc[rows, "methods_used"].str.contains(f"market {round(m * 100)}%").all()
        expected = (1 - m) * zero.loc[rows, "value"] + m * out.loc[rows, "value_market"]
        np.testing.assert_allclose(out.loc[rows, "value"], expected, rtol=1e-12)
    assert seen == {"commercialised", "no_economics"}  # the demo has no pre-commercial patent
    # where it does not apply (no right, no value), the value is the three approaches' as before
    others = ~weighed
    pd.testing.assert_series_equal(out.loc[others, "value"], zero.loc[others, "value"])


def test_comparables_farther_than_the_subclass_are_shown_not_weighed(demo):
    portfolio, as_of, comps = demo
    # the same transactions moved to another subclass of the same class (B25J -> B25H, G06T -> G06K,
    # H02P -> H02K): selection finds them at the class level only
    far = comps.assign(ipc=comps["ipc"].str.replace("B25J", "B25H").str.replace("G06T", "G06K"))
    far = iv.read_comparables(far.assign(ipc=far["ipc"].str.replace("H02P", "H02K")).reset_index(drop=True))
    zero = iv.value_portfolio(portfolio, {"draws": 0}, as_of=as_of)
    out = iv.value_portfolio(portfolio, {"draws": 0}, as_of=as_of, comparables=far)
    has = out["value_market"].notna()
    assert has.any()
    assert not out["methods_used"].str.contains("market").any()
    assert out.loc[has, "method_weights"].str.contains("IPC class").all()
    assert out.loc[has, "method_weights"].str.contains("shown, not weighed").all()
    pd.testing.assert_series_equal(out["value"], zero["value"])
    # the valuer may accept the class level: then it weighs
    wide = iv.value_portfolio(
        portfolio, {"draws": 0, "market_max_level": "class"}, as_of=as_of, comparables=far
    )
    assert wide.loc[has, "methods_used"].str.contains("market").all()


def test_royalty_comparables_need_the_subjects_revenue(demo):
    portfolio, as_of, _ = demo
    # only royalty comparables: subjects with revenue get a market value, those without (no economics) none
    royalties = pd.DataFrame(
        {
            "comparable_id": [f"R{i}" for i in range(4)],
            "royalty_rate": [0.03, 0.04, 0.05, 0.045],
            "transaction_date": ["2023-01-10", "2023-06-01", "2024-02-01", "2024-09-30"],
            "ipc": ["B25J 9/16", "B25J 13/08", "B25J 15/00", "B25J 19/02"],
            "transaction_kind": "exclusive_licence",
        }
    )
    out = iv.value_portfolio(portfolio, {"draws": 0}, as_of=as_of, comparables=royalties)
    robots = out["cpc"].str.startswith("B25J") & out["status_as_of"].eq("granted")
    with_rev = robots & out["method_weights"].str.contains(WEIGHT_REASONS["commercialised"], regex=False)
    without = robots & out["method_weights"].str.contains(WEIGHT_REASONS["no_economics"], regex=False)
    assert with_rev.any() and without.any()
    assert out.loc[with_rev, "value_market"].gt(0).all()
    assert out.loc[without, "value_market"].isna().all()
    assert out.loc[without, "method_weights"].str.contains("royalty comparables unused").all()


def test_comparables_that_apply_nowhere_move_no_number(demo, base):
    portfolio, as_of, comps = demo
    elsewhere = iv.read_comparables(comps.assign(ipc="A01B 1/00").reset_index(drop=True))
    out = iv.value_portfolio(portfolio, as_of=as_of, rng=0, comparables=elsewhere)
    assert out["value_market"].isna().all()
    for c in ("value", "value_p05", "value_p50", "value_p95", "value_income", "value_cost", "value_option"):
        pd.testing.assert_series_equal(out[c], base[c])


def test_the_market_spread_feeds_the_range(demo, base):
    portfolio, as_of, comps = demo
    out = iv.value_portfolio(portfolio, as_of=as_of, rng=0, comparables=comps)
    from ipvalue.valuation.methods.market_stage import market_values  # noqa: F401  (the stage under test)

    res = iv.valuation.market_approach(
        portfolio.assign(
            quality_score=out["quality_score"], remaining_life_years=out["remaining_life_years"]
        ),
        comps,
        as_of=as_of,
    )
    # cost + market only (the US / EP patents: no income share in the CN product line): the range lies inside
    # (1 - m) cost + m [low, high] and is no longer a point
    only = out["methods_used"].str.startswith("cost") & out["methods_used"].str.contains("market")
    assert only.any()
    m = DEFAULT_SHARES["no_economics"]
    low = (1 - m) * out.loc[only, "value_cost"] + m * res.range.loc[only[only].index, "low"]
    high = (1 - m) * out.loc[only, "value_cost"] + m * res.range.loc[only[only].index, "high"]
    assert (out.loc[only, "value_p05"] >= low - 1e-6).all()
    assert (out.loc[only, "value_p95"] <= high + 1e-6).all()
    assert (out.loc[only, "value_p95"] > out.loc[only, "value_p05"]).all()
    assert (base.loc[only, "value_p95"] == base.loc[only, "value_p05"]).all()  # a point before
    assert out.loc[only, "value_notes"].str.contains("market value drawn").all()


def test_identical_comparables_give_no_market_spread(demo):
    portfolio, as_of, comps = demo
    same = comps[comps["price"].notna()].assign(price=2_000_000.0)
    same = iv.read_comparables(
        same.assign(quality_score=np.nan, remaining_life_years=np.nan, transaction_kind="assignment", territory="national", conditions_factor=1.0,
                    transaction_date="2025-01-01").reset_index(drop=True)
    )  # fmt: skip
    out = iv.value_portfolio(portfolio, {"market_max_level": "class"}, as_of=as_of, rng=0, comparables=same)
    only = out["methods_used"].str.startswith("cost") & out["methods_used"].str.contains("market")
    assert only.any()
    assert (out.loc[only, "value_p05"] == out.loc[only, "value_p95"]).all()


@settings(max_examples=80, deadline=None)
@given(
    lo=st.floats(0, 1e7),
    width=st.floats(0, 1e7),
    pos=st.floats(0, 1),
    u=st.lists(st.floats(0, 1, exclude_max=True), min_size=1, max_size=20),
)
def test_triangular_draws_stay_in_the_range(lo, width, pos, u):
    hi = lo + width
    mode = lo + pos * width
    x = triangular(np.array(u), np.float64(lo), np.float64(mode), np.float64(hi))
    assert (x >= lo - 1e-6 * max(1.0, hi)).all() and (x <= hi + 1e-6 * max(1.0, hi)).all()


def test_the_range_does_not_depend_on_row_order(demo):
    portfolio, as_of, comps = demo
    out = iv.value_portfolio(portfolio, as_of=as_of, rng=0, comparables=comps)
    rev = iv.value_portfolio(portfolio.iloc[::-1], as_of=as_of, rng=0, comparables=comps.iloc[::-1])
    pd.testing.assert_frame_equal(out, rev.loc[out.index])
