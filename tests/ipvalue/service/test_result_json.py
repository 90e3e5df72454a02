"""``frame_records`` (the rows of every result the service returns and stores) gives, column by column, what
``to_jsonable`` gives value by value over ``DataFrame.to_dict("records")``: same keys, values and types."""

from __future__ import annotations

import datetime as dt
import json
import math

import numpy as np
import pandas as pd
from _helpers import assessment_body
from hypothesis import given, settings
from hypothesis import strategies as st

from ipvalue.report.assessment_json import frame_records, to_jsonable
from ipvalue.service.pipeline import Pipeline, patents_payload_to_rows


def reference(df: pd.DataFrame) -> list[dict]:
    """The value-by-value form (what frame_records did before it went column by column)."""
    if df.index.name is not None and df.index.name not in df.columns:
        df = df.reset_index()
    else:
        df = df.reset_index(drop=True)
    return [{str(k): to_jsonable(v) for k, v in rec.items()} for rec in df.to_dict("records")]


def same(a: list[dict], b: list[dict]) -> bool:
    """Equal, and of the same Python types value by value (1 is not 1.0, True is not 1)."""
    if len(a) != len(b):
        return False
    for ra, rb in zip(a, b, strict=True):
        if list(ra) != list(rb):
            return False
        for k in ra:
            x, y = ra[k], rb[k]
            if type(x) is not type(y) or (x != y and not (isinstance(x, float) and math.isnan(x))):
                return False
    return True


floats = st.floats(allow_nan=True, allow_infinity=True, width=64)
floats32 = st.floats(allow_nan=True, allow_infinity=True, width=32)
ints = st.integers(-(2**62), 2**62)
texts = st.one_of(st.none(), st.text(max_size=5))
dates = st.one_of(
    st.none(), st.datetimes(dt.datetime(1990, 1, 1), dt.datetime(2100, 1, 1)), st.dates().map(pd.Timestamp)
)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_column_by_column_is_value_by_value(data):
    n = data.draw(st.integers(0, 6))
    df = pd.DataFrame(
        {
            "f": pd.Series(data.draw(st.lists(floats, min_size=n, max_size=n)), dtype=float),
            "f32": pd.Series(data.draw(st.lists(floats32, min_size=n, max_size=n)), dtype="float32"),
            "i": pd.Series(data.draw(st.lists(ints, min_size=n, max_size=n)), dtype="int64"),
            "u8": pd.Series(data.draw(st.lists(st.integers(0, 255), min_size=n, max_size=n)), dtype="uint8"),
            "I": pd.array(
                data.draw(st.lists(st.one_of(st.none(), ints), min_size=n, max_size=n)), dtype="Int64"
            ),
            "b": pd.Series(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool),
            "s": pd.Series(data.draw(st.lists(texts, min_size=n, max_size=n)), dtype="str"),
            "o": pd.Series(
                data.draw(st.lists(st.one_of(texts, floats, ints), min_size=n, max_size=n)), dtype=object
            ),
            "d": pd.to_datetime(pd.Series(data.draw(st.lists(dates, min_size=n, max_size=n)), dtype=object)),
            7: pd.Series(range(n), dtype="int64"),
            # more columns of the numpy dtypes taken out of a frame together (one 2-D array per dtype)
            "f2": pd.Series(data.draw(st.lists(floats, min_size=n, max_size=n)), dtype=float),
            "b2": pd.Series(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool),
            "o2": pd.Series(
                data.draw(
                    st.lists(
                        st.one_of(texts, dates, st.dictionaries(st.text(max_size=2), floats)),
                        min_size=n,
                        max_size=n,
                    )
                ),
                dtype=object,
            ),
            "d2": pd.to_datetime(pd.Series(data.draw(st.lists(dates, min_size=n, max_size=n)), dtype=object)),
            "td": pd.to_timedelta(pd.Series(range(n), dtype="int64"), unit="h"),
        }
    )
    if data.draw(st.booleans()):  # a repeated column name: the columns are taken by position
        df = pd.concat([df, df[["f", "o"]]], axis=1)
    if data.draw(st.booleans()):
        df.index = pd.Index([f"P{i}" for i in range(n)], name="patent_id")
    assert same(frame_records(df), reference(df))


def test_a_real_assessment_is_the_same_both_ways():
    body = assessment_body(4, seed=5)
    pipe = Pipeline()
    frame = pipe.read(patents_payload_to_rows(body["patents"]))
    valued = pipe.value(frame, None, as_of=dt.date(2026, 1, 1), rng=5)
    assert same(frame_records(valued), reference(valued))
    assert same(frame_records(frame), reference(frame))
    assert same(frame_records(pd.DataFrame(index=pd.RangeIndex(3))), [{}, {}, {}])
    assert np.isnan(valued.select_dtypes(float).to_numpy()).any()  # the missing values were exercised


def test_nested_values_take_the_plain_json_types():
    value = {
        "a": [1, 2.5, float("nan"), np.float64(3.0), {"b": np.int64(2), 3: None, "inf": float("-inf")}],
        "c": True,
        "d": np.bool_(False),
        "e": (pd.Timestamp("2024-02-29"), pd.NaT, dt.date(2020, 1, 2)),
        "f": pd.Timestamp("2024-02-29 12:30"),
        "g": [np.array([1.5, np.nan])],
    }
    out = to_jsonable(value)
    assert out == {
        "a": [1, 2.5, None, 3.0, {"b": 2, "3": None, "inf": None}],
        "c": True,
        "d": False,
        "e": ["2024-02-29", None, "2020-01-02"],
        "f": "2024-02-29T12:30:00",
        "g": [[1.5, None]],
    }
    assert [type(x) for x in out["a"][:4]] == [int, float, type(None), float]
    assert type(out["a"][4]["b"]) is int and type(out["d"]) is bool


def test_a_created_result_reads_back_the_same_over_http(server, keys):
    """The answer to a POST (its output spliced from the canonical text) is the stored record read back by GET,
    and both are the output as stored (hash included)."""
    import sqlite3

    import httpx

    from ipvalue.service.store import result_hash

    h = {"Authorization": f"Bearer {keys.rw}"}
    with httpx.Client(base_url=server.url, timeout=60) as c:
        for path, body in (
            ("/v1/assessments", assessment_body(3, seed=2)),
            ("/v1/valuations", {k: v for k, v in assessment_body(2).items() if k != "loan"}),
        ):
            made = c.post(path, json=body, headers=h)
            assert made.status_code == 201 and made.headers["content-type"] == "application/json"
            read = c.get(made.headers["Location"], headers=h)
            assert read.status_code == 200 and read.headers["content-type"] == "application/json"
            assert made.json() == read.json()
            with sqlite3.connect(server.db) as db:
                stored = json.loads(
                    db.execute(
                        "SELECT output_json FROM assessments WHERE id = ?", (made.json()["id"],)
                    ).fetchone()[0]
                )
            answer = made.json()
            assert {k: answer[k] for k in stored} == stored
            assert answer["output_hash"] == result_hash(stored)
            assert set(answer) - set(stored) == {
                "id",
                "status",
                "created_at",
                "links",
                "input_hash",
                "output_hash",
                "version",
                "seed",
            }
