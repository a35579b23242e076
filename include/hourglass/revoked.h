#ifndef HOURGLASS_REVOKED_H
#define HOURGLASS_REVOKED_H
#include <stdint.h>

#include "hourglass/db.h"

/* Sessions revoked recently, shared by every worker of the process. An
 * access token of a revoked session is refused at once; entries older than
 * the access token lifetime are dropped, since such tokens have expired anyway.
 * Filled by the worker that revokes (before it answers) and by NOTIFY from
 * other instances. */
void revoked_setup(uint64_t keep_ms);
void revoked_add(int64_t session_id);
/* "{1,2,3}" as PostgreSQL prints a bigint[]. */
void revoked_add_array_text(const char *text);
int revoked_contains(int64_t session_id);
void revoked_free(void);

/* PostgreSQL side: revocations reach other instances on this channel (the
 * payload is the session id); a worker that was not listening reloads those
 * of the last window_ms with revoked_catch_up. */
#define REVOKED_CHANNEL "hourglass_revoked"
void revoked_register_statements(void);
void revoked_catch_up(db_pool_t *db, uint64_t window_ms);

#endif
