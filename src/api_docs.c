/* The API's documentation: /openapi.json (built by openapi.c), Swagger UI at
 * /docs and ReDoc at /redoc. Their files come from the npm packages at build
 * time (Swagger UI's start from docs/assets) and are compiled into the binary
 * (meson.build, docs_assets), so nothing is read from disk and no CDN is
 * needed. Every answer carries an ETag and is 304 to a matching
 * If-None-Match; asset URLs carry ?v=<etag>, so browsers may keep them for good. */
#include <stdio.h>
#include <string.h>

#include "hourglass/api.h"
#include "hourglass/embed.h"
#include "hourglass/http_etag.h"
#include "hourglass/openapi.h"

#define DOCS_MAX_ASSETS 16
#define DOCS_VERSION_CHARS 12 /* of the ETag, in ?v= */
#define DOCS_PAGE_MAX 2048
#define CACHE_REVALIDATE "no-cache"
#define CACHE_IMMUTABLE "public, max-age=31536000, immutable"

typedef struct {
    const char *name;
    const char *type;
    const char *data;
    size_t len;
    char etag[HTTP_ETAG_SIZE];
    char version[DOCS_VERSION_CHARS + 1]; /* the start of the ETag, so a new build means new URLs */
} docs_file_t;

static docs_file_t assets[DOCS_MAX_ASSETS];
static size_t asset_count;
static docs_file_t swagger_page, redoc_page;
static char swagger_html[DOCS_PAGE_MAX], redoc_html[DOCS_PAGE_MAX];

static const char *content_type(const char *name)
{
    static const struct {
        const char *ext;
        const char *type;
    } types[] = {
        {".css", "text/css; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"}, {".png", "image/png"},
        {".txt", "text/plain; charset=utf-8"}, {".html", "text/html; charset=utf-8"},
    };
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < ARRAY_LEN(types); i++)
        if (!strcmp(dot, types[i].ext))
            return types[i].type;
    return "application/octet-stream";
}

static void file_init(docs_file_t *f, const char *name, const char *type, const char *data, size_t len)
{
    f->name = name;
    f->type = type;
    f->data = data;
    f->len = len;
    http_etag(data, len, f->etag);
    memcpy(f->version, f->etag + 1, DOCS_VERSION_CHARS);
    f->version[DOCS_VERSION_CHARS] = '\0';
}

static const docs_file_t *asset_find(const char *name, size_t len)
{
    for (size_t i = 0; i < asset_count; i++)
        if (strlen(assets[i].name) == len && !memcmp(assets[i].name, name, len))
            return &assets[i];
    return NULL;
}

/* The ?v= of an asset. */
static const char *asset_version(const char *name)
{
    const docs_file_t *f = asset_find(name, strlen(name));
    return f ? f->version : "missing";
}

/* Once, before the workers start: ETags and the two pages that name the assets. */
static void docs_setup(void)
{
    asset_count = 0;
    for (size_t i = 0; i < docs_assets_count && asset_count < DOCS_MAX_ASSETS; i++)
        file_init(&assets[asset_count++], docs_assets[i].name, content_type(docs_assets[i].name), docs_assets[i].data,
                  docs_assets[i].len);

    /* Relative URLs: the pages keep working behind a proxy that adds a prefix. */
    int n = snprintf(swagger_html, sizeof(swagger_html),
                     "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                     "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                     "<title>hourglass API: Swagger UI</title>\n"
                     "<link rel=\"icon\" type=\"image/png\" href=\"docs/assets/favicon-32x32.png?v=%s\">\n"
                     "<link rel=\"stylesheet\" href=\"docs/assets/swagger-ui.css?v=%s\">\n</head>\n<body>\n"
                     "<div id=\"swagger-ui\"></div>\n"
                     "<script src=\"docs/assets/swagger-ui-bundle.js?v=%s\"></script>\n"
                     "<script src=\"docs/assets/swagger-init.js?v=%s\"></script>\n</body>\n</html>\n",
                     asset_version("favicon-32x32.png"), asset_version("swagger-ui.css"),
                     asset_version("swagger-ui-bundle.js"), asset_version("swagger-init.js"));
    file_init(&swagger_page, "docs", "text/html; charset=utf-8", swagger_html, (size_t)n);
    n = snprintf(redoc_html, sizeof(redoc_html),
                 "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                 "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                 "<title>hourglass API: ReDoc</title>\n"
                 "<link rel=\"icon\" type=\"image/png\" href=\"docs/assets/favicon-32x32.png?v=%s\">\n"
                 "<style>body { margin: 0; }</style>\n</head>\n<body>\n"
                 "<redoc spec-url=\"openapi.json\"></redoc>\n"
                 "<script src=\"docs/assets/redoc.standalone.js?v=%s\"></script>\n</body>\n</html>\n",
                 asset_version("favicon-32x32.png"), asset_version("redoc.standalone.js"));
    file_init(&redoc_page, "redoc", "text/html; charset=utf-8", redoc_html, (size_t)n);
}

static void respond_file(http_request_t *req, const char *type, const char *data, size_t len, const char *etag,
                         const char *cache_control)
{
    int not_modified = http_not_modified(req, etag, cache_control);
    http_header_add(req, "X-Content-Type-Options", "nosniff");
    if (not_modified) {
        http_respond(req, 304, NULL, NULL, 0);
        return;
    }
    http_respond(req, 200, type, data, len);
}

static void docs_openapi(http_request_t *req)
{
    size_t len = 0;
    const char *etag = NULL;
    const char *doc = openapi_document(&len, &etag);
    if (!doc) {
        http_respond_problem(req, 500, "internal_error", NULL);
        return;
    }
    respond_file(req, "application/json; charset=utf-8", doc, len, etag, CACHE_REVALIDATE);
}

static void docs_page(http_request_t *req)
{
    const docs_file_t *page = req->route_data;
    respond_file(req, page->type, page->data, page->len, page->etag, CACHE_REVALIDATE);
}

static void docs_asset(http_request_t *req)
{
    const char *name = http_param(req, "name");
    const docs_file_t *f = asset_find(name, strlen(name));
    if (!f) {
        http_respond_problem(req, 404, "not_found", NULL);
        return;
    }
    /* Only the current version's URL may be kept for good; any other revalidates. */
    const char *v = http_query_get(req, "v");
    int current = v && !strcmp(v, f->version);
    respond_file(req, f->type, f->data, f->len, f->etag, current ? CACHE_IMMUTABLE : CACHE_REVALIDATE);
}

static const api_route_t docs_routes[] = {
    {.http = {.methods = ALLOW_GET, .pattern = "/openapi.json", .handler = docs_openapi},
     .summary = "This document: OpenAPI 3.1 of every route", .response = "application/json",
     .doc = API_NO_DB | API_CACHED},
    {.http = {.methods = ALLOW_GET, .pattern = "/docs", .handler = docs_page, .data = &swagger_page},
     .summary = "Swagger UI over /openapi.json", .response = "text/html", .doc = API_NO_DB | API_CACHED},
    {.http = {.methods = ALLOW_GET, .pattern = "/redoc", .handler = docs_page, .data = &redoc_page},
     .summary = "ReDoc over /openapi.json", .response = "text/html", .doc = API_NO_DB | API_CACHED},
    {.http = {.methods = ALLOW_GET, .pattern = "/docs/assets/{name}", .handler = docs_asset},
     .summary = "A file of the documentation pages", .response = "*/*", .doc = API_NO_DB | API_CACHED, .errors = "404"},
};

/* docs_setup takes the register_statements slot: it too runs once, before the workers start. */
const api_module_t api_docs_module = {
    .name = "docs", .tag = "documentation", .routes = docs_routes, .route_count = ARRAY_LEN(docs_routes),
    .register_statements = docs_setup,
};
