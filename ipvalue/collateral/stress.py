"""Named stress shocks: re-run valuation and collateral under each, and report the change.

Where a shock changes the patents' economics (obsolescence, royalty cut, discount rate up) the shocked
portfolio is revalued with :func:`ipvalue.valuation.value_portfolio` when the frame carries the input the shock
changes and the valuation recorded in ``attrs["ipvalue"]`` can be repeated; otherwise the shock is applied to
the valued frame directly and the row's description says so. Market and loan shocks act on the collateral
engine only. Shocks follow the reference note's table (section 5.4).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from ipvalue.collateral._columns import EngineColumns
from ipvalue.collateral._inputs import num
from ipvalue.collateral.eligibility import eligibility_arrays
from ipvalue.collateral.haircut import bucket_sums_many, life_factor, pooled_value
from ipvalue.collateral.kernel import (
    ChunkArrays,
    CollateralContext,
    CoreResult,
    assess_frame,
    chunk_arrays,
    finish_base,
    fx_columns,
    life_elapsed_years,
    liquidation_setup,
    prepare_chunk,
    shock_numbers,
    shock_setup,
)
from ipvalue.collateral.liquidation import (
    LiquidationPaths,
    LiquidationPool,
    MonteCarloResult,
    compiled_range_kernels,
    liquidation_partial_sums_many,
    with_risk_sharing,
)
from ipvalue.facts.columns import column_arrays, same_values, text_values
from ipvalue.valuation import VALUE_COLUMNS as VALUATION_OUTPUT
from ipvalue.valuation import Assumptions, value_portfolio
from ipvalue.valuation.kernel import (
    Prepared,
    cached_stages,
    can_revalue,
    value_chunk,
    value_prepared,
    value_prepared_onto,
)

__all__ = [
    "STRESS_SHOCKS",
    "STRESS_COLUMNS",
    "StressShock",
    "run_stress",
    "assess_with_stress",
    "VALUE_COLUMNS",
]

#: columns of ``CollateralAssessment.stress`` (``description_zh`` follows ``description``)
STRESS_COLUMNS: tuple[str, ...] = (
    "shock",
    "description",
    "description_zh",
    "revalued",
    "appraised_value",
    "collateral_value",
    "max_loan",
    "coverage_ratio",
    "expected_lgd",
    "lgd_99",
    "change_collateral_value",
    "change_pct",
    "change_expected_lgd",
)

#: money columns scaled together when a shock is applied to the valued frame directly
VALUE_COLUMNS: tuple[str, ...] = (
    "value",
    "value_p05",
    "value_p50",
    "value_p95",
    "value_income",
    "value_cost",
    "value_option",
)


class _CannotRevalue(Exception):
    """Why a shock could not be run through the valuation: ``str(exc)`` in English, ``.zh`` in Chinese."""

    def __init__(self, message: str, zh: str | None = None) -> None:
        super().__init__(message)
        self.zh = message if zh is None else zh


#: a shock's note: English text, or ``(English, Chinese)``
Note = str | tuple[str, str]


def _note_texts(note: Note) -> tuple[str, str]:
    """``(English, Chinese)`` of a note; a plain string serves both languages."""
    if isinstance(note, tuple):
        return str(note[0]), str(note[1])
    return str(note), str(note)


@dataclass(frozen=True)
class StressShock:
    """A named shock.

    Attributes
    ----------
    name : str
    description : str
        What the shock does, in English.
    revalue : callable or None
        ``f(frame, assumptions) -> (frame, assumptions)``: the shock on the valuation inputs (raises when the frame
        lacks what it needs); None for shocks that never revalue.
    direct : callable
        ``f(frame, ctx) -> (frame, note)``, the shock applied to the valued frame when revaluation is impossible
        (or the only way, for market shocks); ``note`` is English text or an ``(English, Chinese)`` pair.
    engine : dict
        Overrides for the collateral engine: ``obsolescence_shift``, ``crash_probability``, ``loan``.
    description_zh : str
        ``description`` in Chinese (the English one stands in when empty).
    reads_base_rows : bool
        Whether ``direct`` reads the base case's patent rows (``ctx["base_patents"]``). Such a shock is applied
        once with the rows before the liquidity haircut and, when the base case is finished, again with its
        final rows (:func:`assess_with_stress`). True by default, the safe answer for a shock written elsewhere;
        the shocks here that read only the frame and the policy say False.
    base_key : callable or None
        For a shock that reads the base case's rows: ``f(frame, ctx) -> key``, what ``direct`` reads of them
        (its frame and note are a function of the frame and the key). When the key is the same for the rows
        before the liquidity haircut and the finished ones, the shock is not applied again. None: it is applied
        again and its frame compared.
    """

    name: str
    description: str
    revalue: Callable[[pd.DataFrame, dict], tuple[pd.DataFrame, dict]] | None
    direct: Callable[[pd.DataFrame, dict], tuple[pd.DataFrame, Note]]
    engine: Mapping[str, Any]
    description_zh: str = ""
    reads_base_rows: bool = True
    base_key: Callable[[pd.DataFrame, dict], Hashable] | None = None


def _set_columns(frame: pd.DataFrame, values: Mapping[str, Any]) -> pd.DataFrame:
    """A shallow copy of ``frame`` (copy-on-write) with the columns ``values`` names set (each present once).

    Set by position (``isetitem``): what ``out[c] = v`` does for a column present once, without pandas' look-up
    by name; the columns left alone stay the base case's, which the engine sees without comparing their values
    (EngineColumns).
    """
    out = frame.copy(deep=False)
    names = out.columns
    for c, v in values.items():
        loc = names.get_loc(c)
        if isinstance(loc, int):
            out.isetitem(loc, v)
        else:  # a repeated name: as pandas sets it
            out[c] = v
    return out


def _scale_values(frame: pd.DataFrame, factor: Any) -> pd.DataFrame:
    return _set_columns(frame, {c: num(frame, c) * factor for c in VALUE_COLUMNS if c in frame.columns})


def _in_obsolescence(frame: pd.DataFrame, a: dict) -> tuple[pd.DataFrame, dict]:
    econ = num(frame, "economic_life_years")
    if a.get("economic_life_years") is not None:
        econ = np.where(np.isfinite(econ), econ, float(a["economic_life_years"]))
    life = num(frame, "remaining_life_years")
    base = np.where(np.isfinite(econ), np.minimum(econ, np.where(np.isfinite(life), life, np.inf)), life)
    if not np.isfinite(base).any():
        raise _CannotRevalue(
            "neither economic_life_years nor remaining_life_years is known", "经济寿命与剩余保护期均未知"
        )
    out = frame.copy(deep=False)  # copy-on-write: the caller's frame keeps its columns
    out["economic_life_years"] = np.where(
        np.isfinite(base) & (base > 0), np.maximum(base / 2.0, 0.01), np.nan
    )
    return out, a


def _in_royalty(frame: pd.DataFrame, a: dict) -> tuple[pd.DataFrame, dict]:
    roy = num(frame, "royalty_rate")
    a = dict(a)
    if a.get("royalty_rate") is not None:
        a["royalty_rate"] = float(a["royalty_rate"]) * 0.6
    else:
        lacking = np.isnan(roy) & (np.nan_to_num(num(frame, "value")) > 0)
        if lacking.any():
            raise _CannotRevalue(
                f"{int(lacking.sum())} valued patents take their royalty rate from the valuation's "
                "industry table, not the frame",
                f"{int(lacking.sum())} 项已估值专利的提成率取自估值的行业参数表，而非输入数据",
            )
    out = frame.copy(deep=False)  # copy-on-write: the caller's frame keeps its columns
    if "royalty_rate" in out.columns:
        out["royalty_rate"] = roy * 0.6
    return out, a


def _in_discount(frame: pd.DataFrame, a: dict) -> tuple[pd.DataFrame, dict]:
    a = dict(a)
    if a.get("discount_rate") is not None:
        a["discount_rate"] = float(a["discount_rate"]) + 0.03
    bu = dict(a.get("discount_rate_build_up") or {})
    if "market_risk" in bu:
        bu["market_risk"] = float(bu["market_risk"]) + 0.03
        a["discount_rate_build_up"] = bu
    elif a.get("discount_rate") is None and not np.isfinite(num(frame, "discount_rate")).all():
        raise _CannotRevalue(
            "no discount rate in the frame or the assumptions to raise",
            "输入数据与估值假设中均无可上调的折现率",
        )
    out = frame.copy(deep=False)  # copy-on-write: the caller's frame keeps its columns
    if "discount_rate" in out.columns:
        out["discount_rate"] = num(frame, "discount_rate") + 0.03
    return out, a


def _direct_obsolescence(frame: pd.DataFrame, ctx: dict) -> tuple[pd.DataFrame, Note]:
    life = num(frame, "remaining_life_years")
    f = np.where(np.isfinite(life) & (life > 0), life_factor(life, life / 2.0, 0.10), 1.0)
    out = _scale_values(frame, f)
    out["remaining_life_years"] = life / 2.0
    return out, (
        "applied directly: remaining life halved and values scaled by the annuity run-off at 10%",
        "直接作用于估值结果：剩余保护期减半，价值按 10% 年金的剩余比例缩减",
    )


def _direct_royalty(frame: pd.DataFrame, ctx: dict) -> tuple[pd.DataFrame, Note]:
    return _scale_values(frame, 0.6), (
        "applied directly: every value column x 0.6 (treats the value as income-based)",
        "直接作用于估值结果：各价值列 × 0.6（视价值全部来自收益）",
    )


def _direct_discount(frame: pd.DataFrame, ctx: dict) -> tuple[pd.DataFrame, Note]:
    life = np.nan_to_num(num(frame, "remaining_life_years"))
    r = num(frame, "discount_rate")
    r = np.where(np.isfinite(r), r, 0.12)

    def annuity(n: np.ndarray, rate: np.ndarray) -> np.ndarray:
        return -np.expm1(-n * np.log1p(rate)) / rate

    with np.errstate(invalid="ignore", divide="ignore"):
        f = np.where(life > 0, annuity(life, r + 0.03) / annuity(life, r), 1.0)
    return (
        _scale_values(frame, f),
        (
            "applied directly: values scaled by the level-annuity ratio a(L, r + 3%) / a(L, r) (r = discount_rate, else 12%)",
            "直接作用于估值结果：价值按等额年金比 a(L, r + 3%) / a(L, r) 缩放（r 取 discount_rate，缺失时取 12%）",
        ),
    )


def _direct_crash(frame: pd.DataFrame, ctx: dict) -> tuple[pd.DataFrame, Note]:
    q = num(frame, "quality_score")
    q = np.where(np.isnan(q), num(frame, "quality_legal"), q)
    q = np.where(np.isnan(q), 50.0, q)
    drop = np.minimum(1.0, 2.0 * float(ctx["policy"]["crash_price_drop"]) * (1.0 - q / 100.0))
    worst = 2 * float(ctx["policy"]["crash_price_drop"])
    return (
        _scale_values(frame, 1.0 - drop),
        (
            "market shock, applied to the values directly: quality-dependent drop "
            f"{worst:.0%} x (1 - quality/100), and a crashed market at every disposal",
            f"市场冲击，直接作用于价值：按质量评分下跌 {worst:.0%} × (1 − 质量评分/100)，且每次处置均处于市场崩溃状态",
        ),
    )


#: keys of a stress run's shock context (a dict) under which the largest family's reads are kept for the run
_FAMILY_LABELS, _LARGEST_FAMILY = "_family_labels", "_largest_family"


def _family_labels(frame: pd.DataFrame, ctx: Mapping[str, Any]) -> np.ndarray:
    """Each patent's family: its ``family_id``, else its own id, as text (kept in ``ctx`` for this frame)."""
    kept = ctx.get(_FAMILY_LABELS)
    if kept is not None and kept[0] is frame:
        return kept[1]
    fam = text_values(frame, "family_id")
    alone = np.array([f is None for f in fam.tolist()], dtype=bool)
    if alone.any():
        fam[alone] = np.asarray(frame.index.astype("string"), dtype=object)[alone]
    fam.flags.writeable = False
    if isinstance(ctx, dict):
        ctx[_FAMILY_LABELS] = (frame, fam)
    return fam


def _largest_family(frame: pd.DataFrame, ctx: dict) -> tuple[np.ndarray, Any]:
    """Each patent's family (:func:`_family_labels`) and the family to invalidate.

    The family with the most collateral value in the base case's rows (``ctx["base_patents"]``), else, when no
    family has any, the most value; ties go to the first family id in sorted order. None when there is no patent.
    Kept in ``ctx`` for this frame and these rows (a stress run asks again for its key).
    """
    base = ctx["base_patents"]
    kept = ctx.get(_LARGEST_FAMILY)
    if kept is not None and kept[0] is frame and kept[1] is base:
        return kept[2]
    fam = _family_labels(frame, ctx)
    # each family's number in sorted order of family id: grouped by it, pandas sums as it does by the ids (the
    # same compensated sums, rows in order, the groups in sorted order) without sorting the texts again
    codes, families = pd.factorize(fam, sort=True)
    cv = base["collateral_value"]
    cv = (cv if base.index.equals(frame.index) else cv.reindex(frame.index)).to_numpy(dtype=float)
    by = pd.Series(cv).groupby(codes).sum()
    if by.empty or not (by.to_numpy() > 0).any():
        by = pd.Series(np.nan_to_num(num(frame, "value"))).groupby(codes).sum()
    if by.empty:
        out: tuple[np.ndarray, Any] = (fam, None)
    else:
        # ties: the first family id in sorted order
        out = (fam, families[by.index[int(np.argmax(by.to_numpy()))]])
    if isinstance(ctx, dict):
        ctx[_LARGEST_FAMILY] = (frame, base, out)
    return out


def _invalidation_target(frame: pd.DataFrame, ctx: dict) -> Any:
    """What the largest family's invalidation reads of the base case's rows: the family it invalidates."""
    return _largest_family(frame, ctx)[1]


def _direct_invalidate_family(frame: pd.DataFrame, ctx: dict) -> tuple[pd.DataFrame, Note]:
    fam, target = _largest_family(frame, ctx)
    if target is None:
        return frame, ("no patent to invalidate", "没有可宣告无效的专利")
    hit = np.asarray(fam == target, dtype=bool)
    # the status as text_series reads it (stripped, blank as missing), "revoked" for the family: pandas' text
    status = pd.array(np.where(hit, "revoked", text_values(frame, "legal_status")).tolist(), dtype="string")
    columns: dict[str, Any] = {"legal_status": pd.Series(status, index=frame.index)}
    columns.update({c: np.where(hit, 0.0, num(frame, c)) for c in VALUE_COLUMNS if c in frame.columns})
    out = _set_columns(frame, columns)
    return out, (
        f"applied directly: family {target} ({int(hit.sum())} patents) declared invalid, value 0",
        f"直接作用于估值结果：同族 {target}（{int(hit.sum())} 项专利）被宣告无效，价值为 0",
    )


def _direct_none(frame: pd.DataFrame, ctx: dict) -> tuple[pd.DataFrame, Note]:
    return frame, ("loan shock: valuation unchanged", "贷款端冲击：估值不变")


STRESS_SHOCKS: tuple[StressShock, ...] = (
    StressShock(
        "obsolescence",
        "technology obsolescence: economic life halved and obsolescence drift +20%/y (reference 5.4: -10% to -30% a year)",
        _in_obsolescence,
        _direct_obsolescence,
        {"obsolescence_shift": 0.20},
        "技术过时：经济寿命减半，过时漂移每年再加 20%（参考资料 5.4：每年 -10% 至 -30%）",
        reads_base_rows=False,
    ),
    StressShock(
        "royalty_cut",
        "royalty rates cut by 40% (reference 5.4: licensing income stops at default, haircut income by 30-50%)",
        _in_royalty,
        _direct_royalty,
        {},
        "提成率下调 40%（参考资料 5.4：违约后许可收入中断，收益折减 30%–50%）",
        reads_base_rows=False,
    ),
    StressShock(
        "discount_rate_up",
        "discount rates up 3 percentage points [C]",
        _in_discount,
        _direct_discount,
        {},
        "折现率上升 3 个百分点 [C]",
        reads_base_rows=False,
    ),
    StressShock(
        "ip_market_crash",
        "IP-market crash (Ocean Tomo 2008-09: lots sold 50% -> 7%, proceeds -80%; mid-market -50%)",
        None,
        _direct_crash,
        {"crash_probability": 1.0, "liquidation_frame": "base"},
        "知识产权交易市场崩溃（Ocean Tomo 2008–09：拍品成交比例由 50% 降至 7%，成交额 -80%；中端市场 -50%）",
        reads_base_rows=False,
    ),
    StressShock(
        "invalidation_largest_family",
        "the family with the most collateral value is declared invalid",
        None,
        _direct_invalidate_family,
        {},
        "押品价值最大的专利同族被宣告无效",
        reads_base_rows=True,
        base_key=_invalidation_target,
    ),
    StressShock(
        "compensation_fund_exhausted",
        "the risk-compensation fund is exhausted: its share drops to 0 (reference 3.5, 5.4)",
        None,
        _direct_none,
        {"compensation_fund": 0.0},
        "风险补偿资金池耗尽：其分担比例降为 0（参考资料 3.5、5.4）",
        reads_base_rows=False,
    ),
)


#: the shocks that move only rates and lives, and the column each changes: revalued from the valuation stages
#: prepared once for all of them (``ipvalue.valuation.kernel.prepare_stages``), the same to the last bit
_BY_RATES: dict[Callable[..., Any], str] = {
    _in_obsolescence: "economic_life_years",
    _in_royalty: "royalty_rate",
    _in_discount: "discount_rate",
}


def _stages(frame: pd.DataFrame, info: Mapping[str, Any], as_of: dt.date) -> Prepared | None:
    """The valuation stages of ``frame`` that no rate moves, looked up once per stress run (kept in ``info``).

    ``value_portfolio`` kept them when it valued the book (``cached_stages``: a hit only when the frame's
    columns, the assumptions and ``as_of`` are the ones it valued, to the last bit); else they are prepared here.
    None when they cannot be prepared (each shock then runs the whole valuation and reports its own error).
    """
    key = "_prepared_stages"
    if key not in info:
        try:
            # the frame without the valuation's columns (left out of the look-up, not copied)
            state: Prepared | None = cached_stages(
                frame,
                Assumptions.of(dict(info["assumptions"] or {})).as_dict(),
                as_of,
                same_rows=False,
                drop=VALUATION_OUTPUT,
            )
        except Exception:  # noqa: BLE001 - the whole valuation, shock by shock, reports the error
            state = None
        if not isinstance(info, dict):
            return state
        info[key] = state
    return info[key]


def _revalue(
    frame: pd.DataFrame,
    shock: StressShock,
    *,
    as_of: dt.date,
    info: Mapping[str, Any],
    backend: Any = None,
) -> pd.DataFrame:
    """The shock's revaluation of ``frame``: from the prepared stages for a rate shock, else the whole valuation.

    ``info`` is the stress run's record of the valuation (a dict: the prepared stages, and the rate shocks'
    revaluations, all made on a shock axis at the first one's turn, are kept in it for the next shock).
    """
    if shock.revalue is None:
        raise _CannotRevalue("not a valuation input shock", "非估值输入冲击")
    if "assumptions" not in info:
        raise _CannotRevalue(
            "the frame does not record the valuation's assumptions", "输入数据未记录估值假设"
        )
    if backend is None and shock.revalue in _BY_RATES:
        done = _rate_revaluations(frame, info, as_of)
        if shock.revalue in done:
            return done[shock.revalue]
    shocked, assumptions = shock.revalue(frame, dict(info["assumptions"] or {}))
    shocked = shocked.drop(columns=[c for c in VALUATION_OUTPUT if c in shocked.columns])
    shocked.attrs = {}
    seed = int(info.get("seed", 0))
    try:
        if backend is None:
            a = Assumptions.of(assumptions).as_dict()
            col = _BY_RATES.get(shock.revalue)
            state = None if col is None else _stages(frame, info, as_of)
            columns = {col: shocked[col]} if col is not None and col in shocked.columns else {}
            if state is not None and can_revalue(state, a, columns):
                out = value_prepared(state, seed, a=a, columns=columns)
            else:
                # value_portfolio's one pass without its provenance (input hash), which the shock does not keep
                out = value_chunk(shocked, a=a, as_of=as_of, seed=seed, currency=None, cohort=None)
        else:
            out = value_portfolio(shocked, assumptions, as_of=as_of, rng=seed, backend=backend)
    except Exception as exc:  # the stress row reports why and falls back to the direct shock
        raise _CannotRevalue(
            f"value_portfolio failed: {type(exc).__name__}: {exc}",
            f"value_portfolio 运行失败：{type(exc).__name__}: {exc}",
        ) from exc
    out = out.reindex(frame.index)
    out.attrs = {}
    return out


def _rate_revaluations(
    frame: pd.DataFrame, info: Mapping[str, Any], as_of: dt.date
) -> dict[Callable[..., Any], pd.DataFrame]:
    """Every rate shock of :data:`_BY_RATES` revalued from the prepared stages in one pass (a shock axis).

    Made once per stress run (kept in ``info``) and the same to the last bit as each shock on its own
    (``value_prepared_many``), but for the text columns the engine does not read (``method_weights``,
    ``methods_used`` and ``value_notes`` are None: writing them was a quarter of the revaluations' time). A
    shock that cannot be revalued this way (its input function refuses the frame,
    its inputs change more than rates, the stages cannot be prepared, a shocked rate breaks its rule) is left
    out: it runs on its own, as before, and reports its own error.
    """
    key = "_rate_revaluations"
    if not isinstance(info, dict):
        return {}
    if key in info:
        return info[key]
    done: dict[Callable[..., Any], pd.DataFrame] = {}
    info[key] = done
    state = _stages(frame, info, as_of)
    if state is None:
        return done
    todo = []
    # where each of the prepared stages' rows is in frame (they may be in the book's order as value_portfolio
    # got it): the shocked column taken by position, as a reindex would (NaN for a row frame lacks)
    take = frame.index.get_indexer(state.inputs.frame.index) if frame.index.is_unique else None
    for fn, col in _BY_RATES.items():
        try:
            shocked, assumptions = fn(frame, dict(info["assumptions"] or {}))
            a = Assumptions.of(assumptions).as_dict()
        except Exception:  # noqa: BLE001 - the shock on its own reports it
            continue
        columns = {}
        if col in shocked.columns:
            values = shocked[col]
            if take is not None and values.dtype == np.float64:
                got = values.to_numpy()[take]
                got[take < 0] = np.nan
            else:
                got = values.reindex(state.inputs.frame.index).to_numpy()
            columns[col] = got
        if can_revalue(state, a, columns):
            todo.append((fn, a, columns))
    if todo:
        try:
            # the stress run reads the revalued numbers only: no notes or method texts are written; each frame
            # is the base frame with the columns the shock changed replaced (rows in frame's order)
            frames = value_prepared_onto(
                state,
                int(info.get("seed", 0)),
                [(a, columns) for _, a, columns in todo],
                frame,
                texts=False,
                range_kernels=compiled_range_kernels(),  # the valuation's draws on the Monte Carlo's engine
            )
        except Exception:  # noqa: BLE001 - each shock on its own reports its error
            frames = []
        for (fn, _, _), out in zip(todo, frames, strict=False):
            done[fn] = out
    return done


@dataclass
class _Shocked:
    """One shock applied: its frame and context for the engine, and its description."""

    shock: StressShock
    frame: pd.DataFrame
    ctx: CollateralContext
    liquidation_frame: pd.DataFrame | None
    revalued: bool
    note: str
    note_zh: str
    why: _CannotRevalue | None = None


def _direct(
    shock: StressShock, frame: pd.DataFrame, shock_ctx: dict, why: _CannotRevalue | None
) -> tuple[pd.DataFrame, str, str]:
    """The shock applied to the valued frame directly: the frame and the notes (with why it was not revalued)."""
    shocked, direct_note = shock.direct(frame, shock_ctx)
    note, note_zh = _note_texts(direct_note)
    if shock.revalue is not None and why is not None:
        note = f"{note} (revaluation impossible: {why})"
        note_zh = f"{note_zh}（无法重新估值：{why.zh}）"
    return shocked, note, note_zh


def _apply(
    shock: StressShock,
    frame: pd.DataFrame,
    ctx: CollateralContext,
    shock_ctx: dict,
    *,
    info: Mapping[str, Any],
    backend: Any,
) -> _Shocked:
    """The shock on the valuation (revalued when possible, else directly) and on the engine's context."""
    revalued, why = False, None
    try:
        shocked = _revalue(frame, shock, as_of=ctx.as_of, info=info, backend=backend)
        note, note_zh = "revalued with value_portfolio", "已用 value_portfolio 重新估值"
        revalued = True
    except _CannotRevalue as exc:
        why = exc
        shocked, note, note_zh = _direct(shock, frame, shock_ctx, why)
    eng = dict(shock.engine)
    # the crash reaches the bids inside the Monte Carlo, not the values twice
    liquidation_frame = frame if eng.pop("liquidation_frame", None) == "base" else None
    loan_s = ctx.loan
    if "compensation_fund" in eng:
        loan_s = replace(
            loan_s, risk_sharing=replace(loan_s.risk_sharing, compensation_fund=eng.pop("compensation_fund"))
        )
    return _Shocked(
        shock, shocked, replace(ctx, loan=loan_s, **eng), liquidation_frame, revalued, note, note_zh, why
    )


def _loan_only(s: _Shocked, frame: pd.DataFrame, ctx: CollateralContext) -> bool:
    """Whether the shock leaves the patents and the Monte Carlo's draws as they are and moves the risk sharing only."""
    return (
        s.frame is frame
        and s.liquidation_frame is None
        and replace(s.ctx, loan=ctx.loan) == ctx
        and replace(s.ctx.loan, risk_sharing=ctx.loan.risk_sharing) == ctx.loan
    )


def _shock_runs(
    applied: list[_Shocked],
    frame: pd.DataFrame,
    ctx: CollateralContext,
    base_arrays: ChunkArrays,
    base_setup: LiquidationPaths,
) -> tuple[list[tuple[int, LiquidationPaths]], list[tuple[int, ChunkArrays, LiquidationPaths]]]:
    """The per-patent part of every shock on arrays, before the Monte Carlo.

    Returns the loan-only shocks (position, setup: they reuse the base case's per-patent part and per-path
    sums) and the others (position, arrays, setup: each a run of the Monte Carlo).
    """
    elapsed = life_elapsed_years(ctx)
    loan_only, read = [], []
    for k, s in enumerate(applied):
        if _loan_only(s, frame, ctx):
            loan_only.append((k, replace(base_setup, loan=s.ctx.loan)))
            continue
        cols = EngineColumns(s.frame, like=base_arrays.cols, life_elapsed_years=elapsed)
        elig = eligibility_arrays(cols, s.ctx.loan, s.ctx.policy, as_of=s.ctx.as_of, reasons=False)
        read.append((k, s, cols, elig))
    # the concentration sums on the shock axis: one grouped sum per dimension for every shock whose buckets
    # are the base case's (patents moved between families or classes: the shock's own sums)
    base_codes = base_arrays.cols.bucket_codes()
    shared = [i for i, (_, _, cols, _) in enumerate(read) if cols.bucket_codes() is base_codes]
    pools = [
        pooled_value(cols.num("value"), fx_columns(cols, s.ctx)[0], elig["eligible"])
        for _, s, cols, elig in (read[i] for i in shared)
    ]
    sums: dict[int, dict[str, np.ndarray]] = dict(
        zip(shared, bucket_sums_many(pools, {d: c for d, (c, _) in base_codes.items()}), strict=True)
    )
    todo: list[tuple[int, ChunkArrays, LiquidationPaths]] = []
    for i, (k, s, cols, elig) in enumerate(read):
        liq_value = (
            None if s.liquidation_frame is None else num(s.liquidation_frame.reindex(s.frame.index), "value")
        )
        arrays = chunk_arrays(
            cols, s.ctx, liquidation_value=liq_value, rows=False, elig=elig, bucket_sums=sums.get(i)
        )
        # the path-level setup is a function of the context only: the base case's serves an unchanged one
        todo.append((k, arrays, shock_setup(s.ctx, ctx, base_setup)))
    return loan_only, todo


def _shock_axis(
    applied: list[_Shocked], frame: pd.DataFrame, ctx: CollateralContext, base_core: CoreResult
) -> list[dict[str, Any]]:
    """The engine for every shock at once: per-patent part per shock, one set of Monte Carlo draws for all.

    A shock that moves only the risk sharing reuses the base case's per-patent part and per-path sums (only
    the split of the loss changes); the others share the base case's draws when it kept them (small books),
    else one new set for all shocks. Each shock reads its frame's columns reusing the base case's text-derived
    arrays where its columns are unchanged (:class:`~ipvalue.collateral._columns.EngineColumns`), works on
    arrays and gives its numbers only (:func:`~ipvalue.collateral.kernel.shock_numbers`): the same numbers, to
    the last bit, as :func:`assess_frame` on the shock's frame and context.
    """
    base_parts, base_setup, base_arrays = base_core.parts, base_core.setup, base_core.arrays
    if base_parts is None or base_setup is None or base_arrays is None or len(base_parts) != 1:
        raise ValueError("the shock axis needs the base case's single-pass result")
    loan_only, todo = _shock_runs(applied, frame, ctx, base_arrays, base_setup)
    runs = [(a.pool, setup) for _, a, setup in todo]
    draws = base_core.draws
    if draws is not None and runs:
        held = set(draws.ids.tolist())
        if not all(set(pool.ids.tolist()) <= held for pool, _ in runs) or any(
            (setup.j0, setup.j1) != (draws.judicial.start, draws.judicial.stop) for _, setup in runs
        ):
            draws = None
    partials = liquidation_partial_sums_many(runs, draws=draws)
    return _shock_results(
        applied, base_arrays, base_parts[0].mc_partial, loan_only, todo, partials, base_mc=base_core.mc
    )


def _shock_results(
    applied: list[_Shocked],
    base_arrays: ChunkArrays,
    base_partial: dict[str, np.ndarray],
    loan_only: list[tuple[int, LiquidationPaths]],
    todo: list[tuple[int, ChunkArrays, LiquidationPaths]],
    partials: list[dict[str, np.ndarray]],
    *,
    base_mc: MonteCarloResult | None = None,
) -> list[dict[str, Any]]:
    """Every shock's numbers, in the order of ``applied``, from the Monte Carlo's per-path sums.

    A loan-only shock takes the base case's liquidation (``base_mc``, when given) with its own risk sharing.
    """
    results: dict[int, dict[str, Any]] = {}
    for k, setup in loan_only:
        mc = None if base_mc is None else with_risk_sharing(base_mc, setup.loan.risk_sharing)
        results[k] = shock_numbers(base_arrays, base_partial, applied[k].ctx, setup=setup, mc=mc)
    for (k, arrays, setup), partial in zip(todo, partials, strict=True):
        results[k] = shock_numbers(arrays, partial, applied[k].ctx, setup=setup)
    return [results[k] for k in range(len(applied))]


def _one_draw_pass(runs: list[tuple[LiquidationPool, LiquidationPaths]]) -> bool:
    """Whether the runs can share one set of draws made for their union, each run's sums as on its own.

    The runs need the seed, paths, judicial sale success, number of rounds and judicial paths of the first,
    and a patent in several pools the same disposal package in each (its package's draws are then the same).
    """

    def shared(ps: LiquidationPaths) -> tuple[Any, ...]:
        return ps.paths, ps.seed, ps.sale_success, len(ps.reserves), ps.j0, ps.j1

    if any(shared(ps) != shared(runs[0][1]) for _, ps in runs):
        return False
    ids = np.concatenate([p.ids for p, _ in runs]).tolist()
    pkgs = np.concatenate([p.ids if p.package is None else p.package for p, _ in runs]).tolist()
    # as many distinct (patent, package) pairs as patents: each patent in one package (sets of Python text:
    # numpy's sort of the joined pairs took 50-200 ms on a book of 20,000)
    return len(set(ids)) == len(set(zip(map(str, ids), map(str, pkgs), strict=True)))


def _same_key(a: Any, b: Any) -> bool:
    """Whether two keys of :attr:`StressShock.base_key` are equal (in doubt: no)."""
    try:
        return type(a) is type(b) and bool(a == b)
    except (TypeError, ValueError):  # e.g. arrays: the shock is applied again
        return False


def _same_frame(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    """Whether two frames hold the same columns, index and values to the last bit (a strict test: any doubt, no).

    Column by column on arrays (:func:`~ipvalue.facts.columns.same_values`), read block by block.
    """
    if a is b:
        return True
    if list(a.columns) != list(b.columns) or not a.index.equals(b.index):
        return False
    return all(same_values(x, y) for x, y in zip(column_arrays(a), column_arrays(b), strict=True))


def assess_with_stress(
    frame: pd.DataFrame,
    ctx: CollateralContext,
    *,
    valuation: Mapping[str, Any] | None = None,
    shocks: tuple[StressShock, ...] = STRESS_SHOCKS,
) -> tuple[CoreResult, pd.DataFrame]:
    """The base case and every stress shock with one pass of Monte Carlo draws: the base case is run 0 of the axis.

    The same results, to the last bit, as :func:`~ipvalue.collateral.kernel.assess_frame` followed by
    :func:`run_stress` (which draw the book's random numbers twice when the base case does not keep its draws,
    above :data:`~ipvalue.collateral.kernel.DRAW_CACHE_ELEMENTS` pledged patent-paths); here the book is drawn
    once, for the base case and the shocks together, and a step with the same bits in the base case and a value
    shock is computed once (:func:`~ipvalue.collateral.liquidation.liquidation_partial_sums_many`).

    A shock applied directly may read the base case's finished patent rows (the largest family's invalidation:
    their collateral value, after the liquidity haircut the Monte Carlo sets). The shocks are applied with the
    rows before the liquidity haircut; once the base case is finished each direct shock is applied again with
    its rows, and a shock whose frame or note moved is run again on its own (a second draw of its patents).

    Parameters
    ----------
    frame : pandas.DataFrame
        The checked valued frame, in ``patent_id`` order.
    ctx : CollateralContext
    valuation : mapping, optional
        As in :func:`run_stress`.
    shocks : tuple of StressShock

    Returns
    -------
    (CoreResult, pandas.DataFrame)
        The base case (as :func:`~ipvalue.collateral.kernel.assess_frame` gives it, without kept draws) and the
        stress table (:data:`STRESS_COLUMNS`).
    """
    setup = liquidation_setup(ctx)
    prepared = prepare_chunk(frame, ctx, checked=True)
    base_arrays = prepared.arrays
    if base_arrays is None:
        raise ValueError("the one-pass stress run needs the base case's arrays")
    info = dict((frame.attrs or {}).get("ipvalue", {}) if valuation is None else valuation)
    early = {"policy": ctx.policy, "base_patents": prepared.patents}
    applied = [_apply(shock, frame, ctx, early, info=info, backend=None) for shock in shocks]
    loan_only, todo = _shock_runs(applied, frame, ctx, base_arrays, setup)
    runs = [(prepared.pool, setup)] + [(a.pool, st) for _, a, st in todo]
    if _one_draw_pass(runs):
        base_partial, *partials = liquidation_partial_sums_many(runs)
    else:
        (base_partial,) = liquidation_partial_sums_many(runs[:1])
        partials = liquidation_partial_sums_many(runs[1:])
    core = finish_base(prepared, base_partial, ctx, setup=setup)
    # the direct shocks that read the base case's rows, with the finished rows: the ones that moved are run
    # again, on their own (a shock that did not read them gives the same frame and note again)
    late = {**early, "base_patents": core.patents}  # what the shocks kept of the frame carries over
    moved = []
    for k, s in enumerate(applied):
        if s.revalued or not s.shock.reads_base_rows:
            continue
        if s.shock.base_key is not None and _same_key(
            s.shock.base_key(frame, late), s.shock.base_key(frame, early)
        ):
            continue  # it reads the same of both rows: its frame and note are the ones applied
        shocked, note, note_zh = _direct(s.shock, frame, late, s.why)
        if (note, note_zh) != (s.note, s.note_zh) or not _same_frame(shocked, s.frame):
            applied[k] = replace(s, frame=shocked, note=note, note_zh=note_zh)
            moved.append(k)
    if moved:
        again_lo, again = _shock_runs([applied[k] for k in moved], frame, ctx, base_arrays, setup)
        keep = [i for i, (k, _, _) in enumerate(todo) if k not in moved]
        todo, partials = [todo[i] for i in keep], [partials[i] for i in keep]
        loan_only = [(k, st) for k, st in loan_only if k not in moved]
        loan_only += [(moved[i], st) for i, st in again_lo]
        again = [(moved[i], a, st) for i, a, st in again]
        todo += again
        partials += liquidation_partial_sums_many([(a.pool, st) for _, a, st in again])
    numbers = _shock_results(applied, base_arrays, base_partial, loan_only, todo, partials, base_mc=core.mc)
    return core, _stress_rows(applied, numbers, core.numbers)


def run_stress(
    frame: pd.DataFrame,
    ctx: CollateralContext,
    *,
    base: Mapping[str, Any],
    base_patents: pd.DataFrame,
    shocks: tuple[StressShock, ...] = STRESS_SHOCKS,
    core: Callable[..., CoreResult] | None = None,
    backend: Any = None,
    valuation: Mapping[str, Any] | None = None,
    base_core: CoreResult | None = None,
) -> pd.DataFrame:
    """Run each shock through valuation (when possible) and the collateral engine.

    Parameters
    ----------
    frame : pandas.DataFrame
        The checked valued frame.
    ctx : CollateralContext
        The base run's context; each shock runs with the same seed, so changes are not Monte Carlo noise.
    base : mapping
        The base case's numbers (``collateral_value``, ``expected_lgd``).
    base_patents : pandas.DataFrame
        The base case's patent table (to find the family with the most collateral value).
    core : callable, optional
        The collateral engine run per shock, one shock after the other,
        ``core(frame, ctx, liquidation_frame=None) -> CoreResult`` (``assess_collateral`` passes its chunked
        engine when a backend is given; :func:`ipvalue.collateral.kernel.assess_frame` is the sequential
        reference). None: every shock at once on a shock axis (one set of Monte Carlo draws, the loan-only shock
        from the base case's sums), the same numbers to the last bit.
    backend : Backend, optional
        Passed to :func:`ipvalue.value_portfolio` for the revaluations (``backend=``); None: one pass.
    valuation : mapping, optional
        The valuation's record (``attrs["ipvalue"]`` of :func:`ipvalue.value_portfolio`'s result: assumptions,
        seed); None: read from ``frame.attrs``. Without it the valuation shocks are applied directly.
    base_core : CoreResult, optional
        The base case's engine result (:func:`ipvalue.collateral.kernel.assess_frame`), whose per-patent part,
        sums and draws the shock axis reuses; None: computed here.

    Returns
    -------
    pandas.DataFrame
        One row per shock with the columns :data:`STRESS_COLUMNS`.
    """
    info = dict((frame.attrs or {}).get("ipvalue", {}) if valuation is None else valuation)
    shock_ctx = {"policy": ctx.policy, "base_patents": base_patents}
    applied = [_apply(shock, frame, ctx, shock_ctx, info=info, backend=backend) for shock in shocks]
    if core is None:
        if base_core is None or base_core.parts is None:
            base_core = assess_frame(frame, ctx)
        numbers = _shock_axis(applied, frame, ctx, base_core)
    else:
        numbers = [core(s.frame, s.ctx, liquidation_frame=s.liquidation_frame).numbers for s in applied]
    return _stress_rows(applied, numbers, base)


def _stress_rows(
    applied: list[_Shocked], numbers: list[dict[str, Any]], base: Mapping[str, Any]
) -> pd.DataFrame:
    """The stress table: one row per shock, its numbers and their change from the base case's."""
    rows = []
    for s, c in zip(applied, numbers, strict=True):
        change = c["collateral_value"] - float(base["collateral_value"])
        rows.append(
            {
                "shock": s.shock.name,
                "description": f"{s.shock.description}; {s.note}",
                "description_zh": f"{s.shock.description_zh or s.shock.description}；{s.note_zh}",
                "revalued": s.revalued,
                "appraised_value": c["appraised_value"],
                "collateral_value": c["collateral_value"],
                "max_loan": c["max_loan"],
                "coverage_ratio": c["coverage_ratio"],
                "expected_lgd": c["expected_lgd"],
                "lgd_99": c["lgd_99"],
                "change_collateral_value": change,
                "change_pct": change / float(base["collateral_value"])
                if base["collateral_value"] > 0
                else float("nan"),
                "change_expected_lgd": c["expected_lgd"] - float(base["expected_lgd"]),
            }
        )
    return pd.DataFrame(rows, columns=list(STRESS_COLUMNS))
