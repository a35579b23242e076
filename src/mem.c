#include "hourglass/mem.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Straight to stderr: the log's own buffers may be what could not be had. */
static void out_of_memory(size_t n)
{
    fprintf(stderr, "hourglass: out of memory allocating %zu bytes; aborting\n", n);
    abort();
}

void *mem_alloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        out_of_memory(n);
    return p;
}

void *mem_calloc(size_t count, size_t n)
{
    void *p = calloc(count ? count : 1, n ? n : 1);
    if (!p)
        out_of_memory(count * n);
    return p;
}

void *mem_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        out_of_memory(n);
    return q;
}

void *mem_reallocarray(void *p, size_t count, size_t n)
{
    if (n && count > SIZE_MAX / n)
        out_of_memory(SIZE_MAX);
    return mem_realloc(p, count * n);
}

char *mem_strndup(const char *s, size_t n)
{
    char *p = mem_alloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *mem_strdup(const char *s) { return mem_strndup(s, strlen(s)); }
