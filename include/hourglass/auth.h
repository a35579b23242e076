#ifndef HOURGLASS_AUTH_H
#define HOURGLASS_AUTH_H
#include <sodium.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "hourglass/arena.h"
#include "hourglass/body.h"
#include "hourglass/config.h"

/* sodium_init() must have run (once, before any thread starts) before any of these. */

/* Argon2id (auth_hash.c): password hashes in arenas kept per thread. */
/* Strings in libsodium's crypto_pwhash_str format, which fits in this. */
#define AUTH_HASH_STR_MAX crypto_pwhash_STRBYTES
/* Hashes pw with a random salt into out: "$argon2id$v=19$m=KiB,t=passes,p=1$salt$hash".
 * 0, or -1 (no memory for the arena, or out too small). Thread-safe. */
int auth_hash_encode(const char *pw, size_t pw_len, uint32_t passes, uint32_t memory_kib, char *out, size_t cap);
/* 0 when encoded is such a string (from either implementation) and pw
 * matches it; -1 for no match, a malformed string, or no memory. */
int auth_hash_verify(const char *encoded, const char *pw, size_t pw_len);
/* Hashing keeps one arena per thread that hashes; these hand back to the
 * system those idle for idle_ms or more (the loop calls this now and then). */
void auth_hash_release_idle(uint64_t now_ms, uint64_t idle_ms);
void auth_hash_release_idle_now(uint64_t idle_ms);
/* Arenas mapped now, and their bytes when bytes is not NULL (for /metrics). */
int auth_hash_arena_count(size_t *bytes);

/* Passwords (auth_password.c): the policy, and hashing off the loops. */
#define AUTH_PASSWORD_MIN_CHARS 8   /* code points */
#define AUTH_PASSWORD_MAX_BYTES 128

/* How many rules of API.md's policy pw breaks; their codes, in a fixed order:
 * too_short, too_long, no_lower, no_upper, no_digit, no_symbol (at most
 * max_codes are written). Lengths count code points, except the 128-byte
 * maximum. Case is known for ASCII, Latin-1, basic Greek and Cyrillic
 * (U+0400-U+052F); other letters count as letters of no case (not symbols).
 * Spaces, punctuation, emoji and bytes that are not UTF-8 are symbols. */
int auth_password_policy(const char *pw, size_t len, const char **codes, int max_codes);

/* Once, before the workers start: the cost (cfg->password_hash_cost), and a
 * dummy hash of that cost. 0, or -1 when the dummy cannot be made (memory). */
int auth_password_setup(const config_t *cfg);

/* Adds one error on field per policy rule pw breaks (nothing when the policy
 * is off or pw is NULL); returns how many. */
int auth_password_policy_errors(const config_t *cfg, const char *field, const char *pw, field_errors_t *e);

/* argon2id on libuv's thread pool of loop; done runs on that loop, never
 * before these return. hash is NULL on failure and lives only during the
 * call. Both return 0, or -1 when the work cannot be queued (done is not
 * called then). */
typedef void (*auth_hash_done_fn)(void *data, const char *hash);
int auth_password_hash(uv_loop_t *loop, const char *password, auth_hash_done_fn done, void *data);
/* matches is 1 or 0. hash NULL (an unknown user) checks against the dummy
 * hash: about the same time, and never a match. */
typedef void (*auth_verify_done_fn)(void *data, int matches);
int auth_password_verify(uv_loop_t *loop, const char *password, const char *hash, auth_verify_done_fn done,
                         void *data);
/* Hashing on the pool yields to the loops (auth_password.c explains): each
 * worker's loop is registered once, before it runs, with UV_METRICS_IDLE_TIME
 * set. The limit on hashes at once is cores less those the loops use beyond a
 * quarter of a core, never under 1; _now samples the loops (at most every 20 ms). */
void auth_password_watch_loop(uv_loop_t *loop);
int auth_password_hash_limit(int cores, double loop_busy_cores);
int auth_password_hash_limit_now(void);
int auth_password_hashing_now(void); /* hashes running now */
/* For command-line tools (create-admin): blocking; the configured cost if
 * auth_password_setup ran, else interactive. 0 or -1. */
int auth_password_hash_blocking(const char *password, char out[AUTH_HASH_STR_MAX]);

/* Tokens (auth_tokens.c): access JWTs and refresh tokens. */
#define AUTH_REFRESH_TOKEN_LEN 43 /* 32 bytes, base64url without padding */
#define AUTH_ACCESS_TOKEN_MAX 4096

typedef struct {
    int64_t user_id, session_id, iat, exp;
    char role[16];
} auth_claims_t;

/* Once, before the workers start (not thread-safe; a second call replaces the
 * keys): loads the keys (PEM text or a PEM file's path), derives the refresh
 * rotation key and proves the keys sign and verify. On error -1 and one line
 * naming the variable in err. */
int auth_tokens_setup(const config_t *cfg, char *err, size_t errlen);
void auth_tokens_free(void);
/* A signed access token (sub, sid, role, iat, exp, typ=access) in the arena;
 * NULL on failure. *expires_in_s gets its lifetime. */
char *auth_access_token_issue(arena_t *a, int64_t user_id, int64_t session_id, const char *role, int64_t now_s,
                              int64_t *expires_in_s);
/* 0 valid, -1 invalid (signature, algorithm, typ, claims), -2 expired (out is
 * filled then too). Thread-safe. */
int auth_access_token_verify(const char *token, size_t len, int64_t now_s, auth_claims_t *out);
/* 32 random bytes, base64url. */
void auth_refresh_token_new(char out[AUTH_REFRESH_TOKEN_LEN + 1]);
/* The rotation successor: HMAC-SHA256 of the token under a server key, base64url.
 * Deterministic, so a token presented twice within the grace window gets the same successor. */
void auth_refresh_token_next(const char *token, char out[AUTH_REFRESH_TOKEN_LEN + 1]);
/* A code sent by mail: AUTH_CODE_DIGITS random decimal digits, uniform,
 * zero-padded, and the NUL. */
#define AUTH_CODE_DIGITS 6
#define AUTH_CODE_SIZE (AUTH_CODE_DIGITS + 1)
void auth_code_new(char out[AUTH_CODE_SIZE]);

#endif
