-- The user's own account, public profiles, avatars and the admin's view of
-- users. Each function is one round trip and one transaction. Those that
-- answer an object return (error, body): error is NULL on success and body
-- is the JSON to send as it is; revocations return the session ids, so the
-- instance that answers refuses their access tokens before the answer leaves.

CREATE FUNCTION user_avatar_url(p_user_id bigint) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT '/api/v1/users/' || a.user_id || '/avatar?v=' || left(a.etag, 12) FROM user_avatars a
     WHERE a.user_id = p_user_id
$$;

-- What anyone may see of an account: never the e-mail.
CREATE FUNCTION user_public_json(u users) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT json_build_object('id', u.id, 'username', u.username, 'name', u.name, 'country', u.country,
                             'is_premium', u.is_premium, 'avatar_url', user_avatar_url(u.id))
$$;

-- A LIKE pattern matching p anywhere, its own wildcards taken literally (ESCAPE '\').
CREATE FUNCTION hg_like_contains(p text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT '%' || replace(replace(replace(p, '\', '\\'), '%', '\%'), '_', '\_') || '%'
$$;

-- One page of users in id order after p_after, as the list envelope. p_full
-- (admin) shows whole user objects and may filter by e-mail.
CREATE FUNCTION users_page(p_full boolean, p_q text, p_country text, p_premium boolean, p_email text,
                           p_after bigint, p_limit int) RETURNS json
LANGUAGE sql STABLE AS $$
    WITH page AS (
        SELECT u.id, u AS usr FROM users u
         WHERE u.id > p_after
           AND (p_q IS NULL OR u.name ILIKE hg_like_contains(p_q) ESCAPE '\'
                            OR u.username ILIKE hg_like_contains(p_q) ESCAPE '\')
           AND (p_country IS NULL OR lower(u.country) = lower(p_country))
           AND (p_premium IS NULL OR u.is_premium = p_premium)
           AND (p_email IS NULL OR (p_full AND u.email ILIKE hg_like_contains(p_email) ESCAPE '\'))
         ORDER BY u.id LIMIT p_limit + 1),
    shown AS (SELECT * FROM page ORDER BY id LIMIT p_limit)
    SELECT json_build_object(
        'items', coalesce((SELECT json_agg(CASE WHEN p_full THEN user_json(s.usr) ELSE user_public_json(s.usr) END
                                           ORDER BY s.id) FROM shown s), '[]'),
        'next_cursor', CASE WHEN (SELECT count(*) FROM page) > p_limit THEN (SELECT max(id) FROM shown)::text END)
$$;

-- PATCH /users/me: only the fields named in p_fields change; NULL clears.
CREATE FUNCTION users_update_me(p_id bigint, p_fields text[], p_username text, p_name text, p_first_name text,
                                p_last_name text, p_middle_name text, p_phone text, p_date_of_birth date,
                                p_country text, OUT error text, OUT body json)
LANGUAGE plpgsql AS $$
DECLARE u users;
BEGIN
    IF 'username' = ANY (p_fields) AND p_username IS NOT NULL
       AND EXISTS (SELECT 1 FROM users WHERE lower(username) = lower(p_username) AND id <> p_id) THEN
        error := 'username_taken';
        RETURN;
    END IF;
    BEGIN
        UPDATE users SET
            username      = CASE WHEN 'username' = ANY (p_fields) THEN p_username ELSE username END,
            name          = CASE WHEN 'name' = ANY (p_fields) THEN p_name ELSE name END,
            first_name    = CASE WHEN 'first_name' = ANY (p_fields) THEN p_first_name ELSE first_name END,
            last_name     = CASE WHEN 'last_name' = ANY (p_fields) THEN p_last_name ELSE last_name END,
            middle_name   = CASE WHEN 'middle_name' = ANY (p_fields) THEN p_middle_name ELSE middle_name END,
            phone         = CASE WHEN 'phone' = ANY (p_fields) THEN p_phone ELSE phone END,
            date_of_birth = CASE WHEN 'date_of_birth' = ANY (p_fields) THEN p_date_of_birth ELSE date_of_birth END,
            country       = CASE WHEN 'country' = ANY (p_fields) THEN p_country ELSE country END,
            updated_at    = CASE WHEN cardinality(p_fields) > 0 THEN now() ELSE updated_at END
         WHERE id = p_id
        RETURNING * INTO u;
    EXCEPTION WHEN unique_violation THEN
        -- Another account took the name between the check and the update.
        error := 'username_taken';
        RETURN;
    END;
    IF NOT FOUND THEN
        error := 'not_found';
        RETURN;
    END IF;
    body := user_json(u);
END $$;

-- Account deletion (own or by an admin): every session is revoked, then the
-- user and all it owns go (ON DELETE CASCADE). NULL: no such user.
CREATE FUNCTION users_delete(p_id bigint) RETURNS bigint[]
LANGUAGE plpgsql AS $$
DECLARE ids bigint[];
BEGIN
    PERFORM 1 FROM users WHERE id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    ids := auth_revoke(p_id, NULL, NULL);
    DELETE FROM users WHERE id = p_id;
    RETURN ids;
END $$;

-- A new password, if the hash the current one was checked against is still
-- the stored one; the user's other sessions are revoked. NULL: it changed meanwhile.
CREATE FUNCTION users_set_password(p_id bigint, p_checked_hash text, p_new_hash text, p_keep_session_id bigint)
RETURNS bigint[]
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE users SET password_hash = p_new_hash, updated_at = now()
     WHERE id = p_id AND password_hash = p_checked_hash;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    RETURN auth_revoke(p_id, NULL, p_keep_session_id);
END $$;

-- The first step of an e-mail change: a code is mailed to the new address.
-- Mail to one address is bounded like the other codes (per minute, per hour).
CREATE FUNCTION users_email_change(p_id bigint, p_new_email text, p_code text, p_ttl_ms bigint, p_lang text,
                                   p_per_minute int, p_per_hour int, OUT error text, OUT retry_after int)
LANGUAGE plpgsql AS $$
DECLARE u users; k text := 'email-change:' || lower(p_new_email); oldest timestamptz;
BEGIN
    SELECT * INTO u FROM users WHERE id = p_id;
    IF NOT FOUND THEN
        error := 'not_found';
        RETURN;
    END IF;
    IF EXISTS (SELECT 1 FROM users WHERE lower(email) = lower(p_new_email) AND id <> p_id) THEN
        error := 'email_taken';
        RETURN;
    END IF;
    IF rate_count(k, interval '1 minute', false) >= p_per_minute THEN
        SELECT min(at) + interval '1 minute' INTO oldest FROM rate_events
         WHERE key = k AND at > now() - interval '1 minute';
    ELSIF rate_count(k, interval '1 hour', false) >= p_per_hour THEN
        SELECT min(at) + interval '1 hour' INTO oldest FROM rate_events
         WHERE key = k AND at > now() - interval '1 hour';
    END IF;
    IF oldest IS NOT NULL THEN
        error := 'rate_limited';
        retry_after := greatest(1, ceil(extract(epoch FROM oldest - now())))::int;
        RETURN;
    END IF;
    PERFORM rate_count(k, interval '1 hour', true);
    PERFORM auth_issue_code(u, 'email', p_new_email, p_new_email, p_code, p_ttl_ms, p_lang);
END $$;

-- The second step: the code mailed to the new address proves it is the user's.
CREATE FUNCTION users_email_confirm(p_id bigint, p_code text, p_max_attempts int, OUT error text, OUT body json)
LANGUAGE plpgsql AS $$
DECLARE c record; u users;
BEGIN
    SELECT * INTO c FROM auth_check_code(p_id, 'email', p_code, p_max_attempts);
    IF c.status <> 'ok' THEN
        error := c.status;
        RETURN;
    END IF;
    IF EXISTS (SELECT 1 FROM users WHERE lower(email) = lower(c.new_email) AND id <> p_id) THEN
        error := 'email_taken';
        RETURN;
    END IF;
    BEGIN
        UPDATE users SET email = c.new_email, email_verified = true, updated_at = now()
         WHERE id = p_id
        RETURNING * INTO u;
    EXCEPTION WHEN unique_violation THEN
        error := 'email_taken';
        RETURN;
    END;
    IF NOT FOUND THEN
        error := 'not_found';
        RETURN;
    END IF;
    body := user_json(u);
END $$;

-- The avatar replaces any earlier one. p_hex: the image bytes, hex-encoded.
CREATE FUNCTION users_avatar_set(p_id bigint, p_content_type text, p_hex text, p_etag text,
                                 OUT error text, OUT body json)
LANGUAGE plpgsql AS $$
DECLARE u users;
BEGIN
    SELECT * INTO u FROM users WHERE id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        error := 'not_found';
        RETURN;
    END IF;
    INSERT INTO user_avatars (user_id, content_type, data, etag)
    VALUES (p_id, p_content_type, decode(p_hex, 'hex'), p_etag)
    ON CONFLICT (user_id) DO UPDATE
        SET content_type = EXCLUDED.content_type, data = EXCLUDED.data, etag = EXCLUDED.etag, updated_at = now();
    body := user_json(u);
END $$;

-- An avatar for GET, or only its headers when the client's If-None-Match
-- (p_if_none_match, the raw header) already names it.
CREATE FUNCTION users_avatar_get(p_id bigint, p_if_none_match text)
RETURNS TABLE (content_type text, etag text, not_modified boolean, hex text)
LANGUAGE sql STABLE AS $$
    SELECT a.content_type, a.etag, m,
           CASE WHEN m THEN NULL ELSE encode(a.data, 'hex') END
      FROM user_avatars a,
           LATERAL (SELECT coalesce(btrim(p_if_none_match) = '*'
                                    OR strpos(p_if_none_match, '"' || a.etag || '"') > 0, false) AS m) x
     WHERE a.user_id = p_id
$$;

-- An admin's change: a new role ends the user's sessions, since access
-- tokens carry the role.
CREATE FUNCTION users_admin_update(p_id bigint, p_fields text[], p_role text, p_is_premium boolean, p_name text,
                                   p_email_verified boolean, OUT error text, OUT body json, OUT revoked bigint[])
LANGUAGE plpgsql AS $$
DECLARE u users; old_role text;
BEGIN
    SELECT role INTO old_role FROM users WHERE id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        error := 'not_found';
        RETURN;
    END IF;
    UPDATE users SET
        role           = CASE WHEN 'role' = ANY (p_fields) THEN p_role ELSE role END,
        is_premium     = CASE WHEN 'is_premium' = ANY (p_fields) THEN p_is_premium ELSE is_premium END,
        name           = CASE WHEN 'name' = ANY (p_fields) THEN p_name ELSE name END,
        email_verified = CASE WHEN 'email_verified' = ANY (p_fields) THEN p_email_verified ELSE email_verified END,
        updated_at     = CASE WHEN cardinality(p_fields) > 0 THEN now() ELSE updated_at END
     WHERE id = p_id
    RETURNING * INTO u;
    revoked := CASE WHEN u.role <> old_role THEN auth_revoke(p_id, NULL, NULL) ELSE '{}' END;
    body := user_json(u);
END $$;
