/* The shop's catalogue beyond plain CRUD (res_shop.c has that): pictures of
 * goods, stored as avatars are, and the 1C imports of stock and weights.
 * An import is one statement, one transaction: the file is read line by line
 * into three array parameters (import_csv.c), and a file with any broken line
 * sends nothing at all. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "hourglass/api.h"
#include "hourglass/bridge.h"
#include "hourglass/forms.h"
#include "hourglass/import_csv.h"
#include "hourglass/openapi.h"

/* API.md: a picture is at most 5 MiB (the multipart envelope gets room beyond it). */
#define IMAGE_MAX_BYTES ((size_t)5 * 1024 * 1024)
/* A new picture is a new row, so the bytes behind a URL never change. */
#define IMAGE_CACHE_CONTROL "public, max-age=31536000, immutable"
/* The 1C reports: 50 000 lines are about 2 MB. */
#define IMPORT_MAX_BYTES ((size_t)16 * 1024 * 1024)
#define POSITION_MAX 1000000

static int stmt_image_create, stmt_image_get, stmt_image_delete, stmt_stock_set, stmt_weights_set;

/* Field errors that a SQL function answered as {"errors":[{"field","code"}]}. */
static void respond_sql_errors(http_request_t *req, const char *body)
{
    field_errors_t e;
    field_errors_init(&e, req);
    json_t *doc = json_loads(body, 0, NULL);
    size_t i;
    json_t *err;
    json_array_foreach(json_object_get(doc, "errors"), i, err) {
        const char *field = json_string_value(json_object_get(err, "field"));
        const char *code = json_string_value(json_object_get(err, "code"));
        if (field && code)
            field_errors_add(&e, field, code);
    }
    json_decref(doc);
    api_respond_validation(req, &e);
}

/* ---------------------------------------------------------------- images */

static const body_field_t image_form[] = {
    {"good_id", FIELD_ID, FIELD_REQUIRED, 0, 0, NULL},
    {"position", FIELD_INT, 0, 0, POSITION_MAX, NULL},
};

static void on_image_created(http_request_t *req, PGresult *res)
{
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        api_respond_db_error(req, res);
        return;
    }
    if (!PQgetisnull(res, 0, 0)) {
        respond_sql_errors(req, PQgetvalue(res, 0, 1));
        return;
    }
    json_t *doc = json_loads(PQgetvalue(res, 0, 1), 0, NULL);
    const char *url = json_string_value(json_object_get(doc, "url"));
    if (url)
        http_header_add(req, "Location", arena_strdup(&req->arena, url));
    json_decref(doc);
    http_respond_json(req, 201, PQgetvalue(res, 0, 1), (size_t)PQgetlength(res, 0, 1));
}

/* A text field of a form, checked as a query value is; NULL when absent or broken. */
static const char *form_value(const form_field_t *fields, size_t n, const body_field_t *f, field_errors_t *e)
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
    const char *good_id = form_value(fields, n, &image_form[0], &e);
    const char *position = form_value(fields, n, &image_form[1], &e);
    if (e.count) {
        api_respond_validation(req, &e);
        return;
    }
    api_image_t img;
    if (api_image_accept(req, file->value, file->value_len, IMAGE_MAX_BYTES, &img))
        return;
    const char *p[5] = {good_id, position, img.type, img.hex, img.sha256};
    api_query(req, stmt_image_create, 5, p, on_image_created);
}

static void on_image(http_request_t *req, PGresult *res) { api_image_respond(req, res, IMAGE_CACHE_CONTROL); }

static void image_get(http_request_t *req)
{
    const char *id = http_path_id(req, "id");
    if (!id)
        return;
    const char *p[2] = {id, api_if_none_match(req)};
    api_query(req, stmt_image_get, 2, p, on_image);
}

static void on_image_deleted(http_request_t *req, PGresult *res)
{
    if (!api_found_row(req, res))
        http_respond(req, 204, NULL, NULL, 0);
}

static void image_delete(http_request_t *req)
{
    const char *id = http_path_id(req, "id");
    if (!id)
        return;
    const char *p[1] = {id};
    api_query(req, stmt_image_delete, 1, p, on_image_deleted);
}

/* ---------------------------------------------------------------- imports */

/* An item of a JSON list, as the fields of a body: the stock's or the weights'. */
static const body_field_t stock_item[] = {
    {"external_id", FIELD_STRING, FIELD_REQUIRED, 1, IMPORT_ID_MAX_CHARS, NULL},
    {"amount", FIELD_INT, FIELD_REQUIRED, 0, IMPORT_VALUE_MAX, NULL},
};
static const body_field_t weight_item[] = {
    {"external_id", FIELD_STRING, FIELD_REQUIRED, 1, IMPORT_ID_MAX_CHARS, NULL},
    {"weight", FIELD_INT, FIELD_REQUIRED, 0, IMPORT_VALUE_MAX, NULL},
};

/* A JSON list of items: checked whole, each item's errors at "[i].field". */
static int json_rows(http_request_t *req, const body_field_t *item_fields, import_rows_t *rows, field_errors_t *e)
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
        body_value_t v[2];
        e->prefix = arena_printf(&req->arena, "%s.", at);
        body_check_object(req, item, item_fields, 2, BODY_CREATE, v, e);
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

static void import_run(http_request_t *req, int stmt, const body_field_t *item_fields)
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
    if (csv ? csv_rows(req, &rows, &e) : json_rows(req, item_fields, &rows, &e))
        return;
    const char *p[3] = {rows.ids.data, rows.values.data, csv ? rows.lines.data : NULL};
    api_query(req, stmt, 3, p, api_on_json_row);
}

static void stock_import(http_request_t *req) { import_run(req, stmt_stock_set, stock_item); }
static void weights_import(http_request_t *req) { import_run(req, stmt_weights_set, weight_item); }

/* ---------------------------------------------------------------- the module */

static const http_route_t catalogue_routes[] = {
    {ALLOW_POST, "/api/v1/shop/images", image_create, NULL, ROUTE_STAFF, IMAGE_MAX_BYTES},
    {ALLOW_GET, "/api/v1/shop/images/{id}", image_get, NULL, 0, 0},
    {ALLOW_DELETE, "/api/v1/shop/images/{id}", image_delete, NULL, ROUTE_STAFF, 0},
    {ALLOW_POST, "/api/v1/shop/variations/stock", stock_import, NULL, ROUTE_STAFF, IMPORT_MAX_BYTES},
    {ALLOW_POST, "/api/v1/shop/goods/weights", weights_import, NULL, ROUTE_STAFF, IMPORT_MAX_BYTES},
};

static void catalogue_register(void)
{
    stmt_image_create = db_statement_register(
        "shop_image_create", "SELECT error, body::text FROM shop_image_create($1::bigint, $2::int, $3, $4, $5)");
    stmt_image_get = db_statement_register("shop_image_get", "SELECT * FROM shop_image_get($1::bigint, $2)");
    stmt_image_delete = db_statement_register("shop_image_delete",
                                              "DELETE FROM shop_images WHERE id = $1::bigint RETURNING id");
    stmt_stock_set = db_statement_register("shop_stock_set",
                                           "SELECT shop_stock_set($1::text[], $2::int[], $3::int[])::text");
    stmt_weights_set = db_statement_register("shop_weights_set",
                                             "SELECT shop_weights_set($1::text[], $2::int[], $3::int[])::text");
}

static const body_field_t image_object[] = {
    {"id", FIELD_ID, FIELD_REQUIRED, 0, 0, NULL},
    {"good_id", FIELD_ID, FIELD_REQUIRED, 0, 0, NULL},
    {"position", FIELD_INT, FIELD_REQUIRED, 0, 0, NULL},
    {"content_type", FIELD_STRING, FIELD_REQUIRED, 0, 0, NULL},
    {"size", FIELD_INT, FIELD_REQUIRED, 0, 0, NULL},
    {"url", FIELD_STRING, FIELD_REQUIRED, 0, 0, NULL},
    {"created_at", FIELD_DATETIME, FIELD_REQUIRED, 0, 0, NULL},
};

static const openapi_extra_t catalogue_doc_extras[] = {
    {ALLOW_POST, "/api/v1/shop/images", 0, "413", NULL, 0,
     "Multipart: the file `image` (at most 5 MiB), `good_id`, optional `position` (order among the good's "
     "pictures, then id). The type is read from the bytes: PNG, JPEG, GIF or WebP, else 415."},
    {ALLOW_GET, "/api/v1/shop/images/{id}", OPENAPI_CACHED, NULL, NULL, 0,
     "An id's bytes never change: cached for a year, `ETag` the sha256 of the bytes."},
    {ALLOW_POST, "/api/v1/shop/variations/stock", 0, NULL, NULL, 0,
     "A JSON list `[{\"external_id\",\"amount\"}]`, or the 1C report as CSV (a multipart field `file`, or the "
     "body as text/csv): `external_id;amount` lines, `;` between fields, optionally quoted, a header line, UTF-8 "
     "(a BOM allowed) or Windows-1251, LF or CRLF; numbers as 1C writes them (`1 234`, `5,000`). One transaction: "
     "a broken line (each listed with its `line`, the header is line 1) changes nothing. Answers how many rows "
     "were named (`updated`) and which ids are unknown (with their lines from a CSV)."},
    {ALLOW_POST, "/api/v1/shop/goods/weights", 0, NULL, NULL, 0,
     "As the stock import, for `external_id;weight` (grams) of goods; a JSON list takes `weight`."},
};

static void catalogue_openapi(json_t *paths, json_t *schemas)
{
    json_object_set_new(schemas, "ShopImage", openapi_object_schema(image_object, ARRAY_LEN(image_object)));
    json_object_set_new(schemas, "ShopImageForm",
                        json_pack("{s:s, s:[s, s], s:{s:{s:s, s:s}, s:{s:s, s:i}, s:{s:s}}}", "type", "object",
                                  "required", "image", "good_id", "properties", "image", "type", "string", "format",
                                  "binary", "good_id", "type", "integer", "minimum", 1, "position", "type",
                                  "integer"));
    json_object_set_new(schemas, "ShopImportForm",
                        json_pack("{s:s, s:[s], s:{s:{s:s, s:s}}}", "type", "object", "required", "file",
                                  "properties", "file", "type", "string", "format", "binary"));
    json_object_set_new(
        schemas, "ShopImportResult",
        json_pack("{s:s, s:[s, s], s:{s:{s:s, s:i}, s:{s:s, s:{s:s, s:[s], s:{s:{s:s}, s:{s:s}}}}}}", "type",
                  "object", "required", "updated", "unknown", "properties", "updated", "type", "integer", "minimum",
                  0, "unknown", "type", "array", "items", "type", "object", "required", "external_id", "properties",
                  "external_id", "type", "string", "line", "type", "integer"));
    openapi_add_extras(paths, catalogue_doc_extras, ARRAY_LEN(catalogue_doc_extras));
    /* Besides the multipart form, a JSON list or the CSV as the body. */
    const struct {
        const char *pattern;
        const body_field_t *item;
    } imports[] = {{"/api/v1/shop/variations/stock", stock_item}, {"/api/v1/shop/goods/weights", weight_item}};
    for (size_t i = 0; i < ARRAY_LEN(imports); i++) {
        json_t *item = openapi_fields_schema(imports[i].item, 2, BODY_CREATE);
        json_t *content = json_pack("{s:{s:{s:s, s:o}}, s:{s:{s:s}}}", "application/json", "schema", "type",
                                    "array", "items", item, "text/csv", "schema", "type", "string");
        json_t *op = json_object_get(openapi_path_item(paths, imports[i].pattern), "post");
        json_object_set_new(op, "requestBody", json_pack("{s:o}", "content", content));
    }
}

static const route_doc_t catalogue_docs[] = {
    {ALLOW_POST, "/api/v1/shop/images", "shop", "Upload a picture of a good", NULL, 0, "ShopImageForm", 201,
     "ShopImage"},
    {ALLOW_GET, "/api/v1/shop/images/{id}", "shop", "A picture's bytes", NULL, 0, NULL, 200, "image/*"},
    {ALLOW_DELETE, "/api/v1/shop/images/{id}", "shop", "Delete a picture", NULL, 0, NULL, 204, NULL},
    {ALLOW_POST, "/api/v1/shop/variations/stock", "shop", "Set the stock from the 1C report", NULL, 0,
     "ShopImportForm", 200, "ShopImportResult"},
    {ALLOW_POST, "/api/v1/shop/goods/weights", "shop", "Set the goods' weights from the 1C report", NULL, 0,
     "ShopImportForm", 200, "ShopImportResult"},
};

const api_module_t api_shop_catalogue_module = {
    "shop catalogue", catalogue_routes, ARRAY_LEN(catalogue_routes), catalogue_register, catalogue_docs,
    ARRAY_LEN(catalogue_docs), catalogue_openapi,
};
