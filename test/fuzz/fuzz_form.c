/* application/x-www-form-urlencoded bodies: anything in, consistent fields out. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hourglass/forms.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    arena_t a;
    arena_init(&a, NULL, 0);
    form_field_t *f = NULL;
    size_t n = 0;
    if (form_urlencoded_parse(&a, (const char *)data, size, &f, &n) == 0) {
        if (n > FORM_MAX_FIELDS)
            abort();
        for (size_t i = 0; i < n; i++) {
            /* decoding only shrinks; names and values are terminated */
            if (f[i].name_len > size || f[i].value_len > size || f[i].name[f[i].name_len] != '\0' ||
                f[i].value[f[i].value_len] != '\0')
                abort();
            if (form_field_get(f, n, f[i].name) == NULL)
                abort();
        }
    }
    arena_reset(&a);
    return 0;
}
