#include "hourglass/config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hourglass/log.h"

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
#define KIB 1024LL
#define MIB (1024LL * 1024LL)
#define HOUR_MS (3600LL * 1000LL)

static const cfg_var_t cfg_vars[] = {
    {"HOST", CFG_STRING, "0.0.0.0", 0, 0, NULL, OFF(host)},
    {"PORT", CFG_INT, "8000", 1, 65535, NULL, OFF(port)},
    {"WORKERS", CFG_INT, NULL, 1, 64, NULL, OFF(workers)},
    {"DATABASE_URL", CFG_SECRET, NULL, 0, 0, NULL, OFF(database_url)},
    {"POSTGRES_HOST", CFG_STRING, NULL, 0, 0, NULL, OFF(postgres_host)},
    {"DATABASE_PORT", CFG_INT, "5432", 1, 65535, NULL, OFF(database_port)},
    {"POSTGRES_USER", CFG_STRING, NULL, 0, 0, NULL, OFF(postgres_user)},
    {"POSTGRES_PASSWORD", CFG_SECRET, NULL, 0, 0, NULL, OFF(postgres_password)},
    {"POSTGRES_DB", CFG_STRING, NULL, 0, 0, NULL, OFF(postgres_db)},
    {"DB_POOL_SIZE", CFG_INT, "2", 1, 100, NULL, OFF(db_pool_size)},
    {"DB_QUEUE_SIZE", CFG_INT, "1024", 0, 1000000, NULL, OFF(db_queue_size)},
    {"DB_PIPELINE_DEPTH", CFG_INT, "32", 1, 1024, NULL, OFF(db_pipeline_depth)},
    {"DB_STARTUP_TIMEOUT", CFG_DURATION, "30s", 0, HOUR_MS, NULL, OFF(db_startup_timeout_ms)},
    {"CLIENT_ORIGIN", CFG_STRING, "", 0, 0, NULL, OFF(client_origin)},
    {"LOG_LEVEL", CFG_ENUM, "info", 0, 0, log_levels, OFF(log_level)},
    {"LOG_FORMAT", CFG_ENUM, "text", 0, 0, log_formats, OFF(log_format)},
    {"HTTP_MAX_HEADER_SIZE", CFG_SIZE, "16k", 1 * KIB, 1 * MIB, NULL, OFF(http_max_header_size)},
    {"HTTP_MAX_HEADERS", CFG_INT, "100", 1, 10000, NULL, OFF(http_max_headers)},
    {"HTTP_MAX_URL_SIZE", CFG_SIZE, "8k", 64, 1 * MIB, NULL, OFF(http_max_url_size)},
    {"HTTP_MAX_BODY_SIZE", CFG_SIZE, "1m", 0, 1024 * MIB, NULL, OFF(http_max_body_size)},
    {"HTTP_MAX_CONNECTIONS", CFG_INT, "16384", 1, 1000000, NULL, OFF(http_max_connections)},
    {"HTTP_MAX_PIPELINE", CFG_INT, "16", 1, 1024, NULL, OFF(http_max_pipeline)},
    {"HTTP_MAX_QUEUED_BYTES", CFG_SIZE, "256k", 1 * KIB, 1024 * MIB, NULL, OFF(http_max_queued_bytes)},
    {"HTTP_HEADER_TIMEOUT", CFG_DURATION, "10s", 10, HOUR_MS, NULL, OFF(http_header_timeout_ms)},
    {"HTTP_IDLE_TIMEOUT", CFG_DURATION, "60s", 10, 24 * HOUR_MS, NULL, OFF(http_idle_timeout_ms)},
    {"HTTP_REQUEST_TIMEOUT", CFG_DURATION, "30s", 10, HOUR_MS, NULL, OFF(http_request_timeout_ms)},
    {"SHUTDOWN_TIMEOUT", CFG_DURATION, "10s", 0, HOUR_MS, NULL, OFF(shutdown_timeout_ms)},

    {"JWT_SECRET", CFG_SECRET, NULL, 0, 0, NULL, OFF(jwt_secret)},
    {"JWT_ALGORITHM", CFG_ENUM, "HS256", 0, 0, jwt_algorithms, OFF(jwt_algorithm)},
    {"JWT_PRIVATE_KEY", CFG_SECRET, NULL, 0, 0, NULL, OFF(jwt_private_key)},
    {"JWT_PUBLIC_KEY", CFG_STRING, NULL, 0, 0, NULL, OFF(jwt_public_key)},
    /* Minutes when given as a bare number, as the source systems' .env files have them. */
    {"ACCESS_TOKEN_EXPIRES_IN", CFG_DURATION, "15m", 1000, 30 * DAY_MS, NULL, OFF(access_token_ttl_ms)},
    {"REFRESH_TOKEN_EXPIRES_IN", CFG_DURATION, "43200m", 1000, 3650 * DAY_MS, NULL, OFF(refresh_token_ttl_ms)},
    {"REFRESH_REUSE_GRACE", CFG_DURATION, "10s", 0, HOUR_MS, NULL, OFF(refresh_reuse_grace_ms)},
    {"COOKIE_SECURE", CFG_BOOL, "false", 0, 0, NULL, OFF(cookie_secure)},
    {"AUTH_REQUIRE_VERIFIED_EMAIL", CFG_BOOL, "true", 0, 0, NULL, OFF(auth_require_verified_email)},
    {"PASSWORD_POLICY", CFG_BOOL, "true", 0, 0, NULL, OFF(password_policy)},
    {"PASSWORD_HASH_COST", CFG_ENUM, "interactive", 0, 0, hash_costs, OFF(password_hash_cost)},
    {"AUTH_CODE_TTL", CFG_DURATION, "15m", 1000, DAY_MS, NULL, OFF(auth_code_ttl_ms)},
    {"AUTH_CODE_MAX_ATTEMPTS", CFG_INT, "5", 1, 100, NULL, OFF(auth_code_max_attempts)},
    {"LOGIN_LOCKOUT_THRESHOLD", CFG_INT, "10", 1, 1000, NULL, OFF(login_lockout_threshold)},
    {"LOGIN_LOCKOUT_WINDOW", CFG_DURATION, "15m", 1000, DAY_MS, NULL, OFF(login_lockout_window_ms)},
    {"LOGIN_IP_LIMIT", CFG_INT, "100", 1, 1000000, NULL, OFF(login_ip_limit_per_minute)},
    {"MAIL_QUOTA_PER_MINUTE", CFG_INT, "1", 1, 1000, NULL, OFF(mail_quota_per_minute)},
    {"MAIL_QUOTA_PER_HOUR", CFG_INT, "5", 1, 100000, NULL, OFF(mail_quota_per_hour)},

    {"MAIL_SERVER", CFG_STRING, NULL, 0, 0, NULL, OFF(mail_server)},
    {"MAIL_PORT", CFG_INT, "587", 1, 65535, NULL, OFF(mail_port)},
    {"MAIL_USERNAME", CFG_STRING, NULL, 0, 0, NULL, OFF(mail_username)},
    {"MAIL_PASSWORD", CFG_SECRET, NULL, 0, 0, NULL, OFF(mail_password)},
    {"MAIL_FROM", CFG_STRING, "hourglass <noreply@localhost>", 0, 0, NULL, OFF(mail_from)},
    {"MAIL_STARTTLS", CFG_BOOL, "true", 0, 0, NULL, OFF(mail_starttls)},
    {"MAIL_SSL_TLS", CFG_BOOL, "false", 0, 0, NULL, OFF(mail_ssl_tls)},
    {"MAIL_TIMEOUT", CFG_DURATION, "30s", 100, HOUR_MS, NULL, OFF(mail_timeout_ms)},
    {"MAIL_RETRY_MAX", CFG_DURATION, "10m", 100, DAY_MS, NULL, OFF(mail_retry_max_ms)},
    {"MAIL_GIVE_UP_AFTER", CFG_DURATION, "48h", 100, 30 * DAY_MS, NULL, OFF(mail_give_up_after_ms)},
    {"MAIL_POLL_INTERVAL", CFG_DURATION, "10s", 50, HOUR_MS, NULL, OFF(mail_poll_interval_ms)},

    {"EVENTS_HEARTBEAT_INTERVAL", CFG_DURATION, "15s", 100, HOUR_MS, NULL, OFF(events_heartbeat_ms)},
    {"EVENTS_MAX_STREAMS_PER_USER", CFG_INT, "10", 1, 1000000, NULL, OFF(events_max_streams_per_user)},
    {"EVENTS_MAX_UNSENT", CFG_SIZE, "256k", 1 * KIB, 64 * MIB, NULL, OFF(events_max_unsent)},
    {"EVENTS_RETENTION", CFG_DURATION, "24h", 1000, 365 * DAY_MS, NULL, OFF(events_retention_ms)},

    {"OUTBOUND_TIMEOUT", CFG_DURATION, "10s", 100, HOUR_MS, NULL, OFF(outbound_timeout_ms)},
    {"OUTBOUND_POLL_INTERVAL", CFG_DURATION, "5s", 50, HOUR_MS, NULL, OFF(outbound_poll_interval_ms)},
    {"OUTBOUND_RETRY_MAX", CFG_DURATION, "5m", 100, DAY_MS, NULL, OFF(outbound_retry_max_ms)},
    {"OUTBOUND_GIVE_UP_AFTER", CFG_DURATION, "48h", 100, 30 * DAY_MS, NULL, OFF(outbound_give_up_after_ms)},
    {"OUTBOUND_MAX_RESPONSE", CFG_SIZE, "1m", 1 * KIB, 64 * MIB, NULL, OFF(outbound_max_response)},
    {"PAYMENT_GATEWAY_URL", CFG_STRING, NULL, 0, 0, NULL, OFF(payment_gateway_url)},
    {"PAYMENT_GATEWAY_USER", CFG_STRING, NULL, 0, 0, NULL, OFF(payment_gateway_user)},
    {"PAYMENT_GATEWAY_PASSWORD", CFG_SECRET, NULL, 0, 0, NULL, OFF(payment_gateway_password)},
    {"TELEGRAM_API_URL", CFG_STRING, "https://api.telegram.org", 0, 0, NULL, OFF(telegram_api_url)},
    {"TELEGRAM_BOT_TOKEN", CFG_SECRET, NULL, 0, 0, NULL, OFF(telegram_bot_token)},
    {"TELEGRAM_CHAT_ID", CFG_STRING, NULL, 0, 0, NULL, OFF(telegram_chat_id)},
    {"SHOP_NOTIFY_EMAIL", CFG_STRING, NULL, 0, 0, NULL, OFF(shop_notify_email)},
    {"BOT_API_TOKEN", CFG_SECRET, NULL, 0, 0, NULL, OFF(bot_api_token)},
    {"CONTACT_FORM_LIMIT", CFG_INT, "5", 1, 100000, NULL, OFF(contact_form_limit)},
    {"CONTACT_FORM_WINDOW", CFG_DURATION, "10m", 1000, DAY_MS, NULL, OFF(contact_form_window_ms)},
    {"CATALOGUE_CACHE_SIZE", CFG_SIZE, "32m", 0, 64 * 1024 * MIB, NULL, OFF(catalogue_cache_size)},

    {"COMPAT_SEED000", CFG_BOOL, "false", 0, 0, NULL, OFF(compat_seed000)},
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
    static const char *const yes[] = {"1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (!strcasecmp(s, yes[i])) {
            *out = 1;
            return 0;
        }
        if (!strcasecmp(s, no[i])) {
            *out = 0;
            return 0;
        }
    }
    return -1;
}

/* How an out-of-bounds number is named in its error, by type. */
typedef struct {
    const char *what, *min_unit, *max_unit, *example;
    long long max_divisor;
} number_words_t;

static const number_words_t number_words[] = {
    [CFG_INT] = {.what = "an integer", .min_unit = "", .max_unit = "", .example = "", .max_divisor = 1},
    [CFG_SIZE] = {.what = "a size", .min_unit = "", .max_unit = " bytes", .example = ", like 16k or 1m", .max_divisor = 1},
    [CFG_DURATION] = {.what = "a duration", .min_unit = "ms", .max_unit = "s", .example = ", like 500ms, 10s or 2m",
                      .max_divisor = 1000},
};

/* Reads an INT, SIZE (bytes) or DURATION (ms) value; -1 when it is none or beyond long long. */
static int parse_number(cfg_type_t type, const char *value, long long *out)
{
    if (type == CFG_INT)
        return config_parse_int(value, out);
    if (type == CFG_SIZE) {
        size_t n;
        if (config_parse_size(value, &n) || n > LLONG_MAX)
            return -1;
        *out = (long long)n;
        return 0;
    }
    uint64_t ms;
    if (config_parse_duration_ms(value, &ms) || ms > LLONG_MAX)
        return -1;
    *out = (long long)ms;
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
        *slot = strdup(value);
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
        char *k = s;
        if (!eq || eq == s) {
            log_format_error(err, errlen, "%s:%d: expected NAME=VALUE", file_name, line_no);
            return -1;
        }
        for (char *c = k; c < eq; c++) {
            if (!(isalnum((unsigned char)*c) || *c == '_')) {
                log_format_error(err, errlen, "%s:%d: expected NAME=VALUE", file_name, line_no);
                return -1;
            }
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
        const cfg_var_t *v = cfg_find(k, (size_t)(eq - k));
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
    cfg->client_origins_count = 0;
    free(cfg->client_origins);
    cfg->client_origins = NULL;
    size_t cap = 1;
    for (const char *c = cfg->client_origin; *c; c++)
        cap += *c == ',';
    cfg->client_origins = calloc(cap, sizeof(char *));
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
            cfg->client_origins[cfg->client_origins_count++] = strndup(start, (size_t)(end - start));
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
        cfg->database_url = strdup(buf);
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
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    size_t n;
    while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (len + 1 >= cap) {
            if (cap >= (1u << 20)) {
                log_format_error(err, errlen, "--config %s: larger than 1 MiB", path);
                free(buf);
                fclose(f);
                return NULL;
            }
            cap *= 2;
            buf = realloc(buf, cap);
        }
    }
    fclose(f);
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

const char *config_database_conninfo(const config_t *cfg) { return cfg->database_url; }

int config_require_keys(const config_t *cfg, char *err, size_t errlen)
{
    if (cfg->jwt_algorithm == JWT_HS256) {
        if (!cfg->jwt_secret || strlen(cfg->jwt_secret) < 16) {
            log_format_error(err, errlen, "JWT_SECRET: is required, at least 16 characters (or JWT_ALGORITHM=RS256/ES256 with keys)");
            return -1;
        }
        return 0;
    }
    if (!cfg->jwt_private_key || !*cfg->jwt_private_key) {
        log_format_error(err, errlen, "JWT_PRIVATE_KEY: is required for JWT_ALGORITHM=%s", jwt_algorithms[cfg->jwt_algorithm]);
        return -1;
    }
    if (!cfg->jwt_public_key || !*cfg->jwt_public_key) {
        log_format_error(err, errlen, "JWT_PUBLIC_KEY: is required for JWT_ALGORITHM=%s", jwt_algorithms[cfg->jwt_algorithm]);
        return -1;
    }
    return 0;
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
