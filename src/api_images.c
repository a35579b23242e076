/* Uploads and stored images (avatars, the shop's pictures): the parts of a
 * multipart body, an uploaded file checked and kept as what its bytes are,
 * and a stored image answered with its ETag (api_images.h). */
#include <sodium.h>
#include <string.h>

#include "hourglass/api_images.h"
#include "hourglass/bridge.h"

int api_multipart_fields(http_request_t *req, form_field_t **fields, size_t *count)
{
    size_t ct_len = 0;
    const char *ct = http_header_get(req, "content-type", &ct_len);
    if (multipart_parse(&req->arena, ct ? ct : "", ct ? ct_len : 0, req->body.data ? req->body.data : "",
                        req->body.len, fields, count)) {
        http_respond_problem(req, 400, "malformed_request", NULL);
        return -1;
    }
    return 0;
}

int api_image_accept(http_request_t *req, const char *data, size_t len, size_t max, api_image_t *img)
{
    if (len > max) {
        http_respond_problem(req, 413, "payload_too_large", NULL);
        return -1;
    }
    /* Stored as what the bytes are, whatever the client declared. */
    img->type = media_sniff_image(data, len);
    if (!img->type) {
        http_respond_problem(req, 415, "unsupported_media_type", NULL);
        return -1;
    }
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, (const unsigned char *)data, len);
    char *sha = arena_alloc(&req->arena, crypto_hash_sha256_BYTES * 2 + 1);
    sodium_bin2hex(sha, crypto_hash_sha256_BYTES * 2 + 1, digest, sizeof(digest));
    /* Parameters are text: the bytes travel hex-encoded and SQL decodes them. */
    char *hex = arena_alloc(&req->arena, len * 2 + 1);
    sodium_bin2hex(hex, len * 2 + 1, (const unsigned char *)data, len);
    img->sha256 = sha;
    img->hex = hex;
    img->len = len;
    return 0;
}

const char *api_if_none_match(http_request_t *req)
{
    size_t len = 0;
    const char *inm = http_header_get(req, "if-none-match", &len);
    return inm ? arena_strndup(&req->arena, inm, len) : NULL;
}

void api_image_respond(http_request_t *req, PGresult *res, const char *cache_control)
{
    if (api_found_row(req, res))
        return;
    http_header_add(req, "ETag", arena_printf(&req->arena, "\"%s\"", PQgetvalue(res, 0, 1)));
    http_header_add(req, "Cache-Control", cache_control);
    if (!strcmp(PQgetvalue(res, 0, 2), "t")) {
        http_respond(req, 304, NULL, NULL, 0);
        return;
    }
    size_t len;
    const void *bytes = api_image_bytes(req, res, &len);
    if (bytes)
        http_respond(req, 200, PQgetvalue(res, 0, 0), bytes, len);
}

const void *api_image_bytes(http_request_t *req, const PGresult *res, size_t *len)
{
    const char *hex = PQgetvalue(res, 0, 3);
    size_t hex_len = (size_t)PQgetlength(res, 0, 3);
    unsigned char *bytes = arena_alloc(&req->arena, hex_len / 2 + 1);
    if (sodium_hex2bin(bytes, hex_len / 2 + 1, hex, hex_len, NULL, len, NULL)) {
        http_respond_problem(req, 500, "internal_error", NULL);
        return NULL;
    }
    return bytes;
}
