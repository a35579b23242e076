"""Shared pieces of the planning-tool tests (test_planning_*.py): one server per module, users,
a small client, problem checks, and the resources of API.md's "Planning tools" table written
down as data (fields, required, defaults, bounds, references, parents).

Written from API.md and the lead's decisions, not from the server code."""

import calendar
import json
import re
import time
import urllib.parse
import uuid

import pytest

from conftest import http, start_server

PASSWORD = "Corr3ct-horse"
ORIGIN = "http://app.example"
MISSING_ID = 9000000000000000000  # a valid 64-bit id that no row has
TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
DATE_RE = re.compile(r"^\d{4}-\d\d-\d\d$")
BAD_PATH_IDS = ["0", "abc", "-1", "1.5", "99999999999999999999", "1x"]

NOBODY = object()


def uniq(prefix="x"):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:10])


# --------------------------------------------------------------------------- server

@pytest.fixture(scope="module")
def srv():
    s = start_server({
        "CLIENT_ORIGIN": ORIGIN,
        "JWT_SECRET": "test-secret-0123456789abcdef-planning",
        "PASSWORD_HASH_COST": "min",
        "AUTH_REQUIRE_VERIFIED_EMAIL": "false",
        "LOGIN_IP_LIMIT": 1000000,  # every login comes from 127.0.0.1
    })
    s.wait_db_ready()
    yield s
    probs = s.finish()
    if probs:
        pytest.fail("\n".join(probs))


# --------------------------------------------------------------------------- client

class Resp:
    def __init__(self, method, path, sent, status, headers, body):
        self.method, self.path, self.sent = method, path, sent
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def __repr__(self):
        return "<%s %s %r -> %s %r>" % (self.method, self.path, self.sent, self.status, self.body[:600])


class Api:
    """A user's session: api.get(path), api.post(path, body), ... return Resp."""

    def __init__(self, srv, token=None, user=None):
        self.srv, self.token, self.user = srv, token, user

    def req(self, method, path, body=NOBODY, raw=None, headers=None, token="default", ascii_json=False):
        h = {}
        tok = self.token if token == "default" else token
        if tok:
            h["Authorization"] = "Bearer " + tok
        data = raw
        if body is not NOBODY:
            data = json.dumps(body, ensure_ascii=ascii_json).encode("utf-8")
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        st, hdrs, out = http(method, self.srv.url + path, headers=h, body=data)
        return Resp(method, path, body if body is not NOBODY else raw, st, hdrs, out)

    def get(self, path, **kw):
        return self.req("GET", path, **kw)

    def post(self, path, body=NOBODY, **kw):
        return self.req("POST", path, body, **kw)

    def patch(self, path, body=NOBODY, **kw):
        return self.req("PATCH", path, body, **kw)

    def put(self, path, body=NOBODY, **kw):
        return self.req("PUT", path, body, **kw)

    def delete(self, path, **kw):
        return self.req("DELETE", path, **kw)

    # -- resources
    def create(self, key, body=None, parent=None, **over):
        """POST a valid body (the resource's minimal one unless given) and return the object."""
        res = RES[key]
        if res.parent and parent is None:
            parent = self.create(res.parent)["id"]
        b = dict(res.minimal(self) if body is None else body)
        b.update(over)
        r = self.post(res.coll(parent), b)
        assert r.status == 201, r
        return r.json()

    def fetch(self, key, obj_id):
        r = self.get(RES[key].item_path(obj_id))
        assert r.status == 200, r
        return r.json()

    def gone(self, key, obj_id):
        r = self.get(RES[key].item_path(obj_id))
        return r.status == 404

    def list_all(self, path, params=None, limit=None):
        """Every item of a collection, following next_cursor."""
        out = []
        cursor = None
        for _ in range(1000):
            q = dict(params or {})
            if limit:
                q["limit"] = limit
            if cursor:
                q["cursor"] = cursor
            r = self.get(path + ("?" + urllib.parse.urlencode(q) if q else ""))
            page = ok(r)
            assert set(page) == {"items", "next_cursor"}, page
            out += page["items"]
            cursor = page["next_cursor"]
            if cursor is None:
                return out
            assert isinstance(cursor, str) and cursor, page
        raise AssertionError("the cursor never ends")

    def ids(self, path, params=None):
        return [o["id"] for o in self.list_all(path, params)]


def new_api(srv):
    """A freshly registered and logged-in user."""
    addr = uniq("plan") + "@example.com"
    st, _, body = http("POST", srv.url + "/api/v1/auth/register", headers={"Content-Type": "application/json"},
                       body=json.dumps({"email": addr, "password": PASSWORD}).encode())
    assert st == 201, (st, body)
    user = json.loads(body)
    st, _, body = http("POST", srv.url + "/api/v1/auth/login", headers={"Content-Type": "application/json"},
                       body=json.dumps({"email": addr, "password": PASSWORD}).encode())
    assert st == 200, (st, body)
    return Api(srv, json.loads(body)["access_token"], user)


@pytest.fixture(scope="module")
def user(srv):
    return new_api(srv)


@pytest.fixture(scope="module")
def other(srv):
    return new_api(srv)


@pytest.fixture
def fresh(srv):
    """A user of one's own, with nothing in any collection."""
    return new_api(srv)


@pytest.fixture(scope="module")
def anon(srv):
    return Api(srv, None)


# --------------------------------------------------------------------------- answers

def ok(r, status=200):
    assert r.status == status, r
    assert r.headers.get("content-type", "").split(";")[0].strip() == "application/json", r.headers
    return r.json()


def problem(r, status, code=None):
    assert r.status == status, r
    assert r.headers.get("content-type", "").split(";")[0].strip() == "application/problem+json", (r, r.headers)
    doc = r.json()
    assert doc.get("status") == status, doc
    if code is not None:
        assert doc.get("code") == code, (r, doc)
    return doc


def field_errors(r):
    """The [(field, code)] of a 422 validation_failed answer."""
    doc = problem(r, 422, "validation_failed")
    errs = doc.get("errors")
    assert isinstance(errs, list) and errs, doc
    for e in errs:
        assert isinstance(e.get("field"), str) and isinstance(e.get("code"), str), doc
        assert isinstance(e.get("message"), str) and e["message"], doc
    return [(e["field"], e["code"]) for e in errs]


def assert_errors(r, expected):
    """422 validation_failed whose errors are exactly the (field, code) pairs expected."""
    got = field_errors(r)
    assert sorted(got) == sorted(set(expected)), (r, got)


def is_not_found(r):
    problem(r, 404, "not_found")


def same_but_updated(a, b):
    """Objects equal except for updated_at."""
    a = {k: v for k, v in a.items() if k != "updated_at"}
    b = {k: v for k, v in b.items() if k != "updated_at"}
    return a == b


def check_timestamps(obj):
    for k in ("created_at", "updated_at"):
        assert isinstance(obj.get(k), str) and TIME_RE.match(obj[k]), (k, obj)
    assert obj["updated_at"] >= obj["created_at"], obj
    made = calendar.timegm(time.strptime(obj["created_at"], "%Y-%m-%dT%H:%M:%SZ"))
    assert abs(made - time.time()) < 600, obj


# --------------------------------------------------------------------------- resources

class F:
    """A field of a resource as API.md (and the lead's decisions) describe it.

    kind: str, int, bool, date, datetime, enum, color, id. A field that is not required and
    has no default is nullable (default null)."""

    def __init__(self, name, kind, required=False, default=None, min=None, max=None, choices=None, ref=None,
                 unique=False):
        self.name, self.kind, self.required, self.default = name, kind, required, default
        self.min, self.max, self.choices, self.ref, self.unique = min, max, choices, ref, unique
        self.nullable = not required and default is None

    def __repr__(self):
        return self.name


class Res:
    def __init__(self, key, collection, item, fields, minimal, full, parent=None, parent_key=None):
        self.key, self.collection, self.item = key, collection, item
        self.fields = fields
        self.minimal, self.full = minimal, full
        self.parent, self.parent_key = parent, parent_key

    def __repr__(self):
        return self.key

    def coll(self, parent=None):
        if self.parent:
            assert parent is not None
            return self.collection.format(parent=parent)
        return self.collection

    def item_path(self, obj_id):
        return self.item.format(id=obj_id)

    def field(self, name):
        return next(f for f in self.fields if f.name == name)

    def keys(self):
        k = {"id", "created_at", "updated_at"} | {f.name for f in self.fields}
        if self.parent_key:
            k.add(self.parent_key)
        return k

    def expected(self, body, parent=None):
        """The object a create or PUT with body answers (apart from id and the times)."""
        out = {}
        for f in self.fields:
            out[f.name] = body[f.name] if f.name in body else f.default
        if self.parent_key:
            out[self.parent_key] = parent
        return out


def _cid(api, key):
    return api.create(key)["id"]


TASK_STATUS = ["todo", "in_progress", "done"]
POMODORO_KIND = ["focus", "short_break", "long_break"]

RES = {}


def _add(res):
    RES[res.key] = res


_add(Res("lists", "/api/v1/lists", "/api/v1/lists/{id}",
         [F("name", "str", True, min=1, max=200)],
         lambda api: {"name": uniq("list")},
         lambda api, alt=False: {"name": uniq("list-alt" if alt else "list-full")}))

_add(Res("tasks", "/api/v1/tasks", "/api/v1/tasks/{id}",
         [F("title", "str", True, min=1, max=200),
          F("description", "str", max=10000),
          F("status", "enum", default="todo", choices=TASK_STATUS),
          F("priority", "int", default=0, min=0, max=3),
          F("due_date", "date"),
          F("list_id", "id", ref="lists"),
          F("category_id", "id", ref="categories")],
         lambda api: {"title": uniq("task")},
         lambda api, alt=False: {"title": uniq("task-full"), "description": uniq("описание"),
                                 "status": "done" if alt else "in_progress", "priority": 3 if alt else 2,
                                 "due_date": "2026-05-06" if alt else "2026-04-05",
                                 "list_id": _cid(api, "lists"), "category_id": _cid(api, "categories")}))

_add(Res("balance_wheel", "/api/v1/balance-wheel", "/api/v1/balance-wheel/{id}",
         [F("sphere", "str", True, min=1, max=100, unique=True),
          F("value", "int", True, min=0, max=10),
          F("color", "color")],
         lambda api: {"sphere": uniq("sphere"), "value": 5},
         lambda api, alt=False: {"sphere": uniq("sphere-full"), "value": 10 if alt else 9,
                                 "color": "#0a0b0c" if alt else "#12ab3f"}))

_add(Res("kanban_columns", "/api/v1/kanban/columns", "/api/v1/kanban/columns/{id}",
         [F("title", "str", True, unique=True),
          F("position", "int", default=0)],
         lambda api: {"title": uniq("column")},
         lambda api, alt=False: {"title": uniq("column-full"), "position": 7 if alt else 3}))

_add(Res("kanban_cards", "/api/v1/kanban/cards", "/api/v1/kanban/cards/{id}",
         [F("column_id", "id", True, ref="kanban_columns"),
          F("title", "str", True),
          F("description", "str"),
          F("position", "int", default=0),
          F("color", "color")],
         lambda api: {"column_id": _cid(api, "kanban_columns"), "title": uniq("card")},
         lambda api, alt=False: {"column_id": _cid(api, "kanban_columns"), "title": uniq("card-full"),
                                 "description": uniq("card description"), "position": 5 if alt else 4,
                                 "color": "#ffeedd" if alt else "#abcdef"}))

_add(Res("kanban_items", "/api/v1/kanban/cards/{parent}/items", "/api/v1/kanban/items/{id}",
         [F("text", "str", True, min=1, max=2000),
          F("done", "bool", default=False),
          F("position", "int", default=0)],
         lambda api: {"text": uniq("item")},
         lambda api, alt=False: {"text": uniq("item-full"), "done": not alt, "position": 8 if alt else 2},
         parent="kanban_cards", parent_key="card_id"))

_add(Res("gantt_tasks", "/api/v1/gantt/tasks", "/api/v1/gantt/tasks/{id}",
         [F("title", "str", True),
          F("description", "str"),
          F("color", "color"),
          F("progress", "int", default=0, min=0, max=100)],
         lambda api: {"title": uniq("gantt")},
         lambda api, alt=False: {"title": uniq("gantt-full"), "description": uniq("gantt description"),
                                 "color": "#00ff00" if alt else "#336699", "progress": 100 if alt else 40}))

_add(Res("gantt_durations", "/api/v1/gantt/tasks/{parent}/durations", "/api/v1/gantt/durations/{id}",
         [F("start_date", "date", True),
          F("end_date", "date", True)],
         lambda api: {"start_date": "2026-03-01", "end_date": "2026-03-05"},
         # alt widens the range on both sides, so either bound may be patched alone
         lambda api, alt=False: ({"start_date": "2026-02-20", "end_date": "2026-03-20"} if alt
                                 else {"start_date": "2026-03-02", "end_date": "2026-03-04"}),
         parent="gantt_tasks", parent_key="task_id"))

_add(Res("planner_entries", "/api/v1/planner/entries", "/api/v1/planner/entries/{id}",
         [F("title", "str", True, min=1, max=2000),
          F("start", "datetime", True),
          F("end", "datetime", True),
          F("color", "color"),
          F("done", "bool", default=False)],
         lambda api: {"title": uniq("entry"), "start": "2026-03-01T09:00:00Z", "end": "2026-03-01T10:00:00Z"},
         lambda api, alt=False: ({"title": uniq("entry-alt"), "start": "2026-03-01T08:00:00Z",
                                  "end": "2026-03-01T12:30:00Z", "color": "#010203", "done": False} if alt
                                 else {"title": uniq("entry-full"), "start": "2026-03-01T09:15:00Z",
                                       "end": "2026-03-01T11:45:30Z", "color": "#fedcba", "done": True})))

_add(Res("categories", "/api/v1/categories", "/api/v1/categories/{id}",
         [F("name", "str", True, unique=True),
          F("color", "color")],
         lambda api: {"name": uniq("category")},
         lambda api, alt=False: {"name": uniq("category-full"), "color": "#999999" if alt else "#c0ffee"}))

_add(Res("pomodoro_presets", "/api/v1/pomodoro/presets", "/api/v1/pomodoro/presets/{id}",
         [F("name", "str", True),
          F("work_minutes", "int", default=25, min=1, max=600),
          F("short_break_minutes", "int", default=5, min=1, max=600),
          F("long_break_minutes", "int", default=15, min=1, max=600),
          F("cycles", "int", default=4, min=1, max=600)],
         lambda api: {"name": uniq("preset")},
         lambda api, alt=False: {"name": uniq("preset-full"), "work_minutes": 600 if alt else 50,
                                 "short_break_minutes": 1 if alt else 10, "long_break_minutes": 45 if alt else 30,
                                 "cycles": 2 if alt else 6}))

_add(Res("pomodoros", "/api/v1/pomodoros", "/api/v1/pomodoros/{id}",
         [F("kind", "enum", default="focus", choices=POMODORO_KIND),
          F("started_at", "datetime", True),
          F("planned_seconds", "int", default=1500, min=1, max=86400),
          F("ended_at", "datetime"),
          F("completed", "bool", default=False),
          F("category_id", "id", ref="categories"),
          F("task_id", "id", ref="tasks")],
         lambda api: {"started_at": "2026-03-01T09:00:00Z"},
         lambda api, alt=False: {"kind": "long_break" if alt else "short_break",
                                 "started_at": "2026-03-01T08:00:00Z" if alt else "2026-03-01T09:00:00Z",
                                 "planned_seconds": 86400 if alt else 300,
                                 "ended_at": "2026-03-01T10:00:00Z" if alt else "2026-03-01T09:05:00Z",
                                 "completed": not alt, "category_id": _cid(api, "categories"),
                                 "task_id": _cid(api, "tasks")}))

ALL = list(RES.values())
TOP = [r for r in ALL if not r.parent]
NESTED = [r for r in ALL if r.parent]
FIELDS = [(r, f) for r in ALL for f in r.fields]
REFS = [(r, f) for r, f in FIELDS if f.ref]
UNIQUE = [(r, f) for r, f in FIELDS if f.unique]


def fid(val):
    """pytest ids: resource keys and field names."""
    if isinstance(val, (Res, F)):
        return repr(val)
    return None


def make(api, res, full=False, parent=None):
    """Creates a row of res (its parent too when nested). Returns (object, body sent, parent id)."""
    if res.parent and parent is None:
        parent = api.create(res.parent)["id"]
    body = res.full(api) if full else res.minimal(api)
    obj = api.create(res.key, body, parent=parent)
    return obj, body, parent


WRONG_TYPE = {"str": 123, "int": "5", "bool": "true", "date": 20260301, "datetime": 1772355600, "enum": 1,
              "color": 0x12ab3f, "id": "1"}
