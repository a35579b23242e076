"""Accounts and sessions (/api/v1/auth/*): register, verification codes by mail, login in its three
body forms, cookies, access and refresh tokens, rotation and reuse, logout, sessions, password reset,
rate limits and lockout.

One server for the module; tests that need a short window (code TTL, refresh grace, lockout, IP
ceiling, mail quota) start their own with make_server. Mail goes to the SMTP sink of the test script
($HG_SMTP_PORT, $HG_MAILDIR) or, without one, to a sink this module starts itself.

Every test talks from its own loopback address (127.x.y.z): the per-IP login ceiling counts per
address in the shared database, so tests never eat into each other's allowance, and the sessions
list can be checked for the caller's address. Every JSON answer is checked for secret fields, and
every answer other than login/refresh for the tokens this client was given.
"""

import base64
import concurrent.futures
import http.client as httpclient
import json
import os
import random
import re
import time
import urllib.parse
import uuid

import pytest

from conftest import HERE, assert_problem, http, metric_samples, metric_value, psql, start_server


def _load_mailbox():
    # test/api/mailbox.py by its path: the standard library has a module of the same name.
    import importlib.util
    spec = importlib.util.spec_from_file_location("hg_test_mailbox", os.path.join(HERE, "mailbox.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


_mailbox = _load_mailbox()
Mailbox, body_text, code_in, subject = _mailbox.Mailbox, _mailbox.body_text, _mailbox.code_in, _mailbox.subject

PASSWORD = "Corr3ct-horse"
NEW_PASSWORD = "N3w-battery-staple"
SECRET = "test-secret-0123456789abcdef"
ORIGIN = "http://app.example"

USER_KEYS = {"id", "email", "username", "name", "first_name", "last_name", "middle_name", "phone",
             "date_of_birth", "country", "role", "is_premium", "email_verified", "avatar_url", "created_at"}
SESSION_KEYS = {"id", "user_agent", "ip", "created_at", "last_used_at", "current"}
TOKEN_KEYS = {"access_token", "refresh_token", "token_type", "expires_in"}
SECRET_KEYS = {"password", "password_hash", "refresh_hash", "new_password", "password_confirm", "code_hash",
               "prev_refresh_hash"}
TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
TOKEN_ROUTES = ("/api/v1/auth/login", "/api/v1/auth/refresh")


# --------------------------------------------------------------------------- HTTP client

class Resp:
    def __init__(self, method, path, status, header_list, body):
        self.method, self.path, self.status, self.header_list, self.body = method, path, status, header_list, body
        self.headers = {}
        for k, v in header_list:
            k = k.lower()
            self.headers[k] = self.headers[k] + ", " + v if k in self.headers else v

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def tuple(self):
        return self.status, self.headers, self.body

    def cookies(self):
        """{name: (value, {attribute lower-case: value or True})} of the Set-Cookie headers."""
        out = {}
        for k, v in self.header_list:
            if k.lower() != "set-cookie":
                continue
            parts = [p.strip() for p in v.split(";")]
            name, _, value = parts[0].partition("=")
            attrs = {}
            for p in parts[1:]:
                if not p:
                    continue
                an, sep, av = p.partition("=")
                attrs[an.strip().lower()] = av.strip() if sep else True
            assert name not in out, "cookie %s set twice: %r" % (name, self.header_list)
            out[name] = (value, attrs)
        return out

    def __repr__(self):
        return "<%s %s -> %s %r %r>" % (self.method, self.path, self.status, self.headers, self.body[:400])


def _walk_keys(doc):
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield k
            yield from _walk_keys(v)
    elif isinstance(doc, list):
        for v in doc:
            yield from _walk_keys(v)


class Client:
    """Requests to one server from one loopback address; checks every answer for leaked secrets."""

    def __init__(self, url, ip=None, lang=None):
        self.url = url
        u = urllib.parse.urlsplit(url)
        self.host, self.port = u.hostname, u.port
        self.ip = ip or fresh_ip()
        self.lang = lang
        self.tokens = set()

    def at(self, url):
        """The same caller (address, known tokens) towards another server."""
        c = Client(url, self.ip, self.lang)
        c.tokens = self.tokens
        return c

    def request(self, method, path, json_body=None, body=None, headers=None, token=None, ctype=None):
        h = {}
        if self.lang:
            h["Accept-Language"] = self.lang
        if json_body is not None:
            body = json.dumps(json_body).encode("utf-8")
            h["Content-Type"] = "application/json"
        if ctype:
            h["Content-Type"] = ctype
        if token:
            h["Authorization"] = "Bearer " + token
        h.update(headers or {})
        if isinstance(body, str):
            body = body.encode("utf-8")
        conn = httpclient.HTTPConnection(self.host, self.port, timeout=15, source_address=(self.ip, 0))
        try:
            conn.request(method, path, body=body, headers=h)
            r = conn.getresponse()
            resp = Resp(method, path, r.status, r.getheaders(), r.read())
        finally:
            conn.close()
        self._check(resp)
        return resp

    def post(self, path, json_body=None, **kw):
        return self.request("POST", path, json_body, **kw)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def _check(self, resp):
        ctype = resp.headers.get("content-type", "")
        if "json" in ctype and resp.body:
            doc = resp.json()
            leaked = SECRET_KEYS & set(_walk_keys(doc))
            assert not leaked, "secret field(s) %s in %r" % (leaked, resp)
        text = resp.body.decode("utf-8", "replace")
        assert "$argon2" not in text, "a password hash in %r" % resp
        if resp.path in TOKEN_ROUTES and resp.status == 200:
            doc = resp.json()
            self.tokens.update([doc["access_token"], doc["refresh_token"]])
        else:
            for t in self.tokens:
                assert t not in text, "a token in an answer to %s %s: %r" % (resp.method, resp.path, resp)

    # ---- the account routes

    def register(self, email=None, password=PASSWORD, **fields):
        email = email or new_email()
        body = {"email": email, "password": password}
        body.update(fields)
        r = self.post("/api/v1/auth/register", body)
        assert r.status == 201, r
        return r.json()

    def login(self, login, password=PASSWORD, field="email", **kw):
        return self.post("/api/v1/auth/login", {field: login, "password": password}, **kw)

    def login_ok(self, login, password=PASSWORD, **kw):
        r = self.login(login, password, **kw)
        assert r.status == 200, r
        return r.json()

    def sessions(self, token=None, **kw):
        return self.get("/api/v1/auth/sessions", token=token, **kw)

    def refresh(self, refresh_token):
        return self.post("/api/v1/auth/refresh", {"refresh_token": refresh_token})


def fresh_ip():
    """A loopback address of its own (Linux routes all of 127.0.0.0/8 to lo)."""
    return "127.%d.%d.%d" % (random.randint(1, 254), random.randint(0, 255), random.randint(1, 254))


def new_email(tag="acc"):
    return "%s-%s@example.com" % (tag, uuid.uuid4().hex[:12])


def jwt_payload(token):
    parts = token.split(".")
    assert len(parts) == 3, token
    p = parts[1]
    return json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))


def mark_verified(email):
    """For tests whose subject is not verification: skip the mail round trip."""
    n = psql("UPDATE users SET email_verified = true WHERE lower(email) = lower('%s') RETURNING id" % email)
    assert n, "no user %s" % email


def verified_user(c, **fields):
    email = new_email()
    user = c.register(email, **fields)
    mark_verified(email)
    return email, user


def error_fields(resp, lang="en"):
    """[(field, code)] of a 422 answer, after checking its shape."""
    doc = assert_problem(resp.tuple(), 422, "validation_failed", lang=lang)
    assert isinstance(doc.get("errors"), list) and doc["errors"], doc
    for e in doc["errors"]:
        assert set(e) == {"field", "code", "message"}, e
        assert isinstance(e["message"], str) and e["message"], e
    return [(e["field"], e["code"]) for e in doc["errors"]]


# --------------------------------------------------------------------------- servers and mail



@pytest.fixture(scope="module")
def box(mail):
    return Mailbox(mail[1])


def server_env(mail, **extra):
    env = {
        "CLIENT_ORIGIN": ORIGIN,
        "JWT_SECRET": SECRET,
        "PASSWORD_HASH_COST": "min",
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": mail[0],
        "MAIL_STARTTLS": "false",
        "MAIL_POLL_INTERVAL": "200ms",
        "MAIL_RETRY_MAX": "1s",
    }
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def srv(mail):
    s = start_server(server_env(mail))
    s.wait_db_ready()
    yield s
    probs = s.finish()
    if probs:
        pytest.fail("\n".join(probs))


@pytest.fixture
def short(make_server, mail):
    """short(**env) -> a server of this test's own with some windows made short."""
    def make(**extra):
        s = make_server(**server_env(mail, **extra))
        s.wait_db_ready()
        return s
    return make


@pytest.fixture
def c(srv):
    return Client(srv.url)


# =========================================================================== register

def test_register_answers_the_user_with_location(c):
    email = new_email()
    uname = "reg_" + uuid.uuid4().hex[:10]
    r = c.post("/api/v1/auth/register", {
        "email": email, "password": PASSWORD, "password_confirm": PASSWORD, "username": uname,
        "name": "Анна Тестова", "first_name": "Анна", "last_name": "Тестова", "middle_name": "Ивановна",
        "phone": "+7 900 000-00-00", "date_of_birth": "1990-05-17", "country": "RU"})
    assert r.status == 201, r
    assert r.headers.get("content-type", "").split(";")[0] == "application/json", r
    u = r.json()
    assert set(u) == USER_KEYS, u
    assert isinstance(u["id"], int) and u["id"] > 0, u
    assert r.headers.get("location") == "/api/v1/users/%d" % u["id"], r
    assert u["email"] == email and u["username"] == uname
    assert (u["name"], u["first_name"], u["last_name"], u["middle_name"]) == \
        ("Анна Тестова", "Анна", "Тестова", "Ивановна")
    assert (u["phone"], u["date_of_birth"], u["country"]) == ("+7 900 000-00-00", "1990-05-17", "RU")
    assert u["role"] == "user" and u["is_premium"] is False and u["email_verified"] is False, u
    assert u["avatar_url"] is None, u
    assert TIME_RE.match(u["created_at"]), u
    assert PASSWORD not in r.body.decode("utf-8")


def test_register_with_email_and_password_only_leaves_the_rest_null(c):
    u = c.register()
    for k in ("username", "name", "first_name", "last_name", "middle_name", "phone", "date_of_birth", "country"):
        assert u[k] is None, (k, u)


def test_concurrent_registrations_of_one_address(c, box):
    email = new_email("Race")
    variants = [email, email.upper(), email.lower()] * 3
    with concurrent.futures.ThreadPoolExecutor(len(variants)) as ex:
        answers = list(ex.map(lambda e: c.post("/api/v1/auth/register", {"email": e, "password": PASSWORD}),
                              variants))
    assert sorted(r.status for r in answers) == [201] + [409] * (len(variants) - 1), answers
    for r in answers:
        if r.status == 409:
            assert_problem(r.tuple(), 409, "email_taken")
    assert box.wait_for(email) is not None
    assert box.stays(email, 1, 0.5), "%d verification mails" % box.count_to(email)


def test_password_is_stored_only_as_an_argon2id_hash(c):
    email = new_email()
    c.register(email)
    stored = psql("SELECT password_hash FROM users WHERE email = '%s'" % email)
    assert stored.startswith("$argon2id$") and PASSWORD not in stored, stored


def test_same_email_in_any_case_is_taken(c):
    email = new_email("Dup")
    c.register(email)
    for other in (email, email.upper(), email.lower()):
        r = c.post("/api/v1/auth/register", {"email": other, "password": PASSWORD})
        assert_problem(r.tuple(), 409, "email_taken")


def test_same_username_in_any_case_is_taken(c):
    uname = "Taken_" + uuid.uuid4().hex[:8]
    c.register(username=uname)
    for other in (uname, uname.upper(), uname.lower()):
        r = c.post("/api/v1/auth/register", {"email": new_email(), "password": PASSWORD, "username": other})
        assert_problem(r.tuple(), 409, "username_taken")


@pytest.mark.parametrize("password,codes", [
    ("Ab1-xyz", {"too_short"}),
    ("abcdefg1-", {"no_upper"}),
    ("ABCDEFG1-", {"no_lower"}),
    ("Abcdefgh-", {"no_digit"}),
    ("Abcdefg12", {"no_symbol"}),
    ("abc", {"too_short", "no_upper", "no_digit", "no_symbol"}),
    ("12345678", {"no_lower", "no_upper", "no_symbol"}),
    ("Aa1-" + "x" * 125, {"too_long"}),            # 129 bytes
    ("Aa1-" + "ж" * 63, {"too_long"}),             # 67 characters but 130 bytes
    ("пароль-123", {"no_upper"}),                  # Cyrillic lower-case letters are letters
    ("ПАРОЛЬ-123", {"no_lower"}),
], ids=["short", "no-upper", "no-lower", "no-digit", "no-symbol", "many", "digits", "129-bytes",
        "130-bytes-cyrillic", "cyrillic-lower", "cyrillic-upper"])
def test_password_policy_codes(c, password, codes):
    r = c.post("/api/v1/auth/register", {"email": new_email(), "password": password})
    got = error_fields(r)
    assert all(f == "password" for f, _ in got), got
    got_codes = [code for _, code in got]
    assert sorted(got_codes) == sorted(codes), (password, got)  # one entry per broken rule


@pytest.mark.parametrize("password", ["Пароль-123", "Aa1-" + "ж" * 62, "Aa1-" + "x" * 124, "Abcdef-1"],
                         ids=["cyrillic", "128-bytes-cyrillic", "128-bytes", "8-chars"])
def test_passwords_that_keep_the_policy(c, password):
    c.register(password=password)


def test_password_confirm(c):
    r = c.post("/api/v1/auth/register", {"email": new_email(), "password": PASSWORD,
                                         "password_confirm": PASSWORD + "x"})
    assert error_fields(r) == [("password_confirm", "mismatch")]
    c.register(password_confirm=PASSWORD)


@pytest.mark.parametrize("body,field,code", [
    ({"password": PASSWORD}, "email", "required"),
    ({"email": None, "password": PASSWORD}, "email", "required"),
    ({"email": "someone@example.com"}, "password", "required"),
    ({"email": "not-an-email", "password": PASSWORD}, "email", "invalid_format"),
    ({"email": "@example.com", "password": PASSWORD}, "email", "invalid_format"),
    ({"email": "EMAIL", "password": PASSWORD, "favourite_colour": "blue"}, "favourite_colour", "unknown_field"),
    ({"email": "EMAIL", "password": PASSWORD, "username": ""}, "username", "too_short"),
    ({"email": "EMAIL", "password": PASSWORD, "date_of_birth": "2020-02-30"}, "date_of_birth", "invalid_format"),
    ({"email": "EMAIL", "password": PASSWORD, "date_of_birth": "17.05.1990"}, "date_of_birth", "invalid_format"),
    ({"email": "EMAIL", "password": 123}, "password", "wrong_type"),
    ({"email": 5, "password": PASSWORD}, "email", "wrong_type"),
    ({"email": "EMAIL", "password": PASSWORD, "name": ["x"]}, "name", "wrong_type"),
], ids=["no-email", "null-email", "no-password", "bad-email", "bad-email-2", "unknown-field", "empty-username",
        "feb-30", "dotted-date", "password-number", "email-number", "name-array"])
def test_register_validation(c, body, field, code):
    body = {k: (new_email() if v == "EMAIL" else v) for k, v in body.items()}
    r = c.post("/api/v1/auth/register", body)
    got = error_fields(r)
    assert (field, code) in got, got
    assert r.headers.get("location") is None


def test_register_body_errors(c):
    r = c.post("/api/v1/auth/register", body='{"email": "x@example.com", "password": ', ctype="application/json")
    assert_problem(r.tuple(), 400, "malformed_json")
    r = c.post("/api/v1/auth/register", body="email=x@example.com", ctype="text/plain")
    assert_problem(r.tuple(), 415, "unsupported_media_type")
    r = c.post("/api/v1/auth/register", body='["x@example.com"]', ctype="application/json")
    assert r.status in (400, 422), r


def test_register_detail_in_russian(srv):
    ru = Client(srv.url, lang="ru")
    r = ru.post("/api/v1/auth/register", {"email": new_email(), "password": "abc"})
    doc = assert_problem(r.tuple(), 422, "validation_failed", lang="ru")
    assert {e["code"] for e in doc["errors"]} == {"too_short", "no_upper", "no_digit", "no_symbol"}
    en = Client(srv.url, lang="en")
    r = en.post("/api/v1/auth/register", {"email": new_email(), "password": "abc"})
    assert_problem(r.tuple(), 422, "validation_failed", lang="en")
    email = new_email()
    ru.register(email)
    r = ru.post("/api/v1/auth/register", {"email": email, "password": PASSWORD})
    assert_problem(r.tuple(), 409, "email_taken", lang="ru")


# =========================================================================== verification codes

def test_registration_mails_a_code_that_verifies_the_address(c, box):
    email = new_email()
    c.register(email)
    msg = box.wait_for(email)
    assert msg is not None, "no verification mail to %s" % email
    subj = subject(msg)
    assert not re.search("[\u0400-\u04ff]", subj), subj
    code = code_in(msg)
    assert code and len(code) == 6, body_text(msg)
    r = c.post("/api/v1/auth/verify-email", {"email": email, "code": code})
    assert r.status == 200, r
    u = r.json()
    assert set(u) == USER_KEYS and u["email"] == email and u["email_verified"] is True, u
    # the code is used up
    r = c.post("/api/v1/auth/verify-email", {"email": email, "code": code})
    assert_problem(r.tuple(), 400, "invalid_code")
    # and the account can log in now
    c.login_ok(email)


def test_registration_in_russian_mails_in_russian(srv, box):
    ru = Client(srv.url, lang="ru")
    email = new_email("ru")
    ru.register(email)
    msg = box.wait_for(email)
    assert msg is not None, "no verification mail to %s" % email
    assert re.search("[\u0400-\u04ff]", subject(msg)), subject(msg)
    assert re.search("[\u0400-\u04ff]", body_text(msg)), body_text(msg)
    r = ru.post("/api/v1/auth/verify-email", {"email": email.upper(), "code": code_in(msg)})
    assert r.status == 200 and r.json()["email_verified"] is True, r


def test_wrong_codes_and_the_dead_code(c, box):
    email = new_email()
    c.register(email)
    code = box.wait_code(email)
    wrong = "%06d" % ((int(code) + 1) % 1000000)
    for _ in range(5):
        r = c.post("/api/v1/auth/verify-email", {"email": email, "code": wrong})
        assert_problem(r.tuple(), 400, "invalid_code")
    # after 5 wrong tries even the right code is refused, like any wrong one
    r = c.post("/api/v1/auth/verify-email", {"email": email, "code": code})
    assert_problem(r.tuple(), 400, "invalid_code")
    r = c.login(email)
    assert_problem(r.tuple(), 403, "email_not_verified")


def test_verify_unknown_email_is_invalid_code(c):
    r = c.post("/api/v1/auth/verify-email", {"email": new_email("nobody"), "code": "123456"})
    assert_problem(r.tuple(), 400, "invalid_code")


def test_verify_email_validation(c):
    r = c.post("/api/v1/auth/verify-email", {"email": new_email()})
    assert ("code", "required") in error_fields(r)
    r = c.post("/api/v1/auth/verify-email", {"code": "123456"})
    assert ("email", "required") in error_fields(r)


def test_code_expires(short, box):
    s = short(AUTH_CODE_TTL="1s")
    c = Client(s.url)
    email = new_email("ttl")
    c.register(email)
    code = box.wait_code(email)
    time.sleep(1.5)
    r = c.post("/api/v1/auth/verify-email", {"email": email, "code": code})
    assert_problem(r.tuple(), 410, "code_expired")


def test_resend_unknown_address_is_202_and_mails_nothing(c, box):
    email = new_email("ghost")
    r = c.post("/api/v1/auth/resend-verification", {"email": email})
    assert r.status == 202, r
    r2 = c.post("/api/v1/auth/resend-verification", {"email": new_email("ghost")})
    assert r2.status == 202 and r2.body == r.body, (r, r2)
    assert box.stays(email, 0, 1.0), "mail sent to an unknown address"


def test_resend_replaces_the_code(c, box):
    email = new_email()
    c.register(email)
    old = box.wait_code(email)
    r = c.post("/api/v1/auth/resend-verification", {"email": email})
    assert r.status == 202, r
    new = box.wait_code(email, count=2)
    if new == old:  # one chance in a million
        pytest.skip("the new code happens to equal the old one")
    r = c.post("/api/v1/auth/verify-email", {"email": email, "code": old})
    assert_problem(r.tuple(), 400, "invalid_code")
    r = c.post("/api/v1/auth/verify-email", {"email": email, "code": new})
    assert r.status == 200 and r.json()["email_verified"] is True, r
    # a verified address gets no more codes (still 202)
    time.sleep(0.2)
    n = box.count_to(email)
    r = c.post("/api/v1/auth/resend-verification", {"email": email})
    assert r.status == 202, r
    assert box.stays(email, n, 0.7), "a verification code was mailed to a verified address"


def test_resend_quota(short, box):
    s = short(MAIL_QUOTA_PER_MINUTE="1")
    c = Client(s.url)
    email = new_email("quota")
    c.register(email)
    box.wait_code(email)
    for _ in range(2):
        r = c.post("/api/v1/auth/resend-verification", {"email": email})
        assert r.status == 202, r
    # the registration mail does not count: one resend gets through, the second is dropped
    assert box.wait_for(email, count=2) is not None, "the first resend was not mailed"
    assert box.stays(email, 2, 1.5), "%d mails: the quota let the second resend through" % box.count_to(email)


def test_refused_mail_is_delivered_once_later(srv, box, mail):
    sink_src = open(os.path.join(HERE, "..", "mail_sink.py")).read()
    if '".refuse"' not in sink_src:
        pytest.skip("test/mail_sink.py has no .refuse switch yet")
    c = Client(srv.url)
    email = new_email("refused")
    refuse = os.path.join(mail[1], ".refuse")
    open(refuse, "w").close()
    try:
        c.register(email)
        # wait until the mailer has tried and been refused at least once
        q = ("SELECT count(*) FROM mail_outbox WHERE lower(to_addr) = lower('%s') AND attempts > 0 "
             "AND sent_at IS NULL" % email)
        deadline = time.monotonic() + 5
        while psql(q) == "0":
            assert time.monotonic() < deadline, "no refused delivery attempt recorded in the outbox"
            time.sleep(0.1)
        assert box.stays(email, 0, 0.5), "mail delivered while the SMTP server refused it"
    finally:
        os.remove(refuse)
    code = box.wait_code(email, timeout=6)
    assert box.stays(email, 1, 1.5), "the mail arrived %d times" % box.count_to(email)
    r = c.post("/api/v1/auth/verify-email", {"email": email, "code": code})
    assert r.status == 200, r


def _wait_dead(mail_id, timeout):
    deadline = time.monotonic() + timeout
    while psql("SELECT dead_at IS NOT NULL FROM mail_outbox WHERE id = %d" % mail_id) != "t":
        assert time.monotonic() < deadline, psql(
            "SELECT attempts, last_error, sent_at FROM mail_outbox WHERE id = %d" % mail_id)
        time.sleep(0.1)


def test_mail_still_refused_at_MAIL_GIVE_UP_AFTER_is_given_up(short, box, mail):
    s = short(MAIL_GIVE_UP_AFTER="1s", MAIL_RETRY_MAX="200ms")
    email = new_email("given-up")
    refuse = os.path.join(mail[1], ".refuse")
    open(refuse, "w").close()
    try:
        Client(s.url).register(email)
        mail_id = int(psql("SELECT max(id) FROM mail_outbox WHERE lower(to_addr) = lower('%s')" % email))
        _wait_dead(mail_id, 15)
        attempts = psql("SELECT attempts FROM mail_outbox WHERE id = %d" % mail_id)
        assert int(attempts) >= 2, attempts  # retried before it was given up
    finally:
        os.remove(refuse)
    # the server takes mail again, but a dead mail is never claimed again
    assert box.stays(email, 0, 1.5), "a given-up mail was delivered"
    assert psql("SELECT attempts, sent_at IS NULL FROM mail_outbox WHERE id = %d" % mail_id) == attempts + "|t"
    # only this server gives up this soon (the module's server waits 48 h): the line is in its log
    assert "mail %d: given up after" % mail_id in s.log(), s.log_tail()


def test_mail_to_an_unusable_address_dies_at_once(srv):
    mail_id = int(psql("WITH r AS (INSERT INTO mail_outbox (to_addr, subject, body_text) "
                       "VALUES ('two words@example.com', 'Hello', 'text') RETURNING id) SELECT id FROM r"))
    _wait_dead(mail_id, 10)
    row = psql("SELECT attempts, last_error, sent_at IS NULL FROM mail_outbox WHERE id = %d" % mail_id)
    assert row == "1|invalid recipient address|t", row
    deadline = time.monotonic() + 5
    while True:
        st, _, body = http("GET", srv.url + "/metrics")
        dead = metric_value(metric_samples(body.decode()), "mail_outbox_messages", state="dead")
        if dead and dead >= 1:
            break
        assert time.monotonic() < deadline, "mail_outbox_messages{state=\"dead\"} is %s" % dead
        time.sleep(0.2)


# =========================================================================== login

def check_token_answer(r):
    assert r.status == 200, r
    doc = r.json()
    assert set(doc) == TOKEN_KEYS, doc
    assert doc["token_type"] == "bearer", doc
    assert isinstance(doc["expires_in"], int) and not isinstance(doc["expires_in"], bool) and doc["expires_in"] > 0
    assert isinstance(doc["access_token"], str) and doc["access_token"].count(".") == 2, doc
    assert isinstance(doc["refresh_token"], str) and len(doc["refresh_token"]) >= 32, doc
    assert "no-store" in r.headers.get("cache-control", ""), r
    return doc


def test_login_json_email_or_username(c):
    uname = "login_" + uuid.uuid4().hex[:8]
    email, _ = verified_user(c, username=uname)
    for body in ({"email": email, "password": PASSWORD},
                 {"email": email.upper(), "password": PASSWORD},
                 {"username": email, "password": PASSWORD},
                 {"username": uname, "password": PASSWORD},
                 {"username": uname.upper(), "password": PASSWORD}):
        check_token_answer(c.post("/api/v1/auth/login", body))


def test_login_oauth2_form(c):
    email, _ = verified_user(c)
    body = urllib.parse.urlencode({"username": email, "password": PASSWORD, "grant_type": "password"})
    r = c.post("/api/v1/auth/login", body=body, ctype="application/x-www-form-urlencoded")
    check_token_answer(r)
    body = urllib.parse.urlencode({"username": email, "password": "wrong-Passw0rd", "grant_type": "password"})
    r = c.post("/api/v1/auth/login", body=body, ctype="application/x-www-form-urlencoded")
    assert_problem(r.tuple(), 401, "invalid_credentials")


def test_login_multipart(c):
    email, _ = verified_user(c)
    boundary = "----hg" + uuid.uuid4().hex
    parts = []
    for k, v in (("username", email), ("password", PASSWORD), ("grant_type", "password")):
        parts.append('--%s\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n' % (boundary, k, v))
    body = "".join(parts) + "--%s--\r\n" % boundary
    r = c.post("/api/v1/auth/login", body=body, ctype="multipart/form-data; boundary=" + boundary)
    check_token_answer(r)


def check_login_cookies(r, secure):
    doc = r.json()
    ck = r.cookies()
    assert set(ck) >= {"access_token", "refresh_token", "logged_in"}, r.header_list
    val, a = ck["access_token"]
    assert val == doc["access_token"], ck
    assert a.get("httponly") is True and str(a.get("samesite")).lower() == "lax" and a.get("path") == "/", a
    val, a = ck["refresh_token"]
    assert val == doc["refresh_token"], ck
    assert a.get("httponly") is True and a.get("path") == "/api/v1/auth", a
    val, a = ck["logged_in"]
    assert val == "true" and "httponly" not in a, ck
    for name in ("access_token", "refresh_token", "logged_in"):
        assert ("secure" in ck[name][1]) == secure, (name, ck[name])


def test_login_cookies(c):
    email, _ = verified_user(c)
    check_login_cookies(c.login(email), secure=False)


def test_login_cookies_secure_when_configured(short, c):
    s = short(COOKIE_SECURE="true")
    email, _ = verified_user(c)
    r = c.at(s.url).login(email)
    assert r.status == 200, r
    check_login_cookies(r, secure=True)


def test_wrong_password_and_unknown_user_answer_alike(c):
    email, _ = verified_user(c)
    wrong = c.login(email, "Wrong-passw0rd")
    unknown = c.login(new_email("nobody"), "Wrong-passw0rd")
    docs = []
    for r in (wrong, unknown):
        docs.append(assert_problem(r.tuple(), 401, "invalid_credentials"))
        assert r.headers.get("www-authenticate", "").lower().startswith("bearer"), r
        assert "set-cookie" not in r.headers, r
    strip = lambda d: {k: v for k, v in d.items() if k not in ("request_id", "instance", "trace_id")}
    assert strip(docs[0]) == strip(docs[1]), docs
    for k in ("type", "title", "status", "code", "detail"):
        assert docs[0][k] == docs[1][k], k
    assert wrong.headers.get("www-authenticate") == unknown.headers.get("www-authenticate")


def test_login_validation(c):
    r = c.post("/api/v1/auth/login", {"email": new_email()})
    assert ("password", "required") in error_fields(r)
    r = c.post("/api/v1/auth/login", {"password": PASSWORD})
    assert error_fields(r)
    r = c.post("/api/v1/auth/login", {"email": new_email(), "password": PASSWORD, "remember": True})
    assert ("remember", "unknown_field") in error_fields(r)


def test_unverified_account_cannot_log_in(c):
    email = new_email()
    c.register(email)
    r = c.login(email)
    assert_problem(r.tuple(), 403, "email_not_verified")
    assert "set-cookie" not in r.headers, r
    # a wrong password says nothing about the account's state
    assert_problem(c.login(email, "Wrong-passw0rd").tuple(), 401, "invalid_credentials")


def test_unverified_account_logs_in_when_not_required(short, c):
    s = short(AUTH_REQUIRE_VERIFIED_EMAIL="false")
    email = new_email()
    c.register(email)
    check_token_answer(c.at(s.url).login(email))


def test_lockout_after_failures(short, c):
    s = short(LOGIN_LOCKOUT_THRESHOLD="3", LOGIN_LOCKOUT_WINDOW="3s")
    email, _ = verified_user(c)
    c = c.at(s.url)
    for _ in range(3):
        assert_problem(c.login(email, "Wrong-passw0rd").tuple(), 401, "invalid_credentials")
    r = c.login(email)  # the right password, but the account is locked
    assert_problem(r.tuple(), 429, "rate_limited")
    ra = r.headers.get("retry-after", "")
    assert re.fullmatch(r"\d+", ra) and 1 <= int(ra) <= 3, r
    # another account from the same address is not affected
    other, _ = verified_user(c)
    check_token_answer(c.login(other))
    time.sleep(int(ra) + 0.3)
    check_token_answer(c.login(email))


def test_success_clears_the_failures(short, c):
    s = short(LOGIN_LOCKOUT_THRESHOLD="3", LOGIN_LOCKOUT_WINDOW="3s")
    email, _ = verified_user(c)
    c = c.at(s.url)
    for _ in range(2):
        assert_problem(c.login(email, "Wrong-passw0rd").tuple(), 401, "invalid_credentials")
    check_token_answer(c.login(email))
    for _ in range(2):
        assert_problem(c.login(email, "Wrong-passw0rd").tuple(), 401, "invalid_credentials")
    check_token_answer(c.login(email))  # 4 failures in the window, but never 3 in a row


def test_login_ip_ceiling(short, c):
    s = short(LOGIN_IP_LIMIT="5")
    email, _ = verified_user(c)
    c = c.at(s.url)
    for i in range(5):
        r = c.login(new_email("nobody"), "Wrong-passw0rd")
        assert_problem(r.tuple(), 401, "invalid_credentials")
    r = c.login(email)  # the 6th attempt within the minute, right password or not
    assert_problem(r.tuple(), 429, "rate_limited")
    ra = r.headers.get("retry-after", "")
    assert re.fullmatch(r"\d+", ra) and 1 <= int(ra) <= 60, r
    # another address is not limited
    check_token_answer(Client(s.url).login(email))


# =========================================================================== access tokens and sessions

def test_sessions_list(c):
    email, user = verified_user(c)
    first = c.login_ok(email, headers={"User-Agent": "hourglass-test/1"})
    second = c.login_ok(email, headers={"User-Agent": "hourglass-test/2"})
    r = c.sessions(first["access_token"])
    assert r.status == 200, r
    doc = r.json()
    assert set(doc) == {"items", "next_cursor"} and doc["next_cursor"] is None, doc
    items = doc["items"]
    assert len(items) == 2, items
    for it in items:
        assert set(it) == SESSION_KEYS, it
        assert isinstance(it["id"], int) and it["ip"] == c.ip, it
        assert TIME_RE.match(it["created_at"]) and TIME_RE.match(it["last_used_at"]), it
    assert [it["id"] for it in items] == sorted(it["id"] for it in items)
    current = [it for it in items if it["current"] is True]
    assert len(current) == 1 and all(it["current"] is False for it in items if it not in current), items
    sid1 = jwt_payload(first["access_token"])["sid"]
    assert str(current[0]["id"]) == str(sid1) and current[0]["user_agent"] == "hourglass-test/1", items
    other = [it for it in items if not it["current"]][0]
    assert other["user_agent"] == "hourglass-test/2", items
    # seen through the second token, the other one is current
    doc2 = c.sessions(second["access_token"]).json()
    assert [it["id"] for it in doc2["items"] if it["current"]] == [other["id"]], doc2


def test_access_token_claims(c):
    email, user = verified_user(c)
    doc = c.login_ok(email)
    p = jwt_payload(doc["access_token"])
    assert p["sub"] == str(user["id"]), p
    assert p["role"] == "user" and p["typ"] == "access", p
    assert isinstance(p["iat"], int) and isinstance(p["exp"], int), p
    assert abs(p["iat"] - time.time()) < 60, p
    assert p["exp"] - p["iat"] == doc["expires_in"], (p, doc)
    assert "sid" in p and int(p["sid"]) > 0, p
    h = doc["access_token"].split(".")[0]
    assert json.loads(base64.urlsafe_b64decode(h + "=" * (-len(h) % 4)))["alg"] == "HS256"


def test_bad_and_missing_tokens(c):
    email, _ = verified_user(c)
    good = c.login_ok(email)["access_token"]
    head, payload, sig = good.split(".")
    forged_payload = jwt_payload(good)
    forged_payload["role"] = "admin"
    forged = head + "." + base64.urlsafe_b64encode(json.dumps(forged_payload).encode()).decode().rstrip("=") + "." + sig
    for bad in ("garbage", "a.b.c", good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB"), forged):
        r = c.sessions(bad)
        assert_problem(r.tuple(), 401, "invalid_token")
        assert r.headers.get("www-authenticate", "").lower().startswith("bearer"), r
    r = c.sessions()
    assert_problem(r.tuple(), 401, "not_authenticated")
    assert r.headers.get("www-authenticate", "").lower().startswith("bearer"), r
    # a refresh token is not an access token
    r = c.sessions(c.login_ok(email)["refresh_token"])
    assert_problem(r.tuple(), 401, "invalid_token")


def test_cookie_authentication_and_origin(c):
    email, _ = verified_user(c)
    doc = c.login_ok(email)
    cookie = {"Cookie": "access_token=" + doc["access_token"]}
    r = c.sessions(headers=cookie)
    assert r.status == 200 and len(r.json()["items"]) == 1, r
    r = c.post("/api/v1/auth/logout", headers=cookie)
    assert_problem(r.tuple(), 403, "origin_not_allowed")
    r = c.post("/api/v1/auth/logout", headers=dict(cookie, Origin="http://evil.example"))
    assert_problem(r.tuple(), 403, "origin_not_allowed")
    assert c.sessions(headers=cookie).status == 200  # nothing happened
    r = c.post("/api/v1/auth/logout", headers=dict(cookie, Origin=ORIGIN))
    assert r.status == 204, r
    assert_problem(c.sessions(headers=cookie).tuple(), 401, "session_revoked")


# =========================================================================== refresh

def test_refresh_by_body_header_and_cookie(c):
    email, _ = verified_user(c)
    doc = c.login_ok(email)
    sid = jwt_payload(doc["access_token"])["sid"]
    # JSON body
    r = c.refresh(doc["refresh_token"])
    d1 = check_token_answer(r)
    assert d1["refresh_token"] != doc["refresh_token"], d1
    assert jwt_payload(d1["access_token"])["sid"] == sid
    ck = r.cookies()
    assert ck["refresh_token"][0] == d1["refresh_token"] and ck["access_token"][0] == d1["access_token"], ck
    assert c.sessions(d1["access_token"]).status == 200
    # Authorization: Bearer <refresh>
    r = c.post("/api/v1/auth/refresh", token=d1["refresh_token"])
    d2 = check_token_answer(r)
    assert d2["refresh_token"] not in (d1["refresh_token"], doc["refresh_token"]), d2
    # the cookie, from our front end
    cookie = {"Cookie": "refresh_token=" + d2["refresh_token"]}
    r = c.post("/api/v1/auth/refresh", headers=cookie)
    assert_problem(r.tuple(), 403, "origin_not_allowed")
    r = c.post("/api/v1/auth/refresh", headers=dict(cookie, Origin="http://evil.example"))
    assert_problem(r.tuple(), 403, "origin_not_allowed")
    r = c.post("/api/v1/auth/refresh", headers=dict(cookie, Origin=ORIGIN))
    d3 = check_token_answer(r)
    assert d3["refresh_token"] != d2["refresh_token"], d3
    assert jwt_payload(d3["access_token"])["sid"] == sid
    # still one session
    assert len(c.sessions(d3["access_token"]).json()["items"]) == 1


def test_refresh_with_unknown_or_no_token(c):
    r = c.refresh("x" * 43)
    assert_problem(r.tuple(), 401, "invalid_token")
    assert r.headers.get("www-authenticate", "").lower().startswith("bearer"), r
    assert b"xxxxxxxx" not in r.body
    r = c.post("/api/v1/auth/refresh", token="y" * 43)
    assert_problem(r.tuple(), 401, "invalid_token")
    r = c.post("/api/v1/auth/refresh")
    assert r.status == 401, r
    # an access token is not a refresh token
    email, _ = verified_user(c)
    r = c.refresh(c.login_ok(email)["access_token"])
    assert r.status in (401, 422), r


def test_rotation_grace_then_reuse_kills_the_session(short, c):
    s = short(REFRESH_REUSE_GRACE="1s")
    email, _ = verified_user(c)
    c = c.at(s.url)
    d0 = c.login_ok(email)
    r = c.refresh(d0["refresh_token"])
    d1 = check_token_answer(r)
    assert d1["refresh_token"] != d0["refresh_token"]
    # within the grace the old token gets the same successor (two tabs refreshing at once)
    r = c.refresh(d0["refresh_token"])
    d1b = check_token_answer(r)
    assert d1b["refresh_token"] == d1["refresh_token"], (d1, d1b)
    assert jwt_payload(d1b["access_token"])["sid"] == jwt_payload(d1["access_token"])["sid"]
    time.sleep(1.3)
    r = c.refresh(d0["refresh_token"])
    assert_problem(r.tuple(), 401, "token_reused")
    for access in (d0["access_token"], d1["access_token"], d1b["access_token"]):
        assert_problem(c.sessions(access).tuple(), 401, "session_revoked")
    r = c.refresh(d1["refresh_token"])
    assert r.status == 401, r
    assert r.json()["code"] in ("invalid_token", "token_reused", "session_revoked"), r


def test_two_tabs_refreshing_at_once_get_the_same_pair(c):
    email, _ = verified_user(c)
    d0 = c.login_ok(email)
    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        answers = list(ex.map(lambda _: c.refresh(d0["refresh_token"]), range(4)))
    docs = [check_token_answer(r) for r in answers]
    assert len({d["refresh_token"] for d in docs}) == 1, docs
    assert docs[0]["refresh_token"] != d0["refresh_token"]
    assert c.sessions(docs[0]["access_token"]).status == 200


def test_expired_tokens(short, c):
    s = short(ACCESS_TOKEN_EXPIRES_IN="1s", REFRESH_TOKEN_EXPIRES_IN="2s")
    email, _ = verified_user(c)
    c = c.at(s.url)
    d = c.login_ok(email)
    assert d["expires_in"] == 1, d
    assert c.sessions(d["access_token"]).status == 200
    time.sleep(2.3)
    r = c.sessions(d["access_token"])
    assert r.status == 401 and r.json()["code"] in ("token_expired", "invalid_token"), r
    assert r.headers.get("www-authenticate", "").lower().startswith("bearer"), r
    r = c.refresh(d["refresh_token"])
    assert_problem(r.tuple(), 401, "invalid_token")


# =========================================================================== logout and sessions

def test_logout(c):
    email, _ = verified_user(c)
    doc = c.login_ok(email)
    keep = c.login_ok(email)
    r = c.post("/api/v1/auth/logout", token=doc["access_token"])
    assert r.status == 204 and r.body == b"", r
    ck = r.cookies()
    for name in ("access_token", "refresh_token", "logged_in"):
        assert name in ck, r.header_list
        value, attrs = ck[name]
        assert value == "" and attrs.get("max-age") == "0", (name, ck[name])
    assert ck["refresh_token"][1].get("path") == "/api/v1/auth" and ck["access_token"][1].get("path") == "/"
    r = c.sessions(doc["access_token"])
    assert_problem(r.tuple(), 401, "session_revoked")
    assert r.headers.get("www-authenticate", "").lower().startswith("bearer"), r
    assert c.refresh(doc["refresh_token"]).status == 401
    # the other session lives on
    r = c.sessions(keep["access_token"])
    assert r.status == 200 and len(r.json()["items"]) == 1, r


def test_logout_needs_authentication(c):
    r = c.post("/api/v1/auth/logout")
    assert_problem(r.tuple(), 401, "not_authenticated")
    r = c.post("/api/v1/auth/logout-all", token="garbage")
    assert_problem(r.tuple(), 401, "invalid_token")


def test_logout_all(c):
    email, _ = verified_user(c)
    a = c.login_ok(email)
    b = c.login_ok(email)
    other_email, _ = verified_user(c)
    other = c.login_ok(other_email)
    r = c.post("/api/v1/auth/logout-all", token=a["access_token"])
    assert r.status == 204, r
    for d in (a, b):
        assert_problem(c.sessions(d["access_token"]).tuple(), 401, "session_revoked")
        assert c.refresh(d["refresh_token"]).status == 401
    assert c.sessions(other["access_token"]).status == 200  # another user is untouched
    check_token_answer(c.login(email))  # and a new login works


def test_delete_session(c):
    email, _ = verified_user(c)
    mine = c.login_ok(email)
    mine2 = c.login_ok(email)
    other_email, _ = verified_user(c)
    theirs = c.login_ok(other_email)
    their_sid = jwt_payload(theirs["access_token"])["sid"]
    sid2 = jwt_payload(mine2["access_token"])["sid"]
    r = c.request("DELETE", "/api/v1/auth/sessions/%s" % their_sid, token=mine["access_token"])
    assert_problem(r.tuple(), 404, "not_found")
    assert c.sessions(theirs["access_token"]).status == 200
    for bad in ("abc", "0", "-1", "99999999999"):
        r = c.request("DELETE", "/api/v1/auth/sessions/" + bad, token=mine["access_token"])
        assert_problem(r.tuple(), 404, "not_found")
    r = c.request("DELETE", "/api/v1/auth/sessions/%s" % sid2, token=mine["access_token"])
    assert r.status == 204, r
    assert_problem(c.sessions(mine2["access_token"]).tuple(), 401, "session_revoked")
    assert c.refresh(mine2["refresh_token"]).status == 401
    items = c.sessions(mine["access_token"]).json()["items"]
    assert [str(it["id"]) for it in items] == [str(jwt_payload(mine["access_token"])["sid"])], items
    # deleting it again: it is gone
    r = c.request("DELETE", "/api/v1/auth/sessions/%s" % sid2, token=mine["access_token"])
    assert_problem(r.tuple(), 404, "not_found")
    r = c.request("DELETE", "/api/v1/auth/sessions/%s" % sid2)
    assert_problem(r.tuple(), 401, "not_authenticated")


# =========================================================================== forgot and reset

def test_forgot_password_unknown_address(c, box):
    email = new_email("ghost")
    r = c.post("/api/v1/auth/forgot-password", {"email": email})
    assert r.status == 202, r
    assert box.stays(email, 0, 1.0), "mail sent to an unknown address"


def test_reset_password(c, box):
    email, _ = verified_user(c)
    old_session = c.login_ok(email)
    # the one sent at registration, there before the reset is asked for (wait_for answers the newest)
    verify_mail = box.wait_for(email)
    r = c.post("/api/v1/auth/forgot-password", {"email": email.upper()})
    assert r.status == 202, r
    msg = box.wait_for(email, count=2)
    assert msg is not None, "no reset mail"
    assert subject(msg) != subject(verify_mail), (subject(msg), subject(verify_mail))
    code = code_in(msg)
    assert code, body_text(msg)
    wrong = "%06d" % ((int(code) + 1) % 1000000)
    r = c.post("/api/v1/auth/reset-password", {"email": email, "code": wrong, "new_password": NEW_PASSWORD})
    assert_problem(r.tuple(), 400, "invalid_code")
    r = c.post("/api/v1/auth/reset-password", {"email": email, "code": code, "new_password": "weak"})
    got = error_fields(r)
    assert all(f == "new_password" for f, _ in got), got
    assert sorted(code for _, code in got) == sorted(["too_short", "no_upper", "no_digit", "no_symbol"]), got
    r = c.post("/api/v1/auth/reset-password", {"email": email, "code": code, "new_password": NEW_PASSWORD})
    assert r.status == 204 and r.body == b"", r
    assert_problem(c.sessions(old_session["access_token"]).tuple(), 401, "session_revoked")
    assert c.refresh(old_session["refresh_token"]).status == 401
    assert_problem(c.login(email, PASSWORD).tuple(), 401, "invalid_credentials")
    check_token_answer(c.login(email, NEW_PASSWORD))
    # the code is used up
    r = c.post("/api/v1/auth/reset-password", {"email": email, "code": code, "new_password": PASSWORD})
    assert_problem(r.tuple(), 400, "invalid_code")


def test_reset_password_unknown_address(c):
    r = c.post("/api/v1/auth/reset-password",
               {"email": new_email("nobody"), "code": "123456", "new_password": NEW_PASSWORD})
    assert_problem(r.tuple(), 400, "invalid_code")


# =========================================================================== secrets

def test_no_secrets_stored_or_answered(c, box):
    """The client checks every answer; here the database side: only hashes of refresh tokens and codes."""
    email = new_email()
    u = c.register(email)
    code = box.wait_code(email)
    r = c.post("/api/v1/auth/verify-email", {"email": email, "code": code})
    assert r.status == 200, r
    doc = c.login_ok(email)
    d1 = check_token_answer(c.refresh(doc["refresh_token"]))
    assert c.sessions(d1["access_token"]).status == 200
    assert c.get("/api/v1/users/me", token=d1["access_token"]).status == 200
    stored = psql("SELECT refresh_hash || ' ' || coalesce(prev_refresh_hash, '') FROM sessions WHERE user_id = %d"
                  % u["id"])
    for t in (doc["refresh_token"], d1["refresh_token"]):
        assert t not in stored, stored
    c.post("/api/v1/auth/forgot-password", {"email": email})
    reset_code = box.wait_code(email, count=2)
    codes = psql("SELECT string_agg(code_hash, ' ') FROM auth_codes WHERE user_id = %d" % u["id"])
    assert codes and reset_code not in codes.split(), codes
