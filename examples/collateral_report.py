"""Assess a portfolio as collateral for a loan and write the credit committee's report.

Run: ``python examples/collateral_report.py --out reports/`` (the bundled fictional demo and its loan).
Writes the report in Chinese and English, as HTML, PDF and Excel.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import ipvalue as iv
from ipvalue.demo import load_demo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("reports"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--policy", default="cn-bank-standard")
    parser.add_argument("--formats", default="html,pdf,xlsx")
    args = parser.parse_args()

    portfolio, loan, as_of = load_demo()
    valued = iv.value_portfolio(portfolio, as_of=as_of, rng=args.seed)
    assessment = iv.assess_collateral(valued, loan=loan, policy=args.policy, rng=args.seed)
    s = assessment.summary
    print(
        f"appraised {s['appraised_value']:,.0f} {s['currency']}, collateral {s['collateral_value']:,.0f}, "
        f"max loan {s['max_loan']:,.0f}, coverage {s['coverage_ratio']:.2f}, expected LGD {s['expected_lgd']:.1%}"
    )
    args.out.mkdir(parents=True, exist_ok=True)
    for lang in ("zh", "en"):
        for fmt in args.formats.split(","):
            path = args.out / f"collateral_report_{lang}.{fmt}"
            iv.report.write(assessment, path, lang=lang)
            print(f"wrote {path}")


if __name__ == "__main__":
    main()
