/* The shop's catalogue beyond plain CRUD (res_shop.c has that): pictures of
 * goods, stored as avatars are, and the 1C imports of stock and weights.
 * An import is one statement, one transaction: the file is read line by line
 * into three array parameters (import_csv.c), and a file with any broken line
 * sends nothing at all. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "hourglass/api.h"
#include "hourglass/api_images.h"
#include "hourglass/bridge.h"
#include "hourglass/forms.h"
#include "hourglass/import_csv.h"
#include "hourglass/shop_cache.h"

/* API.md: a picture is at most 5 MiB (the multipart envelope gets room beyond it). */
#define IMAGE_MAX_BYTES ((size_t)5 * 1024 * 1024)
/* A new picture is a new row, so the bytes behind a URL never change. */
#define IMAGE_CACHE_CONTROL "public, max-age=31536000, immutable"
/* The 1C reports: 50 000 lines are about 2 MB. */
#define IMPORT_MAX_BYTES ((size_t)16 * 1024 * 1024)
#define POSITION_MAX 1000000

static int stmt_image_create, stmt_image_get, stmt_image_delete, stmt_stock_set, stmt_weights_set;

static const body_field_t image_form[] = {
    {.name = "good_id", .type = FIELD_ID, .flags = FIELD_REQUIRED},
    {.name = "position", .type = FIELD_INT, .max = POSITION_MAX},
};

static void on_image_created(http_request_t *req, PGresult *res)
{
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        api_respond_db_error(req, res);
        return;
    }
    if (!PQgetisnull(res, 0, 0)) {
        api_respond_field_errors(req, PQgetvalue(res, 0, 1));
        return;
    }
    if (!PQgetisnull(res, 0, 2))
        http_header_add(req, "Location", arena_strdup(&req->arena, PQgetvalue(res, 0, 2)));
    http_respond_json(req, 201, PQgetvalue(res, 0, 1), (size_t)PQgetlength(res, 0, 1));
}

/* A text field of a form, checked as a query value is; NULL when absent or broken. */
static const char *checked_part(const form_field_t *fields, size_t n, const body_field_t *f, field_errors_t *e)
{
    const form_field_t *v = form_field_get(fields, n, f->name);
    if (!v || !v->value_len || v->filename) {
        if (f->flags & FIELD_REQUIRED)
            field_errors_add(e, f->name, "required");
        return NULL;
    }
    if (memchr(v->value, '\0', v->value_len)) {
        field_errors_add(e, f->name, "invalid_format");
        return NULL;
    }
    return body_text_param(f, v->value, e);
}

/* POST /images: multipart `image` (the file), `good_id`, optional `position`. */
static void image_create(http_request_t *req)
{
    if (!http_content_type_is(req, "multipart/form-data")) {
        http_respond_problem(req, 415, "unsupported_media_type", NULL);
        return;
    }
    form_field_t *fields;
    size_t n;
    if (api_multipart_fields(req, &fields, &n))
        return;
    field_errors_t e;
    field_errors_init(&e, req);
    const form_field_t *file = form_field_get(fields, n, "image");
    if (!file)
        field_errors_add(&e, "image", "required");
    const char *good_id = checked_part(fields, n, &image_form[0], &e);
    const char *position = checked_part(fields, n, &image_form[1], &e);
    if (e.count) {
        api_respond_validation(req, &e);
        return;
    }
    api_image_t img;
    if (api_image_accept(req, file->value, file->value_len, IMAGE_MAX_BYTES, &img))
        return;
    const char *p[] = {good_id, position, img.type, img.hex, img.sha256};
    shop_cache_write(req, SHOP_GOODS);
    api_query(req, stmt_image_create, ARRAY_LEN(p), p, on_image_created);
}

static void on_image(http_request_t *req, PGresult *res) { api_image_respond(req, res, IMAGE_CACHE_CONTROL); }

/* The bytes whole, to be kept: the cache answers If-None-Match itself. */
static void on_image_kept(http_request_t *req, PGresult *res)
{
    size_t len;
    const void *bytes = api_found_row(req, res) ? NULL : api_image_bytes(req, res, &len);
    if (!bytes)
        return;
    shop_cache_tag(req, arena_printf(&req->arena, "\"%s\"", PQgetvalue(res, 0, 1)));
    http_respond(req, 200, PQgetvalue(res, 0, 0), bytes, len);
}

static void image_get(http_request_t *req)
{
    const char *id = http_path_id(req, "id");
    if (!id)
        return;
    if (!shop_cache_on(req)) {
        const char *p[] = {id, api_if_none_match(req)};
        api_query(req, stmt_image_get, ARRAY_LEN(p), p, on_image);
        return;
    }
    if (shop_cache_picture_read(req, arena_printf(&req->arena, "images/%lld", http_parse_id(id)), IMAGE_CACHE_CONTROL))
        return;
    const char *p[] = {id, NULL};
    api_query(req, stmt_image_get, ARRAY_LEN(p), p, on_image_kept);
}

static void on_image_deleted(http_request_t *req, PGresult *res)
{
    if (!api_found_row(req, res))
        http_respond(req, 204, NULL, NULL, 0);
}

static void image_delete(http_request_t *req)
{
    shop_cache_write(req, SHOP_GOODS | SHOP_IMAGES);
    api_query_path_id(req, stmt_image_delete, on_image_deleted);
}

/* An item of a JSON list, as the fields of a body: the stock's or the weights'. */
#define IMPORT_ITEM_FIELDS 2 /* the id, then the value */
static const body_field_t stock_item[IMPORT_ITEM_FIELDS] = {
    {.name = "external_id", .type = FIELD_STRING, .flags = FIELD_REQUIRED, .min = 1, .max = IMPORT_ID_MAX_CHARS},
    {.name = "amount", .type = FIELD_INT, .flags = FIELD_REQUIRED, .max = IMPORT_VALUE_MAX},
};
static const body_field_t weight_item[IMPORT_ITEM_FIELDS] = {
    {.name = "external_id", .type = FIELD_STRING, .flags = FIELD_REQUIRED, .min = 1, .max = IMPORT_ID_MAX_CHARS},
    {.name = "weight", .type = FIELD_INT, .flags = FIELD_REQUIRED, .max = IMPORT_VALUE_MAX},
};

/* A JSON list of items: checked whole, each item's errors at "[i].field". */
static int rows_from_json(http_request_t *req, const body_field_t *item_fields, import_rows_t *rows, field_errors_t *e)
{
    json_error_t jerr;
    json_t *doc = json_loadb(req->body.data ? req->body.data : "", req->body.len, 0, &jerr);
    if (!doc) {
        http_respond_problem(req, 400, "malformed_json", NULL);
        return -1;
    }
    if (!json_is_array(doc)) {
        json_decref(doc);
        field_errors_add(e, "", "wrong_type");
        api_respond_validation(req, e);
        return -1;
    }
    import_rows_init(rows, &req->arena, req->body.len);
    size_t i;
    json_t *item;
    json_array_foreach(doc, i, item) {
        if (e->count >= IMPORT_MAX_ERRORS)
            break;
        const char *at = arena_printf(&req->arena, "[%zu]", i);
        if (!json_is_object(item)) {
            field_errors_add(e, at, "wrong_type");
            continue;
        }
        body_value_t v[IMPORT_ITEM_FIELDS];
        e->prefix = arena_printf(&req->arena, "%s.", at);
        body_check_object(req, item, item_fields, IMPORT_ITEM_FIELDS, BODY_CREATE, v, e);
        e->prefix = NULL;
        if (!e->count) /* a broken list sends nothing: stop building */
            import_rows_add(rows, v[0].text, strlen(v[0].text), strtoll(v[1].text, NULL, 10), 0);
    }
    json_decref(doc);
    import_rows_finish(rows);
    if (e->count) {
        api_respond_validation(req, e);
        return -1;
    }
    return 0;
}

/* The CSV: a multipart field `file` or the raw body. */
static int csv_rows(http_request_t *req, import_rows_t *rows, field_errors_t *e)
{
    const char *data = req->body.data ? req->body.data : "";
    size_t len = req->body.len;
    if (http_content_type_is(req, "multipart/form-data")) {
        form_field_t *fields;
        size_t n;
        if (api_multipart_fields(req, &fields, &n))
            return -1;
        const form_field_t *file = form_field_get(fields, n, "file");
        if (!file) {
            field_errors_add(e, "file", "required");
            api_respond_validation(req, e);
            return -1;
        }
        data = file->value;
        len = file->value_len;
    }
    if (!import_csv_parse(&req->arena, data, len, rows))
        return 0;
    if (rows->not_text)
        field_errors_add(e, "file", "invalid_format");
    for (size_t i = 0; i < rows->error_count && i < IMPORT_MAX_ERRORS; i++)
        field_errors_add_line(e, "file", rows->errors[i].line, rows->errors[i].code);
    api_respond_validation(req, e);
    return -1;
}

static void run_import(http_request_t *req, int stmt, const body_field_t *item_fields)
{
    field_errors_t e;
    field_errors_init(&e, req);
    import_rows_t rows;
    int csv;
    if (http_content_type_is(req, "application/json"))
        csv = 0;
    else if (http_content_type_is(req, "multipart/form-data") || http_content_type_is(req, "text/csv") ||
             http_content_type_is(req, "application/csv") || http_content_type_is(req, "text/plain"))
        csv = 1;
    else {
        http_respond_problem(req, 415, "unsupported_media_type", NULL);
        return;
    }
    if (csv ? csv_rows(req, &rows, &e) : rows_from_json(req, item_fields, &rows, &e))
        return;
    const char *p[] = {rows.ids.data, rows.values.data, csv ? rows.lines.data : NULL};
    shop_cache_write(req, SHOP_GOODS);
    api_query(req, stmt, ARRAY_LEN(p), p, api_on_json_row);
}

static void stock_import(http_request_t *req) { run_import(req, stmt_stock_set, stock_item); }
static void weights_import(http_request_t *req) { run_import(req, stmt_weights_set, weight_item); }

static void catalogue_register(void)
{
    stmt_image_create = db_statement_register("shop_image_create", "SELECT error, body::text, body->>'url'"
                                              " FROM shop_image_create($1::bigint, $2::int, $3, $4, $5)");
    stmt_image_get = db_statement_register("shop_image_get", "SELECT * FROM shop_image_get($1::bigint, $2)");
    stmt_image_delete = db_statement_register("shop_image_delete",
                                              "DELETE FROM shop_images WHERE id = $1::bigint RETURNING id");
    stmt_stock_set = db_statement_register("shop_stock_set",
                                           "SELECT shop_stock_set($1::text[], $2::int[], $3::int[])::text");
    stmt_weights_set = db_statement_register("shop_weights_set",
                                             "SELECT shop_weights_set($1::text[], $2::int[], $3::int[])::text");
}

static const api_route_t catalogue_routes[] = {
    {.http = {.methods = ALLOW_POST, .pattern = "/api/v1/shop/images", .handler = image_create, .flags = ROUTE_STAFF,
              .max_body = IMAGE_MAX_BYTES},
     .summary = "Upload a picture of a good", .status = 201, .response = "ShopImage", .body_schema = "ShopImageForm",
     .errors = "413"},
    {.http = {.methods = ALLOW_GET, .pattern = "/api/v1/shop/images/{id}", .handler = image_get},
     .summary = "A picture's bytes", .response = "image/*", .doc = API_CACHED},
    {.http = {.methods = ALLOW_DELETE, .pattern = "/api/v1/shop/images/{id}", .handler = image_delete,
              .flags = ROUTE_STAFF},
     .summary = "Delete a picture", .status = 204},
    /* A JSON list of items, a multipart field `file` or the CSV itself (docs/openapi/shop_catalogue.json). */
    {.http = {.methods = ALLOW_POST, .pattern = "/api/v1/shop/variations/stock", .handler = stock_import,
              .flags = ROUTE_STAFF, .max_body = IMPORT_MAX_BYTES},
     .summary = "Set the stock from the 1C report", .response = "ShopImportResult", .body = stock_item,
     .body_count = ARRAY_LEN(stock_item), .body_schema = "ShopImportForm", .doc = API_BODY_LIST},
    {.http = {.methods = ALLOW_POST, .pattern = "/api/v1/shop/goods/weights", .handler = weights_import,
              .flags = ROUTE_STAFF, .max_body = IMPORT_MAX_BYTES},
     .summary = "Set the goods' weights from the 1C report", .response = "ShopImportResult", .body = weight_item,
     .body_count = ARRAY_LEN(weight_item), .body_schema = "ShopImportForm", .doc = API_BODY_LIST},
};

const api_module_t api_shop_catalogue_module = {
    .name = "shop_catalogue", .tag = "shop", .routes = catalogue_routes, .route_count = ARRAY_LEN(catalogue_routes),
    .register_statements = catalogue_register,
};
