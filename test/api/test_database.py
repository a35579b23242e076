"""The server and its PostgreSQL: outages, reconnects, timeouts, the wait queue."""

import json
import threading
import time

import pytest

from conftest import (LockHolder, assert_problem, ensure_pg_running, http, metric_samples, metric_value,
                      pg_ctl, pg_running)


def _ready(url, timeout=5):
    t0 = time.monotonic()
    st, h, body = http("GET", url + "/health/ready", timeout=timeout)
    return st, h, body, time.monotonic() - t0


def _wait_shared_ready(server):
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if _ready(server.url)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)


def test_database_outage_and_recovery(make_server, server):
    s = make_server(HTTP_REQUEST_TIMEOUT="5s")
    s.wait_db_ready()
    pid = s.pid
    try:
        pg_ctl("stop")
        stopped = time.monotonic()

        st, _, body = http("GET", s.url + "/health")
        assert st == 200 and body == b"ok", "GET /health must not depend on the database"

        # /health/ready reports the outage within 1 s, and each answer is immediate
        while True:
            st, h, body, took = _ready(s.url)
            if st == 503:
                break
            assert time.monotonic() - stopped < 1.0, "still %s %s 1 s after the stop" % (st, body)
            time.sleep(0.05)
        assert time.monotonic() - stopped < 1.0
        doc = json.loads(body)
        assert doc["status"] == "unavailable" and doc["database"] == "down", doc
        assert type(doc["uptime_s"]) is int
        assert h.get("retry-after", "").isdigit() and int(h["retry-after"]) >= 1, h
        for _ in range(5):
            st, h, body, took = _ready(s.url)
            assert st == 503, body
            assert took < 0.5, "a 503 while the database is down must answer at once (took %.2fs)" % took
            time.sleep(0.1)
        assert http("GET", s.url + "/health")[0] == 200

        pg_ctl("start")
        started = time.monotonic()
        while True:
            st, _, body, _ = _ready(s.url)
            if st == 200:
                break
            assert time.monotonic() - started < 2.0, "not ready 2 s after PostgreSQL came back: %s" % body
            time.sleep(0.1)
        elapsed = time.monotonic() - started
        assert elapsed < 2.0, elapsed
        assert json.loads(body)["database"] == "ok"
        assert s.running() and s.pid == pid, "hourglass restarted"
        # every request works again, not just one
        for _ in range(10):
            s.wait_db_ready()
        samples = metric_samples(http("GET", s.url + "/metrics")[2].decode())
        assert metric_value(samples, "db_reconnects_total") >= 1
    finally:
        ensure_pg_running()
        _wait_shared_ready(server)


def test_serve_waits_for_database_at_startup(make_server, server):
    try:
        pg_ctl("stop")
        s = make_server(DB_STARTUP_TIMEOUT="20s", _wait=False)
        time.sleep(1.0)
        assert s.running(), "serve gave up although DB_STARTUP_TIMEOUT is 20s:\n" + s.log_tail()
        pg_ctl("start")
        s.wait_ready(timeout=10)
        s.wait_db_ready()
    finally:
        ensure_pg_running()
        _wait_shared_ready(server)


def test_serve_gives_up_after_startup_timeout(make_server, server):
    try:
        pg_ctl("stop")
        s = make_server(DB_STARTUP_TIMEOUT="1s", _wait=False)
        s.expected_exit = None  # a failure exit is expected; checked below
        rc = s.wait_exit(8)
        assert rc is not None, "serve still running 8 s after DB_STARTUP_TIMEOUT=1s with no database"
        assert rc != 0
        s.expected_exit = rc
    finally:
        ensure_pg_running()
        _wait_shared_ready(server)


def test_504_request_timeout(make_server):
    s = make_server(HTTP_REQUEST_TIMEOUT="1s")
    s.wait_db_ready()
    lock = LockHolder(2.5)
    try:
        t0 = time.monotonic()
        st, h, body = http("GET", s.url + "/health/ready", timeout=5)
        took = time.monotonic() - t0
        assert_problem((st, h, body), 504, "timeout")
        assert 0.8 <= took <= 1.8, took
        assert b"schema_migrations" not in body and b"SELECT" not in body
        # /health is never held up by the database
        st, _, _ = http("GET", s.url + "/health", timeout=2)
        assert st == 200
    finally:
        lock.wait()
    # the late answer of the timed-out query must not reach anyone else; the pool is healthy again
    deadline = time.monotonic() + 2
    while _ready(s.url)[0] != 200:
        assert time.monotonic() < deadline, "ready did not recover after the lock was released"
        time.sleep(0.1)
    for _ in range(10):
        st, _, body, took = _ready(s.url)
        assert st == 200 and json.loads(body)["status"] == "ok", body
        assert took < 1


def test_queue_full_answers_503_overloaded(make_server):
    s = make_server(WORKERS=1, DB_POOL_SIZE=1, DB_QUEUE_SIZE=2, HTTP_REQUEST_TIMEOUT="10s")
    s.wait_db_ready()
    # enough concurrent requests to exceed whatever one connection takes in flight (queries are pipelined)
    # plus the queue of 2
    n = 80
    results = [None] * n

    def one(i):
        t0 = time.monotonic()
        try:
            st, h, body = http("GET", s.url + "/health/ready", timeout=15)
            results[i] = (st, h, body, time.monotonic() - t0)
        except Exception as e:  # noqa: BLE001
            results[i] = (None, {}, repr(e).encode(), time.monotonic() - t0)

    lock = LockHolder(3)
    try:
        threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
            time.sleep(0.005)
        for t in threads:
            t.join(20)
    finally:
        lock.wait()
    statuses = [r[0] for r in results]
    overloaded = [r for r in results if r[0] == 503]
    assert overloaded, "no request was refused with DB_POOL_SIZE=1, DB_QUEUE_SIZE=2: %s" % statuses
    for st, h, body, took in overloaded:
        assert_problem((st, h, body), 503, "overloaded")
        assert h.get("retry-after", "").isdigit(), h
        assert took < 1.0, "a full queue must refuse at once (took %.2fs)" % took
    assert set(statuses) <= {200, 503}, statuses
    assert statuses.count(200) >= 3, statuses


def test_restart_mid_load_loses_nothing(make_server, server):
    """Writes during a PostgreSQL restart: each answer is 201 or 503, never a 500 or a
    hang, and every 201 is in the database once, with its mail (same transaction)."""
    import uuid

    from conftest import psql

    s = make_server(AUTH_REQUIRE_VERIFIED_EMAIL="false", HTTP_REQUEST_TIMEOUT="5s")
    s.wait_db_ready()
    pid = s.pid
    tag = uuid.uuid4().hex[:8]
    results = []
    lock = threading.Lock()
    stop = threading.Event()

    def writer(n):
        i = 0
        while not stop.is_set():
            address = "restart-%s-%d-%d@example.com" % (tag, n, i)
            i += 1
            body = json.dumps({"email": address, "password": "Restart-pass-1"}).encode()
            try:
                st, _, b = http("POST", s.url + "/api/v1/auth/register", {"Content-Type": "application/json"},
                                body, timeout=10)
            except OSError as e:  # noqa: PERF203
                st, b = None, repr(e).encode()
            with lock:
                results.append((address, st, b))
            time.sleep(0.01)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    try:
        for t in threads:
            t.start()
        time.sleep(1.0)
        pg_ctl("stop")
        time.sleep(1.0)
        pg_ctl("start")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and _ready(s.url)[0] != 200:
            time.sleep(0.1)
        time.sleep(1.0)
    finally:
        stop.set()
        for t in threads:
            t.join(15)
        ensure_pg_running()
        _wait_shared_ready(server)

    statuses = [st for _, st, _ in results]
    odd = [(a, st, b[:200]) for a, st, b in results if st not in (201, 503)]
    assert not odd, "answers other than 201/503 during the restart: %s" % odd[:5]
    assert statuses.count(503) >= 1, "the outage was not noticed: %s" % statuses
    assert statuses[-4:].count(201) >= 1, "writes did not resume after the restart"
    for address, st, b in results:
        if st == 503:
            assert json.loads(b)["code"] in ("database_unavailable", "overloaded"), b
    created = [a for a, st, _ in results if st == 201]
    rows = psql("SELECT count(*), count(DISTINCT lower(email)) FROM users WHERE email LIKE 'restart-%s-%%'" % tag)
    stored = int(rows.split("|")[0])
    assert stored >= len(created) and rows.split("|")[0] == rows.split("|")[1]
    missing = psql("SELECT count(*) FROM unnest(ARRAY[%s]::text[]) AS a(e) "
                   "WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.email = a.e)"
                   % ",".join("'%s'" % a for a in created))
    assert missing == "0", "a 201 was answered for a user that is not stored"
    mails = psql("SELECT count(*) FROM mail_outbox WHERE to_addr LIKE 'restart-%s-%%'" % tag)
    assert int(mails) == stored, "every stored registration has its mail, and only those"
    assert s.running() and s.pid == pid


def test_connection_string_options_still_apply(make_server):
    """The pool adds its own session options (generic plans for its prepared
    statements); options in DATABASE_URL must still reach the session."""
    from conftest import DB_URL, psql
    name = "hg-options-%d" % int(time.time() * 1000)
    sep = "&" if "?" in DB_URL else "?"
    s = make_server(WORKERS=1, DB_POOL_SIZE=1,
                    DATABASE_URL=DB_URL + sep + "options=-c%20application_name%3D" + name)
    _wait_shared_ready(s)
    assert _ready(s.url)[0] == 200
    # the pool's one connection carries the name from the URL (and, being
    # ready, accepted the pool's own option before it)
    assert psql("SELECT count(*) FROM pg_stat_activity WHERE application_name = '%s'" % name) == "1"
