"""IPC hierarchy keys and the IPC -> 国民经济行业分类 concordance (bundled partial table)."""

import numpy as np
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


def _industry_for_ipc_reference(codes, table):
    """industry_for_ipc as first written: the lookup built per call, NaN turned into None at the end."""
    from ipvalue.facts.industry import ipc_levels

    lut = {
        str(r.ipc_prefix): (r.ipc_prefix, r.industry_code, r.industry_label, r.royalty_industry, r.basis)
        for r in table.drop_duplicates("ipc_prefix").itertuples()
    }
    levels = ipc_levels(codes)
    joined = (levels["group"] + "|" + levels["subclass"] + "|" + levels["class"]).to_numpy(dtype=object)
    inv, uniq = pd.factorize(pd.Series(joined, dtype=object))
    empty = (None, None, None, None, None)
    found = [next((lut[p] for p in u.split("|") if p and p in lut), empty) for u in uniq]
    rows = np.array([*found, empty], dtype=object).reshape(-1, 5)[np.where(inv < 0, len(uniq), inv)]
    cols = ["ipc_prefix", "industry_code", "industry_label", "royalty_industry", "basis"]
    out = pd.DataFrame(rows, columns=cols, index=levels.index, dtype=object)
    return out.where(out.notna(), None)


def test_industry_for_ipc_as_the_reference():
    # the lookup kept for the bundled table and the columns framed as they are (the fast path) against the
    # reference, on the bundled table and on a given one with missing cells
    from ipvalue.facts.industry import concordance, industry_for_ipc

    table = concordance()
    prefixes = table["ipc_prefix"].astype(str).tolist()
    rng = np.random.default_rng(3)
    codes = [
        None if i % 11 == 0 else f"{prefixes[i % len(prefixes)]}{'' if i % 3 else ' 1/00'};G06F 1/00"
        for i in rng.integers(0, 1000, 300)
    ] + ["H99Z 1/00", "", "not a code"]
    series = pd.Series(codes, dtype=object, index=pd.RangeIndex(5, 5 + len(codes)))
    given = table.copy()
    given.loc[given.index[::4], "royalty_industry"] = np.nan
    for tbl, arg in ((table, None), (given, given)):
        got = industry_for_ipc(series, table=arg)
        want = _industry_for_ipc_reference(series, tbl)
        pd.testing.assert_frame_equal(got, want)
        assert got["industry_code"].notna().sum() > 100
