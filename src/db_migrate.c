/* Schema migrations, applied at start-up (blocking libpq is fine here: the
 * loops have not started). Several instances may start at once: an advisory
 * lock lets one apply while the others wait, then find nothing left to do.
 * Each applied file's SHA-256 is recorded; a file changed after it was
 * applied stops start-up, since databases migrated before and after the
 * change would differ under one version. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "hourglass/db.h"
#include "hourglass/embed.h"
#include "hourglass/log.h"
#include "hourglass/mem.h"

#define MIGRATION_LOCK_KEY 0x686f7572676c6173LL /* "hourglas" */
#define CHECKSUM_HEX_SIZE (crypto_hash_sha256_BYTES * 2 + 1)
#define VERSION_SIZE 32
#define NAME_SIZE 128

/* What a migration file is called and holds, and whether it is still to apply. */
typedef struct {
    char version[VERSION_SIZE], name[NAME_SIZE], checksum[CHECKSUM_HEX_SIZE];
    int pending;
} migration_t;

static PGconn *connect_with_wait(const char *conninfo, uint64_t wait_ms, char *err, size_t errlen)
{
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    int logged = 0;
    for (;;) {
        PGconn *pg = PQconnectdb(conninfo);
        if (PQstatus(pg) == CONNECTION_OK)
            return pg;
        log_format_error(err, errlen, "database: %s", PQerrorMessage(pg));
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

/* With no params, sql may be several statements (a migration file). */
static int exec_ok(PGconn *pg, const char *sql, int nparams, const char *const *params, char *err, size_t errlen)
{
    PGresult *r = nparams ? PQexecParams(pg, sql, nparams, NULL, params, NULL, NULL, 0) : PQexec(pg, sql);
    ExecStatusType st = PQresultStatus(r);
    int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    if (!ok)
        log_format_error(err, errlen, "%s", PQresultErrorMessage(r));
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

/* As `sha256sum db/migrations/FILE` prints it. */
static void file_checksum(const embedded_file_t *m, char hex[CHECKSUM_HEX_SIZE])
{
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, (const unsigned char *)m->data, m->len);
    sodium_bin2hex(hex, CHECKSUM_HEX_SIZE, digest, sizeof(digest));
}

static int apply_one(PGconn *pg, const embedded_file_t *m, const migration_t *file, char *err, size_t errlen)
{
    if (exec_ok(pg, "BEGIN", 0, NULL, err, errlen))
        return -1;
    char *sql = mem_strndup(m->data, m->len);
    int rc = exec_ok(pg, sql, 0, NULL, err, errlen);
    free(sql);
    const char *params[3] = {file->version, file->name, file->checksum};
    if (rc == 0 && exec_ok(pg, "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)", 3,
                           params, err, errlen) == 0 &&
        exec_ok(pg, "COMMIT", 0, NULL, err, errlen) == 0)
        return 0;
    char why[512];
    snprintf(why, sizeof(why), "%s", err);
    PQclear(PQexec(pg, "ROLLBACK"));
    log_format_error(err, errlen, "migration %s failed: %s", m->name, why);
    return -1;
}

/* The recorded checksum of a version: 1 and *checksum (NULL for a row from
 * before checksums), or 0 when the version is not applied yet. */
static int recorded(const PGresult *rows, const char *version, const char **checksum)
{
    for (int i = 0; i < PQntuples(rows); i++) {
        if (strcmp(PQgetvalue(rows, i, 0), version))
            continue;
        *checksum = PQgetisnull(rows, i, 1) ? NULL : PQgetvalue(rows, i, 1);
        return 1;
    }
    return 0;
}

/* Every applied file must still be the text that was applied; rows from
 * before checksums were recorded get the file's now, once and quietly.
 * files[i] is filled in for db_migrations[i]. */
static int check_applied(PGconn *pg, migration_t *files, char *err, size_t errlen)
{
    PGresult *rows = PQexec(pg, "SELECT version, checksum FROM schema_migrations");
    if (PQresultStatus(rows) != PGRES_TUPLES_OK) {
        log_format_error(err, errlen, "%s", PQresultErrorMessage(rows));
        PQclear(rows);
        return DB_MIGRATE_FAILED;
    }
    int rc = 0;
    for (size_t i = 0; i < db_migrations_count && rc == 0; i++) {
        const embedded_file_t *m = &db_migrations[i];
        migration_t *f = &files[i];
        const char *was = NULL;
        if (split_name(m->name, f->version, sizeof(f->version), f->name, sizeof(f->name))) {
            log_format_error(err, errlen, "migration file %s: name must be NNNN_name.sql", m->name);
            rc = DB_MIGRATE_FAILED;
            break;
        }
        f->pending = !recorded(rows, f->version, &was);
        file_checksum(m, f->checksum);
        if (f->pending || (was && !strcmp(was, f->checksum)))
            continue;
        if (was) {
            log_format_error(err, errlen,
                    "migration %s was changed after it was applied (its SHA-256 is not the one in "
                    "schema_migrations): restore it and put the change in a new migration", m->name);
            rc = DB_MIGRATE_CHANGED;
            break;
        }
        const char *params[2] = {f->version, f->checksum};
        if (exec_ok(pg, "UPDATE schema_migrations SET checksum = $2 WHERE version = $1", 2, params, err, errlen))
            rc = DB_MIGRATE_FAILED;
    }
    PQclear(rows);
    return rc;
}

int db_migrate(const char *conninfo, uint64_t wait_ms, char *err, size_t errlen)
{
    PGconn *pg = connect_with_wait(conninfo, wait_ms, err, errlen);
    if (!pg)
        return DB_MIGRATE_FAILED;
    int rc = DB_MIGRATE_FAILED;
    migration_t *files = mem_calloc(db_migrations_count, sizeof(*files));
    char lock_sql[96];
    snprintf(lock_sql, sizeof(lock_sql), "SELECT pg_advisory_lock(%lld)", MIGRATION_LOCK_KEY);
    PQclear(PQexec(pg, "SET client_min_messages = warning"));
    if (exec_ok(pg, lock_sql, 0, NULL, err, errlen))
        goto done;
    /* checksum is NULL only in rows applied before it was recorded */
    if (exec_ok(pg,
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version text PRIMARY KEY,"
                " name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now(),"
                " checksum text)",
                0, NULL, err, errlen) ||
        exec_ok(pg, "ALTER TABLE schema_migrations ADD COLUMN IF NOT EXISTS checksum text", 0, NULL, err, errlen))
        goto unlock;
    int checked = check_applied(pg, files, err, errlen);
    if (checked) {
        rc = checked;
        goto unlock;
    }

    int applied = 0;
    for (size_t i = 0; i < db_migrations_count; i++) {
        if (!files[i].pending)
            continue;
        if (apply_one(pg, &db_migrations[i], &files[i], err, errlen))
            goto unlock;
        log_info("applied migration %s", db_migrations[i].name);
        applied++;
    }
    if (!applied)
        log_info("database schema is up to date (%zu migration(s))", db_migrations_count);
    rc = 0;
unlock:
    snprintf(lock_sql, sizeof(lock_sql), "SELECT pg_advisory_unlock(%lld)", MIGRATION_LOCK_KEY);
    PQclear(PQexec(pg, lock_sql));
done:
    free(files);
    PQfinish(pg);
    return rc;
}
