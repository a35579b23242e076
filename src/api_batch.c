/* Writes that go to the database together (batch.h). A worker has one batch
 * of a kind in flight at a time; what arrives meanwhile waits in its queue,
 * in arrival order, and goes as the next batch. */
#include <assert.h>

#include "hourglass/batch.h"
#include "hourglass/bridge.h"
#include "hourglass/server.h"

struct api_batch_item {
    api_batch_item_t *next;
    http_request_t *req;
};

static void send_next(api_batch_queue_t *q);

/* Each request of the batch in flight is answered (or its hold let go). */
static void answer_all(api_batch_queue_t *q, const PGresult *res, db_status_t status)
{
    int ok = status == DB_OK && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == q->flight_count;
    for (int i = 0; i < q->flight_count; i++) {
        http_request_t *req = q->flight[i];
        if (!http_request_resume(req))
            continue; /* answered 504 meanwhile, or the client left */
        if (ok)
            q->batch->answer(req, res, i);
        else if (status != DB_OK)
            http_respond_problem(req, 503, status == DB_OVERLOADED ? "overloaded" : "database_unavailable", NULL);
        else
            api_respond_db_error(req, res);
    }
    q->flight_count = 0;
}

static void on_batch(void *data, PGresult *res, db_status_t status)
{
    api_batch_queue_t *q = data;
    if (q->batch->effect)
        q->batch->effect(q->flight, q->flight_count, status == DB_OK ? res : NULL);
    answer_all(q, res, status);
    if (q->head)
        send_next(q);
}

static void send_next(api_batch_queue_t *q)
{
    const api_batch_t *b = q->batch;
    assert(!q->flight_count && b->nparams <= API_BATCH_MAX_PARAMS && b->max <= API_BATCH_MAX);
    while (q->head && q->flight_count < b->max) {
        api_batch_item_t *it = q->head;
        q->head = it->next;
        /* one that can no longer be answered (504, the client left) has not reached the database: it is not sent */
        if (!it->req->conn || it->req->state != REQ_RUNNING) {
            (void)http_request_resume(it->req);
            continue;
        }
        q->flight[q->flight_count++] = it->req;
    }
    if (!q->head)
        q->tail = NULL;
    if (!q->flight_count)
        return;
    abuf_t bufs[API_BATCH_MAX_PARAMS];
    const char *params[API_BATCH_MAX_PARAMS];
    for (int i = 0; i < b->nparams; i++)
        abuf_init(&bufs[i], NULL, 256);
    b->params(q->flight, q->flight_count, bufs);
    for (int i = 0; i < b->nparams; i++)
        params[i] = bufs[i].len ? bufs[i].data : NULL;
    db_status_t st = db_query(q->db, *b->stmt, b->nparams, params, on_batch, q);
    for (int i = 0; i < b->nparams; i++)
        abuf_free(&bufs[i]);
    if (st != DB_OK) { /* never sent: nothing to record, every request answered now */
        answer_all(q, NULL, st);
        if (q->head)
            send_next(q);
    }
}

void api_batch_add(api_batch_t *b, http_request_t *req)
{
    assert(req->worker->id < API_BATCH_WORKERS);
    api_batch_queue_t *q = &b->queues[req->worker->id];
    q->batch = b;
    q->db = api_db(req);
    api_batch_item_t *it = arena_alloc(&req->arena, sizeof(*it));
    *it = (api_batch_item_t){NULL, req};
    http_request_hold(req);
    if (q->tail)
        q->tail->next = it;
    else
        q->head = it;
    q->tail = it;
    if (!q->flight_count)
        send_next(q);
}
