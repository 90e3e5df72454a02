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
``--threads`` adds a third side: this checkout with ``IPVALUE_COMPUTE_PROCESSES=0`` (the compute on threads, as
before), to tell the hand-off's part from the rest. After each round, the pipeline alone (``value_portfolio`` +
``assess_collateral`` with stress, the same request) is timed in a process of its own for each tree, so the
service's own cost is the server's CPU per request less that.
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

from bench_service import _free_port, body_50, request_bodies, server_cpu_s  # noqa: E402


class Side:
    """One server (a source tree) on a loopback port."""

    def __init__(
        self,
        name: str,
        tree: Path,
        tmp: Path,
        keys: Path,
        env: dict[str, str] | None = None,
        stub: bool = False,
        without: tuple[str, ...] = (),
    ):
        self.name, self.tree = name, tree
        self.port = _free_port()
        launcher = tmp / f"serve_{name.replace(', ', '_')}.py"
        db = tmp / (name.replace(", ", "_") + ".db")
        if (
            stub
        ):  # the app with the stand-in stages, settings from the environment as `ipvalue serve` reads them
            code = (
                f"import sys; sys.path.insert(0, {str(HERE)!r})\n"
                "from pathlib import Path\n"
                "if __name__ == '__main__':\n"
                "    import _stub_stages\n"
                "    from ipvalue.service.app import build_app\n"
                "    from ipvalue.service.cli import run_server\n"
                "    from ipvalue.service.pipeline import Pipeline\n"
                "    from ipvalue.service.settings import ServiceSettings\n"
                f"    s = ServiceSettings.from_env(None, db_path=Path({str(db)!r}), api_keys_file=Path({str(keys)!r}), "
                "job_threshold=1000, max_patents=5000)\n"
                "    app = build_app(s, pipeline=Pipeline(value=_stub_stages.value, assess=_stub_stages.assess))\n"
                f"    run_server(app, '127.0.0.1', {self.port}, 10, 'warning')\n"
            )
        else:
            code = (
                "from pathlib import Path\n"
                "from ipvalue.service import serve_command\n"
                "if __name__ == '__main__':\n"
                f"    serve_command(host='127.0.0.1', port={self.port}, db=Path({str(db)!r}), "
                f"keys_file=Path({str(keys)!r}), job_workers=2, job_threshold=1000, max_patents=5000, "
                "add_key=None, scopes='read,write', log_level='warning')\n"
            )
        launcher.write_text(code, encoding="utf-8")
        path = str(tree)
        if without:  # modules the side must not find (the extras a tree before them was measured without)
            shim = tmp / f"without_{name.replace(', ', '_')}"
            for mod in without:
                (shim / mod).mkdir(parents=True, exist_ok=True)
                (shim / mod / "__init__.py").write_text(
                    f"raise ImportError('{mod}: left out for this side')\n"
                )
            path = f"{shim}{os.pathsep}{tree}"
        env = {**os.environ, "PYTHONPATH": path, **(env or {})}
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
        return server_cpu_s(self.proc.pid)

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
    bodies = request_bodies(body, range(seed0, seed0 + n))  # encoded before the clock starts
    headers = {**headers, "Content-Type": "application/json"}
    with httpx.Client(base_url=side.url, timeout=600, limits=httpx.Limits(max_connections=clients)) as c:

        def post(i: int) -> None:
            t = time.perf_counter()
            try:
                ok = c.post("/v1/assessments", content=bodies[i], headers=headers).status_code == 201
            except httpx.HTTPError:
                ok = False
            with lock:
                lat.append(time.perf_counter() - t)
                errors[0] += not ok

        cpu0, client0, load0, t0 = side.cpu_s(), time.process_time(), os.getloadavg()[0], time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(post, range(n)))
        wall = time.perf_counter() - t0
        cpu1, client1, load1 = side.cpu_s(), time.process_time(), os.getloadavg()[0]
    return {
        "n": n,
        "wall": wall,
        "lat": lat,
        "errors": errors[0],
        "cpu": cpu1 - cpu0,
        "client": client1 - client0,
        "load": (load0 + load1) / 2,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("before", type=Path)
    ap.add_argument("--n1", type=int, default=10)
    ap.add_argument("--n4", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument(
        "--stub", action="store_true", help="stand-in stages (_stub_stages.py): the service's own cost"
    )
    ap.add_argument(
        "--threads",
        action="store_true",
        help="a third side: this checkout computing on threads (no processes)",
    )
    ap.add_argument(
        "--before-without",
        default="",
        help="comma-separated modules the before side must not import (e.g. uvloop,httptools: the service "
        "extras, when the before tree predates them and they are installed now)",
    )
    args = ap.parse_args()
    import httpx

    from ipvalue.service import new_api_key

    tmp = Path(tempfile.mkdtemp(prefix="bench-compare-"))
    secret, rec = new_api_key("bench", ["read", "write"])
    keys = tmp / "keys.json"
    keys.write_text(json.dumps({"keys": [rec.model_dump(mode="json")]}), encoding="utf-8")
    headers = {"Authorization": f"Bearer {secret}"}
    body = body_50()
    procs = {"IPVALUE_COMPUTE_PROCESSES": str(os.cpu_count() or 1)} if args.stub else {}  # as `ipvalue serve`
    sides = [
        Side(
            "before",
            args.before.resolve(),
            tmp,
            keys,
            stub=args.stub,
            without=tuple(m for m in args.before_without.split(",") if m),
        ),
        Side("after", HERE.parent, tmp, keys, procs, stub=args.stub),
    ]
    if args.threads:
        sides.append(
            Side("after, threads", HERE.parent, tmp, keys, {"IPVALUE_COMPUTE_PROCESSES": "0"}, args.stub)
        )
    results: dict[tuple[str, int], list[dict]] = {}
    try:
        for s in sides:
            for _ in range(600):
                try:
                    if httpx.get(s.url + "/v1/health", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.2)
            for i in range(2):  # warm: imports, tables, each compute worker (4 at once reach both of 2)
                warm = phase(s, headers, body, 4, 4, 100 * i)
                assert warm["errors"] == 0, f"{s.name}: warm-up failed"
        load_start = os.getloadavg()
        pipeline_cpu: dict[str, list[float]] = {} if args.stub else {"before": [], "after": []}
        for rnd in range(args.rounds):
            for clients, n in ((1, args.n1), (4, args.n4)):
                for s in sides:
                    res = phase(s, headers, body, clients, n, 10_000 * (rnd + 1) + 100 * clients)
                    results.setdefault((s.name, clients), []).append(res)
                    print(s.name, clients, f"{res['n'] / res['wall']:.2f} req/s", file=sys.stderr, flush=True)
            for s in sides:
                if s.name in pipeline_cpu:
                    pipeline_cpu[s.name].append(_pipeline_cpu(s.tree, body))
        load_end = os.getloadavg()
    finally:
        for s in sides:
            s.stop()
    lines = [
        f"Load average (1, 5, 15 min) at the start {load_start[0]:.1f} {load_start[1]:.1f} {load_start[2]:.1f}, "
        f"at the end {load_end[0]:.1f} {load_end[1]:.1f} {load_end[2]:.1f}; {os.cpu_count()} cores.",
        "",
        "| side | clients | requests | req/s | p50 ms | p95 ms | errors | server CPU ms / request "
        "| client CPU ms / request | load |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for clients in (1, 4):
        for s in sides:
            rs = results[(s.name, clients)]
            lat = np.concatenate([r["lat"] for r in rs]) * 1000
            n = sum(r["n"] for r in rs)
            lines.append(
                f"| {s.name} | {clients} | {n} | {n / sum(r['wall'] for r in rs):.2f} | "
                f"{np.percentile(lat, 50):.0f} | {np.percentile(lat, 95):.0f} | {sum(r['errors'] for r in rs)} | "
                f"{1000 * sum(r['cpu'] for r in rs) / n:.1f} | {1000 * sum(r['client'] for r in rs) / n:.1f} | "
                f"{np.mean([r['load'] for r in rs]):.1f} |"
            )
    lines += (
        []
        if args.stub
        else [
            "",
            "The pipeline alone in a process of its own (value_portfolio + assess_collateral with stress, the same "
            "request, CPU s per assessment, median of 3 per round): "
            + ", ".join(f"{k} {np.median(v):.3f}" for k, v in pipeline_cpu.items()),
        ]
    )
    print("\n".join(lines))


_PIPELINE = """
import datetime as dt, json, sys, time
from ipvalue.service.pipeline import Pipeline, patents_payload_to_rows
from ipvalue.report.assessment_json import loan_from_json
b = json.loads(sys.stdin.read()); p = Pipeline()
f = p.read(patents_payload_to_rows(b["patents"])); as_of = dt.date.fromisoformat(b["as_of"])
loan = loan_from_json(b["loan"])
p.assess(p.value(f, None, as_of=as_of, rng=1), loan=loan, policy="cn-bank-standard", rng=1)
out = []
for i in range(3):
    t = time.process_time()
    p.assess(p.value(f, None, as_of=as_of, rng=i), loan=loan, policy="cn-bank-standard", rng=i)
    out.append(time.process_time() - t)
print(sorted(out)[1])
"""


def _pipeline_cpu(tree: Path, body: dict) -> float:
    """CPU seconds of value + assess for ``body`` with the code of ``tree`` (median of 3, after a warm-up)."""
    from ipvalue.service.models import AssessmentRequest

    payload = AssessmentRequest.model_validate(body).model_dump(mode="json")
    run = subprocess.run(
        [sys.executable, "-c", _PIPELINE],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        cwd=tree,
        env={**os.environ, "PYTHONPATH": str(tree)},
        check=True,
    )
    return float(run.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
