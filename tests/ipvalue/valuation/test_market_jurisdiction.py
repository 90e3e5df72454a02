"""Market approach: the jurisdiction of a comparable, read, used in selection and in the territory factor.

Hand-worked: three CN and three US sales of the same technology; a CN subject meets the CN ones only (unless
``jurisdiction_match="any"``), a transaction without a jurisdiction meets every subject, and valuer-given market
scales per jurisdiction multiply the territory factor by m(subject) / m(comparable).
"""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ipvalue as iv
from ipvalue.facts.comparables import ComparablesError
from ipvalue.valuation.methods.market import MarketInputError, market_approach

AS_OF = "2024-06-30"
FLAT_CPI = (np.array([2000.0, 2030.0]), np.array([1.0, 1.0]))


def comps(rows: list[dict]) -> pd.DataFrame:
    base = {"date": "2024-01-01", "ipc": "G06F 17/30", "剩余寿命": 10, "kind": "assignment"}
    return iv.read_comparables(pd.DataFrame([{**base, **r} for r in rows]))


def subjects(*jurisdictions: str | None) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "cpc": ["G06F 17/10"] * len(jurisdictions),
            "remaining_life_years": 10.0,
            "discount_rate": 0.10,
            "jurisdiction": list(jurisdictions),
        },
        index=pd.Index([f"P{i}" for i in range(len(jurisdictions))], name="patent_id"),
    )


def book() -> pd.DataFrame:
    cn = [{"id": f"CN{i}", "price": 100.0, "法域": "中国"} for i in range(3)]
    us = [{"id": f"US{i}", "price": 300.0, "法域": "us"} for i in range(3)]
    return comps(cn + us)


def run(subj, c, **kw):
    kw.setdefault("price_index_table", FLAT_CPI)
    return market_approach(subj, c, as_of=AS_OF, **kw)


def test_read_jurisdiction_from_chinese_name_or_code():
    c = book()
    assert c["jurisdiction"].tolist() == ["CN"] * 3 + ["US"] * 3
    assert c.attrs["ipvalue_read"]["header_mapping"]["法域"] == "jurisdiction"


def test_jurisdiction_not_a_code_is_named_by_row_and_field():
    with pytest.raises(ComparablesError) as err:
        comps([{"id": "X1", "price": 1.0, "jurisdiction": "Atlantis"}])
    assert err.value.problems[0].field == "jurisdiction"
    assert "row 1, comparable X1" in str(err.value)


def test_same_jurisdiction_selects_only_its_own_transactions():
    r = run(subjects("CN", "US"), book())
    assert r.value["P0"] == pytest.approx(100.0)
    assert r.value["P1"] == pytest.approx(300.0)
    used = r.comparables.groupby("patent_id")["jurisdiction"].agg(set)
    assert used["P0"] == {"CN"} and used["P1"] == {"US"}


def test_any_jurisdiction_mixes_them():
    r = run(subjects("CN"), book(), jurisdiction_match="any")
    assert r.value["P0"] == pytest.approx(200.0)  # equal weights: (3 x 100 + 3 x 300) / 6
    assert r.parameters["jurisdiction_match"] == "any"


def test_a_subject_or_comparable_without_jurisdiction_matches_any():
    r = run(subjects(None, "EP"), book())
    assert r.value["P0"] == pytest.approx(200.0)  # no jurisdiction: all six
    assert np.isnan(r.value["P1"])  # EP: none of its own, the CN and US sales are not comparables
    loose = comps([{"id": f"L{i}", "price": 50.0} for i in range(3)])
    assert run(subjects("EP"), loose).value["P0"] == pytest.approx(50.0)


def test_jurisdiction_factor_is_the_market_scale_ratio():
    # US market scale 1.5 against CN 1.0: a US sale of 300 is worth 300 x 1.0 / 1.5 = 200 for a CN patent
    r = run(subjects("CN"), book(), jurisdiction_match="any", jurisdiction_factors={"CN": 1.0, "us": 1.5})
    f = r.comparables.set_index("comparable_id")["factor_territory"]
    assert f["CN0"] == pytest.approx(1.0)
    assert f["US0"] == pytest.approx(1.0 / 1.5)
    assert r.value["P0"] == pytest.approx(150.0)  # (3 x 100 + 3 x 200) / 6
    # a jurisdiction without a scale leaves the factor at 1
    only_us = run(subjects("CN"), book(), jurisdiction_match="any", jurisdiction_factors={"US": 1.5})
    assert only_us.comparables["factor_territory"].tolist() == pytest.approx([1.0] * 6)


def test_bad_jurisdiction_settings_are_named():
    with pytest.raises(MarketInputError) as err:
        run(subjects("CN"), book(), jurisdiction_match="nearby")
    assert err.value.problems[0].field == "jurisdiction_match"
    with pytest.raises(MarketInputError) as err:
        run(subjects("CN"), book(), jurisdiction_factors={"CN": 0.0})
    assert err.value.problems[0].field == "jurisdiction_factors"


@settings(max_examples=25, deadline=None)
@given(st.lists(st.sampled_from(["CN", "US", None]), min_size=1, max_size=6), st.integers(0, 10**6))
def test_order_of_subjects_does_not_change_a_value(js, seed):
    subj = subjects(*js)
    c = book()
    a = run(subj, c).value
    perm = np.random.default_rng(seed).permutation(len(subj))
    b = run(subj.iloc[perm], c.iloc[::-1]).value
    pd.testing.assert_series_equal(a, b.reindex(a.index))


def test_value_portfolio_matches_the_portfolio_jurisdiction():
    # the portfolio's jurisdiction selects: a CN patent meets the CN sales only
    pf = pd.DataFrame(
        {
            "patent_id": ["CN112345678A", "US11234567B2"],
            "jurisdiction": ["CN", "US"],
            "patent_type": "invention",
            "cpc": ["G06F 17/10", "G06F 17/10"],
            "filing_date": ["2020-01-01", "2020-01-01"],
            "grant_date": ["2022-01-01", "2022-01-01"],
        }
    )
    out = iv.value_portfolio(pf, {"draws": 0}, as_of=AS_OF, comparables=book()).set_index("patent_id")
    ratio = out.loc["US11234567B2", "value_market"] / out.loc["CN112345678A", "value_market"]
    # 300 against 100 (the life factors may differ a little: each office's own term rules set the remaining life)
    assert ratio == pytest.approx(3.0, rel=0.01)
