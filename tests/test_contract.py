"""The public surface promised in DESIGN.md (Contracts): names, signatures and the columns each stage adds.

A change here is a change of contract: it must be deliberate.
"""

import inspect

import numpy as np
import pandas as pd
import pytest

import ipvalue as iv
from ipvalue.demo import load_demo

KW = inspect.Parameter.KEYWORD_ONLY


def params(fn):
    return inspect.signature(fn).parameters


@pytest.mark.parametrize(
    ("fn", "positional", "keyword_only"),
    [
        (
            lambda: iv.terms.expiry_date,
            ["jurisdiction", "patent_type", "filing_date"],
            ["grant_date", "term_adjustment_days"],
        ),
        (lambda: iv.terms.remaining_life, ["portfolio_or_patent", "as_of"], []),
        (lambda: iv.terms.renewal_schedule, ["patent", "as_of"], ["until"]),
        (
            lambda: iv.options.black_scholes,
            ["spot", "strike", "maturity", "rate", "volatility"],
            ["dividend", "kind"],
        ),
        (
            lambda: iv.options.binomial,
            ["spot", "strike", "maturity", "rate", "volatility"],
            ["steps", "dividend", "kind", "american"],
        ),
        (
            lambda: iv.options.lsm,
            ["spot", "strike", "maturity", "rate", "volatility"],
            ["kind", "paths", "steps", "dividend", "rng"],
        ),
        (
            lambda: iv.valuation.relief_from_royalty,
            ["revenue", "royalty_rate", "tax_rate", "discount_rate"],
            ["mid_year", "tab_years"],
        ),
        (lambda: iv.valuation.profit_split, ["profit", "share", "discount_rate"], ["mid_year"]),
        (
            lambda: iv.valuation.equivalent_investment_share,
            ["patent_cost", "patent_profit_rate", "licensee_cost", "licensee_profit_rate"],
            [],
        ),
        (lambda: iv.valuation.tab_factor, ["tax_rate", "tax_life_years", "discount_rate"], ["mid_year"]),
        (
            lambda: iv.valuation.deferral_option,
            ["pv_cash_flows", "investment_cost", "years", "rate", "volatility"],
            ["leakage"],
        ),
        (lambda: iv.value_portfolio, ["portfolio", "assumptions"], ["as_of", "rng"]),
        (lambda: iv.assess_collateral, ["valued"], ["loan", "policy", "rng"]),
        (lambda: iv.report.write, ["assessment", "path"], ["lang"]),
        (lambda: iv.read_portfolio, ["source"], []),
    ],
)
def test_signatures(fn, positional, keyword_only):
    p = params(fn())
    names = list(p)
    assert names[: len(positional)] == positional
    for name in keyword_only:
        assert name in p and p[name].kind is KW, f"{name} must be keyword-only"


def test_defaults_named_in_the_design():
    assert params(iv.options.binomial)["steps"].default == 500
    assert params(iv.options.binomial)["american"].default is True
    assert params(iv.options.lsm)["kind"].default == "put"
    assert params(iv.options.lsm)["paths"].default == 100_000
    assert params(iv.options.lsm)["steps"].default == 50
    assert params(iv.assess_collateral)["policy"].default == "cn-bank-standard"
    assert params(iv.value_portfolio)["rng"].default == 0
    assert params(iv.report.write)["lang"].default == "zh"
    assert params(iv.valuation.deferral_option)["leakage"].default is None


def test_kernels_broadcast():
    s = np.array([40.0, 42.0, 44.0])
    out = iv.options.black_scholes(s, 40.0, 0.5, 0.1, 0.2)
    assert isinstance(out, np.ndarray) and out.shape == (3,)
    assert isinstance(iv.options.black_scholes(42.0, 40.0, 0.5, 0.1, 0.2), float)
    assert iv.options.binomial(s, 40.0, 0.5, 0.1, 0.2, steps=50).shape == (3,)


@pytest.fixture(scope="module")
def demo_run():
    frame, loan, as_of = load_demo()
    valued = iv.value_portfolio(frame, as_of=as_of, rng=7)
    return frame, valued, iv.assess_collateral(valued, loan=loan, rng=7)


def test_each_stage_keeps_every_patent_and_adds_its_columns(demo_run):
    frame, valued, a = demo_run
    assert isinstance(frame, pd.DataFrame) and frame.index.name == "patent_id"
    assert list(valued.index) == list(frame.index) == list(a.patents.index)
    for col in (
        "remaining_life_years",
        "quality_legal",
        "quality_technical",
        "quality_economic",
        "quality_score",
        "value_income",
        "value_cost",
        "value_option",
        "value",
        "value_p05",
        "value_p50",
        "value_p95",
        "methods_used",
        "value_notes",
    ):
        assert col in valued.columns, col
    for col in ("eligible", "ineligible_reasons", "haircut_total", "collateral_value"):
        assert col in a.patents.columns, col
    assert any(c.startswith("haircut_") and c not in ("haircut_total", "haircut_basis") for c in a.patents)
    run = valued.attrs["ipvalue"]
    assert run["seed"] == 7 and run["as_of"] == "2026-06-30" and run["version"] == iv.__version__
    assert len(run["input_hash"]) == 64


def test_assessment_result_object(demo_run):
    _, _, a = demo_run
    from ipvalue.collateral._assessment import SUMMARY_KEYS

    assert isinstance(a, iv.CollateralAssessment)
    assert set(SUMMARY_KEYS) <= set(a.summary)
    assert isinstance(a.liquidation, pd.DataFrame) and isinstance(a.stress, pd.DataFrame)
    for key in ("package_version", "input_hash", "policy", "seed", "as_of"):
        assert key in a.audit
    assert a.audit["seed"] == 7


def test_the_core_does_no_work_at_import():
    import subprocess
    import sys

    code = "import sys, ipvalue; print(sorted(m for m in ('matplotlib', 'scipy', 'httpx', 'fastapi', 'dask') if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "[]"
