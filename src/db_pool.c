/* The per-worker PostgreSQL pool.
 *
 * Each connection is a small state machine driven by its socket:
 *   RESOLVING -> CONNECTING -> READY -> (lost) BACKOFF -> RESOLVING ...
 * READY connections stay in pipeline mode. A query goes out as
 * [Prepare, once per connection] + Execute + Sync, so each query is its own
 * transaction and is committed when its Sync comes back; that is when its
 * callback runs. Entries wait in a ring in the order PostgreSQL answers.
 *
 * Writes registered with db_statement_register_write share commits: each
 * connection has at most one such transaction in flight, and the writes that
 * arrive meanwhile go next as one transaction (an Execute each, one Sync).
 * A connection commits one transaction at a time, each waiting for its WAL
 * flush, so a few connections writing one row per commit spend most of
 * their time waiting (bench/RESULTS.md). If any write of a group fails, none
 * is committed and each is run again alone, so a write's answer never
 * depends on the others'. A single write on a quiet pool goes at once. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hourglass/config.h"
#include "hourglass/db.h"
#include "hourglass/log.h"
#include "hourglass/mem.h"
#include "hourglass/metrics.h"

#define DB_MAX_STATEMENTS 512
#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 1000 /* back within a second of the database's return */

typedef struct {
    char *name;
    char *sql;
    int shares_commit; /* db_statement_register_write */
} db_statement_t;

static db_statement_t statements[DB_MAX_STATEMENTS];
static int statement_count;

static int statement_add(const char *name, const char *sql, int shares_commit)
{
    for (int i = 0; i < statement_count; i++)
        if (!strcmp(statements[i].name, name))
            return i;
    if (statement_count == DB_MAX_STATEMENTS) {
        log_error("too many prepared statements (limit %d)", DB_MAX_STATEMENTS);
        abort();
    }
    statements[statement_count].name = mem_strdup(name);
    statements[statement_count].sql = mem_strdup(sql);
    statements[statement_count].shares_commit = shares_commit;
    return statement_count++;
}

int db_statement_register(const char *name, const char *sql) { return statement_add(name, sql, 0); }

int db_statement_register_write(const char *name, const char *sql) { return statement_add(name, sql, 1); }

typedef struct db_query {
    struct db_query *next; /* a queue; once sent, the next write of its group */
    int stmt;
    int alone; /* a shared-commit write whose group failed: runs in a transaction of its own */
    const char *raw_sql;   /* an unnamed statement (LISTEN) instead of stmt */
    int nparams;
    const char **values;
    db_result_fn cb;
    void *data;
    PGresult *result;
} db_query_t;

typedef enum { ENTRY_PREPARE, ENTRY_QUERY, ENTRY_SYNC } entry_kind_t;

typedef struct {
    db_query_t *head, *tail;
    int count;
} query_list_t;

typedef struct {
    entry_kind_t kind;
    int stmt;
    db_query_t *q;
} db_entry_t;

typedef enum { DBC_IDLE, DBC_RESOLVING, DBC_CONNECTING, DBC_READY, DBC_BROKEN, DBC_BACKOFF, DBC_CLOSED } dbc_state_t;

typedef struct db_conn {
    db_pool_t *pool;
    int index;
    dbc_state_t state;
    PGconn *pg;
    uv_poll_t *poll;
    int poll_fd;
    int poll_events;
    uv_timer_t timer;
    uv_getaddrinfo_t dns;
    char hostaddr[INET6_ADDRSTRLEN];
    unsigned char *prepared;
    PGresult *prepare_error; /* why the statement before this query failed */
    db_entry_t *ring;
    int ring_cap, ring_head, ring_count;
    int inflight;
    int group_open;        /* a transaction of shared-commit writes is in flight */
    PGresult *sync_error;  /* the commit of the transaction being answered failed */
    uint64_t backoff_ms;
    int ever_ready;
    int down_logged;
} db_conn_t;

struct db_pool {
    uv_loop_t *loop;
    const config_t *cfg;
    int worker_id;
    metrics_worker_t *metrics;
    db_conn_t *conns; /* size for requests' queries, then the lane */
    int size;
    query_list_t waiting; /* for a connection with room */
    query_list_t writes;  /* shared-commit writes, for a connection without a group in flight */
    db_conninfo_t conninfo;
    const char *const *listen_channels; /* LISTENed on connection 0, if any */
    int listen_count;
    int listen_pending;
    db_notify_fn notify_fn;
    void (*listening_fn)(void *data);
    void *listen_data;
    int closing;
    int open_handles;
    void (*close_done)(void *);
    void *close_data;
};

static void conn_start(db_conn_t *c);
static void conn_lost(db_conn_t *c);
static void pool_pump(db_pool_t *p);

static db_query_t *query_new(int stmt, int nparams, const char *const *values, db_result_fn cb, void *data)
{
    size_t size = sizeof(db_query_t) + sizeof(char *) * (size_t)nparams;
    for (int i = 0; i < nparams; i++)
        if (values[i])
            size += strlen(values[i]) + 1;
    db_query_t *q = mem_alloc(size);
    q->next = NULL;
    q->alone = 0;
    q->raw_sql = NULL;
    q->stmt = stmt;
    q->nparams = nparams;
    q->values = (const char **)(q + 1);
    q->cb = cb;
    q->data = data;
    q->result = NULL;
    char *text = (char *)(q->values + nparams);
    for (int i = 0; i < nparams; i++) {
        if (!values[i]) {
            q->values[i] = NULL;
            continue;
        }
        size_t n = strlen(values[i]) + 1;
        memcpy(text, values[i], n);
        q->values[i] = text;
        text += n;
    }
    return q;
}

static void query_deliver(db_query_t *q, db_status_t status)
{
    PGresult *res = status == DB_OK ? q->result : NULL;
    q->cb(q->data, res, status);
    if (q->result)
        PQclear(q->result);
    free((char *)q->raw_sql);
    free(q);
}

/* A query and the rest of its group, each to its own callback. */
static void query_deliver_all(db_query_t *q, db_status_t status)
{
    while (q) {
        db_query_t *next = q->next;
        query_deliver(q, status);
        q = next;
    }
}

static void list_push(query_list_t *l, db_query_t *q)
{
    if (l->tail)
        l->tail->next = q;
    else
        l->head = q;
    l->tail = q;
    l->count++;
}

/* The first n queries of l (all, if fewer), chained by next. */
static db_query_t *list_take(query_list_t *l, int n)
{
    db_query_t *first = l->head, *last = first;
    int taken = 1;
    for (; taken < n && last->next; taken++)
        last = last->next;
    l->head = last->next;
    if (!l->head)
        l->tail = NULL;
    last->next = NULL;
    l->count -= taken;
    return first;
}

static void pool_publish(db_pool_t *p)
{
    int idle = 0, busy = 0;
    for (int i = 0; i <= p->size; i++) {
        if (p->conns[i].state != DBC_READY)
            continue;
        if (p->conns[i].inflight)
            busy++;
        else
            idle++;
    }
    metrics_gauge_set(p->metrics, GAUGE_DB_IDLE, idle);
    metrics_gauge_set(p->metrics, GAUGE_DB_BUSY, busy);
    metrics_gauge_set(p->metrics, GAUGE_DB_QUEUED, p->waiting.count + p->writes.count);
}

/* Could a queued query still be served soon? */
static int pool_has_hope(const db_pool_t *p)
{
    for (int i = 0; i < p->size; i++) {
        dbc_state_t s = p->conns[i].state;
        if (s == DBC_READY || s == DBC_CONNECTING || s == DBC_RESOLVING)
            return 1;
    }
    return 0;
}

static void pool_fail_waiting(db_pool_t *p)
{
    while (p->waiting.head || p->writes.head) {
        query_list_t *l = p->waiting.head ? &p->waiting : &p->writes;
        query_deliver_all(list_take(l, l->count), DB_UNAVAILABLE);
    }
    pool_publish(p);
}

static void on_poll(uv_poll_t *h, int status, int events);

static void poll_close(db_conn_t *c)
{
    if (!c->poll)
        return;
    /* uv_close takes the fd out of epoll at once, so PQfinish may follow. */
    uv_close((uv_handle_t *)c->poll, (uv_close_cb)free);
    c->poll = NULL;
    c->poll_fd = -1;
    c->poll_events = 0;
}

static int poll_watch(db_conn_t *c, int events)
{
    int fd = PQsocket(c->pg);
    if (fd < 0)
        return -1;
    if (c->poll && c->poll_fd != fd)
        poll_close(c); /* libpq moved to another socket (next address, reconnect) */
    if (!c->poll) {
        c->poll = mem_alloc(sizeof(uv_poll_t));
        if (uv_poll_init(c->pool->loop, c->poll, fd)) {
            free(c->poll);
            c->poll = NULL;
            return -1;
        }
        c->poll->data = c;
        c->poll_fd = fd;
        c->poll_events = 0;
    }
    if (c->poll_events != events) {
        if (uv_poll_start(c->poll, events, on_poll))
            return -1;
        c->poll_events = events;
    }
    return 0;
}

static void ring_push(db_conn_t *c, entry_kind_t kind, int stmt, db_query_t *q)
{
    if (c->ring_count == c->ring_cap) {
        int cap = c->ring_cap ? c->ring_cap * 2 : 64;
        db_entry_t *ring = mem_reallocarray(NULL, (size_t)cap, sizeof(db_entry_t));
        for (int i = 0; i < c->ring_count; i++)
            ring[i] = c->ring[(c->ring_head + i) % c->ring_cap];
        free(c->ring);
        c->ring = ring;
        c->ring_cap = cap;
        c->ring_head = 0;
    }
    db_entry_t *e = &c->ring[(c->ring_head + c->ring_count) % c->ring_cap];
    e->kind = kind;
    e->stmt = stmt;
    e->q = q;
    c->ring_count++;
}

static db_entry_t ring_pop(db_conn_t *c)
{
    db_entry_t e = c->ring[c->ring_head];
    c->ring_head = (c->ring_head + 1) % c->ring_cap;
    c->ring_count--;
    return e;
}

static void on_broken(uv_timer_t *t) { conn_lost(t->data); }

/* A send failed: fail this connection's work from the loop, not from inside
 * db_query, so a caller never sees its callback before db_query returns. */
static void conn_break(db_conn_t *c)
{
    c->state = DBC_BROKEN;
    uv_timer_start(&c->timer, on_broken, 0, 0);
}

static int query_shares_commit(const db_query_t *q)
{
    return !q->raw_sql && !q->alone && statements[q->stmt].shares_commit;
}

/* Puts one query in the pipeline (its Prepare first, once per connection);
 * 0 if libpq refused. */
static int conn_execute(db_conn_t *c, db_query_t *q)
{
    const db_statement_t *st = &statements[q->stmt];
    if (q->raw_sql) {
        ring_push(c, ENTRY_QUERY, q->stmt, q);
        return PQsendQueryParams(c->pg, q->raw_sql, 0, NULL, NULL, NULL, NULL, 0);
    }
    if (!c->prepared[q->stmt]) {
        ring_push(c, ENTRY_PREPARE, q->stmt, NULL);
        c->prepared[q->stmt] = 1; /* later queries may follow it in the same pipeline */
        if (!PQsendPrepare(c->pg, st->name, st->sql, 0, NULL))
            return 0;
    }
    ring_push(c, ENTRY_QUERY, q->stmt, q);
    return PQsendQueryPrepared(c->pg, st->name, q->nparams, q->values, NULL, NULL, 0);
}

/* q and the rest of its group (next), then one Sync: one transaction. The
 * Sync's entry holds the group, so a lost connection fails each once. */
static void conn_send(db_conn_t *c, db_query_t *q)
{
    c->inflight++;
    if (query_shares_commit(q))
        c->group_open = 1;
    int sent = 1;
    for (db_query_t *m = q; m && sent; m = m->next)
        sent = conn_execute(c, m);
    ring_push(c, ENTRY_SYNC, q->stmt, q);
    if (!sent || !PQpipelineSync(c->pg)) {
        conn_break(c);
        return;
    }
    int f = PQflush(c->pg);
    if (f < 0 || poll_watch(c, f ? UV_READABLE | UV_WRITABLE : UV_READABLE))
        conn_break(c);
}

static int query_failed(const db_query_t *q)
{
    ExecStatusType st = q->result ? PQresultStatus(q->result) : PGRES_FATAL_ERROR;
    return st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK;
}

/* The Sync of q's transaction came back. A group with a failed write (or a
 * failed commit) committed nothing: each write runs again alone, and answers
 * with its own outcome. */
static void conn_answer(db_conn_t *c, db_query_t *q)
{
    db_pool_t *p = c->pool;
    PGresult *commit_error = c->sync_error;
    c->sync_error = NULL;
    int failed = commit_error != NULL, n = 0;
    for (db_query_t *m = q; m; m = m->next, n++)
        failed |= query_failed(m);
    if (failed && n > 1) {
        PQclear(commit_error);
        metrics_gauge_add(p->metrics, COUNTER_DB_SHARED_RERUNS, n);
        while (q) {
            db_query_t *next = q->next;
            q->next = NULL;
            PQclear(q->result);
            q->result = NULL;
            q->alone = 1;
            conn_send(c, q);
            q = next;
        }
        return;
    }
    if (commit_error) {
        PQclear(q->result);
        q->result = commit_error;
    } else if (query_shares_commit(q)) {
        metrics_gauge_add(p->metrics, COUNTER_DB_SHARED_COMMITS, 1);
        metrics_gauge_add(p->metrics, COUNTER_DB_SHARED_WRITES, n);
    }
    query_deliver_all(q, DB_OK);
}

/* A connection with room; for a shared-commit write, one without such a
 * transaction in flight. The least busy, so that work spreads. */
static db_conn_t *pool_pick(db_pool_t *p, int shares_commit)
{
    db_conn_t *best = NULL;
    for (int i = 0; i < p->size; i++) {
        db_conn_t *c = &p->conns[i];
        if (c->state != DBC_READY || c->inflight >= p->cfg->db_pipeline_depth || (shares_commit && c->group_open))
            continue;
        if (!best || c->inflight < best->inflight)
            best = c;
    }
    return best;
}

static void pool_pump(db_pool_t *p)
{
    db_conn_t *c;
    while (p->waiting.head && (c = pool_pick(p, 0)))
        conn_send(c, list_take(&p->waiting, 1));
    /* the writes that waited go together, DB_PIPELINE_DEPTH at most */
    while (p->writes.head && (c = pool_pick(p, 1)))
        conn_send(c, list_take(&p->writes, p->cfg->db_pipeline_depth));
    pool_publish(p);
}

db_status_t db_query(db_pool_t *p, int stmt, int nparams, const char *const *values, db_result_fn cb, void *data)
{
    assert(stmt >= 0 && stmt < statement_count);
    if (p->closing)
        return DB_UNAVAILABLE;
    int shares_commit = statements[stmt].shares_commit;
    query_list_t *queue = shares_commit ? &p->writes : &p->waiting;
    db_conn_t *c = pool_pick(p, shares_commit);
    if (!c || queue->head) {
        if (!pool_has_hope(p))
            return DB_UNAVAILABLE;
        if (p->waiting.count + p->writes.count >= p->cfg->db_queue_size)
            return DB_OVERLOADED;
        list_push(queue, query_new(stmt, nparams, values, cb, data));
        pool_publish(p);
        return DB_OK;
    }
    conn_send(c, query_new(stmt, nparams, values, cb, data));
    pool_publish(p);
    return DB_OK;
}

/* The lane: one more connection, opened by the first query that asks for
 * it and never used by db_query, so a read someone watches for (an event
 * stream's) does not wait behind the requests' full pipelines. */
db_status_t db_query_lane(db_pool_t *p, int stmt, int nparams, const char *const *values, db_result_fn cb,
                          void *data)
{
    db_conn_t *c = &p->conns[p->size];
    if (!p->closing && c->state == DBC_IDLE)
        conn_start(c);
    if (p->closing || c->state != DBC_READY || c->inflight >= p->cfg->db_pipeline_depth)
        return db_query(p, stmt, nparams, values, cb, data);
    conn_send(c, query_new(stmt, nparams, values, cb, data));
    pool_publish(p);
    return DB_OK;
}

static void conn_read_results(db_conn_t *c)
{
    if (!PQconsumeInput(c->pg)) {
        conn_lost(c);
        return;
    }
    while (c->ring_count > 0 && c->state == DBC_READY) {
        if (PQisBusy(c->pg))
            break;
        PGresult *res = PQgetResult(c->pg);
        db_entry_t *e = &c->ring[c->ring_head];
        if (e->kind == ENTRY_PREPARE) {
            if (!res) {
                ring_pop(c);
                continue;
            }
            if (PQresultStatus(res) != PGRES_COMMAND_OK) {
                log_error("preparing %s failed: %s", statements[e->stmt].name, PQresultErrorMessage(res));
                c->prepared[e->stmt] = 0;
                if (c->prepare_error)
                    PQclear(c->prepare_error);
                c->prepare_error = res;
            } else {
                PQclear(res);
            }
        } else if (e->kind == ENTRY_QUERY) {
            if (!res) {
                ring_pop(c);
                continue;
            }
            if (PQresultStatus(res) == PGRES_PIPELINE_ABORTED && c->prepare_error) {
                PQclear(res);
                res = c->prepare_error;
                c->prepare_error = NULL;
            }
            if (e->q->result)
                PQclear(e->q->result);
            e->q->result = res;
        } else {
            if (!res)
                continue; /* nothing more until the Sync arrives */
            if (PQresultStatus(res) != PGRES_PIPELINE_SYNC) {
                /* the commit failed (a deferred check): the first reason counts */
                if (PQresultStatus(res) == PGRES_FATAL_ERROR && !c->sync_error)
                    c->sync_error = res;
                else
                    PQclear(res);
                continue;
            }
            PQclear(res);
            db_entry_t done = ring_pop(c);
            c->inflight--;
            if (query_shares_commit(done.q))
                c->group_open = 0;
            if (c->prepare_error) {
                PQclear(c->prepare_error);
                c->prepare_error = NULL;
            }
            conn_answer(c, done.q);
        }
    }
    PGnotify *n;
    while (c->pg && (n = PQnotifies(c->pg))) {
        if (c->pool->notify_fn)
            c->pool->notify_fn(c->pool->listen_data, n->relname, n->extra);
        PQfreemem(n);
    }
    if (c->state == DBC_READY)
        pool_pump(c->pool);
}

static void on_listen_result(void *data, PGresult *res, db_status_t status)
{
    db_pool_t *p = data;
    if (status != DB_OK || PQresultStatus(res) != PGRES_COMMAND_OK) {
        if (res)
            log_warn("worker %d: LISTEN failed: %s", p->worker_id, PQresultErrorMessage(res));
        return; /* the connection will be reopened and LISTEN sent again */
    }
    if (--p->listen_pending == 0 && p->listening_fn)
        p->listening_fn(p->listen_data);
}

/* On connection 0 after every (re)connect: what was notified while it was
 * down is lost, so listening_fn lets the owner catch up. */
static void conn_send_listen(db_conn_t *c)
{
    db_pool_t *p = c->pool;
    p->listen_pending = p->listen_count;
    for (int i = 0; i < p->listen_count; i++) {
        db_query_t *q = query_new(0, 0, NULL, on_listen_result, p);
        size_t len = sizeof("LISTEN ") + strlen(p->listen_channels[i]);
        char *sql = mem_alloc(len);
        snprintf(sql, len, "LISTEN %s", p->listen_channels[i]);
        q->raw_sql = sql;
        conn_send(c, q);
    }
}

void db_pool_listen(db_pool_t *p, const char *const *channels, int count, db_notify_fn notify_fn,
                    void (*listening_fn)(void *data), void *data)
{
    p->listen_channels = channels;
    p->listen_count = count;
    p->notify_fn = notify_fn;
    p->listening_fn = listening_fn;
    p->listen_data = data;
    if (p->size > 0 && p->conns[0].state == DBC_READY)
        conn_send_listen(&p->conns[0]);
}

static void conn_on_ready(db_conn_t *c)
{
    db_pool_t *p = c->pool;
    if (PQsetnonblocking(c->pg, 1) || !PQenterPipelineMode(c->pg)) {
        conn_lost(c);
        return;
    }
    if (c->ever_ready)
        metrics_gauge_add(p->metrics, COUNTER_DB_RECONNECTS, 1);
    if (c->down_logged)
        log_info("worker %d: database connection %d is back", p->worker_id, c->index);
    c->ever_ready = 1;
    c->down_logged = 0;
    c->state = DBC_READY;
    c->backoff_ms = 0;
    memset(c->prepared, 0, (size_t)statement_count);
    if (poll_watch(c, UV_READABLE)) {
        conn_lost(c);
        return;
    }
    if (c->index == 0 && p->listen_count)
        conn_send_listen(c);
    pool_pump(p);
}

static void conn_connect_step(db_conn_t *c)
{
    switch (PQconnectPoll(c->pg)) {
    case PGRES_POLLING_READING:
        if (poll_watch(c, UV_READABLE))
            conn_lost(c);
        break;
    case PGRES_POLLING_WRITING:
        if (poll_watch(c, UV_WRITABLE))
            conn_lost(c);
        break;
    case PGRES_POLLING_OK:
        conn_on_ready(c);
        break;
    default:
        conn_lost(c);
        break;
    }
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    db_conn_t *c = h->data;
    if (c->state == DBC_CONNECTING) {
        conn_connect_step(c);
        return;
    }
    if (c->state != DBC_READY)
        return;
    if (status < 0) {
        conn_lost(c);
        return;
    }
    if (events & UV_WRITABLE) {
        int f = PQflush(c->pg);
        if (f < 0 || poll_watch(c, f ? UV_READABLE | UV_WRITABLE : UV_READABLE)) {
            conn_lost(c);
            return;
        }
    }
    if (events & UV_READABLE)
        conn_read_results(c);
}

static void on_backoff(uv_timer_t *t)
{
    db_conn_t *c = t->data;
    if (c->state == DBC_BACKOFF)
        conn_start(c);
}

static void conn_lost(db_conn_t *c)
{
    db_pool_t *p = c->pool;
    int was = c->state;
    if (!c->down_logged && !p->closing) {
        const char *why = c->pg ? PQerrorMessage(c->pg) : "cannot start a connection";
        char msg[256];
        snprintf(msg, sizeof(msg), "%s", why && *why ? why : "connection closed");
        for (char *ch = msg; *ch; ch++)
            if (*ch == '\n')
                *ch = ' ';
        log_warn("worker %d: database connection %d %s: %s", p->worker_id, c->index,
                 was == DBC_READY || was == DBC_BROKEN ? "lost" : "failed", msg);
        c->down_logged = 1;
    }
    poll_close(c);
    if (c->pg) {
        PQfinish(c->pg);
        c->pg = NULL;
    }
    c->state = p->closing ? DBC_CLOSED : DBC_BACKOFF;
    /* Take the ring first: callbacks may send new queries to other connections. */
    db_entry_t *ring = c->ring;
    int head = c->ring_head, count = c->ring_count, cap = c->ring_cap;
    c->ring = NULL;
    c->ring_cap = c->ring_count = c->ring_head = 0;
    c->inflight = 0;
    c->group_open = 0;
    PQclear(c->prepare_error);
    c->prepare_error = NULL;
    PQclear(c->sync_error);
    c->sync_error = NULL;
    for (int i = 0; i < count; i++) {
        db_entry_t *e = &ring[(head + i) % cap];
        if (e->kind == ENTRY_SYNC)
            query_deliver_all(e->q, DB_UNAVAILABLE);
    }
    free(ring);
    if (!p->closing) {
        c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : BACKOFF_FIRST_MS;
        if (c->backoff_ms > BACKOFF_MAX_MS)
            c->backoff_ms = BACKOFF_MAX_MS;
        uv_timer_start(&c->timer, on_backoff, c->backoff_ms, 0);
        if (!pool_has_hope(p))
            pool_fail_waiting(p);
    }
    pool_publish(p);
}

static void conn_open(db_conn_t *c)
{
    db_conninfo_t *ci = &c->pool->conninfo;
    /* libpq copies what it needs: the pool's one set of arrays serves every connection */
    db_conninfo_set_hostaddr(ci, c->hostaddr[0] ? c->hostaddr : NULL);
    c->pg = PQconnectStartParams(ci->keywords, ci->values, 0);
    if (!c->pg || PQstatus(c->pg) == CONNECTION_BAD) {
        conn_lost(c);
        return;
    }
    c->state = DBC_CONNECTING;
    if (poll_watch(c, UV_WRITABLE))
        conn_lost(c);
}

static void on_resolved(uv_getaddrinfo_t *r, int status, struct addrinfo *res)
{
    db_conn_t *c = r->data;
    db_pool_t *p = c->pool;
    p->open_handles--;
    if (p->closing) {
        if (res)
            uv_freeaddrinfo(res);
        c->state = DBC_CLOSED;
        if (!p->open_handles && p->close_done)
            p->close_done(p->close_data);
        return;
    }
    if (status || !res) {
        if (!c->down_logged)
            log_warn("worker %d: cannot resolve database host %s: %s", p->worker_id, p->conninfo.dns_host,
                     uv_strerror(status));
        c->down_logged = 1;
        if (res)
            uv_freeaddrinfo(res);
        conn_lost(c);
        return;
    }
    if (res->ai_family == AF_INET6)
        uv_ip6_name((struct sockaddr_in6 *)res->ai_addr, c->hostaddr, sizeof(c->hostaddr));
    else
        uv_ip4_name((struct sockaddr_in *)res->ai_addr, c->hostaddr, sizeof(c->hostaddr));
    uv_freeaddrinfo(res);
    conn_open(c);
}

static void conn_start(db_conn_t *c)
{
    db_pool_t *p = c->pool;
    if (!p->conninfo.dns_host) {
        conn_open(c);
        return;
    }
    /* libpq would resolve the name itself, blocking the loop: do it here instead. */
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    c->state = DBC_RESOLVING;
    c->dns.data = c;
    c->hostaddr[0] = '\0';
    if (uv_getaddrinfo(p->loop, &c->dns, on_resolved, p->conninfo.dns_host, NULL, &hints)) {
        conn_lost(c);
        return;
    }
    p->open_handles++;
}

db_pool_t *db_pool_new(uv_loop_t *loop, const config_t *cfg, int worker_id)
{
    db_pool_t *p = mem_calloc(1, sizeof(*p));
    p->loop = loop;
    p->cfg = cfg;
    p->worker_id = worker_id;
    p->metrics = metrics_worker(worker_id);
    p->size = cfg->db_pool_size;
    p->conns = mem_calloc((size_t)p->size + 1, sizeof(db_conn_t));
    /* serve and migrate refused a string that does not parse before any pool */
    char err[256];
    int parsed = db_conninfo_parse(&p->conninfo, cfg->database_url, err, sizeof(err));
    assert(parsed == 0);
    (void)parsed;

    for (int i = 0; i <= p->size; i++) {
        db_conn_t *c = &p->conns[i];
        c->pool = p;
        c->index = i;
        c->poll_fd = -1;
        c->prepared = mem_calloc((size_t)(statement_count ? statement_count : 1), 1);
        uv_timer_init(loop, &c->timer);
        c->timer.data = c;
        p->open_handles++;
        if (i < p->size)
            conn_start(c);
    }
    pool_publish(p);
    return p;
}

static void on_timer_closed(uv_handle_t *h)
{
    db_conn_t *c = h->data;
    db_pool_t *p = c->pool;
    if (--p->open_handles == 0 && p->close_done)
        p->close_done(p->close_data);
}

void db_pool_close(db_pool_t *p, void (*done)(void *), void *data)
{
    p->closing = 1;
    p->close_done = done;
    p->close_data = data;
    pool_fail_waiting(p);
    for (int i = 0; i <= p->size; i++) {
        db_conn_t *c = &p->conns[i];
        if (c->state == DBC_RESOLVING)
            uv_cancel((uv_req_t *)&c->dns);
        else
            conn_lost(c);
        uv_close((uv_handle_t *)&c->timer, on_timer_closed);
    }
}

void db_pool_free(db_pool_t *p)
{
    if (!p)
        return;
    for (int i = 0; i <= p->size; i++) {
        free(p->conns[i].prepared);
        free(p->conns[i].ring);
    }
    free(p->conns);
    db_conninfo_free(&p->conninfo);
    free(p);
}
