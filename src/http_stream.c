/* Answers that stay open (text/event-stream): what their owner writes, what
 * is on its way to the socket, and where the stream is in its life. The
 * connection (http_server.c) takes the bytes when the socket can have them;
 * the stream wakes it through the request's ops when there is news. */
#include <assert.h>
#include <stdlib.h>

#include "hourglass/mem.h"
#include "hourglass/server.h"

#define STREAM_BUFFER_INITIAL 1024

struct http_stream {
    http_stream_state_t state;
    abuf_t queued;   /* written by the owner, not yet handed to the socket */
    abuf_t inflight; /* handed to the socket, not yet known to be written */
    http_stream_gone_fn gone;
    void *data;
};

int http_stream_start(http_request_t *req, const char *content_type, http_stream_gone_fn gone, void *data)
{
    if (req->state != REQ_RUNNING || !req->conn)
        return -1;
    http_stream_t *s = mem_calloc(1, sizeof(*s));
    s->state = STREAM_OPEN;
    abuf_init(&s->queued, NULL, STREAM_BUFFER_INITIAL);
    abuf_init(&s->inflight, NULL, STREAM_BUFFER_INITIAL);
    req->stream = s;
    req->close_after = 1;
    /* The head may fail to go out at once and close the connection: the owner is
     * not told from inside its own call (gone is set after), and the request is
     * held so that it is released here, not under us. */
    http_request_hold(req);
    http_respond(req, 200, content_type, NULL, 0);
    req->pending--;
    if (s->state == STREAM_CLOSED) {
        http_request_release(req);
        return -1;
    }
    s->gone = gone;
    s->data = data;
    return 0;
}

long http_stream_write(http_request_t *req, const void *data, size_t len)
{
    http_stream_t *s = req->stream;
    assert(s); /* only after http_stream_start succeeded */
    if (s->state != STREAM_OPEN)
        return -1;
    abuf_append(&s->queued, data, len);
    req->ops->stream_wake(req);
    if (s->state != STREAM_OPEN) /* the write failed: the connection closes on its timer */
        return -1;
    return (long)(s->queued.len + s->inflight.len);
}

void http_stream_end(http_request_t *req)
{
    http_stream_t *s = req->stream;
    assert(s);
    if (s->state != STREAM_OPEN)
        return;
    s->state = STREAM_ENDING;
    req->ops->stream_wake(req);
}

void http_stream_abort(http_request_t *req)
{
    http_stream_t *s = req->stream;
    assert(s);
    if (s->state == STREAM_CLOSED || s->state == STREAM_BROKEN)
        return;
    s->state = STREAM_BROKEN;
    abuf_consume(&s->queued, s->queued.len);
    req->ops->stream_wake(req);
}

http_stream_state_t http_stream_state(const http_request_t *req)
{
    assert(req->stream);
    return req->stream->state;
}

size_t http_stream_next(http_request_t *req, char **data)
{
    http_stream_t *s = req->stream;
    assert(s->inflight.len == 0); /* one write at a time */
    abuf_t spare = s->inflight;   /* the owner goes on writing into the other buffer */
    s->inflight = s->queued;
    s->queued = spare;
    *data = s->inflight.data;
    return s->inflight.len;
}

void http_stream_sent(http_request_t *req)
{
    abuf_consume(&req->stream->inflight, req->stream->inflight.len);
}

void http_stream_break(http_request_t *req)
{
    assert(req->stream->state != STREAM_CLOSED);
    req->stream->state = STREAM_BROKEN;
}

/* The owner hears once that it has lost the stream; the state changes first,
 * so a write from inside its callback is refused. */
static void stream_tell_owner(http_stream_t *s, http_stream_state_t next)
{
    http_stream_state_t was = s->state;
    s->state = next;
    if (was == STREAM_OPEN && s->gone)
        s->gone(s->data);
}

void http_stream_drain(http_request_t *req)
{
    if (req->stream->state == STREAM_OPEN)
        stream_tell_owner(req->stream, STREAM_ENDING);
}

void http_stream_close(http_request_t *req) { stream_tell_owner(req->stream, STREAM_CLOSED); }

void http_stream_free(http_stream_t *s)
{
    abuf_free(&s->queued);
    abuf_free(&s->inflight);
    free(s);
}
