"""Gantt tasks and their durations (/api/v1/gantt/tasks, /tasks/{task_id}/durations,
/durations/{id}): end_date >= start_date (invalid_range on end_date), the parent task id in the
object, and a task's durations going with it. The engine-wide rules are in
test_planning_common.py."""

import urllib.parse

import pytest

from planning_helpers import (assert_errors, fresh, is_not_found, ok, other, srv, uniq, user)

__all__ = ["srv", "user", "other", "fresh"]


def gtask(api, **fields):
    fields.setdefault("title", uniq("gantt"))
    return api.create("gantt_tasks", fields)["id"]


def coll(task_id):
    return "/api/v1/gantt/tasks/%d/durations" % task_id


def item(dur_id):
    return "/api/v1/gantt/durations/%d" % dur_id


def duration(api, task_id, start="2026-03-01", end="2026-03-05"):
    return ok(api.post(coll(task_id), {"start_date": start, "end_date": end}), 201)


def test_task_defaults(user):
    t = user.create("gantt_tasks", {"title": "Диплом"})
    assert t["title"] == "Диплом" and t["progress"] == 0 and t["description"] is None and t["color"] is None
    assert set(t) == {"id", "title", "description", "color", "progress", "created_at", "updated_at"}


def test_duration_object(user):
    t = gtask(user)
    r = user.post(coll(t), {"start_date": "2026-03-01", "end_date": "2026-03-05"})
    d = ok(r, 201)
    assert set(d) == {"id", "task_id", "start_date", "end_date", "created_at", "updated_at"}
    assert d["task_id"] == t and d["start_date"] == "2026-03-01" and d["end_date"] == "2026-03-05"
    assert urllib.parse.urlsplit(r.headers["location"]).path == item(d["id"])
    assert user.fetch("gantt_durations", d["id"]) == d


def test_one_day_duration_is_allowed(user):
    t = gtask(user)
    d = duration(user, t, "2026-03-01", "2026-03-01")
    assert d["start_date"] == d["end_date"] == "2026-03-01"


@pytest.mark.parametrize("start,end", [("2026-03-02", "2026-03-01"), ("2026-03-01", "2025-12-31"),
                                       ("2027-01-01", "2026-12-31")])
def test_end_before_start_is_invalid_range_on_end_date(user, start, end):
    t = gtask(user)
    assert_errors(user.post(coll(t), {"start_date": start, "end_date": end}), [("end_date", "invalid_range")])
    assert user.ids(coll(t)) == []
    d = duration(user, t)
    assert_errors(user.put(item(d["id"]), {"start_date": start, "end_date": end}), [("end_date", "invalid_range")])
    assert user.fetch("gantt_durations", d["id"]) == d


def test_patch_one_bound_past_the_other_is_invalid_range_on_end_date(user):
    t = gtask(user)
    d = duration(user, t, "2026-03-01", "2026-03-05")
    assert_errors(user.patch(item(d["id"]), {"start_date": "2026-03-06"}), [("end_date", "invalid_range")])
    assert_errors(user.patch(item(d["id"]), {"end_date": "2026-02-28"}), [("end_date", "invalid_range")])
    assert_errors(user.patch(item(d["id"]), {"start_date": "2026-03-10", "end_date": "2026-03-09"}),
                  [("end_date", "invalid_range")])
    assert user.fetch("gantt_durations", d["id"]) == d
    # moving both together is fine, and so is a bound onto the other
    moved = ok(user.patch(item(d["id"]), {"start_date": "2026-03-10", "end_date": "2026-03-12"}))
    assert (moved["start_date"], moved["end_date"]) == ("2026-03-10", "2026-03-12")
    assert ok(user.patch(item(d["id"]), {"end_date": "2026-03-10"}))["end_date"] == "2026-03-10"
    assert ok(user.patch(item(d["id"]), {"start_date": "2026-03-10"}))["start_date"] == "2026-03-10"


def test_invalid_range_comes_with_the_other_errors_of_the_body(user):
    t = gtask(user)
    r = user.post(coll(t), {"start_date": "2026-03-05", "end_date": "2026-03-01", "note": "x"})
    assert_errors(r, [("note", "unknown_field"), ("end_date", "invalid_range")])


def test_deleting_a_gantt_task_deletes_its_durations(fresh):
    t1, t2 = gtask(fresh), gtask(fresh)
    d1 = [duration(fresh, t1)["id"] for _ in range(3)]
    d2 = duration(fresh, t2)["id"]
    assert fresh.delete("/api/v1/gantt/tasks/%d" % t1).status == 204
    for d in d1:
        assert fresh.gone("gantt_durations", d)
    is_not_found(fresh.get(coll(t1)))
    is_not_found(fresh.post(coll(t1), {"start_date": "2026-03-01", "end_date": "2026-03-02"}))
    assert fresh.ids(coll(t2)) == [d2]
    assert fresh.ids("/api/v1/gantt/tasks") == [t2]


def test_duration_body_does_not_take_task_id(user):
    t1, t2 = gtask(user), gtask(user)
    assert_errors(user.post(coll(t1), {"start_date": "2026-03-01", "end_date": "2026-03-02", "task_id": t2}),
                  [("task_id", "unknown_field")])
    d = duration(user, t1)
    assert_errors(user.patch(item(d["id"]), {"task_id": t2}), [("task_id", "unknown_field")])
    assert user.ids(coll(t2)) == []
    put = ok(user.put(item(d["id"]), {"start_date": "2026-04-01", "end_date": "2026-04-02"}))
    assert put["task_id"] == t1


def test_another_users_durations_are_404(user, other):
    t = gtask(user)
    d = duration(user, t)
    is_not_found(other.get(coll(t)))
    is_not_found(other.post(coll(t), {"start_date": "2026-03-01", "end_date": "2026-03-02"}))
    is_not_found(other.get(item(d["id"])))
    is_not_found(other.patch(item(d["id"]), {"end_date": "2026-12-31"}))
    is_not_found(other.put(item(d["id"]), {"start_date": "2026-03-01", "end_date": "2026-03-02"}))
    is_not_found(other.delete(item(d["id"])))
    assert user.fetch("gantt_durations", d["id"]) == d
    assert user.ids(coll(t)) == [d["id"]]


def test_progress_bounds(user):
    t = gtask(user)
    for v in (0, 57, 100):
        assert ok(user.patch("/api/v1/gantt/tasks/%d" % t, {"progress": v}))["progress"] == v
    assert_errors(user.patch("/api/v1/gantt/tasks/%d" % t, {"progress": 101}), [("progress", "too_large")])
    assert_errors(user.patch("/api/v1/gantt/tasks/%d" % t, {"progress": -1}), [("progress", "too_small")])
