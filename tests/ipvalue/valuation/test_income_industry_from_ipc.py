"""The income method's royalty range when ``industry`` is missing: from the IPC -> industry concordance (#14)."""

from __future__ import annotations

import pandas as pd

import ipvalue as iv
from ipvalue.facts.industry import industry_for_ipc

AS_OF = "2026-06-30"


def _book(**over: object) -> pd.DataFrame:
    base = {
        "patent_id": ["CN201910000001.9", "CN201910000002.3", "CN201910000003.8"],
        "jurisdiction": "CN",
        "patent_type": "invention",
        "filing_date": "2019-03-01",
        "grant_date": "2021-05-01",
        "legal_status": "granted",
        "cpc": ["A61K 31/00", "A61K 31/00", "G06F 17/30"],
        "industry": [None, "pharmaceutical", None],
        "revenue": 5e6,
    }
    base.update(over)
    return iv.read_portfolio(pd.DataFrame(base))


def test_missing_industry_takes_the_concordance_range():
    book = _book()
    assert industry_for_ipc(["A61K 31/00"])["royalty_industry"].tolist() == ["pharmaceutical"]
    out = iv.value_portfolio(book, {"draws": 0}, as_of=AS_OF)
    derived, given, uncovered = out.index
    # the same patent facts: the concordance's industry gives the same royalty as the industry given by hand
    assert out.loc[derived, "value_income"] == out.loc[given, "value_income"]
    note = out.loc[derived, "value_notes"]
    assert (
        "industry not given: pharmaceutical royalty range from the IPC concordance (A61K -> GB/T 4754 C27"
        in note
    )
    assert "(pharmaceutical range" in note
    assert "IPC concordance" not in out.loc[given, "value_notes"]
    # a code the partial concordance does not cover keeps the conservative default
    assert "industry not given, the 25% quantile" in out.loc[uncovered, "value_notes"]
    assert "IPC concordance" not in out.loc[uncovered, "value_notes"]


def test_a_given_royalty_rate_needs_no_industry():
    book = _book(royalty_rate=0.05)
    out = iv.value_portfolio(book, {"draws": 0}, as_of=AS_OF)
    assert not out["value_notes"].str.contains("IPC concordance").any()
    assert out["value_income"].iloc[0] == out["value_income"].iloc[1]
