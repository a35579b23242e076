#ifndef HOURGLASS_AUTH_H
#define HOURGLASS_AUTH_H
#include <sodium.h>
#include <stddef.h>
#include <stdint.h>

#include "hourglass/arena.h"
#include "hourglass/config.h"
#include "hourglass/http.h"

/* --- passwords (auth_password.c) --- */

/* How many rules of API.md's policy pw breaks; their codes, in a fixed order:
 * too_short, too_long, no_lower, no_upper, no_digit, no_symbol. Lengths count
 * code points, except the 128-byte maximum. Cyrillic letters are letters. */
int auth_password_policy(const char *pw, size_t len, const char **codes, int max_codes);

/* Once, before the workers start: the cost, and a dummy hash of that cost. */
int auth_password_setup(const config_t *cfg);

/* argon2id on libuv's thread pool; cb runs on the request's loop, and only
 * while the request can still be answered. hash is NULL on failure. */
typedef void (*auth_hash_cb)(http_request_t *req, const char *hash);
void auth_password_hash(http_request_t *req, const char *password, auth_hash_cb cb);
/* hash NULL (an unknown user) checks against the dummy hash: the same time,
 * and never a match. */
typedef void (*auth_verify_cb)(http_request_t *req, int matches);
void auth_password_verify(http_request_t *req, const char *password, const char *hash, auth_verify_cb cb);
/* For command-line tools (create-admin): blocking. */
int auth_password_hash_blocking(const char *password, char out[crypto_pwhash_STRBYTES]);

/* --- tokens (auth_tokens.c) --- */

#define AUTH_REFRESH_TOKEN_LEN 43

typedef struct {
    int64_t user_id, session_id, iat, exp;
    char role[16];
} auth_claims_t;

/* Once, before the workers start: loads the keys (PEM text or file path). */
int auth_tokens_setup(const config_t *cfg, char *err, size_t errlen);
void auth_tokens_free(void);
/* A signed access token (sub, sid, role, iat, exp, typ=access) in the arena. */
char *auth_access_token_issue(arena_t *a, int64_t user_id, int64_t session_id, const char *role, int64_t now_s,
                              int64_t *expires_in_s);
/* 0 valid, -1 invalid (signature, algorithm, typ, claims), -2 expired. Thread-safe. */
int auth_access_token_verify(const char *token, size_t len, int64_t now_s, auth_claims_t *out);
/* 32 random bytes, base64url. */
void auth_refresh_token_new(char out[AUTH_REFRESH_TOKEN_LEN + 1]);
/* The rotation successor: HMAC of the token under a server key, base64url.
 * Deterministic, so a token presented twice within the grace window gets the same successor. */
void auth_refresh_token_next(const char *token, char out[AUTH_REFRESH_TOKEN_LEN + 1]);
/* Six random decimal digits. */
void auth_code_new(char out[7]);

#endif
