import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ipvalue.valuation import cost_value, depreciation_rate, multiplier_cost, reproduction_cost, trend_cost


def test_multiplier_method_exam_example():
    # 资产评估师 exam question bank (222.198.130.40:8081 ... id=2a1318b7f5204d1790c0c2085865ed8f), published answer:
    # 重置成本 = (15 + 20 + 30 x 1.2) / (1 - 0.4) x (1 + 20%) = 142 (万元); 贬值率 = 3 / (3 + 5) = 37.5%;
    # value = 142 x (1 - 37.5%) = 88.75 (万元).
    rc = multiplier_cost(15 + 20, 30, 1.2, 0.4, 0.20)
    assert rc == pytest.approx(142.0)
    assert depreciation_rate(3, 5) == pytest.approx(0.375)
    res = cost_value(rc, 3, 5)
    assert res.value == pytest.approx(88.75)
    assert res.depreciation_rate == pytest.approx(0.375)


def test_price_index_trending_exam_example():
    # tihaiku.com/caiwukuaiji/2135517.html: bought for 80 (万元), prices +25% since -> replacement cost 100.
    assert trend_cost(80, 100, 125) == pytest.approx(100.0)


def test_reproduction_cost_build_up():
    # developer's profit 10%, opportunity cost 4% over 2 years of even spending (1 year on average), fees 5
    rc = reproduction_cost(
        100.0, developer_profit_rate=0.10, opportunity_rate=0.04, development_years=2.0, fees_paid=5.0
    )
    assert rc == pytest.approx(100 * 1.10 + 100 * 0.04 + 5)
    assert reproduction_cost(100.0) == pytest.approx(100.0)


def test_obsolescence_multiplies():
    res = cost_value(200.0, 2, 8, functional_obsolescence=0.1, economic_obsolescence=0.25)
    assert res.value == pytest.approx(200 * 0.8 * 0.9 * 0.75)


def test_no_remaining_life_is_fully_depreciated_and_arrays_broadcast():
    np.testing.assert_allclose(depreciation_rate([0, 3, 5], [10, 0, 5]), [0.0, 1.0, 0.5])
    assert cost_value(100.0, 4, 0).value == 0.0


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: depreciation_rate(-1, 5), "used_years"),
        (lambda: depreciation_rate(1, np.nan), "remaining_years"),
        (lambda: multiplier_cost(10, 10, 1.2, 1.0, 0.1), "failure_rate"),
        (lambda: cost_value(100, 1, 1, functional_obsolescence=1.5), "functional_obsolescence"),
        (lambda: trend_cost(100, 0, 1), "index_then"),
        (lambda: reproduction_cost(-5), "direct_cost"),
    ],
)
def test_bad_inputs(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@settings(max_examples=60, deadline=None)
@given(used=st.floats(0, 30), r1=st.floats(0, 30), r2=st.floats(0, 30), rc=st.floats(0, 1e7))
def test_cost_value_rises_with_remaining_life_and_stays_below_cost(used, r1, r2, rc):
    lo, hi = sorted((r1, r2))
    v_lo = cost_value(rc, used, lo).value
    v_hi = cost_value(rc, used, hi).value
    assert 0.0 <= v_lo <= v_hi + 1e-9 <= rc + 1e-6
