#include "hourglass/metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hourglass/mem.h"

/* Statuses we count one by one; anything else is counted under its class. */
static const int counted_statuses[] = {
    100, 200, 201, 202, 204, 304, 400, 401, 403, 404, 405, 408, 409, 410,
    411, 413, 414, 415, 422, 429, 431, 500, 501, 502, 503, 504,
};
#define STATUS_COUNTED (sizeof(counted_statuses) / sizeof(counted_statuses[0]))
#define STATUS_CLASSES 5 /* 1xx to 5xx, after the counted ones */
#define STATUS_SLOTS (STATUS_COUNTED + STATUS_CLASSES)
#define STATUS_LIMIT 600
#define COUNTER_SUFFIX "_total"
#define STATUS_LABEL_SIZE 16 /* "404" or "5xx", and room for any int */
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
static unsigned char status_slot[STATUS_LIMIT];

void metrics_init(int nworkers, int route_count)
{
    worker_count = nworkers;
    routes_count = route_count + 1;
    workers = mem_calloc((size_t)nworkers, sizeof(metrics_worker_t));
    for (int i = 0; i < nworkers; i++)
        workers[i].routes = mem_calloc((size_t)routes_count, sizeof(route_metrics_t));
    for (int s = 0; s < STATUS_LIMIT; s++)
        status_slot[s] = (unsigned char)(STATUS_COUNTED + (s / 100 >= 1 ? s / 100 - 1 : 0));
    for (size_t i = 0; i < STATUS_COUNTED; i++)
        status_slot[counted_statuses[i]] = (unsigned char)i;
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
    int slot = status >= 100 && status < STATUS_LIMIT ? status_slot[status] : (int)STATUS_SLOTS - 1;
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

/* The process-wide gauges and counters: one family each, whose values are
 * consecutive metrics_gauge_t, one per state when it has states. */
typedef struct {
    const char *name, *help; /* a counter's name ends in _total, as Prometheus names them */
    metrics_gauge_t first;
    const char *const *states; /* NULL-terminated; NULL: one value, no label */
} family_t;

static const char *const pool_states[] = {"idle", "busy", NULL};
static const char *const outbox_states[] = {"pending", "sent", "failed", "dead", NULL};

static const family_t families[] = {
    {.name = "http_connections_open", .help = "Client connections open now.", .first = GAUGE_CONNECTIONS_OPEN},
    {.name = "http_answer_bytes_unsent",
     .help = "Bytes of answers made and not yet written, HTTP_MAX_QUEUED_BYTES\n"
             "# plus one answer at most per connection.",
     .first = GAUGE_ANSWER_BYTES_UNSENT},
    {.name = "http_deadlines_deferred_total",
     .help = "Connection deadlines (408, closes) left to a later loop turn, so\n"
             "# that thousands due at once do not hold one turn.",
     .first = COUNTER_DEADLINES_DEFERRED},
    {.name = "db_pool_connections", .help = "Database connections by state.", .first = GAUGE_DB_IDLE,
     .states = pool_states},
    {.name = "db_pool_queue_length", .help = "Queries waiting for a database connection.", .first = GAUGE_DB_QUEUED},
    {.name = "db_reconnects_total", .help = "Database connections re-established after a loss.",
     .first = COUNTER_DB_RECONNECTS},
    {.name = "db_shared_commits_total",
     .help = "Transactions that committed writes sent together (creates: what waits for a\n"
             "# connection goes as one transaction).",
     .first = COUNTER_DB_SHARED_COMMITS},
    {.name = "db_shared_commit_writes_total", .help = "Writes committed by those transactions.",
     .first = COUNTER_DB_SHARED_WRITES},
    {.name = "db_shared_commit_reruns_total",
     .help = "Writes run again in a transaction of their own because another write of\n"
             "# their transaction failed.",
     .first = COUNTER_DB_SHARED_RERUNS},
    {.name = "mail_outbox_messages",
     .help = "Mail in the outbox by state (pending, sent, failed and waiting to retry, dead: given up).",
     .first = GAUGE_MAIL_PENDING, .states = outbox_states},
    {.name = "telegram_outbox_messages", .help = "The shop's Telegram messages by state (as mail_outbox_messages).",
     .first = GAUGE_TELEGRAM_PENDING, .states = outbox_states},
    {.name = "sse_streams_open", .help = "Event streams (GET /api/v1/events) open now.", .first = GAUGE_SSE_OPEN},
    {.name = "sse_events_sent_total", .help = "Events written to event streams.", .first = COUNTER_SSE_SENT},
    {.name = "sse_streams_dropped_total", .help = "Event streams ended because their reader left too much unsent.",
     .first = COUNTER_SSE_DROPPED},
    {.name = "catalogue_cache_hits_total", .help = "Public shop reads answered from a worker's memory.",
     .first = COUNTER_CACHE_HITS},
    {.name = "catalogue_cache_misses_total", .help = "Public shop reads that found no current answer in memory.",
     .first = COUNTER_CACHE_MISSES},
    {.name = "catalogue_cache_evictions_total", .help = "Answers dropped to stay within CATALOGUE_CACHE_SIZE.",
     .first = COUNTER_CACHE_EVICTIONS},
    {.name = "catalogue_cache_bytes", .help = "Bytes of answers kept, every worker's together.",
     .first = GAUGE_CACHE_BYTES},
};

static const char *status_label(size_t slot, char buf[STATUS_LABEL_SIZE])
{
    if (slot < STATUS_COUNTED)
        snprintf(buf, STATUS_LABEL_SIZE, "%d", counted_statuses[slot]);
    else
        snprintf(buf, STATUS_LABEL_SIZE, "%dxx", (int)(slot - STATUS_COUNTED) + 1);
    return buf;
}

void metrics_render(abuf_t *b, const metrics_labels_t *labels)
{
    char sbuf[STATUS_LABEL_SIZE];
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
    for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
        const family_t *f = &families[i];
        size_t len = strlen(f->name);
        int counter = len > strlen(COUNTER_SUFFIX) && !strcmp(f->name + len - strlen(COUNTER_SUFFIX), COUNTER_SUFFIX);
        abuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name, counter ? "counter" : "gauge");
        if (!f->states)
            abuf_printf(b, "%s %lld\n", f->name, (long long)metrics_gauge_total(f->first));
        for (size_t k = 0; f->states && f->states[k]; k++)
            abuf_printf(b, "%s{state=\"%s\"} %lld\n", f->name, f->states[k],
                        (long long)metrics_gauge_total((metrics_gauge_t)(f->first + k)));
    }
}
