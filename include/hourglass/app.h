#ifndef HOURGLASS_APP_H
#define HOURGLASS_APP_H
#include "hourglass/db.h"
#include "hourglass/events.h"
#include "hourglass/mail.h"
#include "hourglass/outbound.h"
#include "hourglass/server.h"
#include "hourglass/shop_cache.h"
#include "hourglass/sse.h"
#include "hourglass/telegram.h"

/* What the server runs on each worker's loop besides HTTP (app.c): the
 * database pool, the outbound transfers (curl multi), the mailer, the live
 * event streams, the Telegram sender, the catalogue's answers and the
 * NOTIFY listener. */
typedef struct app_worker {
    db_pool_t *db;
    outbound_t *out;
    outbox_t *mail;
    events_t *events;
    sse_hub_t *sse;
    outbox_t *telegram; /* NULL when Telegram is not configured */
    shop_cache_worker_t *catalogue; /* the shop's public answers kept in memory */
} app_worker_t;

/* The statements of the modules that are not endpoints (mail, revocations). */
void app_register_statements(void);
/* A write on worker w committed events for user_id (SSE_ANYONE for the
 * shop's or another user's; 0015_events.sql): the streams of every worker
 * and instance read them. */
void app_events_written(worker_t *w, int64_t user_id);
/* The hooks http_server_run takes. */
extern const http_app_t app_hooks;

static inline app_worker_t *app_worker(const worker_t *w) { return w->app_state; }

#endif
