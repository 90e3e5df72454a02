"""Fixtures of the store tests: an SQLite file and a real PostgreSQL server (nothing mocked)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # _pg

from _pg import PgCluster, find_pg_bin  # noqa: E402


@pytest.fixture(scope="session")
def pg_cluster():
    """A PostgreSQL server in a temporary folder on a loopback port, for the whole session."""
    bin_dir = find_pg_bin()
    if bin_dir is None:
        pytest.fail(
            "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin: "
            "run scripts/install-system-deps.sh (Debian package `postgresql`)"
        )
    cluster = PgCluster(bin_dir).start()
    yield cluster
    cluster.stop()


@pytest.fixture
def pg_url(pg_cluster) -> str:
    """A fresh, empty database on the session's server (its admin URL)."""
    return pg_cluster.url(pg_cluster.create_database())


@pytest.fixture(params=["sqlite", "postgresql"])
def make_store(request, tmp_path):
    """Open a store of each backend (migrated); every store opened is closed at the end."""
    opened = []
    target = {}

    def make(**kwargs):
        from ipvalue.service.store import SQLiteAssessmentStore
        from ipvalue.service.store.postgres import PostgresAssessmentStore

        if request.param == "sqlite":
            s = SQLiteAssessmentStore(tmp_path / "store.db", **kwargs)
        else:
            if "url" not in target:
                target["url"] = request.getfixturevalue("pg_url")
            s = PostgresAssessmentStore(target["url"], migrate=True, **kwargs)
        opened.append(s)
        return s

    make.backend = request.param
    yield make
    for s in opened:
        s.close()
