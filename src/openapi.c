/* The OpenAPI 3.1 document (openapi.h). Built with jansson once, before the
 * workers start; a request only copies the finished text. The order is:
 * each module's hook, then its route_doc_t entries (merged into what the hook
 * made), then one pass over every operation that adds what the route flags
 * and the operation's shape imply, so hand-written and generated parts answer
 * alike. Finally the document is checked against the router. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "hourglass/openapi.h"
#include "hourglass/problem.h"
#include "hourglass_build.h"

/* Set by openapi_add_extras, removed by the last pass: an internal mark. */
#define NO_DB_MARK "x-hourglass-no-db"
/* Kept in the document: public, user, staff or admin, from the route's flags. */
#define ACCESS_MARK "x-hourglass-access"
#define ROUTE_ANY_AUTH (ROUTE_AUTH | ROUTE_STAFF | ROUTE_ADMIN)

static char *doc_text;
static size_t doc_len;
static char doc_etag[48];

/* The methods an operation can have. OPTIONS is implied by the server, and so is
 * HEAD where a route answers GET; a route that declares HEAD itself (HEAD /health,
 * which load balancers ask) is documented like any other method. */
static const struct {
    http_method_t method;
    const char *key;
} doc_methods[] = {
    {METHOD_GET, "get"},     {METHOD_HEAD, "head"},     {METHOD_POST, "post"},
    {METHOD_PUT, "put"},     {METHOD_PATCH, "patch"},   {METHOD_DELETE, "delete"},
};

/* The problem answers every route shares, as components/responses. */
static const struct {
    const char *status;
    const char *name;
    const char *description;
    const char *header; /* a header the answer carries, or NULL */
} problems[] = {
    {"400", "BadRequest", "Malformed request or JSON (`malformed_request`, `malformed_json`), or a wrong code", NULL},
    {"401", "Unauthorized",
     "No valid access token (`not_authenticated`, `invalid_token`, `token_expired`, `session_revoked`), "
     "or wrong credentials",
     "WWW-Authenticate"},
    {"403", "Forbidden",
     "Authenticated but not allowed: the role is missing (`forbidden`), or a cookie-authenticated unsafe "
     "request has no allowed Origin (`origin_not_allowed`)",
     NULL},
    {"404", "NotFound", "Nothing here, or not the caller's (`not_found`): another user's id answers as a missing one",
     NULL},
    {"409", "Conflict", "A value that must be unique is taken (`conflict`, `email_taken`, `username_taken`)", NULL},
    {"410", "Gone", "The code has expired (`code_expired`)", NULL},
    {"413", "PayloadTooLarge", "The body is larger than this route takes (`payload_too_large`); it is not read", NULL},
    {"415", "UnsupportedMediaType", "A content type this route does not take (`unsupported_media_type`)", NULL},
    {"422", "ValidationFailed",
     "The body or the query string broke a rule (`validation_failed`); `errors` names each field with its code",
     NULL},
    {"429", "TooManyRequests", "Rate limited (`rate_limited`); Retry-After says when to come back", "Retry-After"},
    {"4XX", "ClientError", "A malformed request, a URL or headers too large, and the like", NULL},
    {"503", "ServiceUnavailable",
     "The database is unavailable or the server is overloaded (`database_unavailable`, `overloaded`); "
     "Retry-After says when to try again",
     "Retry-After"},
};

static const struct {
    const char *name;
    const char *description;
} tag_texts[] = {
    {"operations", "Liveness, readiness and metrics, for load balancers and monitoring; no authentication."},
    {"documentation", "This document, and the Swagger UI and ReDoc pages over it, served by the server itself."},
    {"auth", "Registration, e-mail verification, login, token refresh, sessions and password reset."},
    {"users", "The caller's own account and avatar, public profiles, and the admin's view of users."},
    {"lists", "Named to-do lists; deleting one deletes its tasks."},
    {"tasks", "Tasks, filtered by status, list, due date or text."},
    {"balance wheel", "Spheres of the life balance wheel, each valued 0 to 10."},
    {"kanban", "Board columns, the cards on them, and each card's checklist."},
    {"gantt", "Gantt tasks and their durations."},
    {"planner", "Daily planner entries."},
    {"categories", "Categories of tasks and pomodoros."},
    {"pomodoro", "Pomodoro timer presets and timer sessions."},
    {"statistics", "Focus time and sessions over periods, cut in a time zone."},
    {"achievements", "The achievement catalogue with the caller's progress."},
    {"music", "Background tracks for premium users; admins manage them."},
};

/* ---------------------------------------------------------------- small helpers */

static json_t *member(json_t *parent, const char *key, int array)
{
    json_t *v = json_object_get(parent, key);
    if (!v) {
        v = array ? json_array() : json_object();
        json_object_set_new(parent, key, v);
    }
    return v;
}

static json_t *ref(const char *kind, const char *name)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "#/components/%s/%s", kind, name);
    return json_pack("{s:s}", "$ref", buf);
}

static int is_method_key(const char *key)
{
    for (size_t i = 0; i < ARRAY_LEN(doc_methods); i++)
        if (!strcmp(doc_methods[i].key, key))
            return 1;
    return 0;
}

/* "GET" for "get", as errors name routes. */
static const char *method_of_key(const char *key)
{
    for (size_t i = 0; i < ARRAY_LEN(doc_methods); i++)
        if (!strcmp(doc_methods[i].key, key))
            return http_method_name(doc_methods[i].method);
    return key;
}

/* Ids are {id} or {something_id}: say so, so clients and the UI send numbers. */
static json_t *path_param_schema(const char *name, size_t len)
{
    if ((len == 2 && !memcmp(name, "id", 2)) || (len > 3 && !memcmp(name + len - 3, "_id", 3)))
        return json_pack("{s:s, s:s, s:i}", "type", "integer", "format", "int64", "minimum", 1);
    return json_pack("{s:s}", "type", "string");
}

/* ---------------------------------------------------------------- schemas */

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
        return json_pack("{s:s, s:s, s:i}", "type", "string", "format", "email", "maxLength", 254);
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

static json_t *fields_object(const body_field_t *fields, size_t count, int closed, int require_all, int require_marked)
{
    json_t *props = json_object(), *required = json_array();
    for (size_t i = 0; i < count; i++) {
        const body_field_t *f = &fields[i];
        json_t *s = openapi_field_schema(f);
        if (!(f->flags & FIELD_REQUIRED))
            openapi_schema_nullable(s);
        json_object_set_new(props, f->name, s);
        if (require_all || (require_marked && (f->flags & FIELD_REQUIRED)))
            json_array_append_new(required, json_string(f->name));
    }
    json_t *schema = json_pack("{s:s, s:o}", "type", "object", "properties", props);
    if (json_array_size(required))
        json_object_set_new(schema, "required", required);
    else
        json_decref(required);
    if (closed)
        json_object_set_new(schema, "additionalProperties", json_false());
    return schema;
}

json_t *openapi_fields_schema(const body_field_t *fields, size_t count, body_mode_t mode)
{
    return fields_object(fields, count, 1, 0, mode != BODY_PATCH);
}

json_t *openapi_object_schema(const body_field_t *fields, size_t count)
{
    return fields_object(fields, count, 0, 1, 0);
}

json_t *openapi_page_schema(const char *item_schema)
{
    return json_pack("{s:s, s:{s:{s:s, s:o}, s:{s:[s,s], s:s}}, s:[s,s]}", "type", "object", "properties", "items",
                     "type", "array", "items", ref("schemas", item_schema), "next_cursor", "type", "string", "null",
                     "description", "give it as ?cursor= for the next page; null on the last", "required", "items",
                     "next_cursor");
}

json_t *openapi_path_item(json_t *paths, const char *pattern) { return member(paths, pattern, 0); }

/* ---------------------------------------------------------------- answers */

static void add_problem(json_t *responses, const char *status)
{
    json_t *have = json_object_get(responses, status);
    /* A bare description (a generated part's placeholder) gives way to the shared answer. */
    if (have && (json_object_get(have, "$ref") || json_object_get(have, "content")))
        return;
    if (!strcmp(status, "304")) {
        json_object_set_new(responses, status,
                            json_pack("{s:s, s:{s:{s:s, s:{s:s}}}}", "description",
                                      "Not Modified: If-None-Match named the current ETag", "headers", "ETag",
                                      "description", "the same ETag", "schema", "type", "string"));
        return;
    }
    for (size_t i = 0; i < ARRAY_LEN(problems); i++) {
        if (!strcmp(problems[i].status, status)) {
            json_object_set_new(responses, status, ref("responses", problems[i].name));
            return;
        }
    }
    /* Not a shared one: a plain problem answer with the status's reason. */
    json_object_set_new(responses, status,
                        json_pack("{s:s, s:{s:{s:o}}}", "description", http_status_reason(atoi(status)), "content",
                                  "application/problem+json", "schema", ref("schemas", "Problem")));
}

static void add_problems(json_t *responses, const char *statuses)
{
    char status[8];
    for (const char *s = statuses; s && *s;) {
        size_t n = strcspn(s, " ");
        if (n && n < sizeof(status)) {
            memcpy(status, s, n);
            status[n] = '\0';
            add_problem(responses, status);
        }
        s += n;
        s += strspn(s, " ");
    }
}

static json_t *media_schema(const char *type)
{
    if (!strncmp(type, "text/", 5))
        return json_pack("{s:s}", "type", "string");
    if (!strcmp(type, "application/json"))
        return json_pack("{s:s}", "type", "object");
    return json_pack("{s:s, s:s}", "type", "string", "format", "binary");
}

/* ---------------------------------------------------------------- the modules' parts */

void openapi_add_extras(json_t *paths, const openapi_extra_t *extras, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        const openapi_extra_t *x = &extras[i];
        for (size_t m = 0; m < ARRAY_LEN(doc_methods); m++) {
            if (!(x->methods & HTTP_M(doc_methods[m].method)))
                continue;
            json_t *op = member(openapi_path_item(paths, x->pattern), doc_methods[m].key, 0);
            if (x->description)
                json_object_set_new(op, "description", json_string(x->description));
            if (x->query_count || (x->flags & OPENAPI_PAGED)) {
                json_t *params = member(op, "parameters", 1);
                for (size_t q = 0; q < x->query_count; q++)
                    json_array_append_new(params, json_pack("{s:s, s:s, s:b, s:o}", "name", x->query[q].name, "in",
                                                            "query", "required",
                                                            (x->query[q].flags & FIELD_REQUIRED) != 0, "schema",
                                                            openapi_field_schema(&x->query[q])));
                if (x->flags & OPENAPI_PAGED) {
                    json_array_append_new(params, ref("parameters", "Limit"));
                    json_array_append_new(params, ref("parameters", "Cursor"));
                }
            }
            if (x->flags & OPENAPI_FORMS) {
                /* The JSON schema comes with the route_doc_t; forms get the same one then. */
                json_t *content = member(member(op, "requestBody", 0), "content", 0);
                member(content, "application/x-www-form-urlencoded", 0);
                member(content, "multipart/form-data", 0);
            }
            if (x->flags & OPENAPI_NO_DB)
                json_object_set_new(op, NO_DB_MARK, json_true());
            json_t *responses = member(op, "responses", 0);
            if (x->flags & OPENAPI_CACHED) {
                json_t *headers = member(member(responses, "200", 0), "headers", 0);
                json_object_set_new(headers, "ETag", json_pack("{s:s, s:{s:s}}", "description",
                                                               "send it as If-None-Match to get 304 while unchanged",
                                                               "schema", "type", "string"));
                json_object_set_new(headers, "Cache-Control",
                                    json_pack("{s:s, s:{s:s}}", "description", "how long caches may keep it",
                                              "schema", "type", "string"));
                add_problem(responses, "304");
            }
            add_problems(responses, x->errors);
        }
    }
}

/* Moves key to the end of obj: jansson keeps insertion order, and readers
 * of the document (people, Swagger UI) see it in that order. */
static void move_last(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return;
    json_incref(v);
    char *name = strdup(key);
    json_object_del(obj, name);
    json_object_set_new(obj, name, v);
    free(name);
}

/* The media type that the UI should offer first (it takes the first one). */
static void put_first(json_t *content, const char *type)
{
    /* Moving while iterating would meet the moved keys again: list them first. */
    size_t n = json_object_size(content), i = 0;
    char **keys = calloc(n ? n : 1, sizeof(*keys));
    const char *key;
    json_t *v;
    json_object_foreach(content, key, v) keys[i++] = strdup(key);
    for (i = 0; i < n; i++) {
        if (strcmp(keys[i], type))
            move_last(content, keys[i]);
        free(keys[i]);
    }
    free(keys);
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

static int add_doc(json_t *paths, const route_doc_t *d, char *err, size_t errlen)
{
    for (size_t m = 0; m < ARRAY_LEN(doc_methods); m++) {
        if (!(d->methods & HTTP_M(doc_methods[m].method)))
            continue;
        const char *key = doc_methods[m].key;
        json_t *op = member(openapi_path_item(paths, d->pattern), key, 0);
        if (json_object_get(op, "summary")) {
            snprintf(err, errlen, "openapi: %s %s is described twice", http_method_name(doc_methods[m].method),
                     d->pattern);
            return -1;
        }
        if (!json_object_get(op, "operationId")) {
            char id[160];
            operation_id(id, sizeof(id), key, d->pattern);
            json_object_set_new(op, "operationId", json_string(id));
        }
        /* A summary's second line onwards is its description. */
        const char *nl = strchr(d->summary, '\n');
        json_object_set_new(op, "summary", nl ? json_stringn(d->summary, (size_t)(nl - d->summary))
                                              : json_string(d->summary));
        if (nl && !json_object_get(op, "description"))
            json_object_set_new(op, "description", json_string(nl + 1));
        json_object_set_new(op, "tags", json_pack("[s]", d->tag));
        if (d->body) {
            int patch = doc_methods[m].method == METHOD_PATCH, required = 0;
            for (size_t i = 0; i < d->body_count; i++)
                required |= (d->body[i].flags & FIELD_REQUIRED) != 0;
            json_t *body = member(op, "requestBody", 0);
            json_t *content = member(body, "content", 0);
            json_t *schema = openapi_fields_schema(d->body, d->body_count, patch ? BODY_PATCH : BODY_CREATE);
            const char *type;
            json_t *media;
            json_object_foreach(content, type, media) {
                if (!json_object_get(media, "schema"))
                    json_object_set_new(media, "schema", json_deep_copy(schema));
            }
            json_object_set_new(content, "application/json", json_pack("{s:o}", "schema", schema));
            put_first(content, "application/json");
            json_object_set_new(body, "required", json_boolean(required && !patch));
        } else if (d->body_schema) {
            json_t *body = member(op, "requestBody", 0);
            json_t *content = member(body, "content", 0);
            json_object_set_new(content, "multipart/form-data",
                                json_pack("{s:o}", "schema", ref("schemas", d->body_schema)));
            put_first(content, "multipart/form-data");
            json_object_set_new(body, "required", json_true());
        }
        char status[16];
        snprintf(status, sizeof(status), "%d", d->status);
        json_t *ok = member(member(op, "responses", 0), status, 0);
        json_object_set_new(ok, "description", json_string(http_status_reason(d->status)));
        if (doc_methods[m].method == METHOD_HEAD)
            continue; /* GET's headers, no body */
        if (d->response && strchr(d->response, '/'))
            json_object_set_new(ok, "content",
                                json_pack("{s:{s:o}}", d->response, "schema", media_schema(d->response)));
        else if (d->response)
            json_object_set_new(ok, "content",
                                json_pack("{s:{s:o}}", "application/json", "schema", ref("schemas", d->response)));
        if (d->status == 201)
            json_object_set_new(member(ok, "headers", 0), "Location",
                                json_pack("{s:s, s:{s:s}}", "description", "the address of what was created",
                                          "schema", "type", "string"));
    }
    return 0;
}

/* ---------------------------------------------------------------- the last pass */

static int has_query_parameter(json_t *doc, json_t *params)
{
    size_t i;
    json_t *p;
    json_array_foreach(params, i, p) {
        const char *target = json_string_value(json_object_get(p, "$ref"));
        if (target && !strncmp(target, "#/components/parameters/", 24))
            p = json_object_get(json_object_get(json_object_get(doc, "components"), "parameters"), target + 24);
        const char *in = json_string_value(json_object_get(p, "in"));
        if (in && !strcmp(in, "query"))
            return 1;
    }
    return 0;
}

static int declares_path_parameter(json_t *params, const char *name, size_t len)
{
    size_t i;
    json_t *p;
    json_array_foreach(params, i, p) {
        const char *n = json_string_value(json_object_get(p, "name"));
        const char *in = json_string_value(json_object_get(p, "in"));
        if (n && in && !strcmp(in, "path") && strlen(n) == len && !memcmp(n, name, len))
            return 1;
    }
    return 0;
}

/* Every {param} of the pattern declared once, on the path item unless an operation does. */
static void add_path_parameters(json_t *item, const char *pattern)
{
    for (const char *p = strchr(pattern, '{'); p; p = strchr(p + 1, '{')) {
        const char *name = p + 1;
        size_t len = strcspn(name, "}");
        if (declares_path_parameter(json_object_get(item, "parameters"), name, len))
            continue;
        int in_ops = 0;
        const char *key;
        json_t *op;
        json_object_foreach(item, key, op) {
            if (is_method_key(key))
                in_ops |= declares_path_parameter(json_object_get(op, "parameters"), name, len);
        }
        if (!in_ops)
            json_array_append_new(member(item, "parameters", 1),
                                  json_pack("{s:s%, s:s, s:b, s:o}", "name", name, len, "in", "path", "required", 1,
                                            "schema", path_param_schema(name, len)));
    }
}

static int compare_keys(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Success first, then the errors by status, whatever order they were added in. */
static void sort_responses(json_t *op)
{
    json_t *responses = json_object_get(op, "responses");
    size_t n = json_object_size(responses), i = 0;
    const char **keys = calloc(n ? n : 1, sizeof(*keys));
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

static int complete_operation(json_t *doc, json_t *item, json_t *op, const char *pattern, const char *key,
                              unsigned flags, json_t *ids, char *err, size_t errlen)
{
    json_t *responses = json_object_get(op, "responses");
    int success = 0;
    const char *status;
    json_t *v;
    json_object_foreach(responses, status, v) success |= status[0] == '2' && json_object_get(v, "description");
    if (!json_object_get(op, "summary") || !success) {
        snprintf(err, errlen,
                 "openapi: %s %s has extras or parameters but no route_doc_t (or resource) describes it",
                 method_of_key(key), pattern);
        return -1;
    }
    const char *id = json_string_value(json_object_get(op, "operationId"));
    if (!id || json_object_get(ids, id)) {
        snprintf(err, errlen, "openapi: %s %s: operationId %s missing or used twice", method_of_key(key), pattern,
                 id ? id : "");
        return -1;
    }
    json_object_set_new(ids, id, json_true());

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
        add_problems(responses, "401 403");
    if (strchr(pattern, '{'))
        add_problem(responses, "404");
    if (json_object_get(op, "requestBody"))
        add_problems(responses, "400 413 415 422");
    if (has_query_parameter(doc, json_object_get(op, "parameters")) ||
        has_query_parameter(doc, json_object_get(item, "parameters")))
        add_problem(responses, "422");
    if (json_object_get(op, NO_DB_MARK))
        json_object_del(op, NO_DB_MARK);
    else
        add_problem(responses, "503");
    int client_error = 0;
    json_object_foreach(responses, status, v) client_error |= status[0] == '4';
    if (!client_error)
        add_problem(responses, "4XX");
    sort_responses(op);
    static const char *const order[] = {"operationId", "summary",     "description", "tags",     "security",
                                        ACCESS_MARK,   "parameters", "requestBody", "responses"};
    for (size_t i = 0; i < ARRAY_LEN(order); i++)
        move_last(op, order[i]);
    return 0;
}

/* Tags in the order they first appear, each with a description. */
static void add_tags(json_t *doc)
{
    json_t *tags = json_object_get(doc, "tags"), *seen = json_object();
    const char *pattern, *key;
    json_t *item, *op;
    json_object_foreach(json_object_get(doc, "paths"), pattern, item) {
        json_object_foreach(item, key, op) {
            size_t i;
            json_t *t;
            json_array_foreach(json_object_get(op, "tags"), i, t) {
                const char *name = json_string_value(t);
                if (!name || json_object_get(seen, name))
                    continue;
                json_object_set_new(seen, name, json_true());
                char fallback[160];
                const char *text = NULL;
                for (size_t k = 0; k < ARRAY_LEN(tag_texts); k++)
                    if (!strcmp(tag_texts[k].name, name))
                        text = tag_texts[k].description;
                if (!text) {
                    snprintf(fallback, sizeof(fallback), "The %s routes.", name);
                    text = fallback;
                }
                json_array_append_new(tags, json_pack("{s:s, s:s}", "name", name, "description", text));
            }
        }
    }
    json_decref(seen);
}

static void collect_refs(json_t *v, json_t *refs)
{
    const char *key;
    json_t *child;
    size_t i;
    if (json_is_object(v)) {
        json_object_foreach(v, key, child) {
            if (!strcmp(key, "$ref") && json_is_string(child))
                json_object_set_new(refs, json_string_value(child), json_true());
            else
                collect_refs(child, refs);
        }
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, child) collect_refs(child, refs);
    }
}

/* Every reference resolves; components nothing refers to are dropped (the
 * shared answers are declared whether or not a route needs them). */
static int settle_components(json_t *doc, char *err, size_t errlen)
{
    json_t *components = json_object_get(doc, "components");
    const char *kind;
    json_t *group;
    void *tmp_group;
    for (int changed = 1; changed;) {
        changed = 0;
        json_t *refs = json_object();
        collect_refs(json_object_get(doc, "paths"), refs);
        const char *name;
        json_t *c;
        json_object_foreach(components, kind, group) {
            json_object_foreach(group, name, c) {
                /* A component's refs to itself do not keep it. */
                json_t *own = json_object();
                collect_refs(c, own);
                const char *r;
                json_t *t;
                char self[256];
                snprintf(self, sizeof(self), "#/components/%s/%s", kind, name);
                json_object_foreach(own, r, t) {
                    if (strcmp(r, self))
                        json_object_set(refs, r, t);
                }
                json_decref(own);
            }
        }
        const char *r;
        json_t *t;
        json_object_foreach(refs, r, t) {
            char kind_buf[64];
            const char *rest = !strncmp(r, "#/components/", 13) ? r + 13 : NULL;
            const char *slash = rest ? strchr(rest, '/') : NULL;
            if (!slash || (size_t)(slash - rest) >= sizeof(kind_buf)) {
                snprintf(err, errlen, "openapi: reference %s is not to a component", r);
                json_decref(refs);
                return -1;
            }
            memcpy(kind_buf, rest, (size_t)(slash - rest));
            kind_buf[slash - rest] = '\0';
            if (!json_object_get(json_object_get(components, kind_buf), slash + 1)) {
                snprintf(err, errlen, "openapi: %s is referred to but nothing declares it", r);
                json_decref(refs);
                return -1;
            }
        }
        void *tmp;
        json_object_foreach(components, kind, group) {
            if (!strcmp(kind, "securitySchemes"))
                continue; /* named by security requirements, not $ref */
            json_object_foreach_safe(group, tmp, name, c) {
                char target[256];
                snprintf(target, sizeof(target), "#/components/%s/%s", kind, name);
                if (!json_object_get(refs, target)) {
                    json_object_del(group, name);
                    changed = 1;
                }
            }
        }
        json_decref(refs);
    }
    json_object_foreach_safe(components, tmp_group, kind, group) {
        if (!json_object_size(group))
            json_object_del(components, kind);
    }
    return 0;
}

/* Every routed (pattern, method) is documented, and nothing else is. */
static int check_against_router(json_t *paths, const router_t *router, json_t *routed, char *err, size_t errlen)
{
    for (int id = 1; id <= router_path_count(router); id++) {
        const char *pattern = router_path_pattern(router, id);
        unsigned methods = router_path_methods(router, id);
        for (size_t m = 0; m < ARRAY_LEN(doc_methods); m++) {
            if ((methods & HTTP_M(doc_methods[m].method)) &&
                !json_object_get(json_object_get(paths, pattern), doc_methods[m].key)) {
                snprintf(err, errlen,
                         "openapi: %s %s is routed but not in the document: declare a route_doc_t beside its route "
                         "(or give its module an openapi hook)",
                         http_method_name(doc_methods[m].method), pattern);
                return -1;
            }
        }
    }
    const char *pattern, *key;
    json_t *item, *op;
    json_object_foreach(paths, pattern, item) {
        json_object_foreach(item, key, op) {
            if (!is_method_key(key))
                continue;
            char route[512];
            snprintf(route, sizeof(route), "%s %s", key, pattern);
            if (!json_object_get(routed, route)) {
                snprintf(err, errlen, "openapi: %s %s is in the document but no route serves it",
                         method_of_key(key), pattern);
                return -1;
            }
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- the document */

static json_t *problem_schemas(json_t *schemas)
{
    json_object_set_new(
        schemas, "FieldError",
        json_pack("{s:s, s:{s:{s:s, s:s}, s:{s:s, s:s}, s:{s:s}}, s:[s,s,s]}", "type", "object", "properties",
                  "field", "type", "string", "description", "the field or query parameter at fault", "code", "type",
                  "string", "description",
                  "required, unknown_field, wrong_type, too_short, too_long, too_small, too_large, "
                  "invalid_format, invalid_choice, not_found, mismatch, invalid_range, or a password rule "
                  "(no_lower, no_upper, no_digit, no_symbol)",
                  "message", "type", "string", "required", "field", "code", "message"));
    json_object_set_new(
        schemas, "Problem",
        json_pack("{s:s, s:s, s:{s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s, s:s}, s:{s:s, s:s}, s:{s:s, s:o}}, s:[s,s,s,s]}",
                  "type", "object", "description", "RFC 9457 problem details, with a stable `code`", "properties",
                  "type", "type", "string", "title", "type", "string", "status", "type", "integer", "code", "type",
                  "string", "description", "a stable machine word to branch on", "detail", "type", "string",
                  "description", "for people: English, or Russian when Accept-Language prefers ru", "errors", "type",
                  "array", "items", ref("schemas", "FieldError"), "required", "type", "title", "status", "code"));
    return schemas;
}

static json_t *new_document(void)
{
    json_t *doc = json_pack(
        "{s:s, s:{s:s, s:s, s:s, s:{s:s, s:s}}, s:[{s:s, s:s}], s:[], s:{}, s:{s:{}, s:{}, s:{}, s:{}, s:{}}}",
        "openapi", "3.1.0", "info", "title", "hourglass", "version", HOURGLASS_VERSION, "description",
        "Accounts, planning tools and more over one PostgreSQL. Bodies are JSON unless a route says otherwise; "
        "unknown fields are refused (422). Ids are positive 64-bit integers; times are RFC 3339 UTC "
        "(`2026-11-22T17:04:05Z`), dates `YYYY-MM-DD`. Lists answer `{\"items\", \"next_cursor\"}` in id order; "
        "page with `?limit=` (1..200, default 50) and `?cursor=`. Errors are RFC 9457 problem JSON with a stable "
        "`code`. Authenticate with `Authorization: Bearer <access token>` or the `access_token` cookie set at login; "
        "a cookie-authenticated unsafe request needs an allowed `Origin`. Another user's id answers 404, as a "
        "missing one does. Every route also answers OPTIONS (CORS preflight), and HEAD where it answers GET.",
        "license", "name", "MIT", "identifier", "MIT", "servers", "url", "/", "description", "this server", "tags",
        "paths", "components", "securitySchemes", "schemas", "responses", "parameters", "requestBodies");
    json_t *components = json_object_get(doc, "components");
    json_object_set_new(json_object_get(components, "securitySchemes"), "bearerAuth",
                        json_pack("{s:s, s:s, s:s, s:s}", "type", "http", "scheme", "bearer", "bearerFormat", "JWT",
                                  "description", "the access_token of login or refresh"));
    json_object_set_new(json_object_get(components, "securitySchemes"), "cookieAuth",
                        json_pack("{s:s, s:s, s:s, s:s}", "type", "apiKey", "in", "cookie", "name", "access_token",
                                  "description",
                                  "set at login (HttpOnly); an unsafe method also needs an Origin from CLIENT_ORIGIN"));
    json_object_set_new(json_object_get(components, "securitySchemes"), "botToken",
                        json_pack("{s:s, s:s, s:s, s:s}", "type", "apiKey", "in", "header", "name", "X-Bot-Token",
                                  "description", "the shop's Telegram bot: BOT_API_TOKEN"));
    json_t *schemas = problem_schemas(json_object_get(components, "schemas"));
    json_object_set_new(schemas, "Accepted",
                        json_pack("{s:s, s:{s:{s:s, s:[s]}}, s:[s]}", "type", "object", "properties", "status", "type",
                                  "string", "enum", "accepted", "required", "status"));
    json_t *responses = json_object_get(components, "responses");
    for (size_t i = 0; i < ARRAY_LEN(problems); i++) {
        json_t *r = json_pack("{s:s, s:{s:{s:o}}}", "description", problems[i].description, "content",
                              "application/problem+json", "schema", ref("schemas", "Problem"));
        if (problems[i].header)
            json_object_set_new(member(r, "headers", 0), problems[i].header,
                                json_pack("{s:s, s:{s:s}}", "description",
                                          !strcmp(problems[i].header, "Retry-After") ? "seconds to wait" : "Bearer",
                                          "schema", "type", "string"));
        json_object_set_new(responses, problems[i].name, r);
    }
    json_t *params = json_object_get(components, "parameters");
    json_object_set_new(params, "Limit",
                        json_pack("{s:s, s:s, s:s, s:{s:s, s:i, s:i, s:i}}", "name", "limit", "in", "query",
                                  "description", "items per page", "schema", "type", "integer", "minimum", 1,
                                  "maximum", 200, "default", 50));
    json_object_set_new(params, "Cursor",
                        json_pack("{s:s, s:s, s:s, s:{s:s}}", "name", "cursor", "in", "query", "description",
                                  "the next_cursor of the page before (opaque)", "schema", "type", "string"));
    return doc;
}

int openapi_build(const api_module_t *const *modules, size_t count, const router_t *router, char *err,
                  size_t errlen)
{
    json_t *doc = new_document();
    json_t *paths = json_object_get(doc, "paths");
    json_t *schemas = json_object_get(json_object_get(doc, "components"), "schemas");
    /* "get /pattern" -> route flags, from the same tables the router was built from. */
    json_t *routed = json_object(), *ids = json_object();
    int rc = -1;
    for (size_t i = 0; i < count; i++) {
        const api_module_t *mod = modules[i];
        for (size_t r = 0; r < mod->route_count; r++) {
            /* Paths in route-table order, whoever fills them first. */
            openapi_path_item(paths, mod->routes[r].pattern);
            for (size_t m = 0; m < ARRAY_LEN(doc_methods); m++) {
                if (!(mod->routes[r].methods & HTTP_M(doc_methods[m].method)))
                    continue;
                char route[512];
                snprintf(route, sizeof(route), "%s %s", doc_methods[m].key, mod->routes[r].pattern);
                json_object_set_new(routed, route, json_integer(mod->routes[r].flags));
            }
        }
        if (mod->openapi)
            mod->openapi(paths, schemas);
        for (size_t d = 0; d < mod->doc_count; d++)
            if (add_doc(paths, &mod->docs[d], err, errlen))
                goto out;
    }
    const char *pattern, *key;
    json_t *item, *op;
    json_object_foreach(paths, pattern, item) {
        add_path_parameters(item, pattern);
        for (size_t m = 0; m < ARRAY_LEN(doc_methods); m++)
            move_last(item, doc_methods[m].key);
        json_object_foreach(item, key, op) {
            if (!is_method_key(key))
                continue;
            char route[512];
            snprintf(route, sizeof(route), "%s %s", key, pattern);
            unsigned flags = (unsigned)json_integer_value(json_object_get(routed, route));
            if (complete_operation(doc, item, op, pattern, key, flags, ids, err, errlen))
                goto out;
        }
    }
    add_tags(doc);
    if (settle_components(doc, err, errlen) || check_against_router(paths, router, routed, err, errlen))
        goto out;
    char *text = json_dumps(doc, JSON_COMPACT);
    if (!text) {
        snprintf(err, errlen, "openapi: out of memory");
        goto out;
    }
    openapi_free();
    doc_text = text;
    doc_len = strlen(text);
    unsigned char hash[16];
    crypto_generichash(hash, sizeof(hash), (const unsigned char *)text, doc_len, NULL, 0);
    char hex[sizeof(hash) * 2 + 1];
    sodium_bin2hex(hex, sizeof(hex), hash, sizeof(hash));
    snprintf(doc_etag, sizeof(doc_etag), "\"%s\"", hex);
    rc = 0;
out:
    json_decref(ids);
    json_decref(routed);
    json_decref(doc);
    return rc;
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
