"""The backend seam for assess_collateral: serial, process-pool and Dask runs give the same assessment.

Per-patent columns are compared to the last bit; figures that are sums over the book (appraised and collateral
values, Herfindahl indices, the Monte Carlo's per-path sums and everything computed from them) are added chunk by
chunk in another order than the single pass, so they are compared within 1e-12 relative (as
``docs/methodology/scale.md`` states).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from ipvalue import runtime as _backend
from ipvalue.collateral import CollateralInputError, Loan, assess_collateral
from ipvalue.collateral.haircut import (
    add_concentration_totals,
    concentration_buckets,
    concentration_haircut,
    concentration_totals,
)
from ipvalue.collateral.liquidation import (
    LiquidationPool,
    finish_liquidation,
    liquidation_partial_sums,
    liquidation_paths,
    simulate_liquidation,
)
from ipvalue.collateral.policy import load_policy
from ipvalue.demo import load_demo
from ipvalue.valuation import value_portfolio
from ipvalue.valuation._synthetic import synthetic_portfolio

AS_OF = "2026-06-30"
RTOL = 1e-12
#: columns whose numbers come from book-level sums (the concentration shares, the liquidity haircut set from the
#: Monte Carlo's summed paths) and so may differ in the last bits
BOOK_LEVEL = (
    "haircut_concentration",
    "haircut_liquidity",
    "haircut_total",
    "collateral_value",
    "cap_binding",
)
#: per-patent records holding book-level figures (the concentration shares): numbers within 1e-12, the rest exact
BOOK_LEVEL_RECORDS = ("haircut_basis",)
#: a loan for the synthetic book (no borrower: its owners are fictional)
BOOK_LOAN = Loan(
    amount=5e8, currency="CNY", tenor_years=3.0, interest_rate=0.045, probability_of_default=0.03
)


@pytest.fixture(scope="module")
def client():
    import distributed

    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    )
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


@pytest.fixture(scope="module")
def demo():
    frame, loan, as_of = load_demo()
    valued = value_portfolio(frame, as_of=as_of)
    return frame, loan, as_of, valued, assess_collateral(valued, loan=loan, paths=1000)


@pytest.fixture(scope="module")
def book():
    frame = synthetic_portfolio(20_000, seed=3)
    valued = value_portfolio(frame, {"draws": 32}, as_of=AS_OF)
    return frame, valued, assess_collateral(valued, loan=BOOK_LOAN, paths=1000, stress=False)


def _close(a, b, what: str, *, scale: float = 0.0) -> None:
    """Within RTOL; a difference of two sums (a stress change) within RTOL of ``scale``, the sums' size."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    np.testing.assert_allclose(b, a, rtol=RTOL, atol=RTOL * scale, equal_nan=True, err_msg=what)


def _same_record(a, b, what: str) -> None:
    """Nested dicts / lists equal, their floats within RTOL (book-level shares are sums taken chunk by chunk)."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b), what
        for k in a:
            _same_record(a[k], b[k], f"{what}.{k}")
    elif isinstance(a, list | tuple):
        assert isinstance(b, list | tuple) and len(a) == len(b), what
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same_record(x, y, f"{what}[{i}]")
    elif isinstance(a, float) and not isinstance(b, bool):
        _close(a, b, what)
    else:
        assert a == b, what


def assert_same_assessment(ref, got, *, stress: bool = True) -> None:
    """Per-patent columns to the last bit (book-level ones within 1e-12), portfolio figures within 1e-12."""
    patents = got.patents.reindex(ref.patents.index)  # a Dask input comes back in its partitions' order
    assert list(patents.columns) == list(ref.patents.columns)
    exact = [c for c in ref.patents.columns if c not in BOOK_LEVEL + BOOK_LEVEL_RECORDS]
    left, right = patents[exact].copy(), ref.patents[exact].copy()
    for c in exact:
        if pd.api.types.is_object_dtype(right[c]) or pd.api.types.is_string_dtype(right[c]):
            # a Dask input comes back with Dask's string dtype (an all-missing column: <NA> for None)
            left[c], right[c] = left[c].astype("string"), right[c].astype("string")
    assert_frame_equal(left, right, check_exact=True, check_dtype=False, check_index_type=False)
    for c in BOOK_LEVEL_RECORDS:
        if c in ref.patents.columns:
            for pid, a, b in zip(ref.patents.index, ref.patents[c], patents[c], strict=True):
                _same_record(a, b, f"{c}[{pid}]")
    for c in BOOK_LEVEL:
        if c == "cap_binding":
            assert (patents[c].to_numpy(bool) == ref.patents[c].to_numpy(bool)).all()
        else:
            _close(ref.patents[c], patents[c], c)
    for k, v in ref.summary.items():
        if isinstance(v, float):
            _close(v, got.summary[k], k)
        else:
            assert got.summary[k] == v, k
    for name in ("liquidation", "stress") if stress else ("liquidation",):
        r, g = getattr(ref, name), getattr(got, name)
        assert list(g.columns) == list(r.columns)
        for c in r.columns:
            if pd.api.types.is_float_dtype(r[c]):
                scale = float(ref.summary["appraised_value"]) if c.startswith("change_") else 0.0
                _close(r[c], g[c], f"{name}.{c}", scale=scale)
            else:  # texts exact; records (the basis of each row) with their book-level numbers within 1e-12
                _same_record(r[c].tolist(), g[c].tolist(), f"{name}.{c}")
    _close(ref.recovery_draws, got.recovery_draws, "recovery_draws")


# ---------------------------------------------------------------------------------------------- demo


@pytest.mark.slow
@pytest.mark.parametrize(
    "kw",
    [
        {"backend": "serial", "chunk_size": 7},
        {"backend": "processes", "chunk_size": 10},
        {"backend": _backend.SerialBackend(), "chunk_size": 12},
    ],
    ids=["serial-chunked", "processes", "backend-object"],
)
def test_demo_same_on_serial_chunks_and_processes(demo, kw):
    _, loan, _, valued, ref = demo
    got = assess_collateral(valued, loan=loan, paths=1000, **kw)
    assert_same_assessment(ref, got)
    assert got.patents.index.equals(ref.patents.index)  # input order kept


@pytest.mark.slow
def test_demo_same_on_dask_cluster(demo, client):
    _, loan, _, valued, ref = demo
    got = assess_collateral(valued, loan=loan, paths=1000, client=client, chunk_size=9)
    assert_same_assessment(ref, got)
    assert got.audit["input_hash"] == ref.audit["input_hash"]


@pytest.mark.slow
def test_demo_dask_frame_assessed_by_partition(demo, client):
    import dask.dataframe as dd

    frame, loan, as_of, _, ref = demo
    lazy = value_portfolio(dd.from_pandas(frame, npartitions=3), as_of=as_of, client=client)
    got = assess_collateral(lazy, loan=loan, paths=1000, client=client)
    assert isinstance(got.patents, pd.DataFrame)
    assert sorted(got.patents.index) == sorted(ref.patents.index)
    assert_same_assessment(ref, got)
    # the partitions assessed one after the other in this process (backend="serial")
    local = assess_collateral(lazy, loan=loan, paths=1000, backend="serial")
    assert_same_assessment(ref, local)


@pytest.mark.slow
def test_demo_chunk_size_does_not_matter(demo):
    _, loan, _, valued, _ = demo
    runs = [assess_collateral(valued, loan=loan, paths=500, stress=False, chunk_size=k) for k in (1, 4, 1000)]
    for other in runs[1:]:
        assert_same_assessment(runs[0], other, stress=False)


# ---------------------------------------------------------------------------------------------- 20k book


@pytest.mark.slow
@pytest.mark.parametrize(
    "kw",
    [{"backend": "serial", "chunk_size": 3_000}, {"backend": "processes", "chunk_size": 7_000}],
    ids=["serial-chunked", "processes"],
)
def test_book_same_on_serial_chunks_and_processes(book, kw):
    _, valued, ref = book
    got = assess_collateral(valued, loan=BOOK_LOAN, paths=1000, stress=False, **kw)
    assert 0 < ref.summary["n_eligible"] < len(valued)
    assert_same_assessment(ref, got, stress=False)


@pytest.mark.slow
def test_book_same_on_dask_cluster_and_dask_frame(book, client):
    import dask.dataframe as dd

    frame, valued, ref = book
    got = assess_collateral(valued, loan=BOOK_LOAN, paths=1000, stress=False, client=client, chunk_size=6_000)
    assert_same_assessment(ref, got, stress=False)
    lazy = value_portfolio(dd.from_pandas(frame, npartitions=4), {"draws": 32}, as_of=AS_OF, client=client)
    got = assess_collateral(lazy, loan=BOOK_LOAN, paths=1000, stress=False, client=client)
    assert_same_assessment(ref, got, stress=False)


# ---------------------------------------------------------------------------------------------- the reductions


def test_concentration_totals_of_chunks_give_the_whole_book_shares(demo):
    frame = demo[3].iloc[:30].copy()
    frame["family_id"] = [f"F{i // 3}" for i in range(30)]  # families of three, some cut by the chunks below
    v = np.where(np.arange(30) % 5 == 0, 0.0, np.nan_to_num(frame["value"].to_numpy(float)) + 1.0)
    buckets = concentration_buckets(frame)
    weights = {"family": 0.3, "technology_class": 0.2, "product_line": 0.25}
    whole, shares, hhi = concentration_haircut(v, buckets, weights, 0.1)
    cuts = [0, 7, 8, 20, 30]
    totals = add_concentration_totals(
        concentration_totals(v[a:b], {d: lab[a:b] for d, lab in buckets.items()})
        for a, b in zip(cuts[:-1], cuts[1:], strict=True)
    )
    for a, b in zip(cuts[:-1], cuts[1:], strict=True):
        h, s, hh = concentration_haircut(
            v[a:b], {d: lab[a:b] for d, lab in buckets.items()}, weights, 0.1, totals=totals
        )
        np.testing.assert_allclose(h, whole[a:b], rtol=RTOL, atol=1e-15)
        for d in buckets:
            np.testing.assert_allclose(s[d], shares[d][a:b], rtol=RTOL, atol=1e-15)
            assert hh[d] == pytest.approx(hhi[d], rel=RTOL)
    # a family bucket shared across a cut: its share is the whole family's, not the chunk's part of it
    fam = buckets["family"]
    assert fam[6] == fam[7] and totals["family"][fam[7]] == pytest.approx(v[6] + v[7] + v[8], rel=RTOL)


def test_liquidation_partial_sums_add_up_to_the_whole_pool():
    pol = load_policy("cn-bank-standard")
    loan = Loan(amount=3e6, currency="CNY", tenor_years=2.0, interest_rate=0.05, probability_of_default=0.05)
    n = 23
    g = np.random.default_rng(5)
    cols = {
        "ids": np.array([f"CN{200000 + 13 * i}A" for i in range(n)]),
        "value": g.lognormal(13.0, 0.7, n),
        "volatility": g.uniform(0.2, 0.6, n),
        "remaining_life": g.uniform(1.0, 15.0, n),
        "quality_legal": g.uniform(30.0, 90.0, n),
        "quality_score": g.uniform(30.0, 90.0, n),
        "in_litigation": g.random(n) < 0.2,
    }
    pool = LiquidationPool.build(**cols, policy=pol)
    whole = simulate_liquidation(pool, loan=loan, policy=pol, seed=11, paths=3000)
    setup = liquidation_paths(loan=loan, policy=pol, seed=11, paths=3000)
    # one partial over the whole pool is the single pass, to the last bit
    single = finish_liquidation(setup, [liquidation_partial_sums(pool, setup)])
    for f in ("gross_proceeds", "recovery", "lgd", "time_to_cash"):
        np.testing.assert_array_equal(getattr(single, f), getattr(whole, f))
    # the pool cut in three, in another order, with small blocks: the same paths within 1e-12
    parts = []
    for sel in (np.arange(0, 5), np.arange(15, n), np.arange(5, 15)):
        sub = LiquidationPool.build(**{k: v[sel] for k, v in cols.items()}, policy=pol)
        parts.append(liquidation_partial_sums(sub, setup, block_elements=7_000))
    chunked = finish_liquidation(setup, parts)
    for f in ("gross_proceeds", "costs", "recovery", "lgd", "time_to_cash"):
        np.testing.assert_allclose(getattr(chunked, f), getattr(whole, f), rtol=RTOL, atol=1e-12)
    assert dataclasses.asdict(setup)["paths"] == 3000 and 0 < whole.summary()["expected_lgd"] < 1


# ---------------------------------------------------------------------------------------------- errors


def test_bad_patent_in_a_chunk_is_named(demo):
    _, loan, _, valued, _ = demo
    bad = valued.copy()
    pid = bad.index[17]
    bad.loc[pid, "quality_legal"] = 140.0
    with pytest.raises(CollateralInputError, match=str(pid)) as err:
        assess_collateral(bad, loan=loan, paths=200, stress=False, backend="processes", chunk_size=10)
    assert err.value.field == "quality_legal"


def test_duplicate_across_dask_partitions_is_refused(demo, client):
    import dask.dataframe as dd

    _, loan, _, valued, _ = demo
    twice = pd.concat([valued, valued.iloc[[3]]])
    with pytest.raises(CollateralInputError, match=str(valued.index[3])):
        assess_collateral(
            dd.from_pandas(twice, npartitions=2, sort=False), loan=loan, paths=200, client=client
        )


@pytest.mark.parametrize(
    ("kw", "msg"),
    [
        ({"chunk_size": 0}, "chunk_size"),
        ({"chunk_size": 2.5}, "chunk_size"),
        ({"backend": "threads"}, "backend must be"),
        ({"backend": "serial", "client": object()}, "client="),
    ],
)
def test_bad_backend_arguments(demo, kw, msg):
    _, loan, _, valued, _ = demo
    with pytest.raises(ValueError, match=msg):
        assess_collateral(valued, loan=loan, paths=200, stress=False, **kw)
