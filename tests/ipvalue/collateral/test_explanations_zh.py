"""The Chinese texts of the collateral assessment: haircut explanations, reason labels, scenario and shock notes.

A risk officer reading the Chinese report must see each haircut component named with its figure and what drove
it, the cap by patent type, and why a patent is refused, all in Chinese, from the same numbers as the English text.
The engine gives codes and numbers (``haircut_basis``, the scenarios' ``basis``); :mod:`ipvalue.report.explain`
words them, and these tests read the worded texts.
"""

from __future__ import annotations

import math
import re
from collections import Counter

import numpy as np
import pandas as pd
import pytest

from ipvalue.collateral import REASON_CODES, CollateralContext, assess_collateral, load_policy
from ipvalue.collateral._inputs import check_frame
from ipvalue.collateral.eligibility import describe_reasons
from ipvalue.collateral.haircut import (
    COMPONENTS,
    basel_scaling_factor,
    compute_haircuts,
    finish_haircut_basis,
)
from ipvalue.collateral.liquidation import LIQUIDATION_COLUMNS
from ipvalue.collateral.stress import STRESS_SHOCKS, StressShock, run_stress
from ipvalue.report.explain import COMPONENT_NAMES, PATENT_TYPE_NAMES, haircut_texts, with_texts

COMPONENT_LABELS_ZH = {c: names["zh"] for c, names in COMPONENT_NAMES.items()}
PATENT_TYPE_LABELS_ZH = {t: names["zh"] for t, names in PATENT_TYPE_NAMES.items()}

CJK = re.compile(r"[\u4e00-\u9fff]")
ENGLISH_WORDS = re.compile(
    r"\b(?:valuation|market|legal|life|concentration|currency|composed|cap|collateral)\b"
)
Z90 = 1.6448536269514722  # the 95% standard normal quantile


def pct(x: float, digits: int = 1) -> str:
    return f"{x * 100:.{digits}f}%"


def numbers(text: str) -> Counter:
    """The figures in a text (percentages and decimals), quantile labels such as P05 left out."""
    text = re.sub(r"[Pp]\d\d", " ", text)
    return Counter(re.findall(r"-?\d+(?:\.\d+)?%?", text))


# ------------------------------------------------------------------------------------------- a hand-built case
@pytest.fixture
def hand_case():
    """Two patents: A eligible with a full range and a mismatched currency, B refused with nothing known."""
    frame = pd.DataFrame(
        {
            "patent_id": ["CN1001A", "CN1002B"],
            "patent_type": ["invention", "utility_model"],
            "value": [1_000_000.0, 400_000.0],
            "value_p05": [500_000.0, np.nan],
            "value_p50": [1_000_000.0, np.nan],
            "value_p95": [2_000_000.0, np.nan],
            "volatility": [0.5, np.nan],
            "quality_legal": [80.0, np.nan],
            "remaining_life_years": [10.0, np.nan],
            "family_id": ["F1", "F2"],
            "cpc": ["H04L 9/32", None],
            "group": ["router", None],
            "ineligible_reasons": ["", "LAPSED;FEES_UNPAID"],
        }
    ).set_index("patent_id", drop=False)
    pol = load_policy("cn-bank-standard")
    out, _ = compute_haircuts(
        frame,
        eligible=np.array([True, False]),
        policy=pol,
        horizon_years=3.0,
        fx_rate=np.array([1.0, 1.0]),
        currency_mismatch=np.array([True, False]),
        fx_volatility=np.array([0.0619, 0.0]),  # EUR/CNY, ipvalue/data/fx_volatility.json
    )
    return frame, pol, _complete(out, frame)


def _complete(out: pd.DataFrame, frame: pd.DataFrame) -> pd.DataFrame:
    """The basis as the kernel completes it once the book-level liquidity haircut (0 here) is known, worded."""
    full = pd.concat([frame[["patent_type"]], out], axis=1)
    full["binding_component"] = np.where(full["cap_binding"], "pledge_rate_cap", "market")
    done = finish_haircut_basis(full, confidence=0.5)
    done["haircut_explanation"] = haircut_texts(done, "en")
    done["haircut_explanation_zh"] = haircut_texts(done, "zh")
    return done


def test_hand_case_names_each_component_with_its_figure(hand_case):
    _, pol, out = hand_case
    zh = out.loc["CN1001A", "haircut_explanation_zh"]
    # by hand, from the formulas of docs/methodology/collateral.md (cn-bank-standard: k 0.5, legal max 30%,
    # revaluation 250 + liquidation 125 business days, q 95%, obsolescence 10%/y, Hfx 8% over 10 days)
    s = math.log(2_000_000 / 500_000) / (2 * Z90)
    h_val = 1 - math.exp(-0.5 * s)
    t = (250 + 125 - 1) / 250
    h_mkt = 1 - math.exp(-0.10 * t - Z90 * 0.5 * math.sqrt(t))
    h_leg = 0.30 * (1 - 80 / 100)
    annuity = lambda n: (1 - 1.1**-n) / 0.1  # noqa: E731
    h_life = 1 - annuity(10 - 4) / annuity(10)
    h_conc = 1 - (1 - 0.1 * 1.0) * (1 - 0.05 * 1.0) * (1 - 0.05 * 1.0)  # A is the whole pool in every bucket
    h_fx = 1 - math.exp(-Z90 * 0.0619 * math.sqrt(t))  # the pair's volatility at the policy's 95% over T
    hand = {
        "valuation": h_val,
        "market": h_mkt,
        "legal": h_leg,
        "life": h_life,
        "concentration": h_conc,
        "currency": h_fx,
    }
    for c, h in hand.items():
        assert out.loc["CN1001A", f"haircut_{c}"] == pytest.approx(h, rel=1e-9), c
        assert f"{COMPONENT_LABELS_ZH[c]} {pct(h)}（" in zh, (c, zh)
    # what drove each one
    assert f"P05–P95 区间对数标准差 {s:.2f} × k 0.50" in zh
    assert "年波动率 50%，漂移 -10%/年，重估间隔加处置期 1.50 年，95% 置信度" in zh
    assert "法律评分 80" in zh
    assert "剩余 10.0 年，贷款到期加处置期共 4.0 年" in zh
    assert "同族 100%，技术分类 H04L 100%，产品线 router 100%" in zh
    assert "以其他币种估值，汇率年波动率 6.2%，期限 1.50 年" in zh
    composed = 1 - np.prod([1 - h for h in hand.values()])
    assert f"综合折扣 {pct(composed)}" in zh
    # the cap by patent type: the composed haircut leaves less than 35%, so the engine must not bind the cap
    assert not out.loc["CN1001A", "cap_binding"]
    assert out.loc["CN1001A", "haircut_total"] == pytest.approx(composed, rel=1e-9)
    assert "质押率上限 35%（发明专利）未生效" in zh
    assert zh.endswith(f"押品价值为评估价值的 {pct(1 - composed)}")
    assert not ENGLISH_WORDS.search(zh)


def test_hand_case_ineligible_patent_in_chinese(hand_case):
    _, _, out = hand_case
    zh = out.loc["CN1002B", "haircut_explanation_zh"]
    lapsed, unpaid = REASON_CODES["LAPSED"][1], REASON_CODES["FEES_UNPAID"][1]
    assert zh.startswith(f"不符合质押条件（{lapsed}、{unpaid}）：押品价值为 0；")
    assert "LAPSED" not in zh and "FEES_UNPAID" not in zh
    assert (
        "估值不确定性 30.0%（无 P05–P95 估值区间，采用默认折扣）" in zh
    )  # the policy's missing-range haircut
    assert "法律风险 30.0%（无法律评分，按最高法律折扣）" in zh
    assert "剩余保护期 100.0%（剩余保护期不明）" in zh
    assert "技术分类 未知" in zh and "产品线 未知" in zh
    assert "币种错配 0.0%（与贷款币种相同）" in zh
    assert "质押率上限 20%（实用新型）未生效" in zh
    assert zh.endswith("押品价值为评估价值的 0.0%")
    assert not ENGLISH_WORDS.search(zh)


def test_cap_binding_and_every_patent_type_in_chinese(hand_case):
    frame, pol, _ = hand_case
    f = frame.copy()
    f["patent_type"] = ["design", None]
    f["ineligible_reasons"] = ""
    out, _ = compute_haircuts(
        f,
        eligible=np.array([True, True]),
        policy=pol,
        horizon_years=1.0,
        fx_rate=np.ones(2),
        currency_mismatch=np.zeros(2, dtype=bool),
    )
    a, b = _complete(out, f)["haircut_explanation_zh"]
    assert "质押率上限 0%（外观设计）已生效" in a and a.endswith("押品价值为评估价值的 0.0%")
    assert "（类型不明）" in b
    assert set(PATENT_TYPE_LABELS_ZH) == set(pol["pledge_rate_cap"])  # every type the policy caps has a name


def test_zero_and_half_ranges_say_so(hand_case):
    frame, pol, _ = hand_case
    f = frame.iloc[[0, 0, 0]].copy()
    f.index = pd.Index(["X1", "X2", "X3"], name="patent_id")
    f["patent_id"] = f.index
    f["ineligible_reasons"] = ""
    f["value_p05"] = [0.0, 0.0, 0.0]
    f["value_p50"] = [800_000.0, 0.0, 0.0]
    f["value_p95"] = [2_000_000.0, 1_000.0, 0.0]
    out, _ = compute_haircuts(
        f,
        eligible=np.ones(3, dtype=bool),
        policy=pol,
        horizon_years=1.0,
        fx_rate=np.ones(3),
        currency_mismatch=np.zeros(3, dtype=bool),
    )
    x1, x2, x3 = haircut_texts(out, "zh")
    e1, e2, e3 = haircut_texts(out, "en")
    s = math.log(2_000_000 / 800_000) / Z90
    assert f"P05 is 0: upper-half P50-P95 log-sd {s:.2f}" in e1
    assert "valuation 100.0% (P05 and P50 both 0, full haircut)" in e2
    assert "(appraised value 0, no range)" in e3
    for en, zh in ((e1, x1), (e2, x2), (e3, x3)):
        assert numbers(en) == numbers(zh)
    assert f"P05 为 0，按 P50–P95 上半区间对数标准差 {s:.2f}" in x1
    assert "估值不确定性 100.0%（P05 与 P50 均为 0，全额折扣）" in x2
    assert "（评估价值为 0，无估值区间）" in x3


# --------------------------------------------------------------------- the basis: codes and numbers, no words
#: the texts the engine itself wrote for the hand case before the wording moved to the report (commit 523ff13,
#: ``haircut.compute_haircuts`` + ``finish_explanations``); the report's wording of the basis must repeat them:
#: every figure in them comes from the basis, so equal texts mean the numbers did not move. The one clause
#: worded differently since is the Chinese currency clause, which now names the FX volatility and horizon as
#: the English one always did.
OLD_TEXTS = {
    ("CN1001A", "en"): "valuation 19.0% (range log-sd 0.42 x k 0.50); market 68.5% (sigma 50%, drift -10%/y, "
    "T=1.50y, q95%); legal 6.0% (legal score 80); life 29.1% (10.0y left vs 4.0y to maturity plus disposal); "
    "concentration 18.8% (family 100%, class H04L 100%, line router 100% of pledged value); currency 11.7% "
    "(valued in another currency, FX sigma 6.2%, T=1.50y); liquidity 0.0% (full recovery on 50% of the "
    "liquidation paths at the maximum loan); composed 87.8%; cap 35% not binding (invention); binding: market; "
    "collateral 12.2% of value",
    (
        "CN1001A",
        "zh",
    ): "估值不确定性 19.0%（P05–P95 区间对数标准差 0.42 × k 0.50）；持有期价格波动 68.5%（年波动率 "
    "50%，漂移 -10%/年，重估间隔加处置期 1.50 年，95% 置信度）；法律风险 6.0%（法律评分 80）；剩余保护期 29.1%（剩余 "
    "10.0 年，贷款到期加处置期共 4.0 年）；集中度 18.8%（占质押价值：同族 100%，技术分类 H04L 100%，产品线 router "
    "100%）；币种错配 11.7%（以其他币种估值）；变现能力 0.0%（按最高贷款额放款时，50% 的清算路径可全额回收）；综合折扣 "
    "87.8%；质押率上限 35%（发明专利）未生效；起决定作用：持有期价格波动；押品价值为评估价值的 12.2%",
    ("CN1002B", "en"): "INELIGIBLE (LAPSED, FEES_UNPAID): collateral 0; valuation 30.0% (no p05-p95 range, "
    "default haircut); market 61.5% (sigma 40%, drift -10%/y, T=1.50y, q95%); legal 30.0% (no legal score, full "
    "legal haircut); life 100.0% (remaining life unknown); concentration 0.0% (family 0%, class unknown 0%, line "
    "unknown 0% of pledged value); currency 0.0% (same currency); liquidity 0.0% (full recovery on 50% of the "
    "liquidation paths at the maximum loan); composed 100.0%; cap 20% not binding (utility_model); binding: "
    "market; collateral 0.0% of value",
    (
        "CN1002B",
        "zh",
    ): "不符合质押条件（未缴年费终止、年费未缴或处于滞纳期）：押品价值为 0；估值不确定性 30.0%（无 "
    "P05–P95 估值区间，采用默认折扣）；持有期价格波动 61.5%（年波动率 40%，漂移 -10%/年，重估间隔加处置期 1.50 年，"
    "95% 置信度）；法律风险 30.0%（无法律评分，按最高法律折扣）；剩余保护期 100.0%（剩余保护期不明）；集中度 0.0%（占"
    "质押价值：同族 0%，技术分类 未知 0%，产品线 未知 0%）；币种错配 0.0%（与贷款币种相同）；变现能力 0.0%（按最高贷"
    "款额放款时，50% 的清算路径可全额回收）；综合折扣 100.0%；质押率上限 20%（实用新型）未生效；起决定作用：持有期"
    "价格波动；押品价值为评估价值的 0.0%",
}


def test_report_wording_repeats_the_engines_former_texts(hand_case):
    _, _, out = hand_case
    for (pid, lang), old in OLD_TEXTS.items():
        new = out.loc[pid, "haircut_explanation_zh" if lang == "zh" else "haircut_explanation"]
        if (pid, lang) == ("CN1001A", "zh"):
            old = old.replace("（以其他币种估值）", "（以其他币种估值，汇率年波动率 6.2%，期限 1.50 年）")
        assert new == old, (pid, lang)


def test_basis_is_small_json_with_codes_and_numbers_only(hand_case):
    import json

    from ipvalue.collateral.haircut import BASIS_KEYS

    _, pol, out = hand_case
    for pid in out.index:
        basis = out.loc[pid, "haircut_basis"]
        assert tuple(basis) == BASIS_KEYS  # stable keys, in a stable order
        text = json.dumps(basis, ensure_ascii=False, allow_nan=False)  # JSON as it is: no NaN, no infinity
        assert not CJK.search(text), pid  # no words in either language
        assert len(text) < 1500, len(text)
        for c in COMPONENTS:
            assert basis[c]["value"] == out.loc[pid, f"haircut_{c}"], (
                pid,
                c,
            )  # the column's number, unrounded
            assert isinstance(basis[c]["code"], str)
        assert basis["pledge_rate"] == pytest.approx(1 - out.loc[pid, "haircut_total"], abs=1e-15)
    a, b = out.loc["CN1001A", "haircut_basis"], out.loc["CN1002B", "haircut_basis"]
    assert a["ineligible"] == [] and b["ineligible"] == ["LAPSED", "FEES_UNPAID"]
    assert a["valuation"]["code"] == "range" and b["valuation"]["code"] == "no_range"
    assert a["valuation"]["log_sd"] == pytest.approx(math.log(4) / (2 * Z90))
    assert b["valuation"]["log_sd"] is None and b["legal"]["score"] is None and b["life"]["code"] == "unknown"
    assert a["currency"] == {
        "code": "mismatch",
        "value": out.loc["CN1001A", "haircut_currency"],
        "fx_volatility": 0.0619,
        "horizon_years": pytest.approx((250 + 125 - 1) / 250),
    }
    assert a["market"]["code"] == pol["market_method"] == "lognormal_quantile"
    assert a["cap"] == 0.35 and a["patent_type"] == "invention" and a["binding"] == "market"


def test_every_numeric_column_is_the_same_as_before_the_wording_moved(valued, loan):
    """Only text columns changed: each number equals one the former English text printed, at its rounding.

    The former engine printed ``<component> <haircut to 0.1%>``, ``composed``, ``cap`` and ``collateral``
    (pledge rate) from these columns; the report words the basis, which carries the columns' values unrounded.
    """
    a = assess_collateral(valued, loan=loan, paths=500, stress=False)
    p = a.patents
    en = haircut_texts(p, "en")
    for pid in p.index:
        for c in COMPONENTS:
            assert f"{c} {pct(p.loc[pid, f'haircut_{c}'])} (" in en[pid]
        assert en[pid].endswith(f"collateral {pct(1 - p.loc[pid, 'haircut_total'])} of value")
    numeric = p.select_dtypes(include=["number", "bool"]).columns
    assert not any("basis" in c or "explanation" in c for c in numeric)
    assert "haircut_explanation" not in p.columns and "haircut_explanation_zh" not in p.columns


# ------------------------------------------------------------------------------- same figures in both languages
@pytest.mark.parametrize("policy", ["cn-bank-standard", "basel-internal", "conservative"])
def test_chinese_and_english_carry_the_same_figures(make_frame, loan, policy):
    a = assess_collateral(make_frame(16, seed=5), loan=loan, policy=policy, paths=500, stress=False)
    p = with_texts(a).patents
    assert p["haircut_explanation_zh"].notna().all()
    for pid in p.index:
        en, zh = p.loc[pid, "haircut_explanation"], p.loc[pid, "haircut_explanation_zh"]
        assert numbers(en) == numbers(zh), pid
        assert CJK.search(zh) and not ENGLISH_WORDS.search(zh), pid
        for c in COMPONENTS:
            assert f"{COMPONENT_LABELS_ZH[c]} {pct(p.loc[pid, f'haircut_{c}'])}（" in zh
    if load_policy(policy)["market_method"] == "basel_scaling":
        pol = load_policy(policy)
        factor = basel_scaling_factor(
            pol["revaluation_interval_days"], pol["liquidation_period_days"], pol["estimation_period_days"]
        )
        assert f"日折扣 × {factor:.2f}" in p["haircut_explanation_zh"].iloc[0]


# ---------------------------------------------------------------------------------------------- reason labels
def test_every_reason_code_has_a_chinese_label():
    for code, (en, zh) in REASON_CODES.items():
        assert en and not CJK.search(en), code
        assert CJK.search(zh), code
        assert not re.search(r"[A-Za-z]", zh), (code, zh)  # no English left in the label
        assert not re.search(r"[(),;]", zh), (code, zh)  # full-width punctuation in Chinese text
    assert len({zh for _, zh in REASON_CODES.values()}) == len(REASON_CODES)  # labels tell codes apart


def test_describe_reasons_translates_every_code_in_order():
    codes = list(REASON_CODES)
    reasons = pd.Series(
        [";".join(codes), "", None, "LAPSED;SOMETHING_NEW"], index=list("abcd"), dtype="string"
    )
    zh = describe_reasons(reasons, "zh")
    assert list(zh.index) == list("abcd")
    assert zh["a"].split("、") == [REASON_CODES[c][1] for c in codes]
    assert zh["b"] == "" and zh["c"] == ""
    assert zh["d"] == f"{REASON_CODES['LAPSED'][1]}、SOMETHING_NEW"  # an unknown code is kept, not dropped
    en = describe_reasons(reasons, "en", sep=" | ")
    assert en["a"].split(" | ") == [REASON_CODES[c][0] for c in codes]
    with pytest.raises(ValueError, match="lang"):
        describe_reasons(reasons, "de")


def test_every_reason_the_engine_raises_reaches_the_chinese_explanation(make_frame, loan):
    """Patents refused for several reasons at once: each code's label is in the explanation."""
    f = make_frame(6, seed=2)
    f.loc[f.index[0], "legal_status"] = "lapsed"
    f.loc[f.index[1], "pledged"] = True
    f.loc[f.index[2], "invalidation_pending"] = True
    f.loc[f.index[3], "owner"] = "别的公司"
    f.loc[f.index[4], "fees_paid_through"] = pd.Timestamp("2020-01-01")
    a = assess_collateral(f, loan=loan, paths=200, stress=False)
    p = with_texts(a).patents
    refused = p.loc[~p["eligible"]]
    assert len(refused) >= 5
    for pid, row in refused.iterrows():
        codes = row["ineligible_reasons"].split(";")
        zh = row["haircut_explanation_zh"]
        assert zh.startswith("不符合质押条件（"), pid
        for code in codes:
            assert REASON_CODES[code][1] in zh, (pid, code)
            assert code not in zh, (pid, code)


# ------------------------------------------------------------------------------------- liquidation and stress
def test_liquidation_rows_have_chinese_descriptions(valued, loan):
    a = assess_collateral(valued, loan=loan, paths=1000, stress=False)
    assert list(a.liquidation.columns) == list(LIQUIDATION_COLUMNS) and "basis" in a.liquidation.columns
    assert "description" not in a.liquidation.columns  # the engine gives codes and numbers, no words
    liq = with_texts(a).liquidation
    pol = load_policy("cn-bank-standard")
    for _, r in liq.iterrows():
        assert CJK.search(r["description_zh"]), r["scenario"]
        assert not re.search(r"\b(?:sold|sale|auction|median|paths|chance)\b", r["description_zh"])
        assert numbers(r["description"]) == numbers(r["description_zh"]), r["scenario"]
    by = liq.set_index("scenario")["description_zh"]
    assert f"起拍价为评估价的 {pol['judicial_first_reserve']:.0%}" in by["judicial_first_auction"]
    assert f"{pol['judicial_sale_period_days']} 日变卖期" in by["judicial_sale_period"]
    assert "1,000 条路径" in by["monte_carlo"]


def test_stress_rows_have_chinese_descriptions(valued, loan):
    a = assess_collateral(valued, loan=loan, paths=500)
    st = a.stress.set_index("shock")
    cols = list(a.stress.columns)
    assert cols.index("description_zh") == cols.index("description") + 1
    for shock in STRESS_SHOCKS:
        zh = st.loc[shock.name, "description_zh"]
        assert shock.description_zh and zh.startswith(shock.description_zh), shock.name
        assert CJK.search(zh)
    # the synthetic frame has no economics: the royalty cut is applied directly and says why, in Chinese
    assert "直接作用于估值结果" in st.loc["royalty_cut", "description_zh"]
    assert "无法重新估值" in st.loc["royalty_cut", "description_zh"]
    assert "applied directly" not in st.loc["royalty_cut", "description_zh"]


def test_a_custom_shock_without_chinese_falls_back_to_english(valued, loan):
    def direct(frame, ctx):
        return frame, "nothing changes"

    shock = StressShock("noop", "a shock with English text only", None, direct, {})
    frame = check_frame(valued).sort_index()
    base = assess_collateral(valued, loan=loan, paths=200, stress=False)
    ctx = CollateralContext(
        loan=loan,
        policy=load_policy("cn-bank-standard"),
        seed=0,
        as_of=pd.Timestamp(valued.attrs["ipvalue"]["as_of"]).date(),
        paths=200,
    )
    out = run_stress(
        frame,
        ctx,
        base=base.summary,
        base_patents=base.patents,
        shocks=(shock,),
    )
    assert out.loc[0, "description"] == "a shock with English text only; nothing changes"
    assert out.loc[0, "description_zh"] == "a shock with English text only；nothing changes"
