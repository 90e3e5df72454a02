"""``ipvalue report``: write the collateral report in every format (registered by :mod:`ipvalue.cli`).

The source is either a portfolio file (CSV, XLSX, JSON or Parquet; it is valued and assessed against the loan
given by the options) or an assessment saved as JSON in the service's format (``summary``, ``patents``, ``loan``,
...), which is reported as it is.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["report_command"]

_FORMATS = ("html", "pdf", "xlsx")


def _saved_assessment(path: Path) -> Any | None:
    """The assessment stored in ``path`` when it is an assessment JSON, else ``None`` (a portfolio)."""
    if path.suffix.lower() != ".json":
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise typer.BadParameter(f"cannot read {path}: {exc}") from None
    if not (isinstance(data, dict) and {"summary", "patents", "loan"} <= set(data)):
        return None
    from ipvalue._service.serialize import assessment_from_json

    return assessment_from_json(data)


def report_command(
    source: Annotated[
        Path,
        typer.Argument(
            help="Portfolio file (CSV, XLSX, JSON, Parquet) or a saved assessment (JSON).", exists=True
        ),
    ],
    loan_amount: Annotated[
        float | None, typer.Option("--loan", help="Loan amount (with a portfolio).")
    ] = None,
    tenor: Annotated[float, typer.Option("--tenor", help="Loan tenor in years.")] = 3.0,
    currency: Annotated[str, typer.Option("--currency")] = "CNY",
    pd_: Annotated[float | None, typer.Option("--pd", help="Probability of default over the tenor.")] = None,
    borrower: Annotated[str | None, typer.Option("--borrower", help="Borrower name as registered.")] = None,
    policy: Annotated[str, typer.Option("--policy", help="Policy name or JSON file.")] = "cn-bank-standard",
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Valuation date YYYY-MM-DD (default: today).")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Root seed of every random draw.")] = 0,
    out: Annotated[Path, typer.Option("--out", help="Folder for the report files.")] = Path("ipvalue-report"),
    lang: Annotated[str, typer.Option("--lang", help="zh, en or both.")] = "zh",
    formats: Annotated[
        str, typer.Option("--format", help="Comma-separated: html,pdf,xlsx.")
    ] = "html,pdf,xlsx",
    name: Annotated[str, typer.Option("--name", help="File name stem.")] = "collateral_report",
) -> None:
    """Write the collateral report (HTML, PDF and Excel; Chinese and/or English) of a portfolio or an assessment."""
    from ipvalue.report import write

    langs = ("zh", "en") if lang == "both" else (lang,)
    if any(x not in ("zh", "en") for x in langs):
        raise typer.BadParameter(f"--lang must be zh, en or both, got {lang!r}")
    fmts = [f.strip().lower().lstrip(".") for f in formats.split(",") if f.strip()]
    bad = [f for f in fmts if f not in _FORMATS]
    if bad or not fmts:
        raise typer.BadParameter(f"--format takes html, pdf and xlsx, got {formats!r}")

    assessment = _saved_assessment(source)
    if assessment is None:
        if loan_amount is None:
            raise typer.BadParameter("--loan is required when the source is a portfolio")
        import ipvalue as iv
        from ipvalue.cli import assess_file, parse_as_of

        loan = iv.Loan(
            amount=loan_amount,
            currency=currency,
            tenor_years=tenor,
            probability_of_default=pd_,
            borrower=borrower,
        )
        assessment = assess_file(source, loan=loan, policy=policy, as_of=parse_as_of(as_of), seed=seed)
    else:
        typer.echo(f"assessment read from {source} (as_of {assessment.summary.get('as_of')})")

    out.mkdir(parents=True, exist_ok=True)
    for code in langs:
        for fmt in fmts:
            path = write(assessment, out / f"{name}_{code}.{fmt}", lang=code)
            typer.echo(f"wrote {path}")
