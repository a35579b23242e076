/* application/x-www-form-urlencoded bodies: anything in, consistent fields
 * out, and what comes out survives being encoded and parsed again. */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hourglass/forms.h"

static void encode(abuf_t *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' || c == '-') {
            abuf_append(b, &s[i], 1);
        } else if (c == ' ') {
            abuf_append(b, "+", 1);
        } else {
            char esc[3] = {'%', hex[c >> 4], hex[c & 15]};
            abuf_append(b, esc, 3);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    arena_t a;
    arena_init(&a, NULL, 0);
    form_field_t *f = NULL;
    size_t n = 0;
    if (form_urlencoded_parse(&a, (const char *)data, size, &f, &n) == 0) {
        if (n > FORM_MAX_FIELDS || (n && !f))
            abort();
        abuf_t again;
        abuf_init(&again, &a, 64);
        for (size_t i = 0; i < n; i++) {
            /* decoding only shrinks; both sides are terminated; names hold no NUL */
            if (!f[i].name || !f[i].value || f[i].name_len > size || f[i].value_len > size ||
                f[i].name[f[i].name_len] != '\0' || f[i].value[f[i].value_len] != '\0' ||
                strlen(f[i].name) != f[i].name_len || f[i].filename || f[i].content_type)
                abort();
            const form_field_t *first = form_field_get(f, n, f[i].name);
            if (!first || first > &f[i] || strcmp(first->name, f[i].name))
                abort();
            if (i)
                abuf_append(&again, "&", 1);
            encode(&again, f[i].name, f[i].name_len);
            abuf_append(&again, "=", 1);
            encode(&again, f[i].value, f[i].value_len);
        }
        form_field_t *g = NULL;
        size_t m = 0;
        if (form_urlencoded_parse(&a, again.data, again.len, &g, &m) != 0 || m != n)
            abort();
        for (size_t i = 0; i < n; i++)
            if (g[i].name_len != f[i].name_len || memcmp(g[i].name, f[i].name, f[i].name_len) ||
                g[i].value_len != f[i].value_len || memcmp(g[i].value, f[i].value, f[i].value_len))
                abort();
    } else if (f || n) {
        abort(); /* a refused form hands nothing back */
    }
    arena_reset(&a);
    return 0;
}
