"""The page helpers made public when the workbench app was split: the reason codes of a row, the end of a loan."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from ipvalue.web.pagedata import haircut_rows, ineligible_reasons, loan_end


def test_reason_codes_come_from_a_list_or_a_separated_text():
    assert ineligible_reasons({"ineligible_reasons": "lapsed; pledged,  disputed"}) == [
        "lapsed",
        "pledged",
        "disputed",
    ]
    assert ineligible_reasons({"ineligible_reasons": [" lapsed ", "", "pledged"]}) == ["lapsed", "pledged"]
    assert ineligible_reasons({"ineligible_reasons": None}) == []
    assert ineligible_reasons({}) == []


def test_a_loan_ends_its_tenor_after_its_start_else_after_the_valuation_date():
    # 3 years of 365.25 days = 1095.75 days, rounded to 1096
    assert loan_end({"start_date": "2026-01-01", "as_of": "2025-06-30", "tenor_years": 3}) == dt.date(
        2029, 1, 1
    )
    assert loan_end({"as_of": "2026-01-01", "tenor_years": 0.5}) == dt.date(2026, 7, 3)  # 182.625 -> 183 days
    assert loan_end({"start_date": "2026-01-01"}) is None
    assert loan_end({"tenor_years": 3}) is None


@given(st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2100, 1, 1)), st.floats(0, 30))
def test_a_longer_tenor_never_ends_earlier(start, tenor):
    r = {"start_date": start.isoformat()}
    assert loan_end({**r, "tenor_years": tenor}) <= loan_end({**r, "tenor_years": tenor + 0.5})
    assert loan_end({**r, "tenor_years": tenor}) >= start


def test_haircut_rows_come_in_the_engines_order_whatever_the_keys_order():
    # a record read back from the store has its keys sorted; the patent page lists the components as the engine
    # composes them, each with its own explanation part
    from ipvalue.collateral.haircut import COMPONENTS

    p = {f"haircut_{c}": 0.01 * (i + 1) for i, c in enumerate(COMPONENTS)}
    p["haircut_zz_overlay"] = 0.5
    p["haircut_total"] = 0.9
    p["haircut_explanation"] = "; ".join(f"{c} {i + 1}%" for i, c in enumerate(COMPONENTS)) + "; closing note"
    for keys in (sorted(p), sorted(p, reverse=True)):
        rows, rest = haircut_rows({k: p[k] for k in keys}, "en")
        assert [r["component"] for r in rows] == [*COMPONENTS, "zz_overlay"]
        assert [r["rate"] for r in rows[:-1]] == [0.01 * (i + 1) for i in range(len(COMPONENTS))]
        assert [r["explanation"] for r in rows[:-1]] == [f"{c} {i + 1}%" for i, c in enumerate(COMPONENTS)]
        assert rest == ["closing note"]
