/* hourglass: serve | migrate | healthcheck | openapi | version */
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sodium.h>

#include "hourglass/api.h"
#include "hourglass/app.h"
#include "hourglass/auth.h"
#include "hourglass/commands.h"
#include "hourglass/revoked.h"
#include "hourglass/config.h"
#include "hourglass/db.h"
#include "hourglass/log.h"
#include "hourglass/metrics.h"
#include "hourglass/openapi.h"
#include "hourglass/server.h"
#include "hourglass_build.h"

#define HEALTHCHECK_TIMEOUT_S 3

static void usage(FILE *out)
{
    fprintf(out,
            "usage: hourglass [serve|migrate|healthcheck|openapi|version|create-admin EMAIL] [--config FILE]\n"
            "  serve        apply migrations, then serve HTTP (the default)\n"
            "  migrate      apply migrations and exit\n"
            "  create-admin make EMAIL an administrator (created if missing); password on stdin\n"
            "  healthcheck  GET /health on the configured port; exit 0 when it answers 200\n"
            "  openapi      print the OpenAPI document that /openapi.json serves\n"
            "  version      print the version\n"
            "Configuration comes from the environment and, optionally, FILE (KEY=VALUE lines);\n"
            "the environment wins. See README.md for the variables.\n");
}

/* For Docker's HEALTHCHECK: a plain blocking request is right here. */
static int run_healthcheck(const config_t *cfg)
{
    const char *host = cfg->host;
    if (!strcmp(host, "0.0.0.0") || !strcmp(host, "::") || !strcmp(host, "localhost"))
        host = "127.0.0.1";
    char port[16];
    snprintf(port, sizeof(port), "%d", cfg->port);
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV, .ai_socktype = SOCK_STREAM}, *ai;
    if (getaddrinfo(host, port, &hints, &ai)) {
        fprintf(stderr, "healthcheck: HOST %s is not an address\n", host);
        return 1;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM, 0);
    struct timeval tv = {.tv_sec = HEALTHCHECK_TIMEOUT_S};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    int connected = fd >= 0 && !connect(fd, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);
    if (!connected) {
        fprintf(stderr, "healthcheck: cannot connect to %s:%d\n", host, cfg->port);
        if (fd >= 0)
            close(fd);
        return 1;
    }
    static const char req[] = "GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    static const char ok[] = "HTTP/1.1 200";
    char buf[256];
    ssize_t n = -1;
    if (write(fd, req, sizeof(req) - 1) == (ssize_t)sizeof(req) - 1)
        n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n >= (ssize_t)sizeof(ok) - 1 && !memcmp(buf, ok, sizeof(ok) - 1)) {
        puts("ok");
        return 0;
    }
    fprintf(stderr, "healthcheck: no 200 from %s:%d\n", host, cfg->port);
    return 1;
}

/* The document of /openapi.json on stdout, for linters and client generators:
 * the same routes_build() as serve, with no configuration file or database. */
static int run_openapi(void)
{
    char err[512];
    if (sodium_init() < 0) {
        fprintf(stderr, "cannot initialise libsodium\n");
        return 1;
    }
    /* The document a server started with this environment serves: the one
     * setting that changes it is read here, with no configuration file. */
    int compat = 0;
    const char *compat_text = getenv("COMPAT_SEED000");
    if (compat_text && *compat_text && config_parse_bool(compat_text, &compat)) {
        fprintf(stderr, "config: COMPAT_SEED000: not a boolean: %s\n", compat_text);
        return 2;
    }
    router_t *router = routes_build(compat, err, sizeof(err));
    if (!router) {
        fprintf(stderr, "routes: %s\n", err);
        return 1;
    }
    size_t len = 0;
    const char *doc = openapi_document(&len, NULL);
    int ok = doc && fwrite(doc, 1, len, stdout) == len && putchar('\n') != EOF && fflush(stdout) == 0;
    router_free(router);
    openapi_free();
    return ok ? 0 : 1;
}

static int run_serve(const config_t *cfg)
{
    char err[512];
    /* Before any thread starts: these libraries set themselves up once. */
    if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        log_error("cannot initialise libsodium or libcurl");
        return 1;
    }
    if (config_require_keys(cfg, err, sizeof(err)) || auth_tokens_setup(cfg, err, sizeof(err))) {
        fprintf(stderr, "config: %s\n", err);
        return 2;
    }
    int rc = cmd_migrate(cfg);
    if (rc)
        return rc;
    /* libuv's pool runs the password hashes: more threads than cores only
     * makes them fight over memory bandwidth. UV_THREADPOOL_SIZE still wins. */
    if (!getenv("UV_THREADPOOL_SIZE")) {
        char n[16];
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        snprintf(n, sizeof(n), "%ld", cores < 1 ? 1 : cores > 64 ? 64 : cores);
        setenv("UV_THREADPOOL_SIZE", n, 0);
    }
    if (auth_password_setup(cfg)) {
        log_error("cannot make the password hasher's reference hash (out of memory?)");
        return 1;
    }
    revoked_setup(cfg->access_token_ttl_ms);
    router_t *router = routes_build(cfg->compat_seed000, err, sizeof(err));
    if (!router) {
        log_error("routes: %s", err);
        return 1;
    }
    metrics_init(cfg->workers, router_path_count(router));
    rc = http_server_run(cfg, router, &app_hooks);
    metrics_free();
    router_free(router);
    openapi_free();
    revoked_free();
    auth_tokens_free();
    curl_global_cleanup();
    return rc;
}

int main(int argc, char **argv)
{
    const char *command = "serve";
    const char *config_file = NULL;
    const char *argument = NULL;
    int have_command = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--config") && i + 1 < argc) {
            config_file = argv[++i];
        } else if (!strncmp(argv[i], "--config=", 9)) {
            config_file = argv[i] + 9;
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help") || !strcmp(argv[i], "help")) {
            usage(stdout);
            return 0;
        } else if (argv[i][0] != '-' && !have_command) {
            command = argv[i];
            have_command = 1;
        } else if (argv[i][0] != '-' && !argument && !strcmp(command, "create-admin")) {
            argument = argv[i];
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (!strcmp(command, "version")) {
        printf("hourglass %s\n", HOURGLASS_VERSION);
        return 0;
    }
    if (!strcmp(command, "openapi"))
        return run_openapi();
    /* A client closing early must not kill the server in the middle of a write. */
    signal(SIGPIPE, SIG_IGN);

    config_t cfg;
    char err[512];
    if (config_load(&cfg, config_file, err, sizeof(err))) {
        fprintf(stderr, "config: %s\n", err);
        config_free(&cfg);
        return 2;
    }
    log_setup(cfg.log_level, cfg.log_format);
    int rc;
    if (!strcmp(command, "serve"))
        rc = run_serve(&cfg);
    else if (!strcmp(command, "migrate"))
        rc = cmd_migrate(&cfg);
    else if (!strcmp(command, "healthcheck"))
        rc = run_healthcheck(&cfg);
    else if (!strcmp(command, "create-admin"))
        rc = cmd_create_admin(&cfg, argument);
    else {
        fprintf(stderr, "unknown command: %s\n", command);
        usage(stderr);
        rc = 2;
    }
    config_free(&cfg);
    return rc;
}
