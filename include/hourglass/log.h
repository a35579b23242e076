#ifndef HOURGLASS_LOG_H
#define HOURGLASS_LOG_H
#include <stddef.h>

enum { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };
enum { LOG_FORMAT_TEXT, LOG_FORMAT_JSON };

/* Logs go to stderr, one line each, as text or JSON (LOG_FORMAT). A worker
 * thread buffers its lines and flushes them once per loop iteration, in
 * writes small enough to stay whole beside the other workers' lines. */
void log_setup(int level, int format);
int log_enabled(int level);
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

typedef struct {
    int level;            /* LOG_INFO; LOG_DEBUG for routes that say so (health probes) */
    const char *method;
    const char *route;    /* declared pattern, never the raw path */
    int status;
    double duration_ms;
    const char *request_id;
    const char *remote;
    int worker;
} log_request_t;

void log_request(const log_request_t *r);

/* Writes an error message into err (errlen bytes) for a caller to return, as
 * config and the migrations do; a newline from a value becomes a space, so the
 * message stays one line of the log. */
void log_format_error(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Called by worker threads: buffer this thread's lines until log_flush(). */
void log_thread_buffered(int on);
void log_flush(void);

#endif
