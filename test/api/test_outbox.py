"""The one outbox (src/outbox.c) that sends both mail and the shop's Telegram messages: the two
kinds retry, give up, fill their batches and stop through the same code, so each test here drives
both, or the kind the old code handled differently. Each test has a database of its own, so the
gauges count only its rows."""
import os
import re
import sys
import time
import uuid

import pytest

from conftest import Conn, http, metric_samples, metric_value, psql
from test_mail import MAILDIR, SMTP_PORT, enqueue, mail_env, mails_to, own_database

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fakes"))
from telegram_api import TelegramApi  # noqa: E402

pytestmark = pytest.mark.skipif(not (MAILDIR and SMTP_PORT), reason="needs the SMTP sink of scripts/test")

TOKEN = "123456:outbox-" + uuid.uuid4().hex[:8]
CHAT = "-1009876543210"


@pytest.fixture
def telegram():
    with TelegramApi(token=TOKEN) as t:
        yield t


def both_env(telegram, url, **extra):
    env = mail_env(DATABASE_URL=url, TELEGRAM_API_URL=telegram.url, TELEGRAM_BOT_TOKEN=TOKEN,
                   TELEGRAM_CHAT_ID=CHAT, OUTBOUND_POLL_INTERVAL="200ms", OUTBOUND_RETRY_MAX="200ms")
    env.update(extra)
    return env


def queue_telegram(url, text):
    """A row as shop_order_create writes it (no NOTIFY: the poll or a full batch finds it)."""
    return int(psql("WITH r AS (INSERT INTO telegram_outbox (chat_id, text) VALUES ('%s', '%s') RETURNING id) "
                    "SELECT id FROM r" % (CHAT, text), db_url=url))


def wait_until(query, url, expected, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        got = psql(query, db_url=url)
        if got == expected:
            return
        assert time.monotonic() < deadline, "%s: %s" % (what, got)
        time.sleep(0.1)


def gauges(s, name):
    samples = metric_samples(http("GET", s.url + "/metrics")[2].decode())
    return {state: metric_value(samples, name, state=state) for state in ("pending", "sent", "failed", "dead")}


def test_both_outboxes_retry_then_give_up_and_never_send_a_dead_row(make_server, telegram):
    url = own_database("outboxdead")
    s = make_server(**both_env(telegram, url, MAIL_GIVE_UP_AFTER="2s", OUTBOUND_GIVE_UP_AFTER="2s",
                               MAIL_RETRY_MAX="200ms"))
    s.wait_db_ready()
    to = "dead-%s@example.com" % uuid.uuid4().hex[:10]
    refuse = os.path.join(MAILDIR, ".refuse")
    telegram.fail(1000, 502)
    open(refuse, "w").close()
    try:
        mail_id = enqueue(to, db_url=url)
        tg_id = queue_telegram(url, "dead-" + to)
        for table, row in (("mail_outbox", mail_id), ("telegram_outbox", tg_id)):
            wait_until("SELECT dead_at IS NOT NULL FROM %s WHERE id = %d" % (table, row), url, "t", 15,
                       "%s %d was not given up" % (table, row))
        mail_row = psql("SELECT attempts, sent_at IS NULL, last_error FROM mail_outbox WHERE id = %d" % mail_id,
                        db_url=url)
        tg_row = psql("SELECT attempts, sent_at IS NULL, last_error, claimed_by IS NULL FROM telegram_outbox "
                      "WHERE id = %d" % tg_id, db_url=url)
        attempts_mail, unsent, error = mail_row.split("|")
        assert int(attempts_mail) >= 2 and unsent == "t" and "451" in error, mail_row
        attempts_tg, unsent, error, released = tg_row.split("|")
        assert int(attempts_tg) >= 2 and unsent == "t" and error.startswith("HTTP 502") and released == "t", tg_row
        assert s.wait_log(r"mail %d: given up after %s attempt" % (mail_id, attempts_mail))
        assert s.wait_log(r"telegram %d: given up after %s attempt" % (tg_id, attempts_tg))
    finally:
        os.remove(refuse)
        telegram.normal()
    deadline = time.monotonic() + 5
    while (gauges(s, "mail_outbox_messages")["dead"], gauges(s, "telegram_outbox_messages")["dead"]) != (1, 1):
        assert time.monotonic() < deadline, (gauges(s, "mail_outbox_messages"), gauges(s, "telegram_outbox_messages"))
        time.sleep(0.2)
    # both services work again: a dead row is never claimed again
    time.sleep(1.5)
    assert mails_to(to) == [] and telegram.delivered() == []
    assert psql("SELECT attempts FROM mail_outbox WHERE id = %d" % mail_id, db_url=url) == attempts_mail
    assert psql("SELECT attempts FROM telegram_outbox WHERE id = %d" % tg_id, db_url=url) == attempts_tg


def test_a_full_batch_claims_again_without_waiting_for_the_poll(make_server, telegram):
    """More rows than one claim takes (8), one NOTIFY, and polls 10 minutes apart: each outbox
    claims the rest as its sends end."""
    url = own_database("outboxmore")
    s = make_server(**both_env(telegram, url, MAIL_POLL_INTERVAL="10m", OUTBOUND_POLL_INTERVAL="10m"))
    s.wait_db_ready()
    time.sleep(0.3)  # past the first poll, which comes 50 ms after the start
    tag = uuid.uuid4().hex[:8]
    addresses = ["more-%s-%d@example.com" % (tag, i) for i in range(20)]
    psql("INSERT INTO mail_outbox (to_addr, subject, body_text) SELECT 'more-%s-' || i || '@example.com', 's', 'b' "
         "FROM generate_series(0, 19) i" % tag, db_url=url)
    psql("INSERT INTO telegram_outbox (chat_id, text) SELECT '%s', 'more-%s-' || i FROM generate_series(0, 19) i"
         % (CHAT, tag), db_url=url)
    psql("SELECT pg_notify('hourglass_mail', ''), pg_notify('hourglass_telegram', '')", db_url=url)  # one wake each
    wait_until("SELECT count(*) FROM mail_outbox WHERE sent_at IS NULL", url, "0", 10, "mail left unsent")
    wait_until("SELECT count(*) FROM telegram_outbox WHERE sent_at IS NULL", url, "0", 10, "messages left unsent")
    for a in addresses:
        assert len(mails_to(a)) == 1, a
    texts = sorted(m["text"] for m in telegram.delivered(CHAT))
    assert texts == sorted("more-%s-%d" % (tag, i) for i in range(20)), texts


def test_one_shutdown_timeout_bounds_the_drain_and_the_outboxes(make_server, telegram):
    """SHUTDOWN_TIMEOUT is one deadline for the whole stop: a connection that keeps the HTTP
    drain busy to the end, then a send that hangs, end within it together, not one after the
    other (at 1aa8ca2 the outboxes waited a second SHUTDOWN_TIMEOUT after the drain)."""
    url = own_database("outboxdeadline")
    s = make_server(**both_env(telegram, url, SHUTDOWN_TIMEOUT="2s", HTTP_REQUEST_TIMEOUT="30s",
                               HTTP_HEADER_TIMEOUT="30s", OUTBOUND_TIMEOUT="30s"))
    s.wait_db_ready()
    telegram.hang(30)
    tg_id = queue_telegram(url, "deadline-" + uuid.uuid4().hex[:8])
    wait_until("SELECT claimed_by IS NOT NULL FROM telegram_outbox WHERE id = %d" % tg_id, url, "t", 5,
               "the message was not claimed")
    with Conn(s.port) as c:
        c.send(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nabc")  # a body that never comes
        time.sleep(0.2)
        t0 = time.monotonic()
        assert s.stop(timeout=10) == 0
        took = time.monotonic() - t0
    assert 1.5 <= took < 3.5, took
    log = s.log()
    assert re.search(r"still busy after the shutdown timeout", log), s.log_tail()
    assert re.search(r"telegram: 1 send\(s\) in flight and 0 result\(s\) unrecorded", log), s.log_tail()


def test_a_stop_waits_for_the_sends_in_flight_and_records_them(make_server, telegram):
    """SIGTERM with a send in flight: the outbox waits for it (within SHUTDOWN_TIMEOUT) and
    records its outcome, rather than giving the row back unrecorded."""
    url = own_database("outboxstop")
    s = make_server(**both_env(telegram, url))
    s.wait_db_ready()
    telegram.hang(1.5)  # then closes without an answer: a failed try
    tg_id = queue_telegram(url, "stop-" + uuid.uuid4().hex[:8])
    wait_until("SELECT claimed_by IS NOT NULL FROM telegram_outbox WHERE id = %d" % tg_id, url, "t", 5,
               "the message was not claimed")
    t0 = time.monotonic()
    assert s.stop() == 0
    took = time.monotonic() - t0
    assert 0.5 <= took < 8, took
    row = psql("SELECT attempts, last_error IS NOT NULL, claimed_by IS NULL, sent_at IS NULL FROM telegram_outbox "
               "WHERE id = %d" % tg_id, db_url=url)
    assert row == "1|t|t|t", row
    assert not re.search(r"unrecorded at the shutdown timeout", s.log()), s.log_tail()
