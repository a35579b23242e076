-- Mail to one address leaves in the order it was written: the mailers claim a
-- row only when no older row to the same address is still waiting (pending,
-- retrying or claimed), so a resent code can no longer overtake the mail it
-- replaces, and a later mail waits until the earlier one is sent or dead.
-- This index answers "is there an older one waiting for this address".
CREATE INDEX mail_outbox_waiting_to_idx ON mail_outbox (lower(to_addr), id)
    WHERE sent_at IS NULL AND dead_at IS NULL;
