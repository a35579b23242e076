/* What arrives by PostgreSQL NOTIFY: session revocations from other
 * instances, and new mail to send. Worker 0 listens for the process. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hourglass/events.h"
#include "hourglass/log.h"
#include "hourglass/mail.h"
#include "hourglass/revoked.h"
#include "hourglass/server.h"

static const char *const channels[] = {"hourglass_revoked", "hourglass_mail"};
static int stmt_recent_revoked;

void events_register_statements(void)
{
    stmt_recent_revoked = db_statement_register(
        "ev_recent_revoked",
        "SELECT coalesce(array_agg(id), '{}')::text FROM sessions WHERE revoked_at > now() - $1::bigint * interval '1 millisecond'");
}

static void on_notify(void *data, const char *channel, const char *payload)
{
    worker_t *w = data;
    if (!strcmp(channel, "hourglass_revoked"))
        revoked_add(strtoll(payload, NULL, 10));
    else if (!strcmp(channel, "hourglass_mail") && w->mail)
        mail_outbox_wake(w->mail);
}

static void on_recent_revoked(void *data, PGresult *res, db_status_t status)
{
    worker_t *w = data;
    if (status != DB_OK || PQresultStatus(res) != PGRES_TUPLES_OK) {
        log_warn("worker %d: could not reload recent revocations", w->id);
        return;
    }
    revoked_add_array_text(PQgetvalue(res, 0, 0));
}

/* Notifications sent while we were not listening are lost: catch up. */
static void on_listening(void *data)
{
    worker_t *w = data;
    char ms[32];
    snprintf(ms, sizeof(ms), "%llu", (unsigned long long)w->cfg->access_token_ttl_ms + 60000);
    const char *params[1] = {ms};
    db_query(w->db, stmt_recent_revoked, 1, params, on_recent_revoked, w);
    if (w->mail)
        mail_outbox_wake(w->mail);
}

void events_listen(worker_t *w)
{
    db_pool_listen(w->db, channels, sizeof(channels) / sizeof(channels[0]), on_notify, on_listening, w);
}
