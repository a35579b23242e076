-- Sessions, one-time codes, rate limits and avatars, and the functions that
-- change them. Each function is one round trip and one transaction; those
-- that mail call mail_enqueue in the same transaction, so the mail is sent
-- if and only if the change commits. Windows and limits come in as
-- parameters from the server's configuration.

CREATE TABLE sessions (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id           bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    refresh_hash      text        NOT NULL UNIQUE,
    prev_refresh_hash text,
    rotated_at        timestamptz,
    user_agent        text,
    ip                text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    last_used_at      timestamptz NOT NULL DEFAULT now(),
    expires_at        timestamptz NOT NULL,
    revoked_at        timestamptz
);
CREATE INDEX sessions_user_live_idx ON sessions (user_id) WHERE revoked_at IS NULL;
CREATE INDEX sessions_prev_refresh_idx ON sessions (prev_refresh_hash);
CREATE INDEX sessions_revoked_at_idx ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;

-- Every revocation reaches every worker of every instance at once.
CREATE FUNCTION sessions_notify_revoked() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('hourglass_revoked', NEW.id::text);
    RETURN NEW;
END $$;
CREATE TRIGGER sessions_revoked AFTER UPDATE OF revoked_at ON sessions
    FOR EACH ROW WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL)
    EXECUTE FUNCTION sessions_notify_revoked();

-- One live code per user and purpose; a new code replaces the old one.
CREATE TABLE auth_codes (
    user_id    bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose    text        NOT NULL CHECK (purpose IN ('verify', 'reset', 'email')),
    code_hash  text        NOT NULL,
    new_email  text,
    expires_at timestamptz NOT NULL,
    attempts   int         NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, purpose)
);

CREATE TABLE login_failures (
    user_id bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_failures_idx ON login_failures (user_id, at);

-- Counted events for the per-IP login ceiling and the mail quotas.
CREATE TABLE rate_events (
    key text        NOT NULL,
    at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rate_events_idx ON rate_events (key, at);

CREATE TABLE user_avatars (
    user_id      bigint      PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    content_type text        NOT NULL,
    data         bytea       NOT NULL,
    etag         text        NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION hg_time(t timestamptz) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
$$;

CREATE FUNCTION hg_hash(t text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT encode(sha256(convert_to(t, 'UTF8')), 'hex')
$$;

-- The user object of API.md: never any password or token material.
CREATE FUNCTION user_json(u users) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'id', u.id, 'email', u.email, 'username', u.username, 'name', u.name,
        'first_name', u.first_name, 'last_name', u.last_name, 'middle_name', u.middle_name,
        'phone', u.phone, 'date_of_birth', u.date_of_birth, 'country', u.country,
        'role', u.role, 'is_premium', u.is_premium, 'email_verified', u.email_verified,
        'avatar_url', (SELECT '/api/v1/users/' || u.id || '/avatar?v=' || left(a.etag, 12)
                         FROM user_avatars a WHERE a.user_id = u.id),
        'created_at', hg_time(u.created_at))
$$;

-- How many events under key happened in the window, counting this one if record.
CREATE FUNCTION rate_count(p_key text, p_window interval, p_record boolean) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE n int;
BEGIN
    DELETE FROM rate_events WHERE key = p_key AND at < now() - greatest(p_window, interval '1 hour');
    IF p_record THEN
        INSERT INTO rate_events (key) VALUES (p_key);
    END IF;
    SELECT count(*) INTO n FROM rate_events WHERE key = p_key AND at > now() - p_window;
    RETURN n;
END $$;

-- Replaces the user's code for purpose and mails it (in this transaction).
CREATE FUNCTION auth_issue_code(p_user users, p_purpose text, p_to text, p_new_email text, p_code text,
                                p_ttl_ms bigint, p_lang text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO auth_codes (user_id, purpose, code_hash, new_email, expires_at)
    VALUES (p_user.id, p_purpose, hg_hash(p_code), p_new_email, now() + p_ttl_ms * interval '1 millisecond')
    ON CONFLICT (user_id, purpose) DO UPDATE
        SET code_hash = EXCLUDED.code_hash, new_email = EXCLUDED.new_email,
            expires_at = EXCLUDED.expires_at, attempts = 0;
    PERFORM mail_enqueue(p_to,
        CASE p_purpose WHEN 'verify' THEN 'verify_email' WHEN 'reset' THEN 'reset_password' ELSE 'change_email' END,
        p_lang,
        jsonb_build_object('code', p_code, 'minutes', (p_ttl_ms / 60000)::text,
                           'name', coalesce(p_user.name, p_user.username, p_user.email)));
END $$;

-- Checks a code: 'ok' (and the code is used up), 'invalid_code' or 'code_expired'.
-- A code is dead after max_attempts wrong tries and then answers like any wrong code.
CREATE FUNCTION auth_check_code(p_user_id bigint, p_purpose text, p_code text, p_max_attempts int,
                                OUT status text, OUT new_email text)
LANGUAGE plpgsql AS $$
DECLARE c auth_codes;
BEGIN
    SELECT * INTO c FROM auth_codes WHERE user_id = p_user_id AND purpose = p_purpose FOR UPDATE;
    IF NOT FOUND OR c.attempts >= p_max_attempts THEN
        status := 'invalid_code';
    ELSIF c.code_hash <> hg_hash(p_code) THEN
        UPDATE auth_codes SET attempts = attempts + 1 WHERE user_id = p_user_id AND purpose = p_purpose;
        status := 'invalid_code';
    ELSIF c.expires_at < now() THEN
        status := 'code_expired';
    ELSE
        DELETE FROM auth_codes WHERE user_id = p_user_id AND purpose = p_purpose;
        status := 'ok';
        new_email := c.new_email;
    END IF;
END $$;

-- Revokes sessions and answers their ids, so this instance can refuse their
-- access tokens before the answer leaves (others learn it by NOTIFY).
CREATE FUNCTION auth_revoke(p_user_id bigint, p_session_id bigint, p_keep_session_id bigint) RETURNS bigint[]
LANGUAGE sql AS $$
    WITH r AS (
        UPDATE sessions SET revoked_at = now()
         WHERE user_id = p_user_id AND revoked_at IS NULL
           AND (p_session_id IS NULL OR id = p_session_id)
           AND (p_keep_session_id IS NULL OR id <> p_keep_session_id)
        RETURNING id)
    SELECT coalesce(array_agg(id), '{}') FROM r
$$;

CREATE FUNCTION auth_register(p_email text, p_password_hash text, p_username text, p_name text,
                              p_first_name text, p_last_name text, p_middle_name text, p_phone text,
                              p_date_of_birth date, p_country text, p_code text, p_ttl_ms bigint,
                              p_lang text, p_verified boolean) RETURNS json
LANGUAGE plpgsql AS $$
DECLARE u users;
BEGIN
    IF EXISTS (SELECT 1 FROM users WHERE lower(email) = lower(p_email)) THEN
        RETURN json_build_object('error', 'email_taken');
    END IF;
    IF p_username IS NOT NULL AND EXISTS (SELECT 1 FROM users WHERE lower(username) = lower(p_username)) THEN
        RETURN json_build_object('error', 'username_taken');
    END IF;
    BEGIN
        INSERT INTO users (email, password_hash, username, name, first_name, last_name, middle_name,
                           phone, date_of_birth, country, email_verified)
        VALUES (p_email, p_password_hash, p_username, p_name, p_first_name, p_last_name, p_middle_name,
                p_phone, p_date_of_birth, p_country, p_verified)
        RETURNING * INTO u;
    EXCEPTION WHEN unique_violation THEN
        -- Two registrations raced past the checks above.
        RETURN json_build_object('error',
            CASE WHEN SQLERRM LIKE '%username%' THEN 'username_taken' ELSE 'email_taken' END);
    END;
    IF NOT p_verified THEN
        PERFORM auth_issue_code(u, 'verify', u.email, NULL, p_code, p_ttl_ms, p_lang);
    END IF;
    RETURN json_build_object('user', user_json(u));
END $$;

CREATE FUNCTION auth_verify_email(p_email text, p_code text, p_max_attempts int) RETURNS json
LANGUAGE plpgsql AS $$
DECLARE u users; st text;
BEGIN
    SELECT * INTO u FROM users WHERE lower(email) = lower(p_email);
    IF NOT FOUND THEN
        RETURN json_build_object('error', 'invalid_code');
    END IF;
    SELECT status INTO st FROM auth_check_code(u.id, 'verify', p_code, p_max_attempts);
    IF st <> 'ok' THEN
        RETURN json_build_object('error', st);
    END IF;
    UPDATE users SET email_verified = true, updated_at = now() WHERE id = u.id RETURNING * INTO u;
    RETURN json_build_object('user', user_json(u));
END $$;

-- Resend and forgot: always silent. A code is mailed only to a known address
-- within the quotas (per endpoint and address).
CREATE FUNCTION auth_send_code(p_kind text, p_email text, p_code text, p_ttl_ms bigint, p_lang text,
                               p_per_minute int, p_per_hour int) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE u users; k text := p_kind || ':' || lower(p_email);
BEGIN
    SELECT * INTO u FROM users WHERE lower(email) = lower(p_email);
    IF NOT FOUND OR (p_kind = 'verify' AND u.email_verified) THEN
        RETURN;
    END IF;
    IF rate_count(k, interval '1 minute', false) >= p_per_minute
       OR rate_count(k, interval '1 hour', false) >= p_per_hour THEN
        RETURN;
    END IF;
    PERFORM rate_count(k, interval '1 hour', true);
    PERFORM auth_issue_code(u, p_kind, u.email, NULL, p_code, p_ttl_ms, p_lang);
END $$;

-- The first step of a login: the per-IP ceiling, the account's lockout, and
-- what is needed to check the password.
CREATE FUNCTION auth_login_lookup(p_login text, p_ip text, p_ip_limit int, p_threshold int,
                                  p_window_ms bigint) RETURNS json
LANGUAGE plpgsql AS $$
DECLARE u users; n int; oldest timestamptz; win interval := p_window_ms * interval '1 millisecond';
BEGIN
    IF rate_count('login-ip:' || p_ip, interval '1 minute', true) > p_ip_limit THEN
        SELECT min(at) INTO oldest FROM rate_events
         WHERE key = 'login-ip:' || p_ip AND at > now() - interval '1 minute';
        RETURN json_build_object('error', 'rate_limited', 'retry_after',
            greatest(1, ceil(extract(epoch FROM oldest + interval '1 minute' - now())))::int);
    END IF;
    SELECT * INTO u FROM users WHERE lower(email) = lower(p_login) OR lower(username) = lower(p_login)
     ORDER BY lower(email) = lower(p_login) DESC LIMIT 1;
    IF NOT FOUND THEN
        RETURN json_build_object('user_id', NULL);
    END IF;
    SELECT count(*), min(at) INTO n, oldest FROM login_failures WHERE user_id = u.id AND at > now() - win;
    IF n >= p_threshold THEN
        RETURN json_build_object('error', 'rate_limited', 'retry_after',
            greatest(1, ceil(extract(epoch FROM oldest + win - now())))::int);
    END IF;
    RETURN json_build_object('user_id', u.id, 'password_hash', u.password_hash,
                             'email_verified', u.email_verified, 'role', u.role);
END $$;

CREATE FUNCTION auth_login_failed(p_user_id bigint) RETURNS void LANGUAGE sql AS $$
    INSERT INTO login_failures (user_id) VALUES (p_user_id)
$$;

-- A successful login: clears the failures and opens a session.
CREATE FUNCTION auth_session_open(p_user_id bigint, p_refresh text, p_user_agent text, p_ip text,
                                  p_ttl_ms bigint) RETURNS json
LANGUAGE plpgsql AS $$
DECLARE s sessions; r text;
BEGIN
    DELETE FROM login_failures WHERE user_id = p_user_id;
    INSERT INTO sessions (user_id, refresh_hash, user_agent, ip, expires_at)
    VALUES (p_user_id, hg_hash(p_refresh), left(p_user_agent, 500), p_ip,
            now() + p_ttl_ms * interval '1 millisecond')
    RETURNING * INTO s;
    SELECT role INTO r FROM users WHERE id = p_user_id;
    RETURN json_build_object('session_id', s.id, 'user_id', p_user_id, 'role', r);
END $$;

-- Rotation. The successor of a token is derived from it by the server, so a
-- token presented again within the grace window gets the same successor;
-- later, presenting it revokes the whole session.
CREATE FUNCTION auth_refresh(p_token text, p_next text, p_grace_ms bigint) RETURNS json
LANGUAGE plpgsql AS $$
DECLARE s sessions; h text := hg_hash(p_token); r text;
BEGIN
    SELECT * INTO s FROM sessions WHERE refresh_hash = h FOR UPDATE;
    IF FOUND THEN
        IF s.revoked_at IS NOT NULL OR s.expires_at < now() THEN
            RETURN json_build_object('error', 'invalid_token');
        END IF;
        UPDATE sessions SET prev_refresh_hash = h, refresh_hash = hg_hash(p_next), rotated_at = now(),
                            last_used_at = now()
         WHERE id = s.id;
    ELSE
        SELECT * INTO s FROM sessions WHERE prev_refresh_hash = h FOR UPDATE;
        IF NOT FOUND OR s.revoked_at IS NOT NULL OR s.expires_at < now() THEN
            RETURN json_build_object('error', 'invalid_token');
        END IF;
        IF s.rotated_at < now() - p_grace_ms * interval '1 millisecond' OR s.refresh_hash <> hg_hash(p_next) THEN
            UPDATE sessions SET revoked_at = now() WHERE id = s.id;
            RETURN json_build_object('error', 'token_reused', 'session_id', s.id);
        END IF;
        UPDATE sessions SET last_used_at = now() WHERE id = s.id;
    END IF;
    SELECT role INTO r FROM users WHERE id = s.user_id;
    RETURN json_build_object('session_id', s.id, 'user_id', s.user_id, 'role', r);
END $$;

CREATE FUNCTION auth_sessions_page(p_user_id bigint, p_current bigint, p_after bigint, p_limit int) RETURNS json
LANGUAGE sql STABLE AS $$
    WITH page AS (
        SELECT * FROM sessions
         WHERE user_id = p_user_id AND revoked_at IS NULL AND expires_at > now() AND id > p_after
         ORDER BY id LIMIT p_limit + 1)
    SELECT json_build_object(
        'items', coalesce((SELECT json_agg(json_build_object(
                     'id', id, 'user_agent', user_agent, 'ip', ip, 'created_at', hg_time(created_at),
                     'last_used_at', hg_time(last_used_at), 'current', id = p_current) ORDER BY id)
                   FROM (SELECT * FROM page ORDER BY id LIMIT p_limit) p), '[]'),
        'last_id', (SELECT max(id) FROM (SELECT id FROM page ORDER BY id LIMIT p_limit) p),
        'more', (SELECT count(*) > p_limit FROM page))
$$;

CREATE FUNCTION auth_reset_password(p_email text, p_code text, p_password_hash text, p_max_attempts int)
RETURNS json LANGUAGE plpgsql AS $$
DECLARE u users; st text;
BEGIN
    SELECT * INTO u FROM users WHERE lower(email) = lower(p_email);
    IF NOT FOUND THEN
        RETURN json_build_object('error', 'invalid_code');
    END IF;
    SELECT status INTO st FROM auth_check_code(u.id, 'reset', p_code, p_max_attempts);
    IF st <> 'ok' THEN
        RETURN json_build_object('error', st);
    END IF;
    -- Whoever holds the mailbox now owns the account: its address is verified too.
    UPDATE users SET password_hash = p_password_hash, email_verified = true, updated_at = now() WHERE id = u.id;
    DELETE FROM login_failures WHERE user_id = u.id;
    RETURN json_build_object('revoked', auth_revoke(u.id, NULL, NULL));
END $$;
