#ifndef HOURGLASS_RESOURCE_H
#define HOURGLASS_RESOURCE_H
#include <jansson.h>
#include <stddef.h>

#include "hourglass/api.h"
#include "hourglass/body.h"
#include "hourglass/http.h"

/* A plain CRUD resource, declared once as data (res_planning.c, api_music.c).
 * From the declaration res_engine.c derives the routes, the validation, the
 * prepared statements and the resource's part of the OpenAPI document.
 * The table follows the conventions written at the top of 0005_planning.sql. */

#define RES_MAX_FIELDS 16

typedef struct {
    body_field_t f;     /* name (= column), type, FIELD_REQUIRED, bounds, choices */
    const char *def;    /* default on create and PUT as SQL text; NULL: SQL NULL. A field
                           with a default is never null (sending null is wrong_type). */
    const char *ref;    /* the table a FIELD_ID refers to; the row must be the same user's
                           (any row, for a global resource) */
    unsigned unique : 1; /* unique per user (or in the table, for a global resource): a clash answers
                            409 naming the field */
    unsigned null_required : 1; /* with def: null answers `required`, as a missing required field
                                   would, not wrong_type */
    const char *after;  /* the field this one must not precede (end >= start): invalid_range */
    const char *doc;    /* a word for the OpenAPI description; may be NULL */
} res_field_t;

/* Shorthands for the fields that many declarations share: text, a reference
 * to a row of table, a boolean with its default. */
#define RES_TEXT(field, field_flags, least, most) \
    {.f = {.name = field, .type = FIELD_STRING, .flags = field_flags, .min = least, .max = most}}
#define RES_REF(field, field_flags, table) {.f = {.name = field, .type = FIELD_ID, .flags = field_flags}, .ref = table}
#define RES_FLAG(field, value) {.f = {.name = field, .type = FIELD_BOOL}, .def = value}
/* A declaration's fields and filters with their counts, so that no count is kept by hand. */
#define RES_FIELDS(list) .fields = (list), .field_count = ARRAY_LEN(list)
#define RES_FILTERS(list) .filters = (list), .filter_count = ARRAY_LEN(list)

typedef enum {
    FILTER_EQ,         /* column = value */
    FILTER_DATE_LE,    /* column (a date) <= value */
    FILTER_DATE_GE,    /* column (a date) >= value */
    FILTER_SEARCH,     /* value occurs (any case) in column or column2 */
    FILTER_TIME_FROM,  /* column (a time) >= the value's day, 00:00 UTC */
    FILTER_TIME_TO,    /* column (a time) < the day after the value, 00:00 UTC */
} res_filter_kind_t;

typedef struct {
    const char *param;   /* the query parameter */
    res_filter_kind_t kind;
    field_type_t type;   /* how the value is checked (FIELD_ENUM uses choices) */
    const char *column;
    const char *column2; /* FILTER_SEARCH's second column, or NULL */
    const char *const *choices;
} res_filter_t;

typedef struct resource {
    const char *name;       /* statement prefix and OpenAPI schema name, e.g. "Task" */
    const char *table;
    const char *tag;        /* OpenAPI tag */
    const char *collection; /* "/api/v1/tasks", or nested "/api/v1/kanban/cards/{card_id}/items" */
    const char *item;       /* "/api/v1/tasks/{id}" */
    /* A nested resource: the path parameter of collection, its column here,
     * and the parent's table; NULL for a top-level one. */
    const char *parent_param;
    const char *parent_table;
    unsigned global : 1;    /* not owner-scoped (no user_id column): the admin's music, the shop */
    unsigned route_flags;   /* ROUTE_AUTH, ROUTE_STAFF or ROUTE_ADMIN; with RES_PUBLIC_READ
                               only the writes need them */
    const res_field_t *fields;
    size_t field_count;
    const res_filter_t *filters;
    size_t filter_count;
    const char *summary;    /* a noun phrase for the documentation: "tasks" */
    /* The resource its change events name ("balance-wheel") when item is not
     * its /api/v1 address (an internal route on another's table); NULL: item's. */
    const char *changes_as;
    /* Who may ask, where no route flag can say it (the shop bot's
     * X-Bot-Token): 0, or -1 after answering. Runs before the engine reads
     * anything of the request. NULL: the route flags alone. */
    int (*authorize)(http_request_t *req);
} resource_t;

/* In route_flags: GET of the collection and of an item is public (anyone may
 * read a shop's catalogue); POST, PATCH, PUT and DELETE keep the other flags. */
#define RES_PUBLIC_READ 0x100u

/* The routes of one resource, one per method, in this order. */
typedef enum {
    RES_ROUTE_LIST,
    RES_ROUTE_CREATE,
    RES_ROUTE_GET,
    RES_ROUTE_PATCH,
    RES_ROUTE_PUT,
    RES_ROUTE_DELETE,
    RES_ROUTES_MAX
} res_route_t;

/* Each of a resource's routes: its method (all but GET write); how the
 * document names it (operationId and summary begin with id and summary, the
 * resource's name or noun phrase follows) and what it answers (schema and
 * body: suffixes of the resource's name; NULL: none). */
typedef struct {
    unsigned methods;
    const char *id, *summary, *answer, *schema, *body;
    int status;
} res_route_kind_t;
extern const res_route_kind_t res_route_kinds[RES_ROUTES_MAX];
/* res_route_t has the collection's routes first, then the item's. */
#define RES_ROUTE_ON_ITEM(kind) ((kind) >= RES_ROUTE_GET)

/* Fills the RES_ROUTES_MAX routes of res, documented by res_document, and
 * serves them (res_serve); a module may then give the reads a handler of its own. */
void res_register(const resource_t *res, api_route_t *routes);

/* Registers the statements of res and serves those of a module's own
 * entries whose pattern is res's collection or item: each gets the engine's
 * handler, data and flags, and its body fields when its method has a body.
 * The module documents them and leaves out the methods it does not serve.
 * Called once before the workers start. */
void res_serve(const resource_t *res, api_route_t *routes, size_t count);

/* The generic handlers; route data is what res_route_data answers. */
void res_collection(http_request_t *req);
void res_item(http_request_t *req);
/* The route data res_register gave res's routes (which resource a route of
 * the engine serves: res_shop.c); NULL if unregistered. */
const void *res_route_data(const resource_t *res);
/* A planning declaration of res_planning.c by its name ("Task"); NULL if none. */
const resource_t *planning_resource(const char *name);

/* A statement of its own that writes one row of an owned resource, as the
 * engine's do: write is "UPDATE <table> AS t SET ... WHERE ..." (no
 * RETURNING); the statement answers the row's id, its change event's id
 * and its object, and the change event (op "created" or "updated") is
 * written with it. The caller frees the text. */
char *res_write_sql(const resource_t *res, const char *write, const char *op);

/* GET of the collection, for a hand-written handler that checks more first. */
void res_list(http_request_t *req, const resource_t *res);

/* The resource whose route (of res_register) this is. */
const resource_t *res_of_route(const api_route_t *route);
/* The document hook of a resource's routes: the operation and the schemas
 * <name>, <name>Input and <name>Patch (res_openapi.c). */
void res_document(const api_route_t *route, http_method_t method, json_t *op, json_t *schemas);

/* A filter as the field its query value is checked as (and documented as). */
body_field_t res_filter_field(const res_filter_t *f);

/* "name:field" of a constraint named by the conventions, exposed for unit tests:
 * returns the field's index in res, or -1. kind gets "ref", "unique" or "range". */
int res_constraint_field(const resource_t *res, const char *constraint, const char **kind);

#endif
