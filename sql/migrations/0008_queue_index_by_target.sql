-- 0008_queue_index_by_target: the queue index leads with the target, so a scheduling round reaches the jobs it
-- can place without walking past those that wait for a full device.
--
-- With (owner_id, priority DESC, id), every round re-read each owner's jobs for a busy device (a long QPU queue,
-- say) before finding the ones it could place elsewhere: with 100 such jobs per owner a round of 1,000 owners
-- spent 75 ms on that, and with a million of them almost a second. Keyed by (target, owner_id, ...), a round
-- asks per target worth looking at: which targets have queued jobs (a loose scan, one probe per target), which
-- owners after the cursor have jobs for them (one probe per target and owner), and each owner's best jobs per
-- target (one ordered probe each). Counting one device's queue uses the same index.

DROP INDEX job_queued_idx;
CREATE INDEX job_queued_idx ON job (target, owner_id, priority DESC, id) WHERE state = 'queued';
