-- Where the daemon can be reached, for the CLI (another process, often on the same host):
-- its HTTP endpoints (`reconciler reconcile`) and the SuperLink Control API it drives
-- (`reconciler logs`; after `make demo` a local SuperLink is on a port picked at start).
-- Written by the daemon when it starts; an address, never a credential.

CREATE TABLE daemon_endpoints (
    name       text        PRIMARY KEY,  -- http | superlink
    address    text        NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
