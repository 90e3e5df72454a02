"""IPC hierarchy keys and the IPC -> 国民经济行业分类 concordance (bundled partial table)."""

import pandas as pd

from ipvalue.facts.industry import (
    concordance,
    concordance_info,
    industry_for_ipc,
    ipc_levels,
    load_concordance,
)


def test_levels_of_the_usual_code_forms():
    got = ipc_levels(["G06F 17/30", "G06F0017300000", "G06F17/30;H04L 9/00", "H04W", "A61", "", None]).values
    assert got.tolist() == [
        ["G06F17", "G06F", "G06", "G"],
        ["G06F17", "G06F", "G06", "G"],
        ["G06F17", "G06F", "G06", "G"],
        ["", "H04W", "H04", "H"],
        ["", "", "A61", "A"],
        ["", "", "", ""],
        ["", "", "", ""],
    ]


def test_bundled_table_says_what_it_is():
    info = concordance_info()
    assert "NOT THE CNIPA TABLE" in info["status"]
    assert "2018" in info["intended_source"]
    t = concordance()
    assert t["ipc_prefix"].is_unique
    assert str(len(t)) in info["coverage"]
    assert set(t["industry_code"].str[0]) <= set("ACI")


def test_longest_prefix_and_not_found():
    got = industry_for_ipc(
        pd.Series(["A61K 31/00", "A24B 1/00", "G06F 17/30", "B62D 1/00", None], index=list("abcde"))
    )
    assert got["industry_code"].tolist() == ["C27", "C16", None, "C36", None]
    assert got["royalty_industry"].tolist() == ["pharmaceutical", "consumer_daily", None, "automotive", None]
    assert list(got.index) == list("abcde")


def test_a_loaded_table_replaces_the_bundled_one(tmp_path):
    p = tmp_path / "cnipa.csv"
    p.write_text(
        "ipc_prefix,industry_code,industry_label\nG06F 17,I6510,软件开发\nG06F,C3911,计算机整机制造\n"
    )
    got = industry_for_ipc(["G06F 17/30", "G06F 1/00"], table=load_concordance(p))
    assert got["industry_code"].tolist() == ["I6510", "C3911"]
