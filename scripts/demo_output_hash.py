"""Print the output hash of the demo assessment (valuation and collateral, stress included).

Used to show that a change of structure moves no number: run it before and after, compare the two lines.
"""

from __future__ import annotations

import hashlib

import pandas as pd

import ipvalue as iv
from ipvalue.demo import load_demo


def _frame_digest(frame: pd.DataFrame) -> str:
    text = frame.sort_index(axis=1).to_csv(float_format="%.17g")
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def main() -> None:
    """Print each part's digest and the combined hash."""
    portfolio, loan, as_of = load_demo()
    valued = iv.value_portfolio(portfolio, as_of=as_of, rng=0)
    assessment = iv.assess_collateral(valued, loan=loan, policy="cn-bank-standard", rng=0)
    parts = {
        "valued": _frame_digest(valued),
        "patents": _frame_digest(assessment.patents),
        "liquidation": _frame_digest(assessment.liquidation),
        "stress": _frame_digest(assessment.stress),
        "summary": hashlib.sha256(repr(sorted((k, repr(v)) for k, v in dict(assessment.summary).items()
                                              if k not in {"created_at"})).encode()).hexdigest(),
    }
    for name, digest in parts.items():
        print(f"{name:12s} {digest[:16]}")
    print("demo-output", hashlib.sha256("".join(parts.values()).encode()).hexdigest())


if __name__ == "__main__":
    main()
