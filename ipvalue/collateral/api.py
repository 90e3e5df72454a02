"""assess_collateral: eligibility, haircuts, loan sizing, liquidation and stress in one reproducible run."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import numbers
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ipvalue._gc import gc_paused
from ipvalue._version import __version__
from ipvalue.collateral._assessment import CollateralAssessment, Loan
from ipvalue.collateral._inputs import CollateralInputError, check_frame
from ipvalue.collateral.distributed import chunked_core, core_on_handles, dask_partitions
from ipvalue.collateral.kernel import CollateralContext, CoreResult, assess_frame
from ipvalue.collateral.policy import Policy, load_policy
from ipvalue.collateral.stress import STRESS_COLUMNS, assess_with_stress, run_stress
from ipvalue.collateral.summary import assumptions_table, digest, json_default, summarise
from ipvalue.facts.columns import as_date, check_seed, input_hash, is_dask_frame
from ipvalue.terms._dates import add_months

__all__ = ["assess_collateral"]


def _valuation_date(attrs: Mapping[str, Any]) -> dt.date | None:
    """The valuation's ``as_of`` recorded in ``attrs["ipvalue"]`` (None when not recorded)."""
    when = (attrs or {}).get("ipvalue", {}).get("as_of")
    return (
        None
        if when is None
        else as_date(when, "valued.attrs['ipvalue']['as_of']", error=CollateralInputError)
    )


def _resolve_as_of(attrs: Mapping[str, Any], as_of: Any) -> dt.date:
    if as_of is None:
        as_of = (attrs or {}).get("ipvalue", {}).get("as_of")
        if as_of is None:
            raise CollateralInputError(
                "no as_of given and valued.attrs['ipvalue']['as_of'] is not set; pass as_of=", field="as_of"
            )
    return as_date(as_of, "as_of", error=CollateralInputError)


def assess_collateral(
    valued: pd.DataFrame,
    *,
    loan: Loan,
    policy: str | Policy | Mapping[str, Any] = "cn-bank-standard",
    rng: int = 0,
    as_of: dt.date | str | None = None,
    paths: int = 20_000,
    stress: bool = True,
    fx: Mapping[str, float] | None = None,
    backend: Any = None,
    chunk_size: int | None = None,
    client: Any = None,
) -> CollateralAssessment:
    """Turn a valued portfolio into pledge collateral.

    Eligibility, explained haircuts, loan sizing, liquidation scenarios with a Monte Carlo of recoveries, and
    stress tests.

    Parameters
    ----------
    valued : pandas.DataFrame or dask.dataframe.DataFrame
        Output of :func:`ipvalue.value_portfolio`: facts plus ``value``, ``value_p05/p50/p95``,
        ``remaining_life_years``, ``quality_legal`` and ``currency`` (missing optional columns are named in the
        assumptions and flags). A Dask DataFrame (e.g. ``value_portfolio`` run on a Dask frame) is assessed
        partition by partition (on the cluster of ``client``, or of the current ``distributed`` client, where the
        partitions stay; else computed on Dask's current scheduler); the result's ``.patents`` is computed at
        the end (see ``docs/methodology/scale.md``).
    loan : Loan
        The loan the patents secure.
    policy : str, Policy or mapping
        A preset (``cn-bank-standard``, ``basel-internal``, ``conservative``), a JSON policy file or a mapping.
    rng : int
        Root seed; each patent draws from its own stream, so row order does not change the numbers.
    as_of : date or ISO string, optional
        Defaults to ``valued.attrs["ipvalue"]["as_of"]``; an error when neither is given.
    paths : int
        Monte Carlo paths.
    stress : bool
        Run the named stress shocks (:mod:`ipvalue.collateral.stress`).
    fx : mapping, optional
        Loan-currency units per unit of any other valuation currency in the frame.
    backend : {"serial", "processes", "dask"} or Backend, optional
        Where the chunks run (:mod:`ipvalue.runtime`). With none of ``backend``, ``chunk_size``, ``client`` and
        a pandas frame: one pass in this process, as before. The per-patent columns are the same to the last
        bit on every backend except those that depend on the concentration totals, and the portfolio figures
        agree within 1e-12 relative (sums taken chunk by chunk; see ``docs/methodology/scale.md``). Stress
        revaluations run on the same backend.
    chunk_size : int, optional
        Patents per chunk (default 50 000).
    client : distributed.Client, optional
        The cluster for the Dask backend (implies it).

    Returns
    -------
    CollateralAssessment
        Every input patent appears in ``.patents``, in input order.

    Raises
    ------
    CollateralInputError
        Bad input, naming the patent and the field.
    PolicyError
        Unknown or invalid policy.
    """
    if not isinstance(loan, Loan):
        raise TypeError(f"loan must be an ipvalue.Loan, got {type(loan).__name__}")
    seed = check_seed(rng)
    if not isinstance(paths, numbers.Integral) or paths < 2:
        raise ValueError(f"paths must be an integer of at least 2, got {paths!r}")
    if chunk_size is not None and (
        isinstance(chunk_size, bool) or not isinstance(chunk_size, numbers.Integral) or chunk_size < 1
    ):
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    pol = load_policy(policy)
    dask_input = is_dask_frame(valued)
    if not (dask_input or backend is not None or chunk_size is not None or client is not None):
        # one pass makes tens of thousands of small objects (rows, frames, texts) and no cycle that must go
        # before it ends: the cyclic collector waits (its collections of the whole heap cost ~0.2 s at 20k)
        with gc_paused():
            return _assess(
                valued, loan=loan, pol=pol, seed=seed, as_of=as_of, paths=int(paths), stress=stress, fx=fx
            )
    from ipvalue.runtime import get_backend

    if dask_input:
        handles, be, owned = dask_partitions(valued, backend=backend, client=client)
    else:
        handles = None
        be, owned = get_backend(backend, client)
    try:
        return _assess(
            valued,
            loan=loan,
            pol=pol,
            seed=seed,
            as_of=as_of,
            paths=int(paths),
            stress=stress,
            fx=fx,
            be=be,
            chunk_size=chunk_size,
            handles=handles,
        )
    finally:
        if owned:
            be.close()


def _valued_attrs(valued: Any) -> dict:
    attrs = getattr(valued, "attrs", None)
    if not attrs and hasattr(valued, "_meta"):
        attrs = getattr(valued._meta, "attrs", None)
    return dict(attrs or {})


def _assess(
    valued: Any,
    *,
    loan: Loan,
    pol: Policy,
    seed: int,
    as_of: Any,
    paths: int,
    stress: bool,
    fx: Mapping[str, float] | None,
    be: Any = None,
    chunk_size: int | None = None,
    handles: list[Any] | None = None,
) -> CollateralAssessment:
    """assess_collateral once its arguments are checked: one pass (``be`` None) or over chunks on ``be``."""
    attrs = _valued_attrs(valued)
    as_of_d, valued_on = _dates(attrs, as_of)
    ctx = CollateralContext(
        loan=loan, policy=pol, as_of=as_of_d, seed=seed, paths=paths, fx=fx, valuation_as_of=valued_on
    )
    core_fn = _core_fn(be, chunk_size)
    frame, input_order, core, one_pass_stress = _base_case(
        valued, ctx, attrs, stress=stress, be=be, core_fn=core_fn, handles=handles
    )
    in_hash = _input_digest(
        frame, attrs, loan, pol, seed=seed, as_of=as_of_d, paths=paths, stress=stress, fx=fx
    )
    stress_df = _stress_table(
        frame, ctx, core, attrs, stress=stress, be=be, core_fn=core_fn, one_pass=one_pass_stress
    )
    summary = _summary(core, ctx, frame, stress_df, valued_on)
    patents = _in_order(core.patents, input_order)
    output_hash = _output_digest(patents, summary, core, stress_df)
    audit = {
        "package_version": __version__,
        "input_hash": in_hash,
        "output_hash": output_hash,
        "policy": {"name": pol.name, "version": pol.version, "origin": pol.origin},
        "seed": seed,
        "as_of": as_of_d.isoformat(),
        "paths": int(paths),
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    policy_doc = pol.to_dict()
    policy_doc["origin"] = pol.origin
    return CollateralAssessment(
        patents=patents,
        summary=summary,
        liquidation=core.liquidation,
        stress=stress_df,
        recovery_draws=core.mc.recovery_draws(),
        loan=loan,
        policy=policy_doc,
        assumptions=assumptions_table(pol, loan=loan, frame=frame, fx=fx),
        audit=audit,
    )


def _in_order(patents: pd.DataFrame, order: pd.Index) -> pd.DataFrame:
    """``patents.reindex(order)``; the frame itself when it is in that order already (the same rows and bits)."""
    index = patents.index
    if index.equals(order) and index.dtype == order.dtype and index.names == order.names:
        return patents
    return patents.reindex(order)


def _dates(attrs: Mapping[str, Any], as_of: Any) -> tuple[dt.date, dt.date | None]:
    """The assessment date and the valuation date, the valuation not after the assessment.

    Parameters
    ----------
    attrs : Mapping
        The valued frame's attrs (``attrs["ipvalue"]["as_of"]``).
    as_of : Any
        The caller's ``as_of`` (None: the valuation's).

    Returns
    -------
    as_of : datetime.date
        The assessment date.
    valued_on : datetime.date or None
        The valuation date, when recorded.

    Raises
    ------
    CollateralInputError
        No date to use, an unreadable date, or a valuation dated after the assessment.
    """
    as_of_d = _resolve_as_of(attrs, as_of)
    valued_on = _valuation_date(attrs)
    if valued_on is not None and valued_on > as_of_d:
        raise CollateralInputError(
            f"the valuation is dated {valued_on.isoformat()}, after the assessment's as_of {as_of_d.isoformat()}; "
            "a pledge cannot rest on a valuation from the future",
            field="as_of",
        )
    return as_of_d, valued_on


def _core_fn(be: Any, chunk_size: int | None) -> Any:
    """The engine's core for one frame: :func:`assess_frame`, or over chunks on the backend ``be``.

    Parameters
    ----------
    be : Any
        The backend, or None for one pass.
    chunk_size : int or None
        Patents per chunk on the backend.

    Returns
    -------
    callable
        ``core(frame, ctx, *, liquidation_frame=None) -> CoreResult``.
    """
    if be is None:
        return assess_frame

    def core_fn(
        frame: pd.DataFrame, c: CollateralContext, *, liquidation_frame: pd.DataFrame | None = None
    ) -> CoreResult:
        return chunked_core(frame, c, be=be, chunk_size=chunk_size, liquidation_frame=liquidation_frame)

    return core_fn


def _base_case(
    valued: Any,
    ctx: CollateralContext,
    attrs: Mapping[str, Any],
    *,
    stress: bool,
    be: Any,
    core_fn: Any,
    handles: list[Any] | None,
) -> tuple[pd.DataFrame, pd.Index, CoreResult, pd.DataFrame | None]:
    """The checked patent table and the base case assessed on it.

    Parameters
    ----------
    valued : Any
        The valued frame (pandas, or Dask when ``handles`` are given).
    ctx : CollateralContext
        The run's loan, policy, dates and draws.
    attrs : Mapping
        The valued frame's attrs (the valuation passed to the stress runs).
    stress : bool
        Whether the stress runs are wanted.
    be : Any
        The backend, or None for one pass.
    core_fn : callable
        The core from :func:`_core_fn`.
    handles : list or None
        The Dask partitions, assessed where they are.

    Returns
    -------
    frame : pandas.DataFrame
        The patent table in patent_id order (for a Dask input: the assessed table without the collateral
        columns, computed at the end).
    input_order : pandas.Index
        The input's row order, for the output.
    core : CoreResult
        The base case.
    stress : pandas.DataFrame or None
        The stress table when it came in the same pass (one pass with stress: the base case is run 0 of the
        shock axis, the book's Monte Carlo draws made once); else None.

    Raises
    ------
    CollateralInputError
        A patent table that fails :func:`check_frame`.
    """
    if handles is not None:
        # a Dask DataFrame: the partitions are assessed where they are; the input frame (for the stress runs
        # and the input hash) is the patent table without the collateral columns, computed at the end
        core = core_on_handles(handles, be, ctx)
        added = [c for c in core.patents.columns if c not in set(valued.columns)]
        frame = core.patents.drop(columns=added)
        frame.attrs = {}
        input_order = frame.index
        return frame.sort_index(kind="stable"), input_order, core, None
    frame = check_frame(valued)
    input_order = frame.index
    # work in patent_id order so that sums (and so every number) do not depend on the row order
    frame = frame.sort_index(kind="stable")
    if be is None and stress:
        core, stress_df = assess_with_stress(frame, ctx, valuation=attrs.get("ipvalue", {}))
        return frame, input_order, core, stress_df
    core = assess_frame(frame, ctx, checked=True) if be is None else core_fn(frame, ctx)
    return frame, input_order, core, None


def _input_digest(
    frame: pd.DataFrame,
    attrs: Mapping[str, Any],
    loan: Loan,
    pol: Policy,
    *,
    seed: int,
    as_of: dt.date,
    paths: int,
    stress: bool,
    fx: Mapping[str, float] | None,
) -> str:
    """The audit's input hash: the frame by the project's one frame hash, the rest as canonical JSON.

    Parameters
    ----------
    frame : pandas.DataFrame
        The patent table in patent_id order (binary hash, exact to the last bit).
    attrs : Mapping
        The valued frame's attrs (its ``ipvalue`` entry is hashed).
    loan : Loan
        The loan.
    pol : Policy
        The policy.
    seed, as_of, paths, stress, fx
        The run's settings.

    Returns
    -------
    str
        The digest.
    """
    return digest(
        input_hash(frame),
        json.dumps(attrs.get("ipvalue", {}), sort_keys=True, default=json_default),
        json.dumps(loan.to_dict(), sort_keys=True, default=json_default),
        json.dumps(pol.to_dict(), sort_keys=True, ensure_ascii=False),
        json.dumps(
            {
                "seed": seed,
                "as_of": as_of.isoformat(),
                "paths": int(paths),
                "stress": bool(stress),
                "fx": dict(fx or {}),
            },
            sort_keys=True,
        ),
    )


def _stress_table(
    frame: pd.DataFrame,
    ctx: CollateralContext,
    core: CoreResult,
    attrs: Mapping[str, Any],
    *,
    stress: bool,
    be: Any,
    core_fn: Any,
    one_pass: pd.DataFrame | None,
) -> pd.DataFrame:
    """The stress table: none asked (empty), made in the one pass, or run shock by shock on the backend.

    Parameters
    ----------
    frame : pandas.DataFrame
        The patent table in patent_id order.
    ctx : CollateralContext
        The run's loan, policy, dates and draws.
    core : CoreResult
        The base case.
    attrs : Mapping
        The valued frame's attrs (the valuation passed to the stress runs).
    stress : bool
        Whether the stress runs are wanted.
    be : Any
        The backend, or None.
    core_fn : callable
        The core from :func:`_core_fn`.
    one_pass : pandas.DataFrame or None
        The table from :func:`_base_case`, when it came in the same pass.

    Returns
    -------
    pandas.DataFrame
        One row per stress scenario (the :data:`STRESS_COLUMNS`, no rows when ``stress`` is False).
    """
    if not stress:
        return pd.DataFrame(columns=list(STRESS_COLUMNS))
    if one_pass is not None:
        return one_pass
    return run_stress(
        frame,
        ctx,
        base=core.numbers,
        base_patents=core.patents,
        core=core_fn,  # shock by shock on the backend
        backend=be,
        valuation=attrs.get("ipvalue", {}),
        base_core=core,
    )


def _summary(
    core: CoreResult,
    ctx: CollateralContext,
    frame: pd.DataFrame,
    stress_df: pd.DataFrame,
    valued_on: dt.date | None,
) -> dict[str, Any]:
    """The assessment's summary, with the valuation date and the STALE_VALUATION flag.

    Parameters
    ----------
    core : CoreResult
        The base case.
    ctx : CollateralContext
        The run's loan, policy, dates and draws.
    frame : pandas.DataFrame
        The patent table in patent_id order.
    stress_df : pandas.DataFrame
        The stress table.
    valued_on : datetime.date or None
        The valuation date, when recorded.

    Returns
    -------
    dict
        :func:`summarise`'s summary; ``flags`` gains STALE_VALUATION when the valuation is older than the
        policy's ``valuation_max_age_months`` on the assessment date.
    """
    summary = summarise(core, ctx, frame=frame, stress_df=stress_df)
    pol, as_of_d = ctx.policy, ctx.as_of
    if valued_on is not None and as_of_d > revaluation_due(valued_on, int(pol["valuation_max_age_months"])):
        summary["flags"].append("STALE_VALUATION")
    summary["valuation_as_of"] = None if valued_on is None else valued_on.isoformat()
    return summary


def _output_digest(
    patents: pd.DataFrame, summary: Mapping[str, Any], core: CoreResult, stress_df: pd.DataFrame
) -> str:
    """The audit's output hash: the frames by the project's frame hash, the summary as canonical JSON.

    Parameters
    ----------
    patents : pandas.DataFrame
        The per-patent output, in the input's row order.
    summary : Mapping
        The summary.
    core : CoreResult
        The base case (its liquidation table and recovery draws are hashed).
    stress_df : pandas.DataFrame
        The stress table.

    Returns
    -------
    str
        The digest.
    """
    known = None if core.basis_texts is None else core.basis_texts()
    return digest(
        input_hash(patents, texts=None if known is None else {"haircut_basis": known}),
        json.dumps(summary, sort_keys=True, default=json_default),
        input_hash(core.liquidation),
        input_hash(stress_df),
        hashlib.sha256(np.ascontiguousarray(core.mc.recovery_draws()).tobytes()).hexdigest(),
    )


def revaluation_due(valued_on: dt.date, months: int) -> dt.date:
    """The last day a valuation may serve an assessment: the same calendar date ``months`` later.

    Where that date does not exist (29 February, the 31st of a shorter month) it is the month's last day: the
    project's one calendar-month rule, :func:`ipvalue.terms._dates.add_months`. A policy's ``valuation_max_age_months`` of 12 reads 商业银行押品管理指引
    (银监发〔2017〕16号) "revalued at least once a year" as a calendar year, so a revaluation one year later across a
    29 February (366 days) is on time.

    Parameters
    ----------
    valued_on : datetime.date
        The valuation's date.
    months : int
        The policy's maximum age in calendar months.

    Returns
    -------
    datetime.date
        The last day on which the valuation is not stale.
    """
    return add_months(np.array([valued_on], dtype="datetime64[D]"), months)[0].astype(dt.date)
