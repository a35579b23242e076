"""Seed 000 compatibility beyond the route-by-route tests: defects found by trying it (issue 19)
and the rules of compat as an internal redirect (issue 16): naive date-times taken as UTC, a
password that starts with a blank, the internal addresses no client reaches, a GET that runs
as an /api/v1 POST, refusals of the route's own authentication in Russian.

docs/seed000.md §9-§10 has the choices (D10, D11 for the times)."""
import uuid

import requests

from test_compat_seed000 import (CYRILLIC, ORIGIN, _mailbox, browser, compat, detail, new_user, ok,  # noqa: F401
                                 plain, req, set_cookies)

INTERNAL = ["/internal/seed000/balance-wheel", "/internal/seed000/balance-wheel/1", "/internal/seed000/reverify"]


def test_planner_takes_a_naive_time_as_utc(compat):
    """The seed's own backend took "2026-12-03T09:00:00" (no zone): it is UTC, answered as written."""
    s = new_user(compat)
    body = {"dailyTaskName": "Планёрка", "taskStart": "2026-12-03T09:00:00", "taskEnd": "2026-12-03T10:30:00",
            "taskColor": "color-1"}
    e = ok(req(s, "POST", "/api/entryDailyPlanner/insert_entry", body), (201,))
    assert (e["taskStart"], e["taskEnd"]) == ("2026-12-03T09:00:00", "2026-12-03T10:30:00"), e
    up = ok(req(s, "PUT", "/api/entryDailyPlanner/" + e["idEntry"],
                dict(body, taskStart="2026-12-04T06:00:00.250", taskEnd="2026-12-04 08:15:00")))
    assert up["taskStart"].startswith("2026-12-04T06:00:00") and up["taskEnd"] == "2026-12-04T08:15:00", up
    # the same instant in /api/v1, in UTC
    token = s.cookies.get("access_token")
    v1 = requests.get(compat.url + "/api/v1/planner/entries/" + e["idEntry"], timeout=10,
                      headers={"Authorization": "Bearer " + token}).json()
    assert v1["end"].startswith("2026-12-04T08:15:00") and v1["end"].endswith("Z"), v1
    # a zone given is kept: 12:00 at +03:00 is 09:00 UTC
    e2 = ok(req(s, "POST", "/api/entryDailyPlanner/insert_entry",
                dict(body, taskStart="2026-12-05T12:00:00+03:00", taskEnd="2026-12-05T13:00:00+03:00")), (201,))
    assert e2["taskStart"] == "2026-12-05T09:00:00", e2
    for bad in ("2026-12-03T25:00:00", "2026-12-03", "03.12.2026 09:00"):
        r = req(s, "POST", "/api/entryDailyPlanner/insert_entry", dict(body, taskStart=bad))
        assert r.status_code == 422, (bad, r.status_code, r.text)
        detail(r)


def test_gantt_takes_a_naive_time_as_utc(compat):
    s = new_user(compat)
    t = ok(req(s, "POST", "/api/ganttChartTasks/insert_gantt_task", {"nameOfTask": "Сроки"}), (201,))
    d = ok(req(s, "POST", "/api/ganttChartTaskDuration/insert_duration/" + t["idGanttTask"],
               {"ganttTaskStart": "2026-12-01T00:00:00", "ganttTaskEnd": "2026-12-05T23:30:00"}), (201,))
    assert (d["ganttTaskStart"], d["ganttTaskEnd"]) == ("2026-12-01T00:00:00", "2026-12-05T00:00:00"), d
    # a local midnight east of UTC is the day before in UTC, as the seed's browsers send it
    d2 = ok(req(s, "PUT", "/api/ganttChartTaskDuration/" + d["idGanttDuration"],
                {"ganttTaskStart": "2026-12-03T00:00:00+03:00", "ganttTaskEnd": "2026-12-07T00:00:00"}))
    assert (d2["ganttTaskStart"], d2["ganttTaskEnd"]) == ("2026-12-02T00:00:00", "2026-12-07T00:00:00"), d2


def test_a_password_that_starts_with_a_blank_can_be_changed(compat):
    """The proof of the checked password kept its leading blanks only since issue 19: before, the
    change answered 403 "check the old password first" however often it was checked."""
    s = browser(compat)
    tag = uuid.uuid4().hex[:10]
    s.login, s.email = "blank" + tag, "blank%s@example.com" % tag
    s.password = "  Passw0rd!" + tag
    ok(req(s, "POST", "/api/auth/register", {"firstName": "Анна", "lastName": "Вергеева", "patronymic": "",
                                             "email": s.email, "login": s.login, "password": s.password,
                                             "passwordConfirm": s.password}), (201,))
    code = _mailbox.Mailbox().wait_code(s.email, 1, timeout=10)
    ok(req(s, "POST", "/email/verify_mail_not_auth", {"email": s.email, "code": code}))
    ok(req(s, "POST", "/api/auth/login", {"login": s.login, "password": s.password}))
    check = "/api/users/check_password/" + requests.utils.quote(s.password, safe="")
    r = req(s, "GET", "/api/users/check_password/" + requests.utils.quote(s.password.strip(), safe=""))
    assert r.status_code == 400, ("the blanks are part of it", r.text)
    assert ok(req(s, "GET", check)) == {"statusPassword": "true"}
    ok(req(s, "PUT", "/api/users/update_user_password", {"password": "N3w-passw0rd!", "passwordConfirm": "N3w-passw0rd!"}))
    ok(req(browser(compat), "POST", "/api/auth/login", {"login": s.login, "password": "N3w-passw0rd!"}))


def test_no_client_reaches_the_internal_addresses(compat, plain):
    """The 0..100 wheel and the profile's mail live at internal addresses (ROUTE_INTERNAL): the
    seed's routes hand requests on to them; a client asking for them is not told they exist."""
    s = new_user(compat)
    for server, who in ((compat, s), (plain, browser(plain))):
        for path in INTERNAL:
            for method in ("GET", "POST", "PATCH", "DELETE"):
                r = req(who, method, path, {"sphere": "x", "value": 50, "email": s.email} if method != "GET" else None)
                assert r.status_code == 404, (server.url, method, path, r.status_code, r.text)
                assert "Allow" not in r.headers, r.headers
            r = requests.options(server.url + path, timeout=10, headers={
                "Origin": ORIGIN, "Access-Control-Request-Method": "POST"})
            assert r.status_code == 404, (path, r.status_code)
    assert ok(req(s, "GET", "/api/balanceCircle/circle_data")) == {"stats": []}


def test_a_get_that_runs_as_a_post_is_as_safe_as_sent(compat):
    """GET /api/auth/logout and check_password run as /api/v1 POSTs: with the cookie and without
    an Origin (a link the user follows) they answer as the seed's GETs did, not 403."""
    s = new_user(compat)
    bare = requests.Session()
    bare.cookies.update(s.cookies)
    r = bare.get(compat.url + "/api/users/check_password/" + requests.utils.quote(s.password, safe=""), timeout=10)
    assert r.status_code == 200 and r.json() == {"statusPassword": "true"}, r.text
    r = bare.get(compat.url + "/api/auth/logout", timeout=10)
    assert r.status_code == 200 and r.json() == {"status": "success"}, r.text
    assert "logged_in" in set_cookies(r)


def test_the_routes_own_refusals_are_in_russian(compat):
    """A write with the cookie from another origin is refused by the route's authentication, before
    its handler runs: the filter still answers {"detail"} in Russian, whatever the client's language."""
    s = new_user(compat)
    r = requests.post(compat.url + "/api/tasksList/insert_task_in_list", json={"textOfItem": "x", "isChecked": False},
                      cookies=s.cookies, timeout=10, headers={"Origin": "http://evil.example", "Accept-Language": "en"})
    assert r.status_code == 403, r.text
    assert "Access-Control-Allow-Origin" not in r.headers, r.headers
    assert CYRILLIC.search(r.json()["detail"]), r.text
    r = requests.get(compat.url + "/api/users/me", timeout=10, headers={
        "Origin": ORIGIN, "Accept-Language": "en", "Authorization": "Bearer x.y.z"})
    assert r.status_code == 401 and detail(r) == "Токен недействителен или истёк", r.text


def test_a_body_sent_as_text_is_read_as_json(compat):
    """The seed's bodies are read as JSON whatever their type says (as before issue 16): the body
    handed on is JSON and says so."""
    s = new_user(compat)
    r = s.post(compat.url + "/api/tasksList/insert_task_in_list", data='{"textOfItem": "t", "isChecked": true}',
               headers={"Content-Type": "text/plain"}, timeout=10)
    assert ok(r, (201,))["isChecked"] is True
