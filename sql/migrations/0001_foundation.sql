-- 0001_foundation: the group role the responders and batch executables use, and its read access to the
-- migration ledger (the readiness probe compares the newest version with the build's).
-- Takes no table locks. Creating a role needs CREATEROLE: run migrations as the database owner or a superuser.
-- Login roles for the programs are created by the installer and granted this role (README "Production install").
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'switchyard_app') THEN
        CREATE ROLE switchyard_app NOLOGIN;
    END IF;
END
$$;

GRANT USAGE ON SCHEMA public TO switchyard_app;
GRANT SELECT ON schema_migration TO switchyard_app;
