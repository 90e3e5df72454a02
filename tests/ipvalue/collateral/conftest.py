"""Synthetic valued portfolios for the collateral tests (value_portfolio is not needed to test the engine)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from ipvalue.collateral import CollateralContext, Loan, RiskSharing, load_policy

AS_OF = dt.date(2026, 6, 30)
BORROWER = "深圳市示例科技有限公司"


def make_valued(n: int = 12, seed: int = 1, *, as_of: dt.date = AS_OF) -> pd.DataFrame:
    """A valued frame: facts, valuation columns and attrs as value_portfolio documents them."""
    r = np.random.default_rng(seed)
    ids = [f"CN{110000000 + 7919 * i}B" for i in range(n)]
    value = r.lognormal(np.log(2_000_000), 0.6, n).round(0)
    spread = r.uniform(1.5, 3.0, n)
    df = (
        pd.DataFrame(
            {
                "patent_id": ids,
                "jurisdiction": "CN",
                "patent_type": np.where(np.arange(n) % 4 == 3, "utility_model", "invention"),
                "title": [f"Device {i}" for i in range(n)],
                "owner": BORROWER,
                "legal_status": "granted",
                "fees_paid_through": pd.Timestamp(as_of) + pd.Timedelta(days=200),
                "family_id": [f"F{i // 3}" for i in range(n)],
                "cpc": np.where(np.arange(n) % 2 == 0, "H04L 9/32;G06F 21/00", "G06N 3/08"),
                "group": np.where(np.arange(n) % 3 == 0, "router", "camera"),
                "pledged": False,
                "invalidation_pending": False,
                "in_litigation": False,
                "remaining_life_years": r.uniform(6.0, 17.0, n).round(2),
                "quality_legal": r.uniform(40, 95, n).round(1),
                "quality_score": r.uniform(40, 90, n).round(1),
                "value": value,
                "value_p05": (value / spread).round(0),
                "value_p50": value,
                "value_p95": (value * spread).round(0),
                "currency": "CNY",
            }
        )
        .set_index("patent_id", drop=False)
        .rename_axis(index="patent_id")
    )
    df.attrs["ipvalue"] = {"as_of": as_of.isoformat(), "seed": 0, "version": "test", "input_hash": "x"}
    return df


@pytest.fixture
def make_frame():
    """The factory itself (test modules cannot import conftest under --import-mode=importlib)."""
    return make_valued


@pytest.fixture
def valued() -> pd.DataFrame:
    return make_valued()


@pytest.fixture
def loan() -> Loan:
    return Loan(
        amount=5_000_000,
        currency="CNY",
        tenor_years=1.0,
        probability_of_default=0.03,
        borrower=BORROWER,
        interest_rate=0.045,
        risk_sharing=RiskSharing(compensation_fund=0.54, insurer=0.16, appraiser=0.04),
    )


def record_and_context(valued: pd.DataFrame, loan: Loan, *, paths: int) -> tuple[dict, CollateralContext]:
    """The valuation's record of ``valued`` and the engine's context of its assessment, seed 0, ``paths`` paths."""
    info = dict(valued.attrs["ipvalue"])
    ctx = CollateralContext(
        loan=loan,
        policy=load_policy("cn-bank-standard"),
        as_of=dt.date.fromisoformat(info["as_of"]),
        seed=0,
        paths=paths,
    )
    return info, ctx


@pytest.fixture
def engine_context():
    """:func:`record_and_context` itself (test modules cannot import conftest under --import-mode=importlib)."""
    return record_and_context
