#ifndef HOURGLASS_HTTP_PARSER_H
#define HOURGLASS_HTTP_PARSER_H
#include <llhttp.h>
#include <stddef.h>

#include "hourglass/config.h"
#include "hourglass/http.h"

/* llhttp (strict, no lenient flags) plus our limits. It stops after each
 * complete request so the caller decides when to read the next one. */
typedef struct {
    llhttp_t llhttp;
    const config_t *cfg; /* its HTTP_MAX_* limits */
    http_request_t *req; /* the request being read, NULL between requests */
    http_request_t *(*new_request)(void *owner);
    void (*headers_done)(void *owner, http_request_t *req);
    /* The body limit for this request (by its route), asked once the headers are in. */
    size_t (*body_limit)(void *owner, http_request_t *req);
    void *owner;
    int error_status;    /* answer for a refused request: 400, 413, 414, 431, 501 */
    const char *error_code;
    const char *feed_start; /* the bytes given to this call of http_parser_feed */
    unsigned fed_line_end : 1; /* the bytes fed so far end a line (and blanks) */
    /* What the headers of the request being read said, noted as they arrive. */
    unsigned host_seen : 1;
    http_header_t expect; /* name NULL: none */
} http_parser_t;

typedef enum {
    HTTP_PARSE_MORE,    /* everything consumed, the request is not complete */
    HTTP_PARSE_REQUEST, /* one request complete: p->req; `consumed` bytes were used */
    HTTP_PARSE_ERROR,   /* error_status / error_code say what to answer; then close */
} http_parse_result_t;

void http_parser_init(http_parser_t *p, const config_t *cfg, http_request_t *(*new_request)(void *owner), void *owner);
http_parse_result_t http_parser_feed(http_parser_t *p, const char *data, size_t len, size_t *consumed);

/* Fills the parsed fields of a request whose arena and buffers are ready:
 * used by the parser's callbacks and by anyone making requests by hand. */
void http_request_parse_init(http_request_t *req);
/* A new header at the end of the request's (name and value to fill in); the array grows in the arena. */
http_header_t *http_request_header_next(http_request_t *req);

#endif
