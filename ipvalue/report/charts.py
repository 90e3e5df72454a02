"""Charts of a collateral assessment, as matplotlib Figures.

Every function takes the assessment, ``lang`` (``"zh"`` or ``"en"``) and optionally an ``ax`` to draw on, and
returns the :class:`matplotlib.figure.Figure` it drew on. Figures are built with
:class:`matplotlib.figure.Figure` directly, never through pyplot, so they hold no global state and are safe in
a web service; the caller saves or discards them (``fig.savefig(buf, format="png")``).

Chinese text uses the CJK font found by :func:`ipvalue.report.find_cjk_font`; when ``lang="zh"`` or any text
holds Chinese characters and no such font is installed, :class:`~ipvalue.report.CJKFontNotFoundError` names the
package to install.
"""

from __future__ import annotations

import math
import re
from typing import Any, cast

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.ticker import FuncFormatter, PercentFormatter

from ipvalue.report import _data as D
from ipvalue.report import _labels as L
from ipvalue.report._data import money_unit
from ipvalue.report._fonts import CJKFontNotFoundError, find_cjk_font

__all__ = [
    "CHARTS",
    "waterfall",
    "value_by_method",
    "quality_scores",
    "liquidation_scenarios",
    "recovery_distribution",
    "stress",
    "remaining_life",
    "renewal_fees",
    "money_unit",
    "profile_radar",
]

_CJK = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef]")
_BLUE, _RED, _GREEN, _GREY, _ORANGE = "#1f4e79", "#c0392b", "#2e8b57", "#8c8c8c", "#e08e0b"
MAX_BARS = 40


def _new_axes(ax: Axes | None, size: tuple[float, float]) -> tuple[Figure, Axes]:
    if ax is not None:
        return cast(Figure, ax.figure), ax
    fig = Figure(figsize=size, layout="constrained", facecolor="white")
    return fig, fig.add_subplot()


def _finish(fig: Figure, lang: str) -> Figure:
    """Give every text of ``fig`` a font that has its glyphs (CJK font for Chinese)."""
    texts = [t for t in fig.findobj(Text) if isinstance(t, Text)]
    needs_cjk = lang == "zh" or any(_CJK.search(t.get_text() or "") for t in texts)
    try:
        families = find_cjk_font().matplotlib_families()
    except CJKFontNotFoundError:
        if needs_cjk:
            raise
        families = ["DejaVu Sans"]
    for ax in fig.axes:
        ax.tick_params(which="both", labelfontfamily=families)
    for t in texts:
        t.set_fontfamily(families)
    return fig


def _money_axis(axis: Any, scale: float) -> None:
    axis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v / scale:,.0f}" if scale > 1 else f"{v:,.0f}"))


def _note(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, wrap=True, color=_GREY)
    ax.set_axis_off()


# ------------------------------------------------------------------------------------------------------ charts
def waterfall(assessment: Any, *, lang: str = "zh", ax: Axes | None = None) -> Figure:
    """Haircut waterfall: appraised value, the reductions, the collateral value and the maximum loan."""
    L.check_lang(lang)
    fig, ax = _new_axes(ax, (8.0, 3.8))
    steps = D.waterfall_steps(assessment, lang)
    scale, unit = D.money_unit(assessment, lang)
    bottoms, heights, kinds = D.waterfall_bars(steps)
    colors = [{"total": _BLUE, "down": _RED, "up": _GREEN}[k] for k in kinds]
    x = np.arange(len(steps))
    ax.bar(x, heights, bottom=bottoms, color=colors, width=0.65)
    for xi, b, h, a in zip(x, bottoms, heights, steps["amount"], strict=True):
        ax.text(float(xi), b + h, D.money_label(a, scale), ha="center", va="bottom", fontsize=7)
    ax.set_xticks(x, [str(s) for s in steps["label"]], rotation=30, ha="right", fontsize=8)
    _money_axis(ax.yaxis, scale)
    ax.set_ylabel(L.label("chart_value_axis", lang, unit=unit), fontsize=8)
    ax.set_title(L.label("chart_waterfall_title", lang), fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    return _finish(fig, lang)


def value_by_method(assessment: Any, *, lang: str = "zh", ax: Axes | None = None) -> Figure:
    """Portfolio value by method (income, cost, real option) and the reconciled value with its P5–P95 range."""
    L.check_lang(lang)
    fig, ax = _new_axes(ax, (6.5, 3.2))
    t = D.method_totals(assessment)
    scale, unit = D.money_unit(assessment, lang)
    x = np.arange(len(t))
    colors = [_GREY] * (len(t) - 1) + [_BLUE]
    ax.bar(x, t["total"].fillna(0.0), color=colors, width=0.6)
    rec = t.iloc[-1]
    if np.isfinite(rec["low"]) and np.isfinite(rec["high"]):
        lo = max(0.0, rec["total"] - rec["low"])
        hi = max(0.0, rec["high"] - rec["total"])
        ax.errorbar([x[-1]], [rec["total"]], yerr=[[lo], [hi]], fmt="none", ecolor="black", capsize=6, lw=1.2)
    ax.set_xticks(x, [L.translate_code(m, L.METHODS, lang) for m in t["method"]], fontsize=8)
    _money_axis(ax.yaxis, scale)
    ax.set_ylabel(L.label("chart_value_axis", lang, unit=unit), fontsize=8)
    ax.set_title(L.label("chart_method_title", lang), fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    return _finish(fig, lang)


def quality_scores(assessment: Any, *, lang: str = "zh", ax: Axes | None = None) -> Figure:
    """Distribution of the quality scores (legal, technical, economic, overall) over the portfolio."""
    L.check_lang(lang)
    fig, ax = _new_axes(ax, (6.5, 3.0))
    df = assessment.patents
    data, names = D.quality_series(df, lang)
    if not data:
        _note(ax, L.label("not_available", lang))
        return _finish(fig, lang)
    # a strip plot (one dot per patent, the median as a bar); ``Axes.boxplot`` would read rcParams in a way that
    # imports pyplot, which the charts avoid
    rng = np.random.default_rng(0)  # jitter only, fixed so the picture is reproducible
    for i, v in enumerate(data):
        ax.scatter(v, i + rng.uniform(-0.18, 0.18, v.size), s=10, color=_BLUE, alpha=0.6, linewidths=0)
        med = float(np.median(v))
        ax.plot([med, med], [i - 0.3, i + 0.3], color=_RED, lw=2)
        ax.text(101, i, f"{L.label('median', lang)} {med:.0f}", va="center", fontsize=7)
    ax.set_yticks(np.arange(len(data)), names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 118)
    ax.set_xticks([0, 20, 40, 60, 80, 100])
    ax.set_xlabel(L.label("score", lang), fontsize=8)
    ax.set_title(L.label("chart_quality_title", lang), fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    return _finish(fig, lang)


def liquidation_scenarios(assessment: Any, *, lang: str = "zh", ax: Axes | None = None) -> Figure:
    """Recovery rate of each liquidation scenario, annotated with its probability."""
    L.check_lang(lang)
    fig, ax = _new_axes(ax, (6.5, 3.0))
    liq = assessment.liquidation
    if liq is None or len(liq) == 0 or "recovery_rate" not in liq.columns:
        _note(ax, L.label("not_available", lang))
        return _finish(fig, lang)
    names = [L.translate_code(s, L.SCENARIOS, lang) for s in liq.get("scenario", pd.Series(range(len(liq))))]
    rr = pd.to_numeric(liq["recovery_rate"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    prob = (
        pd.to_numeric(liq["probability"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        if "probability" in liq.columns
        else np.full(len(liq), np.nan)
    )
    y = np.arange(len(liq))
    ax.barh(y, np.nan_to_num(rr), color=_BLUE, height=0.6)
    for yi, r, p in zip(y, rr, prob, strict=True):
        txt = D.fmt_pct(r) + ("" if math.isnan(p) else f"  (p={D.fmt_pct(p, 0)})")
        ax.text(min(np.nan_to_num(r), 1.0) + 0.01, float(yi), txt, va="center", fontsize=7)
    ax.set_yticks(y, names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 1.25)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel(L.label("recovery_rate", lang), fontsize=8)
    ax.set_title(L.label("chart_scenarios_title", lang), fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)
    return _finish(fig, lang)


def recovery_distribution(
    assessment: Any, *, lang: str = "zh", ax: Axes | None = None, bins: int = 40
) -> Figure:
    """Histogram of the Monte Carlo recovery rates (``recovery_draws``) with the mean and the 1% quantile."""
    L.check_lang(lang)
    fig, ax = _new_axes(ax, (6.5, 3.0))
    draws = np.asarray(
        assessment.recovery_draws if assessment.recovery_draws is not None else [], dtype=float
    ).ravel()
    draws = draws[np.isfinite(draws)]
    if draws.size == 0:
        _note(ax, L.label("not_available", lang))
        return _finish(fig, lang)
    weights = np.full(draws.size, 1.0 / draws.size)
    ax.hist(
        draws,
        bins=np.linspace(min(0.0, draws.min()), max(1.0, draws.max()), bins + 1).tolist(),
        weights=weights,
        color="#7aa6d1",
        edgecolor="white",
    )
    mean, q01 = float(draws.mean()), float(np.quantile(draws, 0.01))
    ax.axvline(mean, color=_BLUE, lw=1.5, label=f"{L.label('recovery_mean', lang)} {D.fmt_pct(mean)}")
    ax.axvline(q01, color=_RED, lw=1.5, ls="--", label=f"{L.label('recovery_q01', lang)} {D.fmt_pct(q01)}")
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel(L.label("recovery_rate", lang), fontsize=8)
    ax.set_ylabel(L.label("paths", lang), fontsize=8)
    ax.set_title(f"{L.label('recovery_hist_title', lang)}  n={draws.size:,}", fontsize=10)
    ax.legend(fontsize=7, loc="upper center")
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    return _finish(fig, lang)


def stress(assessment: Any, *, lang: str = "zh", ax: Axes | None = None) -> Figure:
    """Change in collateral value under each stress shock (in % of the base)."""
    L.check_lang(lang)
    fig, ax = _new_axes(ax, (6.5, 3.0))
    st = assessment.stress
    if st is None or len(st) == 0 or "change_pct" not in st.columns:
        _note(ax, L.label("not_available", lang))
        return _finish(fig, lang)
    names = [L.translate_code(s, L.SHOCKS, lang) for s in st.get("shock", pd.Series(range(len(st))))]
    ch = pd.to_numeric(st["change_pct"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    y = np.arange(len(st))
    ax.barh(y, np.nan_to_num(ch), color=[_RED if c < 0 else _GREEN for c in np.nan_to_num(ch)], height=0.6)
    for yi, c in zip(y, ch, strict=True):
        ax.text(
            np.nan_to_num(c),
            float(yi),
            f" {D.fmt_pct(c)} ",
            va="center",
            ha="right" if c < 0 else "left",
            fontsize=7,
        )
    ax.set_yticks(y, names, fontsize=8)
    ax.invert_yaxis()
    ax.axvline(0, color="black", lw=0.8)
    lo = min(-0.1, float(np.nanmin(ch)) if np.isfinite(ch).any() else 0.0)
    ax.set_xlim(lo * 1.3, max(0.1, abs(lo) * 0.15))
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel(L.label("change_pct", lang, L.COLUMNS), fontsize=8)
    ax.set_title(L.label("chart_stress_title", lang), fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)
    return _finish(fig, lang)


def remaining_life(
    assessment: Any, *, lang: str = "zh", ax: Axes | None = None, max_bars: int = MAX_BARS
) -> Figure:
    """Remaining life of each patent against the loan tenor (eligible in blue, ineligible in grey)."""
    L.check_lang(lang)
    df = assessment.patents
    n = min(len(df), max_bars)
    fig, ax = _new_axes(ax, (6.5, max(2.2, 0.9 + 0.17 * n)))
    if "remaining_life_years" not in df.columns or len(df) == 0:
        _note(ax, L.label("not_available", lang))
        return _finish(fig, lang)
    order, life, elig, ids = D.life_bars(df, max_bars)
    y = np.arange(len(order))
    ax.barh(y, np.nan_to_num(life), color=[_BLUE if elig[i] else _GREY for i in order], height=0.7)
    ax.set_yticks(y, [ids[i] for i in order], fontsize=6)
    ax.invert_yaxis()
    tenor = D.as_float(getattr(assessment.loan, "tenor_years", np.nan))
    if not math.isnan(tenor):
        ax.axvline(tenor, color=_RED, ls="--", lw=1.2, label=f"{L.label('loan_tenor', lang)} {tenor:g}")
        ax.legend(fontsize=7, loc="lower right")
    ax.set_xlabel(L.label("remaining_life_years", lang), fontsize=8)
    title = L.label("chart_life_title", lang)
    if len(df) > n:
        title += "  (" + L.label("more_patents", lang, n=len(df) - n) + ")"
    ax.set_title(title, fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)
    return _finish(fig, lang)


def renewal_fees(
    assessment: Any, *, lang: str = "zh", ax: Axes | None = None, fees: dict | None = None
) -> Figure:
    """Renewal fees falling due in each year of the loan (``fees`` as returned by ``fee_timeline``)."""
    L.check_lang(lang)
    fig, ax = _new_axes(ax, (6.5, 2.6))
    fees = D.fee_timeline(assessment) if fees is None else fees
    if not fees or len(fees["by_year"]) == 0:
        _note(ax, L.label("fees_unavailable", lang))
        return _finish(fig, lang)
    by_year = fees["by_year"]
    by_year = by_year[(by_year["loan_year"] > 0) | (by_year["amount"] > 0)]
    names = [
        L.label("fees_overdue", lang) if k == 0 else L.label("loan_year_n", lang, n=k)
        for k in by_year["loan_year"]
    ]
    amounts = by_year["amount"].to_numpy(dtype=float)
    ax.bar(names, amounts, color=_ORANGE, width=0.6)
    for x, v in enumerate(amounts):
        ax.text(x, v, f"{v:,.0f}", ha="center", va="bottom", fontsize=7)
    cur = fees["by_patent"]["fee_currency"] if len(fees["by_patent"]) else pd.Series([], dtype=object)
    ccy = str(cur.iloc[0]) if len(cur) and not D.is_missing(cur.iloc[0]) else ""
    ax.set_ylabel(
        f"{L.label('fee_amount', lang)} ({ccy})" if ccy else L.label("fee_amount", lang), fontsize=8
    )
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:,.0f}"))
    ax.tick_params(axis="x", labelsize=8)
    ax.set_title(L.label("chart_fees_title", lang), fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    return _finish(fig, lang)


#: the charts in report order: name -> function
CHARTS = {
    "waterfall": waterfall,
    "value_by_method": value_by_method,
    "quality_scores": quality_scores,
    "liquidation_scenarios": liquidation_scenarios,
    "recovery_distribution": recovery_distribution,
    "stress": stress,
    "remaining_life": remaining_life,
    "renewal_fees": renewal_fees,
}


def profile_radar(profile: Any, *, lang: str = "zh", ax: Axes | None = None) -> Figure:
    """Radar chart of a borrower's technology profile: one spoke per dimension, its score 0-100 against peers.

    ``profile`` is an :class:`ipvalue.profile.BorrowerProfile`; without peers (no scores) the chart says so.
    """
    dims = profile.dimensions
    labels = [str(v) for v in dims["label_zh" if lang == "zh" else "label_en"]]
    values = np.asarray(dims["score"], dtype=float)
    if ax is None:
        fig = Figure(figsize=(5.6, 3.6), layout="constrained", facecolor="white")
        ax = fig.add_subplot(projection="polar")
    else:
        fig = cast(Figure, ax.figure)
    angles = np.linspace(0.0, 2.0 * np.pi, len(labels), endpoint=False)
    ax.set_xticks(angles, labels)
    ax.tick_params(axis="x", labelsize=8, pad=2)
    ax.set_ylim(0, 100)
    ax.set_yticks([25, 50, 75, 100])
    ax.tick_params(axis="y", labelsize=7)
    if np.isnan(values).all():
        _note(ax, "无同业对照组，不评分" if lang == "zh" else "no peer cohort: no scores")
        return _finish(fig, lang)
    closed = np.r_[np.nan_to_num(values, nan=0.0), np.nan_to_num(values[:1], nan=0.0)]
    ring = np.r_[angles, angles[:1]]
    ax.plot(ring, np.full(len(ring), 50.0), color=_GREY, linewidth=0.8, linestyle="--")
    ax.plot(ring, closed, color=_BLUE, linewidth=1.6)
    ax.fill(ring, closed, color=_BLUE, alpha=0.2)
    grade = profile.grade or "-"
    title = f"技术实力画像 {grade}" if lang == "zh" else f"Technology profile {grade}"
    ax.set_title(title, fontsize=10)
    return _finish(fig, lang)
