/* Who is asking: the access token (Bearer header or cookie), checked before a
 * route flagged ROUTE_AUTH / ROUTE_STAFF / ROUTE_ADMIN runs its handler. */
#include <string.h>
#include <strings.h>
#include <time.h>

#include "hourglass/auth.h"
#include "hourglass/http_auth.h"
#include "hourglass/revoked.h"
#include "hourglass/server.h"

static void refuse_401(http_request_t *req, const char *code)
{
    http_header_add(req, "WWW-Authenticate", "Bearer");
    http_respond_problem(req, 401, code, NULL);
}

const char *http_bearer_token(http_request_t *req)
{
    size_t len;
    const char *v = http_header_get(req, "authorization", &len);
    if (!v || len < 8 || strncasecmp(v, "Bearer ", 7))
        return NULL;
    v += 7;
    len -= 7;
    while (len && *v == ' ') {
        v++;
        len--;
    }
    return len ? arena_strndup(&req->arena, v, len) : NULL;
}

int http_unsafe_method(const http_request_t *req)
{
    return req->method != METHOD_GET && req->method != METHOD_HEAD && req->method != METHOD_OPTIONS;
}

int http_origin_allowed(http_request_t *req)
{
    size_t len;
    const char *origin = http_header_get(req, "origin", &len);
    return origin && config_origin_allowed(req->worker->cfg, origin, len);
}

static http_role_t role_from_text(const char *role)
{
    if (!strcmp(role, "admin"))
        return ROLE_ADMIN;
    if (!strcmp(role, "staff"))
        return ROLE_STAFF;
    return ROLE_USER;
}

int http_authenticate(http_request_t *req, unsigned flags)
{
    const char *token = http_bearer_token(req);
    int via_cookie = 0;
    if (!token) {
        token = http_cookie_get(req, "access_token");
        via_cookie = token != NULL;
    }
    if (!token || !*token) {
        refuse_401(req, "not_authenticated");
        return -1;
    }
    auth_claims_t claims;
    int rc = auth_access_token_verify(token, strlen(token), (int64_t)time(NULL), &claims);
    if (rc == -2) {
        refuse_401(req, "token_expired");
        return -1;
    }
    if (rc != 0) {
        refuse_401(req, "invalid_token");
        return -1;
    }
    if (revoked_contains(claims.session_id)) {
        refuse_401(req, "session_revoked");
        return -1;
    }
    /* A browser sends cookies to us from any page: unsafe requests must come
     * from our own front end. */
    if (via_cookie && http_unsafe_method(req) && !http_origin_allowed(req)) {
        http_respond_problem(req, 403, "origin_not_allowed", NULL);
        return -1;
    }
    req->auth.user_id = claims.user_id;
    req->auth.session_id = claims.session_id;
    req->auth.role = role_from_text(claims.role);
    req->auth.via_cookie = via_cookie ? 1 : 0;
    if (((flags & ROUTE_ADMIN) && req->auth.role != ROLE_ADMIN) ||
        ((flags & ROUTE_STAFF) && req->auth.role == ROLE_USER)) {
        http_respond_problem(req, 403, "forbidden", NULL);
        return -1;
    }
    return 0;
}

static void add_cookie(http_request_t *req, const char *name, const char *value, const char *path, uint64_t max_age_s,
                       int http_only)
{
    const config_t *cfg = req->worker->cfg;
    http_header_add(req, "Set-Cookie",
                    arena_printf(&req->arena, "%s=%s; Path=%s; Max-Age=%llu; SameSite=Lax%s%s", name, value, path,
                                 (unsigned long long)max_age_s, http_only ? "; HttpOnly" : "",
                                 cfg->cookie_secure ? "; Secure" : ""));
}

void http_session_cookies_set(http_request_t *req, const char *access, const char *refresh)
{
    const config_t *cfg = req->worker->cfg;
    add_cookie(req, "access_token", access, "/", cfg->access_token_ttl_ms / 1000, 1);
    add_cookie(req, "refresh_token", refresh, "/api/v1/auth", cfg->refresh_token_ttl_ms / 1000, 1);
    add_cookie(req, "logged_in", "true", "/", cfg->refresh_token_ttl_ms / 1000, 0);
}

void http_session_cookies_clear(http_request_t *req)
{
    add_cookie(req, "access_token", "", "/", 0, 1);
    add_cookie(req, "refresh_token", "", "/api/v1/auth", 0, 1);
    add_cookie(req, "logged_in", "", "/", 0, 0);
}
