/* Live event streams of one worker: fan-out of committed messages to the
 * streams of their sender and recipient, replay after Last-Event-ID or a
 * lost LISTEN, heartbeats, and the end of streams that must not go on. */
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
#define REPLAY_PAGE 500     /* messages per replay query; a full page asks again */
#define FETCH_BATCH 256     /* notified ids fetched in one query */
#define EVENT_STACK_BYTES 8192
#define INT64_DIGITS 20     /* the most a printed int64_t takes, sign included */
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

/* Where a stream is. Until it is live, live events wait in its pending list,
 * and it goes live only after a replay that succeeded: what committed since
 * its last id comes first, from the table, with no gap. */
typedef enum {
    STREAM_REPLAYING, /* its replay query is out (never more than one) */
    STREAM_BEHIND,    /* a replay is due: the last could not be sent or failed; tried again on the
                         next tick or notification */
    STREAM_LIVE,      /* events are written as they come */
    STREAM_ENDED,     /* its request is gone and it has left the hub; freed when its replay answers */
} stream_state_t;

struct sse_stream {
    sse_hub_t *hub;
    http_request_t *req; /* until STREAM_ENDED */
    sse_stream_t *prev, *next;
    stream_state_t state;
    int64_t user_id, session_id, expires_at;
    int64_t last_sent;   /* the highest id written, or where the stream started */
    pending_event_t *pend_head, *pend_tail;
    size_t pend_bytes;
};

struct sse_hub {
    uv_loop_t *loop;
    db_pool_t *db;
    const config_t *cfg;
    metrics_worker_t *metrics;
    uv_timer_t heartbeat;   /* ticks every second: expiry, replays due, and the heartbeat when due */
    uint64_t last_beat_ms;
    sse_stream_t *buckets[BUCKETS];
    int count;
    int64_t *ids; /* notified, waiting for their JSON */
    int nids, cap_ids;
    int fetching;
    void (*closed)(void *);
    void *closed_data;
};

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

int sse_reserve(int64_t user_id, int max)
{
    int rc = -1;
    pthread_mutex_lock(&counts_lock);
    user_count_t **pp = &counts[bucket_of(user_id)];
    while (*pp && (*pp)->user_id != user_id)
        pp = &(*pp)->next;
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
    user_count_t **pp = &counts[bucket_of(user_id)];
    while (*pp && (*pp)->user_id != user_id)
        pp = &(*pp)->next;
    assert(*pp && (*pp)->count > 0);
    if (--(*pp)->count == 0) {
        user_count_t *gone = *pp;
        *pp = gone->next;
        free(gone);
    }
    pthread_mutex_unlock(&counts_lock);
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
    hub->count--;
    metrics_gauge_add(hub->metrics, GAUGE_SSE_OPEN, -1);
    sse_release(st->user_id);
    pending_clear(st);
    if (st->state == STREAM_REPLAYING) {
        st->state = STREAM_ENDED;
        return;
    }
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
 * EVENTS_MAX_UNSENT unsent, is let go. 0, or -1 when the stream has ended. */
static int stream_put(sse_stream_t *st, const char *bytes, size_t len)
{
    sse_hub_t *hub = st->hub;
    long unsent = http_stream_write(st->req, bytes, len);
    if (unsent < 0) {
        http_stream_abort(st->req); /* the transport may not have called gone yet: now it never will */
        stream_lost(st);
        return -1;
    }
    if ((size_t)unsent > hub->cfg->events_max_unsent) {
        stream_drop(st, (size_t)unsent);
        return -1;
    }
    return 0;
}

/* 0, or -1 when the stream has ended. */
static int stream_write_event(sse_stream_t *st, int64_t id, const char *json, size_t len)
{
    char head[64];
    int hn = snprintf(head, sizeof(head), "id: %" PRId64 "\nevent: message\ndata: ", id);
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
static int stream_event(sse_stream_t *st, int64_t id, const char *json, size_t len)
{
    if (st->state == STREAM_LIVE)
        return id > st->last_sent ? stream_write_event(st, id, json, len) : 0;
    if (st->pend_bytes + len > st->hub->cfg->events_max_unsent) {
        stream_drop(st, st->pend_bytes + len);
        return -1;
    }
    pending_event_t *p = mem_alloc(sizeof(*p) + len);
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
    return 0;
}

static void on_replayed(void *data, PGresult *res, db_status_t status);

/* Asks for what committed after the last id sent. Never writes and never
 * ends the stream: a query that cannot be sent leaves it behind. */
static void stream_replay(sse_stream_t *st)
{
    assert(st->state != STREAM_REPLAYING && st->state != STREAM_ENDED);
    char user[24], from[24], limit[16];
    snprintf(user, sizeof(user), "%" PRId64, st->user_id);
    snprintf(from, sizeof(from), "%" PRId64, st->last_sent);
    snprintf(limit, sizeof(limit), "%d", REPLAY_PAGE);
    const char *params[3] = {user, from, limit};
    if (db_query(st->hub->db, stmt_replay, 3, params, on_replayed, st) == DB_OK)
        st->state = STREAM_REPLAYING;
    else
        st->state = STREAM_BEHIND;
}

/* The held events after the replay: each is taken off the list before it is
 * written, so a write that ends the stream leaves nothing to touch. */
static void replay_done(sse_stream_t *st)
{
    st->state = STREAM_LIVE;
    pending_event_t *p;
    while ((p = st->pend_head)) {
        st->pend_head = p->next;
        if (!st->pend_head)
            st->pend_tail = NULL;
        st->pend_bytes -= p->len;
        int ended = p->id > st->last_sent && stream_write_event(st, p->id, p->json, p->len);
        free(p);
        if (ended)
            return;
    }
}

static void on_replayed(void *data, PGresult *res, db_status_t status)
{
    sse_stream_t *st = data;
    if (st->state == STREAM_ENDED) {
        free(st);
        return;
    }
    assert(st->state == STREAM_REPLAYING);
    st->state = STREAM_BEHIND;
    if (status != DB_OK || PQresultStatus(res) != PGRES_TUPLES_OK) {
        log_warn("event stream of user %" PRId64 ": could not replay its messages; trying again", st->user_id);
        return;
    }
    int rows = PQntuples(res);
    for (int i = 0; i < rows; i++) {
        int64_t id = strtoll(PQgetvalue(res, i, 0), NULL, 10);
        if (id > st->last_sent && stream_write_event(st, id, PQgetvalue(res, i, 1), (size_t)PQgetlength(res, i, 1)))
            return;
    }
    if (rows == REPLAY_PAGE)
        stream_replay(st); /* more after this page */
    else
        replay_done(st);
}

sse_stream_t *sse_stream_new(sse_hub_t *hub, int64_t user_id, int64_t session_id, int64_t expires_at,
                             int64_t after_id)
{
    sse_stream_t *st = mem_calloc(1, sizeof(*st));
    st->hub = hub;
    st->state = STREAM_BEHIND; /* until attached */
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

/* Replays the streams in state `from` (stream_replay neither writes nor
 * ends a stream, so the walk is safe). */
static void replay_all(sse_hub_t *hub, stream_state_t from)
{
    for (int b = 0; b < BUCKETS; b++)
        for (sse_stream_t *st = hub->buckets[b]; st; st = st->next)
            if (st->state == from)
                stream_replay(st);
}

/* Every live stream replays above what it has: after a lost LISTEN or a fetch that failed. */
static void catch_up_all(sse_hub_t *hub) { replay_all(hub, STREAM_LIVE); }

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
    size_t cap = (size_t)n * (INT64_DIGITS + 1) + 3, len = 0;
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

/* Keeps the id of a notified message that a stream here wants. */
static void note_message(sse_hub_t *hub, const char *line)
{
    long long id, from, to;
    if (sscanf(line, "%lld %lld %lld", &id, &from, &to) != 3 || (!hub_has_user(hub, from) && !hub_has_user(hub, to)))
        return;
    if (hub->nids == hub->cap_ids) {
        hub->cap_ids = hub->cap_ids ? hub->cap_ids * 2 : 64;
        hub->ids = mem_reallocarray(hub->ids, (size_t)hub->cap_ids, sizeof(*hub->ids));
    }
    hub->ids[hub->nids++] = id;
}

/* One line "<id> <from> <to>" per message of the committed transaction. The
 * database answers again: streams whose replay failed try once more. */
void sse_on_message_notify(void *data, const char *payload)
{
    sse_hub_t *hub = data;
    for (const char *line = payload; line && *line;) {
        note_message(hub, line);
        const char *nl = strchr(line, '\n');
        line = nl ? nl + 1 : NULL;
    }
    if (hub->nids && !hub->fetching)
        fetch(hub);
    replay_all(hub, STREAM_BEHIND);
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
            else if (beat && stream_put(st, ":\n\n", 3))
                continue; /* ended */
            else if (st->state == STREAM_BEHIND)
                stream_replay(st);
        }
    }
}

sse_hub_t *sse_hub_new(uv_loop_t *loop, db_pool_t *db, const config_t *cfg, metrics_worker_t *metrics)
{
    sse_hub_t *hub = mem_calloc(1, sizeof(*hub));
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
