"""Every label the report shows, in Chinese (``zh``) and English (``en``).

Codes coming from the collateral engine (ineligibility reasons, flags, haircut components, liquidation scenarios,
stress shocks) are translated here; an unknown code is shown as it is (English) or with its code kept visible
(Chinese), never dropped.
"""

from __future__ import annotations

import functools
import re

__all__ = [
    "LANGS",
    "LABELS",
    "COLUMNS",
    "SUMMARY_LABELS",
    "REASONS",
    "FLAGS",
    "COMPONENTS",
    "SCENARIOS",
    "SHOCKS",
    "METHODS",
    "PATENT_TYPES",
    "LEGAL_STATUSES",
    "label",
    "translate_code",
    "translate_codes",
    "check_lang",
    "MARKET_LABELS",
]

LANGS: tuple[str, ...] = ("zh", "en")

#: section titles and free-standing words
LABELS: dict[str, dict[str, str]] = {
    "report_title": {"zh": "知识产权质押融资 押品评估报告", "en": "Patent collateral assessment report"},
    "subtitle": {
        "zh": "专利组合估值、押品价值与处置情景",
        "en": "Portfolio value, collateral value and liquidation scenarios",
    },
    "borrower": {"zh": "借款人", "en": "Borrower"},
    "loan": {"zh": "贷款", "en": "Loan"},
    "tenor": {"zh": "期限（年）", "en": "Tenor (years)"},
    "as_of": {"zh": "评估基准日", "en": "Valuation date"},
    "policy": {"zh": "押品政策", "en": "Collateral policy"},
    "generated": {"zh": "生成时间", "en": "Generated"},
    "summary": {"zh": "一、评估摘要", "en": "1. Summary"},
    "key_figures": {"zh": "关键指标", "en": "Key figures"},
    "flags": {"zh": "需关注事项", "en": "Points for the credit committee"},
    "no_flags": {"zh": "无", "en": "None"},
    "patents": {"zh": "二、专利明细", "en": "2. Patents"},
    "value_by_method": {"zh": "三、分方法评估价值", "en": "3. Value by method"},
    "haircuts": {
        "zh": "四、折扣瀑布：从评估价值到押品价值",
        "en": "4. Haircut waterfall: from appraised to collateral value",
    },
    "exceptions": {"zh": "五、不符合质押条件的专利", "en": "5. Eligibility exceptions"},
    "no_exceptions": {"zh": "全部专利符合质押条件。", "en": "Every patent is eligible."},
    "quality": {"zh": "六、质量评分", "en": "6. Quality scores"},
    "liquidation": {
        "zh": "七、处置情景与回收分布",
        "en": "7. Liquidation scenarios and recovery distribution",
    },
    "stress": {"zh": "八、压力测试", "en": "8. Stress tests"},
    "timeline": {"zh": "九、剩余保护期与年费", "en": "9. Remaining life and renewal fees"},
    "assumptions": {"zh": "十、假设与来源", "en": "10. Assumptions and sources"},
    "policy_parameters": {"zh": "押品政策参数", "en": "Policy parameters"},
    "audit": {"zh": "十一、审计信息", "en": "11. Audit"},
    "step": {"zh": "项目", "en": "Step"},
    "amount": {"zh": "金额", "en": "Amount"},
    "share_of_appraised": {"zh": "占评估价值", "en": "Share of appraised value"},
    "appraised_start": {"zh": "评估价值", "en": "Appraised value"},
    "ineligible_removed": {"zh": "剔除不合格专利", "en": "Ineligible patents removed"},
    "collateral_end": {"zh": "押品价值", "en": "Collateral value"},
    "max_loan_end": {"zh": "最高可贷额", "en": "Maximum loan"},
    "other_haircut": {"zh": "其他折扣", "en": "Other haircut"},
    "advance_step": {"zh": "可贷比例上限", "en": "Loan-to-collateral limit"},
    "method": {"zh": "方法", "en": "Method"},
    "total": {"zh": "合计", "en": "Total"},
    "patents_valued": {"zh": "有该方法估值的专利数", "en": "Patents valued by the method"},
    "range": {"zh": "区间（P5–P95）", "en": "Range (P5–P95)"},
    "reasons": {"zh": "原因", "en": "Reasons"},
    "mean": {"zh": "均值", "en": "Mean"},
    "median": {"zh": "中位数", "en": "Median"},
    "min": {"zh": "最小值", "en": "Min"},
    "max": {"zh": "最大值", "en": "Max"},
    "score": {"zh": "评分", "en": "Score"},
    "recovery_rate": {"zh": "回收率", "en": "Recovery rate"},
    "paths": {"zh": "模拟路径占比", "en": "Share of simulated paths"},
    "n_paths": {"zh": "模拟路径数", "en": "Simulated paths"},
    "recovery_hist_title": {
        "zh": "回收率分布（蒙特卡洛，银行自留口径）",
        "en": "Recovery distribution (Monte Carlo, bank-retained)",
    },
    "recovery_mean": {"zh": "均值", "en": "mean"},
    "recovery_q01": {"zh": "1% 分位", "en": "1% quantile"},
    "change": {"zh": "变动", "en": "Change"},
    "remaining_life_years": {"zh": "剩余保护期（年）", "en": "Remaining life (years)"},
    "loan_tenor": {"zh": "贷款期限", "en": "Loan tenor"},
    "eligible_yes": {"zh": "是", "en": "Yes"},
    "eligible_no": {"zh": "否", "en": "No"},
    "fees_title": {"zh": "贷款期内应缴年费", "en": "Renewal fees due during the loan"},
    "fees_unavailable": {
        "zh": "未能生成年费计划（缺少申请日或费用表）；请核对年费缴纳至日。",
        "en": "No renewal-fee schedule could be built (filing dates or fee tables missing); check the fees-paid-through dates.",
    },
    "fee_year": {"zh": "贷款年度", "en": "Loan year"},
    "fee_period": {"zh": "期间", "en": "Period"},
    "fees_overdue": {"zh": "已逾期（宽限期内）", "en": "Overdue (in grace)"},
    "loan_year_n": {"zh": "第{n}年", "en": "Year {n}"},
    "fees_by_patent": {"zh": "各专利年费（贷款期内）", "en": "Fees by patent (during the loan)"},
    "next_fee_due": {"zh": "下次缴费日", "en": "Next fee due"},
    "pledge_cap": {"zh": "质押率上限（按专利类型）", "en": "Pledge-rate cap (by patent type)"},
    "haircut_explanations": {"zh": "逐项专利折扣说明", "en": "Haircut explanation by patent"},
    "fee_amount": {"zh": "年费合计", "en": "Fees due"},
    "fee_count": {"zh": "缴费笔数", "en": "Payments"},
    "name": {"zh": "名称", "en": "Name"},
    "value": {"zh": "取值", "en": "Value"},
    "source": {"zh": "来源", "en": "Source"},
    "key": {"zh": "项目", "en": "Item"},
    "units_money": {"zh": "金额单位", "en": "Money in"},
    "page": {"zh": "第 {page} 页 / 共 {pages} 页", "en": "Page {page} of {pages}"},
    "not_available": {"zh": "—", "en": "—"},
    "disclaimer": {
        "zh": "本报告由 ipvalue 自动生成，用于银行内部风险评估，不构成资产评估机构出具的评估报告；"
        "押品折扣为内部风险计量口径，与监管资本计量分开列示。",
        "en": "Generated by ipvalue for a bank's internal risk assessment; it is not an appraisal report issued by a "
        "licensed valuer. Haircuts are an internal risk measure, reported apart from any regulatory capital figure.",
    },
    "chart_value_axis": {"zh": "价值（{unit}）", "en": "Value ({unit})"},
    "chart_method_title": {
        "zh": "分方法组合价值（误差线：P5–P95）",
        "en": "Portfolio value by method (bar: P5–P95)",
    },
    "chart_waterfall_title": {"zh": "从评估价值到押品价值", "en": "From appraised value to collateral value"},
    "chart_quality_title": {"zh": "质量评分分布（0–100）", "en": "Quality scores (0–100)"},
    "chart_quality_vs_value": {"zh": "质量评分与评估价值", "en": "Quality score and appraised value"},
    "chart_scenarios_title": {"zh": "各处置情景回收率", "en": "Recovery rate by scenario"},
    "chart_stress_title": {"zh": "压力情景下押品价值变动", "en": "Change in collateral value under stress"},
    "chart_life_title": {"zh": "剩余保护期与贷款期限", "en": "Remaining life against the loan tenor"},
    "chart_fees_title": {"zh": "贷款期内年费（按年）", "en": "Renewal fees during the loan, by year"},
    "eligible": {"zh": "合格", "en": "Eligible"},
    "ineligible": {"zh": "不合格", "en": "Ineligible"},
    "more_patents": {"zh": "另有 {n} 项专利未在图中列示", "en": "{n} more patents not shown"},
}

#: labels of the assessment summary keys (see ``ipvalue.collateral.SUMMARY_KEYS``)
SUMMARY_LABELS: dict[str, dict[str, str]] = {
    "currency": {"zh": "币种", "en": "Currency"},
    "as_of": {"zh": "评估基准日", "en": "Valuation date"},
    "policy": {"zh": "押品政策", "en": "Policy"},
    "seed": {"zh": "随机数种子", "en": "Seed"},
    "n_patents": {"zh": "专利数量", "en": "Patents"},
    "n_eligible": {"zh": "合格专利数量", "en": "Eligible patents"},
    "appraised_value": {"zh": "评估价值", "en": "Appraised value"},
    "appraised_value_p05": {"zh": "评估价值 P5", "en": "Appraised value P5"},
    "appraised_value_p95": {"zh": "评估价值 P95", "en": "Appraised value P95"},
    "appraised_range": {"zh": "评估价值区间（P5–P95）", "en": "Appraised value range (P5–P95)"},
    "eligible_value": {"zh": "合格专利评估价值", "en": "Appraised value of eligible patents"},
    "collateral_value": {"zh": "押品价值", "en": "Collateral value"},
    "max_loan": {"zh": "最高可贷额", "en": "Maximum loan"},
    "loan_amount": {"zh": "申请贷款金额", "en": "Loan amount"},
    "ltv": {"zh": "质押率（贷款/合格评估价值）", "en": "Loan-to-value (loan / eligible appraised value)"},
    "coverage_ratio": {"zh": "押品覆盖率（押品价值/贷款）", "en": "Coverage (collateral value / loan)"},
    "shortfall": {"zh": "超额缺口（贷款−最高可贷额）", "en": "Shortfall (loan − maximum loan)"},
    "bank_retained_exposure": {"zh": "银行自留敞口", "en": "Bank-retained exposure"},
    "expected_lgd": {"zh": "预期违约损失率", "en": "Expected LGD"},
    "expected_lgd_gross": {"zh": "预期违约损失率（风险分担前）", "en": "Expected LGD before risk sharing"},
    "paths": {"zh": "模拟路径数", "en": "Simulated paths"},
    "hhi": {"zh": "集中度（HHI）", "en": "Concentration (HHI)"},
    "lgd_95": {"zh": "95% 分位违约损失率", "en": "95% LGD"},
    "lgd_99": {"zh": "99% 分位违约损失率", "en": "99% LGD"},
    "probability_of_default": {"zh": "违约概率", "en": "Probability of default"},
    "expected_loss": {"zh": "预期损失", "en": "Expected loss"},
    "prob_full_recovery": {"zh": "全额回收概率", "en": "Probability of full recovery"},
    "expected_time_to_cash_years": {"zh": "预期变现时间（年）", "en": "Expected time to cash (years)"},
    "flags": {"zh": "提示", "en": "Flags"},
}

#: labels of the per-patent columns; unknown columns keep their own name
COLUMNS: dict[str, dict[str, str]] = {
    "patent_id": {"zh": "专利号", "en": "Patent"},
    "jurisdiction": {"zh": "国家/地区", "en": "Office"},
    "patent_type": {"zh": "专利类型", "en": "Type"},
    "title": {"zh": "专利名称", "en": "Title"},
    "owner": {"zh": "专利权人", "en": "Owner"},
    "filing_date": {"zh": "申请日", "en": "Filing date"},
    "priority_date": {"zh": "优先权日", "en": "Priority date"},
    "grant_date": {"zh": "授权公告日", "en": "Grant date"},
    "expiry_date": {"zh": "届满日", "en": "Expiry date"},
    "legal_status": {"zh": "法律状态", "en": "Legal status"},
    "fees_paid_through": {"zh": "年费缴纳至", "en": "Fees paid through"},
    "claims": {"zh": "权利要求数", "en": "Claims"},
    "independent_claims": {"zh": "独立权利要求数", "en": "Independent claims"},
    "forward_citations": {"zh": "被引次数", "en": "Forward citations"},
    "backward_citations": {"zh": "引用次数", "en": "Backward citations"},
    "family_size": {"zh": "同族数量", "en": "Family size"},
    "family_jurisdictions": {"zh": "同族国家/地区", "en": "Family offices"},
    "cpc": {"zh": "CPC 分类", "en": "CPC"},
    "pledged": {"zh": "已质押", "en": "Already pledged"},
    "invalidation_pending": {"zh": "无效宣告中", "en": "Invalidation pending"},
    "in_litigation": {"zh": "涉诉", "en": "In litigation"},
    "licensed": {"zh": "已许可", "en": "Licensed"},
    "group": {"zh": "产品线", "en": "Product line"},
    "revenue": {"zh": "收入", "en": "Revenue"},
    "royalty_rate": {"zh": "提成率", "en": "Royalty rate"},
    "discount_rate": {"zh": "折现率", "en": "Discount rate"},
    "remaining_life_years": {"zh": "剩余保护期（年）", "en": "Remaining life (years)"},
    "quality_legal": {"zh": "法律评分", "en": "Legal score"},
    "quality_technical": {"zh": "技术评分", "en": "Technical score"},
    "quality_economic": {"zh": "经济评分", "en": "Economic score"},
    "quality_score": {"zh": "综合质量评分", "en": "Quality score"},
    "value_income": {"zh": "收益法价值", "en": "Income-method value"},
    "value_cost": {"zh": "成本法价值", "en": "Cost-method value"},
    "value_option": {"zh": "实物期权价值", "en": "Real-option value"},
    "value": {"zh": "评估价值", "en": "Appraised value"},
    "value_p05": {"zh": "价值 P5", "en": "Value P5"},
    "value_p50": {"zh": "价值 P50", "en": "Value P50"},
    "value_p95": {"zh": "价值 P95", "en": "Value P95"},
    "methods_used": {"zh": "采用方法", "en": "Methods used"},
    "value_notes": {"zh": "估值说明", "en": "Valuation notes"},
    "currency": {"zh": "币种", "en": "Currency"},
    "eligible": {"zh": "符合质押条件", "en": "Eligible"},
    "ineligible_reasons": {"zh": "不合格原因", "en": "Ineligibility reasons"},
    "haircut_total": {"zh": "综合折扣率", "en": "Total haircut"},
    "haircut_amount": {"zh": "折扣金额", "en": "Haircut amount"},
    "collateral_value": {"zh": "押品价值", "en": "Collateral value"},
    "haircut_explanation": {"zh": "折扣说明", "en": "Haircut explanation"},
    "haircut_explanation_zh": {"zh": "折扣说明（中文）", "en": "Haircut explanation (Chinese)"},
    # liquidation frame
    "scenario": {"zh": "情景", "en": "Scenario"},
    "probability": {"zh": "概率", "en": "Probability"},
    "gross_proceeds": {"zh": "处置所得（毛额）", "en": "Gross proceeds"},
    "costs": {"zh": "处置费用", "en": "Costs"},
    "recovery": {"zh": "回收金额", "en": "Recovery"},
    "recovery_rate": {"zh": "回收率", "en": "Recovery rate"},
    "lgd": {"zh": "违约损失率（银行自留）", "en": "LGD (bank-retained)"},
    "lgd_gross": {"zh": "违约损失率（分担前）", "en": "LGD (before sharing)"},
    "lgd_99": {"zh": "99% 分位违约损失率", "en": "99% LGD"},
    "change_expected_lgd": {"zh": "预期违约损失率变动", "en": "Change in expected LGD"},
    "revalued": {"zh": "重新估值", "en": "Revalued"},
    "pledge_rate_cap": {"zh": "质押率上限", "en": "Pledge-rate cap"},
    "cap_binding": {"zh": "上限生效", "en": "Cap binds"},
    "owner_match": {"zh": "权利人一致", "en": "Owner matches"},
    "fees_verified": {"zh": "年费已核实", "en": "Fees verified"},
    "fx_rate": {"zh": "汇率", "en": "FX rate"},
    "family_id": {"zh": "同族编号", "en": "Family"},
    "industry": {"zh": "行业", "en": "Industry"},
    "entity_size": {"zh": "主体规模", "en": "Entity size"},
    "earliest_filing_date": {"zh": "最早申请日", "en": "Earliest filing date"},
    "term_adjustment_days": {"zh": "期限补偿天数", "en": "Term adjustment (days)"},
    "revenue_growth": {"zh": "收入增长率", "en": "Revenue growth"},
    "rd_cost": {"zh": "研发成本", "en": "R&D cost"},
    "rd_year": {"zh": "研发年份", "en": "R&D year"},
    "fetched_at": {"zh": "获取时间", "en": "Fetched at"},
    "time_to_cash_years": {"zh": "变现时间（年）", "en": "Time to cash (years)"},
    # stress frame
    "shock": {"zh": "压力情景", "en": "Shock"},
    "description": {"zh": "说明", "en": "Description"},
    "description_zh": {"zh": "说明（中文）", "en": "Description (Chinese)"},
    "appraised_value": {"zh": "评估价值", "en": "Appraised value"},
    "max_loan": {"zh": "最高可贷额", "en": "Maximum loan"},
    "coverage_ratio": {"zh": "押品覆盖率", "en": "Coverage"},
    "expected_lgd": {"zh": "预期违约损失率", "en": "Expected LGD"},
    "change_collateral_value": {"zh": "押品价值变动", "en": "Change in collateral value"},
    "change_pct": {"zh": "变动比例", "en": "Change (%)"},
    # assumptions frame
    "name": {"zh": "名称", "en": "Name"},
    "source": {"zh": "来源", "en": "Source"},
}

#: ineligibility reason codes (stable codes of the collateral engine)
REASONS: dict[str, dict[str, str]] = {
    "NOT_GRANTED": {"zh": "尚未授权", "en": "Not granted"},
    "LAPSED": {"zh": "专利权已终止或失效", "en": "Lapsed or no longer in force"},
    "EXPIRED": {"zh": "保护期已届满", "en": "Term expired"},
    "REVOKED": {"zh": "已被宣告无效", "en": "Revoked (invalidated)"},
    "INVALIDATED": {"zh": "已被宣告无效", "en": "Declared invalid"},
    "TERM_SHORTER_THAN_LOAN": {"zh": "剩余保护期短于贷款期限", "en": "Remaining term shorter than the loan"},
    "FEES_UNPAID": {"zh": "年费未缴或处于滞纳期", "en": "Renewal fees unpaid or in the grace period"},
    "ALREADY_PLEDGED": {"zh": "已出质且质押尚未解除", "en": "Already pledged"},
    "INVALIDATION_PENDING": {"zh": "正处于无效宣告程序中", "en": "Invalidation proceedings pending"},
    "OWNER_MISMATCH": {"zh": "出质人不是登记专利权人", "en": "Pledgor is not the registered owner"},
    "TYPE_NOT_ACCEPTED": {"zh": "该专利类型不被政策接受", "en": "Patent type not accepted by the policy"},
    "IN_LITIGATION": {"zh": "涉及诉讼或权属纠纷", "en": "In litigation or ownership dispute"},
    "CO_OWNER_CONSENT": {"zh": "共有人未同意出质", "en": "Co-owners have not consented"},
    "REMAINING_LIFE_TOO_SHORT": {
        "zh": "剩余保护期低于政策下限",
        "en": "Remaining life below the policy minimum",
    },
    "NO_VALUE": {"zh": "无有效估值", "en": "No usable value"},
    "VALUATION_FAILED": {"zh": "估值失败", "en": "Valuation failed"},
    "JURISDICTION_NOT_ACCEPTED": {"zh": "该国家/地区不被政策接受", "en": "Office not accepted by the policy"},
    "MISSING_DATA": {"zh": "关键数据缺失", "en": "Key data missing"},
}

#: summary flags (short stable strings of the collateral engine)
FLAGS: dict[str, dict[str, str]] = {
    "SHORTFALL": {"zh": "申请贷款金额超过最高可贷额", "en": "Loan exceeds the maximum loan"},
    "LOAN_EXCEEDS_MAX_LOAN": {"zh": "申请贷款金额超过最高可贷额", "en": "Loan exceeds the maximum loan"},
    "COVERAGE_BELOW_TRIGGER": {"zh": "押品覆盖率低于监测阈值", "en": "Coverage below the monitoring trigger"},
    "LOW_COVERAGE": {"zh": "押品覆盖率偏低", "en": "Low coverage"},
    "CONCENTRATION": {"zh": "价值集中于少数专利", "en": "Value concentrated in few patents"},
    "HIGH_CONCENTRATION": {"zh": "价值集中于少数专利", "en": "Value concentrated in few patents"},
    "INELIGIBLE_PATENTS": {"zh": "部分专利不符合质押条件", "en": "Some patents are ineligible"},
    "NO_ELIGIBLE_PATENTS": {"zh": "没有符合质押条件的专利", "en": "No eligible patent"},
    "PD_MISSING": {
        "zh": "未提供违约概率，无法计算预期损失",
        "en": "No probability of default: expected loss not computed",
    },
    "NO_PD": {
        "zh": "未提供违约概率，无法计算预期损失",
        "en": "No probability of default: expected loss not computed",
    },
    "TAIL_LGD_100": {"zh": "尾部情景下全额损失", "en": "Total loss in the tail"},
    "HIGH_TAIL_LGD": {"zh": "尾部违约损失率高", "en": "High tail LGD"},
    "FEES_DUE_DURING_LOAN": {"zh": "贷款期内有年费到期", "en": "Renewal fees fall due during the loan"},
    "TERM_SHORT": {"zh": "部分专利剩余保护期较短", "en": "Some patents have a short remaining term"},
    "INVALIDATION_PENDING": {"zh": "存在无效宣告程序", "en": "Invalidation proceedings pending"},
    "LITIGATION": {"zh": "存在涉诉专利", "en": "Patents in litigation"},
    "VALUATION_FAILURES": {"zh": "部分专利估值失败", "en": "Some valuations failed"},
    "WIDE_VALUE_RANGE": {"zh": "估值区间较宽", "en": "Wide value range"},
    "MODEL_VALUE_ONLY": {"zh": "价值仅来自模型", "en": "Value comes from models only"},
    "CURRENCY_MISMATCH": {"zh": "币种错配", "en": "Currency mismatch"},
    "RISK_SHARING": {"zh": "有风险分担安排", "en": "Risk sharing in place"},
    "CAP_BINDING": {"zh": "质押率上限约束生效", "en": "The pledge-rate cap binds"},
    "CURRENCY_ASSUMED": {
        "zh": "估值币种未给出，按贷款币种处理",
        "en": "Valuation currency not given: loan currency assumed",
    },
    "FEES_UNVERIFIED": {
        "zh": "部分合格专利的年费缴纳情况未核实",
        "en": "Fee payments of some eligible patents not verified",
    },
    "OWNER_NOT_CHECKED": {
        "zh": "未提供借款人名称，未核对专利权人",
        "en": "No borrower name: ownership not checked",
    },
    "PD_UNKNOWN": {
        "zh": "未提供违约概率，无法计算预期损失",
        "en": "No probability of default: expected loss not computed",
    },
    "CONCENTRATED_FAMILY": {
        "zh": "押品价值集中于少数同族",
        "en": "Collateral concentrated in few patent families",
    },
    "CONCENTRATED_PRODUCT_LINE": {
        "zh": "押品价值集中于单一产品线",
        "en": "Collateral concentrated in one product line",
    },
    "TAIL_FULL_LOSS": {
        "zh": "尾部情景下银行自留敞口全额损失",
        "en": "Total loss of the bank-retained exposure in the tail",
    },
    "STRESS_COVERAGE_BREACH": {
        "zh": "压力情景下押品覆盖率低于 100%",
        "en": "Coverage falls below 100% under stress",
    },
}

#: haircut components (the ``haircut_<component>`` columns)
COMPONENTS: dict[str, dict[str, str]] = {
    "valuation": {"zh": "估值不确定性折扣", "en": "Valuation uncertainty"},
    "model": {"zh": "模型估值折扣", "en": "Model markdown"},
    "market": {"zh": "持有期价格波动折扣", "en": "Price move over the holding period"},
    "volatility": {"zh": "价格波动折扣", "en": "Price volatility"},
    "liquidity": {"zh": "变现能力折扣", "en": "Liquidity"},
    "fire_sale": {"zh": "快速处置折扣", "en": "Fire-sale discount"},
    "sale": {"zh": "处置折价", "en": "Sale discount"},
    "costs": {"zh": "处置费用", "en": "Disposal costs"},
    "cost": {"zh": "处置费用", "en": "Disposal costs"},
    "term": {"zh": "剩余期限折扣", "en": "Remaining term"},
    "life": {"zh": "剩余保护期折扣", "en": "Remaining life"},
    "remaining_life": {"zh": "剩余期限折扣", "en": "Remaining term"},
    "legal": {"zh": "法律风险折扣", "en": "Legal risk"},
    "invalidation": {"zh": "无效风险折扣", "en": "Invalidation risk"},
    "quality": {"zh": "质量折扣", "en": "Quality"},
    "concentration": {"zh": "集中度折扣", "en": "Concentration"},
    "fx": {"zh": "币种错配折扣", "en": "Currency mismatch"},
    "currency": {"zh": "币种错配折扣", "en": "Currency mismatch"},
    "type": {"zh": "专利类型折扣", "en": "Patent type"},
    "obsolescence": {"zh": "技术过时折扣", "en": "Obsolescence"},
    "borrower": {"zh": "与借款人经营相关折扣", "en": "Borrower dependence"},
}

#: liquidation scenarios
SCENARIOS: dict[str, dict[str, str]] = {
    "orderly": {"zh": "有序处置", "en": "Orderly sale"},
    "orderly_sale": {"zh": "有序处置", "en": "Orderly sale"},
    "forced": {"zh": "强制处置（司法拍卖）", "en": "Forced sale (judicial auction)"},
    "forced_sale": {"zh": "强制处置（司法拍卖）", "en": "Forced sale (judicial auction)"},
    "judicial_auction": {"zh": "司法拍卖", "en": "Judicial auction"},
    "auction": {"zh": "拍卖", "en": "Auction"},
    "license": {"zh": "许可变现", "en": "Licensing"},
    "no_sale": {"zh": "无法处置", "en": "No sale"},
    "monte_carlo": {"zh": "蒙特卡洛模拟", "en": "Monte Carlo"},
    "judicial_first_auction": {"zh": "司法拍卖（一拍成交）", "en": "Judicial auction, first round"},
    "judicial_second_auction": {"zh": "司法拍卖（二拍成交）", "en": "Judicial auction, second round"},
    "judicial_third_auction": {"zh": "司法拍卖（三拍成交）", "en": "Judicial auction, third round"},
    "judicial_sale_period": {"zh": "司法变卖期成交", "en": "Judicial sale period"},
    "judicial_unsold": {"zh": "司法处置流拍（以物抵债或中止）", "en": "Judicial disposal unsold"},
    "distressed_sale": {"zh": "困境出售", "en": "Distressed sale"},
    "fair_value": {"zh": "公允价值", "en": "Fair value"},
}

#: stress shocks
SHOCKS: dict[str, dict[str, str]] = {
    "base": {"zh": "基准", "en": "Base"},
    "invalidation": {"zh": "专利被宣告无效", "en": "Invalidation"},
    "obsolescence": {"zh": "技术过时", "en": "Technology obsolescence"},
    "market_crash": {"zh": "知识产权交易市场崩溃", "en": "IP market crash"},
    "ip_market_crash": {"zh": "知识产权交易市场崩溃", "en": "IP market crash"},
    "post_boom": {"zh": "价格回落", "en": "Post-boom reversion"},
    "post_boom_reversion": {"zh": "价格回落", "en": "Post-boom reversion"},
    "borrower_linked": {"zh": "与借款人经营绑定", "en": "Borrower-linked value"},
    "borrower_default": {"zh": "借款人违约后收入中断", "en": "Income stops at borrower default"},
    "legal": {"zh": "法律与执行障碍", "en": "Legal and enforcement"},
    "risk_sharer_failure": {"zh": "风险分担方失效", "en": "Risk-sharer failure"},
    "fund_exhausted": {"zh": "风险补偿资金池耗尽", "en": "Compensation fund exhausted"},
    "volatility_up": {"zh": "波动率上升", "en": "Higher volatility"},
    "rates_up": {"zh": "折现率上升", "en": "Higher discount rates"},
    "royalty_down": {"zh": "提成率下降", "en": "Lower royalty rates"},
    "revenue_down": {"zh": "收入下降", "en": "Lower revenue"},
    "royalty_cut": {"zh": "提成率下调", "en": "Royalty rates cut"},
    "discount_rate_up": {"zh": "折现率上升", "en": "Discount rates up"},
    "invalidation_largest_family": {"zh": "价值最大同族被宣告无效", "en": "Largest family invalidated"},
    "compensation_fund_exhausted": {"zh": "风险补偿资金池耗尽", "en": "Compensation fund exhausted"},
}

METHODS: dict[str, dict[str, str]] = {
    "income": {"zh": "收益法", "en": "Income"},
    "cost": {"zh": "成本法", "en": "Cost"},
    "option": {"zh": "实物期权法", "en": "Real option"},
    "real_option": {"zh": "实物期权法", "en": "Real option"},
    "market": {"zh": "市场法", "en": "Market"},
    "reconciled": {"zh": "综合评估价值", "en": "Reconciled value"},
}

PATENT_TYPES: dict[str, dict[str, str]] = {
    "invention": {"zh": "发明", "en": "Invention"},
    "utility_model": {"zh": "实用新型", "en": "Utility model"},
    "design": {"zh": "外观设计", "en": "Design"},
}

LEGAL_STATUSES: dict[str, dict[str, str]] = {
    "pending": {"zh": "审中", "en": "Pending"},
    "granted": {"zh": "有效", "en": "Granted"},
    "lapsed": {"zh": "失效", "en": "Lapsed"},
    "expired": {"zh": "届满", "en": "Expired"},
    "revoked": {"zh": "无效", "en": "Revoked"},
    "withdrawn": {"zh": "撤回", "en": "Withdrawn"},
}

_SPLIT = re.compile(r"[;,；，|]\s*")


def check_lang(lang: str) -> str:
    """Return ``lang`` if it is one of :data:`LANGS`, else raise ``ValueError``."""
    if lang not in LANGS:
        raise ValueError(f"lang must be one of {LANGS}, got {lang!r}")
    return lang


def _humanize(code: str) -> str:
    words = code.replace("-", "_").split("_")
    text = " ".join(w for w in words if w).lower()
    return text[:1].upper() + text[1:]


def label(key: str, lang: str, table: dict[str, dict[str, str]] | None = None, **fmt: object) -> str:
    """Label of ``key`` in ``lang`` from ``table`` (default :data:`LABELS`); the key itself when unknown."""
    entry = (LABELS if table is None else table).get(key)
    text = entry[lang] if entry else key
    return text.format(**fmt) if fmt else text


@functools.lru_cache(maxsize=1)
def _engine_reasons() -> dict[str, dict[str, str]]:
    """The collateral engine's own reason texts (``eligibility.REASON_CODES``: code -> (English, Chinese))."""
    try:
        from ipvalue.collateral.eligibility import REASON_CODES
    except Exception:  # noqa: BLE001 - without the engine, the report's own texts serve
        return {}
    out = {}
    for code, texts in REASON_CODES.items():
        if isinstance(texts, tuple | list) and len(texts) == 2:
            out[str(code)] = {"en": str(texts[0])[:1].upper() + str(texts[0])[1:], "zh": str(texts[1])}
    return out


def translate_code(code: object, table: dict[str, dict[str, str]], lang: str) -> str:
    """Translate one stable code; an unknown code is humanised (en) or kept as it is (zh).

    Reason codes take the collateral engine's own wording when it has the code.
    """
    if code is None or (isinstance(code, float) and code != code):
        return ""
    text = str(code).strip()
    entry = None
    if table is REASONS:
        entry = _engine_reasons().get(text.upper())
    entry = entry or table.get(text) or table.get(text.lower()) or table.get(text.upper())
    if entry:
        return entry[lang]
    return _humanize(text) if lang == "en" else text


def translate_codes(codes: object, table: dict[str, dict[str, str]], lang: str) -> list[str]:
    """Translate a ``;``-joined string (or a list) of codes; empty items are dropped."""
    if codes is None or (isinstance(codes, float) and codes != codes):
        return []
    items = [str(c) for c in codes] if isinstance(codes, list | tuple | set) else _SPLIT.split(str(codes))
    return [translate_code(c, table, lang) for c in items if str(c).strip()]


# ------------------------------------------------------------------------------------------------------------------
# Market approach (市场法, issue #14): the comparables table. Kept in its own block (other helpers edit the blocks
# above); ipvalue/report/_market.py reads it.

#: the comparables section and its columns, one row per (patent, comparable) used
MARKET_LABELS: dict[str, dict[str, str]] = {
    "market_title": {
        "zh": "市场法：可比交易及调整系数",
        "en": "Market approach: comparable transactions and adjustment factors",
    },
    "market_intro": {
        "zh": "每行为一件专利与一笔可比交易：调整后价值 = 成交价 × 技术 × 时间 × 剩余寿命 × 交易条件 × 交易方式 × 地域系数"
        "（许可费率可比交易经节省许可费法换算为价值）；市场法价值为各可比交易调整后价值的加权平均，"
        "最低与最高调整后价值为其区间。",
        "en": "One row per patent and comparable transaction: adjusted value = price × technology × time × remaining"
        " life × conditions × kind × territory factors (a royalty comparable becomes a value by relief from royalty);"
        " the market value is the weighted mean of the adjusted values, their lowest and highest its range.",
    },
    "market_not_used": {
        "zh": "已提供可比交易，但市场法未参与任何专利的加权（可比交易不足或技术距离过远）。",
        "en": "Comparable transactions were given, but the market approach carried weight for no patent"
        " (too few comparables, or too far in technology).",
    },
    "patent_id": {"zh": "专利号", "en": "Patent"},
    "comparable_id": {"zh": "可比交易", "en": "Comparable"},
    "level": {"zh": "IPC层级", "en": "IPC level"},
    "weight": {"zh": "权重", "en": "Weight"},
    "basis": {"zh": "依据", "en": "Basis"},
    "transaction_kind": {"zh": "交易方式", "en": "Kind"},
    "price": {"zh": "成交价", "en": "Price"},
    "royalty_rate": {"zh": "许可费率", "en": "Royalty"},
    "factor_technology": {"zh": "技术系数", "en": "Technology factor"},
    "factor_time": {"zh": "时间系数", "en": "Time factor"},
    "factor_life": {"zh": "寿命系数", "en": "Life factor"},
    "factor_conditions": {"zh": "交易条件系数", "en": "Conditions factor"},
    "factor_kind": {"zh": "交易方式系数", "en": "Kind factor"},
    "factor_territory": {"zh": "地域系数", "en": "Territory factor"},
    "adjusted_rate": {"zh": "调整后费率", "en": "Adjusted rate"},
    "adjusted_value": {"zh": "调整后价值", "en": "Adjusted value"},
    # values of the level, basis and kind columns
    "group": {"zh": "同大组", "en": "same main group"},
    "subclass": {"zh": "同小类", "en": "same subclass"},
    "class": {"zh": "同大类", "en": "same class"},
    "section": {"zh": "同部", "en": "same section"},
    "price_basis": {"zh": "成交价", "en": "price"},
    "royalty_basis": {"zh": "许可费率", "en": "royalty"},
    "assignment": {"zh": "转让", "en": "assignment"},
    "exclusive_licence": {"zh": "独占许可", "en": "exclusive licence"},
    "sole_licence": {"zh": "排他许可", "en": "sole licence"},
    "non_exclusive_licence": {"zh": "普通许可", "en": "non-exclusive licence"},
    "other_auction": {"zh": "拍卖", "en": "auction"},
    "judicial_auction": {"zh": "司法拍卖", "en": "judicial auction"},
}
