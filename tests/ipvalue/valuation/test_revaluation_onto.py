"""The stress test's revaluations laid onto the valued frame equal the frames built and reindexed, to the last bit.

:func:`ipvalue.valuation.kernel.value_prepared_onto` builds each shock's frame as a shallow copy of the valued
frame (rows in its order, e.g. sorted by ``patent_id`` by the collateral checks) with only the columns the
revaluation changed replaced. The reference is :func:`ipvalue.valuation.kernel.value_prepared_many`'s frame of
the shock reindexed to the valued frame's rows (what the stress test did before), compared with
``assert_frame_equal(check_exact=True)`` (columns and their order, dtypes, index, values) and the exact frame
hash; the stress run's revaluations and whole stress table are compared with the reference swapped in.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

import ipvalue as iv
from ipvalue.collateral import stress
from ipvalue.collateral._inputs import check_frame
from ipvalue.demo import load_demo
from ipvalue.facts.columns import input_hash
from ipvalue.valuation import Assumptions
from ipvalue.valuation._synthetic import synthetic_portfolio
from ipvalue.valuation.kernel import prepare_stages, value_prepared_many, value_prepared_onto

pytestmark = pytest.mark.usefixtures("empty_stages_cache")


def _book(name: str) -> tuple[pd.DataFrame, dict, dt.date]:
    """A book as value_portfolio gets it: rows not in patent_id order."""
    if name == "demo":
        portfolio, _, as_of = load_demo()
        return portfolio, {}, as_of
    book = synthetic_portfolio(90, seed=0)
    book = book.iloc[np.random.default_rng(3).permutation(len(book))]
    a = {"draws": 200} if name == "synthetic" else {"draws": 200, "royalty_rate": 0.05, "discount_rate": 0.12}
    return book, a, dt.date(2026, 6, 30)


def _reference(state, seed, shocks, frame, *, texts=True, range_kernels=None):
    """The frames as the stress test built them before: value_prepared_many's, reindexed, no attrs.

    The range's numpy steps whatever ``range_kernels`` the stress run passes (the compiled draws, the same bits).
    """
    out = []
    for f in value_prepared_many(state, seed, shocks, texts=texts):
        f = f.reindex(frame.index)
        f.attrs = {}
        out.append(f)
    return out


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert input_hash(a) == input_hash(b)


def _setup(name: str):
    book, a, as_of = _book(name)
    valued = iv.value_portfolio(book, a, as_of=as_of, rng=5)
    info = valued.attrs["ipvalue"]
    base = book.copy()
    state = prepare_stages(base, Assumptions.of(info["assumptions"]).as_dict(), as_of)
    frame = check_frame(valued).sort_index(kind="stable")
    shocks = []
    for fn, col in stress._BY_RATES.items():
        try:
            shocked, assumptions = fn(frame, dict(info["assumptions"]))
        except Exception:  # noqa: BLE001 - a shock the book cannot take is left out, as the stress run does
            continue
        columns = (
            {col: shocked[col].reindex(state.inputs.frame.index).to_numpy()} if col in shocked.columns else {}
        )
        shocks.append((Assumptions.of(assumptions).as_dict(), columns))
    return state, frame, shocks, int(info["seed"])


@pytest.mark.parametrize("name", ["demo", "synthetic", "synthetic_assumed_rates"])
@pytest.mark.parametrize("texts", [False, True])
def test_the_frames_laid_onto_the_valued_frame_equal_the_reindexed_ones(name, texts):
    state, frame, shocks, seed = _setup(name)
    assert len(shocks) >= 2
    assert not frame.index.equals(state.inputs.frame.index)  # the valued frame's rows in another order
    got = value_prepared_onto(state, seed, shocks, frame, texts=texts)
    want = _reference(state, seed, shocks, frame, texts=texts)
    for g, w in zip(got, want, strict=True):
        _same(g, w)
        assert g.attrs == {}
        assert _shares(g, frame, "revenue")  # laid onto the valued frame, not built anew
    # the revaluations moved values (a test that would pass on the base frame itself is no test)
    assert any(not np.array_equal(np.nan_to_num(g["value"]), np.nan_to_num(frame["value"])) for g in got)


def _shares(a: pd.DataFrame, b: pd.DataFrame, c: str) -> bool:
    """Whether column ``c`` of ``a`` is ``b``'s own data (numpy memory, or pandas' array object)."""
    x, y = a[c], b[c]
    if isinstance(x.dtype, np.dtype):
        return bool(np.shares_memory(x.to_numpy(), y.to_numpy()))
    xa, ya = x.array, y.array
    return xa is ya or getattr(xa, "_pa_array", xa) is getattr(ya, "_pa_array", ya)


def test_columns_the_revaluation_leaves_are_the_valued_frames_own():
    state, frame, shocks, seed = _setup("demo")
    got = value_prepared_onto(state, seed, shocks, frame, texts=False)
    for g in got:
        for c in ("legal_status", "owner", "cpc", "family_id", "filing_date", "quality_score", "revenue"):
            assert _shares(g, frame, c), c
        assert not _shares(g, frame, "value")
    frame_before = frame.copy(deep=True)
    # a shocked frame written in place, in a column it shares, leaves the valued frame as it was (copy-on-write)
    got[0].loc[got[0].index[0], "revenue"] = -1.0
    got[1].loc[got[1].index[1], "legal_status"] = "revoked"
    _same(frame, frame_before)


@pytest.mark.parametrize(
    "change",
    [
        "shuffled rows",
        "a subset of rows",
        "a valuation column dropped",
        "columns reordered",
        "another index name",
    ],
)
def test_a_frame_laid_out_otherwise_gets_the_reference_frames(change):
    state, frame, shocks, seed = _setup("synthetic")
    if change == "shuffled rows":
        frame = frame.iloc[np.random.default_rng(0).permutation(len(frame))]
    elif change == "a subset of rows":
        frame = frame.iloc[::3]
    elif change == "a valuation column dropped":
        frame = frame.drop(columns=["value_p50"])
    elif change == "columns reordered":
        frame = frame[list(frame.columns[::-1])]
    else:
        frame = frame.rename_axis("id")
    got = value_prepared_onto(state, seed, shocks, frame, texts=False)
    want = _reference(state, seed, shocks, frame, texts=False)
    for g, w in zip(got, want, strict=True):
        _same(g, w)
        # rows in another order, a subset, a valuation column missing (inserted in its place) are laid onto the
        # frame; columns in another order or another index name are built as before
        assert _shares(g, frame, "revenue") == (change not in ("columns reordered", "another index name"))


def _stress_reference(monkeypatch):
    monkeypatch.setattr(stress, "value_prepared_onto", _reference)


@pytest.mark.parametrize("name", ["demo", "synthetic", "no_royalty", "no_discount"])
def test_the_stress_runs_revaluations_equal_the_reference(name, monkeypatch):
    """Including books where a rate shock cannot revalue (a royalty or a discount rate the frame lacks)."""
    if name in ("demo", "synthetic"):
        book, a, as_of = _book(name)
    else:
        book, _, as_of = _book("synthetic")
        col = "royalty_rate" if name == "no_royalty" else "discount_rate"
        book = book.assign(**{col: np.nan})
        a = {"draws": 200}
    valued = iv.value_portfolio(book, a, as_of=as_of, rng=1)
    frame = check_frame(valued).sort_index(kind="stable")
    record = dict(valued.attrs["ipvalue"])
    day = dt.date.fromisoformat(record["as_of"])

    def run():
        info = dict(record)
        out = {}
        for shock in stress.STRESS_SHOCKS[:3]:
            try:
                out[shock.name] = stress._revalue(frame, shock, as_of=day, info=info)
            except stress._CannotRevalue as exc:
                out[shock.name] = str(exc)
        return out

    got = run()
    with monkeypatch.context() as m:
        _stress_reference(m)
        want = run()
    assert got.keys() == want.keys()
    for k in got:
        if isinstance(want[k], str):
            assert got[k] == want[k]
        else:
            _same(got[k], want[k])
    if name in ("no_royalty", "no_discount"):
        assert any(isinstance(v, str) for v in got.values())  # a shock that could not revalue


@pytest.mark.parametrize("name", ["demo", "synthetic"])
def test_the_stress_table_equals_the_reference(name, monkeypatch):
    book, a, as_of = _book(name)
    if name == "demo":
        _, loan, _ = load_demo()
    else:
        loan = iv.Loan(
            amount=2e6, currency="CNY", tenor_years=3.0, interest_rate=0.045, probability_of_default=0.03
        )
    valued = iv.value_portfolio(book, a, as_of=as_of, rng=0)
    got = iv.assess_collateral(valued, loan=loan, rng=0, paths=400)
    with monkeypatch.context() as m:
        _stress_reference(m)
        want = iv.assess_collateral(valued, loan=loan, rng=0, paths=400)
    pd.testing.assert_frame_equal(got.stress, want.stress, check_exact=True)
    pd.testing.assert_frame_equal(got.patents, want.patents, check_exact=True)
    assert got.stress["revalued"].any()
