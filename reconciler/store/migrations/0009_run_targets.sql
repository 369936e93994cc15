-- Flower run ids are per SuperLink: a daemon that drives several (targets) records which one
-- each run is on, and two SuperLinks' run 1 are two runs. Runs recorded before are on the
-- SuperLink that was then the only one, the target named "default".

ALTER TABLE runs ADD COLUMN target text NOT NULL DEFAULT 'default';
ALTER TABLE runs DROP CONSTRAINT runs_run_id_key;
ALTER TABLE runs ADD CONSTRAINT runs_target_run_id_key UNIQUE (target, run_id);
