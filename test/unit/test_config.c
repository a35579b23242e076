#include <stdlib.h>

#include "hourglass/config.h"
#include "unit.h"

/* A fake environment: "NAME=value" strings, NULL-terminated. */
static const char *fake_lookup(const char *name, void *data)
{
    const char *const *env = data;
    size_t n = strlen(name);
    for (; env && *env; env++)
        if (!strncmp(*env, name, n) && (*env)[n] == '=')
            return *env + n + 1;
    return NULL;
}

static int parse(config_t *cfg, const char *const *env, const char *file, char *err)
{
    return config_parse(cfg, fake_lookup, (void *)env, file, "test.env", err, 512);
}

TEST(config_defaults)
{
    config_t cfg;
    char err[512];
    CHECK(parse(&cfg, NULL, NULL, err) == 0);
    CHECK_STR(cfg.host, "0.0.0.0");
    CHECK(cfg.port == 8000);
    CHECK(cfg.workers >= 1);
    CHECK(cfg.http_max_header_size == 16384);
    CHECK(cfg.http_max_headers == 100);
    CHECK(cfg.http_max_url_size == 8192);
    CHECK(cfg.http_max_body_size == 1048576);
    CHECK(cfg.http_max_pipeline == 16);
    CHECK(cfg.http_max_queued_bytes == 256 * 1024);
    CHECK(cfg.http_header_timeout_ms == 10000);
    CHECK(cfg.http_idle_timeout_ms == 60000);
    CHECK(cfg.http_request_timeout_ms == 30000);
    CHECK(cfg.shutdown_timeout_ms == 10000);
    CHECK(cfg.outbound_timeout_ms == 10000 && cfg.outbound_poll_interval_ms == 5000);
    CHECK(cfg.outbound_retry_max_ms == 300000 && cfg.outbound_give_up_after_ms == 48ull * 3600 * 1000);
    CHECK(cfg.log_level == LOG_INFO && cfg.log_format == LOG_FORMAT_TEXT);
    CHECK(cfg.database_url == NULL);
    CHECK(config_require_database(&cfg, err, sizeof(err)) == -1);
    CHECK(strstr(err, "DATABASE_URL"));
    config_free(&cfg);
}

TEST(config_environment_overrides_file)
{
    const char *env[] = {"PORT=9001", "LOG_FORMAT=json", NULL};
    const char *file = "# comment\n\nexport PORT=7000\nWORKERS=3\nCLIENT_ORIGIN=\"http://a.example, http://b.example/\"\n"
                       "OTHER_PROGRAM_SETTING=whatever\nHTTP_MAX_BODY_SIZE=2m\nHTTP_IDLE_TIMEOUT=500ms\n"
                       "HTTP_MAX_QUEUED_BYTES=64k\n";
    config_t cfg;
    char err[512];
    CHECK(parse(&cfg, env, file, err) == 0);
    CHECK(cfg.port == 9001);
    CHECK(cfg.workers == 3);
    CHECK(cfg.log_format == LOG_FORMAT_JSON);
    CHECK(cfg.http_max_body_size == 2 * 1024 * 1024);
    CHECK(cfg.http_idle_timeout_ms == 500);
    CHECK(cfg.http_max_queued_bytes == 64 * 1024);
    CHECK(cfg.client_origins_count == 2);
    CHECK_STR(cfg.client_origins[1], "http://b.example");
    config_free(&cfg);
}

TEST(config_errors_name_the_variable)
{
    static const char *const cases[][2] = {
        {"WORKERS=abc", "WORKERS"},          {"PORT=70000", "PORT"},
        {"LOG_FORMAT=xml", "LOG_FORMAT"},    {"LOG_LEVEL=loud", "LOG_LEVEL"},
        {"HTTP_MAX_BODY_SIZE=-1", "HTTP_MAX_BODY_SIZE"},
        {"HTTP_HEADER_TIMEOUT=soon", "HTTP_HEADER_TIMEOUT"},
        {"DB_POOL_SIZE=0", "DB_POOL_SIZE"},  {"HOST=", "HOST"},
        {"OUTBOUND_POLL_INTERVAL=0", "OUTBOUND_POLL_INTERVAL"}, {"OUTBOUND_RETRY_MAX=later", "OUTBOUND_RETRY_MAX"},
        {"HTTP_MAX_QUEUED_BYTES=100", "HTTP_MAX_QUEUED_BYTES"},
        {"PORT=80\n80", "PORT"}, /* a value's newline does not split the message's line */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *env[] = {cases[i][0], NULL};
        config_t cfg;
        char err[512] = "";
        CHECK(parse(&cfg, env, NULL, err) == -1);
        CHECK(!strncmp(err, cases[i][1], strlen(cases[i][1])));
        CHECK(!strchr(err, '\n'));
        config_free(&cfg);
    }
}

/* Integers, sizes and durations share one check; each names its bounds in its own words. */
TEST(config_number_errors_say_the_bounds)
{
    static const char *const cases[][2] = {
        {"PORT=0", "PORT: must be an integer from 1 to 65535 (got \"0\")"},
        {"HTTP_MAX_URL_SIZE=10", "HTTP_MAX_URL_SIZE: must be a size from 64 to 1048576 bytes, like 16k or 1m (got \"10\")"},
        {"DB_STARTUP_TIMEOUT=2h",
         "DB_STARTUP_TIMEOUT: must be a duration from 0ms to 3600s, like 500ms, 10s or 2m (got \"2h\")"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *env[] = {cases[i][0], NULL};
        config_t cfg;
        char err[512] = "";
        CHECK(parse(&cfg, env, NULL, err) == -1);
        CHECK_STR(err, cases[i][1]);
        config_free(&cfg);
    }
}

TEST(config_file_errors_name_the_line)
{
    config_t cfg;
    char err[512];
    CHECK(parse(&cfg, NULL, "PORT=1\nthis is not a setting\n", err) == -1);
    CHECK(strstr(err, "test.env:2"));
    config_free(&cfg);
    CHECK(parse(&cfg, NULL, "PORT=1\n\nWORKERS=zero\n", err) == -1);
    CHECK(strstr(err, "WORKERS") && strstr(err, "test.env:3"));
    config_free(&cfg);
    CHECK(parse(&cfg, NULL, "CLIENT_ORIGIN=\"open\n", err) == -1);
    CHECK(strstr(err, "test.env:1"));
    config_free(&cfg);
}

TEST(config_value_parsers)
{
    uint64_t ms;
    size_t size;
    long long n;
    int b;
    CHECK(config_parse_duration_ms("10", &ms) == 0 && ms == 10000);
    CHECK(config_parse_duration_ms("250ms", &ms) == 0 && ms == 250);
    CHECK(config_parse_duration_ms("2m", &ms) == 0 && ms == 120000);
    CHECK(config_parse_duration_ms("1h", &ms) == 0 && ms == 3600000);
    CHECK(config_parse_duration_ms("-1s", &ms) == -1);
    CHECK(config_parse_duration_ms("5 s", &ms) == -1);
    CHECK(config_parse_duration_ms("", &ms) == -1);
    CHECK(config_parse_size("16k", &size) == 0 && size == 16384);
    CHECK(config_parse_size("1MiB", &size) == 0 && size == 1048576);
    CHECK(config_parse_size("100", &size) == 0 && size == 100);
    CHECK(config_parse_size("1g", &size) == -1);
    CHECK(config_parse_size("99999999999999999999", &size) == -1);
    CHECK(config_parse_int("42", &n) == 0 && n == 42);
    CHECK(config_parse_int("4x", &n) == -1);
    CHECK(config_parse_bool("TRUE", &b) == 0 && b == 1);
    CHECK(config_parse_bool("off", &b) == 0 && b == 0);
    CHECK(config_parse_bool("maybe", &b) == -1);
}

TEST(config_builds_conninfo_from_parts)
{
    const char *env[] = {"POSTGRES_HOST=db", "POSTGRES_USER=app", "POSTGRES_PASSWORD=it's\\secret",
                         "POSTGRES_DB=hourglass", "DATABASE_PORT=6543", NULL};
    config_t cfg;
    char err[512];
    CHECK(parse(&cfg, env, NULL, err) == 0);
    CHECK_STR(cfg.database_url,
              "host='db' port='6543' user='app' password='it\\'s\\\\secret' dbname='hourglass'");
    config_free(&cfg);
    const char *env2[] = {"DATABASE_URL=postgresql://x@y/z", "POSTGRES_HOST=ignored", NULL};
    CHECK(parse(&cfg, env2, NULL, err) == 0);
    CHECK_STR(cfg.database_url, "postgresql://x@y/z");
    config_free(&cfg);
}

TEST(config_origins)
{
    const char *env[] = {"CLIENT_ORIGIN=http://localhost:3000,https://app.example", NULL};
    config_t cfg;
    char err[512];
    CHECK(parse(&cfg, env, NULL, err) == 0);
    CHECK(config_origin_allowed(&cfg, "https://app.example", 19));
    CHECK(config_origin_allowed(&cfg, "http://localhost:3000", 21));
    CHECK(!config_origin_allowed(&cfg, "http://localhost:3001", 21));
    CHECK(!config_origin_allowed(&cfg, "https://app.example.evil", 24));
    config_free(&cfg);
}
