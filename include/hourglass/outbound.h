#ifndef HOURGLASS_OUTBOUND_H
#define HOURGLASS_OUTBOUND_H
#include <curl/curl.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* Every outbound transfer of a worker goes through one libcurl multi driven
 * by its loop (outbound.c): a uv_poll per curl socket, one uv_timer for
 * curl's timeouts, so nothing waits on the network. The mailer's SMTP and
 * the shop's HTTP calls (payments, Telegram) share it, and with it curl's
 * cache of connections. curl_global_init must have run before the workers. */
typedef struct outbound outbound_t;

outbound_t *outbound_new(uv_loop_t *loop);

/* rc is curl's result. The easy handle has left the multi and is the
 * caller's again (to read its info and clean it up). */
typedef void (*outbound_done_fn)(void *data, CURL *easy, CURLcode rc);
/* Runs easy on the loop; done runs once when it ends, never on this stack.
 * 0, or -1 (closing, or curl refused it; done will not run). */
int outbound_start(outbound_t *o, CURL *easy, outbound_done_fn done, void *data);
/* Ends what is still running (done gets CURLE_ABORTED_BY_CALLBACK) and
 * closes the handles; closed runs when they are. */
void outbound_close(outbound_t *o, void (*closed)(void *), void *data);
void outbound_free(outbound_t *o);

/* HTTP requests with a bounded answer. */

typedef struct {
    CURLcode rc;        /* CURLE_OK: an answer came (any status) */
    long status;        /* its HTTP status; 0 without one */
    const char *body;   /* the answer's bytes, NUL-terminated, valid during the callback */
    size_t len;
    int too_large;      /* the answer passed max_bytes (rc is then an error) */
    const char *error;  /* curl's words for rc, never credentials */
} outbound_response_t;
typedef void (*outbound_http_fn)(void *data, const outbound_response_t *r);

typedef struct {
    const char *url;
    const char *body;         /* POSTed when not NULL; else GET */
    const char *content_type; /* of body */
    uint64_t timeout_ms;      /* the whole transfer */
    size_t max_bytes;         /* of the answer */
} outbound_request_t;

/* 0, or -1 (done will not run). */
int outbound_http(outbound_t *o, const outbound_request_t *rq, outbound_http_fn done, void *data);

#endif
