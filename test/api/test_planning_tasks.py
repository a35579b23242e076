"""Tasks and lists (/api/v1/tasks, /api/v1/lists): the list filters of API.md (status, list_id,
due_before, due_after inclusive, q), a list's tasks going with it, and the task-specific fields.
The engine-wide rules are in test_planning_common.py."""

import urllib.parse

import pytest

from planning_helpers import (MISSING_ID, assert_errors, field_errors, fresh, ok, other, srv, uniq, user)

__all__ = ["srv", "user", "other", "fresh"]


def ids(api, **params):
    """Ids of GET /api/v1/tasks with these filters (every page)."""
    return api.ids("/api/v1/tasks", params)


def task(api, **fields):
    fields.setdefault("title", uniq("task"))
    return api.create("tasks", fields)["id"]


@pytest.fixture
def board(fresh):
    """A fresh user with two lists and six tasks of known status, due date, list and text."""
    l1, l2, empty = (fresh.create("lists")["id"] for _ in range(3))
    t = {
        "t1": task(fresh, title="Buy MILK", status="todo", due_date="2026-03-01", list_id=l1),
        "t2": task(fresh, title="call mom", description="ask about the Milkshake recipe", status="done",
                   due_date="2026-03-02", list_id=l2),
        "t3": task(fresh, title="Write report", status="in_progress", due_date="2026-03-03", list_id=l1),
        "t4": task(fresh, title="100% sure", status="done"),
        "t5": task(fresh, title="a_b", description=None, due_date="2026-02-27"),
        "t6": task(fresh, title="axb", description="nothing special", due_date="2026-03-31"),
    }
    return fresh, t, {"l1": l1, "l2": l2, "empty": empty}


def test_no_filter_lists_every_task_by_id(board):
    api, t, _ = board
    assert ids(api) == sorted(t.values())


@pytest.mark.parametrize("status,expected", [("todo", ["t1", "t5", "t6"]), ("in_progress", ["t3"]),
                                             ("done", ["t2", "t4"])])
def test_filter_status(board, status, expected):
    api, t, _ = board
    assert ids(api, status=status) == [t[k] for k in expected]


def test_filter_list_id(board):
    api, t, lists = board
    assert ids(api, list_id=lists["l1"]) == [t["t1"], t["t3"]]
    assert ids(api, list_id=lists["l2"]) == [t["t2"]]
    assert ids(api, list_id=lists["empty"]) == []


def test_filter_list_id_of_another_user_shows_nothing_of_theirs(board, other):
    api, _, _ = board
    theirs = other.create("lists")["id"]
    other.create("tasks", {"title": uniq("theirs"), "list_id": theirs})
    assert ids(api, list_id=theirs) == []


@pytest.mark.parametrize("params,expected", [
    ({"due_after": "2026-03-02"}, ["t2", "t3", "t6"]),
    ({"due_before": "2026-03-02"}, ["t1", "t2", "t5"]),
    ({"due_after": "2026-03-02", "due_before": "2026-03-02"}, ["t2"]),
    ({"due_after": "2026-03-01", "due_before": "2026-03-03"}, ["t1", "t2", "t3"]),
    ({"due_after": "2026-03-04", "due_before": "2026-03-30"}, []),
    ({"due_before": "2026-02-26"}, []),
    ({"due_after": "2026-04-01"}, []),
    ({"due_before": "2026-02-27"}, ["t5"]),
    ({"due_after": "2026-03-31"}, ["t6"]),
], ids=lambda v: urllib.parse.urlencode(v) if isinstance(v, dict) else None)
def test_filter_due_dates_inclusive_and_undated_tasks_never_match(board, params, expected):
    api, t, _ = board
    assert ids(api, **params) == [t[k] for k in expected]


@pytest.mark.parametrize("q,expected", [
    ("milk", ["t1", "t2"]),        # title and description, any case
    ("MILK", ["t1", "t2"]),
    ("mIlKsHaKe", ["t2"]),
    ("Report", ["t3"]),
    ("rite rep", ["t3"]),          # a substring, spaces included
    ("0% s", ["t4"]),
    ("%", ["t4"]),                 # % and _ are characters, not wildcards
    ("a_b", ["t5"]),
    ("_", ["t5"]),
    ("special", ["t6"]),
    ("no such words", []),
])
def test_filter_q_is_a_case_insensitive_substring_of_title_or_description(board, q, expected):
    api, t, _ = board
    assert ids(api, q=q) == [t[k] for k in expected]


def test_filter_q_with_cyrillic(fresh):
    a = task(fresh, title="Купить хлеб")
    b = task(fresh, title="Позвонить", description="Про ХЛЕБ и молоко")
    task(fresh, title="Другое")
    assert ids(fresh, q="хлеб") == [a, b]
    assert ids(fresh, q="Хлеб") == [a, b]
    assert ids(fresh, q="МОЛОКО") == [b]


def test_filters_combine(board):
    api, t, lists = board
    assert ids(api, status="done", list_id=lists["l2"]) == [t["t2"]]
    assert ids(api, status="todo", q="milk") == [t["t1"]]
    assert ids(api, status="done", due_before="2026-03-01") == []
    assert ids(api, list_id=lists["l1"], due_after="2026-03-02") == [t["t3"]]
    assert ids(api, status="done", list_id=lists["l1"]) == []


def test_filters_across_pages(board):
    api, t, _ = board
    got = [o["id"] for o in api.list_all("/api/v1/tasks", {"status": "todo"}, limit=1)]
    assert got == [t["t1"], t["t5"], t["t6"]]
    got = [o["id"] for o in api.list_all("/api/v1/tasks", {"q": "MILK"}, limit=1)]
    assert got == [t["t1"], t["t2"]]


@pytest.mark.parametrize("param,value", [
    ("status", "bogus"), ("status", "DONE"), ("list_id", "abc"), ("list_id", "1.5"),
    ("due_before", "2026-02-30"), ("due_before", "yesterday"), ("due_after", "2026-13-01"),
    ("due_after", "01.03.2026"),
])
def test_bad_filter_value_is_422_on_that_parameter(user, param, value):
    r = user.get("/api/v1/tasks?" + urllib.parse.urlencode({param: value}))
    errs = field_errors(r)
    assert {f for f, _ in errs} == {param}, errs


def test_filters_show_only_own_tasks(board, other):
    api, t, _ = board
    other.create("tasks", {"title": "Buy MILK", "status": "done", "due_date": "2026-03-02"})
    assert ids(api, q="milk") == [t["t1"], t["t2"]]
    assert ids(api, status="done") == [t["t2"], t["t4"]]
    assert ids(api, due_after="2026-03-02", due_before="2026-03-02") == [t["t2"]]


# --------------------------------------------------------------------------- lists and tasks

def test_deleting_a_list_deletes_its_tasks_only(fresh):
    l1, l2 = fresh.create("lists")["id"], fresh.create("lists")["id"]
    in_l1 = [task(fresh, list_id=l1) for _ in range(3)]
    in_l2 = task(fresh, list_id=l2)
    loose = task(fresh)
    r = fresh.delete("/api/v1/lists/%d" % l1)
    assert r.status == 204, r
    for tid in in_l1:
        assert fresh.gone("tasks", tid)
    assert ids(fresh) == [in_l2, loose]
    assert fresh.fetch("tasks", in_l2)["list_id"] == l2
    assert fresh.ids("/api/v1/lists") == [l2]


def test_task_moves_between_lists_and_out_of_them(fresh):
    l1, l2 = fresh.create("lists")["id"], fresh.create("lists")["id"]
    t = task(fresh, list_id=l1)
    assert ok(fresh.patch("/api/v1/tasks/%d" % t, {"list_id": l2}))["list_id"] == l2
    assert ids(fresh, list_id=l2) == [t] and ids(fresh, list_id=l1) == []
    assert ok(fresh.patch("/api/v1/tasks/%d" % t, {"list_id": None}))["list_id"] is None
    # no longer in a list: deleting the lists leaves it alone
    assert fresh.delete("/api/v1/lists/%d" % l2).status == 204
    assert fresh.fetch("tasks", t)["list_id"] is None


def test_task_defaults_and_full_object(user):
    r = user.post("/api/v1/tasks", {"title": "Прочитать «Войну и мир» 📚"})
    t = ok(r, 201)
    assert t["title"] == "Прочитать «Войну и мир» 📚"
    assert t["description"] is None and t["status"] == "todo" and t["priority"] == 0
    assert t["due_date"] is None and t["list_id"] is None and t["category_id"] is None
    assert "user_id" not in t


def test_task_due_date_is_a_date(user):
    t = user.create("tasks", {"title": uniq("leap"), "due_date": "2028-02-29"})
    assert t["due_date"] == "2028-02-29"
    assert user.fetch("tasks", t["id"])["due_date"] == "2028-02-29"


def test_task_description_limit_counts_characters(fresh):
    t = fresh.create("tasks", {"title": uniq("long"), "description": "ж" * 10000})
    assert fresh.fetch("tasks", t["id"])["description"] == "ж" * 10000
    r = fresh.post("/api/v1/tasks", {"title": uniq("long"), "description": "ж" * 10001})
    assert_errors(r, [("description", "too_long")])


def test_task_reference_not_found_exact_answer(user, other):
    """The lead's example: errors [{"field": "list_id", "code": "not_found"}]."""
    theirs = other.create("lists")["id"]
    for bad in (theirs, MISSING_ID):
        r = user.post("/api/v1/tasks", {"title": uniq("ref"), "list_id": bad})
        assert_errors(r, [("list_id", "not_found")])
        doc = r.json()
        assert [{k: e[k] for k in ("field", "code")} for e in doc["errors"]] == \
            [{"field": "list_id", "code": "not_found"}]
