-- The shop at front-end scale (issue 17): what the catalogue's answers kept in
-- memory need to know (src/cache.c, src/api_shop_cache.c), and orders that
-- cost less.
--
-- Invalidation. Each worker keeps rendered public answers; an answer depends
-- on tables (a dictionary, "goods" for goods, variations and their picture
-- lists, "shop_images" for the pictures' bytes) and on the goods it shows.
-- Every statement that writes a catalogue table NOTIFYs hourglass_catalogue
-- with what it changed, in its own transaction, so every instance drops what
-- depends on it: one NOTIFY per statement, however many rows (a 1C import of
-- 50 000 lines is one). The writing instance has dropped it already, before
-- answering. Orders are the exception: they are frequent, and a transaction
-- that NOTIFYs commits alone (bench/RESULTS.md: 347 against 3 314 tps), so an
-- order sets hourglass.catalogue_announced and its server announces the goods
-- whose stock it took right after the commit, many orders in one NOTIFY.

CREATE FUNCTION shop_catalogue_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('hourglass.catalogue_announced', true) IS DISTINCT FROM 'on' THEN
        PERFORM pg_notify('hourglass_catalogue', TG_ARGV[0]);
    END IF;
    RETURN NULL;
END $$;

-- Each catalogue table names itself (a variation is part of its good's answers).
DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['materials', 'shop_categories', 'compositions', 'care', 'sizes', 'colors',
                             'order_statuses', 'delivery_types', 'goods', 'variations'] LOOP
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON %I '
                       'FOR EACH STATEMENT EXECUTE FUNCTION shop_catalogue_changed(%L)',
                       t || '_changed', t, CASE t WHEN 'variations' THEN 'goods' ELSE t END);
    END LOOP;
END $$;

-- A new picture changes its good's list of pictures; a deleted one its bytes too.
CREATE TRIGGER shop_images_added AFTER INSERT OR UPDATE ON shop_images
    FOR EACH STATEMENT EXECUTE FUNCTION shop_catalogue_changed('goods');
CREATE TRIGGER shop_images_removed AFTER DELETE OR TRUNCATE ON shop_images
    FOR EACH STATEMENT EXECUTE FUNCTION shop_catalogue_changed('goods shop_images');

-- What a server announces after orders it committed: the goods whose stock
-- they took (NULL: none), and a wake-up for the mail and Telegram outboxes
-- they wrote to (the order's own transaction no longer NOTIFYs them).
CREATE FUNCTION shop_orders_announce(p_catalogue text, p_mail boolean, p_telegram boolean) RETURNS void
LANGUAGE sql AS $$
    SELECT pg_notify('hourglass_catalogue', p_catalogue) WHERE p_catalogue IS NOT NULL;
    SELECT pg_notify('hourglass_mail', '') WHERE p_mail;
    SELECT pg_notify('hourglass_telegram', '') WHERE p_telegram;
$$;

-- mail_enqueue without its NOTIFY, for a writer that wakes the mailers itself.
CREATE FUNCTION mail_insert(p_to text, p_template text, p_lang text, p_params jsonb) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE t mail_templates; params jsonb := coalesce(p_params, '{}'); s text; b text; id bigint;
BEGIN
    SELECT * INTO t FROM mail_templates WHERE name = p_template AND lang = p_lang;
    IF NOT FOUND THEN
        SELECT * INTO t FROM mail_templates WHERE name = p_template AND lang = 'en';
    END IF;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no mail template %', p_template;
    END IF;
    s := t.subject;
    b := t.body;
    -- Without a name the greeting reads "Hello!", not "Hello, !".
    IF coalesce(params->>'name', '') = '' THEN
        s := replace(s, ', {{name}}', '');
        b := replace(b, ', {{name}}', '');
    END IF;
    INSERT INTO mail_outbox (to_addr, subject, body_text)
    VALUES (p_to, mail_render(s, params), mail_render(b, params)) RETURNING mail_outbox.id INTO id;
    RETURN id;
END $$;

CREATE OR REPLACE FUNCTION mail_enqueue(p_to text, p_template text, p_lang text, p_params jsonb) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE id bigint := mail_insert(p_to, p_template, p_lang, p_params);
BEGIN
    PERFORM pg_notify('hourglass_mail', '');
    RETURN id;
END $$;

-- ------------------------------------------------------------------- reads

-- As 0011's, with the ids of the goods shown: an answer is current while
-- none of them changed.
DROP FUNCTION shop_goods_page(boolean, bigint, boolean, boolean, bigint, bigint, text, bigint, int);
CREATE FUNCTION shop_goods_page(p_staff boolean, p_category_id bigint, p_is_sale boolean, p_is_new boolean,
                                p_price_min bigint, p_price_max bigint, p_q text, p_after bigint, p_limit int,
                                OUT body json, OUT goods bigint[])
LANGUAGE sql STABLE AS $$
    WITH page AS (
        SELECT g FROM goods g
         WHERE g.id > p_after
           AND (p_staff OR g.is_visible)
           AND (p_category_id IS NULL OR g.category_id = p_category_id)
           AND (p_q IS NULL OR strpos(lower(g.name), lower(p_q)) > 0 OR strpos(lower(g.article), lower(p_q)) > 0)
           AND (num_nulls(p_is_sale, p_is_new, p_price_min, p_price_max) = 4 OR EXISTS (
                SELECT 1 FROM variations v
                 WHERE v.good_id = g.id
                   AND (p_is_sale IS NULL OR v.is_sale = p_is_sale)
                   AND (p_is_new IS NULL OR v.is_new = p_is_new)
                   AND (p_price_min IS NULL OR coalesce(v.discounted_price, v.price) >= p_price_min)
                   AND (p_price_max IS NULL OR coalesce(v.discounted_price, v.price) <= p_price_max)))
         ORDER BY g.id LIMIT p_limit + 1),
    shown AS (SELECT (p.g).* FROM page p ORDER BY (p.g).id LIMIT p_limit)
    SELECT json_build_object(
        'items', coalesce((SELECT json_agg(shop_good_json(s::goods) ORDER BY s.id) FROM shown s), '[]'),
        'next_cursor', CASE WHEN (SELECT count(*) FROM page) > p_limit THEN (SELECT max(id) FROM shown)::text END),
        ARRAY(SELECT id FROM shown ORDER BY id)
$$;

DROP FUNCTION shop_variations_page(boolean, bigint, bigint, int);
CREATE FUNCTION shop_variations_page(p_staff boolean, p_good_id bigint, p_after bigint, p_limit int,
                                     OUT body json, OUT goods bigint[])
LANGUAGE sql STABLE AS $$
    WITH page AS (
        SELECT v FROM variations v JOIN goods g ON g.id = v.good_id
         WHERE v.id > p_after AND (p_staff OR g.is_visible) AND (p_good_id IS NULL OR v.good_id = p_good_id)
         ORDER BY v.id LIMIT p_limit + 1),
    shown AS (SELECT (p.v).* FROM page p ORDER BY (p.v).id LIMIT p_limit)
    SELECT CASE WHEN p_good_id IS NOT NULL
                     AND NOT EXISTS (SELECT 1 FROM goods g WHERE g.id = p_good_id AND (p_staff OR g.is_visible))
                THEN NULL
           ELSE json_build_object(
               'items', coalesce((SELECT json_agg(shop_variation_json(s::variations) ORDER BY s.id) FROM shown s), '[]'),
               'next_cursor', CASE WHEN (SELECT count(*) FROM page) > p_limit THEN (SELECT max(id) FROM shown)::text END)
           END,
           ARRAY(SELECT DISTINCT good_id FROM shown ORDER BY good_id)
$$;

-- ------------------------------------------------------------------ orders

-- An order no longer refers to its delivery type and status by foreign key.
-- Every order's key checks locked the same two rows (FOR KEY SHARE), and the
-- lockers of one row share it through a multixact that each new locker
-- rebuilds and WAL-logs, on one hot page. What the keys guarded, this
-- guards: a delivery type or status that orders use cannot be deleted (the
-- same 23503, which the engine answers 409 in_use). The delete takes
-- EXCLUSIVE on the order tables (plain reads go on), so it waits for every
-- order being written or changed and holds off new ones: an order takes ROW
-- EXCLUSIVE on orders before it checks its references, a PATCH its row FOR
-- UPDATE.
ALTER TABLE orders DROP CONSTRAINT orders_delivery_type_id_ref, DROP CONSTRAINT orders_status_id_ref;
ALTER TABLE order_status_changes DROP CONSTRAINT order_status_changes_status_id_fkey;

CREATE FUNCTION shop_order_refs_kept() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    LOCK TABLE orders, order_status_changes IN EXCLUSIVE MODE;
    IF TG_OP = 'TRUNCATE' AND EXISTS (SELECT 1 FROM orders)
       OR TG_OP = 'DELETE' AND TG_TABLE_NAME = 'delivery_types'
          AND EXISTS (SELECT 1 FROM orders WHERE delivery_type_id = OLD.id)
       OR TG_OP = 'DELETE' AND TG_TABLE_NAME = 'order_statuses'
          AND (EXISTS (SELECT 1 FROM orders WHERE status_id = OLD.id)
               OR EXISTS (SELECT 1 FROM order_status_changes WHERE status_id = OLD.id)) THEN
        RAISE foreign_key_violation USING MESSAGE = format('%s: a row orders use', TG_TABLE_NAME);
    END IF;
    RETURN OLD;
END $$;
CREATE TRIGGER delivery_types_in_use BEFORE DELETE ON delivery_types
    FOR EACH ROW EXECUTE FUNCTION shop_order_refs_kept();
CREATE TRIGGER delivery_types_truncated BEFORE TRUNCATE ON delivery_types
    FOR EACH STATEMENT EXECUTE FUNCTION shop_order_refs_kept();
CREATE TRIGGER order_statuses_in_use BEFORE DELETE ON order_statuses
    FOR EACH ROW EXECUTE FUNCTION shop_order_refs_kept();

-- An order's stock update changes no indexed column: with room on the page
-- it is a HOT update and touches none of the five indexes.
ALTER TABLE variations SET (fillfactor = 80);

-- POST /orders: 0011's contract and outcomes (the orders' error, body and the
-- items at fault, byte for byte), for the orders a worker received while its
-- previous batch was in the database (api_batch.c), in one transaction: one
-- commit and one WAL flush for them all, where the server's few connections
-- would otherwise each wait for a flush per order. A constant number of
-- statements whatever the batch's size: the items are read, every variation
-- of the batch is locked (in id order: batches queue, never deadlock) and
-- read with its good's visibility, and the orders are checked in arrival
-- order in memory, each against the stock the ones before it took; the
-- accepted ones are then written in one data-modifying WITH (the stock taken
-- per variation, the orders with ids drawn beforehand, their items and first
-- status changes). n is the order's place in the arrays; goods the goods
-- whose stock it took, which the server announces after the commit (see the
-- top of this file). Notifications are queued for each accepted order when
-- configured.
DROP FUNCTION shop_order_create(jsonb, bigint, text, text, text);
CREATE FUNCTION shop_orders_create(p_orders jsonb[], p_user_ids bigint[], p_notify_email text,
                                   p_telegram_chat_id text, p_langs text[])
RETURNS TABLE (n int, error text, body json, goods bigint[])
LANGUAGE plpgsql AS $$
DECLARE
    cnt int := cardinality(p_orders);
    -- every item of the batch: its order, its place there, what it asks
    i_n int[]; i_idx int[]; i_var bigint[]; i_amount int[]; i_price bigint[];
    -- the batch's variations, locked: stock as the orders before take it
    v_id bigint[]; v_stock int[]; v_price bigint[]; v_good bigint[]; v_shown boolean[];
    dt_found boolean[]; st bigint;
    errs jsonb[]; faults jsonb[]; any_price boolean; j int; first int; last int; a int;
    -- the accepted orders and their taken items
    ok_n int[] := '{}'; t_n int[] := '{}'; t_var bigint[] := '{}'; t_amount int[] := '{}'; t_price bigint[] := '{}';
    out_error text[] := array_fill(NULL::text, ARRAY[cnt]);
    out_body json[] := array_fill(NULL::json, ARRAY[cnt]);
    ids bigint[]; bodies json[]; r record; lines text;
BEGIN
    LOCK TABLE orders IN ROW EXCLUSIVE MODE; -- before the references are checked (shop_order_refs_kept)
    SELECT coalesce(array_agg(o.n ORDER BY o.n, e.ord), '{}'), coalesce(array_agg((e.ord - 1)::int ORDER BY o.n, e.ord), '{}'),
           coalesce(array_agg(e.variation_id ORDER BY o.n, e.ord), '{}'), coalesce(array_agg(e.amount ORDER BY o.n, e.ord), '{}'),
           coalesce(array_agg(e.current_price ORDER BY o.n, e.ord), '{}')
      INTO i_n, i_idx, i_var, i_amount, i_price
      FROM unnest(p_orders) WITH ORDINALITY AS o(doc, n),
           ROWS FROM (jsonb_to_recordset(CASE jsonb_typeof(o.doc->'items') WHEN 'array' THEN o.doc->'items' ELSE '[]' END)
                      AS (variation_id bigint, amount int, current_price bigint)) WITH ORDINALITY
           AS e(variation_id, amount, current_price, ord);
    -- locked in id order: batches and orders queue, never deadlock
    SELECT coalesce(array_agg(x.id ORDER BY x.id), '{}'), coalesce(array_agg(x.amount ORDER BY x.id), '{}'),
           coalesce(array_agg(x.price ORDER BY x.id), '{}'), coalesce(array_agg(x.good_id ORDER BY x.id), '{}'),
           coalesce(array_agg(x.is_visible ORDER BY x.id), '{}')
      INTO v_id, v_stock, v_price, v_good, v_shown
      FROM (SELECT v.id, v.amount, coalesce(v.discounted_price, v.price) AS price, v.good_id, g.is_visible
              FROM variations v JOIN goods g ON g.id = v.good_id
             WHERE v.id = ANY (i_var) ORDER BY v.id FOR UPDATE OF v) x;
    SELECT array_agg(EXISTS (SELECT 1 FROM delivery_types d WHERE d.id = (o.doc->>'delivery_type_id')::bigint) ORDER BY o.n),
           (SELECT min(id) FROM order_statuses)
      INTO dt_found, st FROM unnest(p_orders) WITH ORDINALITY AS o(doc, n);

    first := 1;
    FOR k IN 1 .. cnt LOOP
        last := first;
        WHILE last <= cardinality(i_n) AND i_n[last] = k LOOP
            last := last + 1;
        END LOOP;
        last := last - 1; -- items first..last are order k's
        IF last < first THEN
            out_error[k] := 'validation_failed';
            out_body[k] := json_build_object('errors', json_build_array(json_build_object('field', 'items', 'code',
                               CASE WHEN jsonb_typeof(p_orders[k]->'items') = 'array' THEN 'too_short' ELSE 'required' END)));
        ELSE
            errs := '{}';
            IF NOT dt_found[k] THEN
                errs := errs || jsonb_build_object('field', 'delivery_type_id', 'code', 'not_found');
            END IF;
            FOR i IN first .. last LOOP
                IF i_var[i] = ANY (i_var[first:i - 1]) THEN
                    errs := errs || jsonb_build_object('field', format('items[%s].variation_id', i_idx[i]), 'code', 'duplicate');
                END IF;
                j := array_position(v_id, i_var[i]);
                IF j IS NULL OR NOT v_shown[j] THEN
                    errs := errs || jsonb_build_object('field', format('items[%s].variation_id', i_idx[i]), 'code', 'not_found');
                END IF;
            END LOOP;
            IF cardinality(errs) > 0 THEN
                out_error[k] := 'validation_failed';
                out_body[k] := json_build_object('errors', (SELECT jsonb_agg(x ORDER BY x->>'field') FROM unnest(errs) x));
            ELSE
                faults := '{}';
                any_price := false;
                FOR i IN first .. last LOOP
                    j := array_position(v_id, i_var[i]);
                    IF v_price[j] <> i_price[i] OR v_stock[j] < i_amount[i] THEN
                        faults := faults || jsonb_build_object(
                            'variation_id', i_var[i],
                            'code', CASE WHEN v_price[j] <> i_price[i] THEN 'price_changed' ELSE 'out_of_stock' END,
                            'amount', i_amount[i], 'available', v_stock[j], 'current_price', i_price[i], 'price', v_price[j]);
                        any_price := any_price OR v_price[j] <> i_price[i];
                    END IF;
                END LOOP;
                IF cardinality(faults) > 0 THEN
                    out_error[k] := CASE WHEN any_price THEN 'price_changed' ELSE 'out_of_stock' END;
                    out_body[k] := json_build_object('items', to_jsonb(faults));
                ELSIF st IS NULL THEN
                    out_error[k] := 'no_order_status';
                    out_body[k] := '{}';
                ELSE
                    ok_n := ok_n || k;
                    FOR i IN first .. last LOOP
                        j := array_position(v_id, i_var[i]);
                        v_stock[j] := v_stock[j] - i_amount[i];
                        t_n := t_n || k; t_var := t_var || i_var[i]; t_amount := t_amount || i_amount[i];
                        t_price := t_price || i_price[i];
                    END LOOP;
                END IF;
            END IF;
        END IF;
        first := last + 1;
    END LOOP;

    IF cardinality(ok_n) > 0 THEN
        PERFORM set_config('hourglass.catalogue_announced', 'on', true);
        SELECT array_agg(nextval(pg_get_serial_sequence('orders', 'id')) ORDER BY k) INTO ids FROM unnest(ok_n) k;
        WITH a AS (SELECT * FROM unnest(ok_n, ids) AS a(n, id)),
             t AS (SELECT a.id, t.var, t.amount, t.price FROM unnest(t_n, t_var, t_amount, t_price) AS t(n, var, amount, price)
                     JOIN a ON a.n = t.n),
             taken AS (UPDATE variations v SET amount = v.amount - s.amount, updated_at = now()
                         FROM (SELECT var, sum(amount)::int AS amount FROM t GROUP BY var) s WHERE v.id = s.var RETURNING 1),
             o AS (INSERT INTO orders (id, user_id, customer_name, phone_number, email, delivery_type_id, address, comment,
                                       total, status_id) OVERRIDING SYSTEM VALUE
                   SELECT a.id, p_user_ids[a.n], d->>'customer_name', d->>'phone_number', d->>'email',
                          (d->>'delivery_type_id')::bigint, d->>'address', d->>'comment',
                          (SELECT sum(t.amount::bigint * t.price) FROM t WHERE t.id = a.id), st
                     FROM a, LATERAL (SELECT p_orders[a.n] AS d) x
                   RETURNING *),
             i AS (INSERT INTO order_items (order_id, variation_id, amount, price) SELECT id, var, amount, price FROM t RETURNING *),
             c AS (INSERT INTO order_status_changes (order_id, from_status_id, status_id, author_id)
                   SELECT o.id, NULL, st, o.user_id FROM o)
        SELECT array_agg(json_build_object(
                   'id', o.id, 'customer_name', o.customer_name, 'phone_number', o.phone_number, 'email', o.email,
                   'delivery_type_id', o.delivery_type_id, 'address', o.address, 'comment', o.comment,
                   'total', o.total, 'status_id', o.status_id, 'created_at', hg_time(o.created_at),
                   'items', coalesce((SELECT json_agg(json_build_object('variation_id', i.variation_id, 'amount', i.amount,
                                                                        'price', i.price) ORDER BY i.variation_id)
                                        FROM i WHERE i.order_id = o.id), '[]')) ORDER BY o.id)
          INTO bodies FROM o;
        FOR x IN 1 .. cardinality(ok_n) LOOP
            out_body[ok_n[x]] := bodies[x];
        END LOOP;
        FOR r IN SELECT o.*, dt.name AS dt_name, p_langs[a.n] AS lang
                   FROM unnest(ok_n, ids) AS a(n, id) JOIN orders o ON o.id = a.id
                   JOIN delivery_types dt ON dt.id = o.delivery_type_id
                  WHERE p_notify_email IS NOT NULL OR p_telegram_chat_id IS NOT NULL LOOP
            lines := shop_order_lines(r.id);
            IF p_notify_email IS NOT NULL THEN
                PERFORM mail_insert(p_notify_email, 'shop_order', r.lang, jsonb_build_object(
                    'order_id', r.id::text, 'created_at', hg_time(r.created_at), 'customer_name', r.customer_name,
                    'phone_number', r.phone_number, 'email', coalesce(r.email, '-'), 'delivery_type', r.dt_name,
                    'address', coalesce(r.address, '-'), 'comment', coalesce(r.comment, '-'),
                    'items', lines, 'total', shop_money(r.total)));
            END IF;
            IF p_telegram_chat_id IS NOT NULL THEN
                INSERT INTO telegram_outbox (chat_id, order_id, text)
                VALUES (p_telegram_chat_id, r.id, format(E'Новый заказ № %s\n%s, %s%s\nДоставка: %s%s%s\n\n%s\n\nИтого: %s',
                        r.id, r.customer_name, r.phone_number, coalesce(', ' || r.email, ''), r.dt_name,
                        coalesce(E'\nАдрес: ' || r.address, ''), coalesce(E'\nКомментарий: ' || r.comment, ''),
                        lines, shop_money(r.total)));
            END IF;
        END LOOP;
    END IF;
    FOR k IN 1 .. cnt LOOP
        n := k;
        error := out_error[k];
        body := out_body[k];
        goods := CASE WHEN error IS NULL THEN
                     ARRAY(SELECT DISTINCT v_good[array_position(v_id, t_var[x])] FROM generate_subscripts(t_n, 1) x
                            WHERE t_n[x] = k ORDER BY 1) END;
        RETURN NEXT;
    END LOOP;
END $$;


