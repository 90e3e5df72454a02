"""The workbench: web pages on the service for credit analysts, reviewers and administrators.

``ipvalue serve`` mounts it at ``/web`` (see :func:`ipvalue.web.app.build_workbench`): the same process, store,
pipeline and audit log as the JSON API. Chinese by default, English on a switch. Users are added with
``ipvalue serve --add-user NAME --role analyst|reviewer|admin``.

FastAPI is imported only when the workbench is built, so importing this package stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ipvalue.web.passwords import hash_password, verify_password
from ipvalue.web.settings import WorkbenchSettings

if TYPE_CHECKING:  # pragma: no cover
    from fastapi import FastAPI

__all__ = ["PREFIX", "WorkbenchSettings", "build_workbench", "hash_password", "verify_password", "add_user"]

PREFIX = "/web"


def build_workbench(services: Any, settings: WorkbenchSettings | None = None, **kw: Any) -> FastAPI:
    """The workbench app, to mount at :data:`PREFIX` (see :func:`ipvalue.web.app.build_workbench`)."""
    from ipvalue.web.app import build_workbench as build

    return build(services, settings, **kw)


def add_user(db_path: Any, username: str, role: str, password: str) -> None:
    """Add a workbench user to the service database at ``db_path`` (``ipvalue serve --add-user``).

    ``db_path`` is an SQLite file or a ``postgresql://`` URL (whose schema ``ipvalue store migrate`` made).

    Raises
    ------
    ValueError
        A bad name, role or password (too short); :class:`~ipvalue.service.store.workbench.UserExists` when taken.
    """
    import re

    from ipvalue.service.store.location import open_store
    from ipvalue.service.store.workbench import ROLES, User, WorkbenchRepository
    from ipvalue.web.passwords import check_password_strength

    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", username):
        raise ValueError("username: 1 to 64 letters, digits or . _ -")
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    weak = check_password_strength(password)
    if weak:
        raise ValueError(f"password: {weak}")
    store = open_store(db_path)  # an SQLite file, or a postgresql:// URL
    try:
        if not isinstance(store, WorkbenchRepository):
            raise TypeError(f"{type(store).__name__} keeps no workbench users")
        store.add_user(User(username, role, hash_password(password)))
    finally:
        store.close()
