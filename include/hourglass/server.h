#ifndef HOURGLASS_SERVER_H
#define HOURGLASS_SERVER_H
#include <stdint.h>
#include <time.h>
#include <uv.h>

#include "hourglass/config.h"
#include "hourglass/http.h"
#include "hourglass/metrics.h"
#include "hourglass/router.h"

#define HTTP_READ_BUFFER_SIZE (64 * 1024)

/* One event loop in its own thread: its listener, connections, database pool
 * and counters. Workers share only the read-only configuration and routes. */
struct worker {
    int id;
    uv_loop_t loop;
    uv_thread_t thread;
    uv_tcp_t listener;
    uv_async_t wakeup;        /* asks the loop to start draining */
    uv_check_t after_io;      /* flushes buffered log lines */
    uv_timer_t drain_timer;
    uv_timer_t housekeeping;  /* worker 0: process-wide chores every few seconds */
    const config_t *cfg;
    const router_t *router;
    const struct http_app *app;
    void *app_state;          /* what app->worker_start made for this worker */
    metrics_worker_t *metrics;
    http_conn_t *conns;       /* every open connection (intrusive list) */
    int conn_count;
    int draining;
    int stopped;
    uint64_t drain_deadline_ms; /* loop time by which the whole stop must end (SHUTDOWN_TIMEOUT) */
    uint64_t request_counter;
    char date[40];            /* "Date: ...\r\n", refreshed once a second */
    time_t date_sec;
    char read_buf[HTTP_READ_BUFFER_SIZE]; /* one buffer shared by every read on this loop */
    http_request_t *free_requests;
    int free_request_count;
    void (*conns_gone)(worker_t *w); /* draining, and the last connection has closed */
    uv_idle_t deferred;       /* runs the requests handed on (reprocess) on the next turn */
    http_request_t *deferred_head, *deferred_tail;
    uint64_t expiry_turn_ms;  /* loop time of the turn counted by expiries_this_turn */
    int expiries_this_turn;   /* connection deadlines handled in that turn (http_conn.c) */
};

/* What the layers above add to the transport (app.c): each worker's own
 * state (its database pool, mailer, listeners) and who is asking. */
typedef struct http_app {
    /* On the main thread, before the worker's loop runs: the worker's state, or NULL on failure. */
    void *(*worker_start)(worker_t *w);
    /* The worker's last connection is gone: close what worker_start made, then call done(w). */
    void (*worker_stop)(worker_t *w, void (*done)(worker_t *w));
    /* After the worker's loop has ended. */
    void (*worker_free)(worker_t *w);
    /* For routes flagged ROUTE_AUTH, _STAFF or _ADMIN: fills req->auth and
     * returns 0, or answers (401, 403) and returns -1. */
    int (*authenticate)(http_request_t *req, unsigned flags);
    /* Worker 0, every few seconds. */
    void (*housekeeping)(void);
} http_app_t;

/* The process: `serve` after configuration and migrations. Returns the exit code. */
int http_server_run(const config_t *cfg, const router_t *router, const http_app_t *app);
/* Process start time and uptime, for /health/ready. */
uint64_t http_server_uptime_s(void);

/* Internal to the http_* files. */

/* How a request reaches its connection, set by the server on each request it
 * reads (as H2O's generators): the layers below the server call up through it. */
struct http_conn_ops {
    /* The answer's bytes are in req->out (state REQ_RESPONDED). */
    void (*responded)(http_request_t *req);
    /* Nothing refers to the request any more (no connection, no hold): free it. */
    void (*release)(http_request_t *req);
    /* Its stream has bytes to send, has ended or was aborted (http_stream.c). */
    void (*stream_wake)(http_request_t *req);
};

/* http_conn.c: connections. */
/* A connection the listener has for us (503 and closed when there are too many). */
void http_conn_accept(worker_t *w, uv_stream_t *listener);
/* Each connection answers what it was asked, then closes; streams are let go. */
void http_conns_drain(worker_t *w);
void http_conns_close(worker_t *w);

/* Frees the request through its ops once it has no connection and no hold. */
void http_request_release(http_request_t *req);

/* http_dispatch.c: a request meets its route. */
/* The process's request-id prefix, once before the workers start. */
void http_dispatch_seed(uint32_t seed);
/* A new request id, "prefix-worker-counter", into out (HTTP_REQUEST_ID_MAX + 1). */
void http_request_id_make(worker_t *w, char *out);
/* Request id and language: what every answer needs, even a refusal. */
void http_dispatch_prepare(http_request_t *req);
/* Routes the request once (again after a reprocess); the match stays in the request. */
router_result_t http_dispatch_route(http_request_t *req, router_match_t **out);
/* A complete request (REQ_RUNNING, prepared): its route's filter, authentication and handler. */
void http_dispatch(http_request_t *req);
void http_dispatch_init(worker_t *w);
/* Runs what is left of the handed-on requests (their clients are gone) and closes the handle. */
void http_dispatch_close(worker_t *w);

/* http_stream.c: the connection's side of a stream. */
typedef enum {
    STREAM_OPEN,   /* the owner writes; if the connection goes first, it is told (gone) */
    STREAM_ENDING, /* nothing more comes: the queued bytes go out, then the request ends */
    STREAM_BROKEN, /* a write failed while the owner wrote, or it aborted: the connection closes on its timer */
    STREAM_CLOSED, /* the connection is closing; the owner has been told */
} http_stream_state_t;

http_stream_state_t http_stream_state(const http_request_t *req);
/* The bytes to write next: what was queued goes in flight (none may be in flight already). */
size_t http_stream_next(http_request_t *req, char **data);
/* The bytes in flight are on the wire. */
void http_stream_sent(http_request_t *req);
/* A write failed while the owner was writing: it is not called back from inside its own call. */
void http_stream_break(http_request_t *req);
/* The server drains: the owner lets go (told), what is queued is sent, then the request ends. */
void http_stream_drain(http_request_t *req);
/* The connection closes: the owner is told, if it has not let go already. */
void http_stream_close(http_request_t *req);
void http_stream_free(http_stream_t *s);

/* http_response.c: "Date: ...\r\n", made once a second per worker. */
const char *http_date_header(worker_t *w);

#endif
