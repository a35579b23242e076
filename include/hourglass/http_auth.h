#ifndef HOURGLASS_HTTP_AUTH_H
#define HOURGLASS_HTTP_AUTH_H
#include <stdint.h>

#include "hourglass/http.h"

/* The Bearer token of the Authorization header, copied, or NULL. */
const char *http_bearer_token(http_request_t *req);
/* Does the client's method write (not GET, HEAD or OPTIONS)? A request handed
 * on to another route (a GET that runs as a POST) is as safe as the client
 * sent it. */
int http_unsafe_method(const http_request_t *req);
int http_origin_allowed(http_request_t *req);
/* A Set-Cookie with SameSite=Lax, Secure by COOKIE_SECURE; max_age_s 0 clears it. */
void http_cookie_set(http_request_t *req, const char *name, const char *value, const char *path, uint64_t max_age_s,
                     int http_only);
/* The session cookies: access_token and refresh_token (HttpOnly, SameSite=Lax,
 * Secure by COOKIE_SECURE, the refresh one scoped to /api/v1/auth) and logged_in. */
void http_session_cookies_set(http_request_t *req, const char *access, const char *refresh);
void http_session_cookies_clear(http_request_t *req);

#endif
