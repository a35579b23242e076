/* What arrives by PostgreSQL NOTIFY: one LISTEN connection per worker,
 * fanned out to the modules that subscribed to each channel. */
#include <stdlib.h>
#include <string.h>

#include "hourglass/events.h"
#include "hourglass/mem.h"

typedef struct {
    const char *channel;
    events_notify_fn on_notify;
    events_listening_fn on_listening;
    void *data;
} subscription_t;

struct events {
    db_pool_t *db;
    subscription_t subs[EVENTS_MAX_SUBSCRIPTIONS];
    const char *channels[EVENTS_MAX_SUBSCRIPTIONS];
    int count;
};

events_t *events_new(db_pool_t *db)
{
    events_t *ev = mem_calloc(1, sizeof(*ev));
    ev->db = db;
    return ev;
}

int events_subscribe(events_t *ev, const char *channel, events_notify_fn on_notify, events_listening_fn on_listening,
                     void *data)
{
    if (ev->count == EVENTS_MAX_SUBSCRIPTIONS)
        return -1;
    ev->subs[ev->count] = (subscription_t){channel, on_notify, on_listening, data};
    ev->channels[ev->count] = channel;
    ev->count++;
    return 0;
}

static void on_notify(void *data, const char *channel, const char *payload)
{
    events_t *ev = data;
    for (int i = 0; i < ev->count; i++)
        if (!strcmp(ev->subs[i].channel, channel))
            ev->subs[i].on_notify(ev->subs[i].data, payload);
}

static void on_listening(void *data)
{
    events_t *ev = data;
    for (int i = 0; i < ev->count; i++)
        if (ev->subs[i].on_listening)
            ev->subs[i].on_listening(ev->subs[i].data);
}

void events_start(events_t *ev)
{
    if (ev->count)
        db_pool_listen(ev->db, ev->channels, ev->count, on_notify, on_listening, ev);
}

void events_free(events_t *ev) { free(ev); }
