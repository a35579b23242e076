/* The shop's orders, contact forms, payments and the bot's telegram-users (a
 * resource of the engine), under /api/v1/shop. C checks the shapes of
 * bodies; one SQL function per step (0011_shop.sql) checks references, stock
 * and prices and answers (error, body), the body being the JSON that is sent. Payments call the
 * gateway through the worker's outbound driver (api_outbound_http), so a slow
 * gateway holds only its own request. */
#include <curl/curl.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "hourglass/api.h"
#include "hourglass/app.h"
#include "hourglass/api_auth.h"
#include "hourglass/batch.h"
#include "hourglass/bridge.h"
#include "hourglass/json_text.h"
#include "hourglass/log.h"
#include "hourglass/openapi.h"
#include "hourglass/problem.h"
#include "hourglass/resource.h"
#include "hourglass/server.h"
#include "hourglass/shop_cache.h"
#include "hourglass/telegram.h"

/* Bounds of an order (docs/shop.md, decision 10). */
#define ORDER_ITEMS_MAX 100
/* Orders in one transaction: each holds its rows' locks until the batch commits. */
#define ORDERS_BATCH_MAX 32
#define ORDER_ITEM_AMOUNT_MAX 10000
/* amount x price summed over every item stays far inside a bigint */
#define ORDER_PRICE_MAX 1000000000000LL
#define URL_MAX_CHARS 2000
#define INT32_MAX_VALUE 2147483647LL

static int stmt_orders_create, stmt_order_get, stmt_order_update, stmt_orders_page, stmt_changes_page,
    stmt_form_create, stmt_forms_page, stmt_order_exists, stmt_payment_begin, stmt_payment_registered,
    stmt_payment_lookup, stmt_payment_paid;

/* A function's body as the answer. A function that answered no error and
 * no body (or no id) is a defect of ours, never the client's: 500. */
static void respond_body(http_request_t *req, int status, const char *body)
{
    if (!body) {
        log_error("request %s: the database answered no body", req->request_id);
        http_respond_problem(req, 500, "internal_error", NULL);
        return;
    }
    http_respond_json(req, status, body, strlen(body));
}

/* The `error` of a function's (error, body) row answered; 1 when there was one. */
static int respond_row_error(http_request_t *req, const PGresult *res, int row)
{
    const char *code = api_column_at(res, row, "error");
    if (!code)
        return 0;
    if (!strcmp(code, "validation_failed")) {
        api_respond_field_errors(req, api_column_at(res, row, "body"));
    } else if (!strcmp(code, "price_changed") || !strcmp(code, "out_of_stock")) {
        size_t len;
        char *doc = problem_render_member(&req->arena, 409, code, problem_detail(code, req->lang), "items",
                                          api_column_at(res, row, "items"), &len);
        http_respond(req, 409, "application/problem+json", doc, len);
    } else if (!strcmp(code, "rate_limited")) {
        const char *retry_after = api_column_at(res, row, "retry_after");
        if (retry_after)
            http_header_add(req, "Retry-After", retry_after);
        http_respond_problem(req, 429, code, NULL);
    } else if (!strcmp(code, "not_found")) {
        http_respond_problem(req, 404, code, NULL);
    } else if (!strcmp(code, "no_order_status")) {
        http_respond_problem(req, 503, "not_configured", NULL);
    } else {
        log_error("request %s: unexpected outcome %s", req->request_id, code);
        http_respond_problem(req, 500, "internal_error", NULL);
    }
    return 1;
}

/* The one row of an (error, body) function: an order changed (200) or a form
 * sent (201; no route reads one form, so no Location). Staff streams hear of
 * either (0015_events.sql). */
static void on_outcome(http_request_t *req, PGresult *res)
{
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        api_respond_db_error(req, res);
    } else if (!respond_row_error(req, res, 0)) {
        app_events_written(req->worker, SSE_ANYONE);
        respond_body(req, req->method == METHOD_POST ? 201 : 200, api_column(res, "body"));
    }
}

/* A page that an SQL function answers whole, from (first, after, limit) or
 * (after, limit): first is the value of its filter or the path's order id. */
typedef struct {
    const int *stmt;
    const body_field_t *filter; /* its one query filter, or NULL */
    int by_order;               /* first is the path's {id} */
    int nparams;
} page_route_t;

static void page_list(http_request_t *req)
{
    const page_route_t *p = req->route_data;
    const char *first = NULL;
    if (p->by_order && !(first = http_path_id(req, "id")))
        return;
    field_errors_t e;
    field_errors_init(&e, req);
    long long limit, after;
    body_page_params(req, &e, &limit, &after);
    if (p->filter)
        first = body_query_param(req, p->filter, &e);
    if (e.count) {
        api_respond_validation(req, &e);
        return;
    }
    const char *params[] = {first, http_int_param(req, after), http_int_param(req, limit)};
    api_query(req, *p->stmt, p->nparams, params + ARRAY_LEN(params) - p->nparams, api_on_json_row);
}

static const body_field_t status_filter[] = {{.name = "status_id", .type = FIELD_ID}};
static const page_route_t orders_page = {.stmt = &stmt_orders_page, .filter = status_filter, .nparams = 3};
static const page_route_t order_changes_page = {.stmt = &stmt_changes_page, .by_order = 1, .nparams = 3};
static const page_route_t changes_page = {.stmt = &stmt_changes_page, .nparams = 3};
static const page_route_t forms_page = {.stmt = &stmt_forms_page, .nparams = 2};

enum { O_NAME, O_PHONE, O_EMAIL, O_DELIVERY, O_ADDRESS, O_COMMENT, O_COUNT };
static const body_field_t order_fields[O_COUNT] = {
    [O_NAME] = {.name = "customer_name", .type = FIELD_STRING, .flags = FIELD_REQUIRED, .min = 1, .max = 200},
    [O_PHONE] = {.name = "phone_number", .type = FIELD_STRING, .flags = FIELD_REQUIRED, .min = 1, .max = 32},
    [O_EMAIL] = {.name = "email", .type = FIELD_EMAIL},
    [O_DELIVERY] = {.name = "delivery_type_id", .type = FIELD_ID, .flags = FIELD_REQUIRED},
    [O_ADDRESS] = {.name = "address", .type = FIELD_STRING, .max = 1000},
    [O_COMMENT] = {.name = "comment", .type = FIELD_STRING, .max = 2000},
};

enum { I_VARIATION, I_AMOUNT, I_PRICE, I_COUNT };
static const body_field_t item_fields[I_COUNT] = {
    [I_VARIATION] = {.name = "variation_id", .type = FIELD_ID, .flags = FIELD_REQUIRED},
    [I_AMOUNT] = {.name = "amount", .type = FIELD_INT, .flags = FIELD_REQUIRED, .min = 1, .max = ORDER_ITEM_AMOUNT_MAX},
    [I_PRICE] = {.name = "current_price", .type = FIELD_BIGINT, .flags = FIELD_REQUIRED, .max = ORDER_PRICE_MAX},
};

static void member_text(abuf_t *b, const char *name, const char *text, int first)
{
    abuf_printf(b, "%s\"%s\":", first ? "" : ",", name);
    if (text)
        abuf_json_string(b, text, strlen(text));
    else
        abuf_puts(b, "null");
}

/* Checks items[i] as body fields named "items[i].<name>", and writes the
 * checked item to out. */
static void check_item(http_request_t *req, json_t *item, size_t i, abuf_t *out, field_errors_t *e)
{
    if (!json_is_object(item)) {
        field_errors_add(e, arena_printf(&req->arena, "items[%zu]", i), "wrong_type");
        return;
    }
    body_value_t values[I_COUNT];
    int before = e->count;
    e->prefix = arena_printf(&req->arena, "items[%zu].", i);
    body_check_object(req, item, item_fields, I_COUNT, BODY_CREATE, values, e);
    e->prefix = NULL;
    if (e->count == before)
        abuf_printf(out, "%s{\"variation_id\":%s,\"amount\":%s,\"current_price\":%s}", i ? "," : "",
                    values[I_VARIATION].text, values[I_AMOUNT].text, values[I_PRICE].text);
}

/* The checked order as one of shop_orders_create's p_orders, or NULL with errors in e. */
static const char *order_json(http_request_t *req, json_t *body, field_errors_t *e)
{
    json_t *items = json_incref(json_object_get(body, "items"));
    json_object_del(body, "items");
    body_value_t v[O_COUNT];
    body_check_object(req, body, order_fields, O_COUNT, BODY_CREATE, v, e);
    abuf_t out;
    abuf_init(&out, &req->arena, 512);
    for (int k = 0; k < O_COUNT; k++) {
        if (k == O_DELIVERY)
            abuf_printf(&out, ",\"delivery_type_id\":%s", v[k].text ? v[k].text : "null");
        else
            member_text(&out, order_fields[k].name, v[k].text, k == 0);
    }
    if (!items || json_is_null(items))
        field_errors_add(e, "items", "required");
    else if (!json_is_array(items))
        field_errors_add(e, "items", "wrong_type");
    else if (json_array_size(items) == 0)
        field_errors_add(e, "items", "too_short");
    else if (json_array_size(items) > ORDER_ITEMS_MAX)
        field_errors_add(e, "items", "too_long");
    else {
        abuf_puts(&out, ",\"items\":[");
        size_t i;
        json_t *item;
        json_array_foreach(items, i, item)
            check_item(req, item, i, &out, e);
        abuf_puts(&out, "]");
    }
    json_decref(items);
    abuf_puts(&out, "}");
    return e->count ? NULL : arena_printf(&req->arena, "{%s", out.data);
}

static const char *set_or_null(const char *v) { return v && *v ? v : NULL; }

/* Orders go to the database in batches (batch.h, shop_orders_create in
 * 0014): a commit each would hold every order on a connection to its own WAL
 * flush. What one order sends: its checked body, its customer, its language. */
typedef struct {
    const char *order, *user_id, *lang;
} order_ctx_t;

/* shop_orders_create's orders, customers, notify e-mail, Telegram chat and languages. */
enum { B_ORDERS, B_USERS, B_EMAIL, B_CHAT, B_LANGS, B_COUNT };

static void order_params(http_request_t *const *reqs, int n, abuf_t *bufs)
{
    const config_t *cfg = reqs[0]->worker->cfg;
    abuf_t *arrays[] = {&bufs[B_ORDERS], &bufs[B_USERS], &bufs[B_LANGS]};
    for (size_t k = 0; k < ARRAY_LEN(arrays); k++)
        abuf_puts(arrays[k], "{");
    for (int i = 0; i < n; i++) {
        const order_ctx_t *o = reqs[i]->ctx;
        const char *sep = i ? "," : "";
        abuf_puts(&bufs[B_ORDERS], sep);
        abuf_pg_array_text(&bufs[B_ORDERS], o->order, strlen(o->order));
        abuf_printf(&bufs[B_USERS], "%s%s", sep, o->user_id ? o->user_id : "NULL");
        abuf_puts(&bufs[B_LANGS], sep);
        abuf_pg_array_text(&bufs[B_LANGS], o->lang, strlen(o->lang));
    }
    for (size_t k = 0; k < ARRAY_LEN(arrays); k++)
        abuf_puts(arrays[k], "}");
    if (set_or_null(cfg->shop_notify_email))
        abuf_puts(&bufs[B_EMAIL], cfg->shop_notify_email);
    if (telegram_configured(cfg))
        abuf_puts(&bufs[B_CHAT], cfg->telegram_chat_id);
}

/* Whatever becomes of the requests: the stock the orders took is dropped
 * from the catalogue's answers and announced, with the outboxes they wrote
 * to. A refused order (an error, a failed statement) took nothing; a
 * connection lost meanwhile may have committed, so every good goes then. */
static void on_orders_committed(http_request_t *const *reqs, int n, const PGresult *res)
{
    const config_t *cfg = reqs[0]->worker->cfg;
    if (!res) {
        shop_cache_stock_taken(reqs[0], NULL, 0, 0);
        return;
    }
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        return;
    for (int i = 0; i < n && i < PQntuples(res); i++)
        if (!api_column_at(res, i, "error"))
            shop_cache_stock_taken(reqs[0], api_column_at(res, i, "goods"), set_or_null(cfg->shop_notify_email) != NULL,
                                   telegram_configured(cfg));
    app_events_written(reqs[0]->worker, SSE_ANYONE); /* order_created for staff streams (0015_events.sql) */
}

/* 201 with Location, or a defect of ours without an id. */
static void on_order_created(http_request_t *req, const PGresult *res, int row)
{
    const char *id = api_column_at(res, row, "id");
    if (respond_row_error(req, res, row))
        return;
    if (id)
        http_header_add(req, "Location", arena_printf(&req->arena, "/api/v1/shop/orders/%s", id));
    respond_body(req, id ? 201 : 500, api_column_at(res, row, "body"));
}

static api_batch_t orders_batch = {
    .stmt = &stmt_orders_create,
    .max = ORDERS_BATCH_MAX,
    .nparams = B_COUNT,
    .params = order_params,
    .effect = on_orders_committed,
    .answer = on_order_created,
};

/* Public; a valid access token, when one comes, names the customer (an expired one
 * does not stop an order: it is placed anonymously). */
static void order_create(http_request_t *req)
{
    api_authenticate_optional(req);
    json_t *body = api_body_json(req);
    if (!body)
        return;
    field_errors_t e;
    field_errors_init(&e, req);
    const char *order = order_json(req, body, &e);
    json_decref(body);
    if (!order) {
        api_respond_validation(req, &e);
        return;
    }
    order_ctx_t *o = arena_alloc(&req->arena, sizeof(*o));
    *o = (order_ctx_t){order, req->auth.user_id ? http_int_param(req, req->auth.user_id) : NULL, http_lang_code(req)};
    req->ctx = o;
    api_batch_add(&orders_batch, req);
}

static void order_get(http_request_t *req) { api_query_path_id(req, stmt_order_get, api_on_json_row); }

enum { U_STATUS, U_DELIVERY, U_ADDRESS, U_COMMENT, U_COUNT };
/* Ids that may not be null are FIELD_REQUIRED: absent is fine in a PATCH, null is not. */
static const body_field_t order_patch_fields[U_COUNT] = {
    [U_STATUS] = {.name = "status_id", .type = FIELD_ID, .flags = FIELD_REQUIRED},
    [U_DELIVERY] = {.name = "delivery_type_id", .type = FIELD_ID, .flags = FIELD_REQUIRED},
    [U_ADDRESS] = {.name = "address", .type = FIELD_STRING, .max = 1000},
    [U_COMMENT] = {.name = "comment", .type = FIELD_STRING, .max = 2000},
};

static void order_patch(http_request_t *req)
{
    const char *id = http_path_id(req, "id");
    body_value_t v[U_COUNT];
    if (!id || api_body_parse(req, order_patch_fields, U_COUNT, BODY_PATCH, 0, v))
        return;
    const char *params[] = {id, api_present_fields(req, order_patch_fields, v, U_COUNT), v[U_STATUS].text,
                             v[U_DELIVERY].text, v[U_ADDRESS].text, v[U_COMMENT].text,
                             http_int_param(req, req->auth.user_id)};
    api_query(req, stmt_order_update, ARRAY_LEN(params), params, on_outcome);
}

enum { F_NAME, F_PHONE, F_TEXT, F_EMAIL, F_COUNT };
static const body_field_t form_fields[F_COUNT] = {
    [F_NAME] = {.name = "customer_name", .type = FIELD_STRING, .flags = FIELD_REQUIRED, .min = 1, .max = 200},
    [F_PHONE] = {.name = "phone_number", .type = FIELD_STRING, .flags = FIELD_REQUIRED, .min = 1, .max = 32},
    [F_TEXT] = {.name = "text", .type = FIELD_STRING, .max = 4000},
    [F_EMAIL] = {.name = "email", .type = FIELD_EMAIL},
};

static void contact_form_create(http_request_t *req)
{
    body_value_t v[F_COUNT];
    if (api_body_parse(req, form_fields, F_COUNT, BODY_CREATE, 0, v))
        return;
    const config_t *cfg = req->worker->cfg;
    const char *params[] = {v[F_NAME].text, v[F_PHONE].text, v[F_TEXT].text, v[F_EMAIL].text,
                             http_client_ip(req), http_int_param(req, cfg->contact_form_limit),
                             http_int_param(req, (long long)cfg->contact_form_window_ms)};
    api_query(req, stmt_form_create, ARRAY_LEN(params), params, on_outcome);
}

/* Where a step of a payment keeps what the next one needs. */
typedef struct {
    const char *id;
    const char *return_url;
    const char *fail_url;
    const char *gateway_order_id;
    int paid_before;
    const char *answer; /* GET's answer, kept while a first "paid" is recorded */
} payment_ctx_t;

static int gateway_configured(const config_t *cfg)
{
    return set_or_null(cfg->payment_gateway_url) && set_or_null(cfg->payment_gateway_user) &&
           set_or_null(cfg->payment_gateway_password);
}

static void urlencoded_param(abuf_t *b, const char *name, const char *value)
{
    abuf_printf(b, "%s%s=", b->len ? "&" : "", name);
    for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr("-._~", *p))
            abuf_append(b, p, 1);
        else
            abuf_printf(b, "%%%02X", *p);
    }
}

/* A form POST to <PAYMENT_GATEWAY_URL>/payment/rest/<method>, credentials first. */
static void gateway_call(http_request_t *req, const char *method, abuf_t *form, api_outbound_cb cb)
{
    const config_t *cfg = req->worker->cfg;
    abuf_t body;
    abuf_init(&body, &req->arena, 256 + form->len);
    urlencoded_param(&body, "userName", cfg->payment_gateway_user);
    urlencoded_param(&body, "password", cfg->payment_gateway_password);
    abuf_printf(&body, "&%s", form->data);
    size_t base = strlen(cfg->payment_gateway_url);
    while (base && cfg->payment_gateway_url[base - 1] == '/')
        base--;
    outbound_request_t rq = {
        .url = arena_printf(&req->arena, "%.*s/payment/rest/%s", (int)base, cfg->payment_gateway_url, method),
        .body = body.data,
        .content_type = "application/x-www-form-urlencoded",
        .timeout_ms = cfg->outbound_timeout_ms,
        .max_bytes = cfg->outbound_max_response,
    };
    api_outbound_http(req, &rq, cb);
}

/* 502 for an answer of the gateway we cannot use; its texts go to our log only. */
static void gateway_unusable(http_request_t *req, json_t *doc, const char *why)
{
    log_warn("request %s: payment gateway %s", req->request_id, why);
    json_decref(doc);
    http_respond_problem(req, 502, "gateway_error", NULL);
}

/* The gateway's JSON answer, or NULL after answering 502 / 504. */
static json_t *gateway_answer(http_request_t *req, const outbound_response_t *r)
{
    if (r->rc == CURLE_OPERATION_TIMEDOUT) {
        log_warn("request %s: the payment gateway did not answer in time", req->request_id);
        http_respond_problem(req, 504, "gateway_timeout", NULL);
        return NULL;
    }
    json_t *doc = r->rc == CURLE_OK && r->status == 200 ? json_loadb(r->body, r->len, 0, NULL) : NULL;
    json_t *code = json_object_get(doc, "errorCode");
    int refused = (json_is_string(code) && strcmp(json_string_value(code), "0")) ||
                  (json_is_integer(code) && json_integer_value(code) != 0);
    if (r->rc != CURLE_OK)
        gateway_unusable(req, doc, arena_printf(&req->arena, "failed: %s", r->error));
    else if (refused)
        gateway_unusable(req, doc, arena_printf(&req->arena, "refused: errorCode %s",
                                                json_is_string(code) ? json_string_value(code) : "(a number)"));
    else if (!json_is_object(doc))
        gateway_unusable(req, doc, arena_printf(&req->arena, "answered HTTP %ld, not its JSON", r->status));
    else
        return doc;
    return NULL;
}

static void on_registered(http_request_t *req, const outbound_response_t *r)
{
    payment_ctx_t *c = req->ctx;
    json_t *doc = gateway_answer(req, r);
    if (!doc)
        return;
    const char *order_id = json_string_value(json_object_get(doc, "orderId"));
    const char *form_url = json_string_value(json_object_get(doc, "formUrl"));
    if (!order_id || !form_url) {
        gateway_unusable(req, doc, "answered no orderId or formUrl");
        return;
    }
    const char *params[] = {c->id, arena_strdup(&req->arena, order_id), arena_strdup(&req->arena, form_url)};
    json_decref(doc);
    api_query(req, stmt_payment_registered, ARRAY_LEN(params), params, api_on_json_row);
}

static void on_payment_begun(http_request_t *req, PGresult *res)
{
    payment_ctx_t *c = req->ctx;
    if (api_found_row(req, res))
        return;
    abuf_t form;
    abuf_init(&form, &req->arena, 512);
    urlencoded_param(&form, "orderNumber", PQgetvalue(res, 0, 0));
    urlencoded_param(&form, "amount", PQgetvalue(res, 0, 1));
    urlencoded_param(&form, "returnUrl", c->return_url);
    if (c->fail_url)
        urlencoded_param(&form, "failUrl", c->fail_url);
    gateway_call(req, "register.do", &form, on_registered);
}

/* The order exists, so the missing configuration is the answer. */
static void on_order_exists(http_request_t *req, PGresult *res)
{
    if (api_found_row(req, res) == 0)
        http_respond_problem(req, 503, "not_configured", NULL);
}

enum { P_RETURN, P_FAIL, P_COUNT };
static const body_field_t payment_fields[P_COUNT] = {
    [P_RETURN] = {.name = "return_url", .type = FIELD_STRING, .flags = FIELD_REQUIRED, .min = 1, .max = URL_MAX_CHARS},
    [P_FAIL] = {.name = "fail_url", .type = FIELD_STRING, .min = 1, .max = URL_MAX_CHARS},
};

static payment_ctx_t *payment_ctx(http_request_t *req)
{
    const char *id = http_path_id(req, "id");
    if (!id)
        return NULL;
    payment_ctx_t *c = arena_calloc(&req->arena, sizeof(*c));
    c->id = id;
    req->ctx = c;
    return c;
}

static void payment_register(http_request_t *req)
{
    payment_ctx_t *c = payment_ctx(req);
    body_value_t v[P_COUNT];
    if (!c || api_body_parse(req, payment_fields, P_COUNT, BODY_CREATE, 0, v))
        return;
    c->return_url = v[P_RETURN].text;
    c->fail_url = v[P_FAIL].text;
    const char *params[] = {c->id};
    /* An order that does not exist is 404 whatever the configuration. */
    if (!gateway_configured(req->worker->cfg))
        api_query(req, stmt_order_exists, ARRAY_LEN(params), params, on_order_exists);
    else
        api_query(req, stmt_payment_begin, ARRAY_LEN(params), params, on_payment_begun);
}

/* The gateway's orderStatus is the index of its word. */
enum { PAYMENT_PAID = 2 };
static const char *const payment_words[] = {"registered", "held",    "paid",    "reversed",
                                            "refunded",   "pending", "declined"};

static void on_paid_recorded(http_request_t *req, PGresult *res)
{
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        api_respond_db_error(req, res);
        return;
    }
    payment_ctx_t *c = req->ctx;
    http_respond_json(req, 200, c->answer, strlen(c->answer));
}

static void on_gateway_status(http_request_t *req, const outbound_response_t *r)
{
    payment_ctx_t *c = req->ctx;
    json_t *doc = gateway_answer(req, r);
    if (!doc)
        return;
    json_t *status = json_object_get(doc, "orderStatus");
    json_t *amount = json_object_get(doc, "amount");
    if (!json_is_integer(status)) {
        gateway_unusable(req, doc, "answered no orderStatus");
        return;
    }
    long long st = json_integer_value(status);
    const char *word = st >= 0 && st < (long long)ARRAY_LEN(payment_words) ? payment_words[st] : "unknown";
    json_t *answer = json_pack("{s:s, s:s, s:I, s:O, s:b}", "gateway_order_id", c->gateway_order_id, "status", word,
                               "gateway_status", (json_int_t)st, "amount",
                               json_is_integer(amount) ? amount : json_null(), "paid", st == PAYMENT_PAID);
    json_decref(doc);
    char *text = answer ? json_dumps(answer, JSON_COMPACT) : NULL;
    json_decref(answer);
    if (!text) {
        http_respond_problem(req, 500, "internal_error", NULL);
        return;
    }
    c->answer = arena_strdup(&req->arena, text);
    free(text);
    if (st == PAYMENT_PAID && !c->paid_before) {
        const char *params[] = {c->id, c->gateway_order_id};
        api_query(req, stmt_payment_paid, ARRAY_LEN(params), params, on_paid_recorded);
        return;
    }
    http_respond_json(req, 200, c->answer, strlen(c->answer));
}

static void on_payment_lookup(http_request_t *req, PGresult *res)
{
    payment_ctx_t *c = req->ctx;
    if (api_found_row(req, res))
        return;
    if (!gateway_configured(req->worker->cfg)) {
        http_respond_problem(req, 503, "not_configured", NULL);
        return;
    }
    if (PQgetisnull(res, 0, 0)) {
        http_respond_problem(req, 409, "payment_not_registered", NULL);
        return;
    }
    c->gateway_order_id = arena_strdup(&req->arena, PQgetvalue(res, 0, 0));
    c->paid_before = !PQgetisnull(res, 0, 1);
    abuf_t form;
    abuf_init(&form, &req->arena, 128);
    urlencoded_param(&form, "orderId", c->gateway_order_id);
    gateway_call(req, "getOrderStatusExtended.do", &form, on_gateway_status);
}

static void payment_status(http_request_t *req)
{
    payment_ctx_t *c = payment_ctx(req);
    if (!c)
        return;
    const char *params[] = {c->id};
    api_query(req, stmt_payment_lookup, ARRAY_LEN(params), params, on_payment_lookup);
}

/* The bot, not a person: X-Bot-Token equal to BOT_API_TOKEN. 0, or -1 after answering. */
static int bot_authenticate(http_request_t *req)
{
    const char *want = set_or_null(req->worker->cfg->bot_api_token);
    if (!want) {
        http_respond_problem(req, 503, "not_configured", NULL);
        return -1;
    }
    size_t len = 0;
    const char *got = http_header_get(req, "x-bot-token", &len);
    if (!got || len != strlen(want) || sodium_memcmp(got, want, len) != 0) {
        http_respond_problem(req, 401, "invalid_bot_token", NULL);
        return -1;
    }
    return 0;
}

/* The bot's users (chat ids of groups are negative): a resource of the engine,
 * behind X-Bot-Token instead of an access token. */
static const res_field_t tg_user_fields[] = {
    /* unique in the table, not declared so: a clash answers the plain 409 the bot has always had */
    {.f = {.name = "chat_id", .type = FIELD_BIGINT, .flags = FIELD_REQUIRED}},
    {.f = {.name = "status_id", .type = FIELD_INT, .max = INT32_MAX_VALUE}, .def = "0", .null_required = 1},
};
static const resource_t res_tg_users = {
    .name = "TelegramUser", .table = "telegram_users", .tag = "shop", .collection = "/api/v1/shop/telegram-users",
    .item = "/api/v1/shop/telegram-users/{id}", .global = 1, RES_FIELDS(tg_user_fields), .summary = "the bot's users",
    .authorize = bot_authenticate,
};

/* The order's body as order_json reads it: its fields and a list of items. */
static void order_body_document(const api_route_t *route, http_method_t method, json_t *op, json_t *schemas)
{
    (void)route;
    (void)method;
    json_object_set_new(schemas, "OrderCreateItem", openapi_fields_schema(item_fields, I_COUNT, BODY_CREATE));
    json_t *body = json_object_get(
        json_object_get(json_object_get(json_object_get(op, "requestBody"), "content"), "application/json"), "schema");
    json_object_set_new(json_object_get(body, "properties"), "items",
                        json_pack("{s:s, s:i, s:i, s:o}", "type", "array", "minItems", 1, "maxItems", ORDER_ITEMS_MAX,
                                  "items", openapi_ref("schemas", "OrderCreateItem")));
    json_array_append_new(json_object_get(body, "required"), json_string("items"));
}

/* The bot's routes are public to the router: the resource checks X-Bot-Token
 * (docs/openapi/shop_orders.json gives them its security scheme). */
static api_route_t shop_order_routes[] = {
    {.http = {.methods = ALLOW_POST, .pattern = "/api/v1/shop/orders", .handler = order_create},
     .summary = "Place an order (public)", .status = 201, .response = "Order", .body = order_fields,
     .body_count = O_COUNT, .errors = "409", .document = order_body_document},
    {.http = {.methods = ALLOW_GET, .pattern = "/api/v1/shop/orders", .handler = page_list, .flags = ROUTE_STAFF,
              .data = &orders_page},
     .summary = "Orders, in id order (staff)", .response = "OrderPage", .query = status_filter,
     .query_count = ARRAY_LEN(status_filter), .doc = API_PAGED},
    {.http = {.methods = ALLOW_GET, .pattern = "/api/v1/shop/orders/{id}", .handler = order_get,
              .flags = ROUTE_STAFF},
     .summary = "An order (staff)", .response = "Order"},
    {.http = {.methods = ALLOW_PATCH, .pattern = "/api/v1/shop/orders/{id}", .handler = order_patch,
              .flags = ROUTE_STAFF},
     .summary = "Change an order's status, delivery, address or comment (staff)", .response = "Order",
     .body = order_patch_fields, .body_count = U_COUNT},
    {.http = {.methods = ALLOW_GET, .pattern = "/api/v1/shop/orders/{id}/status-changes", .handler = page_list,
              .flags = ROUTE_STAFF, .data = &order_changes_page},
     .summary = "An order's status changes, oldest first (staff)", .response = "StatusChangePage", .doc = API_PAGED},
    {.http = {.methods = ALLOW_GET, .pattern = "/api/v1/shop/status-changes", .handler = page_list,
              .flags = ROUTE_STAFF, .data = &changes_page},
     .summary = "Every order's status changes, oldest first (staff)", .response = "StatusChangePage", .doc = API_PAGED},
    {.http = {.methods = ALLOW_POST, .pattern = "/api/v1/shop/orders/{id}/payment", .handler = payment_register},
     .summary = "Register the order with the payment gateway (public)", .response = "PaymentRegistered",
     .body = payment_fields, .body_count = P_COUNT, .errors = "502 504"},
    {.http = {.methods = ALLOW_GET, .pattern = "/api/v1/shop/orders/{id}/payment", .handler = payment_status},
     .summary = "The gateway's status of the order's payment (public)", .response = "PaymentStatus",
     .errors = "409 502 504"},
    {.http = {.methods = ALLOW_POST, .pattern = "/api/v1/shop/contact-forms", .handler = contact_form_create},
     .summary = "Send a contact form (public, rate limited)", .status = 201, .response = "ContactForm",
     .body = form_fields, .body_count = F_COUNT, .errors = "429"},
    {.http = {.methods = ALLOW_GET, .pattern = "/api/v1/shop/contact-forms", .handler = page_list,
              .flags = ROUTE_STAFF, .data = &forms_page},
     .summary = "Contact forms, in id order (staff)", .response = "ContactFormPage", .doc = API_PAGED},
    /* the engine serves these (res_tg_users, no PUT); their bodies are its fields */
    {.http = {.methods = ALLOW_GET, .pattern = "/api/v1/shop/telegram-users"},
     .summary = "The bot's users, in id order (X-Bot-Token)", .response = "TelegramUserPage", .doc = API_PAGED,
     .errors = "401"},
    {.http = {.methods = ALLOW_POST, .pattern = "/api/v1/shop/telegram-users"},
     .summary = "Add a bot user (X-Bot-Token)", .status = 201, .response = "TelegramUser", .errors = "401 409"},
    {.http = {.methods = ALLOW_GET, .pattern = "/api/v1/shop/telegram-users/{id}"},
     .summary = "A bot user (X-Bot-Token)", .response = "TelegramUser", .errors = "401"},
    {.http = {.methods = ALLOW_PATCH, .pattern = "/api/v1/shop/telegram-users/{id}"},
     .summary = "Change a bot user (X-Bot-Token)", .response = "TelegramUser", .errors = "401 409"},
    {.http = {.methods = ALLOW_DELETE, .pattern = "/api/v1/shop/telegram-users/{id}"},
     .summary = "Remove a bot user (X-Bot-Token)", .status = 204, .errors = "401"},
};

static void orders_register(void)
{
    stmt_orders_create = db_statement_register(
        "shop_orders_create",
        "SELECT error, body::text AS body, body->>'id' AS id, (body->'items')::text AS items, goods::text AS goods"
        " FROM shop_orders_create($1::jsonb[], $2::bigint[], $3, $4, $5::text[]) ORDER BY n");
    stmt_order_get = db_statement_register("shop_order_get", "SELECT shop_order_get($1::bigint)::text");
    stmt_order_update = db_statement_register(
        "shop_order_update",
        "SELECT error, body::text AS body"
        " FROM shop_order_update($1::bigint, $2::text[], $3::bigint, $4::bigint, $5, $6, $7::bigint)");
    stmt_orders_page =
        db_statement_register("shop_orders_page", "SELECT shop_orders_page($1::bigint, $2::bigint, $3::int)::text");
    stmt_changes_page = db_statement_register(
        "shop_changes_page", "SELECT shop_status_changes_page($1::bigint, $2::bigint, $3::int)::text");
    stmt_form_create = db_statement_register(
        "shop_form_create", "SELECT error, retry_after, body::text AS body"
                            " FROM shop_contact_form_create($1, $2, $3, $4, $5, $6::int, $7::bigint)");
    stmt_forms_page =
        db_statement_register("shop_forms_page", "SELECT shop_contact_forms_page($1::bigint, $2::int)::text");
    stmt_order_exists = db_statement_register("shop_order_exists", "SELECT 1 FROM orders WHERE id = $1::bigint");
    stmt_payment_begin = db_statement_register("shop_payment_begin",
                                               "SELECT order_number, amount FROM shop_payment_begin($1::bigint)");
    stmt_payment_registered = db_statement_register(
        "shop_payment_registered", "SELECT shop_payment_registered($1::bigint, $2, $3)::text");
    stmt_payment_lookup = db_statement_register(
        "shop_payment_lookup", "SELECT gateway_order_id, paid_at FROM shop_payment_lookup($1::bigint)");
    stmt_payment_paid = db_statement_register("shop_payment_paid", "SELECT shop_payment_paid($1::bigint, $2)");
    res_serve(&res_tg_users, shop_order_routes, ARRAY_LEN(shop_order_routes));
}

const api_module_t api_shop_orders_module = {
    .name = "shop_orders", .tag = "shop", .routes = shop_order_routes, .route_count = ARRAY_LEN(shop_order_routes),
    .register_statements = orders_register,
};
