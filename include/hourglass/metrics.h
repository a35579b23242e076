#ifndef HOURGLASS_METRICS_H
#define HOURGLASS_METRICS_H
#include <stddef.h>
#include <stdint.h>

#include "hourglass/arena.h"

/* Requests are counted by route id and method index (below METRICS_METHODS);
 * the names come from whoever renders. */
#define METRICS_METHODS 8

/* Each worker writes only its own counters (relaxed atomics, no sharing of
 * cache lines on the hot path); /metrics adds the workers up. */
typedef struct metrics_worker metrics_worker_t;

typedef enum {
    GAUGE_CONNECTIONS_OPEN,
    GAUGE_ANSWER_BYTES_UNSENT, /* answers made and not yet written, over every connection */
    COUNTER_DEADLINES_DEFERRED, /* connection deadlines left to a later loop turn */
    GAUGE_DB_IDLE,
    GAUGE_DB_BUSY,
    GAUGE_DB_QUEUED,
    COUNTER_DB_RECONNECTS,
    COUNTER_DB_SHARED_COMMITS, /* transactions of shared-commit writes that committed */
    COUNTER_DB_SHARED_WRITES,  /* the writes they committed */
    COUNTER_DB_SHARED_RERUNS,  /* writes run again alone after their group failed */
    GAUGE_MAIL_PENDING, /* process-wide counts, set by worker 0 */
    GAUGE_MAIL_SENT,
    GAUGE_MAIL_FAILED,
    GAUGE_MAIL_DEAD,
    GAUGE_TELEGRAM_PENDING, /* the same for the shop's Telegram outbox */
    GAUGE_TELEGRAM_SENT,
    GAUGE_TELEGRAM_FAILED,
    GAUGE_TELEGRAM_DEAD,
    GAUGE_SSE_OPEN,       /* event streams open */
    COUNTER_SSE_SENT,     /* events written to streams */
    COUNTER_SSE_DROPPED,  /* streams ended for leaving too much unsent */
    COUNTER_CACHE_HITS,   /* the catalogue's answers from memory (cache.h) */
    COUNTER_CACHE_MISSES,
    COUNTER_CACHE_EVICTIONS,
    GAUGE_CACHE_BYTES,
    GAUGE_COUNT
} metrics_gauge_t;

void metrics_init(int workers, int route_count);
void metrics_free(void);
metrics_worker_t *metrics_worker(int worker_id);
void metrics_request(metrics_worker_t *m, int route_id, int method, int status, uint64_t duration_ns);
void metrics_gauge_add(metrics_worker_t *m, metrics_gauge_t g, int64_t delta);
void metrics_gauge_set(metrics_worker_t *m, metrics_gauge_t g, int64_t value);
int64_t metrics_gauge_total(metrics_gauge_t g);
typedef struct {
    const char *(*route)(const void *ctx, int route_id); /* the declared pattern */
    const char *(*method)(int method);
    const void *ctx;
} metrics_labels_t;
/* Appends the Prometheus text of every counter and gauge to b. */
void metrics_render(abuf_t *b, const metrics_labels_t *labels);

#endif
