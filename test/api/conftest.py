"""Black-box test harness for hourglass: the real binary, real sockets, a real PostgreSQL.

Environment (set by the test script):
  HOURGLASS_BIN  the server binary (default: $HG_REPO/build-test/hourglass)
  DATABASE_URL   a database the server may migrate and use
  HG_PGDATA, HG_PGPORT, PGBIN  the private PostgreSQL cluster, for tests that stop/start it
  HG_REPO        repository root (default: two levels above this file)

Only the Python standard library and pytest are used.
"""

import http.client as httpclient
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.environ.get("HG_REPO") or os.path.abspath(os.path.join(HERE, "..", ".."))
BIN = os.environ.get("HOURGLASS_BIN") or os.path.join(REPO, "build-test", "hourglass")
PGBIN = os.environ.get("PGBIN") or "/usr/lib/postgresql/15/bin"
PGDATA = os.environ.get("HG_PGDATA")
PGPORT = os.environ.get("HG_PGPORT")


def _default_db_url():
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    if PGPORT:
        return "postgresql://postgres@127.0.0.1:%s/hourglass" % PGPORT
    return None


DB_URL = _default_db_url()

SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")

READY_TIMEOUT = 15.0

# Server logs of this session; removed at the end when everything passed.
LOG_DIR = tempfile.mkdtemp(prefix="hourglass-pytest-")


def pytest_sessionfinish(session, exitstatus):
    if exitstatus == 0:
        shutil.rmtree(LOG_DIR, ignore_errors=True)
    else:
        print("\nhourglass server logs: %s" % LOG_DIR)


# --------------------------------------------------------------------------- ports

_given_ports = set()
_port_lock = threading.Lock()


def free_port():
    """A TCP port that nothing listens on right now (never the same one twice per session)."""
    with _port_lock:
        for _ in range(100):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
            s.close()
            if port not in _given_ports:
                _given_ports.add(port)
                return port
    raise RuntimeError("no free port")


def port_accepts(port, timeout=0.5):
    """True when a TCP connection to 127.0.0.1:port is accepted."""
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    except OSError:
        return False
    s.close()
    return True


# --------------------------------------------------------------------------- HTTP helpers

def http(method, url, headers=None, body=None, timeout=10):
    """One request on a fresh connection. Returns (status, {lower-case header: value}, body bytes).

    Repeated headers are joined with ", "."""
    u = urllib.parse.urlsplit(url)
    conn = httpclient.HTTPConnection(u.hostname, u.port, timeout=timeout)
    try:
        path = u.path or "/"
        if u.query:
            path += "?" + u.query
        if isinstance(body, str):
            body = body.encode()
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        hdrs = {}
        for k, v in resp.getheaders():
            k = k.lower()
            hdrs[k] = hdrs[k] + ", " + v if k in hdrs else v
        return resp.status, hdrs, data
    finally:
        conn.close()


def raw(port, data, read_timeout=3.0, host="127.0.0.1"):
    """Open a socket, send raw bytes, read until the peer closes or read_timeout seconds pass.

    A connection reset after data counts as a close."""
    s = socket.create_connection((host, port), timeout=5)
    try:
        if data:
            s.sendall(data)
        out = b""
        deadline = time.monotonic() + read_timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            s.settimeout(left)
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                break
            if not chunk:
                break
            out += chunk
        return out
    finally:
        s.close()


class Response:
    def __init__(self, version, status, reason, header_list, body):
        self.version = version
        self.status = status
        self.reason = reason
        self.header_list = header_list  # [(name, value)] as sent
        self.headers = {}
        for k, v in header_list:
            k = k.lower()
            self.headers[k] = self.headers[k] + ", " + v if k in self.headers else v
        self.body = body

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def __repr__(self):
        return "<Response %s %s %r %r>" % (self.status, self.reason, self.headers, self.body[:200])


class IncompleteResponse(Exception):
    pass


def _no_body_status(status):
    return 100 <= status < 200 or status in (204, 304)


def parse_one_response(buf, head=False, eof=False):
    """Parse one HTTP/1.x response from the start of buf.

    Returns (Response, bytes consumed). Raises IncompleteResponse when more bytes are needed.
    Bodies are delimited by Content-Length (the server never sends chunked responses); a
    response without Content-Length and with a body runs until EOF."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        raise IncompleteResponse()
    head_bytes = buf[:end].decode("latin-1")
    lines = head_bytes.split("\r\n")
    m = re.match(r"^(HTTP/\d\.\d) (\d{3})(?: (.*))?$", lines[0])
    if not m:
        raise ValueError("bad status line: %r" % lines[0])
    header_list = []
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep:
            raise ValueError("bad header line: %r" % line)
        header_list.append((name.strip(), value.strip()))
    status = int(m.group(2))
    start = end + 4
    cl = None
    for k, v in header_list:
        if k.lower() == "content-length":
            cl = int(v)
        if k.lower() == "transfer-encoding":
            raise ValueError("unexpected Transfer-Encoding in a response: %r" % v)
    if head or _no_body_status(status):
        n = 0
    elif cl is not None:
        n = cl
    else:
        if not eof:
            raise IncompleteResponse()
        n = len(buf) - start
    if len(buf) < start + n:
        raise IncompleteResponse()
    return Response(m.group(1), status, m.group(3) or "", header_list, buf[start:start + n]), start + n


def parse_responses(data, head_indexes=()):
    """Split a byte stream of pipelined responses. head_indexes: positions of answers to HEAD.

    1xx interim answers are returned as their own entries."""
    out = []
    pos = 0
    while pos < len(data):
        try:
            resp, used = parse_one_response(data[pos:], head=len(out) in head_indexes, eof=True)
        except IncompleteResponse:
            raise AssertionError("truncated response (fewer bytes than its Content-Length, or no end of "
                                 "headers): %r" % data[pos:])
        out.append(resp)
        pos += used
    return out


class Conn:
    """A raw client connection with a read buffer."""

    def __init__(self, port, host="127.0.0.1", timeout=5.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.eof = False
        self.reset = False

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("latin-1")
        self.sock.settimeout(10)
        self.sock.sendall(data)

    def _fill(self, deadline):
        """Read more bytes. Returns False at EOF. Raises socket.timeout after deadline."""
        if self.eof:
            return False
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("timed out")
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError:
            self.eof = self.reset = True
            return False
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def read_response(self, timeout=5.0, head=False):
        deadline = time.monotonic() + timeout
        while True:
            try:
                resp, used = parse_one_response(self.buf, head=head, eof=self.eof)
                self.buf = self.buf[used:]
                return resp
            except IncompleteResponse:
                if not self._fill(deadline):
                    try:
                        resp, used = parse_one_response(self.buf, head=head, eof=True)
                        self.buf = self.buf[used:]
                        return resp
                    except IncompleteResponse:
                        raise AssertionError("connection closed before a full response (fewer bytes than "
                                             "its Content-Length?); got %r" % self.buf)

    def read_until_close(self, timeout=5.0):
        """All bytes up to EOF. Raises socket.timeout if the peer keeps the connection open."""
        deadline = time.monotonic() + timeout
        while self._fill(deadline):
            pass
        data, self.buf = self.buf, b""
        return data

    def closed_within(self, timeout):
        """True when the peer closes (EOF or reset) within timeout, False when it is still open.

        Bytes received meanwhile stay in self.buf."""
        deadline = time.monotonic() + timeout
        try:
            while self._fill(deadline):
                pass
            return True
        except socket.timeout:
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


def get_request(path="/health", extra="", version="HTTP/1.1", method="GET"):
    return ("%s %s %s\r\nHost: test\r\n%s\r\n" % (method, path, version, extra)).encode("latin-1")


# --------------------------------------------------------------------------- the server

class Server:
    """A hourglass process on 127.0.0.1 with its log captured to a file."""

    def __init__(self, env_overrides=None, args=None, port=None, set_port=True, command="serve"):
        if not os.path.exists(BIN):
            pytest.fail("HOURGLASS_BIN %s does not exist (build it first)" % BIN)
        self.port = port or free_port()
        env = dict(os.environ)
        if DB_URL:
            env["DATABASE_URL"] = DB_URL
        env["HOST"] = "127.0.0.1"
        env["WORKERS"] = "2"
        env["LOG_LEVEL"] = "info"
        # Every server of the run mails through the SMTP sink: several servers
        # share the database, and any of them may send a mail a test waits for.
        if os.environ.get("HG_SMTP_PORT"):
            env.update({"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": os.environ["HG_SMTP_PORT"],
                        "MAIL_STARTTLS": "false", "MAIL_POLL_INTERVAL": "200ms", "MAIL_RETRY_MAX": "500ms"})
        if set_port:
            env["PORT"] = str(self.port)
        else:
            env.pop("PORT", None)
        for k, v in (env_overrides or {}).items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = str(v)
        self.env = env
        self.url = "http://127.0.0.1:%d" % self.port
        fd, self.log_path = tempfile.mkstemp(prefix="server-%d-" % self.port, suffix=".log", dir=LOG_DIR)
        self._logf = os.fdopen(fd, "wb")
        cmd = [BIN] + ([command] if command else []) + list(args or [])
        self.cmd = cmd
        self.proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL,
                                     stdout=self._logf, stderr=subprocess.STDOUT, cwd="/tmp")
        self.pid = self.proc.pid
        self.returncode = None
        self.expected_exit = 0

    # -- state
    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def log_tail(self, n=40):
        return "\n".join(self.log().splitlines()[-n:])

    def running(self):
        return self.proc.poll() is None

    def wait_ready(self, timeout=READY_TIMEOUT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail("hourglass exited with %s during start-up (%s); log tail:\n%s"
                            % (self.proc.returncode, " ".join(self.cmd), self.log_tail()))
            try:
                status, _, _ = http("GET", self.url + "/health", timeout=1)
                if status == 200:
                    return self
            except (OSError, httpclient.HTTPException):
                pass
            time.sleep(0.05)
        pytest.fail("hourglass did not answer GET /health within %ss; log tail:\n%s"
                    % (timeout, self.log_tail()))

    def wait_db_ready(self, timeout=3.0):
        """Poll GET /health/ready until 200 (for tests whose subject is something else)."""
        deadline = time.monotonic() + timeout
        while True:
            status, _, body = http("GET", self.url + "/health/ready", timeout=5)
            if status == 200:
                return self
            if time.monotonic() >= deadline:
                pytest.fail("GET /health/ready still %s after %ss: %r" % (status, timeout, body))
            time.sleep(0.05)

    def wait_log(self, pattern, timeout=3.0):
        """Wait until the log matches the regex; returns the match or None."""
        deadline = time.monotonic() + timeout
        while True:
            m = re.search(pattern, self.log())
            if m or time.monotonic() >= deadline:
                return m
            time.sleep(0.05)

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def wait_exit(self, timeout):
        """Exit code, or None if still running after timeout."""
        try:
            self.returncode = self.proc.wait(timeout=timeout)
            return self.returncode
        except subprocess.TimeoutExpired:
            return None

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        """Signal the process and wait; returns the exit code. Kills it (and fails) if it hangs."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self.returncode = self.proc.returncode
                raise AssertionError("hourglass did not exit within %ss of %s; log tail:\n%s"
                                     % (timeout, signal.Signals(sig).name, self.log_tail()))
        self.returncode = self.proc.returncode
        return self.returncode

    def problems(self):
        """Teardown checks: exit code and sanitizer reports."""
        out = []
        rc = self.proc.returncode
        if rc is not None and rc != self.expected_exit:
            out.append("hourglass (port %d) exited with %s" % (self.port, rc))
        text = self.log()
        for marker in SANITIZER_MARKERS:
            if marker in text:
                i = text.index(marker)
                out.append("sanitizer report in the log (port %d):\n%s"
                           % (self.port, text[max(0, i - 200):i + 3000]))
                break
        return out

    def finish(self):
        """Stop if running and return the list of problems."""
        probs = []
        if self.proc.poll() is None:
            try:
                self.stop(timeout=15)
            except AssertionError as e:
                probs.append(str(e))
        probs += self.problems()
        self._logf.close()
        return probs


def start_server(env=None, args=None, port=None, set_port=True, wait=True):
    s = Server(env, args=args, port=port, set_port=set_port)
    if wait:
        try:
            s.wait_ready()
        except BaseException:
            if s.running():
                s.proc.kill()
                s.proc.wait()
            raise
    return s


@pytest.fixture(scope="session")
def server():
    """One shared server for the session (WORKERS=2, CLIENT_ORIGIN=http://app.example)."""
    s = start_server({"CLIENT_ORIGIN": "http://app.example"})
    s.wait_db_ready()
    yield s
    probs = s.finish()
    if probs:
        pytest.fail("\n".join(probs))


@pytest.fixture
def make_server():
    """Factory: make_server(_args=None, _port=None, _set_port=True, _wait=True, **env) -> Server."""
    made = []

    def make(_args=None, _port=None, _set_port=True, _wait=True, **env):
        s = Server(env, args=_args, port=_port, set_port=_set_port)
        made.append(s)
        if _wait:
            s.wait_ready()
        return s

    yield make
    probs = []
    for s in made:
        probs += s.finish()
    if probs:
        pytest.fail("\n".join(probs))


# --------------------------------------------------------------------------- PostgreSQL

def psql(sql, db_url=None, timeout=30, check=True):
    """Run SQL with psql (-At: unaligned, tuples only); returns stdout stripped."""
    url = db_url or DB_URL
    assert url, "DATABASE_URL is not set"
    r = subprocess.run([os.path.join(PGBIN, "psql"), "-X", "-At", "-v", "ON_ERROR_STOP=1",
                        "-d", url, "-c", sql],
                       capture_output=True, text=True, timeout=timeout, cwd="/tmp")
    if check and r.returncode != 0:
        raise AssertionError("psql failed (%s): %s\n%s" % (r.returncode, sql, r.stderr))
    return r.stdout.strip()


def db_url_for(dbname):
    """DATABASE_URL with another database name."""
    u = urllib.parse.urlsplit(DB_URL)
    return urllib.parse.urlunsplit((u.scheme, u.netloc, "/" + dbname, u.query, u.fragment))


class LockHolder:
    """BEGIN; LOCK TABLE <table> IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(s); COMMIT; in psql.

    The constructor returns once the lock is granted."""

    def __init__(self, seconds, table="schema_migrations", db_url=None):
        self.url = db_url or DB_URL
        sql = ("BEGIN; LOCK TABLE %s IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(%s); COMMIT;"
               % (table, seconds))
        self.proc = subprocess.Popen([os.path.join(PGBIN, "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
                                      "-d", self.url, "-c", sql],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd="/tmp")
        deadline = time.monotonic() + 10
        q = ("SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
             "WHERE c.relname = '%s' AND l.mode = 'AccessExclusiveLock' AND l.granted" % table)
        while time.monotonic() < deadline:
            if psql(q, self.url) == "1":
                self.granted_at = time.monotonic()
                return
            if self.proc.poll() is not None:
                raise AssertionError("lock holder psql exited: %s" % self.proc.stderr.read())
            time.sleep(0.02)
        self.proc.kill()
        raise AssertionError("could not take the lock on %s" % table)

    def wait(self, timeout=30):
        self.proc.wait(timeout=timeout)
        err = self.proc.stderr.read()
        self.proc.stderr.close()
        assert self.proc.returncode == 0, "lock holder psql failed: %s" % err

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def _require_cluster():
    if not (PGDATA and PGPORT):
        pytest.fail("HG_PGDATA and HG_PGPORT must be set to stop/start the test cluster")


def _postmaster_extra_opts():
    """Options the cluster was started with (from postmaster.opts), minus -D and -p."""
    try:
        with open(os.path.join(PGDATA, "postmaster.opts")) as f:
            argv = shlex.split(f.read())
    except OSError:
        return []
    out = []
    args = argv[1:]
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("-D", "-p") and i + 1 < len(args):
            i += 2
            continue
        out.append(a)
        i += 1
    return out


def pg_ctl(action, timeout=60):
    """stop | start | status the private cluster with pg_ctl (run as postgres). Returns the exit code
    (status: 0 running, 3 stopped)."""
    _require_cluster()
    opts = ["-p", str(PGPORT)] + _postmaster_extra_opts()
    cmd = ["runuser", "-u", "postgres", "--", os.path.join(PGBIN, "pg_ctl"), "-D", PGDATA]
    if action == "start":
        cmd += ["-w", "-o", " ".join(shlex.quote(o) for o in opts),
                "-l", os.path.join(PGDATA, "postgres.log"), "start"]
    elif action == "stop":
        cmd += ["-w", "-m", "fast", "stop"]
    elif action == "status":
        cmd += ["status"]
    else:
        raise ValueError(action)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd="/tmp")
    if action != "status" and r.returncode != 0:
        raise AssertionError("pg_ctl %s failed (%s): %s %s" % (action, r.returncode, r.stdout, r.stderr))
    return r.returncode


def pg_running():
    return pg_ctl("status") == 0


def ensure_pg_running():
    if not pg_running():
        pg_ctl("start")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if psql("SELECT 1", check=False) == "1":
            return
        time.sleep(0.1)
    raise AssertionError("PostgreSQL does not answer after start")


# --------------------------------------------------------------------------- assertions

def assert_problem(resp_or_tuple, status, code, lang="en"):
    """Check an RFC 9457 problem answer. Accepts a Response or a (status, headers, body) tuple."""
    if isinstance(resp_or_tuple, Response):
        st, hdrs, body = resp_or_tuple.status, resp_or_tuple.headers, resp_or_tuple.body
    else:
        st, hdrs, body = resp_or_tuple
    assert st == status, (st, hdrs, body)
    ctype = hdrs.get("content-type", "")
    assert ctype.split(";")[0].strip() == "application/problem+json", ctype
    doc = json.loads(body.decode("utf-8"))
    assert doc.get("type") == "about:blank", doc
    assert doc.get("status") == status, doc
    assert isinstance(doc.get("title"), str) and doc["title"], doc
    assert doc.get("code") == code, doc
    assert isinstance(doc.get("detail"), str) and doc["detail"].strip(), doc
    has_cyrillic = re.search("[\u0400-\u04ff]", doc["detail"]) is not None
    if lang == "ru":
        assert has_cyrillic, "detail should be in Russian: %r" % doc["detail"]
    else:
        assert not has_cyrillic, "detail should be in English: %r" % doc["detail"]
    return doc


def metric_samples(text):
    """Parse Prometheus text into [(name, {label: value}, float)]."""
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\d+)?$', line)
        assert m, "bad metrics line: %r" % line
        labels = {}
        if m.group(3):
            for lm in re.finditer(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?\s*', m.group(3)):
                labels[lm.group(1)] = lm.group(2)
        v = m.group(4)
        out.append((m.group(1), labels, float(v.replace("Inf", "inf"))))
    return out


def metric_value(samples, name, **labels):
    """The value of the sample with exactly these labels (subset match), or None."""
    found = [v for n, l, v in samples if n == name and all(l.get(k) == str(x) for k, x in labels.items())]
    if not found:
        return None
    assert len(found) == 1, "several samples for %s %s" % (name, labels)
    return found[0]


@pytest.fixture(scope="module")
def mail():
    """(smtp port, maildir): the test script's sink, or one of our own."""
    port, maildir = os.environ.get("HG_SMTP_PORT"), os.environ.get("HG_MAILDIR")
    if port and maildir:
        yield int(port), maildir
        return
    sys.path.insert(0, os.path.join(HERE, ".."))
    import mail_sink
    maildir = tempfile.mkdtemp(prefix="hourglass-mail-")
    port = free_port()
    controller = mail_sink.start(maildir, port)
    yield port, maildir
    controller.stop()
