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
db_status_t __wrap_db_query_lane(db_pool_t *pool, int stmt, int nparams, const char *const *values,
                                 db_result_fn cb, void *data);
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

/* The lane is the pool's too: the same queue of answers to give. */
db_status_t __wrap_db_query_lane(db_pool_t *pool, int stmt, int nparams, const char *const *values,
                                 db_result_fn cb, void *data)
{
    return __wrap_db_query(pool, stmt, nparams, values, cb, data);
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

/* A result of text columns; rows are given as one array of ncols * nrows
 * values, NULL for SQL NULL. */
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
        for (int c = 0; c < ncols; c++) {
            const char *v = values[r * ncols + c];
            PQsetvalue(res, r, c, (char *)v, v ? (int)strlen(v) : -1);
        }
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
    static int registered;
    if (!registered++)
        sse_register_statements();
    memset(f, 0, sizeof(*f));
    memset(queries, 0, sizeof(queries));
    query_count = 0;
    database_down = 0;
    uv_loop_init(&f->loop);
    f->cfg.events_heartbeat_ms = 15000;
    f->cfg.events_max_streams_per_user = 10;
    f->cfg.events_max_unsent = 1 << 20;
    f->cfg.events_retention_ms = 3600 * 1000;
    f->hub = sse_hub_new(&f->loop, NULL, &f->cfg, NULL, 0);
}

/* The transport's gone for the streams still open (NULL ones are skipped), then the hub closes. */
static void fixture_stop_with(fixture_t *f, sse_stream_t *a, sse_stream_t *b)
{
    if (a)
        sse_stream_gone(a);
    if (b)
        sse_stream_gone(b);
    sse_hub_close(f->hub, NULL, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    sse_hub_free(f->hub);
    uv_loop_close(&f->loop);
}

static void fixture_stop(fixture_t *f) { fixture_stop_with(f, NULL, NULL); }

/* A stream of user after event after_id attached to client
 * c; *replay is the number of its replay query, or -1 when none was sent. */
static sse_stream_t *open_stream(fixture_t *f, fake_client_t *c, int64_t user, int64_t after_id, int staff,
                                 int *replay)
{
    memset(c, 0, sizeof(*c));
    *replay = -1;
    if (sse_reserve(user, f->cfg.events_max_streams_per_user))
        return NULL;
    sse_stream_t *st = sse_stream_new(f->hub, user, user * 100, (int64_t)time(NULL) + 3600, after_id, SSE_ALL, staff);
    int before = query_count;
    sse_attach(st, &c->req);
    *replay = query_count > before ? before : -1;
    return st;
}

/* The replay's last row: every event up to pos was in it. */
static void replay_done_at(int q, const char *pos)
{
    const char *rows[] = {pos, "done", NULL};
    answer(q, 3, 1, rows);
}

/* A stream of user whose replay answered at 5 (it places the hub there when
 * it is the first): live. */
static sse_stream_t *live_stream(fixture_t *f, fake_client_t *c, int64_t user)
{
    int q;
    sse_stream_t *st = open_stream(f, c, user, 0, 0, &q);
    if (!st || q < 0)
        return NULL;
    replay_done_at(q, "5");
    return st;
}

/* Something was written: the hub reads (the NOTIFY of another instance).
 * The number of its read query, or -1. */
static int wake(fixture_t *f)
{
    int before = query_count;
    sse_on_events_notify(f->hub, "another-instance *");
    return query_count > before ? before : -1;
}

/* How many times "id: <id>\n" was written to c. */
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

/* Exactly these ids, once each, in this order. */
static int got_in_order(const fake_client_t *c, const char *const *ids, int n)
{
    const char *last = c->out;
    for (int i = 0; i < n; i++) {
        const char *at = position_of(c, ids[i]);
        if (count_id(c, ids[i]) != 1 || at < last)
            return 0;
        last = at;
    }
    return 1;
}

#define CHANGE(user, id) user, id, "change", "{\"id\":" id "}"
#define READ_END(pos, kind) NULL, pos, kind, NULL

/* A client that leaves while its replay is in flight, with live events held
 * for after the replay: the write of the first held event fails and ends the
 * stream, which must not be touched afterwards. */
TEST(sse_client_leaves_while_held_events_are_written)
{
    fixture_t f;
    fixture_start(&f);
    fake_client_t a, b;
    int qb;
    sse_stream_t *sa = live_stream(&f, &a, 1); /* places the hub at 5 */
    CHECK(sa);
    CHECK(open_stream(&f, &b, 1, 5, 0, &qb) && qb >= 0);
    int read = wake(&f);
    CHECK(read >= 0);
    const char *rows[] = {CHANGE("1", "10"), CHANGE("1", "11"), READ_END("11", "done")};
    answer(read, 4, 3, rows); /* b holds them: its replay has not answered */
    CHECK(count_id(&a, "10") == 1 && b.len == 0);
    b.left = 1;
    replay_done_at(qb, "9");
    CHECK(b.len == 0);
    CHECK(b.ended); /* let go of: the transport will not call gone for a freed stream */
    CHECK(sse_hub_stream_count(f.hub) == 1);
    fixture_stop_with(&f, sa, NULL);
}

/* The same, the client's connection closing (the transport's gone callback)
 * before the replay answers. */
TEST(sse_client_gone_before_its_replay_answers)
{
    fixture_t f;
    fixture_start(&f);
    fake_client_t a, b;
    int qb;
    sse_stream_t *sa = live_stream(&f, &a, 1);
    CHECK(sa);
    sse_stream_t *sb = open_stream(&f, &b, 1, 5, 0, &qb);
    CHECK(sb && qb >= 0);
    int read = wake(&f);
    const char *rows[] = {CHANGE("1", "10"), READ_END("10", "done")};
    answer(read, 4, 2, rows);
    sse_stream_gone(sb);
    CHECK(sse_hub_stream_count(f.hub) == 1);
    const char *replayed[] = {"9", "change", "{\"id\":9}", "10", "done", NULL};
    answer(qb, 3, 2, replayed);
    CHECK(b.len == 0);
    fixture_stop_with(&f, sa, NULL);
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
    sse_stream_t *st = open_stream(&f, &c, 1, 0, 0, &replay);
    CHECK(st && replay >= 0);
    sse_stream_gone(st);
    CHECK(sse_hub_stream_count(f.hub) == 0);
    replay_done_at(replay, "5");
    CHECK(c.len == 0);
    CHECK(sse_reserve(1, 1) == 0); /* its place was given back */
    sse_release(1);
    fixture_stop(&f);
}

/* The hub's reads fail while the database does (refused at once, or lost
 * with the connection): nothing is skipped, and what committed meanwhile
 * arrives once each, in order, when it answers again. */
TEST(sse_catch_up_while_the_database_fails_loses_nothing)
{
    fixture_t f;
    fixture_start(&f);
    enum { STREAMS = 4 };
    fake_client_t c[STREAMS];
    sse_stream_t *st[STREAMS];
    int q;
    CHECK((st[0] = live_stream(&f, &c[0], 1)));
    for (int i = 1; i < STREAMS; i++) {
        CHECK((st[i] = open_stream(&f, &c[i], 1, 5, 0, &q)));
        replay_done_at(q, "5");
    }
    database_down = 1;
    CHECK(wake(&f) < 0);
    sse_on_listening(f.hub); /* LISTEN is back, the queries fail */
    CHECK(sse_hub_stream_count(f.hub) == STREAMS);
    database_down = 0;
    int read = wake(&f);
    CHECK(read >= 0);
    answer_unavailable(read);
    read = wake(&f);
    const char *rows[] = {CHANGE("1", "6"), CHANGE("1", "7"), CHANGE("1", "8"), READ_END("8", "done")};
    answer(read, 4, 4, rows);
    const char *ids[] = {"6", "7", "8"};
    for (int i = 0; i < STREAMS; i++)
        CHECK(got_in_order(&c[i], ids, 3));
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
    fake_client_t a, b;
    int qb;
    sse_stream_t *sa = live_stream(&f, &a, 1);
    sse_stream_t *sb = open_stream(&f, &b, 1, 5, 0, &qb);
    CHECK(sa && sb && qb >= 0);
    int read = wake(&f);
    const char *rows[] = {CHANGE("1", "8"), READ_END("8", "done")};
    answer(read, 4, 2, rows);
    answer_unavailable(qb);
    CHECK(b.len == 0);
    read = wake(&f); /* the read goes first; the replay waits for it */
    CHECK(read >= 0 && query_count == read + 1);
    const char *nothing[] = {READ_END("8", "done")};
    answer(read, 4, 1, nothing);
    CHECK(query_count == read + 2);
    const char *replayed[] = {"6", "change", "{\"id\":6}", "8", "change", "{\"id\":8}", "8", "done", NULL};
    answer(read + 1, 3, 3, replayed);
    const char *ids[] = {"6", "8"};
    CHECK(got_in_order(&b, ids, 2));
    fixture_stop_with(&f, sa, sb);
}

/* A stream that comes while a read of the hub is out (a read that did not
 * ask for its user) replays only once that read has answered, so its replay
 * reaches at least as far. */
TEST(sse_stream_arriving_during_a_read_replays_after_it)
{
    fixture_t f;
    fixture_start(&f);
    fake_client_t a, b;
    int qb;
    sse_stream_t *sa = live_stream(&f, &a, 1);
    int read = wake(&f);
    sse_stream_t *sb = open_stream(&f, &b, 2, 5, 0, &qb);
    CHECK(sa && sb && read >= 0 && qb < 0);
    const char *rows[] = {CHANGE("1", "9"), READ_END("9", "done")};
    answer(read, 4, 2, rows);
    CHECK(query_count == read + 2); /* b's replay, now */
    const char *replayed[] = {"7", "change", "{\"id\":7}", "9", "done", NULL};
    answer(read + 1, 3, 2, replayed);
    CHECK(count_id(&b, "7") == 1 && count_id(&b, "9") == 0 && count_id(&a, "9") == 1);
    fixture_stop_with(&f, sa, sb);
}

/* The first replay to answer places the hub's reads; a stream whose replay
 * ended below that point replays again rather than skip what lies between. */
TEST(sse_replay_below_the_hubs_start_replays_again)
{
    fixture_t f;
    fixture_start(&f);
    fake_client_t a, b;
    int qa, qb;
    sse_stream_t *sa = open_stream(&f, &a, 1, 0, 0, &qa);
    sse_stream_t *sb = open_stream(&f, &b, 2, 3, 0, &qb);
    CHECK(sa && sb && qa >= 0 && qb >= 0);
    replay_done_at(qa, "10");
    int again = query_count;
    replay_done_at(qb, "7");
    CHECK(query_count == again + 1);
    const char *replayed[] = {"8", "change", "{\"id\":8}", "10", "done", NULL};
    answer(again, 3, 2, replayed);
    CHECK(count_id(&b, "8") == 1);
    int read = wake(&f);
    const char *rows[] = {CHANGE("2", "12"), READ_END("12", "done")};
    answer(read, 4, 2, rows);
    const char *ids[] = {"8", "12"};
    CHECK(got_in_order(&b, ids, 2));
    fixture_stop_with(&f, sa, sb);
}

/* The shop's events (user 0) reach staff streams only; a Last-Event-ID
 * past the kept events gets one reset, carrying the id it resumes from. */
TEST(sse_shop_events_reach_staff_and_resets_carry_an_id)
{
    fixture_t f;
    fixture_start(&f);
    fake_client_t staff, user;
    int qs, qu;
    sse_stream_t *ss = open_stream(&f, &staff, 1, 2, 1, &qs);
    sse_stream_t *su = open_stream(&f, &user, 2, 0, 0, &qu);
    CHECK(ss && su && qs >= 0 && qu >= 0);
    const char *reset[] = {"40", "reset", NULL};
    answer(qs, 3, 1, reset);
    CHECK(strstr(staff.out, "id: 40\nevent: reset\ndata: {}\n\n") == staff.out);
    replay_done_at(qu, "40");
    int read = wake(&f);
    const char *rows[] = {"0", "41", "order_created", "{\"id\":3}", READ_END("41", "done")};
    answer(read, 4, 2, rows);
    CHECK(count_id(&staff, "41") == 1 && strstr(staff.out, "event: order_created\n"));
    CHECK(user.len == 0);
    fixture_stop_with(&f, ss, su);
}

TEST(sse_types_parse)
{
    unsigned t;
    CHECK(sse_types_parse("message,change,shop", &t) == 0 && t == SSE_ALL);
    CHECK(sse_types_parse("change", &t) == 0 && t == SSE_CHANGE);
    CHECK(sse_types_parse("shop,message", &t) == 0 && t == (SSE_SHOP | SSE_MESSAGE));
    CHECK(sse_types_parse("", &t) == -1);
    CHECK(sse_types_parse("change,", &t) == -1);
    CHECK(sse_types_parse("changes", &t) == -1);
    CHECK(sse_types_parse("chang", &t) == -1);
}

/* Another instance's NOTIFY names the users it wrote for: a hub reads only
 * for one of its own (or anyone); its own instance's NOTIFY is ignored (its
 * hubs were woken directly). */
TEST(sse_notify_wakes_only_hubs_with_those_users)
{
    fixture_t f;
    fixture_start(&f);
    fake_client_t c;
    sse_stream_t *st = live_stream(&f, &c, 7);
    CHECK(st);
    int before = query_count;
    sse_on_events_notify(f.hub, "other 3 4");
    CHECK(query_count == before);
    sse_on_events_notify(f.hub, "other 3 7");
    CHECK(query_count == before + 1);
    const char *none[] = {READ_END("5", "done")};
    answer(before, 4, 1, none);
    fixture_stop_with(&f, st, NULL);
}
