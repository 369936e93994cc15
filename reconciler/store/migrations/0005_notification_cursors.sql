-- Where each notification service has got to in the event outbox: the id of the last event
-- it was told about (or that was not for it). Moved only after a delivery succeeded, so a
-- daemon killed mid-delivery sends that event again (at least once) and loses none. A
-- service seen for the first time starts at the outbox's end, not at its history.

CREATE TABLE notification_cursors (
    service    text        PRIMARY KEY,      -- the service's name in the notifications file
    after_id   bigint      NOT NULL,         -- events with a higher id are still to go
    updated_at timestamptz NOT NULL DEFAULT now()
);
