"""Where the service keeps assessments and its audit log.

:mod:`ipvalue.service.store.protocol` is the seam (:class:`AssessmentRepository` and the records it takes and
returns); :mod:`ipvalue.service.store.sqlite` is the embedded backend.
"""

from __future__ import annotations

from ipvalue.service.store.protocol import (
    AssessmentRecord,
    AssessmentRepository,
    AuditEntry,
    AuditLogError,
    IdempotencyConflict,
    LeaseLost,
    StoreUnavailable,
    canonical_json,
    new_record_id,
    result_hash,
    sha256_json,
)
from ipvalue.service.store.sqlite import SQLiteAssessmentStore

__all__ = [
    "AssessmentRecord",
    "AssessmentRepository",
    "AuditEntry",
    "AuditLogError",
    "IdempotencyConflict",
    "LeaseLost",
    "StoreUnavailable",
    "SQLiteAssessmentStore",
    "canonical_json",
    "new_record_id",
    "result_hash",
    "sha256_json",
]
