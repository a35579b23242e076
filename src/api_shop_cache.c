/* The shop's public catalogue from memory (shop_cache.h): reads that find
 * their answer in the worker's store, the ETag and Cache-Control of every
 * such answer, the writes that drop what they change, and the NOTIFY that
 * carries a change to the other instances.
 *
 * Announcements: a staff write NOTIFYs in its own transaction (the triggers
 * of 0014_shop_catalogue_cache.sql). An order must not (a NOTIFYing commit
 * waits for every other one), so each worker announces the goods its orders
 * took stock of right after their commit: one statement at a time, and the
 * orders that commit meanwhile go together in the next. An announcement
 * that fails is tried again a second later. Our own announcements carry this
 * process's mark, so the listener does not drop twice what its workers
 * dropped before answering. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "hourglass/api.h"
#include "hourglass/app.h"
#include "hourglass/bridge.h"
#include "hourglass/http_etag.h"
#include "hourglass/log.h"
#include "hourglass/mem.h"
#include "hourglass/shop_cache.h"

/* API.md: clients revalidate every time and get 304 while nothing changed. */
#define PUBLIC_CACHE_CONTROL "public, max-age=0, must-revalidate"
/* A staff view shows hidden goods: no shared cache may keep it. */
#define STAFF_CACHE_CONTROL "private, no-cache"
#define RETRY_MS 1000
/* NOTIFY takes less than 8000 bytes: past this many, the goods are named as a whole. */
#define ANNOUNCE_MAX_BYTES 6000
#define MARK_BYTES 8
/* Good ids parsed from one notification at a time. */
#define NOTIFY_IDS_BATCH 64

/* The reference lists have a key each, after the two of shop_cache.h. */
#define DICTIONARY_FIRST_KEY (SHOP_IMAGES << 1)
static const char *const dictionaries[] = {"materials", "shop_categories", "compositions",   "care",
                                           "sizes",     "colors",          "order_statuses", "delivery_types"};

struct shop_cache_worker {
    cache_t *cache;
    db_pool_t *db;
    uv_timer_t retry;
    abuf_t pending;      /* good ids to announce, each followed by a space */
    abuf_t sending;      /* those of the announcement in flight */
    int all_goods, mail, telegram;           /* pending besides the ids */
    int sending_all, sending_mail, sending_telegram;
    int in_flight, closing;
    void (*closed)(void *);
    void *closed_data;
};

/* This process's mark on its announcements ("@" and hex). */
static char mark[2 + 2 * MARK_BYTES];
static int stmt_announce;

unsigned shop_cache_table_key(const char *table)
{
    if (!strcmp(table, "goods") || !strcmp(table, "variations"))
        return SHOP_GOODS;
    if (!strcmp(table, "shop_images"))
        return SHOP_IMAGES;
    for (size_t i = 0; i < ARRAY_LEN(dictionaries); i++)
        if (!strcmp(dictionaries[i], table))
            return DICTIONARY_FIRST_KEY << i;
    return 0;
}

static shop_cache_worker_t *worker_cache(const http_request_t *req) { return app_worker(req->worker)->catalogue; }

int shop_cache_on(const http_request_t *req) { return cache_enabled(worker_cache(req)->cache); }

static void on_retry(uv_timer_t *t);

shop_cache_worker_t *shop_cache_worker_new(uv_loop_t *loop, db_pool_t *db, size_t max_bytes,
                                           metrics_worker_t *metrics)
{
    if (!mark[0]) { /* on the main thread, before the workers start */
        unsigned char bytes[MARK_BYTES];
        randombytes_buf(bytes, sizeof(bytes));
        mark[0] = '@';
        sodium_bin2hex(mark + 1, sizeof(mark) - 1, bytes, sizeof(bytes));
    }
    shop_cache_worker_t *sc = mem_calloc(1, sizeof(*sc));
    sc->cache = cache_new(max_bytes, metrics);
    sc->db = db;
    abuf_init(&sc->pending, NULL, 64);
    abuf_init(&sc->sending, NULL, 64);
    uv_timer_init(loop, &sc->retry);
    sc->retry.data = sc;
    return sc;
}

static void on_retry_closed(uv_handle_t *h)
{
    shop_cache_worker_t *sc = h->data;
    sc->closed(sc->closed_data);
}

static int nothing_to_announce(const shop_cache_worker_t *sc)
{
    return !sc->pending.len && !sc->all_goods && !sc->mail && !sc->telegram;
}

static void announce(shop_cache_worker_t *sc);

/* Closed once what the last orders took is announced (the pool is still open). */
static void close_when_announced(shop_cache_worker_t *sc)
{
    if (sc->in_flight)
        return;
    if (!nothing_to_announce(sc)) {
        announce(sc);
        if (sc->in_flight)
            return;
        log_warn("the catalogue's last changes could not be announced: other instances keep the old answers "
                 "until those goods change again or their LISTEN comes back");
    }
    uv_close((uv_handle_t *)&sc->retry, on_retry_closed);
}

void shop_cache_worker_close(shop_cache_worker_t *sc, void (*done)(void *), void *data)
{
    sc->closing = 1;
    sc->closed = done;
    sc->closed_data = data;
    uv_timer_stop(&sc->retry);
    close_when_announced(sc);
}

void shop_cache_worker_free(shop_cache_worker_t *sc)
{
    if (!sc)
        return;
    cache_free(sc->cache);
    abuf_free(&sc->pending);
    abuf_free(&sc->sending);
    free(sc);
}

void shop_cache_register_statements(void)
{
    stmt_announce = db_statement_register("shop_orders_announce",
                                          "SELECT shop_orders_announce($1, $2::boolean, $3::boolean)");
}

/* What failed to go out goes with the next attempt (but for the last, at shutdown). */
static void restore(shop_cache_worker_t *sc)
{
    if (!sc->closing) {
        abuf_append(&sc->pending, sc->sending.data, sc->sending.len);
        sc->all_goods |= sc->sending_all;
        sc->mail |= sc->sending_mail;
        sc->telegram |= sc->sending_telegram;
        uv_timer_start(&sc->retry, on_retry, RETRY_MS, 0);
    }
    sc->sending.len = 0;
}

static void on_announced(void *data, PGresult *res, db_status_t status)
{
    shop_cache_worker_t *sc = data;
    sc->in_flight = 0;
    if (status != DB_OK || PQresultStatus(res) != PGRES_TUPLES_OK)
        restore(sc);
    else
        sc->sending.len = 0;
    if (sc->closing)
        close_when_announced(sc);
    else if (status == DB_OK && PQresultStatus(res) == PGRES_TUPLES_OK)
        announce(sc);
}

static void on_retry(uv_timer_t *t) { announce(t->data); }

/* Sends what is pending, unless an announcement is in flight (it goes next). */
static void announce(shop_cache_worker_t *sc)
{
    if (sc->in_flight || nothing_to_announce(sc))
        return;
    abuf_t tmp = sc->sending;
    sc->sending = sc->pending;
    sc->pending = tmp;
    sc->pending.len = 0;
    sc->sending_all = sc->all_goods || sc->sending.len > ANNOUNCE_MAX_BYTES;
    sc->sending_mail = sc->mail;
    sc->sending_telegram = sc->telegram;
    sc->all_goods = sc->mail = sc->telegram = 0;
    char *payload = NULL;
    if (sc->sending_all || sc->sending.len) {
        size_t n = strlen(mark) + sc->sending.len + sizeof(" goods");
        payload = mem_alloc(n);
        if (sc->sending_all)
            snprintf(payload, n, "%s goods", mark);
        else
            snprintf(payload, n, "%s %.*s", mark, (int)sc->sending.len - 1, sc->sending.data);
    }
    const char *params[] = {payload, sc->sending_mail ? "true" : "false", sc->sending_telegram ? "true" : "false"};
    db_status_t st = db_query(sc->db, stmt_announce, ARRAY_LEN(params), params, on_announced, sc);
    free(payload); /* the pool copied it */
    if (st == DB_OK)
        sc->in_flight = 1;
    else
        restore(sc);
}

/* Ids of a bigint[] as text ("{1,2}"), in the arena; the count in *n. */
static int64_t *parse_ids(arena_t *a, const char *text, size_t *n)
{
    size_t cap = 1;
    for (const char *p = text; *p; p++)
        cap += *p == ',';
    int64_t *ids = arena_alloc(a, cap * sizeof(*ids));
    *n = 0;
    for (const char *p = text; *p && *n < cap;) {
        char *end;
        long long v = strtoll(p, &end, 10);
        if (end == p) {
            p++;
            continue;
        }
        ids[(*n)++] = v;
        p = end;
    }
    return ids;
}

void shop_cache_stock_taken(http_request_t *req, const char *goods, int mail, int telegram)
{
    shop_cache_worker_t *sc = worker_cache(req);
    if (goods) {
        size_t n;
        int64_t *ids = parse_ids(&req->arena, goods, &n);
        cache_invalidate_items(ids, n);
        for (size_t i = 0; i < n && !sc->all_goods; i++)
            abuf_printf(&sc->pending, "%lld ", (long long)ids[i]);
    } else {
        cache_invalidate(SHOP_GOODS);
        sc->all_goods = 1;
    }
    if (sc->pending.len > ANNOUNCE_MAX_BYTES) { /* named as a whole from now on */
        sc->all_goods = 1;
        sc->pending.len = 0;
    }
    sc->mail |= mail;
    sc->telegram |= telegram;
    announce(sc);
}

/* "@mark table 12 57": tables by name, goods by id; ours are skipped. */
void shop_cache_on_notify(void *data, const char *payload)
{
    (void)data;
    unsigned tables = 0;
    int64_t ids[NOTIFY_IDS_BATCH];
    size_t n = 0;
    for (const char *p = payload; *p;) {
        size_t len = strcspn(p, " ");
        if (!len) {
            p++;
            continue;
        }
        if (*p == '@') {
            if (len == strlen(mark) && !memcmp(p, mark, len))
                return;
        } else if (*p >= '0' && *p <= '9') {
            ids[n++] = strtoll(p, NULL, 10);
            if (n == NOTIFY_IDS_BATCH) {
                cache_invalidate_items(ids, n);
                n = 0;
            }
        } else {
            char word[32];
            snprintf(word, sizeof(word), "%.*s", (int)len, p);
            unsigned key = shop_cache_table_key(word);
            tables |= key ? key : CACHE_EVERYTHING; /* a word we do not know: drop everything */
        }
        p += len;
    }
    if (n)
        cache_invalidate_items(ids, n);
    if (tables)
        cache_invalidate(tables);
}

void shop_cache_on_listening(void *data)
{
    (void)data;
    cache_invalidate(CACHE_EVERYTHING);
}

/* A read in progress: where its answer goes. */
typedef struct {
    cache_t *cache;
    const char *key;
    size_t key_len;
    uint64_t since;
    unsigned tables;
    int keep;
    const char *cache_control;
    const char *etag;
    int64_t *goods;
    size_t goods_count;
} read_t;

static void answer_from(http_request_t *req, const cache_answer_t *a)
{
    if (http_not_modified(req, a->etag, a->cache_control))
        http_respond(req, 304, NULL, NULL, 0);
    else
        http_respond(req, 200, a->content_type, a->body, a->len);
}

static const char *etag_of(http_request_t *req, const void *body, size_t len)
{
    char *etag = arena_alloc(&req->arena, HTTP_ETAG_SIZE);
    http_etag(body, len, etag);
    return etag;
}

/* The answer of a read that missed: tagged, kept when it may be, and 304
 * when the client has these bytes already. Other statuses pass. */
static void keep_answer(http_request_t *req, int *status, const char **content_type, const void **body, size_t *len)
{
    read_t *r = req->filter_data;
    if (*status != 200)
        return;
    cache_answer_t a = {
        .content_type = *content_type ? *content_type : "application/octet-stream",
        .etag = r->etag ? r->etag : etag_of(req, *body, *len),
        .cache_control = r->cache_control,
        .body = *body,
        .len = *len,
    };
    if (r->keep)
        cache_put(r->cache, r->key, r->key_len, r->since, r->tables, r->goods, r->goods_count, &a);
    if (http_not_modified(req, a.etag, a.cache_control)) {
        *status = 304;
        *body = NULL;
        *len = 0;
    }
}

static int read_begin(http_request_t *req, const char *key, unsigned tables, int keep, const char *cache_control)
{
    shop_cache_worker_t *sc = worker_cache(req);
    read_t *r = arena_calloc(&req->arena, sizeof(*r));
    r->cache = sc->cache;
    r->key = key;
    r->key_len = strlen(key);
    r->tables = tables;
    r->cache_control = cache_control;
    r->keep = keep && cache_enabled(sc->cache);
    if (r->keep) {
        const cache_answer_t *a = cache_get(sc->cache, key, r->key_len);
        if (a) {
            answer_from(req, a);
            return 1;
        }
        r->since = cache_generation(); /* before the database read starts */
    }
    req->respond_filter = keep_answer;
    req->filter_data = r;
    return 0;
}

int shop_cache_read(http_request_t *req, const char *key, unsigned tables, int staff)
{
    return read_begin(req, key, tables, !staff, staff ? STAFF_CACHE_CONTROL : PUBLIC_CACHE_CONTROL);
}

int shop_cache_picture_read(http_request_t *req, const char *key, const char *cache_control)
{
    return read_begin(req, key, SHOP_IMAGES, 1, cache_control);
}

static read_t *read_of(http_request_t *req)
{
    return req->respond_filter == keep_answer ? req->filter_data : NULL;
}

void shop_cache_shows(http_request_t *req, const char *goods)
{
    read_t *r = read_of(req);
    if (r && goods)
        r->goods = parse_ids(&req->arena, goods, &r->goods_count);
}

void shop_cache_tag(http_request_t *req, const char *etag)
{
    read_t *r = read_of(req);
    if (r)
        r->etag = etag;
}

static void on_written(http_request_t *req, int *status, const char **content_type, const void **body, size_t *len)
{
    (void)content_type, (void)body, (void)len;
    const unsigned *tables = req->filter_data;
    if (*status < 400 || *status >= 500) /* a 5xx may have committed */
        cache_invalidate(*tables);
}

void shop_cache_write(http_request_t *req, unsigned tables)
{
    unsigned *t = arena_alloc(&req->arena, sizeof(*t));
    *t = tables;
    req->respond_filter = on_written;
    req->filter_data = t;
}
