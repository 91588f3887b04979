-- 0005_lean_authentication: the per-request database work made cheap enough for the request rates the
-- benchmarks demand. Adds columns to principal (rewrites nothing: constant defaults) and replaces functions.
--
-- 1. A principal's roles, permissions and rate limits are kept on its row by triggers (they change rarely, and are
--    read on every request), so authenticating a key is one indexed join instead of four queries.
-- 2. The functions are PL/pgSQL, whose statement plans are cached per session; the SQL-language versions of 0002
--    were planned anew on every call, which cost more than the work itself.

ALTER TABLE principal
    ADD COLUMN roles text[] NOT NULL DEFAULT '{}',
    ADD COLUMN permissions text[] NOT NULL DEFAULT '{}',
    ADD COLUMN rate_per_minute integer NOT NULL DEFAULT 100,
    ADD COLUMN rate_per_hour integer NOT NULL DEFAULT 1000,
    ADD COLUMN rate_burst integer NOT NULL DEFAULT 50;

-- The permissions and the most generous rate limits of a set of roles (unknown names count for nothing; no roles
-- at all get the limits of the `user` role).
CREATE OR REPLACE FUNCTION role_grants(role_names text[])
RETURNS TABLE (permissions text[], per_minute integer, per_hour integer, burst integer)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN QUERY
    SELECT coalesce((SELECT array_agg(DISTINCT p ORDER BY p) FROM role r, unnest(r.permissions) p
                     WHERE r.name = ANY (role_names)), '{}'::text[]),
           coalesce(max(r.rate_per_minute), (SELECT u.rate_per_minute FROM role u WHERE u.name = 'user')),
           coalesce(max(r.rate_per_hour), (SELECT u.rate_per_hour FROM role u WHERE u.name = 'user')),
           coalesce(max(r.rate_burst), (SELECT u.rate_burst FROM role u WHERE u.name = 'user'))
    FROM role r WHERE r.name = ANY (role_names);
END
$$;

-- Recomputes the stored grants of the given principals from their roles.
CREATE FUNCTION principal_refresh_grants(ids bigint[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    target bigint;
    names  text[];
    g      record;
BEGIN
    FOREACH target IN ARRAY ids LOOP
        SELECT coalesce(array_agg(pr.role_name ORDER BY pr.role_name), '{}') INTO names
        FROM principal_role pr WHERE pr.principal_id = target;
        SELECT * INTO g FROM role_grants(names);
        UPDATE principal SET roles = names, permissions = g.permissions, rate_per_minute = g.per_minute,
                             rate_per_hour = g.per_hour, rate_burst = g.burst
        WHERE id = target;
    END LOOP;
END
$$;

CREATE FUNCTION principal_role_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM principal_refresh_grants(ARRAY[NEW.principal_id]);
    END IF;
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        PERFORM principal_refresh_grants(ARRAY[OLD.principal_id]);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER principal_role_changed AFTER INSERT OR UPDATE OR DELETE ON principal_role
    FOR EACH ROW EXECUTE FUNCTION principal_role_changed();

CREATE FUNCTION role_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM principal_refresh_grants(array_agg(principal_id)) FROM principal_role WHERE role_name = NEW.name
    HAVING count(*) > 0;
    RETURN NULL;
END
$$;

CREATE TRIGGER role_changed AFTER UPDATE OF permissions, rate_per_minute, rate_per_hour, rate_burst ON role
    FOR EACH ROW EXECUTE FUNCTION role_changed();

SELECT principal_refresh_grants(array_agg(id)) FROM principal HAVING count(*) > 0;

CREATE OR REPLACE FUNCTION rate_limit_hit(hit_subject text, per_minute integer, per_hour integer, burst integer, at_time timestamptz)
RETURNS TABLE (allowed boolean, remaining integer, reset_seconds integer, retry_after_seconds integer)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    step       interval := make_interval(secs => 60.0 / per_minute);
    tolerance  interval := make_interval(secs => 60.0 / per_minute * (burst - 1));
    this_hour  timestamptz := date_trunc('hour', at_time);
    new_tat    timestamptz;
    hour_used  integer;
    ok         boolean;
BEGIN
    INSERT INTO rate_limit_state AS s (subject, tat, hour_start, hour_count, last_allowed)
    VALUES (hit_subject, at_time + step, this_hour, 1, per_hour >= 1)
    ON CONFLICT (subject) DO UPDATE SET
        last_allowed = greatest(s.tat, at_time) - at_time <= tolerance
            AND (CASE WHEN s.hour_start = this_hour THEN s.hour_count ELSE 0 END) < per_hour,
        tat = CASE WHEN greatest(s.tat, at_time) - at_time <= tolerance
                        AND (CASE WHEN s.hour_start = this_hour THEN s.hour_count ELSE 0 END) < per_hour
                   THEN greatest(s.tat, at_time) + step ELSE s.tat END,
        hour_count = (CASE WHEN s.hour_start = this_hour THEN s.hour_count ELSE 0 END)
            + CASE WHEN greatest(s.tat, at_time) - at_time <= tolerance
                        AND (CASE WHEN s.hour_start = this_hour THEN s.hour_count ELSE 0 END) < per_hour
                   THEN 1 ELSE 0 END,
        hour_start = this_hour
    RETURNING s.tat, s.hour_count, s.last_allowed INTO new_tat, hour_used, ok;
    allowed := ok;
    remaining := greatest(0, least(
        floor(extract(epoch FROM tolerance - (new_tat - at_time)) / extract(epoch FROM step))::integer + 1,
        per_hour - hour_used));
    IF hour_used >= per_hour THEN
        reset_seconds := ceil(extract(epoch FROM this_hour + interval '1 hour' - at_time))::integer;
    ELSE
        reset_seconds := greatest(0, ceil(extract(epoch FROM new_tat - at_time)))::integer;
    END IF;
    IF ok THEN
        retry_after_seconds := 0;
    ELSIF hour_used >= per_hour THEN
        retry_after_seconds := ceil(extract(epoch FROM this_hour + interval '1 hour' - at_time))::integer;
    ELSE
        retry_after_seconds := greatest(1, ceil(extract(epoch FROM new_tat - tolerance - at_time)))::integer;
    END IF;
    RETURN NEXT;
END
$$;

CREATE OR REPLACE FUNCTION auth_api_key(key_prefix text, key_hash bytea, at_time timestamptz)
RETURNS TABLE (
    key_id bigint, secret_hash bytea, key_kind text, scopes text[], expires_at timestamptz, revoked_at timestamptz,
    principal_id bigint, principal_name text, principal_kind principal_kind, is_active boolean,
    roles text[], permissions text[],
    rate_limit integer, rate_allowed boolean, rate_remaining integer, rate_reset integer, rate_retry_after integer
)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    last_used  timestamptz;
    per_minute integer;
    per_hour   integer;
BEGIN
    SELECT k.id, k.secret_hash, k.kind, k.scopes, k.expires_at, k.revoked_at, k.last_used_at,
           p.id, p.name, p.kind, p.is_active, p.roles, p.permissions, p.rate_per_minute, p.rate_per_hour, p.rate_burst
    INTO key_id, secret_hash, key_kind, scopes, expires_at, revoked_at, last_used,
         principal_id, principal_name, principal_kind, is_active, roles, permissions, per_minute, per_hour, rate_limit
    FROM api_key k JOIN principal p ON p.id = k.principal_id
    WHERE k.prefix = key_prefix;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF secret_hash = key_hash AND is_active AND (revoked_at IS NULL OR revoked_at > at_time)
        AND (expires_at IS NULL OR expires_at > at_time) THEN
        SELECT * INTO rate_allowed, rate_remaining, rate_reset, rate_retry_after
        FROM rate_limit_hit('p:' || principal_id, per_minute, per_hour, rate_limit, at_time);
        IF last_used IS NULL OR last_used < at_time - interval '1 minute' THEN
            UPDATE api_key SET last_used_at = at_time WHERE id = key_id;
        END IF;
    END IF;
    RETURN NEXT;
END
$$;

CREATE OR REPLACE FUNCTION auth_certificate(cert_fingerprint bytea, at_time timestamptz)
RETURNS TABLE (
    certificate_not_after timestamptz, certificate_revoked_at timestamptz,
    principal_id bigint, principal_name text, principal_kind principal_kind, is_active boolean,
    roles text[], permissions text[],
    rate_limit integer, rate_allowed boolean, rate_remaining integer, rate_reset integer, rate_retry_after integer
)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    per_minute integer;
    per_hour   integer;
BEGIN
    SELECT c.not_after, c.revoked_at, p.id, p.name, p.kind, p.is_active, p.roles, p.permissions,
           p.rate_per_minute, p.rate_per_hour, p.rate_burst
    INTO certificate_not_after, certificate_revoked_at, principal_id, principal_name, principal_kind, is_active,
         roles, permissions, per_minute, per_hour, rate_limit
    FROM principal_certificate c JOIN principal p ON p.id = c.principal_id
    WHERE c.fingerprint = cert_fingerprint;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF is_active AND certificate_revoked_at IS NULL AND certificate_not_after > at_time THEN
        SELECT * INTO rate_allowed, rate_remaining, rate_reset, rate_retry_after
        FROM rate_limit_hit('p:' || principal_id, per_minute, per_hour, rate_limit, at_time);
    END IF;
    RETURN NEXT;
END
$$;

CREATE OR REPLACE FUNCTION auth_token_subject(subject_name text, token_roles text[], provision boolean, at_time timestamptz)
RETURNS TABLE (
    principal_id bigint, principal_name text, principal_kind principal_kind, is_active boolean,
    permissions text[],
    rate_limit integer, rate_allowed boolean, rate_remaining integer, rate_reset integer, rate_retry_after integer
)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    per_minute integer;
    per_hour   integer;
BEGIN
    SELECT p.id, p.name, p.kind, p.is_active INTO principal_id, principal_name, principal_kind, is_active
    FROM principal p WHERE p.name = subject_name;
    IF NOT FOUND THEN
        IF NOT provision THEN
            RETURN;
        END IF;
        INSERT INTO principal (name, is_external) VALUES (subject_name, true) ON CONFLICT (name) DO NOTHING;
        SELECT p.id, p.name, p.kind, p.is_active INTO principal_id, principal_name, principal_kind, is_active
        FROM principal p WHERE p.name = subject_name;
    END IF;
    SELECT g.permissions, g.per_minute, g.per_hour, g.burst INTO permissions, per_minute, per_hour, rate_limit
    FROM role_grants(token_roles) g;
    IF is_active THEN
        SELECT * INTO rate_allowed, rate_remaining, rate_reset, rate_retry_after
        FROM rate_limit_hit('p:' || principal_id, per_minute, per_hour, rate_limit, at_time);
    END IF;
    RETURN NEXT;
END
$$;

-- Job documents are built inline by the statements that read jobs (Sources/Store): a function taking the whole row
-- was never inlined and was planned anew for every row.
DROP FUNCTION job_json(job, boolean);
