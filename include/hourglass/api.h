#ifndef HOURGLASS_API_H
#define HOURGLASS_API_H
#include <stddef.h>

#include <jansson.h>

#include "hourglass/body.h"
#include "hourglass/http.h"
#include "hourglass/router.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* What the OpenAPI document says of a hand-written route, declared beside
 * its module's route table. One entry per (pattern, method set); the
 * generator refuses a route that no entry (or resource) describes. */
typedef struct {
    unsigned methods;          /* which of the pattern's methods this entry describes */
    const char *pattern;
    const char *tag;
    const char *summary;
    const body_field_t *body;  /* the JSON body's declared fields, or NULL */
    size_t body_count;
    const char *body_schema;   /* or the component schema of a multipart/form-data body (uploads); NULL: none */
    int status;                /* the success status */
    const char *response;      /* component name of the success body, or a media type ("text/plain"); NULL: none */
} route_doc_t;

/* A module of endpoints: its routes, the statements it prepares, and its
 * part of the OpenAPI document. */
typedef struct {
    const char *name;
    const http_route_t *routes;
    size_t route_count;
    void (*register_statements)(void);
    const route_doc_t *docs;
    size_t doc_count;
    /* Adds generated parts (paths, component schemas) to the document; NULL when all is in docs. */
    void (*openapi)(json_t *paths, json_t *schemas);
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
 * table. compat_seed000 (COMPAT_SEED000) adds seed 000's routes (api_compat.c). */
router_t *routes_build(int compat_seed000, char *err, size_t errlen);

#endif
