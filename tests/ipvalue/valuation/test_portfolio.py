import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ipvalue as iv
from ipvalue.valuation import VALUE_COLUMNS, ValuationInputError, relief_from_royalty
from ipvalue.valuation._synthetic import synthetic_portfolio

AS_OF = dt.date(2026, 6, 30)
POINT = {"draws": 0}


def _one(**econ):
    """A single granted CN invention filed 2016 (expires 2036), with the given economics."""
    row = {
        "patent_id": "CN201610000001",
        "jurisdiction": "CN",
        "patent_type": "invention",
        "filing_date": pd.Timestamp("2016-06-30"),
        "grant_date": pd.Timestamp("2018-06-30"),
        "legal_status": "granted",
        "cpc": "B25J9/16",
        "industry": "machinery",
        "currency": "CNY",
    } | econ
    return pd.DataFrame([row]).set_index("patent_id", drop=False)


@pytest.fixture(scope="module")
def synthetic():
    return synthetic_portfolio(400, seed=3)


@pytest.fixture(scope="module")
def valued(synthetic):
    return iv.value_portfolio(synthetic, {"draws": 200}, as_of=AS_OF, rng=11)


def test_columns_rows_and_attrs(synthetic, valued):
    assert list(valued.index) == list(synthetic.index)
    for c in (*VALUE_COLUMNS, "currency"):
        assert c in valued.columns
    meta = valued.attrs["ipvalue"]
    assert meta["as_of"] == "2026-06-30" and meta["seed"] == 11 and meta["version"] == iv.__version__
    assert len(meta["input_hash"]) == 64 and meta["assumptions"]["draws"] == 200
    assert (valued["currency"] == "CNY").all()
    assert valued["value_notes"].map(lambda s: isinstance(s, str)).all()


def test_input_unchanged_and_hash_ignores_row_order(synthetic, valued):
    before = synthetic.copy()
    iv.value_portfolio(synthetic, POINT, as_of=AS_OF)
    pd.testing.assert_frame_equal(synthetic, before)
    shuffled = synthetic.sample(frac=1.0, random_state=5)
    assert (
        iv.value_portfolio(shuffled, POINT, as_of=AS_OF).attrs["ipvalue"]["input_hash"]
        == valued.attrs["ipvalue"]["input_hash"]
    )
    changed = synthetic.copy()
    changed.iloc[0, changed.columns.get_loc("rd_cost")] = 123.0
    assert (
        iv.value_portfolio(changed, POINT, as_of=AS_OF).attrs["ipvalue"]["input_hash"]
        != valued.attrs["ipvalue"]["input_hash"]
    )


def test_dead_patents_are_zero_with_a_note(valued):
    dead = valued["legal_status"].isin(["lapsed", "expired"]) | (valued["remaining_life_years"] == 0)
    assert dead.any()
    for c in ("value", "value_income", "value_cost", "value_option", "value_p05", "value_p50", "value_p95"):
        assert (valued.loc[dead, c] == 0).all(), c
    assert valued.loc[dead, "value_notes"].str.contains("no remaining life").all()


def test_nan_with_note_never_made_up(valued):
    live = valued["remaining_life_years"] > 0
    no_rev = live & valued["revenue"].isna()
    assert valued.loc[no_rev, "value_income"].isna().all()
    assert valued.loc[no_rev, "value_notes"].str.contains("income and option: no revenue").all()
    no_rd = live & valued["rd_cost"].isna()
    assert valued.loc[no_rd, "value_cost"].isna().all()
    assert valued.loc[no_rd, "value_notes"].str.contains("no rd_cost").all()
    nothing = live & valued["value"].isna()
    assert nothing.any()
    assert valued.loc[nothing, "value_notes"].str.contains("not computed").all()
    assert valued.loc[nothing, ["value_p05", "value_p50", "value_p95"]].isna().all().all()


def test_range_brackets_and_weights(valued):
    ok = valued["value"].notna()
    v = valued[ok]
    assert (v["value_p05"] <= v["value_p50"] + 1e-9).all() and (v["value_p50"] <= v["value_p95"] + 1e-9).all()
    assert (v[["value", "value_p05", "value_p95"]] >= 0).all().all()
    comm = v["methods_used"].str.contains("income")
    # the point sits inside the range for income-led patents
    inside = (v.loc[comm, "value"] >= v.loc[comm, "value_p05"] * 0.999) & (
        v.loc[comm, "value"] <= v.loc[comm, "value_p95"] * 1.001
    )
    assert inside.mean() > 0.95


def test_reconciled_value_is_weighted_average():
    f = _one(revenue=1e7, royalty_rate=0.04, discount_rate=0.12, rd_cost=5e5, rd_year=2016)
    v = iv.value_portfolio(f, POINT, as_of=AS_OF).iloc[0]
    assert v["methods_used"] == "income (relief from royalty) 80%; cost 20%"
    assert v["value"] == pytest.approx(0.8 * v["value_income"] + 0.2 * v["value_cost"])
    w = iv.value_portfolio(
        f, {"draws": 0, "method_weights": {"commercialised": {"income": 1.0}}}, as_of=AS_OF
    ).iloc[0]
    assert (
        w["value"] == pytest.approx(w["value_income"])
        and w["methods_used"] == "income (relief from royalty) 100%"
    )


def test_income_matches_the_kernel():
    # 10 years left (expiry 2036-06-30), economic life 6.5 years binds: 6 full years and half of the seventh
    f = _one(
        revenue=1e7,
        royalty_rate=0.04,
        discount_rate=0.12,
        tax_rate=0.25,
        revenue_growth=0.05,
        economic_life_years=6.5,
        decay_rate=0.10,
    )
    v = iv.value_portfolio(f, POINT, as_of=AS_OF).iloc[0]
    t = np.arange(1, 8)
    w = np.clip(6.5 - (t - 1), 0, 1)
    rev = 1e7 * (1.05 * 0.90) ** t * w
    assert v["value_income"] == pytest.approx(relief_from_royalty(rev, 0.04, 0.25, 0.12).value, rel=1e-10)
    assert "decay" not in v["value_notes"]  # given, not defaulted
    assert "tax_rate" not in v["value_notes"]


def test_draw_median_close_to_point_with_closed_form():
    f = _one(revenue=1e7, royalty_rate=0.04, discount_rate=0.12, tax_rate=0.25)
    v = iv.value_portfolio(f, {"draws": 4000}, as_of=AS_OF).iloc[0]
    assert v["value_p50"] == pytest.approx(v["value"], rel=0.08)
    assert v["value_p05"] < v["value"] < v["value_p95"]


def test_linear_step_down_curve_is_lower():
    f = _one(revenue=1e7, royalty_rate=0.04, discount_rate=0.12)
    e = iv.value_portfolio(f, {"draws": 0, "decay_curve": "none"}, as_of=AS_OF).iloc[0]["value_income"]
    lin = iv.value_portfolio(f, {"draws": 300, "decay_curve": "linear"}, as_of=AS_OF).iloc[0]
    assert lin["value_income"] < e
    assert lin["value_p05"] <= lin["value_p50"] <= lin["value_p95"]


def test_defaults_are_noted():
    f = _one(revenue=1e7)
    v = iv.value_portfolio(f, POINT, as_of=AS_OF).iloc[0]
    notes = v["value_notes"]
    for word in (
        "royalty_rate default",
        "machinery range 1.5%-3.0%",
        "discount_rate default",
        "tax_rate default",
        "decay",
    ):
        assert word in notes, word


def test_assumption_overrides_are_recorded_and_used():
    f = _one(revenue=1e7, royalty_rate=0.04)
    a = iv.value_portfolio(f, {"draws": 0, "discount_rate": 0.10}, as_of=AS_OF)
    b = iv.value_portfolio(f, {"draws": 0, "discount_rate": 0.20}, as_of=AS_OF)
    assert a.attrs["ipvalue"]["assumptions"]["discount_rate"] == 0.10
    assert a.iloc[0]["value_income"] > b.iloc[0]["value_income"]
    assert "discount_rate 10.0% (assumption)" in a.iloc[0]["value_notes"]
    with pytest.raises(ValueError, match="unknown assumption"):
        iv.value_portfolio(f, {"discount": 0.1}, as_of=AS_OF)


def test_group_revenue_is_allocated_and_adds_up():
    rows = []
    for i, status in enumerate(["granted", "granted", "granted", "lapsed"]):
        r = (
            _one(revenue=4e7, royalty_rate=0.05, discount_rate=0.12, group="line-A", legal_status=status)
            .iloc[0]
            .to_dict()
        )
        r["patent_id"] = f"CN20161000000{i}"
        rows.append(r)
    f = pd.DataFrame(rows).set_index("patent_id", drop=False)
    f["allocation_weight"] = [1.0, 1.0, 2.0, 5.0]
    v = iv.value_portfolio(f, {"draws": 0, "allocation_weight": "allocation_weight"}, as_of=AS_OF)
    single = iv.value_portfolio(_one(revenue=4e7, royalty_rate=0.05, discount_rate=0.12), POINT, as_of=AS_OF)
    # same life and rates, so values split as the weights of the live patents (1:1:2) and add up to the whole line
    np.testing.assert_allclose(
        v["value_income"].iloc[:3].to_numpy(), single["value_income"].iloc[0] * np.array([0.25, 0.25, 0.5])
    )
    assert v["value_income"].iloc[3] == 0.0
    assert "25.0% of the group's revenue by allocation_weight" in v["value_notes"].iloc[0]
    eq = iv.value_portfolio(
        f.drop(columns="allocation_weight").assign(
            quality_legal=np.nan, quality_technical=np.nan, quality_economic=np.nan, quality_score=np.nan
        ),
        POINT,
        as_of=AS_OF,
    )
    assert eq["value_income"].iloc[:3].to_numpy() == pytest.approx([single["value_income"].iloc[0] / 3] * 3)


def test_conflicting_group_revenue_is_an_error():
    a = _one(revenue=1e7, group="g").iloc[0].to_dict()
    b = dict(a, patent_id="CN201610000002", revenue=2e7)
    f = pd.DataFrame([a, b]).set_index("patent_id", drop=False)
    with pytest.raises(ValuationInputError, match="group 'g'.*revenue differs"):
        iv.value_portfolio(f, POINT, as_of=AS_OF)


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("royalty_rate", 1.5, "royalty_rate must be a rate"),
        ("royalty_rate", -0.1, "royalty_rate must be a rate"),
        ("discount_rate", -0.05, "discount_rate must be a rate"),
        ("tax_rate", 1.2, "tax_rate must be a rate"),
        ("economic_life_years", 0.0, "economic_life_years must be a positive"),
        ("economic_life_years", -3.0, "economic_life_years must be a positive"),
        ("revenue", -1.0, "revenue must be a finite number"),
        ("revenue", np.inf, "revenue must be a finite number"),
        ("volatility", 0.0, "volatility must be a positive"),
        ("royalty_rate", "abc", "royalty_rate is not a number"),
        ("legal_status", "alive", "legal_status 'alive'"),
    ],
)
def test_bad_inputs_name_patent_and_field(field, value, match):
    f = _one(revenue=1e7, royalty_rate=0.04)
    f[field] = pd.Series([value], index=f.index, dtype=object)
    with pytest.raises(ValuationInputError, match=match) as err:
        iv.value_portfolio(f, POINT, as_of=AS_OF)
    assert "CN201610000001" in str(err.value)
    assert err.value.problems[0][1] == field


def test_bad_call_arguments():
    f = _one(revenue=1e7)
    with pytest.raises(TypeError, match="rng"):
        iv.value_portfolio(f, as_of=AS_OF, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="as_of"):
        iv.value_portfolio(f, as_of=None)
    with pytest.raises(ValuationInputError, match="currency .USD. differs"):
        iv.value_portfolio(
            pd.concat([f, _one(currency="USD").rename(index=lambda s: s + "9").assign(patent_id="X9")]),
            POINT,
            as_of=AS_OF,
        )


def test_seed_reproduces_and_changes(synthetic, valued):
    again = iv.value_portfolio(synthetic, {"draws": 200}, as_of=AS_OF, rng=11)
    pd.testing.assert_frame_equal(again, valued)
    other = iv.value_portfolio(synthetic, {"draws": 200}, as_of=AS_OF, rng=12)
    ok = valued["value_p95"].notna() & (valued["value_p95"] != valued["value_p05"])
    assert not np.allclose(other.loc[ok, "value_p95"], valued.loc[ok, "value_p95"])
    np.testing.assert_allclose(other["value"], valued["value"])  # the point does not depend on the seed


def test_row_order_and_chunking_do_not_change_any_patent(synthetic, valued):
    shuffled = synthetic.sample(frac=1.0, random_state=7)
    out = iv.value_portfolio(shuffled, {"draws": 200, "chunk_patents": 17}, as_of=AS_OF, rng=11).loc[
        valued.index
    ]
    cols = ["value_income", "value_cost", "value_option", "value", "value_p05", "value_p50", "value_p95"]
    pd.testing.assert_frame_equal(out[cols], valued[cols], rtol=1e-9)
    assert (out["value_notes"] == valued["value_notes"]).all()
    # a sub-portfolio of ungrouped patents gives the same numbers for them
    solo = synthetic[synthetic["group"].isna()].iloc[:50]
    part = iv.value_portfolio(solo, {"draws": 200}, as_of=AS_OF, rng=11)
    pd.testing.assert_frame_equal(part[cols], valued.loc[solo.index, cols], rtol=1e-9)


# ----------------------------------------------------------------------------- properties on value_portfolio

_econ = st.fixed_dictionaries(
    {
        "revenue": st.floats(1e5, 1e9),
        "royalty_rate": st.floats(0.001, 0.2),
        "discount_rate": st.floats(0.02, 0.4),
        "economic_life_years": st.floats(0.5, 9.5),
    }
)


@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(e=_econ, bump=st.floats(1.01, 2.0))
def test_value_monotone_in_royalty_revenue_life_and_discount(e, bump):
    f = _one(**e, rd_cost=1e5, rd_year=2016)
    base = iv.value_portfolio(f, POINT, as_of=AS_OF)["value"].iloc[0]

    def val(**kw):
        return iv.value_portfolio(_one(**(e | kw), rd_cost=1e5, rd_year=2016), POINT, as_of=AS_OF)[
            "value"
        ].iloc[0]

    assert val(royalty_rate=min(e["royalty_rate"] * bump, 1.0)) >= base
    assert val(revenue=e["revenue"] * bump) >= base
    assert val(economic_life_years=e["economic_life_years"] * bump) >= base
    assert val(discount_rate=min(e["discount_rate"] * bump, 1.0)) <= base


def test_zero_life_gives_zero():
    f = _one(revenue=1e7, royalty_rate=0.05, expiry_date=pd.Timestamp(AS_OF))
    v = iv.value_portfolio(f, {"draws": 100}, as_of=AS_OF).iloc[0]
    assert v["remaining_life_years"] == 0
    assert v["value"] == v["value_income"] == v["value_p95"] == 0.0


def test_pre_commercial_uses_the_option_when_available():
    f = _one(
        revenue=2e7,
        royalty_rate=0.05,
        discount_rate=0.12,
        commercialized=False,
        commercialization_cost=3e5,
        rd_cost=4e5,
        rd_year=2016,
    )
    v = iv.value_portfolio(f, POINT, as_of=AS_OF).iloc[0]
    assert np.isnan(v["value_income"])
    assert v["value_option"] > 0
    assert v["methods_used"] == "cost 30%; option 70%"
    assert "option: deferral call with early exercise" in v["value_notes"]
    # Damodaran's mapping: S = the RfR value of the forecast, K = launch cost, T = income period (10 y here)
    from ipvalue.valuation.methods.real_option import deferral_option

    s = iv.value_portfolio(f.assign(commercialized=True), POINT, as_of=AS_OF).iloc[0]["value_income"]
    # issue #13: early exercise on the lattice (100 steps), at least launching now
    expected = deferral_option(s, 3e5, v["remaining_life_years"], 0.018, 0.35, american=True, steps=100)
    assert v["value_option"] == pytest.approx(float(getattr(expected, "value", expected)), rel=1e-9)
    assert v["value_option"] >= s - 3e5


def test_demo_portfolio_values():
    from ipvalue import demo

    frame, _loan, as_of = demo.load_demo()
    v = iv.value_portfolio(frame, as_of=as_of)
    assert len(v) == len(frame)
    live = v["remaining_life_years"] > 0
    assert v.loc[live, "value"].notna().all() and (v.loc[live, "value"] > 0).all()
    assert (v.loc[~live, "value"] == 0).all()
    assert v["value"].sum() > 0


# ----------------------------------------------------------------------------- revenue forecasts


def test_revenue_forecast_then_growth_matches_kernel():
    f = _one(
        revenue_forecast="1000000;1200000;1500000",
        revenue_growth=0.02,
        royalty_rate=0.05,
        discount_rate=0.1,
        tax_rate=0.25,
        economic_life_years=5.0,
        decay_rate=0.0,
    )
    v = iv.value_portfolio(f, POINT, as_of=AS_OF).iloc[0]
    rev = np.array([1.0e6, 1.2e6, 1.5e6, 1.5e6 * 1.02, 1.5e6 * 1.02**2])
    assert v["value_income"] == pytest.approx(relief_from_royalty(rev, 0.05, 0.25, 0.1).value, rel=1e-10)
    assert "revenue forecast of 3 years" in v["value_notes"]
    r = iv.value_portfolio(f, {"draws": 2000}, as_of=AS_OF).iloc[0]
    assert r["value_p05"] < r["value_p50"] < r["value_p95"]
    assert r["value_p50"] == pytest.approx(r["value"], rel=0.1)


def test_revenue_forecast_list_and_group_share():
    a = _one(revenue_forecast=[1e6, 2e6], group="g", royalty_rate=0.05, discount_rate=0.1).iloc[0].to_dict()
    b = dict(a, patent_id="CN201610000002", revenue_forecast=None)
    f = pd.DataFrame([a, b]).set_index("patent_id", drop=False)
    f = f.assign(
        quality_legal=np.nan, quality_technical=np.nan, quality_economic=np.nan, quality_score=np.nan
    )
    v = iv.value_portfolio(f, POINT, as_of=AS_OF)
    assert v["value_income"].iloc[0] == pytest.approx(v["value_income"].iloc[1])
    whole = iv.value_portfolio(
        _one(revenue_forecast="1000000;2000000", royalty_rate=0.05, discount_rate=0.1), POINT, as_of=AS_OF
    )
    assert v["value_income"].sum() == pytest.approx(whole["value_income"].iloc[0])


@pytest.mark.parametrize(
    ("forecast", "match"),
    [
        ("100;;300", "revenue_forecast has a gap at year 2"),
        ("100;nan;300", "revenue_forecast has a gap at year 2"),
        ("100;abc", "revenue_forecast year 2 is not a number"),
        ("100;-5", "revenue_forecast year 2 must be a finite number >= 0"),
    ],
)
def test_revenue_forecast_gaps_are_errors(forecast, match):
    f = _one(revenue_forecast=forecast, royalty_rate=0.05)
    with pytest.raises(ValuationInputError, match=match) as err:
        iv.value_portfolio(f, POINT, as_of=AS_OF)
    assert "CN201610000001" in str(err.value)


@pytest.mark.slow
@settings(
    max_examples=5,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(perm_seed=st.integers(0, 2**32 - 1), seed=st.integers(0, 2**31 - 1))
def test_any_row_order_same_numbers_and_seed_reproduces(perm_seed, seed):
    f = synthetic_portfolio(60, seed=9)
    cols = ["value", "value_p05", "value_p50", "value_p95"]
    a = iv.value_portfolio(f, {"draws": 100}, as_of=AS_OF, rng=seed)
    b = iv.value_portfolio(
        f.sample(frac=1.0, random_state=perm_seed % (2**32 - 1)), {"draws": 100}, as_of=AS_OF, rng=seed
    )
    pd.testing.assert_frame_equal(a[cols], b.loc[a.index, cols], rtol=1e-9)
    assert a.attrs["ipvalue"]["seed"] == seed


def test_deferral_option_is_reexported():
    from ipvalue.valuation import deferral_option
    from ipvalue.valuation.methods.real_option import deferral_option as original

    assert deferral_option is original
    assert "deferral_option" in iv.valuation.__all__


@settings(max_examples=50, deadline=None)
@given(g=st.floats(-0.5, 0.5), r=st.floats(0.0, 0.5), d=st.floats(0.0, 0.6), life=st.floats(0.0, 25.0))
def test_closed_form_draw_sum_equals_year_by_year(g, r, d, life):
    from ipvalue.valuation.montecarlo import geometric_pv, yearly_pv

    x = np.array([[(1 + g) * (1 - d) / (1 + r)]])
    closed = geometric_pv(x, np.array([[life]]))[0, 0]
    direct = sum(x[0, 0] ** t * min(max(life - (t - 1), 0.0), 1.0) for t in range(1, 27))
    assert closed == pytest.approx(direct, rel=1e-9, abs=1e-12)
    looped = yearly_pv(
        np.array([1.0]),
        np.array([[g]]),
        np.array([[d]]),
        np.array([[r]]),
        np.array([[life]]),
        np.full((1, 0), np.nan),
        np.array([0]),
        np.array([np.nan]),
        26,
        False,
    )[0, 0]
    assert looped == pytest.approx(direct, rel=1e-9, abs=1e-12)


def test_commercialized_flag_text_and_bad_value():
    f = _one(revenue=1e7, royalty_rate=0.04, commercialized=False, commercialization_cost=1e5)
    v = iv.value_portfolio(f, POINT, as_of=AS_OF).iloc[0]
    assert np.isnan(v["value_income"])  # pre-commercial: no income value
    f = _one(revenue=1e7, commercialized="maybe")
    with pytest.raises(ValuationInputError, match="commercialized must be true or false"):
        iv.value_portfolio(f, POINT, as_of=AS_OF)


def test_term_problems_raise_or_coerce_to_nan_with_note():
    f = _one(revenue=1e7, royalty_rate=0.04, rd_cost=1e5, rd_year=2016, filing_date=pd.NaT)
    with pytest.raises(ValueError, match="CN201610000001"):
        iv.value_portfolio(f, POINT, as_of=AS_OF)
    v = iv.value_portfolio(f, {"draws": 0, "term_errors": "coerce"}, as_of=AS_OF).iloc[0]
    assert np.isnan(v["remaining_life_years"]) and np.isnan(v["value"])
    assert "remaining life unknown" in v["value_notes"]


def test_tab_and_mid_year_assumptions():
    f = _one(
        revenue=1e7,
        royalty_rate=0.04,
        discount_rate=0.12,
        tax_rate=0.25,
        economic_life_years=5.0,
        decay_rate=0.0,
    )
    base = iv.value_portfolio(f, POINT, as_of=AS_OF).iloc[0]["value_income"]
    tab = iv.value_portfolio(f, {"draws": 0, "tab_years": 15}, as_of=AS_OF).iloc[0]
    assert tab["value_income"] == pytest.approx(base * iv.valuation.tab_factor(0.25, 15, 0.12))
    assert "tax amortisation benefit over 15 years" in tab["value_notes"]
    mid = iv.value_portfolio(f, {"draws": 0, "mid_year": True}, as_of=AS_OF).iloc[0]["value_income"]
    assert mid == pytest.approx(base * 1.12**0.5)
    r = iv.value_portfolio(f, {"draws": 500, "tab_years": 15, "mid_year": True}, as_of=AS_OF).iloc[0]
    assert r["value_p05"] < r["value"] < r["value_p95"]


def test_quality_score_allocates_group_revenue_and_pydantic_assumptions():
    from pydantic import BaseModel

    class Assumptions(BaseModel):
        draws: int = 0
        discount_rate: float | None = None

    a = _one(revenue=1e7, royalty_rate=0.05, discount_rate=0.1, group="g").iloc[0].to_dict()
    b = dict(a, patent_id="CN201610000002")
    f = pd.DataFrame([a, b]).set_index("patent_id", drop=False)
    f = f.assign(
        quality_legal=50.0, quality_technical=50.0, quality_economic=50.0, quality_score=[20.0, 60.0]
    )
    v = iv.value_portfolio(f, Assumptions(), as_of=AS_OF)
    assert v["value_income"].iloc[1] == pytest.approx(3 * v["value_income"].iloc[0])
    assert "75.0% of the group's revenue by quality_score" in v["value_notes"].iloc[1]
    assert v.attrs["ipvalue"]["assumptions"]["draws"] == 0


def test_profit_margin_gives_a_25_percent_rule_cross_check_only():
    with_margin = iv.value_portfolio(
        _one(revenue=1e7, royalty_rate=0.03, profit_margin=0.2), POINT, as_of=AS_OF
    ).iloc[0]
    without = iv.value_portfolio(_one(revenue=1e7, royalty_rate=0.03), POINT, as_of=AS_OF).iloc[0]
    assert "0.25 x profit_margin = 5.00% (royalty used 3.00%)" in with_margin["value_notes"]
    assert with_margin["value"] == pytest.approx(without["value"])


@pytest.mark.parametrize(
    ("assumptions", "match"),
    [
        ({"method_weights": {"commercialised": {"income": -1.0}}}, "non-negative"),
        ({"method_weights": {"commercialised": {"income": 0.0}}}, "not all zero"),
        ({"method_weights": {"booming": {"income": 1.0}}}, "unknown situation"),
        ({"method_weights": {"commercialised": {"hedonic": 1.0}}}, "unknown method"),
        # the market approach is weighed as a share of the value, which must be a fraction
        ({"method_weights": {"commercialised": {"income": 1.0, "market": 1.5}}}, "market share"),
        # ... and it cannot be a situation's only approach (it applies only where comparables give a value)
        ({"method_weights": {"commercialised": {"market": 1.0}}}, "not all zero"),
        ({"draws": -5}, "draws"),
        ({"discount_rate": 1.5}, "discount_rate"),
        ({"royalty_ranges": {"machinery": (0.05, 0.01)}}, "royalty_ranges"),
        ({"decay_curve": "sigmoid"}, "decay_curve"),
        ({"economic_life_years": 0}, "economic_life_years"),
    ],
)
def test_bad_assumptions(assumptions, match):
    with pytest.raises(ValueError, match=match):
        iv.value_portfolio(_one(revenue=1e7), assumptions, as_of=AS_OF)


def test_royalty_range_override_moves_the_default_rate():
    f = _one(revenue=1e7).assign(
        quality_legal=np.nan, quality_technical=np.nan, quality_economic=np.nan, quality_score=np.nan
    )
    v = iv.value_portfolio(f, {"draws": 0, "royalty_ranges": {"machinery": (0.04, 0.06)}}, as_of=AS_OF).iloc[
        0
    ]
    assert "royalty_rate default 5.00% (machinery range 4.0%-6.0%, midpoint)" in v["value_notes"]


def test_curated_all_resolves():
    for name in iv.valuation.__all__:
        assert getattr(iv.valuation, name) is not None, name
    assert iv.value_portfolio is iv.valuation.value_portfolio
