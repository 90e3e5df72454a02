"""A small stand-in for the valuation and collateral stages, so the service's own tests exercise the HTTP stack,
storage and security without depending on the models (the real stages have their own integration test).

The numbers follow simple closed forms so that tests can check them: value = 10,000 x claims (0 unless granted),
collateral value = value x (1 - 0.4) for eligible patents, coverage = collateral / loan.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ipvalue.collateral._assessment import CollateralAssessment
from ipvalue.facts.patent import Patent, patents_to_frame
from ipvalue.service.pipeline import Pipeline

POLICIES = [{"name": "cn-bank-standard", "description": "fake standard"}, {"name": "conservative"}]
HAIRCUT = {"cn-bank-standard": 0.4, "conservative": 0.6}


def read(rows: list[dict[str, Any]]) -> pd.DataFrame:
    patents = [Patent(**r) for r in rows]
    df = patents_to_frame(patents)
    if df.index.duplicated().any():
        dup = df.index[df.index.duplicated()][0]
        raise ValueError(f"patent {dup}: duplicate patent_id")
    return df


def directives(frame: pd.DataFrame) -> dict[str, str]:
    """What the test asks the fake to do: patent titles ``fake:<name>[=<argument>]``."""
    out = {}
    titles = frame["title"] if "title" in frame.columns else []
    for t in titles:
        if isinstance(t, str) and t.startswith("fake:"):
            name, _, arg = t[5:].partition("=")
            out[name] = arg
    return out


def value(portfolio: pd.DataFrame, assumptions: dict | None, *, as_of: dt.date, rng: int) -> pd.DataFrame:
    assumptions = assumptions or {}
    do = directives(portfolio)
    if "log" in do:  # one line per computation: which process ran it
        with open(do["log"], "a", encoding="utf-8") as fh:
            fh.write(f"{os.getpid()}\n")
    if "explode" in do:
        raise RuntimeError("secret internal detail: /etc/ipvalue/credentials")
    if "kill" in do:  # the computation kills its process (a crash, an out-of-memory kill)
        os.kill(os.getpid(), signal.SIGKILL)
    if "sleep" in do:
        time.sleep(float(do["sleep"]))
    if "wait_for" in do:  # block until the test creates this file (a job caught mid-run)
        deadline = time.monotonic() + 60
        while not Path(do["wait_for"]).exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    out = portfolio.copy()
    claims = pd.to_numeric(out.get("claims"), errors="coerce").fillna(1).to_numpy(dtype=float)
    alive = (out["legal_status"] == "granted").to_numpy()
    scale = float((assumptions or {}).get("scale", 1.0))
    out["value"] = np.where(alive, 10_000.0 * claims * scale, 0.0)
    out["value_p05"], out["value_p95"] = out["value"] * 0.5, out["value"] * 1.5
    out.attrs["ipvalue"] = {
        "as_of": as_of.isoformat(),
        "seed": rng,
        "version": "fake",
        "input_hash": "x",
        "assumptions": assumptions or {},
    }
    return out


def assess(valued: pd.DataFrame, *, loan: Any, policy: str | dict, rng: int) -> CollateralAssessment:
    name = policy if isinstance(policy, str) else policy.get("name", "inline")
    if isinstance(policy, str) and policy not in HAIRCUT:
        raise KeyError(f"unknown policy {policy!r}")
    h = HAIRCUT.get(name, float(policy.get("haircut", 0.5)) if isinstance(policy, dict) else 0.5)
    p = valued.copy()
    p["eligible"] = (p["legal_status"] == "granted") & ~p["pledged"].astype(bool)
    p["ineligible_reasons"] = np.where(p["eligible"], "", "NOT_GRANTED")
    p["haircut_total"] = h
    p["collateral_value"] = np.where(p["eligible"], p["value"] * (1 - h), 0.0)
    cv = float(p["collateral_value"].sum())
    summary = {
        "currency": loan.currency,
        "as_of": valued.attrs["ipvalue"]["as_of"],
        "policy": name,
        "seed": rng,
        "n_patents": len(p),
        "n_eligible": int(p["eligible"].sum()),
        "appraised_value": float(p["value"].sum()),
        "collateral_value": cv,
        "max_loan": cv * 0.8,
        "loan_amount": loan.amount,
        "coverage_ratio": cv / loan.amount,
        "expected_loss": float("nan"),
        "flags": [],
    }
    draws = np.random.default_rng(rng).uniform(0, 1, 200)
    return CollateralAssessment(
        patents=p,
        summary=summary,
        liquidation=pd.DataFrame({"scenario": ["base"], "recovery": [cv * 0.5]}),
        stress=pd.DataFrame({"shock": ["none"], "collateral_value": [cv]}),
        recovery_draws=draws,
        loan=loan,
        policy={"name": name, "haircut": h},
        assumptions=pd.DataFrame({"name": ["haircut"], "value": [h], "source": ["fake"]}),
        audit={"seed": rng, "policy": name},
    )


def report(assessment: CollateralAssessment, path, lang: str) -> None:
    do = directives(assessment.patents)
    if "report_sleep" in do:
        time.sleep(float(do["report_sleep"]))
    s = assessment.summary
    path.write_text(
        f"<html><body lang='{lang}'>collateral {s['collateral_value']:.2f} "
        f"{s['currency']} n={len(assessment.patents)} draws={len(assessment.recovery_draws)}"
        f"</body></html>",
        encoding="utf-8",
    )


def fake_pipeline(fetch=None) -> Pipeline:
    kw = {"fetch": fetch} if fetch is not None else {}
    return Pipeline(read=read, value=value, assess=assess, policies=lambda: POLICIES, report=report, **kw)


def file_fetch(path: Path):
    """A fetch that reads the current facts from a JSON file (a list of patents); the test rewrites the file
    between two fetches. Numbers absent from the file are left out (the monitor reports them unavailable)."""

    def fetch(numbers: list[str]) -> pd.DataFrame:
        rows = json.loads(Path(path).read_text(encoding="utf-8"))
        by_id = {Patent(**r).patent_id: r for r in rows}
        wanted = [Patent(patent_id=n).patent_id for n in numbers]
        return (
            read([by_id[n] for n in wanted if n in by_id])
            if any(n in by_id for n in wanted)
            else patents_to_frame([])
        )

    return fetch
