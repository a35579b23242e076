/* Access tokens (JWT by libjwt), refresh tokens and one-time codes.
 * Keys are loaded once before the workers start and only read afterwards. */
#include <errno.h>
#include <jwt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hourglass/auth.h"

static jwt_alg_t alg;
static unsigned char *sign_key, *verify_key;
static size_t sign_key_len, verify_key_len;
static uint64_t access_ttl_s;
static unsigned char rotation_key[crypto_auth_hmacsha256_KEYBYTES];

/* A PEM value is the text itself or the path of a file holding it. */
static unsigned char *load_pem(const char *name, const char *value, size_t *len, char *err, size_t errlen)
{
    if (!strncmp(value, "-----BEGIN", 10)) {
        *len = strlen(value);
        return (unsigned char *)strdup(value);
    }
    FILE *f = fopen(value, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot read %s: %s", name, value, strerror(errno));
        return NULL;
    }
    unsigned char *buf = malloc(65536);
    size_t n = fread(buf, 1, 65535, f);
    fclose(f);
    buf[n] = '\0';
    if (n < 20 || strncmp((char *)buf, "-----BEGIN", 10)) {
        snprintf(err, errlen, "%s: %s is not a PEM file", name, value);
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

int auth_tokens_setup(const config_t *cfg, char *err, size_t errlen)
{
    access_ttl_s = cfg->access_token_ttl_ms / 1000;
    const unsigned char *seed;
    size_t seed_len;
    if (cfg->jwt_algorithm == JWT_HS256) {
        alg = JWT_ALG_HS256;
        sign_key = (unsigned char *)strdup(cfg->jwt_secret);
        sign_key_len = strlen(cfg->jwt_secret);
        verify_key = (unsigned char *)strdup(cfg->jwt_secret);
        verify_key_len = sign_key_len;
    } else {
        alg = cfg->jwt_algorithm == JWT_RS256 ? JWT_ALG_RS256 : JWT_ALG_ES256;
        if (!(sign_key = load_pem("JWT_PRIVATE_KEY", cfg->jwt_private_key, &sign_key_len, err, errlen)))
            return -1;
        if (!(verify_key = load_pem("JWT_PUBLIC_KEY", cfg->jwt_public_key, &verify_key_len, err, errlen)))
            return -1;
    }
    seed = sign_key;
    seed_len = sign_key_len;
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, sizeof(rotation_key));
    crypto_generichash_update(&st, (const unsigned char *)"hourglass refresh v1", 20);
    crypto_generichash_update(&st, seed, seed_len);
    crypto_generichash_final(&st, rotation_key, sizeof(rotation_key));

    /* Prove the key signs and verifies now, not at the first login. */
    arena_t a;
    arena_init(&a, NULL, 0);
    int64_t exp;
    char *t = auth_access_token_issue(&a, 1, 1, "user", 1000, &exp);
    auth_claims_t c;
    int ok = t && auth_access_token_verify(t, strlen(t), 1000, &c) == 0;
    arena_reset(&a);
    if (!ok) {
        snprintf(err, errlen, "%s: the key cannot sign and verify a token",
                 cfg->jwt_algorithm == JWT_HS256 ? "JWT_SECRET" : "JWT_PRIVATE_KEY");
        return -1;
    }
    return 0;
}

void auth_tokens_free(void)
{
    if (sign_key)
        sodium_memzero(sign_key, sign_key_len);
    free(sign_key);
    free(verify_key);
    sign_key = verify_key = NULL;
}

char *auth_access_token_issue(arena_t *a, int64_t user_id, int64_t session_id, const char *role, int64_t now_s,
                              int64_t *expires_in_s)
{
    jwt_t *jwt = NULL;
    if (jwt_new(&jwt))
        return NULL;
    char sub[24];
    snprintf(sub, sizeof(sub), "%lld", (long long)user_id);
    char *text = NULL;
    if (!jwt_add_grant(jwt, "sub", sub) && !jwt_add_grant_int(jwt, "sid", session_id) &&
        !jwt_add_grant(jwt, "role", role ? role : "user") && !jwt_add_grant_int(jwt, "iat", now_s) &&
        !jwt_add_grant_int(jwt, "exp", now_s + (int64_t)access_ttl_s) && !jwt_add_grant(jwt, "typ", "access") &&
        !jwt_set_alg(jwt, alg, sign_key, (int)sign_key_len))
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

int auth_access_token_verify(const char *token, size_t len, int64_t now_s, auth_claims_t *out)
{
    if (len == 0 || len > 4096 || memchr(token, '\0', len))
        return -1;
    char buf[4097];
    memcpy(buf, token, len);
    buf[len] = '\0';
    jwt_t *jwt = NULL;
    /* libjwt checks the signature with the algorithm the token names: pin it. */
    if (jwt_decode(&jwt, buf, verify_key, (int)verify_key_len) || !jwt) {
        jwt_free(jwt);
        return -1;
    }
    int rc = -1;
    const char *typ = jwt_get_grant(jwt, "typ");
    const char *sub = jwt_get_grant(jwt, "sub");
    const char *role = jwt_get_grant(jwt, "role");
    if (jwt_get_alg(jwt) == alg && typ && !strcmp(typ, "access") && sub && role && strlen(role) < sizeof(out->role)) {
        char *end;
        long long uid = strtoll(sub, &end, 10);
        errno = 0;
        long sid = jwt_get_grant_int(jwt, "sid");
        int sid_ok = errno == 0 && sid > 0;
        long exp = jwt_get_grant_int(jwt, "exp");
        int exp_ok = errno == 0;
        if (!*end && uid > 0 && sid_ok && exp_ok) {
            out->user_id = uid;
            out->session_id = sid;
            out->exp = exp;
            out->iat = jwt_get_grant_int(jwt, "iat");
            strcpy(out->role, role);
            rc = exp > now_s ? 0 : -2;
        }
    }
    jwt_free(jwt);
    return rc;
}

static void base64url(const unsigned char *bin, size_t len, char *out, size_t cap)
{
    sodium_bin2base64(out, cap, bin, len, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

void auth_refresh_token_new(char out[AUTH_REFRESH_TOKEN_LEN + 1])
{
    unsigned char raw[32];
    randombytes_buf(raw, sizeof(raw));
    base64url(raw, sizeof(raw), out, AUTH_REFRESH_TOKEN_LEN + 1);
}

void auth_refresh_token_next(const char *token, char out[AUTH_REFRESH_TOKEN_LEN + 1])
{
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256(mac, (const unsigned char *)token, strlen(token), rotation_key);
    base64url(mac, sizeof(mac), out, AUTH_REFRESH_TOKEN_LEN + 1);
}

void auth_code_new(char out[7])
{
    snprintf(out, 7, "%06u", (unsigned)randombytes_uniform(1000000));
}
