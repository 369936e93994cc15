-- The labels (tags, tenant: from each SuperNode's --node-config) a tenant's runs reported for
-- the SuperNodes they asked. Kept per tenant: what one tenant's ServerApp says about a node
-- counts only for that tenant's admission (plan/admission.py, clientSelector). Node ids are
-- Flower's unsigned 64-bit ids, kept as text (they do not fit a bigint).
CREATE TABLE node_labels (
    tenant   text        NOT NULL,
    node_id  text        NOT NULL,
    labels   jsonb       NOT NULL,
    seen_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, node_id)
);
CREATE INDEX node_labels_seen_at ON node_labels (seen_at);
