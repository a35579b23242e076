#ifndef HOURGLASS_API_V1_H
#define HOURGLASS_API_V1_H
#include "hourglass/http.h"

/* The /api/v1 handlers of accounts and users that another module of
 * endpoints hands a request on to after rewriting it (api_compat.c). Each
 * expects what its route would give it: the body, req->auth where the
 * route is ROUTE_AUTH. */
void api_register(http_request_t *req);
void api_verify_email(http_request_t *req);
void api_login(http_request_t *req);
void api_refresh(http_request_t *req);
void api_logout(http_request_t *req);
/* resend-verification; kind "reverify" also mails an address already verified */
void api_send_code(http_request_t *req, const char *kind);

void api_me_get(http_request_t *req);
void api_me_patch(http_request_t *req);
void api_password_check(http_request_t *req);
void api_password_change(http_request_t *req);

#endif
