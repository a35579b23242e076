#!/usr/bin/python3
"""Fault campaigns against the real binary: each one starts its own servers, breaks something
(PostgreSQL, the SMTP server, the process, its clients), keeps traffic going, checks what the
clients saw and what the database holds, and returns its figures.

    bench/faults/run CAMPAIGN [--seconds N] ...    by hand (a release build, a private cluster)
    test/api/test_faults_*.py                      the short forms in CI, same functions

Every loop here is bounded in count and time. Uses test/api/conftest.py for the server, psql
and pg_ctl helpers, so it needs the same environment (HOURGLASS_BIN, DATABASE_URL, HG_PGDATA,
HG_PGPORT, PGBIN).
"""
import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from kit import (OK, PASSWORD, Client, deaf_connection, finish, log, long_tasks, open_fds, pctl,  # noqa: E402,F401
                 raise_fd_limit, rss_kib, start, user)
from hostile import deaf_connections_expire, slow_clients  # noqa: E402

import conftest  # noqa: E402
from conftest import free_port, http, metric_samples, metric_value, psql  # noqa: E402


class Load:
    """Readers (GET one task) and writers (POST tasks with unique titles) in threads until stop().

    Every answer is kept as (kind, status, start, took, title)."""

    def __init__(self, url, token, task_id, tag, readers=2, writers=2, pause=0.0, urls=None):
        self.results, self.lock, self.stopping = [], threading.Lock(), threading.Event()
        self.tag, self.pause = tag, pause
        urls = urls or [url]
        self.threads = [threading.Thread(target=self._read, args=(urls[i % len(urls)], token, task_id), daemon=True)
                        for i in range(readers)]
        self.threads += [threading.Thread(target=self._write, args=(urls[i % len(urls)], token, i), daemon=True)
                         for i in range(writers)]

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def _keep(self, item):
        with self.lock:
            self.results.append(item)

    def _read(self, url, token, task_id):
        c = Client(url, token)
        while not self.stopping.is_set():
            st, _, t0, took = c.request("GET", "/api/v1/tasks/%d" % task_id)
            self._keep(("read", st, t0, took, None))
            if st != 200:
                time.sleep(0.02)  # do not spin on an outage
            elif self.pause:
                time.sleep(self.pause)
        c.close()

    def _write(self, url, token, n):
        c, i = Client(url, token), 0
        while not self.stopping.is_set():
            title = "fault-%s-%d-%d" % (self.tag, n, i)
            i += 1
            st, _, t0, took = c.request("POST", "/api/v1/tasks", {"title": title})
            self._keep(("write", st, t0, took, title))
            time.sleep(0.02 if st != 201 else self.pause)
        c.close()

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(30)
        return self.results


def check_writes(results, tag, db_url=None):
    """Every write answered 201 is stored exactly once; counts the unanswered ones that were stored."""
    rows = psql("SELECT title, count(*) FROM tasks WHERE title LIKE 'fault-%s-%%' GROUP BY title" % tag, db_url=db_url)
    stored = {}
    for line in rows.splitlines():
        title, n = line.rsplit("|", 1)
        stored[title] = int(n)
    created = [r[4] for r in results if r[0] == "write" and r[1] == 201]
    lost = [t for t in created if stored.get(t, 0) == 0]
    twice = [t for t, n in stored.items() if n > 1]
    refused = [r[4] for r in results if r[0] == "write" and r[1] != 201]
    ambiguous = [t for t in refused if stored.get(t, 0)]
    return {"writes_201": len(created), "writes_lost": len(lost), "writes_twice": len(twice),
            "writes_refused": len(refused), "refused_but_stored": len(ambiguous)}


def summarize(results, since=None):
    rs = [r for r in results if since is None or r[2] >= since]
    statuses = {}
    for r in rs:
        statuses[str(r[1])] = statuses.get(str(r[1]), 0) + 1
    took = [r[3] for r in rs]
    return {"requests": len(rs), "statuses": statuses, "max_s": round(max(took, default=0), 3),
            "p99_s": round(pctl(took, 0.99), 4)}


def wrk(url, token, seconds, conns=32):
    """wrk on GET url in the background when wrk is installed (the by-hand runs); else None."""
    if not conns or not shutil_which("wrk"):
        return None
    env = dict(os.environ)
    lua = os.path.join(HERE, "auth_get.lua")
    env["TOKEN"] = token
    return subprocess.Popen(["wrk", "-t1", "-c%d" % conns, "-d%ds" % seconds, "--timeout", "10s", "-s", lua, url],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def shutil_which(name):
    import shutil
    return shutil.which(name)


def wrk_result(proc):
    if proc is None:
        return None
    try:
        out, _ = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    fig = {}
    for line in out.splitlines():
        if line.startswith("Requests/sec:"):
            fig["wrk_rps"] = float(line.split()[1])
        if "Non-2xx" in line:
            fig["wrk_non2xx"] = int(line.split()[-1])
        if line.strip().startswith("Socket errors"):
            fig["wrk_socket_errors"] = line.split(":", 1)[1].strip()
    return fig


def pg_ctl_restart(mode):
    conftest._require_cluster()
    opts = ["-p", str(conftest.PGPORT)] + conftest._postmaster_extra_opts()
    cmd = ["runuser", "-u", "postgres", "--", os.path.join(conftest.PGBIN, "pg_ctl"), "-D", conftest.PGDATA,
           "-w", "-t", "60", "-m", mode, "-o", " ".join(opts),
           "-l", os.path.join(conftest.PGDATA, "postgres.log"), "restart"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=90, cwd="/tmp")
    assert r.returncode == 0, "pg_ctl restart -m %s: %s %s" % (mode, r.stdout, r.stderr)


def recovery_after(results, t_up):
    """Seconds from t_up until the last failed request started (0 when none failed after it)."""
    bad = [r[2] for r in results if r[2] >= t_up and r[1] not in OK]
    return round(max(bad) - t_up, 3) if bad else 0.0


def pg_restart(mode="fast", seconds=6.0, readers=4, writers=4, wrk_conns=32, env=None):
    """PostgreSQL restarted (-m fast or -m immediate) under load: only 503 while it is away,
    no answer slower than HTTP_REQUEST_TIMEOUT, full service within 2 s of PostgreSQL accepting
    connections, every 201 stored once (as far as synchronous_commit makes a commit durable:
    a cluster with it off loses the last commits to -m immediate)."""
    s = start(dict({"HTTP_REQUEST_TIMEOUT": "5s"}, **(env or {})))
    tag = uuid.uuid4().hex[:8]
    try:
        _, token = user(s.url, tag)
        st, _, b = http("POST", s.url + "/api/v1/tasks", {"Content-Type": "application/json",
                                                          "Authorization": "Bearer " + token},
                        json.dumps({"title": "reader"}))
        task_id = json.loads(b)["id"]
        bg = wrk(s.url + "/api/v1/tasks/%d" % task_id, token, int(seconds) + 2, wrk_conns)
        load = Load(s.url, token, task_id, tag, readers, writers).start()
        time.sleep(seconds / 3)
        t_down = time.monotonic()
        pg_ctl_restart(mode)
        t_up = time.monotonic()
        time.sleep(max(seconds * 2 / 3, 3.0))
        results = load.stop()
        fig = {"campaign": "pg_restart", "mode": mode, "outage_s": round(t_up - t_down, 3)}
        fig.update(summarize(results))
        fig["recovery_s"] = recovery_after(results, t_up)
        fig.update(check_writes(results, tag))
        fig["wrk"] = wrk_result(bg)
        fig["server_alive"] = s.running()
        fig["reconnects"] = metric_value(metric_samples(http("GET", s.url + "/metrics")[2].decode()),
                                         "db_reconnects_total")
    finally:
        fig["problems"] = finish(s)
    return fig


def pg_down_at_start(wait_s=3.0, timeout_s="20s"):
    """PostgreSQL down when serve starts: what a client sees until it comes, and how soon it serves."""
    conftest.pg_ctl("stop")
    fig = {"campaign": "pg_down_at_start"}
    s = start({"DB_STARTUP_TIMEOUT": timeout_s}, wait=False)
    try:
        t0 = time.monotonic()
        seen = set()
        while time.monotonic() - t0 < wait_s:
            try:
                seen.add(http("GET", s.url + "/health", timeout=1)[0])
            except OSError as e:
                seen.add(type(e).__name__)
            time.sleep(0.1)
        fig["during_wait"] = sorted(map(str, seen))
        fig["alive_during_wait"] = s.running()
        conftest.pg_ctl("start")
        t_up = time.monotonic()
        deadline = t_up + 15
        while time.monotonic() < deadline:
            try:
                if http("GET", s.url + "/health/ready", timeout=1)[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.05)
        fig["ready_after_s"] = round(time.monotonic() - t_up, 3)
    finally:
        conftest.ensure_pg_running()
        fig["problems"] = finish(s)
    return fig


def pg_terminate(seconds=4.0, rounds=3, readers=4, writers=2):
    """pg_terminate_backend of the pool's connections mid-pipeline: 503 for what was in flight,
    reconnect, nothing hangs."""
    app = "hg-fault-%s" % uuid.uuid4().hex[:6]
    sep = "&" if "?" in conftest.DB_URL else "?"
    s = start({"DATABASE_URL": conftest.DB_URL + sep + "application_name=" + app})
    tag = uuid.uuid4().hex[:8]
    fig = {"campaign": "pg_terminate"}
    try:
        _, token = user(s.url, tag)
        b = http("POST", s.url + "/api/v1/tasks", {"Content-Type": "application/json", "Authorization": "Bearer " + token},
                 json.dumps({"title": "reader"}))[2]
        task_id = json.loads(b)["id"]
        load = Load(s.url, token, task_id, tag, readers, writers).start()
        killed, last = 0, 0.0
        for _ in range(rounds):
            time.sleep(seconds / rounds)
            killed += int(psql("SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                               "WHERE application_name = '%s' AND backend_type = 'client backend') t" % app) or 0)
            last = time.monotonic()
        time.sleep(2.5)
        results = load.stop()
        fig["terminated"] = killed
        fig.update(summarize(results))
        fig["recovery_s"] = recovery_after(results, last)
        fig.update(check_writes(results, tag))
        fig["reconnects"] = metric_value(metric_samples(http("GET", s.url + "/metrics")[2].decode()),
                                         "db_reconnects_total")
        fig["server_alive"] = s.running()
    finally:
        fig["problems"] = finish(s)
    return fig


def _mails(maildir):
    import email
    out = []
    for name in sorted(os.listdir(maildir)):
        if name.endswith(".eml"):
            with open(os.path.join(maildir, name), "rb") as f:
                msg = email.message_from_bytes(f.read())
            out.append((msg.get("X-Envelope-To"), msg.get_payload(decode=True).decode("utf-8", "replace")))
    return out


def smtp_down(down_s=10.0, rate=5.0, resend_every=4, drain_s=60.0, db_url=None, retry_max="2s"):
    """The SMTP server away for down_s while registrations (and some resends) continue: after it
    comes back every mail arrives, none twice, and mail to one address in the order written."""
    import tempfile

    import mail_sink
    db_url = db_url or conftest.DB_URL
    maildir = tempfile.mkdtemp(prefix="hg-fault-mail-")
    port = free_port()
    sink = mail_sink.start(maildir, port)
    s = start({"DATABASE_URL": db_url, "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": port, "MAIL_STARTTLS": "false",
               "MAIL_POLL_INTERVAL": "500ms", "MAIL_RETRY_MAX": retry_max, "MAIL_QUOTA_PER_MINUTE": "5",
               "MAIL_TIMEOUT": "5s"})
    tag = uuid.uuid4().hex[:8]
    fig = {"campaign": "smtp_down", "down_s": down_s, "retry_max": retry_max}
    answers = []
    stop = threading.Event()

    def register():
        c, i = Client(s.url), 0
        while not stop.is_set() and i < 100000:
            addr = "smtp-%s-%d@example.com" % (tag, i)
            st, _, _, _ = c.request("POST", "/api/v1/auth/register", {"email": addr, "password": PASSWORD})
            answers.append(st)
            if st == 201 and i % resend_every == 0:
                answers.append(c.request("POST", "/api/v1/auth/resend-verification", {"email": addr})[0])
            i += 1
            time.sleep(1.0 / rate)

    t = threading.Thread(target=register, daemon=True)
    try:
        t.start()
        time.sleep(2.0)
        sink.stop()
        t_down = time.monotonic()
        time.sleep(down_s)
        sink = mail_sink.start(maildir, port)
        t_back = time.monotonic()
        time.sleep(1.0)
        stop.set()
        t.join(30)
        like = "smtp-%s-%%" % tag
        written = int(psql("SELECT count(*) FROM mail_outbox WHERE to_addr LIKE '%s'" % like, db_url=db_url))
        fig["written_during_outage"] = int(psql(
            "SELECT count(*) FROM mail_outbox WHERE to_addr LIKE '%s' AND created_at > now() - interval '%d seconds'"
            " AND created_at < now() - interval '%d seconds'" % (like, time.monotonic() - t_down + 1,
                                                                  time.monotonic() - t_back), db_url=db_url))
        deadline = time.monotonic() + drain_s
        while time.monotonic() < deadline:
            if psql("SELECT count(*) FROM mail_outbox WHERE to_addr LIKE '%s' AND sent_at IS NULL AND dead_at IS NULL"
                    % like, db_url=db_url) == "0":
                break
            time.sleep(0.5)
        fig["drained_after_s"] = round(time.monotonic() - t_back, 1)
        time.sleep(1.0)
        got = [(to, body) for to, body in _mails(maildir) if to and to.startswith("smtp-%s-" % tag)]
        rows = psql("SELECT to_addr, md5(body_text) FROM mail_outbox WHERE to_addr LIKE '%s' ORDER BY id" % like,
                    db_url=db_url).splitlines()
        import hashlib
        want, have = {}, {}
        for line in rows:
            to, h = line.split("|")
            want.setdefault(to, []).append(h)
        for to, body in got:
            have.setdefault(to, []).append(hashlib.md5(body.replace("\r\n", "\n").encode()).hexdigest())
        fig["registrations"] = answers.count(201)
        fig["answers"] = {str(k): answers.count(k) for k in set(answers)}
        fig["mails_written"] = written
        fig["mails_delivered"] = len(got)
        fig["missing"] = sum(max(0, len(v) - len(have.get(k, []))) for k, v in want.items())
        fig["duplicates"] = sum(max(0, len(v) - len(want.get(k, []))) for k, v in have.items())
        fig["out_of_order"] = sum(1 for k, v in want.items() if len(v) > 1 and have.get(k) and have[k] != v)
        fig["dead"] = int(psql("SELECT count(*) FROM mail_outbox WHERE to_addr LIKE '%s' AND dead_at IS NOT NULL" % like,
                               db_url=db_url))
    finally:
        stop.set()
        fig["problems"] = finish(s)
        sink.stop()
    return fig


def sigterm(seconds=3.0, readers=4, writers=4, shutdown_timeout="10s", wrk_conns=32):
    """SIGTERM under load: what was in flight is answered, nothing torn, new connections refused."""
    s = start({"SHUTDOWN_TIMEOUT": shutdown_timeout})
    tag = uuid.uuid4().hex[:8]
    fig = {"campaign": "sigterm"}
    try:
        _, token = user(s.url, tag)
        b = http("POST", s.url + "/api/v1/tasks", {"Content-Type": "application/json", "Authorization": "Bearer " + token},
                 json.dumps({"title": "reader"}))[2]
        task_id = json.loads(b)["id"]
        bg = wrk(s.url + "/api/v1/tasks/%d" % task_id, token, int(seconds) + 2, wrk_conns)
        load = Load(s.url, token, task_id, tag, readers, writers).start()
        time.sleep(seconds)
        t_sig = time.monotonic()
        s.send_signal(signal.SIGTERM)
        time.sleep(0.2)
        refused = []
        for _ in range(5):
            try:
                st, _, _ = http("GET", s.url + "/health", timeout=2)
                refused.append(st == 503)
            except OSError:
                refused.append(True)
            time.sleep(0.05)
        rc = s.wait_exit(15)
        t_exit = time.monotonic()
        results = load.stop()
        fig["exit_code"] = rc
        fig["exit_after_s"] = round(t_exit - t_sig, 3)
        fig["new_connections_refused"] = all(refused)
        before = [r for r in results if r[2] + r[3] < t_sig]
        after = [r for r in results if r[2] + r[3] >= t_sig]
        fig["before_signal"] = summarize(before)
        fig["at_or_after_signal"] = summarize(after)
        # an answer with a status is whole (http.client reads it to its Content-Length); a name
        # instead of a status: no answer (ConnectionRefusedError: a new connection was refused)
        fig.update(check_writes(results, tag))
        fig["wrk"] = wrk_result(bg)
    finally:
        fig["problems"] = finish(s)
    return fig


class StallingSmtp:
    """Accepts SMTP connections and never answers: a mail relay that hangs."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]

    def close(self):
        self.sock.close()


def kill9(seconds=3.0, mails=12, expire="wait", db_url=None):
    """kill -9 of one of two instances on one database: the other keeps serving, nothing answered
    2xx is lost, and the mail the dead one had claimed is sent by the other once the claims
    expire (expire="wait": MAIL_TIMEOUT + 30 s; expire="now": the test moves the clock)."""
    import tempfile

    import mail_sink
    db_url = db_url or conftest.DB_URL
    maildir = tempfile.mkdtemp(prefix="hg-fault-mail-")
    port = free_port()
    sink = mail_sink.start(maildir, port)
    stall = StallingSmtp()
    common = {"DATABASE_URL": db_url, "MAIL_SERVER": "127.0.0.1", "MAIL_STARTTLS": "false",
              "MAIL_POLL_INTERVAL": "200ms", "MAIL_RETRY_MAX": "1s", "MAIL_TIMEOUT": "2s"}
    # A's relay hangs, so A holds claims when it dies; B's relay works but B starts after the mail is claimed.
    a = start(dict(common, MAIL_PORT=stall.port))
    tag = uuid.uuid4().hex[:8]
    fig = {"campaign": "kill9", "expire": expire}
    b = None
    try:
        _, token = user(a.url, tag)
        body = http("POST", a.url + "/api/v1/tasks", {"Content-Type": "application/json",
                                                      "Authorization": "Bearer " + token},
                    json.dumps({"title": "reader"}))[2]
        task_id = json.loads(body)["id"]
        addrs = ["kill9-%s-%d@example.com" % (tag, i) for i in range(mails)]
        for addr in addrs:
            psql("SELECT mail_enqueue('%s', 'verify_email', 'en', '{\"code\": \"424242\"}')" % addr, db_url=db_url)
        like = "kill9-%s-%%" % tag
        deadline = time.monotonic() + 5
        while int(psql("SELECT count(*) FROM mail_outbox WHERE to_addr LIKE '%s' AND locked_until > now()" % like,
                       db_url=db_url)) < mails and time.monotonic() < deadline:
            time.sleep(0.1)
        fig["claimed_by_a"] = int(psql("SELECT count(*) FROM mail_outbox WHERE to_addr LIKE '%s' AND locked_until > now()"
                                       % like, db_url=db_url))
        b = start(dict(common, MAIL_PORT=port))
        load = Load(a.url, token, task_id, tag, 2, 4, urls=[a.url, b.url]).start()
        time.sleep(seconds)
        t_kill = time.monotonic()
        a.proc.kill()
        a.proc.wait()
        a.expected_exit = -9
        time.sleep(seconds)
        results = load.stop()
        on_b = [r for r in results if r[2] >= t_kill]
        fig["load"] = summarize(results)
        fig.update(check_writes(results, tag, db_url))
        fig["b_alive"] = b.running()
        # B's own readers and writers: every other thread of the load went to B
        fig["b_after_kill_ok"] = sum(1 for r in on_b if r[1] in OK)
        if expire == "now":
            psql("UPDATE mail_outbox SET locked_until = now() - interval '1 second' WHERE to_addr LIKE '%s'"
                 " AND sent_at IS NULL" % like, db_url=db_url)
        t0 = time.monotonic()
        deadline = t0 + (10 if expire == "now" else 60)
        while time.monotonic() < deadline:
            if psql("SELECT count(*) FROM mail_outbox WHERE to_addr LIKE '%s' AND sent_at IS NULL" % like,
                    db_url=db_url) == "0":
                break
            time.sleep(0.25)
        fig["claimed_mail_sent_after_s"] = round(time.monotonic() - t_kill, 1)
        time.sleep(1.0)
        got = [to for to, _ in _mails(maildir) if to and to.startswith("kill9-%s-" % tag)]
        fig["mails_delivered"] = len(got)
        fig["mails_twice"] = len(got) - len(set(got))
        fig["mails_missing"] = len(set(addrs) - set(got))
    finally:
        fig["problems"] = finish(*[x for x in (a, b) if x])
        sink.stop()
        stall.close()
    return fig


def soak(minutes=5.0, sample_s=60.0, threads=4):
    """Mixed traffic (logins, task CRUD, lists) for a while; RSS and open descriptors sampled."""
    s = start({"HTTP_REQUEST_TIMEOUT": "10s"})
    fig = {"campaign": "soak", "minutes": minutes}
    stop = threading.Event()
    counts = {}
    lock = threading.Lock()

    def mixed(n):
        email, token = user(s.url, "soak%d" % n)
        c, anon, i = Client(s.url, token), Client(s.url), 0

        def ask(client, method, path, body=None):
            # every answer is counted: one that is not 2xx anywhere in a round is a problem
            st, b, _, _ = client.request(method, path, body)
            with lock:
                counts[str(st)] = counts.get(str(st), 0) + 1
            return st, b

        while not stop.is_set():
            i += 1
            if i % 50 == 0:
                # the new access token is used from here on: a soak outlives ACCESS_TOKEN_EXPIRES_IN
                st, b = ask(anon, "POST", "/api/v1/auth/login", {"email": email, "password": PASSWORD})
                if st == 200:
                    c.token = json.loads(b)["access_token"]
            else:
                st, b = ask(c, "POST", "/api/v1/tasks", {"title": "soak %d" % i})
                if st == 201:
                    tid = json.loads(b)["id"]
                    ask(c, "GET", "/api/v1/tasks/%d" % tid)
                    ask(c, "PATCH", "/api/v1/tasks/%d" % tid, {"status": "done"})
                    ask(c, "GET", "/api/v1/tasks?limit=20")
                    ask(c, "DELETE", "/api/v1/tasks/%d" % tid)

    ts = [threading.Thread(target=mixed, args=(n,), daemon=True) for n in range(threads)]
    samples = []
    try:
        for t in ts:
            t.start()
        t0 = time.monotonic()
        end = t0 + minutes * 60
        while True:
            samples.append((round(time.monotonic() - t0), rss_kib(s.pid), open_fds(s.pid)))
            log("soak t=%ss rss=%s KiB fds=%s" % samples[-1])
            if time.monotonic() + sample_s > end + 1:
                break
            time.sleep(sample_s)
        stop.set()
        for t in ts:
            t.join(30)
        fig["samples"] = samples
        fig["statuses"] = counts
        warm = samples[1:] or samples
        fig["rss_growth_after_warmup_kib"] = warm[-1][1] - warm[0][1]
        fig["fd_growth_after_warmup"] = warm[-1][2] - warm[0][2]
    finally:
        stop.set()
        fig["problems"] = finish(s)
    bad = {k: v for k, v in counts.items() if not k.startswith("2")}
    if bad:
        fig["problems"].append("answers other than 2xx: %s" % bad)
    return fig


class ChaosStream:
    """One slot of sse_chaos: a stream of one user that comes and goes. What it received is kept
    per segment: a run of connections each resumed with the Last-Event-ID of the one before."""

    def __init__(self, port, token, user_id):
        self.port, self.token, self.user_id = port, token, user_id
        self.sock, self.buf, self.head = None, b"", False
        self.segments = []  # [{"after": Last-Event-ID or None, "ids": [...], "open": bool}]
        self.last_id = None
        self.connects = self.refused = 0

    def connect(self, resume):
        self.close()
        s = socket.socket()
        s.settimeout(5)
        s.connect(("127.0.0.1", self.port))
        lines = ["GET /api/v1/events?types=message HTTP/1.1", "Host: chaos",
                 "Authorization: Bearer " + self.token]
        after = self.last_id if resume else None
        if after is not None:
            lines.append("Last-Event-ID: %d" % after)
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        s.setblocking(False)
        self.sock, self.buf, self.head = s, b"", False
        if after is None or not self.segments:
            self.segments.append({"after": after, "ids": [], "problems": [], "head_at": None})
        self.connects += 1

    def close(self, reset=False):
        if self.sock:
            if reset:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            self.sock.close()
        self.sock = None

    def read(self):
        """Reads what is there; False when the server closed the stream."""
        try:
            data = self.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return True
        except OSError:
            data = b""
        if not data:
            self.close()
            return False
        self.buf += data
        if not self.head:
            if b"\r\n\r\n" not in self.buf:
                return True
            head, self.buf = self.buf.split(b"\r\n\r\n", 1)
            if not head.startswith(b"HTTP/1.1 200"):
                # a new stream is placed by the database before its head: 503 while it is away
                if head.startswith(b"HTTP/1.1 503"):
                    self.refused += 1
                else:
                    self.segments[-1]["problems"].append("refused: %r" % head[:60])
                self.close()
                return False
            self.head = True
            if self.segments[-1]["head_at"] is None:
                self.segments[-1]["head_at"] = time.monotonic()
        while b"\n\n" in self.buf:
            block, self.buf = self.buf.split(b"\n\n", 1)
            fields = dict(line.split(": ", 1) for line in block.decode().split("\n") if not line.startswith(":"))
            if fields.get("event") == "message":
                self.segments[-1]["ids"].append(int(fields["id"]))
                self.last_id = int(fields["id"])
            elif fields:
                self.segments[-1]["problems"].append("unexpected event %r" % fields)
        return True


def _chaos_check(slots, messages, sent_at):
    """Per segment: ids strictly increasing, and every message of the user from where it started
    to the last id it got, none missing. A segment that started fresh starts before its first
    id, and before every message sent after its head arrived (the server places a new stream
    before it answers); one still open at the end got everything of its user after its start."""
    by_user = {}
    for mid, frm, to in messages:
        by_user.setdefault(frm, []).append(mid)
        by_user.setdefault(to, []).append(mid)
    for ids in by_user.values():
        ids.sort()
    problems, checked = [], 0
    for slot in slots:
        mine = by_user.get(slot.user_id, [])
        for n, seg in enumerate(slot.segments):
            problems += ["user %d: %s" % (slot.user_id, p) for p in seg["problems"]]
            ids = seg["ids"]
            if any(b <= a for a, b in zip(ids, ids[1:])):
                problems.append("user %d: out of order or twice: %s" % (slot.user_id, ids))
                continue
            stayed = n == len(slot.segments) - 1 and slot.sock is not None
            if seg["after"] is not None:
                start = seg["after"]
            else:
                later = [m for m in mine if seg["head_at"] is not None and sent_at.get(m, 0) > seg["head_at"]]
                if not ids and not later:
                    continue
                start = min(ids[:1] + later[:1]) - 1
            last = max(ids[-1:] + (mine if stayed else []), default=start)
            want = [m for m in mine if start < m <= last]
            checked += 1
            if ids != want:
                missing = sorted(set(want) - set(ids))[:10]
                extra = sorted(set(ids) - set(want))[:10]
                problems.append("user %d: after %s missing %s, not the user's %s" % (slot.user_id, start, missing,
                                                                                    extra))
    return problems, checked


def sse_chaos(seconds=600.0, streams=500, users=50, restarts=2, rate=20.0, life_s=8.0, env=None):
    """Event streams in chaos (issue 19): `streams` streams of `users` users connect and leave at
    random (half resume with Last-Event-ID, some leave before their replay answers, some with a
    reset), messages are sent throughout, PostgreSQL is restarted `restarts` times (-m fast). Every
    stream saw each of its messages once, in order (resumed ones across their reconnects), and
    the server reports nothing (sanitizers, when it is the ASan build)."""
    import random
    import selectors
    raise_fd_limit()
    s = start(dict({"EVENTS_MAX_STREAMS_PER_USER": str(streams), "HTTP_REQUEST_TIMEOUT": "5s"}, **(env or {})))
    fig = {"campaign": "sse_chaos", "seconds": seconds, "streams": streams, "users": users, "restarts": restarts}
    stop = threading.Event()
    sent, send_failures, lock = [], [0], threading.Lock()
    rnd = random.Random(4242)
    try:
        people = []
        for i in range(users):
            _, token = user(s.url, "chaos%d" % i)
            st, _, b = http("GET", s.url + "/api/v1/users/me", {"Authorization": "Bearer " + token})
            people.append((json.loads(b)["id"], token))

        def sender():
            clients = [Client(s.url, tok) for _, tok in people]
            r = random.Random(7)
            while not stop.is_set():
                a, b = r.sample(range(users), 2)
                st, body, t0, _ = clients[a].request("POST", "/api/v1/messages",
                                                     {"to_user_id": people[b][0], "text": "chaos"})
                with lock:
                    if st == 201:
                        sent.append((json.loads(body)["id"], people[a][0], people[b][0], t0))
                    else:
                        send_failures[0] += 1
                time.sleep(1.0 / rate if st == 201 else 0.05)

        slots = [ChaosStream(s.port, people[i % users][1], people[i % users][0]) for i in range(streams)]
        sel = selectors.DefaultSelector()
        due = {}  # slot index -> (time, action)
        now = time.monotonic()

        def connect(i, resume):
            try:
                slots[i].connect(resume)
                sel.register(slots[i].sock, selectors.EVENT_READ, i)
            except OSError:
                slots[i].close()
                due[i] = (time.monotonic() + 0.5, "connect")
                return
            # most live a while; some leave at once, while their replay is in flight
            soon = rnd.random() < 0.15
            due[i] = (time.monotonic() + (rnd.uniform(0, 0.02) if soon else rnd.expovariate(1.0 / life_s)), "leave")

        def leave(i):
            if slots[i].sock:
                sel.unregister(slots[i].sock)
                slots[i].close(reset=rnd.random() < 0.3)
            due[i] = (time.monotonic() + rnd.uniform(0, 1.0), "connect")

        for i in range(streams):
            due[i] = (now + rnd.uniform(0, 2.0), "connect")
        t_send = threading.Thread(target=sender, daemon=True)
        t_send.start()
        t0 = time.monotonic()
        restart_at = [t0 + seconds * (k + 1) / (restarts + 1) for k in range(restarts)]
        end = t0 + seconds
        while time.monotonic() < end:
            if restart_at and time.monotonic() >= restart_at[0]:
                restart_at.pop(0)
                log("sse_chaos: restarting PostgreSQL")
                pg_ctl_restart("fast")
            for key, _ in sel.select(timeout=0.01):
                i = key.data
                if not slots[i].read():
                    sel.unregister(key.fileobj)
                    due[i] = (time.monotonic() + rnd.uniform(0, 1.0), "connect")
            t = time.monotonic()
            for i, (when, action) in list(due.items()):
                if when <= t:
                    del due[i]
                    if action == "connect":
                        connect(i, rnd.random() < 0.5)
                    else:
                        leave(i)
        stop.set()
        t_send.join(30)
        # the streams still open get what is still on its way
        newest = {}
        with lock:
            for mid, frm, to, _ in sent:
                newest[frm] = newest[to] = mid
        drain_end = time.monotonic() + 20
        while time.monotonic() < drain_end:
            for key, _ in sel.select(timeout=0.1):
                i = key.data
                if not slots[i].read():
                    sel.unregister(key.fileobj)
            if all(sl.sock is None or (sl.last_id or 0) >= newest.get(sl.user_id, 0) for sl in slots):
                break
        messages = [tuple(int(x) for x in line.split("|")) for line in psql(
            "SELECT id, from_user_id, to_user_id FROM messages WHERE from_user_id = ANY ('{%s}') ORDER BY id"
            % ",".join(str(p[0]) for p in people)).splitlines()]
        problems, checked = _chaos_check(slots, messages, {m[0]: m[3] for m in sent})
        fig.update({"messages_sent": len(sent), "messages_stored": len(messages), "send_failures": send_failures[0],
                    "connects": sum(sl.connects for sl in slots), "segments_checked": checked,
                    "refused_503": sum(sl.refused for sl in slots),
                    "server_alive": s.running(), "rss_kib": rss_kib(s.pid)})
        for sl in slots:
            sl.close()
        fig["problems"] = problems[:20]
    finally:
        stop.set()
        fig.setdefault("problems", [])
        fig["problems"] += finish(s)
    return fig


CAMPAIGNS = {
    "pg_restart": lambda a: [pg_restart("fast", a.seconds), pg_restart("immediate", a.seconds)],
    "pg_down_at_start": lambda a: [pg_down_at_start()],
    "pg_terminate": lambda a: [pg_terminate(a.seconds)],
    "smtp_down": lambda a: [smtp_down(down_s=a.seconds, drain_s=max(60.0, a.seconds * 2), retry_max=a.retry_max)],
    "sigterm": lambda a: [sigterm(a.seconds)],
    "kill9": lambda a: [kill9(a.seconds)],
    "slow_clients": lambda a: [slow_clients(a.slow, a.deaf, a.seconds, ramp_s=a.ramp, workers=a.workers,
                                            header_timeout=a.header_timeout, reconnect=not a.no_reconnect,
                                            server_cpu=a.server_cpu, attacker_cpu=a.attacker_cpu, perf_out=a.perf,
                                            perf_events=a.perf_events)],
    "deaf_expire": lambda a: [deaf_connections_expire()],
    "soak": lambda a: [soak(a.minutes, a.sample)],
    "sse_chaos": lambda a: [sse_chaos(a.seconds, a.streams, a.users)],
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("campaign", choices=sorted(CAMPAIGNS))
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--slow", type=int, default=5000)
    ap.add_argument("--deaf", type=int, default=1000)
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--sample", type=float, default=60.0)
    ap.add_argument("--retry-max", default="10m")
    ap.add_argument("--ramp", type=float, default=0.0, help="slow_clients: seconds over which to open them")
    ap.add_argument("--workers", type=int, default=1, help="slow_clients: the server's WORKERS")
    ap.add_argument("--header-timeout", default="10s", help="slow_clients: HTTP_HEADER_TIMEOUT")
    ap.add_argument("--no-reconnect", action="store_true", help="slow_clients: do not replace the ones answered 408")
    ap.add_argument("--streams", type=int, default=500, help="sse_chaos: streams open at once")
    ap.add_argument("--users", type=int, default=50, help="sse_chaos: the users they belong to")
    ap.add_argument("--server-cpu", type=int, help="slow_clients: pin the server's threads to this CPU")
    ap.add_argument("--attacker-cpu", type=int, help="slow_clients: pin the hostile clients to this CPU")
    ap.add_argument("--perf", metavar="FILE", help="slow_clients: perf record -g the server under attack into FILE")
    ap.add_argument("--perf-events", metavar="LIST", help="slow_clients: with --perf, record these events (perf -e)")
    a = ap.parse_args()
    bad = 0
    for fig in CAMPAIGNS[a.campaign](a):
        print("fault", json.dumps(fig, sort_keys=True), flush=True)
        bad += bool(fig.get("problems"))
    if bad:
        log("server logs kept in %s" % conftest.LOG_DIR)
    else:
        import shutil
        shutil.rmtree(conftest.LOG_DIR, ignore_errors=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
