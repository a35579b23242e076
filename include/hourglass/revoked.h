#ifndef HOURGLASS_REVOKED_H
#define HOURGLASS_REVOKED_H
#include <stdint.h>

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

#endif
