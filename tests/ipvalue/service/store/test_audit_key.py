"""The audit key file made by several server processes starting at once (``ipvalue serve --workers N``).

Each must read one whole key, the same for all: a process that finds the file taken reads the key another
process wrote, never a file still being written (which read as an empty, too-short key and stopped a server's
start-up).
"""

from __future__ import annotations

import multiprocessing
import threading
from pathlib import Path

from ipvalue.service.store.audit import AuditSigner


def _key_of(path: str) -> str:
    return AuditSigner.from_key_file(Path(path)).sign("probe")


def test_threads_starting_at_once_share_one_whole_key(tmp_path):
    for round_ in range(25):
        path = tmp_path / f"k{round_}" / "audit.key"
        start = threading.Barrier(8)
        got: list[str] = []
        errors: list[BaseException] = []

        def go(
            path: Path = path,
            start: threading.Barrier = start,
            got: list[str] = got,
            errors: list[BaseException] = errors,
        ) -> None:
            start.wait()
            try:
                got.append(_key_of(str(path)))
            except BaseException as exc:  # noqa: BLE001 - collected and asserted below
                errors.append(exc)

        threads = [threading.Thread(target=go) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert len(got) == 8 and len(set(got)) == 1  # one key, the same signature everywhere
        text = path.read_text(encoding="ascii").strip()
        assert len(bytes.fromhex(text)) == 32
        assert [p.name for p in path.parent.iterdir()] == ["audit.key"]  # no file of a process left behind


def test_processes_starting_at_once_share_one_whole_key(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    for round_ in range(3):
        path = tmp_path / f"p{round_}" / "audit.key"
        with ctx.Pool(4) as pool:
            got = pool.map(_key_of, [str(path)] * 8)
        assert len(set(got)) == 1
        assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_an_existing_key_is_kept(tmp_path):
    path = tmp_path / "audit.key"
    first = _key_of(str(path))
    before = path.read_bytes()
    assert _key_of(str(path)) == first
    assert path.read_bytes() == before
