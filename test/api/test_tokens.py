"""Access tokens signed with a key pair (RS256, ES256), and keys that cannot work."""
import base64
import json
import os
import subprocess
import tempfile
import uuid

import pytest

from conftest import BIN, DB_URL, http

ENV = {"AUTH_REQUIRE_VERIFIED_EMAIL": "false", "LOGIN_IP_LIMIT": "100000"}


def keypair(kind):
    d = tempfile.mkdtemp(prefix="hg-keys-")
    priv, pub = os.path.join(d, "private.pem"), os.path.join(d, "public.pem")
    if kind == "ES256":
        subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", priv], check=True)
    else:
        subprocess.run(["openssl", "genrsa", "-out", priv, "2048"], check=True, capture_output=True)
    subprocess.run(["openssl", "pkey", "-in", priv, "-pubout", "-out", pub], check=True)
    return priv, pub


def header_of(token):
    h = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(h + "=" * (-len(h) % 4)))


@pytest.mark.parametrize("alg", ["ES256", "RS256"])
def test_key_pair_tokens(make_server, alg):
    priv, pub = keypair(alg)
    # the private key as a file path, the public key as PEM text: both forms work
    s = make_server(JWT_ALGORITHM=alg, JWT_PRIVATE_KEY=priv, JWT_PUBLIC_KEY=open(pub).read(), JWT_SECRET="", **ENV)
    s.wait_db_ready()
    email = "%s-%s@example.com" % (alg.lower(), uuid.uuid4().hex[:8])
    body = json.dumps({"email": email, "password": "Keypair-pass-1"}).encode()
    assert http("POST", s.url + "/api/v1/auth/register", {"Content-Type": "application/json"}, body)[0] == 201
    st, _, b = http("POST", s.url + "/api/v1/auth/login", {"Content-Type": "application/json"}, body)
    assert st == 200, b
    token = json.loads(b)["access_token"]
    assert header_of(token)["alg"] == alg
    assert http("GET", s.url + "/api/v1/users/me", {"Authorization": "Bearer " + token})[0] == 200
    # a token of the HS256 server (another key, another algorithm) is refused here
    t = make_server(**ENV)
    t.wait_db_ready()
    st, _, b = http("POST", t.url + "/api/v1/auth/login", {"Content-Type": "application/json"}, body)
    assert st == 200, b
    hs_token = json.loads(b)["access_token"]
    assert header_of(hs_token)["alg"] == "HS256"
    st, _, b = http("GET", s.url + "/api/v1/users/me", {"Authorization": "Bearer " + hs_token})
    assert st == 401 and json.loads(b)["code"] == "invalid_token"


def run_serve(env_overrides):
    env = dict(os.environ)
    env.update({"DATABASE_URL": DB_URL, "PORT": "1", "HOST": "127.0.0.1"})
    env.update(env_overrides)
    p = subprocess.run([BIN, "serve"], env=env, capture_output=True, timeout=20, cwd="/tmp")
    return p.returncode, p.stderr.decode()


def test_serve_refuses_to_start_without_a_usable_key():
    rc, err = run_serve({"JWT_SECRET": ""})
    assert rc == 2 and err.startswith("config: JWT_SECRET"), err
    rc, err = run_serve({"JWT_SECRET": "short"})
    assert rc == 2 and "JWT_SECRET" in err, err
    rc, err = run_serve({"JWT_ALGORITHM": "ES256", "JWT_PRIVATE_KEY": "/nonexistent.pem", "JWT_PUBLIC_KEY": "/x.pem"})
    assert rc == 2 and "JWT_PRIVATE_KEY" in err, err
    rc, err = run_serve({"JWT_ALGORITHM": "RS256", "JWT_PRIVATE_KEY": "", "JWT_PUBLIC_KEY": ""})
    assert rc == 2 and "JWT_PRIVATE_KEY" in err, err
    priv, pub = keypair("ES256")
    other_priv, other_pub = keypair("ES256")
    rc, err = run_serve({"JWT_ALGORITHM": "ES256", "JWT_PRIVATE_KEY": priv, "JWT_PUBLIC_KEY": other_pub})
    assert rc == 2 and err.startswith("config: JWT_") and "verif" in err, err
