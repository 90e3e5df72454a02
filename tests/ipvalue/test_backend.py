"""The backend seam: serial, process-pool and Dask runs of value_portfolio give the same numbers to the last bit."""

from __future__ import annotations

import importlib
import pickle

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from ipvalue import runtime as _backend
from ipvalue.demo import load_demo
from ipvalue.quality import citation_cohorts, cohort_quantiles
from ipvalue.valuation import VALUE_COLUMNS, ValuationInputError, value_portfolio
from ipvalue.valuation._synthetic import synthetic_comparables, synthetic_portfolio
from ipvalue.valuation.distributed import group_aligned_chunks

AS_OF = "2026-06-30"
ADDED = [*VALUE_COLUMNS, "currency"]


def synthetic_with_citations(n: int, seed: int = 1) -> pd.DataFrame:
    """The synthetic book plus forward citations, so that the cohort reduction has work to do."""
    frame = synthetic_portfolio(n, seed=seed)
    g = np.random.default_rng(seed + 100)
    frame["forward_citations"] = pd.array(g.poisson(3.0, n), dtype="Int64")
    return frame


@pytest.fixture(scope="module")
def client():
    import distributed as dask

    cluster = dask.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    )
    c = dask.Client(cluster)
    yield c
    c.close()
    cluster.close()


@pytest.fixture(scope="module")
def demo():
    frame, _, as_of = load_demo()
    return frame, as_of, value_portfolio(frame, as_of=as_of)


@pytest.fixture(scope="module")
def book():
    frame = synthetic_with_citations(100_000)
    # fewer Monte Carlo draws keep the three runs within the test budget; the draws are still per-patent streams
    a = {"draws": 64}
    return frame, a, value_portfolio(frame, a, as_of=AS_OF)


# ---------------------------------------------------------------------------------------------- demo


@pytest.mark.parametrize(
    "kw",
    [
        {"backend": "serial", "chunk_size": 7},
        {"backend": "processes", "chunk_size": 10},
        {"backend": _backend.SerialBackend(), "chunk_size": 5},
    ],
    ids=["serial-chunked", "processes", "backend-object"],
)
def test_demo_same_to_the_last_bit_serial_and_processes(demo, kw):
    frame, as_of, ref = demo
    got = value_portfolio(frame, as_of=as_of, **kw)
    assert_frame_equal(got, ref, check_exact=True)
    assert got.attrs == ref.attrs


@pytest.mark.slow
def test_demo_same_on_dask_cluster(demo, client):
    frame, as_of, ref = demo
    got = value_portfolio(frame, as_of=as_of, backend="dask", client=client, chunk_size=9)
    assert_frame_equal(got, ref, check_exact=True)
    assert got.attrs["ipvalue"]["input_hash"] == ref.attrs["ipvalue"]["input_hash"]


def test_dask_backend_starts_its_own_local_cluster(demo):
    import distributed  # noqa: F401 - the dask extra is part of the test install

    frame, as_of, ref = demo
    # in-process workers keep this start-up cheap; the module's cluster fixture runs real worker processes
    with _backend.DaskBackend(n_workers=2, processes=False) as be:
        got = value_portfolio(frame, as_of=as_of, backend=be, chunk_size=12)
        assert len(be.client.scheduler_info()["workers"]) == 2
    assert be._owned is None  # closed on exit
    assert_frame_equal(got, ref, check_exact=True)


@pytest.mark.slow
def test_demo_dask_dataframe_in_lazy_dask_dataframe_out(demo, client):
    import dask.dataframe as dd

    frame, as_of, ref = demo
    ddf = dd.from_pandas(frame, npartitions=3, sort=False)
    out = value_portfolio(ddf, as_of=as_of, client=client)
    assert hasattr(out, "compute") and out.npartitions == 3
    got = out.compute(scheduler=client)
    assert sorted(got.index) == sorted(ref.index)  # every patent, once
    got = got.loc[ref.index]
    # dask turns the input's text columns into its own string dtype; the numbers added must be identical
    assert_frame_equal(got[ADDED], ref[ADDED], check_exact=True, check_dtype=False, check_index_type=False)
    assert got.attrs["ipvalue"]["seed"] == 0 and got.attrs["ipvalue"]["as_of"] == str(as_of)
    with pytest.raises(ValueError, match="Dask backend only"):
        value_portfolio(ddf, as_of=as_of, backend="processes")


def test_group_spread_over_partitions_is_shuffled_together(demo, client):
    import dask.dataframe as dd

    frame, as_of, ref = demo
    # interleave so that every group has rows in several partitions
    spread = frame.iloc[np.r_[0 : len(frame) : 2, 1 : len(frame) : 2]]
    ddf = dd.from_pandas(spread, npartitions=4, sort=False)
    got = value_portfolio(ddf, as_of=as_of, client=client).compute(scheduler=client).loc[ref.index]
    assert_frame_equal(got[ADDED], ref[ADDED], check_exact=True, check_dtype=False, check_index_type=False)


# ---------------------------------------------------------------------------------------------- comparables


@pytest.fixture(scope="module")
def market_book():
    """A synthetic book with comparable transactions (price and royalty ones): the market approach weighs."""
    frame = synthetic_with_citations(6_000, seed=5)
    comps = synthetic_comparables(600, seed=6)
    a = {"draws": 64}
    ref = value_portfolio(frame, a, as_of=AS_OF, comparables=comps)
    assert ref["methods_used"].str.contains("market").mean() > 0.5
    return frame, comps, a, ref


@pytest.mark.slow
def test_comparables_give_the_same_numbers_on_every_backend(market_book, client):
    # the comparables are one small table sent to every chunk: the market values, the weights and the range
    # (its market draws from each patent's own stream) do not depend on chunking or the backend
    frame, comps, a, ref = market_book
    for kw in (
        {"backend": "serial", "chunk_size": 997},
        {"backend": "processes", "chunk_size": 1_500},
        {"client": client, "chunk_size": 2_000},
    ):
        got = value_portfolio(frame, a, as_of=AS_OF, comparables=comps, **kw)
        assert_frame_equal(got, ref, check_exact=True)


@pytest.mark.slow
def test_comparables_on_a_dask_dataframe(market_book, client):
    import dask.dataframe as dd

    frame, comps, a, ref = market_book
    ddf = dd.from_pandas(frame, npartitions=4, sort=False)
    got = value_portfolio(ddf, a, as_of=AS_OF, client=client, comparables=comps).compute(scheduler=client)
    got = got.loc[ref.index]
    assert_frame_equal(got[ADDED], ref[ADDED], check_exact=True, check_dtype=False, check_index_type=False)


def test_demo_with_comparables_same_in_processes(demo):
    from importlib import resources

    import ipvalue as iv

    frame, as_of, _ = demo
    comps = iv.read_comparables(str(resources.files("ipvalue") / "data" / "demo_comparables_FICTIONAL.csv"))
    ref = value_portfolio(frame, as_of=as_of, comparables=comps)
    got = value_portfolio(frame, as_of=as_of, comparables=comps, backend="processes", chunk_size=10)
    assert_frame_equal(got, ref, check_exact=True)
    assert ref["methods_used"].str.contains("market").any()


# ---------------------------------------------------------------------------------------------- 100k book


@pytest.mark.slow
def test_100k_book_same_on_every_backend(book, client):
    frame, a, ref = book
    for kw in ({"backend": "processes", "chunk_size": 30_000}, {"client": client, "chunk_size": 25_000}):
        got = value_portfolio(frame, a, as_of=AS_OF, **kw)
        assert_frame_equal(got, ref, check_exact=True)
    assert ref["quality_score"].notna().all()


def test_cohort_caps_come_from_the_whole_book(book):
    frame, a, ref = book
    # a chunk valued on its own normalises citations within its own cohorts: some quality scores move ...
    part = frame.iloc[:5_000]
    alone = value_portfolio(part, a, as_of=AS_OF)
    assert (alone["quality_technical"] != ref["quality_technical"].iloc[:5_000]).any()
    # ... and with the book's caps (the reduction) it scores exactly as in the whole-book run
    tables = cohort_quantiles(citation_cohorts(frame, as_of=pd.Timestamp(AS_OF).date()))
    from ipvalue.valuation.assumptions import resolve_assumptions
    from ipvalue.valuation.kernel import value_frame

    chunk = value_frame(part, resolve_assumptions(a), pd.Timestamp(AS_OF).date(), 0, cohort=tables)
    assert_frame_equal(chunk[ADDED], ref[ADDED].iloc[:5_000], check_exact=True)


# ---------------------------------------------------------------------------------------------- pieces


def test_cohort_quantiles_do_not_depend_on_row_order_or_chunking():
    frame = synthetic_with_citations(3_000, seed=4)
    as_of = pd.Timestamp(AS_OF).date()
    rows = citation_cohorts(frame, as_of=as_of)
    whole = cohort_quantiles(rows)
    parts = pd.concat([citation_cohorts(frame.iloc[i : i + 700], as_of=as_of) for i in range(0, 3_000, 700)])
    shuffled = cohort_quantiles(parts.sample(frac=1.0, random_state=3))
    for k in ("class_year", "year"):
        assert len(whole[k]) > 0
        assert_frame_equal(shuffled[k], whole[k], check_exact=True)
        # winsorisation bounds: lo <= hi, and every cohort kept has at least min_cohort_size rows
        assert (whole[k]["lo"] <= whole[k]["hi"]).all() and (whole[k]["size"] >= 50).all()


def test_chunks_keep_groups_whole_and_lose_no_row():
    frame = synthetic_portfolio(5_000, seed=2)
    parts = group_aligned_chunks(frame, 333)
    pos = np.concatenate(parts)
    assert np.array_equal(np.sort(pos), np.arange(len(frame)))
    chunk_of = np.empty(len(frame), int)
    for i, p in enumerate(parts):
        chunk_of[p] = i
    grouped = frame["group"].notna().to_numpy()
    per_group = pd.Series(chunk_of[grouped]).groupby(frame["group"].to_numpy()[grouped]).nunique()
    assert (per_group == 1).all()


def test_valuation_error_crosses_process_boundary_with_the_patent_named(demo):
    frame, as_of, _ = demo
    err = ValuationInputError([("CN1", "royalty_rate", "patent CN1: field royalty_rate must be a rate")])
    back = pickle.loads(pickle.dumps(err))
    assert back.problems == err.problems and str(back) == str(err)
    bad = frame.copy()
    pid = bad.index[-1]
    bad.loc[pid, "royalty_rate"] = 3.0
    with pytest.raises(ValuationInputError, match=f"patent {pid}: field royalty_rate"):
        value_portfolio(bad, as_of=as_of, backend="processes", chunk_size=10)


def test_duplicate_patent_in_different_chunks_is_refused(demo):
    frame, as_of, _ = demo
    dup = pd.concat([frame, frame.iloc[[0]]])
    with pytest.raises(ValuationInputError, match="more than once"):
        value_portfolio(dup, as_of=as_of, backend="serial", chunk_size=10)


def test_bad_backend_arguments():
    frame, _, as_of = load_demo()
    with pytest.raises(ValueError, match="backend must be"):
        value_portfolio(frame, as_of=as_of, backend="threads")
    with pytest.raises(ValueError, match="chunk_size"):
        value_portfolio(frame, as_of=as_of, backend="serial", chunk_size=0)
    with pytest.raises(ValueError, match="client= is only used"):
        value_portfolio(frame, as_of=as_of, backend="processes", client=object())


def test_missing_dask_names_the_extra(monkeypatch):
    real = importlib.import_module

    def fake(name, *args, **kwargs):
        if name == "distributed" or name.startswith("dask"):
            raise ImportError(f"No module named {name!r}")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(_backend.importlib, "import_module", fake)
    with pytest.raises(ImportError, match=r"pip install 'ipvalue\[dask\]'"):
        _backend.DaskBackend()
    frame, _, as_of = load_demo()
    with pytest.raises(ImportError, match=r"ipvalue\[dask\]"):
        value_portfolio(frame, as_of=as_of, backend="dask")


@pytest.mark.slow
def test_assess_collateral_takes_the_lazy_dask_result(demo, client):
    import dask.dataframe as dd

    import ipvalue as iv

    frame, as_of, ref = demo
    _, loan, _ = load_demo()
    lazy = value_portfolio(dd.from_pandas(frame, npartitions=2, sort=False), as_of=as_of, client=client)
    got = iv.assess_collateral(lazy, loan=loan, paths=500, stress=False)
    want = iv.assess_collateral(ref, loan=loan, paths=500, stress=False)
    # book-level figures are sums taken partition by partition, and the liquidity haircut is calibrated on the
    # book: they agree within 1e-12 relative (docs/methodology/scale.md), not to the last bit
    assert got.summary["n_eligible"] == want.summary["n_eligible"]
    for k in ("appraised_value", "collateral_value", "max_loan", "expected_lgd", "lgd_99"):
        assert got.summary[k] == pytest.approx(want.summary[k], rel=1e-12, abs=1e-12), k
    assert (got.patents.loc[want.patents.index, "eligible"] == want.patents["eligible"]).all()
    assert_frame_equal(
        got.patents.loc[want.patents.index, ["haircut_total", "collateral_value"]],
        want.patents[["haircut_total", "collateral_value"]],
        check_exact=False,
        rtol=1e-12,
        atol=1e-9,
    )
