-- The mail outbox. A mail is a row written in the same transaction as the
-- change that caused it; the mailers on every worker claim due rows with
-- FOR UPDATE SKIP LOCKED, send them, and mark them sent or retry later.
CREATE TABLE mail_outbox (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    to_addr         text        NOT NULL,
    subject         text        NOT NULL,
    body_text       text        NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    attempts        int         NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    locked_until    timestamptz,
    sent_at         timestamptz,
    last_error      text
);
CREATE INDEX mail_outbox_due_idx ON mail_outbox (next_attempt_at) WHERE sent_at IS NULL;

CREATE TABLE mail_templates (
    name    text NOT NULL,
    lang    text NOT NULL CHECK (lang IN ('en', 'ru')),
    subject text NOT NULL,
    body    text NOT NULL,
    PRIMARY KEY (name, lang)
);

INSERT INTO mail_templates (name, lang, subject, body) VALUES
('verify_email', 'en', 'Your hourglass confirmation code',
 E'Hello, {{name}}!\n\nYour code to confirm this e-mail address is {{code}}.\nIt is valid for {{minutes}} minutes.\n\nIf you did not sign up, ignore this message.\n'),
('verify_email', 'ru', 'Код подтверждения hourglass',
 E'Здравствуйте, {{name}}!\n\nВаш код для подтверждения адреса: {{code}}.\nОн действует {{minutes}} минут.\n\nЕсли вы не регистрировались, просто проигнорируйте это письмо.\n'),
('reset_password', 'en', 'Your hourglass password reset code',
 E'Hello, {{name}}!\n\nYour code to reset the password is {{code}}.\nIt is valid for {{minutes}} minutes.\n\nIf you did not ask for it, ignore this message: your password stays as it is.\n'),
('reset_password', 'ru', 'Код для сброса пароля hourglass',
 E'Здравствуйте, {{name}}!\n\nВаш код для сброса пароля: {{code}}.\nОн действует {{minutes}} минут.\n\nЕсли вы его не запрашивали, проигнорируйте письмо: пароль останется прежним.\n'),
('change_email', 'en', 'Confirm your new hourglass e-mail address',
 E'Hello, {{name}}!\n\nYour code to confirm this new address is {{code}}.\nIt is valid for {{minutes}} minutes.\n'),
('change_email', 'ru', 'Подтвердите новый адрес в hourglass',
 E'Здравствуйте, {{name}}!\n\nВаш код для подтверждения нового адреса: {{code}}.\nОн действует {{minutes}} минут.\n');

-- Fills {{key}} with p_params->>key in one pass (a value is never scanned again,
-- so a user's name cannot smuggle in another placeholder); a key without a value
-- becomes empty text.
CREATE FUNCTION mail_render(p_text text, p_params jsonb) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE parts text[] := string_to_array(p_text, '{{'); out text; m text[];
BEGIN
    out := coalesce(parts[1], '');
    FOR i IN 2 .. coalesce(array_length(parts, 1), 1) LOOP
        m := regexp_match(parts[i], '^([A-Za-z0-9_]+)\}\}(.*)$');
        IF m IS NULL THEN
            out := out || '{{' || parts[i];
        ELSE
            out := out || coalesce(p_params->>m[1], '') || m[2];
        END IF;
    END LOOP;
    RETURN out;
END $$;

-- Renders a template (an unknown language falls back to English) and queues the
-- mail in the caller's transaction; the mailers hear of it by NOTIFY at commit.
CREATE FUNCTION mail_enqueue(p_to text, p_template text, p_lang text, p_params jsonb) RETURNS bigint
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
    PERFORM pg_notify('hourglass_mail', '');
    RETURN id;
END $$;
