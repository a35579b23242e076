/* Accounts and sessions: register, verify, login, refresh, logout, codes.
 * Each handler is a short chain of steps (body -> hash on the thread pool ->
 * one SQL function -> answer); the SQL functions are in 0003_accounts.sql. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hourglass/bridge.h"
#include "hourglass/api.h"
#include "hourglass/api_auth.h"
#include "hourglass/api_v1.h"
#include "hourglass/auth.h"
#include "hourglass/body.h"
#include "hourglass/http_auth.h"
#include "hourglass/revoked.h"
#include "hourglass/server.h"

static int stmt_register, stmt_verify, stmt_send_code, stmt_login_lookup, stmt_login_failed, stmt_session_open,
    stmt_refresh, stmt_revoke, stmt_sessions, stmt_reset;

/* The one-column JSON answer of an account function, parsed; NULL after
 * answering a failure or the error it names. The caller decrefs. */
static json_t *result_json(http_request_t *req, PGresult *res)
{
    if (api_found_row(req, res))
        return NULL;
    json_t *j = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
    const char *err = json_string_value(json_object_get(j, "error"));
    if (!j) {
        http_respond_problem(req, 500, "internal_error", NULL);
    } else if (err) {
        /* A rotated refresh token presented again: its session is refused here at once. */
        if (!strcmp(err, "token_reused"))
            revoked_add(json_integer_value(json_object_get(j, "session_id")));
        json_t *retry = json_object_get(j, "retry_after");
        api_respond_account_error(req, err, retry ? http_int_param(req, json_integer_value(retry)) : NULL);
    } else {
        return j;
    }
    json_decref(j);
    return NULL;
}

static void respond_json_value(http_request_t *req, int status, json_t *value)
{
    char *text = json_dumps(value, JSON_COMPACT);
    http_respond_json(req, status, text, strlen(text));
    free(text);
}

static int error_status(const char *code)
{
    static const struct {
        const char *code;
        int status;
    } statuses[] = {
        {.code = "invalid_code", .status = 400},   {.code = "invalid_token", .status = 401},
        {.code = "token_reused", .status = 401},   {.code = "wrong_password", .status = 403},
        {.code = "not_found", .status = 404},      {.code = "username_taken", .status = 409},
        {.code = "email_taken", .status = 409},    {.code = "code_expired", .status = 410},
        {.code = "rate_limited", .status = 429},
    };
    for (size_t i = 0; i < ARRAY_LEN(statuses); i++)
        if (!strcmp(statuses[i].code, code))
            return statuses[i].status;
    return 500;
}

void api_respond_account_error(http_request_t *req, const char *code, const char *retry_after)
{
    int status = error_status(code);
    if (status == 401) {
        api_refuse_401(req, code);
        return;
    }
    if (retry_after)
        http_header_add(req, "Retry-After", retry_after);
    http_respond_problem(req, status, code, NULL);
}

typedef struct {
    const char *password;
    int64_t user_id;
    int email_verified;
    char refresh[AUTH_REFRESH_TOKEN_LEN + 1];
} session_ctx_t;

/* A session opened by login or refresh: the token pair as body and cookies. */
static void on_session(http_request_t *req, PGresult *res)
{
    json_t *j = result_json(req, res);
    if (!j)
        return;
    const session_ctx_t *c = req->ctx;
    int64_t expires_in = 0;
    char *access = auth_access_token_issue(&req->arena, json_integer_value(json_object_get(j, "user_id")),
                                           json_integer_value(json_object_get(j, "session_id")),
                                           json_string_value(json_object_get(j, "role")), (int64_t)time(NULL),
                                           &expires_in);
    json_decref(j);
    if (!access) {
        http_respond_problem(req, 500, "internal_error", NULL);
        return;
    }
    http_session_cookies_set(req, access, c->refresh);
    http_header_add(req, "Cache-Control", "no-store");
    json_t *pair = json_pack("{s:s,s:s,s:s,s:I}", "access_token", access, "refresh_token", c->refresh, "token_type",
                             "bearer", "expires_in", (json_int_t)expires_in);
    respond_json_value(req, 200, pair);
    json_decref(pair);
}

enum { R_EMAIL, R_PASSWORD, R_CONFIRM, R_PROFILE };
static const body_field_t register_fields[] = {
    [R_EMAIL] = {.name = "email", .type = FIELD_EMAIL, .flags = FIELD_REQUIRED},
    [R_PASSWORD] = {.name = "password", .type = FIELD_PASSWORD, .flags = FIELD_REQUIRED},
    [R_CONFIRM] = {.name = "password_confirm", .type = FIELD_PASSWORD},
    [R_PROFILE] = API_PROFILE_FIELDS,
};
#define REGISTER_FIELDS ARRAY_LEN(register_fields)

static void on_registered(http_request_t *req, PGresult *res)
{
    json_t *j = result_json(req, res);
    if (!j)
        return;
    json_t *user = json_object_get(j, "user");
    http_header_add(req, "Location",
                    arena_printf(&req->arena, "/api/v1/users/%lld",
                                 (long long)json_integer_value(json_object_get(user, "id"))));
    respond_json_value(req, 201, user);
    json_decref(j);
}

static void on_register_hashed(http_request_t *req, const char *hash)
{
    body_value_t *v = req->ctx;
    char code[AUTH_CODE_SIZE];
    auth_code_new(code);
    const body_value_t *p = &v[R_PROFILE];
    const char *params[] = {
        v[R_EMAIL].text, hash, p[PROFILE_USERNAME].text, p[PROFILE_NAME].text, p[PROFILE_FIRST].text,
        p[PROFILE_LAST].text, p[PROFILE_MIDDLE].text, p[PROFILE_PHONE].text, p[PROFILE_DOB].text,
        p[PROFILE_COUNTRY].text, code,
        http_int_param(req, (long long)req->worker->cfg->auth_code_ttl_ms), http_lang_code(req), "false",
    };
    api_query(req, stmt_register, ARRAY_LEN(params), params, on_registered);
}

/* Reads a body that sets a password (values[password], confirmed by
 * values[confirm] when confirm is not 0), then hashes it and runs cb with
 * the values as ctx. One answer lists every rule broken, the body's and the
 * policy's. */
static void hash_body_password(http_request_t *req, const body_field_t *fields, size_t count, int password,
                               int confirm, api_hash_cb cb)
{
    body_value_t *v = arena_calloc(&req->arena, sizeof(body_value_t) * count);
    field_errors_t e;
    if (api_body_read(req, fields, count, BODY_CREATE, 0, v, &e))
        return;
    auth_password_policy_errors(req->worker->cfg, fields[password].name, v[password].text, &e);
    if (confirm && v[confirm].text && v[password].text && strcmp(v[confirm].text, v[password].text))
        field_errors_add(&e, fields[confirm].name, "mismatch");
    if (e.count) {
        api_respond_validation(req, &e);
        return;
    }
    req->ctx = v;
    api_password_hash(req, v[password].text, cb);
}

static void register_account(http_request_t *req)
{
    hash_body_password(req, register_fields, REGISTER_FIELDS, R_PASSWORD, R_CONFIRM, on_register_hashed);
}

static const body_field_t email_code_fields[] = {
    {.name = "email", .type = FIELD_EMAIL, .flags = FIELD_REQUIRED},
    {.name = "code", .type = FIELD_STRING, .flags = FIELD_REQUIRED, .min = 1, .max = 32},
};

static void on_verified(http_request_t *req, PGresult *res)
{
    json_t *j = result_json(req, res);
    if (!j)
        return;
    respond_json_value(req, 200, json_object_get(j, "user"));
    json_decref(j);
}

static void verify_email(http_request_t *req)
{
    body_value_t v[2];
    if (api_body_parse(req, email_code_fields, ARRAY_LEN(email_code_fields), BODY_CREATE, 0, v))
        return;
    const char *params[] = {v[0].text, v[1].text, http_int_param(req, req->worker->cfg->auth_code_max_attempts)};
    api_query(req, stmt_verify, ARRAY_LEN(params), params, on_verified);
}

static const body_field_t email_fields[] = {{.name = "email", .type = FIELD_EMAIL, .flags = FIELD_REQUIRED}};

static void on_code_sent(http_request_t *req, PGresult *res)
{
    if (api_found_row(req, res))
        return;
    http_respond_json(req, 202, "{\"status\":\"accepted\"}", 21);
}

/* Always 202: whether the address is known is nobody's business. */
void api_send_code(http_request_t *req, const char *kind)
{
    body_value_t v[1];
    if (api_body_parse(req, email_fields, ARRAY_LEN(email_fields), BODY_CREATE, 0, v))
        return;
    const config_t *cfg = req->worker->cfg;
    char code[AUTH_CODE_SIZE];
    auth_code_new(code);
    const char *params[] = {kind, v[0].text, code, http_int_param(req, (long long)cfg->auth_code_ttl_ms), http_lang_code(req),
                             http_int_param(req, cfg->mail_quota_per_minute), http_int_param(req, cfg->mail_quota_per_hour)};
    api_query(req, stmt_send_code, ARRAY_LEN(params), params, on_code_sent);
}

static void resend_verification(http_request_t *req) { api_send_code(req, "verify"); }

static void forgot_password(http_request_t *req) { api_send_code(req, "reset"); }

enum { P_EMAIL, P_CODE, P_NEW };
static const body_field_t reset_fields[] = {
    [P_EMAIL] = {.name = "email", .type = FIELD_EMAIL, .flags = FIELD_REQUIRED},
    [P_CODE] = {.name = "code", .type = FIELD_STRING, .flags = FIELD_REQUIRED, .min = 1, .max = 32},
    [P_NEW] = {.name = "new_password", .type = FIELD_PASSWORD, .flags = FIELD_REQUIRED},
};

static void on_reset(http_request_t *req, PGresult *res)
{
    json_t *j = result_json(req, res);
    if (!j)
        return;
    size_t i;
    json_t *id;
    json_array_foreach(json_object_get(j, "revoked"), i, id) revoked_add(json_integer_value(id));
    http_respond(req, 204, NULL, NULL, 0);
    json_decref(j);
}

static void on_reset_hashed(http_request_t *req, const char *hash)
{
    body_value_t *v = req->ctx;
    const char *params[] = {v[P_EMAIL].text, v[P_CODE].text, hash,
                             http_int_param(req, req->worker->cfg->auth_code_max_attempts)};
    api_query(req, stmt_reset, ARRAY_LEN(params), params, on_reset);
}

static void reset_password(http_request_t *req)
{
    hash_body_password(req, reset_fields, ARRAY_LEN(reset_fields), P_NEW, 0, on_reset_hashed);
}

enum { L_EMAIL, L_USERNAME, L_PASSWORD, L_GRANT, L_SCOPE, L_CLIENT_ID, L_CLIENT_SECRET };
/* The OAuth2 password form's other fields are accepted and ignored. */
static const body_field_t login_fields[] = {
    [L_EMAIL] = {.name = "email", .type = FIELD_STRING, .min = 1, .max = BODY_EMAIL_MAX_CHARS},
    [L_USERNAME] = {.name = "username", .type = FIELD_STRING, .min = 1, .max = BODY_EMAIL_MAX_CHARS},
    [L_PASSWORD] = {.name = "password", .type = FIELD_PASSWORD, .flags = FIELD_REQUIRED},
    [L_GRANT] = {.name = "grant_type", .type = FIELD_STRING, .max = 64},
    [L_SCOPE] = {.name = "scope", .type = FIELD_STRING, .max = 1000},
    [L_CLIENT_ID] = {.name = "client_id", .type = FIELD_STRING, .max = 256},
    [L_CLIENT_SECRET] = {.name = "client_secret", .type = FIELD_STRING, .max = 256},
};
#define LOGIN_FIELDS ARRAY_LEN(login_fields)

static void on_failure_recorded(http_request_t *req, PGresult *res)
{
    (void)res; /* the answer is the same whether it was recorded or not */
    api_refuse_401(req, "invalid_credentials");
}

static void on_login_checked(http_request_t *req, int matches)
{
    session_ctx_t *c = req->ctx;
    if (!matches) {
        if (!c->user_id) {
            api_refuse_401(req, "invalid_credentials");
            return;
        }
        const char *params[] = {http_int_param(req, c->user_id)};
        api_query(req, stmt_login_failed, ARRAY_LEN(params), params, on_failure_recorded);
        return;
    }
    const config_t *cfg = req->worker->cfg;
    if (!c->email_verified && cfg->auth_require_verified_email) {
        http_respond_problem(req, 403, "email_not_verified", NULL);
        return;
    }
    auth_refresh_token_new(c->refresh);
    size_t ua_len = 0;
    const char *ua = http_header_get(req, "user-agent", &ua_len);
    const char *params[] = {http_int_param(req, c->user_id), c->refresh, ua ? arena_strndup(&req->arena, ua, ua_len) : NULL,
                             http_client_ip(req), http_int_param(req, (long long)cfg->refresh_token_ttl_ms)};
    api_query(req, stmt_session_open, ARRAY_LEN(params), params, on_session);
}

static void on_login_lookup(http_request_t *req, PGresult *res)
{
    json_t *j = result_json(req, res);
    if (!j)
        return;
    session_ctx_t *c = req->ctx;
    c->user_id = json_integer_value(json_object_get(j, "user_id"));
    c->email_verified = json_is_true(json_object_get(j, "email_verified"));
    const char *hash = json_string_value(json_object_get(j, "password_hash"));
    /* Unknown users are checked against a dummy hash: the same answer in similar time. */
    api_password_verify(req, c->password, c->user_id ? hash : NULL, on_login_checked);
    json_decref(j);
}

static void sign_in(http_request_t *req)
{
    body_value_t v[LOGIN_FIELDS];
    if (api_body_parse(req, login_fields, LOGIN_FIELDS, BODY_CREATE, 1, v))
        return;
    const char *login = v[L_EMAIL].text ? v[L_EMAIL].text : v[L_USERNAME].text;
    if (!login) {
        field_errors_t e;
        field_errors_init(&e, req);
        field_errors_add(&e, "email", "required");
        api_respond_validation(req, &e);
        return;
    }
    session_ctx_t *c = arena_calloc(&req->arena, sizeof(*c));
    c->password = v[L_PASSWORD].text;
    req->ctx = c;
    const config_t *cfg = req->worker->cfg;
    const char *params[] = {login, http_client_ip(req), http_int_param(req, cfg->login_ip_limit_per_minute),
                             http_int_param(req, cfg->login_lockout_threshold), http_int_param(req, (long long)cfg->login_lockout_window_ms)};
    api_query(req, stmt_login_lookup, ARRAY_LEN(params), params, on_login_lookup);
}

/* No length bounds: a token that is not a live one, of any length, is a 401, not a 422. */
static const body_field_t refresh_fields[] = {{.name = "refresh_token", .type = FIELD_STRING}};

static void refresh_tokens(http_request_t *req)
{
    body_value_t v[1] = {{0}};
    size_t ct_len = 0;
    if ((req->body.len || http_header_get(req, "content-type", &ct_len)) &&
        api_body_parse(req, refresh_fields, ARRAY_LEN(refresh_fields), BODY_PATCH, 1, v))
        return;
    const char *token = v[0].text;
    if (!token)
        token = http_bearer_token(req);
    if (!token) {
        token = http_cookie_get(req, "refresh_token");
        /* A cookie comes with any request the browser makes: only our front end may use it. */
        if (token && !http_origin_allowed(req)) {
            http_respond_problem(req, 403, "origin_not_allowed", NULL);
            return;
        }
    }
    if (!token || !*token) {
        api_refuse_401(req, "not_authenticated");
        return;
    }
    session_ctx_t *c = arena_calloc(&req->arena, sizeof(*c));
    auth_refresh_token_next(token, c->refresh);
    req->ctx = c;
    const char *params[] = {token, c->refresh,
                            http_int_param(req, (long long)req->worker->cfg->refresh_reuse_grace_ms)};
    api_query(req, stmt_refresh, ARRAY_LEN(params), params, on_session);
}

static void on_revoked(http_request_t *req, PGresult *res)
{
    if (api_found_row(req, res))
        return;
    const char *ids = PQgetvalue(res, 0, 0);
    /* Refused here at once; other instances hear it through NOTIFY. */
    revoked_add_array_text(ids);
    if (!strcmp(ids, "{}") && req->ctx) {
        http_respond_problem(req, 404, "not_found", NULL);
        return;
    }
    if (!req->ctx)
        http_session_cookies_clear(req);
    http_respond(req, 204, NULL, NULL, 0);
}

static void revoke(http_request_t *req, const char *session_id)
{
    const char *params[] = {http_int_param(req, req->auth.user_id), session_id, NULL};
    api_query(req, stmt_revoke, ARRAY_LEN(params), params, on_revoked);
}

static void sign_out(http_request_t *req) { revoke(req, http_int_param(req, req->auth.session_id)); }

static void logout_all(http_request_t *req) { revoke(req, NULL); }

static void session_delete(http_request_t *req)
{
    const char *id = http_param(req, "id");
    char *end;
    long long n = strtoll(id, &end, 10);
    if (*end || n <= 0) {
        http_respond_problem(req, 404, "not_found", NULL);
        return;
    }
    req->ctx = req; /* marks "one session by id": an unknown id is 404 */
    revoke(req, http_int_param(req, n));
}

static void on_sessions(http_request_t *req, PGresult *res)
{
    json_t *j = result_json(req, res);
    if (!j)
        return;
    json_t *cursor = json_is_true(json_object_get(j, "more"))
                         ? json_sprintf("%lld", (long long)json_integer_value(json_object_get(j, "last_id")))
                         : json_null();
    json_t *out = json_pack("{s:O,s:o}", "items", json_object_get(j, "items"), "next_cursor", cursor);
    respond_json_value(req, 200, out);
    json_decref(out);
    json_decref(j);
}

static void sessions_list(http_request_t *req)
{
    const char *limit_text = http_query_get(req, "limit");
    const char *cursor = http_query_get(req, "cursor");
    long long limit = 50, after = 0;
    char *end;
    field_errors_t e;
    field_errors_init(&e, req);
    if (limit_text) {
        limit = strtoll(limit_text, &end, 10);
        if (*end || !*limit_text)
            field_errors_add(&e, "limit", "wrong_type");
        else if (limit < 1)
            field_errors_add(&e, "limit", "too_small");
        else if (limit > 200)
            field_errors_add(&e, "limit", "too_large");
    }
    if (cursor) {
        after = strtoll(cursor, &end, 10);
        if (*end || !*cursor || after < 0)
            field_errors_add(&e, "cursor", "invalid_format");
    }
    if (e.count) {
        api_respond_validation(req, &e);
        return;
    }
    const char *params[] = {http_int_param(req, req->auth.user_id), http_int_param(req, req->auth.session_id),
                             http_int_param(req, after), http_int_param(req, limit)};
    api_query(req, stmt_sessions, ARRAY_LEN(params), params, on_sessions);
}

static void accounts_register_statements(void)
{
    stmt_register = db_statement_register(
        "acc_register", "SELECT auth_register($1, $2, $3, $4, $5, $6, $7, $8, $9::date, $10, $11, $12, $13, $14)::text");
    stmt_verify = db_statement_register("acc_verify", "SELECT auth_verify_email($1, $2, $3)::text");
    stmt_send_code = db_statement_register("acc_send_code", "SELECT auth_send_code($1, $2, $3, $4, $5, $6, $7)");
    stmt_login_lookup = db_statement_register("acc_login_lookup", "SELECT auth_login_lookup($1, $2, $3, $4, $5)::text");
    stmt_login_failed = db_statement_register("acc_login_failed", "SELECT auth_login_failed($1)");
    stmt_session_open = db_statement_register("acc_session_open", "SELECT auth_session_open($1, $2, $3, $4, $5)::text");
    stmt_refresh = db_statement_register("acc_refresh", "SELECT auth_refresh($1, $2, $3)::text");
    stmt_revoke = db_statement_register("acc_revoke", "SELECT auth_revoke($1, $2, $3)::text");
    stmt_sessions = db_statement_register("acc_sessions", "SELECT auth_sessions_page($1, $2, $3, $4)::text");
    stmt_reset = db_statement_register("acc_reset", "SELECT auth_reset_password($1, $2, $3, $4)::text");
}

static const api_route_t account_routes[] = {
    {.http = {.methods = ALLOW_POST, .pattern = "/api/v1/auth/register", .handler = register_account},
     .summary = "Create an account", .status = 201, .response = "User", .body = register_fields,
     .body_count = REGISTER_FIELDS, .errors = "409"},
    {.http = {.methods = ALLOW_POST, .pattern = "/api/v1/auth/verify-email", .handler = verify_email},
     .summary = "Verify the e-mail address with the mailed code", .response = "User", .body = email_code_fields,
     .body_count = ARRAY_LEN(email_code_fields), .errors = "400 410"},
    {.http = {.methods = ALLOW_POST, .pattern = "/api/v1/auth/resend-verification", .handler = resend_verification},
     .summary = "Mail a new verification code", .status = 202, .response = "Accepted", .body = email_fields,
     .body_count = ARRAY_LEN(email_fields)},
    {.http = {.methods = ALLOW_POST, .pattern = "/api/v1/auth/login", .handler = sign_in},
     .summary = "Log in: a token pair and session cookies", .response = "TokenPair", .body = login_fields,
     .body_count = LOGIN_FIELDS, .doc = API_FORMS, .errors = "401 403 429"},
    {.http = {.methods = ALLOW_POST, .pattern = "/api/v1/auth/refresh", .handler = refresh_tokens},
     .summary = "Trade a refresh token for a new pair", .response = "TokenPair", .body = refresh_fields,
     .body_count = ARRAY_LEN(refresh_fields), .doc = API_FORMS, .errors = "401 403"},
    {.http = {.methods = ALLOW_POST, .pattern = "/api/v1/auth/logout", .handler = sign_out, .flags = ROUTE_AUTH},
     .summary = "Log out: revoke this session", .status = 204},
    {.http = {.methods = ALLOW_POST, .pattern = "/api/v1/auth/logout-all", .handler = logout_all,
              .flags = ROUTE_AUTH},
     .summary = "Revoke every session of the user", .status = 204},
    {.http = {.methods = ALLOW_GET, .pattern = "/api/v1/auth/sessions", .handler = sessions_list, .flags = ROUTE_AUTH},
     .summary = "The user's live sessions", .response = "SessionPage", .doc = API_PAGED},
    {.http = {.methods = ALLOW_DELETE, .pattern = "/api/v1/auth/sessions/{id}", .handler = session_delete,
              .flags = ROUTE_AUTH},
     .summary = "Revoke one of the user's sessions", .status = 204},
    {.http = {.methods = ALLOW_POST, .pattern = "/api/v1/auth/forgot-password", .handler = forgot_password},
     .summary = "Mail a password reset code", .status = 202, .response = "Accepted", .body = email_fields,
     .body_count = ARRAY_LEN(email_fields)},
    {.http = {.methods = ALLOW_POST, .pattern = "/api/v1/auth/reset-password", .handler = reset_password},
     .summary = "Set a new password with the mailed code", .status = 204, .body = reset_fields,
     .body_count = ARRAY_LEN(reset_fields), .errors = "400 410"},
};

const api_module_t api_accounts_module = {
    .name = "accounts", .tag = "auth", .routes = account_routes, .route_count = ARRAY_LEN(account_routes),
    .register_statements = accounts_register_statements,
};
