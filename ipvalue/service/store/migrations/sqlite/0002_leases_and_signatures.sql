-- Jobs as rows claimed with a lease: the worker holding a job, until when (seconds since the epoch), and how
-- many times it has been claimed (a job claimed too often without finishing is marked failed).
ALTER TABLE assessments ADD COLUMN lease_owner TEXT;
ALTER TABLE assessments ADD COLUMN lease_until REAL;
ALTER TABLE assessments ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
-- An audit entry's signature: HMAC of its hash with a key kept outside the database (NULL when unsigned).
ALTER TABLE audit_log ADD COLUMN signature TEXT;
