"""Live changes (issue 18, API.md "Live changes"): every committed write to a resource the caller
owns is a `change` event on every stream of that user, with the object exactly as GET answers
it; the shop's events on staff streams; one id sequence across messages and changes, resumable
with Last-Event-ID across restarts and instances; `reset` past EVENTS_RETENTION; `types=`.

Timing: an event must arrive within LATENCY of the answer of the write that made it."""

import json
import threading
import time
import uuid

import pytest

from conftest import LockHolder, http, metric_samples, metric_value, psql
from messages_helpers import (EVENTS, EventStream, as_server, login, module_server, new_user, send, server_with,
                              wait_events_ready)
from planning_helpers import field_errors, problem

LATENCY = 1.0
API = "/api/v1"


@pytest.fixture(scope="module")
def srv():
    yield from module_server(ready=wait_events_ready, WORKERS=2)


def change(stream, timeout=LATENCY):
    """The next event, which must be a change: (event id, its data)."""
    ev = stream.next_event(timeout)
    assert ev["event"] == "change", ev
    assert ev["id"] and ev["id"].isdigit(), ev
    return int(ev["id"]), json.loads(ev["data"])


def expect_change(streams, resource, op, obj_id, get_body=None):
    """Each stream's next event tells of this write; data is GET's answer, the same bytes."""
    ids = set()
    for s in streams:
        raw = s.next_event(LATENCY)
        assert raw["event"] == "change", raw
        ev = json.loads(raw["data"])
        assert (ev["resource"], ev["op"], ev["id"]) == (resource, op, obj_id), ev
        assert set(ev) == {"resource", "op", "id", "data", "at"}, ev
        if get_body is None:
            assert ev["data"] is None, ev
        else:
            assert ev["data"] == json.loads(get_body), (ev, get_body)
            assert get_body.decode() in raw["data"], "not GET's own text: %r / %r" % (raw["data"], get_body)
        ids.add(raw["id"])
    assert len(ids) == 1, "one event, one id on every stream: %s" % ids
    return int(ids.pop())


def sessions(srv, api, n=2, **kw):
    """n streams of api's user, each on a session of its own."""
    tokens = [api.token] + [login(srv, api.email) for _ in range(n - 1)]
    return [EventStream(srv.port, t, **kw) for t in tokens]


# (collection, item prefix (the event's resource), body to create, a PATCH, parent builder)
def _parents(api):
    column = api.post(API + "/kanban/columns", {"title": "col %f" % time.time()}).json()
    card = api.post(API + "/kanban/cards", {"column_id": column["id"], "title": "card"}).json()
    gantt = api.post(API + "/gantt/tasks", {"title": "g"}).json()
    return column, card, gantt


def resources(api):
    column, card, gantt = _parents(api)
    return [
        ("/lists", "lists", {"name": "Groceries"}, {"name": "Food"}),
        ("/tasks", "tasks", {"title": "Write", "priority": 2}, {"status": "done"}),
        ("/balance-wheel", "balance-wheel", {"sphere": "health %f" % time.time(), "value": 5}, {"value": 7}),
        ("/kanban/columns", "kanban/columns", {"title": "c %f" % time.time()}, {"position": 3}),
        ("/kanban/cards", "kanban/cards", {"column_id": column["id"], "title": "t"}, {"title": "moved"}),
        ("/kanban/cards/%d/items" % card["id"], "kanban/items", {"text": "step"}, {"done": True}),
        ("/gantt/tasks", "gantt/tasks", {"title": "phase"}, {"progress": 40}),
        ("/gantt/tasks/%d/durations" % gantt["id"], "gantt/durations",
         {"start_date": "2026-12-01", "end_date": "2026-12-03"}, {"end_date": "2026-12-09"}),
        ("/planner/entries", "planner/entries",
         {"title": "call", "start": "2026-12-05T09:00:00Z", "end": "2026-12-05T09:30:00Z"}, {"done": True}),
        ("/categories", "categories", {"name": "work %f" % time.time()}, {"color": "#aabbcc"}),
        ("/pomodoro/presets", "pomodoro/presets", {"name": "classic"}, {"cycles": 6}),
        ("/pomodoros", "pomodoros", {"started_at": "2026-12-05T09:00:00Z"}, {"completed": True}),
    ]


def test_each_write_reaches_the_users_other_sessions_with_gets_json(srv):
    a, other = new_user(srv), new_user(srv)
    streams = sessions(srv, a, 2)
    stranger = EventStream(srv.port, other.token)
    try:
        res = resources(a)
        for _ in range(3):  # the parents' own events
            change(streams[0]), change(streams[1])
        for collection, name, body, patch in res:
            r = a.post(API + collection, body)
            assert r.status == 201, r
            obj = r.json()
            item = "%s/%s/%d" % (API, name, obj["id"])
            expect_change(streams, name, "created", obj["id"], a.get(item).body)
            assert a.patch(item, patch).status == 200
            expect_change(streams, name, "updated", obj["id"], a.get(item).body)
            put = dict(body, **patch)
            assert a.put(item, put).status == 200
            expect_change(streams, name, "updated", obj["id"], a.get(item).body)
            assert a.delete(item).status == 204
            expect_change(streams, name, "deleted", obj["id"])
        assert stranger.quiet_for(0.3), "another user's stream saw a change"
        for s in streams:
            assert s.quiet_for(0.2), "an event too many"
    finally:
        for s in streams + [stranger]:
            s.close()


def test_an_empty_patch_changes_nothing_and_tells_nothing(srv):
    a = new_user(srv)
    with EventStream(srv.port, a.token) as s:
        t = a.post(API + "/tasks", {"title": "same"}).json()
        change(s)
        assert a.patch(API + "/tasks/%d" % t["id"], {}).status == 200
        assert s.quiet_for(0.3)


def test_profile_and_avatar_are_users_me_events(srv):
    a = new_user(srv)
    streams = sessions(srv, a, 2)
    try:
        assert a.patch(API + "/users/me", {"name": "Ann Live"}).status == 200
        expect_change(streams, "users/me", "updated", a.id, a.get(API + "/users/me").body)
        png = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                            "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082")
        r = a.req("PUT", API + "/users/me/avatar", raw=png, headers={"Content-Type": "image/png"})
        assert r.status == 200, r
        expect_change(streams, "users/me", "updated", a.id, a.get(API + "/users/me").body)
        assert a.delete(API + "/users/me/avatar").status == 204
        expect_change(streams, "users/me", "updated", a.id, a.get(API + "/users/me").body)
    finally:
        for s in streams:
            s.close()


def test_cascades_give_a_deleted_event_per_row(srv):
    a = new_user(srv)
    with EventStream(srv.port, a.token) as s:
        lst = a.post(API + "/lists", {"name": "L"}).json()
        tasks = [a.post(API + "/tasks", {"title": "t%d" % i, "list_id": lst["id"]}).json() for i in range(3)]
        column = a.post(API + "/kanban/columns", {"title": "cascade %f" % time.time()}).json()
        card = a.post(API + "/kanban/cards", {"column_id": column["id"], "title": "c"}).json()
        items = [a.post(API + "/kanban/cards/%d/items" % card["id"], {"text": "i%d" % i}).json() for i in range(2)]
        gt = a.post(API + "/gantt/tasks", {"title": "g"}).json()
        dur = a.post(API + "/gantt/tasks/%d/durations" % gt["id"],
                     {"start_date": "2026-12-01", "end_date": "2026-12-02"}).json()
        for _ in range(1 + 3 + 2 + 2 + 2):
            assert change(s)[1]["op"] == "created"

        def deleted(n):
            got = set()
            last = 0
            for _ in range(n):
                eid, ev = change(s)
                assert eid > last, "ids increase"
                last = eid
                assert ev["op"] == "deleted" and ev["data"] is None, ev
                got.add((ev["resource"], ev["id"]))
            assert s.quiet_for(0.3)
            return got

        assert a.delete(API + "/lists/%d" % lst["id"]).status == 204
        assert deleted(4) == {("lists", lst["id"])} | {("tasks", t["id"]) for t in tasks}
        assert a.delete(API + "/kanban/columns/%d" % column["id"]).status == 204
        assert deleted(4) == {("kanban/columns", column["id"]), ("kanban/cards", card["id"])} | \
            {("kanban/items", i["id"]) for i in items}
        assert a.delete(API + "/gantt/tasks/%d" % gt["id"]).status == 204
        assert deleted(2) == {("gantt/tasks", gt["id"]), ("gantt/durations", dur["id"])}


def test_a_category_delete_is_its_own_event_only(srv):
    """Rows whose category_id a delete sets to null get no event: the category's deleted event
    says it (README, "Live changes")."""
    a = new_user(srv)
    with EventStream(srv.port, a.token) as s:
        cat = a.post(API + "/categories", {"name": "c %f" % time.time()}).json()
        t = a.post(API + "/tasks", {"title": "t", "category_id": cat["id"]}).json()
        change(s), change(s)
        assert a.delete(API + "/categories/%d" % cat["id"]).status == 204
        eid, ev = change(s)
        assert (ev["resource"], ev["op"], ev["id"]) == ("categories", "deleted", cat["id"])
        assert s.quiet_for(0.3)
        assert a.get(API + "/tasks/%d" % t["id"]).json()["category_id"] is None


def test_failed_writes_give_no_event(srv):
    a, b = new_user(srv), new_user(srv)
    with EventStream(srv.port, a.token) as s:
        cat = a.post(API + "/categories", {"name": "taken"}).json()
        b_list = b.post(API + "/lists", {"name": "b's"}).json()
        change(s)
        problem(a.post(API + "/tasks", {"title": ""}), 422)                          # body check
        problem(a.post(API + "/categories", {"name": "taken"}), 409)                 # unique, in the database
        problem(a.post(API + "/tasks", {"title": "x", "list_id": b_list["id"]}), 422)  # foreign key: rolled back
        problem(a.patch(API + "/categories/%d" % cat["id"], {"name": ""}), 422)
        problem(a.patch(API + "/tasks/9000000000000000000", {"title": "x"}), 404)
        problem(a.delete(API + "/lists/%d" % b_list["id"]), 404)                    # another user's
        problem(a.post(API + "/gantt/tasks/9000000000000000000/durations",
                       {"start_date": "2026-12-01", "end_date": "2026-12-02"}), 404)
        e = a.post(API + "/planner/entries", {"title": "e", "start": "2026-12-05T10:00:00Z",
                                               "end": "2026-12-05T11:00:00Z"}).json()
        change(s)
        problem(a.patch(API + "/planner/entries/%d" % e["id"], {"end": "2026-12-05T09:00:00Z"}), 422)  # CHECK
        assert s.quiet_for(0.4), "a failed write produced an event"


def test_messages_and_changes_share_one_id_sequence(srv):
    a, b = new_user(srv), new_user(srv)
    with EventStream(srv.port, a.token) as s:
        ids = []
        for i in range(3):
            a.post(API + "/tasks", {"title": "t%d" % i})
            ids.append(change(s)[0])
            m = send(b, a, "m%d" % i)
            assert s.next_message(LATENCY) == m
            ids.append(m["id"])
        assert ids == sorted(ids) and len(set(ids)) == len(ids), ids


def test_types_filter(srv):
    a, b = new_user(srv), new_user(srv)
    only_changes = EventStream(srv.port, a.token, path=EVENTS + "?types=change")
    only_messages = EventStream(srv.port, a.token, path=EVENTS + "?types=message")
    both = EventStream(srv.port, a.token, path=EVENTS + "?types=message,change")
    try:
        m = send(b, a, "filtered")
        t = a.post(API + "/tasks", {"title": "filtered"}).json()
        assert only_messages.next_message(LATENCY) == m
        assert change(only_changes)[1]["id"] == t["id"]
        assert both.next_message(LATENCY) == m
        assert change(both)[1]["id"] == t["id"]
        assert only_changes.quiet_for(0.3) and only_messages.quiet_for(0.1)
    finally:
        for s in (only_changes, only_messages, both):
            s.close()
    for bad in ("nope", "", "change,", "messages"):
        r = EventStream(srv.port, a.token, path=EVENTS + "?types=" + bad, expect_ok=False)
        assert r.status == 422, (bad, r.status, r.error_body)
        assert r.error_json()["errors"][0]["field"] == "types"
        r.close()


def test_staff_see_the_shops_events_and_users_do_not(srv):
    staff, user = new_user(srv), new_user(srv)
    psql("UPDATE users SET role = 'staff' WHERE id = %d" % staff.id)
    staff.token = login(srv, staff.email)  # the role travels in the token
    staff_stream = EventStream(srv.port, staff.token)
    staff_changes = EventStream(srv.port, staff.token, path=EVENTS + "?types=change")
    user_stream = EventStream(srv.port, user.token, path=EVENTS + "?types=shop,message,change")
    try:
        form = user.post(API + "/shop/contact-forms", {"customer_name": "Ann", "phone_number": "+7900"})
        assert form.status == 201, form
        ev = staff_stream.next_event(LATENCY)
        assert ev["event"] == "contact_form_created" and json.loads(ev["data"]) == form.json(), ev
        assert user_stream.quiet_for(0.3) and staff_changes.quiet_for(0.1)
    finally:
        for s in (staff_stream, staff_changes, user_stream):
            s.close()


def test_resume_after_a_restart_misses_nothing_and_repeats_nothing(make_server):
    one = server_with(make_server, WORKERS=1)
    wait_events_ready(one)
    a = new_user(one)
    s = EventStream(one.port, a.token)
    seen = [a.post(API + "/tasks", {"title": "before"}).json()["id"]]
    last, ev = change(s)
    assert ev["id"] == seen[0]
    s.close()
    written = [a.post(API + "/tasks", {"title": "while away %d" % i}).json()["id"] for i in range(3)]
    one.stop()
    two = server_with(make_server, WORKERS=1)
    a2 = as_server(a, two)
    written += [a2.post(API + "/tasks", {"title": "after the restart %d" % i}).json()["id"] for i in range(2)]
    with EventStream(two.port, a.token, last_event_id=last) as s:
        got = [change(s, timeout=3)[1]["id"] for _ in written]
        assert got == written
        live = a2.post(API + "/tasks", {"title": "live"}).json()["id"]
        assert change(s)[1]["id"] == live
        assert s.quiet_for(0.3), "an event twice"


def test_a_write_on_one_instance_reaches_streams_on_another(make_server):
    one = server_with(make_server)
    two = server_with(make_server)
    wait_events_ready(one)
    wait_events_ready(two)
    a = new_user(one)
    on_two = [EventStream(two.port, a.token) for _ in range(3)]
    try:
        t = a.post(API + "/tasks", {"title": "from one"}).json()
        expect_change(on_two, "tasks", "created", t["id"], a.get(API + "/tasks/%d" % t["id"]).body)
    finally:
        for s in on_two:
            s.close()


def test_a_last_event_id_past_retention_gets_one_reset(make_server):
    s = server_with(make_server, WORKERS=1, EVENTS_RETENTION="1s")
    wait_events_ready(s)
    a = new_user(s)
    with EventStream(s.port, a.token) as st:
        a.post(API + "/tasks", {"title": "seen"})
        old, _ = change(st)
    a.post(API + "/tasks", {"title": "missed, then pruned"})
    missed = int(psql("SELECT max(id) FROM events WHERE user_id = %d" % a.id))
    deadline = time.monotonic() + 10
    while int(psql("SELECT pruned_through FROM events_horizon")) < missed:
        assert time.monotonic() < deadline, "events were not pruned"
        time.sleep(0.2)
    with EventStream(s.port, a.token, last_event_id=old) as st:
        ev = st.next_event(LATENCY)
        assert ev["event"] == "reset" and int(ev["id"]) >= old, ev
        t = a.post(API + "/tasks", {"title": "new"}).json()
        eid, data = change(st)
        assert data["id"] == t["id"] and eid > int(ev["id"])
        assert st.quiet_for(0.3)
    # a reconnect from the reset's id resumes normally
    with EventStream(s.port, a.token, last_event_id=ev["id"]) as st:
        assert change(st)[1]["id"] == t["id"]


def test_seed000_writes_are_change_events_too(make_server):
    """The compat routes write through /api/v1, and their one statement of their own (a Gantt
    duration moved to another task) writes its change event as the engine's do; the 0..100
    wheel's internal resource names its changes as /api/v1's wheel."""
    from conftest import http
    from messages_helpers import ORIGIN
    s = server_with(make_server, COMPAT_SEED000="true")
    wait_events_ready(s)
    a = new_user(s)

    def seed(method, path, body=None):
        st, _, out = http(method, s.url + path, {"Cookie": "access_token=" + a.token, "Origin": ORIGIN,
                                                "Content-Type": "application/json"},
                          json.dumps(body) if body is not None else None)
        assert st in (200, 201), (method, path, st, out)
        return json.loads(out)

    with EventStream(s.port, a.token) as st:
        t1 = seed("POST", "/api/ganttChartTasks/insert_gantt_task", {"nameOfTask": "one"})
        t2 = seed("POST", "/api/ganttChartTasks/insert_gantt_task", {"nameOfTask": "two"})
        for t in (t1, t2):
            tid = int(t["idGanttTask"])
            expect_change([st], "gantt/tasks", "created", tid, a.get(API + "/gantt/tasks/%d" % tid).body)
        d = seed("POST", "/api/ganttChartTaskDuration/insert_duration/" + t1["idGanttTask"],
                 {"ganttTaskStart": "2026-12-01T00:00:00.000Z", "ganttTaskEnd": "2026-12-05T00:00:00.000Z"})
        did = int(d["idGanttDuration"])
        assert change(st)[1]["op"] == "created"
        seed("PUT", "/api/ganttChartTaskDuration/" + d["idGanttDuration"],
             {"ganttTaskStart": "2026-12-03T00:00:00.000Z", "ganttTaskEnd": "2026-12-07T00:00:00.000Z",
              "ganttTaskId": t2["idGanttTask"]})
        moved = change(st)[1]
        assert (moved["resource"], moved["op"], moved["id"]) == ("gantt/durations", "updated", did), moved
        assert moved["data"]["task_id"] == int(t2["idGanttTask"]), moved
        dated = change(st)[1]
        now = a.get(API + "/gantt/durations/%d" % did).json()
        assert dated["data"] == now and now["start_date"] == "2026-12-03", (dated, now)
        # the seed's 0..100 wheel is an internal route on /api/v1's table: its changes are balance-wheel's
        w = seed("POST", "/api/balanceCircle/insert_value", {"labelItem": "health", "value": 60})
        wid = int(w["idBalance"])
        expect_change([st], "balance-wheel", "created", wid, a.get(API + "/balance-wheel/%d" % wid).body)
        assert st.quiet_for(0.3)


def test_the_document_describes_the_stream(srv):
    from conftest import http
    st, _, body = http("GET", srv.url + "/openapi.json")
    op = json.loads(body)["paths"]["/api/v1/events"]["get"]
    assert [p["name"] for p in op["parameters"]] == ["types"], op
    assert {"200", "401", "422", "429"} <= set(op["responses"]), op
    for word in ("change", "order_created", "reset", "EVENTS_RETENTION", "types"):
        assert word in op["description"], word


def test_reads_and_pruning_walk_the_id_index_under_generic_plans(srv):
    """The pool asks for generic plans, which guess `id > $x` at a third of the table: a read's
    "anything newer?" and a prune's DELETE once scanned all of events each time (0.8 s at
    460 000 rows: 0016_events_plans.sql). Counted by the transaction's own statistics, not timed (srv:
    a server has applied the migrations)."""
    out = psql("""
        BEGIN;
        SET LOCAL plan_cache_mode = force_generic_plan;
        SELECT pg_advisory_xact_lock(hashtext('events_prune')); -- a server's pruner may be at work
        INSERT INTO events (user_id, id, settle, kind, body, created_at)
        SELECT -7, -i - 1000000000, '1'::xid8, 'change', '{}', now() - interval '3 days'
          FROM generate_series(1, 20000) i;
        ANALYZE events;
        SELECT 'before', seq_scan FROM pg_stat_xact_user_tables WHERE relname = 'events';
        SELECT count(*) FROM events_fetch((SELECT max(id) FROM events), '{-7}', '{change}', 200);
        SELECT 'pruned', events_prune(86400000, 500);
        SELECT 'after', seq_scan FROM pg_stat_xact_user_tables WHERE relname = 'events';
        ROLLBACK;""")
    rows = dict(line.split("|", 1) for line in out.splitlines() if "|" in line)
    assert int(rows["pruned"]) == 500, out
    assert rows["after"] == rows["before"], "a sequential scan of events:\n" + out


def test_a_stream_does_not_wait_behind_requests_stuck_in_the_database(make_server):
    """A worker's event reads go on a connection of their own (db_pool.c's lane): with the one
    request connection of the worker stuck behind a lock, a change made elsewhere still arrives
    before the lock goes. Before the lane, the read queued behind the stuck request."""
    one = server_with(make_server, WORKERS=1, DB_POOL_SIZE=1, DB_PIPELINE_DEPTH=1)
    two = server_with(make_server, WORKERS=1)
    wait_events_ready(one)
    a, b = new_user(two), new_user(one)
    held = 8  # seconds; the change is due within a tick (1 s) of its write, the lock goes much later
    with EventStream(one.port, a.token) as s:
        hold = LockHolder(held, table="kanban_columns")
        answers = []
        stuck = threading.Thread(target=lambda: answers.append(b.post(API + "/kanban/columns", {"title": "stuck"})))
        stuck.start()
        try:
            waiting = ("SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                       "WHERE c.relname = 'kanban_columns' AND NOT l.granted")
            deadline = time.monotonic() + 3
            while psql(waiting) == "0":
                assert time.monotonic() < deadline, "the request never reached the lock"
                time.sleep(0.02)
            t = a.post(API + "/tasks", {"title": "made on two"}).json()
            _, ev = change(s, timeout=held)
            assert ev["id"] == t["id"], ev
            assert time.monotonic() < hold.granted_at + held - 3, "the change came only when the lock went"
            assert not answers, "the stuck request was answered before the lock went"
        finally:
            hold.wait()
            stuck.join(10)
        assert answers and answers[0].status == 201, answers


def test_creates_that_share_a_commit_answer_each_on_its_own(make_server):
    """Creates that wait for a connection go to PostgreSQL as one transaction (db_pool.c, shared
    commits). A bad one among them (a foreign key: the statement fails in the database) rolls that
    transaction back; each write then runs again alone. So every good create answers 201 and is
    there once with one event, every bad one answers 422 with no event, whatever it shared."""
    s = server_with(make_server, WORKERS=1, DB_POOL_SIZE=1)
    wait_events_ready(s)
    a, other = new_user(s), new_user(s)
    foreign = other.post(API + "/lists", {"name": "not a's"}).json()["id"]
    shared = reruns = 0
    with EventStream(s.port, a.token) as stream:
        for rnd in range(5):  # each round almost surely forms groups; five make it certain enough
            bodies = [{"title": "bad", "list_id": foreign} if i % 4 == 0 else {"title": "t%d-%d" % (rnd, i)}
                      for i in range(48)]
            answers = [None] * len(bodies)
            start = threading.Barrier(len(bodies))

            def post(i):
                start.wait()
                answers[i] = a.post(API + "/tasks", bodies[i])

            threads = [threading.Thread(target=post, args=(i,)) for i in range(len(bodies))]
            for t in threads:
                t.start()
            for t in threads:
                t.join(30)
            created = {}
            for body, r in zip(bodies, answers):
                if "list_id" in body:
                    assert [f for f, _ in field_errors(r)] == ["list_id"], r
                else:
                    assert r.status == 201, r
                    created[r.json()["id"]] = r.json()
            assert len(created) == 36
            seen = {}
            for _ in created:
                _, ev = change(stream, timeout=5)
                assert ev["resource"] == "tasks" and ev["op"] == "created", ev
                assert ev["id"] not in seen, "two events for one create: %s" % ev
                seen[ev["id"]] = ev["data"]
            assert seen == created
            assert stream.quiet_for(0.3), "an event for a create that failed"
            samples = metric_samples(http("GET", s.url + "/metrics")[2].decode())
            commits = metric_value(samples, "db_shared_commits_total")
            shared = metric_value(samples, "db_shared_commit_writes_total") - commits
            reruns = metric_value(samples, "db_shared_commit_reruns_total")
            if shared and reruns:
                break
    titles = psql("SELECT count(*), count(DISTINCT title) FROM tasks WHERE user_id = %d" % a.id)
    assert titles == "%d|%d" % (36 * (rnd + 1), 36 * (rnd + 1)), titles
    assert shared > 0, "no two creates ever shared a commit"
    assert reruns > 0, "no failed group was ever run again"


def test_a_create_whose_commit_fails_is_not_answered_as_made(make_server):
    """A deferred check runs at the commit, after the statement has answered. The pool hands the
    commit's error to the request (db_pool.c), so a client never gets 201 for a row that is not
    there, alone or with others in a shared commit; those others run again alone and are made."""
    s = server_with(make_server, WORKERS=1, DB_POOL_SIZE=1)
    wait_events_ready(s)
    tag = uuid.uuid4().hex[:8]
    bad = "refused at commit " + tag
    psql("""CREATE FUNCTION test_refuse_%s() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN IF NEW.title = '%s' THEN RAISE EXCEPTION 'refused'; END IF; RETURN NULL; END $$;
            CREATE CONSTRAINT TRIGGER test_refuse_%s AFTER INSERT ON tasks DEFERRABLE INITIALLY DEFERRED
                FOR EACH ROW EXECUTE FUNCTION test_refuse_%s()""" % (tag, bad, tag, tag))
    try:
        a = new_user(s)
        with EventStream(s.port, a.token) as stream:
            problem(a.post(API + "/tasks", {"title": bad}), 500)
            assert stream.quiet_for(0.3), "an event for a create that never committed"
            made = psql("SELECT count(*) FROM tasks WHERE user_id = %d" % a.id)
            assert made == "0", made
            for _ in range(5):
                titles = [bad if i % 4 == 0 else "t %d %s" % (i, uuid.uuid4().hex[:6]) for i in range(32)]
                answers = [None] * len(titles)
                start = threading.Barrier(len(titles))

                def post(i):
                    start.wait()
                    answers[i] = a.post(API + "/tasks", {"title": titles[i]})

                threads = [threading.Thread(target=post, args=(i,)) for i in range(len(titles))]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join(30)
                for title, r in zip(titles, answers):
                    if title == bad:
                        problem(r, 500)
                    else:
                        assert r.status == 201 and r.json()["title"] == title, r
                        assert change(stream, timeout=5)[1]["resource"] == "tasks"
                assert stream.quiet_for(0.3)
                samples = metric_samples(http("GET", s.url + "/metrics")[2].decode())
                if metric_value(samples, "db_shared_commit_reruns_total"):
                    break
            assert metric_value(samples, "db_shared_commit_reruns_total") > 0, "no commit was ever shared"
        got = psql("SELECT count(*) FILTER (WHERE title = '%s'), count(*) FROM tasks WHERE user_id = %d"
                   % (bad, a.id))
        assert got.split("|")[0] == "0", got
    finally:
        psql("DROP TRIGGER test_refuse_%s ON tasks; DROP FUNCTION test_refuse_%s()" % (tag, tag))
