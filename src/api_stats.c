/* Statistics and achievements: each a check of the query here and one SQL
 * function of 0006_stats.sql whose JSON text is sent as it is. Achievements
 * are unlocked by triggers in the transaction of the write that earns them,
 * so reading them is only a read. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "hourglass/bridge.h"
#include "hourglass/api.h"
#include "hourglass/body.h"
#include "hourglass/db.h"
#include "hourglass/openapi.h"


/* API.md: to - from is at most 365 days (366 periods of a day). */
#define STATS_MAX_SPAN_DAYS 365
/* Longer than any zone name of the tz database; longer ones are not zones. */
#define STATS_TZ_MAX_BYTES 64
#define STATS_DEFAULT_GROUP "day"
#define STATS_DEFAULT_TZ "UTC"

static int stmt_stats, stmt_achievements;

static const char *const stats_groups[] = {"day", "week", "month", NULL};

/* The query parameters, as checked here and as the document shows them. The
 * zone is checked by stats_tz_plausible and PostgreSQL (400, not 422). */
enum { Q_FROM, Q_TO, Q_GROUP, Q_TZ };
static const body_field_t stats_query[] = {
    [Q_FROM] = {"from", FIELD_DATE, 0, 0, 0, NULL},
    [Q_TO] = {"to", FIELD_DATE, 0, 0, 0, NULL},
    [Q_GROUP] = {"group", FIELD_ENUM, 0, 0, 0, stats_groups},
    [Q_TZ] = {"tz", FIELD_STRING, 0, 1, STATS_TZ_MAX_BYTES, NULL},
};

/* Could tz be a name of the tz database ("Europe/Moscow", "Etc/GMT+3")?
 * PostgreSQL would also take POSIX rules, where "UTC+3" means three hours
 * west of UTC: a signed offset is refused unless it follows GMT, as IANA's
 * own Etc/GMT+3 does. Whether the zone exists is PostgreSQL's to say. */
static int stats_tz_plausible(const char *tz)
{
    size_t len = strlen(tz);
    if (!len || len > STATS_TZ_MAX_BYTES)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = tz[i];
        int sign = c == '+' || c == '-';
        if (!isalnum((unsigned char)c) && c != '_' && c != '/' && !sign)
            return 0;
        if (sign && isdigit((unsigned char)tz[i + 1]) && (i < 3 || strncmp(tz + i - 3, "GMT", 3)))
            return 0;
    }
    return 1;
}

static void on_stats(http_request_t *req, PGresult *res)
{
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        api_respond_db_error(req, res);
        return;
    }
    if (!PQgetisnull(res, 0, 0)) {
        http_respond_problem(req, 400, PQgetvalue(res, 0, 0), NULL);
        return;
    }
    http_respond_json(req, 200, PQgetvalue(res, 0, 1), (size_t)PQgetlength(res, 0, 1));
}

/* GET /stats?from=&to=&group=&tz=. Missing dates make a 7-day window (see
 * stats_json); the zone is checked by PostgreSQL, which knows the zones. */
static void api_stats(http_request_t *req)
{
    field_errors_t e;
    field_errors_init(&e, req);
    const char *from = body_query_param(req, &stats_query[Q_FROM], &e);
    const char *to = body_query_param(req, &stats_query[Q_TO], &e);
    if (from && to) {
        long long span = body_date_days(to) - body_date_days(from);
        if (span < 0)
            field_errors_add(&e, "to", "invalid_range");
        else if (span > STATS_MAX_SPAN_DAYS)
            field_errors_add(&e, "to", "too_large");
    }
    const char *group = body_query_param(req, &stats_query[Q_GROUP], &e);
    if (!group)
        group = STATS_DEFAULT_GROUP;
    if (e.count) {
        api_respond_validation(req, &e);
        return;
    }
    const char *tz = http_query_get(req, "tz");
    if (!tz || !*tz)
        tz = STATS_DEFAULT_TZ;
    if (!stats_tz_plausible(tz)) {
        http_respond_problem(req, 400, "unknown_time_zone", NULL);
        return;
    }
    const char *params[5] = {http_int_param(req, req->auth.user_id), from, to, group, tz};
    api_query(req, stmt_stats, 5, params, on_stats);
}

static void api_achievements(http_request_t *req)
{
    const char *params[2] = {http_int_param(req, req->auth.user_id), http_lang_code(req)};
    api_query(req, stmt_achievements, 2, params, api_on_json_row);
}

static void stats_register_statements(void)
{
    stmt_stats = db_statement_register("stats_get",
                                       "SELECT error, body FROM stats_json($1, $2::date, $3::date, $4, $5)");
    stmt_achievements = db_statement_register("achievements_get", "SELECT achievements_json($1, $2)");
}

/* ---------------------------------------------------------------- OpenAPI */

static const openapi_extra_t stats_doc_extras[] = {
    {ALLOW_GET, "/api/v1/stats", 0, "400", stats_query, ARRAY_LEN(stats_query),
     "Completed focus pomodoros of `from`..`to` (days in `tz`, both inclusive), in periods of `group` (default "
     "`day`; weeks start on Monday) cut in `tz` (an IANA name, default `UTC`). A session counts in the period where "
     "it started, with `ended_at - started_at` seconds. Every period of the range is present, empty ones with "
     "zeros; a period's `start` is its calendar day, Monday or first of the month, so the first may begin before "
     "`from`, but only sessions from `from` on count. Uncategorised focus has `category_id` and `name` null. "
     "Without `from` and `to` the range is the 7 days ending today in `tz`; with one of them, the 7 days from or "
     "to it. 422 `too_large` on `to` when `to - from` exceeds 365 days, `invalid_range` when `to` is before "
     "`from`; 400 `unknown_time_zone` for a zone that is not known (offsets such as `UTC+3` included)."},
};

static const body_field_t stats_by_category[] = {
    {"category_id", FIELD_ID, 0, 0, 0, NULL},
    {"name", FIELD_STRING, 0, 0, 0, NULL},
    {"focus_seconds", FIELD_INT, FIELD_REQUIRED, 0, 0, NULL},
};
static const body_field_t stats_period[] = {
    {"start", FIELD_DATE, FIELD_REQUIRED, 0, 0, NULL},
    {"focus_seconds", FIELD_INT, FIELD_REQUIRED, 0, 0, NULL},
    {"sessions", FIELD_INT, FIELD_REQUIRED, 0, 0, NULL},
};
static const body_field_t stats_totals[] = {
    {"from", FIELD_DATE, FIELD_REQUIRED, 0, 0, NULL},
    {"to", FIELD_DATE, FIELD_REQUIRED, 0, 0, NULL},
    {"group", FIELD_ENUM, FIELD_REQUIRED, 0, 0, stats_groups},
    {"total_focus_seconds", FIELD_INT, FIELD_REQUIRED, 0, 0, NULL},
    {"total_sessions", FIELD_INT, FIELD_REQUIRED, 0, 0, NULL},
};
static const body_field_t achievement_object[] = {
    {"code", FIELD_STRING, FIELD_REQUIRED, 0, 0, NULL},
    {"title", FIELD_STRING, FIELD_REQUIRED, 0, 0, NULL},
    {"description", FIELD_STRING, FIELD_REQUIRED, 0, 0, NULL},
    {"unlocked_at", FIELD_DATETIME, 0, 0, 0, NULL},
    {"progress", FIELD_INT, FIELD_REQUIRED, 0, 0, NULL},
    {"goal", FIELD_INT, FIELD_REQUIRED, 0, 0, NULL},
};

/* An object schema of fields plus one array property of items. */
static json_t *stats_object_with_array(const body_field_t *fields, size_t count, const char *name, json_t *items)
{
    json_t *schema = openapi_object_schema(fields, count);
    json_object_set_new(json_object_get(schema, "properties"), name,
                        json_pack("{s:s, s:o}", "type", "array", "items", items));
    json_array_append_new(json_object_get(schema, "required"), json_string(name));
    return schema;
}

static void stats_openapi(json_t *paths, json_t *schemas)
{
    json_t *period = stats_object_with_array(stats_period, ARRAY_LEN(stats_period), "by_category",
                                             openapi_object_schema(stats_by_category, ARRAY_LEN(stats_by_category)));
    json_object_set_new(schemas, "Stats", stats_object_with_array(stats_totals, ARRAY_LEN(stats_totals), "periods", period));
    json_t *achievement = openapi_object_schema(achievement_object, ARRAY_LEN(achievement_object));
    json_object_set_new(json_object_get(json_object_get(achievement, "properties"), "progress"), "description",
                        json_string("min(current value, goal), and the goal once unlocked; focus time counts in "
                                    "seconds, a streak in consecutive UTC days"));
    json_object_set_new(schemas, "Achievement", achievement);
    json_object_set_new(schemas, "AchievementList",
                        json_pack("{s:s, s:s, s:{s:s}}", "type", "array", "description",
                                  "the whole catalogue in a fixed order; texts in the Accept-Language (en or ru)",
                                  "items", "$ref", "#/components/schemas/Achievement"));
    openapi_add_extras(paths, stats_doc_extras, ARRAY_LEN(stats_doc_extras));
}

static const route_doc_t stats_docs[] = {
    {ALLOW_GET, "/api/v1/stats", "statistics", "Focus time and sessions per day, week or month", NULL, 0, NULL, 200,
     "Stats"},
    {ALLOW_GET, "/api/v1/achievements", "achievements", "The achievement catalogue with the caller's progress", NULL,
     0, NULL, 200, "AchievementList"},
};

static const http_route_t stats_routes[] = {
    {ALLOW_GET, "/api/v1/stats", api_stats, NULL, ROUTE_AUTH, 0},
    {ALLOW_GET, "/api/v1/achievements", api_achievements, NULL, ROUTE_AUTH, 0},
};

const api_module_t api_stats_module = {
    "stats", stats_routes, ARRAY_LEN(stats_routes), stats_register_statements, stats_docs, ARRAY_LEN(stats_docs), stats_openapi,
};
