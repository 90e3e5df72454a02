"""The HTTP service for loan-origination and collateral-management systems.

``create_app(settings)`` builds a FastAPI application serving ``/v1`` (see ``docs/openapi.json`` and
``docs/methodology/service.md``); ``serve_command`` and ``monitor_command`` are the ``ipvalue serve`` and
``ipvalue monitor`` commands. FastAPI is imported only when an app is built, so importing this module (and the
command line) stays light.

Examples
--------
>>> from ipvalue.service import ServiceSettings, new_api_key
>>> secret, record = new_api_key("loan-system", ["read", "write"])
>>> settings = ServiceSettings(db_path="ipvalue.db", api_keys=[record])
>>> app = create_app(settings)  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from fastapi import FastAPI

    from ipvalue.service.cli import audit_app, monitor_command, serve_command
    from ipvalue.service.pipeline import Pipeline
    from ipvalue.service.settings import ApiKey, ServiceSettings, load_keys_file, new_api_key, verify_api_key
    from ipvalue.service.store import AssessmentRepository, SQLiteAssessmentStore

__all__ = [
    "create_app",
    "ServiceSettings",
    "ApiKey",
    "new_api_key",
    "verify_api_key",
    "load_keys_file",
    "Pipeline",
    "AssessmentRepository",
    "SQLiteAssessmentStore",
    "serve_command",
    "monitor_command",
    "audit_app",
]


def create_app(
    settings: ServiceSettings | None = None,
    *,
    pipeline: Pipeline | None = None,
    store: AssessmentRepository | None = None,
) -> FastAPI:
    """Build the HTTP service (FastAPI is imported here, not when this package is).

    Parameters
    ----------
    settings : ServiceSettings, optional
        Defaults to :meth:`ServiceSettings.from_env` (``IPVALUE_*`` environment variables).
    pipeline : Pipeline, optional
        The computing stages; the defaults are the ipvalue functions.
    store : AssessmentRepository, optional
        Defaults to SQLite at ``settings.db_path``.
    """
    from ipvalue.service.app import build_app

    return build_app(settings, pipeline=pipeline, store=store)


#: where each public name lives; loaded on first use, so that the command line (which imports the commands from
#: here) does not load pydantic, the store or FastAPI before a command runs
_HOME = {
    "Pipeline": "ipvalue.service.pipeline",
    "ServiceSettings": "ipvalue.service.settings",
    "ApiKey": "ipvalue.service.settings",
    "new_api_key": "ipvalue.service.settings",
    "verify_api_key": "ipvalue.service.settings",
    "load_keys_file": "ipvalue.service.settings",
    "AssessmentRepository": "ipvalue.service.store",
    "SQLiteAssessmentStore": "ipvalue.service.store",
    "serve_command": "ipvalue.service.cli",
    "monitor_command": "ipvalue.service.cli",
    "audit_app": "ipvalue.service.cli",
}


def __getattr__(name: str) -> Any:
    if name in _HOME:
        value = getattr(importlib.import_module(_HOME[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'ipvalue.service' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
