"""STALE_VALUATION on the calendar: 商业银行押品管理指引 (银监发〔2017〕16号) asks for collateral to be revalued at least
once a year, read as a calendar year (``valuation_max_age_months`` 12), so the boundary falls on the same date a
year on, whatever the number of days in between."""

from __future__ import annotations

import datetime as dt

import pytest

from ipvalue.collateral import assess_collateral
from ipvalue.collateral.api import revaluation_due


@pytest.mark.parametrize(
    ("valued_on", "last_fresh_day"),
    [
        (dt.date(2023, 3, 1), dt.date(2024, 3, 1)),  # 366 days: a 29 February in between
        (dt.date(2024, 2, 29), dt.date(2025, 2, 28)),  # no 29 February a year on: the month's last day
        (dt.date(2025, 6, 30), dt.date(2026, 6, 30)),  # 365 days
    ],
)
def test_revaluation_due_is_the_same_date_a_year_on(valued_on, last_fresh_day):
    assert revaluation_due(valued_on, 12) == last_fresh_day


@pytest.mark.parametrize(
    ("valued_on", "as_of", "stale"),
    [
        (dt.date(2023, 3, 1), dt.date(2024, 3, 1), False),  # one calendar year later, 366 days: on time
        (dt.date(2023, 3, 1), dt.date(2024, 3, 2), True),
        (dt.date(2024, 2, 29), dt.date(2025, 2, 28), False),
        (dt.date(2024, 2, 29), dt.date(2025, 3, 1), True),
    ],
)
def test_stale_flag_on_the_boundary_day(make_frame, loan, valued_on, as_of, stale):
    v = make_frame(6, 2, as_of=valued_on)
    v["remaining_life_years"] = 12.0
    a = assess_collateral(v, loan=loan, as_of=as_of, paths=200, stress=False)
    assert ("STALE_VALUATION" in a.summary["flags"]) is stale
    assert a.summary["valuation_as_of"] == valued_on.isoformat()
