/* Upload sniffing: media_sniff_image() reads only the bytes it is given (the
 * input is copied to a buffer of exactly its size), and a type it names is
 * one of the four, with the magic number it implies. */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hourglass/forms.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char *copy = malloc(size ? size : 1);
    memcpy(copy, data, size);
    const char *t = media_sniff_image(copy, size);
    if (t) {
        int ok = (!strcmp(t, "image/png") && size >= 8 && copy[0] == 0x89) ||
                 (!strcmp(t, "image/jpeg") && size >= 3 && copy[0] == 0xFF) ||
                 (!strcmp(t, "image/gif") && size >= 6 && copy[0] == 'G') ||
                 (!strcmp(t, "image/webp") && size >= 12 && copy[0] == 'R');
        if (!ok)
            abort();
    }
    /* every prefix is sniffed without reading past its end */
    for (size_t n = 0; n < size && n < 16; n++) {
        unsigned char *prefix = malloc(n ? n : 1);
        memcpy(prefix, data, n);
        (void)media_sniff_image(prefix, n);
        free(prefix);
    }
    free(copy);
    return 0;
}
