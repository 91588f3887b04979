-- 0019_least_privilege: the role of the responders, batches and switchyardctl (`switchyard_app`) keeps only the
-- writes the code makes.
--
-- It had UPDATE and DELETE on whole tables, so a compromised responder could, for instance, overwrite an API key's
-- `secret_hash` with one of its own, rewrite or delete the job events clients page through ("none skipped"), or
-- delete principals, keys, certificates and devices that the code only ever deactivates, revokes or retires.
-- What each table keeps:
--   api_key               UPDATE of revoked_at, replaced_by, last_used_at only; no DELETE (keys are revoked)
--   job_event             UPDATE of seq only (job_event_sequence() numbers events); no DELETE
--   principal             no DELETE (users are deactivated: deleted_at)
--   principal_certificate no UPDATE or DELETE (registered only)
--   principal_role        no UPDATE (grants are inserted and deleted)
--   device                no DELETE (devices are retired)
--   reservation           no UPDATE (made and cancelled)
--   owner_load            no DELETE (counters)
-- Referential actions and SECURITY DEFINER functions run as the owner and are not affected.

REVOKE UPDATE, DELETE ON api_key FROM switchyard_app;
GRANT UPDATE (revoked_at, replaced_by, last_used_at) ON api_key TO switchyard_app;
REVOKE UPDATE, DELETE ON job_event FROM switchyard_app;
GRANT UPDATE (seq) ON job_event TO switchyard_app;
REVOKE DELETE ON principal FROM switchyard_app;
REVOKE UPDATE, DELETE ON principal_certificate FROM switchyard_app;
REVOKE UPDATE ON principal_role FROM switchyard_app;
REVOKE DELETE ON device FROM switchyard_app;
REVOKE UPDATE ON reservation FROM switchyard_app;
REVOKE DELETE ON owner_load FROM switchyard_app;
