"""The input hash on arrays writes the same bytes as the reference (a pandas pass per column).

``input_hash`` is recorded in every valuation and assessment (``attrs["ipvalue"]["input_hash"]``, the audit's
``input_hash`` and ``output_hash``), so the fast serialisation must hash exactly what the straightforward one
does, for every kind of column a portfolio or an assessment carries.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ipvalue.facts import columns as columns_module
from ipvalue.facts.columns import input_hash, input_hash_reference


def _mixed_frame(n: int, seed: int) -> pd.DataFrame:
    g = np.random.default_rng(seed)
    miss = g.random(n) < 0.3
    ids = [f"CN{100000 + 13 * i}B" for i in g.permutation(n)]
    text = np.array([f"名称 {i} Ltd" for i in range(n)], dtype=object)
    text[miss] = None
    frame = pd.DataFrame(
        {
            "value": np.where(miss, np.nan, g.lognormal(10, 1, n)),
            "count": g.integers(0, 9, n),
            "small": g.random(n).astype(np.float32),
            "flag": g.random(n) < 0.5,
            "nullable_int": pd.array(np.where(miss, None, g.integers(0, 5, n)), dtype="Int64"),
            "nullable_bool": pd.array(np.where(miss, None, g.random(n) < 0.5), dtype="boolean"),
            "nullable_float": pd.array(np.where(miss, None, g.random(n)), dtype="Float64"),
            "when": pd.to_datetime(np.where(miss, None, "2026-01-31")),
            "when_tz": pd.to_datetime(["2026-01-31T12:00:00"] * n).tz_localize("Asia/Shanghai"),
            "text": text,
            "text_string": pd.array(text, dtype="string"),
            "text_str": pd.Series(text, dtype="str").to_numpy(),
            "basis": [{"code": "x", "value": float(i), "nested": [i, None]} for i in range(n)],
            "mixed": [
                [[1, 2], 3.5, "a", None, True, np.float64(0.1), pd.NA, np.nan][i % 8] for i in range(n)
            ],
            "category": pd.Categorical(np.where(miss, None, "a")),
            "raw": [b"bytes" if i % 2 else "text" for i in range(n)],
            "empty": [None] * n,
        },
        index=pd.Index(ids, name="patent_id"),
    )
    frame.attrs["ipvalue"] = {"as_of": "2026-06-30", "seed": 0}
    return frame


@pytest.mark.parametrize("arrow_rows", [0, None])
@pytest.mark.parametrize("n", [0, 1, 9, 40])
def test_every_column_kind_hashes_as_the_reference(n, arrow_rows, monkeypatch):
    if arrow_rows is not None:  # text joined by pyarrow however short the column
        monkeypatch.setattr(columns_module, "ARROW_TEXT_ROWS", arrow_rows)
    frame = _mixed_frame(n, seed=n)
    assert input_hash(frame) == input_hash_reference(frame)
    for col in frame.columns:  # column by column, so that a difference names its kind
        assert input_hash(frame[[col]]) == input_hash_reference(frame[[col]]), col


def test_the_hash_still_sees_every_value():
    frame = _mixed_frame(12, seed=3)
    before = input_hash(frame)
    for col, value in [("value", 1.5), ("text", "other"), ("basis", {"code": "y"}), ("flag", True)]:
        changed = frame.copy()
        cells = changed[col].astype(object).tolist()
        cells[0] = value if cells[0] != value else None
        changed[col] = pd.Series(cells, index=changed.index, dtype=object)
        assert input_hash(changed) != before, col
        assert input_hash(changed) == input_hash_reference(changed), col
    # and not the row or column order
    shuffled = frame.sample(frac=1.0, random_state=1)[list(reversed(frame.columns))]
    assert input_hash(shuffled) == before


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.none(),
            st.floats(allow_nan=True, allow_infinity=True),
            st.text(max_size=6),
            st.integers(-(2**40), 2**40),
            st.booleans(),
            st.just(pd.NA),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_an_object_column_of_anything_hashes_as_the_reference(values):
    frame = pd.DataFrame({"x": pd.Series(values, dtype=object)}, index=[f"P{i}" for i in range(len(values))])
    assert input_hash(frame) == input_hash_reference(frame)


def test_long_text_columns_hash_as_the_reference():
    # arrow-backed text is joined by pyarrow, object columns in Python (missing cells filled at once): the same
    # bytes as the reference, missing values, non-ASCII text and separators inside values included
    g = np.random.default_rng(5)
    n = 3_000
    words = np.array(["名称", "Ltd", "", "  padded ", "a\x1fb", "x;y", "ü"], dtype=object)
    text = words[g.integers(0, len(words), n)].astype(object)
    text[g.random(n) < 0.2] = None
    nan_text = text.copy()
    nan_text[g.random(n) < 0.1] = np.nan
    na_text = nan_text.copy()
    na_text[g.random(n) < 0.1] = pd.NA
    number_text = na_text.copy()
    number_text[7] = 2.5  # a number among the text: written as str(2.5)
    frame = pd.DataFrame(
        {
            "object": text,
            "object_nan": nan_text,
            "object_na": na_text,
            "object_number": number_text,
            "str": pd.Series(text, dtype="str").to_numpy(),
            "string": pd.array(text, dtype="string"),
            "string_python": pd.array(text, dtype=pd.StringDtype("python")),
            "mixed_late": np.array([*text[:-1], 7], dtype=object),  # not all text: the Python loop
        },
        index=pd.Index([f"P{i}" for i in g.permutation(n)], name="patent_id"),
    )
    for col in frame.columns:
        assert input_hash(frame[[col]]) == input_hash_reference(frame[[col]]), col


def test_patent_ids_read_as_before():
    from ipvalue.facts.columns import patent_ids

    def reference(frame: pd.DataFrame) -> list[str]:
        index = [str(i) for i in frame.index]
        if "patent_id" not in frame.columns:
            return index
        return [index[k] if pd.isna(v) else str(v) for k, v in enumerate(frame["patent_id"].tolist())]

    frames = [
        pd.DataFrame({"x": [1, 2]}, index=pd.Index(["CN1", "CN2"], dtype="str")),
        pd.DataFrame({"x": [1, 2, 3]}, index=[10, 11, 12]),
        pd.DataFrame({"patent_id": ["CN1", None, "CN3"]}, index=["a", "b", "c"]),
        pd.DataFrame({"patent_id": [1.5, np.nan, 3]}),
        pd.DataFrame({"patent_id": pd.array(["A", None], dtype="str")}),
        pd.DataFrame({"x": []}),
    ]
    for frame in frames:
        got = patent_ids(frame)
        assert got.dtype == object and got.tolist() == reference(frame)


@pytest.mark.parametrize("n", [0, 1, 34, 3_000])
def test_text_series_reads_as_the_pandas_chain(n):
    # text_series strips and blanks arrow-backed text with two arrow kernels: the same Series as
    # .astype("string").str.strip().replace("", pd.NA), whatever the column holds
    from ipvalue.facts.columns import text_series

    g = np.random.default_rng(n)
    cells = np.array(
        ["a", " b ", "", "  ", None, np.nan, "名称\u3000", "\tx\n", "\u00a0y", "x y"], dtype=object
    )
    frame = pd.DataFrame(
        {
            "object": cells[g.integers(0, len(cells), n)],
            "str": pd.Series(cells[g.integers(0, len(cells), n)], dtype="str").to_numpy(),
            "string": pd.array(cells[g.integers(0, len(cells), n)], dtype="string"),
            "python": pd.array(cells[g.integers(0, len(cells), n)], dtype=pd.StringDtype("python")),
            "number": g.random(n),
            "mixed": np.array([[1, "a ", None, 2.5, True][i % 5] for i in range(n)], dtype=object),
            "nullable": pd.array([[1, None][i % 2] for i in range(n)], dtype="Int64"),
            "empty": [None] * n,
        },
        index=pd.Index([f"P{i}" for i in range(n)], name="patent_id"),
    )
    for col in frame.columns:
        reference = frame[col].astype("string").str.strip().replace("", pd.NA)
        pd.testing.assert_series_equal(text_series(frame, col), reference, check_exact=True)
    assert text_series(frame, "absent").isna().all()


def test_repeated_patent_ids_are_named():
    from ipvalue.errors import InputError
    from ipvalue.facts.columns import check_unique_ids

    check_unique_ids(np.array(["CN1", "CN2", "CN3"], dtype=object))  # distinct text: no error
    with pytest.raises(InputError) as err:
        check_unique_ids(np.array(["CN1", "CN2", "CN1", "CN2", "CN1"], dtype=object))
    assert [p.patent for p in err.value.problems] == ["CN1", "CN2", "CN1"]  # each repeat after the first
    with pytest.raises(InputError):  # not all text: pandas' comparison (1 and 1.0 are the same id)
        check_unique_ids(np.array([1, "CN2", 1.0], dtype=object))


_SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.sampled_from([0.0, -0.0, 1.0, 0.1, 1e16, 1e-7, float("nan"), float("inf")]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(alphabet="ab'\"%{}\\\n名", max_size=4),
)
_LIST = st.one_of(
    st.lists(st.text(alphabet="AB_", max_size=3), max_size=3),
    st.lists(_SCALAR, max_size=3),
)
_PLAIN = st.one_of(_SCALAR, _LIST)


@st.composite
def _specs(draw, depth=0):
    from ipvalue.facts._reprs import Column

    n = draw(st.integers(1, 6))
    keys = draw(
        st.lists(st.text(alphabet="ab%'{", min_size=1, max_size=3), min_size=0, max_size=4, unique=True)
    )
    spec = {}
    for key in keys:
        kind = draw(st.sampled_from(["column", "same", "nested"] if depth < 2 else ["column", "same"]))
        if kind == "column":  # scalars, or lists (a column of both is left to str())
            cells = st.one_of(
                st.lists(_SCALAR, min_size=n, max_size=n), st.lists(_LIST, min_size=n, max_size=n)
            )
            spec[key] = Column(draw(cells))
        elif kind == "same":
            spec[key] = draw(_PLAIN)
        else:
            sub, m = draw(_specs(depth + 1))
            spec[key] = sub if m == n else {}
    return spec, n


def _rows(spec, n):
    from ipvalue.facts._reprs import Column

    def row(s, i):
        return {
            k: (v.values[i] if isinstance(v, Column) else row(v, i) if type(v) is dict else v)
            for k, v in s.items()
        }

    return [row(spec, i) for i in range(n)]


@settings(max_examples=150, deadline=None)
@given(_specs())
def test_spec_texts_write_what_str_writes(spec_n):
    # the dicts' text written from the columns they are made of: str() of each dict, character for character
    # (zeros of both signs, 1 / 1.0 / True, NaN, quotes, % and braces in keys and values)
    from ipvalue.facts._reprs import spec_texts

    spec, n = spec_n
    assert spec_texts(spec, n) == [str(d) for d in _rows(spec, n)]


def test_spec_texts_refuse_what_they_cannot_write():
    from ipvalue.facts._reprs import Column, spec_texts

    assert spec_texts({"x": Column([np.float64(0.5)])}, 1) is None  # numpy's float64 writes np.float64(0.5)
    assert spec_texts({"x": Column([(1, 2)])}, 1) is None
    assert spec_texts({"x": Column([[{"a": 1}]])}, 1) is None
    assert spec_texts({1: Column([0.5])}, 1) is None
    assert spec_texts({"x": Column([0.5, 0.25])}, 3) is None  # a column of the wrong length


def test_known_texts_are_used_for_the_very_objects_only():
    cells = [{"code": "x", "value": float(i)} for i in range(5)]
    frame = pd.DataFrame({"basis": cells, "v": np.arange(5.0)}, index=[f"P{i}" for i in (3, 1, 4, 0, 2)])
    texts = [str(c) for c in cells]
    want = input_hash_reference(frame)
    assert input_hash(frame, texts={"basis": (cells, texts)}) == want
    # written from the texts given (wrong texts change the hash: they are used)...
    assert input_hash(frame, texts={"basis": (cells, ["?"] * 5)}) != want
    # ...but only for the very objects: equal copies, or a cell not among them, are written by str()
    copies = [dict(c) for c in cells]
    assert input_hash(frame, texts={"basis": (copies, ["?"] * 5)}) == want
    assert input_hash(frame, texts={"basis": (cells[:4], ["?"] * 4)}) == want
    assert input_hash(frame.iloc[::-1], texts={"basis": (cells, texts)}) == want
