#ifndef HOURGLASS_API_AUTH_H
#define HOURGLASS_API_AUTH_H

#include "hourglass/http.h"

/* Who is asking, from the access token (Bearer header or cookie): fills
 * req->auth and returns 0, or answers 401 / 403 and returns -1. */
int api_authenticate(http_request_t *req, unsigned flags);
/* 401 with code and WWW-Authenticate: Bearer. */
void api_refuse_401(http_request_t *req, const char *code);
/* On a public route: fills req->auth when a valid access token came with the
 * request; without one, or with a bad one, the caller stays anonymous
 * (user_id 0). Never answers. */
void api_authenticate_optional(http_request_t *req);
/* The same, then 1 when the caller is staff or an admin (who see more). */
int api_caller_is_staff(http_request_t *req);

#endif
