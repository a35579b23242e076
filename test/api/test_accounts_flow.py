"""Accounts end to end, with the real mailer and the SMTP sink: the issue's must-haves."""
import email
import glob
import json
import os
import re
import time
import uuid

import pytest

from conftest import db_url_for, http, psql

MAILDIR = os.environ.get("HG_MAILDIR")
pytestmark = pytest.mark.skipif(not (MAILDIR and os.environ.get("HG_SMTP_PORT")),
                                reason="needs the SMTP sink of scripts/test")

JSON = {"Content-Type": "application/json"}
PASSWORD = "Flow-pass-123"
ORIGIN = "http://app.example"


def post(base, path, body=None, headers=None):
    h = dict(JSON)
    h.update(headers or {})
    st, hd, b = http("POST", base + path, h, json.dumps(body).encode() if body is not None else b"")
    return st, hd, (json.loads(b) if b else None)


def bearer(token):
    return {"Authorization": "Bearer " + token}


def new_email(tag="flow"):
    return "%s-%s@example.com" % (tag, uuid.uuid4().hex[:10])


def codes_for(address):
    found = []
    for path in sorted(glob.glob(os.path.join(MAILDIR, "*.eml"))):
        with open(path, "rb") as f:
            msg = email.message_from_bytes(f.read())
        if address in (msg.get("X-Envelope-To") or ""):
            found.append(re.search(r"\b(\d{6})\b", msg.get_payload(decode=True).decode()).group(1))
    return found


def wait_code(address, count=1, timeout=8.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = codes_for(address)
        if len(got) >= count:
            return got[-1]
        time.sleep(0.1)
    raise AssertionError("no mail with a code reached %s" % address)


@pytest.fixture(scope="module")
def srv():
    from conftest import Server
    s = Server({"CLIENT_ORIGIN": ORIGIN, "LOGIN_IP_LIMIT": "100000"})
    s.wait_ready()
    s.wait_db_ready()
    yield s
    probs = s.finish()
    if probs:
        pytest.fail("\n".join(probs))


def registered(base, verify=True):
    address = new_email()
    st, hd, user = post(base, "/api/v1/auth/register", {"email": address, "password": PASSWORD, "name": "Flow"})
    assert st == 201, user
    if verify:
        st, _, body = post(base, "/api/v1/auth/verify-email", {"email": address, "code": wait_code(address)})
        assert st == 200, body
    return address, user


def login(base, address, password=PASSWORD, headers=None):
    return post(base, "/api/v1/auth/login", {"email": address, "password": password}, headers)


def test_register_mail_verify_login_refresh_logout(srv):
    address = new_email()
    st, hd, user = post(srv.url, "/api/v1/auth/register", {"email": address, "password": PASSWORD, "name": "Ann"})
    assert st == 201 and hd["location"] == "/api/v1/users/%d" % user["id"]
    assert user["email_verified"] is False and "password" not in json.dumps(user)
    code = wait_code(address)
    st, _, body = login(srv.url, address)
    assert st == 403 and body["code"] == "email_not_verified"
    st, _, user = post(srv.url, "/api/v1/auth/verify-email", {"email": address, "code": code})
    assert st == 200 and user["email_verified"] is True
    st, hd, pair = login(srv.url, address)
    assert st == 200 and pair["token_type"] == "bearer" and pair["expires_in"] > 0
    st, _, me = http("GET", srv.url + "/api/v1/users/me", bearer(pair["access_token"]))
    assert st == 200 and json.loads(me)["email"] == address
    st, _, fresh = post(srv.url, "/api/v1/auth/refresh", {"refresh_token": pair["refresh_token"]})
    assert st == 200 and fresh["refresh_token"] != pair["refresh_token"]
    st, _, _ = post(srv.url, "/api/v1/auth/logout", None, bearer(fresh["access_token"]))
    assert st == 204
    for token in (fresh["access_token"], pair["access_token"]):  # same session: both refused
        st, _, body = http("GET", srv.url + "/api/v1/users/me", bearer(token))
        assert st == 401 and json.loads(body)["code"] == "session_revoked"
    st, _, body = post(srv.url, "/api/v1/auth/refresh", {"refresh_token": fresh["refresh_token"]})
    assert st == 401


def test_register_conflicts_and_validation(srv):
    address, user = registered(srv.url, verify=False)
    st, _, body = post(srv.url, "/api/v1/auth/register", {"email": address.upper(), "password": PASSWORD})
    assert st == 409 and body["code"] == "email_taken"
    name = "user%s" % uuid.uuid4().hex[:8]
    assert post(srv.url, "/api/v1/auth/register", {"email": new_email(), "password": PASSWORD, "username": name})[0] == 201
    st, _, body = post(srv.url, "/api/v1/auth/register", {"email": new_email(), "password": PASSWORD,
                                                         "username": name.upper()})
    assert st == 409 and body["code"] == "username_taken"
    st, _, body = post(srv.url, "/api/v1/auth/register", {"email": "nope", "password": "short",
                                                         "password_confirm": "other", "extra": 1})
    assert st == 422 and body["code"] == "validation_failed"
    got = {(e["field"], e["code"]) for e in body["errors"]}
    assert {("email", "invalid_format"), ("extra", "unknown_field"), ("password", "too_short"),
            ("password", "no_upper"), ("password", "no_digit"), ("password", "no_symbol"),
            ("password_confirm", "mismatch")} <= got
    st, _, body = post(srv.url, "/api/v1/auth/register", {"email": new_email(), "password": "Пароль-123"})
    assert st == 201, body
    st, _, body = post(srv.url, "/api/v1/auth/register", {"password": PASSWORD},
                       {"Accept-Language": "ru"})
    assert st == 422 and body["errors"][0] == {"field": "email", "code": "required",
                                               "message": "обязательное поле"}
    st, hd, b = http("POST", srv.url + "/api/v1/auth/register", JSON, b"{broken")
    assert st == 400 and json.loads(b)["code"] == "malformed_json"
    st, hd, b = http("POST", srv.url + "/api/v1/auth/register", {"Content-Type": "text/plain"}, b"hi")
    assert st == 415


def test_codes_wrong_dead_and_replaced(srv):
    address, _ = registered(srv.url, verify=False)
    first = wait_code(address)
    wrong = "000000" if first != "000000" else "111111"
    st, _, body = post(srv.url, "/api/v1/auth/verify-email", {"email": address, "code": wrong})
    assert st == 400 and body["code"] == "invalid_code"
    st, _, _ = post(srv.url, "/api/v1/auth/resend-verification", {"email": address})
    assert st == 202
    second = wait_code(address, count=2)
    if second != first:  # a new code replaces the old one
        st, _, body = post(srv.url, "/api/v1/auth/verify-email", {"email": address, "code": first})
        assert st == 400
    for _ in range(5):
        post(srv.url, "/api/v1/auth/verify-email", {"email": address, "code": wrong})
    st, _, body = post(srv.url, "/api/v1/auth/verify-email", {"email": address, "code": second})
    assert st == 400 and body["code"] == "invalid_code", "a code is dead after 5 wrong tries"
    st, _, _ = post(srv.url, "/api/v1/auth/resend-verification", {"email": new_email("nobody")})
    assert st == 202


def test_code_expires(make_server):
    s = make_server(AUTH_CODE_TTL="1s")
    s.wait_db_ready()
    address, _ = registered(s.url, verify=False)
    code = wait_code(address)
    time.sleep(1.3)
    st, _, body = post(s.url, "/api/v1/auth/verify-email", {"email": address, "code": code})
    assert st == 410 and body["code"] == "code_expired"


def test_unknown_user_and_wrong_password_answer_alike(srv):
    address, _ = registered(srv.url)
    st1, h1, b1 = login(srv.url, address, "Wrong-pass-123")
    st2, h2, b2 = login(srv.url, new_email("ghost"), "Wrong-pass-123")
    assert st1 == st2 == 401
    assert h1["www-authenticate"] == h2["www-authenticate"] == "Bearer"
    assert {k: b1[k] for k in ("code", "title", "detail")} == {k: b2[k] for k in ("code", "title", "detail")}
    assert b1["code"] == "invalid_credentials"


def test_login_forms(srv):
    address, _ = registered(srv.url)
    st, _, b = http("POST", srv.url + "/api/v1/auth/login", {"Content-Type": "application/x-www-form-urlencoded"},
                    ("grant_type=password&username=%s&password=%s" % (address.replace("@", "%40"), PASSWORD)).encode())
    assert st == 200 and json.loads(b)["access_token"]
    boundary = "----hg%s" % uuid.uuid4().hex
    form = ("--%s\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\n%s\r\n"
            "--%s\r\nContent-Disposition: form-data; name=\"password\"\r\n\r\n%s\r\n--%s--\r\n"
            % (boundary, address, boundary, PASSWORD, boundary)).encode()
    st, hd, b = http("POST", srv.url + "/api/v1/auth/login",
                     {"Content-Type": "multipart/form-data; boundary=" + boundary}, form)
    assert st == 200, b
    cookies = hd["set-cookie"] if isinstance(hd["set-cookie"], str) else "\n".join(hd["set-cookie"])
    assert "access_token=" in cookies and "HttpOnly" in cookies and "SameSite=Lax" in cookies
    assert "Secure" not in cookies


def test_lockout_and_retry_after(make_server):
    s = make_server(LOGIN_LOCKOUT_THRESHOLD="3", LOGIN_LOCKOUT_WINDOW="2s", LOGIN_IP_LIMIT="100000")
    s.wait_db_ready()
    address, _ = registered(s.url)
    for _ in range(2):
        assert login(s.url, address, "Wrong-pass-123")[0] == 401
    assert login(s.url, address)[0] == 200  # a success clears the count
    for _ in range(3):
        assert login(s.url, address, "Wrong-pass-123")[0] == 401
    st, hd, body = login(s.url, address)  # the right password, but locked
    assert st == 429 and body["code"] == "rate_limited"
    assert 1 <= int(hd["retry-after"]) <= 2
    time.sleep(2.1)
    assert login(s.url, address)[0] == 200


def test_ip_ceiling(make_server):
    # Attempts are counted in PostgreSQL, across every server sharing it (that is
    # the point); this one gets a database of its own so other tests do not count.
    dbname = "ipceil_%s" % uuid.uuid4().hex[:8]
    psql("CREATE DATABASE %s" % dbname)
    s = make_server(LOGIN_IP_LIMIT="5", DATABASE_URL=db_url_for(dbname))
    s.wait_db_ready()
    statuses = [login(s.url, new_email("ip"), "Wrong-pass-123")[0] for _ in range(6)]
    assert statuses[:5] == [401] * 5 and statuses[5] == 429


def test_refresh_grace_then_reuse_revokes(make_server):
    s = make_server(REFRESH_REUSE_GRACE="1s", LOGIN_IP_LIMIT="100000")
    s.wait_db_ready()
    address, _ = registered(s.url)
    pair = login(s.url, address)[2]
    st, _, first = post(s.url, "/api/v1/auth/refresh", {"refresh_token": pair["refresh_token"]})
    assert st == 200
    st, _, again = post(s.url, "/api/v1/auth/refresh", None, bearer(pair["refresh_token"]))
    assert st == 200 and again["refresh_token"] == first["refresh_token"], "two tabs get the same pair"
    time.sleep(1.2)
    st, _, body = post(s.url, "/api/v1/auth/refresh", {"refresh_token": pair["refresh_token"]})
    assert st == 401 and body["code"] == "token_reused"
    st, _, body = http("GET", s.url + "/api/v1/users/me", bearer(first["access_token"]))
    assert st == 401 and json.loads(body)["code"] == "session_revoked"
    st, _, body = post(s.url, "/api/v1/auth/refresh", {"refresh_token": first["refresh_token"]})
    assert st == 401
    st, _, body = post(s.url, "/api/v1/auth/refresh", {"refresh_token": "not-a-token"})
    assert st == 401 and body["code"] == "invalid_token"


def test_cookies_and_origin_rule(srv):
    address, _ = registered(srv.url)
    st, hd, pair = login(srv.url, address)
    cookie = "access_token=%s; refresh_token=%s" % (pair["access_token"], pair["refresh_token"])
    st, _, _ = http("GET", srv.url + "/api/v1/auth/sessions", {"Cookie": cookie})
    assert st == 200
    st, _, body = post(srv.url, "/api/v1/auth/refresh", None, {"Cookie": cookie})
    assert st == 403 and body["code"] == "origin_not_allowed"
    st, _, body = post(srv.url, "/api/v1/auth/logout", None, {"Cookie": cookie, "Origin": "http://evil.example"})
    assert st == 403 and body["code"] == "origin_not_allowed"
    st, _, fresh = post(srv.url, "/api/v1/auth/refresh", None, {"Cookie": cookie, "Origin": ORIGIN})
    assert st == 200
    cookie = "access_token=" + fresh["access_token"]
    st, hd, _ = post(srv.url, "/api/v1/auth/logout", None, {"Cookie": cookie, "Origin": ORIGIN})
    assert st == 204
    cleared = hd["set-cookie"] if isinstance(hd["set-cookie"], str) else "\n".join(hd["set-cookie"])
    assert "access_token=;" in cleared and "Max-Age=0" in cleared
    st, _, _ = http("GET", srv.url + "/api/v1/auth/sessions", {"Authorization": "Bearer garbage"})
    assert st == 401
    st, hd, body = http("GET", srv.url + "/api/v1/auth/sessions")
    assert st == 401 and json.loads(body)["code"] == "not_authenticated" and hd["www-authenticate"] == "Bearer"


def test_sessions_list_delete_and_other_users(srv):
    address, _ = registered(srv.url)
    one = login(srv.url, address)[2]
    two = login(srv.url, address)[2]
    st, _, body = http("GET", srv.url + "/api/v1/auth/sessions", bearer(one["access_token"]))
    page = json.loads(body)
    assert st == 200 and page["next_cursor"] is None and len(page["items"]) == 2
    assert sorted(i["current"] for i in page["items"]) == [False, True]
    other_id = [i["id"] for i in page["items"] if not i["current"]][0]
    stranger, _ = registered(srv.url)
    stranger_token = login(srv.url, stranger)[2]["access_token"]
    st, _, _ = http("DELETE", srv.url + "/api/v1/auth/sessions/%d" % other_id, bearer(stranger_token))
    assert st == 404, "another user's session id is not found"
    st, _, _ = http("DELETE", srv.url + "/api/v1/auth/sessions/%d" % other_id, bearer(one["access_token"]))
    assert st == 204
    assert http("GET", srv.url + "/api/v1/users/me", bearer(two["access_token"]))[0] == 401
    assert http("DELETE", srv.url + "/api/v1/auth/sessions/abc", bearer(one["access_token"]))[0] == 404
    st, _, _ = post(srv.url, "/api/v1/auth/logout-all", None, bearer(one["access_token"]))
    assert st == 204 and http("GET", srv.url + "/api/v1/users/me", bearer(one["access_token"]))[0] == 401


def test_forgot_and_reset_password(srv):
    address, _ = registered(srv.url)
    old = login(srv.url, address)[2]
    assert post(srv.url, "/api/v1/auth/forgot-password", {"email": new_email("unknown")})[0] == 202
    assert post(srv.url, "/api/v1/auth/forgot-password", {"email": address})[0] == 202
    code = wait_code(address, count=2)
    st, _, body = post(srv.url, "/api/v1/auth/reset-password", {"email": address, "code": code,
                                                                "new_password": "weak"})
    assert st == 422 and {e["field"] for e in body["errors"]} == {"new_password"}
    st, _, body = post(srv.url, "/api/v1/auth/reset-password", {"email": address, "code": "999999" if code != "999999" else "111111",
                                                                "new_password": "Reset-pass-456"})
    assert st == 400 and body["code"] == "invalid_code"
    st, _, _ = post(srv.url, "/api/v1/auth/reset-password", {"email": address, "code": code,
                                                             "new_password": "Reset-pass-456"})
    assert st == 204
    assert http("GET", srv.url + "/api/v1/users/me", bearer(old["access_token"]))[0] == 401
    assert login(srv.url, address)[0] == 401
    assert login(srv.url, address, "Reset-pass-456")[0] == 200


def test_mail_refused_for_a_while_arrives_once(srv):
    refuse = os.path.join(MAILDIR, ".refuse")
    open(refuse, "w").close()
    try:
        address = new_email("refused")
        assert post(srv.url, "/api/v1/auth/register", {"email": address, "password": PASSWORD})[0] == 201
        time.sleep(1.0)
        assert codes_for(address) == []
    finally:
        os.remove(refuse)
    wait_code(address)
    time.sleep(1.0)
    assert len(codes_for(address)) == 1
