"""The public catalogue from memory (issue 17, API.md "Details that clients rely on"): every public shop
read carries a strong ETag and Cache-Control and answers 304 to a matching If-None-Match; each worker keeps
the public answers (CATALOGUE_CACHE_SIZE, 0 = off with the same bytes); every kind of write drops what it
changes before its 2xx on the instance that wrote, and on another instance within a second (NOTIFY); a
LISTEN that comes back drops everything; staff views are never kept or served to the public."""

import re
import time
import uuid

import pytest

import conftest
from conftest import http, metric_samples, metric_value, psql
from shop_helpers import (PNG_1X1, SHOP, Api, anon, dict_row, finish, good, multipart, ok, order_body,  # noqa: F401
                          plain, problem, serve, shop_env, srv, staff, uniq, variation)

PUBLIC = "public, max-age=0, must-revalidate"
IMMUTABLE = "public, max-age=31536000, immutable"
ETAG_RE = re.compile(r'^"[0-9a-f]{32,64}"$')
SECOND_INSTANCE_WITHIN_S = 1.0


@pytest.fixture(scope="module")
def other(srv):
    """A second instance on the same database, with one worker: its store is warmed for sure."""
    s = serve(shop_env(WORKERS="1"))
    yield s
    finish(s)


@pytest.fixture(scope="module")
def off(srv):
    """An instance that keeps nothing in memory."""
    s = serve(shop_env(CATALOGUE_CACHE_SIZE="0"))
    yield s
    finish(s)


def db_url_named(app):
    return conftest.DB_URL + ("&" if "?" in conftest.DB_URL else "?") + "application_name=" + app


def csv_body(text):
    return text.replace("\n", "\r\n").encode(), {"Content-Type": "text/csv"}


def ids(page):
    return [x["id"] for x in page["items"]]


def get(base, path, headers=None):
    return http("GET", base.url + path, headers=headers or {})


def cache_counts(server):
    samples = metric_samples(http("GET", server.url + "/metrics")[2].decode())
    return {k: metric_value(samples, "catalogue_cache_%s" % k) for k in
            ("hits_total", "misses_total", "evictions_total", "bytes")}


def shop_with_goods(staff, hidden=False, n=2):
    """A category of its own with n goods of two variations each and a picture on the first."""
    cat = dict_row(staff, "categories")["id"]
    goods = [good(staff, category_id=cat, is_visible=not hidden, external_id=uniq("1C-G")) for _ in range(n)]
    variations = [variation(staff, g["id"], external_id=uniq("1C-V"), amount=10, price=1000) for g in goods
                  for _ in range(2)]
    body, headers = multipart({"image": ("a.png", PNG_1X1, "image/png")}, {"good_id": goods[0]["id"]})
    image = ok(staff.post(SHOP + "/images", raw=body, headers=headers), 201)
    return cat, goods, variations, image


# --------------------------------------------------------------------------- HTTP caching

def test_public_reads_carry_a_strong_etag_and_answer_304(staff, anon):
    cat, goods, variations, image = shop_with_goods(staff)
    g, v = goods[0], variations[0]
    paths = [SHOP + "/colors", "%s/colors/%d" % (SHOP, v["color_id"]), SHOP + "/goods?category_id=%d" % cat,
             "%s/goods/%d" % (SHOP, g["id"]), "%s/goods/%d/variations" % (SHOP, g["id"]),
             SHOP + "/variations?good_id=%d" % g["id"], "%s/variations/%d" % (SHOP, v["id"])]
    for path in paths + [image["url"]]:
        st, h, body = get(anon.srv, path)
        assert st == 200, (path, st, body)
        etag = h.get("etag", "")
        assert ETAG_RE.match(etag), (path, h)
        assert h.get("cache-control") == (IMMUTABLE if path == image["url"] else PUBLIC), (path, h)
        for inm in (etag, "W/" + etag, '"stale", ' + etag, "*"):
            st, h2, body2 = get(anon.srv, path, {"If-None-Match": inm})
            assert st == 304 and body2 == b"" and h2.get("etag") == etag, (path, inm, st, h2)
        st, h3, body3 = get(anon.srv, path, {"If-None-Match": '"0123456789abcdef0123456789abcdef"'})
        assert st == 200 and body3 == body and h3.get("etag") == etag, (path, st)
        # the same bytes, the same tag
        assert get(anon.srv, path)[1].get("etag") == etag
    st, h, body = http("HEAD", anon.srv.url + paths[2])
    assert st == 200 and body == b"" and ETAG_RE.match(h.get("etag", "")), h


def test_a_write_gives_new_bytes_and_a_new_etag(staff, anon):
    cat, goods, _, _ = shop_with_goods(staff)
    path = SHOP + "/goods?category_id=%d" % cat
    st, h, before = get(anon.srv, path)
    ok(staff.patch("%s/goods/%d" % (SHOP, goods[1]["id"]), {"name": uniq("Новое")}))
    st, h2, after = get(anon.srv, path, {"If-None-Match": h["etag"]})
    assert st == 200 and after != before and h2["etag"] != h["etag"], (st, h2)


def test_answers_come_from_memory_under_one_key(srv, staff, anon):
    cat, _, _, _ = shop_with_goods(staff)
    time.sleep(0.5)  # the setup's own NOTIFYs come back and drop what they changed once more
    before = cache_counts(srv)
    # parameters in any order, defaults spelled out or not: one entry
    spellings = ["?category_id=%d" % cat, "?limit=50&category_id=%d" % cat, "?category_id=%d&limit=50" % cat,
                 "?category_id=%d&cursor=&limit=50" % cat, "?category_id=%d&utm_source=mail" % cat]
    bodies = {get(anon.srv, SHOP + "/goods" + q)[2] for q in spellings for _ in range(3)}
    assert len(bodies) == 1
    after = cache_counts(srv)
    # at most one miss per worker; the rest from memory
    assert after["misses_total"] - before["misses_total"] <= 2, (before, after)
    assert after["hits_total"] - before["hits_total"] >= 13, (before, after)
    assert after["bytes"] > 0
    # a broken query is answered as always, never kept
    problem(anon.get(SHOP + "/goods?category_id=%d&limit=0" % cat), 422)


# --------------------------------------------------------------------------- invalidation

def upload_image(staff, good_id):
    body, headers = multipart({"image": ("b.png", PNG_1X1, "image/png")}, {"good_id": good_id})
    return ok(staff.post(SHOP + "/images", raw=body, headers=headers), 201)


def write_kinds():
    """name -> (paths to read, the write): each write changes every path's answer."""
    def dictionary(staff, anon, cat, goods, variations, image):
        color = variations[0]["color_id"]
        # the page that starts with it (a cursor is positive: the first page has none)
        page = SHOP + ("/colors?cursor=%d" % (color - 1) if color > 1 else "/colors")
        paths = [page, "%s/colors/%d" % (SHOP, color)]
        return paths, lambda: ok(staff.patch("%s/colors/%d" % (SHOP, color), {"name": uniq("Цвет")}))

    def dictionary_create(staff, anon, cat, goods, variations, image):
        paths = [SHOP + "/sizes?cursor=%s" % psql("SELECT max(id) FROM sizes")]
        return paths, lambda: dict_row(staff, "sizes")

    def dictionary_delete(staff, anon, cat, goods, variations, image):
        row = dict_row(staff, "care")
        path = "%s/care/%d" % (SHOP, row["id"])
        return [path], lambda: staff.delete(path)

    def good_patch(staff, anon, cat, goods, variations, image):
        g = goods[0]
        paths = [SHOP + "/goods?category_id=%d" % cat, "%s/goods/%d" % (SHOP, g["id"])]
        return paths, lambda: ok(staff.patch("%s/goods/%d" % (SHOP, g["id"]), {"description": uniq("d")}))

    def good_hidden(staff, anon, cat, goods, variations, image):
        g, v = goods[0], variations[0]
        paths = [SHOP + "/goods?category_id=%d" % cat, "%s/goods/%d" % (SHOP, g["id"]),
                 "%s/variations/%d" % (SHOP, v["id"]), "%s/goods/%d/variations" % (SHOP, g["id"])]
        return paths, lambda: ok(staff.patch("%s/goods/%d" % (SHOP, g["id"]), {"is_visible": False}))

    def good_delete(staff, anon, cat, goods, variations, image):
        g = goods[0]
        paths = [SHOP + "/goods?category_id=%d" % cat, "%s/goods/%d" % (SHOP, g["id"]), image["url"]]
        return paths, lambda: staff.delete("%s/goods/%d" % (SHOP, g["id"]))

    def variation_patch(staff, anon, cat, goods, variations, image):
        v = variations[1]
        paths = [SHOP + "/goods?category_id=%d" % cat, "%s/variations/%d" % (SHOP, v["id"]),
                 SHOP + "/variations?good_id=%d" % v["good_id"]]
        return paths, lambda: ok(staff.patch("%s/variations/%d" % (SHOP, v["id"]), {"price": 1234}))

    def variation_create(staff, anon, cat, goods, variations, image):
        g = goods[1]
        paths = ["%s/goods/%d/variations" % (SHOP, g["id"]), "%s/goods/%d" % (SHOP, g["id"])]
        return paths, lambda: variation(staff, g["id"])

    def image_upload(staff, anon, cat, goods, variations, image):
        g = goods[1]
        paths = ["%s/goods/%d" % (SHOP, g["id"]), SHOP + "/goods?category_id=%d" % cat]
        return paths, lambda: upload_image(staff, g["id"])

    def image_delete(staff, anon, cat, goods, variations, image):
        paths = [image["url"], "%s/goods/%d" % (SHOP, goods[0]["id"])]
        return paths, lambda: staff.delete(image["url"])

    def stock_import(staff, anon, cat, goods, variations, image):
        v = variations[2]
        paths = [SHOP + "/goods?category_id=%d" % cat, "%s/variations/%d" % (SHOP, v["id"])]
        return paths, lambda: ok(staff.post(SHOP + "/variations/stock", [{"external_id": v["external_id"],
                                                                          "amount": 77}]))

    def stock_import_csv(staff, anon, cat, goods, variations, image):
        v = variations[3]
        paths = ["%s/goods/%d" % (SHOP, v["good_id"])]
        body, headers = csv_body("external_id;amount\n%s;3\n" % v["external_id"])
        return paths, lambda: ok(staff.post(SHOP + "/variations/stock", raw=body, headers=headers))

    def weights_import(staff, anon, cat, goods, variations, image):
        g = goods[1]
        paths = ["%s/goods/%d" % (SHOP, g["id"]), SHOP + "/goods?category_id=%d" % cat]
        body, headers = csv_body("external_id;weight\n%s;999\n" % g["external_id"])
        return paths, lambda: ok(staff.post(SHOP + "/goods/weights", raw=body, headers=headers))

    def order(staff, anon, cat, goods, variations, image):
        v = variations[0]
        paths = [SHOP + "/goods?category_id=%d" % cat, "%s/goods/%d" % (SHOP, v["good_id"]),
                 "%s/variations/%d" % (SHOP, v["id"]), "%s/goods/%d/variations" % (SHOP, v["good_id"])]
        return paths, lambda: ok(anon.post(SHOP + "/orders", order_body(staff, [(v, 2)])), 201)

    return {f.__name__: f for f in (dictionary, dictionary_create, dictionary_delete, good_patch, good_hidden,
                                    good_delete, variation_patch, variation_create, image_upload, image_delete,
                                    stock_import, stock_import_csv, weights_import, order)}


WRITES = write_kinds()


def answers(server, paths):
    out = []
    for p in paths:
        st, h, body = get(server, p)
        out.append((st, h.get("etag"), body))
    return out


@pytest.mark.parametrize("kind", sorted(WRITES))
def test_each_write_drops_what_it_changes(kind, srv, other, staff, anon):
    cat, goods, variations, image = shop_with_goods(staff)
    paths, write = WRITES[kind](staff, anon, cat, goods, variations, image)
    time.sleep(0.3)  # the setup's NOTIFYs have come and gone
    for server in (srv, other):  # several reads: each worker keeps its own
        old = answers(server, paths)
        for _ in range(3):
            assert answers(server, paths) == old
    hits = cache_counts(other)["hits_total"]
    assert answers(other, paths) == old and cache_counts(other)["hits_total"] == hits + len(paths)
    old = answers(srv, paths)
    write()
    # at once on the instance that wrote, whichever worker reads
    for _ in range(4):
        new = answers(srv, paths)
        for p, (st0, tag0, body0), (st1, tag1, body1) in zip(paths, old, new):
            assert body1 != body0 and (tag1 != tag0 or st1 != 200), (kind, p, st1, body1[:300])
    # within a second on the other
    deadline = time.monotonic() + SECOND_INSTANCE_WITHIN_S
    while True:
        seen = answers(other, paths)
        if seen == new:
            break
        assert time.monotonic() < deadline, (kind, [p for p, a, b in zip(paths, seen, new) if a != b])
        time.sleep(0.02)


def test_a_write_outside_the_server_reaches_it(srv, staff, anon):
    """psql is a writer too: the tables' triggers NOTIFY whoever keeps answers."""
    cat, goods, variations, _ = shop_with_goods(staff)
    path = "%s/goods/%d" % (SHOP, goods[0]["id"])
    before = [get(anon.srv, path)[2] for _ in range(3)][-1]
    psql("UPDATE variations SET amount = amount + 1 WHERE id = %d" % variations[0]["id"])
    deadline = time.monotonic() + SECOND_INSTANCE_WITHIN_S
    while get(anon.srv, path)[2] == before:
        assert time.monotonic() < deadline
        time.sleep(0.02)


def test_a_listen_that_comes_back_drops_everything(staff):
    app = "hg-cache-%s" % uuid.uuid4().hex[:6]
    s = serve(shop_env(DATABASE_URL=db_url_named(app), WORKERS="1"))  # one store: warmed for sure
    try:
        api = Api(s, None)
        cat, goods, variations, _ = shop_with_goods(staff)
        time.sleep(0.5)  # the setup's NOTIFYs have come and gone
        path = "%s/goods/%d" % (SHOP, goods[0]["id"])
        before = [get(s, path)[2] for _ in range(4)][-1]
        # a change that announces nothing (as an order's before its server announces it)
        psql("BEGIN; SELECT set_config('hourglass.catalogue_announced', 'on', true); "
             "UPDATE variations SET amount = amount + 5 WHERE id = %d; COMMIT" % variations[0]["id"])
        time.sleep(0.3)
        assert all(get(s, path)[2] == before for _ in range(4))  # kept: nobody said
        # every connection of the pool, the one that LISTENs among them
        killed = psql("SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE application_name = '%s' AND backend_type = 'client backend') t" % app)
        assert int(killed) >= 1
        deadline = time.monotonic() + 10
        while True:
            st, _, body = get(s, path)
            if st == 200 and body != before:
                break
            assert time.monotonic() < deadline, "the reconnected LISTEN did not drop the cache"
            time.sleep(0.1)
        assert ok(api.get(path))["variations"][0]["amount"] == variations[0]["amount"] + 5
    finally:
        finish(s)


# --------------------------------------------------------------------------- who sees what

def test_staff_views_are_never_kept_for_the_public(staff, anon, plain):
    cat, goods, variations, _ = shop_with_goods(staff, n=1)
    hidden = good(staff, category_id=cat, is_visible=False)
    hidden_v = variation(staff, hidden["id"])
    paths = [SHOP + "/goods?category_id=%d" % cat, SHOP + "/variations?good_id=%d" % hidden["id"]]
    # staff first: their answers show the hidden good and must not be kept
    for p in paths:
        r = staff.get(p)
        assert str(hidden["id"]).encode() in r.body, r
        assert r.headers.get("cache-control") == "private, no-cache", r.headers
    shown = [x["id"] for x in ok(anon.get(paths[0]))["items"]]
    assert shown == [goods[0]["id"]], shown
    for p in paths:
        for who in (anon, plain):
            for _ in range(3):
                page = ok(who.get(p))
                assert hidden["id"] not in ids(page) and hidden_v["id"] not in ids(page), (p, page)
    # the public first: staff still see what only they see
    for p in paths + ["%s/goods/%d" % (SHOP, hidden["id"]), "%s/variations/%d" % (SHOP, hidden_v["id"])]:
        for _ in range(3):
            anon.get(p)
        assert ok(staff.get(p)) and str(hidden["id"]).encode() in staff.get(p).body, p
    problem(anon.get("%s/goods/%d" % (SHOP, hidden["id"])), 404)


def test_without_the_cache_the_bytes_are_the_same(srv, off, staff, anon):
    cat, goods, variations, image = shop_with_goods(staff)
    paths = [SHOP + "/goods?category_id=%d" % cat, SHOP + "/goods?category_id=%d&limit=1" % cat,
             "%s/goods/%d" % (SHOP, goods[0]["id"]), "%s/goods/%d/variations" % (SHOP, goods[1]["id"]),
             "%s/variations/%d" % (SHOP, variations[0]["id"]), SHOP + "/variations?good_id=%d" % goods[0]["id"],
             SHOP + "/sizes", "%s/sizes/%d" % (SHOP, variations[0]["size_id"]), image["url"],
             "%s/goods/%d" % (SHOP, 9000000000000000000)]
    before = cache_counts(off)
    for p in paths:
        kept = [get(srv, p) for _ in range(3)][-1]
        plain_read = get(off, p)
        assert kept[0] == plain_read[0] and kept[2] == plain_read[2], p
        for h in ("etag", "cache-control", "content-type"):
            assert kept[1].get(h) == plain_read[1].get(h), (p, h)
        if plain_read[0] == 200:
            assert get(off, p, {"If-None-Match": plain_read[1]["etag"]})[0] == 304
    after = cache_counts(off)
    assert after == before and after["bytes"] == 0, after


def test_the_bound_holds_with_many_distinct_queries(staff):
    limit = 64 * 1024
    s = serve(shop_env(CATALOGUE_CACHE_SIZE="64k", WORKERS="1"))
    try:
        cat, _, _, _ = shop_with_goods(staff, n=6)

        def page(i):  # 300 distinct queries, answers of up to 6 goods
            return SHOP + "/goods?category_id=%d&limit=%d%s" % (cat, 1 + i % 200, "&cursor=1" if i >= 200 else "")
        for i in range(300):
            assert get(s, page(i))[0] == 200
            if i % 50 == 0:
                assert cache_counts(s)["bytes"] <= limit
        counts = cache_counts(s)
        assert 0 < counts["bytes"] <= limit and counts["evictions_total"] > 0, counts
        # the most recent answer is still there, the first long gone
        h0, m0 = cache_counts(s)["hits_total"], cache_counts(s)["misses_total"]
        get(s, page(299))
        assert cache_counts(s)["hits_total"] == h0 + 1
        get(s, page(0))
        assert cache_counts(s)["misses_total"] == m0 + 1
    finally:
        finish(s)
