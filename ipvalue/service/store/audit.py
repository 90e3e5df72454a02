"""The audit trail's anchor outside the database: a signing key and signed checkpoints, and the verifier.

Each audit entry carries ``entry_hash`` (SHA-256 of its fields and of the previous entry's hash, a chain) and
``signature`` = HMAC-SHA256(key, entry_hash). The key lives in a file of its own (the service's settings), not in
the database: someone who can write the database but not read the key can neither forge an entry nor recompute
the chain after an edit. Every ``every`` entries a checkpoint ``{seq, entry_hash, at}``, also signed, is
appended to an anchor file outside the database, so cutting entries off the end of the log is seen as long as a
checkpoint names an entry that is gone.

:func:`verify_audit` checks all of it, and that each finished record's stored input and output still hash to
what its signed audit entries say.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import secrets
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ipvalue.service.store.protocol import AssessmentRecord, canonical_json, result_hash, sha256_json

__all__ = ["AuditSigner", "AuditVerdict", "verify_audit", "GENESIS", "AUDIT_FIELDS", "entry_hash"]

GENESIS = "sha256:" + "0" * 64

#: the fields an entry's hash covers (with ``prev_hash``, the link to the entry before)
AUDIT_FIELDS = (
    "at",
    "action",
    "who",
    "record_id",
    "input_hash",
    "output_hash",
    "version",
    "policy",
    "seed",
    "details_json",
    "prev_hash",
)

#: the audit actions that state a record's output hash (a finished record must have one of them)
RESULT_ACTIONS = ("assessment.create", "valuation.create", "assessment.complete", "valuation.complete")


def entry_hash(row: dict[str, Any]) -> str:
    """``sha256:`` of the canonical JSON of an entry's :data:`AUDIT_FIELDS`."""
    return sha256_json({k: row[k] for k in AUDIT_FIELDS})


def _create_key_file(path: Path) -> None:
    """Write a new key to ``path`` unless another process has: the file appears whole or not at all.

    Several server processes start at once on a fresh key file (``ipvalue serve --workers N``, two instances):
    the key is written to a file of this process's own, then linked to ``path``; a process that finds ``path``
    taken reads the key already there, never a file still being written.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(secrets.token_hex(32) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:  # another process made it first: its key is the key
            pass
    finally:
        tmp.unlink(missing_ok=True)


class AuditSigner:
    """Signs audit entries and writes checkpoints of the head to the anchor file.

    Parameters
    ----------
    key : bytes
        At least 32 bytes of secret.
    anchor : Path, optional
        The checkpoint file (JSON lines, appended); ``None`` writes none.
    every : int
        A checkpoint after every ``every``-th entry.
    """

    def __init__(self, key: bytes, anchor: Path | None = None, every: int = 1):
        if len(key) < 32:
            raise ValueError("the audit key must hold at least 32 bytes")
        self._key = key
        self.anchor = anchor
        self.every = max(1, int(every))
        self._lock = threading.Lock()

    @classmethod
    def from_key_file(cls, path: Path, anchor: Path | None = None, every: int = 1) -> AuditSigner:
        """The signer whose key is in ``path`` (hex); a missing file is created with a new key, mode 0600."""
        path = Path(path)
        if not path.exists():
            _create_key_file(path)
        text = path.read_text(encoding="ascii").strip()
        try:
            key = bytes.fromhex(text)
        except ValueError:
            raise ValueError(f"audit key file {path}: not hex") from None
        return cls(key, anchor, every)

    def sign(self, digest: str) -> str:
        """``hmac-sha256:<hex>`` of ``digest``."""
        return "hmac-sha256:" + hmac.new(self._key, digest.encode("ascii"), hashlib.sha256).hexdigest()

    def valid(self, digest: str, signature: str | None) -> bool:
        """Whether ``signature`` is this key's signature of ``digest`` (constant-time)."""
        return signature is not None and hmac.compare_digest(self.sign(digest), signature)

    def checkpoint_due(self, seq: int) -> bool:
        """Whether the entry ``seq`` is followed by a checkpoint."""
        return self.anchor is not None and seq % self.every == 0

    def write_checkpoint(self, seq: int, head: str) -> None:
        """Append a signed checkpoint of the head ``(seq, head)`` to the anchor file (one line, O_APPEND)."""
        if self.anchor is None:
            return
        body = {"seq": int(seq), "entry_hash": head, "at": dt.datetime.now(dt.UTC).isoformat()}
        line = canonical_json({**body, "signature": self.sign(canonical_json(body))}) + "\n"
        with self._lock:
            self.anchor.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.anchor, os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600)
            try:
                os.write(fd, line.encode("utf-8"))
            finally:
                os.close(fd)

    def checkpoints(self) -> list[tuple[int, dict[str, Any] | None]]:
        """The anchor file's lines: ``(line number, checkpoint)``; ``None`` for a line that does not verify."""
        if self.anchor is None or not self.anchor.exists():
            return []
        out: list[tuple[int, dict[str, Any] | None]] = []
        for n, line in enumerate(self.anchor.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                cp = json.loads(line)
                body = {k: cp[k] for k in ("seq", "entry_hash", "at")}
                ok = self.valid(canonical_json(body), cp.get("signature"))
            except (ValueError, KeyError, TypeError):
                ok = False
            out.append((n, cp if ok else None))
        return out


@dataclass
class AuditVerdict:
    """What :func:`verify_audit` found.

    Attributes
    ----------
    ok : bool
    entries, records, checkpoints : int
        How many were checked.
    problems : list of str
        Every problem, the first bad entry first.
    """

    ok: bool = True
    entries: int = 0
    records: int = 0
    checkpoints: int = 0
    problems: list[str] = field(default_factory=list)

    def fail(self, message: str) -> None:
        """Record a problem."""
        self.ok = False
        self.problems.append(message)

    @property
    def first(self) -> str | None:
        """The first problem found (``None`` when the trail verifies)."""
        return self.problems[0] if self.problems else None


def verify_audit(
    entries: Iterable[dict[str, Any]], records: Iterable[AssessmentRecord], signer: AuditSigner
) -> AuditVerdict:
    """Check the audit log, the checkpoints and the finished records against each other.

    Parameters
    ----------
    entries : iterable of dict
        Every audit entry in sequence order, as stored (``details_json`` or ``details``, ``signature``).
    records : iterable of AssessmentRecord
        Every finished record.
    signer : AuditSigner
        Holds the key and the anchor file.

    Returns
    -------
    AuditVerdict
        Problems in the order: entries (link, hash, signature), checkpoints (signature, entry present and
        equal), records (input and output against their hashes and their signed audit entries).
    """
    v = AuditVerdict()
    prev = GENESIS
    by_seq: dict[int, str] = {}
    result_entries: dict[str, list[dict[str, Any]]] = {}
    for e in entries:
        row = dict(e)
        if "details_json" not in row:
            row["details_json"] = canonical_json(row.get("details", {}))
        seq = int(row["seq"])
        v.entries += 1
        if row["prev_hash"] != prev:
            v.fail(f"audit entry {seq}: the link to the entry before it is broken (an entry was removed)")
        if entry_hash(row) != row["entry_hash"]:
            v.fail(f"audit entry {seq}: its content does not match its hash (edited)")
        if not signer.valid(row["entry_hash"], row.get("signature")):
            v.fail(f"audit entry {seq}: its signature is missing or wrong (written without the audit key)")
        prev = row["entry_hash"]
        by_seq[seq] = row["entry_hash"]
        if row.get("record_id") and row["action"] in RESULT_ACTIONS:
            result_entries.setdefault(row["record_id"], []).append(row)
    head = max(by_seq, default=0)
    for line, cp in signer.checkpoints():
        v.checkpoints += 1
        if cp is None:
            v.fail(f"anchor line {line}: the checkpoint's signature does not verify")
            continue
        seq = int(cp["seq"])
        if seq not in by_seq:
            first_gone = head + 1 if seq > head else seq
            v.fail(
                f"audit entry {first_gone}: missing (entries up to {seq} were signed in checkpoint line "
                f"{line} of the anchor; the log ends at entry {head}): entries were cut off or deleted"
            )
        elif by_seq[seq] != cp["entry_hash"]:
            v.fail(f"audit entry {seq}: differs from the checkpoint signed for it (anchor line {line})")
    seen: set[str] = set()
    for rec in records:
        v.records += 1
        seen.add(rec.id)
        if sha256_json(rec.input) != rec.input_hash:
            v.fail(f"record {rec.id}: its stored input does not match its input hash")
        if rec.status == "done":
            if rec.output is None or result_hash(rec.output) != rec.output_hash:
                v.fail(f"record {rec.id}: its stored output does not match its output hash")
            signed = [e for e in result_entries.get(rec.id, []) if e["output_hash"] is not None]
            if not signed:
                v.fail(f"record {rec.id}: no audit entry states its output hash")
            elif any(e["output_hash"] != rec.output_hash for e in signed):
                seqs = ", ".join(str(e["seq"]) for e in signed if e["output_hash"] != rec.output_hash)
                v.fail(f"record {rec.id}: output hash differs from the one its audit entry {seqs} signed")
            if any(e["input_hash"] not in (None, rec.input_hash) for e in signed):
                v.fail(f"record {rec.id}: input hash differs from the one its audit entries signed")
    for rid, rows in result_entries.items():
        if rid not in seen:
            v.fail(f"audit entry {rows[0]['seq']}: its record {rid} is missing (deleted)")
    return v
