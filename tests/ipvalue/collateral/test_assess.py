import datetime as dt

import numpy as np
import pandas as pd
import pytest

from ipvalue.collateral import (
    COMPONENTS,
    LIQUIDATION_COLUMNS,
    STRESS_COLUMNS,
    SUMMARY_KEYS,
    CollateralAssessment,
    CollateralInputError,
    Loan,
    PolicyError,
    RiskSharing,
    assess_collateral,
)
from ipvalue.report.explain import haircut_texts

AS_OF = dt.date(2026, 6, 30)  # the date conftest.make_valued builds for
BORROWER = "深圳市示例科技有限公司"

FAST = dict(paths=2000)


def test_end_to_end_contract(valued, loan):
    a = assess_collateral(valued, loan=loan, **FAST)
    assert isinstance(a, CollateralAssessment)
    assert list(a.patents.index) == list(valued.index)  # every patent, in input order
    for c in ("eligible", "ineligible_reasons", "haircut_total", "collateral_value", "haircut_basis"):
        assert c in a.patents.columns
    for c in COMPONENTS:
        assert f"haircut_{c}" in a.patents.columns
    assert set(SUMMARY_KEYS) <= set(a.summary)
    assert a.summary["n_patents"] == len(valued)
    assert a.summary["seed"] == 0 and a.summary["as_of"] == AS_OF.isoformat()
    assert list(a.liquidation.columns) == list(LIQUIDATION_COLUMNS)
    assert a.liquidation["scenario"].iloc[-1] == "monte_carlo"
    # the stress frame adds description_zh after description until the engine's STRESS_COLUMNS names it
    assert [c for c in a.stress.columns if c != "description_zh"] == [
        c for c in STRESS_COLUMNS if c != "description_zh"
    ]
    assert list(a.stress.columns).index("description_zh") == list(a.stress.columns).index("description") + 1
    assert a.stress["shock"].tolist() == [
        "obsolescence",
        "royalty_cut",
        "discount_rate_up",
        "ip_market_crash",
        "invalidation_largest_family",
        "compensation_fund_exhausted",
    ]
    assert len(a.recovery_draws) == 2000
    assert set(a.audit) >= {
        "package_version",
        "input_hash",
        "output_hash",
        "policy",
        "seed",
        "as_of",
        "created_at",
    }
    assert {"name", "value", "source"} == set(a.assumptions.columns)
    assert a.assumptions["source"].str.len().min() > 0
    assert a.policy["name"] == "cn-bank-standard"
    assert "CollateralAssessment(" in repr(a)


def test_summary_arithmetic(valued, loan):
    a = assess_collateral(valued, loan=loan, stress=False, **FAST)
    s, p = a.summary, a.patents
    assert s["appraised_value"] == pytest.approx(valued["value"].sum())
    assert s["collateral_value"] == pytest.approx(p["collateral_value"].sum())
    assert s["eligible_value"] == pytest.approx(valued["value"][p["eligible"]].sum())
    assert s["max_loan"] == pytest.approx(s["collateral_value"] * 1.0)
    assert s["coverage_ratio"] == pytest.approx(s["collateral_value"] / loan.amount)
    assert s["ltv"] == pytest.approx(loan.amount / s["eligible_value"])
    assert s["shortfall"] == pytest.approx(max(0.0, loan.amount - s["max_loan"]))
    # Zhongshan-style split: the bank keeps 26% of a total loss
    assert s["bank_retained_exposure"] == pytest.approx(0.26 * loan.amount)
    assert s["expected_loss"] == pytest.approx(0.03 * s["expected_lgd"] * loan.amount)
    assert 0 <= s["expected_lgd"] <= s["lgd_95"] <= s["lgd_99"] <= 0.26 + 1e-12
    assert np.mean(1 - a.recovery_draws) == pytest.approx(s["expected_lgd"])


def test_haircuts_compose_multiplicatively_then_cap(valued, loan):
    p = assess_collateral(valued, loan=loan, stress=False, **FAST).patents
    composed = 1 - np.prod([1 - p[f"haircut_{c}"] for c in COMPONENTS], axis=0)
    expected_rate = np.minimum(1 - composed, p["pledge_rate_cap"])
    el = p["eligible"].to_numpy()
    np.testing.assert_allclose(1 - p["haircut_total"][el], expected_rate[el])
    np.testing.assert_allclose(p["collateral_value"], p["value"] * (1 - p["haircut_total"]))
    # a cap that binds: an absurdly low cap for inventions
    from ipvalue.collateral import load_policy

    pol = load_policy("cn-bank-standard").replace(
        "[C] test", pledge_rate_cap={"invention": 0.01, "utility_model": 0.25, "design": 0.0}
    )
    q = assess_collateral(valued, loan=loan, policy=pol, stress=False, **FAST).patents
    inv = (q["patent_type"] == "invention").to_numpy() & q["eligible"].to_numpy()
    assert q["cap_binding"][inv].all()
    np.testing.assert_allclose(q["collateral_value"][inv], 0.01 * q["value"][inv])
    assert "cap 1% binding" in haircut_texts(q, "en")[inv].iloc[0]
    assert q["haircut_basis"][inv].iloc[0]["cap_binding"] is True


def test_explanation_names_every_component(valued, loan):
    p = assess_collateral(valued, loan=loan, stress=False, **FAST).patents
    text = haircut_texts(p, "en").iloc[0]
    basis = p["haircut_basis"].iloc[0]
    for c in COMPONENTS:
        assert f"{c} " in text
        assert basis[c]["value"] == p[f"haircut_{c}"].iloc[0]  # the basis carries the column's number
        assert basis[c]["code"]
    assert f"{p['haircut_market'].iloc[0]:.1%}" in text


def test_ineligible_patents_contribute_nothing_but_stay(valued, loan):
    v = valued.copy()
    v["legal_status"] = v["legal_status"].astype(object)
    v.loc[v.index[0], "legal_status"] = "lapsed"
    v.loc[v.index[1], "pledged"] = True
    a = assess_collateral(v, loan=loan, stress=False, **FAST)
    p = a.patents
    assert p["collateral_value"].iloc[0] == 0 and p["collateral_value"].iloc[1] == 0
    assert (
        p["ineligible_reasons"].iloc[0] == "LAPSED" and p["ineligible_reasons"].iloc[1] == "ALREADY_PLEDGED"
    )
    assert haircut_texts(p, "en").iloc[0].startswith("INELIGIBLE (LAPSED)")
    assert p["haircut_basis"].iloc[0]["ineligible"] == ["LAPSED"]
    assert a.summary["n_eligible"] == len(v) - 2 and "INELIGIBLE_PATENTS" in a.summary["flags"]


def test_reproducible_and_row_order_irrelevant(valued, loan):
    a = assess_collateral(valued, loan=loan, rng=7, **FAST)
    b = assess_collateral(valued, loan=loan, rng=7, **FAST)
    shuffled = valued.sample(frac=1.0, random_state=3)
    c = assess_collateral(shuffled, loan=loan, rng=7, **FAST)
    np.testing.assert_array_equal(a.recovery_draws, b.recovery_draws)
    np.testing.assert_array_equal(a.recovery_draws, c.recovery_draws)
    assert a.audit["output_hash"] == b.audit["output_hash"] == c.audit["output_hash"]
    assert a.audit["input_hash"] == c.audit["input_hash"]
    pd.testing.assert_frame_equal(a.patents.loc[c.patents.index], c.patents)
    for k in ("collateral_value", "expected_lgd", "lgd_99", "prob_full_recovery"):
        assert a.summary[k] == c.summary[k]
    pd.testing.assert_frame_equal(a.stress, c.stress)
    d = assess_collateral(valued, loan=loan, rng=8, **FAST)
    assert d.audit["output_hash"] != a.audit["output_hash"]
    assert d.audit["input_hash"] != a.audit["input_hash"]


def test_created_at_does_not_enter_the_output_hash(valued, loan, monkeypatch):
    import ipvalue.collateral.api as eng

    a = assess_collateral(valued, loan=loan, stress=False, **FAST)

    class _Later(dt.datetime):
        @classmethod
        def now(cls, tz=None):
            return dt.datetime(2030, 1, 1, tzinfo=tz)

    monkeypatch.setattr(eng.dt, "datetime", _Later)
    b = assess_collateral(valued, loan=loan, stress=False, **FAST)
    assert b.audit["created_at"].startswith("2030-01-01") and a.audit["created_at"] != b.audit["created_at"]
    assert a.audit["output_hash"] == b.audit["output_hash"]


def test_as_of_from_attrs_or_argument(valued, loan):
    a = assess_collateral(valued, loan=loan, stress=False, **FAST)
    assert a.summary["as_of"] == "2026-06-30"
    b = assess_collateral(valued, loan=loan, stress=False, as_of="2026-07-15", **FAST)
    assert b.summary["as_of"] == "2026-07-15"
    bare = valued.copy()
    bare.attrs = {}
    with pytest.raises(CollateralInputError, match="as_of"):
        assess_collateral(bare, loan=loan, **FAST)


def test_bad_input_names_the_patent_and_the_field(valued, loan):
    v = valued.copy()
    v.loc[v.index[2], "value"] = -5.0
    with pytest.raises(CollateralInputError) as err:
        assess_collateral(v, loan=loan, **FAST)
    assert err.value.patent_id == v.index[2] and err.value.field == "value"
    assert v.index[2] in str(err.value)
    v = valued.copy()
    v["legal_status"] = v["legal_status"].astype(object)
    v.loc[v.index[1], "legal_status"] = "valid"
    with pytest.raises(CollateralInputError, match=f"{v.index[1]}.*legal_status"):
        assess_collateral(v, loan=loan, **FAST)
    v = valued.copy()
    v.loc[v.index[0], "quality_legal"] = 130.0
    with pytest.raises(CollateralInputError, match="quality_legal"):
        assess_collateral(v, loan=loan, **FAST)
    dup = pd.concat([valued, valued.iloc[[0]]])
    with pytest.raises(CollateralInputError, match="more than once"):
        assess_collateral(dup, loan=loan, **FAST)
    with pytest.raises(CollateralInputError, match="value_portfolio"):
        assess_collateral(valued.drop(columns=["remaining_life_years"]), loan=loan, **FAST)
    with pytest.raises(TypeError, match="seed"):
        assess_collateral(valued, loan=loan, rng=np.random.default_rng(0), **FAST)
    with pytest.raises(PolicyError, match="cn-bank-standard"):
        assess_collateral(valued, loan=loan, policy="nope", **FAST)


def test_currency_mismatch_needs_fx_and_takes_the_pair_volatility_haircut(valued):
    loan_usd = Loan(amount=500_000, currency="USD", tenor_years=1.0, borrower=BORROWER)
    with pytest.raises(CollateralInputError, match="currency"):
        assess_collateral(valued, loan=loan_usd, **FAST)
    a = assess_collateral(
        valued, loan=loan_usd, fx={"CNY": 0.14}, policy="basel-internal", stress=False, **FAST
    )
    p = a.patents
    # issue 15: not Basel's 10-day 8% scaled by sqrt(time) (0.08 x 5.187 = 41.5%), but the USD/CNY annual
    # volatility 4.07% (FRED DEXCHUS, ipvalue/data/fx_volatility.json) at the policy's 99% over its horizon
    # T = (N_R + T_M - 1) / 250 = (250 + 20 - 1) / 250 = 1.076 years: 1 - exp(-2.3263 x 0.0407 x 1.0373) = 9.35%
    assert p["haircut_currency"].iloc[0] == pytest.approx(0.0935, abs=5e-4)
    assert a.summary["appraised_value"] == pytest.approx(0.14 * valued["value"].sum())
    assert "CURRENCY_MISMATCH" in a.summary["flags"]


def test_stress_moves_the_right_way(valued, loan):
    a = assess_collateral(valued, loan=loan, **FAST)
    st = a.stress.set_index("shock")
    base_cv, base_lgd = a.summary["collateral_value"], a.summary["expected_lgd"]
    for shock in (
        "obsolescence",
        "royalty_cut",
        "discount_rate_up",
        "ip_market_crash",
        "invalidation_largest_family",
    ):
        assert st.loc[shock, "collateral_value"] < base_cv, shock
        assert st.loc[shock, "change_collateral_value"] == pytest.approx(
            st.loc[shock, "collateral_value"] - base_cv
        )
    assert st.loc["compensation_fund_exhausted", "collateral_value"] == pytest.approx(base_cv)
    assert st.loc["compensation_fund_exhausted", "expected_lgd"] > base_lgd
    assert st.loc["ip_market_crash", "expected_lgd"] > base_lgd
    # the synthetic frame has no economics, so valuation shocks say how they were applied
    assert not st.loc["royalty_cut", "revalued"]
    assert "applied directly" in st.loc["royalty_cut", "description"]


def test_no_eligible_patent_means_full_loss(valued):
    loan = Loan(amount=1e6, currency="CNY", tenor_years=1.0, borrower="Somebody Else Ltd")
    a = assess_collateral(valued, loan=loan, stress=False, **FAST)
    assert a.summary["n_eligible"] == 0 and a.summary["collateral_value"] == 0
    assert a.summary["expected_lgd"] == 1.0 and "NO_ELIGIBLE_PATENTS" in a.summary["flags"]
    assert a.summary["ltv"] == float("inf")


def test_risk_sharing_lowers_bank_lgd(valued):
    plain = Loan(amount=8e6, currency="CNY", tenor_years=2.0, probability_of_default=0.05, borrower=BORROWER)
    shared = Loan(
        amount=8e6,
        currency="CNY",
        tenor_years=2.0,
        probability_of_default=0.05,
        borrower=BORROWER,
        risk_sharing=RiskSharing(compensation_fund=0.4, guarantor=0.2),
    )
    a = assess_collateral(valued, loan=plain, stress=False, **FAST)
    b = assess_collateral(valued, loan=shared, stress=False, **FAST)
    assert b.summary["expected_lgd"] == pytest.approx(0.4 * a.summary["expected_lgd"])
    assert b.summary["expected_lgd_gross"] == pytest.approx(a.summary["expected_lgd_gross"])


def test_demo_portfolio_through_valuation():
    from ipvalue import demo
    from ipvalue.valuation import value_portfolio

    frame, loan, as_of = demo.load_demo()
    valued = value_portfolio(frame, as_of=as_of, rng=0)
    a = assess_collateral(valued, loan=loan, paths=2000)
    assert list(a.patents.index) == list(frame.index)
    st = a.stress.set_index("shock")
    assert st.loc["royalty_cut", "revalued"]
    assert st.loc["discount_rate_up", "revalued"]
    assert st.loc["obsolescence", "revalued"]
    codes = set(";".join(a.patents["ineligible_reasons"]).split(";")) - {""}
    assert {"LAPSED", "ALREADY_PLEDGED", "INVALIDATION_PENDING", "NOT_GRANTED", "TYPE_NOT_ACCEPTED"} <= codes


def test_an_empty_portfolio_gives_an_empty_table_and_a_full_loss(valued, loan):
    a = assess_collateral(valued.iloc[:0], loan=loan, **FAST)
    assert a.patents.empty and a.summary["n_patents"] == 0
    assert a.summary["expected_lgd"] == pytest.approx(0.26)  # the bank's share of a total loss
    assert "NO_ELIGIBLE_PATENTS" in a.summary["flags"] and len(a.stress) == 6


def test_a_type_or_status_outside_the_lists_names_the_patent_padding_and_blanks_pass(valued):
    from ipvalue.collateral._inputs import check_frame

    v = valued.copy()
    v["patent_type"] = v["patent_type"].astype(object)
    v.loc[v.index[3], "patent_type"] = "gadget"
    with pytest.raises(CollateralInputError) as err:
        check_frame(v)
    assert (err.value.patent_id, err.value.field) == (str(v.index[3]), "patent_type")
    v = valued.copy()
    v["legal_status"] = v["legal_status"].astype(object)
    v.loc[v.index[0], "legal_status"] = "  granted\t"  # read stripped: a known status
    v.loc[v.index[1], "legal_status"] = (
        "   "  # blank: missing, checked later (STATUS_UNKNOWN), not refused here
    )
    v.loc[v.index[2], "legal_status"] = None
    assert len(check_frame(v)) == len(v)
