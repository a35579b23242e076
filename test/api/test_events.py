"""Live events (GET /api/v1/events, text/event-stream): a `message` event for every new message
to or from the caller, on every worker and every instance sharing the database, resumable
with Last-Event-ID; heartbeats; per-user stream cap; slow consumers dropped; revoked or
expired sessions and SIGTERM end streams; /metrics counters.

What these tests assume beyond API.md is written at the top of messages_helpers.py. Timing:
an event must arrive within 2 s of the POST that created it answering 201."""

import json
import signal
import threading
import time

import pytest

from messages_helpers import (EVENTS, ORIGIN, EventStream, StreamRefused, as_server, close_all, login,
                              metric_present, metric_sum, module_server, new_user, open_streams, send, server_with,
                              wait_events_ready, wait_metric)
from planning_helpers import Api, problem

LATENCY = 2.0  # seconds from the 201 of the POST to the event on every stream


@pytest.fixture(scope="module")
def srv():
    yield from module_server(ready=wait_events_ready, WORKERS=2)


def pair(srv):
    return new_user(srv), new_user(srv)


def expect(streams, message, timeout=LATENCY):
    """Every stream's next event is this message (and arrives within timeout)."""
    for s in streams:
        got = s.next_message(timeout)
        assert got == message, (got, message)


# --------------------------------------------------------------------------- the stream itself

def test_events_needs_authentication(srv):
    a = new_user(srv)
    for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Bearer " + a.token + "x"},
                    {"Cookie": "access_token=garbage"}):
        r = Api(srv).req("GET", EVENTS, token=None, headers=dict(headers, Accept="text/event-stream"))
        problem(r, 401)
        assert "bearer" in r.headers.get("www-authenticate", "").lower(), r.headers


def test_stream_head(srv):
    a = new_user(srv)
    with EventStream(srv.port, a.token) as s:
        assert s.status == 200
        assert s.content_type() == "text/event-stream", s.headers
        assert "content-length" not in s.headers, s.headers
        assert "no-cache" in s.headers.get("cache-control", "") or "no-store" in s.headers.get("cache-control", ""), \
            s.headers
        assert s.quiet_for(0.3)  # nothing but comments until something happens


def test_message_reaches_the_recipient_and_the_senders_streams(srv):
    a, b = pair(srv)
    c = new_user(srv)
    a_streams, b_streams = open_streams(srv, a, 2), open_streams(srv, b, 2)
    c_stream = EventStream(srv.port, c.token)
    try:
        m = send(a, b, "live Ж 😀")
        expect(a_streams + b_streams, m)
        reply = send(b, a, "reply")
        expect(a_streams + b_streams, reply)
        # nobody else hears of them: c's first event is the first message that concerns c
        mine = send(a, c, "for c")
        assert c_stream.next_message(LATENCY) == mine
        expect(a_streams, mine)
        for s in b_streams:
            assert s.quiet_for(0.3)
    finally:
        close_all(a_streams + b_streams + [c_stream])


def test_event_format(srv):
    a, b = pair(srv)
    with EventStream(srv.port, b.token) as s:
        m = send(a, b, "line one\nline two\r\n\"quoted\" </script>")
        ev = s.next_event(LATENCY)
        assert ev["event"] == "message" and ev["id"] == str(m["id"]), ev
        assert "\n" not in ev["data"], ev  # one data line: the JSON as the server renders it
        assert json.loads(ev["data"]) == m


def test_cookie_authentication(srv):
    a, b = pair(srv)
    # a GET needs no Origin, as for any cookie-authenticated safe request
    with EventStream(srv.port, cookie=b.token) as s:
        m = send(a, b, "via cookie")
        assert s.next_message(LATENCY) == m
    with EventStream(srv.port, cookie=b.token, headers={"Origin": ORIGIN}) as s:
        m = send(a, b, "via cookie, with origin")
        assert s.next_message(LATENCY) == m
    with pytest.raises(StreamRefused):
        EventStream(srv.port, cookie=b.token + "x")


def test_across_workers(srv):
    """WORKERS=2: SO_REUSEPORT spreads the streams over both workers, and every stream gets every
    message whichever worker answered the POST (each a new connection)."""
    a, b = pair(srv)
    b_streams, a_streams = open_streams(srv, b, 8), open_streams(srv, a, 2)
    try:
        for i in range(4):
            m = send(a if i % 2 == 0 else b, b if i % 2 == 0 else a, "cross-worker %d" % i)
            t0 = time.monotonic()
            expect(b_streams + a_streams, m)
            assert time.monotonic() - t0 < LATENCY + 0.5
    finally:
        close_all(b_streams + a_streams)


def test_across_instances(make_server):
    one = server_with(make_server)
    two = server_with(make_server)
    wait_events_ready(one)
    wait_events_ready(two)
    a, b = pair(one)
    b2 = as_server(b, two)
    b_streams = open_streams(two, b, 3)
    a_stream = EventStream(one.port, a.token)
    try:
        m = send(a, b, "from instance one")
        expect(b_streams + [a_stream], m)
        reply = send(b2, a, "from instance two")
        expect(b_streams + [a_stream], reply)
        # a logout-all on one instance ends the user's streams on the other
        assert b.post("/api/v1/auth/logout-all").status == 204
        for s in b_streams:
            assert s.closed_within(LATENCY), "b's stream on the other instance is still open"
        assert not a_stream.closed_within(0.2)
    finally:
        close_all(b_streams + [a_stream])


# --------------------------------------------------------------------------- resuming

def test_last_event_id_replays_what_was_missed(srv):
    a, b = pair(srv)
    c = new_user(srv)
    with EventStream(srv.port, b.token) as s:
        first = send(a, b, "seen live")
        assert s.next_message(LATENCY) == first
    # while b has no stream: both directions, and messages that are not b's
    missed = [send(a, b, "missed 1"), send(b, a, "missed 2 (b's own)")]
    send(a, c, "not b's")
    missed.append(send(c, b, "missed 3"))
    with EventStream(srv.port, b.token, last_event_id=first["id"]) as s:
        replayed = s.messages(len(missed), timeout=LATENCY)
        assert replayed == missed, [m["id"] for m in replayed]
        live = send(a, b, "live after the replay")
        assert s.next_message(LATENCY) == live
        assert s.quiet_for(0.3), "a duplicate after the live event"
    # resuming from the newest id replays nothing
    with EventStream(srv.port, b.token, last_event_id=live["id"]) as s:
        assert s.quiet_for(0.5)
        nxt = send(c, b, "next")
        assert s.next_message(LATENCY) == nxt


def test_resume_while_messages_keep_coming_has_no_gap_and_no_duplicate(srv):
    a, b = pair(srv)
    sent, errors = [], []

    def sender():
        try:
            for i in range(40):
                sent.append(send(a if i % 3 else b, b if i % 3 else a, "burst %d" % i)["id"])
                time.sleep(0.01)
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    got = []
    s = EventStream(srv.port, b.token)  # open before the first message: everything arrives live or replayed
    t = threading.Thread(target=sender)
    t.start()
    reconnects = 0
    try:
        deadline = time.monotonic() + 30
        while t.is_alive() or len(got) < len(sent):
            assert time.monotonic() < deadline, (got, sent)
            for _ in range(3):
                try:
                    got.append(s.next_message(timeout=3.0 if not t.is_alive() else 1.0)["id"])
                except AssertionError:
                    if not t.is_alive() and len(got) < len(sent):
                        raise
                    break
            if got:  # reconnect from the last id seen
                s.close()
                s = EventStream(srv.port, b.token, last_event_id=got[-1])
                reconnects += 1
    finally:
        s.close()
        t.join()
    assert not errors, errors
    assert reconnects >= 3
    assert got == sent, "gap or duplicate: got %s, sent %s" % (got, sent)


# --------------------------------------------------------------------------- heartbeat and cap

def test_heartbeat_comments(make_server):
    s = server_with(make_server, EVENTS_HEARTBEAT_INTERVAL="1s")
    a = new_user(s)
    with EventStream(s.port, a.token) as st:
        t0 = time.monotonic()
        assert st.quiet_for(3.5)
        assert len(st.comments) >= 2, st.comments
        assert st.events == []
        assert time.monotonic() - t0 >= 3.4
        assert not st.closed_within(0.1)


def test_stream_cap_per_user(make_server):
    s = server_with(make_server, WORKERS=1, EVENTS_MAX_STREAMS_PER_USER=3)
    a, b = pair(s)
    streams = open_streams(s, a, 3)
    try:
        extra = EventStream(s.port, a.token, expect_ok=False)
        assert extra.status == 429, (extra.status, extra.headers, extra.error_body)
        assert extra.headers.get("content-type", "").startswith("application/problem+json"), extra.headers
        assert extra.error_json()["code"] == "rate_limited"
        assert extra.headers.get("retry-after", "").isdigit(), extra.headers
        extra.close()
        # another user is not affected, and a second session of the same user counts
        other = EventStream(s.port, b.token)
        with pytest.raises(StreamRefused):
            EventStream(s.port, login(s, a.email))
        other.close()
        # the open ones still work
        m = send(b, a, "still here")
        expect(streams, m)
        # closing one makes room (once the server has noticed the close)
        streams.pop().close()
        deadline = time.monotonic() + 3
        while True:
            again = EventStream(s.port, a.token, expect_ok=False)
            if again.status == 200:
                streams.append(again)
                break
            again.close()
            assert time.monotonic() < deadline, "a closed stream still counts against the cap"
            time.sleep(0.1)
    finally:
        close_all(streams)


# --------------------------------------------------------------------------- slow consumers

def test_stalled_reader_is_dropped_and_others_keep_receiving(make_server):
    s = server_with(make_server, WORKERS=1, EVENTS_MAX_UNSENT="64k")
    wait_events_ready(s)
    a, b = pair(s)
    healthy = EventStream(s.port, b.token)
    stalled = EventStream(s.port, b.token, rcvbuf=4096)  # reads its head, then nothing
    got, stop, failed = [], threading.Event(), []

    def reader():
        try:
            while not stop.is_set():
                try:
                    got.append(healthy.next_message(timeout=0.5)["id"])
                except AssertionError:
                    if healthy.eof:
                        raise
        except BaseException as e:  # noqa: BLE001
            failed.append(e)

    t = threading.Thread(target=reader)
    t.start()
    dropped0 = metric_sum(s, "sse_streams_dropped_total")
    text = "Ж" * 4000  # about 8 KB of JSON per event
    sent = []
    try:
        for i in range(1500):  # at most ~12 MB; stops as soon as the server drops the stalled stream
            sent.append(send(a, b, text)["id"])
            if i % 10 == 9 and metric_sum(s, "sse_streams_dropped_total") > dropped0:
                break
        assert metric_sum(s, "sse_streams_dropped_total") == dropped0 + 1, "the stalled stream was not dropped"
        # the server closed it: what the kernel buffered arrives, then EOF
        assert stalled.drain_until_close(timeout=15), "the stalled stream is still open"
        # the healthy one got everything, in order
        deadline = time.monotonic() + 10
        while len(got) < len(sent) and time.monotonic() < deadline and not failed:
            time.sleep(0.05)
    finally:
        stop.set()
        t.join()
        healthy.close()
        stalled.close()
    assert not failed, failed
    assert got == sent, "healthy stream: %d of %d events" % (len(got), len(sent))
    assert wait_metric(s, "sse_streams_open", lambda v: v == 0) == 0


# --------------------------------------------------------------------------- ends of streams

def test_logout_ends_that_sessions_stream_only(srv):
    a, b = pair(srv)
    second = login(srv, b.email)
    s1 = EventStream(srv.port, b.token)
    s2 = EventStream(srv.port, second)
    try:
        assert b.post("/api/v1/auth/logout").status == 204
        assert s1.closed_within(LATENCY), "the logged-out session's stream is still open"
        m = send(a, b, "to the other session")
        assert s2.next_message(LATENCY) == m
    finally:
        s1.close()
        s2.close()


def test_logout_all_ends_every_stream_of_the_user(srv):
    a, b = pair(srv)
    sessions = [b.token, login(srv, b.email), login(srv, b.email)]
    b_streams = [EventStream(srv.port, tok) for tok in sessions for _ in range(2)]
    a_stream = EventStream(srv.port, a.token)
    try:
        assert b.post("/api/v1/auth/logout-all").status == 204
        for st in b_streams:
            assert st.closed_within(LATENCY), "a stream of a revoked session is still open"
        with pytest.raises(StreamRefused):
            EventStream(srv.port, sessions[1])
        # other users' streams go on
        m = send(new_user(srv), a, "a is still connected")
        assert a_stream.next_message(LATENCY) == m
    finally:
        close_all(b_streams + [a_stream])


def test_expired_token_ends_its_stream(make_server):
    s = server_with(make_server, ACCESS_TOKEN_EXPIRES_IN="3s")
    a = new_user(s)  # logged in now: the token expires within 3 s
    t_login = time.monotonic()
    with EventStream(s.port, a.token) as st:
        assert not st.closed_within(0.5), "closed long before the token expired"
        assert st.closed_within(t_login + 3 + 2.5 - time.monotonic()), "still open after the token expired"


def test_sigterm_closes_streams_cleanly(make_server):
    s = server_with(make_server)
    wait_events_ready(s)
    a = new_user(s)
    streams = open_streams(s, a, 4)
    try:
        s.send_signal(signal.SIGTERM)
        t0 = time.monotonic()
        for st in streams:
            assert st.closed_within(3.0), "a stream outlived SIGTERM by 3 s"
            assert not st.reset, "a stream was reset instead of closed"
            if st.chunked:
                assert st.chunked_done, "a chunked stream ended without its last chunk"
        rc = s.wait_exit(5)
        assert rc == 0, "exit code %s; log:\n%s" % (rc, s.log_tail())
        assert time.monotonic() - t0 < 5
    finally:
        close_all(streams)


# --------------------------------------------------------------------------- metrics

def test_metrics(make_server):
    s = server_with(make_server)  # WORKERS=2: the numbers are the process's, whichever worker answers
    for name in ("sse_streams_open", "sse_events_sent_total", "sse_streams_dropped_total"):
        assert metric_present(s, name), name
    wait_events_ready(s)
    assert wait_metric(s, "sse_streams_open", lambda v: v == 0) == 0
    sent0 = metric_sum(s, "sse_events_sent_total")
    a, b = pair(s)
    streams = open_streams(s, b, 3) + open_streams(s, a, 1)
    try:
        assert wait_metric(s, "sse_streams_open", lambda v: v == 4) == 4
        m = send(a, b, "counted")
        expect(streams, m)
        assert wait_metric(s, "sse_events_sent_total", lambda v: v >= sent0 + 4) == sent0 + 4
    finally:
        close_all(streams)
    assert wait_metric(s, "sse_streams_open", lambda v: v == 0) == 0
    assert metric_sum(s, "sse_streams_dropped_total") == 0
