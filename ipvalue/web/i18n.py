"""The workbench's words in Chinese (the default) and English.

Labels of report figures, columns, reason codes, haircut components, scenarios and shocks come from the report's
own tables (:mod:`ipvalue.report._labels`), so the page and the report use the same words.
"""

from __future__ import annotations

__all__ = ["TEXTS", "text", "LANGS", "pick_lang"]

LANGS: tuple[str, ...] = ("zh", "en")

#: key -> (Chinese, English)
TEXTS: dict[str, tuple[str, str]] = {
    "app_name": ("知识产权质押评估工作台", "IP collateral workbench"),
    "skip": ("跳到正文", "Skip to content"),
    "nav": ("主导航", "Main navigation"),
    "nav_upload": ("上传组合", "Upload"),
    "nav_history": ("评估记录", "Assessments"),
    "nav_monitor": ("贷后监控", "Monitoring"),
    "nav_users": ("用户管理", "Users"),
    "nav_audit": ("审计日志", "Audit log"),
    "switch_lang": ("English", "中文"),
    "switch_lang_label": ("Switch to English", "切换到中文"),
    "signed_in_as": ("当前用户", "Signed in as"),
    "role_analyst": ("信贷分析员", "analyst"),
    "role_reviewer": ("审查员", "reviewer"),
    "role_admin": ("管理员", "admin"),
    "logout": ("退出", "Sign out"),
    "login_title": ("登录", "Sign in"),
    "username": ("用户名", "Username"),
    "password": ("密码", "Password"),
    "login": ("登录", "Sign in"),
    "login_failed": ("用户名或密码错误。", "Wrong username or password."),
    "login_locked": (
        "连续输错密码次数过多，账户已锁定至 {until}（UTC）。",
        "Too many wrong passwords: the account is locked until {until} (UTC).",
    ),
    "csrf_refused": (
        "表单缺少有效的安全令牌（CSRF），请求被拒绝。请刷新页面后重试。",
        "The form carried no valid security token (CSRF): refused. Reload the page and try again.",
    ),
    "forbidden": ("您的角色无权执行此操作。", "Your role may not do this."),
    "not_found": ("未找到。", "Not found."),
    "error_title": ("出错了", "Something went wrong"),
    "back": ("返回", "Back"),
    "upload_title": ("上传专利组合", "Upload a patent portfolio"),
    "upload_help": (
        "银行的 CSV 或 XLSX 文件，中文（专利号、申请日、法律状态……）或英文表头均可。运行前会先显示表头映射和每一行的问题。",
        "A bank's CSV or XLSX file with Chinese (专利号, 申请日, 法律状态 ...) or English headers. The header mapping "
        "and every row problem are shown before anything runs.",
    ),
    "file": ("文件", "File"),
    "upload_button": ("上传并检查", "Upload and check"),
    "upload_limit": ("最大 {mb} MB，最多 {n} 件专利。", "At most {mb} MB and {n} patents."),
    "refused_too_big": ("文件过大：{msg}", "File too big: {msg}"),
    "refused_not_spreadsheet": (
        "不是表格文件（CSV 或 XLSX）：{msg}",
        "Not a spreadsheet (CSV or XLSX): {msg}",
    ),
    "refused_xlsx_bomb": (
        "XLSX 文件解压后过大，疑似压缩炸弹：{msg}",
        "XLSX refused as a possible zip bomb: {msg}",
    ),
    "refused_too_many": ("专利数量超过上限：{msg}", "Too many patents: {msg}"),
    "check_title": ("检查：{name}", "Check: {name}"),
    "rows_read": ("读取 {n} 行。", "{n} rows read."),
    "mapping_title": ("表头映射", "Header mapping"),
    "header_in_file": ("文件中的表头", "Header in the file"),
    "maps_to": ("对应字段", "Maps to"),
    "unmapped_title": ("未识别的列（保留，不参与计算）", "Columns nothing maps (kept, not used)"),
    "problems_title": ("行问题", "Row problems"),
    "no_problems": ("未发现问题。", "No problems found."),
    "n_problems": (
        "发现 {n} 个问题。请修改文件后重新上传；有问题的组合不会运行。",
        "{n} problem(s) found. Fix the file and upload it again; a portfolio with problems is not run.",
    ),
    "row": ("行", "Row"),
    "field": ("字段", "Field"),
    "message": ("说明", "Message"),
    "terms_title": ("贷款条件", "Loan terms"),
    "amount": ("贷款金额", "Loan amount"),
    "currency": ("币种", "Currency"),
    "fx_rate": ("汇率（1 单位贷款币种折合组合币种 {ccy}）", "FX rate (1 unit of the loan currency in {ccy})"),
    "fx_help": (
        "贷款币种与组合币种不同时必填；贷款金额与分担上限按此汇率折算为组合币种后评估。",
        "Needed when the loan currency differs from the portfolio's; the amount and the caps are converted at "
        "this rate and assessed in the portfolio's currency.",
    ),
    "tenor": ("期限（年）", "Tenor (years)"),
    "pd": ("违约概率（小数，如 0.03）", "Probability of default (decimal, e.g. 0.03)"),
    "policy": ("押品政策", "Policy"),
    "as_of": ("评估基准日", "Valuation date (as of)"),
    "start_date": ("放款日", "Loan start date"),
    "borrower": ("借款人（出质人）", "Borrower (pledgor)"),
    "interest_rate": ("贷款利率（小数）", "Interest rate (decimal)"),
    "seed": ("随机数种子", "Random seed"),
    "risk_sharing": ("风险分担（小数份额；上限可空）", "Risk sharing (decimal shares; caps may be blank)"),
    "compensation_fund": ("风险补偿资金池", "Compensation fund"),
    "guarantor": ("担保机构", "Guarantor"),
    "insurer": ("保险机构", "Insurer"),
    "appraiser": ("评估机构", "Appraiser"),
    "share": ("份额", "share"),
    "cap": ("上限", "cap"),
    "run": ("运行评估", "Run the assessment"),
    "terms_invalid": ("贷款条件有误，请修改：", "The loan terms need correcting:"),
    "job_title": ("评估运行中", "Assessment running"),
    "job_help": (
        "组合较大，作为后台任务运行。进度每秒刷新，完成后自动打开结果。",
        "A large portfolio runs as a background job. Progress refreshes every second; the result opens when done.",
    ),
    "progress": ("进度", "Progress"),
    "job_failed": ("任务失败：{msg}", "The job failed: {msg}"),
    "open_result": ("打开结果", "Open the result"),
    "result_title": ("评估结果", "Assessment"),
    "tiles": ("关键指标", "Key figures"),
    "waterfall": ("从评估价值到押品价值", "From appraised value to collateral value"),
    "liquidation": ("处置情景", "Liquidation scenarios"),
    "stress": ("压力测试", "Stress tests"),
    "patents": ("专利明细", "Patents"),
    "downloads": ("下载报告", "Download the report"),
    "profile_link": ("借款人技术实力画像", "Borrower technology profile"),
    "profile_no_peers_file": (
        "工作台未配置同业对照组文件（IPVALUE_WEB_PEERS_FILE），因此只显示原始指标，不计算百分位、得分和等级。",
        "The workbench has no peers file configured (IPVALUE_WEB_PEERS_FILE): raw indicators only, no "
        "percentile, score or grade.",
    ),
    "profile_firm": ("企业", "Firm"),
    "profile_notes": ("说明", "Notes"),
    "profile_indicators": ("指标", "Indicators"),
    "download_html": ("HTML 报告", "HTML report"),
    "download_pdf": ("PDF 报告", "PDF report"),
    "download_xlsx": ("Excel 报告", "Excel report"),
    "history": ("记录与审计", "History and audit"),
    "signoff_title": ("审查签批", "Reviewer sign-off"),
    "decision": ("结论", "Decision"),
    "approve": ("同意", "Approve"),
    "reject": ("不同意", "Reject"),
    "comment": ("意见", "Comment"),
    "sign": ("签批", "Sign off"),
    "no_signoff": ("尚无签批。", "Not signed off yet."),
    "signoff_need_comment": ("请填写意见。", "A comment is needed."),
    "filter": ("筛选", "Filter"),
    "eligibility": ("是否合格", "Eligibility"),
    "all": ("全部", "All"),
    "eligible_yes": ("合格", "Eligible"),
    "eligible_no": ("不合格", "Ineligible"),
    "reason": ("原因代码", "Reason code"),
    "apply": ("应用", "Apply"),
    "sort_by": ("按此列排序", "Sort by this column"),
    "page_of": ("第 {page} / {pages} 页，共 {n} 件", "Page {page} of {pages}, {n} patents"),
    "prev": ("上一页", "Previous"),
    "next": ("下一页", "Next"),
    "patent_title": ("专利 {pid}", "Patent {pid}"),
    "facts": ("基本信息", "Facts"),
    "values": ("估值", "Value"),
    "haircuts": ("折扣构成", "Haircut components"),
    "component": ("折扣项", "Component"),
    "rate": ("折扣率", "Rate"),
    "explanation": ("说明", "Explanation"),
    "eligibility_title": ("合格性", "Eligibility"),
    "reasons": ("不合格原因", "Reasons"),
    "history_title": ("评估记录", "Assessments"),
    "created": ("创建时间", "Created"),
    "by": ("创建人", "By"),
    "status": ("状态", "Status"),
    "signoffs": ("签批", "Sign-offs"),
    "no_records": ("还没有评估。", "No assessments yet."),
    "monitor_title": ("贷后监控：在贷质押专利", "Monitoring: pledged patents of live loans"),
    "monitor_help": (
        "贷款期内的评估（放款日加期限晚于今天）。检查年费到期、失效、权利人变更、新增质押和无效宣告。",
        "Assessments whose loan is still running (start plus tenor after today). Checks fees due, lapse, owner "
        "change, new pledges and invalidation.",
    ),
    "loan_ends": ("到期日", "Loan ends"),
    "pledged_patents": ("质押专利", "Pledged patents"),
    "last_check": ("最近检查", "Last check"),
    "level": ("级别", "Level"),
    "alerts": ("提示", "Alerts"),
    "no_alerts": ("无提示。", "No alerts."),
    "never": ("未检查", "never"),
    "run_check": ("运行检查", "Run the checks"),
    "facts_file": (
        "当前事实文件（可选，CSV/XLSX；不提供则从配置的数据源获取）",
        "Current facts file (optional, CSV/XLSX; else fetched from the configured sources)",
    ),
    "within_days": ("提前提醒天数（年费）", "Warn of fees due within (days)"),
    "check_failed": ("检查未能运行：{msg}", "The check could not run: {msg}"),
    "severity": ("严重程度", "Severity"),
    "code": ("代码", "Code"),
    "no_live_loans": ("没有在贷的评估。", "No live loans."),
    "users_title": ("用户管理", "Users"),
    "role": ("角色", "Role"),
    "active": ("启用", "Active"),
    "locked_until": ("锁定至", "Locked until"),
    "add_user": ("新增用户", "Add a user"),
    "create": ("创建", "Create"),
    "unlock": ("解锁", "Unlock"),
    "user_created": ("已创建用户 {name}。", "User {name} created."),
    "password_weak": ("密码不合格：{msg}", "Password refused: {msg}"),
    "user_exists": ("用户已存在。", "That user already exists."),
    "username_bad": ("用户名须为 1–64 个字母、数字或 ._-", "Username: 1–64 letters, digits or ._-"),
    "api_keys": ("API 密钥", "API keys"),
    "api_keys_help": (
        "贷款系统使用的 API 密钥（只显示编号与权限，密钥本身不保存）。吊销后服务在下一次请求时即拒绝该密钥。",
        "API keys of the loan systems (ids and scopes only; secrets are not stored). A revoked key is refused "
        "from the service's next request on.",
    ),
    "scopes": ("权限", "Scopes"),
    "key_id": ("密钥编号", "Key id"),
    "add_key": ("新增 API 密钥", "Add an API key"),
    "revoke": ("吊销", "Revoke"),
    "key_added": (
        "已新增密钥 {kid}。下面的密钥只显示这一次，不会保存，请立即交给贷款系统。",
        "Key {kid} added. The secret below is shown this once and not stored: hand it to the loan system now.",
    ),
    "key_bad": (
        "密钥编号须为 1–64 个字母、数字或 ._-，且至少选择一项权限。",
        "Key id: 1–64 letters, digits or ._-, and at least one scope.",
    ),
    "keys_file_needed": (
        "服务未配置密钥文件（--keys-file），无法在此管理密钥。",
        "The service has no keys file (--keys-file): keys cannot be managed here.",
    ),
    "audit_title": ("审计日志（最近 200 条）", "Audit log (latest 200)"),
    "action": ("操作", "Action"),
    "who": ("操作人", "Who"),
    "at": ("时间", "At"),
    "record": ("记录", "Record"),
    "yes": ("是", "yes"),
    "no": ("否", "no"),
    "loan": ("贷款", "Loan"),
}


def pick_lang(value: str | None) -> str:
    """``"en"`` when asked for, else Chinese."""
    return "en" if value == "en" else "zh"


def text(key: str, lang: str, **fmt: object) -> str:
    """The text of ``key`` in ``lang`` (``str.format`` with ``fmt``); the key itself when unknown."""
    pair = TEXTS.get(key)
    if pair is None:
        return key
    s = pair[1] if lang == "en" else pair[0]
    return s.format(**fmt) if fmt else s
