#ifndef HOURGLASS_ROUTER_H
#define HOURGLASS_ROUTER_H
#include "hourglass/http.h"

/* Routes are compiled once at start-up into paths (one per pattern, with a
 * handler per method) and read by every worker without locks. */
typedef struct router router_t;

#define ROUTER_MAX_SEGMENTS 16

typedef enum { ROUTER_FOUND, ROUTER_NOT_FOUND, ROUTER_METHOD_NOT_ALLOWED } router_result_t;

typedef struct router_match {
    const router_path_t *path;
    int path_id;              /* 1..count; 0 is kept for "unmatched" */
    const http_route_t *route; /* when FOUND */
    unsigned allowed;         /* methods the path answers (HEAD with GET, OPTIONS always) */
    int param_count;
    struct {
        const char *name;
        const char *value; /* points into the path given to router_match */
        size_t len;
    } params[HTTP_MAX_PARAMS];
} router_match_t;

router_t *router_new(void);
void router_free(router_t *r);
/* Returns 0, or -1 with a message for a bad pattern or a duplicate method. */
int router_add(router_t *r, const http_route_t *route, char *err, size_t errlen);
router_result_t router_match(const router_t *r, http_method_t method, const char *path, size_t len,
                             router_match_t *out);
int router_path_count(const router_t *r);
const char *router_path_pattern(const router_t *r, int path_id);
const char *router_path_pattern_of(const router_path_t *p);
/* Are the path's routes ROUTE_INTERNAL? */
int router_path_internal(const router_path_t *p);
/* "GET, HEAD, OPTIONS" for an Allow header. */
size_t router_allow_header(unsigned methods, char *out, size_t cap);
const char *http_method_name(http_method_t m);

#endif
