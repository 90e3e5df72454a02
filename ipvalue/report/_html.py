"""The HTML report: one self-contained file (inline CSS, charts as base64 SVG), rendered by Jinja2 with autoescape.

The same HTML feeds the PDF writer (WeasyPrint); its print CSS paginates it.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections import OrderedDict
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pandas as pd

from ipvalue.report import _data as D
from ipvalue.report import _labels as L
from ipvalue.report import _svgcharts as S
from ipvalue.report._svg import svg_uri
from ipvalue.report.explain import with_texts

__all__ = ["render_html", "build_context", "write_html", "profile_context", "profile_text", "REPORT_DPI"]

_TEMPLATES = Path(__file__).with_name("templates")

#: the summary's key figures in display order: (key, kind)
KEY_FIGURES: tuple[tuple[str, str], ...] = (
    ("appraised_value", "money"),
    ("appraised_range", "range"),
    ("eligible_value", "money"),
    ("collateral_value", "money"),
    ("max_loan", "money"),
    ("loan_amount", "money"),
    ("ltv", "pct"),
    ("coverage_ratio", "pct"),
    ("shortfall", "money"),
    ("bank_retained_exposure", "money"),
    ("probability_of_default", "pct"),
    ("expected_lgd", "pct"),
    ("lgd_95", "pct"),
    ("lgd_99", "pct"),
    ("expected_loss", "money"),
    ("prob_full_recovery", "pct"),
    ("expected_time_to_cash_years", "years"),
    ("n_patents", "int"),
    ("n_eligible", "int"),
)

#: key figures shown only when the engine provides them (beyond ``SUMMARY_KEYS``)
OPTIONAL_KEY_FIGURES: tuple[tuple[str, str], ...] = (("expected_lgd_gross", "pct"),)

#: the per-patent table in the report: (column, kind)
PATENT_TABLE: tuple[tuple[str, str], ...] = (
    ("patent_id", "id"),
    ("title", "text"),
    ("owner", "text"),
    ("patent_type", "type"),
    ("legal_status", "status"),
    ("remaining_life_years", "years"),
    ("quality_score", "score"),
    ("value", "money"),
    ("value_p05", "money"),
    ("value_p95", "money"),
    ("eligible", "bool"),
    ("haircut_total", "pct"),
    ("collateral_value", "money"),
)

_UNSAFE_CSS = re.compile(r"[^\w\s,\"'\-.]")
_NUMERIC_KINDS = {"money", "pct", "years", "int", "score", "range"}


def fmt(kind: str, x: Any, lang: str) -> str:
    """Format one value of the given kind for display."""
    if kind == "money":
        return D.fmt_money(x)
    if kind == "pct":
        return D.fmt_pct(x)
    if kind == "years":
        return D.fmt_num(x, 1)
    if kind == "score":
        return D.fmt_num(x, 0)
    if kind == "int":
        return D.fmt_int(x)
    if kind == "date":
        return D.fmt_date(x)
    if kind == "bool":
        if D.is_missing(x):
            return D.DASH
        return L.label("eligible_yes" if bool(x) else "eligible_no", lang)
    if kind == "type":
        return D.DASH if D.is_missing(x) else L.translate_code(x, L.PATENT_TYPES, lang)
    if kind == "status":
        return D.DASH if D.is_missing(x) else L.translate_code(x, L.LEGAL_STATUSES, lang)
    return D.fmt_text(x)


def _cell(kind: str, x: Any, lang: str) -> dict[str, str]:
    return {
        "text": fmt(kind, x, lang),
        "cls": "num" if kind in _NUMERIC_KINDS else ("id" if kind == "id" else ""),
    }


#: chart images already drawn in this process, keyed by the assessment's output hash, the chart, its options, the
#: language and the font: writing the HTML, the PDF (and the HTML again) of one assessment draws each chart once.
#: An assessment without an output hash (built by hand) is drawn every time.
_CHART_CACHE: OrderedDict[tuple[Any, ...], str] = OrderedDict()
_CHART_CACHE_SIZE = 128
#: the resolution the charts had as PNGs; they are SVG now, so it no longer changes them (kept for callers)
REPORT_DPI = 150


def cached_chart(assessment: Any, name: str, draw: Any, *, lang: str, **options: Any) -> str:
    """The SVG data URI of chart ``name`` of ``assessment``, drawn by ``draw`` once per process and options."""
    output_hash = (getattr(assessment, "audit", None) or {}).get("output_hash")
    if not output_hash:
        return svg_uri(draw(assessment, lang=lang, **options))
    key = (output_hash, name, lang, repr(sorted(options.items())))
    uri = _CHART_CACHE.get(key)
    if uri is None:
        uri = svg_uri(draw(assessment, lang=lang, **options))
        _CHART_CACHE[key] = uri
        while len(_CHART_CACHE) > _CHART_CACHE_SIZE:
            _CHART_CACHE.popitem(last=False)
    else:
        _CHART_CACHE.move_to_end(key)
    return uri


def _value_text(v: Any) -> str:
    if isinstance(v, dict | list | tuple):
        return json.dumps(v, ensure_ascii=False, default=str)
    if isinstance(v, float) and math.isnan(v):
        return D.DASH
    return D.fmt_text(v)


def _policy_rows(policy: dict[str, Any], skip: set[str]) -> list[dict[str, str]]:
    """Policy as rows: scalar entries, ``{value, source}`` entries, and one level of nested dictionaries.

    Parameters already listed among the assumptions (``skip``) are not repeated.
    """
    rows = []

    def add(name: str, v: Any) -> None:
        if name.split(".")[-1] in skip:
            return
        if isinstance(v, dict) and "value" in v:
            rows.append(
                {"name": name, "value": _value_text(v.get("value")), "source": D.fmt_text(v.get("source"))}
            )
        else:
            rows.append({"name": name, "value": _value_text(v), "source": ""})

    for k, v in (policy or {}).items():
        if isinstance(v, dict) and "value" not in v:
            for sub, sv in v.items():
                add(f"{k}.{sub}", sv)
        else:
            add(str(k), v)
    return rows


def profile_context(
    profile: Any, *, lang: str, dpi: int = REPORT_DPI, font: str = "sans-serif"
) -> dict[str, Any] | None:
    """The technology-profile section: radar chart, grade, reasons, indicator table (None without a profile).

    ``dpi`` no longer changes anything (the radar is SVG); ``font`` is the CSS font stack of its labels.
    """
    if profile is None:
        return None
    return {
        **profile_text(profile, lang=lang),
        "radar": svg_uri(S.profile_radar(profile, lang=lang, font=font)),
    }


def profile_text(profile: Any, *, lang: str) -> dict[str, Any]:
    """The technology-profile section without its chart: grade, cohort, reasons, notes and indicator rows, as text.

    The report and the workbench's profile page both lay these out.
    """
    zh = lang == "zh"
    ind = profile.indicators
    rows = [
        {
            "dimension": str(profile.dimensions.at[r.dimension, "label_zh" if zh else "label_en"]),
            "label": str(r.label_zh if zh else r.label_en),
            "value": D.fmt_pct(r.value, 0) if r.unit == "share" else D.fmt_num(r.value, 2),
            "percentile": D.fmt_num(r.percentile, 0),
            "score": D.fmt_num(r.score, 0),
            "weight": D.fmt_pct(r.weight, 1),
        }
        for r in ind.itertuples()
    ]
    return {
        "title": "借款人技术实力画像" if zh else "Borrower technology profile",
        "grade": profile.grade or "–",
        "score": "–" if profile.score is None else f"{profile.score:.1f}",
        "cohort": (
            f"{profile.cohort['level']} = {profile.cohort['key']}, {profile.cohort['n_peers']}"
            if profile.peers_given
            else "–"
        ),
        "strongest": profile.reasons[lang]["strongest"],
        "weakest": profile.reasons[lang]["weakest"],
        "notes": profile.notes[lang],
        "rows": rows,
        "head": (
            ["维度", "指标", "数值", "百分位", "得分", "权重"]
            if zh
            else ["dimension", "indicator", "value", "percentile", "score", "weight"]
        ),
        "labels": (
            {
                "grade": "等级",
                "score": "综合得分",
                "cohort": "同业对照组",
                "strong": "最强三项",
                "weak": "最弱三项",
            }
            if zh
            else {
                "grade": "grade",
                "score": "score",
                "cohort": "peer cohort",
                "strong": "strongest",
                "weak": "weakest",
            }
        ),
    }


def _key_figures(s: dict[str, Any], lang: str, ccy: str) -> list[dict[str, str]]:
    """The summary's key figures, formatted, with their labels and units."""
    rows = []
    shown = [*KEY_FIGURES, *((k, kind) for k, kind in OPTIONAL_KEY_FIGURES if k in s)]
    for key, kind in shown:
        if kind == "range":
            text = (
                f"{D.fmt_money(s.get('appraised_value_p05'))} – {D.fmt_money(s.get('appraised_value_p95'))}"
            )
        else:
            text = fmt(kind, s.get(key), lang)
        rows.append(
            {
                "key": key,
                "label": L.label(key, lang, L.SUMMARY_LABELS),
                "value": text,
                "unit": ccy if kind in ("money", "range") else "",
            }
        )
    return rows


def _flags(s: dict[str, Any], lang: str) -> list[dict[str, str]]:
    """The summary's flags, worded in ``lang`` (the code shown beside a translated flag)."""
    raw_flags = s.get("flags") or []
    if isinstance(raw_flags, str):
        raw_flags = [f for f in raw_flags.replace(",", ";").split(";") if f.strip()]
    flags = []
    for f in raw_flags:
        text = L.translate_code(f, L.FLAGS, lang)
        flags.append({"code": str(f) if text != str(f) else "", "text": text})
    return flags


def _charts(a: Any, fees: dict | None, *, lang: str, font: str) -> dict[str, str | None]:
    """The report's charts as SVG data URIs (each drawn once per process, see :func:`cached_chart`)."""
    out: dict[str, str | None] = {}
    for name, draw in S.SVG_CHARTS.items():
        if name == "renewal_fees":
            out[name] = cached_chart(a, name, draw, lang=lang, font=font, fees=fees) if fees else None
        else:
            out[name] = cached_chart(a, name, draw, lang=lang, font=font)
    return out


def _patent_ids(df: pd.DataFrame) -> pd.Series:
    return df["patent_id"] if "patent_id" in df.columns else pd.Series(df.index.astype(str), index=df.index)


def _patent_table(df: pd.DataFrame, lang: str) -> tuple[list[dict], list[dict]]:
    """The per-patent table: headers and one row per patent (known columns that exist; no patent dropped)."""
    cols = [(c, k) for c, k in PATENT_TABLE if c in df.columns or c == "patent_id"]
    ids = _patent_ids(df)
    elig = D.eligible_mask(df)
    rows = []
    for i in range(len(df)):
        row = df.iloc[i]
        cells = [_cell(k, ids.iloc[i] if c == "patent_id" else row[c], lang) for c, k in cols]
        rows.append({"cells": cells, "eligible": bool(elig[i])})
    heads = [
        {"text": L.label(c, lang, L.COLUMNS), "cls": "num" if k in _NUMERIC_KINDS else ""} for c, k in cols
    ]
    return heads, rows


def _method_rows(a: Any, lang: str) -> list[dict[str, Any]]:
    """Portfolio value by method, with the P5-P95 range where known."""
    methods = D.method_totals(a)
    return [
        {
            "method": L.translate_code(m, L.METHODS, lang),
            "total": D.fmt_money(t),
            "n": D.fmt_int(n),
            "range": D.DASH
            if (math.isnan(lo) or math.isnan(hi))
            else f"{D.fmt_money(lo)} – {D.fmt_money(hi)}",
            "final": m == "reconciled",
        }
        for m, t, n, lo, hi in methods[["method", "total", "n_valued", "low", "high"]].itertuples(index=False)
    ]


def _haircut_rows(a: Any, lang: str) -> tuple[list[dict], list[dict]]:
    """The waterfall's steps and each haircut component's mean / min / max over the eligible patents."""
    df = a.patents
    steps = D.waterfall_steps(a, lang)
    waterfall_rows = [
        {"label": lb, "amount": D.fmt_money(am), "share": D.fmt_pct(sh), "total": kd == "total"}
        for lb, am, sh, kd in steps[["label", "amount", "share", "kind"]].itertuples(index=False)
    ]
    elig = D.eligible_mask(df)
    component_rows = []
    for c in D.haircut_components(df):
        v = pd.to_numeric(df[f"haircut_{c}"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)[elig]
        v = v[np.isfinite(v)]
        component_rows.append(
            {
                "label": L.translate_code(c, L.COMPONENTS, lang),
                "code": c,
                "mean": D.fmt_pct(v.mean() if v.size else np.nan),
                "min": D.fmt_pct(v.min() if v.size else np.nan),
                "max": D.fmt_pct(v.max() if v.size else np.nan),
            }
        )
    return waterfall_rows, component_rows


def _explanation_rows(df: pd.DataFrame, lang: str) -> list[dict[str, Any]]:
    """Each patent's haircut explanation in the report's language (English where no Chinese text)."""
    explanations = D.localized_text(df, "haircut_explanation", lang)
    if explanations is None:
        return []
    return [
        {"patent_id": str(pid), "text": D.fmt_text(t), "eligible": bool(e)}
        for pid, t, e in zip(_patent_ids(df), explanations, D.eligible_mask(df), strict=True)
    ]


def _exception_rows(a: Any, lang: str) -> list[dict[str, Any]]:
    """The ineligible patents with their reasons."""
    exc = D.exceptions(a, lang)
    return [
        {"patent_id": pid, "title": t, "value": D.fmt_money(v), "reasons": r, "codes": c}
        for pid, t, v, c, r in exc[["patent_id", "title", "value", "codes", "reasons"]].itertuples(
            index=False
        )
    ]


def _quality_rows(df: pd.DataFrame, lang: str) -> list[dict[str, str]]:
    """Count, mean, median, min and max of each quality score present."""
    rows = []
    for c in D.QUALITY_COLUMNS:
        if c in df.columns:
            v = pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            v = v[np.isfinite(v)]
            rows.append(
                {
                    "label": L.label(c, lang, L.COLUMNS),
                    "n": str(v.size),
                    **{
                        k: D.fmt_num(f(v) if v.size else np.nan, 1)
                        for k, f in (
                            ("mean", np.mean),
                            ("median", np.median),
                            ("min", np.min),
                            ("max", np.max),
                        )
                    },
                }
            )
    return rows


#: the liquidation scenarios' table: (column, kind)
LIQUIDATION_TABLE: tuple[tuple[str, str], ...] = (
    ("scenario", "text"),
    ("probability", "pct"),
    ("gross_proceeds", "money"),
    ("costs", "money"),
    ("recovery", "money"),
    ("recovery_rate", "pct"),
    ("lgd_gross", "pct"),
    ("lgd", "pct"),
    ("time_to_cash_years", "years"),
)
#: the stress shocks' table: (column, kind)
STRESS_TABLE: tuple[tuple[str, str], ...] = (
    ("shock", "text"),
    ("appraised_value", "money"),
    ("collateral_value", "money"),
    ("max_loan", "money"),
    ("coverage_ratio", "pct"),
    ("expected_lgd", "pct"),
    ("lgd_99", "pct"),
    ("change_pct", "pct"),
)


def _frame_rows(
    frame: pd.DataFrame | None, spec: tuple[tuple[str, str], ...], lang: str, code_table: dict, code_col: str
) -> tuple[list[dict], list[list[dict]]]:
    """Headers and rows of a small frame (liquidation, stress): the codes of ``code_col`` translated."""
    if frame is None or len(frame.columns) == 0:
        return [], []
    use = [(c, k) for c, k in spec if c in frame.columns]
    heads = [
        {"text": L.label(c, lang, L.COLUMNS), "cls": "num" if k in _NUMERIC_KINDS else ""} for c, k in use
    ]
    rows = []
    for i in range(len(frame)):
        r = frame.iloc[i]
        rows.append(
            [
                {"text": L.translate_code(r[c], code_table, lang), "cls": ""}
                if c == code_col
                else _cell(k, r[c], lang)
                for c, k in use
            ]
        )
    return heads, rows


def _descriptions(frame: pd.DataFrame | None, code_col: str, table: dict, lang: str) -> list[dict[str, str]]:
    """The scenarios' or shocks' descriptions (``description_zh`` in Chinese, where present)."""
    text = D.localized_text(frame, "description", lang)
    if frame is None or code_col not in frame.columns or text is None:
        return []
    return [
        {"name": L.translate_code(c, table, lang), "text": D.fmt_text(d)}
        for c, d in zip(frame[code_col], text, strict=True)
        if not D.is_missing(d)
    ]


def _recovery_stats(a: Any, lang: str) -> list[dict[str, str]]:
    """Number of Monte Carlo paths, mean recovery and its 1% quantile."""
    draws = np.asarray(a.recovery_draws if a.recovery_draws is not None else [], dtype=float).ravel()
    draws = draws[np.isfinite(draws)]
    return [
        {"label": L.label("n_paths", lang), "value": f"{draws.size:,}"},
        {"label": L.label("recovery_mean", lang), "value": D.fmt_pct(draws.mean() if draws.size else np.nan)},
        {
            "label": L.label("recovery_q01", lang),
            "value": D.fmt_pct(np.quantile(draws, 0.01) if draws.size else np.nan),
        },
    ]


def _fee_rows(df: pd.DataFrame, fees: dict | None, lang: str) -> tuple[list[dict], list[dict]]:
    """Renewal fees by loan year and by patent (empty without a fee timeline)."""
    fee_rows: list[dict] = []
    fee_patent_rows: list[dict] = []
    if not fees:
        return fee_rows, fee_patent_rows
    for k, start, end, amount, count in fees["by_year"][
        ["loan_year", "start", "end", "amount", "count"]
    ].itertuples(index=False):
        if k == 0 and not amount:
            continue
        fee_rows.append(
            {
                "year": L.label("fees_overdue", lang) if k == 0 else L.label("loan_year_n", lang, n=k),
                "period": f"{D.fmt_date(start)} – {D.fmt_date(end)}" if k else f"< {D.fmt_date(start)}",
                "amount": D.fmt_money(amount),
                "count": str(count),
            }
        )
    titles = df["title"] if "title" in df.columns else pd.Series(None, index=df.index)
    title_of = dict(zip((str(x) for x in _patent_ids(df)), titles, strict=True))
    for pid, due, n, amount, cur in fees["by_patent"][
        ["patent_id", "next_fee_due", "fee_count", "renewal_fees", "fee_currency"]
    ].itertuples(index=False):
        fee_patent_rows.append(
            {
                "patent_id": pid,
                "title": D.fmt_text(title_of.get(pid)),
                "due": D.fmt_date(due),
                "count": D.fmt_int(n),
                "amount": D.fmt_money(amount),
                "currency": D.fmt_text(cur),
            }
        )
    return fee_rows, fee_patent_rows


def _assumption_rows(assumptions: pd.DataFrame) -> list[dict[str, str]]:
    return [
        {
            "name": D.fmt_text(r.get("name")),
            "value": _value_text(r.get("value")),
            "source": D.fmt_text(r.get("source")),
        }
        for r in assumptions.to_dict("records")
    ]


def _audit_rows(audit: dict[str, Any]) -> list[dict[str, str]]:
    """The audit trail and the version of ipvalue that wrote the report."""
    from ipvalue._version import __version__ as report_version

    rows = [{"name": str(k), "value": _value_text(v)} for k, v in audit.items()]
    rows.append({"name": "report_version", "value": report_version})
    return rows


def build_context(
    assessment: Any, *, lang: str = "zh", dpi: int = REPORT_DPI, profile: Any = None, font: str = "sans-serif"
) -> dict[str, Any]:
    """Everything the template shows, already formatted as text (the template only lays it out).

    The charts are SVG (``dpi`` no longer changes them) with their text in the CSS font stack ``font``.
    """
    L.check_lang(lang)
    a = with_texts(assessment, (lang,), keep_basis=False)  # the engine's codes and numbers, worded in lang
    s = a.summary
    df = a.patents
    ccy = str(s.get("currency") or a.loan.currency)
    fees = D.fee_timeline(a)
    patent_headers, patent_rows = _patent_table(df, lang)
    waterfall_rows, component_rows = _haircut_rows(a, lang)
    liq_heads, liq_rows = _frame_rows(a.liquidation, LIQUIDATION_TABLE, lang, L.SCENARIOS, "scenario")
    stress_heads, stress_rows = _frame_rows(a.stress, STRESS_TABLE, lang, L.SHOCKS, "shock")
    fee_rows, fee_patent_rows = _fee_rows(df, fees, lang)
    assumptions = (
        a.assumptions if a.assumptions is not None else pd.DataFrame(columns=["name", "value", "source"])
    )
    audit = dict(a.audit or {})
    loan = a.loan
    return {
        "lang": lang,
        "html_lang": "zh-CN" if lang == "zh" else "en",
        "t": {k: v[lang] for k, v in L.LABELS.items()},
        "col": {k: v[lang] for k, v in L.COLUMNS.items()},
        "currency": ccy,
        "borrower": loan.borrower or D.DASH,
        "loan_amount": D.fmt_money(loan.amount),
        "tenor": f"{loan.tenor_years:g}",
        "as_of": D.fmt_date(s.get("as_of") or audit.get("as_of")),
        "policy": D.fmt_text(s.get("policy") or audit.get("policy")),
        "generated": D.fmt_text(audit.get("created_at")),
        "key_figures": _key_figures(s, lang, ccy),
        "flags": _flags(s, lang),
        "charts": _charts(a, fees, lang=lang, font=font),
        "patent_headers": patent_headers,
        "patent_rows": patent_rows,
        "method_rows": _method_rows(a, lang),
        "waterfall_rows": waterfall_rows,
        "component_rows": component_rows,
        "explanation_rows": _explanation_rows(df, lang),
        "exception_rows": _exception_rows(a, lang),
        "quality_rows": _quality_rows(df, lang),
        "liq_heads": liq_heads,
        "liq_rows": liq_rows,
        "recovery_stats": _recovery_stats(a, lang),
        "liq_notes": _descriptions(a.liquidation, "scenario", L.SCENARIOS, lang),
        "stress_notes": _descriptions(a.stress, "shock", L.SHOCKS, lang),
        "stress_heads": stress_heads,
        "stress_rows": stress_rows,
        "fee_rows": fee_rows,
        "fee_patent_rows": fee_patent_rows,
        "assumption_rows": _assumption_rows(assumptions),
        "policy_rows": _policy_rows(a.policy, {str(n) for n in assumptions.get("name", [])}),
        "audit_rows": _audit_rows(audit),
        "n_patents": len(df),
    }


@functools.lru_cache(maxsize=1)
def _template() -> Any:
    """The report template, compiled once per process."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(_TEMPLATES)),
        autoescape=True,  # titles, owners and notes are untrusted text
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.get_template("report.html.j2")


@functools.lru_cache(maxsize=1)
def _css_source() -> str:
    return (_TEMPLATES / "report.css").read_text(encoding="utf-8")


def render_html(
    assessment: Any,
    *,
    lang: str = "zh",
    font_css: str | None = None,
    dpi: int = REPORT_DPI,
    profile: Any = None,
    comparables: Any = None,
) -> str:
    """Render the report as one self-contained HTML document.

    Parameters
    ----------
    assessment : CollateralAssessment
    lang : {"zh", "en"}
    font_css : str, optional
        CSS ``font-family`` value; defaults to the installed CJK font first, then common CJK families.
    dpi : int
        Resolution of the embedded chart images.
    profile : BorrowerProfile, optional
        Adds the borrower's technology profile section (:func:`ipvalue.profile_borrower`).
    comparables : MarketResult or DataFrame, optional
        Adds the market approach section: every comparable used, with each factor
        (:func:`ipvalue.valuation.market_comparables`).
    """
    from ipvalue.report._market import market_context

    if font_css is None:
        from ipvalue.report._fonts import PREFERRED_CJK_FAMILIES, CJKFontNotFoundError, report_font

        try:
            font_css = report_font().css_stack()
        except CJKFontNotFoundError:  # the reader's browser may still have one
            font_css = ", ".join(f'"{n}"' for n in PREFERRED_CJK_FAMILIES) + ", sans-serif"
    font_css = _UNSAFE_CSS.sub("", font_css)  # the CSS is inserted unescaped: keep to family names
    ctx = build_context(assessment, lang=lang, dpi=dpi, font=font_css)
    ctx["profile"] = profile_context(profile, lang=lang, font=font_css)
    ctx["market"] = market_context(assessment, comparables, lang=lang)
    page = L.label("page", lang, page='" counter(page) "', pages='" counter(pages) "')
    ctx["css"] = _css_source().replace("__FONT_FAMILY__", font_css).replace("__PAGE_COUNTER__", f'"{page}"')
    return _template().render(**ctx)


def write_html(
    assessment: Any,
    path: Path | BinaryIO,
    *,
    lang: str,
    profile: Any = None,
    comparables: Any = None,
    html: str | None = None,
) -> Path | BinaryIO:
    """Write the HTML report (UTF-8) to ``path`` or a binary file object.

    ``html``, when given, is the document :func:`render_html` already made for these arguments (written as it is).
    """
    if html is None:
        html = render_html(assessment, lang=lang, profile=profile, comparables=comparables)
    data = html.encode("utf-8")
    if hasattr(path, "write"):
        path.write(data)
    else:
        path.write_bytes(data)
    return path
