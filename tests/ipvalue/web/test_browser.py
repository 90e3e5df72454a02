"""The workbench in a real browser: Debian's Chromium driven by Playwright against the service on loopback."""

from __future__ import annotations

import csv
import io
import re
import subprocess
from importlib import resources
from pathlib import Path

import pytest

import ipvalue as iv
from ipvalue.demo import DEMO_AS_OF, load_demo
from ipvalue.report._data import fmt_money
from tests.ipvalue.web.helpers import JOB_THRESHOLD, login

pytestmark = pytest.mark.slow

AXE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text(encoding="utf-8")
AXE_RUN = """async () => {
  const r = await axe.run(document, {resultTypes: ['violations']});
  return r.violations.filter(v => ['serious', 'critical'].includes(v.impact))
    .map(v => v.id + ' (' + v.impact + '): ' + v.nodes.map(n => n.target.join(' ')).join(', '));
}"""
DEMO_TERMS = {
    "#f-amount": "2500000",
    "#f-currency": "CNY",
    "#f-tenor_years": "3",
    "#f-probability_of_default": "0.03",
    "#f-as_of": DEMO_AS_OF.isoformat(),
    "#f-start_date": DEMO_AS_OF.isoformat(),
    "#f-borrower": "示例智能装备科技有限公司",
    "#f-interest_rate": "0.045",
    "#f-seed": "0",
    "#f-compensation_fund": "0.3",
    "#f-compensation_fund_cap": "750000",
    "#f-insurer": "0.2",
    "#f-insurer_cap": "500000",
}


def _axe(pg) -> list[str]:
    pg.evaluate(AXE)
    return pg.evaluate(AXE_RUN)


def _demo_csv() -> Path:
    with resources.as_file(resources.files("ipvalue") / "data" / "demo_portfolio.csv") as p:
        return Path(p)


def _upload(pg, path: Path) -> None:
    pg.goto("/web/upload")
    pg.set_input_files("#file", str(path))
    pg.click("main button[type=submit]")
    pg.wait_for_load_state()


def _run(pg, terms: dict[str, str]) -> None:
    for sel, value in terms.items():
        pg.fill(sel, value)
    pg.click("#run")
    pg.wait_for_url(re.compile(r"/web/(assessments|jobs)/asm_"))


@pytest.fixture(scope="module")
def truth() -> dict[str, float]:
    frame, loan, as_of = load_demo()
    valued = iv.value_portfolio(frame, as_of=as_of, rng=0)
    a = iv.assess_collateral(valued, loan=loan, policy="cn-bank-standard", rng=0)
    return {k: float(a.summary[k]) for k in ("collateral_value", "max_loan")}


@pytest.mark.slow
def test_analyst_uploads_runs_reads_downloads_and_switches_language(page, truth, tmp_path):
    pg, console = page
    login(pg, "alice")
    assert pg.locator("#whoami").inner_text() == "alice"
    problems = _axe(pg)
    assert problems == [], problems

    _upload(pg, _demo_csv())
    mapping = pg.locator("#mapping-table").inner_text()
    assert (
        "专利号" in mapping and "patent_id" in mapping and "授权公告日" in mapping and "grant_date" in mapping
    )
    assert pg.locator("#no-problems").is_visible()
    assert _axe(pg) == []

    _run(pg, DEMO_TERMS)
    assert "/web/assessments/" in pg.url  # 34 patents: inline
    shown_cv = pg.locator("#tile-collateral_value dd").inner_text()
    shown_ml = pg.locator("#tile-max_loan dd").inner_text()
    assert fmt_money(truth["collateral_value"]) in shown_cv
    assert fmt_money(truth["max_loan"]) in shown_ml
    assert pg.locator("img.chart").count() == 3
    for i in range(3):  # the report's own charts load
        assert pg.locator("img.chart").nth(i).evaluate("img => img.complete && img.naturalWidth > 0")
    assert _axe(pg) == []

    # the per-patent table: filter by eligibility (htmx swaps the table), sort by value
    pg.select_option("#f-eligible", "no")
    pg.wait_for_function("() => !document.querySelector('#patent-table').innerText.includes('\\t是\\t')")
    rows = pg.locator("#patent-table tbody tr")
    assert rows.count() > 0
    assert all(r.strip().split("\t")[-2] == "否" for r in rows.all_inner_texts())
    pg.select_option("#f-eligible", "")
    pg.click("#patent-table a[data-sort=value]")
    pg.wait_for_selector("#patent-table th[aria-sort] a[data-sort=value]")
    pg.click("#patent-table a[data-sort=value]")
    pg.wait_for_selector("#patent-table th[aria-sort=descending] a[data-sort=value]")
    values = [
        float(t.replace(",", ""))
        for t in pg.locator("#patent-table tbody tr td:nth-child(5)").all_inner_texts()
    ]
    assert values == sorted(values, reverse=True) and len(values) == 34

    # a patent's page explains each haircut component
    pg.locator("#patent-table tbody tr td:first-child a").first.click()
    pg.wait_for_selector("#haircut-table")
    comp = pg.locator("#haircut-table tbody tr").all_inner_texts()
    assert any("估值不确定性" in r for r in comp) and any("剩余保护期" in r for r in comp)
    assert _axe(pg) == []
    pg.go_back()

    # the PDF report carries the same numbers
    with pg.expect_download() as dl:
        pg.click("#dl-pdf")
    pdf = tmp_path / "report.pdf"
    dl.value.save_as(pdf)
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, check=True).stdout
    text = text.decode("utf-8")
    assert fmt_money(truth["collateral_value"]) in text
    assert fmt_money(truth["max_loan"]) in text

    # English
    pg.click("#switch-lang")
    pg.wait_for_load_state()
    assert pg.locator("html").get_attribute("lang") == "en"
    assert "Collateral value" in pg.locator("#tile-collateral_value dt").inner_text()
    assert "Maximum loan" in pg.locator("#tile-max_loan dt").inner_text()
    assert fmt_money(truth["collateral_value"]) in pg.locator("#tile-collateral_value dd").inner_text()

    for path in ("/web/assessments", "/web/monitoring", "/web/upload"):
        pg.goto(path)
        assert _axe(pg) == [], path
    assert console.errors == []


@pytest.mark.slow
def test_large_portfolio_runs_as_a_job_with_a_progress_bar(page, tmp_path):
    from ipvalue.valuation._synthetic import synthetic_portfolio

    pg, console = page
    frame = synthetic_portfolio(JOB_THRESHOLD + 10, seed=3)
    path = tmp_path / "big.csv"
    frame.to_csv(path, index=False)
    login(pg, "alice")
    _upload(pg, path)
    assert pg.locator("#no-problems").is_visible(), pg.locator("main").inner_text()[:2000]
    _run(pg, {**DEMO_TERMS, "#f-borrower": "", "#f-currency": "CNY"})
    assert "/web/jobs/" in pg.url
    assert pg.locator("#bar").count() == 1
    pg.wait_for_url(re.compile(r"/web/assessments/asm_"), timeout=120_000)  # htmx polls, then redirects
    assert pg.locator("#tile-collateral_value").is_visible()
    assert console.errors == []


@pytest.mark.slow
def test_title_holding_a_script_shows_as_text(page, tmp_path):
    pg, console = page
    src = _demo_csv().read_text(encoding="utf-8").splitlines()
    rows = list(csv.reader(src[:3]))
    rows[1][1] = "<script>window.__xss = 1</script>恶意标题"
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    path = tmp_path / "xss.csv"
    path.write_text(buf.getvalue(), encoding="utf-8")
    login(pg, "alice")
    _upload(pg, path)
    _run(pg, DEMO_TERMS)
    cells = pg.locator("#patent-table tbody tr td:nth-child(2)").all_inner_texts()
    assert "<script>window.__xss = 1</script>恶意标题" in cells
    assert pg.evaluate("() => window.__xss") is None
    assert console.errors == []


def test_form_without_its_csrf_token_is_refused(page):
    pg, _ = page
    login(pg, "alice")
    pg.goto("/web/upload")
    pg.set_input_files("#file", str(_demo_csv()))
    pg.evaluate("() => document.querySelector('main input[name=csrf_token]').remove()")
    with pg.expect_response(lambda r: r.url.endswith("/web/upload") and r.request.method == "POST") as resp:
        pg.click("main button[type=submit]")
    assert resp.value.status == 403
    assert "CSRF" in pg.locator("#error").inner_text()


@pytest.mark.slow
def test_five_wrong_passwords_lock_the_account(page, server):
    from ipvalue.service.store import SQLiteAssessmentStore

    pg, _ = page
    for _ in range(5):
        login(pg, "lucy", "not-the-password")
    assert "锁定" in pg.locator("#login-error").inner_text()
    login(pg, "lucy")  # the right password is refused while locked
    assert "锁定" in pg.locator("#login-error").inner_text()
    assert pg.locator("#whoami").count() == 0
    store = SQLiteAssessmentStore(server.db)
    try:
        actions = [e["action"] for e in store.audit_entries() if e["details"].get("username") == "lucy"]
    finally:
        store.close()
    assert actions.count("web.login.fail") == 5
    assert "web.account.locked" in actions and "web.login.locked" in actions


@pytest.mark.slow
def test_roles_reviewer_cannot_create_analyst_cannot_manage_users(page, browser, server):
    pg, console = page
    login(pg, "rita")
    resp = pg.goto("/web/upload")
    assert resp.status == 403
    assert pg.locator("#error").is_visible()
    login(pg, "alice")
    resp = pg.goto("/web/admin/users")
    assert resp.status == 403
    login(pg, "adam")
    resp = pg.goto("/web/admin/users")
    assert resp.status == 200
    assert _axe(pg) == []
    pg.fill("#u-name", "newbie")
    pg.select_option("#u-role", "reviewer")
    pg.fill("#u-password", "newbie-password-1")
    pg.click("#add-user-form button[type=submit]")
    pg.wait_for_load_state()
    assert "newbie" in pg.locator("#users-table").inner_text()
    # API keys: added with its secret shown once, accepted by the API, revoked, refused
    pg.fill("#k-id", "loan-system")
    pg.check("input[name=scope_write]")
    pg.click("#add-key-form button[type=submit]")
    pg.wait_for_selector("#new-secret")
    secret = pg.locator("#new-secret").inner_text().strip()
    assert secret.startswith("ipv_") and "loan-system" in pg.locator("#keys-table").inner_text()
    assert _api_status(server.url, secret, 200) == 200
    pg.locator("#keys-table tr", has_text="loan-system").locator("button").click()
    pg.wait_for_load_state()
    assert "loan-system" not in pg.locator("#keys-table").inner_text()
    assert _api_status(server.url, secret, 401) == 401
    resp = pg.goto("/web/upload")
    assert resp.status == 403  # admins manage people, they do not create assessments


def _api_status(url: str, secret: str, want: int) -> int:
    import time

    import httpx

    deadline = time.monotonic() + 10  # the key ring re-reads the keys file when it changes
    while True:
        status = httpx.get(url + "/v1/policies", headers={"X-API-Key": secret}, timeout=10).status_code
        if status == want or time.monotonic() > deadline:
            return status
        time.sleep(0.2)


@pytest.mark.slow
def test_reviewer_signs_off_with_a_comment(page, server):
    pg, console = page
    login(pg, "alice")
    _upload(pg, _demo_csv())
    _run(pg, DEMO_TERMS)
    url = pg.url
    login(pg, "rita")
    pg.goto(url)
    pg.check("input[name=decision][value=approve]")
    pg.fill("#f-comment", "押品覆盖充足，同意。")
    pg.click("#signoff-form button[type=submit]")
    pg.wait_for_load_state()
    assert "押品覆盖充足，同意。" in pg.locator("#signoff-table").inner_text()
    assert "rita" in pg.locator("#signoff-table").inner_text()
    assert console.errors == []


@pytest.mark.slow
def test_monitoring_shows_the_alerts_of_a_pledged_patent(page, tmp_path):
    pg, console = page
    login(pg, "alice")
    _upload(pg, _demo_csv())
    _run(pg, DEMO_TERMS)
    record = pg.url.rsplit("/", 1)[1]
    lines = _demo_csv().read_text(encoding="utf-8").splitlines()
    assert lines[1].startswith("ZL201810136750.X") and ",有效," in lines[1]  # eligible at pledge
    lines[1] = lines[1].replace(",有效,", ",未缴年费终止,", 1)
    facts = tmp_path / "now.csv"
    facts.write_text("\n".join(lines) + "\n", encoding="utf-8")
    pg.goto("/web/monitoring")
    assert record in pg.locator("#live-table").inner_html()  # the loan runs until 2029
    pg.goto(f"/web/monitoring/{record}")
    pg.fill("#m-as_of", "2026-12-01")
    pg.set_input_files("#m-facts", str(facts))
    pg.click("#monitor-form button[type=submit]")
    pg.wait_for_selector("#monitor-level")
    row = pg.locator("#pledged-table tr", has_text="CN201810136750.X").inner_text()
    assert "LAPSED" in row or "STATUS" in row, row
    assert "critical" in pg.locator("#monitor-level").inner_text()
    assert _axe(pg) == []
    assert console.errors == []
