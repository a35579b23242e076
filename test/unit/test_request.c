/* Reading cookies and query strings (http_request.c), from what the fuzzers
 * (test/fuzz/fuzz_cookie.c, fuzz_query.c) found. */
#include "hourglass/http.h"
#include "unit.h"

static void request_with_cookie(http_request_t *req, http_header_t *h, const char *cookie)
{
    memset(req, 0, sizeof(*req));
    arena_init(&req->arena, NULL, 0);
    if (cookie) {
        *h = (http_header_t){"Cookie", 6, cookie, strlen(cookie)};
        req->headers = h;
        req->header_count = 1;
    }
}

/* fuzz_cookie: with no Cookie header the length was never set and `v + len`
 * added it to a null pointer (UBSan: applying non-zero offset to null pointer). */
TEST(request_cookie_without_header)
{
    http_request_t req;
    http_header_t h;
    request_with_cookie(&req, &h, NULL);
    CHECK(http_cookie_get(&req, "access_token") == NULL);
    CHECK(http_cookie_get(&req, "") == NULL);
    arena_reset(&req.arena);
}

TEST(request_cookie_pairs)
{
    http_request_t req;
    http_header_t h;
    request_with_cookie(&req, &h, "theme=dark; access_token=abc.def; refresh_token=\"q1\"");
    CHECK_STR(http_cookie_get(&req, "access_token"), "abc.def");
    CHECK_STR(http_cookie_get(&req, "refresh_token"), "q1");
    CHECK(http_cookie_get(&req, "theme=dark") == NULL && http_cookie_get(&req, "token") == NULL);
    arena_reset(&req.arena);
    /* a pair without '=' no longer hides the pairs after it */
    request_with_cookie(&req, &h, "flag; ;access_token=x;empty=");
    CHECK_STR(http_cookie_get(&req, "access_token"), "x");
    CHECK_STR(http_cookie_get(&req, "empty"), "");
    CHECK(http_cookie_get(&req, "flag") == NULL);
    arena_reset(&req.arena);
    request_with_cookie(&req, &h, "");
    CHECK(http_cookie_get(&req, "") == NULL);
    arena_reset(&req.arena);
}
