"""Connectors: patent facts from EPO OPS, Lens.org, the USPTO Open Data Portal, bank files and offline data.

``fetch(numbers)`` returns a :class:`FetchResult`: the portfolio frame of facts (one row per patent,
field-level provenance, conflicts reported) and failure rows for the numbers no source could answer.
Each service module has pure parse functions and a client; every client takes an injected ``httpx``
client or transport, reads credentials from the environment, keeps TLS verification on, never logs
secrets, follows the service's rate-limit signals, caches answers in SQLite (:class:`data_sources.cache.FetchCache`)
and turns every failure into a typed error (:mod:`data_sources._errors`).

Names are loaded lazily: importing the package does no work.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from data_sources import epo_ops, lens, offline, uspto_odp
    from data_sources._errors import (
        AuthError,
        ConfigurationError,
        DataSourceError,
        InternalError,
        NotFound,
        ParseError,
        QuotaExceeded,
        RateLimited,
        ResponseError,
        ServiceBlocked,
        SourceUnavailable,
    )
    from data_sources._fetch import FetchResult, default_sources, fetch, fetch_async, make_source
    from data_sources._http import RateLimiter, RetryPolicy, Secret
    from data_sources.epo_ops import EpoOps
    from data_sources.lens import Lens
    from data_sources.offline import FileSource, OfflineSource
    from data_sources.uspto_odp import UsptoOdp

__all__ = [
    "fetch",
    "fetch_async",
    "FetchResult",
    "default_sources",
    "make_source",
    "EpoOps",
    "Lens",
    "UsptoOdp",
    "FileSource",
    "OfflineSource",
    "RetryPolicy",
    "RateLimiter",
    "Secret",
    "DataSourceError",
    "ConfigurationError",
    "AuthError",
    "NotFound",
    "RateLimited",
    "QuotaExceeded",
    "ServiceBlocked",
    "SourceUnavailable",
    "ResponseError",
    "ParseError",
    "InternalError",
    "epo_ops",
    "lens",
    "uspto_odp",
    "offline",
]

_LAZY = {
    "fetch": "data_sources._fetch",
    "fetch_async": "data_sources._fetch",
    "FetchResult": "data_sources._fetch",
    "default_sources": "data_sources._fetch",
    "make_source": "data_sources._fetch",
    "EpoOps": "data_sources.epo_ops",
    "Lens": "data_sources.lens",
    "UsptoOdp": "data_sources.uspto_odp",
    "FileSource": "data_sources.offline",
    "OfflineSource": "data_sources.offline",
    "RetryPolicy": "data_sources._http",
    "RateLimiter": "data_sources._http",
    "Secret": "data_sources._http",
    **{
        n: "data_sources._errors"
        for n in (
            "DataSourceError",
            "ConfigurationError",
            "AuthError",
            "NotFound",
            "RateLimited",
            "QuotaExceeded",
            "ServiceBlocked",
            "SourceUnavailable",
            "ResponseError",
            "ParseError",
            "InternalError",
        )
    },
}
_SUBMODULES = {"epo_ops", "lens", "uspto_odp", "offline", "cache", "cli"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        value = importlib.import_module(f"data_sources.{name}")
        globals()[name] = value
        return value
    raise AttributeError(f"module 'data_sources' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
