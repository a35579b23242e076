// The calls the seed 000 front end (github:vergeeva/react_management) makes, in the order its
// screens make them, with the same axios settings (withCredentials, JSON bodies, no
// Authorization header). The spec is docs/seed000.md; section numbers below refer to it.
// Each step records what went wrong in window.__results; window.__done = true at the end.
// Query: ?api=http://localhost:PORT&run=UNIQUE
(function () {
    "use strict";

    const params = new URLSearchParams(location.search);
    const API = params.get("api");
    const RUN = params.get("run") || String(Date.now());
    const results = [];
    window.__results = results;

    // The front end's one axios instance (src/requests_part/http/index.js).
    const $api = axios.create({ withCredentials: true, baseURL: API });

    const CYRILLIC = /[А-Яа-яЁё]/;
    const NAIVE_DT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?$/;
    let current = null;

    function short(v) {
        let s;
        try { s = JSON.stringify(v); } catch (e) { s = String(v); }
        return s === undefined ? "undefined" : (s.length > 300 ? s.slice(0, 300) + "…" : s);
    }

    function problem(msg) { current.problems.push(msg); return false; }
    function check(cond, msg) { return cond ? true : problem(msg); }

    // One request as the front end makes it; never throws.
    async function call(method, url, body) {
        const rec = { method: method.toUpperCase(), url: url };
        try {
            const r = (method === "get" || method === "delete")
                ? await $api[method](url) : await $api[method](url, body);
            rec.status = r.status;
            rec.data = r.data;
        } catch (e) {
            if (e.response) {
                rec.status = e.response.status;
                rec.data = e.response.data;
            } else {
                rec.status = 0;
                rec.data = undefined;
                rec.error = "no answer readable by the page: " + e.message + " (connection refused, or the " +
                    "answer lacked Access-Control-Allow-Origin: " + location.origin +
                    " with Access-Control-Allow-Credentials: true, or a preflight failed)";
            }
        }
        current.calls.push({ method: rec.method, url: url, status: rec.status });
        return rec;
    }

    function where(rec) { return rec.method + " " + rec.url; }

    // The answer's status is one of `want`; otherwise one problem naming the call.
    function status(rec, want) {
        want = [].concat(want);
        if (want.indexOf(rec.status) >= 0) return true;
        return problem(where(rec) + ": status " + rec.status + ", want " + want.join(" or ") +
                       (rec.error ? "; " + rec.error : "; body " + short(rec.data)));
    }

    // An error answer as the front end reads it: e.response.data.detail, a (Russian) string.
    function errorShape(rec, russian) {
        const d = rec.data;
        if (!check(d && typeof d === "object" && typeof d.detail === "string" && d.detail.length > 0,
                   where(rec) + ": error body must be {\"detail\": \"<string>\"}, got " + short(d))) return false;
        if (russian !== false) check(CYRILLIC.test(d.detail), where(rec) + ": detail is not Russian: " + short(d.detail));
        return true;
    }

    function idString(rec, obj, key) {
        return check(obj && typeof obj[key] === "string" && obj[key].length > 0,
                     where(rec) + ": " + key + " must be a non-empty string id, got " + short(obj && obj[key]));
    }

    function fields(rec, obj, spec) { // spec: {name: "string"|"boolean"|"number"}
        if (!check(obj && typeof obj === "object" && !Array.isArray(obj), where(rec) + ": want an object, got " + short(obj)))
            return false;
        let ok = true;
        for (const k of Object.keys(spec)) {
            if (typeof obj[k] !== spec[k]) ok = problem(where(rec) + ": field " + k + " must be a " + spec[k] +
                                                         ", got " + short(obj[k]) + " in " + short(obj));
        }
        return ok;
    }

    function envelope(rec, key) {
        const d = rec.data;
        if (check(d && Array.isArray(d[key]), where(rec) + ": want {\"" + key + "\": [...]}, got " + short(d)))
            return d[key];
        return null;
    }

    function naive(rec, obj, key) {
        return check(obj && typeof obj[key] === "string" && NAIVE_DT.test(obj[key]),
                     where(rec) + ": " + key + " must be a naive date-time without Z or offset " +
                     "(YYYY-MM-DDTHH:MM:SS), got " + short(obj && obj[key]));
    }

    // The front end's login test (components/auth/functions/validation.js, checkIsAuth): the
    // second cookie visible to scripts must have the value True.
    function seedSeesLogin() {
        const second = document.cookie.split("; ")[1];
        return second !== undefined && second.split("=")[1] === "True";
    }
    function visibleCookies() { return document.cookie ? document.cookie.split("; ") : []; }

    async function mailCode(email, count) {
        const r = await fetch("/mailcode?email=" + encodeURIComponent(email) + "&count=" + count);
        const j = await r.json();
        if (!j.code) problem("no verification mail #" + count + " to " + email + " in the SMTP sink: " + (j.error || ""));
        return j.code;
    }

    async function step(name, fn) {
        current = { name: name, ok: true, problems: [], calls: [] };
        document.getElementById("status").textContent = "step: " + name;
        try { await fn(); } catch (e) { current.problems.push("exception in the test page: " + (e && e.stack || e)); }
        current.ok = current.problems.length === 0;
        results.push(current);
    }

    // The seed's planner display (calendar.js convertData): parse as local, add |offset| hours.
    function seedPlannerTime(str) {
        const d = new Date(str);
        d.setHours(d.getHours() + Math.abs(new Date().getTimezoneOffset() / 60));
        return d;
    }
    // The seed's Gantt cell lookup (utils.js createFormattedDateFromDate): local Y-M-D.
    function localDay(d) {
        const p = (n) => (n < 10 ? "0" : "") + n;
        return d.getFullYear() + "-" + p(d.getMonth() + 1) + "-" + p(d.getDate());
    }

    const login = "seed" + RUN;
    const email = "seed" + RUN + "@example.com";
    let password = "Passw0rd!" + RUN;
    const newPassword = "N3w-passw0rd!" + RUN;
    const S = {};   // ids and data carried between steps
    let board = null;

    async function flow() {
        // §1 start-up, anonymous
        await step("start-up: planner entries while anonymous (GET entry_data) -> 401", async () => {
            const r = await call("get", "/api/entryDailyPlanner/DailyPlanner/entry_data");
            if (status(r, 401)) errorShape(r);
        });
        await step("start-up: GET /api/auth/refresh without cookies -> 400 'Please provide refresh token'", async () => {
            const r = await call("get", "/api/auth/refresh");
            if (status(r, 400) && errorShape(r, false))
                check(r.data.detail === "Please provide refresh token",
                      where(r) + ": detail must be exactly 'Please provide refresh token', got " + short(r.data.detail));
            check(!seedSeesLogin(), "the front end's checkIsAuth() is true before any login: " + document.cookie);
        });

        // §2.1 register
        await step("register (POST /api/auth/register, seed fields)", async () => {
            const r = await call("post", "/api/auth/register", {
                firstName: "Анна", lastName: "Вергеева", patronymic: "Сергеевна", email: email,
                login: login, password: password, passwordConfirm: password });
            status(r, [200, 201]);
        });
        await step("register again with the same login -> 409 {detail}", async () => {
            const r = await call("post", "/api/auth/register", {
                firstName: "Анна", lastName: "Вергеева", patronymic: "Сергеевна", email: "other" + email,
                login: login, password: password, passwordConfirm: password });
            if (status(r, 409)) errorShape(r);
        });
        await step("register with passwordConfirm different -> 400/422 {detail}", async () => {
            const r = await call("post", "/api/auth/register", {
                firstName: "Анна", lastName: "Вергеева", patronymic: "", email: "third" + email,
                login: login + "x", password: password, passwordConfirm: password + "x" });
            if (status(r, [400, 422])) errorShape(r);
        });

        // §2.2 verify, not logged in
        await step("verify with a wrong code (POST /email/verify_mail_not_auth)", async () => {
            const r = await call("post", "/email/verify_mail_not_auth", { email: email, code: "000000x" });
            const text = r.status === 200 ? r.data && r.data.message : r.data && r.data.detail;
            check(typeof text === "string" && text.length > 0 && text !== "Почта успешно подтверждена",
                  where(r) + ": a wrong code must give a message or detail string other than success, got " +
                  r.status + " " + short(r.data));
        });
        await step("verify with the mailed code -> message 'Почта успешно подтверждена'", async () => {
            const code = await mailCode(email, 1);
            const r = await call("post", "/email/verify_mail_not_auth", { email: email, code: String(code) });
            if (status(r, 200))
                check(r.data && r.data.message === "Почта успешно подтверждена",
                      where(r) + ": message must be exactly 'Почта успешно подтверждена', got " + short(r.data));
        });

        // §2.3 login
        await step("login with a wrong password -> 400/401 {detail}", async () => {
            const r = await call("post", "/api/auth/login", { login: login, password: "Wrong-passw0rd" });
            if (status(r, [400, 401])) errorShape(r);
            check(!seedSeesLogin(), "checkIsAuth() is true after a failed login: " + document.cookie);
        });
        await step("login (POST /api/auth/login {login, password}) and the logged_in cookie", async () => {
            const r = await call("post", "/api/auth/login", { login: login, password: password });
            if (status(r, 200))
                check(r.data && typeof r.data.message === "string",
                      where(r) + ": the front end shows response.data.message; want a string, got " + short(r.data));
            const cookies = visibleCookies();
            check(cookies.indexOf("logged_in=True") >= 0,
                  "after login document.cookie must contain logged_in=True, it is " + short(document.cookie));
            check(!cookies.some((c) => /^(access_token|refresh_token)=/.test(c)),
                  "access_token / refresh_token must be HttpOnly, but scripts see " + short(document.cookie));
            check(seedSeesLogin(), "the front end's checkIsAuth() (2nd script-visible cookie == 'True') is false; " +
                  "document.cookie = " + short(document.cookie));
        });

        // the page reloads after login: §1 again, now logged in
        await step("after login: start-up calls (entry_data, refresh) succeed", async () => {
            const e = await call("get", "/api/entryDailyPlanner/DailyPlanner/entry_data");
            if (status(e, 200)) {
                const list = envelope(e, "entries");
                if (list) check(list.length === 0, where(e) + ": a new user has entries: " + short(list));
            }
            const r = await call("get", "/api/auth/refresh");
            status(r, 200);
            check(seedSeesLogin(), "checkIsAuth() is false after GET /api/auth/refresh; document.cookie = " +
                  short(document.cookie));
        });

        // §8.1 profile
        await step("profile: GET /api/users/me", async () => {
            const r = await call("get", "/api/users/me");
            if (status(r, 200) && fields(r, r.data, { firstName: "string", lastName: "string", patronymic: "string",
                                                       email: "string", login: "string" })) {
                check(r.data.login === login, where(r) + ": login " + short(r.data.login) + ", want " + login);
                check(r.data.email === email, where(r) + ": email " + short(r.data.email) + ", want " + email);
                check(r.data.firstName === "Анна" && r.data.patronymic === "Сергеевна",
                      where(r) + ": names not as registered: " + short(r.data));
                S.me = r.data;
            }
        });
        await step("profile: PUT /api/users/update_profile (all five fields)", async () => {
            const r = await call("put", "/api/users/update_profile", {
                login: login, firstName: "Мария", lastName: "Вергеева", patronymic: "Сергеевна", email: email });
            status(r, 200);
            const g = await call("get", "/api/users/me");
            if (status(g, 200)) check(g.data && g.data.firstName === "Мария",
                                      where(g) + ": firstName not updated: " + short(g.data));
        });
        await step("profile: verify e-mail again (GET /email/verify_profile, GET /email/verify_auth_code/{code})", async () => {
            const r = await call("get", "/email/verify_profile");
            if (status(r, 200)) check(r.data && typeof r.data.message === "string",
                                      where(r) + ": want {\"message\": str}, got " + short(r.data));
            const code = await mailCode(email, 2);
            if (code) {
                const v = await call("get", "/email/verify_auth_code/" + code);
                if (status(v, 200)) check(v.data && v.data.message === "Почта успешно подтверждена",
                                          where(v) + ": message must be 'Почта успешно подтверждена', got " + short(v.data));
            }
        });

        // §8.3 change password
        await step("change password: GET /api/users/check_password/{wrong} -> 400/403 {detail}", async () => {
            const r = await call("get", "/api/users/check_password/" + encodeURIComponent("Not-the-passw0rd"));
            if (status(r, [400, 403])) errorShape(r);
        });
        await step("change password: check_password/{old} -> statusPassword 'true', then update_user_password", async () => {
            const r = await call("get", "/api/users/check_password/" + password);
            if (status(r, 200)) check(r.data && r.data.statusPassword === "true",
                                      where(r) + ": want {\"statusPassword\": \"true\"} (a string), got " + short(r.data));
            const u = await call("put", "/api/users/update_user_password", { password: newPassword, passwordConfirm: newPassword });
            if (status(u, 200)) password = newPassword;
            const m = await call("get", "/api/users/me");
            status(m, 200);
        });

        // §7 to-do list
        await step("to-do list: read, create, toggle, edit, delete", async () => {
            let r = await call("get", "/api/tasksList/tasks_in_list");
            if (status(r, 200)) envelope(r, "items");
            r = await call("post", "/api/tasksList/insert_task_in_list", { textOfItem: "Купить хлеб", isChecked: false });
            if (status(r, [200, 201]) && fields(r, r.data, { textOfItem: "string", isChecked: "boolean" })) {
                idString(r, r.data, "idTaskInList");
                check(r.data.textOfItem === "Купить хлеб" && r.data.isChecked === false, where(r) + ": " + short(r.data));
            }
            const id = r.data && r.data.idTaskInList;
            r = await call("put", "/api/tasksList/" + id, { textOfItem: "Купить хлеб", isChecked: true });
            if (status(r, 200) && fields(r, r.data, { isChecked: "boolean" }))
                check(r.data.isChecked === true, where(r) + ": isChecked not true: " + short(r.data));
            r = await call("put", "/api/tasksList/" + id, { textOfItem: "Купить хлеб и молоко", isChecked: true });
            status(r, 200);
            r = await call("get", "/api/tasksList/tasks_in_list");
            if (status(r, 200)) {
                const list = envelope(r, "items") || [];
                const it = list.find((x) => x.idTaskInList === id);
                check(it && it.textOfItem === "Купить хлеб и молоко" && it.isChecked === true,
                      where(r) + ": the edited item (id compared as a string) is not there: " + short(list));
            }
            r = await call("delete", "/api/tasksList/" + id);
            status(r, [200, 204]);
            r = await call("get", "/api/tasksList/tasks_in_list");
            if (status(r, 200)) check(!(envelope(r, "items") || []).some((x) => x.idTaskInList === id),
                                      where(r) + ": the deleted item is still listed");
        });

        // §4 daily planner
        await step("daily planner: create, read, move, delete (naive UTC date-times)", async () => {
            const start = new Date(2026, 11, 3, 10, 30);   // local time in the page's zone
            const end = new Date(2026, 11, 3, 12, 0);
            let r = await call("post", "/api/entryDailyPlanner/insert_entry", {
                dailyTaskName: "Совещание", taskStart: new Date(start), taskEnd: new Date(end), taskColor: "color-2" });
            if (status(r, [200, 201]) && fields(r, r.data, { dailyTaskName: "string", taskColor: "string" })) {
                idString(r, r.data, "idEntry");
                if (naive(r, r.data, "taskStart") && naive(r, r.data, "taskEnd")) {
                    check(r.data.taskStart.slice(0, 19) === start.toISOString().slice(0, 19),
                          where(r) + ": taskStart " + r.data.taskStart + " is not the UTC wall clock of the sent " +
                          start.toISOString());
                    const shown = seedPlannerTime(r.data.taskStart);
                    check(shown.getHours() === 10 && shown.getMinutes() === 30,
                          where(r) + ": the seed's planner would show " + shown.toString() + ", not 10:30");
                }
                check(r.data.taskColor === "color-2", where(r) + ": taskColor " + short(r.data.taskColor));
            }
            const id = r.data && r.data.idEntry;
            r = await call("get", "/api/entryDailyPlanner/DailyPlanner/entry_data");
            if (status(r, 200)) {
                const it = (envelope(r, "entries") || []).find((x) => x.idEntry === id);
                if (check(it, where(r) + ": the new entry (id as a string) is not listed")) {
                    naive(r, it, "taskStart");
                    check(it.dailyTaskName === "Совещание", where(r) + ": " + short(it));
                }
            }
            const moved = new Date(2026, 11, 4, 9, 0), movedEnd = new Date(2026, 11, 4, 11, 15);
            r = await call("put", "/api/entryDailyPlanner/" + id, {
                dailyTaskName: "Совещание (перенесено)", taskStart: new Date(moved), taskEnd: new Date(movedEnd), taskColor: "color-3" });
            if (status(r, 200)) {
                check(r.data && r.data.idEntry === id, where(r) + ": the answer must carry idEntry " + id +
                      " (the front end sets item._id from it), got " + short(r.data));
                if (naive(r, r.data, "taskEnd"))
                    check(r.data.taskEnd.slice(0, 19) === movedEnd.toISOString().slice(0, 19),
                          where(r) + ": taskEnd " + r.data.taskEnd + ", want " + movedEnd.toISOString());
            }
            r = await call("delete", "/api/entryDailyPlanner/" + id);
            status(r, [200, 204]);
            r = await call("delete", "/api/entryDailyPlanner/" + id);
            if (status(r, 404)) errorShape(r);
        });

        // §6.1 Gantt
        await step("gantt: tasks and durations, create, rename, move, delete", async () => {
            let r = await call("get", "/api/ganttChartTasks/gantt_tasks_data");
            if (status(r, 200)) envelope(r, "GanttTasks");
            r = await call("post", "/api/ganttChartTasks/insert_gantt_task", { nameOfTask: "Анализ" });
            if (status(r, [200, 201]) && fields(r, r.data, { nameOfTask: "string" })) idString(r, r.data, "idGanttTask");
            const t1 = r.data && r.data.idGanttTask;
            r = await call("post", "/api/ganttChartTasks/insert_gantt_task", { nameOfTask: "Проектирование" });
            const t2 = r.data && r.data.idGanttTask;
            r = await call("put", "/api/ganttChartTasks/" + t1, { nameOfTask: "Анализ требований" });
            if (status(r, 200)) check(r.data && r.data.idGanttTask === t1 && r.data.nameOfTask === "Анализ требований",
                                      where(r) + ": want {idGanttTask, nameOfTask} of the renamed task, got " + short(r.data));
            r = await call("get", "/api/ganttChartTasks/gantt_tasks_data");
            let tasks = [];
            if (status(r, 200)) tasks = envelope(r, "GanttTasks") || [];
            check(tasks.length === 2 && tasks[0].idGanttTask === t1 && tasks[1].idGanttTask === t2,
                  where(r) + ": want the two tasks in creation order, got " + short(tasks));
            for (const t of tasks) {
                const d = await call("get", "/api/ganttChartTaskDuration/gantt_durations_data/" + t.idGanttTask);
                if (status(d, 200)) envelope(d, "durations");
            }
            // <input type="date"> values through new Date(): UTC midnight
            r = await call("post", "/api/ganttChartTaskDuration/insert_duration/" + t1, {
                ganttTaskStart: new Date("2026-12-01"), ganttTaskEnd: new Date("2026-12-05") });
            if (status(r, [200, 201])) {
                idString(r, r.data, "idGanttDuration");
                if (naive(r, r.data, "ganttTaskStart") && naive(r, r.data, "ganttTaskEnd")) {
                    check(localDay(new Date(r.data.ganttTaskStart)) === "2026-12-01" &&
                          localDay(new Date(r.data.ganttTaskEnd)) === "2026-12-05",
                          where(r) + ": the seed would place the bar at " + localDay(new Date(r.data.ganttTaskStart)) +
                          ".." + localDay(new Date(r.data.ganttTaskEnd)) + ", want 2026-12-01..2026-12-05");
                }
            }
            const dur = r.data && r.data.idGanttDuration;
            r = await call("get", "/api/ganttChartTaskDuration/gantt_durations_data/" + t1);
            if (status(r, 200)) {
                const it = (envelope(r, "durations") || []).find((x) => x.idGanttDuration === dur);
                if (check(it, where(r) + ": the new duration (id as a string) is not listed")) naive(r, it, "ganttTaskStart");
            }
            // drag onto the other task's row, two days later
            r = await call("put", "/api/ganttChartTaskDuration/" + dur, {
                ganttTaskStart: new Date("2026-12-03"), ganttTaskEnd: new Date("2026-12-07"), ganttTaskId: t2 });
            if (status(r, 200)) {
                check(r.data && r.data.ganttTaskId === t2, where(r) + ": want ganttTaskId " + t2 + " (string), got " + short(r.data));
                if (naive(r, r.data, "ganttTaskStart"))
                    check(localDay(new Date(r.data.ganttTaskStart)) === "2026-12-03", where(r) + ": start " + r.data.ganttTaskStart);
            }
            r = await call("get", "/api/ganttChartTaskDuration/gantt_durations_data/" + t2);
            if (status(r, 200)) check((envelope(r, "durations") || []).some((x) => x.idGanttDuration === dur),
                                      where(r) + ": the moved duration is not under its new task");
            r = await call("delete", "/api/ganttChartTaskDuration/" + dur);
            status(r, [200, 204]);
            r = await call("delete", "/api/ganttChartTasks/" + t1);
            status(r, [200, 204]);
            r = await call("delete", "/api/ganttChartTasks/" + t2);
            status(r, [200, 204]);
            r = await call("get", "/api/ganttChartTasks/gantt_tasks_data");
            if (status(r, 200)) check((envelope(r, "GanttTasks") || []).length === 0, where(r) + ": tasks left after delete");
        });

        // §6.2 balance wheel
        await step("balance wheel: read, create, update (whole object, value as a string), delete", async () => {
            let r = await call("get", "/api/balanceCircle/circle_data");
            if (status(r, 200)) envelope(r, "stats");
            r = await call("post", "/api/balanceCircle/insert_value", { labelItem: "Здоровье", value: 70 });
            if (status(r, [200, 201]) && fields(r, r.data, { labelItem: "string", value: "number" })) {
                idString(r, r.data, "idBalance");
                check(r.data.value === 70, where(r) + ": value " + short(r.data.value) + ", want 70");
            }
            const st = r.data || {};
            r = await call("post", "/api/balanceCircle/insert_value", { labelItem: "Карьера", value: 40 });
            r = await call("post", "/api/balanceCircle/insert_value", { labelItem: "Отдых", value: 100 });
            status(r, [200, 201]);
            // the slider puts e.target.value (a string) into the state and PUTs the state object
            r = await call("put", "/api/balanceCircle/" + st.idBalance, { labelItem: "Здоровье", value: "42", idBalance: st.idBalance });
            if (status(r, 200)) check(r.data && r.data.value === 42 && r.data.idBalance === st.idBalance,
                                      where(r) + ": want value 42 (a number) and the same idBalance, got " + short(r.data));
            r = await call("get", "/api/balanceCircle/circle_data");
            if (status(r, 200)) {
                const list = envelope(r, "stats") || [];
                check(list.length === 3, where(r) + ": want 3 stats, got " + short(list));
                const it = list.find((x) => x.idBalance === st.idBalance);
                check(it && it.value === 42 && it.labelItem === "Здоровье", where(r) + ": updated stat: " + short(it));
            }
            r = await call("delete", "/api/balanceCircle/" + st.idBalance);
            status(r, [200, 204]);
            r = await call("get", "/api/balanceCircle/circle_data");
            if (status(r, 200)) check((envelope(r, "stats") || []).length === 2, where(r) + ": want 2 stats after delete");
        });

        // §5 kanban
        await step("kanban: empty board, the four default columns, cards, rename, move, delete", async () => {
            let r = await call("get", "/api/kanbanCards/kanban_cards");
            if (status(r, 200)) {
                const cols = envelope(r, "columns");
                if (cols) check(cols.length === 0, where(r) + ": a new user has columns: " + short(cols));
            }
            const titles = ["Отложить", "В процессе", "Буду делать", "Сделано"];
            for (const t of titles) {
                r = await call("post", "/api/kanbanCards/insert_kanban_card", { title: t });
                if (status(r, [200, 201])) { idString(r, r.data, "id"); check(r.data.title === t, where(r) + ": " + short(r.data)); }
            }
            r = await call("get", "/api/kanbanCards/kanban_cards");
            let cols = [];
            if (status(r, 200)) cols = envelope(r, "columns") || [];
            if (check(cols.length === 4, where(r) + ": want 4 columns, got " + short(cols))) {
                cols.forEach((c, i) => {
                    idString(r, c, "id");
                    check(c.title === titles[i], where(r) + ": column " + i + " is " + short(c.title) + ", want " + titles[i] +
                          " (the front end takes columns[0..3] by index: creation order)");
                    check(Array.isArray(c.cards) && c.cards.length === 0, where(r) + ": column " + i + " cards: " + short(c.cards));
                });
            }
            const col = (i) => (cols[i] || {}).id;
            r = await call("put", "/api/kanbanCards/" + col(2), { title: "Буду делать на неделе" });
            status(r, 200);
            const cards = [["Написать отчёт", "до пятницы", 0], ["Позвонить заказчику", "", 0],
                           ["Обновить сервер", "libuv 1.48", 1], ["Прочитать статью", "про llhttp", 2]];
            const ids = [];
            for (const [title, description, i] of cards) {
                r = await call("post", "/api/taskInCards/insert_task/" + col(i), { title: title, description: description });
                if (status(r, [200, 201]) && fields(r, r.data, { title: "string", description: "string" })) idString(r, r.data, "id");
                ids.push(r.data && r.data.id);
            }
            // drag "Написать отчёт" to "Сделано"
            r = await call("put", "/api/taskInCards/" + ids[0], { kanbanCardId: col(3), title: "Написать отчёт", description: "до пятницы" });
            if (status(r, 200)) check(r.data && r.data.id === ids[0], where(r) + ": want the card back, got " + short(r.data));
            r = await call("delete", "/api/taskInCards/" + ids[1]);
            status(r, [200, 204]);
            // a card added in this page view keeps its client id Date.now() (a number)
            r = await call("delete", "/api/taskInCards/" + Date.now());
            if (status(r, 404)) errorShape(r);
            r = await call("put", "/api/taskInCards/" + Date.now(), { kanbanCardId: col(0), title: "x", description: "" });
            if (status(r, 404)) errorShape(r);
            r = await call("get", "/api/kanbanCards/kanban_cards");
            if (status(r, 200)) {
                board = envelope(r, "columns");
                const c = board || [];
                const inCol = (i) => ((c[i] || {}).cards || []).map((x) => x.title);
                check(c.length === 4 && c[2].title === "Буду делать на неделе", where(r) + ": renamed column: " + short(c[2]));
                check(JSON.stringify(inCol(0)) === "[]" && JSON.stringify(inCol(1)) === JSON.stringify(["Обновить сервер"]) &&
                      JSON.stringify(inCol(2)) === JSON.stringify(["Прочитать статью"]) &&
                      JSON.stringify(inCol(3)) === JSON.stringify(["Написать отчёт"]),
                      where(r) + ": cards per column " + short([0, 1, 2, 3].map(inCol)));
                for (const column of c) for (const card of column.cards || []) {
                    idString(r, card, "id");
                    fields(r, card, { title: "string", description: "string" });
                }
            }
        });

        // §3 logout
        await step("logout (GET /api/auth/logout): cookies gone, routes answer 401", async () => {
            let r = await call("get", "/api/auth/logout");
            status(r, [200, 204]);
            check(visibleCookies().every((c) => !/^logged_in=/.test(c)),
                  "logged_in is still visible after logout: " + short(document.cookie));
            check(!seedSeesLogin(), "checkIsAuth() is still true after logout");
            r = await call("get", "/api/kanbanCards/kanban_cards");
            if (status(r, 401)) errorShape(r);
            r = await call("get", "/api/auth/refresh");
            if (status(r, 400)) errorShape(r, false);
        });
        await step("login with the new password, then logout", async () => {
            let r = await call("post", "/api/auth/login", { login: login, password: password });
            status(r, 200);
            check(seedSeesLogin(), "checkIsAuth() is false after the second login; document.cookie = " + short(document.cookie));
            r = await call("get", "/api/users/me");
            status(r, 200);
            r = await call("get", "/api/auth/logout");
            status(r, [200, 204]);
            check(!seedSeesLogin(), "checkIsAuth() is still true after the second logout");
        });
    }

    // A plain kanban board from what GET /api/kanbanCards/kanban_cards answered.
    function renderBoard() {
        const el = document.getElementById("board");
        el.textContent = "";
        if (!Array.isArray(board) || board.length === 0) {
            const p = document.createElement("p");
            p.className = "empty";
            p.textContent = "no board: GET /api/kanbanCards/kanban_cards gave no columns";
            el.appendChild(p);
            return;
        }
        for (const column of board) {
            const c = document.createElement("div");
            c.className = "column";
            c.dataset.id = column.id;
            const h = document.createElement("h3");
            h.textContent = column.title;
            c.appendChild(h);
            for (const card of column.cards || []) {
                const k = document.createElement("div");
                k.className = "card";
                k.dataset.id = card.id;
                const b = document.createElement("b");
                b.textContent = card.title;
                const s = document.createElement("span");
                s.textContent = card.description;
                k.appendChild(b);
                k.appendChild(s);
                c.appendChild(k);
            }
            el.appendChild(c);
        }
    }

    (async function () {
        if (typeof axios === "undefined") {
            results.push({ name: "load axios", ok: false, problems: ["axios did not load from /axios.min.js"], calls: [] });
        } else if (!API) {
            results.push({ name: "parameters", ok: false, problems: ["no ?api= in the page URL"], calls: [] });
        } else {
            await flow();
        }
        renderBoard();
        const bad = results.filter((s) => !s.ok).length;
        document.getElementById("status").textContent =
            "seed 000 front end calls: " + (results.length - bad) + " of " + results.length + " steps passed";
        window.__done = true;
    })();
})();
