#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hourglass/log.h"
#include "hourglass/revoked.h"

/* Open addressing, linear probing; rebuilt (dropping old entries) when it fills. */
typedef struct {
    int64_t session_id; /* 0: empty */
    int64_t at_ms;
} revoked_entry_t;

static pthread_rwlock_t lock = PTHREAD_RWLOCK_INITIALIZER;
static revoked_entry_t *table;
static size_t capacity, used;
static uint64_t keep_ms;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static size_t slot_of(int64_t id, size_t cap) { return (size_t)((uint64_t)id * 0x9E3779B97F4A7C15ull) & (cap - 1); }

static void insert_unlocked(int64_t id, int64_t at)
{
    size_t i = slot_of(id, capacity);
    while (table[i].session_id && table[i].session_id != id)
        i = (i + 1) & (capacity - 1);
    if (!table[i].session_id)
        used++;
    table[i].session_id = id;
    table[i].at_ms = at;
}

static void rebuild(size_t new_cap)
{
    revoked_entry_t *old = table;
    size_t old_cap = capacity;
    int64_t cutoff = now_ms() - (int64_t)keep_ms;
    table = calloc(new_cap, sizeof(*table));
    capacity = new_cap;
    used = 0;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].session_id && old[i].at_ms >= cutoff)
            insert_unlocked(old[i].session_id, old[i].at_ms);
    free(old);
}

void revoked_setup(uint64_t keep)
{
    pthread_rwlock_wrlock(&lock);
    keep_ms = keep + 60000; /* and a minute for clocks that disagree */
    if (!table) {
        capacity = 1024;
        table = calloc(capacity, sizeof(*table));
        used = 0;
    }
    pthread_rwlock_unlock(&lock);
}

void revoked_add(int64_t session_id)
{
    if (session_id <= 0)
        return;
    pthread_rwlock_wrlock(&lock);
    if (!table)
        rebuild(1024);
    if ((used + 1) * 2 > capacity) {
        rebuild(capacity); /* first drop what expired */
        if ((used + 1) * 2 > capacity)
            rebuild(capacity * 2);
    }
    insert_unlocked(session_id, now_ms());
    pthread_rwlock_unlock(&lock);
}

void revoked_add_array_text(const char *text)
{
    const char *p = text;
    while (p && *p) {
        while (*p && (*p < '0' || *p > '9'))
            p++;
        if (!*p)
            break;
        char *end;
        long long id = strtoll(p, &end, 10);
        revoked_add(id);
        p = end;
    }
}

int revoked_contains(int64_t session_id)
{
    int found = 0;
    pthread_rwlock_rdlock(&lock);
    if (table) {
        size_t i = slot_of(session_id, capacity);
        while (table[i].session_id) {
            if (table[i].session_id == session_id) {
                found = 1;
                break;
            }
            i = (i + 1) & (capacity - 1);
        }
    }
    pthread_rwlock_unlock(&lock);
    return found;
}

void revoked_free(void)
{
    pthread_rwlock_wrlock(&lock);
    free(table);
    table = NULL;
    capacity = used = 0;
    pthread_rwlock_unlock(&lock);
}

static int stmt_recent_revoked;

void revoked_register_statements(void)
{
    stmt_recent_revoked = db_statement_register(
        "ev_recent_revoked",
        "SELECT coalesce(array_agg(id), '{}')::text FROM sessions WHERE revoked_at > now() - $1::bigint * interval '1 millisecond'");
}

static void on_recent_revoked(void *data, PGresult *res, db_status_t status)
{
    (void)data;
    if (status != DB_OK || PQresultStatus(res) != PGRES_TUPLES_OK) {
        log_warn("could not reload recent revocations");
        return;
    }
    revoked_add_array_text(PQgetvalue(res, 0, 0));
}

/* Notifications sent while we were not listening are lost: catch up. */
void revoked_catch_up(db_pool_t *db, uint64_t window_ms)
{
    char ms[32];
    snprintf(ms, sizeof(ms), "%llu", (unsigned long long)window_ms);
    const char *params[1] = {ms};
    db_query(db, stmt_recent_revoked, 1, params, on_recent_revoked, NULL);
}
