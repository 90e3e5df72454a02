"""``ipvalue serve`` and ``ipvalue monitor``: typer-annotated functions the command line registers.

Only typer is imported here; FastAPI, uvicorn and pandas are imported when a command runs.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = [
    "serve_command",
    "monitor_command",
    "audit_app",
    "audit_verify_command",
    "run_server",
    "verify_database",
]


def serve_command(
    host: Annotated[str, typer.Option(help="Interface to listen on (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    db: Annotated[
        str,
        typer.Option(
            help="SQLite file for assessments and the audit log, or a postgresql://user:pw@host:port/db URL "
            "(several processes and hosts on one database; then --audit-key-file is required).",
            envvar="IPVALUE_DB",
        ),
    ] = "ipvalue-service.db",
    workers: Annotated[
        int, typer.Option(help="Server processes on this port (each with its job runner and webhook sender).")
    ] = 1,
    migrate: Annotated[
        bool, typer.Option(help="Apply missing schema migrations at start (PostgreSQL needs an owner role).")
    ] = False,
    keys_file: Annotated[
        Path | None,
        typer.Option(
            "--keys-file",
            help='JSON file of hashed API keys ({"keys": [...]}); re-read when it changes.',
            envvar="IPVALUE_API_KEYS_FILE",
        ),
    ] = None,
    job_workers: Annotated[int, typer.Option(help="Worker threads for large portfolios.")] = 2,
    job_threshold: Annotated[
        int | None, typer.Option(help="Portfolios with more patents than this run as a background job.")
    ] = None,
    max_patents: Annotated[int | None, typer.Option(help="Most patents in one request.")] = None,
    compute_workers: Annotated[
        int | None, typer.Option(help="Threads for assessments and reports (the bounded executor).")
    ] = None,
    compute_processes: Annotated[
        int | None,
        typer.Option(
            help="Worker processes computing assessments (default: one per core with --workers 1, else 0; "
            "0 computes on the compute threads)."
        ),
    ] = None,
    queue_limit: Annotated[
        int | None, typer.Option(help="Requests that may wait for a compute thread (503 beyond).")
    ] = None,
    audit_key_file: Annotated[
        Path | None,
        typer.Option(help="Key signing the audit trail (default <db>.audit-key, created 0600 when missing)."),
    ] = None,
    audit_anchor: Annotated[
        Path | None,
        typer.Option(help="File of signed audit checkpoints (default <db>.audit-anchor.jsonl)."),
    ] = None,
    shutdown_grace: Annotated[
        float, typer.Option(help="Seconds running work gets to finish after SIGTERM.")
    ] = 10.0,
    add_key: Annotated[
        str | None,
        typer.Option(
            "--add-key", help="Add a key with this id to --keys-file, print its secret once, and exit."
        ),
    ] = None,
    revoke_key: Annotated[
        str | None,
        typer.Option(
            "--revoke-key",
            help="Remove the key with this id from --keys-file and exit (a running service stops accepting it).",
        ),
    ] = None,
    scopes: Annotated[
        str, typer.Option(help="Scopes of --add-key, comma-separated (read,write).")
    ] = "read,write",
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
    add_user: Annotated[
        str | None,
        typer.Option(
            "--add-user",
            help="Add a workbench user to --db (password from IPVALUE_NEW_PASSWORD or asked), and exit.",
        ),
    ] = None,
    role: Annotated[str, typer.Option(help="Role of --add-user: analyst, reviewer or admin.")] = "analyst",
) -> None:
    """Start the HTTP service (API under /v1, workbench pages under /web; see docs/openapi.json and docs/methodology/service.md)."""
    from ipvalue.service.auth import add_key as add_key_to_file
    from ipvalue.service.auth import revoke_key as revoke_key_in_file
    from ipvalue.service.settings import ServiceSettings

    if add_user is not None:
        _add_user(db, add_user, role)
        return

    if add_key is not None or revoke_key is not None:
        if keys_file is None:
            raise typer.BadParameter("--add-key / --revoke-key need --keys-file", param_hint="--keys-file")
        if add_key is not None:
            secret = add_key_to_file(keys_file, add_key, [s.strip() for s in scopes.split(",") if s.strip()])
            typer.echo(secret)
            typer.echo(
                f"key {add_key!r} added to {keys_file}; the secret above is not stored, keep it", err=True
            )
        if revoke_key is not None:
            revoke_key_in_file(keys_file, revoke_key)
            typer.echo(f"key {revoke_key!r} removed from {keys_file}", err=True)
        return

    from ipvalue.service.app import build_app
    from ipvalue.service.store.postgres import is_postgres_url

    if workers < 1:
        raise typer.BadParameter("must be at least 1", param_hint="--workers")
    overrides: dict[str, object] = {
        "job_workers": job_workers,
        "shutdown_grace_s": shutdown_grace,
        "db_migrate": migrate,
    }
    if is_postgres_url(db):
        overrides["db_url"] = db
    else:
        overrides["db_path"] = Path(db)
    for name, value in (
        ("api_keys_file", keys_file),
        ("job_threshold", job_threshold),
        ("max_patents", max_patents),
        ("compute_workers", compute_workers),
        ("compute_processes", compute_processes),
        ("queue_limit", queue_limit),
        ("audit_key_file", audit_key_file),
        ("audit_anchor_file", audit_anchor),
    ):
        if value is not None:
            overrides[name] = value
    if compute_processes is None and not os.environ.get("IPVALUE_COMPUTE_PROCESSES"):
        # one process per core uses every core for the pipeline (threads share one interpreter lock); with
        # several server processes, each computes on its own threads
        cores = os.cpu_count() or 1
        overrides["compute_processes"] = min(cores, 64) if workers == 1 and cores > 1 else 0
    settings = ServiceSettings.from_env(None, **overrides)
    if not settings.api_keys and settings.api_keys_file is None:
        typer.echo("warning: no API keys configured; every authenticated endpoint will answer 401", err=True)
    if workers > 1:
        run_workers(settings, host, port, workers, log_level)
        return
    run_server(build_app(settings), host, port, settings.shutdown_grace_s, log_level)


def run_workers(settings: Any, host: str, port: int, workers: int, log_level: str = "info") -> None:
    """Serve with ``workers`` processes sharing one listening socket (uvicorn's supervisor).

    Each process builds its own app from ``settings`` (passed in ``IPVALUE_SERVICE_SETTINGS``): its own store
    connections, job runner and webhook sender; jobs and deliveries are shared through the database's leases.
    The store is opened (and, with ``--migrate``, migrated) once here first, so a wrong database or schema
    ends the command with one line instead of N failing workers.
    """
    import os

    import uvicorn

    from ipvalue.service.app import SETTINGS_ENV
    from ipvalue.service.store import open_store

    probe = open_store(settings.database, migrate=settings.db_migrate or None)
    probe.close()
    os.environ[SETTINGS_ENV] = settings.model_dump_json()
    uvicorn.run(
        "ipvalue.service.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=max(1, int(settings.shutdown_grace_s)),
    )


def run_server(app: Any, host: str, port: int, grace_s: float, log_level: str = "info") -> None:
    """Serve ``app`` with uvicorn until SIGTERM / SIGINT, then stop within ``grace_s`` (plus a margin).

    Running computations cannot be interrupted inside a thread; when they have not finished in the grace
    period the process exits anyway (``os._exit``): every write is a transaction, and an interrupted job's
    lease lapses so that it is taken up again.
    """
    import logging
    import os

    import uvicorn

    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=max(1, int(grace_s)),
    )
    uvicorn.Server(config).run()
    if not getattr(app.state, "drained", True):
        logging.getLogger("ipvalue.service").warning("work still running after the grace period: exiting")
        logging.shutdown()
        os._exit(0)


audit_app = typer.Typer(help="Check the service's audit trail.", no_args_is_help=True)


@audit_app.command("verify")
def audit_verify_command(
    db: Annotated[
        str, typer.Option(help="Service database: SQLite file or postgresql:// URL.", envvar="IPVALUE_DB")
    ] = "ipvalue-service.db",
    audit_key_file: Annotated[
        Path | None, typer.Option(help="The audit key (default <db>.audit-key; required with a URL).")
    ] = None,
    audit_anchor: Annotated[
        Path | None, typer.Option(help="The checkpoint file (default <db>.audit-anchor.jsonl).")
    ] = None,
) -> None:
    """Verify the audit trail: chain, signatures, checkpoints, and every finished record against its entries.

    Exit code 0 when everything verifies; 1 naming the first bad entry (and how many problems in all).
    """
    code, lines = verify_database(db, audit_key_file, audit_anchor)
    for line in lines:
        typer.echo(line, err=code != 0)
    raise typer.Exit(code)


def verify_database(
    db: str | Path, key_file: Path | None = None, anchor: Path | None = None
) -> tuple[int, list[str]]:
    """Verify the audit trail of the service database ``db`` (path or URL): ``(exit code, report lines)``."""
    from ipvalue.service.settings import ServiceSettings
    from ipvalue.service.store import open_store
    from ipvalue.service.store.audit import AuditSigner, verify_audit
    from ipvalue.service.store.postgres import is_postgres_url

    if is_postgres_url(str(db)):
        if key_file is None:
            raise ValueError(
                "a PostgreSQL database needs --audit-key-file (the key is not kept in the database)"
            )
        key_path, anchor_path = key_file, anchor
    else:
        if not Path(db).is_file():
            raise FileNotFoundError(2, "no database", str(db))
        settings = ServiceSettings(db_path=Path(db), audit_key_file=key_file, audit_anchor_file=anchor)
        key_path, anchor_path = settings.audit_key_path(), settings.audit_anchor_path()
    if not key_path.exists():
        raise FileNotFoundError(2, "no audit key (give --audit-key-file)", str(key_path))
    signer = AuditSigner.from_key_file(key_path, anchor_path)
    store = open_store(db, migrate=False, check=False)
    try:
        verdict = verify_audit(store.raw_audit_rows(), store.finished_records(), signer)
    finally:
        store.close()
    counts = f"{verdict.entries} audit entries, {verdict.checkpoints} checkpoints, {verdict.records} finished records"
    if verdict.ok:
        return 0, [f"audit trail verified: {counts}"]
    more = f" (and {len(verdict.problems) - 1} more problem(s))" if len(verdict.problems) > 1 else ""
    return 1, [f"audit trail does NOT verify: {verdict.first}{more}", counts, *verdict.problems[1:20]]


def _add_user(db: str, username: str, role: str) -> None:
    import os

    from ipvalue.service.store.workbench import UserExists
    from ipvalue.web import add_user

    password = os.environ.get("IPVALUE_NEW_PASSWORD")
    if not password:
        password = getpass.getpass(f"password for {username}: ")
        if getpass.getpass("again: ") != password:
            raise typer.BadParameter("the passwords differ", param_hint="--add-user")
    try:
        add_user(db, username, role, password)
    except (ValueError, UserExists) as exc:
        raise typer.BadParameter(str(exc), param_hint="--add-user") from exc
    typer.echo(f"user {username!r} ({role}) added to {db}", err=True)


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
