#ifndef HOURGLASS_OUTBOX_H
#define HOURGLASS_OUTBOX_H
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "hourglass/db.h"
#include "hourglass/events.h"
#include "hourglass/metrics.h"
#include "hourglass/outbound.h"

/* A durable outbox, one per worker loop and kind (outbox.c): a row is written
 * in the transaction of what caused it; the outbox claims due rows for a
 * lease, hands each to its kind's send callback, and records the outcome:
 * sent, or failed and due again after a backoff, or given up (dead_at). It
 * is woken by NOTIFY and polls besides. Mail (mail_outbox.c) and the shop's
 * Telegram messages (outbound_telegram.c) are its two kinds. */
typedef struct outbox outbox_t;
typedef struct outbox_job outbox_job_t;

/* The statements of a kind, and their parameters in this order (the
 * worker's name comes last when claims_owned):
 *   CLAIM   $1 lease (ms), $2 most rows [, $3 worker] -> id, then the sender's columns
 *   SENT    $1 id [, $2 worker]
 *   FAILED  $1 id, $2 error, $3 retry after (ms; NULL: the backoff), $4 backoff ceiling (ms),
 *           $5 give up at this age (ms), $6 dead now [, $7 worker] -> dead, attempts
 *   RELEASE $1 ids (bigint[]) [, $2 worker]: claimed, not sent, not counted as a try
 *   COUNTS  -> pending, sent, failed (waiting to retry), dead */
enum { OUTBOX_CLAIM, OUTBOX_SENT, OUTBOX_FAILED, OUTBOX_RELEASE, OUTBOX_COUNTS, OUTBOX_STATEMENTS };
#define OUTBOX_STATES 4 /* the columns of COUNTS, each a gauge */

/* Starts sending row `row` of the claim (column 0 is its id) and calls
 * outbox_done for job exactly once, now or later on the loop. sender is
 * outbox_start's. */
typedef void (*outbox_send_fn)(void *sender, outbound_t *out, outbox_job_t *job, PGresult *claim, int row);

typedef struct {
    const char *name;    /* "mail", "telegram": in log lines */
    const char *channel; /* NOTIFYed when a row is written */
    struct {
        const char *name, *sql;
    } statements[OUTBOX_STATEMENTS];
    bool claims_owned;   /* only the claimer may record a row: its name is a parameter */
    metrics_gauge_t gauges[OUTBOX_STATES];
    outbox_send_fn send;
    int stmt[OUTBOX_STATEMENTS]; /* set by outbox_register */
} outbox_kind_t;

typedef struct {
    uint64_t poll_interval_ms;
    uint64_t send_timeout_ms;  /* of one send: a claim outlives it */
    uint64_t retry_max_ms;     /* backoff ceiling */
    uint64_t give_up_after_ms; /* a row still failing at this age dies */
} outbox_timing_t;

/* How a send ended. */
typedef struct {
    const char *error;      /* NULL: sent; else why not, kept in last_error (never a secret) */
    int64_t retry_after_ms; /* > 0: the service asked for this wait instead of the backoff */
    bool permanent;         /* it can never be sent: given up at once */
} outbox_result_t;

/* Once, before the workers start. */
void outbox_register(outbox_kind_t *kind);
/* sender: the kind's state, one allocation the outbox frees with itself. */
outbox_t *outbox_start(outbox_kind_t *kind, void *sender, const outbox_timing_t *timing, uv_loop_t *loop,
                       db_pool_t *db, outbound_t *out, int worker_id);
/* LISTEN for new rows through the worker's hub (before events_start); one
 * worker per process is enough. o may be NULL. */
void outbox_listen(outbox_t *o, events_t *events);
void outbox_done(outbox_job_t *job, const outbox_result_t *result);
/* The claimed row's id, for the sender's log lines. */
const char *outbox_job_id(const outbox_job_t *job);
/* Stops claiming; sends in flight end and are recorded, rows claimed now go
 * back, and done runs when that is written, or at deadline_ms (loop time:
 * the worker's one SHUTDOWN_TIMEOUT, which the HTTP drain has used part of). A
 * send still running then keeps its claim until the lease ends, and its
 * result is dropped. o may be NULL (done runs at once). */
void outbox_stop(outbox_t *o, uint64_t deadline_ms, void (*done)(void *), void *data);
/* After the outbound driver has closed. o may be NULL. */
void outbox_free(outbox_t *o);

#endif
