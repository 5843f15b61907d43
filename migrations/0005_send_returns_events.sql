-- The send rule, answered in full, and one source of room membership.
--
-- 1. `chat_send_message` keeps its arguments and its steps (0003: lock the
--    room, check the sender is a member, insert the message read when the
--    recipient is subscribed right now and delivered otherwise, append its
--    events, move the room's counter), but its answer now carries what it
--    decided, so that the core turns the answer into events instead of
--    deciding them again. It enforces the send case of the room rules
--    (core-svc/src/access.rs). One row per answer, in these columns, which
--    the core reads by name:
--
--    outcome     one of
--      'sent'        one row per event appended, in `seq` order (the first
--                    is `message_created`), each with the stored message;
--      'duplicate'   the idempotency key was used before, nothing changed:
--                    one row with the earlier message and its `seq`
--                    (`kind`, `occurred_at` NULL);
--      'no_room'     no such room: one row, the rest NULL;
--      'not_member'  the sender is not a member: one row, the rest NULL.
--    seq, kind, occurred_at
--                as in `room_events`;
--    id, room_id, sender_id, sender_email, text, status, created_at,
--    updated_at, deleted
--                the message, as `MESSAGE_COLUMNS` in core-svc/src/store/rows.rs.
--
--    The result type changes, which CREATE OR REPLACE cannot do: the old
--    function is dropped and the new one created in this migration's
--    transaction, so no caller ever finds neither.
--
-- 2. `room_members` was written at every room's creation and never read: a
--    copy of `rooms.user_lo` / `rooms.user_hi`, which every check used. It
--    becomes a view of that pair, so it cannot disagree with it, and stays
--    the one relation to ask "who is in room R" and "which rooms is U in":
--    `SELECT user_id FROM room_members WHERE room_id = $1`,
--    `SELECT room_id FROM room_members WHERE user_id = $1`. The new index
--    serves the second for the higher member (the pair's unique key serves
--    the lower).

DROP FUNCTION chat_send_message(BIGINT, BIGINT, TEXT, TEXT);

CREATE FUNCTION chat_send_message(p_room BIGINT, p_sender BIGINT, p_text TEXT, p_key TEXT)
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
-- The result columns share names with table columns; inside statements the
-- names mean the columns (the result is only ever filled by RETURN QUERY
-- or by assigning `outcome`).
#variable_conflict use_column
DECLARE
    r rooms%ROWTYPE;
    m messages%ROWTYPE;
    kinds TEXT[];
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
    INSERT INTO room_events (room_id, seq, kind, message_id)
    SELECT p_room, r.last_seq + t.ord, t.kind, m.id
    FROM unnest(kinds) WITH ORDINALITY AS t(kind, ord);
    UPDATE rooms SET last_seq = r.last_seq + cardinality(kinds) WHERE rooms.id = p_room;
    RETURN QUERY SELECT 'sent', e.seq, e.kind, e.occurred_at, m.id, m.room_id, m.sender_id,
        u.email, coalesce(m.text, ''), m.status, m.created_at, m.updated_at,
        m.deleted_at IS NOT NULL
    FROM room_events e JOIN users u ON u.id = m.sender_id
    WHERE e.room_id = p_room AND e.seq > r.last_seq
    ORDER BY e.seq;
END
$$;

DROP TABLE room_members;

CREATE VIEW room_members (room_id, user_id, joined_at) AS
    SELECT id, user_lo, created_at FROM rooms
    UNION ALL
    SELECT id, user_hi, created_at FROM rooms;

CREATE INDEX rooms_user_hi_idx ON rooms (user_hi);
