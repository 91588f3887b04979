-- 0010_submit_names_its_job: a submit reads its job back in the same round trip as job_submit.
--
-- The responders send job_submit and the read of the job's document together (libpq pipeline mode), before they
-- know the job's id. job_submit now leaves that id, created or found by its Idempotency-Key, in the
-- transaction-local setting `switchyard.submitted_job`, and the read (JobSubmittedGet in
-- Sources/Store/Statements/JobStatements.swift) selects the job it names. Unchanged otherwise.

CREATE OR REPLACE FUNCTION job_submit(
    owner bigint, idempotency text, request_hash bytea, job_name text, job_kind job_kind, job_target text,
    job_program text, job_shots integer, job_priority integer, job_max_duration integer, job_metadata jsonb,
    job_qubits integer)
RETURNS TABLE (job_id bigint, created boolean, same_request boolean)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    new_id   bigint := nextval('job_id_seq');
    existing idempotency_key;
BEGIN
    IF idempotency IS NOT NULL THEN
        INSERT INTO idempotency_key AS k (owner_id, key, request_hash, job_id)
        VALUES (owner, idempotency, request_hash, new_id)
        ON CONFLICT (owner_id, key) DO UPDATE
            SET request_hash = excluded.request_hash, job_id = excluded.job_id, created_at = now()
            WHERE k.created_at < now() - interval '24 hours';
        IF NOT FOUND THEN
            SELECT * INTO existing FROM idempotency_key k WHERE k.owner_id = owner AND k.key = idempotency;
            PERFORM set_config('switchyard.submitted_job', existing.job_id::text, true);
            RETURN QUERY SELECT existing.job_id, false, existing.request_hash = request_hash;
            RETURN;
        END IF;
    END IF;
    INSERT INTO job (id, owner_id, name, kind, target, program, shots, priority, max_duration_s, metadata, qubits)
    VALUES (new_id, owner, job_name, job_kind, job_target, job_program, job_shots, job_priority, job_max_duration,
            job_metadata, job_qubits);
    PERFORM set_config('switchyard.submitted_job', new_id::text, true);
    RETURN QUERY SELECT new_id, true, true;
END
$$;
