/* The resource engine: one generic implementation of owner-scoped CRUD,
 * driven by the declarations of resource.h. At start-up each declaration
 * becomes five prepared statements (get, list, create, update, delete) whose
 * text comes only from the declaration; at request time the body is checked
 * against the declared fields and reaches SQL as parameters. PostgreSQL
 * renders every answer as JSON text, which is copied into the response.
 *
 * Parameter layouts (owner is absent for a global resource, parent for a
 * top-level one):
 *   get, delete  $id, $owner
 *   update       $id, $owner, $mask, fields...
 *   create       $owner, $parent, fields...
 *   list         $owner, $after, $limit, $parent, filters...
 *   refs         $owner, one per field (NULL for fields that are not references) */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hourglass/app.h"
#include "hourglass/bridge.h"
#include "hourglass/db.h"
#include "hourglass/json_text.h"
#include "hourglass/log.h"
#include "hourglass/resource.h"

#define RES_MAX 32
#define RES_MAX_PARAMS (RES_MAX_FIELDS + 8)
#define RES_SEARCH_MAX_CHARS 200
#define RES_MAX_FILTERS 8
#define RES_API_PREFIX "/api/v1/" /* left out of the resource name of change events */

typedef struct {
    const resource_t *res;
    char event_name[64]; /* "tasks", "kanban/items": its change events' resource (owned resources) */
    int stmt_get, stmt_list, stmt_create, stmt_update, stmt_delete;
    int stmt_refs; /* -1 without references */
    /* Derived once from the declaration: the fields as body.c reads them,
     * each field's "after" as an index (-1: none), the filters as fields. */
    body_field_t fields[RES_MAX_FIELDS];
    int after[RES_MAX_FIELDS];
    body_field_t filters[RES_MAX_FILTERS];
} res_state_t;

/* Filled before the workers start, read-only afterwards. */
static res_state_t states[RES_MAX];
static int state_count;

/* Statements are written once, at start-up, into a heap buffer. */
#define SQL_INITIAL_BYTES 1024

static const char *sql_type(field_type_t t)
{
    switch (t) {
    case FIELD_INT: return "int";
    case FIELD_BOOL: return "boolean";
    case FIELD_DATE: return "date";
    case FIELD_DATETIME: return "timestamptz";
    case FIELD_ID:
    case FIELD_BIGINT: return "bigint";
    default: return "text";
    }
}

/* One member of the object: `expr AS "name"`. Times are rendered by hg_time. */
static void sql_member(abuf_t *s, const char *name, int is_time, int first)
{
    const char *sep = first ? "" : ", ";
    abuf_printf(s, is_time ? "%shg_time(t.\"%s\") AS \"%s\"" : "%st.\"%s\" AS \"%s\"", sep, name, name);
}

/* The object's members in order: id, the parent's id, every field, the two times. */
static void sql_members(abuf_t *s, const resource_t *res)
{
    sql_member(s, "id", 0, 1);
    if (res->parent_param)
        sql_member(s, res->parent_param, 0, 0);
    for (size_t i = 0; i < res->field_count; i++)
        sql_member(s, res->fields[i].f.name, res->fields[i].f.type == FIELD_DATETIME, 0);
    sql_member(s, "created_at", 1, 0);
    sql_member(s, "updated_at", 1, 0);
}

/* The object of row t as JSON. row_to_json, as the list renders each item:
 * json_build_object's text has spaces (`{"id" : 1, ...}`) and the single item
 * must be the same bytes as in a page. */
static void sql_object(abuf_t *s, const resource_t *res)
{
    abuf_printf(s, "(SELECT row_to_json(r) FROM (SELECT ");
    sql_members(s, res);
    abuf_printf(s, ") AS r)");
}

/* "t.user_id = $n AND " for an owned resource; the parameter number advances. */
static void sql_owner(abuf_t *s, const resource_t *res, int *n)
{
    if (!res->global)
        abuf_printf(s, "t.user_id = $%d AND ", (*n)++);
}

/* The item route without its API prefix and its id: "/api/v1/kanban/items/{id}" is "kanban/items"
 * (or the declaration's changes_as). */
static void event_name(const resource_t *res, char *out, size_t cap)
{
    if (res->changes_as) {
        snprintf(out, cap, "%s", res->changes_as);
        return;
    }
    const char *from = res->item, *end = strstr(from, "/{id}");
    if (!strncmp(from, RES_API_PREFIX, strlen(RES_API_PREFIX)))
        from += strlen(RES_API_PREFIX);
    int len = end ? (int)(end - from) : (int)strlen(from);
    snprintf(out, cap, "%.*s", len, from);
}

/* The end of a create or update: the row's id and its object. An owned
 * resource's statement began "WITH w AS (": the object also goes into a
 * change event, in the same statement, after the row was written
 * (0015_events.sql). */
static void sql_returning(abuf_t *s, const resource_t *res, const char *event_name, const char *op)
{
    if (res->global) {
        abuf_printf(s, " RETURNING t.id, ");
        sql_object(s, res);
        abuf_printf(s, "::text");
        return;
    }
    abuf_printf(s, " RETURNING t.id, t.user_id, ");
    sql_object(s, res);
    abuf_printf(s, "::text AS body) SELECT w.id, events_change(w.user_id, '%s', '%s', w.id, w.body), w.body FROM w",
                event_name, op);
}

char *res_write_sql(const resource_t *res, const char *write, const char *op)
{
    assert(!res->global);
    char name[64];
    event_name(res, name, sizeof(name));
    abuf_t s;
    abuf_init(&s, NULL, SQL_INITIAL_BYTES);
    abuf_printf(&s, "WITH w AS (%s", write);
    sql_returning(&s, res, name, op);
    return s.data;
}

static int register_as(int (*reg)(const char *, const char *), const resource_t *res, const char *op, abuf_t *s)
{
    char name[96];
    snprintf(name, sizeof(name), "res_%s_%s", res->name, op);
    int id = reg(name, s->data); /* copies both */
    s->len = 0;
    return id;
}

static int register_stmt(const resource_t *res, const char *op, abuf_t *s)
{
    return register_as(db_statement_register, res, op, s);
}

static void build_get(res_state_t *st, const resource_t *res, abuf_t *s)
{
    int n = 2;
    abuf_printf(s, "SELECT ");
    sql_object(s, res);
    abuf_printf(s, "::text FROM %s AS t WHERE ", res->table);
    sql_owner(s, res, &n);
    abuf_printf(s, "t.id = $1");
    st->stmt_get = register_stmt(res, "get", s);

    n = 2;
    abuf_printf(s, "DELETE FROM %s AS t WHERE ", res->table);
    sql_owner(s, res, &n);
    abuf_printf(s, "t.id = $1 RETURNING t.id");
    st->stmt_delete = register_stmt(res, "delete", s);
}

static void build_create(res_state_t *st, const resource_t *res, abuf_t *s)
{
    int n = 1;
    int owner = res->global ? 0 : n++;
    int parent = res->parent_param ? n++ : 0;
    /* The owner and the parent come before the fields, of which there is at least one. */
    abuf_printf(s, "%sINSERT INTO %s AS t (", owner ? "WITH w AS (" : "", res->table);
    if (owner)
        abuf_printf(s, "user_id, ");
    if (parent)
        abuf_printf(s, "\"%s\", ", res->parent_param);
    for (size_t i = 0; i < res->field_count; i++)
        abuf_printf(s, "%s\"%s\"", i ? ", " : "", res->fields[i].f.name);
    abuf_printf(s, ") SELECT ");
    if (owner)
        abuf_printf(s, "$%d::bigint, ", owner);
    if (parent)
        abuf_printf(s, "$%d::bigint, ", parent);
    for (size_t i = 0; i < res->field_count; i++)
        abuf_printf(s, "%s$%d::%s", i ? ", " : "", n++, sql_type(res->fields[i].f.type));
    /* A nested row is made only under a parent of the same user: no row, 404. */
    if (parent)
        abuf_printf(s, " WHERE EXISTS (SELECT 1 FROM %s WHERE id = $%d AND user_id = $%d)", res->parent_table, parent,
                    owner);
    sql_returning(s, res, st->event_name, "created");
    /* Creates share commits (db.h): an insert waits on another create only for
     * the same unique value or an achievement's per-user lock, and two groups
     * that wait on each other are a deadlock PostgreSQL breaks (after
     * deadlock_timeout, 1 s); the broken group's writes then run alone. */
    st->stmt_create = register_as(db_statement_register_write, res, "create", s);
}

static void build_update(res_state_t *st, const resource_t *res, abuf_t *s)
{
    int n = 2;
    int owner = res->global ? 0 : n++;
    int mask = n++;
    abuf_printf(s, "%sUPDATE %s AS t SET ", owner ? "WITH w AS (" : "", res->table);
    /* Only the fields whose bit is set change: one statement serves PATCH and PUT. */
    for (size_t i = 0; i < res->field_count; i++) {
        const char *name = res->fields[i].f.name;
        abuf_printf(s, "\"%s\" = CASE WHEN $%d::int & %d <> 0 THEN $%d::%s ELSE t.\"%s\" END, ", name, mask,
                    1 << i, n++, sql_type(res->fields[i].f.type), name);
    }
    abuf_printf(s, "updated_at = now() WHERE ");
    if (owner)
        abuf_printf(s, "t.user_id = $%d AND ", owner);
    abuf_printf(s, "t.id = $1");
    sql_returning(s, res, st->event_name, "updated");
    st->stmt_update = register_stmt(res, "update", s);
}

/* Each filter's condition, given the column, the parameter's number and (FILTER_EQ) its SQL type.
 * A search continues with its second column, if any, and its closing parenthesis. */
static const char *const filter_sql[] = {
    [FILTER_EQ] = "t.\"%s\" = $%d::%s)",
    [FILTER_DATE_LE] = "t.\"%s\" <= $%d::date)",
    [FILTER_DATE_GE] = "t.\"%s\" >= $%d::date)",
    /* strpos, not LIKE: the text is matched as it is, % and _ included. */
    [FILTER_SEARCH] = "strpos(lower(t.\"%s\"), lower($%d::text)) > 0",
    [FILTER_TIME_FROM] = "t.\"%s\" >= ($%d::date)::timestamp AT TIME ZONE 'UTC')",
    [FILTER_TIME_TO] = "t.\"%s\" < ($%d::date + 1)::timestamp AT TIME ZONE 'UTC')",
};

static void build_filter(abuf_t *s, const res_filter_t *f, int p)
{
    abuf_printf(s, " AND ($%d::text IS NULL OR ", p);
    abuf_printf(s, filter_sql[f->kind], f->column, p, sql_type(f->type));
    if (f->kind != FILTER_SEARCH)
        return;
    if (f->column2)
        abuf_printf(s, " OR strpos(lower(coalesce(t.\"%s\", '')), lower($%d::text)) > 0", f->column2, p);
    abuf_printf(s, ")");
}

static void build_list(res_state_t *st, const resource_t *res, abuf_t *s)
{
    int n = 1;
    int owner = res->global ? 0 : n++;
    int after = n++, limit = n++;
    int parent = res->parent_param ? n++ : 0;
    /* The order of the index that the scope's equality leaves in id order
     * ((card_id, id), (user_id, id)): a generic plan that walked the primary
     * key instead would filter every other user's rows. */
    char order[96];
    if (parent)
        snprintf(order, sizeof(order), "t.\"%s\", t.id", res->parent_param);
    else
        snprintf(order, sizeof(order), "%s", owner ? "t.user_id, t.id" : "t.id");
    /* At most limit + 1 rows (the extra one only says that a next page
     * exists), each rendered by row_to_json; on_list() joins them. A nested
     * list starts from its parent: no parent of the caller's, no row at all
     * (404); a parent without children, one row of NULLs. */
    abuf_printf(s, "SELECT r.id, row_to_json(r)::text FROM ");
    if (parent)
        abuf_printf(s, "%s AS pp LEFT JOIN LATERAL (", res->parent_table);
    else
        abuf_printf(s, "(");
    abuf_printf(s, "SELECT ");
    sql_members(s, res);
    abuf_printf(s, " FROM %s AS t WHERE ", res->table);
    if (parent)
        abuf_printf(s, "t.user_id = pp.user_id AND t.\"%s\" = pp.id AND ", res->parent_param);
    else if (owner)
        abuf_printf(s, "t.user_id = $%d AND ", owner);
    abuf_printf(s, "t.id > $%d", after);
    for (size_t i = 0; i < res->filter_count; i++)
        build_filter(s, &res->filters[i], n++);
    abuf_printf(s, " ORDER BY %s LIMIT $%d + 1) AS r", order, limit);
    if (parent)
        abuf_printf(s, " ON true WHERE pp.user_id = $%d AND pp.id = $%d", owner, parent);
    st->stmt_list = register_stmt(res, "list", s);
}

/* Which of the given references are missing or another user's (missing, for
 * a global resource): asked only when a write failed or the body had other
 * errors, so that one 422 names every bad field (the foreign keys still
 * guard every write). */
static void build_refs(res_state_t *st, const resource_t *res, abuf_t *s)
{
    st->stmt_refs = -1;
    abuf_printf(s, "SELECT concat_ws(','");
    int any = 0;
    for (size_t i = 0; i < res->field_count; i++) {
        const res_field_t *f = &res->fields[i];
        if (!f->ref)
            continue;
        int p = (int)i + 2;
        abuf_printf(s,
                    ", CASE WHEN $%d::bigint IS NOT NULL AND NOT EXISTS (SELECT 1 FROM %s WHERE id = $%d::bigint%s) "
                    "THEN '%s' END",
                    p, f->ref, p, res->global ? "" : " AND user_id = $1", f->f.name);
        any = 1;
    }
    /* every parameter must appear for its type to be known */
    abuf_printf(s, ") WHERE $1::bigint IS NOT NULL");
    for (size_t i = 0; i < res->field_count; i++)
        if (!res->fields[i].ref)
            abuf_printf(s, " AND $%d::text IS NULL", (int)i + 2);
    if (any)
        st->stmt_refs = register_stmt(res, "refs", s);
}

/* The index of the field named by the len characters at name, or -1. */
static int field_index(const resource_t *res, const char *name, size_t len)
{
    for (size_t i = 0; i < res->field_count; i++)
        if (strlen(res->fields[i].f.name) == len && !strncmp(name, res->fields[i].f.name, len))
            return (int)i;
    return -1;
}

body_field_t res_filter_field(const res_filter_t *f)
{
    return (body_field_t){.name = f->param, .type = f->type, .max = f->type == FIELD_STRING ? RES_SEARCH_MAX_CHARS : 0,
                          .choices = f->choices};
}

const res_route_kind_t res_route_kinds[RES_ROUTES_MAX] = {
    [RES_ROUTE_LIST] = {.methods = ALLOW_GET, .id = "list", .summary = "List ", .answer = "a page, in id order",
                        .schema = "Page", .status = 200},
    [RES_ROUTE_CREATE] = {.methods = ALLOW_POST, .id = "create", .summary = "Create one of the ",
                          .answer = "created; Location names it", .schema = "", .body = "Input", .status = 201},
    [RES_ROUTE_GET] = {.methods = ALLOW_GET, .id = "get", .summary = "Get one of the ", .answer = "the object",
                       .schema = "", .status = 200},
    [RES_ROUTE_PATCH] = {.methods = ALLOW_PATCH, .id = "patch", .summary = "Change the given fields of one of the ",
                         .answer = "the object", .schema = "", .body = "Patch", .status = 200},
    [RES_ROUTE_PUT] = {.methods = ALLOW_PUT, .id = "replace", .summary = "Replace one of the ", .answer = "the object",
                       .schema = "", .body = "Input", .status = 200},
    [RES_ROUTE_DELETE] = {.methods = ALLOW_DELETE, .id = "delete", .summary = "Delete one of the ", .answer = "deleted",
                          .status = 204},
};

/* The statements of res and what the handlers read of it, once. */
static res_state_t *state_new(const resource_t *res)
{
    if (state_count == RES_MAX || !res->field_count || res->field_count > RES_MAX_FIELDS ||
        res->filter_count > RES_MAX_FILTERS) {
        log_error("resource %s: no fields, or too many resources or fields", res->name);
        abort();
    }
    res_state_t *st = &states[state_count++];
    st->res = res;
    event_name(res, st->event_name, sizeof(st->event_name));
    for (size_t i = 0; i < res->field_count; i++) {
        st->fields[i] = res->fields[i].f;
        const char *after = res->fields[i].after;
        st->after[i] = after ? field_index(res, after, strlen(after)) : -1;
    }
    for (size_t i = 0; i < res->filter_count; i++)
        st->filters[i] = res_filter_field(&res->filters[i]);
    abuf_t s;
    abuf_init(&s, NULL, SQL_INITIAL_BYTES);
    build_get(st, res, &s);
    build_create(st, res, &s);
    build_update(st, res, &s);
    build_list(st, res, &s);
    build_refs(st, res, &s);
    abuf_free(&s);
    return st;
}

void res_register(const resource_t *res, api_route_t *routes)
{
    int unique = 0;
    for (size_t i = 0; i < res->field_count; i++)
        unique |= res->fields[i].unique;
    for (int k = 0; k < RES_ROUTES_MAX; k++) {
        int write = res_route_kinds[k].methods != ALLOW_GET;
        routes[k] = (api_route_t){
            .http = {.methods = res_route_kinds[k].methods,
                     .pattern = RES_ROUTE_ON_ITEM(k) ? res->item : res->collection},
            .tag = res->tag,
            /* a unique field can clash */
            .errors = unique && write && k != RES_ROUTE_DELETE ? "409" : NULL,
            .document = res_document,
        };
    }
    res_serve(res, routes, RES_ROUTES_MAX);
}

void res_serve(const resource_t *res, api_route_t *routes, size_t count)
{
    res_state_t *st = state_new(res);
    unsigned writes = res->route_flags & ~RES_PUBLIC_READ;
    unsigned reads = res->route_flags & RES_PUBLIC_READ ? 0 : writes;
    for (size_t i = 0; i < count; i++) {
        api_route_t *r = &routes[i];
        if (strcmp(r->http.pattern, res->collection) && strcmp(r->http.pattern, res->item))
            continue;
        assert(!r->http.handler); /* declared once: the engine's, or the module's */
        r->http.handler = strcmp(r->http.pattern, res->item) ? res_collection : res_item;
        r->http.data = st;
        r->http.flags = r->http.methods == ALLOW_GET ? reads : writes;
        if (r->http.methods & (ALLOW_POST | ALLOW_PATCH | ALLOW_PUT)) {
            r->body = st->fields;
            r->body_count = res->field_count;
        }
    }
}

const resource_t *res_of_route(const api_route_t *route) { return ((const res_state_t *)route->http.data)->res; }

/* Parameters of one statement, in its layout's order. */
typedef struct {
    const char *v[RES_MAX_PARAMS];
    int n;
} args_t;

static void args_owner(http_request_t *req, const resource_t *res, args_t *a)
{
    if (!res->global)
        a->v[a->n++] = http_int_param(req, req->auth.user_id);
}

static const res_state_t *state_of(const http_request_t *req) { return req->route_data; }

int res_constraint_field(const resource_t *res, const char *constraint, const char **kind)
{
    size_t tl = strlen(res->table);
    if (strncmp(constraint, res->table, tl) || constraint[tl] != '_')
        return -1;
    const char *field = constraint + tl + 1;
    const char *kinds[] = {"ref", "unique", "range"};
    for (size_t k = 0; k < ARRAY_LEN(kinds); k++) {
        size_t kl = strlen(kinds[k]), len = strlen(field);
        if (len <= kl + 1 || strcmp(field + len - kl, kinds[k]) || field[len - kl - 1] != '_')
            continue;
        size_t fl = len - kl - 1;
        *kind = kinds[k];
        if (res->parent_param && strlen(res->parent_param) == fl && !strncmp(field, res->parent_param, fl))
            return -2;
        return field_index(res, field, fl);
    }
    return -1;
}

/* A write in progress: its parameters and the field errors gathered. */
typedef struct {
    const res_state_t *st;
    args_t a;
    int fields_at;  /* where the fields start in a.v */
    field_errors_t e;
    int status;     /* of the answer when the write succeeds */
    int writes;     /* the statement writes (and an owned resource's, an event) */
    long long limit; /* of a list's page */
} res_ctx_t;

/* Adds not_found for each bad reference the refs statement named, then answers 422. */
static void on_refs(http_request_t *req, PGresult *res_pg)
{
    res_ctx_t *c = req->ctx;
    if (PQresultStatus(res_pg) != PGRES_TUPLES_OK || PQntuples(res_pg) != 1) {
        api_respond_db_error(req, res_pg);
        return;
    }
    const resource_t *res = c->st->res;
    /* the names of the bad references, in field order, separated by commas */
    for (const char *at = PQgetvalue(res_pg, 0, 0); *at; at += strspn(at, ",")) {
        size_t len = strcspn(at, ",");
        int i = field_index(res, at, len);
        if (i >= 0)
            field_errors_add(&c->e, res->fields[i].f.name, "not_found");
        at += len;
    }
    if (!c->e.count) /* the row went away between the write and this check */
        field_errors_add(&c->e, "id", "not_found");
    api_respond_validation(req, &c->e);
}

/* Answers the errors gathered, after asking which references are bad too
 * when the body names any. */
static void respond_errors(http_request_t *req, res_ctx_t *c)
{
    const resource_t *res = c->st->res;
    const char *refs[RES_MAX_PARAMS] = {0};
    int any = 0;
    refs[0] = http_int_param(req, req->auth.user_id);
    for (size_t i = 0; i < res->field_count; i++) {
        if (res->fields[i].ref && c->a.v[c->fields_at + (int)i]) {
            refs[i + 1] = c->a.v[c->fields_at + (int)i];
            any = 1;
        }
    }
    if (!any || c->st->stmt_refs < 0) {
        api_respond_validation(req, &c->e);
        return;
    }
    api_query(req, c->st->stmt_refs, (int)res->field_count + 1, refs, on_refs);
}

/* The database's answer to a write: a violated constraint named by the
 * conventions of 0005_planning.sql says which field was wrong. */
static void respond_write_error(http_request_t *req, res_ctx_t *c, const PGresult *res_pg)
{
    const resource_t *res = c->st->res;
    const char *state = PQresultErrorField(res_pg, PG_DIAG_SQLSTATE);
    const char *constraint = PQresultErrorField(res_pg, PG_DIAG_CONSTRAINT_NAME);
    const char *kind = NULL;
    int i = state && constraint ? res_constraint_field(res, constraint, &kind) : -1;
    if (i == -2) { /* the parent went away meanwhile */
        http_respond_problem(req, 404, "not_found", NULL);
        return;
    }
    if (i < 0) {
        api_respond_db_error(req, res_pg);
        return;
    }
    const char *field = res->fields[i].f.name;
    /* Only a field declared unique is named; any other clash is the plain 409 conflict. */
    if (!strcmp(state, "23505") && !strcmp(kind, "unique") && res->fields[i].unique) {
        field_errors_add(&c->e, field, "taken");
        api_respond_errors(req, &c->e, 409, "conflict");
    } else if (!strcmp(state, "23503") && !strcmp(kind, "ref")) {
        respond_errors(req, c); /* names every bad reference, not only this one */
    } else if (!strcmp(state, "23514") && !strcmp(kind, "range")) {
        field_errors_add(&c->e, field, "invalid_range");
        api_respond_validation(req, &c->e);
    } else {
        api_respond_db_error(req, res_pg);
    }
}

/* One JSON object, or 404 when no row came back (missing, or another user's). */
static void on_object(http_request_t *req, PGresult *res_pg)
{
    res_ctx_t *c = req->ctx;
    const resource_t *res = c->st->res;
    if (PQresultStatus(res_pg) != PGRES_TUPLES_OK) {
        respond_write_error(req, c, res_pg);
        return;
    }
    int col = PQnfields(res_pg) - 1;
    if (PQntuples(res_pg) != 1 || PQgetisnull(res_pg, 0, col)) {
        http_respond_problem(req, 404, "not_found", NULL);
        return;
    }
    if (c->status == 201) {
        /* Location: the item pattern with this id. */
        const char *item = res->item, *at = strstr(item, "{id}");
        if (at)
            http_header_add(req, "Location",
                            arena_printf(&req->arena, "%.*s%s%s", (int)(at - item), item, PQgetvalue(res_pg, 0, 0),
                                         at + 4));
    }
    if (c->writes && !res->global)
        app_events_written(req->worker, req->auth.user_id);
    http_respond_json(req, c->status, PQgetvalue(res_pg, 0, col), (size_t)PQgetlength(res_pg, 0, col));
}

static void on_deleted(http_request_t *req, PGresult *res_pg)
{
    if (PQresultStatus(res_pg) != PGRES_TUPLES_OK) {
        /* Another row still refers to this one (a good to its category). */
        const char *state = PQresultErrorField(res_pg, PG_DIAG_SQLSTATE);
        if (state && !strcmp(state, "23503"))
            http_respond_problem(req, 409, "in_use", NULL);
        else
            api_respond_db_error(req, res_pg);
        return;
    }
    if (PQntuples(res_pg) != 1) {
        http_respond_problem(req, 404, "not_found", NULL);
        return;
    }
    const res_ctx_t *c = req->ctx;
    if (!c->st->res->global) /* the delete's triggers wrote the events of every row that went */
        app_events_written(req->worker, req->auth.user_id);
    http_respond(req, 204, NULL, NULL, 0);
}

/* Reads and checks the body into c->a from c->fields_at. On create and PUT
 * absent fields take their defaults; mask gets a bit per field to write.
 * Returns 0, or -1 after answering (or asking about references first). */
static int read_fields(http_request_t *req, res_ctx_t *c, body_mode_t mode, unsigned *mask)
{
    const resource_t *res = c->st->res;
    body_value_t v[RES_MAX_FIELDS];
    if (api_body_read(req, c->st->fields, res->field_count, mode, 0, v, &c->e))
        return -1;
    const char **out = c->a.v + c->fields_at;
    c->a.n = c->fields_at + (int)res->field_count;
    *mask = 0;
    for (size_t i = 0; i < res->field_count; i++) {
        const res_field_t *f = &res->fields[i];
        if (v[i].present && v[i].is_null && f->def && !(f->f.flags & FIELD_REQUIRED))
            /* a field with a default is never null */
            field_errors_add(&c->e, f->f.name, f->null_required ? "required" : "wrong_type");
        out[i] = v[i].present ? v[i].text : mode == BODY_CREATE ? f->def : NULL;
        if (v[i].present || mode == BODY_CREATE)
            *mask |= 1u << i;
    }
    /* end >= start when the body has both; a PATCH of one of them is checked
     * against the stored other by the table's CHECK. */
    for (size_t i = 0; i < res->field_count; i++) {
        int start = c->st->after[i];
        if (start >= 0 && v[i].text && v[start].text && body_time_cmp(v[i].text, v[start].text) < 0)
            field_errors_add(&c->e, res->fields[i].f.name, "invalid_range");
    }
    if (c->e.count) {
        respond_errors(req, c);
        return -1;
    }
    return 0;
}

static res_ctx_t *ctx_new(http_request_t *req, const res_state_t *st, int status)
{
    res_ctx_t *c = arena_calloc(&req->arena, sizeof(*c));
    c->st = st;
    c->status = status;
    field_errors_init(&c->e, req);
    req->ctx = c;
    return c;
}

static void create_row(http_request_t *req)
{
    res_ctx_t *c = ctx_new(req, state_of(req), 201);
    const resource_t *res = c->st->res;
    args_owner(req, res, &c->a);
    if (res->parent_param) {
        const char *parent = http_path_id(req, res->parent_param);
        if (!parent)
            return;
        c->a.v[c->a.n++] = parent;
    }
    c->fields_at = c->a.n;
    unsigned mask;
    if (read_fields(req, c, BODY_CREATE, &mask))
        return;
    c->writes = 1;
    api_query(req, c->st->stmt_create, c->a.n, c->a.v, on_object);
}

/* c->a holds the id and the owner. */
static void update_row(http_request_t *req, res_ctx_t *c, body_mode_t mode)
{
    int mask_at = c->a.n++;
    c->fields_at = c->a.n;
    unsigned mask;
    if (read_fields(req, c, mode, &mask))
        return;
    if (!mask) { /* an empty PATCH changes nothing, not even updated_at */
        api_query(req, c->st->stmt_get, mask_at, c->a.v, on_object);
        return;
    }
    c->a.v[mask_at] = http_int_param(req, mask);
    c->writes = 1;
    api_query(req, c->st->stmt_update, c->a.n, c->a.v, on_object);
}

/* The page envelope around the rows' JSON; next_cursor is the last id shown
 * when the statement found one row more than the limit. */
static void on_list(http_request_t *req, PGresult *res_pg)
{
    const res_ctx_t *c = req->ctx;
    if (PQresultStatus(res_pg) != PGRES_TUPLES_OK) {
        api_respond_db_error(req, res_pg);
        return;
    }
    int rows = PQntuples(res_pg);
    if (rows == 0 && c->st->res->parent_param) { /* the parent is not the caller's */
        http_respond_problem(req, 404, "not_found", NULL);
        return;
    }
    abuf_t b;
    size_t guess = 40;
    for (int i = 0; i < rows; i++)
        guess += (size_t)PQgetlength(res_pg, i, 1) + 1;
    abuf_init(&b, &req->arena, guess);
    abuf_puts(&b, "{\"items\":[");
    int shown = 0;
    for (int i = 0; i < rows && shown < c->limit; i++) {
        if (PQgetisnull(res_pg, i, 0))
            continue;
        if (shown++)
            abuf_puts(&b, ",");
        abuf_append(&b, PQgetvalue(res_pg, i, 1), (size_t)PQgetlength(res_pg, i, 1));
    }
    if (rows > c->limit)
        abuf_printf(&b, "],\"next_cursor\":\"%s\"}", PQgetvalue(res_pg, (int)c->limit - 1, 0));
    else
        abuf_puts(&b, "],\"next_cursor\":null}");
    http_respond_json(req, 200, b.data, b.len);
}

const void *res_route_data(const resource_t *res)
{
    for (int i = 0; i < state_count; i++)
        if (states[i].res == res)
            return &states[i];
    return NULL;
}

static void list_with(http_request_t *req, const res_state_t *st)
{
    const resource_t *res = st->res;
    res_ctx_t *c = ctx_new(req, st, 200);
    args_t *a = &c->a;
    args_owner(req, res, a);
    long long after;
    body_page_params(req, &c->e, &c->limit, &after);
    a->v[a->n++] = http_int_param(req, after);
    a->v[a->n++] = http_int_param(req, c->limit);
    if (res->parent_param) {
        const char *parent = http_path_id(req, res->parent_param);
        if (!parent)
            return;
        a->v[a->n++] = parent;
    }
    for (size_t i = 0; i < res->filter_count; i++)
        a->v[a->n++] = body_query_param(req, &st->filters[i], &c->e);
    if (c->e.count) {
        api_respond_validation(req, &c->e);
        return;
    }
    api_query(req, st->stmt_list, a->n, a->v, on_list);
}

void res_list(http_request_t *req, const resource_t *res)
{
    const res_state_t *st = res_route_data(res);
    assert(st); /* registered before the workers start */
    list_with(req, st);
}

/* The resource's own check of who is asking: 0, or -1 after its answer. */
static int refused(http_request_t *req)
{
    const resource_t *res = state_of(req)->res;
    return res->authorize && res->authorize(req);
}

void res_collection(http_request_t *req)
{
    if (refused(req))
        return;
    if (req->method == METHOD_POST)
        create_row(req);
    else
        list_with(req, state_of(req));
}

void res_item(http_request_t *req)
{
    if (refused(req))
        return;
    const char *id = http_path_id(req, "id");
    if (!id)
        return;
    res_ctx_t *c = ctx_new(req, state_of(req), 200);
    c->a.v[c->a.n++] = id;
    args_owner(req, c->st->res, &c->a);
    if (req->method == METHOD_PATCH || req->method == METHOD_PUT)
        update_row(req, c, req->method == METHOD_PUT ? BODY_CREATE : BODY_PATCH);
    else
        api_query(req, req->method == METHOD_DELETE ? c->st->stmt_delete : c->st->stmt_get, c->a.n, c->a.v,
                  req->method == METHOD_DELETE ? on_deleted : on_object);
}
