/* The answers cache (cache.h): process-wide generations, and per worker a
 * hash table of entries on a least-recently-used list. Each entry is one
 * allocation: its header, its items' slots, key, ETag, type and body. */
#include "hourglass/cache.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "hourglass/mem.h"

#define INITIAL_BUCKETS 64
/* An answer larger than this share of the store is not kept: one picture
 * must not push everything else out. */
#define MAX_SHARE_DIVISOR 8
#define SLOT_BITS 12
/* 2^64 / the golden ratio: multiplying by it spreads consecutive ids over the slots (Fibonacci hashing). */
#define FIBONACCI_MULTIPLIER 0x9E3779B97F4A7C15ull
_Static_assert(CACHE_ITEM_SLOTS == 1 << SLOT_BITS, "slots are a power of two");

/* The process's generation and what each key last saw of it. */
static uint64_t generation;
static uint64_t table_generation[CACHE_TABLES];
static uint64_t item_generation[CACHE_ITEM_SLOTS];
/* Keys of the hash table: a keyed hash, since queries are the client's. */
static unsigned char hash_key[crypto_shorthash_KEYBYTES];
static int hash_key_ready;

typedef struct entry {
    struct entry *chain;      /* the bucket's next */
    struct entry *newer, *older;
    uint64_t hash;
    uint64_t since;           /* the generation its read started at */
    unsigned tables;
    size_t item_count;
    size_t bytes;             /* accounted size */
    const char *key;
    size_t key_len;
    cache_answer_t answer;
    uint16_t slots[];
} entry_t;

struct cache {
    size_t max_bytes, bytes;
    entry_t **buckets;
    size_t bucket_count, count;
    entry_t *newest, *oldest;
    metrics_worker_t *metrics;
};

uint64_t cache_generation(void) { return __atomic_load_n(&generation, __ATOMIC_SEQ_CST); }

/* key = max(key, g): two writers may store out of order. */
static void raise_to(uint64_t *key, uint64_t g)
{
    uint64_t seen = __atomic_load_n(key, __ATOMIC_RELAXED);
    while (seen < g && !__atomic_compare_exchange_n(key, &seen, g, 0, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
        ;
}

void cache_invalidate(unsigned tables)
{
    uint64_t g = __atomic_add_fetch(&generation, 1, __ATOMIC_SEQ_CST);
    for (int t = 0; t < CACHE_TABLES; t++)
        if (tables & (1u << t))
            raise_to(&table_generation[t], g);
}

static uint16_t slot_of(int64_t id) { return (uint16_t)(((uint64_t)id * FIBONACCI_MULTIPLIER) >> (64 - SLOT_BITS)); }

void cache_invalidate_items(const int64_t *ids, size_t count)
{
    uint64_t g = __atomic_add_fetch(&generation, 1, __ATOMIC_SEQ_CST);
    for (size_t i = 0; i < count; i++)
        raise_to(&item_generation[slot_of(ids[i])], g);
}

static int current(const entry_t *e)
{
    unsigned tables = e->tables | CACHE_EVERYTHING;
    for (int t = 0; t < CACHE_TABLES; t++)
        if ((tables & (1u << t)) && __atomic_load_n(&table_generation[t], __ATOMIC_SEQ_CST) > e->since)
            return 0;
    for (size_t i = 0; i < e->item_count; i++)
        if (__atomic_load_n(&item_generation[e->slots[i]], __ATOMIC_SEQ_CST) > e->since)
            return 0;
    return 1;
}

cache_t *cache_new(size_t max_bytes, metrics_worker_t *m)
{
    if (!hash_key_ready) { /* on the main thread, before the workers start: read-only afterwards */
        randombytes_buf(hash_key, sizeof(hash_key));
        hash_key_ready = 1;
    }
    cache_t *c = mem_calloc(1, sizeof(*c));
    c->max_bytes = max_bytes;
    c->metrics = m;
    c->bucket_count = INITIAL_BUCKETS;
    c->buckets = mem_calloc(c->bucket_count, sizeof(*c->buckets));
    return c;
}

void cache_free(cache_t *c)
{
    if (!c)
        return;
    for (entry_t *e = c->newest, *next; e; e = next) {
        next = e->older;
        free(e);
    }
    metrics_gauge_add(c->metrics, GAUGE_CACHE_BYTES, -(int64_t)c->bytes);
    free(c->buckets);
    free(c);
}

int cache_enabled(const cache_t *c) { return c && c->max_bytes > 0; }

size_t cache_bytes(const cache_t *c) { return c->bytes; }

static uint64_t hash_of(const char *key, size_t len)
{
    unsigned char out[crypto_shorthash_BYTES];
    crypto_shorthash(out, (const unsigned char *)key, len, hash_key);
    uint64_t h;
    memcpy(&h, out, sizeof(h));
    return h;
}

static void list_unlink(cache_t *c, entry_t *e)
{
    if (e->newer)
        e->newer->older = e->older;
    else
        c->newest = e->older;
    if (e->older)
        e->older->newer = e->newer;
    else
        c->oldest = e->newer;
    e->newer = e->older = NULL;
}

static void list_push_newest(cache_t *c, entry_t *e)
{
    e->older = c->newest;
    e->newer = NULL;
    if (c->newest)
        c->newest->newer = e;
    c->newest = e;
    if (!c->oldest)
        c->oldest = e;
}

static entry_t **bucket_of(cache_t *c, uint64_t hash) { return &c->buckets[hash & (c->bucket_count - 1)]; }

static void drop(cache_t *c, entry_t *e)
{
    entry_t **p = bucket_of(c, e->hash);
    while (*p != e)
        p = &(*p)->chain;
    *p = e->chain;
    list_unlink(c, e);
    assert(c->bytes >= e->bytes && c->count > 0);
    c->bytes -= e->bytes;
    c->count--;
    metrics_gauge_add(c->metrics, GAUGE_CACHE_BYTES, -(int64_t)e->bytes);
    free(e);
}

static entry_t *find(cache_t *c, const char *key, size_t len, uint64_t hash)
{
    for (entry_t *e = *bucket_of(c, hash); e; e = e->chain)
        if (e->hash == hash && e->key_len == len && !memcmp(e->key, key, len))
            return e;
    return NULL;
}

const cache_answer_t *cache_get(cache_t *c, const char *key, size_t key_len)
{
    if (!cache_enabled(c))
        return NULL;
    entry_t *e = find(c, key, key_len, hash_of(key, key_len));
    if (e && !current(e)) {
        drop(c, e);
        e = NULL;
    }
    metrics_gauge_add(c->metrics, e ? COUNTER_CACHE_HITS : COUNTER_CACHE_MISSES, 1);
    if (!e)
        return NULL;
    list_unlink(c, e);
    list_push_newest(c, e);
    return &e->answer;
}

static void grow(cache_t *c)
{
    size_t n = c->bucket_count * 2;
    entry_t **b = mem_calloc(n, sizeof(*b));
    for (size_t i = 0; i < c->bucket_count; i++) {
        for (entry_t *e = c->buckets[i], *next; e; e = next) {
            next = e->chain;
            e->chain = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
        }
    }
    free(c->buckets);
    c->buckets = b;
    c->bucket_count = n;
}

/* Copies s into the entry's tail at *at; returns the copy. */
static const char *place(char **at, const void *s, size_t len)
{
    char *out = *at;
    memcpy(out, s, len);
    out[len] = '\0';
    *at += len + 1;
    return out;
}

int cache_put(cache_t *c, const char *key, size_t key_len, uint64_t since, unsigned tables, const int64_t *items,
              size_t item_count, const cache_answer_t *a)
{
    if (!cache_enabled(c) || item_count > CACHE_MAX_ITEMS)
        return 0;
    size_t type_len = strlen(a->content_type), etag_len = strlen(a->etag), control_len = strlen(a->cache_control);
    size_t head = sizeof(entry_t) + item_count * sizeof(uint16_t);
    size_t bytes = head + key_len + type_len + etag_len + control_len + a->len + 5; /* and their NULs */
    if (bytes > c->max_bytes / MAX_SHARE_DIVISOR)
        return 0;
    uint64_t hash = hash_of(key, key_len);
    entry_t *e = mem_alloc(bytes);
    *e = (entry_t){.hash = hash, .since = since, .tables = tables, .item_count = item_count, .bytes = bytes};
    for (size_t i = 0; i < item_count; i++)
        e->slots[i] = slot_of(items[i]);
    if (!current(e)) { /* a table or an item changed since the read began: nothing is dropped for it */
        free(e);
        return 0;
    }
    entry_t *old = find(c, key, key_len, hash);
    if (old)
        drop(c, old);
    while (c->bytes + bytes > c->max_bytes && c->oldest) {
        drop(c, c->oldest);
        metrics_gauge_add(c->metrics, COUNTER_CACHE_EVICTIONS, 1);
    }
    char *at = (char *)e + head;
    e->key = place(&at, key, key_len);
    e->key_len = key_len;
    e->answer.content_type = place(&at, a->content_type, type_len);
    e->answer.etag = place(&at, a->etag, etag_len);
    e->answer.cache_control = place(&at, a->cache_control, control_len);
    e->answer.body = place(&at, a->body, a->len);
    e->answer.len = a->len;
    if (c->count >= c->bucket_count)
        grow(c);
    entry_t **b = bucket_of(c, hash);
    e->chain = *b;
    *b = e;
    list_push_newest(c, e);
    c->count++;
    c->bytes += bytes;
    metrics_gauge_add(c->metrics, GAUGE_CACHE_BYTES, (int64_t)bytes);
    return 1;
}
