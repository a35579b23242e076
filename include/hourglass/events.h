#ifndef HOURGLASS_EVENTS_H
#define HOURGLASS_EVENTS_H
#include "hourglass/server.h"

void events_register_statements(void);
/* Worker 0: LISTEN for the process (revocations, mail). */
void events_listen(worker_t *w);

#endif
