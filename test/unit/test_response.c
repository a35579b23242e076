#include <stdlib.h>

#include "hourglass/http.h"
#include "unit.h"

static http_request_t *request_new(void)
{
    http_request_t *req = calloc(1, sizeof(*req));
    arena_init(&req->arena, NULL, 0);
    req->state = REQ_RUNNING;
    return req;
}

static void request_free(http_request_t *req)
{
    arena_reset(&req->arena);
    free(req);
}

TEST(response_header_remove_drops_every_line_of_the_name)
{
    http_request_t *req = request_new();
    http_header_remove(req, "Set-Cookie"); /* nothing added yet */
    http_header_add(req, "Set-Cookie", "a=1");
    http_header_add(req, "Cache-Control", "no-store");
    http_header_add(req, "set-cookie", "b=2");
    http_header_add(req, "Set-Cookie-Like", "c=3");
    http_header_remove(req, "SET-COOKIE");
    CHECK_STR(req->extra_headers.data, "Cache-Control: no-store\r\nSet-Cookie-Like: c=3\r\n");
    http_header_remove(req, "Cache-Control");
    http_header_remove(req, "Set-Cookie-Like");
    CHECK(req->extra_headers.len == 0);
    CHECK_STR(req->extra_headers.data, "");
    request_free(req);
}

static int filter_calls;

static void take_over(http_request_t *req, int *status, const char **content_type, const void **body, size_t *len)
{
    (void)req, (void)content_type, (void)body, (void)len;
    filter_calls++;
    *status = 0;
}

/* A filter that goes on to another step leaves the request unanswered. */
TEST(response_filter_may_keep_the_request_running)
{
    http_request_t *req = request_new();
    req->respond_filter = take_over;
    filter_calls = 0;
    http_respond(req, 200, "text/plain", "ok", 2);
    CHECK(filter_calls == 1);
    CHECK(req->state == REQ_RUNNING);
    CHECK(req->out.len == 0);
    CHECK(req->respond_filter == NULL); /* the next step sets it again if it wants it */
    request_free(req);
}
