"""Graceful shutdown on SIGTERM / SIGINT."""

import json
import signal
import socket
import threading
import time

import pytest

from conftest import Conn, LockHolder, get_request, http, parse_responses, port_accepts


def _not_served(port):
    """After SIGTERM a new connection is refused, or closed / answered 503 without being served."""
    try:
        c = Conn(port, timeout=2)
    except OSError:
        return True
    with c:
        try:
            c.send(get_request("/health"))
            data = c.read_until_close(timeout=2)
        except OSError:
            return True
    if not data:
        return True
    rs = parse_responses(data)
    return rs[0].status == 503


def test_sigterm_lets_slow_body_finish(make_server):
    s = make_server()
    with Conn(s.port) as c:
        c.send(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n12345")
        time.sleep(0.2)
        s.send_signal(signal.SIGTERM)
        t_sig = time.monotonic()
        time.sleep(0.5)
        assert s.running(), "exited with a request in flight"
        assert _not_served(s.port), "a new connection was served after SIGTERM"
        c.send(b"67890")
        r = c.read_response(timeout=3)
        assert r.status == 200 and r.body == b"ok", r
    rc = s.wait_exit(5)
    assert rc == 0, "exit code %s; log:\n%s" % (rc, s.log_tail())
    assert time.monotonic() - t_sig < 5
    assert not port_accepts(s.port)


def test_sigterm_lets_database_request_finish(make_server):
    s = make_server()
    s.wait_db_ready()
    result = {}

    def ready():
        t0 = time.monotonic()
        try:
            result["r"] = http("GET", s.url + "/health/ready", timeout=10)
        except Exception as e:  # noqa: BLE001
            result["r"] = (None, {}, repr(e).encode())
        result["took"] = time.monotonic() - t0

    lock = LockHolder(1.5)
    try:
        t = threading.Thread(target=ready)
        t.start()
        time.sleep(0.3)
        s.send_signal(signal.SIGTERM)
        t.join(10)
    finally:
        lock.wait()
    st, h, body = result["r"]
    assert st == 200, (st, body)
    assert json.loads(body)["database"] == "ok"
    assert result["took"] >= 1.0, "the answer came before the lock was released?"
    rc = s.wait_exit(5)
    assert rc == 0, "exit code %s; log:\n%s" % (rc, s.log_tail())


def test_sigterm_closes_idle_keep_alive_connections(make_server):
    s = make_server(HTTP_IDLE_TIMEOUT="60s", SHUTDOWN_TIMEOUT="10s")
    conns = [Conn(s.port) for _ in range(3)]
    try:
        for c in conns:
            c.send(get_request("/health"))
            assert c.read_response().body == b"ok"
        t0 = time.monotonic()
        s.send_signal(signal.SIGTERM)
        for c in conns:
            assert c.closed_within(3), "idle keep-alive connection still open after SIGTERM"
        rc = s.wait_exit(5)
        assert rc == 0, rc
        assert time.monotonic() - t0 < 3, "idle connections delayed the shutdown"
    finally:
        for c in conns:
            c.close()


def test_sigint_exits_zero(make_server):
    s = make_server()
    assert http("GET", s.url + "/health")[0] == 200
    assert s.stop(signal.SIGINT, timeout=5) == 0


def test_shutdown_timeout_bounds_the_drain(make_server):
    s = make_server(SHUTDOWN_TIMEOUT="1s", HTTP_REQUEST_TIMEOUT="30s", HTTP_HEADER_TIMEOUT="30s")
    with Conn(s.port) as c:
        # a request whose body never comes
        c.send(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nabc")
        time.sleep(0.2)
        t0 = time.monotonic()
        s.send_signal(signal.SIGTERM)
        rc = s.wait_exit(5)
        took = time.monotonic() - t0
        assert rc is not None, "still running 5 s after SIGTERM with SHUTDOWN_TIMEOUT=1s"
        assert rc == 0, rc
        assert 0.7 <= took <= 3.0, took
        assert c.closed_within(1)
