#include "hourglass/api.h"
#include "hourglass/resource.h"
#include "unit.h"

static const res_field_t fields[] = {
    {.f = {"title", FIELD_STRING, FIELD_REQUIRED, 1, 200, NULL}, .unique = 1},
    {.f = {"end_date", FIELD_DATE, 0, 0, 0, NULL}},
    {.f = {"list_id", FIELD_ID, 0, 0, 0, NULL}, .ref = "lists"},
};
static const resource_t nested = {
    "Thing", "kanban_things", "t", "/a/{card_id}/things", "/things/{id}", "card_id", "kanban_cards", 0, ROUTE_AUTH,
    fields, 3, NULL, 0, "things",
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

/* Every declared planning resource gives a collection and an item route, with
 * the generic handlers and the resource's own flags. */
TEST(resource_routes_come_from_declarations)
{
    const api_module_t *m = &api_planning_module;
    m->register_statements();
    CHECK(m->route_count >= 24 && m->route_count % 2 == 0);
    for (size_t i = 0; i < m->route_count; i += 2) {
        const http_route_t *c = &m->routes[i], *it = &m->routes[i + 1];
        CHECK(c->pattern && it->pattern && c->handler == res_collection && it->handler == res_item);
        CHECK(c->methods == (ALLOW_GET | ALLOW_POST));
        CHECK(it->methods == (ALLOW_GET | ALLOW_PATCH | ALLOW_PUT | ALLOW_DELETE));
        CHECK(c->flags & ROUTE_AUTH && it->flags & ROUTE_AUTH);
        CHECK(strstr(it->pattern, "{id}") != NULL);
    }
}

/* The shop's resources are global with public reads: four routes each, the
 * reads without flags, the writes for staff; goods and variations are read
 * by handlers of their own. */
TEST(resource_public_reads_split_the_routes)
{
    const api_module_t *m = &api_shop_module;
    m->register_statements();
    CHECK(m->route_count > RES_ROUTES_MAX * 10);
    size_t own_reads = 0;
    for (size_t i = 0; i + RES_ROUTES_MAX <= m->route_count; i += RES_ROUTES_MAX) {
        const http_route_t *r = &m->routes[i];
        CHECK(r[RES_ROUTE_LIST].methods == ALLOW_GET && r[RES_ROUTE_LIST].flags == 0);
        CHECK(r[RES_ROUTE_GET].methods == ALLOW_GET && r[RES_ROUTE_GET].flags == 0);
        CHECK(r[RES_ROUTE_CREATE].methods == ALLOW_POST && r[RES_ROUTE_CREATE].flags == ROUTE_STAFF);
        CHECK(r[RES_ROUTE_WRITE].methods == (ALLOW_PATCH | ALLOW_PUT | ALLOW_DELETE));
        CHECK(r[RES_ROUTE_WRITE].flags == ROUTE_STAFF);
        CHECK(!strcmp(r[RES_ROUTE_LIST].pattern, r[RES_ROUTE_CREATE].pattern));
        CHECK(!strcmp(r[RES_ROUTE_GET].pattern, r[RES_ROUTE_WRITE].pattern));
        CHECK(r[RES_ROUTE_CREATE].handler == res_collection && r[RES_ROUTE_WRITE].handler == res_item);
        own_reads += r[RES_ROUTE_LIST].handler != res_collection;
        CHECK((r[RES_ROUTE_LIST].handler != res_collection) == (r[RES_ROUTE_GET].handler != res_item));
    }
    CHECK(own_reads == 2); /* goods and variations */
}
