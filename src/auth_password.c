/* Password policy and argon2id hashing. Hashing takes tens of milliseconds
 * and much memory: it runs on libuv's thread pool, never on a loop. */
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hourglass/auth.h"
#include "hourglass/log.h"
#include "hourglass/server.h"

#define HASH_THREAD_NICE 10

static unsigned long long ops_limit;
static size_t mem_limit;
static char dummy_hash[crypto_pwhash_STRBYTES];

/* Decodes one UTF-8 code point; returns its length, or 0 for an invalid sequence. */
static size_t utf8_next(const unsigned char *s, size_t len, uint32_t *cp)
{
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    size_t n = (s[0] >> 5) == 6 ? 2 : (s[0] >> 4) == 14 ? 3 : (s[0] >> 3) == 30 ? 4 : 0;
    if (!n || n > len)
        return 0;
    uint32_t v = s[0] & (0x7f >> n);
    for (size_t i = 1; i < n; i++) {
        if ((s[i] >> 6) != 2)
            return 0;
        v = (v << 6) | (s[i] & 0x3f);
    }
    *cp = v;
    return n;
}

typedef enum { CH_OTHER, CH_LOWER, CH_UPPER, CH_LETTER, CH_DIGIT } char_class_t;

/* ASCII and Cyrillic are classified by case; other letters we cannot tell
 * apart from symbols without tables, so they count as symbols. */
static char_class_t classify(uint32_t cp)
{
    if (cp >= 'a' && cp <= 'z')
        return CH_LOWER;
    if (cp >= 'A' && cp <= 'Z')
        return CH_UPPER;
    if (cp >= '0' && cp <= '9')
        return CH_DIGIT;
    if ((cp >= 0x0410 && cp <= 0x042F) || (cp >= 0x0400 && cp <= 0x040F))
        return CH_UPPER; /* А-Я, Ѐ-Џ (Ё) */
    if ((cp >= 0x0430 && cp <= 0x044F) || (cp >= 0x0450 && cp <= 0x045F))
        return CH_LOWER; /* а-я, ѐ-џ (ё) */
    return CH_OTHER;
}

int auth_password_policy(const char *pw, size_t len, const char **codes, int max_codes)
{
    size_t chars = 0;
    int lower = 0, upper = 0, digit = 0, symbol = 0;
    const unsigned char *s = (const unsigned char *)pw;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t n = utf8_next(s + i, len - i, &cp);
        if (!n) {
            symbol = 1;
            i++;
            chars++;
            continue;
        }
        i += n;
        chars++;
        switch (classify(cp)) {
        case CH_LOWER: lower = 1; break;
        case CH_UPPER: upper = 1; break;
        case CH_DIGIT: digit = 1; break;
        default: symbol = 1; break;
        }
    }
    const char *broken[6];
    int count = 0;
    if (chars < 8)
        broken[count++] = "too_short";
    if (len > 128)
        broken[count++] = "too_long";
    if (!lower)
        broken[count++] = "no_lower";
    if (!upper)
        broken[count++] = "no_upper";
    if (!digit)
        broken[count++] = "no_digit";
    if (!symbol)
        broken[count++] = "no_symbol";
    for (int i = 0; i < count && i < max_codes; i++)
        codes[i] = broken[i];
    return count;
}

int auth_password_setup(const config_t *cfg)
{
    switch (cfg->password_hash_cost) {
    case PASSWORD_COST_MODERATE:
        ops_limit = crypto_pwhash_OPSLIMIT_MODERATE;
        mem_limit = crypto_pwhash_MEMLIMIT_MODERATE;
        break;
    case PASSWORD_COST_MIN:
        ops_limit = crypto_pwhash_OPSLIMIT_MIN;
        mem_limit = crypto_pwhash_MEMLIMIT_MIN;
        break;
    default:
        ops_limit = crypto_pwhash_OPSLIMIT_INTERACTIVE;
        mem_limit = crypto_pwhash_MEMLIMIT_INTERACTIVE;
        break;
    }
    char random_pw[33];
    randombytes_buf(random_pw, 16);
    sodium_bin2hex(random_pw, sizeof(random_pw), (unsigned char *)random_pw, 16);
    return crypto_pwhash_str(dummy_hash, random_pw, strlen(random_pw), ops_limit, mem_limit);
}

int auth_password_hash_blocking(const char *password, char out[crypto_pwhash_STRBYTES])
{
    if (!ops_limit) {
        ops_limit = crypto_pwhash_OPSLIMIT_INTERACTIVE;
        mem_limit = crypto_pwhash_MEMLIMIT_INTERACTIVE;
    }
    return crypto_pwhash_str(out, password, strlen(password), ops_limit, mem_limit);
}

typedef struct {
    uv_work_t work;
    http_request_t *req;
    auth_hash_cb hash_cb;
    auth_verify_cb verify_cb;
    char *password;
    char *hash; /* in: stored hash to verify; out: new hash */
    int ok;
} pw_job_t;

static void job_free(pw_job_t *job)
{
    if (job->password) {
        sodium_memzero(job->password, strlen(job->password));
        free(job->password);
    }
    free(job->hash);
    free(job);
}

/* Hashing yields to the event loops: a busy loop preempts it at once, and
 * whatever CPU the loops leave is hashing's. (Per thread on Linux.) */
static void lower_priority_once(void)
{
    static __thread int done;
    if (!done) {
        setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), HASH_THREAD_NICE);
        done = 1;
    }
}

static void do_hash(uv_work_t *w)
{
    lower_priority_once();
    pw_job_t *job = w->data;
    job->hash = malloc(crypto_pwhash_STRBYTES);
    job->ok = job->hash && crypto_pwhash_str(job->hash, job->password, strlen(job->password), ops_limit,
                                             mem_limit) == 0;
}

static void do_verify(uv_work_t *w)
{
    lower_priority_once();
    pw_job_t *job = w->data;
    const char *hash = job->hash ? job->hash : dummy_hash;
    int match = crypto_pwhash_str_verify(hash, job->password, strlen(job->password)) == 0;
    job->ok = job->hash && match;
}

static void after_job(uv_work_t *w, int status)
{
    pw_job_t *job = w->data;
    http_request_t *req = job->req;
    req->pending--;
    if (!req->conn || req->state != REQ_RUNNING) {
        http_request_release(req);
    } else if (job->hash_cb) {
        job->hash_cb(req, status == 0 && job->ok ? arena_strdup(&req->arena, job->hash) : NULL);
    } else {
        job->verify_cb(req, status == 0 && job->ok);
    }
    job_free(job);
}

static void queue_job(http_request_t *req, pw_job_t *job, uv_work_cb work)
{
    job->req = req;
    job->work.data = job;
    req->pending++;
    if (uv_queue_work(&req->worker->loop, &job->work, work, after_job)) {
        req->pending--;
        job_free(job);
        http_respond_problem(req, 500, "internal_error", NULL);
    }
}

void auth_password_hash(http_request_t *req, const char *password, auth_hash_cb cb)
{
    pw_job_t *job = calloc(1, sizeof(*job));
    job->hash_cb = cb;
    job->password = strdup(password);
    queue_job(req, job, do_hash);
}

void auth_password_verify(http_request_t *req, const char *password, const char *hash, auth_verify_cb cb)
{
    pw_job_t *job = calloc(1, sizeof(*job));
    job->verify_cb = cb;
    job->password = strdup(password);
    job->hash = hash ? strdup(hash) : NULL;
    queue_job(req, job, do_verify);
}
