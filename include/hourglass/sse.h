#ifndef HOURGLASS_SSE_H
#define HOURGLASS_SSE_H
#include <stdint.h>
#include <uv.h>

#include "hourglass/config.h"
#include "hourglass/db.h"
#include "hourglass/http.h"
#include "hourglass/metrics.h"

/* Live event streams of one worker (sse.c): which users have a stream open
 * here, what reaches them, heartbeats, and the end of streams whose session
 * is revoked, whose token expires, or whose reader is too slow.
 *
 * Every event is a row of the events table, written in the transaction of
 * its change (0015_events.sql). A stream starts after an event id (its
 * Last-Event-ID, or the newest settled id before it opens), replays the rows
 * after it, then takes live events, which the worker's hub reads from the
 * same table for all its streams at once: after a write here
 * (sse_events_written), a NOTIFY on SSE_EVENTS_CHANNEL from another
 * instance, the LISTEN coming back, and every second. Ids are read only up
 * to the settled one, so a stream never passes an id that a transaction
 * still running could commit: it resumes with "every id above the last one
 * sent" and drops anything at or below it. */
typedef struct sse_hub sse_hub_t;
typedef struct sse_stream sse_stream_t;

#define SSE_EVENTS_CHANNEL "hourglass_events"

/* What a stream carries (GET /events?types=). */
#define SSE_MESSAGE 1u /* event: message */
#define SSE_CHANGE 2u  /* event: change */
#define SSE_SHOP 4u    /* order_created, order_status_changed, contact_form_created: staff only */
#define SSE_ALL (SSE_MESSAGE | SSE_CHANGE | SSE_SHOP)
/* A comma-separated list of message, change and shop into bits: 0, or -1
 * when a name is unknown or the list is empty. */
int sse_types_parse(const char *list, unsigned *types);

void sse_register_statements(void);
/* prune: this hub also deletes the events past EVENTS_RETENTION (one worker
 * per instance is enough; instances take turns in the database). */
sse_hub_t *sse_hub_new(uv_loop_t *loop, db_pool_t *db, const config_t *cfg, metrics_worker_t *metrics, int prune);
/* Stops its timers; done runs when its handles are closed. Every stream is
 * gone by then (the transport ends them when it drains). */
void sse_hub_close(sse_hub_t *hub, void (*done)(void *), void *data);
/* After the pool is closed (its queries have all answered). */
void sse_hub_free(sse_hub_t *hub);

/* A write on this worker committed events for user_id (SSE_ANYONE: the
 * shop's, or users not known here): the hubs of the process with a stream of
 * that user read them now, and other instances are told by NOTIFY (one in
 * flight per hub, naming the users written for since the last). */
#define SSE_ANYONE 0
void sse_events_written(sse_hub_t *hub, int64_t user_id);

/* Subscribers of the worker's NOTIFY hub (events.h). */
void sse_on_events_notify(void *hub, const char *payload);
void sse_on_revoked_notify(void *hub, const char *payload);
/* LISTEN is (again) in place: the hub reads what it may have missed. */
void sse_on_listening(void *hub);

/* A place among the user's streams of this process: 0, or -1 when the user
 * has max open already. Given back when the stream ends. */
int sse_reserve(int64_t user_id, int max);
void sse_release(int64_t user_id);

/* A stream for a reserved user that starts after event after_id (its
 * Last-Event-ID, or the newest settled id, events_settled_id()); types
 * are SSE_* bits, staff says whether the user may see the shop's events.
 * sse_attach it first, then start the request's stream with sse_stream_gone
 * and the stream as data (the transport may call it before
 * http_stream_start returns, when the client has left already); if that
 * fails, call sse_stream_gone. */
sse_stream_t *sse_stream_new(sse_hub_t *hub, int64_t user_id, int64_t session_id, int64_t expires_at,
                             int64_t after_id, unsigned types, int staff);
void sse_stream_gone(void *stream);
void sse_attach(sse_stream_t *st, http_request_t *req);
/* Streams open on this worker now. */
int sse_hub_stream_count(const sse_hub_t *hub);

#endif
