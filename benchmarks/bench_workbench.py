"""Workbench result page: time to first byte and full load, for the demo and a 5,000-patent assessment.

The service runs in this process (uvicorn on loopback, SQLite in a scratch folder); the assessments are computed
with the service's own pipeline and stored as the workbench stores them; Debian's Chromium (Playwright) signs in
and loads the result page. Each page is loaded cold (charts drawn and kept on first view) and then warm.

Time to first byte is measured twice: by httpx (request sent to first response byte, the server's work on the
page) and by the browser's Navigation Timing (``responseStart``); full load is ``loadEventEnd`` (the page, CSS,
htmx and the three chart images).

    python benchmarks/bench_workbench.py [--n 5000] [--screenshots docs/img]
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import threading
import time
from pathlib import Path

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
DEMO_LOAN = {
    "amount": 2_500_000.0,
    "currency": "CNY",
    "tenor_years": 3.0,
    "probability_of_default": 0.03,
    "borrower": "示例智能装备科技有限公司",
    "start_date": "2026-06-30",
    "interest_rate": 0.045,
    "risk_sharing": {
        "compensation_fund": 0.3,
        "compensation_fund_cap": 750_000.0,
        "insurer": 0.2,
        "insurer_cap": 500_000.0,
    },
}


def _store_assessment(app, rows: list[dict], loan: dict) -> tuple[str, float]:
    from ipvalue._version import __version__
    from ipvalue.service.models import AssessmentRequest
    from ipvalue.service.pipeline import run_assessment
    from ipvalue.service.store import AssessmentRecord, AuditEntry, new_record_id, result_hash, sha256_json

    svc = app.state.services
    body = {"patents": rows, "loan": loan, "as_of": "2026-06-30", "seed": 0, "policy": "cn-bank-standard"}
    payload = AssessmentRequest.model_validate(body).model_dump(mode="json", exclude_none=False)
    t0 = time.perf_counter()
    output, artifacts = run_assessment(svc.pipeline, payload)
    seconds = time.perf_counter() - t0
    now = dt.datetime.now(dt.UTC).isoformat()
    rec = AssessmentRecord(
        id=new_record_id("assessment"),
        kind="assessment",
        status="done",
        progress=1.0,
        created_at=now,
        updated_at=now,
        key_id="web:bench",
        input=payload,
        output=output,
        error=None,
        input_hash=sha256_json(payload),
        output_hash=result_hash(output),
        version=__version__,
        policy="cn-bank-standard",
        seed=0,
        artifacts=artifacts,
    )
    svc.store.create(rec, AuditEntry(action="assessment.create", who="web:bench", record_id=rec.id))
    return rec.id, seconds


def _rows(path_or_frame) -> list[dict]:
    from ipvalue.web.upload import check_upload

    if hasattr(path_or_frame, "to_csv"):
        data = path_or_frame.to_csv(index=False).encode("utf-8")
    else:
        data = Path(path_or_frame).read_bytes()
    check = check_upload(
        data, "p.csv", max_bytes=50_000_000, max_unpacked=10**9, max_ratio=1e6, max_patents=100_000
    )
    assert not check.issues, check.issues[:5]
    return check.rows


def _ttfb(url: str, cookies: dict[str, str]) -> tuple[float, float]:
    import httpx

    with httpx.Client(cookies=cookies, timeout=300) as c:
        t0 = time.perf_counter()
        with c.stream("GET", url) as r:
            first = time.perf_counter() - t0
            r.read()
            total = time.perf_counter() - t0
        assert r.status_code == 200, r.status_code
    return first, total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=5000, help="patents in the large assessment")
    ap.add_argument("--screenshots", type=Path, default=None, help="write screenshots of the main pages here")
    args = ap.parse_args()

    import socket

    import uvicorn
    from playwright.sync_api import sync_playwright

    from ipvalue.demo import demo_portfolio_path
    from ipvalue.service import ServiceSettings, create_app
    from ipvalue.valuation._synthetic import synthetic_portfolio
    from ipvalue.web import add_user

    tmp = Path(tempfile.mkdtemp(prefix="ipvalue-bench-web-"))
    db = tmp / "service.db"
    add_user(db, "bench", "analyst", "bench-password-1")
    add_user(db, "boss", "reviewer", "boss-password-1")
    app = create_app(ServiceSettings(db_path=db, max_patents=max(5000, args.n)))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"

    demo_id, demo_s = _store_assessment(app, _rows(demo_portfolio_path()), DEMO_LOAN)
    big = synthetic_portfolio(args.n, seed=1)
    big_loan = {**DEMO_LOAN, "amount": 50_000_000.0, "borrower": None}
    big_id, big_s = _store_assessment(app, _rows(big), big_loan)
    print(f"assessments computed: demo {demo_s:.1f} s, {args.n} patents {big_s:.1f} s")

    results = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        ctx = browser.new_context(base_url=base, viewport={"width": 1280, "height": 900})
        page = ctx.new_page()
        page.goto("/web/login")
        page.fill("#username", "bench")
        page.fill("#password", "bench-password-1")
        page.click("main button[type=submit]")
        page.wait_for_load_state()
        cookies = {c["name"]: c["value"] for c in ctx.cookies()}
        for label, rid, n in (("demo", demo_id, 34), (f"{args.n} patents", big_id, args.n)):
            url = f"/web/assessments/{rid}"
            for state in ("cold", "warm"):
                page.goto(url, wait_until="load", timeout=600_000)
                nav = page.evaluate(
                    "() => { const e = performance.getEntriesByType('navigation')[0];"
                    " return {ttfb: e.responseStart - e.requestStart, load: e.loadEventEnd - e.startTime,"
                    " bytes: e.transferSize}; }"
                )
                first, total = _ttfb(base + url, cookies)
                results.append((label, n, state, first, total, nav["ttfb"] / 1000, nav["load"] / 1000))
        if args.screenshots is not None:
            _screenshots(browser, base, demo_id, args.screenshots)
        browser.close()
    server.should_exit = True

    print(
        "| assessment | patents | page | TTFB httpx (s) | page bytes read (s) | TTFB browser (s) | full load (s) |"
    )
    print("| --- | ---: | --- | ---: | ---: | ---: | ---: |")
    for label, n, state, first, total, ttfb, load in results:
        print(f"| {label} | {n:,} | {state} | {first:.3f} | {total:.3f} | {ttfb:.3f} | {load:.3f} |")


def _screenshots(browser, base: str, rid: str, out: Path) -> None:
    from importlib import resources

    out.mkdir(parents=True, exist_ok=True)
    ctx = browser.new_context(base_url=base, viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    page.goto("/web/login")
    page.screenshot(path=str(out / "workbench-login.png"))
    page.fill("#username", "bench")
    page.fill("#password", "bench-password-1")
    page.click("main button[type=submit]")
    page.wait_for_load_state()
    with resources.as_file(resources.files("ipvalue") / "data" / "demo_portfolio.csv") as demo:
        page.set_input_files("#file", str(demo))
        page.click("main button[type=submit]")
        page.wait_for_load_state()
    page.screenshot(path=str(out / "workbench-check.png"), full_page=True)
    page.goto(f"/web/assessments/{rid}")
    page.screenshot(path=str(out / "workbench-result.png"))
    page.locator("#patents").scroll_into_view_if_needed()
    page.screenshot(path=str(out / "workbench-patents.png"))
    first = page.locator("#patent-table tbody tr td:first-child a").first.get_attribute("href")
    page.goto(first)
    page.screenshot(path=str(out / "workbench-patent.png"), full_page=True)
    page.goto(f"/web/lang/en?next=/web/assessments/{rid}")
    page.screenshot(path=str(out / "workbench-result-en.png"))
    page.goto(f"/web/monitoring/{rid}")
    page.screenshot(path=str(out / "workbench-monitoring-en.png"))
    ctx.close()
    print(f"screenshots in {out}")


if __name__ == "__main__":
    main()
