/* Live event streams of one worker: fan-out of committed messages to the
 * streams of their sender and recipient, replay after Last-Event-ID or a
 * lost LISTEN, heartbeats, and the end of streams that must not go on. */
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

#define BUCKETS 1024        /* streams by user, per worker */
#define REPLAY_PAGE 500     /* messages per replay query; a full page asks again */
#define FETCH_BATCH 256     /* notified ids fetched in one query */
#define EVENT_STACK_BYTES 8192
#define TICK_MS 1000        /* how soon an expired token ends its stream */

static int stmt_by_ids, stmt_replay;

void sse_register_statements(void)
{
    stmt_by_ids = db_statement_register(
        "sse_by_ids", "SELECT id, from_user_id, to_user_id, body FROM messages_json_by_ids($1::bigint[])");
    stmt_replay =
        db_statement_register("sse_replay", "SELECT id, body FROM messages_replay($1::bigint, $2::bigint, $3::int)");
}

typedef struct pending_event {
    struct pending_event *next;
    int64_t id;
    size_t len;
    char json[];
} pending_event_t;

struct sse_stream {
    sse_hub_t *hub;
    http_request_t *req; /* NULL once the stream has ended */
    sse_stream_t *prev, *next;
    int64_t user_id, session_id, expires_at;
    int64_t last_sent;   /* the highest id written, or where the stream started */
    int queries;         /* queries in flight that refer to this stream */
    unsigned replaying : 1; /* live events wait in pending until the replay is written */
    pending_event_t *pend_head, *pend_tail;
    size_t pend_bytes;
};

struct sse_hub {
    uv_loop_t *loop;
    db_pool_t *db;
    const config_t *cfg;
    metrics_worker_t *metrics;
    uv_timer_t heartbeat;   /* ticks every second: expiry, and the heartbeat when due */
    uint64_t last_beat_ms;
    sse_stream_t *buckets[BUCKETS];
    int count;
    int64_t *ids; /* notified, waiting for their JSON */
    int nids, cap_ids;
    int fetching;
    void (*closed)(void *);
    void *closed_data;
};

/* ---------------------------------------------------------------- the process's count per user */

typedef struct user_count {
    struct user_count *next;
    int64_t user_id;
    int count;
} user_count_t;

static pthread_mutex_t counts_lock = PTHREAD_MUTEX_INITIALIZER;
static user_count_t *counts[BUCKETS];

static size_t bucket_of(int64_t user_id) { return (size_t)(((uint64_t)user_id * 0x9E3779B97F4A7C15ull) >> 54); }

int sse_reserve(int64_t user_id, int max)
{
    int rc = -1;
    pthread_mutex_lock(&counts_lock);
    user_count_t **pp = &counts[bucket_of(user_id)];
    while (*pp && (*pp)->user_id != user_id)
        pp = &(*pp)->next;
    if (!*pp && (*pp = calloc(1, sizeof(**pp))))
        (*pp)->user_id = user_id;
    if (*pp && (*pp)->count < max) {
        (*pp)->count++;
        rc = 0;
    }
    pthread_mutex_unlock(&counts_lock);
    return rc;
}

void sse_release(int64_t user_id)
{
    pthread_mutex_lock(&counts_lock);
    user_count_t **pp = &counts[bucket_of(user_id)];
    while (*pp && (*pp)->user_id != user_id)
        pp = &(*pp)->next;
    if (*pp && --(*pp)->count <= 0) {
        user_count_t *gone = *pp;
        *pp = gone->next;
        free(gone);
    }
    pthread_mutex_unlock(&counts_lock);
}

/* ---------------------------------------------------------------- streams */

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

static void stream_free_maybe(sse_stream_t *st)
{
    if (!st->req && st->queries == 0) {
        pending_clear(st);
        free(st);
    }
}

/* The stream has ended (or its request is gone): it leaves the hub. */
static void stream_lost(sse_stream_t *st)
{
    if (!st->req)
        return;
    sse_hub_t *hub = st->hub;
    size_t b = bucket_of(st->user_id);
    if (st->prev)
        st->prev->next = st->next;
    else
        hub->buckets[b] = st->next;
    if (st->next)
        st->next->prev = st->prev;
    st->req = NULL;
    hub->count--;
    metrics_gauge_add(hub->metrics, GAUGE_SSE_OPEN, -1);
    sse_release(st->user_id);
    stream_free_maybe(st);
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
 * EVENTS_MAX_UNSENT unsent, is let go. 0, or -1 when the stream is gone. */
static int stream_put(sse_stream_t *st, const char *bytes, size_t len)
{
    sse_hub_t *hub = st->hub;
    long unsent = http_stream_write(st->req, bytes, len);
    if (unsent < 0) {
        stream_lost(st);
        return -1;
    }
    if ((size_t)unsent > hub->cfg->events_max_unsent) {
        stream_drop(st, (size_t)unsent);
        return -1;
    }
    return 0;
}

static int stream_write_event(sse_stream_t *st, int64_t id, const char *json, size_t len)
{
    char head[64];
    int hn = snprintf(head, sizeof(head), "id: %" PRId64 "\nevent: message\ndata: ", id);
    size_t total = (size_t)hn + len + 2;
    char stack[EVENT_STACK_BYTES];
    char *buf = total <= sizeof(stack) ? stack : malloc(total);
    if (!buf)
        return 0; /* this event is lost to this stream; a reconnect replays it */
    memcpy(buf, head, (size_t)hn);
    memcpy(buf + hn, json, len);
    memcpy(buf + hn + len, "\n\n", 2);
    int rc = stream_put(st, buf, total);
    if (buf != stack)
        free(buf);
    if (rc)
        return -1;
    st->last_sent = id;
    metrics_gauge_add(st->hub->metrics, COUNTER_SSE_SENT, 1);
    return 0;
}

/* Written at once when live; held while a replay is being written. */
static void stream_event(sse_stream_t *st, int64_t id, const char *json, size_t len)
{
    if (!st->replaying) {
        if (id > st->last_sent)
            stream_write_event(st, id, json, len);
        return;
    }
    if (st->pend_bytes + len > st->hub->cfg->events_max_unsent) {
        stream_drop(st, st->pend_bytes + len);
        return;
    }
    pending_event_t *p = malloc(sizeof(*p) + len);
    if (!p)
        return;
    p->next = NULL;
    p->id = id;
    p->len = len;
    memcpy(p->json, json, len);
    if (st->pend_tail)
        st->pend_tail->next = p;
    else
        st->pend_head = p;
    st->pend_tail = p;
    st->pend_bytes += len;
}

static void stream_replay(sse_stream_t *st);

static void replay_done(sse_stream_t *st)
{
    st->replaying = 0;
    for (pending_event_t *p = st->pend_head; p && st->req; p = p->next)
        if (p->id > st->last_sent && stream_write_event(st, p->id, p->json, p->len))
            break;
    pending_clear(st);
}

static void on_replayed(void *data, PGresult *res, db_status_t status)
{
    sse_stream_t *st = data;
    st->queries--;
    if (!st->req) {
        stream_free_maybe(st);
        return;
    }
    if (status != DB_OK || PQresultStatus(res) != PGRES_TUPLES_OK) {
        log_warn("event stream of user %" PRId64 ": could not replay its messages", st->user_id);
        replay_done(st);
        return;
    }
    int rows = PQntuples(res);
    for (int i = 0; i < rows && st->req; i++) {
        int64_t id = strtoll(PQgetvalue(res, i, 0), NULL, 10);
        if (id > st->last_sent && stream_write_event(st, id, PQgetvalue(res, i, 1), (size_t)PQgetlength(res, i, 1)))
            return;
    }
    if (!st->req)
        return;
    if (rows == REPLAY_PAGE)
        stream_replay(st); /* more after this page */
    else
        replay_done(st);
}

static void stream_replay(sse_stream_t *st)
{
    char user[24], from[24], limit[16];
    snprintf(user, sizeof(user), "%" PRId64, st->user_id);
    snprintf(from, sizeof(from), "%" PRId64, st->last_sent);
    snprintf(limit, sizeof(limit), "%d", REPLAY_PAGE);
    const char *params[3] = {user, from, limit};
    st->replaying = 1;
    st->queries++;
    if (db_query(st->hub->db, stmt_replay, 3, params, on_replayed, st) != DB_OK) {
        st->queries--;
        replay_done(st);
    }
}

sse_stream_t *sse_stream_new(sse_hub_t *hub, int64_t user_id, int64_t session_id, int64_t expires_at,
                             int64_t after_id)
{
    sse_stream_t *st = calloc(1, sizeof(*st));
    if (!st)
        return NULL;
    st->hub = hub;
    st->user_id = user_id;
    st->session_id = session_id;
    st->expires_at = expires_at;
    st->last_sent = after_id; /* the client has every id up to it: none of those again, live or replayed */
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
    /* What committed between where it starts and now, then live events. */
    stream_replay(st);
}

int sse_hub_stream_count(const sse_hub_t *hub) { return hub->count; }

/* ---------------------------------------------------------------- fan-out */

static int hub_has_user(const sse_hub_t *hub, int64_t user_id)
{
    for (const sse_stream_t *st = hub->buckets[bucket_of(user_id)]; st; st = st->next)
        if (st->user_id == user_id)
            return 1;
    return 0;
}

static void deliver(sse_hub_t *hub, int64_t user_id, int64_t id, const char *json, size_t len)
{
    sse_stream_t *next;
    for (sse_stream_t *st = hub->buckets[bucket_of(user_id)]; st; st = next) {
        next = st->next;
        if (st->user_id == user_id)
            stream_event(st, id, json, len);
    }
}

/* Every stream replays above what it has: after a lost LISTEN or a fetch that failed. */
static void catch_up_all(sse_hub_t *hub)
{
    for (int b = 0; b < BUCKETS; b++)
        for (sse_stream_t *st = hub->buckets[b]; st; st = st->next)
            if (!st->replaying)
                stream_replay(st);
}

static void fetch(sse_hub_t *hub);

static void on_fetched(void *data, PGresult *res, db_status_t status)
{
    sse_hub_t *hub = data;
    hub->fetching = 0;
    if (status != DB_OK || PQresultStatus(res) != PGRES_TUPLES_OK) {
        log_warn("event streams: could not read new messages; streams replay them");
        catch_up_all(hub);
    } else {
        for (int i = 0; i < PQntuples(res); i++) {
            int64_t id = strtoll(PQgetvalue(res, i, 0), NULL, 10);
            int64_t from = strtoll(PQgetvalue(res, i, 1), NULL, 10);
            int64_t to = strtoll(PQgetvalue(res, i, 2), NULL, 10);
            const char *json = PQgetvalue(res, i, 3);
            size_t len = (size_t)PQgetlength(res, i, 3);
            deliver(hub, from, id, json, len);
            deliver(hub, to, id, json, len);
        }
    }
    if (hub->nids)
        fetch(hub);
}

/* One fetch at a time, so each stream gets its events in id order. */
static void fetch(sse_hub_t *hub)
{
    int n = hub->nids < FETCH_BATCH ? hub->nids : FETCH_BATCH;
    size_t cap = (size_t)n * 21 + 3, len = 0;
    char *list = mem_alloc(cap);
    list[len++] = '{';
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(list + len, cap - len, "%s%" PRId64, i ? "," : "", hub->ids[i]);
    list[len++] = '}';
    list[len] = '\0';
    memmove(hub->ids, hub->ids + n, (size_t)(hub->nids - n) * sizeof(int64_t));
    hub->nids -= n;
    const char *params[1] = {list};
    hub->fetching = 1;
    if (db_query(hub->db, stmt_by_ids, 1, params, on_fetched, hub) != DB_OK) {
        hub->fetching = 0;
        catch_up_all(hub);
    }
    free(list);
}

/* Keeps the id of a notified message that a stream here wants; -1 without memory. */
static int note_message(sse_hub_t *hub, const char *line)
{
    long long id, from, to;
    if (sscanf(line, "%lld %lld %lld", &id, &from, &to) != 3 || (!hub_has_user(hub, from) && !hub_has_user(hub, to)))
        return 0;
    if (hub->nids == hub->cap_ids) {
        int cap = hub->cap_ids ? hub->cap_ids * 2 : 64;
        int64_t *ids = realloc(hub->ids, (size_t)cap * sizeof(*ids));
        if (!ids)
            return -1;
        hub->ids = ids;
        hub->cap_ids = cap;
    }
    hub->ids[hub->nids++] = id;
    return 0;
}

/* One line "<id> <from> <to>" per message of the committed transaction. */
void sse_on_message_notify(void *data, const char *payload)
{
    sse_hub_t *hub = data;
    for (const char *line = payload; line && *line;) {
        if (note_message(hub, line))
            break;
        const char *nl = strchr(line, '\n');
        line = nl ? nl + 1 : NULL;
    }
    if (hub->nids && !hub->fetching)
        fetch(hub);
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

void sse_on_listening(void *data) { catch_up_all(data); }

/* ---------------------------------------------------------------- the hub */

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
}

sse_hub_t *sse_hub_new(uv_loop_t *loop, db_pool_t *db, const config_t *cfg, metrics_worker_t *metrics)
{
    sse_hub_t *hub = calloc(1, sizeof(*hub));
    if (!hub)
        return NULL;
    hub->loop = loop;
    hub->db = db;
    hub->cfg = cfg;
    hub->metrics = metrics;
    uv_timer_init(loop, &hub->heartbeat);
    hub->heartbeat.data = hub;
    uint64_t tick = cfg->events_heartbeat_ms < TICK_MS ? cfg->events_heartbeat_ms : TICK_MS;
    hub->last_beat_ms = uv_now(loop);
    uv_timer_start(&hub->heartbeat, on_tick, tick, tick);
    uv_unref((uv_handle_t *)&hub->heartbeat);
    return hub;
}

static void on_hub_closed(uv_handle_t *h)
{
    sse_hub_t *hub = h->data;
    if (hub->closed)
        hub->closed(hub->closed_data);
}

void sse_hub_close(sse_hub_t *hub, void (*done)(void *), void *data)
{
    hub->closed = done;
    hub->closed_data = data;
    uv_timer_stop(&hub->heartbeat);
    uv_close((uv_handle_t *)&hub->heartbeat, on_hub_closed);
}

void sse_hub_free(sse_hub_t *hub)
{
    if (!hub)
        return;
    free(hub->ids);
    free(hub);
}
