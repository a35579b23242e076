#ifndef HOURGLASS_IMPORT_CSV_H
#define HOURGLASS_IMPORT_CSV_H
#include <stddef.h>

#include "hourglass/arena.h"

/* The 1C reports the shop imports (stock, weights): `external_id;number`
 * lines, read one at a time straight into three PostgreSQL array literals
 * that one statement takes as parameters. A pure function of the bytes. */

#define IMPORT_MAX_ERRORS 1000   /* broken lines listed; the rest are only counted */
#define IMPORT_ID_MAX_CHARS 100  /* as goods.external_id and variations.external_id */
#define IMPORT_VALUE_MAX 2147483647LL /* the int columns amount and weight */

typedef struct {
    long line;        /* from 1 (the header is line 1) */
    const char *code; /* invalid_format, required, too_long, too_small, too_large */
} import_error_t;

typedef struct {
    abuf_t ids;    /* {"a","b"}: every element quoted, '"' and '\' escaped */
    abuf_t values; /* {5,0} */
    abuf_t lines;  /* {2,3}: where each row came from */
    size_t rows;
    import_error_t *errors; /* the first IMPORT_MAX_ERRORS broken lines, in order */
    size_t error_count;     /* every broken line */
    int not_text;           /* a NUL byte, or a byte Windows-1251 does not have */
} import_rows_t;

/* Empty arrays; size_hint (the input's length) spares the buffers growing. */
void import_rows_init(import_rows_t *r, arena_t *a, size_t size_hint);
/* Appends one row; line 0 leaves the lines array alone (a JSON list). */
void import_rows_add(import_rows_t *r, const char *id, size_t id_len, long long value, long line);
/* Closes the three literals ("}"); call once, before using them. */
void import_rows_finish(import_rows_t *r);

/* Reads a whole report: UTF-8 (a BOM is dropped) or, when the bytes are not
 * UTF-8, Windows-1251; LF or CRLF; `;` between two fields, each trimmed and
 * optionally in double quotes ("" inside is "); line 1 is a header when its
 * second field does not begin like a number; empty lines are skipped.
 * Returns 0 when every line is good (rows filled, finished), -1 otherwise
 * (not_text, or errors). */
int import_csv_parse(arena_t *a, const char *data, size_t len, import_rows_t *r);

/* One number as 1C writes it: digits, spaces or U+00A0 between them, and a
 * fraction of zeros only (`1 234`, `5,000`, `7.0`). NULL with *out set, or
 * the error's code (invalid_format, too_small for a negative, too_large). */
const char *import_number(const char *s, size_t len, long long *out);

#endif
