-- Notices the daemon raises itself, beside the lifecycle: a spec that is invalid, a running
-- federation whose rounds stalled. One row per (kind, federation, fingerprint) remembers that
-- the notice was raised, in the transaction that appends its event to the outbox, so a
-- notice is raised once (not every cycle, not again after a restart) and delivered from the
-- outbox like any event. Fingerprint: the spec file and the commit that last changed it
-- (invalid), the generation and the time of the last progress (stalled).

CREATE TABLE notices (
    kind        text        NOT NULL,         -- the event type: fl.spec.invalid | fl.federation.stalled
    tenant      text        NOT NULL,
    name        text        NOT NULL,
    fingerprint text        NOT NULL,
    event_id    bigint      NOT NULL,         -- the outbox event that carries it
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, tenant, name, fingerprint)
);
