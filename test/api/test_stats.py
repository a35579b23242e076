"""GET /api/v1/stats: completed focus pomodoros per day / week / month, cut in a time zone.

Pomodoros and categories are made through the API. The DST cases use days whose local midnight
falls on the other side of a clock change than a fixed offset would put it, so a server that
ignored the change would file the session under the wrong day and week:
  America/New_York: 2026-03-08 (Sunday, EST -> EDT) and 2026-11-01 (Sunday, EDT -> EST);
  Europe/Moscow:    2014-10-26 (Sunday, +04 -> +03, its last change) and 2026 (fixed +03)."""

import datetime
import threading
import urllib.parse

import pytest

from planning_helpers import assert_errors, new_api, ok, problem, srv  # noqa: F401 (srv is a fixture)

STATS_KEYS = {"from", "to", "group", "total_focus_seconds", "total_sessions", "periods"}
PERIOD_KEYS = {"start", "focus_seconds", "sessions", "by_category"}
CATEGORY_KEYS = {"category_id", "name", "focus_seconds"}


def stats(api, **params):
    r = api.get("/api/v1/stats" + ("?" + urllib.parse.urlencode(params) if params else ""))
    doc = ok(r)
    check_shape(doc)
    return doc


def check_shape(doc):
    assert set(doc) == STATS_KEYS, doc
    for p in doc["periods"]:
        assert set(p) == PERIOD_KEYS, p
        for c in p["by_category"]:
            assert set(c) == CATEGORY_KEYS, c
        assert p["focus_seconds"] == sum(c["focus_seconds"] for c in p["by_category"]), p
    assert doc["total_focus_seconds"] == sum(p["focus_seconds"] for p in doc["periods"]), doc
    assert doc["total_sessions"] == sum(p["sessions"] for p in doc["periods"]), doc
    starts = [p["start"] for p in doc["periods"]]
    assert starts == sorted(starts) and len(set(starts)) == len(starts), starts


def by_start(doc):
    return {p["start"]: p for p in doc["periods"]}


def focus(api, started_at, seconds, completed=True, kind="focus", category_id=None):
    start = datetime.datetime.strptime(started_at, "%Y-%m-%dT%H:%M:%SZ")
    end = start + datetime.timedelta(seconds=seconds)
    body = {"kind": kind, "started_at": started_at, "ended_at": end.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "completed": completed}
    if category_id is not None:
        body["category_id"] = category_id
    return ok(api.post("/api/v1/pomodoros", body), 201)


def category(api, name):
    return ok(api.post("/api/v1/categories", {"name": name}), 201)["id"]


def days(first, last):
    d0 = datetime.date.fromisoformat(first)
    d1 = datetime.date.fromisoformat(last)
    return [(d0 + datetime.timedelta(days=i)).isoformat() for i in range((d1 - d0).days + 1)]


def seconds_of(doc):
    """{start: focus_seconds} of the periods."""
    return {p["start"]: p["focus_seconds"] for p in doc["periods"]}


# --------------------------------------------------------------------------- auth

def test_stats_requires_a_token(srv):
    from planning_helpers import Api
    problem(Api(srv).get("/api/v1/stats"), 401)
    problem(Api(srv, "not-a-token").get("/api/v1/stats"), 401)


# --------------------------------------------------------------------------- shape and periods

def test_every_day_present_with_zeros(srv):
    api = new_api(srv)
    doc = stats(api, **{"from": "2026-02-25", "to": "2026-03-03"})
    assert doc["from"] == "2026-02-25" and doc["to"] == "2026-03-03" and doc["group"] == "day"
    assert [p["start"] for p in doc["periods"]] == days("2026-02-25", "2026-03-03")
    for p in doc["periods"]:
        assert p == {"start": p["start"], "focus_seconds": 0, "sessions": 0, "by_category": []}
    assert doc["total_focus_seconds"] == 0 and doc["total_sessions"] == 0


def test_sessions_categories_and_null_category(srv):
    api = new_api(srv)
    work, study = category(api, "Work"), category(api, "Study")
    focus(api, "2026-04-01T09:00:00Z", 1500, category_id=work)
    focus(api, "2026-04-01T10:00:00Z", 1200, category_id=work)
    focus(api, "2026-04-01T11:00:00Z", 600, category_id=study)
    focus(api, "2026-04-01T12:00:00Z", 300)
    focus(api, "2026-04-03T12:00:00Z", 100)
    doc = stats(api, **{"from": "2026-04-01", "to": "2026-04-03"})
    p = by_start(doc)
    assert p["2026-04-01"]["sessions"] == 4 and p["2026-04-01"]["focus_seconds"] == 3600
    cats = {c["category_id"]: c for c in p["2026-04-01"]["by_category"]}
    assert cats[work] == {"category_id": work, "name": "Work", "focus_seconds": 2700}
    assert cats[study] == {"category_id": study, "name": "Study", "focus_seconds": 600}
    assert cats[None] == {"category_id": None, "name": None, "focus_seconds": 300}
    assert len(cats) == 3
    assert p["2026-04-02"] == {"start": "2026-04-02", "focus_seconds": 0, "sessions": 0, "by_category": []}
    assert p["2026-04-03"]["by_category"] == [{"category_id": None, "name": None, "focus_seconds": 100}]
    assert doc["total_focus_seconds"] == 3700 and doc["total_sessions"] == 5


def test_deleted_category_becomes_uncategorised(srv):
    api = new_api(srv)
    gone = category(api, "Temporary")
    focus(api, "2026-04-10T09:00:00Z", 900, category_id=gone)
    focus(api, "2026-04-10T10:00:00Z", 100)
    assert api.delete("/api/v1/categories/%d" % gone).status == 204
    doc = stats(api, **{"from": "2026-04-10", "to": "2026-04-10"})
    assert doc["periods"][0]["by_category"] == [{"category_id": None, "name": None, "focus_seconds": 1000}]


def test_only_completed_focus_counts(srv):
    api = new_api(srv)
    focus(api, "2026-05-04T09:00:00Z", 1500)
    focus(api, "2026-05-04T10:00:00Z", 1500, completed=False)
    focus(api, "2026-05-04T11:00:00Z", 300, kind="short_break")
    focus(api, "2026-05-04T12:00:00Z", 900, kind="long_break")
    # started but never ended: not completed, not counted
    ok(api.post("/api/v1/pomodoros", {"started_at": "2026-05-04T13:00:00Z"}), 201)
    doc = stats(api, **{"from": "2026-05-04", "to": "2026-05-04"})
    assert doc["total_sessions"] == 1 and doc["total_focus_seconds"] == 1500


def test_focus_seconds_are_ended_minus_started_not_planned(srv):
    api = new_api(srv)
    ok(api.post("/api/v1/pomodoros", {"started_at": "2026-05-05T09:00:00Z", "ended_at": "2026-05-05T09:17:31Z",
                                      "planned_seconds": 1500, "completed": True}), 201)
    assert stats(api, **{"from": "2026-05-05", "to": "2026-05-05"})["total_focus_seconds"] == 17 * 60 + 31


def test_session_counts_where_it_started(srv):
    api = new_api(srv)
    focus(api, "2026-05-06T23:50:00Z", 1800)  # ends 00:20 the next day
    doc = stats(api, **{"from": "2026-05-06", "to": "2026-05-07"})
    assert seconds_of(doc) == {"2026-05-06": 1800, "2026-05-07": 0}
    # a session that started the day before the range is not in it, even if it ends inside
    focus(api, "2026-05-08T23:50:00Z", 1800)
    doc = stats(api, **{"from": "2026-05-09", "to": "2026-05-09"})
    assert doc["total_sessions"] == 0


def test_another_users_sessions_are_not_counted(srv):
    me, other = new_api(srv), new_api(srv)
    focus(other, "2026-05-11T09:00:00Z", 1500)
    focus(me, "2026-05-11T10:00:00Z", 60)
    assert stats(me, **{"from": "2026-05-11", "to": "2026-05-11"})["total_focus_seconds"] == 60


def test_range_bounds_are_inclusive(srv):
    api = new_api(srv)
    focus(api, "2026-06-01T00:00:00Z", 10)
    focus(api, "2026-06-03T23:59:59Z", 20)
    focus(api, "2026-05-31T23:59:59Z", 1000)
    focus(api, "2026-06-04T00:00:00Z", 1000)
    doc = stats(api, **{"from": "2026-06-01", "to": "2026-06-03"})
    assert seconds_of(doc) == {"2026-06-01": 10, "2026-06-02": 0, "2026-06-03": 20}


def test_weeks_start_on_monday_and_may_begin_before_from(srv):
    api = new_api(srv)
    # 2026-03-04 is a Wednesday: the first week is Monday 2026-03-02
    focus(api, "2026-03-04T12:00:00Z", 100)
    focus(api, "2026-03-08T23:59:00Z", 200)   # Sunday: still the first week
    focus(api, "2026-03-09T00:00:00Z", 400)   # Monday: the next one
    focus(api, "2026-03-03T12:00:00Z", 5000)  # in the first week but before from: not counted
    doc = stats(api, **{"from": "2026-03-04", "to": "2026-03-23", "group": "week"})
    assert doc["group"] == "week"
    assert seconds_of(doc) == {"2026-03-02": 300, "2026-03-09": 400, "2026-03-16": 0, "2026-03-23": 0}
    for p in doc["periods"]:
        assert datetime.date.fromisoformat(p["start"]).weekday() == 0, p


def test_months_start_on_the_first(srv):
    api = new_api(srv)
    focus(api, "2026-01-20T12:00:00Z", 100)
    focus(api, "2026-02-28T23:00:00Z", 200)
    focus(api, "2026-03-01T00:00:00Z", 400)
    doc = stats(api, **{"from": "2026-01-15", "to": "2026-04-01", "group": "month"})
    assert seconds_of(doc) == {"2026-01-01": 100, "2026-02-01": 200, "2026-03-01": 400, "2026-04-01": 0}
    assert doc["from"] == "2026-01-15" and doc["to"] == "2026-04-01"


def test_a_whole_year_of_days(srv):
    api = new_api(srv)
    focus(api, "2025-01-01T00:00:00Z", 1)
    focus(api, "2026-01-01T23:00:00Z", 2)
    doc = stats(api, **{"from": "2025-01-01", "to": "2026-01-01"})  # 365 days apart: the largest range
    assert len(doc["periods"]) == 366
    assert doc["periods"][0]["start"] == "2025-01-01" and doc["periods"][-1]["start"] == "2026-01-01"
    assert doc["total_focus_seconds"] == 3
    weeks = stats(api, **{"from": "2025-01-01", "to": "2026-01-01", "group": "week"})
    assert weeks["periods"][0]["start"] == "2024-12-30" and weeks["periods"][-1]["start"] == "2025-12-29"
    assert len(weeks["periods"]) == 53


# --------------------------------------------------------------------------- time zones

def test_new_york_spring_forward_and_week_boundary(srv):
    api = new_api(srv)
    focus(api, "2026-03-08T04:30:00Z", 1)   # Sat 03-07 23:30 EST
    focus(api, "2026-03-08T05:30:00Z", 2)   # Sun 03-08 00:30 EST
    focus(api, "2026-03-08T07:30:00Z", 4)   # Sun 03-08 03:30 EDT, just after the change
    focus(api, "2026-03-09T03:30:00Z", 8)   # Sun 03-08 23:30 EDT
    focus(api, "2026-03-09T04:30:00Z", 16)  # Mon 03-09 00:30 EDT (Sunday 23:30 at a fixed -05:00)
    tz = "America/New_York"
    doc = stats(api, **{"from": "2026-03-07", "to": "2026-03-09", "tz": tz})
    assert seconds_of(doc) == {"2026-03-07": 1, "2026-03-08": 14, "2026-03-09": 16}
    weeks = stats(api, **{"from": "2026-03-07", "to": "2026-03-09", "tz": tz, "group": "week"})
    assert seconds_of(weeks) == {"2026-03-02": 15, "2026-03-09": 16}
    # the same sessions in UTC fall elsewhere
    utc = stats(api, **{"from": "2026-03-07", "to": "2026-03-09"})
    assert seconds_of(utc) == {"2026-03-07": 0, "2026-03-08": 7, "2026-03-09": 24}


def test_new_york_fall_back_and_week_boundary(srv):
    api = new_api(srv)
    focus(api, "2026-11-01T04:30:00Z", 1)   # Sun 11-01 00:30 EDT
    focus(api, "2026-11-01T05:30:00Z", 2)   # Sun 11-01 01:30 EDT
    focus(api, "2026-11-01T06:30:00Z", 4)   # Sun 11-01 01:30 EST, the hour again
    focus(api, "2026-11-02T04:30:00Z", 8)   # Sun 11-01 23:30 EST (Monday 00:30 at a fixed -04:00)
    focus(api, "2026-11-02T05:30:00Z", 16)  # Mon 11-02 00:30 EST
    focus(api, "2026-11-01T03:30:00Z", 32)  # Sat 10-31 23:30 EDT
    tz = "America/New_York"
    doc = stats(api, **{"from": "2026-10-31", "to": "2026-11-02", "tz": tz})
    assert seconds_of(doc) == {"2026-10-31": 32, "2026-11-01": 15, "2026-11-02": 16}
    weeks = stats(api, **{"from": "2026-10-31", "to": "2026-11-02", "tz": tz, "group": "week"})
    assert seconds_of(weeks) == {"2026-10-26": 47, "2026-11-02": 16}
    months = stats(api, **{"from": "2026-10-31", "to": "2026-11-02", "tz": tz, "group": "month"})
    assert seconds_of(months) == {"2026-10-01": 32, "2026-11-01": 31}


def test_moscow_last_clock_change_and_week_boundary(srv):
    api = new_api(srv)
    focus(api, "2014-10-25T19:30:00Z", 1)   # Sat 10-25 23:30 +04
    focus(api, "2014-10-25T20:30:00Z", 2)   # Sun 10-26 00:30 +04 (Saturday 23:30 at a fixed +03:00)
    focus(api, "2014-10-26T20:30:00Z", 4)   # Sun 10-26 23:30 +03 (Monday 00:30 at a fixed +04:00)
    focus(api, "2014-10-26T21:30:00Z", 8)   # Mon 10-27 00:30 +03
    tz = "Europe/Moscow"
    doc = stats(api, **{"from": "2014-10-25", "to": "2014-10-27", "tz": tz})
    assert seconds_of(doc) == {"2014-10-25": 1, "2014-10-26": 6, "2014-10-27": 8}
    weeks = stats(api, **{"from": "2014-10-25", "to": "2014-10-27", "tz": tz, "group": "week"})
    assert seconds_of(weeks) == {"2014-10-20": 7, "2014-10-27": 8}


def test_moscow_week_boundary_today(srv):
    api = new_api(srv)
    focus(api, "2026-03-01T20:59:00Z", 1)   # Sun 03-01 23:59 MSK
    focus(api, "2026-03-01T21:00:00Z", 2)   # Mon 03-02 00:00 MSK, still Sunday in UTC
    tz = "Europe/Moscow"
    weeks = stats(api, **{"from": "2026-02-23", "to": "2026-03-08", "tz": tz, "group": "week"})
    assert seconds_of(weeks) == {"2026-02-23": 1, "2026-03-02": 2}
    utc = stats(api, **{"from": "2026-02-23", "to": "2026-03-08", "group": "week"})
    assert seconds_of(utc) == {"2026-02-23": 3, "2026-03-02": 0}


def test_range_is_cut_in_the_zone(srv):
    api = new_api(srv)
    focus(api, "2026-07-09T21:30:00Z", 1)  # 07-10 00:30 in Moscow
    focus(api, "2026-07-10T21:30:00Z", 2)  # 07-11 00:30 in Moscow
    doc = stats(api, **{"from": "2026-07-10", "to": "2026-07-10", "tz": "Europe/Moscow"})
    assert doc["total_focus_seconds"] == 1


# --------------------------------------------------------------------------- defaults

def _today(tz_offset_hours=0):
    return (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=tz_offset_hours)).date()


def test_default_is_the_last_seven_days_in_utc(srv):
    api = new_api(srv)
    before = _today()
    doc = stats(api)
    after = _today()
    to = datetime.date.fromisoformat(doc["to"])
    assert to in (before, after), doc
    assert doc["from"] == (to - datetime.timedelta(days=6)).isoformat()
    assert doc["group"] == "day" and len(doc["periods"]) == 7


def test_default_today_is_in_the_zone(srv):
    api = new_api(srv)
    # Kiritimati is UTC+14 and Pago Pago UTC-11: their days differ from UTC's most of the time
    for tz, hours in (("Pacific/Kiritimati", 14), ("Pacific/Pago_Pago", -11)):
        before = _today(hours)
        doc = stats(api, tz=tz)
        after = _today(hours)
        assert datetime.date.fromisoformat(doc["to"]) in (before, after), (tz, doc)


def test_one_bound_makes_a_seven_day_window(srv):
    api = new_api(srv)
    doc = stats(api, **{"from": "2026-02-26"})
    assert (doc["from"], doc["to"]) == ("2026-02-26", "2026-03-04")
    doc = stats(api, to="2026-03-04", group="week")
    assert (doc["from"], doc["to"]) == ("2026-02-26", "2026-03-04")
    assert [p["start"] for p in doc["periods"]] == ["2026-02-23", "2026-03-02"]
    # empty values are as good as absent
    doc = stats(api, **{"from": "2026-02-26", "to": "", "group": "", "tz": ""})
    assert (doc["from"], doc["to"], doc["group"]) == ("2026-02-26", "2026-03-04", "day")


# --------------------------------------------------------------------------- limits and errors

def query(api, **params):
    return api.get("/api/v1/stats?" + urllib.parse.urlencode(params))


def test_range_too_large(srv):
    api = new_api(srv)
    assert_errors(query(api, **{"from": "2025-01-01", "to": "2026-01-02"}), [("to", "too_large")])
    assert_errors(query(api, **{"from": "2020-01-01", "to": "2026-01-01", "group": "month"}), [("to", "too_large")])


def test_range_reversed(srv):
    api = new_api(srv)
    assert_errors(query(api, **{"from": "2026-03-02", "to": "2026-03-01"}), [("to", "invalid_range")])


def test_bad_values(srv):
    api = new_api(srv)
    assert_errors(query(api, **{"from": "2026-02-30", "to": "yesterday", "group": "year"}),
                  [("from", "invalid_format"), ("to", "invalid_format"), ("group", "invalid_choice")])
    assert_errors(query(api, **{"from": "2026-3-1"}), [("from", "invalid_format")])
    assert_errors(query(api, group="Week"), [("group", "invalid_choice")])


def test_unknown_time_zone(srv):
    api = new_api(srv)
    # POSIX rules such as UTC+3 (which PostgreSQL would read as three hours west) are not zones
    for tz in ("Mars/Olympus_Mons", "Europe/Moskva", "x" * 65, "'; DROP TABLE pomodoros; --", "Europe/../etc",
               "UTC+3", "+03:00", "<+03>-3", "../../etc/passwd"):
        problem(query(api, tz=tz), 400, "unknown_time_zone")
    doc = problem(api.get("/api/v1/stats?tz=Nowhere", headers={"Accept-Language": "ru"}), 400, "unknown_time_zone")
    assert any("\u0400" <= ch <= "\u04ff" for ch in doc["detail"]), doc
    # a query error is reported before the zone is looked up
    assert_errors(query(api, tz="Nowhere", group="year"), [("group", "invalid_choice")])


def test_known_time_zones(srv):
    api = new_api(srv)
    for tz in ("UTC", "Europe/Moscow", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe", "Etc/GMT-3",
               "EST5EDT", "America/Port-au-Prince"):
        assert stats(api, tz=tz, **{"from": "2026-01-01", "to": "2026-01-02"})["to"] == "2026-01-02"


def test_concurrent_requests(srv):
    """Several workers answer at once; each answer is whole and the same."""
    api = new_api(srv)
    focus(api, "2026-08-03T10:00:00Z", 1234)
    results = []

    def run():
        results.append(stats(api, **{"from": "2026-08-01", "to": "2026-08-31", "group": "week",
                                     "tz": "Europe/Moscow"}))

    threads = [threading.Thread(target=run) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 8 and all(r == results[0] for r in results)
    assert results[0]["total_focus_seconds"] == 1234


@pytest.mark.parametrize("group,count", [("day", 31), ("week", 6), ("month", 1)])
def test_period_counts(srv, group, count):
    api = new_api(srv)
    doc = stats(api, **{"from": "2026-08-01", "to": "2026-08-31", "group": group})
    assert len(doc["periods"]) == count, doc
