"""Background music: GET /api/v1/music for premium users and admins, CRUD at /api/v1/admin/music.

Tracks are global (not owned by a user). Premium is granted through the admin's user API, and
takes effect at once (it is read from the account, not from the token)."""

import json
import urllib.parse

import pytest

from conftest import psql
from planning_helpers import (Api, PASSWORD, assert_errors, new_api, ok, problem,  # noqa: F401
                              srv)

TRACK_KEYS = {"id", "title", "url", "duration_seconds"}
MISSING_ID = 9000000000000000000


def login(srv, email):
    r = Api(srv).post("/api/v1/auth/login", {"email": email, "password": PASSWORD})
    return ok(r)["access_token"]


@pytest.fixture(scope="module")
def admin(srv):
    api = new_api(srv)
    psql("UPDATE users SET role = 'admin' WHERE id = %d" % api.user["id"])
    api.token = login(srv, api.user["email"])  # the role travels in the token: log in again
    return api


def make_premium(admin, api, premium=True):
    ok(admin.patch("/api/v1/admin/users/%d" % api.user["id"], {"is_premium": premium}))


def track(admin, **over):
    body = {"title": "Rain on a window", "url": "https://cdn.example/rain.mp3", "duration_seconds": 300}
    body.update(over)
    return ok(admin.post("/api/v1/admin/music", body), 201)


def page(api, path="/api/v1/music", **params):
    return ok(api.get(path + ("?" + urllib.parse.urlencode(params) if params else "")))


def all_tracks(api, limit=None):
    out, cursor = [], None
    while True:
        params = {}
        if limit:
            params["limit"] = limit
        if cursor:
            params["cursor"] = cursor
        p = page(api, **params)
        assert set(p) == {"items", "next_cursor"}, p
        out += p["items"]
        cursor = p["next_cursor"]
        if cursor is None:
            return out


# --------------------------------------------------------------------------- who may listen

def test_requires_a_token(srv):
    anon = Api(srv)
    problem(anon.get("/api/v1/music"), 401)
    problem(anon.get("/api/v1/admin/music"), 401)
    problem(anon.post("/api/v1/admin/music", {"title": "x", "url": "y"}), 401)
    problem(anon.get("/api/v1/admin/music/1"), 401)


def test_premium_required(srv):
    api = new_api(srv)
    doc = problem(api.get("/api/v1/music"), 403, "premium_required")
    assert doc["detail"] and not any("\u0400" <= ch <= "\u04ff" for ch in doc["detail"])
    doc = problem(api.get("/api/v1/music", headers={"Accept-Language": "ru"}), 403, "premium_required")
    assert any("\u0400" <= ch <= "\u04ff" for ch in doc["detail"]), doc


def test_premium_user_lists_tracks(srv, admin):
    made = track(admin, title="Forest")
    api = new_api(srv)
    make_premium(admin, api)
    items = all_tracks(api)
    mine = [t for t in items if t["id"] == made["id"]]
    assert len(mine) == 1
    for t in items:
        assert TRACK_KEYS <= set(t), t
    assert {k: mine[0][k] for k in TRACK_KEYS} == {"id": made["id"], "title": "Forest",
                                                   "url": "https://cdn.example/rain.mp3", "duration_seconds": 300}
    # taken away: refused at once, with the same token
    make_premium(admin, api, False)
    problem(api.get("/api/v1/music"), 403, "premium_required")


def test_admin_lists_without_premium(srv, admin):
    track(admin)
    assert page(admin)["items"]


def test_staff_is_not_premium(srv, admin):
    api = new_api(srv)
    ok(admin.patch("/api/v1/admin/users/%d" % api.user["id"], {"role": "staff"}))
    api.token = login(srv, api.user["email"])
    problem(api.get("/api/v1/music"), 403, "premium_required")


def test_pages_in_id_order(srv, admin):
    for i in range(5):
        track(admin, title="Page %d" % i)
    api = new_api(srv)
    make_premium(admin, api)
    everything = all_tracks(api)
    by_two = all_tracks(api, limit=2)
    assert by_two == everything
    ids = [t["id"] for t in everything]
    assert ids == sorted(ids) and len(ids) >= 5
    first = page(api, limit=2)
    assert len(first["items"]) == 2 and isinstance(first["next_cursor"], str)
    assert_errors(api.get("/api/v1/music?limit=0"), [("limit", "too_small")])
    assert_errors(api.get("/api/v1/music?limit=201"), [("limit", "too_large")])
    assert_errors(api.get("/api/v1/music?cursor=abc"), [("cursor", "invalid_format")])


def test_page_errors_need_premium_first(srv):
    api = new_api(srv)
    problem(api.get("/api/v1/music?limit=0"), 403, "premium_required")


# --------------------------------------------------------------------------- admin CRUD

def test_admin_crud(srv, admin):
    r = admin.post("/api/v1/admin/music", {"title": "Waves", "url": "https://cdn.example/waves.ogg"})
    made = ok(r, 201)
    assert r.headers.get("location") == "/api/v1/admin/music/%d" % made["id"]
    assert made["title"] == "Waves" and made["duration_seconds"] is None
    assert "user_id" not in made
    path = "/api/v1/admin/music/%d" % made["id"]
    assert ok(admin.get(path)) == made
    patched = ok(admin.patch(path, {"duration_seconds": 95}))
    assert patched["duration_seconds"] == 95 and patched["title"] == "Waves"
    assert ok(admin.patch(path, {})) == patched
    put = ok(admin.put(path, {"title": "Waves (long)", "url": "https://cdn.example/waves-long.ogg"}))
    assert put["title"] == "Waves (long)" and put["duration_seconds"] is None
    assert_errors(admin.put(path, {"title": "no url"}), [("url", "required")])
    listed = [t for t in page(admin, "/api/v1/admin/music", limit=200)["items"] if t["id"] == made["id"]]
    assert listed == [put]
    assert admin.delete(path).status == 204
    problem(admin.get(path), 404, "not_found")
    problem(admin.delete(path), 404, "not_found")
    problem(admin.patch(path, {"title": "x"}), 404, "not_found")


def test_admin_validation(srv, admin):
    assert_errors(admin.post("/api/v1/admin/music", {}), [("title", "required"), ("url", "required")])
    assert_errors(admin.post("/api/v1/admin/music", {"title": "", "url": "u" * 2001, "duration_seconds": 0,
                                                     "artist": "x"}),
                  [("title", "too_short"), ("url", "too_long"), ("duration_seconds", "too_small"),
                   ("artist", "unknown_field")])
    assert_errors(admin.post("/api/v1/admin/music", {"title": "t" * 201, "url": "x", "duration_seconds": "5"}),
                  [("title", "too_long"), ("duration_seconds", "wrong_type")])
    assert_errors(admin.post("/api/v1/admin/music", {"title": "t", "url": "x", "duration_seconds": 86401}),
                  [("duration_seconds", "too_large")])
    # a title counts characters, not bytes
    ok(admin.post("/api/v1/admin/music", {"title": "Дождь" * 40, "url": "x"}), 201)
    problem(admin.get("/api/v1/admin/music/%d" % MISSING_ID), 404, "not_found")
    problem(admin.get("/api/v1/admin/music/abc"), 404, "not_found")


def test_admin_routes_refuse_others(srv, admin):
    made = track(admin)
    path = "/api/v1/admin/music/%d" % made["id"]
    api = new_api(srv)
    make_premium(admin, api)  # premium listens, but does not manage
    problem(api.get("/api/v1/admin/music"), 403, "forbidden")
    problem(api.post("/api/v1/admin/music", {"title": "x", "url": "y"}), 403, "forbidden")
    problem(api.get(path), 403, "forbidden")
    problem(api.patch(path, {"title": "mine now"}), 403, "forbidden")
    problem(api.delete(path), 403, "forbidden")
    assert ok(admin.get(path)) == made


def test_tracks_are_not_owned(srv, admin):
    """Another admin sees and changes the same tracks."""
    made = track(admin, title="Shared")
    second = new_api(srv)
    psql("UPDATE users SET role = 'admin' WHERE id = %d" % second.user["id"])
    second.token = login(srv, second.user["email"])
    path = "/api/v1/admin/music/%d" % made["id"]
    assert ok(second.get(path))["title"] == "Shared"
    assert ok(second.patch(path, {"title": "Shared, renamed"}))["title"] == "Shared, renamed"
    assert ok(admin.get(path))["title"] == "Shared, renamed"


def test_methods(srv, admin):
    r = admin.req("DELETE", "/api/v1/music")
    assert r.status == 405, r
    assert "GET" in r.headers.get("allow", ""), r.headers
    r = admin.req("POST", "/api/v1/music", {"title": "x"})
    assert r.status == 405, r
    json.loads(r.body)
