#ifndef HOURGLASS_BATCH_H
#define HOURGLASS_BATCH_H
#include <libpq-fe.h>

#include "hourglass/arena.h"
#include "hourglass/db.h"
#include "hourglass/http.h"

/* Writes that go to the database together (api_batch.c): what a worker
 * receives while its previous batch is in the database goes next, as one
 * statement in one transaction, so many writes share one commit (one WAL
 * flush, one NOTIFY). One write alone goes at once. Each request is held
 * until its row of the answer comes back. */

#define API_BATCH_MAX_PARAMS 8
#define API_BATCH_MAX 128    /* requests in one batch, at most */
#define API_BATCH_WORKERS 64 /* WORKERS' most */

typedef struct api_batch_item api_batch_item_t;
typedef struct api_batch api_batch_t;

/* One worker's queue; touched only by its loop. */
typedef struct {
    api_batch_t *batch; /* whose queue it is */
    db_pool_t *db;
    api_batch_item_t *head, *tail;
    http_request_t *flight[API_BATCH_MAX];
    int flight_count;
} api_batch_queue_t;

struct api_batch {
    const int *stmt; /* the statement's registered id */
    int max;         /* requests in one batch, at most API_BATCH_MAX */
    int nparams;     /* at most API_BATCH_MAX_PARAMS */
    /* The statement's parameters for reqs[0..n-1], each written into its
     * buffer (empty, on the heap); a buffer left empty is SQL NULL. */
    void (*params)(http_request_t *const *reqs, int n, abuf_t *bufs);
    /* The database's answer before any request is answered, even those that
     * no longer can be (their writes are committed all the same); res NULL
     * when the connection was lost with the batch in flight. May be NULL. */
    void (*effect)(http_request_t *const *reqs, int n, const PGresult *res);
    /* Answers one request from its row of the answer (row i: the i-th request). */
    void (*answer)(http_request_t *req, const PGresult *res, int row);
    api_batch_queue_t queues[API_BATCH_WORKERS];
};

/* Queues req (its body checked, what params needs in req->ctx) for the worker's next batch. */
void api_batch_add(api_batch_t *b, http_request_t *req);

#endif
