-- The shop: reference lists, goods and their variations, images, orders and
-- their status history, contact forms, the Telegram bot's users, and the
-- outbox of Telegram notifications.
--
-- Dictionaries, goods, variations and telegram_users are *global* resources
-- of the engine (res_engine.c, like music_tracks): id, the fields,
-- created_at, updated_at, no user_id. Constraint names follow 0005:
--   <table>_<field>_ref     23503 -> 422 not_found on the field
--   <table>_<field>_unique  23505 -> 409 on the field
--   <table>_<field>_range   23514 -> 422 invalid_range on the field
-- A referenced row (a category that goods use, a variation that was ordered,
-- an order status in use) cannot be deleted: the DELETE fails with 23503 on
-- the referencing table's *_ref constraint, which the shop answers 409 in_use.
--
-- Money is integer minor units (kopecks); weight is integer grams.
-- Functions that answer an object return (error text, body json) as in 0004:
-- error NULL means body is the JSON to send as it is; otherwise body carries
-- what the problem document needs (field errors, the items at fault).

CREATE TABLE materials (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT materials_name_unique UNIQUE (name)
);

-- "categories" is the planning tools' (per user); these are the shop's.
CREATE TABLE shop_categories (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT shop_categories_name_unique UNIQUE (name)
);

CREATE TABLE compositions (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT compositions_name_unique UNIQUE (name)
);

CREATE TABLE care (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       text        NOT NULL CHECK (length(name) BETWEEN 1 AND 2000),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT care_name_unique UNIQUE (name)
);

CREATE TABLE sizes (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT sizes_name_unique UNIQUE (name)
);

-- code: what the front end paints (e.g. "#1a1a1a") or 1C's code; not unique.
CREATE TABLE colors (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    code       text        NOT NULL CHECK (length(code) BETWEEN 1 AND 50),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT colors_name_unique UNIQUE (name)
);

-- A new order starts in the status with the smallest id (API.md).
CREATE TABLE order_statuses (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT order_statuses_name_unique UNIQUE (name)
);
INSERT INTO order_statuses (name) VALUES
    ('Новый'), ('Подтверждён'), ('Оплачен'), ('Собран'), ('Передан в доставку'), ('Доставлен'), ('Отменён');

CREATE TABLE delivery_types (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT delivery_types_name_unique UNIQUE (name)
);

-- external_id: the 1C id that the stock and weight reports name.
CREATE TABLE goods (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name           text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    article        text        NOT NULL CHECK (length(article) BETWEEN 1 AND 100),
    external_id    text        CHECK (length(external_id) BETWEEN 1 AND 100),
    category_id    bigint      NOT NULL,
    barcode        text        CHECK (length(barcode) <= 100),
    composition_id bigint,
    care_id        bigint,
    description    text        CHECK (length(description) <= 10000),
    is_visible     boolean     NOT NULL DEFAULT true,
    weight         int         CHECK (weight >= 0),
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT goods_external_id_unique UNIQUE (external_id),
    CONSTRAINT goods_category_id_ref FOREIGN KEY (category_id) REFERENCES shop_categories,
    CONSTRAINT goods_composition_id_ref FOREIGN KEY (composition_id) REFERENCES compositions,
    CONSTRAINT goods_care_id_ref FOREIGN KEY (care_id) REFERENCES care
);
-- The public list walks visible goods in id order, by category or not.
CREATE INDEX goods_visible_idx ON goods (id) WHERE is_visible;
CREATE INDEX goods_category_idx ON goods (category_id, id);
CREATE INDEX goods_composition_idx ON goods (composition_id) WHERE composition_id IS NOT NULL;
CREATE INDEX goods_care_idx ON goods (care_id) WHERE care_id IS NOT NULL;

-- A good's sellable form (a colour and size). The effective price is
-- discounted_price when set, else price. amount is the stock: never negative.
CREATE TABLE variations (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    good_id          bigint      NOT NULL,
    name             text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    color_id         bigint,
    size_id          bigint,
    price            bigint      NOT NULL CHECK (price >= 0),
    discounted_price bigint      CHECK (discounted_price >= 0),
    external_id      text        CHECK (length(external_id) BETWEEN 1 AND 100),
    amount           int         NOT NULL DEFAULT 0,
    barcode          text        CHECK (length(barcode) <= 100),
    is_sale          boolean     NOT NULL DEFAULT false,
    is_new           boolean     NOT NULL DEFAULT false,
    is_default       boolean     NOT NULL DEFAULT false,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT variations_amount_nonnegative CHECK (amount >= 0),
    CONSTRAINT variations_discounted_price_range CHECK (discounted_price <= price),
    CONSTRAINT variations_external_id_unique UNIQUE (external_id),
    CONSTRAINT variations_good_id_ref FOREIGN KEY (good_id) REFERENCES goods ON DELETE CASCADE,
    CONSTRAINT variations_color_id_ref FOREIGN KEY (color_id) REFERENCES colors,
    CONSTRAINT variations_size_id_ref FOREIGN KEY (size_id) REFERENCES sizes
);
CREATE INDEX variations_good_idx ON variations (good_id, id);
CREATE INDEX variations_color_idx ON variations (color_id) WHERE color_id IS NOT NULL;
CREATE INDEX variations_size_idx ON variations (size_id) WHERE size_id IS NOT NULL;

-- Images of goods, stored like avatars: the type sniffed from the bytes,
-- sha256 of the bytes as the ETag. A new picture is a new row, so a URL's
-- bytes never change.
CREATE TABLE shop_images (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    good_id      bigint      NOT NULL,
    position     int         NOT NULL DEFAULT 0,
    content_type text        NOT NULL CHECK (content_type IN ('image/png', 'image/jpeg', 'image/gif', 'image/webp')),
    data         bytea       NOT NULL,
    sha256       text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT shop_images_good_id_ref FOREIGN KEY (good_id) REFERENCES goods ON DELETE CASCADE
);
CREATE INDEX shop_images_good_idx ON shop_images (good_id, position, id);

CREATE FUNCTION shop_image_url(p_id bigint) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT '/api/v1/shop/images/' || p_id
$$;

-- 12345 -> '123.45'
CREATE FUNCTION shop_money(p bigint) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT (p / 100)::text || '.' || lpad((abs(p) % 100)::text, 2, '0')
$$;

CREATE TABLE orders (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id          bigint      REFERENCES users ON DELETE SET NULL,
    customer_name    text        NOT NULL CHECK (length(customer_name) BETWEEN 1 AND 200),
    phone_number     text        NOT NULL CHECK (length(phone_number) BETWEEN 1 AND 32),
    email            text        CHECK (length(email) <= 254),
    delivery_type_id bigint      NOT NULL,
    address          text        CHECK (length(address) <= 1000),
    comment          text        CHECK (length(comment) <= 2000),
    total            bigint      NOT NULL CHECK (total >= 0),
    status_id        bigint      NOT NULL,
    -- the payment gateway's side: one registration per attempt (orderNumber
    -- "<id>-<attempt>", since the gateway refuses a number it has seen)
    payment_attempts int         NOT NULL DEFAULT 0,
    gateway_order_id text,
    payment_url      text,
    paid_at          timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT orders_delivery_type_id_ref FOREIGN KEY (delivery_type_id) REFERENCES delivery_types,
    CONSTRAINT orders_status_id_ref FOREIGN KEY (status_id) REFERENCES order_statuses
);
CREATE INDEX orders_status_idx ON orders (status_id, id);
CREATE INDEX orders_delivery_type_idx ON orders (delivery_type_id);
CREATE INDEX orders_user_idx ON orders (user_id) WHERE user_id IS NOT NULL;

-- price: the effective price each unit was sold at.
CREATE TABLE order_items (
    order_id     bigint NOT NULL REFERENCES orders ON DELETE CASCADE,
    variation_id bigint NOT NULL,
    amount       int    NOT NULL CHECK (amount > 0),
    price        bigint NOT NULL CHECK (price >= 0),
    PRIMARY KEY (order_id, variation_id),
    CONSTRAINT order_items_variation_id_ref FOREIGN KEY (variation_id) REFERENCES variations
);
CREATE INDEX order_items_variation_idx ON order_items (variation_id);

-- from_status_id NULL: the order's first status. author_id NULL: an
-- anonymous customer, or an account deleted since.
CREATE TABLE order_status_changes (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id       bigint      NOT NULL REFERENCES orders ON DELETE CASCADE,
    from_status_id bigint      REFERENCES order_statuses,
    status_id      bigint      NOT NULL REFERENCES order_statuses,
    author_id      bigint      REFERENCES users ON DELETE SET NULL,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX order_status_changes_order_idx ON order_status_changes (order_id, id);
CREATE INDEX order_status_changes_author_idx ON order_status_changes (author_id) WHERE author_id IS NOT NULL;
CREATE INDEX order_status_changes_status_idx ON order_status_changes (status_id);
CREATE INDEX order_status_changes_from_idx ON order_status_changes (from_status_id) WHERE from_status_id IS NOT NULL;

CREATE TABLE contact_forms (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_name text        NOT NULL CHECK (length(customer_name) BETWEEN 1 AND 200),
    phone_number  text        NOT NULL CHECK (length(phone_number) BETWEEN 1 AND 32),
    text          text        CHECK (length(text) <= 4000),
    email         text        CHECK (length(email) <= 254),
    ip            text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- The shop bot's users. chat_id is Telegram's (64-bit, negative for groups);
-- status_id is the bot's own state for that chat.
CREATE TABLE telegram_users (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    chat_id    bigint      NOT NULL,
    status_id  int         NOT NULL DEFAULT 0 CHECK (status_id >= 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT telegram_users_chat_id_unique UNIQUE (chat_id)
);

-- Telegram notifications, durable like mail_outbox: a row is written in the
-- transaction of what caused it and sent later by whichever worker claims it.
-- A claim (claimed_by, claimed_at) is a lease: another sender may take the
-- row only after the lease has run out, so a lease longer than the send's
-- timeout means two senders never hold it at once; only the claimer may mark
-- it sent or failed. The token is configuration, never stored.
CREATE TABLE telegram_outbox (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    chat_id         text        NOT NULL,
    text            text        NOT NULL,
    order_id        bigint      REFERENCES orders ON DELETE SET NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    attempts        int         NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    claimed_by      text,
    claimed_at      timestamptz,
    sent_at         timestamptz,
    dead_at         timestamptz,
    last_error      text
);
CREATE INDEX telegram_outbox_due_idx ON telegram_outbox (next_attempt_at) WHERE sent_at IS NULL AND dead_at IS NULL;
CREATE INDEX telegram_outbox_order_idx ON telegram_outbox (order_id) WHERE order_id IS NOT NULL;

INSERT INTO mail_templates (name, lang, subject, body) VALUES
('shop_order', 'en', 'New order No. {{order_id}}',
 E'New order No. {{order_id}} of {{created_at}}.\n\nCustomer: {{customer_name}}\nPhone: {{phone_number}}\nE-mail: {{email}}\nDelivery: {{delivery_type}}\nAddress: {{address}}\nComment: {{comment}}\n\n{{items}}\nTotal: {{total}}\n'),
('shop_order', 'ru', 'Новый заказ № {{order_id}}',
 E'Новый заказ № {{order_id}} от {{created_at}}.\n\nПокупатель: {{customer_name}}\nТелефон: {{phone_number}}\nE-mail: {{email}}\nДоставка: {{delivery_type}}\nАдрес: {{address}}\nКомментарий: {{comment}}\n\n{{items}}\nИтого: {{total}}\n');

-- ------------------------------------------------------------------- reads

CREATE FUNCTION shop_variation_json(v variations) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'id', v.id, 'good_id', v.good_id, 'name', v.name, 'color_id', v.color_id, 'size_id', v.size_id,
        'price', v.price, 'discounted_price', v.discounted_price, 'external_id', v.external_id,
        'amount', v.amount, 'barcode', v.barcode, 'is_sale', v.is_sale, 'is_new', v.is_new,
        'is_default', v.is_default, 'created_at', hg_time(v.created_at), 'updated_at', hg_time(v.updated_at))
$$;

-- A good as the lists show it: its fields, its variations (id order) and
-- its images (position, then id order).
CREATE FUNCTION shop_good_json(g goods) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'id', g.id, 'name', g.name, 'article', g.article, 'external_id', g.external_id,
        'category_id', g.category_id, 'barcode', g.barcode, 'composition_id', g.composition_id,
        'care_id', g.care_id, 'description', g.description, 'is_visible', g.is_visible, 'weight', g.weight,
        'created_at', hg_time(g.created_at), 'updated_at', hg_time(g.updated_at),
        'variations', coalesce((SELECT json_agg(shop_variation_json(v) ORDER BY v.id)
                                  FROM variations v WHERE v.good_id = g.id), '[]'),
        'images', coalesce((SELECT json_agg(json_build_object('id', i.id, 'url', shop_image_url(i.id))
                                            ORDER BY i.position, i.id)
                              FROM shop_images i WHERE i.good_id = g.id), '[]'))
$$;

-- One page of goods after p_after, as the list envelope. Public callers
-- (p_staff false) see visible goods only. Filters (NULL: not applied):
-- category; a good matches the sale/new/price filters when one of its
-- variations does, by its effective price; p_q occurs in name or article.
CREATE FUNCTION shop_goods_page(p_staff boolean, p_category_id bigint, p_is_sale boolean, p_is_new boolean,
                                p_price_min bigint, p_price_max bigint, p_q text, p_after bigint, p_limit int)
RETURNS json LANGUAGE sql STABLE AS $$
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
        'next_cursor', CASE WHEN (SELECT count(*) FROM page) > p_limit THEN (SELECT max(id) FROM shown)::text END)
$$;

-- One good with its variations and images; no row when missing or, for the
-- public, hidden.
CREATE FUNCTION shop_good_get(p_id bigint, p_staff boolean) RETURNS SETOF json LANGUAGE sql STABLE AS $$
    SELECT shop_good_json(g) FROM goods g WHERE g.id = p_id AND (p_staff OR g.is_visible)
$$;

-- Variations for reading: the public sees those of visible goods. NULL from
-- a page with p_good_id: that good is missing (or hidden from the public).
CREATE FUNCTION shop_variations_page(p_staff boolean, p_good_id bigint, p_after bigint, p_limit int)
RETURNS json LANGUAGE sql STABLE AS $$
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
           END
$$;

CREATE FUNCTION shop_variation_get(p_id bigint, p_staff boolean) RETURNS SETOF json LANGUAGE sql STABLE AS $$
    SELECT shop_variation_json(v) FROM variations v JOIN goods g ON g.id = v.good_id
     WHERE v.id = p_id AND (p_staff OR g.is_visible)
$$;

-- ------------------------------------------------------------------ images

-- p_hex: the bytes hex-encoded (text parameters, as for avatars); p_sha256 their hash.
CREATE FUNCTION shop_image_create(p_good_id bigint, p_position int, p_content_type text, p_hex text, p_sha256 text,
                                  OUT error text, OUT body json)
LANGUAGE plpgsql AS $$
DECLARE i shop_images;
BEGIN
    PERFORM 1 FROM goods WHERE id = p_good_id FOR KEY SHARE;
    IF NOT FOUND THEN
        error := 'validation_failed';
        body := json_build_object('errors', json_build_array(json_build_object('field', 'good_id', 'code', 'not_found')));
        RETURN;
    END IF;
    INSERT INTO shop_images (good_id, position, content_type, data, sha256)
    VALUES (p_good_id, coalesce(p_position, 0), p_content_type, decode(p_hex, 'hex'), p_sha256)
    RETURNING * INTO i;
    body := json_build_object('id', i.id, 'good_id', i.good_id, 'position', i.position,
                              'content_type', i.content_type, 'size', octet_length(i.data),
                              'url', shop_image_url(i.id), 'created_at', hg_time(i.created_at));
END $$;

-- As users_avatar_get: only the headers when If-None-Match already names it.
CREATE FUNCTION shop_image_get(p_id bigint, p_if_none_match text)
RETURNS TABLE (content_type text, etag text, not_modified boolean, hex text)
LANGUAGE sql STABLE AS $$
    SELECT i.content_type, i.sha256, m, CASE WHEN m THEN NULL ELSE encode(i.data, 'hex') END
      FROM shop_images i,
           LATERAL (SELECT coalesce(btrim(p_if_none_match) = '*'
                                    OR strpos(p_if_none_match, '"' || i.sha256 || '"') > 0, false) AS m) x
     WHERE i.id = p_id
$$;

-- ------------------------------------------------------------------ orders

CREATE FUNCTION shop_order_json(o orders) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'id', o.id, 'customer_name', o.customer_name, 'phone_number', o.phone_number, 'email', o.email,
        'delivery_type_id', o.delivery_type_id, 'address', o.address, 'comment', o.comment,
        'total', o.total, 'status_id', o.status_id, 'created_at', hg_time(o.created_at),
        'items', coalesce((SELECT json_agg(json_build_object('variation_id', i.variation_id, 'amount', i.amount,
                                                             'price', i.price) ORDER BY i.variation_id)
                             FROM order_items i WHERE i.order_id = o.id), '[]'))
$$;

-- The text of the staff's notifications: one line per item.
CREATE FUNCTION shop_order_lines(p_order_id bigint) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT string_agg(format('- %s / %s (%s) x %s = %s', g.name, v.name, g.article, i.amount,
                             shop_money(i.amount::bigint * i.price)), E'\n' ORDER BY i.variation_id)
      FROM order_items i JOIN variations v ON v.id = i.variation_id JOIN goods g ON g.id = v.good_id
     WHERE i.order_id = p_order_id
$$;

-- POST /orders in one transaction. p_order is the body C has checked:
--   {"customer_name","phone_number","email","delivery_type_id","address","comment",
--    "items":[{"variation_id","amount","current_price"}]}
-- The variations are locked in id order (FOR UPDATE; the same order in
-- every transaction, so concurrent orders queue instead of deadlocking);
-- then every item is checked. Outcomes (error, body):
--   NULL                -> the order object (201)
--   'validation_failed' -> {"errors":[{"field","code"}]}: delivery_type_id or
--                          items[i].variation_id not_found (missing, or its good hidden),
--                          items[i].variation_id duplicate, items required / too_short
--   'price_changed'     -> {"items":[fault...]}: some current_price differs from the
--                          effective price (takes precedence over out_of_stock)
--   'out_of_stock'      -> {"items":[fault...]}: some amount exceeds the stock
--   'no_order_status'   -> {}: the shop has no order status at all
-- fault: {"variation_id","code","amount","available","current_price","price"}, one per
-- item at fault, every one of them. On any error nothing has changed.
-- Notifications are queued in the same transaction: an e-mail to
-- p_notify_email and a Telegram message to p_telegram_chat_id, each only when given.
CREATE FUNCTION shop_order_create(p_order jsonb, p_user_id bigint, p_notify_email text, p_telegram_chat_id text,
                                  p_lang text, OUT error text, OUT body json)
LANGUAGE plpgsql AS $$
DECLARE
    errs jsonb := '[]';
    faults jsonb;
    any_price boolean;
    st bigint;
    o orders;
    dt_name text;
    lines text;
    l_idx int[]; l_variation bigint[]; l_amount int[]; l_price bigint[];
BEGIN
    IF jsonb_typeof(p_order->'items') IS DISTINCT FROM 'array' OR jsonb_array_length(p_order->'items') = 0 THEN
        error := 'validation_failed';
        body := json_build_object('errors', json_build_array(json_build_object('field', 'items', 'code',
                    CASE WHEN jsonb_typeof(p_order->'items') = 'array' THEN 'too_short' ELSE 'required' END)));
        RETURN;
    END IF;
    -- The items as parallel arrays (no temporary table: its catalogue churn
    -- would cost every order); l below is always unnest of these.
    SELECT array_agg((e.ord - 1)::int ORDER BY e.ord), array_agg((e.item->>'variation_id')::bigint ORDER BY e.ord),
           array_agg((e.item->>'amount')::int ORDER BY e.ord), array_agg((e.item->>'current_price')::bigint ORDER BY e.ord)
      INTO l_idx, l_variation, l_amount, l_price
      FROM jsonb_array_elements(p_order->'items') WITH ORDINALITY AS e(item, ord);

    -- Locks first, in id order; the checks below read what the locks protect.
    PERFORM 1 FROM variations v WHERE v.id IN (SELECT unnest(l_variation)) ORDER BY v.id FOR UPDATE;

    SELECT into errs coalesce(jsonb_agg(x ORDER BY x->>'field'), '[]') FROM (
        SELECT jsonb_build_object('field', 'delivery_type_id', 'code', 'not_found') AS x
         WHERE NOT EXISTS (SELECT 1 FROM delivery_types WHERE id = (p_order->>'delivery_type_id')::bigint)
        UNION ALL
        SELECT jsonb_build_object('field', format('items[%s].variation_id', l.idx), 'code', 'duplicate')
          FROM unnest(l_idx, l_variation, l_amount, l_price) AS l(idx, variation_id, amount, current_price)
         WHERE EXISTS (SELECT 1 FROM unnest(l_idx, l_variation) AS e(idx, variation_id) WHERE e.variation_id = l.variation_id AND e.idx < l.idx)
        UNION ALL
        SELECT jsonb_build_object('field', format('items[%s].variation_id', l.idx), 'code', 'not_found')
          FROM unnest(l_idx, l_variation, l_amount, l_price) AS l(idx, variation_id, amount, current_price)
         WHERE NOT EXISTS (SELECT 1 FROM variations v JOIN goods g ON g.id = v.good_id
                            WHERE v.id = l.variation_id AND g.is_visible)) e;
    IF jsonb_array_length(errs) > 0 THEN
        error := 'validation_failed';
        body := json_build_object('errors', errs);
        RETURN;
    END IF;

    SELECT jsonb_agg(jsonb_build_object(
               'variation_id', l.variation_id,
               'code', CASE WHEN coalesce(v.discounted_price, v.price) <> l.current_price
                            THEN 'price_changed' ELSE 'out_of_stock' END,
               'amount', l.amount, 'available', v.amount,
               'current_price', l.current_price, 'price', coalesce(v.discounted_price, v.price)) ORDER BY l.idx),
           bool_or(coalesce(v.discounted_price, v.price) <> l.current_price)
      INTO faults, any_price
      FROM unnest(l_idx, l_variation, l_amount, l_price) AS l(idx, variation_id, amount, current_price) JOIN variations v ON v.id = l.variation_id
     WHERE coalesce(v.discounted_price, v.price) <> l.current_price OR v.amount < l.amount;
    IF faults IS NOT NULL THEN
        error := CASE WHEN any_price THEN 'price_changed' ELSE 'out_of_stock' END;
        body := json_build_object('items', faults);
        RETURN;
    END IF;

    SELECT min(id) INTO st FROM order_statuses;
    IF st IS NULL THEN
        error := 'no_order_status';
        body := '{}';
        RETURN;
    END IF;

    UPDATE variations v SET amount = v.amount - l.amount, updated_at = now()
      FROM unnest(l_idx, l_variation, l_amount, l_price) AS l(idx, variation_id, amount, current_price) WHERE v.id = l.variation_id;
    INSERT INTO orders (user_id, customer_name, phone_number, email, delivery_type_id, address, comment, total, status_id)
    VALUES (p_user_id, p_order->>'customer_name', p_order->>'phone_number', p_order->>'email',
            (p_order->>'delivery_type_id')::bigint, p_order->>'address', p_order->>'comment',
            (SELECT sum(l.amount::bigint * l.current_price) FROM unnest(l_idx, l_variation, l_amount, l_price) AS l(idx, variation_id, amount, current_price)), st)
    RETURNING * INTO o;
    INSERT INTO order_items (order_id, variation_id, amount, price)
    SELECT o.id, l.variation_id, l.amount, l.current_price FROM unnest(l_idx, l_variation, l_amount, l_price) AS l(idx, variation_id, amount, current_price);
    INSERT INTO order_status_changes (order_id, from_status_id, status_id, author_id)
    VALUES (o.id, NULL, st, p_user_id);

    IF p_notify_email IS NOT NULL OR p_telegram_chat_id IS NOT NULL THEN
        SELECT name INTO dt_name FROM delivery_types WHERE id = o.delivery_type_id;
        lines := shop_order_lines(o.id);
    END IF;
    IF p_notify_email IS NOT NULL THEN
        PERFORM mail_enqueue(p_notify_email, 'shop_order', p_lang, jsonb_build_object(
            'order_id', o.id::text, 'created_at', hg_time(o.created_at), 'customer_name', o.customer_name,
            'phone_number', o.phone_number, 'email', coalesce(o.email, '-'), 'delivery_type', dt_name,
            'address', coalesce(o.address, '-'), 'comment', coalesce(o.comment, '-'),
            'items', lines, 'total', shop_money(o.total)));
    END IF;
    IF p_telegram_chat_id IS NOT NULL THEN
        INSERT INTO telegram_outbox (chat_id, order_id, text)
        VALUES (p_telegram_chat_id, o.id, format(E'Новый заказ № %s\n%s, %s%s\nДоставка: %s%s%s\n\n%s\n\nИтого: %s',
                o.id, o.customer_name, o.phone_number, coalesce(', ' || o.email, ''), dt_name,
                coalesce(E'\nАдрес: ' || o.address, ''), coalesce(E'\nКомментарий: ' || o.comment, ''),
                lines, shop_money(o.total)));
        PERFORM pg_notify('hourglass_telegram', '');
    END IF;
    body := shop_order_json(o);
END $$;

-- PATCH /orders/{id} (staff): only the fields named in p_fields change
-- (status_id, delivery_type_id, address, comment). A new status is recorded
-- with its author in the same statement. error: 'not_found', or
-- 'validation_failed' with {"errors":[...]} for a missing status or delivery type.
CREATE FUNCTION shop_order_update(p_id bigint, p_fields text[], p_status_id bigint, p_delivery_type_id bigint,
                                  p_address text, p_comment text, p_author_id bigint,
                                  OUT error text, OUT body json)
LANGUAGE plpgsql AS $$
DECLARE o orders; old_status bigint; errs jsonb := '[]';
BEGIN
    SELECT status_id INTO old_status FROM orders WHERE id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        error := 'not_found';
        RETURN;
    END IF;
    IF 'status_id' = ANY (p_fields) AND NOT EXISTS (SELECT 1 FROM order_statuses WHERE id = p_status_id) THEN
        errs := errs || jsonb_build_object('field', 'status_id', 'code', 'not_found');
    END IF;
    IF 'delivery_type_id' = ANY (p_fields) AND NOT EXISTS (SELECT 1 FROM delivery_types WHERE id = p_delivery_type_id) THEN
        errs := errs || jsonb_build_object('field', 'delivery_type_id', 'code', 'not_found');
    END IF;
    IF jsonb_array_length(errs) > 0 THEN
        error := 'validation_failed';
        body := json_build_object('errors', errs);
        RETURN;
    END IF;
    UPDATE orders SET
        status_id        = CASE WHEN 'status_id' = ANY (p_fields) THEN p_status_id ELSE status_id END,
        delivery_type_id = CASE WHEN 'delivery_type_id' = ANY (p_fields) THEN p_delivery_type_id ELSE delivery_type_id END,
        address          = CASE WHEN 'address' = ANY (p_fields) THEN p_address ELSE address END,
        comment          = CASE WHEN 'comment' = ANY (p_fields) THEN p_comment ELSE comment END,
        updated_at       = CASE WHEN cardinality(p_fields) > 0 THEN now() ELSE updated_at END
     WHERE id = p_id
    RETURNING * INTO o;
    IF o.status_id <> old_status THEN
        INSERT INTO order_status_changes (order_id, from_status_id, status_id, author_id)
        VALUES (p_id, old_status, o.status_id, p_author_id);
    END IF;
    body := shop_order_json(o);
END $$;

CREATE FUNCTION shop_order_get(p_id bigint) RETURNS SETOF json LANGUAGE sql STABLE AS $$
    SELECT shop_order_json(o) FROM orders o WHERE o.id = p_id
$$;

CREATE FUNCTION shop_orders_page(p_status_id bigint, p_after bigint, p_limit int) RETURNS json
LANGUAGE sql STABLE AS $$
    WITH page AS (
        SELECT o FROM orders o
         WHERE o.id > p_after AND (p_status_id IS NULL OR o.status_id = p_status_id)
         ORDER BY o.id LIMIT p_limit + 1),
    shown AS (SELECT (p.o).* FROM page p ORDER BY (p.o).id LIMIT p_limit)
    SELECT json_build_object(
        'items', coalesce((SELECT json_agg(shop_order_json(s::orders) ORDER BY s.id) FROM shown s), '[]'),
        'next_cursor', CASE WHEN (SELECT count(*) FROM page) > p_limit THEN (SELECT max(id) FROM shown)::text END)
$$;

-- Status changes of one order (NULL when the order is missing), or of all.
CREATE FUNCTION shop_status_changes_page(p_order_id bigint, p_after bigint, p_limit int) RETURNS json
LANGUAGE sql STABLE AS $$
    WITH page AS (
        SELECT c.* FROM order_status_changes c
         WHERE c.id > p_after AND (p_order_id IS NULL OR c.order_id = p_order_id)
         ORDER BY c.id LIMIT p_limit + 1),
    shown AS (SELECT * FROM page ORDER BY id LIMIT p_limit)
    SELECT CASE WHEN p_order_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM orders WHERE id = p_order_id) THEN NULL
           ELSE json_build_object(
               'items', coalesce((SELECT json_agg(json_build_object(
                            'id', s.id, 'order_id', s.order_id, 'from_status_id', s.from_status_id,
                            'status_id', s.status_id, 'author_id', s.author_id, 'created_at', hg_time(s.created_at))
                            ORDER BY s.id) FROM shown s), '[]'),
               'next_cursor', CASE WHEN (SELECT count(*) FROM page) > p_limit THEN (SELECT max(id) FROM shown)::text END)
           END
$$;

-- ---------------------------------------------------------------- payments

-- The first step of POST /orders/{id}/payment: a new attempt number and the
-- amount to register. No row: no such order.
CREATE FUNCTION shop_payment_begin(p_id bigint) RETURNS TABLE (order_number text, amount bigint)
LANGUAGE sql AS $$
    UPDATE orders SET payment_attempts = payment_attempts + 1 WHERE id = p_id
    RETURNING id || '-' || payment_attempts, total
$$;

-- The gateway registered it: what POST answers, kept for GET.
CREATE FUNCTION shop_payment_registered(p_id bigint, p_gateway_order_id text, p_payment_url text) RETURNS json
LANGUAGE sql AS $$
    UPDATE orders SET gateway_order_id = p_gateway_order_id, payment_url = p_payment_url, updated_at = now()
     WHERE id = p_id
    RETURNING json_build_object('payment_url', payment_url, 'gateway_order_id', gateway_order_id)
$$;

-- For GET /orders/{id}/payment. No row: no such order; gateway_order_id
-- NULL: no payment registered yet.
CREATE FUNCTION shop_payment_lookup(p_id bigint) RETURNS TABLE (gateway_order_id text, paid_at text)
LANGUAGE sql STABLE AS $$
    SELECT o.gateway_order_id, hg_time(o.paid_at) FROM orders o WHERE o.id = p_id
$$;

-- The gateway says it is paid (orderStatus 2): recorded once.
CREATE FUNCTION shop_payment_paid(p_id bigint, p_gateway_order_id text) RETURNS void LANGUAGE sql AS $$
    UPDATE orders SET paid_at = now(), updated_at = now()
     WHERE id = p_id AND gateway_order_id = p_gateway_order_id AND paid_at IS NULL
$$;

-- ----------------------------------------------------------------- imports

-- The 1C reports (and the JSON stock list) in one statement and one
-- transaction: C parses and checks every line first (a broken file changes
-- nothing and never gets here), then sends the whole file as parallel arrays.
-- p_lines: each entry's line number in the file, or NULL for a JSON list.
-- A later entry for the same external id wins. Answers
--   {"updated": N, "unknown": [{"external_id", "line"?}...]}
-- updated counts the rows the file names (changed or not).
CREATE FUNCTION shop_stock_set(p_external_ids text[], p_amounts int[], p_lines int[]) RETURNS json
LANGUAGE sql AS $$
    WITH input AS (
        SELECT DISTINCT ON (e.external_id) e.external_id, e.amount, e.line, e.ord
          FROM unnest(p_external_ids, p_amounts, coalesce(p_lines, '{}'::int[])) WITH ORDINALITY
               AS e(external_id, amount, line, ord)
         WHERE e.external_id IS NOT NULL
         ORDER BY e.external_id, e.ord DESC),
    matched AS (
        SELECT t.id, i.external_id, i.amount FROM input i JOIN variations t ON t.external_id = i.external_id),
    -- rows already right are not written (no dead tuples, updated_at kept); a
    -- data-modifying WITH runs to completion though nothing reads it
    upd AS (
        UPDATE variations v SET amount = m.amount, updated_at = now()
          FROM matched m WHERE v.id = m.id AND v.amount IS DISTINCT FROM m.amount
        RETURNING 1)
    SELECT json_build_object(
        'updated', (SELECT count(*) FROM matched),
        'unknown', coalesce((SELECT json_agg(CASE WHEN i.line IS NULL THEN json_build_object('external_id', i.external_id)
                                                  ELSE json_build_object('external_id', i.external_id, 'line', i.line) END
                                             ORDER BY i.ord)
                               FROM input i WHERE NOT EXISTS (SELECT 1 FROM matched m WHERE m.external_id = i.external_id)),
                            '[]'))
$$;

CREATE FUNCTION shop_weights_set(p_external_ids text[], p_weights int[], p_lines int[]) RETURNS json
LANGUAGE sql AS $$
    WITH input AS (
        SELECT DISTINCT ON (e.external_id) e.external_id, e.weight, e.line, e.ord
          FROM unnest(p_external_ids, p_weights, coalesce(p_lines, '{}'::int[])) WITH ORDINALITY
               AS e(external_id, weight, line, ord)
         WHERE e.external_id IS NOT NULL
         ORDER BY e.external_id, e.ord DESC),
    matched AS (
        SELECT t.id, i.external_id, i.weight FROM input i JOIN goods t ON t.external_id = i.external_id),
    -- rows already right are not written (no dead tuples, updated_at kept); a
    -- data-modifying WITH runs to completion though nothing reads it
    upd AS (
        UPDATE goods g SET weight = m.weight, updated_at = now()
          FROM matched m WHERE g.id = m.id AND g.weight IS DISTINCT FROM m.weight
        RETURNING 1)
    SELECT json_build_object(
        'updated', (SELECT count(*) FROM matched),
        'unknown', coalesce((SELECT json_agg(CASE WHEN i.line IS NULL THEN json_build_object('external_id', i.external_id)
                                                  ELSE json_build_object('external_id', i.external_id, 'line', i.line) END
                                             ORDER BY i.ord)
                               FROM input i WHERE NOT EXISTS (SELECT 1 FROM matched m WHERE m.external_id = i.external_id)),
                            '[]'))
$$;

-- ----------------------------------------------------------- contact forms

-- At most p_limit forms per IP in p_window_ms; the count and the insert are
-- serialised per IP, so a burst cannot slip past the limit.
-- error: NULL (body: the form) or 'rate_limited' (retry_after seconds).
CREATE FUNCTION shop_contact_form_create(p_customer_name text, p_phone_number text, p_text text, p_email text,
                                         p_ip text, p_limit int, p_window_ms bigint,
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
    body := json_build_object('id', f.id, 'customer_name', f.customer_name, 'phone_number', f.phone_number,
                              'text', f.text, 'email', f.email, 'created_at', hg_time(f.created_at));
END $$;

CREATE FUNCTION shop_contact_forms_page(p_after bigint, p_limit int) RETURNS json LANGUAGE sql STABLE AS $$
    WITH page AS (SELECT * FROM contact_forms WHERE id > p_after ORDER BY id LIMIT p_limit + 1),
    shown AS (SELECT * FROM page ORDER BY id LIMIT p_limit)
    SELECT json_build_object(
        'items', coalesce((SELECT json_agg(json_build_object(
                     'id', s.id, 'customer_name', s.customer_name, 'phone_number', s.phone_number,
                     'text', s.text, 'email', s.email, 'created_at', hg_time(s.created_at)) ORDER BY s.id)
                   FROM shown s), '[]'),
        'next_cursor', CASE WHEN (SELECT count(*) FROM page) > p_limit THEN (SELECT max(id) FROM shown)::text END)
$$;

-- ---------------------------------------------------------- telegram outbox

-- Claims up to p_limit due rows for p_worker ("<instance>:<worker>") for
-- p_lease_ms. A row whose lease ran out (its sender died or hung) is due again.
CREATE FUNCTION shop_telegram_claim(p_worker text, p_lease_ms bigint, p_limit int)
RETURNS TABLE (id bigint, chat_id text, text text, attempts int)
LANGUAGE sql AS $$
    UPDATE telegram_outbox t SET claimed_by = p_worker, claimed_at = now(), attempts = t.attempts + 1
     WHERE t.id IN (SELECT o.id FROM telegram_outbox o
                     WHERE o.sent_at IS NULL AND o.dead_at IS NULL AND o.next_attempt_at <= now()
                       AND (o.claimed_at IS NULL OR o.claimed_at < now() - p_lease_ms * interval '1 millisecond')
                     ORDER BY o.id LIMIT p_limit FOR UPDATE SKIP LOCKED)
    RETURNING t.id, t.chat_id, t.text, t.attempts
$$;

-- Sent: true when the row was still this worker's claim.
CREATE FUNCTION shop_telegram_sent(p_id bigint, p_worker text) RETURNS boolean LANGUAGE sql AS $$
    WITH u AS (UPDATE telegram_outbox SET sent_at = now(), claimed_by = NULL, claimed_at = NULL, last_error = NULL
                WHERE id = p_id AND claimed_by = p_worker AND sent_at IS NULL RETURNING 1)
    SELECT EXISTS (SELECT 1 FROM u)
$$;

-- Failed: due again after p_retry_after_ms when given (Telegram's 429
-- retry_after), else after an exponential backoff (1 s, 2 s, 4 s, ... at
-- most p_retry_max_ms). The row dies when p_dead, or once it is older than
-- p_give_up_after_ms. Returns whether it died.
CREATE FUNCTION shop_telegram_failed(p_id bigint, p_worker text, p_error text, p_retry_after_ms bigint,
                                     p_retry_max_ms bigint, p_give_up_after_ms bigint, p_dead boolean)
RETURNS boolean LANGUAGE sql AS $$
    WITH u AS (
        UPDATE telegram_outbox SET claimed_by = NULL, claimed_at = NULL, last_error = left(p_error, 500),
            next_attempt_at = now() + coalesce(p_retry_after_ms,
                least(p_retry_max_ms, 1000 * power(2, least(attempts - 1, 20))::bigint)) * interval '1 millisecond',
            dead_at = CASE WHEN p_dead OR created_at < now() - p_give_up_after_ms * interval '1 millisecond'
                           THEN now() END
         WHERE id = p_id AND claimed_by = p_worker AND sent_at IS NULL
        RETURNING dead_at IS NOT NULL AS dead)
    SELECT coalesce((SELECT dead FROM u), false)
$$;

-- Claims given back as a sender stops: not counted as a try.
CREATE FUNCTION shop_telegram_release(p_ids bigint[], p_worker text) RETURNS void LANGUAGE sql AS $$
    UPDATE telegram_outbox SET claimed_by = NULL, claimed_at = NULL, attempts = attempts - 1
     WHERE id = ANY (p_ids) AND claimed_by = p_worker AND sent_at IS NULL
$$;
