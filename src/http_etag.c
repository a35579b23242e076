#include <sodium.h>
#include <string.h>

#include "hourglass/http_etag.h"

void http_etag(const void *data, size_t len, char out[HTTP_ETAG_SIZE])
{
    unsigned char hash[HTTP_ETAG_HASH_BYTES];
    crypto_generichash(hash, sizeof(hash), data, len, NULL, 0);
    out[0] = '"';
    sodium_bin2hex(out + 1, 2 * HTTP_ETAG_HASH_BYTES + 1, hash, sizeof(hash));
    out[HTTP_ETAG_SIZE - 2] = '"';
    out[HTTP_ETAG_SIZE - 1] = '\0';
}

int http_etag_listed(const char *header, size_t len, const char *etag)
{
    size_t elen = strlen(etag);
    const char *p = header, *end = header + len;
    while (p < end) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
            p++;
        if (p < end && *p == '*')
            return 1;
        if (end - p >= 2 && p[0] == 'W' && p[1] == '/')
            p += 2;
        if (p >= end || *p != '"')
            return 0;
        const char *close = memchr(p + 1, '"', (size_t)(end - p - 1));
        if (!close)
            return 0;
        if ((size_t)(close - p + 1) == elen && !memcmp(p, etag, elen))
            return 1;
        p = close + 1;
    }
    return 0;
}

int http_not_modified(http_request_t *req, const char *etag, const char *cache_control)
{
    http_header_add(req, "ETag", etag);
    http_header_add(req, "Cache-Control", cache_control);
    size_t len = 0;
    const char *inm = http_header_get(req, "if-none-match", &len);
    return inm && http_etag_listed(inm, len, etag);
}
