"""The user's own account, public profiles, avatars and admin user management (/api/v1/users*,
/api/v1/admin/users*).

One server for the module: cheapest password hashing, no e-mail verification needed to log in,
mail to the SMTP sink of the test script ($HG_SMTP_PORT, $HG_MAILDIR) or, without one, to a sink
this module starts itself."""

import email
import email.policy
import hashlib
import json
import os
import re
import time
import uuid

import pytest

from conftest import Conn, http, psql, start_server

PASSWORD = "Corr3ct-horse"
NEW_PASSWORD = "N3w-battery-staple"
MiB = 1024 * 1024
AVATAR_MAX = 2 * MiB
AVATAR_ROUTE_LIMIT = AVATAR_MAX + 64 * 1024

USER_KEYS = {"id", "email", "username", "name", "first_name", "last_name", "middle_name", "phone",
             "date_of_birth", "country", "role", "is_premium", "email_verified", "avatar_url", "created_at"}
PUBLIC_KEYS = {"id", "username", "name", "country", "is_premium", "avatar_url"}

# A real 1x1 PNG (RGBA, one transparent pixel).
PNG_1X1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082")
JPEG_HEAD = bytes.fromhex("ffd8ffe000104a46494600010100000100010000") + b"\x00" * 64 + b"\xff\xd9"
GIF_1X1 = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00," \
          b"\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
WEBP_HEAD = b"RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00\x2f\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00"


# --------------------------------------------------------------------------- the server and mail



@pytest.fixture(scope="module")
def srv(mail):
    s = start_server({
        "CLIENT_ORIGIN": "http://app.example",
        "JWT_SECRET": "test-secret-0123456789abcdef",
        "PASSWORD_HASH_COST": "min",
        "AUTH_REQUIRE_VERIFIED_EMAIL": "false",
        "LOGIN_IP_LIMIT": 1000000,  # every login here comes from 127.0.0.1
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": mail[0],
        "MAIL_STARTTLS": "false",
        "MAIL_POLL_INTERVAL": "200ms",
    })
    s.wait_db_ready()
    s.maildir = mail[1]
    yield s
    probs = s.finish()
    if probs:
        pytest.fail("\n".join(probs))


def _code_in_maildir(maildir, address):
    found = None
    for name in sorted(os.listdir(maildir)):
        if not name.endswith(".eml"):
            continue
        with open(os.path.join(maildir, name), "rb") as f:
            msg = email.message_from_binary_file(f, policy=email.policy.default)
        if address.lower() not in [a.strip().lower() for a in str(msg.get("X-Envelope-To", "")).split(",")]:
            continue
        m = re.search(r"\b(\d{6})\b", (msg.get_body(preferencelist=("plain",)) or msg).get_content())
        if m:
            found = m.group(1)
    return found


def _code_in_outbox(address):
    body = psql("SELECT body_text FROM mail_outbox WHERE lower(to_addr) = lower('%s') ORDER BY id DESC LIMIT 1"
                % address.replace("'", "''"))
    m = re.search(r"\b(\d{6})\b", body)
    return m.group(1) if m else None


def mail_code(srv, address, timeout=10.0):
    """The code of the newest mail to address (addresses here are unique per test). The outbox is
    shared by every server on the database, and a server without MAIL_SERVER (the session's) may
    be the one that sends it, so the outbox row counts as well as the sink's folder."""
    deadline = time.monotonic() + timeout
    while True:
        code = _code_in_maildir(srv.maildir, address) or _code_in_outbox(address)
        if code:
            return code
        if time.monotonic() > deadline:
            raise AssertionError("no mail with a code to %s" % address)
        time.sleep(0.1)


def outbox_last_id():
    return int(psql("SELECT coalesce(max(id), 0) FROM mail_outbox"))


# --------------------------------------------------------------------------- helpers

def call(srv, method, path, token=None, body=None, headers=None, raw=None):
    h = dict(headers or {})
    if token:
        h["Authorization"] = "Bearer " + token
    data = raw
    if body is not None:
        data = json.dumps(body).encode()
        h.setdefault("Content-Type", "application/json")
    st, hdrs, out = http(method, srv.url + path, headers=h, body=data)
    return st, hdrs, out


def ok_json(resp, status=200):
    st, h, body = resp
    assert st == status, (st, body)
    assert h.get("content-type", "").startswith("application/json"), h
    return json.loads(body)


def problem(resp, status, code=None):
    st, h, body = resp
    assert st == status, (st, body)
    assert h.get("content-type", "").startswith("application/problem+json"), h
    doc = json.loads(body)
    if code:
        assert doc["code"] == code, doc
    return doc


def field_codes(doc):
    return {(e["field"], e["code"]) for e in doc.get("errors", [])}


def unique(prefix="u"):
    return "%s%s" % (prefix, uuid.uuid4().hex[:12])


def login(srv, login_name, password=PASSWORD):
    st, _, body = call(srv, "POST", "/api/v1/auth/login", body={"email": login_name, "password": password})
    assert st == 200, (st, body)
    return json.loads(body)["access_token"]


def new_user(srv, **fields):
    """Registers and logs in a fresh user: {"id", "email", "token", ...the user object}."""
    addr = fields.pop("email", None) or unique() + "@example.com"
    body = {"email": addr, "password": PASSWORD}
    body.update(fields)
    user = ok_json(call(srv, "POST", "/api/v1/auth/register", body=body), 201)
    user["token"] = login(srv, addr)
    return user


def make_admin(srv):
    u = new_user(srv)
    psql("UPDATE users SET role = 'admin' WHERE id = %d" % u["id"])
    u["token"] = login(srv, u["email"])  # the role is in the token: log in again
    return u


@pytest.fixture(scope="module")
def admin(srv):
    return make_admin(srv)


# --------------------------------------------------------------------------- GET/PATCH /users/me

def test_me_requires_a_token(srv):
    st, h, _ = call(srv, "GET", "/api/v1/users/me")
    assert st == 401 and "bearer" in h.get("www-authenticate", "").lower()
    problem(call(srv, "GET", "/api/v1/users/me", token="not-a-token"), 401)


def test_me_get(srv):
    u = new_user(srv, username=unique("me"), name="Me Myself")
    me = ok_json(call(srv, "GET", "/api/v1/users/me", u["token"]))
    assert set(me) == USER_KEYS, me
    assert me["id"] == u["id"] and me["email"] == u["email"] and me["name"] == "Me Myself"
    assert me["role"] == "user" and me["is_premium"] is False and me["avatar_url"] is None
    assert "password" not in json.dumps(me)


def test_me_patch_fields_and_null_clears(srv):
    u = new_user(srv, name="Before", phone="+7 900 000-00-00")
    uname = unique("pat")
    body = {"username": uname, "name": "Ирина Петрова", "first_name": "Ирина", "last_name": "Петрова",
            "middle_name": "Сергеевна", "date_of_birth": "1990-02-28", "country": "Russia", "phone": None}
    me = ok_json(call(srv, "PATCH", "/api/v1/users/me", u["token"], body))
    for k, v in body.items():
        assert me[k] == v, (k, me)
    assert me["email"] == u["email"]
    again = ok_json(call(srv, "GET", "/api/v1/users/me", u["token"]))
    assert again == me
    cleared = ok_json(call(srv, "PATCH", "/api/v1/users/me", u["token"], {"country": None, "date_of_birth": None}))
    assert cleared["country"] is None and cleared["date_of_birth"] is None and cleared["name"] == "Ирина Петрова"


def test_me_patch_empty_body_is_unchanged(srv):
    u = new_user(srv, name="Same")
    before = ok_json(call(srv, "GET", "/api/v1/users/me", u["token"]))
    assert ok_json(call(srv, "PATCH", "/api/v1/users/me", u["token"], raw=b"")) == before
    assert ok_json(call(srv, "PATCH", "/api/v1/users/me", u["token"], {})) == before


def test_me_patch_validation(srv):
    u = new_user(srv)
    doc = problem(call(srv, "PATCH", "/api/v1/users/me", u["token"],
                       {"email": "x@example.com", "username": "", "name": "n" * 201, "phone": "1" * 33,
                        "date_of_birth": "1990-02-30", "country": 5, "role": "admin"}), 422, "validation_failed")
    assert field_codes(doc) >= {("email", "unknown_field"), ("username", "too_short"), ("name", "too_long"),
                                ("phone", "too_long"), ("date_of_birth", "invalid_format"),
                                ("country", "wrong_type"), ("role", "unknown_field")}, doc
    # limits count characters, not bytes
    ok_json(call(srv, "PATCH", "/api/v1/users/me", u["token"], {"first_name": "Я" * 100}))
    doc = problem(call(srv, "PATCH", "/api/v1/users/me", u["token"], {"first_name": "Я" * 101}), 422)
    assert field_codes(doc) == {("first_name", "too_long")}
    problem(call(srv, "PATCH", "/api/v1/users/me", u["token"], raw=b"{nope",
                 headers={"Content-Type": "application/json"}), 400, "malformed_json")
    me = ok_json(call(srv, "GET", "/api/v1/users/me", u["token"]))
    assert me["role"] == "user"


def test_me_patch_username_taken_case_insensitive(srv):
    name = unique("Taken")
    new_user(srv, username=name)
    u = new_user(srv)
    problem(call(srv, "PATCH", "/api/v1/users/me", u["token"], {"username": name.upper()}), 409, "username_taken")
    # one's own name in another case is not "taken"
    own = unique("Own")
    ok_json(call(srv, "PATCH", "/api/v1/users/me", u["token"], {"username": own}))
    me = ok_json(call(srv, "PATCH", "/api/v1/users/me", u["token"], {"username": own.upper()}))
    assert me["username"] == own.upper()


# --------------------------------------------------------------------------- passwords

def test_password_check(srv):
    u = new_user(srv)
    st, _, body = call(srv, "POST", "/api/v1/users/me/password/check", u["token"], {"password": PASSWORD})
    assert st == 204 and body == b""
    problem(call(srv, "POST", "/api/v1/users/me/password/check", u["token"], {"password": "Wrong-pass1"}),
            403, "wrong_password")
    doc = problem(call(srv, "POST", "/api/v1/users/me/password/check", u["token"], {}), 422)
    assert field_codes(doc) == {("password", "required")}
    problem(call(srv, "POST", "/api/v1/users/me/password/check", None, {"password": PASSWORD}), 401)


def test_password_change_policy(srv):
    u = new_user(srv)
    doc = problem(call(srv, "PUT", "/api/v1/users/me/password", u["token"],
                       {"current_password": PASSWORD, "new_password": "short"}), 422, "validation_failed")
    codes = field_codes(doc)
    assert ("new_password", "too_short") in codes and ("new_password", "no_upper") in codes, doc
    assert all(f == "new_password" for f, _ in codes), doc
    doc = problem(call(srv, "PUT", "/api/v1/users/me/password", u["token"], {"new_password": NEW_PASSWORD}), 422)
    assert field_codes(doc) == {("current_password", "required")}
    # policy comes before the password check: a weak new password with a wrong current one is 422
    problem(call(srv, "PUT", "/api/v1/users/me/password", u["token"],
                 {"current_password": "Wrong-pass1", "new_password": "weak"}), 422)
    problem(call(srv, "PUT", "/api/v1/users/me/password", u["token"],
                 {"current_password": "Wrong-pass1", "new_password": NEW_PASSWORD}), 403, "wrong_password")
    login(srv, u["email"], PASSWORD)


def test_password_change_revokes_other_sessions(srv):
    u = new_user(srv)
    other = login(srv, u["email"])
    st, _, body = call(srv, "PUT", "/api/v1/users/me/password", u["token"],
                       {"current_password": PASSWORD, "new_password": NEW_PASSWORD})
    assert st == 204, body
    ok_json(call(srv, "GET", "/api/v1/users/me", u["token"]))  # this session stays
    problem(call(srv, "GET", "/api/v1/users/me", other), 401, "session_revoked")
    problem(call(srv, "POST", "/api/v1/auth/login", body={"email": u["email"], "password": PASSWORD}),
            401, "invalid_credentials")
    login(srv, u["email"], NEW_PASSWORD)
    st, _, _ = call(srv, "POST", "/api/v1/users/me/password/check", u["token"], {"password": NEW_PASSWORD})
    assert st == 204


def test_password_recheck_locks_after_wrong_passwords(make_server):
    """Wrong passwords on every route that asks for it again count per account; over the
    threshold all of them answer 429 until the oldest failure leaves the window, the right
    password too. Logins have their own count, and other accounts are not touched."""
    s = make_server(JWT_SECRET="test-secret-0123456789abcdef", PASSWORD_HASH_COST="min",
                    AUTH_REQUIRE_VERIFIED_EMAIL="false", LOGIN_IP_LIMIT="1000000",
                    LOGIN_LOCKOUT_THRESHOLD="3", LOGIN_LOCKOUT_WINDOW="3s")
    u, other = new_user(s), new_user(s)
    wrong = "Wrong-pass1"
    problem(call(s, "POST", "/api/v1/users/me/password/check", u["token"], {"password": wrong}), 403,
            "wrong_password")
    problem(call(s, "PUT", "/api/v1/users/me/password", u["token"],
                 {"current_password": wrong, "new_password": NEW_PASSWORD}), 403, "wrong_password")
    problem(call(s, "DELETE", "/api/v1/users/me", u["token"], {"password": wrong}), 403, "wrong_password")
    locked = [
        ("POST", "/api/v1/users/me/password/check", {"password": PASSWORD}),
        ("PUT", "/api/v1/users/me/password", {"current_password": PASSWORD, "new_password": NEW_PASSWORD}),
        ("POST", "/api/v1/users/me/email", {"new_email": unique() + "@example.com", "password": PASSWORD}),
        ("DELETE", "/api/v1/users/me", {"password": PASSWORD}),
    ]
    retry = 0
    for method, path, body in locked:
        resp = call(s, method, path, u["token"], body)
        problem(resp, 429, "rate_limited")
        ra = resp[1].get("retry-after", "")
        assert re.fullmatch(r"\d+", ra) and 1 <= int(ra) <= 3, resp
        retry = max(retry, int(ra))
    ok_json(call(s, "GET", "/api/v1/users/me", u["token"]))  # the account itself still works
    login(s, u["email"])  # logins have their own count
    st, _, _ = call(s, "POST", "/api/v1/users/me/password/check", other["token"], {"password": PASSWORD})
    assert st == 204
    time.sleep(retry + 0.3)
    st, _, body = call(s, "POST", "/api/v1/users/me/password/check", u["token"], {"password": PASSWORD})
    assert st == 204, body
    assert psql("SELECT count(*) FROM users WHERE id = %d" % u["id"]) == "1"  # nothing went through


def test_password_recheck_right_passwords_do_not_count(make_server):
    s = make_server(JWT_SECRET="test-secret-0123456789abcdef", PASSWORD_HASH_COST="min",
                    AUTH_REQUIRE_VERIFIED_EMAIL="false", LOGIN_IP_LIMIT="1000000",
                    LOGIN_LOCKOUT_THRESHOLD="3", LOGIN_LOCKOUT_WINDOW="60s")
    u = new_user(s)
    for _ in range(5):
        st, _, body = call(s, "POST", "/api/v1/users/me/password/check", u["token"], {"password": PASSWORD})
        assert st == 204, body
    for _ in range(2):
        problem(call(s, "POST", "/api/v1/users/me/password/check", u["token"], {"password": "Wrong-pass1"}),
                403, "wrong_password")
    st, _, body = call(s, "POST", "/api/v1/users/me/password/check", u["token"], {"password": PASSWORD})
    assert st == 204, body


# --------------------------------------------------------------------------- DELETE /users/me

def test_delete_me(srv):
    u = new_user(srv)
    other = login(srv, u["email"])
    problem(call(srv, "DELETE", "/api/v1/users/me", u["token"], {"password": "Wrong-pass1"}), 403, "wrong_password")
    doc = problem(call(srv, "DELETE", "/api/v1/users/me", u["token"]), 422)
    assert field_codes(doc) == {("password", "required")}
    ok_json(call(srv, "PUT", "/api/v1/users/me/avatar", u["token"], raw=PNG_1X1,
                 headers={"Content-Type": "image/png"}))
    st, h, body = call(srv, "DELETE", "/api/v1/users/me", u["token"], {"password": PASSWORD})
    assert st == 204 and body == b""
    assert "access_token=;" in h.get("set-cookie", ""), h
    for token in (u["token"], other):
        problem(call(srv, "GET", "/api/v1/users/me", token), 401, "session_revoked")
    problem(call(srv, "POST", "/api/v1/auth/login", body={"email": u["email"], "password": PASSWORD}), 401)
    problem(call(srv, "GET", "/api/v1/users/%d" % u["id"]), 404, "not_found")
    problem(call(srv, "GET", "/api/v1/users/%d/avatar" % u["id"]), 404, "not_found")
    assert psql("SELECT count(*) FROM sessions WHERE user_id = %d" % u["id"]) == "0"
    # the address is free again
    new_user(srv, email=u["email"])


# --------------------------------------------------------------------------- e-mail change

def test_email_change_and_confirm(srv):
    u = new_user(srv, name="Changer")
    new_addr = unique("new") + "@example.org"
    before = outbox_last_id()
    st, _, body = call(srv, "POST", "/api/v1/users/me/email", u["token"], {"new_email": new_addr, "password": PASSWORD})
    assert st == 202, body
    code = mail_code(srv, new_addr)
    # the code goes to the new address only
    assert psql("SELECT count(*) FROM mail_outbox WHERE id > %d AND lower(to_addr) = lower('%s')"
                % (before, u["email"])) == "0"
    wrong = "000000" if code != "000000" else "111111"
    problem(call(srv, "POST", "/api/v1/users/me/email/confirm", u["token"], {"code": wrong}), 400, "invalid_code")
    me = ok_json(call(srv, "POST", "/api/v1/users/me/email/confirm", u["token"], {"code": code}))
    assert me["email"] == new_addr and me["email_verified"] is True and set(me) == USER_KEYS
    # used up
    problem(call(srv, "POST", "/api/v1/users/me/email/confirm", u["token"], {"code": code}), 400, "invalid_code")
    login(srv, new_addr)
    problem(call(srv, "POST", "/api/v1/auth/login", body={"email": u["email"], "password": PASSWORD}), 401)


def test_email_change_errors(srv):
    u = new_user(srv)
    other = new_user(srv)
    problem(call(srv, "POST", "/api/v1/users/me/email", u["token"],
                 {"new_email": unique() + "@example.org", "password": "Wrong-pass1"}), 403, "wrong_password")
    problem(call(srv, "POST", "/api/v1/users/me/email", u["token"],
                 {"new_email": other["email"].upper(), "password": PASSWORD}), 409, "email_taken")
    doc = problem(call(srv, "POST", "/api/v1/users/me/email", u["token"], {"new_email": "not-an-address"}), 422)
    assert field_codes(doc) == {("new_email", "invalid_format"), ("password", "required")}
    doc = problem(call(srv, "POST", "/api/v1/users/me/email/confirm", u["token"], {}), 422)
    assert field_codes(doc) == {("code", "required")}
    # no change asked for: any code is invalid
    problem(call(srv, "POST", "/api/v1/users/me/email/confirm", u["token"], {"code": "123456"}), 400, "invalid_code")


def test_email_change_code_expired(srv):
    u = new_user(srv)
    addr = unique("exp") + "@example.org"
    assert call(srv, "POST", "/api/v1/users/me/email", u["token"], {"new_email": addr, "password": PASSWORD})[0] == 202
    code = mail_code(srv, addr)
    psql("UPDATE auth_codes SET expires_at = now() - interval '1 second' WHERE user_id = %d AND purpose = 'email'"
         % u["id"])
    problem(call(srv, "POST", "/api/v1/users/me/email/confirm", u["token"], {"code": code}), 410, "code_expired")
    assert ok_json(call(srv, "GET", "/api/v1/users/me", u["token"]))["email"] == u["email"]


def test_email_change_taken_meanwhile(srv):
    u = new_user(srv)
    addr = unique("race") + "@example.org"
    assert call(srv, "POST", "/api/v1/users/me/email", u["token"], {"new_email": addr, "password": PASSWORD})[0] == 202
    code = mail_code(srv, addr)
    new_user(srv, email=addr)
    problem(call(srv, "POST", "/api/v1/users/me/email/confirm", u["token"], {"code": code}), 409, "email_taken")


def test_email_change_mail_quota_per_address(srv):
    # Mail to one address is bounded like the other codes (MAIL_QUOTA_PER_MINUTE, default 1).
    u = new_user(srv)
    addr = unique("quota") + "@example.org"
    assert call(srv, "POST", "/api/v1/users/me/email", u["token"], {"new_email": addr, "password": PASSWORD})[0] == 202
    st, h, body = call(srv, "POST", "/api/v1/users/me/email", u["token"], {"new_email": addr, "password": PASSWORD})
    problem((st, h, body), 429, "rate_limited")
    assert h.get("retry-after", "").isdigit() and 1 <= int(h["retry-after"]) <= 60, h


def test_email_change_mail_in_russian(srv):
    u = new_user(srv)
    addr = unique("ru") + "@example.org"
    st, _, _ = call(srv, "POST", "/api/v1/users/me/email", u["token"], {"new_email": addr, "password": PASSWORD},
                    headers={"Accept-Language": "ru"})
    assert st == 202
    assert re.fullmatch(r"\d{6}", mail_code(srv, addr))


# --------------------------------------------------------------------------- avatars

def multipart(field, filename, content, ctype="application/octet-stream", extra=None):
    boundary = "----hg" + uuid.uuid4().hex
    parts = []
    for name, value in (extra or {}).items():
        parts.append(("--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n"
                      % (boundary, name, value)).encode())
    if field:
        parts.append(("--%s\r\nContent-Disposition: form-data; name=\"%s\"; filename=\"%s\"\r\n"
                      "Content-Type: %s\r\n\r\n" % (boundary, field, filename, ctype)).encode() + content + b"\r\n")
    body = b"".join(parts) + ("--%s--\r\n" % boundary).encode()
    return body, {"Content-Type": "multipart/form-data; boundary=%s" % boundary}


def put_avatar(srv, token, content, ctype="image/png", field=None, filename="a.png"):
    if field:
        body, headers = multipart(field, filename, content, ctype)
    else:
        body, headers = content, {"Content-Type": ctype}
    return call(srv, "PUT", "/api/v1/users/me/avatar", token, raw=body, headers=headers)


def get_avatar(srv, user_id, headers=None):
    return http("GET", srv.url + "/api/v1/users/%d/avatar" % user_id, headers=headers or {})


def test_avatar_raw_png_etag_and_304(srv):
    u = new_user(srv)
    me = ok_json(put_avatar(srv, u["token"], PNG_1X1))
    assert set(me) == USER_KEYS and me["avatar_url"], me
    etag = hashlib.sha256(PNG_1X1).hexdigest()
    assert me["avatar_url"].startswith("/api/v1/users/%d/avatar" % u["id"]), me
    st, h, body = http("GET", srv.url + me["avatar_url"])
    assert st == 200 and body == PNG_1X1, (st, h)
    assert h["content-type"] == "image/png"
    assert h["etag"] == '"%s"' % etag, h
    assert h["cache-control"] == "public, max-age=86400", h
    # anonymous, and anyone else, may read it
    other = new_user(srv)
    st, _, body = http("GET", srv.url + "/api/v1/users/%d/avatar" % u["id"],
                       headers={"Authorization": "Bearer " + other["token"]})
    assert st == 200 and body == PNG_1X1
    for inm in ('"%s"' % etag, 'W/"%s"' % etag, '"x", "%s"' % etag, "*"):
        st, h, body = get_avatar(srv, u["id"], {"If-None-Match": inm})
        assert st == 304 and body == b"", (inm, st, body)
        assert h["etag"] == '"%s"' % etag and h["cache-control"] == "public, max-age=86400", h
    st, _, body = get_avatar(srv, u["id"], {"If-None-Match": '"%s"' % ("0" * 64)})
    assert st == 200 and body == PNG_1X1
    st, h, body = http("HEAD", srv.url + "/api/v1/users/%d/avatar" % u["id"])
    assert st == 200 and body == b"" and h["content-length"] == str(len(PNG_1X1)), h
    # one's own, through /users/me/avatar
    st, h, body = http("GET", srv.url + "/api/v1/users/me/avatar", headers={"Authorization": "Bearer " + u["token"]})
    assert st == 200 and body == PNG_1X1 and h["content-type"] == "image/png"
    # the public profile shows it too
    assert ok_json(call(srv, "GET", "/api/v1/users/%d" % u["id"]))["avatar_url"] == me["avatar_url"]


def test_avatar_multipart_fields_and_sniffed_type(srv):
    u = new_user(srv)
    me = ok_json(put_avatar(srv, u["token"], JPEG_HEAD, "image/jpeg", field="file", filename="me.jpg"))
    st, h, body = get_avatar(srv, u["id"])
    assert st == 200 and h["content-type"] == "image/jpeg" and body == JPEG_HEAD
    # `photo` works as well; the type stored is what the bytes are, not what was declared
    me2 = ok_json(put_avatar(srv, u["token"], GIF_1X1, "image/png", field="photo", filename="x.png"))
    assert me2["avatar_url"] != me["avatar_url"], "the URL changes with the image"
    st, h, body = get_avatar(srv, u["id"])
    assert st == 200 and h["content-type"] == "image/gif" and body == GIF_1X1
    assert h["etag"] == '"%s"' % hashlib.sha256(GIF_1X1).hexdigest()
    ok_json(put_avatar(srv, u["token"], WEBP_HEAD, "image/png"))
    st, h, body = get_avatar(srv, u["id"])
    assert st == 200 and h["content-type"] == "image/webp" and body == WEBP_HEAD
    # other form fields next to the file are ignored
    body, headers = multipart("file", "a.png", PNG_1X1, "image/png", extra={"note": "hello"})
    ok_json(call(srv, "PUT", "/api/v1/users/me/avatar", u["token"], raw=body, headers=headers))
    assert get_avatar(srv, u["id"])[2] == PNG_1X1


def test_avatar_not_an_image(srv):
    u = new_user(srv)
    forged = b"this is only text, whatever its name says\n"
    problem(put_avatar(srv, u["token"], forged, "image/png", field="file", filename="cat.png"),
            415, "unsupported_media_type")
    problem(put_avatar(srv, u["token"], forged, "image/png"), 415, "unsupported_media_type")
    problem(put_avatar(srv, u["token"], PNG_1X1, "text/plain"), 415, "unsupported_media_type")
    problem(put_avatar(srv, u["token"], PNG_1X1, "application/octet-stream"), 415, "unsupported_media_type")
    problem(put_avatar(srv, u["token"], b"", "image/png"), 415, "unsupported_media_type")
    body, headers = multipart(None, None, None, extra={"name": "x"})
    doc = problem(call(srv, "PUT", "/api/v1/users/me/avatar", u["token"], raw=body, headers=headers), 422)
    assert field_codes(doc) == {("file", "required")}
    problem(call(srv, "PUT", "/api/v1/users/me/avatar", u["token"], raw=b"--x\r\ngarbage",
                 headers={"Content-Type": "multipart/form-data; boundary=x"}), 400)
    assert ok_json(call(srv, "GET", "/api/v1/users/me", u["token"]))["avatar_url"] is None
    problem(put_avatar(srv, None, PNG_1X1), 401)


def test_avatar_exactly_2_mib_is_accepted(srv):
    u = new_user(srv)
    data = PNG_1X1 + b"\x00" * (AVATAR_MAX - len(PNG_1X1))
    ok_json(put_avatar(srv, u["token"], data, "image/png", field="file"))
    st, h, body = get_avatar(srv, u["id"])
    assert st == 200 and len(body) == AVATAR_MAX and body == data
    assert h["etag"] == '"%s"' % hashlib.sha256(data).hexdigest()


def test_avatar_file_over_2_mib(srv):
    u = new_user(srv)
    data = PNG_1X1 + b"\x00" * (AVATAR_MAX + 1 - len(PNG_1X1))
    # the limit is on the file, not on the envelope: this multipart body fits the route's limit
    problem(put_avatar(srv, u["token"], data, "image/png", field="file"), 413, "payload_too_large")
    problem(put_avatar(srv, u["token"], data, "image/png"), 413, "payload_too_large")
    assert ok_json(call(srv, "GET", "/api/v1/users/me", u["token"]))["avatar_url"] is None


def _expect_continue(srv, token, length, ctype):
    """Sends only the head with Expect: 100-continue; returns the first answer."""
    with Conn(srv.port) as c:
        c.send(("PUT /api/v1/users/me/avatar HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer %s\r\n"
                "Content-Type: %s\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n"
                % (token, ctype, length)).encode())
        return c.read_response(timeout=5)


def test_avatar_too_large_refused_before_the_body(srv):
    u = new_user(srv)
    r = _expect_continue(srv, u["token"], AVATAR_ROUTE_LIMIT + 1, "multipart/form-data; boundary=x")
    assert r.status == 413, r
    assert r.json()["code"] == "payload_too_large"
    # an honest client is let in
    r = _expect_continue(srv, u["token"], len(PNG_1X1), "image/png")
    assert r.status == 100, r


def test_avatar_raw_over_2_mib_refused_before_the_body(srv):
    u = new_user(srv)
    r = _expect_continue(srv, u["token"], AVATAR_MAX + 1, "image/png")
    assert r.status == 413, r


def test_avatar_delete(srv):
    u = new_user(srv)
    ok_json(put_avatar(srv, u["token"], PNG_1X1))
    st, _, body = call(srv, "DELETE", "/api/v1/users/me/avatar", u["token"])
    assert st == 204 and body == b""
    problem(get_avatar(srv, u["id"]), 404, "not_found")
    assert ok_json(call(srv, "GET", "/api/v1/users/me", u["token"]))["avatar_url"] is None
    # idempotent: deleting no avatar is 204 as well
    assert call(srv, "DELETE", "/api/v1/users/me/avatar", u["token"])[0] == 204
    problem(call(srv, "DELETE", "/api/v1/users/me/avatar"), 401)


def test_avatar_of_nobody(srv):
    u = new_user(srv)
    problem(get_avatar(srv, u["id"]), 404, "not_found")
    for path in ("/api/v1/users/999999999999/avatar", "/api/v1/users/abc/avatar", "/api/v1/users/0/avatar",
                 "/api/v1/users/-1/avatar", "/api/v1/users/99999999999999999999999/avatar"):
        problem(http("GET", srv.url + path), 404, "not_found")
    problem(http("GET", srv.url + "/api/v1/users/me/avatar"), 401)


# --------------------------------------------------------------------------- public profiles and the list

def test_public_profile(srv):
    u = new_user(srv, username=unique("pub"), name="Public Person", country="Norway", phone="123")
    viewer = new_user(srv)
    for token in (None, viewer["token"]):
        p = ok_json(call(srv, "GET", "/api/v1/users/%d" % u["id"], token))
        assert set(p) == PUBLIC_KEYS, p
        assert p == {"id": u["id"], "username": u["username"], "name": "Public Person", "country": "Norway",
                     "is_premium": False, "avatar_url": None}
    for path in ("/api/v1/users/999999999999", "/api/v1/users/abc", "/api/v1/users/0", "/api/v1/users/1.5"):
        problem(http("GET", srv.url + path), 404, "not_found")


def test_another_users_sessions_are_not_mine(srv):
    a = new_user(srv)
    b = new_user(srv)
    sessions = ok_json(call(srv, "GET", "/api/v1/auth/sessions", b["token"]))["items"]
    assert sessions
    # b's public profile is readable, b's sessions are not a's to end
    ok_json(call(srv, "GET", "/api/v1/users/%d" % b["id"], a["token"]))
    problem(call(srv, "DELETE", "/api/v1/auth/sessions/%d" % sessions[0]["id"], a["token"]), 404)
    ok_json(call(srv, "GET", "/api/v1/users/me", b["token"]))


@pytest.fixture(scope="module")
def crowd(srv):
    """Five users sharing a tag in their names, for the list filters."""
    tag = uuid.uuid4().hex[:8]
    specs = [("Alpha %s" % tag, "RU", False), ("beta_%s" % tag, "ru", True), ("Gamma%%%s" % tag, "DE", False),
             ("delta %s" % tag, None, True), ("Epsilon %s" % tag, "DE", False)]
    users = []
    for name, country, premium in specs:
        u = new_user(srv, name=name, username=unique("crowd"), **({"country": country} if country else {}))
        if premium:
            psql("UPDATE users SET is_premium = true WHERE id = %d" % u["id"])
        users.append(u)
    return tag, users


def list_users(srv, query, token=None, path="/api/v1/users"):
    return ok_json(call(srv, "GET", path + "?" + query, token))


def test_list_envelope_and_public_fields(srv, crowd):
    tag, users = crowd
    doc = list_users(srv, "q=" + tag)
    assert set(doc) == {"items", "next_cursor"} and doc["next_cursor"] is None
    assert [i["id"] for i in doc["items"]] == [u["id"] for u in users]
    for item in doc["items"]:
        assert set(item) == PUBLIC_KEYS, item
    assert "@" not in json.dumps(doc)


def test_list_search_is_case_insensitive_on_name_and_username(srv, crowd):
    tag, users = crowd
    assert [i["id"] for i in list_users(srv, "q=ALPHA+" + tag.upper())["items"]] == [users[0]["id"]]
    uname = users[3]["username"]
    assert [i["id"] for i in list_users(srv, "q=" + uname[2:].upper())["items"]] == [users[3]["id"]]


def test_list_search_takes_wildcards_literally(srv, crowd):
    tag, users = crowd
    # '%' and '_' are characters to look for, not LIKE wildcards
    assert [i["id"] for i in list_users(srv, "q=%25" + tag)["items"]] == [users[2]["id"]]
    assert [i["id"] for i in list_users(srv, "q=_" + tag)["items"]] == [users[1]["id"]]
    assert list_users(srv, "q=%25%25" + tag)["items"] == []
    assert list_users(srv, "q=a%5C" + tag)["items"] == []


def test_list_filters(srv, crowd):
    tag, users = crowd
    de = [i["id"] for i in list_users(srv, "q=%s&country=de" % tag)["items"]]
    assert de == [users[2]["id"], users[4]["id"]]
    ru = [i["id"] for i in list_users(srv, "q=%s&country=RU" % tag)["items"]]
    assert ru == [users[0]["id"], users[1]["id"]]
    prem = list_users(srv, "q=%s&is_premium=true" % tag)["items"]
    assert [i["id"] for i in prem] == [users[1]["id"], users[3]["id"]] and all(i["is_premium"] for i in prem)
    free = [i["id"] for i in list_users(srv, "q=%s&is_premium=false&country=DE" % tag)["items"]]
    assert free == [users[2]["id"], users[4]["id"]]
    assert list_users(srv, "q=%s&country=Atlantis" % tag)["items"] == []
    # an empty filter is no filter
    assert len(list_users(srv, "q=%s&country=&is_premium=" % tag)["items"]) == 5


def test_list_pages_with_cursor(srv, crowd):
    tag, users = crowd
    seen, cursor, pages = [], None, 0
    while True:
        doc = list_users(srv, "q=%s&limit=2%s" % (tag, "&cursor=" + cursor if cursor else ""))
        pages += 1
        assert len(doc["items"]) <= 2
        seen += [i["id"] for i in doc["items"]]
        cursor = doc["next_cursor"]
        if cursor is None:
            break
        assert isinstance(cursor, str)
    assert seen == [u["id"] for u in users] and pages == 3
    # exactly one full page: no cursor
    assert list_users(srv, "q=%s&limit=5" % tag)["next_cursor"] is None
    everyone = list_users(srv, "limit=200")
    ids = [i["id"] for i in everyone["items"]]
    assert ids == sorted(ids)


@pytest.mark.parametrize("query,field,code", [
    ("limit=0", "limit", "too_small"), ("limit=201", "limit", "too_large"), ("limit=abc", "limit", "wrong_type"),
    ("limit=", "limit", "wrong_type"), ("limit=-5", "limit", "too_small"), ("cursor=abc", "cursor", "invalid_format"),
    ("cursor=-1", "cursor", "invalid_format"), ("is_premium=yes", "is_premium", "wrong_type"),
    ("q=" + "x" * 201, "q", "too_long"), ("country=" + "x" * 101, "country", "too_long"),
    ("q=%FF", "q", "invalid_format")])
def test_list_bad_query(srv, query, field, code):
    doc = problem(http("GET", srv.url + "/api/v1/users?" + query), 422, "validation_failed")
    assert (field, code) in field_codes(doc), doc


def test_list_reports_every_bad_parameter(srv):
    doc = problem(http("GET", srv.url + "/api/v1/users?limit=0&cursor=x&is_premium=1"), 422)
    assert {f for f, _ in field_codes(doc)} == {"limit", "cursor", "is_premium"}


# --------------------------------------------------------------------------- admin

ADMIN_ROUTES = [("GET", "/api/v1/admin/users", None), ("GET", "/api/v1/admin/users/1", None),
                ("PATCH", "/api/v1/admin/users/1", {"is_premium": True}), ("DELETE", "/api/v1/admin/users/1", None)]


@pytest.mark.parametrize("method,path,body", ADMIN_ROUTES)
def test_admin_routes_refuse_others(srv, method, path, body):
    problem(call(srv, method, path, None, body), 401)
    u = new_user(srv)
    problem(call(srv, method, path, u["token"], body), 403, "forbidden")
    psql("UPDATE users SET role = 'staff' WHERE id = %d" % u["id"])
    problem(call(srv, method, path, login(srv, u["email"]), body), 403, "forbidden")


def test_admin_list_full_objects_and_email_filter(srv, admin, crowd):
    tag, users = crowd
    doc = list_users(srv, "q=" + tag, admin["token"], "/api/v1/admin/users")
    assert [i["id"] for i in doc["items"]] == [u["id"] for u in users]
    for item in doc["items"]:
        assert set(item) == USER_KEYS, item
    target = users[3]
    doc = list_users(srv, "email=" + target["email"].upper(), admin["token"], "/api/v1/admin/users")
    assert [i["id"] for i in doc["items"]] == [target["id"]] and doc["items"][0]["email"] == target["email"]
    part = target["email"].split("@")[0][2:]
    assert [i["id"] for i in list_users(srv, "email=" + part, admin["token"], "/api/v1/admin/users")["items"]] \
        == [target["id"]]
    doc = list_users(srv, "q=%s&is_premium=true&limit=1" % tag, admin["token"], "/api/v1/admin/users")
    assert [i["id"] for i in doc["items"]] == [users[1]["id"]] and doc["next_cursor"]
    doc = list_users(srv, "q=%s&is_premium=true&limit=1&cursor=%s" % (tag, doc["next_cursor"]), admin["token"],
                     "/api/v1/admin/users")
    assert [i["id"] for i in doc["items"]] == [users[3]["id"]] and doc["next_cursor"] is None
    problem(call(srv, "GET", "/api/v1/admin/users?limit=500", admin["token"]), 422, "validation_failed")
    # the public list knows no e-mail filter: it is ignored, never a way to probe addresses
    pub = list_users(srv, "q=%s&email=%s" % (tag, target["email"]))
    assert len(pub["items"]) == 5


def test_admin_get_user(srv, admin):
    u = new_user(srv, name="Seen By Admin")
    got = ok_json(call(srv, "GET", "/api/v1/admin/users/%d" % u["id"], admin["token"]))
    assert set(got) == USER_KEYS and got["email"] == u["email"] and got["name"] == "Seen By Admin"
    problem(call(srv, "GET", "/api/v1/admin/users/999999999999", admin["token"]), 404, "not_found")
    problem(call(srv, "GET", "/api/v1/admin/users/abc", admin["token"]), 404, "not_found")


def test_admin_patch_fields_keep_sessions(srv, admin):
    u = new_user(srv)
    got = ok_json(call(srv, "PATCH", "/api/v1/admin/users/%d" % u["id"], admin["token"],
                       {"is_premium": True, "name": "Premium Now", "email_verified": True}))
    assert got["is_premium"] is True and got["name"] == "Premium Now" and got["email_verified"] is True
    assert got["role"] == "user"
    me = ok_json(call(srv, "GET", "/api/v1/users/me", u["token"]))  # no role change: the session stays
    assert me["is_premium"] is True
    got = ok_json(call(srv, "PATCH", "/api/v1/admin/users/%d" % u["id"], admin["token"], {"name": None}))
    assert got["name"] is None and got["is_premium"] is True
    # the same role again is no change either
    ok_json(call(srv, "PATCH", "/api/v1/admin/users/%d" % u["id"], admin["token"], {"role": "user"}))
    ok_json(call(srv, "GET", "/api/v1/users/me", u["token"]))
    assert ok_json(call(srv, "PATCH", "/api/v1/admin/users/%d" % u["id"], admin["token"], {}))["id"] == u["id"]


def test_admin_patch_validation(srv, admin):
    u = new_user(srv)
    path = "/api/v1/admin/users/%d" % u["id"]
    doc = problem(call(srv, "PATCH", path, admin["token"],
                       {"role": "root", "is_premium": "yes", "email": "x@y.z", "email_verified": None}), 422)
    assert field_codes(doc) == {("role", "invalid_choice"), ("is_premium", "wrong_type"), ("email", "unknown_field"),
                                ("email_verified", "required")}
    doc = problem(call(srv, "PATCH", path, admin["token"], {"role": None}), 422)
    assert field_codes(doc) == {("role", "required")}
    problem(call(srv, "PATCH", "/api/v1/admin/users/999999999999", admin["token"], {"name": "x"}), 404, "not_found")


def test_admin_role_change_revokes_sessions(srv, admin):
    u = new_user(srv)
    second = login(srv, u["email"])
    got = ok_json(call(srv, "PATCH", "/api/v1/admin/users/%d" % u["id"], admin["token"], {"role": "admin"}))
    assert got["role"] == "admin"
    # tokens with the old role are refused at once
    for token in (u["token"], second):
        problem(call(srv, "GET", "/api/v1/users/me", token), 401, "session_revoked")
    # a new login carries the new role
    token = login(srv, u["email"])
    ok_json(call(srv, "GET", "/api/v1/admin/users?limit=1", token))
    ok_json(call(srv, "PATCH", "/api/v1/admin/users/%d" % u["id"], admin["token"], {"role": "staff"}))
    problem(call(srv, "GET", "/api/v1/admin/users?limit=1", token), 401, "session_revoked")
    token = login(srv, u["email"])
    problem(call(srv, "GET", "/api/v1/admin/users?limit=1", token), 403, "forbidden")
    assert ok_json(call(srv, "GET", "/api/v1/users/me", token))["role"] == "staff"


def test_admin_delete_user(srv, admin):
    u = new_user(srv)
    ok_json(put_avatar(srv, u["token"], PNG_1X1))
    st, _, body = call(srv, "DELETE", "/api/v1/admin/users/%d" % u["id"], admin["token"])
    assert st == 204 and body == b""
    problem(call(srv, "GET", "/api/v1/users/me", u["token"]), 401, "session_revoked")
    problem(call(srv, "GET", "/api/v1/admin/users/%d" % u["id"], admin["token"]), 404)
    problem(call(srv, "GET", "/api/v1/users/%d/avatar" % u["id"]), 404)
    problem(call(srv, "DELETE", "/api/v1/admin/users/%d" % u["id"], admin["token"]), 404, "not_found")
    problem(call(srv, "POST", "/api/v1/auth/login", body={"email": u["email"], "password": PASSWORD}), 401)


def test_admin_sees_changes_made_by_the_user(srv, admin):
    u = new_user(srv)
    ok_json(call(srv, "PATCH", "/api/v1/users/me", u["token"], {"country": "Chile"}))
    got = ok_json(call(srv, "GET", "/api/v1/admin/users/%d" % u["id"], admin["token"]))
    assert got["country"] == "Chile"
