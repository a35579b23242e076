/* Seed 000's routes (github:vergeeva/react_management), on only with
 * COMPAT_SEED000: a translation layer, not a second implementation. Each
 * handler rewrites the request into its /api/v1 form (body, path
 * parameters, method, route data; Russian texts) and hands it to the /api/v1
 * handler, whose answer a respond filter turns into the seed's shape:
 * camelCase names in the seed's envelopes, ids as strings, naive UTC
 * date-times, errors as {"detail": "<Russian>"}, the seed's cookies. The
 * choices are written in /work/notes/seed000_calls.md §10 and in README.md. */
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "hourglass/api.h"
#include "hourglass/api_v1.h"
#include "hourglass/bridge.h"
#include "hourglass/http_auth.h"
#include "hourglass/openapi.h"
#include "hourglass/resource.h"
#include "hourglass/server.h"

#define TAG "seed-000 compatibility"
/* The seed reads whole lists: /api/v1 pages of the largest size are joined. */
#define PAGE_QUERY "limit=200"
/* How long a checked old password may be used to set a new one. */
#define PASSWORD_PROOF_SECONDS 300
#define PASSWORD_MAX_BYTES 128

#define T_NOT_LOGGED_IN "Вы не авторизованы"
#define T_TOKEN_INVALID "Токен недействителен или истёк"
#define T_NOT_FOUND "Нет записи с данным кодом"
#define T_TAKEN "Запись с таким значением уже существует"
#define T_BAD_JSON "Тело запроса должно быть объектом JSON"
#define T_LOGIN_TAKEN "Аккаунт с данным логином уже существует"
#define T_EMAIL_TAKEN "На эту почту уже зарегистрирован аккаунт"
#define T_PASSWORDS_DIFFER "Пароли не совпадают"
#define T_POLICY "Пароль должен быть не короче 8 символов и содержать строчные и заглавные буквы, цифру и символ"
#define T_VERIFIED "Почта успешно подтверждена"
#define T_WRONG_CODE "Неверный код подтверждения! Проверьте ввод"
#define T_CODE_EXPIRED "Срок действия кода истёк, запросите новый"
#define T_BAD_LOGIN "Неверный логин или пароль"
#define T_NOT_VERIFIED "Пожалуйста, подтвердите вашу почту"
#define T_WRONG_OLD "Старый пароль не является верным"
#define T_CHECK_OLD_FIRST "Сначала подтвердите старый пароль"
#define T_EMAIL_CHANGE "Почту здесь изменить нельзя: для смены почты нужны пароль и код из письма"
#define T_NO_REFRESH "Please provide refresh token" /* English: the front end compares this very text */

/* ---------------------------------------------------------------- names and values */

/* How a value travels between the seed's field and the /api/v1 one. */
typedef enum {
    K_TEXT,    /* a string; null is answered "" */
    K_INT,     /* a number, or a string of digits in the request */
    K_ID,      /* answered as a string; a string of digits in the request is the id */
    K_CHECKED, /* the seed's boolean is /api/v1's status "done" */
    K_TIME,    /* RFC 3339 in; answered as the naive UTC wall clock */
    K_DAY,     /* a date-time in, its UTC date stored; answered as that day's midnight */
    K_COLOR,   /* react-agenda's class names "color-1".."color-6" are fixed colours */
} kind_t;

#define IN 1u
#define OUT 2u

typedef struct {
    const char *seed;
    const char *v1;
    kind_t kind;
    unsigned dir; /* IN, OUT or both */
} name_map_t;

typedef struct {
    const name_map_t *names;
    size_t count;
} shape_t;

#define SHAPE(a) {a, ARRAY_LEN(a)}

/* calendar.js's itemColors of the seed, as #rrggbb */
static const char *const agenda_colors[] = {"#d49df6", "#eaf36e", "#f58c7c", "#7dc9f8", "#f687c8", "#bdf687"};

static json_t *color_in(const char *s)
{
    if (!strncmp(s, "color-", 6) && s[6] >= '1' && s[6] <= '6' && !s[7])
        return json_string(agenda_colors[s[6] - '1']);
    return json_string(s);
}

static json_t *color_out(const char *s)
{
    for (size_t i = 0; i < ARRAY_LEN(agenda_colors); i++) {
        if (!strcasecmp(s, agenda_colors[i])) {
            char name[8];
            snprintf(name, sizeof(name), "color-%zu", i + 1);
            return json_string(name);
        }
    }
    return json_string(s);
}

/* The UTC date of an RFC 3339 time (the seed sends UTC midnights of
 * dates); anything else is passed on for /api/v1 to refuse. */
static json_t *day_in(const char *s)
{
    int y, mo, d, h, mi, sec, n = 0;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 || !body_valid_datetime(s))
        return json_string(s);
    const char *p = s + n;
    if (*p == '.')
        for (p++; *p >= '0' && *p <= '9'; p++)
            ;
    long offset = 0;
    if (*p == '+' || *p == '-') {
        int oh = 0, om = 0;
        if (sscanf(p + 1, "%2d:%2d", &oh, &om) == 2)
            offset = (*p == '+' ? 1 : -1) * (oh * 3600L + om * 60L);
    }
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi, .tm_sec = sec};
    time_t t = timegm(&tm) - offset;
    struct tm utc;
    gmtime_r(&t, &utc);
    char out[16];
    strftime(out, sizeof(out), "%Y-%m-%d", &utc);
    return json_string(out);
}

static json_t *value_in(kind_t kind, json_t *v)
{
    const char *s = json_string_value(v);
    switch (kind) {
    case K_INT:
    case K_ID:
        if (s && *s && strspn(s, "0123456789") == strlen(s) && strlen(s) < 19)
            return json_integer(strtoll(s, NULL, 10));
        break;
    case K_CHECKED:
        if (json_is_boolean(v))
            return json_string(json_is_true(v) ? "done" : "todo");
        break;
    case K_DAY:
        if (s)
            return day_in(s);
        break;
    case K_COLOR:
        if (s)
            return color_in(s);
        break;
    default:
        break;
    }
    return json_incref(v);
}

static json_t *value_out(kind_t kind, json_t *v)
{
    const char *s = json_string_value(v);
    switch (kind) {
    case K_TEXT:
        return json_is_null(v) || !v ? json_string("") : json_incref(v);
    case K_ID:
        if (json_is_integer(v))
            return json_sprintf("%lld", (long long)json_integer_value(v));
        break;
    case K_CHECKED:
        return json_boolean(s && !strcmp(s, "done"));
    case K_TIME:
        if (s && strlen(s) > 1 && s[strlen(s) - 1] == 'Z')
            return json_stringn(s, strlen(s) - 1);
        break;
    case K_DAY:
        if (s && strlen(s) == 10)
            return json_sprintf("%sT00:00:00", s);
        break;
    case K_COLOR:
        return s ? color_out(s) : json_string("");
    default:
        break;
    }
    return v ? json_incref(v) : json_null();
}

/* The seed's object as /api/v1's: known fields renamed and converted,
 * others (the seed sends its ids back in bodies) left out. */
static json_t *shape_in(const shape_t *sh, json_t *seed)
{
    json_t *out = json_object();
    for (size_t i = 0; i < sh->count; i++) {
        const name_map_t *n = &sh->names[i];
        json_t *v = json_object_get(seed, n->seed);
        if ((n->dir & IN) && v)
            json_object_set_new(out, n->v1, value_in(n->kind, v));
    }
    return out;
}

static json_t *shape_out(const shape_t *sh, json_t *v1)
{
    json_t *out = json_object();
    for (size_t i = 0; i < sh->count; i++) {
        const name_map_t *n = &sh->names[i];
        if (n->dir & OUT)
            json_object_set_new(out, n->seed, value_out(n->kind, json_object_get(v1, n->v1)));
    }
    return out;
}

static const char *seed_name(const shape_t *sh, const char *v1)
{
    for (size_t i = 0; sh && i < sh->count; i++)
        if (!strcmp(sh->names[i].v1, v1))
            return sh->names[i].seed;
    return v1;
}

/* ---------------------------------------------------------------- the answer filter */

typedef struct compat_ctx compat_ctx_t;
typedef struct compat_route compat_route_t;
/* What a route makes of an /api/v1 answer (c->in_status, c->in: its body
 * parsed, or NULL): it sets c->status and c->out (the seed's answer), or
 * returns 1 after handing the request on to another step, which answers in
 * its turn. */
typedef int (*answer_fn)(http_request_t *req, compat_ctx_t *c);

struct compat_ctx {
    const compat_route_t *route;
    const shape_t *shape; /* for field names in error texts */
    answer_fn on_ok;      /* 2xx */
    answer_fn on_error;   /* optional; 0: the common translation */
    int in_status;
    json_t *in;           /* borrowed for the answer_fn's call */
    int status;
    json_t *out;          /* the seed's answer; NULL: no body */
    abuf_t pages[2];      /* a list's items gathered page by page, as JSON text in the arena
                             (a request that ends between pages leaves nothing to free) */
    int phase;
    const char *text;     /* a value kept between steps */
    http_method_t method; /* the client's: given back before the answer is written (HEAD, metrics) */
};

static int answer(compat_ctx_t *c, int status, json_t *out)
{
    c->status = status;
    c->out = out;
    return 0;
}

static int answer_detail(compat_ctx_t *c, int status, const char *text)
{
    return answer(c, status, json_pack("{s:s}", "detail", text));
}

/* One readable Russian text for a 422's field errors, in the seed's names
 * (the /api/v1 messages are Russian already: the request's language is). */
static const char *validation_text(http_request_t *req, const compat_ctx_t *c, json_t *body)
{
    abuf_t b;
    abuf_init(&b, &req->arena, 128);
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(body, "errors"), i, e) {
        const char *field = json_string_value(json_object_get(e, "field"));
        const char *msg = json_string_value(json_object_get(e, "message"));
        if (!field || !msg)
            continue;
        abuf_printf(&b, "%s%s: %s", b.len ? "; " : "", seed_name(c->shape, field), msg);
    }
    if (b.len)
        return b.data;
    const char *d = json_string_value(json_object_get(body, "detail"));
    return d ? d : "Ошибка в данных запроса";
}

static int has_error(json_t *body, const char *field, const char *code)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(body, "errors"), i, e) {
        const char *f = json_string_value(json_object_get(e, "field"));
        const char *k = json_string_value(json_object_get(e, "code"));
        if ((!field || (f && !strcmp(f, field))) && (!code || (k && !strcmp(k, code))))
            return 1;
    }
    return 0;
}

static const char *problem_code(json_t *body)
{
    const char *code = json_string_value(json_object_get(body, "code"));
    return code ? code : "";
}

static void common_error(http_request_t *req, compat_ctx_t *c)
{
    const char *code = problem_code(c->in);
    const char *detail = json_string_value(json_object_get(c->in, "detail"));
    if (c->in_status == 401)
        answer_detail(c, 401, !strcmp(code, "not_authenticated") ? T_NOT_LOGGED_IN : T_TOKEN_INVALID);
    else if (c->in_status == 404)
        answer_detail(c, 404, T_NOT_FOUND);
    else if (c->in_status == 409)
        answer_detail(c, 409, T_TAKEN);
    else if (c->in_status == 422)
        answer_detail(c, 422, validation_text(req, c, c->in));
    else if (c->in_status == 400 && !strcmp(code, "malformed_json"))
        answer_detail(c, 400, T_BAD_JSON);
    else
        answer_detail(c, c->in_status, detail && *detail ? detail : "Ошибка сервера");
}

static void compat_filter(http_request_t *req, int *status, const char **content_type, const void **body,
                          size_t *len)
{
    compat_ctx_t *c = req->filter_data;
    int went_on = 0;
    if (!c->status) { /* else the handler answered in the seed's words already */
        json_t *in = *len ? json_loadb(*body, *len, 0, NULL) : NULL;
        c->out = NULL;
        c->in_status = *status;
        c->in = in;
        if (*status >= 400) {
            if (c->on_error)
                c->on_error(req, c);
            if (!c->status)
                common_error(req, c);
        } else {
            went_on = c->on_ok(req, c);
        }
        c->in = NULL;
        json_decref(in);
    }
    if (went_on) {
        *status = 0;
        return;
    }
    *status = c->status;
    c->status = 0;
    req->method = c->method;
    if (!c->out) {
        *content_type = NULL;
        *body = NULL;
        *len = 0;
        return;
    }
    char *text = json_dumps(c->out, JSON_COMPACT);
    json_decref(c->out);
    c->out = NULL;
    *content_type = "application/json; charset=utf-8";
    *len = text ? strlen(text) : 0;
    *body = text ? arena_strndup(&req->arena, text, *len) : NULL;
    free(text);
}

/* Starts a compat request: Russian texts, the filter, and (auth) the
 * access token, whose 401 the filter translates too. -1 after answering. */
static int compat_start(http_request_t *req, compat_ctx_t *c, answer_fn on_ok, answer_fn on_error, int auth)
{
    c->on_ok = on_ok;
    c->on_error = on_error;
    c->method = req->method;
    req->lang = LANG_RU;
    req->respond_filter = compat_filter;
    req->filter_data = c;
    return auth && api_authenticate(req, ROUTE_AUTH) ? -1 : 0;
}

/* compat_start with a new context; NULL after answering. */
static compat_ctx_t *compat_begin(http_request_t *req, answer_fn on_ok, answer_fn on_error, int auth)
{
    compat_ctx_t *c = arena_calloc(&req->arena, sizeof(*c));
    return compat_start(req, c, on_ok, on_error, auth) ? NULL : c;
}

/* Hands the request on to the next /api/v1 step, with the filter on again. */
static int go_on(http_request_t *req, compat_ctx_t *c, answer_fn on_ok, http_handler_fn next)
{
    c->on_ok = on_ok;
    req->respond_filter = compat_filter;
    req->filter_data = c;
    next(req);
    return 1;
}

/* The request's body becomes this JSON object (taken), sent as JSON. */
static void set_json_body(http_request_t *req, json_t *obj)
{
    char *text = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    size_t n = text ? strlen(text) : 0;
    abuf_init(&req->body, &req->arena, n + 1);
    abuf_append(&req->body, text ? text : "", n);
    free(text);
    for (int i = 0; i < req->header_count; i++) {
        if (req->headers[i].name_len == 12 && !strncasecmp(req->headers[i].name, "content-type", 12)) {
            req->headers[i].value = "application/json";
            req->headers[i].value_len = 16;
            return;
        }
    }
    http_header_t *h = arena_alloc(&req->arena, sizeof(*h) * (size_t)(req->header_count + 1));
    memcpy(h, req->headers, sizeof(*h) * (size_t)req->header_count);
    h[req->header_count] = (http_header_t){"content-type", 12, "application/json", 16};
    req->headers = h;
    req->header_count++;
    req->header_cap = req->header_count;
}

/* The seed's JSON body: an object, or NULL after answering 400. */
static json_t *seed_body(http_request_t *req, compat_ctx_t *c)
{
    json_t *j = req->body.len ? json_loadb(req->body.data, req->body.len, 0, NULL) : json_object();
    if (!json_is_object(j)) {
        json_decref(j);
        answer_detail(c, 400, T_BAD_JSON);
        http_respond(req, 400, NULL, NULL, 0); /* the filter writes c's answer */
        return NULL;
    }
    return j;
}

static void set_param(http_request_t *req, const char *name, const char *value)
{
    req->params[0].name = name;
    req->params[0].value = value;
    req->param_count = 1;
}

/* ---------------------------------------------------------------- planning resources */

typedef enum { OP_LIST, OP_CREATE, OP_UPDATE, OP_DELETE, OP_BOARD } op_t;

struct compat_route {
    op_t op;
    const char *resource;  /* the declaration's name in res_planning.c */
    const shape_t *shape;
    const char *envelope;  /* OP_LIST: the seed's key of the array */
    /* Where the path's {id} goes: an /api/v1 path parameter ("id",
     * "task_id"), or with a leading '.', a body field (".column_id"). */
    const char *id_to;
};

static const name_map_t task_names[] = {
    {"idTaskInList", "id", K_ID, OUT},
    {"textOfItem", "title", K_TEXT, IN | OUT},
    {"isChecked", "status", K_CHECKED, IN | OUT},
};
static const name_map_t wheel_names[] = {
    {"labelItem", "sphere", K_TEXT, IN | OUT},
    {"value", "value", K_INT, IN | OUT},
    {"idBalance", "id", K_ID, OUT},
};
static const name_map_t entry_names[] = {
    {"idEntry", "id", K_ID, OUT},
    {"dailyTaskName", "title", K_TEXT, IN | OUT},
    {"taskStart", "start", K_TIME, IN | OUT},
    {"taskEnd", "end", K_TIME, IN | OUT},
    {"taskColor", "color", K_COLOR, IN | OUT},
};
static const name_map_t gantt_names[] = {
    {"idGanttTask", "id", K_ID, OUT},
    {"nameOfTask", "title", K_TEXT, IN | OUT},
};
static const name_map_t duration_names[] = {
    {"idGanttDuration", "id", K_ID, OUT},
    {"ganttTaskStart", "start_date", K_DAY, IN | OUT},
    {"ganttTaskEnd", "end_date", K_DAY, IN | OUT},
    {"ganttTaskId", "task_id", K_ID, OUT}, /* moving is a step of its own: stmt_duration_move */
};
static const name_map_t column_names[] = {
    {"id", "id", K_ID, OUT},
    {"title", "title", K_TEXT, IN | OUT},
};
static const name_map_t card_names[] = {
    {"id", "id", K_ID, OUT},
    {"kanbanCardId", "column_id", K_ID, IN},
    {"title", "title", K_TEXT, IN | OUT},
    {"description", "description", K_TEXT, IN | OUT},
};

static const shape_t task_shape = SHAPE(task_names), wheel_shape = SHAPE(wheel_names),
                     entry_shape = SHAPE(entry_names), gantt_shape = SHAPE(gantt_names),
                     duration_shape = SHAPE(duration_names), column_shape = SHAPE(column_names),
                     card_shape = SHAPE(card_names);

#define R_TASKS "Task"
#define R_WHEEL "BalanceSpherePercent"
#define R_ENTRIES "PlannerEntry"
#define R_GANTT "GanttTask"
#define R_DURATIONS "GanttDuration"
#define R_COLUMNS "KanbanColumn"
#define R_CARDS "KanbanCard"

/* A seed resource whose four routes are list, create, update and delete. */
#define SEED_CRUD(name, resource, shape, envelope)                                                             \
    name##_list = {OP_LIST, resource, &shape, envelope, NULL}, name##_create = {OP_CREATE, resource, &shape, NULL, NULL}, \
    name##_update = {OP_UPDATE, resource, &shape, NULL, "id"}, name##_delete = {OP_DELETE, resource, &shape, NULL, "id"}

static const compat_route_t
    SEED_CRUD(tasks, R_TASKS, task_shape, "items"),
    SEED_CRUD(wheel, R_WHEEL, wheel_shape, "stats"),
    SEED_CRUD(entries, R_ENTRIES, entry_shape, "entries"),
    SEED_CRUD(gantt, R_GANTT, gantt_shape, "GanttTasks"),
    durations_list = {OP_LIST, R_DURATIONS, &duration_shape, "durations", "task_id"},
    durations_create = {OP_CREATE, R_DURATIONS, &duration_shape, NULL, "task_id"},
    durations_update = {OP_UPDATE, R_DURATIONS, &duration_shape, NULL, "id"},
    durations_delete = {OP_DELETE, R_DURATIONS, &duration_shape, NULL, "id"},
    board = {OP_BOARD, R_COLUMNS, &column_shape, "columns", NULL},
    columns_create = {OP_CREATE, R_COLUMNS, &column_shape, NULL, NULL},
    columns_update = {OP_UPDATE, R_COLUMNS, &column_shape, NULL, "id"},
    columns_delete = {OP_DELETE, R_COLUMNS, &column_shape, NULL, "id"},
    cards_create = {OP_CREATE, R_CARDS, &card_shape, NULL, ".column_id"},
    cards_update = {OP_UPDATE, R_CARDS, &card_shape, NULL, "id"},
    cards_delete = {OP_DELETE, R_CARDS, &card_shape, NULL, "id"};

static int stmt_duration_move;

static const void *engine_data(const char *resource) { return res_route_data(planning_resource(resource)); }

static void list_page(http_request_t *req, const char *resource, const char *cursor)
{
    req->method = METHOD_GET;
    req->route_data = engine_data(resource);
    req->query = cursor ? arena_printf(&req->arena, PAGE_QUERY "&cursor=%s", cursor) : PAGE_QUERY;
    res_collection(req);
}

static void board_cards_page(http_request_t *req) { list_page(req, R_CARDS, NULL); }

/* Gathers a list's pages into c->pages[c->phase] (1: the board's cards). */
static int gather(http_request_t *req, compat_ctx_t *c, json_t *body, const char *resource, answer_fn again)
{
    abuf_t *acc = &c->pages[c->phase];
    if (!acc->data) {
        abuf_init(acc, &req->arena, 1024);
        abuf_puts(acc, "[");
    }
    size_t i;
    json_t *item;
    json_array_foreach(json_object_get(body, "items"), i, item) {
        char *text = json_dumps(item, JSON_COMPACT);
        if (text) {
            if (acc->len > 1)
                abuf_puts(acc, ",");
            abuf_puts(acc, text);
            free(text);
        }
    }
    const char *next = json_string_value(json_object_get(body, "next_cursor"));
    if (!next)
        return 0;
    c->on_ok = again;
    req->respond_filter = compat_filter;
    req->filter_data = c;
    list_page(req, resource, arena_strdup(&req->arena, next));
    return 1;
}

/* The gathered items of c->pages[n], parsed; the caller decrefs. */
static json_t *gathered(compat_ctx_t *c, int n)
{
    abuf_puts(&c->pages[n], "]");
    json_t *items = json_loadb(c->pages[n].data, c->pages[n].len, 0, NULL);
    return items ? items : json_array();
}

static int on_list(http_request_t *req, compat_ctx_t *c)
{
    if (gather(req, c, c->in, c->route->resource, on_list))
        return 1;
    json_t *items = gathered(c, 0), *out = json_array(), *v;
    size_t i;
    json_array_foreach(items, i, v) json_array_append_new(out, shape_out(c->route->shape, v));
    json_decref(items);
    return answer(c, 200, json_pack("{s:o}", c->route->envelope, out));
}

/* The board: every column with its cards, both in creation order. */
static int on_board(http_request_t *req, compat_ctx_t *c)
{
    if (gather(req, c, c->in, c->phase ? R_CARDS : R_COLUMNS, on_board))
        return 1;
    if (c->phase == 0) {
        c->phase = 1;
        req->param_count = 0;
        return go_on(req, c, on_board, board_cards_page);
    }
    json_t *columns = json_array(), *cols = gathered(c, 0), *all_cards = gathered(c, 1);
    size_t i, k;
    json_t *col, *card;
    json_array_foreach(cols, i, col) {
        json_t *cards = json_array();
        json_int_t id = json_integer_value(json_object_get(col, "id"));
        json_array_foreach(all_cards, k, card) {
            if (json_integer_value(json_object_get(card, "column_id")) == id)
                json_array_append_new(cards, shape_out(&card_shape, card));
        }
        json_t *out = shape_out(&column_shape, col);
        json_object_set_new(out, "cards", cards);
        json_array_append_new(columns, out);
    }
    json_decref(cols);
    json_decref(all_cards);
    return answer(c, 200, json_pack("{s:o}", "columns", columns));
}

static int on_object(http_request_t *req, compat_ctx_t *c)
{
    http_header_remove(req, "Location"); /* an /api/v1 address: the seed has none */
    if (c->in_status == 204)
        return answer(c, 204, NULL);
    return answer(c, c->in_status, shape_out(c->route->shape, c->in));
}

/* The references the seed sends are ids from its own addresses (a card's
 * column, a duration's task): one that is missing or another user's is 404,
 * as the address itself would be, not /api/v1's 422 on a field. */
static int on_resource_error(http_request_t *req, compat_ctx_t *c)
{
    (void)req;
    if (c->in_status == 422 && has_error(c->in, NULL, "not_found"))
        return answer_detail(c, 404, T_NOT_FOUND);
    return 0;
}

static void resource_call(http_request_t *req)
{
    compat_ctx_t *c = req->filter_data;
    const compat_route_t *r = c->route;
    req->route_data = engine_data(r->resource);
    switch (r->op) {
    case OP_CREATE:
        req->method = METHOD_POST;
        res_collection(req);
        break;
    case OP_UPDATE:
        req->method = METHOD_PATCH; /* the fields the seed has; /api/v1's others stay */
        res_item(req);
        break;
    case OP_DELETE:
        res_item(req);
        break;
    default:
        list_page(req, r->resource, NULL);
        break;
    }
}

static void on_duration_moved(http_request_t *req, PGresult *res)
{
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        api_respond_db_error(req, res);
        return;
    }
    if (PQntuples(res) != 1) { /* no such duration or task of the caller's */
        http_respond_problem(req, 404, "not_found", NULL);
        return;
    }
    resource_call(req);
}

static void compat_resource(http_request_t *req)
{
    const compat_route_t *r = req->route_data;
    answer_fn on_ok = r->op == OP_LIST ? on_list : r->op == OP_BOARD ? on_board : on_object;
    compat_ctx_t *c = arena_calloc(&req->arena, sizeof(*c));
    c->route = r; /* before the token is checked: its 401 goes through on_resource_error */
    c->shape = r->shape;
    if (compat_start(req, c, on_ok, on_resource_error, 1))
        return;
    const char *id = req->param_count ? req->params[0].value : NULL;
    json_t *v1 = NULL;
    const char *move_to = NULL;
    if (r->op == OP_CREATE || r->op == OP_UPDATE) {
        json_t *seed = seed_body(req, c);
        if (!seed)
            return;
        v1 = shape_in(r->shape, seed);
        json_t *task = json_object_get(seed, "ganttTaskId");
        if (r->shape == &duration_shape && json_is_string(task))
            move_to = arena_strdup(&req->arena, json_string_value(task));
        json_decref(seed);
    }
    if (r->id_to && r->id_to[0] == '.') {
        long long n = http_parse_id(id);
        if (!n) {
            json_decref(v1);
            http_respond_problem(req, 404, "not_found", NULL);
            return;
        }
        json_object_set_new(v1, r->id_to + 1, json_integer(n));
        req->param_count = 0;
    } else if (r->id_to) {
        set_param(req, r->id_to, id);
    }
    if (v1)
        set_json_body(req, v1);
    if (move_to) {
        long long dur = http_parse_id(id), task = http_parse_id(move_to);
        if (!dur || !task) {
            http_respond_problem(req, 404, "not_found", NULL);
            return;
        }
        const char *params[3] = {http_int_param(req, dur), http_int_param(req, req->auth.user_id),
                                 http_int_param(req, task)};
        api_query(req, stmt_duration_move, 3, params, on_duration_moved);
        return;
    }
    resource_call(req);
}

/* ---------------------------------------------------------------- accounts */

static const name_map_t register_names[] = {
    {"firstName", "first_name", K_TEXT, IN},   {"lastName", "last_name", K_TEXT, IN},
    {"patronymic", "middle_name", K_TEXT, IN}, {"email", "email", K_TEXT, IN},
    {"login", "username", K_TEXT, IN},         {"password", "password", K_TEXT, IN},
    {"passwordConfirm", "password_confirm", K_TEXT, IN},
};
static const name_map_t user_names[] = {
    {"firstName", "first_name", K_TEXT, IN | OUT}, {"lastName", "last_name", K_TEXT, IN | OUT},
    {"patronymic", "middle_name", K_TEXT, IN | OUT}, {"email", "email", K_TEXT, OUT},
    {"login", "username", K_TEXT, IN | OUT},
};
static const name_map_t login_names[] = {
    {"login", "username", K_TEXT, IN},
    {"password", "password", K_TEXT, IN},
};
static const name_map_t code_names[] = {
    {"email", "email", K_TEXT, IN},
    {"code", "code", K_TEXT, IN},
};
static const shape_t register_shape = SHAPE(register_names), user_shape = SHAPE(user_names),
                     login_shape = SHAPE(login_names), code_shape = SHAPE(code_names);

/* Starts an account route whose seed body maps onto /api/v1's by sh. */
static compat_ctx_t *begin_with_body(http_request_t *req, const shape_t *sh, answer_fn on_ok, answer_fn on_error,
                                     int auth)
{
    compat_ctx_t *c = compat_begin(req, on_ok, on_error, auth);
    if (!c)
        return NULL;
    c->shape = sh;
    json_t *seed = seed_body(req, c);
    if (!seed)
        return NULL;
    set_json_body(req, shape_in(sh, seed));
    json_decref(seed);
    return c;
}

/* The seed's cookies (notes D1, D17): tokens HttpOnly, the refresh one where
 * GET /api/auth/refresh gets it; logged_in=True for the front end's script,
 * after a helper cookie: it reads the second cookie it can see. */
static void session_cookies(http_request_t *req, const char *access, const char *refresh)
{
    const config_t *cfg = req->worker->cfg;
    uint64_t session_s = cfg->refresh_token_ttl_ms / 1000;
    http_header_remove(req, "Set-Cookie");
    http_cookie_set(req, "hg_compat", access ? "1" : "", "/", access ? session_s : 0, 0);
    http_cookie_set(req, "access_token", access ? access : "", "/", access ? cfg->access_token_ttl_ms / 1000 : 0, 1);
    http_cookie_set(req, "refresh_token", refresh ? refresh : "", "/api/auth", refresh ? session_s : 0, 1);
    http_cookie_set(req, "logged_in", access ? "True" : "", "/", access ? session_s : 0, 0);
}

static int on_registered(http_request_t *req, compat_ctx_t *c)
{
    (void)req;
    http_header_remove(req, "Location");
    return answer(c, 201, json_pack("{s:s, s:s}", "status", "success", "message", "Пользователь успешно зарегистрирован"));
}

/* A password the policy refuses is one text (the front end checks only the length). */
static int password_errors(compat_ctx_t *c, json_t *body, const char *password_field)
{
    if (has_error(body, NULL, "mismatch"))
        return answer_detail(c, 400, T_PASSWORDS_DIFFER);
    static const char *const policy[] = {"too_short", "too_long", "no_lower", "no_upper", "no_digit", "no_symbol"};
    for (size_t i = 0; i < ARRAY_LEN(policy); i++)
        if (has_error(body, password_field, policy[i]))
            return answer_detail(c, 400, T_POLICY);
    return 0;
}

static int on_register_error(http_request_t *req, compat_ctx_t *c)
{
    (void)req;
    const char *code = problem_code(c->in);
    if (c->in_status == 409)
        return answer_detail(c, 409, !strcmp(code, "email_taken") ? T_EMAIL_TAKEN : T_LOGIN_TAKEN);
    if (c->in_status == 422)
        return password_errors(c, c->in, "password");
    return 0;
}


/* The seed answers a code 200 with a message either way (notes D6). */
static int on_code_checked(http_request_t *req, compat_ctx_t *c)
{
    (void)req;
    return answer(c, 200, json_pack("{s:s}", "message", T_VERIFIED));
}

static int on_code_error(http_request_t *req, compat_ctx_t *c)
{
    (void)req;
    const char *code = problem_code(c->in);
    if (c->in_status == 410 || !strcmp(code, "code_expired"))
        return answer(c, 200, json_pack("{s:s}", "message", T_CODE_EXPIRED));
    if (c->in_status == 400 && !strcmp(code, "invalid_code"))
        return answer(c, 200, json_pack("{s:s}", "message", T_WRONG_CODE));
    return 0;
}


/* Login and refresh: the token pair of /api/v1 becomes the seed's cookies. */
static int on_token_pair(http_request_t *req, compat_ctx_t *c)
{
    const char *access = json_string_value(json_object_get(c->in, "access_token"));
    const char *refresh = json_string_value(json_object_get(c->in, "refresh_token"));
    if (!access || !refresh)
        return answer_detail(c, 500, "Ошибка сервера");
    session_cookies(req, access, refresh);
    if (c->phase) /* refresh */
        return answer(c, 200, json_pack("{s:s}", "access_token", access));
    return answer(c, 200, json_pack("{s:s, s:s, s:s}", "status", "Успешно", "access_token", access, "message", ""));
}

static int on_login_error(http_request_t *req, compat_ctx_t *c)
{
    (void)req;
    const char *code = problem_code(c->in);
    http_header_remove(req, "WWW-Authenticate");
    if (c->in_status == 401)
        return answer_detail(c, 400, T_BAD_LOGIN);
    if (!strcmp(code, "email_not_verified"))
        return answer_detail(c, 403, T_NOT_VERIFIED);
    return 0;
}


static int on_refresh_error(http_request_t *req, compat_ctx_t *c)
{
    if (c->in_status == 401) { /* its session is over: the front end should not believe otherwise */
        session_cookies(req, NULL, NULL);
        return answer_detail(c, 401, T_TOKEN_INVALID);
    }
    return 0;
}

/* GET, the cookie only. Without it, 400 before any database work: every
 * anonymous page load of the seed asks (notes D13, D18). */
static void compat_refresh(http_request_t *req)
{
    compat_ctx_t *c = compat_begin(req, on_token_pair, on_refresh_error, 0);
    const char *token = http_cookie_get(req, "refresh_token");
    if (!token || !*token) {
        answer_detail(c, 400, T_NO_REFRESH);
        http_respond(req, 400, NULL, NULL, 0);
        return;
    }
    c->phase = 1;
    req->body.len = 0;
    api_refresh(req);
}

static int on_logged_out(http_request_t *req, compat_ctx_t *c)
{
    session_cookies(req, NULL, NULL);
    return answer(c, 200, json_pack("{s:s}", "status", "success"));
}


/* ---------------------------------------------------------------- the user's own account */

static int on_user(http_request_t *req, compat_ctx_t *c)
{
    (void)req;
    return answer(c, 200, shape_out(&user_shape, c->in));
}


static int on_profile_error(http_request_t *req, compat_ctx_t *c)
{
    (void)req;
    if (c->in_status == 409 || !strcmp(problem_code(c->in), "username_taken"))
        return answer_detail(c, 409, T_LOGIN_TAKEN);
    return 0;
}

/* The e-mail is compared with the stored one first: it changes only with a
 * password and a mailed code (/api/v1/users/me/email), never here (D5). */
static int on_profile_read(http_request_t *req, compat_ctx_t *c)
{
    const char *now = json_string_value(json_object_get(c->in, "email"));
    if (c->text && now && strcasecmp(c->text, now))
        return answer_detail(c, 400, T_EMAIL_CHANGE);
    req->method = METHOD_PATCH;
    return go_on(req, c, on_user, api_me_patch);
}

static void compat_update_profile(http_request_t *req)
{
    compat_ctx_t *c = compat_begin(req, on_profile_read, on_profile_error, 1);
    if (!c)
        return;
    c->shape = &user_shape;
    json_t *seed = seed_body(req, c);
    if (!seed)
        return;
    const char *email = json_string_value(json_object_get(seed, "email"));
    c->text = email ? arena_strdup(&req->arena, email) : NULL;
    set_json_body(req, shape_in(&user_shape, seed));
    json_decref(seed);
    req->method = METHOD_GET;
    api_me_get(req);
}

/* GET /email/verify_profile and /email/verify_auth_code/{code}: /api/v1's
 * resend and verify, for the caller's own address. */
static int on_mail_sent(http_request_t *req, compat_ctx_t *c)
{
    (void)req;
    return answer(c, 200, json_pack("{s:s}", "message", "Сообщение было отправлено"));
}

static void send_reverify(http_request_t *req) { api_send_code(req, "reverify"); }

static int on_address_for_code(http_request_t *req, compat_ctx_t *c)
{
    json_t *email = json_object_get(c->in, "email");
    if (!json_is_string(email))
        return answer_detail(c, 404, "Пользователь не найден");
    req->method = METHOD_POST;
    if (c->text) {
        set_json_body(req, json_pack("{s:O, s:s}", "email", email, "code", c->text));
        return go_on(req, c, on_code_checked, api_verify_email);
    }
    set_json_body(req, json_pack("{s:O}", "email", email));
    return go_on(req, c, on_mail_sent, send_reverify);
}

static void compat_verify_profile(http_request_t *req)
{
    if (compat_begin(req, on_address_for_code, NULL, 1))
        api_me_get(req);
}

static void compat_verify_auth_code(http_request_t *req)
{
    compat_ctx_t *c = compat_begin(req, on_address_for_code, on_code_error, 1);
    if (!c)
        return;
    c->text = http_param(req, "code");
    req->param_count = 0;
    api_me_get(req);
}

/* ---------------------------------------------------------------- passwords */

/* The seed checks the old password (in the path) and then sends only the
 * new one. A successful check leaves its proof in an HttpOnly cookie for
 * the one route that needs it: the old password, sealed with a key of this
 * process and bound to the session, for PASSWORD_PROOF_SECONDS; the change
 * itself is /api/v1's (policy, check, other sessions revoked). */
#define PROOF_COOKIE "hg_compat_pw"
#define PROOF_PATH "/api/users/update_user_password"

static unsigned char proof_key[crypto_secretbox_KEYBYTES];

static const char *proof_seal(http_request_t *req, const char *password)
{
    const char *plain = arena_printf(&req->arena, "%lld %lld %s", (long long)req->auth.session_id,
                                     (long long)time(NULL) + PASSWORD_PROOF_SECONDS, password);
    size_t plen = strlen(plain), blen = crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + plen;
    unsigned char *box = arena_alloc(&req->arena, blen);
    randombytes_buf(box, crypto_secretbox_NONCEBYTES);
    crypto_secretbox_easy(box + crypto_secretbox_NONCEBYTES, (const unsigned char *)plain, plen, box, proof_key);
    size_t olen = sodium_base64_ENCODED_LEN(blen, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char *out = arena_alloc(&req->arena, olen);
    return sodium_bin2base64(out, olen, box, blen, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* The old password of a proof for this session that has not expired, or NULL. */
static const char *proof_open(http_request_t *req, const char *cookie)
{
    size_t clen = strlen(cookie), blen = 0;
    unsigned char *box = arena_alloc(&req->arena, clen + 1);
    if (sodium_base642bin(box, clen + 1, cookie, clen, NULL, &blen, NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING) ||
        blen <= crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES)
        return NULL;
    size_t plen = blen - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES;
    char *plain = arena_alloc(&req->arena, plen + 1);
    if (crypto_secretbox_open_easy((unsigned char *)plain, box + crypto_secretbox_NONCEBYTES,
                                   blen - crypto_secretbox_NONCEBYTES, box, proof_key))
        return NULL;
    plain[plen] = '\0';
    long long sid = 0, until = 0;
    int at = 0;
    if (sscanf(plain, "%lld %lld %n", &sid, &until, &at) != 2 || !at || sid != req->auth.session_id ||
        until < (long long)time(NULL))
        return NULL;
    return plain + at;
}

/* A path segment's %XX escapes (a '+' stays a '+': this is no form); NULL if malformed. */
static const char *path_decode(http_request_t *req, const char *s)
{
    size_t n = strlen(s), o = 0;
    char *out = arena_alloc(&req->arena, n + 1);
    for (size_t i = 0; i < n; i++) {
        unsigned hi, lo;
        if (s[i] != '%') {
            out[o++] = s[i];
        } else if (i + 2 < n && sscanf(s + i + 1, "%1x%1x", &hi, &lo) == 2) {
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            return NULL;
        }
    }
    out[o] = '\0';
    return memchr(out, '\0', o) ? NULL : out;
}

static int on_password_matched(http_request_t *req, compat_ctx_t *c)
{
    http_cookie_set(req, PROOF_COOKIE, proof_seal(req, c->text), PROOF_PATH, PASSWORD_PROOF_SECONDS, 1);
    return answer(c, 200, json_pack("{s:s}", "statusPassword", "true"));
}

static int on_password_wrong(http_request_t *req, compat_ctx_t *c)
{
    (void)req;
    if (c->in_status == 403)
        return answer_detail(c, 400, T_WRONG_OLD);
    return 0;
}

static void compat_check_password(http_request_t *req)
{
    compat_ctx_t *c = compat_begin(req, on_password_matched, on_password_wrong, 1);
    if (!c)
        return;
    const char *pw = path_decode(req, http_param(req, "password"));
    if (!pw || strlen(pw) > PASSWORD_MAX_BYTES) {
        answer_detail(c, 400, T_WRONG_OLD);
        http_respond(req, 400, NULL, NULL, 0);
        return;
    }
    c->text = pw;
    req->param_count = 0;
    req->method = METHOD_POST;
    set_json_body(req, json_pack("{s:s}", "password", pw));
    api_password_check(req);
}

static int on_password_changed(http_request_t *req, compat_ctx_t *c)
{
    http_cookie_set(req, PROOF_COOKIE, "", PROOF_PATH, 0, 1);
    return answer(c, 200, json_pack("{s:s}", "message", "Пароль изменён"));
}

static int on_password_change_error(http_request_t *req, compat_ctx_t *c)
{
    (void)req;
    if (c->in_status == 403 && !strcmp(problem_code(c->in), "wrong_password"))
        return answer_detail(c, 403, T_CHECK_OLD_FIRST);
    if (c->in_status == 422)
        return password_errors(c, c->in, "new_password");
    return 0;
}

static void compat_update_password(http_request_t *req)
{
    compat_ctx_t *c = compat_begin(req, on_password_changed, on_password_change_error, 1);
    if (!c)
        return;
    json_t *seed = seed_body(req, c);
    if (!seed)
        return;
    const char *pw = json_string_value(json_object_get(seed, "password"));
    const char *confirm = json_string_value(json_object_get(seed, "passwordConfirm"));
    const char *cookie = http_cookie_get(req, PROOF_COOKIE);
    const char *old = cookie ? proof_open(req, cookie) : NULL;
    if (!pw || !confirm || strcmp(pw, confirm))
        answer_detail(c, 400, T_PASSWORDS_DIFFER);
    else if (!old)
        answer_detail(c, 403, T_CHECK_OLD_FIRST);
    if (c->status) {
        json_decref(seed);
        http_respond(req, c->status, NULL, NULL, 0);
        return;
    }
    set_json_body(req, json_pack("{s:s, s:s}", "current_password", old, "new_password", pw));
    json_decref(seed);
    api_password_change(req);
}

/* ---------------------------------------------------------------- module */

/* A route that is one /api/v1 call: its body mapped by `body` (NULL: none). */
typedef struct {
    const shape_t *body;
    answer_fn on_ok, on_error;
    int auth;
    http_handler_fn v1;
} compat_call_t;

static void compat_call(http_request_t *req)
{
    const compat_call_t *k = req->route_data;
    compat_ctx_t *c = k->body ? begin_with_body(req, k->body, k->on_ok, k->on_error, k->auth)
                              : compat_begin(req, k->on_ok, k->on_error, k->auth);
    if (c)
        k->v1(req);
}

static const compat_call_t register_call = {&register_shape, on_registered, on_register_error, 0, api_register},
                           verify_call = {&code_shape, on_code_checked, on_code_error, 0, api_verify_email},
                           login_call = {&login_shape, on_token_pair, on_login_error, 0, api_login},
                           logout_call = {NULL, on_logged_out, NULL, 1, api_logout},
                           me_call = {NULL, on_user, NULL, 1, api_me_get};

static void compat_register_statements(void)
{
    /* The one write /api/v1 has no route for: a duration moved to another
     * of the caller's Gantt tasks (its dates change through /api/v1 after). */
    stmt_duration_move = db_statement_register(
        "compat_duration_move",
        "UPDATE gantt_durations AS d SET task_id = $3::bigint, updated_at = now() WHERE d.id = $1::bigint AND "
        "d.user_id = $2::bigint AND EXISTS (SELECT 1 FROM gantt_tasks WHERE id = $3::bigint AND user_id = "
        "$2::bigint) RETURNING d.id");
    api_route_t unused[RES_ROUTES_MAX];
    res_register(planning_resource(R_WHEEL), unused);
    randombytes_buf(proof_key, sizeof(proof_key));
}

/* Every route but the anonymous ones is ROUTE_AUTH (for the document) and
 * checks the token itself, so that a 401 is in the seed's words. Documented
 * as the seed's routes: what they translate to; their answers are the seed's
 * JSON ({"detail": "<Russian>"} for errors), not /api/v1's. */
#define BY_HANDLER (ROUTE_AUTH | ROUTE_AUTH_BY_HANDLER)
#define RES(allow, path, route) \
    .http = {.methods = allow, .pattern = path, .handler = compat_resource, .data = &route, .flags = BY_HANDLER}

static const api_route_t compat_routes[] = {
    {.http = {.methods = ALLOW_POST, .pattern = "/api/auth/register", .handler = compat_call, .data = &register_call},
     .status = 201, .summary = "Seed 000: register (POST /api/v1/auth/register)"},
    {.http = {.methods = ALLOW_POST, .pattern = "/api/auth/login", .handler = compat_call, .data = &login_call},
     .summary = "Seed 000: log in with {login, password}; sets its cookies"},
    {.http = {.methods = ALLOW_GET, .pattern = "/api/auth/refresh", .handler = compat_refresh},
     .summary = "Seed 000: new tokens from the refresh_token cookie"},
    {.http = {.methods = ALLOW_GET, .pattern = "/api/auth/logout", .handler = compat_call, .data = &logout_call,
              .flags = BY_HANDLER},
     .summary = "Seed 000: log out and clear its cookies"},
    {.http = {.methods = ALLOW_POST, .pattern = "/email/verify_mail_not_auth", .handler = compat_call,
              .data = &verify_call},
     .summary = "Seed 000: verify the e-mail address with the mailed code"},
    {.http = {.methods = ALLOW_GET, .pattern = "/email/verify_profile", .handler = compat_verify_profile,
              .flags = BY_HANDLER},
     .summary = "Seed 000: mail a new verification code to the caller"},
    {.http = {.methods = ALLOW_GET, .pattern = "/email/verify_auth_code/{code}", .handler = compat_verify_auth_code,
              .flags = BY_HANDLER},
     .summary = "Seed 000: verify the caller's e-mail address"},
    {.http = {.methods = ALLOW_GET, .pattern = "/api/users/me", .handler = compat_call, .data = &me_call,
              .flags = BY_HANDLER},
     .summary = "Seed 000: the caller's profile"},
    {.http = {.methods = ALLOW_PUT, .pattern = "/api/users/update_profile", .handler = compat_update_profile,
              .flags = BY_HANDLER},
     .summary = "Seed 000: edit the profile (not the e-mail address)"},
    {.http = {.methods = ALLOW_PUT, .pattern = "/api/users/update_user_password", .handler = compat_update_password,
              .flags = BY_HANDLER},
     .summary = "Seed 000: set a new password"},
    {.http = {.methods = ALLOW_GET, .pattern = "/api/users/check_password/{password}", .handler = compat_check_password,
              .flags = BY_HANDLER},
     .summary = "Seed 000: check the current password"},
    {RES(ALLOW_GET, "/api/balanceCircle/circle_data", wheel_list),
     .summary = "Seed 000: the balance wheel (values 0..100)"},
    {RES(ALLOW_POST, "/api/balanceCircle/insert_value", wheel_create),
     .status = 201, .summary = "Seed 000: add a sphere to the balance wheel"},
    {RES(ALLOW_PUT, "/api/balanceCircle/{id}", wheel_update), .summary = "Seed 000: change a sphere"},
    {RES(ALLOW_DELETE, "/api/balanceCircle/{id}", wheel_delete), .status = 204, .summary = "Seed 000: delete a sphere"},
    {RES(ALLOW_GET, "/api/tasksList/tasks_in_list", tasks_list), .summary = "Seed 000: the to-do list (tasks)"},
    {RES(ALLOW_POST, "/api/tasksList/insert_task_in_list", tasks_create),
     .status = 201, .summary = "Seed 000: add a task"},
    {RES(ALLOW_PUT, "/api/tasksList/{id}", tasks_update), .summary = "Seed 000: change a task"},
    {RES(ALLOW_DELETE, "/api/tasksList/{id}", tasks_delete), .status = 204, .summary = "Seed 000: delete a task"},
    {RES(ALLOW_GET, "/api/entryDailyPlanner/DailyPlanner/entry_data", entries_list),
     .summary = "Seed 000: the daily planner's entries"},
    {RES(ALLOW_POST, "/api/entryDailyPlanner/insert_entry", entries_create),
     .status = 201, .summary = "Seed 000: add a planner entry"},
    {RES(ALLOW_PUT, "/api/entryDailyPlanner/{id}", entries_update), .summary = "Seed 000: change a planner entry"},
    {RES(ALLOW_DELETE, "/api/entryDailyPlanner/{id}", entries_delete),
     .status = 204, .summary = "Seed 000: delete a planner entry"},
    {RES(ALLOW_GET, "/api/ganttChartTasks/gantt_tasks_data", gantt_list), .summary = "Seed 000: the Gantt tasks"},
    {RES(ALLOW_POST, "/api/ganttChartTasks/insert_gantt_task", gantt_create),
     .status = 201, .summary = "Seed 000: add a Gantt task"},
    {RES(ALLOW_PUT, "/api/ganttChartTasks/{id}", gantt_update), .summary = "Seed 000: rename a Gantt task"},
    {RES(ALLOW_DELETE, "/api/ganttChartTasks/{id}", gantt_delete),
     .status = 204, .summary = "Seed 000: delete a Gantt task and its durations"},
    {RES(ALLOW_GET, "/api/ganttChartTaskDuration/gantt_durations_data/{id}", durations_list),
     .summary = "Seed 000: a Gantt task's durations"},
    {RES(ALLOW_POST, "/api/ganttChartTaskDuration/insert_duration/{id}", durations_create),
     .status = 201, .summary = "Seed 000: add a duration to a Gantt task"},
    {RES(ALLOW_PUT, "/api/ganttChartTaskDuration/{id}", durations_update),
     .summary = "Seed 000: move a duration (dates, task)"},
    {RES(ALLOW_DELETE, "/api/ganttChartTaskDuration/{id}", durations_delete),
     .status = 204, .summary = "Seed 000: delete a duration"},
    {RES(ALLOW_GET, "/api/kanbanCards/kanban_cards", board),
     .summary = "Seed 000: the kanban board, columns with their cards"},
    {RES(ALLOW_POST, "/api/kanbanCards/insert_kanban_card", columns_create),
     .status = 201, .summary = "Seed 000: add a kanban column"},
    {RES(ALLOW_PUT, "/api/kanbanCards/{id}", columns_update), .summary = "Seed 000: rename a kanban column"},
    {RES(ALLOW_DELETE, "/api/kanbanCards/{id}", columns_delete),
     .status = 204, .summary = "Seed 000: delete a kanban column and its cards"},
    {RES(ALLOW_POST, "/api/taskInCards/insert_task/{id}", cards_create),
     .status = 201, .summary = "Seed 000: add a card to a column"},
    {RES(ALLOW_PUT, "/api/taskInCards/{id}", cards_update), .summary = "Seed 000: change or move a card"},
    {RES(ALLOW_DELETE, "/api/taskInCards/{id}", cards_delete), .status = 204, .summary = "Seed 000: delete a card"},
};

const api_module_t api_compat_module = {
    .name = "compat-seed000", .tag = TAG, .routes = compat_routes, .route_count = ARRAY_LEN(compat_routes),
    .register_statements = compat_register_statements,
};
