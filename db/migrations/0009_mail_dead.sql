-- Mail the mailer has given up on: dead_at is set, and it is never claimed
-- again. A mail dies at once when its address cannot be used, and otherwise
-- at a failed attempt once it is older than MAIL_GIVE_UP_AFTER. An SMTP
-- refusal alone (even a 5xx) does not kill it: a wrong MAIL_FROM or a full
-- mailbox is often fixed within the window, and nothing is lost meanwhile.
ALTER TABLE mail_outbox ADD COLUMN dead_at timestamptz;
DROP INDEX mail_outbox_due_idx;
CREATE INDEX mail_outbox_due_idx ON mail_outbox (next_attempt_at) WHERE sent_at IS NULL AND dead_at IS NULL;
