#ifndef HOURGLASS_JSON_TEXT_H
#define HOURGLASS_JSON_TEXT_H
#include <stddef.h>
#include <stdint.h>

#include "hourglass/arena.h"

/* Appends s as a JSON string literal (with quotes), escaping as RFC 8259 asks. */
void abuf_json_string(abuf_t *b, const char *s, size_t len);
/* Appends s as an element of a PostgreSQL array literal: quoted, " and \ escaped. */
void abuf_pg_array_text(abuf_t *b, const char *s, size_t len);
/* Decodes the UTF-8 sequence at s into *cp; returns its length, or 0 for an
 * invalid one (truncated, overlong, a surrogate, or beyond U+10FFFF). */
size_t json_text_utf8_next(const unsigned char *s, size_t len, uint32_t *cp);

#endif
