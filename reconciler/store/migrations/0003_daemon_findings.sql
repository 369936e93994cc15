-- What the daemon knows besides the federations, for `reconciler status` (another process):
-- the last error of each cycle step, and the specs that never became a federation (invalid,
-- denied by the tenant policy, or queued behind maxConcurrent). Written by the daemon only
-- when they change.

CREATE TABLE step_errors (
    step      text        PRIMARY KEY,            -- fetch | observe | store | status-push | artifacts
    message   text        NOT NULL,               -- scrubbed: never a credential
    since     timestamptz NOT NULL,               -- when this run of failures began
    last_seen timestamptz NOT NULL,
    count     bigint      NOT NULL,               -- failures in this run of failures
    failing   boolean     NOT NULL                -- false once the step worked again
);

CREATE TABLE spec_findings (
    tenant   text  NOT NULL,
    name     text  NOT NULL,
    path     text  NOT NULL,
    phase    text  NOT NULL,                      -- Invalid | Pending
    reason   text  NOT NULL,                      -- SpecInvalid | PolicyDenied | Queued
    message  text  NOT NULL,
    problems jsonb NOT NULL DEFAULT '[]',         -- "file:line:col: field: message"
    PRIMARY KEY (tenant, name)
);
