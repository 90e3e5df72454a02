"""The liquidation Monte Carlo's tiled, shared, threaded arithmetic against a straightforward reference, bit for bit.

The reference below redraws every patent's numbers from its own stream (and a package's from the package's
stream, however many patents share it) and applies the model of :mod:`ipvalue.collateral.liquidation` (module
docstring, steps 5 and 6) patent by patent, in ``patent_id`` order, one whole row of paths at a time, each
operation in the order the model states it: the log value ``(sqrt(1 - rho) sqrt(t) Z + sqrt(rho) sqrt(t) Zm)
sigma + (mu - sigma^2 / 2) t + ln(V0 C)``, its exponential, times the life run-off ``(1 - A B)+``, times
``1{E > h t}``; the judicial rounds from the log bid ``s Zb (+ ln(1 - drop) on crashed paths)``; orderly and
distressed proceeds ``exp(s Zb + ln(bid median) (+ ln(1 - drop))) x V x 1{Zb above the no-sale quantile}``.
The engine shares steps among runs whose inputs have the same bits, works in tiles and splits the paths among
threads; none of that may move a bit. Each test runs both engines of the arithmetic: numpy (a call per step) and
the compiled one (numba, ``ipvalue[fast]``).
"""

from __future__ import annotations

import contextlib

import numpy as np
import pytest

from ipvalue._random import patent_rng
from ipvalue.collateral import LiquidationPool, Loan, liquidation, load_policy
from ipvalue.collateral.liquidation import (
    PARTIAL_SUMS,
    LiquidationPaths,
    PatentDraws,
    liquidation_partial_sums,
    liquidation_partial_sums_many,
    liquidation_paths,
)

PATHS = 900

ENGINES = [
    "numpy",
    pytest.param(
        "compiled",
        marks=pytest.mark.skipif(
            not liquidation._numba_available(), reason="numba is not installed (the fast extra)"
        ),
    ),
]


@pytest.fixture(params=ENGINES)
def engine(request, monkeypatch):
    """Each test of this module on both engines of the Monte Carlo's arithmetic (restored afterwards)."""
    monkeypatch.setattr(liquidation, "_ENGINE", [request.param])
    assert liquidation.engine(0) == request.param
    return request.param


def reference_sums(pool: LiquidationPool, ps: LiquidationPaths) -> dict[str, np.ndarray]:
    """The partial sums of one run, patent by patent, with no sharing, tiling or threads."""
    paths, j0, j1 = ps.paths, ps.j0, ps.j1
    jud = slice(j0, j1)
    others = np.ones(paths, dtype=bool)
    others[jud] = False
    rate = ps.life_rate
    b_p = np.exp(np.log1p(rate) * ps.t) if rate > 0 else ps.t
    thr = np.sqrt(1.0 - ps.rho) * ps.sqrt_t
    with np.errstate(divide="ignore"):
        log_bid_med = np.log(ps.bid_med)
    acc = {k: np.zeros(paths) for k in PARTIAL_SUMS}
    for i, pid in enumerate(pool.ids):
        g = patent_rng(ps.seed, str(pid), "liquidation")
        z = g.standard_normal(paths)
        e = g.standard_exponential(paths)
        label = str(pool.package[i])
        gb = g if label in (pid, f"patent:{pid}") else patent_rng(ps.seed, label, "liquidation-package")
        zb = gb.standard_normal(paths)
        buyer = gb.random(j1 - j0, dtype=np.float32) < np.float32(ps.sale_success)
        life, value, sig = pool.remaining_life[i], pool.value[i], pool.volatility[i]
        if rate > 0:
            a = np.exp(-np.log1p(rate) * life)
            c = 1.0 / (1.0 - a) if life > 0 and 1.0 - a > 0 else 0.0
        else:
            a = 1.0 / life if life > 0 else 0.0
            c = 1.0 if life > 0 else 0.0
        with np.errstate(divide="ignore"):
            log_vc = np.log(value * c)
        log_keep = np.log(max(1.0 - pool.crash_drop[i], 1e-300))
        x = ((z * thr + ps.common) * sig + (ps.mu - 0.5 * sig**2) * ps.t) + log_vc
        with np.errstate(under="ignore"):
            x = np.exp(x)
        x = x * np.maximum(1.0 - a * b_p, 0.0)
        x = x * (e > pool.hazard[i] * ps.t)
        acc["sum_v"] += x
        lw = zb * ps.s_bid
        lw = np.where(ps.crash, lw + log_keep, lw)
        mask = np.zeros(paths, dtype=bool)
        for rnd in range(len(ps.reserves)):
            mask = lw >= ps.theta[rnd]
            acc[("s1", "s2", "s3")[rnd]][jud] += (x * mask)[jud]
        acc["s_sale"][jud] += x[jud] * (buyer & ~mask[jud])
        w = zb * ps.s_bid + log_bid_med
        w = np.exp(np.where(ps.crash, w + log_keep, w))
        w = (w * x) * (zb > ps.ns_threshold)
        acc["s0"][others] += w[others]
    return acc


def _pool(n: int, seed: int, policy) -> LiquidationPool:
    """Patents with every kind of package: their own (two spellings), and families of two or three members."""
    g = np.random.default_rng(seed)
    ids = np.array([f"CN{400000 + 13 * i}A" for i in range(n)])
    package = np.array(
        [
            pid if i % 5 == 0 else f"patent:{pid}" if i % 5 == 1 else f"family:F{i // 3}"
            for i, pid in enumerate(ids)
        ]
    )
    return LiquidationPool.build(
        ids=ids[::-1],  # the pool sorts by patent_id
        value=g.lognormal(13.0, 0.8, n),
        volatility=np.where(np.arange(n) % 7 == 0, np.nan, g.uniform(0.1, 0.7, n)),  # NaN: the policy default
        # some expire before the sale
        remaining_life=np.where(np.arange(n) % 9 == 0, 0.3, g.uniform(0.5, 14.0, n)),
        quality_legal=np.where(np.arange(n) % 6 == 0, np.nan, g.uniform(20.0, 95.0, n)),
        quality_score=g.uniform(20.0, 95.0, n),
        in_litigation=g.random(n) < 0.25,
        package=package[::-1],
        policy=policy,
    )


def _shocked(pool: LiquidationPool, factor: np.ndarray) -> LiquidationPool:
    fields = {f: getattr(pool, f) for f in pool.__dataclass_fields__}
    return LiquidationPool(**{**fields, "value": pool.value * factor})


def _subset(pool: LiquidationPool, drop: list[int]) -> LiquidationPool:
    keep = np.ones(len(pool.ids), dtype=bool)
    keep[drop] = False
    return LiquidationPool(**{f: getattr(pool, f)[keep] for f in pool.__dataclass_fields__})


def _assert_same_bits(got: dict[str, np.ndarray], ref: dict[str, np.ndarray]) -> None:
    for k in PARTIAL_SUMS:
        assert got[k].dtype == ref[k].dtype == np.float64
        assert got[k].tobytes() == ref[k].tobytes(), k


# tiles of whole rows, of rows and parts of a row, of 37 paths
@pytest.mark.parametrize(("threads", "tile"), [(1, 8_192), (2, 8_192), (2, 150), (3, 37)])
def test_shock_axis_equals_the_reference_bit_for_bit(loan, monkeypatch, threads, tile, engine):
    pol = load_policy("cn-bank-standard")
    pool = _pool(23, 5, pol)
    g = np.random.default_rng(2)
    setup = liquidation_paths(loan=loan, policy=pol, seed=7, paths=PATHS)
    crashed = liquidation_paths(loan=loan, policy=pol, seed=7, paths=PATHS, crash_probability=1.0)
    obsolete = liquidation_paths(loan=loan, policy=pol, seed=7, paths=PATHS, obsolescence_shift=0.2)
    revalued = _shocked(pool, g.uniform(0.5, 1.0, len(pool.ids)))
    # the base case, a revaluation, an invalidated family, a crash, a faster obsolescence on revalued patents
    runs = [
        (pool, setup),
        (revalued, setup),
        (_subset(pool, [4, 5, 6]), setup),
        (pool, crashed),
        (revalued, obsolete),
    ]
    monkeypatch.setattr(liquidation, "PARALLEL_THREADS", threads)
    monkeypatch.setattr(liquidation, "PARALLEL_MIN_ELEMENTS", 0)
    monkeypatch.setattr(liquidation, "TILE_ELEMENTS", tile)
    monkeypatch.setattr(liquidation, "FUSED_TILE_ELEMENTS", tile)
    got = liquidation_partial_sums_many(runs, block_elements=6 * PATHS)  # four blocks of draws
    for (p, s), sums in zip(runs, got, strict=True):
        _assert_same_bits(sums, reference_sums(p, s))
    # the runs differ (the comparison is not between copies of one run)
    assert len({sums["sum_v"].tobytes() for sums in got}) == len(runs)
    assert not np.array_equal(got[0]["s0"], got[3]["s0"])  # the crash moves the bids


def test_three_rounds_no_life_discount_and_kept_draws_equal_the_reference(loan, monkeypatch, engine):
    # offline rules (three auctions), no discount in the life run-off, four threads
    pol = load_policy("cn-bank-standard")
    pol = pol.replace("[C] test", judicial_auction_rounds=3, life_discount_rate=0.0)
    pool = _pool(17, 8, pol)
    setup = liquidation_paths(loan=loan, policy=pol, seed=1, paths=PATHS)
    assert len(setup.reserves) == 3
    monkeypatch.setattr(liquidation, "PARALLEL_THREADS", 4)
    monkeypatch.setattr(liquidation, "PARALLEL_MIN_ELEMENTS", 0)
    draws = PatentDraws(
        pool.ids,
        pool.package,
        seed=1,
        paths=PATHS,
        sale_success=setup.sale_success,
        judicial=slice(setup.j0, setup.j1),
        cache=True,
    )
    ref = reference_sums(pool, setup)
    assert ref["s3"].any()
    for _ in range(2):  # the kept draws, used twice
        (got,) = liquidation_partial_sums_many([(pool, setup)], draws=draws, block_elements=4 * PATHS)
        _assert_same_bits(got, ref)
    _assert_same_bits(liquidation_partial_sums(pool, setup), ref)


def test_runs_with_different_rounds_cannot_share_draws():
    loan = Loan(amount=1e7, currency="CNY", tenor_years=1.0, interest_rate=0.05)
    pol = load_policy("cn-bank-standard")
    pool = _pool(4, 1, pol)
    two = liquidation_paths(loan=loan, policy=pol, seed=0, paths=100)
    three = liquidation_paths(
        loan=loan, policy=pol.replace("[C] test", judicial_auction_rounds=3), seed=0, paths=100
    )
    with pytest.raises(ValueError, match="number of judicial auction rounds"):
        liquidation_partial_sums_many([(pool, two), (pool, three)])


@pytest.mark.slow
def test_a_two_thousand_patent_stress_assessment_equals_the_reference(monkeypatch, engine):
    # the runs of a real assessment with stress (the base case, revaluations, a faster obsolescence, a crash,
    # an invalidated family) on a book of 2,000 synthetic patents (over a thousand pledged, families sharing a
    # package): several blocks of draws, two threads, the engine's own tiles; every run's sums equal the
    # patent-by-patent reference to the last bit
    import ipvalue as iv
    from ipvalue.collateral import stress
    from ipvalue.valuation._synthetic import synthetic_portfolio

    book = iv.value_portfolio(synthetic_portfolio(2_000, seed=0), {"draws": 0}, as_of="2026-06-30", rng=1)
    loan = Loan(amount=1e7, currency="CNY", tenor_years=3.0, interest_rate=0.045, probability_of_default=0.03)
    calls = []
    engine = stress.liquidation_partial_sums_many

    def capture(runs, **kw):
        got = engine(runs, **kw)
        calls.append((list(runs), got))
        return got

    monkeypatch.setattr(stress, "liquidation_partial_sums_many", capture)
    monkeypatch.setattr(liquidation, "PARALLEL_THREADS", 2)
    iv.assess_collateral(book, loan=loan, rng=0, paths=2_000)
    runs = [(run, sums) for call_runs, got in calls for run, sums in zip(call_runs, got, strict=True)]
    assert len(runs) >= 5
    pools = [pool for (pool, _), _ in runs]
    assert len(pools[0].ids) > 1_000 and len(np.unique(pools[0].package)) < len(pools[0].ids)
    assert len(pools[0].ids) * 2_000 > 2 * 1_000_000  # three blocks of draws (block_elements 1,000,000)
    for (pool, setup), sums in runs:
        _assert_same_bits(sums, reference_sums(pool, setup))


def test_finish_on_paths_not_grouped_by_mode_is_the_permuted_result(loan, engine):
    # finish_liquidation works on the judicial slice when the paths are grouped by mode (as liquidation_paths
    # makes them) and falls back to a mask otherwise: shuffling the paths shuffles every per-path figure
    import dataclasses

    from ipvalue.collateral.liquidation import finish_liquidation

    pol = load_policy("cn-bank-standard")
    setup = liquidation_paths(loan=loan, policy=pol, seed=3, paths=PATHS)
    sums = liquidation_partial_sums(_pool(9, 2, pol), setup)
    perm = np.random.default_rng(0).permutation(PATHS)
    per_path = {
        f.name
        for f in dataclasses.fields(setup)
        if isinstance(getattr(setup, f.name), np.ndarray) and getattr(setup, f.name).shape == (PATHS,)
    }
    shuffled = dataclasses.replace(
        setup,
        **{k: getattr(setup, k)[perm] for k in per_path},
        df_rounds=setup.df_rounds[:, perm],
    )
    assert not shuffled.judicial[setup.j0 : setup.j1].all()  # the judicial paths no longer a slice
    grouped = finish_liquidation(setup, [sums])
    mixed = finish_liquidation(shuffled, [{k: v[perm] for k, v in sums.items()}])
    for f in ("gross_proceeds", "costs", "recovery", "lgd_gross", "lgd", "time_to_cash", "loan_recovered"):
        np.testing.assert_array_equal(getattr(mixed, f), getattr(grouped, f)[perm])


@pytest.mark.skipif(not liquidation._numba_available(), reason="numba is not installed (the fast extra)")
def test_the_demo_assessment_with_stress_is_the_same_on_both_engines(monkeypatch):
    # every table of the demo's assessment (stress included) to the last bit, whichever engine added the sums
    import pandas as pd

    import ipvalue as iv
    from ipvalue.demo import load_demo

    portfolio, loan, as_of = load_demo()
    valued = iv.value_portfolio(portfolio, as_of=as_of, rng=0)
    got = {}
    for name in ("numpy", "compiled"):
        monkeypatch.setattr(liquidation, "_ENGINE", [name])
        got[name] = iv.assess_collateral(valued, loan=loan, rng=0)
    a, b = got["numpy"], got["compiled"]
    for table in ("patents", "liquidation", "stress"):
        pd.testing.assert_frame_equal(getattr(a, table), getattr(b, table), check_exact=True)
    assert a.summary["collateral_value"] == b.summary["collateral_value"]
    assert a.summary["expected_lgd"] == b.summary["expected_lgd"]


def test_set_engine_names_the_choices(monkeypatch):
    monkeypatch.setattr(liquidation, "_ENGINE", ["auto"])
    with pytest.raises(ValueError, match="engine must be one of"):
        liquidation.set_engine("fortran")
    liquidation.set_engine("numpy")
    assert liquidation.engine(10**12) == "numpy"
    liquidation.set_engine("auto")
    # auto: a job large enough for the load takes the compiled engine where numba is installed
    big = liquidation.FUSED_MIN_ELEMENTS
    assert liquidation.engine(big) == ("compiled" if liquidation._numba_available() else "numpy")


@pytest.mark.skipif(not liquidation._numba_available(), reason="numba is not installed (the fast extra)")
def test_auto_loads_the_compiled_engine_once_the_numpy_one_has_cost_about_its_load(loan, monkeypatch):
    # the rent-or-buy rule: small jobs run on numpy until the process has spent LOAD_AFTER_SECONDS in its Monte
    # Carlo, then auto loads the compiled engine; a run on the compiled engine adds nothing to the time counted
    import sys

    monkeypatch.setattr(liquidation, "_ENGINE", ["auto"])
    monkeypatch.delitem(sys.modules, "ipvalue.collateral._mc_fused", raising=False)
    pol = load_policy("cn-bank-standard")
    pool = _pool(6, 2, pol)
    setup = liquidation_paths(loan=loan, policy=pol, seed=3, paths=PATHS)
    small = len(pool.ids) * PATHS
    assert liquidation.engine(small) == "numpy"
    (first,) = liquidation_partial_sums_many([(pool, setup)])
    spent = liquidation._NUMPY_SECONDS[0]
    assert spent > 0.0
    # the load's cost set just above what the first run spent: not yet, then after a second numpy run
    monkeypatch.setattr(liquidation, "LOAD_AFTER_SECONDS", float(np.nextafter(spent, np.inf)))
    assert liquidation.engine(small) == "numpy"
    (second,) = liquidation_partial_sums_many([(pool, setup)])
    counted = liquidation._NUMPY_SECONDS[0]
    assert counted > spent
    assert liquidation.engine(small) == "compiled"
    (third,) = liquidation_partial_sums_many([(pool, setup)])
    assert liquidation._NUMPY_SECONDS[0] == counted  # the compiled run is not counted
    for got in (second, third):  # the same numbers on either engine
        _assert_same_bits(got, first)


@pytest.mark.skipif(not liquidation._numba_available(), reason="numba is not installed (the fast extra)")
def test_auto_takes_the_compiled_engine_for_small_jobs_once_loaded(monkeypatch):
    import sys

    monkeypatch.setattr(liquidation, "_ENGINE", ["auto"])
    monkeypatch.delitem(sys.modules, "ipvalue.collateral._mc_fused", raising=False)
    assert liquidation.engine(1_000) == "numpy"  # not loaded: a small job does not pay for the load
    assert liquidation.load_compiled_engine() is True
    assert liquidation.engine(1_000) == "compiled"
    # the warm-up compiled the functions for the types a run passes: a run adds no signature (a new one is a
    # compilation of seconds in a process, e.g. a read-only array where the warm-up passed a writeable one)
    import ipvalue as iv
    from ipvalue.collateral import _mc_fused
    from ipvalue.demo import load_demo
    from ipvalue.valuation import _range_fused

    def signatures() -> dict[str, int]:
        # the functions the engine calls from Python (the others are compiled into them), and the valuation
        # range's compiled draws, loaded with it
        names = ["block_sums", "draw_patents", "draw_packages", "stream_states", "finish_paths"]
        names += ["liquidity_bisection", "summary_sums"]
        out = {n: len(getattr(_mc_fused, n).signatures) for n in names}
        out["income_values"] = len(_range_fused.income_values.signatures)
        return out

    before = signatures()
    loan = Loan(amount=1e7, currency="CNY", tenor_years=1.0, interest_rate=0.05)
    pol = load_policy("cn-bank-standard")
    pool = _pool(6, 3, pol)
    liquidation_partial_sums(pool, liquidation_paths(loan=loan, policy=pol, seed=0, paths=300))
    portfolio, demo_loan, as_of = load_demo()  # an assessment with stress: the finish and the bisection too
    iv.assess_collateral(iv.value_portfolio(portfolio, as_of=as_of, rng=0), loan=demo_loan, rng=0)
    assert signatures() == before
    assert set(before.values()) == {1}


def test_the_compiled_engine_without_numba_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(liquidation, "_ENGINE", ["auto"])
    monkeypatch.setattr(liquidation, "_numba_available", lambda: False)
    with pytest.raises(ImportError, match=r"ipvalue\[fast\]"):
        liquidation.set_engine("compiled")
    assert liquidation.engine(10**12) == "numpy"  # auto falls back to numpy
    assert liquidation.load_compiled_engine() is False


@pytest.mark.skipif(not liquidation._numba_available(), reason="numba is not installed (the fast extra)")
def test_a_compiled_engine_that_cannot_load_falls_back_with_a_warning(monkeypatch):
    # numba installed but unusable here (e.g. no writable place for its cache): "auto" warns once and runs numpy;
    # "compiled", asked for by name, raises
    import importlib
    import sys

    real = importlib.import_module

    def broken(name, *a, **k):
        if name == "ipvalue.collateral._mc_fused":
            raise RuntimeError("cannot cache function 'tile_sums': no locator available")
        return real(name, *a, **k)

    monkeypatch.setattr(liquidation, "_ENGINE", ["auto"])
    monkeypatch.delitem(sys.modules, "ipvalue.collateral._mc_fused", raising=False)
    monkeypatch.setattr(liquidation.importlib, "import_module", broken)
    with pytest.warns(RuntimeWarning, match="no locator available"):
        assert liquidation.engine(10**12) == "numpy"
    assert liquidation.engine(10**12) == "numpy"  # decided once: no second warning, no second attempt
    monkeypatch.setattr(liquidation, "_ENGINE", ["compiled"])
    with pytest.raises(RuntimeError, match="no locator available"):
        liquidation.load_compiled_engine()


@pytest.mark.skipif(not liquidation._numba_available(), reason="numba is not installed (the fast extra)")
def test_a_numba_whose_draws_are_not_numpys_is_not_used(monkeypatch):
    # a later numba (or numpy) whose port of the draws or whose sums no longer agree would move the numbers: the
    # engine's loader checks a fixed sample once per process; "auto" warns and runs numpy, "compiled" raises
    import importlib

    _mc_fused = importlib.import_module("ipvalue.collateral._mc_fused")  # the module the engine loads

    assert _mc_fused.self_check() is None  # this numba and this numpy agree
    monkeypatch.setattr(_mc_fused, "self_check", lambda: "numba's normal draws differ from numpy's")
    liquidation._self_check.cache_clear()
    try:
        monkeypatch.setattr(liquidation, "_ENGINE", ["auto"])
        with pytest.warns(RuntimeWarning, match="normal draws differ from numpy's"):
            assert liquidation.engine(10**12) == "numpy"
        assert liquidation.compiled_kernels() is None  # the finish and the bisection run numpy's code too
        monkeypatch.setattr(liquidation, "_ENGINE", ["compiled"])
        with pytest.raises(RuntimeError, match="normal draws differ from numpy's"):
            liquidation.load_compiled_engine()
    finally:
        liquidation._self_check.cache_clear()


@pytest.mark.parametrize(
    "modes",
    [
        {"orderly": 1.0, "judicial": 0.0, "distressed": 0.0},  # no judicial paths at all
        {"orderly": 0.0, "judicial": 1.0, "distressed": 0.0},  # only judicial paths
        {"orderly": 0.0, "judicial": 0.0, "distressed": 1.0},
        {"orderly": 0.5, "judicial": 0.0, "distressed": 0.5},  # the judicial slice empty between the two
    ],
)
def test_paths_of_one_disposal_mode_equal_the_reference(loan, monkeypatch, engine, modes):
    # a tile may hold no judicial path, only judicial paths, or straddle an empty judicial slice
    pol = load_policy("cn-bank-standard").replace("[C] test", mode_probabilities=modes)
    pool = _pool(11, 4, pol)
    setups = [
        liquidation_paths(loan=loan, policy=pol, seed=2, paths=PATHS),
        liquidation_paths(loan=loan, policy=pol, seed=2, paths=PATHS, crash_probability=1.0),
    ]
    monkeypatch.setattr(liquidation, "PARALLEL_THREADS", 2)
    monkeypatch.setattr(liquidation, "PARALLEL_MIN_ELEMENTS", 0)
    monkeypatch.setattr(liquidation, "FUSED_TILE_ELEMENTS", 400)
    monkeypatch.setattr(liquidation, "TILE_ELEMENTS", 400)
    got = liquidation_partial_sums_many([(pool, s) for s in setups], block_elements=5 * PATHS)
    for s, sums in zip(setups, got, strict=True):
        _assert_same_bits(sums, reference_sums(pool, s))
        assert sums["sum_v"].any()


@pytest.mark.parametrize("keep_bytes", [0, 5_000, 256 * 2**20])  # none kept, room for one package, all
def test_a_package_is_drawn_once_across_blocks_and_its_draws_are_the_same(
    loan, monkeypatch, keep_bytes, engine
):
    # a family's members lie far apart in patent_id order, so its package appears in many blocks of draws:
    # kept from the first block that draws it (within the memory allowed), not drawn again; the numbers are the
    # same whether a package is kept or drawn again
    pol = load_policy("cn-bank-standard")
    n, paths = 24, 500
    ids = np.array([f"CN{500000 + i}A" for i in range(n)])
    package = np.array([f"family:F{i % 3}" if i % 4 else pid for i, pid in enumerate(ids)])  # 3 families
    g = np.random.default_rng(6)
    pool = LiquidationPool.build(
        ids=ids,
        value=g.lognormal(13.0, 0.5, n),
        volatility=g.uniform(0.2, 0.5, n),
        remaining_life=g.uniform(2.0, 12.0, n),
        quality_legal=g.uniform(30.0, 90.0, n),
        quality_score=g.uniform(30.0, 90.0, n),
        in_litigation=np.zeros(n, dtype=bool),
        package=package,
        policy=pol,
    )
    setup = liquidation_paths(loan=loan, policy=pol, seed=4, paths=paths)
    monkeypatch.setattr(liquidation, "PACKAGE_KEEP_BYTES", keep_bytes)
    with counted_package_draws(monkeypatch) as drawn:
        # 8 blocks of 3 rows
        (got,) = liquidation_partial_sums_many([(pool, setup)], block_elements=3 * paths)
    _assert_same_bits(got, reference_sums(pool, setup))
    package_draws = sum(drawn)
    if keep_bytes == 0:
        assert package_draws > 3 * 4  # each family drawn in most blocks
    elif keep_bytes >= 3 * paths * 9:
        assert package_draws == 3  # each family once
    else:  # one family kept, the two others drawn again in each block they appear in
        monkeypatch.setattr(liquidation, "PACKAGE_KEEP_BYTES", 0)
        with counted_package_draws(monkeypatch) as again:
            liquidation_partial_sums_many([(pool, setup)], block_elements=3 * paths)
        assert 3 < package_draws < sum(again)


@contextlib.contextmanager
def counted_package_draws(monkeypatch):
    """How many packages each block draws from their streams (the rest are copied from a kept package)."""
    counts: list[int] = []
    real = liquidation.PatentDraws._kept_and_fresh

    def counting(self, labels, named_k, b0):
        copy_in, fresh = real(self, labels, named_k, b0)
        counts.append(len(fresh))
        return copy_in, fresh

    with monkeypatch.context() as m:
        m.setattr(liquidation.PatentDraws, "_kept_and_fresh", counting)
        yield counts


COMPILED = pytest.mark.skipif(
    not liquidation._numba_available(), reason="numba is not installed (the fast extra)"
)


@COMPILED
def test_the_compiled_draws_are_numpys_to_the_last_bit():
    # numba draws through the numpy Generator's own bit generator with numpy's algorithms; 400 streams of 20,000
    # hold about 2,100 normals beyond the ziggurat's last layer (|z| > 3.6542, the tail's own algorithm) and 3,600
    # exponentials beyond its 7.6971, so the rare branches are compared too
    from ipvalue.collateral import _mc_fused

    paths, nj, thr = 20_000, 7_000, np.float32(0.6)
    tails = 0
    for i in range(400):
        a, b = patent_rng(11, f"CN{i}", "liquidation"), patent_rng(11, f"CN{i}", "liquidation")
        z, e, zp = np.empty(paths), np.empty(paths), np.empty(paths)
        up, buyer = np.empty(nj, dtype=np.float32), np.empty(nj, dtype=bool)
        _mc_fused.draw_patent(a, z, e, True, zp, up, buyer, thr)
        ref_z, ref_e, ref_zp = (
            b.standard_normal(paths),
            b.standard_exponential(paths),
            b.standard_normal(paths),
        )
        ref_up = b.random(nj, dtype=np.float32)
        for got, ref in ((z, ref_z), (e, ref_e), (zp, ref_zp), (up, ref_up), (buyer, ref_up < thr)):
            assert got.dtype == ref.dtype and got.tobytes() == ref.tobytes()
        # both generators are left in the same state: the next draw is the same
        assert a.bit_generator.state == b.bit_generator.state
        tails += int((np.abs(z) > 3.6542).sum() + (e > 7.6971).sum())
    assert tails > 1_000


@COMPILED
@pytest.mark.parametrize("threads", [1, 2])
def test_a_block_drawn_compiled_is_the_block_numpy_draws(threads):
    # own packages, families shared within the block and across blocks (kept), on one and two threads
    from concurrent.futures import ThreadPoolExecutor

    n, paths = 40, 700
    ids = np.array([f"CN{600000 + i}A" for i in range(n)])
    package = np.array([f"family:F{i % 5}" if i % 3 == 0 else pid for i, pid in enumerate(ids)])

    def blocks(compiled: bool) -> list[tuple]:
        draws = PatentDraws(ids, package, seed=9, paths=paths, sale_success=0.45, judicial=slice(100, 400))
        out = []
        with ThreadPoolExecutor(threads) as pool:
            for b0 in range(0, n, 7):
                got = draws.block(b0, min(n, b0 + 7), executor=pool, threads=threads, compiled=compiled)
                out.append(tuple(None if a is None else a.copy() for a in got))
        return out

    for got, ref in zip(blocks(True), blocks(False), strict=True):
        for a, b in zip(got, ref, strict=True):
            assert (a is None and b is None) or (a.dtype == b.dtype and a.tobytes() == b.tobytes())


@COMPILED
def test_the_streams_states_are_numpys_seeding():
    # _mc_fused.stream_states redoes numpy's SeedSequence and PCG64 seeding; integers below 2**32 take one 32-bit
    # word and larger ones two, so the entropy runs from three to six words (the pool holds four): each length,
    # zero, and the largest seeds are compared with numpy's own objects
    from ipvalue.collateral import _mc_fused

    g = np.random.default_rng(20261205)
    rows = [
        [0, 0, 0],
        [0, 1, 2],
        [2**64 - 1, 2**64 - 1, 2**64 - 1],
        [2**32 - 1, 2**32, 5],
        [7, 2**63, 2**32 - 1],
    ]
    for _ in range(3_000):
        bits = g.choice([8, 32, 33, 64], size=3)
        rows.append([int(g.integers(0, 2 ** int(b), dtype=np.uint64, endpoint=False)) for b in bits])
    out = np.empty((len(rows), 4), dtype=np.uint64)
    _mc_fused.stream_states(np.array(rows, dtype=np.uint64), out)
    lengths = set()
    for words, got in zip(rows, out.tolist(), strict=True):
        state = np.random.PCG64(np.random.SeedSequence(words)).state["state"]
        mask = 2**64 - 1
        assert got == [state["state"] & mask, state["state"] >> 64, state["inc"] & mask, state["inc"] >> 64]
        lengths.add(sum(1 if w < 2**32 else 2 for w in words))
    assert lengths == {3, 4, 5, 6}


@COMPILED
def test_a_generator_restarted_at_each_stream_draws_what_patent_rng_draws():
    # one generator per thread, restarted through its memory (state_views) at each stream's state, with a half
    # word left buffered by a float32 draw before: the numbers of a fresh patent_rng generator per stream
    from ipvalue.collateral import _mc_fused

    ids = np.array([f"CN{700000 + i}A" for i in range(30)] + ["US 11,000,001 B2", "专利-1"])
    draws = PatentDraws(ids, ids, seed=2**40 + 3, paths=901, sale_success=0.5, judicial=slice(0, 777))
    states, _ = draws._stream_states(_mc_fused)
    g = np.random.Generator(np.random.PCG64(1))
    g.random(dtype=np.float32)
    pcg, half = _mc_fused.state_views(g)
    n = len(ids)
    z, e, zp = np.empty((n, 901)), np.empty((n, 901)), np.empty((n, 901))
    up, buyer = np.empty((n, 777), dtype=np.float32), np.empty((n, 777), dtype=bool)
    own = np.where(np.arange(n) % 2 == 0, np.arange(n), -1).astype(
        np.int64
    )  # every other patent its own package
    _mc_fused.draw_patents(g, pcg, half, states, 0, n, z, e, own, zp, up, buyer, np.float32(0.5))
    for j, pid in enumerate(ids.tolist()):
        ref = patent_rng(2**40 + 3, pid, "liquidation")
        want = [ref.standard_normal(901), ref.standard_exponential(901)]
        got = [z[j], e[j]]
        if own[j] >= 0:
            want += [ref.standard_normal(901), ref.random(777, dtype=np.float32)]
            got += [zp[j], up[j]]
        assert all(a.tobytes() == b.tobytes() for a, b in zip(got, want, strict=True))


@COMPILED
def test_state_views_refuse_a_generator_other_than_pcg64():
    from ipvalue.collateral import _mc_fused

    with pytest.raises(TypeError, match="PCG64"):
        _mc_fused.state_views(np.random.Generator(np.random.MT19937(0)))


def test_draw_buffers_are_kept_for_the_next_draws_and_never_shared(monkeypatch):
    # PatentDraws without cache borrows its buffers from the thread's kept ones and returns them when collected:
    # the next draws reuse that memory (no fresh pages to fault in), two draws alive at once never share a buffer,
    # another thread keeps its own, and a buffer beyond KEEP_DRAW_BUFFER_BYTES is not kept
    import gc
    import threading

    monkeypatch.setattr(liquidation, "_KEPT_DRAW_BUFFERS", threading.local())
    n, paths = 12, 500
    ids = np.array([f"CN{700000 + i}A" for i in range(n)])

    def draws() -> PatentDraws:
        return PatentDraws(ids, ids, seed=4, paths=paths, sale_success=0.45, judicial=slice(100, 300))

    first = draws()
    a = first.block(0, n)
    want = tuple(x.copy() for x in a[:4])
    second = draws()  # alive with the first: its own buffers
    b = second.block(0, n)
    assert not any(np.shares_memory(x, y) for x, y in zip(a[:4], b[:4], strict=True))
    z_address = a[0].__array_interface__["data"][0]
    del first, a
    gc.collect()
    third = draws()  # the first's buffers, returned when it was collected
    c = third.block(0, n)
    assert c[0].__array_interface__["data"][0] == z_address
    assert all(x.tobytes() == y.tobytes() for x, y in zip(c[:4], want, strict=True))  # the same draws

    seen = []
    t = threading.Thread(target=lambda: seen.append(liquidation._kept_draw_buffers()))
    t.start()
    t.join()
    assert seen == [{}]  # another thread: none of this thread's

    del second, b, third, c
    gc.collect()
    kept = liquidation._kept_draw_buffers()
    assert kept and sum(x.nbytes for x in kept.values()) <= liquidation.KEEP_DRAW_BUFFER_BYTES
    monkeypatch.setattr(liquidation, "KEEP_DRAW_BUFFER_BYTES", 0)
    kept.clear()
    big = draws()
    big.block(0, n)
    del big
    gc.collect()
    assert liquidation._kept_draw_buffers() == {}  # nothing kept beyond the bytes allowed


@COMPILED
def test_the_compiled_plan_stacks_on_kept_buffers_and_gives_the_same_sums(monkeypatch):
    # the compiled engine's stacked path terms borrow kept buffers too: a second run reuses them, same sums
    import gc
    import threading

    monkeypatch.setattr(liquidation, "_KEPT_DRAW_BUFFERS", threading.local())
    monkeypatch.setattr(liquidation, "_ENGINE", ["compiled"])
    loan = Loan(amount=1e7, currency="CNY", tenor_years=1.0, interest_rate=0.05)
    pol = load_policy("cn-bank-standard")
    pool = _pool(9, 5, pol)
    ps = liquidation_paths(loan=loan, policy=pol, seed=3, paths=800)
    first = liquidation_partial_sums(pool, ps)
    gc.collect()
    kept = liquidation._kept_draw_buffers()
    assert {("plan", "theta"), ("plan", "common"), ("draws", "z")} <= set(kept)
    theta = kept[("plan", "theta")]
    second = liquidation_partial_sums(pool, ps)
    gc.collect()
    assert liquidation._kept_draw_buffers()[("plan", "theta")] is theta  # lent, used and given back
    for k in first:
        assert first[k].tobytes() == second[k].tobytes()


def test_setups_sharing_their_per_path_arrays_share_their_path_terms(monkeypatch, engine):
    # an obsolescence shock's setup is the base case's with its drift moved: the same per-path arrays, so its path
    # terms are the base case's (computed once), a crash's are its own; every run's sums as on its own
    from ipvalue.collateral.liquidation import liquidation_partial_sums_many, with_crash_probability

    loan = Loan(amount=1e7, currency="CNY", tenor_years=1.0, interest_rate=0.05)
    pol = load_policy("cn-bank-standard")
    pool = _pool(7, 2, pol)
    base = liquidation_paths(loan=loan, policy=pol, seed=1, paths=600)
    shifted = liquidation.with_obsolescence_shift(base, pol, 0.2)
    crashed = with_crash_probability(base, pol, 1.0)
    calls = []
    real = liquidation._path_terms
    monkeypatch.setattr(liquidation, "_path_terms", lambda ps: calls.append(ps) or real(ps))
    got = liquidation_partial_sums_many([(pool, base), (pool, shifted), (pool, crashed)])
    assert len(calls) == 2 and calls[0] is base and calls[1] is crashed
    for sums, ps in zip(got, (base, shifted, crashed), strict=True):
        alone = liquidation_partial_sums(pool, ps)
        assert all(sums[k].tobytes() == alone[k].tobytes() for k in alone)
