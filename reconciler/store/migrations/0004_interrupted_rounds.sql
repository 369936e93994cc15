-- A round can end without completing: its federation finished (stopped, failed, or completed
-- while the round's completion never reached the daemon and could not be recovered) or its
-- generation was replaced. Such a round is `interrupted`, never left `started` under a
-- finished phase; a later run that does the round again moves it back to `started`.

ALTER TABLE rounds DROP CONSTRAINT rounds_status_check;
ALTER TABLE rounds ADD CONSTRAINT rounds_status_check
    CHECK (status IN ('started', 'completed', 'interrupted'));
