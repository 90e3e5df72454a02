from __future__ import annotations

import pytest

from data_sources.cache import DEFAULT_TTL, FetchCache, canonical_request


class Clock:
    def __init__(self):
        self.t = 1_000_000.0

    def __call__(self):
        return self.t


def test_canonical_request_sorts_query_and_hashes_body():
    a = canonical_request("get", "HTTPS://Api.Example/x?b=2&a=1")
    b = canonical_request("GET", "https://api.example/x", {"a": 1, "b": 2})
    assert a == b == "GET https://api.example/x?a=1&b=2"
    assert canonical_request("POST", "https://h/x", body=b"1") != canonical_request(
        "POST", "https://h/x", body=b"2"
    )


def test_ttl_by_kind():
    clock = Clock()
    cache = FetchCache(clock=clock)
    kb, kl = cache.key("GET", "https://h/biblio"), cache.key("GET", "https://h/legal")
    cache.put(kb, source="s", kind="biblio", status=200, body=b"b")
    cache.put(kl, source="s", kind="legal", status=200, body=b"l")
    assert DEFAULT_TTL["biblio"] > DEFAULT_TTL["legal"]
    clock.t += DEFAULT_TTL["legal"] + 1
    assert cache.get(kl) is None  # legal status expired
    assert cache.get(kb).body == b"b"  # bibliographic data still good
    clock.t += DEFAULT_TTL["biblio"]
    assert cache.get(kb) is None
    assert cache.get(kb, include_expired=True).body == b"b"


@pytest.mark.parametrize("status", [403, 429, 500, 502, 503])
def test_errors_never_cached(status):
    cache = FetchCache()
    with pytest.raises(ValueError, match="never cached"):
        cache.put("k", source="s", kind="biblio", status=status, body=b"")
    assert len(cache) == 0


def test_404_cached_with_its_own_ttl():
    clock = Clock()
    cache = FetchCache(clock=clock)
    cache.put("k", source="s", kind="biblio", status=404, body=b"")
    assert cache.get("k").status == 404
    clock.t += DEFAULT_TTL["not_found"] + 1
    assert cache.get("k") is None


def test_persists_across_connections(tmp_path):
    path = tmp_path / "sub" / "cache.sqlite"
    with FetchCache(path) as c:
        c.put("k", source="epo_ops", kind="legal", status=200, body=b"<x/>")
    with FetchCache(path) as c:
        assert c.get("k").body == b"<x/>"
        assert c.counts() == {("epo_ops", "legal"): 1}
        assert c.clear(source="epo_ops") == 1 and len(c) == 0
