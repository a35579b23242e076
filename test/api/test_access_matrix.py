"""Access control of every route, from the server's own route list, not from a hand list.

/openapi.json is built from the route tables (the server refuses to start when a route is missing
from it), and each operation says who may call it in `x-hourglass-access`, derived from the route
flags the server checks. For every operation:

  * anonymous -> 401 on every route that is not public;
  * a plain user -> 403 on staff and admin routes, a staff user -> 403 on admin routes;
  * every path that names an owner-scoped object (a path parameter of an owner-scoped resource):
    made by user A and tried by user B -> 404 for GET/PUT/PATCH/DELETE, and for the nested
    collection under it (GET and POST), while A still sees it.

A new route the matrix cannot classify fails the test: an unknown access value, or a path pattern
with parameters that is in neither OWNED (how to make one as a user) nor NOT_OWNED (why no owner)."""

import json

import pytest

from conftest import http, psql
from planning_helpers import NOBODY, PASSWORD, RES, Api, make, new_api, srv  # noqa: F401  (srv: fixture)

METHODS = ("get", "head", "post", "put", "patch", "delete")
ACCESS = ("public", "user", "staff", "admin")  # what the matrix knows how to test


def _session_of(api):
    r = api.get("/api/v1/auth/sessions")
    assert r.status == 200, r
    doc = r.json()
    items = doc["items"] if isinstance(doc, dict) else doc
    return next(s["id"] for s in items if s["current"])


def _item(key):
    return lambda api: make(api, RES[key])[0]["id"]


# Path pattern -> how user A makes an object whose id fills the pattern's parameter, and the
# resource key whose bodies PUT and POST send (None: no body is needed).
OWNED = {
    "/api/v1/auth/sessions/{id}": (_session_of, None),
    "/api/v1/lists/{id}": (_item("lists"), "lists"),
    "/api/v1/tasks/{id}": (_item("tasks"), "tasks"),
    "/api/v1/balance-wheel/{id}": (_item("balance_wheel"), "balance_wheel"),
    "/api/v1/kanban/columns/{id}": (_item("kanban_columns"), "kanban_columns"),
    "/api/v1/kanban/cards/{id}": (_item("kanban_cards"), "kanban_cards"),
    "/api/v1/kanban/cards/{card_id}/items": (_item("kanban_cards"), "kanban_items"),
    "/api/v1/kanban/items/{id}": (_item("kanban_items"), "kanban_items"),
    "/api/v1/gantt/tasks/{id}": (_item("gantt_tasks"), "gantt_tasks"),
    "/api/v1/gantt/tasks/{task_id}/durations": (_item("gantt_tasks"), "gantt_durations"),
    "/api/v1/gantt/durations/{id}": (_item("gantt_durations"), "gantt_durations"),
    "/api/v1/planner/entries/{id}": (_item("planner_entries"), "planner_entries"),
    "/api/v1/categories/{id}": (_item("categories"), "categories"),
    "/api/v1/pomodoro/presets/{id}": (_item("pomodoro_presets"), "pomodoro_presets"),
    "/api/v1/pomodoros/{id}": (_item("pomodoros"), "pomodoros"),
}

# Path patterns with parameters that name nothing owned by the caller, and why.
NOT_OWNED = {
    "/api/v1/users/{id}": "public profiles: anyone's",
    "/api/v1/users/{id}/avatar": "public profiles: anyone's",
    "/api/v1/admin/users/{id}": "admin: every user",
    "/api/v1/admin/music/{id}": "the admin's music is global (no owner)",
    "/api/v1/messages/{user_id}": "a peer's id: the conversation is always the caller's own with them (test_messages)",
    "/api/v1/messages/{user_id}/read": "a peer's id: marks only messages to the caller (test_messages)",
    # The shop's catalogue is one for everybody: public reads, staff writes (the staff/admin
    # rows of this matrix check the writes; test_shop_catalogue the rest).
    **{"/api/v1/shop/%s/{id}" % name: "the shop's catalogue is global: public reads, staff writes"
       for name in ("materials", "categories", "compositions", "care", "sizes", "colors", "order-statuses",
                    "delivery-types", "goods", "variations", "images")},
    "/api/v1/shop/goods/{id}/variations": "the shop's catalogue is global: public reads, staff writes",
    "/docs/assets/{name}": "static documentation files",
}


def operations(doc):
    for pattern, item in doc["paths"].items():
        for method, op in item.items():
            if method in METHODS:
                yield pattern, method, op


def fill(pattern, value="1"):
    """The pattern with every parameter set to value."""
    out, i = "", 0
    while i < len(pattern):
        if pattern[i] == "{":
            j = pattern.index("}", i)
            out += str(value)
            i = j + 1
        else:
            out += pattern[i]
            i += 1
    return out


def call(srv, method, path, token=None, body=NOBODY):
    h = {}
    if token:
        h["Authorization"] = "Bearer " + token
    data = None
    if body is not NOBODY:
        data = json.dumps(body).encode()
        h["Content-Type"] = "application/json"
    elif method in ("post", "put", "patch"):
        data = b"{}"
        h["Content-Type"] = "application/json"
    st, _, out = http(method.upper(), srv.url + path, headers=h, body=data)
    return st, out


def with_role(srv, role):
    api = new_api(srv)
    psql("UPDATE users SET role = '%s' WHERE id = %d" % (role, api.user["id"]))
    # the role travels in the token: log in again
    st, _, out = http("POST", srv.url + "/api/v1/auth/login", headers={"Content-Type": "application/json"},
                      body=json.dumps({"email": api.user["email"], "password": PASSWORD}).encode())
    assert st == 200, out
    api.token = json.loads(out)["access_token"]
    return api


@pytest.fixture(scope="module")
def doc(srv):
    st, _, out = http("GET", srv.url + "/openapi.json")
    assert st == 200
    return json.loads(out)


def test_every_route_is_classified(doc):
    problems = []
    seen = set()
    for pattern, method, op in operations(doc):
        access = op.get("x-hourglass-access")
        if access not in ACCESS:
            problems.append("%s %s: x-hourglass-access %r is not one the matrix tests (%s)"
                            % (method.upper(), pattern, access, "|".join(ACCESS)))
        if "{" in pattern and pattern not in OWNED and pattern not in NOT_OWNED:
            problems.append("%s %s: a path parameter the matrix cannot make an id for: add the pattern to "
                            "OWNED (how a user creates one) or NOT_OWNED (why it has no owner)"
                            % (method.upper(), pattern))
        seen.add(pattern)
    stale = sorted((set(OWNED) | set(NOT_OWNED)) - seen)
    assert not stale, "patterns in the matrix that no route has any more: %s" % stale
    assert not problems, "\n".join(problems)
    # the matrix is not vacuous: each kind of route exists
    kinds = {op.get("x-hourglass-access") for _, _, op in operations(doc)}
    assert {"public", "user", "admin"} <= kinds, kinds


def test_anonymous_gets_401_on_every_route_that_is_not_public(srv, doc):
    bad, checked = [], 0
    for pattern, method, op in operations(doc):
        if op.get("x-hourglass-access") == "public":
            continue
        st, out = call(srv, method, fill(pattern))
        checked += 1
        if st != 401:
            bad.append("%s %s: %s %r" % (method.upper(), pattern, st, out[:200]))
    assert checked > 50, checked
    assert not bad, "anonymous was not refused:\n" + "\n".join(bad)


def test_roles_below_the_route_get_403(srv, doc):
    plain, staff, admin = new_api(srv), with_role(srv, "staff"), with_role(srv, "admin")
    bad, checked = [], 0
    for pattern, method, op in operations(doc):
        access = op.get("x-hourglass-access")
        lower = {"staff": [plain], "admin": [plain, staff]}.get(access, [])
        for api in lower:
            st, out = call(srv, method, fill(pattern), api.token)
            checked += 1
            if st != 403:
                bad.append("%s %s as %s: %s %r" % (method.upper(), pattern, api.user["email"], st, out[:200]))
        # the role the route asks for gets past the check (reads only: no side effects)
        if access in ("staff", "admin") and method == "get":
            st, out = call(srv, method, fill(pattern), admin.token)
            if st in (401, 403):
                bad.append("GET %s as admin: %s %r" % (pattern, st, out[:200]))
    assert checked > 0
    assert not bad, "\n".join(bad)


def _nested(pattern):
    """Is pattern a collection under a parent (its parameter is the parent's id)?"""
    return not pattern.endswith("}")


def test_another_users_objects_answer_404(srv, doc):
    a, b = new_api(srv), new_api(srv)
    by_pattern = {}
    for pattern, method, op in operations(doc):
        if pattern in OWNED:
            assert op.get("x-hourglass-access") == "user", (method, pattern, op.get("x-hourglass-access"))
            by_pattern.setdefault(pattern, []).append(method)
    assert set(by_pattern) == set(OWNED)
    bad, checked = [], 0
    for pattern, methods in by_pattern.items():
        make_one, res_key = OWNED[pattern]
        # deletes last: the other calls need the object
        for method in sorted(methods, key=lambda m: m == "delete"):
            obj_id = make_one(a)
            path = fill(pattern, obj_id)
            body = NOBODY
            if res_key and method == "put":
                body = RES[res_key].full(b)
            elif res_key and method == "post":
                body = RES[res_key].minimal(b)
            elif method == "patch":
                body = {}
            st, out = call(srv, method, path, b.token, body)
            checked += 1
            if st != 404:
                bad.append("%s %s with A's id as B: %s %r" % (method.upper(), pattern, st, out[:200]))
            if method == "head":
                continue
            # A still sees it as it was: B's call neither answered nor changed anything
            if not _nested(pattern) and "get" in methods:
                st, out = call(srv, "get", path, a.token)
                if st != 200:
                    bad.append("GET %s as A after B's %s: %s %r" % (pattern, method.upper(), st, out[:200]))
            elif pattern == "/api/v1/auth/sessions/{id}":
                if obj_id != _session_of(a):
                    bad.append("A's session changed after B's %s" % method.upper())
    assert checked == sum(map(len, by_pattern.values())) and checked >= 50, checked
    assert not bad, "\n".join(bad)
