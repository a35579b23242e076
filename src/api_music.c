/* Background music for premium users: a global resource of the engine
 * (res_engine.c) that admins manage at /admin/music, and one hand-written
 * read that lets premium users and admins list it. */
#include <string.h>

#include "hourglass/bridge.h"
#include "hourglass/api.h"
#include "hourglass/db.h"
#include "hourglass/openapi.h"
#include "hourglass/resource.h"


static int stmt_premium;

static const res_field_t music_fields[] = {
    {.f = {"title", FIELD_STRING, FIELD_REQUIRED, 1, 200, NULL}},
    {.f = {"url", FIELD_STRING, FIELD_REQUIRED, 1, 2000, NULL}, .doc = "where the client streams it from"},
    {.f = {"duration_seconds", FIELD_INT, 0, 1, 86400, NULL}, .doc = "length of the track"},
};

static const resource_t res_music = {
    "MusicTrack", "music_tracks", "music", "/api/v1/admin/music", "/api/v1/admin/music/{id}", NULL, NULL, 1,
    ROUTE_ADMIN, music_fields, ARRAY_LEN(music_fields), NULL, 0, "music tracks",
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
static void api_music_list(http_request_t *req)
{
    if (req->auth.role == ROLE_ADMIN) {
        res_list(req, &res_music);
        return;
    }
    const char *params[1] = {http_int_param(req, req->auth.user_id)};
    api_query(req, stmt_premium, 1, params, on_premium);
}

/* Filled by res_register before the routes are read. */
static http_route_t music_routes[] = {
    {ALLOW_GET, "/api/v1/music", api_music_list, NULL, ROUTE_AUTH, 0},
    {0, NULL, NULL, NULL, 0, 0},
    {0, NULL, NULL, NULL, 0, 0},
};

static void music_register_statements(void)
{
    stmt_premium = db_statement_register("music_premium", "SELECT is_premium FROM users WHERE id = $1");
    res_register(&res_music, &music_routes[1]);
}

static const openapi_extra_t music_doc_extras[] = {
    {ALLOW_GET, "/api/v1/music", OPENAPI_PAGED, NULL, NULL, 0,
     "For premium users and admins; others get 403 `premium_required`. Premium is read from the account, so a "
     "change applies at once. Admins manage the tracks at /api/v1/admin/music."},
};

/* The engine documents /admin/music; the premium read answers its page. */
static void music_openapi(json_t *paths, json_t *schemas)
{
    res_openapi(&res_music, paths, schemas);
    openapi_add_extras(paths, music_doc_extras, ARRAY_LEN(music_doc_extras));
}

static const route_doc_t music_docs[] = {
    {ALLOW_GET, "/api/v1/music", "music",
     "Background tracks, in id order (premium users and admins)", NULL, 0, NULL, 200, "MusicTrackPage"},
};

const api_module_t api_music_module = {
    "music", music_routes, ARRAY_LEN(music_routes), music_register_statements, music_docs, ARRAY_LEN(music_docs), music_openapi,
};
