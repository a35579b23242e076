/* The shop's catalogue (API.md "Shop"): the eight reference lists, goods and
 * variations are declarations for the resource engine (res_engine.c) over
 * 0011_shop.sql, global, read by anyone and written by staff. Goods and
 * variations are read through the SQL functions that hide what staff hid and
 * add a good's variations and image urls in the same statement; the engine
 * keeps their writes. Every public read is answered from the worker's memory
 * when it can be (shop_cache.h), and every write drops what it changes. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hourglass/api.h"
#include "hourglass/api_auth.h"
#include "hourglass/bridge.h"
#include "hourglass/resource.h"
#include "hourglass/shop_cache.h"

#define SHOP_WRITES (ROUTE_STAFF | RES_PUBLIC_READ)
#define INT_MAX_VALUE 2147483647LL /* the int columns: amount, weight */
#define MONEY_MAX INT64_MAX        /* minor units, bigint */
#define Q_MAX_CHARS 200
#define EMPTY_PAGE "{\"items\":[],\"next_cursor\":null}"

#define NAME(most) \
    {.f = {.name = "name", .type = FIELD_STRING, .flags = FIELD_REQUIRED, .min = 1, .max = most}, .unique = 1}

/* A global resource of the shop at /api/v1/shop/<path>, read by anyone and written by staff. */
#define SHOP_RESOURCE(schema, table_name, path, field_list, noun)                                            \
    {.name = schema, .table = table_name, .tag = "shop", .collection = "/api/v1/shop/" path,                  \
     .item = "/api/v1/shop/" path "/{id}", .global = 1, .route_flags = SHOP_WRITES, RES_FIELDS(field_list), \
     .summary = noun}

static const res_field_t name_fields[] = {NAME(200)};
static const res_field_t care_fields[] = {NAME(2000)};
static const res_field_t color_fields[] = {NAME(200), RES_TEXT("code", FIELD_REQUIRED, 1, 50)};

static const res_field_t good_fields[] = {
    RES_TEXT("name", FIELD_REQUIRED, 1, 200),
    RES_TEXT("article", FIELD_REQUIRED, 1, 100),
    {.f = {.name = "external_id", .type = FIELD_STRING, .min = 1, .max = 100},
     .unique = 1, .doc = "the 1C id the weight report names"},
    RES_REF("category_id", FIELD_REQUIRED, "shop_categories"),
    RES_TEXT("barcode", 0, 0, 100),
    RES_REF("composition_id", FIELD_REQUIRED, "compositions"),
    RES_REF("care_id", 0, "care"),
    RES_TEXT("description", FIELD_REQUIRED, 0, 10000),
    RES_FLAG("is_visible", "true"),
    {.f = {.name = "weight", .type = FIELD_INT, .flags = FIELD_REQUIRED, .max = INT_MAX_VALUE}, .doc = "grams"},
};

static const res_field_t variation_fields[] = {
    RES_REF("good_id", FIELD_REQUIRED, "goods"),
    RES_TEXT("name", FIELD_REQUIRED, 1, 200),
    RES_REF("color_id", FIELD_REQUIRED, "colors"),
    RES_REF("size_id", FIELD_REQUIRED, "sizes"),
    {.f = {.name = "price", .type = FIELD_BIGINT, .flags = FIELD_REQUIRED, .max = MONEY_MAX}, .doc = "minor units"},
    {.f = {.name = "discounted_price", .type = FIELD_BIGINT, .max = MONEY_MAX},
     .doc = "minor units, at most the price (422 invalid_range otherwise)"},
    {.f = {.name = "external_id", .type = FIELD_STRING, .min = 1, .max = 100},
     .unique = 1, .doc = "the 1C id the stock report names"},
    {.f = {.name = "amount", .type = FIELD_INT, .flags = FIELD_REQUIRED, .max = INT_MAX_VALUE}, .doc = "in stock"},
    RES_TEXT("barcode", 0, 0, 100),
    RES_FLAG("is_sale", "false"),
    RES_FLAG("is_new", "false"),
    RES_FLAG("is_default", "false"),
};

/* The reference lists (a unique name, and nothing else but for colors), then goods and variations. */
enum { RESOURCE_GOODS = 8, RESOURCE_VARIATIONS, RESOURCE_COUNT };
static const resource_t resources[RESOURCE_COUNT] = {
    SHOP_RESOURCE("ShopMaterial", "materials", "materials", name_fields, "materials"),
    SHOP_RESOURCE("ShopCategory", "shop_categories", "categories", name_fields, "categories of goods"),
    SHOP_RESOURCE("ShopComposition", "compositions", "compositions", name_fields, "compositions"),
    SHOP_RESOURCE("ShopCare", "care", "care", care_fields, "care instructions"),
    SHOP_RESOURCE("ShopSize", "sizes", "sizes", name_fields, "sizes"),
    SHOP_RESOURCE("ShopColor", "colors", "colors", color_fields, "colors"),
    SHOP_RESOURCE("ShopOrderStatus", "order_statuses", "order-statuses", name_fields, "order statuses"),
    SHOP_RESOURCE("ShopDeliveryType", "delivery_types", "delivery-types", name_fields, "delivery types"),
    [RESOURCE_GOODS] = SHOP_RESOURCE("ShopGood", "goods", "goods", good_fields, "goods"),
    [RESOURCE_VARIATIONS] =
        SHOP_RESOURCE("ShopVariation", "variations", "variations", variation_fields, "variations of goods"),
};

static int stmt_goods_page, stmt_good_get, stmt_variations_page, stmt_variation_get;

/* The parameters of shop_goods_page, in order: staff, the filters, after, limit. */
enum { GOODS_STAFF, GOODS_CATEGORY, GOODS_SALE, GOODS_NEW, GOODS_PRICE_MIN, GOODS_PRICE_MAX, GOODS_Q, GOODS_AFTER,
       GOODS_LIMIT, GOODS_PARAMS };
static const body_field_t goods_filters[] = {
    [GOODS_CATEGORY - 1] = {.name = "category_id", .type = FIELD_ID},
    [GOODS_SALE - 1] = {.name = "is_sale", .type = FIELD_BOOL},
    [GOODS_NEW - 1] = {.name = "is_new", .type = FIELD_BOOL},
    [GOODS_PRICE_MIN - 1] = {.name = "price_min", .type = FIELD_BIGINT, .max = MONEY_MAX},
    [GOODS_PRICE_MAX - 1] = {.name = "price_max", .type = FIELD_BIGINT, .max = MONEY_MAX},
    [GOODS_Q - 1] = {.name = "q", .type = FIELD_STRING, .max = Q_MAX_CHARS},
};
static const body_field_t variation_filters[] = {
    {.name = "good_id", .type = FIELD_ID},
};

/* The goods an answer shows (column 1, a bigint[]), for its invalidation. */
static void shows_column(http_request_t *req, const PGresult *res)
{
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 && PQnfields(res) > 1 && !PQgetisnull(res, 0, 1))
        shop_cache_shows(req, PQgetvalue(res, 0, 1));
}

/* The page a function answered whole; NULL is a good that is missing (or
 * hidden): 404 for its nested list (a path with its {id}), an empty page
 * where it was a filter. */
static void on_page(http_request_t *req, PGresult *res)
{
    shows_column(req, res);
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 && PQgetisnull(res, 0, 0) &&
        !http_param(req, "id"))
        http_respond_json(req, 200, EMPTY_PAGE, strlen(EMPTY_PAGE));
    else
        api_respond_json_row(req, res, 200);
}

/* A number a query or path gave, as one spelling: "007" and "7" are one key. */
static long long number_of(const char *text) { return text ? strtoll(text, NULL, 10) : 0; }

/* The key of an answer: the route and its query with every value checked
 * and in a fixed order, defaults filled in (API.md's "limit" 50). */
static const char *page_key(http_request_t *req, const char *route, const char *filters, long long after,
                            long long limit)
{
    return arena_printf(&req->arena, "%s?%s&after=%lld&limit=%lld", route, filters, after, limit);
}

static void goods_list(http_request_t *req)
{
    field_errors_t e;
    field_errors_init(&e, req);
    const char *p[GOODS_PARAMS];
    for (size_t i = 0; i < ARRAY_LEN(goods_filters); i++)
        p[GOODS_CATEGORY + i] = body_query_param(req, &goods_filters[i], &e);
    long long limit, after;
    body_page_params(req, &e, &limit, &after);
    const char *min = p[GOODS_PRICE_MIN], *max = p[GOODS_PRICE_MAX];
    if (min && max && strtoll(max, NULL, 10) < strtoll(min, NULL, 10))
        field_errors_add(&e, "price_max", "invalid_range");
    if (e.count) {
        api_respond_validation(req, &e);
        return;
    }
    int staff = api_caller_is_staff(req);
    /* q last: it is the one value that may hold any character */
    const char *filters = arena_printf(&req->arena, "category_id=%lld&is_sale=%s&is_new=%s&price_min=%s&price_max=%s",
                                       number_of(p[GOODS_CATEGORY]), p[GOODS_SALE] ? p[GOODS_SALE] : "",
                                       p[GOODS_NEW] ? p[GOODS_NEW] : "",
                                       min ? arena_printf(&req->arena, "%lld", number_of(min)) : "",
                                       max ? arena_printf(&req->arena, "%lld", number_of(max)) : "");
    const char *key = arena_printf(&req->arena, "%s&q=%s", page_key(req, "goods", filters, after, limit),
                                   p[GOODS_Q] ? p[GOODS_Q] : "");
    if (shop_cache_read(req, key, SHOP_GOODS, staff))
        return;
    p[GOODS_STAFF] = staff ? "true" : "false";
    p[GOODS_AFTER] = http_int_param(req, after);
    p[GOODS_LIMIT] = http_int_param(req, limit);
    api_query(req, stmt_goods_page, GOODS_PARAMS, p, on_page);
}

/* One good or variation, by the function stmt calls with (id, staff); its
 * column 1 names the good it shows. */
static void on_object(http_request_t *req, PGresult *res)
{
    shows_column(req, res);
    api_on_json_row(req, res);
}

static void object_get(http_request_t *req, const char *route, int stmt)
{
    const char *id = http_path_id(req, "id");
    if (!id)
        return;
    int staff = api_caller_is_staff(req);
    if (shop_cache_read(req, arena_printf(&req->arena, "%s/%lld", route, number_of(id)), SHOP_GOODS, staff))
        return;
    const char *p[] = {id, staff ? "true" : "false"};
    api_query(req, stmt, ARRAY_LEN(p), p, on_object);
}

static void good_get(http_request_t *req) { object_get(req, "goods", stmt_good_get); }

/* Variations of one good (nested: the path's {id}, 404 without it) or of all, by good_id. */
static void variations_list(http_request_t *req)
{
    int nested = http_param(req, "id") != NULL;
    const char *good_id = nested ? http_path_id(req, "id") : NULL;
    if (nested && !good_id)
        return;
    field_errors_t e;
    field_errors_init(&e, req);
    long long limit, after;
    body_page_params(req, &e, &limit, &after);
    if (!nested)
        good_id = body_query_param(req, &variation_filters[0], &e);
    if (e.count) {
        api_respond_validation(req, &e);
        return;
    }
    int staff = api_caller_is_staff(req);
    const char *filter = arena_printf(&req->arena, "good_id=%lld", number_of(good_id));
    if (shop_cache_read(req, page_key(req, nested ? "goods/variations" : "variations", filter, after, limit),
                        SHOP_GOODS, staff))
        return;
    const char *p[] = {staff ? "true" : "false", good_id, http_int_param(req, after), http_int_param(req, limit)};
    api_query(req, stmt_variations_page, ARRAY_LEN(p), p, on_page);
}

static void variation_get(http_request_t *req) { object_get(req, "variations", stmt_variation_get); }

/* The resource a route of the engine serves. */
static const resource_t *resource_of(const http_request_t *req)
{
    for (size_t i = 0; i < ARRAY_LEN(resources); i++)
        if (res_route_data(&resources[i]) == req->route_data)
            return &resources[i];
    assert(!"a shop route without its resource");
    return NULL;
}

/* The engine's reads of a dictionary, which is the same for everyone. */
static void dictionary_list(http_request_t *req)
{
    const resource_t *res = resource_of(req);
    field_errors_t e;
    field_errors_init(&e, req);
    long long limit, after;
    body_page_params(req, &e, &limit, &after);
    /* with errors the engine answers them */
    if (!e.count && shop_cache_read(req, page_key(req, res->collection, "", after, limit),
                                    shop_cache_table_key(res->table), 0))
        return;
    res_collection(req);
}

static void dictionary_get(http_request_t *req)
{
    const resource_t *res = resource_of(req);
    const char *id = http_path_id(req, "id");
    if (!id || shop_cache_read(req, arena_printf(&req->arena, "%s/%lld", res->collection, number_of(id)),
                               shop_cache_table_key(res->table), 0))
        return;
    res_item(req);
}

/* The engine's writes (POST to the collection, the others to an item), which
 * drop what they change first. Deleting a good takes its pictures with it. */
static void engine_write(http_request_t *req)
{
    unsigned key = shop_cache_table_key(resource_of(req)->table);
    shop_cache_write(req, key == SHOP_GOODS && req->method == METHOD_DELETE ? SHOP_GOODS | SHOP_IMAGES : key);
    if (req->method == METHOD_POST)
        res_collection(req);
    else
        res_item(req);
}

/* The engine's routes, filled by register_resources, then a good's variations. */
static api_route_t shop_routes[ARRAY_LEN(resources) * RES_ROUTES_MAX + 1] = {
    [ARRAY_LEN(resources) * RES_ROUTES_MAX] = {
        .http = {.methods = ALLOW_GET, .pattern = "/api/v1/shop/goods/{id}/variations", .handler = variations_list},
        .summary = "A good's variations, in id order", .response = "ShopVariationPage",
        .doc = API_PAGED | API_CACHED},
};

/* The engine writes goods and variations; reading them is the SQL functions',
 * filtered by the query parameters of `filters` (after the paging ones). */
static void read_with(int res, http_handler_fn list, http_handler_fn get, const body_field_t *filters,
                      size_t filter_count)
{
    api_route_t *r = &shop_routes[res * RES_ROUTES_MAX];
    r[RES_ROUTE_LIST].http.handler = list;
    r[RES_ROUTE_LIST].query = filters;
    r[RES_ROUTE_LIST].query_count = filter_count;
    r[RES_ROUTE_GET].http.handler = get;
}

static void register_resources(void)
{
    for (size_t i = 0; i < ARRAY_LEN(resources); i++) {
        api_route_t *r = &shop_routes[i * RES_ROUTES_MAX];
        res_register(&resources[i], r);
        for (int k = 0; k < RES_ROUTES_MAX; k++)
            r[k].http.handler = k == RES_ROUTE_LIST  ? dictionary_list
                                : k == RES_ROUTE_GET ? dictionary_get
                                                     : engine_write;
        r[RES_ROUTE_LIST].doc |= API_CACHED;
        r[RES_ROUTE_GET].doc |= API_CACHED;
    }
    read_with(RESOURCE_GOODS, goods_list, good_get, goods_filters, ARRAY_LEN(goods_filters));
    read_with(RESOURCE_VARIATIONS, variations_list, variation_get, variation_filters, ARRAY_LEN(variation_filters));
    stmt_goods_page = db_statement_register(
        "shop_goods_page", "SELECT body::text, goods::text FROM shop_goods_page($1::boolean, $2::bigint, $3::boolean, "
                           "$4::boolean, $5::bigint, $6::bigint, $7::text, $8::bigint, $9::int)");
    stmt_good_get = db_statement_register(
        "shop_good_get", "SELECT j::text, '{' || $1 || '}' FROM shop_good_get($1::bigint, $2::boolean) j");
    stmt_variations_page = db_statement_register(
        "shop_variations_page",
        "SELECT body::text, goods::text FROM shop_variations_page($1::boolean, $2::bigint, $3::bigint, $4::int)");
    stmt_variation_get = db_statement_register(
        "shop_variation_get",
        "SELECT j::text, '{' || (j->>'good_id') || '}' FROM shop_variation_get($1::bigint, $2::boolean) j");
}

const api_module_t api_shop_module = {
    .name = "shop", .tag = "shop", .routes = shop_routes, .route_count = ARRAY_LEN(shop_routes),
    .register_statements = register_resources,
};
