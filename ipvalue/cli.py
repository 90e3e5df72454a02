"""The ``ipvalue`` command line: a thin layer over the library.

Every command takes ``--as-of`` (default: today, printed) and ``--seed``; the computing happens in the library.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["app", "main"]

app = typer.Typer(
    name="ipvalue",
    help="Value patent portfolios and turn them into pledge-eligible collateral (知识产权质押融资).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

AsOf = Annotated[str | None, typer.Option("--as-of", help="Valuation date YYYY-MM-DD (default: today).")]
Seed = Annotated[
    int, typer.Option("--seed", help="Root seed of every random draw (recorded in the results).")
]


def parse_as_of(value: str | None, *, default: dt.date | None = None) -> dt.date:
    if value is None:
        d = default or dt.date.today()
        typer.echo(
            f"as_of: {d.isoformat()}" + (" (default)" if default is None else " (the demo data's date)")
        )
        return d
    try:
        d = dt.date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"--as-of must be YYYY-MM-DD, got {value!r}") from None
    typer.echo(f"as_of: {d.isoformat()}")
    return d


def _print_frame(df, title: str, *, max_rows: int = 80) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, show_lines=False, header_style="bold")
    show_index = df.index.name is not None
    if show_index:
        table.add_column(str(df.index.name), overflow="fold", no_wrap=True)
    for col in df.columns:
        table.add_column(str(col), overflow="fold")
    for idx, row in df.head(max_rows).iterrows():
        cells = [_fmt(v) for v in row.tolist()]
        table.add_row(*([str(idx)] if show_index else []), *cells)
    Console(width=max(100, min(240, 24 * (len(df.columns) + 1)))).print(table)
    if len(df) > max_rows:
        typer.echo(f"... {len(df) - max_rows} more rows")


def _fmt(v: object) -> str:
    import math

    import pandas as pd

    if v is None or v is pd.NaT or v is pd.NA:
        return ""
    if isinstance(v, float):
        if math.isnan(v):
            return "NaN"
        return f"{v:,.2f}" if abs(v) < 100 else f"{v:,.0f}"
    if isinstance(v, pd.Timestamp):
        return v.date().isoformat()
    return str(v)


def _facts_table(frame, as_of: dt.date):
    import pandas as pd

    from ipvalue import terms

    life = terms.remaining_life(frame, as_of)
    expiry = terms.expiry_dates(frame)
    fees = terms.renewal_fees_due(frame, as_of, years=1.0)
    out = pd.DataFrame(
        {
            "type": frame["patent_type"],
            "status": frame["legal_status"],
            "filed": frame["filing_date"],
            "expiry": expiry,
            "life_y": life.round(2),
        },
        index=frame.index,
    )
    out["fees_12m"] = fees["renewal_fees"]
    if "next_fee_due" in fees:
        out["next_fee_due"] = fees["next_fee_due"]
    return out


@app.command()
def demo(
    as_of: AsOf = None,
    seed: Seed = 0,
    out: Annotated[Path, typer.Option("--out", help="Folder for the report files.")] = Path("ipvalue-demo"),
    lang: Annotated[str, typer.Option("--lang", help="Report language: zh or en.")] = "zh",
    no_report: Annotated[bool, typer.Option("--no-report", help="Skip writing the report files.")] = False,
) -> None:
    """Run the whole job offline on the bundled FICTIONAL demo portfolio and print what it finds."""
    import ipvalue as iv
    from ipvalue.demo import DEMO_AS_OF, load_demo

    frame, loan, _ = load_demo()
    when = parse_as_of(as_of, default=DEMO_AS_OF)
    typer.echo(f"Demo portfolio (fictional company {loan.borrower}): {len(frame)} patents")
    _print_frame(_facts_table(frame, when), "Facts and terms")

    valued = iv.value_portfolio(frame, as_of=when, rng=seed)
    cols = [
        c
        for c in (
            "quality_score",
            "value_income",
            "value_cost",
            "value_option",
            "value",
            "value_p05",
            "value_p95",
            "methods_used",
        )
        if c in valued.columns
    ]
    _print_frame(valued[cols], f"Values ({valued['currency'].iloc[0] if 'currency' in valued else 'CNY'})")

    assessment = iv.assess_collateral(valued, loan=loan, rng=seed)
    _print_summary(assessment)
    if not no_report:
        out.mkdir(parents=True, exist_ok=True)
        for suffix in (".html", ".pdf", ".xlsx"):
            path = out / f"collateral_report_{lang}{suffix}"
            iv.report.write(assessment, path, lang=lang)
            typer.echo(f"wrote {path}")


def _print_summary(assessment) -> None:
    import pandas as pd

    pats = assessment.patents
    cols = [
        c
        for c in ("eligible", "ineligible_reasons", "haircut_total", "collateral_value")
        if c in pats.columns
    ]
    _print_frame(pats[cols], "Collateral per patent")
    s = assessment.summary
    rows = [(k, v) for k, v in s.items() if k != "flags"]
    _print_frame(pd.DataFrame(rows, columns=["item", "value"]), f"Collateral summary ({s.get('currency')})")
    if s.get("flags"):
        typer.echo("flags: " + ", ".join(s["flags"]))


@app.command()
def value(
    portfolio: Annotated[Path, typer.Argument(help="Portfolio file: CSV, XLSX, JSON or Parquet.")],
    as_of: AsOf = None,
    seed: Seed = 0,
    assumptions: Annotated[
        Path | None, typer.Option("--assumptions", help="JSON file of valuation assumptions.")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the valued frame (.csv, .xlsx, .parquet).")
    ] = None,
) -> None:
    """Value every patent of a portfolio (income, cost, real option; with a range)."""
    import ipvalue as iv

    when = parse_as_of(as_of)
    frame = iv.read_portfolio(portfolio)
    extra = json.loads(assumptions.read_text(encoding="utf-8")) if assumptions else None
    valued = iv.value_portfolio(frame, extra, as_of=when, rng=seed)
    _print_frame(
        valued[[c for c in ("value", "value_p05", "value_p95", "methods_used") if c in valued]], "Values"
    )
    if output:
        _write_frame(valued, output)
        typer.echo(f"wrote {output}")


@app.command()
def assess(
    portfolio: Annotated[Path, typer.Argument(help="Portfolio file: CSV, XLSX, JSON or Parquet.")],
    loan_amount: Annotated[float, typer.Option("--loan", help="Loan amount.")],
    tenor: Annotated[float, typer.Option("--tenor", help="Loan tenor in years.")] = 3.0,
    currency: Annotated[str, typer.Option("--currency")] = "CNY",
    pd_: Annotated[float | None, typer.Option("--pd", help="Probability of default over the tenor.")] = None,
    borrower: Annotated[str | None, typer.Option("--borrower", help="Borrower name as registered.")] = None,
    policy: Annotated[str, typer.Option("--policy", help="Policy name or JSON file.")] = "cn-bank-standard",
    as_of: AsOf = None,
    seed: Seed = 0,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the per-patent frame.")] = None,
    report: Annotated[
        Path | None, typer.Option("--report", help="Write the report (.html, .pdf, .xlsx).")
    ] = None,
    lang: Annotated[str, typer.Option("--lang")] = "zh",
) -> None:
    """Assess a portfolio as collateral for a loan: eligibility, haircuts, loan sizing, liquidation, stress."""
    import ipvalue as iv

    assessment = assess_file(
        portfolio,
        loan=iv.Loan(
            amount=loan_amount,
            currency=currency,
            tenor_years=tenor,
            probability_of_default=pd_,
            borrower=borrower,
        ),
        policy=policy,
        as_of=parse_as_of(as_of),
        seed=seed,
    )
    _print_summary(assessment)
    if output:
        _write_frame(assessment.patents, output)
        typer.echo(f"wrote {output}")
    if report:
        iv.report.write(assessment, report, lang=lang)
        typer.echo(f"wrote {report}")


def assess_file(portfolio: Path, *, loan, policy: str, as_of: dt.date, seed: int):
    """Read, value and assess a portfolio file: the pipeline behind ``ipvalue assess`` and ``ipvalue report``."""
    import ipvalue as iv

    frame = iv.read_portfolio(portfolio)
    valued = iv.value_portfolio(frame, as_of=as_of, rng=seed)
    return iv.assess_collateral(valued, loan=loan, policy=policy, rng=seed)


def _write_frame(df, path: Path) -> None:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        df.to_csv(path, index=False, encoding="utf-8-sig")
    elif suffix == ".xlsx":
        df.to_excel(path, index=False)
    elif suffix == ".parquet":
        df.to_parquet(path)
    else:
        raise typer.BadParameter(f"unsupported output type {suffix!r} (.csv, .xlsx, .parquet)")


def _register_optional() -> None:
    """Commands whose implementation lives with the feature they drive."""
    try:
        from data_sources.cli import fetch_command
    except ImportError:  # pragma: no cover - the connectors are part of the distribution
        fetch_command = None
    if fetch_command is not None:
        app.command("fetch")(fetch_command)
    for module, names in (("ipvalue.report.cli", ("report",)), ("ipvalue.service", ("serve", "monitor"))):
        try:
            mod = __import__(module, fromlist=["_"])
        except ImportError:
            continue
        for name in names:
            fn = getattr(mod, f"{name}_command", None)
            if fn is not None:
                app.command(name)(fn)


def main() -> None:
    """Entry point of the ``ipvalue`` console script."""
    _register_optional()
    try:
        app()
    except KeyboardInterrupt:  # pragma: no cover
        sys.exit(130)


if __name__ == "__main__":  # pragma: no cover
    main()
