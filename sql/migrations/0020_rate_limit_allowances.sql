-- 0020_rate_limit_allowances: a responder may take several requests' worth of a principal's rate limit at once
-- (an allowance) and count them down itself, so a busy key's requests need not each write to rate_limit_state.
--
-- The write was half of the database's work for an authenticated read: an upsert of the bucket's row, its commit
-- record and the walwriter's wake-up, ~35 of ~80 µs under pgbench. Requests served from an allowance read the key
-- and its principal only, which a read-only statement does (`AuthApiKey` in Sources/Store).
--
-- The limit still holds across every process and host: whatever a responder serves was taken from the row here
-- first. Near the limit allowances shrink to one request (at most a quarter of what is left is handed out at once),
-- so a principal close to its limit is counted request by request, as before. A responder keeps what it took for
-- two seconds after its latest take (Sources/API/Auth/RateAllowances.swift); what it has not used by then is not
-- given back: requests, and hourly quota, the principal loses (README, "Rate limits").

ALTER TABLE rate_limit_state DROP COLUMN last_allowed, ADD COLUMN last_granted integer NOT NULL DEFAULT 0;

-- How many of `wanted` requests to grant when the bucket's theoretical arrival time lies `wait` ahead and
-- `hour_left` requests remain in the hour: none when not even one fits, else at most a quarter of those that fit
-- (at least one).
CREATE FUNCTION rate_limit_grant(wait interval, tolerance interval, step interval, hour_left integer, wanted integer)
RETURNS integer
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN least(floor(extract(epoch FROM tolerance - wait) / extract(epoch FROM step)) + 1, hour_left) < 1 THEN 0
        ELSE least(wanted, greatest(1, least(floor(extract(epoch FROM tolerance - wait) / extract(epoch FROM step)) + 1,
                                             hour_left)::integer / 4))
    END
$$;

-- Takes up to `wanted` requests from a subject's bucket (GCRA: depth `burst`, one request every 60/per_minute s)
-- and hourly quota. `granted` 0 is a refusal; `remaining` is what is left after the grant. Asked for none, it
-- answers no row and changes nothing.
CREATE FUNCTION rate_limit_take(
    hit_subject text, per_minute integer, per_hour integer, burst integer, at_time timestamptz, wanted integer
)
RETURNS TABLE (granted integer, remaining integer, reset_seconds integer, retry_after_seconds integer)
-- One row, and the planner must know it: at the default estimate of 1,000 rows, a generic plan of the statement
-- that authenticates keys looked dearer than custom plans that leave the take out, so it was planned anew each time.
LANGUAGE plpgsql ROWS 1 AS $$
#variable_conflict use_column
DECLARE
    step      interval := make_interval(secs => 60.0 / per_minute);
    tolerance interval := make_interval(secs => 60.0 / per_minute * (burst - 1));
    this_hour timestamptz := date_trunc('hour', at_time);
    first     integer;
    new_tat   timestamptz;
    hour_used integer;
BEGIN
    IF wanted < 1 THEN
        RETURN;
    END IF;
    first := rate_limit_grant(interval '0', tolerance, step, per_hour, wanted);
    INSERT INTO rate_limit_state AS s (subject, tat, hour_start, hour_count, last_granted)
    VALUES (hit_subject, at_time + step * first, this_hour, first, first)
    ON CONFLICT (subject) DO UPDATE SET
        last_granted = rate_limit_grant(greatest(s.tat, at_time) - at_time, tolerance, step,
            per_hour - CASE WHEN s.hour_start = this_hour THEN s.hour_count ELSE 0 END, wanted),
        tat = greatest(s.tat, at_time) + step * rate_limit_grant(greatest(s.tat, at_time) - at_time, tolerance, step,
            per_hour - CASE WHEN s.hour_start = this_hour THEN s.hour_count ELSE 0 END, wanted),
        hour_count = CASE WHEN s.hour_start = this_hour THEN s.hour_count ELSE 0 END
            + rate_limit_grant(greatest(s.tat, at_time) - at_time, tolerance, step,
                per_hour - CASE WHEN s.hour_start = this_hour THEN s.hour_count ELSE 0 END, wanted),
        hour_start = this_hour
    RETURNING s.tat, s.hour_count, s.last_granted INTO new_tat, hour_used, granted;
    remaining := greatest(0, least(
        floor(extract(epoch FROM tolerance - (new_tat - at_time)) / extract(epoch FROM step))::integer + 1,
        per_hour - hour_used));
    IF hour_used >= per_hour THEN
        reset_seconds := ceil(extract(epoch FROM this_hour + interval '1 hour' - at_time))::integer;
    ELSE
        reset_seconds := greatest(0, ceil(extract(epoch FROM new_tat - at_time)))::integer;
    END IF;
    IF granted > 0 THEN
        retry_after_seconds := 0;
    ELSIF hour_used >= per_hour THEN
        retry_after_seconds := ceil(extract(epoch FROM this_hour + interval '1 hour' - at_time))::integer;
    ELSE
        retry_after_seconds := greatest(1, ceil(extract(epoch FROM new_tat - tolerance - at_time)))::integer;
    END IF;
    RETURN NEXT;
END
$$;

-- One request, for the callers that count each (certificates, tokens, client addresses, usernames at login).
CREATE OR REPLACE FUNCTION rate_limit_hit(hit_subject text, per_minute integer, per_hour integer, burst integer, at_time timestamptz)
RETURNS TABLE (allowed boolean, remaining integer, reset_seconds integer, retry_after_seconds integer)
LANGUAGE sql AS $$
    SELECT t.granted > 0, t.remaining, t.reset_seconds, t.retry_after_seconds
    FROM rate_limit_take(hit_subject, per_minute, per_hour, burst, at_time, 1) t
$$;

-- API keys are now authenticated by a statement of the application (`AuthApiKey`: it reads, and takes from the
-- bucket only when asked). auth_api_key stays, counting each request through rate_limit_hit, for the responders of
-- the previous release during a rolling deploy (README, "Database down"); a later migration drops it.
