"""A revoked session's access token is refused on every instance, at once."""
import json
import time
import uuid

from conftest import http

ENV = {"AUTH_REQUIRE_VERIFIED_EMAIL": "false", "LOGIN_IP_LIMIT": "100000"}


def register_and_login(base):
    email = "rev-%s@example.com" % uuid.uuid4().hex[:10]
    body = json.dumps({"email": email, "password": "Revoke-pass-1"}).encode()
    st, _, b = http("POST", base + "/api/v1/auth/register", {"Content-Type": "application/json"}, body)
    assert st == 201, b
    st, _, b = http("POST", base + "/api/v1/auth/login", {"Content-Type": "application/json"}, body)
    assert st == 200, b
    return json.loads(b)


def sessions(base, token):
    return http("GET", base + "/api/v1/auth/sessions", {"Authorization": "Bearer " + token})


def wait_refused(base, token, within):
    deadline = time.monotonic() + within
    while True:
        st, _, body = sessions(base, token)
        if st == 401:
            return json.loads(body)["code"]
        assert time.monotonic() < deadline, "still accepted on the other instance: %s" % st
        time.sleep(0.02)


def test_logout_on_one_instance_is_refused_on_another(make_server):
    a = make_server(**ENV)
    b = make_server(**ENV)
    a.wait_db_ready()
    b.wait_db_ready()
    pair = register_and_login(a.url)
    token = pair["access_token"]
    assert sessions(b.url, token)[0] == 200
    st, _, _ = http("POST", a.url + "/api/v1/auth/logout", {"Authorization": "Bearer " + token})
    assert st == 204
    # the instance that revoked refuses at once, on every worker
    for _ in range(10):
        assert sessions(a.url, token)[0] == 401
    # the other learns it through NOTIFY
    assert wait_refused(b.url, token, within=1.0) == "session_revoked"


def test_instance_started_later_knows_earlier_revocations(make_server):
    a = make_server(**ENV)
    a.wait_db_ready()
    pair = register_and_login(a.url)
    token = pair["access_token"]
    st, _, _ = http("POST", a.url + "/api/v1/auth/logout-all", {"Authorization": "Bearer " + token})
    assert st == 204
    c = make_server(**ENV)
    c.wait_db_ready()
    # it missed the NOTIFY, so it reloads recent revocations when it starts listening
    assert wait_refused(c.url, token, within=2.0) == "session_revoked"


def test_password_reset_elsewhere_revokes_tokens_here(make_server):
    a = make_server(**ENV)
    b = make_server(**ENV)
    a.wait_db_ready()
    b.wait_db_ready()
    pair = register_and_login(a.url)
    token = pair["access_token"]
    other = json.loads(http("POST", a.url + "/api/v1/auth/login", {"Content-Type": "application/json"},
                            json.dumps({"email": sessions_email(a.url, token),
                                        "password": "Revoke-pass-1"}).encode())[2])
    body = json.dumps({"current_password": "Revoke-pass-1", "new_password": "Revoke-pass-2"}).encode()
    st, _, b2 = http("PUT", b.url + "/api/v1/users/me/password",
                     {"Authorization": "Bearer " + other["access_token"], "Content-Type": "application/json"}, body)
    assert st == 204, b2
    # the other sessions end; the one that changed the password goes on
    assert wait_refused(a.url, token, within=1.0) == "session_revoked"
    assert sessions(a.url, other["access_token"])[0] == 200


def sessions_email(base, token):
    st, _, body = http("GET", base + "/api/v1/users/me", {"Authorization": "Bearer " + token})
    assert st == 200, body
    return json.loads(body)["email"]
