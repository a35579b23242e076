/* Messages between users, the conversations list, and the live event stream
 * that carries new messages (sse.c). The SQL is in 0010_messages.sql: one
 * function per route, each answering one JSON text column. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hourglass/api.h"
#include "hourglass/app.h"
#include "hourglass/bridge.h"
#include "hourglass/openapi.h"
#include "hourglass/sse.h"

#define MESSAGE_MAX_CHARS 4000

static int stmt_send, stmt_page, stmt_conversations, stmt_mark_read;

static const body_field_t message_fields[] = {
    {"to_user_id", FIELD_ID, FIELD_REQUIRED, 0, 0, NULL},
    {"text", FIELD_STRING, FIELD_REQUIRED, 1, MESSAGE_MAX_CHARS, NULL},
};

/* ?limit= and the keyset position: `before` (a message id), or the envelope's
 * next_cursor given back as ?cursor= (the same id). */
static int page_params(http_request_t *req, const char **limit, const char **before)
{
    field_errors_t e;
    field_errors_init(&e, req);
    long long lim, after;
    body_page_params(req, &e, &lim, &after);
    static const body_field_t before_field = {"before", FIELD_ID, 0, 0, 0, NULL};
    const char *b = body_query_param(req, &before_field, &e);
    if (e.count) {
        api_respond_validation(req, &e);
        return -1;
    }
    *limit = http_int_param(req, lim);
    *before = b ? b : after ? http_int_param(req, after) : NULL;
    return 0;
}

static void on_sent(http_request_t *req, PGresult *res)
{
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        api_respond_db_error(req, res);
        return;
    }
    if (!PQgetisnull(res, 0, 0)) {
        const char *code = PQgetvalue(res, 0, 0);
        if (!strcmp(code, "sender_not_found")) { /* the account is gone since the token was issued */
            http_header_add(req, "WWW-Authenticate", "Bearer");
            http_respond_problem(req, 401, "invalid_token", NULL);
            return;
        }
        field_errors_t e;
        field_errors_init(&e, req);
        field_errors_add(&e, "to_user_id", code);
        api_respond_validation(req, &e);
        return;
    }
    const char *body = PQgetvalue(res, 0, 2);
    http_header_add(req, "Location", arena_printf(&req->arena, "/api/v1/messages/%s", (const char *)req->ctx));
    http_respond_json(req, 201, body, (size_t)PQgetlength(res, 0, 2));
}

static void api_message_send(http_request_t *req)
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
    req->ctx = (void *)v[0].text;
    const char *params[3] = {http_int_param(req, req->auth.user_id), v[0].text, v[1].text};
    api_query(req, stmt_send, 3, params, on_sent);
}

static void on_json(http_request_t *req, PGresult *res) { api_respond_json_row(req, res, 200); }

static void api_conversation(http_request_t *req)
{
    const char *peer = http_path_id(req, "user_id");
    const char *limit, *before;
    if (!peer || page_params(req, &limit, &before))
        return;
    const char *params[4] = {http_int_param(req, req->auth.user_id), peer, before, limit};
    api_query(req, stmt_page, 4, params, on_json);
}

static void api_conversations(http_request_t *req)
{
    const char *limit, *before;
    if (page_params(req, &limit, &before))
        return;
    const char *params[3] = {http_int_param(req, req->auth.user_id), before, limit};
    api_query(req, stmt_conversations, 3, params, on_json);
}

static void on_marked(http_request_t *req, PGresult *res)
{
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        api_respond_db_error(req, res);
        return;
    }
    if (PQgetisnull(res, 0, 0))
        http_respond_problem(req, 404, "not_found", NULL);
    else
        http_respond(req, 204, NULL, NULL, 0);
}

static void api_mark_read(http_request_t *req)
{
    const char *peer = http_path_id(req, "user_id");
    if (!peer)
        return;
    const char *params[2] = {http_int_param(req, req->auth.user_id), peer};
    api_query(req, stmt_mark_read, 2, params, on_marked);
}

/* The id of the last event the client saw (EventSource sends it when it
 * reconnects); anything else starts live. */
static long long last_event_id(const http_request_t *req)
{
    size_t len;
    const char *v = http_header_get(req, "last-event-id", &len);
    char buf[24];
    if (!v || len == 0 || len >= sizeof(buf))
        return 0;
    memcpy(buf, v, len);
    buf[len] = '\0';
    return http_parse_id(buf);
}

static void api_events(http_request_t *req)
{
    const config_t *cfg = req->worker->cfg;
    int64_t user = req->auth.user_id;
    if (sse_reserve(user, cfg->events_max_streams_per_user)) {
        http_header_add(req, "Retry-After", "5");
        http_respond_problem(req, 429, "rate_limited", NULL);
        return;
    }
    sse_stream_t *st = sse_stream_new(app_worker(req->worker)->sse, user, req->auth.session_id,
                                      req->auth.expires_at, last_event_id(req));
    if (!st) {
        sse_release(user);
        http_respond_problem(req, 500, "internal_error", NULL);
        return;
    }
    http_header_add(req, "Cache-Control", "no-cache");
    http_header_add(req, "X-Accel-Buffering", "no"); /* proxies must not hold events back */
    if (http_stream_start(req, "text/event-stream; charset=utf-8", sse_stream_gone, st)) {
        sse_release(user);
        free(st);
        return;
    }
    sse_attach(st, req);
}

static void messages_register_statements(void)
{
    stmt_send = db_statement_register("msg_send", "SELECT error, id, body::text FROM messages_send($1, $2, $3)");
    stmt_page = db_statement_register("msg_page", "SELECT messages_page($1, $2, $3, $4)::text");
    stmt_conversations = db_statement_register("msg_conversations", "SELECT conversations_page($1, $2, $3)::text");
    stmt_mark_read = db_statement_register("msg_mark_read", "SELECT messages_mark_read($1, $2)");
}

static const http_route_t message_routes[] = {
    {ALLOW_POST, "/api/v1/messages", api_message_send, NULL, ROUTE_AUTH, 0},
    {ALLOW_GET, "/api/v1/messages/{user_id}", api_conversation, NULL, ROUTE_AUTH, 0},
    {ALLOW_POST, "/api/v1/messages/{user_id}/read", api_mark_read, NULL, ROUTE_AUTH, 0},
    {ALLOW_GET, "/api/v1/conversations", api_conversations, NULL, ROUTE_AUTH, 0},
    {ALLOW_GET, "/api/v1/events", api_events, NULL, ROUTE_AUTH, 0},
};

static const route_doc_t message_docs[] = {
    {ALLOW_POST, "/api/v1/messages", "messages", "Send a message", message_fields, ARRAY_LEN(message_fields), NULL,
     201, "Message"},
    {ALLOW_GET, "/api/v1/messages/{user_id}", "messages", "The conversation with one user, newest first", NULL, 0,
     NULL, 200, "MessagePage"},
    {ALLOW_POST, "/api/v1/messages/{user_id}/read", "messages", "Mark that user's messages to the caller read", NULL,
     0, NULL, 204, NULL},
    {ALLOW_GET, "/api/v1/conversations", "messages", "Each peer with the last message and the unread count", NULL, 0,
     NULL, 200, "ConversationPage"},
    {ALLOW_GET, "/api/v1/events", "messages", "Live events: new messages as they are committed", NULL, 0, NULL, 200,
     "text/event-stream"},
};

static const body_field_t before_query[] = {
    {"before", FIELD_ID, 0, 0, 0, NULL},
};

static const openapi_extra_t message_extras[] = {
    {ALLOW_POST, "/api/v1/messages", 0, NULL, NULL, 0,
     "`text` is 1 to 4 000 characters. 422 `validation_failed` with `invalid_recipient` on `to_user_id` for "
     "oneself, `not_found` for an unknown or deleted user. The message reaches the recipient's event streams "
     "(and the sender's) as it commits."},
    {ALLOW_GET, "/api/v1/messages/{user_id}", OPENAPI_PAGED, "404", before_query, ARRAY_LEN(before_query),
     "Both directions, newest first. `next_cursor` is the oldest id shown: give it back as `cursor` (or "
     "`before`) for older messages. 404 for an unknown user."},
    {ALLOW_POST, "/api/v1/messages/{user_id}/read", 0, "404", NULL, 0, NULL},
    {ALLOW_GET, "/api/v1/conversations", OPENAPI_PAGED, NULL, NULL, 0,
     "Newest conversation first; `next_cursor` pages to older ones."},
    {ALLOW_GET, "/api/v1/events", 0, "429", NULL, 0,
     "`text/event-stream`, authenticated by the Bearer header or the `access_token` cookie (EventSource cannot "
     "send headers). Each new message to or from the caller is an event `message` with `id:` the message id and "
     "`data:` the message JSON; a comment line is sent every `EVENTS_HEARTBEAT_INTERVAL` (15 s). `Last-Event-ID` "
     "replays what was committed after that id first, without gap or duplicate. 429 beyond "
     "`EVENTS_MAX_STREAMS_PER_USER` open streams; a reader that leaves more than `EVENTS_MAX_UNSENT` unsent is "
     "dropped; the stream ends when its session is revoked or its token expires."},
};

static const body_field_t message_object[] = {
    {"id", FIELD_ID, FIELD_REQUIRED, 0, 0, NULL},
    {"from_user_id", FIELD_ID, FIELD_REQUIRED, 0, 0, NULL},
    {"to_user_id", FIELD_ID, FIELD_REQUIRED, 0, 0, NULL},
    {"text", FIELD_STRING, FIELD_REQUIRED, 1, MESSAGE_MAX_CHARS, NULL},
    {"created_at", FIELD_DATETIME, FIELD_REQUIRED, 0, 0, NULL},
    {"read_at", FIELD_DATETIME, 0, 0, 0, NULL},
};

static void messages_openapi(json_t *paths, json_t *schemas)
{
    json_object_set_new(schemas, "Message", openapi_object_schema(message_object, ARRAY_LEN(message_object)));
    json_object_set_new(schemas, "MessagePage", openapi_page_schema("Message"));
    json_object_set_new(
        schemas, "Conversation",
        json_pack("{s:s, s:[s,s,s], s:b, s:{s:{s:s}, s:{s:s}, s:{s:s, s:i}}}", "type", "object", "required", "user",
                  "last_message", "unread", "additionalProperties", 0, "properties", "user", "$ref",
                  "#/components/schemas/PublicUser", "last_message", "$ref", "#/components/schemas/Message", "unread",
                  "type", "integer", "minimum", 0));
    json_object_set_new(schemas, "ConversationPage", openapi_page_schema("Conversation"));
    openapi_add_extras(paths, message_extras, ARRAY_LEN(message_extras));
}

const api_module_t api_messages_module = {
    "messages",         message_routes, ARRAY_LEN(message_routes), messages_register_statements,
    message_docs,       ARRAY_LEN(message_docs), messages_openapi,
};
