#include "hourglass/api.h"
#include "hourglass/resource.h"
#include "unit.h"

static const res_field_t fields[] = {
    {.f = {"title", FIELD_STRING, FIELD_REQUIRED, 1, 200, NULL}, .unique = 1},
    {.f = {"end_date", FIELD_DATE, 0, 0, 0, NULL}},
    {.f = {"list_id", FIELD_ID, 0, 0, 0, NULL}, .ref = "lists"},
};
static const resource_t nested = {
    .name = "Thing", .table = "kanban_things", .tag = "t", .collection = "/a/{card_id}/things", .item = "/things/{id}",
    .parent_param = "card_id", .parent_table = "kanban_cards", .route_flags = ROUTE_AUTH, .fields = fields,
    .field_count = ARRAY_LEN(fields), .summary = "things",
};

TEST(resource_constraint_names_map_to_fields)
{
    const char *kind = NULL;
    CHECK(res_constraint_field(&nested, "kanban_things_title_unique", &kind) == 0);
    CHECK_STR(kind, "unique");
    CHECK(res_constraint_field(&nested, "kanban_things_end_date_range", &kind) == 1);
    CHECK_STR(kind, "range");
    CHECK(res_constraint_field(&nested, "kanban_things_list_id_ref", &kind) == 2);
    CHECK_STR(kind, "ref");
    /* the parent (a path parameter, not a field) answers -2: the parent is gone */
    CHECK(res_constraint_field(&nested, "kanban_things_card_id_ref", &kind) == -2);
    /* other tables, unknown fields, other suffixes and bare names are not ours */
    CHECK(res_constraint_field(&nested, "kanban_cards_title_unique", &kind) == -1);
    CHECK(res_constraint_field(&nested, "kanban_things_color_unique", &kind) == -1);
    CHECK(res_constraint_field(&nested, "kanban_things_title_key", &kind) == -1);
    CHECK(res_constraint_field(&nested, "kanban_things_unique", &kind) == -1);
    CHECK(res_constraint_field(&nested, "kanban_things", &kind) == -1);
    CHECK(res_constraint_field(&nested, "kanban_thingsx_title_unique", &kind) == -1);
}

/* Every declared planning resource gives its six routes, one per method on
 * the collection or the item, with the generic handlers, the resource's own
 * flags and the engine's documentation. */
TEST(resource_routes_come_from_declarations)
{
    const api_module_t *m = &api_planning_module;
    m->register_statements();
    CHECK(m->route_count >= 12 * RES_ROUTES_MAX && m->route_count % RES_ROUTES_MAX == 0);
    static const unsigned methods[RES_ROUTES_MAX] = {
        [RES_ROUTE_LIST] = ALLOW_GET,     [RES_ROUTE_CREATE] = ALLOW_POST, [RES_ROUTE_GET] = ALLOW_GET,
        [RES_ROUTE_PATCH] = ALLOW_PATCH, [RES_ROUTE_PUT] = ALLOW_PUT,     [RES_ROUTE_DELETE] = ALLOW_DELETE,
    };
    for (size_t i = 0; i < m->route_count; i += RES_ROUTES_MAX) {
        const api_route_t *r = &m->routes[i];
        for (int k = 0; k < RES_ROUTES_MAX; k++) {
            int item = k >= RES_ROUTE_GET;
            CHECK(r[k].http.methods == methods[k]);
            CHECK(!strcmp(r[k].http.pattern, item ? r[RES_ROUTE_GET].http.pattern : r[RES_ROUTE_LIST].http.pattern));
            CHECK(r[k].http.handler == (item ? res_item : res_collection));
            CHECK(r[k].http.flags & ROUTE_AUTH);
            CHECK(r[k].document == res_document && r[k].tag && r[k].http.data == r[0].http.data);
        }
        CHECK(strstr(r[RES_ROUTE_GET].http.pattern, "{id}") != NULL);
        CHECK(strcmp(r[RES_ROUTE_LIST].http.pattern, r[RES_ROUTE_GET].http.pattern));
        CHECK(res_of_route(&r[0]) != NULL);
    }
}

/* The shop's resources are global with public reads: their reads without
 * flags, their writes for staff. Every read is the shop's own (answered from
 * memory when it can be; goods and variations by their SQL functions, which
 * take filters), and every write one handler that drops what it changes
 * before the engine's write. */
TEST(resource_public_reads_split_the_routes)
{
    const api_module_t *m = &api_shop_module;
    m->register_statements();
    CHECK(m->route_count > RES_ROUTES_MAX * 10);
    http_handler_fn create = m->routes[RES_ROUTE_CREATE].http.handler, write = m->routes[RES_ROUTE_PUT].http.handler;
    CHECK(create != res_collection && create != res_item && write == create);
    size_t own_reads = 0, filtered = 0;
    for (size_t i = 0; i + RES_ROUTES_MAX <= m->route_count; i += RES_ROUTES_MAX) {
        const api_route_t *r = &m->routes[i];
        for (int k = 0; k < RES_ROUTES_MAX; k++)
            CHECK(r[k].http.flags == (k == RES_ROUTE_LIST || k == RES_ROUTE_GET ? 0 : ROUTE_STAFF));
        CHECK(r[RES_ROUTE_LIST].http.methods == ALLOW_GET && r[RES_ROUTE_GET].http.methods == ALLOW_GET);
        CHECK(r[RES_ROUTE_CREATE].http.methods == ALLOW_POST && r[RES_ROUTE_DELETE].http.methods == ALLOW_DELETE);
        CHECK(!strcmp(r[RES_ROUTE_LIST].http.pattern, r[RES_ROUTE_CREATE].http.pattern));
        CHECK(!strcmp(r[RES_ROUTE_GET].http.pattern, r[RES_ROUTE_DELETE].http.pattern));
        CHECK(r[RES_ROUTE_CREATE].http.handler == create);
        CHECK(r[RES_ROUTE_PATCH].http.handler == write && r[RES_ROUTE_PUT].http.handler == write &&
              r[RES_ROUTE_DELETE].http.handler == write);
        own_reads += r[RES_ROUTE_LIST].http.handler != res_collection && r[RES_ROUTE_GET].http.handler != res_item;
        filtered += r[RES_ROUTE_LIST].query_count > 0;
    }
    CHECK(own_reads == 10); /* the eight dictionaries, goods and variations */
    CHECK(filtered == 2);   /* goods and variations */
}

/* The bot's telegram-users are the engine's, under entries the module
 * documents itself: each gets the generic handler for its pattern, the
 * resource as its data, no flags (the resource's hook checks X-Bot-Token),
 * its body fields where its method has a body, and no PUT is served. */
TEST(resource_served_under_a_modules_own_entries)
{
    const api_module_t *m = &api_shop_orders_module;
    m->register_statements();
    const void *data = NULL;
    unsigned methods = 0;
    for (size_t i = 0; i < m->route_count; i++) {
        const api_route_t *r = &m->routes[i];
        if (!strstr(r->http.pattern, "/telegram-users"))
            continue;
        int item = strstr(r->http.pattern, "{id}") != NULL;
        CHECK(r->http.handler == (item ? res_item : res_collection));
        CHECK(r->http.data != NULL && (!data || r->http.data == data));
        data = r->http.data;
        CHECK(r->http.flags == 0 && r->summary && !r->document);
        CHECK(r->body_count == (r->http.methods & (ALLOW_POST | ALLOW_PATCH) ? 2u : 0u));
        CHECK(!strcmp(res_of_route(r)->table, "telegram_users") && res_of_route(r)->authorize);
        methods |= r->http.methods << (item ? METHOD_COUNT : 0);
    }
    CHECK(methods == (ALLOW_GET | ALLOW_POST | ((ALLOW_GET | ALLOW_PATCH | ALLOW_DELETE) << METHOD_COUNT)));
}
