"""Launch the service in a real uvicorn process (used by the tests as a subprocess).

    python _server.py --port P --db D --keys-file K [--job-threshold N] [--max-patents N]
                      [--max-body-bytes N] [--facts-file F] [--pipeline fake|real] [--set NAME=JSON ...]

``--pipeline real`` goes through ``ipvalue.service.serve_command`` (the real computing stages); ``fake`` uses the
stand-in stages of ``_fakes.py`` (fetch from ``--facts-file``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--db", type=Path, required=True)
    ap.add_argument("--keys-file", type=Path, required=True)
    ap.add_argument("--job-threshold", type=int, default=200)
    ap.add_argument("--max-patents", type=int, default=5000)
    ap.add_argument("--max-body-bytes", type=int, default=2_000_000)
    ap.add_argument("--facts-file", type=Path, default=None)
    ap.add_argument("--pipeline", choices=("fake", "real"), default="fake")
    ap.add_argument(
        "--fetch-base-urls", default=None, help="JSON object: data_sources fetch through these roots"
    )
    ap.add_argument("--fetch-sources", default=None, help="comma-separated data_sources sources")
    ap.add_argument("--set", action="append", default=[], help="NAME=JSON: any other ServiceSettings field")
    args = ap.parse_args()
    if args.pipeline == "real":
        from ipvalue.service import serve_command

        serve_command(
            host="127.0.0.1",
            port=args.port,
            db=args.db,
            keys_file=args.keys_file,
            job_workers=2,
            job_threshold=args.job_threshold,
            max_patents=args.max_patents,
            add_key=None,
            scopes="read,write",
            log_level="warning",
        )
        return
    from _fakes import fake_pipeline, file_fetch

    from ipvalue.service import ServiceSettings, create_app
    from ipvalue.service.cli import run_server

    extra = {k: json.loads(v) for k, v in (item.split("=", 1) for item in args.set)}
    settings = ServiceSettings(
        db_path=args.db,
        api_keys_file=args.keys_file,
        job_threshold=args.job_threshold,
        max_patents=args.max_patents,
        max_body_bytes=args.max_body_bytes,
        **extra,
    )
    if args.fetch_base_urls:
        from ipvalue.service.pipeline import make_fetch

        fetch = make_fetch(
            args.fetch_sources.split(",") if args.fetch_sources else None, json.loads(args.fetch_base_urls)
        )
    else:
        fetch = file_fetch(args.facts_file) if args.facts_file else None
    pipeline = fake_pipeline(fetch=fetch)
    run_server(
        create_app(settings, pipeline=pipeline), "127.0.0.1", args.port, settings.shutdown_grace_s, "warning"
    )


if __name__ == "__main__":
    main()
