#ifndef HOURGLASS_BRIDGE_H
#define HOURGLASS_BRIDGE_H
#include <libpq-fe.h>

#include "hourglass/body.h"
#include "hourglass/db.h"
#include "hourglass/http.h"
#include "hourglass/outbound.h"

/* Where the layers meet (api_bridge.c): the database, the body checks, the
 * password hashing and outbound calls return results and errors as values;
 * these turn them into answers for the endpoint modules (api_*, res_*). Who
 * is asking is api_auth.h's, uploads and stored images api_images.h's. */

/* The worker's database pool. */
db_pool_t *api_db(const http_request_t *req);

/* Runs prepared statement `stmt` with text parameters (NULL = SQL NULL).
 * cb gets a PGRES_TUPLES_OK / COMMAND_OK / FATAL_ERROR result and owns
 * nothing: the result is cleared after cb returns. A database that is down or
 * overloaded is answered 503 here and cb is not called; neither is it when the
 * request can no longer be answered (504 sent, client gone). */
typedef void (*api_db_cb)(http_request_t *req, PGresult *res);
void api_query(http_request_t *req, int stmt, int nparams, const char *const *values, api_db_cb cb);
/* The same, but cb also runs (with res NULL) when the database cannot answer,
 * for handlers whose answer to that is not a plain 503 problem. */
void api_query_or_null(http_request_t *req, int stmt, int nparams, const char *const *values, api_db_cb cb);
/* api_query with the path's {id} as the one parameter; a path whose {id} is
 * not an id was answered 404 (http_path_id) and stmt is not sent. */
void api_query_path_id(http_request_t *req, int stmt, api_db_cb cb);
/* Status and problem for a failed database call (503, 409, 500). */
void api_respond_db_error(http_request_t *req, const PGresult *res);
/* The first column of the one row as the JSON answer with status; 404 when
 * there is no row or it is NULL; the database's error otherwise. */
void api_respond_json_row(http_request_t *req, const PGresult *res, int status);

/* 0 when res holds exactly one row; else answers (the failure, or 404 for
 * no row: missing, or not the caller's) and returns -1. */
int api_found_row(http_request_t *req, const PGresult *res);
/* api_respond_json_row with 200, as the callback of api_query. */
void api_on_json_row(http_request_t *req, PGresult *res);

/* A column of row 0 by name; NULL when absent or SQL NULL. */
const char *api_column(const PGresult *res, const char *name);
/* The same of another row. */
const char *api_column_at(const PGresult *res, int row, const char *name);
/* The names of the fields a PATCH body sent, as a text[] literal; the names
 * are the declared fields', never request data. */
const char *api_present_fields(http_request_t *req, const body_field_t *fields, const body_value_t *v, size_t n);

/* A problem with status and code that lists every error gathered in e. */
void api_respond_errors(http_request_t *req, field_errors_t *e, int status, const char *code);
/* 422 validation_failed with every error gathered. */
void api_respond_validation(http_request_t *req, field_errors_t *e);
/* 422 validation_failed with each {"field", "code"} of the "errors" list of
 * body, the JSON text an SQL function answered (NULL: none). */
void api_respond_field_errors(http_request_t *req, const char *body);
/* body_read, answering 400 or 415 (then -1); field errors stay in e. */
int api_body_read(http_request_t *req, const body_field_t *fields, size_t count, body_mode_t mode, int allow_forms,
                  body_value_t *values, field_errors_t *e);
/* body_json_object, answering 400 or 415 (then NULL); the caller frees it. */
json_t *api_body_json(http_request_t *req);
/* body_read that answers 400, 415 or 422 itself: 0 with values filled, or -1. */
int api_body_parse(http_request_t *req, const body_field_t *fields, size_t count, body_mode_t mode, int allow_forms,
                   body_value_t *values);

/* argon2id for a request, on the pool of its worker's loop. cb runs only
 * while the request can still be answered, with the hash in the arena; when
 * hashing fails or cannot be queued the request is answered 500 instead. */
typedef void (*api_hash_cb)(http_request_t *req, const char *hash);
void api_password_hash(http_request_t *req, const char *password, api_hash_cb cb);
/* matches is 1 or 0; hash NULL (an unknown user) checks against a dummy and
 * never matches. When the work cannot be queued the request is answered 500
 * (not "no match": that would count as a failed login) and cb is not called. */
typedef void (*api_verify_cb)(http_request_t *req, int matches);
void api_password_verify(http_request_t *req, const char *password, const char *hash, api_verify_cb cb);

/* An HTTP call to another service through the worker's outbound driver
 * (outbound.h), the request held meanwhile. cb runs only while the request
 * can still be answered; when the call cannot be started the request is
 * answered 500 and cb is not called. Its timeout is cut to end shortly before
 * the request's own deadline (HTTP_REQUEST_TIMEOUT). */
typedef void (*api_outbound_cb)(http_request_t *req, const outbound_response_t *r);
void api_outbound_http(http_request_t *req, const outbound_request_t *rq, api_outbound_cb cb);

#endif
