"""The ``ipvalue`` command line: a thin layer over the library.

Every command takes ``--as-of`` (default: today, printed) and ``--seed``; the computing happens in the library.
A user error (a missing file, an unreadable portfolio, a bad option, bad input named by patent and field) ends
in one line on standard error and exit code 2, never a Python traceback; ``ipvalue --debug <command>`` shows the
traceback. Every command module is imported when the command line starts: a broken one fails loudly.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.exceptions import TyperException

from ipvalue._allocator import tune_allocator
from ipvalue.errors import InputError, IpvalueError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = [
    "app",
    "main",
    "report_command",
    "assess_file",
    "parse_as_of",
    "parse_fx",
    "error_line",
    "read_comparables_file",
    "market_table",
]

app = typer.Typer(
    name="ipvalue",
    help="Value patent portfolios and turn them into pledge-eligible collateral (知识产权质押融资).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _options(
    debug: Annotated[
        bool,
        typer.Option("--debug", help="Show the Python traceback of an error (give it before the command)."),
    ] = False,
) -> None:
    """Value patent portfolios and turn them into pledge-eligible collateral (知识产权质押融资)."""


AsOf = Annotated[str | None, typer.Option("--as-of", help="Valuation date YYYY-MM-DD (default: today).")]
Seed = Annotated[
    int, typer.Option("--seed", help="Root seed of every random draw (recorded in the results).")
]
Comparables = Annotated[
    Path | None,
    typer.Option(
        "--comparables",
        help="Comparable transactions (CSV or XLSX) for the market approach (市场法); the report shows each factor.",
    ),
]


def parse_as_of(value: str | None, *, default: dt.date | None = None) -> dt.date:
    """The ``--as-of`` option as a date; today (printed) when not given, or ``default`` when one is given."""
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


def _print_frame(df: pd.DataFrame, title: str, *, max_rows: int = 80) -> None:
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


def _facts_table(frame: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
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
            "life_y": pd.Series(life, index=frame.index).round(2),
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
    comparables: Comparables = None,
) -> None:
    """Run the whole job offline on the bundled FICTIONAL demo portfolio and print what it finds."""
    import ipvalue as iv
    from ipvalue._gc import gc_paused

    comps = read_comparables_file(comparables)
    # a short run on a fixed 34-patent book: Python's cyclic garbage collector, which walks the whole heap (pandas,
    # numpy, the PDF layout's boxes) every few thousand allocations, is paused until the end (measured in
    # benchmarks/RESULTS.md: ~0.4 s less CPU for ~20 MB more peak memory)
    with gc_paused():
        # the PDF worker imports WeasyPrint and loads the font while this process values and assesses
        worker = None if no_report else iv.report.start_pdf_worker()
        try:
            _demo(worker, as_of, seed, out, lang, no_report, comps)
        finally:
            if worker is not None:
                worker.close()  # write_all closed it already unless something failed before


def _demo(worker: Any, as_of: Any, seed: int, out: Path, lang: str, no_report: bool, comps: Any) -> None:
    """The body of :func:`demo`, with the PDF worker already started (or None).

    The tables are printed while the PDF is laid out (``write_all``'s ``meanwhile``), in the order they are
    computed; the output is the same as printing each as soon as it is known.
    """
    import ipvalue as iv
    from ipvalue.demo import DEMO_AS_OF, load_demo

    frame, loan, _ = load_demo()
    when = parse_as_of(as_of, default=DEMO_AS_OF)
    valued = iv.value_portfolio(frame, as_of=when, rng=seed, comparables=comps)
    assessment = iv.assess_collateral(valued, loan=loan, rng=seed)
    # the demo firm's technology profile, against an invented peer book (300 synthetic firms, no real ones)
    peers = iv.profile.synthetic_book(300, as_of=when, mean_patents=30, seed=3)
    prof = iv.profile_borrower(valued, as_of=when, peers=peers)

    def show() -> None:
        typer.echo(f"Demo portfolio (fictional company {loan.borrower}): {len(frame)} patents")
        _print_frame(_facts_table(frame, when), "Facts and terms")
        cols = [
            c
            for c in (
                "quality_score",
                "value_income",
                "value_cost",
                "value_market",
                "value_option",
                "value",
                "value_p05",
                "value_p95",
                "methods_used",
            )
            if c in valued.columns
        ]
        ccy = valued["currency"].iloc[0] if "currency" in valued else "CNY"
        _print_frame(valued[cols], f"Values ({ccy})")
        _print_summary(assessment)
        typer.echo(
            f"technology profile (against 300 invented peer firms): grade {prof.grade}, score {prof.score:.1f}"
        )

    if no_report:
        show()
        return
    table = market_table(frame, comps, when)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"collateral_report_{lang}{suffix}" for suffix in (".html", ".pdf", ".xlsx")]
    # one HTML rendering feeds the HTML and the PDF; the PDF is laid out in the worker if the machine was not busy
    written = iv.report.write_all(
        assessment, paths, lang=lang, profile=prof, comparables=table, pdf_worker=worker, meanwhile=show
    )
    for path in written:
        typer.echo(f"wrote {path}")


def _print_summary(assessment: Any) -> None:
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
    comparables: Comparables = None,
) -> None:
    """Value every patent of a portfolio (income, cost, real option, and market with --comparables; a range)."""
    import ipvalue as iv

    when = parse_as_of(as_of)
    frame = iv.read_portfolio(portfolio)
    extra = json.loads(assumptions.read_text(encoding="utf-8")) if assumptions else None
    comps = read_comparables_file(comparables)
    valued = iv.value_portfolio(frame, extra, as_of=when, rng=seed, comparables=comps)
    shown = (
        "value",
        "value_p05",
        "value_p95",
        *(("value_market",) if comps is not None else ()),
        "methods_used",
    )
    _print_frame(valued[[c for c in shown if c in valued]], "Values")
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
    fx: Annotated[
        list[str] | None,
        typer.Option(
            "--fx",
            help="Rate into the loan currency, CODE=RATE (loan-currency units per unit of CODE); repeat per currency.",
        ),
    ] = None,
    comparables: Comparables = None,
) -> None:
    """Assess a portfolio as collateral for a loan: eligibility, haircuts, loan sizing, liquidation, stress."""
    import ipvalue as iv

    comps = read_comparables_file(comparables)
    when = parse_as_of(as_of)
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
        as_of=when,
        seed=seed,
        fx=parse_fx(fx),
        comparables=comps,
    )
    _print_summary(assessment)
    if output:
        _write_frame(assessment.patents, output)
        typer.echo(f"wrote {output}")
    if report:
        table = market_table(iv.read_portfolio(portfolio), comps, when)
        iv.report.write(assessment, report, lang=lang, comparables=table)
        typer.echo(f"wrote {report}")


@app.command()
def profile(  # noqa: PLR0913 - one option per flag of the command
    portfolio: Annotated[Path, typer.Argument(help="The borrower's portfolio: CSV, XLSX, JSON or Parquet.")],
    peers: Annotated[
        Path | None,
        typer.Option(
            "--peers", help="Peer firms' patents (CSV or Parquet) with a firm column; without: raw only."
        ),
    ] = None,
    firm_column: Annotated[str, typer.Option("--firm-column", help="The firm column of --peers.")] = "firm",
    firm: Annotated[
        str | None, typer.Option("--firm", help="Borrower name (default: the main owner).")
    ] = None,
    weights: Annotated[Path | None, typer.Option("--weights", help="Profile weight file (JSON).")] = None,
    overlay: Annotated[
        Path | None, typer.Option("--overlay", help="Bank PD notch table (JSON); needs --pd.")
    ] = None,
    pd_: Annotated[float | None, typer.Option("--pd", help="The loan's PD before the overlay.")] = None,
    as_of: AsOf = None,
    lang: Annotated[str, typer.Option("--lang")] = "zh",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the profile as JSON.")] = None,
) -> None:
    """Profile the borrower's technology strength (技术实力画像): indicators, peer percentiles, grade, reasons."""
    import pandas as pd

    import ipvalue as iv

    when = parse_as_of(as_of)
    frame = iv.read_portfolio(portfolio)
    peer_frame = None
    if peers is not None:
        peer_frame = pd.read_parquet(peers) if peers.suffix.lower() == ".parquet" else pd.read_csv(peers)
    loan = None
    if overlay is not None:
        if pd_ is None:
            raise typer.BadParameter("--overlay needs --pd (the loan's PD before the overlay)")
        loan = iv.Loan(amount=1.0, currency="CNY", tenor_years=1.0, probability_of_default=pd_)
    prof = iv.profile_borrower(
        frame, as_of=when, peers=peer_frame, firm=firm, firm_column=firm_column, weights=weights,
        loan=loan, overlay=overlay,
    )  # fmt: skip
    label = "label_zh" if lang == "zh" else "label_en"
    _print_frame(prof.indicators[[label, "value", "percentile", "score"]], f"Technology profile: {prof.firm}")
    typer.echo(f"grade: {prof.grade or '-'}  score: {'-' if prof.score is None else f'{prof.score:.1f}'}")
    for side in ("strongest", "weakest"):
        for line in prof.reasons[lang if lang in ("zh", "en") else "en"][side]:
            typer.echo(f"{side}: {line}")
    for note in prof.notes["zh" if lang == "zh" else "en"]:
        typer.echo(f"note: {note}")
    if prof.overlay is not None:
        typer.echo(f"PD overlay: {prof.overlay['pd_before']:.4%} -> {prof.overlay['pd_after']:.4%}")
    if output:
        output.write_text(json.dumps(prof.to_dict(), ensure_ascii=False, indent=2), encoding="utf-8")
        typer.echo(f"wrote {output}")


def parse_fx(items: list[str] | None) -> dict[str, float] | None:
    """``["USD=7.10", "EUR=7.80"]`` as ``{"USD": 7.1, "EUR": 7.8}``; each rate a positive finite number."""
    if not items:
        return None
    out: dict[str, float] = {}
    for item in items:
        code, sep, rate = item.partition("=")
        try:
            value = float(rate) if sep else float("nan")
        except ValueError:
            value = float("nan")
        if not sep or not code.strip().isalpha() or not math.isfinite(value) or value <= 0:
            raise typer.BadParameter(
                f"--fx takes CODE=RATE with a positive rate (e.g. USD=7.10), got {item!r}"
            )
        out[code.strip().upper()] = value
    return out


def assess_file(
    portfolio: Path,
    *,
    loan: Any,
    policy: str,
    as_of: dt.date,
    seed: int,
    fx: dict[str, float] | None = None,
    comparables: Any = None,
) -> Any:
    """Read, value and assess a portfolio file: the pipeline behind ``ipvalue assess`` and ``ipvalue report``."""
    import ipvalue as iv

    frame = iv.read_portfolio(portfolio)
    valued = iv.value_portfolio(frame, as_of=as_of, rng=seed, comparables=comparables)
    return iv.assess_collateral(valued, loan=loan, policy=policy, rng=seed, fx=fx)


def read_comparables_file(path: Path | None) -> Any:
    """The ``--comparables`` file read by :func:`ipvalue.read_comparables` (None when the option is not given)."""
    if path is None:
        return None
    if not path.exists():
        raise typer.BadParameter(f"--comparables: no file {str(path)!r}")
    import ipvalue as iv

    return iv.read_comparables(path)


def market_table(frame: Any, comparables: Any, as_of: Any) -> Any:
    """The comparables behind ``value_market`` for the report (None without ``--comparables``)."""
    if comparables is None:
        return None
    import ipvalue as iv

    return iv.valuation.market_comparables(frame, as_of=as_of, comparables=comparables)


def _write_frame(df: pd.DataFrame, path: Path) -> None:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        df.to_csv(path, index=False, encoding="utf-8-sig")
    elif suffix == ".xlsx":
        df.to_excel(path, index=False)
    elif suffix == ".parquet":
        df.to_parquet(path)
    else:
        raise typer.BadParameter(f"unsupported output type {suffix!r} (.csv, .xlsx, .parquet)")


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
    from ipvalue.report.assessment_json import assessment_from_json

    return assessment_from_json(data)


def report_command(  # noqa: PLR0913 - one option per flag of the command
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
    from ipvalue.report import write_all

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
    for code in langs:  # one HTML rendering per language feeds its HTML and PDF files
        for path in write_all(assessment, [out / f"{name}_{code}.{fmt}" for fmt in fmts], lang=code):
            typer.echo(f"wrote {path}")


def demo_frame() -> Any:
    """The demo portfolio frame: the facts ``ipvalue fetch`` serves offline when no credentials are set."""
    from ipvalue.demo import load_demo

    return load_demo()[0]


def register_commands() -> None:
    """Add the commands whose implementation lives with the feature they drive (once).

    No import error is hidden: a command module that cannot be imported makes the command line fail loudly.
    """
    if getattr(app, "_ipvalue_registered", False):
        return
    from data_sources.cli import make_fetch_command
    from ipvalue.service import audit_app, monitor_command, serve_command
    from ipvalue.service.store_cli import store_app

    app.command("fetch")(make_fetch_command(demo_frame))
    app.command("report")(report_command)
    app.command("serve")(serve_command)
    app.command("monitor")(monitor_command)
    app.add_typer(store_app, name="store")
    app.add_typer(audit_app, name="audit")
    app._ipvalue_registered = True  # type: ignore[attr-defined]


def error_line(exc: BaseException) -> str:
    """One line for a user error: the problem (patent and field where known), and how many more there are."""
    if isinstance(exc, InputError) and exc.problems:
        first = exc.problems[0]
        where = ", ".join(
            x
            for x in (
                f"patent {first.patent}" if first.patent and first.patent not in first.message else "",
                f"field {first.field}" if first.field and first.field not in first.message else "",
            )
            if x
        )
        more = f" (and {len(exc.problems) - 1} more problem(s))" if len(exc.problems) > 1 else ""
        text = (f"{where}: " if where else "") + first.message.splitlines()[0].strip() + more
    elif isinstance(exc, OSError) and exc.filename is not None:
        text = f"{exc.strerror or type(exc).__name__}: {exc.filename}"
    else:
        text = " ".join(str(exc).split()) or type(exc).__name__
    return "error: " + text


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``ipvalue`` console script: user errors end in one line and exit code 2."""
    args = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in args[: next((i for i, a in enumerate(args) if not a.startswith("-")), len(args))]
    register_commands()
    tune_allocator()  # this process's arrays reuse freed pages (ipvalue._allocator); nothing computed changes
    try:
        code = app(args=args, prog_name="ipvalue", standalone_mode=False)
    except KeyboardInterrupt:  # pragma: no cover
        sys.exit(130)
    except typer.Abort:  # pragma: no cover - an interrupted prompt
        sys.exit(130)
    except TyperException as exc:  # a bad option or argument
        if debug:
            raise
        text = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        typer.echo("error: " + " ".join(text.split()), err=True)
        sys.exit(2)
    except (IpvalueError, OSError, ValueError) as exc:
        if debug:
            raise
        typer.echo(error_line(exc), err=True)
        sys.exit(2)
    except Exception as exc:  # noqa: BLE001 - a bug: one line, the traceback with --debug
        if debug:
            raise
        typer.echo(
            f"internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)", err=True
        )
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":  # pragma: no cover
    main()
