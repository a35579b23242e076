#ifndef HOURGLASS_FORMS_H
#define HOURGLASS_FORMS_H
#include <stddef.h>

#include "hourglass/arena.h"

/* One form field.
 * - name, filename and content_type are NUL-terminated copies in the arena;
 *   a name never holds a NUL byte (such a form is refused).
 * - value: urlencoded values and multipart parts without a filename are
 *   NUL-terminated copies in the arena; the value of a multipart part with a
 *   filename (a file) is NOT copied and NOT terminated: it points into the
 *   body given to multipart_parse() and lives as long as that body.
 * Values may hold NUL bytes: always use value_len. */
typedef struct {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
    const char *filename;     /* multipart parts with a filename parameter (may be ""), else NULL */
    const char *content_type; /* multipart parts with a Content-Type header, else NULL */
} form_field_t;

#define FORM_MAX_FIELDS 64              /* urlencoded name=value pairs */
#define MULTIPART_MAX_PARTS 32
#define MULTIPART_MAX_HEADER_BYTES 8192 /* one part's header block, CRLFs included */
#define MULTIPART_MAX_BOUNDARY 70       /* RFC 2046 */

/* a=1&b=x+y&c=%41: '+' is a space, %XX a byte, a pair without '=' has an
 * empty value, empty pairs ("a=1&&b=2") are skipped. body may be NULL when
 * len is 0. Returns 0 with *out (in the arena) and *count set, or -1 for a
 * malformed escape, a NUL in a name or more than FORM_MAX_FIELDS pairs. */
int form_urlencoded_parse(arena_t *a, const char *body, size_t len, form_field_t **out, size_t *count);

/* multipart/form-data (RFC 7578) already wholly in memory: content_type is
 * the request's Content-Type value, which must be multipart/form-data with a
 * boundary parameter (quoted or not, 1-70 characters). Lines end in CRLF;
 * the preamble and the epilogue are ignored; every part needs a
 * Content-Disposition `form-data; name="..."` (filename optional; quoted
 * strings take backslash escapes) and may have a Content-Type. Returns 0 with
 * *out and *count set, or -1 for anything malformed: no final boundary, a part
 * without a name, bare LF line ends, more than MULTIPART_MAX_PARTS parts or
 * more than MULTIPART_MAX_HEADER_BYTES of headers in a part. Limits on the
 * body's size are the caller's. See form_field_t for where values live. */
int multipart_parse(arena_t *a, const char *content_type, size_t ct_len, const char *body, size_t len,
                    form_field_t **out, size_t *count);

/* One urlencoded name or value ('+' is a space, %XX a byte) into a
 * NUL-terminated arena copy; -1 for a malformed escape. */
int form_url_decode(arena_t *a, const char *s, size_t len, const char **out, size_t *out_len);

/* The first field called name, or NULL. */
const form_field_t *form_field_get(const form_field_t *fields, size_t count, const char *name);

/* "image/png", "image/jpeg", "image/gif" or "image/webp" from the first
 * bytes (magic numbers only), or NULL: never what the client declared. */
const char *media_sniff_image(const void *data, size_t len);

#endif
