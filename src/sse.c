/* Live event streams of one worker: each stream's replay from the events
 * table, the hub's reads of what is new for all its streams, heartbeats,
 * and the end of streams that must not go on. sse.h says how events reach
 * the table and the streams; 0015_events.sql says what "settled" means. */
#include <assert.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hourglass/log.h"
#include "hourglass/mem.h"
#include "hourglass/revoked.h"
#include "hourglass/sse.h"

#define BUCKET_BITS 10
#define BUCKETS (1 << BUCKET_BITS) /* streams by user, per worker */
#define REPLAY_PAGE 500            /* rows per replay query; a full page asks again */
#define FETCH_PAGE 1000            /* rows per read of the hub */
#define SETTLE_RETRY_MIN_MS 2      /* the next read when events wait to settle, */
#define SETTLE_RETRY_MAX_MS 1000   /* doubling while nothing settles */
#define EVENT_STACK_BYTES 8192
#define INT64_DIGITS 20 /* the most a printed int64_t takes, sign included */
#define TICK_MS 1000    /* how soon an expired token ends its stream; the hub also reads then */
#define MAX_HUBS 64     /* WORKERS' most */
#define STAFF_AUDIENCE 0 /* the user_id of the shop's events */
/* Rows a prune deletes at once: a short transaction, since the events written
 * while it runs settle only when it ends. */
#define PRUNE_BATCH 500
#define PRUNE_PAUSE_MS 20 /* between full batches, so other writes go first, */
#define PRUNE_YIELD 9      /* and at least 9 times as long as the last batch took: a tenth of a connection at most */
#define PRUNE_INTERVAL_MIN_MS 1000
#define PRUNE_INTERVAL_MAX_MS 60000
#define ANNOUNCE_USERS 256 /* named in one NOTIFY (8 000 bytes at most); beyond, it names anyone */

static int stmt_replay, stmt_fetch, stmt_announce, stmt_prune;
static char instance_tag[2 * 8 + 1]; /* names this process in its own NOTIFYs */

void sse_register_statements(void)
{
    stmt_replay = db_statement_register(
        "sse_replay", "SELECT id, kind, body FROM events_replay($1::bigint[], $2::text[], $3::bigint, $4::int)");
    stmt_fetch = db_statement_register(
        "sse_fetch", "SELECT user_id, id, kind, body FROM events_fetch($1::bigint, $2::bigint[], $3::text[], $4::int)");
    /* Its own transaction, apart from any write: the notify lock is held
     * only by it, and a wake-up needs no flush to disk. */
    stmt_announce = db_statement_register(
        "sse_announce", "SELECT pg_notify('" SSE_EVENTS_CHANNEL "', $1), set_config('synchronous_commit', 'off', true)");
    stmt_prune = db_statement_register("sse_prune", "SELECT events_prune($1::bigint, $2::int)");
    unsigned char r[8];
    if (uv_random(NULL, NULL, r, sizeof(r), 0, NULL))
        memcpy(r, &(uint64_t){(uint64_t)uv_os_getpid() ^ (uint64_t)time(NULL) << 20}, sizeof(r));
    for (size_t i = 0; i < sizeof(r); i++)
        snprintf(instance_tag + 2 * i, 3, "%02x", r[i]);
}

/* The event names a stream may see, and the type each belongs to. */
static const struct {
    const char *name;
    unsigned type;
} kinds[] = {
    {.name = "message", .type = SSE_MESSAGE},
    {.name = "change", .type = SSE_CHANGE},
    {.name = "order_created", .type = SSE_SHOP},
    {.name = "order_status_changed", .type = SSE_SHOP},
    {.name = "contact_form_created", .type = SSE_SHOP},
};
static const char *const type_names[] = {"message", "change", "shop"};

/* The static name of a kind the database sent, or NULL for one this server
 * does not know (a newer instance's). */
static const char *kind_name(const char *kind, unsigned *type)
{
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (!strcmp(kinds[i].name, kind)) {
            *type = kinds[i].type;
            return kinds[i].name;
        }
    return NULL;
}

int sse_types_parse(const char *list, unsigned *types)
{
    *types = 0;
    for (const char *p = list;; p++) {
        size_t len = strcspn(p, ",");
        unsigned bit = 0;
        for (size_t i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++)
            if (strlen(type_names[i]) == len && !strncmp(type_names[i], p, len))
                bit = 1u << i;
        if (!bit)
            return -1;
        *types |= bit;
        p += len;
        if (!*p)
            return 0;
    }
}

/* "{message,change,...}": the event names of types, as a text[] literal. */
static void kinds_literal(unsigned types, char *out, size_t cap)
{
    size_t n = (size_t)snprintf(out, cap, "{");
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (types & kinds[i].type)
            n += (size_t)snprintf(out + n, cap - n, "%s%s", n > 1 ? "," : "", kinds[i].name);
    snprintf(out + n, cap - n, "}");
}

#define KINDS_LITERAL_MAX 128

typedef struct pending_event {
    struct pending_event *next;
    int64_t id;
    const char *kind;
    size_t len;
    char json[];
} pending_event_t;

/* Where a stream is. Until it is live, live events wait in its pending list,
 * and it goes live only after a replay that succeeded: what committed since
 * its last id comes first, from the table, with no gap. */
typedef enum {
    STREAM_REPLAYING, /* its replay query is out (never more than one) */
    STREAM_BEHIND,    /* a replay is due: sent when no read of the hub is out (the read
                         may not have asked for this user), or after a failure */
    STREAM_LIVE,      /* events are written as they come */
    STREAM_ENDED,     /* its request is gone and it has left the hub; freed when its replay answers */
} stream_state_t;

struct sse_stream {
    sse_hub_t *hub;
    http_request_t *req; /* until STREAM_ENDED */
    sse_stream_t *prev, *next;
    stream_state_t state;
    int64_t user_id, session_id, expires_at;
    int64_t last_sent; /* every event up to it was sent or passed over */
    unsigned types;    /* SSE_* bits, without SSE_SHOP unless staff */
    pending_event_t *pend_head, *pend_tail;
    size_t pend_bytes;
};

struct sse_hub {
    uv_loop_t *loop;
    db_pool_t *db;
    const config_t *cfg;
    metrics_worker_t *metrics;
    uv_timer_t tick;  /* every second: expiry, the heartbeat when due, replays due, a read */
    uv_timer_t retry; /* the next read while events wait to settle */
    uv_timer_t prune;
    uv_async_t wake; /* a write on another worker of this process */
    uint64_t last_beat_ms, retry_ms;
    sse_stream_t *buckets[BUCKETS];
    int count, behind; /* streams here, and those in STREAM_BEHIND */
    int64_t cursor;      /* rows up to it were read for the streams here; -1 until a replay places it */
    int64_t cursor_base; /* where it was placed: a replay that ends below it missed what lies between */
    unsigned epoch;      /* of the cursor; a read from before it was reset is dropped */
    unsigned fetch_epoch;
    unsigned fetching : 1, fetch_again : 1, announcing : 1, pruning : 1, closing : 1;
    int64_t announce_users[ANNOUNCE_USERS]; /* written for since the NOTIFY in flight was sent */
    int announce_count;                     /* -1: anyone */
    int open_handles;
    uint64_t prune_interval_ms;
    uint64_t prune_sent_ms; /* when the batch out was sent */
    void (*closed)(void *);
    void *closed_data;
};

/* The hubs of this process, for sse_events_written. */
static pthread_mutex_t hubs_lock = PTHREAD_MUTEX_INITIALIZER;
static sse_hub_t *hubs[MAX_HUBS];
static int hub_count;

/* The process's count of streams per user. */
typedef struct user_count {
    struct user_count *next;
    int64_t user_id;
    int count;
} user_count_t;

static pthread_mutex_t counts_lock = PTHREAD_MUTEX_INITIALIZER;
static user_count_t *counts[BUCKETS];

static size_t bucket_of(int64_t user_id)
{
    return (size_t)(((uint64_t)user_id * 0x9E3779B97F4A7C15ull) >> (64 - BUCKET_BITS));
}

/* Where user_id's count is, or would be linked in; counts_lock held. */
static user_count_t **count_slot(int64_t user_id)
{
    user_count_t **pp = &counts[bucket_of(user_id)];
    while (*pp && (*pp)->user_id != user_id)
        pp = &(*pp)->next;
    return pp;
}

int sse_reserve(int64_t user_id, int max)
{
    int rc = -1;
    pthread_mutex_lock(&counts_lock);
    user_count_t **pp = count_slot(user_id);
    if (!*pp) {
        *pp = mem_calloc(1, sizeof(**pp));
        (*pp)->user_id = user_id;
    }
    if ((*pp)->count < max) {
        (*pp)->count++;
        rc = 0;
    }
    pthread_mutex_unlock(&counts_lock);
    return rc;
}

void sse_release(int64_t user_id)
{
    pthread_mutex_lock(&counts_lock);
    user_count_t **pp = count_slot(user_id);
    assert(*pp && (*pp)->count > 0);
    if (--(*pp)->count == 0) {
        user_count_t *gone = *pp;
        *pp = gone->next;
        free(gone);
    }
    pthread_mutex_unlock(&counts_lock);
}

static void stream_set_state(sse_stream_t *st, stream_state_t state)
{
    st->hub->behind += (state == STREAM_BEHIND) - (st->state == STREAM_BEHIND);
    st->state = state;
}

static void pending_clear(sse_stream_t *st)
{
    while (st->pend_head) {
        pending_event_t *next = st->pend_head->next;
        free(st->pend_head);
        st->pend_head = next;
    }
    st->pend_tail = NULL;
    st->pend_bytes = 0;
}

/* The stream has ended (or its request is gone): it leaves the hub, and is
 * freed unless its replay is still out. Whoever calls this, or anything that
 * returns -1 for "the stream has ended", must not touch st afterwards. */
static void stream_lost(sse_stream_t *st)
{
    assert(st->state != STREAM_ENDED);
    sse_hub_t *hub = st->hub;
    if (st->prev)
        st->prev->next = st->next;
    else
        hub->buckets[bucket_of(st->user_id)] = st->next;
    if (st->next)
        st->next->prev = st->prev;
    st->req = NULL;
    if (--hub->count == 0) { /* nothing to read for: placed again by the next stream */
        hub->cursor = -1;
        hub->epoch++;
    }
    metrics_gauge_add(hub->metrics, GAUGE_SSE_OPEN, -1);
    sse_release(st->user_id);
    pending_clear(st);
    int replaying = st->state == STREAM_REPLAYING;
    stream_set_state(st, STREAM_ENDED);
    if (!replaying)
        free(st);
}

void sse_stream_gone(void *stream) { stream_lost(stream); }

/* A reader too slow to keep: its connection closes, unsent bytes and all. */
static void stream_drop(sse_stream_t *st, size_t unsent)
{
    log_info("event stream of user %" PRId64 " dropped: %zu bytes unsent", st->user_id, unsent);
    metrics_gauge_add(st->hub->metrics, COUNTER_SSE_DROPPED, 1);
    http_stream_abort(st->req);
    stream_lost(st);
}

/* Writes bytes; a stream that has ended, or whose reader has left more than
 * EVENTS_MAX_UNSENT unsent, is let go. 0, or -1 when the stream has ended.
 * A failed write lets go of the request too: the transport may not have
 * called gone yet, and must not once the stream is freed. */
static int stream_put(sse_stream_t *st, const char *bytes, size_t len)
{
    sse_hub_t *hub = st->hub;
    long unsent = http_stream_write(st->req, bytes, len);
    if (unsent < 0) {
        http_stream_abort(st->req);
        stream_lost(st);
        return -1;
    }
    if ((size_t)unsent > hub->cfg->events_max_unsent) {
        stream_drop(st, (size_t)unsent);
        return -1;
    }
    return 0;
}

/* "id: N / event: kind / data: json". 0, or -1 when the stream has ended. */
static int stream_write_event(sse_stream_t *st, int64_t id, const char *kind, const char *json, size_t len)
{
    char head[96];
    int hn = snprintf(head, sizeof(head), "id: %" PRId64 "\nevent: %s\ndata: ", id, kind);
    size_t total = (size_t)hn + len + 2;
    char stack[EVENT_STACK_BYTES];
    char *buf = total <= sizeof(stack) ? stack : mem_alloc(total);
    memcpy(buf, head, (size_t)hn);
    memcpy(buf + hn, json, len);
    memcpy(buf + hn + len, "\n\n", 2);
    metrics_worker_t *metrics = st->hub->metrics;
    st->last_sent = id;
    int rc = stream_put(st, buf, total);
    if (buf != stack)
        free(buf);
    if (rc == 0)
        metrics_gauge_add(metrics, COUNTER_SSE_SENT, 1);
    return rc;
}

/* Written at once when live; held until the stream is. 0, or -1 when the
 * stream has ended. */
static int stream_event(sse_stream_t *st, int64_t id, const char *kind, const char *json, size_t len)
{
    if (st->state == STREAM_LIVE)
        return id > st->last_sent ? stream_write_event(st, id, kind, json, len) : 0;
    if (st->pend_bytes + len > st->hub->cfg->events_max_unsent) {
        stream_drop(st, st->pend_bytes + len);
        return -1;
    }
    pending_event_t *p = mem_alloc(sizeof(*p) + len);
    *p = (pending_event_t){.id = id, .kind = kind, .len = len};
    memcpy(p->json, json, len);
    if (st->pend_tail)
        st->pend_tail->next = p;
    else
        st->pend_head = p;
    st->pend_tail = p;
    st->pend_bytes += len;
    return 0;
}

/* "{user}" or "{user,0}": whose events the stream reads. */
static void users_literal(const sse_stream_t *st, char *out, size_t cap)
{
    if (st->types & SSE_SHOP)
        snprintf(out, cap, "{%" PRId64 ",%d}", st->user_id, STAFF_AUDIENCE);
    else
        snprintf(out, cap, "{%" PRId64 "}", st->user_id);
}

static void on_replayed(void *data, PGresult *res, db_status_t status);

/* Asks for what committed after the last id sent. Never writes and never
 * ends the stream: a query that cannot be sent leaves it behind. Only while
 * no read of the hub is out: that read did not ask for this stream's user
 * if it began before the stream came, and the replay must reach past it. */
static void stream_replay(sse_stream_t *st)
{
    assert(st->state == STREAM_BEHIND && !st->hub->fetching);
    char users[2 * INT64_DIGITS + 4], kinds_text[KINDS_LITERAL_MAX], from[INT64_DIGITS + 1], limit[16];
    users_literal(st, users, sizeof(users));
    kinds_literal(st->types, kinds_text, sizeof(kinds_text));
    snprintf(from, sizeof(from), "%" PRId64, st->last_sent);
    snprintf(limit, sizeof(limit), "%d", REPLAY_PAGE);
    const char *params[4] = {users, kinds_text, from, limit};
    if (db_query_lane(st->hub->db, stmt_replay, 4, params, on_replayed, st) == DB_OK)
        stream_set_state(st, STREAM_REPLAYING);
}

/* The held events after the replay: each is taken off the list before it is
 * written, so a write that ends the stream leaves nothing to touch. */
static void replay_done(sse_stream_t *st)
{
    stream_set_state(st, STREAM_LIVE);
    pending_event_t *p;
    while ((p = st->pend_head)) {
        st->pend_head = p->next;
        if (!st->pend_head)
            st->pend_tail = NULL;
        st->pend_bytes -= p->len;
        int ended = p->id > st->last_sent && stream_write_event(st, p->id, p->kind, p->json, p->len);
        free(p);
        if (ended)
            return;
    }
}

/* The replay reached pos, with every event up to it sent: live, unless the
 * hub's reads started above it (then what lies between comes by replaying
 * again). The first stream to get there places the hub's cursor. */
static void replay_reached(sse_stream_t *st, int64_t pos)
{
    sse_hub_t *hub = st->hub;
    if (pos > st->last_sent)
        st->last_sent = pos;
    if (hub->cursor < 0)
        hub->cursor = hub->cursor_base = pos;
    if (pos < hub->cursor_base) {
        if (!hub->fetching)
            stream_replay(st);
        return;
    }
    replay_done(st);
}

static void on_replayed(void *data, PGresult *res, db_status_t status)
{
    sse_stream_t *st = data;
    if (st->state == STREAM_ENDED) {
        free(st);
        return;
    }
    assert(st->state == STREAM_REPLAYING);
    stream_set_state(st, STREAM_BEHIND);
    if (status != DB_OK || PQresultStatus(res) != PGRES_TUPLES_OK) {
        log_warn("event stream of user %" PRId64 ": could not replay its events; trying again", st->user_id);
        return;
    }
    int rows = PQntuples(res);
    for (int i = 0; i < rows; i++) {
        int64_t id = strtoll(PQgetvalue(res, i, 0), NULL, 10);
        const char *kind = PQgetvalue(res, i, 1);
        unsigned type;
        if (PQgetisnull(res, i, 2)) { /* the last row: where the replay got to */
            if (!strcmp(kind, "more")) {
                st->last_sent = id;
                if (!st->hub->fetching)
                    stream_replay(st);
                return;
            }
            if (!strcmp(kind, "reset") && stream_write_event(st, id, "reset", "{}", 2))
                return;
            replay_reached(st, id);
            return;
        }
        const char *name = kind_name(kind, &type);
        if (name && id > st->last_sent &&
            stream_write_event(st, id, name, PQgetvalue(res, i, 2), (size_t)PQgetlength(res, i, 2)))
            return;
    }
    log_warn("event stream of user %" PRId64 ": a replay without its last row", st->user_id);
}

sse_stream_t *sse_stream_new(sse_hub_t *hub, int64_t user_id, int64_t session_id, int64_t expires_at,
                             int64_t after_id, unsigned types, int staff)
{
    sse_stream_t *st = mem_calloc(1, sizeof(*st));
    st->hub = hub;
    st->state = STREAM_ENDED; /* until attached */
    st->user_id = user_id;
    st->session_id = session_id;
    st->expires_at = expires_at;
    st->last_sent = after_id; /* the client has every id up to it: none of those again, live or replayed */
    st->types = staff ? types : types & ~SSE_SHOP;
    return st;
}

void sse_attach(sse_stream_t *st, http_request_t *req)
{
    sse_hub_t *hub = st->hub;
    size_t b = bucket_of(st->user_id);
    st->req = req;
    st->next = hub->buckets[b];
    if (st->next)
        st->next->prev = st;
    hub->buckets[b] = st;
    hub->count++;
    metrics_gauge_add(hub->metrics, GAUGE_SSE_OPEN, 1);
    stream_set_state(st, STREAM_BEHIND);
    /* What committed between where it starts and now, then live events. */
    if (!hub->fetching)
        stream_replay(st);
}

int sse_hub_stream_count(const sse_hub_t *hub) { return hub->count; }

/* Sends the replays that are due (none while a read is out: see stream_replay). */
static void replay_behind(sse_hub_t *hub)
{
    if (!hub->behind || hub->fetching)
        return;
    for (int b = 0; b < BUCKETS; b++)
        for (sse_stream_t *st = hub->buckets[b]; st; st = st->next)
            if (st->state == STREAM_BEHIND)
                stream_replay(st);
}

static int hub_has_user(const sse_hub_t *hub, int64_t user_id)
{
    for (const sse_stream_t *st = hub->buckets[bucket_of(user_id)]; st; st = st->next)
        if (st->user_id == user_id)
            return 1;
    return 0;
}

static void deliver(sse_hub_t *hub, int64_t user_id, int64_t id, const char *kind, const char *json, size_t len)
{
    unsigned type;
    const char *name = kind_name(kind, &type);
    if (!name)
        return;
    sse_stream_t *next;
    if (user_id == STAFF_AUDIENCE) {
        for (int b = 0; b < BUCKETS; b++)
            for (sse_stream_t *st = hub->buckets[b]; st; st = next) {
                next = st->next;
                if (st->types & SSE_SHOP)
                    stream_event(st, id, name, json, len);
            }
        return;
    }
    for (sse_stream_t *st = hub->buckets[bucket_of(user_id)]; st; st = next) {
        next = st->next;
        if (st->user_id == user_id && (st->types & type))
            stream_event(st, id, name, json, len);
    }
}

/* The users of the streams here, once each ("{1,5,0}", 0 when some stream
 * wants the shop's events), and the event names any of them wants; NULL
 * when there is no stream. The caller frees it. */
static char *hub_users(const sse_hub_t *hub, unsigned *types)
{
    size_t cap = (size_t)hub->count * (INT64_DIGITS + 1) + 8, n = 0;
    char *out = mem_alloc(cap);
    *types = 0;
    out[n++] = '{';
    for (int b = 0; b < BUCKETS; b++)
        for (const sse_stream_t *st = hub->buckets[b]; st; st = st->next) {
            *types |= st->types;
            const sse_stream_t *seen = hub->buckets[b];
            while (seen != st && seen->user_id != st->user_id)
                seen = seen->next;
            if (seen == st)
                n += (size_t)snprintf(out + n, cap - n, "%s%" PRId64, n > 1 ? "," : "", st->user_id);
        }
    if (n == 1) {
        free(out);
        return NULL;
    }
    if (*types & SSE_SHOP)
        n += (size_t)snprintf(out + n, cap - n, ",%d", STAFF_AUDIENCE);
    snprintf(out + n, cap - n, "}");
    return out;
}

static void on_fetched(void *data, PGresult *res, db_status_t status);

/* Reads what is new for every stream here, one read at a time, so each
 * stream gets its events in id order. */
static void hub_read(sse_hub_t *hub)
{
    if (hub->cursor < 0 || hub->closing)
        return;
    if (hub->fetching) {
        hub->fetch_again = 1;
        return;
    }
    unsigned types;
    char *users = hub_users(hub, &types);
    if (!users)
        return;
    char after[INT64_DIGITS + 1], kinds_text[KINDS_LITERAL_MAX], limit[16];
    snprintf(after, sizeof(after), "%" PRId64, hub->cursor);
    kinds_literal(types, kinds_text, sizeof(kinds_text));
    snprintf(limit, sizeof(limit), "%d", FETCH_PAGE);
    const char *params[4] = {after, users, kinds_text, limit};
    uv_timer_stop(&hub->retry);
    if (db_query_lane(hub->db, stmt_fetch, 4, params, on_fetched, hub) == DB_OK) {
        hub->fetching = 1;
        hub->fetch_epoch = hub->epoch;
    }
    free(users);
}

static void on_retry(uv_timer_t *t) { hub_read(t->data); }

static void on_fetched(void *data, PGresult *res, db_status_t status)
{
    sse_hub_t *hub = data;
    hub->fetching = 0;
    int again = hub->fetch_again;
    hub->fetch_again = 0;
    if (status != DB_OK || PQresultStatus(res) != PGRES_TUPLES_OK) {
        log_warn("event streams: could not read new events; reading again");
    } else if (hub->fetch_epoch == hub->epoch) {
        int rows = PQntuples(res);
        for (int i = 0; i < rows && hub->cursor >= 0; i++) {
            int64_t id = strtoll(PQgetvalue(res, i, 1), NULL, 10);
            const char *kind = PQgetvalue(res, i, 2);
            if (!PQgetisnull(res, i, 0)) {
                deliver(hub, strtoll(PQgetvalue(res, i, 0), NULL, 10), id, kind, PQgetvalue(res, i, 3),
                        (size_t)PQgetlength(res, i, 3));
                continue;
            }
            /* the last row: where the next read starts, and when */
            int moved = id > hub->cursor;
            hub->cursor = id;
            if (!strcmp(kind, "more")) {
                again = 1;
            } else if (!strcmp(kind, "wait")) {
                hub->retry_ms = moved ? SETTLE_RETRY_MIN_MS : hub->retry_ms * 2;
                if (hub->retry_ms > SETTLE_RETRY_MAX_MS)
                    hub->retry_ms = SETTLE_RETRY_MAX_MS;
                uv_timer_start(&hub->retry, on_retry, hub->retry_ms, 0);
            }
        }
    }
    replay_behind(hub);
    if (again)
        hub_read(hub);
}

/* Whether a user has a stream in this process. */
static int user_streams_here(int64_t user_id)
{
    pthread_mutex_lock(&counts_lock);
    int here = *count_slot(user_id) != NULL;
    pthread_mutex_unlock(&counts_lock);
    return here;
}

static void on_announced(void *data, PGresult *res, db_status_t status);

/* Tells other instances whose events were written: "<tag> <user> <user>...",
 * or "<tag> *" for anyone. One NOTIFY in flight; what comes meanwhile goes next. */
static void announce(sse_hub_t *hub)
{
    if (hub->announcing || hub->announce_count == 0)
        return;
    char payload[sizeof(instance_tag) + ANNOUNCE_USERS * (INT64_DIGITS + 1) + 4];
    size_t n = (size_t)snprintf(payload, sizeof(payload), "%s", instance_tag);
    if (hub->announce_count < 0)
        n += (size_t)snprintf(payload + n, sizeof(payload) - n, " *");
    for (int i = 0; i < hub->announce_count; i++)
        n += (size_t)snprintf(payload + n, sizeof(payload) - n, " %" PRId64, hub->announce_users[i]);
    const char *params[1] = {payload};
    if (db_query(hub->db, stmt_announce, 1, params, on_announced, hub) == DB_OK) {
        hub->announcing = 1;
        hub->announce_count = 0;
    }
}

static void on_announced(void *data, PGresult *res, db_status_t status)
{
    (void)res;
    sse_hub_t *hub = data;
    hub->announcing = 0;
    if (status != DB_OK)
        log_warn("event streams: could not tell other instances of new events");
    announce(hub);
}

static void announce_user(sse_hub_t *hub, int64_t user_id)
{
    if (hub->announce_count < 0)
        return;
    for (int i = 0; i < hub->announce_count; i++)
        if (hub->announce_users[i] == user_id)
            return;
    if (user_id == SSE_ANYONE || hub->announce_count == ANNOUNCE_USERS)
        hub->announce_count = -1;
    else
        hub->announce_users[hub->announce_count++] = user_id;
}

void sse_events_written(sse_hub_t *hub, int64_t user_id)
{
    if (user_id == SSE_ANYONE || user_streams_here(user_id)) {
        pthread_mutex_lock(&hubs_lock);
        for (int i = 0; i < hub_count; i++)
            uv_async_send(&hubs[i]->wake);
        pthread_mutex_unlock(&hubs_lock);
    }
    announce_user(hub, user_id);
    announce(hub);
}

/* Something was written: read it, and send the replays that are due (the
 * database may answer again after a failure). */
static void hub_woken(sse_hub_t *hub)
{
    hub_read(hub);
    replay_behind(hub);
}

static void on_wake(uv_async_t *a) { hub_woken(a->data); }

/* A NOTIFY of another instance (this one's own hubs were woken directly):
 * read when it names anyone, or a user with a stream here. */
void sse_on_events_notify(void *data, const char *payload)
{
    sse_hub_t *hub = data;
    size_t tag = strlen(instance_tag);
    if (!strncmp(payload, instance_tag, tag) && (payload[tag] == ' ' || !payload[tag]))
        return;
    const char *p = strchr(payload, ' ');
    if (!p || strchr(p, '*')) {
        hub_woken(hub);
        return;
    }
    while (*p) {
        char *end;
        long long user = strtoll(p, &end, 10);
        if (end == p)
            break;
        if (hub_has_user(hub, user)) {
            hub_woken(hub);
            return;
        }
        p = end;
    }
}

static void stream_end(sse_stream_t *st)
{
    http_stream_end(st->req);
    stream_lost(st);
}

void sse_on_revoked_notify(void *data, const char *payload)
{
    sse_hub_t *hub = data;
    int64_t sid = strtoll(payload, NULL, 10);
    for (int b = 0; b < BUCKETS; b++) {
        sse_stream_t *next;
        for (sse_stream_t *st = hub->buckets[b]; st; st = next) {
            next = st->next;
            if (st->session_id == sid)
                stream_end(st);
        }
    }
}

void sse_on_listening(void *data) { hub_woken(data); }

static void on_tick(uv_timer_t *t)
{
    sse_hub_t *hub = t->data;
    int64_t now = (int64_t)time(NULL);
    uint64_t loop_now = uv_now(hub->loop);
    int beat = loop_now - hub->last_beat_ms >= hub->cfg->events_heartbeat_ms;
    if (beat)
        hub->last_beat_ms = loop_now;
    for (int b = 0; b < BUCKETS; b++) {
        sse_stream_t *next;
        for (sse_stream_t *st = hub->buckets[b]; st; st = next) {
            next = st->next;
            if (now >= st->expires_at || revoked_contains(st->session_id))
                stream_end(st);
            else if (beat)
                stream_put(st, ":\n\n", 3);
        }
    }
    /* a wake-up may have been lost with an instance that died after its commit */
    hub_woken(hub);
}

static void prune_arm(sse_hub_t *hub, uint64_t ms);

static void on_pruned(void *data, PGresult *res, db_status_t status)
{
    sse_hub_t *hub = data;
    hub->pruning = 0;
    int full = status == DB_OK && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
               atoi(PQgetvalue(res, 0, 0)) >= PRUNE_BATCH;
    uint64_t pause = (uv_now(hub->loop) - hub->prune_sent_ms) * PRUNE_YIELD;
    prune_arm(hub, !full ? hub->prune_interval_ms : pause > PRUNE_PAUSE_MS ? pause : PRUNE_PAUSE_MS);
}

/* One batch of events past EVENTS_RETENTION, each its own short transaction. */
static void on_prune(uv_timer_t *t)
{
    sse_hub_t *hub = t->data;
    char retention[INT64_DIGITS + 1], batch[16];
    snprintf(retention, sizeof(retention), "%" PRIu64, hub->cfg->events_retention_ms);
    snprintf(batch, sizeof(batch), "%d", PRUNE_BATCH);
    const char *params[2] = {retention, batch};
    hub->prune_sent_ms = uv_now(hub->loop);
    hub->pruning = db_query(hub->db, stmt_prune, 2, params, on_pruned, hub) == DB_OK;
    if (!hub->pruning)
        prune_arm(hub, hub->prune_interval_ms);
}

static void prune_arm(sse_hub_t *hub, uint64_t ms)
{
    if (!hub->closing)
        uv_timer_start(&hub->prune, on_prune, ms, 0);
}

sse_hub_t *sse_hub_new(uv_loop_t *loop, db_pool_t *db, const config_t *cfg, metrics_worker_t *metrics, int prune)
{
    sse_hub_t *hub = mem_calloc(1, sizeof(*hub));
    hub->loop = loop;
    hub->db = db;
    hub->cfg = cfg;
    hub->metrics = metrics;
    hub->cursor = -1;
    hub->retry_ms = SETTLE_RETRY_MIN_MS;
    uv_timer_t *timers[] = {&hub->tick, &hub->retry, &hub->prune};
    for (size_t i = 0; i < sizeof(timers) / sizeof(timers[0]); i++) {
        uv_timer_init(loop, timers[i]);
        timers[i]->data = hub;
        uv_unref((uv_handle_t *)timers[i]);
    }
    uv_async_init(loop, &hub->wake, on_wake);
    hub->wake.data = hub;
    uv_unref((uv_handle_t *)&hub->wake);
    hub->open_handles = 4;
    uint64_t tick = cfg->events_heartbeat_ms < TICK_MS ? cfg->events_heartbeat_ms : TICK_MS;
    hub->last_beat_ms = uv_now(loop);
    uv_timer_start(&hub->tick, on_tick, tick, tick);
    hub->prune_interval_ms = cfg->events_retention_ms / 4;
    if (hub->prune_interval_ms < PRUNE_INTERVAL_MIN_MS)
        hub->prune_interval_ms = PRUNE_INTERVAL_MIN_MS;
    if (hub->prune_interval_ms > PRUNE_INTERVAL_MAX_MS)
        hub->prune_interval_ms = PRUNE_INTERVAL_MAX_MS;
    if (prune)
        prune_arm(hub, hub->prune_interval_ms);
    pthread_mutex_lock(&hubs_lock);
    assert(hub_count < MAX_HUBS);
    hubs[hub_count++] = hub;
    pthread_mutex_unlock(&hubs_lock);
    return hub;
}

static void on_handle_closed(uv_handle_t *h)
{
    sse_hub_t *hub = h->data;
    if (--hub->open_handles == 0 && hub->closed)
        hub->closed(hub->closed_data);
}

void sse_hub_close(sse_hub_t *hub, void (*done)(void *), void *data)
{
    pthread_mutex_lock(&hubs_lock); /* no one wakes it from now on */
    for (int i = 0; i < hub_count; i++)
        if (hubs[i] == hub)
            hubs[i] = hubs[--hub_count];
    pthread_mutex_unlock(&hubs_lock);
    hub->closing = 1;
    hub->closed = done;
    hub->closed_data = data;
    uv_close((uv_handle_t *)&hub->tick, on_handle_closed);
    uv_close((uv_handle_t *)&hub->retry, on_handle_closed);
    uv_close((uv_handle_t *)&hub->prune, on_handle_closed);
    uv_close((uv_handle_t *)&hub->wake, on_handle_closed);
}

void sse_hub_free(sse_hub_t *hub) { free(hub); }
