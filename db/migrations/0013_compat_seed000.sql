-- What seed 000's front end (COMPAT_SEED000, src/api_compat.c) needs of the
-- tables /api/v1 uses. Numbered after the shop's and the mail order's
-- migrations of other branches so that merging them keeps the order.

-- Its balance wheel counts 0..100. /api/v1 still accepts only 0..10 (the
-- body check of its declaration); the table holds what either may write.
ALTER TABLE balance_wheel DROP CONSTRAINT balance_wheel_value_check,
    ADD CONSTRAINT balance_wheel_value_check CHECK (value BETWEEN 0 AND 100);

-- Its profile page mails a fresh verification code whatever the address's
-- state: kind 'reverify' is 'verify' that does not skip a verified address.
CREATE OR REPLACE FUNCTION auth_send_code(p_kind text, p_email text, p_code text, p_ttl_ms bigint, p_lang text,
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
    PERFORM auth_issue_code(u, CASE p_kind WHEN 'reverify' THEN 'verify' ELSE p_kind END, u.email, NULL, p_code,
                            p_ttl_ms, p_lang);
END $$;
