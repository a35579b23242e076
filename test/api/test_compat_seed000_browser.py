"""Seed 000's front end calls, made by a real browser: headless Chromium (Debian package,
driven by playwright-core) loads a page from another origin, http://localhost:3000, served
by a small HTTP server of this test, and makes the calls of github:vergeeva/react_management
with the real axios (withCredentials, JSON bodies, cookies only) against a server started
with COMPAT_SEED000=true. The call list is test/browser/seed000/flow.js, after
docs/seed000.md. At the end the page draws the kanban board it read and the test saves a
screenshot: docs/seed000-kanban.png when every step passed, else into the session's log
folder.

Needs: chromium (scripts/test installs it), node, and playwright-core + axios fetched by
scripts/browser-deps.sh into .cache/npm-browser (scripts/test runs it; $HG_BROWSER_DEPS).
"""
import http.server
import importlib.util
import json
import os
import shutil
import subprocess
import threading
import time
import urllib.parse
import uuid

import pytest

from conftest import LOG_DIR, REPO, start_server


def _load_mailbox():
    # test/api/mailbox.py by its path: the standard library has a module of the same name.
    here = os.path.dirname(os.path.abspath(__file__))
    spec = importlib.util.spec_from_file_location("hg_test_mailbox", os.path.join(here, "mailbox.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


_mailbox = _load_mailbox()

BROWSER_DIR = os.path.join(REPO, "test", "browser")
PAGE_DIR = os.path.join(BROWSER_DIR, "seed000")
DEPS = os.environ.get("HG_BROWSER_DEPS") or os.path.join(REPO, ".cache", "npm-browser")
AXIOS = os.path.join(DEPS, "node_modules", "axios", "dist", "axios.min.js")
SCREENSHOT = os.path.join(REPO, "docs", "seed000-kanban.png")
# The seed's author worked in Moscow; the planner's time shift only works east of UTC.
TIMEZONE = "Europe/Moscow"


def _chromium():
    return os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


class _Front(http.server.BaseHTTPRequestHandler):
    """The page, its script, axios, and /mailcode (the code from the SMTP sink's mail)."""
    files = {"/": ("index.html", "text/html; charset=utf-8"),
             "/index.html": ("index.html", "text/html; charset=utf-8"),
             "/flow.js": ("flow.js", "text/javascript; charset=utf-8")}

    def log_message(self, fmt, *args):
        self.server.log.append(fmt % args)

    def _send(self, status, ctype, body):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        if u.path in self.files:
            name, ctype = self.files[u.path]
            with open(os.path.join(PAGE_DIR, name), "rb") as f:
                return self._send(200, ctype, f.read())
        if u.path == "/axios.min.js":
            with open(AXIOS, "rb") as f:
                return self._send(200, "text/javascript; charset=utf-8", f.read())
        if u.path == "/mailcode":
            q = urllib.parse.parse_qs(u.query)
            email, count = q.get("email", [""])[0], int(q.get("count", ["1"])[0])
            out = {"code": None}
            try:
                msg = _mailbox.Mailbox().wait_for(email, count, timeout=10.0)
                if msg is None:
                    out["error"] = "no mail #%d within 10 s" % count
                else:
                    out["code"] = _mailbox.code_in(msg)
                    if not out["code"]:
                        out["error"] = "no 6-digit code in the mail"
            except Exception as e:  # reported to the page, which reports it to the test
                out["error"] = repr(e)
            return self._send(200, "application/json", json.dumps(out).encode())
        self._send(404, "text/plain", b"not found")


def _listen_front():
    """The front end's own origin: http://localhost:3000 as in the seed, or another port when
    3000 is taken (several test runs on one machine); CLIENT_ORIGIN follows it."""
    for port in (3000, 0):
        try:
            srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), _Front)
        except OSError:
            continue
        srv.daemon_threads = True
        srv.log = []
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        return srv
    raise RuntimeError("cannot listen for the front end")


@pytest.fixture(scope="module")
def browser_run():
    chromium = _chromium()
    if not chromium:
        pytest.skip("chromium is not installed (Debian package chromium; scripts/test installs it)")
    node = shutil.which("node")
    if not node:
        pytest.fail("node is missing (Debian packages nodejs npm; scripts/test installs them)")
    if not (os.path.isfile(AXIOS) and os.path.isdir(os.path.join(DEPS, "node_modules", "playwright-core"))):
        pytest.fail("playwright-core and axios are not in %s: run scripts/browser-deps.sh %s "
                    "(scripts/test does)" % (DEPS, DEPS))
    if not os.environ.get("HG_MAILDIR"):
        pytest.fail("HG_MAILDIR is not set: the SMTP sink of scripts/test is needed for the verification code")
    front = _listen_front()
    origin = "http://localhost:%d" % front.server_address[1]
    srv = start_server({"COMPAT_SEED000": "true", "CLIENT_ORIGIN": origin})
    srv.wait_db_ready()
    shot = os.path.join(LOG_DIR, "seed000-kanban.png")
    run = uuid.uuid4().hex[:10]
    url = "%s/?api=%s&run=%s" % (origin, urllib.parse.quote("http://localhost:%d" % srv.port, safe=""), run)
    env = dict(os.environ, NODE_PATH=os.path.join(DEPS, "node_modules"), CHROMIUM=chromium)
    started = time.monotonic()
    try:
        p = subprocess.run([node, os.path.join(BROWSER_DIR, "run_page.js"), url, "--screenshot", shot, "--selector", "#app",
                            "--timeout", "150000", "--timezone", TIMEZONE],
                           capture_output=True, text=True, timeout=200, env=env, cwd=BROWSER_DIR)
    finally:
        front.shutdown()
        front.server_close()
        probs = srv.finish()
    try:
        report = json.loads(p.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        pytest.fail("test/browser/run_page.js printed no report (exit %s):\nstdout: %s\nstderr: %s"
                    % (p.returncode, p.stdout[-2000:], p.stderr[-3000:]))
    report.update(origin=origin, api="http://localhost:%d" % srv.port, screenshot=shot,
                  seconds=round(time.monotonic() - started, 1), server_problems=probs,
                  front_log=front.log, stderr=p.stderr[-3000:])
    return report


def _describe(report):
    lines = ["page %s, API %s, %ss" % (report["origin"], report["api"], report["seconds"])]
    if report.get("error"):
        lines.append("runner: " + report["error"])
    for e in report.get("page_errors") or []:
        lines.append("page error: " + e[:500])
    return "\n".join(lines)


def test_browser_harness_runs(browser_run):
    """Chromium starts, the page loads from the other origin with axios, the flow runs to its
    end and its calls reach the server (whatever the server answers)."""
    r = browser_run
    assert r.get("loaded"), "the page %s did not load:\n%s\n%s" % (r["origin"], _describe(r), r.get("stderr"))
    assert r.get("done"), "the page did not finish:\n" + _describe(r)
    assert not r.get("page_errors"), "errors in the page:\n" + _describe(r)
    results = r.get("results") or []
    assert results and results[0]["name"] not in ("load axios", "parameters"), \
        "the flow did not start: %s\n%s" % (json.dumps(results, ensure_ascii=False)[:1000], _describe(r))
    api_answers = [x for x in r.get("responses") or [] if x["url"].startswith(r["api"] + "/")]
    assert api_answers, "no request reached the server at %s:\nfailed requests: %s\n%s" % (
        r["api"], json.dumps(r.get("failed"), ensure_ascii=False)[:2000], _describe(r))
    assert os.path.getsize(r["screenshot"]) > 0
    assert not r["server_problems"], "\n".join(r["server_problems"])


def test_seed000_front_end_runs_unchanged(browser_run):
    """Every call of the seed's screens gets the answer its code reads (see flow.js)."""
    r = browser_run
    results = r.get("results") or []
    if not r.get("done") or not results:
        pytest.fail("the browser flow did not run to its end:\n" + _describe(r))
    failed = [s for s in results if not s["ok"]]
    if not failed:
        os.makedirs(os.path.dirname(SCREENSHOT), exist_ok=True)
        shutil.copyfile(r["screenshot"], SCREENSHOT)
        return
    out = ["%d of %d steps of the seed 000 front end failed (%s; screenshot %s):"
           % (len(failed), len(results), _describe(r), r["screenshot"])]
    for s in failed:
        out.append("\n* " + s["name"])
        for p in s["problems"][:6]:
            out.append("    - " + p)
        if len(s["problems"]) > 6:
            out.append("    - … %d more" % (len(s["problems"]) - 6))
    pytest.fail("\n".join(out), pytrace=False)
