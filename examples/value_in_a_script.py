"""Value a portfolio in a script: read the bank's file, value every patent, look at the range.

Run: ``python examples/value_in_a_script.py [portfolio.csv] [--out valued.csv]``
(defaults to the bundled fictional demo portfolio).
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import ipvalue as iv
from ipvalue.demo import DEMO_AS_OF, demo_portfolio_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("portfolio", nargs="?", default=str(demo_portfolio_path()))
    parser.add_argument("--as-of", default=DEMO_AS_OF.isoformat())
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    as_of = dt.date.fromisoformat(args.as_of)
    portfolio = iv.read_portfolio(args.portfolio)
    valued = iv.value_portfolio(portfolio, as_of=as_of, rng=args.seed)

    cols = [
        "title",
        "legal_status",
        "remaining_life_years",
        "quality_score",
        "value_income",
        "value_cost",
        "value_option",
        "value",
        "value_p05",
        "value_p95",
        "methods_used",
    ]
    top = valued.sort_values("value", ascending=False)[cols].head(10)
    print(
        f"as_of {as_of}, seed {args.seed}: {len(valued)} patents, total value {valued['value'].sum():,.0f} "
        f"{valued['currency'].iloc[0]}"
    )
    print(top.to_string(float_format=lambda v: f"{v:,.0f}"))
    run = valued.attrs["ipvalue"]
    print(f"recorded: version {run['version']}, input hash {run['input_hash'][:12]}..., seed {run['seed']}")
    if args.out:
        valued.to_csv(args.out, index=False, encoding="utf-8-sig")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
