/* Connections and the life of a request on the wire.
 *
 * A connection reads into its worker's shared buffer and feeds llhttp, which
 * stops after each complete request. Requests join the connection's queue in
 * arrival order and run one at a time: each runs its handler (possibly waiting
 * on the database), and its answer is written only when every earlier answer
 * has been written. A connection that owes HTTP_MAX_QUEUED_BYTES of answers
 * starts nothing more and reads nothing more until they drain.
 * One timer per connection holds the nearest deadline: headers (408), request
 * (504), idle keep-alive, a write that does not move, or the end of a
 * lingering close. */
#include "hourglass/server.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "hourglass/http_parser.h"
#include "hourglass/log.h"
#include "hourglass/mem.h"
#include "hourglass/problem.h"

#define REQUEST_INLINE_ARENA 4096
#define FREE_REQUESTS_KEPT 256
#define LINGER_MS 2000 /* how long a closing connection may keep sending us bytes */
#define PEER_NAME_MAX 64 /* an IPv6 address as text, with room */
/* Connection deadlines handled in one loop turn; the rest wait a millisecond. 5 000 header
 * timeouts due together were 5 000 408 writes and shutdowns in one turn (~20 us of kernel
 * time each on loopback), every other client waiting behind them (bench/RESULTS.md). */
#define EXPIRIES_PER_TURN 32
#define EXPIRY_DEFER_MS 1

typedef enum { CONN_OPEN, CONN_LINGER, CONN_CLOSING } conn_state_t;

struct http_conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    worker_t *worker;
    http_conn_t *prev, *next;
    http_parser_t parser;
    http_request_t *head, *tail; /* queue, arrival order */
    int ready_count;             /* complete requests in the queue */
    char *held;                  /* bytes not parsed while the queue was full */
    size_t held_len;
    uint64_t idle_since_ms;      /* loop time of the last answer (or accept) */
    uint64_t linger_until_ms;
    uint64_t timer_deadline_ms;  /* what the timer is set to; UINT64_MAX when stopped */
    uint64_t write_progress_ms;  /* loop time the answer being written last moved */
    size_t write_queue_seen;     /* libuv's write queue then */
    size_t unsent;               /* bytes of the answers made and not yet written */
    uv_shutdown_t *shutdown_req;
    conn_state_t state;
    unsigned reading : 1;
    unsigned writing : 1;
    unsigned stop_parsing : 1;   /* a request asked to close, or the parser failed */
    unsigned served_any : 1;
    unsigned peer_closed : 1;
    unsigned starting : 1;       /* conn_start_next is running further up the stack */
    unsigned open_handles : 2;
};

typedef struct {
    http_request_t req;
    char arena_mem[REQUEST_INLINE_ARENA];
} request_block_t;

static void conn_close(http_conn_t *c);
static void conn_flush(http_conn_t *c);
static void conn_arm_timer(http_conn_t *c);
static void conn_feed(http_conn_t *c, const char *data, size_t len);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
static void stream_send(http_conn_t *c, http_request_t *req, int by_owner);
static void conn_head_written(http_conn_t *c);

/* Back to the worker's free list once nothing refers to the request. */
static void request_free(http_request_t *req)
{
    assert(!req->conn && !req->pending && !req->deferred);
    worker_t *w = req->worker;
    if (req->stream)
        http_stream_free(req->stream);
    arena_reset(&req->arena);
    if (w->free_request_count < FREE_REQUESTS_KEPT) {
        req->next = w->free_requests;
        w->free_requests = req;
        w->free_request_count++;
    } else {
        free(req);
    }
}

/* Takes req out of the connection's queue. */
static void conn_unlink(http_conn_t *c, http_request_t *req)
{
    http_request_t **pp = &c->head, *prev = NULL;
    for (; *pp != req; pp = &(*pp)->next)
        prev = *pp;
    *pp = req->next;
    if (c->tail == req)
        c->tail = prev;
}

static void request_detach(http_request_t *req)
{
    req->conn = NULL;
    http_request_release(req);
}

static void conn_pause_reading(http_conn_t *c)
{
    if (c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = 0;
    }
}

static size_t answer_len(const http_request_t *req) { return req->out.len + req->out_body_len; }

static void conn_unsent_add(http_conn_t *c, int64_t delta)
{
    c->unsent = (size_t)((int64_t)c->unsent + delta);
    metrics_gauge_add(c->worker->metrics, GAUGE_ANSWER_BYTES_UNSENT, delta);
}

static int conn_owes_too_much(const http_conn_t *c) { return c->unsent >= c->worker->cfg->http_max_queued_bytes; }

/* Starts the waiting requests in order, one at a time (as nginx and H2O do),
 * while the connection owes less than HTTP_MAX_QUEUED_BYTES. An answer is
 * unknown until it is made and one being made cannot be refused (the database
 * is answering), so a connection owes at most the limit plus one answer, whose
 * size its route bounds (a page of a list: at most 200 rows of bounded fields).
 * A request answered at once lets the next start in the same call. */
static void conn_start_next(http_conn_t *c)
{
    if (c->starting)
        return; /* an answer made inside http_dispatch: the loop below looks again */
    c->starting = 1;
    while (c->state == CONN_OPEN && !conn_owes_too_much(c)) {
        http_request_t *r = c->head;
        while (r && (r->state == REQ_RESPONDED || r->state == REQ_WRITING || r->state == REQ_STREAMING))
            r = r->next;
        if (!r || r->state != REQ_WAITING) /* one is running, or the next is not complete */
            break;
        r->state = REQ_RUNNING; /* its turn has come: its route takes it from here */
        r->deadline_ms = uv_now(&c->worker->loop) + c->worker->cfg->http_request_timeout_ms;
        http_dispatch_prepare(r);
        http_dispatch(r);
    }
    c->starting = 0;
}

/* A complete request waits for its turn. Nothing is read after one that does
 * not keep the connection alive, nor once the server drains. */
static void conn_request_complete(http_conn_t *c, http_request_t *req)
{
    req->state = REQ_WAITING;
    c->ready_count++;
    if (!req->keep_alive || c->worker->draining) {
        c->stop_parsing = 1;
        req->close_after = 1;
    }
    conn_start_next(c);
}

/* Called by http_respond* once the answer's bytes are ready. */
static void on_responded(http_request_t *req)
{
    http_conn_t *c = req->conn;
    if (!c) {
        http_request_release(req);
        return;
    }
    conn_unsent_add(c, (int64_t)answer_len(req));
    conn_flush(c);
    if (c->state != CONN_OPEN)
        return;
    if (conn_owes_too_much(c))
        conn_pause_reading(c); /* what the client sends waits in the kernel's buffers */
    conn_start_next(c);
}

static int conn_peer_name(http_conn_t *c, char *out, size_t cap)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len))
        return -1;
    return uv_ip_name((struct sockaddr *)&ss, out, cap) ? -1 : 0; /* neither IPv4 nor IPv6: UV_EAFNOSUPPORT */
}

const char *http_client_ip(http_request_t *req)
{
    char *out = arena_alloc(&req->arena, PEER_NAME_MAX);
    if (!req->conn || conn_peer_name(req->conn, out, PEER_NAME_MAX))
        strcpy(out, "unknown");
    return out;
}

static void request_log(http_request_t *req, uint64_t duration_ns)
{
    worker_t *w = req->worker;
    metrics_request(w->metrics, req->route_id, req->client_method, req->status, duration_ns);
    int level = req->log_debug ? LOG_DEBUG : LOG_INFO;
    if (!log_enabled(level))
        return;
    char remote[PEER_NAME_MAX] = "-";
    if (req->conn && conn_peer_name(req->conn, remote, sizeof(remote)))
        strcpy(remote, "-");
    log_request_t line = {
        .level = level,
        .method = req->method_name ? req->method_name : "?",
        .route = router_path_pattern_of(req->route),
        .status = req->status,
        .duration_ms = (double)duration_ns / 1e6,
        .request_id = req->request_id,
        .remote = remote,
        .worker = w->id,
    };
    log_request(&line);
}

static void on_shutdown(uv_shutdown_t *sr, int status)
{
    (void)status;
    http_conn_t *c = sr->data;
    free(sr);
    c->shutdown_req = NULL;
    if (c->state == CONN_LINGER && c->peer_closed)
        conn_close(c);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    worker_t *w = ((http_conn_t *)h->data)->worker;
    *buf = uv_buf_init(w->read_buf, sizeof(w->read_buf));
}

/* Half-close after the last answer, then read and drop what the client still
 * sends for a moment: closing at once with unread bytes would reset the
 * connection and could destroy the answer before the client reads it. */
static void conn_close_gracefully(http_conn_t *c)
{
    if (c->state != CONN_OPEN)
        return;
    if (c->peer_closed) {
        conn_close(c);
        return;
    }
    c->state = CONN_LINGER;
    c->linger_until_ms = uv_now(&c->worker->loop) + LINGER_MS;
    c->stop_parsing = 1;
    free(c->held);
    c->held = NULL;
    c->held_len = 0;
    /* Reading may have paused (a full pipeline, answers owed): drain what comes. */
    if (!c->reading && uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
        c->reading = 1;
    c->shutdown_req = mem_alloc(sizeof(uv_shutdown_t));
    c->shutdown_req->data = c;
    if (uv_shutdown(c->shutdown_req, (uv_stream_t *)&c->tcp, on_shutdown)) {
        free(c->shutdown_req);
        c->shutdown_req = NULL;
        conn_close(c);
        return;
    }
    conn_arm_timer(c);
}

static void conn_resume_reading(http_conn_t *c)
{
    if (c->state != CONN_OPEN || c->reading || c->peer_closed || c->held || c->stop_parsing ||
        conn_owes_too_much(c))
        return;
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
        c->reading = 1;
}

/* The head request has been written: log it, drop it, and move on. */
static void conn_request_written(http_conn_t *c)
{
    http_request_t *req = c->head;
    worker_t *w = c->worker;
    conn_unlink(c, req);
    c->ready_count--;
    c->served_any = 1;
    c->idle_since_ms = uv_now(&w->loop);
    request_log(req, uv_hrtime() - req->start_ns);
    int close_after = req->close_after;
    request_detach(req);

    if (close_after || (c->peer_closed && !c->head) || (w->draining && !c->head && !c->parser.req)) {
        conn_close_gracefully(c);
        return;
    }
    if (c->held && c->ready_count < w->cfg->http_max_pipeline) {
        char *held = c->held;
        size_t len = c->held_len;
        c->held = NULL;
        c->held_len = 0;
        conn_feed(c, held, len);
        free(held);
        if (c->state != CONN_OPEN)
            return;
    }
    conn_start_next(c);
    conn_resume_reading(c);
}

static void on_write(uv_write_t *wr, int status)
{
    http_request_t *req = wr->data;
    http_conn_t *c = req->conn;
    assert(c); /* a request being written stays attached until this callback */
    c->writing = 0;
    if (status < 0 || c->state == CONN_CLOSING) {
        /* conn_close leaves a request being written to us, libuv holding it until now.
         * On a failed write it still heads the queue that conn_close frees: take it off
         * first, or freeing it here and then the queue frees the worker's free list. */
        if (req->stream)
            http_stream_close(req);
        if (c->head == req)
            conn_unlink(c, req);
        conn_close(c);
        request_detach(req);
        return;
    }
    if (req->state == REQ_STREAMING) {
        http_stream_sent(req);
        stream_send(c, req, 0);
    } else {
        conn_head_written(c);
    }
    if (c->state == CONN_OPEN)
        conn_flush(c);
    if (c->state == CONN_OPEN)
        conn_arm_timer(c);
}

/* Writes what it can now and hands the rest to libuv (which copies the
 * array, not the bytes). 1: all on the wire; 0: the rest is in flight
 * (on_write follows); -1: the write failed. */
static int conn_write(http_conn_t *c, http_request_t *req, uv_buf_t *bufs, unsigned nbufs)
{
    size_t len = 0;
    for (unsigned i = 0; i < nbufs; i++)
        len += bufs[i].len;
    int n = uv_try_write((uv_stream_t *)&c->tcp, bufs, nbufs);
    if (n >= 0 && (size_t)n == len)
        return 1;
    if (n < 0 && n != UV_EAGAIN)
        return -1;
    size_t done = n > 0 ? (size_t)n : 0;
    for (; done >= bufs->len; bufs++, nbufs--)
        done -= bufs->len;
    bufs->base += done;
    bufs->len -= done;
    req->write_req.data = req;
    if (uv_write(&req->write_req, (uv_stream_t *)&c->tcp, bufs, nbufs, on_write))
        return -1;
    c->writing = 1;
    c->write_progress_ms = uv_now(&c->worker->loop);
    c->write_queue_seen = c->tcp.write_queue_size;
    return 0;
}

/* Sends what the stream has queued, or ends its request. From the owner's
 * call (by_owner) a failure is not acted on here, so nothing calls back into
 * the owner while it writes: the stream breaks and its connection closes on
 * its timer. */
static void stream_send(http_conn_t *c, http_request_t *req, int by_owner)
{
    http_stream_state_t state = http_stream_state(req);
    if (state == STREAM_BROKEN) {
        conn_arm_timer(c);
        return;
    }
    if (state == STREAM_CLOSED || c->writing || req->state != REQ_STREAMING)
        return;
    char *data;
    size_t len = http_stream_next(req, &data);
    uv_buf_t b = uv_buf_init(data, (unsigned)len);
    int rc = len ? conn_write(c, req, &b, 1) : 1;
    if (rc < 0 && !by_owner) {
        conn_close(c);
        return;
    }
    if (rc < 0)
        http_stream_break(req);
    if (rc <= 0) { /* in flight, or broken: the timer looks again */
        conn_arm_timer(c);
        return;
    }
    http_stream_sent(req);
    if (state == STREAM_ENDING)
        conn_request_written(c);
}

static void on_stream_wake(http_request_t *req)
{
    http_conn_t *c = req->conn;
    assert(c); /* a stream that has lost its connection is closed and never wakes it */
    if (c->state == CONN_OPEN)
        stream_send(c, req, 1);
}

/* The head's answer is on the wire: a plain answer is done, a stream begins. */
static void conn_head_written(http_conn_t *c)
{
    http_request_t *req = c->head;
    assert(c->unsent >= answer_len(req));
    conn_unsent_add(c, -(int64_t)answer_len(req));
    if (!req->stream) {
        conn_request_written(c);
        return;
    }
    req->state = REQ_STREAMING;
    conn_resume_reading(c); /* a stream's own bytes are not counted: EVENTS_MAX_UNSENT bounds them */
    stream_send(c, req, 0);
}

static void conn_flush(http_conn_t *c)
{
    while (c->state == CONN_OPEN && !c->writing && c->head && c->head->state == REQ_RESPONDED) {
        http_request_t *req = c->head;
        uv_buf_t answer[] = {uv_buf_init(req->out.data, (unsigned)req->out.len),
                             uv_buf_init((char *)req->out_body, (unsigned)req->out_body_len)};
        int rc = conn_write(c, req, answer, req->out_body_len ? 2 : 1);
        if (rc < 0) { /* no callback comes: conn_close lets go of the request */
            conn_close(c);
            return;
        }
        if (rc == 0)
            req->state = REQ_WRITING; /* libuv holds it until on_write */
        else
            conn_head_written(c);
    }
    if (c->state == CONN_OPEN)
        conn_arm_timer(c);
}

static const char continue_line[] = "HTTP/1.1 100 Continue\r\n\r\n";

static void on_continue_written(uv_write_t *wr, int status)
{
    (void)status; /* a broken connection shows in its answer's own write */
    free(wr);
}

/* "100 Continue" only when no earlier answer is still owed on this connection.
 * What the socket does not take at once goes through libuv, whose queue keeps
 * it before the answer: a partial line would corrupt everything after it. */
static void send_continue(http_conn_t *c)
{
    uv_buf_t b = uv_buf_init((char *)continue_line, sizeof(continue_line) - 1);
    int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    if (n == (int)b.len || (n < 0 && n != UV_EAGAIN))
        return;
    size_t done = n > 0 ? (size_t)n : 0;
    b = uv_buf_init((char *)continue_line + done, (unsigned)(sizeof(continue_line) - 1 - done));
    uv_write_t *wr = mem_alloc(sizeof(*wr));
    if (uv_write(wr, (uv_stream_t *)&c->tcp, &b, 1, on_continue_written))
        free(wr);
}

static void on_headers_done(void *owner, http_request_t *req)
{
    http_conn_t *c = owner;
    req->deadline_ms = uv_now(&c->worker->loop) + c->worker->cfg->http_request_timeout_ms;
    if (req->expect_continue && c->head == req)
        send_continue(c);
}

static size_t on_body_limit(void *owner, http_request_t *req)
{
    http_conn_t *c = owner;
    router_match_t *m;
    if (http_dispatch_route(req, &m) != ROUTER_FOUND || !m->route->max_body)
        return c->worker->cfg->http_max_body_size;
    /* The limit is the file's: a raw body is the file, a multipart body wraps it. */
    if (http_content_type_is(req, "multipart/form-data"))
        return m->route->max_body + HTTP_UPLOAD_ENVELOPE;
    return m->route->max_body;
}

static const http_conn_ops_t conn_ops = {
    .responded = on_responded,
    .release = request_free,
    .stream_wake = on_stream_wake,
};

static http_request_t *request_new(void *owner)
{
    http_conn_t *c = owner;
    worker_t *w = c->worker;
    request_block_t *b;
    if (w->free_requests) {
        b = (request_block_t *)w->free_requests;
        w->free_requests = b->req.next;
        w->free_request_count--;
    } else {
        b = mem_alloc(sizeof(*b));
    }
    http_request_t *req = &b->req;
    memset(req, 0, sizeof(*req));
    arena_init(&req->arena, b->arena_mem, sizeof(b->arena_mem));
    req->conn = c;
    req->ops = &conn_ops;
    req->worker = w;
    req->state = REQ_PARSING;
    req->start_ns = uv_hrtime();
    req->deadline_ms = uv_now(&w->loop) + w->cfg->http_header_timeout_ms;
    if (c->tail)
        c->tail->next = req;
    else
        c->head = req;
    c->tail = req;
    return req;
}

/* Answers a request the parser refused (or that timed out) and stops reading. */
static void conn_refuse(http_conn_t *c, http_request_t *req, int status, const char *code)
{
    c->stop_parsing = 1;
    if (!req)
        req = request_new(c);
    if (c->parser.req == req)
        c->parser.req = NULL;
    req->keep_alive = 0;
    req->close_after = 1;
    req->state = REQ_RUNNING;
    c->ready_count++;
    http_dispatch_prepare(req);
    http_respond_problem(req, status, code, NULL);
}

static void conn_feed(http_conn_t *c, const char *data, size_t len)
{
    worker_t *w = c->worker;
    while (len > 0 && c->state == CONN_OPEN && !c->stop_parsing) {
        if (c->ready_count >= w->cfg->http_max_pipeline) {
            /* The queue is full: keep the rest and stop reading until it drains. Reading
             * stops here and resumes only once nothing is held, so what is held is never
             * more than one read: the client cannot make it grow. */
            assert(!c->held && len <= sizeof(w->read_buf));
            c->held = mem_strndup(data, len);
            c->held_len = len;
            conn_pause_reading(c);
            return;
        }
        size_t used = 0;
        http_parse_result_t r = http_parser_feed(&c->parser, data, len, &used);
        data += used;
        len -= used;
        if (r == HTTP_PARSE_MORE)
            break;
        if (r == HTTP_PARSE_ERROR) {
            conn_refuse(c, c->parser.req, c->parser.error_status, c->parser.error_code);
            return;
        }
        http_request_t *req = c->parser.req;
        c->parser.req = NULL;
        conn_request_complete(c, req);
    }
    if (c->state == CONN_OPEN)
        conn_arm_timer(c);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    http_conn_t *c = s->data;
    if (nread == 0)
        return;
    if (nread < 0) {
        if (nread != UV_EOF || c->state != CONN_OPEN) {
            conn_close(c);
            return;
        }
        /* The client finished sending; answer what it asked, then close. */
        c->peer_closed = 1;
        conn_pause_reading(c);
        if (c->parser.req) {
            http_request_t *partial = c->parser.req;
            c->parser.req = NULL;
            conn_unlink(c, partial); /* an incomplete request can never be answered: forget it */
            request_detach(partial);
        }
        /* A stream has nobody left to read it. */
        if (!c->head || c->head->stream)
            conn_close(c);
        return;
    }
    if (c->state == CONN_LINGER)
        return; /* dropped on purpose */
    conn_feed(c, buf->base, (size_t)nread);
}

/* A stream that broke closes its connection on the timer, outside its owner's call. */
static int head_stream_broken(const http_conn_t *c)
{
    return c->head && c->head->stream && http_stream_state(c->head) == STREAM_BROKEN;
}

/* Whether this turn may handle one more connection deadline. uv_now moves once per
 * turn, so a new loop time starts a new count. */
static int expiry_allowed(worker_t *w, uint64_t now)
{
    if (now != w->expiry_turn_ms) {
        w->expiry_turn_ms = now;
        w->expiries_this_turn = 0;
    }
    return w->expiries_this_turn++ < EXPIRIES_PER_TURN;
}

static void on_conn_timer(uv_timer_t *t)
{
    http_conn_t *c = t->data;
    worker_t *w = c->worker;
    uint64_t now = uv_now(&w->loop);
    if (!expiry_allowed(w, now)) {
        metrics_gauge_add(w->metrics, COUNTER_DEADLINES_DEFERRED, 1);
        c->timer_deadline_ms = now + EXPIRY_DEFER_MS;
        uv_timer_start(&c->timer, on_conn_timer, EXPIRY_DEFER_MS, 0);
        return;
    }
    c->timer_deadline_ms = UINT64_MAX;
    if (c->state == CONN_LINGER || head_stream_broken(c)) {
        conn_close(c);
        return;
    }
    if (c->state != CONN_OPEN)
        return;
    /* Answering may write and free queued requests, so look again from the
     * head after each answer. */
    for (http_request_t *r = c->head; r && c->state == CONN_OPEN;) {
        if (r->state == REQ_RUNNING && r->deadline_ms <= now) {
            http_respond_problem(r, 504, "timeout", NULL);
            r = c->head;
        } else {
            r = r->next;
        }
    }
    if (c->state != CONN_OPEN)
        return;
    if (c->writing) {
        size_t queued = c->tcp.write_queue_size;
        if (queued < c->write_queue_seen) {
            c->write_queue_seen = queued;
            c->write_progress_ms = now;
        } else if (c->write_progress_ms + w->cfg->http_idle_timeout_ms <= now) {
            /* A client that took nothing of its answer for a whole idle timeout would
             * hold the answers' memory and a connection slot for as long as it likes. */
            conn_close(c);
            return;
        }
    }
    if (c->parser.req && c->parser.req->deadline_ms <= now) {
        conn_refuse(c, c->parser.req, 408, "request_timeout");
        return;
    }
    if (!c->head && !c->parser.req) {
        uint64_t limit = c->served_any ? w->cfg->http_idle_timeout_ms : w->cfg->http_header_timeout_ms;
        if (c->idle_since_ms + limit <= now) {
            conn_close(c);
            return;
        }
    }
    conn_arm_timer(c);
}

static void conn_arm_timer(http_conn_t *c)
{
    worker_t *w = c->worker;
    uint64_t deadline = UINT64_MAX;
    if (c->state == CONN_LINGER) {
        deadline = c->linger_until_ms;
    } else if (head_stream_broken(c)) {
        deadline = uv_now(&w->loop);
    } else {
        for (http_request_t *r = c->head; r; r = r->next)
            if ((r->state == REQ_RUNNING || r->state == REQ_PARSING) && r->deadline_ms < deadline)
                deadline = r->deadline_ms;
        if (!c->head) {
            uint64_t limit = c->served_any ? w->cfg->http_idle_timeout_ms : w->cfg->http_header_timeout_ms;
            deadline = c->idle_since_ms + limit;
        }
        if (c->writing && c->write_progress_ms + w->cfg->http_idle_timeout_ms < deadline)
            deadline = c->write_progress_ms + w->cfg->http_idle_timeout_ms;
    }
    /* Most requests leave the deadline where it was: skip the timer heap then. */
    if (deadline == c->timer_deadline_ms)
        return;
    c->timer_deadline_ms = deadline;
    if (deadline == UINT64_MAX) {
        uv_timer_stop(&c->timer);
        return;
    }
    uint64_t now = uv_now(&w->loop);
    uv_timer_start(&c->timer, on_conn_timer, deadline > now ? deadline - now : 0, 0);
}

static void on_conn_closed(uv_handle_t *h)
{
    http_conn_t *c = h->data;
    if (--c->open_handles)
        return;
    worker_t *w = c->worker;
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    w->conn_count--;
    metrics_gauge_add(w->metrics, GAUGE_CONNECTIONS_OPEN, -1);
    free(c);
    if (w->draining && w->conn_count == 0)
        w->conns_gone(w);
}

static void conn_close(http_conn_t *c)
{
    if (c->state == CONN_CLOSING)
        return;
    c->state = CONN_CLOSING;
    http_request_t *r = c->head;
    while (r) {
        http_request_t *next = r->next;
        if (r->stream)
            http_stream_close(r);
        /* A request being written is referenced by libuv's write request until
         * its callback runs (with an error, after the close); free it there. */
        if (r->state != REQ_WRITING && !(r->state == REQ_STREAMING && c->writing))
            request_detach(r);
        r = next;
    }
    c->head = c->tail = NULL;
    c->parser.req = NULL;
    conn_unsent_add(c, -(int64_t)c->unsent);
    free(c->held);
    c->held = NULL;
    uv_close((uv_handle_t *)&c->timer, on_conn_closed);
    uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

#define BUSY_BODY                                                                                          \
    "{\"type\":\"about:blank\",\"title\":\"Service Unavailable\",\"status\":503,\"code\":\"overloaded\"," \
    "\"detail\":\"Too many connections; try again shortly.\"}"

/* Over the limit: accept, answer 503 in one write, close. Queueing would
 * only make the client wait for a slot that may never come. */
static void reject_connection(worker_t *w, uv_stream_t *server)
{
    char busy[512], id[HTTP_REQUEST_ID_MAX + 1];
    http_request_id_make(w, id);
    int len = snprintf(busy, sizeof(busy),
                       "HTTP/1.1 503 Service Unavailable\r\nServer: hourglass\r\n%s"
                       "Content-Type: application/problem+json\r\nRetry-After: 1\r\nConnection: close\r\n"
                       "X-Request-Id: %s\r\nContent-Length: %zu\r\n\r\n%s",
                       http_date_header(w), id, sizeof(BUSY_BODY) - 1, BUSY_BODY);
    uv_tcp_t *t = mem_alloc(sizeof(*t));
    uv_tcp_init(server->loop, t);
    if (uv_accept(server, (uv_stream_t *)t) == 0) {
        uv_buf_t b = uv_buf_init(busy, (unsigned)len);
        uv_try_write((uv_stream_t *)t, &b, 1);
    }
    uv_close((uv_handle_t *)t, (uv_close_cb)free);
}

void http_conn_accept(worker_t *w, uv_stream_t *server)
{
    if (w->conn_count >= w->cfg->http_max_connections) {
        reject_connection(w, server);
        return;
    }
    http_conn_t *c = mem_calloc(1, sizeof(*c));
    c->worker = w;
    uv_tcp_init(&w->loop, &c->tcp);
    uv_timer_init(&w->loop, &c->timer);
    c->tcp.data = c;
    c->timer.data = c;
    c->timer_deadline_ms = UINT64_MAX;
    c->open_handles = 2;
    c->next = w->conns;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;
    w->conn_count++;
    metrics_gauge_add(w->metrics, GAUGE_CONNECTIONS_OPEN, 1);
    if (uv_accept(server, (uv_stream_t *)&c->tcp)) {
        conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    http_parser_init(&c->parser, w->cfg, request_new, c);
    c->parser.headers_done = on_headers_done;
    c->parser.body_limit = on_body_limit;
    c->idle_since_ms = uv_now(&w->loop);
    conn_resume_reading(c);
    conn_arm_timer(c);
}

void http_conns_drain(worker_t *w)
{
    for (http_conn_t *c = w->conns; c; c = c->next) {
        if (c->state != CONN_OPEN)
            continue;
        if (c->head && c->head->stream) { /* its owner lets go, what is queued is sent, then it closes */
            http_stream_drain(c->head);
            stream_send(c, c->head, 0);
            continue;
        }
        if (!c->head && !c->parser.req)
            conn_close_gracefully(c);
        else if (!c->parser.req)
            c->stop_parsing = 1; /* answer what was asked, then close */
    }
}

void http_conns_close(worker_t *w)
{
    for (http_conn_t *c = w->conns; c; c = c->next)
        conn_close(c);
}
