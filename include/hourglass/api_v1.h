#ifndef HOURGLASS_API_V1_H
#define HOURGLASS_API_V1_H
#include "hourglass/http.h"

/* What another module of endpoints reaches of the /api/v1 handlers. */

/* Mails a code to the body's "email" as resend-verification does; kind
 * "reverify" also mails an address already verified (seed 000's profile
 * asks for one: api_compat.c). */
void api_send_code(http_request_t *req, const char *kind);

/* Answers the error an account or user function named: its status
 * (invalid_code 400, the tokens' 401, wrong_password 403, a taken name 409,
 * code_expired 410, rate_limited 429 with retry_after as Retry-After). */
void api_respond_account_error(http_request_t *req, const char *code, const char *retry_after);

/* The profile's own fields, in this order, as registration (api_accounts.c)
 * and PATCH /api/v1/users/me (api_users.c) read them. */
enum {
    PROFILE_USERNAME, PROFILE_NAME, PROFILE_FIRST, PROFILE_LAST, PROFILE_MIDDLE, PROFILE_PHONE, PROFILE_DOB,
    PROFILE_COUNTRY, PROFILE_FIELDS
};
#define API_PROFILE_FIELDS                                                        \
    {.name = "username", .type = FIELD_STRING, .min = 1, .max = 150},             \
        {.name = "name", .type = FIELD_STRING, .max = 200},                       \
        {.name = "first_name", .type = FIELD_STRING, .max = 100},                 \
        {.name = "last_name", .type = FIELD_STRING, .max = 100},                  \
        {.name = "middle_name", .type = FIELD_STRING, .max = 100},                \
        {.name = "phone", .type = FIELD_STRING, .max = 32},                       \
        {.name = "date_of_birth", .type = FIELD_DATE},                            \
        {.name = "country", .type = FIELD_STRING, .max = 100}

#endif
