/* Operations endpoints: liveness, readiness, metrics. Liveness never touches
 * the database, so a load balancer keeps a server whose database is down. */
#include <stdio.h>

#include "hourglass/api.h"
#include "hourglass/auth.h"
#include "hourglass/bridge.h"
#include "hourglass/mail.h"
#include "hourglass/server.h"

/* The metrics page is some kilobytes: room for it at once. */
#define METRICS_INITIAL_BYTES 16384

static int stmt_ready;

static void ops_alive(http_request_t *req) { http_respond_text(req, 200, "ok"); }

static void respond_ready(http_request_t *req, int up)
{
    char body[128];
    int n = snprintf(body, sizeof(body), "{\"status\":\"%s\",\"database\":\"%s\",\"mail\":\"%s\",\"uptime_s\":%llu}",
                     up ? "ok" : "unavailable", up ? "ok" : "down", mail_outbox_health(),
                     (unsigned long long)http_server_uptime_s());
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
    abuf_init(&b, &req->arena, METRICS_INITIAL_BYTES);
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

/* HEAD is answered for any GET; declared for /health so the document names it. */
static const api_route_t ops_routes[] = {
    {.http = {.methods = ALLOW_GET | ALLOW_POST, .pattern = "/", .handler = ops_alive},
     .summary = "Liveness, as /health", .response = "text/plain", .doc = API_NO_DB},
    {.http = {.methods = ALLOW_GET | HTTP_M(METHOD_HEAD), .pattern = "/health", .handler = ops_alive,
              .flags = ROUTE_LOG_DEBUG},
     .summary = "Liveness: the process and its loop answer `ok`", .response = "text/plain", .doc = API_NO_DB},
    {.http = {.methods = ALLOW_GET, .pattern = "/health/ready", .handler = ops_ready},
     .summary = "Readiness: a round trip to the database", .response = "Ready"},
    {.http = {.methods = ALLOW_GET, .pattern = "/metrics", .handler = ops_metrics},
     .summary = "Prometheus metrics", .response = "text/plain", .doc = API_NO_DB},
};

const api_module_t api_ops_module = {
    .name = "operations", .tag = "operations", .routes = ops_routes, .route_count = ARRAY_LEN(ops_routes),
    .register_statements = ops_register_statements,
};
