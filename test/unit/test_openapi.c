#include <stdlib.h>

#include "hourglass/openapi.h"
#include "unit.h"

#define LEN(a) (sizeof(a) / sizeof((a)[0]))

static void handler(http_request_t *req) { (void)req; }

static const char *const colors[] = {"red", "blue", NULL};

TEST(openapi_field_schemas)
{
    static const body_field_t fields[] = {
        {"name", FIELD_STRING, FIELD_REQUIRED, 1, 200, NULL},
        {"email", FIELD_EMAIL, 0, 0, 0, NULL},
        {"when", FIELD_DATE, 0, 0, 0, NULL},
        {"at", FIELD_DATETIME, 0, 0, 0, NULL},
        {"tone", FIELD_ENUM, 0, 0, 0, colors},
        {"color", FIELD_COLOR, 0, 0, 0, NULL},
        {"value", FIELD_INT, FIELD_REQUIRED, 0, 10, NULL},
        {"list_id", FIELD_ID, 0, 0, 0, NULL},
        {"password", FIELD_PASSWORD, FIELD_REQUIRED, 0, 0, NULL},
        {"done", FIELD_BOOL, 0, 0, 0, NULL},
    };
    json_t *s = openapi_fields_schema(fields, LEN(fields), BODY_CREATE);
    char *text = json_dumps(s, JSON_COMPACT);
    json_t *props = json_object_get(s, "properties");
    int ok = json_is_false(json_object_get(s, "additionalProperties")) &&
             json_array_size(json_object_get(s, "required")) == 3 &&
             json_integer_value(json_object_get(json_object_get(props, "name"), "minLength")) == 1 &&
             json_integer_value(json_object_get(json_object_get(props, "name"), "maxLength")) == 200 &&
             json_is_string(json_object_get(json_object_get(props, "name"), "type")) &&
             !strcmp(json_string_value(json_object_get(json_object_get(props, "email"), "format")), "email") &&
             !strcmp(json_string_value(json_object_get(json_object_get(props, "when"), "format")), "date") &&
             !strcmp(json_string_value(json_object_get(json_object_get(props, "at"), "format")), "date-time") &&
             json_array_size(json_object_get(json_object_get(props, "tone"), "enum")) == 3 &&
             !strcmp(json_string_value(json_object_get(json_object_get(props, "color"), "pattern")),
                     "^#[0-9a-fA-F]{6}$") &&
             json_integer_value(json_object_get(json_object_get(props, "value"), "minimum")) == 0 &&
             json_integer_value(json_object_get(json_object_get(props, "value"), "maximum")) == 10 &&
             json_integer_value(json_object_get(json_object_get(props, "list_id"), "minimum")) == 1 &&
             json_is_array(json_object_get(json_object_get(props, "done"), "type"));
    if (!ok)
        fprintf(stderr, "  schema: %s\n", text);
    free(text);
    json_decref(s);
    CHECK(ok);

    /* A PATCH requires nothing; nullable fields say so. */
    s = openapi_fields_schema(fields, LEN(fields), BODY_PATCH);
    ok = !json_object_get(s, "required");
    json_decref(s);
    CHECK(ok);
    body_field_t unbounded = {"n", FIELD_INT, 0, 0, 0, NULL};
    s = openapi_field_schema(&unbounded);
    ok = !json_object_get(s, "minimum") && !json_object_get(s, "maximum");
    json_decref(s);
    CHECK(ok);
}

static const http_route_t routes[] = {
    {ALLOW_GET | ALLOW_POST, "/things", handler, NULL, ROUTE_AUTH, 0},
    {ALLOW_GET | ALLOW_DELETE, "/things/{id}", handler, NULL, ROUTE_AUTH, 0},
    {ALLOW_GET, "/open", handler, NULL, 0, 0},
};
static const body_field_t thing_fields[] = {{"name", FIELD_STRING, FIELD_REQUIRED, 1, 20, NULL}};
static const route_doc_t all_docs[] = {
    {ALLOW_GET, "/things", "things", "List things", NULL, 0, NULL, 200, "Thing"},
    {ALLOW_POST, "/things", "things", "Make a thing", thing_fields, 1, NULL, 201, "Thing"},
    {ALLOW_GET | ALLOW_DELETE, "/things/{id}", "things", "One thing", NULL, 0, NULL, 200, NULL},
    {ALLOW_GET, "/open", "things", "Open", NULL, 0, NULL, 200, "text/plain"},
};

static void thing_schema(json_t *paths, json_t *schemas)
{
    (void)paths;
    json_object_set_new(schemas, "Thing", json_pack("{s:s}", "type", "object"));
}

/* Builds a router from routes and the document from docs; returns openapi_build's result. */
static int build(const route_doc_t *docs, size_t doc_count, void (*hook)(json_t *, json_t *), char *err,
                 size_t errlen)
{
    const api_module_t mod = {"things", routes, LEN(routes), NULL, docs, doc_count, hook};
    const api_module_t *const mods[] = {&mod};
    router_t *r = router_new();
    for (size_t i = 0; i < LEN(routes); i++)
        router_add(r, &routes[i], err, errlen);
    int rc = openapi_build(mods, 1, r, err, errlen);
    router_free(r);
    return rc;
}

static int str_is(json_t *v, const char *s)
{
    const char *t = json_string_value(v);
    return t && !strcmp(t, s);
}

TEST(openapi_document_of_every_route)
{
    char err[512] = "";
    int rc = build(all_docs, LEN(all_docs), thing_schema, err, sizeof(err));
    if (rc)
        fprintf(stderr, "  %s\n", err);
    CHECK(rc == 0);
    size_t len = 0;
    const char *etag = NULL;
    const char *text = openapi_document(&len, &etag);
    CHECK(text && len == strlen(text) && etag && etag[0] == '"');
    json_error_t e;
    json_t *doc = json_loads(text, 0, &e);
    CHECK(doc);
    json_t *paths = json_object_get(doc, "paths");
    json_t *del = json_object_get(json_object_get(paths, "/things/{id}"), "delete");
    json_t *post = json_object_get(json_object_get(paths, "/things"), "post");
    json_t *open = json_object_get(json_object_get(paths, "/open"), "get");
    json_t *params = json_object_get(json_object_get(paths, "/things/{id}"), "parameters");
    int ok = !strncmp(json_string_value(json_object_get(doc, "openapi")), "3.1", 3) && del && post && open &&
             /* auth routes: security and 401; items: 404 and the {id} parameter; bodies: 422 */
             json_array_size(json_object_get(del, "security")) == 2 &&
             json_object_get(json_object_get(del, "responses"), "401") &&
             json_object_get(json_object_get(del, "responses"), "404") &&
             json_object_get(json_object_get(post, "responses"), "422") &&
             json_object_get(json_object_get(post, "responses"), "201") &&
             json_array_size(json_object_get(open, "security")) == 0 && json_array_size(params) == 1 &&
             /* who may call it, from the route flags */
             str_is(json_object_get(del, "x-hourglass-access"), "user") &&
             str_is(json_object_get(open, "x-hourglass-access"), "public") &&
             !strcmp(json_string_value(json_object_get(json_array_get(params, 0), "name")), "id") &&
             json_object_get(json_object_get(json_object_get(doc, "components"), "schemas"), "Problem") &&
             json_object_get(json_object_get(json_object_get(doc, "components"), "schemas"), "Thing");
    json_decref(doc);
    openapi_free();
    CHECK(ok);
}

TEST(openapi_refuses_an_undocumented_route)
{
    char err[512] = "";
    /* DELETE /things/{id} routed but only GET described */
    static const route_doc_t docs[] = {
        {ALLOW_GET | ALLOW_POST, "/things", "things", "Things", NULL, 0, NULL, 200, NULL},
        {ALLOW_GET, "/things/{id}", "things", "One thing", NULL, 0, NULL, 200, NULL},
        {ALLOW_GET, "/open", "things", "Open", NULL, 0, NULL, 200, NULL},
    };
    CHECK(build(docs, LEN(docs), NULL, err, sizeof(err)) == -1);
    CHECK(strstr(err, "DELETE /things/{id}") && strstr(err, "not in the document"));
    CHECK(openapi_document(NULL, NULL) == NULL);

    /* and a described route that nothing serves */
    static const route_doc_t extra[] = {
        {ALLOW_GET | ALLOW_POST, "/things", "things", "Things", NULL, 0, NULL, 200, NULL},
        {ALLOW_GET | ALLOW_DELETE, "/things/{id}", "things", "One thing", NULL, 0, NULL, 200, NULL},
        {ALLOW_GET, "/open", "things", "Open", NULL, 0, NULL, 200, NULL},
        {ALLOW_GET, "/gone", "things", "Gone", NULL, 0, NULL, 200, NULL},
    };
    CHECK(build(extra, LEN(extra), NULL, err, sizeof(err)) == -1);
    CHECK(strstr(err, "/gone") && strstr(err, "no route serves it"));

    /* a response naming a schema nobody declares */
    CHECK(build(all_docs, LEN(all_docs), NULL, err, sizeof(err)) == -1);
    CHECK(strstr(err, "#/components/schemas/Thing"));
}
