/* A resource's part of the OpenAPI document, derived from the same
 * declaration that drives its routes and validation (res_engine.c). */
#include <stdio.h>
#include <string.h>

#include "hourglass/openapi.h"
#include "hourglass/resource.h"

static json_t *ref_to(const char *fmt, const char *name)
{
    char buf[160];
    snprintf(buf, sizeof(buf), fmt, name);
    return json_pack("{s:s}", "$ref", buf);
}

static json_t *id_schema(void)
{
    static const body_field_t id = {"id", FIELD_ID, 0, 0, 0, NULL};
    return openapi_field_schema(&id);
}

/* The object as answered: id, parent id, fields (nullable unless they have a default or are required), times. */
static json_t *object_schema(const resource_t *res)
{
    json_t *props = json_object(), *required = json_array();
    json_object_set_new(props, "id", id_schema());
    json_array_append_new(required, json_string("id"));
    if (res->parent_param) {
        json_object_set_new(props, res->parent_param, id_schema());
        json_array_append_new(required, json_string(res->parent_param));
    }
    for (size_t i = 0; i < res->field_count; i++) {
        const res_field_t *f = &res->fields[i];
        json_t *s = openapi_field_schema(&f->f);
        if (!f->def && !(f->f.flags & FIELD_REQUIRED))
            openapi_schema_nullable(s);
        json_object_set_new(props, f->f.name, s);
        json_array_append_new(required, json_string(f->f.name));
    }
    json_object_set_new(props, "created_at", json_pack("{s:s, s:s}", "type", "string", "format", "date-time"));
    json_object_set_new(props, "updated_at", json_pack("{s:s, s:s}", "type", "string", "format", "date-time"));
    json_array_append_new(required, json_string("created_at"));
    json_array_append_new(required, json_string("updated_at"));
    return json_pack("{s:s, s:o, s:o}", "type", "object", "properties", props, "required", required);
}

/* The body of a create or PUT (required fields required), or of a PATCH (none required). */
static json_t *input_schema(const resource_t *res, int patch)
{
    json_t *props = json_object(), *required = json_array();
    for (size_t i = 0; i < res->field_count; i++) {
        const res_field_t *f = &res->fields[i];
        json_t *s = openapi_field_schema(&f->f);
        char desc[256] = "";
        int n = 0;
        if (f->def)
            n += snprintf(desc + n, sizeof(desc) - (size_t)n, "Default %s. ", f->def);
        if (f->ref)
            n += snprintf(desc + n, sizeof(desc) - (size_t)n, "The id of one of %s%s (422 not_found otherwise). ",
                          res->global ? "the " : "the caller's ", f->ref);
        if (f->unique)
            n += snprintf(desc + n, sizeof(desc) - (size_t)n, "Unique%s (409 conflict otherwise). ",
                          res->global ? "" : " per user");
        if (f->after)
            n += snprintf(desc + n, sizeof(desc) - (size_t)n, "Not before %s (422 invalid_range otherwise). ",
                          f->after);
        if (f->doc)
            snprintf(desc + n, sizeof(desc) - (size_t)n, "%s.", f->doc);
        if (desc[0] && n >= 0)
            json_object_set_new(s, "description", json_string(desc));
        if (!f->def && !(f->f.flags & FIELD_REQUIRED))
            openapi_schema_nullable(s);
        json_object_set_new(props, f->f.name, s);
        if (!patch && (f->f.flags & FIELD_REQUIRED))
            json_array_append_new(required, json_string(f->f.name));
    }
    json_t *schema = json_pack("{s:s, s:o, s:b}", "type", "object", "properties", props, "additionalProperties", 0);
    if (json_array_size(required))
        json_object_set_new(schema, "required", required);
    else
        json_decref(required);
    return schema;
}

/* A filter; path parameters are declared by the generator from the pattern. */
static json_t *query_param(const char *name, json_t *schema, const char *description)
{
    return json_pack("{s:s, s:s, s:b, s:o, s:s}", "name", name, "in", "query", "required", 0, "schema", schema,
                     "description", description);
}

static json_t *json_body(json_t *schema)
{
    return json_pack("{s:b, s:{s:{s:o}}}", "required", 1, "content", "application/json", "schema", schema);
}

static json_t *json_response(const char *description, json_t *schema)
{
    json_t *r = json_pack("{s:s}", "description", description);
    if (schema)
        json_object_set_new(r, "content", json_pack("{s:{s:o}}", "application/json", "schema", schema));
    return r;
}

/* One operation with its success answer; the generator adds the answers that
 * every route with a body, an id or a token can give (openapi.c). */
static json_t *operation(const resource_t *res, const char *id_prefix, const char *summary, int status,
                         json_t *success)
{
    char op_id[128], code[8];
    snprintf(op_id, sizeof(op_id), "%s%s", id_prefix, res->name);
    snprintf(code, sizeof(code), "%d", status);
    json_t *responses = json_object();
    json_object_set_new(responses, code, success);
    return json_pack("{s:s, s:s, s:[s], s:o}", "operationId", op_id, "summary", summary, "tags", res->tag,
                     "responses", responses);
}


static json_t *list_params(const resource_t *res)
{
    json_t *params = json_array();
    for (size_t i = 0; i < res->filter_count; i++) {
        const res_filter_t *f = &res->filters[i];
        body_field_t as_field = res_filter_field(f);
        static const char *const what[] = {
            [FILTER_EQ] = "equal to", [FILTER_DATE_LE] = "on or before (inclusive)",
            [FILTER_DATE_GE] = "on or after (inclusive)", [FILTER_SEARCH] = "contains, ignoring case",
            [FILTER_TIME_FROM] = "on or after this UTC day", [FILTER_TIME_TO] = "on or before this UTC day",
        };
        char desc[160];
        snprintf(desc, sizeof(desc), "%s %s%s%s", f->column, what[f->kind], f->column2 ? " (or " : "",
                 f->column2 ? f->column2 : "");
        if (f->column2)
            strncat(desc, ")", sizeof(desc) - strlen(desc) - 1);
        json_array_append_new(params, query_param(f->param, openapi_field_schema(&as_field), desc));
    }
    return params;
}

void res_openapi(const resource_t *res, json_t *paths, json_t *schemas)
{
    char name[96];
    json_object_set_new(schemas, res->name, object_schema(res));
    snprintf(name, sizeof(name), "%sInput", res->name);
    json_object_set_new(schemas, name, input_schema(res, 0));
    snprintf(name, sizeof(name), "%sPatch", res->name);
    json_object_set_new(schemas, name, input_schema(res, 1));
    snprintf(name, sizeof(name), "%sPage", res->name);
    json_object_set_new(schemas, name, openapi_page_schema(res->name));

    char summary[160];
    json_t *coll = json_object();
    snprintf(summary, sizeof(summary), "List %s", res->summary);
    json_t *list = operation(res, "list", summary, 200,
                             json_response("a page, in id order", ref_to("#/components/schemas/%sPage", res->name)));
    json_object_set_new(list, "parameters", list_params(res));
    json_object_set_new(coll, "get", list);
    snprintf(summary, sizeof(summary), "Create one of the %s", res->summary);
    json_t *create = operation(res, "create", summary, 201,
                               json_response("created; Location names it", ref_to("#/components/schemas/%s", res->name)));
    json_object_set_new(create, "requestBody", json_body(ref_to("#/components/schemas/%sInput", res->name)));
    json_object_set_new(coll, "post", create);
    json_object_set_new(paths, res->collection, coll);

    json_t *item = json_object();
    snprintf(summary, sizeof(summary), "Get one of the %s", res->summary);
    json_object_set_new(item, "get",
                        operation(res, "get", summary, 200,
                                  json_response("the object", ref_to("#/components/schemas/%s", res->name))));
    snprintf(summary, sizeof(summary), "Change the given fields of one of the %s", res->summary);
    json_t *patch = operation(res, "patch", summary, 200,
                              json_response("the object", ref_to("#/components/schemas/%s", res->name)));
    json_object_set_new(patch, "requestBody", json_body(ref_to("#/components/schemas/%sPatch", res->name)));
    json_object_set_new(item, "patch", patch);
    snprintf(summary, sizeof(summary), "Replace one of the %s", res->summary);
    json_t *put = operation(res, "replace", summary, 200,
                            json_response("the object", ref_to("#/components/schemas/%s", res->name)));
    json_object_set_new(put, "requestBody", json_body(ref_to("#/components/schemas/%sInput", res->name)));
    json_object_set_new(item, "put", put);
    snprintf(summary, sizeof(summary), "Delete one of the %s", res->summary);
    json_object_set_new(item, "delete", operation(res, "delete", summary, 204, json_response("deleted", NULL)));
    json_object_set_new(paths, res->item, item);

    /* Paging parameters are the shared ones; a unique field can clash (409). */
    int unique = 0;
    for (size_t i = 0; i < res->field_count; i++)
        unique |= res->fields[i].unique;
    const openapi_extra_t extras[] = {
        {ALLOW_GET, res->collection, OPENAPI_PAGED, NULL, NULL, 0, NULL},
        {ALLOW_POST, res->collection, 0, unique ? "409" : NULL, NULL, 0, NULL},
        {ALLOW_PATCH | ALLOW_PUT, res->item, 0, unique ? "409" : NULL, NULL, 0, NULL},
    };
    openapi_add_extras(paths, extras, sizeof(extras) / sizeof(extras[0]));
}
