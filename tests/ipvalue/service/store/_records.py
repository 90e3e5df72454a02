"""Records and audit entries for the store tests."""

from __future__ import annotations

import datetime as dt

from ipvalue.service.store import AssessmentRecord, AuditEntry, new_record_id, sha256_json


def record(status="done", idem=None, body=None, key="k1", kind="assessment") -> AssessmentRecord:
    body = body or {"x": 1}
    now = dt.datetime.now(dt.UTC).isoformat()
    out = {"summary": {"v": 2}} if status == "done" else None
    return AssessmentRecord(
        id=new_record_id(kind),
        kind=kind,
        status=status,
        progress=1.0 if out else 0.0,
        created_at=now,
        updated_at=now,
        key_id=key,
        input=body,
        output=out,
        error=None,
        input_hash=sha256_json(body),
        output_hash=sha256_json(out) if out else None,
        version="t",
        policy="p",
        seed=1,
        idempotency_key=idem,
        request_hash=sha256_json(body),
        artifacts=b"\x00\x01draws" if out else None,
    )


def audit(rec, action="assessment.create", **details) -> AuditEntry:
    return AuditEntry(
        action=action,
        who=rec.key_id,
        record_id=rec.id,
        input_hash=rec.input_hash,
        output_hash=rec.output_hash,
        version="t",
        policy="p",
        seed=1,
        details=details,
    )
