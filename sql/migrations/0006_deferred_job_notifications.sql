-- 0006_deferred_job_notifications: job changes from the API no longer queue behind one another's disk flush.
--
-- PostgreSQL serializes the commits of transactions that sent NOTIFY: it takes a database-wide lock in the NOTIFY's
-- pre-commit step and releases it only after the commit record is on disk. With synchronous commit every submitted
-- job therefore waited for the flush of the one before it (pgbench on the benchmark machine: 2.6k job_submit/s with
-- the NOTIFY, 7.2k without). Sessions that set `switchyard.defer_notify = on` (the responders, in their connection
-- options) now collect a transaction's `job:owner` pairs in a session setting, which a rollback undoes, and send them
-- after COMMIT with job_announce(), in a transaction of their own that commits asynchronously and so holds that lock
-- for microseconds. Every other session (the batch executables, psql) notifies inside its transaction as before.
-- A responder that dies between its COMMIT and job_announce() wakes nobody: the long-polls of those jobs answer when
-- their wait ends (at most 60 s), the batches find the work on their next pass.
--
-- Also: permissions_are_valid, checked on every UPDATE of an api_key row (last_used_at), becomes PL/pgSQL; as a
-- SQL-language function with an aggregate it could not be inlined and was planned anew on every row.

-- Sends `job:owner` pairs (comma-separated) as NOTIFY job_changed, at most 300 pairs a notification (the payload
-- limit is 8000 bytes).
CREATE FUNCTION job_send_notifications(pairs text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('job_changed', string_agg(c.pair, ',' ORDER BY c.n))
    FROM unnest(string_to_array(pairs, ',')) WITH ORDINALITY AS c (pair, n)
    GROUP BY (c.n - 1) / 300;
END
$$;

CREATE OR REPLACE FUNCTION job_notify(ids bigint[], owners bigint[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    pairs   text := array_to_string(ARRAY(SELECT c.id || ':' || c.owner FROM unnest(ids, owners) AS c (id, owner)), ',');
    pending text;
BEGIN
    IF pairs = '' THEN
        RETURN;
    END IF;
    IF current_setting('switchyard.defer_notify', true) = 'on' THEN
        pending := coalesce(current_setting('switchyard.pending_notify', true), '');
        PERFORM set_config('switchyard.pending_notify', CASE WHEN pending = '' THEN pairs ELSE pending || ',' || pairs END,
                           false);
    ELSE
        PERFORM job_send_notifications(pairs);
    END IF;
END
$$;

-- Sends what this session's committed transactions collected; returns how many pairs. Call it after COMMIT.
CREATE FUNCTION job_announce() RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    pending text := coalesce(current_setting('switchyard.pending_notify', true), '');
BEGIN
    IF pending = '' THEN
        RETURN 0;
    END IF;
    PERFORM set_config('switchyard.pending_notify', '', false);
    PERFORM job_send_notifications(pending);
    RETURN cardinality(string_to_array(pending, ','));
END
$$;

CREATE OR REPLACE FUNCTION permissions_are_valid(permissions text[]) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE STRICT AS $$
DECLARE
    permission text;
BEGIN
    FOREACH permission IN ARRAY permissions LOOP
        IF NOT permission_is_valid(permission) THEN
            RETURN false;
        END IF;
    END LOOP;
    RETURN true;
END
$$;
