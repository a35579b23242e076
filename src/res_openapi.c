/* A resource's part of the OpenAPI document, derived from the same
 * declaration that drives its routes and validation (res_engine.c). */
#include <stdio.h>
#include <string.h>

#include "hourglass/arena.h"
#include "hourglass/openapi.h"
#include "hourglass/resource.h"

#define DESCRIPTION_INITIAL_BYTES 256
#define SCHEMA_NAME_CHARS 96
#define FILTER_DESCRIPTION_CHARS 160

/* A field's schema: nullable unless it has a default or is required. */
static json_t *field_schema(const res_field_t *f)
{
    json_t *s = openapi_field_schema(&f->f);
    return f->def || (f->f.flags & FIELD_REQUIRED) ? s : openapi_schema_nullable(s);
}

/* The object as answered, every member always there: id, parent id, fields, times. */
static json_t *object_schema(const resource_t *res)
{
    static const body_field_t id = {.name = "id", .type = FIELD_ID}, time = {.type = FIELD_DATETIME};
    json_t *props = json_object(), *required = json_array();
    json_object_set_new(props, "id", openapi_field_schema(&id));
    if (res->parent_param)
        json_object_set_new(props, res->parent_param, openapi_field_schema(&id));
    for (size_t i = 0; i < res->field_count; i++)
        json_object_set_new(props, res->fields[i].f.name, field_schema(&res->fields[i]));
    json_object_set_new(props, "created_at", openapi_field_schema(&time));
    json_object_set_new(props, "updated_at", openapi_field_schema(&time));
    const char *name;
    json_t *v;
    json_object_foreach(props, name, v) json_array_append_new(required, json_string(name));
    return json_pack("{s:s, s:o, s:o}", "type", "object", "properties", props, "required", required);
}

/* The body of a create or PUT (required fields required), or of a PATCH (none required). */
static json_t *input_schema(const resource_t *res, int patch)
{
    json_t *props = json_object(), *required = json_array();
    for (size_t i = 0; i < res->field_count; i++) {
        const res_field_t *f = &res->fields[i];
        json_t *s = field_schema(f);
        abuf_t desc;
        abuf_init(&desc, NULL, DESCRIPTION_INITIAL_BYTES);
        if (f->def)
            abuf_printf(&desc, "Default %s. ", f->def);
        if (f->ref)
            abuf_printf(&desc, "The id of one of the %s%s (422 not_found otherwise). ", res->global ? "" : "caller's ",
                        f->ref);
        if (f->unique)
            abuf_printf(&desc, "Unique%s (409 conflict otherwise). ", res->global ? "" : " per user");
        if (f->after)
            abuf_printf(&desc, "Not before %s (422 invalid_range otherwise). ", f->after);
        if (f->doc)
            abuf_printf(&desc, "%s.", f->doc);
        if (desc.len)
            json_object_set_new(s, "description", json_string(desc.data));
        abuf_free(&desc);
        json_object_set_new(props, f->f.name, s);
        if (!patch && (f->f.flags & FIELD_REQUIRED))
            json_array_append_new(required, json_string(f->f.name));
    }
    return openapi_body_schema(props, required);
}

/* The filters of a list; paths parameters are the generator's, from the pattern. */
static json_t *list_params(const resource_t *res)
{
    static const char *const what[] = {
        [FILTER_EQ] = "equal to", [FILTER_DATE_LE] = "on or before (inclusive)",
        [FILTER_DATE_GE] = "on or after (inclusive)", [FILTER_SEARCH] = "contains, ignoring case",
        [FILTER_TIME_FROM] = "on or after this UTC day", [FILTER_TIME_TO] = "on or before this UTC day",
    };
    json_t *params = json_array();
    for (size_t i = 0; i < res->filter_count; i++) {
        const res_filter_t *f = &res->filters[i];
        body_field_t as_field = res_filter_field(f);
        char desc[FILTER_DESCRIPTION_CHARS];
        snprintf(desc, sizeof(desc), f->column2 ? "%s %s (or %s)" : "%s %s", f->column, what[f->kind], f->column2);
        json_array_append_new(params, json_pack("{s:s, s:s, s:b, s:o, s:s}", "name", f->param, "in", "query",
                                                "required", 0, "schema", openapi_field_schema(&as_field),
                                                "description", desc));
    }
    /* Paging after the filters; a module's own query parameters come after these. */
    json_array_append_new(params, openapi_ref("parameters", "Limit"));
    json_array_append_new(params, openapi_ref("parameters", "Cursor"));
    return params;
}

static void add_schemas(const resource_t *res, json_t *schemas)
{
    char name[SCHEMA_NAME_CHARS];
    json_object_set_new(schemas, res->name, object_schema(res));
    snprintf(name, sizeof(name), "%sInput", res->name);
    json_object_set_new(schemas, name, input_schema(res, 0));
    snprintf(name, sizeof(name), "%sPatch", res->name);
    json_object_set_new(schemas, name, input_schema(res, 1));
}

/* {"$ref"} to the component schema of res whose name ends in suffix ("Input"). */
static json_t *schema_ref(const resource_t *res, const char *suffix)
{
    char name[SCHEMA_NAME_CHARS];
    snprintf(name, sizeof(name), "%s%s", res->name, suffix);
    return openapi_ref("schemas", name);
}

void res_document(const api_route_t *route, http_method_t method, json_t *op, json_t *schemas)
{
    const resource_t *res = res_of_route(route);
    int item = !strcmp(route->http.pattern, res->item), kind = 0;
    while (res_route_kinds[kind].methods != HTTP_M(method) || RES_ROUTE_ON_ITEM(kind) != item)
        kind++; /* res_register made the route from one of them */
    const res_route_kind_t *o = &res_route_kinds[kind];
    if (!json_object_get(schemas, res->name))
        add_schemas(res, schemas);
    json_object_set_new(op, "operationId", json_pack("s+", o->id, res->name));
    json_object_set_new(op, "summary", json_pack("s+", o->summary, res->summary));
    json_object_set_new(op, "tags", json_pack("[s]", res->tag));
    if (kind == RES_ROUTE_LIST)
        json_object_set_new(op, "parameters", list_params(res));
    if (o->body)
        json_object_set_new(op, "requestBody", json_pack("{s:b, s:{s:{s:o}}}", "required", 1, "content",
                                                         "application/json", "schema", schema_ref(res, o->body)));
    json_t *answer = json_pack("{s:s}", "description", o->answer);
    if (o->schema)
        json_object_set_new(answer, "content",
                            json_pack("{s:{s:o}}", "application/json", "schema", schema_ref(res, o->schema)));
    char status[8];
    snprintf(status, sizeof(status), "%d", o->status);
    json_object_set_new(op, "responses", json_pack("{s:o}", status, answer));
}
