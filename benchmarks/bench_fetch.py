"""Fetch throughput: 1,000 patents from the fake OPS server on loopback, cold and warm cache.

Three runs of the same 1,000 synthetic patents (one bulk biblio POST per 100, one ``family/legal`` GET each):

1. cold, real time, allowance generous (6,000 a minute per service): the client's own throughput;
2. cold, virtual time, at the allowance of the OPS documentation's example header (inpadoc 45, retrieval
   100 a minute): how long the service's rate would make the run, checked against the server's own count;
3. warm: the same numbers again from the SQLite cache (zero requests).

Reference, measured in the same process: a bare loop of ``httpx`` GETs of the same legal answers with no
limiter, cache or parsing (the server's and the socket's share of the time).
"""

from __future__ import annotations

import asyncio
import resource
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

import data_sources as ds
from tests.fakes import FakePatentServer, VirtualClock


def _reference(srv: FakePatentServer, nums: list[str]) -> float:
    async def main() -> float:
        async with httpx.AsyncClient(timeout=30) as client:
            tok = (
                await client.post(
                    f"{srv.base_urls['epo_ops']}/auth/accesstoken",
                    auth=(srv.key, srv.secret),
                    content=b"grant_type=client_credentials",
                )
            ).json()
            headers = {"Authorization": f"Bearer {tok['access_token']}"}
            sem = asyncio.Semaphore(2)

            async def one(n: str) -> None:
                docdb = f"{n[:2]}.{n[2:-2]}.{n[-2:]}"
                async with sem:
                    r = await client.get(
                        f"{srv.base_urls['epo_ops']}/rest-services/family/publication/docdb/{docdb}/legal",
                        headers=headers,
                    )
                    r.raise_for_status()

            t = time.perf_counter()
            await asyncio.gather(*(one(n) for n in nums))
            return time.perf_counter() - t

    return asyncio.run(main())


def run(quick: bool = False) -> str:
    n = 200 if quick else 1000
    lines = [f"## Fetch (data_sources): {n:,} patents from the fake OPS server on loopback", ""]
    with (
        tempfile.TemporaryDirectory() as tmp,
        FakePatentServer(ops_allowance={"retrieval": 6000, "inpadoc": 6000}, fixtures=False) as srv,
    ):
        nums = srv.add_synthetic(n)
        cache = Path(tmp) / "cache.sqlite"
        ref = _reference(srv, nums)
        srv.log.clear()

        t = time.perf_counter()
        cold = ds.fetch(nums, sources=["epo_ops"], base_urls=srv.base_urls, env=srv.env, cache=cache)
        t_cold = time.perf_counter() - t
        req_cold = len(srv.log)
        assert len(cold.facts) == n and cold.failures.empty

        t = time.perf_counter()
        warm = ds.fetch(nums, sources=["epo_ops"], base_urls=srv.base_urls, env=srv.env, cache=cache)
        t_warm = time.perf_counter() - t
        req_warm = len(srv.log) - req_cold
        assert len(warm.facts) == n

    vclock = VirtualClock()
    with FakePatentServer(
        ops_allowance={"retrieval": 100, "inpadoc": 45}, clock=vclock.now, fixtures=False
    ) as srv:
        nums = srv.add_synthetic(n)
        t = time.perf_counter()
        slow = ds.fetch(
            nums,
            sources=["epo_ops"],
            base_urls=srv.base_urls,
            env=srv.env,
            source_options={"epo_ops": {"monotonic": vclock.now, "sleep": vclock.sleep, "concurrency": 1}},
        )
        t_real = time.perf_counter() - t
        times = sorted(r["t"] for r in srv.requests("/epo/3.2/rest-services/family") if r["status"] == 200)
        peak = max(sum(1 for u in times[i : i + 60] if u < s + 60) for i, s in enumerate(times))
        virtual_min = (times[-1] - times[0]) / 60
        rejections = srv.rejections
        req_slow = len(srv.log)
        renewals = sum(1 for r in srv.log if r["status"] == 400)
        tokens = len(srv.requests("/epo/3.2/auth/accesstoken"))
        assert len(slow.facts) == n

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    lines += [
        "| run | requests | wall time (s) | patents / s |",
        "|---|---:|---:|---:|",
        f"| reference: bare httpx GETs of the legal answers (2 in flight, no limiter/cache/parse) | {n} | "
        f"{ref:.2f} | {n / ref:,.0f} |",
        f"| cold, allowance 6,000/min (client-bound) | {req_cold} | {t_cold:.2f} | {n / t_cold:,.0f} |",
        f"| warm cache (SQLite) | {req_warm} | {t_warm:.2f} | {n / t_warm:,.0f} |",
        f"| cold at the OPS example allowance (inpadoc 45/min), virtual time | {req_slow} | "
        f"{t_real:.2f} real | {n / (virtual_min * 60):.2f} at the service's pace |",
        "",
        f"- At 45 requests a minute the {n:,} legal requests span {virtual_min:.1f} virtual minutes "
        f"(the floor is {(n - 45) / 45:.1f}); the most requests the server saw in any 60 s window: {peak} "
        f"(allowed 45); rejections: {rejections}.",
        f"- Paced run, besides {(n + 99) // 100} biblio POSTs and {n} legal GETs: {tokens} token request(s) and "
        f"{renewals} request(s) refused with `invalid_access_token` (the 20-minute token expires on the server's "
        "clock during a long paced run and is renewed).",
        f"- Cold run overhead over the bare reference: {t_cold / ref:.2f}x (token, bulk biblio POSTs, XML "
        "parsing, legal-event mapping, one SQLite commit per answer, merging into the frame; the fake server "
        "runs in the same process and shares its GIL).",
        f"- Peak resident memory of the process: {rss:,.0f} MiB.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    text = run(quick="--quick" in sys.argv)
    print(text)
    out = Path(__file__).resolve().parent / "results" / "fetch.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
