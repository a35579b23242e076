/* Operations endpoints: liveness, readiness, metrics. Liveness never touches
 * the database, so a load balancer keeps a server whose database is down. */
#include <stdio.h>

#include "hourglass/api.h"
#include "hourglass/mail.h"
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
    http_query_or_null(req, stmt_ready, 0, NULL, on_ready_result);
}

static void ops_metrics(http_request_t *req)
{
    size_t len;
    char *text = metrics_render(&req->arena, req->worker->router, &len);
    http_respond(req, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
}

static void ops_register_statements(void)
{
    stmt_ready = db_statement_register("ops_ready", "SELECT count(*) FROM schema_migrations");
}

static const http_route_t ops_routes[] = {
    {ALLOW_GET | ALLOW_POST, "/", ops_alive, NULL, 0, 0},
    {ALLOW_GET, "/health", ops_alive, NULL, 0, 0},
    {ALLOW_GET, "/health/ready", ops_ready, NULL, 0, 0},
    {ALLOW_GET, "/metrics", ops_metrics, NULL, 0, 0},
};

const api_module_t api_ops_module = {
    "operations", ops_routes, sizeof(ops_routes) / sizeof(ops_routes[0]), ops_register_statements, NULL, 0, NULL,
};
