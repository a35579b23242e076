/* multipart/form-data: the first byte picks a Content-Type, the rest is the
 * body. Fields must be consistent, and a form rebuilt from them must parse
 * back to the same fields. */

#define _GNU_SOURCE /* memmem */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hourglass/forms.h"

static const char *const types[] = {
    "multipart/form-data; boundary=XyZ",
    "multipart/form-data; boundary=\"a b\\\"c\"", /* a '"' is no bchar: always refused */
    "multipart/form-data; charset=utf-8; boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW",
    "multipart/form-data; boundary=",
    "multipart/form-data",
    "multipart/form-data; boundary=\"a b\"",
    "Multipart/Form-Data;BOUNDARY=-",
    "multipart/form-data; boundary=1234567890123456789012345678901234567890123456789012345678901234567890",
};

#define REBUILT_BOUNDARY "hgRebuilt7fQ"

static void quote(abuf_t *b, const char *s)
{
    abuf_append(b, "\"", 1);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            abuf_append(b, "\\", 1);
        abuf_append(b, s, 1);
    }
    abuf_append(b, "\"", 1);
}

/* The same fields written out again in the plainest form; 0 when that is not
 * possible (a value holding the new delimiter, a header block now too long). */
static int rebuild(abuf_t *b, const form_field_t *f, size_t n)
{
    static const char delim[] = "\r\n--" REBUILT_BOUNDARY;
    for (size_t i = 0; i < n; i++) {
        if (memmem(f[i].value, f[i].value_len, delim, sizeof(delim) - 1))
            return 0;
        abuf_puts(b, "--" REBUILT_BOUNDARY "\r\n");
        size_t head = b->len;
        abuf_puts(b, "Content-Disposition: form-data; name=");
        quote(b, f[i].name);
        if (f[i].filename) {
            abuf_puts(b, "; filename=");
            quote(b, f[i].filename);
        }
        abuf_puts(b, "\r\n");
        if (f[i].content_type)
            abuf_printf(b, "Content-Type: %s\r\n", f[i].content_type);
        abuf_puts(b, "\r\n");
        if (b->len - head > MULTIPART_MAX_HEADER_BYTES)
            return 0;
        abuf_append(b, f[i].value, f[i].value_len);
        abuf_puts(b, "\r\n");
    }
    abuf_puts(b, "--" REBUILT_BOUNDARY "--\r\n");
    return 1;
}

static int same_string(const char *x, const char *y) { return (!x && !y) || (x && y && !strcmp(x, y)); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *ct = types[data[0] % (sizeof(types) / sizeof(types[0]))];
    /* the body gets a buffer of its own so ASan sees any read past its end */
    size_t len = size - 1;
    char *body = len ? malloc(len) : NULL;
    if (len)
        memcpy(body, data + 1, len);
    arena_t a;
    arena_init(&a, NULL, 0);
    form_field_t *f = NULL;
    size_t n = 0;
    if (multipart_parse(&a, ct, strlen(ct), body, len, &f, &n) == 0) {
        if (n > MULTIPART_MAX_PARTS || !f)
            abort();
        for (size_t i = 0; i < n; i++) {
            if (!f[i].name || !f[i].name_len || strlen(f[i].name) != f[i].name_len || f[i].value_len > len)
                abort();
            if (f[i].filename) {
                if (f[i].value < body || f[i].value + f[i].value_len > body + len) /* files stay in the body */
                    abort();
                (void)media_sniff_image(f[i].value, f[i].value_len);
            } else if (f[i].value[f[i].value_len] != '\0') {
                abort(); /* text fields are terminated copies */
            }
            if (f[i].content_type && !f[i].content_type[0])
                abort();
            if (form_field_get(f, n, f[i].name) > &f[i])
                abort();
        }
        abuf_t again;
        abuf_init(&again, &a, 256);
        if (rebuild(&again, f, n)) {
            static const char rebuilt_ct[] = "multipart/form-data; boundary=" REBUILT_BOUNDARY;
            form_field_t *g = NULL;
            size_t m = 0;
            if (multipart_parse(&a, rebuilt_ct, sizeof(rebuilt_ct) - 1, again.data, again.len, &g, &m) != 0 || m != n)
                abort();
            for (size_t i = 0; i < n; i++)
                if (strcmp(g[i].name, f[i].name) || !same_string(g[i].filename, f[i].filename) ||
                    !same_string(g[i].content_type, f[i].content_type) || g[i].value_len != f[i].value_len ||
                    memcmp(g[i].value, f[i].value, f[i].value_len))
                    abort();
        }
    } else if (f || n) {
        abort(); /* a refused form hands nothing back */
    }
    arena_reset(&a);
    free(body);
    return 0;
}
