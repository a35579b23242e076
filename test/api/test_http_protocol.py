"""HTTP/1.1 protocol behaviour over raw sockets."""

import email.utils
import json
import os
import re
import socket
import threading
import time

import pytest

from conftest import (BIN, Conn, assert_problem, get_request, http, metric_samples, metric_value,
                      parse_responses, raw)

REQ_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def _health_ok(resp):
    assert resp.status == 200, resp
    assert resp.body == b"ok", resp


# --------------------------------------------------------------------------- connections

def test_keep_alive_two_requests_one_socket(server):
    with Conn(server.port) as c:
        c.send(get_request("/health"))
        r1 = c.read_response()
        _health_ok(r1)
        assert "close" not in r1.headers.get("connection", "").lower()
        c.send(get_request("/"))
        r2 = c.read_response()
        _health_ok(r2)
        assert not c.closed_within(0.3), "HTTP/1.1 connection closed after two requests"
        assert c.buf == b"", "unexpected extra bytes: %r" % c.buf
        c.send(get_request("/health"))
        _health_ok(c.read_response())


def test_connection_close_is_honoured(server):
    with Conn(server.port) as c:
        c.send(get_request("/health", "Connection: close\r\n"))
        r = c.read_response()
        _health_ok(r)
        assert r.headers.get("connection", "").lower() == "close", r.headers
        assert c.closed_within(2), "server kept the connection after Connection: close"
        assert c.buf == b""


def test_pipelined_three_requests_in_order(server):
    # the database request first: a server answering in completion order would put /health first
    reqs = (get_request("/health/ready") + get_request("/health") + get_request("/nonexistent"))
    with Conn(server.port) as c:
        c.send(reqs)
        r1, r2, r3 = c.read_response(), c.read_response(), c.read_response()
        assert r1.status == 200, r1
        assert json.loads(r1.body)["database"] == "ok", r1
        _health_ok(r2)
        assert_problem(r3, 404, "not_found")
        assert not c.closed_within(0.2)

    reqs = get_request("/health") + get_request("/nonexistent") + get_request("/health/ready")
    with Conn(server.port) as c:
        c.send(reqs)
        rs = [c.read_response() for _ in range(3)]
        assert [r.status for r in rs] == [200, 404, 200]
        assert rs[0].body == b"ok"
        assert json.loads(rs[1].body)["code"] == "not_found"
        assert json.loads(rs[2].body)["status"] == "ok"


def test_http10_closes(server):
    with Conn(server.port) as c:
        c.send(b"GET /health HTTP/1.0\r\n\r\n")
        data = c.read_until_close(timeout=3)
    (r,) = parse_responses(data)
    _health_ok(r)
    assert r.version in ("HTTP/1.0", "HTTP/1.1")


def test_http10_keep_alive_stays_open(server):
    with Conn(server.port) as c:
        c.send(b"GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        r = c.read_response()
        _health_ok(r)
        # an HTTP/1.0 client only reuses the connection when the answer says so
        assert "keep-alive" in r.headers.get("connection", "").lower(), r.headers
        assert not c.closed_within(0.3), "HTTP/1.0 keep-alive connection was closed"
        c.send(b"GET /nonexistent HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        r2 = c.read_response()
        assert r2.status == 404


def test_head_health_has_length_and_no_body(server):
    with Conn(server.port) as c:
        # a GET right behind the HEAD: any body bytes after the HEAD answer would corrupt the second answer
        c.send(get_request("/health", method="HEAD") + get_request("/nonexistent"))
        r1 = c.read_response(head=True)
        assert r1.status == 200, r1
        assert r1.headers.get("content-length") == "2", r1.headers
        assert r1.headers["content-type"].startswith("text/plain"), r1.headers
        r2 = c.read_response()
        assert r2.status == 404, r2
        assert json.loads(r2.body)["code"] == "not_found"
        assert c.buf == b""


def test_chunked_request_body(server):
    body = b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    req = (b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
           b"Content-Type: text/plain\r\n\r\n" + body)
    with Conn(server.port) as c:
        c.send(req + get_request("/health"))
        _health_ok(c.read_response())
        _health_ok(c.read_response())
        # chunk extensions and trailers are legal too
        c.send(b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"3;ext=1\r\nabc\r\n0\r\nX-Trailer: v\r\n\r\n" + get_request("/nonexistent"))
        _health_ok(c.read_response())
        assert c.read_response().status == 404


def test_chunked_body_sent_slowly(server):
    with Conn(server.port) as c:
        c.send(b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nab")
        time.sleep(0.2)
        c.send(b"cd\r\n")
        time.sleep(0.2)
        c.send(b"0\r\n\r\n")
        _health_ok(c.read_response())


def test_standard_headers_on_every_answer(server):
    for method, path, status in (("GET", "/health", 200), ("GET", "/nonexistent", 404),
                                 ("DELETE", "/health", 405), ("GET", "/health/ready", 200),
                                 ("GET", "/metrics", 200)):
        st, h, body = http(method, server.url + path)
        assert st == status, (method, path, st, body)
        assert h.get("server") == "hourglass", h
        assert "date" in h, h
        assert re.match(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
                        r"\d{4} \d\d:\d\d:\d\d GMT$", h["date"]), h["date"]
        when = email.utils.parsedate_to_datetime(h["date"]).timestamp()
        assert abs(when - time.time()) < 5, h["date"]
        assert h.get("content-length") == str(len(body)), (h, len(body))
        assert "transfer-encoding" not in h
        assert REQ_ID_RE.match(h.get("x-request-id", "")), h


def test_request_id_echoed_when_valid(server):
    for rid in ("abc-123", "A.b_c:d-e", "x" * 128, "0"):
        st, h, _ = http("GET", server.url + "/health", headers={"X-Request-Id": rid})
        assert st == 200
        assert h.get("x-request-id") == rid
    # also on errors
    st, h, _ = http("GET", server.url + "/nonexistent", headers={"X-Request-Id": "err-42"})
    assert st == 404 and h.get("x-request-id") == "err-42"


def test_request_id_replaced_when_invalid(server):
    seen = set()
    for rid in ("has space", "y" * 129, 'quote"d', "slash/id", "semi;colon", "ünïcode"):
        raw_req = ("GET /health HTTP/1.1\r\nHost: t\r\nX-Request-Id: %s\r\nConnection: close\r\n\r\n" % rid)
        data = raw(server.port, raw_req.encode("utf-8"), read_timeout=3)
        (r,) = parse_responses(data)
        assert r.status == 200, (rid, r)
        got = r.headers.get("x-request-id", "")
        assert got != rid, rid
        assert REQ_ID_RE.match(got), (rid, got)
        seen.add(got)
    # no X-Request-Id at all: generated, and different each time
    for _ in range(3):
        _, h, _ = http("GET", server.url + "/health")
        assert REQ_ID_RE.match(h["x-request-id"])
        seen.add(h["x-request-id"])
    assert len(seen) == 9, "generated request ids repeat: %s" % seen


# --------------------------------------------------------------------------- limits

def _assert_error_then_close(c, status, code, timeout=3):
    r = c.read_response(timeout=timeout)
    assert_problem(r, status, code)
    assert c.closed_within(3), "connection not closed after %d" % status
    return r


def test_431_header_too_large(server):
    with Conn(server.port) as c:
        c.send(b"GET /health HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * (17 * 1024) + b"\r\n\r\n")
        _assert_error_then_close(c, 431, "headers_too_large")


def test_headers_below_size_limit_accepted(server):
    with Conn(server.port) as c:
        c.send(b"GET /health HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * (15 * 1024) + b"\r\n\r\n")
        _health_ok(c.read_response())


def test_431_too_many_headers(server):
    # Host + 100 more = 101 headers
    hdrs = "".join("X-H-%d: v\r\n" % i for i in range(100))
    with Conn(server.port) as c:
        c.send(get_request("/health", hdrs))
        _assert_error_then_close(c, 431, "headers_too_large")


def test_100_headers_accepted(server):
    hdrs = "".join("X-H-%d: v\r\n" % i for i in range(99))  # + Host = 100
    with Conn(server.port) as c:
        c.send(get_request("/health", hdrs))
        _health_ok(c.read_response())


def test_414_uri_too_long(server):
    with Conn(server.port) as c:
        c.send(get_request("/" + "a" * (9 * 1024)))
        _assert_error_then_close(c, 414, "uri_too_long")


def test_long_uri_below_limit_is_routed(server):
    with Conn(server.port) as c:
        c.send(get_request("/" + "a" * (7 * 1024)))
        r = c.read_response()
        assert_problem(r, 404, "not_found")
        assert not c.closed_within(0.2)


def test_413_announced_before_body_is_sent(server):
    with Conn(server.port) as c:
        c.send(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Type: application/octet-stream\r\n"
               b"Content-Length: 2097152\r\n\r\n")
        t0 = time.monotonic()
        # not one body byte is sent: the answer must come anyway
        _assert_error_then_close(c, 413, "payload_too_large", timeout=3)
        assert time.monotonic() - t0 < 3


def test_body_at_limit_accepted_and_one_byte_over_refused(server):
    limit = 1024 * 1024
    with Conn(server.port) as c:
        c.send(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % limit + b"x" * limit)
        _health_ok(c.read_response(timeout=10))
    with Conn(server.port) as c:
        c.send(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % (limit + 1))
        _assert_error_then_close(c, 413, "payload_too_large")


def test_413_chunked_body_over_limit(server):
    c = Conn(server.port)
    try:
        c.send(b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"10000\r\n" + b"z" * 0x10000 + b"\r\n"  # 64 KiB chunks
        sent = 0
        try:
            for _ in range(40):  # up to 2.5 MiB
                c.sock.settimeout(5)
                c.sock.sendall(chunk)
                sent += 0x10000
        except (BrokenPipeError, ConnectionResetError, socket.timeout):
            pass
        r = c.read_response(timeout=5)
        assert_problem(r, 413, "payload_too_large")
        assert c.closed_within(3)
    finally:
        c.close()


def test_chunked_body_below_limit_accepted(server):
    body = b"".join(b"%x\r\n" % 0x8000 + b"q" * 0x8000 + b"\r\n" for _ in range(8)) + b"0\r\n\r\n"
    with Conn(server.port) as c:
        c.send(b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" + body)
        _health_ok(c.read_response(timeout=10))


# --------------------------------------------------------------------------- timeouts

def test_408_header_timeout(make_server):
    s = make_server(HTTP_HEADER_TIMEOUT="1s")
    with Conn(s.port) as c:
        c.send(b"GET /health HTTP/1.1\r\nHost: t\r\n")  # half a header, then nothing
        t0 = time.monotonic()
        r = c.read_response(timeout=3)
        elapsed = time.monotonic() - t0
        assert_problem(r, 408, "request_timeout")
        assert 0.7 <= elapsed <= 3.0, elapsed
        assert c.closed_within(2), "connection not closed after 408"


def test_408_header_timeout_not_extended_by_trickling(make_server):
    # slowloris: one byte every 0.25 s must not keep the header timer from firing
    s = make_server(HTTP_HEADER_TIMEOUT="1s")
    with Conn(s.port) as c:
        c.send(b"GET /health HTTP/1.1\r\n")
        t0 = time.monotonic()
        while time.monotonic() - t0 < 4:
            try:
                c.send(b"X")
            except (BrokenPipeError, ConnectionResetError):
                break
            c.closed_within(0.25)
            if c.buf or c.eof:
                break
        elapsed = time.monotonic() - t0
        assert elapsed < 3.0, "header timeout did not fire while bytes trickled in (%.1fs)" % elapsed
        c.closed_within(1)
        assert c.buf, "connection ended without a 408"
        r = c.read_response(timeout=2)
        assert_problem(r, 408, "request_timeout")


def test_idle_keep_alive_closes_silently(make_server):
    s = make_server(HTTP_IDLE_TIMEOUT="1s")
    with Conn(s.port) as c:
        c.send(get_request("/health"))
        _health_ok(c.read_response())
        t0 = time.monotonic()
        assert not c.closed_within(0.5), "idle connection closed far too early"
        assert c.closed_within(3), "idle connection not closed after HTTP_IDLE_TIMEOUT"
        elapsed = time.monotonic() - t0
        assert 0.7 <= elapsed <= 3.0, elapsed
        assert c.buf == b"", "idle close must be silent, got %r" % c.buf


# --------------------------------------------------------------------------- malformed input

@pytest.mark.parametrize("req", [
    b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
    b"\x01\x02 garbage garbage\r\n\r\n",
    b"GET / HTTP/1.1 extra\r\nHost: x\r\n\r\n",
    b"GET / HTTP/1.1\r\nBad Header Name: x\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
], ids=["bad-content-length", "garbage", "bad-request-line", "bad-header-name", "bad-chunk-size"])
def test_400_malformed_then_close(server, req):
    with Conn(server.port) as c:
        c.send(req + get_request("/health"))
        r = c.read_response(timeout=3)
        assert_problem(r, 400, "malformed_request")
        assert c.closed_within(3), "connection not closed after 400"
        assert c.buf == b"", "request after a malformed one was answered: %r" % c.buf


@pytest.mark.parametrize("hdrs", [
    b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
    b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
    b"Content-Length: 5\r\nContent-Length: 6\r\n",
], ids=["cl-then-te", "te-then-cl", "two-content-lengths"])
def test_400_request_smuggling(server, hdrs):
    req = b"POST / HTTP/1.1\r\nHost: x\r\n" + hdrs + b"\r\n0\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\n\r\n"
    with Conn(server.port) as c:
        c.send(req)
        r = c.read_response(timeout=3)
        assert_problem(r, 400, "malformed_request")
        assert c.closed_within(3)
        assert c.buf == b"", "smuggled request was answered: %r" % c.buf


def test_expect_100_continue(server):
    with Conn(server.port) as c:
        c.send(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        interim = c.read_response(timeout=3)
        assert interim.status == 100, interim
        assert interim.version == "HTTP/1.1"
        c.send(b"hello")
        _health_ok(c.read_response(timeout=3))


def test_expect_100_continue_not_sent_when_body_too_large(server):
    with Conn(server.port) as c:
        c.send(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 2097152\r\nExpect: 100-continue\r\n\r\n")
        r = c.read_response(timeout=3)
        assert_problem(r, 413, "payload_too_large")


# a preloaded library that makes the kernel take only part of a write (test/shim/short_write.c)
SHORT_WRITE_LIB = os.environ.get("HG_SHORT_WRITE_LIB") or os.path.join(
    os.path.dirname(BIN), "test", "shim", "libshort_write.so")


def test_expect_100_continue_survives_a_partial_write(make_server):
    """Issue 19: the 100 Continue line was written with one uv_try_write and the rest of a
    partial write dropped: the client read "HTTP/1.1 " and then the final answer."""
    assert os.path.exists(SHORT_WRITE_LIB), SHORT_WRITE_LIB
    s = make_server(LD_PRELOAD=SHORT_WRITE_LIB, HG_SHORT_WRITE_PREFIX="HTTP/1.1 100", HG_SHORT_WRITE_BYTES="9",
                    ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0")
    with Conn(s.port) as c:
        c.send(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        interim = c.read_response(timeout=3)
        assert interim.status == 100 and interim.version == "HTTP/1.1", interim
        c.send(b"hello")
        _health_ok(c.read_response(timeout=3))
        assert c.buf == b""


@pytest.mark.parametrize("cut", ["by the kernel", "in the head"])
def test_large_list_written_in_pieces_arrives_whole(make_server, cut):
    """A page of a list is written from the arena after its head (two buffers, no copy): a
    write that stops inside the head or inside the page goes on from where it stopped."""
    import uuid

    from faults_helpers import faults
    env = {"AUTH_REQUIRE_VERIFIED_EMAIL": "false"}
    if cut == "in the head":
        assert os.path.exists(SHORT_WRITE_LIB), SHORT_WRITE_LIB
        env.update(LD_PRELOAD=SHORT_WRITE_LIB, HG_SHORT_WRITE_PREFIX="HTTP/1.1 200", HG_SHORT_WRITE_BYTES="9",
                   ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0")
    s = make_server(**env)
    s.wait_db_ready()
    _, token = faults.user(s.url, uuid.uuid4().hex[:8])
    ids = faults.long_tasks(s.url, token)
    with Conn(s.port, timeout=10) as c:
        c.send(get_request("/api/v1/tasks?limit=200", "Authorization: Bearer %s\r\n" % token) * 2
               + get_request("/health"))
        time.sleep(0.5)  # the kernel's buffers take one page and a part of the next
        for _ in range(2):
            r = c.read_response(timeout=10)
            assert r.status == 200, r
            page = json.loads(r.body)
            assert sorted(t["id"] for t in page["items"]) == sorted(ids)
            assert all(t["description"] == "d" * 9000 for t in page["items"])
        _health_ok(c.read_response())
        assert c.buf == b""


def test_stream_whose_head_cannot_be_written(make_server):
    """The head of an event stream failed at once (the client had reset): the connection closed
    inside http_stream_start, which told the owner its stream was gone and freed the request,
    and the caller then attached the stream to it (use after free). Now the start fails cleanly."""
    from messages_helpers import EVENTS, new_user, server_with, wait_metric
    assert os.path.exists(SHORT_WRITE_LIB), SHORT_WRITE_LIB
    s = server_with(make_server, LD_PRELOAD=SHORT_WRITE_LIB, HG_FAIL_WRITE_CONTAINING="text/event-stream",
                    ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0")
    api = new_user(s)
    for _ in range(3):
        with Conn(s.port) as c:
            c.send(get_request(EVENTS, "Authorization: Bearer %s\r\n" % api.token))
            assert c.closed_within(3), "the connection of a stream whose head failed stayed open"
            assert c.buf == b"", c.buf
    assert wait_metric(s, "sse_streams_open", lambda v: v == 0) == 0
    st, _, body = http("GET", s.url + "/health")
    assert st == 200 and body == b"ok"


# --------------------------------------------------------------------------- framing (issue 19)

@pytest.mark.parametrize("coding", [b"gzip, chunked", b"gzip", b"deflate,chunked"])
def test_501_transfer_coding_other_than_chunked(server, coding):
    # read as plain chunked, a proxy in front and hourglass could see different bodies
    with Conn(server.port) as c:
        c.send(b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: " + coding + b"\r\n\r\n0\r\n\r\n"
               + get_request("/health"))
        _assert_error_then_close(c, 501, "not_implemented")
        assert c.buf == b"", "a request after the refused one was answered: %r" % c.buf


def test_413_chunk_declared_over_limit_at_once(server):
    # 0x200000 is twice HTTP_MAX_BODY_SIZE: refused on its size line, not after the request timeout
    with Conn(server.port) as c:
        c.send(b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n200000\r\n")
        t0 = time.monotonic()
        _assert_error_then_close(c, 413, "payload_too_large", timeout=2)
        assert time.monotonic() - t0 < 2


@pytest.mark.parametrize("fold", [b"X-A: a\r\n b\r\n", b"X-A: a\r\n\tb\r\n", b"X-A:\r\n b\r\n"],
                         ids=["space", "tab", "empty-first-line"])
def test_400_obsolete_line_folding(server, fold):
    with Conn(server.port) as c:
        c.send(b"GET /health HTTP/1.1\r\nHost: t\r\n" + fold + b"\r\n")
        _assert_error_then_close(c, 400, "malformed_request")


@pytest.mark.parametrize("target", [b"http://test/health", b"HTTP://test:8000/health?probe=1"])
def test_absolute_form_is_served_by_its_path(server, target):
    with Conn(server.port) as c:
        c.send(b"GET " + target + b" HTTP/1.1\r\nHost: test\r\n\r\n")
        _health_ok(c.read_response())
        c.send(b"GET http://test/nonexistent HTTP/1.1\r\nHost: test\r\n\r\n")
        assert_problem(c.read_response(), 404, "not_found")


@pytest.mark.parametrize("head", [
    b"GET /health HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
    b"CONNECT t:443 HTTP/1.1\r\nHost: t\r\n\r\n",
])
def test_upgrade_request_is_answered_then_closes(make_server, head):
    """fuzz_http_parser found it: a request asking to upgrade (we speak no other protocol)
    stayed keep-alive, so the bytes after it reached llhttp's upgrade pause with no request
    and the worker dereferenced NULL. It is answered, the connection closes, and what the
    client sent after it is never run."""
    s = make_server(WORKERS=1)
    with Conn(s.port) as c:
        c.send(head + get_request("/health"))
        r = c.read_response()
        assert r.headers.get("connection", "").lower() == "close", r
        assert c.closed_within(2), "the connection stayed open after an upgrade request"
        assert c.buf == b"", "a request after the upgrade was answered: %r" % c.buf
    assert http("GET", s.url + "/health")[0] == 200
    assert s.running()


def test_health_probes_are_logged_at_debug(make_server):
    """Issue 19: Docker's HEALTHCHECK wrote an info line every 10 s."""
    for level in ("info", "debug"):
        # one worker: its lines are written in order, so once the last is there the probes' are
        # too (with two, a probe's line could still be in the other worker's buffer)
        s = make_server(LOG_LEVEL=level, WORKERS=1)
        rid = "probe-%s-%d" % (level, time.monotonic_ns())
        for method in ("GET", "HEAD"):
            assert http(method, s.url + "/health", headers={"X-Request-Id": rid + method})[0] == 200
        assert http("GET", s.url + "/", headers={"X-Request-Id": rid})[0] == 200
        assert s.wait_log(r" info GET / 200 [^\n]*id=%s " % re.escape(rid)), s.log_tail()
        log = s.log()
        for method in ("GET", "HEAD"):
            line = re.search(r"[^\n]* %s /health 200 [^\n]*id=%s " % (method, re.escape(rid + method)), log)
            if level == "info":
                assert not line, line.group(0)
            else:
                assert line and " debug %s /health 200 " % method in line.group(0), s.log_tail()


# --------------------------------------------------------------------------- connection limit

def test_connection_limit(make_server):
    s = make_server(WORKERS=1, HTTP_MAX_CONNECTIONS=3)
    # the first connection polls /metrics until the start-up probe's connection is gone (only itself open)
    conns = [Conn(s.port)]
    try:
        deadline = time.monotonic() + 3
        while True:
            conns[0].send(get_request("/metrics"))
            r = conns[0].read_response()
            if metric_value(metric_samples(r.body.decode()), "http_connections_open") == 1:
                break
            assert time.monotonic() < deadline, "http_connections_open never dropped to 1"
            time.sleep(0.05)
        conns += [Conn(s.port) for _ in range(2)]
        for c in conns[1:]:  # make sure each one is accepted and registered
            c.send(get_request("/health"))
            _health_ok(c.read_response())
        with Conn(s.port) as extra:
            t0 = time.monotonic()
            data = extra.read_until_close(timeout=2)
            assert time.monotonic() - t0 < 2
        (r,) = parse_responses(data)
        assert_problem(r, 503, "overloaded")
        assert r.headers.get("retry-after", "").isdigit(), r.headers
        # "every response" carries these, the refusal too
        assert r.headers.get("server") == "hourglass" and "date" in r.headers, r.headers
        assert REQ_ID_RE.match(r.headers.get("x-request-id", "")), r.headers
        # the three admitted connections still work
        for c in conns:
            c.send(get_request("/health"))
            _health_ok(c.read_response())
        conns.pop().close()
        deadline = time.monotonic() + 3
        while True:
            with Conn(s.port) as c:
                c.send(get_request("/health"))
                r = c.read_response()
            if r.status == 200:
                break
            assert time.monotonic() < deadline, "a freed connection slot was not reused: %r" % r
            time.sleep(0.1)
        assert r.body == b"ok"
    finally:
        for c in conns:
            c.close()


# --------------------------------------------------------------------------- deep pipelines

def test_pipeline_deeper_than_limit_answered_in_order(server):
    n = 40
    reqs = b"".join(get_request("/health" if i % 5 else "/nonexistent", "X-Request-Id: req-%d\r\n" % i)
                    for i in range(n))
    with Conn(server.port) as c:
        c.send(reqs)
        rs = [c.read_response(timeout=10) for _ in range(n)]
        for i, r in enumerate(rs):
            assert r.headers.get("x-request-id") == "req-%d" % i, (i, r)
            assert r.status == (200 if i % 5 else 404), (i, r)
        assert not c.closed_within(0.2)


def test_pipeline_of_500_with_slow_reader(server):
    n = 500
    reqs = b"".join(get_request("/health", "X-Request-Id: p%d\r\n" % i) for i in range(n))
    with Conn(server.port) as c:
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        wsock = c.sock.dup()  # its own timeout, independent of the reader's
        wsock.settimeout(20)
        sender = threading.Thread(target=wsock.sendall, args=(reqs,))
        sender.start()
        time.sleep(0.3)  # let the server's output back up
        rs = [c.read_response(timeout=10) for _ in range(n)]
        sender.join(5)
        wsock.close()
        assert [r.headers.get("x-request-id") for r in rs] == ["p%d" % i for i in range(n)]
        assert all(r.status == 200 and r.body == b"ok" for r in rs)
