"""The computing steps the service calls, behind one injectable seam.

:class:`Pipeline` holds the callables (read, fetch, value, assess, policies, report); each default imports its
module when first called, so starting the service stays light. Tests and other deployments pass their own.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ipvalue.errors import InputError, Problem
from ipvalue.facts.numbers import normalize_number
from ipvalue.report.assessment_json import (
    assessment_to_json,
    draws_to_bytes,
    loan_from_json,
    records_to_frame,
    valued_to_json,
)
from ipvalue.service.errors import ApiError, request_problem

__all__ = [
    "Pipeline",
    "make_fetch",
    "run_assessment",
    "run_valuation",
    "run_profile",
    "peers_frame",
    "monitor_record",
    "patents_payload_to_rows",
    "as_input_error",
    "comparables_kw",
]

log = logging.getLogger("ipvalue.service")

Progress = Callable[[float], None]


def _default_read(rows: list[dict[str, Any]]) -> pd.DataFrame:
    from ipvalue import read_portfolio

    return read_portfolio(rows)


def make_fetch(
    sources: list[str] | None = None, base_urls: dict[str, str] | None = None, cache: Path | None = None
) -> Callable[[list[str]], pd.DataFrame]:
    """A ``fetch(numbers)`` through :func:`data_sources.fetch`.

    The numbers no source could answer come back as rows holding only ``patent_id`` and ``fetch_error`` (the
    reason), so no number is lost: an assessment refuses them by name, monitoring reports them unavailable.
    """

    def fetch(numbers: list[str]) -> pd.DataFrame:
        import data_sources

        try:
            res = data_sources.fetch(
                list(numbers),
                sources=sources,
                base_urls=base_urls or None,
                cache=str(cache) if cache else None,
            )
        except data_sources.DataSourceError as exc:  # configuration or a source down: the reason is logged
            log.warning("fetch failed: %s", exc)
            raise ApiError(
                502, "fetch_failed", "patent facts could not be fetched from the configured sources"
            ) from exc
        facts = res.facts
        if len(res.failures):
            fail = pd.DataFrame(
                {
                    "patent_id": res.failures["patent_id"].astype(str).to_numpy(),
                    "fetch_error": res.failures["reason"].astype(str).to_numpy(),
                }
            )
            fail = fail.set_index("patent_id", drop=False)
            facts = pd.concat([facts, fail]) if len(facts) else fail
        return facts

    return fetch


_default_fetch = make_fetch()


def _default_value(
    portfolio: pd.DataFrame,
    assumptions: dict[str, Any] | None,
    *,
    as_of: dt.date,
    rng: int,
    comparables: pd.DataFrame | None = None,
) -> pd.DataFrame:
    from ipvalue import value_portfolio

    return value_portfolio(portfolio, assumptions, as_of=as_of, rng=rng, comparables=comparables)


def _default_assess(valued: pd.DataFrame, *, loan: Any, policy: str | dict[str, Any], rng: int) -> Any:
    from ipvalue import assess_collateral

    return assess_collateral(valued, loan=loan, policy=policy, rng=rng)


def _default_policies() -> list[dict[str, Any]]:
    from ipvalue.collateral import list_policies, load_policy

    return [load_policy(name).to_dict() for name in list_policies()]


def _default_profile(portfolio: pd.DataFrame, **kw: Any) -> Any:
    from ipvalue import profile_borrower

    return profile_borrower(portfolio, **kw)


def _default_report(assessment: Any, path: Path, lang: str) -> None:
    from ipvalue import report

    report.write(assessment, path, lang=lang)


@dataclass
class Pipeline:
    """The stages the service runs; every field can be replaced (tests, other deployments).

    Attributes
    ----------
    read : callable
        ``read(rows) -> portfolio frame`` from validated patent dictionaries (default :func:`ipvalue.read_portfolio`).
    fetch : callable
        ``fetch(numbers) -> portfolio frame`` through :mod:`data_sources` (patents that could not be fetched
        appear as failure rows).
    value : callable
        ``value(portfolio, assumptions, *, as_of, rng)`` (default :func:`ipvalue.value_portfolio`); called with
        ``comparables=`` (a table read by :func:`ipvalue.read_comparables`) when the request carries them.
    assess : callable
        ``assess(valued, *, loan, policy, rng)`` (default :func:`ipvalue.assess_collateral`).
    policies : callable
        ``policies() -> list of dict`` each with at least ``name``.
    report : callable
        ``report(assessment, path, lang)`` writes a report file whose format follows the suffix.
    profile : callable
        ``profile(portfolio, *, as_of, peers, firm, loan, overlay)`` (default :func:`ipvalue.profile_borrower`).
    """

    read: Callable[[list[dict[str, Any]]], pd.DataFrame] = _default_read
    fetch: Callable[[list[str]], pd.DataFrame] = _default_fetch
    value: Callable[..., pd.DataFrame] = _default_value
    assess: Callable[..., Any] = _default_assess
    policies: Callable[[], list[dict[str, Any]]] = _default_policies
    report: Callable[[Any, Path, str], None] = _default_report
    profile: Callable[..., Any] = _default_profile

    def policy_names(self) -> list[str]:
        """Names of the known policies."""
        return [str(p.get("name")) for p in self.policies()]


_LIST_FIELDS = ("owner", "cpc", "family_jurisdictions")


def patents_payload_to_rows(patents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Request patents (JSON) to reader rows: lists joined with ``;``, absent values left out."""
    rows = []
    for p in patents:
        row = {}
        for k, v in p.items():
            if v is None:
                continue
            if k in _LIST_FIELDS and isinstance(v, list):
                if not v:
                    continue
                v = ";".join(v)
            row[k] = v
        rows.append(row)
    return rows


def as_input_error(exc: Exception) -> InputError:
    """A core error as :class:`ipvalue.errors.InputError` (ipvalue's own input errors pass through)."""
    if isinstance(exc, InputError):
        return exc
    if isinstance(exc, KeyError):
        return InputError(f"unknown name {exc.args[0]!r}" if exc.args else "unknown name")
    return InputError(str(exc))


def comparables_kw(request: dict[str, Any]) -> dict[str, Any]:
    """``{"comparables": table}`` read from the request's comparables, or ``{}`` without them.

    A request without comparables calls ``pipeline.value`` as before (a replaced stage need not know the
    keyword); the table is read with :func:`ipvalue.read_comparables` (row and field named on a problem).
    """
    rows = request.get("comparables")
    if not rows:
        return {}
    from ipvalue import read_comparables

    try:
        return {"comparables": read_comparables(pd.DataFrame(rows))}
    except ValueError as exc:
        raise as_input_error(exc) from exc


def _portfolio(pipeline: Pipeline, request: dict[str, Any]) -> pd.DataFrame:
    if request.get("patents") is not None:
        try:
            return pipeline.read(patents_payload_to_rows(request["patents"]))
        except ValueError as exc:
            raise as_input_error(exc) from exc
    numbers = list(request["numbers"])
    frame = pipeline.fetch(numbers)
    if "fetch_error" in frame.columns and frame["fetch_error"].notna().any():
        failed = frame.loc[frame["fetch_error"].notna(), ["patent_id", "fetch_error"]]
        reasons = dict(zip(failed["patent_id"].astype(str), failed["fetch_error"].astype(str), strict=True))
        problems: list[Problem] = []
        for i, n in enumerate(numbers):
            try:
                canon = normalize_number(n)
            except ValueError:
                canon = n
            if canon in reasons or n in reasons:
                problems.append(
                    request_problem(["numbers", i], f"{n}: {reasons.get(canon, reasons.get(n))}", canon)
                )
        raise InputError(
            problems, message=f"{len(failed)} patent(s) could not be fetched: {', '.join(reasons)}"
        )
    return frame


def run_valuation(
    pipeline: Pipeline, request: dict[str, Any], progress: Progress | None = None
) -> tuple[dict[str, Any], bytes | None]:
    """Value only: ``(output JSON, None)``."""
    progress = progress or (lambda f: None)
    frame = _portfolio(pipeline, request)
    progress(0.3)
    try:
        valued = pipeline.value(
            frame,
            request.get("assumptions"),
            as_of=dt.date.fromisoformat(request["as_of"]),
            rng=int(request.get("seed", 0)),
            **comparables_kw(request),
        )
    except (ValueError, KeyError) as exc:
        raise as_input_error(exc) from exc
    progress(0.9)
    return valued_to_json(valued), None


def run_assessment(
    pipeline: Pipeline, request: dict[str, Any], progress: Progress | None = None
) -> tuple[dict[str, Any], bytes | None]:
    """Facts, valuation and collateral assessment: ``(output JSON, Monte Carlo draws as .npy bytes)``."""
    progress = progress or (lambda f: None)
    frame = _portfolio(pipeline, request)
    progress(0.2)
    seed = int(request.get("seed", 0))
    as_of = dt.date.fromisoformat(request["as_of"])
    try:
        valued = pipeline.value(
            frame, request.get("assumptions"), as_of=as_of, rng=seed, **comparables_kw(request)
        )
    except (ValueError, KeyError) as exc:
        raise as_input_error(exc) from exc
    progress(0.6)
    try:
        loan = loan_from_json(request["loan"])
        assessment = pipeline.assess(valued, loan=loan, policy=request["policy"], rng=seed)
    except (ValueError, KeyError) as exc:
        raise as_input_error(exc) from exc
    progress(0.9)
    return assessment_to_json(assessment), draws_to_bytes(getattr(assessment, "recovery_draws", None))


def monitor_record(
    pipeline: Pipeline,
    output: dict[str, Any],
    request: dict[str, Any] | None,
    *,
    as_of: dt.date,
    within_days: int,
    fetch: Callable[[list[str]], pd.DataFrame],
    revalue: bool = True,
) -> dict[str, Any]:
    """Monitor a stored assessment: the JSON of :class:`ipvalue.monitor.MonitorReport`.

    Parameters
    ----------
    pipeline : Pipeline
        Used to value and assess the refreshed portfolio when ``revalue`` (coverage check).
    output : dict
        The stored assessment (``assessment_to_json``): its ``patents`` are the snapshot at pledge.
    request : dict or None
        The stored request (assumptions, policy, seed); without it coverage is not re-computed.
    fetch : callable
        ``fetch(patent_ids) -> current facts``.
    """
    from ipvalue.monitor import monitor_portfolio, refresh_facts

    snapshot = records_to_frame(output.get("patents") or [], index="patent_id")
    loan_json = output.get("loan") or (request or {}).get("loan")
    loan = loan_from_json(loan_json) if loan_json else None
    reassess = None
    if revalue and request is not None and loan is not None:
        seed = int(request.get("seed", 0))

        def reassess(current: pd.DataFrame) -> float:
            portfolio = refresh_facts(snapshot, current)
            try:
                valued = pipeline.value(
                    portfolio, request.get("assumptions"), as_of=as_of, rng=seed, **comparables_kw(request)
                )
                result = pipeline.assess(valued, loan=loan, policy=request["policy"], rng=seed)
            except (ValueError, KeyError) as exc:
                raise as_input_error(exc) from exc
            summary = dict(result.summary)
            cov = summary.get("coverage_ratio")
            if cov is None:
                cov = float(summary["collateral_value"]) / loan.amount
            return float(cov)

    report = monitor_portfolio(
        snapshot,
        as_of=as_of,
        fetch=fetch,
        coverage_trigger=loan.coverage_trigger if loan is not None else None,
        reassess=reassess,
        within_days=within_days,
    )
    return report.to_dict()


def peers_frame(pipeline: Pipeline, peers: list[dict[str, Any]]) -> pd.DataFrame:
    """The request's peer patents as a frame with a ``firm`` column (read like the portfolio, in order)."""
    rows = patents_payload_to_rows(peers)
    firms = [str(r.pop("firm")) for r in rows]
    try:
        frame = pipeline.read(rows)
    except ValueError as exc:
        raise as_input_error(exc) from exc
    if len(frame) != len(rows):  # the reader keeps every row; anything else would mislabel the firms
        raise InputError(f"{len(rows)} peer patents given, {len(frame)} read")
    return frame.assign(firm=firms)


def run_profile(pipeline: Pipeline, request: dict[str, Any], peers: Any = None) -> dict[str, Any]:
    """A borrower's technology profile: the JSON of :class:`ipvalue.profile.BorrowerProfile` with its patents.

    The portfolio is valued first (``request["value"]``, default true) so the profile reads the valuation's
    quality scores, values and remaining lives; ``peers`` is :func:`peers_frame` of the request's peers, or a
    peer book (:class:`ipvalue.profile.PeerBook`) the server holds.
    """
    from ipvalue.report.assessment_json import frame_records

    frame = _portfolio(pipeline, request)
    as_of = dt.date.fromisoformat(request["as_of"])
    seed = int(request.get("seed", 0))
    try:
        if request.get("value", True):
            frame = pipeline.value(frame, request.get("assumptions"), as_of=as_of, rng=seed)
        loan = loan_from_json(request["loan"]) if request.get("loan") else None
        prof = pipeline.profile(
            frame,
            as_of=as_of,
            peers=peers,
            firm=request.get("firm"),
            loan=loan,
            overlay=request.get("overlay"),
        )
    except (ValueError, KeyError) as exc:
        raise as_input_error(exc) from exc
    out: dict[str, Any] = prof.to_dict()
    out["patents"] = frame_records(prof.patents)
    return out
