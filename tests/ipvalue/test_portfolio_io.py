import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ipvalue as iv
from ipvalue.facts.io import PortfolioError, parse_date
from ipvalue.facts.numbers import cn_check_digit
from ipvalue.facts.patent import COLUMN_KINDS


def zl(body: str) -> str:
    return f"ZL{body}.{cn_check_digit(body)}"


MESSY_CSV = f"""专利号,专利名称,专利类型,申请日,授权公告日,专利权人,法律状态,权利要求数,被引用次数,是否质押,备注
{zl("201510123456")},一种方法,发明,2015/6/1,2017年3月2日,甲公司,有效,10,3,否,核心专利
 CN 105123457 B ,一种装置,发明专利,20150602,2017-03-03,甲公司；乙大学,未缴年费终止,8,,是,
{zl("201620123456")},一种结构,实用新型,2016.1.5,,甲公司,审中,,0,,
"US 11,646,472 B2",Electronic device,utility patent,2021-01-07,2023-05-09,Acme Corp,Active,20,5,no,
"""


@pytest.fixture
def messy(tmp_path):
    p = tmp_path / "messy.csv"
    p.write_text(MESSY_CSV, encoding="utf-8")
    return p


def test_messy_chinese_file(messy):
    df = iv.read_portfolio(messy)
    assert list(df.index) == [
        "CN201510123456.1",
        "CN105123457B",
        f"CN201620123456.{cn_check_digit('201620123456')}",
        "US11646472B2",
    ]
    assert df.loc["CN201510123456.1", "filing_date"] == pd.Timestamp("2015-06-01")
    assert df.loc["CN201510123456.1", "grant_date"] == pd.Timestamp("2017-03-02")
    assert df.loc["CN105123457B", "filing_date"] == pd.Timestamp("2015-06-02")
    assert df.loc["CN105123457B", "legal_status"] == "lapsed"
    assert df.loc["CN105123457B", "owner"] == "甲公司;乙大学"
    assert bool(df.loc["CN105123457B", "pledged"]) is True
    um = df.iloc[2]
    assert um["patent_type"] == "utility_model" and um["legal_status"] == "pending"
    assert pd.isna(um["grant_date"]) and pd.isna(um["claims"])
    assert df.loc["US11646472B2", "legal_status"] == "granted"
    assert df.loc["US11646472B2", "patent_type"] == "invention"
    assert df.loc["US11646472B2", "jurisdiction"] == "US"
    # the unmapped column is kept and reported
    assert "备注" in df.columns and df.attrs["ipvalue_read"]["unmapped_columns"] == ["备注"]
    assert df["claims"].dtype == "Int64"


def test_duplicates_after_normalisation_are_errors(tmp_path):
    p = tmp_path / "dup.csv"
    p.write_text("patent number,title\nCN 105123456 B,a\nCN105123456B,b\n", encoding="utf-8")
    with pytest.raises(PortfolioError) as err:
        iv.read_portfolio(p)
    (issue,) = err.value.issues
    assert issue.row == 2 and issue.field == "patent_id" and "duplicate of row 1" in issue.message


def test_every_problem_named_and_collect_keeps_rows(tmp_path):
    p = tmp_path / "bad.csv"
    p.write_text(
        "专利号,专利类型,申请日,授权公告日,法律状态,权利要求数\n"
        "CN105123456B,发明,2015-06-01,2014-01-01,有效,5\n"  # grant before filing
        "CN105123457B,专利?,2015-06-01,,有效,5\n"  # unknown type
        "CN105123458B,发明,2015-13-01,,有效,5\n"  # impossible date
        "CN105123459B,发明,2015-06-01,,火星,5\n"  # unknown status
        "CN105123460B,发明,2015-06-01,,有效,-2\n"  # negative count
        "ZL201510123456.7,发明,2015-06-01,,有效,5\n"  # wrong check digit
        "CN105123461B,发明,2015-06-01,2016-06-01,有效,7\n",  # fine
        encoding="utf-8",
    )
    with pytest.raises(PortfolioError) as err:
        iv.read_portfolio(p)
    got = {(i.row, i.field) for i in err.value.issues}
    assert got == {
        (1, "grant_date"),
        (2, "patent_type"),
        (3, "filing_date"),
        (4, "legal_status"),
        (5, "claims"),
        (6, "patent_id"),
    }
    assert "CN105123456B" in str(err.value)
    df = iv.read_portfolio(p, errors="collect")
    assert len(df) == 7  # no row lost
    assert df.loc["CN105123461B", "input_errors"] == ""
    assert "claims" in df.loc["CN105123460B", "input_errors"]
    assert "ZL201510123456.7" in df.index


def test_type_contradicting_the_number_quotes_its_own_row():
    # the type digit of a CN application number (CNIPA standard ZC 0006-2003): 1 invention, 2 utility model
    frame = pd.DataFrame(
        {
            "patent_id": ["CN201810136750.X", "CN202420252124.8", "CN201810162852.9"],
            "patent_type": ["utility_model", "utility_model", "design"],
        }
    )
    with pytest.raises(PortfolioError) as err:
        iv.read_portfolio(frame)
    got = [(i.row, i.patent, i.field, i.message) for i in err.value.issues]
    assert got == [
        (
            1,
            "CN201810136750.X",
            "patent_type",
            "'utility_model' contradicts the number, which says 'invention'",
        ),
        (3, "CN201810162852.9", "patent_type", "'design' contradicts the number, which says 'invention'"),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2015-06-01", dt.date(2015, 6, 1)),
        ("2015/6/1", dt.date(2015, 6, 1)),
        ("20150601", dt.date(2015, 6, 1)),
        ("2015年6月1日", dt.date(2015, 6, 1)),
        ("2015.06.01", dt.date(2015, 6, 1)),
        ("", None),
        ("2015-06-01 00:00:00", dt.date(2015, 6, 1)),
    ],
)
def test_parse_date_forms(text, expected):
    assert parse_date(text) == expected


@pytest.mark.parametrize("text", ["2015-02-30", "01/06/2015", "June 2015", "2015年13月1日"])
def test_parse_date_rejects(text):
    with pytest.raises(ValueError):
        parse_date(text)


def test_round_trips_xlsx_json_patents(tmp_path, messy):
    df = iv.read_portfolio(messy)
    x = tmp_path / "p.xlsx"
    df.drop(columns=["备注"]).to_excel(x, index=False)
    dx = iv.read_portfolio(x)
    assert list(dx.index) == list(df.index)
    assert (dx["filing_date"] == df["filing_date"]).all()
    j = tmp_path / "p.json"
    j.write_text(
        json.dumps({"patents": [{"patent_id": "EP2400812A1", "filing_date": "2011-06-17", "title": "x"}]})
    )
    dj = iv.read_portfolio(j)
    assert dj.index[0] == "EP2400812A1" and dj["filing_date"].iloc[0] == pd.Timestamp("2011-06-17")
    pats = [iv.Patent(patent_id="US 11,646,472 B2", filing_date=dt.date(2021, 1, 7), claims=20)]
    dp = iv.read_portfolio(pats)
    assert dp.loc["US11646472B2", "claims"] == 20
    again = iv.read_portfolio(df)  # an already-read frame reads back to the same facts
    for col in ("patent_type", "legal_status", "filing_date", "grant_date", "owner", "claims", "pledged"):
        pd.testing.assert_series_equal(again[col], df[col], check_names=False)


def test_percent_and_thousands(tmp_path):
    p = tmp_path / "e.csv"
    p.write_text('patent_id,revenue,royalty_rate\nCN105123456B,"1,200,000",4.5%\n', encoding="utf-8")
    df = iv.read_portfolio(p)
    assert df["revenue"].iloc[0] == 1_200_000.0
    assert np.isclose(df["royalty_rate"].iloc[0], 0.045)


def test_rate_out_of_range_named(tmp_path):
    p = tmp_path / "e.csv"
    p.write_text("patent_id,royalty_rate\nCN105123456B,4.5\n", encoding="utf-8")
    with pytest.raises(PortfolioError, match="CN105123456B.*royalty_rate"):
        iv.read_portfolio(p)


def test_gb18030_file(tmp_path):
    p = tmp_path / "gbk.csv"
    p.write_bytes("专利号,专利名称\nCN105123456B,一种方法\n".encode("gb18030"))
    assert iv.read_portfolio(p)["title"].iloc[0] == "一种方法"


def test_demo_portfolio_is_valid_and_matches_generator(tmp_path):
    from ipvalue.demo import load_demo

    frame, loan, as_of = load_demo()
    assert 30 <= len(frame) <= 60
    assert set(frame["jurisdiction"]) == {"CN", "US", "EP"}
    assert {"granted", "lapsed", "pending"} <= set(frame["legal_status"])
    assert frame["pledged"].any() and frame["invalidation_pending"].any()
    assert frame["group"].nunique() == 3
    assert loan.borrower == "示例智能装备科技有限公司"
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    assert (root / "examples" / "demo_portfolio.csv").read_bytes() == (
        root / "ipvalue" / "data" / "demo_portfolio.csv"
    ).read_bytes()


def test_list_columns_from_json_lists_and_owner_commas(tmp_path):
    j = tmp_path / "p.json"
    j.write_text(
        json.dumps(
            [
                {
                    "patent_id": "US11646472B2",
                    "owner": ["Samsung Electronics Co., Ltd.", "Acme"],
                    "cpc": ["G06F1/16"],
                },
                {"patent_id": "EP2400812A1", "owner": "Nokia Oyj, Espoo; Acme", "cpc": "H04W4/00, H04L1/00"},
            ]
        ),
        encoding="utf-8",
    )
    df = iv.read_portfolio(j)
    assert df.loc["US11646472B2", "owner"] == "Samsung Electronics Co., Ltd.;Acme"
    assert df.loc["US11646472B2", "cpc"] == "G06F1/16"
    assert df.loc["EP2400812A1", "owner"] == "Nokia Oyj, Espoo;Acme"
    assert df.loc["EP2400812A1", "cpc"] == "H04W4/00;H04L1/00"


# --- the reader's one-step paths for ISO days and whole numbers, against its general path -----------------------

_days = st.one_of(
    st.dates(dt.date(1600, 1, 1), dt.date(2400, 12, 31)).map(str),  # ISO days, some outside pandas' range
    st.sampled_from(
        ["2019-02-30", "2019-13-01", "0000-01-01", "2019/6/1", "2019-06", "2019-06-01T00:00", ""]
    ),
    st.just(float("nan")),
    st.none(),
)
_counts = st.one_of(
    st.integers(-5, 10**6),
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.sampled_from([2.0**53, 2.0**60, -0.0, 0.5]),
    st.none(),
)


def _rows(days: list, counts: list) -> list[dict]:
    rows = []
    for i, (d, c) in enumerate(zip(days, counts, strict=False)):
        body = f"2019100{i:05d}"
        row = {"patent_id": f"CN{body}.{cn_check_digit(body)}", "filing_date": "2019-01-02", "claims": 20}
        if d is not None:
            row["grant_date"] = d
        if c is not None:
            row["independent_claims"] = c
        rows.append(row)
    return rows


def _read(rows: list[dict]) -> tuple[str, object]:
    try:
        df = iv.read_portfolio(rows, errors="collect")
    except Exception as exc:  # noqa: BLE001 - compared as they are: the same error either way
        return "error", (type(exc).__name__, str(exc))
    cells = [(str(c), str(df[c].dtype), [repr(x) for x in df[c].tolist()]) for c in df.columns]
    return "frame", (cells, list(df.index), df.attrs)


@settings(max_examples=40, deadline=None)
@given(st.lists(_days, min_size=1, max_size=6), st.lists(_counts, min_size=1, max_size=6))
def test_one_step_paths_read_what_the_general_path_reads(days, counts):
    rows = _rows(days, counts)
    fast = _read(rows)
    with (
        pytest.MonkeyPatch.context() as mp
    ):  # the general path alone: parse_date per value, pandas per column
        mp.setattr("ipvalue.facts.io._iso_days", lambda values: None)
        mp.setattr("ipvalue.facts.io._whole_counts", lambda num: None)
        mp.setattr("ipvalue.facts.io.read_json_rows", lambda rows: None)
        general = _read(rows)
    assert fast == general


@pytest.mark.parametrize(
    ("filing", "grant", "field", "shown"),
    [
        (
            "1500-01-01",
            "2018-03-02",
            "filing_date",
            "1500-01-01",
        ),  # the general reader (an ISO day out of range)
        ("2015-06-01", "3018-03-02", "grant_date", "3018-03-02"),
        ("2015/06/01", "2318年3月2日", "grant_date", "2318-03-02"),  # other spellings: the same check
    ],
)
def test_a_date_no_frame_can_hold_is_a_problem_naming_patent_and_field(tmp_path, filing, grant, field, shown):
    # pandas holds dates from 1677-09-22 to 2262-04-11; a year like 3018 in a bank's file is a typing error and
    # must not end the read in pandas' OutOfBoundsDatetime
    p = tmp_path / "far.csv"
    p.write_text(
        f"patent_id,filing_date,grant_date\nCN105123456B,{filing},{grant}\nCN105123457B,2015-06-01,2017-01-01\n",
        encoding="utf-8",
    )
    with pytest.raises(PortfolioError) as err:
        iv.read_portfolio(p)
    (issue,) = err.value.issues
    assert (issue.row, issue.patent, issue.field) == (1, "CN105123456B", field)
    assert shown in issue.message and "outside" in issue.message
    kept = iv.read_portfolio(p, errors="collect")
    assert list(kept.index) == ["CN105123456B", "CN105123457B"]  # no row lost
    assert kept.loc["CN105123457B", "grant_date"] == pd.Timestamp("2017-01-01")


# --- JSON rows read in one pass over lists (read_json_rows), against the general reader --------------------------


def _strict(df: pd.DataFrame) -> tuple:
    """Everything a frame holds, each value with its type (None and nan told apart)."""
    cells = [
        (str(c), str(df[c].dtype), [(type(x).__name__, repr(x)) for x in df[c].tolist()]) for c in df.columns
    ]
    return cells, repr(df.index), str(df.index.dtype), repr(df.columns), df.attrs


def _read_both(rows: list[dict], errors: str) -> tuple[tuple, tuple]:
    def read() -> tuple:
        try:
            return "frame", _strict(iv.read_portfolio(rows, errors=errors))
        except Exception as exc:  # noqa: BLE001 - compared as they are: the same error either way
            return "error", (type(exc).__name__, str(exc))

    one_pass = read()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("ipvalue.facts.io.read_json_rows", lambda rows: None)
        general = read()
    return one_pass, general


_NUMBERS = [
    "CN201810136750.X",
    "US9876543B2",
    "EP2400812A1",
    zl("201620123456"),
    zl("201930123456"),
    "CN105123457B",
]
_PLAIN: dict[str, list] = {
    "str": ["一种方法", " Acme ", "x", "  ", ""],
    "list": ["甲公司;乙大学", "Acme Co., Ltd.; B", "G06F1/16, H04L1/00", " ; ", "US、EP"],
    "date": ["2015-06-01", "2017-03-02", "2030-01-01", "1990-12-31"],
    "int": [0, 3, 12, 2.0, 40],
    "float": [0.05, 1, 0.0, 3e7, -0.5, 0.9, 2.5],
    "bool": [True, False],
}
_ODD: dict[str, list] = {  # values the one-pass reader leaves to the general one, or that make a problem
    "str": [5, None, float("nan"), True],
    "list": [["x", " y "], None, 3],
    "date": ["2019-02-30", "2015/6/1", "3018-01-01", "", None, float("nan"), 20150601, "2015-6-1"],
    "int": [-1, 2.5, 2**60, True, "7", None, float("nan"), float("inf")],
    "float": [float("inf"), "5%", True, None, float("nan"), 2.0, -1.0],
    "bool": ["是", 1, None, "no"],
}
_SPECIAL = {
    "patent_type": ["invention", "发明", "utility_model", "design", "外观设计", " Utility Model ", "  "],
    "legal_status": ["granted", "有效", "lapsed", "pending", "", "未缴年费终止"],
    "jurisdiction": ["cn", " US ", "", "EP"],
}
_ODD_SPECIAL = {"patent_type": ["bogus", 3], "legal_status": ["bogus"], "jurisdiction": [3, None]}
# the columns the reader checks against each other or fills from the numbers, drawn more often than the rest
_CHECKED = [
    "filing_date",
    "priority_date",
    "grant_date",
    "expiry_date",
    "claims",
    "independent_claims",
    "term_adjustment_days",
    "patent_type",
    "legal_status",
    "jurisdiction",
    "revenue",
    "royalty_rate",
    "volatility",
]
_OTHERS = [c for c in COLUMN_KINDS if c != "patent_id" and c not in _CHECKED]


@st.composite
def _json_rows(draw: st.DrawFn, odd: bool) -> list[dict]:
    columns = draw(st.lists(st.sampled_from(_CHECKED), max_size=8, unique=True))
    columns += draw(st.lists(st.sampled_from(_OTHERS), max_size=8, unique=True))
    n = draw(st.integers(1, 5))
    numbers = draw(st.permutations(_NUMBERS))[:n]
    if odd and draw(st.booleans()):
        numbers[-1] = draw(st.sampled_from([numbers[0], "  ", "XYZ", 123]))
    rows = []
    for pid in numbers:
        row = {"patent_id": pid}
        for col in columns:
            if draw(st.integers(0, 3)) == 0:
                continue  # absent from this row
            pool = _SPECIAL.get(col) or _PLAIN[COLUMN_KINDS[col]]
            if odd and draw(st.integers(0, 3)) == 0:
                pool = _ODD_SPECIAL.get(col) or _ODD[COLUMN_KINDS[col]]
            row[col] = draw(st.sampled_from(pool))
        rows.append(row)
    if odd and draw(st.integers(0, 4)) == 0:  # headers: an alias, an alias doubling a column, an unknown one
        extra = draw(st.sampled_from([("专利名称", "一种装置"), ("备注", "x"), ("application_number", "x")]))
        rows[0][extra[0]] = extra[1]
    if odd and draw(st.integers(0, 4)) == 0:
        rows = [{("专利号" if k == "patent_id" else k): v for k, v in r.items()} for r in rows]
    return rows


@settings(max_examples=150, deadline=None)
@given(_json_rows(odd=False), st.sampled_from(["raise", "collect"]))
def test_json_rows_read_in_one_pass_as_the_general_reader_reads_them(rows, errors):
    one_pass, general = _read_both(rows, errors)
    assert one_pass == general


@settings(max_examples=150, deadline=None)
@given(_json_rows(odd=True), st.sampled_from(["raise", "collect"]))
def test_json_rows_with_odd_values_or_headers_read_as_the_general_reader_reads_them(rows, errors):
    one_pass, general = _read_both(rows, errors)
    assert one_pass == general


def test_json_rows_of_a_service_request_take_the_one_pass_reader():
    # the rows a 50-patent request carries (the demo book as JSON) are plain: read in one pass, the same frame
    from ipvalue.demo import load_demo
    from ipvalue.facts.io import read_json_rows
    from ipvalue.report.assessment_json import frame_records

    frame = load_demo()[0]
    cols = [c for c in COLUMN_KINDS if c in frame.columns and c not in ("source", "fetched_at")]
    rows = [{k: v for k, v in r.items() if v is not None} for r in frame_records(frame[cols])]
    assert read_json_rows(rows) is not None
    one_pass, general = _read_both(rows, "raise")
    assert one_pass == general and one_pass[0] == "frame"
    # a row with a problem is left to the general reader, which names it
    bad = [*rows[:-1], {**rows[-1], "claims": -3}]
    assert read_json_rows(bad) is None
    with pytest.raises(PortfolioError, match="negative count"):
        iv.read_portfolio(bad)
