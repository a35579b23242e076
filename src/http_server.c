/* Workers and the process: one event loop per worker thread, each with its
 * own listener (SO_REUSEPORT), the signals that drain them, and start-up.
 * What happens on a connection is http_conn.c's. */
#include "hourglass/server.h"

#include <errno.h>
#include <malloc.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hourglass/log.h"
#include "hourglass/mem.h"

#define NS_PER_S 1000000000ull
#define LISTEN_BACKLOG 4096
#define HOUSEKEEPING_MS 5000
#define LARGE_BLOCK_MMAP (128 * 1024) /* glibc's default threshold, kept fixed */

static uint64_t process_start_ns;

uint64_t http_server_uptime_s(void) { return (uv_hrtime() - process_start_ns) / NS_PER_S; }

static void on_app_stopped(worker_t *w)
{
    http_dispatch_close(w);
    uv_close((uv_handle_t *)&w->wakeup, NULL);
    uv_close((uv_handle_t *)&w->after_io, NULL);
    uv_close((uv_handle_t *)&w->drain_timer, NULL);
    uv_close((uv_handle_t *)&w->housekeeping, NULL);
}

/* The last connection is gone: what the application runs on this loop stops. */
static void worker_maybe_finish(worker_t *w)
{
    if (!w->draining || w->conn_count > 0 || w->stopped)
        return;
    w->stopped = 1;
    uv_timer_stop(&w->drain_timer);
    w->app->worker_stop(w, on_app_stopped);
}

static void on_connection(uv_stream_t *server, int status)
{
    worker_t *w = server->loop->data;
    if (status == 0 && !w->draining)
        http_conn_accept(w, server);
}

static void on_drain_timeout(uv_timer_t *t)
{
    worker_t *w = t->loop->data;
    log_warn("worker %d: %d connection(s) still busy after the shutdown timeout; closing them", w->id,
             w->conn_count);
    http_conns_close(w);
}

static void worker_drain(worker_t *w)
{
    if (w->draining)
        return;
    w->draining = 1;
    w->drain_deadline_ms = uv_now(&w->loop) + w->cfg->shutdown_timeout_ms;
    uv_close((uv_handle_t *)&w->listener, NULL);
    http_conns_drain(w);
    uv_timer_start(&w->drain_timer, on_drain_timeout, w->cfg->shutdown_timeout_ms, 0);
    worker_maybe_finish(w);
}

static void on_wakeup(uv_async_t *a) { worker_drain(a->loop->data); }

_Static_assert(METHOD_COUNT <= METRICS_METHODS, "metrics count every method");

static void on_housekeeping(uv_timer_t *t)
{
    worker_t *w = t->loop->data;
    w->app->housekeeping();
}

static void on_after_io(uv_check_t *h)
{
    (void)h;
    log_flush();
}

static void worker_thread(void *arg)
{
    worker_t *w = arg;
    log_thread_buffered(1);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    log_thread_buffered(0);
}

static int worker_listen(worker_t *w, const struct sockaddr *addr)
{
    int rc = uv_tcp_init_ex(&w->loop, &w->listener, addr->sa_family);
    if (rc)
        return rc;
    uv_os_fd_t fd;
    uv_fileno((uv_handle_t *)&w->listener, &fd);
    int one = 1;
    /* Each worker has its own listening socket; the kernel spreads connections. */
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)))
        return uv_translate_sys_error(errno);
    if ((rc = uv_tcp_bind(&w->listener, addr, 0)))
        return rc;
    return uv_listen((uv_stream_t *)&w->listener, LISTEN_BACKLOG, on_connection);
}

static int worker_init(worker_t *w, int id, const config_t *cfg, const router_t *router, const http_app_t *app,
                       const struct sockaddr *addr)
{
    memset(w, 0, sizeof(*w));
    w->id = id;
    w->cfg = cfg;
    w->router = router;
    w->app = app;
    w->conns_gone = worker_maybe_finish;
    w->metrics = metrics_worker(id);
    uv_loop_init(&w->loop);
    w->loop.data = w; /* what every handle of this loop reaches its worker by */
    /* how busy the loop is: password hashing holds back while loops work */
    uv_loop_configure(&w->loop, UV_METRICS_IDLE_TIME);
    int rc = worker_listen(w, addr);
    if (rc) {
        log_error("cannot listen on %s:%d: %s", cfg->host, cfg->port, uv_strerror(rc));
        return -1;
    }
    uv_async_init(&w->loop, &w->wakeup, on_wakeup);
    uv_check_init(&w->loop, &w->after_io);
    uv_check_start(&w->after_io, on_after_io);
    uv_unref((uv_handle_t *)&w->after_io);
    http_dispatch_init(w);
    uv_timer_init(&w->loop, &w->drain_timer);
    uv_timer_init(&w->loop, &w->housekeeping);
    if (id == 0) {
        uv_timer_start(&w->housekeeping, on_housekeeping, HOUSEKEEPING_MS, HOUSEKEEPING_MS);
        uv_unref((uv_handle_t *)&w->housekeeping);
    }
    w->app_state = app->worker_start(w);
    return w->app_state ? 0 : -1;
}

static void worker_cleanup(worker_t *w)
{
    /* Everything is closed by now; run once more so close callbacks finish. */
    uv_run(&w->loop, UV_RUN_NOWAIT);
    if (uv_loop_close(&w->loop) == UV_EBUSY)
        log_warn("worker %d: handles still open at exit", w->id);
    w->app->worker_free(w);
    while (w->free_requests) {
        http_request_t *next = w->free_requests->next;
        free(w->free_requests);
        w->free_requests = next;
    }
}

typedef struct {
    worker_t *workers;
    int count;
    uv_signal_t sigterm, sigint;
} server_t;

static void on_signal(uv_signal_t *s, int signum)
{
    server_t *srv = s->data;
    log_info("received %s: draining (up to %llu ms)", signum == SIGTERM ? "SIGTERM" : "SIGINT",
             (unsigned long long)srv->workers[0].cfg->shutdown_timeout_ms);
    for (int i = 0; i < srv->count; i++)
        uv_async_send(&srv->workers[i].wakeup);
    /* Back to the default action: a second Ctrl-C ends the process at once. */
    uv_signal_stop(&srv->sigterm);
    uv_signal_stop(&srv->sigint);
}

static int resolve_listen_address(const config_t *cfg, struct sockaddr_storage *out)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
    struct addrinfo *res = NULL;
    char port[16];
    snprintf(port, sizeof(port), "%d", cfg->port);
    /* Start-up only: the loops are not running yet. */
    int rc = getaddrinfo(cfg->host, port, &hints, &res);
    if (rc || !res) {
        log_error("HOST %s: cannot resolve: %s", cfg->host, gai_strerror(rc));
        return -1;
    }
    memcpy(out, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    return 0;
}

static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int http_server_run(const config_t *cfg, const router_t *router, const http_app_t *app)
{
    process_start_ns = uv_hrtime();
    /* Large blocks (an answer, a database result) go back to the system when
     * freed. glibc raises its threshold to the size of the first one freed and
     * takes the next ones from its heap, which keeps what a burst took: 124 of
     * 185 MiB after 100 non-readers of 1.8 MB answers had gone, 9 MiB so. */
    mallopt(M_MMAP_THRESHOLD, LARGE_BLOCK_MMAP);
    uint32_t seed = (uint32_t)(process_start_ns ^ ((uint64_t)getpid() << 16));
    http_dispatch_seed(seed);
    raise_fd_limit();

    struct sockaddr_storage addr;
    if (resolve_listen_address(cfg, &addr))
        return 1;

    server_t srv = {.count = cfg->workers};
    srv.workers = mem_calloc((size_t)cfg->workers, sizeof(worker_t));
    for (int i = 0; i < cfg->workers; i++) {
        if (worker_init(&srv.workers[i], i, cfg, router, app, (struct sockaddr *)&addr)) {
            free(srv.workers);
            return 1;
        }
    }

    uv_loop_t *main_loop = uv_default_loop();
    uv_signal_init(main_loop, &srv.sigterm);
    uv_signal_init(main_loop, &srv.sigint);
    srv.sigterm.data = srv.sigint.data = &srv;
    uv_signal_start(&srv.sigterm, on_signal, SIGTERM);
    uv_signal_start(&srv.sigint, on_signal, SIGINT);

    for (int i = 0; i < cfg->workers; i++)
        uv_thread_create(&srv.workers[i].thread, worker_thread, &srv.workers[i]);
    log_info("listening on %s:%d with %d worker(s), %d database connection(s) each", cfg->host, cfg->port,
             cfg->workers, cfg->db_pool_size);

    uv_run(main_loop, UV_RUN_DEFAULT);
    for (int i = 0; i < cfg->workers; i++) {
        uv_thread_join(&srv.workers[i].thread);
        worker_cleanup(&srv.workers[i]);
    }
    uv_close((uv_handle_t *)&srv.sigterm, NULL);
    uv_close((uv_handle_t *)&srv.sigint, NULL);
    uv_run(main_loop, UV_RUN_NOWAIT);
    uv_loop_close(main_loop);
    free(srv.workers);
    log_info("stopped");
    return 0;
}
