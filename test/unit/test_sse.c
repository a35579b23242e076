/* The event streams of sse.c against a stand-in database and transport: the
 * unit test binary is linked with --wrap for db_query and the http_stream_*
 * calls, so each test decides when a query answers, what it answers and when
 * a client has gone. Under ASan a stream that is touched after it was freed
 * stops the runner. */
#define _GNU_SOURCE /* memmem */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hourglass/sse.h"
#include "unit.h"

#define MAX_QUERIES 32
#define MAX_CLIENT_BYTES 8192

typedef struct {
    db_result_fn cb;
    void *data;
    int answered;
} fake_query_t;

static fake_query_t queries[MAX_QUERIES];
static int query_count;
static int database_down; /* db_query refuses at once, as a pool with no connection does */

/* A client: its request (only its address is used by sse.c) and what reached it. */
typedef struct {
    http_request_t req;
    char out[MAX_CLIENT_BYTES];
    size_t len;
    int left;  /* the next write fails as on a closed socket */
    int ended; /* http_stream_end or _abort was called */
} fake_client_t;

db_status_t __wrap_db_query(db_pool_t *pool, int stmt, int nparams, const char *const *values, db_result_fn cb,
                            void *data);
long __wrap_http_stream_write(http_request_t *req, const void *data, size_t len);
void __wrap_http_stream_end(http_request_t *req);
void __wrap_http_stream_abort(http_request_t *req);

db_status_t __wrap_db_query(db_pool_t *pool, int stmt, int nparams, const char *const *values, db_result_fn cb,
                            void *data)
{
    (void)pool, (void)stmt, (void)nparams, (void)values;
    if (database_down || query_count == MAX_QUERIES)
        return DB_UNAVAILABLE;
    queries[query_count++] = (fake_query_t){cb, data, 0};
    return DB_OK;
}

long __wrap_http_stream_write(http_request_t *req, const void *data, size_t len)
{
    fake_client_t *c = (fake_client_t *)req;
    if (c->left || c->ended || c->len + len > sizeof(c->out))
        return -1;
    memcpy(c->out + c->len, data, len);
    c->len += len;
    return 0;
}

void __wrap_http_stream_end(http_request_t *req) { ((fake_client_t *)req)->ended = 1; }
void __wrap_http_stream_abort(http_request_t *req) { ((fake_client_t *)req)->ended = 1; }

/* A result of text columns; rows are given as one array of ncols * nrows values. */
static PGresult *result_of(int ncols, int nrows, const char *const *values)
{
    PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
    PGresAttDesc attrs[4];
    static char name[] = "c";
    memset(attrs, 0, sizeof(attrs));
    for (int i = 0; i < ncols; i++)
        attrs[i] = (PGresAttDesc){.name = name, .format = 0, .typid = 25, .typlen = -1, .atttypmod = -1};
    PQsetResultAttrs(res, ncols, attrs);
    for (int r = 0; r < nrows; r++)
        for (int c = 0; c < ncols; c++)
            PQsetvalue(res, r, c, (char *)values[r * ncols + c], (int)strlen(values[r * ncols + c]));
    return res;
}

/* Answers query q (in the order they were sent) as the pool would. */
static void answer(int q, int ncols, int nrows, const char *const *values)
{
    PGresult *res = result_of(ncols, nrows, values);
    queries[q].answered = 1;
    queries[q].cb(queries[q].data, res, DB_OK);
    PQclear(res);
}

static void answer_unavailable(int q)
{
    queries[q].answered = 1;
    queries[q].cb(queries[q].data, NULL, DB_UNAVAILABLE);
}

typedef struct {
    uv_loop_t loop;
    config_t cfg;
    sse_hub_t *hub;
} fixture_t;

static void fixture_start(fixture_t *f)
{
    memset(f, 0, sizeof(*f));
    memset(queries, 0, sizeof(queries));
    query_count = 0;
    database_down = 0;
    uv_loop_init(&f->loop);
    f->cfg.events_heartbeat_ms = 15000;
    f->cfg.events_max_streams_per_user = 10;
    f->cfg.events_max_unsent = 1 << 20;
    f->hub = sse_hub_new(&f->loop, NULL, &f->cfg, NULL);
}

static void fixture_stop(fixture_t *f)
{
    sse_hub_close(f->hub, NULL, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    sse_hub_free(f->hub);
    uv_loop_close(&f->loop);
}

/* A live stream of user after message after_id, attached to client c: its
 * replay is query number *replay. */
static sse_stream_t *open_stream(fixture_t *f, fake_client_t *c, int64_t user, int64_t after_id, int *replay)
{
    memset(c, 0, sizeof(*c));
    *replay = -1;
    if (sse_reserve(user, f->cfg.events_max_streams_per_user))
        return NULL;
    sse_stream_t *st = sse_stream_new(f->hub, user, user * 100, (int64_t)time(NULL) + 3600, after_id);
    *replay = query_count;
    sse_attach(st, &c->req);
    return st;
}

/* How many times "id: <id>\n" was written to c, and whether ids came in this order. */
static int count_id(const fake_client_t *c, const char *id)
{
    char needle[32];
    snprintf(needle, sizeof(needle), "id: %s\n", id);
    int n = 0;
    for (const char *p = c->out; (p = memmem(p, c->len - (size_t)(p - c->out), needle, strlen(needle))); p++)
        n++;
    return n;
}

static const char *position_of(const fake_client_t *c, const char *id)
{
    char needle[32];
    snprintf(needle, sizeof(needle), "id: %s\n", id);
    return memmem(c->out, c->len, needle, strlen(needle));
}

#define MSG(id, from, to) id, from, to, "{\"id\":" id "}"

/* A client that leaves while its replay is in flight, with live events held
 * for after the replay: the write of the first held event fails and ends the
 * stream, which must not be touched afterwards. */
TEST(sse_client_leaves_while_held_events_are_written)
{
    fixture_t f;
    fixture_start(&f);
    fake_client_t c;
    int replay;
    CHECK(open_stream(&f, &c, 1, 0, &replay));
    sse_on_message_notify(f.hub, "10 2 1\n11 2 1");
    CHECK(query_count == replay + 2);
    const char *fetched[] = {MSG("10", "2", "1"), MSG("11", "2", "1")};
    answer(replay + 1, 4, 2, fetched); /* held: the replay has not answered */
    CHECK(c.len == 0);
    c.left = 1;
    answer(replay, 2, 0, NULL);
    CHECK(c.len == 0);
    CHECK(c.ended); /* let go of: the transport will not call gone for a freed stream */
    CHECK(sse_hub_stream_count(f.hub) == 0);
    fixture_stop(&f);
}

/* The same, the client's connection closing (the transport's gone callback)
 * before the replay answers. */
TEST(sse_client_gone_before_its_replay_answers)
{
    fixture_t f;
    fixture_start(&f);
    fake_client_t c;
    int replay;
    sse_stream_t *st = open_stream(&f, &c, 1, 0, &replay);
    CHECK(st);
    sse_on_message_notify(f.hub, "10 2 1");
    const char *fetched[] = {MSG("10", "2", "1")};
    answer(replay + 1, 4, 1, fetched);
    sse_stream_gone(st);
    CHECK(sse_hub_stream_count(f.hub) == 0);
    const char *rows[] = {"9", "{\"id\":9}"};
    answer(replay, 2, 1, rows);
    CHECK(c.len == 0);
    fixture_stop(&f);
}

/* Many streams catching up after a lost LISTEN while the database fails:
 * none may be skipped, freed or lose what it missed. A stream goes live only
 * after a replay that succeeded, so the messages committed while LISTEN was
 * away still arrive, once each and in order, before the newer ones. */
TEST(sse_catch_up_while_the_database_fails_loses_nothing)
{
    fixture_t f;
    fixture_start(&f);
    enum { STREAMS = 4 };
    fake_client_t c[STREAMS];
    sse_stream_t *st[STREAMS];
    int replay[STREAMS];
    for (int i = 0; i < STREAMS; i++) {
        CHECK((st[i] = open_stream(&f, &c[i], 1, 5, &replay[i])));
        answer(replay[i], 2, 0, NULL); /* nothing after 5 yet: live */
    }
    database_down = 1;
    sse_on_listening(f.hub); /* LISTEN is back, the queries fail */
    CHECK(sse_hub_stream_count(f.hub) == STREAMS);
    database_down = 0;
    int first = query_count;
    sse_on_message_notify(f.hub, "8 2 1");
    /* each answered in the order sent: whatever the streams asked, then the fetch */
    for (int q = first; q < query_count; q++) {
        if (queries[q].answered)
            continue;
        if (queries[q].data == f.hub) {
            const char *fetched[] = {MSG("8", "2", "1")};
            answer(q, 4, 1, fetched);
        } else {
            const char *rows[] = {"6", "{\"id\":6}", "7", "{\"id\":7}", "8", "{\"id\":8}"};
            answer(q, 2, 3, rows);
        }
    }
    /* streams that could not replay try again (on the next tick, or as here,
     * the next notification) */
    sse_on_message_notify(f.hub, "");
    for (int q = first; q < query_count; q++) {
        if (queries[q].answered)
            continue;
        const char *rows[] = {"6", "{\"id\":6}", "7", "{\"id\":7}", "8", "{\"id\":8}"};
        answer(q, 2, 3, rows);
    }
    for (int i = 0; i < STREAMS; i++) {
        CHECK(count_id(&c[i], "6") == 1 && count_id(&c[i], "7") == 1 && count_id(&c[i], "8") == 1);
        CHECK(position_of(&c[i], "6") < position_of(&c[i], "7"));
        CHECK(position_of(&c[i], "7") < position_of(&c[i], "8"));
    }
    for (int i = 0; i < STREAMS; i++)
        sse_stream_gone(st[i]);
    fixture_stop(&f);
}

/* A replay that fails (the connection dies with it in flight) is tried again
 * before the live events it held are written: they come after what it
 * replays, each once. */
TEST(sse_failed_replay_is_retried_before_held_events)
{
    fixture_t f;
    fixture_start(&f);
    fake_client_t c;
    int replay;
    sse_stream_t *st = open_stream(&f, &c, 1, 5, &replay);
    CHECK(st);
    sse_on_message_notify(f.hub, "8 2 1");
    const char *fetched[] = {MSG("8", "2", "1")};
    answer(replay + 1, 4, 1, fetched);
    answer_unavailable(replay);
    CHECK(count_id(&c, "8") == 0);
    int retry = query_count;
    sse_on_message_notify(f.hub, "");
    CHECK(query_count == retry + 1);
    const char *rows[] = {"6", "{\"id\":6}", "8", "{\"id\":8}"};
    answer(retry, 2, 2, rows);
    CHECK(count_id(&c, "6") == 1 && count_id(&c, "8") == 1);
    CHECK(position_of(&c, "6") < position_of(&c, "8"));
    sse_stream_gone(st);
    fixture_stop(&f);
}

/* A client that left before its stream's head could be written: the
 * transport calls gone from inside http_stream_start, right after the
 * stream was attached, with its replay out. */
TEST(sse_client_gone_while_its_head_is_written)
{
    fixture_t f;
    fixture_start(&f);
    fake_client_t c;
    int replay;
    sse_stream_t *st = open_stream(&f, &c, 1, 0, &replay);
    CHECK(st);
    sse_stream_gone(st);
    CHECK(sse_hub_stream_count(f.hub) == 0);
    answer(replay, 2, 0, NULL);
    CHECK(c.len == 0);
    CHECK(sse_reserve(1, 1) == 0); /* its place was given back */
    sse_release(1);
    fixture_stop(&f);
}
