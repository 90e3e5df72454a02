from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # _helpers, _fakes

from _helpers import Server  # noqa: E402

from ipvalue.service import new_api_key  # noqa: E402


@dataclass
class Keys:
    rw: str
    ro: str
    wo: str
    other: str
    file: Path


@pytest.fixture(scope="session")
def keys(tmp_path_factory) -> Keys:
    d = tmp_path_factory.mktemp("keys")
    secrets, records = {}, []
    for name, scopes in (
        ("rw", ["read", "write"]),
        ("ro", ["read"]),
        ("wo", ["write"]),
        ("other", ["read", "write"]),
    ):
        secret, rec = new_api_key(f"key-{name}", scopes)
        secrets[name] = secret
        records.append(rec.model_dump(mode="json"))
    path = d / "keys.json"
    path.write_text(json.dumps({"keys": records}), encoding="utf-8")
    return Keys(file=path, **secrets)


@pytest.fixture(scope="session")
def server(tmp_path_factory, keys) -> Server:
    d = tmp_path_factory.mktemp("srv")
    s = Server(
        db=d / "service.db",
        keys_file=keys.file,
        args=["--job-threshold", "20", "--max-patents", "60", "--max-body-bytes", "200000"],
    ).start()
    yield s
    s.stop()


@pytest.fixture
def make_server(tmp_path, keys):
    started: list[Server] = []

    def make(*args: str, db: Path | None = None, env: dict[str, str] | None = None) -> Server:
        s = Server(db=db or tmp_path / "service.db", keys_file=keys.file, args=list(args), env=env or {})
        started.append(s)
        return s

    yield make
    for s in started:
        s.stop()
