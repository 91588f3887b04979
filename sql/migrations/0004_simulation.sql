-- 0004_simulation: what executors (switchyard-simulator) need to claim scheduled jobs quickly and to lease them.
-- Creates one partial index on job (brief SHARE lock on job while it builds).

-- Scheduled jobs per device, best first: an executor claims the head with SKIP LOCKED.
CREATE INDEX job_scheduled_idx ON job (device_id, priority DESC, scheduled_at, id) WHERE state = 'scheduled';
