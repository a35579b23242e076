/* multipart/form-data: the first byte picks a content type, the rest is the body. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hourglass/forms.h"

static const char *const types[] = {
    "multipart/form-data; boundary=XyZ",
    "multipart/form-data; boundary=\"a b\\\"c\"",
    "multipart/form-data; charset=utf-8; boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW",
    "multipart/form-data; boundary=",
    "multipart/form-data",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *ct = types[data[0] % (sizeof(types) / sizeof(types[0]))];
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    arena_t a;
    arena_init(&a, NULL, 0);
    form_field_t *f = NULL;
    size_t n = 0;
    if (multipart_parse(&a, ct, strlen(ct), body, len, &f, &n) == 0) {
        if (n > MULTIPART_MAX_PARTS)
            abort();
        for (size_t i = 0; i < n; i++) {
            /* every value lies inside the body */
            if (f[i].value < body || f[i].value + f[i].value_len > body + len || !f[i].name)
                abort();
            if (f[i].filename)
                (void)media_sniff_image(f[i].value, f[i].value_len);
        }
    }
    arena_reset(&a);
    return 0;
}
