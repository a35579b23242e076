#!/usr/bin/env python3
"""The shop's 1C stock import at size: 50 000 variations, one CSV (Windows-1251, CRLF) posted to
POST /api/v1/shop/variations/stock, timed end to end, with the server's peak RSS (VmHWM).

    bench/shop_import.py BINARY DATABASE_URL [LINES] [READERS]

Starts BINARY (a release build) on a free port against DATABASE_URL with WORKERS=1, makes a staff
user with psql, inserts the variations (five per good, the goods in one category), then posts the
file three times: every amount changes, nothing changes, and one broken last line (refused whole).
Prints one line per run. With READERS (64), the first pages of the category's public list are read
into the server's memory before the first import, and after its 200 READERS connections read them
for READ_SECONDS (3): a read that shows an amount from before the import is stale (issue 17: none
may be, on the instance that imported). Compare the import's time with another BINARY (main's)."""

import http.client
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid

PSQL = os.path.join(os.environ.get("PGBIN", "/usr/lib/postgresql/15/bin"), "psql")


def psql(url, sql):
    return subprocess.run([PSQL, "-X", "-At", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql], check=True,
                          capture_output=True, text=True).stdout.strip()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def call(base, method, path, body=None, headers=None, timeout=120):
    req = urllib.request.Request(base + path, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def peak_rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


PER_GOOD = 5
PAGES = 20
PAGE_GOODS = 20
READ_SECONDS = float(os.environ.get("READ_SECONDS", "3"))


def new_amount(i):
    return i % 97 + 2


def read_pages(port, cat, readers, want):
    """READERS connections reading the category's first pages for READ_SECONDS: (reads, stale)."""
    counts = [0, 0]
    lock = threading.Lock()
    stop = time.monotonic() + READ_SECONDS

    def reader():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        reads = stale = 0
        while time.monotonic() < stop:
            cursor = random.randrange(PAGES) * PAGE_GOODS
            conn.request("GET", "/api/v1/shop/goods?category_id=%s&limit=%d%s"
                         % (cat, PAGE_GOODS, "&cursor=%d" % (want["first_good"] + cursor - 1) if cursor else ""))
            doc = json.loads(conn.getresponse().read())
            reads += 1
            stale += any(v["amount"] != want[v["external_id"]] for g in doc["items"] for v in g["variations"])
        with lock:
            counts[0] += reads
            counts[1] += stale

    threads = [threading.Thread(target=reader) for _ in range(readers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return counts


def main():
    binary, url = sys.argv[1], sys.argv[2]
    lines = int(sys.argv[3]) if len(sys.argv) > 3 else 50000
    readers = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    port = free_port()
    env = dict(os.environ, DATABASE_URL=url, PORT=str(port), HOST="127.0.0.1", WORKERS="1",
               JWT_SECRET="bench-secret-0123456789abcdef", PASSWORD_HASH_COST="min",
               AUTH_REQUIRE_VERIFIED_EMAIL="false", LOG_LEVEL="warn")
    server = subprocess.Popen([binary, "serve"], env=env)
    base = "http://127.0.0.1:%d" % port
    try:
        for _ in range(300):
            try:
                if call(base, "GET", "/health/ready", timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        email = "bench-%s@example.com" % uuid.uuid4().hex[:8]
        password = "Hourglass-1"
        js = {"Content-Type": "application/json"}
        st, body = call(base, "POST", "/api/v1/auth/register", json.dumps({"email": email, "password": password}).encode(), js)
        assert st in (200, 201), (st, body)
        psql(url, "UPDATE users SET role = 'staff' WHERE email = '%s'" % email)
        st, body = call(base, "POST", "/api/v1/auth/login", json.dumps({"email": email, "password": password}).encode(), js)
        token = json.loads(body)["access_token"]
        tag = "bench-" + uuid.uuid4().hex[:6]
        cat = psql(url, "INSERT INTO shop_categories (name) VALUES ('%s') RETURNING id" % tag).splitlines()[0]
        comp = psql(url, "INSERT INTO compositions (name) VALUES ('%s') RETURNING id" % tag).splitlines()[0]
        first_good = int(psql(url, "WITH g AS (INSERT INTO goods (name, article, category_id, composition_id, "
                                   "description, weight) SELECT 'bench ' || i, 'b', %s, %s, '', 1 "
                                   "FROM generate_series(1, %d) i RETURNING id) SELECT min(id) FROM g"
                              % (cat, comp, (lines + PER_GOOD - 1) // PER_GOOD)))
        psql(url, "INSERT INTO variations (good_id, name, price, amount, external_id) SELECT %d + (i - 1) / %d, "
                  "'Вариант ' || i, 100, 1, 'Код-%s-' || i FROM generate_series(1, %d) i"
                  % (first_good, PER_GOOD, tag, lines))
        want = {"Код-%s-%d" % (tag, i): new_amount(i) for i in range(1, lines + 1)}
        want["first_good"] = first_good
        if readers:  # the pages in memory, with the amounts from before
            old = dict(want, **{k: 1 for k in want if k != "first_good"})
            print("shop_import warm reads=%d (not the old amounts: %d)" % tuple(read_pages(port, cat, 4, old)))
        rows = ["Код;Остаток"] + ["Код-%s-%d;%d" % (tag, i, new_amount(i)) for i in range(1, lines + 1)]
        runs = [("all change", rows), ("none change", rows), ("broken last line", rows[:-1] + ["x;oops"])]
        auth = {"Authorization": "Bearer " + token, "Content-Type": "text/csv"}
        rss0 = peak_rss_kib(server.pid)
        for label, text in runs:
            data = "\r\n".join(text).encode("cp1251") + b"\r\n"
            t0 = time.monotonic()
            st, body = call(base, "POST", "/api/v1/shop/variations/stock", data, auth)
            took = time.monotonic() - t0
            doc = json.loads(body)
            what = ("updated %d" % doc["updated"]) if st == 200 else ("%d errors" % len(doc.get("errors", [])))
            print("shop_import %-16s lines=%d bytes=%d status=%d %s time=%.2fs peak_rss=%.1fMiB"
                  % (label, lines, len(data), st, what, took, peak_rss_kib(server.pid) / 1024))
            if readers and label == "all change":
                reads, stale = read_pages(port, cat, readers, want)
                print("shop_import readers=%d after the 200: reads=%d stale=%d" % (readers, reads, stale))
        print("shop_import peak RSS before the imports %.1f MiB" % (rss0 / 1024))
        psql(url, "DELETE FROM goods WHERE category_id = %s; DELETE FROM compositions WHERE id = %s; "
                  "DELETE FROM shop_categories WHERE id = %s" % (cat, comp, cat))
    finally:
        server.terminate()
        server.wait(timeout=20)


if __name__ == "__main__":
    main()
