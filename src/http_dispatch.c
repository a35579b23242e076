/* Where a complete request meets its route: request id and language,
 * routing, CORS preflight, the route's respond filter, authentication and the
 * handler; and http_request_reprocess, which hands a request on to another
 * route on the loop's next turn (as H2O's h2o_reprocess_request). */
#include <assert.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "hourglass/log.h"
#include "hourglass/problem.h"
#include "hourglass/server.h"

#define REQUEST_ID_PREFIX_LEN 8
#define ALLOW_HEADER_MAX 96
#define PREFLIGHT_MAX_AGE "600"
#define PREFLIGHT_HEADERS "Authorization, Content-Type, Accept-Language, X-Request-Id"

static char request_id_prefix[REQUEST_ID_PREFIX_LEN + 1] = "00000000";

void http_dispatch_seed(uint32_t seed)
{
    snprintf(request_id_prefix, sizeof(request_id_prefix), "%08x", seed * 2654435761u);
}

void http_request_id_make(worker_t *w, char *out)
{
    static const char hex[] = "0123456789abcdef";
    uint64_t n = ++w->request_counter;
    char *p = out;
    memcpy(p, request_id_prefix, REQUEST_ID_PREFIX_LEN);
    p += REQUEST_ID_PREFIX_LEN;
    *p++ = '-';
    *p++ = hex[(w->id >> 4) & 15];
    *p++ = hex[w->id & 15];
    *p++ = '-';
    for (int shift = 44; shift >= 0; shift -= 4) /* twelve hex digits */
        *p++ = hex[(n >> shift) & 15];
    *p = '\0';
}

static int request_id_valid(const char *v, size_t len)
{
    if (len < 1 || len > HTTP_REQUEST_ID_MAX)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)v[i]) && (!v[i] || !strchr("-_.:", v[i])))
            return 0;
    return 1;
}

void http_dispatch_prepare(http_request_t *req)
{
    size_t len;
    const char *rid = http_header_get(req, "x-request-id", &len);
    if (rid && request_id_valid(rid, len)) {
        memcpy(req->request_id, rid, len);
        req->request_id[len] = '\0';
    } else {
        http_request_id_make(req->worker, req->request_id);
    }
    const char *al = http_header_get(req, "accept-language", &len);
    req->lang = al ? http_lang_from_accept(al, len) : LANG_EN;
    req->method_name = req->method_name ? req->method_name : "?";
}

static void respond_preflight(http_request_t *req, const char *allow)
{
    size_t olen;
    const char *origin = http_header_get(req, "origin", &olen);
    if (origin && config_origin_allowed(req->worker->cfg, origin, olen)) {
        http_header_add(req, "Access-Control-Allow-Methods", allow);
        size_t hlen;
        const char *asked = http_header_get(req, "access-control-request-headers", &hlen);
        http_header_add(req, "Access-Control-Allow-Headers",
                        asked ? arena_strndup(&req->arena, asked, hlen) : PREFLIGHT_HEADERS);
        http_header_add(req, "Access-Control-Max-Age", PREFLIGHT_MAX_AGE);
    }
    http_respond(req, 204, NULL, NULL, 0);
}

/* Once per path: when the headers are in if the body's limit depends on the
 * route, otherwise here; again after a reprocess. */
router_result_t http_dispatch_route(http_request_t *req, router_match_t **out)
{
    if (!req->match) {
        req->match = arena_alloc(&req->arena, sizeof(router_match_t));
        req->match_result = router_match(req->worker->router, req->method, req->path, req->path_len, req->match);
    }
    *out = req->match;
    return (router_result_t)req->match_result;
}

void http_dispatch(http_request_t *req)
{
    assert(req->state == REQ_RUNNING);
    router_match_t *m;
    router_result_t r = http_dispatch_route(req, &m);
    if (!req->reprocess_count) {
        if (r != ROUTER_NOT_FOUND && router_path_internal(m->path))
            r = ROUTER_NOT_FOUND; /* a client is not told that an internal path exists */
        req->route = r == ROUTER_NOT_FOUND ? NULL : m->path;
        req->route_id = r == ROUTER_NOT_FOUND ? 0 : m->path_id;
        req->log_debug = r == ROUTER_FOUND && (m->route->flags & ROUTE_LOG_DEBUG);
    }
    if (r == ROUTER_NOT_FOUND) {
        http_respond_problem(req, 404, "not_found", NULL);
        return;
    }
    for (int i = 0; i < m->param_count; i++) {
        req->params[i].name = m->params[i].name;
        req->params[i].value = arena_strndup(&req->arena, m->params[i].value, m->params[i].len);
    }
    req->param_count = m->param_count;
    if (r == ROUTER_METHOD_NOT_ALLOWED) { /* or a CORS preflight */
        char allow[ALLOW_HEADER_MAX];
        router_allow_header(m->allowed, allow, sizeof(allow));
        http_header_add(req, "Allow", allow);
        if (req->method == METHOD_OPTIONS)
            respond_preflight(req, allow);
        else
            http_respond_problem(req, 405, "method_not_allowed", NULL);
        return;
    }
    const http_route_t *route = m->route;
    req->route_data = route->data;
    if (route->filter && !req->respond_filter) /* before authentication: a 401 is reshaped too */
        req->respond_filter = route->filter;
    if ((route->flags & (ROUTE_AUTH | ROUTE_STAFF | ROUTE_ADMIN)) && req->worker->app->authenticate(req, route->flags))
        return;
    route->handler(req);
}

/* A new route, a new answer: nothing of the last route's carries over but the filter. */
static void request_run_again(http_request_t *req)
{
    req->status = 0;
    req->extra_headers = (abuf_t){0};
    req->match = NULL;
    req->param_count = 0;
    req->route_data = NULL;
    req->ctx = NULL;
    req->auth = (http_auth_t){0};
    http_dispatch(req);
}

static void on_deferred(uv_idle_t *h)
{
    worker_t *w = h->data;
    http_request_t *req = w->deferred_head;
    w->deferred_head = w->deferred_tail = NULL;
    uv_idle_stop(h);
    while (req) { /* a handler run here may hand on again: that waits for the next turn */
        http_request_t *next = req->deferred_next;
        req->deferred_next = NULL;
        req->deferred = 0;
        if (http_request_resume(req))
            request_run_again(req);
        req = next;
    }
}

void http_request_reprocess(http_request_t *req, http_method_t method, const char *path, const char *query,
                            const void *body, size_t len)
{
    assert(req->state == REQ_RUNNING && !req->deferred);
    assert(path && path[0] == '/');
    if (req->reprocess_count >= HTTP_MAX_REPROCESS) {
        log_error("request %s: handed on more than %d times, the last to %s %s; answered 500", req->request_id,
                  HTTP_MAX_REPROCESS, http_method_name(method), path);
        http_respond_problem(req, 500, "internal_error", NULL);
        return;
    }
    req->reprocess_count++;
    req->method = method;
    req->path_len = strlen(path);
    req->path = arena_strndup(&req->arena, path, req->path_len);
    req->query = arena_strdup(&req->arena, query ? query : "");
    abuf_t copy; /* body may be the request's own */
    abuf_init(&copy, &req->arena, len + 1);
    if (len)
        abuf_append(&copy, body, len);
    req->body = copy;

    worker_t *w = req->worker;
    http_request_hold(req); /* the client may leave meanwhile: the request waits for its turn */
    req->deferred = 1;
    if (w->deferred_tail)
        w->deferred_tail->deferred_next = req;
    else
        w->deferred_head = req;
    w->deferred_tail = req;
    if (!uv_is_active((uv_handle_t *)&w->deferred))
        uv_idle_start(&w->deferred, on_deferred);
}

void http_dispatch_init(worker_t *w)
{
    uv_idle_init(&w->loop, &w->deferred);
    w->deferred.data = w;
}

void http_dispatch_close(worker_t *w)
{
    on_deferred(&w->deferred);
    uv_close((uv_handle_t *)&w->deferred, NULL);
}
