/* The OpenAPI 3.1 document (openapi.h). Built with jansson once, before the
 * workers start; a request only copies the finished text. Each method of
 * each route becomes an operation from its api_route_t entry (or its
 * document hook), then its module's fragment of docs/openapi/ is merged in,
 * then what the route's flags and the operation's shape imply is added, so
 * hand-written and generated parts answer alike. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hourglass/http_etag.h"
#include "hourglass/mem.h"
#include "hourglass/openapi.h"
#include "hourglass/problem.h"
#include "hourglass_build.h"

/* Kept in the document: public, user, staff or admin, from the route's flags. */
#define ACCESS_MARK "x-hourglass-access"
#define ROUTE_ANY_AUTH (ROUTE_AUTH | ROUTE_STAFF | ROUTE_ADMIN)
/* The frame of the document; every other data file is a module's. */
#define FRAME_FILE "document.json"
#define COMPONENT_PREFIX "#/components/"
#define PAGE_SUFFIX "Page"
#define NAME_MAX_CHARS 256 /* component() reads at most 255 characters of each part */

static char *doc_text;
static size_t doc_len;
static char doc_etag[HTTP_ETAG_SIZE];

/* The methods an operation can have. OPTIONS is implied by the server, and so is
 * HEAD where a route answers GET; a route that declares HEAD itself (HEAD /health,
 * which load balancers ask) is documented like any other method. */
static const struct {
    http_method_t method;
    const char *key;
} doc_methods[] = {
    {.method = METHOD_GET, .key = "get"},     {.method = METHOD_HEAD, .key = "head"},
    {.method = METHOD_POST, .key = "post"},   {.method = METHOD_PUT, .key = "put"},
    {.method = METHOD_PATCH, .key = "patch"}, {.method = METHOD_DELETE, .key = "delete"},
};

/* What one build reads and writes. */
typedef struct {
    json_t *doc, *paths, *schemas;
    json_t *frame;      /* document.json: "problems", "tags", "shared" fragments */
    json_t *operations; /* the served modules' fragments by "METHOD /pattern"; each is taken when used */
    json_t *ids;        /* operationIds seen */
    char *err;
    size_t errlen;
} build_t;

static json_t *member(json_t *parent, const char *key, int array)
{
    json_t *v = json_object_get(parent, key);
    if (!v) {
        v = array ? json_array() : json_object();
        json_object_set_new(parent, key, v);
    }
    return v;
}

json_t *openapi_ref(const char *kind, const char *name)
{
    char buf[NAME_MAX_CHARS];
    snprintf(buf, sizeof(buf), COMPONENT_PREFIX "%s/%s", kind, name);
    return json_pack("{s:s}", "$ref", buf);
}

/* Data into the document: objects merge member by member, lists are
 * extended, anything else is replaced. */
static void merge(json_t *dst, json_t *src)
{
    const char *key;
    json_t *v;
    json_object_foreach(src, key, v) {
        json_t *have = json_object_get(dst, key);
        if (json_is_object(have) && json_is_object(v)) {
            merge(have, v);
        } else if (json_is_array(have) && json_is_array(v)) {
            json_t *copy = json_deep_copy(v);
            json_array_extend(have, copy);
            json_decref(copy);
        } else {
            json_object_set_new(dst, key, json_deep_copy(v));
        }
    }
}

/* Ids are {id} or {something_id}: say so, so clients and the UI send numbers. */
static json_t *path_param_schema(const char *name, size_t len)
{
    if ((len == 2 && !memcmp(name, "id", 2)) || (len > 3 && !memcmp(name + len - 3, "_id", 3)))
        return json_pack("{s:s, s:s, s:i}", "type", "integer", "format", "int64", "minimum", 1);
    return json_pack("{s:s}", "type", "string");
}

json_t *openapi_field_schema(const body_field_t *f)
{
    json_t *s;
    switch (f->type) {
    case FIELD_INT:
    case FIELD_BIGINT:
        s = f->type == FIELD_BIGINT ? json_pack("{s:s, s:s}", "type", "integer", "format", "int64")
                                    : json_pack("{s:s}", "type", "integer");
        /* As body.c checks: 0, 0 is unbounded; otherwise min bounds, and max when set. */
        if (f->min || f->max)
            json_object_set_new(s, "minimum", json_integer(f->min));
        if (f->max)
            json_object_set_new(s, "maximum", json_integer(f->max));
        return s;
    case FIELD_ID:
        return json_pack("{s:s, s:s, s:i}", "type", "integer", "format", "int64", "minimum", 1);
    case FIELD_BOOL:
        return json_pack("{s:s}", "type", "boolean");
    case FIELD_DATE:
        return json_pack("{s:s, s:s}", "type", "string", "format", "date");
    case FIELD_DATETIME:
        return json_pack("{s:s, s:s}", "type", "string", "format", "date-time");
    case FIELD_COLOR:
        return json_pack("{s:s, s:s}", "type", "string", "pattern", "^#[0-9a-fA-F]{6}$");
    case FIELD_EMAIL:
        return json_pack("{s:s, s:s, s:i}", "type", "string", "format", "email", "maxLength",
                         BODY_EMAIL_MAX_CHARS);
    case FIELD_ENUM: {
        json_t *choices = json_array();
        for (size_t i = 0; f->choices && f->choices[i]; i++)
            json_array_append_new(choices, json_string(f->choices[i]));
        return json_pack("{s:s, s:o}", "type", "string", "enum", choices);
    }
    case FIELD_PASSWORD:
    case FIELD_STRING:
        break;
    }
    s = json_pack("{s:s}", "type", "string");
    if (f->type == FIELD_PASSWORD)
        json_object_set_new(s, "format", json_string("password"));
    if (f->min)
        json_object_set_new(s, "minLength", json_integer(f->min));
    if (f->max)
        json_object_set_new(s, "maxLength", json_integer(f->max));
    return s;
}

json_t *openapi_schema_nullable(json_t *schema)
{
    json_t *type = json_object_get(schema, "type");
    if (json_is_string(type))
        json_object_set_new(schema, "type", json_pack("[s,s]", json_string_value(type), "null"));
    json_t *choices = json_object_get(schema, "enum");
    if (choices)
        json_array_append_new(choices, json_null());
    return schema;
}

json_t *openapi_body_schema(json_t *props, json_t *required)
{
    json_t *schema = json_pack("{s:s, s:o}", "type", "object", "properties", props);
    if (json_array_size(required))
        json_object_set_new(schema, "required", required);
    else
        json_decref(required);
    json_object_set_new(schema, "additionalProperties", json_false());
    return schema;
}

json_t *openapi_fields_schema(const body_field_t *fields, size_t count, body_mode_t mode)
{
    json_t *props = json_object(), *required = json_array();
    for (size_t i = 0; i < count; i++) {
        json_t *s = openapi_field_schema(&fields[i]);
        if (!(fields[i].flags & FIELD_REQUIRED))
            openapi_schema_nullable(s);
        json_object_set_new(props, fields[i].name, s);
        if (mode != BODY_PATCH && (fields[i].flags & FIELD_REQUIRED))
            json_array_append_new(required, json_string(fields[i].name));
    }
    return openapi_body_schema(props, required);
}

/* {"items": [<item>], "next_cursor": string or null}: the list envelope of "<item>Page". */
static json_t *page_schema(const char *item)
{
    return json_pack("{s:s, s:{s:{s:s, s:o}, s:{s:[s,s], s:s}}, s:[s,s]}", "type", "object", "properties", "items",
                     "type", "array", "items", openapi_ref("schemas", item), "next_cursor", "type", "string", "null",
                     "description", "give it as ?cursor= for the next page; null on the last", "required", "items",
                     "next_cursor");
}

/* The answers of statuses ("401 403") not answered yet: the shared one of document.json's
 * "problems" where there is one, else a plain problem answer with the status's reason. */
static void add_problems(build_t *b, json_t *responses, const char *statuses)
{
    char status[8];
    for (const char *s = statuses; s && *s; s += strspn(s, " ")) {
        size_t n = strcspn(s, " ");
        snprintf(status, sizeof(status), "%.*s", (int)n, s);
        s += n;
        if (!n || n >= sizeof(status) || json_object_get(responses, status))
            continue;
        const char *name = json_string_value(json_object_get(json_object_get(b->frame, "problems"), status));
        json_object_set_new(responses, status,
                            name ? openapi_ref("responses", name)
                                 : json_pack("{s:s, s:{s:{s:o}}}", "description", http_status_reason(atoi(status)),
                                             "content", "application/problem+json", "schema",
                                             openapi_ref("schemas", "Problem")));
    }
}

static json_t *schema_of_media(const char *type)
{
    if (!strncmp(type, "text/", 5))
        return json_pack("{s:s}", "type", "string");
    if (!strcmp(type, "application/json"))
        return json_pack("{s:s}", "type", "object");
    return json_pack("{s:s, s:s}", "type", "string", "format", "binary");
}

/* A fragment of document.json's "shared", merged into an operation. */
static void add_shared(build_t *b, json_t *op, const char *name)
{
    merge(op, json_object_get(json_object_get(b->frame, "shared"), name));
}

/* Moves key to the end of obj: jansson keeps insertion order, and readers
 * of the document (people, Swagger UI) see it in that order. */
static void move_last(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return;
    json_incref(v);
    char *name = mem_strdup(key);
    json_object_del(obj, name);
    json_object_set_new(obj, name, v);
    free(name);
}

/* getUsersByIdAvatar for GET /api/v1/users/{id}/avatar: readable and unique per route. */
static void operation_id(char *out, size_t cap, const char *method, const char *pattern)
{
    size_t n = (size_t)snprintf(out, cap, "%s", method);
    if (!strncmp(pattern, "/api/v1/", 8))
        pattern += 7;
    if (!strcmp(pattern, "/"))
        pattern = "/root";
    int upper = 1;
    for (const char *p = pattern; *p && n + 3 < cap; p++) {
        if (*p == '/' || *p == '-' || *p == '_' || *p == '.') {
            upper = 1;
        } else if (*p == '{') {
            out[n++] = 'B';
            out[n++] = 'y';
            upper = 1;
        } else if (*p == '}') {
            upper = 1;
        } else {
            out[n++] = upper && *p >= 'a' && *p <= 'z' ? (char)(*p - 'a' + 'A') : *p;
            upper = 0;
        }
    }
    out[n] = '\0';
}

/* The JSON body (and the same as forms) or an upload's multipart form; the
 * media type first in content is the one Swagger UI offers. */
static void describe_body(json_t *op, const api_route_t *r, http_method_t method)
{
    json_t *body = member(op, "requestBody", 0), *content = member(body, "content", 0);
    int patch = method == METHOD_PATCH, required = r->body_schema != NULL;
    if (r->body_schema)
        json_object_set_new(content, "multipart/form-data",
                            json_pack("{s:o}", "schema", openapi_ref("schemas", r->body_schema)));
    if (r->body) {
        json_t *schema = openapi_fields_schema(r->body, r->body_count, patch ? BODY_PATCH : BODY_CREATE);
        if (r->doc & API_BODY_LIST)
            schema = json_pack("{s:s, s:o}", "type", "array", "items", schema);
        for (size_t i = 0; i < r->body_count; i++)
            required |= !patch && (r->body[i].flags & FIELD_REQUIRED);
        json_object_set_new(content, "application/json", json_pack("{s:o}", "schema", schema));
        if (r->doc & API_FORMS) {
            json_object_set_new(content, "application/x-www-form-urlencoded",
                                json_pack("{s:o}", "schema", json_deep_copy(schema)));
            json_object_set_new(content, "multipart/form-data", json_pack("{s:o}", "schema", json_deep_copy(schema)));
        }
    }
    json_object_set_new(body, "required", json_boolean(required));
}

/* What the entry says of one of its methods. */
static void describe(build_t *b, json_t *op, const api_module_t *mod, const api_route_t *r, size_t m)
{
    char id[NAME_MAX_CHARS];
    operation_id(id, sizeof(id), doc_methods[m].key, r->http.pattern);
    json_object_set_new(op, "operationId", json_string(id));
    json_object_set_new(op, "summary", json_string(r->summary));
    json_object_set_new(op, "tags", json_pack("[s]", r->tag ? r->tag : mod->tag));
    if (r->body || r->body_schema)
        describe_body(op, r, doc_methods[m].method);
    int status = r->status ? r->status : 200;
    char code[8];
    snprintf(code, sizeof(code), "%d", status);
    json_t *ok = member(member(op, "responses", 0), code, 0);
    json_object_set_new(ok, "description", json_string(http_status_reason(status)));
    if (doc_methods[m].method == METHOD_HEAD)
        return; /* GET's headers, no body */
    if (r->response && strchr(r->response, '/'))
        json_object_set_new(ok, "content", json_pack("{s:{s:o}}", r->response, "schema", schema_of_media(r->response)));
    else if (r->response)
        json_object_set_new(ok, "content",
                            json_pack("{s:{s:o}}", "application/json", "schema", openapi_ref("schemas", r->response)));
    if (status == 201)
        add_shared(b, op, "created");
}

/* Query parameters, paging, caching and further problems: for entries and hooks alike. */
static void add_declared(build_t *b, json_t *op, const api_route_t *r)
{
    if (r->query_count || (r->doc & API_PAGED)) {
        json_t *params = member(op, "parameters", 1);
        for (size_t q = 0; q < r->query_count; q++)
            json_array_append_new(params, json_pack("{s:s, s:s, s:b, s:o}", "name", r->query[q].name, "in", "query",
                                                    "required", (r->query[q].flags & FIELD_REQUIRED) != 0, "schema",
                                                    openapi_field_schema(&r->query[q])));
        if (r->doc & API_PAGED) {
            json_array_append_new(params, openapi_ref("parameters", "Limit"));
            json_array_append_new(params, openapi_ref("parameters", "Cursor"));
        }
    }
    if (r->doc & API_CACHED)
        add_shared(b, op, "cached");
    add_problems(b, member(op, "responses", 0), r->errors);
}

static int compare_keys(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Success first, then the errors by status, whatever order they were added in. */
static void sort_responses(json_t *op)
{
    json_t *responses = json_object_get(op, "responses");
    size_t n = json_object_size(responses), i = 0;
    const char **keys = mem_calloc(n ? n : 1, sizeof(*keys));
    const char *key;
    json_t *v;
    json_object_foreach(responses, key, v) keys[i++] = key;
    qsort(keys, n, sizeof(*keys), compare_keys);
    json_t *sorted = json_object();
    for (i = 0; i < n; i++)
        json_object_set(sorted, keys[i], json_object_get(responses, keys[i]));
    free(keys);
    json_object_set_new(op, "responses", sorted);
}

/* The document's tags in the order they first appear, each with its text from document.json. */
static int add_tag(build_t *b, json_t *op, const char *route)
{
    const char *name = json_string_value(json_array_get(json_object_get(op, "tags"), 0));
    json_t *tags = member(b->doc, "tags", 1), *t;
    size_t i;
    json_array_foreach(tags, i, t) {
        if (!name || !strcmp(json_string_value(json_object_get(t, "name")), name))
            return 0;
    }
    json_t *text = json_object_get(json_object_get(b->frame, "tags"), name);
    if (!json_is_string(text)) {
        snprintf(b->err, b->errlen, "openapi: %s: tag %s has no text in docs/openapi/" FRAME_FILE, route, name);
        return -1;
    }
    json_array_append_new(tags, json_pack("{s:s, s:O}", "name", name, "description", text));
    return 0;
}

/* What the route's flags and the operation's shape imply. */
static int complete(build_t *b, json_t *op, const api_route_t *r, const char *route)
{
    json_t *responses = member(op, "responses", 0);
    int success = 0;
    const char *status;
    json_t *v;
    json_object_foreach(responses, status, v) success |= status[0] == '2';
    if (!json_object_get(op, "summary") || !success) {
        snprintf(b->err, b->errlen, "openapi: %s is routed but not documented: give its api_route_t a summary", route);
        return -1;
    }
    const char *id = json_string_value(json_object_get(op, "operationId"));
    if (!id || json_object_get(b->ids, id)) {
        snprintf(b->err, b->errlen, "openapi: %s: operationId %s missing or used twice", route, id ? id : "");
        return -1;
    }
    json_object_set_new(b->ids, id, json_true());
    if (add_tag(b, op, route))
        return -1;

    unsigned flags = r->http.flags;
    /* Said for every operation, public ones too (an empty list), so none is left to guess. */
    if (!json_object_get(op, "security"))
        json_object_set_new(op, "security", flags & ROUTE_ANY_AUTH
                                                ? json_pack("[{s:[]}, {s:[]}]", "bearerAuth", "cookieAuth")
                                                : json_array());
    /* Who may call it, from the route's flags, for clients and the access-matrix test. */
    json_object_set_new(op, ACCESS_MARK,
                        json_string(flags & ROUTE_ADMIN   ? "admin"
                                    : flags & ROUTE_STAFF ? "staff"
                                    : flags & ROUTE_AUTH  ? "user"
                                                          : "public"));
    if (flags & ROUTE_ANY_AUTH)
        add_problems(b, responses, "401 403");
    if (strchr(r->http.pattern, '{'))
        add_problems(b, responses, "404");
    if (json_object_get(op, "requestBody"))
        add_problems(b, responses, "400 413 415 422");
    if (json_array_size(json_object_get(op, "parameters"))) /* query parameters: the path's are its item's */
        add_problems(b, responses, "422");
    if (!(r->doc & API_NO_DB))
        add_problems(b, responses, "503");
    int client_error = 0;
    json_object_foreach(responses, status, v) client_error |= status[0] == '4';
    if (!client_error)
        add_problems(b, responses, "4XX");
    sort_responses(op);
    static const char *const order[] = {"operationId", "summary",     "description", "tags",     "security",
                                        ACCESS_MARK,   "parameters", "requestBody", "responses"};
    for (size_t i = 0; i < ARRAY_LEN(order); i++)
        move_last(op, order[i]);
    return 0;
}

static int document_route(build_t *b, const api_module_t *mod, const api_route_t *r)
{
    json_t *item = member(b->paths, r->http.pattern, 0);
    for (size_t m = 0; m < ARRAY_LEN(doc_methods); m++) {
        if (!(r->http.methods & HTTP_M(doc_methods[m].method)))
            continue;
        char route[NAME_MAX_CHARS];
        snprintf(route, sizeof(route), "%s %s", http_method_name(doc_methods[m].method), r->http.pattern);
        json_t *op = member(item, doc_methods[m].key, 0);
        if (r->summary)
            describe(b, op, mod, r, m);
        if (r->document)
            r->document(r, doc_methods[m].method, op, b->schemas);
        add_declared(b, op, r);
        json_t *fragment = json_object_get(b->operations, route);
        if (fragment) {
            merge(op, fragment);
            json_object_del(b->operations, route);
        }
        if (complete(b, op, r, route))
            return -1;
    }
    return 0;
}

/* Every {param} of the pattern, declared on the path item (operations
 * declare none); the methods in doc_methods' order. */
static void complete_path(json_t *item, const char *pattern)
{
    for (const char *p = strchr(pattern, '{'); p; p = strchr(p + 1, '{')) {
        size_t len = strcspn(p + 1, "}");
        json_array_append_new(member(item, "parameters", 1),
                              json_pack("{s:s%, s:s, s:b, s:o}", "name", p + 1, len, "in", "path", "required", 1,
                                        "schema", path_param_schema(p + 1, len)));
    }
    for (size_t m = 0; m < ARRAY_LEN(doc_methods); m++)
        move_last(item, doc_methods[m].key);
}

/* The component a "#/components/kind/name" reference names, or NULL; a page
 * of a declared schema ("TaskPage") is made when first referred to. */
static json_t *component(build_t *b, const char *ref)
{
    char kind[NAME_MAX_CHARS], name[NAME_MAX_CHARS], item[NAME_MAX_CHARS];
    if (sscanf(ref, COMPONENT_PREFIX "%255[^/]/%255s", kind, name) != 2)
        return NULL;
    json_t *found = json_object_get(json_object_get(json_object_get(b->doc, "components"), kind), name);
    size_t len = strlen(name), suffix = strlen(PAGE_SUFFIX);
    if (!found && !strcmp(kind, "schemas") && len > suffix && !strcmp(name + len - suffix, PAGE_SUFFIX)) {
        snprintf(item, sizeof(item), "%.*s", (int)(len - suffix), name);
        if (json_object_get(b->schemas, item)) {
            found = page_schema(item);
            json_object_set_new(b->schemas, name, found);
        }
    }
    return found;
}

/* Marks in reached every reference that v leads to, through the components it names. */
static int reach(build_t *b, json_t *v, json_t *reached)
{
    const char *key;
    json_t *child;
    size_t i;
    if (json_is_array(v)) {
        json_array_foreach(v, i, child) {
            if (reach(b, child, reached))
                return -1;
        }
        return 0;
    }
    json_object_foreach(v, key, child) {
        const char *ref = json_string_value(child);
        if (strcmp(key, "$ref") || !ref) {
            if (reach(b, child, reached))
                return -1;
            continue;
        }
        if (json_object_get(reached, ref))
            continue;
        json_object_set_new(reached, ref, json_true());
        json_t *target = component(b, ref);
        if (!target) {
            snprintf(b->err, b->errlen, "openapi: %s is referred to but nothing declares it", ref);
            return -1;
        }
        if (reach(b, target, reached))
            return -1;
    }
    return 0;
}

/* Every reference resolves; components nothing refers to are dropped (the
 * shared answers are declared whether or not a route needs them). */
static int settle_components(build_t *b)
{
    json_t *components = json_object_get(b->doc, "components"), *reached = json_object();
    if (reach(b, b->paths, reached)) {
        json_decref(reached);
        return -1;
    }
    const char *kind, *name;
    json_t *group, *c;
    void *tmp;
    json_object_foreach(components, kind, group) {
        if (!strcmp(kind, "securitySchemes"))
            continue; /* named by security requirements, not $ref */
        json_object_foreach_safe(group, tmp, name, c) {
            char ref[NAME_MAX_CHARS];
            snprintf(ref, sizeof(ref), COMPONENT_PREFIX "%s/%s", kind, name);
            if (!json_object_get(reached, ref))
                json_object_del(group, name);
        }
    }
    json_object_foreach_safe(components, tmp, kind, group) {
        if (!json_object_size(group))
            json_object_del(components, kind);
    }
    json_decref(reached);
    return 0;
}

static json_t *load(build_t *b, const embedded_file_t *f)
{
    json_error_t e;
    json_t *data = json_loadb(f->data, f->len, JSON_REJECT_DUPLICATES, &e);
    if (!json_is_object(data)) {
        snprintf(b->err, b->errlen, "openapi: docs/openapi/%s:%d: %s", f->name, e.line,
                 data ? "not an object" : e.text);
        json_decref(data);
        return NULL;
    }
    return data;
}

/* A module's data file: its "schemas" join the document's, its "operations" wait for their routes. */
static int add_module_data(build_t *b, const embedded_file_t *f)
{
    json_t *data = load(b, f);
    const char *key, *name;
    json_t *part, *v;
    int rc = data ? 0 : -1;
    json_object_foreach(data, key, part) {
        if (!strcmp(key, "operations")) {
            json_object_foreach(part, name, v) {
                if (!json_is_object(v)) {
                    snprintf(b->err, b->errlen, "openapi: docs/openapi/%s: %s is not an object", f->name, name);
                    rc = -1;
                }
            }
            json_object_update(b->operations, part);
            continue;
        }
        if (strcmp(key, "schemas")) {
            snprintf(b->err, b->errlen, "openapi: docs/openapi/%s: %s is neither schemas nor operations", f->name, key);
            rc = -1;
            break;
        }
        json_object_foreach(part, name, v) {
            if (json_object_get(b->schemas, name)) {
                snprintf(b->err, b->errlen, "openapi: docs/openapi/%s: schema %s is declared twice", f->name, name);
                rc = -1;
            }
            json_object_set(b->schemas, name, v);
        }
    }
    json_decref(data);
    return rc;
}

/* document.json, then the data files of the modules served. */
static int load_data(build_t *b, const api_module_t *const *modules, size_t count, const embedded_file_t *data,
                     size_t data_count)
{
    for (size_t i = 0; i < data_count && !b->frame; i++)
        if (!strcmp(data[i].name, FRAME_FILE) && !(b->frame = load(b, &data[i])))
            return -1;
    b->doc = json_deep_copy(json_object_get(b->frame, "document"));
    if (!json_is_object(b->doc)) {
        snprintf(b->err, b->errlen, "openapi: docs/openapi/" FRAME_FILE " has no document");
        return -1;
    }
    json_object_set_new(json_object_get(b->doc, "info"), "version", json_string(HOURGLASS_VERSION));
    b->paths = member(b->doc, "paths", 0);
    b->schemas = member(member(b->doc, "components", 0), "schemas", 0);
    for (size_t m = 0; m < count; m++) {
        char name[NAME_MAX_CHARS];
        snprintf(name, sizeof(name), "%s.json", modules[m]->name);
        for (size_t i = 0; i < data_count; i++)
            if (!strcmp(data[i].name, name) && add_module_data(b, &data[i]))
                return -1;
    }
    return 0;
}

static int build_document(build_t *b, const api_module_t *const *modules, size_t count, const embedded_file_t *data,
                          size_t data_count)
{
    if (load_data(b, modules, count, data, data_count))
        return -1;
    for (size_t m = 0; m < count; m++)
        for (size_t r = 0; r < modules[m]->route_count; r++)
            if (!(modules[m]->routes[r].http.flags & ROUTE_INTERNAL) && /* no client reaches it */
                document_route(b, modules[m], &modules[m]->routes[r]))
                return -1;
    const char *key;
    json_t *item;
    json_object_foreach(b->paths, key, item) complete_path(item, key);
    void *left = json_object_iter(b->operations);
    if (left) {
        snprintf(b->err, b->errlen, "openapi: docs/openapi names %s, which is not routed", json_object_iter_key(left));
        return -1;
    }
    return settle_components(b);
}

int openapi_build(const api_module_t *const *modules, size_t count, const embedded_file_t *data, size_t data_count,
                  char *err, size_t errlen)
{
    build_t b = {.operations = json_object(), .ids = json_object(), .err = err, .errlen = errlen};
    int rc = build_document(&b, modules, count, data, data_count);
    char *text = rc ? NULL : json_dumps(b.doc, JSON_COMPACT);
    json_decref(b.ids);
    json_decref(b.operations);
    json_decref(b.frame);
    json_decref(b.doc);
    if (rc)
        return -1;
    if (!text) {
        snprintf(err, errlen, "openapi: out of memory");
        return -1;
    }
    openapi_free();
    doc_text = text;
    doc_len = strlen(text);
    http_etag(text, doc_len, doc_etag);
    return 0;
}

const char *openapi_document(size_t *len, const char **etag)
{
    if (len)
        *len = doc_len;
    if (etag)
        *etag = doc_etag;
    return doc_text;
}

void openapi_free(void)
{
    free(doc_text);
    doc_text = NULL;
    doc_len = 0;
    doc_etag[0] = '\0';
}
