/* The Telegram sender of one worker loop: claims due rows of telegram_outbox
 * (shop_telegram_claim, a lease per row), sends each with the Bot API's
 * sendMessage through the worker's outbound driver, and records the outcome
 * as the claimer only (shop_telegram_sent / _failed), so a row is sent once
 * however many instances run. The SQL is in 0011_shop.sql. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hourglass/log.h"
#include "hourglass/metrics.h"
#include "hourglass/telegram.h"

#define TELEGRAM_BATCH 8               /* rows per claim, and transfers at once */
#define TELEGRAM_LEASE_FACTOR 3        /* a claim outlives its transfer: 3 x OUTBOUND_TIMEOUT ... */
#define TELEGRAM_LEASE_MIN_MS 30000    /* ... and at least this */
#define TELEGRAM_FIRST_POLL_MS 50
#define TELEGRAM_ERROR_MAX 300         /* of the text kept in last_error */

static int stmt_claim, stmt_sent, stmt_failed, stmt_release, stmt_counts;

void telegram_register_statements(void)
{
    stmt_claim = db_statement_register(
        "tg_claim", "SELECT id, chat_id, text, attempts FROM shop_telegram_claim($1, $2::bigint, $3::int)");
    stmt_sent = db_statement_register("tg_sent", "SELECT shop_telegram_sent($1::bigint, $2)");
    stmt_failed = db_statement_register(
        "tg_failed", "SELECT shop_telegram_failed($1::bigint, $2, $3, $4::bigint, $5::bigint, $6::bigint, false)");
    stmt_release = db_statement_register("tg_release", "SELECT shop_telegram_release($1::bigint[], $2)");
    stmt_counts = db_statement_register(
        "tg_counts",
        "SELECT count(*) FILTER (WHERE sent_at IS NULL AND dead_at IS NULL AND last_error IS NULL),"
        " count(*) FILTER (WHERE sent_at IS NOT NULL),"
        " count(*) FILTER (WHERE sent_at IS NULL AND dead_at IS NULL AND last_error IS NOT NULL),"
        " count(*) FILTER (WHERE dead_at IS NOT NULL) FROM telegram_outbox");
}

int telegram_configured(const config_t *cfg)
{
    return cfg->telegram_bot_token && *cfg->telegram_bot_token && cfg->telegram_chat_id && *cfg->telegram_chat_id &&
           cfg->telegram_api_url && *cfg->telegram_api_url;
}

typedef struct tg_job tg_job_t;

struct telegram_outbox {
    db_pool_t *db;
    outbound_t *out;
    const config_t *cfg;
    int worker_id;
    metrics_worker_t *metrics;
    uv_timer_t timer;      /* the next poll; once stopping, the limit on waiting for results */
    char worker_name[160]; /* "<host>:<pid>:<worker>": whose claim a row is */
    char *url;             /* .../bot<token>/sendMessage: never logged */
    tg_job_t *jobs;        /* transfers in flight */
    int active;
    int claiming;
    int writes;            /* results being recorded */
    int stopping;
    int closing;
    void (*stopped)(void *);
    void *stopped_data;
};

struct tg_job {
    telegram_outbox_t *t;
    tg_job_t *prev, *next;
    char id[24];
};

/* ---------------------------------------------------------------- stopping */

static void on_timer_closed(uv_handle_t *h)
{
    telegram_outbox_t *t = h->data;
    if (t->stopped) {
        void (*done)(void *) = t->stopped;
        t->stopped = NULL;
        done(t->stopped_data);
    }
}

static void close_handles(telegram_outbox_t *t)
{
    if (t->closing)
        return;
    t->closing = 1;
    uv_close((uv_handle_t *)&t->timer, on_timer_closed);
}

/* Closes once its claim and the results it records are answered, so the pool
 * (closed after it) does not drop a "sent". */
static void close_when_idle(telegram_outbox_t *t)
{
    if (t->stopping && !t->closing && t->writes == 0 && !t->claiming)
        close_handles(t);
}

static void on_stop_timeout(uv_timer_t *timer)
{
    telegram_outbox_t *t = timer->data;
    log_warn("worker %d: Telegram results still unrecorded at the shutdown timeout; those messages may be sent "
             "again", t->worker_id);
    close_handles(t);
}

/* ---------------------------------------------------------------- results */

static void on_recorded(void *data, PGresult *res, db_status_t status)
{
    telegram_outbox_t *t = data;
    t->writes--;
    if (status != DB_OK || PQresultStatus(res) != PGRES_TUPLES_OK)
        log_warn("telegram: could not record a result (the row will be retried): %s",
                 res ? PQresultErrorMessage(res) : "database unavailable");
    close_when_idle(t);
}

static void on_failure_recorded(void *data, PGresult *res, db_status_t status)
{
    if (status == DB_OK && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
        !strcmp(PQgetvalue(res, 0, 0), "t"))
        log_error("telegram: a message was given up after OUTBOUND_GIVE_UP_AFTER; it stays in the outbox with "
                  "dead_at set");
    on_recorded(data, res, status);
}

static void record(telegram_outbox_t *t, int stmt, int nparams, const char *const *params, db_result_fn cb)
{
    t->writes++;
    if (db_query(t->db, stmt, nparams, params, cb, t) != DB_OK) {
        t->writes--;
        log_warn("telegram: the database is unavailable to record a result (the row will be retried)");
    }
}

/* retry_after_ms: Telegram's flood control, or 0 for the backoff. */
static void mark_failed(telegram_outbox_t *t, const char *id, const char *why, long long retry_after_ms)
{
    char retry[24], max[24], give_up[24];
    snprintf(retry, sizeof(retry), "%lld", retry_after_ms);
    snprintf(max, sizeof(max), "%llu", (unsigned long long)t->cfg->outbound_retry_max_ms);
    snprintf(give_up, sizeof(give_up), "%llu", (unsigned long long)t->cfg->outbound_give_up_after_ms);
    const char *params[6] = {id, t->worker_name, why, retry_after_ms > 0 ? retry : NULL, max, give_up};
    record(t, stmt_failed, 6, params, on_failure_recorded);
}

static void job_free(tg_job_t *j)
{
    telegram_outbox_t *t = j->t;
    if (j->prev)
        j->prev->next = j->next;
    else if (t->jobs == j)
        t->jobs = j->next;
    if (j->next)
        j->next->prev = j->prev;
    free(j);
}

/* Telegram's answer: {"ok":true,...}, or {"ok":false,"error_code","description","parameters":{"retry_after"}}. */
static void on_sent(void *data, const outbound_response_t *r)
{
    tg_job_t *j = data;
    telegram_outbox_t *t = j->t;
    t->active--;
    if (t->stopping) { /* its claim was given back already */
        job_free(j);
        return;
    }
    json_t *doc = r->rc == CURLE_OK ? json_loadb(r->body, r->len, 0, NULL) : NULL;
    char why[TELEGRAM_ERROR_MAX];
    if (r->rc == CURLE_OK && r->status == 200 && json_is_true(json_object_get(doc, "ok"))) {
        const char *params[2] = {j->id, t->worker_name};
        record(t, stmt_sent, 2, params, on_recorded);
    } else if (r->rc != CURLE_OK) {
        snprintf(why, sizeof(why), "%s", r->error ? r->error : "transfer failed");
        log_warn("telegram message %s not sent, will retry: %s", j->id, why);
        mark_failed(t, j->id, why, 0);
    } else {
        /* The description is Telegram's words; the token is only in the URL, never here. */
        const char *description = json_string_value(json_object_get(doc, "description"));
        json_int_t retry_after = json_integer_value(json_object_get(json_object_get(doc, "parameters"), "retry_after"));
        snprintf(why, sizeof(why), "HTTP %ld: %s", r->status, description ? description : "no description");
        log_warn("telegram message %s not sent, will retry: %s", j->id, why);
        mark_failed(t, j->id, why, r->status == 429 && retry_after > 0 ? (long long)retry_after * 1000 : 0);
    }
    json_decref(doc);
    job_free(j);
}

/* chat_id as a number when it is one (Telegram takes both; a channel's is "@name"). */
static char *message_json(const char *chat_id, const char *text)
{
    char *end;
    long long n = strtoll(chat_id, &end, 10);
    json_t *chat = *chat_id && !*end ? json_integer(n) : json_string(chat_id);
    json_t *doc = json_pack("{s:o, s:s}", "chat_id", chat, "text", text);
    char *out = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    return out;
}

static void send_row(telegram_outbox_t *t, const char *id, const char *chat_id, const char *text)
{
    tg_job_t *j = calloc(1, sizeof(*j));
    char *body = j ? message_json(chat_id, text) : NULL;
    if (!body) {
        free(j);
        mark_failed(t, id, "out of memory", 0);
        return;
    }
    j->t = t;
    snprintf(j->id, sizeof(j->id), "%s", id);
    outbound_request_t rq = {
        .url = t->url,
        .body = body,
        .content_type = "application/json",
        .timeout_ms = t->cfg->outbound_timeout_ms,
        .max_bytes = t->cfg->outbound_max_response,
    };
    int rc = outbound_http(t->out, &rq, on_sent, j);
    free(body); /* outbound_http keeps its own copy */
    if (rc) {
        free(j);
        mark_failed(t, id, "the transfer could not be started", 0);
        return;
    }
    t->active++;
    j->next = t->jobs;
    if (t->jobs)
        t->jobs->prev = j;
    t->jobs = j;
}

/* ---------------------------------------------------------------- claiming */

/* "{1,2,3}" of the first column of res, or of the jobs in flight (res NULL). */
static char *id_array(telegram_outbox_t *t, PGresult *res)
{
    size_t cap = 16 + 24 * (size_t)(res ? PQntuples(res) : t->active);
    char *ids = malloc(cap);
    if (!ids)
        return NULL;
    size_t len = (size_t)snprintf(ids, cap, "{");
    if (res) {
        for (int i = 0; i < PQntuples(res); i++)
            len += (size_t)snprintf(ids + len, cap - len, "%s%s", i ? "," : "", PQgetvalue(res, i, 0));
    } else {
        for (tg_job_t *j = t->jobs; j; j = j->next)
            len += (size_t)snprintf(ids + len, cap - len, "%s%s", j == t->jobs ? "" : ",", j->id);
    }
    snprintf(ids + len, cap - len, "}");
    return ids;
}

/* Claims given back as the sender stops, for another worker or instance at once. */
static void release(telegram_outbox_t *t, PGresult *res)
{
    char *ids = id_array(t, res);
    if (!ids)
        return;
    if (strcmp(ids, "{}")) {
        const char *params[2] = {ids, t->worker_name};
        record(t, stmt_release, 2, params, on_recorded);
    }
    free(ids);
}

static void on_claimed(void *data, PGresult *res, db_status_t status)
{
    telegram_outbox_t *t = data;
    t->claiming = 0;
    if (status != DB_OK || PQresultStatus(res) != PGRES_TUPLES_OK) {
        if (status == DB_OK)
            log_warn("telegram: claiming due messages failed: %s", PQresultErrorMessage(res));
        close_when_idle(t);
        return;
    }
    if (t->stopping) {
        release(t, res);
        close_when_idle(t);
        return;
    }
    for (int i = 0; i < PQntuples(res); i++)
        send_row(t, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1), PQgetvalue(res, i, 2));
}

static void claim(telegram_outbox_t *t)
{
    if (t->claiming || t->stopping || t->active >= TELEGRAM_BATCH)
        return;
    uint64_t lease = t->cfg->outbound_timeout_ms * TELEGRAM_LEASE_FACTOR;
    if (lease < TELEGRAM_LEASE_MIN_MS)
        lease = TELEGRAM_LEASE_MIN_MS;
    char lease_ms[24], limit[16];
    snprintf(lease_ms, sizeof(lease_ms), "%llu", (unsigned long long)lease);
    snprintf(limit, sizeof(limit), "%d", TELEGRAM_BATCH - t->active);
    const char *params[3] = {t->worker_name, lease_ms, limit};
    t->claiming = 1;
    if (db_query(t->db, stmt_claim, 3, params, on_claimed, t) != DB_OK)
        t->claiming = 0;
}

static void on_counts(void *data, PGresult *res, db_status_t status)
{
    telegram_outbox_t *t = data;
    if (status != DB_OK || PQresultStatus(res) != PGRES_TUPLES_OK || t->stopping)
        return;
    static const metrics_gauge_t gauges[] = {GAUGE_TELEGRAM_PENDING, GAUGE_TELEGRAM_SENT, GAUGE_TELEGRAM_FAILED,
                                             GAUGE_TELEGRAM_DEAD};
    for (int i = 0; i < (int)(sizeof(gauges) / sizeof(gauges[0])); i++)
        metrics_gauge_set(t->metrics, gauges[i], strtoll(PQgetvalue(res, 0, i), NULL, 10));
}

static void on_poll(uv_timer_t *timer)
{
    telegram_outbox_t *t = timer->data;
    claim(t);
    if (t->worker_id == 0) /* one count per process is enough */
        db_query(t->db, stmt_counts, 0, NULL, on_counts, t);
}

void telegram_outbox_wake(telegram_outbox_t *t)
{
    if (t && !t->stopping)
        claim(t);
}

telegram_outbox_t *telegram_outbox_start(uv_loop_t *loop, db_pool_t *db, outbound_t *out, const config_t *cfg,
                                         int worker_id)
{
    if (!telegram_configured(cfg))
        return NULL;
    telegram_outbox_t *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    const char *base = cfg->telegram_api_url;
    size_t base_len = strlen(base);
    while (base_len && base[base_len - 1] == '/')
        base_len--;
    size_t n = base_len + strlen(cfg->telegram_bot_token) + sizeof("/bot/sendMessage");
    t->url = malloc(n);
    if (!t->url) {
        free(t);
        return NULL;
    }
    snprintf(t->url, n, "%.*s/bot%s/sendMessage", (int)base_len, base, cfg->telegram_bot_token);
    char host[64] = "host";
    gethostname(host, sizeof(host) - 1);
    snprintf(t->worker_name, sizeof(t->worker_name), "%s:%d:%d", host, (int)getpid(), worker_id);
    t->db = db;
    t->out = out;
    t->cfg = cfg;
    t->worker_id = worker_id;
    t->metrics = metrics_worker(worker_id);
    uv_timer_init(loop, &t->timer);
    t->timer.data = t;
    uv_timer_start(&t->timer, on_poll, TELEGRAM_FIRST_POLL_MS, cfg->outbound_poll_interval_ms);
    return t;
}

void telegram_outbox_stop(telegram_outbox_t *t, void (*done)(void *), void *data)
{
    if (!t) {
        done(data);
        return;
    }
    t->stopping = 1;
    t->stopped = done;
    t->stopped_data = data;
    /* In-flight rows go back now rather than when their lease ends; should
     * Telegram have taken one already, it is sent twice (it has no
     * idempotency key). Their transfers end with the outbound driver. */
    if (t->active)
        release(t, NULL);
    uv_timer_stop(&t->timer);
    if (t->writes || t->claiming)
        uv_timer_start(&t->timer, on_stop_timeout, t->cfg->shutdown_timeout_ms, 0);
    close_when_idle(t);
}

void telegram_outbox_free(telegram_outbox_t *t)
{
    if (!t)
        return;
    while (t->jobs)
        job_free(t->jobs);
    free(t->url);
    free(t);
}
