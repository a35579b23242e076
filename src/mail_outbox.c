/* The mailer of one worker loop: claims due rows of mail_outbox, sends them
 * by SMTP through libcurl's multi interface driven by this loop (a uv_poll per
 * curl socket, one uv_timer for curl's timeout), and marks them sent or due
 * again later. Without MAIL_SERVER it writes each mail to the log. */
#include <curl/curl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hourglass/log.h"
#include "hourglass/mail.h"
#include "hourglass/metrics.h"

#define MAIL_BATCH 8
#define MAIL_CLAIM_SLACK_MS 30000 /* a claimed row is someone else's to retry after this */

enum { HEALTH_OK, HEALTH_LOG, HEALTH_FAILING };
static int mail_health = HEALTH_OK;
static int stmt_claim, stmt_sent, stmt_failed, stmt_counts;

void mail_register_statements(void)
{
    stmt_claim = db_statement_register(
        "mail_claim",
        "UPDATE mail_outbox SET locked_until = now() + $1::bigint * interval '1 millisecond', attempts = attempts + 1"
        " WHERE id IN (SELECT id FROM mail_outbox WHERE sent_at IS NULL AND next_attempt_at <= now()"
        " AND (locked_until IS NULL OR locked_until < now()) ORDER BY id LIMIT 8 FOR UPDATE SKIP LOCKED)"
        " RETURNING id, to_addr, subject, body_text, attempts");
    stmt_sent = db_statement_register(
        "mail_sent", "UPDATE mail_outbox SET sent_at = now(), locked_until = NULL, last_error = NULL WHERE id = $1");
    stmt_failed = db_statement_register(
        "mail_failed",
        "UPDATE mail_outbox SET locked_until = NULL, last_error = $2,"
        " next_attempt_at = now() + least($3::bigint, 1000 * power(2, least(attempts - 1, 20))::bigint)"
        " * interval '1 millisecond' WHERE id = $1");
    stmt_counts = db_statement_register(
        "mail_counts",
        "SELECT count(*) FILTER (WHERE sent_at IS NULL AND last_error IS NULL),"
        " count(*) FILTER (WHERE sent_at IS NOT NULL),"
        " count(*) FILTER (WHERE sent_at IS NULL AND last_error IS NOT NULL) FROM mail_outbox");
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
    uv_timer_t poll_timer;
    uv_timer_t curl_timer;
    CURLM *multi;
    char url[300];
    char from_addr[256];
    mail_job_t *jobs; /* transfers in flight */
    int claiming;
    int stopping;
    int active;
    int open_handles;
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
    char errbuf[CURL_ERROR_SIZE];
};

typedef struct {
    uv_poll_t poll;
    curl_socket_t fd;
    mail_outbox_t *m;
} curl_sock_t;

static void on_handle_closed(uv_handle_t *h)
{
    mail_outbox_t *m = h->data;
    if (--m->open_handles == 0 && m->stopping && m->stopped)
        m->stopped(m->stopped_data);
}

static void on_sock_closed(uv_handle_t *h)
{
    curl_sock_t *s = (curl_sock_t *)h;
    mail_outbox_t *m = s->m;
    free(s);
    if (--m->open_handles == 0 && m->stopping && m->stopped)
        m->stopped(m->stopped_data);
}

/* ---------------------------------------------------------------- results */

static void on_update_done(void *data, PGresult *res, db_status_t status)
{
    (void)data;
    if (status != DB_OK || PQresultStatus(res) != PGRES_COMMAND_OK)
        log_warn("mail: could not record a result (the row will be retried): %s",
                 res ? PQresultErrorMessage(res) : "database unavailable");
}

static void mark_sent(mail_outbox_t *m, const char *id)
{
    const char *params[1] = {id};
    if (db_query(m->db, stmt_sent, 1, params, on_update_done, m) != DB_OK)
        log_warn("mail %s: sent, but the database is unavailable to record it", id);
}

static void mark_failed(mail_outbox_t *m, const char *id, const char *why)
{
    char max[24];
    snprintf(max, sizeof(max), "%llu", (unsigned long long)m->cfg->mail_retry_max_ms);
    const char *params[3] = {id, why, max};
    db_query(m->db, stmt_failed, 3, params, on_update_done, m);
}

static void job_free(mail_job_t *j)
{
    if (j->prev)
        j->prev->next = j->next;
    else if (j->m->jobs == j)
        j->m->jobs = j->next;
    if (j->next)
        j->next->prev = j->prev;
    if (j->easy) {
        curl_multi_remove_handle(j->m->multi, j->easy);
        curl_easy_cleanup(j->easy);
    }
    curl_slist_free_all(j->rcpt);
    free(j->to);
    free(j->payload);
    free(j);
}

static void check_done(mail_outbox_t *m)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(m->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        mail_job_t *j = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&j);
        CURLcode rc = msg->data.result;
        if (rc == CURLE_OK) {
            log_info("mail %s sent to %s", j->id, j->to);
            __atomic_store_n(&mail_health, HEALTH_OK, __ATOMIC_RELAXED);
            mark_sent(m, j->id);
        } else {
            const char *why = j->errbuf[0] ? j->errbuf : curl_easy_strerror(rc);
            log_warn("mail %s to %s failed, will retry: %s", j->id, j->to, why);
            __atomic_store_n(&mail_health, HEALTH_FAILING, __ATOMIC_RELAXED);
            mark_failed(m, j->id, why);
        }
        m->active--;
        job_free(j);
    }
}

/* ---------------------------------------------------------------- curl on the loop */

static void on_curl_poll(uv_poll_t *h, int status, int events)
{
    curl_sock_t *s = (curl_sock_t *)h;
    int flags = status < 0 ? CURL_CSELECT_ERR
                           : ((events & UV_READABLE) ? CURL_CSELECT_IN : 0) | ((events & UV_WRITABLE) ? CURL_CSELECT_OUT : 0);
    int running;
    curl_multi_socket_action(s->m->multi, s->fd, flags, &running);
    check_done(s->m);
}

static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    (void)easy;
    mail_outbox_t *m = userp;
    curl_sock_t *s = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (s) {
            curl_multi_assign(m->multi, fd, NULL);
            uv_close((uv_handle_t *)&s->poll, on_sock_closed);
        }
        return 0;
    }
    if (!s) {
        s = calloc(1, sizeof(*s));
        s->fd = fd;
        s->m = m;
        if (uv_poll_init_socket(m->loop, &s->poll, fd)) {
            free(s);
            return -1;
        }
        m->open_handles++;
        curl_multi_assign(m->multi, fd, s);
    }
    int events = ((what & CURL_POLL_IN) ? UV_READABLE : 0) | ((what & CURL_POLL_OUT) ? UV_WRITABLE : 0);
    uv_poll_start(&s->poll, events, on_curl_poll);
    return 0;
}

static void on_curl_timeout(uv_timer_t *t)
{
    mail_outbox_t *m = t->data;
    int running;
    curl_multi_socket_action(m->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(m);
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    mail_outbox_t *m = userp;
    if (timeout_ms < 0)
        uv_timer_stop(&m->curl_timer);
    else /* 0 too goes through the loop, never a recursive call */
        uv_timer_start(&m->curl_timer, on_curl_timeout, timeout_ms ? (uint64_t)timeout_ms : 1, 0);
    return 0;
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

static void append(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
    if (*len + n + 1 > *cap) {
        while (*len + n + 1 > *cap)
            *cap *= 2;
        *buf = realloc(*buf, *cap);
    }
    memcpy(*buf + *len, s, n);
    *len += n;
    (*buf)[*len] = '\0';
}

static void append_base64(char **buf, size_t *len, size_t *cap, const char *s, size_t n, int wrap)
{
    size_t b64 = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
    char *tmp = malloc(b64);
    sodium_bin2base64(tmp, b64, (const unsigned char *)s, n, sodium_base64_VARIANT_ORIGINAL);
    size_t tlen = strlen(tmp);
    for (size_t i = 0; i < tlen; i += wrap ? 76 : tlen) {
        size_t chunk = wrap && tlen - i > 76 ? 76 : tlen - i;
        append(buf, len, cap, tmp + i, chunk);
        if (wrap)
            append(buf, len, cap, "\r\n", 2);
    }
    free(tmp);
}

/* RFC 5322 with a base64 UTF-8 body and an RFC 2047 subject. */
static char *build_message(mail_outbox_t *m, const char *id, const char *to, const char *subject, const char *body,
                           size_t *out_len)
{
    size_t cap = 1024 + strlen(body) * 2, len = 0;
    char *buf = malloc(cap);
    buf[0] = '\0';
    char line[512];
    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
    int n = snprintf(line, sizeof(line), "From: %s\r\nTo: %s\r\nDate: %s\r\nMessage-ID: <%s.%u@hourglass>\r\n",
                     m->cfg->mail_from, to, date, id, (unsigned)randombytes_random());
    append(&buf, &len, &cap, line, (size_t)n);
    append(&buf, &len, &cap, "Subject: =?UTF-8?B?", 19);
    append_base64(&buf, &len, &cap, subject, strlen(subject), 0);
    append(&buf, &len, &cap, "?=\r\n", 4);
    static const char mime[] = "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                               "Content-Transfer-Encoding: base64\r\n\r\n";
    append(&buf, &len, &cap, mime, sizeof(mime) - 1);
    append_base64(&buf, &len, &cap, body, strlen(body), 1);
    *out_len = len;
    return buf;
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
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_MAIL_FROM, m->from_addr);
    curl_easy_setopt(e, CURLOPT_MAIL_RCPT, j->rcpt);
    curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(e, CURLOPT_READFUNCTION, read_payload);
    curl_easy_setopt(e, CURLOPT_READDATA, j);
    curl_easy_setopt(e, CURLOPT_INFILESIZE, (long)j->len);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)cfg->mail_timeout_ms);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, j->errbuf);
    curl_easy_setopt(e, CURLOPT_PRIVATE, j);
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
    if (curl_multi_add_handle(m->multi, e) != CURLM_OK) {
        m->active--;
        mark_failed(m, id, "curl refused the transfer");
        job_free(j);
    }
}

/* ---------------------------------------------------------------- claiming */

static void on_claimed(void *data, PGresult *res, db_status_t status)
{
    mail_outbox_t *m = data;
    m->claiming = 0;
    if (m->stopping || status != DB_OK || PQresultStatus(res) != PGRES_TUPLES_OK)
        return;
    int rows = PQntuples(res);
    for (int i = 0; i < rows; i++) {
        const char *id = PQgetvalue(res, i, 0), *to = PQgetvalue(res, i, 1);
        const char *subject = PQgetvalue(res, i, 2), *body = PQgetvalue(res, i, 3);
        if (!m->cfg->mail_server || !*m->cfg->mail_server) {
            /* The local default: a person trying the server reads the code here. */
            log_info("mail %s to %s (MAIL_SERVER is not set, so it is logged here): %s | %s", id, to, subject, body);
            mark_sent(m, id);
            continue;
        }
        start_transfer(m, id, to, subject, body);
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
}

static void claim(mail_outbox_t *m)
{
    if (m->claiming || m->stopping || m->active >= MAIL_BATCH)
        return;
    char ms[24];
    snprintf(ms, sizeof(ms), "%llu", (unsigned long long)(m->cfg->mail_timeout_ms + MAIL_CLAIM_SLACK_MS));
    const char *params[1] = {ms};
    if (db_query(m->db, stmt_claim, 1, params, on_claimed, m) == DB_OK)
        m->claiming = 1;
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

mail_outbox_t *mail_outbox_start(uv_loop_t *loop, db_pool_t *db, const config_t *cfg, int worker_id)
{
    mail_outbox_t *m = calloc(1, sizeof(*m));
    m->loop = loop;
    m->db = db;
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
    m->multi = curl_multi_init();
    curl_multi_setopt(m->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
    curl_multi_setopt(m->multi, CURLMOPT_SOCKETDATA, m);
    curl_multi_setopt(m->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(m->multi, CURLMOPT_TIMERDATA, m);
    uv_timer_init(loop, &m->poll_timer);
    uv_timer_init(loop, &m->curl_timer);
    m->poll_timer.data = m->curl_timer.data = m;
    m->open_handles = 2;
    uv_timer_start(&m->poll_timer, on_poll_timer, 50, cfg->mail_poll_interval_ms);
    return m;
}

/* Transfers in flight are abandoned: their rows stay claimed until
 * locked_until passes, and then any worker sends them. */
void mail_outbox_stop(mail_outbox_t *m, void (*done)(void *), void *data)
{
    m->stopping = 1;
    m->stopped = done;
    m->stopped_data = data;
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(m->multi, &left)))
        ;
    /* Removing each transfer closes its sockets through on_curl_socket. */
    while (m->jobs)
        job_free(m->jobs);
    m->active = 0;
    uv_close((uv_handle_t *)&m->poll_timer, on_handle_closed);
    uv_close((uv_handle_t *)&m->curl_timer, on_handle_closed);
}

void mail_outbox_free(mail_outbox_t *m)
{
    if (!m)
        return;
    curl_multi_cleanup(m->multi);
    free(m);
}
