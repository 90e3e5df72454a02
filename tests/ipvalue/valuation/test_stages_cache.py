"""The prepared stages ``value_portfolio`` keeps for the stress test of its book (issue 17, the valuation side).

``value_portfolio`` keeps the stages no rate moves (:func:`ipvalue.valuation.kernel.prepare_stages`) in a small
process-level cache keyed by a digest of exactly what they read (every column, the index, the assumptions,
``as_of``); the stress run of an assessment of the frame it returned finds them there instead of preparing them
again. Checked here: the stress run hits; any changed input misses; a hit gives the same numbers to the last bit
as no cache (exact frame hash of every revaluation and of the stress table, demo and synthetic books); the kept
stages are read only; the cache stays within its bounds.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

import ipvalue as iv
from ipvalue.collateral import stress
from ipvalue.demo import load_demo
from ipvalue.facts.columns import input_hash
from ipvalue.valuation import VALUE_COLUMNS, Assumptions
from ipvalue.valuation._stages_cache import StagesCache, stages_keys
from ipvalue.valuation._synthetic import synthetic_portfolio
from ipvalue.valuation.kernel import STAGES_CACHE, cached_stages, prepare_stages

RATE_SHOCKS = [
    s for s in stress.STRESS_SHOCKS if s.name in ("obsolescence", "royalty_cut", "discount_rate_up")
]


pytestmark = pytest.mark.usefixtures("empty_stages_cache")


def _book(name: str) -> tuple[pd.DataFrame, dict, dt.date]:
    if name == "demo":
        portfolio, _, as_of = load_demo()
        return portfolio, {}, as_of
    book = synthetic_portfolio(120, seed=0)
    a = {"draws": {"synthetic_draws": 200, "synthetic_point": 0}[name], "royalty_rate": 0.04}
    return book, a, dt.date(2026, 6, 30)


def _revalued(valued: pd.DataFrame) -> list[pd.DataFrame]:
    """The stress test's three rate-shock revaluations of ``valued`` (as sorted by the collateral checks)."""
    frame = valued.sort_index(kind="stable")
    info = dict(valued.attrs["ipvalue"])
    day = dt.date.fromisoformat(info["as_of"])
    return [stress._revalue(frame, shock, as_of=day, info=info) for shock in RATE_SHOCKS]


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert input_hash(a) == input_hash(b)


@pytest.mark.parametrize("name", ["demo", "synthetic_draws", "synthetic_point"])
def test_the_stress_run_finds_the_stages_value_portfolio_kept_and_gets_the_same_numbers(name):
    portfolio, a, as_of = _book(name)
    shuffled = portfolio.iloc[np.random.default_rng(1).permutation(len(portfolio))]
    valued = iv.value_portfolio(shuffled, a, as_of=as_of, rng=4)  # rows not in patent_id order
    assert (STAGES_CACHE.hits, STAGES_CACHE.misses, len(STAGES_CACHE)) == (0, 1, 1)
    warm = _revalued(valued)
    assert STAGES_CACHE.hits == 1  # one look-up per stress run, three shocks served
    STAGES_CACHE.clear()
    entries = STAGES_CACHE.entries
    try:
        STAGES_CACHE.entries = 0  # nothing kept: every stress run prepares its stages
        cold = _revalued(valued)
        assert (STAGES_CACHE.hits, len(STAGES_CACHE)) == (0, 0)
    finally:
        STAGES_CACHE.entries = entries
    for w, c in zip(warm, cold, strict=True):
        _same(w, c)
    assert not np.array_equal(np.nan_to_num(warm[1]["value"]), np.nan_to_num(valued["value"]))
    # value_portfolio itself: the same frame whether its stages were kept, found again, or not kept
    again = iv.value_portfolio(shuffled, a, as_of=as_of, rng=4)
    _same(again, valued)


def test_an_assessment_with_stress_is_the_same_with_and_without_the_kept_stages():
    portfolio, loan, as_of = load_demo()
    valued = iv.value_portfolio(portfolio, as_of=as_of, rng=0)
    warm = iv.assess_collateral(valued, loan=loan, rng=0, paths=500)
    assert STAGES_CACHE.hits == 1
    STAGES_CACHE.clear()
    entries = STAGES_CACHE.entries
    try:
        STAGES_CACHE.entries = 0
        cold = iv.assess_collateral(valued, loan=loan, rng=0, paths=500)
    finally:
        STAGES_CACHE.entries = entries
    pd.testing.assert_frame_equal(warm.stress, cold.stress, check_exact=True)
    pd.testing.assert_frame_equal(warm.patents, cold.patents, check_exact=True)


def _base(valued: pd.DataFrame) -> pd.DataFrame:
    out = valued.drop(columns=[c for c in VALUE_COLUMNS if c in valued.columns])
    out.attrs = {}
    return out


def _changes(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """One frame per kind of change of an input the stages read."""
    first = frame.index[0]
    renamed = frame.rename(index={first: first + "X"})
    renamed["patent_id"] = renamed.index
    return {
        "a number": frame.assign(rd_cost=frame["rd_cost"].where(frame.index != first, 1.5e6 + 1e-9)),
        "a rate by one ulp": frame.assign(royalty_rate=np.nextafter(frame["royalty_rate"].to_numpy(), 1.0)),
        "a text": frame.assign(legal_status=frame["legal_status"].where(frame.index != first, "lapsed")),
        "a date by one day": frame.assign(filing_date=frame["filing_date"] + pd.Timedelta(days=1)),
        "a missing value": frame.assign(claims=frame["claims"].where(frame.index != first, pd.NA)),
        "a dtype": frame.assign(rd_cost=frame["rd_cost"].astype(object)),
        "a number written as text": frame.assign(
            rd_year=frame["rd_year"].astype(object).where(frame.index != first, "2019")
        ),
        "a column added": frame.assign(economic_life_years=8.0),
        "a column dropped": frame.drop(columns=["royalty_rate"]),
        "columns reordered": frame[list(frame.columns[::-1])],
        "a column renamed": frame.rename(columns={"industry": "industry_"}),
        "a patent id": renamed,
        "a row dropped": frame.iloc[1:],
    }


def test_every_kind_of_change_misses():
    portfolio, _, as_of = load_demo()
    frame = _base(iv.value_portfolio(portfolio, as_of=as_of, rng=0))
    a = Assumptions.of(None).as_dict()
    book, exact = stages_keys(frame, a, as_of)
    seen = {book}
    for what, changed in _changes(frame).items():
        key = stages_keys(changed, a, as_of)[0]
        assert key not in seen, what
        seen.add(key)
    for what, other in {
        "as_of": (a, as_of + dt.timedelta(days=1)),
        "an assumption": ({**a, "strict_dates": not a["strict_dates"]}, as_of),
        "a rate assumption": ({**a, "discount_rate": 0.12}, as_of),
        "an int for a float": ({**a, "draws": float(a["draws"])}, as_of),
    }.items():
        key = stages_keys(frame, *other)[0]
        assert key not in seen, what
        seen.add(key)
    # the same book: the same keys; in another row order: the same book, not the same frame
    assert stages_keys(frame.copy(), dict(a), as_of) == (book, exact)
    moved = stages_keys(frame.iloc[::-1], a, as_of)
    assert moved[0] == book and moved[1] != exact
    # currency read as text: its dtype alone (object or str, as a valued frame writes it) keeps the book
    recast = stages_keys(frame.assign(currency=frame["currency"].astype(object)), a, as_of)
    assert recast[0] == book and recast[1] != exact


def test_a_changed_input_is_prepared_again_not_taken_from_the_cache():
    portfolio, _, as_of = load_demo()
    frame = _base(iv.value_portfolio(portfolio, as_of=as_of, rng=0))
    a = Assumptions.of(None).as_dict()
    cached_stages(frame, a, as_of)
    for what, changed in _changes(frame).items():
        hits = STAGES_CACHE.hits
        try:
            fresh = prepare_stages(changed, a, as_of)
        except (
            Exception
        ) as exc:  # a change the inputs' rules refuse: refused again, not served from the cache
            with pytest.raises(type(exc)):
                cached_stages(changed, a, as_of)
            continue
        got = cached_stages(changed, a, as_of)
        assert STAGES_CACHE.hits == hits, what
        np.testing.assert_array_equal(got.facts.life_legal, fresh.facts.life_legal)
        np.testing.assert_array_equal(got.inputs.ids, fresh.inputs.ids)
        assert got.notes.series(changed.index).equals(fresh.notes.series(changed.index))


def test_a_row_order_hit_serves_the_stress_run_only():
    portfolio, _, as_of = load_demo()
    frame = _base(iv.value_portfolio(portfolio, as_of=as_of, rng=0))
    a = Assumptions.of(None).as_dict()
    first = cached_stages(frame, a, as_of)
    hits = STAGES_CACHE.hits
    reordered = frame.iloc[::-1]
    # value_portfolio's look-up wants this very frame: it prepares again (and keeps the new order)
    again = cached_stages(reordered, a, as_of)
    assert STAGES_CACHE.hits == hits
    assert list(again.inputs.ids) == list(reordered.index)
    # the stress run's look-up takes the book in any order (it takes its rows back by patent_id)
    got = cached_stages(frame, a, as_of, same_rows=False)
    assert STAGES_CACHE.hits == hits + 1
    assert list(got.inputs.ids) == list(reordered.index) and list(first.inputs.ids) == list(frame.index)


def test_kept_stages_are_read_only_and_each_caller_gets_its_own_uniforms():
    portfolio, _, as_of = load_demo()
    iv.value_portfolio(portfolio, as_of=as_of, rng=0)
    a = Assumptions.of(None).as_dict()
    one = cached_stages(portfolio, a, as_of)
    two = cached_stages(portfolio, a, as_of)
    assert STAGES_CACHE.hits == 2
    assert one.facts is two.facts and one.uniforms is not two.uniforms
    for arr in (one.facts.life_legal, one.facts.dead, one.inputs.x["revenue"], one.markets.allocation):
        assert not arr.flags.writeable
        with pytest.raises(ValueError, match="read-only"):
            arr[0] = arr[0]
    assert all(not mask.flags.writeable for mask, _ in one.notes.pieces)


def test_the_cache_stays_within_its_bounds():
    cache = StagesCache(entries=2, rows=100)
    cache.put("a", "a1", 40, {"x": np.zeros(3)})
    cache.put("b", "b1", 40, {"x": np.zeros(3)})
    assert cache.get("a") is not None  # a is now the most recently used
    cache.put("c", "c1", 40, {"x": np.zeros(3)})  # three books: b, the least recently used, goes
    assert cache.get("b") is None and cache.get("a") is not None and cache.get("c") is not None
    cache.put("d", "d1", 90, {"x": np.zeros(3)})  # 90 + 40 rows > 100: only d is left
    assert len(cache) == 1 and cache.get("d") is not None
    cache.put("e", "e1", 101, {"x": np.zeros(3)})  # larger than the bound alone: not kept
    assert cache.get("e") is None and len(cache) == 1
    assert cache.get("d", "d1") is not None and cache.get("d", "other") is None
