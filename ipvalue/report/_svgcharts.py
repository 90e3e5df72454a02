"""The report's charts as SVG documents: the same figures and labels as :mod:`ipvalue.report.charts`.

:mod:`ipvalue.report.charts` draws each chart as a matplotlib Figure (for notebooks and the workbench); the HTML
and PDF reports embed these SVG versions instead, written by :mod:`ipvalue.report._svg` from the same data
(:mod:`ipvalue.report._data`): no matplotlib import and no rasterising in the report's path. Every function takes
the assessment and ``lang`` and returns the SVG text.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ipvalue.report import _data as D
from ipvalue.report import _labels as L
from ipvalue.report._svg import Scale, Svg, nice_ticks, pct_label, text_width

__all__ = ["SVG_CHARTS", "MAX_BARS", "profile_radar"]

_BLUE, _RED, _GREEN, _GREY, _ORANGE = "#1f4e79", "#c0392b", "#2e8b57", "#8c8c8c", "#e08e0b"
_KIND_COLORS = {"total": _BLUE, "down": _RED, "up": _GREEN}
_DASHED: dict[str, Any] = {"stroke-dasharray": "5 3"}
_WHITE_EDGE: dict[str, Any] = {"stroke": "#ffffff", "stroke-width": 0.6}
MAX_BARS = 40


def _fmt_money_tick(scale: float) -> Callable[[float], str]:
    return lambda v: f"{v / scale:,.0f}" if scale > 1 else f"{v:,.0f}"


def _columns(
    svg: Svg,
    names: Sequence[str],
    bottoms: Sequence[float],
    heights: Sequence[float],
    colors: Sequence[str],
    labels: Sequence[str],
    *,
    yfmt: Callable[[float], str],
    ylabel: str,
    rotate_names: bool = False,
    reach: float = 0.0,
) -> tuple[Scale, Scale]:
    """A vertical bar chart with a label on each bar (the value axis reaching ``reach`` at least).

    Returns the x scale (bar ``i`` centred on ``x(i)``) and the y scale.
    """
    tops = [b + h for b, h in zip(bottoms, heights, strict=True)]
    ticks = nice_ticks(min(0.0, *bottoms), max(0.0, reach, *tops) * 1.08)
    left = max(text_width(yfmt(t), 7) for t in ticks) + 24
    name_w = max((text_width(n, 8) for n in names), default=0.0)
    bottom = svg.height - (name_w * 0.5 + 22 if rotate_names else 24)
    top, right = 30.0, svg.width - 10
    y = Scale(ticks[0], ticks[-1], bottom, top)
    x = Scale(-0.5, len(names) - 0.5, left, right)
    svg.value_axis(y, ticks, yfmt, vertical=True, across=(left, right))
    width = (right - left) / max(len(names), 1) * 0.65
    for i, (b, h, c, lab) in enumerate(zip(bottoms, heights, colors, labels, strict=True)):
        svg.rect(x(i) - width / 2, y(b + h), width, y(b) - y(b + h), c)
        if lab:
            svg.text(x(i), y(b + h) - 2, lab, size=7, anchor="middle")
    for i, n in enumerate(names):
        if rotate_names:
            svg.text(x(i) + 3, bottom + 10, n, size=8, anchor="end", rotate=-30)
        else:
            svg.text(x(i), bottom + 12, n, size=8, anchor="middle")
    svg.frame(left, top, right, bottom)
    svg.text(12, (top + bottom) / 2, ylabel, size=8, anchor="middle", rotate=-90)
    return x, y


def _bars(
    svg: Svg,
    names: Sequence[str],
    values: Sequence[float],
    colors: Sequence[str],
    *,
    xlim: tuple[float, float],
    ticks: Sequence[float],
    xfmt: Callable[[float], str],
    xlabel: str,
    name_size: float = 8.0,
    height: float = 0.6,
) -> tuple[Scale, Scale]:
    """A horizontal bar chart, the first name on top; returns the x scale and the y scale (bar ``i`` at ``y(i)``)."""
    left = max((text_width(n, name_size) for n in names), default=0.0) + 12
    top, bottom, right = 28.0, svg.height - 34, svg.width - 12
    x = Scale(xlim[0], xlim[1], left, right)
    y = Scale(-0.5, len(names) - 0.5, top, bottom)
    shown = [t for t in ticks if xlim[0] - 1e-9 <= t <= xlim[1] + 1e-9]
    svg.value_axis(x, shown, xfmt, vertical=False, across=(top, bottom))
    h = (bottom - top) / max(len(names), 1) * height
    for i, (v, c) in enumerate(zip(values, colors, strict=True)):
        if v:
            svg.rect(x(0.0), y(i) - h / 2, x(v) - x(0.0), h, c)
    for i, n in enumerate(names):
        svg.text(left - 4, y(i), n, size=name_size, anchor="end", middle=True)
    svg.frame(left, top, right, bottom)
    svg.text((left + right) / 2, svg.height - 6, xlabel, size=8, anchor="middle")
    return x, y


def _numbers(frame: pd.DataFrame, column: str) -> np.ndarray:
    return pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _pct(step: float) -> Callable[[float], str]:
    return lambda v: pct_label(v, step)


def _empty(svg: Svg, text: str, title: str = "") -> str:
    if title:
        svg.title(title)
    svg.note(text)
    return svg.render()


# ------------------------------------------------------------------------------------------------------ charts
def waterfall(assessment: Any, *, lang: str = "zh", font: str = "sans-serif") -> str:
    """Haircut waterfall: appraised value, the reductions, the collateral value and the maximum loan."""
    svg = Svg(576, 273.6, font)
    steps = D.waterfall_steps(assessment, lang)
    scale, unit = D.money_unit(assessment, lang)
    bottoms, heights, kinds = D.waterfall_bars(steps)
    _columns(
        svg,
        [str(s) for s in steps["label"]],
        bottoms,
        heights,
        [_KIND_COLORS[k] for k in kinds],
        [D.money_label(a, scale) for a in steps["amount"]],
        yfmt=_fmt_money_tick(scale),
        ylabel=L.label("chart_value_axis", lang, unit=unit),
        rotate_names=True,
    )
    svg.title(L.label("chart_waterfall_title", lang))
    return svg.render()


def value_by_method(assessment: Any, *, lang: str = "zh", font: str = "sans-serif") -> str:
    """Portfolio value by method (income, cost, real option) and the reconciled value with its P5–P95 range."""
    svg = Svg(468, 230.4, font)
    t = D.method_totals(assessment)
    scale, unit = D.money_unit(assessment, lang)
    totals = np.nan_to_num(t["total"].to_numpy(dtype=float))
    rec = t.iloc[-1]
    has_range = bool(np.isfinite(rec["low"]) and np.isfinite(rec["high"]))
    x, y = _columns(
        svg,
        [L.translate_code(m, L.METHODS, lang) for m in t["method"]],
        [0.0] * len(t),
        list(totals),
        [_GREY] * (len(t) - 1) + [_BLUE],
        [""] * len(t),
        yfmt=_fmt_money_tick(scale),
        ylabel=L.label("chart_value_axis", lang, unit=unit),
        reach=float(rec["high"]) if has_range else 0.0,
    )
    if has_range:
        xc = x(len(t) - 1)
        lo, hi = min(float(rec["low"]), float(rec["total"])), max(float(rec["high"]), float(rec["total"]))
        svg.line(xc, y(lo), xc, y(hi), "#000000", 1.2)
        for v in (lo, hi):
            svg.line(xc - 6, y(v), xc + 6, y(v), "#000000", 1.2)
    svg.title(L.label("chart_method_title", lang))
    return svg.render()


def quality_scores(assessment: Any, *, lang: str = "zh", font: str = "sans-serif") -> str:
    """Distribution of the quality scores over the portfolio: one dot per patent, the median as a bar."""
    svg = Svg(468, 216, font)
    data, names = D.quality_series(assessment.patents, lang)
    title = L.label("chart_quality_title", lang)
    if not data:
        return _empty(svg, L.label("not_available", lang), title)
    x, y = _bars(
        svg,
        names,
        [0.0] * len(names),
        [_BLUE] * len(names),
        xlim=(0.0, 118.0),
        ticks=[0, 20, 40, 60, 80, 100],
        xfmt=lambda v: f"{v:.0f}",
        xlabel=L.label("score", lang),
    )
    rng = np.random.default_rng(0)  # jitter only, fixed so the picture is reproducible
    band = y(0.18) - y(0.0)
    for i, v in enumerate(data):
        for xv, j in zip(v, rng.uniform(-0.18, 0.18, v.size), strict=True):
            svg.circle(x(float(xv)), y(i + float(j)), 1.8, _BLUE, **{"fill-opacity": 0.6})
        med = float(np.median(v))
        svg.line(x(med), y(i) - band * 1.6, x(med), y(i) + band * 1.6, _RED, 2.0)
        svg.text(x(101.0), y(i), f"{L.label('median', lang)} {med:.0f}", size=7, middle=True)
    svg.title(title)
    return svg.render()


def liquidation_scenarios(assessment: Any, *, lang: str = "zh", font: str = "sans-serif") -> str:
    """Recovery rate of each liquidation scenario, annotated with its probability."""
    svg = Svg(468, 216, font)
    liq = assessment.liquidation
    title = L.label("chart_scenarios_title", lang)
    if liq is None or len(liq) == 0 or "recovery_rate" not in liq.columns:
        return _empty(svg, L.label("not_available", lang), title)
    names = [L.translate_code(s, L.SCENARIOS, lang) for s in liq.get("scenario", pd.Series(range(len(liq))))]
    rr = _numbers(liq, "recovery_rate")
    prob = _numbers(liq, "probability") if "probability" in liq.columns else np.full(len(liq), np.nan)
    ticks = nice_ticks(0.0, 1.25)
    x, y = _bars(
        svg,
        names,
        list(np.nan_to_num(rr)),
        [_BLUE] * len(names),
        xlim=(0.0, 1.25),
        ticks=ticks,
        xfmt=_pct(ticks[1] - ticks[0]),
        xlabel=L.label("recovery_rate", lang),
    )
    for i, (r, p) in enumerate(zip(rr, prob, strict=True)):
        txt = D.fmt_pct(r) + ("" if math.isnan(p) else f"  (p={D.fmt_pct(p, 0)})")
        svg.text(x(min(float(np.nan_to_num(r)), 1.0) + 0.01), y(i), txt, size=7, middle=True)
    svg.title(title)
    return svg.render()


def recovery_distribution(
    assessment: Any, *, lang: str = "zh", font: str = "sans-serif", bins: int = 40
) -> str:
    """Histogram of the Monte Carlo recovery rates (``recovery_draws``) with the mean and the 1% quantile."""
    svg = Svg(468, 216, font)
    draws = np.asarray(
        assessment.recovery_draws if assessment.recovery_draws is not None else [], dtype=float
    ).ravel()
    draws = draws[np.isfinite(draws)]
    if draws.size == 0:
        return _empty(svg, L.label("not_available", lang), L.label("recovery_hist_title", lang))
    edges = np.linspace(min(0.0, draws.min()), max(1.0, draws.max()), bins + 1)
    counts, _ = np.histogram(draws, bins=edges)
    shares = counts / draws.size
    xt, yt = nice_ticks(edges[0], edges[-1]), nice_ticks(0.0, float(shares.max()) * 1.05)
    yfmt = _pct(yt[1] - yt[0])
    left = max(text_width(yfmt(t), 7) for t in yt) + 24
    top, bottom, right = 28.0, svg.height - 34, svg.width - 12
    x = Scale(edges[0], edges[-1], left, right)
    y = Scale(yt[0], yt[-1], bottom, top)
    svg.value_axis(y, yt, yfmt, vertical=True, across=(left, right))
    svg.value_axis(x, xt, _pct(xt[1] - xt[0]), vertical=False, across=(top, bottom), grid=False)
    for lo, hi, share in zip(edges[:-1], edges[1:], shares, strict=True):
        if share > 0:
            svg.rect(
                x(lo),
                y(share),
                x(hi) - x(lo),
                y(0.0) - y(share),
                "#7aa6d1",
                **_WHITE_EDGE,
            )
    mean, q01 = float(draws.mean()), float(np.quantile(draws, 0.01))
    svg.line(x(mean), top, x(mean), bottom, _BLUE, 1.5)
    svg.line(x(q01), top, x(q01), bottom, _RED, 1.5, **_DASHED)
    svg.frame(left, top, right, bottom)
    entries = [
        (_BLUE, f"{L.label('recovery_mean', lang)} {D.fmt_pct(mean)}", False),
        (_RED, f"{L.label('recovery_q01', lang)} {D.fmt_pct(q01)}", True),
    ]
    width = max(text_width(t, 7) for _, t, _ in entries) + 30
    svg.legend((left + right - width) / 2, top + 8, entries)
    svg.text((left + right) / 2, svg.height - 6, L.label("recovery_rate", lang), size=8, anchor="middle")
    svg.text(12, (top + bottom) / 2, L.label("paths", lang), size=8, anchor="middle", rotate=-90)
    svg.title(f"{L.label('recovery_hist_title', lang)}  n={draws.size:,}")
    return svg.render()


def stress(assessment: Any, *, lang: str = "zh", font: str = "sans-serif") -> str:
    """Change in collateral value under each stress shock (in % of the base)."""
    svg = Svg(468, 216, font)
    st = assessment.stress
    title = L.label("chart_stress_title", lang)
    if st is None or len(st) == 0 or "change_pct" not in st.columns:
        return _empty(svg, L.label("not_available", lang), title)
    names = [L.translate_code(s, L.SHOCKS, lang) for s in st.get("shock", pd.Series(range(len(st))))]
    ch = _numbers(st, "change_pct")
    lo = min(-0.1, float(np.nanmin(ch)) if np.isfinite(ch).any() else 0.0)
    xlim = (lo * 1.3, max(0.1, abs(lo) * 0.15))
    ticks = nice_ticks(*xlim)
    ch0 = np.nan_to_num(ch)
    x, y = _bars(
        svg,
        names,
        list(ch0),
        [_RED if c < 0 else _GREEN for c in ch0],
        xlim=xlim,
        ticks=ticks,
        xfmt=_pct(ticks[1] - ticks[0]),
        xlabel=L.label("change_pct", lang, L.COLUMNS),
    )
    for i, (c, c0) in enumerate(zip(ch, ch0, strict=True)):
        svg.text(
            x(float(c0)) + (-3 if c < 0 else 3),
            y(i),
            D.fmt_pct(c),
            size=7,
            anchor="end" if c < 0 else "start",
            middle=True,
        )
    svg.line(x(0.0), y(-0.5), x(0.0), y(len(names) - 0.5), "#000000", 0.8)
    svg.title(title)
    return svg.render()


def remaining_life(
    assessment: Any, *, lang: str = "zh", font: str = "sans-serif", max_bars: int = MAX_BARS
) -> str:
    """Remaining life of each patent against the loan tenor (eligible in blue, ineligible in grey)."""
    df = assessment.patents
    n = min(len(df), max_bars)
    svg = Svg(468, max(158.4, 64.8 + 12.24 * n), font)
    title = L.label("chart_life_title", lang)
    if len(df) > n:
        title += "  (" + L.label("more_patents", lang, n=len(df) - n) + ")"
    if "remaining_life_years" not in df.columns or len(df) == 0:
        return _empty(svg, L.label("not_available", lang), title)
    order, life, elig, ids = D.life_bars(df, max_bars)
    life0 = np.nan_to_num(life)
    tenor = D.as_float(getattr(assessment.loan, "tenor_years", np.nan))
    reach = max(float(life0.max(initial=0.0)), 0.0 if math.isnan(tenor) else tenor, 1.0) * 1.05
    ticks = nice_ticks(0.0, reach)
    x, y = _bars(
        svg,
        [ids[i] for i in order],
        list(life0),
        [_BLUE if elig[i] else _GREY for i in order],
        xlim=(0.0, reach),
        ticks=ticks,
        xfmt=lambda v: f"{v:g}",
        xlabel=L.label("remaining_life_years", lang),
        name_size=6.0,
        height=0.7,
    )
    if not math.isnan(tenor):
        svg.line(x(tenor), y(-0.5), x(tenor), y(len(order) - 0.5), _RED, 1.2, **_DASHED)
        label = f"{L.label('loan_tenor', lang)} {tenor:g}"
        width = text_width(label, 7) + 30
        svg.legend(x(reach) - width - 4, y(len(order) - 0.5) - 20, [(_RED, label, True)])
    svg.title(title)
    return svg.render()


def renewal_fees(
    assessment: Any, *, lang: str = "zh", font: str = "sans-serif", fees: dict | None = None
) -> str:
    """Renewal fees falling due in each year of the loan (``fees`` as returned by ``fee_timeline``)."""
    svg = Svg(468, 187.2, font)
    fees = D.fee_timeline(assessment) if fees is None else fees
    if not fees or len(fees["by_year"]) == 0:
        return _empty(svg, L.label("fees_unavailable", lang), L.label("chart_fees_title", lang))
    by_year = fees["by_year"]
    by_year = by_year[(by_year["loan_year"] > 0) | (by_year["amount"] > 0)]
    names = [
        L.label("fees_overdue", lang) if k == 0 else L.label("loan_year_n", lang, n=k)
        for k in by_year["loan_year"]
    ]
    amounts = by_year["amount"].to_numpy(dtype=float)
    cur = fees["by_patent"]["fee_currency"] if len(fees["by_patent"]) else pd.Series([], dtype=object)
    ccy = str(cur.iloc[0]) if len(cur) and not D.is_missing(cur.iloc[0]) else ""
    _columns(
        svg,
        names,
        [0.0] * len(names),
        list(np.nan_to_num(amounts)),
        [_ORANGE] * len(names),
        [f"{v:,.0f}" for v in amounts],
        yfmt=lambda v: f"{v:,.0f}",
        ylabel=f"{L.label('fee_amount', lang)} ({ccy})" if ccy else L.label("fee_amount", lang),
    )
    svg.title(L.label("chart_fees_title", lang))
    return svg.render()


def profile_radar(profile: Any, *, lang: str = "zh", font: str = "sans-serif") -> str:
    """Radar chart of a borrower's technology profile: one spoke per dimension, its score 0-100 against peers."""
    svg = Svg(403.2, 259.2, font)
    dims = profile.dimensions
    labels = [str(v) for v in dims["label_zh" if lang == "zh" else "label_en"]]
    values = np.asarray(dims["score"], dtype=float)
    cx, cy, radius = svg.width / 2, 30 + (svg.height - 50) / 2, (svg.height - 50) / 2 - 16
    angles = np.linspace(0.0, 2.0 * np.pi, len(labels), endpoint=False)

    def at(angle: float, r: float) -> tuple[float, float]:  # angle 0 to the right, counter-clockwise
        return cx + r * math.cos(angle), cy - r * math.sin(angle)

    for ring in (25, 50, 75, 100):
        svg.polygon(
            [at(a, radius * ring / 100) for a in np.linspace(0, 2 * np.pi, 73)],
            fill="none",
            stroke="#d9d9d9",
            **{"stroke-width": 0.6},
        )
        svg.text(*at(np.pi / 2 * 0.25, radius * ring / 100), f"{ring}", size=7)
    for a, lab in zip(angles, labels, strict=True):
        svg.line(cx, cy, *at(float(a), radius), "#d9d9d9", 0.6)
        lx, ly = at(float(a), radius + 8)
        c = math.cos(a)
        svg.text(
            lx,
            ly,
            lab,
            size=8,
            anchor="middle" if abs(c) < 0.3 else ("start" if c > 0 else "end"),
            middle=True,
        )
    grade = profile.grade or "-"
    svg.title(f"技术实力画像 {grade}" if lang == "zh" else f"Technology profile {grade}")
    if np.isnan(values).all():
        svg.note("无同业对照组，不评分" if lang == "zh" else "no peer cohort: no scores")
        return svg.render()
    scores = np.nan_to_num(values, nan=0.0)
    svg.polygon(
        [at(float(a), radius * 0.5) for a in angles],
        fill="none",
        stroke=_GREY,
        **{"stroke-width": 0.8, "stroke-dasharray": "4 2"},
    )
    svg.polygon(
        [at(float(a), radius * float(v) / 100) for a, v in zip(angles, scores, strict=True)],
        fill=_BLUE,
        stroke=_BLUE,
        **{"fill-opacity": 0.2, "stroke-width": 1.6},
    )
    return svg.render()


#: the report's charts in report order: name -> function
SVG_CHARTS: dict[str, Callable[..., str]] = {
    "waterfall": waterfall,
    "value_by_method": value_by_method,
    "quality_scores": quality_scores,
    "liquidation_scenarios": liquidation_scenarios,
    "recovery_distribution": recovery_distribution,
    "stress": stress,
    "remaining_life": remaining_life,
    "renewal_fees": renewal_fees,
}
