from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from data_sources._http import RateLimiter, RetryPolicy, Secret, parse_retry_after
from tests.fakes import VirtualClock


def test_secret_hides_value():
    s = Secret("s3cr3t-value")
    assert "s3cr3t" not in repr(s) and "s3cr3t" not in str(s) and "s3cr3t" not in f"{s}"
    assert s.reveal() == "s3cr3t-value"


def test_parse_retry_after():
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("2000", unit="ms") == 2.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    # HTTP date, 30 s after "now"
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now=1445412480.0) == pytest.approx(30.0)
    assert parse_retry_after("-5") == 0.0


@given(st.integers(min_value=0, max_value=12), st.integers(min_value=0, max_value=2**32))
def test_backoff_bounded(attempt, seed):
    pol = RetryPolicy(backoff=0.5, max_backoff=30.0, seed=seed)
    d = pol.delay(attempt)
    assert 0.0 <= d <= min(30.0, 0.5 * 2**attempt)


@settings(max_examples=40, deadline=None)
@given(
    limit=st.integers(min_value=1, max_value=20),
    n=st.integers(min_value=1, max_value=80),
    conc=st.integers(min_value=1, max_value=8),
)
def test_rate_limiter_never_exceeds_allowance(limit, n, conc):
    clock = VirtualClock()
    lim = RateLimiter({"svc": limit}, clock=clock.now, sleep=clock.sleep)

    async def worker(k):
        for _ in range(k):
            await lim.acquire("svc")

    async def main():
        per = [n // conc + (1 if i < n % conc else 0) for i in range(conc)]
        await asyncio.gather(*(worker(k) for k in per))

    asyncio.run(main())
    times = sorted(t for _, t in lim.granted)
    assert len(times) == n
    for i, t in enumerate(times):  # any window of 60 s holds at most `limit` grants
        assert sum(1 for u in times[i:] if u < t + 60.0) <= limit
    # and it does not wait longer than needed: n grants need (ceil(n/limit) - 1) minutes
    assert times[-1] - times[0] <= 60.0 * ((n - 1) // limit) + 1e-9


def test_block_holds_requests():
    clock = VirtualClock()
    lim = RateLimiter(clock=clock.now, sleep=clock.sleep)
    lim.block("svc", 7.5)
    asyncio.run(lim.acquire("svc"))
    assert lim.granted[0][1] >= 7.5
