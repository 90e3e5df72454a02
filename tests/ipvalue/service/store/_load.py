"""A mixed load against real ``ipvalue serve`` instances (used by the slow test and ``benchmarks/bench_store.py``).

Each instance is ``python -m ipvalue.cli serve --db <db> --workers W`` in a session of its own (so a kill -9
reaches its supervisor and its worker processes together). The load: small assessments and valuations with an
``Idempotency-Key`` (201), portfolios over the job threshold (202, run as leased jobs), reads of stored records,
and one key sent to two instances at once. Every write the service acknowledged is remembered, so that the
database can be checked afterwards: present, once.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))  # _helpers

from _helpers import assessment_body, free_port  # noqa: E402


@dataclass
class Instance:
    """One ``ipvalue serve`` (a supervisor and its workers) on a loopback port."""

    db: str
    keys_file: Path
    audit_key: Path
    workers: int
    log: Path
    job_threshold: int = 5
    lease_s: float = 3.0
    port: int = 0
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 120.0) -> Instance:
        self.port = free_port()
        cmd = [
            sys.executable, "-m", "ipvalue.cli", "serve", "--db", self.db, "--workers", str(self.workers),
            "--port", str(self.port), "--keys-file", str(self.keys_file), "--audit-key-file", str(self.audit_key),
            "--job-threshold", str(self.job_threshold), "--log-level", "warning",
        ]  # fmt: skip
        env = {**os.environ, "IPVALUE_JOB_LEASE_S": str(self.lease_s), "PYTHONUNBUFFERED": "1"}
        with open(self.log, "ab") as err:
            self.proc = subprocess.Popen(
                cmd, env=env, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"instance exited: {self.log.read_text(errors='replace')[-3000:]}")
            try:
                if httpx.get(self.url + "/v1/ready", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        self.kill()
        raise RuntimeError("instance did not become ready")

    def kill(self) -> None:
        """SIGKILL to the supervisor and every worker (its process group)."""
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()
            except ProcessLookupError:
                pass
        self.kill()


def write_keys(folder: Path) -> tuple[str, Path]:
    """A read/write key; its secret and the keys file."""
    from ipvalue.service import new_api_key

    secret, rec = new_api_key("loan-system", ["read", "write"])
    path = folder / "keys.json"
    path.write_text(json.dumps({"keys": [rec.model_dump(mode="json")]}), encoding="utf-8")
    path.chmod(0o600)
    return secret, path


@dataclass
class LoadResult:
    """What a load run saw."""

    requests: int = 0
    errors: list[str] = field(default_factory=list)
    #: Idempotency-Key -> record id, for every acknowledged write (201 or 202)
    acknowledged: dict[str, str] = field(default_factory=dict)
    jobs: set[str] = field(default_factory=set)
    #: record ids two instances returned for one key sent to both at once
    pairs: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    retried_after_kill: int = 0

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def _body(kind: str, i: int) -> tuple[str, dict]:
    if kind == "job":
        return "/v1/assessments", assessment_body(8, seed=i)
    if kind == "valuation":
        b = assessment_body(2, seed=i)
        b.pop("loan")
        return "/v1/valuations", b
    return "/v1/assessments", assessment_body(2, seed=i)


def run_load(
    urls: list[str],
    secret: str,
    n: int,
    concurrency: int = 16,
    *,
    kill_at: int | None = None,
    kill: object = None,
) -> LoadResult:
    """``n`` mixed requests at ``concurrency`` clients over ``urls`` (round robin).

    With ``kill_at``, ``kill()`` is called once that many requests have been sent, and ``urls[0]`` is dropped
    from the rotation: a request it did not answer (a write, same key, or a read) is sent again to another
    instance (as a client retries), and counted in ``retried_after_kill``, not as an error.
    """
    res = LoadResult()
    lock = threading.Lock()
    live = list(urls)
    headers = {"Authorization": f"Bearer {secret}"}
    sent = 0
    killed = threading.Event()
    mix = ["assessment"] * 4 + ["valuation"] * 2 + ["read"] * 2 + ["job"] + ["pair"]

    def send(client: httpx.Client, method: str, base: str, path: str, **kw: object) -> httpx.Response:
        """Send once; when the killed instance does not answer, send again to a live one (as a client retries).

        The instance for a request is chosen before the kill may land, so a write (same Idempotency-Key) or a
        read chosen for the killed instance can meet a refused or cut connection.
        """
        try:
            return client.request(method, base + path, **kw)  # type: ignore[arg-type]
        except httpx.TransportError:
            if not killed.is_set() or base != urls[0]:
                raise
            with lock:
                res.retried_after_kill += 1
                other = live[0]
            return client.request(method, other + path, **kw)  # type: ignore[arg-type]

    def post(client: httpx.Client, base: str, path: str, body: dict, key: str) -> httpx.Response:
        return send(
            client, "POST", base, path, json=body, headers={**headers, "Idempotency-Key": key}, timeout=120
        )

    def one(i: int) -> None:
        nonlocal sent
        with lock:
            sent += 1
            if kill_at is not None and sent == kill_at and not killed.is_set():
                killed.set()
                live.remove(urls[0])
                kill()  # type: ignore[operator]
            base = live[i % len(live)]
            pair_to = list(live[:2])  # read under the lock: another thread may kill an instance meanwhile
            known = list(res.acknowledged.values())
        kind = mix[i % len(mix)]
        with httpx.Client() as client:
            try:
                if kind == "read" and known:
                    r = send(
                        client, "GET", base, f"/v1/jobs/{known[i % len(known)]}", headers=headers, timeout=60
                    )
                    ok = r.status_code == 200
                    with lock:
                        res.requests += 1
                        if not ok:
                            res.errors.append(f"GET {r.status_code} {r.text[:200]}")
                    return
                if kind == "pair" and len(pair_to) > 1:
                    key = f"pair-{uuid.uuid4().hex}"
                    path, body = _body("assessment", i)
                    with ThreadPoolExecutor(2) as two:
                        rs = list(two.map(lambda u: post(client, u, path, body, key), pair_to))
                    with lock:
                        res.requests += 2
                        if all(r.status_code in (200, 201, 202) for r in rs):
                            res.pairs.append((rs[0].json()["id"], rs[1].json()["id"]))
                            res.acknowledged[key] = rs[0].json()["id"]
                        else:
                            res.errors += [f"pair {r.status_code} {r.text[:200]}" for r in rs]
                    return
                key = f"k-{uuid.uuid4().hex}"
                path, body = _body("job" if kind == "job" else kind if kind != "pair" else "assessment", i)
                r = post(client, base, path, body, key)
                with lock:
                    res.requests += 1
                    if r.status_code in (201, 202):
                        res.acknowledged[key] = r.json()["id"]
                        if r.status_code == 202:
                            res.jobs.add(r.json()["id"])
                    else:
                        res.errors.append(f"POST {path} {r.status_code} {r.text[:200]}")
            except httpx.HTTPError as exc:
                with lock:
                    res.requests += 1
                    res.errors.append(f"{kind} {type(exc).__name__}: {exc}")

    t0 = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, range(n)))
    res.seconds = time.perf_counter() - t0
    return res


def wait_jobs_finished(store: object, timeout: float) -> list[str]:
    """Poll until no job is queued or running; the ids still unfinished at the deadline."""
    deadline = time.monotonic() + timeout
    left = store.unfinished()  # type: ignore[attr-defined]
    while left and time.monotonic() < deadline:
        time.sleep(0.5)
        left = store.unfinished()  # type: ignore[attr-defined]
    return left


def check_records(store: object, res: LoadResult) -> dict[str, int]:
    """Every acknowledged write present, once; the pairs answered with one record; counts for the report."""
    ids = set(store.list_ids())  # type: ignore[attr-defined]
    missing = [i for i in res.acknowledged.values() if i not in ids]
    pairs_split = [p for p in res.pairs if p[0] != p[1]]
    duplicated = len(ids) - len(set(res.acknowledged.values()))
    return {
        "records": len(ids),
        "acknowledged": len(res.acknowledged),
        "missing": len(missing),
        "duplicated": duplicated,
        "pairs": len(res.pairs),
        "pairs_split": len(pairs_split),
    }
