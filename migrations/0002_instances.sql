-- Core instances announce themselves here; sessions of an instance whose
-- heartbeat is too old are removed by the others, so that its users go
-- offline even when it died without saying goodbye.
CREATE TABLE core_instances (
    id           UUID PRIMARY KEY,
    started_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    heartbeat_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX room_sessions_instance_idx ON room_sessions (instance_id);
