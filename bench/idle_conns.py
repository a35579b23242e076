#!/usr/bin/python3
"""Server memory per idle keep-alive connection.

    bench/idle_conns.py [--port 8001] [--pid PID] [-n 10000]

Opens N connections to 127.0.0.1:PORT; each sends one `GET /health`, reads the whole answer
and then stays open and idle. The server's resident memory (VmRSS in /proc/PID/status) is
read before and after, and the difference divided by N is printed:

    idle_conns n=10000 ok=10000 open=10000 rss_before_kib=5120 rss_after_kib=30720 kib_per_conn=2.56

Without --pid the process listening on the port is looked up with `ss`. Must run well within
the server's HTTP_IDLE_TIMEOUT (60 s by default). The server needs an open-file limit above N
too (bench/run raises it before starting the server).
"""
import argparse
import re
import resource
import socket
import subprocess
import sys
import time

REQUEST = b"GET /health HTTP/1.1\r\nHost: bench\r\n\r\n"


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS for pid %d" % pid)


def listening_pid(port):
    out = subprocess.run(["ss", "-ltnpH", "sport = :%d" % port],
                         capture_output=True, text=True).stdout
    m = re.search(r"pid=(\d+)", out)
    if not m:
        sys.exit("idle_conns: nobody listens on port %d (or ss cannot tell); pass --pid" % port)
    return int(m.group(1))


def raise_nofile(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = n + 256
    if hard != resource.RLIM_INFINITY and hard < want:
        sys.exit("idle_conns: the hard open-file limit is %d, need %d (lower -n)" % (hard, want))
    if soft == resource.RLIM_INFINITY or soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def one_exchange(port):
    """Connect, GET /health, read the full answer; return the open socket (or None)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(REQUEST)
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(4096)
        if not chunk:
            s.close()
            return None
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    need = int(m.group(1)) if m else 0
    while len(body) < need:
        chunk = s.recv(4096)
        if not chunk:
            break
        body += chunk
    if not head.startswith(b"HTTP/1.1 200"):
        s.close()
        return None
    return s


def still_open(s):
    """True when the server has not closed the connection (nothing to read, no EOF)."""
    s.setblocking(False)
    try:
        return s.recv(1) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--port", type=int, default=8001)
    ap.add_argument("--pid", type=int)
    ap.add_argument("-n", type=int, default=10000, help="connections (default 10000)")
    args = ap.parse_args()
    pid = args.pid or listening_pid(args.port)
    raise_nofile(args.n)

    # warm up: first-use allocations (per-worker buffers, pools) are not per-connection cost
    for s in [one_exchange(args.port) for _ in range(64)]:
        if s:
            s.close()
    time.sleep(0.5)
    before = rss_kib(pid)

    socks, failed = [], 0
    t0 = time.monotonic()
    for _ in range(args.n):
        try:
            s = one_exchange(args.port)
        except OSError:
            s = None
        if s:
            socks.append(s)
        else:
            failed += 1
    took = time.monotonic() - t0
    time.sleep(1.0)  # let the server finish whatever it does after an answer
    after = rss_kib(pid)
    alive = sum(1 for s in socks if still_open(s))
    for s in socks:
        s.close()

    per_conn = (after - before) / max(len(socks), 1)
    print("idle_conns n=%d ok=%d open=%d rss_before_kib=%d rss_after_kib=%d kib_per_conn=%.2f"
          " (opened in %.1fs)" % (args.n, len(socks), alive, before, after, per_conn, took))
    sys.exit(0 if failed == 0 and alive == len(socks) else 1)


if __name__ == "__main__":
    main()
