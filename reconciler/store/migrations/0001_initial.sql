-- The reconciler's recorded state: federations, their Flower runs, rounds, model artifacts,
-- clients, the event outbox and the reconcile cycles. Applied by reconciler.store.migrate.

CREATE TABLE federations (
    id                  bigserial PRIMARY KEY,
    tenant              text        NOT NULL,
    name                text        NOT NULL,
    path                text        NOT NULL,
    document            jsonb       NOT NULL,           -- the spec verbatim, as loaded
    digest              text        NOT NULL,           -- sha256 of the canonical JSON
    generation          integer     NOT NULL CHECK (generation >= 1),
    observed_generation integer     NOT NULL DEFAULT 0,
    -- the generation the current Flower run was launched with (0 before the first launch);
    -- an in-place update raises `generation` while that run goes on
    run_generation      integer     NOT NULL DEFAULT 0,
    phase               text        NOT NULL CHECK (phase IN
        ('Pending', 'Starting', 'Running', 'Paused', 'Completed', 'Failed', 'Stopped')),
    reason              text        NOT NULL DEFAULT '',
    current_round       integer     NOT NULL DEFAULT 0,
    total_rounds        integer     NOT NULL DEFAULT 0,
    attempt             integer     NOT NULL DEFAULT 0, -- runs submitted for this generation
    recoveries          integer     NOT NULL DEFAULT 0, -- of which resubmits after a run died
    version             integer     NOT NULL DEFAULT 1, -- optimistic concurrency
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    phase_changed_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant, name),
    CHECK (observed_generation <= generation),
    CHECK (run_generation <= generation)
);

CREATE TABLE runs (
    federation_id bigint      NOT NULL REFERENCES federations (id) ON DELETE CASCADE,
    generation    integer     NOT NULL,
    attempt       integer     NOT NULL,
    run_id        numeric(20) NOT NULL UNIQUE,  -- Flower run ids are unsigned 64-bit
    status        text        NOT NULL,
    sub_status    text        NOT NULL DEFAULT '',
    details       text        NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (federation_id, generation, attempt)
);

CREATE TABLE rounds (
    federation_id bigint      NOT NULL REFERENCES federations (id) ON DELETE CASCADE,
    generation    integer     NOT NULL,
    number        integer     NOT NULL CHECK (number >= 1),
    status        text        NOT NULL CHECK (status IN ('started', 'completed')),
    metrics       jsonb       NOT NULL DEFAULT '{}',
    started_at    timestamptz,
    completed_at  timestamptz,
    PRIMARY KEY (federation_id, generation, number)
);

CREATE TABLE artifacts (
    id            bigserial PRIMARY KEY,
    federation_id bigint      NOT NULL REFERENCES federations (id) ON DELETE CASCADE,
    generation    integer     NOT NULL,
    round         integer     NOT NULL,
    uri           text        NOT NULL,
    sha256        text        NOT NULL,
    size          bigint      NOT NULL CHECK (size >= 0),
    format        text        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (federation_id, generation, round)
);

CREATE TABLE clients (
    federation_id bigint      NOT NULL REFERENCES federations (id) ON DELETE CASCADE,
    generation    integer     NOT NULL,
    node_id       text        NOT NULL,
    status        text        NOT NULL CHECK (status IN ('joined', 'dropped')),
    joined_at     timestamptz NOT NULL DEFAULT now(),
    dropped_at    timestamptz,
    PRIMARY KEY (federation_id, generation, node_id)
);

-- The outbox. Ids are handed out under an advisory lock held until commit, so they become
-- visible in id order and a reader that remembers the last id it saw misses nothing.
CREATE TABLE events (
    id            bigserial PRIMARY KEY,
    type          text        NOT NULL,
    federation_id bigint      REFERENCES federations (id) ON DELETE SET NULL,
    tenant        text,
    name          text,
    generation    integer,
    payload       jsonb       NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_by_name ON events (name, tenant, id);

CREATE TABLE reconcile_cycles (
    id          bigserial PRIMARY KEY,
    revision    text,
    started_at  timestamptz NOT NULL,
    finished_at timestamptz NOT NULL,
    actions     integer     NOT NULL DEFAULT 0,
    errors      jsonb       NOT NULL DEFAULT '[]'
);
