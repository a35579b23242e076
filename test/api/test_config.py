"""Configuration: environment, --config FILE, errors, and secrets kept out of the logs."""

import json
import os
import re
import subprocess
import time
import urllib.parse

import pytest

from conftest import (BIN, DB_URL, PGPORT, Conn, assert_problem, free_port, get_request, http, port_accepts)

SECRET = "SekretPw123"


def run_bin(env_overrides, args=("serve",), wait=6.0):
    """Run the binary expecting it to exit by itself; returns (rc, stdout, stderr, elapsed)."""
    env = dict(os.environ)
    env.update({"HOST": "127.0.0.1", "PORT": str(free_port()), "WORKERS": "1", "LOG_LEVEL": "info"})
    if DB_URL:
        env["DATABASE_URL"] = DB_URL
    for k, v in env_overrides.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    t0 = time.monotonic()
    p = subprocess.Popen([BIN] + list(args), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         stdin=subprocess.DEVNULL, cwd="/tmp")
    try:
        out, err = p.communicate(timeout=wait)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        pytest.fail("hourglass %s did not exit within %ss with %s; stderr:\n%s"
                    % (" ".join(args), wait, env_overrides, err.decode(errors="replace")[-2000:]))
    return p.returncode, out.decode(errors="replace"), err.decode(errors="replace"), time.monotonic() - t0


def assert_config_error(rc, err, elapsed, name):
    lines = [l for l in err.splitlines() if l.strip()]
    assert rc == 2, "exit code %s, stderr:\n%s" % (rc, err)
    assert len(lines) == 1, "expected exactly one stderr line, got:\n%s" % err
    assert lines[0].startswith("config: %s: " % name), lines[0]
    assert elapsed < 3, "config error took %.1fs" % elapsed
    return lines[0]


@pytest.mark.parametrize("name,value", [
    ("WORKERS", "abc"), ("WORKERS", "0"), ("WORKERS", "65"), ("WORKERS", "-1"),
    ("PORT", "70000"), ("PORT", "abc"), ("PORT", "-1"),
    ("LOG_FORMAT", "xml"), ("LOG_LEVEL", "loud"),
    ("HTTP_MAX_BODY_SIZE", "-1"), ("HTTP_MAX_BODY_SIZE", "12q"),
    ("HTTP_MAX_HEADER_SIZE", "huge"), ("HTTP_MAX_CONNECTIONS", "abc"),
    ("HTTP_IDLE_TIMEOUT", "soon"), ("HTTP_HEADER_TIMEOUT", "-5s"), ("HTTP_REQUEST_TIMEOUT", "10x"),
    ("SHUTDOWN_TIMEOUT", "abc"), ("DB_POOL_SIZE", "abc"), ("DB_QUEUE_SIZE", "abc"),
    ("DB_STARTUP_TIMEOUT", "abc"),
])
def test_bad_value_exits_with_one_line(name, value):
    rc, out, err, elapsed = run_bin({name: value})
    assert_config_error(rc, err, elapsed, name)


@pytest.mark.parametrize("command", ["serve", "migrate"])
def test_missing_database_url(command):
    env = {k: None for k in ("DATABASE_URL", "POSTGRES_HOST", "POSTGRES_USER", "POSTGRES_PASSWORD",
                             "POSTGRES_DB", "DATABASE_PORT")}
    rc, out, err, elapsed = run_bin(env, args=(command,))
    assert_config_error(rc, err, elapsed, "DATABASE_URL")


@pytest.mark.parametrize("command", ["serve", "migrate"])
@pytest.mark.parametrize("url", ["host=127.0.0.1 password %s" % SECRET,
                                 "postgresql://postgres:%s%%zz@127.0.0.1/x" % SECRET,
                                 "postgresql://postgres:%s@127.0.0.1/x?nosuchoption=1" % SECRET])
def test_malformed_database_url(command, url):
    """A string libpq cannot read is a configuration error: one line at once, not a wait
    for DB_STARTUP_TIMEOUT as if the database were down, and none of the string repeated."""
    rc, out, err, elapsed = run_bin({"DATABASE_URL": url}, args=(command,))
    assert_config_error(rc, err, elapsed, "DATABASE_URL")
    assert SECRET not in out + err, err


def test_postgres_variables_instead_of_url(make_server):
    u = urllib.parse.urlsplit(DB_URL)
    s = make_server(DATABASE_URL=None, POSTGRES_HOST=u.hostname or "127.0.0.1",
                    DATABASE_PORT=str(u.port or PGPORT or 5432), POSTGRES_USER=u.username or "postgres",
                    POSTGRES_PASSWORD=SECRET, POSTGRES_DB=u.path.lstrip("/"))
    s.wait_db_ready()
    st, _, body = http("GET", s.url + "/health/ready")
    assert st == 200, body
    assert json.loads(body)["database"] == "ok"
    assert SECRET not in s.log()


def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def test_config_file_is_honoured(make_server, tmp_path):
    p1 = free_port()
    path = _write(tmp_path, "hourglass.conf", "PORT=%d\nCLIENT_ORIGIN=http://file.example\n" % p1)
    s = make_server(_args=["--config", path], _port=p1, _set_port=False)
    assert s.port == p1
    st, h, _ = http("GET", "http://127.0.0.1:%d/health" % p1, headers={"Origin": "http://file.example"})
    assert st == 200
    assert h.get("access-control-allow-origin") == "http://file.example", h


def test_environment_wins_over_config_file(make_server, tmp_path):
    p_file, p_env = free_port(), free_port()
    path = _write(tmp_path, "hourglass.conf", "PORT=%d\nLOG_LEVEL=info\n" % p_file)
    s = make_server(_args=["--config", path], _port=p_env, _set_port=True)
    assert http("GET", "http://127.0.0.1:%d/health" % p_env)[0] == 200
    assert not port_accepts(p_file), "the file's PORT was used although PORT is set in the environment"
    assert re.search(r"listening on 127\.0\.0\.1:%d\b" % p_env, s.log())


def test_config_file_comments_and_blank_lines(make_server, tmp_path):
    p1 = free_port()
    path = _write(tmp_path, "c.conf", "# hourglass settings\n\nPORT=%d\n   \n# WORKERS=abc\n" % p1)
    make_server(_args=["--config", path], _port=p1, _set_port=False)
    assert http("GET", "http://127.0.0.1:%d/health" % p1)[0] == 200


def test_config_file_malformed_line(tmp_path):
    path = _write(tmp_path, "bad.conf", "PORT=8123\nthis line has no equals sign\nWORKERS=1\n")
    rc, out, err, elapsed = run_bin({}, args=("serve", "--config", path))
    lines = [l for l in err.splitlines() if l.strip()]
    assert rc == 2, (rc, err)
    assert len(lines) == 1, err
    assert lines[0].startswith("config: "), lines[0]
    assert path in lines[0], lines[0]
    assert re.search(r"(:2\b|line 2\b)", lines[0]), "line number missing: %s" % lines[0]
    assert elapsed < 3


def test_config_file_bad_value_names_variable(tmp_path):
    path = _write(tmp_path, "bad.conf", "WORKERS=abc\n")
    rc, out, err, elapsed = run_bin({"WORKERS": None}, args=("serve", "--config", path))
    assert_config_error(rc, err, elapsed, "WORKERS")


def test_config_file_missing(tmp_path):
    path = str(tmp_path / "does-not-exist.conf")
    rc, out, err, elapsed = run_bin({}, args=("serve", "--config", path))
    lines = [l for l in err.splitlines() if l.strip()]
    assert rc == 2, (rc, err)
    assert len(lines) == 1 and lines[0].startswith("config: ") and path in lines[0], err


def test_size_and_duration_units(make_server):
    s = make_server(HTTP_MAX_BODY_SIZE="16k", HTTP_MAX_HEADERS="10", HTTP_MAX_URL_SIZE="1k",
                    HTTP_MAX_HEADER_SIZE="4k", HTTP_HEADER_TIMEOUT="500ms", HTTP_IDLE_TIMEOUT="2m",
                    HTTP_REQUEST_TIMEOUT="30", SHUTDOWN_TIMEOUT="5s", DB_STARTUP_TIMEOUT="10s")
    with Conn(s.port) as c:
        c.send(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 16384\r\n\r\n" + b"b" * 16384)
        assert c.read_response().status == 200
    with Conn(s.port) as c:
        c.send(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 16385\r\n\r\n")
        assert_problem(c.read_response(), 413, "payload_too_large")
    with Conn(s.port) as c:
        c.send(get_request("/health", "".join("X-%d: v\r\n" % i for i in range(9))))  # 10 with Host
        assert c.read_response().status == 200
    with Conn(s.port) as c:
        c.send(get_request("/health", "".join("X-%d: v\r\n" % i for i in range(10))))  # 11
        assert_problem(c.read_response(), 431, "headers_too_large")
    with Conn(s.port) as c:
        c.send(get_request("/" + "u" * 900))
        assert c.read_response().status == 404
    with Conn(s.port) as c:
        c.send(get_request("/" + "u" * 1200))
        assert_problem(c.read_response(), 414, "uri_too_long")
    with Conn(s.port) as c:
        c.send(get_request("/health", "X-Pad: %s\r\n" % ("p" * 3000)))
        assert c.read_response().status == 200
    with Conn(s.port) as c:
        c.send(get_request("/health", "X-Pad: %s\r\n" % ("p" * 5000)))
        assert_problem(c.read_response(), 431, "headers_too_large")
    with Conn(s.port) as c:
        c.send(b"GET /health HTTP/1.1\r\n")
        t0 = time.monotonic()
        assert_problem(c.read_response(timeout=3), 408, "request_timeout")
        assert 0.3 <= time.monotonic() - t0 < 1.5


def test_bare_number_is_seconds(make_server):
    s = make_server(HTTP_HEADER_TIMEOUT="1")
    with Conn(s.port) as c:
        c.send(b"GET /health HTTP/1.1\r\n")
        t0 = time.monotonic()
        assert_problem(c.read_response(timeout=4), 408, "request_timeout")
        assert 0.7 <= time.monotonic() - t0 < 2.5


def test_log_format_json(make_server):
    s = make_server(LOG_FORMAT="json")
    rid = "jsonlog-%d" % time.monotonic_ns()
    # "/": health probes (/health) are logged at debug
    assert http("GET", s.url + "/", headers={"X-Request-Id": rid})[0] == 200
    assert s.wait_log(re.escape(rid)), s.log_tail()
    lines = [l for l in s.log().splitlines() if l.strip()]
    assert lines
    for l in lines:
        doc = json.loads(l)
        assert isinstance(doc, dict), l
    assert any(rid in l for l in lines)
    assert any("listening on" in l for l in lines)


def test_log_level_warn_hides_request_lines(make_server):
    s = make_server(LOG_LEVEL="warn")
    rid = "quiet-%d" % time.monotonic_ns()
    assert http("GET", s.url + "/", headers={"X-Request-Id": rid})[0] == 200
    time.sleep(0.5)
    assert rid not in s.log()
    assert "listening on" not in s.log()


def _url_with_password(dbname=None, port=None):
    u = urllib.parse.urlsplit(DB_URL)
    netloc = "%s:%s@%s:%s" % (u.username or "postgres", SECRET, u.hostname or "127.0.0.1",
                                  port or u.port or PGPORT or 5432)
    return urllib.parse.urlunsplit((u.scheme or "postgresql", netloc, dbname or u.path, u.query, ""))


def test_password_never_logged(make_server):
    s = make_server(DATABASE_URL=_url_with_password(), LOG_LEVEL="debug")
    s.wait_db_ready()
    for _ in range(3):
        st, _, body = http("GET", s.url + "/health/ready")
        assert st == 200, body
    assert http("GET", s.url + "/nope")[0] == 404
    assert SECRET not in s.log(), "the database password appears in the log"


def test_password_not_logged_when_database_unreachable():
    rc, out, err, elapsed = run_bin({"DATABASE_URL": _url_with_password(port=free_port()),
                                     "DB_STARTUP_TIMEOUT": "1s", "LOG_LEVEL": "debug"},
                                    args=("migrate",), wait=10)
    assert rc != 0, (rc, err)
    assert SECRET not in out + err, "the database password appears in the output:\n" + err


def test_password_not_logged_for_bad_url():
    rc, out, err, elapsed = run_bin({"DATABASE_URL": "postgresql://postgres:%s@127.0.0.1:notaport/x" % SECRET,
                                     "DB_STARTUP_TIMEOUT": "1s"}, args=("migrate",), wait=10)
    assert rc != 0
    assert SECRET not in out + err, err
