"""Where the service keeps assessments and its audit log.

:mod:`ipvalue.service.store.protocol` is the seam (:class:`AssessmentRepository` and the records it takes and
returns); :mod:`ipvalue.service.store.sqlite` is the embedded backend, :mod:`ipvalue.service.store.postgres`
the server backend (psycopg, imported when a ``postgresql://`` store is opened), both on the queries of
:mod:`ipvalue.service.store.sqlbase` and the versioned schema of :mod:`ipvalue.service.store.migrations`;
:func:`open_store` picks one from a path or URL.
"""

from __future__ import annotations

from ipvalue.service.store.location import open_store
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
    sha256_text,
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
    "open_store",
    "result_hash",
    "sha256_json",
    "sha256_text",
]
