#ifndef HOURGLASS_FORMS_H
#define HOURGLASS_FORMS_H
#include <stddef.h>

#include "hourglass/arena.h"

/* A form field. Names, file names and types are NUL-terminated copies in the
 * arena; a multipart value points into the body it came from (use value_len:
 * files may hold NUL bytes). */
typedef struct {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
    const char *filename;     /* multipart files only */
    const char *content_type; /* multipart parts that declare one */
} form_field_t;

#define FORM_MAX_FIELDS 64
#define MULTIPART_MAX_PARTS 32

/* a=1&b=x+y&c=%41. 0, or -1 for a bad escape or too many fields. */
int form_urlencoded_parse(arena_t *a, const char *body, size_t len, form_field_t **out, size_t *count);
/* RFC 7578 with CRLF line ends; the boundary comes from content_type.
 * 0, or -1 for anything malformed. */
int multipart_parse(arena_t *a, const char *content_type, size_t ct_len, const char *body, size_t len,
                    form_field_t **out, size_t *count);
const form_field_t *form_field_get(const form_field_t *fields, size_t count, const char *name);

/* "image/png", "image/jpeg", "image/gif", "image/webp" from the first bytes, or NULL. */
const char *media_sniff_image(const void *data, size_t len);

#endif
