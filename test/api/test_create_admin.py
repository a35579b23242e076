"""hourglass create-admin EMAIL: the first administrator of a deployment."""
import base64
import json
import os
import subprocess
import uuid

from conftest import BIN, DB_URL, http, psql


def run_create_admin(email, password, timeout=60):
    env = dict(os.environ)
    env["DATABASE_URL"] = DB_URL
    p = subprocess.run([BIN, "create-admin", email], input=(password + "\n").encode(), env=env,
                       capture_output=True, timeout=timeout, cwd="/tmp")
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def jwt_claims(token):
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_create_admin_then_login(make_server):
    email = "boss-%s@example.com" % uuid.uuid4().hex[:10]
    rc, out, err = run_create_admin(email, "Admin-pass-1")
    assert rc == 0, err
    assert out.startswith("created admin %s" % email), out
    assert "Admin-pass-1" not in out + err
    row = psql("SELECT role, email_verified, password_hash <> 'Admin-pass-1' FROM users WHERE email = '%s'" % email)
    assert row.strip() == "admin|t|t", row
    s = make_server()
    st, _, body = http("POST", s.url + "/api/v1/auth/login",
                       {"Content-Type": "application/json"},
                       json.dumps({"email": email, "password": "Admin-pass-1"}).encode())
    assert st == 200, body
    assert jwt_claims(json.loads(body)["access_token"])["role"] == "admin"


def test_create_admin_promotes_an_existing_user_and_sets_the_password(make_server):
    email = "promote-%s@example.com" % uuid.uuid4().hex[:10]
    assert run_create_admin(email, "First-pass-1")[0] == 0
    psql("UPDATE users SET role = 'user' WHERE email = '%s'" % email)
    rc, out, err = run_create_admin(email.upper(), "Second-pass-2")
    assert rc == 0, err
    assert out.startswith("promoted admin"), out
    assert psql("SELECT count(*), max(role) FROM users WHERE lower(email) = lower('%s')" % email).strip() == "1|admin"
    s = make_server()
    st, _, _ = http("POST", s.url + "/api/v1/auth/login", {"Content-Type": "application/json"},
                    json.dumps({"email": email, "password": "Second-pass-2"}).encode())
    assert st == 200


def test_create_admin_refuses_weak_password_and_bad_email():
    rc, out, err = run_create_admin("weak-%s@example.com" % uuid.uuid4().hex[:8], "weak")
    assert rc == 2
    assert "too_short" in err and "no_upper" in err and "no_digit" in err
    rc, out, err = run_create_admin("not-an-email", "Admin-pass-1")
    assert rc == 2 and "e-mail" in err
