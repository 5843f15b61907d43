-- The chat schema: users, direct rooms, messages and the per-room event log.

CREATE TABLE users (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sub        TEXT NOT NULL CONSTRAINT users_sub_key UNIQUE,
    email      TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- When the user's last stream closed; NULL until they first disconnect.
    last_seen  TIMESTAMPTZ
);

-- One direct room per unordered pair: the pair is stored ordered and unique.
-- `last_seq` is the room's event counter; the row lock that bumps it orders
-- every change of the room.
CREATE TABLE rooms (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_lo    BIGINT NOT NULL REFERENCES users (id),
    user_hi    BIGINT NOT NULL REFERENCES users (id),
    last_seq   BIGINT NOT NULL DEFAULT 0,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT rooms_direct_pair_key UNIQUE (user_lo, user_hi),
    CONSTRAINT rooms_direct_pair_ordered CHECK (user_lo < user_hi)
);

CREATE TABLE room_members (
    room_id   BIGINT NOT NULL REFERENCES rooms (id),
    user_id   BIGINT NOT NULL REFERENCES users (id),
    joined_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT room_members_pkey PRIMARY KEY (room_id, user_id)
);
CREATE INDEX room_members_user_idx ON room_members (user_id);

-- A deleted message keeps no text.
CREATE TABLE messages (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    room_id       BIGINT NOT NULL REFERENCES rooms (id),
    sender_id     BIGINT NOT NULL REFERENCES users (id),
    -- The room sequence number of the message's `message_created` event.
    seq           BIGINT NOT NULL,
    text          TEXT,
    status        TEXT NOT NULL CONSTRAINT messages_status_check
                      CHECK (status IN ('send', 'delivered', 'read')),
    client_msg_id TEXT,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    deleted_at    TIMESTAMPTZ,
    CONSTRAINT messages_text_unless_deleted CHECK ((deleted_at IS NULL) = (text IS NOT NULL))
);
CREATE INDEX messages_history_idx ON messages (room_id, id DESC) WHERE deleted_at IS NULL;
CREATE INDEX messages_unread_idx ON messages (room_id, sender_id)
    WHERE status <> 'read' AND deleted_at IS NULL;
CREATE UNIQUE INDEX messages_idempotency_key ON messages (room_id, sender_id, client_msg_id)
    WHERE client_msg_id IS NOT NULL;

-- The room event log: `seq` counts a room's events from 1 with no gap; each
-- row is written in the transaction of the change it records.
CREATE TABLE room_events (
    room_id     BIGINT NOT NULL REFERENCES rooms (id),
    seq         BIGINT NOT NULL,
    kind        TEXT NOT NULL CONSTRAINT room_events_kind_check CHECK (kind IN (
                    'message_created', 'message_delivered', 'message_read',
                    'message_edited', 'message_deleted')),
    message_id  BIGINT NOT NULL REFERENCES messages (id),
    occurred_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT room_events_pkey PRIMARY KEY (room_id, seq)
);

-- One row per open `Subscribe` stream: presence and "is the recipient
-- looking at this room now" both read it. `instance_id` names the core
-- process that holds the stream.
CREATE TABLE room_sessions (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    room_id     BIGINT NOT NULL REFERENCES rooms (id),
    user_id     BIGINT NOT NULL REFERENCES users (id),
    instance_id UUID NOT NULL,
    opened_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX room_sessions_room_user_idx ON room_sessions (room_id, user_id);
CREATE INDEX room_sessions_user_idx ON room_sessions (user_id);
