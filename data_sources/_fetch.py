"""The common entry point: many numbers in, a facts frame and failure rows out."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pandas as pd

from data_sources._base import Outcome, Source, iso_time
from data_sources._errors import ConfigurationError, DataSourceError, InternalError, NotFound
from data_sources._merge import DEFAULT_PRIORITY, merge_patent
from data_sources.cache import FetchCache
from ipvalue.facts.numbers import PatentNumberError, normalize_number
from ipvalue.facts.patent import FACT_COLUMNS, Patent, patents_to_frame

__all__ = [
    "fetch",
    "fetch_async",
    "FetchResult",
    "default_sources",
    "make_source",
    "SOURCE_NAMES",
    "FAILURE_COLUMNS",
    "PROVENANCE_COLUMNS",
]

#: source names accepted by :func:`make_source` (``file:PATH`` too)
SOURCE_NAMES = ("epo_ops", "lens", "uspto_odp", "offline", "file")

FAILURE_COLUMNS = ["patent_id", "input", "reason", "error", "status", "sources"]
PROVENANCE_COLUMNS = ["patent_id", "field", "value", "source", "fetched_at", "conflict", "alternatives"]
SOURCE_ERROR_COLUMNS = ["patent_id", "source", "error", "reason", "status"]

_CREDENTIALS = {
    "epo_ops": ("EPO_OPS_KEY", "EPO_OPS_SECRET"),
    "lens": ("LENS_API_TOKEN",),
    "uspto_odp": ("USPTO_ODP_API_KEY",),
}


@dataclass
class FetchResult:
    """What a fetch produced. Every requested number is in exactly one of ``facts`` and ``failures``.

    Attributes
    ----------
    facts : DataFrame
        The portfolio frame (indexed by ``patent_id``) of the numbers some source knew, in input order;
        ``source`` lists the sources whose values were kept, ``fetched_at`` the latest answer used.
    failures : DataFrame
        ``patent_id`` (canonical, or the input when unreadable), ``input``, ``reason`` (every source's
        reason), ``error`` (error code of the first source), ``status``, ``sources``.
    provenance : DataFrame
        One row per (patent, field): the value kept, its source and time, ``conflict`` and the other
        sources' values in ``alternatives``.
    source_errors : DataFrame
        Errors of single sources for numbers that still got facts from another source.
    stats : dict
        Per source: requests sent, cache hits, retries, seconds waited for rate limits; and ``elapsed_s``.
    """

    facts: pd.DataFrame
    failures: pd.DataFrame
    provenance: pd.DataFrame
    source_errors: pd.DataFrame
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def conflicts(self) -> pd.DataFrame:
        """Provenance rows where sources disagree."""
        return self.provenance[self.provenance["conflict"].astype(bool)].reset_index(drop=True)

    @property
    def requests(self) -> int:
        """HTTP requests sent over every source (cache hits excluded)."""
        return int(sum(v.get("requests", 0) for k, v in self.stats.items() if isinstance(v, dict)))

    def write(
        self,
        facts_path: str | Path,
        failures_path: str | Path | None = None,
        provenance_path: str | Path | None = None,
    ) -> None:
        """Write the facts (``.csv``, ``.parquet``, ``.xlsx``), failures and provenance (same formats)."""
        _write(self.facts, Path(facts_path), index=False)
        if failures_path is not None:
            _write(self.failures, Path(failures_path), index=False)
        if provenance_path is not None:
            _write(self.provenance, Path(provenance_path), index=False)


def _write(df: pd.DataFrame, path: Path, *, index: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    out = df.copy()
    for col in out.columns:  # lists and dates of extra fields to text, so every format takes them
        if out[col].dtype == object:
            out[col] = out[col].map(lambda v: v.isoformat() if hasattr(v, "isoformat") else v)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        out.to_csv(path, index=index)
    elif suffix == ".parquet":
        out.to_parquet(path, index=index)
    elif suffix == ".xlsx":
        out.to_excel(path, index=index)
    else:
        raise ValueError(f"{path}: unsupported output format {suffix!r} (use .csv, .parquet or .xlsx)")


#: extra (non-canonical) date fields the connectors add
EXTRA_DATE_FIELDS = (
    "earliest_filing_date",
    "lapse_date",
    "last_transfer_date",
    "anticipated_term_date",
    "publication_date",
    "ep_register_status_date",
)
EXTRA_INT_FIELDS = ("transfers", "status_code")


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """Portfolio-frame dtypes: counts as nullable ``Int64``, flags bool, extra dates as datetime64."""
    for col, kind in FACT_COLUMNS.items():
        if col not in frame.columns:
            continue
        if kind == "int":
            frame[col] = pd.array(frame[col].astype(object).where(frame[col].notna(), None), dtype="Int64")
        elif kind == "bool":
            frame[col] = frame[col].fillna(False).astype(bool)
    for col in EXTRA_DATE_FIELDS:
        if col in frame.columns:
            frame[col] = pd.to_datetime(frame[col])
    for col in EXTRA_INT_FIELDS:
        if col in frame.columns:
            frame[col] = pd.array(frame[col].astype(object).where(frame[col].notna(), None), dtype="Int64")
    return frame


def default_sources(env: Mapping[str, str] | None = None) -> list[str]:
    """Sources whose credentials are set in ``env`` (``os.environ``); ``["offline"]`` when none are."""
    env = os.environ if env is None else env
    names = [n for n, keys in _CREDENTIALS.items() if all(env.get(k, "").strip() for k in keys)]
    return names or ["offline"]


def make_source(name: str, **options: Any) -> Source:
    """Build a source by name (``epo_ops``, ``lens``, ``uspto_odp``, ``offline``, ``file:PATH``).

    Options that a source does not take (``client`` for ``offline``...) are ignored for it.

    Raises
    ------
    ConfigurationError
        Unknown name, or missing credentials.
    """
    from data_sources.epo_ops import EpoOps
    from data_sources.lens import Lens
    from data_sources.offline import FileSource, OfflineSource
    from data_sources.uspto_odp import UsptoOdp

    if name.startswith("file:"):
        return FileSource(name[5:])
    if name == "file":
        raise ConfigurationError("source 'file' needs a path: file:PATH")
    if name == "offline":
        return OfflineSource(options.get("frame"))
    http = {"epo_ops": EpoOps, "lens": Lens, "uspto_odp": UsptoOdp}
    if name not in http:
        raise ConfigurationError(f"unknown source {name!r}; choose from {', '.join(SOURCE_NAMES)}")
    options.pop("frame", None)
    return http[name](**options)


def _covers(source: Source, number: str) -> bool:
    if source.name == "uspto_odp":
        return number.startswith("US")
    return True


def _read_inputs(numbers: Iterable[Any] | pd.DataFrame | str) -> list[str]:
    if isinstance(numbers, pd.DataFrame):
        ids = numbers["patent_id"] if "patent_id" in numbers.columns else numbers.index
        return [str(x) for x in ids]
    if isinstance(numbers, str):
        return [numbers]
    return [x if isinstance(x, str) else str(x) for x in numbers]


async def fetch_async(
    numbers: Iterable[Any] | pd.DataFrame,
    *,
    sources: Sequence[str | Source] | None = None,
    cache: Any = None,
    refresh: bool = False,
    client: httpx.AsyncClient | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    base_urls: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
    priority: Sequence[str] = DEFAULT_PRIORITY,
    field_priority: Mapping[str, Sequence[str]] | None = None,
    progress: Callable[[int, int], None] | None = None,
    source_options: Mapping[str, Mapping[str, Any]] | None = None,
) -> FetchResult:
    """Fetch the facts of many patents from one or more sources (async core of :func:`fetch`).

    Parameters
    ----------
    numbers : iterable of str, or DataFrame
        Patent numbers in any form :func:`ipvalue.normalize_number` reads (or a frame's ``patent_id``).
        Duplicates are fetched once; unreadable numbers become failure rows.
    sources : sequence of str or Source, optional
        Names (``epo_ops``, ``lens``, ``uspto_odp``, ``offline``, ``file:PATH``) or built sources. By default
        every service whose credentials are in the environment, or ``offline`` when there are none.
    cache : data_sources.cache.FetchCache, str or Path, optional
        The SQLite fetch cache (a path opens one; it is closed at the end).
    refresh : bool, default False
        Ignore cached answers and fetch again.
    client : httpx.AsyncClient, optional
        Injected client shared by the HTTP sources (not closed here).
    transport : httpx.AsyncBaseTransport, optional
        Injected transport for clients built here.
    base_urls : mapping, optional
        Service root per source name (a test server, a proxy).
    env : mapping, optional
        Where credentials are read (``os.environ`` by default).
    priority, field_priority
        Source order when sources disagree (see :func:`data_sources._merge.merge_patent`).
    progress : callable, optional
        ``progress(done, total)`` as (source, number) pairs finish.
    source_options : mapping, optional
        Extra constructor options per source name (``{"epo_ops": {"concurrency": 1}}``; ``clock``, ``sleep``,
        ``retry``, ``allowance``...).

    Returns
    -------
    FetchResult
    """
    started = time.perf_counter()
    inputs = _read_inputs(numbers)
    canon, failures = _canonical_numbers(inputs)
    order = list(canon)
    own_cache = isinstance(cache, str | Path)
    cache_obj = FetchCache(cache) if own_cache else cache
    built, config_errors = _build_sources(
        list(sources) if sources is not None else default_sources(env),
        {"client": client, "transport": transport, "cache": cache_obj, "refresh": refresh, "env": env},
        base_urls=base_urls,
        source_options=source_options,
    )
    try:
        per_number = await _ask_sources(built, order, config_errors, progress)
    finally:
        if own_cache and cache_obj is not None:
            cache_obj.close()
    patents, prov_rows, src_err_rows = _merge_outcomes(
        order, canon, per_number, failures, priority=priority, field_priority=field_priority
    )
    facts = _typed(patents_to_frame(patents))
    facts.attrs["data_sources"] = {
        "sources": [s.name for s in built],
        "fetched_at": iso_time(time.time()),
        "requested": len(inputs),
    }
    stats: dict[str, Any] = {s.name: s.stats() for s in built}
    stats["elapsed_s"] = round(time.perf_counter() - started, 3)
    return FetchResult(
        facts=facts,
        failures=pd.DataFrame(failures, columns=FAILURE_COLUMNS).astype({"status": "Int64"}),
        provenance=pd.DataFrame(prov_rows, columns=PROVENANCE_COLUMNS),
        source_errors=pd.DataFrame(src_err_rows, columns=SOURCE_ERROR_COLUMNS).astype({"status": "Int64"}),
        stats=stats,
    )


def _failure(
    patent_id: str, raw: str, reason: str, error: str, status: int | None = None, sources: str | None = None
) -> dict[str, Any]:
    """One failure row (the columns of ``FAILURE_COLUMNS``).

    Parameters
    ----------
    patent_id : str
        The canonical number, or the input when it is unreadable.
    raw : str
        The number as given.
    reason : str
        Why the number has no facts.
    error : str
        Error code.
    status : int or None
        HTTP status of the first source's error, if any.
    sources : str or None
        The sources concerned, ``;``-joined.

    Returns
    -------
    dict
        The row.
    """
    return {
        "patent_id": patent_id,
        "input": raw,
        "reason": reason,
        "error": error,
        "status": status,
        "sources": sources,
    }


def _canonical_numbers(inputs: list[str]) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """Normalise the input numbers: duplicates once, unreadable ones as failure rows.

    Parameters
    ----------
    inputs : list of str
        The numbers as given.

    Returns
    -------
    canon : dict
        Canonical number -> the first input that reads as it, in input order.
    failures : list of dict
        ``BAD_NUMBER`` rows, in input order.
    """
    canon: dict[str, str] = {}
    failures: list[dict[str, Any]] = []
    for raw in inputs:
        try:
            n = normalize_number(raw)
        except PatentNumberError as exc:
            failures.append(_failure(str(raw), str(raw), f"unreadable number: {exc.reason}", "BAD_NUMBER"))
            continue
        canon.setdefault(n, str(raw))
    return canon, failures


def _build_sources(
    names: Sequence[str | Source],
    shared: dict[str, Any],
    *,
    base_urls: Mapping[str, str] | None,
    source_options: Mapping[str, Mapping[str, Any]] | None,
) -> tuple[list[Source], dict[str, DataSourceError]]:
    """Build the sources named; a source that cannot be configured is kept as its error.

    Parameters
    ----------
    names : list of str or Source
        Source names, or sources already built (kept as they are).
    shared : dict
        Options every built source gets (``client``, ``transport``, ``cache``, ``refresh``, ``env``).
    base_urls : mapping or None
        Service root per source name.
    source_options : mapping or None
        Extra options per source name (they override ``shared``).

    Returns
    -------
    built : list of Source
        The sources, in the order named.
    config_errors : dict
        Source name -> the :class:`ConfigurationError` that kept it from being built.
    """
    built: list[Source] = []
    config_errors: dict[str, DataSourceError] = {}
    for s in names:
        if isinstance(s, Source):
            built.append(s)
            continue
        opts = dict(shared)
        if base_urls and s in base_urls:
            opts["base_url"] = base_urls[s]
        opts.update((source_options or {}).get(s, {}))
        try:
            built.append(make_source(s, **opts))
        except ConfigurationError as exc:
            config_errors[s] = exc
    return built, config_errors


async def _ask_sources(
    built: list[Source],
    order: list[str],
    config_errors: dict[str, DataSourceError],
    progress: Callable[[int, int], None] | None,
) -> dict[str, dict[str, Outcome]]:
    """Ask every source, concurrently, for the numbers it covers.

    Parameters
    ----------
    built : list of Source
        The sources.
    order : list of str
        Canonical numbers.
    config_errors : dict
        Source name -> configuration error; every number gets it as that source's outcome.
    progress : callable or None
        ``progress(done, total)`` as (source, number) pairs finish.

    Returns
    -------
    dict
        Number -> source name -> a :class:`Patent` or a :class:`DataSourceError`. A source that fails as a
        whole (or has a bug) gives its error for each of its numbers; a number it does not answer is
        :class:`NotFound`.
    """
    per_number: dict[str, dict[str, Outcome]] = {n: {} for n in order}
    for name, config_error in config_errors.items():
        for n in order:
            per_number[n][name] = config_error
    routed = {src.name: [n for n in order if _covers(src, n)] for src in built}
    total = sum(len(v) for v in routed.values())
    done = 0

    def tick(_: str, k: int) -> None:
        nonlocal done
        done += k
        if progress is not None:
            progress(done, total)

    async def run(src: Source) -> None:
        todo = routed[src.name]
        if not todo:
            return
        try:
            async with src:
                res = await src.fetch_many(todo, progress=tick)
        except DataSourceError as exc:
            res = {n: exc for n in todo}
        except Exception as exc:  # a bug in one source must not lose the other sources' rows
            logging.getLogger("data_sources").exception("%s failed", src.name)
            err = InternalError(f"unexpected {type(exc).__name__}: {exc}", source=src.name)
            res = {n: err for n in todo}
        for n in todo:
            per_number[n][src.name] = res.get(n, NotFound(f"{n}: no answer", source=src.name))

    await asyncio.gather(*(run(s) for s in built))
    return per_number


def _merge_outcomes(
    order: list[str],
    canon: dict[str, str],
    per_number: dict[str, dict[str, Outcome]],
    failures: list[dict[str, Any]],
    *,
    priority: Sequence[str],
    field_priority: Mapping[str, Sequence[str]] | None,
) -> tuple[list[Patent], list[dict[str, Any]], list[dict[str, Any]]]:
    """Merge the sources' answers per number into a patent, or a failure row.

    Parameters
    ----------
    order : list of str
        Canonical numbers, in input order.
    canon : dict
        Canonical number -> the input.
    per_number : dict
        Number -> source name -> outcome (from :func:`_ask_sources`).
    failures : list of dict
        Failure rows; the numbers no source found, or whose merged facts do not validate, are appended.
    priority, field_priority
        Source order when sources disagree (see :func:`data_sources._merge.merge_patent`).

    Returns
    -------
    patents : list of Patent
        The merged patents, in input order.
    provenance : list of dict
        One row per (patent, field) kept.
    source_errors : list of dict
        The errors of single sources for numbers another source found.
    """
    patents: list[Patent] = []
    prov_rows: list[dict[str, Any]] = []
    src_err_rows: list[dict[str, Any]] = []
    for n in order:
        outcomes = per_number[n]
        found = {s: o for s, o in outcomes.items() if isinstance(o, Patent)}
        errors = {s: o for s, o in outcomes.items() if isinstance(o, DataSourceError)}
        if not found:
            failures.append(_not_found(n, canon[n], errors))
            continue
        fields, prov = merge_patent(n, found, priority=priority, field_priority=field_priority)
        try:
            # a status no source stated stays unknown (None), never the model's default "granted"
            patents.append(Patent(patent_id=n, **{"legal_status": None, **fields}))
        except ValueError as exc:
            msg = " ".join(str(exc).split())[:300]
            reason = f"merged facts do not validate: {msg}"
            failures.append(_failure(n, canon[n], reason, "CONFLICT", sources=";".join(found)))
            continue
        prov_rows += prov
        for s, e in errors.items():
            src_err_rows.append(
                {
                    "patent_id": n,
                    "source": s,
                    "error": getattr(e, "code", "SOURCE_ERROR"),
                    "reason": str(e),
                    "status": e.status,
                }
            )
    return patents, prov_rows, src_err_rows


def _not_found(n: str, raw: str, errors: dict[str, DataSourceError]) -> dict[str, Any]:
    """The failure row of a number no source found.

    Parameters
    ----------
    n : str
        Canonical number.
    raw : str
        The number as given.
    errors : dict
        Source name -> its error for the number (empty when no source covers it).

    Returns
    -------
    dict
        ``NO_SOURCE`` without errors; else every source's reason, with the code and status of the first.
    """
    if not errors:
        return _failure(n, raw, "no source covers this number", "NO_SOURCE")
    first = next(iter(errors.values()))
    reason = " | ".join(str(e) for e in errors.values())
    return _failure(n, raw, reason, getattr(first, "code", "SOURCE_ERROR"), first.status, ";".join(errors))


def fetch(numbers: Iterable[Any] | pd.DataFrame, **kwargs: Any) -> FetchResult:
    """Fetch the facts of many patents (synchronous wrapper of :func:`fetch_async`, same parameters).

    Works inside a running event loop too (a notebook): the fetch then runs on a worker thread with its own
    loop, so an injected ``client`` (bound to the caller's loop) belongs with :func:`fetch_async` there; an
    injected ``transport`` works in both.

    Examples
    --------
    >>> import data_sources as ds
    >>> result = ds.fetch(["EP2400812A1", "US11646472B2"])          # doctest: +SKIP
    >>> result.facts[["legal_status", "grant_date", "source"]]      # doctest: +SKIP
    >>> result.failures                                             # doctest: +SKIP
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(fetch_async(numbers, **kwargs))
    box: dict[str, Any] = {}

    def worker() -> None:
        try:
            box["result"] = asyncio.run(fetch_async(numbers, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            box["error"] = exc

    t = threading.Thread(target=worker, name="data_sources-fetch")
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]
    return box["result"]
