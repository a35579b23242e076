#ifndef HOURGLASS_ARENA_H
#define HOURGLASS_ARENA_H
#include <stddef.h>

/* A bump allocator owned by one request: everything allocated from it is
 * released at once by arena_reset(), so handlers never free. */
typedef struct arena_chunk arena_chunk_t;
typedef struct {
    arena_chunk_t *head;  /* current chunk; older ones follow ->next */
    char *first;          /* optional caller-provided first chunk */
    size_t first_size;
    size_t used;          /* bytes used in the current chunk */
    size_t total;         /* bytes handed out, for limits and tests */
} arena_t;

void arena_init(arena_t *a, void *first, size_t first_size);
void *arena_alloc(arena_t *a, size_t n);
void *arena_calloc(arena_t *a, size_t n);
char *arena_strndup(arena_t *a, const char *s, size_t n);
char *arena_strdup(arena_t *a, const char *s);
char *arena_printf(arena_t *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Frees every chunk but the caller-provided first one. */
void arena_reset(arena_t *a);
/* Do the n bytes at p lie in memory the arena handed out? */
int arena_owns(const arena_t *a, const void *p, size_t n);

/* The one growable byte buffer: its storage comes from an arena (released
 * with it), or with arena NULL from the heap (released by abuf_free). The
 * bytes are always followed by a NUL. */
typedef struct {
    arena_t *arena;
    char *data;
    size_t len;
    size_t cap;
} abuf_t;

void abuf_init(abuf_t *b, arena_t *a, size_t initial);
void abuf_append(abuf_t *b, const void *data, size_t n);
void abuf_puts(abuf_t *b, const char *s);
void abuf_printf(abuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Drops the first n bytes (those written out, say). */
void abuf_consume(abuf_t *b, size_t n);
/* Frees a heap buffer's storage; it may be initialised again. */
void abuf_free(abuf_t *b);

#endif
