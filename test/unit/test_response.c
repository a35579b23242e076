#include <stdlib.h>

#include "hourglass/server.h"
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

/* A page of a list is built in the arena: copied after the head, a 1.8 MB
 * answer held twice its size until written. Small bodies and bodies from
 * elsewhere (a database result, freed after the call) are copied. */
TEST(response_large_arena_body_is_written_in_place)
{
    static worker_t worker;
    static const char literal[] = "{\"ok\":true}";
    const size_t big = 64 * 1024;
    http_request_t *req = request_new();
    req->worker = &worker;
    char *body = arena_alloc(&req->arena, big);
    memset(body, 'x', big);
    http_respond(req, 200, "application/json", body, big);
    CHECK(req->state == REQ_RESPONDED && req->out_body == body && req->out_body_len == big);
    CHECK(req->out.len < 512 && strstr(req->out.data, "Content-Length: 65536\r\n"));
    CHECK(!strcmp(req->out.data + req->out.len - 4, "\r\n\r\n"));
    request_free(req);

    req = request_new();
    req->worker = &worker;
    http_respond(req, 200, "application/json", literal, sizeof(literal) - 1);
    CHECK(req->out_body == NULL && req->out_body_len == 0);
    CHECK(!strcmp(req->out.data + req->out.len - strlen(literal), literal));
    request_free(req);

    req = request_new();
    req->worker = &worker;
    req->client_method = METHOD_HEAD;
    body = arena_alloc(&req->arena, big);
    http_respond(req, 200, "application/json", body, big);
    CHECK(req->out_body == NULL && strstr(req->out.data, "Content-Length: 65536\r\n"));
    request_free(req);
}
