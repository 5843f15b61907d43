-- Sessions of sockets held by an edge and carried over its `EdgeLink`.
-- Their `instance_id` is the edge's id (kept fresh in `core_instances` by
-- whichever core holds the edge's link), and `socket_id` the edge's id of
-- the socket: after a broken link the edge names its sockets again, on the
-- same or another core, and each finds its row instead of adding one, so
-- its user never goes offline in between. `Subscribe` sessions have none.
ALTER TABLE room_sessions ADD COLUMN socket_id BIGINT;
CREATE UNIQUE INDEX room_sessions_socket_key ON room_sessions (instance_id, socket_id)
    WHERE socket_id IS NOT NULL;
