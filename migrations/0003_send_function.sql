-- A send in one round trip. The core used to run BEGIN, lock the room,
-- insert the message, append its events, COMMIT: five round trips, each a
-- wake-up of this backend and of the core, which on a busy box is where a
-- message's latency went. This function does the same statements in the
-- same order, each with a fresh snapshot (READ COMMITTED, VOLATILE), so the
-- recipient's session is looked up after the room lock is held, as before.
--
-- Outcomes: 'sent' (the message and the room's `last_seq` before it),
-- 'no_room', 'not_member', or 'duplicate' (the idempotency key was used
-- before; nothing changed).
CREATE FUNCTION chat_send_message(p_room BIGINT, p_sender BIGINT, p_text TEXT, p_key TEXT)
RETURNS TABLE (
    o_outcome     TEXT,
    o_last_seq    BIGINT,
    o_occurred_at TIMESTAMPTZ,
    o_id          BIGINT,
    o_room_id     BIGINT,
    o_sender_id   BIGINT,
    o_email       TEXT,
    o_text        TEXT,
    o_status      TEXT,
    o_created_at  TIMESTAMPTZ,
    o_updated_at  TIMESTAMPTZ,
    o_deleted     BOOLEAN
)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    r rooms%ROWTYPE;
    m messages%ROWTYPE;
    kinds TEXT[];
BEGIN
    SELECT * INTO r FROM rooms WHERE rooms.id = p_room FOR UPDATE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'no_room', NULL::BIGINT, NULL::TIMESTAMPTZ, NULL::BIGINT,
            NULL::BIGINT, NULL::BIGINT, NULL::TEXT, NULL::TEXT, NULL::TEXT,
            NULL::TIMESTAMPTZ, NULL::TIMESTAMPTZ, NULL::BOOLEAN;
        RETURN;
    END IF;
    IF p_sender IS DISTINCT FROM r.user_lo AND p_sender IS DISTINCT FROM r.user_hi THEN
        RETURN QUERY SELECT 'not_member', r.last_seq, NULL::TIMESTAMPTZ, NULL::BIGINT,
            NULL::BIGINT, NULL::BIGINT, NULL::TEXT, NULL::TEXT, NULL::TEXT,
            NULL::TIMESTAMPTZ, NULL::TIMESTAMPTZ, NULL::BOOLEAN;
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
        RETURN QUERY SELECT 'duplicate', r.last_seq, NULL::TIMESTAMPTZ, NULL::BIGINT,
            NULL::BIGINT, NULL::BIGINT, NULL::TEXT, NULL::TEXT, NULL::TEXT,
            NULL::TIMESTAMPTZ, NULL::TIMESTAMPTZ, NULL::BOOLEAN;
        RETURN;
    END IF;
    kinds := CASE WHEN m.status = 'read'
        THEN ARRAY['message_created', 'message_delivered', 'message_read']
        ELSE ARRAY['message_created', 'message_delivered'] END;
    INSERT INTO room_events (room_id, seq, kind, message_id)
    SELECT p_room, r.last_seq + t.ord, t.kind, m.id
    FROM unnest(kinds) WITH ORDINALITY AS t(kind, ord);
    UPDATE rooms SET last_seq = r.last_seq + cardinality(kinds) WHERE rooms.id = p_room;
    RETURN QUERY SELECT 'sent', r.last_seq, now(), m.id, m.room_id, m.sender_id, u.email,
        coalesce(m.text, ''), m.status, m.created_at, m.updated_at, m.deleted_at IS NOT NULL
    FROM users u WHERE u.id = m.sender_id;
END
$$;
