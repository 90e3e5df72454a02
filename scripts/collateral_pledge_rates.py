"""Print the model-backed pledge rates of the demo and of a synthetic book per preset, and the judicial rounds.

The tables of docs/methodology/collateral.md (section "What the model backs") come from this script:
``python scripts/collateral_pledge_rates.py``. Nothing here is tuned to a book: the presets are used as shipped.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

import ipvalue as iv
from ipvalue.collateral import load_policy
from ipvalue.collateral.haircut import PATENT_COMPONENTS
from ipvalue.collateral.liquidation import judicial_round_probabilities
from ipvalue.demo import load_demo
from ipvalue.valuation._synthetic import synthetic_portfolio

PRESETS = ("cn-bank-standard", "basel-internal", "conservative")


def _rates(a: iv.CollateralAssessment) -> dict:
    p = a.patents[a.patents["eligible"]]
    value = p["value"] * p["fx_rate"]
    retain = np.prod([1.0 - p[f"haircut_{c}"] for c in PATENT_COMPONENTS], axis=0)
    before = value * np.minimum(retain, p["pledge_rate_cap"])
    out = {
        "eligible": f"{len(p)}/{len(a.patents)}",
        "before liquidity": before.sum() / value.sum(),
        "model-backed": p["collateral_value"].sum() / value.sum(),
        "liquidity haircut": a.summary["liquidity_haircut"],
    }
    for t in ("invention", "utility_model"):
        m = p["patent_type"] == t
        out[t] = p.loc[m, "collateral_value"].sum() / value[m].sum() if m.any() else float("nan")
    out["binding"] = ", ".join(f"{k} {v}" for k, v in p["binding_component"].value_counts().items())
    return out


def markdown(frame: pd.DataFrame) -> str:
    """A plain Markdown table (no tabulate dependency)."""
    cols = [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def books() -> dict[str, tuple[pd.DataFrame, iv.Loan]]:
    """The demo book and a synthetic book (200 fictional CN patents, seed 0, 3-year loan at PD 3%)."""
    portfolio, loan, as_of = load_demo()
    demo = iv.value_portfolio(portfolio, as_of=as_of, rng=0)
    synth = iv.value_portfolio(synthetic_portfolio(200, seed=0), as_of="2026-06-30", rng=0)
    synth_loan = iv.Loan(amount=20_000_000, currency="CNY", tenor_years=3.0, probability_of_default=0.03)
    return {"demo": (demo, loan), "synthetic (200 patents)": (synth, synth_loan)}


def main() -> None:
    """Print the two Markdown tables."""
    rows = []
    for book, (valued, loan) in books().items():
        for pol in PRESETS:
            a = iv.assess_collateral(valued, loan=loan, policy=pol, rng=0, paths=20_000, stress=False)
            rows.append({"book": book, "preset": pol, **_rates(a)})
    table = pd.DataFrame(rows)
    for c in ("before liquidity", "model-backed", "liquidity haircut", "invention", "utility_model"):
        table[c] = table[c].map("{:.1%}".format)
    print(markdown(table))
    print()
    pol = load_policy("cn-bank-standard")
    rows = []
    for k in (2, 3):
        p = pol.replace("[C] docs", judicial_auction_rounds=k)
        for label, drop in (
            ("normal market", 0.0),
            ("crashed market, quality 50", float(pol["crash_price_drop"])),
        ):
            q = judicial_round_probabilities(p, crash_drop=drop)
            rows.append({"auctions": k, "market": label, **{n: f"{v:.1%}" for n, v in q.items()}})
    print(markdown(pd.DataFrame(rows).fillna("")))


if __name__ == "__main__":
    main()
