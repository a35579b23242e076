"""Lists, the balance wheel, categories, pomodoro presets and pomodoro sessions: their defaults
and bounds, a deleted category leaving tasks and pomodoros with category_id null, ended_at >=
started_at, and the pomodoro filters (from/to on started_at's UTC date, category_id). The
engine-wide rules are in test_planning_common.py."""

import urllib.parse

import pytest

from planning_helpers import (MISSING_ID, TIME_RE, assert_errors, field_errors, fresh, ok, other, problem, srv,
                              uniq, user)

__all__ = ["srv", "user", "other", "fresh"]


# --------------------------------------------------------------------------- lists

def test_list_object(user):
    r = user.post("/api/v1/lists", {"name": "Покупки 🛒"})
    lst = ok(r, 201)
    assert set(lst) == {"id", "name", "created_at", "updated_at"}
    assert lst["name"] == "Покупки 🛒"
    assert urllib.parse.urlsplit(r.headers["location"]).path == "/api/v1/lists/%d" % lst["id"]


# --------------------------------------------------------------------------- balance wheel

def test_balance_wheel_object_and_bounds(fresh):
    r = fresh.post("/api/v1/balance-wheel", {"sphere": "Здоровье", "value": 0})
    b = ok(r, 201)
    assert set(b) == {"id", "sphere", "value", "color", "created_at", "updated_at"}
    assert b["value"] == 0 and b["color"] is None
    assert ok(fresh.patch("/api/v1/balance-wheel/%d" % b["id"], {"value": 10, "color": "#ff0000"})) == \
        dict(ok(fresh.get("/api/v1/balance-wheel/%d" % b["id"])))
    assert_errors(fresh.post("/api/v1/balance-wheel", {"sphere": "Карьера", "value": 11}), [("value", "too_large")])
    assert_errors(fresh.post("/api/v1/balance-wheel", {"sphere": "Карьера", "value": -1}), [("value", "too_small")])
    assert_errors(fresh.post("/api/v1/balance-wheel", {"sphere": "Карьера"}), [("value", "required")])
    assert_errors(fresh.post("/api/v1/balance-wheel", {"sphere": "Карьера", "value": None}), [("value", "required")])
    assert_errors(fresh.post("/api/v1/balance-wheel", {"sphere": "Карьера", "value": 5, "color": "#f00"}),
                  [("color", "invalid_format")])
    assert_errors(fresh.post("/api/v1/balance-wheel", {"value": 5}), [("sphere", "required")])


def test_balance_wheel_sphere_unique_per_user(fresh, other):
    fresh.create("balance_wheel", {"sphere": "Семья", "value": 7})
    doc = problem(fresh.post("/api/v1/balance-wheel", {"sphere": "Семья", "value": 3}), 409, "conflict")
    assert [(e["field"], e["code"]) for e in doc["errors"]] == [("sphere", "taken")], doc
    # the other user's wheel may have the same sphere
    mine = uniq("Семья")
    fresh.create("balance_wheel", {"sphere": mine, "value": 1})
    assert other.create("balance_wheel", {"sphere": mine, "value": 2})["sphere"] == mine


# --------------------------------------------------------------------------- categories

def test_category_object(user):
    c = user.create("categories", {"name": uniq("Учёба")})
    assert set(c) == {"id", "name", "color", "created_at", "updated_at"} and c["color"] is None


def test_category_name_unique_per_user(fresh, other):
    fresh.create("categories", {"name": "Работа"})
    doc = problem(fresh.post("/api/v1/categories", {"name": "Работа", "color": "#000000"}), 409, "conflict")
    assert [(e["field"], e["code"]) for e in doc["errors"]] == [("name", "taken")], doc
    assert other.create("categories", {"name": "Работа"})["name"] == "Работа"


def test_deleting_a_category_leaves_tasks_and_pomodoros_uncategorised(fresh, other):
    c1, c2 = fresh.create("categories")["id"], fresh.create("categories")["id"]
    t1 = fresh.create("tasks", {"title": uniq("t"), "category_id": c1, "status": "done", "priority": 2})
    t2 = fresh.create("tasks", {"title": uniq("t"), "category_id": c2})
    p1 = fresh.create("pomodoros", {"started_at": "2026-03-01T09:00:00Z", "category_id": c1, "task_id": t1["id"],
                                    "completed": True, "ended_at": "2026-03-01T09:25:00Z"})
    p2 = fresh.create("pomodoros", {"started_at": "2026-03-01T10:00:00Z", "category_id": c2})
    theirs = other.create("categories")["id"]
    their_task = other.create("tasks", {"title": uniq("t"), "category_id": theirs})

    r = fresh.delete("/api/v1/categories/%d" % c1)
    assert r.status == 204, r
    assert fresh.gone("categories", c1)
    got_t1 = fresh.fetch("tasks", t1["id"])
    assert got_t1["category_id"] is None
    assert {k: v for k, v in got_t1.items() if k not in ("category_id", "updated_at")} == \
        {k: v for k, v in t1.items() if k not in ("category_id", "updated_at")}
    got_p1 = fresh.fetch("pomodoros", p1["id"])
    assert got_p1["category_id"] is None and got_p1["task_id"] == t1["id"] and got_p1["completed"] is True
    assert fresh.fetch("tasks", t2["id"])["category_id"] == c2
    assert fresh.fetch("pomodoros", p2["id"])["category_id"] == c2
    assert other.fetch("tasks", their_task["id"])["category_id"] == theirs
    assert fresh.ids("/api/v1/tasks") == [t1["id"], t2["id"]]
    assert fresh.ids("/api/v1/pomodoros") == [p1["id"], p2["id"]]


# --------------------------------------------------------------------------- presets

def test_preset_defaults(user):
    p = user.create("pomodoro_presets", {"name": "Классика"})
    assert set(p) == {"id", "name", "work_minutes", "short_break_minutes", "long_break_minutes", "cycles",
                      "created_at", "updated_at"}
    assert (p["work_minutes"], p["short_break_minutes"], p["long_break_minutes"], p["cycles"]) == (25, 5, 15, 4)


def test_preset_bounds_all_reported(user):
    r = user.post("/api/v1/pomodoro/presets", {"name": "bad", "work_minutes": 0, "short_break_minutes": 601,
                                               "long_break_minutes": -5, "cycles": 1000})
    assert_errors(r, [("work_minutes", "too_small"), ("short_break_minutes", "too_large"),
                      ("long_break_minutes", "too_small"), ("cycles", "too_large")])
    p = user.create("pomodoro_presets", {"name": "edge", "work_minutes": 1, "short_break_minutes": 600,
                                         "long_break_minutes": 1, "cycles": 600})
    assert (p["work_minutes"], p["short_break_minutes"], p["long_break_minutes"], p["cycles"]) == (1, 600, 1, 600)


def test_preset_put_restores_defaults(user):
    p = user.create("pomodoro_presets", {"name": "long", "work_minutes": 50, "short_break_minutes": 10,
                                         "long_break_minutes": 30, "cycles": 2})
    put = ok(user.put("/api/v1/pomodoro/presets/%d" % p["id"], {"name": "back"}))
    assert (put["name"], put["work_minutes"], put["short_break_minutes"], put["long_break_minutes"],
            put["cycles"]) == ("back", 25, 5, 15, 4)


# --------------------------------------------------------------------------- pomodoros

POMO = "/api/v1/pomodoros"


def pomo(api, started_at, **fields):
    fields["started_at"] = started_at
    return api.create("pomodoros", fields)


def test_pomodoro_defaults(user):
    p = pomo(user, "2026-03-01T09:00:00Z")
    assert set(p) == {"id", "kind", "started_at", "planned_seconds", "ended_at", "completed", "category_id",
                      "task_id", "created_at", "updated_at"}
    assert p["kind"] == "focus" and p["planned_seconds"] == 1500 and p["ended_at"] is None
    assert p["completed"] is False and p["category_id"] is None and p["task_id"] is None
    assert p["started_at"] == "2026-03-01T09:00:00Z"


def test_pomodoro_planned_seconds_bounds(user):
    for v in (1, 86400):
        assert pomo(user, "2026-03-01T09:00:00Z", planned_seconds=v)["planned_seconds"] == v
    assert_errors(user.post(POMO, {"started_at": "2026-03-01T09:00:00Z", "planned_seconds": 0}),
                  [("planned_seconds", "too_small")])
    assert_errors(user.post(POMO, {"started_at": "2026-03-01T09:00:00Z", "planned_seconds": 86401}),
                  [("planned_seconds", "too_large")])
    assert_errors(user.post(POMO, {"started_at": "2026-03-01T09:00:00Z", "planned_seconds": None}),
                  [("planned_seconds", "wrong_type")])


def test_pomodoro_times_with_offsets(user):
    p = pomo(user, "2026-03-01T10:00:00+03:00", ended_at="2026-03-01T02:25:00-05:00")
    assert p["started_at"] == "2026-03-01T07:00:00Z" and p["ended_at"] == "2026-03-01T07:25:00Z"
    assert TIME_RE.match(p["created_at"])


def test_pomodoro_ended_at_not_before_started_at(user):
    same = pomo(user, "2026-03-01T09:00:00Z", ended_at="2026-03-01T09:00:00Z")
    assert same["ended_at"] == same["started_at"]
    assert_errors(user.post(POMO, {"started_at": "2026-03-01T09:00:00Z", "ended_at": "2026-03-01T08:59:59Z"}),
                  [("ended_at", "invalid_range")])
    # later on the wall clock, earlier in UTC
    assert_errors(user.post(POMO, {"started_at": "2026-03-01T09:00:00Z", "ended_at": "2026-03-01T11:00:00+03:00"}),
                  [("ended_at", "invalid_range")])
    p = pomo(user, "2026-03-01T09:00:00Z", ended_at="2026-03-01T09:25:00Z")
    path = "%s/%d" % (POMO, p["id"])
    assert_errors(user.patch(path, {"ended_at": "2026-03-01T08:00:00Z"}), [("ended_at", "invalid_range")])
    assert_errors(user.patch(path, {"started_at": "2026-03-01T09:25:01Z"}), [("ended_at", "invalid_range")])
    assert_errors(user.put(path, {"started_at": "2026-03-01T10:00:00Z", "ended_at": "2026-03-01T09:00:00Z"}),
                  [("ended_at", "invalid_range")])
    assert user.fetch("pomodoros", p["id"]) == p
    # an open session has no end to check
    open_ = ok(user.patch(path, {"ended_at": None, "started_at": "2026-03-02T00:00:00Z"}))
    assert open_["ended_at"] is None and open_["started_at"] == "2026-03-02T00:00:00Z"


def test_pomodoro_kind_and_references(user, other):
    c = user.create("categories")["id"]
    t = user.create("tasks")["id"]
    p = pomo(user, "2026-03-01T09:00:00Z", kind="long_break", category_id=c, task_id=t, completed=True)
    assert (p["kind"], p["category_id"], p["task_id"], p["completed"]) == ("long_break", c, t, True)
    assert_errors(user.post(POMO, {"started_at": "2026-03-01T09:00:00Z", "kind": "nap"}), [("kind", "invalid_choice")])
    their_task = other.create("tasks")["id"]
    assert_errors(user.patch("%s/%d" % (POMO, p["id"]), {"task_id": their_task}), [("task_id", "not_found")])
    assert_errors(user.patch("%s/%d" % (POMO, p["id"]), {"category_id": MISSING_ID}), [("category_id", "not_found")])


@pytest.fixture
def sessions(fresh):
    c1, c2 = fresh.create("categories")["id"], fresh.create("categories")["id"]
    p = {
        "p1": pomo(fresh, "2026-03-01T23:59:59Z", category_id=c1),
        "p2": pomo(fresh, "2026-03-02T00:00:00Z", category_id=c2),
        "p3": pomo(fresh, "2026-03-02T01:00:00+03:00"),                      # 2026-03-01T22:00:00Z
        "p4": pomo(fresh, "2026-03-03T12:00:00Z", category_id=c1),
        # started on 02-28, ended on 03-01: only its start counts
        "p5": pomo(fresh, "2026-02-28T23:00:00Z", ended_at="2026-03-01T01:00:00Z", category_id=c1),
    }
    return fresh, {k: v["id"] for k, v in p.items()}, {"c1": c1, "c2": c2}


@pytest.mark.parametrize("params,expected", [
    ({"from": "2026-03-02"}, ["p2", "p4"]),
    ({"to": "2026-03-01"}, ["p1", "p3", "p5"]),
    ({"from": "2026-03-01", "to": "2026-03-01"}, ["p1", "p3"]),
    ({"from": "2026-03-02", "to": "2026-03-02"}, ["p2"]),
    ({"from": "2026-03-01", "to": "2026-03-03"}, ["p1", "p2", "p3", "p4"]),
    ({"from": "2026-02-28", "to": "2026-02-28"}, ["p5"]),
    ({"from": "2026-03-04"}, []),
    ({"to": "2026-02-27"}, []),
], ids=lambda v: urllib.parse.urlencode(v) if isinstance(v, dict) else None)
def test_pomodoro_from_to_on_started_at_utc_date(sessions, params, expected):
    api, p, _ = sessions
    assert api.ids(POMO, params) == [p[k] for k in expected]


def test_pomodoro_category_filter(sessions, other):
    api, p, c = sessions
    assert api.ids(POMO, {"category_id": c["c1"]}) == [p["p1"], p["p4"], p["p5"]]
    assert api.ids(POMO, {"category_id": c["c2"]}) == [p["p2"]]
    assert api.ids(POMO, {"category_id": c["c1"], "from": "2026-03-01"}) == [p["p1"], p["p4"]]
    assert api.ids(POMO, {"category_id": c["c1"], "from": "2026-03-01", "to": "2026-03-02"}) == [p["p1"]]
    got = [o["id"] for o in api.list_all(POMO, {"category_id": c["c1"]}, limit=1)]
    assert got == [p["p1"], p["p4"], p["p5"]]
    theirs = other.create("categories")["id"]
    pomo(other, "2026-03-01T10:00:00Z", category_id=theirs)
    assert api.ids(POMO, {"category_id": theirs}) == []


def test_pomodoro_filters_show_only_own_sessions(sessions, other):
    api, p, _ = sessions
    pomo(other, "2026-03-02T12:00:00Z")
    assert api.ids(POMO, {"from": "2026-03-02", "to": "2026-03-02"}) == [p["p2"]]


@pytest.mark.parametrize("param,value", [("from", "2026-02-30"), ("to", "soon"), ("from", "2026-03-01T00:00:00Z"),
                                         ("category_id", "abc"), ("category_id", "1.5")])
def test_bad_pomodoro_filter_is_422_on_that_parameter(user, param, value):
    r = user.get(POMO + "?" + urllib.parse.urlencode({param: value}))
    errs = field_errors(r)
    assert {f for f, _ in errs} == {param}, errs
