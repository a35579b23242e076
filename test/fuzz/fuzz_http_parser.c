/* Feeds arbitrary bytes to the request parser, in pieces whose sizes come
 * from the input too, and checks what it hands back is consistent. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hourglass/http_parser.h"

typedef struct {
    http_request_t *reqs[64];
    int count;
} owner_t;

static http_request_t *new_request(void *data)
{
    owner_t *o = data;
    if (o->count == 64)
        abort(); /* the parser stops after each request; 64 means it did not */
    http_request_t *r = calloc(1, sizeof(*r));
    arena_init(&r->arena, NULL, 0);
    o->reqs[o->count++] = r;
    return r;
}

static const config_t limits = {
    .http_max_header_size = 2048, .http_max_headers = 20, .http_max_url_size = 512, .http_max_body_size = 4096};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t step = (size_t)data[0] % 17 + 1; /* split points exercise every callback boundary */
    data++;
    size--;
    owner_t o = {0};
    http_parser_t p;
    http_parser_init(&p, &limits, new_request, &o);
    size_t off = 0;
    int done = 0;
    while (off < size && !done && o.count < 60) {
        size_t len = size - off < step ? size - off : step;
        size_t used = 0;
        http_parse_result_t r = http_parser_feed(&p, (const char *)data + off, len, &used);
        if (used > len)
            abort();
        off += used;
        if (r == HTTP_PARSE_ERROR) {
            if (p.error_status != 400 && p.error_status != 413 && p.error_status != 414 && p.error_status != 431 &&
                p.error_status != 501)
                abort();
            done = 1;
        } else if (r == HTTP_PARSE_REQUEST) {
            http_request_t *req = p.req;
            if (!req || req->body.len > limits.http_max_body_size || req->url.len > limits.http_max_url_size ||
                req->header_count > limits.http_max_headers || strlen(req->path) != req->path_len ||
                req->path_len == 0)
                abort();
            (void)http_header_get(req, "host", NULL);
            (void)http_query_get(req, "q");
            p.req = NULL;
        } else if (used != len) {
            abort();
        }
    }
    for (int i = 0; i < o.count; i++) {
        arena_reset(&o.reqs[i]->arena);
        free(o.reqs[i]);
    }
    return 0;
}
