"""Charts: matplotlib Figures without pyplot, Chinese glyphs present, waterfall that reconciles."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.figure import Figure

from ipvalue.report import _data as D
from ipvalue.report import charts

CHART_NAMES = sorted(charts.CHARTS)


@pytest.mark.parametrize("name", CHART_NAMES)
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_chart_returns_figure_with_glyphs(assessment, name, lang):
    with warnings.catch_warnings():
        # matplotlib warns "Glyph ... missing from font(s)" when it would draw a box instead of a character
        warnings.simplefilter("error")
        fig = charts.CHARTS[name](assessment, lang=lang)
        assert isinstance(fig, Figure)
        import io

        fig.savefig(io.BytesIO(), format="png", dpi=50)


@pytest.mark.parametrize("name", CHART_NAMES)
def test_chart_draws_on_given_axes(assessment, name):
    fig = Figure()
    ax = fig.add_subplot()
    out = charts.CHARTS[name](assessment, lang="en", ax=ax)
    assert out is fig
    assert len(fig.axes) == 1
    assert ax.has_data() or ax.texts  # it drew something (data, or a note when there is nothing to show)


@pytest.mark.parametrize("name", CHART_NAMES)
def test_chart_survives_nan_and_empty_parts(nan_assessment, name):
    fig = charts.CHARTS[name](nan_assessment, lang="zh")
    import io

    fig.savefig(io.BytesIO(), format="png", dpi=50)


def test_charts_never_import_pyplot():
    code = (
        "import sys\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "from conftest import make_assessment\n"
        "from ipvalue.report import charts, write\n"
        "a = make_assessment()\n"
        "for fn in charts.CHARTS.values():\n"
        "    fn(a, lang='zh').savefig(__import__('io').BytesIO(), format='png', dpi=30)\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot was imported'\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr[-3000:]


def _component_amounts_by_hand(fx, a):
    """The fixture's haircuts compose as 1 - prod(1 - h); component i takes h_i of what the earlier ones left."""
    p = a.patents[a.patents["eligible"]]
    left = p["value"].to_numpy(dtype=float)
    out = {}
    for c in fx.COMPONENTS:
        h = p[f"haircut_{c}"].to_numpy(dtype=float)
        out[c] = float((left * h).sum())
        left = left * (1 - h)
    return out


def test_waterfall_reconciles_to_collateral_and_max_loan(fx, assessment):
    steps = D.waterfall_steps(assessment, "en")
    s = assessment.summary
    amounts = dict(zip(steps["key"], steps["amount"], strict=True))
    assert amounts["appraised_value"] == pytest.approx(s["appraised_value"])
    assert amounts["collateral_value"] == pytest.approx(s["collateral_value"])
    assert amounts["max_loan"] == pytest.approx(s["max_loan"])
    # the steps between two totals add up to the difference of the totals
    start = s["appraised_value"]
    between = steps.iloc[1 : steps.index[steps["key"] == "collateral_value"][0]]
    assert start + between["amount"].sum() == pytest.approx(s["collateral_value"], rel=1e-12)
    p = assessment.patents
    assert -amounts["ineligible"] == pytest.approx(p.loc[~p["eligible"], "value"].sum())
    hand = _component_amounts_by_hand(fx, assessment)
    for c in fx.COMPONENTS:
        assert -amounts[f"haircut_{c}"] == pytest.approx(hand[c], rel=1e-9)
    assert "other" not in amounts and "pledge_cap" not in amounts


def test_waterfall_shows_cap_and_other_separately(fx):
    a = fx.make_assessment()
    p = a.patents.copy()
    elig = p["eligible"].to_numpy()
    # a pledge-rate cap of 30% binds on some patents: collateral falls below what the components leave
    keep = 1 - p["haircut_total"].to_numpy(dtype=float)
    capped = np.where(elig, p["value"].to_numpy() * np.minimum(keep, 0.30), 0.0)
    p["pledge_rate_cap"] = 0.30
    p["collateral_value"] = capped
    a = fx.make_assessment(p)
    steps = D.waterfall_steps(a, "zh")
    amounts = dict(zip(steps["key"], steps["amount"], strict=True))
    extra = float(np.where(elig, p["value"].to_numpy() * (keep - np.minimum(keep, 0.30)), 0).sum())
    assert extra > 0
    assert -amounts["pledge_cap"] == pytest.approx(extra, rel=1e-9)
    # a portfolio-level adjustment not in the patent columns shows as "other"
    a.summary["collateral_value"] -= 100_000.0
    steps = D.waterfall_steps(a, "en")
    amounts = dict(zip(steps["key"], steps["amount"], strict=True))
    assert amounts["other"] == pytest.approx(-100_000.0)
    assert amounts["collateral_value"] == pytest.approx(a.summary["collateral_value"])


def test_method_totals_add_the_columns(assessment):
    t = D.method_totals(assessment).set_index("method")
    p = assessment.patents
    assert t.loc["income", "total"] == pytest.approx(p["value_income"].sum())
    assert t.loc["option", "n_valued"] == p["value_option"].notna().sum()
    assert t.loc["reconciled", "low"] == pytest.approx(assessment.summary["appraised_value_p05"])
    assert t.loc["reconciled", "low"] <= t.loc["reconciled", "total"] <= t.loc["reconciled", "high"]


def test_exceptions_list_every_ineligible_patent_with_reasons(assessment):
    e = D.exceptions(assessment, "zh")
    p = assessment.patents
    assert sorted(e["patent_id"]) == sorted(p.index[~p["eligible"]])
    row = e.set_index("patent_id").loc[p.index[5]]
    assert row["codes"] == "LAPSED;FEES_UNPAID"
    assert "；" in row["reasons"] and "年费" in row["reasons"]


@settings(max_examples=40, deadline=None)
@given(
    h=st.lists(st.lists(st.floats(0.0, 0.95), min_size=3, max_size=3), min_size=1, max_size=8),
    eligible=st.lists(st.booleans(), min_size=8, max_size=8),
    cap=st.floats(0.05, 1.0),
)
def test_waterfall_reconciles_for_any_haircuts(h, eligible, cap):
    """Property: whatever the haircuts and a binding cap, the steps add up to the collateral value."""
    import pandas as pd

    n = len(h)
    hh = np.array(h)
    value = np.linspace(1e5, 2e6, n)
    elig = np.array(eligible[:n])
    keep = np.prod(1 - hh, axis=1)
    coll = np.where(elig, value * np.minimum(keep, cap), 0.0)
    p = pd.DataFrame(
        {
            "patent_id": [f"P{i}" for i in range(n)],
            "value": value,
            "eligible": elig,
            "haircut_a": hh[:, 0],
            "haircut_b": hh[:, 1],
            "haircut_c": hh[:, 2],
            "haircut_total": 1 - keep,
            "pledge_rate_cap": cap,
            "collateral_value": coll,
        }
    )

    class A:
        patents = p
        summary = {
            "appraised_value": value.sum(),
            "collateral_value": coll.sum(),
            "max_loan": 0.5 * coll.sum(),
        }

    steps = D.waterfall_steps(A, "en")
    end = int(np.flatnonzero(steps["key"].to_numpy() == "collateral_value")[0])
    assert steps["amount"].iloc[:end].sum() == pytest.approx(coll.sum(), rel=1e-9, abs=1e-6)
    reductions = steps.loc[steps["kind"] == "step", "amount"].to_numpy()
    assert (reductions <= 1e-9).all()  # every step between the totals is a reduction
