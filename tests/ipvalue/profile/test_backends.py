"""A book of many firms gives the same percentiles serially, in chunks, and on the Dask backend."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from ipvalue.profile import profile_book, profile_borrower, synthetic_book
from ipvalue.runtime import DaskBackend

AS_OF = dt.date(2026, 6, 30)


def assert_same(a, b):
    for name in ("firms", "indicators", "percentiles", "scores", "dimensions"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), check_exact=True, obj=name)


def test_chunking_does_not_change_the_book():
    book = synthetic_book(400, as_of=AS_OF, mean_patents=10, seed=2)
    whole = profile_book(book, as_of=AS_OF)
    assert_same(whole, profile_book(book, as_of=AS_OF, chunk_size=500))
    assert_same(whole, profile_book(book.sample(frac=1.0, random_state=4), as_of=AS_OF, chunk_size=777))
    assert len(whole.firms) == 400
    assert set(whole.firms["cohort_level"]) <= {"industry+size", "class+size", "section+size", "size", "all"}
    p = whole.percentiles.to_numpy()
    assert ((p[~np.isnan(p)] >= 0) & (p[~np.isnan(p)] <= 100)).all()


@pytest.mark.slow
def test_dask_backend_gives_the_serial_percentiles():
    # a modest synthetic book (the 100k-firm run is in benchmarks/bench_profile.py)
    book = synthetic_book(3000, as_of=AS_OF, mean_patents=12, seed=7)
    serial = profile_book(book, as_of=AS_OF, chunk_size=4000)
    with DaskBackend(n_workers=2, threads_per_worker=1, processes=False) as be:
        on_dask = profile_book(book, as_of=AS_OF, backend=be, chunk_size=4000)
        import dask.dataframe as dd

        ddf = dd.from_pandas(book.reset_index(drop=True), npartitions=6)  # firms split across partitions
        from_ddf = profile_book(ddf, as_of=AS_OF, backend=be)
        borrower = synthetic_book(1, as_of=AS_OF, mean_patents=40, seed=8, prefix="B")
        b_dask = profile_borrower(borrower, as_of=AS_OF, peers=book, backend=be, chunk_size=4000)
    assert_same(serial, on_dask)
    assert_same(serial, from_ddf)
    b_serial = profile_borrower(borrower, as_of=AS_OF, peers=book)
    pd.testing.assert_frame_equal(b_serial.indicators, b_dask.indicators, check_exact=True)
