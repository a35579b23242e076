/* Messages between users, the conversations list, and the live event stream
 * (GET /events: messages, changes of the caller's data and, for staff, the
 * shop's events; sse.c). The SQL is in 0010_messages.sql (the send batch as
 * 0015_events.sql redefined it): one function per route, each answering one
 * JSON text column. */
#include <stdlib.h>
#include <string.h>

#include "hourglass/api.h"
#include "hourglass/api_auth.h"
#include "hourglass/app.h"
#include "hourglass/batch.h"
#include "hourglass/bridge.h"
#include "hourglass/json_text.h"
#include "hourglass/sse.h"

#define MESSAGE_MAX_CHARS 4000

static int stmt_send_batch, stmt_page, stmt_conversations, stmt_mark_read, stmt_start;

static const body_field_t message_fields[] = {
    {.name = "to_user_id", .type = FIELD_ID, .flags = FIELD_REQUIRED},
    {.name = "text", .type = FIELD_STRING, .flags = FIELD_REQUIRED, .min = 1, .max = MESSAGE_MAX_CHARS},
};

/* The documented query parameter of GET /messages/{user_id}. */
static const body_field_t before_query[] = {
    {.name = "before", .type = FIELD_ID},
};

/* ?limit= and the keyset position: `before` (a message id), or the envelope's
 * next_cursor given back as ?cursor= (the same id). */
static int page_params(http_request_t *req, const char **limit, const char **before)
{
    field_errors_t e;
    field_errors_init(&e, req);
    long long lim, after;
    body_page_params(req, &e, &lim, &after);
    const char *b = body_query_param(req, &before_query[0], &e);
    if (e.count) {
        api_respond_validation(req, &e);
        return -1;
    }
    *limit = http_int_param(req, lim);
    *before = b ? b : after ? http_int_param(req, after) : NULL;
    return 0;
}

/* A worker's sends go to the database in batches (batch.h): what arrived
 * while the previous batch was in the database goes next, in one
 * transaction and one commit (messages_send_batch), and the streams of both
 * sides are woken once it has answered. One send alone goes at once. */
#define SEND_BATCH_MAX 100

typedef struct {
    const char *to, *text;
} message_ctx_t;

static void respond_sent(http_request_t *req, const PGresult *res, int row)
{
    if (!PQgetisnull(res, row, 1)) {
        const char *code = PQgetvalue(res, row, 1);
        if (!strcmp(code, "sender_not_found")) { /* the account is gone since the token was issued */
            api_refuse_401(req, "invalid_token");
            return;
        }
        field_errors_t e;
        field_errors_init(&e, req);
        field_errors_add(&e, "to_user_id", code);
        api_respond_validation(req, &e);
        return;
    }
    const message_ctx_t *m = req->ctx;
    http_header_add(req, "Location", arena_printf(&req->arena, "/api/v1/messages/%s", m->to));
    http_respond_json(req, 201, PQgetvalue(res, row, 3), (size_t)PQgetlength(res, row, 3));
}

/* messages_send_batch's senders, recipients and texts. */
static void send_params(http_request_t *const *reqs, int n, abuf_t *bufs)
{
    for (int k = 0; k < 3; k++)
        abuf_puts(&bufs[k], "{");
    for (int i = 0; i < n; i++) {
        const message_ctx_t *m = reqs[i]->ctx;
        const char *sep = i ? "," : "";
        abuf_printf(&bufs[0], "%s%lld", sep, (long long)reqs[i]->auth.user_id);
        abuf_printf(&bufs[1], "%s%s", sep, m->to);
        abuf_puts(&bufs[2], sep);
        abuf_pg_array_text(&bufs[2], m->text, strlen(m->text));
    }
    for (int k = 0; k < 3; k++)
        abuf_puts(&bufs[k], "}");
}

/* The sends that went in: their event rows are committed (0015_events.sql). */
static void sent_effect(http_request_t *const *reqs, int n, const PGresult *res)
{
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != n)
        return;
    for (int i = 0; i < n; i++)
        if (PQgetisnull(res, i, 1)) { /* sent: both sides have an event */
            const message_ctx_t *m = reqs[i]->ctx;
            app_events_written(reqs[i]->worker, reqs[i]->auth.user_id);
            app_events_written(reqs[i]->worker, http_parse_id(m->to));
        }
}

static api_batch_t sends = {
    .stmt = &stmt_send_batch,
    .max = SEND_BATCH_MAX,
    .nparams = 3,
    .params = send_params,
    .effect = sent_effect,
    .answer = respond_sent,
};

static void message_send(http_request_t *req)
{
    body_value_t v[2];
    field_errors_t e;
    if (api_body_read(req, message_fields, ARRAY_LEN(message_fields), BODY_CREATE, 0, v, &e))
        return;
    if (v[0].text && http_parse_id(v[0].text) == req->auth.user_id)
        field_errors_add(&e, "to_user_id", "invalid_recipient");
    if (e.count) {
        api_respond_validation(req, &e);
        return;
    }
    message_ctx_t *m = arena_alloc(&req->arena, sizeof(*m));
    *m = (message_ctx_t){v[0].text, v[1].text};
    req->ctx = m;
    api_batch_add(&sends, req);
}

static void conversation(http_request_t *req)
{
    const char *peer = http_path_id(req, "user_id");
    const char *limit, *before;
    if (!peer || page_params(req, &limit, &before))
        return;
    const char *params[] = {http_int_param(req, req->auth.user_id), peer, before, limit};
    api_query(req, stmt_page, ARRAY_LEN(params), params, api_on_json_row);
}

static void conversations(http_request_t *req)
{
    const char *limit, *before;
    if (page_params(req, &limit, &before))
        return;
    const char *params[] = {http_int_param(req, req->auth.user_id), before, limit};
    api_query(req, stmt_conversations, ARRAY_LEN(params), params, api_on_json_row);
}

static void on_marked(http_request_t *req, PGresult *res)
{
    if (api_found_row(req, res))
        return;
    if (PQgetisnull(res, 0, 0))
        http_respond_problem(req, 404, "not_found", NULL);
    else
        http_respond(req, 204, NULL, NULL, 0);
}

static void mark_read(http_request_t *req)
{
    const char *peer = http_path_id(req, "user_id");
    if (!peer)
        return;
    const char *params[] = {http_int_param(req, req->auth.user_id), peer};
    api_query(req, stmt_mark_read, ARRAY_LEN(params), params, on_marked);
}

/* The id of the last event the client saw (EventSource sends it when it
 * reconnects), or -1 without one (or with one that is not a positive number). */
static long long last_event_id(http_request_t *req)
{
    size_t len;
    const char *v = http_header_get(req, "last-event-id", &len);
    long long id = v ? http_parse_id(arena_strndup(&req->arena, v, len)) : 0;
    return id ? id : -1;
}

/* GET /events?types=message,change,shop (default: all). */
static void start_stream(http_request_t *req, long long after_id)
{
    const config_t *cfg = req->worker->cfg;
    int64_t user = req->auth.user_id;
    if (sse_reserve(user, cfg->events_max_streams_per_user)) {
        http_header_add(req, "Retry-After", "5");
        http_respond_problem(req, 429, "rate_limited", NULL);
        return;
    }
    const unsigned *types = req->ctx;
    sse_stream_t *st = sse_stream_new(app_worker(req->worker)->sse, user, req->auth.session_id, req->auth.expires_at,
                                      after_id, *types, req->auth.role != ROLE_USER);
    http_header_add(req, "Cache-Control", "no-cache");
    http_header_add(req, "X-Accel-Buffering", "no"); /* proxies must not hold events back */
    sse_attach(st, req);
    if (http_stream_start(req, "text/event-stream; charset=utf-8", sse_stream_gone, st))
        sse_stream_gone(st);
}

static void on_start(http_request_t *req, PGresult *res)
{
    if (api_found_row(req, res))
        return;
    start_stream(req, strtoll(PQgetvalue(res, 0, 0), NULL, 10));
}

/* A new stream starts at the newest settled event, found before its head is
 * sent: whatever the client reads after the head includes every event up to
 * it. A reconnecting one (Last-Event-ID) starts after the last it saw. Either
 * way what commits after that point is replayed before live events, so
 * nothing falls in between (sse.h). */
static void event_stream(http_request_t *req)
{
    unsigned *types = arena_alloc(&req->arena, sizeof(*types));
    *types = SSE_ALL;
    req->ctx = types;
    const char *wanted = http_query_get(req, "types");
    if (wanted && sse_types_parse(wanted, types)) {
        field_errors_t e;
        field_errors_init(&e, req);
        field_errors_add(&e, "types", "invalid_choice");
        api_respond_validation(req, &e);
        return;
    }
    long long after = last_event_id(req);
    if (after >= 0) {
        start_stream(req, after);
        return;
    }
    api_query(req, stmt_start, 0, NULL, on_start);
}

static void messages_register_statements(void)
{
    stmt_send_batch = db_statement_register(
        "msg_send_batch", "SELECT n, error, id, body FROM messages_send_batch($1::bigint[], $2::bigint[], $3::text[])");
    stmt_page = db_statement_register("msg_page", "SELECT messages_page($1, $2, $3, $4)::text");
    stmt_conversations = db_statement_register("msg_conversations", "SELECT conversations_page($1, $2, $3)::text");
    stmt_mark_read = db_statement_register("msg_mark_read", "SELECT messages_mark_read($1, $2)");
    stmt_start = db_statement_register("events_start", "SELECT events_settled_id()");
}

/* The documented query parameter of GET /events (event_stream reads it: sse_types_parse). */
static const body_field_t events_query[] = {
    {.name = "types", .type = FIELD_STRING},
};

static const api_route_t message_routes[] = {
    {.http = {.methods = ALLOW_POST, .pattern = "/api/v1/messages", .handler = message_send, .flags = ROUTE_AUTH},
     .summary = "Send a message", .status = 201, .response = "Message", .body = message_fields,
     .body_count = ARRAY_LEN(message_fields)},
    {.http = {.methods = ALLOW_GET, .pattern = "/api/v1/messages/{user_id}", .handler = conversation,
              .flags = ROUTE_AUTH},
     .summary = "The conversation with one user, newest first", .response = "MessagePage", .query = before_query,
     .query_count = ARRAY_LEN(before_query), .doc = API_PAGED, .errors = "404"},
    {.http = {.methods = ALLOW_POST, .pattern = "/api/v1/messages/{user_id}/read", .handler = mark_read,
              .flags = ROUTE_AUTH},
     .summary = "Mark that user's messages to the caller read", .status = 204, .errors = "404"},
    {.http = {.methods = ALLOW_GET, .pattern = "/api/v1/conversations", .handler = conversations,
              .flags = ROUTE_AUTH},
     .summary = "Each peer with the last message and the unread count", .response = "ConversationPage",
     .doc = API_PAGED},
    {.http = {.methods = ALLOW_GET, .pattern = "/api/v1/events", .handler = event_stream, .flags = ROUTE_AUTH},
     .summary = "Live events: messages, changes of the caller's data and the shop's, as they commit",
     .response = "text/event-stream", .query = events_query, .query_count = ARRAY_LEN(events_query),
     .errors = "422 429"},
};

const api_module_t api_messages_module = {
    .name = "messages", .tag = "messages", .routes = message_routes, .route_count = ARRAY_LEN(message_routes),
    .register_statements = messages_register_statements,
};
