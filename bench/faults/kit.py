"""What every fault campaign uses (faults.py, hostile.py): a server started for it, users, a
process's RSS, fds and CPU, percentiles, and a keep-alive client. Uses test/api/conftest.py for
the server, psql and pg_ctl helpers."""
import http.client as httpclient
import json
import os
import resource
import socket
import sys
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "test", "api"))
sys.path.insert(0, os.path.join(HERE, "..", "..", "test"))

from conftest import Server, http, psql  # noqa: E402

PASSWORD = "Fault-pass-123"
OK = (200, 201, 204)


def log(*a):
    print("#", *a, file=sys.stderr, flush=True)


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def start(env=None, wait=True):
    base = {"AUTH_REQUIRE_VERIFIED_EMAIL": "false", "LOGIN_IP_LIMIT": "1000000", "LOG_LEVEL": "warn",
            "HTTP_REQUEST_TIMEOUT": "5s"}
    base.update(env or {})
    s = Server(base)
    if wait:
        s.wait_ready()
        s.wait_db_ready(timeout=10)
    return s


def finish(*servers):
    probs = []
    for s in servers:
        probs += s.finish()
    return probs


def user(url, tag):
    email = "fault-%s-%s@example.com" % (tag, uuid.uuid4().hex[:8])
    st, _, b = http("POST", url + "/api/v1/auth/register", {"Content-Type": "application/json"},
                    json.dumps({"email": email, "password": PASSWORD}))
    assert st == 201, (st, b)
    st, _, b = http("POST", url + "/api/v1/auth/login", {"Content-Type": "application/json"},
                    json.dumps({"email": email, "password": PASSWORD}))
    assert st == 200, (st, b)
    return email, json.loads(b)["access_token"]


def long_tasks(url, token, n=200, chars=9000):
    """n tasks with long descriptions for the user of token, so that GET /api/v1/tasks?limit=200
    is a large answer (1.8 MB for 200 of 9 000 characters). Returns the ids."""
    me = json.loads(http("GET", url + "/api/v1/users/me", {"Authorization": "Bearer " + token})[2])
    return [int(i) for i in psql("INSERT INTO tasks (user_id, title, description) SELECT %d, 'long ' || g,"
                                 " repeat('d', %d) FROM generate_series(1, %d) g RETURNING id"
                                 % (me["id"], chars, n)).splitlines() if i.isdigit()]  # and the command tag


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def open_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def cpu_s(pid):
    """User + system CPU seconds of a process so far."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pctl(values, p):
    if not values:
        return 0.0
    v = sorted(values)
    return v[min(len(v) - 1, int(len(v) * p))]


class Client:
    """One keep-alive connection; reconnects after any error. Every request has a timeout."""

    def __init__(self, url, token=None, timeout=10):
        u = url.split("//", 1)[1]
        self.host, port = u.split(":")
        self.port = int(port.split("/")[0])
        self.token, self.timeout, self.conn = token, timeout, None

    def request(self, method, path, body=None):
        t0 = time.monotonic()
        headers = {"Content-Type": "application/json"} if body is not None else {}
        if self.token:
            headers["Authorization"] = "Bearer " + self.token
        try:
            if self.conn is None:
                self.conn = httpclient.HTTPConnection(self.host, self.port, timeout=self.timeout)
            self.conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
            r = self.conn.getresponse()
            data = r.read()
            if r.getheader("Connection", "").lower() == "close":
                self.close()
            return r.status, data, t0, time.monotonic() - t0
        except (OSError, httpclient.HTTPException) as e:
            self.close()
            # no answer: the kind of failure stands in for the status (refused, reset, closed)
            return type(e).__name__, repr(e).encode(), t0, time.monotonic() - t0

    def close(self):
        if self.conn:
            self.conn.close()
        self.conn = None


def deaf_connection(port, request, count):
    """A connection with a small receive buffer that sends request count times (as many as the
    kernel takes) and never reads the answers."""
    c = socket.socket()
    c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    c.connect(("127.0.0.1", port))
    c.setblocking(False)
    try:
        for _ in range(count):
            c.send(request)
    except BlockingIOError:
        pass
    return c
