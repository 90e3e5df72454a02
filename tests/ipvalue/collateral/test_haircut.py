import math

import numpy as np
import pytest

from ipvalue.collateral.haircut import (
    basel_market_haircut,
    basel_scaling_factor,
    concentration_haircut,
    currency_haircut,
    legal_haircut,
    life_factor,
    life_haircut,
    market_haircut,
    valuation_haircut,
)

# Worked factors for secured lending (T_M = 20) on the 10-day supervisory table, H = H10 * sqrt(2) *
# sqrt((N_R + 19) / 20): x1.41 daily, x1.98 monthly, x2.81 quarterly, x5.19 annual.
# Source: the DFSA Prudential - Investment, Insurance Intermediation and Banking Rules (PIB) A4.3.25-26, which
# carry the Basel II (2006) para. 156-157 scaling of the 10-day supervisory haircut.
BASEL_FACTORS = [(1, 1.41), (20, 1.98), (60, 2.81), (250, 5.19)]


@pytest.mark.parametrize(("n_r", "factor"), BASEL_FACTORS)
def test_basel_scaling_factors_for_secured_lending(n_r, factor):
    # the note rounds to two decimals (monthly: 1.9748 printed as 1.98), hence the tolerance
    assert basel_scaling_factor(n_r, 20, 10) == pytest.approx(factor, abs=0.0055)


def test_basel_scaling_without_conversion_is_one_for_daily_revaluation():
    # N_R = 1: sqrt((1 + T_M - 1) / T_M) = 1 for any holding period (no scale-up with daily remargining)
    assert basel_scaling_factor(1, np.array([5, 10, 20])) == pytest.approx([1.0, 1.0, 1.0])
    # H_M = H_N * sqrt(T_M / T_N): a 10-day haircut converted to 20 days grows by sqrt(2)
    assert basel_scaling_factor(1, 20, 10) == pytest.approx(math.sqrt(2))


def test_currency_mismatch_haircut_scales_like_any_other():
    # Hfx = 8% (10-day, daily revaluation; ADGM PRU A4.3.15) scaled for secured lending, annual revaluation
    h = currency_haircut([True, False], 0.08, 250, 20, 10)
    assert h[0] == pytest.approx(0.08 * 5.19, abs=0.001)
    assert h[1] == 0.0


# Reference section 5.2, quantile haircut H = 1 - exp(-z sigma sqrt(T)) with mu = 0, in whole percent.
REF_TABLE = [
    (0.30, 0.95, 0.5, 0.29),
    (0.30, 0.95, 1.0, 0.39),
    (0.30, 0.95, 2.0, 0.50),
    (0.50, 0.95, 0.5, 0.44),
    (0.50, 0.95, 1.0, 0.56),
    (0.50, 0.95, 2.0, 0.69),
    (0.50, 0.99, 0.5, 0.56),
    (0.50, 0.99, 1.0, 0.69),
    (0.50, 0.99, 2.0, 0.81),
    (0.70, 0.99, 0.5, 0.68),
    (0.70, 0.99, 1.0, 0.80),
    (0.70, 0.99, 2.0, 0.90),
]


@pytest.mark.parametrize(("sigma", "q", "t", "expected"), REF_TABLE)
def test_market_haircut_matches_the_reference_table(sigma, q, t, expected):
    assert market_haircut(sigma, t, q) == pytest.approx(expected, abs=0.006)


def test_market_haircut_by_hand_with_obsolescence_drift():
    # sigma 40%, mu -10%/y, T = 1.5y, 95%: 1 - exp(-0.15 - 1.6449 * 0.4 * sqrt(1.5))
    expected = 1 - math.exp(-0.1 * 1.5 - 1.6448536 * 0.4 * math.sqrt(1.5))
    assert market_haircut(0.4, 1.5, 0.95, -0.1) == pytest.approx(expected, rel=1e-6)
    # a pledge rate of about 31% at sigma 50%, T = 1y, 99% (reference 5.2)
    assert 1 - market_haircut(0.5, 1.0, 0.99) == pytest.approx(0.31, abs=0.005)


def test_market_haircut_is_monotone_and_bounded():
    sig = np.linspace(0, 3, 31)
    h = market_haircut(sig, 2.0, 0.99, -0.3)
    assert np.all(np.diff(h) >= 0) and h.min() >= 0 and h.max() <= 1
    assert market_haircut(0.0, 1.0, 0.99, 0.5) == 0.0  # positive drift, no risk: clipped at 0


def test_basel_market_haircut_is_the_10_day_quantile_times_the_factor():
    h10 = market_haircut(0.2, 10 / 250, 0.99, -0.05)
    assert basel_market_haircut(0.2, 0.99, -0.05, 250, 20, 10) == pytest.approx(h10 * 5.187, rel=1e-3)
    assert basel_market_haircut(0.8, 0.99, 0.0, 250, 20, 10) == 1.0  # capped


def test_valuation_haircut_by_hand():
    # a lognormal appraisal with log-sd 0.5: p05 = V e^-0.8224, p95 = V e^0.8224; k = 1 gives 1 - e^-0.5
    z = 1.6448536
    h, s = valuation_haircut(100 * math.exp(-z * 0.5), 100.0, 100 * math.exp(z * 0.5), 1.0, 0.3)
    assert s == pytest.approx(0.5)
    assert h == pytest.approx(1 - math.exp(-0.5))
    # k = 0.5 halves the exponent
    h2, _ = valuation_haircut(100 * math.exp(-z * 0.5), 100.0, 100 * math.exp(z * 0.5), 0.5, 0.3)
    assert h2 == pytest.approx(1 - math.exp(-0.25))
    # p05 = 0: the upper half of the range, ln(p95 / p50) / 1.645
    h3, s3 = valuation_haircut(0.0, 100.0, 100 * math.exp(z * 0.4), 1.0, 0.3)
    assert s3 == pytest.approx(0.4) and h3 == pytest.approx(1 - math.exp(-0.4))
    # no range: the policy's default
    h4, s4 = valuation_haircut(np.nan, 100.0, np.nan, 1.0, 0.3)
    assert h4 == 0.3 and np.isnan(s4)
    # a point value (p05 = p95): no valuation haircut
    h5, _ = valuation_haircut(100.0, 100.0, 100.0, 1.0, 0.3)
    assert h5 == 0.0


def test_legal_haircut_by_hand():
    assert legal_haircut(70.0, 0.3) == pytest.approx(0.09)
    assert legal_haircut(100.0, 0.3) == 0.0
    assert legal_haircut(0.0, 0.3) == pytest.approx(0.3)
    assert legal_haircut(np.nan, 0.3) == pytest.approx(0.3)


def test_life_haircut_by_hand():
    # 10 years left, 2 years to maturity plus disposal, 10%: 1 - a(8)/a(10)
    a = lambda n: (1 - 1.1**-n) / 0.1  # noqa: E731
    assert life_haircut(10.0, 2.0, 0.10) == pytest.approx(1 - a(8) / a(10))
    assert life_haircut(10.0, 2.0, 0.0) == pytest.approx(0.2)  # straight line without discounting
    assert life_haircut(1.5, 2.0, 0.10) == 1.0  # does not outlive the horizon
    assert life_haircut(np.nan, 2.0, 0.10) == 1.0
    assert life_factor(0.0, 0.0, 0.1) == 0.0


def test_concentration_haircut_by_hand_and_hhi_identity():
    v = np.array([50.0, 30.0, 20.0])
    h, shares, hhi = concentration_haircut(v, {"family": ["A", "A", "B"]}, {"family": 0.1}, 0.0)
    assert shares["family"] == pytest.approx([0.8, 0.8, 0.2])
    assert h == pytest.approx([0.08, 0.08, 0.02])
    assert hhi["family"] == pytest.approx(0.8**2 + 0.2**2)
    # value-weighted mean haircut = weight x HHI
    assert (h * v).sum() / v.sum() == pytest.approx(0.1 * hhi["family"])
    # free share 10%: (0.8 - 0.1) / 0.9
    h2, _, _ = concentration_haircut(v, {"family": ["A", "A", "B"]}, {"family": 0.1}, 0.1)
    assert h2[0] == pytest.approx(0.1 * 0.7 / 0.9)
    # several dimensions compose multiplicatively; one bucket holding everything takes the full weight
    h3, _, _ = concentration_haircut(v, {"a": ["x"] * 3, "b": ["y"] * 3}, {"a": 0.1, "b": 0.2}, 0.0)
    assert h3 == pytest.approx([1 - 0.9 * 0.8] * 3)
    # an empty pool attracts nothing
    h4, _, _ = concentration_haircut(np.zeros(2), {"a": ["x", "y"]}, {"a": 0.5}, 0.0)
    assert h4 == pytest.approx([0.0, 0.0])
