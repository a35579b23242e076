#ifndef HOURGLASS_TELEGRAM_H
#define HOURGLASS_TELEGRAM_H
#include <uv.h>

#include "hourglass/config.h"
#include "hourglass/outbox.h"

/* The shop's Telegram outbox (outbound_telegram.c), one per worker loop, run
 * by outbox.c: each row is POSTed to the Bot API's sendMessage, and retried
 * after a backoff or after Telegram's retry_after. Only the claimer may
 * record a row, so two instances never both send it while its claim runs. */

/* shop_order_create notifies this channel for each row it queues. */
#define TELEGRAM_CHANNEL "hourglass_telegram"

void telegram_register_statements(void);
/* Whether the configuration names a bot and a chat (else nothing is queued or sent). */
int telegram_configured(const config_t *cfg);
/* NULL when Telegram is not configured. */
outbox_t *telegram_outbox_start(uv_loop_t *loop, db_pool_t *db, outbound_t *out, const config_t *cfg, int worker_id);

#endif
