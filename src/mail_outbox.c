/* The mailer of one worker loop: claims due rows of mail_outbox, sends them
 * by SMTP through the worker's outbound driver (libcurl multi on this loop,
 * outbound.c), and marks them sent or due again later. Without MAIL_SERVER
 * it writes each mail to the log. */
#include <curl/curl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hourglass/log.h"
#include "hourglass/mail.h"
#include "hourglass/metrics.h"

#define MAIL_BATCH 8                /* rows per claim */
#define MAIL_CLAIM_SLACK_MS 30000   /* a claimed row is someone else's to retry after this */
#define MAIL_FIRST_POLL_MS 50
#define MAIL_ADDRESS_MAX 254        /* RFC 5321 */
#define MAIL_BASE64_LINE 76         /* RFC 2045 */
#define MAIL_HEADER_LINE 76         /* RFC 2047: a line holding encoded-words */
#define MAIL_STR_(x) #x
#define MAIL_STR(x) MAIL_STR_(x)

enum { HEALTH_OK, HEALTH_LOG, HEALTH_FAILING };
static int mail_health = HEALTH_OK;
static int stmt_claim, stmt_sent, stmt_failed, stmt_counts, stmt_release;

/* A row is claimed only when no older row to the same address is waiting
 * (db/migrations/0012_mail_order.sql): one mail per address in flight, in the
 * order written, so a resent code never arrives before the one it replaces. */
void mail_register_statements(void)
{
    stmt_claim = db_statement_register(
        "mail_claim",
        "UPDATE mail_outbox SET locked_until = now() + $1::bigint * interval '1 millisecond', attempts = attempts + 1"
        " WHERE id IN (SELECT o.id FROM mail_outbox o WHERE o.sent_at IS NULL AND o.dead_at IS NULL"
        " AND o.next_attempt_at <= now() AND (o.locked_until IS NULL OR o.locked_until < now())"
        " AND NOT EXISTS (SELECT 1 FROM mail_outbox e WHERE lower(e.to_addr) = lower(o.to_addr) AND e.id < o.id"
        " AND e.sent_at IS NULL AND e.dead_at IS NULL)"
        " ORDER BY o.id LIMIT " MAIL_STR(MAIL_BATCH) " FOR UPDATE OF o SKIP LOCKED)"
        " RETURNING id, to_addr, subject, body_text, attempts");
    stmt_sent = db_statement_register(
        "mail_sent", "UPDATE mail_outbox SET sent_at = now(), locked_until = NULL, last_error = NULL WHERE id = $1");
    stmt_failed = db_statement_register(
        "mail_failed",
        "UPDATE mail_outbox SET locked_until = NULL, last_error = $2,"
        " next_attempt_at = now() + least($3::bigint, 1000 * power(2, least(attempts - 1, 20))::bigint)"
        " * interval '1 millisecond',"
        " dead_at = CASE WHEN $4::boolean OR created_at < now() - $5::bigint * interval '1 millisecond' THEN now() END"
        " WHERE id = $1 RETURNING id, attempts, dead_at IS NOT NULL");
    stmt_counts = db_statement_register(
        "mail_counts",
        "SELECT count(*) FILTER (WHERE sent_at IS NULL AND dead_at IS NULL AND NOT (attempts > 0 AND last_error IS NOT NULL)),"
        " count(*) FILTER (WHERE sent_at IS NOT NULL),"
        " count(*) FILTER (WHERE sent_at IS NULL AND dead_at IS NULL AND attempts > 0 AND last_error IS NOT NULL),"
        " count(*) FILTER (WHERE dead_at IS NOT NULL) FROM mail_outbox");
    /* Rows claimed as the mailer stops go back at once, their claim not counted as a try. */
    stmt_release = db_statement_register(
        "mail_release",
        "UPDATE mail_outbox SET locked_until = NULL, attempts = attempts - 1"
        " WHERE id = ANY($1::bigint[]) AND sent_at IS NULL");
}

const char *mail_outbox_health(void)
{
    switch (__atomic_load_n(&mail_health, __ATOMIC_RELAXED)) {
    case HEALTH_LOG: return "log";
    case HEALTH_FAILING: return "failing";
    default: return "ok";
    }
}

typedef struct mail_job mail_job_t;

struct mail_outbox {
    uv_loop_t *loop;
    db_pool_t *db;
    const config_t *cfg;
    int worker_id;
    metrics_worker_t *metrics;
    uv_timer_t poll_timer; /* the next claim; once stopping, the limit on waiting for results */
    outbound_t *out;       /* the worker's curl multi */
    char url[300];
    char from_addr[MAIL_ADDRESS_MAX + 3];   /* the envelope sender, "<address>" */
    char from_domain[MAIL_ADDRESS_MAX + 1]; /* its domain, for Message-ID */
    mail_job_t *jobs;                       /* transfers in flight */
    int active;
    int claiming;
    int writes; /* results being recorded */
    int open_handles;
    int stopping;
    int closing;
    void (*stopped)(void *);
    void *stopped_data;
};

struct mail_job {
    mail_outbox_t *m;
    mail_job_t *prev, *next;
    CURL *easy;
    char id[24];
    char *to;
    char *payload;
    size_t len, off;
    struct curl_slist *rcpt;
    int running; /* in the worker's multi */
    char errbuf[CURL_ERROR_SIZE];
};

/* ---------------------------------------------------------------- stopping */

static void finish_stop_maybe(mail_outbox_t *m)
{
    if (m->closing && m->open_handles == 0 && m->stopped) {
        void (*done)(void *) = m->stopped;
        m->stopped = NULL;
        done(m->stopped_data);
    }
}

static void on_handle_closed(uv_handle_t *h)
{
    mail_outbox_t *m = h->data;
    m->open_handles--;
    finish_stop_maybe(m);
}

static void close_handles(mail_outbox_t *m)
{
    if (m->closing)
        return;
    m->closing = 1;
    uv_close((uv_handle_t *)&m->poll_timer, on_handle_closed);
}

/* A stopping mailer closes once its claim and the results it is recording are
 * answered, so the pool (closed after it) does not drop a "sent". */
static void close_when_idle(mail_outbox_t *m)
{
    if (m->stopping && !m->closing && m->writes == 0 && !m->claiming)
        close_handles(m);
}

static void on_stop_timeout(uv_timer_t *t)
{
    mail_outbox_t *m = t->data;
    log_warn("worker %d: mail results still unrecorded at the shutdown timeout; those mails may be sent again",
             m->worker_id);
    close_handles(m);
}

/* ---------------------------------------------------------------- results */

static void on_recorded(void *data, PGresult *res, db_status_t status)
{
    mail_outbox_t *m = data;
    m->writes--;
    if (status != DB_OK || (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK))
        log_warn("mail: could not record a result (the row will be retried): %s",
                 res ? PQresultErrorMessage(res) : "database unavailable");
    close_when_idle(m);
}

/* A failure recorded; when it was the last try, that is worth an error line. */
static void on_failure_recorded(void *data, PGresult *res, db_status_t status)
{
    if (status == DB_OK && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
        !strcmp(PQgetvalue(res, 0, 2), "t"))
        log_error("mail %s: given up after %s attempt(s); it stays in the outbox with dead_at set",
                  PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1));
    on_recorded(data, res, status);
}

static void record(mail_outbox_t *m, int stmt, int nparams, const char *const *params, const char *id,
                   db_result_fn cb)
{
    m->writes++;
    if (db_query(m->db, stmt, nparams, params, cb, m) != DB_OK) {
        m->writes--;
        log_warn("mail %s: the database is unavailable to record the result (the row will be retried)", id);
    }
}

static void mark_sent(mail_outbox_t *m, const char *id)
{
    const char *params[1] = {id};
    record(m, stmt_sent, 1, params, id, on_recorded);
}

/* permanent: the mail can never be sent (its address); else it is retried
 * until it is older than MAIL_GIVE_UP_AFTER. */
static void mark_failed(mail_outbox_t *m, const char *id, const char *why, int permanent)
{
    char max[24], give_up[24];
    snprintf(max, sizeof(max), "%llu", (unsigned long long)m->cfg->mail_retry_max_ms);
    snprintf(give_up, sizeof(give_up), "%llu", (unsigned long long)m->cfg->mail_give_up_after_ms);
    const char *params[5] = {id, why, max, permanent ? "true" : "false", give_up};
    record(m, stmt_failed, 5, params, id, on_failure_recorded);
}

static void job_free(mail_job_t *j)
{
    mail_outbox_t *m = j->m;
    if (j->prev)
        j->prev->next = j->next;
    else if (m->jobs == j)
        m->jobs = j->next;
    if (j->next)
        j->next->prev = j->prev;
    if (j->easy) {
        if (j->running)
            outbound_cancel(m->out, j->easy);
        curl_easy_cleanup(j->easy);
    }
    curl_slist_free_all(j->rcpt);
    free(j->to);
    free(j->payload);
    free(j);
}

static void on_transfer_done(void *data, CURL *easy, CURLcode rc)
{
    (void)easy;
    mail_job_t *j = data;
    mail_outbox_t *m = j->m;
    j->running = 0;
    if (rc == CURLE_OK) {
        log_info("mail %s sent to %s", j->id, j->to);
        __atomic_store_n(&mail_health, HEALTH_OK, __ATOMIC_RELAXED);
        mark_sent(m, j->id);
    } else {
        /* curl's own words: the server's answer or the network error, never credentials */
        const char *why = j->errbuf[0] ? j->errbuf : curl_easy_strerror(rc);
        log_warn("mail %s to %s failed, will retry: %s", j->id, j->to, why);
        __atomic_store_n(&mail_health, HEALTH_FAILING, __ATOMIC_RELAXED);
        mark_failed(m, j->id, why, 0);
    }
    m->active--;
    job_free(j);
}

static size_t read_payload(char *buf, size_t size, size_t nitems, void *userp)
{
    mail_job_t *j = userp;
    size_t n = size * nitems;
    if (n > j->len - j->off)
        n = j->len - j->off;
    memcpy(buf, j->payload + j->off, n);
    j->off += n;
    return n;
}

/* ---------------------------------------------------------------- the message */

typedef struct {
    char *p;
    size_t len, cap;
} text_t;

static void text_add(text_t *t, const char *s, size_t n)
{
    if (t->len + n + 1 > t->cap) {
        while (t->len + n + 1 > t->cap)
            t->cap *= 2;
        t->p = realloc(t->p, t->cap);
    }
    memcpy(t->p + t->len, s, n);
    t->len += n;
    t->p[t->len] = '\0';
}

static void text_str(text_t *t, const char *s) { text_add(t, s, strlen(s)); }

/* wrap: break into lines of 76 (a body); otherwise one run (an encoded-word). */
static void text_base64(text_t *t, const char *s, size_t n, int wrap)
{
    size_t b64 = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
    char *tmp = malloc(b64);
    sodium_bin2base64(tmp, b64, (const unsigned char *)s, n, sodium_base64_VARIANT_ORIGINAL);
    size_t tlen = strlen(tmp);
    if (!wrap) {
        text_add(t, tmp, tlen);
    } else {
        for (size_t i = 0; i < tlen; i += MAIL_BASE64_LINE) {
            text_add(t, tmp + i, tlen - i > MAIL_BASE64_LINE ? MAIL_BASE64_LINE : tlen - i);
            text_add(t, "\r\n", 2);
        }
    }
    free(tmp);
}

static int is_plain_header_text(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
            return 0;
    return 1;
}

/* Printable ASCII as it is; anything else as RFC 2047 UTF-8 encoded-words on
 * folded lines of at most 76 characters, never splitting a character (so
 * control bytes cannot break out of the header either). col: the characters
 * already on the line. Returns the length of the line it ends on. */
static size_t text_header_value(text_t *t, const char *s, size_t n, size_t col)
{
    if (is_plain_header_text(s, n)) {
        text_add(t, s, n);
        return col + n;
    }
    static const char word_open[] = "=?UTF-8?B?", word_close[] = "?=";
    const size_t frame = sizeof(word_open) - 1 + sizeof(word_close) - 1;
    for (size_t i = 0; i < n;) {
        if (i) {
            text_str(t, "\r\n ");
            col = 1;
        }
        /* 4 base64 characters per 3 bytes */
        size_t room = MAIL_HEADER_LINE > col + frame + 4 ? (MAIL_HEADER_LINE - col - frame) / 4 * 3 : 3;
        size_t take = n - i > room ? room : n - i;
        while (take > 1 && i + take < n && ((unsigned char)s[i + take] & 0xC0) == 0x80)
            take--;
        text_str(t, word_open);
        text_base64(t, s + i, take, 0);
        text_str(t, word_close);
        col += frame + (take + 2) / 3 * 4;
        i += take;
    }
    return col;
}

/* MAIL_FROM as given when it is plain ASCII; otherwise the display name of
 * "Name <address>" is encoded and the address kept. */
static void text_from_header(text_t *t, const char *from)
{
    static const char name_field[] = "From: ";
    text_str(t, name_field);
    const char *lt = strchr(from, '<');
    if (is_plain_header_text(from, strlen(from)) || !lt) {
        text_header_value(t, from, strlen(from), sizeof(name_field) - 1);
        return;
    }
    const char *name = from, *end = lt;
    while (name < end && *name == ' ')
        name++;
    while (end > name && end[-1] == ' ')
        end--;
    if (end - name >= 2 && *name == '"' && end[-1] == '"')
        name++, end--;
    size_t col = sizeof(name_field) - 1;
    if (end > name) {
        col = text_header_value(t, name, (size_t)(end - name), col);
        text_str(t, col + 1 + strlen(lt) > MAIL_HEADER_LINE ? "\r\n " : " ");
    }
    text_header_value(t, lt, strlen(lt), 1);
}

/* RFC 5322, CRLF line endings, a base64 UTF-8 body. */
static char *build_message(mail_outbox_t *m, const char *id, const char *to, const char *subject, const char *body,
                           size_t *out_len)
{
    text_t t = {.cap = 1024 + strlen(body) * 2};
    t.p = malloc(t.cap);
    t.p[0] = '\0';
    text_from_header(&t, m->cfg->mail_from);
    text_str(&t, "\r\nTo: ");
    text_str(&t, to); /* checked by recipient_ok: no spaces, controls or brackets */
    text_str(&t, "\r\nSubject: ");
    text_header_value(&t, subject, strlen(subject), strlen("Subject: "));
    char line[MAIL_ADDRESS_MAX + 160];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    size_t n = strftime(line, sizeof(line), "\r\nDate: %a, %d %b %Y %H:%M:%S +0000", &tm);
    text_add(&t, line, n);
    int k = snprintf(line, sizeof(line), "\r\nMessage-ID: <%s.%08x@%s>\r\n", id, (unsigned)randombytes_random(),
                     m->from_domain);
    text_add(&t, line, k > 0 && (size_t)k < sizeof(line) ? (size_t)k : strlen(line));
    text_str(&t, "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                 "Content-Transfer-Encoding: base64\r\n\r\n");
    /* Text is encoded in its canonical form, CRLF line breaks (RFC 2045 6.8). */
    text_t crlf = {.cap = 64 + strlen(body) * 2};
    crlf.p = malloc(crlf.cap);
    crlf.p[0] = '\0';
    for (const char *p = body; *p; p++) {
        if (*p == '\n' && (p == body || p[-1] != '\r'))
            text_add(&crlf, "\r", 1);
        text_add(&crlf, p, 1);
    }
    text_base64(&t, crlf.p, crlf.len, 1);
    free(crlf.p);
    *out_len = t.len;
    return t.p;
}

/* An address goes into the envelope and the To header as it is: refuse what
 * could end either (spaces, controls, brackets, commas, quotes). */
static int recipient_ok(const char *to)
{
    size_t n = strlen(to);
    if (n == 0 || n > MAIL_ADDRESS_MAX || !strchr(to, '@'))
        return 0;
    for (const unsigned char *p = (const unsigned char *)to; *p; p++)
        if (*p <= ' ' || *p == 0x7f || strchr("<>,;\"()[]\\", *p))
            return 0;
    return 1;
}

static void start_transfer(mail_outbox_t *m, const char *id, const char *to, const char *subject, const char *body)
{
    mail_job_t *j = calloc(1, sizeof(*j));
    j->m = m;
    snprintf(j->id, sizeof(j->id), "%s", id);
    j->to = strdup(to);
    j->payload = build_message(m, id, to, subject, body, &j->len);
    j->rcpt = curl_slist_append(NULL, to);
    CURL *e = j->easy = curl_easy_init();
    const config_t *cfg = m->cfg;
    curl_easy_setopt(e, CURLOPT_URL, m->url);
    curl_easy_setopt(e, CURLOPT_MAIL_FROM, m->from_addr);
    curl_easy_setopt(e, CURLOPT_MAIL_RCPT, j->rcpt);
    curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(e, CURLOPT_READFUNCTION, read_payload);
    curl_easy_setopt(e, CURLOPT_READDATA, j);
    curl_easy_setopt(e, CURLOPT_INFILESIZE, (long)j->len);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)cfg->mail_timeout_ms);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, j->errbuf);
    /* One connection per mail: no idle sockets held by curl between mails. */
    curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
    if (cfg->mail_starttls && !cfg->mail_ssl_tls)
        curl_easy_setopt(e, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
    if (cfg->mail_username && *cfg->mail_username) {
        curl_easy_setopt(e, CURLOPT_USERNAME, cfg->mail_username);
        curl_easy_setopt(e, CURLOPT_PASSWORD, cfg->mail_password ? cfg->mail_password : "");
    }
    m->active++;
    j->next = m->jobs;
    if (m->jobs)
        m->jobs->prev = j;
    m->jobs = j;
    if (outbound_start(m->out, e, on_transfer_done, j) == 0) {
        j->running = 1;
    } else {
        m->active--;
        mark_failed(m, id, "curl refused the transfer", 0);
        job_free(j);
    }
}

/* ---------------------------------------------------------------- claiming */

/* Rows claimed just as the mailer stops: give them back for another worker. */
static void release_claimed(mail_outbox_t *m, PGresult *res)
{
    int rows = PQntuples(res);
    if (rows == 0)
        return;
    text_t ids = {.cap = 64};
    ids.p = malloc(ids.cap);
    text_str(&ids, "{");
    for (int i = 0; i < rows; i++) {
        if (i)
            text_str(&ids, ",");
        text_str(&ids, PQgetvalue(res, i, 0));
    }
    text_str(&ids, "}");
    log_info("worker %d: stopping; %d claimed mail(s) given back", m->worker_id, rows);
    const char *params[1] = {ids.p};
    record(m, stmt_release, 1, params, ids.p, on_recorded);
    free(ids.p);
}

static void on_claimed(void *data, PGresult *res, db_status_t status)
{
    mail_outbox_t *m = data;
    m->claiming = 0;
    if (status != DB_OK || PQresultStatus(res) != PGRES_TUPLES_OK) {
        if (status == DB_OK)
            log_warn("mail: claiming due mail failed: %s", PQresultErrorMessage(res));
        close_when_idle(m);
        return;
    }
    if (m->stopping) {
        release_claimed(m, res);
        close_when_idle(m);
        return;
    }
    int rows = PQntuples(res);
    for (int i = 0; i < rows; i++) {
        const char *id = PQgetvalue(res, i, 0), *to = PQgetvalue(res, i, 1);
        const char *subject = PQgetvalue(res, i, 2), *body = PQgetvalue(res, i, 3);
        if (!m->cfg->mail_server || !*m->cfg->mail_server) {
            /* The local default: a person trying the server reads the code here. */
            log_info("mail %s to %s (MAIL_SERVER is not set, so it is logged here): %s | %s", id, to, subject, body);
            mark_sent(m, id);
        } else if (!recipient_ok(to)) {
            log_warn("mail %s: not sent, the recipient address is not usable", id);
            mark_failed(m, id, "invalid recipient address", 1);
        } else {
            start_transfer(m, id, to, subject, body);
        }
    }
    if (rows == MAIL_BATCH)
        mail_outbox_wake(m); /* there may be more */
}

static void on_counts(void *data, PGresult *res, db_status_t status)
{
    mail_outbox_t *m = data;
    if (status != DB_OK || PQresultStatus(res) != PGRES_TUPLES_OK || m->stopping)
        return;
    metrics_gauge_set(m->metrics, GAUGE_MAIL_PENDING, strtoll(PQgetvalue(res, 0, 0), NULL, 10));
    metrics_gauge_set(m->metrics, GAUGE_MAIL_SENT, strtoll(PQgetvalue(res, 0, 1), NULL, 10));
    metrics_gauge_set(m->metrics, GAUGE_MAIL_FAILED, strtoll(PQgetvalue(res, 0, 2), NULL, 10));
    metrics_gauge_set(m->metrics, GAUGE_MAIL_DEAD, strtoll(PQgetvalue(res, 0, 3), NULL, 10));
}

static void claim(mail_outbox_t *m)
{
    if (m->claiming || m->stopping || m->active >= MAIL_BATCH)
        return;
    char ms[24];
    snprintf(ms, sizeof(ms), "%llu", (unsigned long long)(m->cfg->mail_timeout_ms + MAIL_CLAIM_SLACK_MS));
    const char *params[1] = {ms};
    m->claiming = 1;
    if (db_query(m->db, stmt_claim, 1, params, on_claimed, m) != DB_OK)
        m->claiming = 0;
}

static void on_poll_timer(uv_timer_t *t)
{
    mail_outbox_t *m = t->data;
    claim(m);
    if (m->worker_id == 0) /* one count per process is enough */
        db_query(m->db, stmt_counts, 0, NULL, on_counts, m);
}

void mail_outbox_wake(mail_outbox_t *m)
{
    if (m && !m->stopping)
        claim(m);
}

mail_outbox_t *mail_outbox_start(uv_loop_t *loop, db_pool_t *db, outbound_t *out, const config_t *cfg,
                                 int worker_id)
{
    mail_outbox_t *m = calloc(1, sizeof(*m));
    m->loop = loop;
    m->db = db;
    m->out = out;
    m->cfg = cfg;
    m->worker_id = worker_id;
    m->metrics = metrics_worker(worker_id);
    if (!cfg->mail_server || !*cfg->mail_server)
        __atomic_store_n(&mail_health, HEALTH_LOG, __ATOMIC_RELAXED);
    else
        snprintf(m->url, sizeof(m->url), "%s://%s:%d", cfg->mail_ssl_tls ? "smtps" : "smtp", cfg->mail_server,
                 cfg->mail_port);
    /* The envelope sender is the address inside "Name <address>". */
    const char *lt = strchr(cfg->mail_from, '<'), *gt = lt ? strchr(lt, '>') : NULL;
    if (lt && gt)
        snprintf(m->from_addr, sizeof(m->from_addr), "<%.*s>", (int)(gt - lt - 1), lt + 1);
    else
        snprintf(m->from_addr, sizeof(m->from_addr), "<%s>", cfg->mail_from);
    const char *at = strrchr(m->from_addr, '@');
    size_t dlen = at ? strcspn(at + 1, ">") : 0;
    if (dlen)
        snprintf(m->from_domain, sizeof(m->from_domain), "%.*s", (int)dlen, at + 1);
    else
        snprintf(m->from_domain, sizeof(m->from_domain), "localhost");
    uv_timer_init(loop, &m->poll_timer);
    m->poll_timer.data = m;
    m->open_handles = 1;
    uv_timer_start(&m->poll_timer, on_poll_timer, MAIL_FIRST_POLL_MS, cfg->mail_poll_interval_ms);
    return m;
}

void mail_outbox_stop(mail_outbox_t *m, void (*done)(void *), void *data)
{
    m->stopping = 1;
    m->stopped = done;
    m->stopped_data = data;
    /* Transfers in flight are abandoned: their rows stay claimed until
     * locked_until passes, and then any worker sends them. */
    while (m->jobs)
        job_free(m->jobs);
    m->active = 0;
    uv_timer_stop(&m->poll_timer);
    if (m->writes || m->claiming)
        uv_timer_start(&m->poll_timer, on_stop_timeout, m->cfg->shutdown_timeout_ms, 0);
    close_when_idle(m);
}

void mail_outbox_free(mail_outbox_t *m)
{
    free(m);
}
