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

static const body_field_t thing_fields[] = {{"name", FIELD_STRING, FIELD_REQUIRED, 1, 20, NULL}};
static const api_route_t all_routes[] = {
    {.http = {.methods = ALLOW_GET, .pattern = "/things", .handler = handler, .flags = ROUTE_AUTH},
     .tag = "users", .summary = "List things", .response = "ThingPage", .doc = API_PAGED},
    {.http = {.methods = ALLOW_POST, .pattern = "/things", .handler = handler, .flags = ROUTE_AUTH},
     .tag = "users", .summary = "Make a thing", .status = 201, .response = "Thing", .body = thing_fields,
     .body_count = LEN(thing_fields)},
    {.http = {.methods = ALLOW_GET | ALLOW_DELETE, .pattern = "/things/{id}", .handler = handler, .flags = ROUTE_AUTH},
     .tag = "users", .summary = "One thing"},
    {.http = {.methods = ALLOW_GET, .pattern = "/open", .handler = handler},
     .tag = "users", .summary = "Open", .response = "text/plain", .doc = API_NO_DB},
};

/* The module's data file: its schema, and prose merged into one operation. */
static const char things_json[] = "{\"schemas\": {\"Thing\": {\"type\": \"object\"}},"
                                  " \"operations\": {\"POST /things\": {\"description\": \"Makes one.\"}}}";

/* Builds the document of one module "things" from routes, with the real
 * document.json and things.json as its data (NULL: none); returns
 * openapi_build's result. */
static int build(const api_route_t *routes, size_t count, const char *things, char *err, size_t errlen)
{
    const api_module_t mod = {.name = "things", .routes = routes, .route_count = count};
    const api_module_t *const mods[] = {&mod};
    embedded_file_t data[2] = {{0}};
    for (size_t i = 0; i < openapi_data_count; i++)
        if (!strcmp(openapi_data[i].name, "document.json"))
            data[0] = openapi_data[i];
    data[1] = (embedded_file_t){"things.json", things ? strlen(things) : 0, things};
    return openapi_build(mods, 1, data, things ? 2 : 1, err, errlen);
}

static int str_is(json_t *v, const char *s)
{
    const char *t = json_string_value(v);
    return t && !strcmp(t, s);
}

TEST(openapi_document_of_every_route)
{
    char err[512] = "";
    int rc = build(all_routes, LEN(all_routes), things_json, err, sizeof(err));
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
    json_t *list = json_object_get(json_object_get(paths, "/things"), "get");
    json_t *post = json_object_get(json_object_get(paths, "/things"), "post");
    json_t *open = json_object_get(json_object_get(paths, "/open"), "get");
    json_t *params = json_object_get(json_object_get(paths, "/things/{id}"), "parameters");
    json_t *schemas = json_object_get(json_object_get(doc, "components"), "schemas");
    int ok = !strncmp(json_string_value(json_object_get(doc, "openapi")), "3.1", 3) && del && post && open &&
             /* auth routes: security and 401; items: 404 and the {id} parameter; bodies: 422 */
             json_array_size(json_object_get(del, "security")) == 2 &&
             json_object_get(json_object_get(del, "responses"), "401") &&
             json_object_get(json_object_get(del, "responses"), "404") &&
             json_object_get(json_object_get(post, "responses"), "422") &&
             json_object_get(json_object_get(post, "responses"), "201") &&
             json_array_size(json_object_get(open, "security")) == 0 && json_array_size(params) == 1 &&
             /* no database: no 503, and some client error all the same */
             !json_object_get(json_object_get(open, "responses"), "503") &&
             json_object_get(json_object_get(open, "responses"), "4XX") &&
             /* who may call it, from the route flags */
             str_is(json_object_get(del, "x-hourglass-access"), "user") &&
             str_is(json_object_get(open, "x-hourglass-access"), "public") &&
             !strcmp(json_string_value(json_object_get(json_array_get(params, 0), "name")), "id") &&
             /* the data's prose, its schema, and the page of it that the list answers */
             str_is(json_object_get(post, "description"), "Makes one.") &&
             json_array_size(json_object_get(list, "parameters")) == 2 &&
             json_object_get(schemas, "Problem") && json_object_get(schemas, "Thing") &&
             json_object_get(schemas, "ThingPage") &&
             /* the tag's text comes from document.json */
             json_is_string(json_object_get(json_array_get(json_object_get(doc, "tags"), 0), "description"));
    json_decref(doc);
    openapi_free();
    CHECK(ok);
}

TEST(openapi_refuses_an_undocumented_route)
{
    char err[512] = "";
    /* DELETE /things/{id} routed, but its entry has no summary */
    api_route_t routes[LEN(all_routes)];
    memcpy(routes, all_routes, sizeof(routes));
    routes[2].summary = NULL;
    CHECK(build(routes, LEN(routes), things_json, err, sizeof(err)) == -1);
    CHECK(strstr(err, "GET /things/{id}") && strstr(err, "not documented"));
    CHECK(openapi_document(NULL, NULL) == NULL);

    /* prose for a route that nothing serves */
    static const char gone[] = "{\"schemas\": {\"Thing\": {}}, \"operations\": {\"GET /gone\": {\"description\": \"x\"}}}";
    CHECK(build(all_routes, LEN(all_routes), gone, err, sizeof(err)) == -1);
    CHECK(strstr(err, "GET /gone") && strstr(err, "not routed"));

    /* a response naming a schema nobody declares */
    CHECK(build(all_routes, LEN(all_routes), NULL, err, sizeof(err)) == -1);
    CHECK(strstr(err, "#/components/schemas/Thing"));

    /* a data file's part that is neither schemas nor operations, and broken JSON */
    CHECK(build(all_routes, LEN(all_routes), "{\"schemas\": {\"Thing\": {}}, \"operation\": {}}", err,
                sizeof(err)) == -1);
    CHECK(strstr(err, "things.json") && strstr(err, "operation"));
    CHECK(build(all_routes, LEN(all_routes), "{\"schemas\": ", err, sizeof(err)) == -1);
    CHECK(strstr(err, "things.json"));
    CHECK(build(all_routes, LEN(all_routes), "{\"operations\": {\"POST /things\": \"Makes one.\"}}", err,
                sizeof(err)) == -1);
    CHECK(strstr(err, "things.json") && strstr(err, "POST /things"));
    CHECK(build(all_routes, LEN(all_routes), "{\"schemas\": {\"Thing\": {}, \"Problem\": {}}}", err, sizeof(err)) ==
          -1);
    CHECK(strstr(err, "Problem") && strstr(err, "twice"));

    /* a tag that document.json gives no text */
    routes[2].summary = "One thing";
    routes[3].tag = "nothing like it";
    CHECK(build(routes, LEN(routes), things_json, err, sizeof(err)) == -1);
    CHECK(strstr(err, "nothing like it"));
}
