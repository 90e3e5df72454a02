"""A run killed half-way loses nothing it already cached: the next run asks only for the rest."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import data_sources as ds
from data_sources.cache import FetchCache
from tests.fakes import FakePatentServer

ROOT = Path(__file__).resolve().parents[2]

CHILD = r"""
import json, sys
import data_sources as ds
cfg = json.loads(sys.argv[1])
ds.fetch(cfg["numbers"], sources=["epo_ops"], base_urls=cfg["base_urls"], env=cfg["env"], cache=cfg["cache"],
         source_options={"epo_ops": {"concurrency": 2}})
"""


def test_killed_run_loses_nothing(tmp_path):
    cache_path = tmp_path / "cache.sqlite"
    with FakePatentServer() as srv:
        nums = srv.add_synthetic(40)
        srv.inject("slow", "/legal", times=10_000, delay=0.15)  # about 3 s for the whole run
        cfg = {"numbers": nums, "base_urls": srv.base_urls, "env": srv.env, "cache": str(cache_path)}
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        child = subprocess.Popen([sys.executable, "-c", CHILD, json.dumps(cfg)], env=env, cwd=ROOT)
        try:
            deadline = time.monotonic() + 60
            while sum(1 for r in srv.requests("/epo/3.2/rest-services/family") if r["status"] == 200) < 10:
                assert child.poll() is None, "the child finished before it could be killed"
                assert time.monotonic() < deadline
                time.sleep(0.02)
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=10)
        finally:
            if child.poll() is None:
                child.kill()
        assert child.returncode == -signal.SIGKILL
        time.sleep(0.5)  # let the server finish the requests that were in flight at the kill (0.15 s each)
        answered_before = {
            r["path"] for r in srv.requests("/epo/3.2/rest-services/family") if r["status"] == 200
        }
        assert 10 <= len(answered_before) < 40

        with FetchCache(cache_path) as cache:
            counts = cache.counts()
        assert counts[("epo_ops", "biblio")] == 40  # the bulk answer was stored number by number
        cached_legal = counts[("epo_ops", "legal")]
        assert cached_legal >= len(answered_before) - 2  # at most the requests in flight at the kill are lost

        srv.log.clear()
        srv.faults.clear()
        res = ds.fetch(nums, sources=["epo_ops"], base_urls=srv.base_urls, env=srv.env, cache=cache_path)
        assert len(res.facts) == 40 and res.failures.empty
        asked = [r["path"] for r in srv.requests("/epo/3.2/rest-services/")]
        assert not any("/published-data/" in p for p in asked)  # no biblio asked again
        assert len(asked) == 40 - cached_legal  # only the legal answers not yet cached
