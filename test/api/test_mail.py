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


def raw_mails_to(address):
    found = []
    for path in sorted(glob.glob(os.path.join(MAILDIR, "*.eml"))):
        with open(path, "rb") as f:
            data = f.read()
        if address.encode() in data.split(b"\r\n", 2)[1]:
            found.append(data)
    return found


def own_database(prefix):
    """A fresh database, so only the servers a test starts on it see its mail."""
    dbname = "%s_%s" % (prefix, uuid.uuid4().hex[:8])
    psql("CREATE DATABASE %s" % dbname)
    return db_url_for(dbname)


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


def test_template_without_name_and_message_format(make_server):
    make_server(**mail_env())
    to = "fmt-%s@example.com" % uuid.uuid4().hex[:10]
    # exactly the call of the brief: no "name" in the parameters
    psql("""SELECT mail_enqueue('%s','verify_email','ru','{"code":"123456","minutes":"15"}')""" % to)
    got = wait_for_mail(to)
    assert len(got) == 1
    payload = got[0].get_payload(decode=True)
    assert b"\n" not in payload.replace(b"\r\n", b"")  # text in canonical form: CRLF
    body = payload.decode("utf-8")
    assert body.startswith("Здравствуйте!\r\n") and "123456" in body and "15 минут" in body
    assert "{{" not in body
    raw = raw_mails_to(to)[0]
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert b"\n" not in head.replace(b"\r\n", b"")  # CRLF only
    for name in (b"From:", b"To:", b"Subject:", b"Date:", b"Message-ID:", b"MIME-Version: 1.0",
                 b"Content-Type: text/plain; charset=utf-8", b"Content-Transfer-Encoding:"):
        assert b"\r\n" + name in head, name


def test_long_russian_subject_is_folded_encoded_words(make_server):
    # Its own database: only this server, with this MAIL_FROM, may send the mail.
    url = own_database("mailfrom")
    s = make_server(DATABASE_URL=url, **mail_env(MAIL_FROM="Песочные часы <robot@example.com>"))
    s.wait_db_ready()
    to = "long-%s@example.com" % uuid.uuid4().hex[:10]
    psql("""SELECT mail_enqueue('%s','change_email','ru','{"code":"314159","minutes":"15","name":"Аня"}')""" % to,
         db_url=url)
    got = wait_for_mail(to)
    assert len(got) == 1
    msg = got[0]
    assert subject_of(msg) == "Подтвердите новый адрес в hourglass"
    assert str(email.header.make_header(email.header.decode_header(msg["From"]))) == \
        "Песочные часы <robot@example.com>"
    assert msg["X-Envelope-From"].strip("<>") == "robot@example.com"
    assert msg["Message-ID"].endswith("@example.com>")
    head = raw_mails_to(to)[0].split(b"\r\n\r\n", 1)[0]
    for line in head.split(b"\r\n"):
        assert len(line) <= 78, line
        for word in line.split():
            if word.startswith(b"=?"):
                assert len(word) <= 75, word
    body = msg.get_payload(decode=True).decode("utf-8")
    assert body.startswith("Здравствуйте, Аня!") and "314159" in body


def test_english_subject_is_plain_and_unknown_language_falls_back(make_server):
    make_server(**mail_env())
    to = "en-%s@example.com" % uuid.uuid4().hex[:10]
    enqueue(to, template="reset_password", lang="de", code="271828")
    got = wait_for_mail(to)
    assert len(got) == 1
    head = raw_mails_to(to)[0].split(b"\r\n\r\n", 1)[0]
    assert b"\r\nSubject: Your hourglass password reset code\r\n" in head
    assert "271828" in got[0].get_payload(decode=True).decode("utf-8")


def test_placeholder_in_a_value_is_not_expanded(make_server):
    make_server(**mail_env())
    to = "tpl-%s@example.com" % uuid.uuid4().hex[:10]
    psql("""SELECT mail_enqueue('%s','verify_email','en','{"code":"000111","minutes":"15","name":"{{code}}"}')"""
         % to)
    got = wait_for_mail(to)
    assert len(got) == 1
    body = got[0].get_payload(decode=True).decode("utf-8")
    assert body.startswith("Hello, {{code}}!") and "is 000111." in body


def test_unusable_recipient_is_never_sent(make_server):
    url = own_database("mailrcpt")
    make_server(**mail_env(DATABASE_URL=url)).wait_db_ready()
    tag = uuid.uuid4().hex[:10]
    bad = "bad-%s@example.com\r\nBcc: evil-%s@example.com" % (tag, tag)
    mail_id = int(psql("SELECT mail_enqueue(E'%s', 'verify_email', 'en', '{}')"
                       % bad.replace("\r", "\\r").replace("\n", "\\n"), db_url=url))
    deadline = time.monotonic() + 5
    while psql("SELECT last_error FROM mail_outbox WHERE id = %d" % mail_id, db_url=url) != "invalid recipient address":
        assert time.monotonic() < deadline, "the bad address was not refused"
        time.sleep(0.1)
    assert mails_to("evil-" + tag) == [] and mails_to("bad-" + tag) == []
    assert psql("SELECT sent_at IS NULL FROM mail_outbox WHERE id = %d" % mail_id, db_url=url) == "t"


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


def test_failing_server_shows_in_readiness_and_metrics(make_server):
    url = own_database("mailfail")
    s = make_server(**mail_env(DATABASE_URL=url))
    s.wait_db_ready()
    refuse = os.path.join(MAILDIR, ".refuse")
    to = "fail-%s@example.com" % uuid.uuid4().hex[:10]
    open(refuse, "w").close()
    try:
        mail_id = enqueue(to, db_url=url)
        deadline = time.monotonic() + 8
        while True:
            st, _, body = http("GET", s.url + "/health/ready")
            metrics = http("GET", s.url + "/metrics")[2].decode()
            if json.loads(body)["mail"] == "failing" and 'mail_outbox_messages{state="failed"} 1' in metrics:
                break
            assert time.monotonic() < deadline, (body, [l for l in metrics.splitlines() if "mail_" in l])
            time.sleep(0.1)
        assert st == 200  # the mail server's trouble does not make the instance unready
        # the warning names the mail and the server's answer, never the body (it holds the code)
        assert "451" in psql("SELECT last_error FROM mail_outbox WHERE id = %d" % mail_id, db_url=url)
        assert "123456" not in s.log()
    finally:
        os.remove(refuse)
    assert len(wait_for_mail(to)) == 1
    deadline = time.monotonic() + 5
    while True:
        st, _, body = http("GET", s.url + "/health/ready")
        metrics = http("GET", s.url + "/metrics")[2].decode()
        if (json.loads(body)["mail"] == "ok" and 'mail_outbox_messages{state="sent"} 1' in metrics
                and 'mail_outbox_messages{state="failed"} 0' in metrics
                and 'mail_outbox_messages{state="pending"} 0' in metrics):
            break
        assert time.monotonic() < deadline, (body, [l for l in metrics.splitlines() if "mail_" in l])
        time.sleep(0.1)
    assert s.wait_log(r"mail %d sent to %s" % (mail_id, to))


def test_stop_with_mail_in_flight_is_clean_and_loses_nothing(make_server):
    url = own_database("mailstop")
    tag = uuid.uuid4().hex[:8]
    addresses = ["stop-%s-%d@example.com" % (tag, i) for i in range(40)]
    a = make_server(**mail_env(DATABASE_URL=url, MAIL_POLL_INTERVAL="50ms"))
    for addr in addresses:
        enqueue(addr, db_url=url)
    time.sleep(0.15)
    assert a.stop() == 0
    assert "handles still open" not in a.log()
    # whatever the first server left is sent by the next, unless a transfer it
    # abandoned keeps its row claimed until locked_until
    make_server(**mail_env(DATABASE_URL=url))
    deadline = time.monotonic() + 8
    q = "SELECT count(*) FROM mail_outbox WHERE sent_at IS NULL AND (locked_until IS NULL OR locked_until < now())"
    while psql(q, db_url=url) != "0":
        assert time.monotonic() < deadline, psql("SELECT id, attempts, locked_until FROM mail_outbox "
                                                 "WHERE sent_at IS NULL", db_url=url)
        time.sleep(0.1)
    time.sleep(0.5)
    for addr in addresses:
        assert len(mails_to(addr)) <= 1, addr
    sent = int(psql("SELECT count(*) FROM mail_outbox WHERE sent_at IS NOT NULL", db_url=url))
    assert sum(len(mails_to(addr)) for addr in addresses) >= sent


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


def _arrival_order(address):
    """The codes of the mail to address, in the order the sink received them."""
    out = []
    for path in sorted(glob.glob(os.path.join(MAILDIR, "*.eml"))):
        with open(path, "rb") as f:
            msg = email.message_from_bytes(f.read())
        if address in (msg.get("X-Envelope-To") or ""):
            out.append(msg.get_payload(decode=True).decode())
    return out


def test_mail_to_one_address_leaves_in_the_order_written(make_server):
    """A resent code must not overtake the first mail while that one waits to be retried:
    the newest mail in the inbox carries the code that is valid."""
    url = own_database("mailorder")
    # the first mail's retry comes 1 s after its failure; the second is due at once
    make_server(**mail_env(DATABASE_URL=url, MAIL_RETRY_MAX="3s")).wait_db_ready()
    to = "order-%s@example.com" % uuid.uuid4().hex[:10]
    other = "order-other-%s@example.com" % uuid.uuid4().hex[:10]
    refuse = os.path.join(MAILDIR, ".refuse")
    open(refuse, "w").close()
    try:
        first = enqueue(to, code="111111", db_url=url)
        deadline = time.monotonic() + 5
        while psql("SELECT last_error IS NOT NULL FROM mail_outbox WHERE id = %d" % first, db_url=url) != "t":
            assert time.monotonic() < deadline, "the first mail was never tried"
            time.sleep(0.05)
    finally:
        os.remove(refuse)
    enqueue(to, code="222222", db_url=url)
    enqueue(other, code="333333", db_url=url)
    # another address is not held up by this one's retry
    assert len(wait_for_mail(other, timeout=3)) == 1
    assert len(wait_for_mail(to, count=2, timeout=8)) == 2
    codes = _arrival_order(to)
    assert len(codes) == 2 and "111111" in codes[0] and "222222" in codes[1], codes
