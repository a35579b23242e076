/* Seed 000's routes (github:vergeeva/react_management), on only with
 * COMPAT_SEED000: a translation layer, not a second implementation. Each
 * route hands its request on to an /api/v1 route (http_request_reprocess:
 * a new method, path and body, as H2O's h2o_reprocess_request), and its
 * respond filter reshapes whatever answers into the seed's shape: camelCase
 * names in the seed's envelopes, ids as strings, naive UTC date-times (the
 * values are api_compat_values.c's), errors as {"detail": "<Russian>"}, the
 * seed's cookies. A few routes take one step of their own first (the
 * caller's e-mail, the board's columns, a Gantt duration moved). The calls
 * and the choices D1-D19 are docs/seed000.md. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "hourglass/api.h"
#include "hourglass/api_v1.h"
#include "hourglass/app.h"
#include "hourglass/bridge.h"
#include "hourglass/compat.h"
#include "hourglass/http_auth.h"
#include "hourglass/log.h"
#include "hourglass/problem.h"
#include "hourglass/resource.h"
#include "hourglass/server.h"

#define TAG "seed-000 compatibility"
/* Where compat's own routes live: a client never reaches them (ROUTE_INTERNAL). */
#define INTERNAL "/internal/seed000"
#define WHEEL_PERCENT INTERNAL "/balance-wheel"
#define REVERIFY INTERNAL "/reverify"
#define PASSWORD_MAX_BYTES 128
#define JSON_TEXT_INITIAL 256
#define MS_PER_S 1000

#define T_TOKEN_INVALID "Токен недействителен или истёк"
#define T_NOT_FOUND "Нет записи с данным кодом"
#define T_BAD_JSON "Тело запроса должно быть объектом JSON"
#define T_SERVER "Ошибка сервера"
#define T_LOGIN_TAKEN "Аккаунт с данным логином уже существует"
#define T_EMAIL_TAKEN "На эту почту уже зарегистрирован аккаунт"
#define T_PASSWORDS_DIFFER "Пароли не совпадают"
#define T_POLICY "Пароль должен быть не короче 8 символов и содержать строчные и заглавные буквы, цифру и символ"
#define T_VERIFIED "Почта успешно подтверждена"
#define T_WRONG_OLD "Старый пароль не является верным"
#define T_CHECK_OLD_FIRST "Сначала подтвердите старый пароль"
#define T_NO_REFRESH "Please provide refresh token" /* English: the front end compares this very text */

#define SHAPE(a) {a, ARRAY_LEN(a)}

static const compat_name_t task_names[] = {
    {"idTaskInList", "id", COMPAT_ID, COMPAT_OUT},
    {"textOfItem", "title", COMPAT_TEXT, COMPAT_BOTH},
    {"isChecked", "status", COMPAT_CHECKED, COMPAT_BOTH},
};
static const compat_name_t wheel_names[] = {
    {"labelItem", "sphere", COMPAT_TEXT, COMPAT_BOTH},
    {"value", "value", COMPAT_INT, COMPAT_BOTH},
    {"idBalance", "id", COMPAT_ID, COMPAT_OUT},
};
static const compat_name_t entry_names[] = {
    {"idEntry", "id", COMPAT_ID, COMPAT_OUT},
    {"dailyTaskName", "title", COMPAT_TEXT, COMPAT_BOTH},
    {"taskStart", "start", COMPAT_TIME, COMPAT_BOTH},
    {"taskEnd", "end", COMPAT_TIME, COMPAT_BOTH},
    {"taskColor", "color", COMPAT_COLOR, COMPAT_BOTH},
};
static const compat_name_t gantt_names[] = {
    {"idGanttTask", "id", COMPAT_ID, COMPAT_OUT},
    {"nameOfTask", "title", COMPAT_TEXT, COMPAT_BOTH},
};
static const compat_name_t duration_names[] = {
    {"idGanttDuration", "id", COMPAT_ID, COMPAT_OUT},
    {"ganttTaskStart", "start_date", COMPAT_DAY, COMPAT_BOTH},
    {"ganttTaskEnd", "end_date", COMPAT_DAY, COMPAT_BOTH},
    {"ganttTaskId", "task_id", COMPAT_ID, COMPAT_OUT}, /* moving is a step of its own: stmt_duration_move */
};
static const compat_name_t column_names[] = {
    {"id", "id", COMPAT_ID, COMPAT_OUT},
    {"title", "title", COMPAT_TEXT, COMPAT_BOTH},
};
static const compat_name_t card_names[] = {
    {"id", "id", COMPAT_ID, COMPAT_OUT},
    {"kanbanCardId", "column_id", COMPAT_ID, COMPAT_IN},
    {"title", "title", COMPAT_TEXT, COMPAT_BOTH},
    {"description", "description", COMPAT_TEXT, COMPAT_BOTH},
};
static const compat_name_t register_names[] = {
    {"firstName", "first_name", COMPAT_TEXT, COMPAT_IN},   {"lastName", "last_name", COMPAT_TEXT, COMPAT_IN},
    {"patronymic", "middle_name", COMPAT_TEXT, COMPAT_IN}, {"email", "email", COMPAT_TEXT, COMPAT_IN},
    {"login", "username", COMPAT_TEXT, COMPAT_IN},         {"password", "password", COMPAT_TEXT, COMPAT_IN},
    {"passwordConfirm", "password_confirm", COMPAT_TEXT, COMPAT_IN},
};
static const compat_name_t user_names[] = {
    {"firstName", "first_name", COMPAT_TEXT, COMPAT_BOTH}, {"lastName", "last_name", COMPAT_TEXT, COMPAT_BOTH},
    {"patronymic", "middle_name", COMPAT_TEXT, COMPAT_BOTH}, {"email", "email", COMPAT_TEXT, COMPAT_OUT},
    {"login", "username", COMPAT_TEXT, COMPAT_BOTH},
};
static const compat_name_t login_names[] = {
    {"login", "username", COMPAT_TEXT, COMPAT_IN},
    {"password", "password", COMPAT_TEXT, COMPAT_IN},
};
static const compat_name_t code_names[] = {
    {"email", "email", COMPAT_TEXT, COMPAT_IN},
    {"code", "code", COMPAT_TEXT, COMPAT_IN},
};

static const compat_shape_t task_shape = SHAPE(task_names), wheel_shape = SHAPE(wheel_names),
                            entry_shape = SHAPE(entry_names), gantt_shape = SHAPE(gantt_names),
                            duration_shape = SHAPE(duration_names), column_shape = SHAPE(column_names),
                            card_shape = SHAPE(card_names), register_shape = SHAPE(register_names),
                            user_shape = SHAPE(user_names), login_shape = SHAPE(login_names),
                            code_shape = SHAPE(code_names);

/* The seed's balance wheel counts 0..100 (D14): /api/v1's table and fields
 * with the larger bound, at an internal address of its own. */
static const res_field_t wheel_percent_fields[] = {
    {.f = {.name = "sphere", .type = FIELD_STRING, .flags = FIELD_REQUIRED, .min = 1, .max = 100}, .unique = 1},
    {.f = {.name = "value", .type = FIELD_INT, .flags = FIELD_REQUIRED, .max = 100}},
    {.f = {.name = "color", .type = FIELD_COLOR}},
};
static const resource_t wheel_percent = {
    .name = "BalanceSpherePercent", .table = "balance_wheel", .tag = TAG, .collection = WHEEL_PERCENT,
    .item = WHEEL_PERCENT "/{id}", .route_flags = ROUTE_AUTH | ROUTE_INTERNAL, RES_FIELDS(wheel_percent_fields),
    .summary = "spheres of the life balance wheel, valued 0..100",
    .changes_as = "balance-wheel",
};

typedef struct seed_route seed_route_t;
typedef struct compat_ctx compat_ctx_t;

/* An answer on its way through the filter: /api/v1's, then the seed's. */
typedef struct {
    http_request_t *req;
    const compat_ctx_t *c; /* NULL: the route's authentication refused the request */
    int in_status;
    json_t *in;  /* its body parsed; NULL: none, or not JSON */
    int status;  /* the seed's; 0 until decided */
    json_t *out; /* NULL: no body */
} answer_t;

/* Makes the seed's answer of /api/v1's; an error's may leave a->status 0
 * for the translation every route shares. */
typedef void (*answer_fn)(answer_t *a);

/* A seed route's /api/v1 call and what its filter makes of the answer. */
struct seed_route {
    http_method_t method;        /* the /api/v1 route's */
    const char *path;            /* its path: "{id}" is the seed's id */
    const compat_shape_t *shape; /* the request body in, the answer out, names in error texts */
    answer_fn on_ok, on_error;
    const char *envelope;        /* a whole list, under this key */
    const char *id_field;        /* the seed's id goes into this body field instead */
    const char *message;         /* on_message's text */
};

typedef struct {
    long long id;
    const char *title;
} board_column_t;

/* A compat request's state, from its handler to its answer
 * (req->filter_data: a reprocess keeps it). */
struct compat_ctx {
    const seed_route_t *route;
    unsigned own : 1;    /* the answer is compat's own, in the seed's words */
    long long id;        /* the seed's {id} */
    const char *text;    /* kept for a later step: the e-mail sent, a code, the checked password */
    const char *body;    /* the /api/v1 body, kept across a step of compat's own */
    void (*with_email)(http_request_t *req, compat_ctx_t *c, const char *email);
    board_column_t *columns;
    int column_count;
};

static int stmt_duration_move, stmt_caller_email, stmt_board_columns;

static void answer(answer_t *a, int status, json_t *out)
{
    a->status = status;
    a->out = out;
}

static void detail(answer_t *a, int status, const char *text) { answer(a, status, json_pack("{s:s}", "detail", text)); }

/* The seed's answers of a code, a mail sent, a password changed: 200 and a text to show. */
static void message(answer_t *a, const char *text) { answer(a, 200, json_pack("{s:s}", "message", text)); }

static int dump_into(const char *buffer, size_t size, void *data)
{
    abuf_append(data, buffer, size);
    return 0;
}

/* j (taken) as JSON text in the request's arena. */
static const char *text_of_json(http_request_t *req, json_t *j, size_t *len)
{
    abuf_t b;
    abuf_init(&b, &req->arena, JSON_TEXT_INITIAL);
    json_dump_callback(j, dump_into, &b, JSON_COMPACT);
    json_decref(j);
    if (len)
        *len = b.len;
    return b.data;
}

/* a->c is NULL when the route's authentication refused the request before its
 * handler chose Russian: then the catalogue's Russian text is the detail. */
static void common_error(answer_t *a)
{
    const char *code = compat_problem_code(a->in);
    const char *text = a->c ? json_string_value(json_object_get(a->in, "detail")) : problem_detail(code, LANG_RU);
    if (a->in_status == 401)
        detail(a, 401, !strcmp(code, "not_authenticated") ? "Вы не авторизованы" : T_TOKEN_INVALID);
    else if (a->in_status == 404)
        detail(a, 404, T_NOT_FOUND);
    else if (a->in_status == 409)
        detail(a, 409, "Запись с таким значением уже существует");
    else if (a->in_status == 422)
        detail(a, 422, compat_validation_text(&a->req->arena, a->c ? a->c->route->shape : NULL, a->in));
    else if (a->in_status == 400 && !strcmp(code, "malformed_json"))
        detail(a, 400, T_BAD_JSON);
    else
        detail(a, a->in_status, text && *text ? text : T_SERVER);
}

/* Every seed route's respond filter: the answer, from /api/v1 or from the
 * route's own authentication, in the seed's shape. */
static void seed_filter(http_request_t *req, int *status, const char **content_type, const void **body,
                        size_t *len)
{
    const compat_ctx_t *c = req->filter_data;
    if (c && c->own)
        return;
    assert(c || *status >= 400);
    answer_t a = {.req = req, .c = c, .in_status = *status, .in = *len ? json_loadb(*body, *len, 0, NULL) : NULL};
    if (*status < 400) {
        assert(c->route->on_ok);
        c->route->on_ok(&a);
    } else {
        if (c && c->route->on_error)
            c->route->on_error(&a);
        if (!a.status)
            common_error(&a);
    }
    json_decref(a.in);
    *status = a.status;
    *content_type = a.out ? "application/json; charset=utf-8" : NULL;
    *body = a.out ? text_of_json(req, a.out, len) : NULL;
    if (!*body)
        *len = 0;
}

/* A seed route's handler starts here: its state, and Russian texts. */
static compat_ctx_t *seed_begin(http_request_t *req)
{
    compat_ctx_t *c = arena_calloc(&req->arena, sizeof(*c));
    c->route = req->route_data;
    req->filter_data = c;
    req->lang = LANG_RU;
    return c;
}

/* A refusal of compat's own, in the seed's words already. */
static void seed_detail(http_request_t *req, compat_ctx_t *c, int status, const char *text)
{
    size_t len;
    const char *body = text_of_json(req, json_pack("{s:s}", "detail", text), &len);
    c->own = 1;
    http_respond_json(req, status, body, len);
}

/* The seed's {id}, or -1 after answering 404: ids that cannot exist are not found (D16). */
static int seed_id(http_request_t *req, compat_ctx_t *c)
{
    if (req->param_count && !(c->id = http_parse_id(req->params[0].value))) {
        seed_detail(req, c, 404, T_NOT_FOUND);
        return -1;
    }
    return 0;
}

/* The seed's JSON body: an object, or NULL after answering 400. */
static json_t *seed_object(http_request_t *req, compat_ctx_t *c)
{
    json_t *j = req->body.len ? json_loadb(req->body.data, req->body.len, 0, NULL) : json_object();
    if (!json_is_object(j)) {
        json_decref(j);
        seed_detail(req, c, 400, T_BAD_JSON);
        return NULL;
    }
    return j;
}

/* To the route's /api/v1 call, with this body (JSON text or NULL), on the
 * loop's next turn; a whole list asks for everything the engine gives one
 * request handed on (D4). */
static void hand_on(http_request_t *req, compat_ctx_t *c, const char *body)
{
    const seed_route_t *s = c->route;
    const char *path = s->path, *at = strstr(path, "{id}");
    if (at)
        path = arena_printf(&req->arena, "%.*s%lld%s", (int)(at - path), path, c->id, at + strlen("{id}"));
    const char *query = s->envelope ? arena_printf(&req->arena, "limit=%d", PAGE_INTERNAL_MAX_LIMIT) : NULL;
    if (body)
        http_request_header_set(req, "Content-Type", "application/json");
    http_request_reprocess(req, s->method, path, query, body, body ? strlen(body) : 0);
}

/* The generic seed route: its id and body as /api/v1 takes them, handed on. */
static void seed_call(http_request_t *req)
{
    compat_ctx_t *c = seed_begin(req);
    const seed_route_t *s = c->route;
    json_t *seed = NULL;
    if (seed_id(req, c) ||
        (s->shape && (s->method == METHOD_POST || s->method == METHOD_PATCH) && !(seed = seed_object(req, c))))
        return;
    json_t *v1 = seed ? compat_shape_in(s->shape, seed) : NULL;
    json_decref(seed);
    if (v1 && s->id_field)
        json_object_set_new(v1, s->id_field, json_integer(c->id));
    hand_on(req, c, v1 ? text_of_json(req, v1, NULL) : NULL);
}

static void on_list(answer_t *a)
{
    json_t *items = json_array(), *v;
    size_t i;
    json_array_foreach(json_object_get(a->in, "items"), i, v) {
        json_array_append_new(items, compat_shape_out(a->c->route->shape, v));
    }
    if (json_is_string(json_object_get(a->in, "next_cursor")))
        log_warn("request %s: a seed-000 list cut at %d items", a->req->request_id, PAGE_INTERNAL_MAX_LIMIT);
    answer(a, 200, json_pack("{s:o}", a->c->route->envelope, items));
}

static void on_object(answer_t *a)
{
    http_header_remove(a->req, "Location"); /* an /api/v1 address: the seed has none */
    answer(a, a->in_status, a->in_status == 204 ? NULL : compat_shape_out(a->c->route->shape, a->in));
}

/* The references the seed sends are ids from its own addresses (a card's
 * column, a duration's task): one that is missing or another user's is 404,
 * as the address itself would be, not /api/v1's 422 on a field (D16). */
static void on_resource_error(answer_t *a)
{
    if (a->in_status == 422 && compat_has_error(a->in, NULL, "not_found"))
        detail(a, 404, T_NOT_FOUND);
}

static void on_board_columns(http_request_t *req, PGresult *res)
{
    compat_ctx_t *c = req->filter_data;
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        api_respond_db_error(req, res);
        return;
    }
    c->column_count = PQntuples(res);
    c->columns = arena_alloc(&req->arena, sizeof(*c->columns) * (size_t)(c->column_count + 1));
    for (int i = 0; i < c->column_count; i++)
        c->columns[i] = (board_column_t){strtoll(PQgetvalue(res, i, 0), NULL, 10),
                                         arena_strdup(&req->arena, PQgetvalue(res, i, 1))};
    hand_on(req, c, NULL);
}

/* The board: every column with its cards, both in creation order. The
 * columns are one step of compat's own; the cards are /api/v1's list. */
static void board(http_request_t *req)
{
    seed_begin(req);
    const char *params[] = {http_int_param(req, req->auth.user_id), http_int_param(req, PAGE_INTERNAL_MAX_LIMIT)};
    api_query(req, stmt_board_columns, ARRAY_LEN(params), params, on_board_columns);
}

static void on_board(answer_t *a)
{
    const compat_ctx_t *c = a->c;
    json_t *columns = json_array(), *cards = json_object_get(a->in, "items"), *card;
    for (int i = 0; i < c->column_count; i++) {
        json_t *mine = json_array();
        size_t k;
        json_array_foreach(cards, k, card) {
            if (json_integer_value(json_object_get(card, "column_id")) == c->columns[i].id)
                json_array_append_new(mine, compat_shape_out(&card_shape, card));
        }
        json_t *column = json_pack("{s:I, s:s}", "id", (json_int_t)c->columns[i].id, "title", c->columns[i].title);
        json_t *out = compat_shape_out(&column_shape, column);
        json_object_set_new(out, "cards", mine);
        json_array_append_new(columns, out);
        json_decref(column);
    }
    answer(a, 200, json_pack("{s:o}", "columns", columns));
}

/* No row: no such duration or task of the caller's, 404 as the filter words it. */
static void on_duration_moved(http_request_t *req, PGresult *res)
{
    compat_ctx_t *c = req->filter_data;
    if (api_found_row(req, res))
        return;
    app_events_written(req->worker, req->auth.user_id);
    hand_on(req, c, c->body);
}

/* A bar dragged onto another task's row (D19): the one write /api/v1 has
 * no route for is a statement of compat's own; then /api/v1 sets the dates. */
static void duration_update(http_request_t *req)
{
    compat_ctx_t *c = seed_begin(req);
    if (seed_id(req, c))
        return;
    json_t *seed = seed_object(req, c);
    if (!seed)
        return;
    json_t *task = json_object_get(seed, "ganttTaskId");
    long long to = json_is_string(task) ? http_parse_id(json_string_value(task)) : 0;
    int move = json_is_string(task);
    c->body = text_of_json(req, compat_shape_in(&duration_shape, seed), NULL);
    json_decref(seed);
    if (!move) {
        hand_on(req, c, c->body);
    } else if (!to) {
        seed_detail(req, c, 404, T_NOT_FOUND);
    } else {
        const char *params[] = {http_int_param(req, c->id), http_int_param(req, req->auth.user_id),
                                 http_int_param(req, to)};
        api_query(req, stmt_duration_move, ARRAY_LEN(params), params, on_duration_moved);
    }
}

/* The seed's cookies (D1, D17): tokens HttpOnly, the refresh one where
 * GET /api/auth/refresh gets it; logged_in=True for the front end's script,
 * after a helper cookie: it reads the second cookie it can see. */
static void session_cookies(http_request_t *req, const char *access, const char *refresh)
{
    const config_t *cfg = req->worker->cfg;
    uint64_t session_s = cfg->refresh_token_ttl_ms / MS_PER_S;
    http_header_remove(req, "Set-Cookie");
    http_cookie_set(req, "hg_compat", access ? "1" : "", "/", access ? session_s : 0, 0);
    http_cookie_set(req, "access_token", access ? access : "", "/", access ? cfg->access_token_ttl_ms / MS_PER_S : 0, 1);
    http_cookie_set(req, "refresh_token", refresh ? refresh : "", "/api/auth", refresh ? session_s : 0, 1);
    http_cookie_set(req, "logged_in", access ? "True" : "", "/", access ? session_s : 0, 0);
}

static void on_registered(answer_t *a)
{
    http_header_remove(a->req, "Location");
    answer(a, 201, json_pack("{s:s, s:s}", "status", "success", "message", "Пользователь успешно зарегистрирован"));
}

/* A password the policy refuses is one text (D15: the front end checks only the length). */
static void password_errors(answer_t *a, const char *password_field)
{
    static const char *const policy[] = {"too_short", "too_long", "no_lower", "no_upper", "no_digit", "no_symbol"};
    if (compat_has_error(a->in, NULL, "mismatch")) {
        detail(a, 400, T_PASSWORDS_DIFFER);
        return;
    }
    for (size_t i = 0; i < ARRAY_LEN(policy); i++) {
        if (compat_has_error(a->in, password_field, policy[i])) {
            detail(a, 400, T_POLICY);
            return;
        }
    }
}

static void on_register_error(answer_t *a)
{
    if (a->in_status == 409)
        detail(a, 409, !strcmp(compat_problem_code(a->in), "email_taken") ? T_EMAIL_TAKEN : T_LOGIN_TAKEN);
    else if (a->in_status == 422)
        password_errors(a, "password");
}

static void on_message(answer_t *a)
{
    message(a, a->c->route->message);
}

/* The seed answers a code 200 with a message either way (D6). */
static void on_code_error(answer_t *a)
{
    const char *code = compat_problem_code(a->in);
    if (a->in_status == 410 || !strcmp(code, "code_expired"))
        message(a, "Срок действия кода истёк, запросите новый");
    else if (a->in_status == 400 && !strcmp(code, "invalid_code"))
        message(a, "Неверный код подтверждения! Проверьте ввод");
}

/* Login and refresh: /api/v1's token pair becomes the seed's cookies; the access token, or NULL. */
static const char *token_pair(answer_t *a)
{
    const char *access = json_string_value(json_object_get(a->in, "access_token"));
    const char *refresh = json_string_value(json_object_get(a->in, "refresh_token"));
    if (!access || !refresh) {
        detail(a, 500, T_SERVER);
        return NULL;
    }
    session_cookies(a->req, access, refresh);
    return access;
}

static void on_logged_in(answer_t *a)
{
    const char *access = token_pair(a);
    if (access)
        answer(a, 200, json_pack("{s:s, s:s, s:s}", "status", "Успешно", "access_token", access, "message", ""));
}

static void on_login_error(answer_t *a)
{
    http_header_remove(a->req, "WWW-Authenticate");
    if (a->in_status == 401)
        detail(a, 400, "Неверный логин или пароль");
    else if (!strcmp(compat_problem_code(a->in), "email_not_verified"))
        detail(a, 403, "Пожалуйста, подтвердите вашу почту");
}

static void on_refreshed(answer_t *a)
{
    const char *access = token_pair(a);
    if (access)
        answer(a, 200, json_pack("{s:s}", "access_token", access));
}

static void on_refresh_error(answer_t *a)
{
    if (a->in_status == 401) { /* its session is over: the front end should not believe otherwise */
        session_cookies(a->req, NULL, NULL);
        detail(a, 401, T_TOKEN_INVALID);
    }
}

/* GET, the cookie only. Without it, 400 before any database work: every
 * anonymous page load of the seed asks (D13, D18). /api/v1 reads the same
 * cookie. */
static void refresh(http_request_t *req)
{
    compat_ctx_t *c = seed_begin(req);
    const char *token = http_cookie_get(req, "refresh_token");
    if (!token || !*token)
        seed_detail(req, c, 400, T_NO_REFRESH);
    else
        hand_on(req, c, NULL);
}

static void on_logged_out(answer_t *a)
{
    session_cookies(a->req, NULL, NULL);
    answer(a, 200, json_pack("{s:s}", "status", "success"));
}

static void on_profile_error(answer_t *a)
{
    if (a->in_status == 409 || !strcmp(compat_problem_code(a->in), "username_taken"))
        detail(a, 409, T_LOGIN_TAKEN);
}

static void on_caller_email(http_request_t *req, PGresult *res)
{
    compat_ctx_t *c = req->filter_data;
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        api_respond_db_error(req, res);
    else if (PQntuples(res) != 1)
        seed_detail(req, c, 404, "Пользователь не найден");
    else
        c->with_email(req, c, PQgetvalue(res, 0, 0));
}

/* The caller's stored e-mail address, for then: a step of compat's own
 * before the routes that compare it or mail it (/api/v1 has none that says
 * it alone). */
static void with_caller_email(http_request_t *req, compat_ctx_t *c,
                              void (*then)(http_request_t *req, compat_ctx_t *c, const char *email))
{
    c->with_email = then;
    const char *params[] = {http_int_param(req, req->auth.user_id)};
    api_query(req, stmt_caller_email, ARRAY_LEN(params), params, on_caller_email);
}

static void profile_with_email(http_request_t *req, compat_ctx_t *c, const char *email)
{
    if (c->text && strcasecmp(c->text, email))
        seed_detail(req, c, 400, "Почту здесь изменить нельзя: для смены почты нужны пароль и код из письма");
    else
        hand_on(req, c, c->body);
}

/* The e-mail sent is compared with the stored one first: it changes only
 * with a password and a mailed code (/api/v1/users/me/email), never here (D5). */
static void profile_update(http_request_t *req)
{
    compat_ctx_t *c = seed_begin(req);
    json_t *seed = seed_object(req, c);
    if (!seed)
        return;
    const char *email = json_string_value(json_object_get(seed, "email"));
    c->text = email ? arena_strdup(&req->arena, email) : NULL;
    c->body = text_of_json(req, compat_shape_in(&user_shape, seed), NULL);
    json_decref(seed);
    with_caller_email(req, c, profile_with_email);
}

static void code_with_email(http_request_t *req, compat_ctx_t *c, const char *email)
{
    json_t *body = c->text ? json_pack("{s:s, s:s}", "email", email, "code", c->text)
                           : json_pack("{s:s}", "email", email);
    hand_on(req, c, text_of_json(req, body, NULL));
}

/* GET /email/verify_profile: a new code for the caller's own address, even a verified one. */
static void verify_profile(http_request_t *req) { with_caller_email(req, seed_begin(req), code_with_email); }

/* GET /email/verify_auth_code/{code}: /api/v1's verify-email for the caller's own address. */
static void verify_auth_code(http_request_t *req)
{
    compat_ctx_t *c = seed_begin(req);
    c->text = http_param(req, "code");
    with_caller_email(req, c, code_with_email);
}

/* Where verify_profile's mail comes from: the code /api/v1 sends, of the
 * kind no /api/v1 route asks for. */
static void send_reverify(http_request_t *req) { api_send_code(req, "reverify"); }

/* The seed checks the old password (in the path) and then sends only the
 * new one. A successful check leaves its proof (api_compat_proof.c) in an
 * HttpOnly cookie for the one route that needs it; the change itself is
 * /api/v1's (policy, check, other sessions revoked). */
#define PROOF_COOKIE "hg_compat_pw"
#define PROOF_PATH "/api/users/update_user_password"

static void check_password(http_request_t *req)
{
    compat_ctx_t *c = seed_begin(req);
    const char *pw = compat_path_segment(&req->arena, http_param(req, "password"));
    if (!pw || strlen(pw) > PASSWORD_MAX_BYTES) {
        seed_detail(req, c, 400, T_WRONG_OLD);
        return;
    }
    c->text = pw;
    hand_on(req, c, text_of_json(req, json_pack("{s:s}", "password", pw), NULL));
}

static void on_password_matched(answer_t *a)
{
    const char *proof = compat_proof_seal(&a->req->arena, a->req->auth.session_id, time(NULL), a->c->text);
    http_cookie_set(a->req, PROOF_COOKIE, proof, PROOF_PATH, COMPAT_PROOF_SECONDS, 1);
    answer(a, 200, json_pack("{s:s}", "statusPassword", "true"));
}

static void on_password_wrong(answer_t *a)
{
    if (a->in_status == 403)
        detail(a, 400, T_WRONG_OLD);
}

static void update_password(http_request_t *req)
{
    compat_ctx_t *c = seed_begin(req);
    json_t *seed = seed_object(req, c);
    if (!seed)
        return;
    const char *pw = json_string_value(json_object_get(seed, "password"));
    const char *confirm = json_string_value(json_object_get(seed, "passwordConfirm"));
    const char *cookie = http_cookie_get(req, PROOF_COOKIE);
    const char *old = cookie ? compat_proof_open(&req->arena, req->auth.session_id, time(NULL), cookie) : NULL;
    if (!pw || !confirm || strcmp(pw, confirm))
        seed_detail(req, c, 400, T_PASSWORDS_DIFFER);
    else if (!old)
        seed_detail(req, c, 403, T_CHECK_OLD_FIRST);
    else
        hand_on(req, c, text_of_json(req, json_pack("{s:s, s:s}", "current_password", old, "new_password", pw), NULL));
    json_decref(seed);
}

static void on_password_changed(answer_t *a)
{
    http_cookie_set(a->req, PROOF_COOKIE, "", PROOF_PATH, 0, 1);
    message(a, "Пароль изменён");
}

static void on_password_change_error(answer_t *a)
{
    if (a->in_status == 403 && !strcmp(compat_problem_code(a->in), "wrong_password"))
        detail(a, 403, T_CHECK_OLD_FIRST);
    else if (a->in_status == 422)
        password_errors(a, "new_password");
}

#define V1 "/api/v1"
/* A seed route: its handler, and the /api/v1 call it hands on to, as its route data. */
#define SEED(allow, path, fn, auth, ...)                                                                 \
    .http = {.methods = allow, .pattern = path, .handler = fn, .flags = auth, .filter = seed_filter, \
             .data = &(const seed_route_t){__VA_ARGS__}}
#define USER ROUTE_AUTH
#define ANYONE 0
#define LIST(to, sh, key) \
    .method = METHOD_GET, .path = to, .shape = &sh, .on_ok = on_list, .on_error = on_resource_error, .envelope = key
/* The seed's PUTs are PATCHes: the fields it does not know stay (D9). */
#define WRITE(m, to, sh) .method = m, .path = to, .shape = &sh, .on_ok = on_object, .on_error = on_resource_error

/* Documented as the seed's routes: what they translate to; their answers are
 * the seed's JSON ({"detail": "<Russian>"} for errors), not /api/v1's. */
static const api_route_t seed_routes[] = {
    {SEED(ALLOW_POST, "/api/auth/register", seed_call, ANYONE, .method = METHOD_POST, .path = V1 "/auth/register",
          .shape = &register_shape, .on_ok = on_registered, .on_error = on_register_error),
     .status = 201, .summary = "Seed 000: register (POST /api/v1/auth/register)"},
    {SEED(ALLOW_POST, "/api/auth/login", seed_call, ANYONE, .method = METHOD_POST, .path = V1 "/auth/login",
          .shape = &login_shape, .on_ok = on_logged_in, .on_error = on_login_error),
     .summary = "Seed 000: log in with {login, password}; sets its cookies"},
    {SEED(ALLOW_GET, "/api/auth/refresh", refresh, ANYONE, .method = METHOD_POST, .path = V1 "/auth/refresh",
          .on_ok = on_refreshed, .on_error = on_refresh_error),
     .summary = "Seed 000: new tokens from the refresh_token cookie"},
    {SEED(ALLOW_GET, "/api/auth/logout", seed_call, USER, .method = METHOD_POST, .path = V1 "/auth/logout",
          .on_ok = on_logged_out),
     .summary = "Seed 000: log out and clear its cookies"},
    {SEED(ALLOW_POST, "/email/verify_mail_not_auth", seed_call, ANYONE, .method = METHOD_POST,
          .path = V1 "/auth/verify-email", .shape = &code_shape, .on_ok = on_message, .on_error = on_code_error,
          .message = T_VERIFIED),
     .summary = "Seed 000: verify the e-mail address with the mailed code"},
    {SEED(ALLOW_GET, "/email/verify_profile", verify_profile, USER, .method = METHOD_POST, .path = REVERIFY,
          .on_ok = on_message, .message = "Сообщение было отправлено"),
     .summary = "Seed 000: mail a new verification code to the caller"},
    {SEED(ALLOW_GET, "/email/verify_auth_code/{code}", verify_auth_code, USER, .method = METHOD_POST,
          .path = V1 "/auth/verify-email", .shape = &code_shape, .on_ok = on_message, .on_error = on_code_error,
          .message = T_VERIFIED),
     .summary = "Seed 000: verify the caller's e-mail address"},
    {SEED(ALLOW_GET, "/api/users/me", seed_call, USER, .method = METHOD_GET, .path = V1 "/users/me",
          .shape = &user_shape, .on_ok = on_object),
     .summary = "Seed 000: the caller's profile"},
    {SEED(ALLOW_PUT, "/api/users/update_profile", profile_update, USER, .method = METHOD_PATCH, .path = V1 "/users/me",
          .shape = &user_shape, .on_ok = on_object, .on_error = on_profile_error),
     .summary = "Seed 000: edit the profile (not the e-mail address)"},
    {SEED(ALLOW_PUT, "/api/users/update_user_password", update_password, USER, .method = METHOD_PUT,
          .path = V1 "/users/me/password", .on_ok = on_password_changed, .on_error = on_password_change_error),
     .summary = "Seed 000: set a new password"},
    {SEED(ALLOW_GET, "/api/users/check_password/{password}", check_password, USER, .method = METHOD_POST,
          .path = V1 "/users/me/password/check", .on_ok = on_password_matched, .on_error = on_password_wrong),
     .summary = "Seed 000: check the current password"},
    {SEED(ALLOW_GET, "/api/balanceCircle/circle_data", seed_call, USER, LIST(WHEEL_PERCENT, wheel_shape, "stats")),
     .summary = "Seed 000: the balance wheel (values 0..100)"},
    {SEED(ALLOW_POST, "/api/balanceCircle/insert_value", seed_call, USER,
          WRITE(METHOD_POST, WHEEL_PERCENT, wheel_shape)),
     .status = 201, .summary = "Seed 000: add a sphere to the balance wheel"},
    {SEED(ALLOW_PUT, "/api/balanceCircle/{id}", seed_call, USER,
          WRITE(METHOD_PATCH, WHEEL_PERCENT "/{id}", wheel_shape)),
     .summary = "Seed 000: change a sphere"},
    {SEED(ALLOW_DELETE, "/api/balanceCircle/{id}", seed_call, USER,
          WRITE(METHOD_DELETE, WHEEL_PERCENT "/{id}", wheel_shape)),
     .status = 204, .summary = "Seed 000: delete a sphere"},
    {SEED(ALLOW_GET, "/api/tasksList/tasks_in_list", seed_call, USER, LIST(V1 "/tasks", task_shape, "items")),
     .summary = "Seed 000: the to-do list (tasks)"},
    {SEED(ALLOW_POST, "/api/tasksList/insert_task_in_list", seed_call, USER,
          WRITE(METHOD_POST, V1 "/tasks", task_shape)),
     .status = 201, .summary = "Seed 000: add a task"},
    {SEED(ALLOW_PUT, "/api/tasksList/{id}", seed_call, USER, WRITE(METHOD_PATCH, V1 "/tasks/{id}", task_shape)),
     .summary = "Seed 000: change a task"},
    {SEED(ALLOW_DELETE, "/api/tasksList/{id}", seed_call, USER, WRITE(METHOD_DELETE, V1 "/tasks/{id}", task_shape)),
     .status = 204, .summary = "Seed 000: delete a task"},
    {SEED(ALLOW_GET, "/api/entryDailyPlanner/DailyPlanner/entry_data", seed_call, USER,
          LIST(V1 "/planner/entries", entry_shape, "entries")),
     .summary = "Seed 000: the daily planner's entries"},
    {SEED(ALLOW_POST, "/api/entryDailyPlanner/insert_entry", seed_call, USER,
          WRITE(METHOD_POST, V1 "/planner/entries", entry_shape)),
     .status = 201, .summary = "Seed 000: add a planner entry"},
    {SEED(ALLOW_PUT, "/api/entryDailyPlanner/{id}", seed_call, USER,
          WRITE(METHOD_PATCH, V1 "/planner/entries/{id}", entry_shape)),
     .summary = "Seed 000: change a planner entry"},
    {SEED(ALLOW_DELETE, "/api/entryDailyPlanner/{id}", seed_call, USER,
          WRITE(METHOD_DELETE, V1 "/planner/entries/{id}", entry_shape)),
     .status = 204, .summary = "Seed 000: delete a planner entry"},
    {SEED(ALLOW_GET, "/api/ganttChartTasks/gantt_tasks_data", seed_call, USER,
          LIST(V1 "/gantt/tasks", gantt_shape, "GanttTasks")),
     .summary = "Seed 000: the Gantt tasks"},
    {SEED(ALLOW_POST, "/api/ganttChartTasks/insert_gantt_task", seed_call, USER,
          WRITE(METHOD_POST, V1 "/gantt/tasks", gantt_shape)),
     .status = 201, .summary = "Seed 000: add a Gantt task"},
    {SEED(ALLOW_PUT, "/api/ganttChartTasks/{id}", seed_call, USER,
          WRITE(METHOD_PATCH, V1 "/gantt/tasks/{id}", gantt_shape)),
     .summary = "Seed 000: rename a Gantt task"},
    {SEED(ALLOW_DELETE, "/api/ganttChartTasks/{id}", seed_call, USER,
          WRITE(METHOD_DELETE, V1 "/gantt/tasks/{id}", gantt_shape)),
     .status = 204, .summary = "Seed 000: delete a Gantt task and its durations"},
    {SEED(ALLOW_GET, "/api/ganttChartTaskDuration/gantt_durations_data/{id}", seed_call, USER,
          LIST(V1 "/gantt/tasks/{id}/durations", duration_shape, "durations")),
     .summary = "Seed 000: a Gantt task's durations"},
    {SEED(ALLOW_POST, "/api/ganttChartTaskDuration/insert_duration/{id}", seed_call, USER,
          WRITE(METHOD_POST, V1 "/gantt/tasks/{id}/durations", duration_shape)),
     .status = 201, .summary = "Seed 000: add a duration to a Gantt task"},
    {SEED(ALLOW_PUT, "/api/ganttChartTaskDuration/{id}", duration_update, USER,
          WRITE(METHOD_PATCH, V1 "/gantt/durations/{id}", duration_shape)),
     .summary = "Seed 000: move a duration (dates, task)"},
    {SEED(ALLOW_DELETE, "/api/ganttChartTaskDuration/{id}", seed_call, USER,
          WRITE(METHOD_DELETE, V1 "/gantt/durations/{id}", duration_shape)),
     .status = 204, .summary = "Seed 000: delete a duration"},
    {SEED(ALLOW_GET, "/api/kanbanCards/kanban_cards", board, USER, .method = METHOD_GET, .path = V1 "/kanban/cards",
          .on_ok = on_board, .envelope = "columns"),
     .summary = "Seed 000: the kanban board, columns with their cards"},
    {SEED(ALLOW_POST, "/api/kanbanCards/insert_kanban_card", seed_call, USER,
          WRITE(METHOD_POST, V1 "/kanban/columns", column_shape)),
     .status = 201, .summary = "Seed 000: add a kanban column"},
    {SEED(ALLOW_PUT, "/api/kanbanCards/{id}", seed_call, USER,
          WRITE(METHOD_PATCH, V1 "/kanban/columns/{id}", column_shape)),
     .summary = "Seed 000: rename a kanban column"},
    {SEED(ALLOW_DELETE, "/api/kanbanCards/{id}", seed_call, USER,
          WRITE(METHOD_DELETE, V1 "/kanban/columns/{id}", column_shape)),
     .status = 204, .summary = "Seed 000: delete a kanban column and its cards"},
    {SEED(ALLOW_POST, "/api/taskInCards/insert_task/{id}", seed_call, USER,
          WRITE(METHOD_POST, V1 "/kanban/cards", card_shape), .id_field = "column_id"),
     .status = 201, .summary = "Seed 000: add a card to a column"},
    {SEED(ALLOW_PUT, "/api/taskInCards/{id}", seed_call, USER,
          WRITE(METHOD_PATCH, V1 "/kanban/cards/{id}", card_shape)),
     .summary = "Seed 000: change or move a card"},
    {SEED(ALLOW_DELETE, "/api/taskInCards/{id}", seed_call, USER,
          WRITE(METHOD_DELETE, V1 "/kanban/cards/{id}", card_shape)),
     .status = 204, .summary = "Seed 000: delete a card"},
    {.http = {.methods = ALLOW_POST, .pattern = REVERIFY, .handler = send_reverify, .flags = ROUTE_INTERNAL}},
};

/* The seed's routes, then the 0..100 wheel's (internal, like the mail above). */
static api_route_t compat_routes[ARRAY_LEN(seed_routes) + RES_ROUTES_MAX];

static void register_compat(void)
{
    /* The one write /api/v1 has no route for: a duration moved to another
     * of the caller's Gantt tasks (its dates change through /api/v1 after),
     * with its change event as the engine writes them. */
    char *move = res_write_sql(planning_resource("GanttDuration"),
                               "UPDATE gantt_durations AS t SET task_id = $3::bigint, updated_at = now() "
                               "WHERE t.id = $1::bigint AND t.user_id = $2::bigint AND EXISTS "
                               "(SELECT 1 FROM gantt_tasks WHERE id = $3::bigint AND user_id = $2::bigint)",
                               "updated");
    stmt_duration_move = db_statement_register("compat_duration_move", move);
    free(move);
    stmt_caller_email = db_statement_register("compat_caller_email", "SELECT email FROM users WHERE id = $1::bigint");
    stmt_board_columns = db_statement_register(
        "compat_board_columns",
        "SELECT id, title FROM kanban_columns WHERE user_id = $1::bigint ORDER BY user_id, id LIMIT $2::int");
    compat_proof_init();
    memcpy(compat_routes, seed_routes, sizeof(seed_routes));
    res_register(&wheel_percent, &compat_routes[ARRAY_LEN(seed_routes)]);
}

const api_module_t api_compat_module = {
    .name = "compat-seed000", .tag = TAG, .routes = compat_routes, .route_count = ARRAY_LEN(compat_routes),
    .register_statements = register_compat, .seed000 = 1,
};
