"""The common part of the local fakes of outside services (payment gateway, Telegram Bot API).

A fake is a real HTTP server on 127.0.0.1 in a thread of the test process. Every request it gets is
recorded (method, path, headers, parsed parameters, what it answered), and the test can make it
misbehave:

    fake.down()          refuse connections (the listening socket is closed) until fake.up()
    fake.up()            listen again, on the same port
    fake.fail(n, status) answer the next n requests with `status` (default 503)
    fake.hang(seconds)   hold every request for `seconds`, then close it without an answer
    fake.normal()        back to answering (hang and pending failures cleared; up() if down)
    fake.calls(path_re)  the recorded calls (dicts) whose path matches, oldest first
    fake.clear()         forget the calls

The same controls are reachable over HTTP while the fake is up, for a fake run as its own process:
GET /_calls (JSON list), POST /_control {"mode": "normal"|"fail"|"hang", "count", "status", "seconds"},
POST /_clear. If FAKE_CALLS_FILE (or calls_file=) is given, every call is also appended to that file
as a JSON line. Only the standard library is used.
"""

import json
import re
import socket
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, *a, **kw):
        self.open_sockets = set()
        self.sockets_lock = threading.Lock()
        super().__init__(*a, **kw)

    def get_request(self):
        sock, addr = super().get_request()
        with self.sockets_lock:
            self.open_sockets.add(sock)
        return sock, addr

    def shutdown_request(self, request):
        with self.sockets_lock:
            self.open_sockets.discard(request)
        super().shutdown_request(request)

    def drop_connections(self):
        """Ends kept-alive connections too: a client must not reach a server that is down through them."""
        with self.sockets_lock:
            socks = list(self.open_sockets)
        for sock in socks:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class FakeServer:
    """Subclasses implement handle(call) -> (status, content_type, body bytes or str)."""

    name = "fake"

    def __init__(self, port=0, calls_file=None):
        self._lock = threading.Lock()
        self._calls = []
        self._fail_left = 0
        self._fail_status = 503
        self._hang_seconds = 0.0
        self._calls_file = calls_file
        self._httpd = None
        self._thread = None
        self._hung = threading.Event()  # set to release hanging requests at once (stop)
        self.port = port
        self.up()

    # ------------------------------------------------------------------ lifecycle
    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def up(self):
        if self._httpd:
            return
        handler = self._handler_class()
        deadline = time.monotonic() + 5
        while True:
            try:
                self._httpd = _Server(("127.0.0.1", self.port), handler)
                break
            except OSError:
                if not self.port or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="%s-%d" % (self.name, self.port), daemon=True)
        self._thread.start()

    def down(self):
        """Close the listening socket: connections are refused until up()."""
        httpd, self._httpd = self._httpd, None
        if httpd:
            httpd.shutdown()
            httpd.server_close()
            httpd.drop_connections()
            self._thread.join(5)

    def stop(self):
        self._hung.set()
        self.down()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.stop()

    # ------------------------------------------------------------------ behaviour
    def fail(self, count, status=503):
        with self._lock:
            self._fail_left, self._fail_status = int(count), int(status)

    def hang(self, seconds):
        with self._lock:
            self._hang_seconds = float(seconds)

    def normal(self):
        with self._lock:
            self._fail_left, self._hang_seconds = 0, 0.0
        self.up()

    def calls(self, path_re=None):
        with self._lock:
            out = list(self._calls)
        if path_re:
            out = [c for c in out if re.search(path_re, c["path"])]
        return out

    def clear(self):
        with self._lock:
            self._calls = []

    def wait_calls(self, path_re=None, count=1, timeout=10.0, pred=None):
        """Polls until at least count calls (matching pred too, when given) were recorded; returns them."""
        deadline = time.monotonic() + timeout
        while True:
            got = [c for c in self.calls(path_re) if pred is None or pred(c)]
            if len(got) >= count or time.monotonic() >= deadline:
                return got
            time.sleep(0.05)

    # ------------------------------------------------------------------ the subclass's part
    def handle(self, call):
        raise NotImplementedError

    # ------------------------------------------------------------------ plumbing
    def _record(self, call):
        with self._lock:
            self._calls.append(call)
        if self._calls_file:
            with open(self._calls_file, "a", encoding="utf-8") as f:
                f.write(json.dumps(call, ensure_ascii=False) + "\n")

    def _next_misbehaviour(self):
        with self._lock:
            if self._hang_seconds:
                return "hang", self._hang_seconds
            if self._fail_left > 0:
                self._fail_left -= 1
                return "fail", self._fail_status
            return None, None

    def _control(self, path, params):
        if path == "/_calls":
            return 200, "application/json", json.dumps(self.calls())
        if path == "/_clear":
            self.clear()
            return 204, None, b""
        mode = params.get("mode")
        if mode == "fail":
            self.fail(params.get("count", 1), params.get("status", 503))
        elif mode == "hang":
            self.hang(params.get("seconds", 3600))
        elif mode == "normal":
            with self._lock:
                self._fail_left, self._hang_seconds = 0, 0.0
        else:
            return 400, "application/json", json.dumps({"error": "mode: normal, fail or hang"})
        return 204, None, b""

    def _handler_class(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _serve(self):
                u = urllib.parse.urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
                params = {}
                for k, v in urllib.parse.parse_qsl(u.query, keep_blank_values=True):
                    params[k] = v
                json_body = None
                if ctype == "application/x-www-form-urlencoded":
                    for k, v in urllib.parse.parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True):
                        params[k] = v
                elif ctype == "application/json" and raw:
                    try:
                        json_body = json.loads(raw.decode("utf-8"))
                    except ValueError:
                        json_body = None
                    if isinstance(json_body, dict):
                        for k, v in json_body.items():
                            params[k] = v
                if u.path.startswith("/_"):
                    status, ct, body = fake._control(u.path, params)
                    return self._answer(status, ct, body)
                call = {"time": time.time(), "method": self.command, "path": u.path, "query": u.query,
                        "headers": {k.lower(): v for k, v in self.headers.items()}, "content_type": ctype,
                        "params": params, "body": raw.decode("utf-8", "replace")}
                what, arg = fake._next_misbehaviour()
                if what == "hang":
                    call["outcome"], call["status"] = "hung", None
                    fake._record(call)
                    fake._hung.wait(arg)
                    self.close_connection = True
                    return None
                if what == "fail":
                    call["outcome"], call["status"] = "failed", arg
                    fake._record(call)
                    return self._answer(arg, "application/json",
                                        json.dumps({"ok": False, "error_code": arg,
                                                    "description": "fake: told to fail"}))
                status, ct, body = fake.handle(call)
                call["outcome"], call["status"] = ("ok" if 200 <= status < 300 else "refused"), status
                call["answer"] = body if isinstance(body, str) else body.decode("utf-8", "replace")
                fake._record(call)
                return self._answer(status, ct, body)

            def _answer(self, status, ctype, body):
                if isinstance(body, str):
                    body = body.encode("utf-8")
                self.send_response(status)
                if ctype:
                    self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if body:
                    self.wfile.write(body)

            def do_GET(self):
                try:
                    self._serve()
                except (BrokenPipeError, ConnectionResetError, socket.timeout):
                    pass

            do_POST = do_GET

        return Handler
