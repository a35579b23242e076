#ifndef HOURGLASS_DB_H
#define HOURGLASS_DB_H
#include <libpq-fe.h>
#include <stdint.h>
#include <uv.h>

struct config;

/* A pool of PostgreSQL connections owned by one worker loop. Connections are
 * opened without blocking, kept in pipeline mode, and run named prepared
 * statements that every connection prepares on first use. */
typedef struct db_pool db_pool_t;

typedef enum {
    DB_OK = 0,
    DB_UNAVAILABLE = -1, /* no usable connection, or it died with the query in flight */
    DB_OVERLOADED = -2,  /* the wait queue is full */
} db_status_t;

/* res is a PGRES_TUPLES_OK / COMMAND_OK / FATAL_ERROR result, or NULL with
 * status DB_UNAVAILABLE. The pool clears res after the callback. */
typedef void (*db_result_fn)(void *data, PGresult *res, db_status_t status);

/* Statements are registered once, before the workers start. Returns the id. */
int db_statement_register(const char *name, const char *sql);
/* The same for a write that may share its transaction with others: one
 * statement whose outcome does not hang on what other requests write at the
 * same time (a row inserted under its owner). The pool sends the ones that
 * wait for a connection together, one commit for all; if one fails, each is
 * run again alone, so every caller still gets its own statement's outcome. */
int db_statement_register_write(const char *name, const char *sql);

/* The parameters every session of a pool opens with, from a libpq URI or
 * key=value string: each keyword it sets, then "options" with the pool's own
 * session options first and the string's after them (so the string's win).
 * The arrays end in a slot for hostaddr (db_conninfo_set_hostaddr) and NULL,
 * as PQconnectStartParams takes them. */
typedef struct {
    const char **keywords;
    const char **values;
    int count;            /* entries before the hostaddr slot */
    const char *dns_host; /* a host name to resolve without blocking, or NULL */
    PQconninfoOption *parsed;
    char *session_options;
} db_conninfo_t;

/* 0, or -1 with libpq's reason in err, any quoted part of the string (it
 * may hold the password) left out. */
int db_conninfo_parse(db_conninfo_t *ci, const char *conninfo, char *err, size_t errlen);
/* The address a connection opens, resolved by the pool; NULL for none. */
void db_conninfo_set_hostaddr(db_conninfo_t *ci, const char *hostaddr);
void db_conninfo_free(db_conninfo_t *ci);

db_pool_t *db_pool_new(uv_loop_t *loop, const struct config *cfg, int worker_id);
/* Sends or queues a query. Returns DB_OK (cb will be called exactly once) or
 * DB_UNAVAILABLE / DB_OVERLOADED (cb will not be called). Parameters are copied. */
db_status_t db_query(db_pool_t *pool, int stmt, int nparams, const char *const *values,
                     db_result_fn cb, void *data);
/* The same, on the pool's lane (one more connection that only these use;
 * db_query's queue while it is not ready or full). */
db_status_t db_query_lane(db_pool_t *pool, int stmt, int nparams, const char *const *values,
                          db_result_fn cb, void *data);

/* LISTEN on these channels (connection 0, again after every reconnect).
 * notify_fn runs on the pool's loop for each notification; listening_fn runs
 * each time the LISTENs are in place, so the owner can catch up on what was
 * missed while disconnected. channels must outlive the pool. */
typedef void (*db_notify_fn)(void *data, const char *channel, const char *payload);
void db_pool_listen(db_pool_t *pool, const char *const *channels, int count, db_notify_fn notify_fn,
                    void (*listening_fn)(void *data), void *data);
/* Fails what is queued, closes every connection; done runs when all handles are closed. */
void db_pool_close(db_pool_t *pool, void (*done)(void *), void *data);
/* After db_pool_close's callback: frees the memory. */
void db_pool_free(db_pool_t *pool);

/* Start-up (blocking is fine here): waits for the database, checks that no
 * applied migration has changed since (its recorded SHA-256), then applies
 * the embedded migrations not applied yet, under an advisory lock. Returns 0
 * or one of these, with the reason in err. */
enum {
    DB_MIGRATE_FAILED = -1,  /* no database, or a statement failed */
    DB_MIGRATE_CHANGED = -2, /* an applied migration's file is not the text that was applied */
};
int db_migrate(const char *conninfo, uint64_t wait_ms, char *err, size_t errlen);

#endif
