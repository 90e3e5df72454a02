"""The valuation as stages (issue #13): the market approach's place in the methods and in the reconciliation."""

from __future__ import annotations

from importlib import resources

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ipvalue as iv
from ipvalue.demo import load_demo
from ipvalue.valuation.reconcile import market_shares, method_weights, reconcile

WEIGHTS = {
    "commercialised": {"income": 0.8, "cost": 0.2, "market": 0.25},
    "pre_commercial": {"option": 0.7, "cost": 0.3},
    "no_economics": {"cost": 1.0},
}


@settings(max_examples=60, deadline=None)
@given(
    inc=st.floats(0, 1e8),
    cost=st.floats(0, 1e8),
    mkt=st.floats(0, 1e8),
    share=st.floats(0, 1),
)
def test_market_takes_its_share_and_the_others_keep_their_proportions(inc, cost, mkt, share):
    # the rule of docs/methodology/reconciliation.md: value = (1 - m) x (income/cost reconciled) + m x market
    w = {**WEIGHTS, "commercialised": {"income": 0.8, "cost": 0.2, "market": share}}
    sit = np.array(["commercialised"], dtype=object)
    base, w_base = reconcile([inc], [cost], [np.nan], method_weights(sit, w))
    value, w_eff = reconcile([inc], [cost], [np.nan], method_weights(sit, w), [mkt], market_shares(sit, w))
    assert value[0] == pytest.approx((1 - share) * base[0] + share * mkt, rel=1e-12, abs=1e-6)
    assert w_eff.sum() == pytest.approx(1.0)
    if share < 1.0:  # income and cost keep their 80/20 proportion in the rest
        assert w_eff[0, 0] / w_eff[0, 1] == pytest.approx(4.0)
    # without a market value the weights are those of the three approaches, to the last bit
    value_nan, w_nan = reconcile(
        [inc], [cost], [np.nan], method_weights(sit, w), [np.nan], market_shares(sit, w)
    )
    assert value_nan[0] == base[0]
    assert (w_nan[:, :3] == w_base[:, :3]).all() and w_nan[0, 3] == 0.0


def test_market_alone_takes_all_the_value_when_no_other_approach_applies():
    sit = np.array(["commercialised"], dtype=object)
    value, w_eff = reconcile(
        [np.nan], [np.nan], [np.nan], method_weights(sit, WEIGHTS), [5.0], market_shares(sit, WEIGHTS)
    )
    assert value[0] == 5.0 and w_eff[0].tolist() == [0.0, 0.0, 0.0, 1.0]


@pytest.fixture(scope="module")
def demo():
    portfolio, _, as_of = load_demo()
    path = resources.files("ipvalue") / "data" / "demo_comparables_FICTIONAL.csv"
    return portfolio, as_of, iv.read_comparables(str(path))


def test_without_comparables_value_market_is_nan_and_said_so(demo):
    portfolio, as_of, _ = demo
    out = iv.value_portfolio(portfolio, {"draws": 0}, as_of=as_of)
    assert out["value_market"].isna().all()
    live = out["status_as_of"].isin(["granted", "pending"]) & (out["remaining_life_years"] > 0)
    assert out.loc[live, "method_weights"].str.endswith("| market: no comparables given").all()


def test_the_market_stage_feeds_the_reconciliation(demo):
    portfolio, as_of, comps = demo
    base = iv.value_portfolio(portfolio, {"draws": 0}, as_of=as_of)
    # market values shown but given no share: the value does not move, and the reason says why
    no_share = {s: {**w, "market": 0.0} for s, w in WEIGHTS.items()}
    shown = iv.value_portfolio(
        portfolio, {"draws": 0, "method_weights": no_share}, as_of=as_of, comparables=comps
    )
    has = shown["value_market"].notna()
    assert has.any()
    pd.testing.assert_series_equal(shown["value"], base["value"])
    assert shown.loc[has, "method_weights"].str.contains("not weighed").all()
    # with a market share for commercialised patents, value = (1 - m) x before + m x market on those rows
    weighed = iv.value_portfolio(
        portfolio, {"draws": 0, "method_weights": WEIGHTS}, as_of=as_of, comparables=comps
    )
    rows = has & (weighed["methods_used"].str.contains("market 25%"))
    assert rows.any()
    expected = 0.75 * base.loc[rows, "value"] + 0.25 * weighed.loc[rows, "value_market"]
    np.testing.assert_allclose(weighed.loc[rows, "value"], expected, rtol=1e-12)
    others = ~has
    pd.testing.assert_series_equal(weighed.loc[others, "value"], base.loc[others, "value"])


# ---------------------------------------------------------------------------------------------- no row lost


@pytest.mark.slow
@pytest.mark.parametrize("missing", [None, "", "  "])
def test_an_unknown_status_is_valued_nan_with_a_note_and_fails_collateral(demo, missing):
    # a connector leaves legal_status empty when no source states it (ipvalue.facts.patent); one such patent must
    # not stop the batch: the row stays, value NaN, a failure note, and collateral eligibility STATUS_UNKNOWN
    portfolio, as_of, _ = demo
    frame = portfolio.copy()
    frame["legal_status"] = frame["legal_status"].astype(object)
    live = frame.index[frame["legal_status"].eq("granted")]
    bad = live[0]
    frame.loc[bad, "legal_status"] = missing
    out = iv.value_portfolio(frame, as_of=as_of, rng=0)
    assert list(out.index) == list(frame.index)
    row = out.loc[bad]
    assert row["status_as_of"] == "unknown"
    for c in (
        "value",
        "value_income",
        "value_cost",
        "value_option",
        "value_market",
        "value_p05",
        "value_p95",
    ):
        assert np.isnan(row[c]), c
    assert row["value_notes"] == "not valued: legal_status unknown (no source states it); check the register"
    assert row["methods_used"] == "none (legal status unknown)"
    # the other patents are valued as before (in its product line the unknown one keeps a share: conservative)
    ref = iv.value_portfolio(portfolio, as_of=as_of, rng=0)
    grouped = "group" in out.columns and pd.notna(row.get("group"))
    same_group = out["group"].eq(row["group"]) if grouped else pd.Series(False, index=out.index)
    others = out.index[(out.index != bad) & ~same_group.to_numpy()]
    pd.testing.assert_series_equal(out.loc[others, "value"], ref.loc[others, "value"])
    _, loan, _ = load_demo()
    assessment = iv.assess_collateral(out, loan=loan, rng=0)
    assert list(assessment.patents.index) == list(frame.index)
    reasons = assessment.patents.loc[bad, "ineligible_reasons"]
    assert "STATUS_UNKNOWN" in reasons.split(";")
    assert not assessment.patents.loc[bad, "eligible"]


def test_an_unknown_status_past_its_term_is_expired_and_worth_zero():
    # the term (CN Patent Law art. 42) ends the right whatever the register says: expired, value 0
    frame = pd.DataFrame(
        [
            {
                "patent_id": "CN200410000001",
                "jurisdiction": "CN",
                "patent_type": "invention",
                "filing_date": pd.Timestamp("2004-01-01"),
                "grant_date": pd.Timestamp("2006-01-01"),
                "legal_status": None,
                "revenue": 1e6,
                "royalty_rate": 0.03,
            }
        ]
    ).set_index("patent_id", drop=False)
    row = iv.value_portfolio(frame, {"draws": 0}, as_of="2026-06-30").iloc[0]
    assert row["status_as_of"] == "expired" and row["value"] == 0.0
