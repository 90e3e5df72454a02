"""Tests of the option kernels against published worked examples, an independent engine and properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ipvalue.options as opt
from ipvalue.options import OptionInputError

# ---------------------------------------------------------------------------------------------------------
# Published worked examples
# ---------------------------------------------------------------------------------------------------------


def test_black_scholes_hull_example():
    # Hull, Options, Futures and Other Derivatives: S=42, K=40, r=10%, sigma=20%, T=0.5 gives
    # d1=0.7693, d2=0.6278, c=4.76, p=0.81 (Example 15.6 in recent editions; 13.6/14.6 in earlier ones).
    call = opt.black_scholes(42, 40, 0.5, 0.10, 0.20)
    put = opt.black_scholes(42, 40, 0.5, 0.10, 0.20, kind="put")
    assert isinstance(call, float)
    assert round(call, 2) == 4.76
    assert round(put, 2) == 0.81


@pytest.mark.parametrize(("steps", "expected", "decimals"), [(5, 4.49, 2), (500, 4.283, 3)])
def test_binomial_hull_american_put(steps, expected, decimals):
    # Hull, Options, Futures and Other Derivatives, American put on a non-dividend stock, S=K=50,
    # r=10%, sigma=40%, T=5 months: 4.49 with 5 steps (Example 21.1 / Figure 21.3; Ex. 17.1 in the 6th
    # ed.), 4.283 with 500 steps (the convergence table of the same chapter).
    value = opt.binomial(50, 50, 5 / 12, 0.10, 0.40, steps=steps, kind="put")
    assert round(value, decimals) == expected


def test_binomial_hull_five_step_tree_parameters():
    # Hull's 5-step tree lists u=1.1224, d=0.8909, p=0.5073 at S=K=50, r=10%, sigma=40%, dt=1/12.
    dt = 5 / 12 / 5
    u = math.exp(0.40 * math.sqrt(dt))
    p = (math.exp(0.10 * dt) - 1 / u) / (u - 1 / u)
    assert (round(u, 4), round(1 / u, 4), round(p, 4)) == (1.1224, 0.8909, 0.5073)
    # one step of that tree, priced by the kernel, equals the hand rollback
    one = opt.binomial(50, 50, dt, 0.10, 0.40, steps=1, kind="put", american=False)
    assert one == pytest.approx(math.exp(-0.10 * dt) * (1 - p) * (50 - 50 / u), rel=1e-12)


# Longstaff and Schwartz (2001), "Valuing American Options by Simulation", RFS 14(1):113-147, Table 1:
# K=40, r=6%, American put exercisable 50 times a year. Columns: finite-difference value, European
# closed form, LSM value (s.e.). Row S=36, sigma=.2, T=1 was seen in the paper; the other rows are recalled
# from the same table (marked as recalled in docs/methodology/options.md) and cross-checked against their
# closed-form European column (which the test below also checks).
LS_TABLE = [
    # S, sigma, T, FD, European, LSM, s.e.
    (36, 0.2, 1, 4.478, 3.844, 4.472, 0.010),
    (36, 0.2, 2, 4.840, 3.763, 4.821, 0.012),
    (36, 0.4, 1, 7.101, 6.711, 7.091, 0.020),
    (36, 0.4, 2, 8.508, 7.700, 8.488, 0.024),
    (40, 0.2, 1, 2.314, 2.066, 2.313, 0.009),
    (40, 0.2, 2, 2.885, 2.356, 2.879, 0.010),
    (40, 0.4, 1, 5.312, 5.060, 5.308, 0.018),
    (40, 0.4, 2, 6.920, 6.326, 6.921, 0.022),
    (44, 0.2, 1, 1.110, 1.017, 1.118, 0.007),
    (44, 0.2, 2, 1.690, 1.429, 1.675, 0.007),
    (44, 0.4, 1, 3.948, 3.783, 3.957, 0.017),
    (44, 0.4, 2, 5.647, 5.202, 5.622, 0.021),
]
LS = np.array(LS_TABLE)


def test_longstaff_schwartz_table1_european_column():
    s, sigma, t, _, euro = LS[:, 0], LS[:, 1], LS[:, 2], LS[:, 3], LS[:, 4]
    ours = opt.black_scholes(s, 40.0, t, 0.06, sigma, kind="put")
    np.testing.assert_allclose(ours, euro, atol=0.0006)


def test_longstaff_schwartz_table1_bermudan_lattice_matches_fd_column():
    # The paper's options can be exercised 50 times a year; a 50-dates-per-year Bermudan lattice
    # reproduces the FD column (within 0.002 for sigma=.2 and 0.006 for sigma=.4), while the
    # continuously exercisable value is higher (row 1: 4.4867 against 4.478).
    s, sigma, t, fd = LS[:, 0], LS[:, 1], LS[:, 2], LS[:, 3]
    for years in (1, 2):
        rows = t == years
        berm = opt.binomial(
            s[rows], 40.0, years, 0.06, sigma[rows], steps=2000, kind="put", exercise_dates=50 * years
        )
        tol = np.where(sigma[rows] == 0.2, 0.002, 0.006)
        assert np.all(np.abs(berm - fd[rows]) <= tol), (berm, fd[rows])
    continuous = opt.binomial(36, 40, 1, 0.06, 0.2, steps=5000, kind="put")
    assert round(continuous, 4) == 4.4867
    assert continuous > 4.478


def test_longstaff_schwartz_table1_lsm_column():
    # Our LSM (50 dates a year, 20k antithetic paths) against the paper's LSM column: two independent
    # estimates, so the tolerance is three combined standard errors plus the regression bias (0.01).
    s, sigma, t, lsm_paper, se_paper = LS[:, 0], LS[:, 1], LS[:, 2], LS[:, 5], LS[:, 6]
    for years in (1, 2):
        rows = t == years
        res = opt.lsm(s[rows], 40.0, years, 0.06, sigma[rows], paths=20_000, steps=50 * years, rng=7)
        tol = 3 * np.hypot(res.stderr, se_paper[rows]) + 0.01
        assert np.all(np.abs(res.price - lsm_paper[rows]) <= tol), (res.price, lsm_paper[rows], tol)


# ---------------------------------------------------------------------------------------------------------
# Convergence, parity, agreement between engines
# ---------------------------------------------------------------------------------------------------------


def test_european_lattice_converges_to_black_scholes():
    s = np.array([80.0, 100.0, 120.0])
    bs = opt.black_scholes(s, 100, 1.5, 0.04, 0.3, dividend=0.02)
    errors = []
    for steps in (50, 200, 800):
        # average of two neighbouring step counts removes the odd/even oscillation of CRR
        lat = 0.5 * (
            opt.binomial(s, 100, 1.5, 0.04, 0.3, dividend=0.02, steps=steps, american=False)
            + opt.binomial(s, 100, 1.5, 0.04, 0.3, dividend=0.02, steps=steps + 1, american=False)
        )
        errors.append(np.max(np.abs(lat - bs)))
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 5e-3


def test_low_volatility_lattice_centred_on_the_forward():
    # sigma sqrt(dt) < |r - q| dt: the CRR probability would leave [0, 1]; the forward-centred lattice is
    # used for those options and still converges to Black-Scholes, in a batch with ordinary options.
    vol = np.array([0.001, 0.3])
    eu = opt.binomial(100, 100, 1, 0.5, vol, steps=400, american=False)
    np.testing.assert_allclose(eu, opt.black_scholes(100, 100, 1, 0.5, vol), atol=0.02)
    # an American put deep in the money with such a drift is exercised at once
    assert opt.binomial(80, 100, 1, 0.5, 0.001, steps=50, kind="put") == pytest.approx(20.0)
    # no early exercise for a call without dividend
    assert opt.binomial(100, 100, 1, 0.5, 0.001, steps=400) == pytest.approx(eu[0], abs=1e-9)


def test_lattice_without_fast_path_matches_black_scholes():
    # steps * |ln(pu/pd)| large (low volatility, high rate): the plain rollback is used
    value = opt.binomial(100, 100, 1.0, 0.15, 0.02, steps=3000, american=False)
    assert value == pytest.approx(opt.black_scholes(100, 100, 1.0, 0.15, 0.02), abs=2e-3)


@pytest.mark.parametrize("engine", ["bs", "lattice"])
def test_put_call_parity(engine):
    s = np.linspace(20, 180, 9)
    args = (s, 100.0, 2.0, 0.05, 0.35)
    kw = {"dividend": 0.03}
    if engine == "bs":
        call = opt.black_scholes(*args, **kw)
        put = opt.black_scholes(*args, kind="put", **kw)
    else:
        call = opt.binomial(*args, steps=300, american=False, **kw)
        put = opt.binomial(*args, steps=300, american=False, kind="put", **kw)
    np.testing.assert_allclose(call - put, s * np.exp(-0.03 * 2) - 100 * np.exp(-0.05 * 2), atol=1e-9)


def test_lsm_agrees_with_lattice_within_standard_error():
    s = np.array([36.0, 40.0, 44.0])
    res = opt.lsm(s, 40, 1, 0.06, 0.2, paths=40_000, steps=50, rng=3)
    berm = opt.binomial(s, 40, 1, 0.06, 0.2, steps=1000, kind="put", exercise_dates=50)
    assert np.all(res.stderr > 0)
    assert np.all(np.abs(res.price - berm) <= 3 * res.stderr + 0.01), (res.price, berm, res.stderr)


def test_lsm_american_call_without_dividend_equals_european():
    # Early exercise of a call on a non-dividend asset is never optimal (Merton 1973).
    res = opt.lsm(100, 100, 1, 0.05, 0.25, kind="call", paths=40_000, steps=25, rng=11)
    bs = opt.black_scholes(100, 100, 1, 0.05, 0.25)
    assert abs(res.price - bs) <= 3 * res.stderr + 0.02


def test_lsm_seed_reproduces_and_batch_does_not_matter():
    a = opt.lsm([36.0, 44.0], 40, 1, 0.06, 0.2, paths=2000, steps=10, rng=5)
    b = opt.lsm([44.0, 36.0], 40, 1, 0.06, 0.2, paths=2000, steps=10, rng=5)
    c = opt.lsm(36.0, 40, 1, 0.06, 0.2, paths=2000, steps=10, rng=np.random.default_rng(5))
    assert a.seed == 5 and c.seed is None
    np.testing.assert_array_equal(a.price, b.price[::-1])
    assert float(c) == a.price[0]
    d = opt.lsm(36.0, 40, 1, 0.06, 0.2, paths=2000, steps=10, rng=6)
    assert d.price != a.price[0]
    unseeded = opt.lsm(36.0, 40, 1, 0.06, 0.2, paths=2000, steps=10)
    again = opt.lsm(36.0, 40, 1, 0.06, 0.2, paths=2000, steps=10, rng=unseeded.seed)
    assert unseeded.price == again.price


def _ql_option(ql, kind, s, k, days, r, q, v, american, engine):
    today = ql.Date(2, 1, 2025)
    ql.Settings.instance().evaluationDate = today
    dc = ql.Actual365Fixed()
    process = ql.BlackScholesMertonProcess(
        ql.QuoteHandle(ql.SimpleQuote(s)),
        ql.YieldTermStructureHandle(ql.FlatForward(today, q, dc)),
        ql.YieldTermStructureHandle(ql.FlatForward(today, r, dc)),
        ql.BlackVolTermStructureHandle(ql.BlackConstantVol(today, ql.NullCalendar(), v, dc)),
    )
    exercise = ql.AmericanExercise(today, today + days) if american else ql.EuropeanExercise(today + days)
    payoff = ql.PlainVanillaPayoff(ql.Option.Call if kind == "call" else ql.Option.Put, k)
    option = ql.VanillaOption(payoff, exercise)
    option.setPricingEngine(engine(process))
    return option.NPV()


def test_black_scholes_matches_quantlib_analytic():
    import QuantLib as ql

    rng = np.random.default_rng(1)
    n = 40
    s, k = rng.uniform(20, 200, n), rng.uniform(20, 200, n)
    days = rng.integers(1, 3650, n)
    r, q, v = rng.uniform(-0.01, 0.1, n), rng.uniform(0, 0.08, n), rng.uniform(0.05, 0.9, n)
    for kind in ("call", "put"):
        ours = opt.black_scholes(s, k, days / 365, r, v, dividend=q, kind=kind)
        theirs = [
            _ql_option(ql, kind, *row, False, ql.AnalyticEuropeanEngine)
            for row in zip(s, k, days.tolist(), r, q, v, strict=True)
        ]
        np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-9)


def test_american_lattice_matches_quantlib():
    import QuantLib as ql

    rng = np.random.default_rng(2)
    n = 12
    s, k = rng.uniform(60, 140, n), np.full(n, 100.0)
    days = rng.integers(30, 1500, n)
    r, q, v = rng.uniform(0.0, 0.08, n), rng.uniform(0, 0.06, n), rng.uniform(0.15, 0.6, n)
    for kind in ("call", "put"):
        ours = opt.binomial(s, k, days / 365, r, v, dividend=q, kind=kind, steps=800)
        # QuantLib's finite differences: an engine built on a different method
        theirs = np.array(
            [
                _ql_option(ql, kind, *row, True, lambda p: ql.FdBlackScholesVanillaEngine(p, 400, 400))
                for row in zip(s, k, days.tolist(), r, q, v, strict=True)
            ]
        )
        np.testing.assert_allclose(ours, theirs, rtol=1e-3, atol=0.005)
        # QuantLib's own "crr" tree uses a different up-probability (see the reference notes 4.2): the
        # two trees agree to O(1/steps)
        crr = np.array(
            [
                _ql_option(ql, kind, *row, True, lambda p: ql.BinomialVanillaEngine(p, "crr", 800))
                for row in zip(s, k, days.tolist(), r, q, v, strict=True)
            ]
        )
        np.testing.assert_allclose(ours, crr, atol=0.03)


# ---------------------------------------------------------------------------------------------------------
# Edge cases and bad input
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["call", "put"])
def test_maturity_zero_is_intrinsic(kind):
    s = np.array([80.0, 100.0, 120.0])
    intrinsic = np.maximum((s - 100) if kind == "call" else (100 - s), 0)
    np.testing.assert_array_equal(opt.black_scholes(s, 100, 0, 0.05, 0.3, kind=kind), intrinsic)
    np.testing.assert_array_equal(opt.binomial(s, 100, 0, 0.05, 0.3, kind=kind), intrinsic)
    res = opt.lsm(s, 100, 0, 0.05, 0.3, kind=kind, paths=100, rng=0)
    np.testing.assert_array_equal(res.price, intrinsic)
    np.testing.assert_array_equal(res.stderr, 0)


def test_zero_volatility():
    # deterministic forward 100 e^{(r-q)T}; European call worth max(S e^-qT - K e^-rT, 0)
    assert opt.black_scholes(100, 100, 1, 0.05, 0.0) == pytest.approx(100 - 100 * math.exp(-0.05))
    assert opt.black_scholes(100, 100, 1, 0.05, 0.0, kind="put") == 0.0
    assert opt.binomial(100, 100, 1, 0.05, 0.0, american=False) == pytest.approx(100 - 100 * math.exp(-0.05))
    # American put with zero volatility and a positive rate: exercise now
    assert opt.binomial(90, 100, 1, 0.05, 0.0, kind="put") == pytest.approx(10.0)
    # with a yield and no interest the forward falls, so the American call is exercised at once
    assert opt.binomial(110, 100, 1, 0.0, 0.0, kind="call", dividend=0.1) == pytest.approx(10.0)
    # the zero-volatility value is the limit of small volatilities
    small = opt.black_scholes(100, 100, 1, 0.05, 1e-6)
    assert small == pytest.approx(opt.black_scholes(100, 100, 1, 0.05, 0.0), abs=1e-6)
    assert opt.lsm(100, 100, 1, 0.05, 0.0, kind="call", rng=0).price == pytest.approx(
        100 - 100 * math.exp(-0.05)
    )


def test_zero_spot_and_zero_strike():
    assert opt.black_scholes(0, 100, 1, 0.05, 0.3) == 0.0
    assert opt.black_scholes(0, 100, 1, 0.05, 0.3, kind="put") == pytest.approx(100 * math.exp(-0.05))
    assert opt.black_scholes(100, 0, 1, 0.05, 0.3, dividend=0.02) == pytest.approx(100 * math.exp(-0.02))
    assert opt.black_scholes(100, 0, 1, 0.05, 0.3, kind="put") == 0.0
    assert opt.binomial(100, 0, 1, 0.05, 0.3, american=False, steps=50) == pytest.approx(100.0)


def test_shapes_broadcast():
    out = opt.black_scholes(np.array([[90.0], [110.0]]), np.array([90.0, 100.0, 110.0]), 1, 0.05, 0.2)
    assert out.shape == (2, 3)
    lat = opt.binomial(np.array([[90.0], [110.0]]), np.array([90.0, 100.0, 110.0]), 1, 0.05, 0.2, steps=50)
    assert lat.shape == (2, 3)
    assert lat[1, 0] == opt.binomial(110.0, 90.0, 1, 0.05, 0.2, steps=50)
    assert isinstance(opt.binomial(100, 100, 1, 0.05, 0.2, steps=10), float)
    res = opt.lsm(np.array([36.0, 40.0]), 40, 1, 0.06, 0.2, paths=1000, steps=5, rng=0)
    assert res.price.shape == res.stderr.shape == (2,)
    assert np.asarray(res).shape == (2,)
    empty = opt.binomial(np.array([]), 100, 1, 0.05, 0.2)
    assert empty.shape == (0,)


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("spot", {"spot": -1.0}),
        ("strike", {"strike": [100.0, -5.0]}),
        ("maturity", {"maturity": -0.5}),
        ("volatility", {"volatility": -0.2}),
        ("rate", {"rate": float("nan")}),
        ("dividend", {"dividend": float("inf")}),
        ("spot", {"spot": "abc"}),
        ("spot", {"spot": True}),
    ],
)
@pytest.mark.parametrize("kernel", ["black_scholes", "binomial", "lsm"])
def test_bad_inputs_name_the_field(kernel, field, kwargs):
    args = {"spot": 100.0, "strike": 100.0, "maturity": 1.0, "rate": 0.05, "volatility": 0.2} | kwargs
    with pytest.raises(OptionInputError, match=field) as info:
        getattr(opt, kernel)(**args)
    assert info.value.field == field


def test_bad_array_entry_is_located():
    with pytest.raises(OptionInputError, match=r"entry 2 is -0\.1"):
        opt.black_scholes(100, 100, 1, 0.05, [0.2, 0.3, -0.1])


def test_other_bad_arguments():
    with pytest.raises(OptionInputError, match="kind"):
        opt.black_scholes(100, 100, 1, 0.05, 0.2, kind="straddle")
    with pytest.raises(OptionInputError, match="steps"):
        opt.binomial(100, 100, 1, 0.05, 0.2, steps=0)
    with pytest.raises(OptionInputError, match="exercise_dates"):
        opt.binomial(100, 100, 1, 0.05, 0.2, steps=10, exercise_dates=3)
    with pytest.raises(OptionInputError, match="shape"):
        opt.black_scholes([1.0, 2.0], [1.0, 2.0, 3.0], 1, 0.05, 0.2)
    with pytest.raises(OptionInputError, match="volatility"):
        opt.binomial(100, 100, 1, 3.0, 1.5, steps=1)  # 300% rate: no valid lattice with one step
    with pytest.raises(OptionInputError, match="paths"):
        opt.lsm(100, 100, 1, 0.05, 0.2, paths=1001)
    with pytest.raises(OptionInputError, match="rng"):
        opt.lsm(100, 100, 1, 0.05, 0.2, rng="seed")


# ---------------------------------------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------------------------------------

money = st.floats(1.0, 500.0)
vol = st.floats(0.01, 1.5)
mat = st.floats(0.01, 10.0)
rate = st.floats(-0.02, 0.15)
div = st.floats(0.0, 0.15)


@settings(max_examples=60, deadline=None)
@given(k=money, t=mat, r=rate, v=vol, q=div)
def test_black_scholes_monotone_in_spot_and_bounded(k, t, r, v, q):
    s = np.linspace(0.0, 4 * k, 41)
    call = opt.black_scholes(s, k, t, r, v, dividend=q)
    put = opt.black_scholes(s, k, t, r, v, dividend=q, kind="put")
    tol = 1e-9 * (k + s.max())
    assert np.all(np.diff(call) >= -tol)
    assert np.all(np.diff(put) <= tol)
    fwd, pvk = s * math.exp(-q * t), k * math.exp(-r * t)
    assert np.all(call <= fwd + tol) and np.all(call >= np.maximum(fwd - pvk, 0) - tol)
    assert np.all(put <= pvk + tol) and np.all(put >= np.maximum(pvk - fwd, 0) - tol)


@settings(max_examples=40, deadline=None)
@given(s=money, k=money, t=mat, r=st.floats(0.0, 0.12), v=st.floats(0.1, 1.0), q=div)
def test_american_at_least_european_and_intrinsic(s, k, t, r, v, q):
    for kind in ("call", "put"):
        am = opt.binomial(s, k, t, r, v, dividend=q, kind=kind, steps=60)
        eu = opt.binomial(s, k, t, r, v, dividend=q, kind=kind, steps=60, american=False)
        intrinsic = max((s - k) if kind == "call" else (k - s), 0.0)
        assert am >= eu - 1e-9 * (s + k)
        assert am >= intrinsic - 1e-9 * (s + k)
        bound = s if kind == "call" else k
        assert am <= bound * (1 + 1e-12)


@settings(max_examples=30, deadline=None)
@given(k=money, t=mat, r=st.floats(0.0, 0.12), v=st.floats(0.1, 1.0), q=div)
def test_american_lattice_monotone_in_spot(k, t, r, v, q):
    s = np.linspace(0.2 * k, 3 * k, 25)
    put = opt.binomial(s, k, t, r, v, dividend=q, kind="put", steps=60)
    call = opt.binomial(s, k, t, r, v, dividend=q, kind="call", steps=60)
    tol = 1e-9 * k
    assert np.all(np.diff(put) <= tol)
    assert np.all(np.diff(call) >= -tol)


@settings(max_examples=25, deadline=None)
@given(s=money, k=money, t=mat, r=rate, v=vol, q=div)
def test_vectorised_lattice_equals_one_at_a_time(s, k, t, r, v, q):
    spots = np.array([s, 0.5 * s, 2 * s])
    batch = opt.binomial(spots, k, t, r, v, dividend=q, kind="put", steps=40)
    single = [opt.binomial(x, k, t, r, v, dividend=q, kind="put", steps=40) for x in spots]
    np.testing.assert_allclose(batch, single, rtol=1e-12, atol=1e-12)


def test_lsm_and_lattice_zero_spot_and_strike():
    # spot 0 stays 0: a put is worth K at once (r >= 0); strike 0: a call is the asset, exercised at once
    # when it pays a yield
    assert opt.lsm(0.0, 40, 1, 0.06, 0.2, rng=0).price == pytest.approx(40.0)
    assert opt.binomial(0.0, 40, 1, 0.06, 0.2, kind="put") == pytest.approx(40.0)
    assert opt.lsm(50.0, 0.0, 1, 0.06, 0.2, kind="call", dividend=0.03, rng=0).price == pytest.approx(50.0)
    assert opt.binomial(50.0, 0.0, 1, 0.06, 0.2, dividend=0.03) == pytest.approx(50.0)
    assert opt.binomial(50.0, 0.0, 1, 0.06, 0.2, dividend=0.03, american=False) == pytest.approx(
        opt.black_scholes(50.0, 0.0, 1, 0.06, 0.2, dividend=0.03)
    )
    assert opt.lsm(50.0, 0.0, 1, 0.06, 0.2, kind="put", rng=0).price == 0.0


def test_american_call_without_yield_equals_european_on_the_lattice():
    # Merton (1973): no early exercise of a call when q <= 0 <= r (nor of a put when r <= 0 <= q); the lattice
    # takes the shortcut, which must agree with the full check done on a Bermudan grid of every step.
    s = np.linspace(50, 150, 11)
    am = opt.binomial(s, 100, 2, 0.05, 0.3, steps=300)
    eu = opt.binomial(s, 100, 2, 0.05, 0.3, steps=300, american=False)
    np.testing.assert_array_equal(am, eu)
    put_am = opt.binomial(s, 100, 2, -0.01, 0.3, dividend=0.02, steps=300, kind="put")
    put_all = opt.binomial(s, 100, 2, -0.01, 0.3, dividend=0.02, steps=300, kind="put", exercise_dates=300)
    np.testing.assert_allclose(put_am, put_all, rtol=1e-12)
    # and where a yield makes early exercise pay, the American call is worth more
    assert opt.binomial(150, 100, 2, 0.05, 0.3, dividend=0.08, steps=300) > opt.binomial(
        150, 100, 2, 0.05, 0.3, dividend=0.08, steps=300, american=False
    )
