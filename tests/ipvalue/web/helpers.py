"""Users, limits and the sign-in step shared by the workbench tests."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

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


@dataclass
class Server:
    url: str
    db: Path
    app: object


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve(db: Path, **web_env: str) -> Iterator[Server]:
    """The service with the workbench on loopback, its users added, ``IPVALUE_WEB_<NAME>`` set while it is built."""
    import uvicorn

    from ipvalue.service import ServiceSettings, create_app
    from ipvalue.web import add_user

    for name, (role, pw) in PASSWORDS.items():
        add_user(db, name, role, pw)
    env = {"IPVALUE_WEB_FAILED_LOGIN_DELAY": "0.01", "IPVALUE_WEB_LOCKOUT_SECONDS": "600"}
    env.update({f"IPVALUE_WEB_{k.upper()}": v for k, v in web_env.items()})
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
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
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.started, "the service did not start"
    try:
        yield Server(f"http://127.0.0.1:{port}", db, app)
    finally:
        srv.should_exit = True
        thread.join(timeout=10)
