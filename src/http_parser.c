#include "hourglass/http_parser.h"

#include <string.h>
#include <strings.h>

#define HEADER_LINE_OVERHEAD 4 /* ": " and CRLF, counted against the header limit */

static http_parser_t *parser_of(llhttp_t *l) { return (http_parser_t *)l->data; }

static int refuse(http_parser_t *p, int status, const char *code)
{
    p->error_status = status;
    p->error_code = code;
    return -1;
}

void http_request_parse_init(http_request_t *req)
{
    abuf_init(&req->url, &req->arena, 128);
    abuf_init(&req->cur_field, &req->arena, 32);
    abuf_init(&req->cur_value, &req->arena, 64);
    req->body.arena = &req->arena;
    req->body.data = NULL;
    req->body.len = req->body.cap = 0;
    req->header_cap = 16;
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

static int count_head(http_parser_t *p, size_t n)
{
    p->req->head_bytes += n;
    if (p->req->head_bytes > p->limits->max_header_size)
        return refuse(p, 431, "headers_too_large");
    return 0;
}

static int on_url(llhttp_t *l, const char *at, size_t len)
{
    http_parser_t *p = parser_of(l);
    if (p->req->url.len + len > p->limits->max_url_size)
        return refuse(p, 414, "uri_too_long");
    if (count_head(p, len))
        return -1;
    abuf_append(&p->req->url, at, len);
    return 0;
}

static int on_header_field(llhttp_t *l, const char *at, size_t len)
{
    http_parser_t *p = parser_of(l);
    if (p->req->header_count >= p->limits->max_headers)
        return refuse(p, 431, "headers_too_large");
    if (count_head(p, len + (p->req->cur_field.len ? 0 : HEADER_LINE_OVERHEAD)))
        return -1;
    abuf_append(&p->req->cur_field, at, len);
    return 0;
}

static int on_header_value(llhttp_t *l, const char *at, size_t len)
{
    http_parser_t *p = parser_of(l);
    if (count_head(p, len))
        return -1;
    abuf_append(&p->req->cur_value, at, len);
    return 0;
}

static int name_is(const http_header_t *h, const char *name)
{
    size_t n = strlen(name);
    return h->name_len == n && !strncasecmp(h->name, name, n);
}

static int value_is(const http_header_t *h, const char *value)
{
    size_t n = strlen(value);
    return h->value_len == n && !strncasecmp(h->value, value, n);
}

static int on_header_value_complete(llhttp_t *l)
{
    http_parser_t *p = parser_of(l);
    http_request_t *req = p->req;
    if (req->header_count == req->header_cap) {
        http_header_t *grown = arena_alloc(&req->arena, sizeof(http_header_t) * (size_t)req->header_cap * 2);
        memcpy(grown, req->headers, sizeof(http_header_t) * (size_t)req->header_cap);
        req->headers = grown;
        req->header_cap *= 2;
    }
    http_header_t *h = &req->headers[req->header_count++];
    h->name = req->cur_field.data;
    h->name_len = req->cur_field.len;
    h->value = req->cur_value.data;
    h->value_len = req->cur_value.len;
    if (name_is(h, "host"))
        p->host_seen = 1;
    else if (name_is(h, "expect"))
        p->expect = *h;
    abuf_init(&req->cur_field, &req->arena, 32);
    abuf_init(&req->cur_value, &req->arena, 64);
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

static int on_headers_complete(llhttp_t *l)
{
    http_parser_t *p = parser_of(l);
    http_request_t *req = p->req;
    req->method = req->client_method = method_from_llhttp(llhttp_get_method(l));
    req->method_name = llhttp_method_name((llhttp_method_t)llhttp_get_method(l));
    req->http_major = llhttp_get_http_major(l);
    req->http_minor = llhttp_get_http_minor(l);

    char *q = memchr(req->url.data, '?', req->url.len);
    size_t path_len = q ? (size_t)(q - req->url.data) : req->url.len;
    req->path = arena_strndup(&req->arena, req->url.data, path_len);
    req->path_len = path_len;
    req->query = q ? q + 1 : "";

    if (req->http_major == 1 && req->http_minor >= 1 && !p->host_seen)
        return refuse(p, 400, "malformed_request");

    int has_length = (l->flags & F_CONTENT_LENGTH) != 0;
    int chunked = (l->flags & F_CHUNKED) != 0;
    req->max_body = p->limits->max_body_size;
    if ((has_length || chunked) && p->body_limit)
        req->max_body = p->body_limit(p->owner, req);
    if (has_length && l->content_length > req->max_body)
        return refuse(p, 413, "payload_too_large");
    if (has_length && l->content_length > 0)
        abuf_init(&req->body, &req->arena, (size_t)l->content_length + 1);
    else if (chunked)
        abuf_init(&req->body, &req->arena, 1024);

    if (p->expect.name && (has_length ? l->content_length > 0 : chunked)) {
        if (!value_is(&p->expect, "100-continue"))
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

static int on_message_complete(llhttp_t *l)
{
    http_parser_t *p = parser_of(l);
    p->req->keep_alive = llhttp_should_keep_alive(l) ? 1 : 0;
    if (l->upgrade)
        p->req->upgrade = 1;
    return HPE_PAUSED; /* one request at a time: the caller resumes when it is ready */
}

static llhttp_settings_t parser_settings;
static int settings_ready;

void http_parser_init(http_parser_t *p, const http_limits_t *limits,
                      http_request_t *(*new_request)(void *owner), void *owner)
{
    if (!settings_ready) { /* idempotent; first called before the workers start */
        llhttp_settings_init(&parser_settings);
        parser_settings.on_message_begin = on_message_begin;
        parser_settings.on_url = on_url;
        parser_settings.on_header_field = on_header_field;
        parser_settings.on_header_value = on_header_value;
        parser_settings.on_header_value_complete = on_header_value_complete;
        parser_settings.on_headers_complete = on_headers_complete;
        parser_settings.on_body = on_body;
        parser_settings.on_message_complete = on_message_complete;
        settings_ready = 1;
    }
    memset(p, 0, sizeof(*p));
    llhttp_init(&p->llhttp, HTTP_REQUEST, &parser_settings);
    p->llhttp.data = p;
    p->limits = limits;
    p->new_request = new_request;
    p->owner = owner;
}

http_parse_result_t http_parser_feed(http_parser_t *p, const char *data, size_t len, size_t *consumed)
{
    if (p->error_status) {
        *consumed = len;
        return HTTP_PARSE_ERROR;
    }
    llhttp_errno_t err = llhttp_execute(&p->llhttp, data, len);
    if (err == HPE_OK) {
        *consumed = len;
        return HTTP_PARSE_MORE;
    }
    if (err == HPE_PAUSED || err == HPE_PAUSED_UPGRADE) {
        const char *pos = llhttp_get_error_pos(&p->llhttp);
        *consumed = pos ? (size_t)(pos - data) : len;
        if (err == HPE_PAUSED_UPGRADE) {
            /* We speak no other protocol: answer, then close. */
            p->req->keep_alive = 0;
            p->req->upgrade = 1;
        }
        llhttp_resume(&p->llhttp);
        return HTTP_PARSE_REQUEST;
    }
    *consumed = len;
    if (!p->error_status) {
        p->error_status = 400;
        p->error_code = "malformed_request";
    }
    return HTTP_PARSE_ERROR;
}
