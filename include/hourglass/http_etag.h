#ifndef HOURGLASS_HTTP_ETAG_H
#define HOURGLASS_HTTP_ETAG_H
#include <stddef.h>

#include "hourglass/http.h"

/* Strong validators (http_etag.c): the ETag of some bytes, and whether the
 * client has them already. */

#define HTTP_ETAG_HASH_BYTES 16 /* BLAKE2b of the bytes */
#define HTTP_ETAG_SIZE (2 * HTTP_ETAG_HASH_BYTES + 3) /* quoted hex, and its NUL */

/* The quoted ETag of len bytes at data into out: "<32 hex digits>". */
void http_etag(const void *data, size_t len, char out[HTTP_ETAG_SIZE]);
/* 1 when header (If-None-Match: a list of entity tags, W/ allowed, or *)
 * names etag (the weak comparison of RFC 9110 13.1.2). */
int http_etag_listed(const char *header, size_t len, const char *etag);
/* Adds ETag and Cache-Control to the answer; 1 when the request's
 * If-None-Match names etag, so the answer is 304 without a body. */
int http_not_modified(http_request_t *req, const char *etag, const char *cache_control);

#endif
