-- 0012_finished_jobs_tallied: queue and cluster status no longer scan the whole job history.
--
-- GET /api/v1/queue/stats and /api/v1/cluster/status counted jobs by state with a scan of the whole job table:
-- 137 ms at a million jobs, growing with history, on endpoints that dashboards poll. Jobs in the live states
-- (queued, scheduled, running) are still counted in the job table, through the partial indexes that cover them, so
-- that cost follows the live work. Finished jobs are tallied here by the job triggers, in the statement that
-- finishes, retries or deletes them. A tally row is per state and per shard (the backend's pid modulo 16), so
-- transactions finishing jobs at once rarely wait for each other's row; readers sum the shards. A shard may go
-- below zero (a job finished in one shard, then retried or deleted from another); the sum is exact. A statement
-- takes its tally rows in state order, so two transactions sharing a shard cannot deadlock over one statement; and
-- it updates each row once, whatever the number of jobs it finishes (a transaction that finished jobs one statement
-- at a time, by the thousand, would make a long chain of row versions for the next statement to walk).

CREATE TABLE job_tally (
    state job_state NOT NULL,
    shard smallint NOT NULL,
    jobs  bigint NOT NULL,
    PRIMARY KEY (state, shard),
    CONSTRAINT job_tally_finished_states CHECK (job_state_is_final(state))
);

-- No job may change while the tally is filled from the rows already there.
LOCK TABLE job IN SHARE ROW EXCLUSIVE MODE;

-- Jobs are submitted queued, so for a submit the tally's part of this statement inserts nothing; a row inserted
-- already finished (an import, say) is tallied too.
CREATE OR REPLACE FUNCTION job_after_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    WITH tallied AS (
        INSERT INTO job_tally AS t (state, shard, jobs)
        SELECT state, pg_backend_pid() % 16, count(*) FROM new_rows WHERE job_state_is_final(state)
        GROUP BY state ORDER BY state
        ON CONFLICT (state, shard) DO UPDATE SET jobs = t.jobs + excluded.jobs
    )
    INSERT INTO job_event (job_id, owner_id, kind, to_state, version)
    SELECT id, owner_id, 'created', state, version FROM new_rows;
    PERFORM job_notify(array_agg(id), array_agg(owner_id)) FROM new_rows HAVING count(*) > 0;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION job_after_update() RETURNS trigger
LANGUAGE plpgsql
SET enable_nestloop = off
AS $$
DECLARE
    ids    bigint[];
    owners bigint[];
BEGIN
    WITH changed AS (
        INSERT INTO job_event (job_id, owner_id, kind, from_state, to_state, version, detail)
        SELECT n.id, n.owner_id, CASE WHEN n.state <> o.state THEN 'state' ELSE 'updated' END, o.state, n.state,
               n.version,
               jsonb_strip_nulls(jsonb_build_object(
                   'device_id', n.device_id, 'error', n.error,
                   'cancel_requested', CASE WHEN n.cancel_requested AND NOT o.cancel_requested THEN true END,
                   'deadline_at', CASE WHEN n.deadline_at IS DISTINCT FROM o.deadline_at AND n.state = o.state
                                       THEN rfc3339(n.deadline_at) END))
        FROM new_rows n JOIN old_rows o ON o.id = n.id
        WHERE n.version <> o.version
        RETURNING job_id, owner_id
    )
    SELECT array_agg(job_id), array_agg(owner_id) INTO ids, owners FROM changed;
    IF ids IS NULL THEN
        RETURN NULL;
    END IF;
    PERFORM job_notify(ids, owners);
    -- Keep the active counters: +1 entering scheduled/running, -1 leaving, per device and per owner.
    WITH moves AS (
        SELECT o.device_id AS device_id, o.owner_id AS owner_id, -1 AS delta FROM new_rows n JOIN old_rows o ON o.id = n.id
        WHERE o.state IN ('scheduled', 'running') AND (n.state NOT IN ('scheduled', 'running') OR n.device_id IS DISTINCT FROM o.device_id)
        UNION ALL
        SELECT n.device_id, n.owner_id, 1 FROM new_rows n JOIN old_rows o ON o.id = n.id
        WHERE n.state IN ('scheduled', 'running') AND (o.state NOT IN ('scheduled', 'running') OR n.device_id IS DISTINCT FROM o.device_id)
    ), finishes AS (
        -- The finished tally: +1 entering a finished state, -1 leaving one (a retry).
        SELECT n.state, 1 AS delta FROM new_rows n JOIN old_rows o ON o.id = n.id
        WHERE n.state <> o.state AND job_state_is_final(n.state)
        UNION ALL
        SELECT o.state, -1 FROM new_rows n JOIN old_rows o ON o.id = n.id
        WHERE n.state <> o.state AND job_state_is_final(o.state)
    ), tallied AS (
        INSERT INTO job_tally AS t (state, shard, jobs)
        SELECT state, pg_backend_pid() % 16, sum(delta) FROM finishes GROUP BY state HAVING sum(delta) <> 0 ORDER BY state
        ON CONFLICT (state, shard) DO UPDATE SET jobs = t.jobs + excluded.jobs
    ), by_device AS (
        UPDATE device d SET active_jobs = d.active_jobs + m.delta
        FROM (SELECT device_id, sum(delta) AS delta FROM moves GROUP BY device_id HAVING sum(delta) <> 0) m
        WHERE d.id = m.device_id
    )
    INSERT INTO owner_load AS l (owner_id, active_jobs)
    SELECT owner_id, sum(delta) FROM moves GROUP BY owner_id HAVING sum(delta) <> 0
    ON CONFLICT (owner_id) DO UPDATE SET active_jobs = l.active_jobs + excluded.active_jobs;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION job_after_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO job_event (job_id, owner_id, kind, from_state, version)
    SELECT id, owner_id, 'deleted', state, version + 1 FROM old_rows;
    PERFORM job_notify(array_agg(id), array_agg(owner_id)) FROM old_rows HAVING count(*) > 0;
    UPDATE device d SET active_jobs = d.active_jobs - gone.n
    FROM (SELECT device_id, count(*) AS n FROM old_rows WHERE state IN ('scheduled', 'running') GROUP BY device_id) gone
    WHERE d.id = gone.device_id;
    UPDATE owner_load l SET active_jobs = l.active_jobs - gone.n
    FROM (SELECT owner_id, count(*) AS n FROM old_rows WHERE state IN ('scheduled', 'running') GROUP BY owner_id) gone
    WHERE l.owner_id = gone.owner_id;
    INSERT INTO job_tally AS t (state, shard, jobs)
    SELECT state, pg_backend_pid() % 16, -count(*) FROM old_rows WHERE job_state_is_final(state)
    GROUP BY state ORDER BY state
    ON CONFLICT (state, shard) DO UPDATE SET jobs = t.jobs + excluded.jobs;
    RETURN NULL;
END
$$;

INSERT INTO job_tally (state, shard, jobs)
SELECT state, 0, count(*) FROM job WHERE job_state_is_final(state) GROUP BY state;

-- Jobs by state: the live states counted in the job table, the finished ones summed from their tally. Every
-- state appears, with 0 when there are none. Each live count reads a partial index (`state IN (…)` over all three
-- would scan the table).
CREATE FUNCTION job_counts_by_state() RETURNS TABLE (state job_state, jobs bigint)
LANGUAGE sql STABLE AS $$
    SELECT s.state, coalesce(live.jobs, finished.jobs, 0)
    FROM unnest(enum_range(NULL::job_state)) AS s (state)
    LEFT JOIN (SELECT 'queued'::job_state AS state, count(*) AS jobs FROM job j WHERE j.state = 'queued'
               UNION ALL
               SELECT j.state, count(*) FROM job j WHERE j.state IN ('scheduled', 'running') GROUP BY j.state) live
        ON live.state = s.state
    LEFT JOIN (SELECT t.state, sum(t.jobs)::bigint AS jobs FROM job_tally t GROUP BY t.state) finished
        ON finished.state = s.state
$$;

GRANT SELECT, INSERT, UPDATE ON job_tally TO switchyard_app;
