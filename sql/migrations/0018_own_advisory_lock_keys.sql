-- 0018_own_advisory_lock_keys: the two functions that serialize their callers take locks no batch run holds.
--
-- `audit_seal()` locked 1398210562 and `job_event_sequence()` 1398210563: the same numbers as the sweeper's and
-- the scheduler's session locks (`AdvisoryLockKey` 0x53570002 and 0x53570003, taken with the bigint form). While a
-- scheduler ran (most of every minute under cron), every `GET /jobs`, `GET /events` and the sweeper's last step
-- waited for it and failed at `statement_timeout`. The functions now use the two-integer form, a key space of its
-- own: (0x5357, 1) and (0x5357, 2), listed with the others in `Sources/Store/Schema.swift`.
--
-- `audit_seal()` runs as its owner (SECURITY DEFINER), so `pg_temp` goes last in its search path: a session's
-- temporary table named `audit_log` cannot stand in for the real one.

CREATE OR REPLACE FUNCTION audit_seal(batch integer) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    head_seq  bigint;
    head_hash bytea;
    r         audit_log;
    sealed    integer := 0;
BEGIN
    PERFORM pg_advisory_xact_lock(21335, 1);
    SELECT a.seq, a.hash INTO head_seq, head_hash FROM audit_log a WHERE a.seq IS NOT NULL ORDER BY a.seq DESC LIMIT 1;
    head_seq := coalesce(head_seq, 0);
    head_hash := coalesce(head_hash, decode(repeat('00', 32), 'hex'));
    FOR r IN SELECT * FROM audit_log a WHERE a.seq IS NULL ORDER BY a.id LIMIT batch FOR UPDATE LOOP
        head_seq := head_seq + 1;
        UPDATE audit_log SET seq = head_seq, prev_hash = head_hash,
            hash = sha256(head_hash || convert_to(audit_canonical(head_seq, r), 'UTF8')), sealed_at = clock_timestamp()
        WHERE id = r.id
        RETURNING hash INTO head_hash;
        sealed := sealed + 1;
    END LOOP;
    RETURN sealed;
END
$$;

CREATE OR REPLACE FUNCTION job_event_sequence() RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    head     bigint;
    numbered bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(21335, 2);
    SELECT coalesce(max(seq), 0) INTO head FROM job_event WHERE seq IS NOT NULL;
    UPDATE job_event e SET seq = head + n.rn
    FROM (SELECT id, row_number() OVER (ORDER BY id) AS rn FROM job_event WHERE seq IS NULL) n
    WHERE e.id = n.id;
    GET DIAGNOSTICS numbered = ROW_COUNT;
    IF numbered > 0 THEN
        PERFORM set_config('synchronous_commit', 'on', true);
    END IF;
    RETURN head + numbered;
END
$$;
