/* Who is asking: the access token of a request (Bearer header or cookie)
 * checked, its session not revoked, and the caller's role against what the
 * route asks (api_auth.h). */
#include <string.h>
#include <time.h>

#include "hourglass/api_auth.h"
#include "hourglass/auth.h"
#include "hourglass/http_auth.h"
#include "hourglass/revoked.h"

void api_refuse_401(http_request_t *req, const char *code)
{
    http_header_add(req, "WWW-Authenticate", "Bearer");
    http_respond_problem(req, 401, code, NULL);
}

static http_role_t role_from_text(const char *role)
{
    if (!strcmp(role, "admin"))
        return ROLE_ADMIN;
    if (!strcmp(role, "staff"))
        return ROLE_STAFF;
    return ROLE_USER;
}

/* The caller's verified access token into req->auth: NULL, or the code of
 * the 401 (or "origin_not_allowed", a 403) that refuses it. */
static const char *token_refusal(http_request_t *req)
{
    const char *token = http_bearer_token(req);
    int via_cookie = 0;
    if (!token) {
        token = http_cookie_get(req, "access_token");
        via_cookie = token != NULL;
    }
    if (!token || !*token)
        return "not_authenticated";
    auth_claims_t claims;
    int rc = auth_access_token_verify(token, strlen(token), (int64_t)time(NULL), &claims);
    if (rc == -2)
        return "token_expired";
    if (rc != 0)
        return "invalid_token";
    if (revoked_contains(claims.session_id))
        return "session_revoked";
    /* A browser sends cookies to us from any page: unsafe requests must come
     * from our own front end. */
    if (via_cookie && http_unsafe_method(req) && !http_origin_allowed(req))
        return "origin_not_allowed";
    req->auth.user_id = claims.user_id;
    req->auth.session_id = claims.session_id;
    req->auth.expires_at = claims.exp;
    req->auth.role = role_from_text(claims.role);
    req->auth.via_cookie = via_cookie ? 1 : 0;
    return NULL;
}

int api_authenticate(http_request_t *req, unsigned flags)
{
    const char *refusal = token_refusal(req);
    if (refusal && !strcmp(refusal, "origin_not_allowed")) {
        http_respond_problem(req, 403, refusal, NULL);
        return -1;
    }
    if (refusal) {
        api_refuse_401(req, refusal);
        return -1;
    }
    if (((flags & ROUTE_ADMIN) && req->auth.role != ROLE_ADMIN) ||
        ((flags & ROUTE_STAFF) && req->auth.role == ROLE_USER)) {
        http_respond_problem(req, 403, "forbidden", NULL);
        return -1;
    }
    return 0;
}

void api_authenticate_optional(http_request_t *req)
{
    if (!req->auth.user_id && token_refusal(req))
        memset(&req->auth, 0, sizeof(req->auth));
}

int api_caller_is_staff(http_request_t *req)
{
    api_authenticate_optional(req);
    return req->auth.user_id && req->auth.role != ROLE_USER;
}
