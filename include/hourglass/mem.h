#ifndef HOURGLASS_MEM_H
#define HOURGLASS_MEM_H
#include <stddef.h>

/* One allocation policy (STYLE.md, as Kore's kore_malloc): the server's own
 * objects come from these, which never return NULL. Out of memory writes one
 * line naming the size and aborts: a half-made connection or pool is worse
 * than a restart by the supervisor. A size a client chooses (a body, the
 * answers queued for a connection) is checked against its limit before it is
 * allocated, and refused with a status, never left to these. */
#define MEM_RETURNS __attribute__((returns_nonnull, warn_unused_result))
void *mem_alloc(size_t n) MEM_RETURNS __attribute__((malloc));
void *mem_calloc(size_t count, size_t n) MEM_RETURNS __attribute__((malloc));
void *mem_realloc(void *p, size_t n) MEM_RETURNS;
char *mem_strdup(const char *s) MEM_RETURNS __attribute__((malloc));
char *mem_strndup(const char *s, size_t n) MEM_RETURNS __attribute__((malloc));
/* realloc for count elements of n bytes, refusing a product that overflows. */
void *mem_reallocarray(void *p, size_t count, size_t n) MEM_RETURNS;

#endif
