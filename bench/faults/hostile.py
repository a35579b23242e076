"""The hostile clients campaigns: slowloris and non-reading connections beside a normal client
(slow_clients), non-readers closed after the idle timeout (deaf_connections_expire)."""
import json
import os
import signal
import socket
import subprocess
import time
import uuid

# kit first: it puts test/api (conftest) on the path
from kit import Client, cpu_s, deaf_connection, finish, open_fds, pctl, raise_fd_limit, rss_kib, start, user

from conftest import http, metric_samples, metric_value  # noqa: E402


class Hostile:
    """slow: connections that send a request's headers one byte a second (reconnecting when the
    server answers or closes them); deaf: connections that pipeline requests and never read the
    answers. The deaf ones send their pipelines at start(); the slow ones open, and the deaf ones
    send one request a second, after go(). Runs in a child process, so its Python loop does not
    hold the measuring client's GIL."""

    def __init__(self, port, slow, deaf, deaf_path, token, ramp_s=0, reconnect=True, cpu=None):
        import multiprocessing
        self.reconnect, self.cpu = reconnect, cpu
        self.port, self.slow_n, self.deaf_n = port, slow, deaf
        # opened all at once, the slow connections all time out in the same loop turn; a ramp
        # over the header timeout spreads them as a real attack's arrivals would be
        self.per_round = slow if ramp_s <= 0 else max(1, int(slow / ramp_s))
        self.req = ("GET /api/v1/tasks HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer %s\r\nX-Pad: %s\r\n\r\n"
                    % (token, "p" * 200)).encode()
        self.deaf_req = ("GET %s HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer %s\r\n\r\n" % (deaf_path, token)).encode()
        self.stopping = multiprocessing.Event()
        self.ready = multiprocessing.Event()
        self.going = multiprocessing.Event()
        self.out = multiprocessing.Queue()
        self.proc = multiprocessing.Process(target=self._run, daemon=True)

    def start(self, timeout=60):
        self.proc.start()
        self.ready.wait(timeout)

    def go(self):
        self.going.set()

    def stop(self):
        self.stopping.set()
        try:
            stats = self.out.get(timeout=30)
        except Exception:  # noqa: BLE001
            stats = {"error": "no stats from the hostile clients"}
        self.proc.join(10)
        if self.proc.is_alive():
            self.proc.kill()
        return stats

    def _connect(self, stats):
        s = socket.socket()
        s.setblocking(False)
        if s.connect_ex(("127.0.0.1", self.port)) not in (0, 115):  # EINPROGRESS
            s.close()
            stats["connect_errors"] += 1
            return None
        return s

    def _run(self):
        stats = {"slow_opened": 0, "slow_answered_or_closed": 0, "slow_408": 0, "deaf_opened": 0,
                 "connect_errors": 0}
        if self.cpu is not None:
            os.sched_setaffinity(0, {self.cpu})
        slow, deaf = {}, []
        to_open = self.slow_n
        for _ in range(self.deaf_n):
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.setblocking(False)
            if s.connect_ex(("127.0.0.1", self.port)) in (0, 115):
                deaf.append(s)
                stats["deaf_opened"] += 1
            else:
                s.close()
                stats["connect_errors"] += 1
        time.sleep(0.2)
        for s in deaf:
            try:
                s.send(self.deaf_req * 32)
            except OSError:
                pass
        self.ready.set()
        while not self.going.wait(0.1) and not self.stopping.is_set():
            pass
        rounds = 0
        while not self.stopping.is_set() and rounds < 3600:
            rounds += 1
            t0 = time.monotonic()
            for _ in range(min(to_open, self.per_round)):
                s = self._connect(stats)
                to_open -= 1
                if s:
                    slow[s] = 0
                    stats["slow_opened"] += 1
            for s in list(slow):
                try:
                    d = s.recv(4096)
                except (BlockingIOError, InterruptedError):
                    d = None
                except OSError:
                    d = b""
                if d is None:
                    pos = slow[s]
                    try:
                        s.send(self.req[pos:pos + 1])
                        slow[s] = (pos + 1) % len(self.req)
                        continue
                    except (BlockingIOError, InterruptedError):
                        continue
                    except OSError:
                        d = b""
                stats["slow_answered_or_closed"] += 1
                if d.startswith(b"HTTP/1.1 408"):
                    stats["slow_408"] += 1
                    stats.setdefault("first_408_at", time.monotonic())
                    stats["last_408_at"] = time.monotonic()
                s.close()
                del slow[s]
                n = self._connect(stats) if self.reconnect else None
                if n:
                    slow[n] = 0
                    stats["slow_opened"] += 1
            for s in deaf:
                try:
                    s.send(self.deaf_req)
                except OSError:
                    pass
            self.stopping.wait(max(0.0, 1.0 - (time.monotonic() - t0)))
        for s in list(slow) + deaf:
            s.close()
        self.out.put(stats)


def wait_db_quiet(url, timeout=120.0, polls=3):
    """Seconds until the pool has run every query it was given (no query waiting or running, polls
    times in a row, 0.2 s apart); None if it never was within timeout."""
    t0, quiet = time.monotonic(), 0
    while time.monotonic() < t0 + timeout:
        samples = metric_samples(http("GET", url + "/metrics")[2].decode())
        idle = metric_value(samples, "db_pool_connections", state="busy") == 0 \
            and metric_value(samples, "db_pool_queue_length") == 0
        quiet = quiet + 1 if idle else 0
        if quiet >= polls:
            return round(time.monotonic() - t0, 1)
        time.sleep(0.2)
    return None


def normal_gets(url, token, task_id, seconds, limit=100000):
    c = Client(url, token)
    took, bad, t0, n = [], 0, time.monotonic(), 0
    slowest = []  # (ms, seconds after t0): when the slow answers came, beside the hostile's times
    while time.monotonic() < t0 + seconds and n < limit:
        sent = time.monotonic()
        st, _, _, t = c.request("GET", "/api/v1/tasks/%d" % task_id)
        n += 1
        if st == 200:
            took.append(t)
            slowest = sorted(slowest + [(round(t * 1000, 1), round(sent - t0, 2))], reverse=True)[:10]
        else:
            bad += 1
        time.sleep(0.002)
    c.close()
    return {"n": len(took), "non200": bad, "p50_ms": round(pctl(took, 0.5) * 1000, 2),
            "p99_ms": round(pctl(took, 0.99) * 1000, 2), "started": t0, "slowest": slowest}


def pin_threads(pid, cpu):
    """Every thread of pid on one CPU (taskset -a)."""
    for tid in os.listdir("/proc/%d/task" % pid):
        os.sched_setaffinity(int(tid), {cpu})


def slow_clients(slow=300, deaf=100, seconds=6.0, limit_conns=64, idle="60s", ramp_s=0, workers=1,
                 header_timeout="10s", reconnect=True, server_cpu=None, attacker_cpu=None, perf_out=None,
                 perf_events=None):
    """slowloris and non-reading connections beside a normal client's task_get; then the
    per-worker connection limit. server_cpu, attacker_cpu: pin each to a CPU (the measuring
    client stays where the scheduler puts it); perf_out: perf record -g the server while the
    normal client is measured under attack, or only perf_events (perf record -e) if given."""
    raise_fd_limit()
    s = start({"WORKERS": workers, "HTTP_HEADER_TIMEOUT": header_timeout, "HTTP_IDLE_TIMEOUT": idle})
    if server_cpu is not None:
        pin_threads(s.pid, server_cpu)
    perf = None
    tag = uuid.uuid4().hex[:8]
    fig = {"campaign": "slow_clients", "slow": slow, "deaf": deaf, "ramp_s": ramp_s, "workers": workers,
           "reconnect": reconnect,
           "header_timeout": header_timeout}
    try:
        _, token = user(s.url, tag)
        b = http("POST", s.url + "/api/v1/tasks", {"Content-Type": "application/json", "Authorization": "Bearer " + token},
                 json.dumps({"title": "reader"}))[2]
        task_id = json.loads(b)["id"]
        for i in range(20):  # a list worth reading
            http("POST", s.url + "/api/v1/tasks", {"Content-Type": "application/json", "Authorization": "Bearer " + token},
                 json.dumps({"title": "filler %d %s" % (i, "x" * 150)}))
        normal_gets(s.url, token, task_id, 1.0)
        fig["rss_kib_before"] = rss_kib(s.pid)
        c0, t0 = cpu_s(s.pid), time.monotonic()
        fig["baseline"] = normal_gets(s.url, token, task_id, seconds / 2)
        fig["baseline"]["server_cpu_pct"] = round(100 * (cpu_s(s.pid) - c0) / (time.monotonic() - t0))
        h = Hostile(s.port, slow, deaf, "/api/v1/tasks?limit=50", token, ramp_s, reconnect, attacker_cpu)
        h.start()
        # A connection's pipelined requests run one at a time (HTTP_MAX_QUEUED_BYTES), so the deaf
        # ones' pipelines keep the database busy for a while rather than overflowing its queue
        # with 503s: the slow ones start, and the measures, once they are served.
        fig["deaf_pipelines_served_s"] = wait_db_quiet(s.url)
        h.go()
        time.sleep(2.0 + ramp_s)
        if perf_out:
            what = ["-e", perf_events] if perf_events else ["-g", "-F", "2000"]
            perf = subprocess.Popen(["perf", "record", "-q"] + what + ["-p", str(s.pid), "-o", perf_out],
                                    stdout=subprocess.DEVNULL)
        c0, a0, t0 = cpu_s(s.pid), cpu_s(h.proc.pid), time.monotonic()
        fig["under_attack"] = normal_gets(s.url, token, task_id, seconds)
        if perf:
            perf.send_signal(signal.SIGINT)
            perf.wait(60)
        fig["under_attack"]["server_cpu_pct"] = round(100 * (cpu_s(s.pid) - c0) / (time.monotonic() - t0))
        fig["under_attack"]["attacker_cpu_pct"] = round(100 * (cpu_s(h.proc.pid) - a0) / (time.monotonic() - t0))
        fig["rss_kib_under_attack"] = rss_kib(s.pid)
        fig["fds_under_attack"] = open_fds(s.pid)
        fig["open_connections"] = metric_value(metric_samples(http("GET", s.url + "/metrics")[2].decode()),
                                               "http_connections_open")
        fig["hostile"] = h.stop()
        for k in ("first_408_at", "last_408_at"):  # seconds into the measure under attack
            if k in fig["hostile"]:
                fig["hostile"][k] = round(fig["hostile"][k] - fig["under_attack"]["started"], 2)
        fig["baseline"].pop("started")
        fig["under_attack"].pop("started")
        time.sleep(1.0)
        fig["rss_kib_after"] = rss_kib(s.pid)
        fig["fds_after"] = open_fds(s.pid)
        base, att = fig["baseline"]["p99_ms"], fig["under_attack"]["p99_ms"]
        fig["p99_ratio"] = round(att / base, 2) if base else None
    finally:
        fig["problems"] = finish(s)
    # the connection limit: WORKERS=1, HTTP_MAX_CONNECTIONS=limit_conns
    s = start({"WORKERS": "1", "HTTP_MAX_CONNECTIONS": limit_conns})
    held = []
    try:
        for _ in range(limit_conns + 20):
            c = socket.create_connection(("127.0.0.1", s.port), timeout=5)
            held.append(c)
        time.sleep(0.5)
        # which ones were refused depends on when the start-up checks' own connections were
        # counted out, so look at all of them: a 503 or the close is there by now
        refused, accepted = 0, []
        for c in held:
            c.setblocking(False)
            try:
                data = c.recv(4096)
            except (BlockingIOError, socket.timeout):
                data = None
            except OSError:
                data = b""
            if data is not None and (data == b"" or data.startswith(b"HTTP/1.1 503")):
                refused += 1
            else:
                accepted.append(c)
        # one place freed for the /metrics request itself (at the limit it would be refused too)
        if accepted:
            accepted[0].close()
        time.sleep(0.3)
        fig["limit"] = {"limit": limit_conns, "opened": len(held), "refused": refused,
                        "open_connections": metric_value(metric_samples(
                            http("GET", s.url + "/metrics", timeout=5)[2].decode()), "http_connections_open")}
    finally:
        for c in held:
            c.close()
        fig["problems"] += finish(s)
    return fig


def deaf_connections_expire(deaf=20, idle="2s", wait_s=6.0):
    """Connections that never read their answers are closed after HTTP_IDLE_TIMEOUT without
    progress, so they cannot hold the connection limit and their answers' memory forever."""
    s = start({"WORKERS": "1", "HTTP_IDLE_TIMEOUT": idle})
    fig = {"campaign": "deaf_expire"}
    try:
        _, token = user(s.url, uuid.uuid4().hex[:8])
        for i in range(20):
            http("POST", s.url + "/api/v1/tasks", {"Content-Type": "application/json", "Authorization": "Bearer " + token},
                 json.dumps({"title": "filler %d %s" % (i, "x" * 150)}))
        req = ("GET /api/v1/tasks?limit=50 HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer %s\r\n\r\n" % token).encode()
        socks = [deaf_connection(s.port, req, 64) for _ in range(deaf)]
        time.sleep(1.0)
        samples = metric_samples(http("GET", s.url + "/metrics")[2].decode())
        fig["open_at_start"] = metric_value(samples, "http_connections_open")
        time.sleep(wait_s)
        samples = metric_samples(http("GET", s.url + "/metrics")[2].decode())
        fig["open_after_wait"] = metric_value(samples, "http_connections_open")
        for c in socks:
            c.close()
    finally:
        fig["problems"] = finish(s)
    return fig
