"""Short form of the slow and hostile clients campaign (bench/faults/run slow_clients)."""
from faults_helpers import assert_clean, faults


def test_faults_slowloris_and_non_readers():
    fig = faults.slow_clients(slow=300, deaf=100, seconds=4.0, limit_conns=64)
    base, under = fig["baseline"], fig["under_attack"]
    assert base["non200"] == 0 and under["non200"] == 0, fig
    # The campaign's own bound is 2x the p99 (bench/RESULTS.md, a release build). Here the
    # server runs under ASan on shared cores and the p99 of a few thousand requests is noisy,
    # so the p50 carries the check and the p99 only catches a stall (3x with a 25 ms floor
    # failed once in a full run at load average 12).
    assert under["p50_ms"] <= 2 * base["p50_ms"] + 2.0, fig
    assert under["p99_ms"] <= max(5 * base["p99_ms"], 100.0), fig
    assert fig["hostile"]["slow_opened"] >= 300 and fig["hostile"]["deaf_opened"] >= 100, fig
    # ASan's quarantine keeps freed memory, so this bound is loose; release figures: bench/RESULTS.md
    assert fig["rss_kib_under_attack"] - fig["rss_kib_before"] < 256 * 1024, fig
    lim = fig["limit"]
    # never more than the limit; a start-up check's connection still closing may take a place
    assert lim["opened"] - lim["limit"] <= lim["refused"] <= lim["opened"] - lim["limit"] + 2, fig
    assert lim["open_connections"] <= lim["limit"], fig
    assert_clean(fig)


def test_faults_non_readers_do_not_hold_connections_forever():
    fig = faults.deaf_connections_expire(deaf=20, idle="2s", wait_s=5.0)
    assert fig["open_at_start"] >= 20, fig
    assert fig["open_after_wait"] <= 1, "connections that never read their answers still open: %s" % fig
    assert_clean(fig)


def test_faults_client_gone_while_an_answer_is_being_written(make_server):
    """A client that stops reading a large answer and then resets the connection: the failed
    write freed the request while it still headed the queue, and closing the connection then
    walked the free list (heap corruption, seen at the next shutdown)."""
    import socket
    import struct
    import time

    from conftest import http
    s = make_server(WORKERS=1)
    for _ in range(3):
        c = faults.deaf_connection(s.port, b"GET /openapi.json HTTP/1.1\r\nHost: t\r\n\r\n", 64)
        time.sleep(0.5)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close with a reset
        c.close()
        time.sleep(0.2)
        assert http("GET", s.url + "/health")[0] == 200
    assert s.stop() == 0, s.log_tail()


def test_faults_non_reader_of_a_large_answer_is_closed_after_idle_timeout(make_server):
    """A client that never reads an answer larger than the socket buffers: the write stays
    queued, and without a deadline the connection, its answers' memory and its slot under
    HTTP_MAX_CONNECTIONS were held for as long as the client liked."""
    import socket
    import time

    from conftest import http, metric_samples, metric_value

    def open_connections():
        return metric_value(metric_samples(http("GET", s.url + "/metrics")[2].decode()), "http_connections_open")

    s = make_server(WORKERS=1, HTTP_IDLE_TIMEOUT="2s")
    c = socket.socket()
    c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    c.connect(("127.0.0.1", s.port))
    c.setblocking(False)
    try:
        try:
            for _ in range(64):
                c.send(b"GET /openapi.json HTTP/1.1\r\nHost: t\r\n\r\n")
        except BlockingIOError:
            pass
        time.sleep(1.0)
        assert open_connections() == 2, "the non-reader's connection should still be open (+ /metrics)"
        deadline = time.monotonic() + 6
        while open_connections() != 1:
            assert time.monotonic() < deadline, "a stuck write still holds its connection after HTTP_IDLE_TIMEOUT"
            time.sleep(0.2)
    finally:
        c.close()


def test_faults_non_readers_of_large_answers_hold_the_limit_and_one_answer(make_server):
    """100 connections that each pipeline 16 GET /api/v1/tasks?limit=200 (1.8 MB of long
    descriptions) and never read. Every answer was made and held, 16 per connection: RSS grew
    by 2.1 GB in 8 s. Now a connection starts a request only while it owes less than
    HTTP_MAX_QUEUED_BYTES of answers, one at a time, and stops reading past it: each holds at
    most the limit and one answer, and is closed once nothing has moved for HTTP_IDLE_TIMEOUT.
    A normal client is answered meanwhile."""
    import os
    import socket
    import threading
    import time
    import uuid

    from conftest import http, metric_samples, metric_value

    conns, depth, limit, idle_s = 100, 16, 256 * 1024, 4
    s = make_server(WORKERS=1, HTTP_MAX_QUEUED_BYTES=limit, HTTP_IDLE_TIMEOUT="%ds" % idle_s,
                    HTTP_REQUEST_TIMEOUT="60s", AUTH_REQUIRE_VERIFIED_EMAIL="false",
                    # ASan keeps freed blocks (256 MiB by default) and RSS would count them
                    ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=16")
    s.wait_db_ready()
    _, token = faults.user(s.url, uuid.uuid4().hex[:8])
    auth = {"Authorization": "Bearer " + token}
    task_id = faults.long_tasks(s.url, token)[0]
    st, _, body = http("GET", s.url + "/api/v1/tasks?limit=200", auth)
    assert st == 200 and len(body) > 1_700_000, (st, len(body))
    one_answer = len(body) + 1024  # and its head

    normal, stop = [], threading.Event()

    def normal_client():
        while not stop.is_set():
            t0 = time.monotonic()
            st = http("GET", s.url + "/api/v1/tasks/%d" % task_id, auth, timeout=60)[0]
            normal.append((st, time.monotonic() - t0))
            stop.wait(0.2)

    req = ("GET /api/v1/tasks?limit=200 HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer %s\r\n\r\n" % token).encode()
    rss_before = faults.rss_kib(s.pid)
    bound_kib = conns * (limit + one_answer) // 1024 + 64 * 1024  # slack: ASan, the pool's buffers, the heap
    socks, peak, peak_unsent, t_done, quiet = [], 0, 0, None, 0
    reader = threading.Thread(target=normal_client, daemon=True)
    try:
        for _ in range(conns):
            c = socket.socket()
            c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            c.connect(("127.0.0.1", s.port))
            c.sendall(req * depth)
            socks.append(c)
        reader.start()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            peak = max(peak, faults.rss_kib(s.pid) - rss_before)
            samples = metric_samples(http("GET", s.url + "/metrics")[2].decode())
            peak_unsent = max(peak_unsent, metric_value(samples, "http_answer_bytes_unsent"))
            assert peak < bound_kib, "RSS grew by %d KiB with %d non-readers (bound %d KiB; %d bytes unsent)" \
                % (peak, conns, bound_kib, peak_unsent)
            assert peak_unsent <= conns * (limit + one_answer), peak_unsent
            busy = metric_value(samples, "db_pool_connections", state="busy")
            waiting = metric_value(samples, "db_pool_queue_length")
            open_now = metric_value(samples, "http_connections_open")
            if t_done is None:
                # the non-readers' requests that could start have their answers: nothing more is made
                quiet = quiet + 1 if busy == 0 and waiting == 0 else 0
                if quiet >= 3:
                    t_done = time.monotonic()
            elif open_now <= 2:  # /metrics' own, and the normal client's
                break
            else:
                # a write's progress is seen when its timer looks: closed within two timeouts of the last
                assert time.monotonic() < t_done + 2 * idle_s + 3, "%s non-readers still open %.1fs after the last" \
                    " answer" % (open_now, time.monotonic() - t_done)
            time.sleep(0.25)
        else:
            raise AssertionError("the non-readers' answers were still being made after 120 s")
    finally:
        stop.set()
        for c in socks:
            c.close()
        if reader.is_alive():
            reader.join(70)
    assert normal and all(st == 200 for st, _ in normal), normal
    print("rss growth %d KiB, unsent %d bytes at most" % (peak, peak_unsent))


def test_header_timeouts_due_together_are_spread_over_loop_turns(make_server):
    """Slow connections opened together reach their header timeout together: their 408 writes
    and shutdowns were all done in one loop turn (5 000 of them held the loop for tens of ms,
    and every other client with it). A turn now handles a few and leaves the rest to the next;
    every one of them still gets its 408 and is closed."""
    import resource
    import select
    import socket
    import time

    from conftest import http, metric_samples, metric_value

    conns = 600
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
    s = make_server(WORKERS=1, HTTP_HEADER_TIMEOUT="2s", HTTP_MAX_CONNECTIONS=4096)
    socks = []
    try:
        for _ in range(conns):
            c = socket.socket()
            c.setblocking(False)
            assert c.connect_ex(("127.0.0.1", s.port)) in (0, 115)  # EINPROGRESS
            socks.append(c)
        select.select([], socks[-1:], [], 5)
        for c in socks:
            c.send(b"GET /health HTTP/1.1\r\nHost")
        answered, pending, deadline = 0, {c: b"" for c in socks}, time.monotonic() + 30
        while pending and time.monotonic() < deadline:
            ready, _, _ = select.select(list(pending)[:1000], [], [], 0.5)
            for c in ready:
                d = c.recv(4096)
                pending[c] += d
                if not d:  # closed after its answer
                    answered += pending.pop(c).startswith(b"HTTP/1.1 408")
        assert not pending and answered == conns, "%d of %d answered 408 and closed" % (answered, conns)
        assert http("GET", s.url + "/health")[0] == 200
        samples = metric_samples(http("GET", s.url + "/metrics")[2].decode())
        assert metric_value(samples, "http_deadlines_deferred_total") > 0, "all due in one turn"
    finally:
        for c in socks:
            c.close()
