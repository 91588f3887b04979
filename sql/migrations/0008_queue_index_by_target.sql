-- 0008_queue_index_by_target: a second queue index, keyed by target first, so a scheduling round reaches the jobs
-- it can place without walking past those that wait for a full device.
--
-- With only (owner_id, priority DESC, id), every round re-read each owner's jobs for a busy device (a long QPU
-- queue, say) before finding the ones it could place elsewhere: with 100 such jobs per owner a round of 1,000
-- owners spent 75 ms on that, and with a million of them almost a second. When a round looks at few targets it now
-- probes this index per target and owner; when it looks at many (most of the queue can be placed) it keeps walking
-- each owner's queue in priority order, which is then cheaper (`QueueScan` in Sources/Store/SchedulerStore.swift).
-- Counting one device's queue uses this index too.

CREATE INDEX job_queued_by_target_idx ON job (target, owner_id, priority DESC, id) WHERE state = 'queued';
