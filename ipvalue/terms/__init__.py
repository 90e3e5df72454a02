"""Statutory terms, expiry, remaining life and renewal-fee schedules per office (US, EP, CN, JP, KR).

Rules and fee tables live in ``ipvalue/data`` (``terms_rules.json``, ``fees_cnipa_annual.json``,
``fees_uspto_maintenance.json``, ``fees_epo_renewal.json``), each with its sources and dates, read on first use.
The method is written up in ``docs/methodology/terms.md``.
"""

from ipvalue.terms._expiry import (
    TermRule,
    TermRules,
    expiry_date,
    expiry_dates,
    last_day_in_force,
    us_earliest_filing_date,
)
from ipvalue.terms._fees import (
    SCHEDULE_COLUMNS,
    fee_tables_sources,
    fees_paid_to_date,
    renewal_fees_due,
    renewal_schedule,
)
from ipvalue.terms._inputs import DEAD_STATUSES, TermError
from ipvalue.terms._life import LIFE_COLUMNS, life_columns, life_table, remaining_life

__all__ = [
    "expiry_date",
    "expiry_dates",
    "last_day_in_force",
    "remaining_life",
    "life_table",
    "life_columns",
    "renewal_schedule",
    "renewal_fees_due",
    "fees_paid_to_date",
    "fee_tables_sources",
    "us_earliest_filing_date",
    "TermRules",
    "TermRule",
    "TermError",
    "DEAD_STATUSES",
    "LIFE_COLUMNS",
    "SCHEDULE_COLUMNS",
]
