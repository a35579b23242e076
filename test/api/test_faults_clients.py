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
        c = socket.socket()
        c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        c.connect(("127.0.0.1", s.port))
        c.setblocking(False)
        try:
            for _ in range(64):
                c.send(b"GET /openapi.json HTTP/1.1\r\nHost: t\r\n\r\n")
        except BlockingIOError:
            pass
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
