#include <stdio.h>
#include <stdlib.h>

#include "hourglass/db.h"
#include "unit.h"

#define POOL_OPTIONS "-c plan_cache_mode=force_generic_plan"

static const char *value_of(const db_conninfo_t *ci, const char *keyword)
{
    for (int i = 0; i < ci->count; i++)
        if (!strcmp(ci->keywords[i], keyword))
            return ci->values[i];
    return NULL;
}

/* Every keyword libpq knows, set at once: none is dropped, and options (the
 * pool's, then the string's) is still there, after all of them. */
TEST(db_conninfo_keeps_every_keyword_and_the_options)
{
    static char text[8192];
    size_t n = 0;
    int given = 0;
    PQconninfoOption *defaults = PQconndefaults();
    CHECK(defaults);
    for (PQconninfoOption *o = defaults; o->keyword; o++) {
        /* requiressl is an old spelling that libpq turns into sslmode */
        if (!strcmp(o->keyword, "options") || !strcmp(o->keyword, "requiressl"))
            continue;
        n += (size_t)snprintf(text + n, sizeof(text) - n, "%s='v_%s' ", o->keyword, o->keyword);
        given++;
    }
    PQconninfoFree(defaults);
    snprintf(text + n, sizeof(text) - n, "options='-c work_mem=64kB'");

    db_conninfo_t ci;
    char err[256];
    CHECK(db_conninfo_parse(&ci, text, err, sizeof(err)) == 0);
    CHECK(ci.count == given + 1);
    for (int i = 0; i < given; i++) {
        char want[64];
        snprintf(want, sizeof(want), "v_%s", ci.keywords[i]);
        CHECK_STR(ci.values[i], want);
    }
    CHECK_STR(ci.keywords[ci.count - 1], "options");
    CHECK_STR(ci.values[ci.count - 1], POOL_OPTIONS " -c work_mem=64kB");
    CHECK(ci.dns_host == NULL); /* hostaddr is given: nothing to resolve */

    db_conninfo_set_hostaddr(&ci, "10.0.0.7");
    CHECK_STR(ci.keywords[ci.count], "hostaddr");
    CHECK_STR(ci.values[ci.count], "10.0.0.7");
    CHECK(ci.keywords[ci.count + 1] == NULL);
    db_conninfo_set_hostaddr(&ci, NULL);
    CHECK(ci.keywords[ci.count] == NULL);
    db_conninfo_free(&ci);
}

TEST(db_conninfo_options_of_the_string_come_after_the_pools)
{
    db_conninfo_t ci;
    char err[256];
    CHECK(db_conninfo_parse(&ci, "postgresql://u@127.0.0.1:5433/hg", err, sizeof(err)) == 0);
    CHECK_STR(value_of(&ci, "options"), POOL_OPTIONS);
    CHECK_STR(value_of(&ci, "user"), "u");
    CHECK_STR(value_of(&ci, "port"), "5433");
    CHECK(value_of(&ci, "password") == NULL); /* unset keywords are left out */
    db_conninfo_free(&ci);

    const char *uri = "postgresql://u@127.0.0.1/hg?options=-c%20application_name%3Dx%20-c%20plan_cache_mode%3Dauto";
    CHECK(db_conninfo_parse(&ci, uri, err, sizeof(err)) == 0);
    CHECK_STR(value_of(&ci, "options"), POOL_OPTIONS " -c application_name=x -c plan_cache_mode=auto");
    CHECK_STR(ci.keywords[ci.count - 1], "options");
    db_conninfo_free(&ci);

    CHECK(db_conninfo_parse(&ci, "", err, sizeof(err)) == 0);
    CHECK(ci.count == 1);
    CHECK_STR(ci.values[0], POOL_OPTIONS);
    db_conninfo_free(&ci);
}

TEST(db_conninfo_resolves_only_host_names)
{
    static const struct {
        const char *conninfo;
        const char *dns_host;
    } cases[] = {
        {.conninfo = "postgresql://db.example:5432/x", .dns_host = "db.example"},
        {.conninfo = "host=db.example", .dns_host = "db.example"},
        {.conninfo = "host=127.0.0.1", .dns_host = NULL},
        {.conninfo = "host=::1", .dns_host = NULL},
        {.conninfo = "host=/var/run/postgresql", .dns_host = NULL},
        {.conninfo = "host=a.example,b.example", .dns_host = NULL},
        {.conninfo = "host=db.example hostaddr=10.0.0.1", .dns_host = NULL},
        {.conninfo = "dbname=x", .dns_host = NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        db_conninfo_t ci;
        char err[256];
        CHECK(db_conninfo_parse(&ci, cases[i].conninfo, err, sizeof(err)) == 0);
        if (cases[i].dns_host)
            CHECK_STR(ci.dns_host, cases[i].dns_host);
        else
            CHECK(ci.dns_host == NULL);
        db_conninfo_free(&ci);
    }
}

/* A string libpq cannot read is refused with its reason, and no part of
 * the string that might be the password is repeated. */
TEST(db_conninfo_refuses_malformed_strings_without_their_values)
{
    static const struct {
        const char *conninfo;
        const char *reason;
    } cases[] = {
        {.conninfo = "host=127.0.0.1 password Sekret1", .reason = "missing \"=\" after \"password\""},
        {.conninfo = "postgresql://u:Sekret1%zz@h/db", .reason = "percent-encoded"},
        {.conninfo = "host=h password='Sekret1", .reason = "unterminated quoted string"},
        {.conninfo = "postgresql://u:Sekret1@[::1/db", .reason = "IPv6"},
        {.conninfo = "postgresql://h/db?Sekret1", .reason = "URI query parameter"},
        {.conninfo = "host=h nosuchoption=Sekret1", .reason = "invalid connection option \"nosuchoption\""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        db_conninfo_t ci;
        char err[256];
        CHECK(db_conninfo_parse(&ci, cases[i].conninfo, err, sizeof(err)) == -1);
        if (!strstr(err, cases[i].reason) || strstr(err, "Sekret1") || strchr(err, '\n')) {
            fprintf(stderr, "  %s -> %s\n", cases[i].conninfo, err);
            CHECK(0);
        }
    }
    /* a short buffer is cut, never overrun */
    db_conninfo_t ci;
    char small[12];
    CHECK(db_conninfo_parse(&ci, "postgresql://u:Sekret1%zz@h/db", small, sizeof(small)) == -1);
    CHECK(strlen(small) < sizeof(small));
}
