/* The real dispatch (http_dispatch.c) on a loop of our own, with a small
 * router: handing a request on (http_request_reprocess) and route filters. */
#include <stdlib.h>

#include "hourglass/http_parser.h"
#include "hourglass/server.h"
#include "unit.h"

#define ANSWER_MAX 4096

static struct {
    worker_t worker;
    config_t cfg;
    router_t *router;
    int answers, releases;
    int status;
    char answer[ANSWER_MAX];
    int hand_on_calls, target_calls, loop_calls;
    http_method_t target_method;
    const char *target_id, *target_query, *target_body;
    int target_saw_old_state;
} t;

static const char *no_environment(const char *name, void *data)
{
    (void)name, (void)data;
    return NULL;
}

static void on_responded(http_request_t *req)
{
    t.answers++;
    t.status = req->status;
    snprintf(t.answer, sizeof(t.answer), "%.*s", (int)req->out.len, req->out.data);
}

static void on_release(http_request_t *req)
{
    t.releases++;
    arena_reset(&req->arena);
    free(req);
}

static const http_conn_ops_t test_ops = {.responded = on_responded, .release = on_release};
static char conn_stand_in;

static int refuse_everyone(http_request_t *req, unsigned flags)
{
    (void)flags;
    http_respond_problem(req, 401, "not_authenticated", NULL);
    return -1;
}

static const http_app_t test_app = {.authenticate = refuse_everyone};

static void hand_on(http_request_t *req)
{
    t.hand_on_calls++;
    req->ctx = &t;
    http_header_add(req, "X-Old", "1");
    http_request_reprocess(req, METHOD_POST, "/target/7", "q=1", "body", 4);
}

static void target(http_request_t *req)
{
    t.target_calls++;
    t.target_method = req->method;
    t.target_id = http_param(req, "id");
    t.target_query = http_query_get(req, "q");
    t.target_body = req->body.data;
    t.target_saw_old_state = req->ctx != NULL || req->extra_headers.len != 0 || req->status != 0;
    http_header_add(req, "X-New", "1");
    http_respond_text(req, 201, "done");
}

static void hand_on_forever(http_request_t *req)
{
    t.loop_calls++;
    http_request_reprocess(req, METHOD_GET, "/loop", NULL, NULL, 0);
}

static void to_guarded(http_request_t *req) { http_request_reprocess(req, METHOD_GET, "/guarded", NULL, NULL, 0); }

static void never(http_request_t *req) { http_respond_text(req, 200, "the handler ran"); }

/* Only reshapes: status, type, body and the headers added. */
static void reshape(http_request_t *req, int *status, const char **content_type, const void **body, size_t *len)
{
    http_header_add(req, "X-Filtered", "yes");
    *status = *status == 401 ? 403 : *status;
    *content_type = "text/plain";
    *body = "reshaped";
    *len = 8;
}

static int reshape_calls;

static void count_and_reshape(http_request_t *req, int *status, const char **content_type, const void **body,
                              size_t *len)
{
    reshape_calls++;
    reshape(req, status, content_type, body, len);
}

static void to_internal(http_request_t *req) { http_request_reprocess(req, METHOD_POST, "/internal/7", NULL, "x", 1); }

static const http_route_t routes[] = {
    {.methods = ALLOW_GET, .pattern = "/start/{n}", .handler = hand_on},
    {.methods = ALLOW_POST, .pattern = "/target/{id}", .handler = target},
    {.methods = ALLOW_GET, .pattern = "/loop", .handler = hand_on_forever},
    {.methods = ALLOW_GET, .pattern = "/to-guarded", .handler = to_guarded},
    {.methods = ALLOW_GET, .pattern = "/guarded", .handler = never, .flags = ROUTE_AUTH, .filter = reshape},
    {.methods = ALLOW_GET, .pattern = "/shaped", .handler = hand_on, .filter = reshape},
    {.methods = ALLOW_GET, .pattern = "/counted", .handler = never, .filter = count_and_reshape},
    {.methods = ALLOW_GET, .pattern = "/to-internal", .handler = to_internal},
    {.methods = ALLOW_POST, .pattern = "/internal/{id}", .handler = target, .flags = ROUTE_INTERNAL},
};

static void setup(void)
{
    memset(&t, 0, sizeof(t));
    char err[256];
    if (config_parse(&t.cfg, no_environment, NULL, NULL, "test", err, sizeof(err)))
        abort();
    t.router = router_new();
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        if (router_add(t.router, &routes[i], err, sizeof(err)))
            abort();
    worker_t *w = &t.worker;
    if (uv_loop_init(&w->loop))
        abort();
    w->cfg = &t.cfg;
    w->router = t.router;
    w->app = &test_app;
    http_dispatch_init(w);
}

static void teardown(void)
{
    http_dispatch_close(&t.worker);
    uv_run(&t.worker.loop, UV_RUN_NOWAIT);
    uv_loop_close(&t.worker.loop);
    router_free(t.router);
    config_free(&t.cfg);
}

/* A complete request as the server hands it over, dispatched. */
static http_request_t *request(http_method_t method, const char *path)
{
    http_request_t *req = calloc(1, sizeof(*req));
    if (!req)
        abort();
    arena_init(&req->arena, NULL, 0);
    http_request_parse_init(req);
    req->method = req->client_method = method;
    req->method_name = http_method_name(method);
    req->path = path;
    req->path_len = strlen(path);
    req->worker = &t.worker;
    req->conn = (http_conn_t *)&conn_stand_in;
    req->ops = &test_ops;
    req->keep_alive = 1;
    req->state = REQ_RUNNING;
    http_dispatch_prepare(req);
    http_dispatch(req);
    return req;
}

/* The client's connection lets go of it, as the server's does. */
static void request_detach(http_request_t *req)
{
    req->conn = NULL;
    http_request_release(req);
}

static void turn(void) { uv_run(&t.worker.loop, UV_RUN_NOWAIT); }

TEST(dispatch_reprocess_runs_the_new_route_on_the_next_turn)
{
    setup();
    http_request_t *req = request(METHOD_GET, "/start/3");
    CHECK(t.hand_on_calls == 1 && t.target_calls == 0 && t.answers == 0); /* never from inside the caller */
    CHECK(req->pending == 1 && req->state == REQ_RUNNING);
    turn();
    CHECK(t.target_calls == 1 && t.answers == 1 && req->pending == 0);
    CHECK(t.target_method == METHOD_POST);
    CHECK_STR(t.target_id, "7");
    CHECK_STR(t.target_query, "1");
    CHECK_STR(t.target_body, "body");
    CHECK(!t.target_saw_old_state); /* ctx, headers added, status: reset */
    CHECK(t.status == 201);
    CHECK(strstr(t.answer, "X-New: 1\r\n") && !strstr(t.answer, "X-Old"));
    CHECK(strstr(t.answer, "\r\n\r\ndone"));
    /* Logs and metrics name the route the client called, with its method. */
    CHECK_STR(router_path_pattern_of(req->route), "/start/{n}");
    CHECK_STR(router_path_pattern(t.router, req->route_id), "/start/{n}");
    CHECK(req->client_method == METHOD_GET);
    request_detach(req);
    CHECK(t.releases == 1);
    teardown();
}

TEST(dispatch_reprocess_is_bounded)
{
    setup();
    http_request_t *req = request(METHOD_GET, "/loop");
    for (int i = 0; i < HTTP_MAX_REPROCESS + 2 && !t.answers; i++)
        turn();
    CHECK(t.loop_calls == HTTP_MAX_REPROCESS + 1); /* the client's call and four more */
    CHECK(t.answers == 1 && t.status == 500);
    CHECK(strstr(t.answer, "\"code\":\"internal_error\""));
    CHECK(req->reprocess_count == HTTP_MAX_REPROCESS && req->pending == 0);
    request_detach(req);
    CHECK(t.releases == 1);
    teardown();
}

TEST(dispatch_reprocess_after_the_client_left)
{
    setup();
    http_request_t *req = request(METHOD_GET, "/start/1");
    request_detach(req); /* the connection closed: the hold keeps the request */
    CHECK(t.releases == 0);
    turn();
    CHECK(t.target_calls == 0 && t.answers == 0 && t.releases == 1);

    /* Answered meanwhile (a 504 raced it): the new route never runs. */
    req = request(METHOD_GET, "/start/2");
    http_respond_problem(req, 504, "timeout", NULL);
    CHECK(t.answers == 1 && t.status == 504);
    request_detach(req);
    CHECK(t.releases == 1);
    turn();
    CHECK(t.target_calls == 0 && t.answers == 1 && t.releases == 2);

    /* Left with the loop about to stop: closing the dispatch lets it go. */
    req = request(METHOD_GET, "/start/3");
    request_detach(req);
    teardown();
    CHECK(t.target_calls == 0 && t.releases == 3);
}

TEST(dispatch_filter_sees_the_refusal_of_authentication)
{
    setup();
    http_request_t *req = request(METHOD_GET, "/guarded");
    CHECK(t.answers == 1 && t.status == 403);
    CHECK(strstr(t.answer, "Content-Type: text/plain\r\n") && strstr(t.answer, "X-Filtered: yes\r\n"));
    CHECK(strstr(t.answer, "\r\n\r\nreshaped") && !strstr(t.answer, "not_authenticated"));
    request_detach(req);

    /* Handed on to a guarded route: its authentication runs again, its filter reshapes. */
    req = request(METHOD_GET, "/to-guarded");
    CHECK(t.answers == 1);
    turn();
    CHECK(t.answers == 2 && t.status == 403 && strstr(t.answer, "reshaped"));
    request_detach(req);
    teardown();
}

TEST(dispatch_filter_stays_for_the_route_handed_on_to)
{
    setup();
    http_request_t *req = request(METHOD_GET, "/shaped");
    turn();
    CHECK(t.target_calls == 1 && t.answers == 1);
    CHECK(t.status == 201 && strstr(t.answer, "\r\n\r\nreshaped") && strstr(t.answer, "X-Filtered: yes\r\n"));
    request_detach(req);
    teardown();
}

/* A filter only reshapes: the answer it leaves is written at once, and it
 * runs once, whatever answers after (a late second answer is ignored). */
TEST(dispatch_filter_answers_once_at_once)
{
    setup();
    reshape_calls = 0;
    http_request_t *req = request(METHOD_GET, "/counted");
    CHECK(t.answers == 1 && reshape_calls == 1 && req->state == REQ_RESPONDED);
    CHECK(t.status == 200 && strstr(t.answer, "\r\n\r\nreshaped") && strstr(t.answer, "X-Filtered: yes\r\n"));
    CHECK(req->respond_filter == NULL);
    http_respond_text(req, 500, "late");
    CHECK(t.answers == 1 && reshape_calls == 1);
    request_detach(req);
    teardown();
}

/* A client never reaches an internal route, in any method (nor learns that
 * its path exists); a request handed on does. */
TEST(dispatch_internal_routes_only_for_requests_handed_on)
{
    setup();
    const http_method_t tried[] = {METHOD_POST, METHOD_GET, METHOD_OPTIONS};
    for (size_t i = 0; i < sizeof(tried) / sizeof(tried[0]); i++) {
        http_request_t *req = request(tried[i], "/internal/7");
        CHECK(t.answers == (int)i + 1 && t.status == 404 && t.target_calls == 0);
        CHECK(!strstr(t.answer, "Allow:"));
        CHECK(req->route == NULL && req->route_id == 0); /* logged and counted as unmatched */
        request_detach(req);
    }
    http_request_t *req = request(METHOD_GET, "/to-internal");
    turn();
    CHECK(t.target_calls == 1 && t.status == 201 && t.target_method == METHOD_POST);
    CHECK_STR(t.target_id, "7");
    CHECK_STR(router_path_pattern_of(req->route), "/to-internal");
    request_detach(req);
    teardown();
}
