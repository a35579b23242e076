#include "hourglass/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hourglass/config.h"

#define LOG_LINE_MAX 2048
/* A pipe write of at most PIPE_BUF bytes is never interleaved with another's. */
#define LOG_FLUSH_AT 4000
#define LOG_TIME_SIZE 40 /* 2026-12-05T15:13:03.123Z */

static int log_level = LOG_INFO;
static int log_format = LOG_FORMAT_TEXT;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

static __thread char thread_buf[LOG_FLUSH_AT + LOG_LINE_MAX];
static __thread size_t thread_len;
static __thread int thread_buffered;

void log_setup(int level, int format)
{
    log_level = level;
    log_format = format;
}

int log_enabled(int level) { return level >= log_level; }

static void write_all(const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(STDERR_FILENO, p, n);
        if (w <= 0)
            return; /* nowhere left to complain */
        p += w;
        n -= (size_t)w;
    }
}

void log_flush(void)
{
    if (thread_len) {
        write_all(thread_buf, thread_len);
        thread_len = 0;
    }
}

void log_thread_buffered(int on)
{
    if (!on)
        log_flush();
    thread_buffered = on;
}

/* A line cut at the end of line[cap] still ends in a newline. */
static void emit(char *line, size_t n, size_t cap)
{
    if (n >= cap) {
        n = cap - 1;
        line[n - 1] = '\n';
    }
    if (!thread_buffered) {
        write_all(line, n);
        return;
    }
    if (thread_len + n > LOG_FLUSH_AT)
        log_flush();
    memcpy(thread_buf + thread_len, line, n);
    thread_len += n;
}

static void format_time(char out[LOG_TIME_SIZE])
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(out, LOG_TIME_SIZE, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, LOG_TIME_SIZE - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

/* JSON string body: escapes quotes, backslashes and control bytes. */
static void escape_json(char *out, size_t cap, const char *s)
{
    size_t n = 0;
    for (; *s && n + 7 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[n++] = '\\';
            out[n++] = (char)c;
        } else if (c < 0x20) {
            n += (size_t)snprintf(out + n, cap - n, "\\u%04x", c);
        } else {
            out[n++] = (char)c;
        }
    }
    out[n] = '\0';
}

void log_msg(int level, const char *fmt, ...)
{
    if (level < log_level)
        return;
    char msg[LOG_LINE_MAX / 2];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    for (char *c = msg; *c; c++)
        if (*c == '\n' || *c == '\r')
            *c = ' ';

    char line[LOG_LINE_MAX], ts[LOG_TIME_SIZE];
    format_time(ts);
    size_t n;
    if (log_format == LOG_FORMAT_JSON) {
        char esc[LOG_LINE_MAX];
        escape_json(esc, sizeof(esc), msg);
        n = (size_t)snprintf(line, sizeof(line), "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":\"%s\"}\n",
                             ts, level_names[level], esc);
    } else {
        n = (size_t)snprintf(line, sizeof(line), "%s %s %s\n", ts, level_names[level], msg);
    }
    emit(line, n, sizeof(line));
}

void log_format_error(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    for (char *c = err; *c; c++)
        if (*c == '\n')
            *c = ' ';
}

void log_request(const log_request_t *r)
{
    if (r->level < log_level)
        return;
    char line[LOG_LINE_MAX], ts[LOG_TIME_SIZE];
    format_time(ts);
    size_t n;
    if (log_format == LOG_FORMAT_JSON) {
        char rid[300];
        escape_json(rid, sizeof(rid), r->request_id ? r->request_id : "");
        n = (size_t)snprintf(line, sizeof(line),
                             "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":\"request\",\"method\":\"%s\","
                             "\"route\":\"%s\",\"status\":%d,\"duration_ms\":%.3f,\"request_id\":\"%s\","
                             "\"remote\":\"%s\",\"worker\":%d}\n",
                             ts, level_names[r->level], r->method, r->route, r->status, r->duration_ms, rid,
                             r->remote ? r->remote : "", r->worker);
    } else {
        n = (size_t)snprintf(line, sizeof(line), "%s %s %s %s %d %.3fms id=%s remote=%s worker=%d\n",
                             ts, level_names[r->level], r->method, r->route, r->status, r->duration_ms,
                             r->request_id ? r->request_id : "-", r->remote ? r->remote : "-", r->worker);
    }
    emit(line, n, sizeof(line));
}
