/* The shop's Telegram outbox (outbox.c runs it): its statements, and how one
 * message is sent: the Bot API's sendMessage through the worker's outbound
 * driver. A claim names its worker (shop_telegram_claim) and only the
 * claimer may record the row (shop_telegram_sent / _failed), so a row is
 * sent once however many instances run. The SQL is in 0011_shop.sql. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hourglass/log.h"
#include "hourglass/mem.h"
#include "hourglass/telegram.h"

#define TELEGRAM_ERROR_MAX 300 /* of the text kept in last_error */
#define TELEGRAM_MS_PER_S 1000

static void send_message(void *sender, outbound_t *out, outbox_job_t *job, PGresult *claim, int row);

static outbox_kind_t telegram_kind = {
    .name = "telegram",
    .channel = TELEGRAM_CHANNEL,
    .statements = {
        [OUTBOX_CLAIM] = {
            .name = "tg_claim",
            .sql = "SELECT id, chat_id, text FROM shop_telegram_claim($3, $1::bigint, $2::int)",
        },
        [OUTBOX_SENT] = {.name = "tg_sent", .sql = "SELECT shop_telegram_sent($1::bigint, $2)"},
        [OUTBOX_FAILED] = {
            .name = "tg_failed",
            .sql = "SELECT $1::bigint, (SELECT attempts FROM telegram_outbox WHERE id = $1::bigint),"
                   " shop_telegram_failed($1::bigint, $7, $2, $3::bigint, $4::bigint, $5::bigint, $6::boolean)",
        },
        [OUTBOX_RELEASE] = {.name = "tg_release", .sql = "SELECT shop_telegram_release($1::bigint[], $2)"},
        [OUTBOX_COUNTS] = {
            .name = "tg_counts",
            .sql = "SELECT count(*) FILTER (WHERE sent_at IS NULL AND dead_at IS NULL AND last_error IS NULL),"
                   " count(*) FILTER (WHERE sent_at IS NOT NULL),"
                   " count(*) FILTER (WHERE sent_at IS NULL AND dead_at IS NULL AND last_error IS NOT NULL),"
                   " count(*) FILTER (WHERE dead_at IS NOT NULL) FROM telegram_outbox",
        },
    },
    .claims_owned = true,
    .gauges = {GAUGE_TELEGRAM_PENDING, GAUGE_TELEGRAM_SENT, GAUGE_TELEGRAM_FAILED, GAUGE_TELEGRAM_DEAD},
    .send = send_message,
};

void telegram_register_statements(void) { outbox_register(&telegram_kind); }

int telegram_configured(const config_t *cfg)
{
    return cfg->telegram_bot_token && *cfg->telegram_bot_token && cfg->telegram_chat_id && *cfg->telegram_chat_id &&
           cfg->telegram_api_url && *cfg->telegram_api_url;
}

typedef struct {
    const config_t *cfg;
    char url[]; /* .../bot<token>/sendMessage: never logged */
} telegram_sender_t;

/* Telegram's answer: {"ok":true,...}, or {"ok":false,"error_code","description","parameters":{"retry_after"}}. */
static void on_sent(void *data, const outbound_response_t *r)
{
    outbox_job_t *job = data;
    json_t *doc = r->rc == CURLE_OK ? json_loadb(r->body, r->len, 0, NULL) : NULL;
    char why[TELEGRAM_ERROR_MAX];
    outbox_result_t result = {0};
    if (r->rc != CURLE_OK) {
        snprintf(why, sizeof(why), "%s", r->error ? r->error : "transfer failed");
        result.error = why;
    } else if (r->status != 200 || !json_is_true(json_object_get(doc, "ok"))) {
        /* The description is Telegram's words; the token is only in the URL, never here. */
        const char *description = json_string_value(json_object_get(doc, "description"));
        json_int_t retry_after = json_integer_value(json_object_get(json_object_get(doc, "parameters"), "retry_after"));
        snprintf(why, sizeof(why), "HTTP %ld: %s", r->status, description ? description : "no description");
        result.error = why;
        if (r->status == 429 && retry_after > 0)
            result.retry_after_ms = (int64_t)retry_after * TELEGRAM_MS_PER_S;
    }
    outbox_done(job, &result);
    json_decref(doc);
}

/* chat_id as a number when it is one (Telegram takes both; a channel's is "@name"). */
static char *message_json(const char *chat_id, const char *text)
{
    char *end;
    long long n = strtoll(chat_id, &end, 10);
    json_t *chat = *chat_id && !*end ? json_integer(n) : json_string(chat_id);
    json_t *doc = json_pack("{s:o, s:s}", "chat_id", chat, "text", text);
    char *out = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    return out;
}

static void send_message(void *sender, outbound_t *out, outbox_job_t *job, PGresult *claim, int row)
{
    const telegram_sender_t *s = sender;
    char *body = message_json(PQgetvalue(claim, row, 1), PQgetvalue(claim, row, 2));
    if (!body) {
        outbox_done(job, &(outbox_result_t){.error = "the message could not be written as JSON"});
        return;
    }
    outbound_request_t rq = {
        .url = s->url,
        .body = body,
        .content_type = "application/json",
        .timeout_ms = s->cfg->outbound_timeout_ms,
        .max_bytes = s->cfg->outbound_max_response,
    };
    int rc = outbound_http(out, &rq, on_sent, job);
    free(body); /* outbound_http keeps its own copy */
    if (rc)
        outbox_done(job, &(outbox_result_t){.error = "the transfer could not be started"});
}

outbox_t *telegram_outbox_start(uv_loop_t *loop, db_pool_t *db, outbound_t *out, const config_t *cfg, int worker_id)
{
    if (!telegram_configured(cfg))
        return NULL;
    const char *base = cfg->telegram_api_url;
    size_t base_len = strlen(base);
    while (base_len && base[base_len - 1] == '/')
        base_len--;
    size_t n = base_len + strlen(cfg->telegram_bot_token) + sizeof("/bot/sendMessage");
    telegram_sender_t *s = mem_alloc(sizeof(*s) + n);
    s->cfg = cfg;
    snprintf(s->url, n, "%.*s/bot%s/sendMessage", (int)base_len, base, cfg->telegram_bot_token);
    outbox_timing_t timing = {
        .poll_interval_ms = cfg->outbound_poll_interval_ms,
        .send_timeout_ms = cfg->outbound_timeout_ms,
        .retry_max_ms = cfg->outbound_retry_max_ms,
        .give_up_after_ms = cfg->outbound_give_up_after_ms,
    };
    return outbox_start(&telegram_kind, s, &timing, loop, db, out, worker_id);
}
