#ifndef HOURGLASS_SERVER_H
#define HOURGLASS_SERVER_H
#include <stdint.h>
#include <time.h>
#include <uv.h>

#include "hourglass/config.h"
#include "hourglass/db.h"
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
    db_pool_t *db;
    struct mail_outbox *mail;
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

/* The process: `serve` after configuration and migrations. Returns the exit code. */
int http_server_run(const config_t *cfg, const router_t *router);
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
