/* Access tokens through auth_access_token_verify() with a fixed HS256 secret.
 * An odd first byte sends the rest as it is (a bearer token or cookie value);
 * an even one splits it at the first newline into a header and a claims
 * JSON text, which are encoded and signed with the secret: so the claims
 * checks are reached, not only the signature's. A token is verified twice
 * (the second answer comes from the per-thread cache) with the same result,
 * and what is accepted has a user, a session, a role and has not expired. */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "hourglass/auth.h"

#define SECRET "fuzz-secret-fuzz-secret-fuzz-sec"
#define NOW 1800000000LL

static void b64(abuf_t *b, const uint8_t *p, size_t n)
{
    size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char *out = arena_alloc(b->arena, cap);
    sodium_bin2base64(out, cap, p, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    abuf_puts(b, out);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    config_t cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.jwt_algorithm = JWT_HS256;
    cfg.jwt_secret = SECRET;
    cfg.access_token_ttl_ms = 900000;
    char err[256];
    if (sodium_init() < 0 || auth_tokens_setup(&cfg, err, sizeof(err)))
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    arena_t a;
    arena_init(&a, NULL, 0);
    abuf_t tok;
    abuf_init(&tok, &a, 2 * size + 64);
    const uint8_t *rest = data + 1;
    size_t n = size - 1;
    if (data[0] & 1) {
        abuf_append(&tok, rest, n);
    } else {
        const uint8_t *nl = memchr(rest, '\n', n);
        size_t hlen = nl ? (size_t)(nl - rest) : 0;
        const uint8_t *claims = nl ? nl + 1 : rest;
        size_t clen = nl ? n - hlen - 1 : n;
        if (nl && hlen)
            b64(&tok, rest, hlen);
        else
            abuf_puts(&tok, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"); /* {"alg":"HS256","typ":"JWT"} */
        abuf_append(&tok, ".", 1);
        b64(&tok, claims, clen);
        unsigned char mac[crypto_auth_hmacsha256_BYTES];
        crypto_auth_hmacsha256_state st;
        crypto_auth_hmacsha256_init(&st, (const unsigned char *)SECRET, strlen(SECRET));
        crypto_auth_hmacsha256_update(&st, (const unsigned char *)tok.data, tok.len);
        crypto_auth_hmacsha256_final(&st, mac);
        abuf_append(&tok, ".", 1);
        b64(&tok, mac, sizeof(mac));
    }
    auth_claims_t c1, c2;
    memset(&c1, 0, sizeof(c1));
    memset(&c2, 0, sizeof(c2));
    int rc1 = auth_access_token_verify(tok.data, tok.len, NOW, &c1);
    int rc2 = auth_access_token_verify(tok.data, tok.len, NOW, &c2);
    if (rc1 != rc2 || rc1 < -2 || rc1 > 0)
        abort();
    if (rc1 != -1) {
        if (memcmp(&c1, &c2, sizeof(c1)) || c1.user_id < 1 || c1.session_id < 1 || !c1.role[0] ||
            memchr(c1.role, '\0', sizeof(c1.role)) == NULL)
            abort();
        if ((rc1 == 0) != (c1.exp > NOW))
            abort();
    }
    arena_reset(&a);
    return 0;
}
