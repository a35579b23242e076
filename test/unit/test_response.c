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
