/* Access tokens (JWT by libjwt), refresh tokens and one-time codes.
 * Keys are loaded once before the workers start and only read afterwards,
 * so every worker thread verifies with them without locks. */
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <jwt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hourglass/auth.h"
#include "hourglass/http.h"
#include "hourglass/mem.h"

#define PEM_MAX_BYTES (64 * 1024)
#define PEM_BEGIN "-----BEGIN"
#define ROTATION_KEY_CONTEXT "hourglass refresh v1"

static jwt_alg_t alg = JWT_ALG_NONE;
static unsigned char *sign_key, *verify_key; /* NUL-terminated; the same buffer for HS256 */
static size_t sign_key_len, verify_key_len;
/* Bumped by every setup (before the workers start): claims cached under other
 * keys are not reused. */
static unsigned key_generation = 1;
static uint64_t access_ttl_s;
static unsigned char rotation_key[crypto_auth_hmacsha256_KEYBYTES];

static const char *alg_name(int configured)
{
    return configured == JWT_RS256 ? "RS256" : configured == JWT_ES256 ? "ES256" : "HS256";
}

/* PEM kept in an environment variable often has its newlines written "\n". */
static void unescape_newlines(char *s)
{
    if (strchr(s, '\n'))
        return;
    char *out = s;
    for (const char *in = s; *in; in++) {
        if (in[0] == '\\' && in[1] == 'n') {
            *out++ = '\n';
            in++;
        } else {
            *out++ = *in;
        }
    }
    *out = '\0';
}

/* s past its leading white space when a PEM block begins there, else NULL. */
static const char *pem_text(const char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    return strncmp(s, PEM_BEGIN, strlen(PEM_BEGIN)) ? NULL : s;
}

static unsigned char *read_pem_file(const char *name, const char *path, int echo_path, size_t *len, char *err,
                                    size_t errlen)
{
    const char *shown = echo_path ? path : "the file it names";
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: neither PEM text nor a readable file (%s: %s)", name, shown, strerror(errno));
        return NULL;
    }
    char *buf = mem_alloc(PEM_MAX_BYTES + 1);
    size_t n = fread(buf, 1, PEM_MAX_BYTES + 1, f);
    int failed = ferror(f);
    fclose(f);
    if (failed || n > PEM_MAX_BYTES) {
        snprintf(err, errlen, "%s: cannot read %s (%s)", name, shown, failed ? "read error" : "larger than 64 KiB");
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    if (!pem_text(buf)) {
        snprintf(err, errlen, "%s: %s is not a PEM file", name, shown);
        sodium_memzero(buf, n);
        free(buf);
        return NULL;
    }
    *len = n;
    return (unsigned char *)buf;
}

/* A PEM value is the text itself or the path of a file holding it. The
 * private key's value is never echoed: it may be a mangled key. */
static unsigned char *load_pem(const char *name, const char *value, int configured, int echo_path, size_t *len,
                               char *err, size_t errlen)
{
    if (!value || !*value) {
        snprintf(err, errlen, "%s: is required for JWT_ALGORITHM=%s", name, alg_name(configured));
        return NULL;
    }
    const char *text = pem_text(value);
    if (!text)
        return read_pem_file(name, value, echo_path, len, err, errlen);
    char *copy = mem_strdup(text);
    unescape_newlines(copy);
    *len = strlen(copy);
    return (unsigned char *)copy;
}

void auth_tokens_free(void)
{
    if (verify_key != sign_key)
        free(verify_key);
    if (sign_key) {
        sodium_memzero(sign_key, sign_key_len);
        free(sign_key);
    }
    sign_key = verify_key = NULL;
    sign_key_len = verify_key_len = 0;
    sodium_memzero(rotation_key, sizeof(rotation_key));
    alg = JWT_ALG_NONE;
}

static int fail(char *err, size_t errlen, const char *message)
{
    snprintf(err, errlen, "%s", message);
    auth_tokens_free();
    return -1;
}

int auth_tokens_setup(const config_t *cfg, char *err, size_t errlen)
{
    auth_tokens_free();
    key_generation++;
    access_ttl_s = cfg->access_token_ttl_ms / 1000;
    int hmac = cfg->jwt_algorithm == JWT_HS256;
    /* An empty key makes libjwt verify nothing: refuse it here as well. */
    if (hmac) {
        if (!cfg->jwt_secret || !*cfg->jwt_secret)
            return fail(err, errlen, "JWT_SECRET: is required for JWT_ALGORITHM=HS256");
        sign_key = (unsigned char *)mem_strdup(cfg->jwt_secret);
        sign_key_len = verify_key_len = strlen(cfg->jwt_secret);
        verify_key = sign_key;
        alg = JWT_ALG_HS256;
    } else {
        if (!(sign_key = load_pem("JWT_PRIVATE_KEY", cfg->jwt_private_key, cfg->jwt_algorithm, 0, &sign_key_len,
                                  err, errlen)) ||
            !(verify_key = load_pem("JWT_PUBLIC_KEY", cfg->jwt_public_key, cfg->jwt_algorithm, 1, &verify_key_len,
                                    err, errlen))) {
            auth_tokens_free();
            return -1;
        }
        alg = cfg->jwt_algorithm == JWT_RS256 ? JWT_ALG_RS256 : JWT_ALG_ES256;
    }

    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, sizeof(rotation_key));
    crypto_generichash_update(&st, (const unsigned char *)ROTATION_KEY_CONTEXT, strlen(ROTATION_KEY_CONTEXT));
    crypto_generichash_update(&st, sign_key, sign_key_len);
    crypto_generichash_final(&st, rotation_key, sizeof(rotation_key));

    /* Prove the keys sign and verify now, not at the first login. */
    arena_t a;
    arena_init(&a, NULL, 0);
    int64_t expires_in;
    auth_claims_t c;
    char *t = auth_access_token_issue(&a, 1, 1, "user", 1000, &expires_in);
    int verified = t && auth_access_token_verify(t, strlen(t), 1000, &c) != -1;
    arena_reset(&a);
    if (!t)
        return fail(err, errlen,
                    hmac ? "JWT_SECRET: cannot sign a token with it"
                    : cfg->jwt_algorithm == JWT_RS256
                        ? "JWT_PRIVATE_KEY: cannot sign with it (not an RSA private key in PEM?)"
                        : "JWT_PRIVATE_KEY: cannot sign with it (not a P-256 EC private key in PEM?)");
    if (!verified)
        return fail(err, errlen,
                    hmac ? "JWT_SECRET: cannot verify a token signed with it"
                         : "JWT_PUBLIC_KEY: does not verify what JWT_PRIVATE_KEY signs (not its public key?)");
    return 0;
}

char *auth_access_token_issue(arena_t *a, int64_t user_id, int64_t session_id, const char *role, int64_t now_s,
                              int64_t *expires_in_s)
{
    if (!sign_key)
        return NULL;
    jwt_t *jwt = NULL;
    if (jwt_new(&jwt))
        return NULL;
    char sub[24];
    snprintf(sub, sizeof(sub), "%lld", (long long)user_id);
    char *text = NULL;
    if (!jwt_add_grant(jwt, "sub", sub) && !jwt_add_grant_int(jwt, "sid", (long)session_id) &&
        !jwt_add_grant(jwt, "role", role ? role : "user") && !jwt_add_grant_int(jwt, "iat", (long)now_s) &&
        !jwt_add_grant_int(jwt, "exp", (long)(now_s + (int64_t)access_ttl_s)) &&
        !jwt_add_grant(jwt, "typ", "access") && !jwt_set_alg(jwt, alg, sign_key, (int)sign_key_len))
        text = jwt_encode_str(jwt);
    jwt_free(jwt);
    if (!text)
        return NULL;
    char *out = arena_strdup(a, text);
    free(text);
    if (expires_in_s)
        *expires_in_s = (int64_t)access_ttl_s;
    return out;
}

/* The claims, type-checked by jansson: libjwt 1.10's getters cannot tell a
 * missing or mistyped integer from -1. */
static int read_claims(jwt_t *jwt, int64_t now_s, auth_claims_t *out)
{
    char *text = jwt_get_grants_json(jwt, NULL);
    json_t *g = text ? json_loads(text, 0, NULL) : NULL;
    free(text);
    if (!g)
        return -1;
    int rc = -1;
    json_t *sid = json_object_get(g, "sid"), *iat = json_object_get(g, "iat"), *exp = json_object_get(g, "exp");
    const char *typ = json_string_value(json_object_get(g, "typ"));
    const char *role = json_string_value(json_object_get(g, "role"));
    const char *sub = json_string_value(json_object_get(g, "sub"));
    if (typ && !strcmp(typ, "access") && role && *role && strlen(role) < sizeof(out->role) &&
        (out->user_id = http_parse_id(sub)) && json_is_integer(sid) && json_integer_value(sid) > 0 &&
        json_is_integer(iat) && json_is_integer(exp)) {
        out->session_id = json_integer_value(sid);
        out->iat = json_integer_value(iat);
        out->exp = json_integer_value(exp);
        strcpy(out->role, role);
        rc = out->exp > now_s ? 0 : -2;
    }
    json_decref(g);
    return rc;
}

/* Each worker keeps the claims of the tokens it verified last: a client sends
 * the same token with every request, and decoding it (base64, JSON, HMAC)
 * was a tenth of a task read's CPU. Only an exact, constant-time match of the
 * whole token hits; expiry is checked on every use and revocation by the
 * caller. Entries live in the thread's own storage, so nothing is shared or
 * freed. */
#define TOKEN_CACHE_SLOTS 64
#define TOKEN_CACHE_MAX_LEN 512
typedef struct {
    size_t len; /* 0: empty */
    unsigned generation;
    char token[TOKEN_CACHE_MAX_LEN];
    auth_claims_t claims;
} token_cache_entry_t;
static __thread token_cache_entry_t token_cache[TOKEN_CACHE_SLOTS];


static token_cache_entry_t *token_cache_slot(const char *token, size_t len)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)token[i]) * 1099511628211ULL;
    return &token_cache[h % TOKEN_CACHE_SLOTS];
}

static int token_verify_uncached(const char *token, size_t len, int64_t now_s, auth_claims_t *out)
{
    char buf[AUTH_ACCESS_TOKEN_MAX + 1];
    memcpy(buf, token, len);
    buf[len] = '\0';
    jwt_t *jwt = NULL;
    if (jwt_decode(&jwt, buf, verify_key, (int)verify_key_len) || !jwt) {
        jwt_free(jwt);
        return -1;
    }
    /* libjwt checks the signature with the algorithm the token names: pin it. */
    int rc = jwt_get_alg(jwt) == alg ? read_claims(jwt, now_s, out) : -1;
    jwt_free(jwt);
    return rc;
}

int auth_access_token_verify(const char *token, size_t len, int64_t now_s, auth_claims_t *out)
{
    if (!verify_key || len == 0 || len > AUTH_ACCESS_TOKEN_MAX || memchr(token, '\0', len))
        return -1;
    token_cache_entry_t *e = len <= TOKEN_CACHE_MAX_LEN ? token_cache_slot(token, len) : NULL;
    if (e && e->len == len && e->generation == key_generation && !sodium_memcmp(e->token, token, len)) {
        *out = e->claims;
        return out->exp > now_s ? 0 : -2;
    }
    int rc = token_verify_uncached(token, len, now_s, out);
    if (e && rc == 0) {
        memcpy(e->token, token, len);
        e->len = len;
        e->generation = key_generation;
        e->claims = *out;
    }
    return rc;
}

static void base64url(const unsigned char *bin, size_t len, char out[AUTH_REFRESH_TOKEN_LEN + 1])
{
    sodium_bin2base64(out, AUTH_REFRESH_TOKEN_LEN + 1, bin, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

void auth_refresh_token_new(char out[AUTH_REFRESH_TOKEN_LEN + 1])
{
    unsigned char raw[32];
    randombytes_buf(raw, sizeof(raw));
    base64url(raw, sizeof(raw), out);
}

void auth_refresh_token_next(const char *token, char out[AUTH_REFRESH_TOKEN_LEN + 1])
{
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256(mac, (const unsigned char *)token, strlen(token), rotation_key);
    base64url(mac, sizeof(mac), out);
}

void auth_code_new(char out[AUTH_CODE_SIZE])
{
    const uint32_t codes = 1000000; /* 10 to the power AUTH_CODE_DIGITS */
    snprintf(out, AUTH_CODE_SIZE, "%0*u", AUTH_CODE_DIGITS, (unsigned)randombytes_uniform(codes));
}
