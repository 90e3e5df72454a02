-- Alerts pushed to loan systems: subscriptions per API key, alerts, the outbox (one delivery per alert and
-- subscription, written in the alert's transaction) and the delivery log (one row per attempt, append-only).
CREATE TABLE webhooks (
    id         TEXT PRIMARY KEY,
    key_id     TEXT NOT NULL,
    url        TEXT NOT NULL,
    secret     TEXT NOT NULL,
    created_at TEXT NOT NULL,
    active     INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1))
);
CREATE INDEX webhooks_key ON webhooks (key_id);

CREATE TABLE alerts (
    id           TEXT PRIMARY KEY,
    key_id       TEXT NOT NULL,
    record_id    TEXT,
    created_at   TEXT NOT NULL,
    payload_json TEXT NOT NULL
);

CREATE TABLE webhook_outbox (
    id              TEXT PRIMARY KEY,
    webhook_id      TEXT NOT NULL REFERENCES webhooks (id),
    alert_id        TEXT NOT NULL REFERENCES alerts (id),
    created_at      TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'delivered')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    lease_owner     TEXT,
    lease_until     REAL,
    delivered_at    TEXT,
    last_error      TEXT,
    UNIQUE (webhook_id, alert_id)
);
CREATE INDEX webhook_outbox_due ON webhook_outbox (status, next_attempt_at);

CREATE TABLE webhook_attempts (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id TEXT NOT NULL REFERENCES webhook_outbox (id),
    attempt     INTEGER NOT NULL,
    at          TEXT NOT NULL,
    worker      TEXT NOT NULL,
    outcome     TEXT NOT NULL CHECK (outcome IN ('delivered', 'http_error', 'timeout', 'connection_error')),
    status_code INTEGER,
    error       TEXT,
    duration_ms REAL NOT NULL
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id);

CREATE TRIGGER alerts_no_update BEFORE UPDATE ON alerts BEGIN SELECT RAISE(ABORT, 'alerts are append-only'); END;
CREATE TRIGGER alerts_no_delete BEFORE DELETE ON alerts BEGIN SELECT RAISE(ABORT, 'alerts are append-only'); END;
CREATE TRIGGER webhook_attempts_no_update BEFORE UPDATE ON webhook_attempts
BEGIN SELECT RAISE(ABORT, 'the delivery log is append-only'); END;
CREATE TRIGGER webhook_attempts_no_delete BEFORE DELETE ON webhook_attempts
BEGIN SELECT RAISE(ABORT, 'the delivery log is append-only'); END;
CREATE TRIGGER webhook_outbox_no_delete BEFORE DELETE ON webhook_outbox
BEGIN SELECT RAISE(ABORT, 'deliveries are never deleted'); END;
