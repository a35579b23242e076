/* Background music for premium users: a global resource of the engine
 * (res_engine.c) that admins manage at /admin/music, and one hand-written
 * read that lets premium users and admins list it. */
#include <string.h>

#include "hourglass/bridge.h"
#include "hourglass/api.h"
#include "hourglass/db.h"
#include "hourglass/resource.h"

static int stmt_premium;

static const res_field_t music_fields[] = {
    {.f = {.name = "title", .type = FIELD_STRING, .flags = FIELD_REQUIRED, .min = 1, .max = 200}},
    {.f = {.name = "url", .type = FIELD_STRING, .flags = FIELD_REQUIRED, .min = 1, .max = 2000},
     .doc = "where the client streams it from"},
    {.f = {.name = "duration_seconds", .type = FIELD_INT, .min = 1, .max = 86400}, .doc = "length of the track"},
};

static const resource_t res_music = {
    .name = "MusicTrack", .table = "music_tracks", .tag = "music", .collection = "/api/v1/admin/music",
    .item = "/api/v1/admin/music/{id}", .global = 1, .route_flags = ROUTE_ADMIN, RES_FIELDS(music_fields),
    .summary = "music tracks",
};

static void on_premium(http_request_t *req, PGresult *res)
{
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        api_respond_db_error(req, res);
        return;
    }
    /* No row: the account is gone since its token was issued. */
    if (PQntuples(res) != 1 || strcmp(PQgetvalue(res, 0, 0), "t")) {
        http_respond_problem(req, 403, "premium_required", NULL);
        return;
    }
    res_list(req, &res_music);
}

/* Premium is a property of the account, not of the token, so it is read
 * from the database; an admin's role is in the token. */
static void music_list(http_request_t *req)
{
    if (req->auth.role == ROLE_ADMIN) {
        res_list(req, &res_music);
        return;
    }
    const char *params[] = {http_int_param(req, req->auth.user_id)};
    api_query(req, stmt_premium, ARRAY_LEN(params), params, on_premium);
}

/* The engine's routes (filled by res_register before the routes are read)
 * document /admin/music; the premium read answers its page. */
static api_route_t music_routes[1 + RES_ROUTES_MAX] = {
    {.http = {.methods = ALLOW_GET, .pattern = "/api/v1/music", .handler = music_list, .flags = ROUTE_AUTH},
     .summary = "Background tracks, in id order (premium users and admins)", .response = "MusicTrackPage",
     .doc = API_PAGED},
};

static void music_register_statements(void)
{
    stmt_premium = db_statement_register("music_premium", "SELECT is_premium FROM users WHERE id = $1");
    res_register(&res_music, &music_routes[1]);
}

const api_module_t api_music_module = {
    .name = "music", .tag = "music", .routes = music_routes, .route_count = ARRAY_LEN(music_routes),
    .register_statements = music_register_statements,
};
