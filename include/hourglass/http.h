#ifndef HOURGLASS_HTTP_H
#define HOURGLASS_HTTP_H
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "hourglass/arena.h"

typedef enum {
    METHOD_GET,
    METHOD_HEAD,
    METHOD_POST,
    METHOD_PUT,
    METHOD_PATCH,
    METHOD_DELETE,
    METHOD_OPTIONS,
    METHOD_OTHER, /* parsed but not served by any route: 405 or 404 */
    METHOD_COUNT
} http_method_t;

#define HTTP_M(m) (1u << (m))
#define ALLOW_GET HTTP_M(METHOD_GET)
#define ALLOW_POST HTTP_M(METHOD_POST)
#define ALLOW_PUT HTTP_M(METHOD_PUT)
#define ALLOW_PATCH HTTP_M(METHOD_PATCH)
#define ALLOW_DELETE HTTP_M(METHOD_DELETE)

typedef enum { LANG_EN, LANG_RU } http_lang_t;

typedef struct {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
} http_header_t;

typedef struct http_request http_request_t;
typedef struct http_conn http_conn_t;
typedef struct worker worker_t;
typedef struct router_path router_path_t;
typedef struct http_stream http_stream_t;
typedef struct http_conn_ops http_conn_ops_t;

typedef void (*http_handler_fn)(http_request_t *req);
/* A respond filter sees an answer before it is written and may reshape it:
 * its status, type and body (in the request's arena) and the headers added.
 * A route's filter is installed when the request reaches it, before its
 * authentication, so a 401 passes through it too; it stays for the answer of
 * whatever route the request is handed on to (http_request_reprocess). It
 * only reshapes: the answer it leaves is the one written. */
typedef void (*http_respond_filter_fn)(http_request_t *req, int *status, const char **content_type,
                                       const void **body, size_t *len);

/* One route as modules declare it: methods, pattern with {params}, handler.
 * `data` lets one generic handler serve many declarations (the resource engine). */
typedef struct {
    unsigned methods;
    const char *pattern;
    http_handler_fn handler;
    const void *data;
    unsigned flags;  /* ROUTE_* */
    size_t max_body; /* 0: HTTP_MAX_BODY_SIZE; an upload route's file limit (multipart
                        requests get HTTP_UPLOAD_ENVELOPE more for the envelope) */
    http_respond_filter_fn filter; /* reshapes every answer of a request that reaches this route */
} http_route_t;

/* Checked before the handler runs: 401 without a valid access token, 403
 * without the role; a cookie-authenticated unsafe request needs an allowed Origin. */
#define ROUTE_AUTH 1u
#define ROUTE_STAFF 2u /* role staff or admin (implies ROUTE_AUTH) */
#define ROUTE_ADMIN 4u /* role admin (implies ROUTE_AUTH) */
/* Reached only by a request handed on (http_request_reprocess), as nginx's
 * `internal` locations: a client that asks for its path gets 404, and the
 * document leaves it out. A path's routes are all internal or none. */
#define ROUTE_INTERNAL 8u
/* Its requests are logged at debug, not info: health probes, every few seconds. */
#define ROUTE_LOG_DEBUG 16u

typedef enum { ROLE_USER, ROLE_STAFF, ROLE_ADMIN } http_role_t;

/* Who is asking, from a verified access token. */
typedef struct {
    int64_t user_id;    /* 0: anonymous */
    int64_t session_id;
    int64_t expires_at; /* the access token's exp, seconds since 1970 */
    http_role_t role;
    unsigned via_cookie : 1;
} http_auth_t;

#define HTTP_MAX_PARAMS 8
/* How often one request may be handed on to another route. */
#define HTTP_MAX_REPROCESS 4
/* The longest X-Request-Id taken from a client. */
#define HTTP_REQUEST_ID_MAX 128
#define HTTP_UPLOAD_ENVELOPE (64 * 1024)

typedef enum {
    REQ_PARSING,    /* bytes still arriving */
    REQ_WAITING,    /* complete; starts when the connection's earlier request has answered */
    REQ_RUNNING,    /* handler or database step in progress */
    REQ_RESPONDED,  /* response bytes ready, waiting for earlier ones */
    REQ_WRITING,    /* on the wire */
    REQ_STREAMING,  /* its head is sent; a stream's bytes follow until it ends */
} http_req_state_t;

struct http_request {
    arena_t arena;
    http_req_state_t state;
    http_conn_t *conn;    /* NULL once the connection is gone */
    const http_conn_ops_t *ops; /* how the answer reaches the connection; NULL: a request made by hand */
    worker_t *worker;
    http_request_t *next; /* the connection's queue, in arrival order */

    /* What the client sent; a reprocess changes method, path, query and body. */
    http_method_t method;
    http_method_t client_method; /* as sent: HEAD answers without a body, logs and metrics */
    const char *method_name;
    abuf_t url;
    const char *path;     /* raw path of url, NUL-terminated copy */
    size_t path_len;
    const char *query;    /* after '?', or "" */
    http_header_t *headers;
    int header_count;
    int header_cap;
    abuf_t body;
    unsigned http_major, http_minor;
    unsigned keep_alive : 1;
    unsigned expect_continue : 1;
    unsigned upgrade : 1;
    abuf_t cur_field, cur_value; /* header being parsed */
    size_t head_bytes;
    size_t max_body;

    /* Routing. */
    struct router_match *match; /* by http_dispatch_route(), once per path */
    int match_result;
    const router_path_t *route; /* the route the client called: logs and metrics */
    int route_id;
    int reprocess_count;
    unsigned log_debug : 1;        /* the route called is ROUTE_LOG_DEBUG */
    unsigned deferred : 1;         /* waiting for the loop's next turn (reprocess) */
    http_request_t *deferred_next; /* the worker's list of them */
    const void *route_data;
    void *ctx;            /* a multi-step handler's state, in the arena */
    http_auth_t auth;
    int param_count;
    struct {
        const char *name;
        const char *value;
    } params[HTTP_MAX_PARAMS];

    /* Answer. */
    int status;
    abuf_t out;           /* status line, headers and the body, unless it is written in place: */
    const char *out_body; /* a large body that lives in the arena, written after out */
    size_t out_body_len;
    abuf_t extra_headers; /* added by the handler before it responds */
    unsigned close_after : 1;
    http_respond_filter_fn respond_filter;
    void *filter_data;    /* the filter's state: a reprocess keeps both, as it resets ctx */
    http_stream_t *stream; /* http_stream_start: no Content-Length, the body ends with the connection */
    unsigned pending;     /* database calls in flight; the request lives until 0 */
    uint64_t start_ns;
    uint64_t deadline_ms; /* loop time when the request gets 504 */
    http_lang_t lang;
    char request_id[HTTP_REQUEST_ID_MAX + 1];
    uv_write_t write_req;
};

/* Reading the request. */
/* Is s[0..len) word, ignoring case (a header's name, a token)? */
int http_text_is(const char *s, size_t len, const char *word);
const char *http_header_get(const http_request_t *req, const char *name, size_t *len);
/* A cookie's value, copied into the arena; NULL if absent. */
const char *http_cookie_get(http_request_t *req, const char *name);
/* The client's address as text (the peer of the connection). */
const char *http_client_ip(http_request_t *req);
/* Is the Content-Type this media type (parameters after ';' ignored)? */
int http_content_type_is(const http_request_t *req, const char *type);
/* A number as a SQL text parameter, in the request's arena. */
const char *http_int_param(http_request_t *req, long long v);
/* "en" or "ru": the request's language for mail and texts made in SQL. */
const char *http_lang_code(const http_request_t *req);
const char *http_param(const http_request_t *req, const char *name);
/* A positive 64-bit id written in plain digits; 0 otherwise. */
long long http_parse_id(const char *s);
/* Path parameter `name` as an id's text, or NULL after answering 404. */
const char *http_path_id(http_request_t *req, const char *name);
/* Copies query parameter `name` (percent-decoded) into the arena; NULL if absent. */
const char *http_query_get(http_request_t *req, const char *name);

/* Answering: exactly one of these per request; later calls are ignored. */
void http_header_add(http_request_t *req, const char *name, const char *value);
/* Drops every header called name (any case) that the handler added. */
void http_header_remove(http_request_t *req, const char *name);
void http_respond(http_request_t *req, int status, const char *content_type, const void *body, size_t len);
void http_respond_json(http_request_t *req, int status, const char *json, size_t len);
void http_respond_text(http_request_t *req, int status, const char *text);
/* Problem JSON; detail NULL takes the catalogue's text for `code` in the request's language. */
void http_respond_problem(http_request_t *req, int status, const char *code, const char *detail);

/* Streams (text/event-stream): an answer that stays open. */
/* Called once when the stream can take no more bytes: the client went away,
 * the connection was closed, or the server is draining. The request must not
 * be touched after it returns. */
typedef void (*http_stream_gone_fn)(void *data);
/* Sends the head of a 200 answer (no Content-Length, Connection: close) and
 * keeps the request open for http_stream_write. 0; or -1, gone not called and
 * the request no longer the caller's: answered already, or the connection
 * failed while the head went out. */
int http_stream_start(http_request_t *req, const char *content_type, http_stream_gone_fn gone, void *data);
/* Queues bytes, writing them as the socket takes them. Returns the bytes not
 * yet on the wire, or -1 when the stream has ended. */
long http_stream_write(http_request_t *req, const void *data, size_t len);
/* Ends the stream after its queued bytes (gone is not called); the request
 * must not be touched after this. */
void http_stream_end(http_request_t *req);
/* Ends it now, dropping what is queued (a reader too slow to keep): the
 * connection closes on the loop's next turn; gone is not called. */
void http_stream_abort(http_request_t *req);

/* Handing on to another route (as H2O's h2o_reprocess_request). */
/* Runs the request again as `method path?query` with this body (copied; NULL
 * and 0 for none), on the loop's next turn, never from inside the caller: the
 * answer so far (status, headers added, path parameters, route data, ctx, who
 * is asking) is reset, then the new route's authentication and handler run.
 * Request headers stay as sent; a respond filter installed stays; logs and
 * metrics keep the route the client called. At most HTTP_MAX_REPROCESS times
 * per request: beyond, the request is answered 500 and an error is logged. */
void http_request_reprocess(http_request_t *req, http_method_t method, const char *path, const char *query,
                            const void *body, size_t len);
/* Sets a request header, in place of every one of that name: for a handler
 * that hands its request on with a body of another type than the client's. */
void http_request_header_set(http_request_t *req, const char *name, const char *value);

/* Waiting: for the database, the thread pool, another service. */
/* A request waiting on something keeps itself alive with a hold per wait. */
void http_request_hold(http_request_t *req);
/* Ends a hold. 1: the request can still be answered. 0: it cannot (answered
 * 504 already, or the client went away); it is released with its last hold. */
int http_request_resume(http_request_t *req);

#endif
