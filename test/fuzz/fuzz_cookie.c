/* Cookie headers through http_cookie_get(): the input is the header's value.
 * Whatever comes back is a copy of bytes of the header, without a ';', and a
 * name that occurs first as `name=` is found. A request with no Cookie header
 * at all is asked too. */

#define _GNU_SOURCE /* memmem */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hourglass/http.h"

static const char *const names[] = {"access_token", "refresh_token", "a", "", "x y", "=", "\"q\""};

static void check(http_request_t *req, const uint8_t *data, size_t size, const char *name)
{
    const char *v = http_cookie_get(req, name);
    if (!v)
        return;
    size_t len = strlen(v);
    if (len > size || memchr(v, ';', len) || (len && !memmem(data, size, v, len)))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    http_request_t req;
    memset(&req, 0, sizeof(req));
    arena_init(&req.arena, NULL, 0);
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (http_cookie_get(&req, names[i])) /* no Cookie header */
            abort();
    /* the value as the parser keeps it: its own copy, with no terminator after it */
    char *copy = arena_alloc(&req.arena, size ? size : 1);
    memcpy(copy, data, size);
    http_header_t h = {"Cookie", 6, copy, size};
    req.headers = &h;
    req.header_count = 1;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        check(&req, data, size, names[i]);
    /* the name of the first pair, whatever it is, is found when it has no ';' */
    const uint8_t *eq = memchr(data, '=', size);
    size_t skip = 0;
    while (skip < size && (data[skip] == ' ' || data[skip] == ';'))
        skip++;
    if (eq && (size_t)(eq - data) > skip && !memchr(data + skip, ';', (size_t)(eq - data) - skip) &&
        !memchr(data + skip, '\0', (size_t)(eq - data) - skip)) {
        char *name = arena_strndup(&req.arena, (const char *)data + skip, (size_t)(eq - data) - skip);
        if (!http_cookie_get(&req, name))
            abort();
        check(&req, data, size, name);
    }
    arena_reset(&req.arena);
    return 0;
}
