-- The password that /users/me asks for again (check, change, e-mail change,
-- deleting the account). An access token alone must not be a way to guess
-- it: wrong passwords there count per account in rate_events, with the
-- login lockout's threshold and window, and once over the threshold every
-- such request answers 429 until the oldest failure leaves the window --
-- the right password too, or a 204 among the 429s would still tell. The
-- count is its own, so a stolen token cannot lock the owner out of logging in;
-- right passwords neither count nor clear it: failures leave by the window alone.

-- The stored hash to check, or (error, retry_after) while locked. No row: no such user.
CREATE FUNCTION users_password_for_check(p_user_id bigint, p_threshold int, p_window_ms bigint)
RETURNS TABLE (error text, retry_after int, password_hash text)
LANGUAGE plpgsql STABLE AS $$
DECLARE n int; oldest timestamptz; win interval := p_window_ms * interval '1 millisecond';
BEGIN
    SELECT count(*), min(at) INTO n, oldest FROM rate_events
     WHERE key = 'me-password:' || p_user_id AND at > now() - win;
    IF n >= p_threshold THEN
        RETURN QUERY SELECT 'rate_limited'::text,
            greatest(1, ceil(extract(epoch FROM oldest + win - now())))::int, NULL::text
          FROM users WHERE id = p_user_id;
    ELSE
        RETURN QUERY SELECT NULL::text, NULL::int, u.password_hash FROM users u WHERE u.id = p_user_id;
    END IF;
END $$;

CREATE FUNCTION users_password_check_failed(p_user_id bigint, p_window_ms bigint) RETURNS int
LANGUAGE sql AS $$
    SELECT rate_count('me-password:' || p_user_id, p_window_ms * interval '1 millisecond', true)
$$;
