-- The schema of the first release (before versioned migrations): assessments, the append-only audit log,
-- artifacts. Every statement is idempotent, so a database that release created is adopted as version 1.
CREATE TABLE IF NOT EXISTS assessments (
    id              TEXT PRIMARY KEY,
    kind            TEXT NOT NULL CHECK (kind IN ('assessment', 'valuation')),
    status          TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
    progress        REAL NOT NULL DEFAULT 0,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    key_id          TEXT NOT NULL,
    input_json      TEXT NOT NULL,
    output_json     TEXT,
    error_json      TEXT,
    input_hash      TEXT NOT NULL,
    output_hash     TEXT,
    version         TEXT NOT NULL,
    policy          TEXT,
    seed            INTEGER,
    idempotency_key TEXT,
    request_hash    TEXT,
    artifacts       BLOB,
    UNIQUE (key_id, idempotency_key)
);
CREATE INDEX IF NOT EXISTS assessments_status ON assessments (status);

CREATE TABLE IF NOT EXISTS audit_log (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    at           TEXT NOT NULL,
    action       TEXT NOT NULL,
    who          TEXT NOT NULL,
    record_id    TEXT,
    input_hash   TEXT,
    output_hash  TEXT,
    version      TEXT,
    policy       TEXT,
    seed         INTEGER,
    details_json TEXT NOT NULL DEFAULT '{}',
    prev_hash    TEXT NOT NULL,
    entry_hash   TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_log_record ON audit_log (record_id);

CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;

CREATE TRIGGER IF NOT EXISTS assessments_final_no_update BEFORE UPDATE ON assessments
WHEN OLD.status IN ('done', 'failed')
BEGIN SELECT RAISE(ABORT, 'a finished assessment is immutable'); END;
CREATE TRIGGER IF NOT EXISTS assessments_no_delete BEFORE DELETE ON assessments
BEGIN SELECT RAISE(ABORT, 'assessments are never deleted'); END;

CREATE TABLE IF NOT EXISTS artifacts (
    record_id  TEXT NOT NULL REFERENCES assessments (id),
    name       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    data       BLOB NOT NULL,
    PRIMARY KEY (record_id, name)
);

CREATE TABLE IF NOT EXISTS schema_info (name TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT OR IGNORE INTO schema_info (name, value) VALUES ('assessments_schema', '1');
