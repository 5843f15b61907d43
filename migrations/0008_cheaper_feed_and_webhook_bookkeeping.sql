-- The send path's bookkeeping for the event feed and the webhooks, made
-- cheaper, and each room's events in the feed in `seq` order whoever
-- writes them. Measured with bench/src/services_pgbench.rs.
--
-- 1. The feed's B-tree on room_events (tx, room_id, seq) took one more
--    entry per event, always at its right-hand end, where every concurrent
--    send met, and a sixth more WAL per send. Rows are appended in nearly
--    the order of their transactions, so a BRIN index on `tx` finds a range
--    of them for a fraction of that: it changes only when a block range's
--    summary must widen. PostgreSQL 15 has no BRIN operator class for xid8,
--    so it indexes the id as a bigint (`tx::text::bigint`, which the feed's
--    query repeats). Small ranges (16 pages), summarized as soon as they
--    fill, keep what a reader rechecks small; the feed reads a bounded span
--    of ids at a time and sorts it (core-svc/src/store/feed.rs).
--
-- 2. `tx` becomes a label: never below the label of the room's previous
--    event (of the room itself for its first). A transaction's id is handed
--    out at its first write. One that wrote something before it waited for
--    the room's lock can hold an id older than that of the transaction
--    that had the lock before it, and its events, with the later `seq`s,
--    would come first in the feed. The core's own writes take the room's
--    lock first, and a row lock assigns the id only once it is granted, so
--    for them the label is the id; plain SQL, or a send function that
--    writes before it locks, can invert the order. Such a writer finds the
--    room's row last written by a younger transaction (`age(xmin) < 0`:
--    newer than its own id), or marked with a label above its own id
--    (`feed_label`, left by a relabelling before), and only then a
--    deferred trigger raises its events' labels, at commit, to the label
--    of the event before them. Every other write pays one comparison.
--    At commit the writer's events are all there, in whichever order it
--    appended them and moved `last_seq`. The horizon rule still holds: a label is never below its
--    writer's id, so once the horizon passes a label, its writer has
--    ended; and a row written later has a writer at or above the horizon,
--    so its label is too.
--
-- 3. The webhook trigger runs only on connections with `chat.webhooks=on`
--    (a WHEN condition: other sends pay no PL/pgSQL call), as one
--    statement, and the queue loses its foreign keys: each cost a lookup
--    and a share lock of the message's and the user's row per delivery,
--    for ids the trigger itself takes from rows of the same transaction
--    (messages and users are never deleted). The body is built as before,
--    once, and stored: every try sends the same bytes.

DROP INDEX room_events_feed_idx;
CREATE INDEX room_events_feed_brin ON room_events USING brin ((tx::text::bigint))
    WITH (pages_per_range = 16, autosummarize = on);

ALTER TABLE rooms ADD COLUMN feed_label xid8;

CREATE FUNCTION chat_feed_relabel() RETURNS trigger
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    label xid8;
BEGIN
    SELECT coalesce(
        (SELECT e.tx FROM room_events e
         WHERE e.room_id = NEW.id AND e.seq <= OLD.last_seq
         ORDER BY e.seq DESC LIMIT 1),
        (SELECT r.tx FROM rooms r WHERE r.id = NEW.id)) INTO label;
    UPDATE room_events SET tx = label
    WHERE room_id = NEW.id AND seq > OLD.last_seq AND tx < label;
    -- Changed only when it changes, so that this update does not queue
    -- this trigger again and again.
    IF label > pg_current_xact_id() THEN
        UPDATE rooms SET feed_label = label
        WHERE id = NEW.id AND feed_label IS DISTINCT FROM label;
    END IF;
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER rooms_feed_relabel AFTER UPDATE OF last_seq ON rooms
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (age(OLD.xmin) < 0 OR OLD.feed_label > pg_current_xact_id())
    EXECUTE FUNCTION chat_feed_relabel();

ALTER TABLE webhook_deliveries
    DROP CONSTRAINT webhook_deliveries_message_id_fkey,
    DROP CONSTRAINT webhook_deliveries_user_id_fkey;

CREATE OR REPLACE FUNCTION chat_enqueue_webhook() RETURNS trigger
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    INSERT INTO webhook_deliveries (id, message_id, user_id, body)
    SELECT d.id, NEW.id, r.recipient, json_build_object(
        'id', d.id::text,
        'type', 'message.unread',
        'user_id', r.recipient,
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
    FROM (SELECT CASE WHEN rooms.user_lo = NEW.sender_id THEN rooms.user_hi
                      ELSE rooms.user_lo END AS recipient
          FROM rooms WHERE rooms.id = NEW.room_id) r
    CROSS JOIN (SELECT gen_random_uuid() AS id) d
    JOIN users u ON u.id = NEW.sender_id
    WHERE NOT EXISTS (SELECT 1 FROM room_sessions s WHERE s.user_id = r.recipient);
    RETURN NULL;
END
$$;

DROP TRIGGER messages_enqueue_webhook ON messages;
CREATE TRIGGER messages_enqueue_webhook AFTER INSERT ON messages
    FOR EACH ROW WHEN (current_setting('chat.webhooks', true) = 'on')
    EXECUTE FUNCTION chat_enqueue_webhook();
