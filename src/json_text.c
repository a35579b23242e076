#include "hourglass/json_text.h"

#include <stdio.h>

void abuf_json_string(abuf_t *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    abuf_append(b, "\"", 1);
    size_t run = 0; /* bytes copied as they are, flushed in one append */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        abuf_append(b, s + run, i - run);
        run = i + 1;
        char esc[6] = {'\\', 0};
        size_t n = 2;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            esc[1] = 'u';
            abuf_append(b, esc, 2);
            char u[4] = {'0', '0', hex[c >> 4], hex[c & 15]};
            abuf_append(b, u, 4);
            n = 0;
        }
        if (n)
            abuf_append(b, esc, n);
    }
    abuf_append(b, s + run, len - run);
    abuf_append(b, "\"", 1);
}

void abuf_pg_array_text(abuf_t *b, const char *s, size_t len)
{
    abuf_append(b, "\"", 1);
    size_t run = 0; /* from here on, copied as it is */
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '"' && s[i] != '\\')
            continue;
        abuf_append(b, s + run, i - run);
        abuf_append(b, "\\", 1);
        run = i;
    }
    abuf_append(b, s + run, len - run);
    abuf_append(b, "\"", 1);
}

size_t json_text_utf8_next(const unsigned char *s, size_t len, uint32_t *cp)
{
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    size_t n = (s[0] >> 5) == 6 ? 2 : (s[0] >> 4) == 14 ? 3 : (s[0] >> 3) == 30 ? 4 : 0;
    if (!n || n > len)
        return 0;
    uint32_t v = s[0] & (0x7f >> n);
    for (size_t i = 1; i < n; i++) {
        if ((s[i] >> 6) != 2)
            return 0;
        v = (v << 6) | (s[i] & 0x3f);
    }
    static const uint32_t min_for_len[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (v < min_for_len[n] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return n;
}
