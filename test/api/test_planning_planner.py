"""The daily planner (/api/v1/planner/entries): date-times in and out (any offset in, UTC with Z
and whole seconds out), end >= start (invalid_range on end), and the from/to filter: UTC dates,
inclusive, entries overlapping the range, either bound alone. The engine-wide rules are in
test_planning_common.py."""

import urllib.parse

import pytest

from planning_helpers import TIME_RE, assert_errors, field_errors, fresh, ok, other, srv, uniq, user

__all__ = ["srv", "user", "other", "fresh"]

PATH = "/api/v1/planner/entries"


def entry(api, start, end, **fields):
    fields.setdefault("title", uniq("entry"))
    fields.update(start=start, end=end)
    return api.create("planner_entries", fields)


def item(eid):
    return "%s/%d" % (PATH, eid)


def test_entry_defaults(user):
    e = entry(user, "2026-03-01T09:00:00Z", "2026-03-01T10:00:00Z", title="Стендап 🧍")
    assert e["title"] == "Стендап 🧍" and e["color"] is None and e["done"] is False
    assert e["start"] == "2026-03-01T09:00:00Z" and e["end"] == "2026-03-01T10:00:00Z"
    assert set(e) == {"id", "title", "start", "end", "color", "done", "created_at", "updated_at"}


@pytest.mark.parametrize("given,stored", [
    ("2026-03-01T10:00:00+03:00", "2026-03-01T07:00:00Z"),
    ("2026-03-01T02:00:00+03:00", "2026-02-28T23:00:00Z"),
    ("2026-02-28T22:30:00-05:00", "2026-03-01T03:30:00Z"),
    ("2026-03-01T10:00:00+00:00", "2026-03-01T10:00:00Z"),
    ("2026-03-01T10:00:00-00:00", "2026-03-01T10:00:00Z"),
    ("2026-03-01T05:45:00+05:45", "2026-03-01T00:00:00Z"),
])
def test_offsets_are_stored_as_utc(user, given, stored):
    e = entry(user, given, "2026-03-02T12:00:00Z")
    assert e["start"] == stored
    assert user.fetch("planner_entries", e["id"])["start"] == stored
    e2 = entry(user, "2026-02-27T00:00:00Z", given)
    assert e2["end"] == stored
    patched = ok(user.patch(item(e2["id"]), {"start": given}))
    assert patched["start"] == stored


def test_fractions_of_seconds_come_back_as_whole_seconds(user):
    e = entry(user, "2026-03-01T10:00:00.123456Z", "2026-03-01T10:00:05.9+00:00")
    for k in ("start", "end", "created_at", "updated_at"):
        assert TIME_RE.match(e[k]), e
    assert e["start"] == "2026-03-01T10:00:00Z"
    assert e["end"] in ("2026-03-01T10:00:05Z", "2026-03-01T10:00:06Z")


def test_end_equal_to_start_is_allowed(user):
    e = entry(user, "2026-03-01T10:00:00Z", "2026-03-01T10:00:00Z")
    assert e["start"] == e["end"]
    # equal instants written with different offsets
    e = entry(user, "2026-03-01T10:00:00Z", "2026-03-01T13:00:00+03:00")
    assert e["end"] == "2026-03-01T10:00:00Z"


@pytest.mark.parametrize("start,end", [
    ("2026-03-01T10:00:00Z", "2026-03-01T09:59:59Z"),
    ("2026-03-02T00:00:00Z", "2026-03-01T23:00:00Z"),
    # later on the wall clock, earlier in UTC
    ("2026-03-01T10:00:00Z", "2026-03-01T12:00:00+03:00"),
])
def test_end_before_start_is_invalid_range_on_end(user, start, end):
    body = {"title": uniq("range"), "start": start, "end": end}
    assert_errors(user.post(PATH, body), [("end", "invalid_range")])
    e = entry(user, "2026-03-01T08:00:00Z", "2026-03-01T09:00:00Z")
    assert_errors(user.put(item(e["id"]), body), [("end", "invalid_range")])
    assert_errors(user.patch(item(e["id"]), {"start": start, "end": end}), [("end", "invalid_range")])
    assert user.fetch("planner_entries", e["id"]) == e


def test_patch_one_bound_past_the_other_is_invalid_range_on_end(user):
    e = entry(user, "2026-03-01T08:00:00Z", "2026-03-01T09:00:00Z")
    assert_errors(user.patch(item(e["id"]), {"start": "2026-03-01T09:00:01Z"}), [("end", "invalid_range")])
    assert_errors(user.patch(item(e["id"]), {"end": "2026-03-01T07:59:59Z"}), [("end", "invalid_range")])
    assert user.fetch("planner_entries", e["id"]) == e
    assert ok(user.patch(item(e["id"]), {"start": "2026-03-01T09:00:00Z"}))["start"] == "2026-03-01T09:00:00Z"


def test_invalid_range_comes_with_the_other_errors_of_the_body(user):
    r = user.post(PATH, {"title": "", "start": "2026-03-01T10:00:00Z", "end": "2026-03-01T09:00:00Z",
                         "color": "red"})
    assert_errors(r, [("title", "too_short"), ("end", "invalid_range"), ("color", "invalid_format")])


# --------------------------------------------------------------------------- from / to

@pytest.fixture
def day_plan(fresh):
    e = {
        "e1": entry(fresh, "2026-03-01T10:00:00Z", "2026-03-01T11:00:00Z"),
        "e2": entry(fresh, "2026-03-02T23:00:00Z", "2026-03-04T01:00:00Z"),   # over 03-02..03-04
        "e3": entry(fresh, "2026-03-05T23:59:59Z", "2026-03-06T00:30:00Z"),   # the last second of 03-05
        "e4": entry(fresh, "2026-02-27T08:00:00Z", "2026-02-28T23:59:59Z"),   # ends the last second of 02-28
        "e5": entry(fresh, "2026-02-28T22:00:00Z", "2026-03-01T00:00:01Z"),   # ends a second into 03-01
        "e6": entry(fresh, "2026-03-07T00:00:00Z", "2026-03-07T01:00:00Z"),   # the first second of 03-07
        "e7": entry(fresh, "2026-01-01T00:00:00Z", "2026-12-31T00:00:00Z"),   # all year
        # 03-10 in Moscow, still 03-09 in UTC
        "e8": entry(fresh, "2026-03-10T01:00:00+03:00", "2026-03-10T02:00:00+03:00"),
    }
    return fresh, {k: v["id"] for k, v in e.items()}


@pytest.mark.parametrize("params,expected", [
    ({"from": "2026-03-01", "to": "2026-03-01"}, ["e1", "e5", "e7"]),
    ({"from": "2026-03-03", "to": "2026-03-03"}, ["e2", "e7"]),
    ({"from": "2026-03-05", "to": "2026-03-05"}, ["e3", "e7"]),
    ({"from": "2026-03-06", "to": "2026-03-06"}, ["e3", "e7"]),
    ({"from": "2026-03-02", "to": "2026-03-06"}, ["e2", "e3", "e7"]),
    ({"from": "2026-02-28", "to": "2026-03-01"}, ["e1", "e4", "e5", "e7"]),
    ({"from": "2026-03-09", "to": "2026-03-09"}, ["e7", "e8"]),
    ({"from": "2026-03-10", "to": "2026-03-10"}, ["e7"]),
    ({"from": "2026-03-07"}, ["e6", "e7", "e8"]),
    ({"from": "2026-03-06"}, ["e3", "e6", "e7", "e8"]),
    ({"to": "2026-02-28"}, ["e4", "e5", "e7"]),
    ({"to": "2026-02-26"}, ["e7"]),
    ({"from": "2027-01-01"}, []),
    ({"to": "2025-12-31"}, []),
    ({}, ["e1", "e2", "e3", "e4", "e5", "e6", "e7", "e8"]),
], ids=lambda v: urllib.parse.urlencode(v) or "none" if isinstance(v, dict) else None)
def test_from_to_match_entries_overlapping_the_utc_dates(day_plan, params, expected):
    api, e = day_plan
    assert api.ids(PATH, params) == [e[k] for k in expected]


def test_from_to_across_pages(day_plan):
    api, e = day_plan
    got = [o["id"] for o in api.list_all(PATH, {"from": "2026-03-01", "to": "2026-03-06"}, limit=1)]
    assert got == [e[k] for k in ("e1", "e2", "e3", "e5", "e7")]


def test_from_to_show_only_own_entries(day_plan, other):
    api, e = day_plan
    entry(other, "2026-03-01T10:00:00Z", "2026-03-01T11:00:00Z")
    assert api.ids(PATH, {"from": "2026-03-01", "to": "2026-03-01"}) == [e["e1"], e["e5"], e["e7"]]


@pytest.mark.parametrize("param,value", [("from", "2026-02-30"), ("from", "yesterday"), ("to", "2026-13-01"),
                                         ("to", "2026-03-01T00:00:00Z"), ("from", "01.03.2026")])
def test_bad_from_or_to_is_422_on_that_parameter(user, param, value):
    r = user.get(PATH + "?" + urllib.parse.urlencode({param: value}))
    errs = field_errors(r)
    assert {f for f, _ in errs} == {param}, errs
