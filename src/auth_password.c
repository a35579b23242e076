/* Password policy and argon2id hashing. Hashing takes tens of milliseconds
 * and much memory: it runs on libuv's thread pool, never on a loop. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hourglass/auth.h"
#include "hourglass/json_text.h"
#include "hourglass/mem.h"

#define HASH_THREAD_NICE 10

/* libsodium's named costs, in argon2 terms: passes and KiB */
static uint32_t hash_passes;
static uint32_t hash_memory_kib;
static char dummy_hash[AUTH_HASH_STR_MAX];

static void set_cost(unsigned long long ops_limit, size_t mem_limit)
{
    hash_passes = (uint32_t)ops_limit;
    hash_memory_kib = (uint32_t)(mem_limit / 1024);
}

typedef enum {
    CH_SYMBOL,     /* neither letter nor digit */
    CH_LOWER,
    CH_UPPER,
    CH_CASELESS,   /* a letter whose case we do not know */
    CH_DIGIT,
    CH_MARK,       /* a combining mark: part of the letter before it */
    CH_PAIR_EVEN,  /* case pairs, the even code point upper-case */
    CH_PAIR_ODD,   /* case pairs, the odd code point upper-case */
    CH_FULLWIDTH,  /* U+FF01..U+FF5E: as the ASCII character 0xFEE0 below */
} char_class_t;

/* Non-ASCII code points we can classify without Unicode tables: Latin-1,
 * basic Greek, Cyrillic (U+0400-U+052F), a few digit sets, and the blocks
 * that hold only punctuation, symbols, spaces and emoji. Any other code point
 * counts as a letter of unknown case: it is not a symbol, and it satisfies
 * neither no_lower nor no_upper, so a password of such letters alone needs
 * Latin, Greek or Cyrillic letters of both cases besides. */
static const struct {
    uint32_t first, last;
    char_class_t cls;
} char_ranges[] = {
    {0x0080, 0x00A9, CH_SYMBOL},  {0x00AA, 0x00AA, CH_CASELESS}, {0x00AB, 0x00B4, CH_SYMBOL},
    {0x00B5, 0x00B5, CH_LOWER},   {0x00B6, 0x00B9, CH_SYMBOL},   {0x00BA, 0x00BA, CH_CASELESS},
    {0x00BB, 0x00BF, CH_SYMBOL},  {0x00C0, 0x00D6, CH_UPPER},    {0x00D7, 0x00D7, CH_SYMBOL},
    {0x00D8, 0x00DE, CH_UPPER},   {0x00DF, 0x00F6, CH_LOWER},    {0x00F7, 0x00F7, CH_SYMBOL},
    {0x00F8, 0x00FF, CH_LOWER},   {0x0300, 0x036F, CH_MARK},     {0x037E, 0x037E, CH_SYMBOL},
    {0x0386, 0x0386, CH_UPPER},   {0x0387, 0x0387, CH_SYMBOL},   {0x0388, 0x038F, CH_UPPER},
    {0x0390, 0x0390, CH_LOWER},   {0x0391, 0x03AB, CH_UPPER},    {0x03AC, 0x03CE, CH_LOWER},
    {0x0400, 0x042F, CH_UPPER},   {0x0430, 0x045F, CH_LOWER},    {0x0460, 0x0481, CH_PAIR_EVEN},
    {0x0482, 0x0482, CH_SYMBOL},  {0x0483, 0x0489, CH_MARK},     {0x048A, 0x04BF, CH_PAIR_EVEN},
    {0x04C0, 0x04C0, CH_UPPER},   {0x04C1, 0x04CE, CH_PAIR_ODD}, {0x04CF, 0x04CF, CH_LOWER},
    {0x04D0, 0x052F, CH_PAIR_EVEN}, {0x0660, 0x0669, CH_DIGIT},  {0x06F0, 0x06F9, CH_DIGIT},
    {0x0966, 0x096F, CH_DIGIT},   {0x1AB0, 0x1AFF, CH_MARK},     {0x1DC0, 0x1DFF, CH_MARK},
    {0x2000, 0x2BFF, CH_SYMBOL},  {0x2E00, 0x2E7F, CH_SYMBOL},   {0x3000, 0x303F, CH_SYMBOL},
    {0xE000, 0xF8FF, CH_SYMBOL},  {0xFE00, 0xFE0F, CH_MARK},     {0xFE10, 0xFE1F, CH_SYMBOL},
    {0xFE20, 0xFE2F, CH_MARK},    {0xFE30, 0xFE6F, CH_SYMBOL},   {0xFF01, 0xFF5E, CH_FULLWIDTH},
    {0xFF5F, 0xFF65, CH_SYMBOL},  {0xFFF0, 0xFFFF, CH_SYMBOL},   {0x1F000, 0x1FAFF, CH_SYMBOL},
    {0xE0000, 0x10FFFF, CH_SYMBOL},
};

static char_class_t classify(uint32_t cp)
{
    if (cp < 0x80) {
        if (cp >= 'a' && cp <= 'z')
            return CH_LOWER;
        if (cp >= 'A' && cp <= 'Z')
            return CH_UPPER;
        if (cp >= '0' && cp <= '9')
            return CH_DIGIT;
        return CH_SYMBOL; /* space and controls too */
    }
    for (size_t i = 0; i < sizeof(char_ranges) / sizeof(char_ranges[0]); i++) {
        if (cp < char_ranges[i].first)
            break;
        if (cp > char_ranges[i].last)
            continue;
        switch (char_ranges[i].cls) {
        case CH_PAIR_EVEN: return cp % 2 == 0 ? CH_UPPER : CH_LOWER;
        case CH_PAIR_ODD: return cp % 2 == 1 ? CH_UPPER : CH_LOWER;
        case CH_FULLWIDTH: return classify(cp - 0xFEE0);
        default: return char_ranges[i].cls;
        }
    }
    return CH_CASELESS;
}

int auth_password_policy(const char *pw, size_t len, const char **codes, int max_codes)
{
    size_t chars = 0;
    int lower = 0, upper = 0, digit = 0, symbol = 0;
    const unsigned char *s = (const unsigned char *)pw;
    for (size_t i = 0; i < len; chars++) {
        uint32_t cp;
        size_t n = json_text_utf8_next(s + i, len - i, &cp);
        if (!n) {
            /* Not UTF-8: each byte is one character, and a symbol. */
            symbol = 1;
            i++;
            continue;
        }
        i += n;
        switch (classify(cp)) {
        case CH_LOWER: lower = 1; break;
        case CH_UPPER: upper = 1; break;
        case CH_DIGIT: digit = 1; break;
        case CH_SYMBOL: symbol = 1; break;
        default: break;
        }
    }
    const char *broken[6];
    int count = 0;
    if (chars < AUTH_PASSWORD_MIN_CHARS)
        broken[count++] = "too_short";
    if (len > AUTH_PASSWORD_MAX_BYTES)
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
        set_cost(crypto_pwhash_OPSLIMIT_MODERATE, crypto_pwhash_MEMLIMIT_MODERATE);
        break;
    case PASSWORD_COST_MIN:
        set_cost(crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN);
        break;
    default:
        set_cost(crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE);
        break;
    }
    /* The dummy only has to cost what a real hash costs; nobody knows its password. */
    unsigned char random_bytes[16];
    char random_pw[2 * sizeof(random_bytes) + 1];
    randombytes_buf(random_bytes, sizeof(random_bytes));
    sodium_bin2hex(random_pw, sizeof(random_pw), random_bytes, sizeof(random_bytes));
    int rc = auth_hash_encode(random_pw, strlen(random_pw), hash_passes, hash_memory_kib, dummy_hash,
                              sizeof(dummy_hash));
    sodium_memzero(random_pw, sizeof(random_pw));
    auth_hash_release_idle_now(0); /* this thread hashes nothing more */
    return rc;
}

int auth_password_hash_blocking(const char *password, char out[AUTH_HASH_STR_MAX])
{
    if (!hash_passes)
        set_cost(crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE);
    return auth_hash_encode(password, strlen(password), hash_passes, hash_memory_kib, out, AUTH_HASH_STR_MAX);
}

typedef struct {
    uv_work_t work;
    void *data;
    auth_hash_done_fn hash_done;
    auth_verify_done_fn verify_done;
    char *password;
    char *hash; /* in: stored hash to verify; out: new hash */
    int ok;
} pw_job_t;

static void job_free(pw_job_t *job)
{
    sodium_memzero(job->password, strlen(job->password));
    free(job->password);
    free(job->hash);
    free(job);
}

/* Hashing yields to the event loops, two ways.
 *
 * Each hashing thread runs at nice 10: a loop that wakes preempts it, and
 * whatever CPU the loops leave is hashing's. (Per thread on Linux.)
 *
 * And while the loops are busy, fewer hashes run at once: a gate lets as many
 * through as there are cores the loops are not using, never fewer than one.
 * Priority alone is not enough: argon2 streams through 64 MiB, and two hashes
 * at once thrash the caches and memory the loops need. Measured here (one
 * loop serving /health at 60k rps beside a login flood, bench/RESULTS.md):
 * two hashes at once gave a p99 of 4.4-5.4 ms, one gave 2.0 ms, and more
 * logins got done. With the loops quiet, every core hashes. */
#define GATE_SAMPLE_NS 20000000ull /* the loops' load, measured over at least 20 ms */
#define GATE_SLACK 0.25            /* loop work under a quarter of a core keeps no core back */
#define GATE_MAX_LOOPS 64

static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int running;
    int cores;
    uv_loop_t *loops[GATE_MAX_LOOPS];
    int loop_count;
    uint64_t sample_ns, sample_idle_ns; /* the last sample: when, and the loops' idle time by then */
    int limit;
} gate = {.lock = PTHREAD_MUTEX_INITIALIZER, .cores = 1, .limit = 1};

int auth_password_hash_limit(int cores, double loop_busy_cores)
{
    int reserved = loop_busy_cores > GATE_SLACK ? (int)ceil(loop_busy_cores - GATE_SLACK) : 0;
    return cores - reserved > 1 ? cores - reserved : 1;
}

static uint64_t loops_idle_ns(void)
{
    uint64_t idle = 0;
    for (int i = 0; i < gate.loop_count; i++)
        idle += uv_metrics_idle_time(gate.loops[i]);
    return idle;
}

void auth_password_watch_loop(uv_loop_t *loop)
{
    pthread_mutex_lock(&gate.lock);
    if (!gate.loop_count) {
        pthread_condattr_t attr;
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(&gate.cond, &attr);
        pthread_condattr_destroy(&attr);
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        gate.cores = n < 1 ? 1 : n > 1024 ? 1024 : (int)n;
        gate.limit = gate.cores;
    }
    if (gate.loop_count < GATE_MAX_LOOPS)
        gate.loops[gate.loop_count++] = loop;
    gate.sample_ns = uv_hrtime();
    gate.sample_idle_ns = loops_idle_ns();
    pthread_mutex_unlock(&gate.lock);
}

/* Under gate.lock: the limit, from a fresh sample when the last is old enough. */
static int gate_limit(uint64_t now)
{
    if (gate.loop_count && now - gate.sample_ns >= GATE_SAMPLE_NS) {
        uint64_t idle = loops_idle_ns();
        double busy = gate.loop_count - (double)(idle - gate.sample_idle_ns) / (double)(now - gate.sample_ns);
        gate.limit = auth_password_hash_limit(gate.cores, busy < 0 ? 0 : busy);
        gate.sample_ns = now;
        gate.sample_idle_ns = idle;
    }
    return gate.limit;
}

int auth_password_hash_limit_now(void)
{
    pthread_mutex_lock(&gate.lock);
    int limit = gate_limit(uv_hrtime());
    pthread_mutex_unlock(&gate.lock);
    return limit;
}

int auth_password_hashing_now(void)
{
    pthread_mutex_lock(&gate.lock);
    int n = gate.running;
    pthread_mutex_unlock(&gate.lock);
    return n;
}

/* On a pool thread, before a hash: waits while the gate is full, looking at
 * the loops again every sample period. No loop ever takes this lock. */
static void gate_enter(void)
{
    static __thread int lowered;
    if (!lowered) {
        setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), HASH_THREAD_NICE);
        lowered = 1;
    }
    pthread_mutex_lock(&gate.lock);
    for (uint64_t now = uv_hrtime(); gate.loop_count && gate.running >= gate_limit(now); now = uv_hrtime()) {
        /* uv_hrtime is CLOCK_MONOTONIC on Linux, the clock gate.cond waits by */
        uint64_t until_ns = now + GATE_SAMPLE_NS;
        struct timespec until = {.tv_sec = (time_t)(until_ns / 1000000000u), .tv_nsec = (long)(until_ns % 1000000000u)};
        pthread_cond_timedwait(&gate.cond, &gate.lock, &until);
    }
    gate.running++;
    pthread_mutex_unlock(&gate.lock);
}

static void gate_leave(void)
{
    pthread_mutex_lock(&gate.lock);
    gate.running--;
    if (gate.loop_count)
        pthread_cond_signal(&gate.cond);
    pthread_mutex_unlock(&gate.lock);
}

static void do_hash(uv_work_t *w)
{
    pw_job_t *job = w->data;
    job->hash = mem_alloc(AUTH_HASH_STR_MAX);
    gate_enter();
    job->ok = auth_hash_encode(job->password, strlen(job->password), hash_passes, hash_memory_kib, job->hash,
                               AUTH_HASH_STR_MAX) == 0;
    gate_leave();
}

static void do_verify(uv_work_t *w)
{
    pw_job_t *job = w->data;
    const char *hash = job->hash ? job->hash : dummy_hash;
    gate_enter();
    int match = auth_hash_verify(hash, job->password, strlen(job->password)) == 0;
    gate_leave();
    job->ok = job->hash && match;
}

static void after_job(uv_work_t *w, int status)
{
    pw_job_t *job = w->data;
    if (job->hash_done)
        job->hash_done(job->data, status == 0 && job->ok ? job->hash : NULL);
    else
        job->verify_done(job->data, status == 0 && job->ok);
    job_free(job);
}

static int queue_job(uv_loop_t *loop, pw_job_t *job, const char *password, void *data, uv_work_cb work)
{
    job->password = mem_strdup(password);
    job->data = data;
    job->work.data = job;
    if (uv_queue_work(loop, &job->work, work, after_job)) {
        job_free(job);
        return -1;
    }
    return 0;
}

int auth_password_hash(uv_loop_t *loop, const char *password, auth_hash_done_fn done, void *data)
{
    pw_job_t *job = mem_calloc(1, sizeof(*job));
    job->hash_done = done;
    return queue_job(loop, job, password, data, do_hash);
}

int auth_password_verify(uv_loop_t *loop, const char *password, const char *hash, auth_verify_done_fn done,
                         void *data)
{
    pw_job_t *job = mem_calloc(1, sizeof(*job));
    job->hash = hash ? mem_strdup(hash) : NULL;
    job->verify_done = done;
    return queue_job(loop, job, password, data, do_verify);
}

int auth_password_policy_errors(const config_t *cfg, const char *field, const char *pw, field_errors_t *e)
{
    if (!pw || !cfg->password_policy)
        return 0;
    const char *codes[8];
    int n = auth_password_policy(pw, strlen(pw), codes, 8);
    for (int i = 0; i < n; i++)
        field_errors_add(e, field, codes[i]);
    return n;
}
