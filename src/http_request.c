/* Reading a request, and keeping it alive while it waits. */
#define _GNU_SOURCE /* strchrnul */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hourglass/forms.h"
#include "hourglass/http_parser.h"
#include "hourglass/log.h"
#include "hourglass/server.h"

const char *http_header_get(const http_request_t *req, const char *name, size_t *len)
{
    for (int i = 0; i < req->header_count; i++) {
        const http_header_t *h = &req->headers[i];
        if (http_text_is(h->name, h->name_len, name)) {
            if (len)
                *len = h->value_len;
            return h->value;
        }
    }
    return NULL;
}

const char *http_cookie_get(http_request_t *req, const char *name)
{
    size_t len = 0, nlen = strlen(name);
    const char *v = http_header_get(req, "cookie", &len);
    if (!v) /* no header: len is unset and v + len would be undefined */
        return NULL;
    const char *end = v + len;
    while (v < end) {
        while (v < end && (*v == ' ' || *v == ';'))
            v++;
        const char *semi = memchr(v, ';', (size_t)(end - v));
        const char *vend = semi ? semi : end;
        const char *eq = memchr(v, '=', (size_t)(vend - v));
        if (!eq) { /* a pair without '=' (browsers send them) hides none after it */
            v = vend;
            continue;
        }
        if ((size_t)(eq - v) == nlen && !memcmp(v, name, nlen)) {
            const char *val = eq + 1;
            if (vend - val >= 2 && *val == '"' && vend[-1] == '"') {
                val++;
                vend--;
            }
            return arena_strndup(&req->arena, val, (size_t)(vend - val));
        }
        v = vend;
    }
    return NULL;
}

int http_content_type_is(const http_request_t *req, const char *type)
{
    size_t len, n = strlen(type);
    const char *ct = http_header_get(req, "content-type", &len);
    return ct && len >= n && !strncasecmp(ct, type, n) && (len == n || ct[n] == ';' || ct[n] == ' ');
}

const char *http_int_param(http_request_t *req, long long v) { return arena_printf(&req->arena, "%lld", v); }

const char *http_lang_code(const http_request_t *req) { return req->lang == LANG_RU ? "ru" : "en"; }

const char *http_param(const http_request_t *req, const char *name)
{
    for (int i = 0; i < req->param_count; i++)
        if (!strcmp(req->params[i].name, name))
            return req->params[i].value;
    return NULL;
}

const char *http_query_get(http_request_t *req, const char *name)
{
    size_t nlen = strlen(name);
    for (const char *p = req->query, *stop; *p; p = *stop ? stop + 1 : stop) {
        stop = strchrnul(p, '&');
        const char *eq = memchr(p, '=', (size_t)(stop - p));
        const char *kend = eq ? eq : stop;
        if ((size_t)(kend - p) == nlen && !memcmp(p, name, nlen)) {
            if (!eq)
                return "";
            /* A malformed escape is kept as sent: the value's own check refuses it. */
            const char *value;
            size_t vlen;
            if (form_url_decode(&req->arena, eq + 1, (size_t)(stop - eq - 1), &value, &vlen))
                value = arena_strndup(&req->arena, eq + 1, (size_t)(stop - eq - 1));
            return value;
        }
    }
    return NULL;
}

void http_request_header_set(http_request_t *req, const char *name, const char *value)
{
    int kept = 0;
    for (int i = 0; i < req->header_count; i++)
        if (!http_text_is(req->headers[i].name, req->headers[i].name_len, name))
            req->headers[kept++] = req->headers[i];
    req->header_count = kept;
    *http_request_header_next(req) = (http_header_t){arena_strdup(&req->arena, name), strlen(name),
                                                     arena_strdup(&req->arena, value), strlen(value)};
}

void http_request_hold(http_request_t *req) { req->pending++; }

void http_request_release(http_request_t *req)
{
    if (!req->conn && req->pending == 0 && req->ops)
        req->ops->release(req);
}

int http_request_resume(http_request_t *req)
{
    assert(req->pending > 0);
    req->pending--;
    if (req->conn && req->state == REQ_RUNNING)
        return 1;
    http_request_release(req);
    return 0;
}

#define ID_DIGITS_MAX 19 /* INT64_MAX has 19 */

long long http_parse_id(const char *s)
{
    if (!s || *s < '1' || *s > '9' || strlen(s) > ID_DIGITS_MAX || strspn(s, "0123456789") != strlen(s))
        return 0;
    errno = 0;
    long long v = strtoll(s, NULL, 10);
    return errno ? 0 : v;
}
