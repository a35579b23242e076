#ifndef HOURGLASS_API_V1_H
#define HOURGLASS_API_V1_H
#include "hourglass/http.h"

/* What another module of endpoints reaches of the /api/v1 handlers. */

/* Mails a code to the body's "email" as resend-verification does; kind
 * "reverify" also mails an address already verified (seed 000's profile
 * asks for one: api_compat.c). */
void api_send_code(http_request_t *req, const char *kind);

#endif
