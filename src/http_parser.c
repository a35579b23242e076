#include "hourglass/http_parser.h"

#include <string.h>
#include <strings.h>

#define HEADER_LINE_OVERHEAD 4 /* ": " and CRLF, counted against the header limit */
/* First sizes of a request's buffers; each grows in its arena as needed. */
#define URL_INITIAL 128
#define FIELD_INITIAL 32
#define VALUE_INITIAL 64
#define HEADERS_INITIAL 16
#define CHUNKED_BODY_INITIAL 1024

static http_parser_t *parser_of(llhttp_t *l) { return (http_parser_t *)l->data; }

static int refuse(http_parser_t *p, int status, const char *code)
{
    p->error_status = status;
    p->error_code = code;
    return -1;
}

void http_request_parse_init(http_request_t *req)
{
    abuf_init(&req->url, &req->arena, URL_INITIAL);
    abuf_init(&req->cur_field, &req->arena, FIELD_INITIAL);
    abuf_init(&req->cur_value, &req->arena, VALUE_INITIAL);
    req->body = (abuf_t){.arena = &req->arena};
    req->header_cap = HEADERS_INITIAL;
    req->headers = arena_alloc(&req->arena, sizeof(http_header_t) * (size_t)req->header_cap);
    req->header_count = 0;
    req->head_bytes = 0;
    req->query = "";
    req->path = "";
}

static int on_message_begin(llhttp_t *l)
{
    http_parser_t *p = parser_of(l);
    p->host_seen = 0;
    p->expect = (http_header_t){0};
    p->req = p->new_request(p->owner);
    http_request_parse_init(p->req);
    return 0;
}

/* Keeps len bytes of the head in to; counted (len and what the line adds) goes against the limit. */
static int take(http_parser_t *p, abuf_t *to, const char *at, size_t len, size_t counted)
{
    p->req->head_bytes += counted;
    if (p->req->head_bytes > p->cfg->http_max_header_size)
        return refuse(p, 431, "headers_too_large");
    abuf_append(to, at, len);
    return 0;
}

static int on_url(llhttp_t *l, const char *at, size_t len)
{
    http_parser_t *p = parser_of(l);
    if (p->req->url.len + len > p->cfg->http_max_url_size)
        return refuse(p, 414, "uri_too_long");
    return take(p, &p->req->url, at, len, len);
}

static int on_header_field(llhttp_t *l, const char *at, size_t len)
{
    http_parser_t *p = parser_of(l);
    if (p->req->header_count >= p->cfg->http_max_headers)
        return refuse(p, 431, "headers_too_large");
    return take(p, &p->req->cur_field, at, len, len + (p->req->cur_field.len ? 0 : HEADER_LINE_OVERHEAD));
}

static int is_blank(char c) { return c == ' ' || c == '\t'; }

/* A value continued on the next line (obs-fold, "X-A: a\r\n b") is refused
 * (RFC 9112 5.2): a proxy in front may join it otherwise. A value starts
 * after its name's colon and blanks, so one that starts after a line break
 * and blanks is a fold (llhttp takes the break of an empty value for blanks).
 * Back to the start of this read; before it, how the reads before ended. */
static int folded(const http_parser_t *p, const char *at)
{
    while (at > p->feed_start && is_blank(at[-1]))
        at--;
    return at > p->feed_start ? at[-1] == '\n' : p->fed_line_end;
}

/* After a read: did it end a line, perhaps with blanks after? Only blanks
 * leave what the reads before said. */
static void note_line_end(http_parser_t *p, const char *data, size_t n)
{
    while (n && is_blank(data[n - 1]))
        n--;
    if (n)
        p->fed_line_end = data[n - 1] == '\n';
}

static int on_header_value(llhttp_t *l, const char *at, size_t len)
{
    http_parser_t *p = parser_of(l);
    if (folded(p, at))
        return refuse(p, 400, "malformed_request");
    return take(p, &p->req->cur_value, at, len, len);
}

int http_text_is(const char *s, size_t len, const char *word)
{
    size_t n = strlen(word);
    return len == n && !strncasecmp(s, word, n);
}

/* Only chunked is a transfer coding we implement: any other is 501 (RFC 9112
 * 6.1), or a proxy in front and hourglass could read the body differently. */
static int codings_are_chunked(const http_header_t *h)
{
    const char *v = h->value, *end = h->value + h->value_len;
    while (v < end) {
        const char *comma = memchr(v, ',', (size_t)(end - v));
        const char *stop = comma ? comma : end;
        while (v < stop && (*v == ' ' || *v == '\t'))
            v++;
        const char *last = stop;
        while (last > v && (last[-1] == ' ' || last[-1] == '\t'))
            last--;
        if (last > v && !http_text_is(v, (size_t)(last - v), "chunked"))
            return 0;
        v = stop + 1;
    }
    return 1;
}

http_header_t *http_request_header_next(http_request_t *req)
{
    if (req->header_count == req->header_cap) { /* a request made by hand may start with none */
        int cap = req->header_cap ? req->header_cap * 2 : HEADERS_INITIAL;
        http_header_t *grown = arena_alloc(&req->arena, sizeof(http_header_t) * (size_t)cap);
        if (req->header_count)
            memcpy(grown, req->headers, sizeof(http_header_t) * (size_t)req->header_count);
        req->headers = grown;
        req->header_cap = cap;
    }
    return &req->headers[req->header_count++];
}

static int on_header_value_complete(llhttp_t *l)
{
    http_parser_t *p = parser_of(l);
    http_request_t *req = p->req;
    http_header_t *h = http_request_header_next(req);
    *h = (http_header_t){req->cur_field.data, req->cur_field.len, req->cur_value.data, req->cur_value.len};
    if (http_text_is(h->name, h->name_len, "host"))
        p->host_seen = 1;
    else if (http_text_is(h->name, h->name_len, "expect"))
        p->expect = *h;
    else if (http_text_is(h->name, h->name_len, "transfer-encoding") && !codings_are_chunked(h))
        return refuse(p, 501, "not_implemented");
    abuf_init(&req->cur_field, &req->arena, FIELD_INITIAL);
    abuf_init(&req->cur_value, &req->arena, VALUE_INITIAL);
    return 0;
}

static http_method_t method_from_llhttp(int m)
{
    switch (m) {
    case HTTP_GET: return METHOD_GET;
    case HTTP_HEAD: return METHOD_HEAD;
    case HTTP_POST: return METHOD_POST;
    case HTTP_PUT: return METHOD_PUT;
    case HTTP_PATCH: return METHOD_PATCH;
    case HTTP_DELETE: return METHOD_DELETE;
    case HTTP_OPTIONS: return METHOD_OPTIONS;
    default: return METHOD_OTHER;
    }
}

/* The scheme and authority of an absolute-form target ("http://host/health",
 * which RFC 9112 3.2.2 says a server must accept): only path and query route. */
static size_t authority_length(const char *url, size_t len)
{
    static const char *const schemes[] = {"http://", "https://"};
    for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
        size_t n = strlen(schemes[i]);
        if (len >= n && !strncasecmp(url, schemes[i], n)) {
            while (n < len && url[n] != '/' && url[n] != '?')
                n++;
            return n;
        }
    }
    return 0;
}

static int on_headers_complete(llhttp_t *l)
{
    http_parser_t *p = parser_of(l);
    http_request_t *req = p->req;
    req->method = req->client_method = method_from_llhttp(llhttp_get_method(l));
    req->method_name = llhttp_method_name((llhttp_method_t)llhttp_get_method(l));
    req->http_major = llhttp_get_http_major(l);
    req->http_minor = llhttp_get_http_minor(l);

    size_t skip = authority_length(req->url.data, req->url.len);
    const char *url = req->url.data + skip;
    size_t url_len = req->url.len - skip;
    const char *q = memchr(url, '?', url_len);
    size_t path_len = q ? (size_t)(q - url) : url_len;
    req->path = path_len ? arena_strndup(&req->arena, url, path_len) : "/";
    req->path_len = path_len ? path_len : 1;
    req->query = q ? q + 1 : "";

    if (req->http_major == 1 && req->http_minor >= 1 && !p->host_seen)
        return refuse(p, 400, "malformed_request");

    int has_length = (l->flags & F_CONTENT_LENGTH) != 0;
    int chunked = (l->flags & F_CHUNKED) != 0;
    req->max_body = p->cfg->http_max_body_size;
    if ((has_length || chunked) && p->body_limit)
        req->max_body = p->body_limit(p->owner, req);
    if (has_length && l->content_length > req->max_body)
        return refuse(p, 413, "payload_too_large");
    if (has_length && l->content_length > 0)
        abuf_init(&req->body, &req->arena, (size_t)l->content_length + 1);
    else if (chunked)
        abuf_init(&req->body, &req->arena, CHUNKED_BODY_INITIAL);

    if (p->expect.name && (has_length ? l->content_length > 0 : chunked)) {
        if (!http_text_is(p->expect.value, p->expect.value_len, "100-continue"))
            return refuse(p, 400, "malformed_request");
        req->expect_continue = 1;
    }
    if (p->headers_done)
        p->headers_done(p->owner, req);
    return 0;
}

static int on_body(llhttp_t *l, const char *at, size_t len)
{
    http_parser_t *p = parser_of(l);
    http_request_t *req = p->req;
    if (req->body.len + len > req->max_body)
        return refuse(p, 413, "payload_too_large");
    if (!req->body.data)
        abuf_init(&req->body, &req->arena, len + 1);
    abuf_append(&req->body, at, len);
    return 0;
}

/* A chunk's declared size alone may be over the limit: refused before its bytes come. */
static int on_chunk_header(llhttp_t *l)
{
    http_parser_t *p = parser_of(l);
    if (l->content_length > p->req->max_body - p->req->body.len)
        return refuse(p, 413, "payload_too_large");
    return 0;
}

static int on_message_complete(llhttp_t *l)
{
    http_parser_t *p = parser_of(l);
    p->req->keep_alive = llhttp_should_keep_alive(l) ? 1 : 0;
    if (l->upgrade) {
        /* We speak no other protocol: answer, then close. Reading on would
         * meet llhttp's upgrade pause with no request to give it to. */
        p->req->upgrade = 1;
        p->req->keep_alive = 0;
    }
    return HPE_PAUSED; /* one request at a time: the caller resumes when it is ready */
}

static const llhttp_settings_t parser_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_header_value_complete = on_header_value_complete,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_chunk_header = on_chunk_header,
    .on_message_complete = on_message_complete,
};

void http_parser_init(http_parser_t *p, const config_t *cfg, http_request_t *(*new_request)(void *owner), void *owner)
{
    memset(p, 0, sizeof(*p));
    llhttp_init(&p->llhttp, HTTP_REQUEST, &parser_settings);
    p->llhttp.data = p;
    p->cfg = cfg;
    p->new_request = new_request;
    p->owner = owner;
}

http_parse_result_t http_parser_feed(http_parser_t *p, const char *data, size_t len, size_t *consumed)
{
    if (p->error_status) {
        *consumed = len;
        return HTTP_PARSE_ERROR;
    }
    p->feed_start = data;
    llhttp_errno_t err = llhttp_execute(&p->llhttp, data, len);
    if (err == HPE_OK) {
        *consumed = len;
        note_line_end(p, data, len);
        return HTTP_PARSE_MORE;
    }
    if (err == HPE_PAUSED || err == HPE_PAUSED_UPGRADE) {
        const char *pos = llhttp_get_error_pos(&p->llhttp);
        *consumed = pos ? (size_t)(pos - data) : len;
        note_line_end(p, data, *consumed);
        if (err == HPE_PAUSED_UPGRADE) {
            /* Bytes after an upgrade request: its answer closes the connection, so
             * nothing after it is ever a request (fuzz_http_parser found this
             * path reached with no request: the one before was already taken). */
            refuse(p, 400, "malformed_request");
            return HTTP_PARSE_ERROR;
        }
        llhttp_resume(&p->llhttp);
        return HTTP_PARSE_REQUEST;
    }
    *consumed = len;
    if (!p->error_status)
        refuse(p, 400, "malformed_request");
    return HTTP_PARSE_ERROR;
}
