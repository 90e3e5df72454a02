"""Users, limits and the sign-in step shared by the workbench tests."""

from __future__ import annotations

PASSWORDS = {
    "alice": ("analyst", "alice-password-1"),
    "rita": ("reviewer", "rita-password-1"),
    "adam": ("admin", "adam-password-1"),
    "lucy": ("analyst", "lucy-password-1"),
}
JOB_THRESHOLD = 50


def login(pg: object, username: str, password: str | None = None) -> None:
    pg.goto("/web/login")
    pg.fill("#username", username)
    pg.fill("#password", password or PASSWORDS[username][1])
    pg.click("main button[type=submit]")
    pg.wait_for_load_state()
