-- User streams (`InboxService.Stream`, the user socket): every room of a
-- user on one stream, recorded as a session with no room.
--
-- A row of `room_sessions` with a NULL `room_id` makes its user online
-- (presence, `GET /users/{id}`) and counts as an open socket for the
-- webhook of offline recipients, as every reader that asks "has this user a
-- session" looks only at `user_id`. It never makes its user a reader: the
-- send's "the recipient has this room open" check compares `room_id` with
-- the room, which NULL never equals, so a message to a user who only has a
-- user stream open is stored `delivered`. Its instance's heartbeat keeps
-- it, and the reaper ends it with its instance, like any other session.
ALTER TABLE room_sessions ALTER COLUMN room_id DROP NOT NULL;

-- As in migrations/0010, and the announcement names the room's other
-- member too: `<room>:<user>:<peer>`, so that an instance finds the user
-- streams that must hear of it without a query. (Listeners of this version
-- read both forms; an older core drops the new one, losing only `typing`.)
CREATE OR REPLACE FUNCTION chat_typing(p_room BIGINT, p_user BIGINT, p_every INTERVAL) RETURNS BOOLEAN
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    peer BIGINT;
BEGIN
    INSERT INTO typing_marks (room_id, user_id, typed_at) VALUES (p_room, p_user, now())
    ON CONFLICT ON CONSTRAINT typing_marks_pkey DO UPDATE SET typed_at = EXCLUDED.typed_at
    WHERE typing_marks.typed_at <= EXCLUDED.typed_at - p_every;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    SELECT CASE WHEN r.user_lo = p_user THEN r.user_hi ELSE r.user_lo END INTO peer
    FROM rooms r WHERE r.id = p_room;
    PERFORM pg_notify('chat_typing', p_room || ':' || p_user || ':' || coalesce(peer, 0));
    RETURN true;
END
$$;
