/* Query strings through http_query_get() and the checks every list runs on
 * them: body_page_params() (limit, cursor) and body_query_param() for the
 * filters the resource engine declares (enum, id, dates, search text). The
 * input is the text after '?'. Each accepted value obeys its check; a
 * rejected one adds exactly one error. */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hourglass/body.h"
#include "hourglass/resource.h"

static const char *const statuses[] = {"todo", "in_progress", "done", NULL};
static const res_filter_t filters[] = {
    {"status", FILTER_EQ, FIELD_ENUM, "status", NULL, statuses},
    {"list_id", FILTER_EQ, FIELD_ID, "list_id", NULL, NULL},
    {"due_before", FILTER_DATE_LE, FIELD_DATE, "due_date", NULL, NULL},
    {"from", FILTER_TIME_FROM, FIELD_DATE, "end", NULL, NULL},
    {"q", FILTER_SEARCH, FIELD_STRING, "title", "description", NULL},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    http_request_t req;
    memset(&req, 0, sizeof(req));
    arena_init(&req.arena, NULL, 0);
    req.query = arena_strndup(&req.arena, (const char *)data, size); /* stops at a NUL, as the URL would */

    const char *const plain[] = {"limit", "cursor", "v", "tz", "is_premium", "", "a=b"};
    for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
        const char *v = http_query_get(&req, plain[i]);
        if (v && strlen(v) > size)
            abort();
    }

    field_errors_t e;
    field_errors_init(&e, &req);
    long long limit, after;
    body_page_params(&req, &e, &limit, &after);
    if (e.count == 0 && (limit < 1 || limit > 200 || after < 0))
        abort();
    if (e.count > 2)
        abort();

    for (size_t i = 0; i < sizeof(filters) / sizeof(filters[0]); i++) {
        body_field_t f = res_filter_field(&filters[i]);
        int before = e.count;
        const char *v = body_query_param(&req, &f, &e);
        if (v && (e.count != before || !*v))
            abort();
        if (!v && e.count != before && e.count != before + 1)
            abort();
        if (v) {
            if (f.type == FIELD_ID && http_parse_id(v) <= 0)
                abort();
            if (f.type == FIELD_DATE && !body_valid_date(v))
                abort();
            if (f.type == FIELD_STRING && body_utf8_length(v, strlen(v)) > (size_t)f.max)
                abort();
        }
    }
    abuf_puts(&e.json, "]");
    arena_reset(&req.arena);
    return 0;
}
