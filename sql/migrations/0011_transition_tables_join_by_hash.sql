-- 0011_transition_tables_join_by_hash: a job UPDATE of thousands of rows no longer turns quadratic.
--
-- job_after_update joins its transition tables (new_rows with old_rows, on id) three times. PL/pgSQL caches the
-- plans of those queries per session, and after five calls it may keep a generic plan made for the transition
-- tables' size at that moment. In a session whose first statements changed a row or two (a scheduler run whose
-- first rounds were small, say) that plan is a nested loop, and every later statement pays rows × rows: measured,
-- a 1,500-row scheduling UPDATE took 409 ms after seven one-row updates against 42 ms in a fresh session, and
-- whole benchmark runs of the scheduler fell from ~37k to ~9k jobs/s. Without nested loops the planner joins by
-- hash, which costs the same for one row and stays linear for thousands; the function's other joins (devices by
-- id) are small tables. One-row updates measured the same with and without the setting.

ALTER FUNCTION job_after_update() SET enable_nestloop = off;
