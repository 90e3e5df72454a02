"""A real service (uvicorn on loopback) with the workbench, its users, and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ipvalue.web.helpers import Server, serve

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


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serve(tmp_path_factory.mktemp("web") / "service.db") as s:
        yield s


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is None:
        # the README's test command runs scripts/install-system-deps.sh first: a missing browser is a broken set-up
        pytest.fail(
            f"Debian's chromium is not installed at {CHROMIUM}: run scripts/install-system-deps.sh",
            pytrace=False,
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
