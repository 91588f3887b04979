-- 0007_delete_keeps_load_counters: deleting a scheduled or running job gives its slot back.
--
-- The API deletes only finished jobs, but an operator's DELETE in psql (or a cleanup script) may remove active
-- ones; device.active_jobs and owner_load then counted them for ever, and the scheduler saw the device full.

CREATE OR REPLACE FUNCTION job_after_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO job_event (job_id, owner_id, kind, from_state, version)
    SELECT id, owner_id, 'deleted', state, version + 1 FROM old_rows;
    PERFORM job_notify(array_agg(id), array_agg(owner_id)) FROM old_rows HAVING count(*) > 0;
    UPDATE device d SET active_jobs = d.active_jobs - gone.n
    FROM (SELECT device_id, count(*) AS n FROM old_rows WHERE state IN ('scheduled', 'running') GROUP BY device_id) gone
    WHERE d.id = gone.device_id;
    UPDATE owner_load l SET active_jobs = l.active_jobs - gone.n
    FROM (SELECT owner_id, count(*) AS n FROM old_rows WHERE state IN ('scheduled', 'running') GROUP BY owner_id) gone
    WHERE l.owner_id = gone.owner_id;
    RETURN NULL;
END
$$;
