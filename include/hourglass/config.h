#ifndef HOURGLASS_CONFIG_H
#define HOURGLASS_CONFIG_H
#include <stddef.h>
#include <stdint.h>

#include "hourglass/log.h"

/* Everything read from the environment and the config file. Read-only once
 * the workers start; they share it without locks. */
typedef struct config {
    char *host;
    int port;
    int workers;

    char *database_url;      /* libpq's connection string: as given, or built from the POSTGRES_* parts */
    char *postgres_host;
    int database_port;
    char *postgres_user;
    char *postgres_password;
    char *postgres_db;
    int db_pool_size;
    int db_queue_size;
    int db_pipeline_depth;
    uint64_t db_startup_timeout_ms;

    char *client_origin;     /* raw comma-separated list */
    char **client_origins;   /* split, trimmed */
    size_t client_origins_count;

    int log_level;
    int log_format;

    size_t http_max_header_size;
    int http_max_headers;
    size_t http_max_url_size;
    size_t http_max_body_size;
    int http_max_connections;
    int http_max_pipeline;
    size_t http_max_queued_bytes; /* answers not yet written, per connection */
    uint64_t http_header_timeout_ms;
    uint64_t http_idle_timeout_ms;
    uint64_t http_request_timeout_ms;
    uint64_t shutdown_timeout_ms;

    /* Tokens. Keys are PEM text or a path to a PEM file. */
    char *jwt_secret;
    int jwt_algorithm;       /* JWT_HS256, JWT_RS256, JWT_ES256 */
    char *jwt_private_key;
    char *jwt_public_key;
    uint64_t access_token_ttl_ms;
    uint64_t refresh_token_ttl_ms;
    uint64_t refresh_reuse_grace_ms;
    int cookie_secure;

    /* Accounts. */
    int auth_require_verified_email;
    int password_policy;
    int password_hash_cost;  /* PASSWORD_COST_* */
    uint64_t auth_code_ttl_ms;
    int auth_code_max_attempts;
    int login_lockout_threshold;
    uint64_t login_lockout_window_ms;
    int login_ip_limit_per_minute;
    int mail_quota_per_minute;
    int mail_quota_per_hour;

    /* Mail. No MAIL_SERVER: mail is written to the log. */
    char *mail_server;
    int mail_port;
    char *mail_username;
    char *mail_password;
    char *mail_from;
    int mail_starttls;
    int mail_ssl_tls;
    uint64_t mail_timeout_ms;
    uint64_t mail_retry_max_ms;
    uint64_t mail_give_up_after_ms; /* a mail still failing at this age is given up */
    uint64_t mail_poll_interval_ms;

    /* Live events (GET /api/v1/events). */
    uint64_t events_heartbeat_ms;
    int events_max_streams_per_user;
    size_t events_max_unsent;
    uint64_t events_retention_ms; /* events older than this are pruned; a Last-Event-ID before them: reset */

    /* Outbound HTTP (outbound.c) and the shop's services; unset: not configured. */
    uint64_t outbound_timeout_ms;
    size_t outbound_max_response;
    uint64_t outbound_poll_interval_ms;  /* the Telegram outbox is polled this often besides NOTIFY */
    uint64_t outbound_retry_max_ms;      /* ceiling of its retry backoff */
    uint64_t outbound_give_up_after_ms;  /* a message still failing at this age is given up */
    char *payment_gateway_url;
    char *payment_gateway_user;
    char *payment_gateway_password;
    char *telegram_api_url;
    char *telegram_bot_token;
    char *telegram_chat_id;
    char *shop_notify_email;
    char *bot_api_token;
    int contact_form_limit;
    uint64_t contact_form_window_ms;
    size_t catalogue_cache_size; /* per worker; 0: the public catalogue is read from the database every time */

    /* Seed 000's front end routes (api_compat.c). */
    int compat_seed000;
} config_t;

enum { JWT_HS256, JWT_RS256, JWT_ES256 };
enum { PASSWORD_COST_INTERACTIVE, PASSWORD_COST_MODERATE, PASSWORD_COST_MIN };

/* Where values come from: lookup(name) returns the value or NULL. */
typedef const char *(*config_lookup_fn)(const char *name, void *data);

/* Fills cfg from defaults, then the file text (may be NULL), then lookup
 * (which wins). On error returns -1 and writes one line naming the variable
 * (or FILE:LINE) to err; secrets are never echoed. */
int config_parse(config_t *cfg, config_lookup_fn lookup, void *lookup_data,
                 const char *file_text, const char *file_name, char *err, size_t errlen);

/* config_parse with the process environment and an optional file path. */
int config_load(config_t *cfg, const char *file_path, char *err, size_t errlen);

/* serve and migrate need a database; the other commands do not. */
int config_require_database(const config_t *cfg, char *err, size_t errlen);
/* serve needs a signing key: JWT_SECRET, or JWT_PRIVATE_KEY + JWT_PUBLIC_KEY for RS256/ES256. */
int config_require_keys(const config_t *cfg, char *err, size_t errlen);

int config_origin_allowed(const config_t *cfg, const char *origin, size_t len);

void config_free(config_t *cfg);

/* Value parsers, exposed for the unit tests. Return 0 or -1. */
int config_parse_duration_ms(const char *s, uint64_t *out);
int config_parse_size(const char *s, size_t *out);
int config_parse_int(const char *s, long long *out);
int config_parse_bool(const char *s, int *out);

#endif
