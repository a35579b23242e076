#include "hourglass/metrics.h"

#include <stdlib.h>
#include <string.h>


/* Statuses we count one by one; anything else is counted under its class. */
static const int counted_statuses[] = {
    100, 200, 201, 202, 204, 304, 400, 401, 403, 404, 405, 408, 409, 410,
    411, 413, 414, 415, 422, 429, 431, 500, 501, 502, 503, 504,
};
#define STATUS_SLOTS (sizeof(counted_statuses) / sizeof(counted_statuses[0]) + 5)
static const double buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
#define BUCKETS (sizeof(buckets) / sizeof(buckets[0]))

typedef struct {
    uint64_t requests[METRICS_METHODS][STATUS_SLOTS];
    uint64_t hist[BUCKETS + 1];
    uint64_t sum_ns;
    uint64_t count;
} route_metrics_t;

struct metrics_worker {
    route_metrics_t *routes; /* route_count + 1: index 0 is "unmatched" */
    int64_t gauges[GAUGE_COUNT];
    char pad[64];            /* keep workers' hot counters on separate lines */
};

static metrics_worker_t *workers;
static int worker_count;
static int routes_count;
static unsigned char status_slot[600];

int metrics_init(int nworkers, int route_count)
{
    worker_count = nworkers;
    routes_count = route_count + 1;
    workers = calloc((size_t)nworkers, sizeof(metrics_worker_t));
    for (int i = 0; i < nworkers; i++)
        workers[i].routes = calloc((size_t)routes_count, sizeof(route_metrics_t));
    for (int s = 0; s < 600; s++)
        status_slot[s] = (unsigned char)(STATUS_SLOTS - 5 + (s / 100 >= 1 && s / 100 <= 5 ? s / 100 - 1 : 0));
    for (size_t i = 0; i < sizeof(counted_statuses) / sizeof(counted_statuses[0]); i++)
        status_slot[counted_statuses[i]] = (unsigned char)i;
    return 0;
}

void metrics_free(void)
{
    for (int i = 0; i < worker_count; i++)
        free(workers[i].routes);
    free(workers);
    workers = NULL;
}

metrics_worker_t *metrics_worker(int id) { return workers && id < worker_count ? &workers[id] : NULL; }

/* One writer per counter (its worker): a relaxed load and store is enough,
 * and avoids a locked instruction on every request. */
#define ADD(p, v) __atomic_store_n((p), __atomic_load_n((p), __ATOMIC_RELAXED) + (v), __ATOMIC_RELAXED)
#define LOAD(p) __atomic_load_n((p), __ATOMIC_RELAXED)

void metrics_request(metrics_worker_t *m, int route_id, int method, int status, uint64_t duration_ns)
{
    if (!m || route_id < 0 || route_id >= routes_count)
        return;
    route_metrics_t *r = &m->routes[route_id];
    int slot = status >= 100 && status < 600 ? status_slot[status] : (int)STATUS_SLOTS - 1;
    ADD(&r->requests[method][slot], 1);
    double secs = (double)duration_ns / 1e9;
    size_t b = 0;
    while (b < BUCKETS && secs > buckets[b])
        b++;
    ADD(&r->hist[b], 1);
    ADD(&r->sum_ns, duration_ns);
    ADD(&r->count, 1);
}

void metrics_gauge_add(metrics_worker_t *m, metrics_gauge_t g, int64_t delta)
{
    if (m)
        ADD(&m->gauges[g], delta);
}

void metrics_gauge_set(metrics_worker_t *m, metrics_gauge_t g, int64_t value)
{
    if (m)
        __atomic_store_n(&m->gauges[g], value, __ATOMIC_RELAXED);
}

int64_t metrics_gauge_total(metrics_gauge_t g)
{
    int64_t sum = 0;
    for (int i = 0; i < worker_count; i++)
        sum += LOAD(&workers[i].gauges[g]);
    return sum;
}

static const char *status_label(size_t slot, char *buf)
{
    if (slot < STATUS_SLOTS - 5) {
        int s = counted_statuses[slot];
        buf[0] = (char)('0' + s / 100);
        buf[1] = (char)('0' + s / 10 % 10);
        buf[2] = (char)('0' + s % 10);
        buf[3] = '\0';
        return buf;
    }
    buf[0] = (char)('1' + (slot - (STATUS_SLOTS - 5)));
    memcpy(buf + 1, "xx", 3);
    return buf;
}

void metrics_render(abuf_t *b, const metrics_labels_t *labels)
{
    char sbuf[8];
    abuf_puts(b, "# HELP http_requests_total Requests answered, by declared route, method and status.\n"
                  "# TYPE http_requests_total counter\n");
    for (int route = 0; route < routes_count; route++) {
        const char *pattern = labels->route(labels->ctx, route);
        for (int m = 0; m < METRICS_METHODS; m++) {
            for (size_t s = 0; s < STATUS_SLOTS; s++) {
                uint64_t n = 0;
                for (int w = 0; w < worker_count; w++)
                    n += LOAD(&workers[w].routes[route].requests[m][s]);
                if (n)
                    abuf_printf(b, "http_requests_total{route=\"%s\",method=\"%s\",status=\"%s\"} %llu\n",
                                pattern, labels->method(m), status_label(s, sbuf),
                                (unsigned long long)n);
            }
        }
    }
    abuf_puts(b, "# HELP http_request_duration_seconds Time from the first byte of a request to its answer.\n"
                  "# TYPE http_request_duration_seconds histogram\n");
    for (int route = 0; route < routes_count; route++) {
        uint64_t hist[BUCKETS + 1] = {0}, sum_ns = 0, count = 0;
        for (int w = 0; w < worker_count; w++) {
            route_metrics_t *rm = &workers[w].routes[route];
            for (size_t i = 0; i <= BUCKETS; i++)
                hist[i] += LOAD(&rm->hist[i]);
            sum_ns += LOAD(&rm->sum_ns);
            count += LOAD(&rm->count);
        }
        if (!count)
            continue;
        const char *pattern = labels->route(labels->ctx, route);
        uint64_t cumulative = 0;
        for (size_t i = 0; i < BUCKETS; i++) {
            cumulative += hist[i];
            abuf_printf(b, "http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n", pattern,
                        buckets[i], (unsigned long long)cumulative);
        }
        abuf_printf(b, "http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n", pattern,
                    (unsigned long long)count);
        abuf_printf(b, "http_request_duration_seconds_sum{route=\"%s\"} %.6f\n", pattern, (double)sum_ns / 1e9);
        abuf_printf(b, "http_request_duration_seconds_count{route=\"%s\"} %llu\n", pattern,
                    (unsigned long long)count);
    }
    abuf_printf(b,
                "# HELP http_connections_open Client connections open now.\n"
                "# TYPE http_connections_open gauge\n"
                "http_connections_open %lld\n"
                "# HELP http_answer_bytes_unsent Bytes of answers made and not yet written, HTTP_MAX_QUEUED_BYTES\n"
                "# plus one answer at most per connection.\n"
                "# TYPE http_answer_bytes_unsent gauge\n"
                "http_answer_bytes_unsent %lld\n"
                "# HELP http_deadlines_deferred_total Connection deadlines (408, closes) left to a later loop turn, so\n"
                "# that thousands due at once do not hold one turn.\n"
                "# TYPE http_deadlines_deferred_total counter\n"
                "http_deadlines_deferred_total %lld\n"
                "# HELP db_pool_connections Database connections by state.\n"
                "# TYPE db_pool_connections gauge\n"
                "db_pool_connections{state=\"idle\"} %lld\n"
                "db_pool_connections{state=\"busy\"} %lld\n"
                "# HELP db_pool_queue_length Queries waiting for a database connection.\n"
                "# TYPE db_pool_queue_length gauge\n"
                "db_pool_queue_length %lld\n"
                "# HELP db_reconnects_total Database connections re-established after a loss.\n"
                "# TYPE db_reconnects_total counter\n"
                "db_reconnects_total %lld\n"
                "# HELP mail_outbox_messages Mail in the outbox by state (pending, sent, failed and waiting to retry, dead: given up).\n"
                "# TYPE mail_outbox_messages gauge\n"
                "mail_outbox_messages{state=\"pending\"} %lld\n"
                "mail_outbox_messages{state=\"sent\"} %lld\n"
                "mail_outbox_messages{state=\"failed\"} %lld\n"
                "mail_outbox_messages{state=\"dead\"} %lld\n"
                "# HELP telegram_outbox_messages The shop's Telegram messages by state (as mail_outbox_messages).\n"
                "# TYPE telegram_outbox_messages gauge\n"
                "telegram_outbox_messages{state=\"pending\"} %lld\n"
                "telegram_outbox_messages{state=\"sent\"} %lld\n"
                "telegram_outbox_messages{state=\"failed\"} %lld\n"
                "telegram_outbox_messages{state=\"dead\"} %lld\n"
                "# HELP sse_streams_open Event streams (GET /api/v1/events) open now.\n"
                "# TYPE sse_streams_open gauge\n"
                "sse_streams_open %lld\n"
                "# HELP sse_events_sent_total Events written to event streams.\n"
                "# TYPE sse_events_sent_total counter\n"
                "sse_events_sent_total %lld\n"
                "# HELP sse_streams_dropped_total Event streams ended because their reader left too much unsent.\n"
                "# TYPE sse_streams_dropped_total counter\n"
                "sse_streams_dropped_total %lld\n"
                "# HELP catalogue_cache_hits_total Public shop reads answered from a worker's memory.\n"
                "# TYPE catalogue_cache_hits_total counter\n"
                "catalogue_cache_hits_total %lld\n"
                "# HELP catalogue_cache_misses_total Public shop reads that found no current answer in memory.\n"
                "# TYPE catalogue_cache_misses_total counter\n"
                "catalogue_cache_misses_total %lld\n"
                "# HELP catalogue_cache_evictions_total Answers dropped to stay within CATALOGUE_CACHE_SIZE.\n"
                "# TYPE catalogue_cache_evictions_total counter\n"
                "catalogue_cache_evictions_total %lld\n"
                "# HELP catalogue_cache_bytes Bytes of answers kept, every worker's together.\n"
                "# TYPE catalogue_cache_bytes gauge\n"
                "catalogue_cache_bytes %lld\n",
                (long long)metrics_gauge_total(GAUGE_CONNECTIONS_OPEN),
                (long long)metrics_gauge_total(GAUGE_ANSWER_BYTES_UNSENT),
                (long long)metrics_gauge_total(COUNTER_DEADLINES_DEFERRED), (long long)metrics_gauge_total(GAUGE_DB_IDLE),
                (long long)metrics_gauge_total(GAUGE_DB_BUSY), (long long)metrics_gauge_total(GAUGE_DB_QUEUED),
                (long long)metrics_gauge_total(COUNTER_DB_RECONNECTS), (long long)metrics_gauge_total(GAUGE_MAIL_PENDING),
                (long long)metrics_gauge_total(GAUGE_MAIL_SENT), (long long)metrics_gauge_total(GAUGE_MAIL_FAILED),
                (long long)metrics_gauge_total(GAUGE_MAIL_DEAD), (long long)metrics_gauge_total(GAUGE_TELEGRAM_PENDING),
                (long long)metrics_gauge_total(GAUGE_TELEGRAM_SENT), (long long)metrics_gauge_total(GAUGE_TELEGRAM_FAILED),
                (long long)metrics_gauge_total(GAUGE_TELEGRAM_DEAD), (long long)metrics_gauge_total(GAUGE_SSE_OPEN),
                (long long)metrics_gauge_total(COUNTER_SSE_SENT), (long long)metrics_gauge_total(COUNTER_SSE_DROPPED),
                (long long)metrics_gauge_total(COUNTER_CACHE_HITS), (long long)metrics_gauge_total(COUNTER_CACHE_MISSES),
                (long long)metrics_gauge_total(COUNTER_CACHE_EVICTIONS), (long long)metrics_gauge_total(GAUGE_CACHE_BYTES));
}
