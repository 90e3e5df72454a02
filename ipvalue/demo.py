"""The bundled demo: a FICTIONAL Chinese technology SME, its patents and a loan it asks for.

The company 示例智能装备科技有限公司 and all its patents are invented (see ``examples/make_demo_portfolio.py``).
"""

from __future__ import annotations

import datetime as dt
from importlib import resources
from importlib.resources.abc import Traversable

import pandas as pd

from ipvalue.collateral._assessment import Loan, RiskSharing

__all__ = ["DEMO_AS_OF", "DEMO_BORROWER", "demo_loan", "demo_portfolio_path", "load_demo"]

#: the date the demo data were made for; tests and examples pass it explicitly
DEMO_AS_OF = dt.date(2026, 6, 30)
DEMO_BORROWER = "示例智能装备科技有限公司"


def demo_portfolio_path() -> Traversable:
    """Path of the packaged demo portfolio CSV (Chinese CNIPA-style headers)."""
    return resources.files("ipvalue") / "data" / "demo_portfolio.csv"


def demo_loan() -> Loan:
    """The demo loan: CNY 2.5 million over 3 years, with a government compensation fund and an insurer sharing losses.

    The risk-sharing split (fund 30 %, insurer 20 %) is a choice made for the demo, in the range of the
    municipal risk-sharing schemes described in ``docs/methodology/collateral.md`` (government compensation funds
    and insurers sharing the loss of IP pledge loans).
    """
    return Loan(
        amount=2_500_000.0,
        currency="CNY",
        tenor_years=3.0,
        probability_of_default=0.03,
        borrower=DEMO_BORROWER,
        start_date=DEMO_AS_OF,
        coverage_trigger=1.0,
        interest_rate=0.045,
        risk_sharing=RiskSharing(
            compensation_fund=0.30, compensation_fund_cap=750_000.0, insurer=0.20, insurer_cap=500_000.0
        ),
    )


def load_demo() -> tuple[pd.DataFrame, Loan, dt.date]:
    """The demo portfolio frame, the demo loan and the ``as_of`` date the data were made for."""
    from ipvalue.facts.io import read_portfolio

    with resources.as_file(demo_portfolio_path()) as path:
        frame = read_portfolio(path)
    return frame, demo_loan(), DEMO_AS_OF
