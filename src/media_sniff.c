/* The type of an upload is what its bytes say, whatever the client claims. */
#include <string.h>

#include "hourglass/forms.h"

const char *media_sniff_image(const void *data, size_t len)
{
    const unsigned char *b = data;
    if (len >= 8 && !memcmp(b, "\x89PNG\r\n\x1a\n", 8))
        return "image/png";
    if (len >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF)
        return "image/jpeg";
    if (len >= 6 && (!memcmp(b, "GIF87a", 6) || !memcmp(b, "GIF89a", 6)))
        return "image/gif";
    if (len >= 12 && !memcmp(b, "RIFF", 4) && !memcmp(b + 8, "WEBP", 4))
        return "image/webp";
    return NULL;
}
