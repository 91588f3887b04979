-- 0002_identity: principals, roles, API keys, client certificates, rate-limit state, and the audit trail with its
-- hash chain. Creates tables and functions only (no locks on existing data).
--
-- Credentials never appear in clear text: API keys are stored as SHA-256 hashes, passwords as salted PBKDF2
-- hashes computed by the application. The responders' role may insert and read audit rows but never change or
-- delete them; sealing runs as the table owner through a SECURITY DEFINER function.

-- Microseconds since the Unix epoch: how timestamps travel to the application (exact, zone-free).
CREATE FUNCTION epoch_us(t timestamptz) RETURNS bigint
LANGUAGE sql STABLE STRICT AS $$
    SELECT (extract(epoch FROM t) * 1000000)::bigint
$$;

-- RFC 3339 in UTC with microseconds, the only date format on the wire.
CREATE FUNCTION rfc3339(t timestamptz) RETURNS text
LANGUAGE sql STABLE STRICT AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
$$;

-- A permission is `resource:verb[:sub]` (one to four segments of a-z 0-9 _ -), or a grant ending in `*`.
CREATE FUNCTION permission_is_valid(permission text) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT permission ~ '^(\*|[a-z0-9_-]+(:[a-z0-9_-]+){0,3}|[a-z0-9_-]+(:[a-z0-9_-]+){0,2}:\*)$'
$$;

CREATE FUNCTION permissions_are_valid(permissions text[]) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT coalesce(bool_and(permission_is_valid(p)), true) FROM unnest(permissions) AS p
$$;

-- Roles expand to permissions and carry the rate limits of their members (a principal with several roles gets
-- the most generous of each limit).
CREATE TABLE role (
    name            text PRIMARY KEY,
    description     text NOT NULL DEFAULT '',
    permissions     text[] NOT NULL DEFAULT '{}',
    is_builtin      boolean NOT NULL DEFAULT false,
    rate_per_minute integer NOT NULL DEFAULT 100,
    rate_per_hour   integer NOT NULL DEFAULT 1000,
    rate_burst      integer NOT NULL DEFAULT 50,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT role_name_format CHECK (name ~ '^[a-z][a-z0-9_-]{0,39}$'),
    CONSTRAINT role_permissions_format CHECK (permissions_are_valid(permissions)),
    CONSTRAINT role_description_length CHECK (char_length(description) <= 500),
    CONSTRAINT role_rates_positive CHECK (rate_per_minute > 0 AND rate_per_hour > 0 AND rate_burst > 0)
);

INSERT INTO role (name, description, permissions, is_builtin, rate_per_minute, rate_per_hour, rate_burst) VALUES
    ('admin', 'Everything, including users, roles and the audit trail.', '{*}', true, 1000, 10000, 200),
    ('operator', 'Runs the fleet: jobs, devices, nodes and storage.', '{job:*,device:*,node:*,storage:*}', true, 100, 1000, 50),
    ('researcher', 'Submits and manages jobs, reserves devices, works with circuits.',
        '{job:*,device:read,device:reserve,circuit:*}', true, 500, 5000, 100),
    ('user', 'Submits and follows own jobs.', '{job:create,job:read,job:cancel,device:read,circuit:*}', true, 100, 1000, 50),
    ('viewer', 'Reads jobs, devices, nodes and storage.', '{job:read,device:read,node:read,storage:read}', true, 100, 1000, 50),
    ('agent', 'A worker node''s agent: heartbeats, claims and reports jobs.', '{node:heartbeat,job:claim,job:report}', true, 100, 1000, 50),
    ('anonymous', 'Limits for requests without credentials (login), per client address.', '{}', true, 30, 300, 10);

CREATE TYPE principal_kind AS ENUM ('user', 'service', 'agent');

CREATE TABLE principal (
    id            bigserial PRIMARY KEY,
    name          text NOT NULL,
    kind          principal_kind NOT NULL DEFAULT 'user',
    display_name  text NOT NULL DEFAULT '',
    email         text,
    is_active     boolean NOT NULL DEFAULT true,
    -- Provisioned on first sight of a token from a trusted identity provider; roles come from its tokens.
    is_external   boolean NOT NULL DEFAULT false,
    password_hash text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    deleted_at    timestamptz,
    CONSTRAINT principal_name_unique UNIQUE (name),
    CONSTRAINT principal_name_format CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$'),
    CONSTRAINT principal_email_format CHECK (email IS NULL OR email ~ '^[^@\s]+@[^@\s]+\.[^@\s]+$'),
    CONSTRAINT principal_display_name_length CHECK (char_length(display_name) <= 200),
    CONSTRAINT principal_deleted_is_inactive CHECK (deleted_at IS NULL OR NOT is_active)
);

CREATE TABLE principal_role (
    principal_id bigint NOT NULL REFERENCES principal (id) ON DELETE CASCADE,
    -- A role that principals still hold cannot be deleted.
    role_name    text NOT NULL REFERENCES role (name) ON UPDATE CASCADE,
    PRIMARY KEY (principal_id, role_name)
);

CREATE TABLE api_key (
    id           bigserial PRIMARY KEY,
    -- The public key id: the first 12 characters of the key (`sy_` and 9 of its 43 base64url characters).
    prefix       text NOT NULL,
    secret_hash  bytea NOT NULL,
    principal_id bigint NOT NULL REFERENCES principal (id),
    kind         text NOT NULL,
    -- What the key may do: a subset of its owner's permissions when it was made. A key never does more than its
    -- owner can do now; effective permissions are the owner's that these cover.
    scopes       text[] NOT NULL,
    description  text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz,
    last_used_at timestamptz,
    -- A rotation with a grace period sets this in the future: the key works until then.
    revoked_at   timestamptz,
    replaced_by  bigint REFERENCES api_key (id),
    CONSTRAINT api_key_prefix_unique UNIQUE (prefix),
    CONSTRAINT api_key_prefix_format CHECK (prefix ~ '^sy_[A-Za-z0-9_-]{9}$'),
    CONSTRAINT api_key_hash_length CHECK (octet_length(secret_hash) = 32),
    CONSTRAINT api_key_kind_known CHECK (kind IN ('session', 'long_lived')),
    CONSTRAINT api_key_scopes_format CHECK (permissions_are_valid(scopes)),
    CONSTRAINT api_key_session_expires CHECK (kind <> 'session' OR expires_at IS NOT NULL),
    CONSTRAINT api_key_description_length CHECK (char_length(description) <= 200)
);
CREATE INDEX api_key_principal_idx ON api_key (principal_id);

-- TLS client certificates (by the SHA-256 of their DER encoding) that authenticate as a principal.
CREATE TABLE principal_certificate (
    fingerprint  bytea PRIMARY KEY,
    principal_id bigint NOT NULL REFERENCES principal (id) ON DELETE CASCADE,
    subject      text NOT NULL,
    not_after    timestamptz NOT NULL,
    description  text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz,
    CONSTRAINT principal_certificate_fingerprint_length CHECK (octet_length(fingerprint) = 32)
);
CREATE INDEX principal_certificate_principal_idx ON principal_certificate (principal_id);

-- Generic cell rate algorithm state per subject (`p:<principal id>`, `a:<address>`, `login-user:<name>`, ...).
-- UNLOGGED: no WAL, emptied by a crash, which only forgives some requests; shared by every process and host.
CREATE UNLOGGED TABLE rate_limit_state (
    subject      text PRIMARY KEY,
    -- Theoretical arrival time: the bucket is full again at this moment.
    tat          timestamptz NOT NULL,
    hour_start   timestamptz NOT NULL,
    hour_count   integer NOT NULL,
    last_allowed boolean NOT NULL
);

-- Counts one request of `subject` against a token bucket (sustained `per_minute`, `burst` at once) and an hourly
-- quota, in one statement. Refused requests consume nothing. `remaining` counts requests allowed right now,
-- `reset_seconds` when the bucket is full again (or the hour ends, when its quota is spent), `retry_after_seconds`
-- when a refused request may come back.
CREATE FUNCTION rate_limit_hit(hit_subject text, per_minute integer, per_hour integer, burst integer, at_time timestamptz)
RETURNS TABLE (allowed boolean, remaining integer, reset_seconds integer, retry_after_seconds integer)
LANGUAGE sql AS $$
    WITH params AS (
        SELECT make_interval(secs => 60.0 / per_minute) AS step,
               make_interval(secs => 60.0 / per_minute * (burst - 1)) AS tolerance,
               date_trunc('hour', at_time) AS hour
    ), hit AS (
        INSERT INTO rate_limit_state AS s (subject, tat, hour_start, hour_count, last_allowed)
        SELECT hit_subject, at_time + p.step, p.hour, 1, per_hour >= 1 FROM params p
        ON CONFLICT (subject) DO UPDATE SET
            last_allowed = (greatest(s.tat, at_time) - at_time <= (SELECT tolerance FROM params))
                AND (CASE WHEN s.hour_start = (SELECT hour FROM params) THEN s.hour_count ELSE 0 END) < per_hour,
            tat = CASE
                WHEN (greatest(s.tat, at_time) - at_time <= (SELECT tolerance FROM params))
                    AND (CASE WHEN s.hour_start = (SELECT hour FROM params) THEN s.hour_count ELSE 0 END) < per_hour
                THEN greatest(s.tat, at_time) + (SELECT step FROM params) ELSE s.tat END,
            hour_count = (CASE WHEN s.hour_start = (SELECT hour FROM params) THEN s.hour_count ELSE 0 END)
                + CASE
                    WHEN (greatest(s.tat, at_time) - at_time <= (SELECT tolerance FROM params))
                        AND (CASE WHEN s.hour_start = (SELECT hour FROM params) THEN s.hour_count ELSE 0 END) < per_hour
                    THEN 1 ELSE 0 END,
            hour_start = (SELECT hour FROM params)
        RETURNING s.tat, s.hour_count, s.last_allowed
    )
    SELECT h.last_allowed,
           greatest(0, least(
               floor(extract(epoch FROM (p.tolerance - (h.tat - at_time))) / extract(epoch FROM p.step))::integer + 1,
               per_hour - h.hour_count)),
           CASE WHEN h.hour_count >= per_hour
               THEN ceil(extract(epoch FROM (p.hour + interval '1 hour' - at_time)))::integer
               ELSE greatest(0, ceil(extract(epoch FROM (h.tat - at_time))))::integer END,
           CASE WHEN h.last_allowed THEN 0
               WHEN h.hour_count >= per_hour THEN ceil(extract(epoch FROM (p.hour + interval '1 hour' - at_time)))::integer
               ELSE greatest(1, ceil(extract(epoch FROM (h.tat - p.tolerance - at_time))))::integer END
    FROM hit h, params p
$$;

-- The permissions and the most generous rate limits of a set of roles (unknown role names count for nothing).
CREATE FUNCTION role_grants(role_names text[])
RETURNS TABLE (permissions text[], per_minute integer, per_hour integer, burst integer)
LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT array_agg(DISTINCT p ORDER BY p) FROM role r, unnest(r.permissions) p
                     WHERE r.name = ANY (role_names)), '{}'),
           coalesce(max(r.rate_per_minute), (SELECT rate_per_minute FROM role WHERE name = 'user')),
           coalesce(max(r.rate_per_hour), (SELECT rate_per_hour FROM role WHERE name = 'user')),
           coalesce(max(r.rate_burst), (SELECT rate_burst FROM role WHERE name = 'user'))
    FROM role r WHERE r.name = ANY (role_names)
$$;

-- Everything authentication by API key needs, in one round trip: the key and its owner by prefix, the owner's
-- roles and permissions, and, when the presented hash matches a usable key, the rate-limit hit and a last-used
-- stamp (at most once a minute). The application still compares the hash itself, in constant time: it decides;
-- the comparison here only keeps a forged key from spending its owner's rate limit.
CREATE FUNCTION auth_api_key(key_prefix text, key_hash bytea, at_time timestamptz)
RETURNS TABLE (
    key_id bigint, secret_hash bytea, key_kind text, scopes text[], expires_at timestamptz, revoked_at timestamptz,
    principal_id bigint, principal_name text, principal_kind principal_kind, is_active boolean,
    roles text[], permissions text[],
    rate_limit integer, rate_allowed boolean, rate_remaining integer, rate_reset integer, rate_retry_after integer
)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    k api_key;
    p principal;
    role_names text[];
    g record;
    hit_allowed boolean;
    hit_remaining integer;
    hit_reset integer;
    hit_retry integer;
BEGIN
    SELECT * INTO k FROM api_key WHERE prefix = key_prefix;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    SELECT * INTO p FROM principal WHERE id = k.principal_id;
    SELECT coalesce(array_agg(role_name ORDER BY role_name), '{}') INTO role_names
        FROM principal_role WHERE principal_role.principal_id = p.id;
    SELECT * INTO g FROM role_grants(role_names);
    IF k.secret_hash = key_hash AND p.is_active
        AND (k.revoked_at IS NULL OR k.revoked_at > at_time)
        AND (k.expires_at IS NULL OR k.expires_at > at_time) THEN
        SELECT * INTO hit_allowed, hit_remaining, hit_reset, hit_retry FROM rate_limit_hit('p:' || p.id, g.per_minute, g.per_hour, g.burst, at_time);
        IF k.last_used_at IS NULL OR k.last_used_at < at_time - interval '1 minute' THEN
            UPDATE api_key SET last_used_at = at_time WHERE id = k.id;
        END IF;
    END IF;
    RETURN QUERY SELECT k.id, k.secret_hash, k.kind, k.scopes, k.expires_at, k.revoked_at,
        p.id, p.name, p.kind, p.is_active, role_names, g.permissions,
        g.burst, hit_allowed, hit_remaining, hit_reset, hit_retry;
END
$$;

-- Authentication by TLS client certificate: the principal registered for the fingerprint, with the same facts
-- and rate-limit hit as auth_api_key.
CREATE FUNCTION auth_certificate(cert_fingerprint bytea, at_time timestamptz)
RETURNS TABLE (
    certificate_not_after timestamptz, certificate_revoked_at timestamptz,
    principal_id bigint, principal_name text, principal_kind principal_kind, is_active boolean,
    roles text[], permissions text[],
    rate_limit integer, rate_allowed boolean, rate_remaining integer, rate_reset integer, rate_retry_after integer
)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    c principal_certificate;
    p principal;
    role_names text[];
    g record;
    hit_allowed boolean;
    hit_remaining integer;
    hit_reset integer;
    hit_retry integer;
BEGIN
    SELECT * INTO c FROM principal_certificate WHERE fingerprint = cert_fingerprint;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    SELECT * INTO p FROM principal WHERE id = c.principal_id;
    SELECT coalesce(array_agg(role_name ORDER BY role_name), '{}') INTO role_names
        FROM principal_role WHERE principal_role.principal_id = p.id;
    SELECT * INTO g FROM role_grants(role_names);
    IF p.is_active AND c.revoked_at IS NULL AND c.not_after > at_time THEN
        SELECT * INTO hit_allowed, hit_remaining, hit_reset, hit_retry FROM rate_limit_hit('p:' || p.id, g.per_minute, g.per_hour, g.burst, at_time);
    END IF;
    RETURN QUERY SELECT c.not_after, c.revoked_at, p.id, p.name, p.kind, p.is_active, role_names, g.permissions,
        g.burst, hit_allowed, hit_remaining, hit_reset, hit_retry;
END
$$;

-- Authentication by a verified token: the principal named by its subject (created on first sight when the
-- token comes from a trusted identity provider), the permissions of the token's roles, and the rate-limit hit.
CREATE FUNCTION auth_token_subject(subject_name text, token_roles text[], provision boolean, at_time timestamptz)
RETURNS TABLE (
    principal_id bigint, principal_name text, principal_kind principal_kind, is_active boolean,
    permissions text[],
    rate_limit integer, rate_allowed boolean, rate_remaining integer, rate_reset integer, rate_retry_after integer
)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    p principal;
    g record;
    hit_allowed boolean;
    hit_remaining integer;
    hit_reset integer;
    hit_retry integer;
BEGIN
    SELECT * INTO p FROM principal WHERE name = subject_name;
    IF NOT FOUND THEN
        IF NOT provision THEN
            RETURN;
        END IF;
        INSERT INTO principal (name, is_external) VALUES (subject_name, true)
            ON CONFLICT (name) DO NOTHING;
        SELECT * INTO p FROM principal WHERE name = subject_name;
    END IF;
    SELECT * INTO g FROM role_grants(token_roles);
    IF p.is_active THEN
        SELECT * INTO hit_allowed, hit_remaining, hit_reset, hit_retry FROM rate_limit_hit('p:' || p.id, g.per_minute, g.per_hour, g.burst, at_time);
    END IF;
    RETURN QUERY SELECT p.id, p.name, p.kind, p.is_active, g.permissions,
        g.burst, hit_allowed, hit_remaining, hit_reset, hit_retry;
END
$$;

-- One row per request that reaches the API (health probes excepted), refused ones included. `event` names what
-- happened (`request`, `auth.failure`, `permission.denied`, `rate_limit.exceeded`, `key.created`, ...) and
-- `detail` adds the reason, permission or object, never a secret.
CREATE TABLE audit_log (
    id              bigserial PRIMARY KEY,
    at              timestamptz NOT NULL DEFAULT now(),
    request_id      text NOT NULL,
    event           text NOT NULL,
    principal_id    bigint,
    principal_name  text,
    credential_kind text,
    key_prefix      text,
    method          text NOT NULL,
    route           text,
    status          smallint NOT NULL,
    latency_us      integer NOT NULL,
    client_addr     text,
    user_agent      text,
    detail          jsonb NOT NULL DEFAULT '{}',
    -- The hash chain, filled in order by audit_seal(): hash = sha256(prev_hash || audit_canonical(row)).
    seq             bigint,
    prev_hash       bytea,
    hash            bytea,
    sealed_at       timestamptz,
    CONSTRAINT audit_log_sealed_together CHECK ((seq IS NULL) = (hash IS NULL) AND (seq IS NULL) = (prev_hash IS NULL))
);
CREATE UNIQUE INDEX audit_log_seq_idx ON audit_log (seq) WHERE seq IS NOT NULL;
CREATE INDEX audit_log_unsealed_idx ON audit_log (id) WHERE seq IS NULL;
CREATE INDEX audit_log_principal_idx ON audit_log (principal_id, id);
CREATE INDEX audit_log_at_idx ON audit_log USING brin (at);

-- The exact bytes a seal covers: every content field as `<octet length>:<text>`, NULL as `~`, separated by `|`,
-- after the row's place in the chain. switchyardctl audit verify rebuilds the same text independently.
CREATE FUNCTION audit_canonical(seq bigint, a audit_log) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT string_agg(CASE WHEN f IS NULL THEN '~' ELSE octet_length(f)::text || ':' || f END, '|' ORDER BY n)
    FROM unnest(ARRAY[
        seq::text, a.id::text, ((extract(epoch FROM a.at) * 1000000)::bigint)::text, a.request_id, a.event,
        a.principal_id::text, a.principal_name, a.credential_kind, a.key_prefix, a.method, a.route,
        a.status::text, a.latency_us::text, a.client_addr, a.user_agent, a.detail::text
    ]) WITH ORDINALITY AS fields (f, n)
$$;

-- Seals up to `batch` committed rows in id order, continuing the chain from the last sealed row. One sealer at a
-- time (transaction advisory lock); requests never wait for it. Returns how many rows it sealed.
CREATE FUNCTION audit_seal(batch integer) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
    head_seq  bigint;
    head_hash bytea;
    r         audit_log;
    sealed    integer := 0;
BEGIN
    PERFORM pg_advisory_xact_lock(1398210562);
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

-- Sealed rows never change and no row is ever deleted, whoever asks (a superuser can still disable the trigger;
-- the hash chain is what catches that).
CREATE FUNCTION audit_log_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'audit rows cannot be deleted' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF OLD.seq IS NOT NULL OR (OLD.id, OLD.at, OLD.request_id, OLD.event, OLD.principal_id, OLD.principal_name,
            OLD.credential_kind, OLD.key_prefix, OLD.method, OLD.route, OLD.status, OLD.latency_us, OLD.client_addr,
            OLD.user_agent, OLD.detail)
        IS DISTINCT FROM (NEW.id, NEW.at, NEW.request_id, NEW.event, NEW.principal_id, NEW.principal_name,
            NEW.credential_kind, NEW.key_prefix, NEW.method, NEW.route, NEW.status, NEW.latency_us, NEW.client_addr,
            NEW.user_agent, NEW.detail) THEN
        RAISE EXCEPTION 'audit rows cannot be changed' USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER audit_log_guard BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_guard();

GRANT SELECT, INSERT, UPDATE, DELETE ON role, principal, principal_role, api_key, principal_certificate,
    rate_limit_state TO switchyard_app;
GRANT SELECT, INSERT ON audit_log TO switchyard_app;
GRANT USAGE ON SEQUENCE principal_id_seq, api_key_id_seq, audit_log_id_seq TO switchyard_app;
REVOKE ALL ON FUNCTION audit_seal(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit_seal(integer) TO switchyard_app;
