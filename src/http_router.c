#include "hourglass/router.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hourglass/mem.h"

typedef struct {
    char *text;   /* literal text, or the parameter name */
    size_t len;
    int is_param;
} router_segment_t;

struct router_path {
    char *pattern;
    router_segment_t segments[ROUTER_MAX_SEGMENTS];
    int segment_count;
    unsigned methods;
    unsigned internal : 1; /* its routes are ROUTE_INTERNAL */
    const http_route_t *routes[METHOD_COUNT];
};

struct router {
    router_path_t **paths;
    int count;
    int cap;
};

static const char *const method_names[METHOD_COUNT] = {
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "OTHER",
};

const char *http_method_name(http_method_t m) { return m < METHOD_COUNT ? method_names[m] : "OTHER"; }

router_t *router_new(void) { return mem_calloc(1, sizeof(router_t)); }

static void path_free(router_path_t *p)
{
    for (int s = 0; s < p->segment_count; s++)
        free(p->segments[s].text);
    free(p->pattern);
    free(p);
}

void router_free(router_t *r)
{
    if (!r)
        return;
    for (int i = 0; i < r->count; i++)
        path_free(r->paths[i]);
    free(r->paths);
    free(r);
}

/* Splits "/a/{id}/b" into segments; "/" has none. */
static int split_pattern(router_path_t *p, const char *pattern, char *err, size_t errlen)
{
    if (pattern[0] != '/') {
        snprintf(err, errlen, "route %s: must start with /", pattern);
        return -1;
    }
    const char *c = pattern + 1;
    while (*c) {
        const char *end = strchr(c, '/');
        size_t len = end ? (size_t)(end - c) : strlen(c);
        if (len == 0 || p->segment_count == ROUTER_MAX_SEGMENTS) {
            snprintf(err, errlen, "route %s: empty or too many segments", pattern);
            return -1;
        }
        router_segment_t *s = &p->segments[p->segment_count++];
        if (c[0] == '{') {
            if (len < 3 || c[len - 1] != '}') {
                snprintf(err, errlen, "route %s: bad parameter", pattern);
                return -1;
            }
            s->is_param = 1;
            s->text = mem_strndup(c + 1, len - 2);
            s->len = len - 2;
        } else {
            s->text = mem_strndup(c, len);
            s->len = len;
        }
        c += len;
        if (*c == '/')
            c++;
    }
    return 0;
}

int router_add(router_t *r, const http_route_t *route, char *err, size_t errlen)
{
    router_path_t *path = NULL;
    for (int i = 0; i < r->count; i++)
        if (!strcmp(r->paths[i]->pattern, route->pattern))
            path = r->paths[i];
    if (!path) {
        path = mem_calloc(1, sizeof(*path));
        path->pattern = mem_strdup(route->pattern);
        if (split_pattern(path, route->pattern, err, errlen)) {
            path_free(path);
            return -1;
        }
        if (r->count == r->cap) {
            r->cap = r->cap ? r->cap * 2 : 32;
            r->paths = mem_reallocarray(r->paths, (size_t)r->cap, sizeof(*r->paths));
        }
        r->paths[r->count++] = path;
        path->internal = (route->flags & ROUTE_INTERNAL) != 0;
    } else if (path->internal != ((route->flags & ROUTE_INTERNAL) != 0)) {
        snprintf(err, errlen, "route %s: internal and public methods on one path", route->pattern);
        return -1;
    }
    for (int m = 0; m < METHOD_COUNT; m++) {
        if (!(route->methods & HTTP_M(m)))
            continue;
        if (path->routes[m]) {
            snprintf(err, errlen, "route %s %s: declared twice", method_names[m], route->pattern);
            return -1;
        }
        path->routes[m] = route;
        path->methods |= HTTP_M(m);
    }
    return 0;
}

/* Compares one path to the request; on a match, returns a specificity where
 * a literal segment outranks a parameter, earlier segments counting more. */
static int match_path(const router_path_t *p, const char *const *seg, const size_t *seg_len, int n,
                      unsigned *specificity)
{
    if (p->segment_count != n)
        return 0;
    unsigned spec = 0;
    for (int i = 0; i < n; i++) {
        const router_segment_t *s = &p->segments[i];
        spec <<= 1;
        if (s->is_param)
            continue;
        if (s->len != seg_len[i] || memcmp(s->text, seg[i], s->len))
            return 0;
        spec |= 1;
    }
    *specificity = spec;
    return 1;
}

router_result_t router_match(const router_t *r, http_method_t method, const char *path, size_t len,
                             router_match_t *out)
{
    memset(out, 0, sizeof(*out));
    const char *seg[ROUTER_MAX_SEGMENTS];
    size_t seg_len[ROUTER_MAX_SEGMENTS];
    int n = 0;
    if (len == 0 || path[0] != '/')
        return ROUTER_NOT_FOUND;
    /* One trailing slash is forgiven: /api/v1/tasks/ is /api/v1/tasks. */
    if (len > 1 && path[len - 1] == '/')
        len--;
    size_t i = 1;
    while (i < len) {
        size_t start = i;
        while (i < len && path[i] != '/')
            i++;
        if (i == start || n == ROUTER_MAX_SEGMENTS)
            return ROUTER_NOT_FOUND; /* "//" or too deep */
        seg[n] = path + start;
        seg_len[n] = i - start;
        n++;
        i++;
    }

    const router_path_t *best = NULL;
    int best_id = 0;
    unsigned best_spec = 0;
    for (int k = 0; k < r->count; k++) {
        unsigned spec;
        if (match_path(r->paths[k], seg, seg_len, n, &spec) && (!best || spec > best_spec)) {
            best = r->paths[k];
            best_id = k + 1;
            best_spec = spec;
        }
    }
    if (!best)
        return ROUTER_NOT_FOUND;

    out->path = best;
    out->path_id = best_id;
    out->allowed = best->methods | HTTP_M(METHOD_OPTIONS);
    if (best->methods & HTTP_M(METHOD_GET))
        out->allowed |= HTTP_M(METHOD_HEAD);
    for (int s = 0; s < n; s++) {
        if (best->segments[s].is_param && out->param_count < HTTP_MAX_PARAMS) {
            out->params[out->param_count].name = best->segments[s].text;
            out->params[out->param_count].value = seg[s];
            out->params[out->param_count].len = seg_len[s];
            out->param_count++;
        }
    }
    http_method_t m = method;
    if (m == METHOD_HEAD && !best->routes[METHOD_HEAD])
        m = METHOD_GET;
    if (m < METHOD_OTHER && best->routes[m]) {
        out->route = best->routes[m];
        return ROUTER_FOUND;
    }
    return ROUTER_METHOD_NOT_ALLOWED;
}

int router_path_count(const router_t *r) { return r->count; }

const char *router_path_pattern_of(const router_path_t *p) { return p ? p->pattern : "unmatched"; }

const char *router_path_pattern(const router_t *r, int path_id)
{
    return router_path_pattern_of(path_id >= 1 && path_id <= r->count ? r->paths[path_id - 1] : NULL);
}

int router_path_internal(const router_path_t *p) { return p->internal; }

size_t router_allow_header(unsigned methods, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = '\0';
    for (int m = 0; m < METHOD_OTHER; m++) {
        if (!(methods & HTTP_M(m)))
            continue;
        int w = snprintf(out + n, cap - n, "%s%s", n ? ", " : "", method_names[m]);
        if (w < 0 || (size_t)w >= cap - n)
            break;
        n += (size_t)w;
    }
    return n;
}
