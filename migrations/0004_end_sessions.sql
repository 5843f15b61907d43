-- Ending sessions. A user's `last_seen` is when they last went offline: it
-- changes only when their last session ends, not when one of several does.
-- Every way sessions end (a stream closes, a batch of them, the heartbeat's
-- clean-up, the reaping of a dead instance, a retiring instance) runs this.
--
-- Two statements, each with a fresh snapshot (READ COMMITTED, VOLATILE):
-- the first locks the users, in id order, so that two transactions ending
-- the last two sessions of one user take turns and the second sees the
-- first's deletion; the second deletes and sets `last_seen` for the users
-- with no session left. Opening a session locks its user too (see
-- `open_session`), so an open and the end of the user's other session take
-- turns as well.
--
-- Returns how many sessions ended.
CREATE FUNCTION chat_end_sessions(p_ids BIGINT[]) RETURNS BIGINT
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    ended BIGINT;
BEGIN
    PERFORM 1 FROM users
    WHERE id IN (SELECT user_id FROM room_sessions WHERE id = ANY (p_ids))
    ORDER BY id
    FOR NO KEY UPDATE;
    WITH gone AS (
        DELETE FROM room_sessions WHERE id = ANY (p_ids) RETURNING user_id
    ), offline AS (
        UPDATE users u SET last_seen = now()
        WHERE u.id IN (SELECT user_id FROM gone)
          AND NOT EXISTS (
              SELECT 1 FROM room_sessions s WHERE s.user_id = u.id AND s.id <> ALL (p_ids)
          )
    )
    SELECT count(*) INTO ended FROM gone;
    RETURN ended;
END
$$;
