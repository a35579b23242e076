#ifndef HOURGLASS_MAIL_H
#define HOURGLASS_MAIL_H
#include <uv.h>

#include "hourglass/arena.h"
#include "hourglass/config.h"
#include "hourglass/outbox.h"

/* The mail outbox (mail_outbox.c), one per worker loop, run by outbox.c. */

/* New mail is NOTIFYed here by the writing transaction (0002_mail_outbox.sql). */
#define MAIL_CHANNEL "hourglass_mail"

void mail_register_statements(void);
/* Sends through out, which must outlive the mailer. */
outbox_t *mail_outbox_start(uv_loop_t *loop, db_pool_t *db, outbound_t *out, const config_t *cfg, int worker_id);
/* "ok", "log" (no MAIL_SERVER: mail goes to the log) or "failing" (the last attempt failed). */
const char *mail_outbox_health(void);
/* Appends the mail as RFC 5322 text (CRLF lines, RFC 2047 headers, a base64
 * UTF-8 body) to out; to must be an address the outbox accepts. */
void mail_message(abuf_t *out, const char *from, const char *from_domain, const char *id, const char *to,
                  const char *subject, const char *body);

#endif
