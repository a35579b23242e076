#!/usr/bin/python3
"""Live events: memory per open stream, and the time from POST /messages to the event.

    bench/sse_bench.py streams  --port 8001 --pid PID [-n 5000]
    bench/sse_bench.py latency  --port 8001 [-n 300]
    bench/sse_bench.py user     --port 8001           # prints "TOKEN PEER_ID" for wrk scenarios
    bench/sse_bench.py pairs    --port 8001 -n 64     # "TOKEN:PEER,..." for bench/msg_send.lua
    bench/sse_bench.py me       --port 8001           # prints "TOKEN USER_ID"
    bench/sse_bench.py changes  --port 8001 --pid PID [-n 5000 --users 500 --writes 300]

`streams` opens N event streams of one user (start the server with
EVENTS_MAX_STREAMS_PER_USER above N), reads each head, and prints the server's resident
memory before and after divided by N; then one message is sent and the time until every
stream has its event is printed:

    sse_streams n=5000 open=5000 rss_before_kib=... rss_after_kib=... kib_per_stream=...
    sse_fanout n=5000 got=5000 ms=...

`latency` keeps one stream of the recipient open and sends N messages one after another,
each timed from the start of its POST to the arrival of its event on the stream:

    sse_latency n=300 p50_ms=... p99_ms=... max_ms=...

`changes` opens N streams of USERS users (N / USERS each) and prints the memory per stream as
`streams` does; then a writer with two streams of its own creates WRITES tasks one after another,
each timed from the start of its POST to its change event on both of its streams, and from the
POST's answer (the commit) to it (issue 18: while wrk loads task_create beside it, bench/run
sse_changes):

    sse_changes_streams n=5000 users=500 open=5000 ... kib_per_stream=...
    sse_changes n=300 p50_ms=... p99_ms=... max_ms=...
    sse_changes_after_answer n=300 p50_ms=... p99_ms=... max_ms=...

Needs a server with AUTH_REQUIRE_VERIFIED_EMAIL=false (bench/run starts it so). Only
127.0.0.1; every loop is bounded.
"""
import argparse
import json
import random
import resource
import selectors
import socket
import sys
import time
import urllib.request

from idle_conns import rss_kib  # beside this file

PASSWORD = "Bench-pass-123"


def api(port, method, path, body=None, token=None):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), method=method,
                                 data=json.dumps(body).encode() if body is not None else None)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read() or b"null")


def new_user(port):
    email = "sse-%d-%d@example.com" % (time.time_ns(), random.randrange(1 << 30))
    user = api(port, "POST", "/api/v1/auth/register", {"email": email, "password": PASSWORD})
    tok = api(port, "POST", "/api/v1/auth/login", {"email": email, "password": PASSWORD})
    return user["id"], tok["access_token"]


def open_stream(port, token):
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(("GET /api/v1/events HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer %s\r\n"
               "Accept: text/event-stream\r\n\r\n" % token).encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            raise RuntimeError("stream closed before its head")
        head += chunk
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError("stream refused: %r" % head[:80])
    s.setblocking(False)
    return s, head.split(b"\r\n\r\n", 1)[1]


def hash_arena_bytes(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=30) as r:
        for line in r.read().decode().splitlines():
            if line.startswith("password_hash_arena_bytes "):
                return int(float(line.split()[1]))
    return 0


def streams(args):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    uid, token = new_user(args.port)
    _, sender = new_user(args.port)
    # the logins' hashing arenas (64 MiB each) are given back after 10-15 s idle: measure without them
    deadline = time.monotonic() + 40
    while hash_arena_bytes(args.port) and time.monotonic() < deadline:
        time.sleep(1)
    before = rss_kib(args.pid)
    socks = []
    for _ in range(args.n):
        socks.append(open_stream(args.port, token)[0])
    time.sleep(1)
    after = rss_kib(args.pid)
    print("sse_streams n=%d open=%d rss_before_kib=%d rss_after_kib=%d kib_per_stream=%.2f"
          % (args.n, len(socks), before, after, (after - before) / max(1, len(socks))))
    sel = selectors.DefaultSelector()
    for s in socks:
        sel.register(s, selectors.EVENT_READ, bytearray())
    t0 = time.monotonic()
    api(args.port, "POST", "/api/v1/messages", {"to_user_id": uid, "text": "fan-out"}, sender)
    got, deadline = set(), t0 + 30
    while len(got) < len(socks) and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=1):
            data = key.fileobj.recv(65536)
            key.data.extend(data)
            if b"event: message" in key.data:
                got.add(key.fileobj)
                sel.unregister(key.fileobj)
    print("sse_fanout n=%d got=%d ms=%.1f" % (len(socks), len(got), (time.monotonic() - t0) * 1000))
    for s in socks:
        s.close()


def latency(args):
    uid, token = new_user(args.port)
    _, sender = new_user(args.port)
    s, buf = open_stream(args.port, token)
    buf = bytearray(buf)
    sel = selectors.DefaultSelector()
    sel.register(s, selectors.EVENT_READ)
    times = []
    for i in range(args.n):
        t0 = time.monotonic()
        msg = api(args.port, "POST", "/api/v1/messages", {"to_user_id": uid, "text": "m%d" % i}, sender)
        want = ("id: %d\n" % msg["id"]).encode()
        deadline = t0 + 10
        while want not in buf and time.monotonic() < deadline:
            if sel.select(timeout=0.5):
                buf.extend(s.recv(65536))
        if want not in buf:
            sys.exit("sse_latency: message %d never arrived" % msg["id"])
        times.append((time.monotonic() - t0) * 1000)
        del buf[:buf.index(want)]
    times.sort()
    pick = lambda q: times[min(len(times) - 1, int(q * len(times)))]
    print("sse_latency n=%d p50_ms=%.2f p99_ms=%.2f max_ms=%.2f" % (len(times), pick(0.5), pick(0.99), times[-1]))


def changes(args):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    tokens = [new_user(args.port)[1] for _ in range(args.users)]
    _, writer = new_user(args.port)
    deadline = time.monotonic() + 40
    while hash_arena_bytes(args.port) and time.monotonic() < deadline:
        time.sleep(1)
    before = rss_kib(args.pid)
    others = [open_stream(args.port, tokens[i % len(tokens)])[0] for i in range(args.n)]
    time.sleep(1)
    after = rss_kib(args.pid)
    print("sse_changes_streams n=%d users=%d open=%d rss_before_kib=%d rss_after_kib=%d kib_per_stream=%.2f"
          % (args.n, args.users, len(others), before, after, (after - before) / max(1, len(others))))
    mine = [open_stream(args.port, writer) for _ in range(2)]
    sel = selectors.DefaultSelector()
    bufs = []
    for s, rest in mine:
        bufs.append(bytearray(rest))
        sel.register(s, selectors.EVENT_READ, len(bufs) - 1)
    times, after_answer = [], []
    for i in range(args.writes):
        t0 = time.monotonic()
        task = api(args.port, "POST", "/api/v1/tasks", {"title": "change %d" % i}, writer)
        t_answer = time.monotonic()
        want = ('"resource":"tasks","op":"created","id":%d,' % task["id"]).encode()
        deadline = t0 + 10
        while not all(want in b for b in bufs) and time.monotonic() < deadline:
            for key, _ in sel.select(timeout=0.5):
                bufs[key.data].extend(key.fileobj.recv(65536))
        if not all(want in b for b in bufs):
            sys.exit("sse_changes: the change of task %d never arrived" % task["id"])
        times.append((time.monotonic() - t0) * 1000)
        after_answer.append((time.monotonic() - t_answer) * 1000)
        for b in bufs:
            del b[:b.index(want)]
    for s in others + [m[0] for m in mine]:
        s.close()
    for name, v in (("sse_changes", times), ("sse_changes_after_answer", after_answer)):
        v.sort()
        pick = lambda q: v[min(len(v) - 1, int(q * len(v)))]
        print("%s n=%d p50_ms=%.2f p99_ms=%.2f max_ms=%.2f" % (name, len(v), pick(0.5), pick(0.99), v[-1]))


def me(args):
    uid, token = new_user(args.port)
    print(token, uid)


def user(args):
    uid, token = new_user(args.port)
    peer, _ = new_user(args.port)
    print(token, peer)


def pairs(args):
    """N distinct conversations for wrk: "token:peer,..."."""
    out = []
    for _ in range(args.n):
        _, token = new_user(args.port)
        peer, _ = new_user(args.port)
        out.append("%s:%d" % (token, peer))
    print(",".join(out))


# mode: (its function, the default -n, whether it needs --pid)
MODES = {
    "streams": (streams, 5000, True),
    "changes": (changes, 5000, True),
    "latency": (latency, 300, False),
    "pairs": (pairs, 64, False),
    "me": (me, 0, False),
    "user": (user, 0, False),
}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=list(MODES))
    p.add_argument("--port", type=int, default=8001)
    p.add_argument("--pid", type=int)
    p.add_argument("-n", type=int, default=0)
    p.add_argument("--users", type=int, default=500)
    p.add_argument("--writes", type=int, default=300)
    args = p.parse_args()
    run, default_n, needs_pid = MODES[args.mode]
    args.n = args.n or default_n
    if needs_pid and not args.pid:
        sys.exit("%s needs --pid" % args.mode)
    run(args)


if __name__ == "__main__":
    main()
