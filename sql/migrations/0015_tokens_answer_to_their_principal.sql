-- 0015_tokens_answer_to_their_principal: a token can do no more than the principal it names may do now, an identity
-- provider's token cannot name a local account, and a token Switchyard made with an API key ends with that key.
--
-- Before, every token carried its own roles (or permissions) and those alone decided what it could do. A token
-- Switchyard issued kept its principal's rights for its whole life after an admin took them away, it outlived the
-- revocation of the key that asked for it, and an identity provider's token for `sub: admin` authenticated as the
-- local admin account, with that account's keys and jobs.
--
-- Now, for a local principal (one not provisioned from tokens), a token's roles and permissions only narrow the
-- principal's current permissions, as a key's scopes do, and its rate limits are the principal's. An external
-- principal (provisioned on first sight of a token) still takes its roles and limits from its tokens. A token from an
-- identity provider (`from_identity_provider`) that names a local principal gets a row with `is_external` false
-- and no rate-limit hit, which the application refuses. `POST /auth/token` writes the asking key's id into the
-- token (`issuing_key`): when that key is revoked, has expired or is not the principal's, the row says
-- `issuing_key_usable` false and counts nothing, and the application refuses the token as revoked.

DROP FUNCTION auth_token_subject(text, text[], boolean, timestamptz);

CREATE FUNCTION auth_token_subject(
    subject_name text, token_roles text[], from_identity_provider boolean, issuing_key text, at_time timestamptz
)
RETURNS TABLE (
    principal_id bigint, principal_name text, principal_kind principal_kind, is_active boolean, is_external boolean,
    permissions text[], principal_permissions text[], issuing_key_usable boolean,
    rate_limit integer, rate_allowed boolean, rate_remaining integer, rate_reset integer, rate_retry_after integer
)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    per_minute      integer;
    per_hour        integer;
    role_per_minute integer;
    role_per_hour   integer;
    role_burst      integer;
BEGIN
    SELECT p.id, p.name, p.kind, p.is_active, p.is_external, p.permissions, p.rate_per_minute, p.rate_per_hour,
           p.rate_burst
    INTO principal_id, principal_name, principal_kind, is_active, is_external, principal_permissions, per_minute,
         per_hour, rate_limit
    FROM principal p WHERE p.name = subject_name;
    IF NOT FOUND THEN
        INSERT INTO principal (name, is_external) VALUES (subject_name, true) ON CONFLICT (name) DO NOTHING;
        SELECT p.id, p.name, p.kind, p.is_active, p.is_external, p.permissions, p.rate_per_minute,
               p.rate_per_hour, p.rate_burst
        INTO principal_id, principal_name, principal_kind, is_active, is_external, principal_permissions,
             per_minute, per_hour, rate_limit
        FROM principal p WHERE p.name = subject_name;
    END IF;
    SELECT g.permissions, g.per_minute, g.per_hour, g.burst INTO permissions, role_per_minute, role_per_hour, role_burst
    FROM role_grants(token_roles) g;
    issuing_key_usable := issuing_key IS NULL OR EXISTS (
        SELECT 1 FROM api_key k
        WHERE k.prefix = issuing_key AND k.principal_id = auth_token_subject.principal_id
          AND (k.revoked_at IS NULL OR k.revoked_at > at_time) AND (k.expires_at IS NULL OR k.expires_at > at_time));
    IF is_external THEN
        principal_permissions := permissions;
        per_minute := role_per_minute;
        per_hour := role_per_hour;
        rate_limit := role_burst;
    ELSIF from_identity_provider THEN
        RETURN NEXT;
        RETURN;
    END IF;
    IF is_active AND issuing_key_usable THEN
        SELECT * INTO rate_allowed, rate_remaining, rate_reset, rate_retry_after
        FROM rate_limit_hit('p:' || principal_id, per_minute, per_hour, rate_limit, at_time);
    END IF;
    RETURN NEXT;
END
$$;
