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

/* A body handed on in another type: the header is replaced, every copy of
 * it, whatever its case; absent, it is added; the others stay in order. */
TEST(request_header_set_replaces_every_copy)
{
    http_request_t req;
    memset(&req, 0, sizeof(req));
    arena_init(&req.arena, NULL, 0);
    http_header_t sent[] = {{"content-type", 12, "text/plain", 10},
                            {"Origin", 6, "http://a", 8},
                            {"Content-Type", 12, "text/csv", 8}};
    req.headers = sent;
    req.header_count = req.header_cap = 3;
    http_request_header_set(&req, "Content-Type", "application/json");
    CHECK(req.header_count == 2);
    CHECK_STR(req.headers[0].name, "Origin");
    CHECK(http_content_type_is(&req, "application/json"));
    size_t len;
    CHECK(http_header_get(&req, "origin", &len) && len == 8);

    http_request_t bare;
    memset(&bare, 0, sizeof(bare));
    arena_init(&bare.arena, NULL, 0);
    http_request_header_set(&bare, "Content-Type", "application/json");
    http_request_header_set(&bare, "X-Two", "2");
    CHECK(bare.header_count == 2 && http_content_type_is(&bare, "application/json"));
    CHECK_STR(http_header_get(&bare, "x-two", NULL), "2");
    arena_reset(&req.arena);
    arena_reset(&bare.arena);
}
