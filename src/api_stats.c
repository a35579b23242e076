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
    [Q_FROM] = {.name = "from", .type = FIELD_DATE},
    [Q_TO] = {.name = "to", .type = FIELD_DATE},
    [Q_GROUP] = {.name = "group", .type = FIELD_ENUM, .choices = stats_groups},
    [Q_TZ] = {.name = "tz", .type = FIELD_STRING, .min = 1, .max = STATS_TZ_MAX_BYTES},
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
static void get_stats(http_request_t *req)
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
    const char *params[] = {http_int_param(req, req->auth.user_id), from, to, group, tz};
    api_query(req, stmt_stats, ARRAY_LEN(params), params, on_stats);
}

static void get_achievements(http_request_t *req)
{
    const char *params[] = {http_int_param(req, req->auth.user_id), http_lang_code(req)};
    api_query(req, stmt_achievements, ARRAY_LEN(params), params, api_on_json_row);
}

static void stats_register_statements(void)
{
    stmt_stats = db_statement_register("stats_get",
                                       "SELECT error, body FROM stats_json($1, $2::date, $3::date, $4, $5)");
    stmt_achievements = db_statement_register("achievements_get", "SELECT achievements_json($1, $2)");
}

static const api_route_t stats_routes[] = {
    {.http = {.methods = ALLOW_GET, .pattern = "/api/v1/stats", .handler = get_stats, .flags = ROUTE_AUTH},
     .tag = "statistics", .summary = "Focus time and sessions per day, week or month", .response = "Stats",
     .query = stats_query, .query_count = ARRAY_LEN(stats_query), .errors = "400"},
    {.http = {.methods = ALLOW_GET, .pattern = "/api/v1/achievements", .handler = get_achievements,
              .flags = ROUTE_AUTH},
     .tag = "achievements", .summary = "The achievement catalogue with the caller's progress",
     .response = "AchievementList"},
};

const api_module_t api_stats_module = {
    .name = "stats", .routes = stats_routes, .route_count = ARRAY_LEN(stats_routes),
    .register_statements = stats_register_statements,
};
