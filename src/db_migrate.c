/* Schema migrations, applied at start-up (blocking libpq is fine here: the
 * loops have not started). Several instances may start at once: an advisory
 * lock lets one apply while the others wait, then find nothing left to do. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hourglass/db.h"
#include "hourglass/embed.h"
#include "hourglass/log.h"

#define MIGRATION_LOCK_KEY 0x686f7572676c6173LL /* "hourglas" */

static void set_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    for (char *c = err; *c; c++)
        if (*c == '\n')
            *c = ' ';
}

static PGconn *connect_with_wait(const char *conninfo, uint64_t wait_ms, char *err, size_t errlen)
{
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    int logged = 0;
    for (;;) {
        PGconn *pg = PQconnectdb(conninfo);
        if (PQstatus(pg) == CONNECTION_OK)
            return pg;
        set_err(err, errlen, "database: %s", PQerrorMessage(pg));
        PQfinish(pg);
        clock_gettime(CLOCK_MONOTONIC, &now);
        int64_t elapsed_ms = (int64_t)(now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
        if (elapsed_ms >= (int64_t)wait_ms)
            return NULL;
        if (!logged++)
            log_warn("waiting up to %llu ms for the database (%s)", (unsigned long long)wait_ms, err);
        struct timespec pause = {0, 250 * 1000000L};
        nanosleep(&pause, NULL);
    }
}

static int exec_ok(PGconn *pg, const char *sql, char *err, size_t errlen)
{
    PGresult *r = PQexec(pg, sql);
    ExecStatusType st = PQresultStatus(r);
    int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    if (!ok)
        set_err(err, errlen, "%s", PQresultErrorMessage(r));
    PQclear(r);
    return ok ? 0 : -1;
}

/* "0001_users.sql" -> version "0001", name "users". */
static int split_name(const char *file, char *version, size_t vcap, char *name, size_t ncap)
{
    const char *us = strchr(file, '_');
    const char *dot = strrchr(file, '.');
    if (!us || !dot || dot < us || (size_t)(us - file) >= vcap || strcmp(dot, ".sql"))
        return -1;
    for (const char *c = file; c < us; c++)
        if (!isdigit((unsigned char)*c))
            return -1;
    snprintf(version, vcap, "%.*s", (int)(us - file), file);
    snprintf(name, ncap, "%.*s", (int)(dot - us - 1), us + 1);
    return 0;
}

static int apply_one(PGconn *pg, const embedded_file_t *m, const char *version, const char *name, char *err,
                     size_t errlen)
{
    if (exec_ok(pg, "BEGIN", err, errlen))
        return -1;
    char *sql = strndup(m->data, m->len);
    int rc = exec_ok(pg, sql, err, errlen);
    free(sql);
    if (rc == 0) {
        const char *params[2] = {version, name};
        PGresult *r = PQexecParams(pg, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", 2, NULL,
                                   params, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            set_err(err, errlen, "%s", PQresultErrorMessage(r));
            rc = -1;
        }
        PQclear(r);
    }
    if (rc == 0 && exec_ok(pg, "COMMIT", err, errlen) == 0)
        return 0;
    char why[512];
    snprintf(why, sizeof(why), "%s", err);
    PQclear(PQexec(pg, "ROLLBACK"));
    set_err(err, errlen, "migration %s failed: %s", m->name, why);
    return -1;
}

int db_migrate(const char *conninfo, uint64_t wait_ms, char *err, size_t errlen)
{
    PGconn *pg = connect_with_wait(conninfo, wait_ms, err, errlen);
    if (!pg)
        return -1;
    int rc = -1;
    char lock_sql[96];
    snprintf(lock_sql, sizeof(lock_sql), "SELECT pg_advisory_lock(%lld)", MIGRATION_LOCK_KEY);
    PQclear(PQexec(pg, "SET client_min_messages = warning"));
    if (exec_ok(pg, lock_sql, err, errlen))
        goto done;
    if (exec_ok(pg,
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version text PRIMARY KEY,"
                " name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())",
                err, errlen))
        goto unlock;

    int applied = 0;
    for (size_t i = 0; i < db_migrations_count; i++) {
        const embedded_file_t *m = &db_migrations[i];
        char version[32], name[128];
        if (split_name(m->name, version, sizeof(version), name, sizeof(name))) {
            set_err(err, errlen, "migration file %s: name must be NNNN_name.sql", m->name);
            goto unlock;
        }
        const char *params[1] = {version};
        PGresult *r = PQexecParams(pg, "SELECT 1 FROM schema_migrations WHERE version = $1", 1, NULL, params,
                                   NULL, NULL, 0);
        int done_already = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0;
        int failed = PQresultStatus(r) != PGRES_TUPLES_OK;
        if (failed)
            set_err(err, errlen, "%s", PQresultErrorMessage(r));
        PQclear(r);
        if (failed)
            goto unlock;
        if (done_already)
            continue;
        if (apply_one(pg, m, version, name, err, errlen))
            goto unlock;
        log_info("applied migration %s", m->name);
        applied++;
    }
    if (!applied)
        log_info("database schema is up to date (%zu migration(s))", db_migrations_count);
    rc = 0;
unlock:
    snprintf(lock_sql, sizeof(lock_sql), "SELECT pg_advisory_unlock(%lld)", MIGRATION_LOCK_KEY);
    PQclear(PQexec(pg, lock_sql));
done:
    PQfinish(pg);
    return rc;
}
