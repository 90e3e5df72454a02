"""What the bank recovers from the pledged patents after a default: deterministic scenarios and a Monte Carlo.

Monte Carlo, per path (reference note 5.3):

1. default time within the tenor (constant hazard implied by the loan's PD, uniform when no PD is given);
2. disposal mode: orderly sale, judicial auction or distressed sale (policy ``mode_probabilities``);
3. market regime: a crashed IP market with probability ``crash_probability``;
4. time to sale, lognormal around the mode's median;
5. each patent's value at the sale: ``V0 * exp((mu - sigma^2/2) t + sigma sqrt(t) (sqrt(rho) Zm + sqrt(1-rho) Z))``
   with ``mu = -obsolescence``, times the remaining-life run-off and zero after an invalidation
   (exponential time with a hazard scaled by legal quality and litigation);
6. the lots of one package (product line, family or CPC subclass, policy ``package_by``) are sold together:
   one best bid ``W = bid_median[mode] * (1 - crash drop) * exp(s * Zb)`` (a share of the current value) per
   package and path. Orderly and distressed packages go unsold when the bid is among the lowest ``p_no_sale``
   of bids, else sell at ``W * V``. Judicial packages go through the auction rounds (法释〔2016〕18号 Arts. 10,
   26: two online; 法释〔2004〕16号 Art. 25: three offline), each reserve at most 20% below the previous one,
   and sell at the reserve of the first round ``W`` reaches; below the last reserve a buyer appears in the
   60-day 变卖 with probability ``judicial_sale_success`` (drawn per package), else nothing is sold;
7. variable costs, the appraisal fee and legal costs; proceeds discounted to the default date;
8. recovery capped at the exposure; the loss split with the risk sharers; the bank keeps the rest.

Patent-level draws (value shock, invalidation time) come from each patent's own stream
(``ipvalue._random.patent_rng(seed, patent_id, "liquidation")``); package-level draws (bid, 变卖 buyer) from the
package's stream (``patent_rng(seed, package, "liquidation-package")``); path-level draws (default time, mode,
regime, time to sale, market factor) from ``root_rng(seed, "liquidation")``. Patents are processed in
``patent_id`` order, so results do not depend on row order.
"""

from __future__ import annotations

import functools
import importlib
import os
import sys
import threading
import time
import warnings
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.special import ndtr, ndtri

from ipvalue._random import patent_rng, root_rng, stable_key
from ipvalue.collateral._assessment import Loan, RiskSharing
from ipvalue.collateral.haircut import life_factor
from ipvalue.collateral.policy import MODES, Policy
from ipvalue.collateral.sizing import risk_sharing_split, risk_sharing_terms
from ipvalue.valuation.montecarlo import percentiles

__all__ = [
    "LiquidationPool",
    "set_parallel_threads",
    "set_engine",
    "engine",
    "load_compiled_engine",
    "MonteCarloResult",
    "JUDICIAL_ROUNDS",
    "judicial_auction_prices",
    "judicial_reserves",
    "judicial_round_probabilities",
    "judicial_delays",
    "default_time_quantile",
    "deterministic_scenarios",
    "deterministic_rows",
    "simulate_liquidation",
    "LiquidationPaths",
    "liquidation_paths",
    "path_drift",
    "with_obsolescence_shift",
    "compiled_range_kernels",
    "liquidation_partial_sums",
    "liquidation_partial_sums_many",
    "PatentDraws",
    "finish_liquidation",
    "compiled_kernels",
    "with_risk_sharing",
    "scenario_values",
    "PARTIAL_SUMS",
    "BLOCK_ELEMENTS",
    "LIQUIDATION_COLUMNS",
]

LIQUIDATION_COLUMNS: tuple[str, ...] = (
    "scenario",
    "basis",
    "probability",
    "gross_proceeds",
    "costs",
    "recovery",
    "recovery_rate",
    "lgd_gross",
    "lgd",
    "time_to_cash_years",
)
_DAYS_PER_YEAR = 365.0  # the judicial time limits are calendar days


#: the judicial auction rounds, in order (the third only under the offline rules, 法释〔2004〕16号 Art. 25)
JUDICIAL_ROUNDS: tuple[str, ...] = ("first_auction", "second_auction", "third_auction")


def judicial_auction_prices(
    appraisal: ArrayLike, first_reserve: float = 0.70, second_round_cut: float = 0.20, rounds: int = 2
) -> dict:
    """Reserve prices of a judicial auction sequence, round by round, and of the 变卖 that follows it.

    The first reserve is at least 70% of the appraisal (online auctions, 法释〔2016〕18号 Art. 10); each further
    auction may cut the previous reserve by at most 20% (Art. 26; 法释〔2004〕16号 Art. 5); the 变卖 after the
    last failed auction sells at the last auction's price (法释〔2004〕16号 Art. 25: the third auction's reserve).
    Online there are two auctions before the 变卖 (法释〔2016〕18号 Art. 26); offline, for other property rights
    such as a patent, three (法释〔2004〕16号 Art. 25).

    Parameters
    ----------
    appraisal : float or array
        The court's appraised value.
    first_reserve : float
        First reserve as a share of the appraisal (>= 0.70).
    second_round_cut : float
        Reduction of each later reserve below the previous one (<= 0.20).
    rounds : int
        Auction rounds before the 变卖: 2 (online) or 3 (offline, other property rights); 1 is allowed.

    Returns
    -------
    dict
        ``first_auction``, ``second_auction`` (and ``third_auction`` with three rounds), ``sale_period`` (变卖).
    """
    if not 0.70 <= first_reserve <= 1.0:
        raise ValueError(
            f"first_reserve must lie in [0.70, 1] (法释〔2016〕18号 Art. 10), got {first_reserve!r}"
        )
    if not 0.0 <= second_round_cut <= 0.20:
        raise ValueError(
            f"second_round_cut must lie in [0, 0.20] (法释〔2016〕18号 Art. 26), got {second_round_cut!r}"
        )
    if rounds not in (1, 2, 3):
        raise ValueError(f"rounds must be 1, 2 or 3 (法释〔2004〕16号 Art. 25), got {rounds!r}")
    a = np.asarray(appraisal, dtype=float)
    out = {JUDICIAL_ROUNDS[k]: a * first_reserve * (1.0 - second_round_cut) ** k for k in range(int(rounds))}
    out["sale_period"] = np.array(out[JUDICIAL_ROUNDS[int(rounds) - 1]], copy=True)
    return out


def judicial_reserves(policy: Policy) -> np.ndarray:
    """The reserves of the policy's auction rounds as shares of the appraisal, e.g. ``[0.70, 0.56]``."""
    k = int(policy["judicial_auction_rounds"])
    prices = judicial_auction_prices(
        1.0, float(policy["judicial_first_reserve"]), float(policy["judicial_second_round_cut"]), k
    )
    return np.array([float(prices[r]) for r in JUDICIAL_ROUNDS[:k]])


def judicial_delays(policy: Policy) -> tuple[float, ...]:
    """Years from the start of the judicial sale to each auction round and to the end of the 变卖.

    The first auction of a property right (a patent is one, 其他财产权) follows ``judicial_notice_days`` of
    public notice (30 days, 法释〔2016〕18号 Art. 12); each failed auction is re-run within
    ``judicial_second_round_days`` (30 days, Art. 26) with ``judicial_renotice_days`` of notice (15 days, Art. 26)
    inside that window; the 变卖 lasts ``judicial_sale_period_days`` after the last auction.

    Returns
    -------
    tuple of float
        One date per round (``judicial_auction_rounds`` of them), then the 变卖's end.
    """
    d = float(policy["judicial_notice_days"]) / _DAYS_PER_YEAR
    step = max(float(policy["judicial_second_round_days"]), float(policy["judicial_renotice_days"]))
    out = [d + k * step / _DAYS_PER_YEAR for k in range(int(policy["judicial_auction_rounds"]))]
    out.append(out[-1] + float(policy["judicial_sale_period_days"]) / _DAYS_PER_YEAR)
    return tuple(out)


def judicial_round_probabilities(policy: Policy, *, crash_drop: float = 0.0) -> dict[str, float]:
    """Per-package probabilities of selling in each judicial round, in the 变卖, or not at all.

    The package's best bid ``W`` (a share of its value) is lognormal with median ``bid_median["judicial"]``
    (times ``1 - crash_drop``) and log-sd ``bid_dispersion``; it sells in the first round whose reserve ``r_k``
    it reaches, at that reserve, so ``P(round k) = P(r_k <= W < r_{k-1})``; below the last reserve a buyer
    appears in the 变卖 with probability ``judicial_sale_success``; ``unsold`` is the chance of failing every
    round and the 变卖. Keys: the rounds of :data:`JUDICIAL_ROUNDS` in use, ``sale_period``, ``unsold``.
    """
    m = float(policy["bid_median"]["judicial"]) * (1.0 - crash_drop)
    s = float(policy["bid_dispersion"])
    reserves = judicial_reserves(policy)
    names = JUDICIAL_ROUNDS[: len(reserves)]
    if m <= 0:
        return {**{n: 0.0 for n in names}, "sale_period": 0.0, "unsold": 1.0}
    if s > 0:
        below = [float(ndtr(np.log(r / m) / s)) for r in reserves]
    else:
        below = [float(m < r) for r in reserves]
    out, prev = {}, 1.0
    for name, b in zip(names, below, strict=True):
        out[name] = prev - b
        prev = b
    succ = float(policy["judicial_sale_success"])
    out["sale_period"] = prev * succ
    out["unsold"] = prev * (1.0 - succ)
    return out


def default_time_quantile(
    u: ArrayLike, tenor_years: float, probability_of_default: float | None
) -> np.ndarray:
    """Default time given default within the tenor, at uniform quantile ``u``.

    A constant hazard ``lambda = -ln(1 - PD) / tenor`` conditioned on default before the tenor:
    ``tau = -ln(1 - u (1 - exp(-lambda T))) / lambda``; uniform over the tenor when PD is unknown or 0 (the
    limit PD -> 0); 0 when PD is 1, a borrower already in default (the limit PD -> 1: the LGD is continuous).
    """
    u = np.asarray(u, dtype=float)
    pd_ = probability_of_default
    if tenor_years <= 0:
        return np.zeros_like(u)
    if pd_ is not None and pd_ >= 1.0:
        return np.zeros_like(u)  # already in default: the workout starts now (the limit of PD -> 1)
    if pd_ is None or pd_ <= 0.0:
        return u * tenor_years
    lam = -np.log1p(-pd_) / tenor_years
    return -np.log1p(-u * (1.0 - np.exp(-lam * tenor_years))) / lam


@dataclass(frozen=True)
class LiquidationPool:
    """The pledged patents as the liquidation model sees them (arrays in ``patent_id`` order).

    Attributes
    ----------
    ids : array of str
    value : array
        Appraised value in the loan currency.
    volatility, remaining_life, hazard, crash_drop : array
        Annual volatility, remaining life (years), invalidation hazard (per year), price drop in a crash.
    """

    ids: np.ndarray
    value: np.ndarray
    volatility: np.ndarray
    remaining_life: np.ndarray
    hazard: np.ndarray
    crash_drop: np.ndarray
    package: np.ndarray | None = None

    @classmethod
    def build(
        cls,
        ids: ArrayLike,
        value: ArrayLike,
        volatility: ArrayLike,
        remaining_life: ArrayLike,
        quality_legal: ArrayLike,
        quality_score: ArrayLike,
        in_litigation: ArrayLike,
        policy: Policy,
        package: ArrayLike | None = None,
    ) -> LiquidationPool:
        """Assemble the pool from per-patent columns, applying the policy's hazard and crash rules.

        The invalidation hazard is ``invalidation_hazard * (1.5 - quality_legal / 100)`` (x1.5 without a score),
        times ``litigation_hazard_multiplier`` when in litigation; the crash drop is
        ``min(1, 2 * crash_price_drop * (1 - quality / 100))`` (``quality_score``, else ``quality_legal``, else 50).
        """
        ids = np.asarray(ids, dtype=str)
        order = np.argsort(ids, kind="stable")
        ql = np.asarray(quality_legal, dtype=float)
        qs = np.asarray(quality_score, dtype=float)
        q = np.where(np.isnan(qs), np.where(np.isnan(ql), 50.0, ql), qs)
        hazard = float(policy["invalidation_hazard"]) * np.where(np.isnan(ql), 1.5, 1.5 - ql / 100.0)
        hazard = hazard * np.where(
            np.asarray(in_litigation, dtype=bool), float(policy["litigation_hazard_multiplier"]), 1.0
        )
        drop = np.minimum(1.0, 2.0 * float(policy["crash_price_drop"]) * (1.0 - q / 100.0))
        sig = np.asarray(volatility, dtype=float)
        sig = np.where(np.isfinite(sig), sig, float(policy["default_volatility"]))
        return cls(
            ids=ids[order],
            value=np.asarray(value, dtype=float)[order],
            volatility=sig[order],
            remaining_life=np.nan_to_num(np.asarray(remaining_life, dtype=float))[order],
            hazard=hazard[order],
            crash_drop=drop[order],
            package=ids[order] if package is None else np.asarray(package, dtype=str)[order],
        )


@dataclass
class MonteCarloResult:
    """Per-path results of :func:`simulate_liquidation` (all arrays of length ``paths``).

    Attributes
    ----------
    gross_proceeds, costs : array
        Sale prices before costs, and all costs (undiscounted).
    recovery : array
        Discounted net proceeds at the default date, floored at 0 and capped at the exposure.
    lgd_gross, lgd : array
        Loss given default before and after the risk-sharing split (bank-retained).
    time_to_cash : array
        Proceeds-weighted years from default to cash (NaN when nothing is recovered).
    loan_recovered : array
        Per path, the largest loan that would be recovered in full (see :meth:`full_recovery_loan`).
    default_time, mode, crash : array
        Years from ``as_of`` to default; disposal mode index into :data:`MODES`; crashed market flag.
    ead, seed, paths : float, int, int

    Notes
    -----
    Paths are stored grouped by disposal mode (orderly, judicial, distressed), the order the engine processes
    them in; the distribution does not depend on it.
    """

    gross_proceeds: np.ndarray
    costs: np.ndarray
    recovery: np.ndarray
    lgd_gross: np.ndarray
    lgd: np.ndarray
    time_to_cash: np.ndarray
    default_time: np.ndarray
    mode: np.ndarray
    crash: np.ndarray
    ead: float
    seed: int
    paths: int
    loan_recovered: np.ndarray | None = None

    def full_recovery_loan(self, confidence: float) -> float:
        """The largest loan fully recovered on at least ``confidence`` of the paths.

        On a path, a loan ``L`` is recovered in full when the discounted net proceeds cover it and its legal
        costs: ``pv_net - fees >= L (1 + legal_cost)`` (legal costs are a share of the exposure), that is
        ``L <= loan_recovered``. The answer is the order statistic of ``loan_recovered`` that leaves at least
        ``ceil(confidence * paths)`` paths at or above it, so lending it meets ``confidence`` on these paths
        exactly (the Monte Carlo error is that of a proportion, ``sqrt(c (1 - c) / paths)``).
        """
        if self.loan_recovered is None:
            raise ValueError("this result does not carry loan_recovered")
        x = np.sort(self.loan_recovered)
        k = int(np.floor((1.0 - float(confidence)) * len(x) + 1e-9))
        return float(x[min(k, len(x) - 1)])

    def summary(self) -> dict[str, float]:
        """Expected, 95% and 99% LGD (bank-retained), their standard error, P(full recovery), time to cash."""
        lgd = self.lgd
        # np.quantile(lgd, [0.95, 0.99]) read from the sorted paths (the same operations: a sort of 20,000 paths
        # costs a third of numpy's partitions)
        q95, q99 = percentiles(lgd.reshape(1, -1), (95.0, 99.0))[:, 0]
        mean, stderr, gross, full, ttc = self._means()
        return {
            "expected_lgd": mean,
            "expected_lgd_stderr": stderr,
            "lgd_95": float(q95),
            "lgd_99": float(q99),
            "expected_lgd_gross": gross,
            "prob_full_recovery": full,
            "expected_time_to_cash_years": ttc,
        }

    def _means(self) -> tuple[float, float, float, float, float]:
        """The summary's means: LGD, its standard error, gross LGD, the share of full recoveries, time to cash.

        On the compiled engine from one compiled pass (``_mc_fused.summary_sums``: numpy's pairwise sums, the
        squared deviations as ``ndarray.std`` takes them), else numpy's calls: the same numbers.
        """
        lgd, n = self.lgd, len(self.lgd)
        kernels = compiled_kernels() if n > 1 else None
        if kernels is not None and all(
            a.dtype == np.float64 for a in (lgd, self.lgd_gross, self.time_to_cash)
        ):
            f = np.ascontiguousarray
            total, squares, gross, full, ttc_sum, ttc_n = kernels.summary_sums(
                f(lgd), f(self.lgd_gross), f(self.time_to_cash), np.empty(max(n, len(self.time_to_cash)))
            )
            return (
                float(np.float64(total) / n),
                float(np.sqrt(np.float64(squares) / (n - 1)) / np.sqrt(n)),
                float(np.float64(gross) / len(self.lgd_gross)),
                float(np.float64(full) / n),
                float(np.float64(ttc_sum) / ttc_n) if ttc_n else float("nan"),
            )
        ttc = self.time_to_cash[np.isfinite(self.time_to_cash)]
        return (
            float(lgd.mean()),
            float(lgd.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan"),
            float(self.lgd_gross.mean()),
            float(np.mean(lgd <= 1e-12)),
            float(ttc.mean()) if len(ttc) else float("nan"),
        )

    def recovery_draws(self) -> np.ndarray:
        """Recovery rate per path on the bank-retained basis (``1 - lgd``)."""
        return 1.0 - self.lgd


def _discount_rate(loan: Loan, policy: Policy) -> float:
    r = policy["recovery_discount_rate"]
    return float(loan.interest_rate if r is None else r)


@dataclass(frozen=True)
class LiquidationPaths:
    """The path-level part of the Monte Carlo (:func:`liquidation_paths`): the same for every chunk of the pool.

    Drawn from ``root_rng(seed, "liquidation")`` only (default time, disposal mode, crash regime, time to sale,
    market factor), so it does not depend on the patents; paths are grouped by disposal mode. ``reserves`` are
    the judicial rounds' reserves (shares of the appraisal), ``theta[k]`` the log bid normal each path's package
    must reach in round ``k``, ``delays`` the rounds' dates and the 变卖's end (:func:`judicial_delays`) and
    ``df_rounds`` their discount factors per path.
    """

    paths: int
    seed: int
    ead: float
    loan: Loan
    mode: np.ndarray
    tau: np.ndarray
    crash: np.ndarray
    t: np.ndarray
    t_sell: np.ndarray
    sqrt_t: np.ndarray
    common: np.ndarray
    mu: float
    rho: float
    life_rate: float
    bid_med: np.ndarray
    s_bid: float
    ns_threshold: np.ndarray
    judicial: np.ndarray
    j0: int
    j1: int
    reserves: np.ndarray
    theta: np.ndarray
    sale_success: float
    delays: tuple[float, ...]
    var_cost: np.ndarray
    legal: np.ndarray
    fee: float
    df0: np.ndarray
    df_rounds: np.ndarray
    keep: np.ndarray
    #: the draw index of each path in this order (``liquidation_paths`` groups the paths by mode and regime)
    order: np.ndarray | None = None


#: threads the liquidation Monte Carlo uses for a large job (numpy draws and computes without the GIL)
PARALLEL_THREADS = max(1, min(4, os.cpu_count() or 1))
#: patents x paths (x runs) from which a job is large enough to run on several threads
PARALLEL_MIN_ELEMENTS = 4_000_000


def set_parallel_threads(n: int) -> None:
    """Set how many threads a large Monte Carlo job may use in this process (default: the cores, at most 4).

    A process that is one of several workers sharing the cores (the service's compute workers, one per core) sets
    1: its threads would only compete for cores its sibling processes already keep busy, and handing work between
    threads costs CPU (about 6% of a 50-patent assessment with stress, ``benchmarks/RESULTS.md``). The numbers do
    not depend on it: the paths' sums are added in the same order on any number of threads.

    Parameters
    ----------
    n : int
        At least 1.
    """
    global PARALLEL_THREADS
    if int(n) != n or n < 1:
        raise ValueError(f"threads must be a whole number of at least 1, got {n!r}")
    PARALLEL_THREADS = int(n)


#: patents x paths per block of draws (about 25 bytes each: 50 MB): the memory bound of the Monte Carlo's draws.
#: On the 20k book with stress (20,000 paths, compiled engine), 2 million took 5.5-5.8 s against 5.8-6.3 s for
#: 1 million, interleaved in one process (fewer hand-offs between the threads, fewer part-filled tiles); 3 million
#: was no faster (``benchmarks/RESULTS.md``). The numbers do not depend on it.
BLOCK_ELEMENTS = 2_000_000

#: memory for packages kept from one block of draws to a later one (:class:`PatentDraws`)
PACKAGE_KEEP_BYTES = 256 * 2**20

#: names of the per-path partial sums :func:`liquidation_partial_sums` returns
PARTIAL_SUMS: tuple[str, ...] = ("sum_v", "s0", "s1", "s2", "s3", "s_sale")


@functools.lru_cache(maxsize=8)
def _root_draws(seed: int, paths: int) -> tuple[np.ndarray, ...]:
    g = root_rng(seed, "liquidation")
    out = (
        g.random(paths),
        g.random(paths),
        g.random(paths),
        g.standard_normal(paths),
        g.standard_normal(paths),
    )
    for a in out:
        a.setflags(write=False)  # shared by every run with this seed and number of paths
    return out


def _path_draws(seed: int, paths: int) -> tuple[np.ndarray, ...]:
    """The path-level draws of ``root_rng(seed, "liquidation")``, in the order drawn.

    The default time, mode and regime uniforms, then the time-to-sale and market normals; kept (read-only) for
    the other runs of an assessment (up to 100,000 paths).
    """
    if paths > 100_000:
        return _root_draws.__wrapped__(seed, paths)
    return _root_draws(seed, paths)


def path_drift(policy: Policy, obsolescence_shift: float = 0.0) -> float:
    """The value's drift ``mu`` of :class:`LiquidationPaths`: minus the obsolescence rate and its stress shift."""
    return -(float(policy["obsolescence_rate"]) + obsolescence_shift)


def with_obsolescence_shift(
    setup: LiquidationPaths, policy: Policy, obsolescence_shift: float
) -> LiquidationPaths:
    """``setup`` under another obsolescence shift: the same draws and arrays, only the drift ``mu`` moved.

    The drift is the only part of :func:`liquidation_paths` that reads the shift, so this is what it would give
    for the same loan, policy, seed and paths, to the last bit, without drawing and grouping the paths again.
    """
    return replace(setup, mu=path_drift(policy, obsolescence_shift))


def liquidation_paths(
    *,
    loan: Loan,
    policy: Policy,
    seed: int,
    paths: int = 20_000,
    start_offset_years: float = 0.0,
    obsolescence_shift: float = 0.0,
    crash_probability: float | None = None,
) -> LiquidationPaths:
    """Step (a) of :func:`simulate_liquidation`: the path-level draws and the per-path constants.

    Parameters are those of :func:`simulate_liquidation`. Computed once per run and handed to every chunk.
    """
    if paths < 2:
        raise ValueError(f"paths must be at least 2, got {paths!r}")
    pol = policy
    ead = float(loan.amount)
    tenor = float(loan.tenor_years)
    rate = _discount_rate(loan, pol)
    v_rate = np.log1p(rate)
    p_crash = float(pol["crash_probability"] if crash_probability is None else crash_probability)

    u_default, u_mode, u_crash, z_time, z_market = _path_draws(int(seed), int(paths))

    cum = np.cumsum([float(pol["mode_probabilities"][m]) for m in MODES])
    # np.searchsorted(cum, u_mode, side="right"): how many of the cumulative probabilities are <= u, counted
    # with one comparison per mode (a binary search per path costs several times more)
    mode = np.zeros(len(u_mode), dtype=np.intp)
    for c in cum.tolist():
        mode += u_mode >= c
    mode = np.minimum(mode, len(MODES) - 1)
    # group the paths by disposal mode, and within a mode the crashed markets last, so that each is a
    # contiguous slice of columns (paths are exchangeable: the per-patent draws of column j meet the path-level
    # draws of the j-th path in this order)
    key = mode * 2 + (u_crash < p_crash)  # lexsort((crashed, mode)) as a counting sort: six keys, stable
    order = np.concatenate([np.flatnonzero(key == k) for k in range(2 * len(MODES))])
    mode, u_default, u_crash, z_time, z_market = (
        a[order] for a in (mode, u_default, u_crash, z_time, z_market)
    )
    j0 = int(np.count_nonzero(mode == 0))
    j1 = j0 + int(np.count_nonzero(mode == 1))
    start = max(start_offset_years, 0.0)
    span = max(start_offset_years + tenor - start, 0.0)
    tau = start + default_time_quantile(u_default, span, loan.probability_of_default)
    crash = u_crash < p_crash
    med = np.array([float(pol["time_to_sale_median_years"][m]) for m in MODES])
    t_sell = med[mode] * np.exp(float(pol["time_to_sale_dispersion"]) * z_time)
    t = tau + t_sell
    sqrt_t = np.sqrt(t)
    rho = float(pol["market_correlation"])
    common = np.sqrt(rho) * z_market * sqrt_t  # x sigma_i later
    mu = path_drift(pol, obsolescence_shift)
    life_rate = float(pol["life_discount_rate"])

    bid_med = np.array([float(pol["bid_median"][m]) for m in MODES])[mode]
    s_bid = float(pol["bid_dispersion"])
    ns_threshold = _no_sale_quantiles(pol)[mode, crash.astype(np.intp)]
    judicial = mode == MODES.index("judicial")
    reserves = judicial_reserves(pol)
    delays = judicial_delays(pol)
    var_cost = np.array([float(pol["variable_cost"][m]) for m in MODES])[mode]
    legal = np.array([float(pol["legal_cost"][m]) for m in MODES])[mode] * ead
    fee = float(pol["appraisal_fee"])

    # discount factors from the default date to cash, per judicial round, per path
    df0 = np.exp(-v_rate * t_sell)
    df_rounds = np.exp(-v_rate * np.add.outer(np.asarray(delays), t_sell))
    keep = 1.0 - var_cost
    # judicial packages compare the log best bid with the log reserves: s Zb + ln(1 - drop) >= ln r_k - ln m
    with np.errstate(divide="ignore"):
        theta = np.log(reserves)[:, None] - np.log(bid_med)[None, :]
    return LiquidationPaths(
        paths=int(paths),
        seed=int(seed),
        ead=ead,
        loan=loan,
        mode=mode,
        tau=tau,
        crash=crash,
        t=t,
        t_sell=t_sell,
        sqrt_t=sqrt_t,
        common=common,
        mu=mu,
        rho=rho,
        life_rate=life_rate,
        bid_med=bid_med,
        s_bid=s_bid,
        ns_threshold=ns_threshold,
        judicial=judicial,
        j0=j0,
        j1=j1,
        reserves=reserves,
        theta=theta,
        sale_success=float(pol["judicial_sale_success"]),
        delays=delays,
        var_cost=var_cost,
        legal=legal,
        fee=fee,
        df0=df0,
        df_rounds=df_rounds,
        keep=keep,
        order=order,
    )


def _no_sale_quantiles(pol: Policy) -> np.ndarray:
    """Per mode and regime (not crashed, crashed) the normal quantile of the no-sale probability.

    A lot is unsold when its bid normal is below it (-inf when the probability is 0): ndtri of the six values,
    taken per path by its mode and regime.
    """
    ns, ns_crash = pol["no_sale_probability"], pol["crash_no_sale_probability"]
    p_ns = np.zeros((len(MODES), 2))
    for i, m in enumerate(MODES):
        if m in ns:
            p_ns[i] = (ns[m], ns_crash[m])
    return ndtri(p_ns)


def with_crash_probability(
    setup: LiquidationPaths, policy: Policy, crash_probability: float | None
) -> LiquidationPaths | None:
    """``setup`` under another probability of a crashed market: what :func:`liquidation_paths` gives, to the bit.

    The regime is the one draw the probability reads (``u_crash < p``): the paths are grouped again by mode and
    regime, the crash flags and no-sale quantiles taken anew, and every other per-path array (a function of the
    path's own draws and mode) taken from ``setup`` at the path's place there, without computing it again. None
    when ``setup`` does not record its paths' order.
    """
    if setup.order is None:
        return None
    pol = policy
    p_crash = float(pol["crash_probability"] if crash_probability is None else crash_probability)
    u_crash = _path_draws(int(setup.seed), int(setup.paths))[2]
    n = int(setup.paths)
    place = np.empty(n, dtype=np.intp)  # the place in setup of each draw
    place[setup.order] = np.arange(n)
    by_draw = setup.mode[place]  # each draw's mode, in draw order
    key = by_draw * 2 + (u_crash < p_crash)  # as liquidation_paths groups them
    order = np.concatenate([np.flatnonzero(key == k) for k in range(2 * len(MODES))])
    at = place[order]  # each path's place in setup
    mode = setup.mode[at]
    crash = u_crash[order] < p_crash
    return replace(
        setup,
        mode=mode,
        tau=setup.tau[at],
        crash=crash,
        t=setup.t[at],
        t_sell=setup.t_sell[at],
        sqrt_t=setup.sqrt_t[at],
        common=setup.common[at],
        bid_med=setup.bid_med[at],
        ns_threshold=_no_sale_quantiles(pol)[mode, crash.astype(np.intp)],
        judicial=setup.judicial[at],
        j0=int(np.count_nonzero(mode == 0)),
        j1=int(np.count_nonzero(mode == 0)) + int(np.count_nonzero(mode == 1)),
        theta=np.take(setup.theta, at, axis=1),  # in C order, as computed (an index on axis 1 gives F)
        var_cost=setup.var_cost[at],
        legal=setup.legal[at],
        df0=setup.df0[at],
        df_rounds=np.take(setup.df_rounds, at, axis=1),
        keep=setup.keep[at],
        order=order,
    )


#: bytes of buffers a thread keeps from one Monte Carlo to its next (:class:`PatentDraws` without ``cache``, the
#: compiled engine's stacked path terms): the demo book's take about 10 MB. Fresh buffers of that size come from
#: new mappings whose pages the kernel faults in and zeroes each time (thousands of faults, several ms of a demo
#: assessment where glibc's malloc is not tuned, :func:`ipvalue.runtime.tune_allocator`); kept, their pages stay.
#: Larger buffers are not kept.
KEEP_DRAW_BUFFER_BYTES = 32 * 2**20
_KEPT_DRAW_BUFFERS = threading.local()


def _kept_draw_buffers() -> dict[tuple[str, str], np.ndarray]:
    """The kept buffers of the calling thread (bytes), by use and name; each lent to one owner at a time."""
    kept = getattr(_KEPT_DRAW_BUFFERS, "bufs", None)
    if kept is None:
        kept = _KEPT_DRAW_BUFFERS.bufs = {}
    return kept


def _borrow(
    lent: dict[tuple[str, str], np.ndarray], key: tuple[str, str], shape: tuple[int, ...], dtype: Any
) -> np.ndarray:
    """An array of ``shape`` on a kept buffer large enough (taken out of the kept ones), else on a new one.

    The buffer is recorded in ``lent``, which its owner gives back when collected (:func:`_lend_to`).
    """
    kept = _kept_draw_buffers()
    need = int(np.prod(shape)) * np.dtype(dtype).itemsize
    b = kept.get(key)
    if b is not None and b.nbytes >= need:
        del kept[key]
    else:
        b = np.empty(max(need, 1), dtype=np.uint8)
    lent[key] = b
    return b[:need].view(dtype).reshape(shape)


def _lend_to(owner: object) -> dict[tuple[str, str], np.ndarray]:
    """The record of buffers lent to ``owner``, given back to this thread's kept ones when it is collected."""
    lent: dict[tuple[str, str], np.ndarray] = {}
    weakref.finalize(owner, _give_back, _kept_draw_buffers(), lent)
    return lent


def _give_back(kept: dict[tuple[str, str], np.ndarray], lent: dict[tuple[str, str], np.ndarray]) -> None:
    """Return a collected owner's buffers to its thread's kept ones, within the bytes kept."""
    for key, b in lent.items():
        total = sum(x.nbytes for x in kept.values())
        if key not in kept and total + b.nbytes <= KEEP_DRAW_BUFFER_BYTES:
            kept[key] = b


#: one block of draws: Z, E, the packages' bid normals and 变卖 buyers, each patent row's package row (or None)
Drawn = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, "np.ndarray | None"]


class PatentDraws:
    """The per-patent and per-package draws of the liquidation Monte Carlo for a set of patents, block by block.

    A patent draws its value shock ``Z`` and invalidation time ``E`` from its own stream; a package its best-bid
    normal and its 变卖 buyer (a patent that is its own package from its own stream, after ``Z`` and ``E``). None
    of it depends on the loan, the policy's numbers or a stress shock, so one set of draws serves the base case
    and every shock (:func:`liquidation_partial_sums_many`). ``cache=True`` keeps each block's draws for
    further calls (memory ``~ 25 bytes x patents x paths``); else each call draws again, into buffers reused from
    block to block (the arrays a call returns are valid until the next call).

    Parameters
    ----------
    ids, packages : array of str
        The patents in ``patent_id`` order (sorted) and their disposal packages.
    seed, paths : int
    sale_success : float
        The chance a 变卖 buyer appears for a package (policy ``judicial_sale_success``).
    judicial : slice
        The judicial paths (the 变卖 buyers are drawn for them only).
    """

    def __init__(
        self,
        ids: np.ndarray,
        packages: np.ndarray,
        *,
        seed: int,
        paths: int,
        sale_success: float,
        judicial: slice,
        cache: bool = False,
    ) -> None:
        self.ids = np.asarray(ids, dtype=str)
        self.packages = np.asarray(packages, dtype=str)
        self.seed, self.paths = int(seed), int(paths)
        self.sale_success = float(sale_success)
        self.judicial = judicial
        self.cache = cache
        self._blocks: dict[tuple[int, int], Drawn] = {}
        self._bufs: dict[str, np.ndarray] = {}
        # the buffers borrowed from the thread's kept ones (given back when this object is collected)
        self._lent: dict[tuple[str, str], np.ndarray] | None = None
        # every row's package as an index into the sorted labels, and whether the patent is its own package
        # (the label is its patent_id, or "patent:" and its patent_id): once, not per block
        self._labels, self._label_of = np.unique(self.packages, return_inverse=True)
        self._own = (self.packages == self.ids) | (self.packages == np.char.add("patent:", self.ids))
        # a package drawn from its own stream whose members run on into later blocks is kept for them (a family's
        # members are spread over the patent_id order: drawn again in every block, the 20k book's packages were
        # drawn 2.7 times each); up to PACKAGE_KEEP_BYTES, beyond which a package is drawn again where needed
        self._last_row = np.zeros(len(self._labels), dtype=np.intp)
        np.maximum.at(self._last_row, self._label_of, np.arange(len(self.ids)))
        self._kept: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._spare: list[tuple[np.ndarray, np.ndarray]] = []
        # the compiled engine's: every stream's starting state (patents, then packages), and one generator per
        # drawing thread restarted at each stream's state (made on its first block)
        self._states: tuple[np.ndarray, np.ndarray] | None = None
        self._scratch: list[tuple[np.random.Generator, np.ndarray, np.ndarray]] = []

    def _stream_states(self, kernels: ModuleType) -> tuple[np.ndarray, np.ndarray]:
        """The PCG64 states :func:`~ipvalue._random.patent_rng` starts each patent's and package's stream at.

        Computed for every stream at once (``_mc_fused.stream_states``: numpy's seeding, the same states), so
        that a thread draws a block's streams in one compiled call, where a ``Generator`` made per stream held
        the interpreter's lock for about 30 microseconds each (the 20k book: 12,000 streams, two threads
        waiting on each other).
        """
        if self._states is None:
            seed = self.seed & 0xFFFFFFFFFFFFFFFF

            def entropy(names: np.ndarray, stream: str) -> np.ndarray:
                out = np.empty((len(names), 3), dtype=np.uint64)
                out[:, 0], out[:, 2] = seed, stable_key(stream)
                out[:, 1] = [stable_key(str(x)) for x in names.tolist()]
                return out

            patents = np.empty((len(self.ids), 4), dtype=np.uint64)
            packages = np.empty((len(self._labels), 4), dtype=np.uint64)
            kernels.stream_states(entropy(self.ids, "liquidation"), patents)
            kernels.stream_states(entropy(self._labels, "liquidation-package"), packages)
            self._states = (patents, packages)
        return self._states

    def _generators(self, threads: int, kernels: ModuleType) -> None:
        """A generator per drawing thread, with the views of its state (``_mc_fused.state_views``), in ``_scratch``."""
        while len(self._scratch) < threads:
            g = np.random.Generator(np.random.PCG64(0))
            self._scratch.append((g, *kernels.state_views(g)))

    def _array(self, name: str, rows: int, cols: int, dtype: type = float) -> np.ndarray:
        """A fresh array (kept draws) or the first ``rows`` rows of a buffer reused by every block.

        The buffer is borrowed from the thread's kept ones when one is large enough (taken out of them while
        this object lives, returned when it is collected: two objects alive at once never share one).
        """
        if self.cache:
            return np.empty((rows, cols), dtype=dtype)
        b = self._bufs.get(name)
        if b is None or b.shape[0] < rows:  # fresh large arrays would fault their pages in again each block
            if self._lent is None:
                self._lent = _lend_to(self)
            b = self._bufs[name] = _borrow(self._lent, ("draws", name), (max(rows, 1), cols), dtype)
        return b[:rows]

    def block(
        self,
        b0: int,
        b1: int,
        *,
        executor: ThreadPoolExecutor | None = None,
        threads: int = 1,
        compiled: bool = False,
    ) -> Drawn:
        """``(Z, E, bid normal, 变卖 buyer, member)`` of rows ``b0:b1``.

        ``Z`` and ``E`` are ``(rows, paths)``; the bid normal (``(packages, paths)``) and the buyer (``(packages,
        judicial paths)``) are per package, ``member`` the package row of each patent row (None when every
        patent of the block is its own package's only member: the package rows are the patent rows); the
        arithmetic reads each tile's rows of the packages through it. ``executor`` (of ``threads`` threads):
        the streams are drawn in parallel (numpy draws without the GIL), the same numbers as one thread.
        ``compiled``: the compiled engine's functions (:mod:`._mc_fused`) draw each thread's streams in one call,
        one generator restarted at each stream's state: the same numbers as numpy's, in less than half the time.
        """
        key = (b0, b1)
        if key in self._blocks:
            z, e, zp, buyer, member_ = self._blocks[key]
            return z, e, zp, buyer, member_
        nb, paths, seed = b1 - b0, self.paths, self.seed
        nj = self.judicial.stop - self.judicial.start
        ids_b, own = self.ids[b0:b1], self._own[b0:b1]
        labels, member = np.unique(self._label_of[b0:b1], return_inverse=True)
        nl = len(labels)
        z, e = self._array("z", nb, paths), self._array("e", nb, paths)
        zp, up = self._array("zp", nl, paths), self._array("up", nl, nj, np.float32)
        buyer = self._array("buyer", nl, nj, bool)
        # a package none of whose members is its own package in this block draws from the package's stream
        named = np.ones(nl, dtype=bool)
        named[member[own]] = False
        named_k = np.flatnonzero(named)
        threshold = np.float32(self.sale_success)
        # packages kept from an earlier block are copied in; the others drawn, and kept when later rows need them
        # (the copies made by the drawing threads, not on this one while they wait)
        copy_in, fresh = self._kept_and_fresh(labels, named_k, b0)
        keep_to = self._slots_to_keep(labels, fresh, zp, buyer, b1)

        kernels = importlib.import_module("ipvalue.collateral._mc_fused") if compiled else None
        if kernels is not None:  # every stream of the block from its state, a compiled call per thread
            states, package_states = self._stream_states(kernels)
            states = states[b0:b1]
            # an own package has one member: no two rows write the same package row
            own_row = np.where(own, member, -1).astype(np.int64)
            fresh_rows = np.asarray(fresh, dtype=np.int64)
            fresh_states = package_states[labels[fresh_rows]]

        def draw(i: int, part: tuple[range, range, range]) -> None:
            rows, packs, copies = part
            if kernels is not None:
                g, pcg, half = self._scratch[i]
                kernels.draw_patents(
                    g, pcg, half, states, rows.start, rows.stop, z, e, own_row, zp, up, buyer, threshold
                )
                at = slice(packs.start, packs.stop)
                kernels.draw_packages(
                    g, pcg, half, fresh_states[at], fresh_rows[at], zp, up, buyer, threshold
                )
            else:  # numpy's fill functions, a generator per stream
                for j in rows:
                    gp = patent_rng(seed, str(ids_b[j]), "liquidation")
                    m = member[j]  # an own package's row: its draws follow the patent's
                    _draw_patent(gp, z[j], e[j], (zp[m], up[m], buyer[m]) if own[j] else None, threshold)
                for k in fresh[packs.start : packs.stop]:
                    gk = patent_rng(seed, str(self._labels[labels[k]]), "liquidation-package")
                    _draw_package(gk, zp[k], up[k], buyer[k], threshold)
            for k in fresh[packs.start : packs.stop]:
                slot = keep_to.get(k)
                if slot is not None:
                    slot[0][...], slot[1][...] = zp[k], buyer[k]
            for k, (zk, bk) in copy_in[copies.start : copies.stop]:
                zp[k], buyer[k] = zk, bk

        parts = max(1, min(threads, nb)) if executor is not None else 1

        def cuts(n: int) -> list[range]:
            at = np.linspace(0, n, parts + 1).astype(int)
            return [range(int(at[i]), int(at[i + 1])) for i in range(parts)]

        draw_parts = list(zip(cuts(nb), cuts(len(fresh)), cuts(len(copy_in)), strict=True))
        # each drawing thread its own generator, made here (not by the threads at once)
        if kernels is not None:
            self._generators(parts, kernels)
        if parts == 1 or executor is None:
            draw(0, draw_parts[0])
        else:  # the fills run without the GIL: the streams are drawn on several threads at once
            list(executor.map(draw, range(parts), draw_parts))
        own_rows = nl == nb and np.array_equal(member, np.arange(nb))  # one patent per package
        out = (z, e, zp, buyer, None if own_rows else member)
        if self.cache:
            self._blocks[key] = out
        return out

    def _kept_and_fresh(
        self, labels: np.ndarray, named_k: np.ndarray, b0: int
    ) -> tuple[list[tuple[int, tuple[np.ndarray, np.ndarray]]], list[int]]:
        """Let go of the kept packages no row from ``b0`` on needs; split the block's packages into kept / to draw."""
        for label in [k for k in self._kept if self._last_row[k] < b0]:
            self._spare.append(self._kept.pop(label))
        copy_in, fresh = [], []
        for k in named_k.tolist():
            got = self._kept.get(int(labels[k]))
            if got is None:
                fresh.append(k)
            else:
                copy_in.append((k, got))
        return copy_in, fresh

    def _slots_to_keep(
        self, labels: np.ndarray, fresh: list[int], zp: np.ndarray, buyer: np.ndarray, b1: int
    ) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """Rows to keep the packages about to be drawn that later rows need in (filled as they are drawn)."""
        room = PACKAGE_KEEP_BYTES // max(1, zp.shape[1] * zp.itemsize + buyer.shape[1]) - len(self._kept)
        slots = {}
        for k in fresh:
            label = int(labels[k])
            if self._last_row[label] < b1 or room <= 0:
                continue
            slot = self._spare.pop() if self._spare else (np.empty_like(zp[k]), np.empty_like(buyer[k]))
            self._kept[label] = slots[k] = slot
            room -= 1
        return slots


def _draw_package(
    g: np.random.Generator, zp: np.ndarray, up: np.ndarray, buyer: np.ndarray, threshold: np.float32
) -> None:
    """A package's draws from its stream: the best-bid normals, then the 变卖 uniforms and whether a buyer came.

    numpy's fill functions; ``_mc_fused.draw_package`` is the compiled engine's, with the same numbers.
    """
    g.standard_normal(out=zp)
    g.random(dtype=np.float32, out=up)
    np.less(up, threshold, out=buyer)


def _draw_patent(
    g: np.random.Generator,
    z: np.ndarray,
    e: np.ndarray,
    package: tuple[np.ndarray, np.ndarray, np.ndarray] | None,
    threshold: np.float32,
) -> None:
    """A patent's draws from its stream: value shocks, invalidation times, then its own package's.

    ``package``: the package's rows (bid normals, 变卖 uniforms, buyers) when the patent is its own package, else
    None. numpy's fill functions; ``_mc_fused.draw_patent`` is the compiled engine's, with the same numbers.
    """
    g.standard_normal(out=z)
    g.standard_exponential(out=e)
    if package is not None:
        _draw_package(g, *package, threshold)


@dataclass(frozen=True)
class _PoolTerms:
    """Per-patent constants of one pool under one run (life run-off, log value, log crash keep)."""

    a_i: np.ndarray
    log_vc: np.ndarray
    log_keep: np.ndarray
    drift: np.ndarray  # mu - sigma^2 / 2


def _pool_terms(pool: LiquidationPool, ps: LiquidationPaths) -> _PoolTerms:
    big_l = pool.remaining_life
    if ps.life_rate > 0:
        a_i = np.exp(-np.log1p(ps.life_rate) * big_l)
    else:
        with np.errstate(divide="ignore"):
            a_i = np.where(big_l > 0, 1.0 / big_l, 0.0)
    with np.errstate(divide="ignore"):
        den = 1.0 - a_i if ps.life_rate > 0 else np.ones_like(big_l)
        c_i = np.where((big_l > 0) & (den > 0), 1.0 / np.where(den > 0, den, 1.0), 0.0)
        log_vc = np.log(pool.value * c_i)
    return _PoolTerms(
        a_i=a_i,
        log_vc=log_vc,
        log_keep=np.log(np.maximum(1.0 - pool.crash_drop, 1e-300)),  # finite, so that x 0 stays 0
        drift=ps.mu - 0.5 * pool.volatility**2,
    )


@dataclass(frozen=True)
class _PathTerms:
    """Per-path constants of one run of the Monte Carlo, derived from :class:`LiquidationPaths`."""

    b_p: np.ndarray
    thr_bid: np.ndarray  # sqrt(1 - rho) sqrt(t): the patent's own shock's weight
    crash_from: tuple[int, int, int]
    log_bid_med: np.ndarray
    b_max: float  # the largest B: no run-off factor below 1 - A b_max


def _path_key(ps: LiquidationPaths) -> tuple:
    """What :func:`_path_terms` and the compiled engine's per-path stacks read of a setup.

    Its per-path arrays by identity (the setups of one run share them, e.g. an obsolescence shock's, whose drift
    alone moved) and its scalars: setups with the same key have the same per-path terms (the arrays are not
    written to once made).
    """
    arrays = (ps.t, ps.sqrt_t, ps.crash, ps.bid_med, ps.common, ps.ns_threshold, ps.theta)
    return (*map(id, arrays), ps.life_rate, ps.rho, ps.j0, ps.j1, ps.paths)


def _path_terms(ps: LiquidationPaths) -> _PathTerms:
    paths, j0, j1 = ps.paths, ps.j0, ps.j1
    b_p = np.exp(np.log1p(ps.life_rate) * ps.t) if ps.life_rate > 0 else ps.t
    bounds = (0, j0, j1, paths)
    # first crashed path of each mode's slice (the crashed paths are the end of the slice)
    cf = [int(bounds[i] + np.count_nonzero(~ps.crash[bounds[i] : bounds[i + 1]])) for i in range(3)]
    with np.errstate(divide="ignore"):
        log_bid_med = np.log(ps.bid_med)
    return _PathTerms(
        b_p=b_p,
        thr_bid=np.sqrt(1.0 - ps.rho) * ps.sqrt_t,
        crash_from=(cf[0], cf[1], cf[2]),
        log_bid_med=log_bid_med,
        b_max=float(np.max(b_p)) if paths else 0.0,
    )


#: patents x paths of one tile of the Monte Carlo's arithmetic (whole rows of a thread's paths while they fit): large
#: enough that numpy's per-call overhead is small, small enough that the tile's few buffers stay near the core
TILE_ELEMENTS = 100_000
#: the most patents (rows) of one tile: the rest of the tile's elements are paths (columns)
TILE_ROWS = 5
#: the compiled engine's tile (:mod:`._mc_fused`): all runs' value buffers of a tile stay in a core's cache
FUSED_TILE_ELEMENTS = 8_192
FUSED_TILE_ROWS = 8

#: the engines of the Monte Carlo's arithmetic: "numpy" (a numpy call per step) and "compiled" (numba, the same
#: numbers to the last bit); "auto" takes the compiled engine for a large job, after the process has spent about
#: its load on the numpy one, or once it is loaded in the process
ENGINES = ("auto", "numpy", "compiled")
_ENGINE = ["auto"]
#: patents x paths x runs from which "auto" loads the compiled engine: loading it costs about 0.6 s once per
#: process (numba's import 0.1 s, its compiler's set-up 0.3 s, the cached machine code 0.2 s), the compiled
#: arithmetic saves 4.6 to 6.7 ns per patent-path-run (``benchmarks/RESULTS.md``), so the load pays for itself
#: from about 90 to 130 million; a job this large pays for it on its own
FUSED_MIN_ELEMENTS = 100_000_000
#: seconds of Monte Carlo on the numpy engine after which "auto" loads the compiled engine in this process: about
#: its load's cost. A process that runs many small jobs (a notebook, a batch of books) has then spent on the
#: slower engine what the load costs, and pays for the load once more at most (the rent-or-buy rule: rent until
#: the rent paid equals the price, then buy); a one-off small job (the ``ipvalue demo`` command) never loads it
LOAD_AFTER_SECONDS = 0.6
#: seconds this process has spent in the numpy engine's Monte Carlo (``liquidation_partial_sums_many``)
_NUMPY_SECONDS = [0.0]


def set_engine(name: str) -> None:
    """Choose the engine of the liquidation Monte Carlo's arithmetic in this process.

    Both give the same numbers to the last bit (the tests compare them); the compiled engine (numba, installed
    with the ``fast`` extra) takes 2.5x to 3.4x less CPU for the arithmetic.

    Parameters
    ----------
    name : {"auto", "numpy", "compiled"}
        "auto" (the default): compiled when numba is installed and the job has at least
        :data:`FUSED_MIN_ELEMENTS` patent-path-runs, or the process has spent :data:`LOAD_AFTER_SECONDS` in the
        numpy engine's Monte Carlo, or the engine is already loaded (:func:`load_compiled_engine`); else numpy.
    """
    if name not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {name!r}")
    if name == "compiled" and not _numba_available():
        raise ImportError("the compiled engine needs numba: pip install 'ipvalue[fast]'")
    _ENGINE[0] = name


def load_compiled_engine() -> bool:
    """Load the compiled engine now, so that every later run in this process uses it under "auto".

    For a long-lived process (a service's compute worker, a notebook): the load (about 0.6 s, or a few seconds
    the first time, when numba compiles and caches the machine code) is paid once, before the first request.

    Returns
    -------
    bool
        Whether the engine is loaded (False: numba is not installed, or could not load the functions here, with
        a warning saying why; the numpy engine runs).
    """
    kernels = _kernels()
    if kernels is None:
        return False
    kernels.warm_up()
    ranges = _range_kernels()
    if ranges is not None:
        ranges.warm_up()
    return True


def _kernels() -> ModuleType | None:
    """The compiled functions' module, or None (numba missing, or failing here: a warning says why)."""
    if not _numba_available():
        return None
    try:
        kernels = importlib.import_module("ipvalue.collateral._mc_fused")
        differs = _self_check(kernels)
        if differs is None:
            return kernels
        # a numba or numpy release whose draws or sums are no longer the other's: the numbers would move
        raise RuntimeError(differs)
    except Exception as exc:  # numba installed but unusable here (no place for its cache, a broken install)
        if _ENGINE[0] == "compiled":
            raise
        warnings.warn(
            f"the compiled Monte Carlo engine cannot load ({exc}); the numpy engine runs",
            RuntimeWarning,
            stacklevel=3,
        )
        _ENGINE[0] = "numpy"
        return None


@functools.cache
def _self_check(kernels: ModuleType) -> str | None:
    """The compiled engine's agreement with numpy (:func:`._mc_fused.self_check`), once per process."""
    return kernels.self_check()


@functools.cache
def _range_kernels() -> ModuleType | None:
    """The valuation range's compiled draws (:mod:`ipvalue.valuation._range_fused`) once checked, else None.

    Loaded with this engine's functions: the stress revaluations run under the same engine as the Monte Carlo.
    None (with a warning) where its check fails: the valuation's numpy steps run, with the same numbers.
    """
    try:
        ranges = importlib.import_module("ipvalue.valuation._range_fused")
        differs = ranges.self_check()
    except Exception as exc:  # noqa: BLE001 - numba unusable for it here: the numpy steps run
        differs = str(exc)
    if differs is None:
        return ranges
    warnings.warn(
        f"the valuation range's compiled draws cannot load ({differs}); its numpy steps run",
        RuntimeWarning,
        stacklevel=3,
    )
    return None


def compiled_range_kernels() -> ModuleType | None:
    """The valuation range's compiled draws when this engine's compiled functions are in use now, else None.

    Passed to the stress revaluations (:func:`ipvalue.valuation.kernel.value_prepared_onto`): the same numbers
    as the valuation's numpy steps, to the last bit.
    """
    return _range_kernels() if compiled_kernels() is not None else None


def compiled_kernels() -> ModuleType | None:
    """The compiled engine's functions when a small job would use them now (:func:`engine`), else None.

    The engine's finish (:func:`finish_liquidation`) and the liquidity haircut's bisection take them: the same
    numbers as their numpy code, to the last bit.
    """
    return _kernels() if _use_fused(0) else None


def engine(elements: int = 0) -> str:
    """The engine a run of ``elements`` patent-path-runs would use now: "numpy" or "compiled"."""
    return "compiled" if _use_fused(elements) else "numpy"


@functools.cache
def _numba_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("numba") is not None


def _use_fused(elements: int) -> bool:
    name = _ENGINE[0]
    if name != "auto":
        return name == "compiled"
    if not _numba_available():
        return False
    if "ipvalue.collateral._mc_fused" in sys.modules:  # loaded: used (unless it failed its check here)
        return _kernels() is not None
    if elements >= FUSED_MIN_ELEMENTS or _NUMPY_SECONDS[0] >= LOAD_AFTER_SECONDS:
        return _kernels() is not None
    return False


def _same_bits(a: tuple, b: tuple) -> bool:
    """Whether two keys hold the same bits, element by element (dtype, shape and bytes; -0.0 is not 0.0)."""
    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        if x is y:
            continue
        xa, ya = np.asarray(x), np.asarray(y)
        if xa.dtype.str != ya.dtype.str or xa.shape != ya.shape:
            return False
        xb = np.ascontiguousarray(xa).reshape(-1).view(np.uint8)
        if not np.array_equal(xb, np.ascontiguousarray(ya).reshape(-1).view(np.uint8)):
            return False
    return True


def _classes(keys: list[tuple]) -> list[int]:
    """For each run, the first run whose key has the same bits: the two compute the same numbers there.

    A key is a tuple of arrays and scalars; they are compared bit for bit (dtype, shape, bytes), so two runs
    share a step only when its inputs are identical (not merely equal: -0.0 is not 0.0). The same object is the
    same bits without a look.
    """
    out: list[int] = []
    for k, key in enumerate(keys):
        # the first run with the same bits leads its class: compare with the leaders only
        out.append(next((j for j in range(k) if out[j] == j and _same_bits(keys[j], key)), k))
    return out


@dataclass
class _Run:
    """One run of :func:`liquidation_partial_sums_many` on the draws' rows.

    The per-patent terms are laid out on the rows of the draws (a patent outside this run's pool takes the
    terms of the first run that holds it, so that runs differing only in their pool share every step);
    ``present`` says which rows are this run's. The class ids name, per step, the first run whose inputs to
    that step have the same bits: the step is computed once for all runs of a class.
    """

    ps: LiquidationPaths
    qt: _PathTerms
    present: np.ndarray
    sig: np.ndarray
    drift: np.ndarray
    log_vc: np.ndarray
    a_i: np.ndarray
    hazard: np.ndarray
    log_keep: np.ndarray
    acc: dict[str, np.ndarray]
    q: int = 0  # Z sqrt(1 - rho) sqrt(t) + common
    x3: int = 0  # ... x sigma
    p: int = 0  # ... + drift t: the log value at the sale before the patent's log value
    la: int = 0  # life run-off x alive
    v: int = 0  # value at the sale
    b: int = 0  # the bids: judicial masks per round and 变卖, orderly / distressed proceeds per unit of value
    c: int = 0  # value x bid terms


#: a run's sums as :func:`liquidation_partial_sums_many` accumulates them (s0 and s1 in one, then ``s1``)
_ACC = ("sum_v", "s01", "s2", "s3", "s_sale", "s1")


def _plan(
    runs: list[tuple[LiquidationPool, LiquidationPaths]], pos: list[np.ndarray], n: int
) -> tuple[list[_Run], np.ndarray]:
    """Per-patent terms on the draws' rows and the class of each run at each step.

    Returns the runs and every run's sums in one array (runs x :data:`_ACC` x paths; each run's ``acc`` holds
    views of its rows).
    """
    path_terms: dict[tuple, _PathTerms] = {}  # runs whose setups share their per-path arrays share path terms
    for _, ps in runs:
        if _path_key(ps) not in path_terms:
            path_terms[_path_key(ps)] = _path_terms(ps)
    terms = [(_pool_terms(pool, ps), path_terms[_path_key(ps)]) for pool, ps in runs]
    per_row = {
        "sig": [pool.volatility for pool, _ in runs],
        "drift": [pt.drift for pt, _ in terms],
        "log_vc": [pt.log_vc for pt, _ in terms],
        "a_i": [pt.a_i for pt, _ in terms],
        "hazard": [pool.hazard for pool, _ in runs],
        "log_keep": [pt.log_keep for pt, _ in terms],
    }
    laid: dict[str, list[np.ndarray]] = {}
    for name, vals in per_row.items():
        fill = np.zeros(n)  # rows of no run: finite terms, never added
        for p, v in zip(pos[::-1], vals[::-1], strict=True):  # the first run that holds a row gives its terms
            fill[p] = v
        laid[name] = []
        for p, v in zip(pos, vals, strict=True):
            own = fill.copy()
            own[p] = v
            laid[name].append(own)
    # every run's sums (and the first round's, split off at the end) in one allocation
    sums = np.zeros((len(runs), len(_ACC), runs[0][1].paths if runs else 0))
    plan = []
    for k, ((_, ps), (_, qt)) in enumerate(zip(runs, terms, strict=True)):
        present = np.zeros(n, dtype=bool)
        present[pos[k]] = True
        plan.append(
            _Run(
                ps=ps,
                qt=qt,
                present=present,
                sig=laid["sig"][k],
                drift=laid["drift"][k],
                log_vc=laid["log_vc"][k],
                a_i=laid["a_i"][k],
                hazard=laid["hazard"][k],
                log_keep=laid["log_keep"][k],
                acc=dict(zip(_ACC, sums[k], strict=True)),
            )
        )
    cq = _classes([(r.qt.thr_bid, r.ps.common) for r in plan])
    cx3 = _classes([(cq[k], r.sig) for k, r in enumerate(plan)])
    cp = _classes([(cx3[k], r.ps.t, r.drift) for k, r in enumerate(plan)])
    cla = _classes([(r.qt.b_p, r.ps.t, r.a_i, r.hazard) for r in plan])
    cv = _classes([(cp[k], cla[k], r.log_vc) for k, r in enumerate(plan)])
    cb = _classes(
        [
            (r.ps.s_bid, r.qt.crash_from, r.ps.theta, r.qt.log_bid_med, r.ps.ns_threshold, r.log_keep)
            for r in plan
        ]
    )
    cc = _classes([(cv[k], cb[k]) for k in range(len(plan))])
    for k, r in enumerate(plan):
        r.q, r.x3, r.p, r.la, r.v, r.b, r.c = cq[k], cx3[k], cp[k], cla[k], cv[k], cb[k], cc[k]
    return plan, sums


class _Cols:
    """One run's path terms on a tile's columns (views, made once per tile)."""

    def __init__(self, run: _Run, c0: int, c1: int, ja: int, jb: int) -> None:
        ps, qt = run.ps, run.qt
        cols = slice(c0, c1)
        self.thr, self.common, self.t, self.b_p = qt.thr_bid[cols], ps.common[cols], ps.t[cols], qt.b_p[cols]
        self.theta = ps.theta[:, ja:jb]
        self.buyer = slice(ja - ps.j0, jb - ps.j0)  # the tile's judicial columns among the buyer draws
        self.jcrash = max(qt.crash_from[1], ja) - ja  # first crashed column among the tile's judicial ones
        self.segments = []  # orderly / distressed: (tile columns, log bid median, no-sale threshold, first crashed)
        for sa, sb, cf in ((0, ps.j0, qt.crash_from[0]), (ps.j1, ps.paths, qt.crash_from[2])):
            a, b = max(sa, c0), min(sb, c1)
            if a < b:
                self.segments.append(
                    (slice(a - c0, b - c0), qt.log_bid_med[a:b], ps.ns_threshold[a:b], max(cf, a) - a)
                )


class _Tile:
    """One thread's work on its columns (paths ``c0:c1``), tile by tile: buffers reused from tile to tile.

    Every float buffer has one row more than the tile: row 0 takes a sum's running total, so that one
    ``np.add.reduce`` along the rows adds the tile's patents to it one after the other (numpy reduces the
    outer axis of a C-ordered array row by row, in order: the same additions, in the same order, as a loop).
    """

    def __init__(
        self, plan: list[_Run], c0: int, c1: int, rows: int, bufs: dict[str, np.ndarray] | None = None
    ) -> None:
        self.plan, self.c0, self.c1, self.rows = plan, c0, c1, rows
        ps = plan[0].ps
        ja = max(ps.j0, c0)
        self.j = (ja, max(ja, min(ps.j1, c1)))  # judicial columns
        self.jt = slice(self.j[0] - c0, self.j[1] - c0)  # ... among the tile's columns
        self.rounds = len(ps.reserves)
        self._bufs: dict[str, np.ndarray] = {} if bufs is None else bufs  # shared by one thread's tiles
        self._done: dict[str, int] = {}
        self._views: dict[tuple[str, bool, int], np.ndarray] = {}
        self._cols = {id(r): _Cols(r, c0, c1, *self.j) for r in plan}
        self._acc: dict[int, list[np.ndarray]] = {}
        self.nr = rows
        # runs that share a step one after the other: a buffer holds one class at a time (few buffers, in cache)
        self.order = sorted(plan, key=lambda r: (r.q, r.x3, r.la, r.p, r.v, r.b, r.c))

    def _full(self, key: str, jud: bool = False) -> np.ndarray:
        """A float buffer's row 0 (a running total) and the tile's rows (all columns, or the judicial ones)."""
        view = self._views.get((key, jud, self.nr))
        if view is None:
            w = self.c1 - self.c0
            b = self._bufs.get(key)
            if b is None or b.shape[0] < self.rows + 1 or b.shape[1] < w:
                b = self._bufs[key] = np.empty((self.rows + 1, w))
            view = b[: self.nr + 1, : (self.j[1] - self.j[0]) if jud else w]
            self._views[key, jud, self.nr] = view
        return view

    def _buf(self, key: str, jud: bool = False) -> np.ndarray:
        """A float buffer's rows for the tile's patents."""
        return self._full(key, jud)[1:]

    def _mask(self, key: str, jud: bool = False, dtype: type = bool) -> np.ndarray:
        """A buffer of the tile's rows (no running-total row): boolean masks, or ``dtype``."""
        view = self._views.get((key, jud, self.nr))
        if view is None:
            w = self.c1 - self.c0
            b = self._bufs.get(key)
            if b is None or b.shape[0] < self.rows or b.shape[1] < w:
                b = self._bufs[key] = np.empty((self.rows, w), dtype=dtype)
            view = b[: self.nr, : (self.j[1] - self.j[0]) if jud else w]
            self._views[key, jud, self.nr] = view
        return view

    def _sums(self, run: _Run) -> list[np.ndarray]:
        """The run's sums on this tile's columns: ``sum_v``, ``s01``, the later rounds', ``s_sale``."""
        out = self._acc.get(id(run))
        if out is None:
            acc, (ja, jb) = run.acc, self.j
            out = self._acc[id(run)] = [
                acc["sum_v"][self.c0 : self.c1],
                acc["s01"][self.c0 : self.c1],
                *[acc[s][ja:jb] for s in ("s2", "s3")[: self.rounds - 1]],
                acc["s_sale"][ja:jb],
            ]
        return out

    def add_block(self, drawn: Drawn, b0: int, b1: int) -> None:
        """Add the block's rows (draw rows ``b0:b1``) to every run's sums, ``rows`` at a time."""
        for r0 in range(0, b1 - b0, self.rows):
            self.run(drawn, b0, r0, min(b1 - b0, r0 + self.rows))

    def run(self, drawn: Drawn, b0: int, r0: int, r1: int) -> None:
        """Add rows ``r0:r1`` of the block that starts at draw row ``b0`` to every run's sums."""
        self.drawn, self.g, self.nr, self.r = drawn, slice(b0 + r0, b0 + r1), r1 - r0, slice(r0, r1)
        self._done.clear()
        for run in self.order:
            held = run.present[self.g]
            whole = bool(held.all())
            if not whole and not held.any():
                continue
            self._value(run)
            self._products(run)
            terms = [self._full(k, jud) for k, jud in self._summed]
            for full, acc in zip(terms, self._sums(run), strict=True):
                if whole:  # the running total, then the patents one after the other
                    full[0] = acc
                    np.add.reduce(full, axis=0, out=acc)
                else:
                    for i in np.flatnonzero(held) + 1:
                        acc += full[i]

    @property
    def _summed(self) -> list[tuple[str, bool]]:
        """The buffers added to the sums, in the order of :meth:`_sums`."""
        return [
            ("v", False),
            ("c01", False),
            *[(f"c{k}", True) for k in range(1, self.rounds)],
            ("csale", True),
        ]

    def _step(self, name: str, cls: int) -> bool:
        """Whether a step's buffer must be computed (it holds another class's numbers)."""
        fresh = self._done.get(name) != cls
        self._done[name] = cls
        return fresh

    def _log_value(self, run: _Run, cols: _Cols) -> np.ndarray:
        g = self.g
        q, x3, p = self._buf("q"), self._buf("x3"), self._buf("p")
        if self._step("q", run.q):
            np.multiply(self.drawn[0][self.r, self.c0 : self.c1], cols.thr, out=q)
            q += cols.common
        if self._step("x3", run.x3):
            np.multiply(q, run.sig[g, None], out=x3)
        if self._step("p", run.p):
            d = self._buf("tmp")
            np.multiply(run.drift[g, None], cols.t, out=d)
            np.add(x3, d, out=p)
        return p

    def _life_alive(self, run: _Run, cols: _Cols) -> np.ndarray:
        la = self._buf("la")
        if self._step("la", run.la):
            g = self.g
            a = run.a_i[g, None]
            # (1 - A B)+: the life run-off, 0 after expiry
            np.multiply(a, cols.b_p, out=la)
            np.subtract(1.0, la, out=la)
            # A B rounds monotonically in B: when 1 - A b_max > 0 every factor is positive, the floor is the identity
            if not (1.0 - run.a_i[g] * run.qt.b_max > 0.0).all():
                np.maximum(la, 0.0, out=la)
            h = self._buf("tmp")
            np.multiply(run.hazard[g, None], cols.t, out=h)
            alive = self._mask("mask")
            np.greater(
                self.drawn[1][self.r, self.c0 : self.c1], h, out=alive
            )  # not invalidated before the sale
            la *= alive
        return la

    def _value(self, run: _Run) -> np.ndarray:
        v = self._buf("v")
        if self._step("v", run.v):
            cols = self._cols[id(run)]
            np.add(self._log_value(run, cols), run.log_vc[self.g, None], out=v)
            np.exp(v, out=v)
            v *= self._life_alive(run, cols)
        return v

    def _packages(self, cols: _Cols) -> tuple[np.ndarray, np.ndarray]:
        """The tile's bid normals (its columns) and 变卖 buyers (its judicial columns), one row per patent.

        Read from the package rows; where patents share packages, gathered once per tile into tile buffers.
        """
        _, _, zp, buyer, member = self.drawn
        if member is None:
            return zp[self.r, self.c0 : self.c1], buyer[self.r, cols.buyer]
        zb, by = self._mask("zb", dtype=float), self._mask("by", jud=True)
        if self._step("zb", 0):  # row by row (np.take on a slice of columns is many times slower)
            for i, m in enumerate(member[self.r].tolist()):
                zb[i] = zp[m, self.c0 : self.c1]
                by[i] = buyer[m, cols.buyer]
        return zb, by

    def _bids(self, run: _Run) -> None:
        """The bid terms per row and path, in the buffers ``m01``, ``m1``... and ``msale``.

        The judicial first-round mask and the orderly / distressed proceeds per unit of value (one array, on
        disjoint columns), the later rounds' masks and the 变卖 mask (judicial columns).
        """
        if not self._step("m01", run.b):
            return
        m01 = self._buf("m01")
        ps, cols = run.ps, self._cols[id(run)]
        zb, buyer = self._packages(cols)
        keep = run.log_keep[self.g, None]
        ja, jb = self.j
        if jb > ja:
            # judicial lots: which reserve the best bid reaches (log bid s Zb, + ln(1 - drop) on crashed paths)
            lw = self._buf("tmp", jud=True)
            np.multiply(zb[:, self.jt], ps.s_bid, out=lw)
            if cols.jcrash < jb - ja:
                lw[:, cols.jcrash :] += keep
            # each round's mask written as 1.0 / 0.0 straight into its float buffer
            mj = m01[:, self.jt]
            for rnd in range(self.rounds):
                mj = m01[:, self.jt] if rnd == 0 else self._buf(f"m{rnd}", jud=True)
                np.greater_equal(lw, cols.theta[rnd], out=mj)
            # below the last reserve and a 变卖 buyer appeared (buyer 1 > mask 0)
            np.greater(buyer, mj, out=self._buf("msale", jud=True))
        # orderly / distressed lots: sold at the best bid W = exp(s Zb + ln(bid median) [+ ln(1 - drop)]) x V
        # unless it is among the lowest p_no_sale
        mask = self._mask("mask")
        for seg, log_med, ns, cs in cols.segments:
            w, zs = m01[:, seg], zb[:, seg]
            ms = mask[:, : seg.stop - seg.start]
            np.multiply(zs, ps.s_bid, out=w)
            w += log_med
            if cs < seg.stop - seg.start:
                w[:, cs:] += keep
            np.exp(w, out=w)
            np.greater(zs, ns, out=ms)
            w *= ms

    def _products(self, run: _Run) -> None:
        """Value x bid terms: what the run adds to ``s01``, to the later rounds' sums and to ``s_sale``."""
        if not self._step("c01", run.c):
            return
        v = self._value(run)
        self._bids(run)
        np.multiply(v, self._buf("m01"), out=self._buf("c01"))
        if self.j[1] > self.j[0]:
            vj = v[:, self.jt]
            for k in range(1, self.rounds):
                np.multiply(vj, self._buf(f"m{k}", jud=True), out=self._buf(f"c{k}", jud=True))
            np.multiply(vj, self._buf("msale", jud=True), out=self._buf("csale", jud=True))


class _FusedPlan:
    """The plan's per-run terms stacked along a run axis, for the compiled engine (:mod:`._mc_fused`).

    Per row (``(runs, patents)``): volatility, drift, ln(V c), run-off A, hazard, ln(1 - drop), present; per path
    (``(setups, paths)``, one row per distinct path-level setup, ``setup_of`` each run's): the own shock's weight,
    the market factor, the time to sale, B, ln(bid median), the no-sale threshold; ``theta``
    ``(setups, rounds, paths)``. The value (bid) classes' leaders compute the value
    (bid) terms once for their class; ``v_slot``/``b_slot`` give each run its class's slot.
    """

    def __init__(self, plan: list[_Run], sums: np.ndarray) -> None:
        def rows(name: str) -> np.ndarray:
            return np.ascontiguousarray(np.stack([getattr(r, name) for r in plan]))

        self.sig, self.drift, self.log_vc = rows("sig"), rows("drift"), rows("log_vc")
        self.a_i, self.hazard, self.log_keep = rows("a_i"), rows("hazard"), rows("log_keep")
        self.present = rows("present")
        # the path-level arrays once per distinct per-path arrays (_path_key: the value, obsolescence and
        # invalidation shocks share the base case's)
        setups: dict[tuple, _Run] = {}
        for r in plan:
            setups.setdefault(_path_key(r.ps), r)
        order = list(setups)
        self.setup_of = np.array([order.index(_path_key(r.ps)) for r in plan], dtype=np.int64)
        first = list(setups.values())
        # stacked on buffers kept from one Monte Carlo to the next (their pages stay: KEEP_DRAW_BUFFER_BYTES)
        lent = _lend_to(self)

        def stack(name: str, arrays: list[np.ndarray]) -> np.ndarray:
            shape = (len(arrays), *np.shape(arrays[0]))
            return np.stack(arrays, out=_borrow(lent, ("plan", name), shape, np.float64))

        self.thr = stack("thr", [r.qt.thr_bid for r in first])
        self.common = stack("common", [r.ps.common for r in first])
        self.t = stack("t", [r.ps.t for r in first])
        self.b_p = stack("b_p", [np.broadcast_to(r.qt.b_p, r.ps.t.shape) for r in first])
        self.log_med = stack("log_med", [r.qt.log_bid_med for r in first])
        self.ns = stack("ns", [r.ps.ns_threshold for r in first])
        self.theta = stack("theta", [r.ps.theta for r in first])
        self.s_bid = np.array([r.ps.s_bid for r in plan], dtype=float)
        self.crash_from = np.array([r.qt.crash_from for r in plan], dtype=np.int64)
        self.acc = sums  # the runs' sums, added to in place (the compiled pass writes rows 0-4 of _ACC)
        v_cls, b_cls = [r.v for r in plan], [r.b for r in plan]
        self.v_lead = np.array(sorted(set(v_cls)), dtype=np.int64)
        self.b_lead = np.array(sorted(set(b_cls)), dtype=np.int64)
        self.v_slot = np.searchsorted(self.v_lead, v_cls).astype(np.int64)
        self.b_slot = np.searchsorted(self.b_lead, b_cls).astype(np.int64)
        ps = plan[0].ps
        self.j0, self.j1 = ps.j0, ps.j1


class _FusedShare:
    """One thread's share of the paths (``c_start:c_stop``) with the compiled engine, in tiles ``width`` paths wide.

    A block's rows are added in one compiled call (``_mc_fused.block_sums``: every tile, numpy's ``exp`` called
    from it), where a call per tile held the interpreter's lock between tiles and two threads waited on each other.
    The tile buffers are reused from tile to tile and block to block.
    """

    def __init__(self, fp: _FusedPlan, c_start: int, c_stop: int, width: int, rows: int) -> None:
        self.fp, self.c_start, self.c_stop, self.width, self.rows = fp, c_start, c_stop, width, rows
        w = min(width, c_stop - c_start)
        self.v = np.empty((len(fp.v_lead), rows, w))
        self.w = np.empty((len(fp.b_lead), rows, w))
        # each bid class's judicial masks per round, then the 变卖's (a tile's judicial paths)
        self.masks = np.empty((len(fp.b_lead), fp.theta.shape[1] + 1, rows, w))
        self._none = np.empty(0, dtype=np.int64)
        # numba's functions: imported with the engine (a run that uses it), not with this module
        self._kernels = importlib.import_module("ipvalue.collateral._mc_fused")

    def add_block(self, drawn: Drawn, b0: int, b1: int) -> None:
        """Add the block's rows (draw rows ``b0:b1``) to every run's sums, on this share's paths."""
        fused, fp = self._kernels, self.fp
        z, e, zp, buyer, member = drawn
        mem = self._none if member is None else member.astype(np.int64, copy=False)
        exp = fused.exp_loop()
        fused.block_sums(
            exp.fn, exp.context, exp.auxdata, z, e, zp, buyer.view(np.uint8), mem, b0, b1 - b0, self.rows,
            self.c_start, self.c_stop, self.width, fp.j0, fp.j1, fp.setup_of, fp.v_lead, fp.thr, fp.common,
            fp.t, fp.sig, fp.drift, fp.log_vc, fp.b_lead, fp.s_bid, fp.log_med, fp.crash_from, fp.log_keep,
            fp.a_i, fp.b_p, fp.hazard, fp.ns, fp.present, fp.v_slot, fp.b_slot, fp.theta, fp.acc,
            self.v, self.w, self.masks,
        )  # fmt: skip


def liquidation_partial_sums(
    pool: LiquidationPool, setup: LiquidationPaths, *, block_elements: int = BLOCK_ELEMENTS
) -> dict[str, np.ndarray]:
    """Step (b) of :func:`simulate_liquidation`: per-path sums over the patents of ``pool`` (one chunk).

    Each patent draws from its own stream, so the sums of two chunks add up to the sums of their union (up to
    the order of the floating additions). The patents are added one after the other in ``patent_id`` order,
    so the sums do not depend on ``block_elements`` (the memory bound of a vectorised block).

    Returns
    -------
    dict
        :data:`PARTIAL_SUMS` -> array of length ``paths``: value of the lots at the sale (``sum_v``), proceeds
        of orderly / distressed lots that sell (``s0``), value of judicial lots whose package clears the first
        (``s1``), second (``s2``) or third (``s3``, 0 with two rounds) reserve, and value of judicial lots sold
        in the 变卖 (``s_sale``: below the last reserve, and a buyer appeared for the package).
    """
    return liquidation_partial_sums_many([(pool, setup)], block_elements=block_elements)[0]


def liquidation_partial_sums_many(
    runs: list[tuple[LiquidationPool, LiquidationPaths]],
    *,
    draws: PatentDraws | None = None,
    block_elements: int = BLOCK_ELEMENTS,
) -> list[dict[str, np.ndarray]]:
    """:func:`liquidation_partial_sums` of several runs over one set of per-patent draws (a shock axis).

    The runs (the base case and the stress shocks) share the seed and the number of paths; each has its own
    pool (any subset of the patents, with its own values, lives, hazards...) and its own path-level setup
    (obsolescence drift, crashed market, loan). A patent's draws are the same in every run, so they are made
    once per block of patents and used by every run whose pool holds the patent; each run's sums are the same
    to the last bit as :func:`liquidation_partial_sums` of that run alone.

    A step whose inputs have the same bits in two runs is computed once for both (the runs share the draws,
    and most shocks move only the patents' values: the market factor, the drift, the life run-off, the
    invalidations and the bids are then common). The arithmetic works tile by tile (:data:`TILE_ELEMENTS`
    patent-paths, in a core's cache); a large job splits the paths among :data:`PARALLEL_THREADS` threads.
    Each sum gets the patents one after the other in ``patent_id`` order, whatever the blocks, tiles and
    threads, so the numbers are the same bits in every arrangement.

    Parameters
    ----------
    runs : list of (LiquidationPool, LiquidationPaths)
    draws : PatentDraws, optional
        The draws to use (their ``ids`` must hold every pool's patents); None: drawn here for the union of
        the pools, not kept.
    block_elements : int
        Patents x paths per block of draws (memory bound).

    Returns
    -------
    list of dict
        One :data:`PARTIAL_SUMS` dict per run, in order.
    """
    if not runs:
        return []
    ps0 = runs[0][1]
    paths, seed = ps0.paths, ps0.seed
    for _, ps in runs:
        if ps.paths != paths or ps.seed != seed or ps.sale_success != ps0.sale_success:
            raise ValueError("runs sharing draws need the same seed, paths and judicial sale success")
        if len(ps.reserves) != len(ps0.reserves):
            raise ValueError("runs sharing draws need the same number of judicial auction rounds")
    if draws is None:
        ids = np.concatenate([p.ids for p, _ in runs])
        pkgs = np.concatenate([p.ids if p.package is None else p.package for p, _ in runs])
        ids, first = np.unique(ids, return_index=True)
        draws = PatentDraws(
            ids,
            pkgs[first],
            seed=seed,
            paths=paths,
            sale_success=ps0.sale_success,
            judicial=slice(ps0.j0, ps0.j1),
        )
    # each run's patents as positions among the draws' rows (both in patent_id order)
    pos = []
    for pool, ps in runs:
        p = np.searchsorted(draws.ids, pool.ids)
        if len(p) and (p.max() >= len(draws.ids) or not np.array_equal(draws.ids[p], pool.ids)):
            raise ValueError("the draws do not hold every patent of the pool")
        if ps.j0 != draws.judicial.start or ps.j1 != draws.judicial.stop:
            raise ValueError("the runs' judicial paths differ from those the draws were made for")
        pos.append(p)
    n = len(draws.ids)
    plan, sums = _plan(runs, pos, n)
    block = max(1, int(block_elements // paths))
    workers = max(1, min(PARALLEL_THREADS, paths))
    if n * paths * (len(runs) + 3) < PARALLEL_MIN_ELEMENTS:
        workers = 1
    # each thread its share of the paths, in tiles of at most TILE_ELEMENTS patent-paths (whole rows if they fit)
    cuts = np.linspace(0, paths, workers + 1).astype(int)
    fused = _use_fused(n * paths * len(runs))
    tile_rows, tile_elements = (FUSED_TILE_ROWS, FUSED_TILE_ELEMENTS) if fused else (TILE_ROWS, TILE_ELEMENTS)
    rows = max(1, min(block, n, tile_rows))
    width = max(1, min(int(cuts[1] - cuts[0]), tile_elements // rows))
    rows = max(1, min(rows, tile_elements // width))
    fplan = _FusedPlan(plan, sums) if fused else None
    tiles: list[list[_Tile] | list[_FusedShare]] = []
    for c0, c1 in zip(cuts[:-1], cuts[1:], strict=True):
        if fplan is not None:
            tiles.append([_FusedShare(fplan, int(c0), int(c1), width, rows)])
        else:
            bufs: dict[str, np.ndarray] = {}
            steps = range(int(c0), int(c1), width)
            tiles.append([_Tile(plan, a, min(int(c1), a + width), rows, bufs) for a in steps])

    def work(chunks: list[_Tile] | list[_FusedShare], b0: int, b1: int, drawn: Drawn) -> None:
        with np.errstate(under="ignore"):  # the value's exponential may underflow to 0
            for tile in chunks:
                tile.add_block(drawn, b0, b1)

    executor = (
        ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ipvalue-mc") if workers > 1 else None
    )
    started = time.perf_counter()
    try:
        for b0 in range(0, n, block):
            b1 = min(n, b0 + block)
            if not any(r.present[b0:b1].any() for r in plan):
                continue
            drawn = draws.block(b0, b1, executor=executor, threads=workers, compiled=fused)
            if executor is None:
                work(tiles[0], b0, b1, drawn)
            else:  # each thread its own paths: every sum still gets the patents in order
                list(executor.map(lambda t, b0=b0, b1=b1, d=drawn: work(t, b0, b1, d), tiles))
    finally:
        if executor is not None:
            executor.shutdown()
        if not fused:  # what "auto" weighs against the compiled engine's load (LOAD_AFTER_SECONDS)
            _NUMPY_SECONDS[0] += time.perf_counter() - started
    out = []
    jud = slice(ps0.j0, ps0.j1)
    for r in plan:
        acc = r.acc
        s0, s1 = acc.pop("s01"), acc.pop("s1")
        s1[jud] = s0[jud]
        s0[jud] = 0.0
        out.append(
            {
                "sum_v": acc["sum_v"],
                "s0": s0,
                "s1": s1,
                "s2": acc["s2"],
                "s3": acc["s3"],
                "s_sale": acc["s_sale"],
            }
        )
    return out


def finish_liquidation(setup: LiquidationPaths, partials: list[dict[str, np.ndarray]]) -> MonteCarloResult:
    """Step (c) of :func:`simulate_liquidation`: the summed partial sums to recovery, LGD, time to cash.

    The chunks' partial sums are added in the order given; then gross proceeds, costs, recovery, LGD and time
    to cash per path.
    """
    ps = setup
    if not partials:
        partials = [{k: np.zeros(ps.paths) for k in PARTIAL_SUMS}]
    acc = {k: partials[0][k] for k in PARTIAL_SUMS}
    for part in partials[1:]:
        acc = {k: acc[k] + part[k] for k in PARTIAL_SUMS}
    sum_v, s0 = acc["sum_v"], acc["s0"]
    cleared = [acc["s1"], acc["s2"], acc["s3"]][: len(ps.reserves)]
    judicial, t_sell, keep = ps.judicial, ps.t_sell, ps.keep
    loan, ead = ps.loan, ps.ead
    legal = ps.legal
    # the judicial paths are the slice j0:j1 (liquidation_paths groups the paths by mode): the rounds' arithmetic
    # on that slice only, the other paths' on the rest (each path's numbers as with np.where over all paths)
    jud = slice(ps.j0, ps.j1)
    if int(np.count_nonzero(judicial)) != ps.j1 - ps.j0 or not judicial[jud].all():
        jud = slice(0, ps.paths)
    kernels = compiled_kernels() if jud.stop - jud.start < ps.paths else None
    if kernels is not None:  # the compiled engine: the same operations in vectorised passes over the paths
        return _finish_compiled(kernels, ps, acc, cleared)
    fees = ps.fee * sum_v
    # proceeds per judicial round (at that round's reserve), then the 变卖 at the last reserve
    g, before = [], np.zeros(jud.stop - jud.start)
    for r, s_k in zip(ps.reserves, cleared, strict=True):
        g.append(float(r) * (s_k[jud] - before))
        before = s_k[jud]
    g.append(float(ps.reserves[-1]) * acc["s_sale"][jud])
    g_all = np.asarray(g)
    when = np.add.outer(np.asarray(ps.delays), t_sell[jud])
    gross, pv, tm = s0.copy(), ps.df0 * s0, t_sell * s0
    if jud.stop - jud.start == ps.paths and not judicial.all():  # not grouped: as np.where
        gross = np.where(judicial, np.sum(g_all, axis=0), s0)
        pv = np.where(judicial, np.sum(ps.df_rounds * g_all, axis=0), pv)
        tm = np.where(judicial, np.sum(when * g_all, axis=0), tm)
    else:
        gross[jud] = np.sum(g_all, axis=0)
        pv[jud] = np.sum(ps.df_rounds[:, jud] * g_all, axis=0)
        tm[jud] = np.sum(when * g_all, axis=0)
    pv_net = keep * pv
    pv_time = keep * tm
    net_total = pv_net - fees - legal
    recovery = np.clip(net_total, 0.0, ead)
    loss = ead - recovery
    split = risk_sharing_split(loss, loan.risk_sharing)
    undiscounted_net = gross * keep
    with np.errstate(invalid="ignore", divide="ignore"):
        ttc = np.where(undiscounted_net > 0, pv_time / undiscounted_net, np.nan)
    return _path_result(
        ps,
        gross,
        gross * ps.var_cost + fees + legal,
        recovery,
        loss / ead,
        split["bank"] / ead,
        ttc,
        np.maximum((pv_net - fees) / (1.0 + legal / ead), 0.0),
    )


def _finish_compiled(
    kernels: ModuleType, ps: LiquidationPaths, acc: dict[str, np.ndarray], cleared: list[np.ndarray]
) -> MonteCarloResult:
    """:func:`finish_liquidation` on the compiled engine (paths grouped by mode): the same numbers to the last bit."""
    shares, caps = np.array(risk_sharing_terms(ps.loan.risk_sharing)).T.copy()
    out = np.empty((7, ps.paths))
    kernels.finish_paths(
        acc["sum_v"], acc["s0"], np.stack(cleared), acc["s_sale"], ps.j0, ps.j1,
        np.asarray(ps.reserves, dtype=float), np.asarray(ps.delays, dtype=float), ps.t_sell, ps.df0,
        ps.df_rounds, ps.keep, ps.legal, ps.var_cost, float(ps.fee), float(ps.ead), shares, caps, out,
    )  # fmt: skip
    return _path_result(ps, *out)


def _path_result(ps: LiquidationPaths, *per_path: np.ndarray) -> MonteCarloResult:
    """The result from the finish's per-path arrays.

    In order: gross proceeds, costs, recovery, LGD before and after the risk sharing, time to cash, the loan
    recovered in full.
    """
    gross, costs, recovery, lgd_gross, lgd, ttc, recovered = per_path
    return MonteCarloResult(
        gross_proceeds=gross,
        costs=costs,
        recovery=recovery,
        lgd_gross=lgd_gross,
        lgd=lgd,
        time_to_cash=ttc,
        default_time=ps.tau,
        mode=ps.mode,
        crash=ps.crash,
        ead=ps.ead,
        seed=ps.seed,
        paths=ps.paths,
        loan_recovered=recovered,
    )


def with_risk_sharing(mc: MonteCarloResult, risk_sharing: RiskSharing) -> MonteCarloResult:
    """``mc`` with the loss split by another risk sharing.

    What :func:`finish_liquidation` gives, to the last bit, for the same setup and sums with a loan that differs
    from ``mc``'s in its risk sharing only: the bank-retained LGD is the one number that reads it.
    """
    loss = mc.ead - mc.recovery
    return replace(mc, lgd=risk_sharing_split(loss, risk_sharing)["bank"] / mc.ead)


def simulate_liquidation(
    pool: LiquidationPool,
    *,
    loan: Loan,
    policy: Policy,
    seed: int,
    paths: int = 20_000,
    start_offset_years: float = 0.0,
    obsolescence_shift: float = 0.0,
    crash_probability: float | None = None,
    block_elements: int = BLOCK_ELEMENTS,
) -> MonteCarloResult:
    """Monte Carlo of the disposal of the pledged patents after a default.

    Three steps, so that a chunked run can do (b) per chunk: (a) :func:`liquidation_paths`, the path-level
    draws; (b) :func:`liquidation_partial_sums`, per-path sums over the patents; (c) :func:`finish_liquidation`,
    recovery, LGD and time to cash from the summed partials.

    Parameters
    ----------
    pool : LiquidationPool
    loan : Loan
        EAD is the loan amount; PD shapes the default time; the interest rate discounts recoveries unless the
        policy sets ``recovery_discount_rate``; ``risk_sharing`` splits the loss.
    policy : Policy
    seed : int
    paths : int
    start_offset_years : float
        Years from ``as_of`` to the loan's start.
    obsolescence_shift : float
        Added to the policy's obsolescence rate (stress tests).
    crash_probability : float, optional
        Overrides the policy's (stress tests; 1.0 = the market has crashed).
    block_elements : int
        Patents x paths per vectorised block (memory bound).

    Returns
    -------
    MonteCarloResult
    """
    setup = liquidation_paths(
        loan=loan,
        policy=policy,
        seed=seed,
        paths=paths,
        start_offset_years=start_offset_years,
        obsolescence_shift=obsolescence_shift,
        crash_probability=crash_probability,
    )
    return finish_liquidation(setup, [liquidation_partial_sums(pool, setup, block_elements=block_elements)])


def scenario_values(
    pool: LiquidationPool,
    *,
    loan: Loan,
    policy: Policy,
    start_offset_years: float = 0.0,
    obsolescence_shift: float = 0.0,
) -> dict[str, float]:
    """Value of ``pool`` at the sale after a default at maturity, per disposal mode (deterministic scenarios).

    ``sum V0 * exp(mu * t) * life run-off`` with ``t`` = maturity + the mode's median time to sale; sums over
    chunks add up to the value of the whole pool (pass them to :func:`deterministic_scenarios` as ``values``).
    """
    pol = policy
    tau = max(start_offset_years + float(loan.tenor_years), 0.0)  # default at maturity
    mu = -(float(pol["obsolescence_rate"]) + obsolescence_shift)
    out = {}
    for mode in MODES:
        t = tau + float(pol["time_to_sale_median_years"][mode])
        out[mode] = float(
            (
                pool.value
                * np.exp(mu * t)
                * life_factor(pool.remaining_life, t, float(pol["life_discount_rate"]))
            ).sum()
        )
    return out


def deterministic_scenarios(
    pool: LiquidationPool | None,
    *,
    loan: Loan,
    policy: Policy,
    start_offset_years: float = 0.0,
    obsolescence_shift: float = 0.0,
    values: dict[str, float] | None = None,
) -> pd.DataFrame:
    """Deterministic disposal scenarios after a default at maturity, the pledged patents sold as one package.

    The table of :func:`deterministic_rows` (same parameters): columns :data:`LIQUIDATION_COLUMNS`.
    """
    rows = deterministic_rows(
        pool,
        loan=loan,
        policy=policy,
        start_offset_years=start_offset_years,
        obsolescence_shift=obsolescence_shift,
        values=values,
    )
    return pd.DataFrame(rows, columns=list(LIQUIDATION_COLUMNS))


def deterministic_rows(
    pool: LiquidationPool | None,
    *,
    loan: Loan,
    policy: Policy,
    start_offset_years: float = 0.0,
    obsolescence_shift: float = 0.0,
    values: dict[str, float] | None = None,
) -> list[dict[str, Any]]:
    """The rows of :func:`deterministic_scenarios`, one dict per scenario.

    The value at the sale is ``V0 * exp(mu * t) * life run-off`` (no invalidation, no diffusion), with
    ``t`` = maturity + the mode's median time to sale. Rows: ``orderly_sale`` (at the median orderly bid),
    ``judicial_first_auction`` (first reserve), ``judicial_second_auction`` (second reserve),
    (``judicial_third_auction`` with three rounds), ``judicial_sale_period`` (变卖 at the last reserve),
    ``judicial_unsold``, ``distressed_sale``
    (median distressed bid times the chance of a sale). ``probability`` is the mode's probability times, for
    judicial rows, the chance that a lot clears that round (see :func:`judicial_round_probabilities`).

    Returns
    -------
    list of dict
        Keys :data:`LIQUIDATION_COLUMNS`; ``basis`` holds the figures that define the scenario (a dict
        with stable keys, no words: :mod:`ipvalue.report.explain` words it in Chinese or English).
    """
    pol = policy
    ead = float(loan.amount)
    rate = _discount_rate(loan, pol)
    fee = float(pol["appraisal_fee"])
    delays = judicial_delays(pol)
    sale_days = float(pol["judicial_sale_period_days"])
    p_mode = pol["mode_probabilities"]
    jp = judicial_round_probabilities(pol)
    rows = []

    if values is None:
        if pool is None:
            raise ValueError("deterministic_scenarios needs the pool or its values at the sale")
        values = scenario_values(
            pool,
            loan=loan,
            policy=pol,
            start_offset_years=start_offset_years,
            obsolescence_shift=obsolescence_shift,
        )

    def value_at(mode: str) -> float:
        return float(values[mode])

    def row(name: str, basis: dict, prob: float, mode: str, share: float, delay: float = 0.0) -> None:
        v = value_at(mode)
        gross = share * v
        var = float(pol["variable_cost"][mode])
        legal = float(pol["legal_cost"][mode]) * ead
        t_cash = float(pol["time_to_sale_median_years"][mode]) + delay
        pv = gross * (1.0 - var) * (1.0 + rate) ** (-t_cash)
        rec = float(np.clip(pv - fee * v - legal, 0.0, ead))
        loss = ead - rec
        bank = float(risk_sharing_split(loss, loan.risk_sharing)["bank"])
        rows.append(
            {
                "scenario": name,
                "basis": basis,
                "probability": prob,
                "gross_proceeds": gross,
                "costs": gross * var + fee * v + legal,
                "recovery": rec,
                "recovery_rate": rec / ead,
                "lgd_gross": loss / ead,
                "lgd": bank / ead,
                "time_to_cash_years": t_cash if gross > 0 else float("nan"),
            }
        )

    m_o = float(pol["bid_median"]["orderly"])
    row(
        "orderly_sale",
        {"bid_median": m_o},
        float(p_mode["orderly"]),
        "orderly",
        m_o,
    )
    reserves = judicial_reserves(pol)
    pj = float(p_mode["judicial"])
    for k, r in enumerate(reserves):
        name = JUDICIAL_ROUNDS[k]
        row(
            f"judicial_{name}",
            {"round": k + 1, "reserve": float(r)},
            pj * jp[name],
            "judicial",
            float(r),
            delays[k],
        )
    r_last = float(reserves[-1])
    row(
        "judicial_sale_period",
        {"days": sale_days, "reserve": r_last},
        pj * jp["sale_period"],
        "judicial",
        r_last,
        delays[-1],
    )
    row(
        "judicial_unsold",
        {},
        pj * jp["unsold"],
        "judicial",
        0.0,
        delays[-1],
    )
    m_d = float(pol["bid_median"]["distressed"])
    p_ns = float(pol["no_sale_probability"]["distressed"])
    row(
        "distressed_sale",
        {"bid_median": m_d, "no_sale_probability": p_ns},
        float(p_mode["distressed"]),
        "distressed",
        m_d * (1.0 - p_ns),
    )
    return rows


def monte_carlo_row(mc: MonteCarloResult, *, summary: dict[str, float] | None = None) -> dict:
    """The Monte Carlo's means as one row of the liquidation table (``summary``: ``mc.summary()`` if known)."""
    s = mc.summary() if summary is None else summary
    return {
        "scenario": "monte_carlo",
        "basis": {
            "paths": int(mc.paths),
            "seed": int(mc.seed),
            "lgd_95": float(s["lgd_95"]),
            "lgd_99": float(s["lgd_99"]),
        },
        "probability": 1.0,
        "gross_proceeds": float(mc.gross_proceeds.mean()),
        "costs": float(mc.costs.mean()),
        "recovery": float(mc.recovery.mean()),
        "recovery_rate": float(mc.recovery.mean() / mc.ead),
        "lgd_gross": float(mc.lgd_gross.mean()),
        "lgd": s["expected_lgd"],
        "time_to_cash_years": s["expected_time_to_cash_years"],
    }
