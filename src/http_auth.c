/* Where credentials travel: the Bearer header, the session cookies, and the
 * Origin that unsafe cookie-authenticated requests must carry. Checking the
 * token itself is the bridge's (api_bridge.c). */
#include <string.h>
#include <strings.h>

#include "hourglass/http_auth.h"
#include "hourglass/server.h"

#define MS_PER_S 1000
static const char bearer[] = "Bearer ";
#define BEARER_LEN (sizeof(bearer) - 1)

const char *http_bearer_token(http_request_t *req)
{
    size_t len;
    const char *v = http_header_get(req, "authorization", &len);
    if (!v || len <= BEARER_LEN || strncasecmp(v, bearer, BEARER_LEN))
        return NULL;
    v += BEARER_LEN;
    len -= BEARER_LEN;
    while (len && *v == ' ') {
        v++;
        len--;
    }
    return len ? arena_strndup(&req->arena, v, len) : NULL;
}

int http_unsafe_method(const http_request_t *req)
{
    http_method_t m = req->client_method;
    return m != METHOD_GET && m != METHOD_HEAD && m != METHOD_OPTIONS;
}

int http_origin_allowed(http_request_t *req)
{
    size_t len;
    const char *origin = http_header_get(req, "origin", &len);
    return origin && config_origin_allowed(req->worker->cfg, origin, len);
}

void http_cookie_set(http_request_t *req, const char *name, const char *value, const char *path, uint64_t max_age_s,
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
    http_cookie_set(req, "access_token", access, "/", cfg->access_token_ttl_ms / MS_PER_S, 1);
    http_cookie_set(req, "refresh_token", refresh, "/api/v1/auth", cfg->refresh_token_ttl_ms / MS_PER_S, 1);
    http_cookie_set(req, "logged_in", "true", "/", cfg->refresh_token_ttl_ms / MS_PER_S, 0);
}

void http_session_cookies_clear(http_request_t *req)
{
    http_cookie_set(req, "access_token", "", "/", 0, 1);
    http_cookie_set(req, "refresh_token", "", "/api/v1/auth", 0, 1);
    http_cookie_set(req, "logged_in", "", "/", 0, 0);
}
