"""``ipvalue store export`` / ``import``: a store's data as checksummed JSON lines, from any backend to any other.

The file is the path from the embedded SQLite to a server database, and a backup a bank can restore:

* line 1, the header: ``{"format": "ipvalue-store", "format_version": 1, "schema_version", "backend",
  "exported_at", "ipvalue_version"}``;
* one line per row: ``{"table": name, "row": {column: value}}``, every column as stored (timestamps, JSON text,
  hashes, signatures), binary values as ``{"$base64": "..."}``; tables in foreign-key order;
* the last line: ``{"end": true, "rows": {table: count}, "sha256": hex}``, the SHA-256 of every byte before it.

An import checks the checksum and the counts before it writes anything, goes only into an empty database at the
same schema version, writes everything in one transaction, and then verifies the audit chain: the imported
log is the same chain, entry for entry.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import IO, Any

from ipvalue.service.store.sqlbase import SqlStore

__all__ = ["export_store", "import_store", "read_export", "TransferError", "FORMAT", "FORMAT_VERSION"]

FORMAT = "ipvalue-store"
FORMAT_VERSION = 1


class TransferError(ValueError):
    """An export file that cannot be imported (damaged, truncated, another schema, a database not empty)."""


def _encode(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return {"$base64": base64.b64encode(bytes(value)).decode("ascii")}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"$base64"}:
        return base64.b64decode(value["$base64"])
    return value


def _line(obj: Any) -> bytes:
    return (json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False) + "\n").encode(
        "utf-8"
    )


def export_store(store: SqlStore, out: IO[bytes]) -> dict[str, int]:
    """Write every data table of ``store`` to ``out`` (binary); the number of rows per table."""
    from ipvalue._version import __version__

    digest = hashlib.sha256()

    def write(obj: Any) -> None:
        data = _line(obj)
        digest.update(data)
        out.write(data)

    write(
        {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "schema_version": store.schema_version(),
            "backend": store.backend,
            "exported_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "ipvalue_version": __version__,
        }
    )
    counts: dict[str, int] = {}
    for table in store.data_tables():
        counts[table] = 0
        for row in store.dump_table(table):
            write({"table": table, "row": {k: _encode(v) for k, v in row.items()}})
            counts[table] += 1
    out.write(_line({"end": True, "rows": counts, "sha256": digest.hexdigest()}))
    return counts


def read_export(path: str | Path) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    """Read and check an export file: its header and its rows per table (in the file's order).

    Raises
    ------
    TransferError
        Not an export, a line that is not JSON, a missing end line (truncated), a checksum or a row count that
        does not match (damaged or edited).
    """
    raw = Path(path).read_bytes()
    lines = raw.splitlines(keepends=True)
    if not lines:
        raise TransferError(f"{path}: empty file")
    try:
        header = json.loads(lines[0])
        end = json.loads(lines[-1])
    except ValueError as exc:
        raise TransferError(f"{path}: not an ipvalue store export ({exc})") from exc
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise TransferError(f"{path}: not an ipvalue store export (no header line)")
    if header.get("format_version") != FORMAT_VERSION:
        raise TransferError(
            f"{path}: export format version {header.get('format_version')}, expected {FORMAT_VERSION}"
        )
    if not isinstance(end, dict) or end.get("end") is not True or len(lines) < 2:
        raise TransferError(f"{path}: the end line is missing (the file is truncated)")
    digest = hashlib.sha256(b"".join(lines[:-1])).hexdigest()
    if digest != end.get("sha256"):
        raise TransferError(f"{path}: checksum mismatch (the file was damaged or edited)")
    tables: dict[str, list[dict[str, Any]]] = {}
    for n, line in enumerate(lines[1:-1], start=2):
        try:
            item = json.loads(line)
            table, row = item["table"], item["row"]
        except (ValueError, KeyError, TypeError) as exc:
            raise TransferError(f"{path}: line {n} is not a row") from exc
        tables.setdefault(table, []).append({k: _decode(v) for k, v in row.items()})
    counts = {t: len(r) for t, r in tables.items()}
    expected = {t: n for t, n in end.get("rows", {}).items() if n}
    if counts != expected:
        raise TransferError(f"{path}: row counts {counts} differ from the end line's {expected}")
    return header, tables


def import_store(store: SqlStore, path: str | Path) -> dict[str, Any]:
    """Load an export into an empty ``store`` at the export's schema version, and verify the audit chain.

    Returns
    -------
    dict
        ``{"rows": {table: count}, "audit_entries": n, "audit_head": entry_hash or None}``.

    Raises
    ------
    TransferError
        The file does not check out, the schema versions differ, or the database already holds data.
    """
    header, tables = read_export(path)
    have = store.schema_version()
    if header["schema_version"] != have:
        raise TransferError(
            f"the export has schema version {header['schema_version']}, the database {have}: "
            "migrate both to this release's version (`ipvalue store migrate`) and export again"
        )
    if not store.is_empty():
        raise TransferError("the database already holds data; import only into an empty database")
    order = [t for t in store.data_tables() if t in tables] + sorted(set(tables) - set(store.data_tables()))
    counts = store.load_tables((t, tables[t]) for t in order)
    n = store.verify_audit_chain()
    audit = tables.get("audit_log", [])
    return {"rows": counts, "audit_entries": n, "audit_head": audit[-1]["entry_hash"] if audit else None}
