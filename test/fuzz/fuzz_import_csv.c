/* The 1C reports (import_csv.c): anything in; a file is taken whole or
 * refused, and what is taken comes out as well-formed array literals, one
 * element per row, numbers in range, lines in order. */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hourglass/import_csv.h"

/* The elements of "{1,2,3}": -1 when the literal is not such a list of
 * numbers in range, strictly increasing when increasing is set. */
static long numbers(const abuf_t *b, int increasing)
{
    if (b->len < 2 || b->data[0] != '{' || b->data[b->len - 1] != '}')
        return -1;
    if (b->len == 2)
        return 0;
    long count = 0;
    long long last = -1;
    const char *s = b->data + 1, *end = b->data + b->len - 1;
    while (s < end) {
        char *next;
        long long v = strtoll(s, &next, 10);
        if (next == s || v < 0 || v > IMPORT_VALUE_MAX || (increasing && v <= last))
            return -1;
        last = v;
        count++;
        if (next == end)
            break;
        if (*next != ',')
            return -1;
        s = next + 1;
    }
    return count;
}

/* The elements of {"a","b"}: each quoted, with only \" and \\ escaped. */
static long strings(const abuf_t *b)
{
    if (b->len < 2 || b->data[0] != '{' || b->data[b->len - 1] != '}')
        return -1;
    long count = 0;
    size_t i = 1;
    while (i < b->len - 1) {
        if (b->data[i++] != '"')
            return -1;
        size_t chars = 0;
        for (;; i++, chars++) {
            if (i >= b->len - 1)
                return -1;
            if (b->data[i] == '\\') {
                if (b->data[i + 1] != '"' && b->data[i + 1] != '\\')
                    return -1;
                i++;
            } else if (b->data[i] == '"') {
                break;
            }
        }
        if (!chars)
            return -1; /* an empty id is refused, never sent */
        i++;
        count++;
        if (i < b->len - 1 && b->data[i++] != ',')
            return -1;
    }
    return count;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    arena_t a;
    arena_init(&a, NULL, 0);
    import_rows_t r;
    long lines = 1;
    for (size_t i = 0; i < size; i++)
        lines += data[i] == '\n';
    if (import_csv_parse(&a, (const char *)data, size, &r) == 0) {
        if (r.error_count || r.not_text)
            abort();
        if (strings(&r.ids) != (long)r.rows || numbers(&r.values, 0) != (long)r.rows ||
            numbers(&r.lines, 1) != (long)r.rows)
            abort();
    } else if (!r.not_text) {
        if (!r.error_count || !r.errors)
            abort();
        long last = 0;
        for (size_t i = 0; i < r.error_count && i < IMPORT_MAX_ERRORS; i++) {
            if (r.errors[i].line <= last || r.errors[i].line > lines || !r.errors[i].code)
                abort();
            last = r.errors[i].line;
        }
    }
    arena_reset(&a);
    return 0;
}
