"""Re-assessing a pledged portfolio must not count the lender's own pledge against it."""

import datetime as dt

import pytest

import ipvalue as iv
from ipvalue.demo import load_demo
from ipvalue.monitor import monitor_portfolio, refresh_facts


@pytest.fixture(scope="module")
def pledged_demo():
    frame, loan, as_of = load_demo()
    a = iv.assess_collateral(iv.value_portfolio(frame, as_of=as_of, rng=0), loan=loan, rng=0)
    return frame, loan, as_of, a


@pytest.mark.slow
def test_own_pledge_keeps_coverage(pledged_demo):
    frame, loan, as_of, a = pledged_demo
    current = frame.copy()
    current["pledged"] = True  # the bank's pledge is now registered on every patent

    def reassess(facts):
        portfolio = refresh_facts(a.patents, facts)
        again = iv.assess_collateral(iv.value_portfolio(portfolio, as_of=as_of, rng=0), loan=loan, rng=0)
        return again.summary["coverage_ratio"]

    def coverage_events(facts):
        report = monitor_portfolio(
            a.patents,
            as_of=as_of,
            fetch=lambda ids: facts.loc[ids],
            reassess=reassess,
            coverage_trigger=loan.coverage_trigger,
        )
        return sorted((e.code, e.patent_id) for e in report.events if e.code.startswith("COVERAGE"))

    assert reassess(current) == pytest.approx(a.summary["coverage_ratio"], rel=1e-12)
    # the registration of the bank's own pledge raises no coverage event that the unchanged facts do not raise
    # (the demo loan may sit below its trigger from the start: that alarm is real, and the same in both runs)
    assert coverage_events(current) == coverage_events(frame)
    # without the own-pledge rule every collateral patent would be ALREADY_PLEDGED and coverage would drop to 0
    naive = refresh_facts(a.patents, current, own_pledge=False)
    worse = iv.assess_collateral(iv.value_portfolio(naive, as_of=as_of, rng=0), loan=loan, rng=0)
    assert worse.summary["collateral_value"] == 0.0


def test_refresh_takes_other_changes(pledged_demo):
    frame, _, _, a = pledged_demo
    current = frame.copy()
    pid = frame.index[0]
    current.loc[pid, "legal_status"] = "lapsed"
    current.loc[pid, "fees_paid_through"] = dt.datetime(2025, 1, 1)
    out = refresh_facts(a.patents, current)
    assert out.loc[pid, "legal_status"] == "lapsed"
    assert out.loc[pid, "fees_paid_through"].year == 2025
