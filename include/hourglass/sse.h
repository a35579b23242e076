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
 * A message commits with NOTIFY on SSE_MESSAGE_CHANNEL (a line "<id> <from> <to>" each,
 * 0010_messages.sql); every worker of every instance listens, fetches the
 * JSON of the messages its own streams want, in id order, and writes
 * "id: N / event: message / data: JSON" to each stream of either user.
 * Per user, ids commit in id order, so a stream resumes with "every id above
 * the last one sent" and drops live events at or below it. */
typedef struct sse_hub sse_hub_t;
typedef struct sse_stream sse_stream_t;

#define SSE_MESSAGE_CHANNEL "hourglass_message"

void sse_register_statements(void);
sse_hub_t *sse_hub_new(uv_loop_t *loop, db_pool_t *db, const config_t *cfg, metrics_worker_t *metrics);
/* Stops the heartbeat; done runs when the hub's handle is closed. Every
 * stream is gone by then (the transport ends them when it drains). */
void sse_hub_close(sse_hub_t *hub, void (*done)(void *), void *data);
/* After the pool is closed (its queries have all answered). */
void sse_hub_free(sse_hub_t *hub);

/* Subscribers of the worker's NOTIFY hub (events.h). */
void sse_on_message_notify(void *hub, const char *payload);
void sse_on_revoked_notify(void *hub, const char *payload);
/* LISTEN is (again) in place: streams catch up on what they may have missed. */
void sse_on_listening(void *hub);

/* A place among the user's streams of this process: 0, or -1 when the user
 * has max open already. Given back when the stream ends. */
int sse_reserve(int64_t user_id, int max);
void sse_release(int64_t user_id);

/* A stream for a reserved user that starts after message after_id
 * (Last-Event-ID, or the user's newest message when the stream opened):
 * what committed after it is replayed before live events. sse_attach it
 * first, then start the request's stream with sse_stream_gone and the stream
 * as data (the transport may call it before http_stream_start returns, when
 * the client has left already); if that fails, call sse_stream_gone. */
sse_stream_t *sse_stream_new(sse_hub_t *hub, int64_t user_id, int64_t session_id, int64_t expires_at,
                             int64_t after_id);
void sse_stream_gone(void *stream);
void sse_attach(sse_stream_t *st, http_request_t *req);
/* Streams open on this worker now. */
int sse_hub_stream_count(const sse_hub_t *hub);

#endif
