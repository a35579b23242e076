/* The parameters the pool's sessions open with: every keyword DATABASE_URL
 * sets, however many libpq knows, and our session options before the
 * string's own. Parsed at start-up, where a malformed string must stop the
 * server with one line rather than fail each connection in the background. */
#include <arpa/inet.h>
#include <assert.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hourglass/db.h"
#include "hourglass/mem.h"

/* Every statement is prepared once and run many times with parameters, and
 * its plan does not depend on their values (every read is scoped by the
 * owner's key). PostgreSQL's default re-plans each execution while a custom
 * plan looks cheaper: for a list that was half of its cost, inlining hg_time
 * included. Options in the connection string come after ours, so they win. */
#define SESSION_OPTIONS "-c plan_cache_mode=force_generic_plan"

/* libpq's longest keyword is 25 characters (ssl_min_protocol_version). */
#define KEYWORD_MAX 32
/* The spare slot for hostaddr and the terminating NULL. */
#define EXTRA_SLOTS 2

/* A quoted part of libpq's message that is safe to show: one character
 * ("=", ":"), which says what was expected, or a word shaped like a keyword
 * (what the string wrote as a key, never a value). */
static int shows_no_value(const char *s, size_t len)
{
    if (len == 1)
        return 1;
    if (len == 0 || len > KEYWORD_MAX || !islower((unsigned char)s[0]))
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) && s[i] != '_')
            return 0;
    return 1;
}

/* libpq's message quotes parts of the string, which may be the password
 * (an undecodable %-escape in a URI is quoted whole, or the URI itself). */
static void copy_without_values(char *err, size_t errlen, const char *message)
{
    static const char hidden[] = "(value hidden)";
    assert(errlen > 0);
    size_t n = 0;
    for (const char *c = message; *c && n + 1 < errlen; c++) {
        const char *close = *c == '"' ? strchr(c + 1, '"') : NULL;
        if (close) {
            int show = shows_no_value(c + 1, (size_t)(close - c - 1));
            const char *part = show ? c : hidden;
            size_t len = show ? (size_t)(close - c + 1) : sizeof(hidden) - 1;
            size_t room = errlen - 1 - n;
            memcpy(err + n, part, len < room ? len : room);
            n += len < room ? len : room;
            c = close;
            continue;
        }
        err[n++] = *c == '\n' ? ' ' : *c;
    }
    while (n > 0 && err[n - 1] == ' ')
        n--;
    err[n] = '\0';
}

/* Does this host need a DNS lookup (not an address, a socket folder or a list)? */
static int host_needs_dns(const char *host)
{
    if (!host || !*host || host[0] == '/' || host[0] == '@' || strchr(host, ','))
        return 0;
    unsigned char buf[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, host, buf) != 1 && inet_pton(AF_INET6, host, buf) != 1;
}

int db_conninfo_parse(db_conninfo_t *ci, const char *conninfo, char *err, size_t errlen)
{
    memset(ci, 0, sizeof(*ci));
    char *why = NULL;
    ci->parsed = PQconninfoParse(conninfo ? conninfo : "", &why);
    if (!ci->parsed) {
        copy_without_values(err, errlen, why ? why : "cannot be parsed (out of memory?)");
        PQfreemem(why);
        return -1;
    }
    size_t known = 0;
    for (const PQconninfoOption *o = ci->parsed; o->keyword; o++)
        known++;
    /* Room for every keyword, options among them, even when each is set. */
    ci->keywords = mem_calloc(known + EXTRA_SLOTS, sizeof(char *));
    ci->values = mem_calloc(known + EXTRA_SLOTS, sizeof(char *));
    const char *host = NULL, *hostaddr = NULL, *user_options = NULL;
    for (const PQconninfoOption *o = ci->parsed; o->keyword; o++) {
        if (!o->val)
            continue;
        if (!strcmp(o->keyword, "options")) {
            user_options = o->val;
            continue;
        }
        if (!strcmp(o->keyword, "host"))
            host = o->val;
        if (!strcmp(o->keyword, "hostaddr"))
            hostaddr = o->val;
        ci->keywords[ci->count] = o->keyword;
        ci->values[ci->count] = o->val;
        ci->count++;
    }
    size_t len = sizeof(SESSION_OPTIONS) + (user_options ? strlen(user_options) + 1 : 0);
    ci->session_options = mem_alloc(len);
    snprintf(ci->session_options, len, "%s%s%s", SESSION_OPTIONS, user_options ? " " : "",
             user_options ? user_options : "");
    ci->keywords[ci->count] = "options";
    ci->values[ci->count] = ci->session_options;
    ci->count++;
    assert((size_t)ci->count <= known);
    if (!hostaddr && host_needs_dns(host))
        ci->dns_host = host;
    return 0;
}

void db_conninfo_set_hostaddr(db_conninfo_t *ci, const char *hostaddr)
{
    ci->keywords[ci->count] = hostaddr ? "hostaddr" : NULL;
    ci->values[ci->count] = hostaddr;
    ci->keywords[ci->count + 1] = NULL;
    ci->values[ci->count + 1] = NULL;
}

void db_conninfo_free(db_conninfo_t *ci)
{
    free(ci->keywords);
    free(ci->values);
    free(ci->session_options);
    PQconninfoFree(ci->parsed);
    memset(ci, 0, sizeof(*ci));
}
