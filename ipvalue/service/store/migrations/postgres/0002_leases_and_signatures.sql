-- Jobs as rows claimed with a lease (``SELECT ... FOR UPDATE SKIP LOCKED``): the worker holding a job, until
-- when (seconds since the epoch, on the database server's clock), and how many times it has been claimed.
ALTER TABLE assessments ADD COLUMN lease_owner TEXT;
ALTER TABLE assessments ADD COLUMN lease_until DOUBLE PRECISION;
ALTER TABLE assessments ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
CREATE INDEX assessments_unfinished ON assessments (created_at) WHERE status IN ('queued', 'running');
-- An audit entry's signature: HMAC of its hash with a key kept outside the database (NULL when unsigned).
ALTER TABLE audit_log ADD COLUMN signature TEXT;
