/* The cycle every outbox shares (outbox.h): claim due rows for a lease,
 * hand each to the kind's send callback, record what came of it, and give
 * back what is claimed as the outbox stops. The kinds bring their statements
 * and their sending; the lease, the batch in flight, the backoff and give-up
 * parameters, NOTIFY wake-ups, polling and the gauges are all here. */
#include <assert.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hourglass/arena.h"
#include "hourglass/log.h"
#include "hourglass/mem.h"
#include "hourglass/outbox.h"

#define OUTBOX_BATCH 8              /* rows claimed at once, and sends in flight */
#define OUTBOX_CLAIM_SLACK_MS 30000 /* a claim outlives its send by this much */
#define OUTBOX_FIRST_POLL_MS 50
#define OUTBOX_NUMBER_MAX 24        /* a 64-bit number in decimal, and its NUL */
#define OUTBOX_WORKER_MAX (HOST_NAME_MAX + 2 * OUTBOX_NUMBER_MAX)

struct outbox_job {
    outbox_t *o;
    char id[OUTBOX_NUMBER_MAX];
};

struct outbox {
    outbox_kind_t *kind;
    void *sender;
    outbox_timing_t timing;
    db_pool_t *db;
    outbound_t *out;
    int worker_id;
    metrics_worker_t *metrics;
    uv_timer_t timer;                /* the next poll; once stopping, the limit on waiting */
    char worker[OUTBOX_WORKER_MAX]; /* "<host>:<pid>:<worker>": whose claim a row is */
    int active;                      /* sends in flight */
    int asked;     /* rows the last claim asked for */
    bool claiming;
    bool more;     /* the last claim was full: more rows may be due */
    int writes;    /* results being recorded */
    bool stopping;
    bool closing;  /* the timer is closing: nothing more is recorded */
    void (*stopped)(void *);
    void *stopped_data;
};

void outbox_register(outbox_kind_t *kind)
{
    for (int i = 0; i < OUTBOX_STATEMENTS; i++)
        kind->stmt[i] = db_statement_register(kind->statements[i].name, kind->statements[i].sql);
}

const char *outbox_job_id(const outbox_job_t *job) { return job->id; }

static void on_timer_closed(uv_handle_t *h)
{
    outbox_t *o = h->data;
    assert(o->stopped);
    void (*done)(void *) = o->stopped;
    o->stopped = NULL;
    done(o->stopped_data);
}

static void close_timer(outbox_t *o)
{
    o->closing = true;
    uv_close((uv_handle_t *)&o->timer, on_timer_closed);
}

/* A stopping outbox closes once its sends have ended and their results, and
 * its claim, are answered, so the pool (closed after it) drops none. */
static void close_when_idle(outbox_t *o)
{
    if (o->stopping && !o->closing && !o->active && !o->writes && !o->claiming)
        close_timer(o);
}

static void on_stop_timeout(uv_timer_t *t)
{
    outbox_t *o = t->data;
    log_warn("worker %d: %s: %d send(s) in flight and %d result(s) unrecorded at the shutdown timeout; those may "
             "be sent again", o->worker_id, o->kind->name, o->active, o->writes);
    close_timer(o);
}

/* The worker's name follows the parameters when only the claimer may write. */
static int with_worker(outbox_t *o, const char **params, int n)
{
    if (o->kind->claims_owned)
        params[n++] = o->worker;
    return n;
}

static bool result_ok(PGresult *res, db_status_t status)
{
    return status == DB_OK && (PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK);
}

static void on_recorded(void *data, PGresult *res, db_status_t status)
{
    outbox_t *o = data;
    o->writes--;
    if (!result_ok(res, status))
        log_warn("%s: could not record a result (the row will be retried): %s", o->kind->name,
                 res ? PQresultErrorMessage(res) : "database unavailable");
    close_when_idle(o);
}

/* A failure recorded (id, attempts, dead); when it was the last try, that is
 * worth an error line. */
static void on_failure_recorded(void *data, PGresult *res, db_status_t status)
{
    outbox_t *o = data;
    if (result_ok(res, status) && PQntuples(res) == 1 && !strcmp(PQgetvalue(res, 0, 2), "t"))
        log_error("%s %s: given up after %s attempt(s); it stays in the outbox with dead_at set", o->kind->name,
                  PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1));
    on_recorded(data, res, status);
}

static void record(outbox_t *o, int which, const char **params, int n, db_result_fn cb, const char *what)
{
    n = with_worker(o, params, n);
    o->writes++;
    if (db_query(o->db, o->kind->stmt[which], n, params, cb, o) != DB_OK) {
        o->writes--;
        log_warn("%s %s: the database is unavailable to record the result (the row will be retried)",
                 o->kind->name, what);
    }
}

static void record_failure(outbox_t *o, const char *id, const outbox_result_t *r)
{
    log_warn("%s %s not sent, %s: %s", o->kind->name, id, r->permanent ? "never will be" : "will retry", r->error);
    char retry[OUTBOX_NUMBER_MAX], max[OUTBOX_NUMBER_MAX], give_up[OUTBOX_NUMBER_MAX];
    snprintf(retry, sizeof(retry), "%lld", (long long)r->retry_after_ms);
    snprintf(max, sizeof(max), "%llu", (unsigned long long)o->timing.retry_max_ms);
    snprintf(give_up, sizeof(give_up), "%llu", (unsigned long long)o->timing.give_up_after_ms);
    const char *params[7] = {id, r->error, r->retry_after_ms > 0 ? retry : NULL, max, give_up,
                             r->permanent ? "true" : "false"};
    record(o, OUTBOX_FAILED, params, 6, on_failure_recorded, id);
}

static void claim(outbox_t *o);

void outbox_done(outbox_job_t *j, const outbox_result_t *r)
{
    outbox_t *o = j->o;
    o->active--;
    if (!o->closing && !r->error) {
        const char *params[2] = {j->id};
        record(o, OUTBOX_SENT, params, 1, on_recorded, j->id);
    } else if (!o->closing) {
        record_failure(o, j->id, r);
    }
    free(j);
    if (o->more)
        claim(o);
    close_when_idle(o);
}

static void send_row(outbox_t *o, PGresult *res, int row)
{
    outbox_job_t *j = mem_calloc(1, sizeof(*j));
    const char *id = PQgetvalue(res, row, 0);
    assert(strlen(id) < sizeof(j->id)); /* a bigint */
    strcpy(j->id, id);
    j->o = o;
    o->active++;
    o->kind->send(o->sender, o->out, j, res, row);
}

/* Rows claimed just as the outbox stops: back at once, for another worker. */
static void release(outbox_t *o, PGresult *res)
{
    if (PQntuples(res) == 0)
        return;
    abuf_t ids;
    abuf_init(&ids, NULL, 0);
    for (int i = 0; i < PQntuples(res); i++)
        abuf_printf(&ids, "%c%s", i ? ',' : '{', PQgetvalue(res, i, 0));
    abuf_puts(&ids, "}");
    log_info("worker %d: stopping; %d claimed %s row(s) given back", o->worker_id, PQntuples(res), o->kind->name);
    const char *params[2] = {ids.data};
    record(o, OUTBOX_RELEASE, params, 1, on_recorded, ids.data);
    abuf_free(&ids);
}

static void on_claimed(void *data, PGresult *res, db_status_t status)
{
    outbox_t *o = data;
    o->claiming = false;
    o->more = false;
    if (status != DB_OK || PQresultStatus(res) != PGRES_TUPLES_OK) {
        if (status == DB_OK)
            log_warn("%s: claiming due rows failed: %s", o->kind->name, PQresultErrorMessage(res));
    } else if (o->stopping) {
        release(o, res);
    } else {
        for (int i = 0; i < PQntuples(res); i++)
            send_row(o, res, i);
        o->more = PQntuples(res) == o->asked;
        if (o->more)
            claim(o);
    }
    close_when_idle(o);
}

static void claim(outbox_t *o)
{
    if (o->claiming || o->stopping || o->active >= OUTBOX_BATCH)
        return;
    char lease[OUTBOX_NUMBER_MAX], limit[OUTBOX_NUMBER_MAX];
    snprintf(lease, sizeof(lease), "%llu", (unsigned long long)(o->timing.send_timeout_ms + OUTBOX_CLAIM_SLACK_MS));
    o->asked = OUTBOX_BATCH - o->active;
    snprintf(limit, sizeof(limit), "%d", o->asked);
    const char *params[3] = {lease, limit};
    int n = with_worker(o, params, 2);
    o->claiming = true;
    if (db_query(o->db, o->kind->stmt[OUTBOX_CLAIM], n, params, on_claimed, o) != DB_OK)
        o->claiming = false;
}

static void on_counts(void *data, PGresult *res, db_status_t status)
{
    outbox_t *o = data;
    if (status != DB_OK || PQresultStatus(res) != PGRES_TUPLES_OK || o->stopping)
        return;
    for (int i = 0; i < OUTBOX_STATES; i++)
        metrics_gauge_set(o->metrics, o->kind->gauges[i], strtoll(PQgetvalue(res, 0, i), NULL, 10));
}

static void on_poll(uv_timer_t *t)
{
    outbox_t *o = t->data;
    claim(o);
    if (o->worker_id == 0) /* one count per process is enough */
        db_query(o->db, o->kind->stmt[OUTBOX_COUNTS], 0, NULL, on_counts, o);
}

static void on_notify(void *data, const char *payload)
{
    (void)payload;
    claim(data);
}

/* The LISTEN is (back) in place: what was written meanwhile is due now. */
static void on_listening(void *data) { claim(data); }

void outbox_listen(outbox_t *o, events_t *events)
{
    if (!o)
        return;
    int rc = events_subscribe(events, o->kind->channel, on_notify, on_listening, o);
    assert(rc == 0); /* the hub has room for every subscriber of a worker */
    (void)rc;
}

outbox_t *outbox_start(outbox_kind_t *kind, void *sender, const outbox_timing_t *timing, uv_loop_t *loop,
                       db_pool_t *db, outbound_t *out, int worker_id)
{
    outbox_t *o = mem_calloc(1, sizeof(*o));
    o->kind = kind;
    o->sender = sender;
    o->timing = *timing;
    o->db = db;
    o->out = out;
    o->worker_id = worker_id;
    o->metrics = metrics_worker(worker_id);
    char host[HOST_NAME_MAX + 1] = "host";
    gethostname(host, sizeof(host) - 1);
    snprintf(o->worker, sizeof(o->worker), "%s:%d:%d", host, (int)getpid(), worker_id);
    uv_timer_init(loop, &o->timer);
    o->timer.data = o;
    uv_timer_start(&o->timer, on_poll, OUTBOX_FIRST_POLL_MS, timing->poll_interval_ms);
    return o;
}

void outbox_stop(outbox_t *o, uint64_t deadline_ms, void (*done)(void *), void *data)
{
    if (!o) {
        done(data);
        return;
    }
    o->stopping = true;
    o->stopped = done;
    o->stopped_data = data;
    uv_timer_stop(&o->timer);
    uint64_t now = uv_now(o->timer.loop);
    uv_timer_start(&o->timer, on_stop_timeout, deadline_ms > now ? deadline_ms - now : 0, 0);
    close_when_idle(o);
}

void outbox_free(outbox_t *o)
{
    if (!o)
        return;
    assert(!o->active); /* the outbound driver has ended every send */
    free(o->sender);
    free(o);
}
