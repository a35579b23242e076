#include <stdio.h>
#include <stdlib.h>

#include "hourglass/cache.h"
#include "unit.h"

#define TABLE_A (1u << 1)
#define TABLE_B (1u << 2)

static cache_answer_t answer(const char *body)
{
    return (cache_answer_t){.content_type = "application/json", .etag = "\"e\"", .cache_control = "public",
                            .body = body, .len = strlen(body)};
}

static int put(cache_t *c, const char *key, uint64_t since, unsigned tables, const int64_t *items, size_t n,
               const char *body)
{
    cache_answer_t a = answer(body);
    return cache_put(c, key, strlen(key), since, tables, items, n, &a);
}

static const char *get(cache_t *c, const char *key)
{
    const cache_answer_t *a = cache_get(c, key, strlen(key));
    return a ? a->body : NULL;
}

TEST(cache_keeps_answers_until_what_they_show_changes)
{
    cache_t *c = cache_new(1 << 20, NULL);
    int64_t goods[] = {7, 9};
    uint64_t g = cache_generation();
    CHECK(put(c, "list", g, TABLE_A, goods, 2, "[7,9]") == 1);
    CHECK(put(c, "other", g, TABLE_B, NULL, 0, "b") == 1);
    CHECK_STR(get(c, "list"), "[7,9]");
    CHECK(!get(c, "missing"));
    /* a change of another item or table leaves it */
    int64_t eleven = 11;
    cache_invalidate_items(&eleven, 1);
    cache_invalidate(TABLE_B);
    CHECK_STR(get(c, "list"), "[7,9]");
    CHECK(!get(c, "other"));
    /* a change of one of its items drops it */
    int64_t nine = 9;
    cache_invalidate_items(&nine, 1);
    CHECK(!get(c, "list"));
    /* so does a change of its table, and the everything key */
    g = cache_generation();
    CHECK(put(c, "list", g, TABLE_A, goods, 2, "[7,9]") == 1);
    cache_invalidate(TABLE_A);
    CHECK(!get(c, "list"));
    g = cache_generation();
    CHECK(put(c, "list", g, TABLE_A, NULL, 0, "x") == 1);
    cache_invalidate(CACHE_EVERYTHING);
    CHECK(!get(c, "list"));
    cache_free(c);
}

TEST(cache_never_keeps_an_answer_read_before_a_write)
{
    cache_t *c = cache_new(1 << 20, NULL);
    int64_t good = 5;
    /* the read starts, a write commits and is announced, then the read's answer arrives */
    uint64_t since = cache_generation();
    cache_invalidate(TABLE_A);
    CHECK(put(c, "a", since, TABLE_A, NULL, 0, "old") == 0);
    CHECK(!get(c, "a"));
    since = cache_generation();
    cache_invalidate_items(&good, 1);
    CHECK(put(c, "g", since, TABLE_B, &good, 1, "old") == 0);
    /* a read that starts after the write keeps its answer */
    since = cache_generation();
    CHECK(put(c, "g", since, TABLE_B, &good, 1, "new") == 1);
    CHECK_STR(get(c, "g"), "new");
    cache_free(c);
}

TEST(cache_stays_within_its_bound_least_recently_used_first)
{
    size_t max = 64 * 1024;
    cache_t *c = cache_new(max, NULL);
    char body[1000], key[32];
    memset(body, 'x', sizeof(body) - 1);
    body[sizeof(body) - 1] = '\0';
    uint64_t g = cache_generation();
    CHECK(put(c, "first", g, TABLE_A, NULL, 0, body) == 1);
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof(key), "q=%d", i);
        CHECK(put(c, key, g, TABLE_A, NULL, 0, body) == 1);
        CHECK(cache_bytes(c) <= max);
        CHECK(get(c, "first")); /* used all along: never the one to go */
    }
    CHECK(!get(c, "q=0"));
    CHECK(get(c, "q=999"));
    /* an answer larger than an eighth of the store is not kept */
    char *big = malloc(max / 4);
    memset(big, 'y', max / 4 - 1);
    big[max / 4 - 1] = '\0';
    CHECK(put(c, "big", g, TABLE_A, NULL, 0, big) == 0);
    free(big);
    /* the same key again replaces its answer */
    CHECK(put(c, "first", cache_generation(), TABLE_A, NULL, 0, "again") == 1);
    CHECK_STR(get(c, "first"), "again");
    cache_free(c);
}

TEST(cache_of_size_zero_keeps_nothing)
{
    cache_t *c = cache_new(0, NULL);
    CHECK(!cache_enabled(c));
    CHECK(put(c, "a", cache_generation(), TABLE_A, NULL, 0, "x") == 0);
    CHECK(!get(c, "a"));
    CHECK(cache_bytes(c) == 0);
    cache_free(c);
}
