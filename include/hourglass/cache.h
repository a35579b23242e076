#ifndef HOURGLASS_CACHE_H
#define HOURGLASS_CACHE_H
#include <stddef.h>
#include <stdint.h>

#include "hourglass/metrics.h"

/* Rendered answers kept in memory (the shop's public catalogue), one store
 * per worker, bounded in bytes, least recently used first out.
 *
 * Invalidation needs no message between threads: the process keeps one
 * generation counter, and a key (a table, or an item hashed into a slot)
 * remembers the generation of its last change. A writer bumps the keys it
 * changed after its commit and before it answers. A reader takes the
 * generation before its database read starts; the answer it stores is
 * current while none of its keys has moved past that generation. So an
 * answer read before a write is never kept as current, and no read after the
 * write's answer finds the old bytes, on any worker. */

/* Table keys are bits of a mask (up to CACHE_TABLES), named by the user of
 * the cache; bit 0 is reserved: every answer depends on it. */
#define CACHE_TABLES 32
#define CACHE_EVERYTHING 1u
/* Items (the shop's goods) are hashed into this many slots; two items that
 * share one only cost each other a refill. */
#define CACHE_ITEM_SLOTS 4096
/* At most this many items per answer (a page of 200 goods). */
#define CACHE_MAX_ITEMS 256

/* The generation a read starts at. */
uint64_t cache_generation(void);
/* A change of these tables (mask) or items was committed: what depended on
 * them is stale from now on, in every worker's store. */
void cache_invalidate(unsigned tables);
void cache_invalidate_items(const int64_t *ids, size_t count);

/* What a store keeps of one answer. */
typedef struct {
    const char *content_type;
    const char *etag;  /* the ETag value, quotes included */
    const char *cache_control;
    const void *body;
    size_t len;
} cache_answer_t;

typedef struct cache cache_t;

/* max_bytes 0: a store that keeps nothing. m may be NULL (tests). */
cache_t *cache_new(size_t max_bytes, metrics_worker_t *m);
void cache_free(cache_t *c);
int cache_enabled(const cache_t *c);
/* The answer stored under key while it is current (it becomes the most
 * recently used), else NULL; a stale one is dropped. Counts a hit or a miss.
 * The answer stays valid until the next call on this store. */
const cache_answer_t *cache_get(cache_t *c, const char *key, size_t key_len);
/* Keeps an answer whose read started at generation `since` and depends on
 * tables and items. Nothing is kept when it is stale already, larger than
 * an eighth of the store, or the store is off. Returns 1 when kept. */
int cache_put(cache_t *c, const char *key, size_t key_len, uint64_t since, unsigned tables, const int64_t *items,
              size_t item_count, const cache_answer_t *a);
/* Bytes held, by the accounting that max_bytes bounds. */
size_t cache_bytes(const cache_t *c);

#endif
