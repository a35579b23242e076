"""GET /api/v1/achievements: the catalogue with each one's state, unlocked by the write that earns it.

Sessions and tasks are made through the API; an achievement must show as unlocked in the very
next request after that write's answer (it is recorded in the write's own transaction)."""

import calendar
import datetime
import re
import threading
import time

from conftest import psql
from planning_helpers import Api, new_api, ok, problem, srv  # noqa: F401 (srv is a fixture)

KEYS = {"code", "title", "description", "unlocked_at", "progress", "goal"}
GOALS = {"first_focus": 1, "focus_sessions_10": 10, "focus_hours_10": 36000, "streak_7_days": 7,
         "tasks_done_100": 100}
TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
CYRILLIC = re.compile("[\u0400-\u04ff]")


def achievements(api, lang=None):
    r = api.get("/api/v1/achievements", headers={"Accept-Language": lang} if lang else None)
    doc = ok(r)
    assert isinstance(doc, list), doc
    for a in doc:
        assert set(a) == KEYS, a
        assert 0 <= a["progress"] <= a["goal"], a
        assert a["unlocked_at"] is None or TIME_RE.match(a["unlocked_at"]), a
    return {a["code"]: a for a in doc}


def focus(api, started_at, seconds=1500, completed=True, kind="focus"):
    start = datetime.datetime.strptime(started_at, "%Y-%m-%dT%H:%M:%SZ")
    end = start + datetime.timedelta(seconds=seconds)
    return ok(api.post("/api/v1/pomodoros", {"kind": kind, "started_at": started_at, "completed": completed,
                                             "ended_at": end.strftime("%Y-%m-%dT%H:%M:%SZ")}), 201)


def day_at(day, hour=9):
    return "%sT%02d:00:00Z" % (day, hour)


def assert_recent(stamp):
    t = calendar.timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ"))
    assert abs(t - time.time()) < 600, stamp


def assert_locked(state, code, progress):
    assert state[code]["unlocked_at"] is None and state[code]["progress"] == progress, state[code]


def assert_unlocked(state, code):
    a = state[code]
    assert a["unlocked_at"] is not None and a["progress"] == a["goal"], a
    assert_recent(a["unlocked_at"])


# --------------------------------------------------------------------------- the catalogue

def test_requires_a_token(srv):
    problem(Api(srv).get("/api/v1/achievements"), 401)


def test_catalogue_of_a_new_user(srv):
    api = new_api(srv)
    r = api.get("/api/v1/achievements")
    doc = ok(r)
    assert isinstance(doc, list)  # a bare array, not a list envelope
    codes = [a["code"] for a in doc]
    assert set(codes) >= set(GOALS) and len(set(codes)) == len(codes), codes
    for a in doc:
        assert set(a) == KEYS, a
        assert a["unlocked_at"] is None and a["progress"] == 0, a
        assert isinstance(a["title"], str) and a["title"] and isinstance(a["description"], str) and a["description"]
        assert not CYRILLIC.search(a["title"] + a["description"]), a
        if a["code"] in GOALS:
            assert a["goal"] == GOALS[a["code"]], a
    # the same catalogue, in the same order, in Russian
    ru = ok(api.get("/api/v1/achievements", headers={"Accept-Language": "ru-RU,ru;q=0.9,en;q=0.5"}))
    assert [a["code"] for a in ru] == codes
    for a in ru:
        assert CYRILLIC.search(a["title"]) and CYRILLIC.search(a["description"]), a


# --------------------------------------------------------------------------- focus sessions

def test_first_focus_session(srv):
    api = new_api(srv)
    focus(api, day_at("2026-06-01"), completed=False)
    focus(api, day_at("2026-06-01", 10), kind="short_break")
    focus(api, day_at("2026-06-01", 11), kind="long_break")
    state = achievements(api)
    assert_locked(state, "first_focus", 0)
    # completing a session later (an update) unlocks it
    p = ok(api.post("/api/v1/pomodoros", {"started_at": day_at("2026-06-01", 12)}), 201)
    assert_locked(achievements(api), "first_focus", 0)
    ok(api.patch("/api/v1/pomodoros/%d" % p["id"], {"ended_at": day_at("2026-06-01", 13), "completed": True}))
    state = achievements(api)
    assert_unlocked(state, "first_focus")
    assert_locked(state, "focus_sessions_10", 1)
    assert_locked(state, "focus_hours_10", 3600)
    assert_locked(state, "streak_7_days", 1)


def test_ten_focus_sessions(srv):
    api = new_api(srv)
    for i in range(9):
        focus(api, day_at("2026-06-02", i))
    state = achievements(api)
    assert_locked(state, "focus_sessions_10", 9)
    assert_unlocked(state, "first_focus")
    focus(api, day_at("2026-06-02", 9), kind="short_break")
    assert_locked(achievements(api), "focus_sessions_10", 9)
    focus(api, day_at("2026-06-02", 10))
    assert_unlocked(achievements(api), "focus_sessions_10")


def test_ten_sessions_completed_at_once(srv):
    """Ten sessions written concurrently still see each other: the tenth unlocks it."""
    api = new_api(srv)
    errors = []

    def run(i):
        try:
            focus(api, day_at("2026-06-03", i))
        except AssertionError as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert_unlocked(achievements(api), "focus_sessions_10")


def test_ten_focus_hours(srv):
    api = new_api(srv)
    focus(api, "2026-06-04T00:00:00Z", 36000, completed=False)  # not completed: does not count
    focus(api, "2026-06-05T00:00:00Z", 36000 - 1)               # long sessions: 9:59:59
    state = achievements(api)
    assert_locked(state, "focus_hours_10", 35999)
    focus(api, "2026-06-06T00:00:00Z", 1)
    state = achievements(api)
    assert_unlocked(state, "focus_hours_10")
    assert_locked(state, "focus_sessions_10", 2)


def test_seven_day_streak(srv):
    api = new_api(srv)
    d0 = datetime.date(2026, 6, 1)
    # days 0..5 and 7: six in a row, then a gap
    for i in list(range(6)) + [7]:
        focus(api, day_at((d0 + datetime.timedelta(days=i)).isoformat()))
    focus(api, day_at("2026-06-01", 15))  # a second session the same day adds no day
    focus(api, day_at((d0 + datetime.timedelta(days=6)).isoformat()), kind="short_break")
    focus(api, day_at((d0 + datetime.timedelta(days=6)).isoformat(), 10), completed=False)
    assert_locked(achievements(api), "streak_7_days", 6)
    # the missing day joins the two runs into eight days
    focus(api, day_at((d0 + datetime.timedelta(days=6)).isoformat(), 23))
    assert_unlocked(achievements(api), "streak_7_days")


def test_streak_days_are_utc_days(srv):
    api = new_api(srv)
    focus(api, "2026-07-01T23:30:00Z", 60)
    focus(api, "2026-07-02T00:30:00Z", 60)  # an hour later, but the next UTC day
    assert_locked(achievements(api), "streak_7_days", 2)


def test_unlocked_once_and_kept(srv):
    api = new_api(srv)
    p = focus(api, day_at("2026-06-10"))
    first = achievements(api)["first_focus"]
    assert_unlocked({"first_focus": first}, "first_focus")
    time.sleep(1.1)
    q = focus(api, day_at("2026-06-11"))
    assert achievements(api)["first_focus"]["unlocked_at"] == first["unlocked_at"]
    # the sessions that earned it are gone: the achievement stays, at its goal
    for gone in (p, q):
        assert api.delete("/api/v1/pomodoros/%d" % gone["id"]).status == 204
    assert achievements(api)["first_focus"] == first
    uid = api.user["id"]
    assert psql("SELECT count(*) FROM user_achievements WHERE user_id = %d AND code = 'first_focus'" % uid) == "1"


def test_another_users_work_is_not_mine(srv):
    me, other = new_api(srv), new_api(srv)
    focus(other, day_at("2026-06-12"))
    assert_unlocked(achievements(other), "first_focus")
    assert_locked(achievements(me), "first_focus", 0)


# --------------------------------------------------------------------------- tasks

def test_hundred_tasks_done_by_updates(srv):
    api = new_api(srv)
    ids = [ok(api.post("/api/v1/tasks", {"title": "task %d" % i}), 201)["id"] for i in range(100)]
    assert_locked(achievements(api), "tasks_done_100", 0)
    for i in ids[:99]:
        ok(api.patch("/api/v1/tasks/%d" % i, {"status": "done"}))
    ok(api.patch("/api/v1/tasks/%d" % ids[99], {"status": "in_progress"}))
    assert_locked(achievements(api), "tasks_done_100", 99)
    ok(api.patch("/api/v1/tasks/%d" % ids[99], {"status": "done"}))
    state = achievements(api)
    assert_unlocked(state, "tasks_done_100")
    # undone and done again: still unlocked once, at the same time
    ok(api.patch("/api/v1/tasks/%d" % ids[0], {"status": "todo"}))
    ok(api.patch("/api/v1/tasks/%d" % ids[0], {"status": "done"}))
    assert achievements(api)["tasks_done_100"] == state["tasks_done_100"]


def test_hundred_tasks_created_done(srv):
    api = new_api(srv)
    for i in range(99):
        ok(api.post("/api/v1/tasks", {"title": "done %d" % i, "status": "done"}), 201)
    ok(api.post("/api/v1/tasks", {"title": "not yet"}), 201)
    assert_locked(achievements(api), "tasks_done_100", 99)
    ok(api.post("/api/v1/tasks", {"title": "the hundredth", "status": "done"}), 201)
    assert_unlocked(achievements(api), "tasks_done_100")


def test_writes_that_cannot_unlock_run_no_check(srv):
    """The triggers carry WHEN clauses, so creating a todo task (the benchmarked write) or an
    unfinished session does not even call the check."""
    defs = psql("SELECT string_agg(pg_get_triggerdef(t.oid), E'\\n') FROM pg_trigger t "
                "WHERE NOT t.tgisinternal AND t.tgrelid IN ('tasks'::regclass, 'pomodoros'::regclass) "
                "AND t.tgname LIKE '%achievements%'")
    lines = [line for line in defs.splitlines() if line]
    assert len(lines) >= 2, defs
    for line in lines:
        assert " WHEN " in line, line
