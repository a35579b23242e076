#ifndef HOURGLASS_SHOP_CACHE_H
#define HOURGLASS_SHOP_CACHE_H
#include <stdint.h>

#include "hourglass/cache.h"
#include "hourglass/db.h"
#include "hourglass/http.h"

/* The shop's public catalogue answered from memory (api_shop_cache.c, over
 * cache.h): each worker keeps the public answers of the catalogue's reads,
 * keyed by route and normalised query, with a strong ETag; a write drops
 * what depends on it on every worker before it answers, and on other
 * instances through NOTIFY on SHOP_CACHE_CHANNEL (0014_shop_catalogue_cache.sql). */

#define SHOP_CACHE_CHANNEL "hourglass_catalogue"

/* What an answer depends on (cache.h's table keys): a dictionary, goods
 * (goods, variations and the lists of their pictures), or the pictures' bytes. */
#define SHOP_GOODS (1u << 1)
#define SHOP_IMAGES (1u << 2)
/* The key of a catalogue table by its name ("colors", "goods", "shop_images"); 0 if none. */
unsigned shop_cache_table_key(const char *table);

typedef struct shop_cache_worker shop_cache_worker_t;
shop_cache_worker_t *shop_cache_worker_new(uv_loop_t *loop, db_pool_t *db, size_t max_bytes,
                                           metrics_worker_t *metrics);
/* Stops retrying announcements; done runs once its handle is closed. */
void shop_cache_worker_close(shop_cache_worker_t *sc, void (*done)(void *), void *data);
/* After the pool is closed (its queries have all answered). */
void shop_cache_worker_free(shop_cache_worker_t *sc);
void shop_cache_register_statements(void);

/* The NOTIFY hub's subscriber (one worker per process: the keys are the process's). */
void shop_cache_on_notify(void *data, const char *payload);
/* LISTEN is (again) in place: what was missed meanwhile is unknown, so everything goes. */
void shop_cache_on_listening(void *data);

/* A public read (key: route and normalised query; tables: what it depends
 * on; staff: the caller sees hidden goods). 1 when answered from memory (200,
 * or 304 for a matching If-None-Match). Otherwise 0: the handler reads the
 * database, and its 200 answer gets its ETag and Cache-Control, and is kept
 * when the public sees it. */
int shop_cache_read(http_request_t *req, const char *key, unsigned tables, int staff);
/* Before the answer of such a read: the goods it shows (a PostgreSQL bigint[]
 * as text), so that a change of one of them drops it. */
void shop_cache_shows(http_request_t *req, const char *goods);
/* Whether the worker keeps answers (CATALOGUE_CACHE_SIZE > 0). */
int shop_cache_on(const http_request_t *req);
/* A picture (the same for everyone), answered with its own Cache-Control:
 * as shop_cache_read. Its handler gives the answer's ETag with shop_cache_tag. */
int shop_cache_picture_read(http_request_t *req, const char *key, const char *cache_control);
/* The ETag of the answer a read is about to give, when it has one of its own
 * (a picture's sha256); otherwise a hash of the bytes is taken. */
void shop_cache_tag(http_request_t *req, const char *etag);

/* A staff write to these tables: unless it is refused (4xx), what depends on
 * them is dropped before the answer goes out. */
void shop_cache_write(http_request_t *req, unsigned tables);
/* Orders committed (or perhaps committed: goods NULL) that took the stock of
 * goods (bigint[] text): dropped here at once, announced to every instance
 * after the commit with a wake-up of the outboxes the order wrote to. */
void shop_cache_stock_taken(http_request_t *req, const char *goods, int mail, int telegram);

#endif
