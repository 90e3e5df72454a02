"""Regenerate the committed OpenAPI document deliberately.

    python -m ipvalue.service.openapi [docs/openapi.json]

The test ``tests/ipvalue/service/test_openapi.py`` fails when the app's contract differs from the committed
file, so a change to the API is always a reviewed change to ``docs/openapi.json``.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["openapi_document", "main"]


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document of an app built with default settings (nothing is opened or written)."""
    from ipvalue.service.app import build_app
    from ipvalue.service.settings import ServiceSettings

    with tempfile.TemporaryDirectory() as tmp:
        return build_app(ServiceSettings(db_path=Path(tmp) / "unused.db")).openapi()


def render(doc: dict[str, Any]) -> str:
    """The committed text form: sorted keys, two-space indent, UTF-8, final newline."""
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write the document (default ``docs/openapi.json`` under the current directory)."""
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0]) if args else Path("docs/openapi.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(openapi_document()), encoding="utf-8")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
