-- 0022_key_reads_start_no_writer_they_do_not_use: the statement that reads an API key (`AuthApiKey` in
-- Sources/Store/Statements/AuthStatements.swift) no longer sets up writes on calls that make none.
--
-- Its once-a-minute `last_used_at` update was a writable CTE and its take from the rate limit a LATERAL function
-- scan, so every execution's plan started up an UPDATE of `api_key` (its indexes, its projections) and a function
-- scan, though the first writes once a minute per key and the second runs for about a fifth of the requests. Under
-- pgbench that start-up was 4–5 µs of the statement's 20. Both are now calls behind CASE, which evaluates a call
-- only when its condition holds: a wrong secret, or a key that is not usable, still writes and takes nothing.

-- Notes a key's use, at most once a minute; true when it wrote.
CREATE FUNCTION api_key_note_use(key_id bigint, at_time timestamptz) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE api_key SET last_used_at = at_time
    WHERE id = key_id AND (last_used_at IS NULL OR last_used_at < at_time - interval '1 minute');
    RETURN FOUND;
END
$$;

-- `rate_limit_take` as one value, {granted, remaining, reset_seconds, retry_after_seconds}, for a call in an
-- expression; null when nothing was asked for.
CREATE FUNCTION rate_limit_take_values(
    hit_subject text, per_minute integer, per_hour integer, burst integer, at_time timestamptz, wanted integer
)
RETURNS integer[]
LANGUAGE plpgsql AS $$
DECLARE
    taken integer[];
BEGIN
    SELECT ARRAY[t.granted, t.remaining, t.reset_seconds, t.retry_after_seconds] INTO taken
    FROM rate_limit_take(hit_subject, per_minute, per_hour, burst, at_time, wanted) AS t;
    RETURN taken;
END
$$;
