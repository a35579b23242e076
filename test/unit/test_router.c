#include "hourglass/router.h"
#include "unit.h"

static void handler_a(http_request_t *r) { (void)r; }
static void handler_b(http_request_t *r) { (void)r; }

static const http_route_t routes[] = {
    {.methods = ALLOW_GET | ALLOW_POST, .pattern = "/api/v1/tasks", .handler = handler_a},
    {.methods = ALLOW_GET | ALLOW_PATCH | ALLOW_PUT | ALLOW_DELETE, .pattern = "/api/v1/tasks/{id}", .handler = handler_b},
    {.methods = ALLOW_GET, .pattern = "/api/v1/users/me", .handler = handler_a},
    {.methods = ALLOW_GET, .pattern = "/api/v1/users/{id}", .handler = handler_b},
    {.methods = ALLOW_GET | ALLOW_POST, .pattern = "/api/v1/kanban/cards/{card_id}/items", .handler = handler_a},
    {.methods = ALLOW_GET | ALLOW_POST, .pattern = "/", .handler = handler_a},
};

static router_t *build(void)
{
    router_t *r = router_new();
    char err[128];
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        if (router_add(r, &routes[i], err, sizeof(err)))
            return NULL;
    return r;
}

static router_result_t match(router_t *r, http_method_t m, const char *path, router_match_t *out)
{
    return router_match(r, m, path, strlen(path), out);
}

TEST(router_matches_literals_and_params)
{
    router_t *r = build();
    CHECK(r);
    router_match_t m;
    CHECK(match(r, METHOD_GET, "/api/v1/tasks", &m) == ROUTER_FOUND);
    CHECK(m.route == &routes[0]);
    CHECK_STR(router_path_pattern(r, m.path_id), "/api/v1/tasks");
    CHECK(match(r, METHOD_DELETE, "/api/v1/tasks/42", &m) == ROUTER_FOUND);
    CHECK(m.route == &routes[1] && m.param_count == 1);
    CHECK(!strcmp(m.params[0].name, "id") && m.params[0].len == 2 && !strncmp(m.params[0].value, "42", 2));
    CHECK(match(r, METHOD_POST, "/api/v1/kanban/cards/7/items", &m) == ROUTER_FOUND);
    CHECK(!strcmp(m.params[0].name, "card_id") && !strncmp(m.params[0].value, "7", 1));
    CHECK(match(r, METHOD_GET, "/", &m) == ROUTER_FOUND && m.route == &routes[5]);
    CHECK(match(r, METHOD_GET, "/api/v1/nothing", &m) == ROUTER_NOT_FOUND);
    CHECK(match(r, METHOD_GET, "/api/v1/tasks/1/2", &m) == ROUTER_NOT_FOUND);
    CHECK(match(r, METHOD_HEAD, "/api/v1/tasks/1", &m) == ROUTER_FOUND && m.route == &routes[1]);
    router_free(r);
}

TEST(router_prefers_literal_segments)
{
    router_t *r = build();
    router_match_t m;
    CHECK(match(r, METHOD_GET, "/api/v1/users/me", &m) == ROUTER_FOUND);
    CHECK(m.route == &routes[2] && m.param_count == 0);
    CHECK(match(r, METHOD_GET, "/api/v1/users/5", &m) == ROUTER_FOUND);
    CHECK(m.route == &routes[3]);
    router_free(r);
}

TEST(router_reports_allowed_methods)
{
    router_t *r = build();
    router_match_t m;
    CHECK(match(r, METHOD_DELETE, "/api/v1/tasks", &m) == ROUTER_METHOD_NOT_ALLOWED);
    char allow[96];
    router_allow_header(m.allowed, allow, sizeof(allow));
    CHECK_STR(allow, "GET, HEAD, POST, OPTIONS");
    CHECK(match(r, METHOD_OTHER, "/api/v1/tasks", &m) == ROUTER_METHOD_NOT_ALLOWED);
    CHECK(match(r, METHOD_OPTIONS, "/api/v1/tasks/3", &m) == ROUTER_METHOD_NOT_ALLOWED);
    router_allow_header(m.allowed, allow, sizeof(allow));
    CHECK_STR(allow, "GET, HEAD, PUT, PATCH, DELETE, OPTIONS");
    router_free(r);
}

TEST(router_rejects_bad_patterns_and_duplicates)
{
    router_t *r = router_new();
    char err[128];
    http_route_t bad1 = {.methods = ALLOW_GET, .pattern = "no-slash", .handler = handler_a};
    http_route_t bad2 = {.methods = ALLOW_GET, .pattern = "/a//b", .handler = handler_a};
    http_route_t bad3 = {.methods = ALLOW_GET, .pattern = "/a/{}", .handler = handler_a};
    http_route_t ok = {.methods = ALLOW_GET, .pattern = "/a/{x}", .handler = handler_a};
    http_route_t dup = {.methods = ALLOW_GET | ALLOW_POST, .pattern = "/a/{x}", .handler = handler_b};
    CHECK(router_add(r, &bad1, err, sizeof(err)) == -1);
    CHECK(router_add(r, &bad2, err, sizeof(err)) == -1);
    CHECK(router_add(r, &bad3, err, sizeof(err)) == -1);
    CHECK(router_add(r, &ok, err, sizeof(err)) == 0);
    CHECK(router_add(r, &dup, err, sizeof(err)) == -1);
    CHECK(strstr(err, "declared twice"));
    router_free(r);
}

/* An internal path (ROUTE_INTERNAL) is never half public: its methods are all internal. */
TEST(router_keeps_internal_paths_apart)
{
    router_t *r = router_new();
    char err[128];
    http_route_t inner = {.methods = ALLOW_GET, .pattern = "/internal/x", .handler = handler_a, .flags = ROUTE_INTERNAL};
    http_route_t inner_post = {.methods = ALLOW_POST, .pattern = "/internal/x", .handler = handler_b,
                               .flags = ROUTE_INTERNAL | ROUTE_AUTH};
    http_route_t public_put = {.methods = ALLOW_PUT, .pattern = "/internal/x", .handler = handler_b};
    http_route_t outer = {.methods = ALLOW_GET, .pattern = "/x", .handler = handler_a};
    http_route_t inner_on_outer = {.methods = ALLOW_POST, .pattern = "/x", .handler = handler_b, .flags = ROUTE_INTERNAL};
    CHECK(router_add(r, &inner, err, sizeof(err)) == 0);
    CHECK(router_add(r, &inner_post, err, sizeof(err)) == 0);
    CHECK(router_add(r, &public_put, err, sizeof(err)) == -1);
    CHECK(strstr(err, "internal and public"));
    CHECK(router_add(r, &outer, err, sizeof(err)) == 0);
    CHECK(router_add(r, &inner_on_outer, err, sizeof(err)) == -1);
    router_match_t m;
    CHECK(router_match(r, METHOD_POST, "/internal/x", 11, &m) == ROUTER_FOUND && router_path_internal(m.path));
    CHECK(router_match(r, METHOD_DELETE, "/internal/x", 11, &m) == ROUTER_METHOD_NOT_ALLOWED &&
          router_path_internal(m.path));
    CHECK(router_match(r, METHOD_GET, "/x", 2, &m) == ROUTER_FOUND && !router_path_internal(m.path));
    router_free(r);
}

TEST(router_trailing_slash_and_odd_paths)
{
    router_t *r = build();
    router_match_t m;
    CHECK(match(r, METHOD_GET, "/api/v1/tasks/", &m) == ROUTER_FOUND && m.route == &routes[0]);
    CHECK(match(r, METHOD_GET, "/api/v1//tasks", &m) == ROUTER_NOT_FOUND);
    CHECK(match(r, METHOD_GET, "", &m) == ROUTER_NOT_FOUND);
    CHECK(match(r, METHOD_GET, "*", &m) == ROUTER_NOT_FOUND);
    CHECK(match(r, METHOD_GET, "/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s", &m) == ROUTER_NOT_FOUND);
    router_free(r);
}
