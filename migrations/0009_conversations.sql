-- Conversations: each room keeps, per member, what the room list shows,
-- moved in the transaction of the change that moves it and never counted
-- per request.
--
--   unread_lo, unread_hi  the unread count of `user_lo` and of `user_hi`:
--                         the other member's messages that are neither
--                         deleted nor `read`;
--   activity_at           the `created_at` of the room's newest message,
--                         deleted or not (edits and receipts do not count);
--                         the room's `created_at` while it has none;
--   last_message_id       the newest message that is not deleted (by id,
--                         the room's order), NULL when there is none. No
--                         foreign key: messages are never removed, and the
--                         check would cost every send a lookup.
--
-- Who moves what:
--   * `chat_send_message` (below, replacing 0005's with the same answer):
--     activity and last message always; the recipient's count when the
--     message is stored `delivered` (one stored `read` because the
--     recipient has the room open never counts). All in the one UPDATE of
--     the room row the send already made.
--   * every UPDATE of `messages` (read marks, edits, deletes, whoever runs
--     it): the statement trigger `messages_bookkeeping` subtracts, per room
--     and member, the messages that stopped counting (read, or deleted
--     before they were read: a deleted message never counts), and finds the
--     last message again when the current one was deleted. Edits change
--     nothing here. All writers hold the room lock already, so the counts
--     move in the room's order.
--   Messages are only inserted by `chat_send_message`.
--
-- The room list of a user reads its rooms in activity order from two
-- indexes, one per side of the pair, keyset-paged on (activity_at, id):
-- a page costs the same for a user with one room or 10,000. They also
-- serve "the rooms of U" for either side, so 0005's `rooms_user_hi_idx`
-- goes.

ALTER TABLE rooms
    ADD COLUMN unread_lo       INT NOT NULL DEFAULT 0,
    ADD COLUMN unread_hi       INT NOT NULL DEFAULT 0,
    ADD COLUMN activity_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    ADD COLUMN last_message_id BIGINT;

UPDATE rooms r SET
    unread_lo = (SELECT count(*) FROM messages m
                 WHERE m.room_id = r.id AND m.sender_id = r.user_hi
                   AND m.status <> 'read' AND m.deleted_at IS NULL),
    unread_hi = (SELECT count(*) FROM messages m
                 WHERE m.room_id = r.id AND m.sender_id = r.user_lo
                   AND m.status <> 'read' AND m.deleted_at IS NULL),
    activity_at = coalesce((SELECT max(m.created_at) FROM messages m WHERE m.room_id = r.id),
                           r.created_at),
    last_message_id = (SELECT max(m.id) FROM messages m
                       WHERE m.room_id = r.id AND m.deleted_at IS NULL);

CREATE INDEX rooms_lo_activity_idx ON rooms (user_lo, activity_at DESC, id DESC);
CREATE INDEX rooms_hi_activity_idx ON rooms (user_hi, activity_at DESC, id DESC);
DROP INDEX rooms_user_hi_idx;

CREATE OR REPLACE FUNCTION chat_send_message(p_room BIGINT, p_sender BIGINT, p_text TEXT, p_key TEXT)
RETURNS TABLE (
    outcome      TEXT,
    seq          BIGINT,
    kind         TEXT,
    occurred_at  TIMESTAMPTZ,
    id           BIGINT,
    room_id      BIGINT,
    sender_id    BIGINT,
    sender_email TEXT,
    text         TEXT,
    status       TEXT,
    created_at   TIMESTAMPTZ,
    updated_at   TIMESTAMPTZ,
    deleted      BOOLEAN
)
LANGUAGE plpgsql VOLATILE AS $$
-- As in 0005: inside statements the names mean the columns.
#variable_conflict use_column
DECLARE
    r rooms%ROWTYPE;
    m messages%ROWTYPE;
    kinds TEXT[];
    counts INT;
BEGIN
    SELECT * INTO r FROM rooms WHERE rooms.id = p_room FOR UPDATE;
    IF NOT FOUND THEN
        outcome := 'no_room';
        RETURN NEXT;
        RETURN;
    END IF;
    IF p_sender IS DISTINCT FROM r.user_lo AND p_sender IS DISTINCT FROM r.user_hi THEN
        outcome := 'not_member';
        RETURN NEXT;
        RETURN;
    END IF;
    INSERT INTO messages (room_id, sender_id, seq, text, status, client_msg_id)
    VALUES (p_room, p_sender, r.last_seq + 1, p_text,
        CASE WHEN EXISTS (
            SELECT 1 FROM room_sessions s
            WHERE s.room_id = p_room
              AND s.user_id = CASE WHEN r.user_lo = p_sender THEN r.user_hi ELSE r.user_lo END
        ) THEN 'read' ELSE 'delivered' END,
        p_key)
    ON CONFLICT (room_id, sender_id, client_msg_id) WHERE client_msg_id IS NOT NULL DO NOTHING
    RETURNING * INTO m;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'duplicate', o.seq, NULL::TEXT, NULL::TIMESTAMPTZ, o.id,
            o.room_id, o.sender_id, u.email, coalesce(o.text, ''), o.status, o.created_at,
            o.updated_at, o.deleted_at IS NOT NULL
        FROM messages o JOIN users u ON u.id = o.sender_id
        WHERE o.room_id = p_room AND o.sender_id = p_sender AND o.client_msg_id = p_key;
        RETURN;
    END IF;
    kinds := CASE WHEN m.status = 'read'
        THEN ARRAY['message_created', 'message_delivered', 'message_read']
        ELSE ARRAY['message_created', 'message_delivered'] END;
    counts := CASE WHEN m.status = 'read' THEN 0 ELSE 1 END;
    INSERT INTO room_events (room_id, seq, kind, message_id)
    SELECT p_room, r.last_seq + t.ord, t.kind, m.id
    FROM unnest(kinds) WITH ORDINALITY AS t(kind, ord);
    UPDATE rooms SET
        last_seq = r.last_seq + cardinality(kinds),
        -- No event yet means no message yet: the room's creation gives way.
        activity_at = CASE WHEN r.last_seq = 0 THEN m.created_at
                           ELSE greatest(r.activity_at, m.created_at) END,
        last_message_id = m.id,
        unread_lo = r.unread_lo + CASE WHEN p_sender = r.user_hi THEN counts ELSE 0 END,
        unread_hi = r.unread_hi + CASE WHEN p_sender = r.user_lo THEN counts ELSE 0 END
    WHERE rooms.id = p_room;
    RETURN QUERY SELECT 'sent', e.seq, e.kind, e.occurred_at, m.id, m.room_id, m.sender_id,
        u.email, coalesce(m.text, ''), m.status, m.created_at, m.updated_at,
        m.deleted_at IS NOT NULL
    FROM room_events e JOIN users u ON u.id = m.sender_id
    WHERE e.room_id = p_room AND e.seq > r.last_seq
    ORDER BY e.seq;
END
$$;

-- Whether a message counts as unread for its recipient.
CREATE FUNCTION chat_counts_unread(status TEXT, deleted_at TIMESTAMPTZ) RETURNS INT
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN status <> 'read' AND deleted_at IS NULL THEN 1 ELSE 0 END
$$;

-- Subtracts, per room and member, the messages an UPDATE statement made
-- stop counting, and finds the last message again if it was deleted.
CREATE FUNCTION chat_messages_bookkeeping() RETURNS trigger
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    UPDATE rooms r SET
        unread_lo = r.unread_lo - d.gone_lo,
        unread_hi = r.unread_hi - d.gone_hi,
        last_message_id = CASE WHEN d.last_deleted THEN (
                SELECT m.id FROM messages m
                WHERE m.room_id = r.id AND m.deleted_at IS NULL
                ORDER BY m.id DESC LIMIT 1)
            ELSE r.last_message_id END
    FROM (
        SELECT n.room_id,
            coalesce(sum(chat_counts_unread(o.status, o.deleted_at)
                - chat_counts_unread(n.status, n.deleted_at))
                FILTER (WHERE n.sender_id = x.user_hi), 0) AS gone_lo,
            coalesce(sum(chat_counts_unread(o.status, o.deleted_at)
                - chat_counts_unread(n.status, n.deleted_at))
                FILTER (WHERE n.sender_id = x.user_lo), 0) AS gone_hi,
            bool_or(n.deleted_at IS NOT NULL AND n.id = x.last_message_id) AS last_deleted
        FROM old_rows o
        JOIN new_rows n ON n.id = o.id
        JOIN rooms x ON x.id = n.room_id
        WHERE o.status IS DISTINCT FROM n.status OR o.deleted_at IS DISTINCT FROM n.deleted_at
        GROUP BY n.room_id
    ) d
    WHERE r.id = d.room_id AND (d.gone_lo <> 0 OR d.gone_hi <> 0 OR d.last_deleted);
    RETURN NULL;
END
$$;

CREATE TRIGGER messages_bookkeeping AFTER UPDATE ON messages
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION chat_messages_bookkeeping();
