"""Shared pieces of test_messages.py and test_events.py: server settings, users, sending, and a
Server-Sent Events client over a raw socket.

Written from API.md and the issue "Messages, conversations and live events", not from the
server code. What the tests assume of the server beyond API.md:

  * GET /api/v1/events subscribes the stream before it sends its response head, so a client
    that has read the head (status line and headers) receives every message committed after
    that moment; with Last-Event-ID it also receives, first, every message of that user (both
    directions) with a greater id, oldest first, then live ones: no gap, no duplicate.
  * An event is `id: <message id>`, `data: <the message JSON>` and type `message` (an
    `event: message` line, or none, which means the same); comments (`:` lines) are
    heartbeats and may come at any time.
  * The body is either plain bytes until the connection closes, or chunked; both are read.
  * Settings: EVENTS_HEARTBEAT_INTERVAL (duration, default 15s), EVENTS_MAX_STREAMS_PER_USER
    (default 10), EVENTS_MAX_UNSENT (size, default 256k).
  * /metrics: sse_streams_open (gauge), sse_events_sent_total, sse_streams_dropped_total
    (counters), summed over the process's workers. Any labels are summed over here.
"""

import json
import re
import socket
import time
import urllib.parse
import uuid

import pytest

from conftest import http, metric_samples, start_server
from planning_helpers import Api

PASSWORD = "Corr3ct-horse"
ORIGIN = "http://app.example"
MISSING_ID = 9000000000000000000  # a valid 64-bit id that no row has
TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
MESSAGE_KEYS = {"id", "from_user_id", "to_user_id", "text", "created_at", "read_at"}
PUBLIC_KEYS = {"id", "username", "name", "country", "is_premium", "avatar_url"}
EVENTS = "/api/v1/events"

# Every server of these tests: the same signing key (two instances accept each other's tokens),
# cheap hashing, no e-mail verification, and no per-IP login ceiling (every login is 127.0.0.1).
ENV = {
    "CLIENT_ORIGIN": ORIGIN,
    "JWT_SECRET": "test-secret-0123456789abcdef-messages",
    "PASSWORD_HASH_COST": "min",
    "AUTH_REQUIRE_VERIFIED_EMAIL": "false",
    "LOGIN_IP_LIMIT": 1000000,
}


def uniq(prefix="x"):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:10])


def module_server(ready=None, **extra):
    """A generator for a module-scoped server fixture with ENV (and extra) settings; ready(s),
    when given, runs before the server is handed out."""
    env = dict(ENV)
    env.update(extra)
    s = start_server(env)
    probs = []
    try:
        s.wait_db_ready()
        if ready:
            ready(s)
        yield s
    finally:
        probs = s.finish()
    if probs:
        pytest.fail("\n".join(probs))


def server_with(make_server, **extra):
    """A server of make_server's with ENV and extra settings, ready for database work."""
    env = dict(ENV)
    env.update(extra)
    s = make_server(**env)
    s.wait_db_ready()
    return s


# --------------------------------------------------------------------------- users

def _post_json(url, body, token=None):
    h = {"Content-Type": "application/json"}
    if token:
        h["Authorization"] = "Bearer " + token
    return http("POST", url, headers=h, body=json.dumps(body).encode())


def login(srv, email):
    """A new session of an existing user: its access token."""
    st, _, body = _post_json(srv.url + "/api/v1/auth/login", {"email": email, "password": PASSWORD})
    assert st == 200, (st, body)
    return json.loads(body)["access_token"]


def new_user(srv, **fields):
    """A freshly registered and logged-in user: an Api with .user (the register answer, with id
    and email) and .id."""
    addr = uniq("msg") + "@example.com"
    body = {"email": addr, "password": PASSWORD}
    body.update(fields)
    st, _, out = _post_json(srv.url + "/api/v1/auth/register", body)
    assert st == 201, (st, out)
    user = json.loads(out)
    api = Api(srv, login(srv, addr), user)
    api.id = user["id"]
    api.email = addr
    return api


def as_server(api, srv):
    """The same user and token talking to another instance."""
    other = Api(srv, api.token, api.user)
    other.id, other.email = api.id, api.email
    return other


def send(api, to, text=None):
    """POST /messages from api to `to` (an Api or an id); the created message."""
    to_id = to if isinstance(to, int) else to.id
    r = api.post("/api/v1/messages", {"to_user_id": to_id, "text": text if text is not None else uniq("hi")})
    assert r.status == 201, r
    return r.json()


# --------------------------------------------------------------------------- metrics

def metrics(srv):
    st, _, body = http("GET", srv.url + "/metrics")
    assert st == 200, st
    return metric_samples(body.decode("utf-8"))


def metric_sum(srv, name):
    """The sum of every sample of a metric (0.0 when it is absent)."""
    return sum(v for n, _, v in metrics(srv) if n == name)


def metric_present(srv, name):
    return any(n == name for n, _, _ in metrics(srv))


def wait_metric(srv, name, pred, timeout=3.0):
    """Poll until pred(value) holds; returns the last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = metric_sum(srv, name)
        if pred(v) or time.monotonic() >= deadline:
            return v
        time.sleep(0.05)


# --------------------------------------------------------------------------- SSE client

class StreamRefused(AssertionError):
    pass


class EventStream:
    """GET /api/v1/events on a raw socket, parsed as Server-Sent Events.

    The constructor sends the request and reads the response head (unless head=False); a
    non-200 answer is kept in .status / .headers / .error_body (use expect_ok=False to allow it).
    Events are dicts {"id", "event", "data"}; comments are kept in .comments."""

    def __init__(self, port, token=None, cookie=None, last_event_id=None, headers=None, rcvbuf=None,
                 head=True, expect_ok=True, timeout=5.0, path=EVENTS):
        self.port = port
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            # before connect, so the advertised window stays small
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.raw = b""         # received, not yet taken as head or body
        self.body = b""        # body bytes not yet split into lines
        self.eof = self.reset = False
        self.status, self.headers, self.error_body = None, {}, b""
        self.chunked = False
        self.chunked_done = False  # the terminating zero-length chunk arrived
        self._chunk_left, self._need_crlf = 0, False
        self.events, self.queue, self.comments = [], [], []
        self._data, self._id, self._type = [], None, None
        self.last_id = None
        lines = ["GET %s HTTP/1.1" % path, "Host: test", "Accept: text/event-stream"]
        if token:
            lines.append("Authorization: Bearer " + token)
        if cookie:
            lines.append("Cookie: access_token=" + cookie)
        if last_event_id is not None:
            lines.append("Last-Event-ID: %s" % last_event_id)
        for k, v in (headers or {}).items():
            lines.append("%s: %s" % (k, v))
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        if head:
            self.read_head(timeout)
            if expect_ok and self.status != 200:
                self.close()
                raise StreamRefused("GET %s answered %s %r %r" % (path, self.status, self.headers,
                                                                  self.error_body[:300]))

    # -- socket
    def _fill(self, deadline):
        """Read more bytes. False at EOF; socket.timeout after deadline."""
        if self.eof:
            return False
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("timed out")
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(262144)
        except (ConnectionResetError, ConnectionAbortedError):
            self.eof = self.reset = True
            return False
        if not chunk:
            self.eof = True
            return False
        self.raw += chunk
        if self.status is not None:
            self._feed()
        return True

    def read_head(self, timeout=5.0):
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.raw:
            if not self._fill(deadline):
                raise AssertionError("connection closed before a response head: %r" % self.raw)
        end = self.raw.index(b"\r\n\r\n")
        lines = self.raw[:end].decode("latin-1").split("\r\n")
        self.raw = self.raw[end + 4:]
        m = re.match(r"^HTTP/1\.[01] (\d{3})", lines[0])
        assert m, "bad status line %r" % lines[0]
        status = int(m.group(1))
        for line in lines[1:]:
            k, _, v = line.partition(":")
            k = k.strip().lower()
            self.headers[k] = self.headers[k] + ", " + v.strip() if k in self.headers else v.strip()
        if status != 200:
            n = int(self.headers.get("content-length", "0"))
            while len(self.raw) < n and self._fill(deadline):
                pass
            self.error_body = self.raw[:n]
            self.status = status
            return
        self.chunked = "chunked" in self.headers.get("transfer-encoding", "").lower()
        self.status = status
        self._feed()

    def content_type(self):
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def error_json(self):
        return json.loads(self.error_body.decode("utf-8"))

    # -- body and SSE parsing
    def _dechunk(self):
        while self.raw and not self.chunked_done:
            if self._chunk_left == 0:
                if self._need_crlf:
                    if len(self.raw) < 2:
                        return
                    assert self.raw[:2] == b"\r\n", "bad chunk end %r" % self.raw[:20]
                    self.raw = self.raw[2:]
                    self._need_crlf = False
                    continue
                i = self.raw.find(b"\r\n")
                if i < 0:
                    return
                size = int(self.raw[:i].split(b";")[0].strip(), 16)
                self.raw = self.raw[i + 2:]
                if size == 0:
                    self.chunked_done = True
                    return
                self._chunk_left = size
            take = min(self._chunk_left, len(self.raw))
            self.body += self.raw[:take]
            self.raw = self.raw[take:]
            self._chunk_left -= take
            if self._chunk_left == 0:
                self._need_crlf = True

    def _feed(self):
        if self.chunked:
            self._dechunk()
        else:
            self.body += self.raw
            self.raw = b""
        while True:
            i = self.body.find(b"\n")
            if i < 0:
                return
            line = self.body[:i].decode("utf-8")
            self.body = self.body[i + 1:]
            if line.endswith("\r"):
                line = line[:-1]
            self._line(line)

    def _line(self, line):
        if line == "":
            if self._data or self._type is not None:
                ev = {"id": self._id, "event": self._type or "message", "data": "\n".join(self._data)}
                self.events.append(ev)
                self.queue.append(ev)
            self._data, self._type = [], None
            self._id = self.last_id  # the id field persists (EventSource's last event id)
            return
        if line.startswith(":"):
            self.comments.append(line[1:].strip())
            return
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._type = value
        elif name == "id":
            self._id = self.last_id = value
        # retry and unknown fields are ignored, as EventSource does

    # -- reading
    def next_event(self, timeout=2.0):
        """The next event; AssertionError if none arrives within timeout or the stream ends."""
        deadline = time.monotonic() + timeout
        while not self.queue:
            try:
                if not self._fill(deadline):
                    raise AssertionError("the stream ended before an event (reset=%s); pending %r"
                                         % (self.reset, self.body[-300:]))
            except socket.timeout:
                raise AssertionError("no event within %ss on port %d" % (timeout, self.port))
        return self.queue.pop(0)

    def next_message(self, timeout=2.0):
        """The next event as (id as int, message dict); it must be a `message` event."""
        ev = self.next_event(timeout)
        assert ev["event"] == "message", ev
        assert ev["id"] is not None and re.match(r"^\d+$", ev["id"]), ev
        msg = json.loads(ev["data"])
        assert int(ev["id"]) == msg["id"], ev
        return msg

    def messages(self, n, timeout=2.0):
        """The next n messages, each within timeout of the one before."""
        return [self.next_message(timeout) for _ in range(n)]

    def quiet_for(self, seconds):
        """True when no event arrives for `seconds` (comments are fine)."""
        deadline = time.monotonic() + seconds
        try:
            while not self.queue:
                if not self._fill(deadline):
                    return not self.queue
        except socket.timeout:
            pass
        return not self.queue

    def closed_within(self, timeout):
        """True when the server ends the stream (EOF or reset) within timeout."""
        deadline = time.monotonic() + timeout
        try:
            while self._fill(deadline):
                pass
            return True
        except socket.timeout:
            return False

    def drain_until_close(self, timeout):
        """Reads and discards everything up to EOF; True if the server closed within timeout."""
        deadline = time.monotonic() + timeout
        self.sock.settimeout(1.0)
        while time.monotonic() < deadline:
            try:
                chunk = self.sock.recv(1 << 20)
            except socket.timeout:
                continue
            except (ConnectionResetError, ConnectionAbortedError):
                self.eof = self.reset = True
                return True
            if not chunk:
                self.eof = True
                return True
        return False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


def open_streams(srv, api, n, **kw):
    return [EventStream(srv.port, api.token, **kw) for _ in range(n)]


def close_all(streams):
    for s in streams:
        s.close()


def wait_events_ready(srv, streams_per_check=6, timeout=10.0):
    """Until every worker is LISTENing: several streams of a throwaway user (SO_REUSEPORT
    spreads them over the workers) must each receive a message. Call once per new server."""
    a, b = new_user(srv), new_user(srv)
    streams = open_streams(srv, b, streams_per_check)
    try:
        deadline = time.monotonic() + timeout
        pending = list(streams)
        while pending:
            assert time.monotonic() < deadline, "events never reached every stream of a fresh server"
            m = send(a, b, "warm-up")
            still = []
            for s in pending:
                try:
                    while s.next_message(timeout=0.5)["id"] != m["id"]:
                        pass
                except AssertionError:
                    still.append(s)
            pending = still
    finally:
        close_all(streams)


def page_query(**params):
    q = {k: v for k, v in params.items() if v is not None}
    return "?" + urllib.parse.urlencode(q) if q else ""
