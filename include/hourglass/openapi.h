#ifndef HOURGLASS_OPENAPI_H
#define HOURGLASS_OPENAPI_H
#include <jansson.h>
#include <stddef.h>

#include "hourglass/api.h"
#include "hourglass/body.h"
#include "hourglass/router.h"

/* The OpenAPI 3.1 document of every route, built once at start-up
 * (routes_build) from the modules' openapi hooks, then their route_doc_t
 * entries, then one pass that adds what route flags and shapes imply:
 * security, path parameters, the standard problem answers. Start-up fails
 * when a routed (pattern, method) is not in the document, or the other way.
 *
 * In a route_doc_t, `response` may also be a media type ("text/plain",
 * "image/png"), and `body_schema` names the component schema of a
 * multipart/form-data body (a hook may add other media types to it). */

/* What a hand-written route answers beyond its route_doc_t and route flags. */
#define OPENAPI_PAGED 1u  /* ?limit= and ?cursor= of a list */
#define OPENAPI_FORMS 2u  /* the body may also be a urlencoded or multipart form */
#define OPENAPI_NO_DB 4u  /* never waits for the database: no 503 */
#define OPENAPI_CACHED 8u /* answers ETag and Cache-Control, and 304 to If-None-Match */

typedef struct {
    unsigned methods;
    const char *pattern;
    unsigned flags;            /* OPENAPI_* */
    const char *errors;        /* further problem statuses, e.g. "409 429" */
    const body_field_t *query; /* query parameters, or NULL */
    size_t query_count;
    const char *description;   /* more than the summary says, or NULL */
} openapi_extra_t;

/* Adds extras to the operations they name (from a module's openapi hook). */
void openapi_add_extras(json_t *paths, const openapi_extra_t *extras, size_t count);

/* The JSON Schema of one declared field; never null (see openapi_schema_nullable). */
json_t *openapi_field_schema(const body_field_t *f);
/* Lets schema also be null (3.1 type lists; enums get null too). Returns schema. */
json_t *openapi_schema_nullable(json_t *schema);
/* An object of fields: unknown ones refused, fields without FIELD_REQUIRED
 * nullable, required ones listed unless mode is BODY_PATCH. */
json_t *openapi_fields_schema(const body_field_t *fields, size_t count, body_mode_t mode);
/* An object as answered: every field always present, null where it is not
 * FIELD_REQUIRED. Hand-written routes declare their answers so. */
json_t *openapi_object_schema(const body_field_t *fields, size_t count);
/* {"items": [<item schema>], "next_cursor": string or null}: the list envelope. */
json_t *openapi_page_schema(const char *item_schema);
/* paths[pattern], created when missing. Borrowed. */
json_t *openapi_path_item(json_t *paths, const char *pattern);

/* Builds, checks against router and keeps the document. Returns 0, or -1 with err. */
int openapi_build(const api_module_t *const *modules, size_t count, const router_t *router, char *err,
                  size_t errlen);
/* The document kept by openapi_build (JSON text) and its quoted ETag; NULL before. */
const char *openapi_document(size_t *len, const char **etag);
void openapi_free(void);

#endif
