"""The mail outbox: durable, retried, sent once, by the real mailer over SMTP to the sink."""
import email
import email.header
import glob
import json
import os
import time
import uuid

import pytest

from conftest import db_url_for, http, psql

MAILDIR = os.environ.get("HG_MAILDIR")
SMTP_PORT = os.environ.get("HG_SMTP_PORT")

pytestmark = pytest.mark.skipif(not (MAILDIR and SMTP_PORT), reason="needs the SMTP sink of scripts/test")


def mail_env(**extra):
    env = {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": SMTP_PORT, "MAIL_STARTTLS": "false",
           "MAIL_POLL_INTERVAL": "200ms", "MAIL_RETRY_MAX": "500ms", "MAIL_FROM": "hourglass <noreply@example.com>"}
    env.update(extra)
    return env


def mails_to(address):
    found = []
    for path in sorted(glob.glob(os.path.join(MAILDIR, "*.eml"))):
        with open(path, "rb") as f:
            msg = email.message_from_bytes(f.read())
        if address in (msg.get("X-Envelope-To") or ""):
            found.append(msg)
    return found


def wait_for_mail(address, count=1, timeout=8.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = mails_to(address)
        if len(found) >= count:
            return found
        time.sleep(0.1)
    return mails_to(address)


def enqueue(address, template="verify_email", lang="en", code="123456", db_url=None):
    params = json.dumps({"code": code, "minutes": "15", "name": "Tester"})
    return int(psql("SELECT mail_enqueue('%s', '%s', '%s', '%s'::jsonb)" % (address, template, lang, params),
                    db_url=db_url))


def subject_of(msg):
    return str(email.header.make_header(email.header.decode_header(msg["Subject"])))


def test_mail_is_sent_with_russian_subject_and_code(make_server):
    make_server(**mail_env())
    to = "ru-%s@example.com" % uuid.uuid4().hex[:10]
    mail_id = enqueue(to, lang="ru", code="654321")
    got = wait_for_mail(to)
    assert len(got) == 1
    msg = got[0]
    assert "подтверждения" in subject_of(msg)
    # any server of the run may have sent it: the envelope sender is the address in From
    sender = msg["From"].split("<")[1].rstrip(">")
    assert msg["From"].startswith("hourglass <") and msg["X-Envelope-From"].strip("<>") == sender
    body = msg.get_payload(decode=True).decode("utf-8")
    assert "654321" in body and "Здравствуйте" in body
    deadline = time.monotonic() + 5
    while psql("SELECT sent_at IS NOT NULL FROM mail_outbox WHERE id = %d" % mail_id) != "t":
        assert time.monotonic() < deadline, "the mail was not marked sent"
        time.sleep(0.1)


def test_refused_mail_is_retried_and_delivered_once(make_server):
    make_server(**mail_env())
    to = "retry-%s@example.com" % uuid.uuid4().hex[:10]
    refuse = os.path.join(MAILDIR, ".refuse")
    open(refuse, "w").close()
    try:
        mail_id = enqueue(to)
        deadline = time.monotonic() + 8
        while True:
            row = psql("SELECT attempts, sent_at IS NULL, last_error IS NOT NULL FROM mail_outbox WHERE id = %d" % mail_id)
            attempts, unsent, has_error = row.split("|")
            if int(attempts) >= 2 and unsent == "t" and has_error == "t":
                break
            assert time.monotonic() < deadline, "no failed attempts recorded: " + row
            time.sleep(0.1)
        assert mails_to(to) == []
    finally:
        os.remove(refuse)
    got = wait_for_mail(to)
    assert len(got) == 1
    time.sleep(1.0)  # several more polls: still exactly one
    assert len(mails_to(to)) == 1
    assert psql("SELECT sent_at IS NOT NULL, last_error IS NULL FROM mail_outbox WHERE id = %d" % mail_id) == "t|t"


def test_two_servers_send_each_mail_once(make_server):
    make_server(**mail_env())
    make_server(**mail_env())
    tag = uuid.uuid4().hex[:8]
    addresses = ["pair-%s-%d@example.com" % (tag, i) for i in range(12)]
    for a in addresses:
        enqueue(a)
    for a in addresses:
        assert len(wait_for_mail(a)) == 1, a
    time.sleep(1.0)
    for a in addresses:
        assert len(mails_to(a)) == 1, a


def test_without_mail_server_the_mail_is_logged(make_server):
    # A database of its own: the other servers of the run would send this mail by SMTP.
    dbname = "maillog_%s" % uuid.uuid4().hex[:8]
    psql("CREATE DATABASE %s" % dbname)
    url = db_url_for(dbname)
    s = make_server(MAIL_SERVER="", MAIL_POLL_INTERVAL="200ms", DATABASE_URL=url)
    s.wait_db_ready()
    to = "log-%s@example.com" % uuid.uuid4().hex[:10]
    mail_id = enqueue(to, code="777111", db_url=url)
    deadline = time.monotonic() + 5
    while "777111" not in s.log():
        assert time.monotonic() < deadline, "the code never reached the log"
        time.sleep(0.1)
    while psql("SELECT sent_at IS NOT NULL FROM mail_outbox WHERE id = %d" % mail_id, db_url=url) != "t":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert mails_to(to) == []
    st, _, body = http("GET", s.url + "/health/ready")
    assert st == 200 and json.loads(body)["mail"] == "log"


def test_metrics_and_readiness_show_the_outbox(make_server):
    s = make_server(**mail_env())
    enqueue("metrics-%s@example.com" % uuid.uuid4().hex[:10])
    time.sleep(0.6)
    st, _, body = http("GET", s.url + "/metrics")
    text = body.decode()
    for state in ("pending", "sent", "failed"):
        assert 'mail_outbox_messages{state="%s"}' % state in text
    st, _, body = http("GET", s.url + "/health/ready")
    assert st == 200 and json.loads(body)["mail"] in ("ok", "failing")
