#include <jwt.h>
#include <stdlib.h>
#include <time.h>

#include "hourglass/auth.h"
#include "unit.h"

static int policy(const char *pw, const char **codes) { return auth_password_policy(pw, strlen(pw), codes, 8); }

static int has(const char **codes, int n, const char *code)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(codes[i], code))
            return 1;
    return 0;
}

TEST(auth_password_policy_rules)
{
    const char *c[8];
    CHECK(policy("Abcdefg1!", c) == 0);
    CHECK(policy("Пароль-123", c) == 0); /* Cyrillic letters are letters */
    int n = policy("abc", c);
    CHECK(n == 4 && !strcmp(c[0], "too_short") && has(c, n, "no_upper") && has(c, n, "no_digit") &&
          has(c, n, "no_symbol"));
    n = policy("короткий", c); /* 8 characters, 16 bytes: long enough */
    CHECK(!has(c, n, "too_short") && has(c, n, "no_upper") && has(c, n, "no_digit") && has(c, n, "no_symbol"));
    CHECK(policy("ABCDEFG1!", c) == 1 && !strcmp(c[0], "no_lower"));
    CHECK(policy("abcdefg1!", c) == 1 && !strcmp(c[0], "no_upper"));
    CHECK(policy("Abcdefgh!", c) == 1 && !strcmp(c[0], "no_digit"));
    CHECK(policy("Abcdefgh1", c) == 1 && !strcmp(c[0], "no_symbol"));
    CHECK(policy("Abcdefg 1", c) == 0); /* a space is a symbol */
    char longpw[140];
    memset(longpw, 'a', 129);
    memcpy(longpw, "A1!", 3);
    longpw[129] = '\0';
    CHECK(policy(longpw, c) == 1 && !strcmp(c[0], "too_long"));
    CHECK(policy("", c) == 5); /* every rule but too_long */
}

static void setup_tokens(void)
{
    static int done;
    if (done)
        return;
    config_t cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.jwt_algorithm = JWT_HS256;
    cfg.jwt_secret = "unit-test-secret-0123456789";
    cfg.access_token_ttl_ms = 900000;
    char err[256];
    if (auth_tokens_setup(&cfg, err, sizeof(err)) == 0)
        done = 1;
}

TEST(auth_access_token_round_trip)
{
    setup_tokens();
    arena_t a;
    arena_init(&a, NULL, 0);
    int64_t exp;
    char *t = auth_access_token_issue(&a, 42, 7, "admin", 1000000, &exp);
    CHECK(t && exp == 900);
    auth_claims_t c;
    CHECK(auth_access_token_verify(t, strlen(t), 1000010, &c) == 0);
    CHECK(c.user_id == 42 && c.session_id == 7 && !strcmp(c.role, "admin") && c.exp == 1000900);
    CHECK(auth_access_token_verify(t, strlen(t), 1000900, &c) == -2);
    char *bad = arena_strdup(&a, t);
    bad[strlen(bad) - 2] = bad[strlen(bad) - 2] == 'A' ? 'B' : 'A';
    CHECK(auth_access_token_verify(bad, strlen(bad), 1000010, &c) == -1);
    CHECK(auth_access_token_verify("abc", 3, 1000010, &c) == -1);
    CHECK(auth_access_token_verify("", 0, 1000010, &c) == -1);
    arena_reset(&a);
}

/* A token made by someone who knows the secret but signs with another
 * algorithm, or claims another type, is refused. */
static char *forge(const char *alg_typ, jwt_alg_t alg)
{
    jwt_t *jwt;
    jwt_new(&jwt);
    jwt_add_grant(jwt, "sub", "1");
    jwt_add_grant_int(jwt, "sid", 1);
    jwt_add_grant(jwt, "role", "admin");
    jwt_add_grant_int(jwt, "exp", 2000000);
    jwt_add_grant(jwt, "typ", alg_typ);
    const char *key = "unit-test-secret-0123456789";
    jwt_set_alg(jwt, alg, (const unsigned char *)key, alg == JWT_ALG_NONE ? 0 : (int)strlen(key));
    char *s = jwt_encode_str(jwt);
    jwt_free(jwt);
    return s;
}

TEST(auth_access_token_refuses_forgeries)
{
    setup_tokens();
    auth_claims_t c;
    char *hs512 = forge("access", JWT_ALG_HS512);
    char *refresh = forge("refresh", JWT_ALG_HS256);
    char *none = forge("access", JWT_ALG_NONE);
    CHECK(hs512 && auth_access_token_verify(hs512, strlen(hs512), 1000, &c) == -1);
    CHECK(refresh && auth_access_token_verify(refresh, strlen(refresh), 1000, &c) == -1);
    CHECK(!none || auth_access_token_verify(none, strlen(none), 1000, &c) == -1);
    free(hs512);
    free(refresh);
    free(none);
}

TEST(auth_refresh_and_codes)
{
    setup_tokens();
    char a[AUTH_REFRESH_TOKEN_LEN + 1], b[AUTH_REFRESH_TOKEN_LEN + 1], n1[AUTH_REFRESH_TOKEN_LEN + 1],
        n2[AUTH_REFRESH_TOKEN_LEN + 1], nb[AUTH_REFRESH_TOKEN_LEN + 1];
    auth_refresh_token_new(a);
    auth_refresh_token_new(b);
    CHECK(strlen(a) == AUTH_REFRESH_TOKEN_LEN && strcmp(a, b));
    auth_refresh_token_next(a, n1);
    auth_refresh_token_next(a, n2);
    auth_refresh_token_next(b, nb);
    CHECK(!strcmp(n1, n2) && strcmp(n1, nb) && strcmp(n1, a) && strlen(n1) == AUTH_REFRESH_TOKEN_LEN);
    for (int i = 0; i < 50; i++) {
        char code[7];
        auth_code_new(code);
        CHECK(strlen(code) == 6);
        for (int k = 0; k < 6; k++)
            CHECK(code[k] >= '0' && code[k] <= '9');
    }
}
