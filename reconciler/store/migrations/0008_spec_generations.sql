-- One spec document per generation, for the console's "spec at its revision" and its diff
-- against the previous generation: `federations.document` holds only the current one. A
-- trigger keeps it, so every writer (one at a time, in bulk) records a generation the same
-- way, in the transaction that raised it. Indexes for the console's list orders and filters
-- (key, phase, labels, age) at 10,000 federations; none on updated_at, which every progress
-- report moves (sorting by it sorts the narrow id rows instead).

CREATE TABLE federation_documents (
    federation_id bigint      NOT NULL REFERENCES federations (id) ON DELETE CASCADE,
    generation    integer     NOT NULL,
    path          text        NOT NULL,
    document      jsonb       NOT NULL,
    digest        text        NOT NULL,
    recorded_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (federation_id, generation)
);

INSERT INTO federation_documents (federation_id, generation, path, document, digest, recorded_at)
SELECT id, generation, path, document, digest, updated_at FROM federations;

CREATE FUNCTION federations_keep_document() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.generation = OLD.generation THEN
        RETURN NULL;
    END IF;
    INSERT INTO federation_documents (federation_id, generation, path, document, digest)
    VALUES (NEW.id, NEW.generation, NEW.path, NEW.document, NEW.digest)
    ON CONFLICT (federation_id, generation) DO UPDATE
        SET path = EXCLUDED.path, document = EXCLUDED.document, digest = EXCLUDED.digest;
    RETURN NULL;
END $$;

CREATE TRIGGER federations_keep_document
    AFTER INSERT OR UPDATE OF generation ON federations
    FOR EACH ROW EXECUTE FUNCTION federations_keep_document();

-- The list's orders are byte order (COLLATE "C"), as the daemon sorts keys; the unique
-- (tenant, name) index is in the database's collation, so the console has its own.
CREATE INDEX federations_by_key ON federations (tenant COLLATE "C", name COLLATE "C");
CREATE INDEX federations_by_phase ON federations (phase, tenant COLLATE "C", name COLLATE "C");
CREATE INDEX federations_by_age ON federations (created_at, id);
CREATE INDEX federations_labels ON federations
    USING gin ((document -> 'metadata' -> 'labels') jsonb_path_ops);
