/* The 1C reports (import_csv.h): a file is read line by line, each good line
 * appended at once to the array literals that the statement takes, so
 * nothing but those parameters grows with the file. */
#include "hourglass/import_csv.h"

#include <stdint.h>
#include <string.h>

#include "hourglass/json_text.h"

/* Windows-1251's upper half as code points; 0x98 is not a character. */
static const uint16_t cp1251[128] = {
    0x0402, 0x0403, 0x201A, 0x0453, 0x201E, 0x2026, 0x2020, 0x2021,
    0x20AC, 0x2030, 0x0409, 0x2039, 0x040A, 0x040C, 0x040B, 0x040F,
    0x0452, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
    0,      0x2122, 0x0459, 0x203A, 0x045A, 0x045C, 0x045B, 0x045F,
    0x00A0, 0x040E, 0x045E, 0x0408, 0x00A4, 0x0490, 0x00A6, 0x00A7,
    0x0401, 0x00A9, 0x0404, 0x00AB, 0x00AC, 0x00AD, 0x00AE, 0x0407,
    0x00B0, 0x00B1, 0x0406, 0x0456, 0x0491, 0x00B5, 0x00B6, 0x00B7,
    0x0451, 0x2116, 0x0454, 0x00BB, 0x0458, 0x0405, 0x0455, 0x0457,
    0x0410, 0x0411, 0x0412, 0x0413, 0x0414, 0x0415, 0x0416, 0x0417,
    0x0418, 0x0419, 0x041A, 0x041B, 0x041C, 0x041D, 0x041E, 0x041F,
    0x0420, 0x0421, 0x0422, 0x0423, 0x0424, 0x0425, 0x0426, 0x0427,
    0x0428, 0x0429, 0x042A, 0x042B, 0x042C, 0x042D, 0x042E, 0x042F,
    0x0430, 0x0431, 0x0432, 0x0433, 0x0434, 0x0435, 0x0436, 0x0437,
    0x0438, 0x0439, 0x043A, 0x043B, 0x043C, 0x043D, 0x043E, 0x043F,
    0x0440, 0x0441, 0x0442, 0x0443, 0x0444, 0x0445, 0x0446, 0x0447,
    0x0448, 0x0449, 0x044A, 0x044B, 0x044C, 0x044D, 0x044E, 0x044F,
};

static int is_utf8(const char *data, size_t len)
{
    const unsigned char *s = (const unsigned char *)data;
    uint32_t cp;
    for (size_t i = 0; i < len;) {
        size_t n = json_text_utf8_next(s + i, len - i, &cp);
        if (!n)
            return 0;
        i += n;
    }
    return 1;
}

static size_t utf8_chars(const char *s, size_t len)
{
    size_t chars = 0;
    for (size_t i = 0; i < len; i++)
        chars += ((unsigned char)s[i] & 0xC0) != 0x80;
    return chars;
}

/* One Windows-1251 line as UTF-8 into out (reused from line to line); -1 for 0x98. */
static int cp1251_line(abuf_t *out, const char *s, size_t len)
{
    out->len = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        char u[3];
        if (c < 0x80) {
            abuf_append(out, &s[i], 1);
            continue;
        }
        uint16_t cp = cp1251[c - 0x80];
        if (!cp)
            return -1;
        if (cp < 0x800) {
            u[0] = (char)(0xC0 | cp >> 6);
            u[1] = (char)(0x80 | (cp & 0x3F));
            abuf_append(out, u, 2);
        } else {
            u[0] = (char)(0xE0 | cp >> 12);
            u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
            u[2] = (char)(0x80 | (cp & 0x3F));
            abuf_append(out, u, 3);
        }
    }
    return 0;
}

void import_rows_init(import_rows_t *r, arena_t *a, size_t size_hint)
{
    memset(r, 0, sizeof(*r));
    abuf_init(&r->ids, a, size_hint + 64);
    abuf_init(&r->values, a, size_hint / 2 + 64);
    abuf_init(&r->lines, a, size_hint / 2 + 64);
    abuf_puts(&r->ids, "{");
    abuf_puts(&r->values, "{");
    abuf_puts(&r->lines, "{");
}

void import_rows_add(import_rows_t *r, const char *id, size_t id_len, long long value, long line)
{
    const char *sep = r->rows++ ? "," : "";
    abuf_puts(&r->ids, sep);
    abuf_pg_array_text(&r->ids, id, id_len);
    abuf_printf(&r->values, "%s%lld", sep, value);
    if (line)
        abuf_printf(&r->lines, "%s%ld", sep, line);
}

void import_rows_finish(import_rows_t *r)
{
    abuf_puts(&r->ids, "}");
    abuf_puts(&r->values, "}");
    abuf_puts(&r->lines, "}");
}

static int is_blank(char c) { return c == ' ' || c == '\t'; }

/* A run of separators between digit groups: a space, a tab or U+00A0. */
static size_t group_space(const char *s, size_t len)
{
    if (len && is_blank(s[0]))
        return 1;
    if (len >= 2 && (unsigned char)s[0] == 0xC2 && (unsigned char)s[1] == 0xA0)
        return 2;
    return 0;
}

const char *import_number(const char *s, size_t len, long long *out)
{
    size_t i = 0;
    int negative = 0, digits = 0, too_large = 0;
    long long v = 0;
    if (i < len && s[i] == '-') {
        negative = 1;
        i++;
    }
    while (i < len) {
        if (s[i] >= '0' && s[i] <= '9') {
            if (v > (IMPORT_VALUE_MAX - (s[i] - '0')) / 10)
                too_large = 1;
            else
                v = v * 10 + (s[i] - '0');
            digits++;
            i++;
            continue;
        }
        size_t sp = group_space(s + i, len - i);
        /* a separator only between two digits */
        if (!sp || !digits || i + sp >= len || s[i + sp] < '0' || s[i + sp] > '9')
            break;
        i += sp;
    }
    if (!digits)
        return "invalid_format";
    if (i < len && (s[i] == ',' || s[i] == '.')) {
        size_t zeros = 0;
        for (i++; i < len && s[i] == '0'; i++)
            zeros++;
        if (!zeros)
            return "invalid_format";
    }
    if (i != len)
        return "invalid_format";
    if (negative && (v || too_large))
        return "too_small";
    if (too_large)
        return "too_large";
    *out = v;
    return NULL;
}

/* Does a field begin like a number: a digit, or '-' and a digit? */
static int looks_numeric(const char *s, size_t len)
{
    if (len && s[0] == '-') {
        s++;
        len--;
    }
    return len && s[0] >= '0' && s[0] <= '9';
}

typedef struct {
    const char *text;
    size_t len;
} field_t;

/* Splits a line into at most 3 fields (a third is already one too many),
 * unquoting into scratch. Returns the field count, or -1 for broken quotes. */
static int split_line(const char *s, size_t len, field_t f[3], abuf_t *scratch)
{
    int n = 0;
    size_t i = 0;
    scratch->len = 0;
    /* Quoted fields are unquoted into scratch, which must not move while the
     * fields point into it: room for the whole line, made before. */
    if (scratch->cap < len + 1) {
        scratch->cap = len + 1;
        scratch->data = arena_alloc(scratch->arena, scratch->cap);
    }
    for (;;) {
        while (i < len && is_blank(s[i]))
            i++;
        field_t cur;
        if (i < len && s[i] == '"') {
            size_t start = scratch->len;
            for (i++;; i++) {
                if (i >= len)
                    return -1;
                if (s[i] == '"') {
                    if (i + 1 < len && s[i + 1] == '"') {
                        abuf_append(scratch, "\"", 1);
                        i++;
                        continue;
                    }
                    i++;
                    break;
                }
                abuf_append(scratch, &s[i], 1);
            }
            cur.text = scratch->data + start;
            cur.len = scratch->len - start;
            while (i < len && is_blank(s[i]))
                i++;
            if (i < len && s[i] != ';')
                return -1;
        } else {
            size_t start = i;
            while (i < len && s[i] != ';')
                i++;
            size_t end = i;
            while (end > start && is_blank(s[end - 1]))
                end--;
            cur.text = s + start;
            cur.len = end - start;
        }
        if (n < 3)
            f[n] = cur;
        n++;
        if (i >= len || n == 3)
            return n;
        i++; /* the ';' */
    }
}

static void add_error(import_rows_t *r, arena_t *a, long line, const char *code)
{
    if (r->error_count < IMPORT_MAX_ERRORS) {
        if (!r->errors)
            r->errors = arena_alloc(a, IMPORT_MAX_ERRORS * sizeof(*r->errors));
        r->errors[r->error_count] = (import_error_t){line, code};
    }
    r->error_count++;
}

/* One line, already UTF-8 and without its line end. */
static void parse_line(import_rows_t *r, arena_t *a, const char *s, size_t len, long line, abuf_t *scratch)
{
    size_t k = 0;
    while (k < len && is_blank(s[k]))
        k++;
    if (k == len)
        return; /* empty lines are skipped, but counted */
    field_t f[3];
    int n = split_line(s, len, f, scratch);
    if (line == 1 && n == 2 && !looks_numeric(f[1].text, f[1].len))
        return; /* the header */
    if (n != 2) {
        add_error(r, a, line, "invalid_format");
        return;
    }
    if (!f[0].len) {
        add_error(r, a, line, "required");
        return;
    }
    if (utf8_chars(f[0].text, f[0].len) > IMPORT_ID_MAX_CHARS) {
        add_error(r, a, line, "too_long");
        return;
    }
    long long value;
    const char *err = import_number(f[1].text, f[1].len, &value);
    if (err) {
        add_error(r, a, line, err);
        return;
    }
    if (!r->error_count) /* a broken file sends nothing: stop building */
        import_rows_add(r, f[0].text, f[0].len, value, line);
}

int import_csv_parse(arena_t *a, const char *data, size_t len, import_rows_t *r)
{
    import_rows_init(r, a, len);
    if (len && memchr(data, '\0', len)) {
        r->not_text = 1;
        return -1;
    }
    int utf8 = 1;
    if (len >= 3 && !memcmp(data, "\xEF\xBB\xBF", 3)) {
        data += 3;
        len -= 3;
        if (!is_utf8(data, len)) {
            r->not_text = 1;
            return -1;
        }
    } else {
        utf8 = is_utf8(data, len);
    }
    abuf_t converted, scratch;
    abuf_init(&converted, a, utf8 ? 1 : 256);
    abuf_init(&scratch, a, 256);
    long line = 0;
    for (size_t at = 0; at < len;) {
        const char *nl = memchr(data + at, '\n', len - at);
        size_t end = nl ? (size_t)(nl - data) : len, line_len = end - at;
        const char *s = data + at;
        line++;
        at = nl ? end + 1 : len;
        if (line_len && s[line_len - 1] == '\r')
            line_len--;
        if (!utf8) {
            if (cp1251_line(&converted, s, line_len)) {
                r->not_text = 1;
                return -1;
            }
            s = converted.data;
            line_len = converted.len;
        }
        parse_line(r, a, s, line_len, line, &scratch);
    }
    import_rows_finish(r);
    return r->error_count ? -1 : 0;
}
