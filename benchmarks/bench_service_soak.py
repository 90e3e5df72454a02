"""Soak: 1,000 mixed requests from 16 concurrent clients, a kill -9 in the middle, then every write checked.

Run as a script: ``python benchmarks/bench_service_soak.py [--quick]`` prints the Markdown section and writes it to
``benchmarks/results/service_soak.md``.

The server is a real uvicorn process on loopback (``tests/ipvalue/service/_server.py``: the service with the
stand-in computing stages of the tests, so that the soak measures the service, not the valuation; a slow request
is one whose stand-in computation sleeps). The mix: assessments (small, and large ones that become jobs),
valuations, idempotent retries, reads, oversized bodies (413), malformed bodies (bad JSON, not UTF-8, 900 deep:
400), invalid ones (422), and slow ones. A separate client asks ``/v1/health`` every 20 ms throughout. Half way,
the server is killed with SIGKILL and started again on the same database; clients retry what failed to connect.

Pass criteria (issue #18): no 5xx answer, health p99 under 200 ms while the server is up, and every write the
server acknowledged (201 or 202 with an id) present in the database after the kill and restart.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np

HERE = Path(__file__).resolve().parent
SERVICE_TESTS = HERE.parent / "tests" / "ipvalue" / "service"
sys.path.insert(0, str(SERVICE_TESTS))

from _helpers import Server, assessment_body, directive  # noqa: E402


def _keys(tmp: Path) -> tuple[str, Path]:
    from ipvalue.service.auth import new_api_key, write_keys_file

    secret, rec = new_api_key("soak", ["read", "write"])
    path = tmp / "keys.json"
    write_keys_file(path, [rec])
    return secret, path


def run(quick: bool = False) -> str:
    n_requests, concurrency = (200, 16) if quick else (1000, 16)
    tmp = Path(tempfile.mkdtemp(prefix="soak-service-"))
    secret, keys_file = _keys(tmp)
    h = {"Authorization": f"Bearer {secret}"}
    srv = Server(
        db=tmp / "soak.db",
        keys_file=keys_file,
        args=["--job-threshold", "20", "--max-patents", "100", "--max-body-bytes", "200000"],
    ).start()
    restart_lock = threading.Lock()
    down = threading.Event()
    acknowledged: set[str] = set()
    statuses: Counter[int] = Counter()
    kinds: Counter[str] = Counter()
    transport_errors = 0
    lock = threading.Lock()
    health: list[tuple[float, float, int]] = []  # (time, latency, status)
    stop = threading.Event()

    def url() -> str:
        return srv.url

    def poll_health() -> None:
        with httpx.Client(timeout=5) as c:
            while not stop.is_set():
                t0 = time.perf_counter()
                try:
                    code = c.get(url() + "/v1/health").status_code
                except httpx.TransportError:
                    code = 0
                health.append((time.monotonic(), time.perf_counter() - t0, code))
                time.sleep(0.02)

    oversized = json.dumps(assessment_body(3, title_pad="x" * 250_000)).encode()
    malformed = [
        b'{"as_of": "2026-01-01", "patents": [',
        b'{"as_of": "2026-01-01", "title": "\xff\xfe"}',
        b'{"assumptions": ' + b'{"a": ' * 900 + b"1" + b"}" * 900 + b"}",
        b'{"as_of": "2026-01-01", "seed": NaN}',
    ]

    def op(i: int, c: httpx.Client) -> tuple[str, httpx.Response]:
        k = i % 25
        if k < 9:
            return "assessment", c.post(
                url() + "/v1/assessments", json=assessment_body(1 + i % 4, seed=i), headers=h
            )
        if k < 11:
            body = assessment_body(2, seed=50_000 + i % 7)
            return "idempotent", c.post(
                url() + "/v1/assessments", json=body, headers={**h, "Idempotency-Key": f"soak-{i % 7}"}
            )
        if k < 13:
            body = {k2: v for k2, v in assessment_body(2, seed=i).items() if k2 != "loan"}
            return "valuation", c.post(url() + "/v1/valuations", json=body, headers=h)
        if k < 16:
            return "read", c.get(url() + "/v1/policies", headers=h)
        if k < 18:
            return "oversized", c.post(
                url() + "/v1/assessments",
                content=oversized,
                headers={**h, "Content-Type": "application/json"},
            )
        if k < 20:
            return "malformed", c.post(
                url() + "/v1/assessments",
                content=malformed[i % len(malformed)],
                headers={**h, "Content-Type": "application/json"},
            )
        if k < 21:
            body = assessment_body(2)
            body["as_of"] = "9999-01-01"
            return "invalid", c.post(url() + "/v1/assessments", json=body, headers=h)
        if k < 23:
            return "slow", c.post(
                url() + "/v1/assessments", json=directive(assessment_body(2, seed=i), "sleep=0.5"), headers=h
            )
        return "job", c.post(url() + "/v1/assessments", json=assessment_body(25, seed=i), headers=h)

    def worker(indices: list[int]) -> None:
        nonlocal transport_errors
        with httpx.Client(timeout=60) as c:
            for i in indices:
                for _attempt in range(100):
                    if down.is_set():
                        time.sleep(0.1)
                        continue
                    try:
                        kind, r = op(i, c)
                    except httpx.TransportError:
                        with lock:
                            transport_errors += 1
                        time.sleep(0.1)
                        continue
                    with lock:
                        statuses[r.status_code] += 1
                        kinds[f"{kind} {r.status_code}"] += 1
                        if r.status_code in (201, 202) and "id" in r.json():
                            acknowledged.add(r.json()["id"])
                    break
                if i == n_requests // 2:
                    with restart_lock:
                        down.set()
                        srv.proc.send_signal(signal.SIGKILL)
                        srv.proc.wait(10)
                        srv.start()
                        down.clear()

    poller = threading.Thread(target=poll_health, daemon=True)
    poller.start()
    t0 = time.perf_counter()
    shards = [list(range(n_requests))[w::concurrency] for w in range(concurrency)]
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(worker, shards))
    wall = time.perf_counter() - t0
    # wait for the jobs to finish, then stop the server
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with sqlite3.connect(srv.db) as conn:
            left = conn.execute(
                "SELECT COUNT(*) FROM assessments WHERE status IN ('queued','running')"
            ).fetchone()[0]
        if left == 0:
            break
        time.sleep(0.5)
    stop.set()
    poller.join(5)
    srv.stop()
    with sqlite3.connect(srv.db) as conn:
        stored = {r[0] for r in conn.execute("SELECT id FROM assessments")}
        by_status = dict(conn.execute("SELECT status, COUNT(*) FROM assessments GROUP BY status").fetchall())
    missing = acknowledged - stored
    up = np.array([lat for _, lat, code in health if code == 200]) * 1000
    five_xx = sum(n for code, n in statuses.items() if code >= 500)
    p50, p99, pmax = np.percentile(up, [50, 99]).tolist() + [float(up.max())]
    verdict = five_xx == 0 and p99 < 200 and not missing
    from ipvalue.service.cli import verify_database

    audit_code, audit_lines = verify_database(srv.db)
    lines = [
        "## HTTP service: soak (issue #18)",
        "",
        f"`benchmarks/bench_service_soak.py{' --quick' if quick else ''}`: {n_requests} mixed requests from "
        f"{concurrency} concurrent clients against a real uvicorn process on loopback (stand-in computing stages), "
        f"a SIGKILL and restart half way; {os.cpu_count()} cores shared with other work. Wall time {wall:.1f} s.",
        "",
        "| figure | value |",
        "|---|---:|",
        f"| answers by status | {', '.join(f'{k}: {v}' for k, v in sorted(statuses.items()))} |",
        f"| 5xx answers | {five_xx} |",
        f"| connection errors (the server was down for the restart; retried) | {transport_errors} |",
        f"| health checks answered / p50 / p99 / max ms | {len(up)} / {p50:.1f} / {p99:.1f} / {pmax:.1f} |",
        f"| acknowledged writes (201 / 202 with an id) | {len(acknowledged)} |",
        f"| acknowledged writes missing after kill -9 and restart | {len(missing)} |",
        f"| records by status at the end | {', '.join(f'{k}: {v}' for k, v in sorted(by_status.items()))} |",
        f"| `ipvalue audit verify` afterwards | exit {audit_code}: {audit_lines[0]} |",
        f"| pass (0 5xx, health p99 < 200 ms, nothing lost) | {'yes' if verdict else 'NO'} |",
        "",
        "By kind: " + ", ".join(f"{k}: {v}" for k, v in sorted(kinds.items())) + ".",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="200 requests instead of 1,000")
    args = ap.parse_args()
    text = run(quick=args.quick)
    print(text)
    out = HERE / "results" / "service_soak.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
