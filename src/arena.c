#include "hourglass/arena.h"
#include "hourglass/mem.h"

#include <assert.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_ALIGN 16
#define ARENA_CHUNK_MIN 8192

struct arena_chunk {
    arena_chunk_t *next;
    size_t size;
    char *mem;
};

static size_t align_up(size_t n) { return (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1); }

void arena_init(arena_t *a, void *first, size_t first_size)
{
    memset(a, 0, sizeof(*a));
    a->first = first;
    a->first_size = first_size;
}

void *arena_alloc(arena_t *a, size_t n)
{
    size_t need = align_up(n ? n : 1);
    size_t size = a->head ? a->head->size : a->first_size;
    char *mem = a->head ? a->head->mem : a->first;
    if (!mem || a->used + need > size) {
        size_t csize = need > ARENA_CHUNK_MIN ? need : ARENA_CHUNK_MIN;
        /* Grow geometrically so a large body costs few chunks. */
        if (a->head && a->head->size * 2 > csize && a->head->size < (1u << 20))
            csize = a->head->size * 2;
        arena_chunk_t *c = mem_alloc(align_up(sizeof(*c)) + csize);
        c->mem = (char *)c + align_up(sizeof(*c));
        c->size = csize;
        c->next = a->head;
        a->head = c;
        a->used = 0;
        mem = c->mem;
    }
    void *p = mem + a->used;
    a->used += need;
    a->total += need;
    return p;
}

void *arena_calloc(arena_t *a, size_t n)
{
    void *p = arena_alloc(a, n);
    memset(p, 0, n);
    return p;
}

char *arena_strndup(arena_t *a, const char *s, size_t n)
{
    char *p = arena_alloc(a, n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *arena_strdup(arena_t *a, const char *s) { return arena_strndup(a, s, strlen(s)); }

/* Formats into a stack buffer first: most texts fit, and are formatted once. */
char *arena_printf(arena_t *a, const char *fmt, ...)
{
    char small[256];
    va_list ap, copy;
    va_start(ap, fmt);
    va_copy(copy, ap);
    int n = vsnprintf(small, sizeof(small), fmt, copy);
    va_end(copy);
    assert(n >= 0); /* only an invalid format fails, and formats are ours */
    char *p;
    if ((size_t)n < sizeof(small)) {
        p = arena_strndup(a, small, (size_t)n);
    } else {
        p = arena_alloc(a, (size_t)n + 1);
        vsnprintf(p, (size_t)n + 1, fmt, ap);
    }
    va_end(ap);
    return p;
}

void arena_reset(arena_t *a)
{
    arena_chunk_t *c = a->head;
    while (c) {
        arena_chunk_t *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
    a->used = 0;
    a->total = 0;
}

static int within(const char *mem, size_t size, const char *p, size_t n)
{
    return mem && p >= mem && n <= size && (size_t)(p - mem) <= size - n;
}

int arena_owns(const arena_t *a, const void *p, size_t n)
{
    if (within(a->first, a->first_size, p, n))
        return 1;
    for (const arena_chunk_t *c = a->head; c; c = c->next)
        if (within(c->mem, c->size, p, n))
            return 1;
    return 0;
}

void abuf_init(abuf_t *b, arena_t *a, size_t initial)
{
    b->arena = a;
    b->len = 0;
    b->cap = initial ? initial : 64;
    b->data = a ? arena_alloc(a, b->cap) : mem_alloc(b->cap);
    b->data[0] = '\0';
}

void abuf_free(abuf_t *b)
{
    assert(!b->arena); /* an arena's buffer goes with its arena */
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void abuf_consume(abuf_t *b, size_t n)
{
    assert(n <= b->len);
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
    b->data[b->len] = '\0';
}

/* Room for extra more bytes (and the NUL) without moving again. */
static void reserve(abuf_t *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap * 2 : 64;
    while (cap < b->len + extra + 1)
        cap *= 2;
    if (!b->arena) {
        b->data = mem_realloc(b->data, cap);
    } else {
        char *data = arena_alloc(b->arena, cap);
        memcpy(data, b->data, b->len);
        b->data = data;
    }
    b->cap = cap;
}

void abuf_append(abuf_t *b, const void *data, size_t n)
{
    reserve(b, n);
    memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void abuf_puts(abuf_t *b, const char *s) { abuf_append(b, s, strlen(s)); }

/* Formats into the room there is; only a longer text grows the buffer and
 * formats again. */
void abuf_printf(abuf_t *b, const char *fmt, ...)
{
    va_list ap, copy;
    va_start(ap, fmt);
    va_copy(copy, ap);
    size_t room = b->cap - b->len;
    int n = vsnprintf(b->data + b->len, room, fmt, copy);
    va_end(copy);
    assert(n >= 0); /* only an invalid format fails, and formats are ours */
    if ((size_t)n >= room) {
        reserve(b, (size_t)n);
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    }
    b->len += (size_t)n;
    va_end(ap);
}
