/* Operations endpoints: liveness, readiness, metrics. Liveness never touches
 * the database, so a load balancer keeps a server whose database is down. */
#include <stdio.h>

#include "hourglass/api.h"
#include "hourglass/auth.h"
#include "hourglass/bridge.h"
#include "hourglass/mail.h"
#include "hourglass/openapi.h"
#include "hourglass/server.h"

static int stmt_ready;

static void ops_alive(http_request_t *req) { http_respond_text(req, 200, "ok"); }

static void respond_ready(http_request_t *req, int up)
{
    char body[128];
    int n = snprintf(body, sizeof(body), "{\"status\":\"%s\",\"database\":\"%s\",\"mail\":\"%s\",\"uptime_s\":%llu}",
                     up ? "ok" : "unavailable", up ? "ok" : "down", mail_outbox_health(),
                     (unsigned long long)server_uptime_s());
    if (!up)
        http_header_add(req, "Retry-After", "1");
    http_respond_json(req, up ? 200 : 503, body, (size_t)n);
}

static void on_ready_result(http_request_t *req, PGresult *res)
{
    respond_ready(req, res && PQresultStatus(res) == PGRES_TUPLES_OK);
}

/* A real round trip through the pool, reading our own table: proves the
 * connection, the schema, and that the table is not locked away from us. */
static void ops_ready(http_request_t *req)
{
    /* The pool answers at once when no connection can come (the database is
     * down); while one is still opening, the query waits for it. */
    api_query_or_null(req, stmt_ready, 0, NULL, on_ready_result);
}

static const char *route_label(const void *router, int route_id) { return router_path_pattern(router, route_id); }
static const char *method_label(int m) { return http_method_name((http_method_t)m); }

static void ops_metrics(http_request_t *req)
{
    abuf_t b;
    abuf_init(&b, &req->arena, 16384);
    metrics_labels_t labels = {route_label, method_label, req->worker->router};
    metrics_render(&b, &labels);
    size_t arena_bytes = 0;
    int arenas = auth_hash_arena_count(&arena_bytes);
    abuf_printf(&b,
                "# HELP password_hash_arenas Memory kept for password hashing, one arena per thread hashing lately.\n"
                "# TYPE password_hash_arenas gauge\n"
                "password_hash_arenas %d\n"
                "# HELP password_hash_arena_bytes Bytes of those arenas.\n"
                "# TYPE password_hash_arena_bytes gauge\n"
                "password_hash_arena_bytes %zu\n"
                "# HELP password_hashes_running Password hashes running now.\n"
                "# TYPE password_hashes_running gauge\n"
                "password_hashes_running %d\n"
                "# HELP password_hash_limit Hashes allowed at once: the cores the event loops leave, at least 1.\n"
                "# TYPE password_hash_limit gauge\n"
                "password_hash_limit %d\n",
                arenas, arena_bytes, auth_password_hashing_now(), auth_password_hash_limit_now());
    http_respond(req, 200, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len);
}

static void ops_register_statements(void)
{
    stmt_ready = db_statement_register("ops_ready", "SELECT count(*) FROM schema_migrations");
}

static const http_route_t ops_routes[] = {
    {ALLOW_GET | ALLOW_POST, "/", ops_alive, NULL, 0, 0},
    /* HEAD is answered for any GET; declared here so the document names it for /health. */
    {ALLOW_GET | HTTP_M(METHOD_HEAD), "/health", ops_alive, NULL, 0, 0},
    {ALLOW_GET, "/health/ready", ops_ready, NULL, 0, 0},
    {ALLOW_GET, "/metrics", ops_metrics, NULL, 0, 0},
};

static const route_doc_t ops_docs[] = {
    {ALLOW_GET | ALLOW_POST, "/", "operations", "Liveness, as /health", NULL, 0, NULL, 200, "text/plain"},
    {ALLOW_GET | HTTP_M(METHOD_HEAD), "/health", "operations", "Liveness: the process and its loop answer `ok`",
     NULL, 0, NULL, 200, "text/plain"},
    {ALLOW_GET, "/health/ready", "operations", "Readiness: a round trip to the database", NULL, 0, NULL, 200,
     "Ready"},
    {ALLOW_GET, "/metrics", "operations", "Prometheus metrics", NULL, 0, NULL, 200, "text/plain"},
};

static const openapi_extra_t ops_doc_extras[] = {
    {ALLOW_GET | ALLOW_POST, "/", OPENAPI_NO_DB, NULL, NULL, 0, "Never touches the database."},
    {ALLOW_GET | HTTP_M(METHOD_HEAD), "/health", OPENAPI_NO_DB, NULL, NULL, 0,
     "Never touches the database, so a load balancer keeps a server whose database is down."},
    {ALLOW_GET, "/metrics", OPENAPI_NO_DB, NULL, NULL, 0,
     "Requests by route and status, latency, open connections, the database pool and the mail outbox."},
};

static const char *const ready_states[] = {"ok", "unavailable", NULL};
static const char *const database_states[] = {"ok", "down", NULL};
static const char *const mail_states[] = {"ok", "log", "failing", NULL};
static const body_field_t ready_object[] = {
    {"status", FIELD_ENUM, FIELD_REQUIRED, 0, 0, ready_states},
    {"database", FIELD_ENUM, FIELD_REQUIRED, 0, 0, database_states},
    {"mail", FIELD_ENUM, FIELD_REQUIRED, 0, 0, mail_states},
    {"uptime_s", FIELD_INT, FIELD_REQUIRED, 0, 0, NULL},
};

static void ops_openapi(json_t *paths, json_t *schemas)
{
    json_object_set_new(schemas, "Ready",
                        openapi_object_schema(ready_object, sizeof(ready_object) / sizeof(ready_object[0])));
    openapi_add_extras(paths, ops_doc_extras, sizeof(ops_doc_extras) / sizeof(ops_doc_extras[0]));
    /* Not ready is an answer of its own (respond_ready), not a problem. */
    json_t *get = json_object();
    json_object_set_new(openapi_path_item(paths, "/health/ready"), "get", get);
    json_object_set_new(get, "responses",
                        json_pack("{s:{s:s, s:{s:{s:{s:s}}}, s:{s:{s:s, s:{s:s}}}}}", "503", "description",
                                  "no database connection is usable", "content", "application/json", "schema", "$ref",
                                  "#/components/schemas/Ready", "headers", "Retry-After", "description",
                                  "seconds to wait", "schema", "type", "string"));
}

const api_module_t api_ops_module = {
    "operations", ops_routes, sizeof(ops_routes) / sizeof(ops_routes[0]), ops_register_statements,
    ops_docs, sizeof(ops_docs) / sizeof(ops_docs[0]), ops_openapi,
};
