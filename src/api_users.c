/* The user's own account (profile, password, e-mail, avatar), public
 * profiles and the admin's view of users. Each handler is a short chain of
 * steps (body -> password check on the thread pool -> one SQL function ->
 * answer); the SQL functions are in 0004_users.sql and answer JSON text that
 * is sent as it is. */
#include <assert.h>
#include <string.h>

#include "hourglass/bridge.h"
#include "hourglass/api.h"
#include "hourglass/app.h"
#include "hourglass/api_v1.h"
#include "hourglass/api_images.h"
#include "hourglass/http_auth.h"
#include "hourglass/auth.h"
#include "hourglass/body.h"
#include "hourglass/forms.h"
#include "hourglass/revoked.h"
#include "hourglass/server.h"

/* API.md: an avatar is at most 2 MiB (the server adds room for a multipart
 * envelope around it; see http_route_t.max_body). */
#define AVATAR_MAX_BYTES ((size_t)2 * 1024 * 1024)
#define AVATAR_CACHE_CONTROL "public, max-age=86400"

#define SEARCH_MAX_CHARS 200
#define COUNTRY_MAX_CHARS 100 /* as the field */

static int stmt_user_get, stmt_user_public, stmt_update_me, stmt_password_hash, stmt_password_failed, stmt_delete,
    stmt_set_password,
    stmt_email_change, stmt_email_confirm, stmt_avatar_set, stmt_avatar_delete, stmt_avatar_get, stmt_page,
    stmt_admin_update;

static const char *user_id_text(http_request_t *req) { return http_int_param(req, req->auth.user_id); }

/* The user a route is about: the path's {id} (NULL after answering 404 when
 * it is no id), or the caller on a /users/me route. */
static const char *target_user(http_request_t *req)
{
    return http_param(req, "id") ? http_path_id(req, "id") : user_id_text(req);
}

/* Answers the `error` column of a function's row; 1 when there was one. */
static int respond_row_error(http_request_t *req, const PGresult *res)
{
    const char *code = api_column(res, "error");
    if (!code)
        return 0;
    api_respond_account_error(req, code, api_column(res, "retry_after"));
    return 1;
}

/* A row (error, body[, revoked]): the problem, or 200 with the body. */
static void on_user_outcome(http_request_t *req, PGresult *res)
{
    if (api_found_row(req, res) || respond_row_error(req, res))
        return;
    const char *revoked = api_column(res, "revoked");
    if (revoked)
        revoked_add_array_text(revoked);
    app_events_written(req->worker, SSE_ANYONE); /* users/me events (0015_events.sql), the caller's or an admin's target's */
    int col = PQfnumber(res, "body");
    http_respond_json(req, 200, PQgetvalue(res, 0, col), (size_t)PQgetlength(res, 0, col));
}

enum { PW_CURRENT, PW_NEW }; /* password_change_fields */

/* A route that asks for the current password first (password_first): its
 * body, that password's field in it, and what follows when it matches. */
typedef struct {
    const body_field_t *fields;
    size_t count;
    int password;
    unsigned policy : 1; /* fields[PW_NEW] is a new password, checked against the policy with the body */
    void (*next)(http_request_t *req);
} password_route_t;

/* State of a request that asks for the current password first. */
typedef struct {
    body_value_t v[2];
    const char *hash; /* the stored hash it matched */
} me_ctx_t;

static void on_failure_counted(http_request_t *req, PGresult *res)
{
    if (api_found_row(req, res)) /* not counted: say so rather than a plain 403 */
        return;
    http_respond_problem(req, 403, "wrong_password", NULL);
}

static void on_password_checked(http_request_t *req, int matches)
{
    const password_route_t *route = req->route_data;
    if (!matches) {
        const char *params[] = {user_id_text(req),
                                 http_int_param(req, (long long)req->worker->cfg->login_lockout_window_ms)};
        api_query(req, stmt_password_failed, ARRAY_LEN(params), params, on_failure_counted);
        return;
    }
    route->next(req);
}

static void on_password_hash(http_request_t *req, PGresult *res)
{
    if (api_found_row(req, res) || respond_row_error(req, res))
        return;
    const password_route_t *route = req->route_data;
    me_ctx_t *c = req->ctx;
    c->hash = arena_strdup(&req->arena, api_column(res, "password_hash"));
    api_password_verify(req, c->v[route->password].text, c->hash, on_password_checked);
}

/* Reads the body, checks its password against the caller's account, then
 * runs the route's next step: 403 wrong_password otherwise, 429 while too
 * many were wrong (0008). */
static void password_first(http_request_t *req)
{
    const password_route_t *route = req->route_data;
    const config_t *cfg = req->worker->cfg;
    me_ctx_t *c = arena_calloc(&req->arena, sizeof(*c));
    assert(route->count <= ARRAY_LEN(c->v));
    field_errors_t e;
    if (api_body_read(req, route->fields, route->count, BODY_CREATE, 0, c->v, &e))
        return;
    if (route->policy)
        auth_password_policy_errors(cfg, route->fields[PW_NEW].name, c->v[PW_NEW].text, &e);
    if (e.count) {
        api_respond_validation(req, &e);
        return;
    }
    req->ctx = c;
    const char *params[] = {user_id_text(req), http_int_param(req, cfg->login_lockout_threshold),
                             http_int_param(req, (long long)cfg->login_lockout_window_ms)};
    api_query(req, stmt_password_hash, ARRAY_LEN(params), params, on_password_hash);
}

static const body_field_t password_fields[] = {{.name = "password", .type = FIELD_PASSWORD, .flags = FIELD_REQUIRED}};

/* GET /users/me, and /admin/users/{id}. */
static void user_get(http_request_t *req)
{
    const char *params[] = {target_user(req)};
    if (params[0])
        api_query(req, stmt_user_get, ARRAY_LEN(params), params, api_on_json_row);
}

static const body_field_t me_fields[] = {API_PROFILE_FIELDS};

#define PATCH_FIELDS_MAX 16

/* A PATCH of declared fields: the SQL function takes the user id, the list of
 * fields present, then every field's value in declaration order. */
static void patch_user(http_request_t *req, const body_field_t *fields, int count, int stmt)
{
    body_value_t v[PATCH_FIELDS_MAX];
    const char *id = target_user(req);
    if (!id || api_body_parse(req, fields, (size_t)count, BODY_PATCH, 0, v))
        return;
    const char *params[2 + PATCH_FIELDS_MAX] = {id, api_present_fields(req, fields, v, count)};
    for (int i = 0; i < count; i++)
        params[2 + i] = v[i].text;
    api_query(req, stmt, 2 + count, params, on_user_outcome);
}

static void me_patch(http_request_t *req)
{
    patch_user(req, me_fields, ARRAY_LEN(me_fields), stmt_update_me);
}

/* The sessions a user's deletion or new password revoked (the row's `ids`)
 * are refused here at once (other instances hear it through NOTIFY). Returns
 * -1 after answering status and code when nothing was written (no ids). */
static int sessions_revoked(http_request_t *req, PGresult *res, int status, const char *code)
{
    if (api_found_row(req, res))
        return -1;
    const char *ids = api_column(res, "ids");
    if (!ids) {
        http_respond_problem(req, status, code, NULL);
        return -1;
    }
    revoked_add_array_text(ids);
    return 0;
}

static void on_account_deleted(http_request_t *req, PGresult *res)
{
    if (sessions_revoked(req, res, 404, "not_found"))
        return;
    http_session_cookies_clear(req);
    http_respond(req, 204, NULL, NULL, 0);
}

static void delete_account(http_request_t *req)
{
    const char *params[] = {user_id_text(req)};
    api_query(req, stmt_delete, ARRAY_LEN(params), params, on_account_deleted);
}

static const password_route_t delete_me = {
    .fields = password_fields, .count = ARRAY_LEN(password_fields), .next = delete_account};

static void password_matched(http_request_t *req) { http_respond(req, 204, NULL, NULL, 0); }

static const password_route_t check_password = {
    .fields = password_fields, .count = ARRAY_LEN(password_fields), .next = password_matched};

static const body_field_t password_change_fields[] = {
    [PW_CURRENT] = {.name = "current_password", .type = FIELD_PASSWORD, .flags = FIELD_REQUIRED},
    [PW_NEW] = {.name = "new_password", .type = FIELD_PASSWORD, .flags = FIELD_REQUIRED},
};

static void on_password_set(http_request_t *req, PGresult *res)
{
    /* No ids: changed by another request since we checked it. */
    if (!sessions_revoked(req, res, 403, "wrong_password"))
        http_respond(req, 204, NULL, NULL, 0);
}

static void on_new_password_hashed(http_request_t *req, const char *hash)
{
    me_ctx_t *c = req->ctx;
    const char *params[] = {user_id_text(req), c->hash, hash, http_int_param(req, req->auth.session_id)};
    api_query(req, stmt_set_password, ARRAY_LEN(params), params, on_password_set);
}

static void hash_new_password(http_request_t *req)
{
    me_ctx_t *c = req->ctx;
    api_password_hash(req, c->v[PW_NEW].text, on_new_password_hashed);
}

static const password_route_t change_password = {
    .fields = password_change_fields, .count = ARRAY_LEN(password_change_fields), .password = PW_CURRENT, .policy = 1,
    .next = hash_new_password};

enum { E_NEW, E_PASSWORD };
static const body_field_t email_change_fields[] = {
    [E_NEW] = {.name = "new_email", .type = FIELD_EMAIL, .flags = FIELD_REQUIRED},
    [E_PASSWORD] = {.name = "password", .type = FIELD_PASSWORD, .flags = FIELD_REQUIRED},
};

static void on_email_change(http_request_t *req, PGresult *res)
{
    if (api_found_row(req, res) || respond_row_error(req, res))
        return;
    http_respond_json(req, 202, "{\"status\":\"accepted\"}", 21);
}

static void send_email_code(http_request_t *req)
{
    me_ctx_t *c = req->ctx;
    const config_t *cfg = req->worker->cfg;
    char code[AUTH_CODE_SIZE];
    auth_code_new(code);
    const char *params[] = {user_id_text(req), c->v[E_NEW].text, code, http_int_param(req, (long long)cfg->auth_code_ttl_ms),
                             http_lang_code(req), http_int_param(req, cfg->mail_quota_per_minute),
                             http_int_param(req, cfg->mail_quota_per_hour)};
    api_query(req, stmt_email_change, ARRAY_LEN(params), params, on_email_change);
}

static const password_route_t change_email = {
    .fields = email_change_fields, .count = ARRAY_LEN(email_change_fields), .password = E_PASSWORD,
    .next = send_email_code};

static const body_field_t code_fields[] = {
    {.name = "code", .type = FIELD_STRING, .flags = FIELD_REQUIRED, .min = 1, .max = 32},
};

static void email_confirm(http_request_t *req)
{
    body_value_t v[1];
    if (api_body_parse(req, code_fields, ARRAY_LEN(code_fields), BODY_CREATE, 0, v))
        return;
    const char *params[] = {user_id_text(req), v[0].text,
                            http_int_param(req, req->worker->cfg->auth_code_max_attempts)};
    api_query(req, stmt_email_confirm, ARRAY_LEN(params), params, on_user_outcome);
}

static int raw_image_type(const http_request_t *req)
{
    static const char *const types[] = {"image/png", "image/jpeg", "image/webp", "image/gif"};
    for (size_t i = 0; i < ARRAY_LEN(types); i++)
        if (http_content_type_is(req, types[i]))
            return 1;
    return 0;
}

/* The uploaded bytes: a multipart field `file` (or `photo`), or the raw body.
 * Returns 0, or -1 after answering. */
static int avatar_bytes(http_request_t *req, const char **data, size_t *len)
{
    if (http_content_type_is(req, "multipart/form-data")) {
        form_field_t *fields = NULL;
        size_t n = 0;
        if (api_multipart_fields(req, &fields, &n))
            return -1;
        const form_field_t *f = form_field_get(fields, n, "file");
        if (!f)
            f = form_field_get(fields, n, "photo");
        if (!f) {
            field_errors_t e;
            field_errors_init(&e, req);
            field_errors_add(&e, "file", "required");
            api_respond_validation(req, &e);
            return -1;
        }
        *data = f->value;
        *len = f->value_len;
        return 0;
    }
    if (raw_image_type(req)) {
        *data = req->body.data ? req->body.data : "";
        *len = req->body.len;
        return 0;
    }
    http_respond_problem(req, 415, "unsupported_media_type", NULL);
    return -1;
}

static void avatar_put(http_request_t *req)
{
    const char *data;
    size_t len;
    api_image_t img;
    if (avatar_bytes(req, &data, &len) || api_image_accept(req, data, len, AVATAR_MAX_BYTES, &img))
        return;
    const char *params[] = {user_id_text(req), img.type, img.hex, img.sha256};
    api_query(req, stmt_avatar_set, ARRAY_LEN(params), params, on_user_outcome);
}

static void on_avatar_deleted(http_request_t *req, PGresult *res)
{
    if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK) {
        api_respond_db_error(req, res);
        return;
    }
    app_events_written(req->worker, req->auth.user_id);
    http_respond(req, 204, NULL, NULL, 0);
}

/* Idempotent: 204 whether or not there was an avatar. */
static void avatar_delete(http_request_t *req)
{
    const char *params[] = {user_id_text(req)};
    api_query(req, stmt_avatar_delete, ARRAY_LEN(params), params, on_avatar_deleted);
}

static void on_avatar(http_request_t *req, PGresult *res) { api_image_respond(req, res, AVATAR_CACHE_CONTROL); }

static void avatar_get(http_request_t *req)
{
    const char *params[] = {target_user(req), api_if_none_match(req)};
    if (params[0])
        api_query(req, stmt_avatar_get, ARRAY_LEN(params), params, on_avatar);
}

/* The directory's filters; the admin's list also takes ?email=. The text
 * ones are checked as body fields are. */
enum { FILTER_Q, FILTER_COUNTRY, FILTER_PREMIUM, FILTER_EMAIL, FILTER_COUNT };
static const body_field_t user_filters[FILTER_COUNT] = {
    [FILTER_Q] = {.name = "q", .type = FIELD_STRING, .max = SEARCH_MAX_CHARS},
    [FILTER_COUNTRY] = {.name = "country", .type = FIELD_STRING, .max = COUNTRY_MAX_CHARS},
    [FILTER_PREMIUM] = {.name = "is_premium", .type = FIELD_BOOL},
    [FILTER_EMAIL] = {.name = "email", .type = FIELD_STRING, .max = BODY_EMAIL_MAX_CHARS},
};

/* GET /users (public profiles) and GET /admin/users (whole users, ?email=). */
static void users_list(http_request_t *req)
{
    int full = req->route_data != NULL;
    field_errors_t e;
    field_errors_init(&e, req);
    long long limit, after;
    body_page_params(req, &e, &limit, &after);
    const char *premium = http_query_get(req, "is_premium");
    if (premium && !*premium)
        premium = NULL;
    if (premium && strcmp(premium, "true") && strcmp(premium, "false"))
        field_errors_add(&e, "is_premium", "wrong_type");
    const char *q = body_query_param(req, &user_filters[FILTER_Q], &e);
    const char *country = body_query_param(req, &user_filters[FILTER_COUNTRY], &e);
    /* The public list knows no e-mail filter: it would let anyone probe addresses. */
    const char *email = full ? body_query_param(req, &user_filters[FILTER_EMAIL], &e) : NULL;
    if (e.count) {
        api_respond_validation(req, &e);
        return;
    }
    const char *params[] = {full ? "true" : "false", q, country, premium, email, http_int_param(req, after),
                             http_int_param(req, limit)};
    api_query(req, stmt_page, ARRAY_LEN(params), params, api_on_json_row);
}

static void user_public(http_request_t *req) { api_query_path_id(req, stmt_user_public, api_on_json_row); }

static const char *const role_choices[] = {"user", "staff", "admin", NULL};
enum { A_ROLE, A_PREMIUM, A_NAME, A_VERIFIED, A_COUNT };
/* Flags that may not be null are FIELD_REQUIRED: absent is fine in a PATCH, null is not. */
static const body_field_t admin_fields[A_COUNT] = {
    [A_ROLE] = {.name = "role", .type = FIELD_ENUM, .flags = FIELD_REQUIRED, .choices = role_choices},
    [A_PREMIUM] = {.name = "is_premium", .type = FIELD_BOOL, .flags = FIELD_REQUIRED},
    [A_NAME] = {.name = "name", .type = FIELD_STRING, .max = 200},
    [A_VERIFIED] = {.name = "email_verified", .type = FIELD_BOOL, .flags = FIELD_REQUIRED},
};

static void admin_user_patch(http_request_t *req) { patch_user(req, admin_fields, A_COUNT, stmt_admin_update); }

static void on_admin_deleted(http_request_t *req, PGresult *res)
{
    if (!sessions_revoked(req, res, 404, "not_found"))
        http_respond(req, 204, NULL, NULL, 0);
}

static void admin_user_delete(http_request_t *req) { api_query_path_id(req, stmt_delete, on_admin_deleted); }

static void users_register_statements(void)
{
    stmt_user_get = db_statement_register("usr_get", "SELECT user_json(u)::text FROM users u WHERE u.id = $1");
    stmt_user_public =
        db_statement_register("usr_public", "SELECT user_public_json(u)::text FROM users u WHERE u.id = $1");
    stmt_update_me = db_statement_register(
        "usr_update_me", "SELECT * FROM users_update_me($1, $2, $3, $4, $5, $6, $7, $8, $9::date, $10)");
    stmt_password_hash = db_statement_register("usr_password_hash", "SELECT * FROM users_password_for_check($1, $2, $3)");
    stmt_password_failed = db_statement_register("usr_password_failed", "SELECT users_password_check_failed($1, $2)");
    stmt_delete = db_statement_register("usr_delete", "SELECT users_delete($1) AS ids");
    stmt_set_password = db_statement_register("usr_set_password", "SELECT users_set_password($1, $2, $3, $4) AS ids");
    stmt_email_change =
        db_statement_register("usr_email_change", "SELECT * FROM users_email_change($1, $2, $3, $4, $5, $6, $7)");
    stmt_email_confirm = db_statement_register("usr_email_confirm", "SELECT * FROM users_email_confirm($1, $2, $3)");
    stmt_avatar_set = db_statement_register("usr_avatar_set", "SELECT * FROM users_avatar_set($1, $2, $3, $4)");
    stmt_avatar_delete = db_statement_register("usr_avatar_delete", "DELETE FROM user_avatars WHERE user_id = $1");
    stmt_avatar_get = db_statement_register("usr_avatar_get", "SELECT * FROM users_avatar_get($1, $2)");
    stmt_page = db_statement_register("usr_page", "SELECT users_page($1, $2, $3, $4::boolean, $5, $6, $7)::text");
    stmt_admin_update = db_statement_register(
        "usr_admin_update", "SELECT * FROM users_admin_update($1, $2, $3, $4::boolean, $5, $6::boolean)");
}

static const int admin_view = 1;

static const api_route_t user_routes[] = {
    {.http = {.methods = ALLOW_GET, .pattern = "/api/v1/users/me", .handler = user_get, .flags = ROUTE_AUTH},
     .summary = "The caller's account", .response = "User"},
    {.http = {.methods = ALLOW_PATCH, .pattern = "/api/v1/users/me", .handler = me_patch, .flags = ROUTE_AUTH},
     .summary = "Change the given profile fields", .response = "User", .body = me_fields,
     .body_count = ARRAY_LEN(me_fields), .errors = "409"},
    {.http = {.methods = ALLOW_DELETE, .pattern = "/api/v1/users/me", .handler = password_first, .data = &delete_me,
              .flags = ROUTE_AUTH},
     .summary = "Delete the account and everything it owns", .status = 204, .body = password_fields,
     .body_count = ARRAY_LEN(password_fields), .errors = "429"},
    {.http = {.methods = ALLOW_POST, .pattern = "/api/v1/users/me/password/check", .handler = password_first,
              .data = &check_password, .flags = ROUTE_AUTH},
     .summary = "Check the password", .status = 204, .body = password_fields, .body_count = ARRAY_LEN(password_fields),
     .errors = "429"},
    {.http = {.methods = ALLOW_PUT, .pattern = "/api/v1/users/me/password", .handler = password_first,
              .data = &change_password, .flags = ROUTE_AUTH},
     .summary = "Change the password", .status = 204, .body = password_change_fields,
     .body_count = ARRAY_LEN(password_change_fields), .errors = "429"},
    {.http = {.methods = ALLOW_POST, .pattern = "/api/v1/users/me/email", .handler = password_first,
              .data = &change_email, .flags = ROUTE_AUTH},
     .summary = "Start an e-mail change: a code goes to the new address", .status = 202, .response = "Accepted",
     .body = email_change_fields, .body_count = ARRAY_LEN(email_change_fields), .errors = "409 429"},
    {.http = {.methods = ALLOW_POST, .pattern = "/api/v1/users/me/email/confirm", .handler = email_confirm,
              .flags = ROUTE_AUTH},
     .summary = "Confirm the new e-mail address with its code", .response = "User", .body = code_fields,
     .body_count = ARRAY_LEN(code_fields), .errors = "400 409 410"},
    {.http = {.methods = ALLOW_GET, .pattern = "/api/v1/users/me/avatar", .handler = avatar_get,
              .flags = ROUTE_AUTH},
     .summary = "The caller's avatar image", .response = "image/*", .doc = API_CACHED, .errors = "404"},
    {.http = {.methods = ALLOW_PUT, .pattern = "/api/v1/users/me/avatar", .handler = avatar_put,
              .flags = ROUTE_AUTH, .max_body = AVATAR_MAX_BYTES},
     .summary = "Upload an avatar", .response = "User", .body_schema = "AvatarForm"},
    {.http = {.methods = ALLOW_DELETE, .pattern = "/api/v1/users/me/avatar", .handler = avatar_delete,
              .flags = ROUTE_AUTH},
     .summary = "Remove the avatar", .status = 204},
    {.http = {.methods = ALLOW_GET, .pattern = "/api/v1/users", .handler = users_list},
     .summary = "Search public profiles", .response = "PublicUserPage", .query = user_filters,
     .query_count = FILTER_EMAIL /* not ?email= */, .doc = API_PAGED},
    {.http = {.methods = ALLOW_GET, .pattern = "/api/v1/users/{id}", .handler = user_public},
     .summary = "A public profile", .response = "PublicUser"},
    {.http = {.methods = ALLOW_GET, .pattern = "/api/v1/users/{id}/avatar", .handler = avatar_get},
     .summary = "A user's avatar image", .response = "image/*", .doc = API_CACHED},
    {.http = {.methods = ALLOW_GET, .pattern = "/api/v1/admin/users", .handler = users_list, .data = &admin_view,
              .flags = ROUTE_ADMIN},
     .summary = "Search users, e-mails included (admin)", .response = "UserPage", .query = user_filters,
     .query_count = FILTER_COUNT, .doc = API_PAGED},
    {.http = {.methods = ALLOW_GET, .pattern = "/api/v1/admin/users/{id}", .handler = user_get,
              .flags = ROUTE_ADMIN},
     .summary = "A user (admin)", .response = "User"},
    {.http = {.methods = ALLOW_PATCH, .pattern = "/api/v1/admin/users/{id}", .handler = admin_user_patch,
              .flags = ROUTE_ADMIN},
     .summary = "Change a user's role, premium, name or verification (admin)", .response = "User", .body = admin_fields,
     .body_count = A_COUNT, .errors = "409"},
    {.http = {.methods = ALLOW_DELETE, .pattern = "/api/v1/admin/users/{id}", .handler = admin_user_delete,
              .flags = ROUTE_ADMIN},
     .summary = "Delete a user and everything they own (admin)", .status = 204},
};

const api_module_t api_users_module = {
    .name = "users", .tag = "users", .routes = user_routes, .route_count = ARRAY_LEN(user_routes),
    .register_statements = users_register_statements,
};
