-- 0016_audit_rows_arrive_unsealed: the responders' role writes an audit row's content, never its place in the chain.
--
-- INSERT was granted on every column, so that role could insert a row with `seq`, `prev_hash` and `hash` already
-- set (or an `id` ahead of the sequence). Such a row can never be removed, and `switchyardctl audit verify` would
-- stop at it for good, leaving every later change unchecked. Only `audit_seal()` (SECURITY DEFINER) fills the chain.

REVOKE INSERT ON audit_log FROM switchyard_app;
GRANT INSERT (at, request_id, event, principal_id, principal_name, credential_kind, key_prefix, method, route, status,
              latency_us, client_addr, user_agent, detail)
    ON audit_log TO switchyard_app;
