/* libcurl's multi interface on a worker's loop: curl says which sockets to
 * watch (CURLMOPT_SOCKETFUNCTION: a uv_poll each) and when to call it back
 * (CURLMOPT_TIMERFUNCTION: one uv_timer); we tell it what happened with
 * curl_multi_socket_action and collect finished transfers. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hourglass/arena.h"
#include "hourglass/mem.h"
#include "hourglass/outbound.h"

#define OUTBOUND_HEADER_MAX 128

typedef struct transfer transfer_t;
typedef struct sock sock_t;

struct outbound {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;
    transfer_t *transfers;
    sock_t *socks;
    int open_handles;
    int closing;
    void (*closed)(void *);
    void *closed_data;
};

struct transfer {
    transfer_t *prev, *next;
    CURL *easy;
    outbound_done_fn done;
    void *data;
};

struct sock {
    uv_poll_t poll;
    curl_socket_t fd;
    outbound_t *o;
    sock_t *prev, *next;
};

#define LIST_UNLINK(head, x)                                                                                           \
    do {                                                                                                               \
        if ((x)->prev)                                                                                                 \
            (x)->prev->next = (x)->next;                                                                               \
        else                                                                                                           \
            (head) = (x)->next;                                                                                        \
        if ((x)->next)                                                                                                 \
            (x)->next->prev = (x)->prev;                                                                               \
    } while (0)
#define LIST_PUSH(head, x)                                                                                             \
    do {                                                                                                               \
        (x)->prev = NULL;                                                                                              \
        (x)->next = (head);                                                                                            \
        if (head)                                                                                                      \
            (head)->prev = (x);                                                                                        \
        (head) = (x);                                                                                                  \
    } while (0)

static void finish_close_maybe(outbound_t *o)
{
    if (o->closing && o->open_handles == 0 && o->closed) {
        void (*closed)(void *) = o->closed;
        o->closed = NULL;
        closed(o->closed_data);
    }
}

static void on_timer_closed(uv_handle_t *h)
{
    outbound_t *o = h->data;
    o->open_handles--;
    finish_close_maybe(o);
}

static void on_sock_closed(uv_handle_t *h)
{
    sock_t *s = (sock_t *)h;
    outbound_t *o = s->o;
    free(s);
    o->open_handles--;
    finish_close_maybe(o);
}

static void sock_close(sock_t *s)
{
    LIST_UNLINK(s->o->socks, s);
    uv_close((uv_handle_t *)&s->poll, on_sock_closed);
}

/* The transfer leaves the multi; its done gets rc. */
static void transfer_end(outbound_t *o, transfer_t *t, CURLcode rc)
{
    LIST_UNLINK(o->transfers, t);
    curl_multi_remove_handle(o->multi, t->easy);
    t->done(t->data, t->easy, rc);
    free(t);
}

static void check_done(outbound_t *o)
{
    CURLMsg *msg;
    int left;
    while (o->multi && (msg = curl_multi_info_read(o->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        transfer_t *t = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
        transfer_end(o, t, msg->data.result);
    }
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    sock_t *s = (sock_t *)h;
    outbound_t *o = s->o;
    if (!o->multi)
        return;
    int flags = status < 0 ? CURL_CSELECT_ERR
                           : ((events & UV_READABLE) ? CURL_CSELECT_IN : 0) |
                                 ((events & UV_WRITABLE) ? CURL_CSELECT_OUT : 0);
    int running;
    curl_multi_socket_action(o->multi, s->fd, flags, &running);
    check_done(o);
}

static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    (void)easy;
    outbound_t *o = userp;
    sock_t *s = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (s) {
            curl_multi_assign(o->multi, fd, NULL);
            sock_close(s);
        }
        return 0;
    }
    if (!s) {
        s = mem_calloc(1, sizeof(*s));
        s->fd = fd;
        s->o = o;
        if (uv_poll_init_socket(o->loop, &s->poll, fd)) {
            free(s);
            return -1;
        }
        o->open_handles++;
        LIST_PUSH(o->socks, s);
        curl_multi_assign(o->multi, fd, s);
    }
    int events = ((what & CURL_POLL_IN) ? UV_READABLE : 0) | ((what & CURL_POLL_OUT) ? UV_WRITABLE : 0);
    uv_poll_start(&s->poll, events, on_poll);
    return 0;
}

static void on_timeout(uv_timer_t *t)
{
    outbound_t *o = t->data;
    if (!o->multi)
        return;
    int running;
    curl_multi_socket_action(o->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(o);
}

static int on_timer(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    outbound_t *o = userp;
    if (timeout_ms < 0)
        uv_timer_stop(&o->timer);
    else /* 0 too goes through the loop, never a recursive call */
        uv_timer_start(&o->timer, on_timeout, timeout_ms ? (uint64_t)timeout_ms : 1, 0);
    return 0;
}

outbound_t *outbound_new(uv_loop_t *loop)
{
    outbound_t *o = mem_calloc(1, sizeof(*o));
    if (!(o->multi = curl_multi_init())) {
        free(o);
        return NULL;
    }
    o->loop = loop;
    curl_multi_setopt(o->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(o->multi, CURLMOPT_SOCKETDATA, o);
    curl_multi_setopt(o->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(o->multi, CURLMOPT_TIMERDATA, o);
    uv_timer_init(loop, &o->timer);
    o->timer.data = o;
    o->open_handles = 1;
    return o;
}

int outbound_start(outbound_t *o, CURL *easy, outbound_done_fn done, void *data)
{
    if (o->closing)
        return -1;
    transfer_t *t = mem_calloc(1, sizeof(*t));
    t->easy = easy;
    t->done = done;
    t->data = data;
    curl_easy_setopt(easy, CURLOPT_PRIVATE, t);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    if (curl_multi_add_handle(o->multi, easy) != CURLM_OK) {
        free(t);
        return -1;
    }
    LIST_PUSH(o->transfers, t);
    return 0;
}

void outbound_close(outbound_t *o, void (*closed)(void *), void *data)
{
    o->closing = 1;
    o->closed = closed;
    o->closed_data = data;
    while (o->transfers)
        transfer_end(o, o->transfers, CURLE_ABORTED_BY_CALLBACK);
    curl_multi_cleanup(o->multi); /* reports its last sockets removed */
    o->multi = NULL;
    while (o->socks) /* any socket curl did not report removed */
        sock_close(o->socks);
    uv_timer_stop(&o->timer);
    uv_close((uv_handle_t *)&o->timer, on_timer_closed);
}

void outbound_free(outbound_t *o) { free(o); }

typedef struct {
    outbound_http_fn done;
    void *data;
    abuf_t answer; /* on the heap, at most max bytes */
    size_t max;
    int too_large;
    struct curl_slist *headers;
    char *body; /* our copy of what is POSTed */
    char errbuf[CURL_ERROR_SIZE];
} http_call_t;

static size_t on_http_data(char *ptr, size_t size, size_t nmemb, void *userp)
{
    http_call_t *c = userp;
    size_t n = size * nmemb;
    if (c->answer.len + n > c->max) {
        c->too_large = 1;
        return 0; /* curl stops with CURLE_WRITE_ERROR */
    }
    abuf_append(&c->answer, ptr, n);
    return n;
}

static void call_free(http_call_t *c)
{
    curl_slist_free_all(c->headers);
    abuf_free(&c->answer);
    free(c->body);
    free(c);
}

static void on_http_done(void *data, CURL *easy, CURLcode rc)
{
    http_call_t *c = data;
    outbound_response_t r = {.rc = rc, .body = c->answer.data, .len = c->answer.len, .too_large = c->too_large};
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &r.status);
    r.error = rc == CURLE_OK  ? NULL
              : c->too_large ? "the answer is too large"
              : c->errbuf[0] ? c->errbuf
                             : curl_easy_strerror(rc);
    curl_easy_cleanup(easy);
    c->done(c->data, &r);
    call_free(c);
}

int outbound_http(outbound_t *o, const outbound_request_t *rq, outbound_http_fn done, void *data)
{
    CURL *e = curl_easy_init();
    if (!e)
        return -1;
    http_call_t *c = mem_calloc(1, sizeof(*c));
    c->done = done;
    c->data = data;
    c->max = rq->max_bytes;
    abuf_init(&c->answer, NULL, 0);
    curl_easy_setopt(e, CURLOPT_URL, rq->url);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)rq->timeout_ms);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_http_data);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->errbuf);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    int refused = 0;
    if (rq->body) {
        c->body = mem_strdup(rq->body);
        if (rq->content_type) {
            char header[OUTBOUND_HEADER_MAX];
            assert(strlen(rq->content_type) < sizeof(header) - sizeof("Content-Type: ")); /* ours, never a client's */
            snprintf(header, sizeof(header), "Content-Type: %s", rq->content_type);
            refused = !(c->headers = curl_slist_append(NULL, header)); /* NULL: curl had no memory for it */
        }
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->headers);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, c->body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(rq->body));
    }
    if (refused || outbound_start(o, e, on_http_done, c)) {
        curl_easy_cleanup(e);
        call_free(c);
        return -1;
    }
    return 0;
}
