"""Operational routes (/, /health, /health/ready, /metrics) and the non-serving sub-commands."""

import json
import os
import re
import subprocess
import time

import pytest

from conftest import BIN, Conn, free_port, get_request, http, metric_samples, metric_value

TEXT = "text/plain; charset=utf-8"

METRIC_NAMES = ["http_requests_total", "http_request_duration_seconds_bucket", "http_request_duration_seconds_sum",
                "http_request_duration_seconds_count", "http_connections_open", "db_pool_queue_length",
                "db_reconnects_total", "password_hash_arenas", "password_hash_arena_bytes",
                "password_hashes_running", "password_hash_limit"]


def _ctype(h):
    return re.sub(r"\s*;\s*", "; ", h.get("content-type", "")).lower()


@pytest.mark.parametrize("method,path", [("GET", "/"), ("POST", "/"), ("GET", "/health")])
def test_ok_routes(server, method, path):
    st, h, body = http(method, server.url + path, body=b'{"any":"thing"}' if method == "POST" else None)
    assert st == 200, (st, body)
    assert body == b"ok"
    assert _ctype(h) == TEXT, h
    assert h["content-length"] == "2"


def test_post_root_without_body(server):
    with Conn(server.port) as c:
        c.send(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n")
        r = c.read_response()
    assert r.status == 200 and r.body == b"ok"


def test_head_health(server):
    st, h, body = http("HEAD", server.url + "/health")
    assert st == 200
    assert body == b""
    assert h["content-length"] == "2"
    assert _ctype(h) == TEXT


def test_ready(server):
    st, h, body = http("GET", server.url + "/health/ready")
    assert st == 200, body
    assert h.get("content-type", "").split(";")[0].strip() == "application/json", h
    doc = json.loads(body)
    assert doc["status"] == "ok" and doc["database"] == "ok", doc
    assert type(doc["uptime_s"]) is int, doc
    assert 0 <= doc["uptime_s"] < 3600, doc


def test_ready_right_after_listening(make_server):
    # serve prints "listening on" when ready: the database pool must be usable by then
    s = make_server()
    assert s.wait_log(r"listening on"), s.log_tail()
    st, _, body = http("GET", s.url + "/health/ready")
    assert st == 200, "GET /health/ready right after start-up: %s %s" % (st, body)


def test_ready_uptime_counts_seconds(make_server):
    s = make_server()
    _, _, b1 = http("GET", s.url + "/health/ready")
    time.sleep(2.1)
    _, _, b2 = http("GET", s.url + "/health/ready")
    u1, u2 = json.loads(b1)["uptime_s"], json.loads(b2)["uptime_s"]
    assert u1 <= 2, u1
    assert 2 <= u2 - u1 <= 3, (u1, u2)


def _metrics(url):
    st, h, body = http("GET", url + "/metrics")
    assert st == 200, body
    assert h.get("content-type", "").replace(" ", "").lower().startswith("text/plain;version=0.0.4"), h
    return body.decode()


def test_metrics_names_and_types(server):
    http("GET", server.url + "/health")
    assert http("GET", server.url + "/health/ready")[0] == 200
    text = _metrics(server.url)
    for name in METRIC_NAMES:
        assert re.search(r"^%s[{ ]" % name, text, re.M), "metric %s missing:\n%s" % (name, text)
    assert re.search(r'^db_pool_connections\{state="idle"\} ', text, re.M), text
    assert re.search(r'^db_pool_connections\{state="busy"\} ', text, re.M), text
    assert re.search(r"^# TYPE http_requests_total counter$", text, re.M), text
    assert re.search(r"^# TYPE http_request_duration_seconds histogram$", text, re.M), text
    assert re.search(r"^# TYPE db_reconnects_total counter$", text, re.M), text
    assert re.search(r"^# TYPE http_connections_open gauge$", text, re.M), text
    samples = metric_samples(text)
    # the /metrics request's own connection is open
    assert metric_value(samples, "http_connections_open") >= 1
    # idle + busy = the pool (DB_POOL_SIZE 2 x WORKERS 2 by default, but never more)
    idle = metric_value(samples, "db_pool_connections", state="idle")
    busy = metric_value(samples, "db_pool_connections", state="busy")
    assert idle >= 1 and busy >= 0 and idle + busy <= 4, (idle, busy)
    assert metric_value(samples, "db_pool_queue_length") == 0
    assert metric_value(samples, "password_hashes_running") == 0
    # a server this quiet lets every core hash: each read samples the loops
    # since the last (at least 20 ms), so a few reads see the quiet
    deadline = time.monotonic() + 5
    while metric_value(metric_samples(_metrics(server.url)), "password_hash_limit") != os.cpu_count():
        assert time.monotonic() < deadline, "password_hash_limit never reached the core count"
        time.sleep(0.05)


def test_metrics_request_counter_is_exact(make_server):
    s = make_server(WORKERS=1)
    before = metric_samples(_metrics(s.url))
    n = 7
    for _ in range(n):
        assert http("GET", s.url + "/health")[0] == 200
    for _ in range(2):
        assert http("HEAD", s.url + "/health")[0] == 200
    for p in ("/nope-1", "/nope-2", "/api/v1/nope/3"):
        assert http("GET", s.url + p)[0] == 404
    assert http("DELETE", s.url + "/health")[0] == 405
    after_text = _metrics(s.url)
    after = metric_samples(after_text)

    def delta(name, **labels):
        return (metric_value(after, name, **labels) or 0) - (metric_value(before, name, **labels) or 0)

    assert delta("http_requests_total", route="/health", method="GET", status="200") == n, after_text
    assert delta("http_requests_total", route="/health", method="HEAD", status="200") == 2, after_text
    assert delta("http_requests_total", route="unmatched", method="GET", status="404") == 3, after_text
    assert delta("http_requests_total", route="/health", method="DELETE", status="405") == 1, after_text
    # the raw path of an unmatched request never becomes a label
    assert "nope" not in after_text
    # the first /metrics read counts under route="/metrics"
    assert metric_value(after, "http_requests_total", route="/metrics", method="GET", status="200") >= 1

    # histogram for /health: buckets ascending, cumulative, +Inf == _count
    buckets = [(l["le"], v) for name, l, v in after
               if name == "http_request_duration_seconds_bucket" and l.get("route") == "/health"]
    assert len(buckets) >= 5, after_text
    les = [float(le.replace("Inf", "inf")) for le, _ in buckets]
    assert les == sorted(les) and les[-1] == float("inf"), les
    counts = [v for _, v in buckets]
    assert counts == sorted(counts), counts
    count = metric_value(after, "http_request_duration_seconds_count", route="/health")
    assert counts[-1] == count
    assert count >= n + 2 + 1
    hsum = metric_value(after, "http_request_duration_seconds_sum", route="/health")
    assert 0 <= hsum < count * 1.0, hsum
    cdelta = count - (metric_value(before, "http_request_duration_seconds_count", route="/health") or 0)
    assert cdelta == n + 2 + 1, cdelta


def test_metrics_open_connections_gauge(make_server):
    s = make_server(WORKERS=1)
    with Conn(s.port) as m:  # one keep-alive connection reads the gauge; it counts itself

        def gauge():
            m.send(get_request("/metrics"))
            r = m.read_response()
            assert r.status == 200
            return metric_value(metric_samples(r.body.decode()), "http_connections_open")

        def wait_gauge(want):
            deadline = time.monotonic() + 3
            while True:
                now = gauge()
                if now == want:
                    return
                assert time.monotonic() < deadline, "http_connections_open is %s, expected %s" % (now, want)
                time.sleep(0.05)

        wait_gauge(1)  # the start-up probe's connection is gone
        conns = [Conn(s.port) for _ in range(5)]
        try:
            for c in conns:
                c.send(get_request("/health"))
                assert c.read_response().status == 200
            assert gauge() == 6
        finally:
            for c in conns:
                c.close()
        wait_gauge(1)


def test_metrics_password_hash_arenas_kept_then_released(make_server):
    """Hashing reuses one arena per thread while logins come, and gives the
    memory back after about 10-15 s without any (auth_hash.c, http_server.c)."""
    # every test logs in from 127.0.0.1: the per-IP ceiling is not what this test is about
    s = make_server(WORKERS=1, LOGIN_IP_LIMIT="1000000")

    def arenas():
        samples = metric_samples(_metrics(s.url))
        return (metric_value(samples, "password_hash_arenas"), metric_value(samples, "password_hash_arena_bytes"))

    assert arenas() == (0, 0), "the start-up's reference hash keeps no arena"
    login = {"email": "nobody-%d@example.com" % os.getpid(), "password": "Whatever-123"}
    for _ in range(3):  # an unknown user still costs a hash (the dummy)
        st = http("POST", s.url + "/api/v1/auth/login", headers={"Content-Type": "application/json"},
                  body=json.dumps(login).encode())[0]
        assert st == 401, st
    count, size = arenas()
    assert 1 <= count <= 2 and size == count * 8 * 1024, (count, size)  # PASSWORD_HASH_COST=min: 8 KiB
    deadline = time.monotonic() + 25
    while arenas() != (0, 0):
        assert time.monotonic() < deadline, "arenas still kept 25 s after the last hash: %s" % (arenas(),)
        time.sleep(0.5)


def test_request_log_line(server):
    rid = "logline-%d" % time.monotonic_ns()
    st, _, _ = http("GET", server.url + "/", headers={"X-Request-Id": rid})  # /health is logged at debug
    assert st == 200
    m = server.wait_log(r"[^\n]*%s[^\n]*" % re.escape(rid))
    assert m, "no request log line with the request id; tail:\n%s" % server.log_tail()
    line = m.group(0)
    assert " info GET / 200 " in line, line
    assert len(re.findall(re.escape(rid), server.log())) == 1, "expected exactly one log line per request"


def test_listening_line(server):
    assert re.search(r"listening on 127\.0\.0\.1:%d\b" % server.port, server.log()), server.log_tail()


def _env_without_db():
    env = dict(os.environ)
    for k in ("DATABASE_URL", "POSTGRES_HOST", "POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB", "PORT"):
        env.pop(k, None)
    return env


def test_version_command():
    r = subprocess.run([BIN, "version"], env=_env_without_db(), capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r
    assert r.stdout.strip() == "hourglass 0.1.0", r.stdout


def test_healthcheck_against_running_server(server):
    env = _env_without_db()
    env["PORT"] = str(server.port)
    r = subprocess.run([BIN, "healthcheck"], env=env, capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)


def test_healthcheck_when_nothing_listens():
    env = _env_without_db()
    env["PORT"] = str(free_port())
    t0 = time.monotonic()
    r = subprocess.run([BIN, "healthcheck"], env=env, capture_output=True, text=True, timeout=15)
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert time.monotonic() - t0 < 10


def test_unknown_command_fails():
    r = subprocess.run([BIN, "frobnicate"], env=_env_without_db(), capture_output=True, text=True, timeout=10)
    assert r.returncode != 0
    assert r.stderr.strip(), "an unknown command should say something on stderr"
