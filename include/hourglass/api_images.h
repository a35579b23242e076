#ifndef HOURGLASS_API_IMAGES_H
#define HOURGLASS_API_IMAGES_H
#include <libpq-fe.h>

#include "hourglass/forms.h"
#include "hourglass/http.h"

/* Uploaded images (avatars, the shop's pictures). */
typedef struct {
    const char *type;   /* sniffed from the bytes: image/png, jpeg, gif or webp */
    const char *sha256; /* of the bytes, hex: the ETag */
    const char *hex;    /* the bytes hex-encoded, as a text parameter */
    size_t len;
} api_image_t;
/* The parts of a multipart/form-data body: 0, or -1 after answering 400. */
int api_multipart_fields(http_request_t *req, form_field_t **fields, size_t *count);
/* Checks one uploaded file: 413 beyond max bytes, 415 when its bytes are no
 * image we keep. 0 with img filled, or -1 after answering. */
int api_image_accept(http_request_t *req, const char *data, size_t len, size_t max, api_image_t *img);
/* If-None-Match as a text parameter, or NULL. */
const char *api_if_none_match(http_request_t *req);
/* Answers a stored image from a row (content_type, etag, not_modified, hex):
 * 404 without one, 304 when not_modified, else the bytes; ETag and
 * cache_control either way. */
void api_image_respond(http_request_t *req, PGresult *res, const char *cache_control);
/* The bytes of such a row (in the arena), or NULL after answering 500. */
const void *api_image_bytes(http_request_t *req, const PGresult *res, size_t *len);

#endif
