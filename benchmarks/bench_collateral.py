"""Benchmark: the liquidation Monte Carlo of ipvalue.collateral (100k paths x 1,000 patents; target < 10 s).

Run as a script: ``python benchmarks/bench_collateral.py [--quick]`` prints the Markdown section and writes it to
``benchmarks/results/collateral.md``. References measured in the same run:

* the floor: drawing the same random numbers (two normals and one exponential per patent and path from the
  per-patent streams) and nothing else;
* the same Monte Carlo processed one patent at a time (vectorised over paths only), the naive way to honour
  per-patent streams;
* before: the liquidation Monte Carlo as it was before Collateral v2 (issue 15; commit ``PRE_V2``: one bid per
  patent, no packages, one 变卖 draw per path), read with ``git show`` and run in this process on the same pool.

Peak memory is the traced allocation peak (numpy reports its buffers to ``tracemalloc``).
"""

from __future__ import annotations

import datetime as dt
import gc
import os
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

AS_OF = dt.date(2026, 6, 30)
#: the last commit with the liquidation Monte Carlo before Collateral v2 (issue 15)
PRE_V2 = "d062f5b"


def previous_liquidation():
    """The pre-v2 ``ipvalue.collateral.liquidation`` module, loaded from git (None outside a git checkout)."""
    import importlib.util
    import subprocess

    root = Path(__file__).resolve().parents[1]
    try:
        src = subprocess.run(
            ["git", "show", f"{PRE_V2}:ipvalue/collateral/liquidation.py"],
            cwd=root,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    spec = importlib.util.spec_from_loader("ipvalue_liquidation_pre_v2", loader=None)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up
    exec(compile(src, f"{PRE_V2}:ipvalue/collateral/liquidation.py", "exec"), mod.__dict__)
    return mod


def synthetic_columns(n: int, seed: int = 0) -> dict:
    """The per-patent columns of a synthetic pledged pool (ids, values, volatilities, lives, scores)."""
    rng = np.random.default_rng(seed)
    return {
        "ids": np.char.add("CN", np.arange(10**8, 10**8 + n).astype(str)),
        "value": rng.lognormal(np.log(1.5e6), 0.8, n),
        "volatility": rng.uniform(0.2, 0.7, n),
        "remaining_life": rng.uniform(3, 18, n),
        "quality_legal": rng.uniform(30, 95, n),
        "quality_score": rng.uniform(30, 95, n),
        "in_litigation": rng.random(n) < 0.03,
    }


def synthetic_pool(n: int, seed: int = 0, *, package_size: int = 1):
    """A pool of ``n`` patents; ``package_size`` > 1 groups consecutive patents into packages (families)."""
    from ipvalue.collateral import LiquidationPool, load_policy

    pol = load_policy("cn-bank-standard")
    cols = synthetic_columns(n, seed)
    package = (
        None if package_size == 1 else np.char.add("family:F", (np.arange(n) // package_size).astype(str))
    )
    return LiquidationPool.build(**cols, policy=pol, package=package), pol


def _timed(fn):
    """Wall time, CPU time of this process and the traced allocation peak (MiB)."""
    gc.collect()
    tracemalloc.start()
    t, c = time.perf_counter(), time.process_time()
    out = fn()
    elapsed, cpu = time.perf_counter() - t, time.process_time() - c
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return out, elapsed, cpu, peak / 2**20


def _draws_only(pool, paths: int, seed: int) -> float:
    from ipvalue._random import patent_rng

    z = np.empty(paths)
    e = np.empty(paths)
    zb = np.empty(paths)
    t, c = time.perf_counter(), time.process_time()
    for pid in pool.ids:
        g = patent_rng(seed, str(pid), "liquidation")
        g.standard_normal(out=z)
        g.standard_exponential(out=e)
        g.standard_normal(out=zb)
    return time.perf_counter() - t, time.process_time() - c


def run(quick: bool = False) -> str:
    """Time the liquidation Monte Carlo and return a Markdown section with the figures."""
    from ipvalue.collateral import Loan, RiskSharing, assess_collateral, simulate_liquidation

    n, paths = (200, 10_000) if quick else (1_000, 100_000)
    pool, pol = synthetic_pool(n)
    loan = Loan(
        amount=0.25 * pool.value.sum(),
        currency="CNY",
        tenor_years=3.0,
        probability_of_default=0.03,
        risk_sharing=RiskSharing(compensation_fund=0.54, insurer=0.16, appraiser=0.04),
    )
    simulate_liquidation(pool, loan=loan, policy=pol, seed=0, paths=1000)  # warm-up (imports, first calls)

    load_before = os.getloadavg()[0]
    mc, t_mc, c_mc, mem_mc = _timed(
        lambda: simulate_liquidation(pool, loan=loan, policy=pol, seed=0, paths=paths)
    )
    s = mc.summary()
    t_draw, c_draw = _draws_only(pool, paths, 0)
    packaged, _ = synthetic_pool(n, package_size=10)
    _, t_pkg, c_pkg, mem_pkg = _timed(
        lambda: simulate_liquidation(packaged, loan=loan, policy=pol, seed=0, paths=paths)
    )
    old = previous_liquidation()
    if old is not None:
        old_pool = old.LiquidationPool.build(**synthetic_columns(n), policy=pol)
        old.simulate_liquidation(old_pool, loan=loan, policy=pol, seed=0, paths=1000)  # warm-up
        old_mc, t_old, c_old, mem_old = _timed(
            lambda: old.simulate_liquidation(old_pool, loan=loan, policy=pol, seed=0, paths=paths)
        )
        old_s = old_mc.summary()
        before_row = f"| before: the pre-v2 Monte Carlo (`{PRE_V2}`, from git), same pool | {t_old:.2f} | {c_old:.2f} | {mem_old:.0f} |"
        before_txt = (
            f" Before v2 on the same pool: expected LGD {old_s['expected_lgd']:.2%}, P(full recovery) "
            f"{old_s['prob_full_recovery']:.1%} (each patent its own buyer, one 变卖 draw per path); "
            f"after / before CPU time: {c_mc / c_old:.2f}."
        )
    else:
        before_row, before_txt = "| before: pre-v2 code not available (no git checkout) | | | |", ""
    naive, t_naive, c_naive, mem_naive = _timed(
        lambda: simulate_liquidation(pool, loan=loan, policy=pol, seed=0, paths=paths, block_elements=paths)
    )
    # reproducibility check on the side: the one-patent-at-a-time run gives the same numbers
    same = bool(np.allclose(naive.lgd, mc.lgd, rtol=0, atol=1e-12))

    # the whole engine on a smaller portfolio frame (eligibility, haircuts, MC, six stress reruns)
    m = 200 if quick else 1_000
    rng = np.random.default_rng(1)
    value = rng.lognormal(np.log(1.5e6), 0.8, m)
    ids = np.char.add("CN", np.arange(2 * 10**8, 2 * 10**8 + m).astype(str))
    frame = pd.DataFrame(
        {
            "patent_id": ids,
            "jurisdiction": "CN",
            "patent_type": np.where(rng.random(m) < 0.7, "invention", "utility_model"),
            "legal_status": np.where(rng.random(m) < 0.9, "granted", "lapsed"),
            "owner": "Borrower Ltd",
            "family_id": np.char.add("F", (np.arange(m) // 3).astype(str)),
            "cpc": np.where(rng.random(m) < 0.5, "H04L 9/00", "G06F 3/01"),
            "group": np.where(rng.random(m) < 0.5, "a", "b"),
            "remaining_life_years": rng.uniform(3, 18, m),
            "quality_legal": rng.uniform(30, 95, m),
            "value": value,
            "value_p05": value * 0.5,
            "value_p50": value,
            "value_p95": value * 2.0,
            "currency": "CNY",
        }
    ).set_index("patent_id", drop=False)
    eng_paths = 2_000 if quick else 20_000
    loan2 = Loan(
        amount=0.2 * value.sum(),
        currency="CNY",
        tenor_years=2.0,
        probability_of_default=0.03,
        borrower="Borrower Ltd",
    )
    gc.collect()
    t, c = (
        time.perf_counter(),
        time.process_time(),
    )  # pandas-heavy: no tracemalloc, whose overhead would dominate
    assess_collateral(frame, loan=loan2, as_of=AS_OF, paths=eng_paths, stress=True)
    t_eng, c_eng = time.perf_counter() - t, time.process_time() - c
    load_after = os.getloadavg()[0]

    if quick:
        target = ""
    else:
        verdict = (
            "met"
            if t_mc < 10
            else ("met on CPU time; wall time inflated by other processes" if c_mc < 10 else "missed")
        )
        target = f" (target < 10 s: **{verdict}**)"
    lines = [
        "## Collateral: liquidation Monte Carlo",
        "",
        f"Portfolio of {n:,} pledged patents, {paths:,} paths (patents x paths = {n * paths:,}); "
        "two draws per patent and path from the per-patent streams, a bid and a 变卖 draw per package and path, "
        "value path, judicial rounds, risk sharing.",
        "",
        f"Machine load average (1 min) {load_before:.1f} before, {load_after:.1f} after, on {os.cpu_count()} cores: "
        "wall time includes waiting for the CPU when other processes run; CPU time is this process's own.",
        "",
        "| run | wall (s) | CPU (s) | peak traced memory (MiB) |",
        "|---|---:|---:|---:|",
        f"| `simulate_liquidation`, blocks of ~1M patent-paths, each patent its own package{target} | {t_mc:.2f} "
        f"| {c_mc:.2f} | {mem_mc:.0f} |",
        f"| `simulate_liquidation`, packages of 10 patents | {t_pkg:.2f} | {c_pkg:.2f} | {mem_pkg:.0f} |",
        before_row,
        f"| reference: the random draws alone (the floor) | {t_draw:.2f} | {c_draw:.2f} | |",
        f"| reference: same model, one patent at a time | {t_naive:.2f} | {c_naive:.2f} | {mem_naive:.0f} |",
        f"| `assess_collateral` on {m:,} patents, {eng_paths:,} paths, with the six stress reruns | {t_eng:.2f} "
        f"| {c_eng:.2f} | |",
        "",
        f"Results: expected LGD (bank-retained) {s['expected_lgd']:.2%} (standard error {s['expected_lgd_stderr']:.2%}), "
        f"95% LGD {s['lgd_95']:.2%}, 99% LGD {s['lgd_99']:.2%}, P(full recovery) {s['prob_full_recovery']:.1%}, "
        f"time to cash {s['expected_time_to_cash_years']:.2f} y. One-patent-at-a-time run gives the same numbers: "
        f"{'yes' if same else 'NO'}. Draws are {c_draw / c_mc:.0%} of the vectorised run's CPU time.{before_txt}",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    quick = "--quick" in sys.argv
    text = run(quick=quick)
    print(text)
    out = Path(__file__).resolve().parent / "results" / "collateral.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(text, encoding="utf-8")
