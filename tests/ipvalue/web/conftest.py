"""A real service (uvicorn on loopback) with the workbench, its users, and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.ipvalue.web.helpers import JOB_THRESHOLD, PASSWORDS

CHROMIUM = os.environ.get("IPVALUE_CHROMIUM", "/usr/bin/chromium")
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


@dataclass
class Server:
    url: str
    db: Path
    app: object


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    import uvicorn

    from ipvalue.service import ServiceSettings, create_app
    from ipvalue.web import add_user

    db = tmp_path_factory.mktemp("web") / "service.db"
    for name, (role, pw) in PASSWORDS.items():
        add_user(db, name, role, pw)
    old = {k: os.environ.get(k) for k in ("IPVALUE_WEB_FAILED_LOGIN_DELAY", "IPVALUE_WEB_LOCKOUT_SECONDS")}
    os.environ["IPVALUE_WEB_FAILED_LOGIN_DELAY"] = "0.01"
    os.environ["IPVALUE_WEB_LOCKOUT_SECONDS"] = "600"
    try:
        app = create_app(
            ServiceSettings(
                db_path=db, job_threshold=JOB_THRESHOLD, job_workers=1, api_keys_file=db.parent / "keys.json"
            )
        )
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.started, "the service did not start"
    yield Server(f"http://127.0.0.1:{port}", db, app)
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is None:
        pytest.skip(
            f"Debian's chromium is not installed at {CHROMIUM} (scripts/install-system-deps.sh installs it)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


class Console:
    """Console errors, page errors and failed requests of every page a test opens."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def watch(self, page: object) -> None:
        page.on(
            "console",
            lambda m: self.errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None,
        )
        page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))


@pytest.fixture()
def page(browser: object, server: Server) -> Iterator[tuple[object, Console]]:
    ctx = browser.new_context(base_url=server.url, accept_downloads=True, locale="zh-CN")
    pg = ctx.new_page()
    console = Console()
    console.watch(pg)
    pg.set_default_timeout(60_000)
    yield pg, console
    ctx.close()
