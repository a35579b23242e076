#ifndef HOURGLASS_SERVER_H
#define HOURGLASS_SERVER_H
#include <stdint.h>
#include <time.h>
#include <uv.h>

#include "hourglass/config.h"
#include "hourglass/http.h"
#include "hourglass/metrics.h"
#include "hourglass/router.h"

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
    http_limits_t limits;
    http_conn_t *conns;       /* every open connection (intrusive list) */
    int conn_count;
    int draining;
    int stopped;
    uint64_t request_counter;
    char date[40];            /* "Date: ...\r\n", refreshed once a second */
    time_t date_sec;
    char *read_buf;           /* one buffer shared by every read on this loop */
    size_t read_buf_size;
    http_request_t *free_requests;
    int free_request_count;
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
uint64_t server_uptime_s(void);

/* Internal to the http_* files. */
void http_request_finish_response(http_request_t *req);
void http_request_release(http_request_t *req);
const char *worker_date_header(worker_t *w);
uint64_t http_now_ns(void);
#define HTTP_PEER_NAME_MAX 64
/* The peer's address as text; 0, or -1 when it cannot be had. */
int http_conn_peer_name(http_conn_t *c, char *out, size_t cap);

#endif
