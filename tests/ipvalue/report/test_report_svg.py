"""The report's SVG charts: well-formed, escaped, and showing the same figures and labels as the matplotlib charts."""

from __future__ import annotations

import base64
import math
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ipvalue.report import _data as D
from ipvalue.report import _labels as L
from ipvalue.report import _svgcharts as S
from ipvalue.report import charts
from ipvalue.report._svg import Scale, Svg, nice_ticks, pct_label, svg_uri, text_width

NS = "{http://www.w3.org/2000/svg}"


def texts(svg: str) -> list[str]:
    root = ET.fromstring(svg)  # raises on malformed XML
    assert root.tag == f"{NS}svg"
    return [t.text or "" for t in root.iter(f"{NS}text")]


def mpl_texts(fig) -> set[str]:
    """Every non-empty text of a drawn matplotlib figure (tick labels included)."""
    from matplotlib.text import Text

    fig.canvas.draw() if hasattr(fig.canvas, "draw") else None
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig).draw()
    return {t.get_text() for t in fig.findobj(Text) if t.get_text() and t.get_visible()}


@settings(max_examples=200, deadline=None)
@given(
    lo=st.floats(-1e12, 1e12, allow_nan=False),
    width=st.floats(1e-6, 1e12, allow_nan=False),
    n=st.integers(2, 10),
)
def test_nice_ticks_cover_the_range_in_round_equal_steps(lo, width, n):
    assume(width > 1e-9 * abs(lo))  # a range the floats can resolve into steps
    hi = lo + width
    ticks = nice_ticks(lo, hi, n)
    tol = 1e-9 * max(abs(lo), abs(hi), width)
    assert ticks[0] <= lo + tol and ticks[-1] >= hi - tol
    steps = np.diff(ticks)
    assert 2 <= len(ticks) <= 2 * n + 3
    step = float(steps.mean())
    np.testing.assert_allclose(steps, step, rtol=1e-6)
    mantissa = step / 10 ** math.floor(math.log10(step))
    assert min(abs(mantissa - m) for m in (1, 2, 2.5, 5, 10)) < 1e-5


def test_nice_ticks_examples():
    assert nice_ticks(0, 1.25) == [0.0, 0.25, 0.5, 0.75, 1.0, 1.25]
    assert nice_ticks(0, 2_074_000 * 1.08, 5) == [
        0.0,
        500_000.0,
        1_000_000.0,
        1_500_000.0,
        2_000_000.0,
        2_500_000.0,
    ]
    assert nice_ticks(-0.9, 0.1) == [-1.0, -0.8, -0.6, -0.4, -0.2, 0.0, 0.2]
    flat = nice_ticks(5.0, 5.0)  # a flat range is widened by 10% each side
    assert flat[0] <= 4.5 and flat[-1] >= 5.5 and 5.0 in flat
    assert nice_ticks(0.0, 0.0)[0] <= -1.0
    assert nice_ticks(float("nan"), 1.0) == [0.0]


def test_small_pieces():
    assert pct_label(0.25, 0.25) == "25%" and pct_label(0.005, 0.005) == "0.5%"
    assert text_width("押品", 10) == pytest.approx(20.0) and text_width("ab", 10) == pytest.approx(12.0)
    y = Scale(0.0, 100.0, 200.0, 20.0)  # a y axis: 0 at the bottom
    assert y(0.0) == 200.0 and y(100.0) == 20.0 and y(50.0) == pytest.approx(110.0)
    svg = Svg(100, 50)
    svg.line(0, 1, 2, 3, "#ccc")  # grid lines first: under the bars
    svg.rect(10, 10, -5, 20, "#000")  # a negative width is drawn from the other side
    svg.rect(20, 10, 5, 5, "#000")  # same style: the same path
    svg.text(1, 2, '<b>"x" & y</b>')
    doc = svg.render()
    paths = ET.fromstring(doc).findall(f"{NS}path")
    assert [p.get("d") for p in paths] == ["M0 1L2 3", "M5 10h5v20h-5zM20 10h5v5h-5z"]
    assert (
        paths[0].get("stroke") == "#ccc" and paths[0].get("fill") == "none" and paths[1].get("fill") == "#000"
    )
    assert texts(doc) == ['<b>"x" & y</b>'] and "<b>" not in doc
    assert base64.b64decode(svg_uri(doc).split(",", 1)[1]).decode() == doc


@pytest.mark.parametrize("name", sorted(S.SVG_CHARTS))
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_chart_is_well_formed(assessment, nan_assessment, name, lang):
    for a in (assessment, nan_assessment):
        shown = texts(S.SVG_CHARTS[name](a, lang=lang, font='"Noto Sans CJK SC", sans-serif'))
        assert shown  # at least a title or a note


def test_waterfall_shows_each_step_and_amount(assessment):
    steps = D.waterfall_steps(assessment, "zh")
    scale, unit = D.money_unit(assessment, "zh")
    shown = texts(S.waterfall(assessment, lang="zh"))
    for label, amount in zip(steps["label"], steps["amount"], strict=True):
        assert str(label) in shown and D.money_label(amount, scale) in shown
    assert L.label("chart_value_axis", "zh", unit=unit) in shown


@pytest.mark.parametrize(
    "name", ["waterfall", "liquidation_scenarios", "stress", "renewal_fees", "remaining_life"]
)
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_svg_and_matplotlib_show_the_same_labels(assessment, name, lang):
    """Category labels, bar labels, axis titles and chart title agree between the two renderers."""
    svg = set(texts(S.SVG_CHARTS[name](assessment, lang=lang)))
    mpl = mpl_texts(charts.CHARTS[name](assessment, lang=lang))

    def numeric(t: str) -> bool:
        return t.replace(",", "").replace("%", "").replace("−", "-").replace(".", "").lstrip("-").isdigit()

    words = {t.strip() for t in mpl if not numeric(t.strip())}  # tick values differ (each picks its own)
    assert words <= {t.strip() for t in svg}, words - {t.strip() for t in svg}
    bars = bar_labels(assessment, name, lang)  # the figure on each bar, from the data
    assert bars <= {t.strip() for t in svg} and bars <= {t.strip() for t in mpl}


def bar_labels(a, name: str, lang: str) -> set[str]:
    if name == "waterfall":
        scale, _ = D.money_unit(a, lang)
        return {D.money_label(v, scale) for v in D.waterfall_steps(a, lang)["amount"]}
    if name == "stress":
        return {D.fmt_pct(v) for v in a.stress["change_pct"]}
    if name == "liquidation_scenarios":
        return {
            D.fmt_pct(r) + ("" if math.isnan(p) else f"  (p={D.fmt_pct(p, 0)})")
            for r, p in a.liquidation[["recovery_rate", "probability"]].to_numpy()
        }
    if name == "renewal_fees":
        by_year = D.fee_timeline(a)["by_year"]
        return {
            f"{v:,.0f}" for v in by_year.loc[(by_year["loan_year"] > 0) | (by_year["amount"] > 0), "amount"]
        }
    df = a.patents
    order, _, _, ids = D.life_bars(df, S.MAX_BARS)
    return {ids[i] for i in order}


def test_untrusted_ids_are_escaped(fx):
    p = fx.make_patents()
    p["patent_id"] = ["<script>x</script>"] + list(p["patent_id"].iloc[1:])
    p.index = p["patent_id"]
    shown = S.remaining_life(fx.make_assessment(p), lang="en")
    assert "<script>" not in shown and "<script>x</script>" in texts(shown)


def test_profile_radar_labels(tmp_path):
    import ipvalue as iv
    from ipvalue.demo import load_demo

    frame, _, as_of = load_demo()
    valued = iv.value_portfolio(frame.head(8), as_of=as_of, rng=0)
    prof = iv.profile_borrower(valued, as_of=as_of)  # no peers: no scores
    for lang in ("zh", "en"):
        shown = texts(S.profile_radar(prof, lang=lang))
        dims = [str(v) for v in prof.dimensions["label_zh" if lang == "zh" else "label_en"]]
        assert set(dims) <= set(shown)
        assert ("无同业对照组，不评分" if lang == "zh" else "no peer cohort: no scores") in shown
