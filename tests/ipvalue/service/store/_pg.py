"""A throwaway PostgreSQL cluster for the tests: ``initdb`` in a temporary folder, a loopback port, stopped at the end.

The Debian ``postgresql`` package (installed by ``scripts/install-system-deps.sh``) puts ``initdb`` and ``pg_ctl``
under ``/usr/lib/postgresql/<version>/bin``. The server refuses to run as root: under root the cluster runs as
the unprivileged system user ``ipvalue-pg`` (created when missing) through ``runuser``; under any other user
``initdb`` and ``pg_ctl`` run as that user, in a private temporary folder (checked by running the store tests as
``nobody``: ``runuser -u nobody -- <python> -m pytest tests/ipvalue/service/store``, with a Python and a
virtualenv that user can read).
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

PG_USER = "ipvalue-pg"
ADMIN = "ipvalue_admin"


def find_pg_bin() -> Path | None:
    """The newest ``/usr/lib/postgresql/<version>/bin`` holding ``pg_ctl`` (or ``IPVALUE_PG_BIN``)."""
    if os.environ.get("IPVALUE_PG_BIN"):
        return Path(os.environ["IPVALUE_PG_BIN"])
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parent.parent.name)
    )
    return Path(found[-1]).parent if found else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgCluster:
    """One PostgreSQL server on 127.0.0.1 with a superuser ``ipvalue_admin`` (password authentication)."""

    def __init__(self, bin_dir: Path):
        self.bin = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="ipvalue-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.password = secrets.token_hex(16)
        self.as_root = os.geteuid() == 0

    # -- running commands as the cluster's owner ------------------------------------------------------------
    def _run(self, *cmd: str) -> subprocess.CompletedProcess:
        argv = list(cmd)
        if self.as_root:
            argv = ["runuser", "-u", PG_USER, "--", *argv]
        return subprocess.run(argv, check=True, capture_output=True, text=True, cwd=self.root)

    def _ensure_user(self) -> None:
        try:
            pwd.getpwnam(PG_USER)
        except KeyError:
            subprocess.run(
                ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", PG_USER],
                check=True,
                capture_output=True,
            )
        shutil.chown(self.root, user=PG_USER)

    def start(self) -> PgCluster:
        if self.as_root:
            self._ensure_user()
        pwfile = self.root / "pw"
        pwfile.write_text(self.password + "\n")
        if self.as_root:
            shutil.chown(pwfile, user=PG_USER)
        pwfile.chmod(0o600)
        self._run(
            str(self.bin / "initdb"),
            "-D",
            str(self.data),
            "-U",
            ADMIN,
            "--auth=scram-sha-256",
            f"--pwfile={pwfile}",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        )
        pwfile.unlink()
        opts = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.root}"
            " -c max_connections=200 -c shared_buffers=64MB"
        )
        try:
            self._run(
                str(self.bin / "pg_ctl"),
                "-D",
                str(self.data),
                "-o",
                opts,
                "-l",
                str(self.root / "log"),
                "-w",
                "-t",
                "60",
                "start",
            )
        except subprocess.CalledProcessError as exc:
            log = (self.root / "log").read_text(errors="replace") if (self.root / "log").exists() else ""
            raise RuntimeError(f"pg_ctl start failed: {exc.stderr}\n{log[-3000:]}") from exc
        return self

    def stop(self) -> None:
        if self.data.exists():
            try:
                self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
            except subprocess.CalledProcessError:
                pass
        shutil.rmtree(self.root, ignore_errors=True)

    # -- databases and roles ----------------------------------------------------------------------------------
    def url(self, dbname: str = "postgres", user: str = ADMIN, password: str | None = None) -> str:
        return f"postgresql://{user}:{password or self.password}@127.0.0.1:{self.port}/{dbname}"

    def admin(self, sql: str, *params: object, dbname: str = "postgres") -> list[tuple]:
        import psycopg

        with psycopg.connect(self.url(dbname), autocommit=True) as conn:
            cur = conn.execute(sql, params or None)
            return cur.fetchall() if cur.description else []

    def create_database(self, prefix: str = "t") -> str:
        """A fresh empty database; its name."""
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        self.admin(f'CREATE DATABASE "{name}"')
        return name

    def create_role(self, name: str, password: str) -> None:
        self.admin(f"CREATE ROLE \"{name}\" LOGIN PASSWORD '{password}'")


def wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(port)
