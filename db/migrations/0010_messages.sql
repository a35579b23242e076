-- Direct messages between users, the conversations list and the live
-- events that carry new messages to open streams (GET /api/v1/events).
--
-- How the pieces fit:
--   * messages_send_batch() (the sends a worker has batched) is the only
--     writer. In one transaction it checks each recipient, inserts the message, keeps
--     message_peers (one row per user and peer: that conversation's newest
--     message) and NOTIFYs 'hourglass_message' with a line
--     '<id> <from_user_id> <to_user_id>' per message. Only ids:
--     a NOTIFY payload is at most 8000 bytes and a 4000-character text can be
--     16 000. The workers that hold a stream of either user fetch the JSON
--     with messages_json_by_ids().
--   * Per user, message ids are in commit order: messages_send_batch() locks the
--     users' rows (FOR NO KEY UPDATE, in id order, so two people writing to
--     each other cannot deadlock) before the id is drawn, so of two messages
--     that touch the same user the one with the smaller id commits first.
--     A stream can therefore resume with "every id above Last-Event-ID"
--     (messages_replay) and drop live events at or below the last id it sent:
--     no gap, no duplicate. The lock does not block foreign-key checks
--     (FOR KEY SHARE) from the user's other tables.
--   * Every read returns one text column of JSON built here; times are
--     hg_time() (YYYY-MM-DDTHH:MM:SSZ). Lists are the {"items","next_cursor"}
--     envelope, newest first; the cursor is a message id (see each function).

CREATE TABLE messages (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    from_user_id bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    to_user_id   bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    text         text        NOT NULL CHECK (length(text) BETWEEN 1 AND 4000),
    created_at   timestamptz NOT NULL DEFAULT now(),
    read_at      timestamptz,
    CONSTRAINT messages_to_user_id_not_self CHECK (from_user_id <> to_user_id)
);
-- One direction of a conversation in id order; a conversation page merges
-- (a -> b) and (b -> a) backwards. Also the cascade from the sender.
CREATE INDEX messages_conversation_idx ON messages (from_user_id, to_user_id, id);
-- Replay of a user's stream by id, both directions (the other direction is
-- the prefix of messages_conversation_idx only per peer, so it has its own),
-- and the cascade from the recipient.
CREATE INDEX messages_from_idx ON messages (from_user_id, id);
CREATE INDEX messages_to_idx ON messages (to_user_id, id);
-- Unread counts and mark-read: only unread rows, so reading empties it.
CREATE INDEX messages_unread_idx ON messages (to_user_id, from_user_id) WHERE read_at IS NULL;

-- The conversations list: for each user and peer, that conversation's
-- newest message id. Two rows per pair, written only by messages_send_batch().
-- Without it, "newest conversation first" would group every message the
-- user ever sent or received on each page.
CREATE TABLE message_peers (
    user_id         bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    peer_id         bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    last_message_id bigint NOT NULL,
    PRIMARY KEY (user_id, peer_id)
);
CREATE INDEX message_peers_recent_idx ON message_peers (user_id, last_message_id);
CREATE INDEX message_peers_peer_idx ON message_peers (peer_id); -- the cascade from the peer

-- The message object of API.md. row_to_json, like every other answer: its
-- text is compact ({"id":1,...}), where json_build_object's has spaces.
CREATE FUNCTION message_json(m messages) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT row_to_json(r) FROM (SELECT m.id, m.from_user_id, m.to_user_id, m.text,
                                       hg_time(m.created_at) AS created_at, hg_time(m.read_at) AS read_at) AS r
$$;

-- What POST /api/v1/messages runs: the sends a worker received while its
-- previous batch was in the database, in one transaction (api_messages.c).
-- A transaction that NOTIFYs holds PostgreSQL's notify lock from its commit
-- until the commit is flushed, so notifying writers commit one at a time:
-- one commit and one NOTIFY per batch instead of per message. Each send is
-- checked and answered on its own: n is its place in the arrays; error is
-- NULL (body is the message, id its id), 'invalid_recipient' (to oneself),
-- 'not_found' (no such recipient: unknown or deleted) or 'sender_not_found'
-- (the caller's account is gone: 401). The text's bounds are checked in C
-- first (1..4000 code points); the CHECK only keeps the data sound. Every
-- user of the batch is locked first, in id order,
-- which keeps ids in commit order per user and two batches from deadlocking.
-- The NOTIFY payload is one line '<id> <from> <to>' per message sent; the
-- caller keeps a batch small enough for its 8000 bytes.
CREATE FUNCTION messages_send_batch(p_from bigint[], p_to bigint[], p_text text[])
RETURNS TABLE (n int, error text, id bigint, body text)
LANGUAGE plpgsql AS $$
DECLARE m messages; present bigint[]; lines text[] := '{}';
BEGIN
    SELECT coalesce(array_agg(l.id), '{}') INTO present
      FROM (SELECT u.id FROM users u WHERE u.id = ANY (p_from || p_to) ORDER BY u.id FOR NO KEY UPDATE) AS l;
    FOR i IN 1 .. coalesce(array_length(p_from, 1), 0) LOOP
        n := i;
        error := NULL;
        id := NULL;
        body := NULL;
        IF p_from[i] = p_to[i] THEN
            error := 'invalid_recipient';
        ELSIF NOT (p_from[i] = ANY (present)) THEN
            error := 'sender_not_found';
        ELSIF NOT (p_to[i] = ANY (present)) THEN
            error := 'not_found';
        ELSE
            INSERT INTO messages (from_user_id, to_user_id, text) VALUES (p_from[i], p_to[i], p_text[i]) RETURNING * INTO m;
            INSERT INTO message_peers AS p (user_id, peer_id, last_message_id)
            VALUES (least(m.from_user_id, m.to_user_id), greatest(m.from_user_id, m.to_user_id), m.id),
                   (greatest(m.from_user_id, m.to_user_id), least(m.from_user_id, m.to_user_id), m.id)
            ON CONFLICT (user_id, peer_id) DO UPDATE
                SET last_message_id = greatest(p.last_message_id, EXCLUDED.last_message_id);
            lines := lines || (m.id || ' ' || m.from_user_id || ' ' || m.to_user_id);
            id := m.id;
            body := message_json(m)::text;
        END IF;
        RETURN NEXT;
    END LOOP;
    IF array_length(lines, 1) > 0 THEN
        PERFORM pg_notify('hourglass_message', array_to_string(lines, E'\n'));
    END IF;
END $$;

-- The JSON of the messages a worker was notified of, for its streams:
-- (id, from_user_id, to_user_id, json text) in id order. Ids that are gone
-- (a user deleted meanwhile) are simply absent.
CREATE FUNCTION messages_json_by_ids(p_ids bigint[])
RETURNS TABLE (id bigint, from_user_id bigint, to_user_id bigint, body text)
LANGUAGE sql STABLE AS $$
    SELECT m.id, m.from_user_id, m.to_user_id, message_json(m)::text
      FROM messages m WHERE m.id = ANY (p_ids) ORDER BY m.id
$$;

-- Last-Event-ID: the user's messages (sent or received) with an id above
-- p_after, oldest first, at most p_limit. A short page is the end; a full
-- one means: ask again after its last id.
CREATE FUNCTION messages_replay(p_user bigint, p_after bigint, p_limit int)
RETURNS TABLE (id bigint, body text)
LANGUAGE sql STABLE AS $$
    SELECT r.id, message_json(r.msg)::text FROM (
        (SELECT m.id, m AS msg FROM messages m
          WHERE m.from_user_id = p_user AND m.id > p_after ORDER BY m.id LIMIT p_limit)
        UNION ALL
        (SELECT m.id, m AS msg FROM messages m
          WHERE m.to_user_id = p_user AND m.id > p_after ORDER BY m.id LIMIT p_limit)
    ) AS r ORDER BY r.id LIMIT p_limit
$$;

-- GET /api/v1/messages/{peer}: the conversation, both directions, newest
-- first, ids below p_before (NULL or 0: from the newest). The envelope's
-- next_cursor is the smallest id shown when older messages remain; pass it
-- back as p_before. NULL (not an envelope) when the peer does not exist: 404.
CREATE FUNCTION messages_page(p_user bigint, p_peer bigint, p_before bigint, p_limit int) RETURNS json
LANGUAGE sql STABLE AS $$
    WITH bound AS (SELECT coalesce(nullif(p_before, 0), 9223372036854775807) AS b),
    page AS (
        SELECT * FROM (
            (SELECT m.id, m AS msg FROM messages m, bound
              WHERE m.from_user_id = p_user AND m.to_user_id = p_peer AND m.id < bound.b
              ORDER BY m.id DESC LIMIT p_limit + 1)
            UNION ALL
            (SELECT m.id, m AS msg FROM messages m, bound
              WHERE m.from_user_id = p_peer AND m.to_user_id = p_user AND m.id < bound.b
              ORDER BY m.id DESC LIMIT p_limit + 1)
        ) AS both_ways ORDER BY id DESC LIMIT p_limit + 1),
    shown AS (SELECT * FROM page ORDER BY id DESC LIMIT p_limit)
    SELECT row_to_json(e) FROM (SELECT
        coalesce((SELECT json_agg(message_json(s.msg) ORDER BY s.id DESC) FROM shown s), '[]') AS items,
        CASE WHEN (SELECT count(*) FROM page) > p_limit THEN (SELECT min(id) FROM shown)::text END AS next_cursor) AS e
     WHERE EXISTS (SELECT 1 FROM users WHERE users.id = p_peer)
$$;

-- GET /api/v1/conversations: each peer the user has exchanged a message
-- with, newest conversation first: {"user": public profile, "last_message":
-- message, "unread": messages from the peer to the user not yet read}.
-- Keyset on the conversation's newest message id: next_cursor is the
-- smallest last_message id shown; pass it back as p_before (NULL or 0: from
-- the newest). One statement; the unread count is an index-only count per
-- shown row.
CREATE FUNCTION conversations_page(p_user bigint, p_before bigint, p_limit int) RETURNS json
LANGUAGE sql STABLE AS $$
    WITH page AS (
        SELECT p.peer_id, p.last_message_id FROM message_peers p
         WHERE p.user_id = p_user AND p.last_message_id < coalesce(nullif(p_before, 0), 9223372036854775807)
         ORDER BY p.last_message_id DESC LIMIT p_limit + 1),
    shown AS (SELECT * FROM page ORDER BY last_message_id DESC LIMIT p_limit)
    SELECT row_to_json(e) FROM (SELECT
        coalesce((
            SELECT json_agg((SELECT row_to_json(c) FROM (SELECT
                       user_public_json(u) AS "user",
                       message_json(m) AS last_message,
                       (SELECT count(*) FROM messages x
                         WHERE x.to_user_id = p_user AND x.from_user_id = s.peer_id AND x.read_at IS NULL) AS unread) AS c)
                   ORDER BY s.last_message_id DESC)
              FROM shown s JOIN users u ON u.id = s.peer_id JOIN messages m ON m.id = s.last_message_id), '[]') AS items,
        CASE WHEN (SELECT count(*) FROM page) > p_limit
             THEN (SELECT min(last_message_id) FROM shown)::text END AS next_cursor) AS e
$$;

-- POST /api/v1/messages/{peer}/read: every unread message from the peer to
-- the user is read now. The number marked, or NULL when the peer does not
-- exist (404).
CREATE FUNCTION messages_mark_read(p_user bigint, p_peer bigint) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN
    PERFORM 1 FROM users WHERE id = p_peer;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    UPDATE messages SET read_at = now()
     WHERE to_user_id = p_user AND from_user_id = p_peer AND read_at IS NULL;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;
