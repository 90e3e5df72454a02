"""iv.read_comparables: Chinese and English headers, canonical values, every row problem named by row and field."""

import pandas as pd
import pytest

import ipvalue as iv
from ipvalue.facts.comparables import ComparablesError


def chinese_table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "案例编号": ["A", "B", "C"],
            "成交价格": ["1,000,000", None, "800000"],
            "提成率": [None, "3.5%", None],
            "交易日期": ["2022-03-01", "2023/6/1", "2021年5月1日"],
            "分类号": ["G06F 17/30", "G06F 16/00；H04L 9/00", "H04W 4/00"],
            "剩余经济寿命": [8, 10, 7],
            "交易方式": ["转让", "独占许可", "司法拍卖"],
            "许可地域": ["全国", "省内", None],
            "币种": ["cny", "CNY", None],
            "备注": ["x", "y", "z"],
            "经办人": ["甲", "乙", "丙"],
        }
    )


def test_chinese_headers_and_values_map_to_canonical():
    c = iv.read_comparables(chinese_table())
    assert list(c.index) == ["A", "B", "C"]
    assert c.loc["A", "price"] == 1_000_000.0
    assert c.loc["B", "royalty_rate"] == pytest.approx(0.035)
    assert c["transaction_date"].dt.strftime("%Y-%m-%d").tolist() == [
        "2022-03-01",
        "2023-06-01",
        "2021-05-01",
    ]
    assert c["transaction_kind"].tolist() == ["assignment", "exclusive_licence", "judicial_auction"]
    assert c["territory"].tolist() == ["national", "regional", "national"]
    assert c.loc["B", "ipc"] == "G06F 16/00;H04L 9/00"
    assert c.loc["B", "royalty_base"] == "revenue"
    assert c.loc["A", "currency"] == "CNY"
    # a column nothing maps is kept and reported
    assert "经办人" in c.columns and c.attrs["ipvalue_read"]["unmapped_columns"] == ["经办人"]


def test_english_headers_and_defaults(tmp_path):
    p = tmp_path / "c.csv"
    p.write_text(
        "Deal ID,Royalty Rate,Date,CPC,Kind\nL1,0.04,2020-01-01,A61K 31/00,non-exclusive licence\n",
        encoding="utf-8",
    )
    c = iv.read_comparables(p)
    assert c.loc["L1", "transaction_kind"] == "non_exclusive_licence"
    assert c.loc["L1", "conditions_factor"] == 1.0 and c.loc["L1", "scale_factor"] == 1.0


def test_every_row_problem_named_by_row_and_field():
    t = chinese_table()
    t.loc[0, "提成率"] = "2%"  # both price and rate
    t.loc[1, "交易日期"] = "2023-02-30"  # impossible date
    t.loc[2, "交易方式"] = "赠与"  # unknown kind
    t.loc[2, "分类号"] = None
    with pytest.raises(ComparablesError) as e:
        iv.read_comparables(t)
    got = {(p.patent, p.field) for p in e.value.problems}
    assert {("A", "royalty_rate"), ("B", "transaction_date"), ("C", "transaction_kind"), ("C", "ipc")} <= got
    assert "row 2, comparable B, field transaction_date" in str(e.value)
    assert isinstance(e.value, iv.InputError)


def test_collect_keeps_every_row_with_its_problems():
    t = chinese_table()
    t.loc[0, "成交价格"] = "-5"
    c = iv.read_comparables(t, errors="collect")
    assert len(c) == 3
    assert "price" in c.loc["A", "input_errors"] and c.loc["B", "input_errors"] == ""


def test_duplicate_ids_and_missing_price_named():
    t = pd.DataFrame(
        {"id": ["X", "X"], "price": [None, 10], "date": ["2020-01-01"] * 2, "ipc": ["G06F 1/00"] * 2}
    )
    with pytest.raises(ComparablesError) as e:
        iv.read_comparables(t)
    fields = [(p.patent, p.field) for p in e.value.problems]
    assert ("X", "price") in fields and ("X", "comparable_id") in fields
