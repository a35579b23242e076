-- Live changes (issue 18): every event a stream carries is a row of
-- `events`, written in the transaction of the change it tells of, so an
-- event exists exactly when its change committed. Streams read the rows by
-- id (sse.c): a reconnect resumes after its Last-Event-ID from the table.
--
-- Who writes them:
--   * the resource engine's create and update statements (res_engine.c: a
--     data-modifying WITH, the object rendered by the same expression GET
--     uses) call events_change();
--   * every delete of an engine table, direct or cascaded, through
--     events_rows_deleted() below: one `deleted` event per row that went;
--   * users/me: a change of what user_json() renders, and of the avatar;
--   * messages_send_batch(): a `message` event for the sender and for the
--     recipient, with the message's own id (message ids are event ids now);
--   * the shop, for staff streams (user_id 0): order_created,
--     order_status_changed (data: shop_order_json) and contact_form_created,
--     from triggers that run at commit, whatever function made the change.
-- Rows set NULL by a delete (a category's tasks and pomodoros, a task's
-- pomodoros) get no event of their own: a client that sees the `deleted`
-- event of a category or task clears that reference itself (README).
--
-- Ids without a lock per user. Ids come from one sequence, so concurrent
-- writers may commit out of id order; a reader must never pass an id while a
-- smaller one may still commit. Each row records `settle`: the next
-- transaction id right after its id was drawn (a snapshot taken after the
-- draw). Every transaction that could still commit a smaller id already had
-- its transaction id then (a writer has one before it draws), so once the
-- oldest running transaction is at or past `settle`, every smaller id is
-- committed or never will be. events_settled_id() is the newest id with that
-- property; readers stop there and ask again shortly. Two writes to the same
-- row still get their ids in commit order: the second draws only after it
-- has the row, that is after the first committed. Writers wait for nobody:
-- a per-user lock held to the commit made one user's writes commit one at a
-- time (pgbench, 16 clients, one user: 190 against 1 990 tps).
-- This needs READ COMMITTED, which every transaction here uses: the draw and
-- the snapshot are two statements of a VOLATILE function, each with a fresh
-- snapshot.
--
-- Waking readers is not done here: a NOTIFY makes its transaction commit
-- alone (bench/RESULTS.md). The server wakes its own streams after a write
-- and tells other instances with a NOTIFY of its own, outside the writing
-- transaction, at most one in flight per worker (sse.c).
--
-- Kept for EVENTS_RETENTION: events_prune() deletes the oldest in small
-- batches and records in events_horizon how far it went; a Last-Event-ID
-- below that gets `event: reset` instead of a replay with holes.

CREATE SEQUENCE events_id_seq; -- CACHE 1: ids are handed out in the order they are drawn

CREATE TABLE events (
    user_id    bigint      NOT NULL,  -- whose streams; 0: every staff and admin stream
    id         bigint      NOT NULL,
    settle     xid8        NOT NULL,
    kind       text        NOT NULL,  -- the SSE event name
    body       text,                  -- its data; NULL for a message, rendered when read
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, id)          -- a stream's replay
);
CREATE INDEX events_id_idx ON events (id);  -- a worker's read of what is new, pruning

-- Every id up to pruned_through may be gone.
CREATE TABLE events_horizon (
    one            boolean PRIMARY KEY DEFAULT true CHECK (one),
    pruned_through bigint  NOT NULL
);

-- Messages draw their ids from the events' sequence. The messages sent
-- before this migration have no event rows: a stream resuming below them is reset.
ALTER TABLE messages ALTER COLUMN id DROP IDENTITY;
SELECT setval('events_id_seq', coalesce((SELECT max(id) FROM messages), 0) + 1, false);
ALTER TABLE messages ALTER COLUMN id SET DEFAULT nextval('events_id_seq');
INSERT INTO events_horizon (pruned_through) SELECT coalesce(max(id), 0) FROM messages;

-- One event for p_user with a new id, settled by a snapshot taken after the
-- draw (the INSERT's own: a statement of a VOLATILE function). The caller's
-- transaction has its transaction id already when it has written its change
-- first; pg_current_xact_id() makes sure of it.
CREATE FUNCTION events_add(p_user bigint, p_kind text, p_body text) RETURNS bigint
LANGUAGE plpgsql VOLATILE AS $$
DECLARE i bigint;
BEGIN
    PERFORM pg_current_xact_id();
    i := nextval('events_id_seq');
    INSERT INTO events (user_id, id, settle, kind, body)
    VALUES (p_user, i, pg_snapshot_xmax(pg_current_snapshot()), p_kind, p_body);
    RETURN i;
END $$;

-- A message's two rows, with its own id (drawn by its INSERT).
CREATE FUNCTION events_add_message(p_from bigint, p_to bigint, p_id bigint) RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    INSERT INTO events (user_id, id, settle, kind)
    VALUES (p_from, p_id, pg_snapshot_xmax(pg_current_snapshot()), 'message'),
           (p_to, p_id, pg_snapshot_xmax(pg_current_snapshot()), 'message');
END $$;

-- A `change` event: {"resource","op","id","data","at"}; p_data is the
-- object's JSON text as GET renders it, copied as it is (NULL: deleted).
-- Written by concatenation into one plpgsql call: a task's insert with its
-- event took about half the time of row_to_json through two more calls (a
-- loop of 3 000). p_resource and p_op are the server's own words, never a client's.
CREATE FUNCTION events_change(p_user bigint, p_resource text, p_op text, p_id bigint, p_data text) RETURNS bigint
LANGUAGE sql VOLATILE AS $$
    SELECT events_add(p_user, 'change', '{"resource":"' || p_resource || '","op":"' || p_op || '","id":' || p_id
                                        || ',"data":' || coalesce(p_data, 'null') || ',"at":"' || hg_time(now()) || '"}')
$$;

-- The newest id that no transaction can still commit below (see above), or
-- the pruning horizon when no such row is left.
CREATE FUNCTION events_settled_id() RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT greatest((SELECT e.id FROM events e WHERE e.settle <= pg_snapshot_xmin(pg_current_snapshot())
                      ORDER BY e.id DESC LIMIT 1),
                    (SELECT pruned_through FROM events_horizon))
$$;

-- A row's data as it is sent: a message is rendered from its row (NULL when
-- the message is gone with its sender's account).
CREATE FUNCTION events_data(e events) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN e.kind = 'message' THEN (SELECT message_json(m)::text FROM messages m WHERE m.id = e.id)
                ELSE e.body END
$$;

-- A stream's start and its replay: the events of p_users (a user, and 0 for
-- a staff stream) of the kinds in p_kinds after p_after, up to the settled
-- id, oldest first, at most p_limit rows read. The last row has body NULL
-- and says what comes next: kind 'done' (every event up to id was in the
-- page: the stream is there) or 'more' (a full page: ask again after id).
-- p_after below the pruning horizon, or above any id drawn, gets one such row
-- instead: (settled id, 'reset'). Rows whose data is gone (a message deleted
-- with its sender) are not sent.
CREATE FUNCTION events_replay(p_users bigint[], p_kinds text[], p_after bigint, p_limit int)
RETURNS TABLE (id bigint, kind text, body text)
LANGUAGE plpgsql STABLE AS $$
DECLARE upto bigint := events_settled_id(); n int := 0; r record;
BEGIN
    IF p_after < (SELECT h.pruned_through FROM events_horizon h) OR p_after > (SELECT s.last_value FROM events_id_seq s) THEN
        RETURN QUERY SELECT upto, 'reset'::text, NULL::text;
        RETURN;
    END IF;
    FOR r IN
        SELECT x.id, x.kind, events_data(x) AS data FROM unnest(p_users) AS u, LATERAL (
            SELECT e.* FROM events e WHERE e.user_id = u AND e.id > p_after AND e.id <= upto
               AND e.kind = ANY (p_kinds) ORDER BY e.id LIMIT p_limit) AS x
         ORDER BY x.id LIMIT p_limit
    LOOP
        n := n + 1;
        id := r.id;
        IF r.data IS NOT NULL THEN
            kind := r.kind;
            body := r.data;
            RETURN NEXT;
        END IF;
    END LOOP;
    kind := CASE WHEN n = p_limit THEN 'more' ELSE 'done' END;
    id := CASE WHEN n = p_limit THEN id ELSE upto END;
    body := NULL;
    RETURN NEXT;
END $$;

-- A worker's read for all its streams: the events of p_users of the kinds
-- in p_kinds after p_after, up to the settled id, oldest first, at most
-- p_limit rows read, each with its user. The last row has body NULL and
-- says where the next read starts and when: kind 'more' (a full page: at
-- once), 'wait' (newer events are committed but not settled yet: shortly)
-- or 'done'.
CREATE FUNCTION events_fetch(p_after bigint, p_users bigint[], p_kinds text[], p_limit int)
RETURNS TABLE (user_id bigint, id bigint, kind text, body text)
LANGUAGE plpgsql STABLE AS $$
DECLARE upto bigint := greatest(events_settled_id(), p_after); n int := 0; r record;
BEGIN
    FOR r IN
        SELECT e.user_id, e.id, e.kind, events_data(e) AS data FROM events e
         WHERE e.id > p_after AND e.id <= upto AND e.user_id = ANY (p_users) AND e.kind = ANY (p_kinds)
         ORDER BY e.id LIMIT p_limit
    LOOP
        n := n + 1;
        id := r.id;
        IF r.data IS NOT NULL THEN
            user_id := r.user_id;
            kind := r.kind;
            body := r.data;
            RETURN NEXT;
        END IF;
    END LOOP;
    user_id := NULL;
    body := NULL;
    IF n = p_limit THEN
        kind := 'more';
    ELSE
        id := upto;
        kind := CASE WHEN EXISTS (SELECT 1 FROM events e WHERE e.id > upto) THEN 'wait' ELSE 'done' END;
    END IF;
    RETURN NEXT;
END $$;

-- Deletes up to p_batch of the oldest events older than p_retention_ms, in
-- id order, and moves the horizon past them; one pruner at a time across
-- instances. The number deleted (p_batch: call again soon).
CREATE FUNCTION events_prune(p_retention_ms bigint, p_batch int) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE bound bigint; n int;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('events_prune')) THEN
        RETURN 0;
    END IF;
    -- the oldest rows, up to the first one still young enough to keep
    WITH oldest AS (SELECT e.id, e.created_at FROM events e ORDER BY e.id LIMIT p_batch)
    SELECT CASE WHEN bool_and(o.created_at < now() - p_retention_ms * interval '1 millisecond') THEN max(o.id)
                ELSE min(o.id) FILTER (WHERE o.created_at >= now() - p_retention_ms * interval '1 millisecond') - 1
           END INTO bound FROM oldest o;
    IF bound IS NULL THEN
        RETURN 0;
    END IF;
    DELETE FROM events e
     WHERE (e.user_id, e.id) IN (SELECT o.user_id, o.id FROM events o WHERE o.id <= bound ORDER BY o.id LIMIT p_batch);
    GET DIAGNOSTICS n = ROW_COUNT;
    UPDATE events_horizon SET pruned_through = greatest(pruned_through, bound);
    RETURN n;
END $$;

-- A `deleted` event for each row that went, direct or cascaded (TG_ARGV[0]
-- is the resource); none for an account being deleted, whose events go with it.
CREATE FUNCTION events_rows_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM events_change(g.user_id, TG_ARGV[0], 'deleted', g.id, NULL)
       FROM gone g WHERE EXISTS (SELECT 1 FROM users u WHERE u.id = g.user_id) ORDER BY g.id;
    RETURN NULL;
END $$;

CREATE TRIGGER lists_deleted AFTER DELETE ON lists REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION events_rows_deleted('lists');
CREATE TRIGGER tasks_deleted AFTER DELETE ON tasks REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION events_rows_deleted('tasks');
CREATE TRIGGER balance_wheel_deleted AFTER DELETE ON balance_wheel REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION events_rows_deleted('balance-wheel');
CREATE TRIGGER kanban_columns_deleted AFTER DELETE ON kanban_columns REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION events_rows_deleted('kanban/columns');
CREATE TRIGGER kanban_cards_deleted AFTER DELETE ON kanban_cards REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION events_rows_deleted('kanban/cards');
CREATE TRIGGER kanban_items_deleted AFTER DELETE ON kanban_items REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION events_rows_deleted('kanban/items');
CREATE TRIGGER gantt_tasks_deleted AFTER DELETE ON gantt_tasks REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION events_rows_deleted('gantt/tasks');
CREATE TRIGGER gantt_durations_deleted AFTER DELETE ON gantt_durations REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION events_rows_deleted('gantt/durations');
CREATE TRIGGER planner_entries_deleted AFTER DELETE ON planner_entries REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION events_rows_deleted('planner/entries');
CREATE TRIGGER categories_deleted AFTER DELETE ON categories REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION events_rows_deleted('categories');
CREATE TRIGGER pomodoro_presets_deleted AFTER DELETE ON pomodoro_presets REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION events_rows_deleted('pomodoro/presets');
CREATE TRIGGER pomodoros_deleted AFTER DELETE ON pomodoros REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION events_rows_deleted('pomodoros');

-- users/me: an `updated` event when what GET /users/me answers changed.
CREATE FUNCTION events_user_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE u users;
BEGIN
    IF TG_TABLE_NAME = 'users' THEN
        IF user_json(OLD)::text IS NOT DISTINCT FROM user_json(NEW)::text THEN
            RETURN NULL;
        END IF;
        u := NEW;
    ELSE -- the avatar: gone with the account, or replaced
        SELECT * INTO u FROM users WHERE id = coalesce(NEW.user_id, OLD.user_id);
        IF NOT FOUND THEN
            RETURN NULL;
        END IF;
    END IF;
    PERFORM events_change(u.id, 'users/me', 'updated', u.id, user_json(u)::text);
    RETURN NULL;
END $$;

CREATE TRIGGER users_changed AFTER UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION events_user_changed();
CREATE TRIGGER user_avatars_changed AFTER INSERT OR UPDATE OR DELETE ON user_avatars
    FOR EACH ROW EXECUTE FUNCTION events_user_changed();

-- An account's own events go with it.
CREATE FUNCTION events_user_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM events e USING gone g WHERE e.user_id = g.id;
    RETURN NULL;
END $$;

CREATE TRIGGER users_deleted AFTER DELETE ON users REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION events_user_deleted();

-- The shop's events for staff streams, written at commit, when the order's
-- items and status are all in place.
CREATE FUNCTION shop_contact_form_json(f contact_forms) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT json_build_object('id', f.id, 'customer_name', f.customer_name, 'phone_number', f.phone_number,
                             'text', f.text, 'email', f.email, 'created_at', hg_time(f.created_at))
$$;

CREATE FUNCTION events_shop() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'orders' THEN
        PERFORM events_add(0, 'order_created', shop_order_json(o)::text) FROM orders o WHERE o.id = NEW.id;
    ELSIF TG_TABLE_NAME = 'order_status_changes' THEN
        PERFORM events_add(0, 'order_status_changed', shop_order_json(o)::text) FROM orders o WHERE o.id = NEW.order_id;
    ELSE
        PERFORM events_add(0, 'contact_form_created', shop_contact_form_json(NEW)::text);
    END IF;
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER orders_created AFTER INSERT ON orders DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION events_shop();
-- the first status of a new order is part of order_created
CREATE CONSTRAINT TRIGGER order_status_changed AFTER INSERT ON order_status_changes DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (NEW.from_status_id IS NOT NULL) EXECUTE FUNCTION events_shop();
CREATE CONSTRAINT TRIGGER contact_forms_created AFTER INSERT ON contact_forms DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION events_shop();

-- The contact form's JSON in one place: the create and the staff's list.
CREATE OR REPLACE FUNCTION shop_contact_form_create(p_customer_name text, p_phone_number text, p_text text,
                                                    p_email text, p_ip text, p_limit int, p_window_ms bigint,
                                                    OUT error text, OUT retry_after int, OUT body json)
LANGUAGE plpgsql AS $$
DECLARE k text := 'contact-ip:' || coalesce(p_ip, ''); win interval := p_window_ms * interval '1 millisecond';
        oldest timestamptz; f contact_forms;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext(k));
    IF rate_count(k, win, false) >= p_limit THEN
        SELECT min(at) INTO oldest FROM rate_events WHERE key = k AND at > now() - win;
        error := 'rate_limited';
        retry_after := greatest(1, ceil(extract(epoch FROM oldest + win - now())))::int;
        RETURN;
    END IF;
    PERFORM rate_count(k, win, true);
    INSERT INTO contact_forms (customer_name, phone_number, text, email, ip)
    VALUES (p_customer_name, p_phone_number, p_text, p_email, p_ip)
    RETURNING * INTO f;
    body := shop_contact_form_json(f);
END $$;

CREATE OR REPLACE FUNCTION shop_contact_forms_page(p_after bigint, p_limit int) RETURNS json
LANGUAGE sql STABLE AS $$
    WITH page AS (SELECT * FROM contact_forms WHERE id > p_after ORDER BY id LIMIT p_limit + 1),
    shown AS (SELECT * FROM page ORDER BY id LIMIT p_limit)
    SELECT json_build_object(
        'items', coalesce((SELECT json_agg(shop_contact_form_json(s) ORDER BY s.id) FROM shown s), '[]'),
        'next_cursor', CASE WHEN (SELECT count(*) FROM page) > p_limit THEN (SELECT max(id) FROM shown)::text END)
$$;

-- Messages: the same batch as 0010's, with an event row for each side
-- instead of a NOTIFY (the server wakes the streams). The users are still
-- locked first, in id order: a recipient cannot be deleted between its check
-- and the insert (which would fail the whole batch), and two batches of the
-- same people cannot deadlock.
CREATE OR REPLACE FUNCTION messages_send_batch(p_from bigint[], p_to bigint[], p_text text[])
RETURNS TABLE (n int, error text, id bigint, body text)
LANGUAGE plpgsql AS $$
DECLARE m messages; present bigint[];
BEGIN
    SELECT coalesce(array_agg(l.id), '{}') INTO present
      FROM (SELECT u.id FROM users u WHERE u.id = ANY (p_from || p_to) ORDER BY u.id FOR NO KEY UPDATE) AS l;
    PERFORM pg_current_xact_id(); -- before the first id is drawn, even when no user was there to lock
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
            PERFORM events_add_message(m.from_user_id, m.to_user_id, m.id);
            id := m.id;
            body := message_json(m)::text;
        END IF;
        RETURN NEXT;
    END LOOP;
END $$;

DROP FUNCTION messages_json_by_ids(bigint[]);
DROP FUNCTION messages_replay(bigint, bigint, int);
