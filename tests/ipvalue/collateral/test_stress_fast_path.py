"""The stress run's fast comparisons against the straightforward ones they replace (issue 17).

* ``_same_frame`` compares column arrays (:func:`ipvalue.facts.columns.same_values`, read with
  :func:`ipvalue.facts.columns.column_arrays`) instead of ``list(x) != list(y)`` per column: it must answer as
  the element-by-element reference kept below, on every kind of column a valued frame carries, and never call
  two frames that differ in a bit the same.
* A direct shock is applied again with the finished base case only when it says it reads the base case's rows
  (``StressShock.reads_base_rows``); the shocks that say they do not, never touch them, and the stress table is
  the same as when every direct shock is applied again (``test_stress_axis.py`` holds the one-pass run to the
  two-pass one).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

import ipvalue as iv
from ipvalue.collateral import load_policy
from ipvalue.collateral import stress as stress_module
from ipvalue.collateral._inputs import check_frame
from ipvalue.collateral.stress import STRESS_SHOCKS, assess_with_stress
from ipvalue.demo import load_demo
from ipvalue.facts.columns import column_arrays, column_arrays_reference, same_values


def _same_frame_reference(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    """The comparison as it was before issue 17: a Series per column, floats by bits, the rest as Python lists."""
    if a is b:
        return True
    if list(a.columns) != list(b.columns) or not a.index.equals(b.index):
        return False
    for c in a.columns:
        x, y = a[c], b[c]
        if x is y:
            continue
        if x.dtype != y.dtype:
            return False
        if x.dtype.kind == "f":
            if not np.array_equal(x.to_numpy().view(np.int64), y.to_numpy().view(np.int64)):
                return False
            continue
        try:
            if list(x) != list(y):
                return False
        except TypeError:
            return False
    return True


@pytest.fixture(scope="module")
def demo_frame():
    portfolio, loan, as_of = load_demo()
    valued = iv.value_portfolio(portfolio, as_of=as_of, rng=0)
    return valued, check_frame(valued).sort_index(kind="stable"), loan


def _mixed(n: int) -> pd.DataFrame:
    g = np.random.default_rng(n)
    miss = g.random(n) < 0.3
    text = np.array([f"名称 {i}" for i in range(n)], dtype=object)
    text[miss] = None
    return pd.DataFrame(
        {
            "value": np.where(miss, np.nan, g.lognormal(10, 1, n)),
            "count": g.integers(0, 9, n),
            "flag": g.random(n) < 0.5,
            "nullable_int": pd.array(np.where(miss, None, g.integers(0, 5, n)), dtype="Int64"),
            "nullable_bool": pd.array(np.where(miss, None, g.random(n) < 0.5), dtype="boolean"),
            "when": pd.to_datetime(np.where(miss, None, "2026-01-31")),
            "text_object": text,
            "text_str": pd.Series(text, dtype="str"),
            "text_string": pd.array(text, dtype="string"),
            "basis": [{"code": "x", "value": float(i)} for i in range(n)],
        },
        index=pd.Index([f"CN{100 + i}B" for i in range(n)], name="patent_id"),
    )


def _variants(frame: pd.DataFrame) -> list[tuple[str, pd.DataFrame, bool]]:
    """(what, a frame to compare with ``frame``, whether it holds the same values to the last bit)."""
    out: list[tuple[str, pd.DataFrame, bool]] = [
        ("itself", frame, True),
        ("shallow copy", frame.copy(deep=False), True),
        ("deep copy", frame.copy(deep=True), True),
        ("columns reordered", frame[list(reversed(frame.columns))], False),
        ("a row less", frame.iloc[1:], False),
    ]
    for col in frame.columns:
        s = frame[col]
        changed = frame.copy(deep=True)
        if isinstance(s.dtype, np.dtype) and s.dtype.kind == "f":
            v = s.to_numpy(dtype=float).copy()
            finite = np.flatnonzero(np.isfinite(v))
            if finite.size:
                v[finite[0]] = np.nextafter(v[finite[0]], np.inf)  # one bit
            else:
                v[0] = 1.0
            changed[col] = v
        elif s.dtype.kind == "b":
            changed[col] = ~s.fillna(False).astype(s.dtype)
        elif s.dtype.kind in "iu":
            changed[col] = s.fillna(0) + 1
        elif s.dtype.kind == "M":
            changed[col] = s.fillna(pd.Timestamp("2000-01-01")) + pd.Timedelta(days=1)
        else:
            cells = s.astype(object).tolist()
            cells[0] = "other" if cells[0] != "other" else "else"
            changed[col] = pd.Series(cells, index=frame.index, dtype=s.dtype)
        out.append((f"{col} changed", changed, False))
    zero = frame.copy(deep=True)
    fcol = next(c for c in frame.columns if frame[c].dtype.kind == "f")
    v = zero[fcol].to_numpy(dtype=float).copy()
    v[0] = -0.0 if v[0] == 0.0 and not np.signbit(v[0]) else 0.0
    zero[fcol] = v
    out.append(
        ("a zero's sign", zero, bool(np.array_equal(v.view(np.int64), frame[fcol].to_numpy().view(np.int64))))
    )
    return out


@pytest.mark.parametrize("which", ["demo", "mixed"])
def test_same_frame_answers_as_the_reference(demo_frame, which):
    frame = demo_frame[1] if which == "demo" else _mixed(17)
    for what, other, same in _variants(frame):
        got = stress_module._same_frame(frame, other)
        assert got == same, what
        assert got == _same_frame_reference(frame, other), what


def test_column_arrays_are_the_columns(demo_frame):
    for frame in (demo_frame[1], _mixed(9), _mixed(0)):
        fast, ref = column_arrays(frame), column_arrays_reference(frame)
        assert len(fast) == len(ref) == frame.shape[1]
        for col, x, y in zip(frame.columns, fast, ref, strict=True):
            assert same_values(x, y), col
            assert x.dtype == frame[col].dtype, col


def test_same_values_is_bitwise_and_typed():
    a = np.array([0.0, 1.0, np.nan])
    assert same_values(a, a.copy())
    assert not same_values(a, np.array([-0.0, 1.0, np.nan]))  # 0.0 == -0.0, but not the same bits
    assert not same_values(a, a.astype(np.float32))  # another dtype
    s = pd.array(["a", None, "b"], dtype="str")
    assert same_values(s, pd.array(["a", None, "b"], dtype="str"))
    assert not same_values(s, pd.array(["a", "", "b"], dtype="str"))
    assert not same_values(s, pd.array(["a", None, "c"], dtype="str"))
    i = pd.array([1, None, 3], dtype="Int64")
    assert same_values(i, pd.array([1, None, 3], dtype="Int64"))
    assert not same_values(i, pd.array([1, 0, 3], dtype="Int64"))  # NA is not 0
    o = np.array([{"a": 1}, pd.NA], dtype=object)
    assert not same_values(o, np.array([{"a": 1}, "x"], dtype=object))  # NA against a value: no


class _Guarded(dict):
    """A shock's context whose base-case rows may not be read (any way of reaching them raises)."""

    def __getitem__(self, key):
        if key == "base_patents":
            raise AssertionError("read base_patents")
        return super().__getitem__(key)

    def get(self, key, default=None):
        if key == "base_patents":
            raise AssertionError("read base_patents")
        return super().get(key, default)

    def __contains__(self, key):
        if key == "base_patents":
            raise AssertionError("asked for base_patents")
        return super().__contains__(key)

    def _every(self, *args, **kw):
        raise AssertionError("reached every entry")

    __iter__ = keys = values = items = copy = __reduce_ex__ = __repr__ = _every  # type: ignore[assignment]


@pytest.mark.parametrize("shock", [s for s in STRESS_SHOCKS if not s.reads_base_rows], ids=lambda s: s.name)
def test_a_shock_that_says_it_does_not_read_the_base_rows_does_not(shock, demo_frame):
    _, frame, _ = demo_frame
    ctx = _Guarded(policy=load_policy("cn-bank-standard"), base_patents=frame)
    shock.direct(frame, ctx)  # raises if it reads them


def test_the_invalidation_reads_the_base_rows_and_says_so(demo_frame):
    _, frame, _ = demo_frame
    (shock,) = [s for s in STRESS_SHOCKS if s.name == "invalidation_largest_family"]
    assert shock.reads_base_rows
    with pytest.raises(AssertionError, match="base_patents"):
        shock.direct(frame, _Guarded(policy={}, base_patents=frame))


def test_a_shock_written_elsewhere_is_taken_to_read_the_base_rows():
    shock = stress_module.StressShock("x", "x", None, lambda f, c: (f, ""), {})
    assert shock.reads_base_rows


def test_only_the_shocks_that_read_the_base_case_are_applied_again(demo_frame, engine_context):
    valued, frame, loan = demo_frame
    calls: dict[str, int] = {}

    def counting(shock):
        def direct(f, c):
            calls[shock.name] = calls.get(shock.name, 0) + 1
            return shock.direct(f, c)

        return replace(shock, direct=direct)

    info, ctx = engine_context(valued, loan, paths=500)
    shocks = tuple(counting(s) for s in STRESS_SHOCKS)
    _, table = assess_with_stress(frame, ctx, valuation=info, shocks=shocks)
    _, plain = assess_with_stress(frame, ctx, valuation=info)
    pd.testing.assert_frame_equal(table, plain, check_exact=True)
    # the three rate shocks are revalued; of the direct ones only the invalidation reads the base case's
    # collateral values; its key (the family it invalidates) is the same before and after the liquidity haircut
    # here, so it is applied once
    assert calls == {"ip_market_crash": 1, "invalidation_largest_family": 1, "compensation_fund_exhausted": 1}
    # without its key it is applied again with the finished rows and compared: the same table
    keyless = tuple(replace(counting(s), base_key=None) for s in STRESS_SHOCKS)
    calls.clear()
    _, again = assess_with_stress(frame, ctx, valuation=info, shocks=keyless)
    assert calls["invalidation_largest_family"] == 2
    pd.testing.assert_frame_equal(again, plain, check_exact=True)


@pytest.mark.parametrize(("key", "times"), [(lambda f, c: "same", 1), (lambda f, c: id(c), 2)])
def test_a_shock_whose_key_moves_is_applied_again(demo_frame, engine_context, key, times):
    # base_key says what a direct shock reads of the base case's rows: the same key for the rows before and after
    # the liquidity haircut, applied once; a key that moves (here: each context dict its own), applied again
    valued, frame, loan = demo_frame
    calls = []

    def direct(f, c):
        calls.append(1)
        return f, "read the rows"

    shock = stress_module.StressShock("reader", "reads the rows", None, direct, {}, base_key=key)
    info, ctx = engine_context(valued, loan, paths=200)
    _, table = assess_with_stress(frame, ctx, valuation=info, shocks=(shock,))
    assert len(calls) == times
    assert table["shock"].tolist() == ["reader"]


def test_the_invalidation_key_is_the_family_it_invalidates(demo_frame):
    _, frame, _ = demo_frame
    (shock,) = [s for s in STRESS_SHOCKS if s.name == "invalidation_largest_family"]
    base = frame.assign(collateral_value=np.where(frame["family_id"].astype("string") == "FAM1011", 9e9, 1.0))
    ctx = {"policy": {}, "base_patents": base}
    shocked, note = shock.direct(frame, ctx)
    assert shock.base_key(frame, ctx) == "FAM1011" and "family FAM1011" in note[0]
    revoked = shocked["legal_status"].astype("string") == "revoked"
    assert revoked.sum() == (frame["family_id"].astype("string") == "FAM1011").sum() > 0


def test_engine_numbers_from_the_column_arrays_are_num(demo_frame):
    # EngineColumns.num serves float64 columns from the arrays read once per frame: the same bits and the
    # same read-only view num() gives; other columns (and absent ones) through num() itself
    from ipvalue.collateral._columns import EngineColumns
    from ipvalue.collateral._inputs import num

    frame = demo_frame[1].assign(as_text=["1.5"] * len(demo_frame[1]), as_int=np.arange(len(demo_frame[1])))
    cols = EngineColumns(frame)
    names = [c for c in frame.columns if frame[c].dtype.kind in "fiu" or c == "as_text"] + ["absent"]
    assert "value" in names and "as_int" in names
    for c in names:
        got, ref = cols.num(c), num(frame, c)
        assert got.dtype == ref.dtype == np.float64, c
        assert got.tobytes() == ref.tobytes(), c
        if frame.get(c) is not None and frame[c].dtype == np.float64:
            assert not got.flags.writeable, c


@pytest.mark.parametrize("seed", range(40))
def test_the_largest_family_is_pandas_grouped_sum_by_family_id(seed):
    # the family the invalidation shock hits: grouped by each family's number in sorted id order, the sums must be
    # pandas' own by the ids (compensated, to the bit) and the pick the same, ties to the first id in sorted order
    from ipvalue.collateral.stress import _largest_family

    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 30))
    ids = [f"CN{100 + i}" for i in range(n)]
    family = [None if rng.random() < 0.2 else f"F{int(x)}" for x in rng.integers(0, max(1, n // 3), n)]
    cv = rng.choice([0.0, 0.1, 0.2, 0.3, 1.0, 1e16, 2.0], n) * rng.choice([1.0, 0.5], n)
    if seed % 5 == 0:
        cv[:] = 0.0  # no collateral value anywhere: the most value decides
    frame = pd.DataFrame({"family_id": family, "value": rng.choice([1.0, 2.0, 0.5], n)}, index=ids)
    base = pd.DataFrame({"collateral_value": cv}, index=ids)
    fam, target = _largest_family(frame, {"base_patents": base})
    labels = np.array([f if f is not None else i for f, i in zip(family, ids, strict=True)], dtype=object)
    by = pd.Series(cv).groupby(labels).sum().sort_index()
    if not (by.to_numpy() > 0).any():
        by = pd.Series(frame["value"].to_numpy()).groupby(labels).sum().sort_index()
    assert list(fam) == list(labels)
    assert target == by.index[int(np.argmax(by.to_numpy()))]


def test_the_direct_shocks_frames_are_the_straightforward_ones():
    # the direct shocks set their columns by position on a shallow copy (and the invalidated family's status from
    # the text read in Python): the frames, dtypes included, the plain pandas construction gives
    from ipvalue.collateral.stress import (
        VALUE_COLUMNS,
        _direct_crash,
        _direct_invalidate_family,
        _largest_family,
    )
    from ipvalue.facts.columns import text_series

    portfolio, loan, as_of = load_demo()
    valued = iv.value_portfolio(portfolio, as_of=as_of, rng=0)
    frame = check_frame(valued).sort_index(kind="stable")
    frame.loc[frame.index[0], "legal_status"] = "  "  # a blank status: missing, kept missing
    base = iv.assess_collateral(valued, loan=loan, rng=0, paths=500).patents.sort_index(kind="stable")
    ctx = {"policy": load_policy("cn-bank-standard"), "base_patents": base}
    got, _ = _direct_invalidate_family(frame, dict(ctx))
    fam, target = _largest_family(frame, dict(ctx))
    hit = np.asarray(fam == target, dtype=bool)
    want = frame.copy()
    want["legal_status"] = text_series(want, "legal_status").mask(hit, "revoked")
    for c in VALUE_COLUMNS:
        if c in want.columns:
            want[c] = np.where(hit, 0.0, want[c].to_numpy(dtype=float))
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    assert hit.any() and got["legal_status"].isna().iloc[0]
    got, _ = _direct_crash(frame, dict(ctx))
    q = frame["quality_score"].to_numpy(dtype=float)
    q = np.where(np.isnan(q), frame["quality_legal"].to_numpy(dtype=float), q)
    q = np.where(np.isnan(q), 50.0, q)
    factor = 1.0 - np.minimum(1.0, 2.0 * float(ctx["policy"]["crash_price_drop"]) * (1.0 - q / 100.0))
    want = frame.copy()
    for c in VALUE_COLUMNS:
        if c in want.columns:
            want[c] = want[c].to_numpy(dtype=float) * factor
    pd.testing.assert_frame_equal(got, want, check_exact=True)
