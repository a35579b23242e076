#ifndef HOURGLASS_TELEGRAM_H
#define HOURGLASS_TELEGRAM_H
#include <uv.h>

#include "hourglass/config.h"
#include "hourglass/db.h"
#include "hourglass/outbound.h"

/* The sender of one worker loop for the shop's Telegram outbox
 * (outbound_telegram.c): claims due rows of telegram_outbox for a lease,
 * POSTs each to the Bot API's sendMessage through the worker's outbound
 * driver, and records it sent, or failed and due again after a backoff (or
 * Telegram's retry_after). Only the claimer may record a row, so two
 * instances never both send it while its lease runs. */
typedef struct telegram_outbox telegram_outbox_t;

/* shop_order_create notifies this channel for each row it queues. */
#define TELEGRAM_CHANNEL "hourglass_telegram"

void telegram_register_statements(void);
/* Whether the configuration names a bot and a chat (else nothing is queued or sent). */
int telegram_configured(const config_t *cfg);
/* NULL when Telegram is not configured. */
telegram_outbox_t *telegram_outbox_start(uv_loop_t *loop, db_pool_t *db, outbound_t *out, const config_t *cfg,
                                         int worker_id);
/* Claims what is due now (a NOTIFY came, or the LISTEN is back). t may be NULL. */
void telegram_outbox_wake(telegram_outbox_t *t);
/* Stops claiming and gives the rows it holds back; done runs once what it is
 * recording is recorded. t may be NULL (done runs at once). Transfers still
 * running end when the outbound driver closes; their results are dropped. */
void telegram_outbox_stop(telegram_outbox_t *t, void (*done)(void *), void *data);
/* After the outbound driver has closed. */
void telegram_outbox_free(telegram_outbox_t *t);

#endif
