"""The engine's columns read once and reused across shocks give what a fresh read gives, to the last bit.

The fast path of the stress shocks (:class:`EngineColumns` with ``like=`` the base case, the per-patent pass on
arrays, :func:`shock_numbers` without the tables) against the straightforward path in the same run: every
column read anew from the shocked frame, the patent rows and the liquidation table assembled
(:func:`prepare_chunk` and :func:`finish_chunks`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ipvalue.collateral import CollateralContext, load_policy
from ipvalue.collateral._columns import EngineColumns, normalize_owner_series
from ipvalue.collateral._inputs import check_frame
from ipvalue.collateral.eligibility import (
    check_eligibility,
    eligibility_arrays,
    eligibility_frame,
    normalize_owner,
)
from ipvalue.collateral.haircut import bucket_sums_many
from ipvalue.collateral.kernel import (
    chunk_arrays,
    finish_chunks,
    life_elapsed_years,
    liquidation_setup,
    prepare_chunk,
    shock_numbers,
)
from ipvalue.collateral.liquidation import liquidation_partial_sums

AS_OF = dt.date(2026, 6, 30)  # the date conftest.make_valued builds for


def _messy(make_frame, n: int = 40, seed: int = 2) -> pd.DataFrame:
    """A valued frame with co-owners, missing offices / classes / families, two currencies and text flags."""
    v = make_frame(n, seed=seed)
    g = np.random.default_rng(seed)
    v["owner"] = np.where(g.random(n) < 0.3, v["owner"] + "；Other Co., Limited", v["owner"])
    v.loc[v.index[:2], "owner"] = None
    v["jurisdiction"] = np.where(g.random(n) < 0.3, None, "CN")
    v["cpc"] = np.where(g.random(n) < 0.2, None, v["cpc"])
    v["family_id"] = np.where(g.random(n) < 0.2, None, v["family_id"])
    v["group"] = np.where(g.random(n) < 0.4, None, v["group"])
    v["currency"] = np.where(g.random(n) < 0.2, "usd", "CNY")
    v["in_litigation"] = np.where(g.random(n) < 0.2, "是", "否")
    v["legal_status"] = np.where(g.random(n) < 0.1, "lapsed", "granted")
    return v


def _shocked(frame: pd.DataFrame) -> pd.DataFrame:
    """What a shock does to a frame: values scaled, one family revoked, one owner and one class changed."""
    out = frame.copy()
    out["value"] = out["value"] * 0.7
    hit = out["family_id"].eq(out["family_id"].dropna().iloc[0]).to_numpy()
    out["legal_status"] = np.where(hit, "revoked", out["legal_status"])
    return out


def _ctx(paths: int = 400, **kw) -> CollateralContext:
    return CollateralContext(
        loan=kw.pop("loan"),
        policy=load_policy("cn-bank-standard"),
        as_of=AS_OF,
        seed=0,
        paths=paths,
        fx={"USD": 7.1},
        **kw,
    )


def _assert_same(a, b, where: str = "") -> None:
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            _assert_same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, np.ndarray):
        np.testing.assert_array_equal(a, b, err_msg=where)
        assert a.dtype == b.dtype, where
    else:
        assert a == b or (a != a and b != b), where


def test_reused_columns_equal_a_fresh_read(make_frame, loan):
    base_frame = check_frame(_messy(make_frame)).sort_index(kind="stable")
    ctx = _ctx(loan=loan)
    base = EngineColumns(base_frame)
    chunk_arrays(base, ctx)  # derives everything once
    base_elig = eligibility_arrays(base, ctx.loan, ctx.policy, as_of=ctx.as_of, reasons=False)
    shocked = _shocked(base_frame)
    reused = EngineColumns(shocked, like=base)
    fresh = EngineColumns(shocked)
    got, ref = chunk_arrays(reused, ctx), chunk_arrays(fresh, ctx)
    _assert_same(got.elig, ref.elig, "elig")
    _assert_same(
        {k: v for k, v in got.hc.items() if k != "haircut_basis"},
        {k: v for k, v in ref.hc.items() if k != "haircut_basis"},
        "hc",
    )
    assert got.hc["haircut_basis"] == ref.hc["haircut_basis"]
    _assert_same(got.sums, ref.sums, "sums")
    for f in ("ids", "value", "volatility", "remaining_life", "hazard", "crash_drop", "package"):
        np.testing.assert_array_equal(getattr(got.pool, f), getattr(ref.pool, f), err_msg=f)
    # unchanged text was taken from the base case, the changed status derived anew (and it moved)
    assert reused.owners(loan.borrower) is base.owners(loan.borrower)
    assert reused.technology_class() is base.technology_class()
    assert reused.status() is not base.status()
    assert reused.status()["revoked"].any() and not base.status()["revoked"].any()
    # a changed text column is not reused
    other = shocked.copy()
    other["owner"] = "Somebody Else Ltd"
    again = EngineColumns(other, like=base)
    assert again.owners(loan.borrower) is not base.owners(loan.borrower)
    assert not again.owners(loan.borrower)["hit"].any()
    # the eligibility checks that read neither value nor life: taken from the base case where their sources are
    # unchanged (values only moved), derived anew where one changed (the owner), each as a fresh read gives them
    values_only = base_frame.assign(value=base_frame["value"] * 0.5)
    for frame, shared in ((values_only, True), (other, False)):
        cols = EngineColumns(frame, like=base)
        got = eligibility_arrays(cols, ctx.loan, ctx.policy, as_of=ctx.as_of, reasons=True)
        want = eligibility_arrays(EngineColumns(frame), ctx.loan, ctx.policy, as_of=ctx.as_of, reasons=True)
        _assert_same(got, want, "elig")
        assert (got["checks"]["OWNER_MISMATCH"] is base_elig["checks"]["OWNER_MISMATCH"]) == shared


def test_eligibility_arrays_give_check_eligibility(make_frame, loan):
    valued = _messy(make_frame)
    table = check_eligibility(valued, loan, "cn-bank-standard", as_of=AS_OF)
    out = eligibility_arrays(
        EngineColumns(check_frame(valued)), loan, load_policy("cn-bank-standard"), as_of=AS_OF
    )
    pd.testing.assert_frame_equal(eligibility_frame(out, table.index), table, check_exact=True)
    # the reasons are what fails: co-owners and a missing owner and a lapse each show
    reasons = ";".join(table["ineligible_reasons"].tolist())
    assert "OWNER_UNKNOWN" in reasons and "LAPSED" in reasons
    assert (table["eligible"] == (table["ineligible_reasons"] == "")).all()


@pytest.mark.parametrize("elapsed_days", [0, 200])
def test_shock_numbers_equal_the_full_pass(make_frame, loan, elapsed_days):
    frame = check_frame(_messy(make_frame, n=36, seed=5)).sort_index(kind="stable")
    valuation_as_of = AS_OF - pd.Timedelta(days=elapsed_days).to_pytimedelta() if elapsed_days else None
    ctx = _ctx(loan=loan, valuation_as_of=valuation_as_of)
    base = chunk_arrays(EngineColumns(frame), ctx)
    shocked = _shocked(frame)
    for c in (ctx, dataclasses.replace(ctx, obsolescence_shift=0.2, crash_probability=1.0)):
        setup = liquidation_setup(c)
        # straightforward: read everything anew, the patent rows and tables assembled
        prepared = prepare_chunk(shocked, c, checked=True)
        full = finish_chunks(
            [prepared.with_partials(liquidation_partial_sums(prepared.pool, setup))], c, setup=setup
        )
        # fast: the base case's columns reused, numbers only
        cols = EngineColumns(shocked, like=base.cols, life_elapsed_years=life_elapsed_years(c))
        arrays = chunk_arrays(cols, c, rows=False)
        assert arrays.hc["haircut_basis"] is None
        fast = shock_numbers(arrays, liquidation_partial_sums(arrays.pool, setup), c, setup=setup)
        assert fast.keys() == full.numbers.keys()
        for k, v in full.numbers.items():
            assert fast[k] == v or (v != v and fast[k] != fast[k]), k
        assert full.numbers["collateral_value"] > 0  # something is pledged


@pytest.mark.parametrize("n", [1, 7, 300])
def test_bucket_sums_on_the_shock_axis_equal_each_pool_alone(n):
    g = np.random.default_rng(n)
    codes = {
        "few": g.integers(0, 3, n),  # large buckets: long compensated sums
        "many": g.integers(0, max(1, n // 2), n),
    }
    codes = {d: pd.factorize(c, sort=True)[0] for d, c in codes.items()}
    # values of very different sizes, and zeros (patents outside the pool), so that rounding shows
    pools = [np.where(g.random(n) < 0.3, 0.0, g.lognormal(12, 3, n)) for _ in range(5)]
    together = bucket_sums_many(pools, codes)
    for pool, sums in zip(pools, together, strict=True):
        for d, c in codes.items():
            alone = pd.Series(pool).groupby(c).sum().to_numpy()
            np.testing.assert_array_equal(sums[d], alone)
            assert sums[d].flags.c_contiguous
    assert bucket_sums_many([], codes) == []


def test_owners_as_the_pandas_chain_reads_them(make_frame, loan):
    """Owner counts and matches on arrays equal the straightforward pandas chain (explode, strip, normalise)."""
    owners = [
        loan.borrower,
        f" {loan.borrower} ；; Other Co., Limited ;",  # full-width separator, blanks, a co-owner
        ";;",  # only separators: no owner
        "  ",  # blank
        None,
        "ＡＣＭＥ　Ｃｏｒｐｏｒａｔｉｏｎ;acme corp",  # full-width letters: both normalise to the same name
        "深圳市示例科技有限责任公司",  # the borrower with the longer company suffix
        "Someone Else",
    ]
    frame = make_frame(len(owners))
    frame["owner"] = owners
    frame = check_frame(frame)
    for borrower in (loan.borrower, "Acme Corporation", None):
        got = EngineColumns(frame).owners(borrower)
        # the reference: the chain the engine ran before it read columns once
        text = frame["owner"].astype("string").str.strip().replace("", pd.NA)
        names = text.str.replace("；", ";", regex=False).str.split(";").explode()
        names = names.str.strip().replace("", pd.NA).dropna()
        count = names.groupby(level=0).size().reindex(frame.index, fill_value=0).to_numpy()
        np.testing.assert_array_equal(got["count"], count)
        if borrower is None:
            assert got["hit"] is None
            continue
        target = normalize_owner(borrower)
        hit = (normalize_owner_series(names) == target).groupby(level=0).any()
        hit = hit.reindex(frame.index, fill_value=False).to_numpy(dtype=bool)
        np.testing.assert_array_equal(got["hit"], hit)
        assert hit.any() and not hit.all()
    assert count.tolist() == [1, 2, 0, 0, 0, 2, 1, 1]


# --- the text read in Python where pandas' string methods would be called: the same values ---------------------

#: text with what trips string handling: whitespace of every kind at the ends, full-width forms, ligatures,
#: special casing (ß, ǅ), combining marks, RTL and CJK letters, separators
_TEXT = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8", exclude_categories=("Cs",)),
        st.sampled_from(list(" \t\n\x0b\x0c\r\x1c\x1f\x85\xa0\u2003\u3000;；_-.,ßǅﬁⅨＡ有限公司Limited")),
    ),
    max_size=12,
)
_CELL = st.one_of(_TEXT, st.none(), st.just(float("nan")), st.just(pd.NA))


@settings(max_examples=300, deadline=None)
@given(st.lists(_CELL, min_size=1, max_size=15), st.sampled_from(["object", "str", "string"]))
def test_text_values_are_text_series_values(cells, dtype):
    from ipvalue.facts.columns import text_series, text_values

    frame = pd.DataFrame({"t": pd.Series(cells, dtype=object)})
    if dtype != "object":
        frame["t"] = frame["t"].astype(dtype)
    got = text_values(frame, "t")
    want = text_series(frame, "t").to_numpy(dtype=object, na_value=None)
    assert got.dtype == object and got.shape == want.shape
    assert got.tolist() == want.tolist()
    assert [type(x) for x in got.tolist()] == [type(x) for x in want.tolist()]


def test_text_values_of_other_types_are_pandas_text():
    from ipvalue.facts.columns import text_series, text_values

    frame = pd.DataFrame({"t": pd.Series([" a ", 7, 2.5, None, np.float64("nan"), b"x"], dtype=object)})
    assert (
        text_values(frame, "t").tolist()
        == text_series(frame, "t").to_numpy(dtype=object, na_value=None).tolist()
    )
    assert text_values(frame, "absent").tolist() == [None] * len(frame)


@settings(max_examples=400, deadline=None)
@given(st.lists(_TEXT, min_size=1, max_size=8), st.booleans())
def test_an_owner_name_reduced_in_python_is_pandas_reduction(names, ascii_only):
    from ipvalue.collateral._columns import normalize_owner_text

    if ascii_only:  # an all-ASCII array takes arrow's RE2 in pandas: the same as Python's re on ASCII
        names = [n.encode("ascii", "ignore").decode() for n in names]
    want = normalize_owner_series(pd.Series(names, dtype=object)).tolist()
    assert [normalize_owner_text(n) for n in names] == want


# make_frame is a factory (a new frame per call): nothing carries over between examples
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.one_of(
            st.none(),
            st.sampled_from(["B25J8/02", " g06f 17/30 ; H04L", "a61k；C07D", "  ", "x", ";", "ß12", "Ⅸab/1"]),
            _TEXT,
        ),
        min_size=1,
        max_size=10,
    ),
    st.lists(
        st.one_of(st.none(), st.sampled_from(["cn", " Us ", "ep", "", "ß", "ǅx"]), _TEXT),
        min_size=10,
        max_size=10,
    ),
    st.lists(
        st.one_of(st.none(), st.sampled_from(["cny", " usd", "EUR", "", "ß"]), _TEXT),
        min_size=10,
        max_size=10,
    ),
)
def test_classes_offices_and_currencies_read_in_python_are_pandas_reads(make_frame, cpc, office, currency):
    from ipvalue.collateral._columns import technology_classes
    from ipvalue.facts.columns import text_series

    n = len(cpc)
    frame = make_frame(n)
    frame["cpc"], frame["jurisdiction"], frame["currency"] = cpc, office[:n], currency[:n]
    cols = EngineColumns(frame)
    assert cols.technology_class().tolist() == technology_classes(frame).to_numpy(dtype=object).tolist()
    want_ccy = text_series(frame, "currency").str.upper().fillna("CNY").to_numpy(dtype=object)
    assert cols.currency("CNY").tolist() == want_ccy.tolist()
    offices = ("CN", "US", "EP", "SS", "ǄX")
    got = cols.office_accepted(offices)
    want = text_series(frame, "jurisdiction").str.upper()
    want = want.fillna(pd.Series(frame.index, index=frame.index, dtype="string").str[:2].str.upper())
    want = np.array(
        [v is not None and v in set(offices) for v in want.to_numpy(dtype=object, na_value=None).tolist()]
    )
    np.testing.assert_array_equal(got, want)


def test_python_strip_is_arrows_trim_for_every_code_point():
    # text_values strips with str.strip where text_series strips with arrow's utf8_trim_whitespace: every code point
    # (surrogates aside), at both ends of a text, is stripped by both or by neither
    import pyarrow as pa
    import pyarrow.compute as pc

    chars = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    texts = [c + "a" + c for c in chars]
    trimmed = pc.utf8_trim_whitespace(pa.array(texts)).to_pylist()
    assert [t.strip() for t in texts] == trimmed
    assert sum(len(t) == 1 for t in trimmed) == 29  # the 29 code points of Python's str.isspace


def test_long_text_columns_take_arrows_route_with_the_same_values(make_frame):
    # from ARROW_TEXT_ROWS rows on the text is read through arrow (faster there): the same values as the short read
    from ipvalue.facts.columns import ARROW_TEXT_ROWS, text_series, text_values

    n = ARROW_TEXT_ROWS + 7
    cells = pd.Series(
        [f"  cn{i % 5}\t" if i % 3 else (None if i % 2 else "  ") for i in range(n)], dtype=object
    )
    frame = pd.DataFrame({"t": cells})
    want = text_series(frame, "t").to_numpy(dtype=object, na_value=None).tolist()
    assert text_values(frame, "t").tolist() == want
    assert text_values(frame.iloc[:50], "t").tolist() == want[:50]
    long = make_frame(n)
    long["currency"] = cells.where(cells.isna(), "cny").to_numpy()
    cols = EngineColumns(long)
    want_ccy = text_series(long, "currency").str.upper().fillna("USD").to_numpy(dtype=object)
    assert cols.currency("USD").tolist() == want_ccy.tolist()
