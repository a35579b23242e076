#include "hourglass/config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hourglass/log.h"
#include "hourglass/mem.h"

#define CONFIG_FILE_MAX (1u << 20) /* what --config reads at most */
#define JWT_SECRET_MIN_CHARS 16

typedef enum { CFG_STRING, CFG_SECRET, CFG_INT, CFG_SIZE, CFG_DURATION, CFG_ENUM, CFG_BOOL } cfg_type_t;

/* One configuration variable: its name, type, default, bounds and where it
 * lands in config_t. Adding a setting means adding a row here. */
typedef struct {
    const char *name;
    cfg_type_t type;
    const char *def;       /* NULL: unset unless given */
    long long min, max;    /* for INT, SIZE (bytes), DURATION (ms) */
    const char *const *choices; /* for ENUM, NULL-terminated; value stored as index */
    size_t offset;
} cfg_var_t;

static const char *const log_levels[] = {"debug", "info", "warn", "error", NULL};
static const char *const log_formats[] = {"text", "json", NULL};
static const char *const jwt_algorithms[] = {"HS256", "RS256", "ES256", NULL};
static const char *const hash_costs[] = {"interactive", "moderate", "min", NULL};
#define DAY_MS (24 * HOUR_MS)

#define OFF(field) offsetof(config_t, field)
#define AT(field) .offset = OFF(field) /* where a variable lands in config_t */
#define KIB 1024LL
#define MIB (1024LL * 1024LL)
#define HOUR_MS (3600LL * 1000LL)

static const cfg_var_t cfg_vars[] = {
    {.name = "HOST", .type = CFG_STRING, .def = "0.0.0.0", AT(host)},
    {.name = "PORT", .type = CFG_INT, .def = "8000", .min = 1, .max = 65535, AT(port)},
    {.name = "WORKERS", .type = CFG_INT, .min = 1, .max = 64, AT(workers)},
    {.name = "DATABASE_URL", .type = CFG_SECRET, AT(database_url)},
    {.name = "POSTGRES_HOST", .type = CFG_STRING, AT(postgres_host)},
    {.name = "DATABASE_PORT", .type = CFG_INT, .def = "5432", .min = 1, .max = 65535, AT(database_port)},
    {.name = "POSTGRES_USER", .type = CFG_STRING, AT(postgres_user)},
    {.name = "POSTGRES_PASSWORD", .type = CFG_SECRET, AT(postgres_password)},
    {.name = "POSTGRES_DB", .type = CFG_STRING, AT(postgres_db)},
    {.name = "DB_POOL_SIZE", .type = CFG_INT, .def = "2", .min = 1, .max = 100, AT(db_pool_size)},
    {.name = "DB_QUEUE_SIZE", .type = CFG_INT, .def = "1024", .max = 1000000, AT(db_queue_size)},
    {.name = "DB_PIPELINE_DEPTH", .type = CFG_INT, .def = "32", .min = 1, .max = 1024, AT(db_pipeline_depth)},
    {.name = "DB_STARTUP_TIMEOUT", .type = CFG_DURATION, .def = "30s", .max = HOUR_MS, AT(db_startup_timeout_ms)},
    {.name = "CLIENT_ORIGIN", .type = CFG_STRING, .def = "", AT(client_origin)},
    {.name = "LOG_LEVEL", .type = CFG_ENUM, .def = "info", .choices = log_levels, AT(log_level)},
    {.name = "LOG_FORMAT", .type = CFG_ENUM, .def = "text", .choices = log_formats, AT(log_format)},
    {.name = "HTTP_MAX_HEADER_SIZE", .type = CFG_SIZE, .def = "16k", .min = 1 * KIB, .max = 1 * MIB,
     AT(http_max_header_size)},
    {.name = "HTTP_MAX_HEADERS", .type = CFG_INT, .def = "100", .min = 1, .max = 10000, AT(http_max_headers)},
    {.name = "HTTP_MAX_URL_SIZE", .type = CFG_SIZE, .def = "8k", .min = 64, .max = 1 * MIB, AT(http_max_url_size)},
    {.name = "HTTP_MAX_BODY_SIZE", .type = CFG_SIZE, .def = "1m", .max = 1024 * MIB, AT(http_max_body_size)},
    {.name = "HTTP_MAX_CONNECTIONS", .type = CFG_INT, .def = "16384", .min = 1, .max = 1000000,
     AT(http_max_connections)},
    {.name = "HTTP_MAX_PIPELINE", .type = CFG_INT, .def = "16", .min = 1, .max = 1024, AT(http_max_pipeline)},
    {.name = "HTTP_MAX_QUEUED_BYTES", .type = CFG_SIZE, .def = "256k", .min = 1 * KIB, .max = 1024 * MIB,
     AT(http_max_queued_bytes)},
    {.name = "HTTP_HEADER_TIMEOUT", .type = CFG_DURATION, .def = "10s", .min = 10, .max = HOUR_MS,
     AT(http_header_timeout_ms)},
    {.name = "HTTP_IDLE_TIMEOUT", .type = CFG_DURATION, .def = "60s", .min = 10, .max = 24 * HOUR_MS,
     AT(http_idle_timeout_ms)},
    {.name = "HTTP_REQUEST_TIMEOUT", .type = CFG_DURATION, .def = "30s", .min = 10, .max = HOUR_MS,
     AT(http_request_timeout_ms)},
    {.name = "SHUTDOWN_TIMEOUT", .type = CFG_DURATION, .def = "10s", .max = HOUR_MS, AT(shutdown_timeout_ms)},

    {.name = "JWT_SECRET", .type = CFG_SECRET, AT(jwt_secret)},
    {.name = "JWT_ALGORITHM", .type = CFG_ENUM, .def = "HS256", .choices = jwt_algorithms, AT(jwt_algorithm)},
    {.name = "JWT_PRIVATE_KEY", .type = CFG_SECRET, AT(jwt_private_key)},
    {.name = "JWT_PUBLIC_KEY", .type = CFG_STRING, AT(jwt_public_key)},
    /* Minutes when given as a bare number, as the source systems' .env files have them. */
    {.name = "ACCESS_TOKEN_EXPIRES_IN", .type = CFG_DURATION, .def = "15m", .min = 1000, .max = 30 * DAY_MS,
     AT(access_token_ttl_ms)},
    {.name = "REFRESH_TOKEN_EXPIRES_IN", .type = CFG_DURATION, .def = "43200m", .min = 1000, .max = 3650 * DAY_MS,
     AT(refresh_token_ttl_ms)},
    {.name = "REFRESH_REUSE_GRACE", .type = CFG_DURATION, .def = "10s", .max = HOUR_MS, AT(refresh_reuse_grace_ms)},
    {.name = "COOKIE_SECURE", .type = CFG_BOOL, .def = "false", AT(cookie_secure)},
    {.name = "AUTH_REQUIRE_VERIFIED_EMAIL", .type = CFG_BOOL, .def = "true", AT(auth_require_verified_email)},
    {.name = "PASSWORD_POLICY", .type = CFG_BOOL, .def = "true", AT(password_policy)},
    {.name = "PASSWORD_HASH_COST", .type = CFG_ENUM, .def = "interactive", .choices = hash_costs,
     AT(password_hash_cost)},
    {.name = "AUTH_CODE_TTL", .type = CFG_DURATION, .def = "15m", .min = 1000, .max = DAY_MS, AT(auth_code_ttl_ms)},
    {.name = "AUTH_CODE_MAX_ATTEMPTS", .type = CFG_INT, .def = "5", .min = 1, .max = 100, AT(auth_code_max_attempts)},
    {.name = "LOGIN_LOCKOUT_THRESHOLD", .type = CFG_INT, .def = "10", .min = 1, .max = 1000,
     AT(login_lockout_threshold)},
    {.name = "LOGIN_LOCKOUT_WINDOW", .type = CFG_DURATION, .def = "15m", .min = 1000, .max = DAY_MS,
     AT(login_lockout_window_ms)},
    {.name = "LOGIN_IP_LIMIT", .type = CFG_INT, .def = "100", .min = 1, .max = 1000000, AT(login_ip_limit_per_minute)},
    {.name = "MAIL_QUOTA_PER_MINUTE", .type = CFG_INT, .def = "1", .min = 1, .max = 1000, AT(mail_quota_per_minute)},
    {.name = "MAIL_QUOTA_PER_HOUR", .type = CFG_INT, .def = "5", .min = 1, .max = 100000, AT(mail_quota_per_hour)},

    {.name = "MAIL_SERVER", .type = CFG_STRING, AT(mail_server)},
    {.name = "MAIL_PORT", .type = CFG_INT, .def = "587", .min = 1, .max = 65535, AT(mail_port)},
    {.name = "MAIL_USERNAME", .type = CFG_STRING, AT(mail_username)},
    {.name = "MAIL_PASSWORD", .type = CFG_SECRET, AT(mail_password)},
    {.name = "MAIL_FROM", .type = CFG_STRING, .def = "hourglass <noreply@localhost>", AT(mail_from)},
    {.name = "MAIL_STARTTLS", .type = CFG_BOOL, .def = "true", AT(mail_starttls)},
    {.name = "MAIL_SSL_TLS", .type = CFG_BOOL, .def = "false", AT(mail_ssl_tls)},
    {.name = "MAIL_TIMEOUT", .type = CFG_DURATION, .def = "30s", .min = 100, .max = HOUR_MS, AT(mail_timeout_ms)},
    {.name = "MAIL_RETRY_MAX", .type = CFG_DURATION, .def = "10m", .min = 100, .max = DAY_MS, AT(mail_retry_max_ms)},
    {.name = "MAIL_GIVE_UP_AFTER", .type = CFG_DURATION, .def = "48h", .min = 100, .max = 30 * DAY_MS,
     AT(mail_give_up_after_ms)},
    {.name = "MAIL_POLL_INTERVAL", .type = CFG_DURATION, .def = "10s", .min = 50, .max = HOUR_MS,
     AT(mail_poll_interval_ms)},

    {.name = "EVENTS_HEARTBEAT_INTERVAL", .type = CFG_DURATION, .def = "15s", .min = 100, .max = HOUR_MS,
     AT(events_heartbeat_ms)},
    {.name = "EVENTS_MAX_STREAMS_PER_USER", .type = CFG_INT, .def = "10", .min = 1, .max = 1000000,
     AT(events_max_streams_per_user)},
    {.name = "EVENTS_MAX_UNSENT", .type = CFG_SIZE, .def = "256k", .min = 1 * KIB, .max = 64 * MIB,
     AT(events_max_unsent)},
    {.name = "EVENTS_RETENTION", .type = CFG_DURATION, .def = "24h", .min = 1000, .max = 365 * DAY_MS,
     AT(events_retention_ms)},

    {.name = "OUTBOUND_TIMEOUT", .type = CFG_DURATION, .def = "10s", .min = 100, .max = HOUR_MS,
     AT(outbound_timeout_ms)},
    {.name = "OUTBOUND_POLL_INTERVAL", .type = CFG_DURATION, .def = "5s", .min = 50, .max = HOUR_MS,
     AT(outbound_poll_interval_ms)},
    {.name = "OUTBOUND_RETRY_MAX", .type = CFG_DURATION, .def = "5m", .min = 100, .max = DAY_MS,
     AT(outbound_retry_max_ms)},
    {.name = "OUTBOUND_GIVE_UP_AFTER", .type = CFG_DURATION, .def = "48h", .min = 100, .max = 30 * DAY_MS,
     AT(outbound_give_up_after_ms)},
    {.name = "OUTBOUND_MAX_RESPONSE", .type = CFG_SIZE, .def = "1m", .min = 1 * KIB, .max = 64 * MIB,
     AT(outbound_max_response)},
    {.name = "PAYMENT_GATEWAY_URL", .type = CFG_STRING, AT(payment_gateway_url)},
    {.name = "PAYMENT_GATEWAY_USER", .type = CFG_STRING, AT(payment_gateway_user)},
    {.name = "PAYMENT_GATEWAY_PASSWORD", .type = CFG_SECRET, AT(payment_gateway_password)},
    {.name = "TELEGRAM_API_URL", .type = CFG_STRING, .def = "https://api.telegram.org", AT(telegram_api_url)},
    {.name = "TELEGRAM_BOT_TOKEN", .type = CFG_SECRET, AT(telegram_bot_token)},
    {.name = "TELEGRAM_CHAT_ID", .type = CFG_STRING, AT(telegram_chat_id)},
    {.name = "SHOP_NOTIFY_EMAIL", .type = CFG_STRING, AT(shop_notify_email)},
    {.name = "BOT_API_TOKEN", .type = CFG_SECRET, AT(bot_api_token)},
    {.name = "CONTACT_FORM_LIMIT", .type = CFG_INT, .def = "5", .min = 1, .max = 100000, AT(contact_form_limit)},
    {.name = "CONTACT_FORM_WINDOW", .type = CFG_DURATION, .def = "10m", .min = 1000, .max = DAY_MS,
     AT(contact_form_window_ms)},
    {.name = "CATALOGUE_CACHE_SIZE", .type = CFG_SIZE, .def = "32m", .max = 64 * 1024 * MIB, AT(catalogue_cache_size)},

    {.name = "COMPAT_SEED000", .type = CFG_BOOL, .def = "false", AT(compat_seed000)},
};

#define CFG_VAR_COUNT (sizeof(cfg_vars) / sizeof(cfg_vars[0]))

int config_parse_int(const char *s, long long *out)
{
    if (!s || !*s)
        return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || end == s)
        return -1;
    *out = v;
    return 0;
}

typedef struct {
    const char *suffix;
    unsigned long long multiplier;
} unit_t;

static const unit_t duration_units[] = {{"", 1000}, {"s", 1000}, {"ms", 1}, {"m", 60000}, {"h", 3600000}, {NULL, 0}};
static const unit_t size_units[] = {{"", 1},           {"k", 1024},          {"kib", 1024},        {"kb", 1024},
                                    {"m", 1024 * 1024}, {"mib", 1024 * 1024}, {"mb", 1024 * 1024}, {NULL, 0}};

/* A non-negative number with one of the units' suffixes. */
static int parse_scaled(const char *s, const unit_t *units, unsigned long long *out)
{
    if (!s || !isdigit((unsigned char)*s))
        return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno)
        return -1;
    for (const unit_t *u = units; u->suffix; u++) {
        if (strcasecmp(end, u->suffix))
            continue;
        if (v > ULLONG_MAX / u->multiplier)
            return -1;
        *out = v * u->multiplier;
        return 0;
    }
    return -1;
}

int config_parse_duration_ms(const char *s, uint64_t *out)
{
    unsigned long long v;
    if (parse_scaled(s, duration_units, &v) || v > UINT64_MAX)
        return -1;
    *out = v;
    return 0;
}

int config_parse_size(const char *s, size_t *out)
{
    unsigned long long v;
    if (parse_scaled(s, size_units, &v) || v > SIZE_MAX)
        return -1;
    *out = (size_t)v;
    return 0;
}

int config_parse_bool(const char *s, int *out)
{
    static const char *const words[] = {"0", "1", "false", "true", "no", "yes", "off", "on"}; /* no, yes in turn */
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        if (!strcasecmp(s, words[i])) {
            *out = (int)(i % 2);
            return 0;
        }
    }
    return -1;
}

/* How a number is read (units: NULL for a plain integer) and, out of bounds, named in its error. */
typedef struct {
    const unit_t *units;
    const char *what, *min_unit, *max_unit, *example;
    long long max_divisor;
} number_words_t;

static const number_words_t number_words[] = {
    [CFG_INT] = {.what = "an integer", .min_unit = "", .max_unit = "", .example = "", .max_divisor = 1},
    [CFG_SIZE] = {.units = size_units, .what = "a size", .min_unit = "", .max_unit = " bytes",
                  .example = ", like 16k or 1m", .max_divisor = 1},
    [CFG_DURATION] = {.units = duration_units, .what = "a duration", .min_unit = "ms", .max_unit = "s",
                      .example = ", like 500ms, 10s or 2m", .max_divisor = 1000},
};

/* Reads an INT, SIZE (bytes) or DURATION (ms) value; -1 when it is none or beyond long long. */
static int parse_number(cfg_type_t type, const char *value, long long *out)
{
    unsigned long long v;
    if (!number_words[type].units)
        return config_parse_int(value, out);
    if (parse_scaled(value, number_words[type].units, &v) || v > LLONG_MAX)
        return -1;
    *out = (long long)v;
    return 0;
}

static int cfg_set(config_t *cfg, const cfg_var_t *v, const char *value, char *err, size_t errlen)
{
    char *base = (char *)cfg;
    switch (v->type) {
    case CFG_STRING:
    case CFG_SECRET: {
        char **slot = (char **)(base + v->offset);
        free(*slot);
        *slot = mem_strdup(value);
        return 0;
    }
    case CFG_INT:
    case CFG_SIZE:
    case CFG_DURATION: {
        char scaled[64];
        /* The source systems give token lifetimes in minutes. */
        if (v->offset == OFF(access_token_ttl_ms) || v->offset == OFF(refresh_token_ttl_ms)) {
            long long minutes;
            if (!config_parse_int(value, &minutes) && minutes >= 0) {
                snprintf(scaled, sizeof(scaled), "%lldm", minutes);
                value = scaled;
            }
        }
        long long n;
        if (parse_number(v->type, value, &n) || n < v->min || n > v->max) {
            const number_words_t *w = &number_words[v->type];
            log_format_error(err, errlen, "%s: must be %s from %lld%s to %lld%s%s (got \"%.40s\")", v->name, w->what,
                             v->min, w->min_unit, v->max / w->max_divisor, w->max_unit, w->example, value);
            return -1;
        }
        if (v->type == CFG_INT)
            *(int *)(base + v->offset) = (int)n;
        else if (v->type == CFG_SIZE)
            *(size_t *)(base + v->offset) = (size_t)n;
        else
            *(uint64_t *)(base + v->offset) = (uint64_t)n;
        return 0;
    }
    case CFG_BOOL: {
        int b;
        if (config_parse_bool(value, &b)) {
            log_format_error(err, errlen, "%s: must be true or false (got \"%.40s\")", v->name, value);
            return -1;
        }
        *(int *)(base + v->offset) = b;
        return 0;
    }
    case CFG_ENUM:
        for (int i = 0; v->choices[i]; i++) {
            if (!strcasecmp(value, v->choices[i])) {
                *(int *)(base + v->offset) = i;
                return 0;
            }
        }
        {
            char list[128] = "";
            for (int i = 0; v->choices[i]; i++) {
                strncat(list, i ? ", " : "", sizeof(list) - strlen(list) - 1);
                strncat(list, v->choices[i], sizeof(list) - strlen(list) - 1);
            }
            log_format_error(err, errlen, "%s: must be one of %s (got \"%.40s\")", v->name, list, value);
        }
        return -1;
    }
    return -1;
}

static const cfg_var_t *cfg_find(const char *name, size_t len)
{
    for (size_t i = 0; i < CFG_VAR_COUNT; i++)
        if (strlen(cfg_vars[i].name) == len && !strncmp(cfg_vars[i].name, name, len))
            return &cfg_vars[i];
    return NULL;
}

/* Letters, digits and _ from s to end. */
static int is_name(const char *s, const char *end)
{
    for (; s < end; s++)
        if (!isalnum((unsigned char)*s) && *s != '_')
            return 0;
    return 1;
}

/* Applies KEY=VALUE lines. Unknown keys are allowed: one .env file may hold
 * settings for other programs too. */
static int cfg_apply_file(config_t *cfg, const char *text, const char *file_name, char *err, size_t errlen)
{
    int line_no = 0;
    const char *p = text;
    while (*p) {
        line_no++;
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        char line[4096];
        if (len >= sizeof(line)) {
            log_format_error(err, errlen, "%s:%d: line too long", file_name, line_no);
            return -1;
        }
        memcpy(line, p, len);
        line[len] = '\0';
        p = eol ? eol + 1 : p + len;

        char *s = line;
        while (isspace((unsigned char)*s))
            s++;
        char *e = s + strlen(s);
        while (e > s && isspace((unsigned char)e[-1]))
            *--e = '\0';
        if (!*s || *s == '#')
            continue;
        if (!strncmp(s, "export ", 7))
            s += 7;
        char *eq = strchr(s, '=');
        if (!eq || eq == s || !is_name(s, eq)) {
            log_format_error(err, errlen, "%s:%d: expected NAME=VALUE", file_name, line_no);
            return -1;
        }
        char *val = eq + 1;
        size_t vlen = strlen(val);
        if (vlen >= 2 && (val[0] == '"' || val[0] == '\'') && val[vlen - 1] == val[0]) {
            val[vlen - 1] = '\0';
            val++;
        } else if (vlen && (val[0] == '"' || val[0] == '\'')) {
            log_format_error(err, errlen, "%s:%d: unterminated quote", file_name, line_no);
            return -1;
        }
        const cfg_var_t *v = cfg_find(s, (size_t)(eq - s));
        if (!v)
            continue;
        char sub[512];
        if (cfg_set(cfg, v, val, sub, sizeof(sub))) {
            log_format_error(err, errlen, "%s (%s:%d)", sub, file_name, line_no);
            return -1;
        }
    }
    return 0;
}

/* libpq keyword=value strings quote with '...' and escape \ and '. */
static void conninfo_add(char *buf, size_t cap, const char *key, const char *value)
{
    if (!value || !*value)
        return;
    size_t n = strlen(buf);
    n += (size_t)snprintf(buf + n, cap > n ? cap - n : 0, "%s%s='", n ? " " : "", key);
    for (const char *c = value; *c && n + 3 < cap; c++) {
        if (*c == '\\' || *c == '\'')
            buf[n++] = '\\';
        buf[n++] = *c;
    }
    if (n + 2 < cap) {
        buf[n++] = '\'';
        buf[n] = '\0';
    }
}

static void cfg_split_origins(config_t *cfg)
{
    size_t cap = 1;
    for (const char *c = cfg->client_origin; *c; c++)
        cap += *c == ',';
    cfg->client_origins = mem_calloc(cap, sizeof(char *));
    const char *p = cfg->client_origin;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *start = p;
        while (*p && *p != ',')
            p++;
        const char *end = p;
        while (end > start && (end[-1] == ' ' || end[-1] == '/'))
            end--;
        if (end > start)
            cfg->client_origins[cfg->client_origins_count++] = mem_strndup(start, (size_t)(end - start));
    }
}

int config_parse(config_t *cfg, config_lookup_fn lookup, void *lookup_data,
                 const char *file_text, const char *file_name, char *err, size_t errlen)
{
    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; i < CFG_VAR_COUNT; i++) {
        const cfg_var_t *v = &cfg_vars[i];
        if (v->def && cfg_set(cfg, v, v->def, err, errlen))
            return -1;
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    cfg->workers = cores < 1 ? 1 : cores > 64 ? 64 : (int)cores;

    if (file_text && cfg_apply_file(cfg, file_text, file_name ? file_name : "config", err, errlen))
        return -1;
    for (size_t i = 0; i < CFG_VAR_COUNT; i++) {
        const char *value = lookup ? lookup(cfg_vars[i].name, lookup_data) : NULL;
        if (value && cfg_set(cfg, &cfg_vars[i], value, err, errlen))
            return -1;
    }
    if (!*cfg->host) {
        log_format_error(err, errlen, "HOST: must not be empty");
        return -1;
    }
    if (cfg->database_url && !*cfg->database_url) {
        free(cfg->database_url);
        cfg->database_url = NULL;
    }
    if (!cfg->database_url && cfg->postgres_host && *cfg->postgres_host) {
        char buf[2048] = "";
        char port[16];
        snprintf(port, sizeof(port), "%d", cfg->database_port);
        conninfo_add(buf, sizeof(buf), "host", cfg->postgres_host);
        conninfo_add(buf, sizeof(buf), "port", port);
        conninfo_add(buf, sizeof(buf), "user", cfg->postgres_user);
        conninfo_add(buf, sizeof(buf), "password", cfg->postgres_password);
        conninfo_add(buf, sizeof(buf), "dbname", cfg->postgres_db);
        cfg->database_url = mem_strdup(buf);
    }
    cfg_split_origins(cfg);
    return 0;
}

static const char *env_lookup(const char *name, void *data)
{
    (void)data;
    return getenv(name);
}

static char *read_whole_file(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        log_format_error(err, errlen, "--config %s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = mem_alloc(CONFIG_FILE_MAX + 1);
    size_t len = fread(buf, 1, CONFIG_FILE_MAX + 1, f);
    fclose(f);
    if (len > CONFIG_FILE_MAX) {
        log_format_error(err, errlen, "--config %s: larger than 1 MiB", path);
        free(buf);
        return NULL;
    }
    buf[len] = '\0';
    return buf;
}

int config_load(config_t *cfg, const char *file_path, char *err, size_t errlen)
{
    char *text = NULL;
    if (file_path && !(text = read_whole_file(file_path, err, errlen))) {
        memset(cfg, 0, sizeof(*cfg));
        return -1;
    }
    int rc = config_parse(cfg, env_lookup, NULL, text, file_path, err, errlen);
    free(text);
    return rc;
}

int config_require_database(const config_t *cfg, char *err, size_t errlen)
{
    if (cfg->database_url)
        return 0;
    log_format_error(err, errlen, "DATABASE_URL: is required (or POSTGRES_HOST with POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB)");
    return -1;
}

int config_require_keys(const config_t *cfg, char *err, size_t errlen)
{
    if (cfg->jwt_algorithm == JWT_HS256) {
        if (!cfg->jwt_secret || strlen(cfg->jwt_secret) < JWT_SECRET_MIN_CHARS) {
            log_format_error(err, errlen,
                             "JWT_SECRET: is required, at least %d characters (or JWT_ALGORITHM=RS256/ES256 with keys)",
                             JWT_SECRET_MIN_CHARS);
            return -1;
        }
        return 0;
    }
    const char *missing = !cfg->jwt_private_key || !*cfg->jwt_private_key ? "JWT_PRIVATE_KEY"
                          : !cfg->jwt_public_key || !*cfg->jwt_public_key   ? "JWT_PUBLIC_KEY"
                                                                             : NULL;
    if (missing)
        log_format_error(err, errlen, "%s: is required for JWT_ALGORITHM=%s", missing,
                         jwt_algorithms[cfg->jwt_algorithm]);
    return missing ? -1 : 0;
}

int config_origin_allowed(const config_t *cfg, const char *origin, size_t len)
{
    for (size_t i = 0; i < cfg->client_origins_count; i++) {
        const char *o = cfg->client_origins[i];
        if (strlen(o) == len && !strncasecmp(o, origin, len))
            return 1;
    }
    return 0;
}

void config_free(config_t *cfg)
{
    for (size_t i = 0; i < CFG_VAR_COUNT; i++) {
        const cfg_var_t *v = &cfg_vars[i];
        if (v->type == CFG_STRING || v->type == CFG_SECRET) {
            char **slot = (char **)((char *)cfg + v->offset);
            free(*slot);
            *slot = NULL;
        }
    }
    for (size_t i = 0; i < cfg->client_origins_count; i++)
        free(cfg->client_origins[i]);
    free(cfg->client_origins);
    cfg->client_origins = NULL;
    cfg->client_origins_count = 0;
}
