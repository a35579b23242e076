#ifndef HOURGLASS_API_H
#define HOURGLASS_API_H
#include <stddef.h>

#include <jansson.h>

#include "hourglass/body.h"
#include "hourglass/http.h"
#include "hourglass/router.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* What the OpenAPI document says of a route beyond its fields (api_route_t.doc). */
#define API_PAGED 1u      /* ?limit= and ?cursor= of a list */
#define API_FORMS 2u      /* the JSON body may also come as a urlencoded or multipart form */
#define API_NO_DB 4u      /* never waits for the database: no 503 */
#define API_CACHED 8u     /* answers ETag and Cache-Control, and 304 to If-None-Match */
#define API_BODY_LIST 16u /* the JSON body is a list of objects of the body fields */

typedef struct api_route api_route_t;

/* One route, declared once: what the router takes (.http) and what the
 * OpenAPI document says of it, one entry per pattern and method set that
 * share all of it. The prose and the answers' schemas are data, in
 * docs/openapi/ (openapi.h); start-up fails on a route without a summary. */
struct api_route {
    http_route_t http;
    const char *tag;           /* NULL: its module's */
    const char *summary;
    int status;                /* the success status; 0: 200 */
    const char *response;      /* component schema of the success body ("XPage": a page of X), or a
                                  media type ("text/plain"); NULL: none */
    const body_field_t *body;  /* the JSON body's declared fields, or NULL */
    size_t body_count;
    const char *body_schema;   /* the component schema of a multipart/form-data body (uploads), or NULL */
    const body_field_t *query; /* query parameters, or NULL */
    size_t query_count;
    unsigned doc;              /* API_PAGED, API_FORMS, ... */
    const char *errors;        /* further problem statuses, e.g. "409 429" */
    /* Writes the operation from a declaration of its own (the resource
     * engine), or adds what the fields cannot say (a list inside the body). */
    void (*document)(const api_route_t *route, http_method_t method, json_t *op, json_t *schemas);
};

/* A module of endpoints: its routes and the statements it prepares. Its
 * prose and schemas, when it has some, are docs/openapi/<name>.json. */
typedef struct {
    const char *name;
    const char *tag; /* the OpenAPI tag of its routes */
    const api_route_t *routes;
    size_t route_count;
    void (*register_statements)(void);
    unsigned seed000 : 1; /* served only with COMPAT_SEED000 */
} api_module_t;

extern const api_module_t api_ops_module;
extern const api_module_t api_accounts_module;
extern const api_module_t api_users_module;
extern const api_module_t api_planning_module;
extern const api_module_t api_stats_module;
extern const api_module_t api_music_module;
extern const api_module_t api_messages_module;
extern const api_module_t api_shop_module;
extern const api_module_t api_shop_catalogue_module;
extern const api_module_t api_shop_orders_module;
extern const api_module_t api_docs_module;
extern const api_module_t api_compat_module;

/* Registers every module's statements and routes; NULL with err on a bad
 * table. compat_seed000 (COMPAT_SEED000) adds the modules marked seed000. */
router_t *routes_build(int compat_seed000, char *err, size_t errlen);

#endif
