"""Benchmark: the HTTP service under load, for a 50-patent collateral assessment.

Run as a script: ``python benchmarks/bench_service.py [--quick]`` prints the Markdown section and writes it to
``benchmarks/results/service.md``.

A real ``uvicorn`` process (``ipvalue.service.serve_command``, the real computing stages, SQLite with
``synchronous=FULL``) listens on loopback; an ``httpx`` client posts the same 50-patent assessment (the demo
portfolio plus 16 variants of its granted patents, the demo loan) one request at a time and then from several
threads, and reads stored assessments back. Figures: requests per second and latency percentiles.
Reference measured in the same run: the same assessment computed in-process (``run_assessment``, no HTTP, no
storage), so that the service's own overhead (validation, JSON, hashing, the SQLite transaction) is the
difference.
"""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def body_50(seed: int = 7) -> dict:
    """The demo portfolio grown to 50 patents (variants of its granted ones get new CN numbers), as JSON."""
    from ipvalue.demo import load_demo
    from ipvalue.facts.numbers import cn_check_digit
    from ipvalue.facts.patent import COLUMN_KINDS
    from ipvalue.report.assessment_json import frame_records

    frame, loan, as_of = load_demo()
    cols = [c for c in COLUMN_KINDS if c in frame.columns and c not in ("source", "fetched_at")]
    rows = frame_records(frame[cols])
    granted = [r for r in rows if r.get("legal_status") == "granted"]
    extra = []
    for i in range(50 - len(rows)):
        src = dict(granted[i % len(granted)])
        digit = {"invention": "1", "utility_model": "2", "design": "3"}[src["patent_type"]]
        digits = f"2019{digit}{9_000_000 + i:07d}"
        src["patent_id"] = f"CN{digits}.{cn_check_digit(digits)}"
        extra.append(src)
    patents = []
    for p in rows + extra:
        p = {k: v for k, v in p.items() if v is not None}
        for k in ("owner", "cpc", "family_jurisdictions"):
            if k in p:
                p[k] = p[k].split(";")
        patents.append(p)
    lj = loan.to_dict()
    lj["risk_sharing"] = {
        k: (None if isinstance(v, float) and math.isinf(v) else v) for k, v in lj["risk_sharing"].items()
    }
    return {
        "patents": patents,
        "loan": {k: v for k, v in lj.items() if v is not None},
        "as_of": str(as_of),
        "seed": seed,
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) of process ``pid`` and its live children (the compute workers), from ``/proc``."""
    pids = {pid}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            pids |= {int(p) for p in (task / "children").read_text().split()}
        except OSError:
            pass
    total = 0
    for p in pids:
        try:
            f = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(f[11]) + int(f[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def request_bodies(body: dict, seeds: range) -> list[bytes]:
    """``body`` with each seed, encoded once before the clock starts (the client's work per request is then
    sending bytes)."""
    return [json.dumps({**body, "seed": s}, ensure_ascii=False).encode("utf-8") for s in seeds]


def _pct(a: list[float]) -> tuple[float, float, float]:
    x = np.asarray(a) * 1000
    return tuple(float(np.percentile(x, q)) for q in (50, 95, 99))  # type: ignore[return-value]


def _service_work(payload: dict, body: dict, pipeline, tmp: Path, n: int) -> list[float]:
    """Time what the service does around the computation, in-process, as its code path does it: check and parse
    the body, validate it, render and hash the input once, render and hash the result once
    (``hashed_json``), the SQLite transaction of the record and its audit entry (``synchronous=FULL``), the
    answer spliced from the stored text."""
    import datetime as dt

    from ipvalue.service.bodies import check_json_body
    from ipvalue.service.models import AssessmentRequest
    from ipvalue.service.pipeline import run_assessment
    from ipvalue.service.store import (
        AssessmentRecord,
        AuditEntry,
        SQLiteAssessmentStore,
        canonical_json,
        new_record_id,
        sha256_text,
    )
    from ipvalue.service.store.protocol import hashed_json

    output, artifacts = run_assessment(pipeline, payload)
    raw = json.dumps(body).encode()
    store = SQLiteAssessmentStore(tmp / "overhead.db")
    out = []
    try:
        for _ in range(n):
            t = time.perf_counter()
            check_json_body(raw, max_depth=32, max_text=2000)
            req = AssessmentRequest.model_validate_json(raw)
            p = req.model_dump(mode="json")
            p["policy"] = "cn-bank-standard"
            pipeline.policy_names()
            input_json = canonical_json(p)
            ih = sha256_text(input_json)
            oh, output_json = hashed_json(output)
            now = dt.datetime.now(dt.UTC).isoformat()
            rec = AssessmentRecord(
                id=new_record_id(),
                kind="assessment",
                status="done",
                progress=1.0,
                created_at=now,
                updated_at=now,
                key_id="bench",
                input=p,
                output=output,
                error=None,
                input_hash=ih,
                output_hash=oh,
                version="bench",
                policy="cn-bank-standard",
                seed=7,
                artifacts=artifacts,
                input_json=input_json,
                output_json=output_json,
            )
            store.create(
                rec,
                AuditEntry(
                    action="assessment.create", who="bench", record_id=rec.id, input_hash=ih, output_hash=oh
                ),
            )
            head = json.dumps({"id": rec.id, "output_hash": oh}, ensure_ascii=False, separators=(",", ":"))
            f"{head[:-1]},{output_json[1:]}".encode()
            out.append(time.perf_counter() - t)
    finally:
        store.close()
    return out


def run(quick: bool = False) -> str:
    import httpx

    from ipvalue.service import new_api_key
    from ipvalue.service.models import AssessmentRequest
    from ipvalue.service.pipeline import Pipeline, run_assessment

    n_seq, n_conc, conc, n_get = (8, 16, 4, 100) if quick else (30, 60, 4, 500)
    body = body_50()
    assert len(body["patents"]) == 50

    payload = AssessmentRequest.model_validate(body).model_dump(mode="json")
    payload["policy"] = "cn-bank-standard"
    pipeline = Pipeline()
    run_assessment(pipeline, payload)  # warm up imports and caches

    tmp = Path(tempfile.mkdtemp(prefix="bench-service-"))
    own = _service_work(payload, body, pipeline, tmp, n=max(5, n_seq))
    secret, rec = new_api_key("bench", ["read", "write"])
    keys = tmp / "keys.json"
    keys.write_text(json.dumps({"keys": [rec.model_dump(mode="json")]}), encoding="utf-8")
    port = _free_port()
    launcher = tmp / "serve.py"
    launcher.write_text(  # guarded: the service's compute processes are spawned and re-import this file
        "from pathlib import Path\n"
        "from ipvalue.service import serve_command\n"
        "if __name__ == '__main__':\n"
        f"    serve_command(host='127.0.0.1', port={port}, db=Path({str(tmp / 'bench.db')!r}), "
        f"keys_file=Path({str(keys)!r}), job_workers=2, job_threshold=1000, max_patents=5000, add_key=None, "
        "scopes='read,write', log_level='warning')\n",
        encoding="utf-8",
    )
    proc = subprocess.Popen(
        [sys.executable, str(launcher)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    h = {"Authorization": f"Bearer {secret}"}
    try:
        for _ in range(300):
            try:
                if httpx.get(url + "/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        seq_bodies = request_bodies(body, range(100, 100 + n_seq))
        conc_bodies = request_bodies(body, range(1000, 1000 + n_conc))
        hj = {**h, "Content-Type": "application/json"}
        # one client, keep-alive connections (one per client thread), bodies encoded before the clock starts
        with httpx.Client(base_url=url, timeout=300, limits=httpx.Limits(max_connections=16)) as c:
            warm = c.post("/v1/assessments", json=body, headers=h)
            assert warm.status_code == 201, warm.text[:500]
            aid = warm.json()["id"]
            size_kb = len(warm.content) / 1024
            for i in range(2 * conc):  # each compute worker warm (its first request imports and reads tables)
                assert c.post("/v1/assessments", content=conc_bodies[i], headers=hj).status_code == 201

            # one at a time, each HTTP request paired with the same computation in this process (the reference),
            # interleaved so that both see the same load on a shared machine
            seq, ref = [], []
            seq_time = seq_cpu = 0.0
            for i in range(n_seq):
                t = time.perf_counter()
                run_assessment(pipeline, {**payload, "seed": 100 + i})
                ref.append(time.perf_counter() - t)
                cpu0, t = server_cpu_s(proc.pid), time.perf_counter()
                r = c.post("/v1/assessments", content=seq_bodies[i], headers=hj)
                seq.append(time.perf_counter() - t)
                seq_cpu += server_cpu_s(proc.pid) - cpu0
                seq_time += seq[-1]
                assert r.status_code == 201
            seq_rps = n_seq / seq_time

            lock = threading.Lock()
            conc_lat: list[float] = []

            def post(i: int) -> None:
                t = time.perf_counter()
                r = c.post("/v1/assessments", content=conc_bodies[i], headers=hj)
                with lock:
                    conc_lat.append(time.perf_counter() - t)
                assert r.status_code == 201

            cpu0, client0, t0 = server_cpu_s(proc.pid), time.process_time(), time.perf_counter()
            with ThreadPoolExecutor(conc) as pool:
                list(pool.map(post, range(n_conc)))
            conc_rps = n_conc / (time.perf_counter() - t0)
            conc_cpu = (server_cpu_s(proc.pid) - cpu0) / n_conc
            client_cpu = (time.process_time() - client0) / n_conc

            get_lat: list[float] = []

            def get(i: int) -> None:
                t = time.perf_counter()
                r = c.get(f"/v1/assessments/{aid}", headers=h)
                with lock:
                    get_lat.append(time.perf_counter() - t)
                assert r.status_code == 200

            cpu0, t0 = server_cpu_s(proc.pid), time.perf_counter()
            with ThreadPoolExecutor(16) as pool:
                list(pool.map(get, range(n_get)))
            get_rps = n_get / (time.perf_counter() - t0)
            get_cpu = (server_cpu_s(proc.pid) - cpu0) / n_get
        load = os.getloadavg()
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()

    r50, r95, r99 = _pct(ref)
    s50, s95, s99 = _pct(seq)
    c50, c95, c99 = _pct(conc_lat)
    g50, g95, g99 = _pct(get_lat)
    o50, o95, _ = _pct(own)
    cores = os.cpu_count()
    lines = [
        "## HTTP service: 50-patent collateral assessment",
        "",
        f"A real uvicorn process on loopback (`ipvalue serve`, real valuation and collateral stages with their "
        f"default Monte Carlo, SQLite `synchronous=FULL`); {cores} cores shared with other work; "
        f"{'quick run' if quick else 'full run'}. Response body of one assessment: {size_kb:,.0f} KiB.",
        "",
        "| what | requests | req/s | p50 ms | p95 ms | p99 ms | server CPU ms / request |",
        "|---|---:|---:|---:|---:|---:|---:|",
        f"| reference: the same assessment in-process (no HTTP, no storage) | {len(ref)} | "
        f"{1 / np.mean(ref):.2f} | {r50:.0f} | {r95:.0f} | {r99:.0f} | |",
        f"| POST /v1/assessments, one at a time | {n_seq} | {seq_rps:.2f} | {s50:.0f} | {s95:.0f} | {s99:.0f} | "
        f"{1000 * seq_cpu / n_seq:.0f} |",
        f"| POST /v1/assessments, {conc} clients | {n_conc} | {conc_rps:.2f} | {c50:.0f} | {c95:.0f} | {c99:.0f} | "
        f"{1000 * conc_cpu:.0f} |",
        f"| GET /v1/assessments/{{id}}, 16 clients | {n_get} | {get_rps:.1f} | {g50:.1f} | {g95:.1f} | {g99:.1f} | "
        f"{1000 * get_cpu:.1f} |",
        "",
        f"Server CPU is the service process's and its compute workers' (`/proc`); the client (this process, "
        f"{conc} threads on one keep-alive `httpx` client, bodies encoded before the clock starts) used "
        f"{1000 * client_cpu:.1f} ms CPU per request on the same cores. Load average (1, 5, 15 min) at the end: "
        f"{load[0]:.1f} {load[1]:.1f} {load[2]:.1f}.",
        "",
        f"What the service adds around the computation, measured directly in-process (the body check, "
        f"validation, the input rendered and hashed once, the result rendered and hashed once, the SQLite "
        f"transaction of the record and its audit entry with `synchronous=FULL`, the answer spliced from the "
        f"stored text): p50 {o50:.0f} ms, p95 {o95:.0f} ms per 50-patent assessment (wall time). Paired "
        f"difference HTTP minus in-process, one at a time: p50 {s50 - r50:+.0f} ms (it also holds the result's "
        f"JSON, the hand-off to a compute worker process and waiting for the CPU on {cores} shared cores).",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    text = run(quick="--quick" in sys.argv)
    print(text)
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "service.md").write_text(text, encoding="utf-8")
