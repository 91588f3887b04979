-- 0003_jobs: devices, reservations, jobs with their state machine, job events and idempotency keys.
-- Creates tables, functions and triggers; the btree_gist extension backs the reservation exclusion constraint.
--
-- Job states (every change is checked here, whoever makes it):
--
--   queued ──▶ scheduled ──▶ running ──▶ succeeded
--     │  ▲        │  │ ▲        │ ├────▶ failed ─────┐
--     │  └────────┘  │ └────────┘ ├────▶ cancelled ──┤ (retry: back to queued)
--     │ (requeue)    │ (lease     └────▶ timed_out ──┘
--     │              │  expired)
--     ├──▶ cancelled ◀┘
--     └──▶ failed (can never fit)
--
-- Each change bumps the job's version, appends a job_event row and sends NOTIFY job_changed, in the same
-- transaction (triggers below), so long-polling clients and batch executables wake up at commit.

CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE TYPE device_kind AS ENUM ('simulator', 'qpu', 'gpu', 'host');
CREATE TYPE device_status AS ENUM ('online', 'offline', 'maintenance');

CREATE TABLE device (
    id          text PRIMARY KEY,
    kind        device_kind NOT NULL,
    status      device_status NOT NULL DEFAULT 'online',
    -- Jobs the device takes at once (scheduled and running).
    capacity    integer NOT NULL DEFAULT 1,
    labels      text[] NOT NULL DEFAULT '{}',
    -- qubits, basis_gates, coupling_map, gpu_type, gpu_count, …
    properties  jsonb NOT NULL DEFAULT '{}',
    description text NOT NULL DEFAULT '',
    -- Scheduled and running jobs on the device, kept by the job triggers (counting them per round would grow
    -- with the fleet's history).
    active_jobs integer NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    -- A retired device keeps its history but takes no more jobs and is hidden from listings.
    retired_at  timestamptz,
    CONSTRAINT device_id_format CHECK (id ~ '^[a-z0-9][a-z0-9-]{0,62}$' AND id <> '_any'),
    CONSTRAINT device_capacity_range CHECK (capacity BETWEEN 1 AND 100000),
    CONSTRAINT device_labels_format CHECK (array_to_string(labels, ',') ~ '^([a-z0-9][a-z0-9_.-]{0,62}(,|$))*$'),
    CONSTRAINT device_properties_object CHECK (jsonb_typeof(properties) = 'object'),
    CONSTRAINT device_qubits_positive CHECK (NOT properties ? 'qubits' OR (jsonb_typeof(properties -> 'qubits') = 'number'
        AND (properties ->> 'qubits')::numeric BETWEEN 1 AND 1000000)),
    CONSTRAINT device_description_length CHECK (char_length(description) <= 500)
);

INSERT INTO device (id, kind, capacity, labels, properties, description) VALUES (
    'sim-statevector', 'simulator', 2, '{simulator,statevector}',
    '{"qubits": 28, "simulator": "statevector", "basis_gates": null, "coupling_map": null}',
    'State-vector simulator run by switchyard-simulator (double precision).');

CREATE TABLE reservation (
    id           bigserial PRIMARY KEY,
    device_id    text NOT NULL REFERENCES device (id),
    principal_id bigint NOT NULL REFERENCES principal (id),
    during       tstzrange NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT reservation_during_bounded CHECK (NOT isempty(during) AND NOT lower_inf(during) AND NOT upper_inf(during)),
    -- Overlapping reservations of one device are refused here, by the database, whatever the caller checked.
    CONSTRAINT reservation_no_overlap EXCLUDE USING gist (device_id WITH =, during WITH &&)
);

CREATE TYPE job_state AS ENUM ('queued', 'scheduled', 'running', 'succeeded', 'failed', 'cancelled', 'timed_out');
CREATE TYPE job_kind AS ENUM ('circuit', 'command');

CREATE TABLE job (
    id               bigserial PRIMARY KEY,
    owner_id         bigint NOT NULL REFERENCES principal (id),
    name             text NOT NULL,
    kind             job_kind NOT NULL,
    -- A device id, `_any` (any online device of a kind that fits) or `group:LABEL`.
    target           text NOT NULL,
    program          text NOT NULL,
    shots            integer,
    priority         smallint NOT NULL DEFAULT 50,
    max_duration_s   integer NOT NULL DEFAULT 3600,
    metadata         jsonb NOT NULL DEFAULT '{}',
    -- Qubits a circuit needs, known from parsing it at submission.
    qubits           integer,
    state            job_state NOT NULL DEFAULT 'queued',
    version          bigint NOT NULL DEFAULT 1,
    device_id        text REFERENCES device (id),
    attempt          integer NOT NULL DEFAULT 0,
    max_attempts     integer NOT NULL DEFAULT 3,
    cancel_requested boolean NOT NULL DEFAULT false,
    deadline_at      timestamptz,
    lease_owner      text,
    lease_expires_at timestamptz,
    result           jsonb,
    error            text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    scheduled_at     timestamptz,
    started_at       timestamptz,
    finished_at      timestamptz,
    CONSTRAINT job_name_length CHECK (char_length(name) BETWEEN 1 AND 100),
    CONSTRAINT job_name_characters CHECK (name !~ '[<>"''[:cntrl:]]'),
    CONSTRAINT job_target_format CHECK (target ~ '^(_any|group:[a-z0-9][a-z0-9_.-]{0,62}|[a-z0-9][a-z0-9-]{0,62})$'),
    CONSTRAINT job_program_size CHECK (octet_length(program) BETWEEN 1 AND 10485760),
    CONSTRAINT job_shots_by_kind CHECK ((kind = 'circuit' AND shots BETWEEN 1 AND 100000) OR (kind = 'command' AND shots IS NULL)),
    CONSTRAINT job_priority_range CHECK (priority BETWEEN 1 AND 100),
    CONSTRAINT job_max_duration_range CHECK (max_duration_s BETWEEN 1 AND 604800),
    CONSTRAINT job_metadata_object CHECK (jsonb_typeof(metadata) = 'object' AND octet_length(metadata::text) <= 65536),
    CONSTRAINT job_attempts_range CHECK (attempt >= 0 AND max_attempts BETWEEN 1 AND 100),
    CONSTRAINT job_placed_on_device CHECK (state NOT IN ('scheduled', 'running') OR device_id IS NOT NULL),
    CONSTRAINT job_finished_or_finished_at_null CHECK (
        (state IN ('succeeded', 'failed', 'cancelled', 'timed_out')) = (finished_at IS NOT NULL))
);
CREATE INDEX job_owner_idx ON job (owner_id, id DESC);
-- The scheduler's queue: owners with queued work and, per owner, its best jobs first.
CREATE INDEX job_queued_idx ON job (owner_id, priority DESC, id) WHERE state = 'queued';
CREATE INDEX job_active_idx ON job (device_id) WHERE state IN ('scheduled', 'running');
CREATE INDEX job_running_deadline_idx ON job (deadline_at) WHERE state = 'running';
CREATE INDEX job_running_lease_idx ON job (lease_expires_at) WHERE state = 'running';
CREATE INDEX job_created_idx ON job USING brin (created_at);

-- Events in commit order: `seq` (the id clients see) is assigned by job_event_sequence() after commit, so a
-- client following `after=seq` never misses an event that committed late or sees one twice.
CREATE TABLE job_event (
    id         bigserial PRIMARY KEY,
    seq        bigint,
    job_id     bigint NOT NULL,
    owner_id   bigint NOT NULL,
    kind       text NOT NULL,
    from_state job_state,
    to_state   job_state,
    version    bigint NOT NULL,
    at         timestamptz NOT NULL DEFAULT now(),
    detail     jsonb NOT NULL DEFAULT '{}',
    CONSTRAINT job_event_kind_known CHECK (kind IN ('created', 'state', 'updated', 'deleted'))
);
CREATE UNIQUE INDEX job_event_seq_idx ON job_event (seq) WHERE seq IS NOT NULL;
CREATE INDEX job_event_unsequenced_idx ON job_event (id) WHERE seq IS NULL;
CREATE INDEX job_event_owner_idx ON job_event (owner_id, seq) WHERE seq IS NOT NULL;

-- Scheduled and running jobs per owner, kept by the job triggers: the scheduler's fair share reads it.
CREATE TABLE owner_load (
    owner_id    bigint PRIMARY KEY,
    active_jobs integer NOT NULL
);

-- A retried submission with the same key returns the first job; keys live 24 hours per owner.
CREATE TABLE idempotency_key (
    owner_id     bigint NOT NULL REFERENCES principal (id),
    key          text NOT NULL,
    request_hash bytea NOT NULL,
    job_id       bigint NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (owner_id, key),
    CONSTRAINT idempotency_key_length CHECK (char_length(key) BETWEEN 1 AND 255)
);
CREATE INDEX idempotency_key_created_idx ON idempotency_key (created_at);

CREATE FUNCTION job_state_is_final(state job_state) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT state IN ('succeeded', 'failed', 'cancelled', 'timed_out')
$$;

-- The transitions of the diagram above, and no others.
CREATE FUNCTION job_transition_allowed(from_state job_state, to_state job_state) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT from_state::text || '>' || to_state::text = ANY (ARRAY[
        'queued>scheduled', 'queued>cancelled', 'queued>failed',
        'scheduled>running', 'scheduled>queued', 'scheduled>cancelled', 'scheduled>failed',
        'running>succeeded', 'running>failed', 'running>cancelled', 'running>timed_out', 'running>scheduled',
        'failed>queued', 'cancelled>queued', 'timed_out>queued'])
$$;

-- Refuses transitions the diagram does not allow (SQLSTATE PT409, detail = the current state), stamps times and
-- bumps the version of every change clients can see. Lease renewals alone are not such a change.
CREATE FUNCTION job_before_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.state IS DISTINCT FROM OLD.state THEN
        IF NOT job_transition_allowed(OLD.state, NEW.state) THEN
            RAISE EXCEPTION 'job % cannot go from % to %', OLD.id, OLD.state, NEW.state
                USING ERRCODE = 'PT409', DETAIL = OLD.state::text;
        END IF;
        CASE NEW.state
            WHEN 'queued' THEN
                NEW.device_id := NULL;
                NEW.scheduled_at := NULL;
                NEW.started_at := NULL;
                NEW.finished_at := NULL;
                NEW.deadline_at := NULL;
                NEW.cancel_requested := false;
                NEW.result := NULL;
                NEW.error := NULL;
                NEW.lease_owner := NULL;
                NEW.lease_expires_at := NULL;
            WHEN 'scheduled' THEN
                NEW.scheduled_at := now();
                NEW.lease_owner := NULL;
                NEW.lease_expires_at := NULL;
            WHEN 'running' THEN
                NEW.started_at := now();
                NEW.attempt := OLD.attempt + 1;
                NEW.deadline_at := now() + make_interval(secs => NEW.max_duration_s);
            ELSE
                NEW.finished_at := now();
                NEW.lease_owner := NULL;
                NEW.lease_expires_at := NULL;
                NEW.deadline_at := NULL;
        END CASE;
    ELSIF (NEW.cancel_requested, NEW.deadline_at, NEW.metadata, NEW.priority, NEW.result, NEW.error, NEW.device_id)
        IS NOT DISTINCT FROM (OLD.cancel_requested, OLD.deadline_at, OLD.metadata, OLD.priority, OLD.result, OLD.error,
                              OLD.device_id) THEN
        RETURN NEW;
    END IF;
    NEW.version := OLD.version + 1;
    NEW.updated_at := now();
    RETURN NEW;
END
$$;

CREATE TRIGGER job_before_update BEFORE UPDATE ON job FOR EACH ROW EXECUTE FUNCTION job_before_update();

-- NOTIFY job_changed with `job:owner` pairs, comma-separated, at most 300 a notification (the payload limit is
-- 8000 bytes). Listeners wake the long-polls of those jobs and owners.
CREATE FUNCTION job_notify(ids bigint[], owners bigint[]) RETURNS void
LANGUAGE sql AS $$
    SELECT pg_notify('job_changed', string_agg(c.id || ':' || c.owner, ','))
    FROM unnest(ids, owners) WITH ORDINALITY AS c (id, owner, n)
    GROUP BY (c.n - 1) / 300
$$;

CREATE FUNCTION job_after_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO job_event (job_id, owner_id, kind, to_state, version)
    SELECT id, owner_id, 'created', state, version FROM new_rows;
    PERFORM job_notify(array_agg(id), array_agg(owner_id)) FROM new_rows HAVING count(*) > 0;
    RETURN NULL;
END
$$;

CREATE TRIGGER job_after_insert AFTER INSERT ON job REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION job_after_insert();

CREATE FUNCTION job_after_update() RETURNS trigger
LANGUAGE plpgsql AS $$
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

CREATE TRIGGER job_after_update AFTER UPDATE ON job REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION job_after_update();

CREATE FUNCTION job_after_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO job_event (job_id, owner_id, kind, from_state, version)
    SELECT id, owner_id, 'deleted', state, version + 1 FROM old_rows;
    PERFORM job_notify(array_agg(id), array_agg(owner_id)) FROM old_rows HAVING count(*) > 0;
    RETURN NULL;
END
$$;

CREATE TRIGGER job_after_delete AFTER DELETE ON job REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION job_after_delete();

-- Gives every committed, unnumbered event the next numbers, in id order, under a lock: a reader that runs this
-- before reading sees numbers 1..N without holes. The numbering commits synchronously, so numbers handed out
-- survive a crash. Returns the highest number.
CREATE FUNCTION job_event_sequence() RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    head     bigint;
    numbered bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(1398210563);
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

-- A job as the API shows it.
CREATE FUNCTION job_json(j job, with_program boolean) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'id', j.id, 'name', j.name, 'owner', (SELECT p.name FROM principal p WHERE p.id = j.owner_id),
        'kind', j.kind, 'target', j.target, 'device_id', j.device_id, 'state', j.state, 'version', j.version,
        'priority', j.priority, 'shots', j.shots, 'qubits', j.qubits, 'max_duration_s', j.max_duration_s,
        'metadata', j.metadata, 'attempt', j.attempt, 'max_attempts', j.max_attempts,
        'cancel_requested', j.cancel_requested, 'error', j.error,
        'created_at', rfc3339(j.created_at), 'updated_at', rfc3339(j.updated_at),
        'scheduled_at', rfc3339(j.scheduled_at), 'started_at', rfc3339(j.started_at),
        'finished_at', rfc3339(j.finished_at), 'deadline_at', rfc3339(j.deadline_at),
        'program', CASE WHEN with_program THEN j.program END)
$$;

-- Inserts a job, or, for an Idempotency-Key this owner used in the last 24 hours, returns that key's job and
-- whether this request's hash matches the first one. The key row decides concurrent duplicates: the second insert
-- waits for the first transaction and then finds its key.
CREATE FUNCTION job_submit(
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
            RETURN QUERY SELECT existing.job_id, false, existing.request_hash = request_hash;
            RETURN;
        END IF;
    END IF;
    INSERT INTO job (id, owner_id, name, kind, target, program, shots, priority, max_duration_s, metadata, qubits)
    VALUES (new_id, owner, job_name, job_kind, job_target, job_program, job_shots, job_priority, job_max_duration,
            job_metadata, job_qubits);
    RETURN QUERY SELECT new_id, true, true;
END
$$;

GRANT SELECT, INSERT, UPDATE, DELETE ON device, reservation, job, job_event, idempotency_key, owner_load TO switchyard_app;
GRANT USAGE ON SEQUENCE reservation_id_seq, job_id_seq, job_event_id_seq TO switchyard_app;
