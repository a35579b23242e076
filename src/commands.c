/* Subcommands besides serve: migrate, and create-admin EMAIL, which makes
 * (or promotes) an administrator so a deployment can have its first admin;
 * its password comes from stdin, never from the command line. Blocking calls
 * are fine in command-line tools. */
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "hourglass/auth.h"
#include "hourglass/body.h"
#include "hourglass/commands.h"
#include "hourglass/db.h"
#include "hourglass/log.h"

int cmd_migrate(const config_t *cfg)
{
    char err[512];
    if (config_require_database(cfg, err, sizeof(err))) {
        fprintf(stderr, "config: %s\n", err);
        return 2;
    }
    /* A string libpq cannot read is a configuration error, not a database
     * that is not up yet: no waiting for DB_STARTUP_TIMEOUT. */
    db_conninfo_t conninfo;
    if (db_conninfo_parse(&conninfo, cfg->database_url, err, sizeof(err))) {
        fprintf(stderr, "config: DATABASE_URL: %s\n", err);
        return 2;
    }
    db_conninfo_free(&conninfo);
    int rc = db_migrate(cfg->database_url, cfg->db_startup_timeout_ms, err, sizeof(err));
    if (rc) {
        log_error("%s", err);
        /* a changed file is the deployment's mistake: waiting or restarting cannot mend it */
        return rc == DB_MIGRATE_CHANGED ? 2 : 1;
    }
    return 0;
}

static int read_password(char *buf, size_t cap)
{
    int tty = isatty(STDIN_FILENO);
    struct termios old, quiet;
    if (tty) {
        fprintf(stderr, "password for the admin: ");
        tcgetattr(STDIN_FILENO, &old);
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
    }
    char *line = fgets(buf, (int)cap, stdin);
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSANOW, &old);
        fprintf(stderr, "\n");
    }
    if (!line)
        return -1;
    buf[strcspn(buf, "\r\n")] = '\0';
    return 0;
}

int cmd_create_admin(const config_t *cfg, const char *email)
{
    if (!email || !body_valid_email(email)) {
        fprintf(stderr, "create-admin: give a valid e-mail address: hourglass create-admin EMAIL\n");
        return 2;
    }
    char password[256];
    if (read_password(password, sizeof(password))) {
        fprintf(stderr, "create-admin: no password on stdin\n");
        return 2;
    }
    const char *codes[8];
    int max = (int)(sizeof(codes) / sizeof(codes[0]));
    int broken = cfg->password_policy ? auth_password_policy(password, strlen(password), codes, max) : 0;
    if (broken) {
        fprintf(stderr, "create-admin: the password breaks the policy:");
        for (int i = 0; i < broken; i++)
            fprintf(stderr, " %s", codes[i]);
        fprintf(stderr, "\n");
        return 2;
    }
    int rc = cmd_migrate(cfg);
    if (rc)
        return rc;
    char hash[AUTH_HASH_STR_MAX];
    if (sodium_init() < 0 || auth_password_setup(cfg) || auth_password_hash_blocking(password, hash)) {
        sodium_memzero(password, sizeof(password));
        fprintf(stderr, "create-admin: cannot hash the password\n");
        return 1;
    }
    sodium_memzero(password, sizeof(password));
    PGconn *pg = PQconnectdb(cfg->database_url);
    const char *params[2] = {email, hash};
    PGresult *r = PQexecParams(pg,
                               "INSERT INTO users (email, password_hash, role, email_verified) VALUES ($1, $2, 'admin', true)"
                               " ON CONFLICT ((lower(email))) DO UPDATE SET role = 'admin', email_verified = true,"
                               " password_hash = EXCLUDED.password_hash, updated_at = now()"
                               " RETURNING id, (xmax = 0)",
                               2, NULL, params, NULL, NULL, 0);
    rc = 1;
    if (PQresultStatus(r) == PGRES_TUPLES_OK) {
        printf("%s admin %s (id %s)\n", !strcmp(PQgetvalue(r, 0, 1), "t") ? "created" : "promoted", email,
               PQgetvalue(r, 0, 0));
        rc = 0;
    } else {
        fprintf(stderr, "create-admin: %s", PQerrorMessage(pg));
    }
    PQclear(r);
    PQfinish(pg);
    return rc;
}
