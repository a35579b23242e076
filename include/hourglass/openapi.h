#ifndef HOURGLASS_OPENAPI_H
#define HOURGLASS_OPENAPI_H
#include <jansson.h>
#include <stddef.h>

#include "hourglass/api.h"
#include "hourglass/body.h"
#include "hourglass/embed.h"

/* The OpenAPI 3.1 document of every route, built once at start-up
 * (routes_build) from the modules' api_route_t entries and the data of
 * docs/openapi/, compiled in: document.json is the frame (info, the shared
 * components and problem answers, tag texts, shared fragments), and a
 * module's <name>.json holds its "schemas" and its "operations", fragments
 * keyed by "METHOD /pattern" merged into what the entries make (its
 * description, mostly). Start-up fails when a route has no summary, when
 * a fragment names no route that is served, or a reference resolves to
 * nothing; components nothing refers to are dropped. */

/* The JSON Schema of one declared field; never null (see openapi_schema_nullable). */
json_t *openapi_field_schema(const body_field_t *f);
/* Lets schema also be null (3.1 type lists; enums get null too). Returns schema. */
json_t *openapi_schema_nullable(json_t *schema);
/* A body's object of properties: unknown ones refused, required ones listed
 * when there are any. Takes both. */
json_t *openapi_body_schema(json_t *props, json_t *required);
/* An object of fields: unknown ones refused, fields without FIELD_REQUIRED
 * nullable, required ones listed unless mode is BODY_PATCH. */
json_t *openapi_fields_schema(const body_field_t *fields, size_t count, body_mode_t mode);
/* {"$ref": "#/components/<kind>/<name>"} */
json_t *openapi_ref(const char *kind, const char *name);

/* Builds and keeps the document of the modules' routes from data (usually
 * openapi_data). Returns 0, or -1 with err. */
int openapi_build(const api_module_t *const *modules, size_t count, const embedded_file_t *data, size_t data_count,
                  char *err, size_t errlen);
/* The document kept by openapi_build (JSON text) and its quoted ETag; NULL before. */
const char *openapi_document(size_t *len, const char **etag);
void openapi_free(void);

#endif
