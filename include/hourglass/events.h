#ifndef HOURGLASS_EVENTS_H
#define HOURGLASS_EVENTS_H
#include "hourglass/db.h"

/* What arrives by PostgreSQL NOTIFY, for one worker: the modules that want a
 * channel subscribe to it, and the hub LISTENs on one connection of the
 * worker's pool (again after every reconnect). */
typedef struct events events_t;

#define EVENTS_MAX_SUBSCRIPTIONS 8

/* on_notify runs on the pool's loop for each notification on the channel;
 * on_listening (may be NULL) each time the LISTENs are in place, so the
 * subscriber can catch up on what it missed while not listening. */
typedef void (*events_notify_fn)(void *data, const char *payload);
typedef void (*events_listening_fn)(void *data);

events_t *events_new(db_pool_t *db);
/* Before events_start; channel must outlive the hub. 0, or -1 when full. */
int events_subscribe(events_t *ev, const char *channel, events_notify_fn on_notify, events_listening_fn on_listening,
                     void *data);
/* LISTEN on every subscribed channel (nothing when there is none). */
void events_start(events_t *ev);
void events_free(events_t *ev);

#endif
