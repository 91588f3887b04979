-- 0013_submits_in_batches: a responder commits the submits that arrive together in one transaction.
--
-- Most of a submit's database cost is per statement and per transaction, not per job: executor start-up, the CHECK
-- expressions of `job` (rebuilt for every INSERT statement), the statement trigger, the commit's flush, the
-- announcement. pgbench, N jobs per transaction: ~540 µs of server CPU a job for N = 1, ~180 for N = 4, ~82 for
-- N = 16. Each responder process now hands validated submits to one batching thread, which submits whatever has
-- gathered with job_submit_batch (Sources/API/SubmitBatcher.swift). The rules of job_submit stay: an
-- Idempotency-Key this owner used in the last 24 hours returns that key's job, and its row decides concurrent
-- duplicates (the batch's insert waits for the other transaction, then finds its key).
--
-- `submissions` is a JSON array of objects: ordinal, owner_id, idempotency_key, request_hash (hex), name, kind,
-- target, program, shots, priority, max_duration_s, metadata, qubits. One row per submission, by ordinal:
-- the job's id (null when the key's job was not found), whether this call created it, and whether the request
-- matches the key's first one. The ids of the jobs found or created are left, comma-separated, in the
-- transaction-local setting `switchyard.submitted_jobs`, for the read of their documents in the same round trip.
-- A key given twice in one batch fails the call (ON CONFLICT cannot touch one row twice); the caller then submits
-- one at a time.

CREATE FUNCTION job_submit_batch(submissions jsonb)
RETURNS TABLE (ordinal integer, job_id bigint, created boolean, same_request boolean)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    created_ordinals integer[];
    created_ids      bigint[];
BEGIN
    WITH item AS MATERIALIZED (
        SELECT s.*, nextval('job_id_seq') AS new_id
        FROM jsonb_to_recordset(submissions) AS s (
            ordinal integer, owner_id bigint, idempotency_key text, request_hash text, name text, kind job_kind,
            target text, program text, shots integer, priority integer, max_duration_s integer, metadata jsonb,
            qubits integer)
    ), claimed AS (
        INSERT INTO idempotency_key AS k (owner_id, key, request_hash, job_id)
        SELECT i.owner_id, i.idempotency_key, decode(i.request_hash, 'hex'), i.new_id FROM item i
        WHERE i.idempotency_key IS NOT NULL
        ON CONFLICT (owner_id, key) DO UPDATE
            SET request_hash = excluded.request_hash, job_id = excluded.job_id, created_at = now()
            WHERE k.created_at < now() - interval '24 hours'
        RETURNING k.job_id
    ), inserted AS (
        INSERT INTO job (id, owner_id, name, kind, target, program, shots, priority, max_duration_s, metadata, qubits)
        SELECT i.new_id, i.owner_id, i.name, i.kind, i.target, i.program, i.shots, i.priority, i.max_duration_s,
               i.metadata, i.qubits
        FROM item i
        WHERE i.idempotency_key IS NULL OR i.new_id IN (SELECT c.job_id FROM claimed c)
        ORDER BY i.ordinal
        RETURNING id
    )
    SELECT array_agg(i.ordinal), array_agg(i.new_id) INTO created_ordinals, created_ids
    FROM item i JOIN inserted n ON n.id = i.new_id;

    -- A new statement, so a key another transaction committed while this one waited for it is visible.
    RETURN QUERY
    WITH item AS (
        SELECT s.* FROM jsonb_to_recordset(submissions) AS s (
            ordinal integer, owner_id bigint, idempotency_key text, request_hash text)
    ), outcome AS (
        SELECT i.ordinal, coalesce(c.id, k.job_id) AS job_id, c.id IS NOT NULL AS created,
               c.id IS NOT NULL OR k.request_hash = decode(i.request_hash, 'hex') AS same_request
        FROM item i
        LEFT JOIN unnest(created_ordinals, created_ids) AS c (ordinal, id) ON c.ordinal = i.ordinal
        LEFT JOIN idempotency_key k
            ON c.id IS NULL AND k.owner_id = i.owner_id AND k.key = i.idempotency_key
    ), named AS (
        SELECT set_config('switchyard.submitted_jobs', coalesce(string_agg(o.job_id::text, ','), ''), true)
        FROM outcome o
    )
    SELECT o.ordinal, o.job_id, o.created, coalesce(o.same_request, false) FROM outcome o, named
    ORDER BY o.ordinal;
END
$$;

DROP FUNCTION job_submit(bigint, text, bytea, text, job_kind, text, text, integer, integer, integer, jsonb, integer);
