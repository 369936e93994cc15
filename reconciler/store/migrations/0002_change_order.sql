-- Every write to a federation row stamps it with its transaction id, and a deletion leaves
-- the id behind, so a reader can ask what changed since its last read instead of listing
-- every row (a daemon over 10,000 federations reads twice a cycle). A reader keeps the xmin
-- of its snapshot: every transaction that had not finished by then has an id at least that
-- high, so "stamped >= that xmin" next time skips nothing (and may re-read a few rows).
-- No lock is taken: writers are not serialised by this. A TRUNCATE leaves row id 0, "all".

ALTER TABLE federations ADD COLUMN change_xid xid8 NOT NULL DEFAULT '0';
CREATE INDEX federations_change_xid ON federations (change_xid);

CREATE TABLE federation_deletions (
    change_xid    xid8   NOT NULL,
    federation_id bigint NOT NULL
);
CREATE INDEX federation_deletions_change_xid ON federation_deletions (change_xid);

CREATE FUNCTION federations_stamp_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO federation_deletions VALUES (pg_current_xact_id(), OLD.id);
        RETURN OLD;
    END IF;
    NEW.change_xid := pg_current_xact_id();
    RETURN NEW;
END $$;

CREATE TRIGGER federations_stamp_change
    BEFORE INSERT OR UPDATE OR DELETE ON federations
    FOR EACH ROW EXECUTE FUNCTION federations_stamp_change();

CREATE FUNCTION federations_stamp_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO federation_deletions VALUES (pg_current_xact_id(), 0);
    RETURN NULL;
END $$;

CREATE TRIGGER federations_stamp_truncate
    AFTER TRUNCATE ON federations
    FOR EACH STATEMENT EXECUTE FUNCTION federations_stamp_truncate();
