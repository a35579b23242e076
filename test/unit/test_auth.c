#include <jwt.h>
#include <pthread.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <unistd.h>
#include <uv.h>

#include "hourglass/bridge.h"
#include "hourglass/auth.h"
#include "hourglass/server.h"
#include "unit.h"

#define SECRET "unit-test-secret-0123456789"

/* ------------------------------------------------------------ policy */

static int policy(const char *pw, const char **codes) { return auth_password_policy(pw, strlen(pw), codes, 8); }

/* The codes pw breaks, joined by commas, for exact comparisons. */
static const char *broken(const char *pw)
{
    static char out[128];
    const char *c[8];
    int n = policy(pw, c);
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (i)
            strcat(out, ",");
        strcat(out, c[i]);
    }
    return out;
}

TEST(auth_password_policy_rules)
{
    const char *c[8];
    CHECK(policy("Abcdefg1!", c) == 0);
    CHECK_STR(broken("Abcdefg1!"), "");
    CHECK_STR(broken("Abcde1!"), "too_short");
    CHECK_STR(broken("ABCDEFG1!"), "no_lower");
    CHECK_STR(broken("abcdefg1!"), "no_upper");
    CHECK_STR(broken("Abcdefgh!"), "no_digit");
    CHECK_STR(broken("Abcdefgh1"), "no_symbol");
    CHECK_STR(broken("Abcdefg 1"), ""); /* a space is a symbol */
    CHECK_STR(broken("Abcdefg\t1"), "");
    CHECK_STR(broken("abc"), "too_short,no_upper,no_digit,no_symbol");
    CHECK_STR(broken("12345678"), "no_lower,no_upper,no_symbol");
    CHECK_STR(broken(""), "too_short,no_lower,no_upper,no_digit,no_symbol");

    char pw[200];
    memset(pw, 'a', sizeof(pw));
    memcpy(pw, "A1!", 3);
    CHECK(auth_password_policy(pw, 128, c, 8) == 0);
    CHECK(auth_password_policy(pw, 129, c, 8) == 1 && !strcmp(c[0], "too_long"));
    memset(pw, 'a', sizeof(pw));
    CHECK(auth_password_policy(pw, 129, c, 8) == 4 && !strcmp(c[0], "too_long") && !strcmp(c[1], "no_upper") &&
          !strcmp(c[2], "no_digit") && !strcmp(c[3], "no_symbol"));

    /* Fewer slots than broken rules: the count is still whole, the slots in order. */
    const char *two[2] = {NULL, NULL};
    CHECK(auth_password_policy("abc", 3, two, 2) == 4);
    CHECK(!strcmp(two[0], "too_short") && !strcmp(two[1], "no_upper"));
    CHECK(auth_password_policy("abc", 3, NULL, 0) == 4);
}

TEST(auth_password_policy_cyrillic_and_other_scripts)
{
    const char *c[8];
    CHECK_STR(broken("Пароль-123"), "");
    /* 8 Cyrillic letters are 16 bytes and 8 characters: long enough. */
    CHECK(strlen("короткий") == 16);
    CHECK_STR(broken("короткий"), "no_upper,no_digit,no_symbol");
    CHECK_STR(broken("КОРОТКИЙ"), "no_lower,no_digit,no_symbol");
    CHECK_STR(broken("Пароль1"), "too_short,no_symbol"); /* 7 characters, 13 bytes */
    CHECK_STR(broken("короче1!"), "no_upper");
    CHECK_STR(broken("Ёлка-2024"), "");                  /* Ё U+0401 is upper-case */
    CHECK_STR(broken("ЁЛКА-2024ё"), "");                 /* ё U+0451 is lower-case */
    CHECK_STR(broken("Ґанок-123"), "");                  /* Ukrainian Ґ U+0490 */
    CHECK_STR(broken("ӁӃ-12345"), "no_lower");           /* U+04C1, U+04C3: odd code points upper here */
    CHECK_STR(broken("ӂӄ-12345"), "no_upper");
    CHECK_STR(broken("Ӏӏ-123456"), "");                  /* palochka U+04C0 / U+04CF */
    CHECK_STR(broken("Ѣѣ-123456"), "");                  /* yat U+0462 / U+0463 */
    CHECK_STR(broken("Ԁԁ-123456"), "");                  /* Cyrillic Supplement U+0500 / U+0501 */

    /* 64 Cyrillic letters are 128 bytes; one more is too long. */
    char pw[300] = "Я1!";
    while (strlen(pw) < 128)
        strcat(pw, "я");
    CHECK(strlen(pw) == 128 && policy(pw, c) == 0);
    strcat(pw, "я");
    CHECK_STR(broken(pw), "too_long");

    CHECK_STR(broken("Ärger-123"), "");
    CHECK_STR(broken("ÄÖÜ-12345"), "no_lower");
    CHECK_STR(broken("straße-123"), "no_upper");
    CHECK_STR(broken("Abcdefg1×"), "");  /* × is a symbol, not a letter */
    CHECK_STR(broken("Abcdefg1\u00a0"), ""); /* no-break space */
    CHECK_STR(broken("Κωδικός-1"), "");
    /* Letters of no case: neither symbols nor upper or lower. */
    CHECK_STR(broken("密码密码密码密码1!"), "no_lower,no_upper");
    CHECK_STR(broken("Aa密码密码密码1"), "no_symbol");
    CHECK_STR(broken("Abcdefg1🔑"), ""); /* emoji are symbols */
    CHECK_STR(broken("Abcdefg1\u20ac"), ""); /* € */
    /* A combining mark belongs to its letter: a character, but not a symbol. */
    CHECK_STR(broken("Abcdefe\u03011"), "no_symbol");
    CHECK_STR(broken("Abcd\u0301"), "too_short,no_digit,no_symbol");
    CHECK_STR(broken("ＡｂｃｄｅＦ１！"), ""); /* full-width forms count as their ASCII letters */
    CHECK_STR(broken("Abcdefg!\u0663"), ""); /* Arabic-Indic three is a digit */
}

TEST(auth_password_policy_invalid_utf8)
{
    /* Each byte that is not UTF-8 is one character and a symbol. */
    CHECK_STR(broken("Abcdefg1\xff"), "");
    CHECK_STR(broken("Ab1\xff\xfe\xfd\xfc\xfb"), "");
    CHECK_STR(broken("Ab1\xff\xfe\xfd\xfc"), "too_short");
    CHECK_STR(broken("Abcdefg1\xc0\x80"), "");   /* overlong NUL */
    CHECK_STR(broken("ABCDEFG1\xc1\xa1"), "no_lower"); /* an overlong 'a' is no letter */
    CHECK_STR(broken("ABCDEFG1\xe0\x81\xa1"), "no_lower");
    CHECK_STR(broken("Abcdefg1\xed\xa0\x80"), ""); /* a surrogate */
    CHECK_STR(broken("Abcdefg1\xf4\x90\x80\x80"), ""); /* beyond U+10FFFF */
    CHECK_STR(broken("Abcdefg1\xd0"), "");       /* truncated */
    CHECK_STR(broken("Abcdefgh\xd0"), "no_digit");
    CHECK_STR(broken("\xd0\xd0\xd0"), "too_short,no_lower,no_upper,no_digit");
}

/* ------------------------------------------------------------ hashing */

static void setup_password_cost_min(void)
{
    config_t cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.password_hash_cost = PASSWORD_COST_MIN;
    if (sodium_init() < 0 || auth_password_setup(&cfg))
        abort();
}

TEST(auth_password_hash_blocking)
{
    setup_password_cost_min();
    char hash[crypto_pwhash_STRBYTES];
    CHECK(auth_password_hash_blocking("Пароль-123", hash) == 0);
    CHECK(!strncmp(hash, "$argon2id$", 10) && strstr(hash, "m=8,t=1"));
    CHECK(crypto_pwhash_str_verify(hash, "Пароль-123", strlen("Пароль-123")) == 0);
    CHECK(crypto_pwhash_str_verify(hash, "Пароль-124", strlen("Пароль-124")) != 0);
    char again[crypto_pwhash_STRBYTES];
    CHECK(auth_password_hash_blocking("Пароль-123", again) == 0 && strcmp(hash, again)); /* salted */
}

/* Stored hashes were made by libsodium before auth_hash.c: both ways must hold. */
TEST(auth_hash_verifies_libsodium_strings_and_the_other_way_round)
{
    if (sodium_init() < 0)
        abort();
    const char *pw = "Pässword-1";
    char theirs[crypto_pwhash_STRBYTES], ours[AUTH_HASH_STR_MAX];
    CHECK(crypto_pwhash_str(theirs, pw, strlen(pw), 2, 1 << 20) == 0);
    CHECK(auth_hash_verify(theirs, pw, strlen(pw)) == 0);
    CHECK(auth_hash_verify(theirs, "Pässword-2", strlen(pw)) == -1);
    CHECK(auth_hash_verify(theirs, pw, strlen(pw) - 1) == -1);
    CHECK(auth_hash_encode(pw, strlen(pw), 2, 1024, ours, sizeof(ours)) == 0);
    CHECK(!strncmp(ours, "$argon2id$v=19$m=1024,t=2,p=1$", 30));
    CHECK(crypto_pwhash_str_verify(ours, pw, strlen(pw)) == 0);
    CHECK(crypto_pwhash_str_verify(ours, "Pässword-2", strlen(pw)) != 0);
    CHECK(auth_hash_verify(ours, pw, strlen(pw)) == 0);
    char small[40];
    CHECK(auth_hash_encode(pw, strlen(pw), 2, 1024, small, sizeof(small)) == -1);
}

TEST(auth_hash_refuses_malformed_strings)
{
    const char *pw = "Bench-pass-123";
    char good[AUTH_HASH_STR_MAX];
    CHECK(auth_hash_encode(pw, strlen(pw), 1, 64, good, sizeof(good)) == 0);
    CHECK(auth_hash_verify(good, pw, strlen(pw)) == 0);
    const char *tail = good + strlen("$argon2id$v=19$m=64,t=1,p=1"); /* "$salt$hash" */
    CHECK(*tail == '$');
    const char *prefixes[] = {
        "$argon2i$v=19$m=64,t=1,p=1",   "$argon2id$v=16$m=64,t=1,p=1",  "$argon2id$m=64,t=1,p=1",
        "$argon2id$v=19$m=064,t=1,p=1", "$argon2id$v=19$m=+64,t=1,p=1", "$argon2id$v=19$m= 64,t=1,p=1",
        "$argon2id$v=19$m=64,t=0,p=1",  "$argon2id$v=19$m=64,t=1,p=2",  "$argon2id$v=19$m=64,t=99999,p=1",
        "$argon2id$v=19$m=4,t=1,p=1",   "$argon2id$v=19$m=99999999999,t=1,p=1",
    };
    char bad[AUTH_HASH_STR_MAX + 32];
    snprintf(bad, sizeof(bad), "$argon2id$v=19$m=64,t=1,p=1%s", tail); /* the same, rebuilt */
    CHECK(auth_hash_verify(bad, pw, strlen(pw)) == 0);
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
        snprintf(bad, sizeof(bad), "%s%s", prefixes[i], tail);
        CHECK(auth_hash_verify(bad, pw, strlen(pw)) == -1);
    }
    snprintf(bad, sizeof(bad), "%s=", good); /* padding is not the format */
    CHECK(auth_hash_verify(bad, pw, strlen(pw)) == -1);
    snprintf(bad, sizeof(bad), "%s$", good);
    CHECK(auth_hash_verify(bad, pw, strlen(pw)) == -1);
    snprintf(bad, sizeof(bad), "%.*s", (int)strlen(good) - 1, good);
    CHECK(auth_hash_verify(bad, pw, strlen(pw)) == -1);
    CHECK(auth_hash_verify("", pw, strlen(pw)) == -1);
    CHECK(auth_hash_verify("$argon2id$v=19$m=64,t=1,p=1$$", pw, strlen(pw)) == -1);
}

static void *hash_on_thread(void *arg)
{
    char out[AUTH_HASH_STR_MAX];
    *(int *)arg = auth_hash_encode("Bench-pass-123", 14, 1, 256, out, sizeof(out));
    return NULL;
}

/* One arena per thread hashing, reused, and handed back once idle. */
TEST(auth_hash_arenas_are_reused_then_released_when_idle)
{
    char out[AUTH_HASH_STR_MAX];
    auth_hash_release_idle(UINT64_MAX, 0);
    CHECK(auth_hash_arena_count(NULL) == 0);
    CHECK(auth_hash_encode("a", 1, 1, 256, out, sizeof(out)) == 0);
    CHECK(auth_hash_encode("b", 1, 1, 256, out, sizeof(out)) == 0);
    size_t bytes = 0;
    CHECK(auth_hash_arena_count(&bytes) == 1 && bytes == 256 * 1024);
    pthread_t t[3];
    int rc[3] = {-1, -1, -1};
    for (int i = 0; i < 3; i++)
        pthread_create(&t[i], NULL, hash_on_thread, &rc[i]);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    CHECK(rc[0] == 0 && rc[1] == 0 && rc[2] == 0);
    int n = auth_hash_arena_count(NULL);
    CHECK(n >= 1 && n <= 3);
    /* another cost: the idle arena of the old size is remapped, not added to */
    CHECK(auth_hash_encode("c", 1, 1, 512, out, sizeof(out)) == 0);
    CHECK(auth_hash_arena_count(NULL) == n);
    auth_hash_release_idle_now(60000); /* none has been idle a minute */
    CHECK(auth_hash_arena_count(NULL) == n);
    auth_hash_release_idle_now(0);
    CHECK(auth_hash_arena_count(NULL) == 0);
}

static int hash_calls, verify_calls, last_match;
static char last_hash[crypto_pwhash_STRBYTES];

static void on_hashed(http_request_t *req, const char *hash)
{
    (void)req;
    hash_calls++;
    snprintf(last_hash, sizeof(last_hash), "%s", hash ? hash : "");
}

static void on_verified(http_request_t *req, int matches)
{
    (void)req;
    verify_calls++;
    last_match = matches;
}

/* A request as the server holds one, on a loop of our own. */
typedef struct {
    worker_t worker;
    http_request_t req;
} fake_request_t;

static int fake_releases;

static void fake_release(http_request_t *req)
{
    (void)req;
    fake_releases++;
}

static const http_conn_ops_t fake_ops = {.release = fake_release};

static fake_request_t *fake_request_new(void)
{
    static char conn_stand_in;
    fake_request_t *f = calloc(1, sizeof(*f));
    if (!f || uv_loop_init(&f->worker.loop))
        abort();
    arena_init(&f->req.arena, NULL, 0);
    f->req.worker = &f->worker;
    f->req.conn = (http_conn_t *)&conn_stand_in;
    f->req.ops = &fake_ops;
    f->req.state = REQ_RUNNING;
    return f;
}

static void fake_request_free(fake_request_t *f)
{
    arena_reset(&f->req.arena);
    uv_loop_close(&f->worker.loop);
    free(f);
}

TEST(auth_password_hash_and_verify_on_the_pool)
{
    setup_password_cost_min();
    fake_request_t *f = fake_request_new();
    http_request_t *req = &f->req;
    hash_calls = verify_calls = 0;

    api_password_hash(req, "Abcdefg1!", on_hashed);
    CHECK(req->pending == 1 && hash_calls == 0); /* never on the caller's stack */
    uv_run(&f->worker.loop, UV_RUN_DEFAULT);
    CHECK(req->pending == 0 && hash_calls == 1);
    CHECK(!strncmp(last_hash, "$argon2id$", 10));
    char stored[crypto_pwhash_STRBYTES];
    strcpy(stored, last_hash);

    api_password_verify(req, "Abcdefg1!", stored, on_verified);
    uv_run(&f->worker.loop, UV_RUN_DEFAULT);
    CHECK(req->pending == 0 && verify_calls == 1 && last_match == 1);
    api_password_verify(req, "Abcdefg1?", stored, on_verified);
    uv_run(&f->worker.loop, UV_RUN_DEFAULT);
    CHECK(verify_calls == 2 && last_match == 0);
    /* An unknown user: the dummy hash does the work, and it never matches. */
    api_password_verify(req, "Abcdefg1!", NULL, on_verified);
    uv_run(&f->worker.loop, UV_RUN_DEFAULT);
    CHECK(verify_calls == 3 && last_match == 0);
    api_password_verify(req, "Abcdefg1!", "not a hash", on_verified);
    uv_run(&f->worker.loop, UV_RUN_DEFAULT);
    CHECK(verify_calls == 4 && last_match == 0);

    /* Two at once on one request: each keeps it alive. */
    api_password_hash(req, "Abcdefg1!", on_hashed);
    api_password_verify(req, "Abcdefg1!", stored, on_verified);
    CHECK(req->pending == 2);
    uv_run(&f->worker.loop, UV_RUN_DEFAULT);
    CHECK(req->pending == 0 && hash_calls == 2 && verify_calls == 5 && last_match == 1);

    /* The client went away meanwhile: no callback, and the request is released. */
    api_password_verify(req, "Abcdefg1!", stored, on_verified);
    req->conn = NULL;
    fake_releases = 0;
    uv_run(&f->worker.loop, UV_RUN_DEFAULT);
    CHECK(verify_calls == 5 && req->pending == 0);
    CHECK(fake_releases == 1);

    /* Answered already (a 504): no callback either. */
    fake_request_free(f);
    f = fake_request_new();
    req = &f->req;
    api_password_hash(req, "Abcdefg1!", on_hashed);
    req->state = REQ_RESPONDED;
    uv_run(&f->worker.loop, UV_RUN_DEFAULT);
    CHECK(hash_calls == 2 && req->pending == 0);
    fake_request_free(f);
}

static uv_loop_t gate_loop; /* registered with the gate for good: never closed */
static uv_timer_t gate_keepalive;
static uv_async_t gate_stop;

static void on_gate_keepalive(uv_timer_t *t) { (void)t; }

static void on_gate_stop(uv_async_t *a)
{
    uv_close((uv_handle_t *)&gate_keepalive, NULL);
    uv_close((uv_handle_t *)a, NULL);
}

static void gate_loop_run(void *arg)
{
    (void)arg;
    uv_run(&gate_loop, UV_RUN_DEFAULT);
}

/* Hashes at once: cores while the loops idle, fewer while they work. A loop
 * that has stopped counts as busy: it never waits in epoll. */
TEST(auth_password_hashing_yields_to_busy_loops)
{
    CHECK(auth_password_hash_limit(2, 0) == 2);
    CHECK(auth_password_hash_limit(2, 0.25) == 2);
    CHECK(auth_password_hash_limit(2, 0.3) == 1);
    CHECK(auth_password_hash_limit(2, 1.9) == 1);
    CHECK(auth_password_hash_limit(4, 0.3) == 3);
    CHECK(auth_password_hash_limit(4, 1.25) == 3);
    CHECK(auth_password_hash_limit(4, 1.3) == 2);
    CHECK(auth_password_hash_limit(4, 1.5) == 2);
    CHECK(auth_password_hash_limit(1, 0) == 1);
    CHECK(auth_password_hash_limit(8, 7.9) == 1);

    int cores = (int)sysconf(_SC_NPROCESSORS_ONLN);
    uv_loop_init(&gate_loop);
    uv_loop_configure(&gate_loop, UV_METRICS_IDLE_TIME);
    uv_timer_init(&gate_loop, &gate_keepalive);
    uv_timer_start(&gate_keepalive, on_gate_keepalive, 60000, 0);
    uv_async_init(&gate_loop, &gate_stop, on_gate_stop);
    auth_password_watch_loop(&gate_loop);
    uv_thread_t t;
    uv_thread_create(&t, gate_loop_run, NULL);
    usleep(50000);
    CHECK(auth_password_hash_limit_now() == cores); /* idle in epoll all along */
    uv_async_send(&gate_stop);
    uv_thread_join(&t);
    usleep(50000);
    int limit = auth_password_hash_limit_now();
    CHECK(limit == auth_password_hash_limit(cores, 1.0));

    /* More verifications than the limit, queued at once: never more run. */
    char stored[AUTH_HASH_STR_MAX];
    CHECK(auth_hash_encode("Abcdefg1!", 9, 1, 16384, stored, sizeof(stored)) == 0);
    fake_request_t *f = fake_request_new();
    verify_calls = 0;
    int jobs = limit + 2, most = 0;
    for (int i = 0; i < jobs; i++)
        api_password_verify(&f->req, "Abcdefg1!", stored, on_verified);
    while (verify_calls < jobs) {
        uv_run(&f->worker.loop, UV_RUN_NOWAIT);
        int now = auth_password_hashing_now();
        most = now > most ? now : most;
    }
    CHECK(most >= 1 && most <= limit);
    CHECK(last_match == 1 && f->req.pending == 0);
    fake_request_free(f);
}

/* ------------------------------------------------------------ tokens */

static int setup_hs256(const char *secret, uint64_t ttl_ms)
{
    config_t cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.jwt_algorithm = JWT_HS256;
    cfg.jwt_secret = (char *)secret;
    cfg.access_token_ttl_ms = ttl_ms;
    char err[256];
    if (sodium_init() < 0)
        abort();
    return auth_tokens_setup(&cfg, err, sizeof(err));
}

TEST(auth_access_token_round_trip)
{
    CHECK(setup_hs256(SECRET, 900000) == 0);
    arena_t a;
    arena_init(&a, NULL, 0);
    int64_t expires_in;
    char *t = auth_access_token_issue(&a, 42, 7, "admin", 1000000, &expires_in);
    CHECK(t && expires_in == 900);
    auth_claims_t c;
    CHECK(auth_access_token_verify(t, strlen(t), 1000010, &c) == 0);
    CHECK(c.user_id == 42 && c.session_id == 7 && !strcmp(c.role, "admin") && c.iat == 1000000 &&
          c.exp == 1000900);
    CHECK(auth_access_token_verify(t, strlen(t), 1000899, &c) == 0);
    CHECK(auth_access_token_verify(t, strlen(t), 1000900, &c) == -2);
    CHECK(auth_access_token_verify(t, strlen(t), 2000000, &c) == -2);
    /* The length counts, not a NUL: a token followed by more bytes is read exactly. */
    char *longer = arena_printf(&a, "%s garbage", t);
    CHECK(auth_access_token_verify(longer, strlen(t), 1000010, &c) == 0);

    /* Verified claims are reused for the exact token only: one byte off is
     * verified afresh (and fails), and a new key forgets them. */
    char *tampered = arena_strdup(&a, t);
    tampered[strlen(tampered) - 2] = tampered[strlen(tampered) - 2] == 'A' ? 'B' : 'A';
    CHECK(auth_access_token_verify(t, strlen(t), 1000010, &c) == 0);
    CHECK(auth_access_token_verify(tampered, strlen(tampered), 1000010, &c) == -1);
    CHECK(auth_access_token_verify(t, strlen(t), 1000900, &c) == -2);
    CHECK(setup_hs256("another secret, at least 32 bytes long", 900000) == 0);
    CHECK(auth_access_token_verify(t, strlen(t), 1000010, &c) == -1);
    CHECK(setup_hs256(SECRET, 900000) == 0);

    /* Big ids survive the trip; sub is a decimal string. */
    char *big = auth_access_token_issue(&a, 9007199254740993LL, 9007199254740995LL, "user", 1000000, NULL);
    CHECK(big && auth_access_token_verify(big, strlen(big), 1000010, &c) == 0);
    CHECK(c.user_id == 9007199254740993LL && c.session_id == 9007199254740995LL && !strcmp(c.role, "user"));
    jwt_t *jwt = NULL;
    CHECK(jwt_decode(&jwt, big, (const unsigned char *)SECRET, (int)strlen(SECRET)) == 0);
    CHECK_STR(jwt_get_grant(jwt, "sub"), "9007199254740993");
    CHECK_STR(jwt_get_grant(jwt, "typ"), "access");
    CHECK(jwt_get_alg(jwt) == JWT_ALG_HS256);
    jwt_free(jwt);
    arena_reset(&a);
}

/* Tokens made by someone who knows the secret but breaks a rule. */
typedef struct {
    jwt_alg_t alg;
    const char *key;
    const char *sub;
    int sub_as_number;
    long with_sid; /* 0: no sid, else its value */
    int with_iat, with_exp;
    const char *typ;
    const char *exp_text; /* exp as a string instead */
} forgery_t;

static char *forge(const forgery_t *f)
{
    jwt_t *jwt;
    if (jwt_new(&jwt))
        return NULL;
    if (f->sub_as_number)
        jwt_add_grant_int(jwt, "sub", 1);
    else if (f->sub)
        jwt_add_grant(jwt, "sub", f->sub);
    if (f->with_sid)
        jwt_add_grant_int(jwt, "sid", f->with_sid);
    jwt_add_grant(jwt, "role", "admin");
    if (f->with_iat)
        jwt_add_grant_int(jwt, "iat", 1000);
    if (f->exp_text)
        jwt_add_grant(jwt, "exp", f->exp_text);
    else if (f->with_exp)
        jwt_add_grant_int(jwt, "exp", 2000000);
    if (f->typ)
        jwt_add_grant(jwt, "typ", f->typ);
    const char *key = f->key ? f->key : SECRET;
    int rc = f->alg == JWT_ALG_NONE ? jwt_set_alg(jwt, f->alg, NULL, 0)
                                    : jwt_set_alg(jwt, f->alg, (const unsigned char *)key, (int)strlen(key));
    char *s = rc ? NULL : jwt_encode_str(jwt);
    jwt_free(jwt);
    return s;
}

static int verify_forgery(forgery_t f)
{
    char *t = forge(&f);
    auth_claims_t c;
    int rc = t ? auth_access_token_verify(t, strlen(t), 1000, &c) : 99;
    free(t);
    return rc;
}

static forgery_t good_forgery(void)
{
    return (forgery_t){.alg = JWT_ALG_HS256, .sub = "1", .with_sid = 1, .with_iat = 1, .with_exp = 1, .typ = "access"};
}

/* The verdict on a good forgery with one field changed. */
#define FORGED(field, value)             \
    ({                                   \
        forgery_t f_ = good_forgery();   \
        f_.field = value;                \
        verify_forgery(f_);              \
    })

TEST(auth_access_token_refuses_forgeries)
{
    CHECK(setup_hs256(SECRET, 900000) == 0);
    CHECK(verify_forgery(good_forgery()) == 0); /* the forger's tool works */
    CHECK(FORGED(alg, JWT_ALG_HS512) == -1);
    CHECK(FORGED(alg, JWT_ALG_HS384) == -1);
    int none = FORGED(alg, JWT_ALG_NONE);
    CHECK(none == -1 || none == 99);
    CHECK(FORGED(key, "another-secret-0123456789") == -1);
    CHECK(FORGED(typ, "refresh") == -1);
    CHECK(FORGED(typ, NULL) == -1);
    CHECK(FORGED(sub, NULL) == -1);
    CHECK(FORGED(sub_as_number, 1) == -1);
    CHECK(FORGED(sub, "0") == -1);
    CHECK(FORGED(sub, "-1") == -1);
    CHECK(FORGED(sub, "+1") == -1);
    CHECK(FORGED(sub, " 1") == -1);
    CHECK(FORGED(sub, "01") == -1);
    CHECK(FORGED(sub, "1x") == -1);
    CHECK(FORGED(sub, "99999999999999999999") == -1);
    CHECK(FORGED(with_sid, 0) == -1);
    CHECK(FORGED(with_sid, -5) == -1);
    CHECK(FORGED(with_iat, 0) == -1);
    CHECK(FORGED(with_exp, 0) == -1);
    CHECK(FORGED(exp_text, "2000000") == -1);

    CHECK(setup_hs256(SECRET, 900000) == 0);
    arena_t a;
    arena_init(&a, NULL, 0);
    char *t = auth_access_token_issue(&a, 42, 7, "user", 1000, NULL);
    CHECK(t);
    auth_claims_t c;
    /* A flipped bit of the signature. */
    char *bad = arena_strdup(&a, t);
    size_t n = strlen(bad);
    bad[n - 2] = bad[n - 2] == 'A' ? 'B' : 'A';
    CHECK(auth_access_token_verify(bad, n, 1010, &c) == -1);
    /* The payload of another token under this one's signature. */
    char *other = auth_access_token_issue(&a, 42, 7, "admin", 1000, NULL);
    char *dot1 = strchr(t, '.'), *dot2 = strrchr(t, '.');
    char *odot1 = strchr(other, '.'), *odot2 = strrchr(other, '.');
    char *spliced = arena_printf(&a, "%.*s%.*s%s", (int)(dot1 - t), t, (int)(odot2 - odot1), odot1, dot2);
    CHECK(auth_access_token_verify(spliced, strlen(spliced), 1010, &c) == -1);
    /* Without a signature. */
    char *unsigned_part = arena_strndup(&a, t, (size_t)(dot2 - t) + 1);
    CHECK(auth_access_token_verify(unsigned_part, strlen(unsigned_part), 1010, &c) == -1);
    CHECK(auth_access_token_verify("abc", 3, 1010, &c) == -1);
    CHECK(auth_access_token_verify("a.b.c", 5, 1010, &c) == -1);
    CHECK(auth_access_token_verify("", 0, 1010, &c) == -1);
    CHECK(auth_access_token_verify(t, n - 1, 1010, &c) == -1);
    /* A NUL inside, and a length beyond the maximum. */
    char *nul = arena_strdup(&a, t);
    nul[10] = '\0';
    CHECK(auth_access_token_verify(nul, n, 1010, &c) == -1);
    char *huge = arena_calloc(&a, AUTH_ACCESS_TOKEN_MAX + 10);
    memset(huge, 'A', AUTH_ACCESS_TOKEN_MAX + 5);
    CHECK(auth_access_token_verify(huge, AUTH_ACCESS_TOKEN_MAX + 5, 1010, &c) == -1);
    /* The key changed: old tokens are refused. */
    CHECK(setup_hs256("a-new-secret-for-a-new-day", 900000) == 0);
    CHECK(auth_access_token_verify(t, n, 1010, &c) == -1);
    arena_reset(&a);
    CHECK(setup_hs256(SECRET, 900000) == 0);
}

/* Key pairs made here with libcrypto: no openssl command needed. */
static char *pem_of(EVP_PKEY *key, int private_part)
{
    BIO *bio = BIO_new(BIO_s_mem());
    int ok = private_part ? PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL)
                          : PEM_write_bio_PUBKEY(bio, key);
    char *data;
    long len = BIO_get_mem_data(bio, &data);
    char *out = ok && len > 0 ? strndup(data, (size_t)len) : NULL;
    BIO_free(bio);
    return out;
}

typedef struct {
    char *private_pem, *public_pem;
} key_pair_t;

static key_pair_t make_pair(const char *type)
{
    EVP_PKEY *key = !strcmp(type, "RSA") ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048)
                                         : EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    key_pair_t p = {NULL, NULL};
    if (key) {
        p.private_pem = pem_of(key, 1);
        p.public_pem = pem_of(key, 0);
        EVP_PKEY_free(key);
    }
    return p;
}

static void free_pair(key_pair_t *p)
{
    free(p->private_pem);
    free(p->public_pem);
}

static int setup_pair(int algorithm, const char *private_key, const char *public_key, char *err, size_t errlen)
{
    config_t cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.jwt_algorithm = algorithm;
    cfg.jwt_private_key = (char *)private_key;
    cfg.jwt_public_key = (char *)public_key;
    cfg.access_token_ttl_ms = 60000;
    err[0] = '\0';
    if (sodium_init() < 0)
        abort();
    return auth_tokens_setup(&cfg, err, errlen);
}

static int issue_and_verify(arena_t *a, jwt_alg_t expected)
{
    char *t = auth_access_token_issue(a, 5, 6, "staff", 1000, NULL);
    auth_claims_t c;
    if (!t || auth_access_token_verify(t, strlen(t), 1001, &c) != 0 || c.user_id != 5 || c.session_id != 6 ||
        strcmp(c.role, "staff") || c.exp != 1060)
        return -1;
    /* The header names the algorithm (libjwt without a key would report "none"). */
    unsigned char header[256];
    size_t header_len;
    if (sodium_base642bin(header, sizeof(header) - 1, t, (size_t)(strchr(t, '.') - t), NULL, &header_len, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING))
        return -1;
    header[header_len] = '\0';
    char want[32];
    snprintf(want, sizeof(want), "\"alg\":\"%s\"", jwt_alg_str(expected));
    return strstr((char *)header, want) ? 0 : -1;
}

static int write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    int ok = fputs(text, f) >= 0;
    return fclose(f) == 0 && ok ? 0 : -1;
}

TEST(auth_tokens_rs256_and_es256)
{
    key_pair_t rsa = make_pair("RSA"), ec = make_pair("EC"), rsa2 = make_pair("RSA");
    char err[256];
    arena_t a;
    arena_init(&a, NULL, 0);
    auth_claims_t c;
    CHECK(rsa.private_pem && rsa.public_pem && ec.private_pem && ec.public_pem && rsa2.public_pem);

    CHECK(setup_pair(JWT_RS256, rsa.private_pem, rsa.public_pem, err, sizeof(err)) == 0);
    CHECK(issue_and_verify(&a, JWT_ALG_RS256) == 0);
    char *rs = auth_access_token_issue(&a, 5, 6, "admin", 1000, NULL);
    /* Algorithm confusion: HS256 with the public key as the HMAC secret. */
    CHECK(FORGED(key, rsa.public_pem) == -1);
    CHECK(verify_forgery(good_forgery()) == -1);

    /* Key files instead of PEM text. */
    char dir[] = "/tmp/hourglass-auth-XXXXXX";
    CHECK(mkdtemp(dir));
    char *priv_path = arena_printf(&a, "%s/private.pem", dir), *pub_path = arena_printf(&a, "%s/public.pem", dir);
    CHECK(write_file(priv_path, ec.private_pem) == 0 && write_file(pub_path, ec.public_pem) == 0);
    CHECK(setup_pair(JWT_ES256, priv_path, pub_path, err, sizeof(err)) == 0);
    CHECK(issue_and_verify(&a, JWT_ALG_ES256) == 0);
    CHECK(auth_access_token_verify(rs, strlen(rs), 1001, &c) == -1); /* RS256 when ES256 is configured */
    char *es = auth_access_token_issue(&a, 5, 6, "admin", 1000, NULL);
    CHECK(es && auth_access_token_verify(es, strlen(es), 1001, &c) == 0);

    /* PEM in one line with its newlines written as \n (an env file). */
    abuf_t esc;
    abuf_init(&esc, &a, 512);
    for (const char *p = ec.private_pem; *p; p++) {
        if (*p == '\n')
            abuf_puts(&esc, "\\n");
        else
            abuf_append(&esc, p, 1);
    }
    abuf_append(&esc, "", 1);
    CHECK(setup_pair(JWT_ES256, esc.data, ec.public_pem, err, sizeof(err)) == 0);
    CHECK(auth_access_token_verify(es, strlen(es), 1001, &c) == 0);

    CHECK(setup_pair(JWT_RS256, rsa.private_pem, rsa.public_pem, err, sizeof(err)) == 0);
    CHECK(auth_access_token_verify(es, strlen(es), 1001, &c) == -1);
    CHECK(auth_access_token_verify(rs, strlen(rs), 1001, &c) == 0);

    /* Keys that do not make a pair, or are of the other algorithm. */
    CHECK(setup_pair(JWT_RS256, rsa.private_pem, rsa2.public_pem, err, sizeof(err)) == -1);
    CHECK(strstr(err, "JWT_PUBLIC_KEY"));
    CHECK(auth_access_token_verify(rs, strlen(rs), 1001, &c) == -1); /* no keys after a failed setup */
    CHECK(setup_pair(JWT_ES256, rsa.private_pem, rsa.public_pem, err, sizeof(err)) == -1);
    CHECK(strstr(err, "JWT_PRIVATE_KEY"));
    CHECK(setup_pair(JWT_ES256, ec.private_pem, rsa.public_pem, err, sizeof(err)) == -1);
    CHECK(strstr(err, "JWT_PUBLIC_KEY"));

    /* Missing values and files name the variable; the private key's value is never echoed. */
    CHECK(setup_pair(JWT_RS256, NULL, rsa.public_pem, err, sizeof(err)) == -1);
    CHECK(strstr(err, "JWT_PRIVATE_KEY") && strstr(err, "RS256"));
    CHECK(setup_pair(JWT_ES256, ec.private_pem, "", err, sizeof(err)) == -1);
    CHECK(strstr(err, "JWT_PUBLIC_KEY"));
    char *missing = arena_printf(&a, "%s/nothing-here.pem", dir);
    CHECK(setup_pair(JWT_ES256, missing, pub_path, err, sizeof(err)) == -1);
    CHECK(strstr(err, "JWT_PRIVATE_KEY") && !strstr(err, "nothing-here"));
    CHECK(setup_pair(JWT_ES256, priv_path, missing, err, sizeof(err)) == -1);
    CHECK(strstr(err, "JWT_PUBLIC_KEY") && strstr(err, "nothing-here"));
    char *not_pem = arena_printf(&a, "%s/not.pem", dir);
    CHECK(write_file(not_pem, "just some text\n") == 0);
    CHECK(setup_pair(JWT_ES256, priv_path, not_pem, err, sizeof(err)) == -1);
    CHECK(strstr(err, "JWT_PUBLIC_KEY") && strstr(err, "not a PEM"));
    CHECK(setup_pair(JWT_ES256, "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg", pub_path, err, sizeof(err)) == -1);
    CHECK(strstr(err, "JWT_PRIVATE_KEY") && !strstr(err, "MIGHAgEA"));

    config_t cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.jwt_algorithm = JWT_HS256;
    CHECK(auth_tokens_setup(&cfg, err, sizeof(err)) == -1 && strstr(err, "JWT_SECRET"));
    cfg.jwt_secret = "";
    CHECK(auth_tokens_setup(&cfg, err, sizeof(err)) == -1 && strstr(err, "JWT_SECRET"));

    unlink(priv_path);
    unlink(pub_path);
    unlink(not_pem);
    rmdir(dir);
    free_pair(&rsa);
    free_pair(&rsa2);
    free_pair(&ec);
    arena_reset(&a);
    CHECK(setup_hs256(SECRET, 900000) == 0);
}

typedef struct {
    const char *good, *expired, *forged;
    int failures;
} verify_job_t;

static void verify_many(void *arg)
{
    verify_job_t *job = arg;
    auth_claims_t c;
    for (int i = 0; i < 300; i++) {
        if (auth_access_token_verify(job->good, strlen(job->good), 1010, &c) != 0 || c.user_id != 3)
            job->failures++;
        if (auth_access_token_verify(job->expired, strlen(job->expired), 1010, &c) != -2)
            job->failures++;
        if (auth_access_token_verify(job->forged, strlen(job->forged), 1010, &c) != -1)
            job->failures++;
    }
}

TEST(auth_access_token_verify_from_threads)
{
    key_pair_t ec = make_pair("EC");
    char err[256];
    CHECK(ec.private_pem && setup_pair(JWT_ES256, ec.private_pem, ec.public_pem, err, sizeof(err)) == 0);
    for (int round = 0; round < 2; round++) {
        if (round == 1)
            CHECK(setup_hs256(SECRET, 900000) == 0);
        arena_t a;
        arena_init(&a, NULL, 0);
        char *good = auth_access_token_issue(&a, 3, 4, "user", 1000, NULL);
        char *expired = auth_access_token_issue(&a, 3, 4, "user", 1, NULL);
        forgery_t hs512 = good_forgery();
        hs512.alg = JWT_ALG_HS512;
        char *forged = forge(&hs512);
        CHECK(good && expired && forged);
        verify_job_t jobs[4];
        uv_thread_t threads[4];
        for (int i = 0; i < 4; i++) {
            jobs[i] = (verify_job_t){good, expired, forged, 0};
            CHECK(uv_thread_create(&threads[i], verify_many, &jobs[i]) == 0);
        }
        int failures = 0;
        for (int i = 0; i < 4; i++) {
            uv_thread_join(&threads[i]);
            failures += jobs[i].failures;
        }
        free(forged);
        arena_reset(&a);
        CHECK(failures == 0);
    }
    free_pair(&ec);
}

/* ------------------------------------------------------------ refresh tokens, hashes, codes */

static int base64url_only(const char *s)
{
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '-' ||
              *s == '_'))
            return 0;
    return 1;
}

TEST(auth_refresh_and_codes)
{
    CHECK(setup_hs256(SECRET, 900000) == 0);
    char a[AUTH_REFRESH_TOKEN_LEN + 1], b[AUTH_REFRESH_TOKEN_LEN + 1], n1[AUTH_REFRESH_TOKEN_LEN + 1],
        n2[AUTH_REFRESH_TOKEN_LEN + 1], nb[AUTH_REFRESH_TOKEN_LEN + 1], nn[AUTH_REFRESH_TOKEN_LEN + 1];
    auth_refresh_token_new(a);
    auth_refresh_token_new(b);
    CHECK(strlen(a) == AUTH_REFRESH_TOKEN_LEN && strcmp(a, b) && base64url_only(a) && base64url_only(b));
    auth_refresh_token_next(a, n1);
    auth_refresh_token_next(a, n2);
    auth_refresh_token_next(b, nb);
    auth_refresh_token_next(n1, nn);
    CHECK(!strcmp(n1, n2) && strcmp(n1, nb) && strcmp(n1, a) && strcmp(nn, n1));
    CHECK(strlen(n1) == AUTH_REFRESH_TOKEN_LEN && base64url_only(n1));
    /* The successor is keyed: another server key, another successor. */
    CHECK(setup_hs256("another-secret-0123456789", 900000) == 0);
    auth_refresh_token_next(a, n2);
    CHECK(strcmp(n1, n2));
    CHECK(setup_hs256(SECRET, 900000) == 0);
    auth_refresh_token_next(a, n2);
    CHECK(!strcmp(n1, n2));

    char first[7];
    int all_same = 1;
    for (int i = 0; i < 200; i++) {
        char code[7];
        auth_code_new(code);
        CHECK(strlen(code) == 6);
        for (int k = 0; k < 6; k++)
            CHECK(code[k] >= '0' && code[k] <= '9');
        if (i == 0)
            strcpy(first, code);
        else if (strcmp(first, code))
            all_same = 0;
    }
    CHECK(!all_same);
}

