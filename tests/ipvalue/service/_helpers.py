"""Helpers shared by the service tests: a uvicorn server process on loopback and request bodies."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

HERE = Path(__file__).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """A uvicorn process on loopback; ``kill()`` sends SIGKILL, ``start()`` starts it again on the same DB."""

    db: Path
    keys_file: Path
    args: list[str] = field(default_factory=list)
    port: int = 0
    log: Path | None = None
    proc: subprocess.Popen | None = None
    env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> Server:
        self.port = free_port()
        cmd = [
            sys.executable,
            str(HERE / "_server.py"),
            "--port",
            str(self.port),
            "--db",
            str(self.db),
            "--keys-file",
            str(self.keys_file),
            *self.args,
        ]
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.env}
        self.log = self.db.with_suffix(f".{self.port}.log")
        with open(self.log, "wb") as err:
            self.proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=err)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text(errors='replace')[-3000:]}")
            try:
                if httpx.get(self.url + "/v1/health", timeout=1.0).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.1)
        self.kill()
        raise RuntimeError("server did not start in time")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


def patent(i: int, **kw) -> dict:
    """A fictional granted US patent (numbers need no check digit)."""
    return {
        "patent_id": f"US{11_000_000 + i}B2",
        "claims": 1 + i % 7,
        "owner": ["Acme Ltd"],
        "filing_date": "2018-03-01",
        "grant_date": "2020-06-02",
        **kw,
    }


def assessment_body(n: int = 3, *, seed: int = 0, **kw) -> dict:
    return {
        "patents": [patent(i) for i in range(n)],
        "loan": {"amount": 50_000, "currency": "CNY", "tenor_years": 1.0},
        "as_of": "2026-01-01",
        "seed": seed,
        **kw,
    }


def directive(body: dict, text: str) -> dict:
    """``body`` with the fake pipeline told to do ``text`` (``sleep=0.5``, ``explode``, ``kill``...)."""
    out = {**body, "patents": [dict(p) for p in body["patents"]]}
    out["patents"][0]["title"] = f"fake:{text}"
    return out
