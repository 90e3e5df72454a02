"""Benchmark: the HTTP service before and after a change, in one run (issue 17, the service's fast path).

``python benchmarks/bench_service_compare.py BEFORE_TREE [--n1 N] [--n4 N] [--rounds R]``

``BEFORE_TREE`` is a checkout of the code before (``git archive <commit> | tar -x -C DIR``); the code after is
this checkout. Each side runs as ``ipvalue serve`` does (``serve_command``, the real stages, SQLite
``synchronous=FULL``, the defaults of its own release) in a uvicorn process on loopback, both started before
the first request. The same 50-patent assessment as ``bench_service.py`` (the demo portfolio grown to 50, the
demo loan, no assumptions: the server's default valuation draws, Monte Carlo paths and stress shocks) is posted
one client at a time, then from 4 client threads; the phases alternate between the two sides (before 1 client,
after 1 client, before 4 clients, after 4 clients, repeated ``--rounds`` times) so that both see the same load
on a shared machine. Figures per side and concurrency: requests per second, p50 and p95 latency, errors, and the
server's CPU seconds per request (its process and its children, from ``/proc``), with the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_service import _free_port, body_50  # noqa: E402


class Side:
    """One server (a source tree) on a loopback port."""

    def __init__(self, name: str, tree: Path, tmp: Path, keys: Path):
        self.name, self.tree = name, tree
        self.port = _free_port()
        launcher = tmp / f"serve_{name}.py"
        launcher.write_text(
            "from pathlib import Path\n"
            "from ipvalue.service import serve_command\n"
            "if __name__ == '__main__':\n"
            f"    serve_command(host='127.0.0.1', port={self.port}, db=Path({str(tmp / (name + '.db'))!r}), "
            f"keys_file=Path({str(keys)!r}), job_workers=2, job_threshold=1000, max_patents=5000, "
            "add_key=None, scopes='read,write', log_level='warning')\n",
            encoding="utf-8",
        )
        env = {**os.environ, "PYTHONPATH": str(tree)}
        self.proc = subprocess.Popen(
            [sys.executable, str(launcher)],
            cwd=tree,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self.url = f"http://127.0.0.1:{self.port}"

    def cpu_s(self) -> float:
        """CPU seconds of the server process and its live children."""
        pids = {self.proc.pid}
        for task in Path(f"/proc/{self.proc.pid}/task").iterdir():
            try:
                pids |= {int(p) for p in (task / "children").read_text().split()}
            except OSError:
                pass
        total = 0
        for pid in pids:
            try:
                f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(f[11]) + int(f[12])  # utime, stime
        return total / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def phase(side: Side, headers: dict, body: dict, clients: int, n: int, seed0: int) -> dict:
    import httpx

    lat: list[float] = []
    errors = [0]
    lock = threading.Lock()
    with httpx.Client(base_url=side.url, timeout=600, limits=httpx.Limits(max_connections=clients)) as c:

        def post(i: int) -> None:
            t = time.perf_counter()
            try:
                ok = c.post("/v1/assessments", json={**body, "seed": seed0 + i}, headers=headers).status_code
                ok = ok == 201
            except httpx.HTTPError:
                ok = False
            with lock:
                lat.append(time.perf_counter() - t)
                errors[0] += not ok

        cpu0, load0, t0 = side.cpu_s(), os.getloadavg()[0], time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(post, range(n)))
        wall = time.perf_counter() - t0
        cpu1, load1 = side.cpu_s(), os.getloadavg()[0]
    return {
        "n": n,
        "wall": wall,
        "lat": lat,
        "errors": errors[0],
        "cpu": cpu1 - cpu0,
        "load": (load0 + load1) / 2,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("before", type=Path)
    ap.add_argument("--n1", type=int, default=10)
    ap.add_argument("--n4", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=1)
    args = ap.parse_args()
    import httpx

    from ipvalue.service import new_api_key

    tmp = Path(tempfile.mkdtemp(prefix="bench-compare-"))
    secret, rec = new_api_key("bench", ["read", "write"])
    keys = tmp / "keys.json"
    keys.write_text(json.dumps({"keys": [rec.model_dump(mode="json")]}), encoding="utf-8")
    headers = {"Authorization": f"Bearer {secret}"}
    body = body_50()
    sides = [Side("before", args.before.resolve(), tmp, keys), Side("after", HERE.parent, tmp, keys)]
    results: dict[tuple[str, int], list[dict]] = {}
    try:
        for s in sides:
            for _ in range(600):
                try:
                    if httpx.get(s.url + "/v1/health", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.2)
            for i in range(3):  # warm: imports, tables, the compute workers
                r = httpx.post(
                    s.url + "/v1/assessments", json={**body, "seed": i}, headers=headers, timeout=600
                )
                assert r.status_code == 201, r.text[:300]
        load_start = os.getloadavg()
        for rnd in range(args.rounds):
            for clients, n in ((1, args.n1), (4, args.n4)):
                for s in sides:
                    res = phase(s, headers, body, clients, n, 10_000 * (rnd + 1) + 100 * clients)
                    results.setdefault((s.name, clients), []).append(res)
                    print(s.name, clients, f"{res['n'] / res['wall']:.2f} req/s", file=sys.stderr, flush=True)
        load_end = os.getloadavg()
    finally:
        for s in sides:
            s.stop()
    lines = [
        f"Load average (1, 5, 15 min) at the start {load_start[0]:.1f} {load_start[1]:.1f} {load_start[2]:.1f}, "
        f"at the end {load_end[0]:.1f} {load_end[1]:.1f} {load_end[2]:.1f}; {os.cpu_count()} cores.",
        "",
        "| side | clients | requests | req/s | p50 ms | p95 ms | errors | server CPU s / request | load |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for clients in (1, 4):
        for s in sides:
            rs = results[(s.name, clients)]
            lat = np.concatenate([r["lat"] for r in rs]) * 1000
            n = sum(r["n"] for r in rs)
            lines.append(
                f"| {s.name} | {clients} | {n} | {n / sum(r['wall'] for r in rs):.2f} | "
                f"{np.percentile(lat, 50):.0f} | {np.percentile(lat, 95):.0f} | {sum(r['errors'] for r in rs)} | "
                f"{sum(r['cpu'] for r in rs) / n:.3f} | {np.mean([r['load'] for r in rs]):.1f} |"
            )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
