"""The seed 000 compatibility routes (COMPAT_SEED000=true), route by route, with requests:
status, the seed's field names and envelopes, ids as strings, naive date-times, errors as
{"detail": "<Russian string>"}, CORS with credentials on every answer (errors, 204 and
preflights too), the cookies the seed's front end reads; and, with COMPAT_SEED000 unset,
404 on every compat route and /api/v1 as before.

The spec is docs/seed000.md (what github:vergeeva/react_management sends and reads, and
the choices D1-D19); test_compat_seed000_browser.py makes the same calls from a real browser.
"""
import importlib.util
import os
import re
import subprocess
import uuid

import pytest
import requests

from conftest import BIN, HERE, http, start_server

ORIGIN = "http://localhost:3000"
CYRILLIC = re.compile("[А-Яа-яЁё]")
NAIVE_DT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?$")
NOT_FOUND_IDS = [str(uuid.uuid4()), "1764756000000", "undefined"]


def _load_mailbox():
    # test/api/mailbox.py by its path: the standard library has a module of the same name.
    spec = importlib.util.spec_from_file_location("hg_test_mailbox", os.path.join(HERE, "mailbox.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


_mailbox = _load_mailbox()

# Every compat route: (method, path with {id} for a path parameter, needs a login).
ROUTES = [
    ("POST", "/api/auth/register", False),
    ("POST", "/api/auth/login", False),
    ("GET", "/api/auth/refresh", False),
    ("GET", "/api/auth/logout", True),
    ("POST", "/email/verify_mail_not_auth", False),
    ("GET", "/email/verify_profile", True),
    ("GET", "/email/verify_auth_code/{id}", True),
    ("GET", "/api/users/me", True),
    ("PUT", "/api/users/update_profile", True),
    ("PUT", "/api/users/update_user_password", True),
    ("GET", "/api/users/check_password/{id}", True),
    ("GET", "/api/balanceCircle/circle_data", True),
    ("POST", "/api/balanceCircle/insert_value", True),
    ("PUT", "/api/balanceCircle/{id}", True),
    ("DELETE", "/api/balanceCircle/{id}", True),
    ("GET", "/api/tasksList/tasks_in_list", True),
    ("POST", "/api/tasksList/insert_task_in_list", True),
    ("PUT", "/api/tasksList/{id}", True),
    ("DELETE", "/api/tasksList/{id}", True),
    ("GET", "/api/entryDailyPlanner/DailyPlanner/entry_data", True),
    ("POST", "/api/entryDailyPlanner/insert_entry", True),
    ("PUT", "/api/entryDailyPlanner/{id}", True),
    ("DELETE", "/api/entryDailyPlanner/{id}", True),
    ("GET", "/api/ganttChartTasks/gantt_tasks_data", True),
    ("POST", "/api/ganttChartTasks/insert_gantt_task", True),
    ("PUT", "/api/ganttChartTasks/{id}", True),
    ("DELETE", "/api/ganttChartTasks/{id}", True),
    ("GET", "/api/ganttChartTaskDuration/gantt_durations_data/{id}", True),
    ("POST", "/api/ganttChartTaskDuration/insert_duration/{id}", True),
    ("PUT", "/api/ganttChartTaskDuration/{id}", True),
    ("DELETE", "/api/ganttChartTaskDuration/{id}", True),
    ("GET", "/api/kanbanCards/kanban_cards", True),
    ("POST", "/api/kanbanCards/insert_kanban_card", True),
    ("PUT", "/api/kanbanCards/{id}", True),
    ("DELETE", "/api/kanbanCards/{id}", True),
    ("POST", "/api/taskInCards/insert_task/{id}", True),
    ("PUT", "/api/taskInCards/{id}", True),
    ("DELETE", "/api/taskInCards/{id}", True),
]
AUTH_ROUTES = [(m, p) for m, p, auth in ROUTES if auth]


def _path(p):
    return p.replace("{id}", str(uuid.uuid4()))


def _ids(routes):
    return ["%s %s" % r[:2] for r in routes]


# --------------------------------------------------------------------------- servers and users

@pytest.fixture(scope="module")
def compat():
    s = start_server({"COMPAT_SEED000": "true", "CLIENT_ORIGIN": ORIGIN})
    s.wait_db_ready()
    yield s
    probs = s.finish()
    if probs:
        pytest.fail("\n".join(probs))


@pytest.fixture(scope="module")
def plain():
    s = start_server({"COMPAT_SEED000": None, "CLIENT_ORIGIN": ORIGIN})
    s.wait_db_ready()
    yield s
    probs = s.finish()
    if probs:
        pytest.fail("\n".join(probs))


def browser(server):
    """A requests session that behaves like the seed's page: Origin on every request, cookies."""
    s = requests.Session()
    s.headers.update({"Origin": ORIGIN, "Accept": "application/json, text/plain, */*"})
    s.base = server.url
    return s


def req(s, method, path, json=None, **kw):
    kw.setdefault("timeout", 10)
    return s.request(method, s.base + path, json=json, **kw)


def set_cookies(r):
    """The Set-Cookie lines of an answer, as sent: {name: full line}."""
    out = {}
    for line in r.raw.headers.getlist("Set-Cookie"):
        out[line.split("=", 1)[0].strip()] = line
    return out


def cors(r, what=""):
    h = r.headers
    assert h.get("Access-Control-Allow-Origin") == ORIGIN, (what, r.status_code, dict(h))
    assert h.get("Access-Control-Allow-Credentials") == "true", (what, r.status_code, dict(h))


def detail(r, russian=True, what=""):
    """The answer is an error as the seed's front end reads it: {"detail": "<string>"}, with CORS."""
    cors(r, what)
    try:
        body = r.json()
    except ValueError:
        raise AssertionError("%s: %s body is not JSON: %r" % (what, r.status_code, r.text[:300]))
    assert isinstance(body, dict) and isinstance(body.get("detail"), str) and body["detail"], (what, body)
    if russian:
        assert CYRILLIC.search(body["detail"]), (what, "detail is not Russian", body)
    return body["detail"]


def ok(r, want=(200,), what=""):
    assert r.status_code in want, "%s %s: %s %s" % (r.request.method, r.request.path_url, r.status_code, r.text[:500])
    cors(r, what or r.request.path_url)
    return r.json() if r.content else None


def is_id(v):
    return isinstance(v, str) and len(v) > 0


def new_user(server):
    """Register, verify with the mailed code and log in through the compat routes."""
    s = browser(server)
    tag = uuid.uuid4().hex[:10]
    s.login, s.email, s.password = "seed" + tag, "seed%s@example.com" % tag, "Passw0rd!" + tag
    ok(req(s, "POST", "/api/auth/register", {
        "firstName": "Анна", "lastName": "Вергеева", "patronymic": "Сергеевна", "email": s.email,
        "login": s.login, "password": s.password, "passwordConfirm": s.password}), (200, 201))
    code = _mailbox.Mailbox().wait_code(s.email, 1, timeout=10)
    body = ok(req(s, "POST", "/email/verify_mail_not_auth", {"email": s.email, "code": code}))
    assert body == {"message": "Почта успешно подтверждена"} or body.get("message") == "Почта успешно подтверждена", body
    s.login_answer = req(s, "POST", "/api/auth/login", {"login": s.login, "password": s.password})
    ok(s.login_answer)
    return s


@pytest.fixture(scope="module")
def user(compat):
    return new_user(compat)


@pytest.fixture(scope="module")
def other(compat):
    return new_user(compat)


# --------------------------------------------------------------------------- off by default

@pytest.mark.parametrize("method,path,auth", ROUTES, ids=_ids(ROUTES))
def test_routes_answer_404_without_compat_seed000(plain, method, path, auth):
    st, h, body = http(method, plain.url + _path(path), headers={"Origin": ORIGIN, "Content-Type": "application/json"},
                       body=b"{}" if method in ("POST", "PUT") else None)
    assert st == 404, (method, path, st, body)
    st, h, body = http("OPTIONS", plain.url + _path(path), headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": method, "Access-Control-Request-Headers": "content-type"})
    assert st == 404, ("preflight", method, path, st, h, body)


def test_api_v1_is_unchanged_by_compat_seed000(compat, plain):
    """The same /api/v1 answers with and without the compat routes; the same /api/v1 paths in
    the OpenAPI document."""
    for method, path in [("GET", "/api/v1/users/me"), ("GET", "/api/v1/tasks"), ("POST", "/api/v1/auth/refresh"),
                         ("GET", "/api/v1/no-such-route")]:
        a = http(method, compat.url + path, headers={"Origin": ORIGIN})
        b = http(method, plain.url + path, headers={"Origin": ORIGIN})
        assert (a[0], a[2]) == (b[0], b[2]), (method, path, a, b)
        assert a[1].get("content-type") == b[1].get("content-type"), (method, path)
    a = requests.get(compat.url + "/openapi.json", timeout=10).json()
    b = requests.get(plain.url + "/openapi.json", timeout=10).json()
    v1 = lambda doc: {p: v for p, v in doc.get("paths", {}).items() if p.startswith("/api/v1/")}  # noqa: E731
    assert v1(a) == v1(b)
    # an /api/v1 account on the compat server works as usual
    tag = uuid.uuid4().hex[:10]
    r = requests.post(compat.url + "/api/v1/auth/register", timeout=10,
                      json={"email": "v1%s@example.com" % tag, "password": "Passw0rd!" + tag})
    assert r.status_code == 201, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    assert "detail" not in r.json() and "email" in r.json()


def test_compat_routes_are_documented_when_on(compat):
    doc = requests.get(compat.url + "/openapi.json", timeout=10).json()
    for method, path, auth in ROUTES:
        pattern = re.sub(r"\{id\}$", lambda m: "{password}" if "check_password" in path else
                         "{code}" if "verify_auth_code" in path else "{id}", path)
        op = doc["paths"].get(pattern, {}).get(method.lower())
        assert op and op["tags"] == ["seed-000 compatibility"], (method, pattern)
        assert op["x-hourglass-access"] == ("user" if auth else "public"), (method, pattern, op["x-hourglass-access"])


def test_the_command_prints_the_compat_document(compat):
    out = subprocess.run([BIN, "openapi"], capture_output=True, timeout=30,
                         env={"PATH": os.environ["PATH"], "COMPAT_SEED000": "true"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.rstrip(b"\n") == requests.get(compat.url + "/openapi.json", timeout=10).content


# --------------------------------------------------------------------------- CORS and errors

@pytest.mark.parametrize("method,path,auth", ROUTES, ids=_ids(ROUTES))
def test_preflight(compat, method, path, auth):
    r = requests.options(compat.url + _path(path), timeout=10, headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": method, "Access-Control-Request-Headers": "content-type"})
    assert r.status_code in (200, 204), (r.status_code, r.text)
    cors(r, "preflight")
    methods = {m.strip().upper() for m in r.headers.get("Access-Control-Allow-Methods", "").split(",")}
    assert method in methods, r.headers
    allowed = {x.strip().lower() for x in r.headers.get("Access-Control-Allow-Headers", "").split(",")}
    assert "content-type" in allowed, r.headers


def test_no_cors_for_another_origin(compat):
    r = requests.get(compat.url + "/api/users/me", headers={"Origin": "http://evil.example"}, timeout=10)
    assert r.status_code == 401
    assert r.headers.get("Access-Control-Allow-Origin") in (None, ""), r.headers


@pytest.mark.parametrize("method,path", AUTH_ROUTES, ids=["%s %s" % r for r in AUTH_ROUTES])
def test_anonymous_gets_401_detail(compat, method, path):
    s = browser(compat)
    r = req(s, method, _path(path), {} if method in ("POST", "PUT") else None)
    assert r.status_code == 401, (method, path, r.status_code, r.text)
    detail(r, what="%s %s" % (method, path))


def test_refresh_without_cookie(compat):
    r = req(browser(compat), "GET", "/api/auth/refresh")
    assert r.status_code == 400, r.text
    assert detail(r, russian=False) == "Please provide refresh token"


# --------------------------------------------------------------------------- accounts

def test_login_cookies(user):
    c = set_cookies(user.login_answer)
    assert {"access_token", "refresh_token", "logged_in"} <= set(c), c
    for name in ("access_token", "refresh_token"):
        assert re.search(r";\s*HttpOnly", c[name], re.I), c[name]
        assert re.search(r";\s*SameSite=Lax", c[name], re.I), c[name]
    assert re.search(r";\s*Path=/(;|$)", c["access_token"], re.I), c["access_token"]
    # the browser must send it to GET /api/auth/refresh (the /api/v1 one has Path=/api/v1/auth)
    assert re.search(r";\s*Path=/(api/auth/?)?(;|$)", c["refresh_token"], re.I), c["refresh_token"]
    assert c["logged_in"].startswith("logged_in=True;"), c["logged_in"]
    assert not re.search(r";\s*HttpOnly", c["logged_in"], re.I), c["logged_in"]
    assert re.search(r";\s*Path=/(;|$)", c["logged_in"], re.I), c["logged_in"]
    body = user.login_answer.json()
    assert isinstance(body.get("message"), str), body


def test_register_errors(compat, user):
    s = browser(compat)
    base = {"firstName": "Анна", "lastName": "Вергеева", "patronymic": "", "email": "x%s@example.com" % uuid.uuid4().hex[:8],
            "login": user.login, "password": user.password, "passwordConfirm": user.password}
    r = req(s, "POST", "/api/auth/register", base)
    assert r.status_code == 409, r.text
    detail(r)
    r = req(s, "POST", "/api/auth/register", dict(base, login=user.login.upper()))
    assert r.status_code == 409, ("logins compare case-insensitively", r.text)
    r = req(s, "POST", "/api/auth/register", dict(base, login="n" + user.login, email=user.email))
    assert r.status_code == 409, r.text
    detail(r)
    r = req(s, "POST", "/api/auth/register", dict(base, login="m" + user.login, passwordConfirm="Other-passw0rd"))
    assert r.status_code in (400, 422), r.text
    detail(r)
    r = req(s, "POST", "/api/auth/register", dict(base, login="k" + user.login, password="short", passwordConfirm="short"))
    assert r.status_code in (400, 422), r.text
    detail(r)
    r = req(s, "POST", "/api/auth/register", {"login": "only"})
    assert r.status_code in (400, 422), r.text
    detail(r)


def test_verify_wrong_code(compat, user):
    r = req(browser(compat), "POST", "/email/verify_mail_not_auth", {"email": user.email, "code": "not-a-code"})
    cors(r)
    text = r.json().get("message") if r.status_code == 200 else detail(r)
    assert isinstance(text, str) and text and text != "Почта успешно подтверждена", (r.status_code, r.text)


def test_login_wrong_password(compat, user):
    r = req(browser(compat), "POST", "/api/auth/login", {"login": user.login, "password": "Wrong-passw0rd"})
    assert r.status_code in (400, 401), r.text
    detail(r)
    assert "logged_in" not in set_cookies(r)


def test_refresh_with_cookie(compat):
    s = new_user(compat)
    r = req(s, "GET", "/api/auth/refresh")
    ok(r)
    c = set_cookies(r)
    assert c.get("logged_in", "").startswith("logged_in=True;"), c
    assert "access_token" in c, c
    ok(req(s, "GET", "/api/users/me"))


def test_users_me_and_profile(compat):
    s = new_user(compat)
    me = ok(req(s, "GET", "/api/users/me"))
    assert me["login"] == s.login and me["email"] == s.email, me
    assert (me["firstName"], me["lastName"], me["patronymic"]) == ("Анна", "Вергеева", "Сергеевна"), me
    for k in ("firstName", "lastName", "patronymic", "email", "login"):
        assert isinstance(me[k], str), (k, me)
    body = ok(req(s, "PUT", "/api/users/update_profile", {"login": s.login, "firstName": "Мария", "lastName": "Иванова",
                                                          "patronymic": "", "email": s.email}))
    assert isinstance(body, dict)
    me = ok(req(s, "GET", "/api/users/me"))
    assert (me["firstName"], me["lastName"], me["patronymic"]) == ("Мария", "Иванова", ""), me


def test_profile_login_taken(compat, user):
    s = new_user(compat)
    r = req(s, "PUT", "/api/users/update_profile", {"login": user.login, "firstName": "Мария", "lastName": "Иванова",
                                                    "patronymic": "", "email": s.email})
    assert r.status_code == 409, r.text
    detail(r)


def test_check_and_change_password(compat):
    s = new_user(compat)
    r = req(s, "GET", "/api/users/check_password/" + requests.utils.quote("Not-the-passw0rd", safe=""))
    assert r.status_code in (400, 403), r.text
    detail(r)
    assert ok(req(s, "GET", "/api/users/check_password/" + requests.utils.quote(s.password, safe=""))) == {"statusPassword": "true"}
    r = req(s, "PUT", "/api/users/update_user_password", {"password": "N3w-passw0rd!", "passwordConfirm": "Other-passw0rd!"})
    assert r.status_code in (400, 422), r.text
    detail(r)
    ok(req(s, "PUT", "/api/users/update_user_password", {"password": "N3w-passw0rd!", "passwordConfirm": "N3w-passw0rd!"}))
    ok(req(s, "GET", "/api/users/me"))
    t = browser(compat)
    ok(req(t, "POST", "/api/auth/login", {"login": s.login, "password": "N3w-passw0rd!"}))
    r = req(t, "POST", "/api/auth/login", {"login": s.login, "password": s.password})
    assert r.status_code in (400, 401), r.text


def test_verify_profile_mail_and_code(compat):
    s = new_user(compat)
    body = ok(req(s, "GET", "/email/verify_profile"))
    assert isinstance(body.get("message"), str), body
    code = _mailbox.Mailbox().wait_code(s.email, 2, timeout=10)
    assert ok(req(s, "GET", "/email/verify_auth_code/" + code)).get("message") == "Почта успешно подтверждена"


def test_logout(compat):
    s = new_user(compat)
    r = req(s, "GET", "/api/auth/logout")
    ok(r, (200, 204))
    c = set_cookies(r)
    for name in ("access_token", "refresh_token", "logged_in"):
        assert name in c and re.search(r"(Max-Age=0|Expires=Thu, 01 Jan 1970)", c[name], re.I), (name, c)
    assert not s.cookies.get("logged_in")
    r = req(s, "GET", "/api/users/me")
    assert r.status_code == 401
    detail(r)


# --------------------------------------------------------------------------- planning resources

def test_tasks_list(user, other):
    s = user
    assert isinstance(ok(req(s, "GET", "/api/tasksList/tasks_in_list"))["items"], list)
    it = ok(req(s, "POST", "/api/tasksList/insert_task_in_list", {"textOfItem": "Купить хлеб", "isChecked": False}), (200, 201))
    assert is_id(it["idTaskInList"]) and it["textOfItem"] == "Купить хлеб" and it["isChecked"] is False, it
    up = ok(req(s, "PUT", "/api/tasksList/" + it["idTaskInList"], {"textOfItem": "Купить молоко", "isChecked": True}))
    assert up["idTaskInList"] == it["idTaskInList"] and up["isChecked"] is True and up["textOfItem"] == "Купить молоко", up
    items = ok(req(s, "GET", "/api/tasksList/tasks_in_list"))["items"]
    assert [x for x in items if x["idTaskInList"] == it["idTaskInList"]] == [up], items
    assert all(set(x) >= {"idTaskInList", "textOfItem", "isChecked"} and is_id(x["idTaskInList"]) for x in items)
    assert all(x["idTaskInList"] != it["idTaskInList"] for x in ok(req(other, "GET", "/api/tasksList/tasks_in_list"))["items"])
    _not_found_for_others(other, "/api/tasksList/" + it["idTaskInList"], {"textOfItem": "x", "isChecked": False})
    _deleted(s, "/api/tasksList/" + it["idTaskInList"])


def test_balance_circle(user, other):
    s = user
    assert isinstance(ok(req(s, "GET", "/api/balanceCircle/circle_data"))["stats"], list)
    st = ok(req(s, "POST", "/api/balanceCircle/insert_value", {"labelItem": "Здоровье", "value": 70}), (200, 201))
    assert is_id(st["idBalance"]) and st["labelItem"] == "Здоровье" and st["value"] == 70, st
    # the seed's slider PUTs the whole state object, value as a string
    up = ok(req(s, "PUT", "/api/balanceCircle/" + st["idBalance"], {"labelItem": "Здоровье", "value": "42", "idBalance": st["idBalance"]}))
    assert up == {"labelItem": "Здоровье", "value": 42, "idBalance": st["idBalance"]} or \
        (up["value"] == 42 and up["idBalance"] == st["idBalance"]), up
    up = ok(req(s, "PUT", "/api/balanceCircle/" + st["idBalance"], {"labelItem": "Спорт", "value": 100}))
    assert up["value"] == 100 and up["labelItem"] == "Спорт", up
    stats = ok(req(s, "GET", "/api/balanceCircle/circle_data"))["stats"]
    assert [x for x in stats if x["idBalance"] == st["idBalance"]] == [up], stats
    r = req(s, "POST", "/api/balanceCircle/insert_value", {"labelItem": "Сон", "value": 101})
    assert r.status_code in (400, 422), r.text
    detail(r)
    _not_found_for_others(other, "/api/balanceCircle/" + st["idBalance"], {"labelItem": "x", "value": 1})
    _deleted(s, "/api/balanceCircle/" + st["idBalance"])


def test_daily_planner(user, other):
    s = user
    assert isinstance(ok(req(s, "GET", "/api/entryDailyPlanner/DailyPlanner/entry_data"))["entries"], list)
    body = {"dailyTaskName": "Совещание", "taskStart": "2026-12-03T07:30:00.000Z", "taskEnd": "2026-12-03T09:00:00.000Z",
            "taskColor": "color-2"}
    e = ok(req(s, "POST", "/api/entryDailyPlanner/insert_entry", body), (200, 201))
    assert is_id(e["idEntry"]), e
    assert e["dailyTaskName"] == "Совещание" and e["taskColor"] == "color-2", e
    for k in ("taskStart", "taskEnd"):
        assert NAIVE_DT.match(e[k]), (k, e[k], "naive, no Z")
    assert e["taskStart"][:19] == "2026-12-03T07:30:00" and e["taskEnd"][:19] == "2026-12-03T09:00:00", e
    up = ok(req(s, "PUT", "/api/entryDailyPlanner/" + e["idEntry"], dict(body, taskStart="2026-12-04T06:00:00.000Z",
                                                                          taskEnd="2026-12-04T08:15:00.000Z")))
    assert up["idEntry"] == e["idEntry"] and up["taskEnd"][:19] == "2026-12-04T08:15:00", up
    entries = ok(req(s, "GET", "/api/entryDailyPlanner/DailyPlanner/entry_data"))["entries"]
    got = [x for x in entries if x["idEntry"] == e["idEntry"]]
    assert len(got) == 1 and got[0]["taskStart"][:19] == "2026-12-04T06:00:00" and NAIVE_DT.match(got[0]["taskStart"]), entries
    r = req(s, "POST", "/api/entryDailyPlanner/insert_entry", dict(body, taskStart="yesterday"))
    assert r.status_code in (400, 422), r.text
    detail(r)
    _not_found_for_others(other, "/api/entryDailyPlanner/" + e["idEntry"], body)
    _deleted(s, "/api/entryDailyPlanner/" + e["idEntry"])


def test_gantt(user, other):
    s = user
    assert isinstance(ok(req(s, "GET", "/api/ganttChartTasks/gantt_tasks_data"))["GanttTasks"], list)
    t1 = ok(req(s, "POST", "/api/ganttChartTasks/insert_gantt_task", {"nameOfTask": "Анализ"}), (200, 201))
    t2 = ok(req(s, "POST", "/api/ganttChartTasks/insert_gantt_task", {"nameOfTask": "Проектирование"}), (200, 201))
    assert is_id(t1["idGanttTask"]) and t1["nameOfTask"] == "Анализ", t1
    up = ok(req(s, "PUT", "/api/ganttChartTasks/" + t1["idGanttTask"], {"nameOfTask": "Анализ требований"}))
    assert up == {"idGanttTask": t1["idGanttTask"], "nameOfTask": "Анализ требований"} or \
        (up["idGanttTask"] == t1["idGanttTask"] and up["nameOfTask"] == "Анализ требований"), up
    tasks = ok(req(s, "GET", "/api/ganttChartTasks/gantt_tasks_data"))["GanttTasks"]
    ids = [x["idGanttTask"] for x in tasks]
    assert ids.index(t1["idGanttTask"]) < ids.index(t2["idGanttTask"]), ("creation order", tasks)
    base = "/api/ganttChartTaskDuration/"
    assert ok(req(s, "GET", base + "gantt_durations_data/" + t1["idGanttTask"]))["durations"] == []
    d = ok(req(s, "POST", base + "insert_duration/" + t1["idGanttTask"],
               {"ganttTaskStart": "2026-12-01T00:00:00.000Z", "ganttTaskEnd": "2026-12-05T00:00:00.000Z"}), (200, 201))
    assert is_id(d["idGanttDuration"]), d
    assert d["ganttTaskStart"][:19] == "2026-12-01T00:00:00" and NAIVE_DT.match(d["ganttTaskStart"]), d
    assert d["ganttTaskEnd"][:19] == "2026-12-05T00:00:00" and NAIVE_DT.match(d["ganttTaskEnd"]), d
    mv = ok(req(s, "PUT", base + d["idGanttDuration"], {"ganttTaskStart": "2026-12-03T00:00:00.000Z",
                                                          "ganttTaskEnd": "2026-12-07T00:00:00.000Z",
                                                          "ganttTaskId": t2["idGanttTask"]}))
    assert mv["ganttTaskId"] == t2["idGanttTask"] and mv["idGanttDuration"] == d["idGanttDuration"], mv
    assert mv["ganttTaskStart"][:19] == "2026-12-03T00:00:00", mv
    assert ok(req(s, "GET", base + "gantt_durations_data/" + t1["idGanttTask"]))["durations"] == []
    durs = ok(req(s, "GET", base + "gantt_durations_data/" + t2["idGanttTask"]))["durations"]
    assert [x["idGanttDuration"] for x in durs] == [d["idGanttDuration"]], durs
    r = req(s, "POST", base + "insert_duration/" + t1["idGanttTask"],
            {"ganttTaskStart": "2026-12-05T00:00:00.000Z", "ganttTaskEnd": "2026-12-01T00:00:00.000Z"})
    assert r.status_code in (400, 422), r.text
    detail(r)
    # another user's task: its durations are not there for them
    r = req(other, "GET", base + "gantt_durations_data/" + t2["idGanttTask"])
    assert r.status_code == 404 or r.json() == {"durations": []}, r.text
    r = req(other, "POST", base + "insert_duration/" + t2["idGanttTask"],
            {"ganttTaskStart": "2026-12-01T00:00:00.000Z", "ganttTaskEnd": "2026-12-02T00:00:00.000Z"})
    assert r.status_code == 404, r.text
    detail(r)
    _not_found_for_others(other, base + d["idGanttDuration"], {"ganttTaskStart": "2026-12-01T00:00:00.000Z",
                                                               "ganttTaskEnd": "2026-12-02T00:00:00.000Z",
                                                               "ganttTaskId": t2["idGanttTask"]})
    _not_found_for_others(other, "/api/ganttChartTasks/" + t1["idGanttTask"], {"nameOfTask": "x"})
    _deleted(s, base + d["idGanttDuration"])
    _deleted(s, "/api/ganttChartTasks/" + t1["idGanttTask"])
    # deleting a task deletes its durations
    d2 = ok(req(s, "POST", base + "insert_duration/" + t2["idGanttTask"],
                {"ganttTaskStart": "2026-12-01T00:00:00.000Z", "ganttTaskEnd": "2026-12-01T00:00:00.000Z"}), (200, 201))
    _deleted(s, "/api/ganttChartTasks/" + t2["idGanttTask"])
    r = req(s, "DELETE", base + d2["idGanttDuration"])
    assert r.status_code == 404, r.text


def test_kanban(compat, other):
    s = new_user(compat)
    assert ok(req(s, "GET", "/api/kanbanCards/kanban_cards")) == {"columns": []}
    titles = ["Отложить", "В процессе", "Буду делать", "Сделано"]
    cols = []
    for t in titles:
        c = ok(req(s, "POST", "/api/kanbanCards/insert_kanban_card", {"title": t}), (200, 201))
        assert is_id(c["id"]) and c["title"] == t, c
        cols.append(c["id"])
    board = ok(req(s, "GET", "/api/kanbanCards/kanban_cards"))["columns"]
    assert [(c["id"], c["title"], c["cards"]) for c in board] == [(i, t, []) for i, t in zip(cols, titles)], board
    ok(req(s, "PUT", "/api/kanbanCards/" + cols[2], {"title": "Буду делать на неделе"}))
    a = ok(req(s, "POST", "/api/taskInCards/insert_task/" + cols[0], {"title": "Написать отчёт", "description": "до пятницы"}), (200, 201))
    b = ok(req(s, "POST", "/api/taskInCards/insert_task/" + cols[0], {"title": "Позвонить", "description": ""}), (200, 201))
    assert is_id(a["id"]) and a["title"] == "Написать отчёт" and a["description"] == "до пятницы", a
    mv = ok(req(s, "PUT", "/api/taskInCards/" + a["id"], {"kanbanCardId": cols[3], "title": "Написать отчёт", "description": "готово"}))
    assert mv["id"] == a["id"] and mv["description"] == "готово", mv
    board = ok(req(s, "GET", "/api/kanbanCards/kanban_cards"))["columns"]
    assert board[2]["title"] == "Буду делать на неделе", board
    assert [c["id"] for c in board[0]["cards"]] == [b["id"]] and [c["id"] for c in board[3]["cards"]] == [a["id"]], board
    assert board[3]["cards"][0] == {"id": a["id"], "title": "Написать отчёт", "description": "готово"} or \
        board[3]["cards"][0]["description"] == "готово", board
    # a card into another user's column, or moved there
    r = req(other, "POST", "/api/taskInCards/insert_task/" + cols[0], {"title": "x", "description": ""})
    assert r.status_code == 404, r.text
    detail(r)
    r = req(s, "PUT", "/api/taskInCards/" + a["id"], {"kanbanCardId": str(uuid.uuid4()), "title": "x", "description": ""})
    assert r.status_code in (404, 422), r.text
    detail(r)
    _not_found_for_others(other, "/api/taskInCards/" + a["id"], {"kanbanCardId": cols[0], "title": "x", "description": ""})
    _not_found_for_others(other, "/api/kanbanCards/" + cols[1], {"title": "x"})
    _deleted(s, "/api/taskInCards/" + b["id"])
    _deleted(s, "/api/kanbanCards/" + cols[3])
    board = ok(req(s, "GET", "/api/kanbanCards/kanban_cards"))["columns"]
    assert [c["id"] for c in board] == cols[:3], board


def _not_found_for_others(other, path, body):
    """Another user's object: 404 {detail} for PUT and DELETE (and for ids that are not ours at all)."""
    for method in ("PUT", "DELETE"):
        r = req(other, method, path, body if method == "PUT" else None)
        assert r.status_code == 404, (method, path, r.status_code, r.text)
        detail(r, what="%s %s" % (method, path))
    prefix = path.rsplit("/", 1)[0] + "/"
    for bad in NOT_FOUND_IDS:
        for method in ("PUT", "DELETE"):
            r = req(other, method, prefix + bad, body if method == "PUT" else None)
            assert r.status_code == 404, (method, prefix + bad, r.status_code, r.text)
            detail(r, what="%s %s" % (method, prefix + bad))


def _deleted(s, path):
    r = req(s, "DELETE", path)
    assert r.status_code in (200, 204), (path, r.status_code, r.text)
    cors(r, "DELETE " + path)
    r = req(s, "DELETE", path)
    assert r.status_code == 404, (path, r.status_code, r.text)
    detail(r)


# --------------------------------------------------------------------------- choices of api_compat.c (README)

def test_profile_email_is_not_changed_here(compat):
    s = new_user(compat)
    r = req(s, "PUT", "/api/users/update_profile", {"login": s.login, "firstName": "Мария", "lastName": "Иванова",
                                                    "patronymic": "", "email": "other-" + s.email})
    assert r.status_code == 400, r.text
    detail(r)
    me = ok(req(s, "GET", "/api/users/me"))
    assert me["email"] == s.email and me["firstName"] == "Анна", ("nothing changed", me)


def test_new_password_needs_a_checked_old_one(compat):
    s = new_user(compat)
    r = req(s, "PUT", "/api/users/update_user_password", {"password": "N3w-passw0rd!", "passwordConfirm": "N3w-passw0rd!"})
    assert r.status_code == 403, r.text
    detail(r)
    # the proof is this session's only
    ok(req(s, "GET", "/api/users/check_password/" + requests.utils.quote(s.password, safe="")))
    t = browser(compat)
    ok(req(t, "POST", "/api/auth/login", {"login": s.login, "password": s.password}))
    proof = [c for c in s.cookies if c.name == "hg_compat_pw"]
    assert proof and proof[0].path == "/api/users/update_user_password", list(s.cookies)
    t.cookies.set("hg_compat_pw", proof[0].value, path=proof[0].path)
    r = req(t, "PUT", "/api/users/update_user_password", {"password": "N3w-passw0rd!", "passwordConfirm": "N3w-passw0rd!"})
    assert r.status_code == 403, r.text
    # a policy the new password breaks is one Russian text
    r = req(s, "PUT", "/api/users/update_user_password", {"password": "short", "passwordConfirm": "short"})
    assert r.status_code == 400, r.text
    detail(r)


def test_unverified_login_is_refused_in_russian(compat):
    s = browser(compat)
    tag = uuid.uuid4().hex[:10]
    ok(req(s, "POST", "/api/auth/register", {
        "firstName": "Анна", "lastName": "Вергеева", "patronymic": "", "email": "u%s@example.com" % tag,
        "login": "u" + tag, "password": "Passw0rd!" + tag, "passwordConfirm": "Passw0rd!" + tag}), (201,))
    r = req(s, "POST", "/api/auth/login", {"login": "u" + tag, "password": "Passw0rd!" + tag})
    assert r.status_code == 403, r.text
    assert "почт" in detail(r)
    assert "logged_in" not in set_cookies(r)


def test_whole_lists_beyond_one_page(compat):
    s = new_user(compat)
    made = [ok(req(s, "POST", "/api/tasksList/insert_task_in_list", {"textOfItem": "t%d" % i, "isChecked": False}),
               (201,))["idTaskInList"] for i in range(205)]
    items = ok(req(s, "GET", "/api/tasksList/tasks_in_list"))["items"]
    assert [x["idTaskInList"] for x in items] == made, len(items)


def test_head_has_no_body(compat, user):
    r = req(user, "HEAD", "/api/tasksList/tasks_in_list")
    assert r.status_code == 200 and r.content == b"", (r.status_code, r.content[:100])
    ok(req(user, "GET", "/api/tasksList/tasks_in_list"))  # the connection is still in step


def test_balance_percent_beside_api_v1(compat, user):
    st = ok(req(user, "POST", "/api/balanceCircle/insert_value", {"labelItem": "Работа-%s" % uuid.uuid4().hex[:6],
                                                                  "value": 80}), (201,))
    r = req(user, "POST", "/api/balanceCircle/insert_value", {"labelItem": st["labelItem"], "value": 5})
    assert r.status_code == 409, r.text
    detail(r)
    # /api/v1 reads the seed's value and still takes only 0..10 itself
    token = user.cookies.get("access_token")
    h = {"Authorization": "Bearer " + token}
    got = requests.get(compat.url + "/api/v1/balance-wheel/" + st["idBalance"], headers=h, timeout=10).json()
    assert got["value"] == 80 and got["sphere"] == st["labelItem"], got
    r = requests.post(compat.url + "/api/v1/balance-wheel", headers=h, json={"sphere": "x" + uuid.uuid4().hex[:6], "value": 11},
                      timeout=10)
    assert r.status_code == 422, r.text
