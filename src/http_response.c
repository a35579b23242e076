/* Turning an answer into bytes: status line, the headers every response
 * carries, CORS, and problem documents. */
#include <assert.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "hourglass/problem.h"
#include "hourglass/server.h"

#define UINT_DIGITS_MAX 20     /* SIZE_MAX in decimal */
#define HEAD_ROOM 384           /* status line and the headers every answer carries */
#define EXTRA_HEADERS_INITIAL 256
#define HTTP_STATUS_MIN 100
#define HTTP_STATUS_MAX 599
/* From this size a body already in the request's arena is written from there:
 * a page of a list is built in the arena, and a copy would hold it twice. */
#define BODY_IN_PLACE_MIN (16 * 1024)

static void append_uint(abuf_t *b, size_t v)
{
    char tmp[UINT_DIGITS_MAX];
    size_t n = sizeof(tmp);
    do {
        tmp[--n] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    abuf_append(b, tmp + n, sizeof(tmp) - n);
}

const char *http_date_header(worker_t *w)
{
    time_t now = time(NULL);
    if (now != w->date_sec) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(w->date, sizeof(w->date), "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
        w->date_sec = now;
    }
    return w->date;
}

void http_header_add(http_request_t *req, const char *name, const char *value)
{
    if (!req->extra_headers.data)
        abuf_init(&req->extra_headers, &req->arena, EXTRA_HEADERS_INITIAL);
    abuf_puts(&req->extra_headers, name);
    abuf_append(&req->extra_headers, ": ", 2);
    /* A value never spans lines: no header injection from data we echo. */
    size_t start = req->extra_headers.len;
    abuf_puts(&req->extra_headers, value);
    for (size_t i = start; i < req->extra_headers.len; i++)
        if (req->extra_headers.data[i] == '\r' || req->extra_headers.data[i] == '\n')
            req->extra_headers.data[i] = ' ';
    abuf_append(&req->extra_headers, "\r\n", 2);
}

/* The line of the first header called name (any case) that the handler added,
 * from p on, or NULL. Every line http_header_add writes ends in CRLF. */
static char *added_header(char *p, const char *name)
{
    size_t n = strlen(name);
    for (; p && *p; p = strstr(p, "\r\n") + 2)
        if (!strncasecmp(p, name, n) && p[n] == ':')
            return p;
    return NULL;
}

void http_header_remove(http_request_t *req, const char *name)
{
    abuf_t *b = &req->extra_headers;
    for (char *p = b->data; (p = added_header(p, name));) {
        size_t line = (size_t)(strstr(p, "\r\n") + 2 - p);
        memmove(p, p + line, (size_t)(b->data + b->len - p - line) + 1); /* and the NUL */
        b->len -= line;
    }
}

static void append_cors(http_request_t *req, abuf_t *b)
{
    size_t olen;
    const char *origin = http_header_get(req, "origin", &olen);
    if (!origin || !config_origin_allowed(req->worker->cfg, origin, olen))
        return;
    abuf_puts(b, "Access-Control-Allow-Origin: ");
    abuf_append(b, origin, olen);
    abuf_puts(b, "\r\nAccess-Control-Allow-Credentials: true\r\nVary: Origin\r\n");
    if (req->client_method != METHOD_OPTIONS)
        abuf_puts(b, "Access-Control-Expose-Headers: Location, X-Request-Id, Retry-After, ETag\r\n");
}

void http_respond(http_request_t *req, int status, const char *content_type, const void *body, size_t len)
{
    if (req->state != REQ_RUNNING)
        return; /* answered already (a 504 raced the database) */
    if (req->respond_filter) {
        http_respond_filter_fn filter = req->respond_filter;
        req->respond_filter = NULL;
        filter(req, &status, &content_type, &body, &len);
        assert(status >= HTTP_STATUS_MIN && status <= HTTP_STATUS_MAX); /* a filter only reshapes */
    }
    req->status = status;
    int bodyless = status == 204 || status == 304 || status < 200;
    int with_body = !bodyless && req->client_method != METHOD_HEAD && len;
    int in_place = with_body && len >= BODY_IN_PLACE_MIN && arena_owns(&req->arena, body, len);
    abuf_t *b = &req->out;
    abuf_init(b, &req->arena, HEAD_ROOM + (in_place ? 0 : len) + req->extra_headers.len);
    abuf_puts(b, "HTTP/1.1 ");
    append_uint(b, (size_t)status);
    abuf_append(b, " ", 1);
    abuf_puts(b, http_status_reason(status));
    abuf_puts(b, "\r\nServer: hourglass\r\n");
    abuf_puts(b, http_date_header(req->worker));
    if (content_type && !bodyless) {
        abuf_puts(b, "Content-Type: ");
        abuf_puts(b, content_type);
        abuf_append(b, "\r\n", 2);
    }
    if (status != 204 && status >= 200 && !req->stream) {
        abuf_puts(b, "Content-Length: ");
        append_uint(b, bodyless ? 0 : len);
        abuf_append(b, "\r\n", 2);
    }
    if (req->close_after || !req->keep_alive) {
        req->close_after = 1;
        abuf_puts(b, "Connection: close\r\n");
    } else if (req->http_minor == 0) {
        abuf_puts(b, "Connection: keep-alive\r\n");
    }
    abuf_puts(b, "X-Request-Id: ");
    abuf_puts(b, req->request_id);
    abuf_append(b, "\r\n", 2);
    append_cors(req, b);
    if (req->extra_headers.len)
        abuf_append(b, req->extra_headers.data, req->extra_headers.len);
    abuf_append(b, "\r\n", 2);
    if (in_place) {
        req->out_body = body;
        req->out_body_len = len;
    } else if (with_body) {
        abuf_append(b, body, len);
    }
    req->state = REQ_RESPONDED;
    if (req->ops)
        req->ops->responded(req);
}

void http_respond_json(http_request_t *req, int status, const char *json, size_t len)
{
    http_respond(req, status, "application/json; charset=utf-8", json, len);
}

void http_respond_text(http_request_t *req, int status, const char *text)
{
    http_respond(req, status, "text/plain; charset=utf-8", text, strlen(text));
}

void http_respond_problem(http_request_t *req, int status, const char *code, const char *detail)
{
    if (req->state != REQ_RUNNING)
        return;
    if (!detail)
        detail = problem_detail(code, req->lang);
    if (status == 503 && !added_header(req->extra_headers.data, "Retry-After"))
        http_header_add(req, "Retry-After", "1");
    size_t len;
    char *body = problem_render(&req->arena, status, code, detail, NULL, &len);
    http_respond(req, status, "application/problem+json", body, len);
}

const char *http_path_id(http_request_t *req, const char *name)
{
    long long id = http_parse_id(http_param(req, name));
    if (!id) { /* ids that cannot exist are simply not found */
        http_respond_problem(req, 404, "not_found", NULL);
        return NULL;
    }
    return http_int_param(req, id);
}
