#ifndef HOURGLASS_MAIL_H
#define HOURGLASS_MAIL_H
#include <uv.h>

#include "hourglass/config.h"
#include "hourglass/db.h"
#include "hourglass/outbound.h"

/* One mailer per worker loop (mail_outbox.c). */
typedef struct mail_outbox mail_outbox_t;

/* New mail is NOTIFYed here by the writing transaction (0002_mail_outbox.sql). */
#define MAIL_CHANNEL "hourglass_mail"

void mail_register_statements(void);
/* Sends through out, which must outlive the mailer. */
mail_outbox_t *mail_outbox_start(uv_loop_t *loop, db_pool_t *db, outbound_t *out, const config_t *cfg,
                                 int worker_id);
/* New mail may be due (a NOTIFY arrived): claim now rather than at the next poll. */
void mail_outbox_wake(mail_outbox_t *m);
/* Stops polling and abandons transfers (their rows are retried later); done runs when closed. */
void mail_outbox_stop(mail_outbox_t *m, void (*done)(void *), void *data);
void mail_outbox_free(mail_outbox_t *m);
/* "ok", "log" (no MAIL_SERVER: mail goes to the log) or "failing" (the last attempt failed). */
const char *mail_outbox_health(void);

#endif
