"""``ipvalue fetch``: patent numbers in, a facts file and a failures file out.

:func:`make_fetch_command` builds the typer-annotated command; ``ipvalue/cli.py`` registers it with the
frame the offline source serves (the demo portfolio): ``app.command("fetch")(make_fetch_command(loader))``.
This module knows nothing of the demo: the offline facts are injected.

It is light to import (``ipvalue --help`` imports every command module): pandas, pydantic and httpx are
imported inside the command when it runs, never at module level (measured with
``python -X importtime -c "import data_sources.cli"``; a test checks that none of them is imported).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    import pandas as pd

    from data_sources._fetch import FetchResult

__all__ = ["make_fetch_command", "read_numbers", "default_cache_path", "BASE_URL_ENV"]

#: environment variables that point a source at another root (a proxy, a staging server, a test server)
BASE_URL_ENV = {
    "epo_ops": "IPVALUE_EPO_OPS_URL",
    "lens": "IPVALUE_LENS_URL",
    "uspto_odp": "IPVALUE_USPTO_ODP_URL",
}


def default_cache_path() -> Path:
    """``$XDG_CACHE_HOME/ipvalue/fetch.sqlite`` (``~/.cache`` when unset)."""
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "ipvalue" / "fetch.sqlite"


def read_numbers(path: Path) -> list[str]:
    """Patent numbers from a file.

    A portfolio (CSV / XLSX / JSON / Parquet, read by ``ipvalue.read_portfolio``) or a plain text file with
    one number per line (``#`` starts a comment).
    """
    if path.suffix.lower() in (".txt", ".lst", ""):
        lines = path.read_text(encoding="utf-8-sig").splitlines()
        return [ln.split("#", 1)[0].strip() for ln in lines if ln.split("#", 1)[0].strip()]
    from ipvalue.facts.io import read_portfolio

    frame = read_portfolio(path, errors="collect")
    return [str(x) for x in frame["patent_id"]]


_Numbers = Annotated[list[str] | None, typer.Argument(help="Patent numbers (any usual form).")]
_Input = Annotated[
    Path | None,
    typer.Option(
        "--input",
        "-i",
        help="File of numbers: a portfolio (CSV/XLSX/JSON/Parquet) or a text file, one per line.",
    ),
]
_Sources = Annotated[
    list[str] | None,
    typer.Option(
        "--source",
        "-s",
        help="epo_ops, lens, uspto_odp, offline or file (the --input file's own facts); "
        "repeat for several. Default: every service with credentials set, else offline.",
    ),
]
_Output = Annotated[Path, typer.Option("--output", "-o", help="Facts file: .csv, .parquet or .xlsx.")]
_Failures = Annotated[Path, typer.Option("--failures", help="Failure rows (.csv, .parquet, .xlsx).")]
_Provenance = Annotated[
    Path | None,
    typer.Option("--provenance", help="Field-level provenance and conflicts (.csv, .parquet, .xlsx)."),
]
_Cache = Annotated[
    Path | None,
    typer.Option("--cache", help="SQLite fetch cache (default: $XDG_CACHE_HOME/ipvalue/fetch.sqlite)."),
]
_NoCache = Annotated[bool, typer.Option("--no-cache", help="Do not use a cache.")]
_Refresh = Annotated[bool, typer.Option("--refresh", help="Ignore cached answers, fetch again.")]


def make_fetch_command(offline_frame: Callable[[], pd.DataFrame] | None = None) -> Callable[..., None]:
    """The ``ipvalue fetch`` command, serving ``offline_frame()`` as the offline source.

    Parameters
    ----------
    offline_frame : callable, optional
        Loader of the portfolio frame the ``offline`` source serves (called only when that source is used).
        Without it, ``--source offline`` (and the default when no credentials are set) is a configuration error.
    """

    def fetch_command(
        numbers: _Numbers = None,
        input: _Input = None,  # noqa: A002
        source: _Sources = None,
        output: _Output = Path("facts.csv"),
        failures: _Failures = Path("failures.csv"),
        provenance: _Provenance = None,
        cache: _Cache = None,
        no_cache: _NoCache = False,
        refresh: _Refresh = False,
    ) -> None:
        """Fetch patent facts (status, dates, owner, family, citations, fees) into a facts file.

        Credentials come from the environment: EPO_OPS_KEY and EPO_OPS_SECRET, LENS_API_TOKEN,
        USPTO_ODP_API_KEY. Without any, the offline demo facts are used. Every number ends in the facts file
        or in the failures file with its reason.
        """
        nums = _numbers_asked(numbers, input)
        names = _source_names(source, input)
        base_urls = {name: os.environ[var] for name, var in BASE_URL_ENV.items() if os.environ.get(var)}
        cache_path = None if no_cache else (cache or default_cache_path())
        result = _fetch_with_progress(nums, names, cache_path, refresh, base_urls, offline_frame)
        result.write(output, failures, provenance)
        _say_done(result, output, failures)
        if result.facts.empty and len(result.failures):
            raise typer.Exit(code=1)

    return fetch_command


def _numbers_asked(numbers: list[str] | None, input: Path | None) -> list[str]:  # noqa: A002
    """The numbers given on the command line, then those of the ``--input`` file.

    Parameters
    ----------
    numbers : list of str or None
        The command's arguments.
    input : Path or None
        The ``--input`` file (read by :func:`read_numbers`).

    Returns
    -------
    list of str
        The numbers, as given.

    Raises
    ------
    typer.BadParameter
        When there is none.
    """
    nums = list(numbers or [])
    if input is not None:
        nums += read_numbers(input)
    if not nums:
        raise typer.BadParameter("give patent numbers or --input FILE")
    return nums


def _source_names(source: list[str] | None, input: Path | None) -> list[str] | None:  # noqa: A002
    """The sources asked for, ``file`` naming the ``--input`` file's source (``file:PATH``).

    Parameters
    ----------
    source : list of str or None
        The ``--source`` options.
    input : Path or None
        The ``--input`` file.

    Returns
    -------
    list of str or None
        The source names; None (the default sources) when none was given.

    Raises
    ------
    typer.BadParameter
        When ``file`` is asked for without ``--input``.
    """
    names = list(source) if source else None
    if names and "file" in names:
        if input is None:
            raise typer.BadParameter("--source file needs --input FILE")
        names = [f"file:{input}" if n == "file" else n for n in names]
    return names


def _fetch_with_progress(
    nums: list[str],
    names: list[str] | None,
    cache_path: Path | None,
    refresh: bool,
    base_urls: dict[str, str],
    offline_frame: Callable[[], pd.DataFrame] | None,
) -> FetchResult:
    """Fetch the numbers with a progress bar (closed even when the fetch fails).

    Parameters
    ----------
    nums : list of str
        The numbers.
    names : list of str or None
        The sources (None: the default ones).
    cache_path : Path or None
        The fetch cache (None: no cache).
    refresh : bool
        Ignore cached answers.
    base_urls : dict
        Source name -> service root, from :data:`BASE_URL_ENV`.
    offline_frame : callable or None
        Loader of the frame the ``offline`` source serves.

    Returns
    -------
    data_sources.FetchResult
        What :func:`data_sources.fetch` returns.
    """
    import data_sources as ds

    bar = _progress()
    try:
        return ds.fetch(
            nums,
            sources=names,
            cache=cache_path,
            refresh=refresh,
            base_urls=base_urls,
            progress=bar.update,
            source_options={"offline": {"frame": offline_frame}},
        )
    finally:
        bar.close()


def _say_done(result: FetchResult, output: Path, failures: Path) -> None:
    """Print the counts (patents, failures, sources used, requests, conflicts) and the files written.

    Parameters
    ----------
    result : data_sources.FetchResult
        The fetch's result.
    output, failures : Path
        The facts and failures files.
    """
    used = ", ".join(k for k, v in result.stats.items() if isinstance(v, dict))
    typer.echo(
        f"{len(result.facts)} patents fetched, {len(result.failures)} failed "
        f"(sources: {used}; {result.requests} requests, {len(result.conflicts)} conflicts)"
    )
    typer.echo(f"facts: {output}")
    typer.echo(f"failures: {failures}")


class _Bar:
    """A progress bar: rich when installed, else a plain line on stderr."""

    def __init__(self) -> None:
        self._rich = None
        self._task = None
        self._last = -1
        try:
            from rich.progress import Progress

            self._rich = Progress(transient=True)
            self._rich.start()
            self._task = self._rich.add_task("fetching", total=None)
        except ImportError:  # pragma: no cover - rich comes with typer
            self._rich = None

    def update(self, done: int, total: int) -> None:
        if self._rich is not None and self._task is not None:
            self._rich.update(self._task, completed=done, total=total)
            return
        pct = int(100 * done / total) if total else 100  # pragma: no cover
        if pct != self._last:  # pragma: no cover
            self._last = pct
            typer.echo(f"\rfetching {done}/{total} ({pct}%)", err=True, nl=done >= total)

    def close(self) -> None:
        if self._rich is not None:
            self._rich.stop()


def _progress() -> _Bar:
    return _Bar()
