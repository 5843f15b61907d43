-- The event feed for internal services, and webhooks for offline recipients.
--
-- Feed. Every row the feed carries records the id of the transaction that
-- wrote it (`tx`, xid8). Ids are handed out when transactions begin to
-- write, not when they commit, so a reader that followed ids alone would
-- skip a row of an older transaction that commits after a younger one
-- (the transactional-outbox trap). The feed therefore reads only rows with
-- `tx < pg_snapshot_xmin(pg_current_snapshot())`: every transaction below
-- that horizon has ended, so no row can appear there later. Positions are
-- (tx, room_id, seq); room creation is (tx, room_id, 0). Existing rows take
-- the id of this migration's transaction.
ALTER TABLE room_events ADD COLUMN tx xid8 NOT NULL DEFAULT pg_current_xact_id();
ALTER TABLE rooms ADD COLUMN tx xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX room_events_feed_idx ON room_events (tx, room_id, seq);
CREATE INDEX rooms_feed_idx ON rooms (tx, id);

-- Webhooks. One row per announcement still to make; settled ones are
-- deleted. `body` is the exact text that is signed and sent on every try.
-- `next_attempt_at` is both the retry time and the lease: a core that
-- claims a delivery moves it past the attempt's end, so no other core
-- picks it up meanwhile; `attempts` fences a core whose lease ran out.
CREATE TABLE webhook_deliveries (
    id              UUID PRIMARY KEY,
    message_id      BIGINT NOT NULL REFERENCES messages (id),
    user_id         BIGINT NOT NULL REFERENCES users (id),
    body            TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    attempts        INT NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_error      TEXT
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at);

-- `RFC 3339 in UTC with microseconds`, as every JSON time of the chat.
CREATE FUNCTION chat_json_time(t TIMESTAMPTZ) RETURNS TEXT
LANGUAGE sql IMMUTABLE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')
$$;

-- Enqueues the webhook of a new message whose recipient has no session
-- (no open stream on any instance), in the transaction that stores it.
-- Only connections of cores with a webhook configured set `chat.webhooks`
-- (a startup option of their pool), so without one nothing accumulates.
CREATE FUNCTION chat_enqueue_webhook() RETURNS trigger
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    recipient BIGINT;
    delivery UUID := gen_random_uuid();
BEGIN
    IF coalesce(current_setting('chat.webhooks', true), '') <> 'on' THEN
        RETURN NULL;
    END IF;
    SELECT CASE WHEN r.user_lo = NEW.sender_id THEN r.user_hi ELSE r.user_lo END
    INTO recipient FROM rooms r WHERE r.id = NEW.room_id;
    IF recipient IS NULL
       OR EXISTS (SELECT 1 FROM room_sessions s WHERE s.user_id = recipient) THEN
        RETURN NULL;
    END IF;
    INSERT INTO webhook_deliveries (id, message_id, user_id, body)
    SELECT delivery, NEW.id, recipient, json_build_object(
        'id', delivery::text,
        'type', 'message.unread',
        'user_id', recipient,
        'room_id', NEW.room_id,
        'message', json_build_object(
            'message_id', NEW.id,
            'text', NEW.text,
            'sender_id', NEW.sender_id,
            'sender_email', u.email,
            'status', NEW.status,
            'created_at', chat_json_time(NEW.created_at),
            'updated_at', chat_json_time(NEW.updated_at)
        )
    )::text
    FROM users u WHERE u.id = NEW.sender_id;
    RETURN NULL;
END
$$;

CREATE TRIGGER messages_enqueue_webhook AFTER INSERT ON messages
    FOR EACH ROW EXECUTE FUNCTION chat_enqueue_webhook();
