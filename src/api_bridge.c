/* Where results and errors of the layers below become answers (bridge.h). */
#include <string.h>

#include "hourglass/app.h"
#include "hourglass/auth.h"
#include "hourglass/bridge.h"
#include "hourglass/log.h"
#include "hourglass/problem.h"

db_pool_t *api_db(const http_request_t *req) { return app_worker(req->worker)->db; }

/* A request held while the database, the hashing pool or an outbound call
 * works for it, and what to call with the result. */
typedef struct {
    http_request_t *req;
    union {
        api_db_cb db;
        api_hash_cb hash;
        api_verify_cb verify;
        api_outbound_cb outbound;
    } cb;
    int wants_failures; /* a query's cb also runs when the database cannot answer */
} held_t;

static held_t *held_new(http_request_t *req)
{
    held_t *h = arena_calloc(&req->arena, sizeof(*h));
    h->req = req;
    return h;
}

/* Holds the request for a call started with rc 0, whose answer never comes
 * on this stack; answers 500 for one that could not start. */
static void hold_started(http_request_t *req, int rc)
{
    if (rc == 0)
        http_request_hold(req);
    else
        http_respond_problem(req, 500, "internal_error", NULL);
}

static void on_db_result(void *data, PGresult *res, db_status_t status)
{
    held_t *h = data;
    if (!http_request_resume(h->req))
        return;
    if (status != DB_OK && !h->wants_failures) {
        http_respond_problem(h->req, 503, "database_unavailable", NULL);
        return;
    }
    h->cb.db(h->req, status == DB_OK ? res : NULL);
}

static void query_send(http_request_t *req, int stmt, int nparams, const char *const *values, api_db_cb cb,
                       int wants_failures)
{
    held_t *h = held_new(req);
    h->cb.db = cb;
    h->wants_failures = wants_failures;
    /* Held first: a connection lost while sending fails the query at once. */
    http_request_hold(req);
    db_status_t st = db_query(api_db(req), stmt, nparams, values, on_db_result, h);
    if (st == DB_OK)
        return;
    (void)http_request_resume(req); /* never queued; the handler still has the request */
    /* A full queue is our own overload, not a database failure: always 503 overloaded. */
    if (wants_failures && st == DB_UNAVAILABLE)
        cb(req, NULL);
    else
        http_respond_problem(req, 503, st == DB_OVERLOADED ? "overloaded" : "database_unavailable", NULL);
}

void api_query(http_request_t *req, int stmt, int nparams, const char *const *values, api_db_cb cb)
{
    query_send(req, stmt, nparams, values, cb, 0);
}

void api_query_or_null(http_request_t *req, int stmt, int nparams, const char *const *values, api_db_cb cb)
{
    query_send(req, stmt, nparams, values, cb, 1);
}

void api_query_path_id(http_request_t *req, int stmt, api_db_cb cb)
{
    const char *id = http_path_id(req, "id");
    if (id)
        query_send(req, stmt, 1, &id, cb, 0);
}

void api_respond_db_error(http_request_t *req, const PGresult *res)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    /* No answer, connection trouble, shutdown, or a server that cannot take us now. */
    if (!state || !strncmp(state, "08", 2) || !strncmp(state, "57P", 3) || !strcmp(state, "53300")) {
        http_respond_problem(req, 503, "database_unavailable", NULL);
        return;
    }
    if (!strcmp(state, "23505")) {
        http_respond_problem(req, 409, "conflict", NULL);
        return;
    }
    /* The statement's message goes to our log only, never to the client. */
    log_error("request %s: database error %s: %s", req->request_id, state, PQresultErrorMessage(res));
    http_respond_problem(req, 500, "internal_error", NULL);
}

const char *api_column(const PGresult *res, const char *name) { return api_column_at(res, 0, name); }

const char *api_column_at(const PGresult *res, int row, const char *name)
{
    int col = PQfnumber(res, name);
    return col < 0 || PQntuples(res) <= row || PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

int api_found_row(http_request_t *req, const PGresult *res)
{
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        api_respond_db_error(req, res);
        return -1;
    }
    if (PQntuples(res) != 1) {
        http_respond_problem(req, 404, "not_found", NULL);
        return -1;
    }
    return 0;
}

void api_respond_json_row(http_request_t *req, const PGresult *res, int status)
{
    if (api_found_row(req, res))
        return;
    if (PQgetisnull(res, 0, 0))
        http_respond_problem(req, 404, "not_found", NULL);
    else
        http_respond_json(req, status, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
}

void api_on_json_row(http_request_t *req, PGresult *res) { api_respond_json_row(req, res, 200); }

const char *api_present_fields(http_request_t *req, const body_field_t *fields, const body_value_t *v, size_t n)
{
    abuf_t b;
    abuf_init(&b, &req->arena, 128);
    abuf_puts(&b, "{");
    for (size_t i = 0, k = 0; i < n; i++)
        if (v[i].present)
            abuf_printf(&b, "%s%s", k++ ? "," : "", fields[i].name);
    abuf_puts(&b, "}");
    return b.data;
}

void api_respond_errors(http_request_t *req, field_errors_t *e, int status, const char *code)
{
    abuf_puts(&e->json, "]");
    size_t len;
    char *body = problem_render(&req->arena, status, code, e->detail.data, e->json.data, &len);
    http_respond(req, status, "application/problem+json", body, len);
}

void api_respond_validation(http_request_t *req, field_errors_t *e)
{
    api_respond_errors(req, e, 422, "validation_failed");
}

void api_respond_field_errors(http_request_t *req, const char *body)
{
    field_errors_t e;
    field_errors_init(&e, req);
    json_t *doc = body ? json_loads(body, 0, NULL) : NULL;
    size_t i;
    json_t *err;
    json_array_foreach(json_object_get(doc, "errors"), i, err) {
        const char *field = json_string_value(json_object_get(err, "field"));
        const char *code = json_string_value(json_object_get(err, "code"));
        if (field && code)
            field_errors_add(&e, field, code);
    }
    api_respond_validation(req, &e);
    json_decref(doc);
}

/* 0 for BODY_OK; else the answer, and -1. */
static int respond_body_error(http_request_t *req, body_error_t rc)
{
    static const struct {
        int status;
        const char *code;
    } answers[] = {
        [BODY_MALFORMED_JSON] = {.status = 400, .code = "malformed_json"},
        [BODY_MALFORMED_FORM] = {.status = 400, .code = "malformed_request"},
        [BODY_UNSUPPORTED_TYPE] = {.status = 415, .code = "unsupported_media_type"},
    };
    if (rc != BODY_OK)
        http_respond_problem(req, answers[rc].status, answers[rc].code, NULL);
    return rc == BODY_OK ? 0 : -1;
}

int api_body_read(http_request_t *req, const body_field_t *fields, size_t count, body_mode_t mode, int allow_forms,
                  body_value_t *values, field_errors_t *e)
{
    return respond_body_error(req, body_read(req, fields, count, mode, allow_forms, values, e));
}

json_t *api_body_json(http_request_t *req)
{
    json_t *obj;
    return respond_body_error(req, body_json_object(req, &obj)) ? NULL : obj;
}

int api_body_parse(http_request_t *req, const body_field_t *fields, size_t count, body_mode_t mode, int allow_forms,
                   body_value_t *values)
{
    field_errors_t e;
    if (api_body_read(req, fields, count, mode, allow_forms, values, &e))
        return -1;
    if (e.count) {
        api_respond_validation(req, &e);
        return -1;
    }
    return 0;
}

static void on_hashed(void *data, const char *hash)
{
    held_t *h = data;
    if (!http_request_resume(h->req))
        return;
    if (hash)
        h->cb.hash(h->req, arena_strdup(&h->req->arena, hash));
    else
        http_respond_problem(h->req, 500, "internal_error", NULL);
}

static void on_verified(void *data, int matches)
{
    held_t *h = data;
    if (http_request_resume(h->req))
        h->cb.verify(h->req, matches);
}

void api_password_hash(http_request_t *req, const char *password, api_hash_cb cb)
{
    held_t *h = held_new(req);
    h->cb.hash = cb;
    hold_started(req, auth_password_hash(&req->worker->loop, password, on_hashed, h));
}

void api_password_verify(http_request_t *req, const char *password, const char *hash, api_verify_cb cb)
{
    held_t *h = held_new(req);
    h->cb.verify = cb;
    hold_started(req, auth_password_verify(&req->worker->loop, password, hash, on_verified, h));
}

/* How long before the request's own deadline an outbound call gives up. */
#define OUTBOUND_ANSWER_MARGIN_MS 100

static void on_outbound_answer(void *data, const outbound_response_t *r)
{
    held_t *h = data;
    if (http_request_resume(h->req))
        h->cb.outbound(h->req, r);
}

void api_outbound_http(http_request_t *req, const outbound_request_t *rq, api_outbound_cb cb)
{
    held_t *h = held_new(req);
    h->cb.outbound = cb;
    /* The call ends while the request can still say so itself (a 504 of its own), not
     * after HTTP_REQUEST_TIMEOUT has answered for it. */
    outbound_request_t bounded = *rq;
    uint64_t end = uv_now(&req->worker->loop) + OUTBOUND_ANSWER_MARGIN_MS;
    uint64_t left = req->deadline_ms > end ? req->deadline_ms - end : 1;
    if (!bounded.timeout_ms || bounded.timeout_ms > left)
        bounded.timeout_ms = left;
    hold_started(req, outbound_http(app_worker(req->worker)->out, &bounded, on_outbound_answer, h));
}
