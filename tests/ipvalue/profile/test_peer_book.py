"""A peer book computed once gives exactly the profile that the raw peers frame gives, and is reused."""

import dataclasses
import datetime as dt

import pandas as pd
import pytest

from ipvalue.profile import (
    PeerBook,
    ProfileInputError,
    load_profile_weights,
    peer_book,
    profile_book,
    profile_borrower,
    synthetic_book,
)

AS_OF = dt.date(2026, 6, 30)


@pytest.fixture(scope="module")
def book():
    return synthetic_book(600, as_of=AS_OF, mean_patents=12, seed=21)


@pytest.fixture(scope="module")
def prepared(book):
    return peer_book(book, as_of=AS_OF)


def assert_same_profile(a, b):
    assert a.to_dict() == b.to_dict()
    pd.testing.assert_frame_equal(a.indicators, b.indicators, check_exact=True)
    pd.testing.assert_frame_equal(a.patents, b.patents, check_exact=True)


@pytest.mark.parametrize("seed", [31, 32, 33])
def test_peer_book_gives_the_raw_peers_profile(book, prepared, seed):
    borrower = synthetic_book(1, as_of=AS_OF, mean_patents=40, seed=seed, prefix="B")
    raw = profile_borrower(borrower, as_of=AS_OF, peers=book)
    assert raw.grade is not None  # a graded profile, so the comparison covers scores and reasons
    assert_same_profile(raw, profile_borrower(borrower, as_of=AS_OF, peers=prepared))


def test_a_book_profile_serves_as_the_peer_book(book):
    borrower = synthetic_book(1, as_of=AS_OF, mean_patents=25, seed=34, prefix="B")
    whole = profile_book(book, as_of=AS_OF)
    assert isinstance(whole.peer_book, PeerBook)
    raw = profile_borrower(borrower, as_of=AS_OF, peers=book)
    assert_same_profile(raw, profile_borrower(borrower, as_of=AS_OF, peers=whole))
    assert_same_profile(raw, profile_borrower(borrower, as_of=AS_OF, peers=whole.peer_book))


def test_a_borrower_inside_the_book_is_left_out_as_with_raw_peers(book, prepared):
    name = book["firm"].iloc[0]
    own = book[book["firm"] == name].drop(columns="firm")
    raw = profile_borrower(own, as_of=AS_OF, peers=book, firm=name)
    fast = profile_borrower(own, as_of=AS_OF, peers=prepared, firm=name)
    assert_same_profile(raw, fast)
    assert any("left out of the reference" in n for n in fast.notes["en"])
    assert name in prepared.firms.index  # the book itself is not changed by leaving the borrower out


def test_the_prepared_reference_is_computed_once(prepared):
    w = load_profile_weights()
    first = prepared.prepared(w)
    assert prepared.prepared(w) is first
    # other cohort rules with the same size buckets are prepared separately, and differ
    other = prepared.prepared(dataclasses.replace(w, min_firms=w.min_firms + 40))
    assert other is not first
    assert not other.firms["quality_top_decile_share"].equals(first.firms["quality_top_decile_share"])


def test_a_peer_book_of_another_date_is_refused(prepared):
    borrower = synthetic_book(1, as_of=AS_OF, mean_patents=10, seed=35, prefix="B")
    with pytest.raises(ProfileInputError) as info:
        profile_borrower(borrower, as_of=dt.date(2026, 7, 1), peers=prepared)
    assert info.value.problems[0].field == "as_of"
    assert "2026-06-30" in str(info.value)


def test_other_size_buckets_are_refused(prepared):
    w = load_profile_weights()
    other = dataclasses.replace(w, size_edges=tuple(e + 1 for e in w.size_edges))
    borrower = synthetic_book(1, as_of=AS_OF, mean_patents=10, seed=36, prefix="B")
    with pytest.raises(ProfileInputError) as info:
        profile_borrower(borrower, as_of=AS_OF, peers=prepared, weights=other)
    assert info.value.problems[0].field == "weights"


def test_peer_book_cache_reads_once_and_keeps_the_recent_dates(tmp_path, book):
    import hashlib

    from ipvalue.profile import PeerBookCache

    path = tmp_path / "peers.csv"
    book.to_csv(path, index=False)
    cache = PeerBookCache(path, keep=2)
    first = cache.get(AS_OF)
    assert cache.digest == "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    assert cache.get("2026-06-30") is first  # the same date: the same book, not recomputed
    later = [dt.date(2026, 7, 1), dt.date(2026, 7, 2)]
    books = [cache.get(d) for d in later]
    assert [b.as_of for b in books] == later
    assert cache.get(AS_OF) is not first  # dropped as the least recently used, computed again
    borrower = synthetic_book(1, as_of=AS_OF, mean_patents=30, seed=37, prefix="B")
    assert_same_profile(
        profile_borrower(borrower, as_of=AS_OF, peers=pd.read_csv(path)),
        profile_borrower(borrower, as_of=AS_OF, peers=cache.get(AS_OF)),
    )


def test_a_missing_peers_file_is_named(tmp_path):
    from ipvalue.profile import PeerBookCache

    with pytest.raises(ProfileInputError, match="no peers file"):
        PeerBookCache(tmp_path / "absent.csv").get(AS_OF)
