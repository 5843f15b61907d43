-- Presence changes and typing, announced to every instance by the
-- transaction that makes them.
--
-- A user goes online when their first session opens and offline when their
-- last one ends (whatever kind of session, on whatever instance, also when
-- the reaper ends a dead instance's). Both moments are found here, under the
-- lock of the user's row that opening and ending sessions already take (see
-- migrations/0004), and each bumps `presence_version`: a per-user counter
-- that orders a user's changes, so a subscriber that read a user's presence
-- at version N ignores every announcement up to N.
--
-- Announcements go on the channel `chat_presence` as space-separated
-- `<user>:<1|0>:<version>:<last_seen, Unix µs, or ->` items (split below
-- PostgreSQL's 8000-byte payload limit). A NOTIFY is delivered only once its
-- transaction commits, so no instance hears of a change that rolled back.
ALTER TABLE users ADD COLUMN presence_version BIGINT NOT NULL DEFAULT 0;

-- One item of a `chat_presence` payload.
CREATE FUNCTION chat_presence_item(p_user BIGINT, p_online BOOLEAN, p_version BIGINT,
                                   p_last_seen TIMESTAMPTZ) RETURNS TEXT
LANGUAGE sql IMMUTABLE AS $$
    SELECT p_user || ':' || CASE WHEN p_online THEN '1' ELSE '0' END || ':' || p_version || ':'
        || coalesce((floor(extract(epoch FROM p_last_seen) * 1000000))::BIGINT::TEXT, '-')
$$;

-- After a session row of `p_user` was inserted (not merely found again):
-- the user is now online if it is their only session. The caller's INSERT
-- locked the user's row, so the end of their other sessions waits.
CREATE FUNCTION chat_session_opened(p_user BIGINT, p_session BIGINT) RETURNS VOID
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    item TEXT;
BEGIN
    IF EXISTS (SELECT 1 FROM room_sessions WHERE user_id = p_user AND id <> p_session) THEN
        RETURN;
    END IF;
    UPDATE users SET presence_version = presence_version + 1 WHERE id = p_user
    RETURNING chat_presence_item(id, true, presence_version, last_seen) INTO item;
    IF item IS NOT NULL THEN
        PERFORM pg_notify('chat_presence', item);
    END IF;
END
$$;

-- As in migrations/0004, and the users who go offline are announced.
CREATE OR REPLACE FUNCTION chat_end_sessions(p_ids BIGINT[]) RETURNS BIGINT
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    ended BIGINT;
    items TEXT[];
    item TEXT;
    payload TEXT := '';
BEGIN
    PERFORM 1 FROM users
    WHERE id IN (SELECT user_id FROM room_sessions WHERE id = ANY (p_ids))
    ORDER BY id
    FOR NO KEY UPDATE;
    WITH gone AS (
        DELETE FROM room_sessions WHERE id = ANY (p_ids) RETURNING user_id
    ), offline AS (
        UPDATE users u SET last_seen = now(), presence_version = u.presence_version + 1
        WHERE u.id IN (SELECT user_id FROM gone)
          AND NOT EXISTS (
              SELECT 1 FROM room_sessions s WHERE s.user_id = u.id AND s.id <> ALL (p_ids)
          )
        RETURNING chat_presence_item(u.id, false, u.presence_version, u.last_seen) AS item
    )
    SELECT (SELECT count(*) FROM gone), (SELECT array_agg(offline.item) FROM offline)
    INTO ended, items;
    FOREACH item IN ARRAY coalesce(items, '{}') LOOP
        IF length(payload) + length(item) > 7000 THEN
            PERFORM pg_notify('chat_presence', payload);
            payload := '';
        END IF;
        payload := CASE WHEN payload = '' THEN item ELSE payload || ' ' || item END;
    END LOOP;
    IF payload <> '' THEN
        PERFORM pg_notify('chat_presence', payload);
    END IF;
    RETURN ended;
END
$$;

-- Typing: when each user last typed in each room, as forwarded. Unlogged:
-- losing it in a crash only lets one more `typing` through.
CREATE UNLOGGED TABLE typing_marks (
    room_id  BIGINT NOT NULL,
    user_id  BIGINT NOT NULL,
    typed_at TIMESTAMPTZ NOT NULL,
    CONSTRAINT typing_marks_pkey PRIMARY KEY (room_id, user_id)
);

-- Forwards a `typing` of `p_user` in `p_room` unless one was forwarded in
-- the last `p_every` (on any instance): announced on `chat_typing` as
-- `<room>:<user>`. True when it was forwarded.
CREATE FUNCTION chat_typing(p_room BIGINT, p_user BIGINT, p_every INTERVAL) RETURNS BOOLEAN
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    INSERT INTO typing_marks (room_id, user_id, typed_at) VALUES (p_room, p_user, now())
    ON CONFLICT ON CONSTRAINT typing_marks_pkey DO UPDATE SET typed_at = EXCLUDED.typed_at
    WHERE typing_marks.typed_at <= EXCLUDED.typed_at - p_every;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    PERFORM pg_notify('chat_typing', p_room || ':' || p_user);
    RETURN true;
END
$$;
