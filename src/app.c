/* What each worker runs besides HTTP, and the hooks that give it to the
 * transport: its database pool, its outbound transfers, its mailer, its
 * event streams, the Telegram sender, and what arrives by NOTIFY. Every worker listens for the
 * events and revocations its own streams need; worker 0 also for the
 * process: the revocation set all workers share, new mail and new Telegram
 * messages, and it prunes the events past their retention. */
#include <stdlib.h>
#include <string.h>

#include "hourglass/api_auth.h"
#include "hourglass/app.h"
#include "hourglass/auth.h"
#include "hourglass/bridge.h"
#include "hourglass/log.h"
#include "hourglass/mem.h"
#include "hourglass/revoked.h"
#include "hourglass/telegram.h"

/* Hashing arenas are 64 MiB each at the default cost: kept while logins
 * come, given back after a quiet spell. */
#define HASH_ARENA_IDLE_MS 10000
/* Revocations are caught up over an access token's lifetime and a minute more. */
#define REVOKED_CATCH_UP_SLACK_MS 60000

void app_register_statements(void)
{
    mail_register_statements();
    revoked_register_statements();
    sse_register_statements();
    telegram_register_statements();
    shop_cache_register_statements();
}

static void on_revoked_notify(void *data, const char *payload)
{
    (void)data;
    revoked_add(strtoll(payload, NULL, 10));
}

static void on_revoked_listening(void *data)
{
    worker_t *w = data;
    revoked_catch_up(app_worker(w)->db, w->cfg->access_token_ttl_ms + REVOKED_CATCH_UP_SLACK_MS);
}

static void *on_worker_start(worker_t *w)
{
    app_worker_t *aw = mem_calloc(1, sizeof(*aw));
    auth_password_watch_loop(&w->loop);
    aw->db = db_pool_new(&w->loop, w->cfg, w->id);
    aw->out = outbound_new(&w->loop);
    aw->events = events_new(aw->db);
    aw->sse = sse_hub_new(&w->loop, aw->db, w->cfg, w->metrics, w->id == 0);
    aw->catalogue = shop_cache_worker_new(&w->loop, aw->db, w->cfg->catalogue_cache_size, w->metrics);
    if (!aw->db || !aw->out || !aw->events || !aw->sse) {
        log_error("worker %d: out of memory", w->id);
        return NULL;
    }
    aw->mail = mail_outbox_start(&w->loop, aw->db, aw->out, w->cfg, w->id);
    aw->telegram = telegram_outbox_start(&w->loop, aw->db, aw->out, w->cfg, w->id);
    events_subscribe(aw->events, SSE_EVENTS_CHANNEL, sse_on_events_notify, sse_on_listening, aw->sse);
    events_subscribe(aw->events, REVOKED_CHANNEL, sse_on_revoked_notify, NULL, aw->sse);
    if (w->id == 0) {
        events_subscribe(aw->events, REVOKED_CHANNEL, on_revoked_notify, on_revoked_listening, w);
        outbox_listen(aw->mail, aw->events);
        outbox_listen(aw->telegram, aw->events);
        /* the catalogue's generations are the process's: one listener drops for every worker */
        events_subscribe(aw->events, SHOP_CACHE_CHANNEL, shop_cache_on_notify, shop_cache_on_listening, NULL);
    }
    events_start(aw->events);
    return aw;
}

typedef struct {
    worker_t *w;
    void (*done)(worker_t *w);
    int outboxes; /* still stopping */
} stop_ctx_t;

static void on_pool_closed(void *data)
{
    stop_ctx_t *ctx = data;
    ctx->done(ctx->w);
    free(ctx);
}

static void on_catalogue_closed(void *data)
{
    stop_ctx_t *ctx = data;
    db_pool_close(app_worker(ctx->w)->db, on_pool_closed, ctx);
}

static void on_sse_closed(void *data)
{
    stop_ctx_t *ctx = data;
    shop_cache_worker_close(app_worker(ctx->w)->catalogue, on_catalogue_closed, ctx);
}

static void on_outbound_closed(void *data)
{
    stop_ctx_t *ctx = data;
    sse_hub_close(app_worker(ctx->w)->sse, on_sse_closed, ctx);
}

static void on_outbox_stopped(void *data)
{
    stop_ctx_t *ctx = data;
    if (--ctx->outboxes == 0)
        outbound_close(app_worker(ctx->w)->out, on_outbound_closed, ctx);
}

/* Each stops before what it uses: the outboxes (both at once), the
 * transfers, the streams' hub, the catalogue's announcements, the pool. */
static void on_worker_stop(worker_t *w, void (*done)(worker_t *w))
{
    outbox_t *outboxes[] = {app_worker(w)->telegram, app_worker(w)->mail};
    const int count = (int)(sizeof(outboxes) / sizeof(outboxes[0]));
    stop_ctx_t *ctx = mem_alloc(sizeof(*ctx));
    ctx->w = w;
    ctx->done = done;
    ctx->outboxes = count;
    for (int i = 0; i < count; i++)
        outbox_stop(outboxes[i], w->drain_deadline_ms, on_outbox_stopped, ctx);
}

static void on_worker_free(worker_t *w)
{
    app_worker_t *aw = app_worker(w);
    if (!aw)
        return;
    outbox_free(aw->mail);
    outbox_free(aw->telegram);
    outbound_free(aw->out);
    sse_hub_free(aw->sse);
    events_free(aw->events);
    db_pool_free(aw->db);
    shop_cache_worker_free(aw->catalogue);
    free(aw);
    w->app_state = NULL;
}

void app_events_written(worker_t *w, int64_t user_id) { sse_events_written(app_worker(w)->sse, user_id); }

static void on_housekeeping(void) { auth_hash_release_idle_now(HASH_ARENA_IDLE_MS); }

const http_app_t app_hooks = {
    .worker_start = on_worker_start,
    .worker_stop = on_worker_stop,
    .worker_free = on_worker_free,
    .authenticate = api_authenticate,
    .housekeeping = on_housekeeping,
};
