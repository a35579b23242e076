#!/usr/bin/env python3
"""A write on instance A seen by a read on instance B (issue 17): how long after A's 2xx does B's public
catalogue show the new bytes? B keeps answers in memory, so what brings it the change is the NOTIFY.

    bench/catalogue_delay.py --a URL_A --b URL_B --db DATABASE_URL [-n 200]

Both instances share DATABASE_URL. A staff user is made with psql. Two kinds of write, n times each:
`staff` (PATCH a good's name: the table trigger's NOTIFY, in the writer's transaction) and `order`
(POST an order: announced by A after its commit). After each write B is polled (GET of the good,
a fresh read every 0.5 ms) until it shows the change; B's answer was read into its memory before
the write. Prints `catalogue_delay KIND n=N p50_ms=.. p99_ms=.. max_ms=..` per kind."""

import argparse
import http.client
import json
import os
import subprocess
import time
import urllib.parse
import uuid

PSQL = os.path.join(os.environ.get("PGBIN", "/usr/lib/postgresql/15/bin"), "psql")
POLL_S = 0.0005
GIVE_UP_S = 10.0


def psql(url, sql):
    return subprocess.run([PSQL, "-X", "-At", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql], check=True,
                          capture_output=True, text=True).stdout.strip()


class Client:
    """One keep-alive connection."""

    def __init__(self, base, token=None):
        u = urllib.parse.urlsplit(base)
        self.conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        self.token = token

    def call(self, method, path, body=None):
        headers = {"Content-Type": "application/json"} if body is not None else {}
        if self.token:
            headers["Authorization"] = "Bearer " + self.token
        self.conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        r = self.conn.getresponse()
        return r.status, r.read()


def staff_token(base, db):
    c = Client(base)
    email = "delay-%s@example.com" % uuid.uuid4().hex[:8]
    st, body = c.call("POST", "/api/v1/auth/register", {"email": email, "password": "Hourglass-1"})
    assert st in (200, 201), (st, body)
    psql(db, "UPDATE users SET role = 'staff' WHERE email = '%s'" % email)
    st, body = c.call("POST", "/api/v1/auth/login", {"email": email, "password": "Hourglass-1"})
    assert st == 200, (st, body)
    return json.loads(body)["access_token"]


def percentile(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--a", required=True)
    ap.add_argument("--b", required=True)
    ap.add_argument("--db", required=True)
    ap.add_argument("-n", type=int, default=200)
    args = ap.parse_args()
    token = staff_token(args.a, args.db)
    tag = uuid.uuid4().hex[:8]
    dt, good, variation = psql(args.db, """
        WITH d AS (INSERT INTO delivery_types (name) VALUES ('delay-%s') RETURNING id),
             c AS (INSERT INTO shop_categories (name) VALUES ('delay-%s') RETURNING id),
             m AS (INSERT INTO compositions (name) VALUES ('delay-%s') RETURNING id),
             g AS (INSERT INTO goods (name, article, category_id, composition_id, description, weight)
                   SELECT 'delay', 'delay-%s', c.id, m.id, 'x', 1 FROM c, m RETURNING id),
             v AS (INSERT INTO variations (good_id, name, price, amount) SELECT g.id, 'v', 1000, 1000000 FROM g
                   RETURNING id)
        SELECT (SELECT id FROM d) || ' ' || (SELECT id FROM g) || ' ' || (SELECT id FROM v)""" % ((tag,) * 4)).split()
    writer, reader = Client(args.a, token), Client(args.b)
    path = "/api/v1/shop/goods/%s" % good
    order = {"customer_name": "Delay", "phone_number": "+70000000000", "delivery_type_id": int(dt),
             "items": [{"variation_id": int(variation), "amount": 1, "current_price": 1000}]}

    def staff_write(i):
        st, _ = writer.call("PATCH", path, {"name": "delay %s %d" % (tag, i)})
        assert st == 200, st
        return lambda doc: doc["name"] == "delay %s %d" % (tag, i)

    def order_write(i):  # each takes one of the 1 000 000
        st, body = writer.call("POST", "/api/v1/shop/orders", order)
        assert st == 201, (st, body)
        return lambda doc: doc["variations"][0]["amount"] == 1000000 - (i + 1)

    for kind, write in (("staff", staff_write), ("order", order_write)):
        delays = []
        for i in range(args.n):
            reader.call("GET", path)  # in B's memory before the write
            reader.call("GET", path)
            seen = write(i)
            t0 = time.monotonic()
            while True:
                st, body = reader.call("GET", path)
                if st == 200 and seen(json.loads(body)):
                    break
                if time.monotonic() - t0 > GIVE_UP_S:
                    raise SystemExit("catalogue_delay %s: B still showed the old answer after %ss" % (kind, GIVE_UP_S))
                time.sleep(POLL_S)
            delays.append((time.monotonic() - t0) * 1000)
        print("catalogue_delay %s n=%d p50_ms=%.2f p99_ms=%.2f max_ms=%.2f"
              % (kind, len(delays), percentile(delays, 50), percentile(delays, 99), max(delays)))


if __name__ == "__main__":
    main()
