/* The mail outbox (outbox.c runs it): its statements, and how one mail is
 * sent: written as RFC 5322 text and sent by SMTP through the worker's
 * outbound driver (libcurl multi on this loop, outbound.c), or written to
 * the log when MAIL_SERVER is not set. */
#include <curl/curl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hourglass/log.h"
#include "hourglass/mail.h"
#include "hourglass/mem.h"

#define MAIL_ADDRESS_MAX 254                          /* RFC 5321 */
#define MAIL_URL_MAX (MAIL_ADDRESS_MAX + 32)          /* smtps://<server>:<port> */
#define MAIL_BASE64_LINE 76                           /* RFC 2045 */
#define MAIL_BASE64_BYTES (MAIL_BASE64_LINE / 4 * 3)  /* what one line of it holds */
#define MAIL_HEADER_LINE 76                           /* RFC 2047: a line holding encoded-words */

/* What mail_outbox_health answers: "ok", "log" or "failing". */
static const char *mail_health = "ok";

static void send_mail(void *sender, outbound_t *out, outbox_job_t *job, PGresult *claim, int row);

/* A row is claimed only when no older row to the same address is waiting
 * (db/migrations/0012_mail_order.sql): one mail per address in flight, in the
 * order written, so a resent code never arrives before the one it replaces.
 * The claim is a lease (locked_until) held by whoever took it. */
static outbox_kind_t mail_kind = {
    .name = "mail",
    .channel = MAIL_CHANNEL,
    .statements = {
        [OUTBOX_CLAIM] = {
            .name = "mail_claim",
            .sql = "UPDATE mail_outbox SET locked_until = now() + $1::bigint * interval '1 millisecond',"
                   " attempts = attempts + 1"
                   " WHERE id IN (SELECT o.id FROM mail_outbox o WHERE o.sent_at IS NULL AND o.dead_at IS NULL"
                   " AND o.next_attempt_at <= now() AND (o.locked_until IS NULL OR o.locked_until < now())"
                   " AND NOT EXISTS (SELECT 1 FROM mail_outbox e WHERE lower(e.to_addr) = lower(o.to_addr)"
                   " AND e.id < o.id AND e.sent_at IS NULL AND e.dead_at IS NULL)"
                   " ORDER BY o.id LIMIT $2::int FOR UPDATE OF o SKIP LOCKED)"
                   " RETURNING id, to_addr, subject, body_text",
        },
        [OUTBOX_SENT] = {
            .name = "mail_sent",
            .sql = "UPDATE mail_outbox SET sent_at = now(), locked_until = NULL, last_error = NULL WHERE id = $1",
        },
        [OUTBOX_FAILED] = {
            .name = "mail_failed",
            .sql = "UPDATE mail_outbox SET locked_until = NULL, last_error = $2,"
                   " next_attempt_at = now() + coalesce($3::bigint,"
                   " least($4::bigint, 1000 * power(2, least(attempts - 1, 20))::bigint)) * interval '1 millisecond',"
                   " dead_at = CASE WHEN $6::boolean OR created_at < now() - $5::bigint * interval '1 millisecond'"
                   " THEN now() END"
                   " WHERE id = $1 RETURNING id, attempts, dead_at IS NOT NULL",
        },
        [OUTBOX_RELEASE] = {
            .name = "mail_release",
            .sql = "UPDATE mail_outbox SET locked_until = NULL, attempts = attempts - 1"
                   " WHERE id = ANY($1::bigint[]) AND sent_at IS NULL",
        },
        [OUTBOX_COUNTS] = {
            .name = "mail_counts",
            .sql = "SELECT count(*) FILTER (WHERE sent_at IS NULL AND dead_at IS NULL"
                   " AND NOT (attempts > 0 AND last_error IS NOT NULL)),"
                   " count(*) FILTER (WHERE sent_at IS NOT NULL),"
                   " count(*) FILTER (WHERE sent_at IS NULL AND dead_at IS NULL AND attempts > 0"
                   " AND last_error IS NOT NULL),"
                   " count(*) FILTER (WHERE dead_at IS NOT NULL) FROM mail_outbox",
        },
    },
    .gauges = {GAUGE_MAIL_PENDING, GAUGE_MAIL_SENT, GAUGE_MAIL_FAILED, GAUGE_MAIL_DEAD},
    .send = send_mail,
};

void mail_register_statements(void) { outbox_register(&mail_kind); }

const char *mail_outbox_health(void) { return __atomic_load_n(&mail_health, __ATOMIC_RELAXED); }

typedef struct {
    const config_t *cfg;
    char url[MAIL_URL_MAX];                 /* empty: mail goes to the log */
    char from_addr[MAIL_ADDRESS_MAX + 3];   /* the envelope sender, "<address>" */
    char from_domain[MAIL_ADDRESS_MAX + 1]; /* its domain, for Message-ID */
} mail_sender_t;

/* One mail on its way. */
typedef struct {
    outbox_job_t *job;
    CURL *easy;
    char *to;
    abuf_t payload;
    size_t off; /* of the payload, read by curl so far */
    struct curl_slist *rcpt;
    char errbuf[CURL_ERROR_SIZE];
} transfer_t;

static void transfer_free(transfer_t *t)
{
    if (t->easy)
        curl_easy_cleanup(t->easy);
    curl_slist_free_all(t->rcpt);
    abuf_free(&t->payload);
    free(t->to);
    free(t);
}

static void on_transfer_done(void *data, CURL *easy, CURLcode rc)
{
    (void)easy;
    transfer_t *t = data;
    outbox_result_t result = {0};
    if (rc == CURLE_OK) {
        log_info("mail %s sent to %s", outbox_job_id(t->job), t->to);
        __atomic_store_n(&mail_health, "ok", __ATOMIC_RELAXED);
    } else {
        /* curl's own words: the server's answer or the network error, never credentials */
        result.error = t->errbuf[0] ? t->errbuf : curl_easy_strerror(rc);
        __atomic_store_n(&mail_health, "failing", __ATOMIC_RELAXED);
    }
    outbox_done(t->job, &result);
    transfer_free(t);
}

static size_t read_payload(char *buf, size_t size, size_t nitems, void *userp)
{
    transfer_t *t = userp;
    size_t n = size * nitems;
    if (n > t->payload.len - t->off)
        n = t->payload.len - t->off;
    memcpy(buf, t->payload.data + t->off, n);
    t->off += n;
    return n;
}

/* wrap: lines of 76 characters (a body); otherwise one run (an encoded-word). */
static void put_base64(abuf_t *b, const char *s, size_t n, bool wrap)
{
    char line[sodium_base64_ENCODED_LEN(MAIL_BASE64_BYTES, sodium_base64_VARIANT_ORIGINAL)];
    for (size_t i = 0; i < n; i += MAIL_BASE64_BYTES) {
        size_t take = n - i < MAIL_BASE64_BYTES ? n - i : MAIL_BASE64_BYTES;
        abuf_puts(b, sodium_bin2base64(line, sizeof(line), (const unsigned char *)s + i, take,
                                       sodium_base64_VARIANT_ORIGINAL));
        if (wrap)
            abuf_puts(b, "\r\n");
    }
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
static size_t put_header_value(abuf_t *b, const char *s, size_t n, size_t col)
{
    if (is_plain_header_text(s, n)) {
        abuf_append(b, s, n);
        return col + n;
    }
    static const char word_open[] = "=?UTF-8?B?", word_close[] = "?=";
    const size_t frame = sizeof(word_open) - 1 + sizeof(word_close) - 1;
    for (size_t i = 0; i < n;) {
        if (i) {
            abuf_puts(b, "\r\n ");
            col = 1;
        }
        /* 4 base64 characters per 3 bytes */
        size_t room = MAIL_HEADER_LINE > col + frame + 4 ? (MAIL_HEADER_LINE - col - frame) / 4 * 3 : 3;
        size_t take = n - i > room ? room : n - i;
        while (take > 1 && i + take < n && ((unsigned char)s[i + take] & 0xC0) == 0x80)
            take--;
        abuf_puts(b, word_open);
        put_base64(b, s + i, take, false);
        abuf_puts(b, word_close);
        col += frame + (take + 2) / 3 * 4;
        i += take;
    }
    return col;
}

/* MAIL_FROM as given when it is plain ASCII; otherwise the display name of
 * "Name <address>" is encoded and the address kept. */
static void put_from_header(abuf_t *b, const char *from)
{
    static const char name_field[] = "From: ";
    abuf_puts(b, name_field);
    const char *lt = strchr(from, '<');
    if (is_plain_header_text(from, strlen(from)) || !lt) {
        put_header_value(b, from, strlen(from), sizeof(name_field) - 1);
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
        col = put_header_value(b, name, (size_t)(end - name), col);
        abuf_puts(b, col + 1 + strlen(lt) > MAIL_HEADER_LINE ? "\r\n " : " ");
    }
    put_header_value(b, lt, strlen(lt), 1);
}

void mail_message(abuf_t *out, const char *from, const char *from_domain, const char *id, const char *to,
                  const char *subject, const char *body)
{
    put_from_header(out, from);
    abuf_puts(out, "\r\nTo: ");
    abuf_puts(out, to); /* checked by recipient_ok: no spaces, controls or brackets */
    static const char subject_field[] = "Subject: ";
    abuf_puts(out, "\r\n");
    abuf_puts(out, subject_field);
    put_header_value(out, subject, strlen(subject), sizeof(subject_field) - 1);
    char date[sizeof("\r\nDate: Wed, 31 Dec 2026 23:59:59 +0000")];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    abuf_append(out, date, strftime(date, sizeof(date), "\r\nDate: %a, %d %b %Y %H:%M:%S +0000", &tm));
    abuf_printf(out, "\r\nMessage-ID: <%s.%08x@%s>\r\n", id, (unsigned)randombytes_random(), from_domain);
    abuf_puts(out, "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                   "Content-Transfer-Encoding: base64\r\n\r\n");
    /* Text is encoded in its canonical form, CRLF line breaks (RFC 2045 6.8). */
    abuf_t crlf;
    abuf_init(&crlf, NULL, strlen(body) * 2 + 1); /* at most, every byte a line break */
    for (const char *p = body; *p; p++) {
        if (*p == '\n' && (p == body || p[-1] != '\r'))
            abuf_puts(&crlf, "\r");
        abuf_append(&crlf, p, 1);
    }
    put_base64(out, crlf.data, crlf.len, true);
    abuf_free(&crlf);
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

static CURL *smtp_transfer(const mail_sender_t *s, transfer_t *t)
{
    CURL *e = curl_easy_init();
    if (!e)
        return NULL;
    const config_t *cfg = s->cfg;
    curl_easy_setopt(e, CURLOPT_URL, s->url);
    curl_easy_setopt(e, CURLOPT_MAIL_FROM, s->from_addr);
    curl_easy_setopt(e, CURLOPT_MAIL_RCPT, t->rcpt);
    curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(e, CURLOPT_READFUNCTION, read_payload);
    curl_easy_setopt(e, CURLOPT_READDATA, t);
    curl_easy_setopt(e, CURLOPT_INFILESIZE, (long)t->payload.len);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)cfg->mail_timeout_ms);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf);
    /* One connection per mail: no idle sockets held by curl between mails. */
    curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
    if (cfg->mail_starttls && !cfg->mail_ssl_tls)
        curl_easy_setopt(e, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
    if (cfg->mail_username && *cfg->mail_username) {
        curl_easy_setopt(e, CURLOPT_USERNAME, cfg->mail_username);
        curl_easy_setopt(e, CURLOPT_PASSWORD, cfg->mail_password ? cfg->mail_password : "");
    }
    return e;
}

static void send_mail(void *sender, outbound_t *out, outbox_job_t *job, PGresult *claim, int row)
{
    const mail_sender_t *s = sender;
    const char *id = outbox_job_id(job), *to = PQgetvalue(claim, row, 1);
    const char *subject = PQgetvalue(claim, row, 2), *body = PQgetvalue(claim, row, 3);
    if (!s->url[0]) {
        /* The local default: a person trying the server reads the code here. */
        log_info("mail %s to %s (MAIL_SERVER is not set, so it is logged here): %s | %s", id, to, subject, body);
        outbox_done(job, &(outbox_result_t){0});
        return;
    }
    if (!recipient_ok(to)) {
        outbox_done(job, &(outbox_result_t){.error = "invalid recipient address", .permanent = true});
        return;
    }
    transfer_t *t = mem_calloc(1, sizeof(*t));
    t->job = job;
    t->to = mem_strdup(to);
    abuf_init(&t->payload, NULL, 0);
    mail_message(&t->payload, s->cfg->mail_from, s->from_domain, id, to, subject, body);
    t->rcpt = curl_slist_append(NULL, to);
    t->easy = t->rcpt ? smtp_transfer(s, t) : NULL;
    if (!t->easy || outbound_start(out, t->easy, on_transfer_done, t) != 0) {
        transfer_free(t);
        outbox_done(job, &(outbox_result_t){.error = "curl refused the transfer"});
    }
}

outbox_t *mail_outbox_start(uv_loop_t *loop, db_pool_t *db, outbound_t *out, const config_t *cfg, int worker_id)
{
    mail_sender_t *s = mem_calloc(1, sizeof(*s));
    s->cfg = cfg;
    if (!cfg->mail_server || !*cfg->mail_server)
        __atomic_store_n(&mail_health, "log", __ATOMIC_RELAXED);
    else
        snprintf(s->url, sizeof(s->url), "%s://%s:%d", cfg->mail_ssl_tls ? "smtps" : "smtp", cfg->mail_server,
                 cfg->mail_port);
    /* The envelope sender is the address inside "Name <address>". */
    const char *lt = strchr(cfg->mail_from, '<'), *gt = lt ? strchr(lt, '>') : NULL;
    if (lt && gt)
        snprintf(s->from_addr, sizeof(s->from_addr), "<%.*s>", (int)(gt - lt - 1), lt + 1);
    else
        snprintf(s->from_addr, sizeof(s->from_addr), "<%s>", cfg->mail_from);
    const char *at = strrchr(s->from_addr, '@');
    size_t dlen = at ? strcspn(at + 1, ">") : 0;
    if (dlen)
        snprintf(s->from_domain, sizeof(s->from_domain), "%.*s", (int)dlen, at + 1);
    else
        snprintf(s->from_domain, sizeof(s->from_domain), "localhost");
    outbox_timing_t timing = {
        .poll_interval_ms = cfg->mail_poll_interval_ms,
        .send_timeout_ms = cfg->mail_timeout_ms,
        .retry_max_ms = cfg->mail_retry_max_ms,
        .give_up_after_ms = cfg->mail_give_up_after_ms,
    };
    return outbox_start(&mail_kind, s, &timing, loop, db, out, worker_id);
}
