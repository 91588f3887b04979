-- 0009_scheduling_skips_the_row_trigger: placing a queued job no longer runs PL/pgSQL for every row.
--
-- job_before_update checks each transition and stamps the row (times, version). A scheduling round moves thousands
-- of jobs from queued to scheduled in one UPDATE, and calling the PL/pgSQL function for each row was about 7 % of
-- the scheduler's time. The trigger now fires unless the row is already exactly what it would make of a
-- queued → scheduled move (that transition is allowed; version one up; scheduled_at and updated_at now(); no lease):
-- then the function would change nothing, so skipping it changes nothing either. The scheduler's UPDATE writes
-- those columns itself (JobAssign in Sources/Store/Statements/SchedulerStatements.swift); any other write, or one
-- that stamps a column differently, still goes through the function and its checks. A WHEN condition is evaluated
-- by the executor, without a function call.

DROP TRIGGER job_before_update ON job;

CREATE TRIGGER job_before_update BEFORE UPDATE ON job FOR EACH ROW
    WHEN (NOT (OLD.state = 'queued' AND NEW.state = 'scheduled' AND NEW.version = OLD.version + 1
               AND NEW.scheduled_at = now() AND NEW.updated_at = now()
               AND NEW.lease_owner IS NULL AND NEW.lease_expires_at IS NULL))
    EXECUTE FUNCTION job_before_update();
