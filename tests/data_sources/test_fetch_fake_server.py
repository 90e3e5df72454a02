"""End-to-end fetches against the fake services on loopback (real sockets), with injected faults."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pandas as pd
import pytest

import data_sources as ds
from data_sources import RetryPolicy
from data_sources.cache import FetchCache
from ipvalue import normalize_number
from tests.fakes import FakePatentServer, VirtualClock

ALL = ("epo_ops", "lens", "uspto_odp")


def fetch(server, numbers, *, sources=("epo_ops",), vclock=None, retry=None, timeout=2.0, **kw):
    opts = {}
    for s in sources:
        o = {"retry": retry or RetryPolicy(max_attempts=4, backoff=0.01, seed=1), "timeout": timeout}
        if vclock is not None:
            o.update(monotonic=vclock.now, sleep=vclock.sleep)
        o.update(kw.pop(f"{s}_options", {}))
        opts[s] = o
    if not isinstance(server, FakePatentServer):  # the in-process service: its stateful MockTransport
        kw.setdefault("transport", server.transport())
    return ds.fetch(
        numbers, sources=list(sources), base_urls=server.base_urls, env=server.env, source_options=opts, **kw
    )


def accounted(res, numbers):
    """Every requested number is in exactly one of facts and failures."""
    wanted = set()
    for n in numbers:
        try:
            wanted.add(normalize_number(n))
        except ValueError:
            wanted.add(n)
    facts, failed = set(res.facts.index), set(res.failures["patent_id"])
    assert not facts & failed
    assert facts | failed == wanted
    return facts, failed


def test_three_sources_end_to_end(any_server):
    server = any_server
    nums = [
        "EP2400812A1",
        "EP 2533477 B1",
        "EP2471949A1",
        "US 11,646,472 B2",
        "EP9999999A1",
        "not a number",
        "EP2400812A1",
    ]
    res = fetch(server, nums, sources=ALL)
    facts, failed = accounted(res, nums)
    assert facts == {"EP2400812A1", "EP2533477B1", "EP2471949A1", "US11646472B2"}
    f = res.facts
    assert f.loc["EP2400812A1", "legal_status"] == "granted"
    assert str(f.loc["EP2400812A1", "fees_paid_through"].date()) == "2026-06-24"
    assert f.loc["EP2471949A1", "forward_citations"] == 5 and f.loc["EP2471949A1", "source"] == "lens"
    us = f.loc["US11646472B2"]
    assert us["term_adjustment_days"] == 304 and str(us["earliest_filing_date"].date()) == "2004-04-14"
    assert us["source"] == "uspto_odp"
    bad = res.failures.set_index("patent_id")
    assert bad.loc["not a number", "error"] == "BAD_NUMBER"
    assert bad.loc["EP9999999A1", "error"] == "NOT_FOUND"
    # ODP got asked only about the US number: search, continuity, adjustment, assignment (the owner)
    assert len(server.requests("/uspto")) == 4
    # provenance: one row per field kept, with its source
    prov = res.provenance.set_index(["patent_id", "field"])
    assert prov.loc[("US11646472B2", "term_adjustment_days"), "source"] == "uspto_odp"


@pytest.mark.parametrize(
    ("fault", "match"),
    [
        ("500", "/biblio"),
        ("503", "/legal"),
        ("drop", "/legal"),
        ("truncate", "/biblio"),
        ("malformed", "/legal"),
        ("429", "/legal"),
        ("throttle_403", "/biblio"),
        ("500", "/lens/"),
        ("malformed", "/lens/"),
        ("500", "/uspto/"),
        ("drop", "/uspto/"),
    ],
)
def test_transient_faults_are_retried(any_server, vclock, fault, match):
    server = any_server
    server.inject(fault, match, times=2, retry_after="3")
    nums = ["EP2400812A1", "EP2471949A1", "US11646472B2"]
    res = fetch(server, nums, sources=ALL, vclock=vclock)
    facts, failed = accounted(res, nums)
    assert facts == set(nums), res.failures.to_dict("records")
    assert res.facts.loc["EP2400812A1", "legal_status"] == "granted"
    assert sum(s["retries"] for k, s in res.stats.items() if isinstance(s, dict)) >= 2


def test_retry_after_is_honoured(server, vclock):
    server.inject("429", "/legal", times=1, retry_after="7")
    res = fetch(server, ["EP2400812A1"], vclock=vclock)
    assert len(res.facts) == 1
    assert vclock.slept >= 7.0
    statuses = [r["status"] for r in server.requests("/epo/3.2/rest-services/family")]
    assert statuses == [429, 200]


def test_black_service_waits_then_recovers(server, vclock):
    server.inject("black", "/family/", times=1, retry_after="2000")  # milliseconds, as OPS is read
    res = fetch(server, ["EP2400812A1"], vclock=vclock)
    assert len(res.facts) == 1 and vclock.slept >= 2.0


def test_black_service_that_stays_black_gives_failure_rows(server, vclock):
    server.inject("black", "/family/", times=100, retry_after="2000")
    nums = ["EP2400812A1", "EP2533477B1"]
    res = fetch(server, nums, vclock=vclock, retry=RetryPolicy(max_attempts=3, backoff=0.01, seed=0))
    accounted(res, nums)
    assert set(res.failures["error"]) == {"SERVICE_BLOCKED"}
    assert all("black" in r for r in res.failures["reason"])


def test_weekly_quota_rejection_is_not_retried(server, vclock):
    server.inject("quota_week", "/biblio", times=5)
    nums = ["EP2400812A1", "EP2533477B1"]
    res = fetch(server, nums, vclock=vclock)
    accounted(res, nums)
    assert set(res.failures["error"]) == {"QUOTA_EXCEEDED"}
    assert (
        len(server.requests("/epo/3.2/rest-services/published-data")) == 1
    )  # one rejected bulk POST, no retry


def test_hourly_quota_with_retry_after_is_waited_for(server, vclock):
    server.inject("quota_hour", "/biblio", times=1, retry_after="30")
    res = fetch(server, ["EP2400812A1"], vclock=vclock)
    assert len(res.facts) == 1 and vclock.slept >= 30


def test_persistent_5xx_is_bounded(server, vclock):
    server.inject("500", "/legal", times=100)
    res = fetch(
        server, ["EP2400812A1"], vclock=vclock, retry=RetryPolicy(max_attempts=3, backoff=0.01, seed=0)
    )
    assert res.failures.loc[0, "error"] == "UNAVAILABLE" and res.failures.loc[0, "status"] == 500
    assert len(server.requests("/epo/3.2/rest-services/family")) == 3


def test_timeouts_are_retried(server):
    server.inject("slow", "/legal", times=1, delay=1.0)
    res = fetch(server, ["EP2400812A1"], timeout=0.3)
    assert len(res.facts) == 1
    assert res.stats["epo_ops"]["retries"] == 1


def test_slow_everything_times_out_into_failure_rows(server):
    server.inject("slow", "/legal", times=10, delay=0.6)
    res = fetch(server, ["EP2400812A1"], timeout=0.2, retry=RetryPolicy(max_attempts=2, backoff=0.01, seed=0))
    assert res.failures.loc[0, "error"] == "UNAVAILABLE"
    assert "Timeout" in res.failures.loc[0, "reason"]


def test_malformed_every_time_is_a_parse_failure_and_not_cached(server, vclock, tmp_path):
    cache = FetchCache(tmp_path / "c.sqlite")
    server.inject("malformed", "/legal", times=4)
    res = fetch(server, ["EP2400812A1"], vclock=vclock, cache=cache)
    assert res.failures.loc[0, "error"] == "PARSE"
    assert cache.counts().get(("epo_ops", "legal"), 0) == 0  # a bad body is never stored
    res = fetch(server, ["EP2400812A1"], vclock=vclock, cache=cache)
    assert len(res.facts) == 1


def test_expired_token_is_renewed(server):
    res1 = fetch(server, ["EP2400812A1"])
    assert len(res1.facts) == 1
    server.inject("expire_token", "/family/", times=1)  # the server forgets its tokens mid-run
    res = fetch(server, ["EP2400812A1", "EP2533477B1"], refresh=True)
    assert set(res.facts.index) == {"EP2400812A1", "EP2533477B1"}
    statuses = [r["status"] for r in server.requests("/epo/3.2/rest-services/family")]
    assert 400 in statuses  # invalid_access_token seen, then renewed
    assert len(server.requests("/epo/3.2/auth/accesstoken")) == 3  # run 1, run 2, one renewal


def test_wrong_credentials_give_auth_failures(server):
    env = {**server.env, "EPO_OPS_SECRET": "wrong", "LENS_API_TOKEN": "wrong", "USPTO_ODP_API_KEY": "wrong"}
    nums = ["EP2400812A1", "EP2471949A1", "US11646472B2"]
    res = ds.fetch(nums, sources=list(ALL), base_urls=server.base_urls, env=env)
    accounted(res, nums)
    assert set(res.failures["error"]) == {"AUTH"}


def test_missing_credentials_are_a_configuration_failure():
    res = ds.fetch(["EP2400812A1"], sources=["epo_ops"], env={})
    assert res.failures.loc[0, "error"] == "CONFIGURATION"
    assert "EPO_OPS_KEY" in res.failures.loc[0, "reason"]


def test_ops_allowance_respected(vclock):
    with FakePatentServer(ops_allowance={"inpadoc": 10, "retrieval": 5}, clock=vclock.now) as srv:
        nums = srv.add_synthetic(30)
        # one request in flight: the virtual clock jumps when a task sleeps, which with several requests
        # in flight would move the server's view of an in-flight request (the limiter itself is checked
        # under concurrency in test_http.py)
        res = fetch(srv, nums, vclock=vclock, epo_ops_options={"concurrency": 1})
        assert len(res.facts) == 30
        assert srv.rejections == 0  # the server enforces the allowance it announces: never crossed
        times = sorted(r["t"] for r in srv.requests("/epo/3.2/rest-services/family"))
        assert len(times) == 30
        assert max(sum(1 for u in times if t <= u < t + 60) for t in times) <= 10
        assert times[-1] - times[0] >= 120  # 30 requests at 10 a minute take at least two minutes


def test_lens_allowance_respected(vclock):
    with FakePatentServer(lens_per_minute=4, clock=vclock.now) as srv:
        nums = [f"EP{3000000 + i}B1" for i in range(14)]
        for n in nums:
            srv.add_lens(n)
        res = fetch(srv, nums, sources=("lens",), vclock=vclock, lens_options={"page_size": 2})
        assert len(res.facts) == 14 and srv.rejections == 0
        times = sorted(r["t"] for r in srv.requests("/lens/"))
        assert len(times) == 7  # 7 lookups of 2 ids (scroll pages or chunks)
        assert max(sum(1 for u in times if t <= u < t + 60) for t in times) <= 4


def test_lens_scroll_paging():
    with FakePatentServer(lens_page_limit=2) as srv:  # the plan gives 2 records a page, the client asks 5
        nums = [f"EP{3100000 + i}B1" for i in range(5)]
        for n in nums:
            srv.add_lens(n, cited_by=7)
        res = fetch(srv, nums, sources=("lens",), lens_options={"page_size": 5})
        assert len(res.facts) == 5 and set(res.facts["forward_citations"]) == {7}
        assert len(srv.requests("/lens/")) == 3  # pages of 2, 2 and 1 through the scroll cursor


def test_second_run_is_served_from_the_cache(server, tmp_path):
    path = tmp_path / "cache.sqlite"
    nums = ["EP2400812A1", "EP2533477B1", "EP2471949A1", "US11646472B2", "EP9999999A1"]
    first = fetch(server, nums, sources=ALL, cache=path)
    sent = len(server.log)
    assert sent > 0
    second = fetch(server, nums, sources=ALL, cache=path)
    assert len(server.log) == sent  # zero requests, not even a token
    assert second.requests == 0
    cols = [
        "legal_status",
        "grant_date",
        "filing_date",
        "term_adjustment_days",
        "forward_citations",
        "family_size",
    ]
    assert second.facts[cols].equals(first.facts[cols])
    assert list(second.failures["patent_id"]) == ["EP9999999A1"]  # the 404 was cached too
    third = fetch(server, nums, sources=ALL, cache=path, refresh=True)
    assert third.requests > 0 and len(server.log) > sent


def test_legal_refetched_after_its_short_ttl_but_biblio_not(server, tmp_path):
    clock = {"t": 1_000_000.0}
    cache = FetchCache(tmp_path / "c.sqlite", clock=lambda: clock["t"])
    fetch(server, ["EP2400812A1"], cache=cache)
    server.log.clear()
    clock["t"] += 2 * 86_400  # two days: legal (1 day) expired, biblio (30 days) not
    res = fetch(server, ["EP2400812A1"], cache=cache)
    paths = [r["path"] for r in server.log]
    assert any("/family/" in p for p in paths) and not any("/published-data/" in p for p in paths)
    assert len(res.facts) == 1


def test_facts_change_between_two_fetches(server):
    """What monitoring needs: a CN patent lapses for an unpaid annual fee between two fetches."""
    server.add_ep(
        "CN105123456B",
        title="一种电池",
        filing_date="2015-03-02",
        events=[{"code": "GR01", "date": "2017-08-01"}],
    )
    before = fetch(server, ["CN 105123456 B"])
    assert before.facts.loc["CN105123456B", "legal_status"] == "granted"
    assert any("CN.105123456.B" in r["path"] for r in server.log)  # docdb number in the URL
    server.add_event("CN105123456B", code="CF01", date="2021-04-16", effective="2020-03-02")
    after = fetch(server, ["CN105123456B"], refresh=True)
    assert after.facts.loc["CN105123456B", "legal_status"] == "lapsed"
    assert str(after.facts.loc["CN105123456B", "lapse_date"].date()) == "2020-03-02"


def test_secrets_never_logged(server, caplog, tmp_path):
    caplog.set_level(logging.DEBUG)
    nums = ["EP2400812A1", "EP2471949A1", "US11646472B2"]
    cache = tmp_path / "c.sqlite"
    fetch(server, nums, sources=ALL, cache=str(cache))
    server.inject("expire_token", "/family/")
    bad_env = {**server.env, "USPTO_ODP_API_KEY": "wrong-odp-key-value-xyz"}
    res = ds.fetch(nums, sources=list(ALL), base_urls=server.base_urls, env=bad_env, refresh=True)
    import base64

    secrets = [
        server.secret,
        server.lens_token,
        server.odp_key,
        "wrong-odp-key-value-xyz",
        base64.b64encode(f"{server.key}:{server.secret}".encode()).decode(),
    ]
    text = (
        caplog.text
        + res.failures.to_csv()
        + res.source_errors.to_csv()
        + cache.read_bytes().decode("latin-1")
    )
    assert caplog.records  # there was logging to check
    for s in secrets:
        assert s not in text
    src = ds.EpoOps(env=server.env)
    assert server.secret not in repr(vars(src))


def test_injected_transport_no_network():
    from tests.data_sources.conftest import FIXTURES

    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        if request.url.path.endswith("/accesstoken"):
            return httpx.Response(200, json={"access_token": "t", "expires_in": "1200"})
        if request.url.path.endswith("/biblio"):
            return httpx.Response(200, content=(FIXTURES / "epo_ops" / "biblio_multiple.xml").read_bytes())
        return httpx.Response(
            200, content=(FIXTURES / "epo_ops" / "family_legal_EP.2400812.A1.xml").read_bytes()
        )

    res = ds.fetch(
        ["EP2400812A1"],
        sources=["epo_ops"],
        transport=httpx.MockTransport(handler),
        env={"EPO_OPS_KEY": "k", "EPO_OPS_SECRET": "s"},
    )
    assert res.facts.loc["EP2400812A1", "in_force_states"] == "DE;FI;GB;SE"
    assert seen[0] == "/3.2/auth/accesstoken"  # the public address, answered by the mock transport


def test_injected_client_is_not_closed(server):
    async def main():
        async with httpx.AsyncClient() as client:
            res = await ds.fetch_async(
                ["EP2400812A1"],
                sources=["epo_ops"],
                client=client,
                base_urls=server.base_urls,
                env=server.env,
            )
            assert not client.is_closed
            return res

    assert len(asyncio.run(main()).facts) == 1


def test_default_client_verifies_tls():
    from data_sources._http import HttpCore

    async def main():
        core = HttpCore("x")
        await core.open()
        try:
            pool = core.client._transport._pool  # httpx builds an SSL context with verification on
            return pool._ssl_context.verify_mode
        finally:
            await core.aclose()

    import ssl

    assert asyncio.run(main()) == ssl.CERT_REQUIRED


def test_sync_wrapper_inside_a_running_loop(server):
    async def main():
        return ds.fetch(["EP2400812A1"], sources=["epo_ops"], base_urls=server.base_urls, env=server.env)

    assert len(asyncio.run(main()).facts) == 1


def test_default_sources_from_environment(server):
    assert ds.default_sources({}) == ["offline"]
    assert ds.default_sources(server.env) == ["epo_ops", "lens", "uspto_odp"]
    assert ds.default_sources({"LENS_API_TOKEN": "x"}) == ["lens"]
    assert ds.default_sources({"EPO_OPS_KEY": "x"}) == ["offline"]  # OPS needs both halves


def test_progress_is_reported(server):
    seen = []
    fetch(
        server,
        ["EP2400812A1", "EP2533477B1", "EP2471949A1"],
        sources=ALL,
        progress=lambda d, t: seen.append((d, t)),
    )
    assert seen[-1][0] == seen[-1][1] and [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_kindless_number_goes_through_epodoc(server):
    res = fetch(server, ["EP 2400812"])
    assert res.facts.loc["EP2400812", "title"] == "BLUETOOTH NETWORKING"
    assert res.facts.loc["EP2400812", "legal_status"] == "granted"
    assert any("/epodoc/EP2400812/legal" in r["path"] for r in server.log)


def test_ops_quota_headers_are_read(server):
    res = fetch(server, ["EP2400812A1", "EP2533477B1"])
    st = res.stats["epo_ops"]
    assert st["x-individualquotaperhour-used"] >= 2 and st["token_requests"] == 1
    assert st["throttling"] == "idle"


def test_unstated_key_fields_are_flagged(server):
    server.add_lens("EP3200000B1", status="UNKNOWN", granted=False)
    res = fetch(server, ["EP3200000B1"], sources=("lens",))
    row = res.facts.loc["EP3200000B1"]
    assert "legal_status" in row["unstated_fields"].split(";")
    assert pd.isna(row["legal_status"])  # unknown, never the model's hand-entry default "granted"
    prov = res.provenance.set_index(["patent_id", "field"])
    assert prov.loc[("EP3200000B1", "legal_status"), "alternatives"] == "no source stated it"


FAULTS = ["429", "black", "throttle_403", "500", "503", "drop", "truncate", "malformed", "quota_hour", "slow"]
PATHS = ["/biblio", "/legal", "/lens/", "/uspto/", "/accesstoken", ""]


@pytest.fixture(scope="module")
def reference_facts():
    with FakePatentServer() as srv:
        res = fetch(srv, ["EP2400812A1", "EP2533477B1", "EP2471949A1", "US11646472B2"], sources=ALL)
    return res.facts


def test_random_faults_never_lose_or_corrupt_a_row(reference_facts):
    """Property: whatever faults hit, each number is a facts row or a failure row, and a facts row holds the
    same facts as a run without faults (a fault may cost a row, never falsify one)."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    nums = ["EP2400812A1", "EP2533477B1", "EP2471949A1", "US11646472B2", "EP9999999A1", "bad"]
    cols = [
        "legal_status",
        "grant_date",
        "filing_date",
        "fees_paid_through",
        "term_adjustment_days",
        "forward_citations",
        "family_size",
        "owner",
    ]
    fault = st.tuples(st.sampled_from(FAULTS), st.sampled_from(PATHS), st.integers(1, 4))

    @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(fault, min_size=1, max_size=4))
    def check(faults):
        vclock = VirtualClock()
        with FakePatentServer() as srv:
            for kind, match, times in faults:
                srv.inject(kind, match, times=times, retry_after="2", delay=0.4)
            res = fetch(
                srv,
                nums,
                sources=ALL,
                vclock=vclock,
                timeout=0.25,
                retry=RetryPolicy(max_attempts=3, backoff=0.01, seed=0),
            )
        facts, failed = accounted(res, nums)
        for n in facts:
            got = res.facts.loc[n, cols]
            want = reference_facts.loc[n, cols]
            assert got.astype(str).equals(want.astype(str)), (n, faults)

    check()


@pytest.mark.parametrize("concurrency", [1, 3])
def test_per_source_concurrency_limit(concurrency):
    with FakePatentServer(fixtures=False) as srv:
        nums = srv.add_synthetic(8)
        srv.inject("slow", "/legal", times=100, delay=0.1)
        res = fetch(srv, nums, epo_ops_options={"concurrency": concurrency})
        assert len(res.facts) == 8
        assert srv.max_inflight["epo"] == concurrency  # reached, never exceeded


def test_lazy_names_resolve():
    for name in ds.__all__:
        assert getattr(ds, name) is not None, name


def test_a_bug_in_one_source_loses_no_row(server):
    class Broken(ds.OfflineSource):
        name = "broken"

        def __init__(self):
            super().__init__(pd.DataFrame({"patent_id": []}))

        async def fetch_many(self, numbers, *, progress=None):
            raise KeyError("sparse record")

    nums = ["EP2400812A1", "EP2533477B1"]
    res = ds.fetch(nums, sources=[Broken(), "epo_ops"], base_urls=server.base_urls, env=server.env)
    assert set(res.facts.index) == set(nums)
    assert set(res.source_errors["error"]) == {"INTERNAL"}
    res = ds.fetch(nums, sources=[Broken()])
    assert set(res.failures["error"]) == {"INTERNAL"} and len(res.failures) == 2


def test_rate_limit_state_is_shared_through_the_cache(vclock, tmp_path):
    """A second run right after the first does not exceed the minute's allowance the first one spent."""
    with FakePatentServer(ops_allowance={"inpadoc": 5}, clock=vclock.now, fixtures=False) as srv:
        nums = srv.add_synthetic(10)
        cache = FetchCache(tmp_path / "c.sqlite", clock=vclock.now)
        opts = {"concurrency": 1, "clock": vclock.now}
        first = fetch(srv, nums[:5], vclock=vclock, cache=cache, epo_ops_options=opts)
        second = fetch(srv, nums[5:], vclock=vclock, cache=cache, epo_ops_options=opts)
        assert len(first.facts) == 5 and len(second.facts) == 5
        assert srv.rejections == 0
        times = sorted(r["t"] for r in srv.requests("/epo/3.2/rest-services/family"))
        assert times[5] - times[0] >= 60  # the sixth legal request waited for the first to leave the window


def test_without_shared_state_the_server_would_refuse(vclock):
    """Control for the test above: without a cache, the second run starts a fresh minute and is refused."""
    with FakePatentServer(ops_allowance={"inpadoc": 5}, clock=vclock.now, fixtures=False) as srv:
        nums = srv.add_synthetic(10)
        opts = {"concurrency": 1, "clock": vclock.now}
        fetch(srv, nums[:5], vclock=vclock, epo_ops_options=opts)
        fetch(srv, nums[5:], vclock=vclock, epo_ops_options=opts)
        assert srv.rejections > 0
