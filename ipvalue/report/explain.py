"""The words of the collateral engine's explanations, in Chinese (``zh``) and English (``en``).

The engine gives codes and numbers only: each patent's ``haircut_basis`` (per component its code, value and the
figures that produced it, then the composed haircut, the pledge-rate cap, the binding component and the pledge
rate) and each liquidation scenario's ``basis``. This module words them; the report writers, the command line
and the service's JSON call it. An assessment stored before the engine gave a basis keeps the texts it was
stored with (``haircut_explanation`` / ``haircut_explanation_zh``, ``description`` / ``description_zh``).

Both languages are worded from the same figures with the same rounding, so a Chinese and an English text of
one patent carry the same numbers.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pandas as pd

from ipvalue.report._labels import LANGS, REASONS, check_lang, translate_codes

__all__ = [
    "COMPONENT_NAMES",
    "PATENT_TYPE_NAMES",
    "BINDING_NAMES",
    "TEXT_COLUMNS",
    "haircut_text",
    "haircut_texts",
    "scenario_text",
    "scenario_texts",
    "with_texts",
]

#: the haircut components as the explanations name them, in the order the engine composes them
COMPONENT_NAMES: dict[str, dict[str, str]] = {
    "valuation": {"zh": "估值不确定性", "en": "valuation"},
    "market": {"zh": "持有期价格波动", "en": "market"},
    "legal": {"zh": "法律风险", "en": "legal"},
    "life": {"zh": "剩余保护期", "en": "life"},
    "concentration": {"zh": "集中度", "en": "concentration"},
    "currency": {"zh": "币种错配", "en": "currency"},
    "liquidity": {"zh": "变现能力", "en": "liquidity"},
}
#: patent types as the explanations name them (the policy caps the pledge rate by type)
PATENT_TYPE_NAMES: dict[str, dict[str, str]] = {
    "invention": {"zh": "发明专利", "en": "invention"},
    "utility_model": {"zh": "实用新型", "en": "utility_model"},
    "design": {"zh": "外观设计", "en": "design"},
}
#: what else than a component can bind a patent's pledge rate
BINDING_NAMES: dict[str, dict[str, str]] = {
    "pledge_rate_cap": {"zh": "质押率上限", "en": "pledge_rate_cap"},
    "ineligible": {"zh": "不符合质押条件", "en": "ineligible"},
}
#: basis column -> the text column it is worded into (English; the Chinese one adds ``_zh``)
TEXT_COLUMNS: dict[str, str] = {"haircut_basis": "haircut_explanation", "basis": "description"}

_ORDINAL = {
    1: {"en": "first", "zh": "一拍"},
    2: {"en": "second", "zh": "二拍"},
    3: {"en": "third", "zh": "三拍"},
}
_PER_PATENT = ("valuation", "market", "legal", "life", "concentration", "currency")


def _f(x: Any) -> float:
    """A float; NaN for None (JSON null) and anything not a number."""
    try:
        return float("nan") if x is None else float(x)
    except (TypeError, ValueError):
        return float("nan")


def _pct(x: Any, digits: int = 1) -> str:
    return f"{_f(x) * 100:.{digits}f}%"


def _fix(x: Any, digits: int) -> str:
    v = _f(x)
    return f"{(99.0 if v == math.inf else v):.{digits}f}"


def _name(table: Mapping[str, Mapping[str, str]], code: Any, lang: str) -> str:
    entry = table.get(str(code))
    return entry[lang] if entry else str(code)


# ------------------------------------------------------------------------------------------ haircut components
def _valuation(b: Mapping[str, Any], lang: str) -> str:
    code, k = b.get("code"), _f(b.get("k"))
    s = _fix(b.get("log_sd"), 2)
    zh = lang == "zh"
    if code == "range":
        return f"P05–P95 区间对数标准差 {s} × k {k:.2f}" if zh else f"range log-sd {s} x k {k:.2f}"
    if code == "upper_half":
        return (
            f"P05 为 0，按 P50–P95 上半区间对数标准差 {s} × k {k:.2f}"
            if zh
            else f"P05 is 0: upper-half P50-P95 log-sd {s} x k {k:.2f}"
        )
    if code == "zero_value":
        return "评估价值为 0，无估值区间" if zh else "appraised value 0, no range"
    if code == "no_p05_p50":
        return "P05 与 P50 均为 0，全额折扣" if zh else "P05 and P50 both 0, full haircut"
    return "无 P05–P95 估值区间，采用默认折扣" if zh else "no p05-p95 range, default haircut"


def _market(b: Mapping[str, Any], lang: str) -> str:
    sigma, mu, q, t = (
        _pct(b.get("volatility"), 0),
        _f(b.get("drift")),
        _f(b.get("quantile")),
        _f(b.get("horizon_years")),
    )
    if b.get("code") == "basel_scaling":
        n_r, t_m, t_n = (int(_f(b.get(k))) for k in ("revaluation_days", "holding_days", "estimation_days"))
        f = _f(b.get("scaling"))
        if lang == "zh":
            return f"年波动率 {sigma}，漂移 {mu:+.0%}/年，{q:.0%} 置信度，{t_n} 日折扣 × {f:.2f}（N_R={n_r}，T_M={t_m}）"
        return (
            f"sigma {sigma}, drift {mu:+.0%}/y, q{q:.0%}, {t_n}-day haircut x {f:.2f} (N_R={n_r}, T_M={t_m})"
        )
    if lang == "zh":
        return f"年波动率 {sigma}，漂移 {mu:+.0%}/年，重估间隔加处置期 {t:.2f} 年，{q:.0%} 置信度"
    return f"sigma {sigma}, drift {mu:+.0%}/y, T={t:.2f}y, q{q:.0%}"


def _legal(b: Mapping[str, Any], lang: str) -> str:
    if b.get("code") == "no_score":
        return "无法律评分，按最高法律折扣" if lang == "zh" else "no legal score, full legal haircut"
    score = _fix(b.get("score"), 0)
    return f"法律评分 {score}" if lang == "zh" else f"legal score {score}"


def _life(b: Mapping[str, Any], lang: str) -> str:
    if b.get("code") == "unknown":
        return "剩余保护期不明" if lang == "zh" else "remaining life unknown"
    left, horizon = _fix(b.get("remaining_years"), 1), _f(b.get("horizon_years"))
    if lang == "zh":
        return f"剩余 {left} 年，贷款到期加处置期共 {horizon:.1f} 年"
    return f"{left}y left vs {horizon:.1f}y to maturity plus disposal"


def _concentration(b: Mapping[str, Any], lang: str) -> str:
    fam, cls, line = (
        _pct(b.get(k), 0) for k in ("family_share", "technology_class_share", "product_line_share")
    )
    tech, group = str(b.get("technology_class", "unknown")), str(b.get("product_line", "unknown"))
    if lang == "zh":
        tech, group = ("未知" if x == "unknown" else x for x in (tech, group))
        return f"占质押价值：同族 {fam}，技术分类 {tech} {cls}，产品线 {group} {line}"
    return f"family {fam}, class {tech} {cls}, line {group} {line} of pledged value"


def _currency(b: Mapping[str, Any], lang: str) -> str:
    if b.get("code") != "mismatch":
        return "与贷款币种相同" if lang == "zh" else "same currency"
    sigma, t = _pct(b.get("fx_volatility"), 1), _f(b.get("horizon_years"))
    if lang == "zh":
        return f"以其他币种估值，汇率年波动率 {sigma}，期限 {t:.2f} 年"
    return f"valued in another currency, FX sigma {sigma}, T={t:.2f}y"


def _liquidity(b: Mapping[str, Any], lang: str) -> str:
    level = _f(b.get("confidence"))
    if lang == "zh":
        return f"按最高贷款额放款时，{level:.0%} 的清算路径可全额回收"
    return f"full recovery on {level:.0%} of the liquidation paths at the maximum loan"


_NOTES: dict[str, Callable[[Mapping[str, Any], str], str]] = {
    "valuation": _valuation,
    "market": _market,
    "legal": _legal,
    "life": _life,
    "concentration": _concentration,
    "currency": _currency,
    "liquidity": _liquidity,
}


def haircut_text(basis: Mapping[str, Any], lang: str) -> str:
    """One patent's haircut explanation, worded from its ``haircut_basis``.

    ``[refused (reasons): collateral 0;]`` then, per component, ``<name> <haircut> (<what drove it>);`` and,
    once the basis is complete, the composed haircut, the cap by patent type and whether it binds, the
    component that binds and the pledge rate.

    Parameters
    ----------
    basis : mapping
        The engine's ``haircut_basis`` of one patent (:data:`ipvalue.collateral.haircut.BASIS_KEYS`).
    lang : {"zh", "en"}
    """
    check_lang(lang)
    zh = lang == "zh"
    parts: list[str] = []
    refused = list(basis.get("ineligible") or [])
    if refused:
        if zh:
            parts.append(
                f"不符合质押条件（{'、'.join(translate_codes(refused, REASONS, 'zh'))}）：押品价值为 0"
            )
        else:
            parts.append(f"INELIGIBLE ({', '.join(refused)}): collateral 0")
    for c, word in _NOTES.items():
        b = basis.get(c)
        if not isinstance(b, Mapping):
            continue
        name, h, note = _name(COMPONENT_NAMES, c, lang), _pct(b.get("value")), word(b, lang)
        parts.append(f"{name} {h}（{note}）" if zh else f"{name} {h} ({note})")
    if "pledge_rate" not in basis:  # before the book-level step (the liquidity haircut) completes it
        return ("；" if zh else "; ").join(parts) + ("；" if zh else "; ")
    composed, cap, rate = (
        _pct(basis.get("composed")),
        _pct(basis.get("cap"), 0),
        _pct(basis.get("pledge_rate")),
    )
    ptype, which, binds = basis.get("patent_type"), str(basis.get("binding")), bool(basis.get("cap_binding"))
    if zh:
        type_txt = "类型不明" if ptype is None else _name(PATENT_TYPE_NAMES, ptype, "zh")
        which_txt = (
            _name(COMPONENT_NAMES, which, "zh")
            if which in COMPONENT_NAMES
            else _name(BINDING_NAMES, which, "zh")
        )
        parts += [
            f"综合折扣 {composed}",
            f"质押率上限 {cap}（{type_txt}）{'已生效' if binds else '未生效'}",
            f"起决定作用：{which_txt}",
            f"押品价值为评估价值的 {rate}",
        ]
        return "；".join(parts)
    parts += [
        f"composed {composed}",
        f"cap {cap} {'binding' if binds else 'not binding'} ({'unknown type' if ptype is None else ptype})",
        f"binding: {which}",
        f"collateral {rate} of value",
    ]
    return "; ".join(parts)


# ------------------------------------------------------------------------------------------ liquidation scenarios
def scenario_text(scenario: str, basis: Mapping[str, Any], lang: str) -> str:
    """A liquidation scenario's description, worded from its code and ``basis``; empty for an unknown code."""
    check_lang(lang)
    zh = lang == "zh"
    if scenario == "orderly_sale":
        m = _f(basis.get("bid_median"))
        return (
            f"按中位报价有序处置，成交价为处置时价值的 {m:.0%}"
            if zh
            else f"orderly sale at the median bid, {m:.0%} of current value"
        )
    if scenario.startswith("judicial_") and scenario.endswith("_auction"):
        r, k = _f(basis.get("reserve")), int(_f(basis.get("round")))
        n = _ORDINAL.get(k, {"en": f"round {k}", "zh": f"第 {k} 次拍卖"})[lang]
        return (
            f"司法拍卖{n}成交，起拍价为评估价的 {r:.0%}"
            if zh
            else f"sold at the {n} judicial auction, reserve {r:.0%} of the appraisal"
        )
    if scenario == "judicial_sale_period":
        d, r = _f(basis.get("days")), _f(basis.get("reserve"))
        if zh:
            return f"在 {d:.0f} 日变卖期内按末次拍卖价格（{r:.0%}）成交"
        return f"sold in the {d:.0f}-day 变卖 at the last auction's price ({r:.0%})"
    if scenario == "judicial_unsold":
        if zh:
            return "各次拍卖及变卖均无人竞买：无现金回收（以物抵债或中止执行）"
        return "no buyer in any auction or the 变卖: no cash (以物抵债 or suspension)"
    if scenario == "distressed_sale":
        m, p = _f(basis.get("bid_median")), _f(basis.get("no_sale_probability"))
        if zh:
            return f"困境出售，中位报价为处置时价值的 {m:.0%}，{p:.0%} 的概率无法成交"
        return f"distressed sale at the median bid {m:.0%} of current value, {p:.0%} chance of no sale"
    if scenario == "monte_carlo":
        paths, seed = int(_f(basis.get("paths"))), basis.get("seed")
        l95, l99 = _f(basis.get("lgd_95")), _f(basis.get("lgd_99"))
        if zh:
            return (
                f"蒙特卡洛模拟 {paths:,} 条路径的均值（随机数种子 {seed}）；"
                f"95% 分位违约损失率 {l95:.1%}，99% 分位违约损失率 {l99:.1%}"
            )
        return f"Monte Carlo mean over {paths:,} paths (seed {seed}); 95% LGD {l95:.1%}, 99% LGD {l99:.1%}"
    return ""


# ------------------------------------------------------------------------------------------------ whole frames
def _texts(
    frame: pd.DataFrame,
    basis_col: str,
    lang: str,
    word: Callable[[Any, Mapping[str, Any]], str],
    code_col: str | None,
) -> pd.Series | None:
    """The text column worded in ``lang``; rows without a basis keep the stored text (None: nothing to show)."""
    text_col = TEXT_COLUMNS[basis_col] + ("_zh" if lang == "zh" else "")
    stored = frame[text_col] if text_col in frame.columns else None
    if basis_col not in frame.columns:
        return None if stored is None else stored.astype(object)
    codes = frame[code_col].tolist() if code_col else [None] * len(frame)
    old = stored.tolist() if stored is not None else [None] * len(frame)
    out = [
        word(c, b) if isinstance(b, Mapping) and b is not None else o
        for c, b, o in zip(codes, frame[basis_col].tolist(), old, strict=True)
    ]
    return pd.Series(out, index=frame.index, dtype=object)


def haircut_texts(patents: pd.DataFrame, lang: str) -> pd.Series | None:
    """Each patent's haircut explanation in ``lang`` (from ``haircut_basis``; stored text where it has none)."""
    check_lang(lang)
    return _texts(patents, "haircut_basis", lang, lambda _, b: haircut_text(b, lang), None)


def scenario_texts(liquidation: pd.DataFrame, lang: str) -> pd.Series | None:
    """Each liquidation scenario's description in ``lang`` (from ``basis``; stored text where it has none)."""
    check_lang(lang)
    if "scenario" not in liquidation.columns:
        return _texts(
            liquidation.drop(columns=["basis"], errors="ignore"), "basis", lang, lambda _, b: "", None
        )
    return _texts(liquidation, "basis", lang, lambda c, b: scenario_text(str(c), b, lang), "scenario")


def _with_columns(
    frame: pd.DataFrame, texts: Mapping[str, pd.Series | None], basis_col: str, keep: bool
) -> pd.DataFrame:
    """``frame`` with the text columns set (new ones right after the basis column, in ``texts`` order)."""
    out = frame.copy()
    at = out.columns.get_loc(basis_col) + 1 if basis_col in out.columns else len(out.columns)
    for col, text in texts.items():
        if text is None:
            continue
        if col in out.columns:
            out[col] = text
        else:
            out.insert(at, col, text)
            at += 1
    if not keep and basis_col in out.columns:
        out = out.drop(columns=[basis_col])
    return out


def with_texts(assessment: Any, langs: Iterable[str] = LANGS, *, keep_basis: bool = True) -> Any:
    """A copy of ``assessment`` whose patents and liquidation carry their texts, worded in ``langs``.

    English goes to ``haircut_explanation`` / ``description``, Chinese to ``haircut_explanation_zh`` /
    ``description_zh`` (the columns the report writers read, and the service's JSON returns).

    Parameters
    ----------
    assessment : CollateralAssessment
    langs : iterable of {"zh", "en"}
    keep_basis : bool
        Keep the ``haircut_basis`` / ``basis`` columns (the service returns both); the report writers drop them.
    """
    wanted = {check_lang(x) for x in langs}
    order = [x for x in ("en", "zh") if x in wanted]

    def col(basis_col: str, lang: str) -> str:
        return TEXT_COLUMNS[basis_col] + ("_zh" if lang == "zh" else "")

    patents = getattr(assessment, "patents", None)
    liquidation = getattr(assessment, "liquidation", None)
    if patents is not None:
        texts = {col("haircut_basis", x): haircut_texts(patents, x) for x in order}
        patents = _with_columns(patents, texts, "haircut_basis", keep_basis)
    if liquidation is not None:
        texts = {col("basis", x): scenario_texts(liquidation, x) for x in order}
        liquidation = _with_columns(liquidation, texts, "basis", keep_basis)
    if dataclasses.is_dataclass(assessment) and not isinstance(assessment, type):
        return dataclasses.replace(assessment, patents=patents, liquidation=liquidation)
    out = copy.copy(assessment)
    out.patents, out.liquidation = patents, liquidation
    return out
