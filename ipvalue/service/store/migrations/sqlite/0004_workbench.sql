-- The workbench (ipvalue.web): people, sessions, checked uploads, reviewer sign-offs and monitoring runs.
-- Passwords are scrypt hashes, sessions keep the SHA-256 of the cookie's token; sign-offs and monitoring
-- runs are append-only.
CREATE TABLE web_users (
    username       TEXT PRIMARY KEY,
    role           TEXT NOT NULL CHECK (role IN ('analyst', 'reviewer', 'admin')),
    password_hash  TEXT NOT NULL,
    active         INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    failed_logins  INTEGER NOT NULL DEFAULT 0,
    locked_until   TEXT,
    created_at     TEXT NOT NULL
);
CREATE TABLE web_sessions (
    token_hash  TEXT PRIMARY KEY,
    username    TEXT NOT NULL REFERENCES web_users (username),
    csrf        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);
CREATE INDEX web_sessions_user ON web_sessions (username);
CREATE TABLE web_uploads (
    id          TEXT PRIMARY KEY,
    username    TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    filename    TEXT NOT NULL,
    n_rows      INTEGER NOT NULL,
    check_json  TEXT NOT NULL,
    rows_json   TEXT NOT NULL
);
CREATE TABLE web_signoffs (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    record_id  TEXT NOT NULL,
    username   TEXT NOT NULL,
    decision   TEXT NOT NULL CHECK (decision IN ('approve', 'reject')),
    comment    TEXT NOT NULL,
    at         TEXT NOT NULL
);
CREATE INDEX web_signoffs_record ON web_signoffs (record_id);
CREATE TRIGGER web_signoffs_no_update BEFORE UPDATE ON web_signoffs
BEGIN SELECT RAISE(ABORT, 'web_signoffs is append-only'); END;
CREATE TRIGGER web_signoffs_no_delete BEFORE DELETE ON web_signoffs
BEGIN SELECT RAISE(ABORT, 'web_signoffs is append-only'); END;
CREATE TABLE web_monitor_runs (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    record_id    TEXT NOT NULL,
    username     TEXT NOT NULL,
    as_of        TEXT NOT NULL,
    level        TEXT NOT NULL,
    report_json  TEXT NOT NULL,
    at           TEXT NOT NULL
);
CREATE INDEX web_monitor_runs_record ON web_monitor_runs (record_id);
CREATE TRIGGER web_monitor_runs_no_update BEFORE UPDATE ON web_monitor_runs
BEGIN SELECT RAISE(ABORT, 'web_monitor_runs is append-only'); END;
CREATE TRIGGER web_monitor_runs_no_delete BEFORE DELETE ON web_monitor_runs
BEGIN SELECT RAISE(ABORT, 'web_monitor_runs is append-only'); END;
