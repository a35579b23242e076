/* Where results and errors of the layers below become answers: database
 * results and outages, request bodies and their field errors, password
 * hashing on the thread pool, and calls to other services. Who is asking is
 * api_auth.c's; uploads and stored images are api_images.c's. */
#include <string.h>

#include "hourglass/app.h"
#include "hourglass/auth.h"
#include "hourglass/bridge.h"
#include "hourglass/log.h"
#include "hourglass/problem.h"

db_pool_t *api_db(const http_request_t *req) { return app_worker(req->worker)->db; }

typedef struct {
    http_request_t *req;
    api_db_cb cb;
    int wants_failures;
} query_ctx_t;

static void on_db_result(void *data, PGresult *res, db_status_t status)
{
    query_ctx_t *ctx = data;
    http_request_t *req = ctx->req;
    if (!http_request_resume(req))
        return;
    if (status != DB_OK && !ctx->wants_failures) {
        http_respond_problem(req, 503, "database_unavailable", NULL);
        return;
    }
    ctx->cb(req, status == DB_OK ? res : NULL);
}

static void query_send(http_request_t *req, int stmt, int nparams, const char *const *values, api_db_cb cb,
                       int wants_failures)
{
    query_ctx_t *ctx = arena_alloc(&req->arena, sizeof(*ctx));
    ctx->req = req;
    ctx->cb = cb;
    ctx->wants_failures = wants_failures;
    /* Held first: a connection lost while sending fails the query at once. */
    http_request_hold(req);
    db_status_t st = db_query(api_db(req), stmt, nparams, values, on_db_result, ctx);
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
    if (!res || !state) {
        http_respond_problem(req, 503, "database_unavailable", NULL);
        return;
    }
    if (!strcmp(state, "23505")) {
        http_respond_problem(req, 409, "conflict", NULL);
        return;
    }
    /* Connection trouble, shutdown, or a server that cannot take us now. */
    if (!strncmp(state, "08", 2) || !strncmp(state, "57P", 3) || !strcmp(state, "53300")) {
        http_respond_problem(req, 503, "database_unavailable", NULL);
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
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        api_respond_db_error(req, res);
        return;
    }
    if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0)) {
        http_respond_problem(req, 404, "not_found", NULL);
        return;
    }
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

void api_respond_field_errors(http_request_t *req, json_t *errors)
{
    field_errors_t e;
    field_errors_init(&e, req);
    size_t i;
    json_t *err;
    json_array_foreach(errors, i, err) {
        const char *field = json_string_value(json_object_get(err, "field"));
        const char *code = json_string_value(json_object_get(err, "code"));
        if (field && code)
            field_errors_add(&e, field, code);
    }
    api_respond_validation(req, &e);
}

/* 0 for BODY_OK; else the answer, and -1. */
static int respond_body_error(http_request_t *req, body_error_t rc)
{
    switch (rc) {
    case BODY_OK:
        return 0;
    case BODY_MALFORMED_JSON:
        http_respond_problem(req, 400, "malformed_json", NULL);
        break;
    case BODY_MALFORMED_FORM:
        http_respond_problem(req, 400, "malformed_request", NULL);
        break;
    case BODY_UNSUPPORTED_TYPE:
        http_respond_problem(req, 415, "unsupported_media_type", NULL);
        break;
    }
    return -1;
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

int api_password_policy_errors(http_request_t *req, const char *field, const char *pw, field_errors_t *e)
{
    return auth_password_policy_errors(req->worker->cfg, field, pw, e);
}

typedef struct {
    http_request_t *req;
    api_hash_cb hash_cb;
    api_verify_cb verify_cb;
} hash_ctx_t;

static void on_hashed(void *data, const char *hash)
{
    hash_ctx_t *ctx = data;
    if (!http_request_resume(ctx->req))
        return;
    if (hash)
        ctx->hash_cb(ctx->req, arena_strdup(&ctx->req->arena, hash));
    else
        http_respond_problem(ctx->req, 500, "internal_error", NULL);
}

static void on_verified(void *data, int matches)
{
    hash_ctx_t *ctx = data;
    if (http_request_resume(ctx->req))
        ctx->verify_cb(ctx->req, matches);
}

static hash_ctx_t *hash_ctx_new(http_request_t *req, api_hash_cb hash_cb, api_verify_cb verify_cb)
{
    hash_ctx_t *ctx = arena_alloc(&req->arena, sizeof(*ctx));
    ctx->req = req;
    ctx->hash_cb = hash_cb;
    ctx->verify_cb = verify_cb;
    return ctx;
}

void api_password_hash(http_request_t *req, const char *password, api_hash_cb cb)
{
    /* the pool's answer never comes on this stack */
    if (auth_password_hash(&req->worker->loop, password, on_hashed, hash_ctx_new(req, cb, NULL)) == 0)
        http_request_hold(req);
    else
        http_respond_problem(req, 500, "internal_error", NULL);
}

void api_password_verify(http_request_t *req, const char *password, const char *hash, api_verify_cb cb)
{
    if (auth_password_verify(&req->worker->loop, password, hash, on_verified, hash_ctx_new(req, NULL, cb)) == 0)
        http_request_hold(req);
    else
        http_respond_problem(req, 500, "internal_error", NULL);
}

/* How long before the request's own deadline an outbound call gives up. */
#define OUTBOUND_ANSWER_MARGIN_MS 100

typedef struct {
    http_request_t *req;
    api_outbound_cb cb;
} outbound_ctx_t;

static void on_outbound_answer(void *data, const outbound_response_t *r)
{
    outbound_ctx_t *ctx = data;
    if (http_request_resume(ctx->req))
        ctx->cb(ctx->req, r);
}

void api_outbound_http(http_request_t *req, const outbound_request_t *rq, api_outbound_cb cb)
{
    outbound_ctx_t *ctx = arena_alloc(&req->arena, sizeof(*ctx));
    ctx->req = req;
    ctx->cb = cb;
    /* The call ends while the request can still say so itself (a 504 of its own), not
     * after HTTP_REQUEST_TIMEOUT has answered for it. */
    outbound_request_t bounded = *rq;
    uint64_t now = uv_now(&req->worker->loop);
    uint64_t left = req->deadline_ms > now + OUTBOUND_ANSWER_MARGIN_MS ? req->deadline_ms - now - OUTBOUND_ANSWER_MARGIN_MS
                                                                       : 1;
    if (!bounded.timeout_ms || bounded.timeout_ms > left)
        bounded.timeout_ms = left;
    /* the answer never comes on this stack */
    if (outbound_http(app_worker(req->worker)->out, &bounded, on_outbound_answer, ctx) == 0)
        http_request_hold(req);
    else
        http_respond_problem(req, 500, "internal_error", NULL);
}
