"""``ipvalue serve`` and ``ipvalue monitor``: typer-annotated functions the command line registers.

Only typer is imported here; FastAPI, uvicorn and pandas are imported when a command runs.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["serve_command", "monitor_command"]


def serve_command(
    host: Annotated[str, typer.Option(help="Interface to listen on (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    db: Annotated[
        Path, typer.Option(help="SQLite file for assessments and the audit log.", envvar="IPVALUE_DB")
    ] = Path("ipvalue-service.db"),
    keys_file: Annotated[
        Path | None,
        typer.Option(
            "--keys-file",
            help='JSON file of hashed API keys ({"keys": [...]}).',
            envvar="IPVALUE_API_KEYS_FILE",
        ),
    ] = None,
    job_workers: Annotated[int, typer.Option(help="Worker threads for large portfolios.")] = 2,
    job_threshold: Annotated[
        int | None, typer.Option(help="Portfolios with more patents than this run as a background job.")
    ] = None,
    max_patents: Annotated[int | None, typer.Option(help="Most patents in one request.")] = None,
    add_key: Annotated[
        str | None,
        typer.Option(
            "--add-key", help="Add a key with this id to --keys-file, print its secret once, and exit."
        ),
    ] = None,
    scopes: Annotated[
        str, typer.Option(help="Scopes of --add-key, comma-separated (read,write).")
    ] = "read,write",
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Start the HTTP service (API under /v1; see docs/openapi.json)."""
    from ipvalue.service.settings import ServiceSettings, load_keys_file, new_api_key

    if add_key is not None:
        if keys_file is None:
            raise typer.BadParameter("--add-key needs --keys-file", param_hint="--keys-file")
        records = load_keys_file(keys_file) if keys_file.exists() else []
        if any(r.id == add_key for r in records):
            raise typer.BadParameter(f"a key with id {add_key!r} already exists", param_hint="--add-key")
        secret, record = new_api_key(add_key, [s.strip() for s in scopes.split(",") if s.strip()])
        records.append(record)
        keys_file.write_text(
            json.dumps({"keys": [r.model_dump(mode="json") for r in records]}, indent=2), encoding="utf-8"
        )
        typer.echo(secret)
        typer.echo(f"key {add_key!r} added to {keys_file}; the secret above is not stored, keep it", err=True)
        return

    import uvicorn

    from ipvalue.service.app import build_app

    overrides: dict[str, object] = {"db_path": db, "job_workers": job_workers}
    if keys_file is not None:
        overrides["api_keys"] = load_keys_file(keys_file)
    if job_threshold is not None:
        overrides["job_threshold"] = job_threshold
    if max_patents is not None:
        overrides["max_patents"] = max_patents
    settings = ServiceSettings.from_env(None, **overrides)
    if not settings.api_keys:
        typer.echo("warning: no API keys configured; every authenticated endpoint will answer 401", err=True)
    app = build_app(settings)
    uvicorn.run(app, host=host, port=port, log_level=log_level, proxy_headers=False, server_header=False)


def monitor_command(
    assessment_id: Annotated[str | None, typer.Option("--id", help="Assessment id in --db.")] = None,
    db: Annotated[
        Path | None, typer.Option(help="Service database holding the assessment.", envvar="IPVALUE_DB")
    ] = None,
    snapshot: Annotated[
        Path | None,
        typer.Option(help="Assessment JSON (as GET /v1/assessments/{id} returns it) instead of --id/--db."),
    ] = None,
    facts: Annotated[
        Path | None,
        typer.Option(help="Current facts as a portfolio file; fetched through data_sources when omitted."),
    ] = None,
    as_of: Annotated[
        str | None, typer.Option(help="Check date, YYYY-MM-DD (default: today, printed).")
    ] = None,
    within_days: Annotated[int, typer.Option(help="Warn of renewal fees due within this many days.")] = 90,
    revalue: Annotated[bool, typer.Option(help="Re-value to check collateral coverage.")] = True,
    output: Annotated[Path | None, typer.Option(help="Write the JSON report here (default: stdout).")] = None,
    all_: Annotated[
        bool, typer.Option("--all", help="Check every finished assessment in --db (one report each).")
    ] = False,
) -> None:
    """Post-loan monitoring (贷后管理) of a pledged portfolio.

    Exit code: 0 no event, 1 warnings, 2 critical events, 3 the check could not run (with --all: the worst
    over all assessments).
    """
    from ipvalue.monitor import EXIT_ERROR

    try:
        code, report = _monitor(assessment_id, db, snapshot, facts, as_of, within_days, revalue, all_)
    except Exception as exc:  # noqa: BLE001 - a scheduler needs an exit code, not a traceback
        typer.echo(f"monitor: {exc}", err=True)
        raise typer.Exit(EXIT_ERROR) from exc
    text = json.dumps(report, ensure_ascii=False, indent=2)
    if output is not None:
        output.write_text(text + "\n", encoding="utf-8")
    else:
        typer.echo(text)
    raise typer.Exit(code)


def _monitor(
    assessment_id: str | None,
    db: Path | None,
    snapshot: Path | None,
    facts: Path | None,
    as_of: str | None,
    within_days: int,
    revalue: bool,
    all_: bool = False,
) -> tuple[int, dict]:
    from ipvalue._version import __version__
    from ipvalue.monitor import EXIT_ERROR
    from ipvalue.service.pipeline import Pipeline, monitor_record
    from ipvalue.service.store import AuditEntry, SQLiteAssessmentStore, sha256_json

    if as_of is None:
        day = dt.date.today()
        print(f"as_of: {day.isoformat()} (today)", file=sys.stderr)
    else:
        day = dt.date.fromisoformat(as_of)
    store = None
    targets: list[tuple[dict, dict | None, str | None]] = []
    if snapshot is not None:
        data = json.loads(snapshot.read_text(encoding="utf-8"))
        targets.append((data, data.get("request"), data.get("id")))
    elif db is not None and (assessment_id is not None or all_):
        if not db.exists():
            raise FileNotFoundError(f"no database at {db}")
        store = SQLiteAssessmentStore(db)
        ids = (
            [assessment_id] if assessment_id is not None else store.list_ids(kind="assessment", status="done")
        )
        for i in ids:
            rec = store.get(i)
            if rec is None or rec.kind != "assessment" or rec.status != "done":
                store.close()
                raise LookupError(f"no finished assessment {i!r} in {db}")
            targets.append((rec.output or {}, rec.input, rec.id))
    else:
        raise ValueError("give --id with --db, --all with --db, or --snapshot")
    pipeline = Pipeline()
    fetch: Callable[[list[str]], Any] = pipeline.fetch
    if facts is not None:
        from ipvalue import read_portfolio

        current = read_portfolio(facts)

        def fetch(ids: list[str]) -> Any:
            return current

    reports = []
    try:
        for output, request, record_id in targets:
            try:
                report = monitor_record(
                    pipeline,
                    output,
                    request,
                    as_of=day,
                    within_days=within_days,
                    fetch=fetch,
                    revalue=revalue,
                )
            except Exception as exc:  # noqa: BLE001 - with --all one failure must not hide the others
                if not all_:
                    raise
                report = {
                    "as_of": day.isoformat(),
                    "level": "error",
                    "exit_code": EXIT_ERROR,
                    "error": str(exc),
                }
            report = {"assessment_id": record_id, **report}
            if store is not None:
                store.append_audit(
                    AuditEntry(
                        action="monitor.run",
                        who=f"cli:{getpass.getuser()}",
                        record_id=record_id,
                        output_hash=sha256_json(report),
                        version=__version__,
                        details={"level": report["level"], "n_events": len(report.get("events", []))},
                    )
                )
            reports.append(report)
    finally:
        if store is not None:
            store.close()
    code = max((int(r["exit_code"]) for r in reports), default=0)
    if all_:
        return code, {
            "as_of": day.isoformat(),
            "exit_code": code,
            "n_assessments": len(reports),
            "assessments": reports,
        }
    return code, reports[0]
